//! Logging in and out, pages behind the login, and the CSRF token on every state-changing
//! request.

use reqwest::header::LOCATION;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn login_with_wrong_password_is_refused_and_keeps_the_email() {
    let app = spawn_app().await;
    let http = no_redirects();
    let r = http
        .post(app.url("/login"))
        .form(&[("email", "cli@a.test"), ("password", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        r.headers().get("set-cookie").is_none(),
        "a refused login sets no cookie"
    );
    let page = r.text().await.unwrap();
    assert!(
        page.contains("That email and password do not match an account."),
        "{page}"
    );
    assert!(
        page.contains(r#"value="cli@a.test""#),
        "the email is kept in the form: {page}"
    );
    assert!(!page.contains("wrong"), "the password is never echoed");

    // An unknown email gets the very same answer.
    let r = http
        .post(app.url("/login"))
        .form(&[("email", "nobody@a.test"), ("password", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("That email and password do not match an account."));

    // The API says the same in JSON.
    let r = http
        .post(app.url("/api/v1/session"))
        .json(&json!({"email": "cli@a.test", "password": "wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["error"],
        "unauthenticated"
    );

    // Still out.
    let r = http.get(app.url("/caseload")).send().await.unwrap();
    assert_eq!(r.headers()[LOCATION], "/login");
}

#[tokio::test]
async fn login_through_the_form_leads_to_the_caseload_and_logout_ends_the_session() {
    let app = spawn_app().await;
    let http = no_redirects();
    let r = http
        .post(app.url("/login"))
        .form(&[("email", "cli@a.test"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/caseload");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );

    let page = http
        .get(app.url("/caseload"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("<h1>Caseload</h1>") && page.contains("Cleo Clinician"),
        "{page}"
    );

    let csrf = scrape_csrf(&page);
    let r = http
        .post(app.url("/logout"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()[LOCATION], "/login");
    let r = http.get(app.url("/caseload")).send().await.unwrap();
    assert_eq!(
        r.headers()[LOCATION],
        "/login",
        "the session ended on the server"
    );
}

#[tokio::test]
async fn pages_need_login() {
    let app = spawn_app().await;
    let http = no_redirects();
    for path in [
        "/",
        "/caseload",
        "/clients/new",
        "/instruments",
        "/cases/anything",
        "/cases/anything/enter?instrument=wai_srt",
    ] {
        let r = http.get(app.url(path)).send().await.unwrap();
        assert!(r.status().is_redirection(), "GET {path}: {}", r.status());
        assert_eq!(r.headers()[LOCATION], "/login", "GET {path}");
    }
    // Following the redirect lands on the login form.
    let r = browser_like()
        .get(app.url("/caseload"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.url().path(), "/login");
    assert!(r.text().await.unwrap().contains("Log in to Bordin"));

    // The API answers 401 in JSON instead of redirecting.
    for path in ["/api/v1/cases", "/api/v1/instruments"] {
        let r = http.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "GET {path}");
        assert_eq!(
            r.json::<serde_json::Value>().await.unwrap()["error"],
            "unauthenticated"
        );
    }
    // A forged cookie is no better than none.
    let r = http
        .get(app.url("/caseload"))
        .header(
            "cookie",
            format!("bordin_session={}.AAAAAAAAAAAAAAAAAAAAAA", app.clinic_a),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()[LOCATION], "/login");
}

#[tokio::test]
async fn state_changing_requests_without_csrf_are_refused() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let case_id = s.new_case("C-csrf").await;

    // HTML forms: missing and wrong tokens.
    let forms: Vec<(String, Vec<(&str, &str)>)> = vec![
        ("/clients".to_owned(), vec![("code", "C-forged")]),
        (
            format!("/cases/{case_id}/send"),
            vec![("instrument", "session_check"), ("session", "new")],
        ),
        (
            format!("/cases/{case_id}/sessions"),
            vec![("held_on", "2026-01-05")],
        ),
        ("/logout".to_owned(), vec![]),
    ];
    for (path, fields) in &forms {
        for csrf in [None, Some("wrong-token-wrong-token")] {
            let mut fields = fields.clone();
            if let Some(c) = csrf {
                fields.push(("csrf", c));
            }
            let r = s.http.post(s.url(path)).form(&fields).send().await.unwrap();
            assert_eq!(
                r.status(),
                StatusCode::FORBIDDEN,
                "POST {path} with csrf {csrf:?}"
            );
            assert!(r
                .text()
                .await
                .unwrap()
                .contains("security token did not match"));
        }
    }

    // The JSON API: no header, a wrong header, and the token in the body instead of the header.
    let calls = [
        ("/api/v1/cases".to_owned(), json!({"code": "C-forged"})),
        (
            format!("/api/v1/cases/{case_id}/sessions"),
            json!({"held_on": "2026-01-05"}),
        ),
        (
            format!("/api/v1/cases/{case_id}/administrations"),
            json!({"instrument": "session_check"}),
        ),
    ];
    for (path, body) in &calls {
        for header in [None, Some("wrong-token-wrong-token")] {
            let mut req = s.http.post(s.url(path)).json(body);
            if let Some(h) = header {
                req = req.header("x-csrf-token", h);
            }
            let r = req.send().await.unwrap();
            assert_eq!(
                r.status(),
                StatusCode::FORBIDDEN,
                "POST {path} with header {header:?}"
            );
            assert_eq!(
                r.json::<serde_json::Value>().await.unwrap()["error"],
                "csrf"
            );
        }
    }
    let r = s
        .http
        .delete(s.url("/api/v1/session"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "logout through the API needs the token too"
    );

    // Nothing happened: one case, no sessions, no links, and the session still works.
    let (_, cases) = s.get_json("/api/v1/cases").await;
    assert_eq!(cases.as_array().unwrap().len(), 1, "{cases}");
    let (_, detail) = s.get_json(&format!("/api/v1/cases/{case_id}")).await;
    assert_eq!(detail["sessions"].as_array().unwrap().len(), 0, "{detail}");
    assert_eq!(detail["pending"].as_array().unwrap().len(), 0, "{detail}");

    // With the token, the same requests work.
    let (status, _) = s
        .post_json(
            &format!("/api/v1/cases/{case_id}/sessions"),
            &json!({"held_on": "2026-01-05"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

/// Login CSRF: a sign-in posted from another site's page is refused before the password is
/// checked, even a correct one; the same sign-in from Bordin's own page (its Origin) or without
/// an Origin (not a browser's cross-site request) logs in.
#[tokio::test]
async fn a_login_posted_from_another_site_is_refused() {
    let app = spawn_app().await;
    let http = no_redirects();
    let form = [
        ("email", app.clinician.email.as_str()),
        ("password", PASSWORD),
    ];
    let r = http
        .post(app.url("/login"))
        .header("origin", "https://evil.example")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(
        r.headers().get("set-cookie").is_none(),
        "no session from a cross-site sign-in"
    );
    assert!(r.text().await.unwrap().contains("another site"));
    // A browser that hides the Origin ("null") still says where the request came from.
    let r = http
        .post(app.url("/login"))
        .header("origin", "null")
        .header("sec-fetch-site", "cross-site")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let r = http
        .post(app.url("/login"))
        .header("origin", app.base.as_str())
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(r.headers().get("set-cookie").is_some());
}
