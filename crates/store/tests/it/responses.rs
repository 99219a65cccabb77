//! Responses: idempotent submission, scores and flags, corrections, immutability.

use bordin_core::care::{AdministrationStatus, ResponseSource};
use bordin_store::{NewResponse, StoreError, Submitted};

use crate::support::{
    fresh_store, pending_administration, phq9_values, registry, scored, submit, world, World, T0,
};

/// Distinct response ids among the current scores of the world's case.
async fn response_ids(store: &bordin_store::Store, w: &World) -> Vec<String> {
    let mut ids: Vec<String> = store
        .case_scores(&w.clinic_id, &w.case_id)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.response_id)
        .collect();
    ids.dedup();
    ids
}

async fn administration_reads_back_pending() {
    let (store, _g) = fresh_store().await;
    let w = world(&store, "Clinic").await;
    let reg = registry();
    let gad7 = reg.get("gad7").unwrap();
    let id = pending_administration(&store, &w, gad7, Some("tokenhash")).await;
    let a = store.administration(&w.clinic_id, &id).await.unwrap();
    assert_eq!(a.status, AdministrationStatus::Pending);
    assert_eq!(a.instrument_id, "gad7");
    assert_eq!(a.instrument_version, gad7.version);
    assert_eq!(a.session_id.as_deref(), Some(w.session.session_id.as_str()));
    assert_eq!(a.completed_at, None);
    assert_eq!(
        store
            .administration_by_token(&w.clinic_id, "tokenhash")
            .await
            .unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        store
            .administration_by_token(&w.clinic_id, "other")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .administrations_of_case(&w.clinic_id, &w.case_id)
            .await
            .unwrap(),
        vec![a]
    );
}

async fn second_submit_of_an_administration_is_already_stored() {
    let (store, _g) = fresh_store().await;
    let w = world(&store, "Clinic").await;
    let reg = registry();
    let phq9 = reg.get("phq9").unwrap();
    let admin = pending_administration(&store, &w, phq9, Some("h")).await;

    let (answers, sheet) = scored(phq9, &phq9_values([1, 1, 1, 1, 1, 1, 1, 1, 0]));
    let first = submit(&store, &w, phq9, &answers, &sheet, Some(&admin), T0 + 1).await;
    let Submitted::Stored { response_id } = &first else {
        panic!("first submit must store: {first:?}")
    };

    // The same link again, even with different answers, stores nothing new.
    let (other, other_sheet) = scored(phq9, &phq9_values([3, 3, 3, 3, 3, 3, 3, 3, 0]));
    let second = submit(&store, &w, phq9, &other, &other_sheet, Some(&admin), T0 + 2).await;
    assert_eq!(
        second,
        Submitted::AlreadyStored {
            response_id: response_id.clone()
        }
    );

    let a = store.administration(&w.clinic_id, &admin).await.unwrap();
    assert_eq!(a.status, AdministrationStatus::Completed);
    assert_eq!(a.completed_at, Some(T0 + 1));
    assert_eq!(response_ids(&store, &w).await, vec![response_id.clone()]);
    let stored = store.response(&w.clinic_id, response_id).await.unwrap();
    assert_eq!(stored.submitted_at, T0 + 1);
    assert!(
        stored.answers.iter().all(|(_, v)| v == "1" || v == "0"),
        "first answers kept: {:?}",
        stored.answers
    );
}

async fn concurrent_submits_store_exactly_one_response() {
    let (store, _g) = fresh_store().await;
    let w = world(&store, "Clinic").await;
    let reg = registry();
    let phq9 = reg.get("phq9").unwrap().clone();
    let admin = pending_administration(&store, &w, &phq9, Some("h")).await;
    let w = std::sync::Arc::new(w);

    let mut tasks = Vec::new();
    for i in 0..8 {
        let (store, w, phq9, admin) = (store.clone(), w.clone(), phq9.clone(), admin.clone());
        tasks.push(tokio::spawn(async move {
            let (answers, sheet) = scored(&phq9, &phq9_values([i % 4, 1, 1, 1, 1, 1, 1, 1, 0]));
            submit(&store, &w, &phq9, &answers, &sheet, Some(&admin), T0 + i).await
        }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    let stored: Vec<&Submitted> = outcomes
        .iter()
        .filter(|o| matches!(o, Submitted::Stored { .. }))
        .collect();
    assert_eq!(stored.len(), 1, "exactly one submit stores: {outcomes:?}");
    let id = stored[0].response_id().to_owned();
    for o in &outcomes {
        assert_eq!(
            o.response_id(),
            id,
            "every submit names the one stored response"
        );
    }
    assert_eq!(response_ids(&store, &w).await, vec![id]);
}

async fn submit_to_an_unknown_administration_is_a_conflict() {
    let (store, _g) = fresh_store().await;
    let w = world(&store, "Clinic").await;
    let reg = registry();
    let gad7 = reg.get("gad7").unwrap();
    let (answers, sheet) = scored(gad7, &[Some(1); 7]);
    let err = store
        .submit_response(
            &w.clinic_id,
            &NewResponse {
                administration_id: Some("no-such-administration"),
                case_id: &w.case_id,
                session_id: None,
                client_id: None,
                instrument: gad7,
                respondent: gad7.respondent,
                answers: &answers,
                sheet: &sheet,
                submitted_at: T0,
                entered_by: "link",
                source: ResponseSource::Link,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
}

async fn scores_and_risk_flag_are_stored_with_the_response() {
    let (store, _g) = fresh_store().await;
    let w = world(&store, "Clinic").await;
    let reg = registry();
    let phq9 = reg.get("phq9").unwrap();
    // Total 2+2+2+2+1+1+1+1+2 = 14 (moderate), item 9 = 2 → urgent risk flag.
    let (answers, sheet) = scored(phq9, &phq9_values([2, 2, 2, 2, 1, 1, 1, 1, 2]));
    let id = submit(&store, &w, phq9, &answers, &sheet, None, T0)
        .await
        .response_id()
        .to_owned();

    let flags = store.response_flags(&w.clinic_id, &id).await.unwrap();
    assert_eq!(flags.len(), 1);
    assert_eq!(flags[0].flag_id, "risk:q9");
    assert_eq!(flags[0].severity, "urgent");
    assert!(!flags[0].message.is_empty());
    let case_flags = store.case_flags(&w.clinic_id, &w.case_id).await.unwrap();
    assert_eq!(case_flags, vec![(id.clone(), flags[0].clone())]);

    let scores = store.case_scores(&w.clinic_id, &w.case_id).await.unwrap();
    assert_eq!(scores.len(), 1);
    let s = &scores[0];
    assert_eq!(
        (s.instrument_id.as_str(), s.scale_id.as_str()),
        ("phq9", "total")
    );
    assert_eq!(s.value, Some(14.0));
    assert_eq!(s.band.as_deref(), Some("moderate"));
    assert_eq!(s.session_number, Some(1));
    assert_eq!(s.held_on.as_deref(), Some("2026-03-02"));
    assert_eq!(s.version, 1);

    let summary = &store
        .case_summaries(&w.clinic_id, std::slice::from_ref(&w.case_id))
        .await
        .unwrap()[0];
    assert_eq!(summary.open_flags, 1);
    assert_eq!(summary.latest.len(), 1);
    assert_eq!(summary.latest[0].value, Some(14.0));

    let row = store.response(&w.clinic_id, &id).await.unwrap();
    assert_eq!(row.instrument_id, "phq9");
    assert_eq!(row.version, 1);
    assert_eq!(row.source, ResponseSource::Link);
    assert_eq!(
        row.answers.len(),
        9,
        "the blank difficulty item is not stored"
    );
    assert!(row.answers.contains(&("q9".to_owned(), "2".to_owned())));
}

async fn fractional_subscale_scores_keep_their_value() {
    let (store, _g) = fresh_store().await;
    let w = world(&store, "Clinic").await;
    let reg = registry();
    let wai = reg.get("wai_sr").unwrap();
    // q1 (task) blank: task = mean(4, 5, 5) × 4 = 56/3 ≈ 18.67.
    let mut values = vec![Some(5); 12];
    values[0] = None;
    values[1] = Some(4);
    let (answers, sheet) = scored(wai, &values);
    submit(&store, &w, wai, &answers, &sheet, None, T0).await;
    let scores = store.case_scores(&w.clinic_id, &w.case_id).await.unwrap();
    let task = scores
        .iter()
        .find(|s| s.scale_id == "task")
        .unwrap()
        .value
        .unwrap();
    assert!((task - 56.0 / 3.0).abs() < 1e-9, "{task}");
    assert_eq!(scores.len(), 4, "total and three subscales");
}

/// Responses with an unscorable scale (its value missing), then responses with values, on the
/// store's connections, all store their values. On PostgreSQL a statement first
/// prepared with the missing value used to refuse every later value on that connection.
async fn missing_and_present_score_values_alternate() {
    let (store, _g) = fresh_store().await;
    let w = world(&store, "Clinic").await;
    let reg = registry();
    let phq9 = reg.get("phq9").unwrap();
    // Eight of nine items blank: the total cannot be scored (value missing).
    let mut blank = vec![None; 10];
    blank[0] = Some(1);
    let (blank_answers, blank_sheet) = scored(phq9, &blank);
    assert_eq!(
        blank_sheet.scales[0].value, None,
        "the fixture is unscorable"
    );
    let (full_answers, full_sheet) = scored(phq9, &phq9_values([2; 9]));
    // Twenty missing values first, so that every connection the pool hands out meanwhile has
    // met the statement with a missing value (the pool takes its connections in turn); then
    // twenty present ones.
    for k in 0..40 {
        let (answers, sheet) = if k < 20 {
            (&blank_answers, &blank_sheet)
        } else {
            (&full_answers, &full_sheet)
        };
        submit(&store, &w, phq9, answers, sheet, None, T0 + k).await;
    }
    let values: Vec<Option<f64>> = store
        .case_scores(&w.clinic_id, &w.case_id)
        .await
        .unwrap()
        .iter()
        .filter(|s| s.scale_id == "total")
        .map(|s| s.value)
        .collect();
    assert_eq!(values.len(), 40);
    assert_eq!(values.iter().filter(|v| **v == Some(18.0)).count(), 20);
    assert_eq!(values.iter().filter(|v| v.is_none()).count(), 20);
}

async fn correction_supersedes_and_keeps_the_original() {
    let (store, _g) = fresh_store().await;
    let w = world(&store, "Clinic").await;
    let reg = registry();
    let phq9 = reg.get("phq9").unwrap();
    let admin = pending_administration(&store, &w, phq9, None).await;
    let (answers, sheet) = scored(phq9, &phq9_values([3, 3, 3, 3, 3, 3, 3, 3, 1]));
    let v1 = submit(&store, &w, phq9, &answers, &sheet, Some(&admin), T0)
        .await
        .response_id()
        .to_owned();
    let before = store.response(&w.clinic_id, &v1).await.unwrap();

    let (fixed, fixed_sheet) = scored(phq9, &phq9_values([1, 1, 1, 1, 1, 1, 1, 1, 0]));
    let correction = |supersedes: String, reason: &'static str| {
        let (store, w, fixed, fixed_sheet, admin) =
            (store.clone(), &w, &fixed, &fixed_sheet, &admin);
        async move {
            store
                .correct_response(
                    &w.clinic_id,
                    &supersedes,
                    reason,
                    &NewResponse {
                        administration_id: Some(admin),
                        case_id: &w.case_id,
                        session_id: Some(&w.session.session_id),
                        client_id: Some(&w.client_id),
                        instrument: phq9,
                        respondent: phq9.respondent,
                        answers: fixed,
                        sheet: fixed_sheet,
                        submitted_at: T0 + 10,
                        entered_by: &w.clinician_id,
                        source: ResponseSource::Clinician,
                    },
                )
                .await
        }
    };

    let blank_reason = correction(v1.clone(), "  ").await.unwrap_err();
    assert!(
        matches!(blank_reason, StoreError::Conflict(_)),
        "{blank_reason}"
    );

    let v2 = correction(v1.clone(), "typed from paper: wrong column")
        .await
        .unwrap();
    let new = store.response(&w.clinic_id, &v2).await.unwrap();
    assert_eq!(new.version, 2);
    assert_eq!(new.supersedes.as_deref(), Some(v1.as_str()));
    assert_eq!(
        new.correction_reason.as_deref(),
        Some("typed from paper: wrong column")
    );
    assert_eq!(new.source, ResponseSource::Clinician);
    assert_eq!(
        store.response(&w.clinic_id, &v1).await.unwrap(),
        before,
        "the original row is unchanged"
    );

    // Only the current version is scored and flagged.
    let scores = store.case_scores(&w.clinic_id, &w.case_id).await.unwrap();
    assert_eq!(scores.len(), 1);
    assert_eq!(scores[0].response_id, v2);
    assert_eq!(scores[0].version, 2);
    assert_eq!(scores[0].value, Some(8.0));
    assert!(
        store
            .case_flags(&w.clinic_id, &w.case_id)
            .await
            .unwrap()
            .is_empty(),
        "the corrected response has no risk flag"
    );
    assert_eq!(
        store.response_flags(&w.clinic_id, &v1).await.unwrap().len(),
        1,
        "the original keeps its flag row"
    );
    let summary = &store
        .case_summaries(&w.clinic_id, std::slice::from_ref(&w.case_id))
        .await
        .unwrap()[0];
    assert_eq!(summary.open_flags, 0);
    assert_eq!(summary.latest[0].value, Some(8.0));

    // Correcting version 1 again would fork the chain.
    let again = correction(v1.clone(), "second try").await.unwrap_err();
    assert!(matches!(again, StoreError::Conflict(_)), "{again}");
    // Correcting the latest version is fine.
    let v3 = correction(v2.clone(), "one more fix").await.unwrap();
    assert_eq!(store.response(&w.clinic_id, &v3).await.unwrap().version, 3);

    let unknown = correction("no-such-response".to_owned(), "why")
        .await
        .unwrap_err();
    assert!(
        matches!(unknown, StoreError::NotFound { what: "response" }),
        "{unknown}"
    );
}

async fn database_refuses_update_and_delete_of_responses() {
    let (store, _g) = fresh_store().await;
    let w = world(&store, "Clinic").await;
    let reg = registry();
    let gad7 = reg.get("gad7").unwrap();
    let (answers, sheet) = scored(gad7, &[Some(2); 7]);
    let id = submit(&store, &w, gad7, &answers, &sheet, None, T0)
        .await
        .response_id()
        .to_owned();
    let before = store.response(&w.clinic_id, &id).await.unwrap();

    let update = store
        .execute_raw_for_tests(&format!(
            "UPDATE responses SET answers = '{{}}' WHERE response_id = '{id}'"
        ))
        .await;
    assert!(
        matches!(update, Err(StoreError::Database(_))),
        "UPDATE must be refused: {update:?}"
    );
    let update_all = store
        .execute_raw_for_tests("UPDATE responses SET entered_by = 'x'")
        .await;
    assert!(
        update_all.is_err(),
        "UPDATE of every row must be refused: {update_all:?}"
    );
    let delete = store
        .execute_raw_for_tests(&format!("DELETE FROM responses WHERE response_id = '{id}'"))
        .await;
    assert!(
        matches!(delete, Err(StoreError::Database(_))),
        "DELETE must be refused: {delete:?}"
    );

    assert_eq!(store.response(&w.clinic_id, &id).await.unwrap(), before);
    // The raw path itself works (so the refusals above are the schema's doing).
    assert_eq!(
        store
            .execute_raw_for_tests("UPDATE sessions SET modality = 'video' WHERE number = 1")
            .await
            .unwrap(),
        1
    );
}

bordin_store::both_backends!(
    administration_reads_back_pending,
    second_submit_of_an_administration_is_already_stored,
    concurrent_submits_store_exactly_one_response,
    submit_to_an_unknown_administration_is_a_conflict,
    scores_and_risk_flag_are_stored_with_the_response,
    fractional_subscale_scores_keep_their_value,
    missing_and_present_score_values_alternate,
    correction_supersedes_and_keeps_the_original,
    database_refuses_update_and_delete_of_responses,
);
