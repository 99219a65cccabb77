//! Goals, tasks, formulation, consent and the agreements log: versioned edits that never
//! silently overwrite, a log written with every change, and clinic isolation.

use bordin_core::goals::{
    goal_consensus, ConsentKind, FormulationDraft, GoalDraft, GoalRating, GoalStatus, LogAction,
    LogObject, Rater, RatingKind, TaskDraft, TaskOutcome, TaskReport, TaskStatus,
};
use bordin_store::{hash_secret, Actor, Change, EditKind, StoreError, UpdateOutcome};

use crate::support::{fresh_store, world, World, T0};

fn clinician(w: &World, at: i64) -> Change<'_> {
    Change {
        actor: Actor {
            role: Rater::Clinician,
            id: &w.clinician_id,
        },
        at,
        reason: None,
    }
}

fn client(w: &World, at: i64) -> Change<'_> {
    Change {
        actor: Actor {
            role: Rater::Client,
            id: &w.client_id,
        },
        at,
        reason: None,
    }
}

/// Records `granted` for the world's client on its case, as `change`.
async fn decide(
    store: &bordin_store::Store,
    w: &World,
    kind: ConsentKind,
    granted: bool,
    change: &Change<'_>,
) {
    store
        .record_consent(
            &w.clinic_id,
            &w.case_id,
            &w.client_id,
            kind,
            granted,
            change,
        )
        .await
        .unwrap();
}

fn goal(words: &str) -> GoalDraft {
    GoalDraft::parse(words, "It matters to me", 2, None, "", None).unwrap()
}

fn task(title: &str) -> TaskDraft {
    TaskDraft::parse(
        title,
        "Small steps towards the goal",
        "client",
        2,
        Some("2026-03-09"),
    )
    .unwrap()
}

async fn a_stale_edit_gets_the_current_goal_and_overwrites_nothing() {
    let (store, _g) = fresh_store().await;
    let w = world(&store, "Clinic").await;
    let g = store
        .create_goal(
            &w.clinic_id,
            &w.case_id,
            &goal("Sleep better"),
            GoalStatus::Proposed,
            &client(&w, T0),
        )
        .await
        .unwrap();
    assert_eq!(g.version, 1);
    assert_eq!(g.proposed_by, Rater::Client);
    assert_eq!(g.status, GoalStatus::Proposed);

    // The clinician edits from version 1 …
    let edited = GoalDraft::parse(
        "Sleep six hours a night",
        "I am exhausted",
        1,
        Some("2026-06-30"),
        "I wake up rested",
        None,
    )
    .unwrap();
    let out = store
        .update_goal(
            &w.clinic_id,
            &g.goal_id,
            1,
            &edited,
            EditKind::Edited,
            &clinician(&w, T0 + 1),
        )
        .await
        .unwrap();
    assert_eq!(out, UpdateOutcome::Updated { version: 2 });

    // … and the client, who also loaded version 1, saves later: conflict, with the current goal.
    let out = store
        .update_goal(
            &w.clinic_id,
            &g.goal_id,
            1,
            &goal("Sleep through the night"),
            EditKind::Edited,
            &client(&w, T0 + 2),
        )
        .await
        .unwrap();
    let UpdateOutcome::Conflict { current } = out else {
        panic!("expected a conflict, got {out:?}");
    };
    assert_eq!(current.version, 2);
    assert_eq!(current.words, "Sleep six hours a night");
    assert_eq!(current.updated_by, w.clinician_id);
    // Nothing was overwritten and nothing logged for the refused edit.
    let now = store.goal(&w.clinic_id, &g.goal_id).await.unwrap();
    assert_eq!(now, current);
    assert_eq!(
        store
            .agreements_log(&w.clinic_id, &w.case_id)
            .await
            .unwrap()
            .len(),
        2
    );

    // The client, having seen both, renegotiates from version 2 with a reason; then it is agreed.
    let mut change = client(&w, T0 + 3);
    change.reason = Some("six hours is too ambitious for now");
    let out = store
        .update_goal(
            &w.clinic_id,
            &g.goal_id,
            2,
            &goal("Sleep five hours a night"),
            EditKind::Renegotiated,
            &change,
        )
        .await
        .unwrap();
    assert_eq!(out, UpdateOutcome::Updated { version: 3 });
    let out = store
        .set_goal_status(
            &w.clinic_id,
            &g.goal_id,
            3,
            GoalStatus::Active,
            &clinician(&w, T0 + 4),
        )
        .await
        .unwrap();
    assert_eq!(out, UpdateOutcome::Updated { version: 4 });
    // A status change from a stale version conflicts too.
    assert!(matches!(
        store
            .set_goal_status(&w.clinic_id, &g.goal_id, 3, GoalStatus::Dropped, &clinician(&w, T0 + 5))
            .await
            .unwrap(),
        UpdateOutcome::Conflict { current } if current.status == GoalStatus::Active && current.version == 4
    ));

    // The log: every change in order, with who, why and a snapshot of each version.
    let log = store
        .agreements_log(&w.clinic_id, &w.case_id)
        .await
        .unwrap();
    let brief: Vec<(i64, LogAction, i64, Rater)> = log
        .iter()
        .map(|e| (e.seq, e.action, e.version, e.actor_role))
        .collect();
    assert_eq!(
        brief,
        [
            (1, LogAction::Created, 1, Rater::Client),
            (2, LogAction::Edited, 2, Rater::Clinician),
            (3, LogAction::Renegotiated, 3, Rater::Client),
            (4, LogAction::Status, 4, Rater::Clinician),
        ]
    );
    assert!(log
        .iter()
        .all(|e| e.object_type == LogObject::Goal && e.object_id == g.goal_id));
    assert_eq!(log[0].snapshot["words"], "Sleep better");
    assert_eq!(log[1].snapshot["words"], "Sleep six hours a night");
    assert_eq!(log[1].snapshot["target_date"], "2026-06-30");
    assert_eq!(log[1].snapshot["version"], 2);
    assert_eq!(
        log[2].reason.as_deref(),
        Some("six hours is too ambitious for now")
    );
    assert_eq!(log[2].snapshot["words"], "Sleep five hours a night");
    assert_eq!(log[3].snapshot["status"], "active");
    assert_eq!(log[3].at, T0 + 4);
    assert_eq!(
        store
            .object_history(&w.clinic_id, LogObject::Goal, &g.goal_id)
            .await
            .unwrap(),
        log
    );

    // Unknown goals are not found, not conflicts.
    assert!(matches!(
        store
            .update_goal(
                &w.clinic_id,
                "nope",
                1,
                &goal("x"),
                EditKind::Edited,
                &client(&w, T0)
            )
            .await,
        Err(StoreError::NotFound { what: "goal" })
    ));
}

async fn the_agreements_log_refuses_updates_and_deletes() {
    let (store, _g) = fresh_store().await;
    let w = world(&store, "Clinic").await;
    store
        .create_goal(
            &w.clinic_id,
            &w.case_id,
            &goal("Walk daily"),
            GoalStatus::Active,
            &clinician(&w, T0),
        )
        .await
        .unwrap();
    for sql in [
        "UPDATE agreements_log SET reason = 'rewritten'",
        "DELETE FROM agreements_log",
    ] {
        assert!(
            store.execute_raw_for_tests(sql).await.is_err(),
            "{sql} must be refused"
        );
    }
    let log = store
        .agreements_log(&w.clinic_id, &w.case_id)
        .await
        .unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].reason, None);
}

async fn ratings_tasks_and_reports_are_kept_and_logged() {
    let (store, _g) = fresh_store().await;
    let w = world(&store, "Clinic").await;
    let other = world(&store, "Other clinic").await;
    let sleep = store
        .create_goal(
            &w.clinic_id,
            &w.case_id,
            &goal("Sleep better"),
            GoalStatus::Active,
            &clinician(&w, T0),
        )
        .await
        .unwrap();
    let friends = store
        .create_goal(
            &w.clinic_id,
            &w.case_id,
            &goal("See friends"),
            GoalStatus::Active,
            &client(&w, T0 + 1),
        )
        .await
        .unwrap();
    let session = Some(w.session.session_id.as_str());
    let rate = |kind, value| GoalRating::new(kind, value).unwrap();
    // Agreement: sleep client 9 / clinician 6, friends client 4 / clinician 7.
    for (g, change, value) in [
        (&sleep, client(&w, T0 + 10), 9),
        (&sleep, clinician(&w, T0 + 11), 6),
        (&friends, client(&w, T0 + 12), 4),
        (&friends, clinician(&w, T0 + 13), 7),
    ] {
        store
            .rate_goal(
                &w.clinic_id,
                &g.goal_id,
                session,
                rate(RatingKind::Agreement, value),
                &change,
            )
            .await
            .unwrap();
    }
    let progress = store
        .rate_goal(
            &w.clinic_id,
            &sleep.goal_id,
            session,
            rate(RatingKind::Progress, 3),
            &client(&w, T0 + 14),
        )
        .await
        .unwrap();
    assert_eq!(progress.rater, Rater::Client);
    assert_eq!(progress.session_id.as_deref(), session);
    store
        .rate_goal(
            &w.clinic_id,
            &sleep.goal_id,
            None,
            rate(RatingKind::Gas, -1),
            &clinician(&w, T0 + 15),
        )
        .await
        .unwrap();
    // Satisfaction waits until the goal is reached.
    assert!(matches!(
        store
            .rate_goal(
                &w.clinic_id,
                &sleep.goal_id,
                None,
                rate(RatingKind::Satisfaction, 8),
                &client(&w, T0 + 16)
            )
            .await,
        Err(StoreError::Conflict(_))
    ));
    // A session of another case (here: another clinic's) is refused.
    assert!(matches!(
        store
            .rate_goal(
                &w.clinic_id,
                &sleep.goal_id,
                Some(&other.session.session_id),
                rate(RatingKind::Progress, 5),
                &client(&w, T0 + 16)
            )
            .await,
        Err(StoreError::NotFound { what: "session" })
    ));
    let ratings = store.goal_ratings(&w.clinic_id, &w.case_id).await.unwrap();
    assert_eq!(ratings.len(), 6);
    assert_eq!(
        ratings
            .iter()
            .map(|r| (r.kind, r.value))
            .collect::<Vec<_>>(),
        [
            (RatingKind::Agreement, 9),
            (RatingKind::Agreement, 6),
            (RatingKind::Agreement, 4),
            (RatingKind::Agreement, 7),
            (RatingKind::Progress, 3),
            (RatingKind::Gas, -1),
        ]
    );
    // Goal consensus from the stored ratings: (|9 − 6| + |4 − 7|) / 2 = 3.
    let pair = |g: &str| {
        let of = |rater| {
            ratings
                .iter()
                .find(|r| r.goal_id == g && r.kind == RatingKind::Agreement && r.rater == rater)
                .map(|r| r.value as f64)
                .unwrap()
        };
        (of(Rater::Client), of(Rater::Clinician))
    };
    assert_eq!(
        goal_consensus(&[pair(&sleep.goal_id), pair(&friends.goal_id)]),
        Some(3.0)
    );

    // Reached, then satisfaction can be rated.
    let out = store
        .set_goal_status(
            &w.clinic_id,
            &sleep.goal_id,
            1,
            GoalStatus::Reached,
            &clinician(&w, T0 + 20),
        )
        .await
        .unwrap();
    assert_eq!(out, UpdateOutcome::Updated { version: 2 });
    store
        .rate_goal(
            &w.clinic_id,
            &sleep.goal_id,
            None,
            rate(RatingKind::Satisfaction, 8),
            &client(&w, T0 + 21),
        )
        .await
        .unwrap();

    // Tasks: created for a goal, edited with the version check, reported by the client.
    let t = store
        .create_task(
            &w.clinic_id,
            &friends.goal_id,
            &task("Text one friend"),
            &clinician(&w, T0 + 30),
        )
        .await
        .unwrap();
    assert_eq!(
        (t.version, t.status, t.case_id.as_str()),
        (1, TaskStatus::Agreed, w.case_id.as_str())
    );
    assert_eq!(t.rationale, "Small steps towards the goal");
    let out = store
        .update_task(
            &w.clinic_id,
            &t.task_id,
            1,
            &task("Text two friends"),
            EditKind::Renegotiated,
            &client(&w, T0 + 31),
        )
        .await
        .unwrap();
    assert_eq!(out, UpdateOutcome::Updated { version: 2 });
    let out = store
        .update_task(
            &w.clinic_id,
            &t.task_id,
            1,
            &task("Call a friend"),
            EditKind::Edited,
            &clinician(&w, T0 + 32),
        )
        .await
        .unwrap();
    assert!(
        matches!(&out, UpdateOutcome::Conflict { current } if current.title == "Text two friends" && current.version == 2),
        "{out:?}"
    );
    let report = store
        .report_task(
            &w.clinic_id,
            &t.task_id,
            session,
            &TaskReport::parse(TaskOutcome::Completed, Some(8), Some(9), "It went well").unwrap(),
            &client(&w, T0 + 33),
        )
        .await
        .unwrap();
    store
        .report_task(
            &w.clinic_id,
            &t.task_id,
            None,
            &TaskReport::parse(TaskOutcome::Skipped, None, Some(3), "").unwrap(),
            &client(&w, T0 + 34),
        )
        .await
        .unwrap();
    let out = store
        .set_task_status(
            &w.clinic_id,
            &t.task_id,
            2,
            TaskStatus::Done,
            &client(&w, T0 + 35),
        )
        .await
        .unwrap();
    assert_eq!(out, UpdateOutcome::Updated { version: 3 });
    let reports = store.task_reports(&w.clinic_id, &w.case_id).await.unwrap();
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[0], report);
    assert_eq!(
        (
            reports[0].helpful,
            reports[0].relevant,
            reports[0].note.as_deref()
        ),
        (Some(8), Some(9), Some("It went well"))
    );
    assert_eq!(
        (
            reports[1].outcome,
            reports[1].helpful,
            reports[1].note.as_deref()
        ),
        (TaskOutcome::Skipped, None, None)
    );
    let tasks = store.tasks(&w.clinic_id, &w.case_id).await.unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!((tasks[0].version, tasks[0].status), (3, TaskStatus::Done));

    // The task's history: created, renegotiated, two reports (at version 2), done.
    let history = store
        .object_history(&w.clinic_id, LogObject::Task, &t.task_id)
        .await
        .unwrap();
    assert_eq!(
        history
            .iter()
            .map(|e| (e.action, e.version))
            .collect::<Vec<_>>(),
        [
            (LogAction::Created, 1),
            (LogAction::Renegotiated, 2),
            (LogAction::Reported, 2),
            (LogAction::Reported, 2),
            (LogAction::Status, 3),
        ]
    );
    assert_eq!(history[2].snapshot["helpful"], 8);
    assert_eq!(history[2].snapshot["outcome"], "completed");
    // Ratings are logged against the goal's version, with the rating as the snapshot.
    let goal_history = store
        .object_history(&w.clinic_id, LogObject::Goal, &sleep.goal_id)
        .await
        .unwrap();
    let rated: Vec<(i64, serde_json::Value)> = goal_history
        .iter()
        .filter(|e| e.action == LogAction::Rated)
        .map(|e| (e.version, e.snapshot["kind"].clone()))
        .collect();
    assert_eq!(rated.len(), 5);
    assert_eq!(rated[0], (1, serde_json::json!("agreement")));
    assert_eq!(rated[4], (2, serde_json::json!("satisfaction")));
    // The case's log numbers every entry in order.
    let log = store
        .agreements_log(&w.clinic_id, &w.case_id)
        .await
        .unwrap();
    assert_eq!(
        log.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=log.len() as i64).collect::<Vec<_>>()
    );
    assert!(log.windows(2).all(|p| p[0].at <= p[1].at));
}

async fn the_formulation_is_versioned_one_current_per_case() {
    let (store, _g) = fresh_store().await;
    let w = world(&store, "Clinic").await;
    let other = world(&store, "Other clinic").await;
    let g = store
        .create_goal(
            &w.clinic_id,
            &w.case_id,
            &goal("Sleep better"),
            GoalStatus::Active,
            &clinician(&w, T0),
        )
        .await
        .unwrap();
    assert_eq!(
        store.formulation(&w.clinic_id, &w.case_id).await.unwrap(),
        None
    );
    let first = FormulationDraft::parse(
        "Low mood since the move",
        "Slow pace; no homework on weekends",
        "Loyal friends",
        "",
        std::slice::from_ref(&g.goal_id),
    )
    .unwrap();
    let out = store
        .save_formulation(&w.clinic_id, &w.case_id, 0, &first, &clinician(&w, T0 + 1))
        .await
        .unwrap();
    assert_eq!(out, UpdateOutcome::Updated { version: 1 });
    // A second "first" version (from 0) conflicts with version 1.
    let out = store
        .save_formulation(&w.clinic_id, &w.case_id, 0, &first, &client(&w, T0 + 2))
        .await
        .unwrap();
    assert!(matches!(out, UpdateOutcome::Conflict { current } if current.version == 1));
    let second = FormulationDraft::parse(
        "Low mood since the move",
        "Slow pace",
        "Loyal friends; runs",
        "Wants their faith considered",
        std::slice::from_ref(&g.goal_id),
    )
    .unwrap();
    let mut change = clinician(&w, T0 + 3);
    change.reason = Some("reviewed together in session 4");
    let out = store
        .save_formulation(&w.clinic_id, &w.case_id, 1, &second, &change)
        .await
        .unwrap();
    assert_eq!(out, UpdateOutcome::Updated { version: 2 });
    // A stale save (from version 1) gets version 2 back and writes nothing.
    let out = store
        .save_formulation(&w.clinic_id, &w.case_id, 1, &first, &client(&w, T0 + 4))
        .await
        .unwrap();
    let UpdateOutcome::Conflict { current } = out else {
        panic!("expected a conflict");
    };
    assert_eq!(current.version, 2);
    assert_eq!(
        current.identities_context.as_deref(),
        Some("Wants their faith considered")
    );
    assert_eq!(current.goal_ids, std::slice::from_ref(&g.goal_id));
    assert_eq!(
        current.reason.as_deref(),
        Some("reviewed together in session 4")
    );
    let now = store
        .formulation(&w.clinic_id, &w.case_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now, current);
    let history = store
        .formulation_history(&w.clinic_id, &w.case_id)
        .await
        .unwrap();
    assert_eq!(
        history.iter().map(|f| f.version).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(
        history[0].preferences.as_deref(),
        Some("Slow pace; no homework on weekends")
    );
    // Goals of other cases cannot be linked.
    let foreign = store
        .create_goal(
            &other.clinic_id,
            &other.case_id,
            &goal("Theirs"),
            GoalStatus::Active,
            &clinician(&other, T0),
        )
        .await
        .unwrap();
    let bad = FormulationDraft::parse("x", "", "", "", &[foreign.goal_id]).unwrap();
    assert!(matches!(
        store
            .save_formulation(&w.clinic_id, &w.case_id, 2, &bad, &clinician(&w, T0 + 5))
            .await,
        Err(StoreError::NotFound { what: "goal" })
    ));
    // Versions are rows that never change.
    assert!(store
        .execute_raw_for_tests("UPDATE formulations SET strengths = 'x'")
        .await
        .is_err());
    assert!(store
        .execute_raw_for_tests("DELETE FROM formulations")
        .await
        .is_err());
    let log = store
        .object_history(&w.clinic_id, LogObject::Formulation, &w.case_id)
        .await
        .unwrap();
    assert_eq!(
        log.iter()
            .map(|e| (e.action, e.version))
            .collect::<Vec<_>>(),
        [(LogAction::Created, 1), (LogAction::Edited, 2)]
    );
    assert_eq!(log[1].snapshot["strengths"], "Loyal friends; runs");
}

async fn consent_is_a_history_of_decisions() {
    let (store, _g) = fresh_store().await;
    let w = world(&store, "Clinic").await;
    let kind = ConsentKind::TranscriptAnalysis;
    assert!(!store
        .consent_in_force(&w.clinic_id, &w.case_id, &w.client_id, kind)
        .await
        .unwrap());
    let mut change = clinician(&w, T0);
    change.reason = Some("explained in session 1; leaflet given");
    decide(&store, &w, kind, true, &change).await;
    decide(
        &store,
        &w,
        ConsentKind::Questionnaires,
        true,
        &client(&w, T0 + 1),
    )
    .await;
    assert!(store
        .consent_in_force(&w.clinic_id, &w.case_id, &w.client_id, kind)
        .await
        .unwrap());
    decide(&store, &w, kind, false, &client(&w, T0 + 2)).await;
    assert!(!store
        .consent_in_force(&w.clinic_id, &w.case_id, &w.client_id, kind)
        .await
        .unwrap());
    assert!(store
        .consent_in_force(
            &w.clinic_id,
            &w.case_id,
            &w.client_id,
            ConsentKind::Questionnaires
        )
        .await
        .unwrap());
    let history = store.consents(&w.clinic_id, &w.case_id).await.unwrap();
    assert_eq!(
        history
            .iter()
            .map(|c| (c.kind, c.granted, c.recorded_by_role))
            .collect::<Vec<_>>(),
        [
            (kind, true, Rater::Clinician),
            (ConsentKind::Questionnaires, true, Rater::Client),
            (kind, false, Rater::Client),
        ]
    );
    assert_eq!(
        history[0].note.as_deref(),
        Some("explained in session 1; leaflet given")
    );
    assert_eq!(history[2].at, T0 + 2);
    let log = store
        .agreements_log(&w.clinic_id, &w.case_id)
        .await
        .unwrap();
    assert_eq!(
        log.iter()
            .map(|e| (e.object_type, e.action))
            .collect::<Vec<_>>(),
        [
            (LogObject::Consent, LogAction::Granted),
            (LogObject::Consent, LogAction::Granted),
            (LogObject::Consent, LogAction::Withdrawn),
        ]
    );
    assert_eq!(log[2].snapshot["kind"], "transcript_analysis");
    // Decisions cannot be rewritten.
    assert!(store
        .execute_raw_for_tests("UPDATE consent_records SET decision = 'granted'")
        .await
        .is_err());
    assert!(store
        .execute_raw_for_tests("DELETE FROM consent_records")
        .await
        .is_err());
    // Only clients of the case.
    assert!(matches!(
        store
            .record_consent(&w.clinic_id, &w.case_id, "someone", kind, true, &change)
            .await,
        Err(StoreError::NotFound { what: "client" })
    ));
}

async fn a_case_link_is_found_by_its_hash_until_revoked_or_expired() {
    let (store, _g) = fresh_store().await;
    let w = world(&store, "Clinic").await;
    let hash = hash_secret("the-secret-in-the-link");
    let link = store
        .create_case_link(
            &w.clinic_id,
            &w.case_id,
            &w.client_id,
            &hash,
            Some(T0 + 1000),
            &w.clinician_id,
            T0,
        )
        .await
        .unwrap();
    let found = store
        .case_link_by_hash(&w.clinic_id, &hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, link);
    assert_eq!(
        (found.case_id.as_str(), found.client_id.as_str()),
        (w.case_id.as_str(), w.client_id.as_str())
    );
    assert!(found.usable(T0 + 999));
    assert!(!found.usable(T0 + 1000));
    assert!(store
        .case_link_by_hash(&w.clinic_id, &hash_secret("guess"))
        .await
        .unwrap()
        .is_none());
    assert!(store.revoke_case_link(&w.clinic_id, &hash).await.unwrap());
    let revoked = store
        .case_link_by_hash(&w.clinic_id, &hash)
        .await
        .unwrap()
        .unwrap();
    assert!(revoked.revoked && !revoked.usable(T0));
    assert!(!store
        .revoke_case_link(&w.clinic_id, "unknown")
        .await
        .unwrap());
    // A link without expiry, for a client of the case only.
    let open = hash_secret("another");
    let l = store
        .create_case_link(
            &w.clinic_id,
            &w.case_id,
            &w.client_id,
            &open,
            None,
            &w.clinician_id,
            T0,
        )
        .await
        .unwrap();
    assert!(l.usable(i64::MAX));
    assert!(matches!(
        store
            .create_case_link(
                &w.clinic_id,
                &w.case_id,
                "stranger",
                &hash_secret("x"),
                None,
                &w.clinician_id,
                T0
            )
            .await,
        Err(StoreError::NotFound { what: "client" })
    ));
}

async fn another_clinic_sees_and_changes_nothing() {
    let (store, _g) = fresh_store().await;
    let a = world(&store, "Clinic A").await;
    let b = world(&store, "Clinic B").await;
    let g = store
        .create_goal(
            &a.clinic_id,
            &a.case_id,
            &goal("Sleep better"),
            GoalStatus::Active,
            &clinician(&a, T0),
        )
        .await
        .unwrap();
    let t = store
        .create_task(
            &a.clinic_id,
            &g.goal_id,
            &task("Wind down"),
            &clinician(&a, T0),
        )
        .await
        .unwrap();
    let draft = FormulationDraft::parse("Worry", "", "", "", &[]).unwrap();
    let out = store
        .save_formulation(&a.clinic_id, &a.case_id, 0, &draft, &clinician(&a, T0))
        .await
        .unwrap();
    assert_eq!(out, UpdateOutcome::Updated { version: 1 });
    let hash = hash_secret("a-link");
    store
        .create_case_link(
            &a.clinic_id,
            &a.case_id,
            &a.client_id,
            &hash,
            None,
            &a.clinician_id,
            T0,
        )
        .await
        .unwrap();

    // B's clinic id finds nothing of A's …
    assert!(matches!(
        store.goal(&b.clinic_id, &g.goal_id).await,
        Err(StoreError::NotFound { what: "goal" })
    ));
    assert!(store
        .goals(&b.clinic_id, &a.case_id)
        .await
        .unwrap()
        .is_empty());
    assert!(matches!(
        store.task(&b.clinic_id, &t.task_id).await,
        Err(StoreError::NotFound { what: "task" })
    ));
    assert!(store
        .tasks(&b.clinic_id, &a.case_id)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.formulation(&b.clinic_id, &a.case_id).await.unwrap(),
        None
    );
    assert!(store
        .agreements_log(&b.clinic_id, &a.case_id)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .object_history(&b.clinic_id, LogObject::Goal, &g.goal_id)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .case_link_by_hash(&b.clinic_id, &hash)
        .await
        .unwrap()
        .is_none());

    // … and can change nothing of A's.
    let as_b = clinician(&b, T0 + 1);
    assert!(matches!(
        store
            .update_goal(
                &b.clinic_id,
                &g.goal_id,
                1,
                &goal("Hijacked"),
                EditKind::Edited,
                &as_b
            )
            .await,
        Err(StoreError::NotFound { what: "goal" })
    ));
    assert!(matches!(
        store
            .set_task_status(&b.clinic_id, &t.task_id, 1, TaskStatus::Dropped, &as_b)
            .await,
        Err(StoreError::NotFound { what: "task" })
    ));
    assert!(matches!(
        store
            .create_goal(
                &b.clinic_id,
                &a.case_id,
                &goal("x"),
                GoalStatus::Proposed,
                &as_b
            )
            .await,
        Err(StoreError::NotFound { what: "case" })
    ));
    assert!(matches!(
        store
            .create_task(&b.clinic_id, &g.goal_id, &task("x"), &as_b)
            .await,
        Err(StoreError::NotFound { what: "goal" })
    ));
    assert!(matches!(
        store
            .rate_goal(
                &b.clinic_id,
                &g.goal_id,
                None,
                GoalRating::new(RatingKind::Agreement, 1).unwrap(),
                &as_b
            )
            .await,
        Err(StoreError::NotFound { what: "goal" })
    ));
    assert!(matches!(
        store
            .save_formulation(&b.clinic_id, &a.case_id, 1, &draft, &as_b)
            .await,
        Err(StoreError::NotFound { what: "case" })
    ));
    assert!(matches!(
        store
            .record_consent(
                &b.clinic_id,
                &a.case_id,
                &a.client_id,
                ConsentKind::ResearchExport,
                true,
                &as_b
            )
            .await,
        Err(StoreError::NotFound { what: "client" })
    ));
    assert!(!store.revoke_case_link(&b.clinic_id, &hash).await.unwrap());
    assert_eq!(store.goal(&a.clinic_id, &g.goal_id).await.unwrap(), g);
    assert_eq!(
        store
            .agreements_log(&a.clinic_id, &a.case_id)
            .await
            .unwrap()
            .len(),
        3
    );
}

/// `link_by_token` reads the administration, its case's setting, its client's latest
/// questionnaire-consent decision and the clinic's pack for the instrument in one query; each
/// part follows what the separate reads say.
async fn a_client_link_is_read_with_its_setting_consent_and_pack() {
    let (store, _g) = fresh_store().await;
    let w = world(&store, "Clinic").await;
    let registry = crate::support::registry();
    let wai = registry.get("wai_sr").unwrap();
    let id = crate::support::pending_administration(&store, &w, wai, Some("h-link")).await;
    let read = || async {
        store
            .link_by_token(&w.clinic_id, "h-link")
            .await
            .unwrap()
            .unwrap()
    };

    let link = read().await;
    assert_eq!(link.administration.administration_id, id);
    assert_eq!(link.administration.instrument_id, "wai_sr");
    assert_eq!(
        link.setting,
        store.case_setting(&w.clinic_id, &w.case_id).await.unwrap()
    );
    assert!(link.pack.is_none(), "no pack stored yet");
    assert_eq!(
        link.questionnaire_consent,
        store
            .consent_in_force(
                &w.clinic_id,
                &w.case_id,
                &w.client_id,
                ConsentKind::Questionnaires
            )
            .await
            .unwrap()
    );

    // The latest decision counts, and only questionnaire consent.
    for (kind, granted, at) in [
        (ConsentKind::Questionnaires, true, T0 + 1),
        (ConsentKind::TranscriptAnalysis, false, T0 + 2),
    ] {
        decide(&store, &w, kind, granted, &client(&w, at)).await;
    }
    assert!(read().await.questionnaire_consent);
    decide(
        &store,
        &w,
        ConsentKind::Questionnaires,
        false,
        &client(&w, T0 + 3),
    )
    .await;
    assert!(!read().await.questionnaire_consent);

    let (_, pack) = bordin_core::registry::PLACEHOLDER_PACKS[0];
    store
        .put_text_pack(&w.clinic_id, "wai_sr", pack, "admin", T0 + 4)
        .await
        .unwrap();
    assert_eq!(read().await.pack.as_deref(), Some(pack));

    // Another clinic's id, or an unknown hash, finds nothing.
    let other = world(&store, "Other").await;
    assert!(store
        .link_by_token(&other.clinic_id, "h-link")
        .await
        .unwrap()
        .is_none());
    assert!(store
        .link_by_token(&w.clinic_id, "h-other")
        .await
        .unwrap()
        .is_none());
}

bordin_store::both_backends!(
    a_client_link_is_read_with_its_setting_consent_and_pack,
    a_stale_edit_gets_the_current_goal_and_overwrites_nothing,
    the_agreements_log_refuses_updates_and_deletes,
    ratings_tasks_and_reports_are_kept_and_logged,
    the_formulation_is_versioned_one_current_per_case,
    consent_is_a_history_of_decisions,
    a_case_link_is_found_by_its_hash_until_revoked_or_expired,
    another_clinic_sees_and_changes_nothing,
);
