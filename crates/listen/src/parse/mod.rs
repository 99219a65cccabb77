//! Transcript parsers. Each returns segments; [`Transcript::from_segments`] merges consecutive
//! segments of one speaker into turns.

mod json;
mod srt;
mod txt;
mod vtt;

use crate::text;
use crate::transcript::{Format, Transcript, Turn};

/// A file that could not be read as the format it claims: the line, and what was expected there.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// 1-based line number in the input.
    pub line: usize,
    /// What was expected and what was found.
    pub message: String,
}

impl ParseError {
    pub(crate) fn new(line: usize, message: impl Into<String>) -> Self {
        ParseError {
            line,
            message: message.into(),
        }
    }
}

/// The most bytes a transcript may have (a four-hour session is about 300 KB of text).
pub const MAX_INPUT_BYTES: usize = 16 * 1024 * 1024;

/// Parses a transcript in the given format. Consecutive cues or segments of one speaker become
/// one turn. An empty transcript (no speech at all) is an error: there is nothing to analyse.
pub fn parse(input: &str, format: Format) -> Result<Transcript, ParseError> {
    if input.len() > MAX_INPUT_BYTES {
        return Err(ParseError::new(
            1,
            format!("the file is larger than {MAX_INPUT_BYTES} bytes"),
        ));
    }
    let input = input.strip_prefix('\u{feff}').unwrap_or(input);
    let segments = match format {
        Format::Vtt => vtt::parse(input)?,
        Format::Srt => srt::parse(input)?,
        Format::Json => json::parse(input)?,
        Format::Txt => txt::parse(input)?,
    };
    let transcript = Transcript::from_segments(segments);
    if transcript.turns.is_empty() {
        return Err(ParseError::new(
            input.lines().count().max(1),
            "expected at least one line of speech, found none",
        ));
    }
    Ok(transcript)
}

/// Lines with their 1-based numbers, `\r` removed.
pub(crate) fn numbered_lines(input: &str) -> impl Iterator<Item = (usize, &str)> {
    input
        .split('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
}

/// Blank-line separated blocks, each a list of (line number, line).
pub(crate) fn blocks(input: &str) -> Vec<Vec<(usize, &str)>> {
    let mut out = Vec::new();
    let mut cur: Vec<(usize, &str)> = Vec::new();
    for (n, l) in numbered_lines(input) {
        if l.trim().is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push((n, l));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Parses `hh:mm:ss.ttt`, `mm:ss.ttt`, `hh:mm:ss,ttt` or `hh:mm:ss` into seconds.
/// Minutes and seconds must be below 60; the fraction takes up to 3 digits.
pub(crate) fn parse_clock(s: &str) -> Option<f64> {
    let s = s.trim();
    let (main, frac) = match s.find(['.', ',']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let parts: Vec<&str> = main.split(':').collect();
    if parts.len() < 2 || parts.len() > 3 {
        return None;
    }
    let num = |p: &str| -> Option<u64> {
        if p.is_empty() || p.len() > 9 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        p.parse().ok()
    };
    let (h, m, sec) = if parts.len() == 3 {
        (num(parts[0])?, num(parts[1])?, num(parts[2])?)
    } else {
        (0, num(parts[0])?, num(parts[1])?)
    };
    if (parts.len() == 3 && m >= 60) || sec >= 60 {
        return None;
    }
    let mut total = (h * 3600 + m * 60 + sec) as f64;
    if let Some(f) = frac {
        if f.is_empty() || f.len() > 3 || !f.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let v: f64 = f.parse().ok()?;
        total += v / 10f64.powi(f.len() as i32);
    }
    Some(total)
}

/// Parses a cue timing line `START --> END [settings]`.
pub(crate) fn parse_timing(line: &str) -> Option<(f64, f64)> {
    let (a, b) = line.split_once("-->")?;
    let b = b.split_whitespace().next()?;
    let (start, end) = (parse_clock(a)?, parse_clock(b)?);
    (end >= start).then_some((start, end))
}

/// Splits a `Name: text` line. The name must look like a label: at most four words and 40
/// characters, starting with a letter, without sentence punctuation; otherwise the line is
/// plain speech ("Note: it was late" is still taken as a speaker — a known limit).
pub(crate) fn split_speaker(line: &str) -> Option<(&str, &str)> {
    let (name, rest) = line.split_once(':')?;
    let name = name.trim();
    if name.is_empty()
        || name.len() > 40
        || name.split_whitespace().count() > 4
        || !name.chars().next().is_some_and(char::is_alphabetic)
        || (name.contains(['.', '?', '!', ',', '"', '<', '>'])
            && !name.to_lowercase().starts_with("dr."))
    {
        return None;
    }
    // `12:30` inside speech is a time, not a label; a label is followed by a space or the end.
    if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return None;
    }
    Some((name, rest.trim()))
}

/// Cleans cue text: tags removed, entities decoded, whitespace collapsed.
pub(crate) fn clean(s: &str) -> String {
    let s = text::decode_entities(&text::strip_tags(s));
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A segment with a speaker and optional times.
pub(crate) fn segment(speaker: &str, start: Option<f64>, end: Option<f64>, text: String) -> Turn {
    Turn {
        speaker: speaker.to_owned(),
        role: None,
        start,
        end,
        text,
    }
}

/// The speaker label used when a file names none.
pub(crate) const UNKNOWN_SPEAKER: &str = "Unknown";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_with_and_without_hours() {
        assert_eq!(parse_clock("01:02:03.500"), Some(3723.5));
        assert_eq!(parse_clock("02:03.25"), Some(123.25));
        assert_eq!(parse_clock("00:00:01,000"), Some(1.0));
        assert_eq!(parse_clock("00:61.000"), None);
        assert_eq!(parse_clock("1:2:3:4"), None);
        assert_eq!(parse_clock("00:00:01.0000"), None);
        assert_eq!(
            parse_timing("00:01.000 --> 00:02.000 align:start"),
            Some((1.0, 2.0))
        );
        assert_eq!(parse_timing("00:03.000 --> 00:02.000"), None);
    }

    #[test]
    fn speaker_labels_are_short_names_followed_by_a_space() {
        assert_eq!(split_speaker("Dr. Lee: Hello"), Some(("Dr. Lee", "Hello")));
        assert_eq!(split_speaker("SPEAKER_00: hi"), Some(("SPEAKER_00", "hi")));
        assert_eq!(split_speaker("We met at 12:30 today"), None);
        assert_eq!(split_speaker("Well, what I mean is: this"), None);
    }
}
