//! Transcripts on the clinician's pages: upload a file to a session, say who each speaker is
//! when the case's names do not tell, read the report (timeline, markers with their evidence,
//! goal coverage) beside the client's own ratings, and the case page's list of them.

use std::collections::BTreeMap;

use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use bordin_listen::{Analysis, Estimate, Role};
use bordin_store::{SessionRow, TranscriptStatus};
use maud::{html, Markup};
use serde::Deserialize;

use super::layout::page;
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::policy::{self, CaseAccess};
use crate::state::{format_ms, AppState};
use crate::transcripts::{self as tr, CaseListening, Upload, Uploaded};

const ROLES: [(Role, &str); 3] = [
    (Role::Clinician, "clinician"),
    (Role::Client, "client"),
    (Role::OtherClient, "other client"),
];

fn role_words(r: Option<Role>) -> &'static str {
    match r {
        Some(Role::Clinician) => "clinician",
        Some(Role::Client) => "client",
        Some(Role::OtherClient) => "other client",
        None => "unknown",
    }
}

fn pct(x: Option<f64>) -> String {
    x.map_or("—".into(), |v| format!("{:.0}%", v * 100.0))
}

fn clock(seconds: Option<f64>) -> String {
    match seconds {
        Some(s) if s.is_finite() && s >= 0.0 => {
            let s = s.round() as i64;
            format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
        }
        _ => "—".into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Upload

/// What the upload form shows again after a problem.
#[derive(Default)]
struct Kept {
    session: String,
    format: String,
    text: String,
    errors: Vec<(&'static str, String)>,
}

async fn upload_page(
    state: &AppState,
    user: &CurrentUser,
    access: &CaseAccess,
    kept: &Kept,
) -> Result<Markup, AppError> {
    let case = state
        .store
        .case(access.clinic_id(), access.case_id())
        .await?;
    let sessions = state
        .store
        .sessions(access.clinic_id(), access.case_id())
        .await?;
    let days = state
        .store
        .transcript_retention_days(access.clinic_id())
        .await?;
    let chosen = if kept.session.is_empty() {
        sessions
            .last()
            .map(|s| s.session_id.clone())
            .unwrap_or_default()
    } else {
        kept.session.clone()
    };
    let error_of = |field: &str| -> Vec<&String> {
        kept.errors
            .iter()
            .filter(|(f, _)| *f == field)
            .map(|(_, m)| m)
            .collect()
    };
    let case_id = access.case_id();
    Ok(page(
        "Upload a transcript",
        user,
        html! {
            p.small { a href={ "/cases/" (case_id) } { "← " (case.title) } }
            h1 { "Upload a transcript" }
            p.muted { "WebVTT (Zoom, Teams), SRT, diarised JSON (WhisperX) or plain text with " code { "Speaker: text" } " lines. "
                "Up to " (tr::TRANSCRIPT_LIMIT >> 20) " MiB. The words are kept " (days) " days, then deleted; the summary numbers stay. Nothing leaves this server." }
            @if !kept.errors.is_empty() {
                div.notice.urgent role="alert" id="upload-problems" {
                    p { strong { "The transcript could not be used:" } }
                    ul { @for (field, m) in &kept.errors { li { (field) ": " (m) } } }
                }
            }
            @if sessions.is_empty() {
                p.notice { "Add the session on the client's page first." }
            } @else {
                form.card method="post" action={ "/cases/" (case_id) "/transcripts" } enctype="multipart/form-data" {
                    input type="hidden" name="csrf" value=(user.csrf);
                    label.field for="session" { "Session" }
                    select id="session" name="session" {
                        @for s in sessions.iter().rev() {
                            option value=(s.session_id) selected[s.session_id == chosen] { "Session " (s.number) " · " (s.held_on) }
                        }
                    }
                    @for e in error_of("session") { p.small.error { (e) } }
                    label.field for="format" { "Format" }
                    select id="format" name="format" {
                        @for (v, label) in [("auto", "Detect from the file"), ("vtt", "WebVTT"), ("srt", "SRT"), ("json", "Diarised JSON"), ("txt", "Plain text")] {
                            option value=(v) selected[kept.format == v || (kept.format.is_empty() && v == "auto")] { (label) }
                        }
                    }
                    @for e in error_of("format") { p.small.error { (e) } }
                    label.field for="file" { "Transcript file" }
                    input id="file" type="file" name="file" accept=".vtt,.srt,.json,.txt,text/vtt,text/plain,application/json";
                    label.field for="text" { "…or paste its text" }
                    textarea id="text" name="text" rows="8" { (kept.text) }
                    @for e in error_of("text") { p.small.error id="text-error" { (e) } }
                    @if !kept.text.is_empty() { p.small.muted { "What you sent is in the box above: correct it there, or choose the file again." } }
                    p { button type="submit" { "Upload and analyse" } }
                }
            }
            @if user.user.role == bordin_core::care::Role::Admin {
                form.card method="post" action="/transcripts/retention" {
                    h2 { "Retention (whole clinic)" }
                    input type="hidden" name="csrf" value=(user.csrf);
                    label.field for="days" { "Delete transcript words after (days)" }
                    input id="days" type="number" name="days" min="1" max=(bordin_store::MAX_TRANSCRIPT_RETENTION_DAYS) value=(days);
                    p { button.secondary type="submit" { "Save" } }
                }
            }
        },
    ))
}

pub async fn new_form(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(case_id): Path<String>,
    Query(q): Query<SessionQuery>,
) -> Result<Markup, AppError> {
    let access = policy::case(&state, &user, &case_id).await?;
    let kept = Kept {
        session: q.session.unwrap_or_default(),
        ..Kept::default()
    };
    upload_page(&state, &user, &access, &kept).await
}

#[derive(Deserialize)]
pub struct SessionQuery {
    #[serde(default)]
    pub session: Option<String>,
}

/// Reads the upload form (multipart: a file and/or pasted text).
async fn read_form(mut m: Multipart) -> Result<(String, Upload), (StatusCode, String)> {
    let mut csrf = String::new();
    let mut u = Upload::default();
    let mut file_text = None;
    loop {
        let field = match m.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Err((e.status(), e.body_text())),
        };
        let name = field.name().unwrap_or("").to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let bytes = field
            .bytes()
            .await
            .map_err(|e| (e.status(), e.body_text()))?;
        let text = || {
            String::from_utf8(bytes.to_vec()).map_err(|_| {
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("{name}: expected UTF-8 text"),
                )
            })
        };
        match name.as_str() {
            "csrf" => csrf = text()?,
            "session" => u.session_id = text()?,
            "format" => u.format = Some(text()?),
            "text" => u.text = text()?,
            "file" if !bytes.is_empty() => {
                file_text = Some(text()?);
                u.file_name = file_name;
            }
            _ => {}
        }
    }
    if let Some(t) = file_text {
        u.text = t;
    }
    Ok((csrf, u))
}

pub async fn upload(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(case_id): Path<String>,
    multipart: Multipart,
) -> Result<Response, AppError> {
    let (csrf, u) = match read_form(multipart).await {
        Ok(x) => x,
        Err((status, message)) => {
            return Ok((
                status,
                super::layout::error_page(
                    status,
                    &format!("The upload could not be read: {message}"),
                ),
            )
                .into_response())
        }
    };
    user.check_csrf(&csrf)?;
    let access = policy::case(&state, &user, &case_id).await?;
    match tr::upload(&state, &user, &access, &u).await? {
        Uploaded::Analysed(t) => Ok(Redirect::to(&format!(
            "/cases/{case_id}/transcripts/{}",
            t.transcript_id
        ))
        .into_response()),
        Uploaded::NeedsRoles(t) => Ok(Redirect::to(&format!(
            "/cases/{case_id}/transcripts/{}/roles",
            t.transcript_id
        ))
        .into_response()),
        Uploaded::Invalid(errors) => {
            let kept = Kept {
                session: u.session_id,
                format: u.format.unwrap_or_default(),
                text: u.text,
                errors,
            };
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                upload_page(&state, &user, &access, &kept).await?,
            )
                .into_response())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Who is who

async fn roles_page(
    state: &AppState,
    user: &CurrentUser,
    access: &CaseAccess,
    transcript_id: &str,
    problems: &[(&'static str, String)],
) -> Result<Markup, AppError> {
    let step = tr::role_step(state, access, transcript_id).await?;
    let case_id = access.case_id();
    Ok(page(
        "Who is who",
        user,
        html! {
            p.small { a href={ "/cases/" (case_id) } { "← Back to the client" } }
            h1 { "Who is who in this transcript" }
            p.muted { "Some speakers' names do not match the people of this case. Say who each speaker is; the analysis runs once every speaker has a role." }
            @if !problems.is_empty() {
                div.notice.urgent role="alert" { ul { @for (_, m) in problems { li { (m) } } } }
            }
            form.card method="post" action={ "/cases/" (case_id) "/transcripts/" (transcript_id) "/roles" } {
                input type="hidden" name="csrf" value=(user.csrf);
                table id="speakers" {
                    thead { tr { th scope="col" { "Speaker" } th scope="col" { "First words" } th scope="col" { "Role" } } }
                    tbody {
                        @for (i, (speaker, known, guess, words)) in step.speakers.iter().enumerate() {
                            @let chosen = known.or(*guess);
                            tr {
                                th scope="row" { (speaker) }
                                td.small { "“" (words) "”" }
                                td {
                                    input type="hidden" name={ "speaker" (i) } value=(speaker);
                                    select name={ "role" (i) } aria-label={ "Role of " (speaker) } {
                                        option value="" selected[chosen.is_none()] { "choose…" }
                                        @for (r, label) in ROLES {
                                            option value=(r.as_str()) selected[chosen == Some(r)] { (label) }
                                        }
                                    }
                                    @if known.is_none() && guess.is_some() { span.small.muted { " (a guess: check it)" } }
                                }
                            }
                        }
                    }
                }
                p { button type="submit" { "Analyse" } }
            }
        },
    ))
}

pub async fn roles_form(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((case_id, transcript_id)): Path<(String, String)>,
) -> Result<Markup, AppError> {
    let access = policy::case(&state, &user, &case_id).await?;
    roles_page(&state, &user, &access, &transcript_id, &[]).await
}

pub async fn roles_submit(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((case_id, transcript_id)): Path<(String, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    user.check_csrf(&get("csrf").unwrap_or_default())?;
    let access = policy::case(&state, &user, &case_id).await?;
    let mut roles = BTreeMap::new();
    for (k, speaker) in pairs.iter().filter(|(k, _)| k.starts_with("speaker")) {
        let i = &k["speaker".len()..];
        roles.insert(
            speaker.clone(),
            get(&format!("role{i}")).unwrap_or_default(),
        );
    }
    match tr::assign_roles(&state, &access, &transcript_id, &roles).await? {
        Uploaded::Analysed(_) | Uploaded::NeedsRoles(_) => Ok(Redirect::to(&format!(
            "/cases/{case_id}/transcripts/{transcript_id}"
        ))
        .into_response()),
        Uploaded::Invalid(problems) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            roles_page(&state, &user, &access, &transcript_id, &problems).await?,
        )
            .into_response()),
    }
}

// ---------------------------------------------------------------------------------------------
// The report

fn estimate(e: Option<Estimate>) -> Markup {
    match e {
        Some(e) => {
            html! { (format!("{:+.2}", e.mean)) span.small.muted { " (95% interval " (format!("{:+.2} to {:+.2}", e.low, e.high)) ", " (e.n) " turns)" } }
        }
        None => html! { span.muted { "—" } },
    }
}

fn ratings(
    registry: &bordin_core::Registry,
    session: &SessionRow,
    rows: &[bordin_store::CaseScoreRow],
) -> Markup {
    let mut by_instrument: BTreeMap<&str, Vec<&bordin_store::CaseScoreRow>> = BTreeMap::new();
    for r in rows {
        by_instrument.entry(&r.instrument_id).or_default().push(r);
    }
    html! {
        section.card id="client-ratings" {
            h2 { "The client's own ratings, session " (session.number) }
            @if by_instrument.is_empty() {
                p.muted { "No ratings for this session yet. The transcript below is evidence to read beside them when they come, not a substitute." }
            } @else {
                dl {
                    @for (inst, scores) in &by_instrument {
                        dt { (registry.get(inst).map_or(inst.to_string(), |i| i.short_title.clone())) }
                        dd { @for (i, s) in scores.iter().enumerate() {
                            @if i > 0 { " · " }
                            (s.scale_id) " " @match s.value { Some(v) => strong { (format!("{v:.1}")) }, None => span.muted { "n/s" } }
                        } }
                    }
                }
            }
        }
    }
}

fn evidence(a: &Analysis) -> Markup {
    let s = &a.session;
    html! {
        section.card id="transcript-evidence" {
            h2 { "What the transcript shows" }
            p.small.muted { "Evidence with uncertainty, to read beside the client's ratings — never a score that replaces them (transcript-based estimates agree only weakly with how clients rate the alliance)." }
            @if !s.semantic {
                p.notice.warn id="semantic-off" { "The semantic part is off, so there is no bond, goal or task evidence here. "
                    (s.semantic_note.clone().unwrap_or_default()) }
            }
            dl {
                @if s.semantic {
                    dt { "Bond evidence" } dd { (estimate(s.bond)) }
                    dt { "Goal evidence" } dd { (estimate(s.goal)) }
                    dt { "Task evidence" } dd { (estimate(s.task)) }
                }
                dt { "Clinician's share of words / time" } dd { (pct(s.clinician_talk_share)) " / " (pct(s.clinician_time_share)) }
                dt { "Clinician turns that ask a question" } dd { (pct(s.question_share)) }
                dt { "Directive / collaborative clinician turns" } dd { (pct(s.directive_share)) " / " (pct(s.collaborative_share)) }
                dt { "Client's answer after a question (median)" } dd { @match s.client_latency.median { Some(m) => { (format!("{m:.1} s")) }, None => { "—" } } }
                dt { "Rupture markers" } dd { (s.withdrawal_markers) " withdrawal · " (s.confrontation_markers) " confrontation" }
            }
        }
    }
}

fn markers(a: &Analysis) -> Markup {
    html! {
        section id="markers" {
            h2 { "Rupture markers (" (a.markers.len()) ")" }
            p.small.muted { "Found by rule (3RS withdrawal and confrontation phrases, short answers, silences): prompts to look again, each with the words that triggered it." }
            @if a.markers.is_empty() { p.muted { "None found." } }
            ol.markers {
                @for m in &a.markers {
                    li.card.marker {
                        p { span.badge { (m.kind.as_str()) } " " strong { (m.subtype.replace('_', " ")) } " · " (clock(m.start)) " · " (m.speaker) }
                        blockquote { (m.evidence) }
                        p.small { "Why: " (m.why) }
                        p.small { "Try: " (m.suggestion) }
                    }
                }
            }
        }
    }
}

fn coverage(a: &Analysis) -> Markup {
    if a.goals.is_empty() && a.tasks.is_empty() {
        return html! { section id="goal-coverage" { h2 { "Goals and tasks" } p.muted { "The case has no active goals or agreed tasks to look for." } } };
    }
    html! {
        section id="goal-coverage" {
            h2 { "Goals and tasks talked about" }
            div.table-wrap { table {
                thead { tr { th scope="col" { "Goal or task" } th scope="col" { "Talked about" } th scope="col" { "Evidence" } } }
                tbody {
                    @for g in a.goals.iter().chain(&a.tasks) {
                        tr {
                            th scope="row" { (g.text) }
                            td { @if g.covered { "yes" } @else { "no" } span.small.muted { " (" (g.method.replace('_', " ")) ", best " (format!("{:.2}", g.best)) ")" } }
                            td.small { @for e in &g.evidence { p { (clock(e.start)) " " (e.speaker) ": “" (e.text) "”" } } }
                        }
                    }
                }
            } }
        }
    }
}

fn silences_and_speakers(a: &Analysis) -> Markup {
    html! {
        section.row {
            div.card {
                h2 { "Longest silences" }
                @if a.silences.is_empty() { p.muted { @if a.session.timed { "None over a second." } @else { "The file has no times, so silences cannot be measured." } } }
                ul { @for s in &a.silences { li { (format!("{:.1} s", s.seconds)) " at " (clock(Some(s.start))) " after " (s.after_speaker) ", before " (s.before_speaker) } } }
            }
            div.card {
                h2 { "Speakers" }
                table { thead { tr { th { "Speaker" } th { "Role" } th { "Words" } th { "Turns" } } }
                    tbody { @for sp in &a.speakers { tr { td { (sp.speaker) } td { (role_words(sp.role)) } td { (sp.words) " (" (pct(Some(sp.talk_share))) ")" } td { (sp.turns) } } } } }
            }
        }
    }
}

pub async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((case_id, transcript_id)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let access = policy::case(&state, &user, &case_id).await?;
    let r = tr::report(&state, &access, &transcript_id).await?;
    if r.transcript.status == TranscriptStatus::NeedsRoles {
        return Ok(Redirect::to(&format!(
            "/cases/{case_id}/transcripts/{transcript_id}/roles"
        ))
        .into_response());
    }
    let registry = state.registry(access.clinic_id()).await?;
    let case = state.store.case(access.clinic_id(), &case_id).await?;
    let body = html! {
        p.small { a href={ "/cases/" (case_id) } { "← " (case.title) } }
        h1 { "Session " (r.session.number) " transcript" }
        p.muted { (r.session.held_on) " · " (if r.transcript.source == "live" { "from the live co-pilot" } else { "uploaded" })
            " " (format_ms(r.transcript.created_at)) " · " (tr::status_words(r.transcript.status)) }
        div.row {
            (ratings(&registry, &r.session, &r.ratings))
            @if let Some(a) = &r.analysis { (evidence(a)) }
        }
        @match &r.analysis {
            Some(a) => {
                @for n in &a.notes { p.small.muted { (n) } }
                (super::timeline::timeline(a))
                (markers(a))
                (coverage(a))
                (silences_and_speakers(a))
                p.small.muted { "The words of this transcript are deleted " (r.retention_days) " days after it arrived; these numbers stay." }
            }
            None => {
                p.notice id="purged" { "The words of this transcript were deleted after the clinic's retention period ("
                    (r.retention_days) " days). What remains is the summary." }
                @if let Some(s) = &r.summary { (summary_list(s)) }
            }
        }
    };
    Ok(page("Transcript", &user, body).into_response())
}

fn summary_list(s: &tr::TranscriptSummary) -> Markup {
    html! {
        dl.card id="summary" {
            dt { "Turns" } dd { (s.turns) }
            dt { "Clinician's share of words" } dd { (pct(s.clinician_talk_share)) }
            dt { "Rupture markers" } dd { (s.withdrawal_markers) " withdrawal · " (s.confrontation_markers) " confrontation" }
            dt { "Goals talked about" } dd { (s.goals_covered.len()) " of " (s.goals_considered.len()) }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// On the case page

/// The case page's section: transcripts per session with their markers, goals not talked about
/// lately (listed, never alerted), and the ways in (upload, live co-pilot).
pub fn case_section(case_id: &str, sessions: &[SessionRow], listening: &CaseListening) -> Markup {
    html! {
        section.card id="transcripts" {
            h2 { "Session transcripts" }
            @if !listening.untouched_goals.is_empty() {
                div.notice.warn id="untouched-goals" {
                    p { strong { "Not talked about lately: " } }
                    ul { @for (_, words, n) in &listening.untouched_goals { li { (words) " — not in the last " (n) " analysed sessions" } } }
                    p.small.muted { "From transcripts, for your review; not an alert." }
                }
            }
            @if listening.sessions.is_empty() {
                p.muted { "No transcripts yet." }
            } @else {
                div.table-wrap { table {
                    thead { tr { th scope="col" { "Session" } th scope="col" { "Status" } th scope="col" { "Markers" } th scope="col" { "Goals talked about" } } }
                    tbody {
                        @for (t, number, held_on, summary) in &listening.sessions {
                            tr {
                                th scope="row" { a href={ "/cases/" (case_id) "/transcripts/" (t.transcript_id) } { (number) " · " (held_on) } }
                                td.small { (tr::status_words(t.status)) @if t.source == "live" { " (live)" } }
                                td { @if let Some(s) = summary {
                                    (s.withdrawal_markers + s.confrontation_markers)
                                    @if !s.marker_subtypes.is_empty() {
                                        span.small.muted { " (" (s.marker_subtypes.iter().map(|(k, v)| format!("{} {v}", k.split_once('.').map_or(k.as_str(), |x| x.1).replace('_', " "))).collect::<Vec<_>>().join(", ")) ")" }
                                    }
                                } }
                                td { @if let Some(s) = summary { (s.goals_covered.len()) " of " (s.goals_considered.len()) } }
                            }
                        }
                    }
                } }
            }
            div.row {
                p { a href={ "/cases/" (case_id) "/transcripts/new" } { "Upload a transcript" } }
                @if !sessions.is_empty() {
                    form method="get" action={ "/cases/" (case_id) "/live" } {
                        label.field for="live-session" { "Live co-pilot for" }
                        select id="live-session" name="session" {
                            @for s in sessions.iter().rev() { option value=(s.session_id) { "Session " (s.number) " · " (s.held_on) } }
                        }
                        button.secondary type="submit" { "Open co-pilot" }
                    }
                }
                p { a href="/live/replay" { "Replay a transcript (training)" } }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Retention (admins)

#[derive(Deserialize)]
pub struct RetentionInput {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    days: String,
}

pub async fn set_retention(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(input): Form<RetentionInput>,
) -> Result<Response, AppError> {
    user.check_csrf(&input.csrf)?;
    let days: i64 = input
        .days
        .trim()
        .parse()
        .map_err(|_| AppError::BadRequest("days: expected a whole number".into()))?;
    tr::set_retention(&state, &user, days).await?;
    Ok(Redirect::to("/caseload").into_response())
}
