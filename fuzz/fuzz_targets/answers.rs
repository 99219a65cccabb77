//! `Answers::parse` on arbitrary `(item id, text)` pairs for the PHQ-9, then scoring: invalid
//! input is an `AnswerError` naming a given item, never a panic; valid input scores within range.
//!
//! Input: UTF-8 text, one pair per line as `id=answer` (a line without `=` is an id with a blank
//! answer), so the seed corpus is readable and easy to extend.
#![no_main]

use std::sync::OnceLock;

use bordin_core::{Answers, Registry};
use libfuzzer_sys::fuzz_target;

fn registry() -> &'static Registry {
    static REG: OnceLock<Registry> = OnceLock::new();
    REG.get_or_init(|| Registry::builtin().expect("shipped instruments load"))
}

fuzz_target!(|text: &str| {
    let pairs: Vec<(&str, &str)> = text.lines().map(|l| l.split_once('=').unwrap_or((l, ""))).collect();
    let phq9 = registry().get("phq9").expect("phq9 is shipped");
    match Answers::parse(phq9, pairs.iter().copied()) {
        Ok(answers) => {
            let sheet = phq9.score(&answers);
            if let Some(total) = sheet.value(phq9, "total") {
                let x = bordin_core::to_f64(total);
                assert!((0.0..=27.0).contains(&x), "total {x} out of range");
                assert!(total.is_integer(), "the PHQ-9 total is rounded");
                assert!(sheet.severity(phq9).is_some(), "a scored total falls in a band");
            }
            if answers.get(phq9, "q9").is_some_and(|v| v >= bordin_core::Value::from_integer(1)) {
                assert!(sheet.flag_ids(phq9).any(|f| f == "risk:q9"));
            }
        }
        Err(errors) => {
            assert!(!errors.is_empty());
            for e in &errors {
                assert!(pairs.iter().any(|(id, _)| *id == e.item), "error names an item that was given");
            }
        }
    }
});
