//! Reading and verifying the hash-chained audit log.

use jz_domain::audit::{AuditEntry, AuditRecord, ChainBreak, ChainSummary, ChainVerifier};
use sqlx::any::AnyRow;
use sqlx::{Executor, Row};

use crate::{Backend, Store, StoreError};

const PAGE: i64 = 10_000;

const ENTRY_COLUMNS: &str = "seq, at_us, actor, actor_role, action, subject_kind, subject_id, origin, before_json, after_json, prev_hash, hash";

fn entry_from_row(row: &AnyRow) -> Result<AuditEntry, sqlx::Error> {
    Ok(AuditEntry {
        seq: row.try_get(0)?,
        record: AuditRecord {
            at_us: row.try_get(1)?,
            actor: row.try_get(2)?,
            actor_role: row.try_get(3)?,
            action: row.try_get(4)?,
            subject_kind: row.try_get(5)?,
            subject_id: row.try_get(6)?,
            origin: row.try_get(7)?,
            before: row.try_get(8)?,
            after: row.try_get(9)?,
        },
        prev_hash: row.try_get(10)?,
        hash: row.try_get(11)?,
    })
}

impl Store {
    /// Walks the whole audit chain in one consistent snapshot. The outer error is the
    /// database's; the inner one names the first broken entry.
    pub async fn verify_audit_chain(&self) -> Result<Result<ChainSummary, ChainBreak>, StoreError> {
        let mut tx = self.reader().begin().await?;
        if self.backend() == Backend::Postgres {
            tx.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                .await?;
        }
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?;
        let (head_seq, head_hash): (i64, String) = (head.try_get(0)?, head.try_get(1)?);
        let mut verifier = ChainVerifier::default();
        let mut after = i64::MIN;
        loop {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {ENTRY_COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT {PAGE}"
            )))
            .bind(after)
            .fetch_all(&mut *tx)
            .await?;
            for row in &rows {
                let entry = entry_from_row(row)?;
                if let Err(broken) = verifier.check(&entry) {
                    return Ok(Err(broken));
                }
                after = entry.seq;
            }
            if (rows.len() as i64) < PAGE {
                break;
            }
        }
        tx.commit().await?;
        Ok(verifier.finish(head_seq, &head_hash))
    }

    /// The audit entries about one subject, oldest first.
    pub async fn audit_entries_for(
        &self,
        subject_kind: &str,
        subject_id: &str,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ENTRY_COLUMNS} FROM audit_log WHERE subject_kind = $1 AND subject_id = $2 ORDER BY seq"
        )))
        .bind(subject_kind.to_owned())
        .bind(subject_id.to_owned())
        .fetch_all(self.reader())
        .await?;
        Ok(rows.iter().map(entry_from_row).collect::<Result<_, _>>()?)
    }
}
