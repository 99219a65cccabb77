//! What every response carries, and what the server does with input it cannot use: health check,
//! security headers, the OpenAPI document, oversized and malformed bodies.

use std::collections::BTreeSet;

use reqwest::header::CONTENT_TYPE;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::*;

#[tokio::test]
async fn healthz_answers_ok() {
    let app = spawn_app().await;
    let r = reqwest::get(app.url("/healthz")).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"status": "ok"}));
}

#[tokio::test]
async fn security_headers_are_set() {
    let app = spawn_app().await;
    // A page, a client link page, an API answer and an error all carry them.
    for path in [
        "/login",
        "/f/nope/nope",
        "/api/openapi.json",
        "/healthz",
        "/no/such/page",
    ] {
        let r = reqwest::get(app.url(path)).await.unwrap();
        let h = r.headers();
        let get = |name: &str| {
            h.get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let csp = get("content-security-policy");
        assert!(csp.contains("default-src 'self'"), "{path}: CSP {csp:?}");
        assert!(
            csp.contains("frame-ancestors 'none'"),
            "{path}: CSP {csp:?}"
        );
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{path}: CSP allows inline code: {csp:?}"
        );
        assert_eq!(get("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(get("x-frame-options"), "DENY", "{path}");
        assert_eq!(get("referrer-policy"), "no-referrer", "{path}");
    }
    // Pages are never cached (they carry clinical data); the stylesheet may be.
    let r = reqwest::get(app.url("/login")).await.unwrap();
    assert_eq!(r.headers()["cache-control"], "no-store");
}

/// Every `/api/v1` route the router serves, with its methods. This list is the specification:
/// a new route must be added here, and the OpenAPI document must list it.
const API_ROUTES: [(&str, &[&str]); 28] = [
    ("/api/v1/instruments", &["get"]),
    ("/api/v1/instruments/{id}", &["get"]),
    ("/api/v1/instruments/{id}/score", &["post"]),
    ("/api/v1/session", &["post", "delete"]),
    ("/api/v1/cases", &["get", "post"]),
    ("/api/v1/cases/{case_id}", &["get"]),
    ("/api/v1/cases/{case_id}/sessions", &["post"]),
    ("/api/v1/cases/{case_id}/administrations", &["post"]),
    ("/api/v1/cases/{case_id}/responses", &["post"]),
    ("/api/v1/responses/{response_id}", &["get"]),
    ("/api/v1/responses/{response_id}/corrections", &["post"]),
    ("/api/v1/links/{clinic_id}/{secret}", &["get", "post"]),
    ("/api/v1/alerts", &["get"]),
    ("/api/v1/alerts/{alert_id}/acknowledge", &["post"]),
    ("/api/v1/alerts/{alert_id}/resolve", &["post"]),
    ("/api/v1/cases/{case_id}/goals", &["get", "post"]),
    ("/api/v1/goals/{goal_id}", &["put"]),
    ("/api/v1/goals/{goal_id}/ratings", &["post"]),
    ("/api/v1/goals/{goal_id}/tasks", &["post"]),
    ("/api/v1/tasks/{task_id}/reports", &["post"]),
    ("/api/v1/cases/{case_id}/formulation", &["put"]),
    ("/api/v1/cases/{case_id}/agreements", &["get"]),
    ("/api/v1/cases/{case_id}/consents", &["get", "post"]),
    ("/api/v1/audit", &["get"]),
    ("/api/v1/cases/{case_id}/transcripts", &["get", "post"]),
    (
        "/api/v1/cases/{case_id}/transcripts/{transcript_id}",
        &["get"],
    ),
    (
        "/api/v1/cases/{case_id}/transcripts/{transcript_id}/roles",
        &["put"],
    ),
    ("/api/v1/transcript-retention", &["put"]),
];

#[tokio::test]
async fn the_openapi_document_lists_every_api_route() {
    let app = spawn_app().await;
    let r = reqwest::get(app.url("/api/openapi.json")).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let doc: Value = r.json().await.unwrap();
    assert!(
        doc["openapi"]
            .as_str()
            .unwrap_or_default()
            .starts_with("3."),
        "not OpenAPI 3.x: {}",
        doc["openapi"]
    );
    assert!(doc["info"]["title"].is_string());
    let paths = doc["paths"].as_object().expect("paths");

    let documented: BTreeSet<&str> = paths.keys().map(String::as_str).collect();
    let expected: BTreeSet<&str> = API_ROUTES.iter().map(|(p, _)| *p).collect();
    assert_eq!(
        documented, expected,
        "the document's paths differ from the served routes"
    );

    for (path, methods) in API_ROUTES {
        for m in methods {
            assert!(
                paths[path].get(*m).is_some(),
                "{} {path} is not documented",
                m.to_uppercase()
            );
            // And the router serves it: an anonymous call reaches the handler (JSON, or the
            // extractor's plain-text refusal), never the HTML fallback or 405.
            let url = app.url(
                &path
                    .replace("{id}", "phq9")
                    .replace('{', "x")
                    .replace('}', ""),
            );
            let method = reqwest::Method::from_bytes(m.to_uppercase().as_bytes()).unwrap();
            let r = reqwest::Client::new()
                .request(method, &url)
                .send()
                .await
                .unwrap();
            let ct = r
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            assert_ne!(r.status(), StatusCode::METHOD_NOT_ALLOWED, "{m} {path}");
            assert!(
                !ct.starts_with("text/html"),
                "{m} {path} fell through to the HTML fallback ({})",
                r.status()
            );
        }
    }
}

#[tokio::test]
async fn oversized_bodies_are_refused_not_500() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let case_id = s.new_case("C-big").await;
    let link = s.send_link(&case_id, "session_check").await;
    let big = "x".repeat(bordin_server::BODY_LIMIT + 1024);

    // A client link form.
    let r = reqwest::Client::new()
        .post(app.url(&link))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!("q1=3&note={big}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // A JSON API call, logged in, with a valid CSRF token.
    let body = json!({"answers": {"q1": big}});
    let (status, _) = s.post_json("/api/v1/instruments/phq9/score", &body).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    // Nothing was stored, and the link still works.
    let (status, page) = submit_link_form(&app.base, &link, &SESSION_CHECK_30).await;
    assert_eq!(status, StatusCode::OK, "{page}");
}

#[tokio::test]
async fn malformed_json_bodies_on_the_api_give_4xx_not_500() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let case_id = s.new_case("C-json").await;
    let link = s.send_link(&case_id, "phq9").await;
    let api_link = link.replacen("/f/", "/api/v1/links/", 1);

    let bodies: [(&str, &str); 6] = [
        ("application/json", "{"),
        ("application/json", "not json at all"),
        ("application/json", "[]"),
        ("application/json", r#"{"answers": {"q1": 3}}"#), // a number where text is expected
        ("application/json", r#"{"answers": "q1=3"}"#),
        ("text/plain", r#"{"answers": {}}"#), // right body, wrong content type
    ];
    let paths = [
        "/api/v1/session".to_owned(),
        "/api/v1/cases".to_owned(),
        format!("/api/v1/cases/{case_id}/sessions"),
        format!("/api/v1/cases/{case_id}/administrations"),
        format!("/api/v1/cases/{case_id}/responses"),
        "/api/v1/instruments/phq9/score".to_owned(),
        api_link.clone(),
    ];
    for path in &paths {
        for (ct, body) in bodies {
            let r = s
                .http
                .post(s.url(path))
                .header("x-csrf-token", &s.csrf)
                .header(CONTENT_TYPE, ct)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = r.status();
            assert!(
                status.is_client_error(),
                "POST {path} with {ct} {body:?} gave {status}"
            );
        }
    }
    // The link was not used up by any of it.
    let r = reqwest::get(app.url(&api_link)).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}
