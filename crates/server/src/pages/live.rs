//! The live co-pilot's page (a second screen during a video session) and the replay page, with
//! their WebSocket upgrades. The page is drawn by `static/copilot.js` (CSP forbids inline
//! script): talk balance, a silence timer, rupture markers as they appear with a one-line
//! suggestion, goals covered so far, and last session's scores for priming.

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use bordin_core::goals::ConsentKind;
use maud::{html, Markup};
use serde::Deserialize;

use super::layout::page;
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::live::{self, PrimingLine};
use crate::policy::{self, CaseAccess};
use crate::state::AppState;

pub const COPILOT_JS: &str = include_str!("../../static/copilot.js");

pub async fn js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        COPILOT_JS,
    )
}

#[derive(Deserialize)]
pub struct LiveQuery {
    #[serde(default)]
    session: String,
    #[serde(default)]
    csrf: String,
}

/// The session of the case named in the query, or "not found".
async fn session_of(
    state: &AppState,
    access: &CaseAccess,
    session_id: &str,
) -> Result<bordin_store::SessionRow, AppError> {
    match state.store.session(access.clinic_id(), session_id).await {
        Ok(s) if s.case_id == access.case_id() => Ok(s),
        _ => Err(AppError::NotFound),
    }
}

fn copilot_page(
    user: &CurrentUser,
    case: &bordin_store::CaseRow,
    session: &bordin_store::SessionRow,
    priming: &[PrimingLine],
    goals: &[bordin_listen::GoalText],
) -> Markup {
    let ws = format!(
        "/cases/{}/live/ws?session={}&csrf={}",
        case.case_id, session.session_id, user.csrf
    );
    html! {
        div.copilot id="copilot" data-ws=(ws) data-mode="live" {
            p.small { a href={ "/cases/" (case.case_id) } { "← " (case.title) } }
            h1 { "Live co-pilot · session " (session.number) }
            p.small.muted id="status" role="status" { "Connecting…" }
            (panels(priming, goals))
            details.card {
                summary { "Type a turn (note-taker)" }
                form id="turn-form" {
                    label.field for="turn-speaker" { "Speaker" }
                    input id="turn-speaker" type="text" name="speaker" required;
                    label.field for="turn-text" { "Words" }
                    input id="turn-text" type="text" name="text" required;
                    p { button type="submit" { "Send turn" } }
                }
            }
            p.small.muted { "No audio reaches Bordin. Markers are prompts to look, found by rule; the client's own ratings remain the measure." }
        }
        script src="/static/copilot.js" {}
    }
}

fn panels(priming: &[PrimingLine], goals: &[bordin_listen::GoalText]) -> Markup {
    html! {
        div.row {
            section.card id="balance" {
                h2 { "Talk balance" }
                div.balance-bar aria-hidden="true" { div id="balance-clinician" {} }
                p id="balance-text" { "No turns yet." }
            }
            section.card id="silence" {
                h2 { "Silence" }
                p.timer id="silence-timer" aria-live="off" { "0:00" }
                p.small.muted id="silence-longest" { "" }
            }
        }
        div.row {
            section.card id="markers" {
                h2 { "Rupture markers" }
                p.small.muted id="markers-empty" { "None so far." }
                ol id="marker-list" aria-live="polite" {}
            }
            section.card id="goals" {
                h2 { "Goals covered so far" }
                @if goals.is_empty() { p.small.muted { "No active goals or agreed tasks on this case." } }
                ul id="goal-list" {
                    @for g in goals { li data-goal=(g.id) { span.goal-mark { "○" } " " (g.text) } }
                }
            }
            section.card id="priming" {
                h2 { "Before this session" }
                @if priming.is_empty() { p.small.muted { "No earlier scores." } }
                ul { @for p in priming { li { (p.sentence) } } }
            }
        }
    }
}

/// `GET /cases/{case_id}/live?session=…`: the co-pilot page, only with live co-pilot consent.
pub async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(case_id): Path<String>,
    Query(q): Query<LiveQuery>,
) -> Result<Response, AppError> {
    let access = policy::case(&state, &user, &case_id).await?;
    crate::consent::require(&state, &access, ConsentKind::LiveCopilot).await?;
    let case = state.store.case(access.clinic_id(), &case_id).await?;
    // Without a session named, the case's latest.
    let session = if q.session.is_empty() {
        let sessions = state.store.sessions(access.clinic_id(), &case_id).await?;
        match sessions.last() {
            Some(s) => s.clone(),
            None => {
                return Ok(page(
                    "Live co-pilot",
                    &user,
                    html! {
                        p.small { a href={ "/cases/" (case_id) } { "← " (case.title) } }
                        h1 { "Live co-pilot" }
                        p.notice { "Add the session on the client's page first; the co-pilot works for one session at a time." }
                    },
                )
                .into_response())
            }
        }
    } else {
        session_of(&state, &access, &q.session).await?
    };
    let priming = live::priming(&state, &access, session.number).await?;
    let context = crate::transcripts::case_context(&state, &access).await?;
    let goals: Vec<_> = context
        .goals
        .iter()
        .chain(&context.tasks)
        .cloned()
        .collect();
    Ok(page(
        "Live co-pilot",
        &user,
        copilot_page(&user, &case, &session, &priming, &goals),
    )
    .into_response())
}

/// `GET /cases/{case_id}/live/ws?session=…&csrf=…`: the session's live socket.
pub async fn socket(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(case_id): Path<String>,
    Query(q): Query<LiveQuery>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Result<Response, AppError> {
    if !live::upgrade_allowed(&state, &user, &headers, &q.csrf) {
        return Err(AppError::Csrf);
    }
    let access = policy::case(&state, &user, &case_id).await?;
    let session = session_of(&state, &access, &q.session).await?;
    crate::consent::require(&state, &access, ConsentKind::LiveCopilot).await?;
    let context = crate::transcripts::case_context(&state, &access).await?;
    let user_id = user.user.user_id.clone();
    // The socket outlives this request's task: it keeps the request's audit context, so the
    // transcript it stores is recorded as the clinician's, from the clinician's address.
    let audit = bordin_store::audit::context();
    Ok(upgrade
        .max_message_size(live::TURN_MESSAGE_LIMIT)
        .on_upgrade(move |socket| async move {
            let work =
                live::serve_session(state, access, session.session_id, user_id, context, socket);
            match audit {
                Some(ctx) => bordin_store::audit::scope(ctx, work).await,
                None => work.await,
            }
        }))
}

/// `GET /live/replay`: stream a transcript file at real speed through the co-pilot, for
/// training. Tied to no client; nothing is stored.
pub async fn replay_page(user: CurrentUser) -> Markup {
    let ws = format!("/live/replay/ws?csrf={}", user.csrf);
    page(
        "Replay",
        &user,
        html! {
            div.copilot id="copilot" data-ws=(ws) data-mode="replay" {
                h1 { "Replay a transcript (training)" }
                p.muted { "Streams a transcript file through the co-pilot at the speed it was spoken (or faster). Nothing is stored." }
                form.card id="replay-form" {
                    label.field for="replay-file" { "Transcript file (WebVTT, SRT, diarised JSON or plain text)" }
                    input id="replay-file" type="file" accept=".vtt,.srt,.json,.txt" required;
                    label.field for="replay-speed" { "Speed" }
                    select id="replay-speed" {
                        @for s in ["1", "2", "4", "8", "16", "64"] { option value=(s) selected[s == "1"] { (s) "×" } }
                    }
                    p { button type="submit" { "Start replay" } }
                }
                p.small.muted id="status" role="status" { "Choose a file." }
                (panels(&[], &[]))
            }
            script src="/static/copilot.js" {}
        },
    )
}

#[derive(Deserialize)]
pub struct CsrfQuery {
    #[serde(default)]
    csrf: String,
}

/// `GET /live/replay/ws?csrf=…`: the replay socket (first message: `{text, format, speed}`).
pub async fn replay_socket(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<CsrfQuery>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Result<Response, AppError> {
    if !live::upgrade_allowed(&state, &user, &headers, &q.csrf) {
        return Err(AppError::Csrf);
    }
    Ok(upgrade
        .max_message_size(crate::transcripts::TRANSCRIPT_LIMIT + 4096)
        .on_upgrade(move |socket| live::serve_replay(state, socket)))
}
