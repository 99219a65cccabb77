//! A practice with many open client links, for the crash test (`tests/crash.rs`) and the load
//! benchmark (`benches/load.rs`): both submit these links over HTTP and check or time the result.

use std::collections::BTreeMap;

use bordin_core::care::{Modality, ResponseSource, Role, SessionStatus};
use bordin_core::{Answers, Instrument, Registry, Respondent, ScoreSheet, Setting};
use bordin_store::{NewAdministration, NewCase, NewResponse, Store, StoreError};

/// The instrument every link asks for: PHQ-9 (free to use, scored, with a risk item).
pub const INSTRUMENT: &str = "phq9";

/// One client link: the secret the client holds and what it was sent for.
#[derive(Debug, Clone)]
pub struct Link {
    pub secret: String,
    pub administration_id: String,
    pub case_id: String,
    pub session_id: String,
    pub client_id: String,
}

/// A clinic whose cases each have one attended session and open PHQ-9 links.
#[derive(Debug, Clone)]
pub struct Practice {
    pub clinic_id: String,
    pub links: Vec<Link>,
}

/// Seeds a clinic with `cases` cases and `links` open PHQ-9 links spread over them in turn.
/// Link secrets are 22 characters of base64url from 16 random bytes, as the server makes them.
pub async fn seed(
    store: &Store,
    registry: &Registry,
    cases: usize,
    links: usize,
    now: i64,
) -> Result<Practice, StoreError> {
    let instrument = registry
        .get(INSTRUMENT)
        .ok_or(StoreError::NotFound { what: "phq9" })?;
    let clinic = store
        .create_clinic("Load test practice", Setting::Therapy, now)
        .await?;
    let clinician = store
        .create_user(
            &clinic.clinic_id,
            "load@example.org",
            "Load Clinician",
            Role::Clinician,
            "not-a-password-hash",
            now,
        )
        .await?;
    let mut case_rows = Vec::with_capacity(cases);
    for c in 0..cases.max(1) {
        let client = store
            .create_client(&clinic.clinic_id, &format!("L-{c:05}"), None, now)
            .await?;
        let client_ids = [client.client_id.clone()];
        let case_id = store
            .create_case(
                &clinic.clinic_id,
                &NewCase {
                    title: &format!("Case {c}"),
                    setting: Setting::Therapy,
                    opened_on: "2026-01-05",
                    client_ids: &client_ids,
                    lead_clinician: &clinician.user_id,
                },
                now,
            )
            .await?;
        let session = store
            .add_session(
                &clinic.clinic_id,
                &case_id,
                "2026-01-05",
                Modality::InPerson,
                SessionStatus::Attended,
                now,
            )
            .await?;
        // Links are answered only with the client's consent to questionnaires (issue 7).
        store
            .record_consent(
                &clinic.clinic_id,
                &case_id,
                &client.client_id,
                bordin_core::goals::ConsentKind::Questionnaires,
                true,
                &bordin_store::Change {
                    actor: bordin_store::Actor {
                        role: bordin_core::goals::Rater::Clinician,
                        id: &clinician.user_id,
                    },
                    at: now,
                    reason: Some("load test: recorded at intake"),
                },
            )
            .await?;
        case_rows.push((case_id, session.session_id, client.client_id));
    }
    let mut out = Vec::with_capacity(links);
    for i in 0..links {
        let (case_id, session_id, client_id) = &case_rows[i % case_rows.len()];
        let secret = bordin_server::auth::random_secret();
        let adm = store
            .create_administration(
                &clinic.clinic_id,
                &NewAdministration {
                    case_id,
                    session_id: Some(session_id),
                    client_id: Some(client_id),
                    instrument,
                    respondent: Respondent::Client,
                    token_hash: Some(&bordin_store::hash_secret(&secret)),
                    expires_at: Some(now + 30 * 24 * 3_600_000),
                    created_by: &clinician.user_id,
                },
                now,
            )
            .await?;
        out.push(Link {
            secret,
            administration_id: adm.administration_id,
            case_id: case_id.clone(),
            session_id: session_id.clone(),
            client_id: client_id.clone(),
        });
    }
    Ok(Practice {
        clinic_id: clinic.clinic_id,
        links: out,
    })
}

/// The answers submitted for link number `i`: PHQ-9 items 1–9 from 0–3, varied by `i` (item 9
/// stays 0, so no risk alert per submission), the unscored difficulty item left blank.
pub fn answers(i: usize) -> BTreeMap<String, String> {
    (1..=9)
        .map(|q| {
            let v = if q == 9 { 0 } else { (i + q) % 4 };
            (format!("q{q}"), v.to_string())
        })
        .collect()
}

/// The same answers checked and scored by the core, as the server would (for the raw-database
/// side of the benchmark, which must insert the very rows Bordin inserts).
pub fn scored(instrument: &Instrument, i: usize) -> Option<(Answers, ScoreSheet)> {
    let values = answers(i);
    let vals = instrument
        .items
        .iter()
        .map(|item| {
            values
                .get(&item.id)
                .and_then(|v| v.parse::<i64>().ok())
                .map(bordin_core::Value::from_integer)
        })
        .collect();
    let answers = Answers::from_values(instrument, vals).ok()?;
    let sheet = instrument.score(&answers);
    Some((answers, sheet))
}

/// A `NewResponse` for `link` as the server builds it for a link submission.
pub fn new_response<'a>(
    link: &'a Link,
    instrument: &'a Instrument,
    answers: &'a Answers,
    sheet: &'a ScoreSheet,
    at: i64,
) -> NewResponse<'a> {
    NewResponse {
        administration_id: Some(&link.administration_id),
        case_id: &link.case_id,
        session_id: Some(&link.session_id),
        client_id: Some(&link.client_id),
        instrument,
        respondent: Respondent::Client,
        answers,
        sheet,
        submitted_at: at,
        entered_by: "link",
        source: ResponseSource::Link,
    }
}
