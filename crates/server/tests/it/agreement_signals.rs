//! Goals and tasks feed monitoring: a diverging goal agreement and a repeatedly skipped task
//! raise a renegotiation alert; the questionnaires' goal and task ratings sit beside the goals;
//! consent decisions are recorded and logged.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::*;

/// A case with one active goal and one task, and the client's link. Returns (case, goal, task, link).
async fn case_with_goal(_app: &TestApp, s: &Session) -> (String, String, String, String) {
    let case_id = s.new_case("R-1").await;
    let (status, goal) = s
        .post_json(
            &format!("/api/v1/cases/{case_id}/goals"),
            &json!({"words": "Go back to the choir", "why": "I miss singing", "priority": 2, "how_we_know": "Two rehearsals", "active": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{goal}");
    let goal_id = goal["goal_id"].as_str().unwrap().to_owned();
    let (status, task) = s
        .post_json(
            &format!("/api/v1/goals/{goal_id}/tasks"),
            &json!({"title": "Hum for ten minutes", "rationale": "Warms up the voice and the courage", "owner": "client", "difficulty": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{task}");
    let task_id = task["task_id"].as_str().unwrap().to_owned();
    let html = s
        .get(&format!("/cases/{case_id}/goals"))
        .await
        .text()
        .await
        .unwrap();
    let csrf = scrape_csrf(&html);
    let html = s
        .http
        .post(s.url(&format!("/cases/{case_id}/goals/link")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let marker = r#"id="client-goals-link">"#;
    let start = html.find(marker).expect("the link is shown") + marker.len();
    let end = html[start..].find('<').unwrap() + start;
    (case_id, goal_id, task_id, html[start..end].to_owned())
}

async fn client_post(app: &TestApp, path: &str, form: &[(&str, &str)]) -> StatusCode {
    reqwest::Client::new()
        .post(app.url(path))
        .form(form)
        .send()
        .await
        .unwrap()
        .status()
}

async fn renegotiations(s: &Session, case_id: &str) -> Vec<Value> {
    let (_, alerts) = s
        .get_json(&format!("/api/v1/alerts?case_id={case_id}"))
        .await;
    alerts
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "renegotiate")
        .cloned()
        .collect()
}

#[tokio::test]
async fn diverging_goal_agreement_and_a_repeatedly_skipped_task_raise_renegotiation() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let (case_id, goal_id, task_id, link) = case_with_goal(&app, &s).await;

    // Client 9, clinician 5: a gap of 4 (≥ 3) → one alert for the goal.
    assert_eq!(
        client_post(
            &app,
            &format!("{link}/goals/{goal_id}/rate"),
            &[("kind", "agreement"), ("value", "9")]
        )
        .await,
        StatusCode::OK
    );
    assert!(
        renegotiations(&s, &case_id).await.is_empty(),
        "one side alone is no divergence"
    );
    let (status, _) = s
        .post_json(
            &format!("/api/v1/goals/{goal_id}/ratings"),
            &json!({"kind": "agreement", "value": 5}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let r = renegotiations(&s, &case_id).await;
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0]["measure"], format!("goal:{goal_id}"));
    assert_eq!(r[0]["urgency"], "amber");
    assert!(r[0]["message"]
        .as_str()
        .unwrap()
        .contains("Go back to the choir"));

    // The task skipped twice in a row → a second alert; done once before does not count.
    for outcome in ["completed", "skipped", "skipped"] {
        let form: Vec<(&str, &str)> = if outcome == "completed" {
            vec![("outcome", outcome), ("helpful", "6"), ("relevant", "7")]
        } else {
            vec![("outcome", outcome)]
        };
        assert_eq!(
            client_post(&app, &format!("{link}/tasks/{task_id}/report"), &form).await,
            StatusCode::OK
        );
    }
    let r = renegotiations(&s, &case_id).await;
    assert_eq!(r.len(), 2, "{r:?}");
    assert!(r.iter().any(|a| a["measure"] == format!("task:{task_id}")
        && a["message"].as_str().unwrap().contains("skipped 2 times")));

    // The goals page shows the open renegotiation beside the questionnaire view of agreement.
    let html = s
        .get(&format!("/cases/{case_id}/goals"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"id="measured-agreement""#));
    assert!(html.contains("WAI-SR goal (4–20)"));
    assert!(html.contains("skipped 2 times in a row"));
}

#[tokio::test]
async fn consent_is_recorded_withdrawn_and_logged() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let (case_id, _, _, _) = case_with_goal(&app, &s).await;
    let (_, case) = s.get_json(&format!("/api/v1/cases/{case_id}")).await;
    let client_id = case["clients"][0]["client_id"].as_str().unwrap().to_owned();

    let html = s
        .get(&format!("/cases/{case_id}/goals"))
        .await
        .text()
        .await
        .unwrap();
    let csrf = scrape_csrf(&html);
    let r = s
        .http
        .post(s.url(&format!("/cases/{case_id}/consent")))
        .form(&[
            ("csrf", csrf.as_str()),
            ("client_id", client_id.as_str()),
            ("kind", "transcript_analysis"),
            ("granted", "true"),
            ("note", "signed form, session 1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (status, _) = s
        .post_json(&format!("/api/v1/cases/{case_id}/consents"), &json!({"client_id": client_id, "kind": "transcript_analysis", "granted": false, "note": "asked to stop"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = s
        .post_json(
            &format!("/api/v1/cases/{case_id}/consents"),
            &json!({"client_id": client_id, "kind": "telepathy", "granted": true}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let (_, consents) = s
        .get_json(&format!("/api/v1/cases/{case_id}/consents"))
        .await;
    // (The questionnaires consent recorded when the case was opened is not part of this.)
    let list: Vec<&Value> = consents
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "transcript_analysis")
        .collect();
    assert_eq!(list.len(), 2, "both decisions kept: {consents}");
    assert_eq!(
        (list[0]["granted"].clone(), list[1]["granted"].clone()),
        (json!(true), json!(false))
    );
    let (_, log) = s
        .get_json(&format!("/api/v1/cases/{case_id}/agreements"))
        .await;
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["object_type"] == "consent")
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    // The first grant is the questionnaires consent recorded when the case was opened.
    assert_eq!(actions, ["granted", "granted", "withdrawn"]);
    let html = s
        .get(&format!("/cases/{case_id}/goals"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("signed form, session 1") && html.contains("withdrawn"));

    // Another clinician cannot record consent on this case.
    let other = app.login(&app.other_clinician).await;
    let (status, _) = other
        .post_json(
            &format!("/api/v1/cases/{case_id}/consents"),
            &json!({"client_id": client_id, "kind": "questionnaires", "granted": true}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_client_page_shows_a_progress_chart_once_progress_was_rated_twice() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let (_, goal_id, _, link) = case_with_goal(&app, &s).await;
    let chart = format!(r#"id="progress-{goal_id}""#);
    assert_eq!(
        client_post(
            &app,
            &format!("{link}/goals/{goal_id}/rate"),
            &[("kind", "progress"), ("value", "3")]
        )
        .await,
        StatusCode::OK
    );
    let html = reqwest::get(app.url(&link))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains(&chart), "one rating is no course yet");
    assert_eq!(
        client_post(
            &app,
            &format!("{link}/goals/{goal_id}/rate"),
            &[("kind", "progress"), ("value", "6")]
        )
        .await,
        StatusCode::OK
    );
    let html = reqwest::get(app.url(&link))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(&chart), "the chart appears");
    assert!(
        html.contains("2 progress ratings, from 3 to 6 out of 10."),
        "with its text alternative"
    );
    assert!(!html.contains("<script"));
}
