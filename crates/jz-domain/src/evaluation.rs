//! Evaluation (综合评价): the counters a case contributes, the indicators computed from them, and
//! a scorecard read against a goal cluster.
//!
//! Counters are a pure projection of a case: [`contributions`] says which counters a case in its
//! current state adds to which key (scope × department × day × domain). Storage keeps the sums and
//! updates them with [`delta`] — `contributions(after) − contributions(before)` — in the same
//! transaction as the case change, so a scorecard of any division over any period is a sum over a
//! few rows, never a scan of cases.
//!
//! Periods: counters of reporting and registration (valid reports, registration, dispatch) belong
//! to the day the case was reported; counters of handling, closure, rework, overdue and ratings
//! belong to the day the case was *due* (its handling deadline, or the day it was closed when
//! that came first; the day of report while it has none), so the denominators of the handling
//! rates are "the cases due in the period" as the standard defines them. Days are Asia/Shanghai calendar days (UTC+8, no daylight saving).

use std::collections::BTreeMap;
use std::ops::{AddAssign, SubAssign};

use crate::case::{Case, CaseState, Channel};
use crate::category::{EvaluationDomain, Urgency};
use crate::goal::{self, Better, GoalCluster};

macro_rules! counters {
    ($($variant:ident => $column:literal, $doc:literal;)*) => {
        /// One counter of the evaluation tables.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Counter {
            $(#[doc = $doc] $variant,)*
        }

        impl Counter {
            /// Every counter, in column order.
            pub const ALL: &'static [Counter] = &[$(Counter::$variant,)*];

            /// The counter's column (and wire) name.
            pub fn column(self) -> &'static str {
                match self {
                    $(Counter::$variant => $column,)*
                }
            }
        }
    };
}

counters! {
    Reported => "reported", "Cases reported (by the day of report).";
    ByInspector => "by_inspector", "Cases reported by grid inspectors.";
    ByPublic => "by_public", "Cases reported by the public (web, Open311, hotline).";
    InspectorValid => "inspector_valid", "Inspector reports that were registered.";
    Registered => "registered", "Cases registered (立案).";
    RegisteredOnTime => "registered_on_time", "Cases registered within the registration limit.";
    Rejected => "rejected", "Reports rejected as invalid.";
    Cancelled => "cancelled", "Registered cases later cancelled (作废).";
    Dispatched => "dispatched", "Cases dispatched to a department.";
    DispatchedOnTime => "dispatched_on_time", "Cases first dispatched within the dispatch limit.";
    Returned => "returned", "Dispatched cases returned to the dispatcher at least once.";
    RegisteredPublic => "registered_public", "Registered cases that came from the public, not an inspector.";
    PublicRegisteredOnTime => "public_registered_on_time", "Public reports verified and registered on time.";
    Urgent => "urgent", "Registered cases of urgent urgency (the safety-incident count).";
    Due => "due", "Cases due to be handled (dispatched), by the day they were due.";
    Handled => "handled", "Due cases the department reported handled.";
    HandledOnTime => "handled_on_time", "Due cases first handled within the handling limit.";
    Closed => "closed", "Due cases closed (结案) and still closed.";
    ClosedOnTime => "closed_on_time", "Closed cases closed by their handling deadline.";
    Reworked => "reworked", "Due cases sent back for rework at least once.";
    Overdue => "overdue", "Cases that ran past a deadline at any stage.";
    Escalated => "escalated", "Cases escalated at least once.";
    Checked => "checked", "Cases checked on site after handling (核查).";
    CheckedOnTime => "checked_on_time", "Cases first checked within the check limit.";
    Suspended => "suspended", "Cases suspended (挂账) now.";
    Open => "open", "Cases open now (not closed, rated, rejected or cancelled).";
    OverdueOpen => "overdue_open", "Open cases whose running stage is overdue now.";
    Responded => "responded", "Due cases the department acknowledged (accepted).";
    Resolved => "resolved", "Closed cases without an open dissatisfied review.";
    RatedSatisfied => "rated_satisfied", "Ratings: satisfied.";
    RatedBasic => "rated_basically_satisfied", "Ratings: basically satisfied.";
    RatedDissatisfied => "rated_dissatisfied", "Ratings: dissatisfied.";
}

/// How many counters there are.
pub const COUNTERS: usize = Counter::ALL.len();

/// A vector of counter values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts(pub [i64; COUNTERS]);

impl Default for Counts {
    fn default() -> Self {
        Counts([0; COUNTERS])
    }
}

impl Counts {
    pub fn get(&self, counter: Counter) -> i64 {
        self.0[counter as usize]
    }

    fn bump(&mut self, counter: Counter) {
        self.0[counter as usize] += 1;
    }

    pub fn is_zero(&self) -> bool {
        self.0.iter().all(|v| *v == 0)
    }
}

impl AddAssign<&Counts> for Counts {
    fn add_assign(&mut self, other: &Counts) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a += b;
        }
    }
}

impl SubAssign<&Counts> for Counts {
    fn sub_assign(&mut self, other: &Counts) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a -= b;
        }
    }
}

/// The scope name of the whole city (every deployment serves one city).
pub const CITY_SCOPE: &str = "city";

/// The department of the rows that sum over all departments.
pub const ALL_DEPARTMENTS: &str = "*";

/// The prefix of a zone's scope name.
pub const ZONE_PREFIX: &str = "zone:";

/// One row of the evaluation tables.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    /// `city`, a division code (district, street, community) or `zone:<id>`.
    pub scope: String,
    /// The responsible department, or [`ALL_DEPARTMENTS`].
    pub department: String,
    /// Days since 1970-01-01 in Asia/Shanghai.
    pub day: i32,
    pub domain: EvaluationDomain,
}

const MICROS_PER_DAY: i64 = 86_400_000_000;
const SHANGHAI_OFFSET_US: i64 = 8 * 3_600_000_000;

/// The Asia/Shanghai calendar day (days since 1970-01-01) of an instant.
pub fn day_of(at_us: i64) -> i32 {
    i32::try_from((at_us + SHANGHAI_OFFSET_US).div_euclid(MICROS_PER_DAY)).unwrap_or(i32::MAX)
}

/// The scopes a case counts in: the city, its district, street and community, and its zones.
///
/// Unit grids are not a scope: a grid sees a case every few weeks, so per-grid rows would be as
/// many as cases and every intake would write one more; grid views count cases directly.
pub fn scopes(case: &Case) -> Vec<String> {
    let place = &case.place;
    let mut scopes = vec![
        CITY_SCOPE.to_owned(),
        place.district.as_str().to_owned(),
        place.street.as_str().to_owned(),
        place.community.as_str().to_owned(),
    ];
    scopes.extend(place.zones.iter().map(|z| format!("{ZONE_PREFIX}{z}")));
    scopes
}

fn is_public(channel: Channel) -> bool {
    matches!(channel, Channel::Web | Channel::Open311 | Channel::Hotline)
}

/// What one case contributes, per day, in the key space of its department and domain (before
/// fanning out to scopes): the counters of its report day and of its due day.
fn facts(case: &Case) -> [(i32, Counts); 2] {
    let mut reported = Counts::default();
    let mut due = Counts::default();
    let registered = case.registered_at_us.is_some();
    reported.bump(Counter::Reported);
    if case.channel == Channel::Inspector {
        reported.bump(Counter::ByInspector);
        if registered && case.state != CaseState::Rejected {
            reported.bump(Counter::InspectorValid);
        }
    }
    if is_public(case.channel) {
        reported.bump(Counter::ByPublic);
    }
    if case.state == CaseState::Rejected {
        reported.bump(Counter::Rejected);
    }
    if registered {
        reported.bump(Counter::Registered);
        if case.stages_on_time.register == Some(true) {
            reported.bump(Counter::RegisteredOnTime);
        }
        if case.channel != Channel::Inspector {
            reported.bump(Counter::RegisteredPublic);
            if case.stages_on_time.register == Some(true) {
                reported.bump(Counter::PublicRegisteredOnTime);
            }
        }
        if case.state == CaseState::Cancelled {
            reported.bump(Counter::Cancelled);
        }
        if case.urgency == Urgency::Urgent {
            reported.bump(Counter::Urgent);
        }
    }
    if case.dispatched_at_us.is_some() {
        reported.bump(Counter::Dispatched);
        if case.stages_on_time.dispatch == Some(true) {
            reported.bump(Counter::DispatchedOnTime);
        }
        if case.returns > 0 {
            reported.bump(Counter::Returned);
        }
        due.bump(Counter::Due);
        if case.handled_on_time.is_some() {
            due.bump(Counter::Handled);
        }
        if case.handled_on_time == Some(true) {
            due.bump(Counter::HandledOnTime);
        }
        if case.reworks > 0 {
            due.bump(Counter::Reworked);
        }
        if case.accepted_at_us.is_some() {
            due.bump(Counter::Responded);
        }
    }
    let closed = matches!(case.state, CaseState::Closed | CaseState::Rated);
    if closed {
        due.bump(Counter::Closed);
        if case.closed_on_time == Some(true) {
            due.bump(Counter::ClosedOnTime);
        }
        if !case.review_requested {
            due.bump(Counter::Resolved);
        }
    }
    if case.stages_on_time.verify.is_some() {
        due.bump(Counter::Checked);
        if case.stages_on_time.verify == Some(true) {
            due.bump(Counter::CheckedOnTime);
        }
    }
    if case.ever_overdue {
        due.bump(Counter::Overdue);
    }
    if case.escalations > 0 {
        due.bump(Counter::Escalated);
    }
    if case.state == CaseState::Suspended {
        due.bump(Counter::Suspended);
    }
    if case.state.is_open() {
        due.bump(Counter::Open);
        if case.clock.as_ref().is_some_and(|c| c.overdue) {
            due.bump(Counter::OverdueOpen);
        }
    }
    due.0[Counter::RatedSatisfied as usize] = i64::from(case.ratings.satisfied);
    due.0[Counter::RatedBasic as usize] = i64::from(case.ratings.basically_satisfied);
    due.0[Counter::RatedDissatisfied as usize] = i64::from(case.ratings.dissatisfied);
    let report_day = day_of(case.reported_at_us);
    let due_day = due_day(case).unwrap_or(report_day);
    [(report_day, reported), (due_day, due)]
}

/// The day a case is due: its handling deadline, or the day it was closed when that came first
/// (a case closed early is no longer pending after that day); `None` before dispatch.
pub fn due_day(case: &Case) -> Option<i32> {
    let deadline = case.handle_deadline_at_us?;
    Some(day_of(
        case.closed_at_us
            .map_or(deadline, |closed| closed.min(deadline)),
    ))
}

/// Every row a case in its current state adds to, with the amounts.
///
/// Every scope has rows over all departments ([`ALL_DEPARTMENTS`]); the city and the zones also
/// have rows per department (a department is evaluated city-wide and per zone). Keeping the
/// department out of the division rows keeps a division's year at two rows a day.
pub fn contributions(case: &Case) -> BTreeMap<Key, Counts> {
    let mut rows: BTreeMap<Key, Counts> = BTreeMap::new();
    let facts = facts(case);
    let mut add = |scope: &str, department: &str| {
        for (day, counts) in &facts {
            if counts.is_zero() {
                continue;
            }
            *rows
                .entry(Key {
                    scope: scope.to_owned(),
                    day: *day,
                    department: department.to_owned(),
                    domain: case.domain,
                })
                .or_default() += counts;
        }
    };
    for scope in scopes(case) {
        add(&scope, ALL_DEPARTMENTS);
        let per_department = scope == CITY_SCOPE || scope.starts_with(ZONE_PREFIX);
        if let Some(department) = case.department.as_deref().filter(|_| per_department) {
            add(&scope, department);
        }
    }
    rows
}

/// What a case change does to the evaluation rows: `contributions(after) − contributions(before)`,
/// without the rows that do not change.
pub fn delta(before: Option<&Case>, after: &Case) -> Vec<(Key, Counts)> {
    let mut rows = contributions(after);
    if let Some(before) = before {
        for (key, counts) in contributions(before) {
            *rows.entry(key).or_default() -= &counts;
        }
    }
    rows.into_iter().filter(|(_, c)| !c.is_zero()).collect()
}

/// What a scorecard knows about its scope beyond the counters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScopeFacts {
    /// Unit grids in the scope (for per-grid counts).
    pub grids: u64,
    /// Area in km² (for per-area counts).
    pub area_km2: f64,
    /// Days in the period.
    pub days: u32,
}

fn ratio(numerator: i64, denominator: i64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

/// The counters of a scope and period, overall and per evaluation domain.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub objective: Counts,
    pub satisfaction: Counts,
}

impl Tally {
    pub fn add(&mut self, domain: EvaluationDomain, counts: &Counts) {
        match domain {
            EvaluationDomain::Objective => self.objective += counts,
            EvaluationDomain::Satisfaction => self.satisfaction += counts,
        }
    }

    /// Adds another scope's or day's tally, domain by domain.
    pub fn merge(&mut self, other: &Tally) {
        self.objective += &other.objective;
        self.satisfaction += &other.satisfaction;
    }

    pub fn all(&self) -> Counts {
        let mut all = self.objective;
        all += &self.satisfaction;
        all
    }
}

/// The value of an indicator of the catalogue ([`goal::INDICATORS`]) for a tally, or `None` when
/// its denominator is zero (no data).
///
/// The hotline's response and resolution rates are read on satisfaction-domain cases (public
/// service); every other rate on all cases. Safety incidents are the registered urgent cases.
pub fn indicator_value(code: &str, tally: &Tally, scope: &ScopeFacts) -> Option<f64> {
    use Counter as C;
    let all = tally.all();
    let s = &tally.satisfaction;
    let c = |counter| all.get(counter);
    let months = f64::from(scope.days.max(1)) / 30.0;
    match code {
        "valid_report_rate" => ratio(c(C::InspectorValid), c(C::ByInspector)),
        "accurate_registration_rate" => ratio(c(C::Registered) - c(C::Cancelled), c(C::Registered)),
        "on_time_registration_rate" => ratio(c(C::RegisteredOnTime), c(C::Registered)),
        "on_time_dispatch_rate" => ratio(c(C::DispatchedOnTime), c(C::Dispatched)),
        "accurate_dispatch_rate" => ratio(c(C::Dispatched) - c(C::Returned), c(C::Dispatched)),
        "handling_rate" => ratio(c(C::Handled), c(C::Due)),
        "on_time_handling_rate" => ratio(c(C::HandledOnTime), c(C::Due)),
        "closure_rate" => ratio(c(C::Closed), c(C::Due)),
        "on_time_closure_rate" => ratio(c(C::ClosedOnTime), c(C::Due)),
        "overdue_closure_rate" => ratio(c(C::Closed) - c(C::ClosedOnTime), c(C::Due)),
        "rework_rate" => ratio(c(C::Reworked), c(C::Due)),
        "on_time_verification_rate" => ratio(c(C::PublicRegisteredOnTime), c(C::RegisteredPublic)),
        "on_time_check_rate" => ratio(c(C::CheckedOnTime), c(C::Checked)),
        "missed_report_rate" => ratio(c(C::RegisteredPublic), c(C::Registered)),
        "hotline_response_rate" => ratio(s.get(C::Responded), s.get(C::Due)),
        "hotline_resolution_rate" => ratio(s.get(C::Resolved), s.get(C::Due)),
        "satisfaction_rate" => ratio(
            c(C::RatedSatisfied) + c(C::RatedBasic),
            c(C::RatedSatisfied) + c(C::RatedBasic) + c(C::RatedDissatisfied),
        ),
        "safety_incidents_per_km2_month" => {
            (scope.area_km2 > 0.0).then(|| c(C::Urgent) as f64 / scope.area_km2 / months)
        }
        "cases_per_grid_month" => {
            (scope.grids > 0).then(|| c(C::Registered) as f64 / scope.grids as f64 / months)
        }
        _ => None,
    }
}

/// How far a value reaches its target, in `[0, 1]`.
pub fn attainment(better: Better, value: f64, target: f64) -> f64 {
    let reached = match better {
        Better::Higher if target <= 0.0 => 1.0,
        Better::Higher => value / target,
        Better::Lower if value <= target => 1.0,
        Better::Lower if value <= 0.0 => 1.0,
        Better::Lower => target / value,
    };
    reached.clamp(0.0, 1.0)
}

/// The evaluation grade of a score (A 90–100 green, B 75–90 blue, C 60–75 yellow, D 40–60 red,
/// E < 40 black).
pub fn grade(score: f64) -> char {
    match score {
        s if s >= 90.0 => 'A',
        s if s >= 75.0 => 'B',
        s if s >= 60.0 => 'C',
        s if s >= 40.0 => 'D',
        _ => 'E',
    }
}

/// One indicator of a scorecard.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub indicator: &'static goal::Indicator,
    pub value: Option<f64>,
    /// The goal, when the scope's cluster names this indicator.
    pub target: Option<f64>,
    pub weight: Option<f64>,
    pub attainment: Option<f64>,
    /// How far the value is from the target, in the indicator's unit; positive means short of it.
    pub gap: Option<f64>,
}

/// A scope's evaluation over a period.
#[derive(Debug, Clone, PartialEq)]
pub struct Scorecard {
    pub readings: Vec<Reading>,
    /// The weighted attainment of the goal cluster ×100, over the targets with data (their
    /// weights renormalised); `None` without goals, or when the targets with data carry less
    /// than [`MIN_COVERAGE`] of the weight (one target out of four is no score).
    pub score: Option<f64>,
    /// The share of the goal cluster's weight whose indicators have data; `None` without goals.
    pub coverage: Option<f64>,
    /// Objective-domain work is judged by on-time closure, satisfaction-domain work by ratings.
    pub objective_limit: Option<f64>,
    pub satisfaction_limit: Option<f64>,
}

/// The least share of goal weight with data for a weighted score.
pub const MIN_COVERAGE: f64 = 0.5;

/// Reads a tally against a goal cluster (every indicator of the catalogue is read; the cluster's
/// targets carry the weights).
pub fn scorecard(tally: &Tally, scope: &ScopeFacts, goals: Option<&GoalCluster>) -> Scorecard {
    let mut readings = Vec::with_capacity(goal::INDICATORS.len());
    let mut weighted = 0.0;
    let mut weights = 0.0;
    for indicator in goal::INDICATORS {
        let value = indicator_value(indicator.code, tally, scope);
        let target = goals.and_then(|g| g.targets().iter().find(|t| t.indicator == indicator.code));
        let attainment = match (value, target) {
            (Some(v), Some(t)) => Some(attainment(indicator.better, v, t.target)),
            _ => None,
        };
        if let (Some(a), Some(t)) = (attainment, target) {
            weighted += a * t.weight;
            weights += t.weight;
        }
        let gap = match (value, target) {
            (Some(v), Some(t)) => Some(match indicator.better {
                Better::Higher => t.target - v,
                Better::Lower => v - t.target,
            }),
            _ => None,
        };
        readings.push(Reading {
            indicator,
            value,
            target: target.map(|t| t.target),
            weight: target.map(|t| t.weight),
            attainment,
            gap,
        });
    }
    let objective = Tally {
        objective: tally.objective,
        satisfaction: Counts::default(),
    };
    let satisfaction = Tally {
        objective: Counts::default(),
        satisfaction: tally.satisfaction,
    };
    Scorecard {
        readings,
        coverage: goals.map(|_| weights),
        score: (weights >= MIN_COVERAGE).then(|| 100.0 * weighted / weights),
        objective_limit: indicator_value("on_time_closure_rate", &objective, scope),
        satisfaction_limit: indicator_value("satisfaction_rate", &satisfaction, scope),
    }
}

/// Banded count score: cases per unit grid per month → score (0 → 100, < 3 → 90, < 5 → 75,
/// < 7 → 60, < 9 → 40, else 0), the standard's default bands.
pub const COUNT_BANDS: &[(f64, f64)] = &[
    (0.0, 100.0),
    (3.0, 90.0),
    (5.0, 75.0),
    (7.0, 60.0),
    (9.0, 40.0),
];

/// The banded score of a count per grid per month.
pub fn count_score(per_grid_month: f64) -> f64 {
    if per_grid_month <= 0.0 {
        return COUNT_BANDS[0].1;
    }
    COUNT_BANDS[1..]
        .iter()
        .find(|(below, _)| per_grid_month < *below)
        .map_or(0.0, |(_, score)| *score)
}

/// The standard's composite area score (grid / community / street): public-report rate ×10 % +
/// case-count score ×20 % + closure rate ×30 % + on-time closure rate ×40 %; `None` without due
/// cases.
pub fn area_score(tally: &Tally, scope: &ScopeFacts) -> Option<f64> {
    let all = tally.all();
    let public = ratio(all.get(Counter::ByPublic), all.get(Counter::Reported)).unwrap_or(0.0);
    let per_grid = indicator_value("cases_per_grid_month", tally, scope).unwrap_or(0.0);
    let closure = indicator_value("closure_rate", tally, scope)?;
    let on_time = indicator_value("on_time_closure_rate", tally, scope)?;
    Some(10.0 * public + 0.2 * count_score(per_grid) + 30.0 * closure + 40.0 * on_time)
}

/// The standard's composite department score: case-count score ×10 % + closure rate ×30 % +
/// on-time handling rate ×30 % + (1 − rework rate) ×30 %; `None` without due cases.
pub fn department_score(tally: &Tally, scope: &ScopeFacts) -> Option<f64> {
    let per_grid = indicator_value("cases_per_grid_month", tally, scope).unwrap_or(0.0);
    let closure = indicator_value("closure_rate", tally, scope)?;
    let on_time = indicator_value("on_time_handling_rate", tally, scope)?;
    let rework = indicator_value("rework_rate", tally, scope)?;
    Some(0.1 * count_score(per_grid) + 30.0 * closure + 30.0 * on_time + 30.0 * (1.0 - rework))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_shanghai_calendar_days() {
        // 2026-11-29 15:59:59 UTC is 23:59:59 in Shanghai; one second later is the next day.
        let before = 1_796_054_399_000_000;
        assert_eq!(day_of(before) + 1, day_of(before + 1_000_000));
        assert_eq!(day_of(0), 0);
        assert_eq!(day_of(-SHANGHAI_OFFSET_US - 1), -1);
    }

    #[test]
    fn tallies_merge_domain_by_domain() {
        let mut one = Counts::default();
        one.bump(Counter::Reported);
        let mut two = one;
        two.bump(Counter::ByPublic);
        let mut sum = Tally {
            objective: one,
            satisfaction: Counts::default(),
        };
        sum.merge(&Tally {
            objective: one,
            satisfaction: two,
        });
        assert_eq!(sum.objective.get(Counter::Reported), 2);
        assert_eq!(sum.satisfaction.get(Counter::Reported), 1);
        assert_eq!(sum.satisfaction.get(Counter::ByPublic), 1);
        assert_eq!(sum.all().get(Counter::Reported), 3);
    }

    #[test]
    fn attainment_reads_both_directions() {
        assert_eq!(attainment(Better::Higher, 0.9, 0.9), 1.0);
        assert!((attainment(Better::Higher, 0.45, 0.9) - 0.5).abs() < 1e-12);
        assert_eq!(attainment(Better::Lower, 0.02, 0.05), 1.0);
        assert!((attainment(Better::Lower, 0.10, 0.05) - 0.5).abs() < 1e-12);
        assert_eq!(attainment(Better::Higher, 2.0, 1.0), 1.0);
    }

    #[test]
    fn grades_follow_the_standard_bands() {
        assert_eq!(grade(100.0), 'A');
        assert_eq!(grade(90.0), 'A');
        assert_eq!(grade(89.9), 'B');
        assert_eq!(grade(60.0), 'C');
        assert_eq!(grade(59.0), 'D');
        assert_eq!(grade(39.9), 'E');
    }

    #[test]
    fn count_scores_are_banded() {
        assert_eq!(count_score(0.0), 100.0);
        assert_eq!(count_score(2.9), 90.0);
        assert_eq!(count_score(4.0), 75.0);
        assert_eq!(count_score(8.5), 40.0);
        assert_eq!(count_score(12.0), 0.0);
    }

    #[test]
    fn a_goal_score_needs_half_the_weight_with_data() {
        let goals = crate::goal::ZoneType::CommercialDistrict
            .default_goals()
            .unwrap();
        let scope = ScopeFacts {
            grids: 100,
            area_km2: 1.0,
            days: 30,
        };
        // No case due: only the per-grid count (weight 0.2) has a value.
        let empty = scorecard(&Tally::default(), &scope, Some(&goals));
        assert_eq!(empty.coverage, Some(0.2));
        assert_eq!(empty.score, None);
        // Due and closed cases give on-time closure and rework (0.3 + 0.2 more).
        let mut counts = Counts::default();
        counts.0[Counter::Due as usize] = 10;
        counts.0[Counter::Closed as usize] = 10;
        counts.0[Counter::ClosedOnTime as usize] = 9;
        counts.0[Counter::Registered as usize] = 10;
        let mut tally = Tally::default();
        tally.add(EvaluationDomain::Objective, &counts);
        let card = scorecard(&tally, &scope, Some(&goals));
        assert!((card.coverage.unwrap() - 0.7).abs() < 1e-9);
        // 0.9 of 0.95 on closure (0.3), rework 0 ≤ 0.05 (0.2), 0.1 cases/grid ≤ 5 (0.2).
        let expected = 100.0 * (0.3 * (0.9 / 0.95) + 0.2 + 0.2) / 0.7;
        assert!(
            (card.score.unwrap() - expected).abs() < 1e-9,
            "{:?}",
            card.score
        );
        assert_eq!(scorecard(&tally, &scope, None).coverage, None);
    }

    #[test]
    fn a_rate_without_a_denominator_has_no_value() {
        let scope = ScopeFacts {
            grids: 10,
            area_km2: 1.0,
            days: 30,
        };
        assert_eq!(
            indicator_value("closure_rate", &Tally::default(), &scope),
            None
        );
        assert_eq!(
            indicator_value("no_such_indicator", &Tally::default(), &scope),
            None
        );
        let cases = indicator_value("cases_per_grid_month", &Tally::default(), &scope);
        assert_eq!(cases, Some(0.0));
    }
}
