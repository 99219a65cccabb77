//! The authorisation matrix: every route of the route table (`bordin_server::route_table`),
//! requested as every role, against objects of three kinds of case, and the answer compared with
//! what the route's access rule says.
//!
//! Roles: anonymous; clinician Cleo; Cleo's supervisor; a supervisor of nobody; the admin; the
//! holder of Cleo's client links; and clinic B's clinician, supervisor, admin and link holder.
//! Targets (for routes that name an object): case X (Cleo's own), case Y (Otto's, shared with
//! Cleo), case Z (Otto's, not shared). A route whose path has a parameter this file does not
//! know fails the test with the route's name: add a value in `fill`.

use bordin_core::care::Role;
use bordin_server::{Access, RouteInfo};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::{spawn_app_with, TestApp, User, PASSWORD};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subject {
    Anonymous,
    Clinician,
    Supervisor,
    OtherSupervisor,
    Admin,
    LinkHolder,
    BClinician,
    BSupervisor,
    BAdmin,
    BLinkHolder,
}

const SUBJECTS: [Subject; 10] = [
    Subject::Anonymous,
    Subject::Clinician,
    Subject::Supervisor,
    Subject::OtherSupervisor,
    Subject::Admin,
    Subject::LinkHolder,
    Subject::BClinician,
    Subject::BSupervisor,
    Subject::BAdmin,
    Subject::BLinkHolder,
];

impl Subject {
    fn has_account(self) -> bool {
        !matches!(self, Self::Anonymous | Self::LinkHolder | Self::BLinkHolder)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Own,
    Shared,
    Others,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Allowed,
    /// 401, or a redirect to the login page for HTML.
    Unauthenticated,
    /// 404: not yours, or not there.
    Hidden,
}

/// What the rule says `who` gets on `target` (clinic A's objects).
fn expected(access: Access, who: Subject, target: Target, names_object: bool) -> Outcome {
    use Outcome::*;
    use Subject::*;
    match access {
        Access::Public => Allowed,
        Access::ClientLink => match (who, target) {
            (LinkHolder, Target::Own) => Allowed,
            (LinkHolder, _) if !names_object => Allowed,
            _ => Hidden,
        },
        _ if !who.has_account() => Unauthenticated,
        Access::AnyUser => Allowed,
        Access::Supervisor => match who {
            Supervisor | OtherSupervisor | Admin | BSupervisor | BAdmin => Allowed,
            _ => Hidden,
        },
        Access::Admin => match who {
            Admin => Allowed,
            BAdmin if !names_object => Allowed,
            _ => Hidden,
        },
        Access::CaseRead | Access::CaseWrite => match (who, target) {
            (Admin, _) => Allowed,
            (Clinician | Supervisor, Target::Own | Target::Shared) => Allowed,
            _ => Hidden,
        },
    }
}

/// Clinic A's objects of one case.
#[derive(Debug, Clone)]
struct Objects {
    case_id: String,
    goal_id: String,
    task_id: String,
    response_id: String,
    alert_id: String,
    transcript_id: String,
    form_secret: String,
    goals_secret: String,
    client_id: String,
    token_id: String,
}

struct Fixture {
    app: TestApp,
    cases: [Objects; 3],
    /// Clinic B's link holder's secrets (of clinic B's case).
    b_form_secret: String,
    b_goals_secret: String,
    clinician_user_id: String,
}

/// A logged-in client that does not follow redirects.
#[derive(Clone)]
struct Login {
    http: reqwest::Client,
    csrf: String,
}

async fn login(app: &TestApp, user: &User) -> Login {
    let http = crate::support::no_redirects();
    let r = http
        .post(app.url("/api/v1/session"))
        .json(&json!({"email": user.email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "login of {}", user.email);
    let body: Value = r.json().await.unwrap();
    Login {
        http,
        csrf: body["csrf_token"].as_str().unwrap().to_owned(),
    }
}

async fn api(s: &Login, app: &TestApp, path: &str, body: Value) -> Value {
    let r = s
        .http
        .post(app.url(path))
        .header("x-csrf-token", &s.csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{path}: {status} {v}");
    v
}

/// A case with a goal, a task, a response with a risk flag (so an alert) and both client links.
async fn objects(app: &TestApp, s: &Login, clinic: &str, code: &str) -> Objects {
    let case = api(s, app, "/api/v1/cases", json!({"code": code})).await;
    let case_id = case["case_id"].as_str().unwrap().to_owned();
    crate::consent::grant_all(app, clinic, &case_id).await;
    let goal = api(
        s,
        app,
        &format!("/api/v1/cases/{case_id}/goals"),
        json!({"words": "Sleep through the night", "why": "Rest", "active": true}),
    )
    .await;
    let goal_id = goal["goal_id"].as_str().unwrap().to_owned();
    let task = api(
        s,
        app,
        &format!("/api/v1/goals/{goal_id}/tasks"),
        json!({"title": "Wind down", "rationale": "Calmer evenings", "owner": "client"}),
    )
    .await;
    let task_id = task["task_id"].as_str().unwrap().to_owned();
    let answers: serde_json::Map<String, Value> = (1..=10)
        .map(|i| (format!("q{i}"), json!(if i == 9 { "2" } else { "1" })))
        .collect();
    let stored = api(
        s,
        app,
        &format!("/api/v1/cases/{case_id}/responses"),
        json!({"instrument": "phq9", "session": "new", "answers": answers}),
    )
    .await;
    let response_id = stored["response_id"].as_str().unwrap().to_owned();
    let r = s
        .http
        .get(app.url(&format!("/api/v1/alerts?case_id={case_id}")))
        .send()
        .await
        .unwrap();
    let alerts: Value = r.json().await.unwrap();
    let alert_id = alerts[0]["alert_id"]
        .as_str()
        .unwrap_or_else(|| panic!("the risk flag raised an alert: {alerts}"))
        .to_owned();
    let sent = api(
        s,
        app,
        &format!("/api/v1/cases/{case_id}/administrations"),
        json!({"instrument": "session_check", "session": "new"}),
    )
    .await;
    let form_secret = last_segment(sent["path"].as_str().unwrap());
    let session = api(
        s,
        app,
        &format!("/api/v1/cases/{case_id}/sessions"),
        json!({"held_on": "2026-03-02"}),
    )
    .await;
    let transcript = api(
        s,
        app,
        &format!("/api/v1/cases/{case_id}/transcripts"),
        json!({"session_id": session["session_id"], "format": "txt",
               "text": "Therapist: How are you?\nClient: Fine.\n"}),
    )
    .await;
    let transcript_id = transcript["transcript"]["transcript_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let html = s
        .http
        .post(app.url(&format!("/cases/{case_id}/goals/link")))
        .form(&[("csrf", &s.csrf)])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let marker = r#"id="client-goals-link">"#;
    let start = html.find(marker).expect("the goals link is shown") + marker.len();
    let end = html[start..].find('<').unwrap() + start;
    let goals_secret = last_segment(&html[start..end]);
    let r = s
        .http
        .get(app.url(&format!("/api/v1/cases/{case_id}")))
        .send()
        .await
        .unwrap();
    let case: Value = r.json().await.unwrap();
    let client_id = case["clients"][0]["client_id"].as_str().unwrap().to_owned();
    // An API token of the case's clinic (its lead clinician's), for the token routes.
    let token_user = app.store.case(clinic, &case_id).await.unwrap().clinicians[0]
        .0
        .clone();
    let token_id = bordin_server::tokens::issue(
        &app.store,
        &bordin_server::tokens::TokenRequest {
            clinic_id: clinic,
            user_id: &token_user,
            scope: bordin_store::TokenScope::Read,
            label: code,
            expires_in_days: None,
            created_by: "matrix",
            now: bordin_server::state::now_ms(),
        },
    )
    .await
    .unwrap()
    .row
    .token_id;
    Objects {
        client_id,
        token_id,
        case_id,
        goal_id,
        task_id,
        response_id,
        alert_id,
        transcript_id,
        form_secret,
        goals_secret,
    }
}

fn last_segment(path: &str) -> String {
    path.rsplit('/').next().unwrap().to_owned()
}

async fn fixture() -> Fixture {
    // Thousands of deliberate 404s on link routes and failed logins from one address: lift
    // the throttles here (they have their own tests in `hardening.rs` and `credentials.rs`).
    let app = spawn_app_with(|c| {
        let t = &mut c.security.throttle;
        t.link_failures = u32::MAX;
        // The matrix posts empty login forms many times over.
        t.free_failures = u32::MAX;
        t.address_failures = u32::MAX;
    })
    .await;
    let cleo = login(&app, &app.clinician).await;
    let otto = login(&app, &app.other_clinician).await;
    let own = objects(&app, &cleo, &app.clinic_a, "X-1").await;
    let shared = objects(&app, &otto, &app.clinic_a, "Y-1").await;
    let others = objects(&app, &otto, &app.clinic_a, "Z-1").await;
    app.store
        .add_clinician_to_case(
            &app.clinic_a,
            &shared.case_id,
            &app.clinician.user_id,
            bordin_core::care::CaseRole::Shared,
        )
        .await
        .unwrap();
    let bea = login(&app, &app.b_clinician).await;
    let clinic_b = app.clinic_b.clone();
    let b = objects(&app, &bea, &clinic_b, "W-1").await;
    Fixture {
        clinician_user_id: app.clinician.user_id.clone(),
        cases: [own, shared, others],
        b_form_secret: b.form_secret,
        b_goals_secret: b.goals_secret,
        app,
    }
}

/// Path parameters that name an object of clinic A (so a second clinic's admin must not reach
/// it) — everything but the link's own clinic id and secret, and instrument ids.
const OBJECT_PARAMS: &[&str] = &[
    "case_id",
    "goal_id",
    "task_id",
    "alert_id",
    "response_id",
    "user_id",
    "client_id",
    "token_id",
];

/// The concrete path of `route` for `who` on `target`.
fn fill(f: &Fixture, route: &RouteInfo, who: Subject, target: Target) -> String {
    let o = &f.cases[target as usize];
    let goals_link = route.path.starts_with("/g/");
    let mut out = String::new();
    let mut rest = route.path.as_str();
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').unwrap() + open;
        let name = &rest[open + 1..close];
        let value = match name {
            "case_id" => o.case_id.clone(),
            "goal_id" => o.goal_id.clone(),
            "task_id" => o.task_id.clone(),
            "alert_id" => o.alert_id.clone(),
            "response_id" => o.response_id.clone(),
            "transcript_id" => o.transcript_id.clone(),
            "user_id" => f.clinician_user_id.clone(),
            "client_id" => o.client_id.clone(),
            "token_id" => o.token_id.clone(),
            "id" => "phq9".into(),
            "clinic_id" => f.app.clinic_a.clone(),
            "secret" => {
                let own = &f.cases[0];
                match (who, goals_link) {
                    (Subject::LinkHolder, true) => own.goals_secret.clone(),
                    (Subject::LinkHolder, false) => own.form_secret.clone(),
                    (Subject::BLinkHolder, true) => f.b_goals_secret.clone(),
                    (Subject::BLinkHolder, false) => f.b_form_secret.clone(),
                    // Everyone else guesses a well-formed secret.
                    _ => "AAAAAAAAAAAAAAAAAAAAAA".into(),
                }
            }
            other => panic!(
                "route {route}: the authorisation matrix does not know the path parameter \
                 {{{other}}}; give it a value for each target in tests/it/matrix.rs `fill`"
            ),
        };
        out.push_str(&value);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

fn classify(status: StatusCode, location: Option<&str>) -> Option<Outcome> {
    match status.as_u16() {
        401 => Some(Outcome::Unauthenticated),
        303 | 302 | 307 if location == Some("/login") => Some(Outcome::Unauthenticated),
        404 => Some(Outcome::Hidden),
        // 403 is only the CSRF refusal, and the matrix always sends the token; 429 and 5xx
        // are never right here.
        403 | 429 | 500..=599 => None,
        _ => Some(Outcome::Allowed),
    }
}

#[tokio::test]
async fn every_route_answers_every_role_as_its_rule_says() {
    let f = fixture().await;
    let app = &f.app;
    let sup_t = app
        .add_user(
            &app.clinic_a,
            "sup2@a.test",
            "Tess Nobody",
            Role::Supervisor,
        )
        .await;
    let b_sup = app
        .add_user(&app.clinic_b, "sup@b.test", "Ben B", Role::Supervisor)
        .await;
    app.store
        .add_supervision(&app.clinic_b, &b_sup.user_id, &app.b_clinician.user_id)
        .await
        .unwrap();
    let b_admin = app
        .add_user(&app.clinic_b, "admin@b.test", "Bo B", Role::Admin)
        .await;
    let account = |who: Subject| -> Option<&User> {
        Some(match who {
            Subject::Clinician => &app.clinician,
            Subject::Supervisor => &app.supervisor,
            Subject::OtherSupervisor => &sup_t,
            Subject::Admin => &app.admin,
            Subject::BClinician => &app.b_clinician,
            Subject::BSupervisor => &b_sup,
            Subject::BAdmin => &b_admin,
            _ => return None,
        })
    };
    let mut sessions = std::collections::HashMap::new();
    for who in SUBJECTS {
        if let Some(u) = account(who) {
            sessions.insert(format!("{who:?}"), login(app, u).await);
        }
    }
    let anonymous = Login {
        http: crate::support::no_redirects(),
        csrf: String::new(),
    };

    let table = bordin_server::route_table();
    let mut failures = Vec::new();
    let mut checked = 0usize;
    // Logging out ends the session: those routes go last.
    let mut routes: Vec<&RouteInfo> = table.iter().collect();
    routes.sort_by_key(|r| r.path == "/logout" || r.path == "/api/v1/session");
    for route in &routes {
        let names_object = OBJECT_PARAMS
            .iter()
            .any(|p| route.path.contains(&format!("{{{p}}}")));
        let targets: &[Target] = if names_object {
            &[Target::Own, Target::Shared, Target::Others]
        } else {
            &[Target::Own]
        };
        for &who in &SUBJECTS {
            for &target in targets {
                let s = sessions.get(&format!("{who:?}")).unwrap_or(&anonymous);
                let path = fill(&f, route, who, target);
                let method = Method::from_bytes(route.method.as_str().as_bytes()).unwrap();
                let mut req = s.http.request(method.clone(), app.url(&path));
                if method != Method::GET {
                    req = req
                        .header("x-csrf-token", &s.csrf)
                        .form(&[("csrf", s.csrf.as_str())]);
                }
                let r = req.send().await.unwrap();
                let status = r.status();
                let location = r
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let mut got = classify(status, location.as_deref());
                let ends_session = route.path == "/logout"
                    || (route.path == "/api/v1/session" && route.method == Method::DELETE);
                // A successful logout also redirects to the login page; it clears the cookie.
                if route.path == "/logout" && r.headers().contains_key("set-cookie") {
                    got = Some(Outcome::Allowed);
                }
                if ends_session {
                    if let Some(u) = account(who) {
                        sessions.insert(format!("{who:?}"), login(app, u).await);
                    }
                }
                let want = expected(route.access, who, target, names_object);
                checked += 1;
                let ok = match (route.access, got) {
                    // Public routes may answer "please log in" (e.g. a failed login).
                    (Access::Public, Some(Outcome::Allowed | Outcome::Unauthenticated)) => true,
                    (_, Some(g)) => g == want,
                    (_, None) => false,
                };
                if !ok {
                    failures.push(format!(
                        "{route} as {who:?} on {target:?} ({path}): expected {want:?}, got {status} {}",
                        location.unwrap_or_default()
                    ));
                }
            }
        }
    }
    println!(
        "authorisation matrix: {} routes × {} roles, {checked} requests",
        table.len(),
        SUBJECTS.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {checked} requests answered against their rule:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_json_route_of_the_openapi_document_is_in_the_route_table() {
    let table = bordin_server::route_table();
    let doc = serde_json::to_value(bordin_server::table().into_openapi()).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let m = method.to_uppercase();
            if !["GET", "POST", "PUT", "DELETE", "PATCH"].contains(&m.as_str()) {
                continue;
            }
            assert!(
                table
                    .iter()
                    .any(|r| r.method.as_str() == m && &r.path == path),
                "{m} {path} is documented but has no access rule in the route table"
            );
        }
    }
    // And no route appears twice with different rules.
    for (i, a) in table.iter().enumerate() {
        for b in &table[i + 1..] {
            assert!(
                !(a.method == b.method && a.path == b.path),
                "{a} is registered twice"
            );
        }
    }
}
