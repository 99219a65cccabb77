//! Forms sent to clients as links: the clinician's round trip, single use, invalid answers,
//! invalid links, licence-gated forms, and risk items.

use bordin_server::auth::random_secret;
use bordin_store::{hash_secret, NewAdministration};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

async fn a_clinician_creates_a_client_sends_a_session_check_link_and_sees_the_scores() {
    let app = spawn_app().await;
    let http = browser_like();

    // Log in through the form.
    let r = http
        .post(app.url("/login"))
        .form(&[
            ("email", app.clinician.email.as_str()),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.url().path(), "/caseload");

    // Open a case for a new client.
    let page = http
        .get(app.url("/clients/new"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = scrape_csrf(&page);
    let r = http
        .post(app.url("/clients"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("code", "C-101"),
            ("display_name", "Robin"),
            ("setting", "therapy"),
            ("consent_questionnaires", "true"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let case_path = r.url().path().to_owned();
    assert!(
        case_path.starts_with("/cases/"),
        "redirected to the client page, got {case_path}"
    );
    let page = r.text().await.unwrap();
    assert!(
        page.contains("<h1>Robin</h1>") && page.contains("No sessions yet."),
        "{page}"
    );

    // Send the Session Check for a new session today.
    let r = http
        .post(app.url(&format!("{case_path}/send")))
        .form(&[
            ("csrf", csrf.as_str()),
            ("instrument", "session_check"),
            ("session", "new"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("Link created for Bordin Session Check."),
        "{page}"
    );
    assert!(page.contains("Links waiting for answers"), "{page}");
    let link = attr_after(&page, r#"id="form-link" href=""#).expect("the page shows the link");
    assert!(link.starts_with(&format!("/f/{}/", app.clinic_a)), "{link}");

    // The client opens it on their phone (no account, no cookie) and answers.
    let form = reqwest::get(app.url(&link)).await.unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    let form = form.text().await.unwrap();
    assert!(
        form.contains("Bordin Session Check")
            && form.contains("I felt heard, understood and respected."),
        "{form}"
    );
    assert!(
        form.contains("your therapist"),
        "instructions use the setting's words: {form}"
    );
    let (status, thanks) = submit_link_form(&app.base, &link, &SESSION_CHECK_30).await;
    assert_eq!(status, StatusCode::OK);
    assert!(thanks.contains("Your answers have been sent."), "{thanks}");

    // The clinician sees session 1 with the total and its parts.
    let page = http
        .get(app.url(&case_path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let table = &page[page.find(r#"<table id="scores""#).expect("a scores table")..];
    let table = &table[..table.find("</table>").unwrap()];
    assert!(table.contains("Session Check"), "{table}");
    assert!(
        table.contains("<strong>30</strong>"),
        "8 + 7 + 9 + 6 = 30: {table}"
    );
    assert!(
        table.contains("bond 8 · goals 7 · tasks 9 · overall fit 6"),
        "{table}"
    );
    assert!(
        !page.contains("Links waiting for answers"),
        "the answered link is no longer pending"
    );

    // And the caseload shows the latest total.
    let caseload = http
        .get(app.url("/caseload"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        caseload.contains("Robin") && caseload.contains(">30<"),
        "{caseload}"
    );
}

async fn a_client_link_can_be_submitted_only_once() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let case_id = s.new_case("C-once").await;
    let link = s.send_link(&case_id, "session_check").await;

    let (status, page) = submit_link_form(&app.base, &link, &SESSION_CHECK_30).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Your answers have been sent."), "{page}");

    // The same link again, with other answers: thanks, "already", and nothing new stored.
    let (status, page) = submit_link_form(
        &app.base,
        &link,
        &[("q1", "0"), ("q2", "0"), ("q3", "0"), ("q4", "0")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("Your answers have already been received."),
        "{page}"
    );
    let r = reqwest::get(app.url(&link)).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("already been received"));

    // The API says the same: 200, already_stored, the first response's id.
    let api_link = link.replacen("/f/", "/api/v1/links/", 1);
    let r = reqwest::Client::new()
        .post(app.url(&api_link))
        .json(&json!({"answers": {"q1": "1", "q2": "1", "q3": "1", "q4": "1"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["already_stored"], true);
    let r = reqwest::get(app.url(&api_link)).await.unwrap();
    assert_eq!(r.status(), StatusCode::GONE);

    let totals = s.scores(&case_id, "session_check", "total").await;
    assert_eq!(totals.len(), 1, "one response stored: {totals:?}");
    assert_eq!(totals[0]["value"], 30.0, "the first answers stand");
    assert_eq!(totals[0]["response_id"], body["response_id"]);
}

async fn a_link_submitted_through_the_api_scores_and_stores() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let case_id = s.new_case("C-api").await;
    let link = s.send_link(&case_id, "phq9").await;
    let api_link = link.replacen("/f/", "/api/v1/links/", 1);

    let form: serde_json::Value = reqwest::get(app.url(&api_link))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(form["instrument_id"], "phq9");
    assert_eq!(form["items"].as_array().unwrap().len(), 10);

    let answers: serde_json::Map<String, serde_json::Value> = PHQ9_12_NO_RISK
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    let r = reqwest::Client::new()
        .post(app.url(&api_link))
        .json(&json!({ "answers": answers }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["already_stored"],
        false
    );
    let totals = s.scores(&case_id, "phq9", "total").await;
    assert_eq!(totals.len(), 1);
    assert_eq!(totals[0]["value"], 12.0);
    assert_eq!(totals[0]["band"], "moderate");
    assert_eq!(totals[0]["session_number"], 1);
}

#[tokio::test]
async fn an_invalid_submission_rerenders_the_form_with_answers_kept_and_the_item_named() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let case_id = s.new_case("C-invalid").await;
    let link = s.send_link(&case_id, "session_check").await;

    // q2 missing.
    let (status, page) =
        submit_link_form(&app.base, &link, &[("q1", "7"), ("q3", "5"), ("q4", "6")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Please check 1 answer below."), "{page}");
    assert!(
        radio(&page, "q1", "7").contains("checked"),
        "q1 keeps its answer: {}",
        radio(&page, "q1", "7")
    );
    assert!(radio(&page, "q3", "5").contains("checked"));
    assert!(radio(&page, "q4", "6").contains("checked"));
    assert!(!radio(&page, "q1", "6").contains("checked"));
    assert!(page.contains(r#"id="err-q2""#), "the error is at q2");
    assert!(
        page.contains(r##"href="#item-q2""##),
        "the summary links to q2"
    );
    assert!(!page.contains(r#"id="err-q1""#) && !page.contains(r#"id="err-q3""#));
    assert!(page.contains("Please choose an answer to this question."));

    // Out of range, not a number, a fraction, negative: each named at its item, never a 500.
    for bad in ["11", "abc", "5.5", "-1", "1e1", "٣", "7 7"] {
        let (status, page) = submit_link_form(
            &app.base,
            &link,
            &[("q1", bad), ("q2", "7"), ("q3", "5"), ("q4", "6")],
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "q1={bad:?}");
        assert!(
            page.contains(r#"id="err-q1""#),
            "q1={bad:?}: error named at q1"
        );
        assert!(!page.contains(r#"id="err-q2""#), "q1={bad:?}");
        assert!(
            radio(&page, "q2", "7").contains("checked"),
            "q1={bad:?}: the other answers are kept"
        );
    }

    // Unknown items and answering twice are refused too.
    for pairs in [
        vec![
            ("q1", "1"),
            ("q2", "1"),
            ("q3", "1"),
            ("q4", "1"),
            ("q99", "1"),
        ],
        vec![
            ("q1", "1"),
            ("q1", "2"),
            ("q2", "1"),
            ("q3", "1"),
            ("q4", "1"),
        ],
    ] {
        let (status, _) = submit_link_form(&app.base, &link, &pairs).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{pairs:?}");
    }

    // The API names the item as well.
    let api_link = link.replacen("/f/", "/api/v1/links/", 1);
    let r = reqwest::Client::new()
        .post(app.url(&api_link))
        .json(&json!({"answers": {"q1": "11", "q2": "7", "q3": "5", "q4": "6"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_answers");
    assert_eq!(body["items"][0]["item"], "q1", "{body}");

    // Nothing was stored, and the link still takes a valid answer.
    assert!(s
        .scores(&case_id, "session_check", "total")
        .await
        .is_empty());
    let (status, page) = submit_link_form(&app.base, &link, &SESSION_CHECK_30).await;
    assert_eq!(status, StatusCode::OK, "{page}");
}

#[tokio::test]
async fn an_unknown_or_expired_link_gets_the_same_answer() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let case_id = s.new_case("C-expired").await;

    // An expired link, made through the store as the server would have made it last week.
    let secret = random_secret();
    let now = bordin_server::state::now_ms();
    let instrument = app.registry.get("session_check").unwrap();
    app.store
        .create_administration(
            &app.clinic_a,
            &NewAdministration {
                case_id: &case_id,
                session_id: None,
                client_id: None,
                instrument,
                respondent: instrument.respondent,
                token_hash: Some(&hash_secret(&secret)),
                expires_at: Some(now - 1),
                created_by: &app.clinician.user_id,
            },
            now - 7 * 24 * 3_600_000,
        )
        .await
        .unwrap();
    let expired = format!("/f/{}/{secret}", app.clinic_a);
    let real = s.send_link(&case_id, "session_check").await;
    let real_secret = real.rsplit('/').next().unwrap();

    let paths = [
        format!("/f/{}/{}", app.clinic_a, random_secret()), // never issued
        format!("/f/{}/short", app.clinic_a),               // malformed
        format!("/f/{}/{}", app.clinic_a, "a".repeat(200)), // malformed, long
        format!("/f/{}/{real_secret}", app.clinic_b),       // a real secret under another clinic
        format!("/f/no-such-clinic/{real_secret}"),
        expired.clone(),
    ];
    let mut answers = Vec::new();
    for p in &paths {
        let get = reqwest::get(app.url(p)).await.unwrap();
        let get = (get.status(), get.text().await.unwrap());
        let post = submit_link_form(&app.base, p, &SESSION_CHECK_30).await;
        answers.push((p, get, post));
    }
    let (_, first_get, first_post) = &answers[0];
    assert_eq!(first_get.0, StatusCode::NOT_FOUND);
    assert!(first_get.1.contains("This link is not valid"));
    for (p, get, post) in &answers {
        assert_eq!(get, first_get, "GET {p} differs from an unknown link");
        assert_eq!(post, first_post, "POST {p} differs from an unknown link");
    }
    // The API answers alike for all of them.
    for p in &paths {
        let r = reqwest::get(app.url(&p.replacen("/f/", "/api/v1/links/", 1)))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{p}");
    }
    // The expired link is not offered as pending, and storing through it did nothing.
    let (_, detail) = s.get_json(&format!("/api/v1/cases/{case_id}")).await;
    assert_eq!(
        detail["pending"].as_array().unwrap().len(),
        1,
        "only the live link: {detail}"
    );
    assert!(s
        .scores(&case_id, "session_check", "total")
        .await
        .is_empty());
}

#[tokio::test]
async fn wai_sr_cannot_be_sent_without_a_text_pack_and_says_how_to_fix_it() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let case_id = s.new_case("C-wai").await;

    // The API refuses with the reason and the fix.
    let (status, body) = s
        .post_json(
            &format!("/api/v1/cases/{case_id}/administrations"),
            &json!({"instrument": "wai_sr"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let msg = body["message"].as_str().unwrap();
    assert!(msg.contains("licence-gated"), "{msg}");
    assert!(msg.contains("bordin instruments add-text"), "{msg}");
    assert!(msg.contains("text pack"), "{msg}");

    // The page does not offer it, says why, and refuses a forged choice with the same message.
    let page = s
        .get(&format!("/cases/{case_id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !page.contains(r#"<option value="wai_sr">"#),
        "WAI-SR is not offered without wording"
    );
    assert!(page.contains("bordin instruments add-text"), "{page}");
    let r = s
        .http
        .post(s.url(&format!("/cases/{case_id}/send")))
        .form(&[
            ("csrf", s.csrf.as_str()),
            ("instrument", "wai_sr"),
            ("session", ""),
        ])
        .send()
        .await
        .unwrap();
    let page = r.text().await.unwrap();
    assert!(
        page.contains(r#"role="alert""#) && page.contains("bordin instruments add-text"),
        "{page}"
    );
    let (_, detail) = s.get_json(&format!("/api/v1/cases/{case_id}")).await;
    assert_eq!(
        detail["pending"].as_array().unwrap().len(),
        0,
        "no link was made"
    );

    // With a text pack installed (no restart), it can be sent and shown.
    app.install_placeholder_packs().await;
    let link = s.send_link(&case_id, "wai_sr").await;
    let form = reqwest::get(app.url(&link))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        form.contains("Demo wording: the texts below are placeholders"),
        "{form}"
    );
    assert!(form.contains("WAI-SR item 1 (task)"), "{form}");
    let page = s
        .get(&format!("/cases/{case_id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains(r#"<option value="wai_sr">"#), "now offered");
}

async fn phq9_item9_raises_a_risk_flag_shown_on_the_client_page() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let case_id = s.new_case("C-risk").await;
    let quiet = s.new_case("C-quiet").await;

    // Item 9 at "Several days"; total 2+2+1+2+1+1+2+1+1 = 13 (moderate).
    let mut answers = PHQ9_12_NO_RISK.to_vec();
    answers[8] = ("q9", "1");
    let link = s.send_link(&case_id, "phq9").await;
    let (status, _) = submit_link_form(&app.base, &link, &answers).await;
    assert_eq!(status, StatusCode::OK);
    // The other case answers without risk.
    let link = s.send_link(&quiet, "phq9").await;
    let (status, _) = submit_link_form(&app.base, &link, &PHQ9_12_NO_RISK).await;
    assert_eq!(status, StatusCode::OK);

    let page = s
        .get(&format!("/cases/{case_id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(r#"role="alert"><strong>Risk item: </strong>Item 9"#),
        "{page}"
    );
    assert!(
        page.contains("<strong>13</strong>") && page.contains("moderate"),
        "{page}"
    );
    let page = s
        .get(&format!("/cases/{quiet}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("Risk item"), "no flag without item 9");

    let (_, detail) = s.get_json(&format!("/api/v1/cases/{case_id}")).await;
    let flags = detail["flags"].as_array().unwrap();
    assert_eq!(flags.len(), 1, "{detail}");
    assert_eq!(flags[0]["flag"], "risk:q9");
    assert_eq!(flags[0]["severity"], "urgent");

    // The caseload lists the case at risk first and marks its row urgent; an alert naming the
    // case is on the page.
    let caseload = s.get("/caseload").await.text().await.unwrap();
    let table = &caseload[caseload.find("<tbody>").expect("a caseload table")..];
    let row = |code: &str| {
        let at = table
            .find(&format!(">{code}</a>"))
            .unwrap_or_else(|| panic!("{code} listed: {caseload}"));
        let end = table[at..].find("</tr>").unwrap() + at;
        (at, &table[at..end])
    };
    let ((risk_at, risk_row), (quiet_at, quiet_row)) = (row("C-risk"), row("C-quiet"));
    assert!(risk_at < quiet_at, "risk first: {caseload}");
    assert!(risk_row.contains("urgent"), "{risk_row}");
    assert!(!quiet_row.contains("urgent"), "{quiet_row}");
    let alert = &caseload[caseload
        .find(r#"role="alert""#)
        .expect("an alert on the caseload")..];
    assert!(
        alert[..alert.find("</div>").unwrap()].contains("C-risk"),
        "{alert}"
    );
    let (_, cases) = s.get_json("/api/v1/cases").await;
    let risk: Vec<_> = cases
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["title"].as_str().unwrap().to_owned(),
                c["risk_flags"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(
        risk.contains(&("C-risk".into(), 1)) && risk.contains(&("C-quiet".into(), 0)),
        "{risk:?}"
    );
}

// The end-to-end flows, on SQLite and on PostgreSQL.
bordin_store::both_backends!(
    a_clinician_creates_a_client_sends_a_session_check_link_and_sees_the_scores,
    a_client_link_can_be_submitted_only_once,
    a_link_submitted_through_the_api_scores_and_stores,
    phq9_item9_raises_a_risk_flag_shown_on_the_client_page,
);
