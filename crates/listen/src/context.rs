//! What the case knows about a session: who is who, and what was agreed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::text;
use crate::transcript::{Role, Transcript};

/// A goal or task statement to look for in the session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoalText {
    pub id: String,
    pub text: String,
}

/// The case's side of the analysis. Every field may be empty.
///
/// As a file (`bordin analyze --goals FILE`) it is JSON of this shape:
/// `{"clinicians": ["Dr Lee"], "clients": ["Sam"], "roles": {"SPEAKER_00": "clinician"},
///   "goals": [{"id": "g1", "text": "Sleep through the night"}], "tasks": []}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Context {
    /// Names of the clinicians of the case (matched case-insensitively to speaker labels,
    /// whole name or any word of it).
    pub clinicians: Vec<String>,
    /// Names of the clients of the case; the first is `client`, others `other_client`.
    pub clients: Vec<String>,
    /// Explicit speaker label → role; wins over every other rule.
    pub roles: BTreeMap<String, Role>,
    pub goals: Vec<GoalText>,
    pub tasks: Vec<GoalText>,
}

/// Labels that name a role by themselves, as transcripts and note-takers write them.
const CLINICIAN_LABELS: &[&str] = &[
    "therapist",
    "clinician",
    "counsellor",
    "counselor",
    "coach",
    "psychologist",
    "interviewer",
    "t",
    "th",
];
const CLIENT_LABELS: &[&str] = &["client", "patient", "coachee", "c", "cl", "p"];

impl Context {
    /// The role of one speaker label by explicit map, case names and role words, or `None`.
    pub fn role_of(&self, speaker: &str) -> Option<Role> {
        if let Some(role) = self.roles.get(speaker) {
            return Some(*role);
        }
        let label = speaker.trim().to_lowercase();
        if self.clinicians.iter().any(|n| names_match(n, &label)) {
            return Some(Role::Clinician);
        }
        if let Some(i) = self.clients.iter().position(|n| names_match(n, &label)) {
            return Some(if i == 0 {
                Role::Client
            } else {
                Role::OtherClient
            });
        }
        let first = label.split_whitespace().next().unwrap_or("");
        if CLINICIAN_LABELS.contains(&first) || label.starts_with("dr ") || label.starts_with("dr.")
        {
            return Some(Role::Clinician);
        }
        if CLIENT_LABELS.contains(&first) {
            return Some(Role::Client);
        }
        None
    }

    /// Sets every turn's role. Speakers no rule names stay `None`, except in a two-speaker
    /// session where one role is known (the other gets the other role) or where neither is:
    /// then the speaker who asks the larger share of questions is taken as the clinician.
    /// Returns a note for each guess, so the user can correct it.
    pub fn assign_roles(&self, transcript: &mut Transcript) -> Vec<String> {
        let mut speakers: Vec<String> = Vec::new();
        for t in &transcript.turns {
            if !speakers.contains(&t.speaker) {
                speakers.push(t.speaker.clone());
            }
        }
        let mut roles: BTreeMap<String, Option<Role>> = speakers
            .iter()
            .map(|s| (s.clone(), self.role_of(s)))
            .collect();
        let mut notes = Vec::new();
        if speakers.len() == 2 {
            let (a, b) = (&speakers[0], &speakers[1]);
            match (roles[a], roles[b]) {
                (Some(ra), None) => {
                    let rb = if ra == Role::Clinician {
                        Role::Client
                    } else {
                        Role::Clinician
                    };
                    roles.insert(b.clone(), Some(rb));
                    notes.push(format!(
                        "speaker `{b}` taken as {} (the other speaker is {})",
                        rb.as_str(),
                        ra.as_str()
                    ));
                }
                (None, Some(rb)) => {
                    let ra = if rb == Role::Clinician {
                        Role::Client
                    } else {
                        Role::Clinician
                    };
                    roles.insert(a.clone(), Some(ra));
                    notes.push(format!(
                        "speaker `{a}` taken as {} (the other speaker is {})",
                        ra.as_str(),
                        rb.as_str()
                    ));
                }
                (None, None) => {
                    let share = |s: &str| {
                        let (q, n) = transcript
                            .turns
                            .iter()
                            .filter(|t| t.speaker == s)
                            .fold((0usize, 0usize), |(q, n), t| {
                                (q + usize::from(text::is_question(&t.text)), n + 1)
                            });
                        q as f64 / n.max(1) as f64
                    };
                    let (clin, client) = if share(b) > share(a) { (b, a) } else { (a, b) };
                    roles.insert(clin.clone(), Some(Role::Clinician));
                    roles.insert(client.clone(), Some(Role::Client));
                    notes.push(format!(
                        "roles guessed: `{clin}` as clinician (asks more questions), `{client}` as client; set them with the case's names or an explicit role map"
                    ));
                }
                _ => {}
            }
        } else if roles.values().any(Option::is_none) {
            let unknown: Vec<&str> = roles
                .iter()
                .filter(|(_, r)| r.is_none())
                .map(|(s, _)| s.as_str())
                .collect();
            notes.push(format!(
                "no role for speaker(s) {}: their turns count in talk balance but not in role features",
                unknown.join(", ")
            ));
        }
        for t in &mut transcript.turns {
            t.role = roles.get(&t.speaker).copied().flatten();
        }
        notes
    }
}

/// A case name matches a speaker label when they are equal or when the label is one word of
/// the name or the name one word of the label ("Sam" ~ "Sam Taylor", "Dr Lee" ~ "Lee").
fn names_match(name: &str, label_lower: &str) -> bool {
    let name = name.trim().to_lowercase();
    if name.is_empty() {
        return false;
    }
    if name == label_lower {
        return true;
    }
    let words = |s: &str| -> Vec<String> {
        s.split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.len() > 1 && *w != "dr" && *w != "mr" && *w != "ms" && *w != "mrs")
            .map(str::to_owned)
            .collect()
    };
    let (nw, lw) = (words(&name), words(label_lower));
    nw.iter().any(|w| lw.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::Turn;

    fn turn(s: &str, t: &str) -> Turn {
        Turn {
            speaker: s.into(),
            role: None,
            start: None,
            end: None,
            text: t.into(),
        }
    }

    #[test]
    fn case_names_explicit_map_and_role_words_give_roles() {
        let mut c = Context {
            clinicians: vec!["Dr Ana Lee".into()],
            clients: vec!["Sam Taylor".into(), "Alex".into()],
            ..Context::default()
        };
        c.roles.insert("SPEAKER_02".into(), Role::OtherClient);
        assert_eq!(c.role_of("Ana Lee"), Some(Role::Clinician));
        assert_eq!(c.role_of("lee"), Some(Role::Clinician));
        assert_eq!(c.role_of("Sam"), Some(Role::Client));
        assert_eq!(c.role_of("ALEX"), Some(Role::OtherClient));
        assert_eq!(c.role_of("SPEAKER_02"), Some(Role::OtherClient));
        assert_eq!(c.role_of("Therapist"), Some(Role::Clinician));
        assert_eq!(c.role_of("Patient"), Some(Role::Client));
        assert_eq!(c.role_of("SPEAKER_00"), None);
    }

    #[test]
    fn two_unknown_speakers_the_questioner_is_taken_as_clinician_and_said() {
        let mut t = Transcript {
            turns: vec![
                turn("SPEAKER_00", "I had a rough week."),
                turn("SPEAKER_01", "What made it rough?"),
                turn("SPEAKER_00", "Work."),
                turn("SPEAKER_01", "How did you cope?"),
            ],
            timed: false,
        };
        let notes = Context::default().assign_roles(&mut t);
        assert_eq!(t.turns[1].role, Some(Role::Clinician));
        assert_eq!(t.turns[0].role, Some(Role::Client));
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("guessed"));
    }

    #[test]
    fn one_known_speaker_of_two_names_the_other() {
        let mut t = Transcript {
            turns: vec![turn("Sam", "hi"), turn("Jo", "hello")],
            timed: false,
        };
        let c = Context {
            clients: vec!["Sam".into()],
            ..Context::default()
        };
        c.assign_roles(&mut t);
        assert_eq!(t.turns[1].role, Some(Role::Clinician));
    }
}
