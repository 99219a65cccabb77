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
