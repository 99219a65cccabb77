//! The setting of a case (therapy, counselling, coaching, rehabilitation) and the words the UI
//! uses for it, so a coachee never reads "patient" and a client never reads "coachee".

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Setting {
    #[default]
    Therapy,
    Counselling,
    Coaching,
    Rehabilitation,
}

/// Nouns used in pages and in item wording (`{helper}` in a text is replaced by `helper`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SettingWords {
    pub client: &'static str,
    pub clients: &'static str,
    pub helper: &'static str,
    pub helpers: &'static str,
    pub work: &'static str,
}

impl Setting {
    pub const ALL: [Setting; 4] = [
        Self::Therapy,
        Self::Counselling,
        Self::Coaching,
        Self::Rehabilitation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Therapy => "therapy",
            Self::Counselling => "counselling",
            Self::Coaching => "coaching",
            Self::Rehabilitation => "rehabilitation",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn words(self) -> SettingWords {
        match self {
            Self::Therapy => SettingWords {
                client: "client",
                clients: "clients",
                helper: "therapist",
                helpers: "therapists",
                work: "therapy",
            },
            Self::Counselling => SettingWords {
                client: "client",
                clients: "clients",
                helper: "counsellor",
                helpers: "counsellors",
                work: "counselling",
            },
            Self::Coaching => SettingWords {
                client: "coachee",
                clients: "coachees",
                helper: "coach",
                helpers: "coaches",
                work: "coaching",
            },
            Self::Rehabilitation => SettingWords {
                client: "client",
                clients: "clients",
                helper: "practitioner",
                helpers: "practitioners",
                work: "rehabilitation",
            },
        }
    }
}

impl SettingWords {
    /// Replaces `{helper}`, `{client}` and `{work}` in a text.
    pub fn fill(&self, text: &str) -> String {
        text.replace("{helper}", self.helper)
            .replace("{client}", self.client)
            .replace("{work}", self.work)
    }
}
