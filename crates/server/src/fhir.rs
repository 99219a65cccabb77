//! FHIR R4 endpoints (`application/fhir+json`), over the same actions as the HTML and JSON API.
//!
//! - `GET /fhir/Questionnaire/{id}`: an instrument as a Questionnaire (`phq9`, `wai-sr`, …).
//!   A licence-gated instrument is exported only with the clinic's installed text pack;
//!   without one the answer is 403 with the registry's reason and fix.
//! - `POST /fhir/QuestionnaireResponse`: answers from another system. Read and checked by
//!   `bordin_interop::fhir::response`; the subject Patient is found by pseudonymous code (or
//!   Bordin id) in the user's clinic, the case through [`policy`]; then the answers go through
//!   [`actions::record_answers`] — scored, stored and alerted exactly as answers entered in Bordin.
//! - `GET /fhir/QuestionnaireResponse?patient=…`: a searchset Bundle of the client's current
//!   responses (matches), with their score Observations and the Patient (includes).
//! - `GET /fhir/QuestionnaireResponse/{id}`.
//!
//! Authentication is the JSON API's ([`ApiUser`]: session cookie with the CSRF header on writes,
//! and whatever else that extractor accepts). Every failure, including a bad login, is an
//! `OperationOutcome` naming the element; nothing here answers 500 for bad input.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bordin_core::care::ResponseSource;
use bordin_core::Answers;
use bordin_interop::fhir::observation::{observations, patient, patient_reference};
use bordin_interop::fhir::response::{questionnaire_response, ReadResponse, ResponseOut, Subject};
use bordin_interop::fhir::{
    bundle, instrument_id, questionnaire::questionnaire, IssueCode, OperationOutcome, MEDIA_TYPE,
};
use bordin_store::{ClientRow, ResponseRow, StoreError};
use serde::Deserialize;

use crate::actions::{self, Recording, SessionChoice};
use crate::api::ApiUser;
use crate::auth::CurrentUser;
use crate::error::{ApiError, AppError};
use crate::policy::{self, CaseAccess};
use crate::routes::{Access, Routes};
use crate::state::AppState;

/// The `/fhir` routes in the route table. The search and the POST are open to any user and
/// decide per case through [`policy`] (the case is found from the Patient in the query or body);
/// a response by id is a case read.
pub fn routes(t: Routes) -> Routes {
    use utoipa_axum::routes;
    t.api(Access::AnyUser, routes!(get_questionnaire))
        .api(Access::AnyUser, routes!(post_response, search_responses))
        .api(Access::CaseRead, routes!(get_response))
}

/// A FHIR error: an HTTP status and the OperationOutcome that explains it.
#[derive(Debug)]
pub struct FhirError {
    pub status: StatusCode,
    pub outcome: OperationOutcome,
}

impl FhirError {
    pub fn new(
        status: StatusCode,
        code: IssueCode,
        expression: &str,
        msg: impl Into<String>,
    ) -> Self {
        Self {
            status,
            outcome: OperationOutcome::single(code, expression, msg),
        }
    }
}

impl From<AppError> for FhirError {
    fn from(e: AppError) -> Self {
        let status = e.status();
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %e, "FHIR request failed");
        }
        let code = match &e {
            AppError::Unauthenticated => IssueCode::Login,
            AppError::NotFound | AppError::Store(StoreError::NotFound { .. }) => {
                IssueCode::NotFound
            }
            AppError::Csrf | AppError::Forbidden(_) => IssueCode::Security,
            AppError::BadRequest(_) | AppError::Unprocessable(_) => IssueCode::Invalid,
            AppError::Conflict(_)
            | AppError::ConsentRequired { .. }
            | AppError::Store(StoreError::Conflict(_)) => IssueCode::BusinessRule,
            AppError::Store(_) | AppError::Internal(_) => IssueCode::Exception,
        };
        Self::new(status, code, "", e.public_message())
    }
}

impl From<ApiError> for FhirError {
    fn from(e: ApiError) -> Self {
        e.0.into()
    }
}

impl From<StoreError> for FhirError {
    fn from(e: StoreError) -> Self {
        AppError::from(e).into()
    }
}

impl IntoResponse for FhirError {
    fn into_response(self) -> Response {
        fhir_json(self.status, &self.outcome)
    }
}

fn fhir_json<T: serde::Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (
            status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE))],
            bytes,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn user(u: Result<ApiUser, ApiError>) -> Result<CurrentUser, FhirError> {
    u.map(|ApiUser(u)| u).map_err(FhirError::from)
}

/// A millisecond timestamp as a FHIR `instant`/`dateTime` (UTC, seconds).
pub fn fhir_time(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

// ---------------------------------------------------------------------------------------------
// Steps shared with the command line (`bordin fhir`)

/// The Questionnaire of an instrument for a clinic (its setting's words, its text packs).
pub async fn questionnaire_json(
    state: &AppState,
    clinic_id: &str,
    id: &str,
) -> Result<serde_json::Value, FhirError> {
    let registry = state.registry(clinic_id).await?;
    let clinic = state.store.clinic(clinic_id).await?;
    let iid = instrument_id(id);
    if registry.get(&iid).is_none() {
        return Err(FhirError::new(
            StatusCode::NOT_FOUND,
            IssueCode::NotFound,
            "",
            format!("no Questionnaire '{id}' is known"),
        ));
    }
    let form = registry.form(&iid, &clinic.setting.words()).map_err(|e| {
        FhirError::new(
            StatusCode::FORBIDDEN,
            IssueCode::Forbidden,
            "",
            format!("{} {}", e.reason, e.fix),
        )
    })?;
    serde_json::to_value(questionnaire(&form)).map_err(|e| AppError::Internal(e.to_string()).into())
}

/// Who imports: a logged-in user (access through [`policy::case`]) or the operator's command
/// line for one clinic ([`policy::operator_case`]).
#[derive(Clone, Copy)]
pub enum Importer<'a> {
    User(&'a CurrentUser),
    Operator { clinic_id: &'a str },
}

impl Importer<'_> {
    fn clinic_id(&self) -> &str {
        match self {
            Self::User(u) => u.clinic_id(),
            Self::Operator { clinic_id } => clinic_id,
        }
    }
    fn entered_by(&self) -> String {
        match self {
            Self::User(u) => u.user.user_id.clone(),
            Self::Operator { .. } => "import:fhir".into(),
        }
    }
}

/// Finds a client by pseudonymous code, else by Bordin's id.
async fn find_client(
    state: &AppState,
    clinic_id: &str,
    key: &str,
) -> Result<Option<ClientRow>, FhirError> {
    if let Some(c) = state.store.client_by_code(clinic_id, key).await? {
        return Ok(Some(c));
    }
    Ok(state.store.client_by_id(clinic_id, key).await?)
}

/// The cases of a client that `who` may access, most relevant first (active, then the most
/// recently opened).
async fn accessible_cases(
    state: &AppState,
    who: Importer<'_>,
    client: &ClientRow,
) -> Result<Vec<CaseAccess>, FhirError> {
    let clinic_id = who.clinic_id();
    let ids = state
        .store
        .case_ids_of_client(clinic_id, &client.client_id)
        .await?;
    let mut cases = state.store.cases_by_ids(clinic_id, &ids).await?;
    cases.sort_by(|a, b| {
        let active = |c: &bordin_store::CaseRow| c.status == bordin_core::care::CaseStatus::Active;
        active(b)
            .cmp(&active(a))
            .then(b.opened_on.cmp(&a.opened_on))
    });
    let mut out = Vec::new();
    for c in cases {
        let access = match who {
            Importer::User(u) => policy::case(state, u, &c.case_id).await,
            Importer::Operator { clinic_id } => {
                policy::operator_case(state, clinic_id, &c.case_id).await
            }
        };
        match access {
            Ok(a) => out.push(a),
            Err(AppError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

/// Where a read response goes: its client and the case. Made only by [`resolve`], which checked
/// access (policy) and the client's consent.
pub struct Target {
    access: CaseAccess,
    client: ClientRow,
}

/// Resolves the subject of a read response to a client and one of their cases.
pub async fn resolve(
    state: &AppState,
    who: Importer<'_>,
    read: &ReadResponse,
) -> Result<Target, FhirError> {
    let (key, expr) = match &read.subject {
        Subject::Code(c) => (c.as_str(), format!("{}.subject.identifier.value", read.at)),
        Subject::Id(i) => (i.as_str(), format!("{}.subject.reference", read.at)),
    };
    let not_found = || {
        FhirError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            IssueCode::NotFound,
            &expr,
            format!("no client with code (or id) '{key}' on a case you can access in this clinic"),
        )
    };
    let client = find_client(state, who.clinic_id(), key)
        .await?
        .ok_or_else(not_found)?;
    let access = accessible_cases(state, who, &client)
        .await?
        .into_iter()
        .next()
        .ok_or_else(not_found)?;
    // A client's answers need their consent to questionnaires, as for answers entered in the
    // app; a clinician's own rating (WAI-SRT) does not. Checked here, before anything of a
    // bundle is stored.
    if read.instrument.respondent != bordin_core::Respondent::Therapist {
        crate::consent::require_client(
            state,
            &access,
            &client.client_id,
            bordin_core::goals::ConsentKind::Questionnaires,
        )
        .await
        .map_err(|e| {
            let mut f = FhirError::from(e);
            f.outcome.issue[0].expression = vec![expr.clone()];
            f
        })?;
    }
    Ok(Target { access, client })
}

/// Stores a read response for its target: scored, stored and alerted as native answers.
pub async fn store(
    state: &AppState,
    who: Importer<'_>,
    target: &Target,
    read: &ReadResponse,
) -> Result<String, AppError> {
    let date = read.authored_on.clone().unwrap_or_else(crate::state::today);
    actions::record_answers(
        state,
        &target.access,
        &read.instrument,
        &read.answers,
        &Recording {
            session: &SessionChoice::OnDate(date),
            client_id: Some(&target.client.client_id),
            entered_by: &who.entered_by(),
            source: ResponseSource::Import,
        },
    )
    .await
}

/// A stored response as (QuestionnaireResponse, its Observations), as JSON.
pub async fn response_resources(
    state: &AppState,
    access: &CaseAccess,
    row: &ResponseRow,
    client: &ClientRow,
) -> Result<(serde_json::Value, Vec<serde_json::Value>), AppError> {
    let registry = state.registry(access.clinic_id()).await?;
    let instrument = registry.get(&row.instrument_id).cloned().ok_or_else(|| {
        AppError::Internal(format!(
            "instrument {} is no longer installed",
            row.instrument_id
        ))
    })?;
    let case = state
        .store
        .case(access.clinic_id(), access.case_id())
        .await?;
    let form = registry
        .form(&row.instrument_id, &case.setting.words())
        .ok();
    let answers = Answers::parse(
        &instrument,
        row.answers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    )
    .map_err(|e| {
        AppError::Internal(format!(
            "stored answers of {} do not fit: {e:?}",
            row.response_id
        ))
    })?;
    let subject = patient_reference(access.clinic_id(), &client.client_id, &client.code);
    let authored = fhir_time(row.submitted_at);
    let qr = questionnaire_response(&ResponseOut {
        id: &row.response_id,
        instrument: &instrument,
        form: form.as_ref(),
        answers: &answers,
        amended: row.version > 1,
        subject: subject.clone(),
        authored: authored.clone(),
    });
    // Scores as stored for imported history without items; recomputed by the core otherwise
    // (the same pure function that scored them on arrival).
    let sheet = instrument.score(&answers);
    let obs = observations(&row.response_id, &instrument, &sheet, &subject, &authored);
    let to =
        |v: serde_json::Result<serde_json::Value>| v.map_err(|e| AppError::Internal(e.to_string()));
    Ok((
        to(serde_json::to_value(qr))?,
        obs.into_iter()
            .map(|o| to(serde_json::to_value(o)))
            .collect::<Result<_, _>>()?,
    ))
}

// ---------------------------------------------------------------------------------------------
// Handlers

/// An instrument as a FHIR R4 Questionnaire.
#[utoipa::path(get, path = "/fhir/Questionnaire/{id}", tag = "fhir",
    params(("id" = String, Path, description = "Instrument id, e.g. phq9, gad7, wai-sr")),
    responses(
        (status = 200, description = "The Questionnaire (LOINC-coded where the instrument has codes)", body = Object, content_type = "application/fhir+json"),
        (status = 403, description = "Licence-gated and no text pack installed: OperationOutcome", body = Object, content_type = "application/fhir+json"),
        (status = 404, description = "OperationOutcome", body = Object, content_type = "application/fhir+json")))]
async fn get_questionnaire(
    State(state): State<AppState>,
    u: Result<ApiUser, ApiError>,
    Path(id): Path<String>,
) -> Result<Response, FhirError> {
    let u = user(u)?;
    let q = questionnaire_json(&state, u.clinic_id(), &id).await?;
    Ok(fhir_json(StatusCode::OK, &q))
}

fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    match &state.config.public_url {
        Some(u) => format!("{}/fhir", u.trim_end_matches('/')),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .filter(|h| {
                    h.chars()
                        .all(|c| c.is_ascii_alphanumeric() || ".:-[]".contains(c))
                })
                .unwrap_or("localhost");
            format!("http://{host}/fhir")
        }
    }
}

/// Imports a QuestionnaireResponse (or a Bundle of them): scored on arrival, alerts raised as
/// for any submission.
#[utoipa::path(post, path = "/fhir/QuestionnaireResponse", tag = "fhir",
    request_body(content = Object, content_type = "application/fhir+json", description = "A QuestionnaireResponse (status completed, subject Patient by pseudonymous code) or a Bundle of them"),
    responses(
        (status = 201, description = "Stored and scored: the stored QuestionnaireResponse (or a transaction-response Bundle)", body = Object, content_type = "application/fhir+json"),
        (status = 400, description = "OperationOutcome naming the element (FHIRPath expression)", body = Object, content_type = "application/fhir+json"),
        (status = 409, description = "Consent missing: OperationOutcome", body = Object, content_type = "application/fhir+json"),
        (status = 415, description = "Not application/fhir+json", body = Object, content_type = "application/fhir+json")))]
async fn post_response(
    State(state): State<AppState>,
    u: Result<ApiUser, ApiError>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, FhirError> {
    let u = user(u)?;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim();
    if mime != MEDIA_TYPE && mime != "application/json" {
        return Err(FhirError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            IssueCode::NotSupported,
            "",
            format!("send the resource as {MEDIA_TYPE}"),
        ));
    }
    let registry = state.registry(u.clinic_id()).await?;
    let read =
        bordin_interop::fhir::response::read(&body, &registry).map_err(|issues| FhirError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            outcome: OperationOutcome::new(issues),
        })?;
    let [read] = <[ReadResponse; 1]>::try_from(read).map_err(|_| {
        FhirError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            IssueCode::NotSupported,
            "Bundle",
            "POST one QuestionnaireResponse here; import Bundles with `bordin fhir import`",
        )
    })?;
    let who = Importer::User(&u);
    let target = resolve(&state, who, &read).await?;
    let id = store(&state, who, &target, &read).await?;
    let row = state.store.response(u.clinic_id(), &id).await?;
    let (qr, _) = response_resources(&state, &target.access, &row, &target.client).await?;
    let mut resp = fhir_json(StatusCode::CREATED, &qr);
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{}/QuestionnaireResponse/{id}",
        base_url(&state, &headers)
    )) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

#[derive(Deserialize)]
struct SearchParams {
    patient: Option<String>,
}

/// A client's current QuestionnaireResponses with their score Observations.
#[utoipa::path(get, path = "/fhir/QuestionnaireResponse", tag = "fhir",
    params(("patient" = String, Query, description = "The client's pseudonymous code, or Patient/ID")),
    responses(
        (status = 200, description = "A searchset Bundle: responses (match), Observations and the Patient (include)", body = Object, content_type = "application/fhir+json"),
        (status = 400, description = "No patient given: OperationOutcome", body = Object, content_type = "application/fhir+json")))]
async fn search_responses(
    State(state): State<AppState>,
    u: Result<ApiUser, ApiError>,
    headers: HeaderMap,
    Query(params): Query<SearchParams>,
) -> Result<Response, FhirError> {
    let u = user(u)?;
    let Some(p) = params.patient.filter(|p| !p.trim().is_empty()) else {
        return Err(FhirError::new(
            StatusCode::BAD_REQUEST,
            IssueCode::Required,
            "",
            "search by patient: ?patient=CODE (or Patient/ID)",
        ));
    };
    let key = p.trim();
    let key = key.strip_prefix("Patient/").unwrap_or(key);
    let key = key.rsplit('|').next().unwrap_or(key);
    let base = base_url(&state, &headers);
    let mut matches = Vec::new();
    let mut includes = Vec::new();
    if let Some(client) = find_client(&state, u.clinic_id(), key).await? {
        let cases = accessible_cases(&state, Importer::User(&u), &client).await?;
        if !cases.is_empty() {
            let pt = patient(
                u.clinic_id(),
                &client.client_id,
                &client.code,
                client.display_name.as_deref(),
                false,
            );
            includes.push((
                format!("Patient/{}", client.client_id),
                serde_json::to_value(pt).map_err(|e| AppError::Internal(e.to_string()))?,
            ));
        }
        for access in &cases {
            for row in state
                .store
                .current_responses(access.clinic_id(), access.case_id(), &client.client_id)
                .await?
            {
                let (qr, obs) = response_resources(&state, access, &row, &client).await?;
                matches.push((format!("QuestionnaireResponse/{}", row.response_id), qr));
                for o in obs {
                    let id = o
                        .get("id")
                        .and_then(|i| i.as_str())
                        .unwrap_or("")
                        .to_owned();
                    includes.push((format!("Observation/{id}"), o));
                }
            }
        }
    }
    Ok(fhir_json(
        StatusCode::OK,
        &bundle::searchset(&base, matches, includes),
    ))
}

/// One QuestionnaireResponse by id.
#[utoipa::path(get, path = "/fhir/QuestionnaireResponse/{response_id}", tag = "fhir",
    params(("response_id" = String, Path)),
    responses(
        (status = 200, description = "The QuestionnaireResponse", body = Object, content_type = "application/fhir+json"),
        (status = 404, description = "OperationOutcome", body = Object, content_type = "application/fhir+json")))]
async fn get_response(
    State(state): State<AppState>,
    u: Result<ApiUser, ApiError>,
    Path(id): Path<String>,
) -> Result<Response, FhirError> {
    let u = user(u)?;
    let (access, row) = actions::response_access(&state, &u, &id).await?;
    let client = match &row.client_id {
        Some(c) => state.store.client_by_id(access.clinic_id(), c).await?,
        None => None,
    }
    .ok_or(AppError::NotFound)?;
    let (qr, _) = response_resources(&state, &access, &row, &client).await?;
    Ok(fhir_json(StatusCode::OK, &qr))
}
