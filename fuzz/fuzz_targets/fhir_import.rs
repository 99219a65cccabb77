//! `bordin_interop::fhir::response::read` on arbitrary bytes (a QuestionnaireResponse or a Bundle
//! of them): bad input is a list of issues, each naming an element or the document, never a
//! panic; accepted input holds answers valid for the instrument, which score without panicking.
#![no_main]

use std::sync::OnceLock;

use bordin_core::Registry;
use libfuzzer_sys::fuzz_target;

fn registry() -> &'static Registry {
    static REG: OnceLock<Registry> = OnceLock::new();
    REG.get_or_init(|| Registry::builtin().expect("shipped instruments load"))
}

fuzz_target!(|data: &[u8]| {
    match bordin_interop::fhir::response::read(data, registry()) {
        Ok(reads) => {
            assert!(!reads.is_empty());
            for r in reads {
                let sheet = r.instrument.score(&r.answers);
                assert_eq!(sheet.scales.len(), r.instrument.scales.len());
                assert!(r.at.starts_with("QuestionnaireResponse") || r.at.starts_with("Bundle.entry["));
            }
        }
        Err(issues) => {
            assert!(!issues.is_empty());
            for i in &issues {
                assert!(!i.diagnostics.is_empty());
                // Every expression is a path into the document that was sent.
                for e in &i.expression {
                    assert!(e.starts_with("QuestionnaireResponse") || e.starts_with("Bundle"), "{e}");
                }
            }
        }
    }
});
