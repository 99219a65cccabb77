//! Operations from the outside: API tokens (Bearer, scopes, revocation, one clinic, the rights
//! of their user), a person's export and erasure, and `/metrics`.

use bordin_server::config::{MetricsAccess, Secret};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::*;

/// Creates a token through the admin API; returns (token, token id).
async fn create_token(admin: &Session, user_id: &str, scope: &str) -> (String, String) {
    let (status, body) = admin
        .post_json(
            "/api/v1/admin/tokens",
            &json!({"label": "EHR sync", "scope": scope, "user_id": user_id}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (
        body["token"].as_str().unwrap().to_owned(),
        body["token_id"].as_str().unwrap().to_owned(),
    )
}

fn bearer(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .request(method, app.url(path))
        .header(AUTHORIZATION, format!("Bearer {token}"))
}

#[tokio::test]
async fn a_token_acts_as_its_user_within_its_scope_and_stops_when_revoked() {
    let app = spawn_app().await;
    let admin = app.login(&app.admin).await;
    let clinician = app.login(&app.clinician).await;
    let own_case = clinician.new_case("T-1").await;
    let other = app.login(&app.other_clinician).await;
    let others_case = other.new_case("T-2").await;

    let (read, _) = create_token(&admin, &app.clinician.user_id, "read").await;
    let (write, write_id) = create_token(&admin, &app.clinician.user_id, "write").await;
    assert!(
        read.starts_with(&format!("bdn_{}_", app.clinic_a)),
        "{read}"
    );

    // Read: the clinician's own caseload, and nothing more than the clinician may see.
    let r = bearer(&app, reqwest::Method::GET, "/api/v1/cases", &read)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let cases: Value = r.json().await.unwrap();
    let ids: Vec<&str> = cases
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["case_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [own_case.as_str()]);
    let r = bearer(
        &app,
        reqwest::Method::GET,
        &format!("/api/v1/cases/{others_case}"),
        &read,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::NOT_FOUND,
        "another clinician's case stays hidden"
    );

    // A read token may not write; a write token may, without any CSRF token.
    let r = bearer(&app, reqwest::Method::POST, "/api/v1/cases", &read)
        .json(&json!({"code": "T-3"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "forbidden");
    let r = bearer(&app, reqwest::Method::POST, "/api/v1/cases", &write)
        .json(&json!({"code": "T-3"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);

    // A cookie session still needs its CSRF token.
    let r = clinician
        .http
        .post(app.url("/api/v1/cases"))
        .json(&json!({"code": "T-4"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Tokens cannot manage tokens, even an admin's.
    let (admin_token, _) = create_token(&admin, &app.admin.user_id, "write").await;
    let r = bearer(
        &app,
        reqwest::Method::POST,
        "/api/v1/admin/tokens",
        &admin_token,
    )
    .json(&json!({"label": "x", "scope": "write", "user_id": app.admin.user_id}))
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Pages ignore tokens: no HTML session from a Bearer header.
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(app.url("/caseload"))
        .header(AUTHORIZATION, format!("Bearer {write}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // The list shows the use, the prefix, never the token.
    let (status, list) = admin.get_json("/api/v1/admin/tokens").await;
    assert_eq!(status, StatusCode::OK);
    let text = list.to_string();
    assert!(
        !text.contains(&write["bdn_".len() + app.clinic_a.len() + 1..]),
        "{text}"
    );
    let row = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["token_id"] == write_id.as_str())
        .unwrap();
    assert!(row["last_used_at"].is_i64(), "{row}");
    let secret = &write["bdn_".len() + app.clinic_a.len() + 1..];
    assert_eq!(row["shown_as"], format!("bdn_…{}", &secret[..8]));

    // Revoked: refused at once.
    let r = admin
        .http
        .delete(admin.url(&format!("/api/v1/admin/tokens/{write_id}")))
        .header("x-csrf-token", &admin.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = bearer(&app, reqwest::Method::GET, "/api/v1/cases", &write)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_token_is_bound_to_its_clinic_and_a_forged_one_is_refused() {
    let app = spawn_app().await;
    let admin = app.login(&app.admin).await;
    let (token, _) = create_token(&admin, &app.clinician.user_id, "read").await;
    // The same secret presented for another clinic is not found there.
    let forged = token.replace(&app.clinic_a, &app.clinic_b);
    for t in [
        forged.as_str(),
        "bdn_nonsense",
        "not-a-token",
        &format!("{token}x"),
    ] {
        let r = bearer(&app, reqwest::Method::GET, "/api/v1/cases", t)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{t}");
    }
    // Only admins at a login session create tokens; a clinician is told "not found".
    let clinician = app.login(&app.clinician).await;
    let (status, _) = clinician
        .post_json(
            "/api/v1/admin/tokens",
            &json!({"label": "mine", "scope": "write", "user_id": app.clinician.user_id}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // An admin cannot issue a token for a user of another clinic.
    let (status, body) = admin
        .post_json(
            "/api/v1/admin/tokens",
            &json!({"label": "x", "scope": "read", "user_id": app.b_clinician.user_id}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn the_admin_page_shows_a_new_token_once() {
    let app = spawn_app().await;
    let admin = app.login(&app.admin).await;
    let page = admin.get("/admin").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    let r = admin
        .http
        .post(admin.url("/admin/tokens"))
        .form(&[
            ("csrf", scrape_csrf(&html).as_str()),
            ("label", "Reporting"),
            ("user_id", app.supervisor.user_id.as_str()),
            ("scope", "read"),
            ("expires_in_days", "30"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    let marker = "<code class=\"token\">";
    let start = html.find(marker).expect("the token is shown") + marker.len();
    let shown: String = html[start..].chars().take_while(|c| *c != '<').collect();
    assert!(shown.starts_with("bdn_"), "{shown}");
    let r = bearer(&app, reqwest::Method::GET, "/api/v1/cases", &shown)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "the token from the page works");
    // Shown once: the page afterwards lists it only by its prefix.
    let again = admin.get("/admin").await.text().await.unwrap();
    assert!(
        !again.contains(&shown),
        "the full token is never shown again"
    );

    let clinician = app.login(&app.clinician).await;
    assert_eq!(
        clinician.get("/admin").await.status(),
        StatusCode::NOT_FOUND
    );
}

/// A case with a submitted PHQ-9, a goal and a consent; returns (case id, client id).
async fn case_with_data(app: &TestApp, s: &Session, code: &str) -> (String, String) {
    let case_id = s.new_case(code).await;
    crate::consent::grant_all(app, &app.clinic_a, &case_id).await;
    let link = s.send_link(&case_id, "phq9").await;
    let (status, _) = submit_link_form(&app.base, &link, &PHQ9_12_NO_RISK).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = s
        .post_json(
            &format!("/api/v1/cases/{case_id}/goals"),
            &json!({"words": "Sleep better", "priority": 1, "active": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, case) = s.get_json(&format!("/api/v1/cases/{case_id}")).await;
    let client_id = case["clients"][0]["client_id"].as_str().unwrap().to_owned();
    let (status, _) = s
        .post_json(
            &format!("/api/v1/cases/{case_id}/consents"),
            &json!({"client_id": client_id, "kind": "questionnaires", "granted": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    (case_id, client_id)
}

#[tokio::test]
async fn an_export_holds_everything_on_the_person_and_an_erasure_removes_it() {
    let app = spawn_app().await;
    let admin = app.login(&app.admin).await;
    let clinician = app.login(&app.clinician).await;
    let (case_id, client_id) = case_with_data(&app, &clinician, "E-1").await;
    let (_other_case, _other_client) = case_with_data(&app, &clinician, "E-2").await;

    let (status, doc) = admin
        .get_json(&format!("/api/v1/admin/clients/{client_id}/export"))
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["format"], "bordin-client-export/1");
    assert_eq!(doc["client"]["code"], "E-1");
    let t = &doc["tables"];
    assert_eq!(t["cases"].as_array().unwrap().len(), 1);
    assert_eq!(t["cases"][0]["case_id"], case_id.as_str());
    let responses = t["responses"].as_array().unwrap();
    assert_eq!(responses.len(), 1, "only this person's response");
    assert_eq!(responses[0]["answers"]["q1"], "2", "answers as given");
    let total = t["scores"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["scale_id"] == "total")
        .unwrap();
    assert_eq!(total["value"], 12.0);
    assert_eq!(t["goals"][0]["words"], "Sleep better");
    let consents = t["consent_records"].as_array().unwrap();
    assert!(
        consents
            .iter()
            .any(|c| c["note"].is_null() && c["kind"] == "questionnaires"),
        "{consents:?}"
    );
    assert!(t["agreements_log"].as_array().unwrap().len() >= 2);
    assert!(
        !doc.to_string().contains("E-2"),
        "nothing of the other client"
    );

    // Erasure: wrong confirmation refused; then everything of the person goes.
    let (status, body) = admin
        .post_json(
            &format!("/api/v1/admin/clients/{client_id}/erasure"),
            &json!({"reason": "request of 2026-11-20", "confirm_code": "E-2"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = admin
        .post_json(
            &format!("/api/v1/admin/clients/{client_id}/erasure"),
            &json!({"reason": "request of 2026-11-20", "confirm_code": "E-1"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["cases_removed"], json!([case_id]));
    assert_eq!(body["removed"]["responses"], 1);
    assert_eq!(body["removed"]["clients"], 1);

    let (status, _) = clinician
        .get_json(&format!("/api/v1/cases/{case_id}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = admin
        .get_json(&format!("/api/v1/admin/clients/{client_id}/export"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The other client's data is untouched, and still cannot be deleted.
    let (status, list) = clinician.get_json("/api/v1/cases").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(app
        .store
        .execute_raw_for_tests("DELETE FROM responses")
        .await
        .is_err());
    // The erasure record stays, naming no one but by random id.
    let erasures = app.store.erasures(&app.clinic_a).await.unwrap();
    assert_eq!(erasures.len(), 1);
    assert_eq!(erasures[0].client_id, client_id);
    assert_eq!(erasures[0].erased_by, app.admin.user_id);
}

#[tokio::test]
async fn erasing_one_client_of_a_shared_case_keeps_the_case() {
    let app = spawn_app().await;
    let admin = app.login(&app.admin).await;
    let clinician = app.login(&app.clinician).await;
    let (case_id, first) = case_with_data(&app, &clinician, "S-1").await;
    let partner = app
        .store
        .create_client(&app.clinic_a, "S-2", None, bordin_server::state::now_ms())
        .await
        .unwrap();
    app.store
        .add_client_to_case(&app.clinic_a, &case_id, &partner.client_id)
        .await
        .unwrap();
    let (status, body) = admin
        .post_json(
            &format!("/api/v1/admin/clients/{first}/erasure"),
            &json!({"reason": "request", "confirm_code": "S-1"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["cases_kept"], json!([case_id]));
    let (status, case) = clinician
        .get_json(&format!("/api/v1/cases/{case_id}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let codes: Vec<&str> = case["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["S-2"]);
    assert!(
        case["scores"].as_array().unwrap().is_empty(),
        "the erased client's scores are gone: {case}"
    );
}

#[tokio::test]
async fn tokens_cannot_export_or_erase_and_clinicians_are_told_not_found() {
    let app = spawn_app().await;
    let admin = app.login(&app.admin).await;
    let clinician = app.login(&app.clinician).await;
    let (_, client_id) = case_with_data(&app, &clinician, "P-1").await;
    let (token, _) = create_token(&admin, &app.admin.user_id, "write").await;
    let r = bearer(
        &app,
        reqwest::Method::GET,
        &format!("/api/v1/admin/clients/{client_id}/export"),
        &token,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let (status, _) = clinician
        .get_json(&format!("/api/v1/admin/clients/{client_id}/export"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_without_ids() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let case_id = s.new_case("M-1").await;
    crate::consent::grant_all(&app, &app.clinic_a, &case_id).await;
    let link = s.send_link(&case_id, "phq9").await;
    let (status, _) = submit_link_form(&app.base, &link, &PHQ9_12_NO_RISK).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = s.get_json(&format!("/api/v1/cases/{case_id}")).await;
    assert_eq!(status, StatusCode::OK);

    let r = reqwest::get(app.url("/metrics")).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "loopback is allowed by default");
    assert_eq!(
        r.headers()[CONTENT_TYPE],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = r.text().await.unwrap();
    assert!(
        text.contains("# TYPE bordin_http_requests_total counter"),
        "{text}"
    );
    assert!(
        text.contains(r#"bordin_http_requests_total{method="GET",route="/api/v1/cases/{case_id}",status="2xx"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"bordin_http_requests_total{method="POST",route="/f/{clinic_id}/{secret}",status="2xx"} 1"#), "{text}");
    assert!(
        text.contains(r#"bordin_form_submissions_total{source="link"} 1"#),
        "{text}"
    );
    assert!(text.contains("bordin_http_request_duration_seconds_bucket{route=\"/api/v1/cases/{case_id}\",le=\"+Inf\"} 1"), "{text}");
    assert!(text.contains("bordin_alerts_raised_total"), "{text}");
    let secret = link.rsplit('/').next().unwrap();
    for private in [case_id.as_str(), secret, "M-1", app.clinic_a.as_str()] {
        assert!(!text.contains(private), "{private} leaked into the metrics");
    }
}

#[tokio::test]
async fn metrics_access_follows_the_configuration() {
    let off = spawn_app_with(|c| c.metrics = MetricsAccess::Off).await;
    assert_eq!(
        reqwest::get(off.url("/metrics")).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );

    let token = spawn_app_with(|c| {
        c.metrics = MetricsAccess::Token;
        c.metrics_token = Some(Secret::new("a-metrics-token-of-length"));
    })
    .await;
    let http = reqwest::Client::new();
    let r = http.get(token.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = http
        .get(token.url("/metrics"))
        .header(AUTHORIZATION, "Bearer wrong-token-wrong-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = http
        .get(token.url("/metrics"))
        .header(AUTHORIZATION, "Bearer a-metrics-token-of-length")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}
