//! Short, evidence-based suggestions for each kind of signal, written by the Bordin project.
//! They are prompts for the clinician's judgement, not instructions.

use super::signals::SignalKind;

/// A suggestion: what to consider, and the research it rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suggestion {
    pub headline: &'static str,
    pub steps: &'static [&'static str],
    pub evidence: &'static str,
}

/// The suggestion for a kind of signal.
pub fn for_kind(kind: SignalKind) -> Suggestion {
    match kind {
        SignalKind::Rupture => Suggestion {
            headline: "Name the rupture and explore it together",
            steps: &[
                "Bring it up early in the next session: \"Your rating of our last session was lower than usual — I'd like to understand what happened.\"",
                "Invite the client's view and listen without defending; welcome negative feelings about the work.",
                "Acknowledge your own part in what happened.",
                "If goals or tasks are at issue, renegotiate them: agree again on what to work on and how.",
            ],
            evidence: "Rupture–repair episodes are associated with better outcome and training in rupture resolution improves it (Safran & Muran 2000; Eubanks, Muran & Safran 2018 meta-analysis, r ≈ .29). Ruptures are read against the client's own level (Stiles et al. 2004; Gumz et al. 2012).",
        },
        SignalKind::Repair => Suggestion {
            headline: "The alliance recovered",
            steps: &["Consider naming what helped the repair with the client; it strengthens the bond."],
            evidence: "Resolved ruptures are linked with better outcomes (Eubanks, Muran & Safran 2018).",
        },
        SignalKind::ReliableDeterioration => Suggestion {
            headline: "Symptoms are reliably worse than at intake",
            steps: &[
                "Review risk, and what has changed in the client's life.",
                "Ask the client how they see the work and whether it fits them; consider changing the plan, intensity or approach.",
                "Discuss the case in supervision.",
            ],
            evidence: "Routine outcome feedback to clinicians reduces deterioration, most for cases not on track (Lambert, Whipple & Kleinstäuber 2018 meta-analysis). Reliable change after Jacobson & Truax (1991).",
        },
        SignalKind::ReliableImprovement | SignalKind::Recovery => Suggestion {
            headline: "Reliable improvement",
            steps: &["Share the progress with the client and review which goals remain; consider planning the ending or a review."],
            evidence: "Reliable and clinically significant change after Jacobson & Truax (1991); recovery as in NHS Talking Therapies (Gyani et al. 2013).",
        },
        SignalKind::NotOnTrack => Suggestion {
            headline: "Progress is behind the expected course",
            steps: &[
                "Talk with the client about progress openly and ask what would help more.",
                "Check the alliance (goals and tasks especially) and motivation; consider a change of plan.",
                "Use supervision or a clinical support tool for not-on-track cases.",
            ],
            evidence: "Feedback on not-on-track cases improves their outcomes (Lambert, Whipple & Kleinstäuber 2018); expected recovery curves after Finch, Lambert & Schaalje (2001).",
        },
        SignalKind::Risk => Suggestion {
            headline: "Review risk today",
            steps: &[
                "Contact the client and ask directly about thoughts of death or self-harm, their intent, plans and protective factors.",
                "Follow your service's risk protocol and record what was done.",
                "Do not rely on the questionnaire alone: item 9 screens, it does not assess.",
            ],
            evidence: "PHQ-9 item 9 answered above 0 is associated with later suicide attempts and deaths and calls for clinical assessment (Simon et al. 2013).",
        },
        SignalKind::Discrepancy => Suggestion {
            headline: "You rated the alliance clearly higher than the client did",
            steps: &[
                "Treat the client's rating as the better guide: ask what would make the sessions more helpful.",
                "Look for signs of withdrawal (agreeing too readily, shorter answers).",
            ],
            evidence: "Client and therapist ratings agree only moderately (Tryon, Blackwell & Hammel 2007: r ≈ .36; clients rate higher on average), and the client's view predicts outcome best (Flückiger et al. 2018).",
        },
        SignalKind::LowEarlyAlliance => Suggestion {
            headline: "The alliance is low early in the work",
            steps: &[
                "Revisit goals and tasks with the client now: what do they want from the work, and does the way of working suit them?",
                "Ask openly about doubts; adjust your approach to their preferences.",
            ],
            evidence: "Early alliance predicts outcome (Flückiger et al. 2018, r ≈ .28) and weaker alliance is associated with dropout (Sharf, Primavera & Diener 2010).",
        },
        SignalKind::MissingMeasure => Suggestion {
            headline: "No alliance rating at this session",
            steps: &["Send the Session Check link at the end of the next session, and say why their answers matter."],
            evidence: "Feedback only helps when it is collected routinely, every session (Lambert, Whipple & Kleinstäuber 2018).",
        },
        SignalKind::DropoutRisk => Suggestion {
            headline: "Several dropout risk factors are present",
            steps: &[
                "Talk with the client about how the work is going for them, and what might get in the way of continuing.",
                "Address the factors listed: repair ruptures, renegotiate goals and tasks, follow up missed sessions.",
            ],
            evidence: "Weaker and falling alliance is associated with dropout (Sharf, Primavera & Diener 2010); the score lists each factor and its weight.",
        },
    }
}
