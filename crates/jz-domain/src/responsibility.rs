//! Departments and responsibility rules: category × territory × level → department.
//!
//! A case is routed at the lowest level that has a matching rule (属地: street first, then
//! district, then city). Among the matching rules at that level the highest priority wins; when
//! exactly one rule has that priority the case is dispatched automatically, otherwise it goes to a
//! human dispatcher's queue with the reason. Fallback rules are consulted only when no ordinary
//! rule matches at any level.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::division::{DivisionCode, DivisionLevel};

/// The kinds of departments a case can be dispatched to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DepartmentKind {
    /// A professional bureau (专业部门), e.g. greening, roads, sanitation.
    Bureau,
    /// A street office (街道办事处) or town government.
    StreetOffice,
    /// A property-management company (物业).
    Property,
    /// A utility: water, power, gas, telecom.
    Utility,
    Other,
}

impl DepartmentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DepartmentKind::Bureau => "bureau",
            DepartmentKind::StreetOffice => "street_office",
            DepartmentKind::Property => "property",
            DepartmentKind::Utility => "utility",
            DepartmentKind::Other => "other",
        }
    }
}

impl FromStr for DepartmentKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [
            DepartmentKind::Bureau,
            DepartmentKind::StreetOffice,
            DepartmentKind::Property,
            DepartmentKind::Utility,
            DepartmentKind::Other,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| {
            format!(
                "unknown department kind `{s}`; use bureau, street_office, property, utility or other"
            )
        })
    }
}

/// A department that handles cases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Department {
    /// Short stable identifier, e.g. `sh-huangpu-greening`.
    pub id: String,
    pub name: String,
    pub kind: DepartmentKind,
    /// The level it works at.
    pub level: DivisionLevel,
    /// The division it belongs to (its territory).
    pub division: DivisionCode,
    pub active: bool,
}

impl Department {
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let id_ok = !self.id.is_empty()
            && self.id.len() <= 64
            && self
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !id_ok {
            problems.push(format!(
                "id: `{}` must be 1–64 characters of a-z, 0-9, - and _",
                self.id
            ));
        }
        if self.name.trim().is_empty() {
            problems.push("name: must not be empty".into());
        }
        problems
    }
}

/// Which categories a rule covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum CategoryScope {
    /// Every category (`*`).
    Any,
    /// A major class, e.g. `06` or `R3`.
    Major(String),
    /// One category, e.g. `06010`.
    Code(String),
}

impl CategoryScope {
    pub fn covers(&self, code: &str) -> bool {
        match self {
            CategoryScope::Any => true,
            CategoryScope::Major(major) => code.starts_with(major.as_str()),
            CategoryScope::Code(c) => c == code,
        }
    }
}

impl fmt::Display for CategoryScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CategoryScope::Any => f.write_str("*"),
            CategoryScope::Major(m) | CategoryScope::Code(m) => f.write_str(m),
        }
    }
}

impl FromStr for CategoryScope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        match s.len() {
            _ if s == "*" => Ok(CategoryScope::Any),
            2 if s.bytes().all(|b| b.is_ascii_digit())
                || (s.starts_with('R') && s.as_bytes()[1].is_ascii_digit()) =>
            {
                Ok(CategoryScope::Major(s.into()))
            }
            5 if s.bytes().all(|b| b.is_ascii_digit())
                || (s.starts_with('R') && s[1..].bytes().all(|b| b.is_ascii_digit())) =>
            {
                Ok(CategoryScope::Code(s.into()))
            }
            _ => Err(format!(
                "`{s}` is not a category scope: use * (all), a major class (06, R3) or a code (06010, R3001)"
            )),
        }
    }
}

impl From<CategoryScope> for String {
    fn from(scope: CategoryScope) -> String {
        scope.to_string()
    }
}

impl TryFrom<String> for CategoryScope {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

/// Where a rule applies.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Territory {
    /// A division subtree, by code.
    Division(DivisionCode),
    /// A zone, by id.
    Zone(String),
}

/// One responsibility rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponsibilityRule {
    pub id: String,
    pub category: CategoryScope,
    pub territory: Territory,
    /// The level the rule routes at (street, district or city).
    pub level: DivisionLevel,
    pub department: String,
    /// Higher wins among rules matching at the same level.
    pub priority: i32,
    /// Consulted only when no ordinary rule matches.
    pub fallback: bool,
}

/// Where a case is: its divisions (community, street, district, city) and zones.
#[derive(Debug, Clone, Copy)]
pub struct Placement<'a> {
    pub divisions: &'a [DivisionCode],
    pub zones: &'a [String],
}

impl Placement<'_> {
    fn inside(&self, territory: &Territory) -> bool {
        match territory {
            Territory::Division(code) => self.divisions.iter().any(|d| d.is_within(code)),
            Territory::Zone(id) => self.zones.iter().any(|z| z == id),
        }
    }
}

/// The outcome of routing a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routing {
    /// Exactly one rule decided: dispatch automatically.
    Department { department: String, rule: String },
    /// A dispatcher must decide; `candidates` are the tied departments (may be empty).
    Queue {
        reason: String,
        candidates: Vec<String>,
    },
}

const LEVELS: [DivisionLevel; 3] = [
    DivisionLevel::Street,
    DivisionLevel::District,
    DivisionLevel::City,
];

/// Routes a category at a place, starting at `from` level (street at intake), reading every
/// rule; [`RuleBook::route`] answers the same from an index.
pub fn route(
    rules: &[ResponsibilityRule],
    category: &str,
    placement: Placement<'_>,
    from: DivisionLevel,
) -> Routing {
    route_among(&rules.iter().collect::<Vec<_>>(), category, placement, from)
}

/// [`route`] over `rules` in their order (the first of the winning rules names the rule).
fn route_among(
    rules: &[&ResponsibilityRule],
    category: &str,
    placement: Placement<'_>,
    from: DivisionLevel,
) -> Routing {
    let start = LEVELS.iter().position(|l| *l == from).unwrap_or(0);
    for fallback in [false, true] {
        for level in &LEVELS[start..] {
            let matching: Vec<&ResponsibilityRule> = rules
                .iter()
                .copied()
                .filter(|r| {
                    r.fallback == fallback
                        && r.level == *level
                        && r.category.covers(category)
                        && placement.inside(&r.territory)
                })
                .collect();
            let Some(top) = matching.iter().map(|r| r.priority).max() else {
                continue;
            };
            let best: Vec<&&ResponsibilityRule> =
                matching.iter().filter(|r| r.priority == top).collect();
            let mut departments: Vec<String> = best.iter().map(|r| r.department.clone()).collect();
            departments.sort();
            departments.dedup();
            if departments.len() == 1 {
                return Routing::Department {
                    department: departments.remove(0),
                    rule: best[0].id.clone(),
                };
            }
            return Routing::Queue {
                reason: format!(
                    "{} rules of priority {top} at {} level name different departments",
                    best.len(),
                    level.as_str()
                ),
                candidates: departments,
            };
        }
    }
    Routing::Queue {
        reason: format!("no responsibility rule covers category {category} here"),
        candidates: Vec::new(),
    }
}

/// A city's responsibility rules, indexed by category scope and territory, so that routing
/// reads only the rules that apply. A city's rules grow as categories × territories (a rule per
/// matter and street is tens of thousands), and intake routes every report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleBook {
    rules: Vec<ResponsibilityRule>,
    /// Positions in `rules` by the rule's category scope, then territory.
    index: HashMap<CategoryScope, HashMap<Territory, Vec<usize>>>,
    /// The major classes some rule names.
    majors: Vec<String>,
}

impl RuleBook {
    pub fn new(rules: Vec<ResponsibilityRule>) -> RuleBook {
        let mut book = RuleBook::default();
        for (position, rule) in rules.iter().enumerate() {
            book.index
                .entry(rule.category.clone())
                .or_default()
                .entry(rule.territory.clone())
                .or_default()
                .push(position);
            if let CategoryScope::Major(major) = &rule.category
                && !book.majors.contains(major)
            {
                book.majors.push(major.clone());
            }
        }
        book.rules = rules;
        book
    }

    /// Every rule, in the order given.
    pub fn all(&self) -> &[ResponsibilityRule] {
        &self.rules
    }

    /// What [`route`] answers over [`RuleBook::all`], reading only the rules whose scope covers
    /// `category` and whose territory holds the placement: a rule's territory is one of the
    /// codes a placement's division lies within ([`DivisionCode::ancestors`]) or one of its
    /// zones.
    pub fn route(&self, category: &str, placement: Placement<'_>, from: DivisionLevel) -> Routing {
        let mut scopes = vec![CategoryScope::Any, CategoryScope::Code(category.to_owned())];
        scopes.extend(
            self.majors
                .iter()
                .filter(|major| category.starts_with(major.as_str()))
                .map(|major| CategoryScope::Major(major.clone())),
        );
        // A dozen at most (a placement's divisions share their province, city and district).
        let mut territories: Vec<Territory> = Vec::with_capacity(16);
        let divisions = placement.divisions.iter().flat_map(DivisionCode::ancestors);
        for territory in divisions
            .map(Territory::Division)
            .chain(placement.zones.iter().cloned().map(Territory::Zone))
        {
            if !territories.contains(&territory) {
                territories.push(territory);
            }
        }
        let mut positions = Vec::new();
        for by_territory in scopes.iter().filter_map(|scope| self.index.get(scope)) {
            for found in territories.iter().filter_map(|t| by_territory.get(t)) {
                positions.extend_from_slice(found);
            }
        }
        // The order of `rules`, as `route` reads them: it names the first winning rule.
        positions.sort_unstable();
        let candidates: Vec<&ResponsibilityRule> =
            positions.iter().map(|&p| &self.rules[p]).collect();
        route_among(&candidates, category, placement, from)
    }
}
