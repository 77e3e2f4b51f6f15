//! Property tests of the case loop through the use cases and a real store: random sequences of
//! intakes (random points in the test city, a few categories, repeated intake keys, near
//! duplicates, bursts of concurrent reports), commands by random actors (some on stale
//! versions, some illegal, some racing each other), ratings, scheduler passes at increasing
//! manual times and restarts of the facade.
//!
//! Each step is checked against the pure state machine (`jz_domain::case::decide` / `tick` on the
//! case as stored before the step) and against the store after it; merging is checked against the
//! stored cases (the nearest open case of the category within the distance whose latest report
//! is inside the window). After the sequence the whole database is checked: no case lost or
//! duplicated, one report row per non-replayed intake, each intake key once, one audit entry per
//! timeline event, timelines that chain from `reported` to the stored state, the audit chain
//! intact, and `next_due_at_us` equal to `jz_domain::case::next_due_us` of the stored case.
//! A failure names the resolved steps; the minimal input follows.
//!
//! The file ends with small fixed examples of what the sequences found.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use jz_app::cases::intake::{IntakeResult, Outcome, ReportInput, Reporter};
use jz_app::cases::{CaseError, Cases, Context, config, load_case};
use jz_app::city::plan::Stage;
use jz_app::city::{Actor as CliActor, FieldMapping, ImportOptions, SharedCity, SourceFile};
use jz_domain::access::{Actor, Role};
use jz_domain::case::{
    self, Case, CaseState, Channel, Command, Decision, Rating, Rejection, Rules,
};
use jz_domain::category::{EvaluationDomain, Urgency};
use jz_domain::division::{DivisionCode, DivisionLevel};
use jz_domain::evaluation;
use jz_domain::responsibility::{
    CategoryScope, DepartmentKind, Placement, ResponsibilityRule, Routing, Territory, route,
};
use jz_geo::datum::Datum;
use jz_store::Store;
use proptest::prelude::*;
use proptest::test_runner::{RngSeed, TestCaseError, TestRunner};
use sqlx::Row;

// ---------------------------------------------------------------------------------------------
// The test city (as in tests/case_loop.rs).
// ---------------------------------------------------------------------------------------------

/// A 2 km × 2 km city with one real district; its street and two communities are generated.
const CITY: &str = r#"{"type":"FeatureCollection","features":[
  {"type":"Feature","properties":{"code":"330100000000","name":"Test City","level":"city"},
   "geometry":{"type":"Polygon","coordinates":[[[120.00,30.00],[120.02,30.00],[120.02,30.02],[120.00,30.02],[120.00,30.00]]]}},
  {"type":"Feature","properties":{"code":"330102000000","name":"Only District","level":"district","parent_code":"330100000000"},
   "geometry":{"type":"Polygon","coordinates":[[[120.00,30.00],[120.02,30.00],[120.02,30.02],[120.00,30.02],[120.00,30.00]]]}}
]}"#;
const CODES: &str = "code,name,level,parent_code\n330102001000,One Street,street,330102000000\n330102001001,North Community,community,330102001000\n330102001002,South Community,community,330102001000\n";

/// Local Shanghai time → microseconds.
fn at(local: &str) -> i64 {
    format!("{local}+08:00")
        .parse::<jiff::Timestamp>()
        .unwrap()
        .as_microsecond()
}

fn code(text: &str) -> DivisionCode {
    DivisionCode::parse(text).unwrap()
}

fn person(id: &str, role: Role, department: Option<&str>) -> Actor {
    Actor {
        id: format!("user:{id}"),
        role,
        territory: Some(code("330102001000")),
        department: department.map(str::to_owned),
    }
}

async fn city(store: &Store) -> (Cases, Arc<SharedCity>) {
    let admin = CliActor {
        actor: "user:admin".into(),
        origin: "test".into(),
        at_us: at("2026-09-01T08:00:00"),
    };
    jz_app::city::import(
        store,
        vec![
            SourceFile {
                name: "city.geojson".into(),
                content: CITY.into(),
            },
            SourceFile {
                name: "codes.csv".into(),
                content: CODES.into(),
            },
        ],
        FieldMapping::default(),
        ImportOptions::default(),
        admin.clone(),
        Box::new(|_: Stage, _, _| {}),
    )
    .await
    .unwrap();
    let model = jz_app::city::load_model(store).await.unwrap();
    let shared = Arc::new(SharedCity::new(model));
    let cases = Cases::open(store.clone(), shared.clone()).await.unwrap();
    for (id, name, kind, level, division) in [
        (
            "sanitation",
            "环卫所",
            DepartmentKind::Bureau,
            DivisionLevel::District,
            "330102000000",
        ),
        (
            "roads",
            "道路养护所",
            DepartmentKind::Bureau,
            DivisionLevel::District,
            "330102000000",
        ),
        (
            "street-office",
            "一街道办",
            DepartmentKind::StreetOffice,
            DivisionLevel::Street,
            "330102001000",
        ),
    ] {
        config::put_department(
            store,
            &cases.config,
            &admin,
            config::department(id, name, kind, level, code(division)),
        )
        .await
        .unwrap();
    }
    for (id, scope, department, priority, fallback) in [
        ("garbage", "06010", "sanitation", 10, false),
        ("roads-street", "06013", "roads", 10, false),
        ("roads-street-2", "06013", "street-office", 10, false),
        ("fallback", "*", "street-office", 0, true),
    ] {
        config::add_rule(
            store,
            &cases.config,
            &admin,
            ResponsibilityRule {
                id: id.into(),
                category: scope.parse::<CategoryScope>().unwrap(),
                territory: Territory::Division(code("330102001000")),
                level: DivisionLevel::Street,
                department: department.into(),
                priority,
                fallback,
            },
        )
        .await
        .unwrap();
    }
    (cases, shared)
}

fn context() -> Context {
    Context {
        origin: "test".into(),
        ..Context::default()
    }
}

// ---------------------------------------------------------------------------------------------
// What the generator draws: plain numbers, resolved against the database when the step runs.
// ---------------------------------------------------------------------------------------------

/// Where a report is: anywhere in the city, or within about 30 m of an earlier report.
#[derive(Debug, Clone, Copy)]
enum PlaceSeed {
    Anywhere(u16, u16),
    Near { earlier: u8, dx: i8, dy: i8 },
}

#[derive(Debug, Clone, Copy)]
struct IntakeSeed {
    place: PlaceSeed,
    category: u8,
    key: u8,
    reporter: u8,
}

/// Which command kind: the one moving the case along the main path, one legal in the case's
/// current state, or any of the eighteen.
#[derive(Debug, Clone, Copy)]
enum KindPick {
    Forward,
    Legal(u8),
    Any(u8),
}

#[derive(Debug, Clone, Copy)]
struct CommandSeed {
    kind: KindPick,
    param: u8,
    reason: u8,
    flag: bool,
}

/// Who issues the command: someone the command's tables allow, or anyone at all.
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
    Intake {
        seed: IntakeSeed,
        wait_us: i64,
    },
    /// Two or three reports of the same problem at the same moment, taken in concurrently:
    /// the followers are placed next to the first (or anywhere) and sometimes carry its key.
    Burst {
        seeds: [IntakeSeed; 3],
        size: u8,
        wait_us: i64,
    },
    /// A command on one of the cases, decided on its current version (or a stale/future one).
    Command {
        case: u8,
        seed: CommandSeed,
        who: Who,
        version: u8,
        wait_us: i64,
    },
    /// Two commands on the same case and version at the same time.
    Race {
        case: u8,
        first: (CommandSeed, Who),
        second: (CommandSeed, Who),
        wait_us: i64,
    },
    Rate {
        report: u8,
        rating: u8,
        rater: u8,
        wait_us: i64,
    },
    Deadlines {
        wait_us: i64,
    },
    /// One case driven along the main path towards closing, a step every `wait_us`.
    Drive {
        case: u8,
        actors: u8,
        wait_us: i64,
    },
    /// The facade is opened again on the same store (the desk reloads from the database).
    Restart,
}

fn wait() -> impl Strategy<Value = i64> {
    const SECOND: i64 = 1_000_000;
    prop_oneof![
        2 => Just(0_i64),
        4 => (0..=2 * 3600_i64).prop_map(|s| s * SECOND),
        3 => (0..=30 * 3600_i64).prop_map(|s| s * SECOND),
        1 => (0..=10 * 24 * 3600_i64).prop_map(|s| s * SECOND),
    ]
}

fn intake_seed() -> impl Strategy<Value = IntakeSeed> {
    let place = prop_oneof![
        1 => (any::<u16>(), any::<u16>()).prop_map(|(x, y)| PlaceSeed::Anywhere(x, y)),
        1 => (any::<u8>(), any::<i8>(), any::<i8>())
            .prop_map(|(earlier, dx, dy)| PlaceSeed::Near { earlier, dx, dy }),
    ];
    (place, any::<u8>(), any::<u8>(), any::<u8>()).prop_map(|(place, category, key, reporter)| {
        IntakeSeed {
            place,
            category,
            key,
            reporter,
        }
    })
}

fn command_seed() -> impl Strategy<Value = CommandSeed> {
    let kind = prop_oneof![
        4 => Just(KindPick::Forward),
        3 => any::<u8>().prop_map(KindPick::Legal),
        1 => any::<u8>().prop_map(KindPick::Any),
    ];
    (kind, any::<u8>(), any::<u8>(), any::<bool>()).prop_map(|(kind, param, reason, flag)| {
        CommandSeed {
            kind,
            param,
            reason,
            flag,
        }
    })
}

fn who() -> impl Strategy<Value = Who> {
    prop_oneof![
        4 => any::<u8>().prop_map(Who::Fitting),
        1 => (any::<u8>(), any::<u8>(), any::<u8>()).prop_map(|(role, department, territory)| {
            Who::Any { role, department, territory }
        }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (intake_seed(), wait()).prop_map(|(seed, wait_us)| Op::Intake { seed, wait_us }),
        1 => ([intake_seed(), intake_seed(), intake_seed()], 2..=3_u8, wait()).prop_map(
            |(seeds, size, wait_us)| Op::Burst { seeds, size, wait_us }
        ),
        9 => (any::<u8>(), command_seed(), who(), any::<u8>(), wait()).prop_map(
            |(case, seed, who, version, wait_us)| Op::Command { case, seed, who, version, wait_us }
        ),
        1 => (any::<u8>(), (command_seed(), who()), (command_seed(), who()), wait()).prop_map(
            |(case, first, second, wait_us)| Op::Race { case, first, second, wait_us }
        ),
        2 => (any::<u8>(), any::<u8>(), any::<u8>(), wait()).prop_map(
            |(report, rating, rater, wait_us)| Op::Rate { report, rating, rater, wait_us }
        ),
        2 => wait().prop_map(|wait_us| Op::Deadlines { wait_us }),
        1 => (any::<u8>(), any::<u8>(), wait()).prop_map(
            |(case, actors, wait_us)| Op::Drive { case, actors, wait_us }
        ),
        1 => Just(Op::Restart),
    ]
}

fn pick<T: Copy>(items: &[T], index: u8) -> T {
    items[usize::from(index) % items.len()]
}

// ---------------------------------------------------------------------------------------------
// Resolving seeds.
// ---------------------------------------------------------------------------------------------

const KINDS: u8 = 18;
const REGISTER_CATEGORIES: [&str; 5] = ["06010", "06013", "06027", "R3001", "99999"];
const DEPARTMENT_NAMES: [&str; 4] = ["sanitation", "roads", "street-office", "ghost"];
const TERRITORIES: [Option<&str>; 6] = [
    None,
    Some("330102000000"),
    Some("330102001000"),
    Some("330102001001"),
    Some("330102001002"),
    Some("330103000000"),
];

/// (given category, description): three ordinary matters, a hotline complaint judged by
/// satisfaction, and two reports without a category for the classifier.
const REPORTS: [(Option<&str>, &str); 6] = [
    (Some("06010"), "路边有暴露垃圾"),
    (Some("06013"), "路面破损"),
    (Some("06027"), "饭店油烟很大"),
    (Some("R3001"), "物业不管楼道卫生"),
    (None, "小区门口垃圾堆了好几天没人清理"),
    (None, "这里有点问题"),
];

fn reason(index: u8) -> String {
    match index % 6 {
        0 => String::new(),
        1 => "   ".into(),
        _ => "现场核实需要".into(),
    }
}

fn build(kind: u8, seed: &CommandSeed) -> Command {
    let p = seed.param;
    match kind % KINDS {
        0 => Command::Register {
            category: pick(&REGISTER_CATEGORIES, p).into(),
            urgency: match (p / 5) % 3 {
                0 => None,
                1 => Some(Urgency::Normal),
                _ => Some(Urgency::Urgent),
            },
        },
        1 => Command::Reject {
            reason: reason(seed.reason),
        },
        2 => Command::Dispatch {
            department: pick(&DEPARTMENT_NAMES, p).into(),
        },
        3 => Command::Accept,
        4 => Command::Return {
            reason: reason(seed.reason),
        },
        5 => Command::StartHandling,
        6 => Command::ReportHandled,
        7 => Command::Verify { passed: seed.flag },
        8 => Command::Close,
        9 => Command::RequestPostponement {
            extra: pick(&[1, 2, 7, 0, 1, 3], p),
            reason: reason(seed.reason),
        },
        10 => Command::DecidePostponement { approve: seed.flag },
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
            lead: pick(&DEPARTMENT_NAMES, p).into(),
            departments: DEPARTMENT_NAMES
                .iter()
                .enumerate()
                .filter(|(i, _)| (p >> 2) & (1 << i) != 0)
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
                p,
            ),
        },
    }
}

fn resolve_command(seed: &CommandSeed, state: CaseState) -> Command {
    match seed.kind {
        KindPick::Forward => {
            let kind = match state {
                CaseState::Reported => 0,
                CaseState::Registered => 2,
                CaseState::Dispatched => 3,
                CaseState::Accepted => 5,
                CaseState::Handling => 6,
                CaseState::Handled => 7,
                CaseState::Verified => 8,
                CaseState::Suspended => 12,
                // Closed cases wait for their ratings: the command path refuses to rate.
                CaseState::Closed | CaseState::Rated => 17,
                CaseState::Rejected | CaseState::Cancelled => seed.param,
            };
            build(kind, seed)
        }
        KindPick::Any(kind) => build(kind, seed),
        KindPick::Legal(index) => {
            // Rate goes through `Cases::rate`; the command path refuses it.
            let legal: Vec<u8> = (0..KINDS - 1)
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

fn resolve_actor(who: Who, command: &Command, case: &Case) -> Actor {
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
            Actor {
                territory: pick(&TERRITORIES[..3], index / 7).map(code),
                ..person(role.as_str(), role, department.as_deref())
            }
        }
        Who::Any {
            role,
            department,
            territory,
        } => {
            let role = pick(&Role::ALL, role);
            let department = match department % 5 {
                4 => None,
                d => Some(DEPARTMENT_NAMES[usize::from(d)]),
            };
            Actor {
                territory: pick(&TERRITORIES, territory).map(code),
                ..person(role.as_str(), role, department)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Expected outcomes, from the pure state machine on the case as stored.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    NotFound,
    Stale,
    Forbidden,
    Illegal,
    Invalid,
    Other,
}

fn refusal_of(error: &CaseError) -> Refusal {
    match error {
        CaseError::NotFound(_) => Refusal::NotFound,
        CaseError::Stale { .. } => Refusal::Stale,
        CaseError::Forbidden(_) => Refusal::Forbidden,
        CaseError::IllegalTransition(_) => Refusal::Illegal,
        CaseError::Invalid(_) => Refusal::Invalid,
        _ => Refusal::Other,
    }
}

fn rejection_refusal(rejection: &Rejection) -> Refusal {
    match rejection {
        Rejection::Forbidden(_) => Refusal::Forbidden,
        Rejection::IllegalTransition(_) => Refusal::Illegal,
        Rejection::Invalid(_) => Refusal::Invalid,
    }
}

/// Whether the actor may see the case: inside their territory, and for a handler their
/// department's (or summoned) case, for a citizen a case they reported.
fn visible(model: &Model, actor: &Actor, case: &Case) -> bool {
    if !actor.covers(&case.place.community) {
        return false;
    }
    match actor.role {
        Role::Handler => {
            let mine = actor.department.as_deref();
            case.department.as_deref() == mine
                || case
                    .whistle
                    .as_ref()
                    .is_some_and(|w| w.calls.iter().any(|c| Some(c.department.as_str()) == mine))
        }
        Role::Citizen | Role::Volunteer | Role::CommunityWorker => model.intakes.iter().any(|i| {
            i.outcome != Outcome::Replayed && i.case_id == case.id && i.submitted_by == actor.id
        }),
        _ => true,
    }
}

/// What `Cases::command` must answer for a command decided on `version` of `current`.
fn expected_command(
    cases: &Cases,
    model: &Model,
    current: &Case,
    version: i64,
    command: &Command,
    actor: &Actor,
) -> Result<Decision, Refusal> {
    if matches!(command, Command::Rate { .. }) {
        return Err(Refusal::Invalid);
    }
    if !visible(model, actor, current) {
        return Err(Refusal::NotFound);
    }
    if version != current.version {
        return Err(Refusal::Stale);
    }
    let mut decision =
        decide(cases, current, command, actor, model.now).map_err(|r| rejection_refusal(&r))?;
    if let Command::Register { .. } = command {
        route_registered(cases, &mut decision, model.now).map_err(|r| rejection_refusal(&r))?;
    }
    Ok(decision)
}

/// A registration is routed as intake routes it: dispatched by the system when exactly one
/// responsibility rule decides (in the same version), otherwise queued with the reason.
fn route_registered(cases: &Cases, decision: &mut Decision, at_us: i64) -> Result<(), Rejection> {
    let config = cases.config.current();
    let Some(code) = decision.case.category.clone() else {
        return Ok(());
    };
    let place = &decision.case.place;
    let zones: Vec<String> = cases
        .city
        .current()
        .locate(place.lon, place.lat, Datum::Wgs84)
        .map(|located| located.zones.into_iter().map(|z| z.id).collect())
        .unwrap_or_default();
    let divisions = [place.community, place.street, place.district];
    // The rules read one by one: the model checks the app's indexed routing against it.
    let routing = route(
        config.rules.all(),
        &code,
        Placement {
            divisions: &divisions,
            zones: &zones,
        },
        DivisionLevel::Street,
    );
    match routing {
        Routing::Department { department, .. }
            if config.active_departments.contains(&department) =>
        {
            let dispatched = decide(
                cases,
                &decision.case,
                &Command::Dispatch { department },
                &Actor::system("intake"),
                at_us,
            )?;
            let version = decision.case.version;
            decision.events.extend(dispatched.events);
            decision.case = dispatched.case;
            decision.case.version = version;
        }
        Routing::Department { department, .. } => {
            decision.case.queue_reason =
                Some(format!("the rule's department {department} is inactive"));
        }
        Routing::Queue { reason, candidates } => {
            decision.case.queue_reason = Some(reason);
            decision.case.candidates = candidates;
        }
    }
    Ok(())
}

fn decide(
    cases: &Cases,
    current: &Case,
    command: &Command,
    actor: &Actor,
    at_us: i64,
) -> Result<Decision, Rejection> {
    let config = cases.config.current();
    let code = match command {
        Command::Register { category, .. } => Some(category.as_str()),
        _ => current.category.as_deref(),
    };
    let rules = Rules {
        calendar: &config.calendar,
        default_limits: &config.default_limits,
        category: code.and_then(|c| config.category(c)),
        departments: &config.active_departments,
    };
    case::decide(current, command, actor, at_us, &rules)
}

// ---------------------------------------------------------------------------------------------
// Running a sequence.
// ---------------------------------------------------------------------------------------------

/// A failure naming the steps that led to it.
fn failure(trace: &[String], message: String) -> TestCaseError {
    TestCaseError::fail(format!("{message}\nsteps:\n{}", trace.join("\n")))
}

/// Fails the test case with the message and the steps so far.
macro_rules! ensure {
    ($trace:expr, $cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(failure(&$trace, format!($($msg)+)));
        }
    };
}

/// A successful intake, as the test saw it.
#[derive(Debug, Clone)]
struct Intake {
    outcome: Outcome,
    case_id: String,
    report_id: String,
    key: Option<String>,
    submitted_by: String,
}

/// What the test knows besides the database.
#[derive(Debug, Default)]
struct Model {
    /// Case ids in the order intake created them.
    cases: Vec<String>,
    intakes: Vec<Intake>,
    /// Each case's latest report (for duplicate merging).
    last_report: BTreeMap<String, i64>,
    /// Every reported point, for near duplicates.
    points: Vec<(f64, f64)>,
    /// The manual clock.
    now: i64,
    trace: Vec<String>,
}

/// What the sequences reached, so a generator that stopped exploring fails loudly.
#[derive(Debug, Default)]
struct Coverage {
    outcomes: BTreeSet<String>,
    states: BTreeSet<&'static str>,
    accepted: BTreeSet<&'static str>,
    refused: BTreeSet<String>,
    races_won: u64,
    bursts: u64,
    ratings: u64,
    escalations: u64,
}

impl Coverage {
    fn absorb(&mut self, other: Coverage) {
        self.outcomes.extend(other.outcomes);
        self.states.extend(other.states);
        self.accepted.extend(other.accepted);
        self.refused.extend(other.refused);
        self.races_won += other.races_won;
        self.bursts += other.bursts;
        self.ratings += other.ratings;
        self.escalations += other.escalations;
    }

    fn check(&self, full: bool) {
        if !full {
            assert!(self.outcomes.contains("Created"), "{self:?}");
            return;
        }
        assert_eq!(
            self.outcomes,
            ["Created", "Linked", "Replayed"]
                .into_iter()
                .map(String::from)
                .collect(),
            "{self:?}"
        );
        assert!(
            self.races_won > 0
                && self.escalations > 0
                && self.bursts > 0
                && self.refused.len() == 5
                && self.states.len() == CaseState::ALL.len()
                && self.accepted.len() >= 15
                && self.ratings > 0,
            "{self:?}"
        );
    }
}

/// Whether two cases are the same, up to the last bit of the coordinates (the case's JSON does not
/// round-trip every `f64` exactly; the row's own columns hold the exact position).
fn same(a: &Case, b: &Case) -> bool {
    let close = |x: f64, y: f64| (x - y).abs() <= 1e-9;
    let mut b = b.clone();
    if close(a.place.lon, b.place.lon) && close(a.place.lat, b.place.lat) {
        b.place.lon = a.place.lon;
        b.place.lat = a.place.lat;
    }
    *a == b
}

async fn stored(store: &Store, id: &str) -> Case {
    load_case(store, id)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("case {id} is missing"))
}

fn report_input(seed: &IntakeSeed, model: &Model) -> (ReportInput, Actor) {
    const METRES_PER_DEGREE: f64 = 111_320.0;
    let (lon, lat) = match seed.place {
        PlaceSeed::Near { earlier, dx, dy } if !model.points.is_empty() => {
            let (lon, lat) = model.points[usize::from(earlier) % model.points.len()];
            let east_m = f64::from(dx) / 4.0;
            let north_m = f64::from(dy) / 4.0;
            (
                (lon + east_m / (METRES_PER_DEGREE * lat.to_radians().cos()))
                    .clamp(120.0005, 120.0195),
                (lat + north_m / METRES_PER_DEGREE).clamp(30.0005, 30.0195),
            )
        }
        PlaceSeed::Near { earlier, dx, dy } => (
            120.0005 + 0.019 * f64::from(earlier) / 255.0,
            30.0005 + 0.019 * f64::from(dx as u8 ^ dy as u8) / 255.0,
        ),
        PlaceSeed::Anywhere(x, y) => (
            120.0005 + 0.019 * f64::from(x) / 65535.0,
            30.0005 + 0.019 * f64::from(y) / 65535.0,
        ),
    };
    let (category, description) = pick(&REPORTS, seed.category);
    let (actor, channel) = match seed.reporter % 4 {
        0 | 1 => (
            person("inspector", Role::Inspector, None),
            Channel::Inspector,
        ),
        2 => (
            Actor {
                territory: None,
                ..person(
                    &format!("citizen-{}", seed.reporter % 3),
                    Role::Citizen,
                    None,
                )
            },
            Channel::Web,
        ),
        _ => (
            person("hotline", Role::HotlineOperator, None),
            Channel::Hotline,
        ),
    };
    let input = ReportInput {
        channel,
        description: description.into(),
        lon,
        lat,
        datum: Datum::Wgs84,
        address: None,
        category: category.map(str::to_owned),
        urgency: None,
        reporter: Reporter {
            name: Some("王师傅".into()),
            ..Reporter::default()
        },
        // A key is its submitter's (another submitter's key is refused; see
        // `another_submitters_key_is_refused_and_reveals_nothing`), so keys repeat per submitter.
        intake_key: (seed.key % 8 < 3).then(|| format!("{}/device-{}", actor.id, seed.key % 8)),
        photos: Vec::new(),
    };
    (input, actor)
}

/// The category intake settled on for a report: the given one, or the classifier's confident one.
fn settled_category(input: &ReportInput, result: &IntakeResult) -> Option<String> {
    match &input.category {
        Some(code) => Some(code.clone()),
        None if result.needs_confirmation => None,
        None => result.candidates.first().map(|c| c.code.clone()),
    }
}

async fn step_intake(
    cases: &Cases,
    seed: &IntakeSeed,
    model: &mut Model,
    coverage: &mut Coverage,
) -> Result<(), TestCaseError> {
    let store = &cases.store;
    let now = model.now;
    let (input, actor) = report_input(seed, model);
    let earlier_key = input
        .intake_key
        .as_ref()
        .and_then(|k| model.intakes.iter().find(|i| i.key.as_ref() == Some(k)))
        .cloned();
    // The open cases before this report, as stored.
    let mut before = Vec::new();
    for id in &model.cases {
        before.push(stored(store, id).await);
    }
    let result = cases.intake(input.clone(), &actor, "test", now).await;
    model.trace.push(format!(
        "  at {now} intake {:?} at ({:.6}, {:.6}) key {:?} by {} → {}",
        input.category,
        input.lon,
        input.lat,
        input.intake_key,
        actor.id,
        match &result {
            Ok(r) => format!(
                "{:?} {} ({} {:?}, {} candidates, confirm {})",
                r.outcome,
                r.case.id,
                r.case.state,
                r.case.category,
                r.candidates.len(),
                r.needs_confirmation
            ),
            Err(e) => format!("error {e}"),
        }
    ));
    let result = match result {
        Ok(result) => result,
        Err(error) => return Err(failure(&model.trace, format!("intake failed: {error}"))),
    };
    coverage.outcomes.insert(format!("{:?}", result.outcome));
    let intake = Intake {
        outcome: result.outcome,
        case_id: result.case.id.clone(),
        report_id: result.report_id.clone(),
        key: input.intake_key.clone(),
        submitted_by: actor.id.clone(),
    };
    if let Some(earlier) = earlier_key {
        ensure!(
            model.trace,
            result.outcome == Outcome::Replayed
                && result.case.id == earlier.case_id
                && result.report_id == earlier.report_id,
            "a repeated key gave {:?} {} / {} instead of the earlier {} / {}",
            result.outcome,
            result.case.id,
            result.report_id,
            earlier.case_id,
            earlier.report_id
        );
        model.intakes.push(intake);
        return Ok(());
    }
    ensure!(
        model.trace,
        result.outcome != Outcome::Replayed,
        "a new key was replayed"
    );
    // Merging: the nearest open case of the same category within the distance whose latest
    // report is recent enough, as the settings say.
    let settings = cases.config.current().intake;
    let category = settled_category(&input, &result);
    let mut nearest: Option<(f64, &Case)> = None;
    if let Some(category) = &category {
        for case in &before {
            let distance = jz_geo::measure::distance_m(
                geo_types::Point::new(input.lon, input.lat),
                geo_types::Point::new(case.place.lon, case.place.lat),
            );
            let recent =
                now - model.last_report[&case.id] <= settings.dedupe_window_minutes * 60_000_000;
            if case.state.is_open()
                && case.category.as_ref() == Some(category)
                && distance <= settings.dedupe_distance_m
                && recent
                && nearest.is_none_or(|(d, _)| distance < d)
            {
                nearest = Some((distance, case));
            }
        }
    }
    match (result.outcome, nearest) {
        (Outcome::Linked, Some((_, case))) if case.id == result.case.id => {
            let now_stored = stored(store, &case.id).await;
            ensure!(
                model.trace,
                now_stored.version == case.version
                    && result.case.version == case.version
                    && now_stored.reporters == case.reporters + 1,
                "linking changed the version ({} → {}) or did not count the reporter ({} → {})",
                case.version,
                now_stored.version,
                case.reporters,
                now_stored.reporters
            );
        }
        (Outcome::Created, None) => {
            ensure!(
                model.trace,
                !model.cases.contains(&result.case.id),
                "a created case reuses the id {}",
                result.case.id
            );
            let now_stored = stored(store, &result.case.id).await;
            ensure!(
                model.trace,
                same(&now_stored, &result.case) && result.case.category == category,
                "the created case differs from the stored one:\n{:?}\n{now_stored:?}",
                result.case
            );
            model.cases.push(result.case.id.clone());
        }
        (outcome, nearest) => {
            ensure!(
                model.trace,
                false,
                "intake answered {outcome:?} {}; expected {}",
                result.case.id,
                match nearest {
                    Some((d, case)) => format!("a link to {} ({d:.1} m away)", case.id),
                    None => "a new case".into(),
                }
            );
        }
    }
    model.last_report.insert(result.case.id.clone(), now);
    model.points.push((input.lon, input.lat));
    model.intakes.push(intake);
    Ok(())
}

/// Mostly one of the two newest cases (so some cases travel far along the loop), sometimes any.
fn choose_case(model: &Model, index: u8) -> String {
    let count = model.cases.len();
    let position = if index < 160 {
        count - 1 - usize::from(index) % count.min(2)
    } else {
        usize::from(index) % count
    };
    model.cases[position].clone()
}

async fn step_burst(
    cases: &Cases,
    seeds: &[IntakeSeed; 3],
    size: u8,
    model: &mut Model,
    coverage: &mut Coverage,
) -> Result<(), TestCaseError> {
    const METRES_PER_DEGREE: f64 = 111_320.0;
    let now = model.now;
    let (first, first_actor) = report_input(&seeds[0], model);
    let mut inputs = vec![(first.clone(), first_actor.clone())];
    for seed in &seeds[1..usize::from(size)] {
        let (mut input, actor) = report_input(seed, model);
        input.category.clone_from(&first.category);
        input.description.clone_from(&first.description);
        if let PlaceSeed::Near { dx, dy, .. } = seed.place {
            let (east_m, north_m) = (f64::from(dx) / 4.0, f64::from(dy) / 4.0);
            input.lon = (first.lon + east_m / (METRES_PER_DEGREE * first.lat.to_radians().cos()))
                .clamp(120.0005, 120.0195);
            input.lat = (first.lat + north_m / METRES_PER_DEGREE).clamp(30.0005, 30.0195);
        }
        // A retry of the first report: the same key from the same submitter (a key is its
        // submitter's).
        let actor = if seed.key % 3 == 0 && first.intake_key.is_some() {
            input.intake_key.clone_from(&first.intake_key);
            input.channel = first.channel;
            first_actor.clone()
        } else {
            actor
        };
        inputs.push((input, actor));
    }
    let intake = |i: usize| cases.intake(inputs[i].0.clone(), &inputs[i].1, "test", now);
    let results = if inputs.len() == 2 {
        let (a, b) = tokio::join!(intake(0), intake(1));
        vec![a, b]
    } else {
        let (a, b, c) = tokio::join!(intake(0), intake(1), intake(2));
        vec![a, b, c]
    };
    model.trace.push(format!(
        "  at {now} burst of {}: {}",
        inputs.len(),
        inputs
            .iter()
            .zip(&results)
            .map(|((input, actor), result)| format!(
                "{:?} at ({:.6}, {:.6}) key {:?} by {} → {}",
                input.category,
                input.lon,
                input.lat,
                input.intake_key,
                actor.id,
                match result {
                    Ok(r) => format!("{:?} {} ({})", r.outcome, r.case.id, r.case.state),
                    Err(e) => format!("error {e}"),
                }
            ))
            .collect::<Vec<_>>()
            .join(" ‖ ")
    ));
    let mut taken = Vec::new();
    for ((input, actor), result) in inputs.iter().zip(results) {
        match result {
            Ok(result) => taken.push((input, actor, result)),
            Err(error) => {
                return Err(failure(
                    &model.trace,
                    format!("a concurrent intake failed: {error}"),
                ));
            }
        }
    }
    // Keys: a key seen before replays its report; a new key is taken in once and replayed to
    // the others, whatever the interleaving.
    let keys: BTreeSet<&String> = taken
        .iter()
        .filter_map(|(input, _, _)| input.intake_key.as_ref())
        .collect();
    for key in keys {
        let with_key: Vec<&IntakeResult> = taken
            .iter()
            .filter(|(input, _, _)| input.intake_key.as_ref() == Some(key))
            .map(|(_, _, result)| result)
            .collect();
        let original = model
            .intakes
            .iter()
            .find(|i| i.key.as_ref() == Some(key))
            .map(|i| (i.case_id.clone(), i.report_id.clone()));
        let fresh: Vec<&&IntakeResult> = with_key
            .iter()
            .filter(|r| r.outcome != Outcome::Replayed)
            .collect();
        let expected = match (&original, fresh.as_slice()) {
            (Some(earlier), []) => earlier.clone(),
            (None, [only]) => (only.case.id.clone(), only.report_id.clone()),
            _ => {
                return Err(failure(
                    &model.trace,
                    format!(
                        "key {key}: {} reports taken in (seen before: {original:?})",
                        fresh.len()
                    ),
                ));
            }
        };
        ensure!(
            model.trace,
            with_key
                .iter()
                .all(|r| (r.case.id.clone(), r.report_id.clone()) == expected),
            "key {key}: the answers name different reports"
        );
    }
    for (input, actor, result) in taken {
        coverage.outcomes.insert(format!("{:?}", result.outcome));
        if result.outcome == Outcome::Created {
            ensure!(
                model.trace,
                !model.cases.contains(&result.case.id),
                "a created case reuses the id {}",
                result.case.id
            );
            model.cases.push(result.case.id.clone());
        }
        if result.outcome != Outcome::Replayed {
            model.last_report.insert(result.case.id.clone(), now);
            model.points.push((input.lon, input.lat));
        }
        model.intakes.push(Intake {
            outcome: result.outcome,
            case_id: result.case.id.clone(),
            report_id: result.report_id.clone(),
            key: input.intake_key.clone(),
            submitted_by: actor.id.clone(),
        });
    }
    coverage.bursts += 1;
    Ok(())
}

async fn step_command(
    cases: &Cases,
    case_index: u8,
    seed: &CommandSeed,
    who: Who,
    version_pick: u8,
    model: &mut Model,
    coverage: &mut Coverage,
) -> Result<(), TestCaseError> {
    if model.cases.is_empty() {
        return Ok(());
    }
    let now = model.now;
    let id = choose_case(model, case_index);
    let current = stored(&cases.store, &id).await;
    let command = resolve_command(seed, current.state);
    let actor = resolve_actor(who, &command, &current);
    let version = match version_pick % 8 {
        6 => current.version - 1,
        7 => current.version + 1,
        _ => current.version,
    };
    let want = expected_command(cases, model, &current, version, &command, &actor);
    let got = cases
        .command(&id, version, &command, &actor, &context(), now)
        .await;
    model.trace.push(format!(
        "  at {now} {id} v{} {} (sent v{version}): {command:?} by {} {:?} {:?} → {}",
        current.version,
        current.state,
        actor.role,
        actor.department,
        actor.territory.map(|t| t.as_str().to_owned()),
        match &got {
            Ok(c) => format!("{} v{}", c.state, c.version),
            Err(e) => format!("{:?}: {e}", refusal_of(e)),
        }
    ));
    let after = stored(&cases.store, &id).await;
    match (&want, &got) {
        (Ok(decision), Ok(returned)) => {
            coverage.accepted.insert(command.name());
            ensure!(
                model.trace,
                *returned == decision.case,
                "the use case's answer differs from the state machine's decision:\n{returned:?}\n{:?}",
                decision.case
            );
            ensure!(
                model.trace,
                returned.version == current.version + 1 && same(&after, returned),
                "returned version {} but the store holds version {} (was {})",
                returned.version,
                after.version,
                current.version
            );
        }
        (Err(refusal), Err(error)) => {
            coverage.refused.insert(format!("{refusal:?}"));
            ensure!(
                model.trace,
                *refusal == refusal_of(error),
                "expected {refusal:?}, the use case answered {error:?}"
            );
            ensure!(
                model.trace,
                same(&after, &current),
                "a refused command changed the stored case"
            );
        }
        _ => {
            ensure!(
                model.trace,
                false,
                "expected {:?}, the use case answered {:?}",
                want.as_ref().map(|d| d.case.state),
                got.as_ref().map(|c| c.state).map_err(refusal_of)
            );
        }
    }
    coverage.states.insert(after.state.as_str());
    Ok(())
}

async fn step_race(
    cases: &Cases,
    case_index: u8,
    first: (CommandSeed, Who),
    second: (CommandSeed, Who),
    model: &mut Model,
    coverage: &mut Coverage,
) -> Result<(), TestCaseError> {
    if model.cases.is_empty() {
        return Ok(());
    }
    let now = model.now;
    let id = choose_case(model, case_index);
    let current = stored(&cases.store, &id).await;
    let commands = [first, second].map(|(seed, who)| {
        let command = resolve_command(&seed, current.state);
        let actor = resolve_actor(who, &command, &current);
        (command, actor)
    });
    let wants = commands.each_ref().map(|(command, actor)| {
        expected_command(cases, model, &current, current.version, command, actor)
    });
    let ctx = context();
    let (a, b) = tokio::join!(
        cases.command(
            &id,
            current.version,
            &commands[0].0,
            &commands[0].1,
            &ctx,
            now
        ),
        cases.command(
            &id,
            current.version,
            &commands[1].0,
            &commands[1].1,
            &ctx,
            now
        ),
    );
    let gots = [a, b];
    model.trace.push(format!(
        "  at {now} race on {id} v{} {}: {:?} by {} ‖ {:?} by {} → {:?} ‖ {:?}",
        current.version,
        current.state,
        commands[0].0,
        commands[0].1.role,
        commands[1].0,
        commands[1].1.role,
        gots[0].as_ref().map(|c| c.version).map_err(refusal_of),
        gots[1].as_ref().map(|c| c.version).map_err(refusal_of),
    ));
    let accepted = wants.iter().filter(|w| w.is_ok()).count();
    let winners: Vec<&Case> = gots.iter().filter_map(|g| g.as_ref().ok()).collect();
    ensure!(
        model.trace,
        winners.len() == accepted.min(1),
        "{accepted} commands were acceptable, {} won",
        winners.len()
    );
    let after = stored(&cases.store, &id).await;
    for ((want, got), (_, actor)) in wants.iter().zip(&gots).zip(&commands) {
        // Losing to the other command: stale, or not found when the winner's step took the
        // case out of the actor's sight (a handler whose department it no longer is).
        let lost = |error: &CaseError| {
            accepted >= 1
                && match refusal_of(error) {
                    Refusal::Stale => true,
                    Refusal::NotFound => !visible(model, actor, &after),
                    _ => false,
                }
        };
        match (want, got) {
            (Ok(decision), Ok(returned)) => {
                ensure!(
                    model.trace,
                    *returned == decision.case,
                    "the race's winner differs from the state machine's decision"
                );
            }
            (Ok(_), Err(error)) => {
                ensure!(model.trace, lost(error), "the race's loser got {error:?}")
            }
            // A refused command is refused for its reason, or lost to the other one.
            (Err(refusal), Err(error)) => ensure!(
                model.trace,
                refusal_of(error) == *refusal || lost(error),
                "expected {refusal:?}, the use case answered {error:?}"
            ),
            (Err(refusal), Ok(_)) => {
                ensure!(model.trace, false, "expected {refusal:?}, the command won")
            }
        }
    }
    match winners.first() {
        Some(winner) => {
            coverage.races_won += 1;
            ensure!(
                model.trace,
                same(&after, winner) && winner.version == current.version + 1,
                "the store holds version {}, the winner returned {}",
                after.version,
                winner.version
            );
        }
        None => ensure!(
            model.trace,
            same(&after, &current),
            "a race without winner changed the case"
        ),
    }
    Ok(())
}

async fn step_rate(
    cases: &Cases,
    report_index: u8,
    rating: u8,
    rater: u8,
    model: &mut Model,
    coverage: &mut Coverage,
) -> Result<(), TestCaseError> {
    let reports: Vec<&Intake> = model
        .intakes
        .iter()
        .filter(|i| i.outcome != Outcome::Replayed)
        .collect();
    if reports.is_empty() {
        return Ok(());
    }
    let now = model.now;
    // Mostly a report of a closed or rated case (they are the ones asked), sometimes any.
    let mut closed = Vec::new();
    for report in &reports {
        let state = stored(&cases.store, &report.case_id).await.state;
        if matches!(state, CaseState::Closed | CaseState::Rated) {
            closed.push(*report);
        }
    }
    let pool = if report_index < 192 && !closed.is_empty() {
        &closed
    } else {
        &reports
    };
    let report = pool[usize::from(report_index) % pool.len()].clone();
    let rating = pick(
        &[
            Rating::Satisfied,
            Rating::BasicallySatisfied,
            Rating::Dissatisfied,
        ],
        rating,
    );
    let actor = match rater % 4 {
        0 | 1 => person("hotline", Role::HotlineOperator, None),
        2 => Actor {
            id: report.submitted_by.clone(),
            territory: None,
            ..person("reporter", Role::Citizen, None)
        },
        // A citizen who may have reported this case, or another one.
        _ => Actor {
            territory: None,
            ..person(&format!("citizen-{}", (rater / 4) % 3), Role::Citizen, None)
        },
    };
    let current = stored(&cases.store, &report.case_id).await;
    let rated_round: Option<i64> =
        sqlx::query("SELECT rating_round FROM case_report WHERE id = $1")
            .bind(report.report_id.as_str())
            .fetch_one(cases.store.reader())
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
    let want: Result<Decision, Refusal> = if !visible(model, &actor, &current) {
        Err(Refusal::NotFound)
    } else if actor.role == Role::Citizen && actor.id != report.submitted_by {
        Err(Refusal::Forbidden)
    } else if current.rating_round > 0 && rated_round == Some(i64::from(current.rating_round)) {
        Err(Refusal::Illegal)
    } else {
        decide(cases, &current, &Command::Rate { rating }, &actor, now)
            .map_err(|r| rejection_refusal(&r))
    };
    let got = cases
        .rate(&report.report_id, rating, None, &actor, "test", now)
        .await;
    model.trace.push(format!(
        "  at {now} rate report {} of {} ({} v{}) {rating:?} by {} → {:?}",
        report.report_id,
        report.case_id,
        current.state,
        current.version,
        actor.id,
        got.as_ref()
            .map(|c| (c.state, c.version))
            .map_err(refusal_of)
    ));
    let after = stored(&cases.store, &report.case_id).await;
    match (&want, &got) {
        (Ok(decision), Ok(returned)) => {
            coverage.ratings += 1;
            ensure!(
                model.trace,
                *returned == decision.case && same(&after, returned),
                "rating: returned v{}, stored v{}, decided v{}",
                returned.version,
                after.version,
                decision.case.version
            );
        }
        (Err(refusal), Err(error)) => {
            ensure!(
                model.trace,
                *refusal == refusal_of(error) && same(&after, &current),
                "rating: expected {refusal:?}, got {error:?}"
            );
        }
        _ => ensure!(
            model.trace,
            false,
            "rating: expected {:?}, got {:?}",
            want.as_ref().map(|d| d.case.state),
            got.as_ref().map(|c| c.state).map_err(refusal_of)
        ),
    }
    coverage.states.insert(after.state.as_str());
    Ok(())
}

async fn step_deadlines(
    cases: &Cases,
    model: &mut Model,
    coverage: &mut Coverage,
) -> Result<(), TestCaseError> {
    let now = model.now;
    let mut before = Vec::new();
    for id in &model.cases {
        before.push(stored(&cases.store, id).await);
    }
    let ticks: Vec<Option<Decision>> = before.iter().map(|c| case::tick(c, now)).collect();
    let count = |kind: &str| {
        ticks
            .iter()
            .flatten()
            .flat_map(|d| &d.events)
            .filter(|e| e.kind == kind)
            .count()
    };
    let pass = cases.run_deadlines(now).await;
    model.trace.push(format!("  at {now} deadlines → {pass:?}"));
    let pass = match pass {
        Ok(pass) => pass,
        Err(error) => {
            return Err(failure(
                &model.trace,
                format!("the scheduler failed: {error}"),
            ));
        }
    };
    coverage.escalations += pass.escalated as u64;
    ensure!(
        model.trace,
        (pass.warned, pass.overdue, pass.escalated, pass.skipped)
            == (count("warned"), count("overdue"), count("escalated"), 0),
        "the pass differs from the state machine's ticks: {} warned, {} overdue, {} escalated",
        count("warned"),
        count("overdue"),
        count("escalated")
    );
    for (case, tick) in before.iter().zip(&ticks) {
        let after = stored(&cases.store, &case.id).await;
        let expected = tick.as_ref().map_or(case, |d| &d.case);
        ensure!(
            model.trace,
            same(&after, expected),
            "after the pass {} is v{} {}, the state machine says v{} {}",
            case.id,
            after.version,
            after.state,
            expected.version,
            expected.state
        );
    }
    let behind: i64 = sqlx::query("SELECT COUNT(*) FROM case_file WHERE next_due_at_us <= $1")
        .bind(now)
        .fetch_one(cases.store.reader())
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    ensure!(
        model.trace,
        behind == 0,
        "{behind} cases are still due after the pass"
    );
    Ok(())
}

/// The checks on the whole database after a sequence.
async fn check_database(store: &Store, model: &Model) -> Result<(), TestCaseError> {
    let trace = &model.trace;
    let count = async |sql: &'static str, id: &str| -> i64 {
        sqlx::query(sql)
            .bind(id.to_owned())
            .fetch_one(store.reader())
            .await
            .unwrap()
            .try_get(0)
            .unwrap()
    };
    // No case lost or duplicated.
    let created: Vec<&Intake> = model
        .intakes
        .iter()
        .filter(|i| i.outcome == Outcome::Created)
        .collect();
    let distinct: BTreeSet<&str> = created.iter().map(|i| i.case_id.as_str()).collect();
    ensure!(
        trace,
        distinct.len() == created.len(),
        "two intakes created the same case"
    );
    for intake in &model.intakes {
        let rows = count(
            "SELECT COUNT(*) FROM case_file WHERE id = $1",
            &intake.case_id,
        )
        .await;
        ensure!(
            trace,
            rows == 1,
            "{:?} case {} has {rows} rows",
            intake.outcome,
            intake.case_id
        );
    }
    let all_cases: i64 = jz_testkit::scalar(store, "SELECT COUNT(*) FROM case_file").await;
    ensure!(
        trace,
        all_cases == created.len() as i64,
        "{all_cases} case rows for {} created cases",
        created.len()
    );
    // One report row per report taken in; each key once.
    let taken = model
        .intakes
        .iter()
        .filter(|i| i.outcome != Outcome::Replayed)
        .count();
    let reports: i64 = jz_testkit::scalar(store, "SELECT COUNT(*) FROM case_report").await;
    ensure!(
        trace,
        reports == taken as i64,
        "{reports} report rows for {taken} reports taken in"
    );
    let keys: BTreeSet<&str> = model
        .intakes
        .iter()
        .filter_map(|i| i.key.as_deref())
        .collect();
    for key in keys {
        let rows = count(
            "SELECT COUNT(*) FROM case_report WHERE intake_key = $1",
            key,
        )
        .await;
        ensure!(trace, rows == 1, "intake key {key} is on {rows} reports");
    }
    // Per case: audit = timeline, the timeline chains, the copies in the row match the case.
    for id in &model.cases {
        let case = stored(store, id).await;
        let events = sqlx::query(
            "SELECT kind, from_state, to_state FROM case_step WHERE case_id = $1 ORDER BY at_us, id",
        )
        .bind(id.as_str())
        .fetch_all(store.reader())
        .await
        .unwrap();
        let events: Vec<(String, Option<String>, String)> = events
            .iter()
            .map(|r| {
                (
                    r.try_get(0).unwrap(),
                    r.try_get(1).unwrap(),
                    r.try_get(2).unwrap(),
                )
            })
            .collect();
        // Every command is one audit entry, named after its first step, that carries its
        // steps: read from the entries themselves, they are the timeline.
        let audit = store.audit_entries_for("case", id).await.unwrap();
        let mut audited = Vec::new();
        for entry in &audit {
            let after: serde_json::Value =
                serde_json::from_str(entry.record.after.as_deref().unwrap_or("null")).unwrap();
            let steps = after["steps"].as_array().cloned().unwrap_or_default();
            ensure!(
                trace,
                steps.first().is_some_and(|s| entry.record.action
                    == format!("case.{}", s["kind"].as_str().unwrap_or("?"))),
                "case {id}: audit entry {} ({}) does not carry its steps: {after}",
                entry.seq,
                entry.record.action
            );
            for step in &steps {
                let text = |key: &str| step[key].as_str().map(str::to_owned);
                audited.push((
                    text("kind").unwrap_or_default(),
                    text("from"),
                    text("to").unwrap_or_default(),
                ));
            }
        }
        ensure!(
            trace,
            audited == events,
            "case {id}: the audit entries carry {audited:?} but the timeline is {events:?}"
        );
        ensure!(
            trace,
            events
                .first()
                .is_some_and(|e| e.0 == "reported" && e.1.is_none()),
            "case {id}: the timeline does not start with the report: {events:?}"
        );
        for pair in events.windows(2) {
            ensure!(
                trace,
                pair[1].1.as_deref() == Some(pair[0].2.as_str()),
                "case {id}: the timeline breaks between {:?} and {:?}",
                pair[0],
                pair[1]
            );
        }
        ensure!(
            trace,
            events.last().map(|e| e.2.as_str()) == Some(case.state.as_str()),
            "case {id}: the timeline ends in {:?}, the case is {}",
            events.last(),
            case.state
        );
        let kinds = |kind: &str| events.iter().filter(|e| e.0 == kind).count();
        ensure!(
            trace,
            kinds("escalated") == kinds("overdue")
                && kinds("escalated") == case.escalations as usize,
            "case {id}: {} overdue, {} escalated events, {} escalations counted",
            kinds("overdue"),
            kinds("escalated"),
            case.escalations
        );
        let row = sqlx::query("SELECT state, version, next_due_at_us FROM case_file WHERE id = $1")
            .bind(id.as_str())
            .fetch_one(store.reader())
            .await
            .unwrap();
        let (state, version, next_due): (String, i64, Option<i64>) = (
            row.try_get(0).unwrap(),
            row.try_get(1).unwrap(),
            row.try_get(2).unwrap(),
        );
        ensure!(
            trace,
            state == case.state.as_str()
                && version == case.version
                && next_due == case::next_due_us(&case),
            "case {id}: row says {state} v{version} due {next_due:?}, the case {} v{} due {:?}",
            case.state,
            case.version,
            case::next_due_us(&case)
        );
    }
    let chain = store.verify_audit_chain().await.unwrap();
    ensure!(trace, chain.is_ok(), "the audit chain is broken: {chain:?}");
    // The incremental evaluation counters equal a recount of every stored case.
    let mut expected: BTreeMap<evaluation::Key, evaluation::Counts> = BTreeMap::new();
    for row in sqlx::query("SELECT data, reporters FROM case_file")
        .fetch_all(store.reader())
        .await
        .unwrap()
    {
        let case: Case = serde_json::from_str(&row.try_get::<String, _>(0).unwrap()).unwrap();
        for (key, counts) in evaluation::contributions(&case) {
            *expected.entry(key).or_default() += &counts;
        }
    }
    expected.retain(|_, c| !c.is_zero());
    let columns: Vec<&str> = evaluation::Counter::ALL
        .iter()
        .map(|c| c.column())
        .collect();
    let sql = format!(
        "SELECT scope, day, department, domain, {} FROM eval_counter",
        columns.join(", ")
    );
    store.fold_tallies().await.unwrap();
    let mut stored: BTreeMap<evaluation::Key, evaluation::Counts> = BTreeMap::new();
    for row in sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(store.reader())
        .await
        .unwrap()
    {
        let mut counts = evaluation::Counts::default();
        for (i, slot) in counts.0.iter_mut().enumerate() {
            *slot = row.try_get(4 + i).unwrap();
        }
        if counts.is_zero() {
            continue;
        }
        let domain: String = row.try_get(3).unwrap();
        let key = evaluation::Key {
            scope: row.try_get(0).unwrap(),
            day: i32::try_from(row.try_get::<i64, _>(1).unwrap()).unwrap(),
            department: row.try_get(2).unwrap(),
            domain: if domain == "satisfaction" {
                EvaluationDomain::Satisfaction
            } else {
                EvaluationDomain::Objective
            },
        };
        stored.insert(key, counts);
    }
    if stored != expected {
        let differing: Vec<String> = expected
            .iter()
            .filter(|(k, c)| stored.get(*k) != Some(*c))
            .map(|(k, c)| format!("{k:?}: expected {c:?}, stored {:?}", stored.get(k)))
            .chain(
                stored
                    .keys()
                    .filter(|k| !expected.contains_key(*k))
                    .map(|k| format!("{k:?}: stored but not expected")),
            )
            .take(5)
            .collect();
        ensure!(
            trace,
            false,
            "evaluation counters differ from a recount: {differing:?}"
        );
    }
    Ok(())
}

async fn run(
    db: jz_testkit::TestDb,
    start_us: i64,
    ops: &[Op],
    coverage: &mut Coverage,
) -> Result<(), TestCaseError> {
    let store = db.open().await;
    let (mut cases, shared) = city(&store).await;
    let mut model = Model {
        now: start_us,
        ..Model::default()
    };
    model.trace.push(format!("start at {start_us}"));
    for op in ops {
        match *op {
            Op::Intake { seed, wait_us } => {
                model.now += wait_us;
                step_intake(&cases, &seed, &mut model, coverage).await?;
            }
            Op::Burst {
                seeds,
                size,
                wait_us,
            } => {
                model.now += wait_us;
                step_burst(&cases, &seeds, size, &mut model, coverage).await?;
            }
            Op::Command {
                case,
                seed,
                who,
                version,
                wait_us,
            } => {
                model.now += wait_us;
                step_command(&cases, case, &seed, who, version, &mut model, coverage).await?;
            }
            Op::Race {
                case,
                first,
                second,
                wait_us,
            } => {
                model.now += wait_us;
                step_race(&cases, case, first, second, &mut model, coverage).await?;
            }
            Op::Rate {
                report,
                rating,
                rater,
                wait_us,
            } => {
                model.now += wait_us;
                step_rate(&cases, report, rating, rater, &mut model, coverage).await?;
            }
            Op::Deadlines { wait_us } => {
                model.now += wait_us;
                step_deadlines(&cases, &mut model, coverage).await?;
            }
            Op::Drive {
                case,
                actors,
                wait_us,
            } => {
                let forward = CommandSeed {
                    kind: KindPick::Forward,
                    param: actors,
                    reason: 2,
                    flag: true,
                };
                for step in 0..8_u8 {
                    model.now += wait_us / 8;
                    let who = Who::Fitting(actors.wrapping_add(step));
                    step_command(&cases, case, &forward, who, 0, &mut model, coverage).await?;
                }
            }
            Op::Restart => {
                model.trace.push("  restart".into());
                cases = Cases::open(store.clone(), shared.clone()).await.unwrap();
            }
        }
    }
    check_database(&store, &model).await?;
    store.close().await;
    Ok(())
}

/// A start between 1 September and 31 December 2026 (National Day's holidays and make-up
/// working days fall inside), to the second.
fn start() -> impl Strategy<Value = i64> {
    let first = at("2026-09-01T00:00:00");
    (0..122 * 24 * 3600_i64).prop_map(move |s| first + s * 1_000_000)
}

/// Runs `cases` sequences on fresh databases made by `database`.
fn check_sequences<F, Fut>(cases: u32, seed: u64, full_coverage: bool, database: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<jz_testkit::TestDb>>,
{
    // A fixed seed and no regression files: the same sequences on every run, nothing written.
    let config = ProptestConfig {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        max_shrink_iters: 32,
        ..ProptestConfig::default()
    };
    let coverage = RefCell::new(Coverage::default());
    let mut runner = TestRunner::new(config);
    let sequences = (start(), prop::collection::vec(op(), 1..120));
    let skipped = std::cell::Cell::new(false);
    let result = runner.run(&sequences, |(start_us, ops)| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let mut reached = Coverage::default();
        let result = runtime.block_on(async {
            let Some(db) = database().await else {
                skipped.set(true);
                return Ok(());
            };
            run(db, start_us, &ops, &mut reached).await
        });
        coverage.borrow_mut().absorb(reached);
        result
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    if !skipped.get() {
        coverage.into_inner().check(full_coverage);
    }
}

#[test]
fn sqlite_random_sequences_keep_the_store_consistent() {
    check_sequences(16, 20_261_001, true, || async {
        Some(jz_testkit::TestDb::sqlite())
    });
}

#[test]
fn postgres_random_sequences_keep_the_store_consistent() {
    check_sequences(4, 20_261_008, false, jz_testkit::TestDb::postgres);
}

// ---------------------------------------------------------------------------------------------
// The sequences above found these; each is pinned here as a small, fixed example.
// ---------------------------------------------------------------------------------------------

fn garbage_report(lon: f64, lat: f64, key: Option<&str>) -> ReportInput {
    ReportInput {
        channel: Channel::Inspector,
        description: "路边有暴露垃圾".into(),
        lon,
        lat,
        datum: Datum::Wgs84,
        address: None,
        category: Some("06010".into()),
        urgency: None,
        reporter: Reporter::default(),
        intake_key: key.map(str::to_owned),
        photos: Vec::new(),
    }
}

const HOUR_US: i64 = 3_600_000_000;

/// Two reports of one problem 46 m apart (33 m west and 33 m north of each other) are merged:
/// the merge index must find every open case within the distance, whatever the direction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_near_duplicates_to_the_north_west_are_merged() {
    let db = jz_testkit::TestDb::sqlite();
    let store = db.open().await;
    let (cases, _) = city(&store).await;
    let inspector = person("inspector", Role::Inspector, None);
    let t0 = at("2026-10-12T10:00:00");
    let (a, b) = ((120.006800, 30.012528), (120.006463, 30.012823));
    let first = cases
        .intake(garbage_report(a.0, a.1, None), &inspector, "test", t0)
        .await
        .unwrap();
    let second = cases
        .intake(
            garbage_report(b.0, b.1, None),
            &inspector,
            "test",
            t0 + 60_000_000,
        )
        .await
        .unwrap();
    let distance = jz_geo::measure::distance_m(
        geo_types::Point::new(a.0, a.1),
        geo_types::Point::new(b.0, b.1),
    );
    assert!(distance < 50.0, "{distance}");
    assert_eq!(
        (second.outcome, second.case.id),
        (Outcome::Linked, first.case.id),
        "a report {distance:.1} m from an open case of its category opened a new case"
    );
}

/// A retry of a committed report is answered as a replay and adds no report, so it must not
/// count as the case's latest report either: 30 h after the only report, a new report nearby
/// opens a new case (the merge window is 24 h), as it does after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_replayed_retry_does_not_extend_the_merge_window() {
    let db = jz_testkit::TestDb::sqlite();
    let store = db.open().await;
    let (cases, _) = city(&store).await;
    let inspector = person("inspector", Role::Inspector, None);
    let t0 = at("2026-10-12T10:00:00");
    let first = cases
        .intake(
            garbage_report(120.0100, 30.0100, Some("device-9:1")),
            &inspector,
            "test",
            t0,
        )
        .await
        .unwrap();
    let retry = cases
        .intake(
            garbage_report(120.0100, 30.0100, Some("device-9:1")),
            &inspector,
            "test",
            t0 + 15 * HOUR_US,
        )
        .await
        .unwrap();
    assert_eq!(
        (retry.outcome, &retry.case.id, &retry.report_id),
        (Outcome::Replayed, &first.case.id, &first.report_id)
    );
    let later = cases
        .intake(
            garbage_report(120.0101, 30.0100, None),
            &inspector,
            "test",
            t0 + 30 * HOUR_US,
        )
        .await
        .unwrap();
    assert_eq!(
        later.outcome,
        Outcome::Created,
        "merged into {} although its only report is 30 h old",
        later.case.id
    );
}

/// A case that was closed and reopened keeps its latest report for merging: 10 h after a
/// linked report (and 30 h after the first), a new report nearby is merged into it — as it is
/// when the desk is loaded from the database after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_reopened_case_merges_by_its_latest_report() {
    let db = jz_testkit::TestDb::sqlite();
    let store = db.open().await;
    let (cases, _) = city(&store).await;
    let inspector = person("inspector", Role::Inspector, None);
    let operator = person("operator", Role::StreetOperator, None);
    let sanitation = person("sanitation-1", Role::Handler, Some("sanitation"));
    let t0 = at("2026-10-12T10:00:00");
    let first = cases
        .intake(
            garbage_report(120.0100, 30.0100, None),
            &inspector,
            "test",
            t0,
        )
        .await
        .unwrap();
    let linked = cases
        .intake(
            garbage_report(120.0101, 30.0100, None),
            &inspector,
            "test",
            t0 + 20 * HOUR_US,
        )
        .await
        .unwrap();
    assert_eq!(linked.outcome, Outcome::Linked);
    let mut case = first.case;
    let mut when = t0 + 20 * HOUR_US;
    for (command, actor) in [
        (Command::Accept, &sanitation),
        (Command::StartHandling, &sanitation),
        (Command::ReportHandled, &sanitation),
        (Command::Verify { passed: true }, &inspector),
        (Command::Close, &operator),
        (
            Command::Reopen {
                reason: "复核后仍不合格".into(),
            },
            &operator,
        ),
    ] {
        when += 60_000_000;
        case = cases
            .command(&case.id, case.version, &command, actor, &context(), when)
            .await
            .unwrap();
    }
    assert_eq!(case.state, CaseState::Dispatched);
    let later = t0 + 30 * HOUR_US;
    let after_reopen = cases
        .intake(
            garbage_report(120.0100, 30.0101, None),
            &inspector,
            "test",
            later,
        )
        .await
        .unwrap();
    assert_eq!(
        (after_reopen.outcome, &after_reopen.case.id),
        (Outcome::Linked, &case.id),
        "the reopened case's latest report is 10 h old, yet a new case was opened"
    );
}

/// Two reports of one problem taken in at the same moment (43 m apart): whatever the
/// interleaving, the first case stays in the merge index, so a third report 39 m from it
/// (and 82 m from the second) is merged into it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_concurrent_reports_keep_the_first_case_mergeable() {
    let db = jz_testkit::TestDb::sqlite();
    let store = db.open().await;
    let (cases, _) = city(&store).await;
    let inspector = person("inspector", Role::Inspector, None);
    let t0 = at("2026-10-12T10:00:00");
    // Five places along a row, each far from the others.
    for i in 0..5_u32 {
        let (lon, lat) = (
            120.002 + 0.003 * f64::from(i),
            30.005 + 0.002 * f64::from(i),
        );
        let (a, b) = tokio::join!(
            cases.intake(garbage_report(lon, lat, None), &inspector, "test", t0),
            cases.intake(
                garbage_report(lon + 0.00045, lat, None),
                &inspector,
                "test",
                t0
            ),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        let third = cases
            .intake(
                garbage_report(lon - 0.0004, lat, None),
                &inspector,
                "test",
                t0 + 60_000_000,
            )
            .await
            .unwrap();
        assert_eq!(
            (third.outcome, &third.case.id),
            (Outcome::Linked, &a.case.id),
            "place {i}: the first report's case {} ({:?}) was forgotten after the concurrent \
             second report ({:?} {})",
            a.case.id,
            a.outcome,
            b.outcome,
            b.case.id
        );
    }
}

/// Two retries of a committed report arriving together are both answered with the committed
/// report, never with a case that a retry was about to write and that was then refused. (Each
/// round is one chance for the retries to overlap; six rounds make that all but certain.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_concurrent_retries_of_a_committed_key_replay_the_committed_report() {
    let db = jz_testkit::TestDb::sqlite();
    let store = db.open().await;
    let (cases, _) = city(&store).await;
    let inspector = person("inspector", Role::Inspector, None);
    let t0 = at("2026-10-12T10:00:00");
    for round in 0..6_u32 {
        let key = format!("device-7:{round}");
        let step = 0.003 * f64::from(round);
        let first = cases
            .intake(
                garbage_report(120.002 + step, 30.002, Some(&key)),
                &inspector,
                "test",
                t0,
            )
            .await
            .unwrap();
        assert_eq!(first.outcome, Outcome::Created);
        // The retries are sent from elsewhere (a moved device), so intake would open a new case
        // for them if the key did not say they are the same report.
        let retry = || garbage_report(120.002 + step, 30.018, Some(&key));
        let (a, b) = tokio::join!(
            cases.intake(retry(), &inspector, "test", t0 + HOUR_US),
            cases.intake(retry(), &inspector, "test", t0 + HOUR_US),
        );
        for answer in [a.unwrap(), b.unwrap()] {
            assert_eq!(
                (answer.outcome, &answer.case.id, &answer.report_id),
                (Outcome::Replayed, &first.case.id, &first.report_id),
                "round {round}: a retry was answered with a case and report that were never \
                 written"
            );
        }
    }
    let written: i64 = jz_testkit::scalar(&store, "SELECT COUNT(*) FROM case_file").await;
    assert_eq!(written, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_submitters_key_is_refused_and_reveals_nothing() {
    let db = jz_testkit::TestDb::sqlite();
    let store = db.open().await;
    let (cases, _) = city(&store).await;
    let inspector = person("inspector", Role::Inspector, None);
    let hotline = person("hotline", Role::HotlineOperator, None);
    let t0 = at("2026-10-12T10:00:00");
    let first = cases
        .intake(
            garbage_report(120.004, 30.004, Some("shared-1")),
            &inspector,
            "test",
            t0,
        )
        .await
        .unwrap();
    assert_eq!(first.outcome, Outcome::Created);
    let mut other = garbage_report(120.012, 30.012, Some("shared-1"));
    other.channel = Channel::Hotline;
    let refused = cases.intake(other, &hotline, "test", t0 + HOUR_US).await;
    match refused {
        Err(CaseError::Exists(message)) => assert!(
            !message.contains(&first.case.id) && !message.contains(&first.report_id),
            "{message}"
        ),
        other => panic!("another submitter's key gave {other:?}"),
    }
    let reports: i64 = jz_testkit::scalar(&store, "SELECT COUNT(*) FROM case_report").await;
    assert_eq!(reports, 1, "nothing written for the refused report");
    // The submitter's own retry still replays.
    let again = cases
        .intake(
            garbage_report(120.004, 30.004, Some("shared-1")),
            &inspector,
            "test",
            t0 + 2 * HOUR_US,
        )
        .await
        .unwrap();
    assert_eq!(
        (again.outcome, again.case.id),
        (Outcome::Replayed, first.case.id)
    );
}
