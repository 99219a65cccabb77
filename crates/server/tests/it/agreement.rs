//! The printable one-page agreement summary (`/cases/{id}/agreement`): what it shows, and who
//! may see it.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn the_agreement_summary_shows_goals_tasks_and_formulation_to_the_case_clinician_only() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let case_id = s.new_case("A-1").await;
    let (status, goal) = s
        .post_json(
            &format!("/api/v1/cases/{case_id}/goals"),
            &json!({
                "words": "Sleep through the night",
                "why": "Tired at work",
                "how_we_know": "Five nights a week",
                "priority": 1,
                "active": true,
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{goal}");
    let goal_id = goal["goal_id"].as_str().unwrap().to_owned();
    let (status, task) = s
        .post_json(
            &format!("/api/v1/goals/{goal_id}/tasks"),
            &json!({
                "title": "Wind-down hour",
                "rationale": "A calmer evening helps sleep come",
                "owner": "both",
                "due_on": "2026-04-01",
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{task}");
    let (status, rating) = s
        .post_json(
            &format!("/api/v1/goals/{goal_id}/ratings"),
            &json!({"kind": "agreement", "value": 7}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{rating}");
    let r = s
        .http
        .put(s.url(&format!("/api/v1/cases/{case_id}/formulation")))
        .header("x-csrf-token", &s.csrf)
        .json(&json!({"version": 0, "presenting_concerns": "Poor sleep since the move", "strengths": "Keeps a diary"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());

    let path = format!("/cases/{case_id}/agreement");
    let r = s.get(&path).await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    for expected in [
        "Our agreement",
        "A-1",
        "therapist",
        "Sleep through the night",
        "Tired at work",
        "Five nights a week",
        "Wind-down hour",
        "A calmer evening helps sleep come",
        "client and therapist",
        "2026-04-01",
        "Poor sleep since the move",
        "Keeps a diary",
        "signature",
    ] {
        assert!(html.contains(expected), "{expected:?} is on the page");
    }
    assert!(
        html.contains("<strong>7</strong>/10"),
        "the clinician's agreement"
    );

    // Another clinician, and another clinic, are told it does not exist.
    for user in [&app.other_clinician, &app.b_clinician] {
        let o = app.login(user).await;
        assert_eq!(
            o.get(&path).await.status(),
            StatusCode::NOT_FOUND,
            "{}",
            user.email
        );
    }
    // Without logging in, the login page.
    let r = no_redirects().get(app.url(&path)).send().await.unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
}
