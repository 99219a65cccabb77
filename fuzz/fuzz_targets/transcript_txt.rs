//! The txt transcript parser on arbitrary text, then the analysis without the model: a bad file
//! is a `ParseError` naming a line inside the input, never a panic; a good one has turns with
//! non-empty text, no two neighbours by one speaker, and times that run forward within a turn.
#![no_main]

use bordin_listen::{parse, Analyzer, Context, Format};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    match parse(text, Format::Txt) {
        Ok(t) => {
            assert!(!t.turns.is_empty());
            for w in t.turns.windows(2) {
                assert_ne!(w[0].speaker, w[1].speaker, "neighbouring turns of one speaker merge");
            }
            for turn in &t.turns {
                assert!(!turn.text.trim().is_empty());
                if let (Some(s), Some(e)) = (turn.start, turn.end) {
                    assert!(s.is_finite() && e.is_finite());
                }
            }
            let a = Analyzer::without_model().analyze(&t, &Context::default());
            assert_eq!(a.turns.len(), t.turns.len());
            let share: f64 = a.speakers.iter().map(|s| s.talk_share).sum();
            assert!(share == 0.0 || (share - 1.0).abs() < 1e-9, "word shares sum to 1");
        }
        Err(e) => {
            assert!(e.line >= 1 && e.line <= text.split('\n').count().max(1), "line {} in range", e.line);
        }
    }
});
