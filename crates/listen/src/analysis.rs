//! The analysis of one session: features, markers, goal coverage and alliance evidence, as the
//! JSON `bordin analyze --json` prints and the server stores.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::context::{Context, GoalText};
use crate::features::{self, LatencyStats, Silence, SpeakerStats};
use crate::markers::{self, Marker, MarkerKind};
use crate::model::{Arithmetic, ModelError};
use crate::text;
use crate::transcript::{Role, Transcript};

#[cfg(feature = "semantic")]
pub(crate) use crate::semantic::Engine;

/// Without the `semantic` feature there is no engine: an empty type nothing can construct.
#[cfg(not(feature = "semantic"))]
pub(crate) enum Engine {}

#[cfg(not(feature = "semantic"))]
impl Engine {
    pub(crate) fn embed(&self, _: &[&str]) -> Result<Vec<Vec<f32>>, ModelError> {
        match *self {}
    }
    pub(crate) fn evidence(&self, _: &[f32], _: Role) -> Option<[f64; 3]> {
        match *self {}
    }
}

/// Whether the semantic part (embeddings: bond/goal/task evidence, semantic goal coverage) runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SemanticStatus {
    On,
    Off { reason: String },
}

/// Runs analyses. Holds the embedding model when there is one; share it (`Arc<Analyzer>`)
/// between sessions and requests — it is `Send + Sync` and caches embeddings of texts it has
/// seen (prototypes, goals, repeated turns).
pub struct Analyzer {
    engine: Option<Engine>,
    status: SemanticStatus,
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analyzer")
            .field("status", &self.status)
            .finish()
    }
}

/// A similarity of a sentence to a goal statement at or above this (cosine of all-MiniLM-L6-v2
/// embeddings) counts as talking about the goal. Bordin's choice from 15 written session
/// sentences against 10 goal statements: sentences about a goal scored 0.40–0.81 against it,
/// unrelated ones at most 0.32 against any goal.
pub const GOAL_SIMILARITY: f64 = 0.38;
/// Without the model, a turn that shares this share of a goal's content words talks about it.
pub const GOAL_WORD_OVERLAP: f64 = 0.5;
/// Turns with fewer words carry no alliance evidence (too little to embed meaningfully).
pub const MIN_EVIDENCE_WORDS: usize = 4;

impl Analyzer {
    /// An analyzer without the model: every non-semantic feature, and it says the semantic part
    /// is off.
    pub fn without_model() -> Analyzer {
        Analyzer {
            engine: None,
            status: SemanticStatus::Off {
                reason: "no model folder given; run `bordin model fetch` to enable it".into(),
            },
        }
    }

    /// An analyzer with the model in `model_dir` if it loads, else one without it that says
    /// why (never fails: analysis without the model is still useful).
    pub fn new(model_dir: Option<&Path>) -> Analyzer {
        Analyzer::new_with(model_dir, Arithmetic::best())
    }

    /// [`Analyzer::new`] with the model's products in `arithmetic`.
    pub fn new_with(model_dir: Option<&Path>, arithmetic: Arithmetic) -> Analyzer {
        match model_dir {
            None => Analyzer::without_model(),
            Some(dir) => match Analyzer::load_with(dir, arithmetic) {
                Ok(a) => a,
                Err(e) => Analyzer {
                    engine: None,
                    status: SemanticStatus::Off {
                        reason: e.to_string(),
                    },
                },
            },
        }
    }

    /// An analyzer with the model in `dir`, or the reason it cannot load.
    pub fn load(dir: &Path) -> Result<Analyzer, ModelError> {
        Analyzer::load_with(dir, Arithmetic::best())
    }

    /// [`Analyzer::load`] with the model's products in `arithmetic`.
    pub fn load_with(dir: &Path, arithmetic: Arithmetic) -> Result<Analyzer, ModelError> {
        #[cfg(feature = "semantic")]
        {
            let engine = Engine::load(dir, arithmetic)?;
            Ok(Analyzer {
                engine: Some(engine),
                status: SemanticStatus::On,
            })
        }
        #[cfg(not(feature = "semantic"))]
        {
            let _ = (dir, arithmetic);
            Err(ModelError::NotBuilt)
        }
    }

    pub fn semantic_status(&self) -> &SemanticStatus {
        &self.status
    }

    pub(crate) fn engine(&self) -> Option<&Engine> {
        self.engine.as_ref()
    }

    /// Embeds texts with the model (L2-normalised all-MiniLM-L6-v2 vectors), or `None` when the
    /// semantic part is off.
    pub fn embed(&self, texts: &[&str]) -> Option<Result<Vec<Vec<f32>>, ModelError>> {
        self.engine.as_ref().map(|e| e.embed(texts))
    }

    /// Analyses a whole session. Speakers without a role get one from `context`
    /// ([`Context::assign_roles`]) unless every turn already has one.
    pub fn analyze(&self, transcript: &Transcript, context: &Context) -> Analysis {
        let mut t = transcript.clone();
        let mut notes = Vec::new();
        if t.turns.iter().any(|x| x.role.is_none()) {
            notes.extend(context.assign_roles(&mut t));
        }
        let mut semantic_note = None;
        let mut scores: Vec<Option<[f64; 3]>> = vec![None; t.turns.len()];
        let mut goal_sims: Option<GoalSims> = None;
        if let Some(engine) = &self.engine {
            match semantic_pass(engine, &t, context) {
                Ok((s, g)) => {
                    scores = s;
                    goal_sims = Some(g);
                }
                Err(e) => semantic_note = Some(format!("semantic part failed: {e}")),
            }
        }
        let markers = markers::markers(&t);
        let goal_sims = goal_sims.unwrap_or_else(|| lexical_goal_sims(&t, context));
        build(
            &t,
            context,
            &scores,
            markers,
            &goal_sims,
            self.semantic_summary(semantic_note),
            notes,
        )
    }

    /// (semantic on?, note) for the session summary.
    pub(crate) fn semantic_summary(&self, failure: Option<String>) -> (bool, Option<String>) {
        match (&self.status, failure) {
            (_, Some(f)) => (false, Some(f)),
            (SemanticStatus::On, None) => (true, None),
            (SemanticStatus::Off { reason }, None) => (
                false,
                Some(format!(
                    "semantic analysis is off ({reason}): no bond/goal/task evidence; goal coverage by shared words"
                )),
            ),
        }
    }
}

/// Similarities of turns to goals and tasks (rows: turns; columns: goals then tasks), and the
/// threshold and method that go with them.
pub(crate) struct GoalSims {
    pub(crate) rows: Vec<Vec<f64>>,
    pub(crate) threshold: f64,
    pub(crate) method: &'static str,
}

fn semantic_pass(
    engine: &Engine,
    t: &Transcript,
    context: &Context,
) -> Result<(Vec<Option<[f64; 3]>>, GoalSims), ModelError> {
    // Sentences of every turn, embedded in one call (packed batches; repeated text cached).
    let mut owner: Vec<usize> = Vec::new();
    let mut units: Vec<&str> = Vec::new();
    for (i, turn) in t.turns.iter().enumerate() {
        for s in text::sentences(&turn.text) {
            owner.push(i);
            units.push(s);
        }
    }
    let embs = engine.embed(&units)?;
    let goal_texts: Vec<&str> = context
        .goals
        .iter()
        .chain(&context.tasks)
        .map(|g| g.text.as_str())
        .collect();
    let goal_embs = engine.embed(&goal_texts)?;
    let mut scores: Vec<Option<[f64; 3]>> = vec![None; t.turns.len()];
    let mut rows: Vec<Vec<f64>> = vec![vec![0.0; goal_embs.len()]; t.turns.len()];
    let mut start = 0;
    while start < units.len() {
        let i = owner[start];
        let end = owner[start..]
            .iter()
            .position(|&o| o != i)
            .map_or(units.len(), |n| start + n);
        let turn = &t.turns[i];
        let s = score_units(
            engine,
            turn.role,
            &turn.text,
            &units[start..end],
            &embs[start..end],
            &goal_embs,
        );
        scores[i] = s.evidence;
        rows[i] = s.goals;
        start = end;
    }
    Ok((
        scores,
        GoalSims {
            rows,
            threshold: GOAL_SIMILARITY,
            method: "semantic",
        },
    ))
}

/// What the sentences of one piece of speech show.
pub(crate) struct Scored {
    /// Bond/goal/task evidence: per subscale the best of its sentences of at least 3 words;
    /// `None` for unknown roles and speech under [`MIN_EVIDENCE_WORDS`] words.
    pub(crate) evidence: Option<[f64; 3]>,
    /// Per goal/task, the best sentence's similarity.
    pub(crate) goals: Vec<f64>,
}

pub(crate) fn score_units(
    engine: &Engine,
    role: Option<Role>,
    whole: &str,
    units: &[&str],
    embs: &[Vec<f32>],
    goal_embs: &[Vec<f32>],
) -> Scored {
    let mut goals = vec![0.0f64; goal_embs.len()];
    for e in embs {
        for (g, ge) in goals.iter_mut().zip(goal_embs) {
            *g = g.max(cosine(e, ge));
        }
    }
    let mut evidence: Option<[f64; 3]> = None;
    if let Some(role) = role.filter(|_| text::word_count(whole) >= MIN_EVIDENCE_WORDS) {
        for (u, e) in units.iter().zip(embs) {
            if text::word_count(u) < 3 && units.len() > 1 {
                continue;
            }
            if let Some(v) = engine.evidence(e, role) {
                let best = evidence.get_or_insert([f64::NEG_INFINITY; 3]);
                for k in 0..3 {
                    best[k] = best[k].max(v[k]);
                }
            }
        }
    }
    Scored { evidence, goals }
}

pub(crate) fn cosine(a: &[f32], b: &[f32]) -> f64 {
    // Both vectors are L2-normalised: the dot product is the cosine.
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum()
}

/// Content words for lexical goal matching: lower-case, without stop words, crudely stemmed.
fn content_words(s: &str) -> Vec<String> {
    const STOP: &[&str] = &[
        "the", "and", "for", "with", "that", "this", "from", "into", "about", "more", "less",
        "than", "then", "have", "has", "had", "was", "were", "are", "not", "but", "out", "our",
        "your", "you", "his", "her", "their", "they", "them", "its", "get", "got", "able", "will",
        "would", "could", "should", "can", "some", "each", "every", "week", "through", "over",
        "again", "what", "when", "how", "why", "who", "which", "there", "here", "very", "much",
        "just", "like", "feel", "feeling", "want", "really", "also", "been", "being", "without",
        "within",
    ];
    let mut out: Vec<String> = text::words(s)
        .into_iter()
        .filter(|w| w.len() >= 3 && !STOP.contains(&w.as_str()))
        .map(|w| stem(&w))
        .collect();
    out.sort();
    out.dedup();
    out
}

fn stem(w: &str) -> String {
    for suf in ["ings", "ing", "ed", "es", "s", "ly"] {
        if let Some(s) = w.strip_suffix(suf) {
            if s.len() >= 3 {
                return s.chars().take(6).collect();
            }
        }
    }
    w.chars().take(6).collect()
}

pub(crate) fn lexical_goal_row(turn_text: &str, goals: &[Vec<String>]) -> Vec<f64> {
    let words = content_words(turn_text);
    goals
        .iter()
        .map(|g| {
            if g.is_empty() {
                return 0.0;
            }
            let hit = g.iter().filter(|w| words.contains(w)).count();
            hit as f64 / g.len() as f64
        })
        .collect()
}

pub(crate) fn goal_word_lists(context: &Context) -> Vec<Vec<String>> {
    context
        .goals
        .iter()
        .chain(&context.tasks)
        .map(|g| content_words(&g.text))
        .collect()
}

fn lexical_goal_sims(t: &Transcript, context: &Context) -> GoalSims {
    let lists = goal_word_lists(context);
    GoalSims {
        rows: t
            .turns
            .iter()
            .map(|x| lexical_goal_row(&x.text, &lists))
            .collect(),
        threshold: GOAL_WORD_OVERLAP,
        method: "shared_words",
    }
}

/// One session's analysis. Serialises to the JSON of `bordin analyze --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    pub turns: Vec<TurnReport>,
    pub speakers: Vec<SpeakerStats>,
    /// The longest silences (≥ 1 s), longest first.
    pub silences: Vec<Silence>,
    pub markers: Vec<Marker>,
    /// Coverage of the case's goals, in the context's order.
    pub goals: Vec<GoalCoverage>,
    /// Coverage of the case's tasks, in the context's order.
    pub tasks: Vec<GoalCoverage>,
    pub session: SessionSummary,
    /// What the user should know: guessed roles, missing times, the semantic part off.
    pub notes: Vec<String>,
}

/// One turn with what was found in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnReport {
    pub index: usize,
    pub speaker: String,
    pub role: Option<Role>,
    pub start: Option<f64>,
    pub end: Option<f64>,
    pub text: String,
    pub words: usize,
    pub question: bool,
    /// `kind.subtype` of each marker on this turn, e.g. `withdrawal.minimal_response`.
    pub markers: Vec<String>,
    /// Alliance evidence: similarity to Bordin's bond/goal/task statements for the speaker's
    /// side, in standard deviations above neutral talk. `None` when the semantic part is off,
    /// the role unknown, or the turn shorter than 4 words.
    pub bond: Option<f64>,
    pub goal: Option<f64>,
    pub task: Option<f64>,
}

/// A mean with its 95% interval (normal approximation: mean ± 1.96·sd/√n) over `n ≥ 2` turns.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub mean: f64,
    pub low: f64,
    pub high: f64,
    pub n: usize,
}

impl Estimate {
    pub(crate) fn of(xs: &[f64]) -> Option<Estimate> {
        let n = xs.len();
        if n < 2 {
            return None;
        }
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let half = 1.96 * (var / n as f64).sqrt();
        Some(Estimate {
            mean,
            low: mean - half,
            high: mean + half,
            n,
        })
    }
}

/// Whether a goal or task was talked about, with the turns that show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoalCoverage {
    pub id: String,
    pub text: String,
    pub covered: bool,
    /// `semantic` (a sentence's embedding similarity ≥ 0.38) or `shared_words` (a turn has at
    /// least half its content words).
    pub method: String,
    /// The best turn's similarity or word overlap.
    pub best: f64,
    /// Up to three turns at or above the threshold, best first.
    pub evidence: Vec<GoalEvidence>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoalEvidence {
    pub turn: usize,
    pub speaker: String,
    pub start: Option<f64>,
    pub score: f64,
    pub text: String,
}

/// The session as a whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionSummary {
    /// Mean bond evidence over turns with evidence, with its 95% interval; `None` when there is
    /// none (semantic part off). Evidence to read beside the client's ratings, not a score.
    pub bond: Option<Estimate>,
    pub goal: Option<Estimate>,
    pub task: Option<Estimate>,
    /// Share of clinician turns with directive language ("you should / need to / have to").
    pub directive_share: Option<f64>,
    /// Share of clinician turns with collaborative language ("we", "what do you think", …).
    pub collaborative_share: Option<f64>,
    /// Share of clinician turns that ask a question.
    pub question_share: Option<f64>,
    /// The clinician's share of words, and of talk time when the transcript has times.
    pub clinician_talk_share: Option<f64>,
    pub clinician_time_share: Option<f64>,
    /// Client response latency after clinician questions.
    pub client_latency: LatencyStats,
    pub turns: usize,
    /// Seconds from the first turn's start to the last turn's end.
    pub duration_seconds: Option<f64>,
    pub timed: bool,
    pub withdrawal_markers: usize,
    pub confrontation_markers: usize,
    /// Whether bond/goal/task evidence was computed.
    pub semantic: bool,
    /// Why not, when it was not.
    pub semantic_note: Option<String>,
}

/// Assembles an analysis from its parts (shared by [`Analyzer::analyze`] and the live session).
pub(crate) fn build(
    t: &Transcript,
    context: &Context,
    scores: &[Option<[f64; 3]>],
    markers: Vec<Marker>,
    goal_sims: &GoalSims,
    (semantic, semantic_note): (bool, Option<String>),
    mut notes: Vec<String>,
) -> Analysis {
    let speakers = features::speakers(t);
    let silences = features::longest(features::all_silences(t));
    let language = features::language(t);
    let latency = features::latencies(t);
    let has_ends = t.turns.iter().any(|x| x.end.is_some());
    if !t.timed {
        notes.push("the transcript has no times: talk time, silences and response latencies are not available".into());
    } else if !has_ends {
        notes.push("the transcript has start times only: silences and response latencies are not available".into());
    }
    let turns: Vec<TurnReport> = t
        .turns
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let s = scores.get(i).copied().flatten();
            TurnReport {
                index: i,
                speaker: x.speaker.clone(),
                role: x.role,
                start: x.start,
                end: x.end,
                text: x.text.clone(),
                words: text::word_count(&x.text),
                question: text::is_question(&x.text),
                markers: markers
                    .iter()
                    .filter(|m| m.turn == i)
                    .map(|m| format!("{}.{}", m.kind.as_str(), m.subtype))
                    .collect(),
                bond: s.map(|v| v[0]),
                goal: s.map(|v| v[1]),
                task: s.map(|v| v[2]),
            }
        })
        .collect();
    let column = |k: usize| -> Vec<f64> { scores.iter().flatten().map(|v| v[k]).collect() };
    let n_goals = context.goals.len();
    let coverage = |items: &[GoalText], offset: usize| -> Vec<GoalCoverage> {
        items
            .iter()
            .enumerate()
            .map(|(j, g)| goal_coverage(t, g, offset + j, goal_sims))
            .collect()
    };
    let clinician = |f: &dyn Fn(&SpeakerStats) -> Option<f64>| -> Option<f64> {
        let xs: Vec<f64> = speakers
            .iter()
            .filter(|s| s.role == Some(Role::Clinician))
            .filter_map(f)
            .collect();
        (!xs.is_empty()).then(|| xs.iter().sum())
    };
    let session = SessionSummary {
        bond: Estimate::of(&column(0)),
        goal: Estimate::of(&column(1)),
        task: Estimate::of(&column(2)),
        directive_share: language.directive_share(),
        collaborative_share: language.collaborative_share(),
        question_share: language.question_share(),
        clinician_talk_share: clinician(&|s| Some(s.talk_share)),
        clinician_time_share: clinician(&|s| s.time_share),
        client_latency: latency,
        turns: t.turns.len(),
        duration_seconds: match (
            t.turns.first().and_then(|x| x.start),
            t.turns.iter().rev().find_map(|x| x.end.or(x.start)),
        ) {
            (Some(a), Some(b)) => Some((b - a).max(0.0)),
            _ => None,
        },
        timed: t.timed,
        withdrawal_markers: markers
            .iter()
            .filter(|m| m.kind == MarkerKind::Withdrawal)
            .count(),
        confrontation_markers: markers
            .iter()
            .filter(|m| m.kind == MarkerKind::Confrontation)
            .count(),
        semantic,
        semantic_note,
    };
    Analysis {
        turns,
        speakers,
        silences,
        markers,
        goals: coverage(&context.goals, 0),
        tasks: coverage(&context.tasks, n_goals),
        session,
        notes,
    }
}

fn goal_coverage(t: &Transcript, g: &GoalText, col: usize, sims: &GoalSims) -> GoalCoverage {
    let mut hits: Vec<(usize, f64)> = sims
        .rows
        .iter()
        .enumerate()
        .filter_map(|(i, row)| row.get(col).map(|s| (i, *s)))
        .collect();
    hits.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let best = hits.first().map_or(0.0, |h| h.1);
    let evidence = hits
        .iter()
        .take_while(|h| h.1 >= sims.threshold)
        .take(3)
        .filter_map(|&(i, score)| {
            let turn = t.turns.get(i)?;
            Some(GoalEvidence {
                turn: i,
                speaker: turn.speaker.clone(),
                start: turn.start,
                score,
                text: text::excerpt(&turn.text, 240),
            })
        })
        .collect::<Vec<_>>();
    GoalCoverage {
        id: g.id.clone(),
        text: g.text.clone(),
        covered: !evidence.is_empty(),
        method: sims.method.to_owned(),
        best,
        evidence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;
    use crate::transcript::Format;

    #[test]
    fn analysis_without_model_says_so_and_covers_goals_by_words() {
        let t = parse(
            "[00:00:00] Lee: What would you like to focus on today?\n\
             [00:00:05] Sam: My sleep. I keep waking at night and lie awake for hours.\n\
             [00:00:12] Lee: Shall we look at your sleep diary together?\n",
            Format::Txt,
        )
        .unwrap();
        let c = Context {
            clinicians: vec!["Lee".into()],
            goals: vec![
                GoalText {
                    id: "g1".into(),
                    text: "Sleep through the night without waking".into(),
                },
                GoalText {
                    id: "g2".into(),
                    text: "Go back to work part-time".into(),
                },
            ],
            ..Context::default()
        };
        let a = Analyzer::without_model().analyze(&t, &c);
        assert!(!a.session.semantic);
        assert!(a
            .session
            .semantic_note
            .as_deref()
            .unwrap_or("")
            .contains("off"));
        assert_eq!(a.turns[1].role, Some(Role::Client));
        assert_eq!(a.turns[1].bond, None);
        // g1 content words: sleep, night, waking → "sleep", "night", "wak"; turn 1 has all three,
        // turn 2 only "sleep" (1/3 < 1/2).
        assert!(a.goals[0].covered);
        assert_eq!(a.goals[0].evidence[0].turn, 1);
        assert_eq!(a.goals[0].method, "shared_words");
        assert!(!a.goals[1].covered);
        assert_eq!(a.session.question_share, Some(1.0));
        // "What would you like" and "we … together" both invite.
        assert_eq!(a.session.collaborative_share, Some(1.0));
        assert!(a.notes.iter().any(|n| n.contains("start times only")));
    }

    #[test]
    fn estimates_have_a_normal_interval() {
        let e = Estimate::of(&[1.0, 2.0, 3.0]).unwrap();
        assert_eq!(e.mean, 2.0);
        // sd = 1, se = 1/√3, half-width 1.96/√3 = 1.1316
        assert!((e.high - 2.0 - 1.96 / 3f64.sqrt()).abs() < 1e-12);
        assert_eq!(e.n, 3);
        assert!(Estimate::of(&[1.0]).is_none());
    }
}
