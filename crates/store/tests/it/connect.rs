//! Opening the database.

use bordin_store::{Store, StoreError};

#[tokio::test]
async fn unsupported_url_is_refused_without_echoing_credentials() {
    for url in [
        "mysql://admin:s3cret@db.example.org/bordin",
        "bordin.db",
        "",
        "http://example.org",
    ] {
        match Store::connect(url).await {
            Err(StoreError::UnsupportedUrl(shown)) => {
                assert!(!shown.contains("s3cret"), "credentials echoed: {shown}");
            }
            other => panic!("{url:?}: expected UnsupportedUrl, got {other:?}"),
        }
    }
}

async fn reopening_keeps_data_and_migrations_are_idempotent() {
    let (url, _g) = crate::support::fresh_url().await;
    let store = Store::connect(&url).await.unwrap();
    store.ping().await.unwrap();
    let clinic = store
        .create_clinic("Kept", bordin_core::Setting::Therapy, 1)
        .await
        .unwrap();
    store.close().await;
    let again = Store::connect(&url).await.unwrap();
    assert_eq!(again.clinics().await.unwrap(), vec![clinic]);
}

bordin_store::both_backends!(reopening_keeps_data_and_migrations_are_idempotent);

/// Every connection the store opens runs the backend's session settings: the durability
/// promised to a client who sees "submitted" rests on them (SQLite `synchronous = FULL` in WAL
/// mode; PostgreSQL `synchronous_commit = on`), and the store's queries assume the rest.
async fn connections_run_the_durability_and_session_settings() {
    let (url, _g) = crate::support::fresh_url().await;
    let store = Store::connect(&url).await.unwrap();
    store
        .execute_raw_for_tests("CREATE TABLE session_check (ok INTEGER)")
        .await
        .unwrap();
    let check = match store.backend() {
        bordin_store::Backend::Sqlite => {
            "INSERT INTO session_check SELECT 1
             WHERE (SELECT synchronous FROM pragma_synchronous) = 2
               AND (SELECT journal_mode FROM pragma_journal_mode) = 'wal'
               AND (SELECT foreign_keys FROM pragma_foreign_keys) = 1
               AND (SELECT timeout FROM pragma_busy_timeout) = 15000
               AND (SELECT secure_delete FROM pragma_secure_delete) = 1"
        }
        bordin_store::Backend::Postgres => {
            "INSERT INTO session_check SELECT 1
             WHERE current_setting('synchronous_commit') = 'on'
               AND current_setting('client_encoding') = 'UTF8'
               AND current_setting('TimeZone') = 'UTC'"
        }
    };
    // An INSERT … WHERE writes its row only when every setting holds on the connection that
    // ran it.
    assert_eq!(
        store.execute_raw_for_tests(check).await.unwrap(),
        1,
        "{check}"
    );
}

bordin_store::both_backends!(connections_run_the_durability_and_session_settings);
