//! The rules the case loop runs by, as data: categories, departments, responsibility rules, the
//! working-day calendar and intake settings. Seeded on first start, editable, and held in memory
//! as one immutable snapshot ([`CaseConfig`]) that is swapped after every edit.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use jz_domain::calendar::{DayKind, DayOverride, WorkCalendar};
use jz_domain::category::{
    Catalogue, Category, CategoryKind, EvaluationDomain, StageLimits, Urgency, seed_from_csv,
};
use jz_domain::division::{DivisionCode, DivisionLevel};
use jz_domain::responsibility::{
    CategoryScope, Department, DepartmentKind, ResponsibilityRule, RuleBook, Territory,
};
use jz_store::{Arg, Change, Statement, Store, StoreError};
use serde::{Deserialize, Serialize};

use super::CaseError;
use crate::city::Actor;

/// The shipped catalogue: GB/T 47678.5-2026 parts and matters, and the hotline extension.
pub const CATALOGUE_CSV: &str = include_str!("../../../../data/categories_gbt47678_5_2026.csv");
pub const HOTLINE_CSV: &str = include_str!("../../../../data/categories_hotline_ext.csv");
/// China's public holidays and make-up working days.
pub const HOLIDAYS_CSV: &str = include_str!("../../../../data/calendar/cn-holidays.csv");

/// Intake settings, editable as data.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct IntakeSettings {
    /// Reports of the same category within this distance of an open case are merged into it.
    pub dedupe_distance_m: f64,
    /// …and within this many minutes of the case's latest report.
    pub dedupe_window_minutes: i64,
    /// Below this classification confidence an operator confirms the category.
    pub confirm_threshold: f64,
}

impl Default for IntakeSettings {
    fn default() -> Self {
        IntakeSettings {
            dedupe_distance_m: 50.0,
            dedupe_window_minutes: 24 * 60,
            confirm_threshold: jz_classify::CONFIRM_THRESHOLD,
        }
    }
}

impl IntakeSettings {
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !(self.dedupe_distance_m.is_finite() && (0.0..=5000.0).contains(&self.dedupe_distance_m))
        {
            problems.push("dedupe_distance_m: must be between 0 and 5000 metres".into());
        }
        if !(0..=60 * 24 * 30).contains(&self.dedupe_window_minutes) {
            problems.push("dedupe_window_minutes: must be between 0 and 43200 (30 days)".into());
        }
        if !(self.confirm_threshold.is_finite() && (0.0..=1.0).contains(&self.confirm_threshold)) {
            problems.push("confirm_threshold: must be between 0 and 1".into());
        }
        problems
    }
}

/// One consistent snapshot of the rules.
#[derive(Debug, Clone)]
pub struct CaseConfig {
    pub categories: HashMap<String, Category>,
    pub departments: Vec<Department>,
    pub active_departments: Vec<String>,
    /// The responsibility rules, ordered by id and indexed by category scope and territory.
    pub rules: RuleBook,
    pub calendar: WorkCalendar,
    pub default_limits: StageLimits,
    pub intake: IntakeSettings,
}

impl CaseConfig {
    pub fn category(&self, code: &str) -> Option<&Category> {
        self.categories.get(code)
    }
}

/// The live snapshot, swapped whole after edits.
#[derive(Debug)]
pub struct SharedConfig(RwLock<Arc<CaseConfig>>);

impl SharedConfig {
    pub fn new(config: CaseConfig) -> SharedConfig {
        SharedConfig(RwLock::new(Arc::new(config)))
    }

    pub fn current(&self) -> Arc<CaseConfig> {
        self.0.read().expect("config lock").clone()
    }

    pub fn replace(&self, config: CaseConfig) {
        *self.0.write().expect("config lock") = Arc::new(config);
    }

    /// Re-reads everything from the store.
    pub async fn reload(&self, store: &Store) -> Result<(), CaseError> {
        self.replace(load(store).await?);
        Ok(())
    }
}

fn text(arg: &Arg) -> String {
    match arg {
        Arg::Text(Some(s)) => s.clone(),
        Arg::Int(Some(i)) => i.to_string(),
        _ => String::new(),
    }
}

fn int(arg: &Arg) -> i64 {
    match arg {
        Arg::Int(Some(i)) => *i,
        _ => 0,
    }
}

fn corrupt(what: &str, detail: impl std::fmt::Display) -> CaseError {
    CaseError::Store(StoreError::Database(
        format!("stored {what} is unreadable: {detail}").into(),
    ))
}

/// Reads the whole configuration.
pub async fn load(store: &Store) -> Result<CaseConfig, CaseError> {
    let mut categories = HashMap::new();
    for row in store
        .read_all("SELECT code, kind, major_code, major_name, name, urgency, domain, limits, active FROM category")
        .await?
    {
        let code = text(&row[0]);
        let category = Category {
            kind: match text(&row[1]).as_str() {
                "hotline" => CategoryKind::Hotline,
                _ => CategoryKind::Matter,
            },
            major_code: text(&row[2]),
            major_name: text(&row[3]),
            name: text(&row[4]),
            urgency: text(&row[5]).parse().map_err(|e| corrupt("category", e))?,
            domain: match text(&row[6]).as_str() {
                "satisfaction" => EvaluationDomain::Satisfaction,
                _ => EvaluationDomain::Objective,
            },
            limits: serde_json::from_str(&text(&row[7])).map_err(|e| corrupt("category", e))?,
            active: int(&row[8]) != 0,
            code: code.clone(),
        };
        categories.insert(code, category);
    }
    let mut departments = Vec::new();
    for row in store
        .read_all("SELECT id, name, kind, level, division_code, active FROM department ORDER BY id")
        .await?
    {
        departments.push(Department {
            id: text(&row[0]),
            name: text(&row[1]),
            kind: text(&row[2])
                .parse()
                .map_err(|e| corrupt("department", e))?,
            level: parse_level(&text(&row[3])).map_err(|e| corrupt("department", e))?,
            division: DivisionCode::parse(&text(&row[4])).map_err(|e| corrupt("department", e))?,
            active: int(&row[5]) != 0,
        });
    }
    let mut rules = Vec::new();
    for row in store
        .read_all("SELECT id, category_scope, territory_kind, territory, level, department_id, priority, fallback FROM responsibility_rule ORDER BY id")
        .await?
    {
        let territory = match text(&row[2]).as_str() {
            "zone" => Territory::Zone(text(&row[3])),
            _ => Territory::Division(
                DivisionCode::parse(&text(&row[3])).map_err(|e| corrupt("rule", e))?,
            ),
        };
        rules.push(ResponsibilityRule {
            id: text(&row[0]),
            category: text(&row[1]).parse().map_err(|e| corrupt("rule", e))?,
            territory,
            level: parse_level(&text(&row[4])).map_err(|e| corrupt("rule", e))?,
            department: text(&row[5]),
            priority: int(&row[6]) as i32,
            fallback: int(&row[7]) != 0,
        });
    }
    let mut overrides = Vec::new();
    for row in store
        .read_all("SELECT day, kind, name FROM calendar_day ORDER BY day")
        .await?
    {
        overrides.push(DayOverride {
            date: text(&row[0])
                .parse()
                .map_err(|e| corrupt("calendar day", e))?,
            kind: match text(&row[1]).as_str() {
                "workday" => DayKind::Workday,
                _ => DayKind::Holiday,
            },
            name: text(&row[2]),
        });
    }
    let mut intake = IntakeSettings::default();
    for row in store
        .read_all("SELECT key, value FROM setting WHERE key = 'intake'")
        .await?
    {
        intake = serde_json::from_str(&text(&row[1])).map_err(|e| corrupt("setting", e))?;
        let _ = &row[0];
    }
    let active_departments = departments
        .iter()
        .filter(|d| d.active)
        .map(|d| d.id.clone())
        .collect();
    let default_limits = default_limits(&categories);
    Ok(CaseConfig {
        categories,
        departments,
        active_departments,
        rules: RuleBook::new(rules),
        calendar: WorkCalendar::shanghai(overrides),
        default_limits,
        intake,
    })
}

/// Limits for a case with no category yet: those of any ordinary matter (the stages around
/// handling are the same for every category by default).
fn default_limits(categories: &HashMap<String, Category>) -> StageLimits {
    categories
        .get("06010")
        .map(|c| c.limits)
        .unwrap_or_else(|| {
            seed_from_csv(
                "kind,major_code,major_name,code,name\nmatter,06,市容环境类,06010,暴露垃圾\n",
            )
            .expect("a one-line catalogue parses")
            .categories[0]
                .limits
        })
}

pub fn parse_level(text: &str) -> Result<DivisionLevel, String> {
    match text {
        "city" => Ok(DivisionLevel::City),
        "district" => Ok(DivisionLevel::District),
        "street" => Ok(DivisionLevel::Street),
        "community" => Ok(DivisionLevel::Community),
        other => Err(format!(
            "unknown level `{other}`; use city, district, street or community"
        )),
    }
}

fn category_statement(category: &Category, upsert: bool) -> Statement {
    let limits = serde_json::to_string(&category.limits).expect("limits serialize");
    let sql = if upsert {
        "INSERT INTO category (code, kind, major_code, major_name, name, urgency, domain, limits, active, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1) ON CONFLICT (code) DO NOTHING"
    } else {
        "UPDATE category SET kind = $2, major_code = $3, major_name = $4, name = $5, urgency = $6, domain = $7, limits = $8, active = $9, version = version + 1 WHERE code = $1"
    };
    Statement::new(sql)
        .bind(category.code.clone())
        .bind(match category.kind {
            CategoryKind::Matter => "matter",
            CategoryKind::Hotline => "hotline",
        })
        .bind(category.major_code.clone())
        .bind(category.major_name.clone())
        .bind(category.name.clone())
        .bind(category.urgency.as_str())
        .bind(match category.domain {
            EvaluationDomain::Objective => "objective",
            EvaluationDomain::Satisfaction => "satisfaction",
        })
        .bind(limits)
        .bind(category.active)
}

/// Seeds the catalogue, part classes and the holiday calendar when they are empty. Returns how
/// many categories were added.
pub async fn seed(store: &Store, actor: &Actor) -> Result<usize, CaseError> {
    let stored: i64 = store
        .read_all("SELECT COUNT(*) FROM category")
        .await?
        .first()
        .map(|r| int(&r[0]))
        .unwrap_or_default();
    if stored > 0 {
        return Ok(0);
    }
    let mut catalogue: Catalogue =
        seed_from_csv(CATALOGUE_CSV).map_err(|e| CaseError::Invalid(e.to_string()))?;
    let hotline = seed_from_csv(HOTLINE_CSV).map_err(|e| CaseError::Invalid(e.to_string()))?;
    catalogue.categories.extend(hotline.categories);
    let mut change = Change::new();
    for category in &catalogue.categories {
        change = change.statement(category_statement(category, true));
    }
    for part in &catalogue.parts {
        change = change.statement(
            Statement::new(
                "INSERT INTO part_class (code, major_code, major_name, name) VALUES ($1, $2, $3, $4) ON CONFLICT (code) DO NOTHING",
            )
            .bind(part.code.clone())
            .bind(part.major_code.clone())
            .bind(part.major_name.clone())
            .bind(part.name.clone()),
        );
    }
    let days = WorkCalendar::parse_overrides(HOLIDAYS_CSV)
        .map_err(|e| CaseError::Invalid(e.to_string()))?;
    for day in &days {
        change = change.statement(day_statement(day));
    }
    let summary = serde_json::json!({
        "categories": catalogue.categories.len(),
        "part_classes": catalogue.parts.len(),
        "calendar_days": days.len(),
    })
    .to_string();
    change = change.audit(actor.audit(
        "system",
        "catalogue.seed",
        "catalogue",
        "gbt47678.5-2026",
        None,
        Some(summary),
    ));
    store.write(change).await?;
    Ok(catalogue.categories.len())
}

fn day_statement(day: &DayOverride) -> Statement {
    Statement::new(
        "INSERT INTO calendar_day (day, kind, name) VALUES ($1, $2, $3)
         ON CONFLICT (day) DO UPDATE SET kind = excluded.kind, name = excluded.name",
    )
    .bind(day.date.to_string())
    .bind(match day.kind {
        DayKind::Holiday => "holiday",
        DayKind::Workday => "workday",
    })
    .bind(day.name.clone())
}

/// Edits a category (urgency, limits, name, active…); the code and kind stay.
pub async fn update_category(
    store: &Store,
    shared: &SharedConfig,
    actor: &Actor,
    category: Category,
) -> Result<Category, CaseError> {
    let config = shared.current();
    let before = config
        .category(&category.code)
        .ok_or_else(|| CaseError::NotFound(format!("category {}", category.code)))?;
    if before.kind != category.kind {
        return Err(CaseError::Invalid(format!(
            "kind: a category's kind cannot change (it is {})",
            serde_json::to_string(&before.kind).unwrap_or_default()
        )));
    }
    let problems = category.problems();
    if !problems.is_empty() {
        return Err(CaseError::Invalid(problems.join("; ")));
    }
    let change = Change::new()
        .statement(category_statement(&category, false).expect_rows(1))
        .audit(actor.audit(
            "admin",
            "category.update",
            "category",
            &category.code,
            serde_json::to_string(before).ok(),
            serde_json::to_string(&category).ok(),
        ));
    store.write(change).await?;
    shared.reload(store).await?;
    Ok(category)
}

/// Adds a category (e.g. a city's extension class).
pub async fn create_category(
    store: &Store,
    shared: &SharedConfig,
    actor: &Actor,
    category: Category,
) -> Result<Category, CaseError> {
    if shared.current().category(&category.code).is_some() {
        return Err(CaseError::Exists(format!("category {}", category.code)));
    }
    let problems = category.problems();
    if !problems.is_empty() {
        return Err(CaseError::Invalid(problems.join("; ")));
    }
    let change = Change::new()
        .statement(category_statement(&category, true).expect_rows(1))
        .audit(actor.audit(
            "admin",
            "category.create",
            "category",
            &category.code,
            None,
            serde_json::to_string(&category).ok(),
        ));
    store.write(change).await?;
    shared.reload(store).await?;
    Ok(category)
}

/// Adds or replaces a department.
pub async fn put_department(
    store: &Store,
    shared: &SharedConfig,
    actor: &Actor,
    department: Department,
) -> Result<Department, CaseError> {
    let problems = department.problems();
    if !problems.is_empty() {
        return Err(CaseError::Invalid(problems.join("; ")));
    }
    let before = shared
        .current()
        .departments
        .iter()
        .find(|d| d.id == department.id)
        .and_then(|d| serde_json::to_string(d).ok());
    let change = Change::new()
        .statement(
            Statement::new(
                "INSERT INTO department (id, name, kind, level, division_code, active, version) VALUES ($1, $2, $3, $4, $5, $6, 1)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind, level = excluded.level,
                   division_code = excluded.division_code, active = excluded.active, version = department.version + 1",
            )
            .bind(department.id.clone())
            .bind(department.name.clone())
            .bind(department.kind.as_str())
            .bind(department.level.as_str())
            .bind(department.division.as_str())
            .bind(department.active),
        )
        .audit(actor.audit("admin",
            if before.is_some() { "department.update" } else { "department.create" },
            "department",
            &department.id,
            before,
            serde_json::to_string(&department).ok(),
        ));
    store.write(change).await?;
    shared.reload(store).await?;
    Ok(department)
}

/// Adds a responsibility rule; its department must exist.
pub async fn add_rule(
    store: &Store,
    shared: &SharedConfig,
    actor: &Actor,
    rule: ResponsibilityRule,
) -> Result<ResponsibilityRule, CaseError> {
    let config = shared.current();
    if !config.departments.iter().any(|d| d.id == rule.department) {
        return Err(CaseError::Invalid(format!(
            "department: unknown department `{}`",
            rule.department
        )));
    }
    if config.rules.all().iter().any(|r| r.id == rule.id) {
        return Err(CaseError::Exists(format!(
            "responsibility rule {}",
            rule.id
        )));
    }
    if let CategoryScope::Code(code) = &rule.category
        && config.category(code).is_none()
    {
        return Err(CaseError::Invalid(format!(
            "category: unknown category `{code}`"
        )));
    }
    let (kind, territory) = match &rule.territory {
        Territory::Division(code) => ("division", code.as_str().to_owned()),
        Territory::Zone(id) => ("zone", id.clone()),
    };
    let change = Change::new()
        .statement(
            Statement::new(
                "INSERT INTO responsibility_rule (id, category_scope, territory_kind, territory, level, department_id, priority, fallback, created_at_us)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(rule.id.clone())
            .bind(rule.category.to_string())
            .bind(kind)
            .bind(territory)
            .bind(rule.level.as_str())
            .bind(rule.department.clone())
            .bind(i64::from(rule.priority))
            .bind(rule.fallback)
            .bind(actor.at_us),
        )
        .audit(actor.audit("admin",
            "responsibility_rule.create",
            "responsibility_rule",
            &rule.id,
            None,
            serde_json::to_string(&rule).ok(),
        ));
    store.write(change).await?;
    shared.reload(store).await?;
    Ok(rule)
}

/// Removes a responsibility rule.
pub async fn delete_rule(
    store: &Store,
    shared: &SharedConfig,
    actor: &Actor,
    id: &str,
) -> Result<(), CaseError> {
    let before = shared
        .current()
        .rules
        .all()
        .iter()
        .find(|r| r.id == id)
        .cloned()
        .ok_or_else(|| CaseError::NotFound(format!("responsibility rule {id}")))?;
    let change = Change::new()
        .statement(
            Statement::new("DELETE FROM responsibility_rule WHERE id = $1")
                .bind(id)
                .expect_rows(1),
        )
        .audit(actor.audit(
            "admin",
            "responsibility_rule.delete",
            "responsibility_rule",
            id,
            serde_json::to_string(&before).ok(),
            None,
        ));
    store.write(change).await?;
    shared.reload(store).await?;
    Ok(())
}

/// Sets (or with `None` clears) a calendar day's override.
pub async fn set_calendar_day(
    store: &Store,
    shared: &SharedConfig,
    actor: &Actor,
    date: jiff::civil::Date,
    day: Option<(DayKind, String)>,
) -> Result<(), CaseError> {
    let statement = match &day {
        Some((kind, name)) => day_statement(&DayOverride {
            date,
            kind: *kind,
            name: name.clone(),
        }),
        None => Statement::new("DELETE FROM calendar_day WHERE day = $1").bind(date.to_string()),
    };
    let after = day.as_ref().map(|(kind, name)| {
        serde_json::json!({ "kind": match kind { DayKind::Holiday => "holiday", DayKind::Workday => "workday" }, "name": name })
            .to_string()
    });
    let change = Change::new().statement(statement).audit(actor.audit(
        "admin",
        "calendar.set_day",
        "calendar_day",
        date.to_string(),
        None,
        after,
    ));
    store.write(change).await?;
    shared.reload(store).await?;
    Ok(())
}

/// Replaces the intake settings.
pub async fn set_intake_settings(
    store: &Store,
    shared: &SharedConfig,
    actor: &Actor,
    settings: IntakeSettings,
) -> Result<(), CaseError> {
    let problems = settings.problems();
    if !problems.is_empty() {
        return Err(CaseError::Invalid(problems.join("; ")));
    }
    let value = serde_json::to_string(&settings).expect("settings serialize");
    let change = Change::new()
        .statement(
            Statement::new(
                "INSERT INTO setting (key, value, version) VALUES ('intake', $1, 1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = setting.version + 1",
            )
            .bind(value.clone()),
        )
        .audit(actor.audit("admin",
            "setting.intake",
            "setting",
            "intake",
            serde_json::to_string(&shared.current().intake).ok(),
            Some(value),
        ));
    store.write(change).await?;
    shared.reload(store).await?;
    Ok(())
}

/// A department kind for seeded demo departments, by name.
pub fn department(
    id: &str,
    name: &str,
    kind: DepartmentKind,
    level: DivisionLevel,
    division: DivisionCode,
) -> Department {
    Department {
        id: id.into(),
        name: name.into(),
        kind,
        level,
        division,
        active: true,
    }
}

/// Whether a category code names an existing, active category.
pub fn active_category<'a>(config: &'a CaseConfig, code: &str) -> Result<&'a Category, CaseError> {
    match config.category(code) {
        Some(c) if c.active => Ok(c),
        Some(_) => Err(CaseError::Invalid(format!(
            "category: `{code}` is retired; choose an active category"
        ))),
        None => Err(CaseError::Invalid(format!(
            "category: unknown category `{code}`"
        ))),
    }
}

/// Urgency parse helper for adapters.
pub fn parse_urgency(text: &str) -> Result<Urgency, CaseError> {
    text.parse().map_err(CaseError::Invalid)
}
