//! Jingzhi's one storage API over two engines: embedded SQLite (the default) and PostgreSQL.
//!
//! A [`Store`] is opened from a [`Location`]; on open it applies pending migrations of its
//! dialect in one transaction. Reads go through a pool of read-only connections; every write
//! goes through the group-commit writer as a [`Change`] and is acknowledged only after its
//! transaction — with its audit entries and outbox messages — has committed.

mod audit;
mod change;
mod engine;
mod error;
mod location;
pub mod migrate;
mod outbox;
mod pending;
pub mod priority;
mod wal_vfs;
mod writer;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyPool, ConnectOptions, Connection, Executor};
use tokio::sync::Notify;

pub use change::{Arg, Change, Committed, Expect, OutboxMessage, Statement, Tally};
pub use engine::Durability;
pub use error::{ConstraintKind, StoreError};
pub use location::{Backend, Location, SQLITE_FILE_NAME, mask_password};
pub use outbox::{OutboxHandler, OutboxItem, OutboxRelay, RelayRound, RetryPolicy};
pub use writer::WriterOptions;

/// How to open a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub writer: WriterOptions,
    /// How long to wait for the database to answer on open before giving up with a clear error.
    pub connect_timeout: Duration,
    /// Connections in the read pool.
    pub read_connections: u32,
    /// SQLite: the WAL in use past which the writer starts the WAL over from its beginning
    /// (`JINGZHI_WAL_LIMIT_MB`, default 1 GB); past twice this the checkpointer forces it,
    /// waiting for readers. Steady writes with steady readers would otherwise grow it without
    /// bound. The file keeps its size and is written over, so the disk holds about this much WAL
    /// (at most about twice).
    pub wal_limit_bytes: u64,
    /// SQLite: the least time between two checkpoints of the WAL into the database file
    /// (`JINGZHI_CHECKPOINT_MS`, default 20). Each checkpoint writes the pages committed since
    /// the last one into the database file and syncs it, and the commits meanwhile wait behind
    /// that sync on the disk: small checkpoints often keep the commits' latency even. A page
    /// several commits wrote in between is copied once: seldom ones cost less disk under
    /// saturation. Measured in docs/benchmarks.md (intake p99 at 1,000 reports/s over 20 s:
    /// 19–26 ms at 20 ms, 39–61 ms at 200 ms, 185–248 ms at 1–5 s; the simulator's busy hours
    /// ≈ 3 % slower at 20 ms than at 200 ms, ≈ 10 % faster at 2 s).
    pub checkpoint_interval: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            writer: WriterOptions::default(),
            connect_timeout: Duration::from_secs(10),
            read_connections: 4,
            wal_limit_bytes: WAL_LIMIT_MB.value() * 1024 * 1024,
            checkpoint_interval: Duration::from_millis(CHECKPOINT_MS.value()),
        }
    }
}

impl StoreOptions {
    /// For a batch run that wants throughput rather than each commit's latency (the simulator):
    /// the WAL is checkpointed at most every [`BATCH_CHECKPOINT_MS`] unless
    /// `JINGZHI_CHECKPOINT_MS` is set. Durability is the same (every commit is synced); a page
    /// many commits rewrite is copied into the database file once per checkpoint instead of
    /// once per 20 ms. Measured: simulated hour 12 reached in 135–140 s against 160 s with the
    /// server's 20 ms (docs/benchmarks.md); the server keeps 20 ms for the intake's p99.
    pub fn batch() -> StoreOptions {
        StoreOptions {
            checkpoint_interval: Duration::from_millis(CHECKPOINT_MS.value_or(BATCH_CHECKPOINT_MS)),
            ..StoreOptions::default()
        }
    }
}

/// The batch runs' least time between two checkpoints, in milliseconds (see
/// [`StoreOptions::batch`]).
pub const BATCH_CHECKPOINT_MS: u64 = 500;

/// A whole-number setting the store reads from the environment.
struct EnvSetting {
    name: &'static str,
    /// What the number counts.
    unit: &'static str,
    default: u64,
    /// The largest value taken (`u64::MAX`: any whole number).
    max: u64,
}

impl EnvSetting {
    /// The number the variable is set to, else the default (an unreadable value is refused
    /// first by [`environment_errors`]).
    fn value(&self) -> u64 {
        self.value_or(self.default)
    }

    /// The number the variable is set to, else `default` (a use's own default).
    fn value_or(&self, default: u64) -> u64 {
        std::env::var(self.name)
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|v| *v <= self.max)
            .unwrap_or(default)
    }

    /// Why the variable's value is refused, when it is set but not a whole number (or past
    /// the largest value taken).
    fn error(&self) -> Option<String> {
        let value = std::env::var(self.name).ok()?;
        let range = match self.max {
            u64::MAX => String::new(),
            max => format!(" from 0 to {max}"),
        };
        value
            .parse::<u64>()
            .ok()
            .filter(|v| *v <= self.max)
            .is_none()
            .then(|| {
                format!(
                    "{} is set to {value:?}: it must be a whole number of {}{range} (unset, it is {})",
                    self.name, self.unit, self.default
                )
            })
    }
}

const WAL_LIMIT_MB: EnvSetting = EnvSetting {
    name: "JINGZHI_WAL_LIMIT_MB",
    unit: "megabytes",
    default: 1024,
    max: u64::MAX,
};
const CHECKPOINT_MS: EnvSetting = EnvSetting {
    name: "JINGZHI_CHECKPOINT_MS",
    unit: "milliseconds",
    default: 20,
    max: u64::MAX,
};
const TALLY_FOLD_MS: EnvSetting = EnvSetting {
    name: "JINGZHI_TALLY_FOLD_MS",
    unit: "milliseconds",
    default: 2000,
    max: u64::MAX,
};
/// Nice steps the request threads run below the store's writer (see [`priority`]).
const WORKER_NICE: EnvSetting = EnvSetting {
    name: "JINGZHI_WORKER_NICE",
    unit: "nice steps of the request threads below the store's writer",
    default: priority::DEFAULT_WORKER_NICE as u64,
    max: 19,
};

/// What is wrong with the store's environment settings: one message per variable that is set
/// but not a whole number (it would otherwise be ignored for its default). Commands check this
/// before opening a store.
pub fn environment_errors() -> Vec<String> {
    [WAL_LIMIT_MB, CHECKPOINT_MS, TALLY_FOLD_MS, WORKER_NICE]
        .iter()
        .filter_map(EnvSetting::error)
        .collect()
}

/// An open store. Cheap to clone; all clones share one writer.
#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<StoreInner>,
}

#[derive(Debug)]
struct StoreInner {
    backend: Backend,
    /// The SQLite file, for bulk reads through rusqlite.
    sqlite_path: Option<std::path::PathBuf>,
    location: String,
    schema_version: i64,
    reader: AnyPool,
    /// SQLite: connections for point reads on the calling thread.
    point_readers: Option<engine::PointReaders>,
    writer: writer::WriterHandle,
    outbox_ready: Arc<Notify>,
}

impl Store {
    /// Opens (creating when needed) the store at `location` and migrates it.
    pub async fn open(location: &Location, options: StoreOptions) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let masked = location.display_masked();
        let backend = location.backend();
        let connect = async {
            let writer_pool = match location {
                Location::Sqlite { path } => open_sqlite(path, &masked).await?,
                Location::Postgres { url } => open_postgres(url, &masked).await?,
            };
            let report = migrate::migrate(
                &writer_pool,
                backend,
                &masked,
                migrate::migrations_for(backend),
                system_now_us(),
            )
            .await
            .map_err(|error| match error {
                StoreError::Database(cause) => StoreError::Unreachable {
                    location: masked.clone(),
                    cause: cause.to_string(),
                    fix: connection_fix(backend, "").to_owned(),
                },
                other => other,
            })?;
            let reader = reader_pool(backend, options.read_connections)
                .connect_with(reader_connect_options(location, &masked)?)
                .await
                .map_err(|cause| unreachable_error(&masked, backend, &cause))?;
            Ok::<_, StoreError>((writer_pool, reader, report))
        };
        let (writer_pool, reader, report) = tokio::time::timeout(options.connect_timeout, connect)
            .await
            .map_err(|_| StoreError::Unreachable {
                location: masked.clone(),
                cause: format!("no answer within {} s", options.connect_timeout.as_secs()),
                fix: connection_fix(backend, "").to_owned(),
            })??;
        if !report.applied.is_empty() {
            tracing::info!(location = %masked, applied = ?report.applied, "migrated the database");
        }
        let outbox_ready = Arc::new(Notify::new());
        let writer = match location {
            Location::Sqlite { path } => {
                // Migrations ran on a pooled connection; from now on rusqlite writes.
                writer_pool.close().await;
                let connection = engine::SqliteWriter::open(
                    path,
                    options.wal_limit_bytes,
                    options.checkpoint_interval,
                )
                .map_err(|cause| StoreError::Unreachable {
                    location: masked.clone(),
                    cause: cause.to_string(),
                    fix: connection_fix(backend, "").to_owned(),
                })?;
                writer::WriterHandle::spawn_on_thread(
                    connection,
                    options.writer,
                    outbox_ready.clone(),
                )
                .map_err(|cause| StoreError::Database(Box::new(cause)))?
            }
            Location::Postgres { .. } => writer::WriterHandle::spawn_task(
                engine::PostgresWriter::new(writer_pool),
                options.writer,
                outbox_ready.clone(),
            ),
        };
        // Tallies a crash left pending are folded before the store is handed out.
        if let Err(error) = writer.fold_tallies().await {
            writer.shutdown().await;
            return Err(error);
        }
        let sqlite_path = match location {
            Location::Sqlite { path } => Some(path.clone()),
            Location::Postgres { .. } => None,
        };
        Ok(Store {
            inner: Arc::new(StoreInner {
                backend,
                point_readers: sqlite_path.clone().map(engine::PointReaders::new),
                sqlite_path,
                location: masked,
                schema_version: report.version,
                reader,
                writer,
                outbox_ready,
            }),
        })
    }

    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// The location, password masked.
    pub fn location(&self) -> &str {
        &self.inner.location
    }

    /// The schema version after the migrations applied on open.
    pub fn schema_version(&self) -> i64 {
        self.inner.schema_version
    }

    /// The pool of read-only connections.
    pub fn reader(&self) -> &AnyPool {
        &self.inner.reader
    }

    /// Reads every row `sql` answers (no parameters), each cell as an [`Arg`] (a NULL is
    /// `Arg::Text(None)` on both engines), for large reads such as loading the city model. On SQLite this runs on a read-only rusqlite connection
    /// off the async runtime: through sqlx's SQLite worker a row costs several microseconds of
    /// copying and cross-thread allocation (measured: 5.5 s for 776k grid rows).
    pub async fn read_all(&self, sql: &'static str) -> Result<Vec<Vec<Arg>>, StoreError> {
        match &self.inner.sqlite_path {
            Some(path) => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || engine::sqlite_read_all(&path, sql))
                    .await
                    .map_err(|error| {
                        StoreError::Database(format!("the bulk read stopped: {error}").into())
                    })?
            }
            None => {
                let rows = sqlx::query(sql).fetch_all(self.reader()).await?;
                rows.iter().map(engine::any_row_cells).collect()
            }
        }
    }

    /// A point read: the first row `sql` answers with `args` bound to `$1…$N` (each cell as an
    /// [`Arg`]; a NULL is `Arg::Text(None)` on both engines), or `None`. For reads an index
    /// answers at once — a row by its key — which the hot paths make once per step (a case
    /// before its command). On SQLite this runs on the calling thread, on a pooled read-only
    /// rusqlite connection: through sqlx's SQLite worker each query costs two thread hand-offs,
    /// which were ≈ 12 % of a simulated day's CPU (docs/benchmarks.md). Anything that scans
    /// belongs in [`Store::reader`] or [`Store::read_all`], off the runtime's threads.
    pub async fn read_row(
        &self,
        sql: &'static str,
        args: &[Arg],
    ) -> Result<Option<Vec<Arg>>, StoreError> {
        match &self.inner.point_readers {
            Some(readers) => readers.read_row(sql, args),
            None => engine::any_read_row(self.reader(), sql, args).await,
        }
    }

    /// Writes `change` whole or not at all, through the group-commit writer. The change is
    /// queued when this is called (the returned future only waits for the commit); the answer
    /// comes after the commit, so `Ok` means durable.
    pub fn write(
        &self,
        change: Change,
    ) -> impl Future<Output = Result<Committed, StoreError>> + Send + 'static {
        self.inner.writer.submit(change)
    }

    /// Folds the committed tallies still pending into their rows (see [`Tally`]). Call it before
    /// reading tallied rows: afterwards they include every tally acknowledged before the call.
    pub async fn fold_tallies(&self) -> Result<(), StoreError> {
        self.inner.writer.fold_tallies().await
    }

    /// The durability settings the write connection runs with, read from the database.
    pub async fn durability(&self) -> Result<Durability, StoreError> {
        self.inner.writer.durability().await
    }

    /// Commits what is queued, stops the writer and closes the connections. Writes submitted
    /// afterwards fail with [`StoreError::Closed`].
    pub async fn close(&self) {
        self.inner.writer.shutdown().await;
        self.inner.reader.close().await;
        if let Some(readers) = &self.inner.point_readers {
            readers.close();
        }
    }
}

/// Microseconds since the Unix epoch by the system clock; used only for bookkeeping columns
/// (when a migration was applied), never for domain time.
fn system_now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

async fn open_sqlite(path: &std::path::Path, masked: &str) -> Result<AnyPool, StoreError> {
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).map_err(|cause| StoreError::Unreachable {
            location: masked.to_owned(),
            cause: format!("cannot create the folder {}: {cause}", folder.display()),
            fix: "choose a writable folder with --data DIR".to_owned(),
        })?;
    }
    let url = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .to_url_lossy();
    let options = AnyConnectOptions::from_url(&url)?;
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .after_connect(|connection, _| {
            Box::pin(async move {
                connection.execute(engine::SQLITE_WRITER_PRAGMAS).await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .map_err(|cause| unreachable_error(masked, Backend::Sqlite, &cause))?;
    Ok(pool)
}

async fn open_postgres(url: &str, masked: &str) -> Result<AnyPool, StoreError> {
    let options =
        AnyConnectOptions::from_url(&url.parse().map_err(|cause| StoreError::BadLocation {
            location: masked.to_owned(),
            reason: format!("{cause}"),
        })?)?;
    // One direct attempt first: the pool retries a refused connection until its deadline,
    // but a person wants to hear at once that nothing listens there.
    let probe = sqlx::AnyConnection::connect_with(&options)
        .await
        .map_err(|cause| unreachable_error(masked, Backend::Postgres, &cause))?;
    probe.close().await?;
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .connect_with(options)
        .await
        .map_err(|cause| unreachable_error(masked, Backend::Postgres, &cause))?;
    Ok(pool)
}

fn reader_connect_options(
    location: &Location,
    masked: &str,
) -> Result<AnyConnectOptions, StoreError> {
    let url = match location {
        Location::Sqlite { path } => SqliteConnectOptions::new().filename(path).to_url_lossy(),
        Location::Postgres { url } => url.parse().map_err(|cause| StoreError::BadLocation {
            location: masked.to_owned(),
            reason: format!("{cause}"),
        })?,
    };
    Ok(AnyConnectOptions::from_url(&url)?)
}

fn reader_pool(backend: Backend, connections: u32) -> AnyPoolOptions {
    let options = AnyPoolOptions::new().max_connections(connections.max(1));
    match backend {
        // Readers can never write: every write goes through the writer.
        Backend::Sqlite => options.after_connect(|connection, _| {
            Box::pin(async move {
                connection
                    .execute("PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; PRAGMA query_only = ON;")
                    .await?;
                Ok(())
            })
        }),
        Backend::Postgres => options.after_connect(|connection, _| {
            Box::pin(async move {
                connection.execute("SET default_transaction_read_only = on").await?;
                Ok(())
            })
        }),
    }
}

/// The one-line error for a database that cannot be opened, with the fix for its cause.
fn unreachable_error(masked: &str, backend: Backend, cause: &sqlx::Error) -> StoreError {
    let code = match cause {
        sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()).unwrap_or_default(),
        _ => String::new(),
    };
    StoreError::Unreachable {
        location: masked.to_owned(),
        cause: cause.to_string(),
        fix: connection_fix(backend, &code).to_owned(),
    }
}

fn connection_fix(backend: Backend, code: &str) -> &'static str {
    match (backend, code) {
        (Backend::Sqlite, _) => {
            "choose a writable folder with --data DIR (the embedded database is created there)"
        }
        (Backend::Postgres, "28P01" | "28000") => "check the user name and password in --database",
        (Backend::Postgres, "3D000") => {
            "create the database (createdb NAME) or correct its name in --database"
        }
        (Backend::Postgres, _) => {
            "start PostgreSQL and check host and port in --database (for development and tests: cargo xtask services)"
        }
    }
}
