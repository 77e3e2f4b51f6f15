//! Property tests of the case closed loop's pure state machine: random sequences of commands by
//! random actors at random times, of further reports and of deadline ticks, applied with
//! `case::decide`, `case::link_report` and `case::tick`, hold the loop's invariants.
//!
//! The invariants checked after every step:
//!
//! - every event moves along an edge of the loop (closed only from verified, rated only from
//!   closed by a rating, resume back to the state suspended from), and the events of one step
//!   chain from the case's previous state to its new state;
//! - an accepted command yields at least one event and exactly one more version; a rejected one
//!   leaves the case as it was, for the reason the command's `roles()` / `allowed_states()` tables
//!   and its content give (checked against an oracle written here);
//! - every stage clock has `started_at_us <= warn_at_us <= deadline_at_us`, a live case always
//!   has the clock of its state's stage, and a finished or suspended case has none and never ticks;
//! - `tick` fires exactly when `next_due_us` says it is due, catches the clock up, fires nothing
//!   the second time at the same instant, and escalates exactly once per stage clock that went
//!   overdue.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::sync::LazyLock;

use jz_domain::access::{Actor, Role};
use jz_domain::calendar::WorkCalendar;
use jz_domain::case::{
    self, Case, CaseEvent, CaseState, Channel, Command, MAX_REASON_CHARS, NewCase, Place, Rating,
    Rejection, Rules,
};
use jz_domain::category::{Catalogue, Category, Stage, StageLimits, Urgency, seed_from_csv};
use jz_domain::division::DivisionCode;
use proptest::prelude::*;
use proptest::test_runner::{RngSeed, TestCaseError, TestRunner};

/// A few categories with different clocks: working hours, working days, the natural clock of an
/// urgent matter, hotline requests judged by satisfaction; 06013 is retired below.
const CATALOGUE: &str = "kind,major_code,major_name,code,name
matter,06,市容环境类,06010,暴露垃圾
matter,06,市容环境类,06001,违法建设
matter,06,市容环境类,06013,道路破损
matter,10,突发事件类,10001,火灾
hotline,R1,咨询,R1001,政策咨询
hotline,R3,投诉,R3001,噪声投诉
";

/// Category codes a `Register` command may name: active ones, the retired one, an unknown one.
const CATEGORY_CODES: [&str; 7] = [
    "06010", "06001", "10001", "R1001", "R3001", "06013", "99999",
];
/// Departments the rules know (all active).
const DEPARTMENTS: [&str; 3] = ["sanitation", "roads", "street-office"];
/// Department ids a command or an actor may name: the known ones and one nobody knows.
const DEPARTMENT_NAMES: [&str; 4] = ["sanitation", "roads", "street-office", "ghost"];

const COMMUNITY: &str = "330102001001";
const STREET: &str = "330102001000";
const DISTRICT: &str = "330102000000";

/// Territories an actor may hold, and whether each covers the case's community.
const TERRITORIES: [(Option<&str>, bool); 6] = [
    (None, true),
    (Some(DISTRICT), true),
    (Some(STREET), true),
    (Some(COMMUNITY), true),
    (Some("330102001002"), false),
    (Some("330103000000"), false),
];

static WORLD: LazyLock<World> = LazyLock::new(World::new);

/// The rules of the test city: the catalogue, the Shanghai calendar without holidays.
struct World {
    calendar: WorkCalendar,
    catalogue: Catalogue,
    default_limits: StageLimits,
    departments: Vec<String>,
}

impl World {
    fn new() -> World {
        let mut catalogue = seed_from_csv(CATALOGUE).expect("the inline catalogue parses");
        for category in &mut catalogue.categories {
            if category.code == "06013" {
                category.active = false;
            }
        }
        let default_limits = catalogue.categories[0].limits;
        World {
            calendar: WorkCalendar::shanghai(vec![]),
            catalogue,
            default_limits,
            departments: DEPARTMENTS.iter().map(|d| (*d).to_owned()).collect(),
        }
    }

    fn category(&self, code: &str) -> Option<&Category> {
        self.catalogue.categories.iter().find(|c| c.code == code)
    }

    /// The rules for deciding `command` on `case`, as the use cases build them.
    fn rules<'a>(&'a self, case: &Case, command: &Command) -> Rules<'a> {
        let code = match command {
            Command::Register { category, .. } => Some(category.as_str()),
            _ => case.category.as_deref(),
        };
        Rules {
            calendar: &self.calendar,
            default_limits: &self.default_limits,
            category: code.and_then(|c| self.category(c)),
            departments: &self.departments,
        }
    }
}

fn code(text: &str) -> DivisionCode {
    DivisionCode::parse(text).expect("a test division code")
}

/// 2026-01-01T00:00:00+08:00 in microseconds.
fn new_year_2026() -> i64 {
    "2026-01-01T00:00:00+08:00"
        .parse::<jiff::Timestamp>()
        .expect("a timestamp")
        .as_microsecond()
}

// ---------------------------------------------------------------------------------------------
// What the generator draws: plain numbers, resolved against the case when the step runs, so
// shrinking works on numbers and most steps are meaningful in whatever state the case is in.
// ---------------------------------------------------------------------------------------------

/// Which command kind: one legal in the current state, or any of the eighteen.
#[derive(Debug, Clone, Copy)]
enum KindPick {
    Legal(u8),
    Any(u8),
}

/// The command's kind and every parameter any kind might need.
#[derive(Debug, Clone, Copy)]
struct CommandSeed {
    kind: KindPick,
    category: u8,
    urgency: u8,
    reason: u8,
    department: u8,
    passed: bool,
    extra: u8,
    approve: bool,
    lead: u8,
    members: u8,
    rating: u8,
}

/// Who issues the command: someone the command's tables allow (role, territory, department), or
/// anyone at all.
#[derive(Debug, Clone, Copy)]
enum Who {
    Fitting(u8),
    Any {
        role: u8,
        department: u8,
        territory: u8,
    },
}

#[derive(Debug, Clone, Copy)]
enum Op {
    /// A command after waiting `wait_us`.
    Command {
        seed: CommandSeed,
        who: Who,
        wait_us: i64,
    },
    /// A further report of the same problem (only while the case is open, as intake does).
    Link { wait_us: i64 },
    /// The scheduler looks at the case after waiting `wait_us`.
    Tick { wait_us: i64 },
    /// The scheduler looks at the case exactly when it is next due (or 1 µs before).
    TickAtDue { early: bool },
}

/// How the case starts: reported, registered, or registered and dispatched.
#[derive(Debug, Clone, Copy)]
struct Start {
    offset_us: i64,
    registered: bool,
    dispatched: bool,
    category: u8,
    department: u8,
}

fn wait() -> impl Strategy<Value = i64> {
    const SECOND: i64 = 1_000_000;
    prop_oneof![
        2 => Just(0_i64),
        4 => (0..=2 * 3600_i64).prop_map(|s| s * SECOND),
        4 => (0..=3 * 24 * 3600_i64).prop_map(|s| s * SECOND),
        1 => (0..=40 * 24 * 3600_i64).prop_map(|s| s * SECOND),
    ]
}

fn command_seed() -> impl Strategy<Value = CommandSeed> {
    let kind = prop_oneof![
        3 => any::<u8>().prop_map(KindPick::Legal),
        1 => any::<u8>().prop_map(KindPick::Any),
    ];
    (
        kind,
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        any::<bool>(),
        any::<u8>(),
        any::<bool>(),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
    )
        .prop_map(
            |(
                kind,
                category,
                urgency,
                reason,
                department,
                passed,
                extra,
                approve,
                lead,
                members,
                rating,
            )| CommandSeed {
                kind,
                category,
                urgency,
                reason,
                department,
                passed,
                extra,
                approve,
                lead,
                members,
                rating,
            },
        )
}

fn who() -> impl Strategy<Value = Who> {
    prop_oneof![
        3 => any::<u8>().prop_map(Who::Fitting),
        1 => (any::<u8>(), any::<u8>(), any::<u8>()).prop_map(|(role, department, territory)| {
            Who::Any { role, department, territory }
        }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => (command_seed(), who(), wait()).prop_map(|(seed, who, wait_us)| Op::Command {
            seed,
            who,
            wait_us,
        }),
        1 => wait().prop_map(|wait_us| Op::Link { wait_us }),
        3 => wait().prop_map(|wait_us| Op::Tick { wait_us }),
        2 => any::<bool>().prop_map(|early| Op::TickAtDue { early }),
    ]
}

fn start() -> impl Strategy<Value = Start> {
    (
        0..365 * 24 * 3600_i64,
        any::<bool>(),
        any::<bool>(),
        any::<u8>(),
        any::<u8>(),
    )
        .prop_map(
            |(seconds, registered, dispatched, category, department)| Start {
                offset_us: seconds * 1_000_000,
                registered,
                dispatched,
                category,
                department,
            },
        )
}

// ---------------------------------------------------------------------------------------------
// Resolving the drawn numbers into commands and actors.
// ---------------------------------------------------------------------------------------------

const KINDS: u8 = 18;

fn pick<T: Copy>(items: &[T], index: u8) -> T {
    items[usize::from(index) % items.len()]
}

fn reason(index: u8) -> String {
    match index % 5 {
        0 => String::new(),
        1 => "   ".into(),
        2 => "x".repeat(MAX_REASON_CHARS + 1),
        _ => "现场核实需要".into(),
    }
}

fn build(kind: u8, seed: &CommandSeed) -> Command {
    match kind % KINDS {
        0 => Command::Register {
            category: pick(&CATEGORY_CODES, seed.category).into(),
            urgency: match seed.urgency % 3 {
                0 => None,
                1 => Some(Urgency::Normal),
                _ => Some(Urgency::Urgent),
            },
        },
        1 => Command::Reject {
            reason: reason(seed.reason),
        },
        2 => Command::Dispatch {
            department: pick(&DEPARTMENT_NAMES, seed.department).into(),
        },
        3 => Command::Accept,
        4 => Command::Return {
            reason: reason(seed.reason),
        },
        5 => Command::StartHandling,
        6 => Command::ReportHandled,
        7 => Command::Verify {
            passed: seed.passed,
        },
        8 => Command::Close,
        9 => Command::RequestPostponement {
            // Mostly small, sometimes none, sometimes absurd (the clock must still be sane).
            extra: pick(&[1, 2, 7, 0, 1, 3, 1000, u32::MAX], seed.extra),
            reason: reason(seed.reason),
        },
        10 => Command::DecidePostponement {
            approve: seed.approve,
        },
        11 => Command::Suspend {
            reason: reason(seed.reason),
        },
        12 => Command::Resume,
        13 => Command::Cancel {
            reason: reason(seed.reason),
        },
        14 => Command::Reopen {
            reason: reason(seed.reason),
        },
        15 => Command::Whistle {
            lead: pick(&DEPARTMENT_NAMES, seed.lead).into(),
            departments: DEPARTMENT_NAMES
                .iter()
                .enumerate()
                .filter(|(i, _)| seed.members & (1 << i) != 0)
                .map(|(_, d)| (*d).to_owned())
                .collect(),
        },
        16 => Command::ReportForDuty,
        _ => Command::Rate {
            rating: pick(
                &[
                    Rating::Satisfied,
                    Rating::BasicallySatisfied,
                    Rating::Dissatisfied,
                ],
                seed.rating,
            ),
        },
    }
}

fn resolve_command(seed: &CommandSeed, state: CaseState) -> Command {
    match seed.kind {
        KindPick::Any(kind) => build(kind, seed),
        KindPick::Legal(index) => {
            let legal: Vec<u8> = (0..KINDS)
                .filter(|&k| build(k, seed).allowed_states().contains(&state))
                .collect();
            if legal.is_empty() {
                build(index, seed)
            } else {
                build(pick(&legal, index), seed)
            }
        }
    }
}

/// The actor, and whether their territory covers the case (known from how it was drawn, not
/// asked of `Actor::covers`).
fn resolve_actor(who: Who, command: &Command, case: &Case) -> (Actor, bool) {
    match who {
        Who::Fitting(index) => {
            let role = pick(command.roles(), index);
            let department = if role == Role::Handler {
                match (command, &case.whistle) {
                    (Command::ReportForDuty, Some(whistle)) => {
                        let calls: Vec<&str> = whistle
                            .calls
                            .iter()
                            .map(|c| c.department.as_str())
                            .collect();
                        Some(pick(&calls, index / 3).to_owned())
                    }
                    _ => case.department.clone(),
                }
            } else {
                None
            };
            let territory = pick(&[None, Some(DISTRICT), Some(STREET)], index / 7);
            let actor = Actor {
                id: format!("user:{}", role.as_str()),
                role,
                territory: territory.map(code),
                department,
            };
            (actor, true)
        }
        Who::Any {
            role,
            department,
            territory,
        } => {
            let role = pick(&Role::ALL, role);
            let department = match department % 5 {
                4 => None,
                d => Some(DEPARTMENT_NAMES[usize::from(d)].to_owned()),
            };
            let (territory, covers) = pick(&TERRITORIES, territory);
            let actor = Actor {
                id: format!("user:{}", role.as_str()),
                role,
                territory: territory.map(code),
                department,
            };
            (actor, covers)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The oracle: why a command must be refused, from the tables and the command's content.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Forbidden,
    Illegal,
    Invalid,
    Accepted,
}

fn reason_ok(reason: &str) -> bool {
    !reason.trim().is_empty() && reason.chars().count() <= MAX_REASON_CHARS
}

fn expected(world: &World, case: &Case, command: &Command, actor: &Actor, covers: bool) -> Expect {
    // Authorization first: role, territory, department, the second postponement's approver.
    if !command.roles().contains(&actor.role) || !covers {
        return Expect::Forbidden;
    }
    if actor.role == Role::Handler {
        let mine = actor.department.as_deref();
        let summoned = case
            .whistle
            .as_ref()
            .is_some_and(|w| w.calls.iter().any(|c| Some(c.department.as_str()) == mine));
        let assigned = mine.is_some() && case.department.as_deref() == mine;
        let ok = match command {
            Command::ReportForDuty => summoned,
            _ => assigned,
        };
        if !ok {
            return Expect::Forbidden;
        }
    }
    if matches!(command, Command::DecidePostponement { .. })
        && case.postponements >= 1
        && !matches!(actor.role, Role::DistrictOperator | Role::CityOperator)
    {
        return Expect::Forbidden;
    }
    // Then the state table.
    if !command.allowed_states().contains(&case.state) {
        return Expect::Illegal;
    }
    // Then the content.
    let known = |d: &str| DEPARTMENTS.contains(&d);
    match command {
        Command::Register { category, .. } => match world.category(category) {
            Some(found) if found.active => Expect::Accepted,
            _ => Expect::Invalid,
        },
        Command::Reject { reason }
        | Command::Return { reason }
        | Command::Suspend { reason }
        | Command::Cancel { reason }
        | Command::Reopen { reason } => {
            if reason_ok(reason) {
                Expect::Accepted
            } else {
                Expect::Invalid
            }
        }
        Command::Dispatch { department } => {
            if known(department) {
                Expect::Accepted
            } else {
                Expect::Invalid
            }
        }
        Command::RequestPostponement { extra, reason } => {
            if !reason_ok(reason) || *extra == 0 {
                Expect::Invalid
            } else if case.pending_postponement.is_some() {
                Expect::Illegal
            } else {
                Expect::Accepted
            }
        }
        Command::DecidePostponement { .. } => {
            if case.pending_postponement.is_some() {
                Expect::Accepted
            } else {
                Expect::Illegal
            }
        }
        Command::Resume => {
            if case.suspension.is_some() {
                Expect::Accepted
            } else {
                Expect::Illegal
            }
        }
        Command::Whistle { lead, departments } => {
            let mut all: BTreeSet<&str> = departments.iter().map(String::as_str).collect();
            all.insert(lead);
            if all.len() < 2 || !all.iter().all(|d| known(d)) {
                Expect::Invalid
            } else {
                Expect::Accepted
            }
        }
        Command::ReportForDuty => {
            let mine = actor.department.as_deref();
            let already = case.whistle.as_ref().is_some_and(|w| {
                w.calls
                    .iter()
                    .any(|c| Some(c.department.as_str()) == mine && c.reported_at_us.is_some())
            });
            if already {
                Expect::Illegal
            } else {
                Expect::Accepted
            }
        }
        Command::Rate { .. } => {
            if case.ratings_this_round >= case.reporters {
                Expect::Illegal
            } else {
                Expect::Accepted
            }
        }
        Command::Accept
        | Command::StartHandling
        | Command::ReportHandled
        | Command::Verify { .. }
        | Command::Close => Expect::Accepted,
    }
}

fn outcome_of(result: &Result<case::Decision, Rejection>) -> Expect {
    match result {
        Ok(_) => Expect::Accepted,
        Err(Rejection::Forbidden(_)) => Expect::Forbidden,
        Err(Rejection::IllegalTransition(_)) => Expect::Illegal,
        Err(Rejection::Invalid(_)) => Expect::Invalid,
    }
}

/// The edges of the loop (besides staying in the same state).
fn edge_allowed(from: CaseState, to: CaseState) -> bool {
    use CaseState::*;
    from == to
        || matches!(
            (from, to),
            (Reported, Registered | Rejected | Cancelled)
                | (Registered, Dispatched | Suspended | Cancelled)
                | (Dispatched, Accepted | Registered | Suspended | Cancelled)
                | (Accepted, Handling | Registered | Dispatched | Suspended)
                | (Handling, Handled | Dispatched | Suspended)
                | (Handled, Verified | Handling)
                | (Verified, Closed)
                | (Closed, Rated | Dispatched | Registered)
                | (Rated, Dispatched | Registered)
                | (
                    Suspended,
                    Registered | Dispatched | Accepted | Handling | Cancelled
                )
        )
}

/// The stage whose clock runs in a live state.
fn stage_of(state: CaseState) -> Option<Stage> {
    match state {
        CaseState::Reported => Some(Stage::Register),
        CaseState::Registered => Some(Stage::Dispatch),
        CaseState::Dispatched | CaseState::Accepted | CaseState::Handling => Some(Stage::Handle),
        CaseState::Handled => Some(Stage::Verify),
        CaseState::Verified => Some(Stage::Close),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Running a sequence.
// ---------------------------------------------------------------------------------------------

/// Fails the test case with the message and the steps so far.
macro_rules! ensure {
    ($trace:expr, $cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(TestCaseError::fail(format!(
                "{}\nsteps:\n{}",
                format!($($msg)+),
                $trace.join("\n")
            )));
        }
    };
}

/// What the run keeps besides the case: the clock epochs and which of them went overdue.
#[derive(Debug, Default)]
struct Books {
    epoch: u64,
    overdue_epochs: BTreeSet<u64>,
    escalated_events: u64,
    suspended_from: Option<CaseState>,
}

fn short(command: &Command) -> String {
    let mut text = format!("{command:?}");
    if text.len() > 120 {
        text.truncate(120);
        text.push('…');
    }
    text
}

/// Checks what must hold of any case at rest.
fn check_case(case: &Case, trace: &[String]) -> Result<(), TestCaseError> {
    if let Some(clock) = &case.clock {
        ensure!(
            trace,
            clock.started_at_us <= clock.warn_at_us && clock.warn_at_us <= clock.deadline_at_us,
            "clock out of order: {clock:?}"
        );
    }
    if case.state.is_final() || case.state == CaseState::Suspended {
        ensure!(
            trace,
            case.clock.is_none(),
            "a {} case has a running clock: {:?}",
            case.state,
            case.clock
        );
        ensure!(
            trace,
            case::next_due_us(case).is_none(),
            "a {} case is due",
            case.state
        );
        ensure!(
            trace,
            case::tick(case, i64::MAX).is_none(),
            "a {} case ticks",
            case.state
        );
    } else {
        let stage = case.clock.as_ref().map(|c| c.stage);
        ensure!(
            trace,
            stage == stage_of(case.state),
            "a {} case runs the clock of stage {stage:?}",
            case.state
        );
    }
    ensure!(
        trace,
        (case.state == CaseState::Suspended) == case.suspension.is_some(),
        "suspension {:?} in state {}",
        case.suspension,
        case.state
    );
    Ok(())
}

/// Checks the events of one accepted step: each along an edge of the loop, chained from the
/// previous state to the new one.
fn check_events(
    before: &Case,
    after: &Case,
    events: &[CaseEvent],
    command: Option<&Command>,
    trace: &[String],
) -> Result<(), TestCaseError> {
    ensure!(trace, !events.is_empty(), "an accepted step without events");
    ensure!(
        trace,
        events[0].from == Some(before.state),
        "first event from {:?}, case was {}",
        events[0].from,
        before.state
    );
    ensure!(
        trace,
        events.last().map(|e| e.to) == Some(after.state),
        "last event to {:?}, case is {}",
        events.last().map(|e| e.to),
        after.state
    );
    for pair in events.windows(2) {
        ensure!(
            trace,
            pair[1].from == Some(pair[0].to),
            "broken chain: {} → {:?} then {:?} → {}",
            pair[0].kind,
            pair[0].to,
            pair[1].from,
            pair[1].to
        );
    }
    for event in events {
        let from = event.from.expect("checked: every event has a from state");
        ensure!(
            trace,
            edge_allowed(from, event.to),
            "event {} moves along no edge of the loop: {from} → {}",
            event.kind,
            event.to
        );
        if event.to == CaseState::Closed && from != CaseState::Closed {
            ensure!(
                trace,
                from == CaseState::Verified,
                "closed from {from} by {}",
                event.kind
            );
        }
        if event.to == CaseState::Rated && from != CaseState::Rated {
            ensure!(
                trace,
                from == CaseState::Closed
                    && event.kind == "rated"
                    && matches!(command, Some(Command::Rate { .. })),
                "rated from {from} by {} ({command:?})",
                event.kind
            );
        }
    }
    Ok(())
}

/// Applies `tick` at `now` and checks the scheduler's invariants.
fn tick_at(
    case: &mut Case,
    now: i64,
    books: &mut Books,
    trace: &mut Vec<String>,
    coverage: &mut Coverage,
) -> Result<(), TestCaseError> {
    let due = case::next_due_us(case);
    let result = case::tick(case, now);
    trace.push(format!(
        "  tick at {now} (next due {due:?}) → {}",
        match &result {
            Some(d) => d
                .events
                .iter()
                .map(|e| e.kind.as_str())
                .collect::<Vec<_>>()
                .join("+"),
            None => "nothing".into(),
        }
    ));
    ensure!(
        trace,
        result.is_some() == due.is_some_and(|d| d <= now),
        "tick fired {} but next_due_us is {due:?} at {now}",
        result.is_some()
    );
    if let Some(decision) = result {
        ensure!(
            trace,
            decision.case.version == case.version + 1,
            "a tick moved the version from {} to {}",
            case.version,
            decision.case.version
        );
        check_events(case, &decision.case, &decision.events, None, trace)?;
        let count = |kind: &str| decision.events.iter().filter(|e| e.kind == kind).count();
        ensure!(
            trace,
            decision.events.iter().all(|e| matches!(
                e.kind.as_str(),
                "warned" | "overdue" | "escalated"
            ) && e.from == Some(case.state)
                && e.to == case.state
                && e.at_us == now),
            "unexpected tick events {:?}",
            decision.events
        );
        ensure!(
            trace,
            count("warned") <= 1 && count("overdue") <= 1 && count("escalated") <= count("overdue"),
            "a tick with {} warnings, {} overdue, {} escalations",
            count("warned"),
            count("overdue"),
            count("escalated")
        );
        // A stage escalates once: the first time its clock runs out. After an approved
        // postponement it may run out again, without a second escalation.
        if count("escalated") == 1 {
            ensure!(
                trace,
                books.overdue_epochs.insert(books.epoch),
                "clock epoch {} escalated twice",
                books.epoch
            );
        } else if count("overdue") == 1 {
            ensure!(
                trace,
                books.overdue_epochs.contains(&books.epoch),
                "clock epoch {} went overdue without escalating",
                books.epoch
            );
        }
        books.escalated_events += count("escalated") as u64;
        coverage.warnings += count("warned") as u64;
        coverage.escalations += count("escalated") as u64;
        *case = decision.case;
    }
    if let Some(clock) = &case.clock {
        ensure!(
            trace,
            (clock.warned || now < clock.warn_at_us)
                && (clock.overdue || now < clock.deadline_at_us),
            "after a tick at {now} the clock is behind: {clock:?}"
        );
    }
    ensure!(
        trace,
        case::tick(case, now).is_none(),
        "a second tick at the same instant fired"
    );
    check_case(case, trace)
}

fn run(
    world: &World,
    start: Start,
    ops: &[Op],
    coverage: &mut Coverage,
) -> Result<(), TestCaseError> {
    let mut trace: Vec<String> = Vec::new();
    let mut now = new_year_2026() + start.offset_us;
    let inspector = Actor {
        id: "user:inspector".into(),
        role: Role::Inspector,
        territory: Some(code(STREET)),
        department: None,
    };
    let place = Place {
        lon: 120.005,
        lat: 30.005,
        grid: format!("{COMMUNITY}001"),
        community: code(COMMUNITY),
        street: code(STREET),
        district: code(DISTRICT),
        zones: vec!["zone-1".into()],
    };
    let opened = case::open(
        NewCase {
            id: "case-1".into(),
            channel: Channel::Inspector,
            description: "路边有暴露垃圾".into(),
            place,
            at_us: now,
        },
        &Rules {
            calendar: &world.calendar,
            default_limits: &world.default_limits,
            category: None,
            departments: &world.departments,
        },
        &inspector,
    );
    trace.push(format!("open at {now}"));
    ensure!(
        trace,
        opened.events.len() == 1 && opened.events[0].from.is_none(),
        "open gave {:?}",
        opened.events
    );
    let mut case = opened.case;
    ensure!(
        trace,
        case.version == 1,
        "a new case at version {}",
        case.version
    );
    check_case(&case, &trace)?;
    let system = Actor::system("intake");
    if start.registered {
        let category = pick(&CATEGORY_CODES[..5], start.category);
        let command = Command::Register {
            category: category.into(),
            urgency: None,
        };
        let decision =
            case::decide(&case, &command, &system, now, &world.rules(&case, &command))
                .map_err(|e| TestCaseError::fail(format!("intake's register refused: {e}")))?;
        trace.push(format!("  intake registers {category}"));
        case = decision.case;
        if start.dispatched {
            let department = pick(&DEPARTMENTS, start.department);
            let command = Command::Dispatch {
                department: department.into(),
            };
            let decision =
                case::decide(&case, &command, &system, now, &world.rules(&case, &command))
                    .map_err(|e| TestCaseError::fail(format!("intake's dispatch refused: {e}")))?;
            trace.push(format!("  intake dispatches to {department}"));
            case = decision.case;
        }
        check_case(&case, &trace)?;
    }
    let mut books = Books::default();

    for op in ops {
        coverage.states.insert(case.state.as_str());
        match *op {
            Op::Command { seed, who, wait_us } => {
                now += wait_us;
                let command = resolve_command(&seed, case.state);
                let (actor, covers) = resolve_actor(who, &command, &case);
                let rules = world.rules(&case, &command);
                let want = expected(world, &case, &command, &actor, covers);
                let result = case::decide(&case, &command, &actor, now, &rules);
                let got = outcome_of(&result);
                if got != Expect::Accepted {
                    coverage.refused.insert(format!("{got:?}"));
                }
                trace.push(format!(
                    "  at {now} v{} {}: {} by {} (dept {:?}, territory {:?}) → {}",
                    case.version,
                    case.state,
                    short(&command),
                    actor.role,
                    actor.department,
                    actor.territory.map(|t| t.as_str().to_owned()),
                    match &result {
                        Ok(d) => format!("{} v{}", d.case.state, d.case.version),
                        Err(e) => format!("{e:?}").chars().take(100).collect(),
                    }
                ));
                ensure!(
                    trace,
                    got == want,
                    "expected {want:?}, decide answered {got:?}"
                );
                let Ok(decision) = result else {
                    // A rejection leaves the case as it was: `case` is unchanged by design
                    // (decide takes it by reference), so the version stays.
                    continue;
                };
                coverage.accepted.insert(command.name());
                ensure!(
                    trace,
                    decision.case.version == case.version + 1,
                    "an accepted command moved the version from {} to {}",
                    case.version,
                    decision.case.version
                );
                ensure!(
                    trace,
                    decision
                        .events
                        .iter()
                        .all(|e| e.at_us == now && e.actor == actor.id && e.role == actor.role),
                    "events not stamped with the command's time and actor: {:?}",
                    decision.events
                );
                check_events(
                    &case,
                    &decision.case,
                    &decision.events,
                    Some(&command),
                    &trace,
                )?;
                let next = decision.case;
                // The state the command leads to.
                let target_ok = match &command {
                    Command::Resume => Some(next.state) == books.suspended_from,
                    Command::Suspend { .. } => next.state == CaseState::Suspended,
                    Command::Close => next.state == CaseState::Closed,
                    Command::Verify { passed: true } => next.state == CaseState::Verified,
                    Command::Verify { passed: false } => next.state == CaseState::Handling,
                    Command::Register { .. } => next.state == CaseState::Registered,
                    Command::Reject { .. } => next.state == CaseState::Rejected,
                    Command::Cancel { .. } => next.state == CaseState::Cancelled,
                    Command::Dispatch { .. } => next.state == CaseState::Dispatched,
                    Command::Return { .. } => next.state == CaseState::Registered,
                    _ => true,
                };
                ensure!(
                    trace,
                    target_ok,
                    "{} led from {} to {} (suspended from {:?})",
                    command.name(),
                    case.state,
                    next.state,
                    books.suspended_from
                );
                if next.state == CaseState::Suspended && case.state != CaseState::Suspended {
                    books.suspended_from = Some(case.state);
                }
                if next.state != CaseState::Suspended {
                    books.suspended_from = None;
                }
                // A new stage clock is a new epoch: another stage or another start. (An approved
                // postponement keeps the clock: its deadline moves and its warning and overdue
                // marks may reset, but the stage escalates only once.)
                if let Some(clock) = &next.clock {
                    let restarted = match &case.clock {
                        None => true,
                        Some(old) => {
                            old.stage != clock.stage || old.started_at_us != clock.started_at_us
                        }
                    };
                    if restarted {
                        books.epoch += 1;
                        ensure!(
                            trace,
                            clock.started_at_us == now && !clock.warned && !clock.overdue,
                            "a restarted clock is not fresh: {clock:?}"
                        );
                    }
                }
                ensure!(
                    trace,
                    next.escalations == case.escalations,
                    "a command escalated"
                );
                case = next;
                check_case(&case, &trace)?;
            }
            Op::Link { wait_us } => {
                if !case.state.is_open() {
                    continue;
                }
                now += wait_us;
                let linked = case::link_report(&case, &inspector, now, "report-n");
                trace.push(format!("  at {now} a further report is linked"));
                ensure!(
                    trace,
                    linked.case.version == case.version
                        && linked.case.reporters == case.reporters + 1
                        && linked.case.state == case.state,
                    "linking changed more than the reporters: {:?}",
                    linked.case
                );
                check_events(&case, &linked.case, &linked.events, None, &trace)?;
                case = linked.case;
            }
            Op::Tick { wait_us } => {
                now += wait_us;
                tick_at(&mut case, now, &mut books, &mut trace, coverage)?;
            }
            Op::TickAtDue { early } => {
                // Absurd postponements put deadlines near the end of time; time stays sane.
                let horizon = now + 400 * 24 * 3600 * 1_000_000;
                if let Some(due) = case::next_due_us(&case).filter(|&d| d <= horizon) {
                    let at = if early { due - 1 } else { due };
                    now = now.max(at);
                }
                tick_at(&mut case, now, &mut books, &mut trace, coverage)?;
            }
        }
    }
    coverage.states.insert(case.state.as_str());
    if case.escalations >= 2 {
        coverage.cases_escalated_twice += 1;
    }
    ensure!(
        trace,
        books.escalated_events == books.overdue_epochs.len() as u64
            && u64::from(case.escalations) == books.escalated_events,
        "{} escalation events, {} clocks went overdue, the case counts {}",
        books.escalated_events,
        books.overdue_epochs.len(),
        case.escalations
    );
    Ok(())
}

/// What the sequences reached, so a generator that stopped exploring fails loudly instead of
/// passing vacuously.
#[derive(Debug, Default)]
struct Coverage {
    states: BTreeSet<&'static str>,
    accepted: BTreeSet<&'static str>,
    refused: BTreeSet<String>,
    warnings: u64,
    escalations: u64,
    cases_escalated_twice: u64,
}

impl Coverage {
    fn check(&self) {
        let all_states: BTreeSet<&str> = CaseState::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(self.states, all_states, "states reached");
        let all_kinds: BTreeSet<&str> = (0..KINDS).map(|k| build(k, &SEED_ZERO).name()).collect();
        assert_eq!(self.accepted, all_kinds, "commands accepted");
        assert_eq!(
            self.refused,
            ["Forbidden", "Illegal", "Invalid"]
                .into_iter()
                .map(String::from)
                .collect(),
            "kinds of refusal"
        );
        assert!(
            self.warnings > 0 && self.escalations > 0 && self.cases_escalated_twice > 0,
            "{self:?}"
        );
    }
}

const SEED_ZERO: CommandSeed = CommandSeed {
    kind: KindPick::Any(0),
    category: 0,
    urgency: 0,
    reason: 0,
    department: 0,
    passed: false,
    extra: 0,
    approve: false,
    lead: 0,
    members: 0,
    rating: 0,
};

#[test]
fn random_command_sequences_hold_the_loop_invariants() {
    // A fixed seed and no regression files: the same sequences on every run, nothing written.
    let config = ProptestConfig {
        cases: 6000,
        rng_seed: RngSeed::Fixed(20_260_930),
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let coverage = RefCell::new(Coverage::default());
    let mut runner = TestRunner::new(config);
    let sequences = (start(), prop::collection::vec(op(), 1..80));
    let result = runner.run(&sequences, |(start, ops)| {
        run(&WORLD, start, &ops, &mut coverage.borrow_mut())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    coverage.into_inner().check();
}
