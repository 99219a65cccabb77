//! The JSON API (`/api/v1/...`), documented by the OpenAPI document served at
//! `/api/openapi.json`. The router and the document are built from the same annotated handlers
//! (utoipa-axum), so an endpoint cannot exist undocumented.
//!
//! Authentication: the login session cookie (`POST /api/v1/session`), or an API token created
//! by an admin (`Authorization: Bearer bdn_…`, see `tokens.rs`). State-changing calls made with
//! the cookie must send the session's CSRF token in the `X-CSRF-Token` header; token calls need
//! no CSRF token but stay within the token's scope. Client links need no account: the link
//! secret is the credential.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use axum_extra::extract::CookieJar;
use bordin_core::care::{Modality, SessionStatus};
use bordin_core::{Answers, Setting};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::routes;

use crate::actions::{self, Created, SessionChoice, SubmitOutcome};
use crate::admin_api::SecuritySchemes;
use crate::auth::{self, CurrentUser};
use crate::error::{ApiError, AppError, ErrorBody, ItemProblem};
use crate::policy;
use crate::routes::{Access, Routes};
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "Bordin API", description = "Measure, monitor and repair the working alliance. All times are milliseconds since the Unix epoch (UTC); dates are YYYY-MM-DD."),
    components(schemas(ErrorBody, ItemProblem)),
    modifiers(&SecuritySchemes),
    tags((name = "instruments"), (name = "session"), (name = "cases"), (name = "alerts"), (name = "links"), (name = "goals"), (name = "admin"), (name = "audit"), (name = "transcripts"), (name = "fhir", description = "FHIR R4 (application/fhir+json; errors are OperationOutcomes, docs/fhir.md)"))
)]
pub(crate) struct ApiDoc;

/// The JSON routes, each with its access rule (see [`crate::routes`]).
pub fn routes(t: Routes) -> Routes {
    use Access::*;
    let t = t
        .api(AnyUser, routes!(list_instruments))
        .api(AnyUser, routes!(get_instrument))
        .api(AnyUser, routes!(score_answers))
        .api(Public, routes!(login))
        .api(AnyUser, routes!(logout))
        .api(AnyUser, routes!(list_cases))
        .api(AnyUser, routes!(create_case))
        .api(CaseRead, routes!(get_case))
        .api(CaseWrite, routes!(add_session))
        .api(CaseWrite, routes!(send_form))
        .api(CaseWrite, routes!(enter_response))
        .api(AnyUser, routes!(list_alerts))
        .api(CaseWrite, routes!(acknowledge_alert))
        .api(CaseWrite, routes!(resolve_alert))
        .api(CaseRead, routes!(get_response))
        .api(CaseWrite, routes!(correct_response))
        .api(ClientLink, routes!(get_link_form))
        .api(ClientLink, routes!(submit_link))
        .api(CaseRead, routes!(list_goals))
        .api(CaseWrite, routes!(create_goal))
        .api(CaseWrite, routes!(update_goal))
        .api(CaseWrite, routes!(rate_goal))
        .api(CaseWrite, routes!(create_task))
        .api(CaseWrite, routes!(report_task))
        .api(CaseWrite, routes!(put_formulation))
        .api(CaseRead, routes!(agreements_log))
        .api(CaseRead, routes!(list_consents))
        .api(CaseWrite, routes!(record_consent))
        // Admins at a login session only (policy::require_admin_in_person in each handler).
        .api(Admin, routes!(crate::admin_api::list_tokens))
        .api(Admin, routes!(crate::admin_api::create_token))
        .api(Admin, routes!(crate::admin_api::revoke_token))
        .api(Admin, routes!(crate::admin_api::export_client))
        .api(Admin, routes!(crate::admin_api::erase_client))
        .api(Supervisor, routes!(crate::audit::list_entries));
    crate::api_transcripts::routes(t)
}

/// The API's user extractor lives in `auth.rs` (shared with `/fhir`): a login session with
/// CSRF, or an API token within its scope.
pub use crate::auth::ApiUser;

// ---------------------------------------------------------------------------------------------
// Instruments

#[derive(Serialize, ToSchema)]
pub struct InstrumentSummary {
    id: String,
    version: String,
    title: String,
    respondent: String,
    /// `open`, `project` or `restricted`.
    licence: String,
    items: usize,
    /// Where the wording comes from: `file`, `text pack`, `placeholder text pack` or `none`.
    wording: String,
    /// Whether the form can be put in front of a respondent.
    can_administer: bool,
}

/// The instruments this clinic can use, with licence and wording status.
#[utoipa::path(get, path = "/api/v1/instruments", tag = "instruments",
    responses((status = 200, body = Vec<InstrumentSummary>), (status = 401, body = ErrorBody)))]
async fn list_instruments(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
) -> Result<Json<Vec<InstrumentSummary>>, ApiError> {
    let reg = state.registry(user.clinic_id()).await?;
    Ok(Json(
        reg.status()
            .into_iter()
            .map(|s| InstrumentSummary {
                id: s.id,
                version: s.version,
                title: s.title,
                respondent: s.respondent,
                licence: s.licence.into(),
                items: s.items,
                wording: s.wording,
                can_administer: s.can_administer,
            })
            .collect(),
    ))
}

/// An instrument's full definition: items, response scales, scales, bands, flags.
#[utoipa::path(get, path = "/api/v1/instruments/{id}", tag = "instruments",
    params(("id" = String, Path, description = "Instrument id, e.g. phq9")),
    responses((status = 200, description = "The instrument definition", body = Object), (status = 404, body = ErrorBody)))]
async fn get_instrument(
    State(state): State<AppState>,
    ApiUser(_user): ApiUser,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let i = state.instruments.get(&id).ok_or(AppError::NotFound)?;
    Ok(Json(
        serde_json::to_value(&**i).map_err(|e| AppError::Internal(e.to_string()))?,
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct AnswersInput {
    /// Item id → answer as text (blank = not answered), e.g. `{"q1": "3"}`.
    answers: BTreeMap<String, String>,
}

#[derive(Serialize, ToSchema)]
pub struct ScaleResult {
    id: String,
    /// `null` when the scale cannot be scored under its missing-item rule.
    value: Option<f64>,
    /// The value with the scale's decimals, exactly rounded.
    text: Option<String>,
    answered: u32,
    missing: u32,
    band: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ScoreResult {
    instrument: String,
    scales: Vec<ScaleResult>,
    severity: Option<String>,
    flags: Vec<String>,
    missing: u32,
}

fn problems(errors: &[bordin_core::AnswerError]) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(ErrorBody {
            error: "invalid_answers".into(),
            message: "Some answers could not be used.".into(),
            items: errors
                .iter()
                .map(|e| ItemProblem {
                    item: e.item.clone(),
                    message: e.to_string(),
                })
                .collect(),
        }),
    )
        .into_response()
}

/// Scores answers without storing them (exact scoring, the instrument's missing-item rules).
#[utoipa::path(post, path = "/api/v1/instruments/{id}/score", tag = "instruments",
    params(("id" = String, Path, description = "Instrument id")),
    request_body = AnswersInput,
    responses((status = 200, body = ScoreResult), (status = 422, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn score_answers(
    State(state): State<AppState>,
    ApiUser(_user): ApiUser,
    Path(id): Path<String>,
    Json(input): Json<AnswersInput>,
) -> Result<Response, ApiError> {
    let i = state.instruments.get(&id).ok_or(AppError::NotFound)?;
    let answers = match Answers::parse(
        i,
        input.answers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    ) {
        Ok(a) => a,
        Err(errors) => return Ok(problems(&errors)),
    };
    let sheet = i.score(&answers);
    Ok(Json(score_result(i, &sheet)).into_response())
}

// ---------------------------------------------------------------------------------------------
// Session (login)

#[derive(Deserialize, ToSchema)]
pub struct LoginInput {
    email: String,
    password: String,
    /// The 6-digit code from the user's authenticator app, when they set one up.
    #[serde(default)]
    code: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct LoginResult {
    user_id: String,
    display_name: String,
    role: String,
    /// Send this in `X-CSRF-Token` on every state-changing call.
    csrf_token: String,
}

/// Logs in; sets the session cookie.
#[utoipa::path(post, path = "/api/v1/session", tag = "session", request_body = LoginInput,
    responses((status = 200, body = LoginResult), (status = 401, body = ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    crate::routes::SourceAddress(source): crate::routes::SourceAddress,
    jar: CookieJar,
    Json(input): Json<LoginInput>,
) -> Result<Response, ApiError> {
    let refused = |status: StatusCode, error: &str, message: String| {
        Ok((
            status,
            Json(ErrorBody {
                error: error.into(),
                message,
                items: vec![],
            }),
        )
            .into_response())
    };
    use crate::pages::login::{throttled_message, CODE_NEEDED, CODE_REFUSED, REFUSED};
    match auth::login(
        &state,
        &input.email,
        &input.password,
        input.code.as_deref(),
        &source,
    )
    .await?
    {
        auth::LoginOutcome::Ok { user, cookie, csrf } => Ok((
            jar.add(cookie),
            Json(LoginResult {
                user_id: user.user_id,
                display_name: user.display_name,
                role: user.role.as_str().into(),
                csrf_token: csrf,
            }),
        )
            .into_response()),
        auth::LoginOutcome::Refused => {
            refused(StatusCode::UNAUTHORIZED, "unauthenticated", REFUSED.into())
        }
        auth::LoginOutcome::CodeNeeded => {
            refused(StatusCode::UNAUTHORIZED, "code_needed", CODE_NEEDED.into())
        }
        auth::LoginOutcome::CodeRefused => refused(
            StatusCode::UNAUTHORIZED,
            "code_refused",
            CODE_REFUSED.into(),
        ),
        auth::LoginOutcome::Throttled { retry_at } => refused(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            throttled_message(retry_at),
        ),
    }
}

/// Logs out; the session ends on the server.
#[utoipa::path(delete, path = "/api/v1/session", tag = "session", responses((status = 204), (status = 401, body = ErrorBody)))]
async fn logout(
    State(state): State<AppState>,
    jar: CookieJar,
    ApiUser(user): ApiUser,
) -> Result<Response, ApiError> {
    let cookie = auth::logout(&state, &user).await?;
    Ok((StatusCode::NO_CONTENT, jar.add(cookie)).into_response())
}

// ---------------------------------------------------------------------------------------------
// Cases

#[derive(Serialize, ToSchema)]
pub struct ClientView {
    client_id: String,
    code: String,
    display_name: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct LatestScoreView {
    instrument: String,
    scale: String,
    value: Option<f64>,
    band: Option<String>,
    session_number: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct CaseSummaryView {
    case_id: String,
    title: String,
    setting: String,
    status: String,
    clients: Vec<ClientView>,
    sessions: i64,
    last_session_on: Option<String>,
    latest: Vec<LatestScoreView>,
    /// Urgent flags (e.g. PHQ-9 item 9) on current responses.
    risk_flags: i64,
}

fn client_view(c: &bordin_store::ClientRow) -> ClientView {
    ClientView {
        client_id: c.client_id.clone(),
        code: c.code.clone(),
        display_name: c.display_name.clone(),
    }
}

/// The caller's caseload.
#[utoipa::path(get, path = "/api/v1/cases", tag = "cases", responses((status = 200, body = Vec<CaseSummaryView>), (status = 401, body = ErrorBody)))]
async fn list_cases(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
) -> Result<Json<Vec<CaseSummaryView>>, ApiError> {
    let ids = policy::caseload(&state, &user).await?;
    let cases = state.store.case_summaries(user.clinic_id(), &ids).await?;
    Ok(Json(
        cases
            .into_iter()
            .map(|s| CaseSummaryView {
                case_id: s.case.case_id.clone(),
                title: s.case.title.clone(),
                setting: s.case.setting.as_str().into(),
                status: s.case.status.as_str().into(),
                clients: s.case.clients.iter().map(client_view).collect(),
                sessions: s.sessions,
                last_session_on: s.last_session_on,
                latest: s
                    .latest
                    .into_iter()
                    .map(|l| LatestScoreView {
                        instrument: l.instrument_id,
                        scale: l.scale_id,
                        value: l.value,
                        band: l.band,
                        session_number: l.session_number,
                    })
                    .collect(),
                risk_flags: s.open_flags,
            })
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct NewCaseInput {
    /// Pseudonymous client code: 1–32 letters, digits, '-' or '_'.
    code: String,
    display_name: Option<String>,
    /// `therapy` (default), `counselling`, `coaching` or `rehabilitation`.
    setting: Option<String>,
    /// What the client agreed to, recorded with the case: any of `questionnaires`,
    /// `transcript_analysis`, `live_copilot`, `research_export`. Forms can only be sent with
    /// `questionnaires`; consent can also be recorded later (`/cases/{case_id}/consents`).
    #[serde(default)]
    consents: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct NewCaseResult {
    case_id: String,
    client: ClientView,
}

fn field_errors(errors: &[actions::FieldError]) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(ErrorBody {
            error: "bad_request".into(),
            message: "Some fields need attention.".into(),
            items: errors
                .iter()
                .map(|e| ItemProblem {
                    item: e.field.into(),
                    message: e.message.clone(),
                })
                .collect(),
        }),
    )
        .into_response()
}

/// Opens a case for a new client, led by the caller.
#[utoipa::path(post, path = "/api/v1/cases", tag = "cases", request_body = NewCaseInput,
    responses((status = 201, body = NewCaseResult), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn create_case(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(input): Json<NewCaseInput>,
) -> Result<Response, ApiError> {
    let setting = match input.setting.as_deref() {
        None => Setting::Therapy,
        Some(s) => Setting::parse(s).ok_or_else(|| {
            AppError::BadRequest(format!(
                "setting: '{s}' is not one of therapy, counselling, coaching, rehabilitation"
            ))
        })?,
    };
    let mut consents = Vec::new();
    for c in &input.consents {
        consents.push(
            bordin_core::goals::ConsentKind::parse(c).ok_or_else(|| {
                AppError::BadRequest(format!(
                    "consents: unknown consent '{c}'; use questionnaires, transcript_analysis, live_copilot or research_export"
                ))
            })?,
        );
    }
    let new = actions::NewClientCase {
        code: input.code,
        display_name: input.display_name,
        setting,
        consents,
    };
    Ok(
        match actions::create_client_case(&state, &user, &new).await? {
            Created::Ok((client, case_id)) => (
                StatusCode::CREATED,
                Json(NewCaseResult {
                    case_id,
                    client: client_view(&client),
                }),
            )
                .into_response(),
            Created::Invalid(errors) => field_errors(&errors),
        },
    )
}

#[derive(Serialize, ToSchema)]
pub struct SessionView {
    session_id: String,
    number: i64,
    held_on: String,
    modality: String,
    status: String,
}

#[derive(Serialize, ToSchema)]
pub struct ScoreView {
    response_id: String,
    session_number: Option<i64>,
    instrument: String,
    respondent: String,
    scale: String,
    value: Option<f64>,
    band: Option<String>,
    submitted_at: i64,
}

#[derive(Serialize, ToSchema)]
pub struct FlagView {
    response_id: String,
    flag: String,
    severity: String,
    message: String,
}

#[derive(Serialize, ToSchema)]
pub struct PendingView {
    administration_id: String,
    instrument: String,
    created_at: i64,
    expires_at: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct CaseDetail {
    case_id: String,
    title: String,
    setting: String,
    status: String,
    opened_on: String,
    clients: Vec<ClientView>,
    sessions: Vec<SessionView>,
    scores: Vec<ScoreView>,
    flags: Vec<FlagView>,
    pending: Vec<PendingView>,
}

fn session_view(s: &bordin_store::SessionRow) -> SessionView {
    SessionView {
        session_id: s.session_id.clone(),
        number: s.number,
        held_on: s.held_on.clone(),
        modality: s.modality.as_str().into(),
        status: s.status.as_str().into(),
    }
}

/// A case with its sessions, every current score, flags and open links.
#[utoipa::path(get, path = "/api/v1/cases/{case_id}", tag = "cases", params(("case_id" = String, Path)),
    responses((status = 200, body = CaseDetail), (status = 404, body = ErrorBody)))]
async fn get_case(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(case_id): Path<String>,
) -> Result<Json<CaseDetail>, ApiError> {
    let access = policy::case(&state, &user, &case_id).await?;
    let v = actions::case_view(&state, &access).await?;
    Ok(Json(CaseDetail {
        case_id: v.case.case_id.clone(),
        title: v.case.title.clone(),
        setting: v.case.setting.as_str().into(),
        status: v.case.status.as_str().into(),
        opened_on: v.case.opened_on.clone(),
        clients: v.case.clients.iter().map(client_view).collect(),
        sessions: v.sessions.iter().map(session_view).collect(),
        scores: v
            .scores
            .into_iter()
            .map(|s| ScoreView {
                response_id: s.response_id,
                session_number: s.session_number,
                instrument: s.instrument_id,
                respondent: s.respondent.as_str().into(),
                scale: s.scale_id,
                value: s.value,
                band: s.band,
                submitted_at: s.submitted_at,
            })
            .collect(),
        flags: v
            .flags
            .into_iter()
            .map(|(r, f)| FlagView {
                response_id: r,
                flag: f.flag_id,
                severity: f.severity,
                message: f.message,
            })
            .collect(),
        pending: v
            .pending
            .into_iter()
            .map(|a| PendingView {
                administration_id: a.administration_id,
                instrument: a.instrument_id,
                created_at: a.created_at,
                expires_at: a.expires_at,
            })
            .collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct NewSessionInput {
    /// YYYY-MM-DD
    held_on: String,
    /// `in_person` (default), `video` or `phone`.
    modality: Option<String>,
    /// `attended` (default), `missed`, `cancelled` or `planned`.
    status: Option<String>,
}

/// Adds the next session to a case.
#[utoipa::path(post, path = "/api/v1/cases/{case_id}/sessions", tag = "cases", params(("case_id" = String, Path)), request_body = NewSessionInput,
    responses((status = 201, body = SessionView), (status = 422, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn add_session(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(case_id): Path<String>,
    Json(input): Json<NewSessionInput>,
) -> Result<Response, ApiError> {
    let access = policy::case(&state, &user, &case_id).await?;
    let modality = match input.modality.as_deref() {
        None => Modality::InPerson,
        Some(m) => Modality::parse(m).ok_or_else(|| {
            AppError::BadRequest(format!(
                "modality: '{m}' is not one of in_person, video, phone"
            ))
        })?,
    };
    let status = match input.status.as_deref() {
        None => SessionStatus::Attended,
        Some(s) => SessionStatus::parse(s).ok_or_else(|| {
            AppError::BadRequest(format!(
                "status: '{s}' is not one of attended, missed, cancelled, planned"
            ))
        })?,
    };
    Ok(
        match actions::add_session(&state, &access, &input.held_on, modality, status).await? {
            Created::Ok(s) => (StatusCode::CREATED, Json(session_view(&s))).into_response(),
            Created::Invalid(errors) => field_errors(&errors),
        },
    )
}

#[derive(Deserialize, ToSchema)]
pub struct SendFormInput {
    /// Instrument id, e.g. `session_check` or `phq9`.
    instrument: String,
    /// A session id of the case, `"new"` for a new session today, or absent.
    session: Option<String>,
    /// Which client of the case answers (couples, families); the first client when absent.
    client_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct LinkResult {
    administration_id: String,
    /// Path of the client's link (`/f/{clinic}/{secret}`); the secret is shown only this once.
    path: String,
    /// The whole link when a public URL is configured.
    url: Option<String>,
    expires_at: Option<i64>,
}

fn session_choice(s: Option<&str>) -> SessionChoice {
    match s {
        None | Some("") => SessionChoice::None,
        Some("new") => SessionChoice::NewToday(Modality::InPerson),
        Some(id) => SessionChoice::Existing(id.to_owned()),
    }
}

/// Creates a single-use link through which the client fills a form.
#[utoipa::path(post, path = "/api/v1/cases/{case_id}/administrations", tag = "cases", params(("case_id" = String, Path)), request_body = SendFormInput,
    responses((status = 201, body = LinkResult), (status = 400, description = "The form cannot be sent (e.g. licence-gated wording not installed); the message says how to fix it", body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn send_form(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(case_id): Path<String>,
    Json(input): Json<SendFormInput>,
) -> Result<Response, ApiError> {
    let access = policy::case(&state, &user, &case_id).await?;
    let link = actions::send_form(
        &state,
        &user,
        &access,
        &input.instrument,
        &session_choice(input.session.as_deref()),
        input.client_id.as_deref(),
    )
    .await?;
    let url = state
        .config
        .public_url
        .as_ref()
        .map(|u| format!("{u}{}", link.path));
    Ok((
        StatusCode::CREATED,
        Json(LinkResult {
            administration_id: link.administration.administration_id.clone(),
            path: link.path,
            url,
            expires_at: link.administration.expires_at,
        }),
    )
        .into_response())
}

#[derive(Deserialize, ToSchema)]
pub struct EnterInput {
    instrument: String,
    /// A session id of the case, `"new"`, or absent.
    session: Option<String>,
    answers: BTreeMap<String, String>,
}

#[derive(Serialize, ToSchema)]
pub struct StoredResult {
    response_id: String,
    /// True when the link had been answered before: nothing new was stored.
    already_stored: bool,
}

/// Stores answers entered by a clinician (their own rating, or a client's paper answers).
#[utoipa::path(post, path = "/api/v1/cases/{case_id}/responses", tag = "cases", params(("case_id" = String, Path)), request_body = EnterInput,
    responses((status = 201, body = StoredResult), (status = 422, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn enter_response(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(case_id): Path<String>,
    Json(input): Json<EnterInput>,
) -> Result<Response, ApiError> {
    let access = policy::case(&state, &user, &case_id).await?;
    let pairs: Vec<(String, String)> = input.answers.into_iter().collect();
    outcome(
        actions::submit_clinician(
            &state,
            &user,
            &access,
            &input.instrument,
            &session_choice(input.session.as_deref()),
            &pairs,
        )
        .await?,
    )
}

fn outcome(o: SubmitOutcome) -> Result<Response, ApiError> {
    Ok(match o {
        SubmitOutcome::Stored { response_id } => (
            StatusCode::CREATED,
            Json(StoredResult {
                response_id,
                already_stored: false,
            }),
        )
            .into_response(),
        SubmitOutcome::AlreadyStored { response_id } => (
            StatusCode::OK,
            Json(StoredResult {
                response_id,
                already_stored: true,
            }),
        )
            .into_response(),
        SubmitOutcome::Invalid { errors, .. } => problems(&errors),
        SubmitOutcome::LinkInvalid => return Err(AppError::NotFound.into()),
    })
}

// ---------------------------------------------------------------------------------------------
// Alerts

#[derive(Serialize, ToSchema)]
pub struct AlertView {
    alert_id: String,
    case_id: String,
    /// `rupture`, `repair`, `reliable_improvement`, `reliable_deterioration`, `recovery`,
    /// `not_on_track`, `risk`, `discrepancy`, `low_early_alliance`, `missing_measure`, `dropout_risk`.
    kind: String,
    measure: String,
    session_number: i64,
    /// Stable identity of the event: an alert is raised once per event.
    event_key: String,
    /// `red`, `amber` or `green`.
    urgency: String,
    message: String,
    /// The figures behind the alert.
    #[schema(value_type = Object)]
    detail: serde_json::Value,
    /// `open`, `acknowledged`, `resolved`, or `info` (recorded, no action needed).
    status: String,
    raised_at: i64,
    acknowledged_by: Option<String>,
    resolved_by: Option<String>,
    action_taken: Option<String>,
}

fn alert_view(a: bordin_store::AlertRow) -> AlertView {
    AlertView {
        detail: serde_json::from_str(&a.detail).unwrap_or(serde_json::Value::Null),
        alert_id: a.alert_id,
        case_id: a.case_id,
        kind: a.kind,
        measure: a.measure,
        session_number: a.session_number,
        event_key: a.event_key,
        urgency: a.urgency,
        message: a.message,
        status: a.status,
        raised_at: a.raised_at,
        acknowledged_by: a.acknowledged_by,
        resolved_by: a.resolved_by,
        action_taken: a.action_taken,
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct AlertQuery {
    /// Only alerts in this state (`open`, `acknowledged`, `resolved`, `info`); all when absent.
    status: Option<String>,
    /// Only alerts of this case.
    case_id: Option<String>,
}

/// Alerts on the caller's cases, most urgent first.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts", params(AlertQuery),
    responses((status = 200, body = Vec<AlertView>), (status = 401, body = ErrorBody)))]
async fn list_alerts(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    axum::extract::Query(q): axum::extract::Query<AlertQuery>,
) -> Result<Json<Vec<AlertView>>, ApiError> {
    let visible = policy::caseload(&state, &user).await?;
    if let Some(c) = &q.case_id {
        policy::case(&state, &user, c).await?;
    }
    let statuses: Vec<&str> = q.status.as_deref().into_iter().collect();
    let alerts = state
        .store
        .alerts(user.clinic_id(), q.case_id.as_deref(), &statuses)
        .await?;
    Ok(Json(
        alerts
            .into_iter()
            .filter(|a| visible.binary_search(&a.case_id).is_ok())
            .map(alert_view)
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct AlertNote {
    /// What was done (required to resolve), e.g. "talked about the rupture with the client".
    note: Option<String>,
}

async fn alert_change(
    state: &AppState,
    user: &CurrentUser,
    alert_id: &str,
    action: &str,
    note: Option<&str>,
) -> Result<Json<AlertView>, ApiError> {
    let alert = state
        .store
        .alert(user.clinic_id(), alert_id)
        .await
        .map_err(|_| AppError::NotFound)?;
    let access = policy::case(state, user, &alert.case_id).await?;
    let actor = format!("{} ({})", user.user.display_name, user.user.user_id);
    let updated = state
        .store
        .update_alert(
            access.clinic_id(),
            alert_id,
            action,
            &actor,
            note,
            crate::state::now_ms(),
        )
        .await?;
    Ok(Json(alert_view(updated)))
}

/// Acknowledges an open alert (it stays listed until resolved).
#[utoipa::path(post, path = "/api/v1/alerts/{alert_id}/acknowledge", tag = "alerts", params(("alert_id" = String, Path)),
    responses((status = 200, body = AlertView), (status = 409, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn acknowledge_alert(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(alert_id): Path<String>,
) -> Result<Json<AlertView>, ApiError> {
    alert_change(&state, &user, &alert_id, "acknowledged", None).await
}

/// Resolves an alert, saying what was done. A resolved alert is not raised again for the same event.
#[utoipa::path(post, path = "/api/v1/alerts/{alert_id}/resolve", tag = "alerts", params(("alert_id" = String, Path)), request_body = AlertNote,
    responses((status = 200, body = AlertView), (status = 409, description = "Already resolved, or no note given", body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn resolve_alert(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(alert_id): Path<String>,
    Json(input): Json<AlertNote>,
) -> Result<Json<AlertView>, ApiError> {
    alert_change(&state, &user, &alert_id, "resolved", input.note.as_deref()).await
}

// ---------------------------------------------------------------------------------------------
// Responses

#[derive(Serialize, ToSchema)]
pub struct ResponseVersion {
    response_id: String,
    version: i64,
    submitted_at: i64,
    /// `link`, `clinician`, `import` or `demo`.
    source: String,
    correction_reason: Option<String>,
    /// Item id → answer as exact decimal text.
    answers: BTreeMap<String, String>,
}

#[derive(Serialize, ToSchema)]
pub struct ResponseDetail {
    case_id: String,
    session_id: Option<String>,
    instrument: String,
    respondent: String,
    /// The version asked for.
    response: ResponseVersion,
    /// Scores of that version (recomputed exactly from its answers).
    scores: ScoreResult,
    /// Every version of this response, oldest first; the last is current.
    history: Vec<ResponseVersion>,
}

fn version_of(r: &bordin_store::ResponseRow) -> ResponseVersion {
    ResponseVersion {
        response_id: r.response_id.clone(),
        version: r.version,
        submitted_at: r.submitted_at,
        source: r.source.as_str().into(),
        correction_reason: r.correction_reason.clone(),
        answers: r.answers.iter().cloned().collect(),
    }
}

fn score_result(i: &bordin_core::Instrument, sheet: &bordin_core::ScoreSheet) -> ScoreResult {
    ScoreResult {
        instrument: i.id.clone(),
        scales: i
            .scales
            .iter()
            .zip(&sheet.scales)
            .map(|(def, s)| ScaleResult {
                id: def.id.clone(),
                value: s.value.map(bordin_core::to_f64),
                text: s.value.map(|v| bordin_core::format_value(v, def.decimals)),
                answered: s.answered,
                missing: s.missing,
                band: s.band.map(|b| def.bands[b].label.clone()),
            })
            .collect(),
        severity: sheet.severity(i).map(str::to_owned),
        flags: sheet.flag_ids(i).map(str::to_owned).collect(),
        missing: sheet.missing,
    }
}

/// A stored response with its scores and correction history.
#[utoipa::path(get, path = "/api/v1/responses/{response_id}", tag = "cases", params(("response_id" = String, Path)),
    responses((status = 200, body = ResponseDetail), (status = 404, body = ErrorBody)))]
async fn get_response(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(response_id): Path<String>,
) -> Result<Json<ResponseDetail>, ApiError> {
    let (access, row) = actions::response_access(&state, &user, &response_id).await?;
    let v = actions::response_view(&state, &access, row).await?;
    Ok(Json(ResponseDetail {
        case_id: v.shown.case_id.clone(),
        session_id: v.shown.session_id.clone(),
        instrument: v.instrument.id.clone(),
        respondent: v.shown.respondent.as_str().into(),
        response: version_of(&v.shown),
        scores: score_result(&v.instrument, &v.sheet),
        history: v.history.iter().map(version_of).collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct CorrectionInput {
    /// The corrected answers (all of them, as for a new response).
    answers: BTreeMap<String, String>,
    /// Why the answers are corrected (required; kept with the new version).
    reason: String,
}

/// Corrects a response: stores a new version with the reason; the old version is kept unchanged.
/// Only the current version can be corrected.
#[utoipa::path(post, path = "/api/v1/responses/{response_id}/corrections", tag = "cases", params(("response_id" = String, Path)), request_body = CorrectionInput,
    responses((status = 201, body = StoredResult), (status = 422, body = ErrorBody), (status = 409, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn correct_response(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(response_id): Path<String>,
    Json(input): Json<CorrectionInput>,
) -> Result<Response, ApiError> {
    let (access, row) = actions::response_access(&state, &user, &response_id).await?;
    let pairs: Vec<(String, String)> = input.answers.into_iter().collect();
    Ok(
        match actions::correct_response(&state, &user, &access, &row, &pairs, &input.reason).await?
        {
            actions::CorrectOutcome::Stored { response_id } => (
                StatusCode::CREATED,
                Json(StoredResult {
                    response_id,
                    already_stored: false,
                }),
            )
                .into_response(),
            actions::CorrectOutcome::Invalid { errors } => problems(&errors),
            actions::CorrectOutcome::NeedsReason => field_errors(&[actions::FieldError {
                field: "reason",
                message: "A correction needs a reason.".into(),
            }]),
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Client links

/// The form behind a client link, with its wording, for custom front-ends.
#[utoipa::path(get, path = "/api/v1/links/{clinic_id}/{secret}", tag = "links",
    params(("clinic_id" = String, Path), ("secret" = String, Path)),
    responses((status = 200, description = "The form: title, instructions, items with their answer options", body = Object), (status = 404, body = ErrorBody)))]
async fn get_link_form(
    State(state): State<AppState>,
    Path((clinic, secret)): Path<(String, String)>,
    opened: Option<Extension<actions::OpenedLink>>,
) -> Result<Response, ApiError> {
    let opened = opened.map(|Extension(o)| o);
    match actions::link_state(&state, &clinic, &secret, opened).await? {
        actions::LinkState::Open { form, .. } => Ok(Json(
            serde_json::to_value(&form).map_err(|e| AppError::Internal(e.to_string()))?,
        )
        .into_response()),
        actions::LinkState::Completed => Ok((
            StatusCode::GONE,
            Json(ErrorBody {
                error: "completed".into(),
                message: "This form has already been answered.".into(),
                items: vec![],
            }),
        )
            .into_response()),
        actions::LinkState::Invalid => Err(AppError::NotFound.into()),
    }
}

/// Submits a client's answers through their link. A second submission stores nothing and
/// returns the first response (200, `already_stored: true`).
#[utoipa::path(post, path = "/api/v1/links/{clinic_id}/{secret}", tag = "links",
    params(("clinic_id" = String, Path), ("secret" = String, Path)), request_body = AnswersInput,
    responses((status = 201, body = StoredResult), (status = 200, body = StoredResult), (status = 422, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn submit_link(
    State(state): State<AppState>,
    Path((clinic, secret)): Path<(String, String)>,
    opened: Option<Extension<actions::OpenedLink>>,
    Json(input): Json<AnswersInput>,
) -> Result<Response, ApiError> {
    let pairs: Vec<(String, String)> = input.answers.into_iter().collect();
    let opened = opened.map(|Extension(o)| o);
    outcome(actions::submit_link(&state, &clinic, &secret, &pairs, opened).await?)
}

// ---------------------------------------------------------------------------------------------
// Goals, tasks, formulation, agreements log

/// 201 with the written row, or 422 naming each field's problem.
fn created<T: Serialize>(w: crate::goals::Written<T>) -> Result<Response, ApiError> {
    Ok(match w {
        crate::goals::Written::Done(row) => {
            (StatusCode::CREATED, Json(to_json(&row)?)).into_response()
        }
        crate::goals::Written::Invalid(e) => goal_problems(&e),
    })
}

fn goal_problems(e: &bordin_core::goals::FieldErrors) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(ErrorBody {
            error: "invalid".into(),
            message: e.to_string(),
            items: e
                .0
                .iter()
                .map(|p| ItemProblem {
                    item: p.field.to_owned(),
                    message: p.message.clone(),
                })
                .collect(),
        }),
    )
        .into_response()
}

fn to_json<T: Serialize>(v: &T) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(v).map_err(|e| AppError::Internal(e.to_string()).into())
}

/// 409 with the current object: nothing was written.
fn conflict_with<T: Serialize>(what: &str, current: &T) -> Result<Response, ApiError> {
    Ok((
        StatusCode::CONFLICT,
        Json(serde_json::json!({
            "error": "conflict",
            "message": format!("the {what} was changed by someone else since the version you edited; nothing was written"),
            "current": to_json(current)?,
        })),
    )
        .into_response())
}

/// A case's goals with every rating, its tasks with every report, the current formulation, goal
/// consensus and the GAS T-score.
#[utoipa::path(get, path = "/api/v1/cases/{case_id}/goals", tag = "goals",
    params(("case_id" = String, Path)),
    responses((status = 200, description = "goals, ratings, tasks, reports, formulation, consensus, gas_t_score", body = Object), (status = 404, body = ErrorBody)))]
async fn list_goals(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(case_id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let access = policy::case(&state, &user, &case_id).await?;
    let scope = crate::goals::Scope::clinician(&access, &user);
    Ok(Json(to_json(&crate::goals::view(&state, &scope).await?)?))
}

#[derive(Deserialize, ToSchema)]
pub struct NewGoalInput {
    #[serde(flatten)]
    goal: crate::goals::GoalInput,
    /// Agreed in session (active); otherwise proposed.
    #[serde(default)]
    active: bool,
}

/// Adds a goal to a case.
#[utoipa::path(post, path = "/api/v1/cases/{case_id}/goals", tag = "goals",
    params(("case_id" = String, Path)), request_body = NewGoalInput,
    responses((status = 201, description = "The goal", body = Object), (status = 422, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn create_goal(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(case_id): Path<String>,
    Json(input): Json<NewGoalInput>,
) -> Result<Response, ApiError> {
    let access = policy::case(&state, &user, &case_id).await?;
    let scope = crate::goals::Scope::clinician(&access, &user);
    created(crate::goals::add_goal(&state, &scope, &input.goal, input.active).await?)
}

#[derive(Deserialize, ToSchema)]
pub struct GoalChangeInput {
    /// The version the change was made from.
    version: i64,
    #[serde(flatten)]
    goal: crate::goals::GoalInput,
    /// When given, only the status changes (`proposed`, `active`, `reached`, `dropped`) and the
    /// goal's content fields are ignored.
    #[serde(default)]
    status: Option<String>,
    /// Changed by agreement (logged as `renegotiated`).
    #[serde(default)]
    renegotiated: bool,
    #[serde(default)]
    reason: Option<String>,
}

/// Changes a goal made from `version`. A stale version gets 409 with the current goal, and
/// nothing is written.
#[utoipa::path(put, path = "/api/v1/goals/{goal_id}", tag = "goals",
    params(("goal_id" = String, Path)), request_body = GoalChangeInput,
    responses((status = 200, description = "`{version}`", body = Object), (status = 409, description = "`{error, message, current}`", body = Object), (status = 422, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn update_goal(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(goal_id): Path<String>,
    Json(input): Json<GoalChangeInput>,
) -> Result<Response, ApiError> {
    use crate::goals::Edited;
    let (access, _) = crate::goals::goal_access(&state, &user, &goal_id).await?;
    let scope = crate::goals::Scope::clinician(&access, &user);
    let outcome = match &input.status {
        Some(s) => {
            let status = bordin_core::goals::GoalStatus::parse(s.trim()).ok_or_else(|| {
                AppError::BadRequest("status is proposed, active, reached or dropped".into())
            })?;
            crate::goals::set_goal_status(
                &state,
                &scope,
                &goal_id,
                input.version,
                status,
                input.reason.as_deref(),
            )
            .await?
        }
        None => {
            crate::goals::edit_goal(
                &state,
                &scope,
                &goal_id,
                input.version,
                &input.goal,
                input.renegotiated,
                input.reason.as_deref(),
            )
            .await?
        }
    };
    match outcome {
        Edited::Updated { version } => {
            Ok(Json(serde_json::json!({ "version": version })).into_response())
        }
        Edited::Conflict { current } => conflict_with("goal", &*current),
        Edited::Invalid(e) => Ok(goal_problems(&e)),
    }
}

#[derive(Deserialize, ToSchema)]
pub struct RatingInput {
    /// `agreement` (0–10) or `gas` (−2..2) for a clinician.
    kind: String,
    value: i64,
    #[serde(default)]
    session_id: Option<String>,
}

/// Rates a goal as the clinician.
#[utoipa::path(post, path = "/api/v1/goals/{goal_id}/ratings", tag = "goals",
    params(("goal_id" = String, Path)), request_body = RatingInput,
    responses((status = 201, description = "The rating", body = Object), (status = 422, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn rate_goal(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(goal_id): Path<String>,
    Json(input): Json<RatingInput>,
) -> Result<Response, ApiError> {
    let (access, _) = crate::goals::goal_access(&state, &user, &goal_id).await?;
    let scope = crate::goals::Scope::clinician(&access, &user);
    let kind = bordin_core::goals::RatingKind::parse(input.kind.trim()).ok_or_else(|| {
        AppError::BadRequest("kind is agreement, progress, gas or satisfaction".into())
    })?;
    created(
        crate::goals::rate_goal(
            &state,
            &scope,
            &goal_id,
            kind,
            input.value,
            input.session_id.as_deref(),
        )
        .await?,
    )
}

/// Adds a task under a goal (its rationale is required).
#[utoipa::path(post, path = "/api/v1/goals/{goal_id}/tasks", tag = "goals",
    params(("goal_id" = String, Path)), request_body = crate::goals::TaskInput,
    responses((status = 201, description = "The task", body = Object), (status = 422, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn create_task(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(goal_id): Path<String>,
    Json(input): Json<crate::goals::TaskInput>,
) -> Result<Response, ApiError> {
    let (access, _) = crate::goals::goal_access(&state, &user, &goal_id).await?;
    let scope = crate::goals::Scope::clinician(&access, &user);
    created(crate::goals::add_task(&state, &scope, &goal_id, &input).await?)
}

/// Records a report on a task (completed or skipped; helpful and relevant 0–10).
#[utoipa::path(post, path = "/api/v1/tasks/{task_id}/reports", tag = "goals",
    params(("task_id" = String, Path)), request_body = crate::goals::ReportInput,
    responses((status = 201, description = "The report", body = Object), (status = 422, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn report_task(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(task_id): Path<String>,
    Json(input): Json<crate::goals::ReportInput>,
) -> Result<Response, ApiError> {
    let (access, _) = crate::goals::task_access(&state, &user, &task_id).await?;
    let scope = crate::goals::Scope::clinician(&access, &user);
    created(crate::goals::report_task(&state, &scope, &task_id, &input).await?)
}

/// Saves a new version of the case formulation, made from `version` (0 for the first). A stale
/// version gets 409 with the current formulation.
#[utoipa::path(put, path = "/api/v1/cases/{case_id}/formulation", tag = "goals",
    params(("case_id" = String, Path)), request_body = crate::goals::FormulationInput,
    responses((status = 200, description = "`{version}`", body = Object), (status = 409, description = "`{error, message, current}`", body = Object), (status = 422, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn put_formulation(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(case_id): Path<String>,
    Json(input): Json<crate::goals::FormulationInput>,
) -> Result<Response, ApiError> {
    use crate::goals::FormulationSaved;
    let access = policy::case(&state, &user, &case_id).await?;
    let scope = crate::goals::Scope::clinician(&access, &user);
    match crate::goals::save_formulation(&state, &scope, &input).await? {
        FormulationSaved::Saved { version } => {
            Ok(Json(serde_json::json!({ "version": version })).into_response())
        }
        FormulationSaved::Conflict { current } => conflict_with("formulation", &*current),
        FormulationSaved::Invalid(e) => Ok(goal_problems(&e)),
    }
}

/// The agreements log of a case: every change to goals, tasks, formulation and consent, with
/// who, when, why and a snapshot, in order.
#[utoipa::path(get, path = "/api/v1/cases/{case_id}/agreements", tag = "goals",
    params(("case_id" = String, Path)),
    responses((status = 200, description = "Log entries", body = Object), (status = 404, body = ErrorBody)))]
async fn agreements_log(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(case_id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let access = policy::case(&state, &user, &case_id).await?;
    let scope = crate::goals::Scope::clinician(&access, &user);
    Ok(Json(to_json(&crate::goals::log(&state, &scope).await?)?))
}

/// The consent records of a case (what each client agreed to, and withdrawals), oldest first.
#[utoipa::path(get, path = "/api/v1/cases/{case_id}/consents", tag = "goals",
    params(("case_id" = String, Path)),
    responses((status = 200, description = "Consent records", body = Object), (status = 404, body = ErrorBody)))]
async fn list_consents(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(case_id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let access = policy::case(&state, &user, &case_id).await?;
    Ok(Json(to_json(
        &state
            .store
            .consents(access.clinic_id(), access.case_id())
            .await?,
    )?))
}

/// Records a client's consent decision (given or withdrawn); it joins the agreements log.
#[utoipa::path(post, path = "/api/v1/cases/{case_id}/consents", tag = "goals",
    params(("case_id" = String, Path)), request_body = crate::goals::ConsentInput,
    responses((status = 201, description = "The consent record", body = Object), (status = 422, body = ErrorBody), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn record_consent(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(case_id): Path<String>,
    Json(input): Json<crate::goals::ConsentInput>,
) -> Result<Response, ApiError> {
    let access = policy::case(&state, &user, &case_id).await?;
    let scope = crate::goals::Scope::clinician(&access, &user);
    created(crate::goals::record_consent(&state, &scope, &input).await?)
}
