//! The outbox relay: delivers messages written with committed changes, at least once.
//!
//! A message is marked delivered only after its handler succeeded, through the writer; a crash
//! between the two delivers it again, so handlers must be idempotent (the message id is stable).
//! A failed delivery is retried with exponential backoff.

use std::time::Duration;

use sqlx::Row;
use tokio::sync::watch;

use crate::{Change, Statement, Store, StoreError};

/// One message waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    /// Stable across redeliveries: handlers use it to ignore a message seen before.
    pub id: i64,
    pub topic: String,
    pub payload: String,
    pub created_at_us: i64,
    /// Delivery attempts made before this one.
    pub attempts: i64,
}

/// Delivers outbox messages; an `Err` is retried later.
pub trait OutboxHandler: Send + Sync {
    fn deliver(&self, item: &OutboxItem) -> impl Future<Output = Result<(), String>> + Send;
}

/// How failed deliveries are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub first_delay_us: i64,
    pub max_delay_us: i64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            first_delay_us: 1_000_000,
            max_delay_us: 3_600_000_000,
        }
    }
}

impl RetryPolicy {
    /// The delay before the next attempt after `attempts` failed ones (1, 2, 4 … × first delay).
    pub fn delay_us(&self, attempts: i64) -> i64 {
        let doublings = attempts.clamp(1, 40) - 1;
        self.first_delay_us
            .saturating_mul(1i64 << doublings)
            .min(self.max_delay_us)
    }
}

/// What one relay round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayRound {
    pub delivered: usize,
    pub failed: usize,
}

impl Store {
    /// Messages due at `now_us` and not yet delivered, oldest first.
    pub async fn outbox_due(&self, now_us: i64, limit: i64) -> Result<Vec<OutboxItem>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, topic, payload, created_at_us, attempts FROM outbox
             WHERE delivered_at_us IS NULL AND next_attempt_at_us <= $1
             ORDER BY id LIMIT $2",
        )
        .bind(now_us)
        .bind(limit)
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(OutboxItem {
                    id: row.try_get(0)?,
                    topic: row.try_get(1)?,
                    payload: row.try_get(2)?,
                    created_at_us: row.try_get(3)?,
                    attempts: row.try_get(4)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// How many messages are not yet delivered.
    pub async fn outbox_pending(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) FROM outbox WHERE delivered_at_us IS NULL")
            .fetch_one(self.reader())
            .await?;
        Ok(row.try_get(0)?)
    }
}

/// Delivers due outbox messages to a handler.
#[derive(Debug)]
pub struct OutboxRelay<H> {
    store: Store,
    handler: H,
    retry: RetryPolicy,
    batch: i64,
}

impl<H: OutboxHandler> OutboxRelay<H> {
    pub fn new(store: Store, handler: H, retry: RetryPolicy) -> OutboxRelay<H> {
        OutboxRelay {
            store,
            handler,
            retry,
            batch: 256,
        }
    }

    /// The handler messages are delivered to.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// Delivers what is due at `now_us` (one page) and records the outcomes in one change.
    pub async fn run_once(&self, now_us: i64) -> Result<RelayRound, StoreError> {
        let due = self.store.outbox_due(now_us, self.batch).await?;
        let mut round = RelayRound::default();
        let mut change = Change::new();
        for item in &due {
            match self.handler.deliver(item).await {
                Ok(()) => {
                    round.delivered += 1;
                    change = change.statement(
                        Statement::new(
                            "UPDATE outbox SET delivered_at_us = $1, attempts = attempts + 1, last_error = NULL
                             WHERE id = $2 AND delivered_at_us IS NULL",
                        )
                        .bind(now_us)
                        .bind(item.id),
                    );
                }
                Err(error) => {
                    round.failed += 1;
                    let retry_at = now_us.saturating_add(self.retry.delay_us(item.attempts + 1));
                    change = change.statement(
                        Statement::new(
                            "UPDATE outbox SET attempts = attempts + 1, last_error = $1, next_attempt_at_us = $2
                             WHERE id = $3 AND delivered_at_us IS NULL",
                        )
                        .bind(error)
                        .bind(retry_at)
                        .bind(item.id),
                    );
                }
            }
        }
        if !due.is_empty() {
            self.store.write(change).await?;
        }
        Ok(round)
    }

    /// Runs until `shutdown` turns true: delivers whenever a change wrote to the outbox, and
    /// otherwise looks every `poll` for retries that fell due. `now_us` is the clock.
    pub async fn run(
        self,
        now_us: impl Fn() -> i64 + Send,
        poll: Duration,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let ready = self.store.inner.outbox_ready.clone();
        while !*shutdown.borrow() {
            match self.run_once(now_us()).await {
                Ok(round) if round.delivered + round.failed > 0 && round.failed == 0 => continue,
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "outbox relay round failed; retrying"),
            }
            tokio::select! {
                _ = ready.notified() => {}
                _ = tokio::time::sleep(poll) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}
