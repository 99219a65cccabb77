//! WhisperX-style diarised JSON: `{"segments": [{"start", "end", "text", "speaker",
//! "words": [{"word", "start", "end", "speaker"}]}]}` (a bare array of segments is accepted).
//! A segment without a speaker takes the most frequent speaker of its words, else the previous
//! segment's. Errors give the line of the offending segment.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{segment, ParseError, UNKNOWN_SPEAKER};
use crate::transcript::Turn;

#[derive(Deserialize)]
struct Doc<'a> {
    #[serde(borrow)]
    segments: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct Segment {
    start: Option<f64>,
    end: Option<f64>,
    text: String,
    speaker: Option<String>,
    #[serde(default)]
    words: Vec<Word>,
}

#[derive(Deserialize)]
struct Word {
    speaker: Option<String>,
}

fn line_of(input: &str, offset: usize) -> usize {
    input.as_bytes()[..offset.min(input.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

pub(crate) fn parse(input: &str) -> Result<Vec<Turn>, ParseError> {
    let trimmed = input.trim_start();
    let raws: Vec<&RawValue> = if trimmed.starts_with('[') {
        serde_json::from_str(input)
    } else {
        serde_json::from_str::<Doc>(input).map(|d| d.segments)
    }
    .map_err(|e| {
        ParseError::new(
            e.line().max(1),
            format!(
                "expected diarised JSON (`{{\"segments\": [{{\"start\", \"end\", \"text\", \"speaker\"}}]}}`): {e}"
            ),
        )
    })?;
    let base = input.as_ptr() as usize;
    let mut out = Vec::with_capacity(raws.len());
    let mut previous = UNKNOWN_SPEAKER.to_owned();
    for (i, raw) in raws.iter().enumerate() {
        let at = (raw.get().as_ptr() as usize).saturating_sub(base);
        let line = line_of(input, at);
        let seg: Segment = serde_json::from_str(raw.get()).map_err(|e| {
            ParseError::new(
                line + e.line().saturating_sub(1),
                format!("segment {i}: expected `start`, `end` (numbers), `text` and `speaker` (strings): {e}"),
            )
        })?;
        for (name, v) in [("start", seg.start), ("end", seg.end)] {
            if v.is_some_and(|v| !v.is_finite() || v < 0.0) {
                return Err(ParseError::new(
                    line,
                    format!("segment {i}: expected `{name}` to be seconds ≥ 0"),
                ));
            }
        }
        if let (Some(s), Some(e)) = (seg.start, seg.end) {
            if e < s {
                return Err(ParseError::new(
                    line,
                    format!("segment {i}: expected `end` ({e}) not before `start` ({s})"),
                ));
            }
        }
        let speaker = match seg.speaker {
            Some(s) if !s.trim().is_empty() => s.trim().to_owned(),
            _ => majority(&seg.words).unwrap_or_else(|| previous.clone()),
        };
        previous.clone_from(&speaker);
        out.push(segment(
            &speaker,
            seg.start,
            seg.end,
            seg.text.split_whitespace().collect::<Vec<_>>().join(" "),
        ));
    }
    Ok(out)
}

fn majority(words: &[Word]) -> Option<String> {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for w in words {
        if let Some(s) = w.speaker.as_deref() {
            match counts.iter_mut().find(|(n, _)| *n == s) {
                Some((_, c)) => *c += 1,
                None => counts.push((s, 1)),
            }
        }
    }
    counts
        .into_iter()
        .max_by_key(|(_, c)| *c)
        .map(|(s, _)| s.to_owned())
}
