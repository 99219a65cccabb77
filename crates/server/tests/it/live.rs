//! The live co-pilot over a real WebSocket (tokio-tungstenite as the speech-to-text system or
//! note-taker would connect): each turn answered with the picture, markers as they appear,
//! several connections sharing one session, consent and CSRF/origin checks on the upgrade, the
//! transcript stored only with transcript consent, and the training replay.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::support::*;
use crate::transcripts::listening_case;

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Logs in and returns the raw session cookie (`bordin_session=…`) and the CSRF token.
pub async fn cookie_and_csrf(app: &TestApp, user: &User) -> (String, String) {
    let r = reqwest::Client::new()
        .post(app.url("/api/v1/session"))
        .json(&json!({"email": user.email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap()
        .to_owned();
    let body: Value = r.json().await.unwrap();
    (cookie, body["csrf_token"].as_str().unwrap().to_owned())
}

/// Opens a socket at `path` with the cookie and optionally an `Origin`.
pub async fn open(
    app: &TestApp,
    path: &str,
    cookie: &str,
    origin: Option<&str>,
) -> Result<Socket, StatusCode> {
    open_at(&app.base, path, cookie, origin).await
}

/// [`open`] on the server at `base`.
pub async fn open_at(
    base: &str,
    path: &str,
    cookie: &str,
    origin: Option<&str>,
) -> Result<Socket, StatusCode> {
    let url = format!("{}{path}", base.replacen("http://", "ws://", 1));
    let mut req = url.into_client_request().unwrap();
    req.headers_mut().insert("cookie", cookie.parse().unwrap());
    if let Some(o) = origin {
        req.headers_mut().insert("origin", o.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
            Err(StatusCode::from_u16(r.status().as_u16()).unwrap())
        }
        Err(e) => panic!("socket: {e}"),
    }
}

/// The next JSON message from the server (waiting at most 20 s).
pub async fn next(ws: &mut Socket) -> Value {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(20), ws.next())
            .await
            .expect("a message within 20 s")
            .expect("the socket is open")
            .expect("a good frame");
        if let Message::Text(t) = m {
            return serde_json::from_str(t.as_str()).unwrap();
        }
    }
}

pub async fn send_turn(ws: &mut Socket, speaker: &str, text: &str, start: f64, end: f64) {
    ws.send(Message::text(
        json!({"speaker": speaker, "text": text, "start": start, "end": end}).to_string(),
    ))
    .await
    .unwrap();
}

pub fn live_path(case_id: &str, session_id: &str, csrf: &str) -> String {
    format!("/cases/{case_id}/live/ws?session={session_id}&csrf={csrf}")
}

async fn wait_for_transcripts(
    app: &TestApp,
    case_id: &str,
    n: usize,
) -> Vec<bordin_store::TranscriptRow> {
    for _ in 0..200 {
        let rows = app
            .store
            .transcripts_of_case(&app.clinic_a, case_id)
            .await
            .unwrap();
        if rows.len() >= n {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    app.store
        .transcripts_of_case(&app.clinic_a, case_id)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_live_session_answers_each_turn_with_the_picture_and_markers_as_they_appear() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let (case_id, _, session_id) =
        listening_case(&s, "L-live", &["live_copilot", "transcript_analysis"]).await;
    let (cookie, csrf) = cookie_and_csrf(&app, &app.clinician).await;
    let path = live_path(&case_id, &session_id, &csrf);

    // The clinician's page and the transcriber: two connections, one session.
    let mut page = open(&app, &path, &cookie, Some(&app.base))
        .await
        .expect("page connects");
    let mut stt = open(&app, &path, &cookie, None)
        .await
        .expect("transcriber connects");
    for ws in [&mut page, &mut stt] {
        let hello = next(ws).await;
        assert_eq!(hello["type"], "hello");
        assert_eq!(hello["stores_transcript"], true);
        assert_eq!(hello["semantic"], false);
    }

    send_turn(
        &mut stt,
        "Cleo",
        "What would you like to work on today?",
        0.0,
        4.0,
    )
    .await;
    for ws in [&mut page, &mut stt] {
        let p = next(ws).await;
        assert_eq!(p["type"], "picture");
        assert_eq!(p["picture"]["turn"]["role"], "clinician");
        assert_eq!(p["picture"]["new_markers"].as_array().unwrap().len(), 0);
        assert_eq!(p["picture"]["clinician_talk_share"], 1.0);
    }
    send_turn(&mut stt, "Sam", "I don't know.", 5.0, 6.0).await;
    let p = next(&mut page).await;
    let markers = p["picture"]["new_markers"].as_array().unwrap();
    assert_eq!(markers.len(), 1, "{p}");
    assert_eq!(markers[0]["subtype"], "minimal_response");
    assert_eq!(markers[0]["kind"], "withdrawal");
    assert!(
        !markers[0]["suggestion"].as_str().unwrap().is_empty(),
        "with a one-line suggestion"
    );
    // 8 clinician words of 11.
    let share = p["picture"]["clinician_talk_share"].as_f64().unwrap();
    assert!((share - 8.0 / 11.0).abs() < 1e-9, "{share}");
    assert_eq!(p["picture"]["silence"]["gap_before"], 1.0);
    let _ = next(&mut stt).await;

    // A bad turn is answered to its sender only, naming the field.
    stt.send(Message::text(json!({"speaker": "Sam"}).to_string()))
        .await
        .unwrap();
    let e = next(&mut stt).await;
    assert_eq!(e["type"], "error");
    assert!(e["message"].as_str().unwrap().contains("text"), "{e}");
    send_turn(&mut stt, "Sam", "You're not helping.", 7.0, 8.5).await;
    let p = next(&mut page).await;
    assert_eq!(p["type"], "picture", "the page never saw the error");
    assert_eq!(
        p["picture"]["new_markers"][0]["subtype"],
        "complaint_about_clinician"
    );
    let _ = next(&mut stt).await;

    // When everyone has left, the turns are stored as the session's transcript (consent given).
    page.close(None).await.unwrap();
    stt.close(None).await.unwrap();
    let rows = wait_for_transcripts(&app, &case_id, 1).await;
    assert_eq!(rows.len(), 1, "stored once the session ended");
    assert_eq!(rows[0].source, "live");
    assert_eq!(rows[0].session_id, session_id);
    let (_, t) = s
        .get_json(&format!(
            "/api/v1/cases/{case_id}/transcripts/{}",
            rows[0].transcript_id
        ))
        .await;
    assert_eq!(
        t["analysis"]["turns"].as_array().unwrap().len(),
        2,
        "Sam's two chunks are one turn"
    );
    assert_eq!(t["analysis"]["session"]["confrontation_markers"], 1);
    // The stored transcript is the clinician's act in the audit trail (the socket keeps the
    // request's audit context), not an anonymous system write.
    let entries = crate::audit::all_entries(&app).await;
    assert!(
        entries.iter().any(|e| e["action"] == "create"
            && e["object_type"] == "transcript"
            && e["object_id"] == rows[0].transcript_id.as_str()
            && e["actor_id"] == app.clinician.user_id.as_str()
            && e["source"] == "127.0.0.1"),
        "the live transcript's entry names the clinician"
    );
}

#[tokio::test]
async fn without_transcript_consent_a_live_session_stores_nothing() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let (case_id, _, session_id) = listening_case(&s, "L-nostore", &["live_copilot"]).await;
    let (cookie, csrf) = cookie_and_csrf(&app, &app.clinician).await;
    let mut ws = open(
        &app,
        &live_path(&case_id, &session_id, &csrf),
        &cookie,
        None,
    )
    .await
    .unwrap();
    assert_eq!(next(&mut ws).await["stores_transcript"], false);
    send_turn(&mut ws, "Cleo", "How are you?", 0.0, 1.0).await;
    assert_eq!(next(&mut ws).await["type"], "picture");
    ws.close(None).await.unwrap();
    // Wait until the room is gone, then check nothing was written.
    let mut rooms_gone = false;
    for _ in 0..200 {
        let (status, _) = s
            .get_json(&format!("/api/v1/cases/{case_id}/transcripts"))
            .await;
        assert_eq!(status, StatusCode::OK);
        // A fresh connection starts from zero turns only once the old room has ended.
        let mut probe = open(
            &app,
            &live_path(&case_id, &session_id, &csrf),
            &cookie,
            None,
        )
        .await
        .unwrap();
        let hello = next(&mut probe).await;
        probe.close(None).await.unwrap();
        if hello["turns"] == 0 {
            rooms_gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(rooms_gone);
    assert_eq!(
        app.store
            .transcripts_of_case(&app.clinic_a, &case_id)
            .await
            .unwrap()
            .len(),
        0
    );
}

#[tokio::test]
async fn the_live_socket_needs_consent_the_csrf_token_and_a_same_origin_page() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let (case_id, _, session_id) = listening_case(&s, "L-guard", &["transcript_analysis"]).await;
    let (cookie, csrf) = cookie_and_csrf(&app, &app.clinician).await;
    // No live co-pilot consent: refused, and the page says why.
    assert_eq!(
        open(
            &app,
            &live_path(&case_id, &session_id, &csrf),
            &cookie,
            None
        )
        .await
        .err(),
        Some(StatusCode::CONFLICT)
    );
    let r = s
        .get(&format!("/cases/{case_id}/live?session={session_id}"))
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("the live co-pilot"));

    let (_, case) = s.get_json(&format!("/api/v1/cases/{case_id}")).await;
    let client_id = case["clients"][0]["client_id"].as_str().unwrap();
    s.post_json(
        &format!("/api/v1/cases/{case_id}/consents"),
        &json!({"client_id": client_id, "kind": "live_copilot", "granted": true}),
    )
    .await;
    // Wrong token, another site's page, another clinician, no login: refused.
    assert_eq!(
        open(
            &app,
            &live_path(&case_id, &session_id, "wrong-token"),
            &cookie,
            None
        )
        .await
        .err(),
        Some(StatusCode::FORBIDDEN)
    );
    assert_eq!(
        open(
            &app,
            &live_path(&case_id, &session_id, &csrf),
            &cookie,
            Some("http://evil.example")
        )
        .await
        .err(),
        Some(StatusCode::FORBIDDEN)
    );
    let (other_cookie, other_csrf) = cookie_and_csrf(&app, &app.other_clinician).await;
    assert_eq!(
        open(
            &app,
            &live_path(&case_id, &session_id, &other_csrf),
            &other_cookie,
            None
        )
        .await
        .err(),
        Some(StatusCode::NOT_FOUND)
    );
    assert!(open(
        &app,
        &live_path(&case_id, &session_id, &csrf),
        "bordin_session=nope",
        None
    )
    .await
    .is_err());
    // With consent, token and this server's origin: open, and the page renders.
    assert!(open(
        &app,
        &live_path(&case_id, &session_id, &csrf),
        &cookie,
        Some(&app.base)
    )
    .await
    .is_ok());
    let r = s
        .get(&format!("/cases/{case_id}/live?session={session_id}"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(page.contains("src=\"/static/copilot.js\"") && page.contains("id=\"silence-timer\""));
    let js = s.get("/static/copilot.js").await;
    assert_eq!(js.status(), StatusCode::OK);
    assert!(js.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
}

#[tokio::test]
async fn the_copilot_primes_with_last_sessions_scores() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let (case_id, _, first) =
        listening_case(&s, "L-prime", &["live_copilot", "questionnaires"]).await;
    let (_, b) = s
        .post_json(
            &format!("/api/v1/cases/{case_id}/sessions"),
            &json!({"held_on": "2026-03-09"}),
        )
        .await;
    let second = b["session_id"].as_str().unwrap().to_owned();
    let (_, b) = s
        .post_json(
            &format!("/api/v1/cases/{case_id}/sessions"),
            &json!({"held_on": "2026-03-16"}),
        )
        .await;
    let third = b["session_id"].as_str().unwrap().to_owned();
    // Session Check task item q3 (0–10): 9 then 5.
    for (session, q3) in [(&first, "9"), (&second, "5")] {
        let (status, body) = s
            .post_json(
                &format!("/api/v1/cases/{case_id}/responses"),
                &json!({"instrument": "session_check", "session": session, "answers": {"q1": "8", "q2": "7", "q3": q3, "q4": "6"}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let page = s
        .get(&format!("/cases/{case_id}/live?session={third}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"priming\""));
    assert!(page.contains("fell last time"), "a fall is named: {page}");
}

#[tokio::test]
async fn a_replay_streams_a_transcript_file_through_the_copilot_faster_than_spoken() {
    let app = spawn_app().await;
    let (cookie, csrf) = cookie_and_csrf(&app, &app.clinician).await;
    let mut ws = open(&app, &format!("/live/replay/ws?csrf={csrf}"), &cookie, None)
        .await
        .unwrap();
    ws.send(Message::text(
        json!({"text": crate::transcripts::SESSION_VTT, "speed": 64}).to_string(),
    ))
    .await
    .unwrap();
    assert_eq!(next(&mut ws).await["type"], "hello");
    let mut subtypes = Vec::new();
    let mut pictures = 0;
    loop {
        let m = next(&mut ws).await;
        match m["type"].as_str().unwrap() {
            "picture" => {
                pictures += 1;
                for mk in m["picture"]["new_markers"].as_array().unwrap() {
                    subtypes.push(mk["subtype"].as_str().unwrap().to_owned());
                }
            }
            "end" => {
                assert_eq!(m["turns"], 4);
                break;
            }
            other => panic!("unexpected {other}: {m}"),
        }
    }
    assert_eq!(pictures, 4);
    assert!(
        subtypes.contains(&"minimal_response".to_owned()),
        "{subtypes:?}"
    );
    // A bad speed is refused by name.
    let mut ws = open(&app, &format!("/live/replay/ws?csrf={csrf}"), &cookie, None)
        .await
        .unwrap();
    ws.send(Message::text(
        json!({"text": "A: hi", "speed": 1000}).to_string(),
    ))
    .await
    .unwrap();
    let e = next(&mut ws).await;
    assert_eq!(e["type"], "error");
    assert!(e["message"].as_str().unwrap().starts_with("speed"), "{e}");
}
