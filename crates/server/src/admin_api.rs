//! The admin part of the JSON API: API tokens, and a person's export and erasure. Every
//! endpoint here needs an admin at a login session (`policy::require_admin_in_person`): API
//! tokens cannot mint tokens or touch a person's whole record.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bordin_store::TokenScope;
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa::{Modify, ToSchema};

use crate::auth::ApiUser;
use crate::error::{ApiError, AppError, ErrorBody};
use crate::policy;
use crate::state::{now_ms, AppState};

/// Adds the API's security schemes to the OpenAPI document: an API token as HTTP Bearer, the
/// login session cookie, and the CSRF header that cookie calls need on state-changing methods.
pub struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("bdn_<clinic id>_<secret>")
                    .description(Some("An API token created by an admin (`bordin token create`, or the admin page). Scope `read`: GET only; `write`: also state-changing calls. No CSRF header needed."))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::auth::SESSION_COOKIE,
                "The login session set by POST /api/v1/session. State-changing calls also need the csrf_header.",
            ))),
        );
        components.add_security_scheme(
            "csrf_header",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-CSRF-Token",
                "The csrf_token returned at login; required with the session cookie on POST, PUT, PATCH and DELETE.",
            ))),
        );
        // Every operation accepts either credential unless it says otherwise.
        openapi.security = Some(vec![
            utoipa::openapi::security::SecurityRequirement::new("api_token", Vec::<String>::new()),
            utoipa::openapi::security::SecurityRequirement::new(
                "session_cookie",
                Vec::<String>::new(),
            ),
        ]);
    }
}

// ---------------------------------------------------------------------------------------------
// Tokens

#[derive(Serialize, ToSchema)]
pub struct TokenView {
    token_id: String,
    /// The visible start of the token, e.g. `bdn_…3fQ9a1Zk`.
    shown_as: String,
    label: String,
    /// `read` or `write`.
    scope: String,
    /// The user whose rights the token carries.
    user_id: String,
    created_at: i64,
    created_by: String,
    expires_at: Option<i64>,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
}

fn token_view(r: &bordin_store::ApiTokenRow) -> TokenView {
    TokenView {
        token_id: r.token_id.clone(),
        shown_as: crate::tokens::display(r),
        label: r.label.clone(),
        scope: r.scope.as_str().into(),
        user_id: r.user_id.clone(),
        created_at: r.created_at,
        created_by: r.created_by.clone(),
        expires_at: r.expires_at,
        last_used_at: r.last_used_at,
        revoked_at: r.revoked_at,
    }
}

/// The clinic's API tokens (revoked ones included). Admins at a login session only.
#[utoipa::path(get, path = "/api/v1/admin/tokens", tag = "admin",
    responses((status = 200, body = Vec<TokenView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_tokens(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
) -> Result<Json<Vec<TokenView>>, ApiError> {
    policy::require_admin_in_person(&user)?;
    let rows = state.store.api_tokens(user.clinic_id()).await?;
    Ok(Json(rows.iter().map(token_view).collect()))
}

#[derive(Deserialize, ToSchema)]
pub struct NewTokenInput {
    /// What uses the token, e.g. "EHR sync" (1–100 characters).
    label: String,
    /// `read` or `write`.
    scope: String,
    /// The user whose rights the token carries (an active user of this clinic).
    user_id: String,
    /// Days until the token stops working (1–3650); absent = until revoked.
    expires_in_days: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct NewTokenResult {
    /// The token. Shown only now: store it in the integration; Bordin keeps only its hash.
    token: String,
    #[serde(flatten)]
    view: TokenView,
}

/// Creates an API token. The token is in the answer once and never again.
#[utoipa::path(post, path = "/api/v1/admin/tokens", tag = "admin", request_body = NewTokenInput,
    responses((status = 201, body = NewTokenResult), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create_token(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(input): Json<NewTokenInput>,
) -> Result<Response, ApiError> {
    policy::require_admin_in_person(&user)?;
    let scope = TokenScope::parse(&input.scope).ok_or_else(|| {
        AppError::BadRequest(format!("scope: '{}' is not read or write", input.scope))
    })?;
    let issued = crate::tokens::issue(
        &state.store,
        &crate::tokens::TokenRequest {
            clinic_id: user.clinic_id(),
            user_id: &input.user_id,
            scope,
            label: &input.label,
            expires_in_days: input.expires_in_days,
            created_by: &user.user.user_id,
            now: now_ms(),
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(NewTokenResult {
            token: issued.token,
            view: token_view(&issued.row),
        }),
    )
        .into_response())
}

/// Revokes an API token; it stops working at once.
#[utoipa::path(delete, path = "/api/v1/admin/tokens/{token_id}", tag = "admin", params(("token_id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(token_id): Path<String>,
) -> Result<Response, ApiError> {
    policy::require_admin_in_person(&user)?;
    crate::tokens::revoke(
        &state.store,
        user.clinic_id(),
        &token_id,
        &user.user.user_id,
        now_ms(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---------------------------------------------------------------------------------------------
// A person's data

/// Everything held on one client (GDPR art. 15 access / art. 20 portability), as JSON.
#[utoipa::path(get, path = "/api/v1/admin/clients/{client_id}/export", tag = "admin", params(("client_id" = String, Path)),
    responses((status = 200, description = "The export: format, exported_at, clinic, client and one array of rows per table", body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn export_client(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(client_id): Path<String>,
) -> Result<Response, ApiError> {
    policy::require_admin_in_person(&user)?;
    let doc = crate::privacy::export(&state.store, user.clinic_id(), &client_id, now_ms()).await?;
    Ok((
        [(
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"bordin-client-export.json\"",
        )],
        Json(doc),
    )
        .into_response())
}

#[derive(Deserialize, ToSchema)]
pub struct ErasureInput {
    /// Why (e.g. "erasure request of 2026-11-20, art. 17"). Kept in the erasure record: do not
    /// write clinical details or the person's name here.
    reason: String,
    /// The client's code, typed again as a check that the right person is erased.
    confirm_code: String,
}

#[derive(Serialize, ToSchema)]
pub struct ErasureResult {
    erasure_id: String,
    /// Cases removed whole (the person was their only client).
    cases_removed: Vec<String>,
    /// Cases shared with other clients: kept without this person's own rows.
    cases_kept: Vec<String>,
    /// Table → rows removed.
    removed: std::collections::BTreeMap<String, u64>,
}

/// Erases a client's clinical data (GDPR art. 17). What stays is listed in
/// docs/operations.md: the erasure record and audit entries, which hold no clinical content.
#[utoipa::path(post, path = "/api/v1/admin/clients/{client_id}/erasure", tag = "admin", params(("client_id" = String, Path)), request_body = ErasureInput,
    responses((status = 200, body = ErasureResult), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn erase_client(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(client_id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<ErasureResult>, ApiError> {
    policy::require_admin_in_person(&user)?;
    // The client is looked up before the body is read, so that another clinic's id answers
    // "not found" whatever the body holds.
    crate::privacy::client_id(
        &state.store,
        user.clinic_id(),
        crate::privacy::Who::Id(&client_id),
    )
    .await?;
    let input: ErasureInput = serde_json::from_slice(&body).map_err(|e| {
        AppError::BadRequest(format!(
            "the body must be JSON with reason and confirm_code: {e}"
        ))
    })?;
    let r = crate::privacy::erase(
        &state.store,
        user.clinic_id(),
        crate::privacy::Who::Id(&client_id),
        Some(&input.confirm_code),
        &user.user.user_id,
        &input.reason,
        now_ms(),
    )
    .await?;
    Ok(Json(ErasureResult {
        erasure_id: r.erasure_id,
        cases_removed: r.cases_removed,
        cases_kept: r.cases_kept,
        removed: r.removed,
    }))
}
