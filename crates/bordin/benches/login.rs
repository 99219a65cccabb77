//! Login throughput under argon2id (m = 19 MiB, t = 2, p = 1; `bordin_server::auth`).
//!
//! Measures, in one run:
//! - one password verification (`auth::verify_password`), the cost every login pays;
//! - whole logins through the real router (`POST /api/v1/session`: look-up, argon2id on the
//!   blocking pool, session row written to SQLite), 1, 2 and 4 at a time, in logins per second.
//!
//! `cargo bench -p bordin --bench login`. Throughput is bounded by cores × 1 / (verify time):
//! argon2id is meant to be slow, and that is what bounds password guessing too.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;

use axum::body::Body;
use axum::http::Request;
use bordin_core::care::Role;
use bordin_core::{Registry, Setting};
use bordin_server::{auth, AppState, Config};
use bordin_store::Store;
use criterion::{criterion_group, criterion_main, Criterion};
use tower::ServiceExt as _;

const PASSWORD: &str = "a benchmark passphrase of some length";

fn verify(c: &mut Criterion) {
    let hash = auth::hash_password(PASSWORD).unwrap();
    let mut g = c.benchmark_group("argon2id");
    g.sample_size(20);
    g.bench_function("verify_password", |b| {
        b.iter(|| assert!(auth::verify_password(PASSWORD, &hash)))
    });
    g.finish();
}

fn logins(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("login.db").display());
    let app = rt.block_on(async {
        let store = Store::connect(&url).await.unwrap();
        let clinic = store
            .create_clinic("Bench", Setting::Therapy, 0)
            .await
            .unwrap();
        let hash = auth::hash_password(PASSWORD).unwrap();
        store
            .create_user(
                &clinic.clinic_id,
                "bench@x.test",
                "Bench",
                Role::Clinician,
                &hash,
                0,
            )
            .await
            .unwrap();
        bordin_server::app(AppState::new(
            store,
            Registry::builtin().unwrap(),
            Config::default(),
        ))
    });
    let one = |app: axum::Router| async move {
        let req = Request::post("/api/v1/session")
            .header("content-type", "application/json")
            .body(Body::from(format!(
                r#"{{"email":"bench@x.test","password":"{PASSWORD}"}}"#
            )))
            .unwrap();
        let r = app.oneshot(req).await.unwrap();
        assert_eq!(r.status(), 200);
    };
    let mut g = c.benchmark_group("login");
    g.sample_size(10);
    for parallel in [1usize, 2, 4] {
        g.throughput(criterion::Throughput::Elements(parallel as u64));
        g.bench_function(format!("{parallel} at a time"), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let tasks: Vec<_> = (0..parallel)
                            .map(|_| tokio::spawn(one(app.clone())))
                            .collect();
                        for t in tasks {
                            t.await.unwrap();
                        }
                    }
                    start.elapsed()
                })
            })
        });
    }
    g.finish();
    // A plain figure for RELIABILITY.md: 64 logins, 4 at a time.
    let elapsed = rt.block_on(async {
        let start = Instant::now();
        for _ in 0..16 {
            let tasks: Vec<_> = (0..4).map(|_| tokio::spawn(one(app.clone()))).collect();
            for t in tasks {
                t.await.unwrap();
            }
        }
        start.elapsed()
    });
    println!(
        "64 logins, 4 at a time: {:.1} logins/s ({} cores available)",
        64.0 / elapsed.as_secs_f64(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
}

criterion_group!(benches, verify, logins);
criterion_main!(benches);
