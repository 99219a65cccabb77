//! The admin area (`/admin`): API tokens (create — shown once —, list, revoke), and a person's
//! export and erasure. Admins only (others get "not found").

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use bordin_store::TokenScope;
use maud::{html, Markup};
use serde::Deserialize;

use super::layout::page;
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::policy;
use crate::privacy::Who;
use crate::state::{format_ms, now_ms, AppState};

async fn admin_page(
    state: &AppState,
    user: &CurrentUser,
    notice: Option<Markup>,
) -> Result<Markup, AppError> {
    let clinic_id = user.clinic_id();
    let tokens = state.store.api_tokens(clinic_id).await?;
    let users = state.store.users(clinic_id).await?;
    let erasures = state.store.erasures(clinic_id).await?;
    let name_of = |id: &str| {
        users
            .iter()
            .find(|u| u.user_id == id)
            .map_or_else(|| id.to_owned(), |u| u.display_name.clone())
    };
    let now = now_ms();
    Ok(page(
        "Administration",
        user,
        html! {
            h1 { "Administration" }
            @if let Some(n) = notice { (n) }
            section aria-labelledby="tokens" {
                h2 #tokens { "API tokens" }
                p.small { "A token lets another system (an EHR, a reporting tool) use the JSON API and FHIR endpoints as the user it is issued for, and never more than that user may. A read token may only read; a write token may also change records. Send it as " code { "Authorization: Bearer <token>" } "." }
                @if tokens.is_empty() { p.muted { "No tokens yet." } } @else {
                    table {
                        thead { tr { th { "Token" } th { "Label" } th { "Acts as" } th { "Scope" } th { "Created" } th { "Last used" } th { "Status" } th {} } }
                        tbody {
                            @for t in &tokens {
                                tr {
                                    td { code { (crate::tokens::display(t)) } }
                                    td { (t.label) }
                                    td { (name_of(&t.user_id)) }
                                    td { (t.scope.as_str()) }
                                    td { (format_ms(t.created_at)) }
                                    td { @if let Some(u) = t.last_used_at { (format_ms(u)) } @else { "never" } }
                                    td {
                                        @if let Some(r) = t.revoked_at { "revoked " (format_ms(r)) }
                                        @else if !t.is_live(now) { "expired" }
                                        @else { "active" }
                                    }
                                    td {
                                        @if t.revoked_at.is_none() {
                                            form method="post" action={ "/admin/tokens/" (t.token_id) "/revoke" } {
                                                input type="hidden" name="csrf" value=(user.csrf);
                                                button type="submit" { "Revoke" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                h3 { "New token" }
                form method="post" action="/admin/tokens" {
                    input type="hidden" name="csrf" value=(user.csrf);
                    label { "Label (what uses it) " input type="text" name="label" required maxlength="100"; }
                    label { "Acts as "
                        select name="user_id" {
                            @for u in users.iter().filter(|u| u.active) {
                                option value=(u.user_id) { (u.display_name) " (" (u.role.as_str()) ")" }
                            }
                        }
                    }
                    label { "Scope "
                        select name="scope" { option value="read" { "read" } option value="write" { "write" } }
                    }
                    label { "Expires after (days, empty = until revoked) " input type="number" name="expires_in_days" min="1" max="3650"; }
                    button type="submit" { "Create token" }
                }
            }
            section aria-labelledby="person" {
                h2 #person { "A person's data" }
                p.small { "Export: everything held on one client, as JSON (right of access and portability, GDPR art. 15 and 20). Erasure: removes the client's clinical data (art. 17); the erasure record and the audit trail stay, without clinical content (docs/operations.md)." }
                form method="post" action="/admin/clients/export" {
                    input type="hidden" name="csrf" value=(user.csrf);
                    label { "Client code " input type="text" name="code" required maxlength="32" autocomplete="off"; }
                    button type="submit" { "Download export" }
                }
                form method="post" action="/admin/clients/erase" {
                    input type="hidden" name="csrf" value=(user.csrf);
                    label { "Client code " input type="text" name="code" required maxlength="32" autocomplete="off"; }
                    label { "Type the code again " input type="text" name="confirm_code" required maxlength="32" autocomplete="off"; }
                    label { "Reason (kept; no clinical details) " input type="text" name="reason" required maxlength="500"; }
                    button.danger type="submit" { "Erase this client's data" }
                }
                @if !erasures.is_empty() {
                    h3 { "Erasures" }
                    table {
                        thead { tr { th { "When" } th { "By" } th { "Client id" } th { "Reason" } } }
                        tbody {
                            @for e in &erasures {
                                tr { td { (format_ms(e.erased_at)) } td { (name_of(&e.erased_by)) } td { code { (e.client_id) } } td { (e.reason) } }
                            }
                        }
                    }
                }
            }
        },
    ))
}

pub async fn show(State(state): State<AppState>, user: CurrentUser) -> Result<Markup, AppError> {
    policy::require_admin_in_person(&user)?;
    admin_page(&state, &user, None).await
}

#[derive(Deserialize)]
pub struct NewTokenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    expires_in_days: String,
}

pub async fn create_token(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(f): Form<NewTokenForm>,
) -> Result<Markup, AppError> {
    policy::require_admin_in_person(&user)?;
    user.check_csrf(&f.csrf)?;
    let scope = TokenScope::parse(&f.scope)
        .ok_or_else(|| AppError::BadRequest("Choose the scope: read or write.".into()))?;
    let expires_in_days = match f.expires_in_days.trim() {
        "" => None,
        d => Some(d.parse::<i64>().map_err(|_| {
            AppError::BadRequest("Expires after: a whole number of days, or empty.".into())
        })?),
    };
    let issued = crate::tokens::issue(
        &state.store,
        &crate::tokens::TokenRequest {
            clinic_id: user.clinic_id(),
            user_id: &f.user_id,
            scope,
            label: &f.label,
            expires_in_days,
            created_by: &user.user.user_id,
            now: now_ms(),
        },
    )
    .await?;
    let notice = html! {
        div.notice role="status" {
            p { strong { "Token created. Copy it now: it is shown only this once." } }
            p { code.token { (issued.token) } }
        }
    };
    admin_page(&state, &user, Some(notice)).await
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub async fn revoke_token(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(token_id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, AppError> {
    policy::require_admin_in_person(&user)?;
    user.check_csrf(&f.csrf)?;
    crate::tokens::revoke(
        &state.store,
        user.clinic_id(),
        &token_id,
        &user.user.user_id,
        now_ms(),
    )
    .await?;
    Ok(Redirect::to("/admin#tokens").into_response())
}

#[derive(Deserialize)]
pub struct PersonForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    confirm_code: String,
    #[serde(default)]
    reason: String,
}

pub async fn export_client(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(f): Form<PersonForm>,
) -> Result<Response, AppError> {
    policy::require_admin_in_person(&user)?;
    user.check_csrf(&f.csrf)?;
    if f.code.trim().is_empty() {
        return Err(AppError::BadRequest(
            "Client code: give the code of the client to export.".into(),
        ));
    }
    let id = crate::privacy::client_id(&state.store, user.clinic_id(), Who::Code(&f.code)).await?;
    let doc = crate::privacy::export(&state.store, user.clinic_id(), &id, now_ms()).await?;
    let body = serde_json::to_string_pretty(&doc).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"bordin-client-export.json\"",
            ),
        ],
        body,
    )
        .into_response())
}

pub async fn erase_client(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(f): Form<PersonForm>,
) -> Result<Markup, AppError> {
    policy::require_admin_in_person(&user)?;
    user.check_csrf(&f.csrf)?;
    let r = crate::privacy::erase(
        &state.store,
        user.clinic_id(),
        Who::Code(&f.code),
        Some(&f.confirm_code),
        &user.user.user_id,
        &f.reason,
        now_ms(),
    )
    .await?;
    let notice = html! {
        div.notice role="status" {
            p { strong { "The client's data was erased." } " Cases removed: " (r.cases_removed.len()) "; shared cases kept without this client's rows: " (r.cases_kept.len()) "." }
            ul.small { @for (t, n) in &r.removed { li { (t) ": " (n) } } }
        }
    };
    admin_page(&state, &user, Some(notice)).await
}
