//! # bordin-store
//!
//! Everything Bordin keeps, behind one [`Store`]. The backend is picked from the database URL
//! (`sqlite://…` or `postgres://…`) inside this crate, so the server is compiled once. Queries are
//! written once in SQL that both backends accept (`$1` placeholders), checked at run time, so the
//! build needs no database; the few dialect differences branch on [`Backend`] here and nowhere
//! else.
//!
//! Invariants kept here:
//! - every query names a `clinic_id`; no row is read or written without it;
//! - a submitted response, its scores and its flags commit in one transaction;
//! - responses are never updated or deleted (the schema refuses it); corrections are new rows;
//! - SQLite runs in WAL mode with `synchronous=FULL`: a commit that returned survives power loss;
//!   on PostgreSQL every connection sets `synchronous_commit = on` (with the server's `fsync=on`,
//!   the same promise);
//! - what SQLite's single writer made exactly-once stays so on PostgreSQL under READ COMMITTED:
//!   conditional updates re-checked after a row lock (link submission, goal versions), unique
//!   constraints with `ON CONFLICT` (alerts), and a per-case row lock (`lock_case`) around
//!   every read-then-write of a case (series rebuild, session numbers, the agreements log).

pub mod audit;
pub mod backup;
mod caseload;
mod clinic;
mod credentials;
mod forms;
mod goals;
mod group;
mod interop;
mod monitoring;
mod privacy;
pub mod seal;
#[doc(hidden)]
pub mod testing;
mod tokens;
mod transcripts;

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
    AdministrationRow, CaseScoreRow, FlagRow, LinkRow, NewAdministration, NewResponse, ResponseRow,
    StoredScore, Submitted,
};
pub use goals::{
    link_id, Actor, CaseLinkRow, Change, ConsentRow, EditKind, FormulationRow, GoalRatingRow,
    GoalRow, LogEntry, TaskReportRow, TaskRow, UpdateOutcome,
};
pub use interop::{
    HistoricalCase, HistoricalResponse, HistoricalSession, ImportSummary, ResearchResponse,
};
pub use monitoring::{AlertEvent, AlertRow, CaseSeries, NewAlert, SubjectSeries, THERAPIST};
pub use privacy::{person_tables, ErasureReport, ErasureRow, KEPT_TABLES};
pub use seal::{Key, Keyring, RotationReport, SealError};
pub use tokens::{ApiTokenRow, NewApiToken, TokenScope};
pub use transcripts::{
    NewAnalysis, NewTranscript, TranscriptRow, TranscriptStatus, TranscriptText,
    DEFAULT_TRANSCRIPT_RETENTION_DAYS, MAX_TRANSCRIPT_RETENTION_DAYS,
};

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL '{0}': use sqlite://PATH or postgres://USER@HOST/DB")]
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
    /// A backup or restore that cannot be done as asked (the message says why and what to do).
    #[error("{0}")]
    Backup(String),
    /// The store's writer could not take the work (it is shutting down); nothing was stored
    /// unless said otherwise.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
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
    Postgres,
}

/// The handle to Bordin's database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    /// Reads (and, on PostgreSQL, writes).
    pool: AnyPool,
    /// Writes. On SQLite a pool of one connection of its own, so Bordin's writers queue here,
    /// in order and without sleeping, for the database's single write lock (see
    /// [`Store::write_tx`]); on PostgreSQL the same pool as `pool`.
    writer: AnyPool,
    /// The group writers' connections ([`group`]). On PostgreSQL a pool of its own, one
    /// connection per writer task, so that the statements of a group stay prepared on the
    /// connections that run them; on SQLite the writer connection.
    group_writer: AnyPool,
    backend: Backend,
    /// Keys for clinical free text; `None` writes plain text and refuses to open sealed text.
    keyring: Option<std::sync::Arc<seal::Keyring>>,
    /// The queue to the group writer of form submissions ([`group`]).
    groups: group::Groups,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Run on every SQLite connection. WAL lets readers proceed during a write; FULL syncs the WAL
/// on every commit so an acknowledged submission survives power loss, not just a crash
/// (shared/reference/security.md). busy_timeout queues writers from other processes (the CLI)
/// and Bordin's few autocommit writes.
const SQLITE_SESSION: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
    PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 15000; PRAGMA secure_delete = ON;";

/// Run on every PostgreSQL connection. A commit returns only once its WAL record is flushed:
/// with the server's fsync=on, an acknowledged submission survives a crash
/// (shared/reference/security.md). Set per connection so that a server configured otherwise
/// cannot weaken it; UTC and UTF-8 are what the store assumes (times are epoch milliseconds,
/// text is Rust strings).
const POSTGRES_SESSION: &str =
    "SET synchronous_commit = on; SET client_encoding = 'UTF8'; SET TIME ZONE 'UTC'";

/// Connections per pool. SQLite has one writer at a time, so more connections only queue; a
/// PostgreSQL server runs writers in parallel (its default `max_connections` is 100).
const SQLITE_CONNECTIONS: u32 = 8;
const POSTGRES_CONNECTIONS: u32 = 16;

/// A pool of at most `connections`, each of which runs `session` once when it opens.
fn pool_options(connections: u32, session: &'static str) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                conn.execute(session).await?;
                Ok(())
            })
        })
}

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
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_owned())
        } else {
            return Err(StoreError::UnsupportedUrl(redact(url)));
        };
        let options = AnyConnectOptions::from_str(&url)?;
        let (pool, writer, group_writer) = match backend {
            Backend::Sqlite => {
                let pool = pool_options(SQLITE_CONNECTIONS, SQLITE_SESSION)
                    .connect_with(options.clone())
                    .await?;
                // One writer connection: SQLite runs one write transaction at a time anyway.
                // With several connections, the ones that lose the race for the write lock wait
                // in SQLite's busy handler, which sleeps 1, 2, 5 … 100 ms between tries and so
                // wakes late after the lock is free; queueing for this connection instead hands
                // the lock over as soon as a commit returns (BENCHMARKS.md, load).
                let writer = pool_options(1, SQLITE_SESSION)
                    .connect_with(options)
                    .await?;
                (pool, writer.clone(), writer)
            }
            Backend::Postgres => {
                // The group writers' connections keep every group size's statements prepared
                // (a few kinds of statement per size, up to `group::GROUP_MAX` sizes): sqlx's
                // default cache of 100 statements would re-prepare them as sizes vary.
                let mut group_options = options.clone();
                if !group_options
                    .database_url
                    .query_pairs()
                    .any(|(k, _)| k == "statement-cache-capacity")
                {
                    group_options
                        .database_url
                        .query_pairs_mut()
                        .append_pair("statement-cache-capacity", "1024");
                }
                let group_writer =
                    pool_options(group::writers(Backend::Postgres) as u32, POSTGRES_SESSION)
                        .connect_lazy_with(group_options);
                let pool = pool_options(POSTGRES_CONNECTIONS, POSTGRES_SESSION)
                    .connect_with(options)
                    .await
                    .map_err(|e| match e {
                        // Name what failed without echoing the URL's password.
                        sqlx::Error::Configuration(m) => {
                            StoreError::UnsupportedUrl(format!("{} ({m})", redact(&url)))
                        }
                        e => StoreError::Database(e),
                    })?;
                (pool.clone(), pool, group_writer)
            }
        };
        let store = Self {
            pool,
            writer,
            group_writer,
            backend,
            keyring: None,
            groups: group::Groups::default(),
        };
        match backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&store.writer).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&store.writer).await?,
        }
        Ok(store)
    }

    /// Begins a transaction that will write. On SQLite it runs on the one writer connection
    /// (concurrent writers queue for it) and takes the write lock at once (`BEGIN IMMEDIATE`),
    /// so a read inside the transaction followed by a write cannot fail on lock upgrade, and
    /// another process's writer is waited for by `busy_timeout`. Never begin a second write
    /// transaction while holding one: on SQLite it would wait for the first. On PostgreSQL it is a plain
    /// READ COMMITTED transaction: writers run in parallel, and each read-then-write that must
    /// not interleave takes a row lock first (`lock_case`, `UPDATE ... WHERE` re-checked after
    /// the lock) or relies on a unique constraint.
    pub(crate) async fn write_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.writer.begin().await?,
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
        self.writer.close().await;
        self.group_writer.close().await;
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
        Ok(sqlx::query(sql)
            .execute(&self.writer)
            .await?
            .rows_affected())
    }
}

/// Serialises the read-then-write steps on one case inside the caller's write transaction.
///
/// On SQLite the transaction already holds the database's single write lock (`BEGIN
/// IMMEDIATE`), so this does nothing. On PostgreSQL (READ COMMITTED) two transactions could each
/// read the case's rows and then write a result computed from a stale read: a series rebuilt
/// without the other's response, two sessions numbered alike, two log entries with the same
/// `seq`. Locking the case's row makes the second wait for the first to commit; its next
/// statement then sees the first's rows. `FOR NO KEY UPDATE` (not `FOR UPDATE`) so that it does
/// not conflict with the `FOR KEY SHARE` locks that foreign-key checks take on the case when
/// rows referencing it are inserted, which would deadlock two submissions.
pub(crate) async fn lock_case(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    clinic_id: &str,
    case_id: &str,
) -> Result<()> {
    if backend_of(tx) == Backend::Postgres {
        sqlx::query(
            "SELECT case_id FROM cases WHERE clinic_id = $1 AND case_id = $2 FOR NO KEY UPDATE",
        )
        .bind(clinic_id)
        .bind(case_id)
        .fetch_optional(&mut **tx)
        .await?;
    }
    Ok(())
}

/// `($o+1, …, $o+cols), ($o+cols+1, …), …` for `rows` rows: the VALUES of a multi-row INSERT
/// with numbered placeholders, which both backends read (sqlx's `QueryBuilder` for `Any` writes
/// `?`, which PostgreSQL does not).
pub(crate) fn values_list(rows: usize, cols: usize, offset: usize) -> String {
    let mut out = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..cols {
            if c > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(offset + r * cols + c + 1).to_string());
        }
        out.push(')');
    }
    out
}

/// `$o+1, $o+2, …, $o+n`: an IN list of numbered placeholders.
pub(crate) fn placeholders(n: usize, offset: usize) -> String {
    (offset + 1..=offset + n)
        .map(|k| format!("${k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// [`lock_case`] for several cases of a clinic, in case id order (the order every writer uses,
/// so two writers locking overlapping sets cannot deadlock). `cases` must be sorted.
pub(crate) async fn lock_cases(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    clinic_id: &str,
    cases: &[&str],
) -> Result<()> {
    if backend_of(tx) != Backend::Postgres || cases.is_empty() {
        return Ok(());
    }
    let list = placeholders(cases.len(), 1);
    let sql = format!(
        "SELECT case_id FROM cases WHERE clinic_id = $1 AND case_id IN ({list}) ORDER BY case_id FOR NO KEY UPDATE"
    );
    let mut q = sqlx::query(&sql).bind(clinic_id);
    for c in cases {
        q = q.bind(*c);
    }
    q.fetch_all(&mut **tx).await?;
    Ok(())
}

/// The backend a connection talks to (for steps that receive only a transaction).
pub(crate) fn backend_of(conn: &sqlx::AnyConnection) -> Backend {
    if conn.backend_name() == <sqlx::Postgres as sqlx::Database>::NAME {
        Backend::Postgres
    } else {
        Backend::Sqlite
    }
}

/// ` FOR UPDATE` on PostgreSQL, nothing on SQLite (which has no row locks; its write
/// transaction already excludes every other writer): appended to a `SELECT` whose answer decides
/// a write in the same transaction.
pub(crate) fn for_update(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "",
        Backend::Postgres => " FOR UPDATE",
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
