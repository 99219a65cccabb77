//! Monitoring on the pages: the case's charts, its alerts with their lifecycle, the alert page
//! with suggestions, and the risk banner.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use bordin_core::monitoring::signals::{Signal, SignalKind};
use bordin_core::monitoring::suggestions;
use bordin_store::{AlertRow, THERAPIST};
use maud::{html, Markup};
use serde::Deserialize;

use super::charts::{figure, Chart, Line, Marker, BLUE_, GREEN_, ORANGE, PURPLE, RED_};
use super::layout::page;
use crate::actions::CaseView;
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::state::{format_ms, AppState};

fn points(view: &CaseView, subject: &str, measure: &str) -> Vec<(i64, f64)> {
    view.series
        .subjects
        .get(subject)
        .and_then(|s| s.get(measure))
        .cloned()
        .unwrap_or_default()
}

fn markers(signals: &[&Signal], measure: &str) -> Vec<Marker> {
    signals
        .iter()
        .filter(|s| s.measure == measure)
        .filter_map(|s| {
            let v = match s.kind {
                SignalKind::Rupture => s.detail["lowest"].as_f64().map(|v| (v, "rupture", RED_)),
                SignalKind::Repair => s.detail["value"].as_f64().map(|v| (v, "repair", GREEN_)),
                SignalKind::ReliableDeterioration => s.detail["value"]
                    .as_f64()
                    .map(|v| (v, "reliable deterioration", RED_)),
                SignalKind::ReliableImprovement | SignalKind::Recovery => s.detail["value"]
                    .as_f64()
                    .map(|v| (v, "reliable improvement", GREEN_)),
                _ => None,
            }?;
            let session = if s.kind == SignalKind::Rupture {
                s.detail["lowest_session"].as_i64().unwrap_or(s.session)
            } else {
                s.session
            };
            Some(Marker {
                session,
                value: v.0,
                label: v.1,
                color: v.2,
            })
        })
        .collect()
}

fn describe(points: &[(i64, f64)], name: &str) -> String {
    match (points.first(), points.last()) {
        (Some(a), Some(b)) if points.len() > 1 => format!(
            "{name}: {} values, from {} at session {} to {} at session {}",
            points.len(),
            a.1,
            a.0,
            b.1,
            b.0
        ),
        (Some(a), _) => format!("{name}: one value, {} at session {}", a.1, a.0),
        _ => String::new(),
    }
}

/// The marked events of the measures a chart shows, in words.
fn events(signals: &[&Signal], kinds: &[SignalKind], measures: &[&str]) -> String {
    let parts: Vec<String> = signals
        .iter()
        .filter(|s| kinds.contains(&s.kind) && measures.iter().any(|m| s.measure.starts_with(m)))
        .map(|s| {
            format!(
                "{} at session {} ({})",
                s.kind.as_str().replace('_', " "),
                s.session,
                bordin_core::monitoring::signals::measure_label(&s.measure)
            )
        })
        .collect();
    if parts.is_empty() {
        "No ruptures or reliable changes.".into()
    } else {
        format!("Marked: {}.", parts.join("; "))
    }
}

/// The charts of one client (subject) of a case.
fn subject_charts(view: &CaseView, subject: &str, label: &str) -> Markup {
    let signals: Vec<&Signal> = view
        .signals
        .iter()
        .filter(|(s, _)| s == subject)
        .map(|(_, s)| s)
        .collect();
    let mut charts = Vec::new();
    let id = |name: &str| {
        format!(
            "chart-{}-{name}",
            if subject == THERAPIST {
                "case"
            } else {
                subject
            }
        )
    };

    let wai = points(view, subject, "wai_sr.total");
    let wait = points(view, THERAPIST, "wai_srt.total");
    if !wai.is_empty() || !wait.is_empty() {
        let mut lines = vec![Line {
            label: "client (WAI-SR)".into(),
            color: BLUE_,
            points: wai.clone(),
            square: false,
        }];
        if !wait.is_empty() {
            lines.push(Line {
                label: "therapist (WAI-SRT)".into(),
                color: ORANGE,
                points: wait.clone(),
                square: true,
            });
        }
        charts.push(Chart {
            x_label: "Session",
            id: id("alliance"),
            title: format!("Working alliance{label}"),
            y_label: "WAI total (12–60)".into(),
            y_range: (12.0, 60.0),
            lines,
            markers: markers(&signals, "wai_sr.total"),
            rules: vec![],
            bands: vec![],
            summary: format!(
                "{}. {}. {}",
                describe(&wai, "Client WAI-SR total"),
                describe(&wait, "therapist WAI-SRT total"),
                events(
                    &signals,
                    &[SignalKind::Rupture, SignalKind::Repair],
                    &["wai_sr.total"]
                )
            ),
        });
        let subs: Vec<(&str, Vec<(i64, f64)>)> = ["bond", "goal", "task"]
            .iter()
            .map(|s| (*s, points(view, subject, &format!("wai_sr.{s}"))))
            .collect();
        let mut mk = Vec::new();
        for s in ["bond", "goal", "task"] {
            mk.extend(markers(&signals, &format!("wai_sr.{s}")));
        }
        charts.push(Chart {
            x_label: "Session",
            id: id("subscales"),
            title: format!("Bond, goals and tasks (client){label}"),
            y_label: "WAI subscale (4–20)".into(),
            y_range: (4.0, 20.0),
            lines: subs
                .iter()
                .zip([BLUE_, PURPLE, GREEN_])
                .enumerate()
                .map(|(i, ((n, p), c))| Line {
                    label: (*n).into(),
                    color: c,
                    points: p.clone(),
                    square: i == 1,
                })
                .collect(),
            markers: mk,
            rules: vec![],
            bands: vec![],
            summary: format!(
                "{}. {}",
                subs.iter()
                    .map(|(n, p)| describe(p, n))
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(". "),
                events(
                    &signals,
                    &[SignalKind::Rupture, SignalKind::Repair],
                    &["wai_sr.bond", "wai_sr.goal", "wai_sr.task"]
                )
            ),
        });
    }
    let sc = points(view, subject, "session_check.total");
    if !sc.is_empty() {
        charts.push(Chart {
            x_label: "Session",
            id: id("session-check"),
            title: format!("Session Check{label}"),
            y_label: "Session Check total (0–40)".into(),
            y_range: (0.0, 40.0),
            lines: vec![Line {
                label: "client".into(),
                color: BLUE_,
                points: sc.clone(),
                square: false,
            }],
            markers: markers(&signals, "session_check.total"),
            rules: vec![],
            bands: vec![],
            summary: format!(
                "{}. {}",
                describe(&sc, "Session Check total"),
                events(
                    &signals,
                    &[SignalKind::Rupture, SignalKind::Repair],
                    &["session_check.total"]
                )
            ),
        });
    }
    let phq = points(view, subject, "phq9.total");
    let gad = points(view, subject, "gad7.total");
    if !phq.is_empty() || !gad.is_empty() {
        let mut bands = Vec::new();
        let mut rules = Vec::new();
        if let (Some(first), Some(rule)) = (phq.first(), view.rules.change.get("phq9.total")) {
            bands.push((
                (first.1 - rule.reliable_points).max(0.0),
                (first.1 + rule.reliable_points).min(27.0),
                format!(
                    "PHQ-9 change under {} points: not reliable",
                    rule.reliable_points
                ),
            ));
            if let Some(c) = rule.caseness {
                rules.push((c, format!("PHQ-9 caseness {c}")));
            }
            if let Some(m) = view.rules.expected.models.get("phq9.total") {
                if let Some(b) = m
                    .bands
                    .iter()
                    .find(|b| first.1 >= b.intake_min && first.1 <= b.intake_max)
                {
                    let last = phq.last().map_or(1, |p| p.0);
                    bands.push((
                        b.expected(last) + b.p10,
                        b.expected(last) + b.p90,
                        format!("expected range at session {last} (this clinic)"),
                    ));
                }
            }
        }
        let mut mk = markers(&signals, "phq9.total");
        mk.extend(markers(&signals, "gad7.total"));
        charts.push(Chart {
            x_label: "Session",
            id: id("outcome"),
            title: format!("Outcome{label}"),
            y_label: "score (lower is better)".into(),
            y_range: (0.0, 27.0),
            lines: vec![
                Line {
                    label: "PHQ-9".into(),
                    color: PURPLE,
                    points: phq.clone(),
                    square: false,
                },
                Line {
                    label: "GAD-7".into(),
                    color: ORANGE,
                    points: gad.clone(),
                    square: true,
                },
            ],
            markers: mk,
            rules,
            bands,
            summary: format!(
                "{}. {}. {}",
                describe(&phq, "PHQ-9 total"),
                describe(&gad, "GAD-7 total"),
                events(
                    &signals,
                    &[
                        SignalKind::ReliableImprovement,
                        SignalKind::Recovery,
                        SignalKind::ReliableDeterioration,
                        SignalKind::NotOnTrack
                    ],
                    &["phq9.", "gad7."]
                )
            ),
        });
    }
    html! { @for c in &charts { (figure(c)) } }
}

/// Every client's charts.
pub fn charts(view: &CaseView) -> Markup {
    let clients: Vec<&String> = view
        .series
        .subjects
        .keys()
        .filter(|s| s.as_str() != THERAPIST)
        .collect();
    html! {
        @if clients.is_empty() && view.series.subjects.is_empty() {
            p.muted { "Charts appear once scores are in." }
        }
        @for c in &clients {
            @let label = if clients.len() > 1 { view.case.clients.iter().find(|x| &&x.client_id == c).map_or(String::new(), |x| format!(" — {}", x.code)) } else { String::new() };
            (subject_charts(view, c, &label))
        }
        @if clients.is_empty() && !view.series.subjects.is_empty() { (subject_charts(view, THERAPIST, "")) }
    }
}

fn urgency_badge(u: &str) -> Markup {
    let (class, word) = match u {
        "red" => ("urgent", "red"),
        "amber" => ("moderate", "amber"),
        _ => ("ok", "green"),
    };
    html! { span.badge.(class) { (word) } }
}

/// The case's alerts: actionable ones with their buttons, then the history.
pub fn alerts_section(user: &CurrentUser, alerts: &[AlertRow]) -> Markup {
    let open: Vec<&AlertRow> = alerts
        .iter()
        .filter(|a| a.status == "open" || a.status == "acknowledged")
        .collect();
    let done: Vec<&AlertRow> = alerts.iter().filter(|a| a.status == "resolved").collect();
    let info: Vec<&AlertRow> = alerts.iter().filter(|a| a.status == "info").collect();
    html! {
        section id="alerts" {
            h2 { "Alerts" }
            @if open.is_empty() { p.muted { "No open alerts." } }
            @for a in &open {
                div.card.alert id={ "alert-" (a.alert_id) } {
                    p { (urgency_badge(&a.urgency)) " " strong { (a.kind.replace('_', " ")) } " · session " (a.session_number) " · " (a.status) }
                    p { (a.message) }
                    p.small { a href={ "/alerts/" (a.alert_id) } { "What to consider, and history" } }
                    div.row {
                        @if a.status == "open" {
                            form method="post" action={ "/alerts/" (a.alert_id) "/acknowledge" } {
                                input type="hidden" name="csrf" value=(user.csrf);
                                button.secondary type="submit" { "Acknowledge" }
                            }
                        }
                        form method="post" action={ "/alerts/" (a.alert_id) "/resolve" } {
                            input type="hidden" name="csrf" value=(user.csrf);
                            label.field for={ "note-" (a.alert_id) } { "What was done" }
                            input id={ "note-" (a.alert_id) } type="text" name="note" required placeholder="e.g. talked about the rupture with the client";
                            button type="submit" { "Resolve" }
                        }
                    }
                }
            }
            @if !done.is_empty() || !info.is_empty() {
                details {
                    summary { "Earlier alerts and signals (" (done.len() + info.len()) ")" }
                    ul {
                        @for a in done.iter().chain(info.iter()) {
                            li { (urgency_badge(&a.urgency)) " session " (a.session_number) ": " (a.message)
                                @if let Some(t) = &a.action_taken { " — " em { (t) } } }
                        }
                    }
                }
            }
        }
    }
}

pub async fn show_alert(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(alert_id): Path<String>,
) -> Result<Markup, AppError> {
    let alert = state
        .store
        .alert(user.clinic_id(), &alert_id)
        .await
        .map_err(|_| AppError::NotFound)?;
    let access = crate::policy::case(&state, &user, &alert.case_id).await?;
    let events = state
        .store
        .alert_events(access.clinic_id(), &alert_id)
        .await?;
    let kind = SignalKind::parse(&alert.kind);
    let case = state
        .store
        .case(access.clinic_id(), access.case_id())
        .await?;
    Ok(page(
        "Alert",
        &user,
        html! {
            p.small { a href={ "/cases/" (case.case_id) "#alerts" } { "← " (case.title) } }
            h1 { (alert.kind.replace('_', " ")) " · session " (alert.session_number) }
            p { (urgency_badge(&alert.urgency)) " " (alert.status) }
            p { (alert.message) }
            @if let Some(k) = kind {
                @let s = suggestions::for_kind(k);
                div.card {
                    h2 { (s.headline) }
                    ul { @for step in s.steps { li { (step) } } }
                    p.small.muted { "Evidence: " (s.evidence) }
                }
            }
            h2 { "History" }
            ol {
                @for e in &events {
                    li { (format_ms(e.at)) " · " (e.action) " by " (e.actor) @if let Some(n) = &e.note { " — " (n) } }
                }
            }
            details { summary { "The figures behind it" } pre.small { (alert.detail) } }
        },
    ))
}

#[derive(Deserialize)]
pub struct AlertAction {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    note: String,
}

async fn change(
    state: &AppState,
    user: &CurrentUser,
    alert_id: &str,
    action: &str,
    note: &str,
) -> Result<Response, AppError> {
    let alert = state
        .store
        .alert(user.clinic_id(), alert_id)
        .await
        .map_err(|_| AppError::NotFound)?;
    let access = crate::policy::case(state, user, &alert.case_id).await?;
    let actor = format!("{} ({})", user.user.display_name, user.user.user_id);
    state
        .store
        .update_alert(
            access.clinic_id(),
            alert_id,
            action,
            &actor,
            Some(note),
            crate::state::now_ms(),
        )
        .await
        .map_err(|e| match e {
            bordin_store::StoreError::Conflict(m) => AppError::BadRequest(m),
            other => other.into(),
        })?;
    Ok(Redirect::to(&format!("/cases/{}#alerts", alert.case_id)).into_response())
}

pub async fn acknowledge(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(alert_id): Path<String>,
    Form(f): Form<AlertAction>,
) -> Result<Response, AppError> {
    user.check_csrf(&f.csrf)?;
    change(&state, &user, &alert_id, "acknowledged", &f.note).await
}

pub async fn resolve(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(alert_id): Path<String>,
    Form(f): Form<AlertAction>,
) -> Result<Response, AppError> {
    user.check_csrf(&f.csrf)?;
    if f.note.trim().is_empty() {
        return Err(AppError::BadRequest("Say what was done to resolve the alert (e.g. \"talked about the rupture with the client\").".into()));
    }
    change(&state, &user, &alert_id, "resolved", &f.note).await
}
