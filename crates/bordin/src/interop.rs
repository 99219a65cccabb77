//! `bordin fhir …`, `bordin export research` and `bordin import scores`: files and the database
//! on one side, `bordin-interop`'s pure formats on the other, and the server's actions in
//! between (so an imported FHIR response is scored and alerted as on the HTTP route).

use std::path::Path;

use bordin_core::{Registry, Setting};
use bordin_interop::fhir::{self, Issue};
use bordin_interop::research::{self, ExportOptions, ExportSummary, LineError};
use bordin_server::fhir::{Importer, Target};
use bordin_server::AppState;
use bordin_store::{HistoricalCase, HistoricalResponse, HistoricalSession, ImportSummary, Store};

/// Errors of these commands; bad input (exit status 2) is told apart from failures (1).
#[derive(Debug, thiserror::Error)]
pub enum InteropError {
    /// The input is invalid; nothing was imported.
    #[error("{}", .0.join("\n"))]
    BadInput(Vec<String>),
    /// Some entries were imported before a failure.
    #[error("imported {} of {total} responses ({}); then entry {failed} failed: {error}", imported.len(), imported.join(", "))]
    Partial {
        imported: Vec<String>,
        total: usize,
        failed: String,
        error: String,
    },
    #[error("{0}")]
    Failed(String),
}

impl InteropError {
    /// Exit status: 2 for bad input (reported per entry or line), 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::BadInput(_) => 2,
            _ => 1,
        }
    }
}

fn failed(e: impl std::fmt::Display) -> InteropError {
    InteropError::Failed(e.to_string())
}

/// The Questionnaire of a shipped (or `--instruments`) instrument, as pretty JSON. Licence-gated
/// instruments have no wording here (text packs live in a clinic's database; use the server's
/// `/fhir/Questionnaire/{id}`), so they are refused with the registry's reason.
pub fn questionnaire(registry: &Registry, id: &str) -> Result<String, InteropError> {
    let form = registry
        .form(&fhir::instrument_id(id), &Setting::Therapy.words())
        .map_err(|e| InteropError::BadInput(vec![format!("{} {}", e.reason, e.fix)]))?;
    serde_json::to_string_pretty(&fhir::questionnaire::questionnaire(&form)).map_err(failed)
}

fn issues(list: &[Issue]) -> Vec<String> {
    list.iter().map(ToString::to_string).collect()
}

/// Imports a QuestionnaireResponse or a Bundle of them into a clinic. Every entry is read,
/// checked and matched to a client and case before the first is stored: a bad bundle imports
/// nothing. Returns the new response ids in entry order.
pub async fn fhir_import(
    state: &AppState,
    clinic_id: &str,
    text: &[u8],
) -> Result<Vec<String>, InteropError> {
    state.store.clinic(clinic_id).await.map_err(|_| {
        InteropError::BadInput(vec![format!("no clinic '{clinic_id}' in this database")])
    })?;
    let registry = state.registry(clinic_id).await.map_err(failed)?;
    let reads =
        fhir::response::read(text, &registry).map_err(|i| InteropError::BadInput(issues(&i)))?;
    let who = Importer::Operator { clinic_id };
    let mut targets: Vec<Target> = Vec::with_capacity(reads.len());
    let mut problems = Vec::new();
    for r in &reads {
        match bordin_server::fhir::resolve(state, who, r).await {
            Ok(t) => targets.push(t),
            Err(e) => problems.extend(issues(&e.outcome.issue)),
        }
    }
    if !problems.is_empty() {
        return Err(InteropError::BadInput(problems));
    }
    let mut imported = Vec::with_capacity(reads.len());
    for (r, t) in reads.iter().zip(&targets) {
        match bordin_server::fhir::store(state, who, t, r).await {
            Ok(id) => imported.push(id),
            Err(e) => {
                return Err(InteropError::Partial {
                    imported,
                    total: reads.len(),
                    failed: r.at.clone(),
                    error: e.to_string(),
                })
            }
        }
    }
    Ok(imported)
}

/// Writes `research.csv` and `codebook.json` into `dir` (the export is the server's
/// [`bordin_server::research::export`], also behind the admin's download).
pub async fn export_research(
    store: &Store,
    registry: &Registry,
    clinic_id: &str,
    opts: ExportOptions,
    shift_seed: Option<u64>,
    dir: &Path,
) -> Result<ExportSummary, InteropError> {
    store.clinic(clinic_id).await.map_err(|_| {
        InteropError::BadInput(vec![format!("no clinic '{clinic_id}' in this database")])
    })?;
    let e = bordin_server::research::export(store, registry, clinic_id, opts, shift_seed)
        .await
        .map_err(|e| match e {
            bordin_server::error::AppError::BadRequest(m) => InteropError::BadInput(vec![m]),
            other => failed(other),
        })?;
    std::fs::create_dir_all(dir)
        .map_err(|e| failed(format!("cannot create {}: {e}", dir.display())))?;
    let csv_path = dir.join("research.csv");
    std::fs::write(&csv_path, &e.csv)
        .map_err(|err| failed(format!("cannot write {}: {err}", csv_path.display())))?;
    let book_path = dir.join("codebook.json");
    std::fs::write(
        &book_path,
        serde_json::to_vec_pretty(&e.codebook).map_err(failed)?,
    )
    .map_err(|err| failed(format!("cannot write {}: {err}", book_path.display())))?;
    Ok(e.summary)
}

/// Imports historical scores (the research CSV's columns) into a clinic, in one transaction.
pub async fn import_scores(
    store: &Store,
    registry: &Registry,
    clinic_id: &str,
    text: &[u8],
    at: i64,
) -> Result<ImportSummary, InteropError> {
    store.clinic(clinic_id).await.map_err(|_| {
        InteropError::BadInput(vec![format!("no clinic '{clinic_id}' in this database")])
    })?;
    let cases = research::read_scores(text, registry)
        .map_err(|e| InteropError::BadInput(e.iter().map(LineError::to_string).collect()))?;
    let historical: Vec<HistoricalCase> = cases
        .iter()
        .map(|c| HistoricalCase {
            key: c.key.clone(),
            client_code: c.client_code.clone(),
            status: c.status,
            opened_on: c.opened_on.clone(),
            closed_on: c.closed_on.clone(),
            sessions: c
                .sessions
                .iter()
                .map(|s| HistoricalSession {
                    number: s.number,
                    held_on: s.date.clone(),
                    responses: s
                        .responses
                        .iter()
                        .map(|r| HistoricalResponse {
                            instrument: &r.instrument,
                            respondent: r.respondent,
                            answers: r.answers.clone(),
                            sheet: r.sheet.clone(),
                            // Noon UTC of the session's day: the source has dates, not times.
                            submitted_at: research::date_days(&s.date).unwrap_or(0) * 86_400_000
                                + 43_200_000,
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect();
    store
        .import_history(clinic_id, &historical, "import:scores", at)
        .await
        .map_err(|e| match e {
            bordin_store::StoreError::Conflict(m) => InteropError::BadInput(vec![m]),
            other => failed(other),
        })
}
