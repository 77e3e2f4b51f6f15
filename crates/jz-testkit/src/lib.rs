//! Test fixtures shared by every crate's tests: fresh databases on both engines, checks for the
//! services tests need (PostgreSQL, Mosquitto), and sample changes.
//!
//! A test that needs a service fails with a message naming `cargo xtask services`, which starts
//! it. Outside CI a developer may set `JINGZHI_TEST_SKIP_SERVICES=1` to skip such tests loudly;
//! under `CI=true` that is refused, so CI never passes silently without a service.

use std::path::PathBuf;

use jz_domain::audit::AuditRecord;
use jz_store::{Location, Store, StoreOptions};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};

/// The PostgreSQL server tests use, unless `JINGZHI_TEST_POSTGRES_URL` names another. It is the
/// one `cargo xtask services` starts.
pub const DEFAULT_TEST_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:54329/postgres";

/// The Mosquitto broker tests use, unless `JINGZHI_TEST_MQTT_ADDR` names another.
pub const DEFAULT_TEST_MQTT_ADDR: &str = "127.0.0.1:18830";

pub fn postgres_admin_url() -> String {
    std::env::var("JINGZHI_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_TEST_POSTGRES_URL.into())
}

pub fn mqtt_addr() -> String {
    std::env::var("JINGZHI_TEST_MQTT_ADDR").unwrap_or_else(|_| DEFAULT_TEST_MQTT_ADDR.into())
}

/// Decides what to do when a service is missing: fail with the command that starts it, or, only
/// outside CI and only when asked, skip loudly.
pub fn service_missing(
    service: &str,
    address: &str,
    cause: &str,
) -> Option<std::convert::Infallible> {
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let skip = std::env::var("JINGZHI_TEST_SKIP_SERVICES").is_ok_and(|v| v == "1");
    if skip && !in_ci {
        eprintln!(
            "SKIPPED: {service} is not reachable at {address} ({cause}); JINGZHI_TEST_SKIP_SERVICES=1"
        );
        return None;
    }
    panic!(
        "{service} is not reachable at {address}: {cause}\n\
         Start the test services with: cargo xtask services\n\
         (or point the tests elsewhere with JINGZHI_TEST_POSTGRES_URL / JINGZHI_TEST_MQTT_ADDR)"
    );
}

/// A fresh, empty database for one test: a SQLite file in a temporary folder, or a new
/// database on the test PostgreSQL server.
#[derive(Debug)]
pub struct TestDb {
    location: Location,
    _folder: Option<tempfile::TempDir>,
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let folder = tempfile::tempdir().expect("a temporary folder");
        TestDb {
            location: Location::data_dir(folder.path()),
            _folder: Some(folder),
        }
    }

    /// A new database on the test server, or `None` when skipping is allowed and the server is
    /// absent.
    pub async fn postgres() -> Option<TestDb> {
        let admin_url = postgres_admin_url();
        let admin = match admin_pool(&admin_url).await {
            Ok(pool) => pool,
            Err(cause) => {
                service_missing(
                    "PostgreSQL",
                    &jz_store::mask_password(&admin_url),
                    &cause.to_string(),
                )?;
                unreachable!()
            }
        };
        let name = format!("jz_t_{}", uuid::Uuid::now_v7().simple());
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .expect("CREATE DATABASE on the test server");
        admin.close().await;
        Some(TestDb {
            location: Location::Postgres {
                url: with_database(&admin_url, &name),
            },
            _folder: None,
        })
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The SQLite file's folder (the `--data` folder), for SQLite test databases.
    pub fn data_dir(&self) -> Option<PathBuf> {
        self._folder.as_ref().map(|folder| folder.path().to_owned())
    }

    pub async fn open(&self) -> Store {
        self.open_with(StoreOptions::default()).await
    }

    pub async fn open_with(&self, options: StoreOptions) -> Store {
        Store::open(&self.location, options)
            .await
            .expect("the test store opens")
    }

    /// A writable connection pool that bypasses the store: for tests that tamper with data
    /// or run migrations by hand.
    pub async fn raw_pool(&self) -> AnyPool {
        sqlx::any::install_default_drivers();
        let url = match &self.location {
            Location::Sqlite { path } => format!("sqlite://{}?mode=rwc", path.display()),
            Location::Postgres { url } => url.clone(),
        };
        AnyPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .expect("a raw connection")
    }
}

async fn admin_pool(url: &str) -> Result<AnyPool, sqlx::Error> {
    sqlx::any::install_default_drivers();
    AnyPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(std::time::Duration::from_secs(5))
        .connect(url)
        .await
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

/// An audit record for tests, about `subject_id`.
pub fn audit_record(action: &str, subject_id: &str, at_us: i64) -> AuditRecord {
    AuditRecord {
        at_us,
        actor: "user:test".into(),
        actor_role: "administrator".into(),
        action: action.into(),
        subject_kind: "probe".into(),
        subject_id: subject_id.into(),
        origin: "test".into(),
        before: None,
        after: Some(format!("{{\"id\":\"{subject_id}\"}}")),
    }
}

/// The single value a query answers, through the store's read pool (for assertions on counts).
pub async fn scalar<T>(store: &Store, sql: &'static str) -> T
where
    T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    use sqlx::Row;
    sqlx::query(sql)
        .fetch_one(store.reader())
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
        .try_get(0)
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_replaced() {
        assert_eq!(
            with_database("postgres://u@h:1/postgres", "x"),
            "postgres://u@h:1/x"
        );
        assert_eq!(with_database("postgres://u@h:1", "x"), "postgres://u@h:1/x");
        assert_eq!(
            with_database("postgres://u@h/db?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
    }
}
