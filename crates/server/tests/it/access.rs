//! Who sees which case: a clinician their own, a supervisor also their supervisees', an admin
//! every case of the clinic, and nobody another clinic's. Forbidden looks exactly like unknown.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

/// Case ids on a user's caseload, from the API.
async fn caseload(s: &Session) -> Vec<String> {
    let (status, body) = s.get_json("/api/v1/cases").await;
    assert_eq!(status, StatusCode::OK);
    body.as_array()
        .unwrap()
        .iter()
        .map(|c| c["case_id"].as_str().unwrap().to_owned())
        .collect()
}

/// Asserts that `s` gets exactly the "not found" of a case that does not exist, on every
/// surface that takes a case id.
async fn assert_hidden(s: &Session, case_id: &str) {
    let unknown = s.get("/cases/00000000-0000-7000-8000-000000000000").await;
    let (unknown_status, unknown_page) = (unknown.status(), unknown.text().await.unwrap());
    assert_eq!(unknown_status, StatusCode::NOT_FOUND);

    let r = s.get(&format!("/cases/{case_id}")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        r.text().await.unwrap(),
        unknown_page,
        "same page as an unknown case"
    );
    let r = s
        .get(&format!("/cases/{case_id}/enter?instrument=session_check"))
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let (status, body) = s.get_json(&format!("/api/v1/cases/{case_id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "not_found");
    let (status, _) = s
        .post_json(
            &format!("/api/v1/cases/{case_id}/administrations"),
            &json!({"instrument": "session_check"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "cannot send a form for it");
    let (status, _) = s
        .post_json(
            &format!("/api/v1/cases/{case_id}/sessions"),
            &json!({"held_on": "2026-01-05"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "cannot add a session to it");
    let (status, _) = s.post_json(&format!("/api/v1/cases/{case_id}/responses"), &json!({"instrument": "session_check", "answers": {"q1": "1", "q2": "1", "q3": "1", "q4": "1"}})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "cannot enter answers for it");
    let r = s
        .http
        .post(s.url(&format!("/cases/{case_id}/send")))
        .form(&[
            ("csrf", s.csrf.as_str()),
            ("instrument", "session_check"),
            ("session", "new"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    assert!(
        !caseload(s).await.contains(&case_id.to_owned()),
        "not on the caseload"
    );
}

/// Asserts that `s` can open the case on the page and in the API.
async fn assert_visible(s: &Session, case_id: &str) {
    let r = s.get(&format!("/cases/{case_id}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let (status, _) = s.get_json(&format!("/api/v1/cases/{case_id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        caseload(s).await.contains(&case_id.to_owned()),
        "on the caseload"
    );
}

#[tokio::test]
async fn a_clinician_cannot_see_another_clinicians_case() {
    let app = spawn_app().await;
    let cleo = app.login(&app.clinician).await;
    let otto = app.login(&app.other_clinician).await;
    let case_id = cleo.new_case("C-cleo").await;
    assert_visible(&cleo, &case_id).await;
    assert_hidden(&otto, &case_id).await;
    // Otto's failed attempts changed nothing in Cleo's case.
    let (_, detail) = cleo.get_json(&format!("/api/v1/cases/{case_id}")).await;
    assert!(
        detail["sessions"].as_array().unwrap().is_empty()
            && detail["pending"].as_array().unwrap().is_empty(),
        "{detail}"
    );
}

#[tokio::test]
async fn a_second_clinic_cannot_see_the_first_clinics_case() {
    let app = spawn_app().await;
    let cleo = app.login(&app.clinician).await;
    let case_id = cleo.new_case("C-north").await;
    let bea = app.login(&app.b_clinician).await;
    assert_hidden(&bea, &case_id).await;
    // The same client code may exist in both clinics without clashing.
    bea.new_case("C-north").await;
    assert_eq!(caseload(&bea).await.len(), 1);
}

#[tokio::test]
async fn admin_sees_all_cases() {
    let app = spawn_app().await;
    let cleo = app.login(&app.clinician).await;
    let otto = app.login(&app.other_clinician).await;
    let a = cleo.new_case("C-a").await;
    let b = otto.new_case("C-b").await;
    let admin = app.login(&app.admin).await;
    assert_visible(&admin, &a).await;
    assert_visible(&admin, &b).await;
    assert_eq!(caseload(&admin).await.len(), 2);
    // ... of their own clinic only.
    let south = app.login(&app.b_clinician).await.new_case("C-south").await;
    assert_hidden(&admin, &south).await;
}

#[tokio::test]
async fn supervisor_sees_supervisees_cases() {
    let app = spawn_app().await;
    let cleo = app.login(&app.clinician).await; // supervised by Sam
    let otto = app.login(&app.other_clinician).await; // supervised by nobody
    let supervised = cleo.new_case("C-supervised").await;
    let unsupervised = otto.new_case("C-unsupervised").await;
    let sam = app.login(&app.supervisor).await;
    let own = sam.new_case("C-own").await;

    assert_visible(&sam, &supervised).await;
    assert_visible(&sam, &own).await;
    assert_hidden(&sam, &unsupervised).await;
    let mut mine = caseload(&sam).await;
    mine.sort();
    let mut expected = vec![supervised.clone(), own];
    expected.sort();
    assert_eq!(mine, expected);
    // Supervision does not run upwards.
    assert_hidden(
        &cleo,
        &caseload(&sam)
            .await
            .into_iter()
            .find(|c| *c != supervised)
            .unwrap(),
    )
    .await;
}
