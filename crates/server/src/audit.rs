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

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::Response;
use bordin_store::{AuditActor, AuditContext, AuditEvent, Outcome};

use crate::error::AppError;
use crate::state::AppState;

/// Middleware: runs the request inside its audit context. The source is the peer address of
/// the connection (behind a reverse proxy this is the proxy; see docs/security.md).
pub async fn context(request: Request, next: Next) -> Response {
    let source = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".to_owned());
    let ctx = AuditContext::new(&source);
    bordin_store::audit::scope(ctx, next.run(request)).await
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
