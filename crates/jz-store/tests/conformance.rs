//! The store conformance suite: every case is written once and run against SQLite and a real
//! PostgreSQL (started by `cargo xtask services`).

use std::sync::Mutex;

use jz_domain::audit::BreakReason;
use jz_store::migrate::{Migration, migrate};
use jz_store::{
    Arg, Change, ConstraintKind, OutboxHandler, OutboxItem, OutboxMessage, OutboxRelay,
    RetryPolicy, Statement, Store, StoreError, StoreOptions, Tally, WriterOptions,
};
use jz_testkit::{TestDb, audit_record};
use sqlx::{Executor, Row};

/// Runs each listed case once per engine, in its own fresh database.
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $case() {
                super::$case(&jz_testkit::TestDb::sqlite()).await;
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $case() {
                let Some(db) = jz_testkit::TestDb::postgres().await else { return };
                super::$case(&db).await;
            })*
        }
    };
}

conformance!(
    migrations_apply_once_on_open,
    failed_migration_leaves_the_database_unchanged,
    changed_or_unknown_migrations_are_refused,
    a_change_is_written_whole_with_its_audit_and_outbox,
    a_failing_change_is_rolled_back_alone,
    stale_updates_are_rejected_and_not_audited,
    concurrent_changes_share_one_commit,
    tallies_of_a_commit_are_summed_per_row_without_failed_changes,
    tallies_wait_pending_until_folded_and_survive_an_unclean_stop,
    pending_tallies_are_folded_when_their_interval_passes,
    a_pending_tally_that_breaks_a_constraint_is_left_out_alone,
    one_transaction_per_change_when_batching_is_off,
    the_audit_log_is_append_only_and_tampering_is_named,
    outbox_retries_failures_and_redelivers_after_a_crash,
    readers_cannot_write,
    writes_after_close_are_refused,
    durability_settings_are_full,
    bulk_reads_answer_every_row_and_type,
    point_reads_see_every_acknowledged_write,
    timeline_steps_from_before_version_12_stay_beside_the_audit_entries,
);

const T0: i64 = 1_780_000_000_000_000;

fn create_probe_table() -> Change {
    Change::new()
        .statement(Statement::new(
            "CREATE TABLE probe (id TEXT PRIMARY KEY, version BIGINT NOT NULL, note TEXT)",
        ))
        .statement(Statement::new(
            "CREATE TABLE probe_part (probe_id TEXT NOT NULL REFERENCES probe (id), part BIGINT NOT NULL)",
        ))
}

fn insert_probe(id: &str, at_us: i64) -> Change {
    Change::new()
        .statement(
            Statement::new("INSERT INTO probe (id, version, note) VALUES ($1, 1, $2)")
                .bind(id)
                .bind(format!("note of {id}")),
        )
        .statement(
            Statement::new("INSERT INTO probe_part (probe_id, part) VALUES ($1, 1)").bind(id),
        )
        .audit(audit_record("probe.create", id, at_us))
        .outbox(OutboxMessage {
            topic: "probe.created".into(),
            payload: format!("{{\"id\":\"{id}\"}}"),
            due_at_us: at_us,
        })
}

async fn opened_with_probe(db: &TestDb) -> Store {
    let store = db.open().await;
    store.write(create_probe_table()).await.unwrap();
    store
}

async fn migrations_apply_once_on_open(db: &TestDb) {
    let known = jz_store::migrate::migrations_for(db.location().backend()).len() as i64;
    let store = db.open().await;
    assert_eq!(store.schema_version(), known);
    store.close().await;
    let store = db.open().await;
    assert_eq!(store.schema_version(), known);
    assert_eq!(
        jz_testkit::scalar::<i64>(&store, "SELECT COUNT(*) FROM jz_schema_migrations").await,
        known
    );
    assert_eq!(
        jz_testkit::scalar::<i64>(&store, "SELECT COUNT(*) FROM audit_head").await,
        1
    );
}

const GOOD: Migration = Migration {
    version: 1,
    name: "good",
    sql: "CREATE TABLE alpha (id BIGINT PRIMARY KEY);",
};
const BAD: Migration = Migration {
    version: 2,
    name: "bad",
    sql: "CREATE TABLE beta (id BIGINT PRIMARY KEY); INSERT INTO no_such_table VALUES (1);",
};

async fn table_exists(pool: &sqlx::AnyPool, table: &str) -> bool {
    // Selecting from a missing table fails on both engines.
    pool.execute(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
        .await
        .is_ok()
}

async fn failed_migration_leaves_the_database_unchanged(db: &TestDb) {
    let pool = db.raw_pool().await;
    let backend = db.location().backend();
    // A failing run on an empty database leaves it empty, even of the bookkeeping table.
    let error = migrate(&pool, backend, "test", &[GOOD, BAD], T0)
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::MigrationFailed { version: 2, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("unchanged"), "{error}");
    assert!(!table_exists(&pool, "alpha").await);
    assert!(!table_exists(&pool, "beta").await);
    assert!(!table_exists(&pool, "jz_schema_migrations").await);
    // After a good run, a failing one changes nothing of what was there.
    migrate(&pool, backend, "test", &[GOOD], T0).await.unwrap();
    let error = migrate(&pool, backend, "test", &[GOOD, BAD], T0)
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::MigrationFailed { version: 2, .. }),
        "{error}"
    );
    assert!(table_exists(&pool, "alpha").await);
    assert!(!table_exists(&pool, "beta").await);
    let versions: i64 = sqlx::query("SELECT COUNT(*) FROM jz_schema_migrations")
        .fetch_one(&pool)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(versions, 1);
}

async fn changed_or_unknown_migrations_are_refused(db: &TestDb) {
    let pool = db.raw_pool().await;
    let backend = db.location().backend();
    migrate(&pool, backend, "test", &[GOOD], T0).await.unwrap();
    let edited = Migration {
        sql: "CREATE TABLE alpha (id BIGINT PRIMARY KEY, x TEXT);",
        ..GOOD
    };
    let error = migrate(&pool, backend, "test", &[edited], T0)
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::MigrationModified { version: 1, .. }),
        "{error}"
    );
    let error = migrate(&pool, backend, "test", &[], T0).await.unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::SchemaTooNew {
                found: 1,
                known: 0,
                ..
            }
        ),
        "{error}"
    );
}

async fn a_change_is_written_whole_with_its_audit_and_outbox(db: &TestDb) {
    let store = opened_with_probe(db).await;
    let committed = store.write(insert_probe("p1", T0)).await.unwrap();
    assert_eq!(committed.audit_seqs, vec![1]);
    assert_eq!(
        jz_testkit::scalar::<i64>(&store, "SELECT COUNT(*) FROM probe").await,
        1
    );
    assert_eq!(
        jz_testkit::scalar::<i64>(&store, "SELECT COUNT(*) FROM probe_part").await,
        1
    );
    let entries = store.audit_entries_for("probe", "p1").await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].record, audit_record("probe.create", "p1", T0));
    let due = store.outbox_due(T0, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].payload, "{\"id\":\"p1\"}");
    assert!(
        store.outbox_due(T0 - 1, 10).await.unwrap().is_empty(),
        "not due before its time"
    );
    let summary = store.verify_audit_chain().await.unwrap().unwrap();
    assert_eq!(summary.entries, 1);
}

async fn a_failing_change_is_rolled_back_alone(db: &TestDb) {
    let store = opened_with_probe(db).await;
    store.write(insert_probe("taken", T0)).await.unwrap();
    // Three changes queued together: the middle one inserts a part, then breaks a unique key.
    // A blocker holds the write lock so they queue up and share one batch.
    let mut blocker = hold_write_lock(db).await;
    let marker = store.write(insert_probe("marker", T0));
    let first = store.write(insert_probe("a", T0 + 1));
    let broken = store.write(
        Change::new()
            .statement(Statement::new(
                "INSERT INTO probe (id, version) VALUES ('b', 1)",
            ))
            .statement(Statement::new(
                "INSERT INTO probe_part (probe_id, part) VALUES ('b', 1)",
            ))
            .statement(Statement::new(
                "INSERT INTO probe (id, version) VALUES ('taken', 1)",
            ))
            .audit(audit_record("probe.create", "b", T0 + 2))
            .outbox(OutboxMessage {
                topic: "t".into(),
                payload: "{}".into(),
                due_at_us: T0,
            }),
    );
    let last = store.write(insert_probe("c", T0 + 3));
    blocker.execute("COMMIT").await.unwrap();
    marker.await.unwrap();
    let (first, broken, last) = tokio::join!(first, broken, last);
    let (first, last) = (first.unwrap(), last.unwrap());
    match broken.unwrap_err() {
        StoreError::Constraint {
            kind: ConstraintKind::Unique,
            ..
        } => {}
        other => panic!("expected a unique violation, got {other}"),
    }
    // All four changes are queued before the blocker lets the writer go, so the broken change
    // always shares a batch with a good one: with `first` and `last` ([marker] + [first,
    // broken, last]) or, when the writer took `first` with the marker before blocking, with
    // `last` ([marker, first] + [broken, last]). Either way the good ones commit at most one
    // batch apart, and the chain below has no gap.
    assert!(
        last.batch == first.batch || last.batch == first.batch + 1,
        "the good changes committed in neighbouring batches: {} and {}",
        first.batch,
        last.batch
    );
    assert_eq!(first.audit_seqs, vec![3]);
    assert_eq!(
        last.audit_seqs,
        vec![4],
        "the rolled-back change left no gap in the chain"
    );
    assert_eq!(
        jz_testkit::scalar::<i64>(&store, "SELECT COUNT(*) FROM probe").await,
        4
    );
    assert_eq!(
        jz_testkit::scalar::<i64>(
            &store,
            "SELECT COUNT(*) FROM probe_part WHERE probe_id = 'b'"
        )
        .await,
        0
    );
    assert_eq!(
        jz_testkit::scalar::<i64>(&store, "SELECT COUNT(*) FROM outbox").await,
        4
    );
    assert!(
        store
            .audit_entries_for("probe", "b")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.verify_audit_chain().await.unwrap().unwrap().entries,
        4
    );
}

fn bump_version(id: &str, from: i64, at_us: i64) -> Change {
    Change::new()
        .statement(
            Statement::new("UPDATE probe SET version = $1 WHERE id = $2 AND version = $3")
                .bind(from + 1)
                .bind(id)
                .bind(from)
                .expect_rows(1),
        )
        .audit(audit_record("probe.update", id, at_us))
}

async fn stale_updates_are_rejected_and_not_audited(db: &TestDb) {
    let store = opened_with_probe(db).await;
    store.write(insert_probe("p", T0)).await.unwrap();
    store.write(bump_version("p", 1, T0 + 1)).await.unwrap();
    let error = store.write(bump_version("p", 1, T0 + 2)).await.unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::Conflict {
                statement: 0,
                expected: 1,
                affected: 0
            }
        ),
        "{error}"
    );
    assert_eq!(
        jz_testkit::scalar::<i64>(&store, "SELECT version FROM probe WHERE id = 'p'").await,
        2
    );
    assert_eq!(
        store.audit_entries_for("probe", "p").await.unwrap().len(),
        2
    );
    assert_eq!(
        store.verify_audit_chain().await.unwrap().unwrap().entries,
        2
    );
}

/// Takes the database's write lock in another session: the writer waits (it may hold at most
/// the one batch it had started) until the returned connection runs `COMMIT`.
async fn hold_write_lock(db: &TestDb) -> sqlx::pool::PoolConnection<sqlx::Any> {
    let pool = db.raw_pool().await;
    let mut blocker = pool.acquire().await.unwrap();
    let lock: &[&'static str] = match db.location().backend() {
        jz_store::Backend::Sqlite => &["BEGIN IMMEDIATE"],
        jz_store::Backend::Postgres => &["BEGIN", "LOCK TABLE audit_head IN EXCLUSIVE MODE"],
    };
    for sql in lock {
        blocker.execute(*sql).await.unwrap();
    }
    blocker
}

async fn concurrent_changes_share_one_commit(db: &TestDb) {
    let store = opened_with_probe(db).await;
    // Another session holds the write lock, so the writer can start at most one batch while
    // all hundred changes are queued; when the lock goes, the rest commit together.
    let mut blocker = hold_write_lock(db).await;
    let pending: Vec<_> = (0..100)
        .map(|n| store.write(insert_probe(&format!("p{n}"), T0 + n)))
        .collect();
    blocker.execute("COMMIT").await.unwrap();
    let mut seqs = Vec::new();
    let mut batches = Vec::new();
    for answer in pending {
        let committed = answer.await.unwrap();
        batches.push((committed.batch, committed.batch_size));
        seqs.extend(committed.audit_seqs);
    }
    batches.dedup();
    assert!(
        batches.len() <= 2,
        "100 queued changes took {} transactions",
        batches.len()
    );
    assert_eq!(batches.iter().map(|(_, size)| size).sum::<usize>(), 100);
    assert_eq!(seqs, (1..=100).collect::<Vec<i64>>());
    assert_eq!(
        jz_testkit::scalar::<i64>(&store, "SELECT COUNT(*) FROM probe").await,
        100
    );
    assert_eq!(
        store.verify_audit_chain().await.unwrap().unwrap().entries,
        100
    );
}

const ADD_TO_ROW: &str = "INSERT INTO tally_row (k, day, a, b) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (k, day) DO UPDATE SET a = tally_row.a + excluded.a, b = tally_row.b + excluded.b";

fn add_to_row(key: &str, day: i64, a: i64, b: i64) -> Tally {
    Tally::new(ADD_TO_ROW, vec![key.into(), day.into()], vec![a, b])
}

async fn tallies_of_a_commit_are_summed_per_row_without_failed_changes(db: &TestDb) {
    let store = opened_with_probe(db).await;
    store
        .write(Change::new().statement(Statement::new(CREATE_TALLY_ROW)))
        .await
        .unwrap();
    // A row written before: tallies add to it.
    store
        .write(Change::new().tally(add_to_row("all", 1, 1000, 0)))
        .await
        .unwrap();
    let mut blocker = hold_write_lock(db).await;
    let pending: Vec<_> = (0..100_i64)
        .map(|n| {
            // Change 50 inserts p7 again and fails: its tallies must not count.
            let id = if n == 50 {
                "p7".to_owned()
            } else {
                format!("p{n}")
            };
            let parity = if n % 2 == 0 { "even" } else { "odd" };
            let mut change = insert_probe(&id, T0 + n)
                .tally(add_to_row("all", 1, 1, n))
                .tally(add_to_row(parity, 1, 1, 0))
                .tally(add_to_row("all", 2, 1, 0));
            // Additions that cancel within the commit leave no row behind.
            if n == 10 {
                change = change.tally(add_to_row("zero", 1, 1, 0));
            }
            if n == 20 {
                change = change.tally(add_to_row("zero", 1, -1, 0));
            }
            store.write(change)
        })
        .collect();
    blocker.execute("COMMIT").await.unwrap();
    let mut batches = Vec::new();
    for (n, answer) in pending.into_iter().enumerate() {
        match answer.await {
            Ok(committed) => batches.push(committed.batch),
            Err(StoreError::Constraint { .. }) => assert_eq!(n, 50),
            Err(other) => panic!("change {n}: {other}"),
        }
    }
    batches.dedup();
    assert!(batches.len() <= 2, "{} transactions", batches.len());
    store.fold_tallies().await.unwrap();
    let b_sum: i64 = (0..100).filter(|n| *n != 50).sum();
    assert_eq!(tally_row(&store, "all", 1).await, Some((1000 + 99, b_sum)));
    assert_eq!(tally_row(&store, "all", 2).await, Some((99, 0)));
    assert_eq!(tally_row(&store, "even", 1).await, Some((49, 0)));
    assert_eq!(tally_row(&store, "odd", 1).await, Some((50, 0)));
    assert_eq!(tally_row(&store, "zero", 1).await, None);
}

const CREATE_TALLY_ROW: &str = "CREATE TABLE tally_row (k TEXT NOT NULL, day BIGINT NOT NULL, a BIGINT NOT NULL, b BIGINT NOT NULL, PRIMARY KEY (k, day))";

/// `(a, b)` of the tallied row `k`/`day`, read without folding.
async fn tally_row(store: &Store, k: &str, day: i64) -> Option<(i64, i64)> {
    let rows = sqlx::query("SELECT a, b FROM tally_row WHERE k = $1 AND day = $2")
        .bind(k.to_owned())
        .bind(day)
        .fetch_all(store.reader())
        .await
        .unwrap();
    rows.first().map(|r| {
        (
            r.try_get::<i64, _>(0).unwrap(),
            r.try_get::<i64, _>(1).unwrap(),
        )
    })
}

async fn tallies_wait_pending_until_folded_and_survive_an_unclean_stop(db: &TestDb) {
    let store = opened_with_probe(db).await;
    store
        .write(Change::new().statement(Statement::new(CREATE_TALLY_ROW)))
        .await
        .unwrap();
    // Acknowledged tallies are in `tally_pending`, not yet in their rows (the default
    // interval is seconds; nothing asked for a fold).
    for n in 0..20_i64 {
        store
            .write(insert_probe(&format!("p{n}"), T0 + n).tally(add_to_row("all", 1, 1, n)))
            .await
            .unwrap();
    }
    assert!(jz_testkit::scalar::<i64>(&store, "SELECT COUNT(*) FROM tally_pending").await >= 1);
    assert_eq!(tally_row(&store, "all", 1).await, None);
    store.fold_tallies().await.unwrap();
    assert_eq!(tally_row(&store, "all", 1).await, Some((20, 190)));
    assert_eq!(
        jz_testkit::scalar::<i64>(&store, "SELECT COUNT(*) FROM tally_pending").await,
        0
    );
    // A fold with nothing pending changes nothing.
    store.fold_tallies().await.unwrap();
    assert_eq!(tally_row(&store, "all", 1).await, Some((20, 190)));

    // More tallies, then the store is dropped without `close` (no fold on the way out, as
    // after a crash): the next open folds what was pending, once.
    for n in 20..30_i64 {
        store
            .write(insert_probe(&format!("p{n}"), T0 + n).tally(add_to_row("all", 1, 1, n)))
            .await
            .unwrap();
    }
    assert!(jz_testkit::scalar::<i64>(&store, "SELECT COUNT(*) FROM tally_pending").await >= 1);
    drop(store);
    let store = db.open().await;
    assert_eq!(
        jz_testkit::scalar::<i64>(&store, "SELECT COUNT(*) FROM tally_pending").await,
        0,
        "open folds what a crash left pending"
    );
    let b: i64 = (0..30).sum();
    assert_eq!(tally_row(&store, "all", 1).await, Some((30, b)));
    store.close().await;
    let store = db.open().await;
    assert_eq!(tally_row(&store, "all", 1).await, Some((30, b)));
    // `close` folds too.
    store
        .write(Change::new().tally(add_to_row("all", 1, 1, 0)))
        .await
        .unwrap();
    store.close().await;
    let store = db.open().await;
    assert_eq!(tally_row(&store, "all", 1).await, Some((31, b)));
}

async fn pending_tallies_are_folded_when_their_interval_passes(db: &TestDb) {
    let options = StoreOptions {
        writer: WriterOptions {
            tally_fold_interval: std::time::Duration::from_millis(20),
            ..WriterOptions::default()
        },
        ..StoreOptions::default()
    };
    let store = db.open_with(options).await;
    store
        .write(Change::new().statement(Statement::new(CREATE_TALLY_ROW)))
        .await
        .unwrap();
    store
        .write(Change::new().tally(add_to_row("idle", 7, 2, 3)))
        .await
        .unwrap();
    // Nobody writes or reads: the writer folds on its own once the interval has passed.
    // Polled until it shows (bounded), not slept for.
    let waited = std::time::Instant::now();
    while tally_row(&store, "idle", 7).await.is_none() {
        assert!(
            waited.elapsed() < std::time::Duration::from_secs(30),
            "the pending tally was not folded within 30 s"
        );
        tokio::task::yield_now().await;
    }
    assert_eq!(tally_row(&store, "idle", 7).await, Some((2, 3)));
    assert_eq!(
        jz_testkit::scalar::<i64>(&store, "SELECT COUNT(*) FROM tally_pending").await,
        0
    );
}

async fn a_pending_tally_that_breaks_a_constraint_is_left_out_alone(db: &TestDb) {
    let store = db.open().await;
    store
        .write(Change::new().statement(Statement::new(
            "CREATE TABLE tally_checked (k TEXT PRIMARY KEY, a BIGINT NOT NULL CHECK (a >= 0))",
        )))
        .await
        .unwrap();
    let add = |k: &str, a: i64| {
        Tally::new(
            "INSERT INTO tally_checked (k, a) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET a = tally_checked.a + excluded.a",
            vec![k.into()],
            vec![a],
        )
    };
    store
        .write(
            Change::new()
                .tally(add("good", 2))
                .tally(add("bad", -1))
                .tally(add("also good", 5)),
        )
        .await
        .unwrap();
    store.fold_tallies().await.unwrap();
    let rows: Vec<(String, i64)> = sqlx::query("SELECT k, a FROM tally_checked ORDER BY k")
        .fetch_all(store.reader())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.try_get(0).unwrap(), r.try_get(1).unwrap()))
        .collect();
    assert_eq!(rows, vec![("also good".into(), 5), ("good".into(), 2)]);
    assert_eq!(
        jz_testkit::scalar::<i64>(&store, "SELECT COUNT(*) FROM tally_pending").await,
        0
    );
}

async fn one_transaction_per_change_when_batching_is_off(db: &TestDb) {
    let options = StoreOptions {
        writer: WriterOptions {
            max_batch: 1,
            ..WriterOptions::default()
        },
        ..StoreOptions::default()
    };
    let store = db.open_with(options).await;
    store.write(create_probe_table()).await.unwrap();
    let pending: Vec<_> = (0..10)
        .map(|n| store.write(insert_probe(&format!("p{n}"), T0 + n)))
        .collect();
    let mut batches = Vec::new();
    for answer in pending {
        let committed = answer.await.unwrap();
        assert_eq!(committed.batch_size, 1);
        batches.push(committed.batch);
    }
    batches.dedup();
    assert_eq!(batches.len(), 10);
    assert_eq!(
        store.verify_audit_chain().await.unwrap().unwrap().entries,
        10
    );
}

async fn the_audit_log_is_append_only_and_tampering_is_named(db: &TestDb) {
    let store = opened_with_probe(db).await;
    for n in 1..=5 {
        store
            .write(insert_probe(&format!("p{n}"), T0 + n))
            .await
            .unwrap();
    }
    assert_eq!(
        store.verify_audit_chain().await.unwrap().unwrap().entries,
        5
    );
    let pool = db.raw_pool().await;
    let refused = pool
        .execute("UPDATE audit_log SET actor = 'user:mallory' WHERE seq = 3")
        .await;
    assert!(refused.unwrap_err().to_string().contains("append-only"));
    let refused = pool.execute("DELETE FROM audit_log WHERE seq = 5").await;
    assert!(refused.unwrap_err().to_string().contains("append-only"));

    // Someone with the database's owner rights removes the guard and edits entry 3.
    let unguard: &[&'static str] = match db.location().backend() {
        jz_store::Backend::Sqlite => &[
            "DROP TRIGGER audit_log_no_update",
            "DROP TRIGGER audit_log_no_delete",
        ],
        jz_store::Backend::Postgres => &["ALTER TABLE audit_log DISABLE TRIGGER USER"],
    };
    for sql in unguard {
        pool.execute(*sql).await.unwrap();
    }
    pool.execute("UPDATE audit_log SET actor = 'user:mallory' WHERE seq = 3")
        .await
        .unwrap();
    let broken = store.verify_audit_chain().await.unwrap().unwrap_err();
    assert_eq!(broken.seq, 3);
    assert!(
        matches!(broken.reason, BreakReason::HashMismatch { .. }),
        "{broken}"
    );
    assert!(
        broken
            .to_string()
            .starts_with("audit chain broken at entry #3"),
        "{broken}"
    );

    pool.execute("UPDATE audit_log SET actor = 'user:test' WHERE seq = 3")
        .await
        .unwrap();
    assert!(
        store.verify_audit_chain().await.unwrap().is_ok(),
        "restored"
    );
    pool.execute("DELETE FROM audit_log WHERE seq = 5")
        .await
        .unwrap();
    let broken = store.verify_audit_chain().await.unwrap().unwrap_err();
    assert_eq!(broken.seq, 5);
    assert!(
        matches!(
            broken.reason,
            BreakReason::Truncated {
                last_seq: 4,
                head_seq: 5
            }
        ),
        "{broken}"
    );
}

/// Fails the first delivery of topic `flaky`; records every delivery it sees.
#[derive(Debug, Default)]
struct Recorder {
    seen: Mutex<Vec<i64>>,
    close_store_after_delivery: Option<Store>,
}

impl OutboxHandler for Recorder {
    async fn deliver(&self, item: &OutboxItem) -> Result<(), String> {
        self.seen.lock().unwrap().push(item.id);
        if item.topic == "flaky" && item.attempts == 0 {
            return Err("receiver unavailable".into());
        }
        if let Some(store) = &self.close_store_after_delivery {
            // The process "dies" after the handler acted but before the delivery was recorded.
            store.close().await;
        }
        Ok(())
    }
}

fn message(topic: &str) -> OutboxMessage {
    OutboxMessage {
        topic: topic.into(),
        payload: "{}".into(),
        due_at_us: T0,
    }
}

async fn outbox_retries_failures_and_redelivers_after_a_crash(db: &TestDb) {
    let store = db.open().await;
    store
        .write(
            Change::new()
                .outbox(message("steady"))
                .outbox(message("flaky"))
                .outbox(message("steady")),
        )
        .await
        .unwrap();
    let retry = RetryPolicy {
        first_delay_us: 1_000_000,
        max_delay_us: 60_000_000,
    };
    let relay = OutboxRelay::new(store.clone(), Recorder::default(), retry);
    let round = relay.run_once(T0).await.unwrap();
    assert_eq!((round.delivered, round.failed), (2, 1));
    assert_eq!(store.outbox_pending().await.unwrap(), 1);
    let round = relay.run_once(T0 + 999_999).await.unwrap();
    assert_eq!(
        (round.delivered, round.failed),
        (0, 0),
        "not retried before the backoff"
    );
    let round = relay.run_once(T0 + 1_000_000).await.unwrap();
    assert_eq!((round.delivered, round.failed), (1, 0));
    assert_eq!(store.outbox_pending().await.unwrap(), 0);

    // A crash between delivering and recording the delivery delivers the message again.
    store
        .write(Change::new().outbox(message("once")))
        .await
        .unwrap();
    let dying = OutboxRelay::new(
        store.clone(),
        Recorder {
            close_store_after_delivery: Some(store.clone()),
            ..Recorder::default()
        },
        retry,
    );
    assert!(matches!(
        dying.run_once(T0 + 2_000_000).await,
        Err(StoreError::Closed)
    ));
    let first_seen = relay_seen(&dying);
    let store = db.open().await;
    let relay = OutboxRelay::new(store.clone(), Recorder::default(), retry);
    let round = relay.run_once(T0 + 3_000_000).await.unwrap();
    assert_eq!(round.delivered, 1);
    assert_eq!(
        relay_seen(&relay),
        first_seen,
        "the same message id was delivered again"
    );
    assert_eq!(store.outbox_pending().await.unwrap(), 0);
}

fn relay_seen(relay: &OutboxRelay<Recorder>) -> Vec<i64> {
    relay.handler().seen.lock().unwrap().clone()
}

async fn readers_cannot_write(db: &TestDb) {
    let store = db.open().await;
    let refused = store
        .reader()
        .execute("INSERT INTO outbox (topic, payload, created_at_us, next_attempt_at_us) VALUES ('x', '{}', 0, 0)")
        .await;
    assert!(refused.is_err(), "a read connection wrote");
    assert_eq!(store.outbox_pending().await.unwrap(), 0);
}

async fn writes_after_close_are_refused(db: &TestDb) {
    let store = opened_with_probe(db).await;
    let queued = store.write(insert_probe("queued", T0));
    store.close().await;
    queued
        .await
        .expect("a change queued before close is still committed");
    let refused = store.write(insert_probe("late", T0)).await;
    assert!(matches!(refused, Err(StoreError::Closed)));
    let store = db.open().await;
    assert_eq!(
        jz_testkit::scalar::<i64>(&store, "SELECT COUNT(*) FROM probe").await,
        1
    );
}

async fn durability_settings_are_full(db: &TestDb) {
    let store = db.open().await;
    let durability = store.durability().await.unwrap();
    let expected: &[(&str, &str)] = match store.backend() {
        jz_store::Backend::Sqlite => &[
            ("journal_mode", "wal"),
            ("synchronous", "full"),
            ("foreign_keys", "on"),
        ],
        jz_store::Backend::Postgres => &[("fsync", "on"), ("synchronous_commit", "on")],
    };
    let got: Vec<(&str, &str)> = durability
        .settings
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(got, expected);
}

async fn bulk_reads_answer_every_row_and_type(db: &TestDb) {
    let store = db.open().await;
    let mut change = Change::new().statement(Statement::new(
        "CREATE TABLE bulk (n BIGINT NOT NULL, x DOUBLE PRECISION, label TEXT)",
    ));
    for n in 0..1000i64 {
        change = change.statement(
            Statement::new("INSERT INTO bulk (n, x, label) VALUES ($1, $2, $3)")
                .bind(n)
                .bind(if n % 2 == 0 {
                    Some(n as f64 / 4.0)
                } else {
                    None
                })
                .bind(if n % 3 == 0 {
                    None
                } else {
                    Some(format!("网格{n}"))
                }),
        );
    }
    store.write(change).await.unwrap();
    let rows = store
        .read_all("SELECT n, x, label FROM bulk ORDER BY n")
        .await
        .unwrap();
    assert_eq!(rows.len(), 1000);
    assert_eq!(
        rows[6],
        vec![Arg::Int(Some(6)), Arg::Real(Some(1.5)), Arg::Text(None)]
    );
    assert_eq!(rows[7][0], Arg::Int(Some(7)));
    assert_eq!(
        rows[7][1],
        Arg::Text(None),
        "a NULL reads the same on both engines"
    );
    assert_eq!(rows[7][2], Arg::Text(Some("网格7".into())));
    let error = store.read_all("SELECT nothing FROM nowhere").await;
    assert!(error.is_err());
}

async fn point_reads_see_every_acknowledged_write(db: &TestDb) {
    let store = db.open().await;
    let change = Change::new()
        .statement(Statement::new(
            "CREATE TABLE point (id TEXT PRIMARY KEY, version BIGINT NOT NULL, x DOUBLE PRECISION, note TEXT)",
        ))
        .statement(
            Statement::new("INSERT INTO point (id, version, x, note) VALUES ($1, 0, $2, NULL)")
                .bind("p1")
                .bind(2.5),
        );
    store.write(change).await.unwrap();
    const READ: &str = "SELECT version, x, note, id FROM point WHERE version >= $2 AND id = $1";
    let row = store
        .read_row(READ, &[Arg::from("p1"), Arg::from(0i64)])
        .await
        .unwrap()
        .expect("the row");
    assert_eq!(
        row,
        vec![
            Arg::Int(Some(0)),
            Arg::Real(Some(2.5)),
            Arg::Text(None),
            Arg::Text(Some("p1".into()))
        ],
        "each cell by its type, NULL as Arg::Text(None), parameters bound by number"
    );
    assert_eq!(row[0].as_int("version").unwrap(), Some(0));
    assert_eq!(row[2].as_int("note").unwrap(), None, "NULL is None");
    let wrong = row[3].as_int("id").unwrap_err().to_string();
    assert!(
        wrong.contains("column id: expected an integer, found text"),
        "{wrong}"
    );
    assert_eq!(
        row[3].clone().into_text("id").unwrap().as_deref(),
        Some("p1")
    );
    assert!(
        store
            .read_row(READ, &[Arg::from("nobody"), Arg::from(0i64)])
            .await
            .unwrap()
            .is_none()
    );
    // Every write is seen by the next read, from many tasks at once.
    for version in 1..=50i64 {
        store
            .write(
                Change::new().statement(
                    Statement::new("UPDATE point SET version = $2 WHERE id = $1")
                        .bind("p1")
                        .bind(version)
                        .expect_rows(1),
                ),
            )
            .await
            .unwrap();
        let mut readers = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let store = store.clone();
            readers.spawn(async move {
                store
                    .read_row(READ, &[Arg::from("p1"), Arg::from(0i64)])
                    .await
                    .unwrap()
                    .expect("the row")[0]
                    .as_int("version")
                    .unwrap()
            });
        }
        while let Some(seen) = readers.join_next().await {
            assert_eq!(seen.unwrap(), Some(version));
        }
    }
    // Point reads cannot write, and a wrong number of arguments is refused.
    assert!(
        store
            .read_row(
                "DELETE FROM point WHERE id = $1 RETURNING id",
                &[Arg::from("p1")]
            )
            .await
            .is_err(),
        "a point read wrote"
    );
    assert!(store.read_row(READ, &[Arg::from("p1")]).await.is_err());
    assert!(
        store
            .read_row("SELECT nothing FROM nowhere", &[])
            .await
            .is_err()
    );
    let still = store
        .read_row(READ, &[Arg::from("p1"), Arg::from(0i64)])
        .await
        .unwrap();
    assert!(still.is_some(), "the row is still there");
    store.close().await;
}

/// Version 12 moved a case's timeline into its audit entries. A database upgraded from 11 keeps
/// the steps written before in `case_event` and its Open311 updates; the `case_step` view shows
/// the old rows beside the audit entries that carry a step (and not the case's other entries).
async fn timeline_steps_from_before_version_12_stay_beside_the_audit_entries(db: &TestDb) {
    let backend = db.location().backend();
    let pool = db.raw_pool().await;
    let all = jz_store::migrate::migrations_for(backend);
    assert_eq!(all[11].version, 12);
    migrate(&pool, backend, "test", &all[..11], T0)
        .await
        .unwrap();
    for sql in [
        "INSERT INTO case_file (id, state, version, channel, urgency, lon, lat, grid_code, community_code, street_code, district_code, level, overdue, reporters, reported_at_us, updated_at_us, data)
         VALUES ('c1', 'dispatched', 3, 'web', 'normal', 121.5, 31.2, 'g1', '310101001001', '310101001000', '310101000000', 'street', 0, 1, 100, 200, '{}')",
        "INSERT INTO case_event (id, case_id, kind, at_us, actor, role, from_state, to_state, note, lon, lat, photos, detail)
         VALUES ('e1', 'c1', 'reported', 100, 'user:ann', 'citizen', NULL, 'reported', NULL, 121.5, 31.25, '[\"p1\"]', '{\"channel\":\"web\"}')",
        "INSERT INTO case_event (id, case_id, kind, at_us, actor, role, from_state, to_state, note, lon, lat, photos, detail)
         VALUES ('e2', 'c1', 'note_added', 200, 'key:fms', 'external_system', 'reported', 'reported', 'on its way', NULL, NULL, NULL, '{\"source\":\"open311\"}')",
        "INSERT INTO open311_update (api_key_id, update_id, case_id, event_id, at_us) VALUES ('k1', 'u1', 'c1', 'e2', 200)",
    ] {
        pool.execute(sqlx::AssertSqlSafe(sql)).await.unwrap();
    }
    pool.close().await;

    let store = db.open().await;
    assert_eq!(store.schema_version(), all.len() as i64);
    let step = |id: &str, at_us: i64, action: &str, after: &str| jz_domain::audit::AuditRecord {
        at_us,
        actor: "user:bo".into(),
        actor_role: "handler".into(),
        action: action.into(),
        subject_kind: "case".into(),
        subject_id: id.into(),
        origin: "test".into(),
        before: None,
        after: Some(after.into()),
    };
    store
        .write(
            Change::new()
                .audit(step(
                    "c1",
                    300,
                    "case.accepted",
                    r#"{"state":"handling","steps":[{"detail":{"department":"d1"},"from":"dispatched","id":"e3","kind":"accepted","lat":31.123456789,"lon":121.987654321,"to":"accepted"},{"actor":"system:intake","detail":{},"from":"accepted","id":"e4","kind":"handling_started","note":"mine","photos":["p2","p3"],"role":"system","to":"handling"}]}"#,
                ))
                .audit(step("c1", 400, "case.reporters_read", r#"{"state":"accepted"}"#))
                .audit(step("c1", 450, "case.reporters_read", "null"))
                // A version-12 Open311 update: its event is a step, not a case_event row.
                .statement(Statement::new(
                    "INSERT INTO open311_update (api_key_id, update_id, case_id, event_id, at_us) VALUES ('k1', 'u2', 'c1', 'e5', 500)",
                ))
                .audit(step(
                    "c1",
                    500,
                    "case.note_added",
                    r#"{"state":"handling","steps":[{"detail":null,"from":"handling","id":"e5","kind":"note_added","to":"handling"}]}"#,
                )),
        )
        .await
        .unwrap();

    let rows = store
        .read_all(
            "SELECT id, case_id, kind, at_us, actor, role, from_state, to_state, note, lon, lat, photos, detail FROM case_step WHERE case_id = 'c1' ORDER BY at_us, id",
        )
        .await
        .unwrap();
    let text = |cell: &Arg| cell.clone().into_text("cell").unwrap();
    let number = |cell: &Arg| match cell {
        Arg::Real(x) => *x,
        Arg::Text(None) => None,
        other => panic!("not a real: {other:?}"),
    };
    let json =
        |cell: &Arg| text(cell).map(|t| serde_json::from_str::<serde_json::Value>(&t).unwrap());
    let ids: Vec<_> = rows.iter().map(|r| text(&r[0]).unwrap()).collect();
    assert_eq!(
        ids,
        ["e1", "e2", "e3", "e4", "e5"],
        "the reporters' reads are no steps"
    );
    // The old rows, as they were.
    assert_eq!(text(&rows[0][2]).as_deref(), Some("reported"));
    assert_eq!(text(&rows[0][6]), None);
    assert_eq!(number(&rows[0][10]), Some(31.25));
    assert_eq!(json(&rows[0][11]), Some(serde_json::json!(["p1"])));
    assert_eq!(text(&rows[1][8]).as_deref(), Some("on its way"));
    // Steps from an audit entry: every column, numbers exact; the entry's actor, role and time
    // unless the step names its own.
    let cells = |row: &[Arg]| {
        (
            text(&row[1]),
            text(&row[2]),
            row[3].as_int("at_us").unwrap(),
            text(&row[4]),
            text(&row[5]),
            text(&row[6]),
            text(&row[7]),
            text(&row[8]),
        )
    };
    let some = |t: &str| Some(t.to_owned());
    assert_eq!(
        cells(&rows[2]),
        (
            some("c1"),
            some("accepted"),
            Some(300),
            some("user:bo"),
            some("handler"),
            some("dispatched"),
            some("accepted"),
            None
        )
    );
    assert_eq!(number(&rows[2][9]), Some(121.987654321));
    assert_eq!(number(&rows[2][10]), Some(31.123456789));
    assert_eq!(json(&rows[2][11]), None);
    assert_eq!(
        json(&rows[2][12]),
        Some(serde_json::json!({"department": "d1"}))
    );
    assert_eq!(
        cells(&rows[3]),
        (
            some("c1"),
            some("handling_started"),
            Some(300),
            some("system:intake"),
            some("system"),
            some("accepted"),
            some("handling"),
            some("mine")
        )
    );
    assert_eq!((number(&rows[3][9]), number(&rows[3][10])), (None, None));
    assert_eq!(json(&rows[3][11]), Some(serde_json::json!(["p2", "p3"])));
    assert_eq!(json(&rows[3][12]), Some(serde_json::json!({})));
    // A null detail is JSON null.
    assert_eq!(json(&rows[4][12]), Some(serde_json::Value::Null));
    // By date, the steps of a time alone (the Open311 updates' query).
    let at_300 = store
        .read_all("SELECT id FROM case_step WHERE at_us >= 300 AND at_us < 301 ORDER BY at_us, id")
        .await
        .unwrap();
    assert_eq!(at_300.len(), 2);
    assert_eq!(
        jz_testkit::scalar::<i64>(
            &store,
            "SELECT COUNT(*) FROM open311_update WHERE case_id = 'c1'"
        )
        .await,
        2
    );
    store.close().await;
}
