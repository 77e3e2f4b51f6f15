//! Case categories (案件类别): the GB/T 47678.5-2026 matters and the 12345 hotline extension
//! namespace, each with its default urgency, its time limits per stage and urgency, and the
//! evaluation domain it is judged in (objective work vs satisfaction-judged service).
//!
//! The catalogue is data: seeded from the shipped CSV on first start, editable afterwards.
//! [`seed_from_csv`] derives sensible defaults from the standard's reference time limits
//! (e.g. exposed garbage 4 working hours, illegal structures 20 working days, missing manhole
//! covers 6 natural hours) and the hotline's 2 / 10 / 15 working days per request type.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::calendar::{TimeLimit, TimeUnit};

/// What a category classifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CategoryKind {
    /// A matter (事项): an event, or a part's abnormality (majors 01–05).
    Matter,
    /// A 12345 hotline request (consultation, help, complaint, report, suggestion).
    Hotline,
}

/// How a case is judged in evaluation (the essay's "limits").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvaluationDomain {
    /// Facility and operation work, measured objectively (on-time closure).
    Objective,
    /// Public service, judged by the people served (ratings).
    Satisfaction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    Normal,
    Urgent,
}

impl Urgency {
    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::Normal => "normal",
            Urgency::Urgent => "urgent",
        }
    }
}

impl FromStr for Urgency {
    type Err = String;
    fn from_str(s: &str) -> Result<Urgency, String> {
        match s {
            "normal" => Ok(Urgency::Normal),
            "urgent" => Ok(Urgency::Urgent),
            other => Err(format!("unknown urgency `{other}`; use normal or urgent")),
        }
    }
}

/// The timed stages of the closed loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Reported, waiting to be verified and registered (受理/立案).
    Register,
    /// Registered, waiting for dispatch (派遣).
    Dispatch,
    /// Dispatched, being handled by the department (处置); the handling clock.
    Handle,
    /// Handled, waiting for the on-site check (核查).
    Verify,
    /// Verified, waiting to be closed (结案).
    Close,
}

impl Stage {
    pub const ALL: [Stage; 5] = [
        Stage::Register,
        Stage::Dispatch,
        Stage::Handle,
        Stage::Verify,
        Stage::Close,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Register => "register",
            Stage::Dispatch => "dispatch",
            Stage::Handle => "handle",
            Stage::Verify => "verify",
            Stage::Close => "close",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One stage's limits, for each urgency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrgencyLimits {
    #[serde(with = "limit_text")]
    pub normal: TimeLimit,
    #[serde(with = "limit_text")]
    pub urgent: TimeLimit,
}

/// Time limits of every stage, per urgency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageLimits {
    pub register: UrgencyLimits,
    pub dispatch: UrgencyLimits,
    pub handle: UrgencyLimits,
    pub verify: UrgencyLimits,
    pub close: UrgencyLimits,
}

impl StageLimits {
    pub fn get(&self, stage: Stage, urgency: Urgency) -> TimeLimit {
        let limits = match stage {
            Stage::Register => self.register,
            Stage::Dispatch => self.dispatch,
            Stage::Handle => self.handle,
            Stage::Verify => self.verify,
            Stage::Close => self.close,
        };
        match urgency {
            Urgency::Normal => limits.normal,
            Urgency::Urgent => limits.urgent,
        }
    }

    /// Every limit must be positive.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for stage in Stage::ALL {
            for urgency in [Urgency::Normal, Urgency::Urgent] {
                if self.get(stage, urgency).amount == 0 {
                    problems.push(format!(
                        "limits.{}.{}: a time limit must be at least 1",
                        stage.as_str(),
                        urgency.as_str()
                    ));
                }
            }
        }
        problems
    }
}

/// Serialises a [`TimeLimit`] as its text form, e.g. `"4 working_hours"`.
pub mod limit_text {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::calendar::TimeLimit;

    pub fn serialize<S: Serializer>(limit: &TimeLimit, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(limit)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<TimeLimit, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A case category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Category {
    /// 5-digit matter code (`06010`) or hotline extension code (`R3001`).
    pub code: String,
    pub kind: CategoryKind,
    pub major_code: String,
    pub major_name: String,
    pub name: String,
    pub urgency: Urgency,
    pub domain: EvaluationDomain,
    pub limits: StageLimits,
    pub active: bool,
}

impl Category {
    /// Problems with an edited category, each naming its field.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = self.limits.problems();
        let code_ok = match self.kind {
            CategoryKind::Matter => {
                self.code.len() == 5 && self.code.bytes().all(|b| b.is_ascii_digit())
            }
            CategoryKind::Hotline => {
                self.code.len() == 5
                    && self.code.starts_with('R')
                    && self.code[1..].bytes().all(|b| b.is_ascii_digit())
            }
        };
        if !code_ok {
            problems.push(format!(
                "code: `{}` is not a {} code (matters: 5 digits like 06010; hotline: R + 4 digits like R3001)",
                self.code,
                match self.kind {
                    CategoryKind::Matter => "matter",
                    CategoryKind::Hotline => "hotline",
                }
            ));
        }
        if !self.code.starts_with(&self.major_code) || self.major_code.is_empty() {
            problems.push(format!(
                "major_code: `{}` must be the leading part of the code `{}`",
                self.major_code, self.code
            ));
        }
        if self.name.trim().is_empty() {
            problems.push("name: must not be empty".into());
        }
        if self.name.chars().count() > 100 {
            problems.push("name: at most 100 characters".into());
        }
        problems
    }
}

/// A row of the parts catalogue (部件): physical objects in public space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartClass {
    pub code: String,
    pub major_code: String,
    pub major_name: String,
    pub name: String,
}

fn limit(amount: u32, unit: TimeUnit) -> TimeLimit {
    TimeLimit { amount, unit }
}

fn same(normal: TimeLimit, urgent: TimeLimit) -> UrgencyLimits {
    UrgencyLimits { normal, urgent }
}

/// The standard's reference limits for the stages around handling.
fn stage_limits(handle: UrgencyLimits) -> StageLimits {
    use TimeUnit::*;
    StageLimits {
        register: same(limit(1, WorkingHours), limit(30, NaturalMinutes)),
        dispatch: same(limit(1, WorkingHours), limit(30, NaturalMinutes)),
        handle,
        verify: same(limit(30, NaturalMinutes), limit(30, NaturalMinutes)),
        close: same(limit(1, WorkingHours), limit(1, NaturalHours)),
    }
}

/// Default handling limit and urgency of a matter, from the standard's reference values.
fn matter_defaults(code: &str, name: &str) -> (UrgencyLimits, Urgency) {
    use TimeUnit::*;
    let hours = |n: u32| {
        same(
            limit(n, WorkingHours),
            limit(n.div_ceil(2).max(1), NaturalHours),
        )
    };
    let days = |n: u32| same(limit(n, WorkingDays), limit(24, NaturalHours));
    let urgent = |n: u32| same(limit(n, NaturalHours), limit(n, NaturalHours));
    if name.contains("井盖") || name.contains("箅子") {
        // A missing manhole cover: 6 hours on the natural clock (36 when site conditions
        // prevent, granted as a postponement).
        return (urgent(6), Urgency::Urgent);
    }
    match code {
        "06010" | "06011" | "06042" => (hours(4), Urgency::Normal),
        "06012" | "06014" => (hours(2), Urgency::Normal),
        "06001" | "08016" => (days(20), Urgency::Normal),
        "06017" | "06018" | "06045" => (days(5), Urgency::Normal),
        "10001" | "10002" | "09012" => (urgent(6), Urgency::Urgent),
        _ => match &code[..2] {
            "04" => (days(5), Urgency::Normal),
            "01" | "02" | "03" | "05" => (days(3), Urgency::Normal),
            "06" | "07" => (hours(7), Urgency::Normal),
            "08" => (days(2), Urgency::Normal),
            "09" => (hours(4), Urgency::Normal),
            _ => (days(1), Urgency::Normal),
        },
    }
}

/// Default limits of hotline requests (Guangdong): consultation 2, help and suggestion 10,
/// complaint and report 15 working days.
fn hotline_defaults(code: &str) -> UrgencyLimits {
    use TimeUnit::*;
    let days = match code.as_bytes().get(1) {
        Some(b'1') => 2,
        Some(b'2') | Some(b'5') => 10,
        _ => 15,
    };
    same(limit(days, WorkingDays), limit(24, NaturalHours))
}

/// Why a catalogue file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("catalogue line {line}: {problem}")]
pub struct CatalogueError {
    pub line: usize,
    pub problem: String,
}

/// The seeded catalogue: case categories and part classes.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    pub categories: Vec<Category>,
    pub parts: Vec<PartClass>,
}

/// Reads catalogue CSV text (`kind,major_code,major_name,code,name`; kinds `part`, `matter`,
/// `hotline`) into categories with default urgency, limits and evaluation domain.
pub fn seed_from_csv(text: &str) -> Result<Catalogue, CatalogueError> {
    let mut catalogue = Catalogue::default();
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        if line_no == 1 || line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let [kind, major_code, major_name, code, name] = fields[..] else {
            return Err(CatalogueError {
                line: line_no,
                problem: format!("expected 5 fields, found {}", fields.len()),
            });
        };
        match kind {
            "part" => catalogue.parts.push(PartClass {
                code: code.into(),
                major_code: major_code.into(),
                major_name: major_name.into(),
                name: name.into(),
            }),
            "matter" | "hotline" => {
                let (handle, urgency, kind, domain) = if kind == "matter" {
                    let (handle, urgency) = matter_defaults(code, name);
                    (
                        handle,
                        urgency,
                        CategoryKind::Matter,
                        EvaluationDomain::Objective,
                    )
                } else {
                    (
                        hotline_defaults(code),
                        Urgency::Normal,
                        CategoryKind::Hotline,
                        EvaluationDomain::Satisfaction,
                    )
                };
                let category = Category {
                    code: code.into(),
                    kind,
                    major_code: major_code.into(),
                    major_name: major_name.into(),
                    name: name.into(),
                    urgency,
                    domain,
                    limits: stage_limits(handle),
                    active: true,
                };
                if let Some(problem) = category.problems().into_iter().next() {
                    return Err(CatalogueError {
                        line: line_no,
                        problem,
                    });
                }
                catalogue.categories.push(category);
            }
            other => {
                return Err(CatalogueError {
                    line: line_no,
                    problem: format!("unknown kind `{other}`; expected part, matter or hotline"),
                });
            }
        }
    }
    Ok(catalogue)
}
