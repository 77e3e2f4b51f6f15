//! The write connections of the two engines behind one small interface the writer drives.
//!
//! The SQL is the same for both (the portable dialect with `$1…$N` placeholders); only the
//! driver differs. SQLite writes go through rusqlite on the writer's own thread — a statement
//! costs about 1 µs there against about 20 µs through an async driver's worker thread, and the
//! writer is the one hot path every acknowledged change takes. PostgreSQL writes go through sqlx.

use jz_domain::audit::GENESIS_HASH;
use rusqlite::ffi;
use sqlx::{Any, AnyPool, Row, Transaction};

use crate::change::Arg;
use crate::error::{ConstraintKind, StoreError};

/// The audit chain's head while a batch extends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    pub seq: i64,
    pub hash: String,
}

/// The durability settings the write connection actually runs with, read back from the
/// database (not from our configuration), so a health check can prove them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Durability {
    /// SQLite: `journal_mode`, `synchronous`, `foreign_keys`; PostgreSQL: `fsync`,
    /// `synchronous_commit`.
    pub settings: Vec<(String, String)>,
}

/// One engine's write connection, driven by the writer one transaction at a time.
pub(crate) trait WriteConnection: Send {
    fn begin(&mut self) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn commit(&mut self) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn rollback(&mut self) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Runs one statement; answers the rows it affected. Constraint violations come back as
    /// [`StoreError::Constraint`].
    fn execute(
        &mut self,
        sql: &str,
        args: &[Arg],
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// Reads the audit head and, where the engine has row locks, locks it until commit.
    fn lock_head(&mut self) -> impl Future<Output = Result<Head, StoreError>> + Send;
    fn durability(&mut self) -> impl Future<Output = Result<Durability, StoreError>> + Send;
    /// Every row of `sql` (no parameters, outside a transaction), its first column as bytes.
    fn read_blobs(
        &mut self,
        sql: &str,
    ) -> impl Future<Output = Result<Vec<Vec<u8>>, StoreError>> + Send;
    fn close(self) -> impl Future<Output = ()> + Send;
}

const LOCK_HEAD: &str = "UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, hash";

/// The embedded engine's write connection.
#[derive(Debug)]
pub(crate) struct SqliteWriter {
    connection: rusqlite::Connection,
    /// Per SQL text: the SQLite parameter index of `$1`, `$2`, … (SQLite's own name lookup scans
    /// every parameter, which is quadratic for multi-row inserts, so it is done once per text).
    /// Hashed with foldhash: SipHash over the SQL texts was 8 % of the writer's CPU.
    parameter_indexes: foldhash::HashMap<String, Vec<Option<usize>>>,
    /// Wakes the checkpointer after a commit; dropping it stops the checkpointer.
    checkpoint: Option<std::sync::mpsc::SyncSender<()>>,
    checkpointer: Option<std::thread::JoinHandle<()>>,
    /// Set by the checkpointer when the WAL is past its limit and checkpointed but for a few
    /// frames: the writer then lets it start over (see `begin`).
    restart_wanted: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Commits since the page cache was last sized (see [`SqliteWriter::size_cache`]).
    commits_since_sized: u32,
    /// Whether the cache has its large size (the database has passed 1 GiB).
    large_cache: bool,
}

/// Checkpoints the WAL into the database file on a connection of its own, so the writer's
/// commits never wait for a checkpoint (SQLite's automatic checkpoint runs inside the commit
/// that crosses the threshold). PASSIVE checkpoints run beside the writer, one more when it
/// closes.
///
/// Under steady writes a PASSIVE checkpoint never lets the WAL start over: SQLite restarts it
/// only when a write transaction begins with every frame already checkpointed, and the writer
/// commits again before the checkpointer has caught up. Left alone it grows without bound
/// (seen: 11 GB in four minutes of simulation). Past the limit (`StoreOptions::wal_limit_bytes`)
/// the checkpointer asks the writer to checkpoint the few frames still missing just before its
/// next transaction, which then starts the WAL over unless a reader still reads an old snapshot
/// (it is asked again after the next checkpoint). Only past twice the limit (readers that
/// never let go) does the checkpointer force it with RESTART, which holds the writer until
/// readers move on. Forcing it every time (TRUNCATE, then RESTART) held the writer 1.2–1.8 s
/// and 50–220 ms per limit, enough to break the intake's p99 target.
fn run_checkpointer(
    path: std::path::PathBuf,
    wake: std::sync::mpsc::Receiver<()>,
    limit: u64,
    interval: std::time::Duration,
    restart_wanted: &std::sync::atomic::AtomicBool,
) {
    let connection = match rusqlite::Connection::open(&path) {
        Ok(connection) => connection,
        Err(error) => {
            tracing::warn!(%error, "the WAL checkpointer cannot open the database; checkpoints fall back to the writer");
            return;
        }
    };
    let _ = connection.busy_handler(Some(wait_briefly));
    let frame_bytes = connection
        .query_row("PRAGMA page_size", [], |row| row.get::<_, i64>(0))
        .map_or(4096, |size| size.max(512) as u64)
        + 24;
    // At most one checkpoint per interval (`StoreOptions::checkpoint_interval`): commits
    // arriving meanwhile are covered by the next. While the WAL grows fast (a saturated
    // server), the pause is longer: a page many commits rewrite is copied once per checkpoint.
    let mut rate = WalRate::new(frame_bytes);
    while wake.recv().is_ok() {
        let started = std::time::Instant::now();
        let (frames, done) = checkpoint_wal(&connection, "PASSIVE");
        let pause = rate.pause_after(frames, started, interval);
        let bytes = frames.saturating_mul(frame_bytes);
        if bytes > limit.saturating_mul(2) {
            checkpoint_wal(&connection, "RESTART");
        } else if bytes > limit && done + CAUGHT_UP_FRAMES >= frames {
            restart_wanted.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        while let Ok(()) = wake.try_recv() {}
        if let Some(rest) = pause.checked_sub(started.elapsed()) {
            std::thread::park_timeout(rest);
        }
    }
    checkpoint_wal(&connection, "PASSIVE");
}

/// How fast the WAL grows, over windows of at least [`WalRate::WINDOW`], and the pause between
/// checkpoints that follows from it.
///
/// At 1,000 reports/s the WAL grows ≈ 12 MB/s and the configured pause (20 ms) keeps each
/// checkpoint's sync small, which the commits' syncs wait behind (the paced p99). A saturated
/// intake grows it ≈ 100 MB/s; every checkpoint then copies the pages the last few commits
/// rewrote (the end pages of every appended table and index, the hot index pages) again, and a
/// pause of [`WalRate::BUSY_PAUSE`] copies each of them once for many commits: 9.1 → 6.0 KB
/// written into the database file per report (`jingzhi bench --only intake`). The rate is the
/// WAL's growth over the window, not the size of a transaction, so one slow commit that makes the
/// next transaction large does not switch it (a pause chosen by transaction size fed itself).
struct WalRate {
    frame_bytes: u64,
    since: std::time::Instant,
    frames_then: u64,
    grown: u64,
    busy: bool,
}

impl WalRate {
    const WINDOW: std::time::Duration = std::time::Duration::from_millis(100);
    /// WAL growth past which the checkpointer takes the longer pause.
    const BUSY_BYTES_PER_S: f64 = 32.0 * 1024.0 * 1024.0;
    const BUSY_PAUSE: std::time::Duration = std::time::Duration::from_millis(200);

    fn new(frame_bytes: u64) -> WalRate {
        WalRate {
            frame_bytes,
            since: std::time::Instant::now(),
            frames_then: 0,
            grown: 0,
            busy: false,
        }
    }

    /// Counts the frames the WAL holds now (fewer than before: it started over meanwhile) and
    /// answers the pause before the next checkpoint.
    fn pause_after(
        &mut self,
        frames: u64,
        now: std::time::Instant,
        interval: std::time::Duration,
    ) -> std::time::Duration {
        self.grown += if frames >= self.frames_then {
            frames - self.frames_then
        } else {
            frames
        };
        self.frames_then = frames;
        let elapsed = now.duration_since(self.since);
        if elapsed >= Self::WINDOW {
            let bytes_per_s = (self.grown * self.frame_bytes) as f64 / elapsed.as_secs_f64();
            self.busy = bytes_per_s > Self::BUSY_BYTES_PER_S;
            self.since = now;
            self.grown = 0;
        }
        if self.busy {
            interval.max(Self::BUSY_PAUSE)
        } else {
            interval
        }
    }
}

/// Frames a PASSIVE checkpoint may leave behind (a commit landing meanwhile, a reader's
/// snapshot) for the writer still to checkpoint them cheaply before starting the WAL over.
const CAUGHT_UP_FRAMES: u64 = 64;

/// Runs a checkpoint; answers the frames the WAL holds (the part in use since it last started
/// over; the file itself is never shorter) and how many of them are checkpointed.
fn checkpoint_wal(connection: &rusqlite::Connection, mode: &str) -> (u64, u64) {
    connection
        .query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |row| {
            Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
        })
        .map_or_else(
            |error| {
                tracing::warn!(%error, "WAL checkpoint failed");
                (0, 0)
            },
            |(frames, done)| (frames.max(0) as u64, done.max(0) as u64),
        )
}

/// Waits for a lock held by another connection in 1 ms steps, for up to 10 s. SQLite's own
/// busy timeout sleeps in growing steps up to 100 ms: when the checkpointer truncated the WAL
/// (it waits for readers, and writers wait for it) the writer overslept, and a run of 1,000
/// reports/s saw one stall of a second (p99 1,035 ms; 17 ms with the truncation off).
fn wait_briefly(attempt: i32) -> bool {
    if attempt >= 10_000 {
        return false;
    }
    std::thread::sleep(std::time::Duration::from_millis(1));
    true
}

pub(crate) const SQLITE_WRITER_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;";

impl SqliteWriter {
    pub(crate) fn open(
        path: &std::path::Path,
        wal_limit_bytes: u64,
        checkpoint_interval: std::time::Duration,
    ) -> Result<SqliteWriter, rusqlite::Error> {
        // WAL writes gathered into one write per commit (see `wal_vfs`).
        let vfs = crate::wal_vfs::register().map_err(|code| {
            rusqlite::Error::SqliteFailure(
                ffi::Error::new(code),
                Some("registering the writer's VFS".into()),
            )
        })?;
        let connection =
            rusqlite::Connection::open_with_flags_and_vfs(path, Default::default(), vfs)?;
        connection.execute_batch(SQLITE_WRITER_PRAGMAS)?;
        // The VFS is sound only while every commit syncs the WAL before publishing it.
        let synchronous: i64 = connection.query_row("PRAGMA synchronous", [], |row| row.get(0))?;
        if synchronous < 2 {
            return Err(rusqlite::Error::SqliteFailure(
                ffi::Error::new(ffi::SQLITE_MISUSE),
                Some(format!(
                    "the writer needs synchronous = FULL on the WAL-gathering VFS (got {synchronous})"
                )),
            ));
        }
        connection.busy_handler(Some(wait_briefly))?;
        // Checkpoints run on their own thread (see `run_checkpointer`).
        connection.execute_batch("PRAGMA wal_autocheckpoint = 0;")?;
        connection.execute_batch(SqliteWriter::SMALL_CACHE)?;
        connection.set_prepared_statement_cache_capacity(256);
        let (checkpoint, wake) = std::sync::mpsc::sync_channel(1);
        let owned = path.to_owned();
        let restart_wanted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let wanted = restart_wanted.clone();
        let checkpointer = std::thread::Builder::new()
            .name("jingzhi-checkpoint".into())
            .spawn(move || {
                crate::priority::lower_this_thread(crate::priority::BACKGROUND_NICE);
                run_checkpointer(owned, wake, wal_limit_bytes, checkpoint_interval, &wanted)
            })
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        let mut writer = SqliteWriter {
            connection,
            parameter_indexes: foldhash::HashMap::default(),
            checkpoint: Some(checkpoint),
            checkpointer: Some(checkpointer),
            restart_wanted,
            commits_since_sized: 0,
            large_cache: false,
        };
        writer.size_cache()?;
        Ok(writer)
    }

    /// Page cache sizes: while the database is under 1 GiB, and past it.
    const SMALL_CACHE: &str = "PRAGMA cache_size = -16384";
    const LARGE_CACHE: &str = "PRAGMA cache_size = -65536";

    /// Sizes the page cache for the database's size: 16 MB under 1 GiB, 64 MB past it.
    ///
    /// Under 1 GiB every commit walks the whole cache: SQLite's B-tree balancing borrows the
    /// page number of the 1 GiB lock byte as a temporary, so the cache truncation at commit
    /// takes its slow path (a scan of every cached page). With 64 MB that was 13 % of the
    /// writer's CPU per intake report. Past 1 GiB the walk stops, and the cache keeps the
    /// 64 MB the simulated days were measured with (16 MB there: equal in a 100 s run on a
    /// 2.9 GB copy, a day with more system time — 658 s against 601 s — on a noisy evening).
    fn size_cache(&mut self) -> Result<(), rusqlite::Error> {
        self.commits_since_sized = 0;
        let bytes: i64 = self.connection.query_row(
            "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
            [],
            |row| row.get(0),
        )?;
        let large = bytes >= 1 << 30;
        if large != self.large_cache {
            self.connection.execute_batch(if large {
                Self::LARGE_CACHE
            } else {
                Self::SMALL_CACHE
            })?;
            self.large_cache = large;
        }
        Ok(())
    }

    fn run(&mut self, sql: &str, args: &[Arg]) -> Result<u64, rusqlite::Error> {
        let mut statement = self.connection.prepare_cached(sql)?;
        let indexes = match self.parameter_indexes.get(sql) {
            Some(indexes) => indexes,
            None => {
                if self.parameter_indexes.len() >= 1024 {
                    // SQL texts built at run time must not grow the map without bound.
                    self.parameter_indexes.clear();
                }
                // `$N` is a named parameter to SQLite; its index is its order of first appearance.
                let indexes = (1..=statement.parameter_count())
                    .map(|number| statement.parameter_index(&format!("${number}")))
                    .collect::<Result<Vec<_>, _>>()?;
                self.parameter_indexes
                    .entry(sql.to_owned())
                    .or_insert(indexes)
            }
        };
        for (position, arg) in args.iter().enumerate() {
            let Some(Some(index)) = indexes.get(position).copied() else {
                continue;
            };
            bind_sqlite(&mut statement, index, arg)?;
        }
        let mut rows = statement.raw_query();
        while rows.next()?.is_some() {}
        drop(rows);
        Ok(self.connection.changes())
    }
}

fn sqlite_error(error: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(failure, message) = &error
        && failure.code == rusqlite::ErrorCode::ConstraintViolation
    {
        let kind = match failure.extended_code {
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => ConstraintKind::ForeignKey,
            ffi::SQLITE_CONSTRAINT_NOTNULL => ConstraintKind::NotNull,
            ffi::SQLITE_CONSTRAINT_CHECK => ConstraintKind::Check,
            _ => ConstraintKind::Unique,
        };
        return StoreError::Constraint {
            kind,
            message: message.clone().unwrap_or_else(|| failure.to_string()),
        };
    }
    StoreError::Database(Box::new(error))
}

impl WriteConnection for SqliteWriter {
    async fn begin(&mut self) -> Result<(), StoreError> {
        if self
            .restart_wanted
            .swap(false, std::sync::atomic::Ordering::Relaxed)
        {
            // The checkpointer has caught up but for the last commits: checkpoint those here,
            // so this transaction starts the WAL over (see `run_checkpointer`). PASSIVE never
            // waits; if the checkpointer is busy, it asks again later.
            let started = std::time::Instant::now();
            let (frames, done) = checkpoint_wal(&self.connection, "PASSIVE");
            tracing::debug!(frames, done, took = ?started.elapsed(), "writer checkpoint to start the WAL over");
        }
        self.connection
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(sqlite_error)
    }

    async fn commit(&mut self) -> Result<(), StoreError> {
        self.connection
            .execute_batch("COMMIT")
            .map_err(sqlite_error)?;
        self.commits_since_sized += 1;
        if self.commits_since_sized >= 256
            && let Err(error) = self.size_cache()
        {
            tracing::warn!(%error, "sizing the writer's page cache");
        }
        if let Some(checkpoint) = &self.checkpoint {
            let _ = checkpoint.try_send(());
        }
        Ok(())
    }

    async fn rollback(&mut self) -> Result<(), StoreError> {
        self.connection
            .execute_batch("ROLLBACK")
            .map_err(sqlite_error)
    }

    async fn execute(&mut self, sql: &str, args: &[Arg]) -> Result<u64, StoreError> {
        self.run(sql, args).map_err(sqlite_error)
    }

    async fn lock_head(&mut self) -> Result<Head, StoreError> {
        let head = self
            .connection
            .prepare_cached(LOCK_HEAD)
            .and_then(|mut statement| {
                statement.query_row([], |row| {
                    Ok(Head {
                        seq: row.get(0)?,
                        hash: row.get(1)?,
                    })
                })
            })
            .map_err(sqlite_error)?;
        Ok(head)
    }

    async fn read_blobs(&mut self, sql: &str) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut statement = self.connection.prepare(sql).map_err(sqlite_error)?;
        let rows = statement
            .query_map([], |row| row.get::<_, Vec<u8>>(0))
            .map_err(sqlite_error)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(sqlite_error)
    }

    async fn durability(&mut self) -> Result<Durability, StoreError> {
        let read = |pragma: &str| -> Result<String, rusqlite::Error> {
            self.connection
                .query_row(&format!("PRAGMA {pragma}"), [], |row| {
                    Ok(match row.get_ref(0)? {
                        rusqlite::types::ValueRef::Text(text) => {
                            String::from_utf8_lossy(text).to_lowercase()
                        }
                        rusqlite::types::ValueRef::Integer(n) => match (pragma, n) {
                            ("synchronous", 0) => "off".into(),
                            ("synchronous", 1) => "normal".into(),
                            ("synchronous", 2) => "full".into(),
                            ("synchronous", 3) => "extra".into(),
                            (_, 0) => "off".into(),
                            (_, 1) => "on".into(),
                            (_, other) => other.to_string(),
                        },
                        other => format!("{other:?}"),
                    })
                })
        };
        let mut settings = Vec::new();
        for pragma in ["journal_mode", "synchronous", "foreign_keys"] {
            settings.push((pragma.to_owned(), read(pragma).map_err(sqlite_error)?));
        }
        Ok(Durability { settings })
    }

    async fn close(mut self) {
        drop(self.checkpoint.take());
        if let Some(checkpointer) = self.checkpointer.take() {
            checkpointer.thread().unpark();
            let _ = checkpointer.join();
        }
        if let Err((_, error)) = self.connection.close() {
            tracing::warn!(%error, "closing the SQLite write connection failed");
        }
    }
}

/// The PostgreSQL write connection: one pooled connection (re-established when it breaks).
#[derive(Debug)]
pub(crate) struct PostgresWriter {
    pool: AnyPool,
    transaction: Option<Transaction<'static, Any>>,
}

impl PostgresWriter {
    pub(crate) fn new(pool: AnyPool) -> PostgresWriter {
        PostgresWriter {
            pool,
            transaction: None,
        }
    }

    fn transaction(&mut self) -> Result<&mut Transaction<'static, Any>, StoreError> {
        self.transaction.as_mut().ok_or_else(|| {
            StoreError::Database("the writer ran a statement outside a transaction".into())
        })
    }
}

impl WriteConnection for PostgresWriter {
    async fn begin(&mut self) -> Result<(), StoreError> {
        self.transaction = Some(self.pool.begin().await?);
        Ok(())
    }

    async fn commit(&mut self) -> Result<(), StoreError> {
        match self.transaction.take() {
            Some(transaction) => Ok(transaction.commit().await?),
            None => Ok(()),
        }
    }

    async fn rollback(&mut self) -> Result<(), StoreError> {
        match self.transaction.take() {
            Some(transaction) => Ok(transaction.rollback().await?),
            None => Ok(()),
        }
    }

    async fn execute(&mut self, sql: &str, args: &[Arg]) -> Result<u64, StoreError> {
        let result = bind_any(sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())), args)
            .execute(&mut **self.transaction()?)
            .await
            .map_err(StoreError::from_sqlx)?;
        Ok(result.rows_affected())
    }

    async fn lock_head(&mut self) -> Result<Head, StoreError> {
        let row = sqlx::query(LOCK_HEAD)
            .fetch_optional(&mut **self.transaction()?)
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

    async fn read_blobs(&mut self, sql: &str) -> Result<Vec<Vec<u8>>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| Ok(row.try_get::<Vec<u8>, _>(0)?))
            .collect()
    }

    async fn durability(&mut self) -> Result<Durability, StoreError> {
        let mut settings = Vec::new();
        for (name, sql) in [
            ("fsync", "SHOW fsync"),
            ("synchronous_commit", "SHOW synchronous_commit"),
        ] {
            let value: String = sqlx::query(sql).fetch_one(&self.pool).await?.try_get(0)?;
            settings.push((name.to_owned(), value.to_lowercase()));
        }
        Ok(Durability { settings })
    }

    async fn close(self) {
        self.pool.close().await;
    }
}

/// Read-only rusqlite connections to one SQLite file for point reads on the calling thread
/// (see [`crate::Store::read_row`]). A connection is taken for one read and put back; at most
/// [`PointReaders::IDLE`] are kept, each with its prepared statements.
#[derive(Debug)]
pub(crate) struct PointReaders {
    path: std::path::PathBuf,
    idle: std::sync::Mutex<Vec<rusqlite::Connection>>,
}

impl PointReaders {
    /// More than the threads that read at once (the runtime's workers and a few blocking ones).
    const IDLE: usize = 16;

    pub(crate) fn new(path: std::path::PathBuf) -> PointReaders {
        PointReaders {
            path,
            idle: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// The first row `sql` answers with `args` bound to `$1…$N`, each cell as an [`Arg`].
    pub(crate) fn read_row(&self, sql: &str, args: &[Arg]) -> Result<Option<Vec<Arg>>, StoreError> {
        let taken = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        let connection = match taken {
            Some(connection) => connection,
            None => open_read_only(&self.path).map_err(sqlite_error)?,
        };
        let answer = point_read(&connection, sql, args).map_err(sqlite_error);
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if idle.len() < Self::IDLE {
            idle.push(connection);
        }
        answer
    }

    /// Closes the idle connections.
    pub(crate) fn close(&self) {
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }
}

fn open_read_only(path: &std::path::Path) -> Result<rusqlite::Connection, rusqlite::Error> {
    let connection = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(connection)
}

fn point_read(
    connection: &rusqlite::Connection,
    sql: &str,
    args: &[Arg],
) -> Result<Option<Vec<Arg>>, rusqlite::Error> {
    let mut statement = connection.prepare_cached(sql)?;
    let count = statement.parameter_count();
    if count != args.len() {
        return Err(rusqlite::Error::InvalidParameterCount(args.len(), count));
    }
    for (position, arg) in args.iter().enumerate() {
        // `$N` is a named parameter to SQLite; its index is its order of first appearance.
        let Some(index) = statement.parameter_index(&format!("${}", position + 1))? else {
            return Err(rusqlite::Error::InvalidParameterName(format!(
                "${}",
                position + 1
            )));
        };
        bind_sqlite(&mut statement, index, arg)?;
    }
    let columns = statement.column_count();
    let mut rows = statement.raw_query();
    rows.next()?.map(|row| row_cells(row, columns)).transpose()
}

/// Binds `arg` to the SQLite parameter at `index`.
fn bind_sqlite(
    statement: &mut rusqlite::Statement<'_>,
    index: usize,
    arg: &Arg,
) -> Result<(), rusqlite::Error> {
    match arg {
        Arg::Int(value) => statement.raw_bind_parameter(index, value),
        Arg::Real(value) => statement.raw_bind_parameter(index, value),
        Arg::Text(value) => statement.raw_bind_parameter(index, value),
        Arg::Bytes(value) => statement.raw_bind_parameter(index, value),
    }
}

/// A SQLite row's cells as [`Arg`]s (a NULL is `Arg::Text(None)`).
fn row_cells(row: &rusqlite::Row<'_>, columns: usize) -> Result<Vec<Arg>, rusqlite::Error> {
    use rusqlite::types::ValueRef;
    (0..columns)
        .map(|index| {
            Ok(match row.get_ref(index)? {
                ValueRef::Null => Arg::Text(None),
                ValueRef::Integer(value) => Arg::Int(Some(value)),
                ValueRef::Real(value) => Arg::Real(Some(value)),
                ValueRef::Text(text) => Arg::Text(Some(String::from_utf8_lossy(text).into_owned())),
                ValueRef::Blob(bytes) => Arg::Bytes(Some(bytes.to_vec())),
            })
        })
        .collect()
}

/// The first row of `sql` with `args` bound to `$1…$N`, through sqlx (PostgreSQL).
pub(crate) async fn any_read_row(
    pool: &AnyPool,
    sql: &str,
    args: &[Arg],
) -> Result<Option<Vec<Arg>>, StoreError> {
    let row = bind_any(sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())), args)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(any_row_cells).transpose()
}

type AnyQuery<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments>;

/// Binds `args` to `$1…$N` in order.
fn bind_any<'q>(mut query: AnyQuery<'q>, args: &[Arg]) -> AnyQuery<'q> {
    for arg in args {
        query = match arg {
            Arg::Int(value) => query.bind(*value),
            Arg::Real(value) => query.bind(*value),
            Arg::Text(value) => query.bind(value.clone()),
            Arg::Bytes(value) => query.bind(value.clone()),
        };
    }
    query
}

/// Every row of `sql` on a read-only connection to the SQLite file at `path`.
pub(crate) fn sqlite_read_all(
    path: &std::path::Path,
    sql: &str,
) -> Result<Vec<Vec<Arg>>, StoreError> {
    let connection = open_read_only(path).map_err(sqlite_error)?;
    let mut statement = connection.prepare(sql).map_err(sqlite_error)?;
    let columns = statement.column_count();
    let mut rows = statement.query([]).map_err(sqlite_error)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(sqlite_error)? {
        out.push(row_cells(row, columns).map_err(sqlite_error)?);
    }
    Ok(out)
}

/// The cells of a row read through sqlx: each decoded as the first type that fits.
pub(crate) fn any_row_cells(row: &sqlx::any::AnyRow) -> Result<Vec<Arg>, StoreError> {
    use sqlx::Row;
    (0..row.len())
        .map(|index| {
            if sqlx::ValueRef::is_null(&row.try_get_raw(index)?) {
                return Ok(Arg::Text(None));
            }
            if let Ok(value) = row.try_get::<Option<i64>, _>(index) {
                return Ok(Arg::Int(value));
            }
            if let Ok(value) = row.try_get::<Option<f64>, _>(index) {
                return Ok(Arg::Real(value));
            }
            if let Ok(value) = row.try_get::<Option<String>, _>(index) {
                return Ok(Arg::Text(value));
            }
            Ok(Arg::Bytes(row.try_get::<Option<Vec<u8>>, _>(index)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The WAL header's salts: SQLite draws new ones each time the WAL starts over (frames
    /// carrying old salts are then ignored).
    fn wal_salts(db: &std::path::Path) -> [u8; 8] {
        let mut name = db.as_os_str().to_owned();
        name.push("-wal");
        let header = std::fs::read(std::path::PathBuf::from(name)).expect("the WAL exists");
        header[16..24].try_into().expect("a WAL header")
    }

    /// One transaction of the writer inserting a blob of `bytes`.
    async fn write_blob(writer: &mut SqliteWriter, bytes: usize) {
        writer.begin().await.expect("begin");
        writer
            .execute(
                "INSERT INTO t (x) VALUES ($1)",
                &[Arg::Bytes(Some(vec![7; bytes]))],
            )
            .await
            .expect("insert");
        writer.commit().await.expect("commit");
    }

    #[test]
    fn under_a_gibibyte_the_writer_keeps_the_small_page_cache() {
        let folder = tempfile::tempdir().expect("a temporary folder");
        let path = folder.path().join("small.db");
        let mut writer = SqliteWriter::open(&path, 1 << 30, std::time::Duration::from_millis(20))
            .expect("the writer");
        let cache = |writer: &SqliteWriter| -> i64 {
            writer
                .connection
                .query_row("PRAGMA cache_size", [], |row| row.get(0))
                .expect("the cache size")
        };
        assert_eq!(cache(&writer), -16384, "16 MB while the database is small");
        assert!(!writer.large_cache);
        // Sizing again (as every 256 commits) keeps it while the database stays small.
        writer.size_cache().expect("sizing");
        assert_eq!(cache(&writer), -16384);
    }

    #[tokio::test]
    async fn past_its_limit_the_writer_starts_the_wal_over_though_others_committed_since() {
        let folder = tempfile::tempdir().expect("a temporary folder");
        let path = folder.path().join("wal.db");
        rusqlite::Connection::open(&path)
            .and_then(|c| c.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x BLOB)"))
            .expect("a database");
        let mut writer =
            SqliteWriter::open(&path, 768 * 1024, std::time::Duration::from_millis(20))
                .expect("the writer");
        write_blob(&mut writer, 1_000_000).await;
        // The commit woke the checkpointer: a megabyte of WAL is past the 768 KB limit (not
        // past twice it), and once it has checkpointed all of it, it asks the writer to start
        // the WAL over.
        let asked_by = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !writer
            .restart_wanted
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            assert!(
                std::time::Instant::now() < asked_by,
                "the checkpointer never asked for the WAL to start over"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        // Meanwhile other commits land (under load, the writer's own next ones do): the first
        // finds the WAL fully checkpointed and starts it over itself, the second appends to it,
        // so the WAL is no longer fully checkpointed and SQLite alone would keep appending.
        let other = rusqlite::Connection::open(&path).expect("a second connection");
        for _ in 0..2 {
            other
                .execute("INSERT INTO t (x) VALUES (zeroblob(100000))", [])
                .expect("another commit");
        }
        let before = wal_salts(&path);
        write_blob(&mut writer, 10).await;
        assert_ne!(
            wal_salts(&path),
            before,
            "the writer's transaction starts the WAL over"
        );
        let rows: i64 = other
            .query_row("SELECT COUNT(*) FROM t", [], |row| row.get(0))
            .expect("count");
        assert_eq!(rows, 4, "nothing is lost when the WAL starts over");
        drop(other);
        writer.close().await;
    }
}
