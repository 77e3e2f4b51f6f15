//! The city model over HTTP: the division tree, one division or grid, locate (single and
//! batch), and GeoJSON layers per level simplified for the map's zoom.

use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::{Json, Router};
use jz_app::city::{LocateError, Located, export, store};
use jz_domain::division::{DivisionCode, DivisionLevel, GridCode};
use jz_geo::datum::Datum;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::{ApiError, ErrorCode, QueryParams};

/// The most points one batch locate request may carry.
pub const MAX_BATCH_POINTS: usize = 10_000;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/divisions", get(tree))
        .route("/divisions/{code}", get(division))
        .route("/grids/{code}", get(grid))
        .route("/locate", get(locate_one).post(locate_batch))
        .route("/layers/{level}", get(layer))
        .route("/indicators", get(indicators))
        .route("/zone-types", get(zone_types))
        .route("/zones", get(zones))
        .route("/zones/{id}", get(zone))
        .route("/zones/{id}/goals", put(set_zone_goals))
        .route("/zone-types/{code}/goals", put(set_zone_type_goals))
        .route("/goal-history", get(goal_history))
}

#[derive(Debug, Serialize)]
struct IndicatorView {
    code: &'static str,
    name_zh: &'static str,
    name_en: &'static str,
    unit: &'static str,
    min: f64,
    max: f64,
    better: &'static str,
}

async fn indicators() -> Json<Vec<IndicatorView>> {
    Json(
        jz_domain::goal::INDICATORS
            .iter()
            .map(|i| IndicatorView {
                code: i.code,
                name_zh: i.name_zh,
                name_en: i.name_en,
                unit: i.unit,
                min: i.min,
                max: i.max,
                better: match i.better {
                    jz_domain::goal::Better::Higher => "higher",
                    jz_domain::goal::Better::Lower => "lower",
                },
            })
            .collect(),
    )
}

async fn zone_types(
    State(state): State<AppState>,
) -> Result<Json<Vec<jz_app::zones::ZoneTypeView>>, ApiError> {
    Ok(Json(jz_app::zones::zone_types(&state.store).await?))
}

async fn zones(
    State(state): State<AppState>,
) -> Result<Json<Vec<jz_app::zones::ZoneView>>, ApiError> {
    Ok(Json(jz_app::zones::zones(&state.store).await?))
}

async fn zone(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<jz_app::zones::ZoneView>, ApiError> {
    jz_app::zones::zone(&state.store, &id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("no zone {id}")))
}

/// A goal cluster edit: the targets (weights summing to 1), or `null` to drop a zone's override,
/// with the version the editor read.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GoalsBody {
    targets: Option<Vec<jz_app::zones::TargetView>>,
    version: Option<i64>,
}

/// Who may set goals.
const GOAL_SETTERS: &[jz_domain::access::Role] = &[
    jz_domain::access::Role::CityOperator,
    jz_domain::access::Role::Admin,
];

fn zone_error(e: jz_app::zones::ZoneError) -> ApiError {
    use jz_app::zones::ZoneError as Z;
    match e {
        Z::InvalidGoals(_) => ApiError::new(ErrorCode::InvalidBody, e.to_string()).field("targets"),
        Z::UnknownZone(_) | Z::UnknownZoneType(_) => {
            ApiError::new(ErrorCode::NotFound, e.to_string())
        }
        Z::Stale { .. } => ApiError::new(ErrorCode::StaleVersion, e.to_string()).field("version"),
        Z::Store(e) => e.into(),
        other => ApiError::new(ErrorCode::InvalidBody, other.to_string()),
    }
}

fn setter(caller: &crate::auth::Caller) -> Result<jz_app::city::Actor, ApiError> {
    caller.require(GOAL_SETTERS, "set goals")?;
    Ok(jz_app::city::Actor {
        actor: caller.actor.id.clone(),
        origin: caller.origin.clone(),
        at_us: jz_app::cases::now_us(),
    })
}

async fn set_zone_goals(
    State(state): State<AppState>,
    caller: crate::auth::Caller,
    Path(id): Path<String>,
    crate::error::JsonBody(body): crate::error::JsonBody<GoalsBody>,
) -> Result<Json<jz_app::zones::ZoneView>, ApiError> {
    let actor = setter(&caller)?;
    jz_app::zones::set_zone_goals(&state.store, &id, body.targets, body.version, &actor)
        .await
        .map(Json)
        .map_err(zone_error)
}

async fn set_zone_type_goals(
    State(state): State<AppState>,
    caller: crate::auth::Caller,
    Path(code): Path<String>,
    crate::error::JsonBody(body): crate::error::JsonBody<GoalsBody>,
) -> Result<Json<jz_app::zones::ZoneTypeView>, ApiError> {
    let actor = setter(&caller)?;
    let Some(targets) = body.targets else {
        return Err(ApiError::new(
            ErrorCode::InvalidBody,
            "targets: a zone type needs a goal cluster",
        )
        .field("targets"));
    };
    jz_app::zones::set_zone_type_goals(&state.store, &code, targets, body.version, &actor)
        .await
        .map(Json)
        .map_err(zone_error)
}

#[derive(Debug, Deserialize)]
struct HistoryQuery {
    subject: Option<String>,
}

#[derive(Debug, Serialize)]
struct HistoryEntry {
    seq: i64,
    at_us: i64,
    actor: String,
    action: String,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
}

/// Who changed a goal cluster when: `subject=zone_type:CODE` or `subject=zone:ID`.
async fn goal_history(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<HistoryQuery>,
) -> Result<Json<Vec<HistoryEntry>>, ApiError> {
    let subject = query
        .subject
        .filter(|s| s.starts_with("zone_type:") || s.starts_with("zone:"))
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidParameter,
                "subject must be zone_type:CODE or zone:ID",
            )
            .field("subject")
        })?;
    let entries = jz_app::zones::goal_history(&state.store, &subject).await?;
    let json = |text: Option<String>| text.and_then(|t| serde_json::from_str(&t).ok());
    Ok(Json(
        entries
            .into_iter()
            .map(|e| HistoryEntry {
                seq: e.seq,
                at_us: e.record.at_us,
                actor: e.record.actor,
                action: e.record.action,
                before: json(e.record.before),
                after: json(e.record.after),
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize)]
struct TreeQuery {
    depth: Option<String>,
}

fn parse_param<T: std::str::FromStr>(name: &str, value: Option<&str>) -> Result<Option<T>, ApiError>
where
    T::Err: std::fmt::Display,
{
    match value.filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(text) => text.parse().map(Some).map_err(|error| {
            ApiError::new(
                ErrorCode::InvalidParameter,
                format!("{name}: `{text}` is not valid: {error}"),
            )
            .field(name)
        }),
    }
}

async fn tree(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<TreeQuery>,
) -> Result<Json<Vec<store::TreeNode>>, ApiError> {
    let depth: usize = parse_param("depth", query.depth.as_deref())?.unwrap_or(4);
    Ok(Json(store::division_tree(&state.store, depth).await?))
}

#[derive(Debug, Deserialize)]
struct DivisionQuery {
    geometry: Option<String>,
}

async fn division(
    State(state): State<AppState>,
    Path(code): Path<String>,
    QueryParams(query): QueryParams<DivisionQuery>,
) -> Result<Json<store::DivisionView>, ApiError> {
    let parsed = DivisionCode::parse(&code)
        .map_err(|e| ApiError::new(ErrorCode::InvalidParameter, e.to_string()).field("code"))?;
    let with_geometry: bool = parse_param("geometry", query.geometry.as_deref())?.unwrap_or(false);
    store::division_view(&state.store, &parsed, with_geometry)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("no division {parsed}")))
}

async fn grid(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Json<store::GridView>, ApiError> {
    let parsed = GridCode::parse(&code)
        .map_err(|e| ApiError::new(ErrorCode::InvalidParameter, e.to_string()).field("code"))?;
    store::grid_view(&state.store, &parsed)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("no unit grid {parsed}")))
}

/// A located point as the API shows it.
#[derive(Debug, Serialize)]
struct LocatedView {
    lon: f64,
    lat: f64,
    datum: String,
    wgs84: [f64; 2],
    grid: Option<String>,
    community: Option<DivisionRef>,
    street: Option<DivisionRef>,
    district: Option<DivisionRef>,
    city: Option<DivisionRef>,
    zones: Vec<jz_app::city::ZoneRef>,
}

#[derive(Debug, Serialize)]
struct DivisionRef {
    code: String,
    name: String,
    generated: bool,
}

impl From<Located> for LocatedView {
    fn from(located: Located) -> LocatedView {
        let at = |level| {
            located.at(level).map(|d| DivisionRef {
                code: d.code.to_string(),
                name: d.name.clone(),
                generated: d.generated,
            })
        };
        LocatedView {
            lon: located.input.0,
            lat: located.input.1,
            datum: located.datum.to_string(),
            wgs84: [located.wgs84.0, located.wgs84.1],
            grid: located.grid.map(|g| g.to_string()),
            community: at(DivisionLevel::Community),
            street: at(DivisionLevel::Street),
            district: at(DivisionLevel::District),
            city: at(DivisionLevel::City),
            zones: located.zones.clone(),
        }
    }
}

pub(crate) fn locate_error(error: LocateError) -> ApiError {
    match error {
        LocateError::InvalidPoint(reason) => ApiError::new(ErrorCode::InvalidParameter, reason),
        outside @ LocateError::OutsideCity { .. } => {
            ApiError::new(ErrorCode::OutsideCity, outside.to_string())
        }
        none @ LocateError::NoBoundaries => {
            ApiError::new(ErrorCode::NoBoundaries, none.to_string())
        }
    }
}

#[derive(Debug, Deserialize)]
struct LocateQuery {
    lon: Option<String>,
    lat: Option<String>,
    datum: Option<String>,
}

async fn locate_one(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<LocateQuery>,
) -> Result<Json<LocatedView>, ApiError> {
    let lon: f64 = parse_param("lon", query.lon.as_deref())?.ok_or_else(|| {
        ApiError::new(ErrorCode::InvalidParameter, "lon is required").field("lon")
    })?;
    let lat: f64 = parse_param("lat", query.lat.as_deref())?.ok_or_else(|| {
        ApiError::new(ErrorCode::InvalidParameter, "lat is required").field("lat")
    })?;
    let datum: Datum = parse_param("datum", query.datum.as_deref())?.unwrap_or(Datum::Wgs84);
    let located = state.city.current().locate(lon, lat, datum).map_err(|e| {
        let field = matches!(e, LocateError::InvalidPoint(_)).then_some("lon");
        let error = locate_error(e);
        match field {
            Some(field) => error.field(field),
            None => error,
        }
    })?;
    Ok(Json(located.into()))
}

#[derive(Debug, Deserialize)]
struct BatchRequest {
    points: Vec<BatchPoint>,
}

#[derive(Debug, Deserialize)]
struct BatchPoint {
    lon: f64,
    lat: f64,
    datum: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum BatchAnswer {
    Located(Box<LocatedView>),
    Failed { error: ApiError },
}

async fn locate_batch(
    State(state): State<AppState>,
    body: Result<Json<BatchRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Vec<BatchAnswer>>, ApiError> {
    let Json(request) =
        body.map_err(|rejection| ApiError::new(ErrorCode::InvalidBody, rejection.body_text()))?;
    if request.points.len() > MAX_BATCH_POINTS {
        return Err(ApiError::new(
            ErrorCode::InvalidBody,
            format!(
                "{} points in one batch; at most {MAX_BATCH_POINTS}",
                request.points.len()
            ),
        )
        .field("points"));
    }
    let model = state.city.current();
    let answers = request
        .points
        .iter()
        .enumerate()
        .map(|(index, point)| {
            let datum = match point.datum.as_deref().map(str::parse::<Datum>).transpose() {
                Ok(datum) => datum.unwrap_or(Datum::Wgs84),
                Err(error) => {
                    return BatchAnswer::Failed {
                        error: ApiError::new(ErrorCode::InvalidParameter, error.to_string())
                            .field(&format!("points[{index}].datum")),
                    };
                }
            };
            match model.locate(point.lon, point.lat, datum) {
                Ok(located) => BatchAnswer::Located(Box::new(located.into())),
                Err(error) => BatchAnswer::Failed {
                    error: locate_error(error).field(&format!("points[{index}]")),
                },
            }
        })
        .collect();
    Ok(Json(answers))
}

#[derive(Debug, Deserialize)]
struct LayerQuery {
    zoom: Option<String>,
    bbox: Option<String>,
}

/// `GET /layers/{level}`: a level's divisions (simplified for `zoom`), or `grid` within `bbox`.
async fn layer(
    State(state): State<AppState>,
    Path(level): Path<String>,
    QueryParams(query): QueryParams<LayerQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if level == "grid" {
        let bbox = query.bbox.filter(|b| !b.is_empty()).ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidParameter,
                "the grid layer needs bbox=minLon,minLat,maxLon,maxLat",
            )
            .field("bbox")
        })?;
        let numbers: Vec<f64> = bbox
            .split(',')
            .filter_map(|n| n.trim().parse().ok())
            .collect();
        let [x0, y0, x1, y1] = numbers[..] else {
            return Err(ApiError::new(
                ErrorCode::InvalidParameter,
                "bbox must be four numbers: minLon,minLat,maxLon,maxLat",
            )
            .field("bbox"));
        };
        if !(x0 < x1 && y0 < y1) {
            return Err(ApiError::new(
                ErrorCode::InvalidParameter,
                "bbox minimums must be below its maximums",
            )
            .field("bbox"));
        }
        return export::grids_in_bbox(&state.store, [x0, y0, x1, y1])
            .await?
            .map(Json)
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::InvalidParameter,
                    format!(
                        "more than {} grids in this bbox; ask for a smaller one",
                        export::MAX_GRID_FEATURES
                    ),
                )
                .field("bbox")
            });
    }
    let level: DivisionLevel = level
        .parse()
        .map_err(|e: String| ApiError::new(ErrorCode::InvalidParameter, e).field("level"))?;
    let zoom: Option<u8> = parse_param("zoom", query.zoom.as_deref())?;
    if zoom.is_some_and(|z| z > 22) {
        return Err(ApiError::new(ErrorCode::InvalidParameter, "zoom must be 0–22").field("zoom"));
    }
    Ok(Json(
        export::divisions_geojson(&state.store, level, zoom).await?,
    ))
}
