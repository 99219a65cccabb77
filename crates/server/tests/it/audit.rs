//! The audit trail over HTTP: reads, writes, denials and client links are recorded with who,
//! from where and the outcome; supervisors and admins read it (page and API), clinicians don't.

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{spawn_app, submit_link_form, SESSION_CHECK_30};

/// Every entry of clinic A (admin's view, all pages).
pub(crate) async fn all_entries(app: &crate::support::TestApp) -> Vec<Value> {
    let admin = app.login(&app.admin).await;
    let mut out = Vec::new();
    let mut path = "/api/v1/audit".to_owned();
    loop {
        let (status, body) = admin.get_json(&path).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        out.extend(body["entries"].as_array().expect("entries").iter().cloned());
        match body["next_before"].as_i64() {
            Some(b) => path = format!("/api/v1/audit?before={b}"),
            None => break,
        }
    }
    out
}

fn has(entries: &[Value], f: impl Fn(&Value) -> bool) -> bool {
    entries.iter().any(f)
}

#[tokio::test]
async fn reads_writes_denials_and_links_are_in_the_trail() {
    let app = spawn_app().await;
    let cleo = app.login(&app.clinician).await;
    let case_id = cleo.new_case("AUD-1").await;
    let page = cleo.get(&format!("/cases/{case_id}")).await;
    assert_eq!(page.status(), StatusCode::OK);
    // Another clinician probing the case: not found, and recorded as denied.
    let otto = app.login(&app.other_clinician).await;
    assert_eq!(
        otto.get(&format!("/cases/{case_id}")).await.status(),
        StatusCode::NOT_FOUND
    );
    // A client answers through a link: the link is the actor.
    let path = cleo.send_link(&case_id, "session_check").await;
    let (status, _) = submit_link_form(&app.base, &path, &SESSION_CHECK_30).await;
    assert_eq!(status, StatusCode::OK);

    let entries = all_entries(&app).await;
    let cleo_id = app.clinician.user_id.as_str();
    let otto_id = app.other_clinician.user_id.as_str();
    let c = case_id.as_str();
    assert!(has(&entries, |e| e["action"] == "create"
        && e["object_type"] == "case"
        && e["actor_id"] == cleo_id
        && e["case_id"] == c));
    assert!(has(&entries, |e| e["action"] == "read"
        && e["object_type"] == "case"
        && e["actor_id"] == cleo_id
        && e["outcome"] == "ok"
        && e["source"] == "127.0.0.1"));
    assert!(has(&entries, |e| e["actor_id"] == otto_id
        && e["object_id"] == c
        && e["outcome"] == "denied"));
    assert!(has(&entries, |e| e["action"] == "submit"
        && e["object_type"] == "response"
        && e["actor_kind"] == "link"
        && e["case_id"] == c));
    assert!(has(&entries, |e| e["action"] == "send"
        && e["object_type"] == "administration"
        && e["actor_id"] == cleo_id));
    // No clinical content: entries carry ids and words from a fixed vocabulary only.
    for e in &entries {
        let obj = e.as_object().expect("entry");
        assert_eq!(obj.len(), 11, "{e}");
    }
    let report = app
        .store
        .verify_audit_chain(&app.clinic_a, None)
        .await
        .expect("verify");
    assert_eq!(report.problem, None);
    assert_eq!(report.entries as usize, entries.len());
}

#[tokio::test]
async fn clinicians_cannot_read_the_trail_supervisors_see_their_supervisees() {
    let app = spawn_app().await;
    let cleo = app.login(&app.clinician).await;
    let cleo_case = cleo.new_case("AUD-2").await;
    let otto = app.login(&app.other_clinician).await;
    let otto_case = otto.new_case("AUD-3").await;

    assert_eq!(cleo.get("/audit").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        cleo.get_json("/api/v1/audit").await.0,
        StatusCode::NOT_FOUND
    );

    // Sam supervises Cleo, not Otto.
    let sam = app.login(&app.supervisor).await;
    let (status, body) = sam.get_json("/api/v1/audit").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let entries = body["entries"].as_array().expect("entries");
    assert!(has(entries, |e| e["case_id"] == cleo_case.as_str()));
    assert!(!has(entries, |e| e["case_id"] == otto_case.as_str()));
    assert!(!has(entries, |e| e["actor_id"]
        == app.other_clinician.user_id.as_str()));
    // Asking for Otto's case by filter gives nothing either.
    let (_, body) = sam
        .get_json(&format!("/api/v1/audit?case={otto_case}"))
        .await;
    assert_eq!(body["entries"].as_array().map(Vec::len), Some(0));

    // The admin sees the whole clinic, and the page renders with names.
    let admin = app.login(&app.admin).await;
    let html = admin
        .get(&format!("/audit?case={otto_case}"))
        .await
        .text()
        .await
        .expect("page");
    assert!(html.contains("Otto Other"), "{html}");
    assert!(html.contains(&otto_case));
    assert!(!html.contains(&cleo_case));
}

#[tokio::test]
async fn the_trail_filters_by_user_and_date_and_pages() {
    let app = spawn_app().await;
    let cleo = app.login(&app.clinician).await;
    let case_id = cleo.new_case("AUD-4").await;
    for _ in 0..60 {
        cleo.get(&format!("/api/v1/cases/{case_id}")).await;
    }
    let admin = app.login(&app.admin).await;
    let who = &app.clinician.user_id;
    let (status, first) = admin.get_json(&format!("/api/v1/audit?user={who}")).await;
    assert_eq!(status, StatusCode::OK);
    let page1 = first["entries"].as_array().expect("entries");
    assert_eq!(page1.len(), 50);
    assert!(page1.iter().all(|e| e["actor_id"] == who.as_str()));
    let seqs: Vec<i64> = page1
        .iter()
        .map(|e| e["seq"].as_i64().expect("seq"))
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "newest first");
    let before = first["next_before"].as_i64().expect("a second page");
    let (_, second) = admin
        .get_json(&format!("/api/v1/audit?user={who}&before={before}"))
        .await;
    let page2 = second["entries"].as_array().expect("entries");
    assert!(!page2.is_empty());
    assert!(page2.iter().all(|e| e["seq"].as_i64() < Some(before)));
    // 60 reads + the case's creation + its access checks: more than one page, nothing twice.
    assert!(page1.len() + page2.len() >= 61);

    // Dates: nothing before 2000, everything up to today; a bad date names the field.
    let (_, none) = admin.get_json("/api/v1/audit?to=1999-12-31").await;
    assert_eq!(none["entries"].as_array().map(Vec::len), Some(0));
    let (status, bad) = admin.get_json("/api/v1/audit?from=31/12/2025").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        bad["message"].as_str().unwrap_or("").starts_with("from:"),
        "{bad}"
    );
}
