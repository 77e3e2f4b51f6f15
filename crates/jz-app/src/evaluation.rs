//! Evaluation over the store: the counter rows a case change writes (in its own transaction), and
//! scorecards, rankings and trends read from them.
//!
//! The pure rules — which counters a case contributes, the indicator formulas, attainment and
//! grades — live in [`jz_domain::evaluation`]; this module only sums rows.

use std::collections::{BTreeMap, HashMap};
use std::sync::{LazyLock, Mutex};

use jz_domain::case::Case;
use jz_domain::category::EvaluationDomain;
use jz_domain::division::{DivisionCode, DivisionLevel};
use jz_domain::evaluation::{self, COUNTERS, Counter, Counts, ScopeFacts, Tally};
use jz_domain::goal::{GoalCluster, GoalTarget};
use jz_store::{Store, StoreError, Tally as StoreTally};
use sqlx::Row;

use crate::city::SharedCity;

fn domain_text(domain: EvaluationDomain) -> &'static str {
    match domain {
        EvaluationDomain::Objective => "objective",
        EvaluationDomain::Satisfaction => "satisfaction",
    }
}

fn parse_domain(text: &str) -> EvaluationDomain {
    if text == "satisfaction" {
        EvaluationDomain::Satisfaction
    } else {
        EvaluationDomain::Objective
    }
}

static UPSERT: LazyLock<String> = LazyLock::new(|| {
    let columns: Vec<&str> = Counter::ALL.iter().map(|c| c.column()).collect();
    let placeholders: Vec<String> = (5..5 + COUNTERS).map(|i| format!("${i}")).collect();
    let updates: Vec<String> = columns
        .iter()
        .map(|c| format!("{c} = eval_counter.{c} + excluded.{c}"))
        .collect();
    format!(
        "INSERT INTO eval_counter (scope, day, department, domain, {}) VALUES ($1, $2, $3, $4, {}) \
         ON CONFLICT (scope, department, day, domain) DO UPDATE SET {}",
        columns.join(", "),
        placeholders.join(", "),
        updates.join(", ")
    )
});

static SUMS: LazyLock<String> = LazyLock::new(|| {
    Counter::ALL
        .iter()
        .map(|c| format!("CAST(SUM({0}) AS BIGINT)", c.column()))
        .collect::<Vec<_>>()
        .join(", ")
});

/// The counter rows' additions that bring the evaluation from `before` to `after` (none when
/// the change does not move a counter). Add them to the case change as tallies: the writer sums
/// them with the other changes of the transaction (the city's and districts' rows are shared by
/// most of them).
pub fn counter_tallies(before: Option<&Case>, after: &Case) -> Vec<StoreTally> {
    evaluation::delta(before, after)
        .into_iter()
        .map(|(key, counts)| {
            StoreTally::new(
                UPSERT.as_str(),
                vec![
                    key.scope.into(),
                    i64::from(key.day).into(),
                    key.department.into(),
                    domain_text(key.domain).into(),
                ],
                counts.0.to_vec(),
            )
        })
        .collect()
}

fn counts_from(row: &sqlx::any::AnyRow, first: usize) -> Result<Counts, StoreError> {
    let mut counts = Counts::default();
    for (i, slot) in counts.0.iter_mut().enumerate() {
        *slot = row.try_get::<Option<i64>, _>(first + i)?.unwrap_or(0);
    }
    Ok(counts)
}

/// A period of Asia/Shanghai days, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: i32,
    pub to: i32,
}

impl Period {
    pub fn days(&self) -> u32 {
        u32::try_from(self.to - self.from + 1).unwrap_or(0)
    }
}

/// What to read: one scope, a period, optionally one department.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub scope: String,
    pub period: Period,
    pub department: Option<String>,
}

impl Question {
    /// The department of the rows to read: one department, or all.
    pub fn department_key(&self) -> &str {
        self.department
            .as_deref()
            .unwrap_or(evaluation::ALL_DEPARTMENTS)
    }
}

/// The counters of one scope and period, per domain.
pub async fn tally(store: &Store, question: &Question) -> Result<Tally, StoreError> {
    store.fold_tallies().await?;
    let sql = format!(
        "SELECT domain, {} FROM eval_counter WHERE scope = $1 AND department = $2 AND day >= $3 AND day <= $4 GROUP BY domain",
        SUMS.as_str()
    );
    let query = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(question.scope.clone())
        .bind(question.department_key().to_owned())
        .bind(i64::from(question.period.from))
        .bind(i64::from(question.period.to));
    let mut tally = Tally::default();
    for row in query.fetch_all(store.reader()).await? {
        let domain: String = row.try_get(0)?;
        tally.add(parse_domain(&domain), &counts_from(&row, 1)?);
    }
    Ok(tally)
}

/// The counters of many scopes at once (one query), per scope.
pub async fn tallies(
    store: &Store,
    scopes: &[String],
    period: Period,
) -> Result<HashMap<String, Tally>, StoreError> {
    store.fold_tallies().await?;
    let mut out: HashMap<String, Tally> = HashMap::new();
    for chunk in scopes.chunks(500) {
        let placeholders: Vec<String> = (3..3 + chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT scope, domain, {} FROM eval_counter WHERE department = '*' AND day >= $1 AND day <= $2 AND scope IN ({}) GROUP BY scope, domain",
            SUMS.as_str(),
            placeholders.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(i64::from(period.from))
            .bind(i64::from(period.to));
        for scope in chunk {
            query = query.bind(scope.clone());
        }
        for row in query.fetch_all(store.reader()).await? {
            let scope: String = row.try_get(0)?;
            let domain: String = row.try_get(1)?;
            out.entry(scope)
                .or_default()
                .add(parse_domain(&domain), &counts_from(&row, 2)?);
        }
    }
    Ok(out)
}

/// The counters of every department in a scope and period.
pub async fn department_tallies(
    store: &Store,
    scope: &str,
    period: Period,
) -> Result<BTreeMap<String, Tally>, StoreError> {
    store.fold_tallies().await?;
    let sql = format!(
        "SELECT department, domain, {} FROM eval_counter WHERE scope = $1 AND day >= $2 AND day <= $3 AND department <> '*' GROUP BY department, domain",
        SUMS.as_str()
    );
    let mut out: BTreeMap<String, Tally> = BTreeMap::new();
    for row in sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(scope.to_owned())
        .bind(i64::from(period.from))
        .bind(i64::from(period.to))
        .fetch_all(store.reader())
        .await?
    {
        let department: String = row.try_get(0)?;
        let domain: String = row.try_get(1)?;
        out.entry(department)
            .or_default()
            .add(parse_domain(&domain), &counts_from(&row, 2)?);
    }
    Ok(out)
}

/// The counters of one scope per day of a period (days without rows are absent).
pub async fn daily(store: &Store, question: &Question) -> Result<BTreeMap<i32, Tally>, StoreError> {
    store.fold_tallies().await?;
    let sql = format!(
        "SELECT day, domain, {} FROM eval_counter WHERE scope = $1 AND department = $2 AND day >= $3 AND day <= $4 GROUP BY day, domain",
        SUMS.as_str()
    );
    let query = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(question.scope.clone())
        .bind(question.department_key().to_owned())
        .bind(i64::from(question.period.from))
        .bind(i64::from(question.period.to));
    let mut out: BTreeMap<i32, Tally> = BTreeMap::new();
    for row in query.fetch_all(store.reader()).await? {
        let day = i32::try_from(row.try_get::<i64, _>(0)?).unwrap_or(i32::MAX);
        let domain: String = row.try_get(1)?;
        out.entry(day)
            .or_default()
            .add(parse_domain(&domain), &counts_from(&row, 2)?);
    }
    Ok(out)
}

/// Unit grids and area per community, read once per imported city and kept (scope facts are
/// sums over communities by code prefix).
#[derive(Debug, Default)]
pub struct Extents {
    cached: Mutex<Option<(usize, std::sync::Arc<ExtentTable>)>>,
}

/// Per community: grids and their area (m²); per division: its own measured area.
#[derive(Debug, Default)]
pub struct ExtentTable {
    communities: BTreeMap<String, (u64, f64)>,
    division_area: HashMap<String, f64>,
}

/// The significant prefix of a division code (district 6 digits, street 9, community 12).
fn code_prefix(code: &str) -> &str {
    let trimmed = match code.len() {
        12 if code.ends_with("000000") => &code[..6],
        12 if code.ends_with("000") => &code[..9],
        _ => code,
    };
    if trimmed.len() == 6 && trimmed.ends_with("00") {
        // A prefecture or province code: the whole city.
        &trimmed[..2]
    } else {
        trimmed
    }
}

impl Extents {
    async fn table(
        &self,
        store: &Store,
        city: &SharedCity,
    ) -> Result<std::sync::Arc<ExtentTable>, StoreError> {
        let generation = city.current().grid_count() + city.current().division_count();
        if let Some((seen, table)) = self.cached.lock().expect("not poisoned").as_ref()
            && *seen == generation
        {
            return Ok(table.clone());
        }
        let mut table = ExtentTable::default();
        for row in sqlx::query(
            "SELECT community_code, COUNT(*), SUM(area_m2) FROM grid GROUP BY community_code",
        )
        .fetch_all(store.reader())
        .await?
        {
            let community: String = row.try_get(0)?;
            let grids: i64 = row.try_get(1)?;
            let area: Option<f64> = row.try_get(2)?;
            table.communities.insert(
                community,
                (u64::try_from(grids).unwrap_or(0), area.unwrap_or(0.0)),
            );
        }
        for row in sqlx::query("SELECT code, area_m2 FROM division WHERE area_m2 IS NOT NULL")
            .fetch_all(store.reader())
            .await?
        {
            table.division_area.insert(row.try_get(0)?, row.try_get(1)?);
        }
        let table = std::sync::Arc::new(table);
        *self.cached.lock().expect("not poisoned") = Some((generation, table.clone()));
        Ok(table)
    }

    /// Grids and area (km²) of `city` or a division code (zones are measured by their own
    /// geometry).
    pub async fn of(
        &self,
        store: &Store,
        city: &SharedCity,
        scope: &str,
    ) -> Result<(u64, f64), StoreError> {
        let table = self.table(store, city).await?;
        let prefix = if scope == evaluation::CITY_SCOPE {
            ""
        } else {
            code_prefix(scope)
        };
        let (grids, grid_area) = table
            .communities
            .range(prefix.to_owned()..)
            .take_while(|(code, _)| code.starts_with(prefix))
            .fold((0, 0.0), |(g, a), (_, (grids, area))| (g + grids, a + area));
        let area = if scope == evaluation::CITY_SCOPE {
            let districts: f64 = city_districts_area(&table);
            if districts > 0.0 {
                districts
            } else {
                grid_area
            }
        } else {
            table.division_area.get(scope).copied().unwrap_or(grid_area)
        };
        Ok((grids, area / 1e6))
    }
}

fn city_districts_area(table: &ExtentTable) -> f64 {
    table
        .division_area
        .iter()
        .filter(|(code, _)| {
            code.len() == 12 && code.ends_with("000000") && !code.ends_with("00000000")
        })
        .map(|(_, area)| area)
        .sum()
}

/// One scope's scorecard with what the API shows about it.
#[derive(Debug, Clone)]
pub struct ScopeCard {
    pub name: String,
    pub tally: Tally,
    pub facts: ScopeFacts,
    pub card: evaluation::Scorecard,
    /// `zone`, `zone_type` or `none`.
    pub goal_source: &'static str,
    /// What `score` is: the zone's goal attainment, or the standard's composite.
    pub score_kind: &'static str,
    pub score: Option<f64>,
}

/// Why a scorecard question was refused.
#[derive(Debug, thiserror::Error)]
pub enum EvaluationError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Evaluation reads over the store and the city.
#[derive(Debug, Default)]
pub struct Evaluations {
    extents: Extents,
}

/// The kind of a scope name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    City,
    Division(DivisionCode, DivisionLevel),
    Zone(String),
}

impl Evaluations {
    /// Grids and area (km²) of a zone, by its grid set or its polygon; `None` for an unknown zone.
    pub async fn zone_extent_of(
        &self,
        store: &Store,
        id: &str,
    ) -> Result<Option<(u64, f64)>, StoreError> {
        match crate::zones::zone(store, id).await? {
            Some(zone) => Ok(Some(zone_extent(store, &zone).await?)),
            None => Ok(None),
        }
    }

    /// Grids and area (km²) of `city` or a division.
    pub async fn extents_of(
        &self,
        store: &Store,
        city: &SharedCity,
        scope: &str,
    ) -> Result<(u64, f64), StoreError> {
        self.extents.of(store, city, scope).await
    }

    /// Parses and checks a scope name against the city.
    pub fn scope(&self, city: &SharedCity, scope: &str) -> Result<Scope, EvaluationError> {
        if scope == evaluation::CITY_SCOPE {
            return Ok(Scope::City);
        }
        if let Some(zone) = scope.strip_prefix(evaluation::ZONE_PREFIX) {
            return Ok(Scope::Zone(zone.to_owned()));
        }
        if scope.len() == 15 && scope.bytes().all(|b| b.is_ascii_digit()) {
            return Err(EvaluationError::Invalid(format!(
                "scope: unit grid {scope} is not evaluated on its own; ask for its community {}",
                &scope[..12]
            )));
        }
        let code = DivisionCode::parse(scope).map_err(|e| {
            EvaluationError::Invalid(format!(
                "scope: `{scope}` is neither `city`, a division or grid code, nor `zone:<id>` ({e})"
            ))
        })?;
        let model = city.current();
        let entry = model
            .division(&code)
            .ok_or_else(|| EvaluationError::NotFound(format!("division {scope}")))?;
        if entry.level == DivisionLevel::City {
            return Ok(Scope::City);
        }
        Ok(Scope::Division(code, entry.level))
    }

    /// The scorecard of a scope over a period (optionally of one department in it).
    pub async fn scorecard(
        &self,
        store: &Store,
        city: &SharedCity,
        question: &Question,
    ) -> Result<ScopeCard, EvaluationError> {
        let scope = self.scope(city, &question.scope)?;
        let key = match &scope {
            Scope::City => evaluation::CITY_SCOPE.to_owned(),
            _ => question.scope.clone(),
        };
        let normalised = Question {
            scope: key,
            ..question.clone()
        };
        let tally = tally(store, &normalised).await?;
        self.card(store, city, &scope, &normalised.scope, tally, question)
            .await
    }

    /// Builds the card of a scope from its tally.
    pub async fn card(
        &self,
        store: &Store,
        city: &SharedCity,
        scope: &Scope,
        key: &str,
        tally: Tally,
        question: &Question,
    ) -> Result<ScopeCard, EvaluationError> {
        let (name, grids, area_km2, goals, goal_source) = match scope {
            Scope::Zone(id) => {
                let zone = crate::zones::zone(store, id)
                    .await?
                    .ok_or_else(|| EvaluationError::NotFound(format!("zone {id}")))?;
                let targets: Vec<GoalTarget> = zone
                    .effective_goals
                    .iter()
                    .map(|t| GoalTarget {
                        indicator: t.indicator.clone(),
                        weight: t.weight,
                        target: t.target,
                    })
                    .collect();
                let (grids, area) = zone_extent(store, &zone).await?;
                let source = if zone.goals_override.is_some() {
                    "zone"
                } else {
                    "zone_type"
                };
                (
                    zone.name,
                    grids,
                    area,
                    GoalCluster::new(targets).ok(),
                    source,
                )
            }
            Scope::City => {
                let (grids, area) = self.extents.of(store, city, evaluation::CITY_SCOPE).await?;
                let name = city_name(city);
                (name, grids, area, None, "none")
            }
            Scope::Division(code, _) => {
                let (grids, area) = self.extents.of(store, city, key).await?;
                let name = city
                    .current()
                    .division(code)
                    .map(|d| d.name.clone())
                    .unwrap_or_default();
                (name, grids, area, None, "none")
            }
        };
        let facts = ScopeFacts {
            grids,
            area_km2,
            days: question.period.days(),
        };
        let card = evaluation::scorecard(&tally, &facts, goals.as_ref());
        let (score_kind, score) = if goals.is_some() {
            ("goal_attainment", card.score)
        } else if question.department.is_some() {
            (
                "department_composite",
                evaluation::department_score(&tally, &facts),
            )
        } else {
            ("area_composite", evaluation::area_score(&tally, &facts))
        };
        Ok(ScopeCard {
            name,
            tally,
            facts,
            card,
            goal_source,
            score_kind,
            score,
        })
    }
}

fn city_name(city: &SharedCity) -> String {
    let model = city.current();
    model
        .city()
        .map(|d| d.name.clone())
        .unwrap_or_else(|| "city".into())
}

async fn zone_extent(
    store: &Store,
    zone: &crate::zones::ZoneView,
) -> Result<(u64, f64), StoreError> {
    if let Some(codes) = &zone.grid_codes {
        let mut grids = 0;
        let mut area = 0.0;
        for chunk in codes.chunks(500) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT COUNT(*), SUM(area_m2) FROM grid WHERE code IN ({})",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for code in chunk {
                query = query.bind(code.clone());
            }
            let row = query.fetch_one(store.reader()).await?;
            grids += u64::try_from(row.try_get::<i64, _>(0)?).unwrap_or(0);
            area += row.try_get::<Option<f64>, _>(1)?.unwrap_or(0.0);
        }
        return Ok((grids, area / 1e6));
    }
    let area_m2 = zone
        .geometry
        .as_ref()
        .and_then(|g| crate::city::source::geometry_from_json(&g.to_string()))
        .map_or(0.0, |shape| jz_geo::measure::area_m2(&shape));
    // A polygon zone counts the ~10,000 m² unit grids its area holds.
    Ok(((area_m2 / 10_000.0).round() as u64, area_m2 / 1e6))
}

/// How deep the case loop is now: open, overdue and suspended cases (from the counters, all
/// days), and open cases per state (from the state index).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoopDepths {
    pub open: i64,
    pub overdue: i64,
    pub suspended: i64,
    pub by_state: Vec<(String, i64)>,
}

pub async fn loop_depths(store: &Store) -> Result<LoopDepths, StoreError> {
    store.fold_tallies().await?;
    let row = sqlx::query(
        "SELECT CAST(SUM(open) AS BIGINT), CAST(SUM(overdue_open) AS BIGINT), CAST(SUM(suspended) AS BIGINT) FROM eval_counter WHERE scope = 'city' AND department = '*'",
    )
    .fetch_one(store.reader())
    .await?;
    let mut depths = LoopDepths {
        open: row.try_get::<Option<i64>, _>(0)?.unwrap_or(0),
        overdue: row.try_get::<Option<i64>, _>(1)?.unwrap_or(0),
        suspended: row.try_get::<Option<i64>, _>(2)?.unwrap_or(0),
        by_state: Vec::new(),
    };
    for row in sqlx::query(
        "SELECT state, COUNT(*) FROM case_file WHERE state IN ('reported', 'registered', 'dispatched', 'accepted', 'handling', 'handled', 'verified', 'suspended') GROUP BY state ORDER BY state",
    )
    .fetch_all(store.reader())
    .await?
    {
        depths.by_state.push((row.try_get(0)?, row.try_get(1)?));
    }
    Ok(depths)
}
