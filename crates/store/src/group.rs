//! Group commit for form submissions: the submissions that arrive while one transaction is
//! committing are written together in the next one, with one commit (one fsync) for all of them.
//!
//! Why: a submission is small (a few rows), so its cost is the commit. On SQLite the database
//! has one writer, and every commit waits for the disk; on PostgreSQL each submission's audit
//! entry takes its clinic's chain head (a row lock held until the commit is on disk), so a
//! clinic's submissions commit one after another, each waiting for the disk on its own. Writing
//! the waiting submissions in one transaction pays for the disk once per group (BENCHMARKS.md,
//! "Load"). This is the classic group commit of database engines, done one level up because the
//! audit chain serialises what the database would otherwise have grouped itself.
//!
//! How:
//! - [`Store::submit_response`] turns the submission into the rows it writes ([`ResponseRows`])
//!   and queues it, with the request's held read entries and its actor, for the store's group
//!   writer tasks ([`writers`]; started on first use, on a thread of their own, each on
//!   connections of its own so that its statements stay prepared);
//! - the writer takes the first waiting submission and every other already waiting (at most
//!   [`GROUP_MAX`]), and writes them in one write transaction: each administration closed and
//!   its response inserted, then each touched case's series brought up to date once (in case
//!   order; the new values added, see `monitoring::add_to_cases_series`), then
//!   every audit entry appended (reads first, then the submission, per request), then one commit;
//! - each caller is answered only after that commit, so an acknowledged submission is durable
//!   exactly as before;
//! - a submission whose form was already answered or closed does not fail its group (it is an
//!   answer, not an error); if the group's transaction fails for any other reason (a constraint,
//!   a lost connection), each of its submissions is written again alone, so one bad submission
//!   cannot fail the others and every caller gets its own answer;
//! - if the writers' thread could not be started, or once the writers are gone, the caller
//!   writes its submission alone, on its own task.
//!
//! Locks within a group (PostgreSQL): administrations by id, then cases in sorted order, then
//! clinics' chain heads in sorted order, all taken in that order by every group and by the
//! single-submission path, so two groups cannot deadlock on them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use sqlx::Row;
use tokio::sync::{mpsc, oneshot};

use crate::audit::{self, AuditActor, AuditEvent, Unwritten};
use crate::forms::{insert_many, ResponseRows, Submitted};
use crate::{CaseSeries, Result, Store, StoreError};

/// A submission's outcome: stored now (with its case's series as the group's transaction left
/// it) or already stored (no series).
pub(crate) type Outcome = (Submitted, Option<CaseSeries>);

/// Submissions written in one transaction, at most.
pub(crate) const GROUP_MAX: usize = 64;
/// Submissions waiting for the writer before callers wait to queue.
const QUEUE: usize = 1024;

/// One queued submission.
pub(crate) struct Job {
    rows: ResponseRows,
    /// The request's read entries not yet written (they precede the submission in the chain).
    held: Vec<Unwritten>,
    actor: AuditActor,
    source: String,
    reply: oneshot::Sender<Result<Outcome>>,
}

/// The store's queue to its group writers; started on first use and shared by the store's
/// clones.
#[derive(Debug, Clone, Default)]
pub(crate) struct Groups(Arc<OnceLock<Option<mpsc::Sender<Job>>>>);

impl Groups {
    /// The queue, starting the writers the first time; `None` when their thread could not be
    /// started (the caller then writes alone).
    ///
    /// The writers run on a thread of their own, with a single-threaded runtime, rather than
    /// on the caller's runtime. A group is a dozen network round trips to PostgreSQL, and the
    /// writer resumes after each one; on the server's runtime each resumption queued behind the
    /// HTTP work of the same cores (parsing, scoring, answering), which lengthened every group
    /// and with it the time the clinic's chain head is held. On a thread of its own the writer
    /// is woken by the operating system as soon as the database answers (BENCHMARKS.md, "Load").
    fn sender(&self, store: &Store) -> Option<mpsc::Sender<Job>> {
        self.0
            .get_or_init(|| {
                let (tx, rx) = mpsc::channel(QUEUE);
                let rx = Arc::new(tokio::sync::Mutex::new(rx));
                // The writers' store has no queue of its own: when every user's store is
                // dropped, the queue closes, the writers end, and so does their thread.
                let writer = store.without_groups();
                let count = writers(store.backend());
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                let started = runtime.and_then(|runtime| {
                    std::thread::Builder::new()
                        .name("bordin-group-writer".into())
                        .spawn(move || {
                            runtime.block_on(async move {
                                let tasks: Vec<_> = (0..count)
                                    .map(|_| tokio::spawn(write_groups(writer.clone(), rx.clone())))
                                    .collect();
                                for task in tasks {
                                    let _ = task.await;
                                }
                            });
                        })
                });
                match started {
                    Ok(_) => Some(tx),
                    Err(e) => {
                        tracing::error!(error = %e, "the group writer could not start; submissions are written one by one");
                        None
                    }
                }
            })
            .clone()
    }
}

impl Store {
    /// This store without its group writers, writing on the group writers' connections (for
    /// the writers themselves).
    fn without_groups(&self) -> Store {
        let mut s = self.clone();
        s.groups = Groups::default();
        s.writer = self.group_writer.clone();
        s
    }

    /// Stores a submission through the group writer (see the module documentation); answers
    /// once it is committed.
    pub(crate) async fn submit_grouped(&self, rows: ResponseRows) -> Result<Outcome> {
        let (ctx, held) = audit::take_held();
        let (actor, source) = audit::current();
        let (reply, answer) = oneshot::channel();
        let job = Job {
            rows,
            held: held.clone(),
            actor,
            source,
            reply,
        };
        let outcome = match self.groups.sender(self) {
            Some(queue) => match queue.send(job).await {
                Ok(()) => answer.await.unwrap_or_else(|_| {
                    // The writer stopped (it panicked) while holding this submission: whether it
                    // committed is unknown, so the caller must not report success.
                    Err(StoreError::Unavailable(
                        "the group writer stopped before answering".into(),
                    ))
                }),
                Err(mpsc::error::SendError(job)) => self.commit_alone(job, answer).await,
            },
            None => self.commit_alone(job, answer).await,
        };
        if outcome.is_err() {
            audit::give_back(ctx.as_ref(), held);
        }
        outcome
    }

    async fn commit_alone(
        &self,
        job: Job,
        answer: oneshot::Receiver<Result<Outcome>>,
    ) -> Result<Outcome> {
        commit_group(self, vec![job]).await;
        answer.await.unwrap_or_else(|_| {
            Err(StoreError::Unavailable(
                "the submission was not answered".into(),
            ))
        })
    }

    /// Writes `jobs` in one transaction. `Err` when the transaction failed (nothing of it was
    /// stored); otherwise one outcome per job, in order: stored, already stored, or the form
    /// no longer open.
    ///
    /// Statements per group, whatever its size (up to the chunk sizes): per clinic one UPDATE
    /// closing its administrations; one INSERT each for responses, scores and flags; per
    /// clinic three for the case series (lock; stored series with the session numbers;
    /// upsert) and two for the audit chain (head, entries; the inserts move the head) — about
    /// ten round trips with BEGIN and COMMIT for a one-clinic group.
    async fn write_group(&self, jobs: &[Job]) -> Result<Vec<Result<Outcome>>> {
        let mut tx = self.write_tx().await?;
        // 1. Close every administration answered, once per administration; a job whose
        //    administration an earlier job of this group closes is that job's repeat.
        let mut first_of: HashMap<(&str, &str), usize> = HashMap::new();
        let mut by_clinic: BTreeMap<&str, Vec<(&str, i64)>> = BTreeMap::new();
        for (i, job) in jobs.iter().enumerate() {
            let r = &job.rows;
            if let Some(admin) = r.administration_id.as_deref() {
                if let std::collections::hash_map::Entry::Vacant(e) =
                    first_of.entry((r.clinic_id.as_str(), admin))
                {
                    e.insert(i);
                    by_clinic
                        .entry(r.clinic_id.as_str())
                        .or_default()
                        .push((admin, r.submitted_at));
                }
            }
        }
        let mut closed: HashSet<(String, String)> = HashSet::new();
        for (clinic, admins) in &by_clinic {
            for chunk in admins.chunks(ADMINISTRATIONS_PER_STATEMENT) {
                // $1 clinic; then (id, completed_at) pairs; the CASE gives each its own time.
                let mut cases = String::new();
                let mut ids = Vec::with_capacity(chunk.len());
                for k in 0..chunk.len() {
                    let (id, at) = (2 * k + 2, 2 * k + 3);
                    cases.push_str(&format!(" WHEN ${id} THEN ${at}"));
                    ids.push(format!("${id}"));
                }
                let sql = format!(
                    "UPDATE administrations SET status = 'completed', completed_at = CASE administration_id{cases} END
                     WHERE clinic_id = $1 AND status = 'pending' AND administration_id IN ({})
                     RETURNING administration_id",
                    ids.join(", ")
                );
                let mut q = sqlx::query(&sql).bind(*clinic);
                for (admin, at) in chunk {
                    q = q.bind(*admin).bind(*at);
                }
                for row in q.fetch_all(&mut *tx).await? {
                    closed.insert(((*clinic).to_owned(), row.try_get("administration_id")?));
                }
            }
        }
        // 2. Each job's outcome; the rows and audit entries of those stored.
        let mut outcomes = Vec::with_capacity(jobs.len());
        let mut stored: Vec<&ResponseRows> = Vec::new();
        let mut entries: Vec<Unwritten> = Vec::new();
        for (i, job) in jobs.iter().enumerate() {
            let r = &job.rows;
            entries.extend(job.held.iter().cloned());
            if let Some(admin) = r.administration_id.as_deref() {
                let first = first_of.get(&(r.clinic_id.as_str(), admin)).copied();
                let closed_now = closed.contains(&(r.clinic_id.clone(), admin.to_owned()));
                if first != Some(i) || !closed_now {
                    outcomes.push(if closed_now {
                        // A repeat of a submission stored earlier in this group.
                        let first = first.map_or(r.response_id.as_str(), |f| {
                            jobs[f].rows.response_id.as_str()
                        });
                        Ok(Submitted::AlreadyStored {
                            response_id: first.to_owned(),
                        })
                    } else {
                        answered_before(&mut tx, &r.clinic_id, admin).await?
                    });
                    continue;
                }
            }
            stored.push(r);
            entries.push(Unwritten::new(
                &AuditEvent::on_case(
                    &r.clinic_id,
                    &r.case_id,
                    "submit",
                    "response",
                    &r.response_id,
                ),
                job.actor.clone(),
                job.source.clone(),
                audit::now_ms(),
            ));
            outcomes.push(Ok(Submitted::Stored {
                response_id: r.response_id.clone(),
            }));
        }
        // 3. The responses with their scores and flags.
        insert_many(&mut tx, &stored).await?;
        // 4. Each touched case's series, once, per clinic: the new values added to it.
        let mut touched: BTreeMap<&str, (Vec<&ResponseRows>, i64)> = BTreeMap::new();
        for r in &stored {
            let (rows, at) = touched
                .entry(r.clinic_id.as_str())
                .or_insert_with(|| (Vec::new(), r.submitted_at));
            rows.push(r);
            *at = (*at).max(r.submitted_at);
        }
        let mut series: HashMap<(&str, String), CaseSeries> = HashMap::new();
        for (clinic_id, (rows, at)) in &touched {
            for chunk in rows.chunks(RESPONSES_PER_SERIES_STEP) {
                for s in
                    crate::monitoring::add_to_cases_series(&mut tx, clinic_id, chunk, *at).await?
                {
                    series.insert((clinic_id, s.case_id.clone()), s);
                }
            }
        }
        // 5. The audit entries (reads before the submission, per request), then one commit.
        audit::append_all(&mut tx, &entries).await?;
        tx.commit().await?;
        // Each stored submission with its case's series.
        Ok(jobs
            .iter()
            .zip(outcomes)
            .map(|(job, outcome)| {
                outcome.map(|submitted| {
                    let s = match submitted {
                        Submitted::Stored { .. } => series
                            .get(&(job.rows.clinic_id.as_str(), job.rows.case_id.clone()))
                            .cloned(),
                        Submitted::AlreadyStored { .. } => None,
                    };
                    (submitted, s)
                })
            })
            .collect())
    }
}

/// A form no longer pending: answered before (its first response) or closed.
async fn answered_before(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    clinic_id: &str,
    administration_id: &str,
) -> Result<Result<Submitted>> {
    let existing = sqlx::query(
        "SELECT response_id FROM responses WHERE clinic_id = $1 AND administration_id = $2 AND version = 1",
    )
    .bind(clinic_id)
    .bind(administration_id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(match existing {
        Some(row) => Ok(Submitted::AlreadyStored {
            response_id: row.try_get("response_id")?,
        }),
        None => Err(StoreError::Conflict("this form is no longer open".into())),
    })
}

/// Administrations per UPDATE (two values each).
const ADMINISTRATIONS_PER_STATEMENT: usize = 200;
/// Responses per series step (each names its case and session once in its statements).
const RESPONSES_PER_SERIES_STEP: usize = 200;

/// Group writers per store. SQLite has one writer connection, so one writer task. On
/// PostgreSQL a group's statements are network round trips: a second writer prepares its group
/// (administrations, responses, series) while the first holds the clinic's chain head from its
/// audit append to its commit. More writers only split the waiting submissions into smaller
/// groups that queue at the same head: measured with the load bench (2 writers against 4, two
/// runs each, 16 clients over HTTP: 1107 and 1033 against 983 and 1011 submissions/s; again
/// with the writers on their own thread and connections, 2 against 3 and 4: 54% of the raw
/// rate against 44% and 51%).
pub(crate) fn writers(backend: crate::Backend) -> usize {
    match backend {
        crate::Backend::Sqlite => 1,
        crate::Backend::Postgres => 2,
    }
}

/// A group writer: takes what is waiting, writes it as one group, answers, repeats. Writers
/// take turns at the queue; each holds it only while taking a group.
async fn write_groups(store: Store, queue: Arc<tokio::sync::Mutex<mpsc::Receiver<Job>>>) {
    loop {
        let jobs = {
            let mut queue = queue.lock().await;
            let Some(first) = queue.recv().await else {
                return;
            };
            let mut jobs = vec![first];
            while jobs.len() < GROUP_MAX {
                match queue.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            jobs
        };
        commit_group(&store, jobs).await;
    }
}

/// Writes `jobs` as one group and answers each; if the group fails, writes each alone.
async fn commit_group(store: &Store, jobs: Vec<Job>) {
    if jobs.len() > 1 {
        match store.write_group(&jobs).await {
            Ok(outcomes) => {
                for (job, outcome) in jobs.into_iter().zip(outcomes) {
                    let _ = job.reply.send(outcome);
                }
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, submissions = jobs.len(), "a group of submissions failed; writing each alone");
            }
        }
    }
    for job in jobs {
        let outcome = store
            .write_group(std::slice::from_ref(&job))
            .await
            .and_then(|mut v| {
                v.pop().unwrap_or_else(|| {
                    Err(StoreError::Corrupt("a group of one had no outcome".into()))
                })
            });
        let _ = job.reply.send(outcome);
    }
}
