//! Reads and writes for the exchange formats (FHIR, research export, historical import).
//!
//! - Clients by id and their cases, current responses of a client (FHIR search).
//! - The research export's source rows: current responses with their stored scores, for the
//!   (case, client) pairs whose latest research-export consent is a grant.
//! - The historical import: clients, closed cases, sessions, responses and scores written in
//!   **one** transaction, so a file either arrives whole or not at all; each source case key is
//!   recorded in `imported_cases` so the same case cannot be imported twice.

use std::collections::{BTreeMap, HashMap, HashSet};

use bordin_core::care::{CaseStatus, Modality, ResponseSource, SessionStatus};
use bordin_core::goals::ConsentKind;
use bordin_core::{Answers, Instrument, Respondent, ScoreSheet};
use sqlx::Row;

use crate::forms::insert_response;
use crate::{new_id, ClientRow, NewResponse, ResponseRow, Result, Store, StoreError};

/// One current response for the research export, with its scores as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ResearchResponse {
    pub response: ResponseRow,
    pub client_code: String,
    pub case_status: CaseStatus,
    pub session_number: Option<i64>,
    pub held_on: Option<String>,
    /// (scale id, exact value `num/den` or `num`), for scales that were scored.
    pub scores: Vec<(String, String)>,
}

/// A historical response to import: answers when the file had items (scored by the core) and
/// the scores that go with it.
#[derive(Debug, Clone)]
pub struct HistoricalResponse<'a> {
    pub instrument: &'a Instrument,
    pub respondent: Respondent,
    pub answers: Answers,
    pub sheet: ScoreSheet,
    pub submitted_at: i64,
}

/// A session of a historical case.
#[derive(Debug, Clone)]
pub struct HistoricalSession<'a> {
    pub number: i64,
    pub held_on: String,
    pub responses: Vec<HistoricalResponse<'a>>,
}

/// A historical case of one client.
#[derive(Debug, Clone)]
pub struct HistoricalCase<'a> {
    /// The case's key in the source data (recorded so it is imported once).
    pub key: String,
    pub client_code: String,
    pub status: CaseStatus,
    pub opened_on: String,
    pub closed_on: Option<String>,
    pub sessions: Vec<HistoricalSession<'a>>,
}

/// What an import wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub clients_created: usize,
    pub cases: usize,
    pub sessions: usize,
    pub responses: usize,
}

impl Store {
    /// A client by Bordin's id.
    pub async fn client_by_id(
        &self,
        clinic_id: &str,
        client_id: &str,
    ) -> Result<Option<ClientRow>> {
        let r = sqlx::query(
            "SELECT client_id, code, display_name FROM clients WHERE clinic_id = $1 AND client_id = $2",
        )
        .bind(clinic_id)
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?;
        r.map(|r| {
            Ok(ClientRow {
                client_id: r.try_get("client_id")?,
                code: r.try_get("code")?,
                display_name: r.try_get("display_name")?,
            })
        })
        .transpose()
    }

    /// The cases a client belongs to.
    pub async fn case_ids_of_client(
        &self,
        clinic_id: &str,
        client_id: &str,
    ) -> Result<Vec<String>> {
        sqlx::query("SELECT case_id FROM case_clients WHERE clinic_id = $1 AND client_id = $2 ORDER BY case_id")
            .bind(clinic_id)
            .bind(client_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok(r.try_get("case_id")?))
            .collect()
    }

    /// The current (not superseded) responses given by or about a client in one case, oldest
    /// first.
    pub async fn current_responses(
        &self,
        clinic_id: &str,
        case_id: &str,
        client_id: &str,
    ) -> Result<Vec<ResponseRow>> {
        let ids: Vec<String> = sqlx::query(
            "SELECT r.response_id FROM responses r WHERE r.clinic_id = $1 AND r.case_id = $2 AND r.client_id = $3
               AND NOT EXISTS (SELECT 1 FROM responses n WHERE n.clinic_id = r.clinic_id AND n.supersedes = r.response_id)
             ORDER BY r.submitted_at, r.response_id",
        )
        .bind(clinic_id)
        .bind(case_id)
        .bind(client_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| r.try_get("response_id"))
        .collect::<std::result::Result<_, _>>()?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.response(clinic_id, &id).await?);
        }
        Ok(out)
    }

    /// (case id, client id) pairs whose latest research-export decision is a grant.
    pub async fn research_consents(&self, clinic_id: &str) -> Result<HashSet<(String, String)>> {
        let rows = sqlx::query(
            "SELECT case_id, client_id, decision FROM consent_records WHERE clinic_id = $1 AND kind = $2 ORDER BY at, consent_id",
        )
        .bind(clinic_id)
        .bind(ConsentKind::ResearchExport.as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut latest: HashMap<(String, String), bool> = HashMap::new();
        for r in &rows {
            let d: String = r.try_get("decision")?;
            latest.insert(
                (r.try_get("case_id")?, r.try_get("client_id")?),
                d == crate::goals::GRANTED,
            );
        }
        Ok(latest
            .into_iter()
            .filter(|(_, g)| *g)
            .map(|(k, _)| k)
            .collect())
    }

    /// Current responses of clients who consented to research export (in that case), with
    /// their sessions and stored scores, ordered by client code, case, session, time.
    pub async fn research_responses(&self, clinic_id: &str) -> Result<Vec<ResearchResponse>> {
        let consents = self.research_consents(clinic_id).await?;
        if consents.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT r.response_id, r.case_id, r.client_id, c.code, k.status, se.number, se.held_on
             FROM responses r
             JOIN clients c ON c.clinic_id = r.clinic_id AND c.client_id = r.client_id
             JOIN cases k ON k.clinic_id = r.clinic_id AND k.case_id = r.case_id
             LEFT JOIN sessions se ON se.clinic_id = r.clinic_id AND se.session_id = r.session_id
             WHERE r.clinic_id = $1
               AND NOT EXISTS (SELECT 1 FROM responses n WHERE n.clinic_id = r.clinic_id AND n.supersedes = r.response_id)
             ORDER BY c.code, r.case_id, se.number, r.submitted_at, r.response_id",
        )
        .bind(clinic_id)
        .fetch_all(&self.pool)
        .await?;
        let scores = sqlx::query(
            "SELECT s.response_id, s.scale_id, s.exact FROM scores s WHERE s.clinic_id = $1 AND s.exact IS NOT NULL",
        )
        .bind(clinic_id)
        .fetch_all(&self.pool)
        .await?;
        let mut by_response: HashMap<String, Vec<(String, String)>> = HashMap::new();
        for s in &scores {
            by_response
                .entry(s.try_get("response_id")?)
                .or_default()
                .push((s.try_get("scale_id")?, s.try_get("exact")?));
        }
        let mut out = Vec::new();
        for r in &rows {
            let case_id: String = r.try_get("case_id")?;
            let client_id: String = r.try_get("client_id")?;
            if !consents.contains(&(case_id, client_id)) {
                continue;
            }
            let id: String = r.try_get("response_id")?;
            let status: String = r.try_get("status")?;
            out.push(ResearchResponse {
                response: self.response(clinic_id, &id).await?,
                client_code: r.try_get("code")?,
                case_status: CaseStatus::parse(&status).ok_or_else(|| {
                    StoreError::Corrupt(format!("unknown case status '{status}'"))
                })?,
                session_number: r.try_get("number")?,
                held_on: r.try_get("held_on")?,
                scores: by_response.remove(&id).unwrap_or_default(),
            });
        }
        Ok(out)
    }

    /// Imports historical cases in one transaction. A case key imported before, or any other
    /// failure, rolls the whole import back.
    pub async fn import_history(
        &self,
        clinic_id: &str,
        cases: &[HistoricalCase<'_>],
        entered_by: &str,
        at: i64,
    ) -> Result<ImportSummary> {
        let mut tx = self.write_tx().await?;
        let mut summary = ImportSummary::default();
        let mut clients: BTreeMap<String, String> = BTreeMap::new();
        for case in cases {
            let done = sqlx::query(
                "SELECT case_id FROM imported_cases WHERE clinic_id = $1 AND source_key = $2",
            )
            .bind(clinic_id)
            .bind(&case.key)
            .fetch_optional(&mut *tx)
            .await?;
            if done.is_some() {
                tx.rollback().await?;
                return Err(StoreError::Conflict(format!(
                    "case '{}' was imported before; nothing was imported",
                    case.key
                )));
            }
            let client_id = match clients.get(&case.client_code) {
                Some(id) => id.clone(),
                None => {
                    let existing = sqlx::query(
                        "SELECT client_id FROM clients WHERE clinic_id = $1 AND code = $2",
                    )
                    .bind(clinic_id)
                    .bind(&case.client_code)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let id = match existing {
                        Some(r) => r.try_get("client_id")?,
                        None => {
                            let id = new_id();
                            sqlx::query("INSERT INTO clients (clinic_id, client_id, code, display_name, created_at) VALUES ($1, $2, $3, NULL, $4)")
                                .bind(clinic_id)
                                .bind(&id)
                                .bind(&case.client_code)
                                .bind(at)
                                .execute(&mut *tx)
                                .await?;
                            summary.clients_created += 1;
                            id
                        }
                    };
                    clients.insert(case.client_code.clone(), id.clone());
                    id
                }
            };
            let setting: String = sqlx::query("SELECT setting FROM clinics WHERE clinic_id = $1")
                .bind(clinic_id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound { what: "clinic" })?
                .try_get("setting")?;
            let case_id = new_id();
            sqlx::query("INSERT INTO cases (clinic_id, case_id, title, setting, status, opened_on, closed_on, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                .bind(clinic_id)
                .bind(&case_id)
                .bind(format!("Imported {}", case.key))
                .bind(&setting)
                .bind(case.status.as_str())
                .bind(&case.opened_on)
                .bind(case.closed_on.as_deref())
                .bind(at)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO case_clients (clinic_id, case_id, client_id) VALUES ($1, $2, $3)",
            )
            .bind(clinic_id)
            .bind(&case_id)
            .bind(&client_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("INSERT INTO imported_cases (clinic_id, source_key, case_id, imported_at, imported_by) VALUES ($1, $2, $3, $4, $5)")
                .bind(clinic_id)
                .bind(&case.key)
                .bind(&case_id)
                .bind(at)
                .bind(entered_by)
                .execute(&mut *tx)
                .await?;
            summary.cases += 1;
            for s in &case.sessions {
                let session_id = new_id();
                sqlx::query("INSERT INTO sessions (clinic_id, session_id, case_id, number, held_on, modality, status, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                    .bind(clinic_id)
                    .bind(&session_id)
                    .bind(&case_id)
                    .bind(s.number)
                    .bind(&s.held_on)
                    .bind(Modality::InPerson.as_str())
                    .bind(SessionStatus::Attended.as_str())
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                summary.sessions += 1;
                for r in &s.responses {
                    let client = (r.respondent == Respondent::Client).then_some(client_id.as_str());
                    insert_response(
                        &mut tx,
                        clinic_id,
                        &new_id(),
                        &NewResponse {
                            administration_id: None,
                            case_id: &case_id,
                            session_id: Some(&session_id),
                            client_id: client.or(Some(client_id.as_str())),
                            instrument: r.instrument,
                            respondent: r.respondent,
                            answers: &r.answers,
                            sheet: &r.sheet,
                            submitted_at: r.submitted_at,
                            entered_by,
                            source: ResponseSource::Import,
                        },
                        1,
                        None,
                        None,
                    )
                    .await?;
                    summary.responses += 1;
                }
            }
            crate::monitoring::refresh_case_series(&mut tx, clinic_id, &case_id, at).await?;
        }
        tx.commit().await?;
        Ok(summary)
    }
}
