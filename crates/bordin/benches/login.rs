//! Login throughput under argon2id (issue 7): m = 19 MiB, t = 2, p = 1, the parameters the
//! server uses (`bordin_server::auth`, OWASP's minimum for argon2id).
//!
//! One run measures, on SQLite, with the server in this process on 127.0.0.1 (port chosen by
//! the OS) and CONCURRENCY clients over loopback HTTP:
//! - `raw argon2id verify`: `auth::verify_password` alone, on 1 thread and on one thread per
//!   core: what the hardware allows, the ceiling for any login path;
//! - `POST /login`: the login form (email, password, empty code) as the browser sends it, with
//!   the correct password: user look-up, argon2id on the bounded hashing pool, session row
//!   written, 303 to `/caseload` (each answer checked);
//! - `POST /login, wrong password`: unknown emails, each from its own address (the server trusts
//!   `X-Forwarded-For` here, as behind a proxy, so the per-address throttle does not stop the
//!   run): a refusal costs one argon2id verify, like a success, so that timing does not reveal
//!   which accounts exist (401 checked);
//! - `POST /login, throttled`: one account and address after their failures: refused before any
//!   hashing (429 checked);
//! - `GET /healthz` alone, then during a flood of correct logins: whether password hashing
//!   starves the other requests (it runs on at most half the cores: `auth::hashing_slots`).
//!
//! Run: `cargo bench -p bordin --bench login` (the bench profile is the optimised release
//! profile). `BORDIN_LOGIN_COUNT` (default 200) logins per phase, `BORDIN_LOGIN_CONCURRENCY`
//! (default 16).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bordin::load::{run_load, Measured};
use bordin_core::care::Role;
use bordin_core::{Registry, Setting};
use bordin_server::{auth, AppState, Config};
use bordin_store::Store;

const PASSWORD: &str = "a benchmark passphrase of some length";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Verifications per second on `threads` threads, each verifying `per_thread` times.
fn raw_verify(hash: &str, threads: usize, per_thread: usize) -> (f64, f64) {
    let start = Instant::now();
    let mut each: Vec<Duration> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    (0..per_thread)
                        .map(|_| {
                            let t = Instant::now();
                            assert!(auth::verify_password(PASSWORD, hash));
                            t.elapsed()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let rate = (threads * per_thread) as f64 / start.elapsed().as_secs_f64();
    each.sort();
    let median_ms = each[each.len() / 2].as_secs_f64() * 1000.0;
    (rate, median_ms)
}

/// `GET /healthz` 100 times, one at a time, 20 ms apart (like a monitoring probe or a person
/// clicking): (p50, p99) of the request alone, in ms.
async fn probe(client: &reqwest::Client, base: &str) -> (f64, f64) {
    let mut lat = Vec::new();
    for _ in 0..100 {
        let t = Instant::now();
        let r = client.get(format!("{base}/healthz")).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        lat.push(t.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    lat.sort();
    let ms = |k: usize| lat[k].as_secs_f64() * 1000.0;
    (ms(49), ms(98))
}

fn row(what: &str, m: &Measured, reference: f64) {
    println!(
        "| {what} | {:.1} | {:.1} | {:.1} | {} | {:.0}% |",
        m.rate(),
        m.p50_ms,
        m.p99_ms,
        m.done,
        100.0 * m.rate() / reference
    );
}

fn main() {
    let count = env_usize("BORDIN_LOGIN_COUNT", 200);
    let concurrency = env_usize("BORDIN_LOGIN_CONCURRENCY", 16);
    let limit = Duration::from_secs(120);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let hash = auth::hash_password(PASSWORD).unwrap();

    // The raw rate first, with nothing else running.
    let per_thread = (count / 4).max(8);
    let (raw1, median1) = raw_verify(&hash, 1, per_thread);
    let (raw_all, _) = raw_verify(&hash, cores, per_thread);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("login.db").display());
    let users = concurrency.max(1);
    let (ok, wrong, throttled, health_alone, health_flood, flood) = rt.block_on(async {
        let store = Store::connect(&url).await.unwrap();
        let clinic = store
            .create_clinic("Bench", Setting::Therapy, 0)
            .await
            .unwrap();
        for u in 0..users {
            store
                .create_user(
                    &clinic.clinic_id,
                    &format!("user{u}@bench.test"),
                    "Bench",
                    Role::Clinician,
                    &hash,
                    0,
                )
                .await
                .unwrap();
        }
        let mut config = Config::default();
        // As behind a reverse proxy: the address is the last X-Forwarded-For entry, so the
        // failed-login phase can come from many addresses.
        config.security.trust_forwarded_for = true;
        let state = AppState::new(store.clone(), Registry::builtin().unwrap(), config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = Arc::new(format!("http://{}", listener.local_addr().unwrap()));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let _ = bordin_server::serve(listener, state, async move {
                let _ = stopped.await;
            })
            .await;
        });
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(concurrency)
            .build()
            .unwrap();

        let login = {
            let (client, base) = (client.clone(), base.clone());
            move |i: usize| {
                let (client, base) = (client.clone(), base.clone());
                async move {
                    let r = client
                        .post(format!("{base}/login"))
                        .header("x-forwarded-for", "10.0.0.1")
                        .form(&[
                            ("email", format!("user{}@bench.test", i % users)),
                            ("password", PASSWORD.to_owned()),
                            ("code", String::new()),
                        ])
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status().as_u16(), 303, "login {i}");
                    assert!(
                        r.headers().contains_key("set-cookie"),
                        "login {i}: no cookie"
                    );
                }
            }
        };
        let ok = run_load(count, concurrency, limit, login.clone()).await;

        let wrong = {
            let (client, base) = (client.clone(), base.clone());
            run_load(count, concurrency, limit, move |i| {
                let (client, base) = (client.clone(), base.clone());
                async move {
                    let r = client
                        .post(format!("{base}/login"))
                        .header("x-forwarded-for", format!("10.1.{}.{}", i / 250, i % 250))
                        .form(&[
                            ("email", format!("nobody{i}@bench.test")),
                            ("password", "wrong".to_owned()),
                            ("code", String::new()),
                        ])
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status().as_u16(), 401, "failed login {i}");
                }
            })
            .await
        };

        // One account and address that failed before: every further attempt waits.
        for _ in 0..6 {
            client
                .post(format!("{base}/login"))
                .header("x-forwarded-for", "10.2.0.1")
                .form(&[
                    ("email", "guessed@bench.test"),
                    ("password", "x"),
                    ("code", ""),
                ])
                .send()
                .await
                .unwrap();
        }
        let throttled = {
            let (client, base) = (client.clone(), base.clone());
            run_load(count * 10, concurrency, limit, move |i| {
                let (client, base) = (client.clone(), base.clone());
                async move {
                    let r = client
                        .post(format!("{base}/login"))
                        .header("x-forwarded-for", "10.2.0.1")
                        .form(&[
                            ("email", "guessed@bench.test"),
                            ("password", "x"),
                            ("code", ""),
                        ])
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status().as_u16(), 429, "throttled login {i}");
                }
            })
            .await
        };

        let health_alone = probe(&client, &base).await;
        let flood = tokio::spawn(run_load(count, concurrency, limit, login));
        tokio::time::sleep(Duration::from_millis(200)).await;
        let health_flood = probe(&client, &base).await;
        let flood = flood.await.unwrap();

        let _ = stop.send(());
        let _ = server.await;
        store.close().await;
        (ok, wrong, throttled, health_alone, health_flood, flood)
    });

    println!(
        "login: argon2id m=19456 KiB t=2 p=1; {cores} cores; hashing slots {}; concurrency {concurrency}; loopback; SQLite",
        auth::hashing_slots()
    );
    println!("| path | per second | p50 ms | p99 ms | done | vs raw ({cores} threads) |");
    println!("|---|---:|---:|---:|---:|---:|");
    println!(
        "| raw argon2id verify, 1 thread | {raw1:.1} | {median1:.1} | | {per_thread} | {:.0}% |",
        100.0 * raw1 / raw_all
    );
    println!(
        "| raw argon2id verify, {cores} threads | {raw_all:.1} | | | {} | 100% |",
        per_thread * cores
    );
    row("POST /login (correct password, 303)", &ok, raw_all);
    row("POST /login (wrong password, 401)", &wrong, raw_all);
    row("POST /login (throttled, 429)", &throttled, raw_all);
    println!();
    println!("| GET /healthz, 1 at a time | p50 ms | p99 ms |");
    println!("|---|---:|---:|");
    println!("| alone | {:.2} | {:.2} |", health_alone.0, health_alone.1);
    println!(
        "| during {concurrency} concurrent correct logins | {:.2} | {:.2} |",
        health_flood.0, health_flood.1
    );
    println!(
        "(the logins of that flood: {:.1}/s, p99 {:.0} ms)",
        flood.rate(),
        flood.p99_ms
    );
}
