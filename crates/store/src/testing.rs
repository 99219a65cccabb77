//! Throwaway databases for tests on either backend (the store's, the server's and the binary's).
//!
//! Not part of Bordin's API: it exists so that every test suite picks its backend the same way.
//! A test body declared with [`both_backends!`](crate::both_backends) runs twice, as
//! `NAME::sqlite` and `NAME::postgres`; inside it, [`fresh_url`] gives a new empty database on
//! the backend of the run.
//!
//! `BORDIN_TEST_PG_URL` names a server and a database to connect to for administration (e.g.
//! `postgres://bordin@127.0.0.1:54329/postgres`); each [`PgTestDb`] is a new database with a
//! random name on that server, dropped when the value is dropped. `BORDIN_REQUIRE_PG=1` (set by
//! `.ci/run`) turns "no server" into an error, so CI cannot pass by skipping PostgreSQL.

use sqlx::{Connection, Executor};

/// The environment variable naming the PostgreSQL server for tests.
pub const PG_URL_VAR: &str = "BORDIN_TEST_PG_URL";
/// The environment variable that makes a missing PostgreSQL server an error.
pub const REQUIRE_PG_VAR: &str = "BORDIN_REQUIRE_PG";

/// The backends a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestBackend {
    Sqlite,
    Postgres,
}

tokio::task_local! {
    /// The backend of the test running in this task (set by [`on_backend`]).
    static BACKEND: TestBackend;
}

/// The backend of the current test: the one [`on_backend`] set, else SQLite.
pub fn current_backend() -> TestBackend {
    BACKEND.try_with(|b| *b).unwrap_or(TestBackend::Sqlite)
}

/// Keeps a test's database alive; dropping it removes the database (the SQLite file's directory,
/// or the PostgreSQL database).
#[derive(Debug)]
pub enum TestDb {
    Sqlite(SqliteTestDir),
    Postgres(PgTestDb),
}

/// A directory of its own for one test's SQLite file, removed on drop.
#[derive(Debug)]
pub struct SqliteTestDir {
    pub path: std::path::PathBuf,
}

impl Drop for SqliteTestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The URL of a new, empty database on the current test's backend that no other test sees.
///
/// # Errors
/// When PostgreSQL is the backend and its server is unreachable (or not configured).
pub async fn fresh_url() -> Result<(String, TestDb), String> {
    fresh_url_on(current_backend()).await
}

/// The URL of a new, empty database on `backend` (see [`fresh_url`]).
///
/// # Errors
/// When PostgreSQL is the backend and its server is unreachable (or not configured).
pub async fn fresh_url_on(backend: TestBackend) -> Result<(String, TestDb), String> {
    match backend {
        TestBackend::Sqlite => {
            let path =
                std::env::temp_dir().join(format!("bordin-test-{}", uuid::Uuid::new_v4().simple()));
            std::fs::create_dir_all(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let url = format!("sqlite://{}", path.join("bordin.db").display());
            Ok((url, TestDb::Sqlite(SqliteTestDir { path })))
        }
        TestBackend::Postgres => {
            let db = fresh_pg()
                .await?
                .ok_or_else(|| format!("{PG_URL_VAR} is not set"))?;
            Ok((db.url.clone(), TestDb::Postgres(db)))
        }
    }
}

/// Runs one test body on `backend`. Without a PostgreSQL server the PostgreSQL run is skipped
/// with a note on stderr, unless `BORDIN_REQUIRE_PG=1` (CI), where it panics: CI cannot pass by
/// skipping PostgreSQL.
#[allow(clippy::panic)]
pub async fn on_backend<F: std::future::Future<Output = ()>>(backend: TestBackend, body: F) {
    if backend == TestBackend::Postgres && pg_admin_url().is_none() {
        if pg_required() {
            panic!("{REQUIRE_PG_VAR}=1 but {PG_URL_VAR} is not set: the PostgreSQL run of this test cannot happen");
        }
        eprintln!("note: {PG_URL_VAR} not set; PostgreSQL run skipped");
        return;
    }
    BACKEND.scope(backend, body).await;
}

/// Declares each named `async fn` (a test body, in scope where the macro is used) as two tests,
/// `NAME::sqlite` and `NAME::postgres`, so that one suite runs against both backends. A body
/// not listed is never called, and the compiler's dead-code warning says so.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    $crate::testing::on_backend($crate::testing::TestBackend::Sqlite, super::$name()).await;
                }
                #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    $crate::testing::on_backend($crate::testing::TestBackend::Postgres, super::$name()).await;
                }
            }
        )+
    };
}

/// A PostgreSQL database created for one test; dropped (with any open connections) on drop.
#[derive(Debug)]
pub struct PgTestDb {
    /// The URL of the new database, for `Store::connect` or `bordin serve --db`.
    pub url: String,
    admin_url: String,
    name: String,
}

/// Whether PostgreSQL tests must run (`BORDIN_REQUIRE_PG=1`).
pub fn pg_required() -> bool {
    std::env::var(REQUIRE_PG_VAR).is_ok_and(|v| v == "1")
}

/// The server URL from `BORDIN_TEST_PG_URL`, if set and not empty.
pub fn pg_admin_url() -> Option<String> {
    std::env::var(PG_URL_VAR)
        .ok()
        .filter(|u| !u.trim().is_empty())
}

/// A fresh database on the test server: `Ok(None)` when no server is configured and none is
/// required; an error naming the cause when one is required but missing or unreachable.
pub async fn fresh_pg() -> Result<Option<PgTestDb>, String> {
    let Some(admin_url) = pg_admin_url() else {
        return if pg_required() {
            Err(format!(
                "{REQUIRE_PG_VAR}=1 but {PG_URL_VAR} is not set: PostgreSQL tests cannot run"
            ))
        } else {
            Ok(None)
        };
    };
    sqlx::any::install_default_drivers();
    let name = format!("bordin_t_{}", uuid::Uuid::new_v4().simple());
    let url = with_database(&admin_url, &name)?;
    let mut conn = sqlx::AnyConnection::connect(&admin_url)
        .await
        .map_err(|e| format!("cannot reach the PostgreSQL test server ({PG_URL_VAR}): {e}"))?;
    conn.execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .map_err(|e| format!("cannot create test database {name}: {e}"))?;
    let _ = conn.close().await;
    Ok(Some(PgTestDb {
        url,
        admin_url,
        name,
    }))
}

/// `url` with its database (the path) replaced by `name`, query string kept.
fn with_database(url: &str, name: &str) -> Result<String, String> {
    let scheme_end = url
        .find("://")
        .ok_or_else(|| format!("{PG_URL_VAR} is not a postgres:// URL"))?
        + 3;
    let (base, query) = match url.find('?') {
        Some(q) => (&url[..q], &url[q..]),
        None => (url, ""),
    };
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    Ok(format!("{}/{name}{query}", &base[..host_end]))
}

impl Drop for PgTestDb {
    fn drop(&mut self) {
        // Drop runs outside any async context we can rely on: a short-lived runtime on its own
        // thread connects and drops the database, ending the test's leftover connections.
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async move {
                let mut conn = sqlx::AnyConnection::connect(&admin_url)
                    .await
                    .map_err(|e| e.to_string())?;
                conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                    .await
                    .map_err(|e| e.to_string())?;
                let _ = conn.close().await;
                Ok::<(), String>(())
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("note: test database {} not dropped: {e}", self.name);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::with_database;

    #[test]
    fn database_is_replaced_and_the_rest_kept() {
        assert_eq!(
            with_database("postgres://u:p@127.0.0.1:5432/postgres", "x").unwrap(),
            "postgres://u:p@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u@h:1/postgres?sslmode=disable", "x").unwrap(),
            "postgres://u@h:1/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgresql://h", "x").unwrap(),
            "postgresql://h/x"
        );
    }
}
