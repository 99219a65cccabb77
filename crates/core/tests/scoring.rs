//! Golden and property tests for the core: every shipped instrument scored by hand, the
//! missing-item rules, bands at their boundaries, flags, invalid answers, loader errors and text
//! packs. The arithmetic behind each expected value is written beside it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bordin_core::instrument::LicenceStatus;
use bordin_core::registry::{
    NotAdministrable, RegistryError, WordingSource, BUILTIN, PLACEHOLDER_PACKS,
};
use bordin_core::{
    format_value, parse_decimal, parse_decimal_bytes, AnswerError, AnswerProblem, Answers,
    Instrument, LoadError, Registry, ScoreSheet, Setting, TextPack, Value,
};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// Helpers

fn registry() -> Registry {
    Registry::builtin().expect("shipped instruments load")
}

fn builtin_text(name: &str) -> &'static str {
    BUILTIN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .expect("a shipped file")
}

fn instrument(id: &str) -> Instrument {
    Instrument::clone(registry().get(id).expect("a shipped instrument"))
}

/// Scores `(item, answer)` pairs; panics on invalid answers (golden cases are valid).
fn score(i: &Instrument, pairs: &[(&str, &str)]) -> ScoreSheet {
    let a = Answers::parse(i, pairs.iter().copied())
        .unwrap_or_else(|e| panic!("valid answers expected: {e:?}"));
    i.score(&a)
}

/// Answers `q1..qN` from a list where `None` is a blank.
fn score_list(i: &Instrument, answers: &[Option<i64>]) -> ScoreSheet {
    let texts: Vec<(String, String)> = answers
        .iter()
        .enumerate()
        .map(|(k, v)| {
            (
                format!("q{}", k + 1),
                v.map(|v| v.to_string()).unwrap_or_default(),
            )
        })
        .collect();
    let a = Answers::parse(i, texts.iter().map(|(a, b)| (a.as_str(), b.as_str())))
        .expect("valid answers");
    i.score(&a)
}

/// The formatted value of a scale with its own decimals, or "" when not scored.
fn shown(i: &Instrument, s: &ScoreSheet, scale: &str) -> String {
    let k = i.scale_position(scale).expect("scale exists");
    s.scales[k]
        .value
        .map(|v| format_value(v, i.scales[k].decimals))
        .unwrap_or_default()
}

fn flags(i: &Instrument, s: &ScoreSheet) -> Vec<String> {
    s.flag_ids(i).map(str::to_owned).collect()
}

fn parse_err(i: &Instrument, pairs: &[(&str, &str)]) -> Vec<AnswerError> {
    Answers::parse(i, pairs.iter().copied()).expect_err("answers should be rejected")
}

/// Replaces the `n`-th (0-based) occurrence of `pat` in `text`.
fn replace_nth(text: &str, pat: &str, n: usize, with: &str) -> String {
    let (pos, _) = text
        .match_indices(pat)
        .nth(n)
        .unwrap_or_else(|| panic!("'{pat}' occurs {n}+1 times"));
    format!("{}{}{}", &text[..pos], with, &text[pos + pat.len()..])
}

fn load_errors(file: &str, text: &str) -> Vec<LoadError> {
    Instrument::from_toml(file, text).expect_err("the file should be rejected")
}

fn has_error(errors: &[LoadError], path: &str, words: &str) -> bool {
    errors
        .iter()
        .any(|e| e.path == path && e.message.contains(words))
}

// ---------------------------------------------------------------------------------------------
// Shipped files

#[test]
fn every_shipped_instrument_and_pack_loads() {
    let mut reg = registry();
    let ids: Vec<&str> = reg.instruments().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["gad7", "phq9", "session_check", "wai_sr", "wai_srt"]);
    assert_eq!(
        reg.get("wai_sr").map(|i| i.licence.status),
        Some(LicenceStatus::Restricted)
    );
    assert_eq!(
        reg.get("phq9").map(|i| i.licence.status),
        Some(LicenceStatus::Open)
    );
    reg.install_placeholder_packs()
        .expect("placeholder packs validate");
    for (name, text) in PLACEHOLDER_PACKS {
        let pack = TextPack::from_toml(name, text).expect("pack parses");
        let i = reg.get(&pack.instrument).expect("pack's instrument");
        pack.validate(name, i).expect("placeholder pack validates");
        assert!(pack.placeholder);
    }
}

#[test]
fn scale_ranges_are_the_published_ones() {
    let r = |id: &str, scale: &str| {
        let i = instrument(id);
        i.scales[i.scale_position(scale).expect("scale")].range
    };
    assert_eq!(r("phq9", "total"), (0.0, 27.0)); // 9 items × 0..3
    assert_eq!(r("gad7", "total"), (0.0, 21.0)); // 7 items × 0..3
    assert_eq!(r("wai_sr", "bond"), (4.0, 20.0)); // 4 items × 1..5
    assert_eq!(r("wai_sr", "total"), (12.0, 60.0)); // 3 subscales × 4..20
    assert_eq!(r("wai_srt", "task"), (4.0, 20.0));
    assert_eq!(r("session_check", "total"), (0.0, 40.0)); // 4 items × 0..10
    assert_eq!(r("session_check", "overall"), (0.0, 10.0));
}

// ---------------------------------------------------------------------------------------------
// PHQ-9

#[test]
fn phq9_complete() {
    let i = instrument("phq9");
    // 3+2+2+2+1+1+1+0+0 = 12 → moderate (10–14); q9 = 0 → no flag; q10 is not scored.
    let s = score_list(
        &i,
        &[
            Some(3),
            Some(2),
            Some(2),
            Some(2),
            Some(1),
            Some(1),
            Some(1),
            Some(0),
            Some(0),
            Some(2),
        ],
    );
    assert_eq!(shown(&i, &s, "total"), "12");
    assert_eq!(s.value(&i, "total"), Some(Value::from_integer(12)));
    assert_eq!(s.severity(&i), Some("moderate"));
    assert!(flags(&i, &s).is_empty());
    assert_eq!(s.missing, 0);
    // q10 left blank: still complete (it belongs to no scale).
    let s = score_list(
        &i,
        &[
            Some(3),
            Some(2),
            Some(2),
            Some(2),
            Some(1),
            Some(1),
            Some(1),
            Some(0),
            Some(0),
            None,
        ],
    );
    assert_eq!(shown(&i, &s, "total"), "12");
    assert_eq!(s.missing, 0);
}

#[test]
fn phq9_one_missing_is_prorated_and_rounded_half_up() {
    let i = instrument("phq9");
    // q5 blank; 3+2+2+2+2+2+1+1 = 15 over 8 answered → 15 × 9 / 8 = 135/8 = 16.875 → 17.
    let s = score(
        &i,
        &[
            ("q1", "3"),
            ("q2", "2"),
            ("q3", "2"),
            ("q4", "2"),
            ("q5", ""),
            ("q6", "2"),
            ("q7", "2"),
            ("q8", "1"),
            ("q9", "1"),
        ],
    );
    assert_eq!(s.value(&i, "total"), Some(Value::from_integer(17)));
    assert_eq!(shown(&i, &s, "total"), "17");
    assert_eq!(s.severity(&i), Some("moderately severe"));
    assert_eq!(s.missing, 1);
    assert_eq!(flags(&i, &s), ["risk:q9"]);
}

#[test]
fn phq9_prorating_exactly_half_rounds_up() {
    let i = instrument("phq9");
    // q9 blank; 1+1+1+1+0+0+0+0 = 4 over 8 → 4 × 9 / 8 = 36/8 = 4.5 → 5 (half up), so mild, not minimal.
    let s = score_list(
        &i,
        &[
            Some(1),
            Some(1),
            Some(1),
            Some(1),
            Some(0),
            Some(0),
            Some(0),
            Some(0),
            None,
        ],
    );
    assert_eq!(s.value(&i, "total"), Some(Value::from_integer(5)));
    assert_eq!(s.severity(&i), Some("mild"));
    // q1 blank; 2+2+2+2+1+1+1+1 = 12 over 8 → 108/8 = 13.5 → 14 (moderate).
    let s = score_list(
        &i,
        &[
            None,
            Some(2),
            Some(2),
            Some(2),
            Some(2),
            Some(1),
            Some(1),
            Some(1),
            Some(1),
        ],
    );
    assert_eq!(shown(&i, &s, "total"), "14");
    // q2 blank; 3+3+3+3+2+2+2+2 = 20 over 8 → 180/8 = 22.5 → 23 (severe).
    let s = score_list(
        &i,
        &[
            Some(3),
            None,
            Some(3),
            Some(3),
            Some(3),
            Some(2),
            Some(2),
            Some(2),
            Some(2),
        ],
    );
    assert_eq!(shown(&i, &s, "total"), "23");
    assert_eq!(s.severity(&i), Some("severe"));
    // Just below half: q9 blank; 3+0+0+0+0+0+0+0 = 3 → 27/8 = 3.375 → 3 (rounded down).
    let s = score_list(
        &i,
        &[
            Some(3),
            Some(0),
            Some(0),
            Some(0),
            Some(0),
            Some(0),
            Some(0),
            Some(0),
            None,
        ],
    );
    assert_eq!(shown(&i, &s, "total"), "3");
}

#[test]
fn phq9_two_missing_is_prorated() {
    let i = instrument("phq9");
    // q1, q2 blank; 2+2+2+1+1+1+1 = 10 over 7 → 10 × 9 / 7 = 90/7 = 12.857… → 13.
    let s = score_list(
        &i,
        &[
            None,
            None,
            Some(2),
            Some(2),
            Some(2),
            Some(1),
            Some(1),
            Some(1),
            Some(1),
        ],
    );
    assert_eq!(s.value(&i, "total"), Some(Value::from_integer(13)));
    assert_eq!(s.missing, 2);
    assert_eq!(s.severity(&i), Some("moderate"));
    // q8, q9 blank; 3+2+2+1+1+1+1 = 11 over 7 → 99/7 = 14.142… → 14.
    let s = score_list(
        &i,
        &[
            Some(3),
            Some(2),
            Some(2),
            Some(1),
            Some(1),
            Some(1),
            Some(1),
            None,
            None,
        ],
    );
    assert_eq!(shown(&i, &s, "total"), "14");
}

#[test]
fn phq9_three_missing_is_not_scored_but_q9_still_flags() {
    let i = instrument("phq9");
    // q1, q2, q3 blank: 3 > max_missing 2 → no total, no band; q9 = 2 ≥ 1 → risk:q9 anyway.
    let s = score_list(
        &i,
        &[
            None,
            None,
            None,
            Some(3),
            Some(3),
            Some(3),
            Some(3),
            Some(3),
            Some(2),
        ],
    );
    assert_eq!(s.value(&i, "total"), None);
    assert_eq!(shown(&i, &s, "total"), "");
    assert_eq!(s.severity(&i), None);
    assert_eq!(s.missing, 3);
    assert_eq!(flags(&i, &s), ["risk:q9"]);
    // Nothing answered but q9 = 1: still flagged.
    let s = score(&i, &[("q9", "1")]);
    assert_eq!(s.value(&i, "total"), None);
    assert_eq!(s.missing, 8);
    assert_eq!(flags(&i, &s), ["risk:q9"]);
    // Nothing answered at all: nothing scored, no flag.
    let s = score(&i, &[]);
    assert_eq!(s.value(&i, "total"), None);
    assert_eq!(s.missing, 9);
    assert!(flags(&i, &s).is_empty());
}

#[test]
fn phq9_risk_flag_threshold() {
    let i = instrument("phq9");
    for (q9, flagged) in [(0, false), (1, true), (2, true), (3, true)] {
        let s = score_list(
            &i,
            &[
                Some(0),
                Some(0),
                Some(0),
                Some(0),
                Some(0),
                Some(0),
                Some(0),
                Some(0),
                Some(q9),
            ],
        );
        assert_eq!(s.value(&i, "total"), Some(Value::from_integer(q9))); // 0 × 8 + q9
        assert_eq!(!flags(&i, &s).is_empty(), flagged, "q9 = {q9}");
    }
}

/// Nine answers (0..3) summing to `total`, filled from q1 on.
fn phq9_with_total(total: i64) -> Vec<Option<i64>> {
    let mut left = total;
    (0..9)
        .map(|_| {
            let v = left.min(3);
            left -= v;
            Some(v)
        })
        .collect()
}

#[test]
fn phq9_bands_at_each_boundary() {
    let i = instrument("phq9");
    // Totals are plain sums of complete answers (e.g. 5 = 3+2+0+…+0).
    let cases = [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "moderately severe"),
        (19, "moderately severe"),
        (20, "severe"),
        (27, "severe"),
    ];
    for (total, band) in cases {
        let s = score_list(&i, &phq9_with_total(total));
        assert_eq!(s.value(&i, "total"), Some(Value::from_integer(total)));
        assert_eq!(s.severity(&i), Some(band), "total {total}");
    }
}

// ---------------------------------------------------------------------------------------------
// GAD-7

#[test]
fn gad7_complete_and_bands() {
    let i = instrument("gad7");
    // 1 × 7 = 7 → mild.
    let s = score_list(&i, &[Some(1); 7]);
    assert_eq!(shown(&i, &s, "total"), "7");
    assert_eq!(s.severity(&i), Some("mild"));
    assert!(flags(&i, &s).is_empty());
    let cases = [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "severe"),
        (21, "severe"),
    ];
    for (total, band) in cases {
        let mut left = total;
        let answers: Vec<Option<i64>> = (0..7)
            .map(|_| {
                let v = left.min(3);
                left -= v;
                Some(v)
            })
            .collect();
        let s = score_list(&i, &answers);
        assert_eq!(s.value(&i, "total"), Some(Value::from_integer(total)));
        assert_eq!(s.severity(&i), Some(band), "total {total}");
    }
}

#[test]
fn gad7_one_missing_prorated_two_missing_not_scored() {
    let i = instrument("gad7");
    // q7 blank; 2+2+2+2+1+1 = 10 over 6 → 10 × 7 / 6 = 70/6 = 11.667 → 12 (moderate).
    let s = score_list(
        &i,
        &[Some(2), Some(2), Some(2), Some(2), Some(1), Some(1), None],
    );
    assert_eq!(s.value(&i, "total"), Some(Value::from_integer(12)));
    assert_eq!(s.severity(&i), Some("moderate"));
    assert_eq!(s.missing, 1);
    // Exactly half: q1 blank; 1+1+1+0+0+0 = 3 over 6 → 21/6 = 3.5 → 4 (minimal).
    let s = score_list(
        &i,
        &[None, Some(1), Some(1), Some(1), Some(0), Some(0), Some(0)],
    );
    assert_eq!(shown(&i, &s, "total"), "4");
    assert_eq!(s.severity(&i), Some("minimal"));
    // q1 blank; 3+2+1+1+1+1 = 9 over 6 → 63/6 = 10.5 → 11.
    let s = score_list(
        &i,
        &[None, Some(3), Some(2), Some(1), Some(1), Some(1), Some(1)],
    );
    assert_eq!(shown(&i, &s, "total"), "11");
    // q1, q2 blank: 2 > max_missing 1 → not scored.
    let s = score_list(
        &i,
        &[None, None, Some(3), Some(3), Some(3), Some(3), Some(3)],
    );
    assert_eq!(s.value(&i, "total"), None);
    assert_eq!(s.severity(&i), None);
    assert_eq!(s.missing, 2);
}

// ---------------------------------------------------------------------------------------------
// WAI-SR and WAI-SRT (bond = q3 q5 q7 q9, goal = q4 q6 q8 q11, task = q1 q2 q10 q12)

const WAI_VARIED: [i64; 12] = [5, 4, 3, 2, 1, 5, 4, 3, 2, 1, 5, 4];

fn wai_answers(blank: &[usize]) -> Vec<Option<i64>> {
    WAI_VARIED
        .iter()
        .enumerate()
        .map(|(k, v)| {
            if blank.contains(&(k + 1)) {
                None
            } else {
                Some(*v)
            }
        })
        .collect()
}

#[test]
fn wai_complete() {
    for id in ["wai_sr", "wai_srt"] {
        let i = instrument(id);
        // All 4s: each subscale 4 × 4 = 16, total 48.
        let s = score_list(&i, &[Some(4); 12]);
        assert_eq!(shown(&i, &s, "total"), "48.00");
        assert_eq!(shown(&i, &s, "bond"), "16.00");
        // Varied: bond = q3+q5+q7+q9 = 3+1+4+2 = 10; goal = q4+q6+q8+q11 = 2+5+3+5 = 15;
        // task = q1+q2+q10+q12 = 5+4+1+4 = 14; total = 39.
        let s = score_list(&i, &wai_answers(&[]));
        assert_eq!(shown(&i, &s, "bond"), "10.00");
        assert_eq!(shown(&i, &s, "goal"), "15.00");
        assert_eq!(shown(&i, &s, "task"), "14.00");
        assert_eq!(shown(&i, &s, "total"), "39.00");
        assert_eq!(s.value(&i, "total"), Some(Value::from_integer(39)));
        assert_eq!(s.severity(&i), None); // no published cut-off, no bands
        assert!(flags(&i, &s).is_empty());
        assert_eq!(s.missing, 0);
        // Extremes: all 1 → 4, 4, 4, 12; all 5 → 20, 20, 20, 60.
        assert_eq!(shown(&i, &score_list(&i, &[Some(1); 12]), "total"), "12.00");
        assert_eq!(shown(&i, &score_list(&i, &[Some(5); 12]), "total"), "60.00");
    }
}

#[test]
fn wai_one_missing_in_a_subscale_is_mean_times_four_unrounded() {
    for id in ["wai_sr", "wai_srt"] {
        let i = instrument(id);
        // q9 blank: bond = (3+1+4) / 3 × 4 = 32/3 = 10.666… → "10.67" (kept exact);
        // total = 32/3 + 15 + 14 = 119/3 = 39.666… → "39.67".
        let s = score_list(&i, &wai_answers(&[9]));
        assert_eq!(s.value(&i, "bond"), Some(Value::new(32, 3)));
        assert_eq!(shown(&i, &s, "bond"), "10.67");
        assert_eq!(s.value(&i, "total"), Some(Value::new(119, 3)));
        assert_eq!(shown(&i, &s, "total"), "39.67");
        assert_eq!(s.missing, 1);
        // Bond answered 5, 4, 4 with q9 blank: 13 / 3 × 4 = 52/3 = 17.333… → "17.33".
        let s = score(
            &i,
            &[
                ("q3", "5"),
                ("q5", "4"),
                ("q7", "4"),
                ("q4", "3"),
                ("q6", "3"),
                ("q8", "3"),
                ("q11", "3"),
                ("q1", "2"),
                ("q2", "2"),
                ("q10", "2"),
                ("q12", "2"),
            ],
        );
        assert_eq!(s.value(&i, "bond"), Some(Value::new(52, 3)));
        assert_eq!(shown(&i, &s, "bond"), "17.33");
        // goal 3×4 = 12, task 2×4 = 8; total = 52/3 + 20 = 112/3 = 37.333… → "37.33".
        assert_eq!(shown(&i, &s, "total"), "37.33");
        // One missing in every subscale (q1, q3, q4): task = (4+1+4)/3×4 = 12; bond = (1+4+2)/3×4 = 28/3;
        // goal = (5+3+5)/3×4 = 52/3; total = 12 + 28/3 + 52/3 = 12 + 80/3 = 116/3 = 38.666… → "38.67".
        let s = score_list(&i, &wai_answers(&[1, 3, 4]));
        assert_eq!(shown(&i, &s, "task"), "12.00");
        assert_eq!(shown(&i, &s, "bond"), "9.33");
        assert_eq!(shown(&i, &s, "goal"), "17.33");
        assert_eq!(s.value(&i, "total"), Some(Value::new(116, 3)));
        assert_eq!(shown(&i, &s, "total"), "38.67");
        // Rounding to 2 decimals happens only on display: half away from zero.
        // q5 blank: bond = (3+4+2)/3×4 = 12 → "12.00"; here the exact mean is whole.
        let s = score_list(&i, &wai_answers(&[5]));
        assert_eq!(shown(&i, &s, "bond"), "12.00");
    }
}

#[test]
fn wai_two_missing_in_a_subscale_empties_it_and_the_total() {
    for id in ["wai_sr", "wai_srt"] {
        let i = instrument(id);
        // q3 and q9 blank: bond has 2 of 4 missing > max_missing 1 → bond and total empty;
        // goal = 15 and task = 14 still scored.
        let s = score_list(&i, &wai_answers(&[3, 9]));
        assert_eq!(shown(&i, &s, "bond"), "");
        assert_eq!(shown(&i, &s, "total"), "");
        assert_eq!(shown(&i, &s, "goal"), "15.00");
        assert_eq!(shown(&i, &s, "task"), "14.00");
        assert_eq!(s.missing, 2);
        // Two blanks in different subscales (q1, q3) are fine: task = (4+1+4)/3×4 = 12,
        // bond = (1+4+2)/3×4 = 28/3, goal = 15; total = 27 + 28/3 = 109/3 = 36.33.
        let s = score_list(&i, &wai_answers(&[1, 3]));
        assert_eq!(shown(&i, &s, "total"), "36.33");
    }
}

// ---------------------------------------------------------------------------------------------
// Session Check

#[test]
fn session_check_complete_and_missing() {
    let i = instrument("session_check");
    // total = 8+7+9+10 = 34; single-item scales are the items themselves.
    let s = score_list(&i, &[Some(8), Some(7), Some(9), Some(10)]);
    assert_eq!(shown(&i, &s, "total"), "34");
    assert_eq!(shown(&i, &s, "bond"), "8");
    assert_eq!(shown(&i, &s, "goal"), "7");
    assert_eq!(shown(&i, &s, "task"), "9");
    assert_eq!(shown(&i, &s, "overall"), "10");
    assert_eq!(s.severity(&i), None);
    // Scale order is the file's: total, bond, goal, task, overall.
    let order: Vec<&str> = i.scales.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(order, ["total", "bond", "goal", "task", "overall"]);
    // q4 blank: total needs all 4 → empty; overall (q4) empty; the other three scored.
    let s = score_list(&i, &[Some(8), Some(7), Some(9), None]);
    assert_eq!(shown(&i, &s, "total"), "");
    assert_eq!(shown(&i, &s, "overall"), "");
    assert_eq!(shown(&i, &s, "bond"), "8");
    assert_eq!(shown(&i, &s, "task"), "9");
    assert_eq!(s.missing, 1);
    // 0 is an answer, not a blank: 0+0+0+0 = 0.
    let s = score_list(&i, &[Some(0); 4]);
    assert_eq!(shown(&i, &s, "total"), "0");
    assert_eq!(s.missing, 0);
}

// ---------------------------------------------------------------------------------------------
// Invalid answers

fn invalid(item: &str, given: &str, expected: &str) -> AnswerError {
    AnswerError {
        item: item.into(),
        problem: AnswerProblem::Invalid {
            given: given.into(),
            expected: expected.into(),
        },
    }
}

#[test]
fn invalid_answers_name_the_item() {
    let i = instrument("phq9");
    let expected = "one of 0, 1, 2, 3";
    assert_eq!(
        parse_err(&i, &[("q1", "1"), ("q3", "4")]),
        [invalid("q3", "4", expected)]
    );
    assert_eq!(
        parse_err(&i, &[("q2", "2.5")]),
        [invalid("q2", "2.5", expected)]
    );
    assert_eq!(
        parse_err(&i, &[("q4", "abc")]),
        [invalid("q4", "abc", expected)]
    );
    assert_eq!(
        parse_err(&i, &[("q4", "-1")]),
        [invalid("q4", "-1", expected)]
    );
    assert_eq!(
        parse_err(&i, &[("q4", "1e0")]),
        [invalid("q4", "1e0", expected)]
    );
    // Surrounding spaces are trimmed before reading (and before reporting).
    assert_eq!(
        parse_err(&i, &[("q5", " 7 ")]),
        [invalid("q5", "7", expected)]
    );
    // "2.0" is the whole number 2 and valid.
    assert!(Answers::parse(&i, [("q1", "2.0")]).is_ok());
    assert_eq!(
        parse_err(&i, &[("q11", "1")]),
        [AnswerError {
            item: "q11".into(),
            problem: AnswerProblem::UnknownItem
        }]
    );
    assert_eq!(
        parse_err(&i, &[("q1", "1"), ("q1", "2")]),
        [AnswerError {
            item: "q1".into(),
            problem: AnswerProblem::Duplicate
        }]
    );
    // All problems are reported, in input order.
    let all = parse_err(&i, &[("q1", "9"), ("zz", "1"), ("q2", "x"), ("q1", "1")]);
    assert_eq!(
        all,
        [
            invalid("q1", "9", expected),
            AnswerError {
                item: "zz".into(),
                problem: AnswerProblem::UnknownItem
            },
            invalid("q2", "x", expected),
            AnswerError {
                item: "q1".into(),
                problem: AnswerProblem::Duplicate
            },
        ]
    );
    assert_eq!(
        all[0].to_string(),
        "item q1: '9' is not a valid answer (expected one of 0, 1, 2, 3)"
    );
    // WAI: 0 and 6 are outside 1..5.
    let w = instrument("wai_sr");
    assert_eq!(
        parse_err(&w, &[("q12", "0")]),
        [invalid("q12", "0", "one of 1, 2, 3, 4, 5")]
    );
    assert_eq!(
        parse_err(&w, &[("q1", "6")]),
        [invalid("q1", "6", "one of 1, 2, 3, 4, 5")]
    );
    // Session check: 10 is valid, 11 is not.
    let c = instrument("session_check");
    assert!(Answers::parse(&c, [("q1", "10")]).is_ok());
    assert_eq!(
        parse_err(&c, &[("q1", "11")]),
        [invalid(
            "q1",
            "11",
            "one of 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10"
        )]
    );
}

#[test]
fn required_items_left_blank_are_listed() {
    let i = instrument("phq9");
    let a = Answers::parse(&i, [("q1", "1"), ("q2", "")]).expect("valid");
    let missing: Vec<String> = a.missing_required(&i).into_iter().map(|e| e.item).collect();
    // q10 is not required.
    assert_eq!(missing, ["q2", "q3", "q4", "q5", "q6", "q7", "q8", "q9"]);
}

#[test]
fn from_values_checks_ranges() {
    let i = instrument("gad7");
    let mut v = vec![Some(Value::from_integer(1)); 7];
    assert!(Answers::from_values(&i, v.clone()).is_ok());
    v[6] = Some(Value::from_integer(4));
    assert_eq!(
        Answers::from_values(&i, v).expect_err("out of range")[0].item,
        "q7"
    );
    assert!(Answers::from_values(&i, vec![None; 6]).is_err());
}

// ---------------------------------------------------------------------------------------------
// Decimals

#[test]
fn parse_and_format_decimals() {
    assert_eq!(parse_decimal("7.25"), Some(Value::new(29, 4)));
    assert_eq!(parse_decimal(" 4 "), Some(Value::from_integer(4)));
    assert_eq!(parse_decimal("-1"), Some(Value::from_integer(-1)));
    assert_eq!(parse_decimal("+1.5"), Some(Value::new(3, 2)));
    assert_eq!(parse_decimal(".5"), Some(Value::new(1, 2)));
    assert_eq!(parse_decimal("5."), Some(Value::from_integer(5)));
    for bad in [
        "",
        " ",
        ".",
        "-",
        "1e3",
        "NaN",
        "1,000",
        "1.2.3",
        "0x10",
        "١",
        "9999999999999999999",
    ] {
        assert_eq!(parse_decimal(bad), None, "{bad:?}");
    }
    assert_eq!(parse_decimal_bytes(b"07"), Some(Value::from_integer(7)));
    assert_eq!(parse_decimal_bytes(b"10"), Some(Value::from_integer(10)));
    assert_eq!(parse_decimal_bytes(b" 1"), None); // the byte form does not trim
    assert_eq!(format_value(Value::new(52, 3), 2), "17.33");
    assert_eq!(format_value(Value::new(35, 2), 0), "18"); // 17.5 → 18
    assert_eq!(format_value(Value::new(-35, 2), 0), "-18"); // half away from zero
    assert_eq!(format_value(Value::new(1, 200), 2), "0.01"); // 0.005 → 0.01
    assert_eq!(format_value(Value::new(-1, 3), 2), "-0.33");
    assert_eq!(format_value(Value::from_integer(16), 2), "16.00");
    assert_eq!(format_value(Value::new(119, 3), 2), "39.67");
}

// ---------------------------------------------------------------------------------------------
// Loader errors

#[test]
fn loader_rejects_unknown_keys_naming_the_field() {
    let text = replace_nth(
        builtin_text("phq9.toml"),
        "response_scale = \"frequency4\"",
        2,
        "response_scale = \"frequency4\"\nreverse_keyd = true",
    );
    let errors = load_errors("phq9_custom.toml", &text);
    assert_eq!(errors.len(), 1);
    let e = &errors[0];
    assert_eq!(e.file, "phq9_custom.toml");
    assert!(e.path.starts_with("items[2]"), "{e}");
    assert!(e.path.contains("line "), "{e}");
    assert!(e.message.contains("reverse_keyd"), "{e}");
}

#[test]
fn loader_rejects_item_with_missing_response_scale() {
    let text = replace_nth(
        builtin_text("phq9.toml"),
        "response_scale = \"frequency4\"",
        2,
        "response_scale = \"frequency5\"",
    );
    let errors = load_errors("phq9_custom.toml", &text);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].file, "phq9_custom.toml");
    assert_eq!(errors[0].path, "items[2].response_scale");
    assert!(errors[0].message.contains("frequency5"));
    assert_eq!(
        errors[0].to_string(),
        "phq9_custom.toml: items[2].response_scale: no response scale 'frequency5' is defined"
    );
}

#[test]
fn loader_rejects_overlapping_bands() {
    let text = builtin_text("phq9.toml").replace(
        "{ min = 5, max = 9, label = \"mild\" }",
        "{ min = 4, max = 9, label = \"mild\" }",
    );
    let errors = load_errors("phq9_custom.toml", &text);
    assert!(
        has_error(&errors, "scales[0].bands[1].min", "overlap"),
        "{errors:?}"
    );
    assert!(errors.iter().all(|e| e.file == "phq9_custom.toml"));
}

#[test]
fn loader_rejects_composite_cycles_and_self_reference() {
    let base = builtin_text("wai_sr.toml");
    // total → bond, goal, task; a new scale pair a → b → a.
    let extra = "\n[[scales]]\nid = \"a\"\ntitle = \"A\"\nof_scales = [\"b\"]\nmethod = \"sum\"\nmissing = { max_missing = 0 }\n\n[[scales]]\nid = \"b\"\ntitle = \"B\"\nof_scales = [\"a\"]\nmethod = \"sum\"\nmissing = { max_missing = 0 }\n";
    let errors = load_errors("wai_cycle.toml", &format!("{base}{extra}"));
    assert!(has_error(&errors, "scales", "cycle"), "{errors:?}");
    assert_eq!(errors[0].file, "wai_cycle.toml");
    // The total listing itself.
    let text = base.replace(
        "of_scales = [\"bond\", \"goal\", \"task\"]",
        "of_scales = [\"bond\", \"goal\", \"total\"]",
    );
    let errors = load_errors("wai_self.toml", &text);
    assert!(
        has_error(&errors, "scales[0].of_scales[2]", "itself"),
        "{errors:?}"
    );
    // A part that does not exist.
    let text = base.replace(
        "of_scales = [\"bond\", \"goal\", \"task\"]",
        "of_scales = [\"bond\", \"goal\", \"tasks\"]",
    );
    let errors = load_errors("wai_typo.toml", &text);
    assert!(
        has_error(&errors, "scales[0].of_scales[2]", "tasks"),
        "{errors:?}"
    );
}

#[test]
fn loader_rejects_wording_in_a_restricted_instrument() {
    let text = replace_nth(
        builtin_text("wai_sr.toml"),
        "label = \"felt liked\"",
        0,
        "label = \"felt liked\"\ntext = \"I feel my therapist likes me.\"",
    );
    let errors = load_errors("wai_sr_with_text.toml", &text);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].path, "items[2].text");
    assert!(errors[0].message.contains("restricted"));
    // And an open instrument must carry its wording.
    let text = replace_nth(
        builtin_text("gad7.toml"),
        "text = \"Trouble relaxing\"\n",
        0,
        "",
    );
    let errors = load_errors("gad7_custom.toml", &text);
    assert!(
        has_error(&errors, "items[3].text", "required"),
        "{errors:?}"
    );
}

#[test]
fn loader_reports_several_problems_at_once() {
    let text = builtin_text("gad7.toml")
        .replace("id = \"gad7\"", "id = \"GAD-7\"")
        .replace("respondent = \"client\"", "respondent = \"patient\"")
        .replace("method = \"sum\"", "method = \"median\"");
    let errors = load_errors("gad7_custom.toml", &text);
    assert!(has_error(&errors, "id", "not a valid id"), "{errors:?}");
    assert!(has_error(&errors, "respondent", "patient"), "{errors:?}");
    assert!(
        has_error(&errors, "scales[0].method", "median"),
        "{errors:?}"
    );
}

#[test]
fn loader_checks_missing_rules() {
    // max_missing must be below the number of parts.
    let text = builtin_text("gad7.toml").replace("max_missing = 1", "max_missing = 7");
    assert!(has_error(
        &load_errors("g.toml", &text),
        "scales[0].missing.max_missing",
        "less than"
    ));
    // rounding without prorating.
    let text = builtin_text("gad7.toml").replace("prorate = true, ", "");
    assert!(has_error(
        &load_errors("g.toml", &text),
        "scales[0].missing.rounding",
        "prorated"
    ));
    // a scale listing an unknown item.
    let text = builtin_text("gad7.toml").replace("\"q6\", \"q7\"]", "\"q6\", \"q8\"]");
    assert!(has_error(
        &load_errors("g.toml", &text),
        "scales[0].items[6]",
        "q8"
    ));
}

#[test]
fn loader_reports_syntax_errors_with_a_line_number() {
    // Line 3 of the shipped file is `version = "1"`; break its quoting.
    let text = builtin_text("gad7.toml");
    let line3 = text.lines().nth(2).expect("line 3");
    assert_eq!(line3, "version = \"1\"");
    let broken = text.replacen("version = \"1\"", "version = \"1", 1);
    let errors = load_errors("gad7_custom.toml", &broken);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].file, "gad7_custom.toml");
    assert!(errors[0].path.starts_with("line 3"), "{:?}", errors[0]);
    // A missing required key is named.
    let errors = load_errors("x.toml", &text.replacen("version = \"1\"\n", "", 1));
    assert!(errors[0].message.contains("version"), "{:?}", errors[0]);
    // A wrong type is named with its path.
    let errors = load_errors("x.toml", &text.replacen("id = \"q1\"", "id = 1", 1));
    assert!(errors[0].path.starts_with("items[0].id"), "{:?}", errors[0]);
}

#[test]
fn loader_handles_degenerate_files_without_panicking() {
    // No response scales at all, while items and scales still refer to one.
    let text = "id = \"x\"\nversion = \"1\"\ntitle = \"X\"\ncitation = \"c\"\nrespondent = \"client\"\nresponse_scales = []\n\
        [licence]\nstatus = \"open\"\nholder = \"h\"\nnote = \"n\"\n\
        [[items]]\nid = \"q1\"\ntext = \"t\"\nresponse_scale = \"nope\"\n\
        [[scales]]\nid = \"total\"\ntitle = \"T\"\nitems = [\"q1\"]\nmethod = \"sum\"\nmissing = { max_missing = 0 }\n";
    let errors = load_errors("x.toml", text);
    assert!(
        has_error(&errors, "response_scales", "at least one"),
        "{errors:?}"
    );
    assert!(
        has_error(&errors, "items[0].response_scale", "nope"),
        "{errors:?}"
    );
    // Huge visual-analogue bounds are rejected rather than overflowing.
    let vas = |min: &str, max: &str, step: &str| {
        format!(
            "id = \"x\"\nversion = \"1\"\ntitle = \"X\"\ncitation = \"c\"\nrespondent = \"client\"\n\
            [licence]\nstatus = \"open\"\nholder = \"h\"\nnote = \"n\"\n\
            [[response_scales]]\nid = \"line\"\nkind = \"visual_analogue\"\nmin = {min}\nmax = {max}\nstep = {step}\n\
            [[items]]\nid = \"q1\"\ntext = \"t\"\nresponse_scale = \"line\"\n\
            [[scales]]\nid = \"total\"\ntitle = \"T\"\nitems = [\"q1\"]\nmethod = \"sum\"\nmissing = {{ max_missing = 0 }}\n"
        )
    };
    assert!(Instrument::from_toml("x.toml", &vas("0", "10", "0.1")).is_ok());
    let errors = load_errors(
        "x.toml",
        &vas("-9223372036854775807", "9223372036854775807", "1"),
    );
    assert!(
        errors
            .iter()
            .any(|e| e.path.starts_with("response_scales[0].")),
        "{errors:?}"
    );
    let errors = load_errors("x.toml", &vas("0", "10", "0.000000000000000001"));
    assert!(
        errors.iter().any(|e| e.path == "response_scales[0].step"),
        "{errors:?}"
    );
    let errors = load_errors("x.toml", &vas("-1000000", "1000000.5", "0.5"));
    assert!(
        has_error(
            &errors,
            "response_scales[0].max",
            "between -1000000 and 1000000"
        ),
        "{errors:?}"
    );
    // Choice points are bounded too: sums and reverse keying of extreme points would overflow.
    let text = builtin_text("gad7.toml").replace(
        "{ value = 3, label = \"Nearly every day\" }",
        "{ value = 9223372036854775807, label = \"Nearly every day\" }",
    );
    let errors = load_errors("g.toml", &text);
    assert!(
        has_error(&errors, "response_scales[0].points[3].value", "between"),
        "{errors:?}"
    );
}

#[test]
fn visual_analogue_answers() {
    let text = "id = \"srs_like\"\nversion = \"1\"\ntitle = \"X\"\ncitation = \"c\"\nrespondent = \"client\"\n\
        [licence]\nstatus = \"open\"\nholder = \"h\"\nnote = \"n\"\n\
        [[response_scales]]\nid = \"line\"\nkind = \"visual_analogue\"\nmin = 0\nmax = 10\nstep = 0.1\n\
        [[items]]\nid = \"q1\"\ntext = \"a\"\nresponse_scale = \"line\"\n\
        [[items]]\nid = \"q2\"\ntext = \"b\"\nresponse_scale = \"line\"\n\
        [[scales]]\nid = \"total\"\ntitle = \"T\"\nitems = [\"q1\", \"q2\"]\nmethod = \"sum\"\nmissing = { max_missing = 0 }\ndecimals = 1\n";
    let i = Instrument::from_toml("srs_like.toml", text).expect("valid");
    // 7.3 + 9.9 = 17.2
    let s = score(&i, &[("q1", "7.3"), ("q2", "9.9")]);
    assert_eq!(s.value(&i, "total"), Some(Value::new(172, 10)));
    assert_eq!(shown(&i, &s, "total"), "17.2");
    assert_eq!(parse_err(&i, &[("q1", "7.35")])[0].item, "q1"); // off the 0.1 grid
    assert_eq!(parse_err(&i, &[("q2", "10.1")])[0].item, "q2"); // above max
                                                                // Many decimals must not overflow the exact arithmetic: rejected (off grid) or accepted, never a panic.
    assert!(Answers::parse(&i, [("q1", "0.000000000000000001")]).is_err());
    assert!(Answers::parse(&i, [("q1", "9.9000000000000000")]).is_ok());
}

// ---------------------------------------------------------------------------------------------
// Text packs and forms

fn wai_pack() -> TextPack {
    let (name, text) = PLACEHOLDER_PACKS[0];
    TextPack::from_toml(name, text).expect("pack parses")
}

#[test]
fn text_pack_missing_unknown_or_empty_items_are_rejected() {
    let wai = instrument("wai_sr");
    let mut p = wai_pack();
    p.items.remove("q5");
    let errors = p.validate("clinic.toml", &wai).expect_err("missing item");
    assert_eq!(errors.len(), 1);
    assert_eq!(
        (errors[0].file.as_str(), errors[0].path.as_str()),
        ("clinic.toml", "items.q5")
    );
    assert!(errors[0].message.contains("missing"));

    let mut p = wai_pack();
    p.items.insert("q13".into(), "An extra item".into());
    let errors = p.validate("clinic.toml", &wai).expect_err("unknown item");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].path, "items.q13");

    let mut p = wai_pack();
    p.items.insert("q3".into(), "   ".into());
    let errors = p.validate("clinic.toml", &wai).expect_err("empty text");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].path, "items.q3");
    assert!(errors[0].message.contains("empty"));

    // Wrong instrument, wrong version, bad answer labels.
    let mut p = wai_pack();
    p.instrument_version = "2".into();
    p.answer_labels.insert(
        "frequency5".into(),
        [("6".to_owned(), "Sometimes more".to_owned())]
            .into_iter()
            .collect(),
    );
    let errors = p.validate("clinic.toml", &wai).expect_err("bad pack");
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["instrument_version", "answer_labels.frequency5.6"]);
    let srt = instrument("wai_srt");
    let errors = wai_pack()
        .validate("clinic.toml", &srt)
        .expect_err("pack for another instrument");
    assert_eq!(errors[0].path, "instrument");
}

#[test]
fn text_pack_file_errors_name_the_field() {
    let (_, text) = PLACEHOLDER_PACKS[0];
    let errors = TextPack::from_toml(
        "pack.toml",
        &text.replace("placeholder = true", "placeholder = true\nlicense = \"x\""),
    )
    .expect_err("unknown key");
    assert_eq!(errors[0].file, "pack.toml");
    assert!(errors[0].message.contains("license"), "{:?}", errors[0]);
    let errors = TextPack::from_toml(
        "pack.toml",
        &text.replace("q4 = \"WAI-SR item 4", "q4 = 4 #"),
    )
    .expect_err("wrong type");
    assert!(errors[0].path.starts_with("items.q4"), "{:?}", errors[0]);
    // A pack round-trips through its stored TOML.
    let p = wai_pack();
    assert_eq!(
        TextPack::from_toml("again.toml", &p.to_toml()).expect("round trip"),
        p
    );
}

#[test]
fn restricted_form_is_refused_until_a_pack_is_installed() {
    let mut reg = registry();
    let words = Setting::Coaching.words();
    let refused: NotAdministrable = reg.form("wai_sr", &words).expect_err("no wording yet");
    assert_eq!(refused.instrument, "wai_sr");
    assert!(refused.reason.contains("licence-gated"), "{refused}");
    assert!(
        refused.fix.contains("bordin instruments add-text"),
        "{refused}"
    );
    assert!(reg.form("nope", &words).is_err());
    // Open instruments are administrable from their own file.
    let phq = reg.form("phq9", &words).expect("open instrument");
    assert_eq!(phq.wording, WordingSource::InstrumentFile);
    assert_eq!(phq.items.len(), 10);

    // A clinic pack with {helper} in the wording and its own answer labels.
    let mut p = wai_pack();
    p.placeholder = false;
    p.source = "Clinic translation".into();
    p.permission = "SPR permission ref 123".into();
    p.items
        .insert("q3".into(), "I believe my {helper} likes me.".into());
    p.answer_labels.insert(
        "frequency5".into(),
        [("5".to_owned(), "Every time".to_owned())]
            .into_iter()
            .collect(),
    );
    // A pack for an unknown instrument is refused.
    let mut stray = p.clone();
    stray.instrument = "wai_x".into();
    assert!(matches!(
        reg.install_pack("stray.toml", stray),
        Err(RegistryError::Invalid(_))
    ));
    reg.install_pack("clinic.toml", p).expect("valid pack");
    let form = reg.form("wai_sr", &words).expect("now administrable");
    assert_eq!(
        form.wording,
        WordingSource::TextPack {
            source: "Clinic translation".into(),
            placeholder: false
        }
    );
    assert_eq!(form.items.len(), 12);
    assert_eq!(form.items[2].id, "q3");
    assert_eq!(form.items[2].text, "I believe my coach likes me.");
    let labels: Vec<&str> = form.items[2]
        .response_scale
        .points()
        .iter()
        .map(|p| p.label.as_str())
        .collect();
    assert_eq!(
        labels,
        [
            "Seldom",
            "Sometimes",
            "Fairly often",
            "Very often",
            "Every time"
        ]
    );
    assert!(form
        .instructions
        .as_deref()
        .is_some_and(|t| t.contains("your coach") && !t.contains("{helper}")));
    // The therapy setting says "therapist".
    let form = reg
        .form("wai_sr", &Setting::Therapy.words())
        .expect("administrable");
    assert_eq!(form.items[2].text, "I believe my therapist likes me.");
    // wai_srt still has no pack.
    assert!(reg.form("wai_srt", &words).is_err());
    let status: Vec<(String, bool)> = reg
        .status()
        .into_iter()
        .map(|s| (s.id, s.can_administer))
        .collect();
    assert!(
        status.contains(&("wai_sr".into(), true)) && status.contains(&("wai_srt".into(), false))
    );
}

#[test]
fn session_check_instructions_use_setting_words() {
    let reg = registry();
    let form = reg
        .form("session_check", &Setting::Counselling.words())
        .expect("project instrument");
    let text = form.instructions.expect("instructions");
    assert!(
        text.contains("your counsellor") && !text.contains('{'),
        "{text}"
    );
}

// ---------------------------------------------------------------------------------------------
// Properties

/// Random valid answers for every item of an instrument (blank with probability ~1/4).
fn any_answers(i: &Instrument) -> impl Strategy<Value = Vec<Option<Value>>> {
    let per_item: Vec<BoxedStrategy<Option<Value>>> = i
        .items
        .iter()
        .enumerate()
        .map(|(k, _)| {
            let points: Vec<i64> = i.response_scale_of(k).points().iter().map(|p| p.value).collect();
            prop_oneof![1 => Just(None), 3 => proptest::sample::select(points).prop_map(|v| Some(Value::from_integer(v)))].boxed()
        })
        .collect();
    per_item
}

/// Random complete answers for every item.
fn complete_answers(i: &Instrument) -> impl Strategy<Value = Vec<Option<Value>>> {
    let per_item: Vec<BoxedStrategy<Option<Value>>> = (0..i.items.len())
        .map(|k| {
            let points: Vec<i64> = i
                .response_scale_of(k)
                .points()
                .iter()
                .map(|p| p.value)
                .collect();
            proptest::sample::select(points)
                .prop_map(|v| Some(Value::from_integer(v)))
                .boxed()
        })
        .collect();
    per_item
}

fn scored(i: &Instrument, values: Vec<Option<Value>>) -> ScoreSheet {
    let a = Answers::from_values(i, values).expect("generated answers are valid");
    i.score(&a)
}

fn instrument_ids() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(vec!["phq9", "gad7", "wai_sr", "wai_srt", "session_check"])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn totals_stay_in_range((i, values) in instrument_ids().prop_flat_map(|id| { let i = instrument(id); let s = any_answers(&i); (Just(i), s) })) {
        let s = scored(&i, values.clone());
        prop_assert_eq!(s.scales.len(), i.scales.len());
        for (def, sc) in i.scales.iter().zip(&s.scales) {
            if let Some(v) = sc.value {
                let x = bordin_core::to_f64(v);
                prop_assert!(x >= def.range.0 - 1e-9 && x <= def.range.1 + 1e-9, "{} {} = {} outside {:?}", i.id, def.id, x, def.range);
                prop_assert!(sc.missing <= def.missing.max_missing);
                if !def.bands.is_empty() && v.is_integer() {
                    prop_assert!(sc.band.is_some(), "integer score {} outside every band", x);
                }
            }
        }
        let blanks = values.iter().enumerate().filter(|(k, v)| v.is_none() && i.is_scored_item(*k)).count();
        prop_assert_eq!(s.missing as usize, blanks);
    }

    #[test]
    fn complete_total_is_the_plain_sum((i, values) in instrument_ids().prop_flat_map(|id| { let i = instrument(id); let s = complete_answers(&i); (Just(i), s) })) {
        let s = scored(&i, values.clone());
        // Sum of the scored items (PHQ-9 q10 belongs to no scale).
        let sum: Value = values.iter().enumerate().filter(|(k, _)| i.is_scored_item(*k)).filter_map(|(_, v)| *v).sum();
        prop_assert_eq!(s.value(&i, "total"), Some(sum));
        prop_assert_eq!(s.missing, 0);
    }

    #[test]
    fn prorated_totals_are_monotone_in_each_answer(
        (i, values, k) in proptest::sample::select(vec!["phq9", "gad7", "wai_sr"]).prop_flat_map(|id| {
            let i = instrument(id);
            let n = i.items.len();
            let s = any_answers(&i);
            (Just(i), s, 0..n)
        })
    ) {
        let Some(v) = values[k] else { return Ok(()) };
        let (_, hi) = i.response_scale_of(k).bounds();
        prop_assume!(v < hi);
        let mut up = values.clone();
        up[k] = Some(v + 1);
        let before = scored(&i, values);
        let after = scored(&i, up);
        for (def, (a, b)) in i.scales.iter().zip(before.scales.iter().zip(&after.scales)) {
            // Raising an answer never changes which scales can be scored ...
            prop_assert_eq!(a.value.is_some(), b.value.is_some());
            // ... and never lowers a score.
            if let (Some(a), Some(b)) = (a.value, b.value) {
                prop_assert!(b >= a, "{} fell from {} to {}", def.id, a, b);
            }
        }
    }

    #[test]
    fn wai_total_is_bond_plus_goal_plus_task((i, values) in proptest::sample::select(vec!["wai_sr", "wai_srt"]).prop_flat_map(|id| { let i = instrument(id); let s = any_answers(&i); (Just(i), s) })) {
        let s = scored(&i, values);
        let (b, g, t) = (s.value(&i, "bond"), s.value(&i, "goal"), s.value(&i, "task"));
        match (b, g, t) {
            (Some(b), Some(g), Some(t)) => prop_assert_eq!(s.value(&i, "total"), Some(b + g + t)),
            _ => prop_assert_eq!(s.value(&i, "total"), None),
        }
    }

    #[test]
    fn format_then_parse_round_trips(n in -10_000_000_000i64..10_000_000_000, d in 0u8..=6) {
        let v = Value::new(n, 10i64.pow(u32::from(d)));
        let text = format_value(v, d);
        prop_assert_eq!(parse_decimal(&text), Some(v), "{}", text);
        let decimals = text.split('.').nth(1).map_or(0, str::len);
        prop_assert_eq!(decimals, usize::from(d));
    }

    #[test]
    fn format_rounds_to_nearest(n in -1_000_000i64..1_000_000, den in 1i64..1000, d in 0u8..=4) {
        let v = Value::new(n, den);
        let text = format_value(v, d);
        let back = parse_decimal(&text).expect("formatted values parse");
        // |back − v| ≤ half a unit in the last place.
        let half = Value::new(1, 2 * 10i64.pow(u32::from(d)));
        prop_assert!(back - v <= half && v - back <= half, "{} → {}", v, text);
    }

    #[test]
    fn answers_parse_never_panics(pairs in proptest::collection::vec(("q[0-9]{1,2}|[a-z]{0,3}", "\\PC{0,6}|[0-9]{1,3}(\\.[0-9]{0,20})?"), 0..14)) {
        for id in ["phq9", "session_check"] {
            let i = instrument(id);
            if let Ok(a) = Answers::parse(&i, pairs.iter().map(|(a, b)| (a.as_str(), b.as_str()))) {
                let s = i.score(&a);
                prop_assert_eq!(s.scales.len(), i.scales.len());
            }
        }
    }
}
