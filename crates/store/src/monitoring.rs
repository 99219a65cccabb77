//! Monitoring storage: the per-case series read model and alerts with their lifecycle.

use std::collections::{BTreeMap, HashMap, HashSet};

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{new_id, Result, Store, StoreError};

/// Series of one subject: measure (`wai_sr.total`, `phq9.q9`) → (session number, value).
pub type SubjectSeries = BTreeMap<String, Vec<(i64, f64)>>;

/// Who a series belongs to: a client's id, or [`THERAPIST`] for the clinician's own ratings.
pub const THERAPIST: &str = "-";

/// The monitored scores of one case, per subject, with its sessions.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CaseSeries {
    pub case_id: String,
    pub subjects: BTreeMap<String, SubjectSeries>,
    /// Session number → attended.
    pub sessions: BTreeMap<i64, bool>,
    pub case_status: String,
}

/// Alerts written per INSERT statement (10 parameters each, well under SQLite's 32,766 and
/// PostgreSQL's 65,535).
const ALERTS_PER_STATEMENT: usize = 100;

/// Items whose answers are monitored on their own (risk items).
const ITEM_MEASURES: [(&str, &str); 1] = [("phq9", "q9")];

/// The series of one case: subject → measure → (session, value).
type Subjects = BTreeMap<String, SubjectSeries>;

/// One case's series as a writer computed it, before it is written.
struct Built {
    case_id: String,
    subjects: Subjects,
    /// Session number → attended.
    sessions: BTreeMap<i64, bool>,
    /// The latest `submitted_at` among the responses the series was built from (`None`: none),
    /// which decides whether a new response can be added without a rebuild.
    through: Option<i64>,
}

impl Built {
    fn into_series(self, case_status: String) -> CaseSeries {
        CaseSeries {
            case_id: self.case_id,
            subjects: self.subjects,
            sessions: self.sessions,
            case_status,
        }
    }
}

/// Rebuilds the series of one case from `scores`, `responses` and `sessions`, inside the caller's
/// transaction.
pub(crate) async fn refresh_case_series(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    clinic_id: &str,
    case_id: &str,
    at: i64,
) -> Result<()> {
    refresh_cases_series(tx, clinic_id, &[case_id], at).await
}

/// Rebuilds the series of several cases of a clinic at once: the same work as one case at a
/// time, in four statements for all of them (lock, responses with their scores, sessions,
/// upsert) rather than four per case.
pub(crate) async fn refresh_cases_series(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    clinic_id: &str,
    case_ids: &[&str],
    at: i64,
) -> Result<()> {
    let mut cases: Vec<&str> = case_ids.to_vec();
    cases.sort_unstable();
    cases.dedup();
    // The rebuild reads the cases' rows and writes the result: on PostgreSQL a concurrent
    // submission to the same case must wait, or its rebuild could overwrite this one's. Cases
    // are locked in id order, as every writer does.
    crate::lock_cases(tx, clinic_id, &cases).await?;
    let built = rebuild(tx, clinic_id, &cases).await?;
    write_series(tx, clinic_id, &built, at).await
}

/// The series of `cases` (sorted, distinct, already locked by the caller) computed afresh from
/// their rows.
async fn rebuild(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    clinic_id: &str,
    cases: &[&str],
) -> Result<Vec<Built>> {
    if cases.is_empty() {
        return Ok(Vec::new());
    }
    // `$2, $3, …` for the cases, after the clinic's `$1`.
    let list = crate::placeholders(cases.len(), 1);
    // CROSS JOIN keeps `responses` (found by `responses_by_case`) the outer loop on SQLite. With
    // plain JOINs and no ANALYZE statistics (Bordin never runs ANALYZE), SQLite's planner drives
    // the join from `scores` by the `clinic_id` prefix of its key, i.e. scans every score of the
    // clinic on each submission: 100 ms at 500 cases, seconds at 10,000. PostgreSQL plans a
    // CROSS JOIN with WHERE conditions like the inner join it is.
    // Within a session, the later response wins; `response_id` settles equal times, so that a
    // rebuild always gives the same series.
    let sql = format!(
        "SELECT r.case_id, r.response_id, r.client_id, r.respondent, r.instrument_id, r.answers, r.submitted_at, se.number, s.scale_id, s.value
         FROM responses r
         CROSS JOIN sessions se
         CROSS JOIN scores s
         WHERE r.clinic_id = $1 AND r.case_id IN ({list})
           AND se.clinic_id = r.clinic_id AND se.session_id = r.session_id
           AND s.clinic_id = r.clinic_id AND s.response_id = r.response_id
           AND NOT EXISTS (SELECT 1 FROM responses n WHERE n.clinic_id = r.clinic_id AND n.supersedes = r.response_id)
         ORDER BY r.case_id, se.number, r.submitted_at, r.response_id"
    );
    let mut q = sqlx::query(&sql).bind(clinic_id);
    for c in cases {
        q = q.bind(*c);
    }
    let rows = q.fetch_all(&mut **tx).await?;
    let mut built: BTreeMap<String, (Subjects, Option<i64>)> = cases
        .iter()
        .map(|c| ((*c).to_owned(), (BTreeMap::new(), None)))
        .collect();
    // A response's rows are consecutive (the order above ends with its id).
    let mut start = 0;
    while start < rows.len() {
        let response_id: String = rows[start].try_get("response_id")?;
        let mut end = start + 1;
        while end < rows.len() && rows[end].try_get::<String, _>("response_id")? == response_id {
            end += 1;
        }
        let r = &rows[start];
        let mut values = Vec::with_capacity(end - start);
        for row in &rows[start..end] {
            values.push((
                row.try_get::<String, _>("scale_id")?,
                row.try_get::<Option<f64>, _>("value")?,
            ));
        }
        let case_id: String = r.try_get("case_id")?;
        let submitted_at: i64 = r.try_get("submitted_at")?;
        let (subjects, through) = built.entry(case_id).or_default();
        *through = Some(through.map_or(submitted_at, |t| t.max(submitted_at)));
        add_response(
            subjects,
            &Scored {
                respondent: &r.try_get::<String, _>("respondent")?,
                client_id: r.try_get::<Option<String>, _>("client_id")?.as_deref(),
                instrument_id: &r.try_get::<String, _>("instrument_id")?,
                answers: &r.try_get::<String, _>("answers")?,
                values: values.iter().map(|(s, v)| (s.as_str(), *v)),
            },
            r.try_get("number")?,
        )?;
        start = end;
    }
    let sql = format!(
        "SELECT case_id, number, status FROM sessions WHERE clinic_id = $1 AND case_id IN ({list}) ORDER BY case_id, number"
    );
    let mut q = sqlx::query(&sql).bind(clinic_id);
    for c in cases {
        q = q.bind(*c);
    }
    let sessions = q.fetch_all(&mut **tx).await?;
    let mut sess: BTreeMap<String, BTreeMap<i64, bool>> = cases
        .iter()
        .map(|c| ((*c).to_owned(), BTreeMap::new()))
        .collect();
    for r in &sessions {
        let status: String = r.try_get("status")?;
        let case_id: String = r.try_get("case_id")?;
        let number: i64 = r.try_get("number")?;
        // Planned and cancelled sessions are neither attended nor missed.
        let attended = match status.as_str() {
            "attended" => true,
            "missed" => false,
            _ => continue,
        };
        sess.entry(case_id).or_default().insert(number, attended);
    }
    Ok(built
        .into_iter()
        .map(|(case_id, (subjects, through))| Built {
            sessions: sess.remove(&case_id).unwrap_or_default(),
            case_id,
            subjects,
            through,
        })
        .collect())
}

/// Brings the series of the cases a group of new responses touched up to date, inside the
/// group's transaction (the responses are already inserted).
///
/// Why not always rebuild: a rebuild reads the case's whole history again, and on every
/// submission that read was the largest part of PostgreSQL's work (BENCHMARKS.md, "Load").
/// A new response only adds values, so the stored series is read (one row per case) and the
/// response's values are put in, exactly as a rebuild would put them: in session order, the
/// later response at a session replacing the earlier one.
///
/// That equivalence holds only when every new response of a case is later than everything the
/// series was built from (`through`) and than each other, and is a first version (a correction
/// hides the response it supersedes). Any case where that does not hold, or which has no stored
/// series yet, is rebuilt instead. A property test checks the result against a rebuild.
///
/// Returns the touched cases' series as this transaction leaves them, for the monitoring that
/// follows the submission (it need not read them again).
pub(crate) async fn add_to_cases_series(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    clinic_id: &str,
    responses: &[&crate::forms::ResponseRows],
    at: i64,
) -> Result<Vec<CaseSeries>> {
    let mut by_case: BTreeMap<&str, Vec<&crate::forms::ResponseRows>> = BTreeMap::new();
    for r in responses {
        by_case.entry(r.case_id.as_str()).or_default().push(r);
    }
    if by_case.is_empty() {
        return Ok(Vec::new());
    }
    let cases: Vec<&str> = by_case.keys().copied().collect();
    let list = crate::placeholders(cases.len(), 1);
    // Locked as the rebuild locks them, and read afterwards in a statement of its own, so that
    // the read sees whatever a writer that held the lock before committed.
    crate::lock_cases(tx, clinic_id, &cases).await?;
    // One statement reads, after the lock, each case's status (it comes along for the series
    // handed back) and stored series, and the numbers of the sessions the responses are about
    // (a response without a session is not part of any series, as in the rebuild). One rather
    // than two: each statement is a round trip while the group's transaction holds its locks.
    let mut session_ids: Vec<&str> = responses
        .iter()
        .filter_map(|r| r.session_id.as_deref())
        .collect();
    session_ids.sort_unstable();
    session_ids.dedup();
    let mut sql = format!(
        "SELECT 'case' AS kind, c.case_id AS id, c.status AS status, cs.series AS series,
                cs.sessions AS sessions, cs.series_through AS n
         FROM cases c LEFT JOIN case_series cs ON cs.clinic_id = c.clinic_id AND cs.case_id = c.case_id
         WHERE c.clinic_id = $1 AND c.case_id IN ({list})"
    );
    if !session_ids.is_empty() {
        sql.push_str(&format!(
            " UNION ALL
             SELECT 'session', s.session_id, NULL, NULL, NULL, s.number FROM sessions s
             WHERE s.clinic_id = $1 AND s.session_id IN ({})",
            crate::placeholders(session_ids.len(), 1 + cases.len())
        ));
    }
    let mut q = sqlx::query(&sql).bind(clinic_id);
    for id in cases.iter().chain(&session_ids) {
        q = q.bind(*id);
    }
    let mut status: HashMap<String, String> = HashMap::new();
    let mut stored: HashMap<String, (String, String, i64)> = HashMap::new();
    let mut numbers: HashMap<String, i64> = HashMap::new();
    for r in q.fetch_all(&mut **tx).await? {
        let id: String = r.try_get("id")?;
        let through: Option<i64> = r.try_get("n")?;
        if r.try_get::<String, _>("kind")? == "session" {
            if let Some(number) = through {
                numbers.insert(id, number);
            }
            continue;
        }
        if let (Some(series), Some(sessions), Some(through)) = (
            r.try_get::<Option<String>, _>("series")?,
            r.try_get::<Option<String>, _>("sessions")?,
            through,
        ) {
            stored.insert(id.clone(), (series, sessions, through));
        }
        status.insert(id, r.try_get("status")?);
    }
    let mut out = Vec::new();
    let mut stale = Vec::new();
    for (case_id, mut new) in by_case {
        new.sort_by_key(|r| r.submitted_at);
        let Some((series, sessions, through)) = stored.remove(case_id) else {
            stale.push(case_id);
            continue;
        };
        let later = new.first().is_some_and(|r| r.submitted_at > through)
            && new
                .windows(2)
                .all(|w| w[0].submitted_at < w[1].submitted_at)
            && new.iter().all(|r| r.version == 1 && r.supersedes.is_none());
        if !later {
            stale.push(case_id);
            continue;
        }
        let mut subjects: Subjects = from_json(&series)?;
        let mut latest = through;
        for r in &new {
            let Some(number) = r.session_id.as_deref().and_then(|s| numbers.get(s)) else {
                continue;
            };
            // As in the rebuild, a response counts from when it has a session and scores.
            if r.scores.is_empty() {
                continue;
            }
            latest = r.submitted_at;
            add_response(
                &mut subjects,
                &Scored {
                    respondent: r.respondent,
                    client_id: r.client_id.as_deref(),
                    instrument_id: &r.instrument_id,
                    answers: &r.answers,
                    values: r.scores.iter().map(|s| (s.scale_id.as_str(), s.value)),
                },
                *number,
            )?;
        }
        out.push(Built {
            case_id: case_id.to_owned(),
            subjects,
            sessions: sessions_from_json(&sessions)?,
            through: Some(latest),
        });
    }
    for chunk in stale.chunks(CASES_PER_STATEMENT) {
        out.extend(rebuild(tx, clinic_id, chunk).await?);
    }
    write_series(tx, clinic_id, &out, at).await?;
    Ok(out
        .into_iter()
        .map(|b| {
            let s = status.get(&b.case_id).cloned().unwrap_or_default();
            b.into_series(s)
        })
        .collect())
}

/// Cases per rebuild (one value each, in three statements).
const CASES_PER_STATEMENT: usize = 200;

/// Cases per series upsert (four values each).
const SERIES_PER_STATEMENT: usize = 200;

/// One scored response, as a series sees it.
struct Scored<'a, I> {
    respondent: &'a str,
    client_id: Option<&'a str>,
    instrument_id: &'a str,
    /// The answers as stored (JSON object of item → exact decimal text).
    answers: &'a str,
    /// Scale → value (`None`: not scorable).
    values: I,
}

/// Puts one response's monitored values into its case's series at session `number`. The one
/// rule both the rebuild and the group writer's addition follow.
fn add_response<'a>(
    subjects: &mut Subjects,
    r: &Scored<'a, impl Iterator<Item = (&'a str, Option<f64>)> + Clone>,
    number: i64,
) -> Result<()> {
    let subject = match (r.respondent, r.client_id) {
        ("client", Some(client)) => client,
        _ => THERAPIST,
    };
    let mut any = false;
    for (scale, value) in r.values.clone() {
        let Some(value) = value else { continue };
        any = true;
        put(
            subjects.entry(subject.to_owned()).or_default(),
            &format!("{}.{scale}", r.instrument_id),
            number,
            value,
        );
    }
    // Risk items count only for a response with a score (as they always have).
    if !any {
        return Ok(());
    }
    for (inst, item) in ITEM_MEASURES {
        if inst != r.instrument_id {
            continue;
        }
        let parsed: serde_json::Map<String, serde_json::Value> = from_json(r.answers)?;
        if let Some(v) = parsed
            .get(item)
            .and_then(|v| v.as_str())
            .and_then(|s| s.parse::<f64>().ok())
        {
            put(
                subjects.entry(subject.to_owned()).or_default(),
                &format!("{inst}.{item}"),
                number,
                v,
            );
        }
    }
    Ok(())
}

/// Writes series rows (insert or replace).
async fn write_series(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    clinic_id: &str,
    rows: &[Built],
    at: i64,
) -> Result<()> {
    for chunk in rows.chunks(SERIES_PER_STATEMENT) {
        let mut sql = String::from(
            "INSERT INTO case_series (clinic_id, case_id, series, sessions, series_through, updated_at) VALUES ",
        );
        let mut json = Vec::with_capacity(chunk.len());
        for (k, r) in chunk.iter().enumerate() {
            if k > 0 {
                sql.push_str(", ");
            }
            let b = 4 * k + 3;
            sql.push_str(&format!(
                "($1, ${b}, ${}, ${}, ${}, $2)",
                b + 1,
                b + 2,
                b + 3
            ));
            // Session numbers become JSON object keys (text), as `series_from` reads them.
            json.push((to_json(&r.subjects)?, to_json(&r.sessions)?));
        }
        sql.push_str(
            " ON CONFLICT (clinic_id, case_id) DO UPDATE SET series = excluded.series, sessions = excluded.sessions, series_through = excluded.series_through, updated_at = excluded.updated_at",
        );
        let mut q = sqlx::query(&sql).bind(clinic_id).bind(at);
        for (r, (series, sessions)) in chunk.iter().zip(&json) {
            q = q
                .bind(&r.case_id)
                .bind(series)
                .bind(sessions)
                .bind(r.through);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

fn to_json(v: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A stored `sessions` column: session number (as text, JSON object keys) → attended. A key
/// that is not a number is skipped.
fn sessions_from_json(text: &str) -> Result<BTreeMap<i64, bool>> {
    let sessions: BTreeMap<String, bool> = from_json(text)?;
    Ok(sessions
        .into_iter()
        .filter_map(|(k, v)| k.parse().ok().map(|k| (k, v)))
        .collect())
}

/// Puts `value` at `session` in a measure's series, kept in session order: one value per
/// session, a later response at the same session replacing it.
fn put(s: &mut SubjectSeries, measure: &str, session: i64, value: f64) {
    let v = s.entry(measure.to_owned()).or_default();
    match v.binary_search_by_key(&session, |p| p.0) {
        Ok(i) => v[i].1 = value,
        Err(i) => v.insert(i, (session, value)),
    }
}

fn series_from(r: &AnyRow) -> Result<CaseSeries> {
    Ok(CaseSeries {
        case_id: r.try_get("case_id")?,
        subjects: from_json(&r.try_get::<String, _>("series")?)?,
        sessions: sessions_from_json(&r.try_get::<String, _>("sessions")?)?,
        case_status: r.try_get("status")?,
    })
}

/// An alert to raise (from a monitoring signal).
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlert {
    pub case_id: String,
    pub kind: String,
    pub measure: String,
    pub session_number: i64,
    pub event_key: String,
    pub urgency: String,
    pub message: String,
    pub detail: String,
    /// Good news (repair, improvement, recovery): recorded, needs no action.
    pub info: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AlertRow {
    pub alert_id: String,
    pub case_id: String,
    pub kind: String,
    pub measure: String,
    pub session_number: i64,
    pub event_key: String,
    pub urgency: String,
    pub message: String,
    pub detail: String,
    pub status: String,
    pub raised_at: i64,
    pub acknowledged_at: Option<i64>,
    pub acknowledged_by: Option<String>,
    pub resolved_at: Option<i64>,
    pub resolved_by: Option<String>,
    pub action_taken: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AlertEvent {
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub note: Option<String>,
}

const ALERT_COLUMNS: &str = "alert_id, case_id, kind, measure, session_number, event_key, urgency, message, detail, status, raised_at, acknowledged_at, acknowledged_by, resolved_at, resolved_by, action_taken";

fn alert_from(r: &AnyRow, k: Option<&crate::seal::Keyring>, clinic_id: &str) -> Result<AlertRow> {
    Ok(AlertRow {
        alert_id: r.try_get("alert_id")?,
        case_id: r.try_get("case_id")?,
        kind: r.try_get("kind")?,
        measure: r.try_get("measure")?,
        session_number: r.try_get("session_number")?,
        event_key: r.try_get("event_key")?,
        urgency: r.try_get("urgency")?,
        message: r.try_get("message")?,
        detail: r.try_get("detail")?,
        status: r.try_get("status")?,
        raised_at: r.try_get("raised_at")?,
        acknowledged_at: r.try_get("acknowledged_at")?,
        acknowledged_by: r.try_get("acknowledged_by")?,
        resolved_at: r.try_get("resolved_at")?,
        resolved_by: r.try_get("resolved_by")?,
        action_taken: crate::seal::open_opt(
            k,
            clinic_id,
            "alerts",
            "action_taken",
            r.try_get("action_taken")?,
        )?,
    })
}

impl Store {
    /// The series of one case (empty when nothing was scored yet).
    pub async fn case_series(&self, clinic_id: &str, case_id: &str) -> Result<CaseSeries> {
        let r = sqlx::query(
            "SELECT cs.case_id, cs.series, cs.sessions, c.status FROM case_series cs JOIN cases c ON c.clinic_id = cs.clinic_id AND c.case_id = cs.case_id
             WHERE cs.clinic_id = $1 AND cs.case_id = $2",
        )
        .bind(clinic_id)
        .bind(case_id)
        .fetch_optional(&self.pool)
        .await?;
        match r {
            Some(r) => series_from(&r),
            None => Ok(CaseSeries {
                case_id: case_id.to_owned(),
                ..CaseSeries::default()
            }),
        }
    }

    /// The series of every case of a clinic (one row per case).
    pub async fn all_case_series(&self, clinic_id: &str) -> Result<Vec<CaseSeries>> {
        let rows = sqlx::query(
            "SELECT cs.case_id, cs.series, cs.sessions, c.status FROM case_series cs JOIN cases c ON c.clinic_id = cs.clinic_id AND c.case_id = cs.case_id
             WHERE cs.clinic_id = $1",
        )
        .bind(clinic_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(series_from).collect()
    }

    /// Rebuilds a case's series (after a session change, or to repair the read model).
    pub async fn refresh_case_series(&self, clinic_id: &str, case_id: &str, at: i64) -> Result<()> {
        let mut tx = self.write_tx().await?;
        refresh_case_series(&mut tx, clinic_id, case_id, at).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Raises alerts; an event that already has an alert (in any state) is skipped, so a resolved
    /// alert never comes back for the same event. Returns the ids of the alerts raised now.
    pub async fn raise_alerts(
        &self,
        clinic_id: &str,
        alerts: &[NewAlert],
        at: i64,
    ) -> Result<Vec<String>> {
        if alerts.is_empty() {
            return Ok(Vec::new());
        }
        // Most evaluations find their events already raised: read the keys first, without the
        // write lock, and write only what is new (the conflict clause below still settles a race
        // with a concurrent evaluation).
        let existing = self.alert_keys(clinic_id, alerts).await?;
        let new: Vec<&NewAlert> = alerts
            .iter()
            .filter(|a| {
                !existing
                    .get(&a.case_id)
                    .is_some_and(|keys| keys.contains(&a.event_key))
            })
            .collect();
        if new.is_empty() {
            return Ok(Vec::new());
        }
        // Multi-row statements: one INSERT per 100 alerts (RETURNING names those not already
        // raised), one INSERT of their `raised` events. A statement per alert made a first
        // evaluation of 10,000 cases (~120,000 alerts) take 20 s.
        let mut raised = Vec::new();
        let mut tx = self.write_tx().await?;
        for chunk in new.chunks(ALERTS_PER_STATEMENT) {
            let ids: Vec<String> = chunk.iter().map(|_| new_id()).collect();
            let mut sql = format!("INSERT INTO alerts (clinic_id, {ALERT_COLUMNS}) VALUES ");
            for k in 0..chunk.len() {
                let b = 3 + 10 * k;
                if k > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!(
                    "($1, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, $2, NULL, NULL, NULL, NULL, NULL)",
                    b,
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5,
                    b + 6,
                    b + 7,
                    b + 8,
                    b + 9
                ));
            }
            sql.push_str(
                " ON CONFLICT (clinic_id, case_id, event_key) DO NOTHING RETURNING alert_id",
            );
            let mut q = sqlx::query(&sql).bind(clinic_id).bind(at);
            for (a, id) in chunk.iter().zip(&ids) {
                q = q
                    .bind(id)
                    .bind(&a.case_id)
                    .bind(&a.kind)
                    .bind(&a.measure)
                    .bind(a.session_number)
                    .bind(&a.event_key)
                    .bind(&a.urgency)
                    .bind(&a.message)
                    .bind(&a.detail)
                    .bind(if a.info { "info" } else { "open" });
            }
            let inserted: Vec<String> = q
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| r.try_get("alert_id"))
                .collect::<std::result::Result<_, _>>()?;
            if inserted.is_empty() {
                continue;
            }
            let mut sql = String::from(
                "INSERT INTO alert_events (clinic_id, alert_id, at, actor, action, note) VALUES ",
            );
            for k in 0..inserted.len() {
                if k > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("($1, ${}, $2, 'bordin', 'raised', NULL)", 3 + k));
            }
            let mut q = sqlx::query(&sql).bind(clinic_id).bind(at);
            for id in &inserted {
                q = q.bind(id);
            }
            q.execute(&mut *tx).await?;
            raised.extend(inserted);
        }
        tx.commit().await?;
        Ok(raised)
    }

    /// The event keys that already have an alert, per case: of the one case when `alerts` are all
    /// about one case, else of the whole clinic.
    async fn alert_keys(
        &self,
        clinic_id: &str,
        alerts: &[NewAlert],
    ) -> Result<HashMap<String, HashSet<String>>> {
        let one_case = alerts
            .first()
            .map(|a| a.case_id.as_str())
            .filter(|c| alerts.iter().all(|a| a.case_id == *c));
        // One row per case with its keys joined: reading the ~120,000 keys of a large clinic row
        // by row took 0.3 s. Event keys hold no newline.
        let agg = match self.backend {
            crate::Backend::Sqlite => "group_concat(event_key, char(10))",
            crate::Backend::Postgres => "string_agg(event_key, chr(10))",
        };
        let rows = match one_case {
            Some(case_id) => {
                sqlx::query(&format!(
                    "SELECT case_id, {agg} AS event_keys FROM alerts WHERE clinic_id = $1 AND case_id = $2 GROUP BY case_id"
                ))
                .bind(clinic_id)
                .bind(case_id)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(&format!(
                    "SELECT case_id, {agg} AS event_keys FROM alerts WHERE clinic_id = $1 GROUP BY case_id"
                ))
                .bind(clinic_id)
                .fetch_all(&self.pool)
                .await?
            }
        };
        let mut keys: HashMap<String, HashSet<String>> = HashMap::new();
        for r in &rows {
            let joined: String = r.try_get("event_keys")?;
            keys.insert(
                r.try_get("case_id")?,
                joined.split('\n').map(str::to_owned).collect(),
            );
        }
        Ok(keys)
    }

    /// Alerts of a clinic, optionally of one case and in some states, most urgent and newest first.
    pub async fn alerts(
        &self,
        clinic_id: &str,
        case_id: Option<&str>,
        statuses: &[&str],
    ) -> Result<Vec<AlertRow>> {
        let rows = match case_id {
            Some(c) => sqlx::query(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE clinic_id = $1 AND case_id = $2 ORDER BY raised_at DESC, session_number DESC"))
                .bind(clinic_id)
                .bind(c)
                .fetch_all(&self.pool)
                .await?,
            None => sqlx::query(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE clinic_id = $1 ORDER BY raised_at DESC, session_number DESC"))
                .bind(clinic_id)
                .fetch_all(&self.pool)
                .await?,
        };
        let mut out: Vec<AlertRow> = rows
            .iter()
            .map(|r| alert_from(r, self.keys(), clinic_id))
            .collect::<Result<_>>()?;
        if !statuses.is_empty() {
            out.retain(|a| statuses.contains(&a.status.as_str()));
        }
        out.sort_by_key(|a| std::cmp::Reverse(urgency_rank(&a.urgency)));
        Ok(out)
    }

    pub async fn alert(&self, clinic_id: &str, alert_id: &str) -> Result<AlertRow> {
        let r = sqlx::query(&format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE clinic_id = $1 AND alert_id = $2"
        ))
        .bind(clinic_id)
        .bind(alert_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound { what: "alert" })?;
        alert_from(&r, self.keys(), clinic_id)
    }

    /// Moves an alert on: open → acknowledged → resolved (open → resolved is allowed too).
    /// Resolving needs a note on what was done. Each change is recorded in `alert_events`.
    pub async fn update_alert(
        &self,
        clinic_id: &str,
        alert_id: &str,
        action: &str,
        actor: &str,
        note: Option<&str>,
        at: i64,
    ) -> Result<AlertRow> {
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        let (from, sql): (&[&str], &str) = match action {
            "acknowledged" => (&["open"], "UPDATE alerts SET status = 'acknowledged', acknowledged_at = $3, acknowledged_by = $4 WHERE clinic_id = $1 AND alert_id = $2"),
            "resolved" => {
                if note.is_none() {
                    return Err(StoreError::Conflict("say what was done to resolve the alert".into()));
                }
                (
                    &["open", "acknowledged"],
                    "UPDATE alerts SET status = 'resolved', resolved_at = $3, resolved_by = $4, action_taken = $5,
                       acknowledged_at = COALESCE(acknowledged_at, $3), acknowledged_by = COALESCE(acknowledged_by, $4)
                     WHERE clinic_id = $1 AND alert_id = $2",
                )
            }
            other => return Err(StoreError::Conflict(format!("unknown alert action '{other}'"))),
        };
        let k = self.keys();
        let sealed_action = crate::seal::seal_opt(k, clinic_id, "alerts", "action_taken", note)?;
        let sealed_note = crate::seal::seal_opt(k, clinic_id, "alert_events", "note", note)?;
        let mut tx = self.write_tx().await?;
        // Locked on PostgreSQL, so two people acting on one alert at once cannot both move it.
        let found = sqlx::query(&format!(
            "SELECT status, case_id FROM alerts WHERE clinic_id = $1 AND alert_id = $2{}",
            crate::for_update(self.backend)
        ))
        .bind(clinic_id)
        .bind(alert_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound { what: "alert" })?;
        let current: String = found.try_get("status")?;
        let case_id: String = found.try_get("case_id")?;
        if !from.contains(&current.as_str()) {
            return Err(StoreError::Conflict(format!(
                "this alert is {current}; it cannot be {action}"
            )));
        }
        sqlx::query(sql)
            .bind(clinic_id)
            .bind(alert_id)
            .bind(at)
            .bind(actor)
            .bind(sealed_action.as_deref())
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO alert_events (clinic_id, alert_id, at, actor, action, note) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(clinic_id)
            .bind(alert_id)
            .bind(at)
            .bind(actor)
            .bind(action)
            .bind(sealed_note.as_deref())
            .execute(&mut *tx)
            .await?;
        self.record_and_commit(
            tx,
            crate::audit::AuditEvent::on_case(clinic_id, &case_id, action, "alert", alert_id),
        )
        .await?;
        self.alert(clinic_id, alert_id).await
    }

    pub async fn alert_events(&self, clinic_id: &str, alert_id: &str) -> Result<Vec<AlertEvent>> {
        let rows = sqlx::query("SELECT at, actor, action, note FROM alert_events WHERE clinic_id = $1 AND alert_id = $2 ORDER BY at, action")
            .bind(clinic_id)
            .bind(alert_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AlertEvent {
                    at: r.try_get("at")?,
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    note: crate::seal::open_opt(
                        self.keys(),
                        clinic_id,
                        "alert_events",
                        "note",
                        r.try_get("note")?,
                    )?,
                })
            })
            .collect()
    }
}

fn urgency_rank(u: &str) -> u8 {
    match u {
        "red" => 2,
        "amber" => 1,
        _ => 0,
    }
}
