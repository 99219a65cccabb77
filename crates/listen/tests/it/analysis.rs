use std::sync::Arc;

use bordin_listen::{
    parse, Analyzer, Context, Format, GoalText, LiveSession, MarkerKind, Role, TurnIn,
};

use crate::data;

#[test]
fn diarised_json_without_names_guesses_roles_and_flags_a_progress_complaint() {
    let t = parse(&data("whisperx.json"), Format::Json).unwrap();
    let a = Analyzer::without_model().analyze(&t, &Context::default());
    // SPEAKER_00 asks both questions: taken as the clinician, and the note says so.
    assert_eq!(a.turns[0].role, Some(Role::Clinician));
    assert_eq!(a.turns[1].role, Some(Role::Client));
    assert!(
        a.notes.iter().any(|n| n.contains("roles guessed")),
        "{:?}",
        a.notes
    );
    assert_eq!(a.markers.len(), 1);
    let m = &a.markers[0];
    assert_eq!(
        (m.kind, m.subtype.as_str(), m.turn),
        (MarkerKind::Confrontation, "complaint_about_progress", 1)
    );
    assert_eq!(m.start, Some(4.0));
    assert_eq!(m.speaker, "SPEAKER_01");
    assert_eq!(
        a.turns[1].markers,
        vec!["confrontation.complaint_about_progress"]
    );
    // Hand-counted: words 6 + 9 + 9 = 24; SPEAKER_00 15 of them.
    assert_eq!(a.speakers[0].words, 15);
    assert!((a.speakers[0].talk_share - 15.0 / 24.0).abs() < 1e-12);
    // Times: 2.5 s + 3 s for SPEAKER_00, 4 s for SPEAKER_01.
    assert!((a.speakers[0].time_share.unwrap() - 5.5 / 9.5).abs() < 1e-12);
    // Silences: 1 s (3.0→4.0) and 1 s (8.0→9.0); both listed, earlier first on the tie.
    assert_eq!(a.silences.len(), 2);
    assert_eq!(a.silences[0].start, 3.0);
    assert_eq!(a.session.client_latency.count, 1);
    assert_eq!(a.session.client_latency.mean, Some(1.0));
    assert_eq!(a.session.question_share, Some(1.0));
    assert!(!a.session.semantic);
    assert_eq!(a.session.duration_seconds, Some(11.5));
}

#[test]
fn explicit_roles_and_case_names_win_over_guessing() {
    let t = parse(&data("zoom.vtt"), Format::Vtt).unwrap();
    let mut c = Context {
        clinicians: vec!["Ana Lee".into()],
        clients: vec!["Sam".into()],
        ..Context::default()
    };
    let a = Analyzer::without_model().analyze(&t, &c);
    assert_eq!(a.turns[0].role, Some(Role::Clinician));
    assert_eq!(a.turns[1].role, Some(Role::Client));
    assert!(a.notes.iter().all(|n| !n.contains("guessed")));
    c.roles.insert("Sam Taylor".into(), Role::OtherClient);
    let a = Analyzer::without_model().analyze(&t, &c);
    assert_eq!(a.turns[1].role, Some(Role::OtherClient));
}

#[test]
fn analysis_json_has_the_documented_fields_and_round_trips() {
    let t = parse(&data("session.srt"), Format::Srt).unwrap();
    let c = Context {
        goals: vec![GoalText {
            id: "g1".into(),
            text: "Sleep better at night".into(),
        }],
        ..Context::default()
    };
    let a = Analyzer::without_model().analyze(&t, &c);
    let v = serde_json::to_value(&a).unwrap();
    for key in [
        "speaker", "role", "start", "end", "text", "markers", "bond", "goal", "task",
    ] {
        assert!(v["turns"][0].get(key).is_some(), "turns[].{key}");
    }
    for key in ["role", "words", "talk_share", "turns"] {
        assert!(v["speakers"][0].get(key).is_some(), "speakers[].{key}");
    }
    for key in ["start", "end", "seconds", "after_speaker"] {
        assert!(v["silences"][0].get(key).is_some(), "silences[].{key}");
    }
    for key in ["kind", "subtype", "turn", "evidence"] {
        assert!(v["markers"][0].get(key).is_some(), "markers[].{key}");
    }
    for key in [
        "bond",
        "goal",
        "task",
        "directive_share",
        "question_share",
        "semantic",
    ] {
        assert!(v["session"].get(key).is_some(), "session.{key}");
    }
    assert_eq!(v["session"]["semantic"], false);
    assert_eq!(v["markers"][0]["subtype"], "minimal_response");
    assert_eq!(v["goals"][0]["covered"], true);
    let back: bordin_listen::Analysis = serde_json::from_value(v).unwrap();
    assert_eq!(back, a);
}

#[test]
fn live_session_and_whole_file_analysis_agree_at_the_end() {
    let t = parse(&data("whisperx.json"), Format::Json).unwrap();
    let analyzer = Arc::new(Analyzer::without_model());
    let whole = analyzer.analyze(&t, &Context::default());
    let mut live = LiveSession::new(analyzer, Context::default());
    let mut flagged = Vec::new();
    for turn in &t.turns {
        let p = live
            .push(TurnIn {
                speaker: turn.speaker.clone(),
                text: turn.text.clone(),
                start: turn.start,
                end: turn.end,
            })
            .unwrap();
        flagged.extend(p.new_markers.into_iter().map(|m| (m.turn, m.subtype)));
    }
    assert_eq!(flagged, vec![(1, "complaint_about_progress".to_owned())]);
    let end = live.analysis();
    assert_eq!(end.markers, whole.markers);
    assert_eq!(end.speakers, whole.speakers);
    assert_eq!(end.silences, whole.silences);
}

/// Replays a transcript through a live session turn by turn (with `split`, each turn arrives
/// sentence by sentence, as a speech-to-text system sends it) and returns the live analysis.
pub(crate) fn live_replay(
    analyzer: Arc<Analyzer>,
    t: &bordin_listen::Transcript,
    context: &Context,
    split: bool,
) -> bordin_listen::Analysis {
    let mut live = LiveSession::new(analyzer, context.clone());
    for turn in &t.turns {
        let mut pieces: Vec<String> = Vec::new();
        if split {
            let mut cur = String::new();
            for w in turn.text.split_whitespace() {
                if !cur.is_empty() {
                    cur.push(' ');
                }
                cur.push_str(w);
                if w.ends_with(['.', '?', '!']) {
                    pieces.push(std::mem::take(&mut cur));
                }
            }
            if !cur.is_empty() {
                pieces.push(cur);
            }
        } else {
            pieces.push(turn.text.clone());
        }
        let n = pieces.len();
        for (i, text) in pieces.into_iter().enumerate() {
            live.push(TurnIn {
                speaker: turn.speaker.clone(),
                text,
                start: if i == 0 { turn.start } else { None },
                end: if i + 1 == n { turn.end } else { None },
            })
            .unwrap();
        }
    }
    live.analysis()
}

/// Everything but the notes (the batch analysis adds its role-guessing notes) must be equal;
/// numbers to 1e-6 (embeddings computed one sentence at a time and in a packed batch may differ
/// in the last bits).
pub(crate) fn assert_same_analysis(
    live: &bordin_listen::Analysis,
    batch: &bordin_listen::Analysis,
) {
    fn same(a: &serde_json::Value, b: &serde_json::Value, at: &str) {
        use serde_json::Value;
        match (a, b) {
            (Value::Number(x), Value::Number(y)) => {
                let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
                assert!((x - y).abs() <= 1e-6 * (1.0 + y.abs()), "{at}: {x} vs {y}");
            }
            (Value::Array(x), Value::Array(y)) => {
                assert_eq!(x.len(), y.len(), "{at}: {a} vs {b}");
                for (n, (x, y)) in x.iter().zip(y).enumerate() {
                    same(x, y, &format!("{at}[{n}]"));
                }
            }
            (Value::Object(x), Value::Object(y)) => {
                assert_eq!(x.len(), y.len(), "{at}");
                for (k, v) in x {
                    if at.is_empty() && k == "notes" {
                        continue;
                    }
                    same(v, &y[k], &format!("{at}.{k}"));
                }
            }
            _ => assert_eq!(a, b, "{at}"),
        }
    }
    same(
        &serde_json::to_value(live).unwrap(),
        &serde_json::to_value(batch).unwrap(),
        "",
    );
}

#[test]
fn live_replay_turn_by_turn_and_sentence_by_sentence_equals_the_batch_analysis() {
    let analyzer = Arc::new(Analyzer::without_model());
    for (file, format) in [
        ("session.txt", Format::Txt),
        ("zoom.vtt", Format::Vtt),
        ("session.srt", Format::Srt),
    ] {
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
        assert!(batch.turns.len() >= 2, "{file}");
        for split in [false, true] {
            let live = live_replay(analyzer.clone(), &t, &c, split);
            assert_same_analysis(&live, &batch);
        }
    }
}
