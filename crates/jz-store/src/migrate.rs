//! Schema migrations, one folder per dialect, applied automatically and atomically on open.
//!
//! All pending migrations are applied in one transaction: if any fails, the database is left
//! exactly as it was (both engines have transactional DDL). On PostgreSQL an advisory lock
//! serialises concurrent starts; on SQLite the write lock does. Applied migrations are recorded
//! with a checksum, and an applied migration whose text changed is refused.

use sha2::{Digest, Sha256};
use sqlx::{AnyPool, Row};

use crate::{Backend, StoreError};

/// One migration: a number, a name, and the SQL of one dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// The SQLite migrations, in order.
pub const SQLITE_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "foundation",
        sql: include_str!("../migrations/sqlite/0001_foundation.sql"),
    },
    Migration {
        version: 2,
        name: "city_model",
        sql: include_str!("../migrations/sqlite/0002_city_model.sql"),
    },
    Migration {
        version: 3,
        name: "zones",
        sql: include_str!("../migrations/sqlite/0003_zones.sql"),
    },
    Migration {
        version: 4,
        name: "cases",
        sql: include_str!("../migrations/sqlite/0004_cases.sql"),
    },
    Migration {
        version: 5,
        name: "case_indexes",
        sql: include_str!("../migrations/sqlite/0005_case_indexes.sql"),
    },
    Migration {
        version: 6,
        name: "api_keys",
        sql: include_str!("../migrations/sqlite/0006_api_keys.sql"),
    },
    Migration {
        version: 7,
        name: "open311",
        sql: include_str!("../migrations/sqlite/0007_open311.sql"),
    },
    Migration {
        version: 8,
        name: "sessions",
        sql: include_str!("../migrations/sqlite/0008_sessions.sql"),
    },
    Migration {
        version: 9,
        name: "evaluation",
        sql: include_str!("../migrations/sqlite/0009_evaluation.sql"),
    },
    Migration {
        version: 10,
        name: "tally_pending",
        sql: include_str!("../migrations/sqlite/0010_tally_pending.sql"),
    },
    Migration {
        version: 11,
        name: "case_district_index",
        sql: include_str!("../migrations/sqlite/0011_case_district_index.sql"),
    },
    Migration {
        version: 12,
        name: "case_steps_in_audit",
        sql: include_str!("../migrations/sqlite/0012_case_steps_in_audit.sql"),
    },
];

/// The PostgreSQL migrations, in order; the same versions as SQLite.
pub const POSTGRES_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "foundation",
        sql: include_str!("../migrations/postgres/0001_foundation.sql"),
    },
    Migration {
        version: 2,
        name: "city_model",
        sql: include_str!("../migrations/postgres/0002_city_model.sql"),
    },
    Migration {
        version: 3,
        name: "zones",
        sql: include_str!("../migrations/postgres/0003_zones.sql"),
    },
    Migration {
        version: 4,
        name: "cases",
        sql: include_str!("../migrations/postgres/0004_cases.sql"),
    },
    Migration {
        version: 5,
        name: "case_indexes",
        sql: include_str!("../migrations/postgres/0005_case_indexes.sql"),
    },
    Migration {
        version: 6,
        name: "api_keys",
        sql: include_str!("../migrations/postgres/0006_api_keys.sql"),
    },
    Migration {
        version: 7,
        name: "open311",
        sql: include_str!("../migrations/postgres/0007_open311.sql"),
    },
    Migration {
        version: 8,
        name: "sessions",
        sql: include_str!("../migrations/postgres/0008_sessions.sql"),
    },
    Migration {
        version: 9,
        name: "evaluation",
        sql: include_str!("../migrations/postgres/0009_evaluation.sql"),
    },
    Migration {
        version: 10,
        name: "tally_pending",
        sql: include_str!("../migrations/postgres/0010_tally_pending.sql"),
    },
    Migration {
        version: 11,
        name: "case_district_index",
        sql: include_str!("../migrations/postgres/0011_case_district_index.sql"),
    },
    Migration {
        version: 12,
        name: "case_steps_in_audit",
        sql: include_str!("../migrations/postgres/0012_case_steps_in_audit.sql"),
    },
];

/// The migrations for a backend.
pub fn migrations_for(backend: Backend) -> &'static [Migration] {
    match backend {
        Backend::Sqlite => SQLITE_MIGRATIONS,
        Backend::Postgres => POSTGRES_MIGRATIONS,
    }
}

/// What a migration run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// Versions applied by this run, in order.
    pub applied: Vec<i64>,
    /// The schema version after the run.
    pub version: i64,
}

fn checksum(sql: &str) -> String {
    hex::encode(Sha256::digest(sql.as_bytes()))
}

/// Applies the pending `migrations` in one transaction.
pub async fn migrate(
    pool: &AnyPool,
    backend: Backend,
    location: &str,
    migrations: &[Migration],
    now_us: i64,
) -> Result<MigrationReport, StoreError> {
    let mut tx = pool.begin().await?;
    if backend == Backend::Postgres {
        // Held until the transaction ends; a second starter waits, then sees the work done.
        sqlx::query("SELECT pg_advisory_xact_lock(7406001)")
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS jz_schema_migrations (
            version BIGINT PRIMARY KEY,
            name TEXT NOT NULL,
            checksum TEXT NOT NULL,
            applied_at_us BIGINT NOT NULL
        )",
    )
    .execute(&mut *tx)
    .await?;
    let applied: Vec<(i64, String, String)> =
        sqlx::query("SELECT version, name, checksum FROM jz_schema_migrations ORDER BY version")
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))
            .collect::<Result<_, sqlx::Error>>()?;

    let known = migrations.last().map_or(0, |m| m.version);
    for (version, name, sum) in &applied {
        match migrations.iter().find(|m| m.version == *version) {
            None => {
                return Err(StoreError::SchemaTooNew {
                    location: location.to_owned(),
                    found: *version,
                    known,
                });
            }
            Some(migration) if checksum(migration.sql) != *sum => {
                return Err(StoreError::MigrationModified {
                    location: location.to_owned(),
                    version: *version,
                    name: name.clone(),
                });
            }
            Some(_) => {}
        }
    }

    let mut report = MigrationReport {
        applied: Vec::new(),
        version: 0,
    };
    for migration in migrations {
        if applied
            .iter()
            .any(|(version, _, _)| *version == migration.version)
        {
            continue;
        }
        let failed = |cause: sqlx::Error| StoreError::MigrationFailed {
            version: migration.version,
            name: migration.name.to_owned(),
            cause: cause.to_string(),
        };
        sqlx::raw_sql(sqlx::AssertSqlSafe(migration.sql))
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
        sqlx::query(
            "INSERT INTO jz_schema_migrations (version, name, checksum, applied_at_us) VALUES ($1, $2, $3, $4)",
        )
        .bind(migration.version)
        .bind(migration.name)
        .bind(checksum(migration.sql))
        .bind(now_us)
        .execute(&mut *tx)
        .await
        .map_err(failed)?;
        report.applied.push(migration.version);
    }
    tx.commit().await?;
    report.version = applied
        .iter()
        .map(|(version, _, _)| *version)
        .chain(report.applied.iter().copied())
        .max()
        .unwrap_or(0);
    Ok(report)
}
