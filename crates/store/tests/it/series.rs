//! The case series read model: a group of new responses adds its values to the stored series
//! instead of rebuilding it from the case's history (`monitoring::add_to_cases_series`). These
//! tests hold the addition to the rebuild: same series after any sequence of submissions,
//! corrections and sessions, and the addition really taken when it applies.

use bordin_core::care::{Modality, ResponseSource, SessionStatus};
use bordin_core::Instrument;
use bordin_store::{CaseSeries, NewResponse, SessionRow, Store, Submitted};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};

use crate::support::{
    fresh_store, pending_administration, phq9_values, registry, scored, submit, world, World, T0,
};

/// One submission of a scenario.
#[derive(Debug, Clone)]
struct Sub {
    /// Index into [`INSTRUMENTS`].
    instrument: usize,
    /// Index into the case's sessions (taken modulo their number); `None`: no session.
    session: Option<usize>,
    /// Whether the response names the case's client (else it counts as the clinician's).
    with_client: bool,
    /// One choice per item (modulo the item's points); `None`: left blank.
    answers: Vec<Option<u8>>,
    /// Milliseconds from the step's clock (steps are a second apart): back in time, equal
    /// times and small steps.
    dt: i64,
}

#[derive(Debug, Clone)]
enum Step {
    /// Submitted together (concurrently, so the group writer may take several at once).
    Submit(Vec<Sub>),
    /// A correction of an earlier response (index modulo their number).
    Correct { which: usize, sub: Sub },
    /// A new session (status index into planned, attended, missed, cancelled).
    AddSession(usize),
}

const INSTRUMENTS: [&str; 4] = ["phq9", "gad7", "wai_sr", "wai_srt"];

fn sub() -> impl Strategy<Value = Sub> {
    (
        0..INSTRUMENTS.len(),
        prop::option::weighted(0.9, 0..6usize),
        prop::bool::weighted(0.8),
        prop::collection::vec(prop::option::weighted(0.95, any::<u8>()), 12),
        prop::sample::select(vec![-2_000i64, -1_000, -1, 0, 0, 0, 1, 7, 1_000]),
    )
        .prop_map(|(instrument, session, with_client, answers, dt)| Sub {
            instrument,
            session,
            with_client,
            answers,
            dt,
        })
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => prop::collection::vec(sub(), 1..5).prop_map(Step::Submit),
        1 => (any::<usize>(), sub()).prop_map(|(which, sub)| Step::Correct { which, sub }),
        1 => (0..4usize).prop_map(Step::AddSession),
    ]
}

/// The answers of `sub` for `instrument`: each item's choice among its scale's points.
fn answers_of(instrument: &Instrument, sub: &Sub) -> Vec<Option<i64>> {
    instrument
        .items
        .iter()
        .zip(sub.answers.iter().cycle())
        .map(|(item, choice)| {
            let points = instrument.response_scales[item.response_scale].points();
            choice.map(|c| points[usize::from(c) % points.len()].value)
        })
        .collect()
}

/// The series as stored, then the series rebuilt from the case's rows: they must be equal.
async fn stored_and_rebuilt(store: &Store, w: &World, at: i64) -> (CaseSeries, CaseSeries) {
    let stored = store.case_series(&w.clinic_id, &w.case_id).await.unwrap();
    store
        .refresh_case_series(&w.clinic_id, &w.case_id, at)
        .await
        .unwrap();
    let rebuilt = store.case_series(&w.clinic_id, &w.case_id).await.unwrap();
    (stored, rebuilt)
}

async fn run_scenario(store: &Store, w: &World, steps: &[Step]) {
    let reg = registry();
    // Three sessions to start with, so that responses come for earlier sessions after later
    // ones from the first steps on.
    let mut sessions: Vec<SessionRow> = vec![w.session.clone()];
    for status in [SessionStatus::Attended, SessionStatus::Missed] {
        sessions.push(
            store
                .add_session(
                    &w.clinic_id,
                    &w.case_id,
                    "2026-03-05",
                    Modality::InPerson,
                    status,
                    T0,
                )
                .await
                .unwrap(),
        );
    }
    // (response id, instrument index, session index) of every response stored.
    let mut responses: Vec<(String, usize, Option<usize>)> = Vec::new();
    for (k, step) in steps.iter().enumerate() {
        // Steps a second apart, and submissions up to two seconds back: equal times across steps
        // as well as within one.
        let clock = T0 + 1_000 * (k as i64 + 3);
        let new_response = |sub: &Sub| {
            let instrument = reg.get(INSTRUMENTS[sub.instrument]).unwrap();
            let (answers, sheet) = scored(instrument, &answers_of(instrument, sub));
            let session = sub.session.map(|s| sessions[s % sessions.len()].clone());
            (instrument, answers, sheet, session)
        };
        match step {
            Step::Submit(subs) => {
                let mut tasks = Vec::new();
                for sub in subs {
                    let (instrument, answers, sheet, session) = new_response(sub);
                    let (store, w, sub, instrument) =
                        (store.clone(), w.clone(), sub.clone(), instrument.clone());
                    tasks.push(tokio::spawn(async move {
                        store
                            .submit_response_and_series(
                                &w.clinic_id,
                                &NewResponse {
                                    administration_id: None,
                                    case_id: &w.case_id,
                                    session_id: session.as_ref().map(|s| s.session_id.as_str()),
                                    client_id: sub.with_client.then_some(w.client_id.as_str()),
                                    instrument: &instrument,
                                    respondent: instrument.respondent,
                                    answers: &answers,
                                    sheet: &sheet,
                                    submitted_at: clock + sub.dt,
                                    entered_by: "test",
                                    source: ResponseSource::Link,
                                },
                            )
                            .await
                    }));
                }
                let alone = subs.len() == 1;
                for (task, sub) in tasks.into_iter().zip(subs) {
                    let (submitted, series) = task.await.unwrap().unwrap();
                    // The series handed back is the one stored (when no other submission
                    // followed it).
                    let series = series.expect("a stored submission comes with its series");
                    if alone {
                        assert_eq!(
                            series,
                            store.case_series(&w.clinic_id, &w.case_id).await.unwrap()
                        );
                    }
                    responses.push((
                        submitted.response_id().to_owned(),
                        sub.instrument,
                        sub.session,
                    ));
                }
            }
            Step::Correct { which, sub } if !responses.is_empty() => {
                let (id, instrument_index, session) = responses[which % responses.len()].clone();
                // A correction is of the same instrument (and here of the same session).
                let sub = Sub {
                    instrument: instrument_index,
                    session,
                    ..sub.clone()
                };
                let (instrument, answers, sheet, session) = new_response(&sub);
                let new_id = store
                    .correct_response(
                        &w.clinic_id,
                        &id,
                        "entered wrongly",
                        &NewResponse {
                            administration_id: None,
                            case_id: &w.case_id,
                            session_id: session.as_ref().map(|s| s.session_id.as_str()),
                            client_id: sub.with_client.then_some(w.client_id.as_str()),
                            instrument,
                            respondent: instrument.respondent,
                            answers: &answers,
                            sheet: &sheet,
                            submitted_at: clock + sub.dt,
                            entered_by: &w.clinician_id,
                            source: ResponseSource::Clinician,
                        },
                    )
                    .await;
                // A response already corrected cannot be corrected again; that is not what
                // these tests are about.
                if let Ok(new_id) = new_id {
                    responses.push((new_id, sub.instrument, sub.session));
                }
            }
            Step::Correct { .. } => {}
            Step::AddSession(status) => {
                let status = [
                    SessionStatus::Planned,
                    SessionStatus::Attended,
                    SessionStatus::Missed,
                    SessionStatus::Cancelled,
                ][*status];
                let s = store
                    .add_session(
                        &w.clinic_id,
                        &w.case_id,
                        "2026-03-09",
                        Modality::Video,
                        status,
                        clock,
                    )
                    .await
                    .unwrap();
                sessions.push(s);
            }
        }
        let (stored, rebuilt) = stored_and_rebuilt(store, w, clock).await;
        assert_eq!(
            stored, rebuilt,
            "the stored series differs from the rebuild after step {k} of {steps:#?}"
        );
    }
}

/// Any sequence of submissions (alone and in groups, out of order, at equal times, without a
/// session, with blank items), corrections and new sessions leaves the same series as a rebuild
/// from the case's rows.
async fn added_series_equals_the_rebuild() {
    let (store, _g) = fresh_store().await;
    let scenarios = prop::collection::vec(step(), 1..12);
    // A deterministic runner: the same scenarios on every run and on both backends. Each
    // scenario is its own clinic in one database (a database per scenario would be slow on
    // PostgreSQL).
    let mut runner = TestRunner::new(Config {
        rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
        ..Config::default()
    });
    for n in 0..32 {
        let steps = scenarios.new_tree(&mut runner).unwrap().current();
        let w = world(&store, &format!("Clinic {n}")).await;
        run_scenario(&store, &w, &steps).await;
    }
}

/// A marker measure written into the stored series by hand: kept when a submission adds to the
/// series, gone when the submission makes the store rebuild it.
async fn mark(store: &Store, w: &World) {
    store
        .execute_raw_for_tests(&format!(
            "UPDATE case_series SET series = '{{\"marker\":{{\"x.y\":[[1,1.0]]}}}}' WHERE case_id = '{}'",
            w.case_id
        ))
        .await
        .unwrap();
}

async fn marked(store: &Store, w: &World) -> bool {
    store
        .case_series(&w.clinic_id, &w.case_id)
        .await
        .unwrap()
        .subjects
        .contains_key("marker")
}

/// The addition is the path taken for a later submission (so the test above compares two
/// different computations), and a rebuild is taken for an earlier one and after a correction.
async fn later_submissions_add_and_others_rebuild() {
    let (store, _g) = fresh_store().await;
    let w = world(&store, "Clinic").await;
    let reg = registry();
    let phq9 = reg.get("phq9").unwrap();
    let (answers, sheet) = scored(phq9, &phq9_values([1; 9]));
    // The first response: the series was built when the session was added (from nothing),
    // so it is rebuilt once.
    let first = submit(&store, &w, phq9, &answers, &sheet, None, T0 + 1_000).await;
    // A second submission of the same form stores nothing, so it hands back no series.
    let admin = pending_administration(&store, &w, phq9, None).await;
    let link = |at| NewResponse {
        administration_id: Some(&admin),
        case_id: &w.case_id,
        session_id: Some(&w.session.session_id),
        client_id: Some(&w.client_id),
        instrument: phq9,
        respondent: phq9.respondent,
        answers: &answers,
        sheet: &sheet,
        submitted_at: at,
        entered_by: "link",
        source: ResponseSource::Link,
    };
    let (once, series) = store
        .submit_response_and_series(&w.clinic_id, &link(T0 + 1_100))
        .await
        .unwrap();
    assert!(matches!(once, Submitted::Stored { .. }) && series.is_some());
    let (again, series) = store
        .submit_response_and_series(&w.clinic_id, &link(T0 + 1_200))
        .await
        .unwrap();
    assert_eq!(
        (again, series),
        (
            Submitted::AlreadyStored {
                response_id: once.response_id().to_owned()
            },
            None
        )
    );
    mark(&store, &w).await;
    submit(&store, &w, phq9, &answers, &sheet, None, T0 + 2_000).await;
    assert!(
        marked(&store, &w).await,
        "a later submission adds to the stored series"
    );
    // Earlier than what the series holds: rebuilt (the marker is gone, the values are right).
    submit(&store, &w, phq9, &answers, &sheet, None, T0 + 1_500).await;
    assert!(!marked(&store, &w).await, "an earlier submission rebuilds");
    // At the same millisecond as the latest: rebuilt (the order between them is the id's).
    mark(&store, &w).await;
    submit(&store, &w, phq9, &answers, &sheet, None, T0 + 2_000).await;
    assert!(!marked(&store, &w).await, "an equal time rebuilds");
    // A correction always rebuilds (the response it supersedes leaves the series).
    mark(&store, &w).await;
    let (fixed, fixed_sheet) = scored(phq9, &phq9_values([3; 9]));
    store
        .correct_response(
            &w.clinic_id,
            first.response_id(),
            "typed wrong",
            &NewResponse {
                administration_id: None,
                case_id: &w.case_id,
                session_id: Some(&w.session.session_id),
                client_id: Some(&w.client_id),
                instrument: phq9,
                respondent: phq9.respondent,
                answers: &fixed,
                sheet: &fixed_sheet,
                submitted_at: T0 + 3_000,
                entered_by: &w.clinician_id,
                source: ResponseSource::Clinician,
            },
        )
        .await
        .unwrap();
    assert!(!marked(&store, &w).await, "a correction rebuilds");
    // A series written before it recorded how far it reaches (NULL): rebuilt once, then added to.
    store
        .execute_raw_for_tests(&format!(
            "UPDATE case_series SET series_through = NULL WHERE case_id = '{}'",
            w.case_id
        ))
        .await
        .unwrap();
    mark(&store, &w).await;
    submit(&store, &w, phq9, &answers, &sheet, None, T0 + 4_000).await;
    assert!(
        !marked(&store, &w).await,
        "a series of unknown reach rebuilds"
    );
    mark(&store, &w).await;
    submit(&store, &w, phq9, &answers, &sheet, None, T0 + 5_000).await;
    assert!(marked(&store, &w).await, "and is added to afterwards");
    let (stored, rebuilt) = stored_and_rebuilt(&store, &w, T0 + 6_000).await;
    assert_ne!(stored, rebuilt, "the marker made them differ");
    assert_eq!(
        rebuilt.subjects[&w.client_id]["phq9.total"],
        vec![(1, 9.0)],
        "one value per session: the latest response's (9 items of 1)"
    );
}

bordin_store::both_backends!(
    added_series_equals_the_rebuild,
    later_submissions_add_and_others_rebuild,
);
