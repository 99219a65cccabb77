//! Goals, tasks, case formulation, consent records, the agreements log and clients' case links.
//!
//! Goals and tasks are versioned for optimistic concurrency: every change names the version it
//! was made from, and when someone else changed the row in between the change is not written and
//! the caller gets [`UpdateOutcome::Conflict`] with the current row, to show both. Every change
//! (and every rating, task report and consent decision) appends an entry to `agreements_log` in
//! the same transaction, with who, when, why and a JSON snapshot of the object after the change.

use bordin_core::goals::{
    ConsentKind, FormulationDraft, GoalDraft, GoalRating, GoalStatus, LogAction, LogObject, Rater,
    RatingKind, TaskDraft, TaskOutcome, TaskOwner, TaskReport, TaskStatus,
};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::seal::{open_col, open_opt, seal_col, seal_opt, Keyring};
use crate::{new_id, Result, Store, StoreError};

/// How a consent record that grants is stored (`decision`; the other value is `withdrawn`).
pub(crate) const GRANTED: &str = "granted";

/// Who makes a change: a clinician (their user id) or a client (their client id, through their
/// link).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor<'a> {
    pub role: Rater,
    pub id: &'a str,
}

/// Who, when and why: every change carries one, and it goes into the agreements log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change<'a> {
    pub actor: Actor<'a>,
    pub at: i64,
    /// Why (optional; for consent decisions it is kept as the record's note).
    pub reason: Option<&'a str>,
}

/// How a goal or task was edited: corrected wording, or changed by agreement (renegotiated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditKind {
    Edited,
    Renegotiated,
}

impl EditKind {
    fn action(self) -> LogAction {
        match self {
            EditKind::Edited => LogAction::Edited,
            EditKind::Renegotiated => LogAction::Renegotiated,
        }
    }
}

/// The result of a versioned change.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum UpdateOutcome<T> {
    /// Written; the object now has this version.
    Updated { version: i64 },
    /// Not written: the object is no longer at the expected version (someone else changed it).
    /// `current` is the object as it stands, to show beside the caller's own change.
    Conflict { current: T },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GoalRow {
    pub goal_id: String,
    pub case_id: String,
    pub words: String,
    pub why: Option<String>,
    pub priority: i64,
    pub target_date: Option<String>,
    pub how_we_know: Option<String>,
    /// Descriptions of GAS levels −2, −1, 0, +1, +2.
    pub gas_levels: Option<[String; 5]>,
    pub status: GoalStatus,
    pub proposed_by: Rater,
    pub version: i64,
    pub created_at: i64,
    pub created_by: String,
    pub updated_at: i64,
    pub updated_by: String,
    pub updated_by_role: Rater,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GoalRatingRow {
    pub rating_id: String,
    pub goal_id: String,
    pub case_id: String,
    pub session_id: Option<String>,
    pub rater: Rater,
    pub kind: RatingKind,
    /// 0–10, or −2..+2 for GAS.
    pub value: i64,
    pub rated_by: String,
    pub rated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskRow {
    pub task_id: String,
    pub case_id: String,
    pub goal_id: String,
    pub title: String,
    pub rationale: String,
    pub owner: TaskOwner,
    pub difficulty: i64,
    pub due_on: Option<String>,
    pub status: TaskStatus,
    pub version: i64,
    pub created_at: i64,
    pub created_by: String,
    pub updated_at: i64,
    pub updated_by: String,
    pub updated_by_role: Rater,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskReportRow {
    pub report_id: String,
    pub task_id: String,
    pub case_id: String,
    pub session_id: Option<String>,
    pub outcome: TaskOutcome,
    pub helpful: Option<i64>,
    pub relevant: Option<i64>,
    pub note: Option<String>,
    pub reporter: Rater,
    pub reported_by: String,
    pub reported_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FormulationRow {
    pub case_id: String,
    pub version: i64,
    pub presenting_concerns: Option<String>,
    pub preferences: Option<String>,
    pub strengths: Option<String>,
    pub identities_context: Option<String>,
    pub goal_ids: Vec<String>,
    pub created_at: i64,
    pub created_by: String,
    pub created_by_role: Rater,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsentRow {
    pub consent_id: String,
    pub case_id: String,
    pub client_id: String,
    pub kind: ConsentKind,
    pub granted: bool,
    pub at: i64,
    pub recorded_by: String,
    pub recorded_by_role: Rater,
    pub note: Option<String>,
}

/// One entry of the agreements log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogEntry {
    pub entry_id: String,
    pub case_id: String,
    /// 1, 2, 3, … within the case, in the order the changes were committed.
    pub seq: i64,
    pub object_type: LogObject,
    pub object_id: String,
    /// The object's version after the change (for ratings and reports: the version rated).
    pub version: i64,
    pub action: LogAction,
    pub actor_role: Rater,
    pub actor: String,
    pub at: i64,
    pub reason: Option<String>,
    /// The object after the change: the goal, task, formulation or consent row, or the rating or
    /// task report recorded.
    pub snapshot: serde_json::Value,
}

/// A client's link to their own page of a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseLinkRow {
    pub token_hash: String,
    pub case_id: String,
    pub client_id: String,
    pub created_at: i64,
    pub created_by: String,
    pub expires_at: Option<i64>,
    pub revoked: bool,
}

impl CaseLinkRow {
    /// True when the link may be used at `now` (not revoked, not expired).
    pub fn usable(&self, now: i64) -> bool {
        !self.revoked && self.expires_at.is_none_or(|e| now < e)
    }
}

// ---------------------------------------------------------------------------------------------
// Reading rows
// ---------------------------------------------------------------------------------------------

fn named<T>(what: &str, r: &AnyRow, col: &str, f: impl Fn(&str) -> Option<T>) -> Result<T> {
    let s: String = r.try_get(col)?;
    f(&s).ok_or_else(|| StoreError::Corrupt(format!("unknown {what} '{s}'")))
}

fn json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn to_json<T: Serialize + ?Sized>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

const GOAL_COLUMNS: &str = "goal_id, case_id, words, why, priority, target_date, how_we_know, gas_levels, status, proposed_by, version, created_at, created_by, updated_at, updated_by, updated_by_role";

fn goal_from(r: &AnyRow, k: Option<&Keyring>, clinic_id: &str) -> Result<GoalRow> {
    let gas = open_opt(
        k,
        clinic_id,
        "goals",
        "gas_levels",
        r.try_get("gas_levels")?,
    )?;
    Ok(GoalRow {
        goal_id: r.try_get("goal_id")?,
        case_id: r.try_get("case_id")?,
        words: open_col(k, clinic_id, "goals", "words", r.try_get("words")?)?,
        why: open_opt(k, clinic_id, "goals", "why", r.try_get("why")?)?,
        priority: r.try_get("priority")?,
        target_date: r.try_get("target_date")?,
        how_we_know: open_opt(
            k,
            clinic_id,
            "goals",
            "how_we_know",
            r.try_get("how_we_know")?,
        )?,
        gas_levels: gas.as_deref().map(json).transpose()?,
        status: named("goal status", r, "status", GoalStatus::parse)?,
        proposed_by: named("rater", r, "proposed_by", Rater::parse)?,
        version: r.try_get("version")?,
        created_at: r.try_get("created_at")?,
        created_by: r.try_get("created_by")?,
        updated_at: r.try_get("updated_at")?,
        updated_by: r.try_get("updated_by")?,
        updated_by_role: named("rater", r, "updated_by_role", Rater::parse)?,
    })
}

const RATING_COLUMNS: &str =
    "rating_id, goal_id, case_id, session_id, rater, kind, value, rated_by, rated_at";

fn rating_from(r: &AnyRow) -> Result<GoalRatingRow> {
    Ok(GoalRatingRow {
        rating_id: r.try_get("rating_id")?,
        goal_id: r.try_get("goal_id")?,
        case_id: r.try_get("case_id")?,
        session_id: r.try_get("session_id")?,
        rater: named("rater", r, "rater", Rater::parse)?,
        kind: named("rating kind", r, "kind", RatingKind::parse)?,
        value: r.try_get("value")?,
        rated_by: r.try_get("rated_by")?,
        rated_at: r.try_get("rated_at")?,
    })
}

const TASK_COLUMNS: &str = "task_id, case_id, goal_id, title, rationale, owner, difficulty, due_on, status, version, created_at, created_by, updated_at, updated_by, updated_by_role";

fn task_from(r: &AnyRow, k: Option<&Keyring>, clinic_id: &str) -> Result<TaskRow> {
    Ok(TaskRow {
        task_id: r.try_get("task_id")?,
        case_id: r.try_get("case_id")?,
        goal_id: r.try_get("goal_id")?,
        title: open_col(k, clinic_id, "tasks", "title", r.try_get("title")?)?,
        rationale: open_col(k, clinic_id, "tasks", "rationale", r.try_get("rationale")?)?,
        owner: named("task owner", r, "owner", TaskOwner::parse)?,
        difficulty: r.try_get("difficulty")?,
        due_on: r.try_get("due_on")?,
        status: named("task status", r, "status", TaskStatus::parse)?,
        version: r.try_get("version")?,
        created_at: r.try_get("created_at")?,
        created_by: r.try_get("created_by")?,
        updated_at: r.try_get("updated_at")?,
        updated_by: r.try_get("updated_by")?,
        updated_by_role: named("rater", r, "updated_by_role", Rater::parse)?,
    })
}

const REPORT_COLUMNS: &str = "report_id, task_id, case_id, session_id, outcome, helpful, relevant, note, reporter, reported_by, reported_at";

fn report_from(r: &AnyRow, k: Option<&Keyring>, clinic_id: &str) -> Result<TaskReportRow> {
    Ok(TaskReportRow {
        report_id: r.try_get("report_id")?,
        task_id: r.try_get("task_id")?,
        case_id: r.try_get("case_id")?,
        session_id: r.try_get("session_id")?,
        outcome: named("task outcome", r, "outcome", TaskOutcome::parse)?,
        helpful: r.try_get("helpful")?,
        relevant: r.try_get("relevant")?,
        note: open_opt(k, clinic_id, "task_reports", "note", r.try_get("note")?)?,
        reporter: named("rater", r, "reporter", Rater::parse)?,
        reported_by: r.try_get("reported_by")?,
        reported_at: r.try_get("reported_at")?,
    })
}

const FORMULATION_COLUMNS: &str = "case_id, version, presenting_concerns, preferences, strengths, identities_context, goal_ids, created_at, created_by, created_by_role, reason";

fn formulation_from(r: &AnyRow, k: Option<&Keyring>, clinic_id: &str) -> Result<FormulationRow> {
    let goal_ids: String = r.try_get("goal_ids")?;
    Ok(FormulationRow {
        case_id: r.try_get("case_id")?,
        version: r.try_get("version")?,
        presenting_concerns: open_opt(
            k,
            clinic_id,
            "formulations",
            "presenting_concerns",
            r.try_get("presenting_concerns")?,
        )?,
        preferences: open_opt(
            k,
            clinic_id,
            "formulations",
            "preferences",
            r.try_get("preferences")?,
        )?,
        strengths: open_opt(
            k,
            clinic_id,
            "formulations",
            "strengths",
            r.try_get("strengths")?,
        )?,
        identities_context: open_opt(
            k,
            clinic_id,
            "formulations",
            "identities_context",
            r.try_get("identities_context")?,
        )?,
        goal_ids: json(&goal_ids)?,
        created_at: r.try_get("created_at")?,
        created_by: r.try_get("created_by")?,
        created_by_role: named("rater", r, "created_by_role", Rater::parse)?,
        reason: open_opt(k, clinic_id, "formulations", "reason", r.try_get("reason")?)?,
    })
}

const CONSENT_COLUMNS: &str =
    "consent_id, case_id, client_id, kind, decision, at, recorded_by, recorded_by_role, note";

fn consent_from(r: &AnyRow, k: Option<&Keyring>, clinic_id: &str) -> Result<ConsentRow> {
    let decision: String = r.try_get("decision")?;
    Ok(ConsentRow {
        consent_id: r.try_get("consent_id")?,
        case_id: r.try_get("case_id")?,
        client_id: r.try_get("client_id")?,
        kind: named("consent kind", r, "kind", ConsentKind::parse)?,
        granted: match decision.as_str() {
            GRANTED => true,
            "withdrawn" => false,
            other => return Err(StoreError::Corrupt(format!("unknown decision '{other}'"))),
        },
        at: r.try_get("at")?,
        recorded_by: r.try_get("recorded_by")?,
        recorded_by_role: named("rater", r, "recorded_by_role", Rater::parse)?,
        note: open_opt(k, clinic_id, "consent_records", "note", r.try_get("note")?)?,
    })
}

const LOG_COLUMNS: &str = "entry_id, case_id, seq, object_type, object_id, version, action, actor_role, actor, at, reason, snapshot";

fn log_from(r: &AnyRow, k: Option<&Keyring>, clinic_id: &str) -> Result<LogEntry> {
    let snapshot = open_col(
        k,
        clinic_id,
        "agreements_log",
        "snapshot",
        r.try_get("snapshot")?,
    )?;
    Ok(LogEntry {
        entry_id: r.try_get("entry_id")?,
        case_id: r.try_get("case_id")?,
        seq: r.try_get("seq")?,
        object_type: named("log object", r, "object_type", LogObject::parse)?,
        object_id: r.try_get("object_id")?,
        version: r.try_get("version")?,
        action: named("log action", r, "action", LogAction::parse)?,
        actor_role: named("rater", r, "actor_role", Rater::parse)?,
        actor: r.try_get("actor")?,
        at: r.try_get("at")?,
        reason: open_opt(
            k,
            clinic_id,
            "agreements_log",
            "reason",
            r.try_get("reason")?,
        )?,
        snapshot: json(&snapshot)?,
    })
}

fn case_link_from(r: &AnyRow) -> Result<CaseLinkRow> {
    Ok(CaseLinkRow {
        token_hash: r.try_get("token_hash")?,
        case_id: r.try_get("case_id")?,
        client_id: r.try_get("client_id")?,
        created_at: r.try_get("created_at")?,
        created_by: r.try_get("created_by")?,
        expires_at: r.try_get("expires_at")?,
        revoked: r.try_get::<i64, _>("revoked")? != 0,
    })
}

// ---------------------------------------------------------------------------------------------
// Inside a transaction
// ---------------------------------------------------------------------------------------------

type Tx = Transaction<'static, Any>;

fn reason(change: &Change<'_>) -> Option<String> {
    change
        .reason
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
}

/// Appends one entry to the agreements log, numbered after the case's last entry.
#[allow(clippy::too_many_arguments)]
async fn append_log<T: Serialize + ?Sized>(
    tx: &mut Tx,
    k: Option<&Keyring>,
    clinic_id: &str,
    case_id: &str,
    object: LogObject,
    object_id: &str,
    version: i64,
    action: LogAction,
    change: &Change<'_>,
    snapshot: &T,
) -> Result<()> {
    // `seq` is MAX + 1: on PostgreSQL, wait for any other change to the case to commit first.
    crate::lock_case(tx, clinic_id, case_id).await?;
    sqlx::query(
        "INSERT INTO agreements_log (clinic_id, entry_id, case_id, seq, object_type, object_id, version, action, actor_role, actor, at, reason, snapshot)
         SELECT $1, $2, $3, COALESCE(MAX(seq), 0) + 1, $4, $5, $6, $7, $8, $9, $10, $11, $12
         FROM agreements_log WHERE clinic_id = $1 AND case_id = $3",
    )
    .bind(clinic_id)
    .bind(new_id())
    .bind(case_id)
    .bind(object.as_str())
    .bind(object_id)
    .bind(version)
    .bind(action.as_str())
    .bind(change.actor.role.as_str())
    .bind(change.actor.id)
    .bind(change.at)
    .bind(seal_opt(k, clinic_id, "agreements_log", "reason", reason(change).as_deref())?)
    .bind(seal_col(k, clinic_id, "agreements_log", "snapshot", &to_json(snapshot)?)?)
    .execute(&mut **tx)
    .await?;
    // Every agreement change is also a write of client data: audited in the same transaction.
    crate::audit::record_in_tx(
        tx,
        &crate::audit::AuditEvent::on_case(
            clinic_id,
            case_id,
            action.as_str(),
            object.as_str(),
            object_id,
        ),
    )
    .await?;
    Ok(())
}

async fn case_exists(tx: &mut Tx, clinic_id: &str, case_id: &str) -> Result<()> {
    sqlx::query("SELECT 1 FROM cases WHERE clinic_id = $1 AND case_id = $2")
        .bind(clinic_id)
        .bind(case_id)
        .fetch_optional(&mut **tx)
        .await?
        .map(|_| ())
        .ok_or(StoreError::NotFound { what: "case" })
}

/// A session, when given, must belong to the case.
async fn session_in_case(
    tx: &mut Tx,
    clinic_id: &str,
    case_id: &str,
    session_id: Option<&str>,
) -> Result<()> {
    let Some(session_id) = session_id else {
        return Ok(());
    };
    sqlx::query("SELECT 1 FROM sessions WHERE clinic_id = $1 AND session_id = $2 AND case_id = $3")
        .bind(clinic_id)
        .bind(session_id)
        .bind(case_id)
        .fetch_optional(&mut **tx)
        .await?
        .map(|_| ())
        .ok_or(StoreError::NotFound { what: "session" })
}

async fn client_in_case(
    tx: &mut Tx,
    clinic_id: &str,
    case_id: &str,
    client_id: &str,
) -> Result<()> {
    sqlx::query(
        "SELECT 1 FROM case_clients WHERE clinic_id = $1 AND case_id = $2 AND client_id = $3",
    )
    .bind(clinic_id)
    .bind(case_id)
    .bind(client_id)
    .fetch_optional(&mut **tx)
    .await?
    .map(|_| ())
    .ok_or(StoreError::NotFound { what: "client" })
}

async fn goal_in(
    tx: &mut Tx,
    k: Option<&Keyring>,
    clinic_id: &str,
    goal_id: &str,
) -> Result<Option<GoalRow>> {
    sqlx::query(&format!(
        "SELECT {GOAL_COLUMNS} FROM goals WHERE clinic_id = $1 AND goal_id = $2"
    ))
    .bind(clinic_id)
    .bind(goal_id)
    .fetch_optional(&mut **tx)
    .await?
    .as_ref()
    .map(|r| goal_from(r, k, clinic_id))
    .transpose()
}

async fn task_in(
    tx: &mut Tx,
    k: Option<&Keyring>,
    clinic_id: &str,
    task_id: &str,
) -> Result<Option<TaskRow>> {
    sqlx::query(&format!(
        "SELECT {TASK_COLUMNS} FROM tasks WHERE clinic_id = $1 AND task_id = $2"
    ))
    .bind(clinic_id)
    .bind(task_id)
    .fetch_optional(&mut **tx)
    .await?
    .as_ref()
    .map(|r| task_from(r, k, clinic_id))
    .transpose()
}

async fn formulation_in(
    tx: &mut Tx,
    k: Option<&Keyring>,
    clinic_id: &str,
    case_id: &str,
) -> Result<Option<FormulationRow>> {
    sqlx::query(&format!(
        "SELECT {FORMULATION_COLUMNS} FROM formulations WHERE clinic_id = $1 AND case_id = $2 ORDER BY version DESC LIMIT 1"
    ))
    .bind(clinic_id)
    .bind(case_id)
    .fetch_optional(&mut **tx)
    .await?
    .as_ref()
    .map(|r| formulation_from(r, k, clinic_id))
    .transpose()
}

/// After an UPDATE guarded by `version = expected`: if it changed nothing, the outcome is a
/// conflict with the current row (or not found).
fn stale<T>(current: Option<T>, what: &'static str) -> Result<UpdateOutcome<T>> {
    match current {
        Some(current) => Ok(UpdateOutcome::Conflict { current }),
        None => Err(StoreError::NotFound { what }),
    }
}

/// The id a case link goes by in the audit trail: the first 16 hex digits of its secret's
/// hash (never the secret; the hash alone opens nothing).
pub fn link_id(token_hash: &str) -> String {
    format!("cl-{}", token_hash.get(..16).unwrap_or(token_hash))
}

impl Store {
    // -----------------------------------------------------------------------------------------
    // Goals
    // -----------------------------------------------------------------------------------------

    /// Creates a goal (version 1) in `status` (a client's proposal is `Proposed`; a goal agreed
    /// in session may start `Active`) and logs it as `created`.
    pub async fn create_goal(
        &self,
        clinic_id: &str,
        case_id: &str,
        draft: &GoalDraft,
        status: GoalStatus,
        change: &Change<'_>,
    ) -> Result<GoalRow> {
        let id = new_id();
        let k = self.keys();
        let gas = draft.gas_levels().map(to_json).transpose()?;
        let gas = seal_opt(k, clinic_id, "goals", "gas_levels", gas.as_deref())?;
        let mut tx = self.write_tx().await?;
        case_exists(&mut tx, clinic_id, case_id).await?;
        sqlx::query(&format!(
            "INSERT INTO goals (clinic_id, {GOAL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1, $12, $13, $12, $13, $14)"
        ))
        .bind(clinic_id)
        .bind(&id)
        .bind(case_id)
        .bind(seal_col(k, clinic_id, "goals", "words", draft.words())?)
        .bind(seal_opt(k, clinic_id, "goals", "why", draft.why())?)
        .bind(i64::from(draft.priority()))
        .bind(draft.target_date())
        .bind(seal_opt(k, clinic_id, "goals", "how_we_know", draft.how_we_know())?)
        .bind(gas)
        .bind(status.as_str())
        .bind(change.actor.role.as_str())
        .bind(change.at)
        .bind(change.actor.id)
        .bind(change.actor.role.as_str())
        .execute(&mut *tx)
        .await?;
        let row = goal_in(&mut tx, self.keys(), clinic_id, &id)
            .await?
            .ok_or(StoreError::NotFound { what: "goal" })?;
        append_log(
            &mut tx,
            self.keys(),
            clinic_id,
            case_id,
            LogObject::Goal,
            &id,
            1,
            LogAction::Created,
            change,
            &row,
        )
        .await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Rewrites a goal's content if it is still at `expected_version`; otherwise nothing is
    /// written and the current goal comes back as [`UpdateOutcome::Conflict`].
    pub async fn update_goal(
        &self,
        clinic_id: &str,
        goal_id: &str,
        expected_version: i64,
        draft: &GoalDraft,
        kind: EditKind,
        change: &Change<'_>,
    ) -> Result<UpdateOutcome<GoalRow>> {
        let k = self.keys();
        let gas = draft.gas_levels().map(to_json).transpose()?;
        let gas = seal_opt(k, clinic_id, "goals", "gas_levels", gas.as_deref())?;
        let mut tx = self.write_tx().await?;
        let n = sqlx::query(
            "UPDATE goals SET words = $4, why = $5, priority = $6, target_date = $7, how_we_know = $8, gas_levels = $9,
               version = version + 1, updated_at = $10, updated_by = $11, updated_by_role = $12
             WHERE clinic_id = $1 AND goal_id = $2 AND version = $3",
        )
        .bind(clinic_id)
        .bind(goal_id)
        .bind(expected_version)
        .bind(seal_col(k, clinic_id, "goals", "words", draft.words())?)
        .bind(seal_opt(k, clinic_id, "goals", "why", draft.why())?)
        .bind(i64::from(draft.priority()))
        .bind(draft.target_date())
        .bind(seal_opt(k, clinic_id, "goals", "how_we_know", draft.how_we_know())?)
        .bind(gas)
        .bind(change.at)
        .bind(change.actor.id)
        .bind(change.actor.role.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        self.finish_goal_change(tx, clinic_id, goal_id, n, kind.action(), change)
            .await
    }

    /// Moves a goal to `status` if it is still at `expected_version` (see [`Store::update_goal`]).
    pub async fn set_goal_status(
        &self,
        clinic_id: &str,
        goal_id: &str,
        expected_version: i64,
        status: GoalStatus,
        change: &Change<'_>,
    ) -> Result<UpdateOutcome<GoalRow>> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query(
            "UPDATE goals SET status = $4, version = version + 1, updated_at = $5, updated_by = $6, updated_by_role = $7
             WHERE clinic_id = $1 AND goal_id = $2 AND version = $3",
        )
        .bind(clinic_id)
        .bind(goal_id)
        .bind(expected_version)
        .bind(status.as_str())
        .bind(change.at)
        .bind(change.actor.id)
        .bind(change.actor.role.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        self.finish_goal_change(tx, clinic_id, goal_id, n, LogAction::Status, change)
            .await
    }

    async fn finish_goal_change(
        &self,
        mut tx: Tx,
        clinic_id: &str,
        goal_id: &str,
        rows_affected: u64,
        action: LogAction,
        change: &Change<'_>,
    ) -> Result<UpdateOutcome<GoalRow>> {
        let current = goal_in(&mut tx, self.keys(), clinic_id, goal_id).await?;
        if rows_affected == 0 {
            // Nothing written; dropping the transaction rolls it back.
            return stale(current, "goal");
        }
        let row = current.ok_or(StoreError::NotFound { what: "goal" })?;
        append_log(
            &mut tx,
            self.keys(),
            clinic_id,
            &row.case_id,
            LogObject::Goal,
            goal_id,
            row.version,
            action,
            change,
            &row,
        )
        .await?;
        tx.commit().await?;
        Ok(UpdateOutcome::Updated {
            version: row.version,
        })
    }

    pub async fn goal(&self, clinic_id: &str, goal_id: &str) -> Result<GoalRow> {
        let r = sqlx::query(&format!(
            "SELECT {GOAL_COLUMNS} FROM goals WHERE clinic_id = $1 AND goal_id = $2"
        ))
        .bind(clinic_id)
        .bind(goal_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound { what: "goal" })?;
        goal_from(&r, self.keys(), clinic_id)
    }

    /// The goals of a case, oldest first.
    pub async fn goals(&self, clinic_id: &str, case_id: &str) -> Result<Vec<GoalRow>> {
        sqlx::query(&format!(
            "SELECT {GOAL_COLUMNS} FROM goals WHERE clinic_id = $1 AND case_id = $2 ORDER BY created_at, goal_id"
        ))
        .bind(clinic_id)
        .bind(case_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| goal_from(r, self.keys(), clinic_id))
        .collect()
    }

    /// Records a rating of a goal by `change.actor` (whose role is the rater), optionally at a
    /// session of the case. Satisfaction is asked only of a reached goal.
    pub async fn rate_goal(
        &self,
        clinic_id: &str,
        goal_id: &str,
        session_id: Option<&str>,
        rating: GoalRating,
        change: &Change<'_>,
    ) -> Result<GoalRatingRow> {
        let mut tx = self.write_tx().await?;
        let goal = goal_in(&mut tx, self.keys(), clinic_id, goal_id)
            .await?
            .ok_or(StoreError::NotFound { what: "goal" })?;
        if rating.kind() == RatingKind::Satisfaction && goal.status != GoalStatus::Reached {
            return Err(StoreError::Conflict(
                "satisfaction is rated when a goal is reached".into(),
            ));
        }
        session_in_case(&mut tx, clinic_id, &goal.case_id, session_id).await?;
        let row = GoalRatingRow {
            rating_id: new_id(),
            goal_id: goal_id.to_owned(),
            case_id: goal.case_id.clone(),
            session_id: session_id.map(str::to_owned),
            rater: change.actor.role,
            kind: rating.kind(),
            value: i64::from(rating.value()),
            rated_by: change.actor.id.to_owned(),
            rated_at: change.at,
        };
        sqlx::query(&format!(
            "INSERT INTO goal_ratings (clinic_id, {RATING_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(clinic_id)
        .bind(&row.rating_id)
        .bind(&row.goal_id)
        .bind(&row.case_id)
        .bind(row.session_id.as_deref())
        .bind(row.rater.as_str())
        .bind(row.kind.as_str())
        .bind(row.value)
        .bind(&row.rated_by)
        .bind(row.rated_at)
        .execute(&mut *tx)
        .await?;
        append_log(
            &mut tx,
            self.keys(),
            clinic_id,
            &goal.case_id,
            LogObject::Goal,
            goal_id,
            goal.version,
            LogAction::Rated,
            change,
            &row,
        )
        .await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Every rating of every goal of a case, oldest first.
    pub async fn goal_ratings(&self, clinic_id: &str, case_id: &str) -> Result<Vec<GoalRatingRow>> {
        sqlx::query(&format!(
            "SELECT {RATING_COLUMNS} FROM goal_ratings WHERE clinic_id = $1 AND case_id = $2 ORDER BY rated_at, rating_id"
        ))
        .bind(clinic_id)
        .bind(case_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(rating_from)
        .collect()
    }

    // -----------------------------------------------------------------------------------------
    // Tasks
    // -----------------------------------------------------------------------------------------

    /// Creates a task for a goal (version 1, status `agreed`) and logs it as `created`.
    pub async fn create_task(
        &self,
        clinic_id: &str,
        goal_id: &str,
        draft: &TaskDraft,
        change: &Change<'_>,
    ) -> Result<TaskRow> {
        let id = new_id();
        let mut tx = self.write_tx().await?;
        let goal = goal_in(&mut tx, self.keys(), clinic_id, goal_id)
            .await?
            .ok_or(StoreError::NotFound { what: "goal" })?;
        sqlx::query(&format!(
            "INSERT INTO tasks (clinic_id, {TASK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'agreed', 1, $10, $11, $10, $11, $12)"
        ))
        .bind(clinic_id)
        .bind(&id)
        .bind(&goal.case_id)
        .bind(goal_id)
        .bind(seal_col(self.keys(), clinic_id, "tasks", "title", draft.title())?)
        .bind(seal_col(self.keys(), clinic_id, "tasks", "rationale", draft.rationale())?)
        .bind(draft.owner().as_str())
        .bind(i64::from(draft.difficulty()))
        .bind(draft.due_on())
        .bind(change.at)
        .bind(change.actor.id)
        .bind(change.actor.role.as_str())
        .execute(&mut *tx)
        .await?;
        let row = task_in(&mut tx, self.keys(), clinic_id, &id)
            .await?
            .ok_or(StoreError::NotFound { what: "task" })?;
        append_log(
            &mut tx,
            self.keys(),
            clinic_id,
            &goal.case_id,
            LogObject::Task,
            &id,
            1,
            LogAction::Created,
            change,
            &row,
        )
        .await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Rewrites a task if it is still at `expected_version` (see [`Store::update_goal`]).
    pub async fn update_task(
        &self,
        clinic_id: &str,
        task_id: &str,
        expected_version: i64,
        draft: &TaskDraft,
        kind: EditKind,
        change: &Change<'_>,
    ) -> Result<UpdateOutcome<TaskRow>> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query(
            "UPDATE tasks SET title = $4, rationale = $5, owner = $6, difficulty = $7, due_on = $8,
               version = version + 1, updated_at = $9, updated_by = $10, updated_by_role = $11
             WHERE clinic_id = $1 AND task_id = $2 AND version = $3",
        )
        .bind(clinic_id)
        .bind(task_id)
        .bind(expected_version)
        .bind(seal_col(
            self.keys(),
            clinic_id,
            "tasks",
            "title",
            draft.title(),
        )?)
        .bind(seal_col(
            self.keys(),
            clinic_id,
            "tasks",
            "rationale",
            draft.rationale(),
        )?)
        .bind(draft.owner().as_str())
        .bind(i64::from(draft.difficulty()))
        .bind(draft.due_on())
        .bind(change.at)
        .bind(change.actor.id)
        .bind(change.actor.role.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        self.finish_task_change(tx, clinic_id, task_id, n, kind.action(), change)
            .await
    }

    /// Moves a task to `status` if it is still at `expected_version`.
    pub async fn set_task_status(
        &self,
        clinic_id: &str,
        task_id: &str,
        expected_version: i64,
        status: TaskStatus,
        change: &Change<'_>,
    ) -> Result<UpdateOutcome<TaskRow>> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query(
            "UPDATE tasks SET status = $4, version = version + 1, updated_at = $5, updated_by = $6, updated_by_role = $7
             WHERE clinic_id = $1 AND task_id = $2 AND version = $3",
        )
        .bind(clinic_id)
        .bind(task_id)
        .bind(expected_version)
        .bind(status.as_str())
        .bind(change.at)
        .bind(change.actor.id)
        .bind(change.actor.role.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        self.finish_task_change(tx, clinic_id, task_id, n, LogAction::Status, change)
            .await
    }

    async fn finish_task_change(
        &self,
        mut tx: Tx,
        clinic_id: &str,
        task_id: &str,
        rows_affected: u64,
        action: LogAction,
        change: &Change<'_>,
    ) -> Result<UpdateOutcome<TaskRow>> {
        let current = task_in(&mut tx, self.keys(), clinic_id, task_id).await?;
        if rows_affected == 0 {
            return stale(current, "task");
        }
        let row = current.ok_or(StoreError::NotFound { what: "task" })?;
        append_log(
            &mut tx,
            self.keys(),
            clinic_id,
            &row.case_id,
            LogObject::Task,
            task_id,
            row.version,
            action,
            change,
            &row,
        )
        .await?;
        tx.commit().await?;
        Ok(UpdateOutcome::Updated {
            version: row.version,
        })
    }

    pub async fn task(&self, clinic_id: &str, task_id: &str) -> Result<TaskRow> {
        let r = sqlx::query(&format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE clinic_id = $1 AND task_id = $2"
        ))
        .bind(clinic_id)
        .bind(task_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound { what: "task" })?;
        task_from(&r, self.keys(), clinic_id)
    }

    /// The tasks of a case, oldest first.
    pub async fn tasks(&self, clinic_id: &str, case_id: &str) -> Result<Vec<TaskRow>> {
        sqlx::query(&format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE clinic_id = $1 AND case_id = $2 ORDER BY created_at, task_id"
        ))
        .bind(clinic_id)
        .bind(case_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| task_from(r, self.keys(), clinic_id))
        .collect()
    }

    /// Records a report on a task (completed or skipped, how helpful and relevant) by
    /// `change.actor`, optionally at a session of the case. The task's status is not changed:
    /// a recurring task may be reported many times.
    pub async fn report_task(
        &self,
        clinic_id: &str,
        task_id: &str,
        session_id: Option<&str>,
        report: &TaskReport,
        change: &Change<'_>,
    ) -> Result<TaskReportRow> {
        let mut tx = self.write_tx().await?;
        let task = task_in(&mut tx, self.keys(), clinic_id, task_id)
            .await?
            .ok_or(StoreError::NotFound { what: "task" })?;
        session_in_case(&mut tx, clinic_id, &task.case_id, session_id).await?;
        let row = TaskReportRow {
            report_id: new_id(),
            task_id: task_id.to_owned(),
            case_id: task.case_id.clone(),
            session_id: session_id.map(str::to_owned),
            outcome: report.outcome(),
            helpful: report.helpful().map(i64::from),
            relevant: report.relevant().map(i64::from),
            note: report.note().map(str::to_owned),
            reporter: change.actor.role,
            reported_by: change.actor.id.to_owned(),
            reported_at: change.at,
        };
        sqlx::query(&format!(
            "INSERT INTO task_reports (clinic_id, {REPORT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(clinic_id)
        .bind(&row.report_id)
        .bind(&row.task_id)
        .bind(&row.case_id)
        .bind(row.session_id.as_deref())
        .bind(row.outcome.as_str())
        .bind(row.helpful)
        .bind(row.relevant)
        .bind(seal_opt(self.keys(), clinic_id, "task_reports", "note", row.note.as_deref())?)
        .bind(row.reporter.as_str())
        .bind(&row.reported_by)
        .bind(row.reported_at)
        .execute(&mut *tx)
        .await?;
        append_log(
            &mut tx,
            self.keys(),
            clinic_id,
            &task.case_id,
            LogObject::Task,
            task_id,
            task.version,
            LogAction::Reported,
            change,
            &row,
        )
        .await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Every task report of a case, oldest first.
    pub async fn task_reports(&self, clinic_id: &str, case_id: &str) -> Result<Vec<TaskReportRow>> {
        sqlx::query(&format!(
            "SELECT {REPORT_COLUMNS} FROM task_reports WHERE clinic_id = $1 AND case_id = $2 ORDER BY reported_at, report_id"
        ))
        .bind(clinic_id)
        .bind(case_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| report_from(r, self.keys(), clinic_id))
        .collect()
    }

    // -----------------------------------------------------------------------------------------
    // Case formulation
    // -----------------------------------------------------------------------------------------

    /// Saves a new version of the case's formulation. `expected_version` is the version it was
    /// edited from (0 when the case has none yet); if the current version differs, nothing is
    /// written and the current formulation comes back as [`UpdateOutcome::Conflict`]. Linked
    /// goals must be goals of the case.
    pub async fn save_formulation(
        &self,
        clinic_id: &str,
        case_id: &str,
        expected_version: i64,
        draft: &FormulationDraft,
        change: &Change<'_>,
    ) -> Result<UpdateOutcome<FormulationRow>> {
        let mut tx = self.write_tx().await?;
        case_exists(&mut tx, clinic_id, case_id).await?;
        // The version check below must see any formulation saved concurrently (PostgreSQL).
        crate::lock_case(&mut tx, clinic_id, case_id).await?;
        let current = formulation_in(&mut tx, self.keys(), clinic_id, case_id).await?;
        let current_version = current.as_ref().map_or(0, |f| f.version);
        if current_version != expected_version {
            return match current {
                Some(current) => Ok(UpdateOutcome::Conflict { current }),
                None => Err(StoreError::NotFound {
                    what: "formulation",
                }),
            };
        }
        for goal_id in draft.goal_ids() {
            match goal_in(&mut tx, self.keys(), clinic_id, goal_id).await? {
                Some(g) if g.case_id == case_id => {}
                _ => return Err(StoreError::NotFound { what: "goal" }),
            }
        }
        let row = FormulationRow {
            case_id: case_id.to_owned(),
            version: current_version + 1,
            presenting_concerns: draft.presenting_concerns().map(str::to_owned),
            preferences: draft.preferences().map(str::to_owned),
            strengths: draft.strengths().map(str::to_owned),
            identities_context: draft.identities_context().map(str::to_owned),
            goal_ids: draft.goal_ids().to_vec(),
            created_at: change.at,
            created_by: change.actor.id.to_owned(),
            created_by_role: change.actor.role,
            reason: reason(change),
        };
        sqlx::query(&format!(
            "INSERT INTO formulations (clinic_id, {FORMULATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(clinic_id)
        .bind(case_id)
        .bind(row.version)
        .bind(seal_opt(self.keys(), clinic_id, "formulations", "presenting_concerns", row.presenting_concerns.as_deref())?)
        .bind(seal_opt(self.keys(), clinic_id, "formulations", "preferences", row.preferences.as_deref())?)
        .bind(seal_opt(self.keys(), clinic_id, "formulations", "strengths", row.strengths.as_deref())?)
        .bind(seal_opt(self.keys(), clinic_id, "formulations", "identities_context", row.identities_context.as_deref())?)
        .bind(to_json(&row.goal_ids)?)
        .bind(row.created_at)
        .bind(&row.created_by)
        .bind(row.created_by_role.as_str())
        .bind(seal_opt(self.keys(), clinic_id, "formulations", "reason", row.reason.as_deref())?)
        .execute(&mut *tx)
        .await?;
        let action = if row.version == 1 {
            LogAction::Created
        } else {
            LogAction::Edited
        };
        append_log(
            &mut tx,
            self.keys(),
            clinic_id,
            case_id,
            LogObject::Formulation,
            case_id,
            row.version,
            action,
            change,
            &row,
        )
        .await?;
        tx.commit().await?;
        Ok(UpdateOutcome::Updated {
            version: row.version,
        })
    }

    /// The current formulation of a case, if any.
    pub async fn formulation(
        &self,
        clinic_id: &str,
        case_id: &str,
    ) -> Result<Option<FormulationRow>> {
        sqlx::query(&format!(
            "SELECT {FORMULATION_COLUMNS} FROM formulations WHERE clinic_id = $1 AND case_id = $2 ORDER BY version DESC LIMIT 1"
        ))
        .bind(clinic_id)
        .bind(case_id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(|r| formulation_from(r, self.keys(), clinic_id))
        .transpose()
    }

    /// Every version of a case's formulation, oldest first.
    pub async fn formulation_history(
        &self,
        clinic_id: &str,
        case_id: &str,
    ) -> Result<Vec<FormulationRow>> {
        sqlx::query(&format!(
            "SELECT {FORMULATION_COLUMNS} FROM formulations WHERE clinic_id = $1 AND case_id = $2 ORDER BY version"
        ))
        .bind(clinic_id)
        .bind(case_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| formulation_from(r, self.keys(), clinic_id))
        .collect()
    }

    // -----------------------------------------------------------------------------------------
    // Consent
    // -----------------------------------------------------------------------------------------

    /// Records a client's decision (granted or withdrawn) about one kind of use, as recorded by
    /// `change.actor` at `change.at`; `change.reason` is kept as the record's note.
    pub async fn record_consent(
        &self,
        clinic_id: &str,
        case_id: &str,
        client_id: &str,
        kind: ConsentKind,
        granted: bool,
        change: &Change<'_>,
    ) -> Result<ConsentRow> {
        let mut tx = self.write_tx().await?;
        client_in_case(&mut tx, clinic_id, case_id, client_id).await?;
        let row = ConsentRow {
            consent_id: new_id(),
            case_id: case_id.to_owned(),
            client_id: client_id.to_owned(),
            kind,
            granted,
            at: change.at,
            recorded_by: change.actor.id.to_owned(),
            recorded_by_role: change.actor.role,
            note: reason(change),
        };
        sqlx::query(&format!(
            "INSERT INTO consent_records (clinic_id, {CONSENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(clinic_id)
        .bind(&row.consent_id)
        .bind(case_id)
        .bind(client_id)
        .bind(kind.as_str())
        .bind(if granted { GRANTED } else { "withdrawn" })
        .bind(row.at)
        .bind(&row.recorded_by)
        .bind(row.recorded_by_role.as_str())
        .bind(seal_opt(self.keys(), clinic_id, "consent_records", "note", row.note.as_deref())?)
        .execute(&mut *tx)
        .await?;
        let action = if granted {
            LogAction::Granted
        } else {
            LogAction::Withdrawn
        };
        append_log(
            &mut tx,
            self.keys(),
            clinic_id,
            case_id,
            LogObject::Consent,
            &row.consent_id,
            1,
            action,
            change,
            &row,
        )
        .await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Every consent decision of a case, oldest first.
    pub async fn consents(&self, clinic_id: &str, case_id: &str) -> Result<Vec<ConsentRow>> {
        sqlx::query(&format!(
            "SELECT {CONSENT_COLUMNS} FROM consent_records WHERE clinic_id = $1 AND case_id = $2 ORDER BY at, consent_id"
        ))
        .bind(clinic_id)
        .bind(case_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| consent_from(r, self.keys(), clinic_id))
        .collect()
    }

    /// Whether the client's latest decision in this case about `kind` is a grant (no decision:
    /// not granted).
    pub async fn consent_in_force(
        &self,
        clinic_id: &str,
        case_id: &str,
        client_id: &str,
        kind: ConsentKind,
    ) -> Result<bool> {
        let r = sqlx::query(
            "SELECT decision FROM consent_records WHERE clinic_id = $1 AND case_id = $2 AND client_id = $3 AND kind = $4
             ORDER BY at DESC, consent_id DESC LIMIT 1",
        )
        .bind(clinic_id)
        .bind(case_id)
        .bind(client_id)
        .bind(kind.as_str())
        .fetch_optional(&self.pool)
        .await?;
        Ok(match r {
            Some(r) => r.try_get::<String, _>("decision")? == GRANTED,
            None => false,
        })
    }

    // -----------------------------------------------------------------------------------------
    // The agreements log
    // -----------------------------------------------------------------------------------------

    /// The agreements log of a case, in order.
    pub async fn agreements_log(&self, clinic_id: &str, case_id: &str) -> Result<Vec<LogEntry>> {
        sqlx::query(&format!(
            "SELECT {LOG_COLUMNS} FROM agreements_log WHERE clinic_id = $1 AND case_id = $2 ORDER BY seq"
        ))
        .bind(clinic_id)
        .bind(case_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| log_from(r, self.keys(), clinic_id))
        .collect()
    }

    /// The history of one goal, task, formulation (object id = case id) or consent record.
    pub async fn object_history(
        &self,
        clinic_id: &str,
        object: LogObject,
        object_id: &str,
    ) -> Result<Vec<LogEntry>> {
        sqlx::query(&format!(
            "SELECT {LOG_COLUMNS} FROM agreements_log WHERE clinic_id = $1 AND object_type = $2 AND object_id = $3 ORDER BY seq"
        ))
        .bind(clinic_id)
        .bind(object.as_str())
        .bind(object_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| log_from(r, self.keys(), clinic_id))
        .collect()
    }

    // -----------------------------------------------------------------------------------------
    // Clients' case links
    // -----------------------------------------------------------------------------------------

    /// Stores a client's link to their page of a case (only the SHA-256 of its secret, see
    /// [`crate::hash_secret`]). The client must be a client of the case.
    #[allow(clippy::too_many_arguments)]
    pub async fn create_case_link(
        &self,
        clinic_id: &str,
        case_id: &str,
        client_id: &str,
        token_hash: &str,
        expires_at: Option<i64>,
        created_by: &str,
        at: i64,
    ) -> Result<CaseLinkRow> {
        let mut tx = self.write_tx().await?;
        client_in_case(&mut tx, clinic_id, case_id, client_id).await?;
        sqlx::query(
            "INSERT INTO case_links (clinic_id, token_hash, case_id, client_id, created_at, created_by, expires_at, revoked)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 0)",
        )
        .bind(clinic_id)
        .bind(token_hash)
        .bind(case_id)
        .bind(client_id)
        .bind(at)
        .bind(created_by)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        self.record_and_commit(
            tx,
            crate::audit::AuditEvent::on_case(
                clinic_id,
                case_id,
                "create",
                "case_link",
                &link_id(token_hash),
            ),
        )
        .await?;
        Ok(CaseLinkRow {
            token_hash: token_hash.to_owned(),
            case_id: case_id.to_owned(),
            client_id: client_id.to_owned(),
            created_at: at,
            created_by: created_by.to_owned(),
            expires_at,
            revoked: false,
        })
    }

    /// The case link with this secret hash in this clinic, whatever its state (check
    /// [`CaseLinkRow::usable`]).
    pub async fn case_link_by_hash(
        &self,
        clinic_id: &str,
        token_hash: &str,
    ) -> Result<Option<CaseLinkRow>> {
        sqlx::query(
            "SELECT token_hash, case_id, client_id, created_at, created_by, expires_at, revoked FROM case_links
             WHERE clinic_id = $1 AND token_hash = $2",
        )
        .bind(clinic_id)
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(case_link_from)
        .transpose()
    }

    /// Revokes a case link; false when there is no such link in this clinic.
    pub async fn revoke_case_link(&self, clinic_id: &str, token_hash: &str) -> Result<bool> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query(
            "UPDATE case_links SET revoked = 1 WHERE clinic_id = $1 AND token_hash = $2",
        )
        .bind(clinic_id)
        .bind(token_hash)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n > 0 {
            let case_id: Option<String> = sqlx::query(
                "SELECT case_id FROM case_links WHERE clinic_id = $1 AND token_hash = $2",
            )
            .bind(clinic_id)
            .bind(token_hash)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get("case_id"))
            .transpose()?;
            let link = link_id(token_hash);
            self.record(
                &mut tx,
                crate::audit::AuditEvent {
                    clinic_id,
                    action: "revoke",
                    object_type: "case_link",
                    object_id: &link,
                    case_id: case_id.as_deref(),
                    outcome: crate::audit::Outcome::Ok,
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(n > 0)
    }
}
