//! Monitoring in the running server: after every submission the case is evaluated afresh by the
//! pure core (`bordin_core::monitoring`) and new signals become alerts. Evaluation is idempotent
//! (alerts are unique per event), so a failed or skipped evaluation is caught up by the next one
//! and by the whole-clinic evaluation at start-up.

use std::collections::HashMap;
use std::sync::Arc;

use bordin_core::monitoring::calibrate::{calibrate, CalibrationCase};
use bordin_core::monitoring::rupture::Point;
use bordin_core::monitoring::signals::{evaluate, CaseData, Rules, Signal, SignalKind, Urgency};
use bordin_store::{CaseSeries, NewAlert, THERAPIST};
use tokio::sync::RwLock;

use crate::error::AppError;
use crate::state::{now_ms, AppState};

/// How long a clinic's calibrated rules are reused before they are fitted again.
const RULES_TTL_MS: i64 = 10 * 60 * 1000;

/// Calibrated rules per clinic, shared by all requests.
#[derive(Default)]
pub struct RulesCache {
    by_clinic: RwLock<HashMap<String, (Arc<Rules>, i64)>>,
}

/// The data of one subject of a case (a client, with the clinician's ratings of the same case).
pub fn case_data(series: &CaseSeries, subject: &str) -> CaseData {
    let mut data = CaseData {
        sessions: series.sessions.clone(),
        ..CaseData::default()
    };
    for who in [subject, THERAPIST] {
        if let Some(s) = series.subjects.get(who) {
            for (measure, points) in s {
                let v = data.series.entry(measure.clone()).or_default();
                v.extend(
                    points
                        .iter()
                        .map(|&(session, value)| Point { session, value }),
                );
                v.sort_by_key(|p| p.session);
            }
        }
    }
    data
}

/// The clients of a case that have scores (or the case as a whole when none has).
fn subjects(series: &CaseSeries) -> Vec<&str> {
    let clients: Vec<&str> = series
        .subjects
        .keys()
        .map(String::as_str)
        .filter(|s| *s != THERAPIST)
        .collect();
    if clients.is_empty() {
        vec![THERAPIST]
    } else {
        clients
    }
}

/// Signals of one case, per subject (event keys carry the client when a case has several).
pub fn case_signals(series: &CaseSeries, rules: &Rules) -> Vec<(String, Signal)> {
    let subs = subjects(series);
    let many = subs.len() > 1;
    let mut out = Vec::new();
    for subject in subs {
        for mut s in evaluate(&case_data(series, subject), rules) {
            if many {
                s.event_key = format!("{subject}/{}", s.event_key);
            }
            out.push((subject.to_owned(), s));
        }
    }
    out
}

/// Which signals become actionable alerts: those about the last few sessions of an active case
/// (older events, e.g. found when history is imported, are recorded as information), and every
/// risk answer of an active case.
fn is_actionable(s: &Signal, latest_session: i64, active: bool) -> bool {
    if !active || s.kind.urgency() == Urgency::Green {
        return false;
    }
    s.kind == SignalKind::Risk || s.session + 3 > latest_session
}

fn to_alerts(case_id: &str, series: &CaseSeries, signals: &[(String, Signal)]) -> Vec<NewAlert> {
    let latest = series.sessions.keys().next_back().copied().unwrap_or(0);
    let active = series.case_status == "active";
    signals
        .iter()
        // A session's alliance rating comes in after the session is recorded (the link is sent
        // at its end), and an alert is never withdrawn: the latest session is not called
        // unmeasured until a later one exists.
        .filter(|(_, s)| !(s.kind == SignalKind::MissingMeasure && s.session == latest))
        .map(|(_, s)| NewAlert {
            case_id: case_id.to_owned(),
            kind: s.kind.as_str().to_owned(),
            measure: s.measure.clone(),
            session_number: s.session,
            event_key: s.event_key.clone(),
            urgency: match s.kind.urgency() {
                Urgency::Red => "red",
                Urgency::Amber => "amber",
                Urgency::Green => "green",
            }
            .to_owned(),
            message: s.message.clone(),
            detail: s.detail.to_string(),
            info: !is_actionable(s, latest, active) || covered_by_total(s, signals),
        })
        .collect()
}

/// A subscale rupture at the same session as a rupture of its instrument's total is one
/// conversation, not several: it is recorded with the total's alert as information. A fall in
/// goal or task agreement while the bond held stays its own alert (a different conversation).
fn covered_by_total(s: &Signal, signals: &[(String, Signal)]) -> bool {
    if s.kind != SignalKind::Rupture || !s.detail["pattern"].is_null() {
        return false;
    }
    let Some((instrument, part)) = s.measure.split_once('.') else {
        return false;
    };
    part != "total"
        && signals.iter().any(|(_, t)| {
            t.kind == SignalKind::Rupture
                && t.session == s.session
                && t.measure == format!("{instrument}.total")
        })
}

/// The clinic's rules, calibrated on its data, cached for a few minutes.
pub async fn rules(state: &AppState, clinic_id: &str) -> Result<Arc<Rules>, AppError> {
    cached_rules(state, clinic_id, None).await
}

/// The cached rules, or rules calibrated afresh on `all` (read from the store when not given).
async fn cached_rules(
    state: &AppState,
    clinic_id: &str,
    all: Option<&[CaseSeries]>,
) -> Result<Arc<Rules>, AppError> {
    let now = now_ms();
    if let Some((r, at)) = state.rules.by_clinic.read().await.get(clinic_id) {
        if now - at < RULES_TTL_MS {
            return Ok(r.clone());
        }
    }
    let fetched;
    let all = match all {
        Some(all) => all,
        None => {
            fetched = state.store.all_case_series(clinic_id).await?;
            &fetched
        }
    };
    let rules = Arc::new(calibrated(&state.instruments, all));
    state
        .rules
        .by_clinic
        .write()
        .await
        .insert(clinic_id.to_owned(), (rules.clone(), now));
    Ok(rules)
}

/// Rules for the registry's instruments, calibrated on a clinic's case series.
fn calibrated(registry: &bordin_core::Registry, all: &[CaseSeries]) -> Rules {
    let base = Rules::for_registry(registry);
    // (ended, dropped out, data) per subject of each case.
    let data: Vec<(bool, bool, CaseData)> = all
        .iter()
        .flat_map(|s| {
            subjects(s).into_iter().map(move |sub| {
                (
                    s.case_status != "active",
                    s.case_status == "dropped_out",
                    case_data(s, sub),
                )
            })
        })
        .collect();
    let cases: Vec<CalibrationCase> = data
        .iter()
        .map(|(closed, dropped_out, d)| CalibrationCase {
            closed: *closed,
            dropped_out: *dropped_out,
            data: d,
        })
        .collect();
    calibrate(base, &cases)
}

/// Evaluates one case and raises its new alerts; returns how many were raised.
pub async fn evaluate_case(
    state: &AppState,
    clinic_id: &str,
    case_id: &str,
) -> Result<usize, AppError> {
    let series = state.store.case_series(clinic_id, case_id).await?;
    evaluate_series(state, clinic_id, case_id, series).await
}

/// Evaluates one case's series and raises its new alerts; returns how many were raised.
async fn evaluate_series(
    state: &AppState,
    clinic_id: &str,
    case_id: &str,
    series: CaseSeries,
) -> Result<usize, AppError> {
    let rules = rules(state, clinic_id).await?;
    let signals = case_signals(&series, &rules);
    let raised = state
        .store
        .raise_alerts(clinic_id, &to_alerts(case_id, &series, &signals), now_ms())
        .await?;
    state.metrics.alerts_raised(raised.len());
    Ok(raised.len())
}

/// Evaluates after a change, logging rather than failing the request: the submission is already
/// stored, and the next evaluation will raise whatever this one could not.
pub async fn after_change(state: &AppState, clinic_id: &str, case_id: &str) {
    after_submission(state, clinic_id, case_id, None).await;
}

/// [`after_change`] for a stored submission, given the case's series as the submission's
/// transaction left it (`Store::submit_response_and_series`), which spares reading it again;
/// read when not given.
pub async fn after_submission(
    state: &AppState,
    clinic_id: &str,
    case_id: &str,
    series: Option<CaseSeries>,
) {
    let evaluated = match series {
        Some(series) => evaluate_series(state, clinic_id, case_id, series).await,
        None => evaluate_case(state, clinic_id, case_id).await,
    };
    if let Err(e) = evaluated {
        tracing::error!(error = %e, case = %case_id, "monitoring evaluation failed; it will be retried by the next one");
    }
}

/// What a whole-clinic evaluation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClinicEvaluation {
    pub cases: usize,
    pub signals: usize,
    pub raised: usize,
}

/// Evaluates every case of a clinic (start-up catch-up, benchmarks).
///
/// The case series are read once, for calibration (when the cached rules are stale) and for
/// evaluation; cases are evaluated in parallel on the machine's cores (the work is pure and CPU
/// bound), and the alerts raised in one transaction.
pub async fn evaluate_clinic(
    state: &AppState,
    clinic_id: &str,
) -> Result<ClinicEvaluation, AppError> {
    let all = state.store.all_case_series(clinic_id).await?;
    let rules = cached_rules(state, clinic_id, Some(&all)).await?;
    let (signals, alerts) = clinic_alerts(&all, &rules);
    let raised = state
        .store
        .raise_alerts(clinic_id, &alerts, now_ms())
        .await?;
    state.metrics.alerts_raised(raised.len());
    Ok(ClinicEvaluation {
        cases: all.len(),
        signals,
        raised: raised.len(),
    })
}

/// Signals counted and alerts of every case, in case order.
fn clinic_alerts(all: &[CaseSeries], rules: &Rules) -> (usize, Vec<NewAlert>) {
    fn part(cases: &[CaseSeries], rules: &Rules) -> (usize, Vec<NewAlert>) {
        let mut alerts = Vec::new();
        let mut signals = 0;
        for series in cases {
            let s = case_signals(series, rules);
            signals += s.len();
            alerts.extend(to_alerts(&series.case_id, series, &s));
        }
        (signals, alerts)
    }
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    if threads < 2 || all.len() < 256 {
        return part(all, rules);
    }
    let chunk = all.len().div_ceil(threads.min(16));
    std::thread::scope(|scope| {
        let parts: Vec<_> = all
            .chunks(chunk)
            .map(|cases| scope.spawn(move || part(cases, rules)))
            .collect();
        let mut signals = 0;
        let mut alerts = Vec::new();
        for p in parts {
            // Evaluation is pure and does not panic; should it, the panic goes on here.
            let (n, a) = p.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
            signals += n;
            alerts.extend(a);
        }
        (signals, alerts)
    })
}

/// Evaluates every clinic (at start-up: raises whatever earlier evaluations could not).
pub async fn catch_up(state: &AppState) -> Result<ClinicEvaluation, AppError> {
    let mut total = ClinicEvaluation::default();
    for clinic in state.store.clinics().await? {
        let e = evaluate_clinic(state, &clinic.clinic_id).await?;
        total.cases += e.cases;
        total.signals += e.signals;
        total.raised += e.raised;
    }
    Ok(total)
}

/// After a goal rating or a task report: alerts suggesting renegotiation when client and
/// clinician diverge on a goal, or a task is unhelpful or repeatedly skipped
/// (`bordin_core::goals::renegotiations`). Logged, not failed: the rating is already stored.
pub async fn agreements_changed(state: &AppState, clinic_id: &str, case_id: &str) {
    if let Err(e) = raise_renegotiations(state, clinic_id, case_id).await {
        tracing::error!(error = %e, case = %case_id, "renegotiation check failed; it runs again on the next rating");
    }
}

async fn raise_renegotiations(
    state: &AppState,
    clinic_id: &str,
    case_id: &str,
) -> Result<usize, AppError> {
    use bordin_core::goals::Rater;
    use bordin_core::goals::{
        renegotiations, GoalAgreementState, GoalStatus, RatingKind, RenegotiationRule, TaskOutcome,
        TaskReportsState,
    };
    let goals = state.store.goals(clinic_id, case_id).await?;
    let ratings = state.store.goal_ratings(clinic_id, case_id).await?;
    let tasks = state.store.tasks(clinic_id, case_id).await?;
    let reports = state.store.task_reports(clinic_id, case_id).await?;
    let latest = |goal: &str, rater: Rater| {
        ratings
            .iter()
            .filter(|r| r.goal_id == goal && r.rater == rater && r.kind == RatingKind::Agreement)
            .max_by_key(|r| r.rated_at)
            .map(|r| r.value as f64)
    };
    let goal_states: Vec<GoalAgreementState> = goals
        .iter()
        .filter(|g| matches!(g.status, GoalStatus::Proposed | GoalStatus::Active))
        .map(|g| GoalAgreementState {
            goal_id: g.goal_id.clone(),
            words: g.words.clone(),
            client: latest(&g.goal_id, Rater::Client),
            clinician: latest(&g.goal_id, Rater::Clinician),
        })
        .collect();
    let task_states: Vec<TaskReportsState> = tasks
        .iter()
        .map(|t| {
            let mut rs: Vec<&bordin_store::TaskReportRow> =
                reports.iter().filter(|r| r.task_id == t.task_id).collect();
            rs.sort_by_key(|r| r.reported_at);
            TaskReportsState {
                task_id: t.task_id.clone(),
                title: t.title.clone(),
                reports: rs
                    .iter()
                    .map(|r| {
                        (
                            r.outcome == TaskOutcome::Skipped,
                            r.helpful.map(|h| h as f64),
                        )
                    })
                    .collect(),
            }
        })
        .collect();
    let found = renegotiations(&goal_states, &task_states, &RenegotiationRule::default());
    let session = state
        .store
        .case_series(clinic_id, case_id)
        .await?
        .sessions
        .keys()
        .next_back()
        .copied()
        .unwrap_or(0);
    let alerts: Vec<NewAlert> = found
        .into_iter()
        .map(|r| NewAlert {
            case_id: case_id.to_owned(),
            kind: "renegotiate".into(),
            measure: r.object,
            session_number: session,
            event_key: r.event_key,
            urgency: "amber".into(),
            message: r.message,
            detail: "{}".into(),
            info: false,
        })
        .collect();
    Ok(state
        .store
        .raise_alerts(clinic_id, &alerts, now_ms())
        .await?
        .len())
}
