//! Reading and writing the city model: divisions and unit grids, in one transaction.

use std::fmt::Write as _;

use geo::BoundingRect;
use geo_types::{MultiPolygon, Point};
use jz_domain::audit::AuditRecord;
use jz_domain::division::{DivisionCode, DivisionLevel, GridCode};
use jz_store::{Change, Committed, OutboxMessage, Statement, Store, StoreError};
use sqlx::Row;

use super::plan::{ImportPlan, PlannedDivision};
use super::source::geometry_from_json;

/// The outbox topic written whenever boundaries or zones change: running servers rebuild their
/// in-memory model when it is delivered, whichever process made the change.
pub const CITY_MODEL_CHANGED: &str = "city_model.changed";

/// Grid rows per INSERT statement (14 parameters each, well under both engines' limits).
const GRID_ROWS_PER_INSERT: usize = 200;

/// `INSERT INTO grid … VALUES (…), (…), …` for `rows` rows.
fn grid_insert_sql(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO grid (code, community_code, seq, generated, geometry, area_m2, centroid_lon, centroid_lat, min_lon, min_lat, max_lon, max_lat, cell_size_m, neighbours, datum) VALUES ",
    );
    for row in 0..rows {
        let first = row * 14;
        if row > 0 {
            sql.push(',');
        }
        sql.push('(');
        for column in 1..=14 {
            let _ = write!(sql, "${},", first + column);
        }
        sql.push_str("'wgs84')");
    }
    sql
}

/// Encodes a geometry as compact GeoJSON geometry text (7 decimals: about 1 cm).
pub fn geometry_to_json(polygon: &MultiPolygon<f64>) -> String {
    let mut out = String::with_capacity(
        64 + polygon
            .0
            .iter()
            .map(|p| p.exterior().0.len() * 26)
            .sum::<usize>(),
    );
    out.push_str("{\"type\":\"MultiPolygon\",\"coordinates\":[");
    for (p, part) in polygon.0.iter().enumerate() {
        out.push_str(if p == 0 { "[" } else { ",[" });
        for (r, ring) in std::iter::once(part.exterior())
            .chain(part.interiors())
            .enumerate()
        {
            out.push_str(if r == 0 { "[" } else { ",[" });
            for (c, coord) in ring.0.iter().enumerate() {
                if c > 0 {
                    out.push(',');
                }
                let _ = write!(out, "[{},{}]", trim(coord.x), trim(coord.y));
            }
            out.push(']');
        }
        out.push(']');
    }
    out.push_str("]}");
    out
}

fn trim(value: f64) -> String {
    let text = format!("{value:.7}");
    let text = text.trim_end_matches('0');
    text.trim_end_matches('.').to_owned()
}

/// The change that writes a planned tree: divisions upserted parents first, grids replaced,
/// one audit entry summarising the import.
pub fn import_change(
    plan: &ImportPlan,
    actor: &str,
    origin: &str,
    at_us: i64,
    summary: serde_json::Value,
) -> Change {
    let mut change = Change::new();
    for division in &plan.divisions {
        let (geometry, area, centroid, bbox) = match &division.polygon {
            Some(polygon) => (
                Some(geometry_to_json(polygon)),
                Some(jz_geo::measure::area_m2(polygon)),
                super::plan::centroid(polygon),
                polygon.bounding_rect(),
            ),
            None => (None, None, None, None),
        };
        change = change.statement(
            Statement::new(
                "INSERT INTO division (code, name, level, parent_code, generated, weight, geometry, area_m2, centroid_lon, centroid_lat, min_lon, min_lat, max_lon, max_lat, datum, source)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 'wgs84', $15)
                 ON CONFLICT (code) DO UPDATE SET name = excluded.name, level = excluded.level, parent_code = excluded.parent_code,
                   generated = excluded.generated, weight = excluded.weight, geometry = excluded.geometry, area_m2 = excluded.area_m2,
                   centroid_lon = excluded.centroid_lon, centroid_lat = excluded.centroid_lat, min_lon = excluded.min_lon,
                   min_lat = excluded.min_lat, max_lon = excluded.max_lon, max_lat = excluded.max_lat, datum = excluded.datum, source = excluded.source",
            )
            .bind(division.code.as_str())
            .bind(division.name.clone())
            .bind(division.level.as_str())
            .bind(division.parent.map(|p| p.to_string()))
            .bind(division.generated)
            .bind(division.weight)
            .bind(geometry)
            .bind(area)
            .bind(centroid.map(|c| c.x()))
            .bind(centroid.map(|c| c.y()))
            .bind(bbox.map(|b| b.min().x))
            .bind(bbox.map(|b| b.min().y))
            .bind(bbox.map(|b| b.max().x))
            .bind(bbox.map(|b| b.max().y))
            .bind(division.source.clone()),
        );
    }
    change = change.statement(Statement::new("DELETE FROM grid"));
    // Many rows per INSERT: one round trip per chunk on PostgreSQL, one cached statement for
    // every full chunk on SQLite.
    for chunk in plan.grids.chunks(GRID_ROWS_PER_INSERT) {
        let mut statement = Statement::new(grid_insert_sql(chunk.len()));
        for grid in chunk {
            let bbox = grid
                .polygon
                .bounding_rect()
                .unwrap_or_else(|| geo_types::Rect::new(grid.centroid.0, grid.centroid.0));
            let neighbours: Vec<&str> = grid.neighbours.iter().map(GridCode::as_str).collect();
            statement = statement
                .bind(grid.code.as_str())
                .bind(grid.code.community().to_string())
                .bind(i64::from(grid.code.seq()))
                .bind(grid.generated)
                .bind((!grid.rectangle).then(|| geometry_to_json(&grid.polygon)))
                .bind(grid.area_m2)
                .bind(grid.centroid.x())
                .bind(grid.centroid.y())
                .bind(bbox.min().x)
                .bind(bbox.min().y)
                .bind(bbox.max().x)
                .bind(bbox.max().y)
                .bind(grid.cell_size_m)
                .bind(neighbours.join(","));
        }
        change = change.statement(statement);
    }
    change
        .outbox(OutboxMessage {
            topic: CITY_MODEL_CHANGED.into(),
            payload: summary.to_string(),
            due_at_us: at_us,
        })
        .audit(AuditRecord {
            at_us,
            actor: actor.to_owned(),
            actor_role: "administrator".into(),
            action: "division.import".into(),
            subject_kind: "city_model".into(),
            subject_id: plan
                .divisions
                .iter()
                .find(|d| d.level == DivisionLevel::City)
                .map_or_else(|| "city".to_owned(), |d| d.code.to_string()),
            origin: origin.to_owned(),
            before: None,
            after: Some(summary.to_string()),
        })
}

/// Writes a plan in one transaction.
pub async fn write_plan(
    store: &Store,
    plan: &ImportPlan,
    actor: &str,
    origin: &str,
    at_us: i64,
    summary: serde_json::Value,
) -> Result<Committed, StoreError> {
    store
        .write(import_change(plan, actor, origin, at_us, summary))
        .await
}

/// The stored division tree (with polygons), parents first.
pub async fn load_divisions(store: &Store) -> Result<Vec<PlannedDivision>, StoreError> {
    load_divisions_at(store, None).await
}

/// The stored divisions of one level (all levels with `None`), parents first; only the rows
/// asked for are read and their polygons parsed.
pub async fn load_divisions_at(
    store: &Store,
    level: Option<DivisionLevel>,
) -> Result<Vec<PlannedDivision>, StoreError> {
    let query = sqlx::query(
        "SELECT code, name, level, parent_code, generated, weight, geometry, source FROM division
         WHERE $1 = '' OR level = $1
         ORDER BY CASE level WHEN 'city' THEN 0 WHEN 'district' THEN 1 WHEN 'street' THEN 2 ELSE 3 END, code",
    )
    .bind(level.map_or("", DivisionLevel::as_str));
    let rows = query.fetch_all(store.reader()).await?;
    let mut divisions = Vec::with_capacity(rows.len());
    for row in rows {
        let code: String = row.try_get(0)?;
        let level: String = row.try_get(2)?;
        let parent: Option<String> = row.try_get(3)?;
        let geometry: Option<String> = row.try_get(6)?;
        let corrupt = |what: &str| {
            StoreError::Database(format!("stored division {code} has an invalid {what}").into())
        };
        divisions.push(PlannedDivision {
            code: DivisionCode::parse(&code).map_err(|_| corrupt("code"))?,
            name: row.try_get(1)?,
            level: level.parse().map_err(|_| corrupt("level"))?,
            parent: parent
                .map(|p| DivisionCode::parse(&p))
                .transpose()
                .map_err(|_| corrupt("parent code"))?,
            generated: row.try_get::<i64, _>(4)? != 0,
            weight: row.try_get(5)?,
            polygon: geometry.as_deref().and_then(geometry_from_json),
            source: row.try_get(7)?,
        });
    }
    Ok(divisions)
}

/// A stored unit grid, as the in-memory index needs it.
#[derive(Debug, Clone)]
pub struct StoredGrid {
    pub code: GridCode,
    pub polygon: MultiPolygon<f64>,
    pub centroid: Point<f64>,
    pub area_m2: f64,
    pub generated: bool,
}

/// A grid stored without geometry is exactly its bounding box (min lon, min lat, max lon, max lat).
fn bbox_polygon([x0, y0, x1, y1]: [f64; 4]) -> MultiPolygon<f64> {
    MultiPolygon(vec![geo_types::Rect::new((x0, y0), (x1, y1)).to_polygon()])
}

/// A stored grid's shape: its geometry text, or its bounding box when it has none.
fn grid_shape(geometry: Option<&str>, bbox: [f64; 4]) -> Option<MultiPolygon<f64>> {
    match geometry {
        Some(text) => geometry_from_json(text),
        None => Some(bbox_polygon(bbox)),
    }
}

/// Every stored unit grid's code and shape: all the in-memory index needs (fewer columns read
/// makes start-up faster with hundreds of thousands of grids).
pub async fn load_grid_shapes(
    store: &Store,
) -> Result<Vec<(GridCode, MultiPolygon<f64>)>, StoreError> {
    use jz_store::Arg;
    let rows = store
        .read_all("SELECT code, geometry, min_lon, min_lat, max_lon, max_lat FROM grid")
        .await?;
    let mut shapes = Vec::with_capacity(rows.len());
    for row in rows {
        let corrupt = || StoreError::Database(format!("a stored grid is invalid: {row:?}").into());
        let real = |cell: &Arg| match cell {
            Arg::Real(Some(value)) => Some(*value),
            Arg::Int(Some(value)) => Some(*value as f64),
            _ => None,
        };
        let [Arg::Text(Some(code)), geometry, x0, y0, x1, y1] = &row[..] else {
            return Err(corrupt());
        };
        let (Some(x0), Some(y0), Some(x1), Some(y1)) = (real(x0), real(y0), real(x1), real(y1))
        else {
            return Err(corrupt());
        };
        let geometry = match geometry {
            Arg::Text(text) => text.as_deref(),
            _ => None,
        };
        let polygon = grid_shape(geometry, [x0, y0, x1, y1]).ok_or_else(corrupt)?;
        shapes.push((GridCode::parse(code).map_err(|_| corrupt())?, polygon));
    }
    Ok(shapes)
}

/// Every stored unit grid.
pub async fn load_grids(store: &Store) -> Result<Vec<StoredGrid>, StoreError> {
    let rows = sqlx::query(
        "SELECT code, geometry, min_lon, min_lat, max_lon, max_lat, centroid_lon, centroid_lat, area_m2, generated FROM grid ORDER BY code",
    )
    .fetch_all(store.reader())
    .await?;
    let mut grids = Vec::with_capacity(rows.len());
    for row in rows {
        let code: String = row.try_get(0)?;
        let geometry: Option<String> = row.try_get(1)?;
        let bbox = [
            row.try_get(2)?,
            row.try_get(3)?,
            row.try_get(4)?,
            row.try_get(5)?,
        ];
        let polygon = grid_shape(geometry.as_deref(), bbox);
        let corrupt = || StoreError::Database(format!("stored grid {code} is invalid").into());
        grids.push(StoredGrid {
            code: GridCode::parse(&code).map_err(|_| corrupt())?,
            polygon: polygon.ok_or_else(corrupt)?,
            centroid: Point::new(row.try_get(6)?, row.try_get(7)?),
            area_m2: row.try_get(8)?,
            generated: row.try_get::<i64, _>(9)? != 0,
        });
    }
    Ok(grids)
}

/// One division as the API shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DivisionView {
    pub code: String,
    pub name: String,
    pub level: String,
    pub parent_code: Option<String>,
    pub generated: bool,
    pub area_m2: Option<f64>,
    pub centroid: Option<[f64; 2]>,
    pub children: Vec<String>,
    pub grid_count: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub geometry: Option<serde_json::Value>,
}

/// A division by code, with its children's codes; `None` when unknown.
pub async fn division_view(
    store: &Store,
    code: &DivisionCode,
    with_geometry: bool,
) -> Result<Option<DivisionView>, StoreError> {
    let Some(row) = sqlx::query(
        "SELECT code, name, level, parent_code, generated, area_m2, centroid_lon, centroid_lat, geometry FROM division WHERE code = $1",
    )
    .bind(code.to_string())
    .fetch_optional(store.reader())
    .await?
    else {
        return Ok(None);
    };
    let children: Vec<String> =
        sqlx::query("SELECT code FROM division WHERE parent_code = $1 ORDER BY code")
            .bind(code.to_string())
            .fetch_all(store.reader())
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
    let grid_count: i64 = sqlx::query("SELECT COUNT(*) FROM grid WHERE community_code = $1")
        .bind(code.to_string())
        .fetch_one(store.reader())
        .await?
        .try_get(0)?;
    let lon: Option<f64> = row.try_get(6)?;
    let lat: Option<f64> = row.try_get(7)?;
    let geometry: Option<String> = row.try_get(8)?;
    Ok(Some(DivisionView {
        code: row.try_get(0)?,
        name: row.try_get(1)?,
        level: row.try_get(2)?,
        parent_code: row.try_get(3)?,
        generated: row.try_get::<i64, _>(4)? != 0,
        area_m2: row.try_get(5)?,
        centroid: lon.zip(lat).map(|(x, y)| [x, y]),
        children,
        grid_count,
        geometry: if with_geometry {
            geometry.and_then(|g| serde_json::from_str(&g).ok())
        } else {
            None
        },
    }))
}

/// One unit grid as the API shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GridView {
    pub code: String,
    pub community_code: String,
    pub seq: i64,
    pub generated: bool,
    pub area_m2: f64,
    pub centroid: [f64; 2],
    pub cell_size_m: f64,
    pub neighbours: Vec<String>,
    pub geometry: serde_json::Value,
}

pub async fn grid_view(store: &Store, code: &GridCode) -> Result<Option<GridView>, StoreError> {
    let Some(row) = sqlx::query(
        "SELECT code, community_code, seq, generated, area_m2, centroid_lon, centroid_lat, cell_size_m, neighbours, geometry, min_lon, min_lat, max_lon, max_lat
         FROM grid WHERE code = $1",
    )
    .bind(code.to_string())
    .fetch_optional(store.reader())
    .await?
    else {
        return Ok(None);
    };
    let neighbours: String = row.try_get(8)?;
    let geometry: Option<String> = row.try_get(9)?;
    let bbox = [
        row.try_get(10)?,
        row.try_get(11)?,
        row.try_get(12)?,
        row.try_get(13)?,
    ];
    // A corrupt geometry text still shows the cell's extent.
    let polygon = grid_shape(geometry.as_deref(), bbox).unwrap_or_else(|| bbox_polygon(bbox));
    Ok(Some(GridView {
        code: row.try_get(0)?,
        community_code: row.try_get(1)?,
        seq: row.try_get(2)?,
        generated: row.try_get::<i64, _>(3)? != 0,
        area_m2: row.try_get(4)?,
        centroid: [row.try_get(5)?, row.try_get(6)?],
        cell_size_m: row.try_get(7)?,
        neighbours: neighbours
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        geometry: serde_json::from_str(&geometry_to_json(&polygon))
            .expect("our own GeoJSON parses"),
    }))
}

/// A node of the division tree.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TreeNode {
    pub code: String,
    pub name: String,
    pub level: String,
    pub generated: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<TreeNode>,
}

/// The division tree (without polygons), from its roots down to `depth` levels.
pub async fn division_tree(store: &Store, depth: usize) -> Result<Vec<TreeNode>, StoreError> {
    let rows =
        sqlx::query("SELECT code, name, level, parent_code, generated FROM division ORDER BY code")
            .fetch_all(store.reader())
            .await?;
    let mut nodes: Vec<(Option<String>, TreeNode)> = Vec::with_capacity(rows.len());
    for row in rows {
        nodes.push((
            row.try_get(3)?,
            TreeNode {
                code: row.try_get(0)?,
                name: row.try_get(1)?,
                level: row.try_get(2)?,
                generated: row.try_get::<i64, _>(4)? != 0,
                children: Vec::new(),
            },
        ));
    }
    let mut children: std::collections::HashMap<String, Vec<TreeNode>> =
        std::collections::HashMap::new();
    let mut roots = Vec::new();
    for (parent, node) in nodes {
        match parent {
            Some(parent) => children.entry(parent).or_default().push(node),
            None => roots.push(node),
        }
    }
    fn attach(
        node: &mut TreeNode,
        children: &mut std::collections::HashMap<String, Vec<TreeNode>>,
        depth: usize,
    ) {
        if depth == 0 {
            return;
        }
        if let Some(mut kids) = children.remove(&node.code) {
            for kid in &mut kids {
                attach(kid, children, depth - 1);
            }
            node.children = kids;
        }
    }
    for root in &mut roots {
        attach(root, &mut children, depth);
    }
    Ok(roots)
}
