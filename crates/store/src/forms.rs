//! Administrations (requests to fill an instrument), responses (immutable answers), their scores
//! and flags, and the clinic's text packs.

use bordin_core::care::{AdministrationStatus, ResponseSource};
use bordin_core::{exact_decimal, Answers, Instrument, Respondent, ScoreSheet};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::audit::AuditEvent;
use crate::{new_id, Result, Store, StoreError};

/// A client link as [`Store::link_by_token`] reads it.
#[derive(Debug, Clone)]
pub struct LinkRow {
    pub administration: AdministrationRow,
    /// The setting of the administration's case.
    pub setting: bordin_core::Setting,
    /// Whether the latest decision of the administration's client on questionnaire consent is
    /// a grant (false when there is none, or no client).
    pub questionnaire_consent: bool,
    /// The clinic's text pack for the administration's instrument, when it has one.
    pub pack: Option<String>,
}

/// A request for one instrument, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdministrationRow {
    pub clinic_id: String,
    pub administration_id: String,
    pub case_id: String,
    pub session_id: Option<String>,
    pub client_id: Option<String>,
    pub instrument_id: String,
    pub instrument_version: String,
    pub respondent: Respondent,
    pub expires_at: Option<i64>,
    pub status: AdministrationStatus,
    pub created_at: i64,
    pub completed_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct NewAdministration<'a> {
    pub case_id: &'a str,
    pub session_id: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub instrument: &'a Instrument,
    pub respondent: Respondent,
    /// SHA-256 of the link secret, when the form is sent as a link.
    pub token_hash: Option<&'a str>,
    pub expires_at: Option<i64>,
    pub created_by: &'a str,
}

/// A response to store, already validated and scored by the core.
#[derive(Debug, Clone)]
pub struct NewResponse<'a> {
    pub administration_id: Option<&'a str>,
    pub case_id: &'a str,
    pub session_id: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub instrument: &'a Instrument,
    pub respondent: Respondent,
    pub answers: &'a Answers,
    pub sheet: &'a ScoreSheet,
    pub submitted_at: i64,
    pub entered_by: &'a str,
    pub source: ResponseSource,
}

/// The outcome of storing a submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted {
    /// Stored now.
    Stored { response_id: String },
    /// The administration already had its response (a second submit of the same link): nothing
    /// new was stored, and the first response stands.
    AlreadyStored { response_id: String },
}

impl Submitted {
    pub fn response_id(&self) -> &str {
        match self {
            Self::Stored { response_id } | Self::AlreadyStored { response_id } => response_id,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FlagRow {
    pub flag_id: String,
    pub severity: String,
    pub message: String,
}

/// A score as it was stored with its response (for responses whose answers are not held, such
/// as historical imports, this is the only record of the score).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredScore {
    pub scale_id: String,
    /// The exact value as `num/den` text, when the scale was scored.
    pub exact: Option<String>,
    pub answered: i64,
    pub missing: i64,
    /// The band's label, when the value fell in one.
    pub band: Option<String>,
}

/// A stored response with its answers (item id → exact decimal text).
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseRow {
    pub response_id: String,
    pub administration_id: Option<String>,
    pub case_id: String,
    pub session_id: Option<String>,
    pub client_id: Option<String>,
    pub instrument_id: String,
    pub instrument_version: String,
    pub respondent: Respondent,
    pub answers: Vec<(String, String)>,
    pub submitted_at: i64,
    pub entered_by: String,
    pub source: ResponseSource,
    pub version: i64,
    pub supersedes: Option<String>,
    pub correction_reason: Option<String>,
}

/// One score of one current response in a case, for the client page and charts.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseScoreRow {
    pub response_id: String,
    /// The client who answered (for client-rated forms; couples and families have several).
    pub client_id: Option<String>,
    pub session_id: Option<String>,
    pub session_number: Option<i64>,
    pub held_on: Option<String>,
    pub instrument_id: String,
    pub respondent: Respondent,
    pub scale_id: String,
    pub value: Option<f64>,
    pub band: Option<String>,
    pub submitted_at: i64,
    pub version: i64,
}

fn respondent(s: &str) -> Result<Respondent> {
    Respondent::parse(s).ok_or_else(|| StoreError::Corrupt(format!("unknown respondent '{s}'")))
}

fn administration_from(r: &AnyRow) -> Result<AdministrationRow> {
    let status: String = r.try_get("status")?;
    Ok(AdministrationRow {
        clinic_id: r.try_get("clinic_id")?,
        administration_id: r.try_get("administration_id")?,
        case_id: r.try_get("case_id")?,
        session_id: r.try_get("session_id")?,
        client_id: r.try_get("client_id")?,
        instrument_id: r.try_get("instrument_id")?,
        instrument_version: r.try_get("instrument_version")?,
        respondent: respondent(&r.try_get::<String, _>("respondent")?)?,
        expires_at: r.try_get("expires_at")?,
        status: AdministrationStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown status '{status}'")))?,
        created_at: r.try_get("created_at")?,
        completed_at: r.try_get("completed_at")?,
    })
}

const ADMIN_COLUMNS: &str = "clinic_id, administration_id, case_id, session_id, client_id, instrument_id, instrument_version, respondent, expires_at, status, created_at, completed_at";

/// Answers as stored: a JSON object of item id → exact decimal text, in item order.
fn answers_json(instrument: &Instrument, answers: &Answers) -> String {
    let mut map = serde_json::Map::new();
    for (id, v) in answers.pairs(instrument) {
        // Every answer read by the core is a finite decimal; `to_string` of the ratio is the
        // exact fallback should a future scale allow otherwise.
        map.insert(
            id.to_owned(),
            serde_json::Value::String(exact_decimal(v).unwrap_or_else(|| v.to_string())),
        );
    }
    serde_json::Value::Object(map).to_string()
}

impl Store {
    pub async fn create_administration(
        &self,
        clinic_id: &str,
        new: &NewAdministration<'_>,
        at: i64,
    ) -> Result<AdministrationRow> {
        let id = new_id();
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO administrations (clinic_id, administration_id, case_id, session_id, client_id, instrument_id, instrument_version, respondent, token_hash, expires_at, status, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', $11, $12)",
        )
        .bind(clinic_id)
        .bind(&id)
        .bind(new.case_id)
        .bind(new.session_id)
        .bind(new.client_id)
        .bind(&new.instrument.id)
        .bind(&new.instrument.version)
        .bind(new.respondent.as_str())
        .bind(new.token_hash)
        .bind(new.expires_at)
        .bind(new.created_by)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        self.record_and_commit(
            tx,
            AuditEvent::on_case(clinic_id, new.case_id, "send", "administration", &id),
        )
        .await?;
        self.administration(clinic_id, &id).await
    }

    pub async fn administration(
        &self,
        clinic_id: &str,
        administration_id: &str,
    ) -> Result<AdministrationRow> {
        let r = sqlx::query(&format!("SELECT {ADMIN_COLUMNS} FROM administrations WHERE clinic_id = $1 AND administration_id = $2"))
            .bind(clinic_id)
            .bind(administration_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound { what: "administration" })?;
        administration_from(&r)
    }

    /// The administration a link secret belongs to (looked up by its hash).
    pub async fn administration_by_token(
        &self,
        clinic_id: &str,
        token_hash: &str,
    ) -> Result<Option<AdministrationRow>> {
        let r = sqlx::query(&format!(
            "SELECT {ADMIN_COLUMNS} FROM administrations WHERE clinic_id = $1 AND token_hash = $2"
        ))
        .bind(clinic_id)
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        r.as_ref().map(administration_from).transpose()
    }

    /// Everything opening a client link reads, in one round trip: the administration with this
    /// token, its case's setting, its client's latest decision on questionnaire consent, and
    /// the clinic's text pack for its instrument. Every client-link request opens its link, so
    /// this replaces four reads (BENCHMARKS.md, load).
    pub async fn link_by_token(
        &self,
        clinic_id: &str,
        token_hash: &str,
    ) -> Result<Option<LinkRow>> {
        let columns: Vec<String> = ADMIN_COLUMNS
            .split(", ")
            .map(|c| format!("a.{c}"))
            .collect();
        let r = sqlx::query(&format!(
            "SELECT {}, c.setting AS case_setting,
                (SELECT r.decision FROM consent_records r
                  WHERE r.clinic_id = a.clinic_id AND r.case_id = a.case_id
                    AND r.client_id = a.client_id AND r.kind = $3
                  ORDER BY r.at DESC, r.consent_id DESC LIMIT 1) AS consent_decision,
                (SELECT p.pack FROM text_packs p
                  WHERE p.clinic_id = a.clinic_id AND p.instrument_id = a.instrument_id) AS pack
             FROM administrations a
             LEFT JOIN cases c ON c.clinic_id = a.clinic_id AND c.case_id = a.case_id
             WHERE a.clinic_id = $1 AND a.token_hash = $2",
            columns.join(", ")
        ))
        .bind(clinic_id)
        .bind(token_hash)
        .bind(bordin_core::goals::ConsentKind::Questionnaires.as_str())
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = r else { return Ok(None) };
        let Some(setting) = r.try_get::<Option<String>, _>("case_setting")? else {
            return Err(StoreError::NotFound { what: "case" });
        };
        let setting = crate::caseload::parse("setting", &setting, bordin_core::Setting::parse)?;
        let decision: Option<String> = r.try_get("consent_decision")?;
        Ok(Some(LinkRow {
            administration: administration_from(&r)?,
            setting,
            questionnaire_consent: decision.as_deref() == Some(crate::goals::GRANTED),
            pack: r.try_get("pack")?,
        }))
    }

    /// The first response given to an administration.
    pub async fn response_id_of_administration(
        &self,
        clinic_id: &str,
        administration_id: &str,
    ) -> Result<String> {
        let r = sqlx::query("SELECT response_id FROM responses WHERE clinic_id = $1 AND administration_id = $2 AND version = 1")
            .bind(clinic_id)
            .bind(administration_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound { what: "response" })?;
        Ok(r.try_get("response_id")?)
    }

    pub async fn administrations_of_case(
        &self,
        clinic_id: &str,
        case_id: &str,
    ) -> Result<Vec<AdministrationRow>> {
        let rows = sqlx::query(&format!("SELECT {ADMIN_COLUMNS} FROM administrations WHERE clinic_id = $1 AND case_id = $2 ORDER BY created_at DESC"))
            .bind(clinic_id)
            .bind(case_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(administration_from).collect()
    }

    /// Stores a scored response with its scores and flags in one transaction, and answers once
    /// it is committed. Submissions that arrive together share that transaction and its commit
    /// (group commit, [`crate::group`]); each still gets its own outcome.
    ///
    /// With an administration, the administration is marked completed in the same transaction,
    /// and only while it is still pending: a second submission of the same link stores nothing and
    /// returns [`Submitted::AlreadyStored`] with the first response.
    pub async fn submit_response(
        &self,
        clinic_id: &str,
        new: &NewResponse<'_>,
    ) -> Result<Submitted> {
        Ok(self.submit_response_and_series(clinic_id, new).await?.0)
    }

    /// [`Store::submit_response`], with the case's series as the submission's transaction left
    /// it when the response was stored now (`None` for [`Submitted::AlreadyStored`]): what the
    /// monitoring that follows a submission evaluates, without reading it again.
    pub async fn submit_response_and_series(
        &self,
        clinic_id: &str,
        new: &NewResponse<'_>,
    ) -> Result<(Submitted, Option<crate::CaseSeries>)> {
        let rows = ResponseRows::new(clinic_id, &new_id(), new, 1, None, None);
        self.submit_grouped(rows).await
    }

    /// Records a correction of a stored response: a new version that supersedes it. The old
    /// response is kept unchanged; the reason is required.
    pub async fn correct_response(
        &self,
        clinic_id: &str,
        supersedes: &str,
        reason: &str,
        new: &NewResponse<'_>,
    ) -> Result<String> {
        if reason.trim().is_empty() {
            return Err(StoreError::Conflict("a correction needs a reason".into()));
        }
        let mut tx = self.write_tx().await?;
        let r = sqlx::query("SELECT version, case_id, instrument_id FROM responses WHERE clinic_id = $1 AND response_id = $2")
            .bind(clinic_id)
            .bind(supersedes)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound { what: "response" })?;
        let version: i64 = r.try_get("version")?;
        let (case_id, instrument_id): (String, String) =
            (r.try_get("case_id")?, r.try_get("instrument_id")?);
        if case_id != new.case_id || instrument_id != new.instrument.id {
            return Err(StoreError::Conflict(
                "a correction must be for the same case and instrument as the response it corrects"
                    .into(),
            ));
        }
        let id = new_id();
        let sealed_reason = crate::seal::seal_col(
            self.keys(),
            clinic_id,
            "responses",
            "correction_reason",
            reason,
        )?;
        match insert_response(
            &mut tx,
            clinic_id,
            &id,
            new,
            version + 1,
            Some(supersedes),
            Some(&sealed_reason),
        )
        .await
        {
            Ok(()) => {}
            Err(e) if e.is_unique_violation() => {
                return Err(StoreError::Conflict(
                    "this response has already been corrected; correct the latest version".into(),
                ))
            }
            Err(e) => return Err(e),
        }
        crate::monitoring::refresh_case_series(&mut tx, clinic_id, new.case_id, new.submitted_at)
            .await?;
        self.record_and_commit(
            tx,
            AuditEvent::on_case(clinic_id, new.case_id, "correct", "response", &id),
        )
        .await?;
        Ok(id)
    }

    pub async fn response(&self, clinic_id: &str, response_id: &str) -> Result<ResponseRow> {
        let r = sqlx::query(
            "SELECT response_id, administration_id, case_id, session_id, client_id, instrument_id, instrument_version, respondent, answers, submitted_at, entered_by, source, version, supersedes, correction_reason
             FROM responses WHERE clinic_id = $1 AND response_id = $2",
        )
        .bind(clinic_id)
        .bind(response_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound { what: "response" })?;
        let answers: String = r.try_get("answers")?;
        let parsed: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&answers)
            .map_err(|e| StoreError::Corrupt(format!("answers of response {response_id}: {e}")))?;
        let source: String = r.try_get("source")?;
        Ok(ResponseRow {
            response_id: r.try_get("response_id")?,
            administration_id: r.try_get("administration_id")?,
            case_id: r.try_get("case_id")?,
            session_id: r.try_get("session_id")?,
            client_id: r.try_get("client_id")?,
            instrument_id: r.try_get("instrument_id")?,
            instrument_version: r.try_get("instrument_version")?,
            respondent: respondent(&r.try_get::<String, _>("respondent")?)?,
            answers: parsed
                .into_iter()
                .map(|(k, v)| {
                    (
                        k,
                        v.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| v.to_string()),
                    )
                })
                .collect(),
            submitted_at: r.try_get("submitted_at")?,
            entered_by: r.try_get("entered_by")?,
            source: ResponseSource::parse(&source)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown source '{source}'")))?,
            version: r.try_get("version")?,
            supersedes: r.try_get("supersedes")?,
            correction_reason: crate::seal::open_opt(
                self.keys(),
                clinic_id,
                "responses",
                "correction_reason",
                r.try_get("correction_reason")?,
            )?,
        })
    }

    /// The whole correction chain a response belongs to, oldest version first.
    pub async fn response_history(
        &self,
        clinic_id: &str,
        response_id: &str,
    ) -> Result<Vec<ResponseRow>> {
        let mut first = self.response(clinic_id, response_id).await?;
        while let Some(prev) = first.supersedes.clone() {
            first = self.response(clinic_id, &prev).await?;
        }
        let mut chain = vec![first];
        loop {
            let last = &chain[chain.len() - 1].response_id;
            let next = sqlx::query(
                "SELECT response_id FROM responses WHERE clinic_id = $1 AND supersedes = $2",
            )
            .bind(clinic_id)
            .bind(last)
            .fetch_optional(&self.pool)
            .await?;
            match next {
                Some(r) => {
                    let id: String = r.try_get("response_id")?;
                    chain.push(self.response(clinic_id, &id).await?);
                }
                None => break,
            }
        }
        Ok(chain)
    }

    /// Flags raised by a response.
    pub async fn response_flags(&self, clinic_id: &str, response_id: &str) -> Result<Vec<FlagRow>> {
        let rows = sqlx::query("SELECT flag_id, severity, message FROM response_flags WHERE clinic_id = $1 AND response_id = $2 ORDER BY flag_id")
            .bind(clinic_id)
            .bind(response_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(FlagRow {
                    flag_id: r.try_get("flag_id")?,
                    severity: r.try_get("severity")?,
                    message: r.try_get("message")?,
                })
            })
            .collect()
    }

    /// The scores stored with one response.
    pub async fn stored_scores(
        &self,
        clinic_id: &str,
        response_id: &str,
    ) -> Result<Vec<StoredScore>> {
        let rows = sqlx::query(
            "SELECT scale_id, exact, answered, missing, band FROM scores WHERE clinic_id = $1 AND response_id = $2 ORDER BY scale_id",
        )
        .bind(clinic_id)
        .bind(response_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StoredScore {
                    scale_id: r.try_get("scale_id")?,
                    exact: r.try_get("exact")?,
                    answered: r.try_get("answered")?,
                    missing: r.try_get("missing")?,
                    band: r.try_get("band")?,
                })
            })
            .collect()
    }

    /// Every score of the current (not superseded) responses of a case, oldest first.
    ///
    /// `CROSS JOIN` fixes the join order on SQLite (responses of the case first, via
    /// `responses_by_case`), which otherwise may scan every score of the clinic when no
    /// ANALYZE statistics exist; PostgreSQL treats it as the inner join it is.
    pub async fn case_scores(&self, clinic_id: &str, case_id: &str) -> Result<Vec<CaseScoreRow>> {
        let rows = sqlx::query(
            "SELECT r.response_id, r.client_id, r.session_id, se.number, se.held_on, r.instrument_id, r.respondent, s.scale_id, s.value, s.band, r.submitted_at, r.version
             FROM responses r
             CROSS JOIN scores s
             LEFT JOIN sessions se ON se.clinic_id = r.clinic_id AND se.session_id = r.session_id
             WHERE r.clinic_id = $1 AND r.case_id = $2
               AND s.clinic_id = r.clinic_id AND s.response_id = r.response_id
               AND NOT EXISTS (SELECT 1 FROM responses n WHERE n.clinic_id = r.clinic_id AND n.supersedes = r.response_id)
             ORDER BY se.number, r.submitted_at, s.scale_id",
        )
        .bind(clinic_id)
        .bind(case_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CaseScoreRow {
                    response_id: r.try_get("response_id")?,
                    client_id: r.try_get("client_id")?,
                    session_id: r.try_get("session_id")?,
                    session_number: r.try_get("number")?,
                    held_on: r.try_get("held_on")?,
                    instrument_id: r.try_get("instrument_id")?,
                    respondent: respondent(&r.try_get::<String, _>("respondent")?)?,
                    scale_id: r.try_get("scale_id")?,
                    value: r.try_get("value")?,
                    band: r.try_get("band")?,
                    submitted_at: r.try_get("submitted_at")?,
                    version: r.try_get("version")?,
                })
            })
            .collect()
    }

    /// Urgent flags of the current responses of a case, newest first, with the response id.
    pub async fn case_flags(
        &self,
        clinic_id: &str,
        case_id: &str,
    ) -> Result<Vec<(String, FlagRow)>> {
        let rows = sqlx::query(
            "SELECT f.response_id, f.flag_id, f.severity, f.message FROM responses r
             CROSS JOIN response_flags f
             WHERE r.clinic_id = $1 AND r.case_id = $2
               AND f.clinic_id = r.clinic_id AND f.response_id = r.response_id
               AND NOT EXISTS (SELECT 1 FROM responses n WHERE n.clinic_id = r.clinic_id AND n.supersedes = r.response_id)
             ORDER BY r.submitted_at DESC",
        )
        .bind(clinic_id)
        .bind(case_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("response_id")?,
                    FlagRow {
                        flag_id: r.try_get("flag_id")?,
                        severity: r.try_get("severity")?,
                        message: r.try_get("message")?,
                    },
                ))
            })
            .collect()
    }

    /// Installs (or replaces) a clinic's text pack, stored as the TOML that was validated.
    pub async fn put_text_pack(
        &self,
        clinic_id: &str,
        instrument_id: &str,
        pack_toml: &str,
        installed_by: &str,
        at: i64,
    ) -> Result<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query("DELETE FROM text_packs WHERE clinic_id = $1 AND instrument_id = $2")
            .bind(clinic_id)
            .bind(instrument_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO text_packs (clinic_id, instrument_id, pack, installed_at, installed_by) VALUES ($1, $2, $3, $4, $5)")
            .bind(clinic_id)
            .bind(instrument_id)
            .bind(pack_toml)
            .bind(at)
            .bind(installed_by)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The clinic's text packs: (instrument id, TOML).
    /// The clinic's text pack for one instrument, if it installed one (one row by primary key).
    pub async fn text_pack(&self, clinic_id: &str, instrument_id: &str) -> Result<Option<String>> {
        let r =
            sqlx::query("SELECT pack FROM text_packs WHERE clinic_id = $1 AND instrument_id = $2")
                .bind(clinic_id)
                .bind(instrument_id)
                .fetch_optional(&self.pool)
                .await?;
        r.map(|r| r.try_get("pack").map_err(StoreError::from))
            .transpose()
    }

    pub async fn text_packs(&self, clinic_id: &str) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT instrument_id, pack FROM text_packs WHERE clinic_id = $1 ORDER BY instrument_id").bind(clinic_id).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| Ok((r.try_get("instrument_id")?, r.try_get("pack")?)))
            .collect()
    }
}

pub(crate) async fn insert_response(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    clinic_id: &str,
    id: &str,
    new: &NewResponse<'_>,
    version: i64,
    supersedes: Option<&str>,
    reason: Option<&str>,
) -> Result<()> {
    let rows = ResponseRows::new(clinic_id, id, new, version, supersedes, reason);
    insert_rows(tx, &rows).await
}

/// Every row one response writes (`responses`, `scores`, `response_flags`), as owned values
/// computed before the transaction: what the scoring core decided, ready to bind.
#[derive(Debug, Clone)]
pub(crate) struct ResponseRows {
    pub clinic_id: String,
    pub response_id: String,
    pub administration_id: Option<String>,
    pub case_id: String,
    pub session_id: Option<String>,
    pub client_id: Option<String>,
    pub instrument_id: String,
    pub instrument_version: String,
    pub respondent: &'static str,
    pub answers: String,
    pub submitted_at: i64,
    pub entered_by: String,
    pub source: &'static str,
    pub version: i64,
    pub supersedes: Option<String>,
    pub correction_reason: Option<String>,
    pub scores: Vec<ScoreValues>,
    pub flags: Vec<FlagValues>,
}

/// One `scores` row.
#[derive(Debug, Clone)]
pub(crate) struct ScoreValues {
    pub scale_id: String,
    pub value: Option<f64>,
    exact: Option<String>,
    answered: i64,
    missing: i64,
    band: Option<String>,
}

/// One `response_flags` row.
#[derive(Debug, Clone)]
pub(crate) struct FlagValues {
    flag_id: String,
    severity: &'static str,
    message: String,
}

impl ResponseRows {
    pub(crate) fn new(
        clinic_id: &str,
        id: &str,
        new: &NewResponse<'_>,
        version: i64,
        supersedes: Option<&str>,
        reason: Option<&str>,
    ) -> Self {
        let instrument = new.instrument;
        Self {
            clinic_id: clinic_id.to_owned(),
            response_id: id.to_owned(),
            administration_id: new.administration_id.map(str::to_owned),
            case_id: new.case_id.to_owned(),
            session_id: new.session_id.map(str::to_owned),
            client_id: new.client_id.map(str::to_owned),
            instrument_id: instrument.id.clone(),
            instrument_version: instrument.version.clone(),
            respondent: new.respondent.as_str(),
            answers: answers_json(instrument, new.answers),
            submitted_at: new.submitted_at,
            entered_by: new.entered_by.to_owned(),
            source: new.source.as_str(),
            version,
            supersedes: supersedes.map(str::to_owned),
            correction_reason: reason.map(str::to_owned),
            scores: instrument
                .scales
                .iter()
                .zip(&new.sheet.scales)
                .map(|(scale, score)| ScoreValues {
                    scale_id: scale.id.clone(),
                    value: score.value.map(bordin_core::to_f64),
                    exact: score.value.map(|v| v.to_string()),
                    answered: i64::from(score.answered),
                    missing: i64::from(score.missing),
                    band: score.band.map(|b| scale.bands[b].label.clone()),
                })
                .collect(),
            flags: new
                .sheet
                .flags
                .iter()
                .map(|&f| {
                    let rule = &instrument.flags[f];
                    FlagValues {
                        flag_id: rule.id.clone(),
                        severity: match rule.severity {
                            bordin_core::instrument::FlagSeverity::Info => "info",
                            bordin_core::instrument::FlagSeverity::Warning => "warning",
                            bordin_core::instrument::FlagSeverity::Urgent => "urgent",
                        },
                        message: rule.message.clone(),
                    }
                })
                .collect(),
        }
    }
}

/// Responses per INSERT when several are written at once (16 values each).
const RESPONSES_PER_STATEMENT: usize = 64;

/// Inserts several responses' rows with one statement per table (and per
/// [`RESPONSES_PER_STATEMENT`] responses): a group of submissions costs three statements, not
/// three per submission.
pub(crate) async fn insert_many(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    all: &[&ResponseRows],
) -> Result<()> {
    for chunk in all.chunks(RESPONSES_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO responses (clinic_id, response_id, administration_id, case_id, session_id, client_id, instrument_id, instrument_version, respondent, answers, submitted_at, entered_by, source, version, supersedes, correction_reason) VALUES {}",
            crate::values_list(chunk.len(), 16, 0)
        );
        let mut q = sqlx::query(&sql);
        for r in chunk {
            q = q
                .bind(&r.clinic_id)
                .bind(&r.response_id)
                .bind(r.administration_id.as_deref())
                .bind(&r.case_id)
                .bind(r.session_id.as_deref())
                .bind(r.client_id.as_deref())
                .bind(&r.instrument_id)
                .bind(&r.instrument_version)
                .bind(r.respondent)
                .bind(&r.answers)
                .bind(r.submitted_at)
                .bind(&r.entered_by)
                .bind(r.source)
                .bind(r.version)
                .bind(r.supersedes.as_deref())
                .bind(r.correction_reason.as_deref());
        }
        q.execute(&mut **tx).await?;
        let scores: Vec<(&ResponseRows, &ScoreValues)> = chunk
            .iter()
            .flat_map(|r| r.scores.iter().map(move |s| (*r, s)))
            .collect();
        for part in scores.chunks(RESPONSES_PER_STATEMENT * 2) {
            let sql = format!(
                "INSERT INTO scores (clinic_id, response_id, scale_id, value, exact, answered, missing, band) VALUES {}",
                crate::values_list(part.len(), 8, 0)
            );
            // sqlx 0.8's Any driver sends a missing `f64` to PostgreSQL as a NULL `float4`, and
            // a statement prepared (and cached) with that type then refuses the next real value
            // (8 bytes for a 4-byte type: "incorrect binary data format"). A part with a
            // missing value is therefore prepared for this execution only; cached statements
            // are always prepared with `float8`.
            let missing = part.iter().any(|(_, s)| s.value.is_none());
            let mut q = sqlx::query(&sql).persistent(!missing);
            for (r, s) in part {
                q = q
                    .bind(&r.clinic_id)
                    .bind(&r.response_id)
                    .bind(&s.scale_id)
                    .bind(s.value)
                    .bind(s.exact.as_deref())
                    .bind(s.answered)
                    .bind(s.missing)
                    .bind(s.band.as_deref());
            }
            q.execute(&mut **tx).await?;
        }
        let flags: Vec<(&ResponseRows, &FlagValues)> = chunk
            .iter()
            .flat_map(|r| r.flags.iter().map(move |f| (*r, f)))
            .collect();
        for part in flags.chunks(RESPONSES_PER_STATEMENT * 2) {
            let sql = format!(
                "INSERT INTO response_flags (clinic_id, response_id, flag_id, severity, message) VALUES {}",
                crate::values_list(part.len(), 5, 0)
            );
            let mut q = sqlx::query(&sql);
            for (r, f) in part {
                q = q
                    .bind(&r.clinic_id)
                    .bind(&r.response_id)
                    .bind(&f.flag_id)
                    .bind(f.severity)
                    .bind(&f.message);
            }
            q.execute(&mut **tx).await?;
        }
    }
    Ok(())
}

/// Inserts one response's rows (a statement per table, as for a group).
pub(crate) async fn insert_rows(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    r: &ResponseRows,
) -> Result<()> {
    insert_many(tx, &[r]).await
}
