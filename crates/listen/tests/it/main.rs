//! bordin-listen through its public API: parsers on good and broken files, the analysis of
//! written sessions, and (with the model) embeddings against sentence-transformers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod analysis;
#[cfg(feature = "semantic")]
mod embeddings;
mod parsers;

pub fn data(name: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}
