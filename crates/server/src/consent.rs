//! The consent guard: the one server-side check that a client agreed to a kind of use before
//! Bordin does it. Questionnaires (sending a link, entering answers, a client answering a link),
//! transcript analysis, the live co-pilot and research export each ask here first.
//!
//! A client's consent is the latest decision recorded for them in the case (`consent_records`,
//! append-only): no record, or a withdrawal as the latest, refuses the action with a message
//! that names the client (by their code) and the consent.

use bordin_core::goals::ConsentKind;

use crate::error::AppError;
use crate::policy::CaseAccess;
use crate::state::AppState;

/// The words for a kind of consent in messages.
pub fn describe(kind: ConsentKind) -> &'static str {
    match kind {
        ConsentKind::Questionnaires => "answering questionnaires",
        ConsentKind::TranscriptAnalysis => "analysis of session transcripts",
        ConsentKind::LiveCopilot => "the live co-pilot during sessions",
        ConsentKind::ResearchExport => "research export",
    }
}

/// Refuses unless **every** client of the case has `kind` consent in force.
pub async fn require(
    state: &AppState,
    access: &CaseAccess,
    kind: ConsentKind,
) -> Result<(), AppError> {
    let case = state
        .store
        .case(access.clinic_id(), access.case_id())
        .await?;
    for client in &case.clients {
        require_client(state, access, &client.client_id, kind).await?;
    }
    Ok(())
}

/// Refuses unless this client of the case has `kind` consent in force.
pub async fn require_client(
    state: &AppState,
    access: &CaseAccess,
    client_id: &str,
    kind: ConsentKind,
) -> Result<(), AppError> {
    if state
        .store
        .consent_in_force(access.clinic_id(), access.case_id(), client_id, kind)
        .await?
    {
        return Ok(());
    }
    let case = state
        .store
        .case(access.clinic_id(), access.case_id())
        .await?;
    let code = case
        .clients
        .iter()
        .find(|c| c.client_id == client_id)
        .map_or_else(|| client_id.to_owned(), |c| c.code.clone());
    Err(AppError::ConsentRequired {
        client: code,
        consent: describe(kind),
        kind: kind.as_str(),
    })
}
