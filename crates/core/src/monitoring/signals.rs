//! From a case's scores to signals: ruptures and repairs, reliable change and recovery, not on
//! track, risk answers, client–therapist discrepancy, low early alliance, missing measures and a
//! transparent dropout-risk score. Pure: the same input always gives the same signals, so the
//! server can evaluate a case afresh after every submission and keep only what is new.

use std::collections::BTreeMap;

use serde::Serialize;

use super::change::{ChangeClass, ChangeRule};
use super::expected::ExpectedTrajectories;
use super::rupture::{detect, Point, RuptureEpisode, RuptureRule, RuptureStatus};

/// Measure ids are `instrument.scale` (`wai_sr.total`, `phq9.total`) or `instrument.item`
/// (`phq9.q9`), as in `bordin monitor`'s input.
pub type MeasureId = String;

/// Everything known about one case that the signals need.
#[derive(Debug, Clone, Default)]
pub struct CaseData {
    /// Session number → whether it was attended (missed sessions count against dropout risk).
    pub sessions: BTreeMap<i64, bool>,
    /// Measure → scores in session order.
    pub series: BTreeMap<MeasureId, Vec<Point>>,
}

impl CaseData {
    pub fn add(&mut self, measure: &str, session: i64, value: f64) {
        let s = self.series.entry(measure.to_owned()).or_default();
        match s.binary_search_by_key(&session, |p| p.session) {
            // A second value at the same session replaces the first (a corrected response).
            Ok(i) => s[i].value = value,
            Err(i) => s.insert(i, Point { session, value }),
        }
        self.sessions.entry(session).or_insert(true);
    }

    fn get(&self, measure: &str) -> &[Point] {
        self.series.get(measure).map_or(&[], Vec::as_slice)
    }

    fn value_at(&self, measure: &str, session: i64) -> Option<f64> {
        self.get(measure)
            .iter()
            .find(|p| p.session == session)
            .map(|p| p.value)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    Rupture,
    Repair,
    ReliableImprovement,
    ReliableDeterioration,
    Recovery,
    NotOnTrack,
    Risk,
    Discrepancy,
    LowEarlyAlliance,
    MissingMeasure,
    DropoutRisk,
}

impl SignalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rupture => "rupture",
            Self::Repair => "repair",
            Self::ReliableImprovement => "reliable_improvement",
            Self::ReliableDeterioration => "reliable_deterioration",
            Self::Recovery => "recovery",
            Self::NotOnTrack => "not_on_track",
            Self::Risk => "risk",
            Self::Discrepancy => "discrepancy",
            Self::LowEarlyAlliance => "low_early_alliance",
            Self::MissingMeasure => "missing_measure",
            Self::DropoutRisk => "dropout_risk",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Rupture,
            Self::Repair,
            Self::ReliableImprovement,
            Self::ReliableDeterioration,
            Self::Recovery,
            Self::NotOnTrack,
            Self::Risk,
            Self::Discrepancy,
            Self::LowEarlyAlliance,
            Self::MissingMeasure,
            Self::DropoutRisk,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// How soon a clinician should act on it.
    pub fn urgency(self) -> Urgency {
        match self {
            Self::Risk => Urgency::Red,
            Self::Rupture
            | Self::ReliableDeterioration
            | Self::NotOnTrack
            | Self::DropoutRisk
            | Self::Discrepancy
            | Self::LowEarlyAlliance => Urgency::Amber,
            Self::MissingMeasure => Urgency::Amber,
            Self::Repair | Self::ReliableImprovement | Self::Recovery => Urgency::Green,
        }
    }
}

/// Red: act today. Amber: talk about it next session. Green: good news, nothing to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    Green,
    Amber,
    Red,
}

/// One signal about one case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Signal {
    pub kind: SignalKind,
    pub measure: MeasureId,
    /// The session at which it is seen.
    pub session: i64,
    /// What happened, in words a clinician reads.
    pub message: String,
    /// The figures behind it.
    pub detail: serde_json::Value,
    /// Stable identity of the event, so a resolved alert is not raised again for it:
    /// e.g. `rupture:wai_sr.goal:7`.
    pub event_key: String,
}

/// The thresholds, each documented and configurable per clinic.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Thresholds {
    /// Therapist above client on the WAI total by at least this (of 12–60): a blind spot.
    pub discrepancy_total: f64,
    /// … or on a subscale by at least this (of 4–20).
    pub discrepancy_subscale: f64,
    /// Low early alliance: a client alliance total below this in sessions 1–3, per measure
    /// (the clinic's 25th percentile when it has enough data, else these defaults).
    pub low_early: BTreeMap<MeasureId, f64>,
    /// Where each `low_early` figure comes from.
    pub low_early_basis: String,
    /// The dropout-risk score at or above which a signal is raised.
    pub dropout_signal_at: f64,
    /// Weight of each dropout factor, in the order of [`DROPOUT_FACTORS`].
    pub dropout_weights: [f64; 5],
    /// Where the weights come from (defaults, or fitted on the clinic's closed cases).
    pub dropout_basis: String,
}

/// The documented dropout factors, in the order of [`Thresholds::dropout_weights`].
pub const DROPOUT_FACTORS: [&str; 5] = [
    "low_early_alliance",
    "unresolved_rupture",
    "missed_sessions_or_measures",
    "not_on_track",
    "alliance_falling",
];

impl Default for Thresholds {
    fn default() -> Self {
        let mut low_early = BTreeMap::new();
        // Bordin defaults until the clinic has data: WAI-SR total below 40 (a mean item below
        // 3.33, between "fairly often" and "very often"); Session Check total below 36 of 40,
        // after the SRS convention for a 4 × 0–10 check (Duncan & Miller; OpenFIT).
        low_early.insert("wai_sr.total".to_owned(), 40.0);
        low_early.insert("session_check.total".to_owned(), 36.0);
        Self {
            // statistics reference: WAI-SRT total ≥ 6 points above WAI-SR, or a subscale ≥ 3.
            discrepancy_total: 6.0,
            discrepancy_subscale: 3.0,
            low_early,
            low_early_basis: "Bordin defaults (WAI-SR total < 40; Session Check total < 36, after the SRS convention)".into(),
            dropout_signal_at: 3.0,
            dropout_weights: [2.0, 2.0, 1.5, 1.0, 1.5],
            dropout_basis: "Bordin defaults (statistics reference): weights 2, 2, 1.5, 1, 1.5; signal at 3".into(),
        }
    }
}

/// Rules per measure for this evaluation.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    pub ruptures: BTreeMap<MeasureId, RuptureRule>,
    pub change: BTreeMap<MeasureId, ChangeRule>,
    pub thresholds: Thresholds,
    pub expected: ExpectedTrajectories,
}

impl Rules {
    /// Rules for Bordin's shipped instruments, from their files' declared norms.
    pub fn for_registry(registry: &crate::Registry) -> Self {
        let mut r = Self::default();
        for i in registry.instruments() {
            for s in &i.scales {
                let id = format!("{}.{}", i.id, s.id);
                if let Some(c) = s.change.as_ref().and_then(ChangeRule::from_norms) {
                    r.change.insert(id.clone(), c);
                }
            }
        }
        for inst in ["wai_sr", "wai_srt"] {
            r.ruptures
                .insert(format!("{inst}.total"), RuptureRule::wai_total());
            for sub in ["bond", "goal", "task"] {
                r.ruptures
                    .insert(format!("{inst}.{sub}"), RuptureRule::wai_subscale());
            }
        }
        r.ruptures.insert(
            "session_check.total".into(),
            RuptureRule::for_range(40.0, 1.0),
        );
        for sub in ["bond", "goal", "task", "overall"] {
            r.ruptures.insert(
                format!("session_check.{sub}"),
                RuptureRule::for_range(10.0, 1.0),
            );
        }
        r
    }
}

/// Client-rated alliance measures, whose ruptures and lows are signalled.
const CLIENT_ALLIANCE: [&str; 2] = ["wai_sr", "session_check"];
/// Outcome measures whose change is judged.
const OUTCOMES: [&str; 2] = ["phq9.total", "gad7.total"];

/// A measure's name in words: `wai_sr.goal` → "WAI-SR goal", `phq9.q9` → "PHQ-9 item 9".
pub fn measure_label(measure: &str) -> String {
    let Some((inst, part)) = measure.split_once('.') else {
        return measure.to_owned();
    };
    let inst = match inst {
        "wai_sr" => "WAI-SR",
        "wai_srt" => "WAI-SRT (therapist)",
        "session_check" => "Session Check",
        "phq9" => "PHQ-9",
        "gad7" => "GAD-7",
        other => other,
    };
    let part = match part {
        "total" => "total".to_owned(),
        "goal" => "goals".to_owned(),
        "task" => "tasks".to_owned(),
        p if p.starts_with('q') && p[1..].chars().all(|c| c.is_ascii_digit()) => {
            format!("item {}", &p[1..])
        }
        p => p.to_owned(),
    };
    format!("{inst} {part}")
}

fn fmt(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

/// Evaluates every signal of one case.
pub fn evaluate(case: &CaseData, rules: &Rules) -> Vec<Signal> {
    let (mut out, episodes) = base_signals(case, rules);
    let eps: BTreeMap<&str, Vec<RuptureEpisode>> = episodes
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    if let Some(s) = dropout_signal(case, &out, &eps, &rules.thresholds) {
        out.push(s);
    }
    out.sort_by(|a, b| (a.session, a.kind, &a.measure).cmp(&(b.session, b.kind, &b.measure)));
    out
}

/// Every signal but dropout risk (which is computed from these), with the rupture episodes.
fn base_signals(
    case: &CaseData,
    rules: &Rules,
) -> (Vec<Signal>, BTreeMap<MeasureId, Vec<RuptureEpisode>>) {
    let mut out = Vec::new();
    let mut episodes = BTreeMap::new();
    for (measure, rule) in &rules.ruptures {
        if !CLIENT_ALLIANCE
            .iter()
            .any(|p| measure.starts_with(&format!("{p}.")))
        {
            continue;
        }
        let eps = detect(case.get(measure), rule);
        rupture_signals(measure, &eps, case, &mut out);
        episodes.insert(measure.clone(), eps);
    }
    for m in OUTCOMES {
        if let Some(rule) = rules.change.get(m) {
            change_signals(m, case.get(m), rule, &rules.expected, &mut out);
        }
    }
    risk_signals(case, &mut out);
    discrepancy_signals(case, &rules.thresholds, &mut out);
    low_early_signals(case, &rules.thresholds, &mut out);
    missing_signals(case, &mut out);
    (out, episodes)
}

fn rupture_signals(measure: &str, eps: &[RuptureEpisode], case: &CaseData, out: &mut Vec<Signal>) {
    for e in eps {
        // Agreement on goals or tasks falling while the bond holds is a different conversation.
        let mut pattern = serde_json::Value::Null;
        if let Some((inst, sub @ ("goal" | "task"))) = measure.split_once('.') {
            let bond = case.value_at(&format!("{inst}.bond"), e.detected_session);
            let bond_before: Vec<f64> = case
                .get(&format!("{inst}.bond"))
                .iter()
                .filter(|p| p.session < e.start_session)
                .map(|p| p.value)
                .collect();
            if let Some(b) = bond {
                if !bond_before.is_empty() {
                    let level = bond_before.iter().sum::<f64>() / bond_before.len() as f64;
                    if b >= level - e.noise {
                        pattern =
                            serde_json::json!(format!("{sub} agreement fell while the bond held"));
                    }
                }
            }
        }
        let shape = match e.shape {
            super::rupture::RuptureShape::Sudden => "a drop",
            super::rupture::RuptureShape::Decline => "a decline over several sessions",
        };
        out.push(Signal {
            kind: SignalKind::Rupture,
            measure: measure.to_owned(),
            session: e.detected_session,
            message: format!(
                "{}: {shape} to {} at session {} (the client's usual level {}; threshold {}).{}",
                measure_label(measure),
                fmt(e.lowest),
                e.detected_session,
                fmt(e.baseline),
                fmt(e.threshold),
                match e.status {
                    RuptureStatus::Unresolved => " Not repaired within 3 sessions.",
                    _ => "",
                }
            ),
            detail: serde_json::json!({
                "start_session": e.start_session, "baseline": e.baseline, "noise": e.noise, "threshold": e.threshold,
                "lowest": e.lowest, "lowest_session": e.lowest_session, "shape": e.shape, "status": e.status,
                "repaired_session": e.repaired_session, "pattern": pattern,
            }),
            event_key: format!("rupture:{measure}:{}", e.start_session),
        });
        if let Some(r) = e.repaired_session {
            out.push(Signal {
                kind: SignalKind::Repair,
                measure: measure.to_owned(),
                session: r,
                message: format!("{}: back to the client's usual level at session {r} after the rupture at session {}.", measure_label(measure), e.detected_session),
                detail: serde_json::json!({ "rupture_session": e.detected_session, "baseline": e.baseline, "value": case.value_at(measure, r) }),
                event_key: format!("repair:{measure}:{}", e.start_session),
            });
        }
    }
}

fn change_signals(
    measure: &str,
    points: &[Point],
    rule: &ChangeRule,
    expected: &ExpectedTrajectories,
    out: &mut Vec<Signal>,
) {
    let Some(intake) = points.first() else { return };
    // Reliable change is reported the first time it is reached (and again if it reverses).
    let mut last: Option<ChangeClass> = None;
    for p in points.iter().skip(1) {
        let class = rule.classify(intake.value, p.value);
        let kind = match class {
            ChangeClass::Recovered => Some(SignalKind::Recovery),
            ChangeClass::Improved => Some(SignalKind::ReliableImprovement),
            ChangeClass::Deteriorated => Some(SignalKind::ReliableDeterioration),
            ChangeClass::Unchanged => None,
        };
        if Some(class) != last {
            if let Some(kind) = kind {
                let change = rule.improvement(intake.value, p.value);
                out.push(Signal {
                    kind,
                    measure: measure.to_owned(),
                    session: p.session,
                    message: format!(
                        "{}: {} → {} since intake ({} by {} points; reliable change is {} points).",
                        measure_label(measure),
                        fmt(intake.value),
                        fmt(p.value),
                        if change >= 0.0 { "better" } else { "worse" },
                        fmt(change.abs()),
                        fmt(rule.reliable_points)
                    ),
                    detail: serde_json::json!({ "intake": intake.value, "value": p.value, "reliable_points": rule.reliable_points, "caseness": rule.caseness, "basis": rule.basis }),
                    event_key: format!("{}:{measure}:{}", kind.as_str(), p.session),
                });
            }
        }
        last = Some(class);
    }
    // Not on track: judged at the latest score only.
    if let Some(latest) = points.last().filter(|p| p.session > intake.session) {
        if let Some(e) = expected.judge(measure, rule, intake.value, latest.session, latest.value) {
            if e.off_track {
                out.push(Signal {
                    kind: SignalKind::NotOnTrack,
                    measure: measure.to_owned(),
                    session: latest.session,
                    message: format!(
                        "{}: {} at session {} — {}",
                        measure_label(measure),
                        fmt(latest.value),
                        latest.session,
                        e.reason
                    ),
                    detail: serde_json::to_value(&e).unwrap_or_default(),
                    // One alert per basis and checkpoint (session 4, session 6 and later, the clinic's
                    // model), not one per session while the case stays off track.
                    event_key: format!(
                        "not_on_track:{measure}:{}",
                        match (e.basis, latest.session) {
                            ("clinic", _) => "clinic",
                            (_, s) if s < 6 => "by_session_4",
                            _ => "by_session_6",
                        }
                    ),
                });
            }
        }
    }
}

fn risk_signals(case: &CaseData, out: &mut Vec<Signal>) {
    for p in case.get("phq9.q9") {
        if p.value > 0.0 {
            out.push(Signal {
                kind: SignalKind::Risk,
                measure: "phq9.q9".into(),
                session: p.session,
                message: format!("PHQ-9 item 9 (thoughts of being better off dead or of self-harm) answered {} at session {}: review risk today.", fmt(p.value), p.session),
                detail: serde_json::json!({ "item": "q9", "value": p.value }),
                event_key: format!("risk:phq9.q9:{}", p.session),
            });
        }
    }
}

fn discrepancy_signals(case: &CaseData, t: &Thresholds, out: &mut Vec<Signal>) {
    for p in case.get("wai_srt.total") {
        let mut over = Vec::new();
        if let Some(c) = case.value_at("wai_sr.total", p.session) {
            if p.value - c >= t.discrepancy_total {
                over.push(("total", p.value, c));
            }
        }
        for sub in ["bond", "goal", "task"] {
            if let (Some(th), Some(c)) = (
                case.value_at(&format!("wai_srt.{sub}"), p.session),
                case.value_at(&format!("wai_sr.{sub}"), p.session),
            ) {
                if th - c >= t.discrepancy_subscale {
                    over.push((sub, th, c));
                }
            }
        }
        if !over.is_empty() {
            let parts: Vec<String> = over
                .iter()
                .map(|(s, th, c)| format!("{s} {} vs {}", fmt(*th), fmt(*c)))
                .collect();
            out.push(Signal {
                kind: SignalKind::Discrepancy,
                measure: "wai_srt.total".into(),
                session: p.session,
                message: format!("Session {}: the therapist rated the alliance clearly above the client ({}; therapist vs client). A possible blind spot.", p.session, parts.join(", ")),
                detail: serde_json::json!({ "scales": over.iter().map(|(s, th, c)| serde_json::json!({"scale": s, "therapist": th, "client": c})).collect::<Vec<_>>(),
                    "threshold_total": t.discrepancy_total, "threshold_subscale": t.discrepancy_subscale }),
                event_key: format!("discrepancy:wai_srt.total:{}", p.session),
            });
        }
    }
}

fn low_early_signals(case: &CaseData, t: &Thresholds, out: &mut Vec<Signal>) {
    for (measure, &cut) in &t.low_early {
        if let Some(p) = case
            .get(measure)
            .iter()
            .find(|p| p.session <= 3 && p.value < cut)
        {
            out.push(Signal {
                kind: SignalKind::LowEarlyAlliance,
                measure: measure.clone(),
                session: p.session,
                message: format!("{}: {} at session {}, below {} — a low alliance early in the work predicts poorer outcome and dropout.", measure_label(measure), fmt(p.value), p.session, fmt(cut)),
                detail: serde_json::json!({ "value": p.value, "cutoff": cut, "basis": t.low_early_basis }),
                event_key: format!("low_early_alliance:{measure}"),
            });
        }
    }
}

fn missing_signals(case: &CaseData, out: &mut Vec<Signal>) {
    let measured = |s: i64| {
        CLIENT_ALLIANCE
            .iter()
            .any(|i| case.value_at(&format!("{i}.total"), s).is_some())
    };
    for (&s, &attended) in &case.sessions {
        if attended && !measured(s) {
            out.push(Signal {
                kind: SignalKind::MissingMeasure,
                measure: "alliance".into(),
                session: s,
                message: format!("Session {s}: no client alliance rating was collected."),
                detail: serde_json::json!({ "expected": CLIENT_ALLIANCE }),
                event_key: format!("missing_measure:alliance:{s}"),
            });
        }
    }
}

/// One factor of the dropout-risk score, with its weight and whether it is present.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RiskFactor {
    pub factor: &'static str,
    pub weight: f64,
    pub present: bool,
    pub contribution: f64,
    pub why: String,
}

/// Which documented dropout factors are present, in the order of [`DROPOUT_FACTORS`], with the
/// reason of each in words.
fn factors_present(
    case: &CaseData,
    signals: &[Signal],
    episodes: &BTreeMap<&str, Vec<RuptureEpisode>>,
) -> [(bool, String); 5] {
    let low_early = signals
        .iter()
        .any(|s| s.kind == SignalKind::LowEarlyAlliance);
    let unresolved = episodes
        .values()
        .flatten()
        .any(|e| e.status == RuptureStatus::Unresolved);
    let missed = case.sessions.values().filter(|a| !**a).count()
        + signals
            .iter()
            .filter(|s| s.kind == SignalKind::MissingMeasure)
            .count();
    let off_track = signals.iter().any(|s| s.kind == SignalKind::NotOnTrack);
    let falling = CLIENT_ALLIANCE.iter().any(|i| {
        let pts = case.get(&format!("{i}.total"));
        pts.len() >= 3
            && pts[pts.len() - 3..]
                .windows(2)
                .all(|w| w[1].value < w[0].value)
    });
    [
        (low_early, "client alliance low in sessions 1–3".into()),
        (
            unresolved,
            "a rupture not repaired within 3 sessions".into(),
        ),
        (
            missed >= 2,
            format!("{missed} missed sessions or alliance measures"),
        ),
        (off_track, "outcome below the expected course".into()),
        (
            falling,
            "client alliance fell at each of the last 3 ratings".into(),
        ),
    ]
}

/// The transparent dropout-risk score: a sum of documented factors, each shown with its weight.
///
/// Factors (statistics reference; Sharf, Primavera & Diener 2010 and Flückiger et al. 2018 on
/// weak and falling alliance and dropout): early alliance low, an unresolved rupture, two or more
/// missed sessions or measures, not on track, client alliance falling over the last 3 sessions.
/// Default weights 2, 2, 1.5, 1, 1.5; a clinic with enough closed cases gets weights fitted by
/// logistic regression ([`super::calibrate`]).
pub fn dropout_factors(
    case: &CaseData,
    signals: &[Signal],
    episodes: &BTreeMap<&str, Vec<RuptureEpisode>>,
    t: &Thresholds,
) -> Vec<RiskFactor> {
    factors_present(case, signals, episodes)
        .into_iter()
        .zip(DROPOUT_FACTORS.iter().zip(t.dropout_weights))
        .map(|((present, why), (factor, weight))| RiskFactor {
            factor,
            weight,
            present,
            contribution: if present { weight } else { 0.0 },
            why,
        })
        .collect()
}

/// Which dropout factors a case shows over its whole course (for calibration on closed cases).
pub fn dropout_features(case: &CaseData, rules: &Rules) -> [bool; 5] {
    let (signals, episodes) = base_signals(case, rules);
    let eps: BTreeMap<&str, Vec<RuptureEpisode>> = episodes
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    factors_present(case, &signals, &eps).map(|(p, _)| p)
}

fn dropout_signal(
    case: &CaseData,
    signals: &[Signal],
    episodes: &BTreeMap<&str, Vec<RuptureEpisode>>,
    t: &Thresholds,
) -> Option<Signal> {
    let factors = dropout_factors(case, signals, episodes, t);
    let score: f64 = factors.iter().map(|f| f.contribution).sum();
    if score < t.dropout_signal_at {
        return None;
    }
    let session = case.sessions.keys().next_back().copied().unwrap_or(0);
    let present: Vec<String> = factors
        .iter()
        .filter(|f| f.present)
        .map(|f| format!("{} (+{})", f.why, fmt(f.weight)))
        .collect();
    Some(Signal {
        kind: SignalKind::DropoutRisk,
        measure: "case".into(),
        session,
        message: format!(
            "Dropout risk {} (signal at {}): {}.",
            fmt(score),
            fmt(t.dropout_signal_at),
            present.join("; ")
        ),
        detail: serde_json::json!({ "score": score, "signal_at": t.dropout_signal_at, "factors": factors, "basis": t.dropout_basis }),
        // A new alert only when the set of present factors changes.
        event_key: format!(
            "dropout_risk:case:{}",
            factors
                .iter()
                .filter(|f| f.present)
                .map(|f| f.factor)
                .collect::<Vec<_>>()
                .join("+")
        ),
    })
}
