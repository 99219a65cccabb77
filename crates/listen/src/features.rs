//! Conversation features: who talks how much, silences, response latencies, questions, and the
//! clinician's directive versus collaborative language.

use serde::{Deserialize, Serialize};

use crate::text;
use crate::transcript::{Role, Transcript, Turn};

/// A gap counts as a silence from this many seconds. One second is the "standard maximum"
/// silence in conversation (Jefferson, 1989, "Preliminary notes on a possible metric which
/// provides for a 'standard maximum' silence of approximately one second in conversation").
pub const MIN_SILENCE_SECONDS: f64 = 1.0;
/// How many of the longest silences are listed.
pub const LISTED_SILENCES: usize = 10;

/// One speaker's share of the session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeakerStats {
    pub speaker: String,
    pub role: Option<Role>,
    pub words: usize,
    /// Share of all words, 0..=1.
    pub talk_share: f64,
    /// Seconds of talk (turn end − start, or up to the next turn's start when there is no end).
    pub seconds: Option<f64>,
    /// Share of all talk time, 0..=1; `None` without times.
    pub time_share: Option<f64>,
    pub turns: usize,
    pub mean_turn_words: f64,
}

/// A gap between two turns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Silence {
    pub start: f64,
    pub end: f64,
    pub seconds: f64,
    /// Who spoke before the silence.
    pub after_speaker: String,
    /// Who broke it.
    pub before_speaker: String,
    /// Index of the turn before the silence.
    pub after_turn: usize,
}

/// How long the client takes to answer a clinician's question.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LatencyStats {
    /// Clinician questions directly answered by a client turn, with times.
    pub count: usize,
    pub mean: Option<f64>,
    pub median: Option<f64>,
    pub max: Option<f64>,
}

/// The clinician's language.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Language {
    pub clinician_turns: usize,
    pub question_turns: usize,
    pub directive_turns: usize,
    pub collaborative_turns: usize,
}

impl Language {
    fn share(&self, n: usize) -> Option<f64> {
        (self.clinician_turns > 0).then(|| n as f64 / self.clinician_turns as f64)
    }
    /// Share of clinician turns that ask.
    pub fn question_share(&self) -> Option<f64> {
        self.share(self.question_turns)
    }
    /// Share of clinician turns with directive language.
    pub fn directive_share(&self) -> Option<f64> {
        self.share(self.directive_turns)
    }
    /// Share of clinician turns with collaborative language.
    pub fn collaborative_share(&self) -> Option<f64> {
        self.share(self.collaborative_turns)
    }
}

/// Directive phrases: telling the client what to do, the "persuade"/"confront" side of the
/// Motivational Interviewing Treatment Integrity code (MITI 4.2, Moyers et al., 2016).
pub(crate) const DIRECTIVE: &[&str] = &[
    "you should",
    "you shouldn't",
    "you need to",
    "you have to",
    "you must",
    "you've got to",
    "you ought to",
    "i want you to",
    "you'd better",
    "you had better",
    "make sure you",
];

/// Collaborative phrases: inclusive "we", invitations, asking permission, negotiating — the
/// "seeking collaboration" and "emphasising autonomy" side of MITI 4.2.
pub(crate) const COLLABORATIVE: &[&str] = &[
    "we",
    "us",
    "our",
    "let's",
    "together",
    "what do you think",
    "how does that sound",
    "would it be okay",
    "would it be ok",
    "is it okay if",
    "is it ok if",
    "would you like",
    "what would you like",
    "how would you feel",
    "it's up to you",
    "your choice",
    "shall we",
    "does that fit",
];

pub(crate) fn is_directive(text: &str) -> bool {
    text::find_phrase(&text::normalised(text), DIRECTIVE).is_some()
}

pub(crate) fn is_collaborative(text: &str) -> bool {
    text::find_phrase(&text::normalised(text), COLLABORATIVE).is_some()
}

/// Seconds a turn holds the floor: its own end − start, else up to the next turn's start.
pub(crate) fn turn_seconds(turn: &Turn, next: Option<&Turn>) -> Option<f64> {
    let start = turn.start?;
    let end = turn.end.or_else(|| next.and_then(|n| n.start))?;
    Some((end - start).max(0.0))
}

/// Per speaker, in order of first appearance.
pub(crate) fn speakers(t: &Transcript) -> Vec<SpeakerStats> {
    let mut out: Vec<SpeakerStats> = Vec::new();
    let mut total_words = 0usize;
    let mut total_secs = 0f64;
    let mut any_time = false;
    for (i, turn) in t.turns.iter().enumerate() {
        let words = text::word_count(&turn.text);
        total_words += words;
        let secs = turn_seconds(turn, t.turns.get(i + 1));
        let idx = match out.iter().position(|s| s.speaker == turn.speaker) {
            Some(i) => i,
            None => {
                out.push(SpeakerStats {
                    speaker: turn.speaker.clone(),
                    role: turn.role,
                    words: 0,
                    talk_share: 0.0,
                    seconds: None,
                    time_share: None,
                    turns: 0,
                    mean_turn_words: 0.0,
                });
                out.len() - 1
            }
        };
        let s = &mut out[idx];
        s.words += words;
        s.turns += 1;
        if let Some(secs) = secs {
            any_time = true;
            total_secs += secs;
            s.seconds = Some(s.seconds.unwrap_or(0.0) + secs);
        }
    }
    for s in &mut out {
        s.talk_share = if total_words > 0 {
            s.words as f64 / total_words as f64
        } else {
            0.0
        };
        s.mean_turn_words = s.words as f64 / s.turns.max(1) as f64;
        if any_time && total_secs > 0.0 {
            s.time_share = Some(s.seconds.unwrap_or(0.0) / total_secs);
        }
    }
    out
}

/// Every gap of at least [`MIN_SILENCE_SECONDS`] between the end of one turn and the start of
/// the next, in time order.
pub(crate) fn all_silences(t: &Transcript) -> Vec<Silence> {
    let mut out = Vec::new();
    for (i, pair) in t.turns.windows(2).enumerate() {
        if let Some(s) = gap(&pair[0], &pair[1], i) {
            out.push(s);
        }
    }
    out
}

pub(crate) fn gap(before: &Turn, after: &Turn, before_index: usize) -> Option<Silence> {
    let (end, start) = (before.end?, after.start?);
    let seconds = start - end;
    (seconds >= MIN_SILENCE_SECONDS).then(|| Silence {
        start: end,
        end: start,
        seconds,
        after_speaker: before.speaker.clone(),
        before_speaker: after.speaker.clone(),
        after_turn: before_index,
    })
}

/// The longest silences, longest first (ties: earlier first), at most [`LISTED_SILENCES`].
pub(crate) fn longest(mut all: Vec<Silence>) -> Vec<Silence> {
    all.sort_by(|a, b| {
        b.seconds
            .total_cmp(&a.seconds)
            .then(a.start.total_cmp(&b.start))
    });
    all.truncate(LISTED_SILENCES);
    all
}

/// Client response latency after clinician questions: start of the client's turn − end of the
/// question (overlap counts as 0).
pub(crate) fn latencies(t: &Transcript) -> LatencyStats {
    let mut xs: Vec<f64> = t
        .turns
        .windows(2)
        .filter(|p| {
            p[0].role == Some(Role::Clinician)
                && p[1].role.is_some_and(Role::is_client)
                && text::is_question(&p[0].text)
        })
        .filter_map(|p| Some((p[1].start? - p[0].end?).max(0.0)))
        .collect();
    if xs.is_empty() {
        return LatencyStats::default();
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    let median = if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    };
    LatencyStats {
        count: n,
        mean: Some(xs.iter().sum::<f64>() / n as f64),
        median: Some(median),
        max: xs.last().copied(),
    }
}

pub(crate) fn language(t: &Transcript) -> Language {
    let mut l = Language::default();
    for turn in t.turns.iter().filter(|t| t.role == Some(Role::Clinician)) {
        l.clinician_turns += 1;
        l.question_turns += usize::from(text::is_question(&turn.text));
        l.directive_turns += usize::from(is_directive(&turn.text));
        l.collaborative_turns += usize::from(is_collaborative(&turn.text));
    }
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(s: &str, r: Role, a: f64, b: f64, t: &str) -> Turn {
        Turn {
            speaker: s.into(),
            role: Some(r),
            start: Some(a),
            end: Some(b),
            text: t.into(),
        }
    }

    /// Hand-counted: Lee 4+6 = 10 words over 2 turns (3 s + 4 s), Sam 2+5 = 7 words over
    /// 2 turns (1 s + 5 s); 17 words, 13 s.
    fn session() -> Transcript {
        Transcript {
            turns: vec![
                turn("Lee", Role::Clinician, 0.0, 3.0, "How was your week?"),
                turn("Sam", Role::Client, 4.5, 5.5, "Not great."),
                turn(
                    "Lee",
                    Role::Clinician,
                    6.0,
                    10.0,
                    "You should try the breathing exercise.",
                ),
                turn("Sam", Role::Client, 16.0, 21.0, "Maybe we could try it."),
            ],
            timed: true,
        }
    }

    #[test]
    fn talk_shares_by_words_and_time_are_hand_counted() {
        let s = speakers(&session());
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].words, s[0].turns), (10, 2));
        assert_eq!((s[1].words, s[1].turns), (7, 2));
        assert!((s[0].talk_share - 10.0 / 17.0).abs() < 1e-12);
        assert_eq!(s[0].seconds, Some(7.0));
        assert!((s[0].time_share.unwrap_or(0.0) - 7.0 / 13.0).abs() < 1e-12);
        assert!((s[1].mean_turn_words - 3.5).abs() < 1e-12);
    }

    #[test]
    fn silences_list_gaps_of_a_second_or_more_longest_first() {
        let all = all_silences(&session());
        // Gaps: 1.5 s (Lee→Sam), 0.5 s (not a silence), 6 s (Lee→Sam).
        assert_eq!(all.len(), 2);
        let l = longest(all);
        assert_eq!(l[0].seconds, 6.0);
        assert_eq!(l[0].after_speaker, "Lee");
        assert_eq!(l[0].before_speaker, "Sam");
        assert_eq!((l[0].start, l[0].end), (10.0, 16.0));
        assert_eq!(l[1].seconds, 1.5);
    }

    #[test]
    fn latency_counts_only_answers_to_questions() {
        let l = latencies(&session());
        // Only turn 0 asks; Sam answers 1.5 s after it ends.
        assert_eq!(l.count, 1);
        assert_eq!(l.mean, Some(1.5));
    }

    #[test]
    fn question_directive_and_collaborative_turns_of_the_clinician() {
        let l = language(&session());
        assert_eq!(l.clinician_turns, 2);
        assert_eq!(l.question_turns, 1);
        assert_eq!(l.directive_turns, 1);
        // "we" was said by the client, which does not count.
        assert_eq!(l.collaborative_turns, 0);
        assert_eq!(l.directive_share(), Some(0.5));
    }

    #[test]
    fn untimed_transcripts_have_no_time_share_or_silences() {
        let mut t = session();
        for x in &mut t.turns {
            x.start = None;
            x.end = None;
        }
        assert_eq!(speakers(&t)[0].time_share, None);
        assert!(all_silences(&t).is_empty());
        assert_eq!(latencies(&t).count, 0);
    }
}
