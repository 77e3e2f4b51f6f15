//! A change: the statements, audit records and outbox messages written in one transaction.
//!
//! Changes are data, not closures: a use case decides what to write from state it read, and the
//! writer applies the whole change or nothing. Optimistic concurrency is expressed as an
//! expectation on a statement's affected rows (`UPDATE … WHERE id = $1 AND version = $2` must
//! affect exactly one row).

use std::borrow::Cow;

use jz_domain::audit::AuditRecord;

/// One statement's argument. Nulls are typed because PostgreSQL checks parameter types.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Int(Option<i64>),
    Real(Option<f64>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
}

impl Arg {
    /// A cell read back as text (`None` for NULL); `column` names it in the error when the
    /// cell holds another type.
    pub fn into_text(self, column: &str) -> Result<Option<String>, crate::StoreError> {
        match self {
            Arg::Text(text) => Ok(text),
            Arg::Int(None) | Arg::Real(None) | Arg::Bytes(None) => Ok(None),
            other => Err(unexpected(column, "text", &other)),
        }
    }

    /// A cell read back as an integer (`None` for NULL); `column` names it in the error when
    /// the cell holds another type.
    pub fn as_int(&self, column: &str) -> Result<Option<i64>, crate::StoreError> {
        match self {
            Arg::Int(value) => Ok(*value),
            Arg::Text(None) | Arg::Real(None) | Arg::Bytes(None) => Ok(None),
            other => Err(unexpected(column, "an integer", other)),
        }
    }
}

fn unexpected(column: &str, wanted: &str, found: &Arg) -> crate::StoreError {
    let kind = match found {
        Arg::Int(_) => "an integer",
        Arg::Real(_) => "a real",
        Arg::Text(_) => "text",
        Arg::Bytes(_) => "bytes",
    };
    crate::StoreError::Database(format!("column {column}: expected {wanted}, found {kind}").into())
}

impl From<i64> for Arg {
    fn from(value: i64) -> Arg {
        Arg::Int(Some(value))
    }
}
impl From<Option<i64>> for Arg {
    fn from(value: Option<i64>) -> Arg {
        Arg::Int(value)
    }
}
impl From<f64> for Arg {
    fn from(value: f64) -> Arg {
        Arg::Real(Some(value))
    }
}
impl From<Option<f64>> for Arg {
    fn from(value: Option<f64>) -> Arg {
        Arg::Real(value)
    }
}
impl From<&str> for Arg {
    fn from(value: &str) -> Arg {
        Arg::Text(Some(value.to_owned()))
    }
}
impl From<String> for Arg {
    fn from(value: String) -> Arg {
        Arg::Text(Some(value))
    }
}
impl From<Option<String>> for Arg {
    fn from(value: Option<String>) -> Arg {
        Arg::Text(value)
    }
}
impl From<Vec<u8>> for Arg {
    fn from(value: Vec<u8>) -> Arg {
        Arg::Bytes(Some(value))
    }
}
impl From<bool> for Arg {
    /// Booleans are stored as 0/1 integers on both engines.
    fn from(value: bool) -> Arg {
        Arg::Int(Some(i64::from(value)))
    }
}

/// How many rows a statement must affect for its change to be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Any number of rows, including none.
    Any,
    /// Exactly this many rows; otherwise the whole change is rolled back with
    /// [`crate::StoreError::Conflict`].
    Rows(u64),
}

/// One SQL statement in the portable dialect (`$1…$N` placeholders).
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sql: Cow<'static, str>,
    pub args: Vec<Arg>,
    pub expect: Expect,
}

impl Statement {
    pub fn new(sql: impl Into<Cow<'static, str>>) -> Statement {
        Statement {
            sql: sql.into(),
            args: Vec::new(),
            expect: Expect::Any,
        }
    }

    /// Appends the next positional argument.
    pub fn bind(mut self, arg: impl Into<Arg>) -> Statement {
        self.args.push(arg.into());
        self
    }

    /// Requires the statement to affect exactly `rows` rows.
    pub fn expect_rows(mut self, rows: u64) -> Statement {
        self.expect = Expect::Rows(rows);
        self
    }
}

/// An additive upsert: adds `deltas` to the row named by `key`, creating the row when absent.
///
/// The SQL takes the key's arguments first (`$1…$k`), then the deltas (`$k+1…`), and must add
/// them (`INSERT … ON CONFLICT (…) DO UPDATE SET n = t.n + excluded.n`). Because additions
/// commute, the writer sums the tallies that name the same SQL and key across every change of
/// a transaction, appends the sums as one `tally_pending` row of that transaction, and runs one
/// statement per row only when it folds (every [`crate::WriterOptions::tally_fold_interval`],
/// on [`crate::Store::fold_tallies`], on close, and on open after a crash): the rows most
/// changes touch (a city's daily counters) are written once per fold instead of once per
/// change. Read tallied rows only after [`crate::Store::fold_tallies`]; nothing may read them in
/// a change.
#[derive(Debug, Clone, PartialEq)]
pub struct Tally {
    pub sql: Cow<'static, str>,
    pub key: Vec<Arg>,
    pub deltas: Vec<i64>,
}

impl Tally {
    pub fn new(sql: impl Into<Cow<'static, str>>, key: Vec<Arg>, deltas: Vec<i64>) -> Tally {
        Tally {
            sql: sql.into(),
            key,
            deltas,
        }
    }
}

/// A message for background work or notification, delivered at least once after its change
/// commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    /// A dotted name that selects the handler, e.g. `case.escalated`.
    pub topic: String,
    /// JSON text.
    pub payload: String,
    /// When the message becomes due, microseconds since the epoch (usually the change's time).
    pub due_at_us: i64,
}

/// Everything one request writes: applied whole, in one transaction, or not at all.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Change {
    pub statements: Vec<Statement>,
    /// Additive upserts, summed with other changes' in the same transaction (see [`Tally`]).
    pub tallies: Vec<Tally>,
    pub audit: Vec<AuditRecord>,
    pub outbox: Vec<OutboxMessage>,
}

impl Change {
    pub fn new() -> Change {
        Change::default()
    }

    pub fn statement(mut self, statement: Statement) -> Change {
        self.statements.push(statement);
        self
    }

    pub fn tally(mut self, tally: Tally) -> Change {
        self.tallies.push(tally);
        self
    }

    pub fn audit(mut self, record: AuditRecord) -> Change {
        self.audit.push(record);
        self
    }

    pub fn outbox(mut self, message: OutboxMessage) -> Change {
        self.outbox.push(message);
        self
    }
}

/// What the writer answers once a change is committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// The number of the transaction that carried the change, counted per writer from 1.
    pub batch: u64,
    /// How many changes that transaction carried.
    pub batch_size: usize,
    /// The chain numbers given to the change's audit records, in order.
    pub audit_seqs: Vec<i64>,
}
