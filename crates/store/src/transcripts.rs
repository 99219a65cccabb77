//! Session transcripts, their analysis, and their retention.
//!
//! Two tables (migration 0009): `transcripts` holds the facts of a transcript (which session,
//! when, from where, its status) and a summary of numbers and ids that is kept for monitoring;
//! `transcript_texts` holds the words — the transcript as received, who each speaker is, and the
//! full analysis (which quotes turns). The words are sealed on the way in and opened on the way
//! out in exactly one place each ([`Store::seal_text`], [`Store::open_text`]), and deleted, not blanked, when the
//! clinic's retention period is over ([`Store::purge_expired_transcripts`]).

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::audit::{AuditEvent, Outcome};
use crate::seal::{open_col, seal_col};
use crate::{new_id, Result, Store, StoreError};

/// How long transcript text is kept when a clinic has not chosen (days). Short on purpose: the
/// analysis summary stays, and the words are the most sensitive thing Bordin holds.
pub const DEFAULT_TRANSCRIPT_RETENTION_DAYS: i64 = 30;

/// The longest retention a clinic may choose (ten years; the schema checks the same bound).
pub const MAX_TRANSCRIPT_RETENTION_DAYS: i64 = 3650;

const DAY_MS: i64 = 86_400_000;

/// Where a transcript stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TranscriptStatus {
    /// Stored, waiting for the user to say which speaker is the clinician and which the client.
    NeedsRoles,
    Analysed,
    /// The words were deleted by the retention sweep; the summary remains.
    Purged,
}

impl TranscriptStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NeedsRoles => "needs_roles",
            Self::Analysed => "analysed",
            Self::Purged => "purged",
        }
    }
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "needs_roles" => Self::NeedsRoles,
            "analysed" => Self::Analysed,
            "purged" => Self::Purged,
            _ => return None,
        })
    }
}

/// A transcript's facts and summary (never its words).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TranscriptRow {
    pub transcript_id: String,
    pub case_id: String,
    pub session_id: String,
    /// `upload` or `live`.
    pub source: String,
    /// `vtt`, `srt`, `json` or `txt`.
    pub format: String,
    pub status: TranscriptStatus,
    pub created_at: i64,
    pub created_by: String,
    pub analysed_at: Option<i64>,
    pub purged_at: Option<i64>,
    /// Numbers and ids only, as the server wrote them; kept after the words are deleted.
    pub summary: Option<serde_json::Value>,
}

/// A transcript's words, opened.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscriptText {
    pub body: String,
    /// Who each speaker is (the server's JSON: speaker name → role).
    pub speakers: serde_json::Value,
    /// The full analysis, once made.
    pub analysis: Option<serde_json::Value>,
}

/// A transcript to store.
#[derive(Debug, Clone)]
pub struct NewTranscript<'a> {
    pub case_id: &'a str,
    pub session_id: &'a str,
    pub source: &'a str,
    pub format: &'a str,
    pub body: &'a str,
    pub speakers: &'a serde_json::Value,
    pub created_by: &'a str,
    pub at: i64,
}

/// An analysis to store with a transcript: the full result (sealed, purged) and its summary
/// (kept).
#[derive(Debug, Clone)]
pub struct NewAnalysis<'a> {
    pub speakers: &'a serde_json::Value,
    pub analysis: &'a serde_json::Value,
    pub summary: &'a serde_json::Value,
    pub at: i64,
}

// ---------------------------------------------------------------------------------------------
// Sealing: the one place where transcript words are written and read.
// ---------------------------------------------------------------------------------------------

impl Store {
    /// Seals transcript words before they are written (XChaCha20-Poly1305 under the clinic's
    /// active key when the store has a keyring; see [`crate::seal`]). The column is part of
    /// the authenticated data, so a sealed body cannot be moved into another column or row.
    fn seal_text(&self, clinic_id: &str, column: &str, plain: &str) -> Result<String> {
        seal_col(self.keys(), clinic_id, "transcript_texts", column, plain)
    }

    /// Opens what [`Store::seal_text`] wrote (plain text written before a key existed is read as is).
    fn open_text(&self, clinic_id: &str, column: &str, stored: String) -> Result<String> {
        open_col(self.keys(), clinic_id, "transcript_texts", column, stored)
    }
}

fn to_json(v: &serde_json::Value) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_json(text: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("transcript JSON: {e}")))
}

const COLUMNS: &str = "transcript_id, case_id, session_id, source, format, status, created_at, created_by, analysed_at, purged_at, summary";

fn row_from(r: &AnyRow) -> Result<TranscriptRow> {
    let status: String = r.try_get("status")?;
    let summary: Option<String> = r.try_get("summary")?;
    Ok(TranscriptRow {
        transcript_id: r.try_get("transcript_id")?,
        case_id: r.try_get("case_id")?,
        session_id: r.try_get("session_id")?,
        source: r.try_get("source")?,
        format: r.try_get("format")?,
        status: TranscriptStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown transcript status '{status}'")))?,
        created_at: r.try_get("created_at")?,
        created_by: r.try_get("created_by")?,
        analysed_at: r.try_get("analysed_at")?,
        purged_at: r.try_get("purged_at")?,
        summary: summary.as_deref().map(from_json).transpose()?,
    })
}

impl Store {
    /// Stores a transcript (and, when given, its analysis) for a session of the case, in one
    /// transaction. The session must belong to the case.
    pub async fn create_transcript(
        &self,
        clinic_id: &str,
        new: &NewTranscript<'_>,
        analysis: Option<&NewAnalysis<'_>>,
    ) -> Result<TranscriptRow> {
        let mut tx = self.write_tx().await?;
        let in_case = sqlx::query(
            "SELECT 1 FROM sessions WHERE clinic_id = $1 AND session_id = $2 AND case_id = $3",
        )
        .bind(clinic_id)
        .bind(new.session_id)
        .bind(new.case_id)
        .fetch_optional(&mut *tx)
        .await?;
        if in_case.is_none() {
            return Err(StoreError::NotFound { what: "session" });
        }
        let row = TranscriptRow {
            transcript_id: new_id(),
            case_id: new.case_id.to_owned(),
            session_id: new.session_id.to_owned(),
            source: new.source.to_owned(),
            format: new.format.to_owned(),
            status: if analysis.is_some() {
                TranscriptStatus::Analysed
            } else {
                TranscriptStatus::NeedsRoles
            },
            created_at: new.at,
            created_by: new.created_by.to_owned(),
            analysed_at: analysis.map(|a| a.at),
            purged_at: None,
            summary: analysis.map(|a| a.summary.clone()),
        };
        let summary = row.summary.as_ref().map(to_json).transpose()?;
        sqlx::query(&format!(
            "INSERT INTO transcripts (clinic_id, {COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, $11)"
        ))
        .bind(clinic_id)
        .bind(&row.transcript_id)
        .bind(&row.case_id)
        .bind(&row.session_id)
        .bind(&row.source)
        .bind(&row.format)
        .bind(row.status.as_str())
        .bind(row.created_at)
        .bind(&row.created_by)
        .bind(row.analysed_at)
        .bind(summary)
        .execute(&mut *tx)
        .await?;
        let speakers = analysis.map_or(new.speakers, |a| a.speakers);
        let sealed_analysis = analysis
            .map(|a| self.seal_text(clinic_id, "analysis", &to_json(a.analysis)?))
            .transpose()?;
        sqlx::query(
            "INSERT INTO transcript_texts (clinic_id, transcript_id, body, speakers, analysis) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(clinic_id)
        .bind(&row.transcript_id)
        .bind(self.seal_text(clinic_id, "body", new.body)?)
        .bind(self.seal_text(clinic_id, "speakers", &to_json(speakers)?)?)
        .bind(sealed_analysis)
        .execute(&mut *tx)
        .await?;
        self.record(
            &mut tx,
            AuditEvent::on_case(
                clinic_id,
                new.case_id,
                "create",
                "transcript",
                &row.transcript_id,
            ),
        )
        .await?;
        if analysis.is_some() {
            self.record(
                &mut tx,
                AuditEvent::on_case(
                    clinic_id,
                    new.case_id,
                    "analyse",
                    "transcript",
                    &row.transcript_id,
                ),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(row)
    }

    /// Stores the analysis of a transcript (after its speakers' roles were given), replacing an
    /// earlier one. A purged transcript cannot be analysed again: its words are gone.
    pub async fn save_transcript_analysis(
        &self,
        clinic_id: &str,
        transcript_id: &str,
        analysis: &NewAnalysis<'_>,
    ) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let case_id: String = sqlx::query(
            "SELECT case_id FROM transcripts WHERE clinic_id = $1 AND transcript_id = $2",
        )
        .bind(clinic_id)
        .bind(transcript_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound { what: "transcript" })?
        .try_get("case_id")?;
        let updated = sqlx::query(
            "UPDATE transcripts SET status = 'analysed', analysed_at = $3, summary = $4
             WHERE clinic_id = $1 AND transcript_id = $2 AND status <> 'purged'",
        )
        .bind(clinic_id)
        .bind(transcript_id)
        .bind(analysis.at)
        .bind(to_json(analysis.summary)?)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            return Err(StoreError::NotFound { what: "transcript" });
        }
        sqlx::query(
            "UPDATE transcript_texts SET speakers = $3, analysis = $4 WHERE clinic_id = $1 AND transcript_id = $2",
        )
        .bind(clinic_id)
        .bind(transcript_id)
        .bind(self.seal_text(clinic_id, "speakers", &to_json(analysis.speakers)?)?)
        .bind(self.seal_text(clinic_id, "analysis", &to_json(analysis.analysis)?)?)
        .execute(&mut *tx)
        .await?;
        self.record_and_commit(
            tx,
            AuditEvent::on_case(clinic_id, &case_id, "analyse", "transcript", transcript_id),
        )
        .await?;
        Ok(())
    }

    pub async fn transcript(&self, clinic_id: &str, transcript_id: &str) -> Result<TranscriptRow> {
        let r = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM transcripts WHERE clinic_id = $1 AND transcript_id = $2"
        ))
        .bind(clinic_id)
        .bind(transcript_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound { what: "transcript" })?;
        row_from(&r)
    }

    /// The words of a transcript, or `None` once they were deleted by the retention sweep.
    pub async fn transcript_text(
        &self,
        clinic_id: &str,
        transcript_id: &str,
    ) -> Result<Option<TranscriptText>> {
        let Some(r) = sqlx::query(
            "SELECT body, speakers, analysis FROM transcript_texts WHERE clinic_id = $1 AND transcript_id = $2",
        )
        .bind(clinic_id)
        .bind(transcript_id)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let analysis: Option<String> = r.try_get("analysis")?;
        Ok(Some(TranscriptText {
            body: self.open_text(clinic_id, "body", r.try_get("body")?)?,
            speakers: from_json(&self.open_text(clinic_id, "speakers", r.try_get("speakers")?)?)?,
            analysis: analysis
                .map(|a| {
                    self.open_text(clinic_id, "analysis", a)
                        .and_then(|a| from_json(&a))
                })
                .transpose()?,
        }))
    }

    /// The transcripts of a case, oldest first.
    pub async fn transcripts_of_case(
        &self,
        clinic_id: &str,
        case_id: &str,
    ) -> Result<Vec<TranscriptRow>> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM transcripts WHERE clinic_id = $1 AND case_id = $2 ORDER BY created_at, transcript_id"
        ))
        .bind(clinic_id)
        .bind(case_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(row_from)
        .collect()
    }

    /// How many days the clinic keeps transcript words.
    pub async fn transcript_retention_days(&self, clinic_id: &str) -> Result<i64> {
        let r = sqlx::query("SELECT retention_days FROM transcript_settings WHERE clinic_id = $1")
            .bind(clinic_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match r {
            Some(r) => r.try_get("retention_days")?,
            None => DEFAULT_TRANSCRIPT_RETENTION_DAYS,
        })
    }

    /// Sets how many days the clinic keeps transcript words (1 to
    /// [`MAX_TRANSCRIPT_RETENTION_DAYS`]).
    pub async fn set_transcript_retention_days(
        &self,
        clinic_id: &str,
        days: i64,
        by: &str,
        at: i64,
    ) -> Result<()> {
        if !(1..=MAX_TRANSCRIPT_RETENTION_DAYS).contains(&days) {
            return Err(StoreError::Conflict(format!(
                "retention must be 1 to {MAX_TRANSCRIPT_RETENTION_DAYS} days"
            )));
        }
        let mut tx = self.write_tx().await?;
        sqlx::query("DELETE FROM transcript_settings WHERE clinic_id = $1")
            .bind(clinic_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO transcript_settings (clinic_id, retention_days, updated_at, updated_by) VALUES ($1, $2, $3, $4)")
            .bind(clinic_id)
            .bind(days)
            .bind(at)
            .bind(by)
            .execute(&mut *tx)
            .await?;
        let days_text = days.to_string();
        self.record_and_commit(
            tx,
            AuditEvent {
                clinic_id,
                action: "set_retention_days",
                object_type: "transcript_settings",
                object_id: &days_text,
                case_id: None,
                outcome: Outcome::Ok,
            },
        )
        .await?;
        Ok(())
    }

    /// Deletes the words of every transcript older than its clinic's retention period at `now`
    /// (the summary stays, the status becomes `purged`). Returns how many were purged. Run at
    /// start-up and periodically by the server; idempotent.
    pub async fn purge_expired_transcripts(&self, now: i64) -> Result<u64> {
        let mut purged = 0;
        for clinic in self.clinics().await? {
            let days = self.transcript_retention_days(&clinic.clinic_id).await?;
            let cutoff = now.saturating_sub(days.saturating_mul(DAY_MS));
            let mut tx = self.write_tx().await?;
            // Each deletion of words leaves an entry in the trail (actor: the system).
            let expiring = sqlx::query(
                "SELECT transcript_id, case_id FROM transcripts WHERE clinic_id = $1 AND status <> 'purged' AND created_at <= $2",
            )
            .bind(&clinic.clinic_id)
            .bind(cutoff)
            .fetch_all(&mut *tx)
            .await?;
            for r in &expiring {
                let transcript_id: String = r.try_get("transcript_id")?;
                let case_id: String = r.try_get("case_id")?;
                self.record(
                    &mut tx,
                    AuditEvent::on_case(
                        &clinic.clinic_id,
                        &case_id,
                        "purge_words",
                        "transcript",
                        &transcript_id,
                    ),
                )
                .await?;
            }
            sqlx::query(
                "DELETE FROM transcript_texts WHERE clinic_id = $1 AND transcript_id IN
                 (SELECT transcript_id FROM transcripts WHERE clinic_id = $1 AND status <> 'purged' AND created_at <= $2)",
            )
            .bind(&clinic.clinic_id)
            .bind(cutoff)
            .execute(&mut *tx)
            .await?;
            purged += sqlx::query(
                "UPDATE transcripts SET status = 'purged', purged_at = $3
                 WHERE clinic_id = $1 AND status <> 'purged' AND created_at <= $2",
            )
            .bind(&clinic.clinic_id)
            .bind(cutoff)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
        }
        Ok(purged)
    }
}
