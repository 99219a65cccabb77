//! Everything held on one person, exported (GDPR art. 15 access, art. 20 portability) or erased
//! (art. 17).
//!
//! Both walk the same map of tables ([`PERSON_TABLES`]), so a table that holds client data and
//! is missing from the map is caught by a test that lists the schema (`tests/it/privacy.rs`).
//!
//! Erasure removes the person's clinical data in one transaction. Records the schema otherwise
//! refuses to delete (responses, formulations, consent records, the agreements log) are released
//! only by an erasure record for that client or case, written first in the same transaction
//! (migration 0007): immutability is not weakened for any other row. What stays: the tombstone
//! (`erasures`, `erased_cases`, `erasure_counts`: who erased whom — by random id only — when,
//! why, how many rows), and audit entries, which name object ids and carry no clinical content.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use sqlx::{Column, Row};

use crate::{new_id, Result, Store, StoreError};

/// How a table's rows belong to a person: `$1` is the clinic id, `$2` the client id, and
/// `CASES` the ids of all the person's cases, `ERASED` those an erasure removes whole (the person
/// was their only client), `RESPONSES` the responses about the person.
struct PersonTable {
    table: &'static str,
    /// The condition selecting the person's rows.
    export: &'static str,
    /// The condition selecting the rows an erasure removes (`ERASED` = the erased cases).
    erase: &'static str,
}

const RESPONSES_OF_PERSON: &str = "(client_id = $2 OR (client_id IS NULL AND case_id IN CASES))";

/// Every table holding data about a client, in the order an erasure deletes them (children
/// before parents). `export` is `None`-like ("") where the export takes the rows another way.
const PERSON_TABLES: &[PersonTable] = &[
    PersonTable {
        table: "agreements_log",
        export: "case_id IN CASES AND NOT (object_type = 'consent' AND object_id IN (SELECT consent_id FROM consent_records WHERE clinic_id = $1 AND client_id <> $2))",
        erase: "(case_id IN ERASED OR (object_type = 'consent' AND object_id IN (SELECT consent_id FROM consent_records WHERE clinic_id = $1 AND client_id = $2)))",
    },
    PersonTable {
        table: "response_flags",
        export: "response_id IN (SELECT response_id FROM responses WHERE clinic_id = $1 AND RESPONSES)",
        erase: "response_id IN (SELECT response_id FROM responses WHERE clinic_id = $1 AND (client_id = $2 OR case_id IN ERASED))",
    },
    PersonTable {
        table: "scores",
        export: "response_id IN (SELECT response_id FROM responses WHERE clinic_id = $1 AND RESPONSES)",
        erase: "response_id IN (SELECT response_id FROM responses WHERE clinic_id = $1 AND (client_id = $2 OR case_id IN ERASED))",
    },
    PersonTable {
        table: "responses",
        export: "RESPONSES",
        erase: "(client_id = $2 OR case_id IN ERASED)",
    },
    PersonTable {
        table: "administrations",
        export: "RESPONSES",
        erase: "(client_id = $2 OR case_id IN ERASED)",
    },
    PersonTable {
        table: "alert_events",
        export: "alert_id IN (SELECT alert_id FROM alerts WHERE clinic_id = $1 AND case_id IN CASES)",
        erase: "alert_id IN (SELECT alert_id FROM alerts WHERE clinic_id = $1 AND case_id IN ERASED)",
    },
    PersonTable {
        table: "alerts",
        export: "case_id IN CASES",
        erase: "case_id IN ERASED",
    },
    PersonTable {
        table: "case_series",
        // A read model rebuilt from the scores: exported through them, not twice.
        export: "",
        erase: "case_id IN ERASED",
    },
    PersonTable {
        // The words of a case's transcripts (sealed at rest; opened for the export). A shared
        // case keeps its transcripts, like its sessions and goals.
        table: "transcript_texts",
        export: "transcript_id IN (SELECT transcript_id FROM transcripts WHERE clinic_id = $1 AND case_id IN CASES)",
        erase: "transcript_id IN (SELECT transcript_id FROM transcripts WHERE clinic_id = $1 AND case_id IN ERASED)",
    },
    PersonTable {
        table: "transcripts",
        export: "case_id IN CASES",
        erase: "case_id IN ERASED",
    },
    PersonTable {
        table: "task_reports",
        export: "case_id IN CASES",
        erase: "case_id IN ERASED",
    },
    PersonTable {
        table: "goal_ratings",
        export: "case_id IN CASES",
        erase: "case_id IN ERASED",
    },
    PersonTable {
        table: "tasks",
        export: "case_id IN CASES",
        erase: "case_id IN ERASED",
    },
    PersonTable {
        table: "goals",
        export: "case_id IN CASES",
        erase: "case_id IN ERASED",
    },
    PersonTable {
        table: "formulations",
        export: "case_id IN CASES",
        erase: "case_id IN ERASED",
    },
    PersonTable {
        table: "consent_records",
        export: "client_id = $2",
        erase: "(client_id = $2 OR case_id IN ERASED)",
    },
    PersonTable {
        table: "case_links",
        export: "client_id = $2",
        erase: "(client_id = $2 OR case_id IN ERASED)",
    },
    PersonTable {
        table: "sessions",
        export: "case_id IN CASES",
        erase: "case_id IN ERASED",
    },
    PersonTable {
        table: "case_clinicians",
        export: "case_id IN CASES",
        erase: "case_id IN ERASED",
    },
    PersonTable {
        table: "case_clients",
        export: "client_id = $2",
        erase: "(client_id = $2 OR case_id IN ERASED)",
    },
    PersonTable {
        // Which historical import created the case (its source key).
        table: "imported_cases",
        export: "case_id IN CASES",
        erase: "case_id IN ERASED",
    },
    PersonTable {
        table: "cases",
        export: "case_id IN CASES",
        erase: "case_id IN ERASED",
    },
    PersonTable {
        table: "clients",
        export: "client_id = $2",
        erase: "client_id = $2",
    },
];

/// Tables that name a client or case but are deliberately not part of a person's data: the
/// erasure tombstone itself (kept by design; see the module doc).
pub const KEPT_TABLES: &[&str] = &[
    "erasures",
    "erased_cases",
    "erasure_counts",
    // The audit trail names case and object ids, never clinical content; it is append-only and
    // hash-chained, and an erasure is itself recorded in it (docs/operations.md).
    "audit_log",
];

/// The tables an export and an erasure cover (for the schema-coverage test and the docs).
pub fn person_tables() -> Vec<&'static str> {
    PERSON_TABLES.iter().map(|t| t.table).collect()
}

/// Columns whose text is JSON: embedded as JSON in an export rather than as a string.
const JSON_COLUMNS: &[&str] = &[
    "answers",
    "snapshot",
    "gas_levels",
    "goal_ids",
    "detail",
    "speakers",
    "analysis",
    "summary",
];

const CASES_OF_PERSON: &str =
    "(SELECT case_id FROM case_clients WHERE clinic_id = $1 AND client_id = $2)";
/// The cases removed whole by this client's erasure (one erasure per client and clinic).
const ERASED_CASES: &str = "(SELECT ec.case_id FROM erased_cases ec JOIN erasures e ON e.clinic_id = ec.clinic_id AND e.erasure_id = ec.erasure_id WHERE e.clinic_id = $1 AND e.client_id = $2)";

/// What an erasure removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErasureReport {
    pub erasure_id: String,
    /// Cases removed whole (the person was their only client).
    pub cases_removed: Vec<String>,
    /// Cases shared with other clients: kept, without the person's own rows.
    pub cases_kept: Vec<String>,
    /// Table → rows removed (tables with no rows removed are left out).
    pub removed: BTreeMap<String, u64>,
}

/// The tombstone of an erasure, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErasureRow {
    pub erasure_id: String,
    pub client_id: String,
    pub erased_by: String,
    pub erased_at: i64,
    pub reason: String,
}

/// One column value as JSON: integer, real, text (JSON columns parsed) or null.
fn column_json(row: &sqlx::any::AnyRow, i: usize, name: &str) -> Value {
    if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
        return v.map_or(Value::Null, Value::from);
    }
    if let Ok(v) = row.try_get::<Option<i32>, _>(i) {
        return v.map_or(Value::Null, Value::from);
    }
    if let Ok(v) = row.try_get::<Option<f64>, _>(i) {
        return v.map_or(Value::Null, Value::from);
    }
    if let Ok(v) = row.try_get::<Option<bool>, _>(i) {
        return v.map_or(Value::Null, Value::from);
    }
    match row.try_get::<Option<String>, _>(i) {
        Ok(Some(s)) if JSON_COLUMNS.contains(&name) => {
            serde_json::from_str(&s).unwrap_or(Value::String(s))
        }
        Ok(Some(s)) => Value::String(s),
        _ => Value::Null,
    }
}

fn row_json(row: &sqlx::any::AnyRow) -> Value {
    let mut m = Map::new();
    for (i, c) in row.columns().iter().enumerate() {
        m.insert(c.name().to_owned(), column_json(row, i, c.name()));
    }
    Value::Object(m)
}

impl Store {
    /// A row as exported: its sealed free text opened with the clinic's key (a person's export
    /// is for the person, who reads words, not ciphertext), JSON columns parsed.
    fn opened(&self, clinic_id: &str, table: &str, mut row: Value) -> Result<Value> {
        let Some((_, _, columns)) = crate::seal::SEALED_COLUMNS
            .iter()
            .find(|(t, _, _)| *t == table)
        else {
            return Ok(row);
        };
        if let Value::Object(m) = &mut row {
            for c in *columns {
                if let Some(Value::String(stored)) = m.get(*c) {
                    let plain =
                        crate::seal::open_col(self.keys(), clinic_id, table, c, stored.clone())?;
                    let v = if JSON_COLUMNS.contains(c) {
                        serde_json::from_str(&plain).unwrap_or(Value::String(plain))
                    } else {
                        Value::String(plain)
                    };
                    m.insert((*c).to_owned(), v);
                }
            }
        }
        Ok(row)
    }

    /// Everything held on one client of a clinic, as JSON: one array of rows per table, under
    /// `tables`. Rows of other clients sharing a case (their answers, consents, links) are left
    /// out; the case's own records (sessions, goals, alerts…) are included.
    pub async fn export_client(&self, clinic_id: &str, client_id: &str) -> Result<Value> {
        let client =
            sqlx::query("SELECT client_id FROM clients WHERE clinic_id = $1 AND client_id = $2")
                .bind(clinic_id)
                .bind(client_id)
                .fetch_optional(&self.pool)
                .await?;
        if client.is_none() {
            return Err(StoreError::NotFound { what: "client" });
        }
        // One read transaction: every table seen at the same moment.
        let mut tx = self.pool.begin().await?;
        let mut tables = Map::new();
        for t in PERSON_TABLES.iter().rev().filter(|t| !t.export.is_empty()) {
            let cond = t
                .export
                .replace("RESPONSES", RESPONSES_OF_PERSON)
                .replace("CASES", CASES_OF_PERSON);
            let sql = format!("SELECT * FROM {} WHERE clinic_id = $1 AND {cond}", t.table);
            let rows = sqlx::query(&sql)
                .bind(clinic_id)
                .bind(client_id)
                .fetch_all(&mut *tx)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                out.push(self.opened(clinic_id, t.table, row_json(r))?);
            }
            tables.insert(t.table.to_owned(), Value::Array(out));
        }
        tx.commit().await?;
        // A person's export reads everything held on them: one entry names it.
        self.audit(&crate::audit::AuditEvent {
            clinic_id,
            action: "export",
            object_type: "client",
            object_id: client_id,
            case_id: None,
            outcome: crate::audit::Outcome::Ok,
        })
        .await?;
        Ok(serde_json::json!({
            "clinic_id": clinic_id,
            "client_id": client_id,
            "tables": tables,
        }))
    }

    /// Erases a client's clinical data in one transaction and records the erasure (see the
    /// module doc for what is removed and what stays). Cases where the client was the only
    /// client go whole; cases shared with others lose only this client's own rows.
    pub async fn erase_client(
        &self,
        clinic_id: &str,
        client_id: &str,
        erased_by: &str,
        reason: &str,
        at: i64,
    ) -> Result<ErasureReport> {
        let mut tx = self.write_tx().await?;
        let exists =
            sqlx::query("SELECT client_id FROM clients WHERE clinic_id = $1 AND client_id = $2")
                .bind(clinic_id)
                .bind(client_id)
                .fetch_optional(&mut *tx)
                .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound { what: "client" });
        }
        let cases = sqlx::query(
            "SELECT cc.case_id, (SELECT COUNT(*) FROM case_clients o WHERE o.clinic_id = cc.clinic_id AND o.case_id = cc.case_id) AS clients FROM case_clients cc WHERE cc.clinic_id = $1 AND cc.client_id = $2 ORDER BY cc.case_id",
        )
        .bind(clinic_id)
        .bind(client_id)
        .fetch_all(&mut *tx)
        .await?;
        let mut cases_removed = Vec::new();
        let mut cases_kept = Vec::new();
        for r in &cases {
            let id: String = r.try_get("case_id")?;
            if r.try_get::<i64, _>("clients")? <= 1 {
                cases_removed.push(id);
            } else {
                cases_kept.push(id);
            }
        }

        // The tombstone first: it is what releases the protected rows below.
        let erasure_id = new_id();
        sqlx::query("INSERT INTO erasures (clinic_id, erasure_id, client_id, erased_by, erased_at, reason) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(clinic_id)
            .bind(&erasure_id)
            .bind(client_id)
            .bind(erased_by)
            .bind(at)
            .bind(reason)
            .execute(&mut *tx)
            .await?;
        for case_id in &cases_removed {
            sqlx::query(
                "INSERT INTO erased_cases (clinic_id, case_id, erasure_id) VALUES ($1, $2, $3)",
            )
            .bind(clinic_id)
            .bind(case_id)
            .bind(&erasure_id)
            .execute(&mut *tx)
            .await?;
        }

        let mut removed = BTreeMap::new();
        for t in PERSON_TABLES {
            let cond = t.erase.replace("ERASED", ERASED_CASES);
            let sql = format!("DELETE FROM {} WHERE clinic_id = $1 AND {cond}", t.table);
            let n = sqlx::query(&sql)
                .bind(clinic_id)
                .bind(client_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n > 0 {
                removed.insert(t.table.to_owned(), n);
            }
        }
        for (table, n) in &removed {
            sqlx::query("INSERT INTO erasure_counts (clinic_id, erasure_id, table_name, row_count) VALUES ($1, $2, $3, $4)")
                .bind(clinic_id)
                .bind(&erasure_id)
                .bind(table)
                .bind(i64::try_from(*n).unwrap_or(i64::MAX))
                .execute(&mut *tx)
                .await?;
        }
        // A shared case's series no longer holds the erased client's scores.
        for case_id in &cases_kept {
            crate::monitoring::refresh_case_series(&mut tx, clinic_id, case_id, at).await?;
        }
        self.record_and_commit(
            tx,
            crate::audit::AuditEvent {
                clinic_id,
                action: "erase",
                object_type: "client",
                object_id: client_id,
                case_id: None,
                outcome: crate::audit::Outcome::Ok,
            },
        )
        .await?;
        Ok(ErasureReport {
            erasure_id,
            cases_removed,
            cases_kept,
            removed,
        })
    }

    /// The clinic's erasure records, newest first.
    pub async fn erasures(&self, clinic_id: &str) -> Result<Vec<ErasureRow>> {
        let rows = sqlx::query("SELECT erasure_id, client_id, erased_by, erased_at, reason FROM erasures WHERE clinic_id = $1 ORDER BY erased_at DESC, erasure_id DESC")
            .bind(clinic_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ErasureRow {
                    erasure_id: r.try_get("erasure_id")?,
                    client_id: r.try_get("client_id")?,
                    erased_by: r.try_get("erased_by")?,
                    erased_at: r.try_get("erased_at")?,
                    reason: r.try_get("reason")?,
                })
            })
            .collect()
    }

    /// The tables of the schema with a `case_id` or `client_id` column, for the test that keeps
    /// [`person_tables`] complete.
    #[doc(hidden)]
    pub async fn tables_naming_a_person(&self) -> Result<Vec<String>> {
        let sql = if self.backend == crate::Backend::Sqlite {
            "SELECT DISTINCT m.name AS name FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND p.name IN ('case_id', 'client_id') ORDER BY m.name"
        } else {
            "SELECT DISTINCT table_name AS name FROM information_schema.columns WHERE table_schema = current_schema() AND column_name IN ('case_id', 'client_id') ORDER BY 1"
        };
        let rows = sqlx::query(sql).fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok(r.try_get("name")?)).collect()
    }
}
