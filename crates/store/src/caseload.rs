//! Clients, cases (episodes of care), sessions, and the caseload view of them.

use std::collections::HashMap;

use bordin_core::care::{CaseRole, CaseStatus, Modality, SessionStatus};
use bordin_core::Setting;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::audit::{AuditEvent, Outcome};
use crate::{new_id, Result, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRow {
    pub client_id: String,
    pub code: String,
    pub display_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseRow {
    pub case_id: String,
    pub title: String,
    pub setting: Setting,
    pub status: CaseStatus,
    pub opened_on: String,
    pub closed_on: Option<String>,
    pub clients: Vec<ClientRow>,
    /// (user id, display name, role in the case)
    pub clinicians: Vec<(String, String, CaseRole)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub session_id: String,
    pub case_id: String,
    pub number: i64,
    pub held_on: String,
    pub modality: Modality,
    pub status: SessionStatus,
}

/// What a new case is made of.
#[derive(Debug, Clone)]
pub struct NewCase<'a> {
    pub title: &'a str,
    pub setting: Setting,
    pub opened_on: &'a str,
    pub client_ids: &'a [String],
    pub lead_clinician: &'a str,
}

/// The latest value of one measure in a case, for the caseload table.
#[derive(Debug, Clone, PartialEq)]
pub struct LatestScore {
    pub instrument_id: String,
    pub scale_id: String,
    pub value: Option<f64>,
    pub band: Option<String>,
    pub session_number: Option<i64>,
}

/// One line of a clinician's caseload.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseSummary {
    pub case: CaseRow,
    pub sessions: i64,
    pub last_session_on: Option<String>,
    pub latest: Vec<LatestScore>,
    pub open_flags: i64,
}

pub(crate) fn parse<T>(what: &str, s: &str, f: impl Fn(&str) -> Option<T>) -> Result<T> {
    f(s).ok_or_else(|| StoreError::Corrupt(format!("unknown {what} '{s}'")))
}

fn session_from(r: &AnyRow) -> Result<SessionRow> {
    Ok(SessionRow {
        session_id: r.try_get("session_id")?,
        case_id: r.try_get("case_id")?,
        number: r.try_get("number")?,
        held_on: r.try_get("held_on")?,
        modality: parse(
            "modality",
            &r.try_get::<String, _>("modality")?,
            Modality::parse,
        )?,
        status: parse(
            "session status",
            &r.try_get::<String, _>("status")?,
            SessionStatus::parse,
        )?,
    })
}

impl Store {
    pub async fn create_client(
        &self,
        clinic_id: &str,
        code: &str,
        display_name: Option<&str>,
        at: i64,
    ) -> Result<ClientRow> {
        let id = new_id();
        let mut tx = self.write_tx().await?;
        sqlx::query("INSERT INTO clients (clinic_id, client_id, code, display_name, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(clinic_id)
            .bind(&id)
            .bind(code)
            .bind(display_name)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        self.record_and_commit(
            tx,
            AuditEvent {
                clinic_id,
                action: "create",
                object_type: "client",
                object_id: &id,
                case_id: None,
                outcome: Outcome::Ok,
            },
        )
        .await?;
        Ok(ClientRow {
            client_id: id,
            code: code.to_owned(),
            display_name: display_name.map(str::to_owned),
        })
    }

    /// A client by their code.
    pub async fn client_by_code(&self, clinic_id: &str, code: &str) -> Result<Option<ClientRow>> {
        let r = sqlx::query(
            "SELECT client_id, code, display_name FROM clients WHERE clinic_id = $1 AND code = $2",
        )
        .bind(clinic_id)
        .bind(code)
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

    /// Creates a case with its clients and lead clinician, in one transaction.
    pub async fn create_case(&self, clinic_id: &str, new: &NewCase<'_>, at: i64) -> Result<String> {
        let id = new_id();
        let mut tx = self.write_tx().await?;
        sqlx::query("INSERT INTO cases (clinic_id, case_id, title, setting, status, opened_on, created_at) VALUES ($1, $2, $3, $4, 'active', $5, $6)")
            .bind(clinic_id)
            .bind(&id)
            .bind(new.title)
            .bind(new.setting.as_str())
            .bind(new.opened_on)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        for c in new.client_ids {
            sqlx::query(
                "INSERT INTO case_clients (clinic_id, case_id, client_id) VALUES ($1, $2, $3)",
            )
            .bind(clinic_id)
            .bind(&id)
            .bind(c)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("INSERT INTO case_clinicians (clinic_id, case_id, user_id, role) VALUES ($1, $2, $3, 'lead')")
            .bind(clinic_id)
            .bind(&id)
            .bind(new.lead_clinician)
            .execute(&mut *tx)
            .await?;
        self.record_and_commit(
            tx,
            AuditEvent::on_case(clinic_id, &id, "create", "case", &id),
        )
        .await?;
        Ok(id)
    }

    /// Adds a client to a case (couples, families). Adding one already there is a no-op.
    pub async fn add_client_to_case(
        &self,
        clinic_id: &str,
        case_id: &str,
        client_id: &str,
    ) -> Result<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query("INSERT INTO case_clients (clinic_id, case_id, client_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(clinic_id)
            .bind(case_id)
            .bind(client_id)
            .execute(&mut *tx)
            .await?;
        self.record_and_commit(
            tx,
            AuditEvent::on_case(clinic_id, case_id, "add_client", "case", case_id),
        )
        .await?;
        Ok(())
    }

    /// Adds a clinician to a case as co-therapist or shared (e.g. for cover).
    pub async fn add_clinician_to_case(
        &self,
        clinic_id: &str,
        case_id: &str,
        user_id: &str,
        role: CaseRole,
    ) -> Result<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query("INSERT INTO case_clinicians (clinic_id, case_id, user_id, role) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
            .bind(clinic_id)
            .bind(case_id)
            .bind(user_id)
            .bind(role.as_str())
            .execute(&mut *tx)
            .await?;
        self.record_and_commit(
            tx,
            AuditEvent::on_case(clinic_id, case_id, "share", "case", case_id),
        )
        .await?;
        Ok(())
    }

    pub async fn set_case_status(
        &self,
        clinic_id: &str,
        case_id: &str,
        status: CaseStatus,
        closed_on: Option<&str>,
    ) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "UPDATE cases SET status = $3, closed_on = $4 WHERE clinic_id = $1 AND case_id = $2",
        )
        .bind(clinic_id)
        .bind(case_id)
        .bind(status.as_str())
        .bind(closed_on)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound { what: "case" });
        }
        self.record_and_commit(
            tx,
            AuditEvent::on_case(clinic_id, case_id, "set_status", "case", case_id),
        )
        .await?;
        Ok(())
    }

    /// Ids of the cases a user is a clinician on.
    pub async fn case_ids_of_clinician(
        &self,
        clinic_id: &str,
        user_id: &str,
    ) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT case_id FROM case_clinicians WHERE clinic_id = $1 AND user_id = $2",
        )
        .bind(clinic_id)
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("case_id")?)).collect()
    }

    /// Every case of a clinic.
    pub async fn all_case_ids(&self, clinic_id: &str) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT case_id FROM cases WHERE clinic_id = $1")
            .bind(clinic_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(r.try_get("case_id")?)).collect()
    }

    /// Whether `user_id` is a clinician on the case.
    pub async fn is_clinician_on(
        &self,
        clinic_id: &str,
        case_id: &str,
        user_id: &str,
    ) -> Result<bool> {
        let r = sqlx::query("SELECT 1 AS one FROM case_clinicians WHERE clinic_id = $1 AND case_id = $2 AND user_id = $3")
            .bind(clinic_id)
            .bind(case_id)
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.is_some())
    }

    /// The setting of one case (the words its forms use), by primary key.
    pub async fn case_setting(&self, clinic_id: &str, case_id: &str) -> Result<Setting> {
        let r = sqlx::query("SELECT setting FROM cases WHERE clinic_id = $1 AND case_id = $2")
            .bind(clinic_id)
            .bind(case_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound { what: "case" })?;
        parse(
            "setting",
            &r.try_get::<String, _>("setting")?,
            Setting::parse,
        )
    }

    /// One case with its clients and clinicians. Reads only that case's rows (by the primary
    /// keys' `(clinic_id, case_id)` prefix): every client-link submission asks for its case, so
    /// this must not grow with the clinic (reading the whole clinic's cases here cost three
    /// full-clinic scans per request; see BENCHMARKS.md, load).
    pub async fn case(&self, clinic_id: &str, case_id: &str) -> Result<CaseRow> {
        let mut cases = self
            .case_rows(clinic_id, &[case_id.to_owned()], true)
            .await?;
        cases.pop().ok_or(StoreError::NotFound { what: "case" })
    }

    /// Cases with their clients and clinicians, in the order of `ids` (unknown ids are skipped).
    pub async fn cases_by_ids(&self, clinic_id: &str, ids: &[String]) -> Result<Vec<CaseRow>> {
        self.case_rows(clinic_id, ids, false).await
    }

    /// `cases_by_ids`; with `one`, `ids` holds one case and the SQL reads only its rows.
    async fn case_rows(&self, clinic_id: &str, ids: &[String], one: bool) -> Result<Vec<CaseRow>> {
        // Whole-clinic reads are small (one clinic's cases); filtering in memory keeps the SQL
        // portable without building IN lists. A single case is filtered in SQL.
        let only = |alias: &str| {
            if one {
                format!(" AND {alias}case_id = $2")
            } else {
                String::new()
            }
        };
        let one_id = ids.first().filter(|_| one);
        let wanted: HashMap<&str, usize> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect();
        let sql = format!(
            "SELECT case_id, title, setting, status, opened_on, closed_on FROM cases WHERE clinic_id = $1{}",
            only("")
        );
        let mut q = sqlx::query(&sql).bind(clinic_id);
        if let Some(id) = one_id {
            q = q.bind(id);
        }
        let rows = q.fetch_all(&self.pool).await?;
        let mut out: Vec<(usize, CaseRow)> = Vec::new();
        for r in &rows {
            let id: String = r.try_get("case_id")?;
            let Some(&pos) = wanted.get(id.as_str()) else {
                continue;
            };
            out.push((
                pos,
                CaseRow {
                    case_id: id,
                    title: r.try_get("title")?,
                    setting: parse(
                        "setting",
                        &r.try_get::<String, _>("setting")?,
                        Setting::parse,
                    )?,
                    status: parse(
                        "case status",
                        &r.try_get::<String, _>("status")?,
                        CaseStatus::parse,
                    )?,
                    opened_on: r.try_get("opened_on")?,
                    closed_on: r.try_get("closed_on")?,
                    clients: Vec::new(),
                    clinicians: Vec::new(),
                },
            ));
        }
        if out.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT cc.case_id, c.client_id, c.code, c.display_name FROM case_clients cc JOIN clients c ON c.clinic_id = cc.clinic_id AND c.client_id = cc.client_id WHERE cc.clinic_id = $1{} ORDER BY c.code",
            only("cc.")
        );
        let mut q = sqlx::query(&sql).bind(clinic_id);
        if let Some(id) = one_id {
            q = q.bind(id);
        }
        let clients = q.fetch_all(&self.pool).await?;
        let sql = format!(
            "SELECT cc.case_id, u.user_id, u.display_name, cc.role FROM case_clinicians cc JOIN users u ON u.clinic_id = cc.clinic_id AND u.user_id = cc.user_id WHERE cc.clinic_id = $1{} ORDER BY cc.role DESC, u.display_name",
            only("cc.")
        );
        let mut q = sqlx::query(&sql).bind(clinic_id);
        if let Some(id) = one_id {
            q = q.bind(id);
        }
        let clinicians = q.fetch_all(&self.pool).await?;
        let index: HashMap<String, usize> = out
            .iter()
            .enumerate()
            .map(|(i, (_, c))| (c.case_id.clone(), i))
            .collect();
        for r in &clients {
            let case_id: String = r.try_get("case_id")?;
            if let Some(&i) = index.get(&case_id) {
                out[i].1.clients.push(ClientRow {
                    client_id: r.try_get("client_id")?,
                    code: r.try_get("code")?,
                    display_name: r.try_get("display_name")?,
                });
            }
        }
        for r in &clinicians {
            let case_id: String = r.try_get("case_id")?;
            if let Some(&i) = index.get(&case_id) {
                let role = parse(
                    "case role",
                    &r.try_get::<String, _>("role")?,
                    CaseRole::parse,
                )?;
                out[i]
                    .1
                    .clinicians
                    .push((r.try_get("user_id")?, r.try_get("display_name")?, role));
            }
        }
        out.sort_by_key(|(pos, _)| *pos);
        Ok(out.into_iter().map(|(_, c)| c).collect())
    }

    /// The next session number of a case.
    pub async fn add_session(
        &self,
        clinic_id: &str,
        case_id: &str,
        held_on: &str,
        modality: Modality,
        status: SessionStatus,
        at: i64,
    ) -> Result<SessionRow> {
        let id = new_id();
        let mut tx = self.write_tx().await?;
        // Numbers are MAX + 1: two sessions added at once must not read the same MAX.
        crate::lock_case(&mut tx, clinic_id, case_id).await?;
        let next: i64 = sqlx::query("SELECT COALESCE(MAX(number), 0) + 1 AS next FROM sessions WHERE clinic_id = $1 AND case_id = $2")
            .bind(clinic_id)
            .bind(case_id)
            .fetch_one(&mut *tx)
            .await?
            .try_get("next")?;
        sqlx::query("INSERT INTO sessions (clinic_id, session_id, case_id, number, held_on, modality, status, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(clinic_id)
            .bind(&id)
            .bind(case_id)
            .bind(next)
            .bind(held_on)
            .bind(modality.as_str())
            .bind(status.as_str())
            .bind(at)
            .execute(&mut *tx)
            .await?;
        crate::monitoring::refresh_case_series(&mut tx, clinic_id, case_id, at).await?;
        self.record_and_commit(
            tx,
            AuditEvent::on_case(clinic_id, case_id, "create", "session", &id),
        )
        .await?;
        Ok(SessionRow {
            session_id: id,
            case_id: case_id.to_owned(),
            number: next,
            held_on: held_on.to_owned(),
            modality,
            status,
        })
    }

    pub async fn sessions(&self, clinic_id: &str, case_id: &str) -> Result<Vec<SessionRow>> {
        let rows = sqlx::query("SELECT session_id, case_id, number, held_on, modality, status FROM sessions WHERE clinic_id = $1 AND case_id = $2 ORDER BY number")
            .bind(clinic_id)
            .bind(case_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(session_from).collect()
    }

    pub async fn session(&self, clinic_id: &str, session_id: &str) -> Result<SessionRow> {
        let r = sqlx::query("SELECT session_id, case_id, number, held_on, modality, status FROM sessions WHERE clinic_id = $1 AND session_id = $2")
            .bind(clinic_id)
            .bind(session_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound { what: "session" })?;
        session_from(&r)
    }

    /// Caseload lines for the given cases: sessions held, latest scores, open risk flags.
    pub async fn case_summaries(
        &self,
        clinic_id: &str,
        case_ids: &[String],
    ) -> Result<Vec<CaseSummary>> {
        let cases = self.cases_by_ids(clinic_id, case_ids).await?;
        let wanted: HashMap<&str, usize> = cases
            .iter()
            .enumerate()
            .map(|(i, c)| (c.case_id.as_str(), i))
            .collect();
        let mut out: Vec<CaseSummary> = cases
            .iter()
            .map(|c| CaseSummary {
                case: c.clone(),
                sessions: 0,
                last_session_on: None,
                latest: Vec::new(),
                open_flags: 0,
            })
            .collect();

        let sess = sqlx::query(
            "SELECT case_id, COUNT(*) AS n, MAX(held_on) AS last_on FROM sessions WHERE clinic_id = $1 AND status = 'attended' GROUP BY case_id",
        )
        .bind(clinic_id)
        .fetch_all(&self.pool)
        .await?;
        for r in &sess {
            let case_id: String = r.try_get("case_id")?;
            if let Some(&i) = wanted.get(case_id.as_str()) {
                out[i].sessions = r.try_get("n")?;
                out[i].last_session_on = r.try_get("last_on")?;
            }
        }
        // Latest current (not superseded) score per case, instrument and scale.
        let scores = sqlx::query(
            "SELECT r.case_id, r.instrument_id, s.scale_id, s.value, s.band, se.number, r.submitted_at
             FROM responses r
             JOIN scores s ON s.clinic_id = r.clinic_id AND s.response_id = r.response_id
             LEFT JOIN sessions se ON se.clinic_id = r.clinic_id AND se.session_id = r.session_id
             WHERE r.clinic_id = $1
               AND NOT EXISTS (SELECT 1 FROM responses n WHERE n.clinic_id = r.clinic_id AND n.supersedes = r.response_id)
             ORDER BY r.submitted_at",
        )
        .bind(clinic_id)
        .fetch_all(&self.pool)
        .await?;
        let mut latest: HashMap<(usize, String, String), LatestScore> = HashMap::new();
        for r in &scores {
            let case_id: String = r.try_get("case_id")?;
            let Some(&i) = wanted.get(case_id.as_str()) else {
                continue;
            };
            let instrument_id: String = r.try_get("instrument_id")?;
            let scale_id: String = r.try_get("scale_id")?;
            let ls = LatestScore {
                instrument_id: instrument_id.clone(),
                scale_id: scale_id.clone(),
                value: r.try_get("value")?,
                band: r.try_get("band")?,
                session_number: r.try_get("number")?,
            };
            latest.insert((i, instrument_id, scale_id), ls);
        }
        for ((i, _, _), ls) in latest {
            out[i].latest.push(ls);
        }
        for s in &mut out {
            s.latest.sort_by(|a, b| {
                (&a.instrument_id, &a.scale_id).cmp(&(&b.instrument_id, &b.scale_id))
            });
        }
        let flags = sqlx::query(
            "SELECT r.case_id, COUNT(*) AS n FROM response_flags f JOIN responses r ON r.clinic_id = f.clinic_id AND r.response_id = f.response_id
             WHERE f.clinic_id = $1 AND f.severity = 'urgent'
               AND NOT EXISTS (SELECT 1 FROM responses n WHERE n.clinic_id = r.clinic_id AND n.supersedes = r.response_id)
             GROUP BY r.case_id",
        )
        .bind(clinic_id)
        .fetch_all(&self.pool)
        .await?;
        for r in &flags {
            let case_id: String = r.try_get("case_id")?;
            if let Some(&i) = wanted.get(case_id.as_str()) {
                out[i].open_flags = r.try_get("n")?;
            }
        }
        Ok(out)
    }
}
