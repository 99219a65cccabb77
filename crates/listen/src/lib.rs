//! `bordin-listen`: what Bordin hears in a session transcript.
//!
//! The crate is pure computation over text: no async runtime, no database, no network. Files come
//! in as `&str`, the model from a local folder.
//!
//! ```text
//! text ──parse──▶ Transcript ──Analyzer::analyze(&Context)──▶ Analysis (serde: the JSON of `bordin analyze`)
//! turns one by one ──LiveSession::push──▶ LivePicture (the live co-pilot's answer to each turn)
//! ```
//!
//! * [`parse`] reads WebVTT, SRT, WhisperX-style diarised JSON and plain `Speaker: text` files;
//!   errors name the line and what was expected ([`ParseError`]).
//! * [`Context`] carries what the case knows: the clinicians' and clients' names (for mapping
//!   speakers to roles), explicit speaker→role choices, and the agreed goals and tasks.
//! * [`Analyzer`] computes conversation features (talk share, silences, latencies, questions,
//!   directive and collaborative language), rule-based rupture markers (3RS withdrawal and
//!   confrontation), goal coverage and — when the embedding model is present — per-turn bond,
//!   goal and task evidence. Without the model it says so ([`SemanticStatus::Off`]).
//! * [`LiveSession`] takes turns as they are spoken and answers each with a [`LivePicture`];
//!   only the new turn is embedded.
//!
//! Everything here is evidence to look at beside the client's own ratings, never a score that
//! replaces them (transcript-based estimates correlate weakly with client-rated alliance).
//!
//! ```
//! use bordin_listen::{parse, Analyzer, Context, Format, Role};
//! let text = "Therapist: What would you like to work on today?\nSam: I don't know.\n";
//! let transcript = parse(text, Format::Txt).unwrap();
//! let mut context = Context::default();
//! context.clients.push("Sam".into());
//! let analysis = Analyzer::without_model().analyze(&transcript, &context);
//! assert_eq!(analysis.turns[0].role, Some(Role::Clinician));
//! assert_eq!(analysis.markers[0].subtype, "minimal_response");
//! assert!(!analysis.session.semantic);
//! ```

#[cfg(feature = "semantic")]
mod amx;
mod analysis;
#[cfg(feature = "semantic")]
mod bert;
mod context;
pub mod eval;
mod features;
#[cfg(feature = "semantic")]
mod kernels;
mod live;
mod markers;
pub mod model;
mod parse;
#[cfg(feature = "semantic")]
mod prototypes;
#[cfg(feature = "semantic")]
mod semantic;
mod text;
mod transcript;

pub use analysis::{
    Analysis, Analyzer, Estimate, GoalCoverage, GoalEvidence, SemanticStatus, SessionSummary,
    TurnReport,
};
pub use context::{Context, GoalText};
pub use features::{LatencyStats, Silence, SpeakerStats, MIN_SILENCE_SECONDS};
pub use live::{LivePicture, LiveSession, SilenceInfo, TurnError, TurnIn};
pub use markers::{Marker, MarkerKind};
pub use model::{Arithmetic, ModelError};
pub use parse::{parse, ParseError, MAX_INPUT_BYTES};
pub use transcript::{Format, Role, Transcript, Turn, UnknownFormat};

#[cfg(feature = "semantic")]
pub use semantic::Embedder;
