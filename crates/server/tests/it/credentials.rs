//! Login throttling and back-off, the TOTP second factor, and password changes.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{scrape_csrf, spawn_app, Session, TestApp, PASSWORD};

async fn api_login(
    app: &TestApp,
    email: &str,
    password: &str,
    code: Option<&str>,
) -> (StatusCode, Value) {
    let r = reqwest::Client::new()
        .post(app.url("/api/v1/session"))
        .json(&json!({"email": email, "password": password, "code": code}))
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn post_form(s: &Session, path: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
    let r = s.http.post(s.url(path)).form(form).send().await.unwrap();
    let status = r.status();
    (status, r.text().await.unwrap())
}

#[tokio::test]
async fn five_failures_make_an_account_wait_and_an_admin_can_clear_it() {
    let app = spawn_app().await;
    let email = &app.clinician.email;
    for _ in 0..5 {
        let (status, body) = api_login(&app, email, "wrong password", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }
    // Now even the right password waits: the answer says until when, and that it is not for good.
    let (status, body) = api_login(&app, email, PASSWORD, None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"], "too_many_requests");
    assert!(
        body["message"].as_str().unwrap().contains("paused until"),
        "{body}"
    );
    // Another account from the same address is not affected.
    let (status, _) = api_login(&app, &app.other_clinician.email, PASSWORD, None).await;
    assert_eq!(status, StatusCode::OK);

    // The admin sees the failures and lets Cleo try again at once.
    let admin = app.login(&app.admin).await;
    let page = admin.get("/admin/users").await.text().await.unwrap();
    assert!(page.contains("Let them try again now"), "{page}");
    let (status, html) = post_form(
        &admin,
        &format!("/admin/users/{}/unlock", app.clinician.user_id),
        &[("csrf", &admin.csrf)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("may log in again now"));
    let (status, _) = api_login(&app, email, PASSWORD, None).await;
    assert_eq!(status, StatusCode::OK);

    // A clinician cannot clear anyone; nor can clinic B's admin clear clinic A's user.
    let cleo = app.login(&app.clinician).await;
    let (status, _) = post_form(
        &cleo,
        &format!("/admin/users/{}/unlock", app.other_clinician.user_id),
        &[("csrf", &cleo.csrf)],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unknown_accounts_are_refused_and_throttled_exactly_like_real_ones() {
    let app = spawn_app().await;
    let mut answers = Vec::new();
    for email in [app.clinician.email.as_str(), "nobody@a.test"] {
        let mut seen = Vec::new();
        for _ in 0..6 {
            let (status, body) = api_login(&app, email, "wrong password", None).await;
            seen.push((status, body["error"].clone()));
        }
        answers.push(seen);
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0][4].0, StatusCode::UNAUTHORIZED);
    assert_eq!(answers[0][5].0, StatusCode::TOO_MANY_REQUESTS);
    // The HTML login page gives the same answer for both, word for word.
    let mut pages = Vec::new();
    for email in [app.other_clinician.email.as_str(), "nobody-else@a.test"] {
        let r = reqwest::Client::new()
            .post(app.url("/login"))
            .form(&[("email", email), ("password", "wrong password")])
            .send()
            .await
            .unwrap();
        let status = r.status();
        let html = r.text().await.unwrap().replace(email, "EMAIL");
        pages.push((status, html));
    }
    assert_eq!(pages[0].0, StatusCode::UNAUTHORIZED);
    assert_eq!(pages[0], pages[1]);
}

#[tokio::test]
async fn totp_enrolment_then_login_asks_for_the_code_and_refuses_a_replayed_one() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let page = s.get("/account/totp").await.text().await.unwrap();
    let start = page
        .find(r#"id="totp-secret">"#)
        .expect("the secret is shown")
        + r#"id="totp-secret">"#.len();
    let secret_text = &page[start..start + page[start..].find('<').unwrap()];
    assert_eq!(secret_text.len(), 32, "160 bits in base32: {secret_text}");
    assert!(
        page.contains(&format!(
            "otpauth://totp/Bordin:cli@a.test?secret={secret_text}&amp;issuer=Bordin"
        )),
        "{page}"
    );
    let csrf = scrape_csrf(&page);
    let now_s = (bordin_server::state::now_ms() / 1000) as u64;
    let code_now = bordin_server::totp::code_at(secret_text, now_s).unwrap();
    let code_next = bordin_server::totp::code_at(secret_text, now_s + 30).unwrap();

    let (status, html) =
        post_form(&s, "/account/totp", &[("csrf", &csrf), ("code", "000000")]).await;
    if code_now != "000000" {
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    }
    let (status, html) =
        post_form(&s, "/account/totp", &[("csrf", &csrf), ("code", &code_now)]).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Two-step login is on"), "{html}");

    let email = &app.clinician.email;
    let (status, body) = api_login(&app, email, PASSWORD, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("code_needed"))
    );
    // The code used to confirm cannot log in: it was used already.
    let (status, body) = api_login(&app, email, PASSWORD, Some(&code_now)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("code_refused"))
    );
    let (status, body) = api_login(&app, email, PASSWORD, Some(&code_next)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The same code again (an observed one, replayed) is refused.
    let (status, body) = api_login(&app, email, PASSWORD, Some(&code_next)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("code_refused"))
    );
    // A wrong password with a fresh-looking code is refused as a wrong password.
    let (status, body) = api_login(&app, email, "wrong password", Some(&code_next)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthenticated"))
    );
}

#[tokio::test]
async fn a_password_change_follows_the_rules_and_ends_other_sessions() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let other = app.login(&app.clinician).await;
    let page = s.get("/account").await.text().await.unwrap();
    assert!(page.contains("At least 15 characters"), "{page}");
    let csrf = scrape_csrf(&page);
    let change = |current: &'static str, new: &'static str, confirm: &'static str| {
        let (s, csrf) = (&s, csrf.clone());
        async move {
            post_form(
                s,
                "/account/password",
                &[
                    ("csrf", &csrf),
                    ("current", current),
                    ("new", new),
                    ("confirm", confirm),
                ],
            )
            .await
        }
    };
    let (status, html) = change(
        "not it",
        "a long enough new passphrase",
        "a long enough new passphrase",
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains("current password: that is not your current password"),
        "{html}"
    );
    let (status, html) = change(PASSWORD, "too short", "too short").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("at least 15 characters"), "{html}");
    let (status, html) = change(PASSWORD, "passwordpassword", "passwordpassword").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("breached or common passwords"), "{html}");
    let (status, html) = change(PASSWORD, "a long enough new passphrase", "a different one").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("differ"), "{html}");
    // No composition rules: lower-case words and spaces are fine.
    let (status, html) = change(
        PASSWORD,
        "a long enough new passphrase",
        "a long enough new passphrase",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Password changed"));

    // This session goes on; the other one ended; the new password logs in, the old one not.
    assert_eq!(s.get("/api/v1/cases").await.status(), StatusCode::OK);
    assert_eq!(
        other.get("/api/v1/cases").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = api_login(
        &app,
        &app.clinician.email,
        "a long enough new passphrase",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = api_login(&app, &app.clinician.email, PASSWORD, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
