//! Zones (功能区) and goal clusters (目标簇): seeding the built-in zone types, editing goals with
//! validation, and reading their history from the audit log.

use jz_domain::audit::{AuditEntry, AuditRecord};
use jz_domain::division::GridCode;
use jz_domain::goal::{GoalCluster, GoalProblem, GoalTarget, ZoneType};
use jz_store::{Change, Statement, Store, StoreError};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::city::Actor;

/// One target as stored and shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetView {
    pub indicator: String,
    pub weight: f64,
    pub target: f64,
}

impl From<&GoalTarget> for TargetView {
    fn from(t: &GoalTarget) -> TargetView {
        TargetView {
            indicator: t.indicator.clone(),
            weight: t.weight,
            target: t.target,
        }
    }
}

impl From<TargetView> for GoalTarget {
    fn from(t: TargetView) -> GoalTarget {
        GoalTarget {
            indicator: t.indicator,
            weight: t.weight,
            target: t.target,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZoneTypeView {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub built_in: bool,
    pub goals: Vec<TargetView>,
    pub version: i64,
}

/// Where a zone lies: a polygon, or a set of unit grids.
#[derive(Debug, Clone, PartialEq)]
pub enum ZoneArea {
    Polygon(geo_types::MultiPolygon<f64>),
    Grids(Vec<GridCode>),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZoneView {
    pub id: String,
    pub name: String,
    pub zone_type: String,
    /// GeoJSON geometry of a polygon zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub geometry: Option<serde_json::Value>,
    /// The unit grids of a grid-set zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grid_codes: Option<Vec<String>>,
    /// The zone's own goals, when it overrides its type's.
    pub goals_override: Option<Vec<TargetView>>,
    /// The goals evaluation reads: the override, else the type's.
    pub effective_goals: Vec<TargetView>,
    pub version: i64,
}

/// Why a zone or goal change was refused.
#[derive(Debug, thiserror::Error)]
pub enum ZoneError {
    #[error("the goal cluster is invalid: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    InvalidGoals(Vec<GoalProblem>),
    #[error("unknown zone type `{0}`")]
    UnknownZoneType(String),
    #[error("zone type `{0}` already exists")]
    ZoneTypeExists(String),
    #[error("unknown zone `{0}`")]
    UnknownZone(String),
    #[error("invalid zone: {0}")]
    InvalidZone(String),
    #[error("{0}")]
    InvalidZoneType(String),
    #[error("the goals changed since version {expected} was read; reload and try again")]
    Stale { expected: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn goals_json(cluster: &GoalCluster) -> String {
    serde_json::to_string(
        &cluster
            .targets()
            .iter()
            .map(TargetView::from)
            .collect::<Vec<_>>(),
    )
    .expect("targets serialize")
}

fn parse_goals(text: &str) -> Vec<TargetView> {
    serde_json::from_str(text).unwrap_or_default()
}

fn audit(
    actor: &Actor,
    action: &str,
    subject_id: String,
    before: Option<String>,
    after: Option<String>,
) -> AuditRecord {
    AuditRecord {
        at_us: actor.at_us,
        actor: actor.actor.clone(),
        actor_role: "administrator".into(),
        action: action.into(),
        subject_kind: "goal_cluster".into(),
        subject_id,
        origin: actor.origin.clone(),
        before,
        after,
    }
}

/// Adds the built-in zone types (with their default goal clusters) that are not stored yet.
pub async fn seed_zone_types(store: &Store, actor: &Actor) -> Result<usize, StoreError> {
    let stored: Vec<String> = sqlx::query("SELECT code FROM zone_type")
        .fetch_all(store.reader())
        .await?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()?;
    let mut change = Change::new();
    let mut added = 0;
    for zone_type in ZoneType::BUILT_IN
        .iter()
        .filter(|t| !stored.iter().any(|s| s == t.code()))
    {
        let goals = goals_json(
            &zone_type
                .default_goals()
                .expect("built-in types have defaults"),
        );
        let (zh, en) = zone_type.names();
        change = change
            .statement(
                Statement::new(
                    "INSERT INTO zone_type (code, name_zh, name_en, built_in, goals, version) VALUES ($1, $2, $3, 1, $4, 1)
                     ON CONFLICT (code) DO NOTHING",
                )
                .bind(zone_type.code())
                .bind(zh)
                .bind(en)
                .bind(goals.clone()),
            )
            .audit(audit(actor, "zone_type.seed", format!("zone_type:{}", zone_type.code()), None, Some(goals)));
        added += 1;
    }
    if added > 0 {
        store.write(change).await?;
    }
    Ok(added)
}

pub async fn zone_types(store: &Store) -> Result<Vec<ZoneTypeView>, StoreError> {
    let rows = sqlx::query("SELECT code, name_zh, name_en, built_in, goals, version FROM zone_type ORDER BY built_in DESC, code")
        .fetch_all(store.reader())
        .await?;
    rows.iter()
        .map(|row| {
            Ok(ZoneTypeView {
                code: row.try_get(0)?,
                name_zh: row.try_get(1)?,
                name_en: row.try_get(2)?,
                built_in: row.try_get::<i64, _>(3)? != 0,
                goals: parse_goals(&row.try_get::<String, _>(4)?),
                version: row.try_get(5)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from)
}

async fn zone_type(store: &Store, code: &str) -> Result<Option<ZoneTypeView>, StoreError> {
    Ok(zone_types(store)
        .await?
        .into_iter()
        .find(|t| t.code == code))
}

/// Adds a user-defined zone type with its goal cluster.
pub async fn create_zone_type(
    store: &Store,
    code: &str,
    name_zh: &str,
    name_en: &str,
    targets: Vec<TargetView>,
    actor: &Actor,
) -> Result<ZoneTypeView, ZoneError> {
    let parsed = ZoneType::parse(code).map_err(ZoneError::InvalidZoneType)?;
    if !matches!(parsed, ZoneType::Custom(_)) || zone_type(store, code).await?.is_some() {
        return Err(ZoneError::ZoneTypeExists(code.to_owned()));
    }
    if name_zh.trim().is_empty() {
        return Err(ZoneError::InvalidZoneType(
            "a zone type needs a Chinese name (name_zh)".into(),
        ));
    }
    let cluster = GoalCluster::new(targets.into_iter().map(GoalTarget::from).collect())
        .map_err(ZoneError::InvalidGoals)?;
    let goals = goals_json(&cluster);
    let change = Change::new()
        .statement(
            Statement::new("INSERT INTO zone_type (code, name_zh, name_en, built_in, goals, version) VALUES ($1, $2, $3, 0, $4, 1)")
                .bind(code)
                .bind(name_zh.trim())
                .bind(if name_en.trim().is_empty() { code } else { name_en.trim() })
                .bind(goals.clone()),
        )
        .audit(audit(actor, "zone_type.create", format!("zone_type:{code}"), None, Some(goals)));
    store.write(change).await.map_err(|error| match error {
        StoreError::Constraint { .. } => ZoneError::ZoneTypeExists(code.to_owned()),
        other => ZoneError::Store(other),
    })?;
    zone_type(store, code)
        .await?
        .ok_or_else(|| ZoneError::UnknownZoneType(code.to_owned()))
}

/// Replaces a zone type's goal cluster; `expected_version` guards against lost updates.
pub async fn set_zone_type_goals(
    store: &Store,
    code: &str,
    targets: Vec<TargetView>,
    expected_version: Option<i64>,
    actor: &Actor,
) -> Result<ZoneTypeView, ZoneError> {
    let current = zone_type(store, code)
        .await?
        .ok_or_else(|| ZoneError::UnknownZoneType(code.to_owned()))?;
    let cluster = GoalCluster::new(targets.into_iter().map(GoalTarget::from).collect())
        .map_err(ZoneError::InvalidGoals)?;
    let version = expected_version.unwrap_or(current.version);
    let before = serde_json::to_string(&current.goals).expect("targets serialize");
    let after = goals_json(&cluster);
    let change = Change::new()
        .statement(
            Statement::new("UPDATE zone_type SET goals = $1, version = version + 1 WHERE code = $2 AND version = $3")
                .bind(after.clone())
                .bind(code)
                .bind(version)
                .expect_rows(1),
        )
        .audit(audit(actor, "goal_cluster.update", format!("zone_type:{code}"), Some(before), Some(after)));
    store.write(change).await.map_err(|error| match error {
        StoreError::Conflict { .. } => ZoneError::Stale { expected: version },
        other => ZoneError::Store(other),
    })?;
    zone_type(store, code)
        .await?
        .ok_or_else(|| ZoneError::UnknownZoneType(code.to_owned()))
}

/// A zone to create: its id, name, type, where it lies and optionally its own goals.
#[derive(Debug, Clone, PartialEq)]
pub struct NewZone {
    pub id: String,
    pub name: String,
    pub zone_type: String,
    pub area: ZoneArea,
    pub goals: Option<Vec<TargetView>>,
}

/// Creates a zone of a type, over a polygon or a set of grids, optionally overriding its goals.
pub async fn create_zone(
    store: &Store,
    id: &str,
    name: &str,
    zone_type_code: &str,
    area: ZoneArea,
    goals: Option<Vec<TargetView>>,
    actor: &Actor,
) -> Result<ZoneView, ZoneError> {
    let zone = NewZone {
        id: id.to_owned(),
        name: name.to_owned(),
        zone_type: zone_type_code.to_owned(),
        area,
        goals,
    };
    let mut created = create_zones(store, vec![zone], actor).await?;
    created
        .pop()
        .ok_or_else(|| ZoneError::UnknownZone(id.to_owned()))
}

/// Creates zones all at once: each is checked as [`create_zone`] checks one, then all are
/// written in one change (one commit, and one rebuild of running servers' city model), or none
/// is when any is refused.
pub async fn create_zones(
    store: &Store,
    zones: Vec<NewZone>,
    actor: &Actor,
) -> Result<Vec<ZoneView>, ZoneError> {
    let types = zone_types(store).await?;
    let mut change = Change::new();
    let mut ids: Vec<String> = Vec::with_capacity(zones.len());
    for zone in zones {
        if ids.contains(&zone.id) {
            return Err(ZoneError::InvalidZone(format!(
                "zone `{}` is given twice",
                zone.id
            )));
        }
        let one = zone_change(store, &types, &zone, actor).await?;
        change.statements.extend(one.statements);
        change.audit.extend(one.audit);
        ids.push(zone.id);
    }
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // Running servers rebuild their model so locate finds the new zones.
    let change = change.outbox(jz_store::OutboxMessage {
        topic: crate::city::store::CITY_MODEL_CHANGED.into(),
        payload: serde_json::json!({ "zones": ids }).to_string(),
        due_at_us: actor.at_us,
    });
    store.write(change).await.map_err(|error| match error {
        StoreError::Constraint { .. } if ids.len() == 1 => {
            ZoneError::InvalidZone(format!("zone `{}` already exists", ids[0]))
        }
        StoreError::Constraint { .. } => ZoneError::InvalidZone(format!(
            "one of the zones {} already exists",
            ids.join(", ")
        )),
        other => ZoneError::Store(other),
    })?;
    let mut stored = self::zones(store).await?;
    stored.retain(|z| ids.contains(&z.id));
    Ok(stored)
}

/// The statements and audit records that create one zone, once it is checked (its type among
/// the stored `types`).
async fn zone_change(
    store: &Store,
    types: &[ZoneTypeView],
    zone: &NewZone,
    actor: &Actor,
) -> Result<Change, ZoneError> {
    let NewZone {
        id,
        name,
        zone_type: zone_type_code,
        area,
        goals,
    } = zone;
    let (id, zone_type_code) = (id.as_str(), zone_type_code.as_str());
    if id.is_empty()
        || id.len() > 64
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(ZoneError::InvalidZone(format!(
            "id `{id}` must be 1–64 letters, digits, _ or -"
        )));
    }
    if name.trim().is_empty() {
        return Err(ZoneError::InvalidZone("a zone needs a name".into()));
    }
    if !types.iter().any(|t| t.code == zone_type_code) {
        return Err(ZoneError::UnknownZoneType(zone_type_code.to_owned()));
    }
    let goals = goals
        .clone()
        .map(|targets| {
            GoalCluster::new(targets.into_iter().map(GoalTarget::from).collect())
                .map_err(ZoneError::InvalidGoals)
        })
        .transpose()?
        .map(|cluster| goals_json(&cluster));
    let (geometry, grids) = match area {
        ZoneArea::Polygon(polygon) => {
            let problems = jz_geo::validate::polygon_problems(polygon);
            if !problems.is_empty() {
                return Err(ZoneError::InvalidZone(
                    problems
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; "),
                ));
            }
            (Some(crate::city::store::geometry_to_json(polygon)), None)
        }
        ZoneArea::Grids(codes) if codes.is_empty() => {
            return Err(ZoneError::InvalidZone(
                "a grid-set zone needs at least one grid".into(),
            ));
        }
        ZoneArea::Grids(codes) => {
            for code in codes {
                let known = sqlx::query("SELECT 1 FROM grid WHERE code = $1")
                    .bind(code.to_string())
                    .fetch_optional(store.reader())
                    .await
                    .map_err(StoreError::from)?;
                if known.is_none() {
                    return Err(ZoneError::InvalidZone(format!("unknown unit grid {code}")));
                }
            }
            (
                None,
                Some(
                    codes
                        .iter()
                        .map(GridCode::as_str)
                        .collect::<Vec<_>>()
                        .join(","),
                ),
            )
        }
    };
    let change = Change::new()
        .statement(
            Statement::new(
                "INSERT INTO zone (id, name, zone_type, geometry, grid_codes, goals, version, created_at_us) VALUES ($1, $2, $3, $4, $5, $6, 1, $7)",
            )
            .bind(id)
            .bind(name.trim())
            .bind(zone_type_code)
            .bind(geometry)
            .bind(grids)
            .bind(goals.clone())
            .bind(actor.at_us),
        )
        .audit(AuditRecord {
            subject_kind: "zone".into(),
            ..audit(actor, "zone.create", id.to_owned(), None, Some(format!("{{\"name\":{:?},\"zone_type\":{:?}}}", name.trim(), zone_type_code)))
        });
    Ok(match &goals {
        Some(goals) => change.audit(audit(
            actor,
            "goal_cluster.override",
            format!("zone:{id}"),
            None,
            Some(goals.clone()),
        )),
        None => change,
    })
}

/// Sets (or, with `None`, removes) a zone's own goal cluster.
pub async fn set_zone_goals(
    store: &Store,
    id: &str,
    targets: Option<Vec<TargetView>>,
    expected_version: Option<i64>,
    actor: &Actor,
) -> Result<ZoneView, ZoneError> {
    let current = zone(store, id)
        .await?
        .ok_or_else(|| ZoneError::UnknownZone(id.to_owned()))?;
    let goals = targets
        .map(|targets| {
            GoalCluster::new(targets.into_iter().map(GoalTarget::from).collect())
                .map_err(ZoneError::InvalidGoals)
        })
        .transpose()?
        .map(|cluster| goals_json(&cluster));
    let version = expected_version.unwrap_or(current.version);
    let before = current
        .goals_override
        .as_ref()
        .map(|g| serde_json::to_string(g).expect("targets serialize"));
    let change = Change::new()
        .statement(
            Statement::new(
                "UPDATE zone SET goals = $1, version = version + 1 WHERE id = $2 AND version = $3",
            )
            .bind(goals.clone())
            .bind(id)
            .bind(version)
            .expect_rows(1),
        )
        .audit(audit(
            actor,
            "goal_cluster.override",
            format!("zone:{id}"),
            before,
            goals,
        ));
    store.write(change).await.map_err(|error| match error {
        StoreError::Conflict { .. } => ZoneError::Stale { expected: version },
        other => ZoneError::Store(other),
    })?;
    zone(store, id)
        .await?
        .ok_or_else(|| ZoneError::UnknownZone(id.to_owned()))
}

pub async fn zones(store: &Store) -> Result<Vec<ZoneView>, StoreError> {
    let types = zone_types(store).await?;
    let rows = sqlx::query(
        "SELECT id, name, zone_type, geometry, grid_codes, goals, version FROM zone ORDER BY id",
    )
    .fetch_all(store.reader())
    .await?;
    rows.iter()
        .map(|row| {
            let zone_type: String = row.try_get(2)?;
            let geometry: Option<String> = row.try_get(3)?;
            let grids: Option<String> = row.try_get(4)?;
            let goals: Option<String> = row.try_get(5)?;
            let goals_override = goals.as_deref().map(parse_goals);
            let effective_goals = goals_override.clone().unwrap_or_else(|| {
                types
                    .iter()
                    .find(|t| t.code == zone_type)
                    .map(|t| t.goals.clone())
                    .unwrap_or_default()
            });
            Ok(ZoneView {
                id: row.try_get(0)?,
                name: row.try_get(1)?,
                zone_type,
                geometry: geometry.and_then(|g| serde_json::from_str(&g).ok()),
                grid_codes: grids.map(|g| {
                    g.split(',')
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect()
                }),
                goals_override,
                effective_goals,
                version: row.try_get(6)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from)
}

pub async fn zone(store: &Store, id: &str) -> Result<Option<ZoneView>, StoreError> {
    Ok(zones(store).await?.into_iter().find(|z| z.id == id))
}

/// Who changed a goal cluster when, oldest first: `zone_type:CODE` or `zone:ID`.
pub async fn goal_history(store: &Store, subject: &str) -> Result<Vec<AuditEntry>, StoreError> {
    store.audit_entries_for("goal_cluster", subject).await
}
