//! The steps behind each user action, shared by the HTML pages and the JSON API so that the
//! two surfaces cannot drift apart. Handlers parse input and render output; everything in
//! between happens here.

use bordin_core::care::{AdministrationStatus, Modality, ResponseSource, SessionStatus};
use bordin_core::registry::Form;
use bordin_core::{AnswerError, Answers, Respondent, Setting};
use bordin_store::{
    AdministrationRow, CaseRow, CaseScoreRow, ClientRow, FlagRow, NewAdministration, NewCase,
    NewResponse, SessionRow, Submitted,
};

use crate::auth::{random_secret, CurrentUser};
use crate::error::AppError;
use crate::policy::CaseAccess;
use crate::state::{now_ms, AppState};

/// What a clinician enters to open a case for a new client.
#[derive(Debug, Clone)]
pub struct NewClientCase {
    pub code: String,
    pub display_name: Option<String>,
    pub setting: Setting,
    /// The uses the client agreed to when the case was opened (recorded by the clinician,
    /// with the case, in the agreements log). Without `questionnaires`, no form can be sent.
    pub consents: Vec<bordin_core::goals::ConsentKind>,
}

/// A field-level problem in a clinician's form, so the page can show it beside the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

pub enum Created<T> {
    Ok(T),
    Invalid(Vec<FieldError>),
}

impl<T> Created<T> {
    /// The field problems, empty when the thing was created.
    pub fn errors(&self) -> &[FieldError] {
        match self {
            Self::Ok(_) => &[],
            Self::Invalid(e) => e,
        }
    }
}

/// The problem with a client code, if any: 1–32 letters, digits, '-' or '_'.
fn code_problem(code: &str) -> Option<FieldError> {
    let ok = (1..=32).contains(&code.chars().count())
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    (!ok).then(|| FieldError {
        field: "code",
        message:
            "Use 1–32 letters, digits, '-' or '_' (a pseudonymous code, not the person's name)."
                .into(),
    })
}

/// Creates a client and a case for them, led by the current user.
pub async fn create_client_case(
    state: &AppState,
    user: &CurrentUser,
    input: &NewClientCase,
) -> Result<Created<(ClientRow, String)>, AppError> {
    let code = input.code.trim();
    let mut errors: Vec<FieldError> = code_problem(code).into_iter().collect();
    let name = input
        .display_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    if name.is_some_and(|n| n.chars().count() > 100) {
        errors.push(FieldError {
            field: "display_name",
            message: "At most 100 characters.".into(),
        });
    }
    if !errors.is_empty() {
        return Ok(Created::Invalid(errors));
    }
    let now = now_ms();
    let client = match state
        .store
        .create_client(user.clinic_id(), code, name, now)
        .await
    {
        Ok(c) => c,
        Err(e) if e.is_unique_violation() => {
            return Ok(Created::Invalid(vec![FieldError {
                field: "code",
                message: format!("The code '{code}' is already in use in this clinic."),
            }]))
        }
        Err(e) => return Err(e.into()),
    };
    let title = name.unwrap_or(code).to_owned();
    let case_id = state
        .store
        .create_case(
            user.clinic_id(),
            &NewCase {
                title: &title,
                setting: input.setting,
                opened_on: &crate::state::today(),
                client_ids: std::slice::from_ref(&client.client_id),
                lead_clinician: &user.user.user_id,
            },
            now,
        )
        .await?;
    for kind in &input.consents {
        state
            .store
            .record_consent(
                user.clinic_id(),
                &case_id,
                &client.client_id,
                *kind,
                true,
                &bordin_store::Change {
                    actor: bordin_store::Actor {
                        role: bordin_core::goals::Rater::Clinician,
                        id: &user.user.user_id,
                    },
                    at: now,
                    reason: Some("recorded when the case was opened"),
                },
            )
            .await?;
    }
    Ok(Created::Ok((client, case_id)))
}

/// Adds a person to a case (a partner, a family member): an existing client by code, or a new
/// client with that code.
pub async fn add_client_to_case(
    state: &AppState,
    access: &CaseAccess,
    code: &str,
    display_name: Option<&str>,
) -> Result<Created<ClientRow>, AppError> {
    let code = code.trim();
    if let Some(problem) = code_problem(code) {
        return Ok(Created::Invalid(vec![problem]));
    }
    let client = match state.store.client_by_code(access.clinic_id(), code).await? {
        Some(c) => c,
        None => {
            let name = display_name.map(str::trim).filter(|n| !n.is_empty());
            state
                .store
                .create_client(access.clinic_id(), code, name, now_ms())
                .await?
        }
    };
    state
        .store
        .add_client_to_case(access.clinic_id(), access.case_id(), &client.client_id)
        .await?;
    Ok(Created::Ok(client))
}

/// Shares a case with another clinician or supervisor of the clinic (co-therapy, cover).
pub async fn share_case(
    state: &AppState,
    access: &CaseAccess,
    user_id: &str,
    role: bordin_core::care::CaseRole,
) -> Result<Created<()>, AppError> {
    match state.store.user(access.clinic_id(), user_id).await {
        Ok(u) if u.active && u.role != bordin_core::care::Role::Admin => {}
        _ => {
            return Ok(Created::Invalid(vec![FieldError {
                field: "user",
                message: "Choose an active clinician or supervisor of this clinic.".into(),
            }]))
        }
    }
    state
        .store
        .add_clinician_to_case(access.clinic_id(), access.case_id(), user_id, role)
        .await?;
    Ok(Created::Ok(()))
}

/// Adds the next session to a case.
pub async fn add_session(
    state: &AppState,
    access: &CaseAccess,
    held_on: &str,
    modality: Modality,
    status: SessionStatus,
) -> Result<Created<SessionRow>, AppError> {
    if !bordin_core::goals::is_calendar_date(held_on) {
        return Ok(Created::Invalid(vec![FieldError {
            field: "held_on",
            message: "Enter the date as YYYY-MM-DD.".into(),
        }]));
    }
    let session = state
        .store
        .add_session(
            access.clinic_id(),
            access.case_id(),
            held_on,
            modality,
            status,
            now_ms(),
        )
        .await?;
    crate::monitor::after_change(state, access.clinic_id(), access.case_id()).await;
    Ok(Created::Ok(session))
}

/// Which session a form belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionChoice {
    None,
    Existing(String),
    /// Record a new attended session dated today and attach the form to it.
    NewToday(Modality),
    /// The case's session held on this date (`YYYY-MM-DD`), or a new attended one on it (answers
    /// imported from another system say when, not which session).
    OnDate(String),
}

/// A form sent as a link: the secret is only in `path`; the database keeps its hash.
#[derive(Debug, Clone)]
pub struct SentLink {
    pub administration: AdministrationRow,
    /// `/f/{clinic}/{secret}`: the whole link is the base URL plus this.
    pub path: String,
}

async fn resolve_session(
    state: &AppState,
    access: &CaseAccess,
    choice: &SessionChoice,
) -> Result<Option<SessionRow>, AppError> {
    Ok(match choice {
        SessionChoice::None => None,
        SessionChoice::Existing(id) => {
            let s = state
                .store
                .session(access.clinic_id(), id)
                .await
                .map_err(|_| {
                    AppError::BadRequest("That session is not part of this case.".into())
                })?;
            if s.case_id != access.case_id() {
                return Err(AppError::BadRequest(
                    "That session is not part of this case.".into(),
                ));
            }
            Some(s)
        }
        SessionChoice::NewToday(modality) => Some(
            state
                .store
                .add_session(
                    access.clinic_id(),
                    access.case_id(),
                    &crate::state::today(),
                    *modality,
                    SessionStatus::Attended,
                    now_ms(),
                )
                .await?,
        ),
        SessionChoice::OnDate(date) => {
            let held = state
                .store
                .sessions(access.clinic_id(), access.case_id())
                .await?
                .into_iter()
                .find(|s| &s.held_on == date);
            match held {
                Some(s) => Some(s),
                None => Some(
                    state
                        .store
                        .add_session(
                            access.clinic_id(),
                            access.case_id(),
                            date,
                            Modality::InPerson,
                            SessionStatus::Attended,
                            now_ms(),
                        )
                        .await?,
                ),
            }
        }
    })
}

/// Creates a link through which the case's client fills an instrument.
///
/// Refused, with the reason and the fix, when the instrument cannot be put in front of a
/// client (e.g. the licence-gated WAI-SR without an installed text pack).
pub async fn send_form(
    state: &AppState,
    user: &CurrentUser,
    access: &CaseAccess,
    instrument_id: &str,
    session: &SessionChoice,
    client_id: Option<&str>,
) -> Result<SentLink, AppError> {
    let registry = state.registry(access.clinic_id()).await?;
    let case = state
        .store
        .case(access.clinic_id(), access.case_id())
        .await?;
    let form = registry
        .form(instrument_id, &case.setting.words())
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    if form.instrument.respondent == Respondent::Therapist {
        return Err(AppError::BadRequest(format!(
            "{} is filled by the {}, not sent to the client.",
            form.instrument.short_title,
            case.setting.words().helper
        )));
    }
    // Each person in a couple or family answers through their own link.
    let client_id = match client_id.filter(|c| !c.is_empty()) {
        Some(id) => Some(
            case.clients
                .iter()
                .find(|c| c.client_id == id)
                .ok_or_else(|| {
                    AppError::BadRequest("That client is not part of this case.".into())
                })?
                .client_id
                .clone(),
        ),
        None => case.clients.first().map(|c| c.client_id.clone()),
    };
    if let Some(id) = &client_id {
        crate::consent::require_client(
            state,
            access,
            id,
            bordin_core::goals::ConsentKind::Questionnaires,
        )
        .await?;
    }
    let session = resolve_session(state, access, session).await?;
    let secret = random_secret();
    let token_hash = bordin_store::hash_secret(&secret);
    let now = now_ms();
    let administration = state
        .store
        .create_administration(
            access.clinic_id(),
            &NewAdministration {
                case_id: access.case_id(),
                session_id: session.as_ref().map(|s| s.session_id.as_str()),
                client_id: client_id.as_deref(),
                instrument: &form.instrument,
                respondent: form.instrument.respondent,
                token_hash: Some(&token_hash),
                expires_at: Some(now + state.config.link_ttl_hours * 3_600_000),
                created_by: &user.user.user_id,
            },
            now,
        )
        .await?;
    Ok(SentLink {
        path: format!("/f/{}/{}", access.clinic_id(), secret),
        administration,
    })
}

/// What a client link leads to.
#[allow(clippy::large_enum_variant)] // built once per request; boxing buys nothing
#[derive(Clone)]
pub enum LinkState {
    Open {
        administration: AdministrationRow,
        form: Form,
    },
    /// Already answered: the first answers stand.
    Completed,
    /// Unknown, guessed, expired, cancelled or malformed: all look the same from outside.
    Invalid,
}

/// A link the route guard already opened for this request (a request extension), so that the
/// handler does not look it up a second time.
#[derive(Clone)]
pub struct OpenedLink {
    clinic_id: String,
    secret: String,
    state: LinkState,
}

impl OpenedLink {
    pub fn new(clinic_id: &str, secret: &str, state: LinkState) -> Self {
        Self {
            clinic_id: clinic_id.to_owned(),
            secret: secret.to_owned(),
            state,
        }
    }

    /// Whether this link was opened as this decision (an open form), rather than refused.
    pub fn is_valid(&self) -> bool {
        !matches!(self.state, LinkState::Invalid)
    }
}

/// The link's state: the guard's answer when it opened this very link in this request, else
/// looked up now.
pub async fn link_state(
    state: &AppState,
    clinic_id: &str,
    secret: &str,
    opened: Option<OpenedLink>,
) -> Result<LinkState, AppError> {
    match opened {
        Some(o) if o.clinic_id == clinic_id && o.secret == secret => Ok(o.state),
        _ => open_link(state, clinic_id, secret).await,
    }
}

pub async fn open_link(
    state: &AppState,
    clinic_id: &str,
    secret: &str,
) -> Result<LinkState, AppError> {
    if secret.len() != 22 || clinic_id.len() > 64 {
        return Ok(LinkState::Invalid);
    }
    // One read: the administration, its case's setting, its client's consent and the pack.
    let Some(link) = state
        .store
        .link_by_token(clinic_id, &bordin_store::hash_secret(secret))
        .await?
    else {
        return Ok(LinkState::Invalid);
    };
    let adm = link.administration;
    match adm.status {
        AdministrationStatus::Completed => return Ok(LinkState::Completed),
        AdministrationStatus::Cancelled => return Ok(LinkState::Invalid),
        AdministrationStatus::Pending => {}
    }
    if adm.expires_at.is_some_and(|t| now_ms() >= t) {
        return Ok(LinkState::Invalid);
    }
    // A client who withdrew consent to questionnaires after the link was sent: the link closes.
    if adm.client_id.is_some() && !link.questionnaire_consent {
        return Ok(LinkState::Invalid);
    }
    // The link is the actor from here on (its administration id, never the secret).
    crate::audit::link_read(
        state,
        clinic_id,
        &adm.administration_id,
        "administration",
        &adm.administration_id,
        &adm.case_id,
    )
    .await?;
    match state.form_with_pack(
        &adm.instrument_id,
        &link.setting.words(),
        link.pack.as_deref(),
    )? {
        Ok(form) => Ok(LinkState::Open {
            administration: adm,
            form,
        }),
        // The pack was removed after the link was sent: nothing can be shown.
        Err(_) => Ok(LinkState::Invalid),
    }
}

/// The result of a submission.
#[allow(clippy::large_enum_variant)]
pub enum SubmitOutcome {
    Stored {
        response_id: String,
    },
    /// The same link was submitted before: nothing new stored.
    AlreadyStored {
        response_id: String,
    },
    /// Answers to fix; the form and what was entered are returned for re-rendering.
    Invalid {
        form: Form,
        errors: Vec<AnswerError>,
    },
    LinkInvalid,
}

/// Validates answers against a form: ranges, unknown items, required items.
fn check_answers(form: &Form, pairs: &[(String, String)]) -> Result<Answers, Vec<AnswerError>> {
    let answers = Answers::parse(
        &form.instrument,
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    )?;
    let missing = answers.missing_required(&form.instrument);
    if missing.is_empty() {
        Ok(answers)
    } else {
        Err(missing)
    }
}

/// Stores a client's answers given through a link: scored, stored once, with its flags.
pub async fn submit_link(
    state: &AppState,
    clinic_id: &str,
    secret: &str,
    pairs: &[(String, String)],
    opened: Option<OpenedLink>,
) -> Result<SubmitOutcome, AppError> {
    let (adm, form) = match link_state(state, clinic_id, secret, opened).await? {
        LinkState::Open {
            administration,
            form,
        } => (administration, form),
        LinkState::Completed => {
            let adm = state
                .store
                .administration_by_token(clinic_id, &bordin_store::hash_secret(secret))
                .await?
                .ok_or(AppError::NotFound)?;
            let id = state
                .store
                .response_id_of_administration(clinic_id, &adm.administration_id)
                .await?;
            return Ok(SubmitOutcome::AlreadyStored { response_id: id });
        }
        LinkState::Invalid => return Ok(SubmitOutcome::LinkInvalid),
    };
    let answers = match check_answers(&form, pairs) {
        Ok(a) => a,
        Err(errors) => return Ok(SubmitOutcome::Invalid { form, errors }),
    };
    let sheet = form.instrument.score(&answers);
    let (submitted, series) = state
        .store
        .submit_response_and_series(
            clinic_id,
            &NewResponse {
                administration_id: Some(&adm.administration_id),
                case_id: &adm.case_id,
                session_id: adm.session_id.as_deref(),
                client_id: adm.client_id.as_deref(),
                instrument: &form.instrument,
                respondent: adm.respondent,
                answers: &answers,
                sheet: &sheet,
                submitted_at: now_ms(),
                entered_by: &format!("link:{}", adm.administration_id),
                source: ResponseSource::Link,
            },
        )
        .await?;
    Ok(match submitted {
        Submitted::Stored { response_id } => {
            state.metrics.form_submitted("link");
            crate::monitor::after_submission(state, clinic_id, &adm.case_id, series).await;
            SubmitOutcome::Stored { response_id }
        }
        Submitted::AlreadyStored { response_id } => SubmitOutcome::AlreadyStored { response_id },
    })
}

/// The form a clinician fills in the app: their own rating (e.g. WAI-SRT), or a client's
/// answers given on paper.
pub async fn clinician_form(
    state: &AppState,
    access: &CaseAccess,
    instrument_id: &str,
) -> Result<Form, AppError> {
    let registry = state.registry(access.clinic_id()).await?;
    let case = state
        .store
        .case(access.clinic_id(), access.case_id())
        .await?;
    registry
        .form(instrument_id, &case.setting.words())
        .map_err(|e| AppError::BadRequest(e.to_string()))
}

/// Stores answers entered by a clinician for a session of the case.
pub async fn submit_clinician(
    state: &AppState,
    user: &CurrentUser,
    access: &CaseAccess,
    instrument_id: &str,
    session: &SessionChoice,
    pairs: &[(String, String)],
) -> Result<SubmitOutcome, AppError> {
    let form = clinician_form(state, access, instrument_id).await?;
    // A client's own answers (e.g. on paper) need their consent; the clinician's own rating
    // of the session does not.
    if form.instrument.respondent != Respondent::Therapist {
        crate::consent::require(
            state,
            access,
            bordin_core::goals::ConsentKind::Questionnaires,
        )
        .await?;
    }
    let answers = match check_answers(&form, pairs) {
        Ok(a) => a,
        Err(errors) => return Ok(SubmitOutcome::Invalid { form, errors }),
    };
    let case = state
        .store
        .case(access.clinic_id(), access.case_id())
        .await?;
    let client_id = case.clients.first().map(|c| c.client_id.clone());
    let response_id = record_answers(
        state,
        access,
        &form.instrument,
        &answers,
        &Recording {
            session,
            client_id: client_id.as_deref(),
            entered_by: &user.user.user_id,
            source: ResponseSource::Clinician,
        },
    )
    .await?;
    Ok(SubmitOutcome::Stored { response_id })
}

/// Who and what a response that arrives without a link is recorded with.
pub struct Recording<'a> {
    pub session: &'a SessionChoice,
    pub client_id: Option<&'a str>,
    pub entered_by: &'a str,
    pub source: ResponseSource,
}

/// Scores valid answers, stores the response with its scores and flags (one transaction), and
/// evaluates the case so that its alerts are raised: the one path for answers entered by a
/// clinician or imported (FHIR), so both are scored and alerted exactly as the native form.
pub async fn record_answers(
    state: &AppState,
    access: &CaseAccess,
    instrument: &bordin_core::Instrument,
    answers: &Answers,
    rec: &Recording<'_>,
) -> Result<String, AppError> {
    let session = resolve_session(state, access, rec.session).await?;
    let sheet = instrument.score(answers);
    let (submitted, series) = state
        .store
        .submit_response_and_series(
            access.clinic_id(),
            &NewResponse {
                administration_id: None,
                case_id: access.case_id(),
                session_id: session.as_ref().map(|s| s.session_id.as_str()),
                client_id: rec.client_id,
                instrument,
                respondent: instrument.respondent,
                answers,
                sheet: &sheet,
                submitted_at: now_ms(),
                entered_by: rec.entered_by,
                source: rec.source,
            },
        )
        .await?;
    state.metrics.form_submitted("clinician");
    crate::monitor::after_submission(state, access.clinic_id(), access.case_id(), series).await;
    Ok(submitted.response_id().to_owned())
}

/// Everything the client page shows.
pub struct CaseView {
    pub case: CaseRow,
    pub sessions: Vec<SessionRow>,
    pub scores: Vec<CaseScoreRow>,
    pub flags: Vec<(String, FlagRow)>,
    pub pending: Vec<AdministrationRow>,
    /// Clinicians and supervisors of the clinic (to share the case with).
    pub staff: Vec<bordin_store::UserRow>,
    /// Monitored scores per subject, the signals evaluated from them now, the alerts raised,
    /// and the rules used (for charts: reliable change, expected band).
    pub series: bordin_store::CaseSeries,
    pub signals: Vec<(String, bordin_core::monitoring::signals::Signal)>,
    pub alerts: Vec<bordin_store::AlertRow>,
    pub rules: std::sync::Arc<bordin_core::monitoring::signals::Rules>,
    /// Transcripts per session and goals not talked about lately (listed, never alerted).
    pub listening: crate::transcripts::CaseListening,
}

pub async fn case_view(state: &AppState, access: &CaseAccess) -> Result<CaseView, AppError> {
    let (c, k) = (access.clinic_id(), access.case_id());
    let now = now_ms();
    let series = state.store.case_series(c, k).await?;
    let rules = crate::monitor::rules(state, c).await?;
    let signals = crate::monitor::case_signals(&series, &rules);
    Ok(CaseView {
        listening: crate::transcripts::case_listening(state, access).await?,
        series,
        signals,
        rules,
        case: state.store.case(c, k).await?,
        sessions: state.store.sessions(c, k).await?,
        scores: state.store.case_scores(c, k).await?,
        flags: state.store.case_flags(c, k).await?,
        alerts: state.store.alerts(c, Some(k), &[]).await?,
        staff: state
            .store
            .users(c)
            .await?
            .into_iter()
            .filter(|u| u.active && u.role != bordin_core::care::Role::Admin)
            .collect(),
        pending: state
            .store
            .administrations_of_case(c, k)
            .await?
            .into_iter()
            .filter(|a| {
                a.status == AdministrationStatus::Pending && a.expires_at.is_none_or(|t| t > now)
            })
            .collect(),
    })
}

/// A stored response the user may see, with its case capability.
pub async fn response_access(
    state: &AppState,
    user: &CurrentUser,
    response_id: &str,
) -> Result<(CaseAccess, bordin_store::ResponseRow), AppError> {
    let response = state
        .store
        .response(user.clinic_id(), response_id)
        .await
        .map_err(|_| AppError::NotFound)?;
    let access = crate::policy::case(state, user, &response.case_id).await?;
    Ok((access, response))
}

/// One stored response with its correction history and its scores recomputed from the
/// stored answers by the core (the same pure function that scored it on arrival).
pub struct ResponseView {
    pub history: Vec<bordin_store::ResponseRow>,
    pub shown: bordin_store::ResponseRow,
    pub instrument: std::sync::Arc<bordin_core::Instrument>,
    /// The form with wording, when it can be shown (not for a licence-gated one without a pack).
    pub form: Option<Form>,
    pub answers: Answers,
    pub sheet: bordin_core::ScoreSheet,
}

impl ResponseView {
    pub fn is_latest(&self) -> bool {
        self.history
            .last()
            .is_some_and(|r| r.response_id == self.shown.response_id)
    }
}

pub async fn response_view(
    state: &AppState,
    access: &CaseAccess,
    shown: bordin_store::ResponseRow,
) -> Result<ResponseView, AppError> {
    let registry = state.registry(access.clinic_id()).await?;
    let instrument = registry.get(&shown.instrument_id).cloned().ok_or_else(|| {
        AppError::Internal(format!(
            "instrument {} is no longer installed",
            shown.instrument_id
        ))
    })?;
    let case = state
        .store
        .case(access.clinic_id(), access.case_id())
        .await?;
    let form = registry
        .form(&shown.instrument_id, &case.setting.words())
        .ok();
    let answers = Answers::parse(
        &instrument,
        shown.answers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    )
    .map_err(|e| {
        AppError::Internal(format!(
            "stored answers of {} do not fit {}: {e:?}",
            shown.response_id, instrument.id
        ))
    })?;
    let sheet =
        if shown.source == bordin_core::care::ResponseSource::Import && shown.answers.is_empty() {
            // A historical import brings scores without item answers: show what was stored,
            // rather than "not scored" from an empty set of answers.
            let stored = state
                .store
                .stored_scores(access.clinic_id(), &shown.response_id)
                .await?;
            imported_sheet(&instrument, &stored)
        } else {
            instrument.score(&answers)
        };
    let history = state
        .store
        .response_history(access.clinic_id(), &shown.response_id)
        .await?;
    Ok(ResponseView {
        history,
        shown,
        instrument,
        form,
        answers,
        sheet,
    })
}

/// The score sheet of a response known only by its stored scores (a historical import).
fn imported_sheet(
    instrument: &bordin_core::Instrument,
    stored: &[bordin_store::StoredScore],
) -> bordin_core::ScoreSheet {
    let scales = instrument
        .scales
        .iter()
        .map(|def| {
            let row = stored.iter().find(|s| s.scale_id == def.id);
            bordin_core::ScaleScore {
                value: row
                    .and_then(|s| s.exact.as_deref())
                    .and_then(|e| e.parse::<bordin_core::Value>().ok()),
                answered: row.map_or(0, |s| u32::try_from(s.answered).unwrap_or(0)),
                missing: row.map_or(0, |s| u32::try_from(s.missing).unwrap_or(0)),
                band: row
                    .and_then(|s| s.band.as_deref())
                    .and_then(|label| def.bands.iter().position(|b| b.label == label)),
            }
        })
        .collect();
    bordin_core::ScoreSheet {
        scales,
        flags: Vec::new(),
        missing: 0,
    }
}

/// The outcome of a correction.
pub enum CorrectOutcome {
    Stored { response_id: String },
    Invalid { errors: Vec<AnswerError> },
    NeedsReason,
}

/// Records corrected answers as a new version of a response; the old version is kept as it was.
pub async fn correct_response(
    state: &AppState,
    user: &CurrentUser,
    access: &CaseAccess,
    old: &bordin_store::ResponseRow,
    pairs: &[(String, String)],
    reason: &str,
) -> Result<CorrectOutcome, AppError> {
    if reason.trim().is_empty() {
        return Ok(CorrectOutcome::NeedsReason);
    }
    let registry = state.registry(access.clinic_id()).await?;
    let instrument = registry
        .get(&old.instrument_id)
        .cloned()
        .ok_or(AppError::NotFound)?;
    let answers = match Answers::parse(
        &instrument,
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    ) {
        Ok(a) => a,
        Err(errors) => return Ok(CorrectOutcome::Invalid { errors }),
    };
    let sheet = instrument.score(&answers);
    let id = state
        .store
        .correct_response(
            access.clinic_id(),
            &old.response_id,
            reason.trim(),
            &NewResponse {
                administration_id: old.administration_id.as_deref(),
                case_id: &old.case_id,
                session_id: old.session_id.as_deref(),
                client_id: old.client_id.as_deref(),
                instrument: &instrument,
                respondent: old.respondent,
                answers: &answers,
                sheet: &sheet,
                submitted_at: now_ms(),
                entered_by: &user.user.user_id,
                source: ResponseSource::Clinician,
            },
        )
        .await?;
    crate::monitor::after_change(state, access.clinic_id(), access.case_id()).await;
    Ok(CorrectOutcome::Stored { response_id: id })
}
