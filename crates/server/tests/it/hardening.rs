//! Hardening: HSTS over TLS, per-field size limits, client links that give nothing away,
//! link-guessing throttle, and logs that hold no secrets or personal data.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use reqwest::StatusCode;

use crate::support::{
    scrape_csrf, spawn_app, spawn_app_with, submit_link_form, PASSWORD, SESSION_CHECK_30,
};

#[tokio::test]
async fn hsts_is_sent_when_the_public_url_is_https_and_not_otherwise() {
    let tls = spawn_app_with(|c| c.public_url = Some("https://bordin.example.org".into())).await;
    let r = reqwest::get(tls.url("/login")).await.unwrap();
    assert_eq!(
        r.headers()
            .get("strict-transport-security")
            .and_then(|v| v.to_str().ok()),
        Some("max-age=31536000; includeSubDomains")
    );
    let plain = spawn_app().await;
    let r = reqwest::get(plain.url("/login")).await.unwrap();
    assert!(r.headers().get("strict-transport-security").is_none());
}

#[tokio::test]
async fn an_oversized_form_field_is_refused_with_its_name() {
    let app = spawn_app().await;
    let long_email = "a".repeat(300);
    let r = reqwest::Client::new()
        .post(app.url("/login"))
        .form(&[("email", long_email.as_str()), ("password", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("the field &#39;email&#39; is too long: at most 254 characters")
            || html.contains("the field 'email' is too long: at most 254 characters"),
        "{html}"
    );

    // A client's answer of 20,001 characters: refused before the form is read, naming q1.
    let s = app.login(&app.clinician).await;
    let case_id = s.new_case("FL-1").await;
    let link = s.send_link(&case_id, "session_check").await;
    let huge = "9".repeat(20_001);
    let (status, html) = submit_link_form(&app.base, &link, &[("q1", huge.as_str())]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains("q1") && html.contains("at most 20000 characters"),
        "{html}"
    );
    // The link still works afterwards.
    let (status, _) = submit_link_form(&app.base, &link, &SESSION_CHECK_30).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn guessed_expired_malformed_and_foreign_link_tokens_answer_identically() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let case_id = s.new_case("LK-1").await;
    let expired = s.send_link(&case_id, "session_check").await;
    let secret = expired.rsplit('/').next().unwrap().to_owned();
    app.store
        .execute_raw_for_tests("UPDATE administrations SET expires_at = 1")
        .await
        .unwrap();
    // A real link is 128 random bits, URL-safe base64 without padding: 22 characters.
    assert_eq!(secret.len(), 22);
    let a = &app.clinic_a;
    let paths = [
        format!("/f/{a}/AAAAAAAAAAAAAAAAAAAAAA"), // guessed, well-formed
        format!("/f/{a}/{secret}"),               // expired
        format!("/f/{a}/short"),                  // malformed
        format!("/f/{}/{secret}", app.clinic_b),  // right secret, other clinic
        format!("/f/no-such-clinic/{secret}"),    // missing clinic
    ];
    let mut answers = Vec::new();
    for p in &paths {
        let get = reqwest::get(app.url(p)).await.unwrap();
        let get = (get.status(), get.text().await.unwrap());
        let post = submit_link_form(&app.base, p, &SESSION_CHECK_30).await;
        let api = reqwest::get(app.url(&p.replacen("/f/", "/api/v1/links/", 1)))
            .await
            .unwrap();
        let api = (api.status(), api.text().await.unwrap());
        answers.push((get, post, api));
    }
    assert_eq!(answers[0].0 .0, StatusCode::NOT_FOUND);
    assert_eq!(answers[0].2 .0, StatusCode::NOT_FOUND);
    for (p, a) in paths.iter().zip(&answers) {
        assert_eq!(
            a, &answers[0],
            "{p} answers differently from a guessed link"
        );
    }
}

#[tokio::test]
async fn guessing_links_from_one_address_is_slowed_down() {
    let app = spawn_app_with(|c| c.security.throttle.link_failures = 3).await;
    for i in 0..3 {
        let r = reqwest::get(app.url(&format!("/f/{}/AAAAAAAAAAAAAAAAAAAAA{i}", app.clinic_a)))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }
    let r = reqwest::get(app.url(&format!("/g/{}/AAAAAAAAAAAAAAAAAAAAAA", app.clinic_a)))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // Staff pages are not affected.
    let s = app.login(&app.clinician).await;
    assert_eq!(s.get("/caseload").await.status(), StatusCode::OK);
}

/// Everything any test in this binary logs, at every level, from the moment the first test
/// asks for it.
fn captured() -> &'static Arc<Mutex<Vec<u8>>> {
    static BUF: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUF.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || Capture(writer.clone()))
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        buf
    })
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_full_flow_logs_no_password_secret_session_token_or_client_code() {
    let logs = captured();
    let app = spawn_app().await;
    let mut secrets: Vec<String> = vec![PASSWORD.into()];

    // Log in through the HTML form (a wrong password first), as a browser does.
    let http = crate::support::browser_like();
    let r = http
        .post(app.url("/login"))
        .form(&[
            ("email", app.clinician.email.as_str()),
            ("password", "wrong horse battery staple"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    secrets.push("wrong horse battery staple".into());
    let s = app.login(&app.clinician).await;
    secrets.push(s.csrf.clone());
    // A session used by hand, so its id is known to the test.
    let r = reqwest::Client::new()
        .post(app.url("/api/v1/session"))
        .json(&serde_json::json!({"email": app.supervisor.email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let set_cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let session_secret = cookie.rsplit('.').next().unwrap().to_owned();
    assert!(session_secret.len() >= 22, "{cookie}");
    secrets.push(session_secret);
    let r = reqwest::Client::new()
        .get(app.url("/caseload"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // A client with a code and a name, a link, the client's answers, a risk flag.
    let html = s.get("/clients/new").await.text().await.unwrap();
    let csrf = scrape_csrf(&html);
    let r = s
        .http
        .post(s.url("/clients"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("code", "ZQX-7731"),
            ("display_name", "Wilhelmina Quarrington"),
            ("setting", "therapy"),
            ("consent_questionnaires", "true"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let case_id = r.url().path().rsplit('/').next().unwrap().to_owned();
    secrets.push("ZQX-7731".into());
    secrets.push("Wilhelmina".into());
    secrets.push("Quarrington".into());
    let link = s.send_link(&case_id, "phq9").await;
    secrets.push(link.rsplit('/').next().unwrap().to_owned());
    let (status, _) = submit_link_form(&app.base, &link, &crate::support::PHQ9_12_NO_RISK).await;
    assert_eq!(status, StatusCode::OK);

    // Two-step login set-up and a password change.
    let page = s.get("/account/totp").await.text().await.unwrap();
    let marker = r#"id="totp-secret">"#;
    let start = page.find(marker).unwrap() + marker.len();
    let totp_secret = page[start..start + page[start..].find('<').unwrap()].to_owned();
    secrets.push(totp_secret);
    let r = s
        .http
        .post(s.url("/account/password"))
        .form(&[
            ("csrf", s.csrf.as_str()),
            ("current", PASSWORD),
            ("new", "quietly orbiting marmalade kettles"),
            ("confirm", "quietly orbiting marmalade kettles"),
        ])
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("Password changed"));
    secrets.push("quietly orbiting marmalade kettles".into());
    let r = s
        .http
        .post(s.url("/logout"))
        .form(&[("csrf", s.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(
        text.contains("password changed"),
        "the capture works and the flow logged something: {} bytes",
        text.len()
    );
    for secret in &secrets {
        assert!(
            !text.contains(secret.as_str()),
            "the logs contain a secret or personal datum ({} characters long)",
            secret.len()
        );
    }
}
