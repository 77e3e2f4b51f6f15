//! The deadline scheduler: finds cases whose stage clock needs attention (warning at 80 %,
//! overdue at 100 %) and applies `jz_domain::case::tick` to them — with an injected clock, so
//! tests drive it with manual time and the server with the wall clock.

use jz_domain::case::{self};
use jz_store::{Change, StoreError};
use sqlx::Row;

use super::{CaseError, Cases, Context, decode_case, update_case, write_events};

/// What one scheduler pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    pub warned: usize,
    pub overdue: usize,
    pub escalated: usize,
    /// Cases changed by someone else meanwhile; they are looked at again next pass.
    pub skipped: usize,
}

const BATCH: i64 = 500;

impl Cases {
    /// Applies every due clock event up to `now_us`.
    pub async fn run_deadlines(&self, now_us: i64) -> Result<Pass, CaseError> {
        let mut pass = Pass::default();
        let context = Context {
            origin: "scheduler".into(),
            ..Context::default()
        };
        let mut seen = std::collections::HashSet::new();
        loop {
            let rows = sqlx::query(concat!(
                "SELECT data, ",
                super::reporters_of!("case_file"),
                " FROM case_file WHERE next_due_at_us IS NOT NULL AND next_due_at_us <= $1 ORDER BY next_due_at_us LIMIT $2"
            ))
            .bind(now_us)
            .bind(BATCH)
            .fetch_all(self.store.reader())
            .await?;
            let mut progressed = false;
            let mut pending = Vec::new();
            for row in &rows {
                let current = decode_case(&row.try_get::<String, _>(0)?, row.try_get(1)?)?;
                if !seen.insert((current.id.clone(), current.version)) {
                    continue;
                }
                let Some(decision) = case::tick(&current, now_us) else {
                    continue;
                };
                for event in &decision.events {
                    match event.kind.as_str() {
                        "warned" => pass.warned += 1,
                        "overdue" => pass.overdue += 1,
                        "escalated" => pass.escalated += 1,
                        _ => {}
                    }
                }
                let mut change =
                    Change::new().statement(update_case(&decision.case, current.version, now_us));
                write_events(&mut change, Some(&current), &decision, &context);
                change.tallies.extend(crate::evaluation::counter_tallies(
                    Some(&current),
                    &decision.case,
                ));
                pending.push((self.store.write(change), decision));
                progressed = true;
            }
            for (write, decision) in pending {
                match write.await {
                    Ok(_) => self.announce(&decision),
                    Err(StoreError::Conflict { .. }) => pass.skipped += 1,
                    Err(e) => return Err(e.into()),
                }
            }
            if !progressed || (rows.len() as i64) < BATCH {
                break;
            }
        }
        Ok(pass)
    }
}
