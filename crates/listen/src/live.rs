//! The live co-pilot's state: turns arrive one by one (from speech-to-text or a note-taker) and
//! each is answered with the updated picture. Only the new words are embedded (earlier sentences
//! come from the embedder's cache); prototypes and goal statements are embedded once. After any
//! sequence of pieces, [`LiveSession::analysis`] equals the batch analysis of the same turns.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::analysis::{
    self, Analysis, Analyzer, GoalCoverage, GoalSims, SessionSummary, TurnReport,
};
use crate::context::Context;
use crate::features::{self, Silence, SpeakerStats};
use crate::markers::{self, Marker};
use crate::text;
use crate::transcript::{Transcript, Turn};

/// A turn as it arrives over the WebSocket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TurnIn {
    pub speaker: String,
    pub text: String,
    #[serde(default)]
    pub start: Option<f64>,
    #[serde(default)]
    pub end: Option<f64>,
}

/// A turn the live session refuses, with the field named.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TurnError {
    #[error("speaker: expected a name, found nothing")]
    NoSpeaker,
    #[error("speaker: expected at most 100 characters")]
    SpeakerTooLong,
    #[error("text: expected at least one word, found nothing")]
    NoText,
    #[error("text: expected at most 20000 characters")]
    TextTooLong,
    #[error("{0}: expected seconds ≥ 0")]
    BadTime(&'static str),
    #[error("end: expected not before start")]
    EndBeforeStart,
}

/// Silence as the co-pilot shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SilenceInfo {
    /// The gap before this turn (seconds; `None` without times).
    pub gap_before: Option<f64>,
    /// When the last turn ended: the page runs its silence timer from here.
    pub last_end: Option<f64>,
    /// The longest silence so far.
    pub longest: Option<Silence>,
}

/// The answer to each live turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LivePicture {
    /// The turn as it stands (a turn of the same speaker as the last one extends it).
    pub turn: TurnReport,
    /// Whether this turn extended the previous one.
    pub merged: bool,
    pub speakers: Vec<SpeakerStats>,
    /// The clinician's share of words so far.
    pub clinician_talk_share: Option<f64>,
    pub silence: SilenceInfo,
    /// Markers that appeared with this turn, each with its one-line suggestion.
    pub new_markers: Vec<Marker>,
    pub markers_so_far: usize,
    /// Every goal and task with whether it has been talked about so far.
    pub goals: Vec<GoalCoverage>,
    pub tasks: Vec<GoalCoverage>,
    pub session: SessionSummary,
}

/// One live session.
pub struct LiveSession {
    analyzer: Arc<Analyzer>,
    context: Context,
    transcript: Transcript,
    /// Per turn: the best bond/goal/task evidence of its sentences so far.
    evidence: Vec<Option<[f64; 3]>>,
    goal_rows: Vec<Vec<f64>>,
    goal_embs: Option<Vec<Vec<f32>>>,
    goal_words: Vec<Vec<String>>,
    markers: Vec<Marker>,
    semantic_failure: Option<String>,
}

impl LiveSession {
    /// Starts a session. With the model, the goal and task statements are embedded now.
    pub fn new(analyzer: Arc<Analyzer>, context: Context) -> LiveSession {
        let goal_words = analysis::goal_word_lists(&context);
        let mut semantic_failure = None;
        let goal_embs = analyzer.engine().and_then(|e| {
            let texts: Vec<&str> = context
                .goals
                .iter()
                .chain(&context.tasks)
                .map(|g| g.text.as_str())
                .collect();
            match e.embed(&texts) {
                Ok(v) => Some(v),
                Err(err) => {
                    semantic_failure = Some(format!("semantic part failed: {err}"));
                    None
                }
            }
        });
        LiveSession {
            analyzer,
            context,
            transcript: Transcript {
                turns: Vec::new(),
                timed: true,
            },
            evidence: Vec::new(),
            goal_rows: Vec::new(),
            goal_embs,
            goal_words,
            markers: Vec::new(),
            semantic_failure,
        }
    }

    pub fn transcript(&self) -> &Transcript {
        &self.transcript
    }

    /// Adds a turn and answers with the updated picture.
    pub fn push(&mut self, turn: TurnIn) -> Result<LivePicture, TurnError> {
        let turn = validate(turn)?;
        let merged = self
            .transcript
            .turns
            .last()
            .is_some_and(|l| l.speaker == turn.speaker);
        let gap_before = self
            .transcript
            .turns
            .last()
            .and_then(|l| Some(turn.start? - l.end.or(l.start)?));
        if merged {
            if let Some(last) = self.transcript.turns.last_mut() {
                last.text.push(' ');
                last.text.push_str(&turn.text);
                if turn.end.is_some() {
                    last.end = turn.end;
                }
            }
        } else {
            self.transcript.turns.push(turn);
            self.evidence.push(None);
            self.goal_rows.push(vec![
                0.0;
                self.context.goals.len() + self.context.tasks.len()
            ]);
        }
        let i = self.transcript.turns.len() - 1;
        self.transcript.timed = self.transcript.turns.iter().all(|t| t.start.is_some());
        self.context.assign_roles(&mut self.transcript);
        let role = self.transcript.turns[i].role;

        // Semantic: the turn's sentences as they now stand, scored from scratch, so that a turn
        // that arrives in pieces ends up exactly as the batch analysis sees it (a short piece
        // joins its neighbour sentence, as `text::sentences` does for the whole turn).
        // Sentences embedded with an earlier piece come from the embedder's cache: only new
        // words are computed.
        let mut goal_row: Option<Vec<f64>> = None;
        if let (Some(engine), None) = (self.analyzer.engine(), &self.semantic_failure) {
            let whole = &self.transcript.turns[i].text;
            let units = text::sentences(whole);
            match engine.embed(&units) {
                Ok(embs) => {
                    let goal_embs = self.goal_embs.as_deref().unwrap_or(&[]);
                    let s = analysis::score_units(engine, role, whole, &units, &embs, goal_embs);
                    self.evidence[i] = s.evidence;
                    if self.goal_embs.is_some() {
                        goal_row = Some(s.goals);
                    }
                }
                Err(err) => self.semantic_failure = Some(format!("semantic part failed: {err}")),
            }
        }
        self.goal_rows[i] = match goal_row {
            Some(r) => r,
            None => analysis::lexical_goal_row(&self.transcript.turns[i].text, &self.goal_words),
        };

        // Markers on the turn as it now stands (replacing what an earlier piece of it showed:
        // "Busy." alone is a minimal answer, not once the client goes on); only subtypes this
        // turn did not have yet are news.
        let now = markers::markers_at(&self.transcript, i);
        let mut new_markers = Vec::new();
        for m in &now {
            let known = self
                .markers
                .iter()
                .any(|k| k.turn == i && k.subtype == m.subtype);
            if !known {
                new_markers.push(m.clone());
            }
        }
        self.markers.retain(|k| k.turn != i);
        self.markers.extend(now);

        let a = self.analysis();
        let turn = a
            .turns
            .get(i)
            .cloned()
            .unwrap_or_else(|| unreachable_turn(i));
        let longest = features::longest(features::all_silences(&self.transcript))
            .into_iter()
            .next();
        Ok(LivePicture {
            turn,
            merged,
            clinician_talk_share: a.session.clinician_talk_share,
            speakers: a.speakers,
            silence: SilenceInfo {
                gap_before,
                last_end: self.transcript.turns.last().and_then(|l| l.end.or(l.start)),
                longest,
            },
            new_markers,
            markers_so_far: self.markers.len(),
            goals: a.goals,
            tasks: a.tasks,
            session: a.session,
        })
    }

    /// The analysis of everything so far, from what is already computed (nothing re-embedded).
    pub fn analysis(&self) -> Analysis {
        let scores = self.evidence.clone();
        let semantic_goals = self.goal_embs.is_some();
        let sims = GoalSims {
            rows: self.goal_rows.clone(),
            threshold: if semantic_goals {
                analysis::GOAL_SIMILARITY
            } else {
                analysis::GOAL_WORD_OVERLAP
            },
            method: if semantic_goals {
                "semantic"
            } else {
                "shared_words"
            },
        };
        analysis::build(
            &self.transcript,
            &self.context,
            &scores,
            self.markers.clone(),
            &sims,
            self.analyzer
                .semantic_summary(self.semantic_failure.clone()),
            Vec::new(),
        )
    }
}

/// `analysis()` always has a report for every turn; this keeps the lookup panic-free.
fn unreachable_turn(i: usize) -> TurnReport {
    TurnReport {
        index: i,
        speaker: String::new(),
        role: None,
        start: None,
        end: None,
        text: String::new(),
        words: 0,
        question: false,
        markers: Vec::new(),
        bond: None,
        goal: None,
        task: None,
    }
}

fn validate(t: TurnIn) -> Result<Turn, TurnError> {
    let speaker = t.speaker.trim();
    if speaker.is_empty() {
        return Err(TurnError::NoSpeaker);
    }
    if speaker.chars().count() > 100 {
        return Err(TurnError::SpeakerTooLong);
    }
    let text = t.text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        return Err(TurnError::NoText);
    }
    if text.chars().count() > 20_000 {
        return Err(TurnError::TextTooLong);
    }
    for (name, v) in [("start", t.start), ("end", t.end)] {
        if v.is_some_and(|v| !v.is_finite() || v < 0.0) {
            return Err(TurnError::BadTime(name));
        }
    }
    if let (Some(s), Some(e)) = (t.start, t.end) {
        if e < s {
            return Err(TurnError::EndBeforeStart);
        }
    }
    Ok(Turn {
        speaker: speaker.to_owned(),
        role: None,
        start: t.start,
        end: t.end,
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::GoalText;

    fn tin(s: &str, t: &str, a: f64, b: f64) -> TurnIn {
        TurnIn {
            speaker: s.into(),
            text: t.into(),
            start: Some(a),
            end: Some(b),
        }
    }

    #[test]
    fn live_turns_update_balance_silence_markers_and_goals() {
        let ctx = Context {
            clinicians: vec!["Lee".into()],
            clients: vec!["Sam".into()],
            goals: vec![GoalText {
                id: "g1".into(),
                text: "Sleep through the night".into(),
            }],
            ..Context::default()
        };
        let mut live = LiveSession::new(Arc::new(Analyzer::without_model()), ctx);
        let p = live
            .push(tin("Lee", "What has been hardest this week?", 0.0, 2.0))
            .unwrap();
        assert_eq!(p.clinician_talk_share, Some(1.0));
        assert!(p.new_markers.is_empty());
        assert!(!p.goals[0].covered);

        let p = live.push(tin("Sam", "Nothing.", 9.0, 9.5)).unwrap();
        let kinds: Vec<&str> = p.new_markers.iter().map(|m| m.subtype.as_str()).collect();
        assert_eq!(kinds, ["minimal_response", "long_silence_after_challenge"]);
        assert_eq!(p.silence.gap_before, Some(7.0));
        assert_eq!(p.silence.longest.as_ref().map(|s| s.seconds), Some(7.0));
        // Lee 6 words, Sam 1.
        assert_eq!(p.clinician_talk_share, Some(6.0 / 7.0));

        // Sam goes on: the turn is extended, the old markers are not news again.
        let p = live
            .push(tin(
                "Sam",
                "I lie awake all night and cannot sleep.",
                10.0,
                13.0,
            ))
            .unwrap();
        assert!(p.merged);
        assert!(p.new_markers.is_empty());
        // "Nothing." followed by a full sentence is no longer a minimal answer; the silence
        // before it stays.
        assert_eq!(p.markers_so_far, 1);
        let now: Vec<String> = live
            .analysis()
            .markers
            .into_iter()
            .map(|m| m.subtype)
            .collect();
        assert_eq!(now, ["long_silence_after_challenge"]);
        assert!(p.goals[0].covered);
        assert_eq!(p.silence.last_end, Some(13.0));
        assert_eq!(live.transcript().turns.len(), 2);
    }

    #[test]
    fn bad_live_turns_are_refused_with_the_field_named() {
        let mut live = LiveSession::new(Arc::new(Analyzer::without_model()), Context::default());
        assert_eq!(
            live.push(tin(" ", "hi", 0.0, 1.0)),
            Err(TurnError::NoSpeaker)
        );
        assert_eq!(live.push(tin("A", "  ", 0.0, 1.0)), Err(TurnError::NoText));
        assert_eq!(
            live.push(tin("A", "hi", 2.0, 1.0)),
            Err(TurnError::EndBeforeStart)
        );
        assert_eq!(
            live.push(tin("A", "hi", f64::NAN, 1.0)),
            Err(TurnError::BadTime("start"))
        );
        assert!(live.push(tin("A", "hi", 0.0, 1.0)).is_ok());
    }
}
