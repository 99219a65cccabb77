//! The clinician's goals page of a case (`/cases/{id}/goals`): goals with both parties'
//! agreement ratings and their difference, progress, tasks with the client's reports, goal
//! consensus, the GAS T-score, the formulation and the agreements log; and the forms that change
//! them. A stale edit is shown as a conflict beside the other person's version, never written.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use bordin_core::goals::{FieldErrors, GoalStatus, Rater, RatingKind, GAS_FIELDS};
use bordin_store::{CaseRow, GoalRow, LogEntry};
use maud::{html, Markup};
use serde::Deserialize;

use super::layout::page;
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::goals::{
    self as actions, Edited, FormulationSaved, GoalInput, GoalsView, Scope, Written,
};
use crate::policy;
use crate::state::{format_ms, AppState};

const GAS_LABELS: [&str; 5] = ["−2", "−1", "0 (expected)", "+1", "+2"];

/// Who did something, in words (a clinician's name, or the client's code).
pub fn who(case: &CaseRow, role: Rater, id: &str) -> String {
    match role {
        Rater::Clinician => case
            .clinicians
            .iter()
            .find(|(uid, _, _)| uid == id)
            .map(|(_, name, _)| name.clone())
            .unwrap_or_else(|| "a clinician".into()),
        Rater::Client => case
            .clients
            .iter()
            .find(|c| c.client_id == id)
            .map(|c| format!("{} ({})", c.code, case.setting.words().client))
            .unwrap_or_else(|| case.setting.words().client.to_owned()),
    }
}

/// A one-line summary of what a log entry is about, from its snapshot.
pub fn log_what(e: &LogEntry) -> String {
    let s = &e.snapshot;
    let text = ["words", "title", "presenting_concerns"]
        .iter()
        .find_map(|k| s.get(*k).and_then(|v| v.as_str()))
        .map(|t| format!(": “{t}”"))
        .unwrap_or_default();
    let extra = match (s.get("kind").and_then(|v| v.as_str()), s.get("value")) {
        (Some(kind), Some(v)) => format!(" ({kind} {v})"),
        _ => match s.get("outcome").and_then(|v| v.as_str()) {
            Some(o) => format!(" ({o})"),
            None => match (e.action.as_str(), s.get("status").and_then(|v| v.as_str())) {
                ("status", Some(st)) => format!(" → {st}"),
                _ => String::new(),
            },
        },
    };
    format!(
        "{} {} v{}{}{}",
        e.object_type, e.action, e.version, extra, text
    )
}

fn one(v: Option<f64>) -> String {
    v.map_or("—".into(), |x| format!("{x:.1}"))
}

fn field_error(errors: Option<&FieldErrors>, field: &str) -> Markup {
    html! { @if let Some(m) = errors.and_then(|e| e.get(field)) { p.error { (m) } } }
}

/// The fields of a goal form, filled with `g`.
fn goal_fields(g: &GoalInput, errors: Option<&FieldErrors>, prefix: &str) -> Markup {
    let id = |f: &str| format!("{prefix}{f}");
    html! {
        label.field for=(id("words")) { "The goal, in the client's own words" }
        (field_error(errors, "words"))
        textarea id=(id("words")) name="words" rows="2" required { (g.words) }
        label.field for=(id("why")) { "Why it matters to them" }
        (field_error(errors, "why"))
        textarea id=(id("why")) name="why" rows="2" { (g.why) }
        label.field for=(id("how_we_know")) { "How we'll know it is reached" }
        (field_error(errors, "how_we_know"))
        textarea id=(id("how_we_know")) name="how_we_know" rows="2" { (g.how_we_know) }
        label.field for=(id("priority")) { "Priority (1 highest – 5)" }
        (field_error(errors, "priority"))
        input id=(id("priority")) type="number" name="priority" min="1" max="5" value=(g.priority.unwrap_or(3));
        label.field for=(id("target_date")) { "Target date (optional)" }
        (field_error(errors, "target_date"))
        input id=(id("target_date")) type="date" name="target_date" value=(g.target_date.clone().unwrap_or_default());
        details {
            summary { "Goal Attainment Scaling levels (optional: all five or none)" }
            @for (k, f) in GAS_FIELDS.iter().enumerate() {
                label.field for=(id(f)) { "Level " (GAS_LABELS[k]) }
                (field_error(errors, f))
                input id=(id(f)) type="text" name=(f) value=(g.gas_levels.as_ref().map(|l| l[k].as_str()).unwrap_or(""));
            }
        }
    }
}

/// A conflict to show: what this user typed, and the goal as someone else left it.
pub struct GoalConflict {
    pub goal_id: String,
    pub mine: GoalInput,
    pub theirs: GoalRow,
}

fn goal_summary(g: &GoalRow) -> Markup {
    html! {
        p { strong { (g.words) } }
        @if let Some(w) = &g.why { p { span.muted { "Why: " } (w) } }
        @if let Some(h) = &g.how_we_know { p { span.muted { "How we'll know: " } (h) } }
        p.small.muted { "Priority " (g.priority) @if let Some(d) = &g.target_date { " · by " (d) } " · " (g.status) " · version " (g.version) }
        @if let Some(levels) = &g.gas_levels {
            ul.small { @for (k, l) in levels.iter().enumerate() { li { (GAS_LABELS[k]) ": " (l) } } }
        }
    }
}

/// Everything on the goals page. `problem` names a form's problems; `conflict` shows an edit
/// that was not written beside the current version.
pub fn goals_page(
    user: &CurrentUser,
    v: &GoalsView,
    log: &[LogEntry],
    notice: Option<Markup>,
    add_errors: Option<(&GoalInput, &FieldErrors)>,
    conflict: Option<&GoalConflict>,
) -> Markup {
    let case = &v.case;
    let words = case.setting.words();
    let base = format!("/cases/{}/goals", case.case_id);
    let empty = GoalInput::default();
    html! {
        p.small { a href={ "/cases/" (case.case_id) } { "← " (case.title) } }
        h1 { "Goals and tasks" }
        p.small { a href={ "/cases/" (case.case_id) "/agreement" } { "Printable agreement summary" } }
        @if let Some(n) = notice { (n) }
        @if let Some(c) = conflict {
            div.notice.urgent role="alert" id="conflict" {
                p { strong { "Not saved: someone else changed this goal while you were editing it." } }
                p { "Nothing was overwritten. Their version (now version " (c.theirs.version) ", changed by "
                    (who(case, c.theirs.updated_by_role, &c.theirs.updated_by)) " at " (format_ms(c.theirs.updated_at))
                    ") is shown beside what you typed. To keep your wording, check it against theirs and save again." }
                div.row {
                    div.card { h3 { "Their current version" } (goal_summary(&c.theirs)) }
                    form.card method="post" action={ (base) "/" (c.goal_id) "/edit" } {
                        h3 { "What you typed" }
                        input type="hidden" name="csrf" value=(user.csrf);
                        input type="hidden" name="version" value=(c.theirs.version);
                        (goal_fields(&c.mine, None, "conflict-"))
                        label.field for="conflict-reason" { "Why (for the agreements log)" }
                        input id="conflict-reason" type="text" name="reason";
                        p { button type="submit" { "Save my version over theirs" } }
                    }
                }
            }
        }
        div.row {
            div.card {
                h2 { "Goal consensus" }
                p { strong { (one(v.consensus)) } " mean |" (words.client) " − " (words.helper) "| agreement gap (0 = full consensus, 10 = most disagreement)" }
            }
            div.card {
                h2 { "GAS T-score" }
                p { strong { (one(v.gas_t_score)) } " from the latest attainment level of each goal (equal weights, ρ = 0.3; 50 = expected)" }
            }
        }
        h2 { "Goals" }
        @if v.goals.is_empty() { p.muted { "No goals yet." } }
        @for g in &v.goals {
            @let gid = &g.goal_id;
            @let ca = v.latest(gid, Rater::Client, RatingKind::Agreement);
            @let ka = v.latest(gid, Rater::Clinician, RatingKind::Agreement);
            @let progress = v.latest(gid, Rater::Client, RatingKind::Progress);
            @let gas = v.ratings.iter().filter(|r| &r.goal_id == gid && r.kind == RatingKind::Gas).max_by_key(|r| r.rated_at);
            @let sat = v.latest(gid, Rater::Client, RatingKind::Satisfaction);
            section.card id={ "goal-" (gid) } {
                (goal_summary(g))
                p.small.muted { "Proposed by the " (if g.proposed_by == Rater::Client { words.client } else { words.helper }) " · last changed by " (who(case, g.updated_by_role, &g.updated_by)) " at " (format_ms(g.updated_at)) }
                table {
                    tr { th { "Agreement (" (words.client) ")" } th { "Agreement (" (words.helper) ")" } th { "Difference" } th { "Progress" } th { "GAS level" } th { "Satisfaction" } }
                    tr {
                        td { (ca.map_or("—".into(), |r| r.value.to_string())) }
                        td { (ka.map_or("—".into(), |r| r.value.to_string())) }
                        td { (v.gap(gid).map_or("—".into(), |d| format!("{d:+.0}"))) }
                        td { (progress.map_or("—".into(), |r| format!("{} ({})", r.value, format_ms(r.rated_at)))) }
                        td { (gas.map_or("—".into(), |r| format!("{:+}", r.value))) }
                        td { (sat.map_or("—".into(), |r| r.value.to_string())) }
                    }
                }
                h3 { "Tasks" }
                @let tasks: Vec<_> = v.tasks_of(gid).collect();
                @if tasks.is_empty() { p.muted.small { "No tasks for this goal." } }
                @for t in tasks {
                    @let rep = v.latest_report(&t.task_id);
                    div.task id={ "task-" (t.task_id) } {
                        p { strong { (t.title) } " · " (t.owner) "'s task · difficulty " (t.difficulty) "/5"
                            @if let Some(d) = &t.due_on { " · due " (d) } " · " (t.status) }
                        p.small { span.muted { "Why it helps: " } (t.rationale) }
                        @if let Some(r) = rep {
                            p.small { "Latest report: " (r.outcome)
                                " · helpful " (r.helpful.map_or("—".into(), |x| x.to_string()))
                                " · relevant " (r.relevant.map_or("—".into(), |x| x.to_string()))
                                " · " (format_ms(r.reported_at))
                                @if let Some(n) = &r.note { " · “" (n) "”" } }
                        }
                    }
                }
                details {
                    summary { "Rate, change status, add a task, edit" }
                    div.row {
                        form.card method="post" action={ (base) "/" (gid) "/rate" } {
                            h3 { "Your agreement (0–10)" }
                            input type="hidden" name="csrf" value=(user.csrf);
                            input type="hidden" name="kind" value="agreement";
                            label.field for={ "agree-" (gid) } { "How important to work on, for you" }
                            input id={ "agree-" (gid) } type="number" name="value" min="0" max="10" required;
                            p { button type="submit" { "Rate agreement" } }
                        }
                        @if g.gas_levels.is_some() {
                            form.card method="post" action={ (base) "/" (gid) "/rate" } {
                                h3 { "GAS attainment at review" }
                                input type="hidden" name="csrf" value=(user.csrf);
                                input type="hidden" name="kind" value="gas";
                                label.field for={ "gas-" (gid) } { "Level" }
                                select id={ "gas-" (gid) } name="value" {
                                    @for (k, l) in (-2..=2).zip(GAS_LABELS) { option value=(k) { (l) } }
                                }
                                p { button type="submit" { "Record level" } }
                            }
                        }
                        form.card method="post" action={ (base) "/" (gid) "/status" } {
                            h3 { "Status" }
                            input type="hidden" name="csrf" value=(user.csrf);
                            input type="hidden" name="version" value=(g.version);
                            label.field for={ "status-" (gid) } { "Set to" }
                            select id={ "status-" (gid) } name="status" {
                                @for s in ["proposed", "active", "reached", "dropped"] { option value=(s) selected[g.status.as_str() == s] { (s) } }
                            }
                            label.field for={ "status-reason-" (gid) } { "Why" }
                            input id={ "status-reason-" (gid) } type="text" name="reason";
                            p.small.muted { "When a goal is reached, the " (words.client) " is asked on their page how satisfied they are with it." }
                            p { button type="submit" { "Set status" } }
                        }
                    }
                    form.card method="post" action={ (base) "/" (gid) "/tasks" } {
                        h3 { "Add a task for this goal" }
                        input type="hidden" name="csrf" value=(user.csrf);
                        label.field for={ "title-" (gid) } { "Task" }
                        input id={ "title-" (gid) } type="text" name="title" required;
                        label.field for={ "rationale-" (gid) } { "Why this task helps this goal (required)" }
                        textarea id={ "rationale-" (gid) } name="rationale" rows="2" required {}
                        label.field for={ "owner-" (gid) } { "Whose task" }
                        select id={ "owner-" (gid) } name="owner" {
                            option value="client" { (words.client) }
                            option value="clinician" { (words.helper) }
                            option value="both" { "both" }
                        }
                        label.field for={ "difficulty-" (gid) } { "Difficulty for the " (words.client) " (1 easy – 5)" }
                        input id={ "difficulty-" (gid) } type="number" name="difficulty" min="1" max="5" value="2";
                        label.field for={ "due-" (gid) } { "Due (optional)" }
                        input id={ "due-" (gid) } type="date" name="due_on";
                        p { button type="submit" { "Add task" } }
                    }
                    form.card method="post" action={ (base) "/" (gid) "/edit" } {
                        h3 { "Edit this goal" }
                        input type="hidden" name="csrf" value=(user.csrf);
                        input type="hidden" name="version" value=(g.version);
                        (goal_fields(&GoalInput::of(g), None, &format!("edit-{gid}-")))
                        label.field for={ "renegotiated-" (gid) } {
                            input id={ "renegotiated-" (gid) } type="checkbox" name="renegotiated" value="1";
                            " Changed by agreement (renegotiated)"
                        }
                        label.field for={ "reason-" (gid) } { "Why" }
                        input id={ "reason-" (gid) } type="text" name="reason";
                        p { button type="submit" { "Save goal" } }
                    }
                }
            }
        }
        form.card method="post" action=(base) id="add-goal" {
            h2 { "Add a goal" }
            input type="hidden" name="csrf" value=(user.csrf);
            @match add_errors {
                Some((input, errors)) => {
                    div.notice.urgent role="alert" { "Please check the goal below." }
                    (goal_fields(input, Some(errors), "add-"))
                }
                None => { (goal_fields(&empty, None, "add-")) }
            }
            label.field for="add-active" {
                input id="add-active" type="checkbox" name="active" value="1" checked;
                " Agreed in session (active); otherwise a proposal"
            }
            p { button type="submit" { "Add goal" } }
        }
        h2 { "Formulation" }
        @let f = v.formulation.as_ref();
        form.card method="post" action={ "/cases/" (case.case_id) "/formulation" } id="formulation" {
            input type="hidden" name="csrf" value=(user.csrf);
            input type="hidden" name="version" value=(f.map_or(0, |f| f.version));
            @if let Some(f) = f { p.small.muted { "Version " (f.version) ", by " (who(case, f.created_by_role, &f.created_by)) " at " (format_ms(f.created_at)) } }
            @for (name, label, value) in [
                ("presenting_concerns", "Presenting concerns", f.and_then(|f| f.presenting_concerns.clone())),
                ("preferences", "The client's preferences (pace, approach, what they do not want)", f.and_then(|f| f.preferences.clone())),
                ("strengths", "Strengths", f.and_then(|f| f.strengths.clone())),
                ("identities_context", "Identities and context the client wants considered", f.and_then(|f| f.identities_context.clone())),
            ] {
                label.field for={ "f-" (name) } { (label) }
                textarea id={ "f-" (name) } name=(name) rows="3" { (value.unwrap_or_default()) }
            }
            @if !v.goals.is_empty() {
                fieldset {
                    legend { "Linked goals" }
                    @for g in &v.goals {
                        label { input type="checkbox" name="goal_ids" value=(g.goal_id) checked[f.is_some_and(|f| f.goal_ids.contains(&g.goal_id))]; " " (g.words) }
                        br;
                    }
                }
            }
            label.field for="f-reason" { "Why (for the agreements log)" }
            input id="f-reason" type="text" name="reason";
            p { button type="submit" { "Save formulation" } }
        }
        h2 { "The " (words.client) "'s page" }
        form.card method="post" action={ (base) "/link" } {
            input type="hidden" name="csrf" value=(user.csrf);
            p { "A link to the " (words.client) "'s own goals page: they can propose goals, rate agreement and progress, and report on tasks, without an account. The link is shown once." }
            @if case.clients.len() > 1 {
                label.field for="link-client" { "For" }
                select id="link-client" name="client" { @for c in &case.clients { option value=(c.client_id) { (c.code) } } }
            }
            p { button type="submit" { "Create a link for the " (words.client) "'s goals page" } }
        }
        h2 { "Agreements log" }
        @if log.is_empty() { p.muted { "Nothing yet." } } @else {
            div.table-wrap {
                table id="agreements-log" {
                    tr { th { "When" } th { "Who" } th { "What" } th { "Why" } }
                    @for e in log.iter().rev() {
                        tr {
                            td { (format_ms(e.at)) }
                            td { (who(case, e.actor_role, &e.actor)) }
                            td { (log_what(e)) }
                            td { (e.reason.clone().unwrap_or_default()) }
                        }
                    }
                }
            }
        }
    }
}

async fn render(
    state: &AppState,
    user: &CurrentUser,
    scope: &Scope,
    status: StatusCode,
    notice: Option<Markup>,
    add_errors: Option<(&GoalInput, &FieldErrors)>,
    conflict: Option<&GoalConflict>,
) -> Result<Response, AppError> {
    let v = actions::view(state, scope).await?;
    let log = actions::log(state, scope).await?;
    let series = state
        .store
        .case_series(scope.clinic_id(), scope.case_id())
        .await?;
    let alerts: Vec<bordin_store::AlertRow> = state
        .store
        .alerts(
            scope.clinic_id(),
            Some(scope.case_id()),
            &["open", "acknowledged"],
        )
        .await?
        .into_iter()
        .filter(|a| {
            a.kind == "renegotiate"
                || (a.kind == "rupture"
                    && (a.measure.ends_with(".goal") || a.measure.ends_with(".task")))
        })
        .collect();
    let consents = state
        .store
        .consents(scope.clinic_id(), scope.case_id())
        .await?;
    let notice = Some(html! {
        (measured_agreement(&series, &alerts))
        (consents_section(user, &v.case, &consents))
        @if let Some(n) = notice { (n) }
    });
    Ok((
        status,
        page(
            &format!("Goals · {}", v.case.title),
            user,
            goals_page(user, &v, &log, notice, add_errors, conflict),
        ),
    )
        .into_response())
}

/// The questionnaires' view of agreement beside the concrete goals: the client's latest WAI-SR
/// goal and task subscales and Session Check goals and tasks items, and any open alert about
/// agreement (renegotiation, a fall in goal or task agreement).
fn measured_agreement(
    series: &bordin_store::CaseSeries,
    alerts: &[bordin_store::AlertRow],
) -> Markup {
    let latest = |measure: &str| -> Option<(i64, f64)> {
        series
            .subjects
            .iter()
            .filter(|(k, _)| k.as_str() != bordin_store::THERAPIST)
            .filter_map(|(_, m)| m.get(measure).and_then(|p| p.last().copied()))
            .max_by_key(|p| p.0)
    };
    let rows = [
        ("WAI-SR goal (4–20)", "wai_sr.goal"),
        ("WAI-SR task (4–20)", "wai_sr.task"),
        (
            "Session Check: we worked on what I wanted (0–10)",
            "session_check.goal",
        ),
        (
            "Session Check: the way we worked suits me (0–10)",
            "session_check.task",
        ),
    ];
    html! {
        section.card id="measured-agreement" {
            h2 { "Agreement as the client rated it" }
            ul {
                @for (label, m) in rows {
                    li { (label) ": "
                        @match latest(m) { Some((s, v)) => { strong { (format!("{v:.1}")) } " (session " (s) ")" } None => { span.muted { "not rated yet" } } } }
                }
            }
            @for a in alerts {
                p.notice.warn { (a.message) " " a href={ "/alerts/" (a.alert_id) } { "Open alert" } }
            }
        }
    }
}

async fn scope_of(state: &AppState, user: &CurrentUser, case_id: &str) -> Result<Scope, AppError> {
    let access = policy::case(state, user, case_id).await?;
    Ok(Scope::clinician(&access, user))
}

fn back(case_id: &str) -> Response {
    Redirect::to(&format!("/cases/{case_id}/goals")).into_response()
}

fn problems(e: &FieldErrors) -> Markup {
    html! { div.notice.urgent role="alert" { p { strong { "Not saved." } } ul { @for p in &e.0 { li { (p.field) ": " (p.message) } } } } }
}

pub async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(case_id): Path<String>,
) -> Result<Response, AppError> {
    let scope = scope_of(&state, &user, &case_id).await?;
    render(&state, &user, &scope, StatusCode::OK, None, None, None).await
}

/// A goal form as posted.
#[derive(Deserialize, Default)]
pub struct GoalFormInput {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub words: String,
    #[serde(default)]
    pub why: String,
    #[serde(default)]
    pub priority: String,
    #[serde(default)]
    pub target_date: String,
    #[serde(default)]
    pub how_we_know: String,
    #[serde(default)]
    pub gas_minus2: String,
    #[serde(default)]
    pub gas_minus1: String,
    #[serde(default)]
    pub gas_0: String,
    #[serde(default)]
    pub gas_plus1: String,
    #[serde(default)]
    pub gas_plus2: String,
    #[serde(default)]
    pub active: String,
    #[serde(default)]
    pub renegotiated: String,
    #[serde(default)]
    pub reason: String,
}

impl GoalFormInput {
    pub fn goal(&self) -> GoalInput {
        let levels = [
            self.gas_minus2.clone(),
            self.gas_minus1.clone(),
            self.gas_0.clone(),
            self.gas_plus1.clone(),
            self.gas_plus2.clone(),
        ];
        GoalInput {
            words: self.words.clone(),
            why: self.why.clone(),
            // A non-number becomes 0, which the draft reports as out of range.
            priority: Some(if self.priority.trim().is_empty() {
                3
            } else {
                self.priority.trim().parse().unwrap_or(0)
            }),
            target_date: Some(self.target_date.clone()),
            how_we_know: self.how_we_know.clone(),
            gas_levels: Some(levels),
        }
    }
    pub fn version(&self) -> Result<i64, AppError> {
        self.version.trim().parse().map_err(|_| {
            AppError::BadRequest("the form has no valid version; reload the page".into())
        })
    }
}

pub async fn add_goal(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(case_id): Path<String>,
    Form(input): Form<GoalFormInput>,
) -> Result<Response, AppError> {
    user.check_csrf(&input.csrf)?;
    let scope = scope_of(&state, &user, &case_id).await?;
    let goal = input.goal();
    match actions::add_goal(&state, &scope, &goal, !input.active.is_empty()).await? {
        Written::Done(_) => Ok(back(&case_id)),
        Written::Invalid(e) => {
            render(
                &state,
                &user,
                &scope,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some((&goal, &e)),
                None,
            )
            .await
        }
    }
}

pub async fn edit_goal(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((case_id, goal_id)): Path<(String, String)>,
    Form(input): Form<GoalFormInput>,
) -> Result<Response, AppError> {
    user.check_csrf(&input.csrf)?;
    let scope = scope_of(&state, &user, &case_id).await?;
    let goal = input.goal();
    let version = input.version()?;
    match actions::edit_goal(
        &state,
        &scope,
        &goal_id,
        version,
        &goal,
        !input.renegotiated.is_empty(),
        Some(&input.reason),
    )
    .await?
    {
        Edited::Updated { .. } => Ok(back(&case_id)),
        Edited::Conflict { current } => {
            let conflict = GoalConflict {
                goal_id,
                mine: goal,
                theirs: *current,
            };
            render(
                &state,
                &user,
                &scope,
                StatusCode::CONFLICT,
                None,
                None,
                Some(&conflict),
            )
            .await
        }
        Edited::Invalid(e) => {
            render(
                &state,
                &user,
                &scope,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(problems(&e)),
                None,
                None,
            )
            .await
        }
    }
}

#[derive(Deserialize)]
pub struct RateInput {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    value: String,
}

pub async fn rate(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((case_id, goal_id)): Path<(String, String)>,
    Form(input): Form<RateInput>,
) -> Result<Response, AppError> {
    user.check_csrf(&input.csrf)?;
    let scope = scope_of(&state, &user, &case_id).await?;
    let kind = RatingKind::parse(input.kind.trim())
        .ok_or_else(|| AppError::BadRequest("unknown kind of rating".into()))?;
    let value: i64 = input.value.trim().parse().unwrap_or(i64::MIN);
    match actions::rate_goal(&state, &scope, &goal_id, kind, value, None).await? {
        Written::Done(_) => Ok(back(&case_id)),
        Written::Invalid(e) => {
            render(
                &state,
                &user,
                &scope,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(problems(&e)),
                None,
                None,
            )
            .await
        }
    }
}

#[derive(Deserialize)]
pub struct StatusInput {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    reason: String,
}

pub async fn set_status(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((case_id, goal_id)): Path<(String, String)>,
    Form(input): Form<StatusInput>,
) -> Result<Response, AppError> {
    user.check_csrf(&input.csrf)?;
    let scope = scope_of(&state, &user, &case_id).await?;
    let status = GoalStatus::parse(input.status.trim())
        .ok_or_else(|| AppError::BadRequest("unknown goal status".into()))?;
    let version: i64 = input.version.trim().parse().map_err(|_| {
        AppError::BadRequest("the form has no valid version; reload the page".into())
    })?;
    match actions::set_goal_status(
        &state,
        &scope,
        &goal_id,
        version,
        status,
        Some(&input.reason),
    )
    .await?
    {
        Edited::Updated { .. } => Ok(back(&case_id)),
        Edited::Conflict { current } => {
            let n = html! { div.notice.urgent role="alert" { p { strong { "Not saved: the goal was changed by someone else meanwhile." } " It is now “" (current.words) "” (" (current.status) "). Check it and set the status again." } } };
            render(
                &state,
                &user,
                &scope,
                StatusCode::CONFLICT,
                Some(n),
                None,
                None,
            )
            .await
        }
        Edited::Invalid(e) => {
            render(
                &state,
                &user,
                &scope,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(problems(&e)),
                None,
                None,
            )
            .await
        }
    }
}

#[derive(Deserialize)]
pub struct TaskFormInput {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    rationale: String,
    #[serde(default)]
    owner: String,
    #[serde(default)]
    difficulty: String,
    #[serde(default)]
    due_on: String,
}

pub async fn add_task(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((case_id, goal_id)): Path<(String, String)>,
    Form(input): Form<TaskFormInput>,
) -> Result<Response, AppError> {
    user.check_csrf(&input.csrf)?;
    let scope = scope_of(&state, &user, &case_id).await?;
    let task = actions::TaskInput {
        title: input.title,
        rationale: input.rationale,
        owner: input.owner,
        difficulty: Some(if input.difficulty.trim().is_empty() {
            2
        } else {
            input.difficulty.trim().parse().unwrap_or(0)
        }),
        due_on: Some(input.due_on),
    };
    match actions::add_task(&state, &scope, &goal_id, &task).await? {
        Written::Done(_) => Ok(back(&case_id)),
        Written::Invalid(e) => {
            render(
                &state,
                &user,
                &scope,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(problems(&e)),
                None,
                None,
            )
            .await
        }
    }
}

pub async fn save_formulation(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(case_id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let take = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    user.check_csrf(&take("csrf"))?;
    let scope = scope_of(&state, &user, &case_id).await?;
    let input = actions::FormulationInput {
        version: take("version").trim().parse().unwrap_or(0),
        presenting_concerns: take("presenting_concerns"),
        preferences: take("preferences"),
        strengths: take("strengths"),
        identities_context: take("identities_context"),
        goal_ids: pairs
            .iter()
            .filter(|(n, _)| n == "goal_ids")
            .map(|(_, v)| v.clone())
            .collect(),
        reason: take("reason"),
    };
    match actions::save_formulation(&state, &scope, &input).await? {
        FormulationSaved::Saved { .. } => Ok(back(&case_id)),
        FormulationSaved::Conflict { current } => {
            let n = html! { div.notice.urgent role="alert" {
                p { strong { "Not saved: someone else saved the formulation (version " (current.version) ") while you were editing." } }
                p { "What you typed is kept here; the form below shows their version. Copy what you need and save again." }
                ul {
                    @for (label, text) in [("Presenting concerns", &input.presenting_concerns), ("Preferences", &input.preferences), ("Strengths", &input.strengths), ("Identities and context", &input.identities_context)] {
                        @if !text.trim().is_empty() { li { (label) ": " (text) } }
                    }
                }
            } };
            render(
                &state,
                &user,
                &scope,
                StatusCode::CONFLICT,
                Some(n),
                None,
                None,
            )
            .await
        }
        FormulationSaved::Invalid(e) => {
            render(
                &state,
                &user,
                &scope,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(problems(&e)),
                None,
                None,
            )
            .await
        }
    }
}

#[derive(Deserialize)]
pub struct LinkInput {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    client: String,
}

pub async fn create_link(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(case_id): Path<String>,
    Form(input): Form<LinkInput>,
) -> Result<Response, AppError> {
    user.check_csrf(&input.csrf)?;
    let access = policy::case(&state, &user, &case_id).await?;
    let path = actions::create_client_link(&state, &user, &access, Some(&input.client)).await?;
    let scope = Scope::clinician(&access, &user);
    let n = html! { div.notice.ok role="status" {
        p { strong { "Link created. It is shown only this once: copy it now." } }
        p { code id="client-goals-link" { (path) } }
    } };
    render(&state, &user, &scope, StatusCode::OK, Some(n), None, None).await
}

/// What each client agreed to (questionnaires, transcript analysis, live co-pilot, research
/// export), as an append-only history, with a form to record a decision.
fn consents_section(
    user: &CurrentUser,
    case: &bordin_store::CaseRow,
    consents: &[bordin_store::ConsentRow],
) -> Markup {
    let code = |id: &str| {
        case.clients
            .iter()
            .find(|c| c.client_id == id)
            .map_or(id.to_owned(), |c| c.code.clone())
    };
    html! {
        details.card id="consent" {
            summary { "Consent (" (consents.len()) " records)" }
            @if consents.is_empty() { p.muted { "No consent recorded yet." } }
            ul {
                @for c in consents {
                    li { (crate::state::format_ms(c.at)) " · " (code(&c.client_id)) " · " (c.kind.as_str().replace('_', " ")) ": "
                        strong { @if c.granted { "given" } @else { "withdrawn" } }
                        @if let Some(n) = &c.note { " — " (n) } }
                }
            }
            form method="post" action={ "/cases/" (case.case_id) "/consent" } {
                input type="hidden" name="csrf" value=(user.csrf);
                div.row {
                    div { label.field for="consent-client" { "Client" }
                        select id="consent-client" name="client_id" { @for c in &case.clients { option value=(c.client_id) { (c.code) } } } }
                    div { label.field for="consent-kind" { "To" }
                        select id="consent-kind" name="kind" {
                            option value="questionnaires" { "questionnaires" }
                            option value="transcript_analysis" { "transcript analysis" }
                            option value="live_copilot" { "live co-pilot" }
                            option value="research_export" { "research export" }
                        } }
                    div { label.field for="consent-granted" { "Decision" }
                        select id="consent-granted" name="granted" { option value="true" { "given" } option value="false" { "withdrawn" } } }
                }
                label.field for="consent-note" { "How (e.g. signed form, session 1)" }
                input id="consent-note" type="text" name="note";
                p { button.secondary type="submit" { "Record consent decision" } }
            }
        }
    }
}

#[derive(Deserialize, Default)]
pub struct ConsentForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub client_id: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub granted: String,
    #[serde(default)]
    pub note: String,
}

pub async fn consent(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(case_id): Path<String>,
    axum::Form(f): axum::Form<ConsentForm>,
) -> Result<Response, AppError> {
    user.check_csrf(&f.csrf)?;
    let scope = scope_of(&state, &user, &case_id).await?;
    let input = actions::ConsentInput {
        client_id: f.client_id,
        kind: f.kind,
        granted: f.granted == "true",
        note: Some(f.note),
    };
    match actions::record_consent(&state, &scope, &input).await? {
        actions::Written::Done(_) => Ok(back(&case_id)),
        actions::Written::Invalid(e) => {
            render(
                &state,
                &user,
                &scope,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(problems(&e)),
                None,
                None,
            )
            .await
        }
    }
}
