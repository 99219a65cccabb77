//! Embedding throughput (batch 1 and 32) and live per-turn latency, printed as one line each for
//! `bench/listen_bench.sh`, which runs Python sentence-transformers beside it in the same run.
//! Inputs come from `bench/listen_gen.py`; the model from $BORDIN_MODEL_DIR or
//! models/all-MiniLM-L6-v2. Threads: candle's CPU backend follows RAYON_NUM_THREADS.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use bordin_listen::{parse, Analyzer, Context, Embedder, Format, GoalText, LiveSession, TurnIn};

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let model = std::env::var_os("BORDIN_MODEL_DIR")
        .map_or_else(|| root.join("models/all-MiniLM-L6-v2"), PathBuf::from);
    let sentences = std::fs::read_to_string(root.join("bench/out/listen_sentences.txt"))
        .expect("run bench/listen_gen.py first");
    let sentences: Vec<&str> = sentences.lines().collect();

    let t0 = Instant::now();
    let embedder = Embedder::load(&model).expect("model");
    let load = t0.elapsed().as_secs_f64();
    embedder.embed_uncached(&sentences[..32]).unwrap(); // warm-up

    let one = &sentences[..128];
    let t0 = Instant::now();
    for s in one {
        embedder.embed_uncached(&[s]).unwrap();
    }
    let b1 = one.len() as f64 / t0.elapsed().as_secs_f64();
    let t0 = Instant::now();
    embedder.embed_uncached(&sentences).unwrap();
    let b32 = sentences.len() as f64 / t0.elapsed().as_secs_f64();
    println!(
        "rust candle: load {load:.2} s, batch 1 {b1:.1} sentences/s, batch 32 {b32:.1} sentences/s"
    );

    // `bordin analyze` in-process on the 60-minute transcript: read, parse, load the model (a
    // fresh analyzer: nothing cached), analyse, serialise. Best of 3.
    let vtt = root.join("bench/out/listen_60min.vtt");
    for with_model in [true, false] {
        let mut best = f64::INFINITY;
        let mut info = String::new();
        for _ in 0..3 {
            let t0 = Instant::now();
            let text = std::fs::read_to_string(&vtt).unwrap();
            let t = parse(&text, Format::Vtt).unwrap();
            let analyzer = if with_model {
                Analyzer::load(&model).unwrap()
            } else {
                Analyzer::without_model()
            };
            let a = analyzer.analyze(&t, &Context::default());
            let json = serde_json::to_string(&a).unwrap();
            best = best.min(t0.elapsed().as_secs_f64());
            info = format!("{} turns, {} KB of JSON", t.turns.len(), json.len() / 1024);
        }
        println!(
            "analyze 60-minute transcript ({info}), {} model: best of 3 {best:.2} s",
            if with_model { "with" } else { "without" }
        );
    }

    // Live: every turn of the 60-minute session pushed one by one, each timed.
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
        // The server serialises each picture to JSON: count that too.
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
