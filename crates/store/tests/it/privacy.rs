//! A person's export and erasure: every table that names a client or case is covered, and an
//! erasure releases the immutable records of that person only.

use bordin_core::Setting;
use bordin_store::{person_tables, NewCase, KEPT_TABLES};

use crate::support::{fresh_store, phq9_values, registry, scored, submit, world, T0};

#[tokio::test]
async fn every_table_naming_a_client_or_case_is_exported_and_erased() {
    let (store, _g) = fresh_store().await;
    let covered = person_tables();
    let missing: Vec<String> = store
        .tables_naming_a_person()
        .await
        .unwrap()
        .into_iter()
        .filter(|t| !covered.contains(&t.as_str()) && !KEPT_TABLES.contains(&t.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "tables holding client data that export and erasure do not cover (add them to PERSON_TABLES in crates/store/src/privacy.rs, or to KEPT_TABLES with the reason in docs/operations.md): {missing:?}"
    );
}

#[tokio::test]
async fn an_erasure_releases_the_erased_persons_records_and_no_others() {
    let (store, _g) = fresh_store().await;
    let reg = registry();
    let phq9 = reg.get("phq9").unwrap();
    let w = world(&store, "Clinic").await;
    let (answers, sheet) = scored(phq9, &phq9_values([1, 1, 1, 1, 1, 1, 1, 1, 0]));
    submit(&store, &w, phq9, &answers, &sheet, None, T0).await;

    // A second client with a case and a response of their own.
    let other = store
        .create_client(&w.clinic_id, "C-0002", None, T0)
        .await
        .unwrap();
    let ids = [other.client_id.clone()];
    let other_case = store
        .create_case(
            &w.clinic_id,
            &NewCase {
                title: "Other",
                setting: Setting::Therapy,
                opened_on: "2026-03-02",
                client_ids: &ids,
                lead_clinician: &w.clinician_id,
            },
            T0,
        )
        .await
        .unwrap();
    let other_world = crate::support::World {
        clinic_id: w.clinic_id.clone(),
        clinician_id: w.clinician_id.clone(),
        client_id: other.client_id.clone(),
        case_id: other_case.clone(),
        session: store
            .add_session(
                &w.clinic_id,
                &other_case,
                "2026-03-02",
                bordin_core::care::Modality::InPerson,
                bordin_core::care::SessionStatus::Attended,
                T0,
            )
            .await
            .unwrap(),
    };
    submit(&store, &other_world, phq9, &answers, &sheet, None, T0).await;

    // Before any erasure, nobody's responses can be deleted.
    assert!(store
        .execute_raw_for_tests("DELETE FROM responses")
        .await
        .is_err());

    let report = store
        .erase_client(&w.clinic_id, &w.client_id, "admin", "request", T0 + 1)
        .await
        .unwrap();
    assert_eq!(report.cases_removed, [w.case_id.clone()]);
    assert_eq!(report.removed["responses"], 1);
    assert_eq!(report.removed["scores"], sheet.scales.len() as u64);
    assert!(store.case(&w.clinic_id, &w.case_id).await.is_err());
    assert!(store
        .client_by_id(&w.clinic_id, &w.client_id)
        .await
        .unwrap()
        .is_none());

    // The other person's records are as protected as before, and still there.
    assert!(store
        .execute_raw_for_tests("DELETE FROM responses")
        .await
        .is_err());
    assert_eq!(
        store
            .case_scores(&w.clinic_id, &other_case)
            .await
            .unwrap()
            .len(),
        sheet.scales.len()
    );
    // The tombstone cannot be changed or removed.
    assert!(store
        .execute_raw_for_tests("DELETE FROM erasures")
        .await
        .is_err());
    assert!(store
        .execute_raw_for_tests("UPDATE erasures SET reason = 'x'")
        .await
        .is_err());
    // Erasing twice: the client is gone.
    assert!(store
        .erase_client(&w.clinic_id, &w.client_id, "admin", "again", T0 + 2)
        .await
        .is_err());
}
