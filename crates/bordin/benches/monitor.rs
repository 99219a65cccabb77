//! Monitoring at clinic scale, from the database.
//!
//! One clinic of 10,000 cases × 20 sessions with every measure at every session (Session Check,
//! WAI-SR, WAI-SRT, PHQ-9, GAD-7: 1,000,000 responses, 3,000,000 scores), seeded once into
//! `target/tmp/bench-monitor/` and reused while it is complete. Seeding through
//! `Store::submit_response` would take hours, so the rows are written with batched SQL into the
//! same tables (answers scored by the core, stored in the store's formats), and the `case_series`
//! read model is then built for every case with `Store::refresh_case_series`.
//!
//! Each run works on a fresh copy of the seeded file, and measures:
//! - whole-clinic evaluation (`monitor::evaluate_clinic`): reading every case's series,
//!   calibration, every signal, raising alerts. A cold first run (empty rules cache, no alerts
//!   yet) is timed with `Instant` and printed; the steady state (rules cached, every alert already
//!   raised) by criterion;
//! - the incremental update after one submission: `Store::submit_response` of one WAI-SR response
//!   followed by `monitor::evaluate_case` with the clinic's rules cached; 200 submissions timed
//!   with `Instant` (p50/p99 printed), then criterion.
//!
//! `cargo bench -p bordin --bench monitor`; `BORDIN_BENCH_CASES=1000` for a smaller clinic.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::type_complexity
)]

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use bordin_core::care::ResponseSource;
use bordin_core::{Answers, Instrument, Registry, Value};
use bordin_server::{monitor, AppState, Config};
use bordin_store::{NewResponse, Store};
use criterion::{criterion_group, criterion_main, Criterion};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, QueryBuilder, Sqlite, SqliteConnection};

const SESSIONS: i64 = 20;
const MEASURES: [&str; 5] = ["session_check", "wai_sr", "wai_srt", "phq9", "gad7"];
/// Cases written per transaction while seeding.
const BATCH_CASES: usize = 250;
const NOW: i64 = 1_780_000_000_000;

fn cases() -> usize {
    std::env::var("BORDIN_BENCH_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-monitor")
}

fn url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

fn remove_db(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

async fn raw(path: &Path) -> SqliteConnection {
    SqliteConnectOptions::from_str(&url(path))
        .unwrap()
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Off)
        .busy_timeout(Duration::from_secs(30))
        .connect()
        .await
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Generating a clinic: each case has an alliance level (some with a dip, some unrepaired), a
// symptom course (responders, non-responders, a few deteriorating), and answers drawn around
// them.

struct Profile {
    alliance: f64,
    therapist_bias: f64,
    dip: Option<(i64, i64)>,
    symptom0: f64,
    symptom_end: f64,
    risky: bool,
}

impl Profile {
    fn draw(rng: &mut ChaCha8Rng) -> Self {
        let dip = rng.gen_bool(0.25).then(|| {
            let at = rng.gen_range(4..=SESSIONS - 2);
            (
                at,
                if rng.gen_bool(0.3) {
                    4
                } else {
                    rng.gen_range(1..=2)
                },
            )
        });
        let symptom0: f64 = rng.gen_range(0.25..0.8);
        let symptom_end = match rng.gen_range(0..10) {
            0 => (symptom0 + 0.25).min(1.0),
            1..=3 => symptom0,
            _ => symptom0 * 0.4,
        };
        Self {
            alliance: rng.gen_range(0.55..0.92),
            therapist_bias: rng.gen_range(-0.04..0.08),
            dip,
            symptom0,
            symptom_end,
            risky: rng.gen_bool(0.1),
        }
    }

    /// Level (0–1 of the item range) of a measure at session n.
    fn level(&self, measure: &str, n: i64) -> f64 {
        let t = (n - 1) as f64 / (SESSIONS - 1) as f64;
        let dipped = match self.dip {
            Some((at, len)) if n >= at && n < at + len => 0.3,
            _ => 0.0,
        };
        match measure {
            "session_check" | "wai_sr" => self.alliance + 0.05 * t - dipped,
            "wai_srt" => self.alliance + self.therapist_bias + 0.05 * t,
            _ => self.symptom0 + (self.symptom_end - self.symptom0) * t,
        }
    }
}

/// Whole-number answers each item accepts, per instrument.
struct Scales {
    instrument: std::sync::Arc<Instrument>,
    accepted: Vec<Vec<i64>>,
}

fn scales(registry: &Registry) -> Vec<Scales> {
    MEASURES
        .iter()
        .map(|id| {
            let instrument = registry.get(id).unwrap().clone();
            let accepted = (0..instrument.items.len())
                .map(|k| {
                    let rs = instrument.response_scale_of(k);
                    (0..=100)
                        .filter(|&n| rs.accepts(Value::from_integer(n)))
                        .collect()
                })
                .collect();
            Scales {
                instrument,
                accepted,
            }
        })
        .collect()
}

fn answers(rng: &mut ChaCha8Rng, s: &Scales, level: f64, q9_positive: bool) -> Answers {
    let values = s
        .accepted
        .iter()
        .enumerate()
        .map(|(k, acc)| {
            let (lo, hi) = (acc[0] as f64, acc[acc.len() - 1] as f64);
            let x = lo + (level + rng.gen_range(-0.08..0.08)).clamp(0.0, 1.0) * (hi - lo);
            let mut v = *acc
                .iter()
                .min_by(|a, b| (**a as f64 - x).abs().total_cmp(&(**b as f64 - x).abs()))
                .unwrap();
            if s.instrument.id == "phq9" && s.instrument.items[k].id == "q9" {
                v = i64::from(q9_positive);
            }
            Some(Value::from_integer(v))
        })
        .collect();
    Answers::from_values(&s.instrument, values).unwrap()
}

/// The store's answer format: item id → exact decimal text, in item order.
fn answers_json(instrument: &Instrument, answers: &Answers) -> String {
    let mut map = serde_json::Map::new();
    for (id, v) in answers.pairs(instrument) {
        map.insert(
            id.to_owned(),
            serde_json::Value::String(bordin_core::exact_decimal(v).unwrap()),
        );
    }
    serde_json::Value::Object(map).to_string()
}

#[derive(Default)]
struct Batch {
    clients: Vec<(String, String)>,
    cases: Vec<(String, &'static str, Option<String>, String)>,
    case_links: Vec<(String, String)>,
    sessions: Vec<(String, String, i64, String)>,
    responses: Vec<(
        String,
        String,
        String,
        String,
        String,
        &'static str,
        String,
        i64,
        String,
    )>,
    scores: Vec<(
        String,
        String,
        Option<f64>,
        Option<String>,
        i64,
        i64,
        Option<String>,
    )>,
    flags: Vec<(String, String, &'static str, String)>,
}

fn day(n: i64) -> String {
    // 2025-01-06 plus n weeks, well inside one year.
    let d = 6 + 7 * n;
    let months = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let (mut m, mut d) = (0, d);
    while d > months[m] {
        d -= months[m];
        m += 1;
    }
    format!("2025-{:02}-{d:02}", m + 1)
}

fn generate(rng: &mut ChaCha8Rng, scales: &[Scales], first: usize, n: usize) -> Batch {
    let mut b = Batch::default();
    for c in first..first + n {
        let client = bordin_store::new_id();
        let case = bordin_store::new_id();
        b.clients.push((client.clone(), format!("C{c:05}")));
        let start = (c % 20) as i64;
        let status = match c % 20 {
            0..=5 => "closed",
            6 => "dropped_out",
            _ => "active",
        };
        let closed_on = (status != "active").then(|| day(start + SESSIONS));
        b.cases.push((case.clone(), status, closed_on, day(start)));
        b.case_links.push((case.clone(), client.clone()));
        let p = Profile::draw(rng);
        for n in 1..=SESSIONS {
            let session = bordin_store::new_id();
            b.sessions
                .push((session.clone(), case.clone(), n, day(start + n - 1)));
            for (k, s) in scales.iter().enumerate() {
                let q9 = p.risky && rng.gen_bool(0.15);
                let a = answers(rng, s, p.level(MEASURES[k], n).clamp(0.0, 1.0), q9);
                let sheet = s.instrument.score(&a);
                let response = bordin_store::new_id();
                b.responses.push((
                    response.clone(),
                    case.clone(),
                    session.clone(),
                    client.clone(),
                    s.instrument.id.clone(),
                    s.instrument.respondent.as_str(),
                    answers_json(&s.instrument, &a),
                    NOW - (SESSIONS - n) * 7 * 86_400_000 + k as i64,
                    s.instrument.version.clone(),
                ));
                for (scale, score) in s.instrument.scales.iter().zip(&sheet.scales) {
                    b.scores.push((
                        response.clone(),
                        scale.id.clone(),
                        score.value.map(bordin_core::to_f64),
                        score.value.map(|v| v.to_string()),
                        i64::from(score.answered),
                        i64::from(score.missing),
                        score.band.map(|i| scale.bands[i].label.clone()),
                    ));
                }
                for &f in &sheet.flags {
                    let rule = &s.instrument.flags[f];
                    let severity = match rule.severity {
                        bordin_core::instrument::FlagSeverity::Info => "info",
                        bordin_core::instrument::FlagSeverity::Warning => "warning",
                        bordin_core::instrument::FlagSeverity::Urgent => "urgent",
                    };
                    b.flags.push((
                        response.clone(),
                        rule.id.clone(),
                        severity,
                        rule.message.clone(),
                    ));
                }
            }
        }
    }
    b
}

/// Inserts `rows` with multi-row INSERTs of at most `per` rows.
async fn insert<T>(
    conn: &mut SqliteConnection,
    head: &str,
    rows: &[T],
    per: usize,
    push: impl Fn(sqlx::query_builder::Separated<'_, '_, Sqlite, &'static str>, &T) + Copy,
) {
    for chunk in rows.chunks(per) {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(head);
        qb.push_values(chunk, push);
        qb.build()
            .persistent(true)
            .execute(&mut *conn)
            .await
            .unwrap();
    }
}

async fn write_batch(conn: &mut SqliteConnection, clinic: &str, user: &str, b: &Batch) {
    let mut tx = conn.begin().await.unwrap();
    let c = clinic.to_owned();
    insert(
        &mut tx,
        "INSERT INTO clients (clinic_id, client_id, code, display_name, created_at) ",
        &b.clients,
        1000,
        |mut s, r| {
            s.push_bind(c.clone())
                .push_bind(r.0.clone())
                .push_bind(r.1.clone())
                .push_bind(None::<String>)
                .push_bind(NOW);
        },
    )
    .await;
    insert(&mut tx, "INSERT INTO cases (clinic_id, case_id, title, setting, status, opened_on, closed_on, created_at) ", &b.cases, 1000, |mut s, r| {
        s.push_bind(c.clone()).push_bind(r.0.clone()).push_bind(format!("Case {}", &r.0[..8])).push_bind("therapy")
            .push_bind(r.1).push_bind(r.3.clone()).push_bind(r.2.clone()).push_bind(NOW);
    })
    .await;
    insert(
        &mut tx,
        "INSERT INTO case_clients (clinic_id, case_id, client_id) ",
        &b.case_links,
        1000,
        |mut s, r| {
            s.push_bind(c.clone())
                .push_bind(r.0.clone())
                .push_bind(r.1.clone());
        },
    )
    .await;
    let u = user.to_owned();
    insert(
        &mut tx,
        "INSERT INTO case_clinicians (clinic_id, case_id, user_id, role) ",
        &b.case_links,
        1000,
        |mut s, r| {
            s.push_bind(c.clone())
                .push_bind(r.0.clone())
                .push_bind(u.clone())
                .push_bind("lead");
        },
    )
    .await;
    insert(&mut tx, "INSERT INTO sessions (clinic_id, session_id, case_id, number, held_on, modality, status, created_at) ", &b.sessions, 1000, |mut s, r| {
        s.push_bind(c.clone()).push_bind(r.0.clone()).push_bind(r.1.clone()).push_bind(r.2).push_bind(r.3.clone())
            .push_bind("in_person").push_bind("attended").push_bind(NOW);
    })
    .await;
    insert(&mut tx, "INSERT INTO responses (clinic_id, response_id, administration_id, case_id, session_id, client_id, instrument_id, instrument_version, respondent, answers, submitted_at, entered_by, source, version, supersedes, correction_reason) ", &b.responses, 500, |mut s, r| {
        s.push_bind(c.clone()).push_bind(r.0.clone()).push_bind(None::<String>).push_bind(r.1.clone()).push_bind(r.2.clone())
            .push_bind(r.3.clone()).push_bind(r.4.clone()).push_bind(r.8.clone()).push_bind(r.5).push_bind(r.6.clone())
            .push_bind(r.7).push_bind("bench").push_bind("import").push_bind(1_i64).push_bind(None::<String>).push_bind(None::<String>);
    })
    .await;
    insert(&mut tx, "INSERT INTO scores (clinic_id, response_id, scale_id, value, exact, answered, missing, band) ", &b.scores, 1000, |mut s, r| {
        s.push_bind(c.clone()).push_bind(r.0.clone()).push_bind(r.1.clone()).push_bind(r.2).push_bind(r.3.clone())
            .push_bind(r.4).push_bind(r.5).push_bind(r.6.clone());
    })
    .await;
    insert(
        &mut tx,
        "INSERT INTO response_flags (clinic_id, response_id, flag_id, severity, message) ",
        &b.flags,
        1000,
        |mut s, r| {
            s.push_bind(c.clone())
                .push_bind(r.0.clone())
                .push_bind(r.1.clone())
                .push_bind(r.2)
                .push_bind(r.3.clone());
        },
    )
    .await;
    tx.commit().await.unwrap();
}

/// The seeded clinic: reused when its marker says it is complete, else written afresh.
async fn seeded(registry: &Registry, n_cases: usize) -> PathBuf {
    let dir = dir();
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("clinic-{n_cases}x{SESSIONS}.db"));
    let marker = dir.join(format!("clinic-{n_cases}x{SESSIONS}.complete"));
    if marker.exists() && path.exists() {
        return path;
    }
    remove_db(&path);
    let _ = std::fs::remove_file(&marker);
    eprintln!(
        "seeding {n_cases} cases × {SESSIONS} sessions × {} measures into {} (once)",
        MEASURES.len(),
        path.display()
    );
    let t = Instant::now();
    let store = Store::connect(&url(&path)).await.unwrap();
    let clinic = store
        .create_clinic("Bench clinic", bordin_core::Setting::Therapy, NOW)
        .await
        .unwrap();
    let user = store
        .create_user(
            &clinic.clinic_id,
            "clinician@bench.invalid",
            "Clinician",
            bordin_core::care::Role::Clinician,
            "not-a-hash",
            NOW,
        )
        .await
        .unwrap();
    let scales = scales(registry);
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    let mut conn = raw(&path).await;
    let mut first = 0;
    while first < n_cases {
        let n = BATCH_CASES.min(n_cases - first);
        let b = generate(&mut rng, &scales, first, n);
        write_batch(&mut conn, &clinic.clinic_id, &user.user_id, &b).await;
        first += n;
    }
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    eprintln!("  rows written in {:.1} s", t.elapsed().as_secs_f64());
    let t2 = Instant::now();
    let ids = store.all_case_ids(&clinic.clinic_id).await.unwrap();
    for id in &ids {
        store
            .refresh_case_series(&clinic.clinic_id, id, NOW)
            .await
            .unwrap();
    }
    eprintln!(
        "  case_series built for {} cases with Store::refresh_case_series in {:.1} s ({:.2} ms a case)",
        ids.len(),
        t2.elapsed().as_secs_f64(),
        t2.elapsed().as_secs_f64() * 1000.0 / ids.len() as f64
    );
    store.close().await;
    let mut conn = raw(&path).await;
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("ANALYZE").execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    std::fs::write(&marker, "complete\n").unwrap();
    eprintln!("  seeded in {:.1} s", t.elapsed().as_secs_f64());
    path
}

/// A working copy of the seeded file, so that runs do not change the seed.
fn working_copy(seed: &Path) -> PathBuf {
    let work = seed.with_extension("work.db");
    remove_db(&work);
    std::fs::copy(seed, &work).unwrap();
    work
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Where the time of a steady-state whole-clinic evaluation goes, phase by phase (sequential,
/// one run each; `evaluate_clinic` runs the evaluation phase on every core).
fn phases(rt: &tokio::runtime::Runtime, store: &Store, registry: &Registry, clinic: &str) {
    let t = Instant::now();
    let all = rt.block_on(store.all_case_series(clinic)).unwrap();
    let read = t.elapsed();
    let fresh = AppState::new(store.clone(), registry.clone(), Config::default());
    let t = Instant::now();
    let rules = rt.block_on(monitor::rules(&fresh, clinic)).unwrap();
    let calibrate = t.elapsed().saturating_sub(read);
    let t = Instant::now();
    let signals: Vec<_> = all
        .iter()
        .map(|s| (s, monitor::case_signals(s, &rules)))
        .collect();
    let evaluate = t.elapsed();
    let alerts: Vec<bordin_store::NewAlert> = signals
        .iter()
        .flat_map(|(series, sigs)| {
            sigs.iter().map(|(_, s)| bordin_store::NewAlert {
                case_id: series.case_id.clone(),
                kind: s.kind.as_str().to_owned(),
                measure: s.measure.clone(),
                session_number: s.session,
                event_key: s.event_key.clone(),
                urgency: "amber".to_owned(),
                message: s.message.clone(),
                detail: s.detail.to_string(),
                info: false,
            })
        })
        .collect();
    let t = Instant::now();
    let raised = rt
        .block_on(store.raise_alerts(clinic, &alerts, NOW))
        .unwrap();
    let raise = t.elapsed();
    assert!(raised.is_empty());
    eprintln!(
        "phases (steady, sequential): read all_case_series {:.0} ms; calibrate {:.0} ms; evaluate {} signals {:.0} ms; raise_alerts (all known) {:.0} ms",
        ms(read),
        ms(calibrate),
        alerts.len(),
        ms(evaluate),
        ms(raise)
    );
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let registry = Registry::builtin().unwrap();
    let n_cases = cases();
    let seed = rt.block_on(seeded(&registry, n_cases));
    let work = working_copy(&seed);
    let store = rt.block_on(Store::connect(&url(&work))).unwrap();
    let clinic = rt.block_on(store.clinics()).unwrap().remove(0).clinic_id;

    // (a) Whole-clinic evaluation, cold: no rules cached, no alerts yet (the first start-up after
    // an import). Three runs, each after clearing the alerts.
    let mut cold = Vec::new();
    let mut last = monitor::ClinicEvaluation::default();
    for _ in 0..3 {
        rt.block_on(async {
            let mut conn = raw(&work).await;
            sqlx::query("DELETE FROM alert_events")
                .execute(&mut conn)
                .await
                .unwrap();
            sqlx::query("DELETE FROM alerts")
                .execute(&mut conn)
                .await
                .unwrap();
            conn.close().await.unwrap();
        });
        let state = AppState::new(store.clone(), registry.clone(), Config::default());
        let t = Instant::now();
        last = rt
            .block_on(monitor::evaluate_clinic(&state, &clinic))
            .unwrap();
        cold.push(t.elapsed());
    }
    eprintln!(
        "evaluate_clinic cold ({} cases, {} signals, {} alerts raised): {}",
        last.cases,
        last.signals,
        last.raised,
        cold.iter()
            .map(|d| format!("{:.0} ms", ms(*d)))
            .collect::<Vec<_>>()
            .join(", ")
    );

    let state = AppState::new(store.clone(), registry.clone(), Config::default());
    rt.block_on(monitor::evaluate_clinic(&state, &clinic))
        .unwrap();
    phases(&rt, &store, &registry, &clinic);
    let mut g = c.benchmark_group("monitor");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function(
        format!("evaluate_clinic_steady/{n_cases}x{SESSIONS}"),
        |b| {
            b.iter(|| {
                let e = rt
                    .block_on(monitor::evaluate_clinic(&state, &clinic))
                    .unwrap();
                assert_eq!(e.raised, 0);
                e
            })
        },
    );

    // (b) One submission: a WAI-SR response at the latest session of an active case, then that
    // case evaluated with the cached rules.
    let wai = registry.get("wai_sr").unwrap().clone();
    let targets: Vec<(String, String, String)> = rt.block_on(async {
        let mut conn = raw(&work).await;
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT c.case_id, s.session_id, cc.client_id FROM cases c
             JOIN sessions s ON s.clinic_id = c.clinic_id AND s.case_id = c.case_id AND s.number = $1
             JOIN case_clients cc ON cc.clinic_id = c.clinic_id AND cc.case_id = c.case_id
             WHERE c.clinic_id = $2 AND c.status = 'active' ORDER BY c.case_id LIMIT 400",
        )
        .bind(SESSIONS)
        .bind(&clinic)
        .fetch_all(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
        rows
    });
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let wai_scales = scales(&registry).into_iter().nth(1).unwrap();
    let mut submit_and_evaluate = |i: usize| {
        let (case, session, client) = &targets[i % targets.len()];
        let level = rng.gen_range(0.2..0.9);
        let a = answers(&mut rng, &wai_scales, level, false);
        let sheet = wai.score(&a);
        let t = Instant::now();
        rt.block_on(async {
            store
                .submit_response(
                    &clinic,
                    &NewResponse {
                        administration_id: None,
                        case_id: case,
                        session_id: Some(session),
                        client_id: Some(client),
                        instrument: &wai,
                        respondent: wai.respondent,
                        answers: &a,
                        sheet: &sheet,
                        submitted_at: NOW + i as i64,
                        entered_by: "bench",
                        source: ResponseSource::Import,
                    },
                )
                .await
                .unwrap();
            monitor::evaluate_case(&state, &clinic, case).await.unwrap();
        });
        t.elapsed()
    };
    let mut times: Vec<Duration> = (0..200).map(&mut submit_and_evaluate).collect();
    times.sort();
    eprintln!(
        "submit_response + evaluate_case, 200 submissions: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(pct(&times, 0.5)),
        ms(pct(&times, 0.9)),
        ms(pct(&times, 0.99)),
        ms(times[times.len() - 1])
    );
    let mut next = 200;
    g.measurement_time(Duration::from_secs(10));
    g.sample_size(20);
    g.bench_function("submit_and_evaluate_case", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                total += submit_and_evaluate(next);
                next += 1;
            }
            total
        })
    });
    g.finish();
    rt.block_on(store.close());
}

criterion_group!(benches, bench);
criterion_main!(benches);
