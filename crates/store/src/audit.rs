//! The audit trail: who read or wrote which client record, when, from where, and whether it
//! was allowed. Append-only and hash-chained per clinic, so a changed, removed or reordered
//! entry is detectable (`bordin audit verify`), and truncation too once a head has been
//! anchored elsewhere (`bordin audit head`).
//!
//! Chain rule (shared/reference/security.md, "Audit trail"):
//! `h_i = SHA-256(h_{i−1} ‖ canonical_bytes(entry_i))`, with `h_0` = 32 zero bytes, one chain per
//! clinic. The canonical bytes are a version tag followed by every field of the entry in a fixed
//! order, each as a 4-byte big-endian length and its UTF-8 bytes (an absent case id is a length of
//! `u32::MAX`), so no two different entries encode alike. The sequence number is one of the
//! fields, so moving an entry breaks the chain at that place.
//!
//! Entries carry no clinical content: ids, kinds and outcomes only.
//!
//! Serialisation: an entry is appended inside a write transaction that first reads the clinic's
//! chain head (`audit_heads`). On SQLite the write transaction (`BEGIN IMMEDIATE`) already holds
//! the database's write lock; on PostgreSQL the head row is locked `FOR UPDATE`. Either way two
//! appends to one clinic's chain cannot both read the same head. Inserting the entries moves
//! the head to the last of them (trigger `audit_log_moves_head`), in the same transaction.
//!
//! Who is acting comes from the request: the server wraps each request in [`scope`] with the
//! source address, the authenticating step names the actor ([`set_actor`]), and every store
//! function that writes client data appends its entry in its own transaction through
//! [`record_in_tx`]. Outside a request (CLI, demo, start-up catch-up) the actor is `system`.

use std::sync::{Arc, Mutex};

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::{Result, Store, StoreError};

/// The hash before the first entry of every chain.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

const CANONICAL_TAG: &[u8] = b"bordin-audit-v1";

/// Who acts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditActor {
    /// `user`, `link` (a client's form or case link), `token` (an API token) or `system`.
    pub kind: String,
    /// The user id, link id (administration or case link id, never the secret) or token id.
    pub id: String,
}

impl AuditActor {
    pub fn user(id: &str) -> Self {
        Self {
            kind: "user".into(),
            id: id.into(),
        }
    }
    pub fn link(id: &str) -> Self {
        Self {
            kind: "link".into(),
            id: id.into(),
        }
    }
    pub fn token(id: &str) -> Self {
        Self {
            kind: "token".into(),
            id: id.into(),
        }
    }
    pub fn system() -> Self {
        Self {
            kind: "system".into(),
            id: "bordin".into(),
        }
    }
}

/// Whether the access was allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Denied => "denied",
        }
    }
}

/// What happened to which record. `action` is a short verb (`read`, `create`, `update`,
/// `submit`, …); `object_type` names the record kind (`case`, `goal`, `response`, …).
#[derive(Debug, Clone, Copy)]
pub struct AuditEvent<'a> {
    pub clinic_id: &'a str,
    pub action: &'a str,
    pub object_type: &'a str,
    pub object_id: &'a str,
    /// The case the record belongs to, when there is one (for filtering the trail by case).
    pub case_id: Option<&'a str>,
    pub outcome: Outcome,
}

impl<'a> AuditEvent<'a> {
    /// A successful action on a record of a case.
    pub fn on_case(
        clinic_id: &'a str,
        case_id: &'a str,
        action: &'a str,
        object_type: &'a str,
        object_id: &'a str,
    ) -> Self {
        Self {
            clinic_id,
            action,
            object_type,
            object_id,
            case_id: Some(case_id),
            outcome: Outcome::Ok,
        }
    }
}

/// One stored entry of the trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub clinic_id: String,
    pub seq: i64,
    pub at: i64,
    pub actor_kind: String,
    pub actor_id: String,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub case_id: Option<String>,
    pub outcome: String,
    pub source: String,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditEntry {
    /// The bytes hashed for this entry (see the module documentation).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(CANONICAL_TAG);
        let seq = self.seq.to_string();
        let at = self.at.to_string();
        for field in [
            Some(self.clinic_id.as_str()),
            Some(seq.as_str()),
            Some(at.as_str()),
            Some(self.actor_kind.as_str()),
            Some(self.actor_id.as_str()),
            Some(self.action.as_str()),
            Some(self.object_type.as_str()),
            Some(self.object_id.as_str()),
            self.case_id.as_deref(),
            Some(self.outcome.as_str()),
            Some(self.source.as_str()),
        ] {
            match field {
                Some(s) => {
                    // Fields are ids and short words; a field over 4 GiB cannot be built here.
                    let len = u32::try_from(s.len()).unwrap_or(u32::MAX - 1);
                    out.extend_from_slice(&len.to_be_bytes());
                    out.extend_from_slice(s.as_bytes());
                }
                None => out.extend_from_slice(&u32::MAX.to_be_bytes()),
            }
        }
        out
    }

    /// `SHA-256(prev ‖ canonical bytes)`, hex. `prev` is the previous entry's hash (hex); a
    /// malformed `prev` hashes as given, so it can never match a well-formed chain.
    pub fn chain_hash(prev_hex: &str, entry: &AuditEntry) -> String {
        let mut h = Sha256::new();
        match hex_decode(prev_hex) {
            Some(bytes) => h.update(bytes),
            None => h.update(prev_hex.as_bytes()),
        }
        h.update(entry.canonical_bytes());
        format!("{:x}", h.finalize())
    }
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The request's audit context

/// Who is acting in the current request and from where. Shared by the request's handler and
/// the store functions it calls (through a task-local set by [`scope`]).
#[derive(Debug)]
pub struct AuditContext {
    source: String,
    actor: Mutex<Option<AuditActor>>,
    /// Reads already recorded in this request (an access rule and its handler both check the
    /// same case: one entry).
    reads: Mutex<Vec<String>>,
    /// Entries for reads and denials not yet written (see [`AuditContext::deferring`]).
    deferred: Mutex<Deferred>,
}

/// A request's read entries held until they can share a commit.
#[derive(Debug, Default)]
struct Deferred {
    /// True while entries may be held: from the start of a deferring request until
    /// [`Store::finish_request_audit`] closes it.
    open: bool,
    entries: Vec<Unwritten>,
}

impl AuditContext {
    /// A context whose every entry is written when it is recorded (the CLI, tests, work
    /// outside a request).
    pub fn new(source: &str) -> Arc<Self> {
        Self::with_deferral(source, false)
    }

    /// A request's context whose read and denial entries are held in memory and written with
    /// the request's first write that commits (in that write's transaction, before its own
    /// entry) or, failing that, by [`Store::finish_request_audit`] before the response leaves.
    /// So a request that reads a record and then writes costs one commit, not two, and no
    /// response carrying client data leaves before its read entry is durable (the server's
    /// middleware turns a failed final write into an error response).
    pub fn deferring(source: &str) -> Arc<Self> {
        Self::with_deferral(source, true)
    }

    fn with_deferral(source: &str, open: bool) -> Arc<Self> {
        Arc::new(Self {
            source: source.to_owned(),
            actor: Mutex::new(None),
            reads: Mutex::new(Vec::new()),
            deferred: Mutex::new(Deferred {
                open,
                entries: Vec::new(),
            }),
        })
    }

    /// Holds `entry` when this context defers; gives it back to be written now otherwise.
    fn defer(&self, entry: Unwritten) -> Option<Unwritten> {
        match self.deferred.lock() {
            Ok(mut d) if d.open => {
                d.entries.push(entry);
                None
            }
            _ => Some(entry),
        }
    }

    /// The held entries, taken to be written by the caller.
    fn take_deferred(&self) -> Vec<Unwritten> {
        self.deferred
            .lock()
            .map(|mut d| std::mem::take(&mut d.entries))
            .unwrap_or_default()
    }

    /// Puts back entries whose write did not commit, ahead of any held since.
    fn restore_deferred(&self, mut entries: Vec<Unwritten>) {
        if entries.is_empty() {
            return;
        }
        if let Ok(mut d) = self.deferred.lock() {
            entries.append(&mut d.entries);
            d.entries = entries;
        }
    }

    /// Stops deferring (later entries, e.g. from a WebSocket that outlives the request, are
    /// written at once) and returns what is still held.
    fn close_deferred(&self) -> Vec<Unwritten> {
        self.deferred
            .lock()
            .map(|mut d| {
                d.open = false;
                std::mem::take(&mut d.entries)
            })
            .unwrap_or_default()
    }
    pub fn source(&self) -> &str {
        &self.source
    }
    pub fn actor(&self) -> Option<AuditActor> {
        self.actor.lock().ok().and_then(|a| a.clone())
    }
    pub fn set_actor(&self, actor: AuditActor) {
        if let Ok(mut a) = self.actor.lock() {
            *a = Some(actor);
        }
    }
}

tokio::task_local! {
    static CONTEXT: Arc<AuditContext>;
}

/// Runs `fut` (a request) with `ctx` as its audit context.
pub async fn scope<F: std::future::Future>(ctx: Arc<AuditContext>, fut: F) -> F::Output {
    CONTEXT.scope(ctx, fut).await
}

/// The current request's audit context, to carry into work that outlives the request's task
/// (a WebSocket after its upgrade) with [`scope`].
pub fn context() -> Option<Arc<AuditContext>> {
    CONTEXT.try_with(Arc::clone).ok()
}

/// Names the actor of the current request (the login session's user, a client's link, an API
/// token). Outside a request this does nothing.
pub fn set_actor(actor: AuditActor) {
    let _ = CONTEXT.try_with(|c| c.set_actor(actor));
}

/// True the first time `key` is noted in the current request (and always outside a request):
/// the caller records the read only then.
pub fn first_read(key: &str) -> bool {
    CONTEXT
        .try_with(|c| match c.reads.lock() {
            Ok(mut seen) => {
                if seen.iter().any(|k| k == key) {
                    false
                } else {
                    seen.push(key.to_owned());
                    true
                }
            }
            Err(_) => true,
        })
        .unwrap_or(true)
}

/// The current request's context and the read entries it holds, taken to be written by the
/// caller (who gives them back with [`give_back`] if its write does not commit).
pub(crate) fn take_held() -> (Option<Arc<AuditContext>>, Vec<Unwritten>) {
    match CONTEXT.try_with(Arc::clone) {
        Ok(ctx) => {
            let held = ctx.take_deferred();
            (Some(ctx), held)
        }
        Err(_) => (None, Vec::new()),
    }
}

/// Gives held entries back to the request they were taken from (their write failed).
pub(crate) fn give_back(ctx: Option<&Arc<AuditContext>>, held: Vec<Unwritten>) {
    if let Some(c) = ctx {
        c.restore_deferred(held);
    }
}

/// The current request's actor and source address; `system` and `local` outside a request.
pub fn current() -> (AuditActor, String) {
    CONTEXT
        .try_with(|c| {
            (
                c.actor().unwrap_or_else(AuditActor::system),
                c.source().to_owned(),
            )
        })
        .unwrap_or_else(|_| (AuditActor::system(), "local".to_owned()))
}

// ---------------------------------------------------------------------------------------------
// Appending

pub(crate) fn now_ms() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// An entry not yet in its chain: everything but its place (sequence number and hashes).
#[derive(Debug, Clone)]
pub(crate) struct Unwritten {
    clinic_id: String,
    at: i64,
    actor: AuditActor,
    action: String,
    object_type: String,
    object_id: String,
    case_id: Option<String>,
    outcome: Outcome,
    source: String,
}

impl Unwritten {
    pub(crate) fn new(event: &AuditEvent<'_>, actor: AuditActor, source: String, at: i64) -> Self {
        Self {
            clinic_id: event.clinic_id.to_owned(),
            at,
            actor,
            action: event.action.to_owned(),
            object_type: event.object_type.to_owned(),
            object_id: event.object_id.to_owned(),
            case_id: event.case_id.map(str::to_owned),
            outcome: event.outcome,
            source,
        }
    }

    /// `event` by the current request's actor, now.
    fn current(event: &AuditEvent<'_>) -> Self {
        let (actor, source) = current();
        Self::new(event, actor, source, now_ms())
    }
}

/// Appends `event` to its clinic's chain inside `tx` (which must be a write transaction: on
/// SQLite one begun with `BEGIN IMMEDIATE`). The actor and source come from the current request
/// ([`current`]).
pub(crate) async fn record_in_tx(
    tx: &mut Transaction<'static, Any>,
    event: &AuditEvent<'_>,
) -> Result<AuditEntry> {
    let mut written = append_all(tx, &[Unwritten::current(event)]).await?;
    written
        .pop()
        .ok_or_else(|| StoreError::Corrupt("audit append wrote nothing".into()))
}

/// Appends `entries` to their clinics' chains inside `tx`, in order within each clinic: per
/// clinic one head read, one insert of all its entries and one head update. Clinics' heads are locked
/// in the order of their ids, so two transactions spanning the same clinics cannot deadlock.
pub(crate) async fn append_all(
    tx: &mut Transaction<'static, Any>,
    entries: &[Unwritten],
) -> Result<Vec<AuditEntry>> {
    let mut clinics: Vec<&str> = entries.iter().map(|e| e.clinic_id.as_str()).collect();
    clinics.sort_unstable();
    clinics.dedup();
    let mut written = Vec::with_capacity(entries.len());
    for clinic in clinics {
        let (mut seq, mut prev_hash) = lock_head(tx, clinic).await?;
        let mut chained: Vec<AuditEntry> = Vec::new();
        for u in entries.iter().filter(|e| e.clinic_id == clinic) {
            let mut entry = AuditEntry {
                clinic_id: u.clinic_id.clone(),
                seq: seq + 1,
                at: u.at,
                actor_kind: u.actor.kind.clone(),
                actor_id: u.actor.id.clone(),
                action: u.action.clone(),
                object_type: u.object_type.clone(),
                object_id: u.object_id.clone(),
                case_id: u.case_id.clone(),
                outcome: u.outcome.as_str().to_owned(),
                source: u.source.clone(),
                prev_hash,
                hash: String::new(),
            };
            entry.hash = AuditEntry::chain_hash(&entry.prev_hash, &entry);
            seq = entry.seq;
            prev_hash = entry.hash.clone();
            chained.push(entry);
        }
        for chunk in chained.chunks(ENTRIES_PER_STATEMENT) {
            insert_entries(tx, chunk).await?;
        }
        // The inserts moved the head to the last entry (trigger `audit_log_moves_head`,
        // migration 0012; `audit_heads_move_by_one` lets it move only forward, and only to an
        // entry of the chain).
        written.extend(chained);
    }
    Ok(written)
}

/// Entries per INSERT: 13 values each, well under SQLite's and PostgreSQL's bound-value limits.
const ENTRIES_PER_STATEMENT: usize = 64;

/// Inserts chained entries with one statement.
async fn insert_entries(tx: &mut Transaction<'static, Any>, entries: &[AuditEntry]) -> Result<()> {
    let sql = format!(
        "INSERT INTO audit_log ({ENTRY_COLUMNS}) VALUES {}",
        crate::values_list(entries.len(), 13, 0)
    );
    let mut q = sqlx::query(&sql);
    for e in entries {
        q = q
            .bind(&e.clinic_id)
            .bind(e.seq)
            .bind(e.at)
            .bind(&e.actor_kind)
            .bind(&e.actor_id)
            .bind(&e.action)
            .bind(&e.object_type)
            .bind(&e.object_id)
            .bind(e.case_id.as_deref())
            .bind(&e.outcome)
            .bind(&e.source)
            .bind(&e.prev_hash)
            .bind(&e.hash);
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

/// Reads (on PostgreSQL: locks) a clinic's chain head, creating it at the genesis hash for the
/// clinic's first entry. SQLite's write transaction already excludes every other writer.
async fn lock_head(tx: &mut Transaction<'static, Any>, clinic_id: &str) -> Result<(i64, String)> {
    let lock = if tx.backend_name() == "PostgreSQL" {
        " FOR UPDATE"
    } else {
        ""
    };
    let select = format!("SELECT seq, hash FROM audit_heads WHERE clinic_id = $1{lock}");
    for _ in 0..2 {
        if let Some(head) = sqlx::query(&select)
            .bind(clinic_id)
            .fetch_optional(&mut **tx)
            .await?
        {
            return Ok((head.try_get("seq")?, head.try_get("hash")?));
        }
        // A clinic's first entry: two first appends may race here; the loser's insert does
        // nothing and its second read waits for (PostgreSQL) or sees (SQLite) the winner's row.
        sqlx::query(
            "INSERT INTO audit_heads (clinic_id, seq, hash) VALUES ($1, 0, $2) ON CONFLICT (clinic_id) DO NOTHING",
        )
        .bind(clinic_id)
        .bind(GENESIS)
        .execute(&mut **tx)
        .await?;
    }
    Err(StoreError::Corrupt(format!(
        "the audit chain head of clinic {clinic_id} could not be read after it was created"
    )))
}

// ---------------------------------------------------------------------------------------------
// Reading and verifying

/// Which entries to read.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor_id: Option<String>,
    pub case_id: Option<String>,
    /// Inclusive lower bound, milliseconds.
    pub from_ms: Option<i64>,
    /// Exclusive upper bound, milliseconds.
    pub to_ms: Option<i64>,
    /// Only entries about these cases or by these users (a supervisor's view); `None` = all.
    pub within: Option<(Vec<String>, Vec<String>)>,
    /// Entries with `seq` below this (for paging backwards from the newest).
    pub before_seq: Option<i64>,
    pub limit: i64,
}

/// A clinic's chain head, for anchoring elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditHead {
    pub clinic_id: String,
    pub seq: i64,
    pub hash: String,
}

/// The verdict on one clinic's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainProblem {
    /// The entry's fields no longer hash to its stored hash, or its stored link to the previous
    /// entry is not the previous entry's hash.
    Changed { seq: i64 },
    /// The entry with this sequence number is missing (the next one present is `next`).
    Missing { seq: i64, next: i64 },
    /// The chain ends at `last` but the head (stored or anchored) says `expected`.
    Truncated { last: i64, expected: i64 },
    /// The anchored head's hash is not the chain's hash at that sequence number.
    AnchorMismatch { seq: i64 },
}

impl std::fmt::Display for ChainProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Changed { seq } => write!(f, "entry {seq} was changed or moved (its hash does not match)"),
            Self::Missing { seq, next } => write!(f, "entry {seq} is missing (the chain jumps to entry {next})"),
            Self::Truncated { last, expected } => write!(
                f,
                "entry {} is missing: the chain ends at entry {last} but its head is entry {expected} (truncated)",
                last + 1
            ),
            Self::AnchorMismatch { seq } => write!(f, "entry {seq} does not match the anchored head hash"),
        }
    }
}

/// The result of verifying one clinic's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    pub clinic_id: String,
    pub entries: i64,
    pub head: String,
    pub problem: Option<ChainProblem>,
}

fn entry_from(r: &AnyRow) -> Result<AuditEntry> {
    Ok(AuditEntry {
        clinic_id: r.try_get("clinic_id")?,
        seq: r.try_get("seq")?,
        at: r.try_get("at")?,
        actor_kind: r.try_get("actor_kind")?,
        actor_id: r.try_get("actor_id")?,
        action: r.try_get("action")?,
        object_type: r.try_get("object_type")?,
        object_id: r.try_get("object_id")?,
        case_id: r.try_get("case_id")?,
        outcome: r.try_get("outcome")?,
        source: r.try_get("source")?,
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}

const ENTRY_COLUMNS: &str = "clinic_id, seq, at, actor_kind, actor_id, action, object_type, object_id, case_id, outcome, source, prev_hash, hash";

/// Rows read per query while verifying (keeps memory flat on long chains).
const VERIFY_BATCH: i64 = 5_000;

impl Store {
    /// Records a read or a denial. Inside a deferring request ([`AuditContext::deferring`]) the
    /// entry is held and written with the request's next write or at its end; otherwise it is
    /// appended now in its own write transaction. (Writes record theirs inside the write's own
    /// transaction.)
    pub async fn audit(&self, event: &AuditEvent<'_>) -> Result<()> {
        let entry = Unwritten::current(event);
        let entry = match CONTEXT.try_with(Arc::clone) {
            Ok(ctx) => match ctx.defer(entry) {
                Some(entry) => entry,
                None => return Ok(()),
            },
            Err(_) => entry,
        };
        self.append_now(std::slice::from_ref(&entry)).await?;
        Ok(())
    }

    /// Ends a request's deferral: writes every entry it still holds, in one transaction (none:
    /// no transaction). Entries recorded after this (a WebSocket that outlives its request) are
    /// written at once. An error here means the request's reads were not recorded: the caller
    /// must not send the request's response.
    pub async fn finish_request_audit(&self, ctx: &AuditContext) -> Result<()> {
        let held = ctx.close_deferred();
        if held.is_empty() {
            return Ok(());
        }
        self.append_now(&held).await?;
        Ok(())
    }

    async fn append_now(&self, entries: &[Unwritten]) -> Result<Vec<AuditEntry>> {
        let mut tx = self.write_tx().await?;
        let written = append_all(&mut tx, entries).await?;
        tx.commit().await?;
        Ok(written)
    }

    /// Appends one entry with an explicit actor and source (for callers outside a request
    /// scope, such as tests and the CLI).
    pub async fn audit_as(
        &self,
        event: &AuditEvent<'_>,
        actor: &AuditActor,
        source: &str,
        at: i64,
    ) -> Result<AuditEntry> {
        let entry = Unwritten::new(event, actor.clone(), source.to_owned(), at);
        let mut written = self.append_now(std::slice::from_ref(&entry)).await?;
        written
            .pop()
            .ok_or_else(|| StoreError::Corrupt("audit append wrote nothing".into()))
    }

    /// Entries of a clinic, newest first, filtered.
    pub async fn audit_entries<'a>(
        &self,
        clinic_id: &str,
        filter: &'a AuditFilter,
    ) -> Result<Vec<AuditEntry>> {
        enum Bind<'b> {
            Text(&'b str),
            Int(i64),
        }
        let mut sql = format!("SELECT {ENTRY_COLUMNS} FROM audit_log WHERE clinic_id = $1");
        let mut binds: Vec<Bind<'a>> = Vec::new();
        let mut push = |clause: &str, b: Bind<'a>| {
            binds.push(b);
            clause.replace('?', &format!("${}", binds.len() + 1))
        };
        let mut clauses = String::new();
        if let Some(a) = &filter.actor_id {
            clauses += &push(" AND actor_id = ?", Bind::Text(a));
        }
        if let Some(c) = &filter.case_id {
            clauses += &push(" AND case_id = ?", Bind::Text(c));
        }
        if let Some(v) = filter.from_ms {
            clauses += &push(" AND at >= ?", Bind::Int(v));
        }
        if let Some(v) = filter.to_ms {
            clauses += &push(" AND at < ?", Bind::Int(v));
        }
        if let Some(v) = filter.before_seq {
            clauses += &push(" AND seq < ?", Bind::Int(v));
        }
        if let Some((cases, users)) = &filter.within {
            let mut parts = Vec::new();
            for c in cases {
                parts.push(push("case_id = ?", Bind::Text(c)));
            }
            for u in users {
                parts.push(push("actor_id = ?", Bind::Text(u)));
            }
            if parts.is_empty() {
                return Ok(Vec::new());
            }
            clauses += &format!(" AND ({})", parts.join(" OR "));
        }
        let limit = push("?", Bind::Int(filter.limit.clamp(1, 1000)));
        sql.push_str(&clauses);
        sql.push_str(&format!(" ORDER BY seq DESC LIMIT {limit}"));
        let mut q = sqlx::query(&sql).bind(clinic_id);
        for b in binds {
            q = match b {
                Bind::Text(t) => q.bind(t),
                Bind::Int(i) => q.bind(i),
            };
        }
        q.fetch_all(&self.pool)
            .await?
            .iter()
            .map(entry_from)
            .collect()
    }

    /// Every clinic's chain head (clinics with no entries yet are absent).
    pub async fn audit_heads(&self) -> Result<Vec<AuditHead>> {
        sqlx::query("SELECT clinic_id, seq, hash FROM audit_heads WHERE seq > 0 ORDER BY clinic_id")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(AuditHead {
                    clinic_id: r.try_get("clinic_id")?,
                    seq: r.try_get("seq")?,
                    hash: r.try_get("hash")?,
                })
            })
            .collect()
    }

    /// The clinics that have a chain (from the heads and from the entries themselves, so a
    /// deleted head row does not hide a chain).
    pub async fn audit_clinics(&self) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT clinic_id FROM audit_heads UNION SELECT DISTINCT clinic_id FROM audit_log ORDER BY clinic_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                r.try_get::<String, _>("clinic_id")
                    .map_err(StoreError::from)
            })
            .collect()
    }

    /// Recomputes a clinic's chain and names the first entry that does not fit. With
    /// `anchor` = (seq, hash) from an earlier `audit head`, a chain cut short before that entry,
    /// or rewritten up to it, is reported too.
    pub async fn verify_audit_chain(
        &self,
        clinic_id: &str,
        anchor: Option<(i64, &str)>,
    ) -> Result<ChainReport> {
        let mut prev = GENESIS.to_owned();
        let mut expected_seq = 1_i64;
        let mut report = ChainReport {
            clinic_id: clinic_id.to_owned(),
            entries: 0,
            head: GENESIS.to_owned(),
            problem: None,
        };
        let mut anchor_checked = false;
        'outer: loop {
            let rows = sqlx::query(&format!(
                "SELECT {ENTRY_COLUMNS} FROM audit_log WHERE clinic_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3"
            ))
            .bind(clinic_id)
            .bind(expected_seq)
            .bind(VERIFY_BATCH)
            .fetch_all(&self.pool)
            .await?;
            if rows.is_empty() {
                break;
            }
            for r in &rows {
                let e = entry_from(r)?;
                if e.seq != expected_seq {
                    report.problem = Some(ChainProblem::Missing {
                        seq: expected_seq,
                        next: e.seq,
                    });
                    break 'outer;
                }
                let computed = AuditEntry::chain_hash(&prev, &e);
                if e.prev_hash != prev || e.hash != computed {
                    report.problem = Some(ChainProblem::Changed { seq: e.seq });
                    break 'outer;
                }
                if let Some((seq, hash)) = anchor {
                    if seq == e.seq {
                        anchor_checked = true;
                        if !hash.eq_ignore_ascii_case(&computed) {
                            report.problem = Some(ChainProblem::AnchorMismatch { seq });
                            break 'outer;
                        }
                    }
                }
                prev = computed;
                report.entries += 1;
                report.head = prev.clone();
                expected_seq += 1;
            }
        }
        if report.problem.is_none() {
            let last = expected_seq - 1;
            if let Some((seq, _)) = anchor {
                if !anchor_checked && seq > last {
                    report.problem = Some(ChainProblem::Truncated {
                        last,
                        expected: seq,
                    });
                }
            }
        }
        if report.problem.is_none() {
            // The stored head is kept in step with the chain; a head ahead of the chain means
            // entries were cut from its end.
            let head = sqlx::query("SELECT seq FROM audit_heads WHERE clinic_id = $1")
                .bind(clinic_id)
                .fetch_optional(&self.pool)
                .await?;
            if let Some(h) = head {
                let seq: i64 = h.try_get("seq")?;
                let last = expected_seq - 1;
                if seq > last {
                    report.problem = Some(ChainProblem::Truncated {
                        last,
                        expected: seq,
                    });
                }
            }
        }
        Ok(report)
    }
}

impl Store {
    /// Appends the entry for a write inside the write's own transaction (so the write and its
    /// entry commit together, or neither does).
    pub(crate) async fn record(
        &self,
        tx: &mut Transaction<'static, Any>,
        event: AuditEvent<'_>,
    ) -> Result<()> {
        record_in_tx(tx, &event).await.map(|_| ())
    }

    /// Appends the entry for a write as the transaction's last step and commits it, together
    /// with the read entries the current request still holds (they precede it in the chain):
    /// a request that opens a record and writes to it commits once. If the append or the commit
    /// fails, the held entries go back to the request, to be written by its next write or at
    /// its end.
    pub(crate) async fn record_and_commit(
        &self,
        mut tx: Transaction<'static, Any>,
        event: AuditEvent<'_>,
    ) -> Result<()> {
        let (ctx, held) = take_held();
        let mut entries = held.clone();
        entries.push(Unwritten::current(&event));
        let outcome = async {
            append_all(&mut tx, &entries).await?;
            tx.commit().await?;
            Ok(())
        }
        .await;
        if outcome.is_err() {
            give_back(ctx.as_ref(), held);
        }
        outcome
    }
}
