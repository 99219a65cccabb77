//! Online backup and restore of a SQLite database.
//!
//! A backup is taken with `VACUUM INTO` while the server runs: SQLite copies the database as
//! of one read transaction (a consistent snapshot; writers continue in WAL mode), into a fresh,
//! compact file (<https://www.sqlite.org/lang_vacuum.html#vacuuminto>). The copy is then opened
//! on its own and checked with `PRAGMA integrity_check`. PostgreSQL databases are backed up with
//! PostgreSQL's own tools (`pg_dump`/`pg_restore`, docs/operations.md); Bordin does not pretend
//! to do it for them.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection, Row};

use crate::{Backend, Result, Store, StoreError};

/// The file behind a `sqlite://PATH` URL, or `None` for another backend.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    Some(PathBuf::from(path))
}

/// True for `postgres://` and `postgresql://` URLs.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// What a checked database file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSummary {
    pub path: PathBuf,
    pub bytes: u64,
    /// Rows per table of the main Bordin tables (clinics, clients, cases, responses).
    pub counts: Vec<(String, i64)>,
}

async fn open_file(path: &Path, read_only: bool) -> Result<SqliteConnection> {
    let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
        .read_only(read_only)
        .create_if_missing(false);
    Ok(opts.connect().await?)
}

/// Opens a database file on its own and runs `PRAGMA integrity_check`; fails unless SQLite
/// answers `ok`. Returns the file's size and the row counts of the main tables.
pub async fn check_sqlite_file(path: &Path) -> Result<BackupSummary> {
    if !path.is_file() {
        return Err(StoreError::Backup(format!(
            "{} does not exist or is not a file",
            path.display()
        )));
    }
    let mut conn = open_file(path, true).await?;
    let problems: Vec<String> = sqlx::query("PRAGMA integrity_check")
        .fetch_all(&mut conn)
        .await?
        .iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<std::result::Result<_, _>>()?;
    if problems != ["ok"] {
        return Err(StoreError::Backup(format!(
            "{} failed SQLite's integrity check: {}",
            path.display(),
            problems.join("; ")
        )));
    }
    let mut counts = Vec::new();
    for table in ["clinics", "users", "clients", "cases", "responses"] {
        let n: i64 = sqlx::query(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&mut conn)
            .await
            .map_err(|_| {
                StoreError::Backup(format!(
                    "{} is not a Bordin database (no table '{table}')",
                    path.display()
                ))
            })?
            .try_get(0)?;
        counts.push((table.to_owned(), n));
    }
    conn.close().await?;
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    Ok(BackupSummary {
        path: path.to_owned(),
        bytes,
        counts,
    })
}

impl Store {
    /// Writes a consistent copy of the whole database to `out` (which must not exist yet) while
    /// the database stays in use, then checks the copy. SQLite only.
    pub async fn backup_to(&self, out: &Path) -> Result<BackupSummary> {
        if self.backend != Backend::Sqlite {
            return Err(StoreError::Backup(
                "online backup is built in for SQLite only; use pg_dump for PostgreSQL (docs/operations.md)".into(),
            ));
        }
        if out.exists() {
            return Err(StoreError::Backup(format!(
                "{} already exists; choose a new file name (a backup never overwrites)",
                out.display()
            )));
        }
        let target = out
            .to_str()
            .ok_or_else(|| StoreError::Backup(format!("{} is not a UTF-8 path", out.display())))?;
        sqlx::query("VACUUM INTO $1")
            .bind(target)
            .execute(&self.pool)
            .await?;
        check_sqlite_file(out).await
    }

    /// The number of clinics (a database with none holds no data worth protecting).
    pub async fn clinic_count(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) FROM clinics")
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?)
    }
}

/// Restores a backup file into the SQLite database at `to_url`: checks the backup, refuses a
/// target that already holds clinics unless `force`, then copies the backup into place (again
/// with `VACUUM INTO`) and opens it once so its schema is brought up to date. The server must
/// not be running on the target.
pub async fn restore_sqlite(from: &Path, to_url: &str, force: bool) -> Result<BackupSummary> {
    let target = sqlite_path(to_url).ok_or_else(|| {
        StoreError::Backup(
            "restore is built in for SQLite only; use pg_restore for PostgreSQL (docs/operations.md)".into(),
        )
    })?;
    check_sqlite_file(from).await?;
    if target.exists() {
        let existing = check_sqlite_file(&target).await;
        let clinics = match &existing {
            Ok(s) => s
                .counts
                .iter()
                .find(|(t, _)| t == "clinics")
                .map_or(0, |(_, n)| *n),
            // Not a Bordin database, or an empty file: only overwritten when asked to.
            Err(_) => i64::from(std::fs::metadata(&target).map(|m| m.len()).unwrap_or(0) > 0),
        };
        if clinics > 0 && !force {
            return Err(StoreError::Backup(format!(
                "{} is not empty ({}); pass --force to replace it with the backup",
                target.display(),
                match existing {
                    Ok(_) => format!("{clinics} clinic(s)"),
                    Err(_) => "not an empty Bordin database".into(),
                }
            )));
        }
        for suffix in ["", "-wal", "-shm"] {
            let p = PathBuf::from(format!("{}{suffix}", target.display()));
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(StoreError::Backup(format!(
                        "cannot remove {}: {e}",
                        p.display()
                    )))
                }
            }
        }
    }
    let target_str = target
        .to_str()
        .ok_or_else(|| StoreError::Backup(format!("{} is not a UTF-8 path", target.display())))?;
    let mut conn = open_file(from, true).await?;
    sqlx::query("VACUUM INTO $1")
        .bind(target_str)
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    // Brings the schema up to date if the backup came from an older Bordin.
    let store = Store::connect(to_url).await?;
    store.close().await;
    check_sqlite_file(&target).await
}
