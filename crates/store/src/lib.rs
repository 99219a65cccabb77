//! # bordin-store
//!
//! Everything Bordin keeps, behind one [`Store`]. The backend is picked from the database URL
//! (`sqlite://…` now; `postgres://…` in a later release) inside this crate, so the server is
//! compiled once. Queries are written once in SQL that both backends accept (`$1` placeholders,
//! no backend-specific functions), checked at run time, so the build needs no database.
//!
//! Invariants kept here:
//! - every query names a `clinic_id`; no row is read or written without it;
//! - a submitted response, its scores and its flags commit in one transaction;
//! - responses are never updated or deleted (the schema refuses it); corrections are new rows;
//! - SQLite runs in WAL mode with `synchronous=FULL`: a commit that returned survives power loss.

pub mod audit;
mod caseload;
mod clinic;
mod credentials;
mod forms;
mod goals;
mod interop;
mod monitoring;
pub mod seal;

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

pub use audit::{
    AuditActor, AuditContext, AuditEntry, AuditEvent, AuditFilter, AuditHead, ChainProblem,
    ChainReport, Outcome, GENESIS,
};
pub use caseload::{CaseRow, CaseSummary, ClientRow, LatestScore, NewCase, SessionRow};
pub use clinic::{AuthSession, ClinicRow, UserRow};
pub use credentials::TotpRow;
pub use forms::{
    AdministrationRow, CaseScoreRow, FlagRow, NewAdministration, NewResponse, ResponseRow,
    Submitted,
};
pub use goals::{
    link_id, Actor, CaseLinkRow, Change, ConsentRow, EditKind, FormulationRow, GoalRatingRow,
    GoalRow, LogEntry, TaskReportRow, TaskRow, UpdateOutcome,
};
pub use interop::{
    HistoricalCase, HistoricalResponse, HistoricalSession, ImportSummary, ResearchResponse,
};
pub use monitoring::{AlertEvent, AlertRow, CaseSeries, NewAlert, SubjectSeries, THERAPIST};
pub use seal::{Key, Keyring, RotationReport, SealError};

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL '{0}': use sqlite://PATH")]
    UnsupportedUrl(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// Encrypted text could not be sealed or opened (no key, wrong key, altered value).
    #[error(transparent)]
    Sealed(#[from] seal::SealError),
    #[error("{what} not found")]
    NotFound { what: &'static str },
    #[error("{0}")]
    Conflict(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// True when the error is a unique-constraint violation (e.g. a code that already exists).
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::Database(e)) if e.is_unique_violation())
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
}

/// The handle to Bordin's database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// Keys for clinical free text; `None` writes plain text and refuses to open sealed text.
    keyring: Option<std::sync::Arc<seal::Keyring>>,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

impl Store {
    /// Opens (creating if needed) the database at `url` and brings its schema up to date.
    pub async fn connect(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let (backend, url) = if let Some(rest) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            let url = if rest.contains('?') {
                format!("sqlite://{rest}")
            } else {
                format!("sqlite://{rest}?mode=rwc")
            };
            (Backend::Sqlite, url)
        } else {
            return Err(StoreError::UnsupportedUrl(redact(url)));
        };
        let options = AnyConnectOptions::from_str(&url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    // WAL lets readers proceed during a write; FULL syncs the WAL on every commit
                    // so an acknowledged submission survives power loss, not just a crash
                    // (shared/reference/security.md). busy_timeout queues concurrent writers.
                    // secure_delete overwrites freed content with zeros, so text replaced by
                    // its sealed form (key rotation) does not linger in free space.
                    conn.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 15000; PRAGMA secure_delete = ON;")
                        .await?;
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        let store = Self {
            pool,
            backend,
            keyring: None,
        };
        match backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&store.pool).await?,
        }
        Ok(store)
    }

    /// Begins a transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so concurrent writers queue on `busy_timeout` instead of failing
    /// when a read inside the transaction is followed by a write.
    pub(crate) async fn write_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The same store, sealing clinical free text under `keyring`'s active key from now on.
    pub fn with_keyring(mut self, keyring: std::sync::Arc<seal::Keyring>) -> Self {
        self.keyring = Some(keyring);
        self
    }

    /// The keyring in use, if any.
    pub(crate) fn keys(&self) -> Option<&seal::Keyring> {
        self.keyring.as_deref()
    }

    /// Closes the pool, waiting for connections to finish.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// A cheap query proving the database answers (for `/healthz`).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Runs one raw SQL statement and returns the rows it affected. For tests only (they use it
    /// to prove the schema itself refuses what the application never does, such as updating a
    /// response); nothing in Bordin calls it, and it bypasses every invariant of this crate.
    #[doc(hidden)]
    pub async fn execute_raw_for_tests(&self, sql: &str) -> Result<u64> {
        Ok(sqlx::query(sql).execute(&self.pool).await?.rows_affected())
    }
}

/// A new random id (UUID v7: time-ordered, so inserts stay local in indexes).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// SHA-256 hex of a secret (link tokens, session ids): only this is stored.
pub fn hash_secret(secret: &str) -> String {
    use sha2::{Digest, Sha256};
    format!("{:x}", Sha256::digest(secret.as_bytes()))
}

fn redact(url: &str) -> String {
    // Never echo credentials from a URL into an error message.
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(a)) if a > s => format!("{}://…@{}", &url[..s], &url[a + 1..]),
        _ => url.to_owned(),
    }
}
