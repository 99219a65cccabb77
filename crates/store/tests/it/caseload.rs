//! Clients, cases and sessions.

use bordin_core::care::{CaseRole, CaseStatus, Modality, Role, SessionStatus};
use bordin_core::Setting;
use bordin_store::NewCase;

use crate::support::{fresh_store, world, T0};

async fn client_case_and_session_read_back() {
    let (store, _g) = fresh_store().await;
    let w = world(&store, "Clinic").await;

    let case = store.case(&w.clinic_id, &w.case_id).await.unwrap();
    assert_eq!(case.title, "Alex");
    assert_eq!(case.setting, Setting::Therapy);
    assert_eq!(case.status, CaseStatus::Active);
    assert_eq!(case.opened_on, "2026-03-02");
    assert_eq!(case.closed_on, None);
    assert_eq!(case.clients.len(), 1);
    assert_eq!(case.clients[0].client_id, w.client_id);
    assert_eq!(case.clients[0].code, "C-0001");
    assert_eq!(case.clients[0].display_name.as_deref(), Some("Alex"));
    assert_eq!(
        case.clinicians,
        vec![(w.clinician_id.clone(), "Dr Test".to_owned(), CaseRole::Lead)]
    );

    assert_eq!(
        store
            .session(&w.clinic_id, &w.session.session_id)
            .await
            .unwrap(),
        w.session
    );
    assert_eq!(w.session.number, 1);
    assert!(store
        .is_clinician_on(&w.clinic_id, &w.case_id, &w.clinician_id)
        .await
        .unwrap());
    assert!(!store
        .is_clinician_on(&w.clinic_id, &w.case_id, "someone-else")
        .await
        .unwrap());
    assert_eq!(
        store
            .case_ids_of_clinician(&w.clinic_id, &w.clinician_id)
            .await
            .unwrap(),
        vec![w.case_id.clone()]
    );

    store
        .set_case_status(
            &w.clinic_id,
            &w.case_id,
            CaseStatus::Closed,
            Some("2026-06-01"),
        )
        .await
        .unwrap();
    let closed = store.case(&w.clinic_id, &w.case_id).await.unwrap();
    assert_eq!(closed.status, CaseStatus::Closed);
    assert_eq!(closed.closed_on.as_deref(), Some("2026-06-01"));
}

async fn couple_case_holds_both_clients() {
    let (store, _g) = fresh_store().await;
    let clinic = store
        .create_clinic("Clinic", Setting::Therapy, T0)
        .await
        .unwrap();
    let c = &clinic.clinic_id;
    let u = store
        .create_user(c, "t@example.org", "T", Role::Clinician, "h", T0)
        .await
        .unwrap();
    let a = store.create_client(c, "C-0002", None, T0).await.unwrap();
    let b = store
        .create_client(c, "C-0001", Some("Bo"), T0)
        .await
        .unwrap();
    let ids = [a.client_id.clone(), b.client_id.clone()];
    let case_id = store
        .create_case(
            c,
            &NewCase {
                title: "Couple",
                setting: Setting::Counselling,
                opened_on: "2026-01-05",
                client_ids: &ids,
                lead_clinician: &u.user_id,
            },
            T0,
        )
        .await
        .unwrap();
    let case = store.case(c, &case_id).await.unwrap();
    let codes: Vec<&str> = case.clients.iter().map(|x| x.code.as_str()).collect();
    assert_eq!(
        codes,
        ["C-0001", "C-0002"],
        "clients come back ordered by code"
    );
    assert_eq!(case.clients[1].display_name, None);
}

async fn client_codes_are_unique_per_clinic() {
    let (store, _g) = fresh_store().await;
    let w = world(&store, "Clinic").await;
    let err = store
        .create_client(&w.clinic_id, "C-0001", None, T0)
        .await
        .unwrap_err();
    assert!(err.is_unique_violation(), "{err}");
}

async fn session_numbers_increase_per_case() {
    let (store, _g) = fresh_store().await;
    let w = world(&store, "Clinic").await;
    // A second case in the same clinic numbers its own sessions from 1.
    let ids = [w.client_id.clone()];
    let other = store
        .create_case(
            &w.clinic_id,
            &NewCase {
                title: "Second episode",
                setting: Setting::Coaching,
                opened_on: "2026-04-01",
                client_ids: &ids,
                lead_clinician: &w.clinician_id,
            },
            T0,
        )
        .await
        .unwrap();
    let s2 = store
        .add_session(
            &w.clinic_id,
            &w.case_id,
            "2026-03-09",
            Modality::Video,
            SessionStatus::Missed,
            T0,
        )
        .await
        .unwrap();
    let o1 = store
        .add_session(
            &w.clinic_id,
            &other,
            "2026-04-01",
            Modality::Phone,
            SessionStatus::Attended,
            T0,
        )
        .await
        .unwrap();
    let s3 = store
        .add_session(
            &w.clinic_id,
            &w.case_id,
            "2026-03-16",
            Modality::InPerson,
            SessionStatus::Planned,
            T0,
        )
        .await
        .unwrap();
    let o2 = store
        .add_session(
            &w.clinic_id,
            &other,
            "2026-04-08",
            Modality::Phone,
            SessionStatus::Attended,
            T0,
        )
        .await
        .unwrap();
    assert_eq!((s2.number, s3.number), (2, 3));
    assert_eq!((o1.number, o2.number), (1, 2));

    let listed = store.sessions(&w.clinic_id, &w.case_id).await.unwrap();
    let numbers: Vec<i64> = listed.iter().map(|s| s.number).collect();
    assert_eq!(numbers, [1, 2, 3]);
    assert_eq!(listed[1].status, SessionStatus::Missed);
    assert_eq!(listed[1].modality, Modality::Video);
    assert_eq!(listed[2], s3);
}

async fn concurrent_sessions_get_distinct_numbers() {
    let (store, _g) = fresh_store().await;
    let w = world(&store, "Clinic").await;
    let mut tasks = Vec::new();
    for i in 0..6 {
        let store = store.clone();
        let (clinic, case) = (w.clinic_id.clone(), w.case_id.clone());
        tasks.push(tokio::spawn(async move {
            store
                .add_session(
                    &clinic,
                    &case,
                    &format!("2026-03-{:02}", 10 + i),
                    Modality::InPerson,
                    SessionStatus::Attended,
                    T0,
                )
                .await
                .unwrap()
                .number
        }));
    }
    let mut numbers = Vec::new();
    for t in tasks {
        numbers.push(t.await.unwrap());
    }
    numbers.sort_unstable();
    assert_eq!(numbers, [2, 3, 4, 5, 6, 7]);
}

async fn case_summary_counts_attended_sessions() {
    let (store, _g) = fresh_store().await;
    let w = world(&store, "Clinic").await;
    store
        .add_session(
            &w.clinic_id,
            &w.case_id,
            "2026-03-09",
            Modality::InPerson,
            SessionStatus::Missed,
            T0,
        )
        .await
        .unwrap();
    store
        .add_session(
            &w.clinic_id,
            &w.case_id,
            "2026-03-16",
            Modality::InPerson,
            SessionStatus::Attended,
            T0,
        )
        .await
        .unwrap();
    let sums = store
        .case_summaries(&w.clinic_id, std::slice::from_ref(&w.case_id))
        .await
        .unwrap();
    assert_eq!(sums.len(), 1);
    assert_eq!(sums[0].sessions, 2);
    assert_eq!(sums[0].last_session_on.as_deref(), Some("2026-03-16"));
    assert_eq!(sums[0].open_flags, 0);
}

bordin_store::both_backends!(
    client_case_and_session_read_back,
    couple_case_holds_both_clients,
    client_codes_are_unique_per_clinic,
    session_numbers_increase_per_case,
    concurrent_sessions_get_distinct_numbers,
    case_summary_counts_attended_sessions,
);
