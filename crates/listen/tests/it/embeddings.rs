//! Embeddings against the reference implementation (Python sentence-transformers, same model),
//! and alliance evidence with the real model. These tests need the model files: they skip with a
//! notice when the folder is missing, and FAIL instead when BORDIN_REQUIRE_MODEL=1 (CI).

use std::path::PathBuf;
use std::sync::Arc;

use bordin_listen::{
    parse, Analyzer, Arithmetic, Context, Embedder, Format, GoalText, LiveSession, TurnIn,
};
use serde::Deserialize;

use crate::data;

fn model_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("BORDIN_MODEL_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/all-MiniLM-L6-v2"),
        PathBuf::from,
    );
    if dir.join("model.safetensors").is_file() {
        return Some(dir);
    }
    if std::env::var("BORDIN_REQUIRE_MODEL").is_ok_and(|v| v == "1") {
        panic!(
            "BORDIN_REQUIRE_MODEL=1 but there is no model in {} (run `bordin model fetch`)",
            dir.display()
        );
    }
    eprintln!(
        "skipped: no model in {} (BORDIN_REQUIRE_MODEL=1 makes this a failure)",
        dir.display()
    );
    None
}

#[derive(Deserialize)]
struct Reference {
    sentences: Vec<String>,
    vectors: Vec<Vec<f32>>,
}

/// Each arithmetic this machine runs (f32 everywhere; bfloat16 AMX tiles where the CPU has
/// them) against the reference vectors.
#[test]
fn embeddings_match_sentence_transformers_to_cosine_0_999() {
    let Some(dir) = model_dir() else { return };
    let reference: Reference = serde_json::from_str(&data("embeddings.json")).unwrap();
    assert!(reference.sentences.len() >= 30);
    let texts: Vec<&str> = reference.sentences.iter().map(String::as_str).collect();
    let mut by_arithmetic = Vec::new();
    for arithmetic in [Arithmetic::F32, Arithmetic::Bf16Amx] {
        if !arithmetic.is_available() {
            eprintln!("{} not run: this CPU or OS lacks it", arithmetic.name());
            continue;
        }
        let embedder = Embedder::load_with(&dir, arithmetic).unwrap();
        assert_eq!(embedder.arithmetic(), arithmetic);
        let got = embedder.embed(&texts).unwrap();
        check_against_reference(&got, &reference, arithmetic);
        // One at a time (batch 1, no padding) gives the same vectors as the batch.
        let single = embedder.embed_uncached(&texts[..3]).unwrap();
        for (a, b) in single.iter().zip(&got) {
            let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            assert!(dot > 0.9999, "{}: {dot}", arithmetic.name());
        }
        by_arithmetic.push(got);
    }
    // Where both run, they agree closely with each other too.
    if let [f32s, amx] = &by_arithmetic[..] {
        for (a, b) in f32s.iter().zip(amx) {
            let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            assert!(dot > 0.9999, "f32 against bf16-amx: {dot}");
        }
    }
    // The default is the best this machine runs.
    let best = Arithmetic::best();
    assert!(best.is_available());
    assert_eq!(
        best == Arithmetic::Bf16Amx,
        Arithmetic::Bf16Amx.is_available()
    );
}

#[test]
fn an_arithmetic_the_machine_lacks_is_refused_with_a_clear_error() {
    let Some(dir) = model_dir() else { return };
    if Arithmetic::Bf16Amx.is_available() {
        return; // nothing to refuse here
    }
    let err = Embedder::load_with(&dir, Arithmetic::Bf16Amx)
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("bf16-amx") && err.contains("AMX"), "{err}");
}

fn check_against_reference(got: &[Vec<f32>], reference: &Reference, arithmetic: Arithmetic) {
    let mut worst = (1.0f64, 0usize);
    for (i, (g, want)) in got.iter().zip(&reference.vectors).enumerate() {
        assert_eq!(g.len(), 384);
        let dot: f64 = g
            .iter()
            .zip(want)
            .map(|(a, b)| f64::from(*a) * f64::from(*b))
            .sum();
        let norm: f64 = want
            .iter()
            .map(|b| f64::from(*b).powi(2))
            .sum::<f64>()
            .sqrt();
        let cos = dot / norm;
        if cos < worst.0 {
            worst = (cos, i);
        }
    }
    assert!(
        worst.0 >= 0.999,
        "{}: sentence {} has cosine {} against sentence-transformers: {:?}",
        arithmetic.name(),
        worst.1,
        worst.0,
        reference.sentences[worst.1]
    );
}

#[test]
fn alliance_evidence_and_semantic_goal_coverage_with_the_model() {
    let Some(dir) = model_dir() else { return };
    let analyzer = Analyzer::load(&dir).unwrap();
    let t = parse(
        "Lee: How have things been since we last met?\n\
         Sam: I took the number twelve bus and it was raining the whole way.\n\
         Lee: I can hear how hard this has been, thank you for telling me.\n\
         Sam: Honestly I feel like you really get me, I trust you.\n\
         Sam: I want to be able to fall asleep without lying awake for hours.\n",
        Format::Txt,
    )
    .unwrap();
    let c = Context {
        clinicians: vec!["Lee".into()],
        goals: vec![
            GoalText {
                id: "sleep".into(),
                text: "Sleep through the night".into(),
            },
            GoalText {
                id: "job".into(),
                text: "Find a new job in accounting".into(),
            },
        ],
        ..Context::default()
    };
    let a = analyzer.analyze(&t, &c);
    assert!(a.session.semantic, "{:?}", a.session.semantic_note);
    // Turns 3 and 4 are one merged client turn; turn 1 is small talk.
    let bond_small_talk = a.turns[1].bond.unwrap();
    let bond_trust = a.turns[3].bond.unwrap();
    assert!(
        bond_trust > bond_small_talk + 1.0,
        "trust {bond_trust} vs small talk {bond_small_talk}"
    );
    assert!(
        a.turns[2].bond.unwrap() > 1.0,
        "clinician validation {:?}",
        a.turns[2].bond
    );
    assert!(a.goals[0].covered, "{:?}", a.goals[0]);
    assert_eq!(a.goals[0].method, "semantic");
    assert_eq!(a.goals[0].evidence[0].turn, 3);
    assert!(!a.goals[1].covered, "{:?}", a.goals[1]);
    assert!(a.session.bond.is_some());

    // Live: the same evidence, turn by turn.
    let mut live = LiveSession::new(Arc::new(analyzer), c);
    let mut last = None;
    for turn in &t.turns {
        last = Some(
            live.push(TurnIn {
                speaker: turn.speaker.clone(),
                text: turn.text.clone(),
                start: None,
                end: None,
            })
            .unwrap(),
        );
    }
    let last = last.unwrap();
    assert!(last.goals[0].covered);
    assert!(last.session.semantic);
}

#[test]
fn live_replay_with_the_model_equals_the_batch_analysis() {
    let Some(dir) = model_dir() else { return };
    let analyzer = Analyzer::load(&dir).unwrap();
    for (file, format) in [("session.txt", Format::Txt), ("zoom.vtt", Format::Vtt)] {
        let t = parse(&data(file), format).unwrap();
        let c = Context {
            clinicians: vec!["Lee".into(), "Dr Lee".into()],
            clients: vec!["Sam".into()],
            goals: vec![GoalText {
                id: "g1".into(),
                text: "Do the breathing practice every evening".into(),
            }],
            ..Context::default()
        };
        let batch = analyzer.analyze(&t, &c);
        assert!(batch.session.semantic);
        assert!(batch.turns.iter().any(|t| t.bond.is_some()), "{file}");
        for split in [false, true] {
            // A fresh analyzer: nothing cached from the batch run, every piece embedded live.
            let fresh = Arc::new(Analyzer::load(&dir).unwrap());
            let live = crate::analysis::live_replay(fresh, &t, &c, split);
            crate::analysis::assert_same_analysis(&live, &batch);
        }
    }
}

/// The fixed statements' embeddings are cached in the model folder: the first load writes the
/// cache, later loads read it and give the same evidence, and a damaged cache is recomputed.
#[test]
fn statement_embeddings_are_cached_beside_the_model_and_a_damaged_cache_is_recomputed() {
    let Some(dir) = model_dir() else { return };
    let folder = tempfile::tempdir().unwrap();
    for f in ["model.safetensors", "tokenizer.json", "config.json"] {
        std::fs::copy(dir.join(f), folder.path().join(f)).unwrap();
    }
    let caches = || -> Vec<PathBuf> {
        std::fs::read_dir(folder.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("bordin-statements-")
            })
            .collect()
    };
    let t = parse(
        "Lee: What would you like to work on today?\n\
         Sam: I don't think these exercises are helping me at all.\n\
         Lee: Let's look at that together, I want this to be useful for you.\n",
        Format::Txt,
    )
    .unwrap();
    let evidence = |a: &Analyzer| -> Vec<[Option<f64>; 3]> {
        let c = Context {
            clinicians: vec!["Lee".into()],
            ..Context::default()
        };
        a.analyze(&t, &c)
            .turns
            .iter()
            .map(|turn| [turn.bond, turn.goal, turn.task])
            .collect()
    };
    assert!(caches().is_empty());
    let computed = evidence(&Analyzer::load(folder.path()).unwrap());
    let written = caches();
    assert_eq!(written.len(), 1, "one cache file after the first load");
    let size = std::fs::metadata(&written[0]).unwrap().len();
    assert_eq!(size % (384 * 4), 0, "whole 384-float vectors: {size} bytes");
    assert!(size >= 30 * 384 * 4, "every statement: {size} bytes");
    assert!(computed.iter().all(|e| e.iter().all(Option::is_some)));

    // Read from the cache: the same evidence, to the bit.
    assert_eq!(evidence(&Analyzer::load(folder.path()).unwrap()), computed);

    // A cut-off cache (a crash while copying the folder, say) is not used but recomputed.
    let bytes = std::fs::read(&written[0]).unwrap();
    std::fs::write(&written[0], &bytes[..bytes.len() / 2]).unwrap();
    assert_eq!(evidence(&Analyzer::load(folder.path()).unwrap()), computed);
    assert_eq!(std::fs::metadata(&written[0]).unwrap().len(), size);

    // A cache full of wrong numbers of the right size would be used: so its name carries a hash
    // of what it depends on, and a changed config.json gets a file of its own.
    let config = std::fs::read_to_string(folder.path().join("config.json")).unwrap();
    std::fs::write(folder.path().join("config.json"), format!("{config}\n")).unwrap();
    Analyzer::load(folder.path()).unwrap();
    assert_eq!(caches().len(), 2, "a new key for a changed config.json");
}
