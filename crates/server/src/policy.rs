//! Access control: the one place that decides who may see or change which record.
//!
//! Deny by default. A decision returns a capability ([`CaseAccess`]) that handlers need in order
//! to read or write a case; it can only be made here, so a handler that forgot to ask does not
//! compile. Rules (every decision is recorded in the audit trail):
//! - an admin may access every case of their clinic;
//! - a clinician may access the cases they are a clinician on;
//! - a supervisor may access their own cases and those of the clinicians they supervise;
//! - nobody crosses clinics: every lookup is keyed by the user's own clinic id, so another
//!   clinic's case id is simply not found.

use bordin_core::care::Role;
use bordin_store::Outcome;

use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::state::AppState;

/// Proof that the current user may access a case of their clinic.
#[derive(Debug, Clone)]
pub struct CaseAccess {
    clinic_id: String,
    case_id: String,
}

impl CaseAccess {
    pub fn clinic_id(&self) -> &str {
        &self.clinic_id
    }
    pub fn case_id(&self) -> &str {
        &self.case_id
    }
}

/// Decides whether `user` may access `case_id`. Unknown and forbidden cases get the same
/// answer (not found), so ids of other people's cases cannot be probed.
pub async fn case(
    state: &AppState,
    user: &CurrentUser,
    case_id: &str,
) -> Result<CaseAccess, AppError> {
    let clinic_id = user.clinic_id();
    let allowed = match user.user.role {
        Role::Admin => state.store.case(clinic_id, case_id).await.is_ok(),
        Role::Clinician => {
            state
                .store
                .is_clinician_on(clinic_id, case_id, &user.user.user_id)
                .await?
        }
        Role::Supervisor => {
            if state
                .store
                .is_clinician_on(clinic_id, case_id, &user.user.user_id)
                .await?
            {
                true
            } else {
                let mut any = false;
                for clinician in state
                    .store
                    .supervisees(clinic_id, &user.user.user_id)
                    .await?
                {
                    if state
                        .store
                        .is_clinician_on(clinic_id, case_id, &clinician)
                        .await?
                    {
                        any = true;
                        break;
                    }
                }
                any
            }
        }
    };
    // Every decision is audited, granted or denied, with the request's actor and source: a
    // handler cannot hold a `CaseAccess` whose read was not recorded.
    let outcome = if allowed {
        Outcome::Ok
    } else {
        Outcome::Denied
    };
    crate::audit::read(state, clinic_id, "case", case_id, Some(case_id), outcome).await?;
    if allowed {
        Ok(CaseAccess {
            clinic_id: clinic_id.to_owned(),
            case_id: case_id.to_owned(),
        })
    } else {
        Err(AppError::NotFound)
    }
}

/// Access for the operator's command line (`bordin fhir import`, run by whoever holds the
/// database and its file permissions, like a clinic admin): any case of the named clinic, still
/// never another clinic's. Not reachable from HTTP: no request carries a clinic id this way.
pub async fn operator_case(
    state: &AppState,
    clinic_id: &str,
    case_id: &str,
) -> Result<CaseAccess, AppError> {
    state
        .store
        .case(clinic_id, case_id)
        .await
        .map_err(|_| AppError::NotFound)?;
    Ok(CaseAccess {
        clinic_id: clinic_id.to_owned(),
        case_id: case_id.to_owned(),
    })
}

/// The cases on a user's caseload page: their own; a supervisor's also their supervisees';
/// an admin's every case of the clinic.
pub async fn caseload(state: &AppState, user: &CurrentUser) -> Result<Vec<String>, AppError> {
    let ids = visible_case_ids(state, &user.user).await?;
    // A caseload shows client codes and scores of many cases: one entry for the list.
    crate::audit::read(
        state,
        user.clinic_id(),
        "caseload",
        &user.user.user_id,
        None,
        Outcome::Ok,
    )
    .await?;
    Ok(ids)
}

/// The ids of the cases a user may see (the same rules as [`case`], for lists).
pub async fn visible_case_ids(
    state: &AppState,
    user: &bordin_store::UserRow,
) -> Result<Vec<String>, AppError> {
    let clinic_id = &user.clinic_id;
    let me = &user.user_id;
    let mut ids = state.store.case_ids_of_clinician(clinic_id, me).await?;
    match user.role {
        Role::Clinician => {}
        Role::Supervisor => {
            for clinician in state.store.supervisees(clinic_id, me).await? {
                ids.extend(
                    state
                        .store
                        .case_ids_of_clinician(clinic_id, &clinician)
                        .await?,
                );
            }
        }
        Role::Admin => {
            ids = state.store.all_case_ids(clinic_id).await?;
        }
    }
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// The path parameters that name a case or an object inside one, in the order they are tried.
/// A `CaseRead`/`CaseWrite` route must have one of them (checked when the route table is built).
pub const CASE_OBJECT_PARAMS: &[&str] =
    &["case_id", "goal_id", "task_id", "alert_id", "response_id"];

/// The access decision of the route table for `CaseRead`/`CaseWrite` routes: finds the case the
/// path names (directly or through one of its objects) and asks [`case`]. An object of another
/// clinic, or of a case the user may not see, is "not found", exactly like a missing one.
pub async fn case_of_object(
    state: &AppState,
    user: &CurrentUser,
    params: &[(&str, &str)],
) -> Result<CaseAccess, AppError> {
    let clinic = user.clinic_id();
    let found = |name: &str| params.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
    let not_found = |_| AppError::NotFound;
    let case_id = if let Some(id) = found("case_id") {
        Ok(id.to_owned())
    } else if let Some(id) = found("goal_id") {
        state
            .store
            .goal(clinic, id)
            .await
            .map(|r| r.case_id)
            .map_err(not_found)
    } else if let Some(id) = found("task_id") {
        state
            .store
            .task(clinic, id)
            .await
            .map(|r| r.case_id)
            .map_err(not_found)
    } else if let Some(id) = found("alert_id") {
        state
            .store
            .alert(clinic, id)
            .await
            .map(|r| r.case_id)
            .map_err(not_found)
    } else if let Some(id) = found("response_id") {
        state
            .store
            .response(clinic, id)
            .await
            .map(|r| r.case_id)
            .map_err(not_found)
    } else {
        return Err(AppError::NotFound);
    };
    // An object that is not in the user's clinic: a denied access, recorded as such.
    let case_id = match case_id {
        Ok(c) => c,
        Err(e) => {
            if let Some((kind, id)) = params.iter().find(|(k, _)| CASE_OBJECT_PARAMS.contains(k)) {
                let kind = kind.trim_end_matches("_id");
                crate::audit::read(state, clinic, kind, id, None, Outcome::Denied).await?;
            }
            return Err(e);
        }
    };
    case(state, user, &case_id).await
}

/// The supervision overview: supervisors and admins.
pub fn require_supervisor(user: &CurrentUser) -> Result<(), AppError> {
    if matches!(user.user.role, Role::Supervisor | Role::Admin) {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

/// Only admins install text packs and manage users.
pub fn require_admin(user: &CurrentUser) -> Result<(), AppError> {
    if user.user.role == Role::Admin {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

/// The access decision of the route table for `ClientLink` routes: is the secret in the path a
/// live link, and does every object the path names (a goal, a task) belong to its case?
///
/// `/g/…` paths are the client's goals links (`case_links`); every other link route is a
/// questionnaire link (`administrations`): completed ones still answer ("thank you"), unknown,
/// malformed, expired, cancelled and consent-withdrawn ones do not.
pub async fn client_link(
    state: &AppState,
    path: &str,
    params: &[(&str, &str)],
    opened: &mut axum::http::Extensions,
) -> Result<bool, AppError> {
    let found = |name: &str| params.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
    let (Some(clinic), Some(secret)) = (found("clinic_id"), found("secret")) else {
        return Ok(false);
    };
    if !path.starts_with("/g/") {
        let link = crate::actions::OpenedLink::new(
            clinic,
            secret,
            crate::actions::open_link(state, clinic, secret).await?,
        );
        let valid = link.is_valid();
        // The handler reuses what was looked up here.
        if valid {
            opened.insert(link);
        }
        return Ok(valid);
    }
    let Some(scope) = crate::goals::open_client_link(state, clinic, secret).await? else {
        return Ok(false);
    };
    if let Some(goal) = found("goal_id") {
        match state.store.goal(scope.clinic_id(), goal).await {
            Ok(g) if g.case_id == scope.case_id() => {}
            _ => return Ok(false),
        }
    }
    if let Some(task) = found("task_id") {
        match state.store.task(scope.clinic_id(), task).await {
            Ok(t) if t.case_id == scope.case_id() => {}
            _ => return Ok(false),
        }
    }
    Ok(true)
}

// ---------------------------------------------------------------------------------------------
// API tokens
//
// A token acts with the rights of the user it was issued for: every rule above applies to it
// unchanged (`case`, `caseload`, `require_admin` see that user), so a token can never reach more
// than its user could, and deactivating the user stops the token. Its scope narrows further:
// `read` allows safe methods only, `write` also state-changing ones. A token is bound to its
// clinic (the clinic id is part of the token and of every lookup). Managing tokens and erasing
// or exporting a person's data need a person at a login session: no token can do them, so a
// leaked token cannot mint others or remove records.

/// GET, HEAD and OPTIONS change nothing.
pub fn is_safe_method(method: &axum::http::Method) -> bool {
    use axum::http::Method;
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether a token of this scope may make a request with this method.
pub fn token_may(
    scope: bordin_store::TokenScope,
    method: &axum::http::Method,
) -> Result<(), AppError> {
    match scope {
        bordin_store::TokenScope::Write => Ok(()),
        bordin_store::TokenScope::Read if is_safe_method(method) => Ok(()),
        bordin_store::TokenScope::Read => Err(AppError::Forbidden(
            "this API token has the read scope: it may only read (GET)".into(),
        )),
    }
}

/// An admin at a login session (not an API token): for managing tokens and for a person's
/// export and erasure.
pub fn require_admin_in_person(user: &CurrentUser) -> Result<(), AppError> {
    require_admin(user)?;
    match user.via {
        crate::auth::Credential::Session => Ok(()),
        crate::auth::Credential::Token { .. } => Err(AppError::Forbidden(
            "API tokens cannot manage tokens or export or erase a person's data; log in as an admin".into(),
        )),
    }
}
