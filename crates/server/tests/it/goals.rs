//! Goals, tasks and agreements, end to end: the client through their link alone, the clinician
//! on `/cases/{id}/goals` and in the API, a conflict when both edit the same goal, and who may
//! see what.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::*;

async fn put_json(s: &Session, path: &str, body: &Value) -> (StatusCode, Value) {
    let r = s
        .http
        .put(s.url(path))
        .header("x-csrf-token", &s.csrf)
        .json(body)
        .send()
        .await
        .expect("PUT");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Posts a form as a logged-in clinician (cookie session), following redirects.
async fn post_form(s: &Session, path: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
    let r = s
        .http
        .post(s.url(path))
        .form(form)
        .send()
        .await
        .expect("POST form");
    let status = r.status();
    (status, r.text().await.expect("body"))
}

/// Posts a form as the client's phone would: no cookies, no account.
async fn client_post(app: &TestApp, path: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
    let r = reqwest::Client::new()
        .post(app.url(path))
        .form(form)
        .send()
        .await
        .expect("POST client form");
    let status = r.status();
    (status, r.text().await.expect("body"))
}

async fn client_get(app: &TestApp, path: &str) -> (StatusCode, String) {
    let r = reqwest::get(app.url(path)).await.expect("GET client page");
    let status = r.status();
    (status, r.text().await.expect("body"))
}

async fn page(s: &Session, path: &str) -> (StatusCode, String) {
    let r = s.get(path).await;
    let status = r.status();
    (status, r.text().await.expect("body"))
}

/// A case with one active goal (with GAS levels) and one task under it, and a client link.
/// Returns (case id, goal id, task id, link path).
async fn setup(app: &TestApp, s: &Session) -> (String, String, String, String) {
    let case_id = s.new_case("G-1").await;
    let (status, goal) = s
        .post_json(
            &format!("/api/v1/cases/{case_id}/goals"),
            &json!({
                "words": "Sleep through the night",
                "why": "Tired at work",
                "priority": 1,
                "how_we_know": "Five nights a week",
                "active": true,
                "gas_levels": ["Worse", "No change", "Three nights", "Four nights", "Five nights"],
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{goal}");
    assert_eq!(goal["status"], "active");
    let goal_id = goal["goal_id"].as_str().unwrap().to_owned();

    // The clinician adds a task on the page; the rationale is required.
    let (status, html) = page(s, &format!("/cases/{case_id}/goals")).await;
    assert_eq!(status, StatusCode::OK);
    let csrf = scrape_csrf(&html);
    let tasks = format!("/cases/{case_id}/goals/{goal_id}/tasks");
    let (status, html) = post_form(
        s,
        &tasks,
        &[
            ("csrf", &csrf),
            ("title", "Wind-down hour"),
            ("rationale", ""),
            ("owner", "client"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("rationale"), "the problem is named");
    let (status, _) = post_form(
        s,
        &tasks,
        &[
            ("csrf", &csrf),
            ("title", "Wind-down hour"),
            ("rationale", "A calmer evening helps sleep come"),
            ("owner", "client"),
            ("difficulty", "2"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Without the CSRF token nothing is written.
    let (status, _) = post_form(
        s,
        &tasks,
        &[("title", "Forged"), ("rationale", "x"), ("owner", "client")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (_, body) = s.get_json(&format!("/api/v1/cases/{case_id}/goals")).await;
    let task_list = body["tasks"].as_array().unwrap();
    assert_eq!(task_list.len(), 1, "{body}");
    let task_id = task_list[0]["task_id"].as_str().unwrap().to_owned();

    // The link for the client's page, shown once.
    let (status, html) = post_form(
        s,
        &format!("/cases/{case_id}/goals/link"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let marker = r#"id="client-goals-link">"#;
    let start = html.find(marker).expect("the link is shown") + marker.len();
    let end = html[start..].find('<').unwrap() + start;
    let link = html[start..end].to_owned();
    assert!(link.starts_with(&format!("/g/{}/", app.clinic_a)), "{link}");
    (case_id, goal_id, task_id, link)
}

async fn a_client_shapes_goals_through_the_link_and_the_clinician_sees_it_with_history() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let (case_id, goal_id, task_id, link) = setup(&app, &s).await;

    // The client's page: their goals and tasks in the setting's words, no account.
    let (status, html) = client_get(&app, &link).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Sleep through the night"));
    assert!(html.contains("Wind-down hour"));
    assert!(html.contains("A calmer evening helps sleep come"));
    assert!(html.contains("therapist"), "the setting's words");
    assert!(!html.contains(r#"name="csrf""#));

    // They propose a goal.
    let (status, html) = client_post(
        &app,
        &format!("{link}/goals"),
        &[
            ("words", "Walk to work again"),
            ("why", "I miss the fresh air"),
            ("how_we_know", "Three walks a week"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Walk to work again"));
    // A blank proposal is refused with the reason, nothing stored.
    let (status, _) = client_post(&app, &format!("{link}/goals"), &[("words", "  ")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // They rate agreement and progress (one tap each) and report the task.
    for (kind, value) in [("agreement", "8"), ("progress", "4")] {
        let (status, _) = client_post(
            &app,
            &format!("{link}/goals/{goal_id}/rate"),
            &[("kind", kind), ("value", value)],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{kind}");
    }
    let (status, _) = client_post(
        &app,
        &format!("{link}/goals/{goal_id}/rate"),
        &[("kind", "progress"), ("value", "11")],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "out of range");
    let (status, html) = client_post(
        &app,
        &format!("{link}/tasks/{task_id}/report"),
        &[
            ("outcome", "completed"),
            ("helpful", "9"),
            ("relevant", "7"),
            ("note", "Easier than I thought"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Thank you"));

    // The clinician rates agreement too.
    let (_, html) = page(&s, &format!("/cases/{case_id}/goals")).await;
    let csrf = scrape_csrf(&html);
    let (status, _) = post_form(
        &s,
        &format!("/cases/{case_id}/goals/{goal_id}/rate"),
        &[("csrf", &csrf), ("kind", "agreement"), ("value", "6")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // The clinician's page shows all of it, with history.
    let (status, html) = page(&s, &format!("/cases/{case_id}/goals")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Walk to work again"));
    assert!(html.contains("I miss the fresh air"));
    assert!(html.contains("helpful 9"), "the task report");
    assert!(html.contains("relevant 7"));
    assert!(html.contains("Easier than I thought"));
    assert!(html.contains("+2"), "client 8 − clinician 6");
    assert!(html.contains("2.0"), "goal consensus");
    assert!(html.contains("agreements-log"));
    assert!(
        html.contains("G-1 (client)"),
        "the client is named in the log"
    );
    // The client page links here.
    let (_, case_page) = page(&s, &format!("/cases/{case_id}")).await;
    assert!(case_page.contains(&format!("/cases/{case_id}/goals")));

    // The API: the same data, and the log with who did what.
    let (status, body) = s.get_json(&format!("/api/v1/cases/{case_id}/goals")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["goals"].as_array().unwrap().len(), 2);
    let proposed = body["goals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["words"] == "Walk to work again")
        .unwrap();
    assert_eq!(proposed["status"], "proposed");
    assert_eq!(proposed["proposed_by"], "client");
    assert_eq!(body["consensus"], 2.0);
    assert_eq!(body["reports"][0]["helpful"], 9);
    let (status, log) = s
        .get_json(&format!("/api/v1/cases/{case_id}/agreements"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let by_client: Vec<(String, String)> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor_role"] == "client")
        .map(|e| {
            (
                e["object_type"].as_str().unwrap().to_owned(),
                e["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for expected in [("goal", "created"), ("goal", "rated"), ("task", "reported")] {
        assert!(
            by_client
                .iter()
                .any(|(o, a)| o == expected.0 && a == expected.1),
            "{expected:?} in {by_client:?}"
        );
    }

    // GAS at review, and a reached goal asks the client for satisfaction.
    let (status, _) = s
        .post_json(
            &format!("/api/v1/goals/{goal_id}/ratings"),
            &json!({"kind": "gas", "value": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, body) = s.get_json(&format!("/api/v1/cases/{case_id}/goals")).await;
    assert_eq!(body["gas_t_score"], 70.0, "one goal at +2: 50 + 10·2/√1");
    let (status, _) = post_form(
        &s,
        &format!("/cases/{case_id}/goals/{goal_id}/status"),
        &[
            ("csrf", &csrf),
            ("version", "1"),
            ("status", "reached"),
            ("reason", "Five nights for a month"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, html) = client_get(&app, &link).await;
    assert!(html.contains("How satisfied are you"));
    let (status, _) = client_post(
        &app,
        &format!("{link}/goals/{goal_id}/rate"),
        &[("kind", "satisfaction"), ("value", "9")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

async fn a_stale_edit_shows_the_conflict_and_loses_nothing() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let (case_id, goal_id, _task_id, link) = setup(&app, &s).await;

    // The clinician opens the page (goal at version 1) …
    let (_, html) = page(&s, &format!("/cases/{case_id}/goals")).await;
    let csrf = scrape_csrf(&html);
    // … the client changes the goal's wording meanwhile …
    let (status, _) = client_post(
        &app,
        &format!("{link}/goals/{goal_id}"),
        &[
            ("version", "1"),
            ("words", "Sleep seven hours most nights"),
            ("why", "Tired at work"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // … and the clinician saves an edit made from version 1.
    let (status, html) = post_form(
        &s,
        &format!("/cases/{case_id}/goals/{goal_id}/edit"),
        &[
            ("csrf", &csrf),
            ("version", "1"),
            ("words", "Sleep through the night, mostly"),
            ("priority", "1"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(html.contains("Not saved"));
    assert!(
        html.contains("Sleep seven hours most nights"),
        "their version"
    );
    assert!(
        html.contains("Sleep through the night, mostly"),
        "what this user typed"
    );

    // The API says the same: 409 with the current goal.
    let (status, body) = put_json(
        &s,
        &format!("/api/v1/goals/{goal_id}"),
        &json!({"version": 1, "words": "Sleep through the night, mostly", "priority": 1}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["current"]["words"], "Sleep seven hours most nights");
    assert_eq!(body["current"]["version"], 2);

    // The client's text is what is stored, and the log has their edit.
    let (_, body) = s.get_json(&format!("/api/v1/cases/{case_id}/goals")).await;
    assert_eq!(body["goals"][0]["words"], "Sleep seven hours most nights");
    let (_, log) = s
        .get_json(&format!("/api/v1/cases/{case_id}/agreements"))
        .await;
    assert!(log
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "edited" && e["actor_role"] == "client"));

    // A change made from the current version is written.
    let (status, body) = put_json(
        &s,
        &format!("/api/v1/goals/{goal_id}"),
        &json!({"version": 2, "words": "Sleep seven hours most nights, without pills", "renegotiated": true, "reason": "agreed in session"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["version"], 3);
}

#[tokio::test]
async fn other_clinicians_other_clinics_and_bad_links_see_nothing() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let (case_id, goal_id, task_id, link) = setup(&app, &s).await;

    for user in [&app.other_clinician, &app.b_clinician] {
        let o = app.login(user).await;
        let (status, _) = page(&o, &format!("/cases/{case_id}/goals")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{}", user.email);
        let (_, html) = page(&o, "/caseload").await;
        let csrf = scrape_csrf(&html);
        let (status, _) = post_form(
            &o,
            &format!("/cases/{case_id}/goals/{goal_id}/edit"),
            &[("csrf", &csrf), ("version", "1"), ("words", "Hijacked")],
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = o.get_json(&format!("/api/v1/cases/{case_id}/goals")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = o
            .get_json(&format!("/api/v1/cases/{case_id}/agreements"))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = put_json(
            &o,
            &format!("/api/v1/goals/{goal_id}"),
            &json!({"version": 1, "words": "Hijacked"}),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = o
            .post_json(
                &format!("/api/v1/goals/{goal_id}/ratings"),
                &json!({"kind": "agreement", "value": 1}),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = o
            .post_json(
                &format!("/api/v1/tasks/{task_id}/reports"),
                &json!({"outcome": "skipped"}),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let (_, body) = s.get_json(&format!("/api/v1/cases/{case_id}/goals")).await;
    assert_eq!(body["goals"][0]["words"], "Sleep through the night");
    assert!(body["ratings"].as_array().unwrap().is_empty());

    // Bad links: unknown secret, the right secret under another clinic, posts to them.
    let secret = link.rsplit('/').next().unwrap();
    for bad in [
        format!("/g/{}/not-a-secret", app.clinic_a),
        format!("/g/{}/{secret}", app.clinic_b),
    ] {
        let (status, html) = client_get(&app, &bad).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{bad}");
        assert!(html.contains("This link is not valid"));
        let (status, html) =
            client_post(&app, &format!("{bad}/goals"), &[("words", "Sneaky")]).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(html.contains("This link is not valid"));
    }
    let (_, body) = s.get_json(&format!("/api/v1/cases/{case_id}/goals")).await;
    assert_eq!(body["goals"].as_array().unwrap().len(), 1);
    // A goal of another case is not reachable through this case's link.
    let other_case = s.new_case("G-2").await;
    let (_, other) = s
        .post_json(
            &format!("/api/v1/cases/{other_case}/goals"),
            &json!({"words": "Other goal", "active": true}),
        )
        .await;
    let other_goal = other["goal_id"].as_str().unwrap();
    let (status, _) = client_post(
        &app,
        &format!("{link}/goals/{other_goal}/rate"),
        &[("kind", "agreement"), ("value", "5")],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn the_formulation_is_versioned_and_a_stale_save_is_refused() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let (case_id, goal_id, _task_id, _link) = setup(&app, &s).await;

    let (_, html) = page(&s, &format!("/cases/{case_id}/goals")).await;
    let csrf = scrape_csrf(&html);
    let (status, html) = post_form(
        &s,
        &format!("/cases/{case_id}/formulation"),
        &[
            ("csrf", &csrf),
            ("version", "0"),
            ("presenting_concerns", "Poor sleep since the move"),
            ("preferences", "Slow pace, no homework on weekends"),
            ("goal_ids", &goal_id),
            ("reason", "first session"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Poor sleep since the move"));
    assert!(html.contains("Slow pace, no homework on weekends"));

    // Made from version 0 again: refused, the first one kept.
    let (status, body) = put_json(
        &s,
        &format!("/api/v1/cases/{case_id}/formulation"),
        &json!({"version": 0, "strengths": "Good friends"}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        body["current"]["presenting_concerns"],
        "Poor sleep since the move"
    );
    assert_eq!(body["current"]["goal_ids"][0], goal_id.as_str());
    let (status, body) = put_json(
        &s,
        &format!("/api/v1/cases/{case_id}/formulation"),
        &json!({"version": 1, "presenting_concerns": "Poor sleep since the move", "strengths": "Good friends"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["version"], 2);
    let (_, body) = s.get_json(&format!("/api/v1/cases/{case_id}/goals")).await;
    assert_eq!(body["formulation"]["strengths"], "Good friends");
    let (_, log) = s
        .get_json(&format!("/api/v1/cases/{case_id}/agreements"))
        .await;
    let formulation_entries = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["object_type"] == "formulation")
        .count();
    assert_eq!(formulation_entries, 2);
}

// The end-to-end flows, on SQLite and on PostgreSQL.
bordin_store::both_backends!(
    a_client_shapes_goals_through_the_link_and_the_clinician_sees_it_with_history,
    a_stale_edit_shows_the_conflict_and_loses_nothing,
    the_formulation_is_versioned_and_a_stale_save_is_refused,
);
