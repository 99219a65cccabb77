//! The live co-pilot: a WebSocket per session that takes turns as speech-to-text or a
//! note-taker produces them (`{"speaker", "text", "start", "end"}`) and answers each with the
//! updated picture (`bordin_listen::LivePicture`), and a replay of a transcript file at real
//! speed (times a speed factor) for training.
//!
//! Every connection to one session's socket joins the same room: a turn sent by any of them
//! (the speech-to-text system, a note-taker, the clinician's own page) is answered to all, so the
//! clinician's second screen shows what the transcriber sends. When the last connection leaves,
//! the room ends; its turns are stored as the session's transcript only if the clients' consent
//! to transcript analysis is in force then. No audio ever reaches Bordin.
//!
//! Access: the upgrade needs the login session (cookie), its CSRF token in the `csrf` query
//! parameter, an `Origin` (when the client sends one, as browsers do) naming this server, and
//! the clients' consent to the live co-pilot.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use axum::http::HeaderMap;
use bordin_core::goals::ConsentKind;
use bordin_listen::{Context, Format, LivePicture, LiveSession, TurnIn};
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::auth::{constant_time_eq, CurrentUser};
use crate::error::AppError;
use crate::policy::CaseAccess;
use crate::state::AppState;

/// Largest live message (a turn is at most 20,000 characters of text).
pub const TURN_MESSAGE_LIMIT: usize = 128 * 1024;

/// Replay speed factors accepted.
pub const SPEEDS: std::ops::RangeInclusive<f64> = 0.25..=64.0;

/// Speaking rate assumed when a replayed transcript has no times: 150 words a minute, a
/// conversational rate (Bordin's choice, within the 140–160 wpm usually quoted for speech).
pub const WORDS_PER_SECOND: f64 = 2.5;

// ---------------------------------------------------------------------------------------------
// The upgrade checks

/// True when the request may open a socket: the CSRF token matches the login session's and
/// the `Origin`, when present, is this server (the Host it was asked by, or the public URL).
/// Cross-site pages cannot read the token, and browsers always send `Origin` on upgrades.
pub fn upgrade_allowed(
    state: &AppState,
    user: &CurrentUser,
    headers: &HeaderMap,
    csrf: &str,
) -> bool {
    if !constant_time_eq(csrf, &user.csrf) {
        return false;
    }
    crate::security::same_origin(state, headers)
}

// ---------------------------------------------------------------------------------------------
// Messages

/// What the server sends.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Outgoing<'a> {
    /// On joining: whether the semantic part runs, whether the transcript will be stored, how
    /// many turns the room has.
    Hello {
        semantic: bool,
        semantic_note: Option<String>,
        stores_transcript: bool,
        turns: usize,
    },
    Picture {
        picture: &'a LivePicture,
    },
    /// A message that could not be used, with the field named. Only its sender gets it.
    Error {
        message: String,
    },
    /// The replay has sent every turn.
    End {
        turns: usize,
    },
}

fn json(m: &Outgoing<'_>) -> String {
    serde_json::to_string(m).unwrap_or_else(|e| {
        format!(r#"{{"type":"error","message":"the picture could not be written: {e}"}}"#)
    })
}

fn semantic(state: &AppState) -> (bool, Option<String>) {
    match state.analyzer.semantic_status() {
        bordin_listen::SemanticStatus::On => (true, None),
        bordin_listen::SemanticStatus::Off { reason } => (
            false,
            Some(format!(
                "The semantic part (bond, goal and task evidence) is off: {reason}"
            )),
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Rooms

type Key = (String, String);

struct Room {
    live: tokio::sync::Mutex<LiveSession>,
    /// The last picture, for a page that joins late.
    last: std::sync::Mutex<Option<Arc<str>>>,
    tx: broadcast::Sender<Arc<str>>,
    access: CaseAccess,
    session_id: String,
    opened_by: String,
}

/// The live sessions in progress, by (clinic, session).
#[derive(Default)]
pub struct LiveHub {
    rooms: std::sync::Mutex<HashMap<Key, (Arc<Room>, usize)>>,
}

impl LiveHub {
    fn join(&self, key: Key, make: impl FnOnce() -> Room) -> Arc<Room> {
        let mut rooms = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
        let entry = rooms.entry(key).or_insert_with(|| (Arc::new(make()), 0));
        entry.1 += 1;
        Arc::clone(&entry.0)
    }

    /// Leaves a room; returns it when this was the last connection (the room is over).
    fn leave(&self, key: &Key) -> Option<Arc<Room>> {
        let mut rooms = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
        let entry = rooms.get_mut(key)?;
        entry.1 = entry.1.saturating_sub(1);
        if entry.1 == 0 {
            rooms.remove(key).map(|(r, _)| r)
        } else {
            None
        }
    }

    /// How many live sessions are in progress (for tests and metrics).
    pub fn rooms(&self) -> usize {
        self.rooms.lock().map_or(0, |r| r.len())
    }
}

/// Serves one connection to a session's live room until it closes.
pub async fn serve_session(
    state: AppState,
    access: CaseAccess,
    session_id: String,
    user_id: String,
    context: Context,
    socket: WebSocket,
) {
    let key = (access.clinic_id().to_owned(), session_id.clone());
    let room = state.live.join(key.clone(), || Room {
        live: tokio::sync::Mutex::new(LiveSession::new(Arc::clone(&state.analyzer), context)),
        last: std::sync::Mutex::new(None),
        tx: broadcast::channel(256).0,
        access: access.clone(),
        session_id: session_id.clone(),
        opened_by: user_id,
    });
    let stores =
        crate::transcripts::consent_in_force(&state, &access, ConsentKind::TranscriptAnalysis)
            .await;
    let (mut sink, mut stream) = socket.split();
    let mut rx = room.tx.subscribe();
    let (semantic, semantic_note) = semantic(&state);
    let turns = room.live.lock().await.transcript().turns.len();
    let mut hello = vec![json(&Outgoing::Hello {
        semantic,
        semantic_note,
        stores_transcript: stores,
        turns,
    })];
    if let Some(last) = room.last.lock().ok().and_then(|l| l.clone()) {
        hello.push(last.to_string());
    }
    let mut open = true;
    for m in hello {
        if sink.send(Message::text(m)).await.is_err() {
            open = false;
        }
    }
    while open {
        tokio::select! {
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    if let Err(message) = take_turn(&room, text.as_str()).await {
                        open = sink.send(Message::text(json(&Outgoing::Error { message }))).await.is_ok();
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    let message = "send each turn as JSON text: {\"speaker\", \"text\", \"start\", \"end\"}".to_owned();
                    open = sink.send(Message::text(json(&Outgoing::Error { message }))).await.is_ok();
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => open = false,
                Some(Ok(_)) => {}
            },
            picture = rx.recv() => match picture {
                Ok(p) => open = sink.send(Message::text(p.to_string())).await.is_ok(),
                // A slow page skips pictures; the next one is complete in itself.
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => open = false,
            },
        }
    }
    if let Some(room) = state.live.leave(&key) {
        finish(&state, &room).await;
    }
}

/// Adds one turn to the room and tells everyone, or says what is wrong with it.
async fn take_turn(room: &Room, text: &str) -> Result<(), String> {
    let turn: TurnIn = serde_json::from_str(text).map_err(|e| {
        format!("a turn is JSON {{\"speaker\", \"text\", \"start\", \"end\"}}: {e}")
    })?;
    let picture = {
        let mut live = room.live.lock().await;
        // Embedding one turn takes milliseconds (the live latency benchmark); inline, under the
        // lock that keeps the turns in order.
        live.push(turn).map_err(|e| e.to_string())?
    };
    let message: Arc<str> = json(&Outgoing::Picture { picture: &picture }).into();
    if let Ok(mut last) = room.last.lock() {
        *last = Some(Arc::clone(&message));
    }
    let _ = room.tx.send(message);
    Ok(())
}

/// The room is over: store its turns as the session's transcript if consent allows.
async fn finish(state: &AppState, room: &Room) {
    let analysis = {
        let live = room.live.lock().await;
        if live.transcript().turns.is_empty() {
            return;
        }
        live.analysis()
    };
    if !crate::transcripts::consent_in_force(state, &room.access, ConsentKind::TranscriptAnalysis)
        .await
    {
        return;
    }
    if let Err(e) = crate::transcripts::store_live(
        state,
        &room.access,
        &room.session_id,
        &room.opened_by,
        &analysis,
    )
    .await
    {
        tracing::error!(error = %e, "live session: transcript could not be stored");
    }
}

// ---------------------------------------------------------------------------------------------
// Replay

/// The first (and only) message of a replay: the transcript file's text, its format (`auto`
/// or empty to detect) and the speed factor.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    pub text: String,
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default)]
    pub speed: Option<f64>,
}

/// When each turn of a transcript is over, in seconds from the start of the replay: its end
/// (or start) time from the file, else at [`WORDS_PER_SECOND`].
pub fn replay_schedule(turns: &[bordin_listen::Turn]) -> Vec<f64> {
    let first = turns.iter().find_map(|t| t.start.or(t.end)).unwrap_or(0.0);
    let mut at = 0.0f64;
    turns
        .iter()
        .map(|t| {
            let spoken = t.end.or(t.start).map(|x| x - first);
            at = match spoken {
                Some(s) => s.max(at),
                None => at + t.text.split_whitespace().count() as f64 / WORDS_PER_SECOND,
            };
            at
        })
        .collect()
}

/// Streams a transcript through a fresh live session at real speed times `speed`. Nothing is
/// stored: replays are for training.
pub async fn serve_replay(state: AppState, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let request = loop {
        match stream.next().await {
            Some(Ok(Message::Text(t))) => break t,
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
            Some(Ok(_)) => {}
        }
    };
    let fail = |message: String| Message::text(json(&Outgoing::Error { message }));
    let req: ReplayRequest = match serde_json::from_str(request.as_str()) {
        Ok(r) => r,
        Err(e) => {
            let _ = sink
                .send(fail(format!(
                    "a replay starts with {{\"text\", \"format\", \"speed\"}}: {e}"
                )))
                .await;
            return;
        }
    };
    let speed = req.speed.unwrap_or(1.0);
    if !SPEEDS.contains(&speed) {
        let _ = sink
            .send(fail(format!(
                "speed: expected {} to {}, found {speed}",
                SPEEDS.start(),
                SPEEDS.end()
            )))
            .await;
        return;
    }
    let format = match req
        .format
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty() && *f != "auto")
    {
        Some(f) => match f.parse::<Format>() {
            Ok(f) => f,
            Err(e) => {
                let _ = sink.send(fail(format!("format: {e}"))).await;
                return;
            }
        },
        None => Format::detect(&req.text),
    };
    let transcript = match bordin_listen::parse(&req.text, format) {
        Ok(t) => t,
        Err(e) => {
            let _ = sink
                .send(fail(format!("{e} (read as {})", format.as_str())))
                .await;
            return;
        }
    };
    let (semantic, semantic_note) = semantic(&state);
    if sink
        .send(Message::text(json(&Outgoing::Hello {
            semantic,
            semantic_note,
            stores_transcript: false,
            turns: 0,
        })))
        .await
        .is_err()
    {
        return;
    }
    let mut live = LiveSession::new(Arc::clone(&state.analyzer), Context::default());
    let schedule = replay_schedule(&transcript.turns);
    let started = tokio::time::Instant::now();
    for (turn, at) in transcript.turns.iter().zip(schedule) {
        let due = started + Duration::from_secs_f64((at / speed).max(0.0));
        tokio::select! {
            () = tokio::time::sleep_until(due) => {}
            m = stream.next() => {
                if matches!(m, Some(Ok(Message::Close(_))) | Some(Err(_)) | None) {
                    return;
                }
            }
        }
        let message = match live.push(TurnIn {
            speaker: turn.speaker.clone(),
            text: turn.text.clone(),
            start: turn.start,
            end: turn.end,
        }) {
            Ok(p) => json(&Outgoing::Picture { picture: &p }),
            Err(e) => json(&Outgoing::Error {
                message: e.to_string(),
            }),
        };
        if sink.send(Message::text(message)).await.is_err() {
            return;
        }
    }
    let turns = live.transcript().turns.len();
    let _ = sink
        .send(Message::text(json(&Outgoing::End { turns })))
        .await;
}

// ---------------------------------------------------------------------------------------------
// Priming: last session's scores

/// Measures shown for priming, with their words.
const PRIMING: [(&str, &str); 10] = [
    ("session_check.total", "Session Check total"),
    ("session_check.bond", "bond (Session Check)"),
    ("session_check.goal", "goal agreement (Session Check)"),
    ("session_check.task", "task agreement (Session Check)"),
    ("wai_sr.total", "WAI-SR total"),
    ("wai_sr.bond", "bond (WAI-SR)"),
    ("wai_sr.goal", "goal agreement (WAI-SR)"),
    ("wai_sr.task", "task agreement (WAI-SR)"),
    ("phq9.total", "PHQ-9 (depression)"),
    ("gad7.total", "GAD-7 (anxiety)"),
];

/// One line of priming: a measure's latest value and how it moved since the one before.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrimingLine {
    pub measure: String,
    pub words: String,
    pub session: i64,
    pub value: f64,
    pub previous: Option<(i64, f64)>,
    /// e.g. "task agreement (Session Check) fell last session: 8 → 5".
    pub sentence: String,
}

/// The client's latest alliance and outcome scores before this session, each with its change,
/// from the monitoring series. `before` is the number of the live session (its own scores, if
/// any already arrived, are not primed).
pub async fn priming(
    state: &AppState,
    access: &CaseAccess,
    before: i64,
) -> Result<Vec<PrimingLine>, AppError> {
    let series = state
        .store
        .case_series(access.clinic_id(), access.case_id())
        .await?;
    let case = state
        .store
        .case(access.clinic_id(), access.case_id())
        .await?;
    let Some(subject) = case
        .clients
        .iter()
        .find_map(|c| series.subjects.get(&c.client_id))
    else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (measure, words) in PRIMING {
        let Some(points) = subject.get(measure) else {
            continue;
        };
        let earlier: Vec<(i64, f64)> = points.iter().copied().filter(|p| p.0 < before).collect();
        let Some(&(session, value)) = earlier.last() else {
            continue;
        };
        let previous = earlier.len().checked_sub(2).map(|i| earlier[i]);
        let sentence = match previous {
            Some((_, p)) if value < p => {
                format!(
                    "{words} fell last time: {} → {} (session {session})",
                    fmt(p),
                    fmt(value)
                )
            }
            Some((_, p)) if value > p => {
                format!(
                    "{words} rose last time: {} → {} (session {session})",
                    fmt(p),
                    fmt(value)
                )
            }
            Some(_) => format!("{words} held at {} (session {session})", fmt(value)),
            None => format!("{words}: {} (session {session})", fmt(value)),
        };
        out.push(PrimingLine {
            measure: measure.to_owned(),
            words: words.to_owned(),
            session,
            value,
            previous,
            sentence,
        });
    }
    Ok(out)
}

fn fmt(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(start: Option<f64>, end: Option<f64>, text: &str) -> bordin_listen::Turn {
        bordin_listen::Turn {
            speaker: "A".into(),
            role: None,
            start,
            end,
            text: text.into(),
        }
    }

    #[test]
    fn a_replay_sends_each_turn_when_it_ends_from_the_first_start() {
        let s = replay_schedule(&[
            turn(Some(10.0), Some(12.0), "a"),
            turn(Some(13.0), Some(20.5), "b"),
        ]);
        assert_eq!(s, vec![2.0, 10.5]);
    }

    #[test]
    fn an_untimed_replay_runs_at_150_words_a_minute() {
        // 5 words = 2 s, then 10 words = 4 s more.
        let s = replay_schedule(&[
            turn(None, None, "one two three four five"),
            turn(None, None, "a b c d e f g h i j"),
        ]);
        assert_eq!(s, vec![2.0, 6.0]);
    }
}
