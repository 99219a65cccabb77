//! A practice with many open client links, for the crash test (`tests/crash.rs`) and the load
//! benchmark (`benches/load.rs`): both submit these links over HTTP and check or time the result.
//! Also the load generator (`run_load`: n operations at a fixed concurrency, rate and latency
//! percentiles) shared by the `load` and `login` benchmarks.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bordin_core::care::{Modality, ResponseSource, Role, SessionStatus};
use bordin_core::{Answers, Instrument, Registry, Respondent, ScoreSheet, Setting};
use bordin_store::{NewAdministration, NewCase, NewResponse, Store, StoreError};

// ---------------------------------------------------------------------------------------------
// Load generation (the benchmarks `load` and `login`)

/// Rate and latency of one phase.
#[derive(Debug, Clone)]
pub struct Measured {
    pub done: usize,
    pub seconds: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Every operation's latency in milliseconds, sorted (for [`Measured::merge`]).
    pub latencies_ms: Vec<f64>,
}

impl Measured {
    pub fn rate(&self) -> f64 {
        self.done as f64 / self.seconds
    }

    fn from_latencies(mut latencies_ms: Vec<f64>, seconds: f64) -> Self {
        latencies_ms.sort_by(f64::total_cmp);
        let pct = |p: f64| {
            if latencies_ms.is_empty() {
                return f64::NAN;
            }
            let k =
                ((latencies_ms.len() as f64 * p).ceil() as usize).clamp(1, latencies_ms.len()) - 1;
            latencies_ms[k]
        };
        Self {
            done: latencies_ms.len(),
            seconds,
            p50_ms: pct(0.50),
            p99_ms: pct(0.99),
            latencies_ms,
        }
    }

    /// Several phases of the same path as one: operations and seconds added, percentiles over
    /// every operation.
    pub fn merge(parts: &[Measured]) -> Self {
        Self::from_latencies(
            parts
                .iter()
                .flat_map(|m| m.latencies_ms.iter().copied())
                .collect(),
            parts.iter().map(|m| m.seconds).sum(),
        )
    }
}

/// Runs `op(i)` for i in 0..n with `concurrency` tasks, stopping early at `limit`; records each
/// call's latency.
pub async fn run_load<F, Fut>(n: usize, concurrency: usize, limit: Duration, op: F) -> Measured
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = start + limit;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (op, next) = (op.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n || Instant::now() >= deadline {
                    break;
                }
                let t = Instant::now();
                op(i).await;
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        match t.await {
            Ok(lat) => all.extend(lat),
            // A failed check inside `op` panicked its task: fail the run the same way.
            Err(e) => match e.try_into_panic() {
                Ok(p) => std::panic::resume_unwind(p),
                Err(e) => std::panic::resume_unwind(Box::new(format!("load task: {e}"))),
            },
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    Measured::from_latencies(
        all.iter().map(|d| d.as_secs_f64() * 1000.0).collect(),
        seconds,
    )
}

// ---------------------------------------------------------------------------------------------

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
