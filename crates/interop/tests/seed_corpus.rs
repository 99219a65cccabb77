//! The fuzz targets' seed corpora (`fuzz/corpus/fhir_import`, `fuzz/corpus/scores_import`) run
//! through the same parsers on stable Rust in every `cargo test`: each seed is either accepted or
//! rejected with located problems, never a panic, and the seeds meant to be valid are accepted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use bordin_core::Registry;

fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    assert!(!out.is_empty());
    out
}

#[test]
fn fhir_import_seeds() {
    let reg = Registry::builtin().unwrap();
    for (name, bytes) in seeds("fhir_import") {
        let r = bordin_interop::fhir::response::read(&bytes, &reg);
        let valid = !(name.contains("bad") || name.contains("not_json"));
        match r {
            Ok(reads) => {
                assert!(valid, "{name} should be refused");
                for r in reads {
                    r.instrument.score(&r.answers);
                }
            }
            Err(issues) => {
                assert!(!valid, "{name}: {issues:?}");
                assert!(issues.iter().all(|i| !i.diagnostics.is_empty()));
            }
        }
    }
}

#[test]
fn scores_import_seeds() {
    let reg = Registry::builtin().unwrap();
    for (name, bytes) in seeds("scores_import") {
        let valid = !name.contains("bad");
        match bordin_interop::research::read_scores(&bytes, &reg) {
            Ok(cases) => assert!(valid && !cases.is_empty(), "{name}"),
            Err(errors) => {
                assert!(!valid, "{name}: {errors:?}");
                assert!(errors.iter().all(|e| e.line >= 1));
            }
        }
    }
}
