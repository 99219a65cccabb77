//! Goals, tasks and agreements: the collaborative core of the alliance (Bordin's agreement on
//! goals and agreement on tasks, made concrete).
//!
//! This module holds the vocabulary (goal and task states, who rates, what a consent covers, what
//! the agreements log records), drafts that can only exist valid ([`GoalDraft`], [`TaskDraft`],
//! [`TaskReport`], [`FormulationDraft`], [`GoalRating`]) and the statistics: the Goal Attainment
//! Scaling T-score ([`gas_t_score`]) and client–clinician goal consensus ([`goal_consensus`]).
//!
//! Drafts collect every problem with the field it belongs to ([`FieldErrors`]), so a form can name
//! each problem beside its field and keep what the person typed.

use serde::Serialize;

use crate::care::named_enum;

named_enum!(
    /// Where a goal stands. A goal proposed by either party becomes active when both agree to
    /// work on it; reached and dropped goals stay in the record.
    GoalStatus { Proposed = "proposed", Active = "active", Reached = "reached", Dropped = "dropped" }
);
named_enum!(
    /// Whose task it is.
    TaskOwner { Client = "client", Clinician = "clinician", Both = "both" }
);
named_enum!(
    /// Where an agreed task stands.
    TaskStatus { Agreed = "agreed", Done = "done", Skipped = "skipped", Dropped = "dropped" }
);
named_enum!(
    /// Who gives a rating or makes a change: the client (through their link) or the clinician.
    Rater { Client = "client", Clinician = "clinician" }
);
named_enum!(
    /// What a goal rating measures. Agreement is how important it is to work on the goal (0–10,
    /// by either party); progress is the client's 0–10 rating; GAS is the attainment level −2..+2
    /// at a review; satisfaction (0–10) is asked when a goal is reached.
    RatingKind { Agreement = "agreement", Progress = "progress", Gas = "gas", Satisfaction = "satisfaction" }
);
named_enum!(
    /// How a task went, as the client reports it.
    TaskOutcome { Completed = "completed", Skipped = "skipped" }
);
named_enum!(
    /// What a consent record covers.
    ConsentKind {
        Questionnaires = "questionnaires",
        TranscriptAnalysis = "transcript_analysis",
        LiveCopilot = "live_copilot",
        ResearchExport = "research_export",
    }
);
named_enum!(
    /// The kind of object an agreements-log entry is about.
    LogObject { Goal = "goal", Task = "task", Formulation = "formulation", Consent = "consent" }
);
named_enum!(
    /// What happened, in an agreements-log entry. `Renegotiated` is a first-class event: the goal
    /// or task was changed by agreement, not corrected.
    LogAction {
        Created = "created",
        Edited = "edited",
        Renegotiated = "renegotiated",
        Status = "status",
        Rated = "rated",
        Reported = "reported",
        Granted = "granted",
        Withdrawn = "withdrawn",
    }
);

// ---------------------------------------------------------------------------------------------
// Goal Attainment Scaling
// ---------------------------------------------------------------------------------------------

/// The assumed correlation between goal scales when none is given (Kiresuk & Sherman, 1968).
pub const DEFAULT_RHO: f64 = 0.3;

/// Why a GAS T-score cannot be computed. Goals are numbered from 1 in input order.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GasError {
    #[error("no goals: a GAS T-score needs at least one goal")]
    Empty,
    #[error("goal {goal}: weight {weight} is not a number greater than 0")]
    Weight { goal: usize, weight: f64 },
    #[error("goal {goal}: level {level} is outside −2..+2")]
    Level { goal: usize, level: i8 },
    #[error("rho {0} is not in [0, 1)")]
    Rho(f64),
}

/// The Goal Attainment Scaling T-score (Kiresuk & Sherman, 1968):
///
/// T = 50 + 10 · Σ(wᵢ·xᵢ) / √((1 − ρ)·Σwᵢ² + ρ·(Σwᵢ)²)
///
/// for goals `(wᵢ, xᵢ)` with weight wᵢ > 0 and attainment level xᵢ ∈ {−2, −1, 0, +1, +2}
/// (0 = the expected outcome), and ρ the assumed correlation between the goal scales
/// ([`DEFAULT_RHO`] = 0.3 by convention). T = 50 means the goals were attained as expected on
/// average; each 10 points is one standard deviation above or below.
///
/// Kiresuk, T. J., & Sherman, R. E. (1968). Goal attainment scaling: A general method for
/// evaluating comprehensive community mental health programs. *Community Mental Health Journal,
/// 4*(6), 443–453.
///
/// ```
/// use bordin_core::goals::gas_t_score;
/// // Equal weights, every goal at the expected level: T = 50.
/// assert_eq!(gas_t_score(&[(1.0, 0), (1.0, 0), (1.0, 0)], 0.3), Ok(50.0));
/// // One goal at +2 with weight 1: 50 + 10·2/√(0.7·1 + 0.3·1) = 70.
/// assert_eq!(gas_t_score(&[(1.0, 2)], 0.3), Ok(70.0));
/// ```
pub fn gas_t_score(goals: &[(f64, i8)], rho: f64) -> Result<f64, GasError> {
    if !(0.0..1.0).contains(&rho) {
        return Err(GasError::Rho(rho));
    }
    if goals.is_empty() {
        return Err(GasError::Empty);
    }
    for (k, &(w, x)) in goals.iter().enumerate() {
        if !(w.is_finite() && w > 0.0) {
            return Err(GasError::Weight {
                goal: k + 1,
                weight: w,
            });
        }
        if !(-2..=2).contains(&x) {
            return Err(GasError::Level {
                goal: k + 1,
                level: x,
            });
        }
    }
    // T does not change when every weight is multiplied by the same factor; dividing by the
    // largest keeps the squares finite for any finite weights.
    let max_w = goals.iter().map(|&(w, _)| w).fold(0.0f64, f64::max);
    let (mut sum_wx, mut sum_w2, mut sum_w) = (0.0f64, 0.0f64, 0.0f64);
    for &(w, x) in goals {
        let w = w / max_w;
        sum_wx += w * f64::from(x);
        sum_w2 += w * w;
        sum_w += w;
    }
    let denominator = ((1.0 - rho) * sum_w2 + rho * sum_w * sum_w).sqrt();
    Ok(50.0 + 10.0 * sum_wx / denominator)
}

// ---------------------------------------------------------------------------------------------
// Agreement on goals
// ---------------------------------------------------------------------------------------------

/// The gap between the client's and the clinician's agreement ratings of one goal (how important
/// it is to work on it, 0–10 each): `client − clinician`. Positive when the client rates the goal
/// as more important than the clinician does, negative when less; its absolute value is the
/// disagreement that [`goal_consensus`] averages.
///
/// ```
/// use bordin_core::goals::agreement_gap;
/// assert_eq!(agreement_gap(9.0, 6.0), 3.0);
/// assert_eq!(agreement_gap(4.0, 7.0), -3.0);
/// ```
pub fn agreement_gap(client: f64, clinician: f64) -> f64 {
    client - clinician
}

/// Goal consensus of a case: the mean absolute client–clinician difference of agreement ratings
/// over the goals rated by both, `Σ|clientᵢ − clinicianᵢ| / n`, on the 0–10 agreement scale.
/// 0 is full consensus, 10 the most disagreement possible. `None` when no goal was rated by both
/// (no pair, no consensus to speak of; 0 would wrongly read as full agreement).
///
/// ```
/// use bordin_core::goals::goal_consensus;
/// // |8 − 8| = 0, |9 − 5| = 4, |3 − 6| = 3 → 7 / 3.
/// let c = goal_consensus(&[(8.0, 8.0), (9.0, 5.0), (3.0, 6.0)]).unwrap();
/// assert!((c - 7.0 / 3.0).abs() < 1e-12);
/// assert_eq!(goal_consensus(&[]), None);
/// ```
pub fn goal_consensus(pairs: &[(f64, f64)]) -> Option<f64> {
    if pairs.is_empty() {
        return None;
    }
    let total: f64 = pairs
        .iter()
        .map(|&(client, clinician)| agreement_gap(client, clinician).abs())
        .sum();
    Some(total / pairs.len() as f64)
}

// ---------------------------------------------------------------------------------------------
// Field-level errors
// ---------------------------------------------------------------------------------------------

/// One problem, at one field of a form or request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field's name as forms and the API use it (`words`, `priority`, `gas_plus1`, …).
    pub field: &'static str,
    pub message: String,
}

/// Every problem of one draft (never empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    /// The message for one field, if it has a problem.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }

    fn push(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.push(FieldError {
            field,
            message: message.into(),
        });
    }

    fn into_result<T>(self, ok: impl FnOnce() -> T) -> Result<T, FieldErrors> {
        if self.0.is_empty() {
            Ok(ok())
        } else {
            Err(self)
        }
    }
}

impl std::fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (k, e) in self.0.iter().enumerate() {
            if k > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", e.field, e.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for FieldErrors {}

/// The most characters in a goal's or task's own words and in each GAS level.
pub const MAX_SHORT_TEXT: usize = 1000;
/// The most characters in explanations (why, how we will know, rationale, formulation parts, notes).
pub const MAX_LONG_TEXT: usize = 4000;

/// A required text: trimmed, non-empty, at most `max` characters.
fn required(errors: &mut FieldErrors, field: &'static str, text: &str, max: usize) -> String {
    let t = text.trim();
    if t.is_empty() {
        errors.push(field, "this needs to be filled in");
    } else if t.chars().count() > max {
        errors.push(field, format!("at most {max} characters, please"));
    }
    t.to_owned()
}

/// An optional text: trimmed, blank means none, at most `max` characters.
fn optional(
    errors: &mut FieldErrors,
    field: &'static str,
    text: &str,
    max: usize,
) -> Option<String> {
    let t = text.trim();
    if t.chars().count() > max {
        errors.push(field, format!("at most {max} characters, please"));
    }
    (!t.is_empty()).then(|| t.to_owned())
}

/// An optional calendar date `YYYY-MM-DD` (blank means none).
fn optional_date(
    errors: &mut FieldErrors,
    field: &'static str,
    text: Option<&str>,
) -> Option<String> {
    let t = text.map(str::trim).filter(|t| !t.is_empty())?;
    if is_calendar_date(t) {
        Some(t.to_owned())
    } else {
        errors.push(field, format!("'{t}' is not a date written YYYY-MM-DD"));
        None
    }
}

fn in_range(
    errors: &mut FieldErrors,
    field: &'static str,
    what: &str,
    v: i64,
    lo: i64,
    hi: i64,
) -> u8 {
    if (lo..=hi).contains(&v) {
        // lo..=hi lies within 0..=10 for every caller.
        u8::try_from(v).unwrap_or(0)
    } else {
        errors.push(field, format!("{what} is a whole number from {lo} to {hi}"));
        0
    }
}

/// True for a real calendar date written `YYYY-MM-DD` (2026-02-29 is not one; 2028-02-29 is).
///
/// ```
/// use bordin_core::goals::is_calendar_date;
/// assert!(is_calendar_date("2028-02-29"));
/// assert!(!is_calendar_date("2026-02-29"));
/// assert!(!is_calendar_date("2026-1-05"));
/// ```
pub fn is_calendar_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let t = s.get(r)?;
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse().ok()
        } else {
            None
        }
    };
    let (Some(y), Some(m), Some(d)) = (digits(0..4), digits(5..7), digits(8..10)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

// ---------------------------------------------------------------------------------------------
// Goals
// ---------------------------------------------------------------------------------------------

/// The field names of the five GAS levels, from −2 to +2.
pub const GAS_FIELDS: [&str; 5] = [
    "gas_minus2",
    "gas_minus1",
    "gas_0",
    "gas_plus1",
    "gas_plus2",
];

/// A goal as written by the client or the clinician, valid by construction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GoalDraft {
    words: String,
    why: Option<String>,
    priority: u8,
    target_date: Option<String>,
    how_we_know: Option<String>,
    gas_levels: Option<[String; 5]>,
}

impl GoalDraft {
    /// Reads a goal. `words` (the client's own words) is required, at most
    /// [`MAX_SHORT_TEXT`] characters; `why` and `how_we_know` are optional (blank = none);
    /// `priority` is 1 (highest) to 5; `target_date` is optional, `YYYY-MM-DD` when given (a time
    /// frame is not always wise). `gas_levels` are the descriptions of attainment levels −2, −1,
    /// 0, +1, +2 in that order: each must be filled in when any is; five blanks mean no GAS.
    /// Every problem is reported, each at its field.
    pub fn parse(
        words: &str,
        why: &str,
        priority: i64,
        target_date: Option<&str>,
        how_we_know: &str,
        gas_levels: Option<[String; 5]>,
    ) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors(Vec::new());
        let words = required(&mut e, "words", words, MAX_SHORT_TEXT);
        let why = optional(&mut e, "why", why, MAX_LONG_TEXT);
        let priority = in_range(&mut e, "priority", "the priority", priority, 1, 5);
        let target_date = optional_date(&mut e, "target_date", target_date);
        let how_we_know = optional(&mut e, "how_we_know", how_we_know, MAX_LONG_TEXT);
        let gas_levels = match gas_levels {
            Some(levels) if levels.iter().any(|l| !l.trim().is_empty()) => {
                let mut out: [String; 5] = Default::default();
                for (k, level) in levels.iter().enumerate() {
                    out[k] = required(&mut e, GAS_FIELDS[k], level, MAX_SHORT_TEXT);
                }
                Some(out)
            }
            _ => None,
        };
        e.into_result(|| Self {
            words,
            why,
            priority,
            target_date,
            how_we_know,
            gas_levels,
        })
    }

    /// The goal in the client's own words.
    pub fn words(&self) -> &str {
        &self.words
    }
    /// Why it matters to them.
    pub fn why(&self) -> Option<&str> {
        self.why.as_deref()
    }
    /// 1 (highest) to 5.
    pub fn priority(&self) -> u8 {
        self.priority
    }
    /// `YYYY-MM-DD`, if a time frame was agreed.
    pub fn target_date(&self) -> Option<&str> {
        self.target_date.as_deref()
    }
    /// How they will know the goal is reached.
    pub fn how_we_know(&self) -> Option<&str> {
        self.how_we_know.as_deref()
    }
    /// Descriptions of GAS levels −2, −1, 0, +1, +2, when scaled.
    pub fn gas_levels(&self) -> Option<&[String; 5]> {
        self.gas_levels.as_ref()
    }
}

/// A rating of one goal, in range for its kind: 0–10 for agreement, progress and satisfaction,
/// −2..+2 for a GAS attainment level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GoalRating {
    kind: RatingKind,
    value: i8,
}

impl GoalRating {
    /// The rating, or the reason it is out of range.
    pub fn new(kind: RatingKind, value: i64) -> Result<Self, FieldErrors> {
        let (lo, hi) = Self::range(kind);
        match i8::try_from(value) {
            Ok(v) if (lo..=hi).contains(&v) => Ok(Self { kind, value: v }),
            _ => {
                let mut e = FieldErrors(Vec::new());
                e.push(
                    "value",
                    format!("a {kind} rating is a whole number from {lo} to {hi}"),
                );
                Err(e)
            }
        }
    }
    /// The allowed values of a kind of rating.
    pub fn range(kind: RatingKind) -> (i8, i8) {
        match kind {
            RatingKind::Gas => (-2, 2),
            _ => (0, 10),
        }
    }
    pub fn kind(self) -> RatingKind {
        self.kind
    }
    pub fn value(self) -> i8 {
        self.value
    }
}

// ---------------------------------------------------------------------------------------------
// Tasks
// ---------------------------------------------------------------------------------------------

/// A task agreed for a goal, valid by construction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskDraft {
    title: String,
    rationale: String,
    owner: TaskOwner,
    difficulty: u8,
    due_on: Option<String>,
}

impl TaskDraft {
    /// Reads a task. `title` is required (at most [`MAX_SHORT_TEXT`] characters); `rationale` is
    /// required too: why this task helps this goal, stated explicitly; `owner` is `client`,
    /// `clinician` or `both`; `difficulty` 1 (easy) to 5, fitted to the client; `due_on` optional,
    /// `YYYY-MM-DD` when given. Every problem is reported, each at its field.
    pub fn parse(
        title: &str,
        rationale: &str,
        owner: &str,
        difficulty: i64,
        due_on: Option<&str>,
    ) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors(Vec::new());
        let title = required(&mut e, "title", title, MAX_SHORT_TEXT);
        let rationale = required(&mut e, "rationale", rationale, MAX_LONG_TEXT);
        let owner = match TaskOwner::parse(owner.trim()) {
            Some(o) => o,
            None => {
                e.push("owner", "whose task: client, clinician or both");
                TaskOwner::Both
            }
        };
        let difficulty = in_range(&mut e, "difficulty", "the difficulty", difficulty, 1, 5);
        let due_on = optional_date(&mut e, "due_on", due_on);
        e.into_result(|| Self {
            title,
            rationale,
            owner,
            difficulty,
            due_on,
        })
    }

    pub fn title(&self) -> &str {
        &self.title
    }
    /// Why this task helps this goal.
    pub fn rationale(&self) -> &str {
        &self.rationale
    }
    pub fn owner(&self) -> TaskOwner {
        self.owner
    }
    /// 1 (easy) to 5.
    pub fn difficulty(&self) -> u8 {
        self.difficulty
    }
    /// `YYYY-MM-DD`, if a due date was agreed.
    pub fn due_on(&self) -> Option<&str> {
        self.due_on.as_deref()
    }
}

/// The client's report on a task: done or skipped, how helpful and how relevant to the goal it
/// was (0–10 each, optional), and a note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskReport {
    outcome: TaskOutcome,
    helpful: Option<u8>,
    relevant: Option<u8>,
    note: Option<String>,
}

impl TaskReport {
    pub fn parse(
        outcome: TaskOutcome,
        helpful: Option<i64>,
        relevant: Option<i64>,
        note: &str,
    ) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors(Vec::new());
        let helpful = helpful.map(|v| in_range(&mut e, "helpful", "how helpful", v, 0, 10));
        let relevant = relevant.map(|v| in_range(&mut e, "relevant", "how relevant", v, 0, 10));
        let note = optional(&mut e, "note", note, MAX_LONG_TEXT);
        e.into_result(|| Self {
            outcome,
            helpful,
            relevant,
            note,
        })
    }
    pub fn outcome(&self) -> TaskOutcome {
        self.outcome
    }
    pub fn helpful(&self) -> Option<u8> {
        self.helpful
    }
    pub fn relevant(&self) -> Option<u8> {
        self.relevant
    }
    pub fn note(&self) -> Option<&str> {
        self.note.as_deref()
    }
}

// ---------------------------------------------------------------------------------------------
// Case formulation
// ---------------------------------------------------------------------------------------------

/// A case formulation, valid by construction: presenting concerns, the client's preferences
/// (pace, approach, what they do not want), strengths, the identities and context the client
/// wants considered, and the goals it links to. Every part is optional text (blank = none), at
/// most [`MAX_LONG_TEXT`] characters; at least one part must be filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FormulationDraft {
    presenting_concerns: Option<String>,
    preferences: Option<String>,
    strengths: Option<String>,
    identities_context: Option<String>,
    goal_ids: Vec<String>,
}

impl FormulationDraft {
    pub fn parse(
        presenting_concerns: &str,
        preferences: &str,
        strengths: &str,
        identities_context: &str,
        goal_ids: &[String],
    ) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors(Vec::new());
        let presenting_concerns = optional(
            &mut e,
            "presenting_concerns",
            presenting_concerns,
            MAX_LONG_TEXT,
        );
        let preferences = optional(&mut e, "preferences", preferences, MAX_LONG_TEXT);
        let strengths = optional(&mut e, "strengths", strengths, MAX_LONG_TEXT);
        let identities_context = optional(
            &mut e,
            "identities_context",
            identities_context,
            MAX_LONG_TEXT,
        );
        if e.0.is_empty()
            && presenting_concerns.is_none()
            && preferences.is_none()
            && strengths.is_none()
            && identities_context.is_none()
        {
            e.push(
                "presenting_concerns",
                "fill in at least one part of the formulation",
            );
        }
        let mut ids: Vec<String> = Vec::new();
        for id in goal_ids.iter().map(|g| g.trim()).filter(|g| !g.is_empty()) {
            if !ids.iter().any(|i| i == id) {
                ids.push(id.to_owned());
            }
        }
        e.into_result(|| Self {
            presenting_concerns,
            preferences,
            strengths,
            identities_context,
            goal_ids: ids,
        })
    }
    pub fn presenting_concerns(&self) -> Option<&str> {
        self.presenting_concerns.as_deref()
    }
    pub fn preferences(&self) -> Option<&str> {
        self.preferences.as_deref()
    }
    pub fn strengths(&self) -> Option<&str> {
        self.strengths.as_deref()
    }
    pub fn identities_context(&self) -> Option<&str> {
        self.identities_context.as_deref()
    }
    /// The linked goals, without blanks or repeats, in the order given.
    pub fn goal_ids(&self) -> &[String] {
        &self.goal_ids
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 5e-5
    }

    #[test]
    fn gas_hand_computed_values() {
        // w = (2, 1), x = (1, −1), ρ = 0.3: Σwx = 2 − 1 = 1, Σw² = 5, (Σw)² = 9,
        // denominator √(0.7·5 + 0.3·9) = √6.2 = 2.48998 → T = 50 + 10/2.48998 = 54.0161.
        let t = gas_t_score(&[(2.0, 1), (1.0, -1)], 0.3).unwrap();
        assert!(close(t, 54.0161), "{t}");
        // Three goals, w = 1, x = (1, 1, 0), ρ = 0.3: Σwx = 2, Σw² = 3, (Σw)² = 9,
        // √(0.7·3 + 0.3·9) = √4.8 = 2.19089 → T = 50 + 20/2.19089 = 59.1287.
        let t = gas_t_score(&[(1.0, 1), (1.0, 1), (1.0, 0)], 0.3).unwrap();
        assert!(close(t, 59.1287), "{t}");
        // ρ = 0, w = (1, 1), x = (2, 2): Σwx = 4, √(1·2 + 0) = 1.41421 → T = 50 + 28.2843 = 78.2843.
        let t = gas_t_score(&[(1.0, 2), (1.0, 2)], 0.0).unwrap();
        assert!(close(t, 78.2843), "{t}");
        // w = (3, 1, 2), x = (−1, 2, −2), ρ = 0.5: Σwx = −3 + 2 − 4 = −5, Σw² = 14, (Σw)² = 36,
        // √(0.5·14 + 0.5·36) = √25 = 5 → T = 50 − 10·5/5 = 40 exactly.
        assert_eq!(
            gas_t_score(&[(3.0, -1), (1.0, 2), (2.0, -2)], 0.5),
            Ok(40.0)
        );
        // Two goals at −2, w = 1, ρ = 0.3: Σwx = −4, √(0.7·2 + 0.3·4) = √2.6 = 1.61245
        // → T = 50 − 40/1.61245 = 25.1931.
        let t = gas_t_score(&[(1.0, -2), (1.0, -2)], 0.3).unwrap();
        assert!(close(t, 25.1931), "{t}");
    }

    #[test]
    fn gas_reference_examples() {
        assert_eq!(gas_t_score(&[(1.0, 0); 4], DEFAULT_RHO), Ok(50.0));
        assert_eq!(gas_t_score(&[(1.0, 2)], DEFAULT_RHO), Ok(70.0));
        // With one goal the weight and ρ cancel: 50 + 10·w·x/w.
        let t = gas_t_score(&[(2.5, -1)], 0.9).unwrap();
        assert!(close(t, 40.0), "{t}");
    }

    #[test]
    fn gas_rejects_bad_input() {
        assert_eq!(gas_t_score(&[], 0.3), Err(GasError::Empty));
        assert_eq!(
            gas_t_score(&[(1.0, 0), (0.0, 1)], 0.3),
            Err(GasError::Weight {
                goal: 2,
                weight: 0.0
            })
        );
        assert!(matches!(
            gas_t_score(&[(-1.0, 0)], 0.3),
            Err(GasError::Weight { goal: 1, .. })
        ));
        assert!(matches!(
            gas_t_score(&[(f64::NAN, 0)], 0.3),
            Err(GasError::Weight { goal: 1, .. })
        ));
        assert!(matches!(
            gas_t_score(&[(f64::INFINITY, 0)], 0.3),
            Err(GasError::Weight { goal: 1, .. })
        ));
        assert_eq!(
            gas_t_score(&[(1.0, 3)], 0.3),
            Err(GasError::Level { goal: 1, level: 3 })
        );
        assert_eq!(
            gas_t_score(&[(1.0, -3)], 0.3),
            Err(GasError::Level { goal: 1, level: -3 })
        );
        assert_eq!(gas_t_score(&[(1.0, 0)], 1.0), Err(GasError::Rho(1.0)));
        assert_eq!(gas_t_score(&[(1.0, 0)], -0.1), Err(GasError::Rho(-0.1)));
        assert!(matches!(
            gas_t_score(&[(1.0, 0)], f64::NAN),
            Err(GasError::Rho(_))
        ));
        // Only the ratio of the weights matters, so huge weights do not overflow:
        // w = (1e200, 1e200), x = (1, 1) is w = (1, 1): 50 + 20/√(0.7·2 + 0.3·4) = 62.4035.
        let t = gas_t_score(&[(1e200, 1), (1e200, 1)], 0.3).unwrap();
        assert!(close(t, 62.4035), "{t}");
    }

    #[test]
    fn consensus_is_the_mean_absolute_gap() {
        assert_eq!(agreement_gap(7.0, 10.0), -3.0);
        // |10 − 10| + |2 − 8| = 6, over 2 goals → 3.
        assert_eq!(goal_consensus(&[(10.0, 10.0), (2.0, 8.0)]), Some(3.0));
        assert_eq!(goal_consensus(&[(5.0, 5.0)]), Some(0.0));
        assert_eq!(goal_consensus(&[]), None);
    }

    fn gas(levels: [&str; 5]) -> Option<[String; 5]> {
        Some(levels.map(str::to_owned))
    }

    #[test]
    fn a_goal_is_read_and_trimmed() {
        let g = GoalDraft::parse(
            "  Sleep through the night ",
            "I am exhausted",
            2,
            Some("2026-06-30"),
            "",
            gas(["worse", "same", "5 nights", "6 nights", "every night"]),
        )
        .unwrap();
        assert_eq!(g.words(), "Sleep through the night");
        assert_eq!(g.why(), Some("I am exhausted"));
        assert_eq!(g.priority(), 2);
        assert_eq!(g.target_date(), Some("2026-06-30"));
        assert_eq!(g.how_we_know(), None);
        assert_eq!(g.gas_levels().unwrap()[2], "5 nights");
        // Five blank levels mean no GAS; no date is fine.
        let g = GoalDraft::parse("x", "", 5, Some(" "), "", gas([""; 5])).unwrap();
        assert_eq!(g.gas_levels(), None);
        assert_eq!(g.target_date(), None);
    }

    #[test]
    fn every_goal_problem_is_named_at_its_field() {
        let long = "a".repeat(MAX_SHORT_TEXT + 1);
        let e = GoalDraft::parse(
            &long,
            "",
            0,
            Some("2026-02-30"),
            "",
            gas(["a", " ", "c", "d", ""]),
        )
        .unwrap_err();
        assert!(e.get("words").unwrap().contains("at most 1000"));
        assert!(e.get("priority").unwrap().contains("1 to 5"));
        assert!(e.get("target_date").unwrap().contains("'2026-02-30'"));
        assert!(e.get("gas_minus1").is_some());
        assert!(e.get("gas_plus2").is_some());
        assert!(e.get("gas_minus2").is_none());
        assert_eq!(e.0.len(), 5, "{e}");
        let e = GoalDraft::parse(" ", "", 6, None, "", None).unwrap_err();
        assert_eq!(e.get("words"), Some("this needs to be filled in"));
        assert!(e.get("priority").is_some());
        // 1000 characters (not bytes) is allowed.
        assert!(GoalDraft::parse(&"é".repeat(1000), "", 1, None, "", None).is_ok());
    }

    #[test]
    fn a_task_needs_its_rationale() {
        let t = TaskDraft::parse(
            "Write down one worry a day",
            "Naming worries is the first step of the worry-time goal",
            "client",
            2,
            Some("2026-03-09"),
        )
        .unwrap();
        assert_eq!(t.owner(), TaskOwner::Client);
        assert_eq!(t.difficulty(), 2);
        assert_eq!(t.due_on(), Some("2026-03-09"));
        let e = TaskDraft::parse("Walk", " ", "nobody", 9, Some("09/03/2026")).unwrap_err();
        assert!(e.get("rationale").is_some());
        assert!(e
            .get("owner")
            .unwrap()
            .contains("client, clinician or both"));
        assert!(e.get("difficulty").is_some());
        assert!(e.get("due_on").is_some());
        assert!(e.get("title").is_none());
    }

    #[test]
    fn ratings_and_reports_are_in_range() {
        assert_eq!(GoalRating::new(RatingKind::Gas, -2).unwrap().value(), -2);
        assert!(GoalRating::new(RatingKind::Gas, 3).is_err());
        assert!(GoalRating::new(RatingKind::Agreement, 10).is_ok());
        assert!(GoalRating::new(RatingKind::Progress, -1).is_err());
        assert!(GoalRating::new(RatingKind::Satisfaction, 300).is_err());
        let r = TaskReport::parse(TaskOutcome::Completed, Some(8), None, " ok ").unwrap();
        assert_eq!(
            (r.helpful(), r.relevant(), r.note()),
            (Some(8), None, Some("ok"))
        );
        let e = TaskReport::parse(TaskOutcome::Skipped, Some(11), Some(-1), "").unwrap_err();
        assert!(e.get("helpful").is_some() && e.get("relevant").is_some());
    }

    #[test]
    fn a_formulation_needs_one_part_and_dedups_goals() {
        let f = FormulationDraft::parse(
            "Low mood",
            "",
            "Loyal friends",
            "",
            &["g1".into(), " ".into(), "g2".into(), "g1".into()],
        )
        .unwrap();
        assert_eq!(f.goal_ids(), ["g1", "g2"]);
        assert_eq!(f.preferences(), None);
        assert!(FormulationDraft::parse("", " ", "", "", &[]).is_err());
    }

    #[test]
    fn dates_are_checked_against_the_calendar() {
        for ok in ["2026-01-31", "2024-02-29", "2000-02-29", "2026-12-01"] {
            assert!(is_calendar_date(ok), "{ok}");
        }
        for bad in [
            "2026-04-31",
            "1900-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-01-00",
            "26-01-01",
            "2026-01-1x",
            "",
        ] {
            assert!(!is_calendar_date(bad), "{bad}");
        }
    }

    #[test]
    fn names_round_trip() {
        for s in GoalStatus::ALL {
            assert_eq!(GoalStatus::parse(s.as_str()), Some(*s));
        }
        for a in LogAction::ALL {
            assert_eq!(LogAction::parse(a.as_str()), Some(*a));
        }
        assert_eq!(
            ConsentKind::parse("live_copilot"),
            Some(ConsentKind::LiveCopilot)
        );
        assert_eq!(TaskStatus::parse("finished"), None);
    }
}

/// One goal as the renegotiation check sees it: the latest agreement ratings (0–10).
#[derive(Debug, Clone, PartialEq)]
pub struct GoalAgreementState {
    pub goal_id: String,
    pub words: String,
    pub client: Option<f64>,
    pub clinician: Option<f64>,
}

/// One task's reports, oldest first: (skipped, helpful 0–10).
#[derive(Debug, Clone, PartialEq)]
pub struct TaskReportsState {
    pub task_id: String,
    pub title: String,
    pub reports: Vec<(bool, Option<f64>)>,
}

/// Thresholds for suggesting renegotiation (Bordin defaults, configurable).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RenegotiationRule {
    /// Client and clinician agreement on a goal differ by at least this (0–10 scale).
    pub divergence: f64,
    /// A task rated this helpful or less.
    pub unhelpful_at: f64,
    /// This many most recent reports in a row were "skipped".
    pub skipped_in_a_row: usize,
}

impl Default for RenegotiationRule {
    fn default() -> Self {
        // Bordin defaults: a 3-point gap is a clear disagreement on a 0–10 scale; helpfulness of
        // 3 or less is "hardly helpful"; two skips in a row is a pattern, not an accident.
        Self {
            divergence: 3.0,
            unhelpful_at: 3.0,
            skipped_in_a_row: 2,
        }
    }
}

/// A reason to renegotiate a goal or a task with the client.
#[derive(Debug, Clone, PartialEq)]
pub struct Renegotiation {
    /// `goal:{id}` or `task:{id}`.
    pub object: String,
    pub message: String,
    /// Stable identity, so the same finding is alerted once.
    pub event_key: String,
}

/// Goals whose agreement diverges and tasks that are unhelpful or repeatedly skipped.
///
/// Agreement on goals and on tasks is two of the alliance's three parts (Bordin 1979); when
/// client and clinician disagree about a goal, or a task does not help, the research on rupture
/// repair suggests renegotiating it openly (Safran & Muran 2000; Eubanks et al. 2018).
pub fn renegotiations(
    goals: &[GoalAgreementState],
    tasks: &[TaskReportsState],
    rule: &RenegotiationRule,
) -> Vec<Renegotiation> {
    let mut out = Vec::new();
    for g in goals {
        if let (Some(c), Some(t)) = (g.client, g.clinician) {
            if (c - t).abs() >= rule.divergence {
                out.push(Renegotiation {
                    object: format!("goal:{}", g.goal_id),
                    message: format!(
                        "Goal \"{}\": the client rates agreement {c:.0} and the clinician {t:.0} (a gap of {:.0}); talk about what the goal means to each of you.",
                        g.words,
                        (c - t).abs()
                    ),
                    event_key: format!("renegotiate:goal:{}:{c:.0}-{t:.0}", g.goal_id),
                });
            }
        }
    }
    for t in tasks {
        let n = t.reports.len();
        if let Some(&(false, Some(h))) = t.reports.last() {
            if h <= rule.unhelpful_at {
                out.push(Renegotiation {
                    object: format!("task:{}", t.task_id),
                    message: format!("Task \"{}\" was rated {h:.0}/10 helpful; renegotiate it or its rationale with the client.", t.title),
                    event_key: format!("renegotiate:task:{}:unhelpful:{n}", t.task_id),
                });
            }
        }
        let k = rule.skipped_in_a_row;
        if k > 0 && n >= k && t.reports[n - k..].iter().all(|(skipped, _)| *skipped) {
            out.push(Renegotiation {
                object: format!("task:{}", t.task_id),
                message: format!("Task \"{}\" was skipped {k} times in a row; ask what gets in the way and agree a task that fits.", t.title),
                event_key: format!("renegotiate:task:{}:skipped:{n}", t.task_id),
            });
        }
    }
    out
}

#[cfg(test)]
mod renegotiation_tests {
    use super::*;

    #[test]
    fn divergent_goals_and_unhelpful_or_skipped_tasks_are_found() {
        let goals = vec![
            GoalAgreementState {
                goal_id: "g1".into(),
                words: "sleep better".into(),
                client: Some(9.0),
                clinician: Some(5.0),
            },
            GoalAgreementState {
                goal_id: "g2".into(),
                words: "return to work".into(),
                client: Some(7.0),
                clinician: Some(8.0),
            },
            GoalAgreementState {
                goal_id: "g3".into(),
                words: "only one side".into(),
                client: Some(2.0),
                clinician: None,
            },
        ];
        let tasks = vec![
            TaskReportsState {
                task_id: "t1".into(),
                title: "sleep diary".into(),
                reports: vec![(false, Some(8.0)), (false, Some(2.0))],
            },
            TaskReportsState {
                task_id: "t2".into(),
                title: "walk".into(),
                reports: vec![(false, Some(6.0)), (true, None), (true, None)],
            },
            TaskReportsState {
                task_id: "t3".into(),
                title: "call a friend".into(),
                reports: vec![(true, None), (false, Some(7.0))],
            },
        ];
        let r = renegotiations(&goals, &tasks, &RenegotiationRule::default());
        let objects: Vec<&str> = r.iter().map(|x| x.object.as_str()).collect();
        assert_eq!(objects, ["goal:g1", "task:t1", "task:t2"]);
        assert_eq!(r[0].event_key, "renegotiate:goal:g1:9-5");
        // exactly at the threshold counts: |8 − 5| = 3
        let at = vec![GoalAgreementState {
            goal_id: "g".into(),
            words: "w".into(),
            client: Some(8.0),
            clinician: Some(5.0),
        }];
        assert_eq!(
            renegotiations(&at, &[], &RenegotiationRule::default()).len(),
            1
        );
    }
}
