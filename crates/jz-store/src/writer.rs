//! The group-commit writer: one task that owns the write connection and batches concurrent
//! changes into one transaction.
//!
//! Callers enqueue a [`Change`] and wait. The writer takes every change waiting in the queue (up
//! to `max_batch`), applies them in order, extends the audit chain, writes the outbox rows, and
//! commits once. Every caller is answered only after that commit returns, so an acknowledged
//! change is durable (SQLite WAL with `synchronous=FULL`; PostgreSQL with `fsync` and
//! `synchronous_commit` on). While one batch commits, the next queues up: throughput comes from
//! batching, never from weaker durability.
//!
//! A change that fails (a broken constraint, a stale version) must not take the others down:
//! the batch is rolled back and run again without it, until every remaining change applies.
//! The outcome is the same as running the surviving changes one by one, in order.
//!
//! Tallies (additive upserts, see [`crate::Tally`]) of the surviving changes are summed per row
//! and appended, as one `tally_pending` row, after the changes' own statements; the writer keeps
//! the running sums and folds them into their rows every
//! [`WriterOptions::tally_fold_interval`], when asked ([`crate::Store::fold_tallies`]), before it
//! stops, and on start for rows a crash left behind (see [`crate::pending`]). Additions commute,
//! so the folded sums equal applying each change's tallies in turn.

use std::sync::Arc;
use std::time::Duration;

use jz_domain::audit::AuditEntry;
use tokio::sync::{Notify, mpsc, oneshot};

use crate::StoreError;
use crate::change::{Change, Committed, Expect};
use crate::engine::{Durability, Head, WriteConnection};
use crate::pending::TallySums;

/// How the writer batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterOptions {
    /// The most changes one transaction carries. `1` means one transaction per change (the
    /// baseline the group-commit benchmark compares against).
    pub max_batch: usize,
    /// How many changes may wait in the queue before callers wait to enqueue (backpressure).
    pub queue_depth: usize,
    /// The longest time committed tallies wait in `tally_pending` before the writer folds them
    /// into their rows (`JINGZHI_TALLY_FOLD_MS`, default 2000). Readers of tallied rows call [`crate::Store::fold_tallies`] first, so
    /// this bounds only the work a restart after a crash finds, and how stale a reader in
    /// another process may be.
    pub tally_fold_interval: Duration,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            max_batch: 1024,
            queue_depth: 16 * 1024,
            tally_fold_interval: Duration::from_millis(crate::TALLY_FOLD_MS.value()),
        }
    }
}

/// A batch taking longer than this (applying plus committing, the commit's sync included) is
/// logged as a warning, so that a latency spike can be told apart from the disk's (a long
/// commit) and the store's own work (a long apply).
const SLOW_BATCH: Duration = Duration::from_millis(100);

/// Warns when a transaction that began at `started` and finished applying after `applied` took
/// [`SLOW_BATCH`] or more to commit, saying how much was applying and how much committing.
fn warn_if_slow(what: &'static str, items: usize, started: std::time::Instant, applied: Duration) {
    let took = started.elapsed();
    if took >= SLOW_BATCH {
        tracing::warn!(
            items,
            apply_ms = applied.as_millis() as u64,
            commit_ms = (took - applied).as_millis() as u64,
            "{what}"
        );
    }
}

/// Distinct pending rows past which the writer folds without waiting for the interval.
const MAX_PENDING_ROWS: usize = 200_000;

const APPEND_PENDING: &str = "INSERT INTO tally_pending (body) VALUES ($1)";

type Reply = oneshot::Sender<Result<Committed, StoreError>>;

pub(crate) enum Job {
    Write {
        change: Change,
        reply: Reply,
    },
    /// Fold the pending tallies into their rows; answered after the fold commits.
    FoldTallies {
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    /// Report the write connection's durability settings.
    Durability {
        reply: oneshot::Sender<Result<Durability, StoreError>>,
    },
    /// Finish what is queued, then stop; answered when the writer has stopped.
    Shutdown {
        done: oneshot::Sender<()>,
    },
}

/// The sending side of the writer's queue.
#[derive(Debug, Clone)]
pub(crate) struct WriterHandle {
    sender: mpsc::Sender<Job>,
}

impl WriterHandle {
    /// Starts a writer on its own thread (for connections that block, like SQLite's).
    pub(crate) fn spawn_on_thread<C: WriteConnection + 'static>(
        connection: C,
        options: WriterOptions,
        outbox_ready: Arc<Notify>,
    ) -> std::io::Result<WriterHandle> {
        let (sender, receiver) = mpsc::channel(options.queue_depth.max(1));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()?;
        std::thread::Builder::new()
            .name("jingzhi-writer".into())
            .spawn(move || {
                runtime.block_on(run_writer(connection, receiver, options, outbox_ready));
            })?;
        Ok(WriterHandle { sender })
    }

    /// Starts a writer as a task of the current runtime (for async connections).
    pub(crate) fn spawn_task<C: WriteConnection + 'static>(
        connection: C,
        options: WriterOptions,
        outbox_ready: Arc<Notify>,
    ) -> WriterHandle {
        let (sender, receiver) = mpsc::channel(options.queue_depth.max(1));
        tokio::spawn(run_writer(connection, receiver, options, outbox_ready));
        WriterHandle { sender }
    }

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

    /// Queues the job `make` builds around a reply channel, and waits for its answer.
    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Job,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send(make(reply))
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    pub(crate) async fn durability(&self) -> Result<Durability, StoreError> {
        self.ask(|reply| Job::Durability { reply }).await
    }

    pub(crate) async fn fold_tallies(&self) -> Result<(), StoreError> {
        self.ask(|reply| Job::FoldTallies { reply }).await
    }

    pub(crate) async fn shutdown(&self) {
        let (done, stopped) = oneshot::channel();
        if self.sender.send(Job::Shutdown { done }).await.is_ok() {
            let _ = stopped.await;
        }
    }
}

async fn run_writer<C: WriteConnection>(
    mut connection: C,
    mut receiver: mpsc::Receiver<Job>,
    options: WriterOptions,
    outbox_ready: Arc<Notify>,
) {
    let max_batch = options.max_batch.max(1);
    let litter = Litter::start();
    let mut batch_number = 0u64;
    let mut jobs = Vec::with_capacity(max_batch);
    let mut stop: Option<oneshot::Sender<()>> = None;
    // Tallies a crash left pending are folded by the first fold (`Store::open` asks for it);
    // if they cannot be read, that fold answers why.
    let mut pending = Pending::default();
    let mut unreadable = match read_pending(&mut connection).await {
        Ok(sums) => {
            pending.add(&sums);
            None
        }
        Err(error) => Some(error),
    };
    while stop.is_none() {
        let received = match pending.due(options.tally_fold_interval) {
            Some(due) if unreadable.is_none() => {
                match tokio::time::timeout_at(due, receiver.recv_many(&mut jobs, max_batch)).await {
                    Ok(received) => received,
                    Err(_) => {
                        // Idle past the interval: fold now.
                        if let Err(error) = pending.fold(&mut connection).await {
                            tracing::error!(%error, "folding the pending tallies failed; trying again later");
                            pending.since = Some(tokio::time::Instant::now());
                        }
                        continue;
                    }
                }
            }
            _ => receiver.recv_many(&mut jobs, max_batch).await,
        };
        if received == 0 {
            break;
        }
        let mut writes = Vec::with_capacity(jobs.len());
        let mut fold_waiters = Vec::new();
        for job in jobs.drain(..) {
            match job {
                Job::Write { change, reply } => writes.push((change, reply)),
                Job::FoldTallies { reply } => fold_waiters.push(reply),
                Job::Durability { reply } => {
                    let _ = reply.send(connection.durability().await);
                }
                Job::Shutdown { done } => {
                    receiver.close();
                    stop = Some(done);
                }
            }
        }
        if stop.is_some() {
            // Writes queued behind the shutdown request are still committed and answered.
            while let Ok(job) = receiver.try_recv() {
                match job {
                    Job::Write { change, reply } => writes.push((change, reply)),
                    Job::FoldTallies { reply } => fold_waiters.push(reply),
                    Job::Durability { .. } | Job::Shutdown { .. } => {}
                }
            }
        }
        while !writes.is_empty() {
            let rest = writes.split_off(writes.len().min(max_batch));
            batch_number += 1;
            let done = commit_and_answer(
                &mut connection,
                writes,
                batch_number,
                &outbox_ready,
                &mut pending,
            )
            .await;
            litter.discard(done);
            writes = rest;
        }
        let fold_due = pending.due(options.tally_fold_interval).is_some_and(|due| {
            due <= tokio::time::Instant::now() || pending.sums.len() > MAX_PENDING_ROWS
        });
        if !fold_waiters.is_empty() || (unreadable.is_none() && (stop.is_some() || fold_due)) {
            let folded = match unreadable.take() {
                Some(error) => Err(error),
                None => pending.fold(&mut connection).await,
            };
            if let Err(error) = &folded {
                tracing::error!(%error, "folding the pending tallies failed");
                if pending.since.is_some() {
                    pending.since = Some(tokio::time::Instant::now());
                }
            }
            for reply in fold_waiters {
                let _ = reply.send(match &folded {
                    Ok(()) => Ok(()),
                    Err(error) => Err(StoreError::Database(error.to_string().into())),
                });
            }
        }
    }
    connection.close().await;
    if let Some(done) = stop {
        let _ = done.send(());
    }
}

/// Committed tallies not yet folded into their rows: the same sums as the `tally_pending` rows.
#[derive(Debug, Default)]
struct Pending {
    sums: TallySums,
    /// When the oldest unfolded sums were committed.
    since: Option<tokio::time::Instant>,
}

impl Pending {
    fn add(&mut self, sums: &TallySums) {
        if sums.is_empty() {
            return;
        }
        self.since.get_or_insert_with(tokio::time::Instant::now);
        self.sums.merge(sums);
    }

    /// When the pending sums are due to be folded; `None` when there are none.
    fn due(&self, interval: Duration) -> Option<tokio::time::Instant> {
        self.since.map(|since| since + interval)
    }

    /// Runs one upsert per row and deletes the pending rows, in one transaction. A row that
    /// breaks a constraint (a tally that can never apply: a bug, logged with its key and sums)
    /// is left out and the others are folded without it. On any other failure nothing changes
    /// and the sums stay pending, to be folded later.
    async fn fold<C: WriteConnection>(&mut self, connection: &mut C) -> Result<(), StoreError> {
        if self.since.is_none() {
            return Ok(());
        }
        let started = std::time::Instant::now();
        loop {
            connection.begin().await?;
            let mut failed = None;
            for (sql, key, args) in self.sums.statements() {
                if let Err(error) = connection.execute(sql, &args).await {
                    failed = Some((sql.to_owned(), key.to_vec(), args, error));
                    break;
                }
            }
            match failed {
                None => {
                    if let Err(error) = connection.execute("DELETE FROM tally_pending", &[]).await {
                        connection.rollback().await?;
                        return Err(error);
                    }
                    let applied = started.elapsed();
                    connection.commit().await?;
                    warn_if_slow(
                        "slow fold of the pending tallies",
                        self.sums.len(),
                        started,
                        applied,
                    );
                    *self = Pending::default();
                    return Ok(());
                }
                Some((sql, key, args, error)) => {
                    connection.rollback().await?;
                    if !matches!(error, StoreError::Constraint { .. }) {
                        return Err(error);
                    }
                    tracing::error!(%error, sql, ?args, "a pending tally breaks a constraint; it is left out");
                    self.sums.forget(&sql, &key);
                }
            }
        }
    }
}

/// The sums of the `tally_pending` rows.
async fn read_pending<C: WriteConnection>(connection: &mut C) -> Result<TallySums, StoreError> {
    let mut sums = TallySums::default();
    for body in connection
        .read_blobs("SELECT body FROM tally_pending ORDER BY id")
        .await?
    {
        sums.add_encoded(&body)?;
    }
    Ok(sums)
}

/// Frees written changes on a thread of their own. A change is built on the runtime's threads
/// and freed by whoever drops it last; freeing a batch's strings on the writer thread (memory
/// allocated on other threads) took about 6 % of its time, and the writer is the one thread
/// every acknowledged change waits for. At most [`Litter::QUEUED`] batches wait: past that (the
/// freeing thread behind) the writer frees a batch itself rather than queue without bound.
#[derive(Debug)]
struct Litter {
    sender: Option<std::sync::mpsc::SyncSender<Vec<Change>>>,
}

impl Litter {
    /// Batches waiting to be freed, at most (each up to `max_batch` changes).
    const QUEUED: usize = 16;

    fn start() -> Litter {
        let (sender, receiver) = std::sync::mpsc::sync_channel::<Vec<Change>>(Litter::QUEUED);
        let started = std::thread::Builder::new()
            .name("jingzhi-free".into())
            .spawn(move || {
                crate::priority::lower_this_thread(crate::priority::BACKGROUND_NICE);
                while receiver.recv().is_ok() {}
            });
        // Without the thread, changes are simply freed where they are dropped.
        Litter {
            sender: started.ok().map(|_| sender),
        }
    }

    fn discard(&self, changes: Vec<Change>) {
        if let Some(sender) = &self.sender {
            // A full queue hands the batch back inside the error, which frees it here.
            let _ = sender.try_send(changes);
        }
    }
}

/// Commits one batch and answers its callers; hands back the written changes to be freed.
async fn commit_and_answer<C: WriteConnection>(
    connection: &mut C,
    writes: Vec<(Change, Reply)>,
    batch_number: u64,
    outbox_ready: &Notify,
    pending: &mut Pending,
) -> Vec<Change> {
    let changes: Vec<&Change> = writes.iter().map(|(change, _)| change).collect();
    let outcome = write_batch(connection, &changes).await;
    let batch_size = writes.len();
    match outcome {
        Ok((outcomes, tallies)) => {
            pending.add(&tallies);
            let wrote_outbox = writes
                .iter()
                .zip(&outcomes)
                .any(|((change, _), outcome)| outcome.is_ok() && !change.outbox.is_empty());
            let mut done = Vec::with_capacity(batch_size);
            for ((change, reply), outcome) in writes.into_iter().zip(outcomes) {
                done.push(change);
                let answer = outcome.map(|audit_seqs| Committed {
                    batch: batch_number,
                    batch_size,
                    audit_seqs,
                });
                // A caller who gave up waiting is simply not told.
                let _ = reply.send(answer);
            }
            if wrote_outbox {
                outbox_ready.notify_one();
            }
            done
        }
        Err(error) => {
            tracing::error!(%error, batch_size, "write batch failed; no change of it was committed");
            let message = error.to_string();
            let mut done = Vec::with_capacity(batch_size);
            for (change, reply) in writes {
                done.push(change);
                let _ = reply.send(Err(StoreError::Database(message.clone().into())));
            }
            done
        }
    }
}

/// What a committed batch answers per change, and the tallies it appended to `tally_pending`.
type BatchOutcome = (Vec<Result<Vec<i64>, StoreError>>, TallySums);

/// Writes `changes` in one transaction. The outer error means nothing was committed; the inner
/// results say, per change, whether it is part of the commit.
async fn write_batch<C: WriteConnection>(
    connection: &mut C,
    changes: &[&Change],
) -> Result<BatchOutcome, StoreError> {
    let mut failures: Vec<Option<StoreError>> = changes.iter().map(|_| None).collect();
    let started = std::time::Instant::now();
    loop {
        connection.begin().await?;
        match apply_all(connection, changes, &failures).await {
            Ok((seqs, tallies)) => {
                let applied = started.elapsed();
                connection.commit().await?;
                // Every caller in the batch waited as long. A batch of one long change (a city
                // import) keeps only its own caller waiting: not worth a warning.
                if changes.len() > 1 {
                    warn_if_slow("slow write batch", changes.len(), started, applied);
                }
                let answers = seqs
                    .into_iter()
                    .zip(failures)
                    .map(|(seqs, failure)| match failure {
                        Some(error) => Err(error),
                        None => Ok(seqs),
                    })
                    .collect();
                return Ok((answers, tallies));
            }
            Err((index, error)) => {
                // A dead connection fails here, and the whole batch is answered with its error.
                connection.rollback().await?;
                failures[index] = Some(error);
            }
        }
    }
}

/// Applies every change not yet known to fail; on the first failure, names it. Answers each
/// change's audit numbers and the summed tallies appended to `tally_pending`.
async fn apply_all<C: WriteConnection>(
    connection: &mut C,
    changes: &[&Change],
    failures: &[Option<StoreError>],
) -> Result<(Vec<Vec<i64>>, TallySums), (usize, StoreError)> {
    let live = |index: &usize| failures[*index].is_none();
    let mut head = None;
    if let Some(first) = (0..changes.len())
        .filter(live)
        .find(|&i| !changes[i].audit.is_empty())
    {
        head = Some(
            connection
                .lock_head()
                .await
                .map_err(|error| (first, error))?,
        );
    }
    let start_head = head.clone();
    let mut seqs = vec![Vec::new(); changes.len()];
    for index in (0..changes.len()).filter(live) {
        seqs[index] = apply_change(connection, changes[index], head.as_mut())
            .await
            .map_err(|error| (index, error))?;
    }
    let mut tallies = TallySums::default();
    let mut first_tallied = None;
    for index in (0..changes.len()).filter(live) {
        for tally in &changes[index].tallies {
            first_tallied.get_or_insert(index);
            tallies.add_tally(tally);
        }
    }
    if let (Some(body), Some(first)) = (tallies.encode(), first_tallied) {
        connection
            .execute(APPEND_PENDING, &[body.into()])
            .await
            .map_err(|error| (first, error))?;
    }
    if let Some(head) = head.filter(|head| Some(head) != start_head.as_ref()) {
        let last = (0..changes.len()).rev().find(live).unwrap_or(0);
        connection
            .execute(
                "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1",
                &[head.seq.into(), head.hash.into()],
            )
            .await
            .map_err(|error| (last, error))?;
    }
    Ok((seqs, tallies))
}

async fn apply_change<C: WriteConnection>(
    connection: &mut C,
    change: &Change,
    mut head: Option<&mut Head>,
) -> Result<Vec<i64>, StoreError> {
    for (index, statement) in change.statements.iter().enumerate() {
        let affected = connection.execute(&statement.sql, &statement.args).await?;
        if let Expect::Rows(expected) = statement.expect
            && affected != expected
        {
            return Err(StoreError::Conflict {
                statement: index,
                expected,
                affected,
            });
        }
    }
    let mut seqs = Vec::with_capacity(change.audit.len());
    for record in &change.audit {
        let head = head.as_deref_mut().ok_or_else(|| {
            StoreError::Database("the audit head was not locked for an audited change".into())
        })?;
        let entry = AuditEntry::chain(head.seq, &head.hash, record.clone());
        connection
            .execute(
                "INSERT INTO audit_log (seq, at_us, actor, actor_role, action, subject_kind, subject_id, origin, before_json, after_json, prev_hash, hash)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                &[
                    entry.seq.into(),
                    entry.record.at_us.into(),
                    entry.record.actor.into(),
                    entry.record.actor_role.into(),
                    entry.record.action.into(),
                    entry.record.subject_kind.into(),
                    entry.record.subject_id.into(),
                    entry.record.origin.into(),
                    entry.record.before.into(),
                    entry.record.after.into(),
                    entry.prev_hash.into(),
                    entry.hash.clone().into(),
                ],
            )
            .await?;
        head.seq = entry.seq;
        head.hash = entry.hash;
        seqs.push(entry.seq);
    }
    for message in &change.outbox {
        connection
            .execute(
                "INSERT INTO outbox (topic, payload, created_at_us, next_attempt_at_us) VALUES ($1, $2, $3, $3)",
                &[
                    message.topic.clone().into(),
                    message.payload.clone().into(),
                    message.due_at_us.into(),
                ],
            )
            .await?;
    }
    Ok(seqs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_litter_queue_is_bounded_and_never_holds_the_writer() {
        // A freeing thread that never catches up: the queue fills, then the writer frees the
        // batches itself instead of waiting or queueing more.
        let (sender, receiver) = std::sync::mpsc::sync_channel(Litter::QUEUED);
        let litter = Litter {
            sender: Some(sender),
        };
        for _ in 0..Litter::QUEUED + 5 {
            litter.discard(vec![Change::new(), Change::new()]);
        }
        assert_eq!(receiver.try_iter().count(), Litter::QUEUED);
        litter.discard(vec![Change::new()]);
        assert_eq!(receiver.try_iter().count(), 1, "room again once drained");
    }
}
