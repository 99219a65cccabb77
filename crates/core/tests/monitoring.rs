//! Scenario tests: synthetic courses with planted events; each must be found at the right
//! session, and flat, high or noisy courses must raise no rupture.

use bordin_core::monitoring::signals::{evaluate, CaseData, Rules, Signal, SignalKind};
use bordin_core::Registry;

fn rules() -> Rules {
    Rules::for_registry(&Registry::builtin().unwrap())
}

fn case(series: &[(&str, &[f64])]) -> CaseData {
    let mut c = CaseData::default();
    for (m, values) in series {
        for (i, v) in values.iter().enumerate() {
            c.add(m, i as i64 + 1, *v);
        }
    }
    c
}

fn found(signals: &[Signal], kind: SignalKind) -> Vec<(String, i64)> {
    signals
        .iter()
        .filter(|s| s.kind == kind)
        .map(|s| (s.measure.clone(), s.session))
        .collect()
}

#[test]
fn a_planted_wai_rupture_and_repair_are_found_at_their_sessions() {
    // Bond steady at 18; goal dips at session 6 and is back at 7; total follows.
    let c = case(&[
        (
            "wai_sr.total",
            &[50.0, 51.0, 50.0, 51.0, 50.0, 43.0, 50.0, 51.0],
        ),
        (
            "wai_sr.bond",
            &[18.0, 18.0, 18.0, 18.0, 18.0, 18.0, 18.0, 18.0],
        ),
        (
            "wai_sr.goal",
            &[16.0, 16.0, 16.0, 17.0, 16.0, 10.0, 16.0, 16.0],
        ),
        (
            "wai_sr.task",
            &[16.0, 17.0, 16.0, 16.0, 16.0, 15.0, 16.0, 17.0],
        ),
    ]);
    let s = evaluate(&c, &rules());
    assert_eq!(
        found(&s, SignalKind::Rupture),
        [
            ("wai_sr.goal".to_owned(), 6),
            ("wai_sr.total".to_owned(), 6)
        ]
    );
    assert_eq!(
        found(&s, SignalKind::Repair),
        [
            ("wai_sr.goal".to_owned(), 7),
            ("wai_sr.total".to_owned(), 7)
        ]
    );
    let goal = s
        .iter()
        .find(|x| x.kind == SignalKind::Rupture && x.measure == "wai_sr.goal")
        .unwrap();
    assert_eq!(
        goal.detail["pattern"],
        "goal agreement fell while the bond held"
    );
    assert_eq!(goal.event_key, "rupture:wai_sr.goal:6");
}

#[test]
fn flat_high_and_noisy_alliance_courses_raise_no_rupture() {
    for course in [
        vec![60.0; 12],
        vec![57.0, 58.0, 59.0, 58.0, 57.0, 59.0, 58.0, 58.0, 59.0, 57.0],
        vec![38.0, 47.0, 40.0, 49.0, 39.0, 48.0, 42.0, 46.0, 40.0, 47.0],
    ] {
        let c = case(&[("wai_sr.total", &course)]);
        let s = evaluate(&c, &rules());
        assert!(
            found(&s, SignalKind::Rupture).is_empty(),
            "{course:?}: {s:?}"
        );
    }
}

#[test]
fn reliable_deterioration_improvement_and_recovery_on_phq9() {
    // Intake 12; worse by 6 at session 3 (18); back and recovered at session 7 (5: −7 and below 10).
    let c = case(&[("phq9.total", &[12.0, 14.0, 18.0, 15.0, 11.0, 8.0, 5.0])]);
    let s = evaluate(&c, &rules());
    assert_eq!(
        found(&s, SignalKind::ReliableDeterioration),
        [("phq9.total".to_owned(), 3)]
    );
    assert_eq!(
        found(&s, SignalKind::ReliableImprovement),
        Vec::<(String, i64)>::new()
    ); // 12 → 6 would be; 8 is −4
    assert_eq!(
        found(&s, SignalKind::Recovery),
        [("phq9.total".to_owned(), 7)]
    );
}

#[test]
fn gad7_reliable_improvement_without_recovery() {
    // GAD-7: intake 17, 13 at session 3 (−4, reliable) but still ≥ 8: improved, not recovered.
    let c = case(&[("gad7.total", &[17.0, 15.0, 13.0])]);
    let s = evaluate(&c, &rules());
    assert_eq!(
        found(&s, SignalKind::ReliableImprovement),
        [("gad7.total".to_owned(), 3)]
    );
    assert!(found(&s, SignalKind::Recovery).is_empty());
}

#[test]
fn a_stalled_case_is_not_on_track_by_the_published_rule() {
    let c = case(&[("phq9.total", &[16.0, 16.0, 15.0, 15.0, 16.0, 15.0])]);
    let s = evaluate(&c, &rules());
    let n = s.iter().find(|x| x.kind == SignalKind::NotOnTrack).unwrap();
    assert_eq!(n.session, 6);
    assert_eq!(n.detail["basis"], "published_rule");
}

#[test]
fn every_risk_answer_is_found() {
    let c = case(&[("phq9.q9", &[0.0, 1.0, 0.0, 2.0])]);
    let s = evaluate(&c, &rules());
    assert_eq!(
        found(&s, SignalKind::Risk),
        [("phq9.q9".to_owned(), 2), ("phq9.q9".to_owned(), 4)]
    );
}

#[test]
fn a_therapist_blind_spot_is_a_discrepancy() {
    // Session 2: therapist 56 vs client 49 (7 ≥ 6); session 3: 52 vs 49 (3 < 6) but bond 19 vs 15 (4 ≥ 3).
    let c = case(&[
        ("wai_sr.total", &[50.0, 49.0, 49.0]),
        ("wai_srt.total", &[52.0, 56.0, 52.0]),
        ("wai_sr.bond", &[17.0, 17.0, 15.0]),
        ("wai_srt.bond", &[18.0, 19.0, 19.0]),
    ]);
    let s = evaluate(&c, &rules());
    assert_eq!(
        found(&s, SignalKind::Discrepancy),
        [
            ("wai_srt.total".to_owned(), 2),
            ("wai_srt.total".to_owned(), 3)
        ]
    );
}

#[test]
fn low_early_alliance_missing_measures_and_dropout_risk() {
    let mut c = case(&[("session_check.total", &[30.0, 29.0, 27.0, 25.0])]);
    c.sessions.insert(5, false); // missed
    c.sessions.insert(6, true); // attended, nothing collected
    let s = evaluate(&c, &rules());
    assert_eq!(
        found(&s, SignalKind::LowEarlyAlliance),
        [("session_check.total".to_owned(), 1)]
    );
    assert_eq!(
        found(&s, SignalKind::MissingMeasure),
        [("alliance".to_owned(), 6)]
    );
    let d = s
        .iter()
        .find(|x| x.kind == SignalKind::DropoutRisk)
        .unwrap();
    // low early (2) + missed session and measure (1.5) + falling over the last 3 ratings (1.5) = 5
    assert_eq!(d.detail["score"], 5.0);
    assert_eq!(d.session, 6);
}

#[test]
fn event_keys_are_stable_as_a_case_goes_on() {
    // A stalled case: not on track at session 6; sessions 7 and 8 change nothing about that.
    let mut c = case(&[("phq9.total", &[16.0, 16.0, 15.0, 15.0, 16.0, 15.0])]);
    let keys = |c: &CaseData| -> Vec<String> {
        evaluate(c, &rules())
            .into_iter()
            .map(|s| s.event_key)
            .collect()
    };
    let before = keys(&c);
    assert_eq!(before, keys(&c), "evaluation is deterministic");
    c.add("phq9.total", 7, 15.0);
    c.add("phq9.total", 8, 16.0);
    let after = keys(&c);
    let not_on_track: Vec<&String> = after
        .iter()
        .filter(|k| k.starts_with("not_on_track"))
        .collect();
    assert_eq!(
        not_on_track,
        [&"not_on_track:phq9.total:by_session_6".to_owned()]
    );
    assert!(
        before.iter().all(|k| after.contains(k)),
        "earlier events keep their keys"
    );
}
