//! Rupture markers of the Rupture Resolution Rating System (3RS; Eubanks, Muran & Safran, 2015):
//! withdrawal (moving away from the clinician or the work) and confrontation (moving against).
//!
//! Markers here are found by rule on client turns (phrases, answer length, silences) and carry
//! their evidence: the turn's text, time, speaker and the reason. They are prompts to look, not
//! findings: the phrase lists are Bordin's own and miss what is said in other words.

use serde::{Deserialize, Serialize};

use crate::text::{self, excerpt, find_phrase};
use crate::transcript::{Role, Transcript};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkerKind {
    Withdrawal,
    Confrontation,
}

impl MarkerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MarkerKind::Withdrawal => "withdrawal",
            MarkerKind::Confrontation => "confrontation",
        }
    }
}

/// One flagged turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Marker {
    pub kind: MarkerKind,
    /// The 3RS subtype, e.g. `minimal_response`, `complaint_about_progress`.
    pub subtype: String,
    /// Index of the flagged turn.
    pub turn: usize,
    pub speaker: String,
    pub start: Option<f64>,
    /// The turn's words (shortened to 240 characters).
    pub evidence: String,
    /// Why it was flagged, in words.
    pub why: String,
    /// A one-line repair suggestion for the clinician (3RS resolution strategies).
    pub suggestion: String,
}

/// A client pause of this many seconds after a challenging clinician turn is flagged (Bordin's
/// choice: five times the one-second conversational standard maximum, Jefferson 1989).
pub const SILENCE_AFTER_CHALLENGE_SECONDS: f64 = 5.0;
/// Answers of at most this many words to an open question count as minimal.
pub const MINIMAL_WORDS: usize = 3;

struct PhraseRule {
    kind: MarkerKind,
    subtype: &'static str,
    phrases: &'static [&'static str],
    what: &'static str,
}

/// Phrase rules, written for Bordin after the 3RS marker descriptions.
const PHRASE_RULES: &[PhraseRule] = &[
    PhraseRule {
        kind: MarkerKind::Withdrawal,
        subtype: "denial",
        what: "denies a concern",
        phrases: &[
            "it doesn't bother me",
            "it doesn't matter",
            "it's not a big deal",
            "not a big deal",
            "nothing's wrong",
            "nothing is wrong",
            "i'm fine really",
            "i'm totally fine",
            "i don't have a problem",
            "it's no problem",
        ],
    },
    PhraseRule {
        kind: MarkerKind::Withdrawal,
        subtype: "deferential",
        what: "defers to the clinician or appeases",
        phrases: &[
            "whatever you think",
            "you're the expert",
            "you know best",
            "if you say so",
            "whatever you say",
            "i'll do whatever you",
            "you're probably right",
            "i guess you're right",
            "sorry i'm wasting your time",
            "sorry for wasting your time",
        ],
    },
    PhraseRule {
        kind: MarkerKind::Withdrawal,
        subtype: "topic_shift",
        what: "moves away from the topic",
        phrases: &[
            "by the way",
            "on another note",
            "speaking of which",
            "changing the subject",
            "can we talk about something else",
            "let's talk about something else",
            "i'd rather not talk about",
            "i don't want to talk about",
            "never mind that",
        ],
    },
    PhraseRule {
        kind: MarkerKind::Withdrawal,
        subtype: "abstract_communication",
        what: "talks in abstractions rather than about themself (intellectualising)",
        phrases: &[
            "people in general",
            "generally speaking",
            "in theory",
            "one tends to",
            "one could argue",
            "it's just human nature",
            "human nature",
            "from a psychological point of view",
            "from a psychological perspective",
            "society in general",
            "theoretically",
        ],
    },
    PhraseRule {
        kind: MarkerKind::Withdrawal,
        subtype: "self_criticism_hopelessness",
        what: "self-criticism or hopelessness",
        phrases: &[
            "i'm useless",
            "i'm hopeless",
            "it's hopeless",
            "what's the point",
            "nothing will ever change",
            "i always mess",
            "i'm a failure",
            "i can't do anything right",
            "i'm just broken",
        ],
    },
    PhraseRule {
        kind: MarkerKind::Confrontation,
        subtype: "complaint_about_clinician",
        what: "complains about the clinician",
        phrases: &[
            "you don't understand",
            "you don't get it",
            "you're not listening",
            "you aren't listening",
            "you never listen",
            "you don't care",
            "you just sit there",
            "you keep interrupting",
            "you're not helping",
            "you are not helping",
            "you don't know what it's like",
        ],
    },
    PhraseRule {
        kind: MarkerKind::Confrontation,
        subtype: "rejecting_intervention",
        what: "rejects the clinician's view or suggestion",
        phrases: &[
            "that's not it",
            "that's not true",
            "that's wrong",
            "i disagree",
            "i don't agree",
            "that won't work",
            "that's not going to work",
            "that's not what i meant",
            "that's not what i said",
            "i've tried that",
            "i already tried that",
            "that doesn't make sense",
            "no that's not",
        ],
    },
    PhraseRule {
        kind: MarkerKind::Confrontation,
        subtype: "complaint_about_activities",
        what: "complains about the activities of therapy",
        phrases: &[
            "this exercise is",
            "these exercises are",
            "the homework is pointless",
            "this homework",
            "these worksheets",
            "this is pointless",
            "this is stupid",
            "i don't see the point",
            "what's the point of this",
            "why do we keep talking about",
            "why do we always",
            "all this talking",
        ],
    },
    PhraseRule {
        kind: MarkerKind::Confrontation,
        subtype: "complaint_about_parameters",
        what: "complains about the parameters of therapy (time, schedule, cost)",
        phrases: &[
            "sessions are too short",
            "session is too short",
            "too expensive",
            "can't afford",
            "every week is too",
            "this time doesn't work",
            "the schedule",
            "you were late",
            "you cancelled",
            "only fifty minutes",
            "only 50 minutes",
        ],
    },
    PhraseRule {
        kind: MarkerKind::Confrontation,
        subtype: "complaint_about_progress",
        what: "complains about progress",
        phrases: &[
            "not getting better",
            "not getting any better",
            "nothing has changed",
            "nothing's changed",
            "no progress",
            "this isn't working",
            "this is not working",
            "it's not working",
            "waste of time",
            "not getting anywhere",
            "still feel the same",
            "no better than",
        ],
    },
    PhraseRule {
        kind: MarkerKind::Confrontation,
        subtype: "defending_self",
        what: "defends themself against the clinician",
        phrases: &[
            "it's not my fault",
            "i'm doing my best",
            "i did try",
            "i'm not lazy",
            "don't blame me",
            "are you saying it's my fault",
        ],
    },
    PhraseRule {
        kind: MarkerKind::Confrontation,
        subtype: "pressure_control",
        what: "tries to control or pressure the clinician",
        phrases: &[
            "just tell me what to do",
            "tell me what to do",
            "i want answers",
            "you need to fix",
            "give me something",
            "you have to tell me",
            "i want you to tell me",
            "just fix it",
        ],
    },
];

/// Words that make up minimal answers.
const MINIMAL_ANSWERS: &[&str] = &[
    "fine",
    "ok",
    "okay",
    "yeah",
    "yes",
    "no",
    "sure",
    "whatever",
    "dunno",
    "nothing",
    "maybe",
    "i don't know",
    "i guess",
    "not really",
    "don't know",
    "i suppose",
    "mm",
    "hmm",
    "good",
];

/// Clinician turns that challenge (invite the client to look at something).
const CHALLENGES: &[&str] = &[
    "i notice",
    "i wonder",
    "it seems",
    "you seem",
    "i'm curious",
    "what about",
    "but you said",
    "how come",
    "what stops you",
    "what gets in the way",
    "is it possible that",
    "could it be",
    "i'm wondering",
];

/// The one-line repair suggestion for a subtype (3RS resolution strategies; Eubanks, Muran &
/// Safran 2015; wording Bordin's).
pub fn suggestion(subtype: &str) -> &'static str {
    match subtype {
        "minimal_response" => "Slow down and invite more: ask what it is like to be asked this right now.",
        "denial" => "Gently name what you notice and ask if there is more to it, without pushing.",
        "deferential" => "Invite their own view: \"I'd really like to hear what you think, even if it differs from mine.\"",
        "topic_shift" => "Name the shift kindly and ask whether the earlier topic felt hard to stay with.",
        "abstract_communication" => "Bring it back to their own experience: \"What is that like for you?\"",
        "self_criticism_hopelessness" => "Validate the feeling and explore it before moving on to tasks.",
        "long_silence_after_challenge" => "Check in on the silence: ask how what you just said landed.",
        "complaint_about_clinician" => "Invite them to say more about it and acknowledge your own part (metacommunication).",
        "rejecting_intervention" => "Clarify the misunderstanding and ask what would fit better for them.",
        "complaint_about_activities" => "Illustrate the rationale, or agree together to change the task.",
        "complaint_about_parameters" => "Take the concern seriously and negotiate the arrangement together.",
        "complaint_about_progress" => "Acknowledge the frustration and review the goals together.",
        "defending_self" => "Validate their defensive stance and acknowledge how your words may have landed.",
        "pressure_control" => "Acknowledge the wish for answers and explore together what would help now.",
        _ => "Check in with the client about how the session feels.",
    }
}

/// Markers on turn `i` (only client turns are flagged), looking back at the turn before it.
pub(crate) fn markers_at(t: &Transcript, i: usize) -> Vec<Marker> {
    let Some(turn) = t.turns.get(i) else {
        return Vec::new();
    };
    if !turn.role.is_some_and(Role::is_client) {
        return Vec::new();
    }
    let prev = i
        .checked_sub(1)
        .and_then(|p| t.turns.get(p))
        .filter(|p| p.role == Some(Role::Clinician));
    let norm = text::normalised(&turn.text);
    let mut out = Vec::new();
    let mut add = |kind: MarkerKind, subtype: &str, why: String| {
        out.push(Marker {
            kind,
            subtype: subtype.to_owned(),
            turn: i,
            speaker: turn.speaker.clone(),
            start: turn.start,
            evidence: excerpt(&turn.text, 240),
            why,
            suggestion: suggestion(subtype).to_owned(),
        })
    };

    if let Some(p) = prev {
        let n = text::word_count(&turn.text);
        if n <= MINIMAL_WORDS && text::is_open_question(&p.text) {
            add(
                MarkerKind::Withdrawal,
                "minimal_response",
                format!(
                    "a {n}-word answer to an open question (\"{}\")",
                    excerpt(&p.text, 80)
                ),
            );
        } else if n <= MINIMAL_WORDS + 1
            && text::is_question(&p.text)
            && find_phrase(&norm, MINIMAL_ANSWERS).is_some()
            && text::words(&turn.text)
                .iter()
                .all(|w| MINIMAL_ANSWERS.iter().any(|m| m.split(' ').any(|x| x == w)) || w == "i")
        {
            add(
                MarkerKind::Withdrawal,
                "minimal_response",
                format!(
                    "only \"{}\" in answer to a question",
                    excerpt(&turn.text, 40)
                ),
            );
        }
        if let (Some(end), Some(start)) = (p.end, turn.start) {
            let gap = start - end;
            let pn = text::normalised(&p.text);
            if gap >= SILENCE_AFTER_CHALLENGE_SECONDS
                && (find_phrase(&pn, CHALLENGES).is_some() || text::is_open_question(&p.text))
            {
                add(
                    MarkerKind::Withdrawal,
                    "long_silence_after_challenge",
                    format!("{gap:.0} s of silence after \"{}\"", excerpt(&p.text, 80)),
                );
            }
        }
    }
    for rule in PHRASE_RULES {
        let found = find_phrase(&norm, rule.phrases).or_else(|| {
            // "Anyway" shifts the topic when it opens the turn, not when it closes a sentence.
            (rule.subtype == "topic_shift"
                && (norm.starts_with(" anyway ") || norm.starts_with(" so anyway ")))
            .then_some("anyway")
        });
        if let Some(phrase) = found {
            add(
                rule.kind,
                rule.subtype,
                format!("{}: \"{phrase}\"", rule.what),
            );
        }
    }
    out
}

/// Every marker of a transcript, in turn order.
pub(crate) fn markers(t: &Transcript) -> Vec<Marker> {
    (0..t.turns.len()).flat_map(|i| markers_at(t, i)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::Turn;

    fn turn(r: Role, a: f64, b: f64, t: &str) -> Turn {
        Turn {
            speaker: if r == Role::Clinician { "Lee" } else { "Sam" }.into(),
            role: Some(r),
            start: Some(a),
            end: Some(b),
            text: t.into(),
        }
    }

    fn subtypes(t: &Transcript) -> Vec<(usize, String)> {
        markers(t)
            .into_iter()
            .map(|m| (m.turn, m.subtype))
            .collect()
    }

    #[test]
    fn withdrawal_markers_on_a_written_session() {
        use Role::*;
        let t = Transcript {
            turns: vec![
                turn(
                    Clinician,
                    0.0,
                    3.0,
                    "What was the hardest part of the week for you?",
                ),
                turn(Client, 3.5, 4.0, "I don't know."),
                turn(
                    Clinician,
                    5.0,
                    9.0,
                    "I notice you go quiet when we talk about your father.",
                ),
                turn(
                    Client,
                    17.0,
                    20.0,
                    "Anyway, did you see the match on Saturday?",
                ),
                turn(Clinician, 21.0, 23.0, "How did it feel when he left?"),
                turn(
                    Client,
                    23.5,
                    30.0,
                    "Well, people in general find change hard, it's just human nature.",
                ),
                turn(Clinician, 31.0, 33.0, "Shall we try the worksheet?"),
                turn(Client, 33.5, 35.0, "Whatever you think is best."),
            ],
            timed: true,
        };
        let got = subtypes(&t);
        assert_eq!(
            got,
            vec![
                (1, "minimal_response".to_owned()),
                (3, "long_silence_after_challenge".to_owned()),
                (3, "topic_shift".to_owned()),
                (5, "abstract_communication".to_owned()),
                (7, "deferential".to_owned()),
            ]
        );
        let m = &markers(&t)[1];
        assert_eq!(m.kind, MarkerKind::Withdrawal);
        assert!(m.why.starts_with("8 s of silence"), "{}", m.why);
        assert_eq!(m.start, Some(17.0));
        assert!(!m.suggestion.is_empty());
    }

    #[test]
    fn confrontation_markers_and_no_markers_on_clinician_turns() {
        use Role::*;
        let t = Transcript {
            turns: vec![
                turn(
                    Clinician,
                    0.0,
                    3.0,
                    "You don't understand, you should just try it.",
                ),
                turn(
                    Client,
                    4.0,
                    8.0,
                    "Honestly, this isn't working and you're not listening.",
                ),
                turn(
                    Clinician,
                    9.0,
                    10.0,
                    "It sounds like the homework felt too much.",
                ),
                turn(
                    Client,
                    10.5,
                    12.0,
                    "No, that's not it. Just tell me what to do.",
                ),
                turn(Client, 12.5, 14.0, "These sessions are too short anyway."),
            ],
            timed: true,
        };
        let got = subtypes(&t);
        assert_eq!(
            got,
            vec![
                (1, "complaint_about_clinician".to_owned()),
                (1, "complaint_about_progress".to_owned()),
                (3, "rejecting_intervention".to_owned()),
                (3, "pressure_control".to_owned()),
                // "anyway" closing a sentence is not a topic shift.
                (4, "complaint_about_parameters".to_owned()),
            ]
        );
    }

    #[test]
    fn a_short_answer_to_a_closed_question_is_not_minimal() {
        use Role::*;
        let t = Transcript {
            turns: vec![
                turn(Clinician, 0.0, 1.0, "Did you sleep better?"),
                turn(Client, 1.2, 2.0, "Yes, much better."),
            ],
            timed: true,
        };
        assert!(markers(&t).is_empty());
    }
}
