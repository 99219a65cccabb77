//! A clinician's caseload, and opening a case for a new client.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use bordin_core::Setting;
use bordin_store::CaseSummary;
use maud::{html, Markup};
use serde::Deserialize;

use super::layout::page;
use crate::actions::{self, Created, FieldError, NewClientCase};
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::policy;
use crate::state::AppState;

/// "12 (moderate)" for the latest value of a scale, or "—".
fn latest(s: &CaseSummary, instrument: &str, scale: &str, decimals: usize) -> Markup {
    match s
        .latest
        .iter()
        .find(|l| l.instrument_id == instrument && l.scale_id == scale)
    {
        Some(l) => html! {
            @if let Some(v) = l.value { (format!("{v:.decimals$}")) } @else { "—" }
            @if let Some(b) = &l.band { " " span.badge.(b.replace(' ', "-")) { (b) } }
        },
        None => html! { span.muted { "—" } },
    }
}

pub async fn show(State(state): State<AppState>, user: CurrentUser) -> Result<Markup, AppError> {
    let ids = policy::caseload(&state, &user).await?;
    let mut cases = state.store.case_summaries(user.clinic_id(), &ids).await?;
    let attention = attention(&state, user.clinic_id()).await?;
    let rank = |case_id: &str| attention.get(case_id).map_or(0, |a| a.rank);
    // Red first, then amber, then green; within each, the most recently seen.
    cases.sort_by(|a, b| {
        rank(&b.case.case_id)
            .cmp(&rank(&a.case.case_id))
            .then_with(|| b.last_session_on.cmp(&a.last_session_on))
    });
    let clinic = state.store.clinic(user.clinic_id()).await?;
    Ok(page(
        "Caseload",
        &user,
        html! {
            h1 { "Caseload" }
            p.muted { (clinic.name) " · " (cases.len()) " cases" }
            div.table-wrap {
                table {
                    caption.visually-hidden { "Cases with their latest scores" }
                    thead { tr {
                        th scope="col" { "Client" } th scope="col" { "Setting" } th scope="col" { "Status" }
                        th.num scope="col" { "Sessions" } th scope="col" { "Last session" }
                        th.num scope="col" { "Session Check" } th.num scope="col" { "WAI-SR" }
                        th.num scope="col" { "PHQ-9" } th.num scope="col" { "GAD-7" } th scope="col" { "Attention" }
                    } }
                    tbody {
                        @for s in &cases {
                            tr {
                                td {
                                    a href={ "/cases/" (s.case.case_id) } { (s.case.title) }
                                    @for c in s.case.clients.iter().filter(|c| c.code != s.case.title) { " " span.muted.small { (c.code) } }
                                }
                                td { (s.case.setting.as_str()) }
                                td { (s.case.status.as_str().replace('_', " ")) }
                                td.num { (s.sessions) }
                                td { (s.last_session_on.as_deref().unwrap_or("—")) }
                                td.num { (latest(s, "session_check", "total", 0)) }
                                td.num { (latest(s, "wai_sr", "total", 1)) }
                                td.num { (latest(s, "phq9", "total", 0)) }
                                td.num { (latest(s, "gad7", "total", 0)) }
                                td.attention { (attention_cell(attention.get(s.case.case_id.as_str()))) }
                            }
                        }
                    }
                }
            }
            @if cases.is_empty() { p { "No cases yet. " a href="/clients/new" { "Add a client" } "." } }
        },
    ))
}

fn new_client_form(
    user: &CurrentUser,
    code: &str,
    name: &str,
    setting: Setting,
    errors: &[FieldError],
) -> Markup {
    let err = |f: &str| {
        errors
            .iter()
            .find(|e| e.field == f)
            .map(|e| e.message.clone())
    };
    page(
        "New client",
        user,
        html! {
            h1 { "New client" }
            form.card method="post" action="/clients" {
                input type="hidden" name="csrf" value=(user.csrf);
                label.field for="code" { "Client code (pseudonymous)" }
                @if let Some(e) = err("code") { p.error id="code-error" { (e) } }
                input id="code" type="text" name="code" value=(code) required aria-describedby=[err("code").map(|_| "code-error")];
                label.field for="display_name" { "Display name (optional)" }
                @if let Some(e) = err("display_name") { p.error { (e) } }
                input id="display_name" type="text" name="display_name" value=(name);
                label.field for="setting" { "Setting" }
                select id="setting" name="setting" {
                    @for s in Setting::ALL { option value=(s.as_str()) selected[s == setting] { (s.as_str()) } }
                }
                p {
                    label {
                        input type="checkbox" id="consent_questionnaires" name="consent_questionnaires" value="true";
                        " The client agreed to answer questionnaires (recorded as their consent; other uses are recorded on the goals page)"
                    }
                }
                p { button type="submit" { "Open case" } }
            }
        },
    )
}

pub async fn new_form(user: CurrentUser) -> Markup {
    new_client_form(&user, "", "", Setting::Therapy, &[])
}

#[derive(Deserialize)]
pub struct NewClientInput {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    setting: String,
    /// The checkbox "the client agreed to answer questionnaires" (`true` when ticked).
    #[serde(default)]
    consent_questionnaires: bool,
}

pub async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(input): Form<NewClientInput>,
) -> Result<Response, AppError> {
    user.check_csrf(&input.csrf)?;
    let setting = Setting::parse(&input.setting).unwrap_or_default();
    let new = NewClientCase {
        code: input.code.clone(),
        display_name: Some(input.display_name.clone()),
        setting,
        consents: if input.consent_questionnaires {
            vec![bordin_core::goals::ConsentKind::Questionnaires]
        } else {
            Vec::new()
        },
    };
    Ok(
        match actions::create_client_case(&state, &user, &new).await? {
            Created::Ok((_, case_id)) => Redirect::to(&format!("/cases/{case_id}")).into_response(),
            Created::Invalid(errors) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                new_client_form(&user, &input.code, &input.display_name, setting, &errors),
            )
                .into_response(),
        },
    )
}

/// Why a case needs attention: its worst open alert, and the reasons in words.
pub struct Attention {
    /// 2 red, 1 amber, 0 green.
    pub rank: u8,
    pub reasons: Vec<String>,
}

/// Open and acknowledged alerts per case, summarised.
pub async fn attention(
    state: &AppState,
    clinic_id: &str,
) -> Result<std::collections::HashMap<String, Attention>, AppError> {
    let mut out: std::collections::HashMap<String, Attention> = std::collections::HashMap::new();
    for a in state
        .store
        .alerts(clinic_id, None, &["open", "acknowledged"])
        .await?
    {
        let rank = match a.urgency.as_str() {
            "red" => 2,
            "amber" => 1,
            _ => 0,
        };
        let e = out.entry(a.case_id.clone()).or_insert(Attention {
            rank: 0,
            reasons: Vec::new(),
        });
        e.rank = e.rank.max(rank);
        let reason = format!(
            "{} (session {})",
            a.kind.replace('_', " "),
            a.session_number
        );
        if !e.reasons.contains(&reason) {
            e.reasons.push(reason);
        }
    }
    Ok(out)
}

fn attention_cell(a: Option<&Attention>) -> Markup {
    match a {
        None => html! { span.badge.ok { "green" } " " span.small.muted { "nothing open" } },
        Some(a) => {
            let (class, word) = match a.rank {
                2 => ("urgent", "red"),
                1 => ("moderate", "amber"),
                _ => ("ok", "green"),
            };
            let shown: Vec<&str> = a.reasons.iter().take(3).map(String::as_str).collect();
            html! {
                span.badge.(class) { (word) } " "
                span.small { (shown.join("; ")) @if a.reasons.len() > 3 { " and " (a.reasons.len() - 3) " more" } }
            }
        }
    }
}
