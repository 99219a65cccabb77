//! Shared fixtures: a fresh store per test, a small clinic, and answers scored by the core.

use bordin_core::care::{Modality, ResponseSource, Role, SessionStatus};
use bordin_core::{Answers, Instrument, Registry, ScoreSheet, Setting};
use bordin_store::testing::{self, TestDb};
use bordin_store::{NewAdministration, NewCase, NewResponse, SessionRow, Store, Submitted};

/// Keeps the test's database alive; dropping it removes the database.
pub type Guard = TestDb;

/// The URL of a new, empty database on the current test's backend (see [`fresh_store`]).
pub async fn fresh_url() -> (String, Guard) {
    testing::fresh_url().await.unwrap_or_else(|e| panic!("{e}"))
}

/// A new, empty, migrated store that no other test sees.
///
/// This is the single place that picks the backend: SQLite, or PostgreSQL in the `postgres` run
/// of a test declared with `bordin_store::both_backends!` (a database created for the test on
/// the server named by `BORDIN_TEST_PG_URL`, dropped with the [`Guard`]).
pub async fn fresh_store() -> (Store, Guard) {
    let (url, guard) = fresh_url().await;
    let store = Store::connect(&url)
        .await
        .expect("connect to a fresh database");
    (store, guard)
}

/// A fixed clock for the tests (2026-03-02T09:00:00Z in milliseconds).
pub const T0: i64 = 1_772_442_000_000;

pub fn registry() -> Registry {
    Registry::builtin().expect("built-in instruments load")
}

/// A clinic with one clinician, one client, one case and one attended session.
#[derive(Clone)]
pub struct World {
    pub clinic_id: String,
    pub clinician_id: String,
    pub client_id: String,
    pub case_id: String,
    pub session: SessionRow,
}

pub async fn world(store: &Store, clinic_name: &str) -> World {
    let clinic = store
        .create_clinic(clinic_name, Setting::Therapy, T0)
        .await
        .unwrap();
    let user = store
        .create_user(
            &clinic.clinic_id,
            "clinician@example.org",
            "Dr Test",
            Role::Clinician,
            "not-a-real-hash",
            T0,
        )
        .await
        .unwrap();
    let client = store
        .create_client(&clinic.clinic_id, "C-0001", Some("Alex"), T0)
        .await
        .unwrap();
    let client_ids = [client.client_id.clone()];
    let case_id = store
        .create_case(
            &clinic.clinic_id,
            &NewCase {
                title: "Alex",
                setting: Setting::Therapy,
                opened_on: "2026-03-02",
                client_ids: &client_ids,
                lead_clinician: &user.user_id,
            },
            T0,
        )
        .await
        .unwrap();
    let session = store
        .add_session(
            &clinic.clinic_id,
            &case_id,
            "2026-03-02",
            Modality::InPerson,
            SessionStatus::Attended,
            T0,
        )
        .await
        .unwrap();
    World {
        clinic_id: clinic.clinic_id,
        clinician_id: user.user_id,
        client_id: client.client_id,
        case_id,
        session,
    }
}

/// Answers given as integers in item order (`None` = blank), checked and scored by the core.
pub fn scored(instrument: &Instrument, values: &[Option<i64>]) -> (Answers, ScoreSheet) {
    let values = values
        .iter()
        .map(|v| v.map(bordin_core::Value::from_integer))
        .collect();
    let answers = Answers::from_values(instrument, values).expect("valid answers");
    let sheet = instrument.score(&answers);
    (answers, sheet)
}

/// A complete PHQ-9 (items 1–9; the unscored difficulty item 10 left blank).
pub fn phq9_values(items: [i64; 9]) -> Vec<Option<i64>> {
    let mut v: Vec<Option<i64>> = items.iter().copied().map(Some).collect();
    v.push(None);
    v
}

/// Submits a client response in the world's session, optionally through an administration.
pub async fn submit(
    store: &Store,
    w: &World,
    instrument: &Instrument,
    answers: &Answers,
    sheet: &ScoreSheet,
    administration_id: Option<&str>,
    at: i64,
) -> Submitted {
    store
        .submit_response(
            &w.clinic_id,
            &NewResponse {
                administration_id,
                case_id: &w.case_id,
                session_id: Some(&w.session.session_id),
                client_id: Some(&w.client_id),
                instrument,
                respondent: instrument.respondent,
                answers,
                sheet,
                submitted_at: at,
                entered_by: "link",
                source: ResponseSource::Link,
            },
        )
        .await
        .unwrap()
}

/// A pending administration of `instrument` for the world's case and client (link expiry a day
/// after T0); its id.
pub async fn pending_administration(
    store: &bordin_store::Store,
    w: &World,
    instrument: &bordin_core::Instrument,
    token_hash: Option<&str>,
) -> String {
    store
        .create_administration(
            &w.clinic_id,
            &NewAdministration {
                case_id: &w.case_id,
                session_id: Some(&w.session.session_id),
                client_id: Some(&w.client_id),
                instrument,
                respondent: instrument.respondent,
                token_hash,
                expires_at: Some(T0 + 86_400_000),
                created_by: &w.clinician_id,
            },
            T0,
        )
        .await
        .unwrap()
        .administration_id
}
