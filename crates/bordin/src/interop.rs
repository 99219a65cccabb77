//! `bordin fhir …`, `bordin export research` and `bordin import scores`: files and the database
//! on one side, `bordin-interop`'s pure formats on the other, and the server's actions in
//! between (so an imported FHIR response is scored and alerted as on the HTTP route).

use std::collections::BTreeMap;
use std::path::Path;

use bordin_core::{Registry, Setting};
use bordin_interop::fhir::{self, Issue};
use bordin_interop::research::{self, ExportOptions, ExportResponse, ExportSummary, LineError};
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

/// `YYYY-MM-DD` of a millisecond timestamp (UTC).
fn ms_date(ms: i64) -> String {
    let (y, m, d) = research::civil_from_days(ms.div_euclid(86_400_000));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Writes `research.csv` and `codebook.json` into `dir`: the clinic's responses from clients
/// whose research-export consent is in force, inside the date range. With `shift_seed`, each
/// client's dates move by a fixed random number of days in −182..=182 (never 0).
pub async fn export_research(
    store: &Store,
    registry: &Registry,
    clinic_id: &str,
    mut opts: ExportOptions,
    shift_seed: Option<u64>,
    dir: &Path,
) -> Result<ExportSummary, InteropError> {
    for (flag, d) in [("--from", &opts.from), ("--to", &opts.to)] {
        if let Some(d) = d {
            if !bordin_core::goals::is_calendar_date(d) {
                return Err(InteropError::BadInput(vec![format!(
                    "{flag} '{d}' is not a date (YYYY-MM-DD)"
                )]));
            }
        }
    }
    store.clinic(clinic_id).await.map_err(|_| {
        InteropError::BadInput(vec![format!("no clinic '{clinic_id}' in this database")])
    })?;
    let rows = store.research_responses(clinic_id).await.map_err(failed)?;
    if let Some(seed) = shift_seed {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
        for r in &rows {
            if !opts.shift_days.contains_key(&r.client_code) {
                let mut d = 0;
                while d == 0 {
                    d = rng.gen_range(-182..=182);
                }
                opts.shift_days.insert(r.client_code.clone(), d);
            }
        }
    }
    let mut dates = Vec::with_capacity(rows.len());
    for r in &rows {
        dates.push(
            r.held_on
                .clone()
                .unwrap_or_else(|| ms_date(r.response.submitted_at)),
        );
    }
    let mut used: BTreeMap<String, std::sync::Arc<bordin_core::Instrument>> = BTreeMap::new();
    let mut export = Vec::with_capacity(rows.len());
    for (r, date) in rows.iter().zip(&dates) {
        let Some(inst) = registry.get(&r.response.instrument_id) else {
            return Err(failed(format!(
                "instrument '{}' of stored responses is not installed (add it with --instruments)",
                r.response.instrument_id
            )));
        };
        used.insert(inst.id.clone(), inst.clone());
        export.push(ExportResponse {
            clinic_id,
            client_code: &r.client_code,
            case_key: &r.response.case_id,
            case_status: r.case_status,
            session_number: r.session_number,
            date,
            instrument: inst,
            respondent: r.response.respondent,
            response_key: &r.response.response_id,
            source: r.response.source,
            answers: &r.response.answers,
            scores: &r.scores,
        });
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| failed(format!("cannot create {}: {e}", dir.display())))?;
    let csv_path = dir.join("research.csv");
    let file = std::fs::File::create(&csv_path)
        .map_err(|e| failed(format!("cannot write {}: {e}", csv_path.display())))?;
    let summary =
        research::write_export(std::io::BufWriter::new(file), &export, &opts).map_err(failed)?;
    let instruments: Vec<&bordin_core::Instrument> = used.values().map(|i| &**i).collect();
    let book = research::codebook(&instruments, &opts);
    let book_path = dir.join("codebook.json");
    std::fs::write(
        &book_path,
        serde_json::to_vec_pretty(&book).map_err(failed)?,
    )
    .map_err(|e| failed(format!("cannot write {}: {e}", book_path.display())))?;
    Ok(summary)
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
