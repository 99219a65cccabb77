//! `Instrument::from_toml` on arbitrary UTF-8: it must return an instrument or a list of
//! `LoadError`s naming a field, never panic; whatever loads must score without panicking.
#![no_main]

use bordin_core::{Answers, Instrument};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    match Instrument::from_toml("fuzz.toml", text) {
        Ok(instrument) => {
            let none = Answers::parse(&instrument, std::iter::empty()).expect("no answers is valid");
            let sheet = instrument.score(&none);
            assert_eq!(sheet.scales.len(), instrument.scales.len());
            // Every item at its lowest, then at its highest point.
            for pick_high in [false, true] {
                let values = (0..instrument.items.len())
                    .map(|k| {
                        let (lo, hi) = instrument.response_scale_of(k).bounds();
                        Some(if pick_high { hi } else { lo })
                    })
                    .collect();
                if let Ok(answers) = Answers::from_values(&instrument, values) {
                    let sheet = instrument.score(&answers);
                    for (s, def) in sheet.scales.iter().zip(&instrument.scales) {
                        if let Some(v) = s.value {
                            let _ = bordin_core::format_value(v, def.decimals);
                        }
                    }
                }
            }
        }
        Err(errors) => {
            assert!(!errors.is_empty());
            for e in &errors {
                assert_eq!(e.file, "fuzz.toml");
                assert!(!e.path.is_empty());
            }
        }
    }
});
