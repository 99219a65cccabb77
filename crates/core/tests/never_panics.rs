//! "Never panics" properties for the parsers that read files written by people: instrument files
//! and text packs. They run in ordinary `cargo test`; `fuzz/` has the libFuzzer versions.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bordin_core::registry::{BUILTIN, PLACEHOLDER_PACKS};
use bordin_core::{Answers, Instrument, Registry, TextPack};
use proptest::prelude::*;

/// Tokens that tend to upset a loader: extreme numbers, wrong types, empty things, odd ids.
const TOKENS: &[&str] = &[
    "0",
    "-1",
    "1.5",
    "0.000000000000000001",
    "9223372036854775807",
    "-9223372036854775808",
    "1e308",
    "nan",
    "inf",
    "\"\"",
    "\"x\"",
    "\"total\"",
    "\"q1\"",
    "\"frequency4\"",
    "\"visual_analogue\"",
    "\"restricted\"",
    "[]",
    "[\"q1\", \"q1\"]",
    "[\"total\"]",
    "{}",
    "true",
    "=",
    "[[scales]]",
    "[[items]]",
    "[[response_scales]]",
    "\"\\u0000\"",
    "é",
];

/// A shipped file with some lines deleted, duplicated or with a value swapped for a token.
fn mutated_file() -> impl Strategy<Value = String> {
    let files: Vec<&'static str> = BUILTIN.iter().map(|(_, t)| *t).collect();
    (
        proptest::sample::select(files),
        proptest::collection::vec(
            (
                any::<proptest::sample::Index>(),
                0u8..4,
                any::<proptest::sample::Index>(),
            ),
            1..6,
        ),
    )
        .prop_map(|(text, edits)| {
            let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
            for (at, op, tok) in edits {
                if lines.is_empty() {
                    break;
                }
                let k = at.index(lines.len());
                let token = TOKENS[tok.index(TOKENS.len())];
                match op {
                    0 => {
                        lines.remove(k);
                    }
                    1 => {
                        let l = lines[k].clone();
                        lines.insert(k, l);
                    }
                    2 => {
                        // Replace the value after the first '='.
                        if let Some(eq) = lines[k].find('=') {
                            lines[k] = format!("{}= {}", &lines[k][..eq], token);
                        }
                    }
                    _ => {
                        // Replace the first number in the line.
                        let l = &lines[k];
                        if let Some(start) = l.find(|c: char| c.is_ascii_digit()) {
                            let end = l[start..]
                                .find(|c: char| !c.is_ascii_digit())
                                .map_or(l.len(), |e| start + e);
                            lines[k] = format!("{}{}{}", &l[..start], token, &l[end..]);
                        }
                    }
                }
            }
            lines.join("\n")
        })
}

fn check_instrument(text: &str) {
    match Instrument::from_toml("fuzz.toml", text) {
        Ok(i) => {
            // Whatever loads must score without panicking: nothing answered, and every item at
            // its lowest point.
            let empty = Answers::parse(&i, std::iter::empty()).expect("no answers is valid");
            let s = i.score(&empty);
            assert_eq!(s.scales.len(), i.scales.len());
            let values: Vec<_> = (0..i.items.len())
                .map(|k| Some(i.response_scale_of(k).bounds().0))
                .collect();
            if let Ok(a) = Answers::from_values(&i, values) {
                let _ = i.score(&a);
            }
            let _ = Registry::default().add(i, "fuzz");
        }
        Err(errors) => {
            assert!(!errors.is_empty());
            for e in errors {
                assert_eq!(e.file, "fuzz.toml");
                assert!(!e.path.is_empty() && !e.message.is_empty(), "{e:?}");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn from_toml_never_panics_on_arbitrary_text(text in "\\PC{0,200}") {
        check_instrument(&text);
    }

    #[test]
    fn from_toml_never_panics_on_toml_like_text(text in "([a-z_]{1,8} = (\"[a-z0-9]{0,4}\"|[0-9.-]{1,6}|\\[\\]|true)\n|\\[\\[?[a-z_]{1,15}\\]\\]?\n){0,20}") {
        check_instrument(&text);
    }

    #[test]
    fn from_toml_never_panics_on_mutated_shipped_files(text in mutated_file()) {
        check_instrument(&text);
    }

    #[test]
    fn text_pack_never_panics(text in "\\PC{0,200}", edits in proptest::collection::vec((any::<proptest::sample::Index>(), any::<proptest::sample::Index>()), 0..4)) {
        let reg = Registry::builtin().expect("builtin");
        let wai = reg.get("wai_sr").expect("wai_sr");
        // Arbitrary text ...
        if let Ok(p) = TextPack::from_toml("pack.toml", &text) {
            let _ = p.validate("pack.toml", wai);
        }
        // ... and the placeholder pack with values swapped for tokens.
        let mut lines: Vec<String> = PLACEHOLDER_PACKS[0].1.lines().map(str::to_owned).collect();
        for (at, tok) in edits {
            let k = at.index(lines.len());
            if let Some(eq) = lines[k].find('=') {
                lines[k] = format!("{}= {}", &lines[k][..eq], TOKENS[tok.index(TOKENS.len())]);
            }
        }
        if let Ok(p) = TextPack::from_toml("pack.toml", &lines.join("\n")) {
            let _ = p.validate("pack.toml", wai);
        }
    }
}
