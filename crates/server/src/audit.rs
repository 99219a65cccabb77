//! Auditing in the server: every request runs inside an audit context (its source address, and
//! its actor once authenticated), so that reads recorded here and writes recorded by the store
//! (in the write's own transaction) name who did it and from where.
//!
//! How a route gets audited (ARCHITECTURE.md, "Auditing a new route"):
//! - a clinician's access to a case goes through [`crate::policy::case`], which records the
//!   read (or the denial) when it decides;
//! - a client's link records through [`link_read`] when the link opens;
//! - every store function that writes client data appends its own entry in its transaction;
//! - anything else that reads client data calls [`read`] with the object it read.

use axum::extract::Request;
use axum::extract::State;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bordin_store::{AuditActor, AuditContext, AuditEvent, Outcome};

use crate::error::AppError;
use crate::state::AppState;

/// Middleware: runs the request inside its audit context. The source is the request's source
/// address as the access rules see it ([`crate::routes::source_address`]: the peer, or the
/// proxy's X-Forwarded-For when configured to trust it).
///
/// The context defers read entries ([`AuditContext::deferring`]): they are written with the
/// request's first write, or here once the handler is done and before its response leaves. If
/// that last write fails, the response is replaced by the storage error: nothing read leaves
/// unrecorded.
pub async fn context(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let source = crate::routes::source_address(&state, &parts);
    let ctx = AuditContext::deferring(&source);
    let response =
        bordin_store::audit::scope(ctx.clone(), next.run(Request::from_parts(parts, body))).await;
    match state.store.finish_request_audit(&ctx).await {
        Ok(()) => response,
        Err(e) => AppError::from(e).into_response(),
    }
}

/// Names the logged-in user as the actor of the current request.
pub fn set_user(user_id: &str) {
    bordin_store::audit::set_actor(AuditActor::user(user_id));
}

/// Records a read (or denied access) of client data by the current request's actor.
pub async fn read(
    state: &AppState,
    clinic_id: &str,
    object_type: &str,
    object_id: &str,
    case_id: Option<&str>,
    outcome: Outcome,
) -> Result<(), AppError> {
    let key = format!("{object_type}/{object_id}/{}", outcome.as_str());
    if !bordin_store::audit::first_read(&key) {
        return Ok(());
    }
    state
        .store
        .audit(&AuditEvent {
            clinic_id,
            action: "read",
            object_type,
            object_id,
            case_id,
            outcome,
        })
        .await?;
    Ok(())
}

/// A client's link opened: the link becomes the actor, and the read is recorded.
pub async fn link_read(
    state: &AppState,
    clinic_id: &str,
    link_id: &str,
    object_type: &str,
    object_id: &str,
    case_id: &str,
) -> Result<(), AppError> {
    bordin_store::audit::set_actor(AuditActor::link(link_id));
    read(
        state,
        clinic_id,
        object_type,
        object_id,
        Some(case_id),
        Outcome::Ok,
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Reading the trail: supervisors (their supervisees and their cases) and admins (the clinic)

use axum::extract::Query;
use axum::Json;
use bordin_core::care::Role;
use bordin_store::{AuditEntry, AuditFilter};
use maud::{html, Markup};
use serde::{Deserialize, Serialize};

use crate::api::ApiUser;
use crate::auth::CurrentUser;
use crate::error::{ApiError, ErrorBody};

/// Entries per page.
pub const PAGE_SIZE: i64 = 50;

/// Filters of the trail (all optional).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct TrailQuery {
    /// Only entries by this actor (user id, link id or token id).
    pub user: Option<String>,
    /// Only entries about this case.
    pub case: Option<String>,
    /// From this date (YYYY-MM-DD, UTC, inclusive).
    pub from: Option<String>,
    /// Up to this date (YYYY-MM-DD, UTC, inclusive).
    pub to: Option<String>,
    /// Entries older than this sequence number (the `next_before` of the previous page).
    pub before: Option<i64>,
}

/// One entry as shown.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TrailEntry {
    pub seq: i64,
    /// Milliseconds since the epoch.
    pub at: i64,
    /// `user`, `link`, `token` or `system`.
    pub actor_kind: String,
    pub actor_id: String,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub case_id: Option<String>,
    /// `ok` or `denied`.
    pub outcome: String,
    pub source: String,
    /// The entry's chain hash (hex).
    pub hash: String,
}

/// A page of the trail, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TrailPage {
    pub entries: Vec<TrailEntry>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    pub next_before: Option<i64>,
}

fn view(e: AuditEntry) -> TrailEntry {
    TrailEntry {
        seq: e.seq,
        at: e.at,
        actor_kind: e.actor_kind,
        actor_id: e.actor_id,
        action: e.action,
        object_type: e.object_type,
        object_id: e.object_id,
        case_id: e.case_id,
        outcome: e.outcome,
        source: e.source,
        hash: e.hash,
    }
}

fn day_start_ms(field: &str, s: &str) -> Result<i64, AppError> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let d = time::Date::parse(s.trim(), &fmt).map_err(|_| {
        AppError::BadRequest(format!(
            "{field}: expected a date as YYYY-MM-DD, got '{}'",
            s.chars().take(40).collect::<String>()
        ))
    })?;
    Ok(d.midnight().assume_utc().unix_timestamp() * 1000)
}

/// The trail as `user` may read it: an admin the whole clinic; a supervisor entries about
/// their own and their supervisees' cases, and entries by their supervisees or themselves;
/// a clinician nothing (not found).
pub async fn trail(
    state: &AppState,
    user: &CurrentUser,
    q: &TrailQuery,
) -> Result<TrailPage, AppError> {
    let clinic_id = user.clinic_id();
    let within = match user.user.role {
        Role::Admin => None,
        Role::Supervisor => {
            let cases = crate::policy::visible_case_ids(state, &user.user).await?;
            let mut users = state
                .store
                .supervisees(clinic_id, &user.user.user_id)
                .await?;
            users.push(user.user.user_id.clone());
            Some((cases, users))
        }
        Role::Clinician => return Err(AppError::NotFound),
    };
    let nonempty = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let filter = AuditFilter {
        actor_id: nonempty(&q.user),
        case_id: nonempty(&q.case),
        from_ms: nonempty(&q.from)
            .map(|d| day_start_ms("from", &d))
            .transpose()?,
        to_ms: nonempty(&q.to)
            .map(|d| day_start_ms("to", &d).map(|ms| ms + 86_400_000))
            .transpose()?,
        within,
        before_seq: q.before,
        limit: PAGE_SIZE + 1,
    };
    let mut entries = state.store.audit_entries(clinic_id, &filter).await?;
    let next_before = if entries.len() > PAGE_SIZE as usize {
        entries.truncate(PAGE_SIZE as usize);
        entries.last().map(|e| e.seq)
    } else {
        None
    };
    Ok(TrailPage {
        entries: entries.into_iter().map(view).collect(),
        next_before,
    })
}

/// The audit trail of the caller's clinic (admin) or of their supervisees and their cases
/// (supervisor), newest first, 50 per page. Clinicians get 404.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(TrailQuery),
    responses((status = 200, body = TrailPage), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_entries(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(q): Query<TrailQuery>,
) -> Result<Json<TrailPage>, ApiError> {
    Ok(Json(trail(&state, &user, &q).await?))
}

/// `GET /audit`: the trail as a page with filters by user, case and date.
pub async fn page(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<TrailQuery>,
) -> Result<Markup, AppError> {
    let result = trail(&state, &user, &q).await?;
    let people = state.store.users(user.clinic_id()).await?;
    let name = |id: &str| {
        people
            .iter()
            .find(|u| u.user_id == id)
            .map(|u| u.display_name.clone())
    };
    let next_href = result.next_before.map(|b| {
        let mut params: Vec<(&str, String)> = Vec::new();
        for (k, v) in [
            ("user", &q.user),
            ("case", &q.case),
            ("from", &q.from),
            ("to", &q.to),
        ] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                params.push((k, v.to_owned()));
            }
        }
        params.push(("before", b.to_string()));
        let query: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{k}={}", url_encode(v)))
            .collect();
        format!("/audit?{}", query.join("&"))
    });
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    Ok(crate::pages::layout::page(
        "Audit trail",
        &user,
        html! {
            h1 { "Audit trail" }
            p.muted { "Every read and change of client data: who, when, from where, and whether it was allowed. Entries are hash-chained; `bordin audit verify` checks that none was changed, removed or moved." }
            form.filters method="get" action="/audit" {
                label { "User " select name="user" {
                    option value="" { "anyone" }
                    @for u in &people {
                        option value=(u.user_id) selected[q.user.as_deref() == Some(u.user_id.as_str())] { (u.display_name) }
                    }
                } }
                label { "Case id " input type="text" name="case" value=(value(&q.case)) size="36"; }
                label { "From " input type="date" name="from" value=(value(&q.from)); }
                label { "To " input type="date" name="to" value=(value(&q.to)); }
                button type="submit" { "Show" }
            }
            @if result.entries.is_empty() {
                p { "No entries match." }
            } @else {
                div.table-wrap {
                    table id="audit" {
                        thead { tr {
                            th.num scope="col" { "#" } th scope="col" { "When" } th scope="col" { "Who" }
                            th scope="col" { "Action" } th scope="col" { "Record" } th scope="col" { "Case" }
                            th scope="col" { "Outcome" } th scope="col" { "From" }
                        } }
                        tbody {
                            @for e in &result.entries {
                                tr.denied[e.outcome == "denied"] {
                                    td.num { (e.seq) }
                                    td { (crate::state::format_ms(e.at)) }
                                    td { @if let Some(n) = name(&e.actor_id) { (n) } @else { (e.actor_kind) " " span.small { (e.actor_id) } } }
                                    td { (e.action) }
                                    td { (e.object_type) " " span.small.muted { (e.object_id) } }
                                    td { @if let Some(c) = &e.case_id { a href={ "/audit?case=" (c) } { span.small { (c) } } } }
                                    td { (e.outcome) }
                                    td { (e.source) }
                                }
                            }
                        }
                    }
                }
                @if let Some(href) = next_href { p { a href=(href) rel="next" { "Older entries" } } }
            }
        },
    ))
}

/// Percent-encodes a query value (ids and dates: letters, digits, '-' pass through).
fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
