//! A transcript: who said what, and when if the file says.

use serde::{Deserialize, Serialize};

/// The part a speaker plays in the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Clinician,
    Client,
    /// A second client (couples, family or group sessions).
    OtherClient,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Clinician => "clinician",
            Role::Client => "client",
            Role::OtherClient => "other_client",
        }
    }

    /// Client-side (client or other client).
    pub fn is_client(self) -> bool {
        matches!(self, Role::Client | Role::OtherClient)
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "clinician" | "therapist" | "counsellor" | "counselor" | "coach" => Ok(Role::Clinician),
            "client" | "patient" | "coachee" => Ok(Role::Client),
            "other_client" | "other" => Ok(Role::OtherClient),
            other => Err(format!(
                "unknown role `{other}`: expected clinician, client or other_client"
            )),
        }
    }
}

/// One turn: consecutive speech of one speaker. Times are seconds from the start of the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    pub speaker: String,
    pub role: Option<Role>,
    pub start: Option<f64>,
    pub end: Option<f64>,
    pub text: String,
}

/// A parsed transcript. `timed` is true when every turn has a start time; silences and
/// latencies also need end times.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Transcript {
    pub turns: Vec<Turn>,
    pub timed: bool,
}

impl Transcript {
    /// Builds a transcript from raw segments, merging consecutive segments of one speaker
    /// into one turn (the reference's rule for every format).
    pub(crate) fn from_segments(segments: Vec<Turn>) -> Transcript {
        let mut turns: Vec<Turn> = Vec::with_capacity(segments.len());
        for seg in segments {
            if seg.text.trim().is_empty() {
                continue;
            }
            match turns.last_mut() {
                Some(last) if last.speaker == seg.speaker => {
                    last.text.push(' ');
                    last.text.push_str(seg.text.trim());
                    if seg.end.is_some() {
                        last.end = seg.end;
                    }
                    if last.start.is_none() {
                        last.start = seg.start;
                    }
                }
                _ => turns.push(Turn {
                    text: seg.text.trim().to_owned(),
                    ..seg
                }),
            }
        }
        let timed = !turns.is_empty() && turns.iter().all(|t| t.start.is_some());
        Transcript { turns, timed }
    }
}

/// The file formats Bordin reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// WebVTT (W3C), as Zoom and Teams export it.
    Vtt,
    /// SubRip.
    Srt,
    /// WhisperX-style diarised JSON (`{"segments": [...]}`).
    Json,
    /// Plain `Speaker: text` lines, optionally stamped `[hh:mm:ss]`.
    Txt,
}

/// A format name that Bordin does not know.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown transcript format `{0}`: expected vtt, srt, json or txt")]
pub struct UnknownFormat(pub String);

impl std::str::FromStr for Format {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Self, UnknownFormat> {
        match s
            .trim()
            .trim_start_matches('.')
            .to_ascii_lowercase()
            .as_str()
        {
            "vtt" | "webvtt" => Ok(Format::Vtt),
            "srt" => Ok(Format::Srt),
            "json" => Ok(Format::Json),
            "txt" | "text" => Ok(Format::Txt),
            _ => Err(UnknownFormat(s.to_owned())),
        }
    }
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Vtt => "vtt",
            Format::Srt => "srt",
            Format::Json => "json",
            Format::Txt => "txt",
        }
    }

    /// Guesses the format from the content: `WEBVTT` header, a JSON object or array, an SRT
    /// cue number followed by a timing line, else plain text.
    pub fn detect(input: &str) -> Format {
        let body = input.trim_start_matches('\u{feff}').trim_start();
        if body.starts_with("WEBVTT") {
            return Format::Vtt;
        }
        if body.starts_with('{') || (body.starts_with('[') && !looks_like_stamp(body)) {
            return Format::Json;
        }
        let mut lines = body.lines().map(str::trim);
        if let (Some(first), Some(second)) = (lines.next(), lines.next()) {
            if !first.is_empty()
                && first.chars().all(|c| c.is_ascii_digit())
                && second.contains("-->")
            {
                return Format::Srt;
            }
        }
        Format::Txt
    }

    /// The format a file name's extension names, if any.
    pub fn from_path(path: &std::path::Path) -> Option<Format> {
        path.extension()?.to_str()?.parse().ok()
    }
}

/// `[00:01:02] Name: text` starts with a bracket too; it is plain text, not JSON.
fn looks_like_stamp(body: &str) -> bool {
    body[1..].chars().next().is_some_and(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_format_from_content() {
        assert_eq!(
            Format::detect("\u{feff}WEBVTT\n\n00:01.000 --> 00:02.000\nhi"),
            Format::Vtt
        );
        assert_eq!(
            Format::detect("1\n00:00:01,000 --> 00:00:02,000\nhi\n"),
            Format::Srt
        );
        assert_eq!(Format::detect("  {\"segments\": []}"), Format::Json);
        assert_eq!(Format::detect("[00:00:01] A: hi"), Format::Txt);
        assert_eq!(Format::detect("A: hi\nB: hello"), Format::Txt);
    }

    #[test]
    fn consecutive_segments_of_one_speaker_merge() {
        let seg = |s: &str, a: f64, b: f64, t: &str| Turn {
            speaker: s.into(),
            role: None,
            start: Some(a),
            end: Some(b),
            text: t.into(),
        };
        let t = Transcript::from_segments(vec![
            seg("A", 0.0, 1.0, "one"),
            seg("A", 1.5, 2.0, "two"),
            seg("B", 3.0, 4.0, "three"),
        ]);
        assert_eq!(t.turns.len(), 2);
        assert_eq!(t.turns[0].text, "one two");
        assert_eq!(t.turns[0].end, Some(2.0));
        assert!(t.timed);
    }
}
