//! `bordin_interop::research::read_scores` (the historical scores CSV) on arbitrary bytes: bad
//! input is a list of errors with a line number, never a panic; accepted input holds cases whose
//! sessions and responses are valid and whose scores lie within each scale's range.
#![no_main]

use std::sync::OnceLock;

use bordin_core::Registry;
use libfuzzer_sys::fuzz_target;

fn registry() -> &'static Registry {
    static REG: OnceLock<Registry> = OnceLock::new();
    REG.get_or_init(|| Registry::builtin().expect("shipped instruments load"))
}

fuzz_target!(|data: &[u8]| {
    match bordin_interop::research::read_scores(data, registry()) {
        Ok(cases) => {
            for c in cases {
                assert!(!c.sessions.is_empty());
                for s in &c.sessions {
                    assert!(s.number >= 1);
                    for r in &s.responses {
                        for (def, sc) in r.instrument.scales.iter().zip(&r.sheet.scales) {
                            if let Some(v) = sc.value {
                                let x = bordin_core::to_f64(v);
                                assert!(x >= def.range.0 && x <= def.range.1, "{} {x}", def.id);
                            }
                        }
                    }
                }
            }
        }
        Err(errors) => {
            assert!(!errors.is_empty());
            assert!(errors.iter().all(|e| e.line >= 1));
        }
    }
});
