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

/// The OpenAPI document against the routes that exist, both ways:
/// - every path the application serves under `/api/` is in the document, so a JSON route
///   added outside `api::routes` (as a plain `.get`/`.post`) fails here;
/// - every documented path and method is served: an anonymous call reaches the handler (JSON,
///   or the extractor's refusal), never the HTML fallback, 404 from the router, or 405;
/// - the security schemes (API token, session cookie, CSRF header) are declared.
#[tokio::test]
async fn the_openapi_document_matches_the_served_routes() {
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
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["api_token"]["scheme"], "bearer", "{schemes}");
    assert_eq!(schemes["session_cookie"]["in"], "cookie", "{schemes}");
    assert_eq!(schemes["csrf_header"]["name"], "X-CSRF-Token", "{schemes}");
    let paths = doc["paths"].as_object().expect("paths");
    let documented: BTreeSet<&str> = paths.keys().map(String::as_str).collect();

    let mut served: Vec<String> = bordin_server::route_table()
        .into_iter()
        .map(|r| r.path)
        .collect();
    served.sort();
    served.dedup();
    let undocumented: Vec<&String> = served
        .iter()
        .filter(|p| {
            // Every JSON surface: the API and the FHIR endpoints.
            (p.starts_with("/api/") || p.starts_with("/fhir/"))
                && p.as_str() != bordin_server::OPENAPI_PATH
                && !documented.contains(p.as_str())
        })
        .collect();
    assert!(
        undocumented.is_empty(),
        "JSON routes missing from the OpenAPI document (register them in api::router with #[utoipa::path]): {undocumented:?}"
    );
    assert!(
        documented.len() >= 27,
        "the document lost paths: {documented:?}"
    );

    for (path, item) in paths {
        assert!(served.contains(path), "{path} is documented but not served");
        for m in ["get", "post", "put", "patch", "delete"] {
            if item.get(m).is_none() {
                continue;
            }
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
