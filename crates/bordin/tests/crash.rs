//! Durability under crashes (issue 7, item 8), on SQLite and on PostgreSQL.
//!
//! The real `bordin` binary serves a practice with many open client links on a random loopback
//! port. Sixteen clients submit links concurrently through the JSON API while the process is
//! killed with SIGKILL at a random moment; it is restarted and the clients go on, retrying every
//! submission whose answer they never received, and re-submitting some acknowledged ones (a
//! client who did not see the thank-you page). After the last round the database is read
//! directly: every submission that got a success answer must be stored exactly once, with the
//! response id it was given and its scores; nothing may be stored twice.
//!
//! `BORDIN_CRASH_ROUNDS` sets the number of kills per backend (default 6, about half a minute
//! per backend); e.g. `BORDIN_CRASH_ROUNDS=100 cargo test -p bordin --test crash -- --nocapture`.
//! The PostgreSQL run needs `BORDIN_TEST_PG_URL` (see `bordin_store::testing`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, HashMap};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bordin::load::{self, Link};
use rand::Rng;
use sqlx::Row;

const DEFAULT_ROUNDS: usize = 6;
const CONCURRENCY: usize = 16;
/// Links offered per round; most rounds are killed long before all are sent.
const LINKS_PER_ROUND: usize = 250;
const CASES: usize = 40;

/// What a client knows about one submission.
#[derive(Debug, Clone, PartialEq)]
enum Known {
    /// Not sent yet, or sent and no answer came back (the server died first).
    Unanswered,
    /// 201 (stored now) or 200 (stored before) with this response id.
    Acknowledged(String),
}

/// A server process on a random loopback port.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    async fn start(db_url: &str) -> Server {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            l.local_addr().expect("addr").port()
        };
        let child = Command::new(env!("CARGO_BIN_EXE_bordin"))
            .args([
                "serve",
                "--db",
                db_url,
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .env_remove("BORDIN_INSTRUMENTS")
            .env("RUST_LOG", "error")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the bordin binary starts");
        let base = format!("http://127.0.0.1:{port}");
        let mut server = Server { child, base };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = client.get(format!("{}/healthz", server.base)).send().await {
                if r.status().is_success() {
                    return server;
                }
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("bordin serve exited at start: {status}");
            }
            assert!(Instant::now() < deadline, "bordin serve did not come up");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// SIGKILL: no shutdown handler runs, no buffer is flushed.
    fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }
}

/// One POST of link `i`'s answers. `None` when no HTTP answer arrived (connection refused or
/// reset by the kill); any answer other than 200/201 fails the test.
async fn submit(
    client: &reqwest::Client,
    base: &str,
    clinic: &str,
    link: &Link,
    i: usize,
) -> Option<String> {
    let url = format!("{base}/api/v1/links/{clinic}/{}", link.secret);
    let resp = client
        .post(url)
        .json(&serde_json::json!({ "answers": load::answers(i) }))
        .send()
        .await
        .ok()?;
    let status = resp.status().as_u16();
    let body: serde_json::Value = match resp.json().await {
        Ok(b) => b,
        // The server died between the status line and the body: no answer.
        Err(_) => return None,
    };
    assert!(
        status == 200 || status == 201,
        "link {i}: unexpected answer {status}: {body}"
    );
    assert_eq!(
        body["already_stored"].as_bool(),
        Some(status == 200),
        "link {i}: {body}"
    );
    Some(
        body["response_id"]
            .as_str()
            .expect("a response id")
            .to_owned(),
    )
}

struct Tally {
    known: Vec<Known>,
    /// Whether each link has been sent at least once.
    sent: Vec<bool>,
    /// Acknowledged submissions that were sent again later (and must have answered "already
    /// stored" with the same id).
    resubmitted: usize,
    /// Submissions that were retried after a kill left them unanswered.
    retried: usize,
}

/// Submits `todo` (indices into the links) with [`CONCURRENCY`] clients until done or until the
/// server is killed; returns how many were sent.
async fn drive(
    base: &str,
    clinic: &str,
    links: &Arc<Vec<Link>>,
    tally: &Arc<Mutex<Tally>>,
    todo: Vec<usize>,
) -> usize {
    let queue = Arc::new(Mutex::new(todo));
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..CONCURRENCY {
        let (queue, links, tally, sent) =
            (queue.clone(), links.clone(), tally.clone(), sent.clone());
        let (base, clinic) = (base.to_owned(), clinic.to_owned());
        workers.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client");
            loop {
                let Some(i) = queue.lock().unwrap().pop() else {
                    break;
                };
                sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tally.lock().unwrap().sent[i] = true;
                match submit(&client, &base, &clinic, &links[i], i).await {
                    Some(id) => {
                        let mut t = tally.lock().unwrap();
                        match &t.known[i] {
                            Known::Acknowledged(first) => {
                                assert_eq!(
                                    first, &id,
                                    "link {i}: a second answer names another response"
                                );
                            }
                            Known::Unanswered => t.known[i] = Known::Acknowledged(id),
                        }
                    }
                    // The server is gone: stop this client; the link stays unanswered.
                    None => break,
                }
            }
        }));
    }
    for w in workers {
        w.await.expect("client task");
    }
    sent.load(std::sync::atomic::Ordering::Relaxed)
}

async fn survives_sigkill_with_every_acknowledged_submission_stored_once() {
    let rounds: usize = std::env::var("BORDIN_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_ROUNDS);
    let (url, _db) = bordin_store::testing::fresh_url()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let registry = bordin_core::Registry::builtin().unwrap();
    let practice = {
        let store = bordin_store::Store::connect(&url).await.unwrap();
        let p = load::seed(
            &store,
            &registry,
            CASES,
            rounds * LINKS_PER_ROUND,
            bordin_server::state::now_ms(),
        )
        .await
        .unwrap();
        store.close().await;
        p
    };
    let clinic = practice.clinic_id.clone();
    let links = Arc::new(practice.links);
    let tally = Arc::new(Mutex::new(Tally {
        known: vec![Known::Unanswered; links.len()],
        sent: vec![false; links.len()],
        resubmitted: 0,
        retried: 0,
    }));
    let mut rng = rand::thread_rng();
    let mut next_fresh = 0;
    let mut sent_total = 0;
    for round in 0..rounds {
        let server = Server::start(&url).await;
        // This round's work: every link sent before and left unanswered (a retry), a few
        // acknowledged ones (a client submitting again), then fresh links.
        let mut todo: Vec<usize> = Vec::new();
        {
            let mut t = tally.lock().unwrap();
            let unanswered: Vec<usize> = (0..next_fresh)
                .filter(|&i| t.known[i] == Known::Unanswered)
                .collect();
            t.retried += unanswered.iter().filter(|&&i| t.sent[i]).count();
            todo.extend(unanswered);
            let acked: Vec<usize> = (0..next_fresh)
                .filter(|&i| matches!(t.known[i], Known::Acknowledged(_)))
                .collect();
            for _ in 0..acked.len().min(10) {
                todo.push(acked[rng.gen_range(0..acked.len())]);
                t.resubmitted += 1;
            }
        }
        let fresh_end = (next_fresh + LINKS_PER_ROUND).min(links.len());
        todo.extend(next_fresh..fresh_end);
        next_fresh = fresh_end;
        // The queue is popped from the end: shuffle so retries and fresh links interleave.
        for k in (1..todo.len()).rev() {
            todo.swap(k, rng.gen_range(0..=k));
        }
        let kill_after = Duration::from_millis(rng.gen_range(50..1_500));
        let driving = tokio::spawn({
            let (base, clinic, links, tally) = (
                server.base.clone(),
                clinic.clone(),
                links.clone(),
                tally.clone(),
            );
            async move { drive(&base, &clinic, &links, &tally, todo).await }
        });
        tokio::time::sleep(kill_after).await;
        server.kill();
        let sent = driving.await.expect("driver");
        sent_total += sent;
        eprintln!("round {round}: killed after {kill_after:?}, {sent} submissions sent");
    }

    // A last start: every submission still unanswered is retried until it is answered.
    let server = Server::start(&url).await;
    let unanswered: Vec<usize> = {
        let mut t = tally.lock().unwrap();
        let u: Vec<usize> = (0..next_fresh)
            .filter(|&i| t.known[i] == Known::Unanswered)
            .collect();
        t.retried += u.iter().filter(|&&i| t.sent[i]).count();
        u
    };
    sent_total += drive(&server.base, &clinic, &links, &tally, unanswered).await;
    server.kill();

    // What the database holds, read directly.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let rows = sqlx::query(
        "SELECT r.administration_id, r.response_id, a.status,
                (SELECT COUNT(*) FROM scores s WHERE s.clinic_id = r.clinic_id AND s.response_id = r.response_id) AS scores
         FROM responses r JOIN administrations a ON a.clinic_id = r.clinic_id AND a.administration_id = r.administration_id
         WHERE r.clinic_id = $1",
    )
    .bind(&clinic)
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    let mut stored: HashMap<String, Vec<String>> = HashMap::new();
    for r in &rows {
        let adm: String = r.try_get("administration_id").unwrap();
        let status: String = r.try_get("status").unwrap();
        let scores: i64 = r.try_get("scores").unwrap();
        assert_eq!(status, "completed", "a stored response's link is completed");
        assert!(scores > 0, "a response is stored with its scores");
        stored
            .entry(adm)
            .or_default()
            .push(r.try_get("response_id").unwrap());
    }
    let t = tally.lock().unwrap();
    let by_adm: BTreeMap<&str, usize> = links
        .iter()
        .enumerate()
        .map(|(i, l)| (l.administration_id.as_str(), i))
        .collect();
    let mut acknowledged = 0;
    for (i, link) in links.iter().enumerate().take(next_fresh) {
        match &t.known[i] {
            Known::Acknowledged(id) => {
                acknowledged += 1;
                let got = stored
                    .get(&link.administration_id)
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                assert_eq!(
                    got,
                    [id.clone()],
                    "link {i}: acknowledged as {id}, stored {got:?}"
                );
            }
            Known::Unanswered => {
                panic!("link {i} never got an answer, even after the last restart")
            }
        }
    }
    for (adm, ids) in &stored {
        assert!(
            by_adm.contains_key(adm.as_str()),
            "a response for an unknown link"
        );
        assert_eq!(
            ids.len(),
            1,
            "administration {adm} stored {} times",
            ids.len()
        );
    }
    assert_eq!(
        stored.len(),
        acknowledged,
        "every stored response was acknowledged"
    );
    assert!(acknowledged > 0);
    eprintln!(
        "crash test on {:?}: {rounds} SIGKILL rounds survived; {acknowledged} acknowledged submissions checked \
         stored exactly once ({sent_total} sent, {} retried after a kill, {} re-sent after their acknowledgement); \
         0 lost, 0 duplicated",
        bordin_store::testing::current_backend(),
        t.retried,
        t.resubmitted
    );
}

bordin_store::both_backends!(survives_sigkill_with_every_acknowledged_submission_stored_once);
