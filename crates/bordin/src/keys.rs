//! Keys for encryption at rest: where the server finds them, and `bordin keys generate`.
//!
//! A keyring comes from, in order: `--key-file`/`BORDIN_KEY_FILE` (a key file), `BORDIN_KEY`
//! (the key file's text itself, for secret stores that inject environment variables), or a key
//! file beside a SQLite database (`DB.key`, which the demo creates). Never from the database.

use std::io::Write;
use std::path::{Path, PathBuf};

use bordin_store::{Key, Keyring, SealError};

#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("cannot read the key file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the key file {path} is not usable: {source}")]
    Invalid { path: PathBuf, source: SealError },
    #[error("BORDIN_KEY is not usable: {0}")]
    InvalidEnv(SealError),
    #[error("cannot write the key file {path}: {source} (an existing file is never overwritten)")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Reads a key file.
pub fn read_key_file(path: &Path) -> Result<Keyring, KeyFileError> {
    let text = zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|source| {
        KeyFileError::Read {
            path: path.to_owned(),
            source,
        }
    })?);
    Keyring::parse(&text).map_err(|source| KeyFileError::Invalid {
        path: path.to_owned(),
        source,
    })
}

/// The key file that belongs beside a SQLite database (`sqlite://x.db` → `x.db.key`), if the
/// URL names a file.
pub fn key_file_beside(database_url: &str) -> Option<PathBuf> {
    let rest = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().filter(|p| !p.is_empty())?;
    if path == ":memory:" {
        return None;
    }
    Some(PathBuf::from(format!("{path}.key")))
}

/// The configured keyring: a key file, else `BORDIN_KEY`, else the key file beside the
/// database if it exists; `None` when there is none.
pub fn configured_keyring(
    key_file: Option<&Path>,
    env_key: Option<&str>,
    database_url: &str,
) -> Result<Option<Keyring>, KeyFileError> {
    if let Some(path) = key_file {
        return read_key_file(path).map(Some);
    }
    if let Some(text) = env_key.filter(|t| !t.trim().is_empty()) {
        return Keyring::parse(text)
            .map(Some)
            .map_err(KeyFileError::InvalidEnv);
    }
    match key_file_beside(database_url) {
        Some(p) if p.exists() => read_key_file(&p).map(Some),
        _ => Ok(None),
    }
}

/// Writes a new random key to `path`, readable and writable by its owner only (0600). Refuses
/// to overwrite an existing file (that could make every sealed value unreadable).
pub fn generate_key_file(path: &Path) -> Result<Key, KeyFileError> {
    let key = Key::generate();
    let err = |source| KeyFileError::Write {
        path: path.to_owned(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(err)?;
    file.write_all(
        b"# Bordin encryption key: keep it secret, keep a copy apart from the database backups.\n",
    )
    .map_err(err)?;
    file.write_all(key.to_line().as_bytes()).map_err(err)?;
    file.sync_all().map_err(err)?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_generated_key_file_is_private_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        let key = generate_key_file(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(read_key_file(&path).unwrap().active_id(), key.id());
        assert!(generate_key_file(&path).is_err());
    }

    #[test]
    fn the_key_file_beside_a_database_is_found_by_url() {
        assert_eq!(
            key_file_beside("sqlite://data/b.db?mode=rwc"),
            Some(PathBuf::from("data/b.db.key"))
        );
        assert_eq!(key_file_beside("postgres://h/db"), None);
    }
}
