//! SubRip: numbered blocks (index, `hh:mm:ss,ttt --> hh:mm:ss,ttt`, text lines). Speakers as
//! a `Name:` prefix; a cue without one continues the previous speaker.

use super::{blocks, clean, parse_timing, segment, split_speaker, ParseError, UNKNOWN_SPEAKER};
use crate::text::excerpt;
use crate::transcript::Turn;

pub(crate) fn parse(input: &str) -> Result<Vec<Turn>, ParseError> {
    let mut out = Vec::new();
    let mut speaker = UNKNOWN_SPEAKER.to_owned();
    for block in blocks(input) {
        let (n0, l0) = block[0];
        let index = l0.trim();
        let (timing, text_lines) = if !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit())
        {
            match block.get(1) {
                Some(t) => (*t, &block[2..]),
                None => {
                    return Err(ParseError::new(
                        // The cue number may be the input's last line: name it, not the line after.
                        n0,
                        "expected a timing line such as `00:00:01,000 --> 00:00:04,000` after this cue number, found the end of the cue",
                    ));
                }
            }
        } else if l0.contains("-->") {
            return Err(ParseError::new(
                n0,
                format!(
                    "expected a cue number before the timing line, found `{}`",
                    excerpt(l0, 40)
                ),
            ));
        } else {
            return Err(ParseError::new(
                n0,
                format!(
                    "expected a cue number (1, 2, …), found `{}`",
                    excerpt(l0, 40)
                ),
            ));
        };
        let (tn, tl) = timing;
        let Some((start, end)) = parse_timing(tl) else {
            return Err(ParseError::new(
                tn,
                format!(
                    "expected a timing line such as `00:00:01,000 --> 00:00:04,000` (start not after end), found `{}`",
                    excerpt(tl, 60)
                ),
            ));
        };
        for &(_, line) in text_lines {
            let line = clean(line);
            let line = line.trim_start_matches("- ");
            let text = match split_speaker(line) {
                Some((who, t)) => {
                    speaker = who.to_owned();
                    t.to_owned()
                }
                None => line.to_owned(),
            };
            if !text.is_empty() {
                out.push(segment(&speaker, Some(start), Some(end), text));
            }
        }
    }
    Ok(out)
}
