//! Transcripts after the session, over HTTP: upload (form and JSON), consent, parse errors that
//! name the line and keep the user's choices, the who-is-who step, the report beside the
//! client's own ratings, goals not talked about for several sessions, and the retention sweep.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::*;

/// Cleo (the clinician) and Sam (the client), timed: an open question answered in three words,
/// then a complaint. Hand count: Cleo 8 + 11 = 19 words, Sam 3 + 6 = 9 words, so the
/// clinician's share of words is 19/28.
pub const SESSION_VTT: &str = "WEBVTT

00:00:00.000 --> 00:00:04.000
<v Cleo>What would you like to work on today?

00:00:05.000 --> 00:00:06.000
<v Sam>I don't know.

00:00:08.000 --> 00:00:12.000
<v Cleo>We could look at your sleep together. What do you think?

00:00:12.500 --> 00:00:16.000
<v Sam>You're not helping. This is pointless.
";

/// A case for client "Sam Taylor" (code `code`) led by the clinician, with one session, and
/// the given consents recorded (`questionnaires` to enter ratings). Returns (case id, client id, session id).
pub async fn listening_case(
    s: &Session,
    code: &str,
    consents: &[&str],
) -> (String, String, String) {
    let (status, body) = s
        .post_json(
            "/api/v1/cases",
            &json!({"code": code, "display_name": "Sam Taylor"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let case_id = body["case_id"].as_str().unwrap().to_owned();
    let (_, case) = s.get_json(&format!("/api/v1/cases/{case_id}")).await;
    let client_id = case["clients"][0]["client_id"].as_str().unwrap().to_owned();
    let (status, session) = s
        .post_json(
            &format!("/api/v1/cases/{case_id}/sessions"),
            &json!({"held_on": "2026-03-02", "modality": "video"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    let session_id = session["session_id"].as_str().unwrap().to_owned();
    for kind in consents {
        let (status, body) = s
            .post_json(
                &format!("/api/v1/cases/{case_id}/consents"),
                &json!({"client_id": client_id, "kind": kind, "granted": true, "note": "signed form"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    (case_id, client_id, session_id)
}

/// A multipart body as a browser sends the upload form: (name, file name, value) parts.
fn multipart(parts: &[(&str, Option<&str>, &str)]) -> (String, Vec<u8>) {
    let boundary = "----bordin-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, file, value) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file {
            Some(f) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: text/vtt\r\n\r\n").as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(value.as_bytes());
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload_form(
    s: &Session,
    case_id: &str,
    parts: &[(&str, Option<&str>, &str)],
) -> (StatusCode, String, String) {
    let (content_type, body) = multipart(parts);
    let r = s
        .http
        .post(s.url(&format!("/cases/{case_id}/transcripts")))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("upload");
    let status = r.status();
    let url = r.url().path().to_owned();
    (status, url, r.text().await.expect("body"))
}

async fn html(s: &Session, path: &str) -> (StatusCode, String) {
    let r = s.get(path).await;
    let status = r.status();
    (status, r.text().await.expect("body"))
}

#[tokio::test]
async fn an_uploaded_transcript_is_analysed_and_reported_beside_the_clients_ratings() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let (case_id, _, session_id) =
        listening_case(&s, "T-report", &["transcript_analysis", "questionnaires"]).await;
    // The client's own rating of that session.
    let (status, body) = s
        .post_json(
            &format!("/api/v1/cases/{case_id}/responses"),
            &json!({"instrument": "session_check", "session": session_id, "answers": {"q1": "8", "q2": "7", "q3": "9", "q4": "6"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let alerts_before = alert_keys(&s, &case_id).await;

    let (status, url, page) = upload_form(
        &s,
        &case_id,
        &[
            ("csrf", None, &s.csrf),
            ("session", None, &session_id),
            ("format", None, "auto"),
            ("file", Some("session.vtt"), SESSION_VTT),
            ("text", None, ""),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        url.starts_with(&format!("/cases/{case_id}/transcripts/")),
        "redirected to the report, at {url}"
    );
    // The report: timeline as SVG, markers with their words, the client's ratings beside, and
    // the plain statement that the semantic part is off in this build.
    assert!(
        page.contains("id=\"timeline\"") && page.contains("<svg"),
        "timeline drawn"
    );
    assert!(page.contains("id=\"talk-balance\""));
    assert!(
        page.contains("minimal response"),
        "the three-word answer is flagged"
    );
    assert!(page.contains("I don&#39;t know.") || page.contains("I don't know."));
    assert!(page.contains("complaint about clinician"));
    assert!(page.contains("id=\"client-ratings\""));
    assert!(
        page.contains("Session Check"),
        "the client's own rating is shown"
    );
    assert!(
        page.contains("id=\"semantic-off\""),
        "says the semantic part is off"
    );
    assert!(page.contains("never a score that replaces them"));

    // The same through the API, with numbers counted by hand.
    let transcript_id = url.rsplit('/').next().unwrap();
    let (status, t) = s
        .get_json(&format!(
            "/api/v1/cases/{case_id}/transcripts/{transcript_id}"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["transcript"]["status"], "analysed");
    assert_eq!(t["transcript"]["format"], "vtt");
    let a = &t["analysis"];
    assert_eq!(a["turns"].as_array().unwrap().len(), 4);
    assert_eq!(a["turns"][0]["role"], "clinician");
    assert_eq!(a["turns"][1]["role"], "client");
    let share = a["session"]["clinician_talk_share"].as_f64().unwrap();
    assert!(
        (share - 19.0 / 28.0).abs() < 1e-9,
        "clinician share {share}"
    );
    let subtypes: Vec<&str> = a["markers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["subtype"].as_str().unwrap())
        .collect();
    assert!(
        subtypes.contains(&"minimal_response") && subtypes.contains(&"complaint_about_clinician"),
        "{subtypes:?}"
    );
    assert_eq!(a["session"]["semantic"], false);
    assert_eq!(
        t["summary"]["withdrawal_markers"],
        a["session"]["withdrawal_markers"]
    );
    assert_eq!(
        t["client_ratings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["instrument"] == "session_check" && r["scale"] == "total")
            .count(),
        1
    );
    // Silences from the times: 1 s before Sam's first answer, 2 s before Cleo's second turn.
    let longest = a["silences"][0]["seconds"].as_f64().unwrap();
    assert!((longest - 2.0).abs() < 1e-9, "longest silence {longest}");

    // Listed on the case page, and no alert came of it.
    let (_, case_page) = html(&s, &format!("/cases/{case_id}")).await;
    assert!(case_page.contains("id=\"transcripts\"") && case_page.contains(transcript_id));
    assert_eq!(
        alert_keys(&s, &case_id).await,
        alerts_before,
        "transcripts raise no alert"
    );

    // The upload, its analysis and each reading of the words are in the audit trail, with
    // the clinician as the actor.
    let entries = crate::audit::all_entries(&app).await;
    let cleo = app.clinician.user_id.as_str();
    for action in ["create", "analyse", "read"] {
        assert!(
            entries.iter().any(|e| e["action"] == action
                && e["object_type"] == "transcript"
                && e["object_id"] == transcript_id
                && e["actor_id"] == cleo
                && e["case_id"] == case_id.as_str()),
            "no '{action}' entry for the transcript"
        );
    }
}

/// The event keys of a case's alerts (monitoring raises some from the scores alone).
async fn alert_keys(s: &Session, case_id: &str) -> Vec<String> {
    let (_, alerts) = s
        .get_json(&format!("/api/v1/alerts?case_id={case_id}"))
        .await;
    let mut keys: Vec<String> = alerts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["event_key"].as_str().unwrap().to_owned())
        .collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn without_transcript_consent_an_upload_is_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    // Live co-pilot consent is not transcript consent.
    let (case_id, _, session_id) = listening_case(&s, "T-noconsent", &["live_copilot"]).await;
    let (status, _, page) = upload_form(
        &s,
        &case_id,
        &[
            ("csrf", None, &s.csrf),
            ("session", None, &session_id),
            ("text", None, SESSION_VTT),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        page.contains("analysis of session transcripts") && page.contains("T-noconsent"),
        "the refusal names the consent and the client: {page}"
    );
    let (status, body) = s
        .post_json(
            &format!("/api/v1/cases/{case_id}/transcripts"),
            &json!({"session_id": session_id, "text": SESSION_VTT}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"], "consent_required");
    assert_eq!(
        app.store
            .transcripts_of_case(&app.clinic_a, &case_id)
            .await
            .unwrap()
            .len(),
        0
    );

    // A withdrawal after a grant counts: the latest decision stands.
    let (_, case) = s.get_json(&format!("/api/v1/cases/{case_id}")).await;
    let client_id = case["clients"][0]["client_id"].as_str().unwrap();
    for granted in [true, false] {
        s.post_json(
            &format!("/api/v1/cases/{case_id}/consents"),
            &json!({"client_id": client_id, "kind": "transcript_analysis", "granted": granted}),
        )
        .await;
    }
    let (status, _) = s
        .post_json(
            &format!("/api/v1/cases/{case_id}/transcripts"),
            &json!({"session_id": session_id, "text": SESSION_VTT}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_broken_file_is_refused_naming_the_line_and_the_form_keeps_what_was_chosen() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let (case_id, _, session_id) = listening_case(&s, "T-broken", &["transcript_analysis"]).await;
    let broken = "WEBVTT\n\n00:00:01.000 --> soon\n<v Cleo>Hello\n";
    let (status, _, page) = upload_form(
        &s,
        &case_id,
        &[
            ("csrf", None, &s.csrf),
            ("session", None, &session_id),
            ("format", None, "vtt"),
            ("text", None, broken),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(page.contains("id=\"upload-problems\""));
    assert!(
        page.contains("line 3"),
        "the problem names its line: {page}"
    );
    assert!(
        page.contains(&format!("value=\"{session_id}\" selected")),
        "the session stays chosen"
    );
    assert!(
        page.contains("value=\"vtt\" selected"),
        "the format stays chosen"
    );
    assert!(
        page.contains("--&gt; soon"),
        "the text is kept for correction"
    );
    // JSON: the same problem as an item.
    let (status, body) = s
        .post_json(
            &format!("/api/v1/cases/{case_id}/transcripts"),
            &json!({"session_id": session_id, "format": "vtt", "text": broken}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["items"][0]["item"], "text");
    assert!(
        body["message"].as_str().unwrap().contains("line 3"),
        "{body}"
    );
    // A session of another case is not accepted.
    let other = listening_case(&s, "T-other", &[]).await.2;
    let (status, body) = s
        .post_json(
            &format!("/api/v1/cases/{case_id}/transcripts"),
            &json!({"session_id": other, "text": SESSION_VTT}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["items"][0]["item"], "session");
}

#[tokio::test]
async fn speakers_the_case_does_not_name_are_mapped_by_the_user_before_the_analysis() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let (case_id, _, session_id) = listening_case(&s, "T-roles", &["transcript_analysis"]).await;
    let json_file = json!({"segments": [
        {"start": 0.0, "end": 3.0, "speaker": "SPEAKER_00", "text": "How has your week been?"},
        {"start": 4.0, "end": 5.0, "speaker": "SPEAKER_01", "text": "Fine."},
        {"start": 9.5, "end": 12.0, "speaker": "SPEAKER_00", "text": "What stood out for you?"},
    ]})
    .to_string();
    let (status, body) = s
        .post_json(
            &format!("/api/v1/cases/{case_id}/transcripts"),
            &json!({"session_id": session_id, "text": json_file}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["transcript"]["status"], "needs_roles");
    assert_eq!(body["transcript"]["format"], "json");
    assert_eq!(body["speakers"].as_array().unwrap().len(), 2);
    assert_eq!(body["speakers"][0]["role"], Value::Null);
    assert_eq!(body["analysis"], Value::Null);
    let transcript_id = body["transcript"]["transcript_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The page asks who is who; the report redirects there until answered.
    let (status, page) = html(&s, &format!("/cases/{case_id}/transcripts/{transcript_id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("id=\"speakers\"") && page.contains("SPEAKER_01"),
        "{page}"
    );
    // An unknown role word is refused by name; an incomplete answer too.
    let path = format!("/api/v1/cases/{case_id}/transcripts/{transcript_id}/roles");
    let put = |b: Value| {
        let s = &s;
        let path = path.clone();
        async move {
            let r = s
                .http
                .put(s.url(&path))
                .header("x-csrf-token", &s.csrf)
                .json(&b)
                .send()
                .await
                .unwrap();
            let status = r.status();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, body) = put(json!({"roles": {"SPEAKER_00": "wizard"}})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["message"].as_str().unwrap().contains("SPEAKER_00"),
        "{body}"
    );
    let (status, body) = put(json!({"roles": {"SPEAKER_00": "clinician"}})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["message"].as_str().unwrap().contains("SPEAKER_01"),
        "{body}"
    );
    // Through the page's form: both speakers.
    let r = s
        .http
        .post(s.url(&format!(
            "/cases/{case_id}/transcripts/{transcript_id}/roles"
        )))
        .form(&[
            ("csrf", s.csrf.as_str()),
            ("speaker0", "SPEAKER_00"),
            ("role0", "clinician"),
            ("speaker1", "SPEAKER_01"),
            ("role1", "client"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("id=\"timeline\""),
        "analysed after the roles were given"
    );
    let (_, t) = s
        .get_json(&format!(
            "/api/v1/cases/{case_id}/transcripts/{transcript_id}"
        ))
        .await;
    assert_eq!(t["analysis"]["turns"][1]["role"], "client");
    // "Fine." (1 word) after an open question, then a 4.5 s silence before the clinician.
    assert!(
        t["analysis"]["markers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["subtype"] == "minimal_response"),
        "{t}"
    );
    assert_eq!(t["analysis"]["silences"][0]["seconds"].as_f64(), Some(4.5));
}

#[tokio::test]
async fn a_goal_not_talked_about_for_three_analysed_sessions_is_listed_and_never_alerted() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let (case_id, _, first) = listening_case(&s, "T-goals", &["transcript_analysis"]).await;
    let (status, goal) = s
        .post_json(
            &format!("/api/v1/cases/{case_id}/goals"),
            &json!({"words": "Return to work part-time", "why": "Money and routine", "active": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{goal}");
    let mut sessions = vec![first];
    for day in ["2026-03-09", "2026-03-16"] {
        let (_, b) = s
            .post_json(
                &format!("/api/v1/cases/{case_id}/sessions"),
                &json!({"held_on": day}),
            )
            .await;
        sessions.push(b["session_id"].as_str().unwrap().to_owned());
    }
    let alerts_before = alert_keys(&s, &case_id).await;
    for (n, session_id) in sessions.iter().enumerate() {
        let (status, body) = s
            .post_json(
                &format!("/api/v1/cases/{case_id}/transcripts"),
                &json!({"session_id": session_id, "format": "txt", "text": "Cleo: How did you sleep?\nSam: Badly again, I kept waking up at four.\n"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(
            body["summary"]["goals_considered"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            body["summary"]["goals_covered"].as_array().unwrap().len(),
            0
        );
        let (_, list) = s
            .get_json(&format!("/api/v1/cases/{case_id}/transcripts"))
            .await;
        let listed = list["untouched_goals"].as_array().unwrap().len();
        assert_eq!(
            listed,
            usize::from(n == 2),
            "listed only after the third session: {list}"
        );
    }
    let (_, page) = html(&s, &format!("/cases/{case_id}")).await;
    assert!(page.contains("id=\"untouched-goals\"") && page.contains("Return to work part-time"));
    assert_eq!(
        alert_keys(&s, &case_id).await,
        alerts_before,
        "listed, never alerted"
    );
}

#[tokio::test]
async fn transcripts_of_other_clinicians_and_clinics_are_not_found_and_retention_is_for_admins() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let (case_id, _, session_id) = listening_case(&s, "T-private", &["transcript_analysis"]).await;
    let (_, body) = s
        .post_json(
            &format!("/api/v1/cases/{case_id}/transcripts"),
            &json!({"session_id": session_id, "text": SESSION_VTT}),
        )
        .await;
    let tid = body["transcript"]["transcript_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for who in [&app.other_clinician, &app.b_clinician] {
        let o = app.login(who).await;
        let (status, _) = o
            .get_json(&format!("/api/v1/cases/{case_id}/transcripts/{tid}"))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = html(&o, &format!("/cases/{case_id}/transcripts/{tid}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    // The supervisor of the clinician may read it.
    let sup = app.login(&app.supervisor).await;
    let (status, _) = sup
        .get_json(&format!("/api/v1/cases/{case_id}/transcripts/{tid}"))
        .await;
    assert_eq!(status, StatusCode::OK);

    let put = |s: &Session, days: i64| {
        let req = s
            .http
            .put(s.url("/api/v1/transcript-retention"))
            .header("x-csrf-token", &s.csrf)
            .json(&json!({"days": days}));
        async move { req.send().await.unwrap().status() }
    };
    assert_eq!(put(&s, 7).await, StatusCode::NOT_FOUND);
    let admin = app.login(&app.admin).await;
    assert_eq!(put(&admin, 0).await, StatusCode::BAD_REQUEST);
    assert_eq!(put(&admin, 7).await, StatusCode::NO_CONTENT);
    assert_eq!(
        app.store
            .transcript_retention_days(&app.clinic_a)
            .await
            .unwrap(),
        7
    );
    assert_eq!(
        app.store
            .transcript_retention_days(&app.clinic_b)
            .await
            .unwrap(),
        bordin_store::DEFAULT_TRANSCRIPT_RETENTION_DAYS
    );
}

#[tokio::test]
async fn a_server_starting_up_deletes_the_words_of_transcripts_past_retention_and_keeps_the_summary(
) {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let (case_id, _, session_id) = listening_case(&s, "T-old", &["transcript_analysis"]).await;
    let (_, body) = s
        .post_json(
            &format!("/api/v1/cases/{case_id}/transcripts"),
            &json!({"session_id": session_id, "text": SESSION_VTT}),
        )
        .await;
    let tid = body["transcript"]["transcript_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Make it 31 days old (the default retention is 30 days).
    let old = bordin_server::state::now_ms() - 31 * 86_400_000;
    app.store
        .execute_raw_for_tests(&format!(
            "UPDATE transcripts SET created_at = {old} WHERE transcript_id = '{tid}'"
        ))
        .await
        .unwrap();
    // A second server over the same database sweeps at start-up.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let state = bordin_server::AppState::new(
        app.store.clone(),
        app.registry.clone(),
        bordin_server::Config::default(),
    );
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(bordin_server::serve(listener, state, async move {
        let _ = rx.await;
    }));
    let mut purged = false;
    for _ in 0..100 {
        if app
            .store
            .transcript_text(&app.clinic_a, &tid)
            .await
            .unwrap()
            .is_none()
        {
            purged = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let _ = tx.send(());
    assert!(purged, "the start-up sweep deleted the words");
    let (status, t) = s
        .get_json(&format!("/api/v1/cases/{case_id}/transcripts/{tid}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(t["transcript"]["status"], "purged");
    assert_eq!(t["analysis"], Value::Null);
    assert_eq!(t["summary"]["turns"], 4, "the summary numbers stay");
    let (_, page) = html(&s, &format!("/cases/{case_id}/transcripts/{tid}")).await;
    assert!(
        page.contains("id=\"purged\"") && !page.contains("I don"),
        "no words left on the page"
    );
}
