//! The supervisor's view: for each clinician they supervise (an admin: every clinician), the
//! caseload, open alerts, how often the alliance was measured, and alliance and outcome summaries.

use std::collections::HashMap;

use axum::extract::State;
use bordin_core::care::Role;
use bordin_core::monitoring::change::ChangeClass;
use bordin_store::THERAPIST;
use maud::{html, Markup};

use super::layout::page;
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::state::AppState;

/// Summary figures of one clinician's caseload.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ClinicianSummary {
    pub active_cases: usize,
    pub red: usize,
    pub amber: usize,
    pub attended: usize,
    pub measured: usize,
    pub latest_alliance: Vec<f64>,
    pub latest_session_check: Vec<f64>,
    pub outcome_cases: usize,
    pub improved: usize,
    pub recovered: usize,
    pub deteriorated: usize,
}

fn pct(n: usize, d: usize) -> String {
    if d == 0 {
        "—".into()
    } else {
        format!("{:.0}%", 100.0 * n as f64 / d as f64)
    }
}

fn mean(xs: &[f64]) -> String {
    if xs.is_empty() {
        "—".into()
    } else {
        format!("{:.1}", xs.iter().sum::<f64>() / xs.len() as f64)
    }
}

pub async fn show(State(state): State<AppState>, user: CurrentUser) -> Result<Markup, AppError> {
    let clinic = user.clinic_id().to_owned();
    let clinicians: Vec<bordin_store::UserRow> = match user.user.role {
        Role::Admin => state
            .store
            .users(&clinic)
            .await?
            .into_iter()
            .filter(|u| u.role != Role::Admin)
            .collect(),
        Role::Supervisor => {
            let ids = state.store.supervisees(&clinic, &user.user.user_id).await?;
            let mut v = Vec::new();
            for id in ids {
                v.push(state.store.user(&clinic, &id).await?);
            }
            v
        }
        Role::Clinician => return Err(AppError::NotFound),
    };
    // Scores of every supervised clinician's cases: one entry for the overview.
    crate::audit::read(
        &state,
        &clinic,
        "supervision",
        &user.user.user_id,
        None,
        bordin_store::Outcome::Ok,
    )
    .await?;
    let rules = crate::monitor::rules(&state, &clinic).await?;
    let series: HashMap<String, bordin_store::CaseSeries> = state
        .store
        .all_case_series(&clinic)
        .await?
        .into_iter()
        .map(|s| (s.case_id.clone(), s))
        .collect();
    let alerts = state
        .store
        .alerts(&clinic, None, &["open", "acknowledged"])
        .await?;
    let mut rows = Vec::new();
    for c in &clinicians {
        let mut s = ClinicianSummary::default();
        let case_ids = state
            .store
            .case_ids_of_clinician(&clinic, &c.user_id)
            .await?;
        // Counted from the cases themselves: a new case has no scores yet.
        s.active_cases = state
            .store
            .cases_by_ids(&clinic, &case_ids)
            .await?
            .iter()
            .filter(|c| c.status == bordin_core::care::CaseStatus::Active)
            .count();
        for case_id in &case_ids {
            let Some(cs) = series.get(case_id) else {
                continue;
            };
            for a in alerts.iter().filter(|a| &a.case_id == case_id) {
                match a.urgency.as_str() {
                    "red" => s.red += 1,
                    "amber" => s.amber += 1,
                    _ => {}
                }
            }
            for (subject, m) in cs.subjects.iter().filter(|(k, _)| k.as_str() != THERAPIST) {
                let _ = subject;
                let rated: std::collections::BTreeSet<i64> =
                    ["wai_sr.total", "session_check.total"]
                        .iter()
                        .filter_map(|k| m.get(*k))
                        .flatten()
                        .map(|p| p.0)
                        .collect();
                let attended: Vec<i64> = cs
                    .sessions
                    .iter()
                    .filter(|(_, a)| **a)
                    .map(|(n, _)| *n)
                    .collect();
                s.attended += attended.len();
                s.measured += attended.iter().filter(|n| rated.contains(n)).count();
                if let Some(v) = m.get("wai_sr.total").and_then(|p| p.last()) {
                    s.latest_alliance.push(v.1);
                }
                if let Some(v) = m.get("session_check.total").and_then(|p| p.last()) {
                    s.latest_session_check.push(v.1);
                }
                if let (Some(p), Some(rule)) = (m.get("phq9.total"), rules.change.get("phq9.total"))
                {
                    if let (Some(first), Some(last)) = (p.first(), p.last()) {
                        if p.len() >= 2 {
                            s.outcome_cases += 1;
                            match rule.classify(first.1, last.1) {
                                ChangeClass::Recovered => {
                                    s.recovered += 1;
                                    s.improved += 1;
                                }
                                ChangeClass::Improved => s.improved += 1,
                                ChangeClass::Deteriorated => s.deteriorated += 1,
                                ChangeClass::Unchanged => {}
                            }
                        }
                    }
                }
            }
        }
        rows.push((c, s));
    }
    Ok(page(
        "Supervision",
        &user,
        html! {
            h1 { "Supervision" }
            p.muted { "Per clinician. Completion: attended sessions with a client alliance rating (WAI-SR or Session Check). Outcome: PHQ-9 from first to latest score, reliable change of 6 points (NHS Talking Therapies); recovered = reliably improved and below caseness." }
            div.table-wrap {
                table id="supervision" {
                    thead { tr {
                        th scope="col" { "Clinician" } th.num scope="col" { "Active cases" } th.num scope="col" { "Open alerts (red / amber)" }
                        th.num scope="col" { "Alliance measured" } th.num scope="col" { "Mean latest WAI-SR" } th.num scope="col" { "Mean latest Session Check" }
                        th.num scope="col" { "PHQ-9: improved / recovered / deteriorated" }
                    } }
                    tbody {
                        @for (c, s) in &rows {
                            tr {
                                th scope="row" { (c.display_name) br; span.small.muted { (c.role.as_str()) } }
                                td.num { (s.active_cases) }
                                td.num { (s.red) " / " (s.amber) }
                                td.num { (pct(s.measured, s.attended)) br; span.small.muted { (s.measured) " of " (s.attended) } }
                                td.num { (mean(&s.latest_alliance)) }
                                td.num { (mean(&s.latest_session_check)) }
                                td.num { (pct(s.improved, s.outcome_cases)) " / " (pct(s.recovered, s.outcome_cases)) " / " (pct(s.deteriorated, s.outcome_cases)) br; span.small.muted { "of " (s.outcome_cases) " clients" } }
                            }
                        }
                    }
                }
            }
            @if rows.is_empty() { p { "No clinicians to show." } }
        },
    ))
}
