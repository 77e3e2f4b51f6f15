//! The group-commit writer: one task that owns the write connection and batches concurrent
//! changes into one transaction.
//!
//! Callers enqueue a [`Change`] and wait. The writer takes every change waiting in the queue (up
//! to `max_batch`), applies each inside its own savepoint — so one bad change is rolled back
//! alone — extends the audit chain, writes the outbox rows, and commits once. Every caller is
//! answered only after that commit returns, so an acknowledged change is durable (SQLite WAL
//! with `synchronous=FULL`; PostgreSQL with its default `synchronous_commit`). While one batch
//! commits, the next one queues up: throughput comes from batching, never from weaker
//! durability.

use std::sync::Arc;

use jz_domain::audit::{AuditEntry, GENESIS_HASH};
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AnyPool, Row, Transaction};
use tokio::sync::{Notify, mpsc, oneshot};

use crate::StoreError;
use crate::change::{Arg, Change, Committed, Expect};

/// How the writer batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterOptions {
    /// The most changes one transaction carries. `1` means one transaction per change (the
    /// baseline the group-commit benchmark compares against).
    pub max_batch: usize,
    /// How many changes may wait in the queue before callers wait to enqueue (backpressure).
    pub queue_depth: usize,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            max_batch: 1024,
            queue_depth: 16 * 1024,
        }
    }
}

pub(crate) enum Job {
    Write {
        change: Change,
        reply: oneshot::Sender<Result<Committed, StoreError>>,
    },
    /// Report the write connection's durability settings.
    Durability {
        reply: oneshot::Sender<Result<Durability, StoreError>>,
    },
    /// Finish what is queued, then stop; answered when the writer has stopped.
    Shutdown { done: oneshot::Sender<()> },
}

/// The durability settings the write connection actually runs with, read back from the
/// database (not from our configuration), so a health check can prove them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Durability {
    /// SQLite: `journal_mode=wal, synchronous=full`; PostgreSQL: `fsync=on, synchronous_commit=on`.
    pub settings: Vec<(String, String)>,
}

/// The sending side of the writer's queue.
#[derive(Debug, Clone)]
pub(crate) struct WriterHandle {
    sender: mpsc::Sender<Job>,
}

impl WriterHandle {
    /// Enqueues `change` now (before the returned future is first polled, when the queue has
    /// room), then waits for its commit.
    pub(crate) fn submit(
        &self,
        change: Change,
    ) -> impl Future<Output = Result<Committed, StoreError>> + Send + 'static {
        let (reply, answer) = oneshot::channel();
        let job = Job::Write { change, reply };
        let waiting = match self.sender.try_send(job) {
            Ok(()) => None,
            Err(mpsc::error::TrySendError::Full(job)) => Some(Ok((self.sender.clone(), job))),
            Err(mpsc::error::TrySendError::Closed(_)) => Some(Err(StoreError::Closed)),
        };
        async move {
            match waiting {
                None => {}
                Some(Err(closed)) => return Err(closed),
                Some(Ok((sender, job))) => {
                    sender.send(job).await.map_err(|_| StoreError::Closed)?
                }
            }
            answer.await.map_err(|_| StoreError::Closed)?
        }
    }

    pub(crate) async fn durability(&self) -> Result<Durability, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send(Job::Durability { reply })
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    pub(crate) async fn shutdown(&self) {
        let (done, stopped) = oneshot::channel();
        if self.sender.send(Job::Shutdown { done }).await.is_ok() {
            let _ = stopped.await;
        }
    }
}

pub(crate) fn spawn_writer(
    pool: AnyPool,
    options: WriterOptions,
    outbox_ready: Arc<Notify>,
) -> WriterHandle {
    let (sender, receiver) = mpsc::channel(options.queue_depth.max(1));
    tokio::spawn(run_writer(pool, receiver, options, outbox_ready));
    WriterHandle { sender }
}

async fn run_writer(
    pool: AnyPool,
    mut receiver: mpsc::Receiver<Job>,
    options: WriterOptions,
    outbox_ready: Arc<Notify>,
) {
    let max_batch = options.max_batch.max(1);
    let mut batch_number = 0u64;
    let mut jobs = Vec::with_capacity(max_batch);
    let mut stop: Option<oneshot::Sender<()>> = None;
    while stop.is_none() && receiver.recv_many(&mut jobs, max_batch).await > 0 {
        let mut writes = Vec::with_capacity(jobs.len());
        for job in jobs.drain(..) {
            match job {
                Job::Write { change, reply } => writes.push((change, reply)),
                Job::Durability { reply } => {
                    let _ = reply.send(read_durability(&pool).await);
                }
                Job::Shutdown { done } => {
                    // Writes queued behind the shutdown request are still answered below.
                    receiver.close();
                    stop = Some(done);
                }
            }
        }
        if stop.is_some() {
            while let Ok(Job::Write { change, reply }) = receiver.try_recv() {
                writes.push((change, reply));
            }
        }
        for chunk in writes.chunks_mut(max_batch) {
            batch_number += 1;
            commit_and_answer(&pool, chunk, batch_number, &outbox_ready).await;
        }
    }
    pool.close().await;
    if let Some(done) = stop {
        let _ = done.send(());
    }
}

async fn read_durability(pool: &AnyPool) -> Result<Durability, StoreError> {
    let mut connection = pool.acquire().await?;
    let queries: &[(&str, &'static str)] = if connection.backend_name() == "PostgreSQL" {
        &[
            ("fsync", "SHOW fsync"),
            ("synchronous_commit", "SHOW synchronous_commit"),
        ]
    } else {
        &[
            ("journal_mode", "PRAGMA journal_mode"),
            ("synchronous", "PRAGMA synchronous"),
            ("foreign_keys", "PRAGMA foreign_keys"),
        ]
    };
    let mut settings = Vec::new();
    for (name, sql) in queries {
        let row = sqlx::query(*sql).fetch_one(&mut *connection).await?;
        let value = match row.try_get::<String, _>(0) {
            Ok(text) => text.to_lowercase(),
            Err(_) => match (name, row.try_get::<i64, _>(0)?) {
                (&"synchronous", 0) => "off".to_owned(),
                (&"synchronous", 1) => "normal".to_owned(),
                (&"synchronous", 2) => "full".to_owned(),
                (&"synchronous", 3) => "extra".to_owned(),
                (_, 0) => "off".to_owned(),
                (_, 1) => "on".to_owned(),
                (_, other) => other.to_string(),
            },
        };
        settings.push(((*name).to_owned(), value));
    }
    Ok(Durability { settings })
}

type Pending = (Change, oneshot::Sender<Result<Committed, StoreError>>);

async fn commit_and_answer(
    pool: &AnyPool,
    writes: &mut [Pending],
    batch_number: u64,
    outbox_ready: &Notify,
) {
    let changes: Vec<&Change> = writes.iter().map(|(change, _)| change).collect();
    let outcome = write_batch(pool, &changes).await;
    let batch_size = writes.len();
    match outcome {
        Ok(outcomes) => {
            let mut wrote_outbox = false;
            for ((change, reply), outcome) in writes.iter_mut().zip(outcomes) {
                let answer = outcome.map(|audit_seqs| {
                    wrote_outbox |= !change.outbox.is_empty();
                    Committed {
                        batch: batch_number,
                        batch_size,
                        audit_seqs,
                    }
                });
                answer_once(reply, answer);
            }
            if wrote_outbox {
                outbox_ready.notify_one();
            }
        }
        Err(error) => {
            tracing::error!(%error, batch_size, "write batch failed; no change of it was committed");
            for (_, reply) in writes.iter_mut() {
                answer_once(reply, Err(StoreError::Database(clone_error(&error))));
            }
        }
    }
}

/// Answers a caller; a caller who gave up waiting is simply not told.
fn answer_once(
    reply: &mut oneshot::Sender<Result<Committed, StoreError>>,
    answer: Result<Committed, StoreError>,
) {
    let (placeholder, _) = oneshot::channel();
    let reply = std::mem::replace(reply, placeholder);
    let _ = reply.send(answer);
}

/// sqlx errors are not `Clone`; a failed batch tells every caller the same cause.
fn clone_error(error: &sqlx::Error) -> sqlx::Error {
    sqlx::Error::Protocol(format!("the batch transaction failed: {error}"))
}

/// The audit chain's head while a batch extends it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Head {
    seq: i64,
    hash: String,
}

/// Writes `changes` in one transaction. The outer error means nothing was committed; the inner
/// results say, per change, whether it was part of the commit.
async fn write_batch(
    pool: &AnyPool,
    changes: &[&Change],
) -> Result<Vec<Result<Vec<i64>, StoreError>>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mut head = if changes.iter().any(|change| !change.audit.is_empty()) {
        Some(lock_head(&mut tx).await?)
    } else {
        None
    };
    let start_head = head.clone();
    let single = changes.len() == 1;
    let mut outcomes = Vec::with_capacity(changes.len());
    for change in changes {
        if single {
            match apply_change(&mut tx, change, head.as_mut()).await {
                Ok(seqs) => outcomes.push(Ok(seqs)),
                Err(error) => {
                    tx.rollback().await?;
                    return Ok(vec![Err(error)]);
                }
            }
            continue;
        }
        sqlx::query("SAVEPOINT jz_change").execute(&mut *tx).await?;
        let head_before = head.clone();
        match apply_change(&mut tx, change, head.as_mut()).await {
            Ok(seqs) => {
                sqlx::query("RELEASE SAVEPOINT jz_change")
                    .execute(&mut *tx)
                    .await?;
                outcomes.push(Ok(seqs));
            }
            Err(error) => {
                sqlx::query("ROLLBACK TO SAVEPOINT jz_change")
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("RELEASE SAVEPOINT jz_change")
                    .execute(&mut *tx)
                    .await?;
                head = head_before;
                outcomes.push(Err(error));
            }
        }
    }
    if let Some(head) = &head
        && Some(head) != start_head.as_ref()
    {
        sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(head.seq)
            .bind(head.hash.clone())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(outcomes)
}

/// Reads the chain head and, on PostgreSQL, locks it until commit, so writers in several
/// processes extend one chain in turn.
async fn lock_head(tx: &mut Transaction<'static, Any>) -> Result<Head, sqlx::Error> {
    let row = sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, hash")
        .fetch_optional(&mut **tx)
        .await?;
    Ok(match row {
        Some(row) => Head {
            seq: row.try_get(0)?,
            hash: row.try_get(1)?,
        },
        None => Head {
            seq: 0,
            hash: GENESIS_HASH.to_owned(),
        },
    })
}

async fn apply_change(
    tx: &mut Transaction<'static, Any>,
    change: &Change,
    mut head: Option<&mut Head>,
) -> Result<Vec<i64>, StoreError> {
    for (index, statement) in change.statements.iter().enumerate() {
        let query = statement.args.iter().fold(
            sqlx::query(sqlx::AssertSqlSafe(statement.sql.clone())),
            bind_arg,
        );
        let result = query
            .execute(&mut **tx)
            .await
            .map_err(StoreError::from_statement)?;
        if let Expect::Rows(expected) = statement.expect
            && result.rows_affected() != expected
        {
            return Err(StoreError::Conflict {
                statement: index,
                expected,
                affected: result.rows_affected(),
            });
        }
    }
    let mut seqs = Vec::with_capacity(change.audit.len());
    for record in &change.audit {
        let head = head
            .as_deref_mut()
            .expect("the head is locked when a batch carries audit records");
        let entry = AuditEntry::chain(head.seq, &head.hash, record.clone());
        sqlx::query(
            "INSERT INTO audit_log (seq, at_us, actor, actor_role, action, subject_kind, subject_id, origin, before_json, after_json, prev_hash, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(entry.seq)
        .bind(entry.record.at_us)
        .bind(entry.record.actor)
        .bind(entry.record.actor_role)
        .bind(entry.record.action)
        .bind(entry.record.subject_kind)
        .bind(entry.record.subject_id)
        .bind(entry.record.origin)
        .bind(entry.record.before)
        .bind(entry.record.after)
        .bind(entry.prev_hash)
        .bind(entry.hash.clone())
        .execute(&mut **tx)
        .await
        .map_err(StoreError::from_statement)?;
        head.seq = entry.seq;
        head.hash = entry.hash;
        seqs.push(entry.seq);
    }
    for message in &change.outbox {
        sqlx::query(
            "INSERT INTO outbox (topic, payload, created_at_us, next_attempt_at_us) VALUES ($1, $2, $3, $3)",
        )
        .bind(message.topic.clone())
        .bind(message.payload.clone())
        .bind(message.due_at_us)
        .execute(&mut **tx)
        .await
        .map_err(StoreError::from_statement)?;
    }
    Ok(seqs)
}

fn bind_arg<'q>(query: Query<'q, Any, AnyArguments>, arg: &Arg) -> Query<'q, Any, AnyArguments> {
    match arg {
        Arg::Int(value) => query.bind(*value),
        Arg::Real(value) => query.bind(*value),
        Arg::Text(value) => query.bind(value.clone()),
        Arg::Bytes(value) => query.bind(value.clone()),
    }
}
