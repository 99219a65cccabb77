//! The client page (one case): sessions with each session's scores, risk items, sending a form
//! as a link, the clinician's own ratings, and adding sessions.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use bordin_core::care::{Modality, SessionStatus};
use bordin_core::{Registry, Respondent};
use bordin_store::CaseScoreRow;
use maud::{html, Markup};
use serde::Deserialize;

use super::layout::page;
use super::questionnaire::{questionnaire, Entered};
use crate::actions::{self, CaseView, Created, SessionChoice, SubmitOutcome};
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::policy;
use crate::state::{format_ms, AppState};

/// Instruments in the order their columns appear.
const COLUMN_ORDER: [&str; 5] = ["session_check", "wai_sr", "wai_srt", "phq9", "gad7"];

/// Scores of one response as "total (bond 15.00 · goal …)".
fn score_cell(
    registry: &Registry,
    instrument_id: &str,
    rows: &[&CaseScoreRow],
    clients: &[bordin_store::ClientRow],
) -> Markup {
    let Some(instrument) = registry.get(instrument_id) else {
        return html! {};
    };
    // Normally one response per instrument and session; show each if there are more.
    let mut responses: Vec<&str> = Vec::new();
    for r in rows {
        if !responses.contains(&r.response_id.as_str()) {
            responses.push(&r.response_id);
        }
    }
    html! {
        @for (n, response_id) in responses.iter().enumerate() {
            @let of_response: Vec<&&CaseScoreRow> = rows.iter().filter(|r| r.response_id == *response_id).collect();
            @let value = |scale: &str| of_response.iter().find(|r| r.scale_id == scale).and_then(|r| r.value);
            @if n > 0 { hr; }
            @if clients.len() > 1 {
                @if let Some(c) = of_response.first().and_then(|r| r.client_id.as_ref()).and_then(|id| clients.iter().find(|c| &c.client_id == id)) {
                    span.small.muted { (c.code) ": " }
                }
            }
            @if let Some(main) = instrument.scales.first() {
                @let d = usize::from(main.decimals).min(1);
                a href={ "/responses/" (response_id) } title="Answers and history" {
                    @match value(&main.id) {
                        Some(v) => { strong { (format!("{v:.d$}")) } }
                        None => { span.muted title="not scored: too many items missing" { "n/s" } }
                    }
                }
                @if let Some(band) = of_response.iter().find(|r| r.scale_id == main.id).and_then(|r| r.band.clone()) {
                    " " span.badge.(band.replace(' ', "-")) { (band) }
                }
                @if of_response.iter().any(|r| r.version > 1) { " " span.badge title="corrected" { "v" (of_response[0].version) } }
                @let subs: Vec<String> = instrument.scales.iter().skip(1).filter_map(|s| value(&s.id).map(|v| format!("{} {:.*}", s.title.to_lowercase(), usize::from(s.decimals).min(1), v))).collect();
                @if !subs.is_empty() { br; span.small.muted { (subs.join(" · ")) } }
            }
        }
    }
}

fn scores_table(registry: &Registry, view: &CaseView) -> Markup {
    // session number (None = not tied to a session) → instrument → score rows
    let mut grid: BTreeMap<Option<i64>, BTreeMap<&str, Vec<&CaseScoreRow>>> = BTreeMap::new();
    for r in &view.scores {
        grid.entry(r.session_number)
            .or_default()
            .entry(r.instrument_id.as_str())
            .or_default()
            .push(r);
    }
    let mut columns: Vec<&str> = COLUMN_ORDER
        .iter()
        .copied()
        .filter(|c| view.scores.iter().any(|r| r.instrument_id == *c))
        .collect();
    for r in &view.scores {
        if !columns.contains(&r.instrument_id.as_str()) {
            columns.push(&r.instrument_id);
        }
    }
    html! {
        div.table-wrap {
            table id="scores" {
                caption.visually-hidden { "Scores per session" }
                thead { tr {
                    th scope="col" { "Session" } th scope="col" { "Date" }
                    @for c in &columns {
                        th scope="col" {
                            (registry.get(c).map_or(c.to_string(), |i| i.short_title.clone()))
                            @if registry.get(c).is_some_and(|i| i.respondent == Respondent::Therapist) { br; span.small { "(therapist)" } }
                        }
                    }
                } }
                tbody {
                    @for s in &view.sessions {
                        tr {
                            th scope="row" { (s.number) }
                            td { (s.held_on) @if s.status != SessionStatus::Attended { " " span.badge { (s.status.as_str()) } } }
                            @for c in &columns {
                                td { @if let Some(rows) = grid.get(&Some(s.number)).and_then(|m| m.get(c)) { (score_cell(registry, c, rows, &view.case.clients)) } }
                            }
                        }
                    }
                    @if let Some(unattached) = grid.get(&None) {
                        tr {
                            th scope="row" { "—" } td { "no session" }
                            @for c in &columns { td { @if let Some(rows) = unattached.get(c) { (score_cell(registry, c, rows, &view.case.clients)) } } }
                        }
                    }
                }
            }
        }
    }
}

fn session_select(view: &CaseView) -> Markup {
    html! {
        select id="session" name="session" {
            option value="new" { "New session today" }
            @for s in view.sessions.iter().rev() {
                option value=(s.session_id) { "Session " (s.number) " · " (s.held_on) }
            }
            option value="" { "Not tied to a session" }
        }
    }
}

fn case_page(
    user: &CurrentUser,
    registry: &Registry,
    view: &CaseView,
    notice: Option<Markup>,
) -> Markup {
    let words = view.case.setting.words();
    let status = registry.status();
    let sendable: Vec<_> = status
        .iter()
        .filter(|s| s.respondent != "therapist" && s.can_administer)
        .collect();
    // The every-session alliance check first: it is what is sent most.
    let mut sendable = sendable;
    sendable.sort_by_key(|s| (s.id != "session_check", s.id.clone()));
    let blocked: Vec<_> = registry
        .instruments()
        .filter(|i| i.respondent != Respondent::Therapist)
        .filter_map(|i| registry.form(&i.id, &words).err())
        .collect();
    let therapist_forms: Vec<_> = status
        .iter()
        .filter(|s| s.respondent == "therapist")
        .collect();
    html! {
        p.small { a href="/caseload" { "← Caseload" } }
        h1 { (view.case.title) }
        p.muted {
            @for c in &view.case.clients { (c.code) @if let Some(n) = &c.display_name { " (" (n) ")" } " · " }
            (view.case.setting.as_str()) " · " (view.case.status.as_str().replace('_', " ")) " · opened " (view.case.opened_on)
            " · " @for (i, (_, name, role)) in view.case.clinicians.iter().enumerate() { @if i > 0 { ", " } (name) " (" (role.as_str()) ")" }
        }
        @if let Some(n) = notice { (n) }
        @for (_, flag) in view.flags.iter().filter(|(_, f)| f.severity == "urgent") {
            div.notice.urgent role="alert" { strong { "Risk item: " } (flag.message) }
        }
        (super::monitoring::alerts_section(user, &view.alerts))
        section.card id="goals" {
            h2 { a href={ "/cases/" (view.case.case_id) "/goals" } { "Goals and tasks" } }
            p.small.muted { "Goals, tasks, agreement ratings, the formulation and the agreements log." }
        }
        (super::transcripts::case_section(&view.case.case_id, &view.sessions, &view.listening))
        h2 { "Progress" }
        (super::monitoring::charts(view))
        h2 { "Scores" }
        @if view.sessions.is_empty() && view.scores.is_empty() { p.muted { "No sessions yet." } } @else { (scores_table(registry, view)) }

        div.row {
            form.card method="post" action={ "/cases/" (view.case.case_id) "/send" } {
                h2 { "Send a form to the " (words.client) }
                input type="hidden" name="csrf" value=(user.csrf);
                label.field for="instrument" { "Form" }
                select id="instrument" name="instrument" {
                    @for s in &sendable { option value=(s.id) { (s.title) } }
                }
                @if view.case.clients.len() > 1 {
                    label.field for="client" { "Who answers" }
                    select id="client" name="client" {
                        @for c in &view.case.clients { option value=(c.client_id) { (c.code) @if let Some(n) = &c.display_name { " · " (n) } } }
                    }
                }
                label.field for="session" { "For session" }
                (session_select(view))
                p { button type="submit" { "Create link" } }
                @for b in &blocked { p.small.muted { (b.reason) " " (b.fix) } }
            }
            form.card method="get" action={ "/cases/" (view.case.case_id) "/enter" } {
                h2 { "Rate the session yourself" }
                label.field for="rate-instrument" { "Form" }
                select id="rate-instrument" name="instrument" {
                    @for s in &therapist_forms { option value=(s.id) disabled[!s.can_administer] { (s.title) } }
                    @for s in &sendable { option value=(s.id) { (s.title) " — enter the " (words.client) "'s paper answers" } }
                }
                label.field for="rate-session" { "For session" }
                select id="rate-session" name="session" {
                    @for s in view.sessions.iter().rev() { option value=(s.session_id) { "Session " (s.number) " · " (s.held_on) } }
                    option value="" { "Not tied to a session" }
                }
                p { button.secondary type="submit" { "Open form" } }
            }
            form.card method="post" action={ "/cases/" (view.case.case_id) "/sessions" } {
                h2 { "Add a session" }
                input type="hidden" name="csrf" value=(user.csrf);
                label.field for="held_on" { "Date" }
                input id="held_on" type="date" name="held_on" value=(crate::state::today()) required;
                label.field for="modality" { "How" }
                select id="modality" name="modality" { @for m in Modality::ALL { option value=(m.as_str()) { (m.as_str().replace('_', " ")) } } }
                label.field for="status" { "Status" }
                select id="status" name="status" { @for st in [SessionStatus::Attended, SessionStatus::Missed, SessionStatus::Cancelled, SessionStatus::Planned] { option value=(st.as_str()) { (st.as_str()) } } }
                p { button.secondary type="submit" { "Add session" } }
            }
        }
        details.card {
            summary { "People in this case" }
            div.row {
                form method="post" action={ "/cases/" (view.case.case_id) "/clients" } {
                    h2 { "Add a " (words.client) " (partner, family member)" }
                    input type="hidden" name="csrf" value=(user.csrf);
                    label.field for="add-code" { "Client code (existing or new)" }
                    input id="add-code" type="text" name="code" required;
                    label.field for="add-name" { "Display name (optional, for a new client)" }
                    input id="add-name" type="text" name="display_name";
                    p { button.secondary type="submit" { "Add to case" } }
                }
                form method="post" action={ "/cases/" (view.case.case_id) "/clinicians" } {
                    h2 { "Share with a colleague" }
                    input type="hidden" name="csrf" value=(user.csrf);
                    label.field for="share-user" { "Colleague" }
                    select id="share-user" name="user" {
                        @for u in view.staff.iter().filter(|u| !view.case.clinicians.iter().any(|(id, _, _)| id == &u.user_id)) {
                            option value=(u.user_id) { (u.display_name) " (" (u.role.as_str()) ")" }
                        }
                    }
                    label.field for="share-role" { "As" }
                    select id="share-role" name="role" { option value="co" { "co-" (words.helper) } option value="shared" { "cover / consultation" } }
                    p { button.secondary type="submit" { "Share case" } }
                }
            }
        }
        @if !view.pending.is_empty() {
            h2 { "Links waiting for answers" }
            ul {
                @for a in &view.pending {
                    li { (registry.get(&a.instrument_id).map_or(a.instrument_id.clone(), |i| i.short_title.clone()))
                        " · sent " (format_ms(a.created_at))
                        @if let Some(e) = a.expires_at { " · expires " (format_ms(e)) } }
                }
            }
        }
    }
}

pub async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(case_id): Path<String>,
) -> Result<Markup, AppError> {
    let access = policy::case(&state, &user, &case_id).await?;
    let view = actions::case_view(&state, &access).await?;
    let registry = state.registry(access.clinic_id()).await?;
    Ok(page(
        &view.case.title,
        &user,
        case_page(&user, &registry, &view, None),
    ))
}

fn parse_session(s: &str) -> SessionChoice {
    match s {
        "" => SessionChoice::None,
        "new" => SessionChoice::NewToday(Modality::InPerson),
        id => SessionChoice::Existing(id.to_owned()),
    }
}

#[derive(Deserialize)]
pub struct SendInput {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    instrument: String,
    #[serde(default)]
    session: String,
    #[serde(default)]
    client: String,
}

pub async fn send(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(case_id): Path<String>,
    Form(input): Form<SendInput>,
) -> Result<Response, AppError> {
    user.check_csrf(&input.csrf)?;
    let access = policy::case(&state, &user, &case_id).await?;
    let registry = state.registry(access.clinic_id()).await?;
    let notice = match actions::send_form(
        &state,
        &user,
        &access,
        &input.instrument,
        &parse_session(&input.session),
        Some(&input.client),
    )
    .await
    {
        Ok(link) => {
            let url = format!(
                "{}{}",
                state.config.public_url.as_deref().unwrap_or(""),
                link.path
            );
            let title = registry
                .get(&link.administration.instrument_id)
                .map_or(String::new(), |i| i.title.clone());
            html! {
                div.notice.ok role="status" id="link-created" {
                    p { strong { "Link created for " (title) "." } " Send it to the client by your usual secure channel. It can be used once"
                        @if let Some(e) = link.administration.expires_at { " until " (format_ms(e)) } "." }
                    p.link-box { a id="form-link" href=(url) { (url) } }
                }
            }
        }
        Err(AppError::BadRequest(msg)) => html! { div.notice.urgent role="alert" { (msg) } },
        Err(e @ AppError::ConsentRequired { .. }) => {
            html! { div.notice.urgent role="alert" id="consent-needed" { (e.to_string()) } }
        }
        Err(e) => return Err(e),
    };
    let view = actions::case_view(&state, &access).await?;
    Ok(page(
        &view.case.title,
        &user,
        case_page(&user, &registry, &view, Some(notice)),
    )
    .into_response())
}

#[derive(Deserialize)]
pub struct SessionInput {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    held_on: String,
    #[serde(default)]
    modality: String,
    #[serde(default)]
    status: String,
}

pub async fn add_session(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(case_id): Path<String>,
    Form(input): Form<SessionInput>,
) -> Result<Response, AppError> {
    user.check_csrf(&input.csrf)?;
    let access = policy::case(&state, &user, &case_id).await?;
    let modality = Modality::parse(&input.modality).unwrap_or(Modality::InPerson);
    let status = SessionStatus::parse(&input.status).unwrap_or(SessionStatus::Attended);
    match actions::add_session(&state, &access, &input.held_on, modality, status).await? {
        Created::Ok(_) => Ok(Redirect::to(&format!("/cases/{case_id}")).into_response()),
        Created::Invalid(errors) => {
            let view = actions::case_view(&state, &access).await?;
            let registry = state.registry(access.clinic_id()).await?;
            let notice = html! { div.notice.urgent role="alert" { @for e in &errors { p { "Date: " (e.message) } } } };
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                page(
                    &view.case.title,
                    &user,
                    case_page(&user, &registry, &view, Some(notice)),
                ),
            )
                .into_response())
        }
    }
}

#[derive(Deserialize)]
pub struct EnterQuery {
    #[serde(default)]
    instrument: String,
    #[serde(default)]
    session: String,
}

fn enter_page(
    user: &CurrentUser,
    case_id: &str,
    form: &bordin_core::registry::Form,
    session: &str,
    entered: &Entered,
) -> Markup {
    page(
        &form.title,
        user,
        html! {
            p.small { a href={ "/cases/" (case_id) } { "← Back to the client" } }
            h1 { (form.title) }
            @if form.instrument.respondent != Respondent::Therapist {
                p.notice { "You are entering answers the client gave on paper." }
            }
            (questionnaire(form, &format!("/cases/{case_id}/enter"), entered, &[("csrf", &user.csrf), ("_instrument", &form.instrument_id), ("_session", session)], "Save answers"))
        },
    )
}

pub async fn enter_form(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(case_id): Path<String>,
    Query(q): Query<EnterQuery>,
) -> Result<Markup, AppError> {
    let access = policy::case(&state, &user, &case_id).await?;
    let form = actions::clinician_form(&state, &access, &q.instrument).await?;
    Ok(enter_page(
        &user,
        &case_id,
        &form,
        &q.session,
        &Entered::default(),
    ))
}

pub async fn enter_submit(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(case_id): Path<String>,
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
    let (instrument, session) = (take("_instrument"), take("_session"));
    let answers: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "csrf" | "_instrument" | "_session"))
        .cloned()
        .collect();
    let access = policy::case(&state, &user, &case_id).await?;
    match actions::submit_clinician(
        &state,
        &user,
        &access,
        &instrument,
        &parse_session(&session),
        &answers,
    )
    .await?
    {
        SubmitOutcome::Invalid { form, errors } => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            enter_page(
                &user,
                &case_id,
                &form,
                &session,
                &Entered::new(&answers, &errors),
            ),
        )
            .into_response()),
        _ => Ok(Redirect::to(&format!("/cases/{case_id}")).into_response()),
    }
}

#[derive(Deserialize)]
pub struct AddClientInput {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    display_name: String,
}

pub async fn add_client(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(case_id): Path<String>,
    Form(input): Form<AddClientInput>,
) -> Result<Response, AppError> {
    user.check_csrf(&input.csrf)?;
    let access = policy::case(&state, &user, &case_id).await?;
    let outcome =
        actions::add_client_to_case(&state, &access, &input.code, Some(&input.display_name))
            .await?;
    after_change(&state, &user, &access, outcome.errors()).await
}

#[derive(Deserialize)]
pub struct ShareInput {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    role: String,
}

pub async fn share(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(case_id): Path<String>,
    Form(input): Form<ShareInput>,
) -> Result<Response, AppError> {
    user.check_csrf(&input.csrf)?;
    let access = policy::case(&state, &user, &case_id).await?;
    let role = bordin_core::care::CaseRole::parse(&input.role)
        .filter(|r| *r != bordin_core::care::CaseRole::Lead)
        .unwrap_or(bordin_core::care::CaseRole::Co);
    let outcome = actions::share_case(&state, &access, &input.user, role).await?;
    after_change(&state, &user, &access, outcome.errors()).await
}

/// Back to the case page after a change, or the page again with the problems named.
async fn after_change(
    state: &AppState,
    user: &CurrentUser,
    access: &crate::policy::CaseAccess,
    errors: &[actions::FieldError],
) -> Result<Response, AppError> {
    if errors.is_empty() {
        return Ok(Redirect::to(&format!("/cases/{}", access.case_id())).into_response());
    }
    let view = actions::case_view(state, access).await?;
    let registry = state.registry(access.clinic_id()).await?;
    let notice =
        html! { div.notice.urgent role="alert" { @for e in errors { p { (e.message) } } } };
    Ok((
        StatusCode::UNPROCESSABLE_ENTITY,
        page(
            &view.case.title,
            user,
            case_page(user, &registry, &view, Some(notice)),
        ),
    )
        .into_response())
}
