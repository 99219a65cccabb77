//! A person's export (GDPR art. 15 access, art. 20 portability) and erasure (art. 17): the
//! steps shared by the admin page, the JSON API and the CLI. What is removed and what is kept,
//! and why, is in docs/operations.md and `bordin_store`'s `privacy` module.

use bordin_store::{ErasureReport, Store};
use serde_json::{json, Value};

use crate::error::AppError;

/// Version of the export's layout.
pub const EXPORT_FORMAT: &str = "bordin-client-export/1";

/// Which client: by id (API) or by their code (page, CLI).
#[derive(Debug, Clone, Copy)]
pub enum Who<'a> {
    Id(&'a str),
    Code(&'a str),
}

async fn find(
    store: &Store,
    clinic_id: &str,
    who: Who<'_>,
) -> Result<bordin_store::ClientRow, AppError> {
    let found = match who {
        Who::Id(id) => store.client_by_id(clinic_id, id).await?,
        Who::Code(code) => store.client_by_code(clinic_id, code.trim()).await?,
    };
    found.ok_or(AppError::NotFound)
}

/// The client's id for a code or id.
pub async fn client_id(store: &Store, clinic_id: &str, who: Who<'_>) -> Result<String, AppError> {
    Ok(find(store, clinic_id, who).await?.client_id)
}

/// Everything held on one client of a clinic, as one JSON document.
pub async fn export(
    store: &Store,
    clinic_id: &str,
    client_id: &str,
    now: i64,
) -> Result<Value, AppError> {
    let client = find(store, clinic_id, Who::Id(client_id)).await?;
    let clinic = store.clinic(clinic_id).await?;
    let data = store.export_client(clinic_id, &client.client_id).await?;
    Ok(json!({
        "format": EXPORT_FORMAT,
        "exported_at": now,
        "about": "Everything this clinic's Bordin holds on one person (GDPR art. 15 and 20). Times are milliseconds since the Unix epoch (UTC); answers are exact decimal text; each table lists its rows as stored.",
        "clinic": {"clinic_id": clinic.clinic_id, "name": clinic.name},
        "client": {"client_id": client.client_id, "code": client.code, "display_name": client.display_name},
        "tables": data["tables"],
    }))
}

/// Erases a client's clinical data. `confirm_code`, when given, must equal the client's code
/// (a check against erasing the wrong person); the reason is required and kept.
pub async fn erase(
    store: &Store,
    clinic_id: &str,
    who: Who<'_>,
    confirm_code: Option<&str>,
    erased_by: &str,
    reason: &str,
    now: i64,
) -> Result<ErasureReport, AppError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(AppError::BadRequest(
            "reason: say why (1 to 500 characters, e.g. \"erasure request of 2026-11-20\"); no clinical details".into(),
        ));
    }
    let client = find(store, clinic_id, who).await?;
    if let Some(code) = confirm_code {
        if code.trim() != client.code {
            return Err(AppError::BadRequest(
                "confirm_code: does not match the client's code".into(),
            ));
        }
    }
    let report = store
        .erase_client(clinic_id, &client.client_id, erased_by, reason, now)
        .await?;
    tracing::info!(erasure = %report.erasure_id, cases_removed = report.cases_removed.len(), "client erased");
    Ok(report)
}
