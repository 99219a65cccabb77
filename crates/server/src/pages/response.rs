//! One stored response: its answers, its scores, its correction history, and correcting it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use bordin_core::format_value;
use maud::{html, Markup};

use super::layout::page;
use super::questionnaire::{questionnaire_with, Entered};
use crate::actions::{self, CorrectOutcome, ResponseView};
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::state::{format_ms, AppState};

fn response_page(
    user: &CurrentUser,
    v: &ResponseView,
    entered: &Entered,
    reason: &str,
    problem: Option<&str>,
) -> Markup {
    let i = &v.instrument;
    let r = &v.shown;
    let answer_label = |pos: usize, value: bordin_core::Value| -> String {
        let rs = i.response_scale_of(pos);
        let text = bordin_core::exact_decimal(value).unwrap_or_default();
        match rs
            .points()
            .iter()
            .find(|p| bordin_core::Value::from_integer(p.value) == value)
        {
            Some(p) if p.label != text => format!("{text} · {}", p.label),
            _ => text,
        }
    };
    html! {
        p.small { a href={ "/cases/" (r.case_id) } { "← Back to the client" } }
        h1 { (i.title) }
        p.muted {
            "Version " (r.version) @if v.is_latest() { " (current)" } @else { " (superseded)" }
            " · " (format_ms(r.submitted_at)) " · " (r.source.as_str()) " · " (r.respondent.as_str())
        }
        @if let Some(reason) = &r.correction_reason { p.notice { strong { "Correction: " } (reason) } }
        h2 { "Scores" }
        ul id="response-scores" {
            @for (def, s) in i.scales.iter().zip(&v.sheet.scales) {
                li { (def.title) ": "
                    @match s.value { Some(x) => { strong { (format_value(x, def.decimals)) } } None => { span.muted { "not scored (" (s.missing) " missing)" } } }
                    @if let Some(b) = s.band { " " span.badge { (def.bands[b].label) } } }
            }
            @for f in v.sheet.flag_ids(i) { li { span.badge.urgent { (f) } } }
        }
        h2 { "Answers" }
        table {
            thead { tr { th { "Item" } th { "Answer" } } }
            tbody {
                @for (pos, item) in i.items.iter().enumerate() {
                    tr {
                        td {
                            @let text = v.form.as_ref().and_then(|f| f.items.get(pos)).map(|fi| fi.text.clone()).or_else(|| item.label.clone()).unwrap_or_default();
                            span.muted.small { (item.id) } " " (text)
                        }
                        td { @match v.answers.values().get(pos).copied().flatten() { Some(x) => { (answer_label(pos, x)) } None => { span.muted { "—" } } } }
                    }
                }
            }
        }
        @if v.history.len() > 1 {
            h2 { "History" }
            ol {
                @for h in &v.history {
                    li { a href={ "/responses/" (h.response_id) } { "Version " (h.version) } " · " (format_ms(h.submitted_at))
                        @if let Some(c) = &h.correction_reason { " · " (c) } }
                }
            }
        }
        @if v.is_latest() {
            @if let Some(form) = &v.form {
                details.card open[problem.is_some()] {
                    summary { "Correct these answers" }
                    p.small.muted { "A correction is saved as a new version with your reason; this version is kept unchanged." }
                    @if let Some(p) = problem { p.notice.urgent role="alert" { (p) } }
                    (questionnaire_with(form, &format!("/responses/{}/correct", r.response_id), entered, &[("csrf", &user.csrf)],
                        html! {
                            label.field for="reason" { "Reason for the correction" }
                            textarea id="reason" name="_reason" rows="2" required { (reason) }
                        }, "Save correction"))
                }
            }
        }
    }
}

fn entered_from(v: &ResponseView) -> Entered {
    let pairs: Vec<(String, String)> = v
        .answers
        .pairs(&v.instrument)
        .map(|(k, x)| {
            (
                k.to_owned(),
                bordin_core::exact_decimal(x).unwrap_or_default(),
            )
        })
        .collect();
    Entered::new(&pairs, &[])
}

pub async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(response_id): Path<String>,
) -> Result<Markup, AppError> {
    let (access, row) = actions::response_access(&state, &user, &response_id).await?;
    let v = actions::response_view(&state, &access, row).await?;
    Ok(page(
        &v.instrument.short_title,
        &user,
        response_page(&user, &v, &entered_from(&v), "", None),
    ))
}

pub async fn correct(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(response_id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let take = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    user.check_csrf(&take("csrf"))?;
    let reason = take("_reason");
    let answers: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "csrf" | "_reason"))
        .cloned()
        .collect();
    let (access, row) = actions::response_access(&state, &user, &response_id).await?;
    let outcome = actions::correct_response(&state, &user, &access, &row, &answers, &reason).await;
    let (entered, problem) = match outcome {
        Ok(CorrectOutcome::Stored { response_id }) => {
            return Ok(Redirect::to(&format!("/responses/{response_id}")).into_response())
        }
        Ok(CorrectOutcome::Invalid { errors }) => (
            Entered::new(&answers, &errors),
            "Some answers could not be used; see the questions marked below.".to_owned(),
        ),
        Ok(CorrectOutcome::NeedsReason) => (
            Entered::new(&answers, &[]),
            "Please give the reason for the correction.".to_owned(),
        ),
        Err(AppError::Store(bordin_store::StoreError::Conflict(msg)))
        | Err(AppError::Conflict(msg)) => (Entered::new(&answers, &[]), msg),
        Err(e) => return Err(e),
    };
    let v = actions::response_view(&state, &access, row).await?;
    Ok((
        StatusCode::UNPROCESSABLE_ENTITY,
        page(
            &v.instrument.short_title,
            &user,
            response_page(&user, &v, &entered, &reason, Some(&problem)),
        ),
    )
        .into_response())
}
