//! The crash test: a child process writes through the group-commit writer under concurrent
//! load and is killed with SIGKILL at random moments, many times. After each kill every change
//! it acknowledged is present, no change is half-applied, and the audit chain verifies.

use std::collections::HashSet;

use jz_store::{Change, Location, Statement, Store, StoreOptions};
use jz_testkit::TestDb;
use sqlx::Row;
use tokio::io::{AsyncBufReadExt, BufReader};

const WRITERS: &str = "16";

/// A small deterministic generator (xorshift), so a failing seed can be replayed.
struct Moments(u64);

impl Moments {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn location_arg(location: &Location) -> String {
    match location {
        Location::Sqlite { path } => format!("sqlite:{}", path.display()),
        Location::Postgres { url } => url.clone(),
    }
}

async fn crash_cycles(db: &TestDb, cycles: u64, seed: u64) {
    let store = db.open().await;
    let mut schema = Change::new();
    for sql in [
        "CREATE TABLE IF NOT EXISTS crash_write (id TEXT PRIMARY KEY, run BIGINT NOT NULL, writer BIGINT NOT NULL, n BIGINT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS crash_part (write_id TEXT NOT NULL, part BIGINT NOT NULL, PRIMARY KEY (write_id, part))",
        "CREATE TABLE IF NOT EXISTS crash_tally (run BIGINT NOT NULL, writer BIGINT NOT NULL, writes BIGINT NOT NULL, PRIMARY KEY (run, writer))",
    ] {
        schema = schema.statement(Statement::new(sql));
    }
    store.write(schema).await.unwrap();
    store.close().await;

    let mut moments = Moments(seed);
    let mut acknowledged: HashSet<String> = HashSet::new();
    for cycle in 0..cycles {
        // Kill after this many acknowledgements; 0 kills before the child is even ready.
        let kill_after = moments.next() % 600;
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_jz-crash-writer"))
            .arg(location_arg(db.location()))
            .arg(cycle.to_string())
            .arg(WRITERS)
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the crash writer starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut acks_this_cycle = 0u64;
        if kill_after == 0 {
            child.start_kill().unwrap();
        }
        // Read to the end: acknowledgements printed before the kill are still in the pipe.
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(id) = line.strip_prefix("ack ") {
                acknowledged.insert(id.to_owned());
                acks_this_cycle += 1;
                if acks_this_cycle == kill_after {
                    child.start_kill().unwrap();
                }
            } else if let Some(error) = line.strip_prefix("err ") {
                panic!("cycle {cycle}: a write failed before the kill: {error}");
            }
        }
        let status = child.wait().await.unwrap();
        assert!(
            !status.success(),
            "cycle {cycle}: the child was not killed: {status}"
        );
        check_after_crash(db, cycle, &acknowledged).await;
    }
    assert!(
        acknowledged.len() > 100,
        "too few writes were acknowledged to prove anything"
    );
}

async fn check_after_crash(db: &TestDb, cycle: u64, acknowledged: &HashSet<String>) {
    let store = Store::open(db.location(), StoreOptions::default())
        .await
        .unwrap();
    let present: HashSet<String> = sqlx::query("SELECT id FROM crash_write")
        .fetch_all(store.reader())
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get(0).unwrap())
        .collect();
    let lost: Vec<&String> = acknowledged.difference(&present).collect();
    assert!(
        lost.is_empty(),
        "cycle {cycle}: {} acknowledged writes lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    let writes = present.len() as i64;
    let half_applied = jz_testkit::scalar::<i64>(
        &store,
        "SELECT COUNT(*) FROM crash_write w WHERE (SELECT COUNT(*) FROM crash_part p WHERE p.write_id = w.id) <> 2",
    )
    .await;
    assert_eq!(half_applied, 0, "cycle {cycle}: writes without both parts");
    assert_eq!(
        jz_testkit::scalar::<i64>(&store, "SELECT COUNT(*) FROM crash_part").await,
        2 * writes,
        "cycle {cycle}: orphan parts"
    );
    let unaudited = jz_testkit::scalar::<i64>(
        &store,
        "SELECT COUNT(*) FROM crash_write w WHERE NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.subject_kind = 'crash_write' AND a.subject_id = w.id)",
    )
    .await;
    assert_eq!(
        unaudited, 0,
        "cycle {cycle}: writes without their audit entry"
    );
    assert_eq!(
        jz_testkit::scalar::<i64>(&store, "SELECT COUNT(*) FROM audit_log").await,
        writes,
        "cycle {cycle}: audit entries without their write"
    );
    assert_eq!(
        jz_testkit::scalar::<i64>(&store, "SELECT COUNT(*) FROM outbox WHERE topic = 'crash'")
            .await,
        writes,
        "cycle {cycle}: outbox rows"
    );
    // The writes' tallies: pending at the kill or folded before it, each counted exactly once
    // (open folds what the killed writer left pending).
    let miscounted = jz_testkit::scalar::<i64>(
        &store,
        "SELECT COUNT(*) FROM (SELECT run, writer, COUNT(*) AS n FROM crash_write GROUP BY run, writer) w \
         FULL OUTER JOIN crash_tally t ON t.run = w.run AND t.writer = w.writer \
         WHERE COALESCE(t.writes, 0) <> COALESCE(w.n, 0)",
    )
    .await;
    assert_eq!(
        miscounted, 0,
        "cycle {cycle}: tallied write counts differ from the writes present"
    );
    let chain = store.verify_audit_chain().await.unwrap();
    assert!(chain.is_ok(), "cycle {cycle}: {}", chain.unwrap_err());
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_survives_sigkill_at_random_moments() {
    crash_cycles(&TestDb::sqlite(), 16, 0x5EED_0001).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_survives_sigkill_at_random_moments() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    crash_cycles(&db, 8, 0x5EED_0002).await;
}
