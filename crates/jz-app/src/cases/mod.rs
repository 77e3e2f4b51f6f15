//! The case closed loop's use cases: intake from every channel, commands through the state
//! machine, the deadline scheduler, queries and queues, users with API tokens.
//!
//! [`Cases`] is the one entry point adapters use. Decisions are made by `jz_domain::case`; this
//! module reads what a decision needs, and writes the new case and one audit entry per command,
//! which carries the command's timeline steps, in one [`Change`], guarded by the case's version
//! (optimistic concurrency: a command decided on an old version is refused, never lost or applied
//! twice).

/// A case's number of reporters, as an SQL expression over the `case_file` row named `$table`
/// (the table or its alias): its reports, counted. A report merged into an open case is one more
/// `case_report` row; the case's own row is not rewritten for it (one random page of the case
/// table less per merged report). The `reporters` column keeps the count at creation only.
macro_rules! reporters_of {
    ($table:literal) => {
        concat!(
            "(SELECT COUNT(*) FROM case_report k WHERE k.case_id = ",
            $table,
            ".id)"
        )
    };
}
pub(crate) use reporters_of;

pub mod config;
pub mod intake;
pub mod keys;
pub mod query;
pub mod schedule;
pub mod sessions;
pub mod users;

use std::sync::Arc;

use jz_domain::access::Actor;
use jz_domain::audit::AuditRecord;
use jz_domain::case::{self, Case, Command, Decision, Rejection, Rules};
use jz_store::{Arg, Change, Statement, Store, StoreError};

use crate::city::SharedCity;
use crate::city::model::LocateError;
pub use config::{CaseConfig, IntakeSettings, SharedConfig};

/// Why a case operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    /// The input is wrong; the message names the field.
    #[error("{0}")]
    Invalid(String),
    #[error("{0} does not exist")]
    NotFound(String),
    #[error("{0} already exists")]
    Exists(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    IllegalTransition(String),
    #[error(
        "the case changed since version {expected} was read (it is now version {found}); reload it and decide again"
    )]
    Stale { expected: i64, found: i64 },
    #[error(transparent)]
    Location(#[from] LocateError),
    #[error("no or unknown API token; send `Authorization: Bearer <token>`")]
    Unauthenticated,
    #[error("too many requests; try again in {retry_after_s} s")]
    RateLimited { retry_after_s: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<Rejection> for CaseError {
    fn from(r: Rejection) -> CaseError {
        match r {
            Rejection::Forbidden(m) => CaseError::Forbidden(m),
            Rejection::IllegalTransition(m) => CaseError::IllegalTransition(m),
            Rejection::Invalid(m) => CaseError::Invalid(m),
        }
    }
}

impl From<sqlx::Error> for CaseError {
    fn from(e: sqlx::Error) -> CaseError {
        CaseError::Store(StoreError::from(e))
    }
}

/// Where a command was issued from: a note, photos and the actor's position, for the timeline.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub note: Option<String>,
    pub photos: Vec<String>,
    /// The actor's own position (WGS-84), e.g. an inspector checking on site.
    pub position: Option<(f64, f64)>,
    /// The client address or process the request came from.
    pub origin: String,
}

/// Maximum characters of a note.
pub const MAX_NOTE_CHARS: usize = 2000;
/// Maximum photos attached to one report or command.
pub const MAX_PHOTOS: usize = 9;

/// The case loop's facade.
#[derive(Debug)]
pub struct Cases {
    pub store: Store,
    pub city: Arc<SharedCity>,
    pub config: Arc<SharedConfig>,
    desk: tokio::sync::Mutex<intake::Desk>,
    /// Committed case changes, for live views (the console's event stream).
    live: tokio::sync::broadcast::Sender<LiveEvent>,
}

/// A committed case change as live views see it (no personal data).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LiveEvent {
    pub id: String,
    pub state: String,
    /// The last event of the change: `reported`, `dispatched`, `escalated`, `closed`, …
    pub kind: String,
    pub district: String,
    pub street: String,
    pub community: String,
    pub department: Option<String>,
    pub lon: f64,
    pub lat: f64,
    pub overdue: bool,
    /// When the change was decided (µs since the epoch).
    pub at: i64,
}

impl LiveEvent {
    fn of(decision: &Decision) -> LiveEvent {
        let case = &decision.case;
        LiveEvent {
            id: case.id.clone(),
            state: case.state.as_str().to_owned(),
            kind: decision
                .events
                .last()
                .map_or_else(|| "changed".to_owned(), |e| e.kind.clone()),
            district: case.place.district.as_str().to_owned(),
            street: case.place.street.as_str().to_owned(),
            community: case.place.community.as_str().to_owned(),
            department: case.department.clone(),
            lon: case.place.lon,
            lat: case.place.lat,
            overdue: case.clock.as_ref().is_some_and(|c| c.overdue),
            at: decision.events.last().map_or(0, |e| e.at_us),
        }
    }
}

/// The time now, in microseconds since the epoch (adapters pass it in; tests pass a manual clock).
pub fn now_us() -> i64 {
    jiff::Timestamp::now().as_microsecond()
}

/// A new time-ordered identifier.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

impl Cases {
    /// Seeds the catalogue when empty, loads the rules and the open cases for duplicate merging.
    pub async fn open(store: Store, city: Arc<SharedCity>) -> Result<Cases, CaseError> {
        let actor = crate::city::Actor {
            actor: "system:seed".into(),
            origin: "jingzhi".into(),
            at_us: now_us(),
        };
        config::seed(&store, &actor).await?;
        let config = Arc::new(SharedConfig::new(config::load(&store).await?));
        let desk = intake::Desk::load(&store).await?;
        Ok(Cases {
            store,
            city,
            config,
            desk: tokio::sync::Mutex::new(desk),
            live: tokio::sync::broadcast::channel(1024).0,
        })
    }

    /// Live case changes from now on (a slow reader skips what it missed, and is told how many).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<LiveEvent> {
        self.live.subscribe()
    }

    /// Tells live views about a committed decision.
    pub(crate) fn announce(&self, decision: &Decision) {
        // Nobody watching: nothing to build.
        if self.live.receiver_count() > 0 {
            let _ = self.live.send(LiveEvent::of(decision));
        }
    }

    /// Issues a command on a case decided at `expected_version`.
    pub async fn command(
        &self,
        case_id: &str,
        expected_version: i64,
        command: &Command,
        actor: &Actor,
        context: &Context,
        at_us: i64,
    ) -> Result<Case, CaseError> {
        let current = load_case(&self.store, case_id)
            .await?
            .ok_or_else(|| CaseError::NotFound(format!("case {case_id}")))?;
        self.command_on(current, expected_version, command, actor, context, at_us)
            .await
    }

    /// Issues a command on a case the caller has just read (saves reading it again). The write
    /// is still guarded by the version read: if the case moved on meanwhile, the command is
    /// refused as stale.
    pub async fn command_on(
        &self,
        current: Case,
        expected_version: i64,
        command: &Command,
        actor: &Actor,
        context: &Context,
        at_us: i64,
    ) -> Result<Case, CaseError> {
        check_context(context)?;
        if let Command::Rate { .. } = command {
            // Ratings are recorded per report (see `intake::rate`): each reporter rates once.
            return Err(CaseError::Invalid(
                "command: rate a case through its ratings resource, as one of its reporters".into(),
            ));
        }
        let case_id = current.id.clone();
        let case_id = case_id.as_str();
        // Visibility first: a case the actor may not see does not exist for them.
        if !self.may_see(actor, &current).await? {
            return Err(CaseError::NotFound(format!("case {case_id}")));
        }
        if current.version != expected_version {
            return Err(CaseError::Stale {
                expected: expected_version,
                found: current.version,
            });
        }
        let config = self.config.current();
        let category_code = match command {
            Command::Register { category, .. } => Some(category.as_str()),
            _ => current.category.as_deref(),
        };
        let rules = Rules {
            calendar: &config.calendar,
            default_limits: &config.default_limits,
            category: category_code.and_then(|c| config.category(c)),
            departments: &config.active_departments,
        };
        let mut decision = case::decide(&current, command, actor, at_us, &rules)?;
        if let Command::Register { .. } = command {
            let zones = current.place.zones.clone();
            intake::route_and_dispatch(&mut decision, &config, &zones, at_us)?;
        }
        let mut change =
            Change::new().statement(update_case(&decision.case, current.version, at_us));
        self.attach_photos(&mut change, case_id, &context.photos, actor);
        write_events(&mut change, Some(&current), &decision, context);
        change.tallies.extend(crate::evaluation::counter_tallies(
            Some(&current),
            &decision.case,
        ));
        let photo_statements = 1;
        match self.store.write(change).await {
            Ok(_) => {}
            Err(StoreError::Conflict { statement, .. })
                if statement >= photo_statements
                    && statement < photo_statements + context.photos.len() =>
            {
                return Err(CaseError::Invalid(
                    "photos: a photo does not exist or belongs to another case".into(),
                ));
            }
            Err(StoreError::Conflict { .. }) => {
                let found = load_case(&self.store, case_id)
                    .await?
                    .map_or(0, |c| c.version);
                return Err(CaseError::Stale {
                    expected: expected_version,
                    found,
                });
            }
            Err(StoreError::Constraint { message, .. }) if !context.photos.is_empty() => {
                return Err(CaseError::Invalid(format!(
                    "photos: a photo does not exist or belongs to another case ({message})"
                )));
            }
            Err(e) => return Err(e.into()),
        }
        self.announce(&decision);
        self.sync_desk(&decision.case).await?;
        Ok(decision.case)
    }

    /// Attaches photos to a case: the caller's own unattached uploads, or photos already on the
    /// case (a photo cannot be taken from someone else's upload or from another case).
    fn attach_photos(&self, change: &mut Change, case_id: &str, photos: &[String], actor: &Actor) {
        for photo in photos {
            change.statements.push(
                Statement::new(
                    "UPDATE photo SET case_id = $1 WHERE id = $2 AND ((case_id IS NULL AND uploaded_by = $3) OR case_id = $1)",
                )
                .bind(case_id)
                .bind(photo.clone())
                .bind(actor.id.clone())
                .expect_rows(1),
            );
        }
    }
}

fn check_context(context: &Context) -> Result<(), CaseError> {
    if let Some(note) = &context.note
        && note.chars().count() > MAX_NOTE_CHARS
    {
        return Err(CaseError::Invalid(format!(
            "note: at most {MAX_NOTE_CHARS} characters"
        )));
    }
    if context.photos.len() > MAX_PHOTOS {
        return Err(CaseError::Invalid(format!(
            "photos: at most {MAX_PHOTOS} per step"
        )));
    }
    if let Some((lon, lat)) = context.position
        && !(lon.is_finite()
            && lat.is_finite()
            && (-180.0..=180.0).contains(&lon)
            && (-90.0..=90.0).contains(&lat))
    {
        return Err(CaseError::Invalid(
            "position: longitude/latitude out of range".into(),
        ));
    }
    Ok(())
}

/// The parts of a case the audit trail keeps before and after each command (fields in name
/// order, as the audit trail has always written them). After a command, `steps` are the steps it
/// made: the case's timeline is read from them (the `case_step` view).
#[derive(serde::Serialize)]
struct Summary<'a> {
    category: &'a Option<String>,
    deadline_at_us: Option<i64>,
    department: &'a Option<String>,
    level: &'a str,
    reopens: u32,
    reworks: u32,
    stage: Option<&'a str>,
    state: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    steps: Vec<Step<'a>>,
    urgency: &'a str,
    version: i64,
}

/// One step on a case's timeline, as the audit entry of its command carries it (fields in name
/// order). Its time is the entry's (a decision's steps share its time); its actor and role are
/// the entry's unless it names its own: intake's automatic registration and dispatch are
/// `system:intake`'s, in the reporter's entry.
#[derive(serde::Serialize)]
pub(crate) struct Step<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<&'a str>,
    pub detail: &'a serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<&'a str>,
    pub id: String,
    pub kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lon: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub photos: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'a str>,
    pub to: &'a str,
}

fn summary<'a>(case: &'a Case, steps: Vec<Step<'a>>) -> String {
    serde_json::to_string(&Summary {
        category: &case.category,
        deadline_at_us: case.clock.as_ref().map(|c| c.deadline_at_us),
        department: &case.department,
        level: case.level.as_str(),
        reopens: case.reopens,
        reworks: case.reworks,
        stage: case.clock.as_ref().map(|c| c.stage.as_str()),
        state: case.state.as_str(),
        steps,
        urgency: case.urgency.as_str(),
        version: case.version,
    })
    .expect("a summary serializes")
}

/// Writes a command's events as one audit entry, named after its first step (the command's own;
/// the others follow from it), that carries every step for the case's timeline. The note and
/// photos belong to the last step, the actor's position to all.
fn write_events(
    change: &mut Change,
    before: Option<&Case>,
    decision: &Decision,
    context: &Context,
) {
    let Some(first) = decision.events.first() else {
        return;
    };
    debug_assert!(decision.events.iter().all(|e| e.at_us == first.at_us));
    let (lon, lat) = context.position.unzip();
    let count = decision.events.len();
    let steps = decision
        .events
        .iter()
        .enumerate()
        .map(|(index, event)| {
            let last = index + 1 == count;
            Step {
                actor: (event.actor != first.actor).then_some(event.actor.as_str()),
                detail: &event.detail,
                from: event.from.map(|s| s.as_str()),
                id: new_id(),
                kind: &event.kind,
                lat,
                lon,
                note: if last { context.note.as_deref() } else { None },
                photos: if last { &context.photos } else { &[] },
                role: (event.role != first.role).then_some(event.role.as_str()),
                to: event.to.as_str(),
            }
        })
        .collect();
    change.audit.push(AuditRecord {
        at_us: first.at_us,
        actor: first.actor.clone(),
        actor_role: first.role.as_str().into(),
        action: format!("case.{}", first.kind),
        subject_kind: "case".into(),
        subject_id: decision.case.id.clone(),
        origin: context.origin.clone(),
        before: before.map(|case| summary(case, Vec::new())),
        after: Some(summary(&decision.case, steps)),
    });
}

const CASE_COLUMNS: &str = "state = $2, version = $3, category_code = $4, urgency = $5, department_id = $6, level = $7, stage = $8, deadline_at_us = $9, next_due_at_us = $10, overdue = $11, closed_at_us = $12, updated_at_us = $13, data = $14";

fn case_args(statement: Statement, case: &Case, at_us: i64, data: String) -> Statement {
    let clock = case.clock.as_ref();
    statement
        .bind(case.state.as_str())
        .bind(case.version)
        .bind(case.category.clone())
        .bind(case.urgency.as_str())
        .bind(case.department.clone())
        .bind(case.level.as_str())
        .bind(clock.map(|c| c.stage.as_str().to_owned()))
        .bind(clock.map(|c| c.deadline_at_us))
        .bind(case::next_due_us(case))
        .bind(clock.is_some_and(|c| c.overdue))
        .bind(case.closed_at_us)
        .bind(at_us)
        .bind(data)
}

/// The statement creating a case row; `data` is the case serialized.
fn insert_case(case: &Case, at_us: i64, data: String) -> Statement {
    let statement = Statement::new(
        "INSERT INTO case_file (id, state, version, category_code, urgency, department_id, level, stage, deadline_at_us, next_due_at_us, overdue, closed_at_us, updated_at_us, data,
                                channel, lon, lat, grid_code, community_code, street_code, district_code, reported_at_us, reporters)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, 1)",
    )
    .bind(case.id.clone());
    case_args(statement, case, at_us, data)
        .bind(case.channel.as_str())
        .bind(case.place.lon)
        .bind(case.place.lat)
        .bind(case.place.grid.clone())
        .bind(case.place.community.as_str())
        .bind(case.place.street.as_str())
        .bind(case.place.district.as_str())
        .bind(case.reported_at_us)
}

/// The statement moving a case from `prev_version` to its new state (exactly one row, or the
/// change is refused as stale).
fn update_case(case: &Case, prev_version: i64, at_us: i64) -> Statement {
    let sql = format!("UPDATE case_file SET {CASE_COLUMNS} WHERE id = $1 AND version = $15");
    let data = serde_json::to_string(case).expect("a case serializes");
    case_args(Statement::new(sql).bind(case.id.clone()), case, at_us, data)
        .bind(prev_version)
        .expect_rows(1)
}

/// Reads one case.
pub async fn load_case(store: &Store, id: &str) -> Result<Option<Case>, CaseError> {
    let Some(mut row) = store
        .read_row(
            concat!(
                "SELECT data, ",
                reporters_of!("case_file"),
                " FROM case_file WHERE id = $1"
            ),
            &[Arg::from(id)],
        )
        .await?
    else {
        return Ok(None);
    };
    let reporters = row.swap_remove(1);
    case_from_cells(row.swap_remove(0), &reporters).map(Some)
}

/// A case from its `data` and `reporters` cells, as [`Store::read_row`] answers them.
pub(crate) fn case_from_cells(data: Arg, reporters: &Arg) -> Result<Case, CaseError> {
    let reporters = reporters.as_int("reporters")?.unwrap_or(0);
    decode_case(&data.into_text("data")?.unwrap_or_default(), reporters)
}

pub(crate) fn decode_case(data: &str, reporters: i64) -> Result<Case, CaseError> {
    let mut case: Case = serde_json::from_str(data).map_err(|e| {
        CaseError::Store(StoreError::Database(
            format!("stored case is unreadable: {e}").into(),
        ))
    })?;
    // Further reports are linked without touching the case's version (see intake).
    case.reporters = u32::try_from(reporters).unwrap_or(u32::MAX);
    Ok(case)
}
