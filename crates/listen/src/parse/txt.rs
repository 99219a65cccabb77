//! Plain text: `Speaker: text` lines, each optionally stamped `[hh:mm:ss]`, `[mm:ss]` or
//! `hh:mm:ss` first. A line without a label continues the previous turn. Plain text has no end
//! times, so silences and latencies are not available from it.

use super::{numbered_lines, parse_clock, segment, split_speaker, ParseError};
use crate::text::excerpt;
use crate::transcript::Turn;

pub(crate) fn parse(input: &str) -> Result<Vec<Turn>, ParseError> {
    let mut out: Vec<Turn> = Vec::new();
    for (n, raw) in numbered_lines(input) {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let (stamp, rest) = split_stamp(line).map_err(|found| {
            ParseError::new(
                n,
                format!(
                    "expected a time stamp such as `[00:01:02]`, found `{}`",
                    excerpt(found, 20)
                ),
            )
        })?;
        match split_speaker(rest) {
            Some((who, text)) => out.push(segment(who, stamp, None, text.to_owned())),
            None => match out.last_mut() {
                Some(last) if stamp.is_none() => {
                    last.text.push(' ');
                    last.text.push_str(rest);
                }
                _ => {
                    return Err(ParseError::new(
                        n,
                        format!("expected `Speaker: text`, found `{}`", excerpt(rest, 40)),
                    ))
                }
            },
        }
    }
    Ok(out)
}

/// Splits an optional leading stamp. `Err` carries a bracketed stamp that is not a time.
fn split_stamp(line: &str) -> Result<(Option<f64>, &str), &str> {
    if let Some(inner) = line.strip_prefix('[') {
        let Some(close) = inner.find(']') else {
            return Err(line);
        };
        let stamp = &inner[..close];
        return match parse_clock(stamp) {
            Some(t) => Ok((Some(t), inner[close + 1..].trim_start())),
            None => Err(stamp),
        };
    }
    let first = line.split_whitespace().next().unwrap_or("");
    if first.starts_with(|c: char| c.is_ascii_digit()) && first.contains(':') {
        if let Some(t) = parse_clock(first) {
            return Ok((Some(t), line[first.len()..].trim_start()));
        }
    }
    Ok((None, line))
}
