//! Transcripts after the session: consent, upload, who is who, analysis, the stored result and
//! what of it monitoring sees. Shared by the pages (`pages/transcripts.rs`), the JSON API
//! (`api_transcripts.rs`) and the live co-pilot (`live.rs`).
//!
//! What a transcript shows is evidence to read beside the client's own ratings, never a score:
//! nothing here raises an alert. Monitoring gets the summary numbers (markers per session, goals
//! not talked about for several sessions) to list on the case page.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use bordin_core::goals::{ConsentKind, GoalStatus, TaskStatus};
use bordin_listen::{Analysis, Analyzer, Context, Format, GoalText, Role, Transcript};
use bordin_store::{NewAnalysis, NewTranscript, TranscriptRow, TranscriptStatus};
use serde::{Deserialize, Serialize};

use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::policy::CaseAccess;
use crate::state::{now_ms, AppState};

/// The largest transcript accepted (a 60-minute session is about 100 KiB of text; WhisperX JSON
/// with word timings about 2 MiB).
pub const TRANSCRIPT_LIMIT: usize = 5 * 1024 * 1024;

/// A goal not talked about in this many analysed sessions in a row is listed on the case page.
pub const UNTOUCHED_SESSIONS: usize = 3;

/// The analyzer the server starts with: the model from Bordin's model folder when it is there,
/// else the analysis without the semantic part (which says so).
pub fn default_analyzer() -> Analyzer {
    let dir = Path::new(bordin_listen::model::DEFAULT_MODEL_DIR);
    if dir.is_dir() {
        Analyzer::new(Some(dir))
    } else {
        Analyzer::without_model()
    }
}

// ---------------------------------------------------------------------------------------------
// Consent: through the server's consent guard (`crate::consent`), every client of the case.

/// Whether every client of the case has `kind` consent in force now (for the live room's
/// decision to store its turns; a storage error counts as no).
pub async fn consent_in_force(state: &AppState, access: &CaseAccess, kind: ConsentKind) -> bool {
    crate::consent::require(state, access, kind).await.is_ok()
}

// ---------------------------------------------------------------------------------------------
// The case's side of an analysis

/// Names, goals and tasks of the case, for mapping speakers and finding goal talk.
pub async fn case_context(state: &AppState, access: &CaseAccess) -> Result<Context, AppError> {
    let (c, k) = (access.clinic_id(), access.case_id());
    let case = state.store.case(c, k).await?;
    let goals = state.store.goals(c, k).await?;
    let tasks = state.store.tasks(c, k).await?;
    Ok(Context {
        clinicians: case.clinicians.iter().map(|(_, n, _)| n.clone()).collect(),
        clients: case
            .clients
            .iter()
            .map(|c| c.display_name.clone().unwrap_or_else(|| c.code.clone()))
            .collect(),
        roles: BTreeMap::new(),
        goals: goals
            .iter()
            .filter(|g| matches!(g.status, GoalStatus::Active | GoalStatus::Proposed))
            .map(|g| GoalText {
                id: g.goal_id.clone(),
                text: g.words.clone(),
            })
            .collect(),
        tasks: tasks
            .iter()
            .filter(|t| t.status == TaskStatus::Agreed)
            .map(|t| GoalText {
                id: t.task_id.clone(),
                text: t.title.clone(),
            })
            .collect(),
    })
}

/// Each speaker of a transcript, in order of first turn, with the role the case's names give
/// (`None`: the user must say).
pub fn speakers(transcript: &Transcript, context: &Context) -> Vec<(String, Option<Role>)> {
    let mut out: Vec<(String, Option<Role>)> = Vec::new();
    for t in &transcript.turns {
        if !out.iter().any(|(s, _)| s == &t.speaker) {
            out.push((t.speaker.clone(), context.role_of(&t.speaker)));
        }
    }
    out
}

/// The roles the analysis would guess for unnamed speakers (to preselect in the mapping step).
pub fn guessed_roles(transcript: &Transcript, context: &Context) -> BTreeMap<String, Role> {
    let mut t = transcript.clone();
    context.assign_roles(&mut t);
    t.turns
        .into_iter()
        .filter_map(|t| t.role.map(|r| (t.speaker, r)))
        .collect()
}

fn speakers_json(speakers: &[(String, Option<Role>)]) -> serde_json::Value {
    serde_json::Value::Object(
        speakers
            .iter()
            .map(|(s, r)| {
                (
                    s.clone(),
                    r.map_or(serde_json::Value::Null, |r| r.as_str().into()),
                )
            })
            .collect(),
    )
}

// ---------------------------------------------------------------------------------------------
// Summary kept after the words are deleted

/// What is kept of an analysis when the retention period deletes the words: numbers and ids.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TranscriptSummary {
    pub turns: usize,
    pub duration_seconds: Option<f64>,
    pub clinician_talk_share: Option<f64>,
    pub clinician_time_share: Option<f64>,
    pub question_share: Option<f64>,
    pub directive_share: Option<f64>,
    pub collaborative_share: Option<f64>,
    pub longest_silence_seconds: Option<f64>,
    pub withdrawal_markers: usize,
    pub confrontation_markers: usize,
    /// `kind.subtype` → count, e.g. `withdrawal.minimal_response: 2`.
    pub marker_subtypes: BTreeMap<String, usize>,
    /// Mean bond, goal and task evidence (standard deviations above neutral talk); `None` when
    /// the semantic part was off.
    pub bond: Option<f64>,
    pub goal: Option<f64>,
    pub task: Option<f64>,
    pub semantic: bool,
    /// Ids of the goals looked for, and of those talked about.
    pub goals_considered: Vec<String>,
    pub goals_covered: Vec<String>,
    pub tasks_considered: Vec<String>,
    pub tasks_covered: Vec<String>,
}

impl TranscriptSummary {
    pub fn of(a: &Analysis) -> Self {
        let mut marker_subtypes = BTreeMap::new();
        for m in &a.markers {
            *marker_subtypes
                .entry(format!("{}.{}", m.kind.as_str(), m.subtype))
                .or_insert(0) += 1;
        }
        let s = &a.session;
        Self {
            turns: s.turns,
            duration_seconds: s.duration_seconds,
            clinician_talk_share: s.clinician_talk_share,
            clinician_time_share: s.clinician_time_share,
            question_share: s.question_share,
            directive_share: s.directive_share,
            collaborative_share: s.collaborative_share,
            longest_silence_seconds: a.silences.iter().map(|x| x.seconds).reduce(f64::max),
            withdrawal_markers: s.withdrawal_markers,
            confrontation_markers: s.confrontation_markers,
            marker_subtypes,
            bond: s.bond.map(|e| e.mean),
            goal: s.goal.map(|e| e.mean),
            task: s.task.map(|e| e.mean),
            semantic: s.semantic,
            goals_considered: a.goals.iter().map(|g| g.id.clone()).collect(),
            goals_covered: a
                .goals
                .iter()
                .filter(|g| g.covered)
                .map(|g| g.id.clone())
                .collect(),
            tasks_considered: a.tasks.iter().map(|g| g.id.clone()).collect(),
            tasks_covered: a
                .tasks
                .iter()
                .filter(|g| g.covered)
                .map(|g| g.id.clone())
                .collect(),
        }
    }

    pub fn from_row(row: &TranscriptRow) -> Option<Self> {
        row.summary
            .as_ref()
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }
}

fn to_value<T: Serialize>(v: &T) -> Result<serde_json::Value, AppError> {
    serde_json::to_value(v).map_err(|e| AppError::Internal(e.to_string()))
}

// ---------------------------------------------------------------------------------------------
// Upload

/// What a user sends: the text, the format they chose (or none: detect it), the file name (its
/// extension names a format), and optionally who each speaker is.
#[derive(Debug, Clone, Default)]
pub struct Upload {
    pub session_id: String,
    pub format: Option<String>,
    pub file_name: Option<String>,
    pub text: String,
    pub roles: BTreeMap<String, String>,
}

/// The result of an upload or of giving the speakers' roles.
#[derive(Debug)]
pub enum Uploaded {
    /// Stored and analysed.
    Analysed(TranscriptRow),
    /// Stored; some speakers' roles are needed before the analysis.
    NeedsRoles(TranscriptRow),
    /// Not stored: what is wrong, naming the field or line.
    Invalid(Vec<(&'static str, String)>),
}

/// The format of an upload: the chosen one, else the file name's extension, else detected from
/// the content.
fn upload_format(u: &Upload) -> Result<Format, String> {
    match u
        .format
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty() && *f != "auto")
    {
        Some(f) => f.parse::<Format>().map_err(|e| e.to_string()),
        None => Ok(u
            .file_name
            .as_deref()
            .and_then(|n| Format::from_path(Path::new(n)))
            .unwrap_or_else(|| Format::detect(&u.text))),
    }
}

/// Parses explicit roles (`speaker → clinician|client|other_client`).
fn parse_roles(
    roles: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, Role>, Vec<(&'static str, String)>> {
    let mut out = BTreeMap::new();
    let mut errors = Vec::new();
    for (speaker, role) in roles {
        if role.trim().is_empty() {
            continue;
        }
        match role.parse::<Role>() {
            Ok(r) => {
                out.insert(speaker.clone(), r);
            }
            Err(e) => errors.push(("roles", format!("speaker `{speaker}`: {e}"))),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

async fn analyze(
    state: &AppState,
    transcript: Transcript,
    context: Context,
) -> Result<Analysis, AppError> {
    let analyzer = Arc::clone(&state.analyzer);
    // Embedding a whole session takes a while: keep it off the async workers.
    tokio::task::spawn_blocking(move || analyzer.analyze(&transcript, &context))
        .await
        .map_err(|e| AppError::Internal(format!("analysis stopped: {e}")))
}

/// Checks consent, parses, stores and (when every speaker's role is known) analyses an
/// uploaded transcript for a session of the case.
pub async fn upload(
    state: &AppState,
    user: &CurrentUser,
    access: &CaseAccess,
    u: &Upload,
) -> Result<Uploaded, AppError> {
    crate::consent::require(state, access, ConsentKind::TranscriptAnalysis).await?;
    let mut errors = Vec::new();
    let session = match state.store.session(access.clinic_id(), &u.session_id).await {
        Ok(s) if s.case_id == access.case_id() => Some(s),
        _ => {
            errors.push(("session", "choose a session of this case".to_owned()));
            None
        }
    };
    if u.text.trim().is_empty() {
        errors.push((
            "text",
            "choose a transcript file or paste its text".to_owned(),
        ));
    }
    if u.text.len() > TRANSCRIPT_LIMIT {
        errors.push(("text", format!("at most {} MiB", TRANSCRIPT_LIMIT >> 20)));
    }
    let format = upload_format(u)
        .map_err(|e| errors.push(("format", e)))
        .ok();
    let explicit = parse_roles(&u.roles).map_err(|e| errors.extend(e)).ok();
    let (Some(session), Some(format), Some(explicit), true) =
        (session, format, explicit, errors.is_empty())
    else {
        return Ok(Uploaded::Invalid(errors));
    };
    let transcript = match bordin_listen::parse(&u.text, format) {
        Ok(t) if t.turns.is_empty() => {
            return Ok(Uploaded::Invalid(vec![(
                "text",
                format!("no turns found (read as {})", format.as_str()),
            )]))
        }
        Ok(t) => t,
        Err(e) => {
            return Ok(Uploaded::Invalid(vec![(
                "text",
                format!("{e} (read as {})", format.as_str()),
            )]))
        }
    };
    let mut context = case_context(state, access).await?;
    context.roles = explicit;
    let found = speakers(&transcript, &context);
    let new = NewTranscript {
        case_id: access.case_id(),
        session_id: &session.session_id,
        source: "upload",
        format: format.as_str(),
        body: &u.text,
        speakers: &speakers_json(&found),
        created_by: &user.user.user_id,
        at: now_ms(),
    };
    if found.iter().any(|(_, r)| r.is_none()) {
        let row = state
            .store
            .create_transcript(access.clinic_id(), &new, None)
            .await?;
        return Ok(Uploaded::NeedsRoles(row));
    }
    let analysis = analyze(state, transcript, context).await?;
    let row = store_with_analysis(state, access, &new, &found, &analysis).await?;
    Ok(Uploaded::Analysed(row))
}

async fn store_with_analysis(
    state: &AppState,
    access: &CaseAccess,
    new: &NewTranscript<'_>,
    speakers: &[(String, Option<Role>)],
    analysis: &Analysis,
) -> Result<TranscriptRow, AppError> {
    let speakers = speakers_json(speakers);
    let full = to_value(analysis)?;
    let summary = to_value(&TranscriptSummary::of(analysis))?;
    Ok(state
        .store
        .create_transcript(
            access.clinic_id(),
            new,
            Some(&NewAnalysis {
                speakers: &speakers,
                analysis: &full,
                summary: &summary,
                at: now_ms(),
            }),
        )
        .await?)
}

/// A transcript of the case the user may see (other cases' and clinics' answer "not found").
pub async fn transcript_of_case(
    state: &AppState,
    access: &CaseAccess,
    transcript_id: &str,
) -> Result<TranscriptRow, AppError> {
    match state
        .store
        .transcript(access.clinic_id(), transcript_id)
        .await
    {
        Ok(t) if t.case_id == access.case_id() => Ok(t),
        _ => Err(AppError::NotFound),
    }
}

/// What the mapping step shows: each speaker with the role the case's names give, the guess
/// for the others, and a few of their words to recognise them by.
pub struct RoleStep {
    pub transcript: TranscriptRow,
    /// (speaker, known role, guessed role, first words)
    pub speakers: Vec<(String, Option<Role>, Option<Role>, String)>,
}

pub async fn role_step(
    state: &AppState,
    access: &CaseAccess,
    transcript_id: &str,
) -> Result<RoleStep, AppError> {
    let row = transcript_of_case(state, access, transcript_id).await?;
    let text = state
        .store
        .transcript_text(access.clinic_id(), transcript_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let format: Format = row
        .format
        .parse()
        .map_err(|e: bordin_listen::UnknownFormat| AppError::Internal(e.to_string()))?;
    let transcript = bordin_listen::parse(&text.body, format)
        .map_err(|e| AppError::Internal(format!("a stored transcript no longer parses: {e}")))?;
    let context = case_context(state, access).await?;
    let guessed = guessed_roles(&transcript, &context);
    let speakers = speakers(&transcript, &context)
        .into_iter()
        .map(|(s, known)| {
            let words = transcript
                .turns
                .iter()
                .find(|t| t.speaker == s)
                .map(|t| t.text.chars().take(80).collect::<String>())
                .unwrap_or_default();
            let guess = guessed.get(&s).copied();
            (s, known, guess, words)
        })
        .collect();
    Ok(RoleStep {
        transcript: row,
        speakers,
    })
}

/// Analyses a stored transcript with the roles the user gave (every speaker needs one).
pub async fn assign_roles(
    state: &AppState,
    access: &CaseAccess,
    transcript_id: &str,
    roles: &BTreeMap<String, String>,
) -> Result<Uploaded, AppError> {
    crate::consent::require(state, access, ConsentKind::TranscriptAnalysis).await?;
    let row = transcript_of_case(state, access, transcript_id).await?;
    let Some(text) = state
        .store
        .transcript_text(access.clinic_id(), transcript_id)
        .await?
    else {
        return Ok(Uploaded::Invalid(vec![(
            "transcript",
            "its words were deleted by the retention period".into(),
        )]));
    };
    let explicit = match parse_roles(roles) {
        Ok(r) => r,
        Err(e) => return Ok(Uploaded::Invalid(e)),
    };
    let format: Format = row
        .format
        .parse()
        .map_err(|e: bordin_listen::UnknownFormat| AppError::Internal(e.to_string()))?;
    let transcript = bordin_listen::parse(&text.body, format)
        .map_err(|e| AppError::Internal(format!("a stored transcript no longer parses: {e}")))?;
    let mut context = case_context(state, access).await?;
    context.roles = explicit;
    let found = speakers(&transcript, &context);
    let unknown: Vec<&str> = found
        .iter()
        .filter(|(_, r)| r.is_none())
        .map(|(s, _)| s.as_str())
        .collect();
    if !unknown.is_empty() {
        return Ok(Uploaded::Invalid(vec![(
            "roles",
            format!("choose a role for {}", unknown.join(", ")),
        )]));
    }
    let analysis = analyze(state, transcript, context).await?;
    state
        .store
        .save_transcript_analysis(
            access.clinic_id(),
            transcript_id,
            &NewAnalysis {
                speakers: &speakers_json(&found),
                analysis: &to_value(&analysis)?,
                summary: &to_value(&TranscriptSummary::of(&analysis))?,
                at: now_ms(),
            },
        )
        .await?;
    let row = transcript_of_case(state, access, transcript_id).await?;
    Ok(Uploaded::Analysed(row))
}

/// Stores the turns of a live session as a transcript (WhisperX-style JSON, so it reads back
/// like an upload) with its analysis. Only called when transcript consent is in force.
pub async fn store_live(
    state: &AppState,
    access: &CaseAccess,
    session_id: &str,
    user_id: &str,
    analysis: &Analysis,
) -> Result<TranscriptRow, AppError> {
    let segments: Vec<serde_json::Value> = analysis
        .turns
        .iter()
        .map(|t| {
            serde_json::json!({"speaker": t.speaker, "text": t.text, "start": t.start, "end": t.end})
        })
        .collect();
    let body = serde_json::json!({ "segments": segments }).to_string();
    let found: Vec<(String, Option<Role>)> = {
        let mut v: Vec<(String, Option<Role>)> = Vec::new();
        for t in &analysis.turns {
            if !v.iter().any(|(s, _)| s == &t.speaker) {
                v.push((t.speaker.clone(), t.role));
            }
        }
        v
    };
    let new = NewTranscript {
        case_id: access.case_id(),
        session_id,
        source: "live",
        format: "json",
        body: &body,
        speakers: &speakers_json(&found),
        created_by: user_id,
        at: now_ms(),
    };
    store_with_analysis(state, access, &new, &found, analysis).await
}

// ---------------------------------------------------------------------------------------------
// Reading results

/// A transcript's report: its row, its analysis while the words are kept, its summary always.
pub struct Report {
    pub transcript: TranscriptRow,
    pub session: bordin_store::SessionRow,
    pub analysis: Option<Analysis>,
    pub summary: Option<TranscriptSummary>,
    /// The client's own ratings for that session: (instrument, scale, value).
    pub ratings: Vec<bordin_store::CaseScoreRow>,
    pub retention_days: i64,
}

pub async fn report(
    state: &AppState,
    access: &CaseAccess,
    transcript_id: &str,
) -> Result<Report, AppError> {
    let row = transcript_of_case(state, access, transcript_id).await?;
    // The one place a transcript's words are read for showing (page and JSON): one audit entry.
    crate::audit::read(
        state,
        access.clinic_id(),
        "transcript",
        transcript_id,
        Some(access.case_id()),
        bordin_store::Outcome::Ok,
    )
    .await?;
    let session = state
        .store
        .session(access.clinic_id(), &row.session_id)
        .await?;
    let analysis = match state
        .store
        .transcript_text(access.clinic_id(), transcript_id)
        .await?
        .and_then(|t| t.analysis)
    {
        Some(v) => Some(
            serde_json::from_value::<Analysis>(v)
                .map_err(|e| AppError::Internal(format!("stored analysis unreadable: {e}")))?,
        ),
        None => None,
    };
    let ratings = state
        .store
        .case_scores(access.clinic_id(), access.case_id())
        .await?
        .into_iter()
        .filter(|s| {
            s.session_number == Some(session.number)
                && s.respondent == bordin_core::Respondent::Client
        })
        .collect();
    Ok(Report {
        summary: TranscriptSummary::from_row(&row),
        transcript: row,
        session,
        analysis,
        ratings,
        retention_days: state
            .store
            .transcript_retention_days(access.clinic_id())
            .await?,
    })
}

/// What monitoring shows of a case's transcripts: each analysed session's summary, and the
/// goals not talked about in the last [`UNTOUCHED_SESSIONS`] analysed sessions. Listed on the
/// case page; never an alert.
#[derive(Debug, Clone, Default)]
pub struct CaseListening {
    /// (transcript, session number, held on, summary)
    pub sessions: Vec<(TranscriptRow, i64, String, Option<TranscriptSummary>)>,
    /// (goal id, goal words, sessions in a row without it)
    pub untouched_goals: Vec<(String, String, usize)>,
}

pub async fn case_listening(
    state: &AppState,
    access: &CaseAccess,
) -> Result<CaseListening, AppError> {
    let (c, k) = (access.clinic_id(), access.case_id());
    let rows = state.store.transcripts_of_case(c, k).await?;
    if rows.is_empty() {
        return Ok(CaseListening::default());
    }
    let sessions = state.store.sessions(c, k).await?;
    let mut out: Vec<(TranscriptRow, i64, String, Option<TranscriptSummary>)> = rows
        .into_iter()
        .filter_map(|r| {
            let s = sessions.iter().find(|s| s.session_id == r.session_id)?;
            let summary = TranscriptSummary::from_row(&r);
            Some((r, s.number, s.held_on.clone(), summary))
        })
        .collect();
    out.sort_by_key(|(r, n, _, _)| (*n, r.created_at));
    // The latest analysis of each session, newest session first.
    let mut latest: Vec<&TranscriptSummary> = Vec::new();
    let mut seen = Vec::new();
    for (_, n, _, s) in out.iter().rev() {
        if let Some(s) = s {
            if !seen.contains(n) {
                seen.push(*n);
                latest.push(s);
            }
        }
    }
    let goals = state.store.goals(c, k).await?;
    let mut untouched = Vec::new();
    for g in goals.iter().filter(|g| g.status == GoalStatus::Active) {
        let run = latest
            .iter()
            .take_while(|s| {
                s.goals_considered.contains(&g.goal_id) && !s.goals_covered.contains(&g.goal_id)
            })
            .count();
        if run >= UNTOUCHED_SESSIONS {
            untouched.push((g.goal_id.clone(), g.words.clone(), run));
        }
    }
    Ok(CaseListening {
        sessions: out,
        untouched_goals: untouched,
    })
}

// ---------------------------------------------------------------------------------------------
// Retention

/// How often the retention sweep runs while the server is up.
pub const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Deletes the words of transcripts past their clinic's retention period; logs the count only.
pub async fn sweep(state: &AppState) {
    match state.store.purge_expired_transcripts(now_ms()).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(purged = n, "transcript retention: words deleted"),
        Err(e) => tracing::error!(error = %e, "transcript retention sweep failed"),
    }
}

/// Runs the sweep at start-up and then every [`SWEEP_EVERY`], until the server stops.
pub fn spawn_sweeper(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(SWEEP_EVERY);
        loop {
            every.tick().await;
            sweep(&state).await;
        }
    })
}

/// Sets the clinic's retention period (admins only; checked by the caller through policy).
pub async fn set_retention(
    state: &AppState,
    user: &CurrentUser,
    days: i64,
) -> Result<(), AppError> {
    crate::policy::require_admin(user)?;
    state
        .store
        .set_transcript_retention_days(user.clinic_id(), days, &user.user.user_id, now_ms())
        .await
        .map_err(|e| match e {
            bordin_store::StoreError::Conflict(m) => AppError::BadRequest(m),
            other => other.into(),
        })
}

/// The status shown for a transcript in lists.
pub fn status_words(s: TranscriptStatus) -> &'static str {
    match s {
        TranscriptStatus::NeedsRoles => "waiting for speaker roles",
        TranscriptStatus::Analysed => "analysed",
        TranscriptStatus::Purged => "words deleted (retention); summary kept",
    }
}
