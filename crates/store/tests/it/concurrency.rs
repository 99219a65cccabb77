//! Read-then-write steps under concurrent writers. SQLite serialises writers (`BEGIN IMMEDIATE`);
//! PostgreSQL runs them in parallel at READ COMMITTED, where each of these would lose or double a
//! write without the store's row locks and unique constraints (ARCHITECTURE.md, Storage notes).

use std::sync::Arc;

use bordin_core::goals::{GoalDraft, GoalStatus, Rater};
use bordin_store::{Actor, Change, EditKind, NewAlert, UpdateOutcome};

use crate::support::{
    fresh_store, pending_administration, phq9_values, registry, scored, submit, world, T0,
};

const WRITERS: i64 = 8;

async fn concurrent_submissions_to_one_case_all_reach_its_series() {
    let (store, _g) = fresh_store().await;
    let w = Arc::new(world(&store, "Clinic").await);
    let phq9 = registry().get("phq9").unwrap().clone();
    let mut tasks = Vec::new();
    for i in 0..WRITERS {
        let (store, w, phq9) = (store.clone(), w.clone(), phq9.clone());
        tasks.push(tokio::spawn(async move {
            let adm = pending_administration(&store, &w, &phq9, None).await;
            // Totals 0, 1, …, 7 (items 1–3 carry i), so each response is recognisable.
            let items = [
                i.min(3),
                (i - 3).clamp(0, 3),
                (i - 6).clamp(0, 3),
                0,
                0,
                0,
                0,
                0,
                0,
            ];
            let (answers, sheet) = scored(&phq9, &phq9_values(items));
            submit(&store, &w, &phq9, &answers, &sheet, Some(&adm), T0 + i).await
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // The stored read model must equal a rebuild from the data: a submission whose rebuild read
    // the case before another's commit, and wrote after it, would have dropped that response.
    let stored = store.case_series(&w.clinic_id, &w.case_id).await.unwrap();
    store
        .refresh_case_series(&w.clinic_id, &w.case_id, T0 + 100)
        .await
        .unwrap();
    let rebuilt = store.case_series(&w.clinic_id, &w.case_id).await.unwrap();
    assert_eq!(stored, rebuilt, "the series lost a concurrent submission");
    let scores = store.case_scores(&w.clinic_id, &w.case_id).await.unwrap();
    let mut totals: Vec<f64> = scores
        .iter()
        .filter(|s| s.scale_id == "total")
        .filter_map(|s| s.value)
        .collect();
    totals.sort_by(f64::total_cmp);
    assert_eq!(totals, vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
}

async fn concurrent_edits_from_one_version_write_exactly_one() {
    let (store, _g) = fresh_store().await;
    let w = Arc::new(world(&store, "Clinic").await);
    let change = |at| Change {
        actor: Actor {
            role: Rater::Clinician,
            id: "clinician",
        },
        at,
        reason: None,
    };
    let draft = GoalDraft::parse("Sleep better", "It matters", 2, None, "", None).unwrap();
    let g = store
        .create_goal(
            &w.clinic_id,
            &w.case_id,
            &draft,
            GoalStatus::Proposed,
            &change(T0),
        )
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..WRITERS {
        let (store, w, goal_id) = (store.clone(), w.clone(), g.goal_id.clone());
        tasks.push(tokio::spawn(async move {
            let draft = GoalDraft::parse(
                &format!("Sleep better, try {i}"),
                "It matters",
                2,
                None,
                "",
                None,
            )
            .unwrap();
            let change = Change {
                actor: Actor {
                    role: Rater::Clinician,
                    id: "clinician",
                },
                at: T0 + 1 + i,
                reason: None,
            };
            store
                .update_goal(&w.clinic_id, &goal_id, 1, &draft, EditKind::Edited, &change)
                .await
                .unwrap()
        }));
    }
    let mut updated = 0;
    for t in tasks {
        match t.await.unwrap() {
            UpdateOutcome::Updated { version } => {
                assert_eq!(version, 2);
                updated += 1;
            }
            UpdateOutcome::Conflict { current } => assert_eq!(current.version, 2),
        }
    }
    assert_eq!(updated, 1, "exactly one edit from version 1 is written");
    let log = store
        .agreements_log(&w.clinic_id, &w.case_id)
        .await
        .unwrap();
    assert_eq!(log.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2]);
}

async fn concurrent_changes_to_one_case_number_the_log_without_gaps() {
    let (store, _g) = fresh_store().await;
    let w = Arc::new(world(&store, "Clinic").await);
    let mut tasks = Vec::new();
    for i in 0..WRITERS {
        let (store, w) = (store.clone(), w.clone());
        tasks.push(tokio::spawn(async move {
            let draft =
                GoalDraft::parse(&format!("Goal {i}"), "It matters", 2, None, "", None).unwrap();
            let change = Change {
                actor: Actor {
                    role: Rater::Client,
                    id: "client",
                },
                at: T0 + i,
                reason: None,
            };
            store
                .create_goal(
                    &w.clinic_id,
                    &w.case_id,
                    &draft,
                    GoalStatus::Proposed,
                    &change,
                )
                .await
                .unwrap()
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let log = store
        .agreements_log(&w.clinic_id, &w.case_id)
        .await
        .unwrap();
    let mut seqs: Vec<i64> = log.iter().map(|e| e.seq).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=WRITERS).collect::<Vec<_>>());
}

async fn concurrent_raises_of_one_event_store_one_alert() {
    let (store, _g) = fresh_store().await;
    let w = Arc::new(world(&store, "Clinic").await);
    let mut tasks = Vec::new();
    for i in 0..WRITERS {
        let (store, w) = (store.clone(), w.clone());
        tasks.push(tokio::spawn(async move {
            let alert = NewAlert {
                case_id: w.case_id.clone(),
                kind: "rupture".into(),
                measure: "session_check.total".into(),
                session_number: 1,
                event_key: "rupture:session_check.total:1".into(),
                urgency: "amber".into(),
                message: "A drop in the alliance".into(),
                detail: format!("writer {i}"),
                info: false,
            };
            store
                .raise_alerts(&w.clinic_id, &[alert], T0 + i)
                .await
                .unwrap()
        }));
    }
    let mut raised = Vec::new();
    for t in tasks {
        raised.extend(t.await.unwrap());
    }
    assert_eq!(raised.len(), 1, "one alert per event: {raised:?}");
    let alerts = store
        .alerts(&w.clinic_id, Some(&w.case_id), &[])
        .await
        .unwrap();
    assert_eq!(alerts.len(), 1);
    let events = store.alert_events(&w.clinic_id, &raised[0]).await.unwrap();
    assert_eq!(events.len(), 1, "one 'raised' event");
}

/// Many links answered at once, each twice (a double tap, a retry), plus a closed form and one
/// submission the schema refuses: submissions that arrive together are written as one group
/// (one commit), yet each gets its own outcome. Exactly one response per link, the second
/// submission answered with the first's id, the closed form refused, the refused one failing
/// alone without taking its group with it, one `submit` entry per stored response in a chain
/// that verifies, and the case's series equal to a rebuild.
async fn submissions_arriving_together_commit_as_a_group_with_one_outcome_each() {
    let (store, _g) = fresh_store().await;
    let w = Arc::new(world(&store, "Clinic").await);
    let phq9 = registry().get("phq9").unwrap().clone();
    const LINKS: usize = 24;
    let mut admins = Vec::new();
    for _ in 0..=LINKS {
        admins.push(pending_administration(&store, &w, &phq9, None).await);
    }
    // The last form is closed before anyone answers it.
    let closed = admins.pop().unwrap();
    store
        .execute_raw_for_tests(&format!(
            "UPDATE administrations SET status = 'cancelled' WHERE administration_id = '{closed}'"
        ))
        .await
        .unwrap();
    let (answers, sheet) = scored(&phq9, &phq9_values([1, 1, 1, 0, 0, 0, 0, 0, 0]));
    let (answers, sheet) = (Arc::new(answers), Arc::new(sheet));
    let submit_one = |admin: Option<String>, session: String, at: i64| {
        let (store, w, phq9, answers, sheet) = (
            store.clone(),
            w.clone(),
            phq9.clone(),
            answers.clone(),
            sheet.clone(),
        );
        tokio::spawn(async move {
            store
                .submit_response(
                    &w.clinic_id,
                    &bordin_store::NewResponse {
                        administration_id: admin.as_deref(),
                        case_id: &w.case_id,
                        session_id: Some(&session),
                        client_id: Some(&w.client_id),
                        instrument: &phq9,
                        respondent: phq9.respondent,
                        answers: &answers,
                        sheet: &sheet,
                        submitted_at: at,
                        entered_by: "link",
                        source: bordin_core::care::ResponseSource::Link,
                    },
                )
                .await
        })
    };
    let mut tasks = Vec::new();
    for round in 0..2 {
        for (i, a) in admins.iter().enumerate() {
            tasks.push((
                Some(a.clone()),
                submit_one(
                    Some(a.clone()),
                    w.session.session_id.clone(),
                    T0 + i as i64 + round,
                ),
            ));
        }
    }
    let closed_task = submit_one(Some(closed.clone()), w.session.session_id.clone(), T0);
    let refused_task = submit_one(None, "no-such-session".into(), T0);

    let mut by_admin: std::collections::BTreeMap<String, Vec<bordin_store::Submitted>> =
        Default::default();
    for (admin, t) in tasks {
        let outcome = t
            .await
            .unwrap()
            .expect("a link's submission is stored or already stored");
        by_admin.entry(admin.unwrap()).or_default().push(outcome);
    }
    assert_eq!(by_admin.len(), LINKS);
    for (admin, outcomes) in &by_admin {
        let stored: Vec<&str> = outcomes
            .iter()
            .filter_map(|o| match o {
                bordin_store::Submitted::Stored { response_id } => Some(response_id.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(stored.len(), 1, "{admin}: exactly one stored: {outcomes:?}");
        assert!(
            outcomes.iter().all(|o| o.response_id() == stored[0]),
            "{admin}: the repeat is answered with the first response: {outcomes:?}"
        );
    }
    match closed_task.await.unwrap() {
        Err(bordin_store::StoreError::Conflict(m)) => assert!(m.contains("no longer open"), "{m}"),
        other => panic!("a closed form is refused: {other:?}"),
    }
    assert!(
        refused_task.await.unwrap().is_err(),
        "a response naming no session of the clinic is refused"
    );

    let scores = store.case_scores(&w.clinic_id, &w.case_id).await.unwrap();
    assert_eq!(
        scores.iter().filter(|s| s.scale_id == "total").count(),
        LINKS,
        "one response per link, nothing from the refused one"
    );
    let submits = store
        .audit_entries(
            &w.clinic_id,
            &bordin_store::AuditFilter {
                limit: 1000,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "submit")
        .count();
    assert_eq!(submits, LINKS, "one submit entry per stored response");
    let report = store.verify_audit_chain(&w.clinic_id, None).await.unwrap();
    assert_eq!(report.problem, None);
    // The groups' inserts moved the stored head to the chain's last entry (migration 0012).
    let head = store
        .audit_heads()
        .await
        .unwrap()
        .into_iter()
        .find(|h| h.clinic_id == w.clinic_id)
        .expect("the clinic has a head");
    assert_eq!((head.seq, head.hash), (report.entries, report.head));

    let stored = store.case_series(&w.clinic_id, &w.case_id).await.unwrap();
    store
        .refresh_case_series(&w.clinic_id, &w.case_id, T0 + 100)
        .await
        .unwrap();
    assert_eq!(
        store.case_series(&w.clinic_id, &w.case_id).await.unwrap(),
        stored
    );
}

bordin_store::both_backends!(
    submissions_arriving_together_commit_as_a_group_with_one_outcome_each,
    concurrent_submissions_to_one_case_all_reach_its_series,
    concurrent_edits_from_one_version_write_exactly_one,
    concurrent_changes_to_one_case_number_the_log_without_gaps,
    concurrent_raises_of_one_event_store_one_alert,
);
