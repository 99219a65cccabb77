//! Consent enforcement: questionnaires are refused, naming the client and the consent, when the
//! client's consent is absent or withdrawn.

use bordin_core::goals::{ConsentKind, Rater};
use bordin_store::{Actor, Change};

use crate::support::TestApp;

/// Records every kind of consent for every client of a case (as its first clinician).
pub async fn grant_all(app: &TestApp, clinic_id: &str, case_id: &str) {
    let case = app.store.case(clinic_id, case_id).await.unwrap();
    let clinician = case.clinicians[0].0.clone();
    for client in &case.clients {
        for kind in [
            ConsentKind::Questionnaires,
            ConsentKind::TranscriptAnalysis,
            ConsentKind::LiveCopilot,
            ConsentKind::ResearchExport,
        ] {
            app.store
                .record_consent(
                    clinic_id,
                    case_id,
                    &client.client_id,
                    kind,
                    true,
                    &Change {
                        actor: Actor {
                            role: Rater::Clinician,
                            id: &clinician,
                        },
                        at: bordin_server::state::now_ms(),
                        reason: None,
                    },
                )
                .await
                .unwrap();
        }
    }
}

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{spawn_app, submit_link_form, SESSION_CHECK_30};

#[tokio::test]
async fn a_questionnaire_is_refused_without_consent_naming_the_client_and_the_consent() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let (status, body) = s.post_json("/api/v1/cases", &json!({"code": "NC-1"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let case_id = body["case_id"].as_str().unwrap();
    let (status, body) = s
        .post_json(
            &format!("/api/v1/cases/{case_id}/administrations"),
            &json!({"instrument": "session_check", "session": "new"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"], "consent_required");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("Client NC-1"), "{message}");
    assert!(message.contains("answering questionnaires"), "{message}");
    // Entering the client's answers on their behalf is refused the same way.
    let (status, body) = s
        .post_json(
            &format!("/api/v1/cases/{case_id}/responses"),
            &json!({"instrument": "session_check", "session": "new",
                    "answers": {"q1": "8", "q2": "7", "q3": "9", "q4": "6"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"], "consent_required");
    // The HTML page says it in words too.
    let html = s
        .get(&format!("/cases/{case_id}"))
        .await
        .text()
        .await
        .unwrap();
    let csrf = crate::support::scrape_csrf(&html);
    let r = s
        .http
        .post(s.url(&format!("/cases/{case_id}/send")))
        .form(&[
            ("csrf", csrf.as_str()),
            ("instrument", "session_check"),
            ("session", "new"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Client NC-1 has not given consent to answering questionnaires"),
        "{html}"
    );
    assert!(!html.contains(r#"id="form-link""#), "no link was made");

    // Once consent is recorded, the same request works.
    let (status, body) = s
        .post_json(
            &format!("/api/v1/cases/{case_id}/consents"),
            &json!({"client_id": client_id(&app, case_id).await, "kind": "questionnaires", "granted": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let path = s.send_link(case_id, "session_check").await;
    assert!(path.starts_with("/f/"));
}

async fn client_id(app: &TestApp, case_id: &str) -> String {
    app.store
        .case(&app.clinic_a, case_id)
        .await
        .unwrap()
        .clients[0]
        .client_id
        .clone()
}

#[tokio::test]
async fn after_withdrawal_nothing_new_is_sent_and_an_open_link_closes() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let case_id = s.new_case("WD-1").await;
    let link = s.send_link(&case_id, "session_check").await;
    let (status, body) = s
        .post_json(
            &format!("/api/v1/cases/{case_id}/consents"),
            &json!({"client_id": client_id(&app, &case_id).await, "kind": "questionnaires",
                    "granted": false, "note": "client asked to stop"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = s
        .post_json(
            &format!("/api/v1/cases/{case_id}/administrations"),
            &json!({"instrument": "session_check", "session": "new"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["message"].as_str().unwrap().contains("Client WD-1"));
    // The link sent before the withdrawal no longer takes answers, and nothing is stored.
    let (status, html) = submit_link_form(&app.base, &link, &SESSION_CHECK_30).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("This link is not valid"));
    assert!(s
        .scores(&case_id, "session_check", "total")
        .await
        .is_empty());
}
