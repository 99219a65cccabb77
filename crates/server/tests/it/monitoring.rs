//! Monitoring from the outside: scores that arrive through client links and clinician entries
//! become alerts (rupture and repair, risk, reliable deterioration, not on track); the caseload,
//! the client page, the alert page, the risk banner and the supervision page show them; a
//! clinician acknowledges and resolves them; and they follow the same access rules as cases.
//!
//! Sessions are added through the API one by one, so every score lands at a known session
//! number: the signals are judged per session.

use bordin_core::care::Role;
use bordin_server::{AppState, Config};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::*;

// ---------------------------------------------------------------------------------------------
// A course of sessions, as its clinician sees it through the API

/// One case, driven through the API by its clinician.
pub struct Course<'a> {
    pub app: &'a TestApp,
    pub s: &'a Session,
    pub case_id: String,
}

/// Answers as the API takes them.
pub type Answers = Vec<(String, String)>;

/// Session Check answers (q1–q4, each 0–10) adding up to `total`, spread evenly.
pub fn session_check(total: u32) -> Answers {
    assert!(total <= 40);
    (0..4u32)
        .map(|i| {
            let v = total / 4 + u32::from(i < total % 4);
            (format!("q{}", i + 1), v.to_string())
        })
        .collect()
}

/// PHQ-9 answers: items 1–9 as given (item 9 last), and the difficulty item (not scored).
pub fn phq9(items: [u8; 9]) -> Answers {
    let mut a: Answers = items
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("q{}", i + 1), v.to_string()))
        .collect();
    a.push(("q10".into(), "1".into()));
    a
}

/// PHQ-9 of 13 with item 9 ("thoughts that you would be better off dead…") answered 1,
/// "several days".
pub fn phq9_with_risk() -> Answers {
    phq9([2, 2, 1, 2, 1, 1, 2, 1, 1])
}

impl<'a> Course<'a> {
    /// Opens a case for a new client with this code.
    pub async fn open(app: &'a TestApp, s: &'a Session, code: &str) -> Self {
        let case_id = s.new_case(code).await;
        Self { app, s, case_id }
    }

    pub fn path(&self) -> String {
        format!("/cases/{}", self.case_id)
    }

    /// Adds session `n` (attended, on 2026-03-n) and returns its id; the case must be at
    /// session n − 1.
    pub async fn add_session(&self, n: i64) -> String {
        let (status, body) = self
            .s
            .post_json(
                &format!("/api/v1/cases/{}/sessions", self.case_id),
                &json!({"held_on": format!("2026-03-{n:02}")}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["number"], n, "sessions are numbered in order: {body}");
        body["session_id"].as_str().expect("session_id").to_owned()
    }

    /// The id of session `n`.
    pub async fn session_id(&self, n: i64) -> String {
        let (status, body) = self
            .s
            .get_json(&format!("/api/v1/cases/{}", self.case_id))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["sessions"]
            .as_array()
            .expect("sessions")
            .iter()
            .find(|s| s["number"] == n)
            .unwrap_or_else(|| panic!("no session {n}: {body}"))["session_id"]
            .as_str()
            .expect("session_id")
            .to_owned()
    }

    /// The client answers `instrument` for a session through a link (the link's JSON API, as a
    /// custom front-end would).
    pub async fn client_answers(&self, session_id: &str, instrument: &str, answers: &Answers) {
        let (status, body) = self
            .s
            .post_json(
                &format!("/api/v1/cases/{}/administrations", self.case_id),
                &json!({"instrument": instrument, "session": session_id}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let link = body["path"].as_str().expect("path");
        let api_link = link.replacen("/f/", "/api/v1/links/", 1);
        let answers: serde_json::Map<String, Value> =
            answers.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        let r = reqwest::Client::new()
            .post(self.app.url(&api_link))
            .json(&json!({ "answers": answers }))
            .send()
            .await
            .expect("POST link");
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert_eq!(status, StatusCode::CREATED, "{instrument}: {body}");
    }

    /// The clinician enters answers (e.g. the client's paper form) for a session.
    pub async fn clinician_enters(&self, session_id: &str, instrument: &str, answers: &Answers) {
        let answers: serde_json::Map<String, Value> =
            answers.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        let (status, body) = self
            .s
            .post_json(
                &format!("/api/v1/cases/{}/responses", self.case_id),
                &json!({"instrument": instrument, "session": session_id, "answers": answers}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{instrument}: {body}");
    }

    /// Session `n` is held and the client answers the Session Check with this total.
    pub async fn session_check(&self, n: i64, total: u32) {
        let id = self.add_session(n).await;
        self.client_answers(&id, "session_check", &session_check(total))
            .await;
    }

    /// Session `n` is held and the client answers the PHQ-9.
    pub async fn phq9(&self, n: i64, answers: &Answers) {
        let id = self.add_session(n).await;
        self.client_answers(&id, "phq9", answers).await;
    }

    /// The case's alerts, from `GET /api/v1/alerts?case_id=`.
    pub async fn alerts(&self) -> Vec<Value> {
        alerts_of(self.s, &self.case_id).await
    }

    /// The one alert of this kind on this measure (there must be exactly one).
    pub async fn alert(&self, kind: &str, measure: &str) -> Value {
        let all = self.alerts().await;
        let found = of_kind(&all, kind, measure);
        assert_eq!(
            found.len(),
            1,
            "exactly one {kind} alert on {measure}: {all:#?}"
        );
        found[0].clone()
    }
}

pub async fn alerts_of(s: &Session, case_id: &str) -> Vec<Value> {
    let (status, body) = s
        .get_json(&format!("/api/v1/alerts?case_id={case_id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().expect("a list of alerts").clone()
}

pub fn of_kind<'v>(alerts: &'v [Value], kind: &str, measure: &str) -> Vec<&'v Value> {
    alerts
        .iter()
        .filter(|a| a["kind"] == kind && a["measure"] == measure)
        .collect()
}

/// The planted course: Session Check totals 36, 37, 36, 37 (the client's level), 22 at
/// session 5 (a rupture: far below 36.5 − 1.5 × noise), then 36 at session 6 (back at the
/// client's level: a repair).
pub const PLANTED: [u32; 6] = [36, 37, 36, 37, 22, 36];

/// Runs sessions `from..=to` of [`PLANTED`].
pub async fn planted(c: &Course<'_>, from: i64, to: i64) {
    for n in from..=to {
        c.session_check(n, PLANTED[usize::try_from(n - 1).unwrap()])
            .await;
    }
}

// ---------------------------------------------------------------------------------------------
// Reading pages

/// The `<tr>…</tr>` of the table row that links to `href`.
fn row_linking<'p>(page: &'p str, href: &str) -> Option<&'p str> {
    let at = page.find(&format!("href=\"{href}\""))?;
    let start = page[..at].rfind("<tr")?;
    let end = page[at..].find("</tr>")? + at;
    Some(&page[start..end])
}

/// The inner HTML of the first `<td class="attention">` of a row.
fn attention_cell(row: &str) -> &str {
    let start = row
        .find(r#"<td class="attention">"#)
        .expect("the row has an Attention cell");
    let end = row[start..].find("</td>").expect("cell end") + start;
    &row[start..end]
}

/// The risk banner's opening tag and content, if the page shows one.
pub fn risk_banner(page: &str) -> Option<&str> {
    let at = page.find(r#"class="risk-banner""#)?;
    let start = page[..at].rfind('<')?;
    let end = page[at..].find("</div>")? + at;
    Some(&page[start..end])
}

/// Text with tags removed and whitespace collapsed (to read a page as a person does).
fn text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for ch in html.chars() {
        match ch {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

async fn page(s: &Session, path: &str) -> String {
    let r = s.get(path).await;
    assert_eq!(r.status(), StatusCode::OK, "GET {path}");
    r.text().await.expect("page")
}

/// The CSRF token of the form that posts to `action` on a page.
fn form_csrf(page: &str, action: &str) -> String {
    let at = page
        .find(&format!(r#"action="{action}""#))
        .unwrap_or_else(|| panic!("no form posting to {action}"));
    attr_after(&page[at..], r#"name="csrf" value=""#).expect("the form has a CSRF field")
}

/// Posts an HTML form as the browser would (following the redirect).
async fn post_form(s: &Session, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    s.http
        .post(s.url(path))
        .form(fields)
        .send()
        .await
        .expect("POST form")
}

// ---------------------------------------------------------------------------------------------
// The specifications

async fn a_planted_rupture_becomes_an_alert_and_its_repair_is_recorded() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let quiet = Course::open(&app, &s, "C-quiet").await;
    for (n, total) in [(1, 36), (2, 37), (3, 36)] {
        quiet.session_check(n, total).await;
    }
    let c = Course::open(&app, &s, "C-rupture").await;
    planted(&c, 1, 4).await;
    assert_eq!(
        c.alerts().await,
        Vec::<Value>::new(),
        "a steady course raises nothing"
    );

    // Session 5: 22, far below the client's level.
    planted(&c, 5, 5).await;
    let rupture = c.alert("rupture", "session_check.total").await;
    assert_eq!(rupture["session_number"], 5);
    assert_eq!(rupture["urgency"], "amber");
    assert_eq!(rupture["status"], "open");
    assert_eq!(rupture["event_key"], "rupture:session_check.total:5");
    let message = rupture["message"].as_str().unwrap();
    assert!(
        message.contains("to 22 at session 5") && message.contains("usual level 36.50"),
        "{message}"
    );
    assert_eq!(rupture["detail"]["baseline"], 36.5);
    assert!(
        of_kind(&quiet.alerts().await, "rupture", "session_check.total").is_empty(),
        "the quiet case has no rupture"
    );

    // The caseload puts the case needing attention first, amber, with the reason in words.
    let caseload = page(&s, "/caseload").await;
    let ruptured = row_linking(&caseload, &c.path()).expect("the ruptured case is listed");
    let calm = row_linking(&caseload, &quiet.path()).expect("the quiet case is listed");
    let cell = text(attention_cell(ruptured));
    assert!(
        cell.starts_with("amber") && cell.contains("rupture (session 5)"),
        "Attention of the ruptured case: {cell}"
    );
    assert!(
        !cell.contains("repair"),
        "good news needs no attention: {cell}"
    );
    let calm_cell = text(attention_cell(calm));
    assert_eq!(
        calm_cell, "green nothing open",
        "Attention of the quiet case"
    );
    assert!(
        caseload.find(&c.path()) < caseload.find(&quiet.path()),
        "amber is sorted above green, although the quiet case was opened first"
    );

    // Session 6: back at the client's level — the repair is recorded as information.
    planted(&c, 6, 6).await;
    let repair = c.alert("repair", "session_check.total").await;
    assert_eq!(repair["session_number"], 6);
    assert_eq!(repair["status"], "info");
    assert_eq!(repair["urgency"], "green");
    assert_eq!(repair["event_key"], "repair:session_check.total:5");
    assert_eq!(repair["detail"]["rupture_session"], 5);
    // The rupture alert is still the same one, open until the clinician resolves it.
    let again = c.alert("rupture", "session_check.total").await;
    assert_eq!(again["alert_id"], rupture["alert_id"]);
    assert_eq!(again["status"], "open");
}

async fn phq9_item9_shows_a_red_banner_on_every_page_until_acknowledged() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let other = Course::open(&app, &s, "C-other").await;
    other.session_check(1, 36).await;
    let c = Course::open(&app, &s, "C-risk").await;
    c.phq9(1, &phq9_with_risk()).await;

    let risk = c.alert("risk", "phq9.q9").await;
    assert_eq!(risk["urgency"], "red");
    assert_eq!(risk["status"], "open");
    assert_eq!(risk["session_number"], 1);
    assert_eq!(risk["event_key"], "risk:phq9.q9:1");
    let alert_id = risk["alert_id"].as_str().unwrap().to_owned();
    let message = risk["message"].as_str().unwrap().to_owned();
    assert!(message.contains("review risk today"), "{message}");

    // The banner: on the caseload, the instruments page, another client's page, and this one.
    for path in [
        "/caseload".to_owned(),
        "/instruments".to_owned(),
        other.path(),
        c.path(),
        format!("/alerts/{alert_id}"),
    ] {
        let p = page(&s, &path).await;
        let banner = risk_banner(&p).unwrap_or_else(|| panic!("no risk banner on {path}"));
        assert!(
            banner.starts_with(r#"<div class="risk-banner" role="alert">"#),
            "the banner is announced (role=alert) on {path}: {banner}"
        );
        assert!(
            banner.contains(&format!(r##"href="{}#alerts""##, c.path())),
            "the banner links to the case's alerts on {path}: {banner}"
        );
        assert!(
            text(banner).contains("PHQ-9 item 9"),
            "the banner says why on {path}: {banner}"
        );
    }

    // Acknowledge through the page's form (with its CSRF token).
    let case_page = page(&s, &c.path()).await;
    let action = format!("/alerts/{alert_id}/acknowledge");
    let csrf = form_csrf(&case_page, &action);
    let r = post_form(&s, &action, &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.url().path(),
        c.path(),
        "back to the client page after acknowledging"
    );
    let after = r.text().await.unwrap();
    assert!(
        risk_banner(&after).is_none(),
        "the banner is gone once acknowledged"
    );
    assert!(
        after.contains(&format!(r#"action="/alerts/{alert_id}/resolve""#)),
        "an acknowledged alert stays on the page until resolved"
    );
    for path in [
        "/caseload".to_owned(),
        "/instruments".to_owned(),
        other.path(),
    ] {
        assert!(
            risk_banner(&page(&s, &path).await).is_none(),
            "no banner on {path} once acknowledged"
        );
    }
    let acked = c.alert("risk", "phq9.q9").await;
    assert_eq!(acked["status"], "acknowledged");
    assert!(acked["acknowledged_by"]
        .as_str()
        .unwrap()
        .starts_with("Cleo Clinician"));
    // Acknowledging twice is refused, not an error of the server.
    let r = post_form(&s, &action, &[("csrf", &csrf)]).await;
    assert!(r.status().is_client_error(), "{}", r.status());
    // Without the CSRF token nothing happens.
    let resolve = format!("/alerts/{alert_id}/resolve");
    let r = post_form(&s, &resolve, &[("note", "done")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Resolving needs a note on what was done: refused (4xx, not 500) without one.
    for note in ["", "   "] {
        let r = post_form(&s, &resolve, &[("csrf", &csrf), ("note", note)]).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "note {note:?}");
        assert!(r.text().await.unwrap().contains("Say what was done"));
        let (status, body) = s
            .post_json(
                &format!("/api/v1/alerts/{alert_id}/resolve"),
                &json!({"note": note}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "API, note {note:?}: {body}");
        assert_eq!(body["error"], "conflict");
    }
    let (status, _) = s
        .post_json(&format!("/api/v1/alerts/{alert_id}/resolve"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "API, no note at all");
    assert_eq!(c.alert("risk", "phq9.q9").await["status"], "acknowledged");

    let note = "Phoned the client the same day; safety plan agreed";
    let r = post_form(&s, &resolve, &[("csrf", &csrf), ("note", note)]).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.url().path(), c.path());
    let resolved = c.alert("risk", "phq9.q9").await;
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(resolved["action_taken"], note);
    assert!(resolved["resolved_by"]
        .as_str()
        .unwrap()
        .starts_with("Cleo Clinician"));

    // The alert page: what happened, what to consider, and the whole history with who and why.
    let p = page(&s, &format!("/alerts/{alert_id}")).await;
    let t = text(&p);
    assert!(t.contains("risk · session 1"), "{t}");
    assert!(t.contains("PHQ-9 item 9"), "the message: {t}");
    assert!(t.contains("Review risk today"), "the suggestion: {t}");
    assert!(
        t.contains("Follow your service") && t.contains("risk protocol"),
        "its steps: {t}"
    );
    assert!(t.contains("Simon et al. 2013"), "its evidence: {t}");
    let raised = t.find("raised by bordin").expect("raised, by Bordin");
    let acked = t
        .find("acknowledged by Cleo Clinician")
        .expect("acknowledged, by whom");
    let done = t
        .find("resolved by Cleo Clinician")
        .expect("resolved, by whom");
    assert!(
        raised < acked && acked < done,
        "history in order of time: {t}"
    );
    assert!(
        t[done..].contains(note),
        "the note is kept with the resolution: {t}"
    );
    assert!(risk_banner(&p).is_none());
}

async fn a_resolved_alert_is_not_raised_again_for_the_same_event() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let c = Course::open(&app, &s, "C-again").await;
    c.phq9(1, &phq9_with_risk()).await;
    let risk = c.alert("risk", "phq9.q9").await;
    let alert_id = risk["alert_id"].as_str().unwrap();
    let (status, body) = s
        .post_json(
            &format!("/api/v1/alerts/{alert_id}/resolve"),
            &json!({"note": "Risk reviewed with the client; no current intent"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "resolved");

    // A later session: the clinician enters the client's paper PHQ-9 (item 9 "not at all") and
    // the client answers the Session Check; each submission evaluates the case again.
    let second = c.add_session(2).await;
    c.clinician_enters(&second, "phq9", &phq9([2, 2, 1, 2, 1, 1, 2, 1, 0]))
        .await;
    c.client_answers(&second, "session_check", &session_check(34))
        .await;

    // As at a restart: a fresh server state over the same database catches up on every clinic.
    let state = AppState::new(app.store.clone(), app.registry.clone(), Config::default());
    let caught_up = bordin_server::monitor::catch_up(&state)
        .await
        .expect("catch-up runs");
    assert!(
        caught_up.cases >= 1 && caught_up.signals >= 1,
        "{caught_up:?}"
    );
    assert_eq!(
        caught_up.raised, 0,
        "every signal already had its alert: {caught_up:?}"
    );
    let again = bordin_server::monitor::evaluate_clinic(&state, &app.clinic_a)
        .await
        .expect("evaluation runs");
    assert_eq!(again.raised, 0, "{again:?}");

    let all = c.alerts().await;
    let same: Vec<&Value> = all
        .iter()
        .filter(|a| a["event_key"] == "risk:phq9.q9:1")
        .collect();
    assert_eq!(same.len(), 1, "one alert for the event: {all:#?}");
    assert_eq!(same[0]["alert_id"], risk["alert_id"]);
    assert_eq!(same[0]["status"], "resolved", "and it stays resolved");
    let p = page(&s, "/caseload").await;
    assert!(risk_banner(&p).is_none(), "no banner for a resolved alert");

    // A new risk answer at a later session is a new event, and is raised.
    c.phq9(3, &phq9([2, 2, 1, 2, 1, 1, 2, 1, 2])).await;
    let risks = of_kind(&c.alerts().await, "risk", "phq9.q9")
        .into_iter()
        .map(|a| {
            (
                a["session_number"].as_i64().unwrap(),
                a["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect::<std::collections::BTreeSet<_>>();
    assert_eq!(
        risks,
        [(1, "resolved".to_owned()), (3, "open".to_owned())]
            .into_iter()
            .collect()
    );
    assert!(risk_banner(&page(&s, "/caseload").await).is_some());
}

async fn reliable_deterioration_and_not_on_track_on_phq9() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let c = Course::open(&app, &s, "C-worse").await;
    // Intake 12 (moderate), then 14: a change of 2, under the reliable change of 6.
    c.phq9(1, &phq9([2, 2, 1, 2, 1, 1, 2, 1, 0])).await;
    c.phq9(2, &phq9([2, 2, 2, 2, 2, 2, 1, 1, 0])).await;
    assert!(
        of_kind(&c.alerts().await, "reliable_deterioration", "phq9.total").is_empty(),
        "12 → 14 is not a reliable change"
    );

    // 18 at session 3: worse by 6 points, the reliable change (met at equality).
    c.phq9(3, &phq9([3, 3, 2, 2, 2, 2, 2, 2, 0])).await;
    let worse = c.alert("reliable_deterioration", "phq9.total").await;
    assert_eq!(worse["session_number"], 3);
    assert_eq!(worse["urgency"], "amber");
    assert_eq!(worse["status"], "open");
    assert_eq!(worse["event_key"], "reliable_deterioration:phq9.total:3");
    let message = worse["message"].as_str().unwrap();
    assert!(
        message.contains("12 → 18") && message.contains("worse by 6 points"),
        "{message}"
    );
    assert_eq!(worse["detail"]["reliable_points"], 6.0);
    assert!(
        of_kind(&c.alerts().await, "not_on_track", "phq9.total").is_empty(),
        "not on track is first judged at session 4"
    );

    // 16 at session 4: no longer reliably worse, but far from half the reliable improvement.
    c.phq9(4, &phq9([3, 3, 2, 2, 2, 2, 1, 1, 0])).await;
    let behind = c.alert("not_on_track", "phq9.total").await;
    assert_eq!(behind["session_number"], 4);
    assert_eq!(behind["urgency"], "amber");
    assert_eq!(behind["event_key"], "not_on_track:phq9.total:by_session_4");
    assert!(
        behind["message"]
            .as_str()
            .unwrap()
            .contains("less than half the reliable change by session 4"),
        "{behind}"
    );
    assert_eq!(
        c.alert("reliable_deterioration", "phq9.total").await["alert_id"],
        worse["alert_id"],
        "the deterioration is not raised again"
    );

    // The client page shows both on the outcome chart and in the alerts.
    let p = page(&s, &c.path()).await;
    let t = text(&p);
    assert!(
        t.contains("reliable deterioration at session 3 (PHQ-9 total)"),
        "{t}"
    );
    assert!(t.contains("not on track at session 4 (PHQ-9 total)"), "{t}");
}

#[tokio::test]
async fn the_client_page_shows_charts_with_text_alternatives() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let c = Course::open(&app, &s, "C-charts").await;
    planted(&c, 1, 6).await;
    // An outcome measure too, at the first and last session.
    let first = c.session_id(1).await;
    let last = c.session_id(6).await;
    c.client_answers(&first, "phq9", &phq9([2, 2, 1, 2, 1, 1, 2, 1, 0]))
        .await;
    c.client_answers(&last, "phq9", &phq9([1, 1, 1, 1, 1, 0, 1, 0, 0]))
        .await;

    let p = page(&s, &c.path()).await;
    assert!(
        !p.to_ascii_lowercase().contains("<script"),
        "the page works without scripts"
    );

    // Every chart is a figure whose SVG is an image named by its title and described in words.
    let figures: Vec<&str> = p
        .match_indices(r#"<figure class="chart""#)
        .map(|(i, _)| &p[i..i + p[i..].find("</figure>").expect("figure end")])
        .collect();
    assert_eq!(
        figures.len(),
        2,
        "a Session Check chart and an outcome chart"
    );
    for f in &figures {
        let svg_at = f.find("<svg").expect("an inline svg");
        let svg_tag = &f[svg_at..svg_at + f[svg_at..].find('>').unwrap()];
        assert!(svg_tag.contains(r#"role="img""#), "{svg_tag}");
        let labelled = attr_after(svg_tag, r#"aria-labelledby=""#).expect("aria-labelledby");
        let (title_id, desc_id) = labelled.split_once(' ').expect("title and description");
        assert!(
            f.contains(&format!(r#"<title id="{title_id}">"#)),
            "{f:.300}"
        );
        assert!(f.contains(&format!(r#"<desc id="{desc_id}">"#)), "{f:.300}");
        assert!(f.contains("<figcaption>"), "a visible caption");
    }

    let sc = figures
        .iter()
        .find(|f| f.contains("-session-check\""))
        .expect("the Session Check chart");
    let title = &sc[sc.find("<title").unwrap()..sc.find("</title>").unwrap()];
    assert!(title.ends_with(">Session Check"), "{title}");
    let desc = text(&sc[sc.find("<desc").unwrap()..sc.find("</desc>").unwrap()]);
    assert!(
        desc.contains("from 36 at session 1 to 36 at session 6"),
        "{desc}"
    );
    let caption = text(&sc[sc.find("<figcaption>").unwrap()..]);
    assert!(
        caption.contains("rupture at session 5 (Session Check total)")
            && caption.contains("repair at session 6 (Session Check total)"),
        "the caption names the rupture and its repair: {caption}"
    );

    let outcome = figures
        .iter()
        .find(|f| f.contains("-outcome\""))
        .expect("the outcome chart");
    let caption = text(&outcome[outcome.find("<figcaption>").unwrap()..]);
    assert!(
        caption.starts_with("Outcome")
            && caption.contains("PHQ-9 total: 2 values, from 12 at session 1 to 6 at session 6"),
        "{caption}"
    );
}

#[tokio::test]
async fn supervision_page_per_role() {
    let app = spawn_app().await;
    // Cleo (supervised by Sam): session 1 with a Session Check, session 2 attended with only a
    // PHQ-9 — one of two attended sessions has an alliance rating.
    let cleo = app.login(&app.clinician).await;
    let c = Course::open(&app, &cleo, "C-cleo").await;
    c.session_check(1, 36).await;
    c.phq9(2, &phq9([1, 1, 1, 1, 1, 1, 1, 1, 0])).await;
    // Otto (supervised by nobody): one session, rated.
    let otto = app.login(&app.other_clinician).await;
    Course::open(&app, &otto, "C-otto")
        .await
        .session_check(1, 30)
        .await;
    // Clinic B has its own admin and supervisor, and Bea with a case.
    let b_admin = app
        .add_user(&app.clinic_b, "admin@b.test", "Bo Admin", Role::Admin)
        .await;
    let b_sup = app
        .add_user(
            &app.clinic_b,
            "sup@b.test",
            "Sid Southsup",
            Role::Supervisor,
        )
        .await;
    app.store
        .add_supervision(&app.clinic_b, &b_sup.user_id, &app.b_clinician.user_id)
        .await
        .unwrap();
    let bea = app.login(&app.b_clinician).await;
    Course::open(&app, &bea, "C-bea")
        .await
        .session_check(1, 33)
        .await;

    let clinic_a_people = ["Cleo Clinician", "Otto Other", "Sam Supervisor"];

    // Sam sees his supervisee, with the completion figure, and nobody else.
    let sam = app.login(&app.supervisor).await;
    let p = page(&sam, "/supervision").await;
    assert!(p.contains(r#"<table id="supervision""#), "{p}");
    let row = p
        .split("<tr>")
        .find(|r| r.contains("Cleo Clinician"))
        .expect("a row for Cleo");
    let row = text(row);
    assert!(
        row.contains("50%") && row.contains("1 of 2"),
        "alliance measured at 1 of 2 attended sessions: {row}"
    );
    assert!(row.contains("36.0"), "mean latest Session Check 36: {row}");
    assert!(!p.contains("Otto Other"), "Sam does not supervise Otto");
    assert!(
        p.contains(r#"href="/supervision""#),
        "the navigation offers it"
    );

    // The admin sees every clinician of the clinic.
    let admin = app.login(&app.admin).await;
    let p = page(&admin, "/supervision").await;
    for name in clinic_a_people {
        assert!(p.contains(name), "the admin sees {name}");
    }
    let otto_row = text(
        p.split("<tr>")
            .find(|r| r.contains("Otto Other"))
            .expect("Otto's row"),
    );
    assert!(otto_row.contains("1 of 1"), "{otto_row}");
    assert!(!p.contains("Bea Southside"), "not another clinic's");

    // A clinician has no supervision page, and is not offered one.
    let r = cleo.get("/supervision").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(!page(&cleo, "/caseload")
        .await
        .contains(r#"href="/supervision""#));

    // Clinic B's supervisor and admin see clinic B's people only.
    for (who, expect) in [(&b_sup, "Bea Southside"), (&b_admin, "Bea Southside")] {
        let s = app.login(who).await;
        let p = page(&s, "/supervision").await;
        assert!(p.contains(expect), "{} sees {expect}", who.email);
        let bea_row = text(
            p.split("<tr>")
                .find(|r| r.contains("Bea Southside"))
                .unwrap(),
        );
        assert!(bea_row.contains("1 of 1"), "{bea_row}");
        for name in clinic_a_people {
            assert!(!p.contains(name), "{} never sees {name}", who.email);
        }
    }
}

/// Asserts that `s` meets the alert exactly as if it did not exist, on every surface.
async fn assert_alert_hidden(s: &Session, alert_id: &str, case_id: &str) {
    let unknown = s.get("/alerts/00000000-0000-7000-8000-000000000000").await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let unknown = unknown.text().await.unwrap();
    let r = s.get(&format!("/alerts/{alert_id}")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        r.text().await.unwrap(),
        unknown,
        "the same page as an unknown alert"
    );
    for (action, fields) in [
        ("acknowledge", vec![("csrf", s.csrf.as_str())]),
        (
            "resolve",
            vec![("csrf", s.csrf.as_str()), ("note", "closing it")],
        ),
    ] {
        let r = post_form(s, &format!("/alerts/{alert_id}/{action}"), &fields).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{action} on the page");
        let (status, body) = s
            .post_json(
                &format!("/api/v1/alerts/{alert_id}/{action}"),
                &json!({"note": "closing it"}),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{action} in the API: {body}");
        assert_eq!(body["error"], "not_found");
    }
    let (status, _) = s
        .get_json(&format!("/api/v1/alerts?case_id={case_id}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the case's alerts");
    let (status, all) = s.get_json("/api/v1/alerts").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !all.as_array()
            .unwrap()
            .iter()
            .any(|a| a["alert_id"] == alert_id),
        "not among their alerts: {all}"
    );
    assert!(
        risk_banner(&page(s, "/caseload").await).is_none(),
        "no banner for someone else's client"
    );
}

#[tokio::test]
async fn an_alert_is_hidden_from_other_clinicians_and_other_clinics() {
    let app = spawn_app().await;
    let cleo = app.login(&app.clinician).await;
    let c = Course::open(&app, &cleo, "C-private").await;
    c.phq9(1, &phq9_with_risk()).await;
    let risk = c.alert("risk", "phq9.q9").await;
    let alert_id = risk["alert_id"].as_str().unwrap();

    let otto = app.login(&app.other_clinician).await;
    assert_alert_hidden(&otto, alert_id, &c.case_id).await;
    let bea = app.login(&app.b_clinician).await;
    assert_alert_hidden(&bea, alert_id, &c.case_id).await;

    // Nothing they tried changed it.
    let still = c.alert("risk", "phq9.q9").await;
    assert_eq!(still["status"], "open");
    let history = text(&page(&cleo, &format!("/alerts/{alert_id}")).await);
    assert!(
        !history.contains("acknowledged by") && !history.contains("resolved by"),
        "{history}"
    );

    // Those who may see the case see the alert and its banner: Cleo's supervisor, the admin.
    for who in [&app.supervisor, &app.admin] {
        let s = app.login(who).await;
        let r = s.get(&format!("/alerts/{alert_id}")).await;
        assert_eq!(r.status(), StatusCode::OK, "{}", who.email);
        assert!(risk_banner(&page(&s, "/caseload").await).is_some());
        assert_eq!(
            alerts_of(&s, &c.case_id).await.len(),
            c.alerts().await.len()
        );
    }
}

#[tokio::test]
async fn a_session_is_not_called_unmeasured_before_its_rating_could_come_in() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let c = Course::open(&app, &s, "C-routine").await;
    // The usual order: the session is recorded, then the client answers the Session Check.
    let first = c.add_session(1).await;
    assert_eq!(c.alerts().await, Vec::<Value>::new());
    c.client_answers(&first, "phq9", &phq9([1, 1, 1, 1, 1, 1, 1, 1, 0]))
        .await;
    c.client_answers(&first, "session_check", &session_check(36))
        .await;
    assert!(
        of_kind(&c.alerts().await, "missing_measure", "alliance").is_empty(),
        "session 1 was rated: {:#?}",
        c.alerts().await
    );

    // Session 2 goes by without an alliance rating; once session 3 is held, that is a gap.
    let second = c.add_session(2).await;
    c.client_answers(&second, "phq9", &phq9([1, 1, 1, 1, 1, 1, 1, 1, 0]))
        .await;
    assert!(of_kind(&c.alerts().await, "missing_measure", "alliance").is_empty());
    c.session_check(3, 36).await;
    let missing = c.alert("missing_measure", "alliance").await;
    assert_eq!(missing["session_number"], 2);
    assert_eq!(missing["status"], "open");
}

// The end-to-end flows, on SQLite and on PostgreSQL.
bordin_store::both_backends!(
    a_planted_rupture_becomes_an_alert_and_its_repair_is_recorded,
    phq9_item9_shows_a_red_banner_on_every_page_until_acknowledged,
    a_resolved_alert_is_not_raised_again_for_the_same_event,
    reliable_deterioration_and_not_on_track_on_phq9,
);
