//! Load benchmark (issue 6): client-link form submissions per second and latency percentiles at
//! a fixed concurrency over loopback, on SQLite and on PostgreSQL, each compared in the same run
//! with the raw database committing the same rows without HTTP.
//!
//! For each backend, three fresh databases with the same seeded practice: cases, sessions,
//! `BORDIN_LOAD_HISTORY` (default 10) past PHQ-9 responses per case and the open PHQ-9 links, so
//! the measured submissions land in the tables of a clinic in operation; on PostgreSQL the
//! tables are then analyzed, as autovacuum keeps them in a running clinic. Then:
//! - `bordin`: the server (in this process, on 127.0.0.1, port chosen by the OS) and
//!   CONCURRENCY clients POSTing `/api/v1/links/{clinic}/{secret}`; each answer is checked (201);
//! - `store`: `Store::submit_response` called directly (what Bordin's storage costs, no HTTP);
//! - `raw`: sqlx alone, one transaction per submission inserting the same `responses` row and
//!   its `scores` rows, then commit — the committed-insert rate the database itself reaches.
//!
//! Durability is the same everywhere: SQLite WAL with `synchronous=FULL`; PostgreSQL with the
//! server's `fsync=on` and `synchronous_commit=on` (`.ci/postgres.sh` starts such a server).
//!
//! Run: `cargo bench -p bordin --bench load` (SQLite only), or with PostgreSQL:
//! `source .ci/postgres.sh && bordin_pg_start && cargo bench -p bordin --bench load`.
//! `BORDIN_LOAD_SUBMISSIONS` (default 2000), `BORDIN_LOAD_CONCURRENCY` (default 16) and
//! `BORDIN_LOAD_HISTORY` change the load; every phase also stops after `BORDIN_LOAD_SECONDS`
//! (default 60) seconds. Each of `BORDIN_LOAD_ROUNDS` (default 3) rounds prepares every path on
//! fresh databases, then lets the paths take turns, `BORDIN_LOAD_SLICE` (default 250)
//! submissions each, until every path has made all of its submissions; the table gives the
//! median round, and each round's ratio to the raw database. The load goes to 127.0.0.1 only.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bordin::load::{self, run_load, Measured, Practice};
use bordin_core::Registry;
use bordin_server::{AppState, Config};
use bordin_store::testing::{self, TestBackend, TestDb};
use bordin_store::Store;
use sqlx::Executor;

struct Settings {
    submissions: usize,
    concurrency: usize,
    limit: Duration,
    cases: usize,
    /// Past responses per case, written before the measurement.
    history: usize,
    /// Rounds of every path (the table gives the median round).
    rounds: usize,
    /// Submissions per turn of a path within a round.
    slice: usize,
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A fresh database on `backend` with the practice seeded.
async fn fresh(
    backend: TestBackend,
    s: &Settings,
    registry: &Registry,
) -> (String, TestDb, Store, Practice) {
    let (url, db) = testing::fresh_url_on(backend)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let store = Store::connect(&url).await.expect("store opens");
    let practice = load::seed(
        &store,
        registry,
        s.cases,
        s.submissions,
        bordin_server::state::now_ms(),
    )
    .await
    .expect("seeding");
    history(&store, s, registry, &practice).await;
    if backend == TestBackend::Postgres {
        // A running clinic's tables have planner statistics (PostgreSQL's autovacuum analyzes
        // them as they grow); tables filled a moment ago have none, and without them the
        // planner picks a clinic-prefix index scan (every row of the clinic, filtered) for a
        // look-up by case or by primary key. Analyze once after seeding, as autovacuum would
        // have, for the raw loop and Bordin alike. (SQLite: Bordin never runs ANALYZE there,
        // and neither does the bench.)
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
            .await
            .expect("analyze connection");
        // VACUUM as well: autovacuum would otherwise start on the freshly inserted tables
        // in the middle of a measured phase.
        conn.execute("VACUUM ANALYZE")
            .await
            .expect("VACUUM ANALYZE");
    }
    // The seeding's writes are put to disk before the measurement, so that no path pays for
    // another's: a checkpoint that falls inside a measured phase writes the seeded tables'
    // pages meanwhile (and on PostgreSQL makes the next change of each page log it whole).
    // Every phase starts right after its own checkpoint.
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
        .await
        .expect("checkpoint connection");
    let checkpoint = match backend {
        TestBackend::Postgres => "CHECKPOINT",
        TestBackend::Sqlite => "PRAGMA wal_checkpoint(TRUNCATE)",
    };
    conn.execute(checkpoint).await.expect("checkpoint");
    (url, db, store, practice)
}

/// The practice's past: `history` PHQ-9 responses per case, one a week, the latest a week ago
/// (entered without a link, as an import), so the measured submissions land in tables of a clinic in operation rather
/// than empty ones.
async fn history(store: &Store, s: &Settings, registry: &Registry, practice: &Practice) {
    let cases = s.cases.min(practice.links.len());
    let total = cases * s.history;
    if total == 0 {
        return;
    }
    let instrument = registry.get(load::INSTRUMENT).expect("phq9").clone();
    let now = bordin_server::state::now_ms();
    let (store, links) = (store.clone(), Arc::new(practice.links[..cases].to_vec()));
    let clinic = practice.clinic_id.clone();
    let m = run_load(total, s.concurrency, Duration::from_secs(600), move |i| {
        let (store, links, instrument, clinic) = (
            store.clone(),
            links.clone(),
            instrument.clone(),
            clinic.clone(),
        );
        async move {
            let (answers, sheet) = load::scored(&instrument, i).expect("valid answers");
            let weeks_ago = (total - i).div_ceil(cases) as i64;
            let mut new = load::new_response(
                &links[i % cases],
                &instrument,
                &answers,
                &sheet,
                now - weeks_ago * 7 * 86_400_000,
            );
            new.administration_id = None;
            new.entered_by = "load-history";
            new.source = bordin_core::care::ResponseSource::Import;
            store.submit_response(&clinic, &new).await.expect("history");
        }
    })
    .await;
    assert_eq!(m.done, total, "the practice's history is complete");
}

/// One path ready to measure: its database seeded (and for Bordin its server running), and
/// the operation that makes submission `i`.
struct Rig {
    op: Op,
    /// Stops what the path started (server, pools) when awaited.
    close: Pin<Box<dyn Future<Output = ()> + Send>>,
    _db: TestDb,
}

type Op = Arc<dyn Fn(usize) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

impl Rig {
    /// Submissions `range` at the bench's concurrency.
    async fn run(&self, s: &Settings, range: std::ops::Range<usize>) -> Measured {
        let op = self.op.clone();
        let start = range.start;
        run_load(range.len(), s.concurrency, s.limit, move |i| op(start + i)).await
    }
}

async fn bordin_rig(backend: TestBackend, s: &Settings, registry: &Registry) -> Rig {
    let (_url, db, store, practice) = fresh(backend, s, registry).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let state = AppState::new(store.clone(), registry.clone(), Config::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let _ = bordin_server::serve(listener, state, async move {
            let _ = stopped.await;
        })
        .await;
    });
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(s.concurrency)
        .build()
        .expect("client");
    let practice = Arc::new(practice);
    Rig {
        op: Arc::new(move |i| {
            let (client, base, practice) = (client.clone(), base.clone(), practice.clone());
            Box::pin(async move {
                let link = &practice.links[i];
                let resp = client
                    .post(format!(
                        "{base}/api/v1/links/{}/{}",
                        practice.clinic_id, link.secret
                    ))
                    .json(&serde_json::json!({ "answers": load::answers(i) }))
                    .send()
                    .await
                    .expect("the server answers");
                assert_eq!(resp.status().as_u16(), 201, "submission {i}");
            })
        }),
        close: Box::pin(async move {
            let _ = stop.send(());
            let _ = server.await;
            store.close().await;
        }),
        _db: db,
    }
}

async fn store_rig(backend: TestBackend, s: &Settings, registry: &Registry) -> Rig {
    let (_url, db, store, practice) = fresh(backend, s, registry).await;
    let instrument = registry.get(load::INSTRUMENT).expect("phq9").clone();
    let practice = Arc::new(practice);
    let store2 = store.clone();
    Rig {
        op: Arc::new(move |i| {
            let (store, practice, instrument) =
                (store2.clone(), practice.clone(), instrument.clone());
            Box::pin(async move {
                let (answers, sheet) = load::scored(&instrument, i).expect("valid answers");
                let new = load::new_response(
                    &practice.links[i],
                    &instrument,
                    &answers,
                    &sheet,
                    bordin_server::state::now_ms(),
                );
                match store
                    .submit_response(&practice.clinic_id, &new)
                    .await
                    .expect("stored")
                {
                    bordin_store::Submitted::Stored { .. } => {}
                    other => panic!("submission {i}: {other:?}"),
                }
            })
        }),
        close: Box::pin(async move { store.close().await }),
        _db: db,
    }
}

async fn raw_rig(backend: TestBackend, s: &Settings, registry: &Registry, connections: u32) -> Rig {
    let (url, db, store, practice) = fresh(backend, s, registry).await;
    store.close().await;
    let instrument = registry.get(load::INSTRUMENT).expect("phq9").clone();
    sqlx::any::install_default_drivers();
    // The same connection settings as Bordin's store (crates/store/src/lib.rs).
    let pool = match backend {
        TestBackend::Sqlite => sqlx::any::AnyPoolOptions::new()
            .max_connections(connections)
            .after_connect(|c, _| {
                Box::pin(async move {
                    c.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 15000;").await?;
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .expect("raw pool"),
        TestBackend::Postgres => sqlx::any::AnyPoolOptions::new()
            .max_connections(connections)
            .after_connect(|c, _| {
                Box::pin(async move {
                    c.execute("SET synchronous_commit = on").await?;
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .expect("raw pool"),
    };
    let begin = match backend {
        TestBackend::Sqlite => "BEGIN IMMEDIATE",
        TestBackend::Postgres => "BEGIN",
    };
    let practice = Arc::new(practice);
    let pool2 = pool.clone();
    let op: Op = Arc::new(move |i| {
        let (pool, practice, instrument) = (pool2.clone(), practice.clone(), instrument.clone());
        Box::pin(async move {
            let (answers, sheet) = load::scored(&instrument, i).expect("valid answers");
            let link = &practice.links[i];
            // The answers as the store writes them: item id -> exact decimal text.
            let answers_json = serde_json::Value::Object(
                answers
                    .pairs(&instrument)
                    .map(|(id, v)| {
                        let text = bordin_core::exact_decimal(v).unwrap_or_else(|| v.to_string());
                        (id.to_owned(), serde_json::Value::String(text))
                    })
                    .collect(),
            )
            .to_string();
            let id = bordin_store::new_id();
            let now = bordin_server::state::now_ms();
            let mut tx = pool.begin_with(begin).await.expect("begin");
            // The link is used once: the same conditional update Bordin makes (exactly once).
            let done = sqlx::query("UPDATE administrations SET status = 'completed', completed_at = $3 WHERE clinic_id = $1 AND administration_id = $2 AND status = 'pending'")
                .bind(&practice.clinic_id)
                .bind(&link.administration_id)
                .bind(now)
                .execute(&mut *tx)
                .await
                .expect("complete the link");
            assert_eq!(done.rows_affected(), 1, "submission {i}: link already used");
            sqlx::query(
                "INSERT INTO responses (clinic_id, response_id, administration_id, case_id, session_id, client_id, instrument_id, instrument_version, respondent, answers, submitted_at, entered_by, source, version, supersedes, correction_reason)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'client', $9, $10, $11, 'link', 1, NULL, NULL)",
            )
            .bind(&practice.clinic_id)
            .bind(&id)
            .bind(&link.administration_id)
            .bind(&link.case_id)
            .bind(&link.session_id)
            .bind(&link.client_id)
            .bind(&instrument.id)
            .bind(&instrument.version)
            .bind(answers_json)
            .bind(now)
            .bind(format!("link:{}", link.administration_id))
            .execute(&mut *tx)
            .await
            .expect("insert response");
            for (scale, score) in instrument.scales.iter().zip(&sheet.scales) {
                sqlx::query("INSERT INTO scores (clinic_id, response_id, scale_id, value, exact, answered, missing, band) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                    .bind(&practice.clinic_id)
                    .bind(&id)
                    .bind(&scale.id)
                    .bind(score.value.map(bordin_core::to_f64))
                    .bind(score.value.map(|v| v.to_string()))
                    .bind(i64::from(score.answered))
                    .bind(i64::from(score.missing))
                    .bind(score.band.map(|b| scale.bands[b].label.clone()))
                    .execute(&mut *tx)
                    .await
                    .expect("insert score");
            }
            for &f in &sheet.flags {
                let rule = &instrument.flags[f];
                sqlx::query("INSERT INTO response_flags (clinic_id, response_id, flag_id, severity, message) VALUES ($1, $2, $3, $4, $5)")
                    .bind(&practice.clinic_id)
                    .bind(&id)
                    .bind(&rule.id)
                    .bind(format!("{:?}", rule.severity).to_lowercase())
                    .bind(&rule.message)
                    .execute(&mut *tx)
                    .await
                    .expect("insert flag");
            }
            tx.commit().await.expect("commit");
        })
    });
    Rig {
        op,
        close: Box::pin(async move { pool.close().await }),
        _db: db,
    }
}

fn main() {
    let s = Settings {
        submissions: env_usize("BORDIN_LOAD_SUBMISSIONS", 2000),
        concurrency: env_usize("BORDIN_LOAD_CONCURRENCY", 16),
        limit: Duration::from_secs(env_usize("BORDIN_LOAD_SECONDS", 60) as u64),
        cases: 200,
        history: env_usize("BORDIN_LOAD_HISTORY", 10),
        rounds: env_usize("BORDIN_LOAD_ROUNDS", 3).max(1),
        slice: env_usize("BORDIN_LOAD_SLICE", 250).max(1),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let registry = Registry::builtin().expect("instruments");
    // BORDIN_LOAD_BACKENDS (`sqlite,postgres` by default) picks the backends to run.
    let wanted = std::env::var("BORDIN_LOAD_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    let mut backends = Vec::new();
    if wanted.contains("sqlite") {
        backends.push(TestBackend::Sqlite);
    }
    if wanted.contains("postgres") {
        if testing::pg_admin_url().is_some() {
            backends.push(TestBackend::Postgres);
        } else {
            eprintln!("note: {} not set; PostgreSQL skipped", testing::PG_URL_VAR);
        }
    }
    println!(
        "load: {} submissions of PHQ-9 over {} cases, concurrency {}, loopback, {} rounds",
        s.submissions, s.cases, s.concurrency, s.rounds
    );
    for backend in backends {
        // Each round measures every path on fresh databases: the raw database with the
        // connections Bordin's store uses for writing (SQLite: one writer connection;
        // PostgreSQL: the pool of 16) and, on SQLite, also with a pool of 8 writing
        // connections that meet in SQLite's busy handler; then the store; then Bordin
        // over HTTP. Bordin is compared with the faster raw figure of the same round.
        //
        // Why turns and rounds: on a shared 2-vCPU VM the same path's rate drifts by a factor
        // of two or more within minutes (the raw PostgreSQL loop alone gave 820 to 2900
        // submissions/s on one afternoon, phase after phase), and a path measured in one go can
        // land in a slow stretch the others missed. Taking turns spreads every stretch over
        // all paths; the rounds show what is left of the drift, and the table gives the median
        // round.
        let raw_paths: &[(&str, u32)] = match backend {
            TestBackend::Sqlite => &[
                ("raw sqlx, 1 writer connection", 1),
                ("raw sqlx, 8 connections", 8),
            ],
            TestBackend::Postgres => &[("raw sqlx, 16 connections", 16)],
        };
        let paths: Vec<&str> = raw_paths
            .iter()
            .map(|(p, _)| *p)
            .chain(["Store::submit_response", "Bordin HTTP"])
            .collect();
        // Per path, per round: the measurement and its ratio to the round's best raw rate.
        let mut runs: Vec<Vec<(Measured, f64)>> = vec![Vec::new(); paths.len()];
        for round in 1..=s.rounds {
            let mut rigs = Vec::new();
            for (_, connections) in raw_paths {
                rigs.push(rt.block_on(raw_rig(backend, &s, &registry, *connections)));
            }
            rigs.push(rt.block_on(store_rig(backend, &s, &registry)));
            rigs.push(rt.block_on(bordin_rig(backend, &s, &registry)));
            // The paths take turns, a slice of submissions each, so that a slow stretch of the
            // machine falls on all of them alike.
            let mut parts: Vec<Vec<Measured>> = vec![Vec::new(); rigs.len()];
            let mut start = 0;
            while start < s.submissions {
                let end = (start + s.slice).min(s.submissions);
                for (rig, part) in rigs.iter().zip(&mut parts) {
                    part.push(rt.block_on(rig.run(&s, start..end)));
                }
                start = end;
            }
            for rig in rigs {
                rt.block_on(rig.close);
            }
            let measured: Vec<Measured> = parts.iter().map(|p| Measured::merge(p)).collect();
            let best = measured[..raw_paths.len()]
                .iter()
                .map(Measured::rate)
                .fold(0.0, f64::max);
            let line: Vec<String> = paths
                .iter()
                .zip(&measured)
                .map(|(p, m)| format!("{p} {:.0}", m.rate()))
                .collect();
            println!("{backend:?} round {round}: {}", line.join(", "));
            for (k, m) in measured.into_iter().enumerate() {
                let ratio = m.rate() / best;
                runs[k].push((m, ratio));
            }
        }
        println!(
            "| backend | path | submissions/s | p50 ms | p99 ms | done | vs best raw (rounds) |"
        );
        println!("|---|---|---:|---:|---:|---:|---:|");
        for (path, rounds) in paths.iter().zip(&runs) {
            let median = |f: &dyn Fn(&(Measured, f64)) -> f64| {
                let mut v: Vec<f64> = rounds.iter().map(f).collect();
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            };
            let ratios: Vec<String> = rounds
                .iter()
                .map(|(_, r)| format!("{:.0}", 100.0 * r))
                .collect();
            println!(
                "| {backend:?} | {path} | {:.0} | {:.1} | {:.1} | {} | **{:.0}%** ({}) |",
                median(&|(m, _)| m.rate()),
                median(&|(m, _)| m.p50_ms),
                median(&|(m, _)| m.p99_ms),
                rounds.iter().map(|(m, _)| m.done).sum::<usize>(),
                100.0 * median(&|(_, r)| *r),
                ratios.join(" / ")
            );
        }
    }
}
