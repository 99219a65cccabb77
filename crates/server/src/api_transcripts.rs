//! The JSON twins of the transcript pages (`/api/v1/cases/{case_id}/transcripts…`), documented
//! in the same OpenAPI document as the rest of the API. The live co-pilot's WebSocket is at
//! `/cases/{case_id}/live/ws` (not JSON over HTTP, so not in this document); its messages are
//! described in `live.rs`.

use std::collections::BTreeMap;

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::api::ApiUser;
use crate::error::{ApiError, AppError, ErrorBody, ItemProblem};
use crate::policy;
use crate::routes::{Access, Routes};
use crate::state::AppState;
use crate::transcripts::{self as tr, Uploaded};

/// The transcript routes with their access rules; the upload with its own body limit.
pub fn routes(t: Routes) -> Routes {
    use Access::*;
    let (schemas, paths, upload) = routes!(upload_transcript);
    let upload = upload.layer(DefaultBodyLimit::max(tr::TRANSCRIPT_LIMIT + 64 * 1024));
    t.api(CaseWrite, (schemas, paths, upload))
        .api(CaseRead, routes!(list_transcripts))
        .api(CaseRead, routes!(get_transcript))
        .api(CaseWrite, routes!(set_roles))
        .api(Admin, routes!(set_retention))
}

#[derive(Deserialize, ToSchema)]
pub struct TranscriptInput {
    /// The session of the case the transcript belongs to.
    session_id: String,
    /// `vtt`, `srt`, `json`, `txt`, or absent / `auto` to detect it from the text.
    #[serde(default)]
    format: Option<String>,
    /// The transcript file's text (at most 5 MiB).
    text: String,
    /// Speaker label → `clinician`, `client` or `other_client`, for labels the case's names do
    /// not match.
    #[serde(default)]
    roles: BTreeMap<String, String>,
}

#[derive(Deserialize, ToSchema)]
pub struct RolesInput {
    /// Speaker label → `clinician`, `client` or `other_client`; every speaker needs one.
    roles: BTreeMap<String, String>,
}

#[derive(Deserialize, ToSchema)]
pub struct RetentionInput {
    /// Days the clinic keeps transcript words (1–3650); the summary numbers stay.
    days: i64,
}

fn invalid(errors: &[(&'static str, String)]) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(ErrorBody {
            error: "invalid_transcript".into(),
            message: errors
                .iter()
                .map(|(f, m)| format!("{f}: {m}"))
                .collect::<Vec<_>>()
                .join("; "),
            items: errors
                .iter()
                .map(|(f, m)| ItemProblem {
                    item: (*f).into(),
                    message: m.clone(),
                })
                .collect(),
        }),
    )
        .into_response()
}

async fn outcome(
    state: &AppState,
    access: &policy::CaseAccess,
    o: Uploaded,
    created: StatusCode,
) -> Result<Response, ApiError> {
    Ok(match o {
        Uploaded::Analysed(t) | Uploaded::NeedsRoles(t) => {
            let body = transcript_json(state, access, &t.transcript_id).await?;
            (created, Json(body)).into_response()
        }
        Uploaded::Invalid(e) => invalid(&e),
    })
}

async fn transcript_json(
    state: &AppState,
    access: &policy::CaseAccess,
    transcript_id: &str,
) -> Result<serde_json::Value, AppError> {
    let r = tr::report(state, access, transcript_id).await?;
    let speakers = if r.transcript.status == bordin_store::TranscriptStatus::NeedsRoles {
        let step = tr::role_step(state, access, transcript_id).await?;
        serde_json::to_value(
            step.speakers
                .iter()
                .map(|(s, known, guess, _)| {
                    serde_json::json!({"speaker": s, "role": known, "guess": guess})
                })
                .collect::<Vec<_>>(),
        )
        .map_err(|e| AppError::Internal(e.to_string()))?
    } else {
        serde_json::Value::Null
    };
    let ratings: Vec<serde_json::Value> = r
        .ratings
        .iter()
        .map(|s| serde_json::json!({"instrument": s.instrument_id, "scale": s.scale_id, "value": s.value}))
        .collect();
    Ok(serde_json::json!({
        "transcript": r.transcript,
        "session_number": r.session.number,
        "speakers": speakers,
        "analysis": r.analysis,
        "summary": r.summary,
        "client_ratings": ratings,
        "retention_days": r.retention_days,
    }))
}

/// Uploads a transcript to a session of the case and analyses it. Needs every client's consent
/// to transcript analysis (403 `consent_required`). When some speakers' roles cannot be told
/// from the case's names, the transcript is stored with status `needs_roles` and `speakers`
/// lists them (with a guess); give the roles with `PUT …/roles`.
#[utoipa::path(post, path = "/api/v1/cases/{case_id}/transcripts", tag = "transcripts",
    params(("case_id" = String, Path)), request_body = TranscriptInput,
    responses((status = 201, description = "`{transcript, speakers, analysis, summary, client_ratings, retention_days}`", body = Object),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn upload_transcript(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(case_id): Path<String>,
    Json(input): Json<TranscriptInput>,
) -> Result<Response, ApiError> {
    let access = policy::case(&state, &user, &case_id).await?;
    let u = tr::Upload {
        session_id: input.session_id,
        format: input.format,
        file_name: None,
        text: input.text,
        roles: input.roles,
    };
    let o = tr::upload(&state, &user, &access, &u).await?;
    outcome(&state, &access, o, StatusCode::CREATED).await
}

/// Gives the roles of a transcript's speakers and analyses it.
#[utoipa::path(put, path = "/api/v1/cases/{case_id}/transcripts/{transcript_id}/roles", tag = "transcripts",
    params(("case_id" = String, Path), ("transcript_id" = String, Path)), request_body = RolesInput,
    responses((status = 200, description = "The analysed transcript, as from the upload", body = Object),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn set_roles(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((case_id, transcript_id)): Path<(String, String)>,
    Json(input): Json<RolesInput>,
) -> Result<Response, ApiError> {
    let access = policy::case(&state, &user, &case_id).await?;
    let o = tr::assign_roles(&state, &access, &transcript_id, &input.roles).await?;
    outcome(&state, &access, o, StatusCode::OK).await
}

/// One transcript: its analysis while the words are kept, its summary always, and the client's
/// own ratings for that session beside it.
#[utoipa::path(get, path = "/api/v1/cases/{case_id}/transcripts/{transcript_id}", tag = "transcripts",
    params(("case_id" = String, Path), ("transcript_id" = String, Path)),
    responses((status = 200, description = "`{transcript, speakers, analysis, summary, client_ratings, retention_days}`", body = Object), (status = 404, body = ErrorBody)))]
async fn get_transcript(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((case_id, transcript_id)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let access = policy::case(&state, &user, &case_id).await?;
    Ok(Json(
        transcript_json(&state, &access, &transcript_id).await?,
    ))
}

/// The transcripts of a case with their summaries, and the active goals not talked about in the
/// last analysed sessions (listed for review; never an alert).
#[utoipa::path(get, path = "/api/v1/cases/{case_id}/transcripts", tag = "transcripts",
    params(("case_id" = String, Path)),
    responses((status = 200, description = "`{transcripts: [{transcript, session_number, held_on, summary}], untouched_goals: [{goal_id, words, sessions}]}`", body = Object), (status = 404, body = ErrorBody)))]
async fn list_transcripts(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(case_id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let access = policy::case(&state, &user, &case_id).await?;
    let l = tr::case_listening(&state, &access).await?;
    let transcripts: Vec<serde_json::Value> = l
        .sessions
        .iter()
        .map(|(t, n, held_on, s)| {
            serde_json::json!({"transcript": t, "session_number": n, "held_on": held_on, "summary": s})
        })
        .collect();
    let untouched: Vec<serde_json::Value> = l
        .untouched_goals
        .iter()
        .map(|(id, words, n)| serde_json::json!({"goal_id": id, "words": words, "sessions": n}))
        .collect();
    Ok(Json(
        serde_json::json!({"transcripts": transcripts, "untouched_goals": untouched}),
    ))
}

/// Sets how many days the clinic keeps transcript words (admins only).
#[utoipa::path(put, path = "/api/v1/transcript-retention", tag = "transcripts", request_body = RetentionInput,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn set_retention(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(input): Json<RetentionInput>,
) -> Result<StatusCode, ApiError> {
    tr::set_retention(&state, &user, input.days).await?;
    Ok(StatusCode::NO_CONTENT)
}
