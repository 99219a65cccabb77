//! LOINC codes of the shipped instruments that have them, and Bordin's own code systems for the
//! rest (no LOINC panel is known for WAI-SR / WAI-SRT or the Session Check).
//!
//! Sources (checked against loinc.org / the LOINC PHQ-SADS panel 69729-2, which lists the PHQ-9
//! and GAD-7 items in order):
//! - PHQ-9 panel 44249-1 "PHQ-9 quick depression assessment panel [Reported.PHQ]"; total score
//!   44261-6; items 1–9: 44250-9, 44255-8, 44259-0, 44254-1, 44251-7, 44258-2, 44252-5, 44253-3,
//!   44260-8.
//! - GAD-7 panel 69737-5; total score 70274-6; items 1–7: 69725-0, 68509-9, 69733-4, 69734-2,
//!   69735-9, 69689-8, 69736-7.
//! - Frequency answers (both instruments): LA6568-5 Not at all, LA6569-3 Several days,
//!   LA6570-1 More than half the days, LA6571-9 Nearly every day.
//!
//! Items without a verified code here (PHQ-9 item 10, the difficulty question) carry Bordin's
//! coding only.

use super::{fhir_id, Coding, CANONICAL_BASE, LOINC};

/// LOINC codes of one instrument.
pub struct LoincCodes {
    pub instrument: &'static str,
    pub panel: (&'static str, &'static str),
    /// (scale id, code, display).
    pub scales: &'static [(&'static str, &'static str, &'static str)],
    /// (item id, code).
    pub items: &'static [(&'static str, &'static str)],
    /// (response scale id, [(point value, answer code)]).
    pub answers: &'static [(&'static str, &'static [(i64, &'static str)])],
}

const FREQUENCY4: &[(i64, &str)] = &[
    (0, "LA6568-5"),
    (1, "LA6569-3"),
    (2, "LA6570-1"),
    (3, "LA6571-9"),
];

/// Every instrument with LOINC codes.
pub const LOINC_CODES: &[LoincCodes] = &[
    LoincCodes {
        instrument: "phq9",
        panel: ("44249-1", "PHQ-9 quick depression assessment panel"),
        scales: &[(
            "total",
            "44261-6",
            "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]",
        )],
        items: &[
            ("q1", "44250-9"),
            ("q2", "44255-8"),
            ("q3", "44259-0"),
            ("q4", "44254-1"),
            ("q5", "44251-7"),
            ("q6", "44258-2"),
            ("q7", "44252-5"),
            ("q8", "44253-3"),
            ("q9", "44260-8"),
        ],
        answers: &[("frequency4", FREQUENCY4)],
    },
    LoincCodes {
        instrument: "gad7",
        panel: ("69737-5", "Generalized anxiety disorder 7 item (GAD-7)"),
        scales: &[(
            "total",
            "70274-6",
            "Generalized anxiety disorder 7 item (GAD-7) total score [Reported.PHQ]",
        )],
        items: &[
            ("q1", "69725-0"),
            ("q2", "68509-9"),
            ("q3", "69733-4"),
            ("q4", "69734-2"),
            ("q5", "69735-9"),
            ("q6", "69689-8"),
            ("q7", "69736-7"),
        ],
        answers: &[("frequency4", FREQUENCY4)],
    },
];

fn loinc(instrument: &str) -> Option<&'static LoincCodes> {
    LOINC_CODES.iter().find(|c| c.instrument == instrument)
}

/// The LOINC panel of an instrument.
pub fn panel(instrument: &str) -> Option<Coding> {
    loinc(instrument).map(|c| Coding::new(LOINC, c.panel.0, Some(c.panel.1)))
}

/// The LOINC code of an item.
pub fn item(instrument: &str, item: &str) -> Option<Coding> {
    loinc(instrument)
        .and_then(|c| c.items.iter().find(|(i, _)| *i == item))
        .map(|(_, code)| Coding::new(LOINC, code, None))
}

/// The LOINC code of a score.
pub fn scale(instrument: &str, scale: &str) -> Option<Coding> {
    loinc(instrument)
        .and_then(|c| c.scales.iter().find(|(s, _, _)| *s == scale))
        .map(|(_, code, display)| Coding::new(LOINC, code, Some(display)))
}

/// The LOINC answer code of a point of a response scale.
pub fn answer(instrument: &str, response_scale: &str, value: i64) -> Option<&'static str> {
    loinc(instrument)
        .and_then(|c| c.answers.iter().find(|(s, _)| *s == response_scale))
        .and_then(|(_, pts)| pts.iter().find(|(v, _)| *v == value))
        .map(|(_, code)| *code)
}

/// Bordin's code system of an instrument's answers on one response scale; codes are the point
/// values (`"0"`, `"1"`, …).
pub fn answer_system(instrument: &str, response_scale: &str) -> String {
    format!(
        "{CANONICAL_BASE}/CodeSystem/{}-{}",
        fhir_id(instrument),
        fhir_id(response_scale)
    )
}

/// Bordin's code system of scores; codes are `instrument.scale` (`wai_sr.total`).
pub fn score_system() -> String {
    format!("{CANONICAL_BASE}/CodeSystem/score")
}

/// The answer code an instrument uses for a point: LOINC where known, else Bordin's.
pub fn answer_coding(
    instrument: &str,
    response_scale: &str,
    value: i64,
    display: Option<&str>,
) -> Coding {
    match answer(instrument, response_scale, value) {
        Some(code) => Coding::new(LOINC, code, display),
        None => Coding::new(
            &answer_system(instrument, response_scale),
            &value.to_string(),
            display,
        ),
    }
}
