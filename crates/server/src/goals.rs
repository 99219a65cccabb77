//! Goals, tasks, formulation and the agreements log: the steps shared by the clinician's page
//! (`pages/goals.rs`), the client's page through their link (`/g/{clinic}/{secret}`) and the
//! JSON API.
//!
//! Every action works inside a [`Scope`]: a case and who acts in it. A clinician's scope comes
//! only from a [`CaseAccess`] (so from `policy::case`); a client's only from a usable case link
//! ([`open_client_link`]). Goals and tasks outside the scope's case answer "not found".

use bordin_core::goals::{
    agreement_gap, gas_t_score, goal_consensus, FieldErrors, FormulationDraft, GoalDraft,
    GoalRating, GoalStatus, Rater, RatingKind, TaskDraft, TaskOutcome, TaskReport, DEFAULT_RHO,
};
use bordin_store::{
    Actor, CaseRow, Change, EditKind, FormulationRow, GoalRatingRow, GoalRow, LogEntry, StoreError,
    TaskReportRow, TaskRow, UpdateOutcome,
};
use serde::{Deserialize, Serialize};

use crate::auth::{random_secret, CurrentUser};
use crate::error::AppError;
use crate::policy::{self, CaseAccess};
use crate::state::{now_ms, AppState};

/// A case and who acts in it.
#[derive(Debug, Clone)]
pub struct Scope {
    clinic_id: String,
    case_id: String,
    role: Rater,
    actor_id: String,
}

impl Scope {
    /// A clinician acting on a case they may access.
    pub fn clinician(access: &CaseAccess, user: &CurrentUser) -> Self {
        Self {
            clinic_id: access.clinic_id().to_owned(),
            case_id: access.case_id().to_owned(),
            role: Rater::Clinician,
            actor_id: user.user.user_id.clone(),
        }
    }
    pub fn clinic_id(&self) -> &str {
        &self.clinic_id
    }
    pub fn case_id(&self) -> &str {
        &self.case_id
    }
    pub fn role(&self) -> Rater {
        self.role
    }
    fn change<'a>(&'a self, reason: Option<&'a str>) -> Change<'a> {
        Change {
            actor: Actor {
                role: self.role,
                id: &self.actor_id,
            },
            at: now_ms(),
            reason,
        }
    }
}

/// A client's scope from their case link, or `None` for unknown, malformed, expired and revoked
/// links alike.
pub async fn open_client_link(
    state: &AppState,
    clinic_id: &str,
    secret: &str,
) -> Result<Option<Scope>, AppError> {
    if secret.is_empty() || secret.len() > 64 || clinic_id.len() > 64 {
        return Ok(None);
    }
    let hash = bordin_store::hash_secret(secret);
    let Some(link) = state.store.case_link_by_hash(clinic_id, &hash).await? else {
        return Ok(None);
    };
    if !link.usable(now_ms()) {
        return Ok(None);
    }
    let link_id = bordin_store::link_id(&hash);
    crate::audit::link_read(
        state,
        clinic_id,
        &link_id,
        "case",
        &link.case_id,
        &link.case_id,
    )
    .await?;
    Ok(Some(Scope {
        clinic_id: clinic_id.to_owned(),
        case_id: link.case_id,
        role: Rater::Client,
        actor_id: link.client_id,
    }))
}

/// Creates a link for a client of the case to their goals page; returns its path (shown once:
/// only the secret's hash is stored).
pub async fn create_client_link(
    state: &AppState,
    user: &CurrentUser,
    access: &CaseAccess,
    client_id: Option<&str>,
) -> Result<String, AppError> {
    let case = state
        .store
        .case(access.clinic_id(), access.case_id())
        .await?;
    let client_id = match client_id.filter(|c| !c.is_empty()) {
        Some(id) => case
            .clients
            .iter()
            .find(|c| c.client_id == id)
            .map(|c| c.client_id.clone())
            .ok_or_else(|| {
                AppError::BadRequest("that person is not a client of this case".into())
            })?,
        None => case
            .clients
            .first()
            .map(|c| c.client_id.clone())
            .ok_or_else(|| AppError::BadRequest("the case has no client".into()))?,
    };
    let secret = random_secret();
    state
        .store
        .create_case_link(
            access.clinic_id(),
            access.case_id(),
            &client_id,
            &bordin_store::hash_secret(&secret),
            None,
            &user.user.user_id,
            now_ms(),
        )
        .await?;
    Ok(format!("/g/{}/{secret}", access.clinic_id()))
}

/// The case capability and the goal, for a goal id (another clinician's or clinic's goal is
/// not found).
pub async fn goal_access(
    state: &AppState,
    user: &CurrentUser,
    goal_id: &str,
) -> Result<(CaseAccess, GoalRow), AppError> {
    let goal = state
        .store
        .goal(user.clinic_id(), goal_id)
        .await
        .map_err(not_found)?;
    let access = policy::case(state, user, &goal.case_id).await?;
    Ok((access, goal))
}

/// The case capability and the task, for a task id.
pub async fn task_access(
    state: &AppState,
    user: &CurrentUser,
    task_id: &str,
) -> Result<(CaseAccess, TaskRow), AppError> {
    let task = state
        .store
        .task(user.clinic_id(), task_id)
        .await
        .map_err(not_found)?;
    let access = policy::case(state, user, &task.case_id).await?;
    Ok((access, task))
}

fn not_found(e: StoreError) -> AppError {
    match e {
        StoreError::NotFound { .. } => AppError::NotFound,
        e => e.into(),
    }
}

async fn goal_in_scope(
    state: &AppState,
    scope: &Scope,
    goal_id: &str,
) -> Result<GoalRow, AppError> {
    let goal = state
        .store
        .goal(&scope.clinic_id, goal_id)
        .await
        .map_err(not_found)?;
    if goal.case_id != scope.case_id {
        return Err(AppError::NotFound);
    }
    Ok(goal)
}

async fn task_in_scope(
    state: &AppState,
    scope: &Scope,
    task_id: &str,
) -> Result<TaskRow, AppError> {
    let task = state
        .store
        .task(&scope.clinic_id, task_id)
        .await
        .map_err(not_found)?;
    if task.case_id != scope.case_id {
        return Err(AppError::NotFound);
    }
    Ok(task)
}

// ---------------------------------------------------------------------------------------------
// Reading

/// Everything about a case's goals, tasks and agreements.
#[derive(Debug, Clone, Serialize)]
pub struct GoalsView {
    #[serde(skip)]
    pub case: CaseRow,
    pub goals: Vec<GoalRow>,
    pub ratings: Vec<GoalRatingRow>,
    pub tasks: Vec<TaskRow>,
    pub reports: Vec<TaskReportRow>,
    pub formulation: Option<FormulationRow>,
    /// Mean |client − clinician| of the latest agreement ratings over goals rated by both (0–10,
    /// 0 = full consensus); `None` when no goal is rated by both.
    pub consensus: Option<f64>,
    /// GAS T-score from the latest GAS level of each goal (equal weights, ρ = 0.3); `None`
    /// when no goal has a GAS level yet.
    pub gas_t_score: Option<f64>,
}

impl GoalsView {
    /// The latest rating of a goal of one kind by one rater.
    pub fn latest(&self, goal_id: &str, rater: Rater, kind: RatingKind) -> Option<&GoalRatingRow> {
        self.ratings
            .iter()
            .filter(|r| r.goal_id == goal_id && r.rater == rater && r.kind == kind)
            .max_by_key(|r| r.rated_at)
    }
    /// Client − clinician, from the latest agreement ratings of a goal.
    pub fn gap(&self, goal_id: &str) -> Option<f64> {
        let c = self.latest(goal_id, Rater::Client, RatingKind::Agreement)?;
        let k = self.latest(goal_id, Rater::Clinician, RatingKind::Agreement)?;
        Some(agreement_gap(c.value as f64, k.value as f64))
    }
    pub fn tasks_of<'a>(&'a self, goal_id: &'a str) -> impl Iterator<Item = &'a TaskRow> + 'a {
        self.tasks.iter().filter(move |t| t.goal_id == goal_id)
    }
    pub fn latest_report(&self, task_id: &str) -> Option<&TaskReportRow> {
        self.reports
            .iter()
            .filter(|r| r.task_id == task_id)
            .max_by_key(|r| r.reported_at)
    }
}

/// The goals view of a scope's case.
pub async fn view(state: &AppState, scope: &Scope) -> Result<GoalsView, AppError> {
    let (c, k) = (scope.clinic_id(), scope.case_id());
    let case = state.store.case(c, k).await?;
    let goals = state.store.goals(c, k).await?;
    let ratings = state.store.goal_ratings(c, k).await?;
    let mut v = GoalsView {
        case,
        goals,
        ratings,
        tasks: state.store.tasks(c, k).await?,
        reports: state.store.task_reports(c, k).await?,
        formulation: state.store.formulation(c, k).await?,
        consensus: None,
        gas_t_score: None,
    };
    let pairs: Vec<(f64, f64)> = v
        .goals
        .iter()
        .filter_map(|g| {
            let c = v.latest(&g.goal_id, Rater::Client, RatingKind::Agreement)?;
            let k = v.latest(&g.goal_id, Rater::Clinician, RatingKind::Agreement)?;
            Some((c.value as f64, k.value as f64))
        })
        .collect();
    v.consensus = goal_consensus(&pairs);
    let levels: Vec<(f64, i8)> = v
        .goals
        .iter()
        .filter_map(|g| {
            v.ratings
                .iter()
                .filter(|r| r.goal_id == g.goal_id && r.kind == RatingKind::Gas)
                .max_by_key(|r| r.rated_at)
                .and_then(|r| i8::try_from(r.value).ok())
                .map(|x| (1.0, x))
        })
        .collect();
    v.gas_t_score = if levels.is_empty() {
        None
    } else {
        gas_t_score(&levels, DEFAULT_RHO).ok()
    };
    Ok(v)
}

/// The agreements log of a scope's case.
pub async fn log(state: &AppState, scope: &Scope) -> Result<Vec<LogEntry>, AppError> {
    Ok(state
        .store
        .agreements_log(scope.clinic_id(), scope.case_id())
        .await?)
}

// ---------------------------------------------------------------------------------------------
// Writing

/// A goal as typed in a form or sent as JSON.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
pub struct GoalInput {
    #[serde(default)]
    pub words: String,
    #[serde(default)]
    pub why: String,
    /// 1 (highest) to 5; 3 when not given.
    #[serde(default)]
    pub priority: Option<i64>,
    #[serde(default)]
    pub target_date: Option<String>,
    #[serde(default)]
    pub how_we_know: String,
    /// Descriptions of GAS levels −2, −1, 0, +1, +2 (all five or none).
    #[serde(default)]
    pub gas_levels: Option<[String; 5]>,
}

impl GoalInput {
    fn draft(&self) -> Result<GoalDraft, FieldErrors> {
        GoalDraft::parse(
            &self.words,
            &self.why,
            self.priority.unwrap_or(3),
            self.target_date.as_deref().filter(|d| !d.trim().is_empty()),
            &self.how_we_know,
            self.gas_levels.clone(),
        )
    }
    /// The input as it stands in a stored goal (to fill an edit form).
    pub fn of(goal: &GoalRow) -> Self {
        Self {
            words: goal.words.clone(),
            why: goal.why.clone().unwrap_or_default(),
            priority: Some(goal.priority),
            target_date: goal.target_date.clone(),
            how_we_know: goal.how_we_know.clone().unwrap_or_default(),
            gas_levels: goal.gas_levels.clone(),
        }
    }
}

/// The result of a write that may be refused for bad input.
#[derive(Debug)]
pub enum Written<T> {
    Done(T),
    Invalid(FieldErrors),
}

/// The result of a versioned change.
#[derive(Debug)]
pub enum Edited {
    Updated {
        version: i64,
    },
    /// Someone else changed it first: nothing was written; `current` is theirs.
    Conflict {
        current: Box<GoalRow>,
    },
    Invalid(FieldErrors),
}

/// Adds a goal: a client's is a proposal; a clinician's may start active.
pub async fn add_goal(
    state: &AppState,
    scope: &Scope,
    input: &GoalInput,
    active: bool,
) -> Result<Written<GoalRow>, AppError> {
    let draft = match input.draft() {
        Ok(d) => d,
        Err(e) => return Ok(Written::Invalid(e)),
    };
    let status = if active && scope.role == Rater::Clinician {
        GoalStatus::Active
    } else {
        GoalStatus::Proposed
    };
    let row = state
        .store
        .create_goal(
            scope.clinic_id(),
            scope.case_id(),
            &draft,
            status,
            &scope.change(None),
        )
        .await?;
    Ok(Written::Done(row))
}

/// Edits a goal made from `version`; a stale version is a conflict, never an overwrite.
pub async fn edit_goal(
    state: &AppState,
    scope: &Scope,
    goal_id: &str,
    version: i64,
    input: &GoalInput,
    renegotiated: bool,
    reason: Option<&str>,
) -> Result<Edited, AppError> {
    goal_in_scope(state, scope, goal_id).await?;
    let draft = match input.draft() {
        Ok(d) => d,
        Err(e) => return Ok(Edited::Invalid(e)),
    };
    let kind = if renegotiated {
        EditKind::Renegotiated
    } else {
        EditKind::Edited
    };
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    Ok(
        match state
            .store
            .update_goal(
                scope.clinic_id(),
                goal_id,
                version,
                &draft,
                kind,
                &scope.change(reason),
            )
            .await?
        {
            UpdateOutcome::Updated { version } => Edited::Updated { version },
            UpdateOutcome::Conflict { current } => Edited::Conflict {
                current: Box::new(current),
            },
        },
    )
}

/// Moves a goal to a status (from `version`).
pub async fn set_goal_status(
    state: &AppState,
    scope: &Scope,
    goal_id: &str,
    version: i64,
    status: GoalStatus,
    reason: Option<&str>,
) -> Result<Edited, AppError> {
    goal_in_scope(state, scope, goal_id).await?;
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    Ok(
        match state
            .store
            .set_goal_status(
                scope.clinic_id(),
                goal_id,
                version,
                status,
                &scope.change(reason),
            )
            .await?
        {
            UpdateOutcome::Updated { version } => Edited::Updated { version },
            UpdateOutcome::Conflict { current } => Edited::Conflict {
                current: Box::new(current),
            },
        },
    )
}

/// Rates a goal. Clients rate agreement, progress and satisfaction; clinicians agreement and
/// GAS attainment.
pub async fn rate_goal(
    state: &AppState,
    scope: &Scope,
    goal_id: &str,
    kind: RatingKind,
    value: i64,
    session_id: Option<&str>,
) -> Result<Written<GoalRatingRow>, AppError> {
    goal_in_scope(state, scope, goal_id).await?;
    let allowed = match scope.role {
        Rater::Client => matches!(
            kind,
            RatingKind::Agreement | RatingKind::Progress | RatingKind::Satisfaction
        ),
        Rater::Clinician => matches!(kind, RatingKind::Agreement | RatingKind::Gas),
    };
    if !allowed {
        return Err(AppError::BadRequest(format!(
            "a {} does not give {kind} ratings",
            scope.role
        )));
    }
    let rating = match GoalRating::new(kind, value) {
        Ok(r) => r,
        Err(e) => return Ok(Written::Invalid(e)),
    };
    let session_id = session_id.filter(|s| !s.is_empty());
    let row = state
        .store
        .rate_goal(
            scope.clinic_id(),
            goal_id,
            session_id,
            rating,
            &scope.change(None),
        )
        .await?;
    crate::monitor::agreements_changed(state, scope.clinic_id(), scope.case_id()).await;
    Ok(Written::Done(row))
}

/// A task as typed in a form or sent as JSON.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
pub struct TaskInput {
    #[serde(default)]
    pub title: String,
    /// Why this task helps this goal (required).
    #[serde(default)]
    pub rationale: String,
    /// `client`, `clinician` or `both`.
    #[serde(default)]
    pub owner: String,
    /// 1 (easy) to 5; 2 when not given.
    #[serde(default)]
    pub difficulty: Option<i64>,
    #[serde(default)]
    pub due_on: Option<String>,
}

/// Adds a task under a goal of the scope's case.
pub async fn add_task(
    state: &AppState,
    scope: &Scope,
    goal_id: &str,
    input: &TaskInput,
) -> Result<Written<TaskRow>, AppError> {
    goal_in_scope(state, scope, goal_id).await?;
    let draft = match TaskDraft::parse(
        &input.title,
        &input.rationale,
        &input.owner,
        input.difficulty.unwrap_or(2),
        input.due_on.as_deref().filter(|d| !d.trim().is_empty()),
    ) {
        Ok(d) => d,
        Err(e) => return Ok(Written::Invalid(e)),
    };
    Ok(Written::Done(
        state
            .store
            .create_task(scope.clinic_id(), goal_id, &draft, &scope.change(None))
            .await?,
    ))
}

/// A report on a task, as typed or sent as JSON.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
pub struct ReportInput {
    /// `completed` or `skipped`.
    #[serde(default)]
    pub outcome: String,
    /// 0–10, optional.
    #[serde(default)]
    pub helpful: Option<i64>,
    /// 0–10, optional.
    #[serde(default)]
    pub relevant: Option<i64>,
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub session_id: Option<String>,
}

/// Reports on a task of the scope's case (completed or skipped, helpful, relevant).
pub async fn report_task(
    state: &AppState,
    scope: &Scope,
    task_id: &str,
    input: &ReportInput,
) -> Result<Written<TaskReportRow>, AppError> {
    task_in_scope(state, scope, task_id).await?;
    let outcome = match input.outcome.trim() {
        "completed" | "done" => TaskOutcome::Completed,
        "skipped" => TaskOutcome::Skipped,
        _ => {
            let mut e = FieldErrors(Vec::new());
            e.0.push(bordin_core::goals::FieldError {
                field: "outcome",
                message: "done (completed) or skipped".into(),
            });
            return Ok(Written::Invalid(e));
        }
    };
    let report = match TaskReport::parse(outcome, input.helpful, input.relevant, &input.note) {
        Ok(r) => r,
        Err(e) => return Ok(Written::Invalid(e)),
    };
    let session_id = input.session_id.as_deref().filter(|s| !s.is_empty());
    let row = state
        .store
        .report_task(
            scope.clinic_id(),
            task_id,
            session_id,
            &report,
            &scope.change(None),
        )
        .await?;
    crate::monitor::agreements_changed(state, scope.clinic_id(), scope.case_id()).await;
    Ok(Written::Done(row))
}

/// A formulation as typed or sent as JSON.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
pub struct FormulationInput {
    /// The version it was edited from (0 when the case has none yet).
    #[serde(default)]
    pub version: i64,
    #[serde(default)]
    pub presenting_concerns: String,
    #[serde(default)]
    pub preferences: String,
    #[serde(default)]
    pub strengths: String,
    #[serde(default)]
    pub identities_context: String,
    #[serde(default)]
    pub goal_ids: Vec<String>,
    #[serde(default)]
    pub reason: String,
}

/// The result of saving a formulation.
#[derive(Debug)]
pub enum FormulationSaved {
    Saved { version: i64 },
    Conflict { current: Box<FormulationRow> },
    Invalid(FieldErrors),
}

/// Saves a new version of the case formulation (from `input.version`).
pub async fn save_formulation(
    state: &AppState,
    scope: &Scope,
    input: &FormulationInput,
) -> Result<FormulationSaved, AppError> {
    let draft = match FormulationDraft::parse(
        &input.presenting_concerns,
        &input.preferences,
        &input.strengths,
        &input.identities_context,
        &input.goal_ids,
    ) {
        Ok(d) => d,
        Err(e) => return Ok(FormulationSaved::Invalid(e)),
    };
    let reason = Some(input.reason.trim()).filter(|r| !r.is_empty());
    Ok(
        match state
            .store
            .save_formulation(
                scope.clinic_id(),
                scope.case_id(),
                input.version,
                &draft,
                &scope.change(reason),
            )
            .await?
        {
            UpdateOutcome::Updated { version } => FormulationSaved::Saved { version },
            UpdateOutcome::Conflict { current } => FormulationSaved::Conflict {
                current: Box::new(current),
            },
        },
    )
}

/// A consent decision as posted (form or JSON).
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
pub struct ConsentInput {
    /// The client of the case the decision is theirs.
    pub client_id: String,
    /// `questionnaires`, `transcript_analysis`, `live_copilot` or `research_export`.
    pub kind: String,
    /// True to record consent given, false to record it withdrawn.
    pub granted: bool,
    /// How it was given or withdrawn (e.g. "signed form, session 1").
    #[serde(default)]
    pub note: Option<String>,
}

/// Records a client's consent decision in the agreements log (append-only; a withdrawal is a
/// new record, the earlier one stays). Only clinicians record consent.
pub async fn record_consent(
    state: &AppState,
    scope: &Scope,
    input: &ConsentInput,
) -> Result<Written<bordin_store::ConsentRow>, AppError> {
    let mut errors = Vec::new();
    let kind = bordin_core::goals::ConsentKind::parse(input.kind.trim());
    if kind.is_none() {
        errors.push(bordin_core::goals::FieldError {
            field: "kind",
            message: "choose questionnaires, transcript_analysis, live_copilot or research_export"
                .into(),
        });
    }
    if scope.role() != Rater::Clinician {
        return Err(AppError::NotFound);
    }
    let Some(kind) = kind else {
        return Ok(Written::Invalid(bordin_core::goals::FieldErrors(errors)));
    };
    let note = input
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    let row = state
        .store
        .record_consent(
            scope.clinic_id(),
            scope.case_id(),
            input.client_id.trim(),
            kind,
            input.granted,
            &scope.change(note),
        )
        .await
        .map_err(|e| match e {
            bordin_store::StoreError::NotFound { .. } => {
                AppError::BadRequest("that client is not part of this case".into())
            }
            other => other.into(),
        })?;
    Ok(Written::Done(row))
}
