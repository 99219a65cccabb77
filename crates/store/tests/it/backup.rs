//! Online backup and restore (SQLite): a round trip gives the same data, also while writes go
//! on, and a restore never overwrites data unless asked to.

use bordin_store::backup::{check_sqlite_file, restore_sqlite};
use bordin_store::Store;

use crate::support::{fresh_store, phq9_values, registry, scored, submit, world, T0};

#[tokio::test]
async fn a_backup_restores_to_the_same_data() {
    let (store, _g) = fresh_store().await;
    let reg = registry();
    let phq9 = reg.get("phq9").unwrap();
    let w = world(&store, "Clinic").await;
    let (answers, sheet) = scored(phq9, &phq9_values([2, 2, 1, 2, 1, 1, 2, 1, 0]));
    submit(&store, &w, phq9, &answers, &sheet, None, T0).await;
    let before = store
        .export_client(&w.clinic_id, &w.client_id)
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backup.db");
    let summary = store.backup_to(&file).await.unwrap();
    assert!(
        summary.counts.contains(&("responses".to_owned(), 1)),
        "{summary:?}"
    );
    // Never over an existing file.
    assert!(store.backup_to(&file).await.is_err());

    let target = format!("sqlite://{}", dir.path().join("restored.db").display());
    restore_sqlite(&file, &target, false).await.unwrap();
    let restored = Store::connect(&target).await.unwrap();
    let after = restored
        .export_client(&w.clinic_id, &w.client_id)
        .await
        .unwrap();
    assert_eq!(before, after, "the restored database holds the same data");

    // A database with data is not overwritten unless asked to.
    let err = restore_sqlite(&file, &target, false).await.unwrap_err();
    assert!(err.to_string().contains("--force"), "{err}");
    restored.close().await;
    restore_sqlite(&file, &target, true).await.unwrap();
}

#[tokio::test]
async fn a_backup_taken_while_writing_is_consistent_and_has_every_earlier_commit() {
    let (store, _g) = fresh_store().await;
    let reg = registry();
    let phq9 = reg.get("phq9").unwrap().clone();
    let w = world(&store, "Clinic").await;

    // A writer commits responses (each with its scores, in one transaction) until told to stop.
    let committed = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (store, committed, stop) = (store.clone(), committed.clone(), stop.clone());
        let w = w.clone();
        tokio::spawn(async move {
            let (answers, sheet) = scored(&phq9, &phq9_values([1, 1, 1, 1, 1, 1, 1, 1, 1]));
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) && n < 400 {
                submit(&store, &w, &phq9, &answers, &sheet, None, T0 + n).await;
                n += 1;
                committed.store(n as usize, std::sync::atomic::Ordering::SeqCst);
            }
        })
    };
    while committed.load(std::sync::atomic::Ordering::SeqCst) < 20 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("live.db");
    let acknowledged = committed.load(std::sync::atomic::Ordering::SeqCst);
    store.backup_to(&file).await.unwrap();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    writer.await.unwrap();

    let summary = check_sqlite_file(&file).await.unwrap();
    let in_backup = summary
        .counts
        .iter()
        .find(|(t, _)| t == "responses")
        .map(|(_, n)| *n as usize)
        .unwrap();
    assert!(
        in_backup >= acknowledged,
        "every response acknowledged before the backup began is in it ({in_backup} < {acknowledged})"
    );
    // Restored elsewhere: every response there has all its scores (no torn transaction).
    let target = format!("sqlite://{}", dir.path().join("restored.db").display());
    restore_sqlite(&file, &target, false).await.unwrap();
    let restored = Store::connect(&target).await.unwrap();
    let doc = restored
        .export_client(&w.clinic_id, &w.client_id)
        .await
        .unwrap();
    let responses = doc["tables"]["responses"].as_array().unwrap();
    let scores = doc["tables"]["scores"].as_array().unwrap();
    assert_eq!(responses.len(), in_backup);
    for r in responses {
        let n = scores
            .iter()
            .filter(|s| s["response_id"] == r["response_id"])
            .count();
        assert!(n >= 1, "response {} lost its scores", r["response_id"]);
    }
}
