//! One clinic's data is invisible to another's id.

use bordin_core::care::Role;
use bordin_store::{NewAdministration, StoreError};

use crate::support::{fresh_store, phq9_values, registry, scored, submit, world, T0};

async fn clinic_b_cannot_see_clinic_a() {
    let (store, _g) = fresh_store().await;
    let a = world(&store, "Clinic A").await;
    let b = world(&store, "Clinic B").await;
    let reg = registry();
    let phq9 = reg.get("phq9").unwrap();

    let admin = store
        .create_administration(
            &a.clinic_id,
            &NewAdministration {
                case_id: &a.case_id,
                session_id: Some(&a.session.session_id),
                client_id: Some(&a.client_id),
                instrument: phq9,
                respondent: phq9.respondent,
                token_hash: Some("shared-looking-hash"),
                expires_at: None,
                created_by: &a.clinician_id,
            },
            T0,
        )
        .await
        .unwrap();
    let (answers, sheet) = scored(phq9, &phq9_values([2, 2, 2, 2, 2, 2, 2, 2, 1]));
    let resp = submit(&store, &a, phq9, &answers, &sheet, None, T0)
        .await
        .response_id()
        .to_owned();

    // Visible with A's id…
    assert!(store.case(&a.clinic_id, &a.case_id).await.is_ok());
    assert_eq!(
        store
            .case_scores(&a.clinic_id, &a.case_id)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(store
        .administration_by_token(&a.clinic_id, "shared-looking-hash")
        .await
        .unwrap()
        .is_some());

    // …and not with B's.
    assert!(matches!(
        store.case(&b.clinic_id, &a.case_id).await,
        Err(StoreError::NotFound { what: "case" })
    ));
    assert!(store
        .cases_by_ids(&b.clinic_id, std::slice::from_ref(&a.case_id))
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .case_scores(&b.clinic_id, &a.case_id)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .case_flags(&b.clinic_id, &a.case_id)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .case_summaries(&b.clinic_id, std::slice::from_ref(&a.case_id))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .administration_by_token(&b.clinic_id, "shared-looking-hash")
            .await
            .unwrap(),
        None
    );
    assert!(matches!(
        store
            .administration(&b.clinic_id, &admin.administration_id)
            .await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(store
        .administrations_of_case(&b.clinic_id, &a.case_id)
        .await
        .unwrap()
        .is_empty());
    assert!(matches!(
        store.response(&b.clinic_id, &resp).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(store
        .response_flags(&b.clinic_id, &resp)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .sessions(&b.clinic_id, &a.case_id)
        .await
        .unwrap()
        .is_empty());
    assert!(matches!(
        store.session(&b.clinic_id, &a.session.session_id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.user(&b.clinic_id, &a.clinician_id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(!store
        .is_clinician_on(&b.clinic_id, &a.case_id, &a.clinician_id)
        .await
        .unwrap());
    assert!(store
        .case_ids_of_clinician(&b.clinic_id, &a.clinician_id)
        .await
        .unwrap()
        .is_empty());
    let b_users: Vec<String> = store
        .users(&b.clinic_id)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.user_id)
        .collect();
    assert_eq!(b_users, vec![b.clinician_id.clone()]);

    // Writes naming B's clinic cannot touch A's rows.
    let err = store
        .set_case_status(
            &b.clinic_id,
            &a.case_id,
            bordin_core::care::CaseStatus::Closed,
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "case" }),
        "{err}"
    );
    assert_eq!(
        store.case(&a.clinic_id, &a.case_id).await.unwrap().status,
        bordin_core::care::CaseStatus::Active
    );
    let r = store
        .correct_response(
            &b.clinic_id,
            &resp,
            "reason",
            &bordin_store::NewResponse {
                administration_id: None,
                case_id: &b.case_id,
                session_id: None,
                client_id: None,
                instrument: phq9,
                respondent: phq9.respondent,
                answers: &answers,
                sheet: &sheet,
                submitted_at: T0,
                entered_by: &b.clinician_id,
                source: bordin_core::care::ResponseSource::Clinician,
            },
        )
        .await;
    assert!(
        matches!(r, Err(StoreError::NotFound { what: "response" })),
        "{r:?}"
    );
}

async fn a_supervision_across_clinics_is_refused() {
    let (store, _g) = fresh_store().await;
    let a = world(&store, "Clinic A").await;
    let b = world(&store, "Clinic B").await;
    let sup = store
        .create_user(
            &b.clinic_id,
            "sup@example.org",
            "Sup",
            Role::Supervisor,
            "h",
            T0,
        )
        .await
        .unwrap();
    // B's supervisor naming A's clinician in clinic B: the foreign key refuses it.
    assert!(store
        .add_supervision(&b.clinic_id, &sup.user_id, &a.clinician_id)
        .await
        .is_err());
    assert!(store
        .supervisees(&b.clinic_id, &sup.user_id)
        .await
        .unwrap()
        .is_empty());
}

bordin_store::both_backends!(
    clinic_b_cannot_see_clinic_a,
    a_supervision_across_clinics_is_refused,
);
