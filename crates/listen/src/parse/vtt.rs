//! WebVTT (W3C): `WEBVTT` header, blank-line separated cues, optional cue identifier, timing
//! line, text. Speakers as voice spans `<v Name>` or as `Name:` inside the cue (Zoom, Teams).
//! `NOTE`, `STYLE` and `REGION` blocks are skipped.

use super::{blocks, clean, parse_timing, segment, split_speaker, ParseError, UNKNOWN_SPEAKER};
use crate::transcript::Turn;

const TIMING_HINT: &str = "a cue timing line such as `00:00:01.000 --> 00:00:04.000`";

pub(crate) fn parse(input: &str) -> Result<Vec<Turn>, ParseError> {
    let first = input.lines().next().unwrap_or("");
    let header_ok = first
        .strip_prefix("WEBVTT")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r']));
    if !header_ok {
        return Err(ParseError::new(
            1,
            format!(
                "expected the `WEBVTT` header, found `{}`",
                crate::text::excerpt(first, 40)
            ),
        ));
    }
    let mut out = Vec::new();
    let mut speaker = UNKNOWN_SPEAKER.to_owned();
    for (i, block) in blocks(input).into_iter().enumerate() {
        if i == 0 {
            // The header block (WEBVTT line and its optional header lines).
            continue;
        }
        let (n0, l0) = block[0];
        let kw = l0.split_whitespace().next().unwrap_or("");
        if matches!(kw, "NOTE" | "STYLE" | "REGION") {
            continue;
        }
        let (timing_at, rest) = if l0.contains("-->") {
            (0, &block[1..])
        } else if block.len() > 1 && block[1].1.contains("-->") {
            (1, &block[2..])
        } else {
            let (n, l) = block.get(1).copied().unwrap_or((n0, l0));
            return Err(ParseError::new(
                n,
                format!(
                    "expected {TIMING_HINT}, found `{}`",
                    crate::text::excerpt(l, 40)
                ),
            ));
        };
        let (tn, tl) = block[timing_at];
        let Some((start, end)) = parse_timing(tl) else {
            return Err(ParseError::new(
                tn,
                format!(
                    "expected {TIMING_HINT} (start not after end), found `{}`",
                    crate::text::excerpt(tl, 60)
                ),
            ));
        };
        for &(_, line) in rest {
            for (who, text) in voice_parts(line) {
                let (who, text) = match who {
                    Some(w) => (Some(w), text),
                    None => match split_speaker(&text) {
                        Some((w, t)) => (Some(w.to_owned()), t.to_owned()),
                        None => (None, text),
                    },
                };
                if let Some(w) = who {
                    speaker = w;
                }
                let text = clean(&text);
                if !text.is_empty() {
                    out.push(segment(&speaker, Some(start), Some(end), text));
                }
            }
        }
    }
    Ok(out)
}

/// Splits a cue line at voice spans: `<v Ann>Hi</v> <v Bo>Hello` → [(Ann, Hi), (Bo, Hello)].
/// Text before the first span has no voice of its own.
fn voice_parts(line: &str) -> Vec<(Option<String>, String)> {
    let mut parts = Vec::new();
    let mut rest = line;
    let mut voice: Option<String> = None;
    loop {
        match find_voice(rest) {
            Some((at, name, after)) => {
                let before = &rest[..at];
                if !before.trim().is_empty() || voice.is_some() {
                    parts.push((voice.take(), before.to_owned()));
                }
                voice = Some(name);
                rest = &rest[after..];
            }
            None => {
                parts.push((voice.take(), rest.to_owned()));
                break;
            }
        }
    }
    parts
}

/// Finds `<v Name>` or `<v.class Name>`: (start of tag, name, end of tag).
fn find_voice(s: &str) -> Option<(usize, String, usize)> {
    let mut from = 0;
    while let Some(i) = s[from..].find("<v") {
        let at = from + i;
        let after_v = &s[at + 2..];
        if after_v.starts_with([' ', '\t', '.']) {
            let close = after_v.find('>')?;
            let inner = &after_v[..close];
            // Skip classes (`.loud`) up to the first whitespace; the rest is the name.
            let name = inner
                .trim_start_matches(|c: char| c != ' ' && c != '\t')
                .trim();
            let name = crate::text::decode_entities(name);
            if !name.is_empty() {
                return Some((at, name, at + 2 + close + 1));
            }
        }
        from = at + 2;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voice_spans_split_a_line() {
        let p = voice_parts("<v Ann>Hi</v> <v.loud Bo Smith>Hello &amp; bye");
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].0.as_deref(), Some("Ann"));
        assert_eq!(p[1].0.as_deref(), Some("Bo Smith"));
        assert_eq!(clean(&p[1].1), "Hello & bye");
    }
}
