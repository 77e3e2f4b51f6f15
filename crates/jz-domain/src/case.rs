//! The case closed loop (案件闭环) as a pure state machine.
//!
//! reported → registered (or rejected) → dispatched → accepted → handling → handled → verified →
//! closed → rated, with the side paths of the standard: return to the dispatcher (回退), rework
//! when the check fails (返工), postponement requested and decided (延期), suspension (挂账) and
//! resumption, cancellation (作废), reopening after a dissatisfied rating, and the street's
//! whistle (吹哨报到) summoning several departments under a lead department.
//!
//! [`decide`] takes a case, a command, the actor and the time, and returns the new case with the
//! events to put on its timeline and in the audit trail — or a [`Rejection`] naming why the command
//! is not allowed (wrong role, outside the actor's territory, not this department's case, or not in
//! this state). [`tick`] is the deadline scheduler's half: warnings at 80 % of a stage's limit,
//! overdue at 100 %, and exactly one escalation (street → district → city) per overdue stage.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::access::{Actor, Role};
use crate::calendar::{TimeLimit, WorkCalendar};
use crate::category::{Category, EvaluationDomain, Stage, StageLimits, Urgency};
use crate::division::{DivisionCode, DivisionLevel};

/// Share of a stage's limit after which a warning is raised (the yellow light).
pub const WARN_SHARE: f64 = 0.8;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    Reported,
    Registered,
    Rejected,
    Dispatched,
    Accepted,
    Handling,
    Handled,
    Verified,
    Closed,
    Rated,
    Suspended,
    Cancelled,
}

impl CaseState {
    pub const ALL: [CaseState; 12] = [
        CaseState::Reported,
        CaseState::Registered,
        CaseState::Rejected,
        CaseState::Dispatched,
        CaseState::Accepted,
        CaseState::Handling,
        CaseState::Handled,
        CaseState::Verified,
        CaseState::Closed,
        CaseState::Rated,
        CaseState::Suspended,
        CaseState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseState::Reported => "reported",
            CaseState::Registered => "registered",
            CaseState::Rejected => "rejected",
            CaseState::Dispatched => "dispatched",
            CaseState::Accepted => "accepted",
            CaseState::Handling => "handling",
            CaseState::Handled => "handled",
            CaseState::Verified => "verified",
            CaseState::Closed => "closed",
            CaseState::Rated => "rated",
            CaseState::Suspended => "suspended",
            CaseState::Cancelled => "cancelled",
        }
    }

    /// Whether the case is still being worked on (new reports nearby are merged into it).
    pub fn is_open(self) -> bool {
        !matches!(
            self,
            CaseState::Rejected | CaseState::Closed | CaseState::Rated | CaseState::Cancelled
        )
    }

    /// Finished for the loop: no clock runs.
    pub fn is_final(self) -> bool {
        !self.is_open()
    }
}

impl fmt::Display for CaseState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CaseState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        CaseState::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown case state `{s}`"))
    }
}

/// How a report reached the city.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// A grid inspector's handheld report.
    Inspector,
    /// A citizen through the web console.
    Web,
    /// A citizen app through Open311.
    Open311,
    /// A 12345 hotline operator.
    Hotline,
    /// An IoT sensor alarm.
    Sensor,
    /// Another system (video analytics, a superior platform).
    External,
}

impl Channel {
    pub const ALL: [Channel; 6] = [
        Channel::Inspector,
        Channel::Web,
        Channel::Open311,
        Channel::Hotline,
        Channel::Sensor,
        Channel::External,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Inspector => "inspector",
            Channel::Web => "web",
            Channel::Open311 => "open311",
            Channel::Hotline => "hotline",
            Channel::Sensor => "sensor",
            Channel::External => "external",
        }
    }
}

impl FromStr for Channel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Channel::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown channel `{s}`; use inspector, web, open311, hotline, sensor or external"
                )
            })
    }
}

/// A reporter's judgement of a closed case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rating {
    Satisfied,
    BasicallySatisfied,
    Dissatisfied,
}

impl Rating {
    pub fn as_str(self) -> &'static str {
        match self {
            Rating::Satisfied => "satisfied",
            Rating::BasicallySatisfied => "basically_satisfied",
            Rating::Dissatisfied => "dissatisfied",
        }
    }
}

impl FromStr for Rating {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "satisfied" => Ok(Rating::Satisfied),
            "basically_satisfied" => Ok(Rating::BasicallySatisfied),
            "dissatisfied" => Ok(Rating::Dissatisfied),
            other => Err(format!(
                "unknown rating `{other}`; use satisfied, basically_satisfied or dissatisfied"
            )),
        }
    }
}

/// Where the case is: the point (WGS-84) and its unit grid with the divisions above it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Place {
    pub lon: f64,
    pub lat: f64,
    pub grid: String,
    pub community: DivisionCode,
    pub street: DivisionCode,
    pub district: DivisionCode,
    /// The zones containing the point at intake (evaluation reads cases per zone).
    #[serde(default)]
    pub zones: Vec<String>,
}

/// The running clock of the current stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageClock {
    pub stage: Stage,
    pub started_at_us: i64,
    #[serde(with = "crate::category::limit_text")]
    pub limit: TimeLimit,
    /// Approved postponements, in the limit's unit.
    pub extra: u32,
    pub warn_at_us: i64,
    pub deadline_at_us: i64,
    pub warned: bool,
    pub overdue: bool,
    /// Whether this stage has escalated (once per stage, even if a postponement lets it run
    /// late a second time).
    #[serde(default)]
    pub escalated: bool,
}

impl StageClock {
    pub fn start(stage: Stage, limit: TimeLimit, at_us: i64, calendar: &WorkCalendar) -> Self {
        let mut clock = StageClock {
            stage,
            started_at_us: at_us,
            limit,
            extra: 0,
            warn_at_us: at_us,
            deadline_at_us: at_us,
            warned: false,
            overdue: false,
            escalated: false,
        };
        clock.compute(calendar);
        clock
    }

    /// The limit including approved postponements.
    pub fn allotted(&self) -> TimeLimit {
        TimeLimit {
            amount: self.limit.amount.saturating_add(self.extra),
            unit: self.limit.unit,
        }
    }

    fn compute(&mut self, calendar: &WorkCalendar) {
        let allotted = self.allotted();
        self.deadline_at_us = calendar.deadline(self.started_at_us, allotted);
        self.warn_at_us = calendar.instant_at(self.started_at_us, allotted, WARN_SHARE);
    }

    /// The next instant the scheduler must look at this clock, if any.
    pub fn next_due_us(&self) -> Option<i64> {
        if !self.warned {
            Some(self.warn_at_us)
        } else if !self.overdue {
            Some(self.deadline_at_us)
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostponementRequest {
    pub by: String,
    pub extra: u32,
    pub reason: String,
    pub at_us: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suspension {
    pub from: CaseState,
    pub reason: String,
    pub at_us: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhistleCall {
    pub department: String,
    pub reported_at_us: Option<i64>,
}

/// The street's whistle: departments summoned to one case, with a lead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Whistle {
    pub lead: String,
    pub calls: Vec<WhistleCall>,
    pub by: String,
    pub at_us: i64,
}

/// A case: one problem at one place, possibly reported by several people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    pub id: String,
    pub state: CaseState,
    /// Incremented by every command; commands name the version they were decided on.
    pub version: i64,
    pub channel: Channel,
    pub category: Option<String>,
    pub urgency: Urgency,
    pub domain: EvaluationDomain,
    pub description: String,
    pub place: Place,
    pub department: Option<String>,
    /// Why the case waits in the dispatcher's queue, and the candidates, when it does.
    pub queue_reason: Option<String>,
    pub candidates: Vec<String>,
    /// The level now supervising the case: street, then district, then city on escalation.
    pub level: DivisionLevel,
    pub escalations: u32,
    pub clock: Option<StageClock>,
    pub handle_deadline_at_us: Option<i64>,
    pub reworks: u32,
    pub returns: u32,
    pub reopens: u32,
    pub postponements: u32,
    pub pending_postponement: Option<PostponementRequest>,
    pub suspension: Option<Suspension>,
    pub whistle: Option<Whistle>,
    pub reporters: u32,
    /// Which closing round ratings are asked for (1 after the first close).
    pub rating_round: u32,
    pub ratings_this_round: u32,
    pub review_requested: bool,
    pub reported_at_us: i64,
    pub registered_at_us: Option<i64>,
    pub dispatched_at_us: Option<i64>,
    pub handled_at_us: Option<i64>,
    pub verified_at_us: Option<i64>,
    pub closed_at_us: Option<i64>,
    pub handled_on_time: Option<bool>,
    pub closed_on_time: Option<bool>,
    /// When the department first acknowledged the case (the hotline's response).
    #[serde(default)]
    pub accepted_at_us: Option<i64>,
    /// Whether each of the short stages first ended within its limit.
    #[serde(default)]
    pub stages_on_time: StagesOnTime,
    /// Whether any stage of the case ever ran past its deadline.
    #[serde(default)]
    pub ever_overdue: bool,
    /// Every rating given, over all closing rounds.
    #[serde(default)]
    pub ratings: RatingCounts,
}

/// Whether the registration, dispatch and on-site check stages first ended on time (`None` until
/// they end).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagesOnTime {
    pub register: Option<bool>,
    pub dispatch: Option<bool>,
    pub verify: Option<bool>,
}

/// How many ratings of each value a case received.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatingCounts {
    pub satisfied: u32,
    pub basically_satisfied: u32,
    pub dissatisfied: u32,
}

/// A new report's facts, after location.
#[derive(Debug, Clone)]
pub struct NewCase {
    pub id: String,
    pub channel: Channel,
    pub description: String,
    pub place: Place,
    pub at_us: i64,
}

/// What a command may be.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    Register {
        category: String,
        urgency: Option<Urgency>,
    },
    Reject {
        reason: String,
    },
    Dispatch {
        department: String,
    },
    Accept,
    Return {
        reason: String,
    },
    StartHandling,
    ReportHandled,
    Verify {
        passed: bool,
    },
    Close,
    RequestPostponement {
        extra: u32,
        reason: String,
    },
    DecidePostponement {
        approve: bool,
    },
    Suspend {
        reason: String,
    },
    Resume,
    Cancel {
        reason: String,
    },
    Reopen {
        reason: String,
    },
    Whistle {
        lead: String,
        departments: Vec<String>,
    },
    ReportForDuty,
    Rate {
        rating: Rating,
    },
}

impl Command {
    pub fn name(&self) -> &'static str {
        match self {
            Command::Register { .. } => "register",
            Command::Reject { .. } => "reject",
            Command::Dispatch { .. } => "dispatch",
            Command::Accept => "accept",
            Command::Return { .. } => "return",
            Command::StartHandling => "start_handling",
            Command::ReportHandled => "report_handled",
            Command::Verify { .. } => "verify",
            Command::Close => "close",
            Command::RequestPostponement { .. } => "request_postponement",
            Command::DecidePostponement { .. } => "decide_postponement",
            Command::Suspend { .. } => "suspend",
            Command::Resume => "resume",
            Command::Cancel { .. } => "cancel",
            Command::Reopen { .. } => "reopen",
            Command::Whistle { .. } => "whistle",
            Command::ReportForDuty => "report_for_duty",
            Command::Rate { .. } => "rate",
        }
    }

    /// The roles that may issue the command (and in which states: [`allowed_states`]).
    pub fn roles(&self) -> &'static [Role] {
        use Role::*;
        const OPERATORS: &[Role] = &[CityOperator, DistrictOperator, StreetOperator, System];
        match self {
            Command::Register { .. } | Command::Reject { .. } => &[
                CityOperator,
                DistrictOperator,
                StreetOperator,
                HotlineOperator,
                System,
            ],
            Command::Dispatch { .. } => &[
                Dispatcher,
                CityOperator,
                DistrictOperator,
                StreetOperator,
                System,
            ],
            Command::Accept
            | Command::Return { .. }
            | Command::StartHandling
            | Command::ReportHandled
            | Command::RequestPostponement { .. }
            | Command::ReportForDuty => &[Handler],
            Command::Verify { .. } => &[Inspector, CityOperator, DistrictOperator, StreetOperator],
            Command::Close
            | Command::Suspend { .. }
            | Command::Resume
            | Command::Cancel { .. }
            | Command::Reopen { .. } => OPERATORS,
            Command::DecidePostponement { .. } => {
                &[Dispatcher, CityOperator, DistrictOperator, StreetOperator]
            }
            Command::Whistle { .. } => &[StreetOperator, DistrictOperator, CityOperator],
            Command::Rate { .. } => &[Citizen, HotlineOperator, System],
        }
    }

    /// The states in which the command is legal.
    pub fn allowed_states(&self) -> &'static [CaseState] {
        use CaseState::*;
        match self {
            Command::Register { .. } | Command::Reject { .. } => &[Reported],
            Command::Dispatch { .. } => &[Registered],
            Command::Accept => &[Dispatched],
            Command::Return { .. } => &[Dispatched, Accepted],
            Command::StartHandling => &[Accepted],
            Command::ReportHandled => &[Handling],
            Command::Verify { .. } => &[Handled],
            Command::Close => &[Verified],
            Command::RequestPostponement { .. } | Command::DecidePostponement { .. } => {
                &[Dispatched, Accepted, Handling]
            }
            Command::Suspend { .. } => &[Registered, Dispatched, Accepted, Handling],
            Command::Resume => &[Suspended],
            Command::Cancel { .. } => &[Reported, Registered, Dispatched, Suspended],
            Command::Reopen { .. } => &[Closed, Rated],
            Command::Whistle { .. } => &[Registered, Dispatched, Accepted, Handling],
            Command::ReportForDuty => &[Dispatched, Accepted, Handling],
            Command::Rate { .. } => &[Closed, Rated],
        }
    }
}

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The actor's role may not issue this command, or the case is outside their territory or
    /// not their department's.
    #[error("{0}")]
    Forbidden(String),
    /// The command is not legal in the case's state.
    #[error("{0}")]
    IllegalTransition(String),
    /// The command's content is wrong (empty reason, unknown department…).
    #[error("{0}")]
    Invalid(String),
}

/// One entry of a case's timeline (and of the audit trail).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseEvent {
    /// A past-tense verb: `reported`, `registered`, `dispatched`, `warned`, `escalated`…
    pub kind: String,
    pub at_us: i64,
    pub actor: String,
    pub role: Role,
    pub from: Option<CaseState>,
    pub to: CaseState,
    pub detail: Value,
}

/// What the rules of the city say, for one decision.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    pub calendar: &'a WorkCalendar,
    /// Limits used while a case has no category yet (the register stage).
    pub default_limits: &'a StageLimits,
    /// The case's category (for `Register`: the category named by the command).
    pub category: Option<&'a Category>,
    /// Known, active departments (for dispatch and whistle).
    pub departments: &'a [String],
}

impl Rules<'_> {
    fn limit(&self, stage: Stage, urgency: Urgency) -> TimeLimit {
        self.category
            .map(|c| c.limits)
            .unwrap_or(*self.default_limits)
            .get(stage, urgency)
    }
}

/// A decision: the new case and what happened.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub case: Case,
    pub events: Vec<CaseEvent>,
}

/// The maximum length of a reason or note, in characters.
pub const MAX_REASON_CHARS: usize = 2000;

fn reason_ok(field: &str, reason: &str) -> Result<(), Rejection> {
    if reason.trim().is_empty() {
        return Err(Rejection::Invalid(format!("{field}: a reason is required")));
    }
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(Rejection::Invalid(format!(
            "{field}: at most {MAX_REASON_CHARS} characters"
        )));
    }
    Ok(())
}

/// Opens a case for a new report: state `reported`, the register clock running.
pub fn open(new: NewCase, rules: &Rules<'_>, actor: &Actor) -> Decision {
    let urgency = Urgency::Normal;
    let clock = StageClock::start(
        Stage::Register,
        rules.default_limits.get(Stage::Register, urgency),
        new.at_us,
        rules.calendar,
    );
    let case = Case {
        id: new.id,
        state: CaseState::Reported,
        version: 1,
        channel: new.channel,
        category: None,
        urgency,
        domain: EvaluationDomain::Objective,
        description: new.description,
        place: new.place,
        department: None,
        queue_reason: None,
        candidates: Vec::new(),
        level: DivisionLevel::Street,
        escalations: 0,
        clock: Some(clock),
        handle_deadline_at_us: None,
        reworks: 0,
        returns: 0,
        reopens: 0,
        postponements: 0,
        pending_postponement: None,
        suspension: None,
        whistle: None,
        reporters: 1,
        rating_round: 0,
        ratings_this_round: 0,
        review_requested: false,
        reported_at_us: new.at_us,
        registered_at_us: None,
        dispatched_at_us: None,
        handled_at_us: None,
        verified_at_us: None,
        closed_at_us: None,
        handled_on_time: None,
        closed_on_time: None,
        accepted_at_us: None,
        stages_on_time: StagesOnTime::default(),
        ever_overdue: false,
        ratings: RatingCounts::default(),
    };
    let event = CaseEvent {
        kind: "reported".into(),
        at_us: new.at_us,
        actor: actor.id.clone(),
        role: actor.role,
        from: None,
        to: CaseState::Reported,
        detail: json!({ "channel": case.channel.as_str(), "grid": case.place.grid }),
    };
    Decision {
        case,
        events: vec![event],
    }
}

/// A further report of the same problem is linked to an open case.
pub fn link_report(case: &Case, actor: &Actor, at_us: i64, report_id: &str) -> Decision {
    let mut next = case.clone();
    next.reporters += 1;
    let event = CaseEvent {
        kind: "report_linked".into(),
        at_us,
        actor: actor.id.clone(),
        role: actor.role,
        from: Some(case.state),
        to: case.state,
        detail: json!({ "report": report_id, "reporters": next.reporters }),
    };
    Decision {
        case: next,
        events: vec![event],
    }
}

/// Checks role, territory and department before any state rule.
pub fn authorize(case: &Case, command: &Command, actor: &Actor) -> Result<(), Rejection> {
    if !command.roles().contains(&actor.role) {
        let roles: Vec<&str> = command.roles().iter().map(|r| r.as_str()).collect();
        return Err(Rejection::Forbidden(format!(
            "{} may not {}; allowed: {}",
            actor.role.with_article(),
            command.name(),
            roles.join(", ")
        )));
    }
    if !actor.covers(&case.place.community) {
        return Err(Rejection::Forbidden(format!(
            "case {} lies in community {}, outside your territory",
            case.id, case.place.community
        )));
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
            return Err(Rejection::Forbidden(format!(
                "case {} is not assigned to your department",
                case.id
            )));
        }
    }
    if matches!(command, Command::DecidePostponement { .. })
        && case.postponements >= 1
        && !matches!(actor.role, Role::DistrictOperator | Role::CityOperator)
    {
        return Err(Rejection::Forbidden(
            "a second postponement needs a district or city operator's approval".into(),
        ));
    }
    Ok(())
}

/// Decides a command on a case.
pub fn decide(
    case: &Case,
    command: &Command,
    actor: &Actor,
    at_us: i64,
    rules: &Rules<'_>,
) -> Result<Decision, Rejection> {
    authorize(case, command, actor)?;
    if !command.allowed_states().contains(&case.state) {
        let states: Vec<&str> = command
            .allowed_states()
            .iter()
            .map(|s| s.as_str())
            .collect();
        return Err(Rejection::IllegalTransition(format!(
            "cannot {} a case that is {}; {} is allowed only when the case is {}",
            command.name(),
            case.state,
            command.name(),
            states.join(" or ")
        )));
    }
    let mut next = case.clone();
    next.version += 1;
    let mut events = Vec::new();
    let mut step = |next: &mut Case, kind: &str, to: CaseState, detail: Value| {
        events.push(CaseEvent {
            kind: kind.into(),
            at_us,
            actor: actor.id.clone(),
            role: actor.role,
            from: Some(next.state),
            to,
            detail,
        });
        next.state = to;
    };
    let start = |next: &mut Case, stage: Stage| {
        record_stage_end(next, at_us);
        let limit = rules.limit(stage, next.urgency);
        next.clock = Some(StageClock::start(stage, limit, at_us, rules.calendar));
    };
    match command {
        Command::Register { category, urgency } => {
            let Some(found) = rules.category.filter(|c| &c.code == category) else {
                return Err(Rejection::Invalid(format!(
                    "category: unknown category `{category}`"
                )));
            };
            if !found.active {
                return Err(Rejection::Invalid(format!(
                    "category: `{category}` is retired; choose an active category"
                )));
            }
            next.category = Some(found.code.clone());
            next.urgency = urgency.unwrap_or(found.urgency);
            next.domain = found.domain;
            next.registered_at_us = Some(at_us);
            let detail = json!({ "category": found.code, "urgency": next.urgency.as_str() });
            step(&mut next, "registered", CaseState::Registered, detail);
            start(&mut next, Stage::Dispatch);
        }
        Command::Reject { reason } => {
            reason_ok("reason", reason)?;
            step(
                &mut next,
                "rejected",
                CaseState::Rejected,
                json!({ "reason": reason }),
            );
            next.clock = None;
        }
        Command::Dispatch { department } => {
            if !rules.departments.contains(department) {
                return Err(Rejection::Invalid(format!(
                    "department: unknown or inactive department `{department}`"
                )));
            }
            next.department = Some(department.clone());
            next.queue_reason = None;
            next.candidates.clear();
            next.dispatched_at_us = Some(at_us);
            step(
                &mut next,
                "dispatched",
                CaseState::Dispatched,
                json!({ "department": department }),
            );
            start(&mut next, Stage::Handle);
            next.handle_deadline_at_us = next.clock.as_ref().map(|c| c.deadline_at_us);
        }
        Command::Accept => {
            next.accepted_at_us.get_or_insert(at_us);
            step(&mut next, "accepted", CaseState::Accepted, json!({}));
        }
        Command::Return { reason } => {
            reason_ok("reason", reason)?;
            let from = next.department.take();
            next.returns += 1;
            next.pending_postponement = None;
            next.whistle = None;
            next.queue_reason = Some(format!(
                "returned by {}: {reason}",
                from.as_deref().unwrap_or("?")
            ));
            step(
                &mut next,
                "returned",
                CaseState::Registered,
                json!({ "reason": reason, "department": from }),
            );
            start(&mut next, Stage::Dispatch);
        }
        Command::StartHandling => step(
            &mut next,
            "handling_started",
            CaseState::Handling,
            json!({}),
        ),
        Command::ReportHandled => {
            let on_time = next
                .clock
                .as_ref()
                .is_none_or(|c| at_us <= c.deadline_at_us);
            next.handled_at_us = Some(at_us);
            next.handled_on_time = Some(on_time);
            next.pending_postponement = None;
            step(
                &mut next,
                "handled",
                CaseState::Handled,
                json!({ "on_time": on_time }),
            );
            start(&mut next, Stage::Verify);
        }
        Command::Verify { passed: true } => {
            next.verified_at_us = Some(at_us);
            step(&mut next, "verified", CaseState::Verified, json!({}));
            start(&mut next, Stage::Close);
        }
        Command::Verify { passed: false } => {
            next.reworks += 1;
            next.handled_at_us = None;
            let detail = json!({ "reworks": next.reworks });
            step(&mut next, "rework", CaseState::Handling, detail);
            start(&mut next, Stage::Handle);
        }
        Command::Close => {
            let on_time = next.handle_deadline_at_us.is_none_or(|d| at_us <= d);
            next.closed_at_us = Some(at_us);
            next.closed_on_time = Some(on_time);
            next.rating_round += 1;
            next.ratings_this_round = 0;
            next.review_requested = false;
            let detail = json!({ "on_time": on_time, "rating_round": next.rating_round, "reporters_asked": next.reporters });
            step(&mut next, "closed", CaseState::Closed, detail);
            next.clock = None;
        }
        Command::RequestPostponement { extra, reason } => {
            reason_ok("reason", reason)?;
            if *extra == 0 {
                return Err(Rejection::Invalid("extra: must be at least 1".into()));
            }
            if next.pending_postponement.is_some() {
                return Err(Rejection::IllegalTransition(
                    "a postponement request is already waiting for a decision".into(),
                ));
            }
            let unit = next.clock.as_ref().map(|c| c.limit.unit);
            next.pending_postponement = Some(PostponementRequest {
                by: actor.id.clone(),
                extra: *extra,
                reason: reason.clone(),
                at_us,
            });
            let state = next.state;
            step(
                &mut next,
                "postponement_requested",
                state,
                json!({ "extra": extra, "unit": unit.map(|u| u.as_str()), "reason": reason }),
            );
        }
        Command::DecidePostponement { approve } => {
            let Some(request) = next.pending_postponement.take() else {
                return Err(Rejection::IllegalTransition(
                    "no postponement request is waiting for a decision".into(),
                ));
            };
            let state = next.state;
            if *approve {
                next.postponements += 1;
                if let Some(clock) = next.clock.as_mut() {
                    clock.extra = clock.extra.saturating_add(request.extra);
                    clock.compute(rules.calendar);
                    // The new deadline runs afresh; the stage does not escalate a second time.
                    if clock.deadline_at_us > at_us {
                        clock.overdue = false;
                    }
                    if clock.warn_at_us > at_us {
                        clock.warned = false;
                    }
                    next.handle_deadline_at_us = Some(clock.deadline_at_us);
                }
                let deadline = next.clock.as_ref().map(|c| c.deadline_at_us);
                step(
                    &mut next,
                    "postponement_approved",
                    state,
                    json!({ "extra": request.extra, "deadline_at_us": deadline }),
                );
            } else {
                step(
                    &mut next,
                    "postponement_denied",
                    state,
                    json!({ "extra": request.extra }),
                );
            }
        }
        Command::Suspend { reason } => {
            reason_ok("reason", reason)?;
            next.suspension = Some(Suspension {
                from: next.state,
                reason: reason.clone(),
                at_us,
            });
            next.pending_postponement = None;
            step(
                &mut next,
                "suspended",
                CaseState::Suspended,
                json!({ "reason": reason }),
            );
            next.clock = None;
        }
        Command::Resume => {
            let suspension = next.suspension.take().ok_or_else(|| {
                Rejection::IllegalTransition("the case has no suspension to resume".into())
            })?;
            let back = suspension.from;
            step(
                &mut next,
                "resumed",
                back,
                json!({ "suspended_at_us": suspension.at_us }),
            );
            // A resumed case starts its stage afresh: suspension is for problems that could
            // not be solved at the time, so the old clock no longer means anything.
            let stage = if back == CaseState::Registered {
                Stage::Dispatch
            } else {
                Stage::Handle
            };
            start(&mut next, stage);
            if stage == Stage::Handle {
                next.handle_deadline_at_us = next.clock.as_ref().map(|c| c.deadline_at_us);
            }
        }
        Command::Cancel { reason } => {
            reason_ok("reason", reason)?;
            next.suspension = None;
            step(
                &mut next,
                "cancelled",
                CaseState::Cancelled,
                json!({ "reason": reason }),
            );
            next.clock = None;
        }
        Command::Reopen { reason } => {
            reason_ok("reason", reason)?;
            reopen(&mut next, &mut step, &start, reason);
        }
        Command::Whistle { lead, departments } => {
            let mut all: Vec<String> = departments.clone();
            if !all.contains(lead) {
                all.insert(0, lead.clone());
            }
            all.sort();
            all.dedup();
            if all.len() < 2 {
                return Err(Rejection::Invalid(
                    "departments: a whistle summons at least two departments (the lead and one more)"
                        .into(),
                ));
            }
            if let Some(unknown) = all.iter().find(|d| !rules.departments.contains(d)) {
                return Err(Rejection::Invalid(format!(
                    "departments: unknown or inactive department `{unknown}`"
                )));
            }
            next.whistle = Some(Whistle {
                lead: lead.clone(),
                calls: all
                    .iter()
                    .map(|d| WhistleCall {
                        department: d.clone(),
                        reported_at_us: None,
                    })
                    .collect(),
                by: actor.id.clone(),
                at_us,
            });
            let changed_lead = next.department.as_deref() != Some(lead.as_str());
            next.department = Some(lead.clone());
            let to = if next.state == CaseState::Registered || changed_lead {
                CaseState::Dispatched
            } else {
                next.state
            };
            if to == CaseState::Dispatched && next.state != CaseState::Dispatched {
                next.dispatched_at_us = Some(at_us);
            }
            let restart = next.state == CaseState::Registered;
            step(
                &mut next,
                "whistled",
                to,
                json!({ "lead": lead, "departments": all }),
            );
            if restart {
                start(&mut next, Stage::Handle);
                next.handle_deadline_at_us = next.clock.as_ref().map(|c| c.deadline_at_us);
            }
        }
        Command::ReportForDuty => {
            let department = actor.department.clone().unwrap_or_default();
            let whistle = next.whistle.as_mut().ok_or_else(|| {
                Rejection::IllegalTransition("no whistle was blown for this case".into())
            })?;
            let call = whistle
                .calls
                .iter_mut()
                .find(|c| c.department == department)
                .ok_or_else(|| {
                    Rejection::Forbidden("your department was not summoned to this case".into())
                })?;
            if call.reported_at_us.is_some() {
                return Err(Rejection::IllegalTransition(format!(
                    "department {department} has already reported for duty"
                )));
            }
            call.reported_at_us = Some(at_us);
            let state = next.state;
            step(
                &mut next,
                "reported_for_duty",
                state,
                json!({ "department": department }),
            );
        }
        Command::Rate { rating } => {
            if next.ratings_this_round >= next.reporters {
                return Err(Rejection::IllegalTransition(
                    "every reporter of this case has already rated it".into(),
                ));
            }
            next.ratings_this_round += 1;
            let tally = match rating {
                Rating::Satisfied => &mut next.ratings.satisfied,
                Rating::BasicallySatisfied => &mut next.ratings.basically_satisfied,
                Rating::Dissatisfied => &mut next.ratings.dissatisfied,
            };
            *tally += 1;
            let all_rated = next.ratings_this_round >= next.reporters;
            let to = if all_rated {
                CaseState::Rated
            } else {
                next.state
            };
            let detail = json!({ "rating": rating.as_str(), "round": next.rating_round });
            step(&mut next, "rated", to, detail);
            if *rating == Rating::Dissatisfied {
                match next.domain {
                    // Public service is judged by the people served: dissatisfied reopens.
                    EvaluationDomain::Satisfaction => {
                        reopen(&mut next, &mut step, &start, "the reporter is dissatisfied")
                    }
                    // Objective work is reviewed by an operator, who may reopen.
                    EvaluationDomain::Objective => {
                        next.review_requested = true;
                        let state = next.state;
                        step(
                            &mut next,
                            "review_requested",
                            state,
                            json!({ "reason": "the reporter is dissatisfied" }),
                        );
                    }
                }
            }
        }
    }
    refresh_queue_flags(&mut next);
    Ok(Decision { case: next, events })
}

fn reopen(
    next: &mut Case,
    step: &mut impl FnMut(&mut Case, &str, CaseState, Value),
    start: &impl Fn(&mut Case, Stage),
    reason: &str,
) {
    next.reopens += 1;
    next.review_requested = false;
    next.closed_at_us = None;
    next.handled_at_us = None;
    next.verified_at_us = None;
    if next.department.is_some() {
        step(
            next,
            "reopened",
            CaseState::Dispatched,
            json!({ "reason": reason, "reopens": next.reopens }),
        );
        start(next, Stage::Handle);
        next.handle_deadline_at_us = next.clock.as_ref().map(|c| c.deadline_at_us);
    } else {
        step(
            next,
            "reopened",
            CaseState::Registered,
            json!({ "reason": reason, "reopens": next.reopens }),
        );
        start(next, Stage::Dispatch);
    }
}

/// Records whether the stage now ending (the case's running clock) ended within its deadline; the
/// first ending of a stage counts.
fn record_stage_end(case: &mut Case, at_us: i64) {
    let Some(clock) = case.clock.as_ref() else {
        return;
    };
    let on_time = at_us <= clock.deadline_at_us;
    let slot = match clock.stage {
        Stage::Register => &mut case.stages_on_time.register,
        Stage::Dispatch => &mut case.stages_on_time.dispatch,
        Stage::Verify => &mut case.stages_on_time.verify,
        Stage::Handle | Stage::Close => return,
    };
    slot.get_or_insert(on_time);
}

fn refresh_queue_flags(case: &mut Case) {
    if case.state != CaseState::Registered {
        case.queue_reason = None;
        case.candidates.clear();
    }
}

/// The deadline scheduler's decision for one case at `now`: a warning once 80 % of the stage's
/// limit is used, overdue once it is all used, and with overdue exactly one escalation of the
/// supervising level (street → district → city; at city level the case is flagged for
/// supervision instead).
pub fn tick(case: &Case, now_us: i64) -> Option<Decision> {
    let clock = case.clock.as_ref()?;
    if case.state.is_final() || case.state == CaseState::Suspended {
        return None;
    }
    let warn = !clock.warned && now_us >= clock.warn_at_us;
    let overdue = !clock.overdue && now_us >= clock.deadline_at_us;
    if !warn && !overdue {
        return None;
    }
    let mut next = case.clone();
    next.version += 1;
    let mut events = Vec::new();
    let system = Actor::system("deadlines");
    let mut push = |kind: &str, detail: Value| {
        events.push(CaseEvent {
            kind: kind.into(),
            at_us: now_us,
            actor: system.id.clone(),
            role: Role::System,
            from: Some(case.state),
            to: case.state,
            detail,
        });
    };
    let stage = clock.stage.as_str();
    let clock_next = next.clock.as_mut().expect("the clock exists");
    if warn {
        clock_next.warned = true;
        push(
            "warned",
            json!({ "stage": stage, "deadline_at_us": clock.deadline_at_us }),
        );
    }
    let escalate = overdue && !clock.escalated;
    if overdue {
        clock_next.overdue = true;
        clock_next.escalated = true;
        push(
            "overdue",
            json!({ "stage": stage, "deadline_at_us": clock.deadline_at_us }),
        );
    }
    next.ever_overdue |= overdue;
    if escalate {
        let from = next.level;
        let to = match from {
            DivisionLevel::Community | DivisionLevel::Street => DivisionLevel::District,
            DivisionLevel::District | DivisionLevel::City => DivisionLevel::City,
        };
        next.level = to;
        next.escalations += 1;
        push(
            "escalated",
            json!({ "stage": stage, "from": from.as_str(), "to": to.as_str(), "supervision": from == DivisionLevel::City }),
        );
    }
    Some(Decision { case: next, events })
}

/// The next instant the scheduler must look at a case.
pub fn next_due_us(case: &Case) -> Option<i64> {
    if case.state.is_final() || case.state == CaseState::Suspended {
        return None;
    }
    case.clock.as_ref().and_then(StageClock::next_due_us)
}
