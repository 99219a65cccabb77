//! The Rust side of `bench/listen_bench.sh` (BENCHMARKS.md, "Listening"): embedding throughput
//! at batch 1 and 32, `Analyzer` on the 60-minute transcript, and the live co-pilot's per-turn
//! latency. One `rust ...`/`analyze ...`/`live ...` line each, which the script sets beside
//! Python sentence-transformers measured the same way in the same run.
//!
//! Inputs come from `bench/listen_gen.py`; the model from $BORDIN_MODEL_DIR, else
//! models/all-MiniLM-L6-v2. Threads: candle's CPU backend (and the gemm crate under it) use
//! RAYON_NUM_THREADS threads, the script sets it to the thread count given to torch.
//! The vectors of the batch-32 run are written to bench/out/listen_rust_vectors.json so that the
//! Python side can check both sides computed the same embeddings.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use bordin_listen::{
    parse, Analyzer, Arithmetic, Context, Embedder, Format, GoalText, LiveSession, TurnIn,
};

/// The fastest of `n` runs of `f`, in seconds.
fn best_of(n: usize, mut f: impl FnMut()) -> f64 {
    (0..n)
        .map(|_| {
            let t0 = Instant::now();
            f();
            t0.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let model = std::env::var_os("BORDIN_MODEL_DIR")
        .map_or_else(|| root.join("models/all-MiniLM-L6-v2"), PathBuf::from);
    let sentences = std::fs::read_to_string(root.join("bench/out/listen_sentences.txt"))
        .expect("run bench/listen_gen.py first");
    let sentences: Vec<&str> = sentences.lines().collect();
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all".into());

    // The best arithmetic this machine runs (AMX tiles where the CPU has them), then plain f32
    // when that differs, so both stand beside Python in the same run.
    let best = Arithmetic::best();
    let mut arithmetics = vec![best];
    if best != Arithmetic::F32 {
        arithmetics.push(Arithmetic::F32);
    }
    let mut embedder = None;
    for arithmetic in arithmetics {
        let t0 = Instant::now();
        let e = Embedder::load_with(&model, arithmetic).expect("model");
        let load = t0.elapsed().as_secs_f64();
        e.embed_uncached(&sentences[..64]).unwrap(); // warm-up
        let one = &sentences[..128];
        let b1 = one.len() as f64
            / best_of(3, || {
                for s in one {
                    e.embed_uncached(&[s]).unwrap();
                }
            });
        let b32 = sentences.len() as f64
            / best_of(3, || {
                e.embed_uncached(&sentences).unwrap();
            });
        let side = if arithmetic == best {
            "rust"
        } else {
            "rust-f32"
        };
        println!(
            "{side} bordin-listen (candle, {} products, {threads} threads): load {load:.2} s, batch 1 {b1:.1} sentences/s, batch 32 {b32:.1} sentences/s",
            arithmetic.name()
        );
        embedder.get_or_insert(e);
    }
    let embedder = embedder.expect("one arithmetic");
    let vectors = embedder.embed_uncached(&sentences).unwrap();
    std::fs::write(
        root.join("bench/out/listen_rust_vectors.json"),
        serde_json::to_string(&vectors).unwrap(),
    )
    .unwrap();

    // `bordin analyze` in-process on the 60-minute transcript: read, parse, load the model (a
    // fresh analyzer: nothing cached), analyse, serialise. Best of 3.
    let vtt = root.join("bench/out/listen_60min.vtt");
    for with_model in [true, false] {
        let mut info = String::new();
        let best = best_of(3, || {
            let text = std::fs::read_to_string(&vtt).unwrap();
            let t = parse(&text, Format::Vtt).unwrap();
            let analyzer = if with_model {
                Analyzer::load(&model).unwrap()
            } else {
                Analyzer::without_model()
            };
            let a = analyzer.analyze(&t, &Context::default());
            let json = serde_json::to_string(&a).unwrap();
            let words: usize = t
                .turns
                .iter()
                .map(|t| t.text.split_whitespace().count())
                .sum();
            info = format!(
                "{} turns, {words} words, {} KB of JSON",
                t.turns.len(),
                json.len() / 1024
            );
        });
        println!(
            "analyze 60-minute transcript in-process ({info}), {} model: best of 3 {best:.2} s",
            if with_model { "with" } else { "without" }
        );
    }

    // Live: every turn of the 60-minute session pushed one by one, each timed (embedding the
    // turn, markers, the updated picture, and its JSON as the server sends it).
    let text = std::fs::read_to_string(&vtt).unwrap();
    let t = parse(&text, Format::Vtt).unwrap();
    let context = Context {
        clinicians: vec!["Dr Lee".into()],
        clients: vec!["Sam".into()],
        goals: vec![
            GoalText {
                id: "g1".into(),
                text: "Sleep through the night".into(),
            },
            GoalText {
                id: "g2".into(),
                text: "Go to the shop alone without panicking".into(),
            },
        ],
        ..Context::default()
    };
    let analyzer = Arc::new(Analyzer::load(&model).unwrap());
    let mut live = LiveSession::new(analyzer, context);
    let mut times: Vec<f64> = Vec::with_capacity(t.turns.len());
    for turn in &t.turns {
        let t0 = Instant::now();
        let p = live
            .push(TurnIn {
                speaker: turn.speaker.clone(),
                text: turn.text.clone(),
                start: turn.start,
                end: turn.end,
            })
            .unwrap();
        let json = serde_json::to_string(&p).unwrap();
        std::hint::black_box(json);
        times.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let q = |p: f64| sorted[((sorted.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "live per turn ({} turns): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        sorted.len(),
        q(0.5),
        q(0.99),
        sorted[sorted.len() - 1]
    );
}
