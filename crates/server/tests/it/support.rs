//! The test fixture: a real server on a free port over a fresh database (SQLite, or PostgreSQL in
//! the `postgres` run of a test declared with `bordin_store::both_backends!`), with two clinics and
//! a user of each role, and small helpers that act as a browser or an API client would.

use std::sync::OnceLock;

use bordin_core::care::Role;
use bordin_core::{Registry, Setting, TextPack};
use bordin_server::{AppState, Config};
use bordin_store::Store;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Every test user has this password.
pub const PASSWORD: &str = "correct horse battery staple";

/// One argon2id hash of [`PASSWORD`], shared by every user of every test: hashing costs
/// 19 MiB and tens of milliseconds, and what is under test is the login, not the salt.
fn password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| bordin_server::auth::hash_password(PASSWORD).expect("hashing works"))
}

/// A user of the fixture.
#[derive(Debug, Clone)]
pub struct User {
    pub user_id: String,
    pub email: String,
}

/// A running server and the people in it.
///
/// Clinic A ("Northside"): `admin`, `supervisor`, `clinician` (supervised by `supervisor`) and
/// `other_clinician` (supervised by nobody). Clinic B ("Southside"): `b_clinician`.
pub struct TestApp {
    pub base: String,
    pub store: Store,
    pub registry: Registry,
    pub clinic_a: String,
    pub clinic_b: String,
    pub admin: User,
    pub supervisor: User,
    pub clinician: User,
    pub other_clinician: User,
    pub b_clinician: User,
    _db: bordin_store::testing::TestDb,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// [`spawn_app`] with a changed configuration (e.g. tighter throttles).
pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    let (url, db) = bordin_store::testing::fresh_url()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let store = Store::connect(&url).await.expect("store opens");
    let registry = Registry::builtin().expect("builtin instruments load");
    let now = bordin_server::state::now_ms();

    let a = store
        .create_clinic("Northside", Setting::Therapy, now)
        .await
        .expect("clinic A");
    let b = store
        .create_clinic("Southside", Setting::Therapy, now)
        .await
        .expect("clinic B");
    let admin = user(
        &store,
        &a.clinic_id,
        "admin@a.test",
        "Ada Admin",
        Role::Admin,
    )
    .await;
    let supervisor = user(
        &store,
        &a.clinic_id,
        "sup@a.test",
        "Sam Supervisor",
        Role::Supervisor,
    )
    .await;
    let clinician = user(
        &store,
        &a.clinic_id,
        "cli@a.test",
        "Cleo Clinician",
        Role::Clinician,
    )
    .await;
    let other_clinician = user(
        &store,
        &a.clinic_id,
        "other@a.test",
        "Otto Other",
        Role::Clinician,
    )
    .await;
    let b_clinician = user(
        &store,
        &b.clinic_id,
        "cli@b.test",
        "Bea Southside",
        Role::Clinician,
    )
    .await;
    store
        .add_supervision(&a.clinic_id, &supervisor.user_id, &clinician.user_id)
        .await
        .expect("supervision");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let mut config = Config::default();
    configure(&mut config);
    let state = AppState::new(store.clone(), registry.clone(), config);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = bordin_server::serve(listener, state, async move {
            let _ = rx.await;
        })
        .await;
    });

    TestApp {
        base,
        store,
        registry,
        clinic_a: a.clinic_id,
        clinic_b: b.clinic_id,
        admin,
        supervisor,
        clinician,
        other_clinician,
        b_clinician,
        _db: db,
        _shutdown: tx,
    }
}

async fn user(store: &Store, clinic_id: &str, email: &str, name: &str, role: Role) -> User {
    let hash = password_hash();
    let u = store
        .create_user(
            clinic_id,
            email,
            name,
            role,
            hash,
            bordin_server::state::now_ms(),
        )
        .await
        .expect("user");
    User {
        user_id: u.user_id,
        email: email.to_owned(),
    }
}

/// A client with a cookie store that follows redirects, as a browser does.
pub fn browser_like() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("client")
}

/// A client that shows redirects instead of following them.
pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// A logged-in user: their cookie jar and the session's CSRF token.
pub struct Session {
    pub http: reqwest::Client,
    pub csrf: String,
    pub base: String,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Logs in through the JSON API.
    pub async fn login(&self, user: &User) -> Session {
        let http = browser_like();
        let r = http
            .post(self.url("/api/v1/session"))
            .json(&json!({"email": user.email, "password": PASSWORD}))
            .send()
            .await
            .expect("login");
        assert_eq!(r.status(), StatusCode::OK, "login of {}", user.email);
        let body: Value = r.json().await.expect("login JSON");
        let csrf = body["csrf_token"].as_str().expect("csrf_token").to_owned();
        Session {
            http,
            csrf,
            base: self.base.clone(),
        }
    }

    /// Adds a user (password [`PASSWORD`]) to a clinic, e.g. clinic B's own supervisor.
    pub async fn add_user(&self, clinic_id: &str, email: &str, name: &str, role: Role) -> User {
        user(&self.store, clinic_id, email, name, role).await
    }

    /// Installs Bordin's placeholder WAI-SR and WAI-SRT packs into clinic A.
    pub async fn install_placeholder_packs(&self) {
        for (name, text) in bordin_core::registry::PLACEHOLDER_PACKS {
            let pack = TextPack::from_toml(name, text).expect("placeholder pack parses");
            self.store
                .put_text_pack(
                    &self.clinic_a,
                    &pack.instrument,
                    text,
                    &self.admin.user_id,
                    bordin_server::state::now_ms(),
                )
                .await
                .expect("pack stored");
        }
    }
}

impl Session {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn get_json(&self, path: &str) -> (StatusCode, Value) {
        let r = self.get(path).await;
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// A state-changing API call with the CSRF header.
    pub async fn post_json(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let r = self
            .http
            .post(self.url(path))
            .header("x-csrf-token", &self.csrf)
            .json(body)
            .send()
            .await
            .expect("POST");
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Opens a case for a new client through the API; returns the case id.
    pub async fn new_case(&self, code: &str) -> String {
        let (status, body) = self
            .post_json(
                "/api/v1/cases",
                &json!({"code": code, "consents": ["questionnaires"]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["case_id"].as_str().expect("case_id").to_owned()
    }

    /// Sends a form as a link for a new session today; returns the link's path.
    pub async fn send_link(&self, case_id: &str, instrument: &str) -> String {
        let (status, body) = self
            .post_json(
                &format!("/api/v1/cases/{case_id}/administrations"),
                &json!({"instrument": instrument, "session": "new"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["path"].as_str().expect("path").to_owned()
    }

    /// The current scores of one scale of a case, from the API.
    pub async fn scores(&self, case_id: &str, instrument: &str, scale: &str) -> Vec<Value> {
        let (status, body) = self.get_json(&format!("/api/v1/cases/{case_id}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["scores"]
            .as_array()
            .expect("scores")
            .iter()
            .filter(|s| s["instrument"] == instrument && s["scale"] == scale)
            .cloned()
            .collect()
    }
}

/// Posts answers to a client link as the phone's browser would (a form, no cookies).
pub async fn submit_link_form(
    base: &str,
    path: &str,
    answers: &[(&str, &str)],
) -> (StatusCode, String) {
    let r = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .form(answers)
        .send()
        .await
        .expect("POST link");
    let status = r.status();
    (status, r.text().await.expect("body"))
}

/// The value of the first hidden `csrf` field of a page.
pub fn scrape_csrf(html: &str) -> String {
    attr_after(html, r#"name="csrf" value=""#).expect("the page has a CSRF field")
}

/// The text after `marker` up to the next double quote.
pub fn attr_after(html: &str, marker: &str) -> Option<String> {
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

/// The `<input ...>` tag of one radio option, e.g. `radio(html, "q1", "7")`.
pub fn radio<'a>(html: &'a str, item: &str, value: &str) -> &'a str {
    let marker = format!(r#"name="{item}" value="{value}""#);
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no option {item}={value} on the page"));
    let start = html[..at].rfind('<').expect("tag start");
    let end = html[at..].find('>').expect("tag end") + at;
    &html[start..=end]
}

/// Answers of the Session Check: q1..q4 = 8, 7, 9, 6 (total 30).
pub const SESSION_CHECK_30: [(&str, &str); 4] =
    [("q1", "8"), ("q2", "7"), ("q3", "9"), ("q4", "6")];

/// PHQ-9 answers totalling 12 ("moderate"), item 9 "Not at all", with the difficulty item.
pub const PHQ9_12_NO_RISK: [(&str, &str); 10] = [
    ("q1", "2"),
    ("q2", "2"),
    ("q3", "1"),
    ("q4", "2"),
    ("q5", "1"),
    ("q6", "1"),
    ("q7", "2"),
    ("q8", "1"),
    ("q9", "0"),
    ("q10", "1"),
];
