//! The audit trail: entries written through the real store code, then tampered with directly
//! in SQL (the protective triggers dropped, as an attacker with database access would), and
//! `verify_audit_chain` must name the first bad entry each time.

use bordin_store::{
    AuditActor, AuditEntry, AuditEvent, Backend, ChainProblem, Outcome, Store, GENESIS,
};

use crate::support::{fresh_store, world, Guard, T0};

/// A clinic whose trail holds the world's writes plus `extra` reads: returns the clinic id and
/// the number of entries.
async fn trail(extra: usize) -> (Store, Guard, String, i64) {
    let (store, guard) = fresh_store().await;
    let w = world(&store, "Audited").await;
    for i in 0..extra {
        store
            .audit_as(
                &AuditEvent::on_case(&w.clinic_id, &w.case_id, "read", "case", &w.case_id),
                &AuditActor::user(&w.clinician_id),
                &format!("192.0.2.{i}"),
                T0 + i as i64,
            )
            .await
            .unwrap();
    }
    let report = store.verify_audit_chain(&w.clinic_id, None).await.unwrap();
    assert_eq!(report.problem, None, "an untouched chain verifies");
    (store, guard, w.clinic_id, report.entries)
}

/// Drops the triggers that keep the trail append-only, as tampering would.
async fn drop_guards(store: &Store) {
    let statements: &[&str] = match store.backend() {
        Backend::Sqlite => &[
            "DROP TRIGGER audit_log_is_append_only",
            "DROP TRIGGER audit_log_is_kept",
            "DROP TRIGGER audit_heads_move_by_one",
        ],
        #[allow(unreachable_patterns)]
        _ => &[
            "DROP TRIGGER audit_log_is_append_only ON audit_log",
            "DROP TRIGGER audit_heads_move_by_one ON audit_heads",
        ],
    };
    for s in statements {
        store.execute_raw_for_tests(s).await.unwrap();
    }
}

async fn problem(store: &Store, clinic: &str) -> Option<ChainProblem> {
    store
        .verify_audit_chain(clinic, None)
        .await
        .unwrap()
        .problem
}

#[tokio::test]
async fn writes_of_client_data_are_in_the_trail_with_their_objects() {
    let (store, _g) = fresh_store().await;
    let w = world(&store, "Audited").await;
    let entries = store
        .audit_entries(
            &w.clinic_id,
            &bordin_store::AuditFilter {
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let seen: Vec<(&str, &str)> = entries
        .iter()
        .rev()
        .map(|e| (e.action.as_str(), e.object_type.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("create", "client"),
            ("create", "case"),
            ("create", "session")
        ]
    );
    // Outside a request the actor is the system; chained from the genesis hash.
    assert_eq!(entries[2].actor_kind, "system");
    assert_eq!(entries[2].prev_hash, GENESIS);
    assert_eq!(entries[0].prev_hash, entries[1].hash);
}

#[tokio::test]
async fn the_trail_refuses_update_and_delete() {
    let (store, _g, clinic, _) = trail(2).await;
    for sql in [
        format!("UPDATE audit_log SET actor_id = 'x' WHERE clinic_id = '{clinic}'"),
        format!("DELETE FROM audit_log WHERE clinic_id = '{clinic}'"),
        format!("DELETE FROM audit_heads WHERE clinic_id = '{clinic}'"),
        format!("UPDATE audit_heads SET seq = 1 WHERE clinic_id = '{clinic}'"),
    ] {
        let err = store.execute_raw_for_tests(&sql).await.unwrap_err();
        assert!(err.to_string().contains("audit"), "{sql}: {err}");
    }
}

/// Group appends move the head several entries at once (migration 0010), but never past the
/// chain's last entry nor to a hash that is not that entry's.
#[tokio::test]
async fn the_head_moves_only_to_an_entry_of_its_chain() {
    let (store, _g, clinic, entries) = trail(3).await;
    let head = store.audit_heads().await.unwrap().remove(0);
    // Inserting the entries moved the head to the last of them (migration 0012).
    let chain = store.verify_audit_chain(&clinic, None).await.unwrap();
    assert_eq!((head.seq, &head.hash), (entries, &chain.head));
    for sql in [
        format!(
            "UPDATE audit_heads SET seq = {}, hash = '{}' WHERE clinic_id = '{clinic}'",
            entries + 5,
            head.hash
        ),
        format!(
            "UPDATE audit_heads SET seq = {}, hash = '{GENESIS}' WHERE clinic_id = '{clinic}'",
            entries + 1
        ),
    ] {
        let err = store.execute_raw_for_tests(&sql).await.unwrap_err();
        assert!(err.to_string().contains("audit chain head"), "{sql}: {err}");
    }
}

#[tokio::test]
async fn a_changed_entry_is_named() {
    let (store, _g, clinic, _) = trail(4).await;
    drop_guards(&store).await;
    store
        .execute_raw_for_tests(&format!(
            "UPDATE audit_log SET actor_id = 'someone-else' WHERE clinic_id = '{clinic}' AND seq = 5"
        ))
        .await
        .unwrap();
    assert_eq!(
        problem(&store, &clinic).await,
        Some(ChainProblem::Changed { seq: 5 })
    );
}

#[tokio::test]
async fn a_changed_hash_is_named_where_the_link_breaks() {
    // Rewriting an entry's stored hash to fit its new content breaks the next entry's link.
    let (store, _g, clinic, _) = trail(4).await;
    drop_guards(&store).await;
    store
        .execute_raw_for_tests(&format!(
            "UPDATE audit_log SET hash = '{GENESIS}' WHERE clinic_id = '{clinic}' AND seq = 4"
        ))
        .await
        .unwrap();
    assert_eq!(
        problem(&store, &clinic).await,
        Some(ChainProblem::Changed { seq: 4 })
    );
}

#[tokio::test]
async fn a_removed_entry_is_named() {
    let (store, _g, clinic, _) = trail(4).await;
    drop_guards(&store).await;
    store
        .execute_raw_for_tests(&format!(
            "DELETE FROM audit_log WHERE clinic_id = '{clinic}' AND seq = 3"
        ))
        .await
        .unwrap();
    assert_eq!(
        problem(&store, &clinic).await,
        Some(ChainProblem::Missing { seq: 3, next: 4 })
    );
}

#[tokio::test]
async fn reordered_entries_are_named() {
    let (store, _g, clinic, _) = trail(4).await;
    drop_guards(&store).await;
    for sql in [
        "UPDATE audit_log SET seq = 1004 WHERE clinic_id = '{c}' AND seq = 4",
        "UPDATE audit_log SET seq = 4 WHERE clinic_id = '{c}' AND seq = 5",
        "UPDATE audit_log SET seq = 5 WHERE clinic_id = '{c}' AND seq = 1004",
    ] {
        store
            .execute_raw_for_tests(&sql.replace("{c}", &clinic))
            .await
            .unwrap();
    }
    assert_eq!(
        problem(&store, &clinic).await,
        Some(ChainProblem::Changed { seq: 4 })
    );
}

#[tokio::test]
async fn a_cut_off_end_is_found_from_the_stored_head() {
    let (store, _g, clinic, n) = trail(4).await;
    drop_guards(&store).await;
    store
        .execute_raw_for_tests(&format!(
            "DELETE FROM audit_log WHERE clinic_id = '{clinic}' AND seq > {}",
            n - 2
        ))
        .await
        .unwrap();
    assert_eq!(
        problem(&store, &clinic).await,
        Some(ChainProblem::Truncated {
            last: n - 2,
            expected: n
        })
    );
}

#[tokio::test]
async fn a_cut_off_end_with_its_head_rewritten_is_found_only_from_an_anchor() {
    let (store, _g, clinic, n) = trail(4).await;
    let head = store
        .audit_heads()
        .await
        .unwrap()
        .into_iter()
        .find(|h| h.clinic_id == clinic)
        .unwrap();
    assert_eq!(head.seq, n);
    drop_guards(&store).await;
    let kept: AuditEntry = store
        .audit_entries(
            &clinic,
            &bordin_store::AuditFilter {
                before_seq: Some(n - 1),
                limit: 1,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .remove(0);
    assert_eq!(kept.seq, n - 2);
    for sql in [
        format!(
            "DELETE FROM audit_log WHERE clinic_id = '{clinic}' AND seq > {}",
            n - 2
        ),
        format!(
            "UPDATE audit_heads SET seq = {}, hash = '{}' WHERE clinic_id = '{clinic}'",
            n - 2,
            kept.hash
        ),
    ] {
        store.execute_raw_for_tests(&sql).await.unwrap();
    }
    assert_eq!(problem(&store, &clinic).await, None, "covered tracks");
    let report = store
        .verify_audit_chain(&clinic, Some((head.seq, &head.hash)))
        .await
        .unwrap();
    assert_eq!(
        report.problem,
        Some(ChainProblem::Truncated {
            last: n - 2,
            expected: n
        })
    );
}

#[tokio::test]
async fn a_recomputed_chain_is_found_from_an_anchor() {
    // An attacker who rewrites entry 2 and recomputes every hash after it passes the plain
    // check, but not the anchored head.
    let (store, _g, clinic, n) = trail(3).await;
    let head = store.audit_heads().await.unwrap().remove(0);
    drop_guards(&store).await;
    let mut all = store
        .audit_entries(
            &clinic,
            &bordin_store::AuditFilter {
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    all.reverse();
    all[1].actor_id = "someone-else".into();
    let mut prev = GENESIS.to_owned();
    for e in &mut all {
        e.prev_hash = prev.clone();
        e.hash = AuditEntry::chain_hash(&prev, e);
        prev = e.hash.clone();
        store
            .execute_raw_for_tests(&format!(
                "UPDATE audit_log SET actor_id = '{}', prev_hash = '{}', hash = '{}' WHERE clinic_id = '{clinic}' AND seq = {}",
                e.actor_id, e.prev_hash, e.hash, e.seq
            ))
            .await
            .unwrap();
    }
    assert_eq!(problem(&store, &clinic).await, None);
    let report = store
        .verify_audit_chain(&clinic, Some((head.seq, &head.hash)))
        .await
        .unwrap();
    assert_eq!(
        report.problem,
        Some(ChainProblem::AnchorMismatch { seq: n })
    );
}

#[tokio::test]
async fn concurrent_appends_make_one_unbroken_chain() {
    let (store, _g, clinic, n) = trail(0).await;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let store = store.clone();
        let clinic = clinic.clone();
        tasks.push(tokio::spawn(async move {
            store
                .audit(&AuditEvent {
                    clinic_id: &clinic,
                    action: "read",
                    object_type: "case",
                    object_id: &format!("case-{i}"),
                    case_id: None,
                    outcome: Outcome::Ok,
                })
                .await
                .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let report = store.verify_audit_chain(&clinic, None).await.unwrap();
    assert_eq!(report.problem, None);
    assert_eq!(report.entries, n + 24);
}
