//! The store's typed errors; the HTTP layer maps each to one entry of the error-code table.

/// A database driver's error, whichever engine raised it.
pub type DriverError = Box<dyn std::error::Error + Send + Sync>;

/// What can go wrong in the store. Messages name the location with its password masked, and
/// say how to fix what a person can fix.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid database location {location}: {reason}")]
    BadLocation { location: String, reason: String },

    #[error("cannot open the database at {location}: {cause}. Fix: {fix}")]
    Unreachable {
        location: String,
        cause: String,
        fix: String,
    },

    #[error(
        "migration {version} ({name}) failed and was rolled back; the database is unchanged: {cause}"
    )]
    MigrationFailed {
        version: i64,
        name: String,
        cause: String,
    },

    #[error(
        "the database at {location} has schema version {found}, newer than this jingzhi knows ({known}); upgrade jingzhi"
    )]
    SchemaTooNew {
        location: String,
        found: i64,
        known: i64,
    },

    #[error(
        "migration {version} ({name}) was changed after it was applied to {location} (checksum differs); migrations are append-only"
    )]
    MigrationModified {
        location: String,
        version: i64,
        name: String,
    },

    /// A statement of a change did not affect the number of rows it expected (an optimistic
    /// concurrency check failed, or the row is gone). Nothing of the change was written.
    #[error(
        "statement {statement} of the change expected {expected} affected row(s) but affected {affected}; nothing was written"
    )]
    Conflict {
        statement: usize,
        expected: u64,
        affected: u64,
    },

    /// The data broke a constraint (unique key, foreign key, not-null, check). Nothing of the
    /// change was written.
    #[error("the change breaks a {kind} constraint; nothing was written: {message}")]
    Constraint {
        kind: ConstraintKind,
        message: String,
    },

    /// The writer stopped (the store is closing); the change was not written.
    #[error("the store is closed; the change was not written")]
    Closed,

    #[error("database error: {0}")]
    Database(DriverError),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> StoreError {
        StoreError::Database(Box::new(error))
    }
}

/// Which kind of constraint a change broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConstraintKind {
    Unique,
    ForeignKey,
    NotNull,
    Check,
}

impl std::fmt::Display for ConstraintKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ConstraintKind::Unique => "unique",
            ConstraintKind::ForeignKey => "foreign key",
            ConstraintKind::NotNull => "not-null",
            ConstraintKind::Check => "check",
        })
    }
}

impl StoreError {
    /// Classifies a sqlx error from a statement of a change: constraint violations are the
    /// caller's data, everything else is the database's.
    pub(crate) fn from_sqlx(error: sqlx::Error) -> StoreError {
        if let sqlx::Error::Database(db) = &error {
            let kind = match db.kind() {
                sqlx::error::ErrorKind::UniqueViolation => Some(ConstraintKind::Unique),
                sqlx::error::ErrorKind::ForeignKeyViolation => Some(ConstraintKind::ForeignKey),
                sqlx::error::ErrorKind::NotNullViolation => Some(ConstraintKind::NotNull),
                sqlx::error::ErrorKind::CheckViolation => Some(ConstraintKind::Check),
                _ => None,
            };
            if let Some(kind) = kind {
                return StoreError::Constraint {
                    kind,
                    message: db.message().to_owned(),
                };
            }
        }
        StoreError::from(error)
    }
}
