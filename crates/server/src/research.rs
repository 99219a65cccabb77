//! The research export, shared by `bordin export research` and the admin's download
//! (`GET /admin/research-export.csv`, `GET /admin/research-codebook.json`).
//!
//! Only clients whose research-export consent is in force in the case are exported (the store
//! reads the latest decision per case and client, the rule of [`crate::consent`]); clients
//! appear by pseudonymous code only.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use bordin_core::{Instrument, Registry};
use bordin_interop::research::{self, Codebook, ExportOptions, ExportResponse, ExportSummary};
use bordin_store::Store;
use serde::Deserialize;

use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::state::AppState;

/// An export in memory: the CSV, its codebook and what it holds.
pub struct Export {
    pub csv: Vec<u8>,
    pub codebook: Codebook,
    pub summary: ExportSummary,
}

/// `YYYY-MM-DD` of a millisecond timestamp (UTC).
fn ms_date(ms: i64) -> String {
    let (y, m, d) = research::civil_from_days(ms.div_euclid(86_400_000));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Builds the export of a clinic. With `shift_seed`, each client's dates move by a fixed random
/// number of days in −182..=182 (never 0), drawn from the seed in order of first appearance.
pub async fn export(
    store: &Store,
    registry: &Registry,
    clinic_id: &str,
    mut opts: ExportOptions,
    shift_seed: Option<u64>,
) -> Result<Export, AppError> {
    for (name, d) in [("from", &opts.from), ("to", &opts.to)] {
        if let Some(d) = d {
            if !bordin_core::goals::is_calendar_date(d) {
                return Err(AppError::BadRequest(format!(
                    "{name} '{d}' is not a date (YYYY-MM-DD)"
                )));
            }
        }
    }
    let rows = store.research_responses(clinic_id).await?;
    // An export reads many clients' answers: one entry in the trail names it (the actor is the
    // admin in a request, the system on the command line).
    store
        .audit(&bordin_store::AuditEvent {
            clinic_id,
            action: "export",
            object_type: "research_export",
            object_id: &format!("{} consented responses", rows.len()),
            case_id: None,
            outcome: bordin_store::Outcome::Ok,
        })
        .await?;
    if let Some(seed) = shift_seed {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
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
    let dates: Vec<String> = rows
        .iter()
        .map(|r| {
            r.held_on
                .clone()
                .unwrap_or_else(|| ms_date(r.response.submitted_at))
        })
        .collect();
    let mut used: BTreeMap<String, Arc<Instrument>> = BTreeMap::new();
    let mut export = Vec::with_capacity(rows.len());
    for (r, date) in rows.iter().zip(&dates) {
        let inst = registry.get(&r.response.instrument_id).ok_or_else(|| {
            AppError::Internal(format!(
                "instrument '{}' of stored responses is not installed",
                r.response.instrument_id
            ))
        })?;
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
    let mut csv = Vec::new();
    let summary = research::write_export(&mut csv, &export, &opts)
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let instruments: Vec<&Instrument> = used.values().map(|i| &**i).collect();
    Ok(Export {
        csv,
        codebook: research::codebook(&instruments, &opts),
        summary,
    })
}

/// Query of the admin's download.
#[derive(Deserialize)]
pub struct ExportQuery {
    from: Option<String>,
    to: Option<String>,
    /// `1`/`true`: shift each client's dates.
    shift_dates: Option<String>,
}

impl ExportQuery {
    fn options(&self) -> (ExportOptions, Option<u64>) {
        let opts = ExportOptions {
            from: self.from.clone().filter(|s| !s.is_empty()),
            to: self.to.clone().filter(|s| !s.is_empty()),
            ..Default::default()
        };
        let shift = matches!(self.shift_dates.as_deref(), Some("1" | "true" | "on"));
        (opts, shift.then(rand::random::<u64>))
    }
}

/// `GET /admin/research-export.csv` (admins): the long CSV of the admin's clinic.
pub async fn download_csv(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<ExportQuery>,
) -> Result<Response, AppError> {
    let registry = state.registry(user.clinic_id()).await?;
    let (opts, seed) = q.options();
    let e = export(&state.store, &registry, user.clinic_id(), opts, seed).await?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"research.csv\""),
            ),
        ],
        e.csv,
    )
        .into_response())
}

/// `GET /admin/research-codebook.json` (admins): the codebook for the same query.
pub async fn download_codebook(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<ExportQuery>,
) -> Result<Response, AppError> {
    let registry = state.registry(user.clinic_id()).await?;
    let (opts, seed) = q.options();
    let e = export(&state.store, &registry, user.clinic_id(), opts, seed).await?;
    // The codebook says whether dates are shifted; the offsets themselves are never given out.
    Ok(axum::Json(e.codebook).into_response())
}
