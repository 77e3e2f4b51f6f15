//! Evaluation over HTTP: scorecards of a division, grid or zone (optionally one department in
//! it) over any period, rankings of divisions or departments, and indicator trends.
//!
//! Everything is read from the incremental counters (`jz_app::evaluation`); reading is scoped by
//! the caller's territory (and a handler's department).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use jz_app::evaluation::{Period, Question, Scope, ScopeCard};
use jz_domain::access::Role;
use jz_domain::division::DivisionLevel;
use jz_domain::evaluation::{self, Counter, ScopeFacts};
use jz_domain::goal::{self, Better};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorCode, QueryParams};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/scorecards", get(scorecard))
        .route("/scorecards/ranking", get(ranking))
        .route("/scorecards/trend", get(trend))
}

/// Who may read evaluations (staff; citizens and volunteers may not).
const READERS: &[Role] = &[
    Role::CityOperator,
    Role::DistrictOperator,
    Role::StreetOperator,
    Role::Dispatcher,
    Role::Handler,
    Role::Inspector,
    Role::HotlineOperator,
    Role::CommunityWorker,
    Role::Auditor,
    Role::Admin,
];

/// The longest period one question may cover.
const MAX_DAYS: i32 = 7_320;

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidParameter, message.into()).field(field)
}

fn parse_day(field: &str, text: &str) -> Result<i32, ApiError> {
    let date: jiff::civil::Date = text.parse().map_err(|e| {
        invalid(
            field,
            format!("{field}: `{text}` is not a date YYYY-MM-DD ({e})"),
        )
    })?;
    let epoch = jiff::civil::date(1970, 1, 1);
    let days = epoch
        .until(date)
        .map_err(|e| invalid(field, format!("{field}: {e}")))?
        .get_days();
    Ok(days)
}

fn day_text(day: i32) -> String {
    let epoch = jiff::civil::date(1970, 1, 1);
    epoch
        .checked_add(jiff::Span::new().days(i64::from(day)))
        .map(|d| d.to_string())
        .unwrap_or_default()
}

fn period(from: Option<&str>, to: Option<&str>) -> Result<Period, ApiError> {
    let today = evaluation::day_of(jz_app::cases::now_us());
    let to = match to.filter(|s| !s.is_empty()) {
        Some(text) => parse_day("to", text)?,
        None => today,
    };
    let from = match from.filter(|s| !s.is_empty()) {
        Some(text) => parse_day("from", text)?,
        None => to - 29,
    };
    if from > to {
        return Err(invalid("from", "from: must not be after `to`"));
    }
    if to - from >= MAX_DAYS {
        return Err(invalid(
            "from",
            format!("from: a period covers at most {MAX_DAYS} days"),
        ));
    }
    Ok(Period { from, to })
}

fn evaluation_error(e: jz_app::evaluation::EvaluationError) -> ApiError {
    match e {
        jz_app::evaluation::EvaluationError::Invalid(m) => invalid("scope", m),
        jz_app::evaluation::EvaluationError::NotFound(m) => {
            ApiError::new(ErrorCode::NotFound, format!("{m} not found"))
        }
        jz_app::evaluation::EvaluationError::Store(e) => e.into(),
    }
}

/// Checks that the caller may read `scope` (and which department), returning the department the
/// question is limited to.
fn authorize(
    caller: &Caller,
    scope: &Scope,
    department: Option<String>,
) -> Result<Option<String>, ApiError> {
    caller.require(READERS, "read evaluations")?;
    let actor = &caller.actor;
    let outside = || {
        ApiError::new(
            ErrorCode::Forbidden,
            format!(
                "{} may read evaluations only within territory {}",
                actor.role.with_article(),
                actor.territory.as_ref().map_or("-", |t| t.as_str())
            ),
        )
    };
    // A handler reads their own department's cases wherever they lie.
    let own_department = actor.role == Role::Handler && actor.department.is_some();
    match scope {
        Scope::City | Scope::Zone(_) if actor.territory.is_some() && !own_department => {
            return Err(outside());
        }
        Scope::Division(code, _) if !actor.covers(code) => return Err(outside()),
        _ => {}
    }
    let department = department.filter(|d| !d.is_empty());
    let department = if actor.role == Role::Handler {
        if department.is_some() && department != actor.department {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "a handler may read the evaluation of their own department only",
            ));
        }
        actor.department.clone()
    } else {
        department
    };
    if department.is_some() && matches!(scope, Scope::Division(..)) {
        let message =
            "a department is evaluated city-wide (scope=city) or per zone (scope=zone:<id>)";
        return Err(if actor.role == Role::Handler {
            ApiError::new(
                ErrorCode::Forbidden,
                format!("a handler reads their department's evaluation: {message}"),
            )
        } else {
            invalid("scope", format!("scope: {message}"))
        });
    }
    Ok(department)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScorecardQuery {
    scope: Option<String>,
    from: Option<String>,
    to: Option<String>,
    department: Option<String>,
}

fn better_text(better: Better) -> &'static str {
    match better {
        Better::Higher => "higher",
        Better::Lower => "lower",
    }
}

fn finite(value: Option<f64>) -> Value {
    value
        .filter(|v| v.is_finite())
        .map_or(Value::Null, |v| json!((v * 1e6).round() / 1e6))
}

fn counts_json(card: &ScopeCard) -> Value {
    let all = card.tally.all();
    let mut counts = Map::new();
    for counter in Counter::ALL {
        counts.insert(counter.column().into(), json!(all.get(*counter)));
    }
    Value::Object(counts)
}

fn card_json(card: &ScopeCard, scope: &str, period: Period, department: Option<&str>) -> Value {
    let indicators: Vec<Value> = card
        .card
        .readings
        .iter()
        .map(|r| {
            json!({
                "code": r.indicator.code,
                "name_zh": r.indicator.name_zh,
                "name_en": r.indicator.name_en,
                "unit": r.indicator.unit,
                "better": better_text(r.indicator.better),
                "value": finite(r.value),
                "target": finite(r.target),
                "weight": finite(r.weight),
                "attainment": finite(r.attainment),
                "gap": finite(r.gap),
            })
        })
        .collect();
    json!({
        "scope": scope,
        "name": card.name,
        "department": department,
        "from": day_text(period.from),
        "to": day_text(period.to),
        "grids": card.facts.grids,
        "area_km2": finite(Some(card.facts.area_km2)),
        "counts": counts_json(card),
        "indicators": indicators,
        "score": finite(card.score),
        "goal_coverage": finite(card.card.coverage),
        "score_kind": card.score_kind,
        "grade": card.score.map(|s| evaluation::grade(s).to_string()),
        "goal_source": card.goal_source,
        "limits": {
            "objective": { "indicator": "on_time_closure_rate", "value": finite(card.card.objective_limit) },
            "satisfaction": { "indicator": "satisfaction_rate", "value": finite(card.card.satisfaction_limit) },
        },
    })
}

/// The scope (default `city`), the department the caller may read, and the period of a
/// scorecard or trend question, checked against the caller.
fn asked(
    state: &AppState,
    caller: &Caller,
    scope: Option<String>,
    department: Option<String>,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<(String, Scope, Option<String>, Period), ApiError> {
    let scope_text = scope
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| evaluation::CITY_SCOPE.into());
    let scope = state
        .evaluations
        .scope(&state.city, &scope_text)
        .map_err(evaluation_error)?;
    let department = authorize(caller, &scope, department)?;
    let period = period(from, to)?;
    Ok((scope_text, scope, department, period))
}

async fn scorecard(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(q): QueryParams<ScorecardQuery>,
) -> Result<Json<Value>, ApiError> {
    let (scope_text, _, department, period) = asked(
        &state,
        &caller,
        q.scope,
        q.department,
        q.from.as_deref(),
        q.to.as_deref(),
    )?;
    let question = Question {
        scope: scope_text.clone(),
        period,
        department: department.clone(),
    };
    let card = state
        .evaluations
        .scorecard(&state.store, &state.city, &question)
        .await
        .map_err(evaluation_error)?;
    Ok(Json(card_json(
        &card,
        &scope_text,
        period,
        department.as_deref(),
    )))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RankingQuery {
    level: Option<String>,
    within: Option<String>,
    from: Option<String>,
    to: Option<String>,
    by: Option<String>,
}

#[derive(Debug, Serialize)]
struct RankedItem {
    scope: String,
    name: String,
    rank: usize,
    value: Value,
    score: Value,
    grade: Option<String>,
    open: i64,
    overdue: i64,
    reported: i64,
}

async fn ranking(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(q): QueryParams<RankingQuery>,
) -> Result<Json<Value>, ApiError> {
    let within_text = q
        .within
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| evaluation::CITY_SCOPE.into());
    let within = state
        .evaluations
        .scope(&state.city, &within_text)
        .map_err(evaluation_error)?;
    if matches!(within, Scope::Zone(_)) {
        return Err(invalid(
            "within",
            "within: must be `city` or a division code",
        ));
    }
    if caller.actor.role == Role::Handler {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "a handler may not read rankings; read your department's scorecard",
        ));
    }
    authorize(&caller, &within, None)?;
    let period = period(q.from.as_deref(), q.to.as_deref())?;
    let by =
        q.by.filter(|s| !s.is_empty())
            .unwrap_or_else(|| "score".into());
    if by != "score" && goal::indicator(&by).is_none() {
        return Err(invalid(
            "by",
            format!("by: `{by}` is neither `score` nor an indicator code (see /api/v1/indicators)"),
        ));
    }
    let level = q
        .level
        .as_deref()
        .filter(|s| !s.is_empty())
        .unwrap_or("district");
    let model = state.city.current();
    let scope_key = match &within {
        Scope::Division(code, _) => code.as_str().to_owned(),
        _ => evaluation::CITY_SCOPE.to_owned(),
    };
    // (scope, name, tally, department?)
    let mut entries: Vec<(String, String, jz_domain::evaluation::Tally, bool)> = Vec::new();
    if level == "department" {
        let tallies =
            jz_app::evaluation::department_tallies(&state.store, &scope_key, period).await?;
        let departments = state.cases.config.current();
        for (id, tally) in tallies {
            let name = departments
                .departments
                .iter()
                .find(|d| d.id == id)
                .map_or_else(|| id.clone(), |d| d.name.clone());
            entries.push((id, name, tally, true));
        }
    } else {
        let wanted = match level {
            "district" => DivisionLevel::District,
            "street" => DivisionLevel::Street,
            "community" => DivisionLevel::Community,
            other => {
                return Err(invalid(
                    "level",
                    format!(
                        "level: `{other}` is not one of district, street, community, department"
                    ),
                ));
            }
        };
        let scopes: Vec<(String, String)> = model
            .divisions_at(wanted)
            .into_iter()
            .filter(|d| match &within {
                Scope::Division(code, _) => d.code.is_within(code),
                _ => true,
            })
            .filter(|d| caller.actor.covers(&d.code))
            .map(|d| (d.code.as_str().to_owned(), d.name.clone()))
            .collect();
        let keys: Vec<String> = scopes.iter().map(|(c, _)| c.clone()).collect();
        let mut tallies = jz_app::evaluation::tallies(&state.store, &keys, period).await?;
        for (code, name) in scopes {
            let tally = tallies.remove(&code).unwrap_or_default();
            entries.push((code, name, tally, false));
        }
    }
    // Departments are read over the whole `within` scope: its extent, once.
    let within_extent = state
        .evaluations
        .extents_of(&state.store, &state.city, &scope_key)
        .await?;
    let mut items = Vec::with_capacity(entries.len());
    for (scope, name, tally, is_department) in entries {
        let (grids, area_km2) = if is_department {
            within_extent
        } else {
            state
                .evaluations
                .extents_of(&state.store, &state.city, &scope)
                .await?
        };
        let facts = ScopeFacts {
            grids,
            area_km2,
            days: period.days(),
        };
        let score = if is_department {
            evaluation::department_score(&tally, &facts)
        } else {
            evaluation::area_score(&tally, &facts)
        };
        let value = if by == "score" {
            score
        } else {
            evaluation::indicator_value(&by, &tally, &facts)
        };
        let all = tally.all();
        items.push((
            value,
            RankedItem {
                scope,
                name,
                rank: 0,
                value: finite(value),
                score: finite(score),
                grade: score.map(|s| evaluation::grade(s).to_string()),
                open: all.get(Counter::Open),
                overdue: all.get(Counter::OverdueOpen),
                reported: all.get(Counter::Reported),
            },
        ));
    }
    let lower_better = goal::indicator(&by).is_some_and(|i| i.better == Better::Lower);
    items.sort_by(|(a, ai), (b, bi)| {
        let order = match (a, b) {
            (Some(a), Some(b)) if lower_better => a.total_cmp(b),
            (Some(a), Some(b)) => b.total_cmp(a),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        };
        order.then_with(|| ai.scope.cmp(&bi.scope))
    });
    let items: Vec<RankedItem> = items
        .into_iter()
        .enumerate()
        .map(|(i, (_, mut item))| {
            item.rank = i + 1;
            item
        })
        .collect();
    Ok(Json(json!({
        "level": level,
        "within": within_text,
        "by": by,
        "from": day_text(period.from),
        "to": day_text(period.to),
        "items": items,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrendQuery {
    scope: Option<String>,
    from: Option<String>,
    to: Option<String>,
    bucket: Option<String>,
    indicator: Option<String>,
    department: Option<String>,
}

async fn trend(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(q): QueryParams<TrendQuery>,
) -> Result<Json<Value>, ApiError> {
    let (scope_text, scope, department, period) = asked(
        &state,
        &caller,
        q.scope,
        q.department,
        q.from.as_deref(),
        q.to.as_deref(),
    )?;
    let indicator = q
        .indicator
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "on_time_closure_rate".into());
    if goal::indicator(&indicator).is_none() {
        return Err(invalid(
            "indicator",
            format!("indicator: unknown indicator `{indicator}` (see /api/v1/indicators)"),
        ));
    }
    let bucket = q
        .bucket
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "day".into());
    let key = match scope {
        Scope::City => evaluation::CITY_SCOPE.to_owned(),
        _ => scope_text.clone(),
    };
    // The same extent the zone's scorecard reads (per-grid and per-area indicators).
    let (grids, area_km2) = match &scope {
        Scope::Zone(id) => state
            .evaluations
            .zone_extent_of(&state.store, id)
            .await?
            .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("zone {id} not found")))?,
        _ => {
            state
                .evaluations
                .extents_of(&state.store, &state.city, &key)
                .await?
        }
    };
    let daily = jz_app::evaluation::daily(
        &state.store,
        &Question {
            scope: key,
            period,
            department,
        },
    )
    .await?;
    // Bucket starts: every day, Monday-based weeks, or calendar months.
    let start_of = |day: i32| -> Result<i32, ApiError> {
        match bucket.as_str() {
            "day" => Ok(day),
            // 1970-01-01 was a Thursday: Monday-based weeks start 3 days earlier.
            "week" => Ok(day - (day + 3).rem_euclid(7)),
            "month" => {
                let date: jiff::civil::Date = day_text(day).parse().expect("valid date");
                parse_day("from", &date.first_of_month().to_string())
            }
            other => Err(invalid(
                "bucket",
                format!("bucket: `{other}` is not one of day, week, month"),
            )),
        }
    };
    let mut buckets: std::collections::BTreeMap<i32, (jz_domain::evaluation::Tally, u32)> =
        std::collections::BTreeMap::new();
    for day in period.from..=period.to {
        let entry = buckets.entry(start_of(day)?).or_default();
        entry.1 += 1;
        if let Some(tally) = daily.get(&day) {
            entry.0.merge(tally);
        }
    }
    let points: Vec<Value> = buckets
        .into_iter()
        .map(|(start, (tally, days))| {
            let facts = ScopeFacts {
                grids,
                area_km2,
                days,
            };
            json!({
                "start": day_text(start),
                "days": days,
                "value": finite(evaluation::indicator_value(&indicator, &tally, &facts)),
                "reported": tally.all().get(Counter::Reported),
            })
        })
        .collect();
    Ok(Json(json!({
        "scope": scope_text,
        "indicator": indicator,
        "bucket": bucket,
        "from": day_text(period.from),
        "to": day_text(period.to),
        "points": points,
    })))
}
