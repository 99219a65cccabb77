//! `POST /api/v1/instruments/{id}/score`: exact scores under each instrument's missing-item rule,
//! and answers a clinician enters in the app.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::*;

async fn score(s: &Session, instrument: &str, answers: Value) -> (StatusCode, Value) {
    s.post_json(
        &format!("/api/v1/instruments/{instrument}/score"),
        &json!({ "answers": answers }),
    )
    .await
}

fn scale<'a>(result: &'a Value, id: &str) -> &'a Value {
    result["scales"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no scale {id} in {result}"))
}

#[tokio::test]
async fn json_score_endpoint_scores_exactly() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;

    // All nine: 2+2+1+2+1+1+2+1+0 = 12, moderate, no flag.
    let (status, r) = score(&s, "phq9", json!({"q1": "2", "q2": "2", "q3": "1", "q4": "2", "q5": "1", "q6": "1", "q7": "2", "q8": "1", "q9": "0"})).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    let total = scale(&r, "total");
    assert_eq!(
        (
            total["value"].as_f64(),
            total["text"].as_str(),
            total["band"].as_str()
        ),
        (Some(12.0), Some("12"), Some("moderate"))
    );
    assert_eq!(
        (total["answered"].as_u64(), total["missing"].as_u64()),
        (Some(9), Some(0))
    );
    assert_eq!(r["severity"], "moderate");
    assert_eq!(r["flags"], json!([]));

    // Two missing (q8, q9): prorated 13 × 9 / 7 = 16.714… → 17, moderately severe.
    let (status, r) = score(&s, "phq9", json!({"q1": "3", "q2": "2", "q3": "2", "q4": "2", "q5": "2", "q6": "1", "q7": "1", "q8": "", "q9": ""})).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    let total = scale(&r, "total");
    assert_eq!(total["value"].as_f64(), Some(17.0), "{r}");
    assert_eq!(total["text"], "17");
    assert_eq!(
        (total["answered"].as_u64(), total["missing"].as_u64()),
        (Some(7), Some(2))
    );
    assert_eq!(total["band"], "moderately severe");
    assert_eq!(r["missing"], 2);

    // Half up, not half to even: one missing, sum 4 → 4 × 9 / 8 = 4.5 → 5, which is "mild"
    // (the band is read from the rounded total; half to even would give 4, "minimal").
    let (status, r) = score(&s, "phq9", json!({"q1": "1", "q2": "1", "q3": "1", "q4": "1", "q5": "0", "q6": "0", "q7": "0", "q8": "0"})).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    let total = scale(&r, "total");
    assert_eq!(
        (
            total["value"].as_f64(),
            total["text"].as_str(),
            total["band"].as_str()
        ),
        (Some(5.0), Some("5"), Some("mild")),
        "{r}"
    );
    // Sum 12 with one missing: 13.5 → 14 (half to even would also give 14; half down 13).
    let (_, r) = score(&s, "phq9", json!({"q1": "3", "q2": "3", "q3": "3", "q4": "3", "q5": "0", "q6": "0", "q7": "0", "q8": "0"})).await;
    assert_eq!(scale(&r, "total")["value"].as_f64(), Some(14.0), "{r}");

    // Three missing: not scored.
    let (status, r) = score(
        &s,
        "phq9",
        json!({"q1": "3", "q2": "3", "q3": "3", "q4": "3", "q5": "3", "q6": "3"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let total = scale(&r, "total");
    assert!(
        total["value"].is_null() && total["text"].is_null() && total["band"].is_null(),
        "{r}"
    );
    assert_eq!(total["missing"], 3);

    // Item 9 raises the risk flag even when the total cannot be scored.
    let (_, r) = score(&s, "phq9", json!({"q9": "1"})).await;
    assert_eq!(r["flags"], json!(["risk:q9"]), "{r}");

    // Session Check: no missing items allowed; parts are single items.
    let (_, r) = score(
        &s,
        "session_check",
        json!({"q1": "8", "q2": "7", "q3": "9", "q4": "6"}),
    )
    .await;
    assert_eq!(scale(&r, "total")["value"].as_f64(), Some(30.0), "{r}");
    assert_eq!(scale(&r, "bond")["value"].as_f64(), Some(8.0));
    let (_, r) = score(
        &s,
        "session_check",
        json!({"q1": "8", "q2": "7", "q3": "9"}),
    )
    .await;
    assert!(scale(&r, "total")["value"].is_null(), "{r}");

    // Invalid answers are named; unknown instruments are not found.
    let (status, r) = score(&s, "phq9", json!({"q1": "4", "q10": "x", "q11": "1"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let items: Vec<&str> = r["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["item"].as_str().unwrap())
        .collect();
    assert_eq!(items, ["q1", "q10", "q11"], "{r}");
    let (status, _) = score(&s, "nope", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Scoring stores nothing.
    let (_, cases) = s.get_json("/api/v1/cases").await;
    assert_eq!(cases, json!([]));
}

async fn a_clinician_rates_the_session_and_enters_paper_answers() {
    let app = spawn_app().await;
    app.install_placeholder_packs().await;
    let s = app.login(&app.clinician).await;
    let case_id = s.new_case("C-enter").await;
    let (status, session) = s
        .post_json(
            &format!("/api/v1/cases/{case_id}/sessions"),
            &json!({"held_on": "2026-01-05", "modality": "video"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    let session_id = session["session_id"].as_str().unwrap();

    // Through the page: the form, an incomplete answer kept, then a complete one.
    let page = s
        .get(&format!(
            "/cases/{case_id}/enter?instrument=session_check&session={session_id}"
        ))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("You are entering answers the client gave on paper."),
        "{page}"
    );
    let base = [
        ("csrf", s.csrf.as_str()),
        ("_instrument", "session_check"),
        ("_session", session_id),
    ];
    let mut fields = base.to_vec();
    fields.extend([("q1", "4"), ("q2", "5")]);
    let r = s
        .http
        .post(s.url(&format!("/cases/{case_id}/enter")))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    assert!(
        radio(&page, "q2", "5").contains("checked")
            && page.contains(r#"id="err-q3""#)
            && page.contains(r#"id="err-q4""#)
    );
    fields.extend([("q3", "6"), ("q4", "7")]);
    let r = s
        .http
        .post(s.url(&format!("/cases/{case_id}/enter")))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.url().path(), format!("/cases/{case_id}"));
    assert!(r.text().await.unwrap().contains("<strong>22</strong>"));

    // Through the API: the therapist's own WAI-SRT rating (placeholder wording installed).
    let answers: serde_json::Map<String, Value> =
        (1..=12).map(|i| (format!("q{i}"), json!("4"))).collect();
    let (status, r) = s
        .post_json(
            &format!("/api/v1/cases/{case_id}/responses"),
            &json!({"instrument": "wai_srt", "session": session_id, "answers": answers}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    let sc = s.scores(&case_id, "session_check", "total").await;
    assert_eq!(
        (
            sc.len(),
            sc[0]["value"].as_f64(),
            sc[0]["session_number"].as_i64()
        ),
        (1, Some(22.0), Some(1))
    );
    let srt = s.scores(&case_id, "wai_srt", "total").await;
    assert_eq!(srt.len(), 1, "{srt:?}");
    assert_eq!(srt[0]["respondent"], "therapist");
}

// The end-to-end flows, on SQLite and on PostgreSQL.
bordin_store::both_backends!(a_clinician_rates_the_session_and_enters_paper_answers,);

/// A historical import brings PHQ-9 scores without item answers: the response page shows the
/// score that was imported (with its band), not "not scored" from the empty answers.
#[tokio::test]
async fn an_imported_score_without_answers_is_shown_as_imported() {
    use bordin_core::care::CaseStatus;
    use bordin_core::Respondent;
    use bordin_store::{HistoricalCase, HistoricalResponse, HistoricalSession};
    let app = spawn_app().await;
    let phq9 = app.registry.get("phq9").expect("phq9").clone();
    // The sheet a scores file carries: total 14 (items 1-9 = 2,2,2,2,2,1,1,1,1; the
    // difficulty item unanswered).
    let full = bordin_core::Answers::from_values(
        &phq9,
        [2, 2, 2, 2, 2, 1, 1, 1, 1]
            .iter()
            .map(|&v| Some(bordin_core::Value::from_integer(v)))
            .chain(std::iter::once(None))
            .collect(),
    )
    .unwrap();
    let sheet = phq9.score(&full);
    let case = HistoricalCase {
        key: "hist-1".into(),
        client_code: "HIST-1".into(),
        status: CaseStatus::Closed,
        opened_on: "2024-01-10".into(),
        closed_on: Some("2024-04-10".into()),
        sessions: vec![HistoricalSession {
            number: 1,
            held_on: "2024-01-10".into(),
            responses: vec![HistoricalResponse {
                instrument: &phq9,
                respondent: Respondent::Client,
                answers: bordin_core::Answers::parse(&phq9, std::iter::empty()).unwrap(),
                sheet,
                submitted_at: 1_704_888_000_000,
            }],
        }],
    };
    app.store
        .import_history(&app.clinic_a, &[case], "import:scores", 1_704_888_000_000)
        .await
        .unwrap();
    let client = app
        .store
        .client_by_code(&app.clinic_a, "HIST-1")
        .await
        .unwrap()
        .unwrap();
    let case_id = app
        .store
        .case_ids_of_client(&app.clinic_a, &client.client_id)
        .await
        .unwrap()
        .remove(0);
    let scores = app
        .store
        .case_scores(&app.clinic_a, &case_id)
        .await
        .unwrap();
    let response_id = &scores[0].response_id;

    let admin = app.login(&app.admin).await;
    let page = admin.get(&format!("/responses/{response_id}")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    let start = html.find("id=\"response-scores\"").expect("scores list");
    let scores_html = &html[start..start + html[start..].find("</ul>").unwrap()];
    assert!(scores_html.contains("<strong>14</strong>"), "{scores_html}");
    assert!(scores_html.contains(">moderate<"), "{scores_html}");
    assert!(!scores_html.contains("not scored"), "{scores_html}");
}
