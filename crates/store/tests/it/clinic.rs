//! Clinics, users and supervision.

use bordin_core::care::Role;
use bordin_core::Setting;

use crate::support::{fresh_store, T0};

async fn clinic_and_users_read_back() {
    let (store, _g) = fresh_store().await;
    let clinic = store
        .create_clinic("Riverside", Setting::Counselling, T0)
        .await
        .unwrap();
    assert_eq!(store.clinic(&clinic.clinic_id).await.unwrap(), clinic);
    assert_eq!(store.clinics().await.unwrap(), vec![clinic.clone()]);

    let sup = store
        .create_user(
            &clinic.clinic_id,
            " Sam@Example.ORG ",
            "Sam Super",
            Role::Supervisor,
            "h1",
            T0,
        )
        .await
        .unwrap();
    assert_eq!(
        sup.email, "sam@example.org",
        "emails are stored trimmed and lower-cased"
    );
    let cl = store
        .create_user(
            &clinic.clinic_id,
            "cleo@example.org",
            "Cleo Clin",
            Role::Clinician,
            "h2",
            T0,
        )
        .await
        .unwrap();

    let back = store.user(&clinic.clinic_id, &cl.user_id).await.unwrap();
    assert_eq!(back, cl);
    assert_eq!(back.role, Role::Clinician);
    assert!(back.active);
    assert_eq!(store.users(&clinic.clinic_id).await.unwrap().len(), 2);
    let by_email = store.users_by_email("SAM@example.org").await.unwrap();
    assert_eq!(by_email, vec![sup.clone()]);

    store
        .add_supervision(&clinic.clinic_id, &sup.user_id, &cl.user_id)
        .await
        .unwrap();
    // Adding the same supervision twice is harmless.
    store
        .add_supervision(&clinic.clinic_id, &sup.user_id, &cl.user_id)
        .await
        .unwrap();
    assert_eq!(
        store
            .supervisees(&clinic.clinic_id, &sup.user_id)
            .await
            .unwrap(),
        vec![cl.user_id.clone()]
    );
}

async fn email_is_unique_within_a_clinic_only() {
    let (store, _g) = fresh_store().await;
    let a = store
        .create_clinic("A", Setting::Therapy, T0)
        .await
        .unwrap();
    let b = store
        .create_clinic("B", Setting::Therapy, T0)
        .await
        .unwrap();
    store
        .create_user(&a.clinic_id, "x@example.org", "X", Role::Admin, "h", T0)
        .await
        .unwrap();
    let dup = store
        .create_user(
            &a.clinic_id,
            "X@example.org",
            "X again",
            Role::Admin,
            "h",
            T0,
        )
        .await
        .unwrap_err();
    assert!(dup.is_unique_violation(), "{dup}");
    store
        .create_user(
            &b.clinic_id,
            "x@example.org",
            "X in B",
            Role::Admin,
            "h",
            T0,
        )
        .await
        .unwrap();
    assert_eq!(
        store.users_by_email("x@example.org").await.unwrap().len(),
        2
    );
}

async fn unknown_clinic_and_user_are_not_found() {
    let (store, _g) = fresh_store().await;
    assert!(matches!(
        store.clinic("nope").await,
        Err(bordin_store::StoreError::NotFound { what: "clinic" })
    ));
    assert!(matches!(
        store.user("nope", "nope").await,
        Err(bordin_store::StoreError::NotFound { what: "user" })
    ));
}

bordin_store::both_backends!(
    clinic_and_users_read_back,
    email_is_unique_within_a_clinic_only,
    unknown_clinic_and_user_are_not_found,
);
