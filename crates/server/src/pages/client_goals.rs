//! The client's own goals page behind their case link (`/g/{clinic_id}/{secret}`): no account,
//! phone-first, in plain words and the setting's words. The secret in the path is the
//! credential (as for `/f/` form links), so there is no CSRF token; unknown, expired and revoked
//! links get the same "not valid" page as form links.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use bordin_core::goals::{FieldErrors, GoalStatus, Rater, RatingKind, TaskStatus};
use maud::{html, Markup};
use serde::Deserialize;

use super::layout::bare_page;
use crate::error::AppError;
use crate::goals::{self as actions, Edited, GoalInput, GoalsView, ReportInput, Scope, Written};
use crate::state::AppState;

/// The same page as for an invalid form link.
pub fn invalid_link() -> Response {
    (
        StatusCode::NOT_FOUND,
        bare_page(
            "Link not valid",
            html! {
                h1 { "This link is not valid" }
                p { "It may have expired, or it was never issued. Please ask the person you are working with for a new link." }
            },
        ),
    )
        .into_response()
}

/// One tap per answer: each number is its own submit button.
fn zero_to_ten(
    action: &str,
    kind: &str,
    question: &str,
    low: &str,
    high: &str,
    chosen: Option<i64>,
) -> Markup {
    html! {
        form.questionnaire method="post" action=(action) {
            input type="hidden" name="kind" value=(kind);
            fieldset.item {
                legend { (question) }
                @if let Some(c) = chosen { p.small.muted { "Your last answer: " (c) ". Tap again to change it." } }
                div.options.ten {
                    @for n in 0..=10 {
                        button.secondary type="submit" name="value" value=(n) aria-label={ (question) " " (n) } { (n) }
                    }
                }
                div.anchors aria-hidden="true" { span { (low) } span { (high) } }
            }
        }
    }
}

fn radios(name: &str, question: &str, low: &str, high: &str) -> Markup {
    html! {
        fieldset.item {
            legend { (question) " (optional)" }
            div.options.ten {
                @for n in 0..=10 {
                    label.opt { input type="radio" name=(name) value=(n); span aria-hidden="true" { (n) } span.visually-hidden { (n) } }
                }
            }
            div.anchors aria-hidden="true" { span { (low) } span { (high) } }
        }
    }
}

fn client_page(
    base: &str,
    v: &GoalsView,
    notice: Option<Markup>,
    conflict: Option<(&str, &GoalInput, &bordin_store::GoalRow)>,
) -> Markup {
    let w = v.case.setting.words();
    let shown: Vec<_> = v
        .goals
        .iter()
        .filter(|g| g.status != GoalStatus::Dropped)
        .collect();
    html! {
        h1 { "Your goals" }
        p.muted.small { "What you and your " (w.helper) " are working on. Only the two of you see this page." }
        @if let Some(n) = notice { (n) }
        @if let Some((goal_id, mine, theirs)) = conflict {
            div.notice.urgent role="alert" id="conflict" {
                p { strong { "Your change was not saved, because your " (w.helper) " changed this goal at the same time." } }
                p { "Now it says: “" (theirs.words) "”." }
                p { "What you wrote is kept below. Save it again if you still want it." }
                (goal_form(&format!("{base}/goals/{goal_id}"), mine, Some(theirs.version), "Save my wording"))
            }
        }
        @if shown.is_empty() { p { "No goals yet. You can suggest one below." } }
        @for g in shown {
            @let gid = &g.goal_id;
            section.card id={ "goal-" (gid) } {
                h2 { (g.words) }
                @if let Some(y) = &g.why { p { "Why it matters: " (y) } }
                @if let Some(h) = &g.how_we_know { p { "How you'll know: " (h) } }
                p.small.muted {
                    @match g.status {
                        GoalStatus::Proposed => { "Suggested — to talk about with your " (w.helper) }
                        GoalStatus::Active => { "Working on it" }
                        GoalStatus::Reached => { "Reached" }
                        GoalStatus::Dropped => { "Set aside" }
                    }
                    @if let Some(d) = &g.target_date { " · aiming for " (d) }
                }
                @if matches!(g.status, GoalStatus::Proposed | GoalStatus::Active) {
                    (zero_to_ten(&format!("{base}/goals/{gid}/rate"), "agreement", "How important is it to you to work on this?", "not at all", "very", v.latest(gid, Rater::Client, RatingKind::Agreement).map(|r| r.value)))
                }
                @if g.status == GoalStatus::Active {
                    (super::charts::progress_chart(&format!("progress-{gid}"), &g.words, &client_progress(v, gid)))
                    (zero_to_ten(&format!("{base}/goals/{gid}/rate"), "progress", "How far along are you with it?", "not started", "fully there", v.latest(gid, Rater::Client, RatingKind::Progress).map(|r| r.value)))
                }
                @if g.status == GoalStatus::Reached {
                    (zero_to_ten(&format!("{base}/goals/{gid}/rate"), "satisfaction", "You reached this goal. How satisfied are you with it?", "not at all", "completely", v.latest(gid, Rater::Client, RatingKind::Satisfaction).map(|r| r.value)))
                }
                @for t in v.tasks_of(gid).filter(|t| t.status == TaskStatus::Agreed) {
                    div.card id={ "task-" (t.task_id) } {
                        h3 { (t.title) }
                        p.small { "Why: " (t.rationale) }
                        p.small.muted {
                            @match t.owner {
                                bordin_core::goals::TaskOwner::Client => { "Your task" }
                                bordin_core::goals::TaskOwner::Clinician => { "Your " (w.helper) "'s task" }
                                bordin_core::goals::TaskOwner::Both => { "For both of you" }
                            }
                            @if let Some(d) = &t.due_on { " · by " (d) }
                        }
                        @if let Some(r) = v.latest_report(&t.task_id) {
                            p.small.muted { "Last time: " (if r.outcome == bordin_core::goals::TaskOutcome::Completed { "done" } else { "skipped" }) }
                        }
                        form.questionnaire method="post" action={ (base) "/tasks/" (t.task_id) "/report" } {
                            (radios("helpful", "How helpful was it?", "not at all", "very"))
                            (radios("relevant", "How much did it fit your goal?", "not at all", "very much"))
                            label.field for={ "note-" (t.task_id) } { "Anything to add? (optional)" }
                            textarea id={ "note-" (t.task_id) } name="note" rows="2" {}
                            div.row {
                                button type="submit" name="outcome" value="completed" { "I did it" }
                                button.secondary type="submit" name="outcome" value="skipped" { "I skipped it" }
                            }
                        }
                    }
                }
                details {
                    summary { "Change the wording" }
                    (goal_form(&format!("{base}/goals/{gid}"), &GoalInput::of(g), Some(g.version), "Save"))
                }
            }
        }
        section.card id="propose" {
            h2 { "Suggest a goal" }
            (goal_form(&format!("{base}/goals"), &GoalInput::default(), None, "Suggest this goal"))
        }
    }
}

fn goal_form(action: &str, g: &GoalInput, version: Option<i64>, submit: &str) -> Markup {
    html! {
        form method="post" action=(action) {
            @if let Some(v) = version { input type="hidden" name="version" value=(v); }
            label.field { "In your own words, what would you like to change?" textarea name="words" rows="2" required { (g.words) } }
            label.field { "Why does it matter to you?" textarea name="why" rows="2" { (g.why) } }
            label.field { "How will you know you got there?" textarea name="how_we_know" rows="2" { (g.how_we_know) } }
            p { button type="submit" { (submit) } }
        }
    }
}

fn problems(e: &FieldErrors) -> Markup {
    html! { div.notice.urgent role="alert" { p { strong { "Please check:" } } ul { @for p in &e.0 { li { (p.message) } } } } }
}

async fn render(
    state: &AppState,
    scope: &Scope,
    base: &str,
    status: StatusCode,
    notice: Option<Markup>,
    conflict: Option<(&str, &GoalInput, &bordin_store::GoalRow)>,
) -> Result<Response, AppError> {
    let v = actions::view(state, scope).await?;
    Ok((
        status,
        bare_page("Your goals", client_page(base, &v, notice, conflict)),
    )
        .into_response())
}

async fn open(state: &AppState, clinic: &str, secret: &str) -> Result<Option<Scope>, AppError> {
    actions::open_client_link(state, clinic, secret).await
}

pub async fn show(
    State(state): State<AppState>,
    Path((clinic, secret)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let Some(scope) = open(&state, &clinic, &secret).await? else {
        return Ok(invalid_link());
    };
    render(
        &state,
        &scope,
        &format!("/g/{clinic}/{secret}"),
        StatusCode::OK,
        None,
        None,
    )
    .await
}

#[derive(Deserialize)]
pub struct ClientGoalInput {
    #[serde(default)]
    version: String,
    #[serde(default)]
    words: String,
    #[serde(default)]
    why: String,
    #[serde(default)]
    how_we_know: String,
}

impl ClientGoalInput {
    fn goal(&self) -> GoalInput {
        GoalInput {
            words: self.words.clone(),
            why: self.why.clone(),
            how_we_know: self.how_we_know.clone(),
            ..GoalInput::default()
        }
    }
}

pub async fn propose(
    State(state): State<AppState>,
    Path((clinic, secret)): Path<(String, String)>,
    Form(input): Form<ClientGoalInput>,
) -> Result<Response, AppError> {
    let Some(scope) = open(&state, &clinic, &secret).await? else {
        return Ok(invalid_link());
    };
    let base = format!("/g/{clinic}/{secret}");
    match actions::add_goal(&state, &scope, &input.goal(), false).await? {
        Written::Done(_) => Ok(Redirect::to(&base).into_response()),
        Written::Invalid(e) => {
            render(
                &state,
                &scope,
                &base,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(problems(&e)),
                None,
            )
            .await
        }
    }
}

pub async fn edit(
    State(state): State<AppState>,
    Path((clinic, secret, goal_id)): Path<(String, String, String)>,
    Form(input): Form<ClientGoalInput>,
) -> Result<Response, AppError> {
    let Some(scope) = open(&state, &clinic, &secret).await? else {
        return Ok(invalid_link());
    };
    let base = format!("/g/{clinic}/{secret}");
    let version: i64 = input
        .version
        .trim()
        .parse()
        .map_err(|_| AppError::BadRequest("please reload the page and try again".into()))?;
    // Keep the goal's priority, date and GAS levels: the client's form changes only the words.
    let current = state
        .store
        .goal(scope.clinic_id(), &goal_id)
        .await
        .map_err(|_| AppError::NotFound)?;
    let mut goal = GoalInput::of(&current);
    goal.words = input.words.clone();
    goal.why = input.why.clone();
    goal.how_we_know = input.how_we_know.clone();
    match actions::edit_goal(&state, &scope, &goal_id, version, &goal, false, None).await? {
        Edited::Updated { .. } => Ok(Redirect::to(&base).into_response()),
        Edited::Conflict { current } => {
            let mine = input.goal();
            render(
                &state,
                &scope,
                &base,
                StatusCode::CONFLICT,
                None,
                Some((&goal_id, &mine, &current)),
            )
            .await
        }
        Edited::Invalid(e) => {
            render(
                &state,
                &scope,
                &base,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(problems(&e)),
                None,
            )
            .await
        }
    }
}

#[derive(Deserialize)]
pub struct ClientRateInput {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    value: String,
}

pub async fn rate(
    State(state): State<AppState>,
    Path((clinic, secret, goal_id)): Path<(String, String, String)>,
    Form(input): Form<ClientRateInput>,
) -> Result<Response, AppError> {
    let Some(scope) = open(&state, &clinic, &secret).await? else {
        return Ok(invalid_link());
    };
    let base = format!("/g/{clinic}/{secret}");
    let kind = RatingKind::parse(input.kind.trim())
        .ok_or_else(|| AppError::BadRequest("unknown question".into()))?;
    let value: i64 = input.value.trim().parse().unwrap_or(i64::MIN);
    match actions::rate_goal(&state, &scope, &goal_id, kind, value, None).await? {
        Written::Done(_) => Ok(Redirect::to(&format!("{base}#goal-{goal_id}")).into_response()),
        Written::Invalid(e) => {
            render(
                &state,
                &scope,
                &base,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(problems(&e)),
                None,
            )
            .await
        }
    }
}

#[derive(Deserialize)]
pub struct ClientReportInput {
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    helpful: String,
    #[serde(default)]
    relevant: String,
    #[serde(default)]
    note: String,
}

fn optional_number(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() {
        None
    } else {
        Some(s.parse().unwrap_or(i64::MIN))
    }
}

pub async fn report(
    State(state): State<AppState>,
    Path((clinic, secret, task_id)): Path<(String, String, String)>,
    Form(input): Form<ClientReportInput>,
) -> Result<Response, AppError> {
    let Some(scope) = open(&state, &clinic, &secret).await? else {
        return Ok(invalid_link());
    };
    let base = format!("/g/{clinic}/{secret}");
    let report = ReportInput {
        outcome: input.outcome,
        helpful: optional_number(&input.helpful),
        relevant: optional_number(&input.relevant),
        note: input.note,
        session_id: None,
    };
    match actions::report_task(&state, &scope, &task_id, &report).await? {
        Written::Done(_) => {
            let n = html! { div.notice.ok role="status" { p { "Thank you — your " (scope_words(&state, &scope).await) " will see this." } } };
            render(&state, &scope, &base, StatusCode::OK, Some(n), None).await
        }
        Written::Invalid(e) => {
            render(
                &state,
                &scope,
                &base,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(problems(&e)),
                None,
            )
            .await
        }
    }
}

async fn scope_words(state: &AppState, scope: &Scope) -> &'static str {
    state
        .store
        .case(scope.clinic_id(), scope.case_id())
        .await
        .map(|c| c.setting.words().helper)
        .unwrap_or("helper")
}

/// The client's progress ratings of a goal, oldest first.
fn client_progress(v: &GoalsView, goal_id: &str) -> Vec<i64> {
    let mut rows: Vec<&bordin_store::GoalRatingRow> = v
        .ratings
        .iter()
        .filter(|r| {
            r.goal_id == goal_id && r.rater == Rater::Client && r.kind == RatingKind::Progress
        })
        .collect();
    rows.sort_by_key(|r| r.rated_at);
    rows.iter().map(|r| r.value).collect()
}
