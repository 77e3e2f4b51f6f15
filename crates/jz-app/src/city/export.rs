//! GeoJSON layers of the city model, for export and for the map (simplified per zoom level).
//!
//! Every feature carries `generated`, so generated boundaries are marked wherever they appear.

use geo::Simplify;
use jz_domain::division::DivisionLevel;
use jz_store::{Store, StoreError};
use serde_json::{Value, json};

use super::store::{geometry_to_json, load_divisions_at, load_grids};

/// The simplification tolerance, in degrees, that keeps a layer visually exact at a web-map
/// zoom level (about half a pixel of a 256-pixel tile).
pub fn tolerance_for_zoom(zoom: u8) -> f64 {
    360.0 / (256.0 * f64::from(1u32 << zoom.min(24))) / 2.0
}

/// A level's divisions as a FeatureCollection; simplified when `zoom` is given.
pub async fn divisions_geojson(
    store: &Store,
    level: DivisionLevel,
    zoom: Option<u8>,
) -> Result<Value, StoreError> {
    let divisions = load_divisions_at(store, Some(level)).await?;
    let features: Vec<Value> = divisions
        .iter()
        .map(|d| {
            let geometry = d.polygon.as_ref().map(|polygon| {
                let shown = match zoom {
                    Some(zoom) => polygon.simplify(tolerance_for_zoom(zoom)),
                    None => polygon.clone(),
                };
                serde_json::from_str::<Value>(&geometry_to_json(&shown))
                    .expect("our own GeoJSON parses")
            });
            json!({
                "type": "Feature",
                "id": d.code.as_str(),
                "properties": {
                    "code": d.code.as_str(),
                    "name": d.name,
                    "level": d.level.as_str(),
                    "parent_code": d.parent.map(|p| p.to_string()),
                    "generated": d.generated,
                    "area_m2": d.polygon.as_ref().map(jz_geo::measure::area_m2),
                },
                "geometry": geometry,
            })
        })
        .collect();
    Ok(json!({ "type": "FeatureCollection", "features": features }))
}

/// Every unit grid as a FeatureCollection.
pub async fn grids_geojson(store: &Store) -> Result<Value, StoreError> {
    let grids = load_grids(store).await?;
    let features: Vec<Value> = grids
        .iter()
        .map(|g| {
            json!({
                "type": "Feature",
                "id": g.code.as_str(),
                "properties": {
                    "code": g.code.as_str(),
                    "community_code": g.code.community().to_string(),
                    "level": "grid",
                    "generated": g.generated,
                    "area_m2": g.area_m2,
                },
                "geometry": serde_json::from_str::<Value>(&geometry_to_json(&g.polygon)).expect("our own GeoJSON parses"),
            })
        })
        .collect();
    Ok(json!({ "type": "FeatureCollection", "features": features }))
}

/// The most grids one bounding-box layer request returns.
pub const MAX_GRID_FEATURES: i64 = 20_000;

/// The unit grids whose bounding boxes meet `bbox` (min lon, min lat, max lon, max lat), or
/// `None` when more than [`MAX_GRID_FEATURES`] would be returned (the caller asks for less).
pub async fn grids_in_bbox(store: &Store, bbox: [f64; 4]) -> Result<Option<Value>, StoreError> {
    let [x0, y0, x1, y1] = bbox;
    let rows = sqlx::query(
        "SELECT code, geometry, min_lon, min_lat, max_lon, max_lat, area_m2, generated FROM grid
         WHERE max_lon >= $1 AND min_lon <= $3 AND max_lat >= $2 AND min_lat <= $4 LIMIT $5",
    )
    .bind(x0)
    .bind(y0)
    .bind(x1)
    .bind(y1)
    .bind(MAX_GRID_FEATURES + 1)
    .fetch_all(store.reader())
    .await?;
    if rows.len() as i64 > MAX_GRID_FEATURES {
        return Ok(None);
    }
    let mut features = Vec::with_capacity(rows.len());
    for row in rows {
        use sqlx::Row;
        let code: String = row.try_get(0)?;
        let geometry: Option<String> = row.try_get(1)?;
        let geometry: Value = match geometry {
            Some(text) => serde_json::from_str(&text).unwrap_or(Value::Null),
            None => {
                let (a, b, c, d): (f64, f64, f64, f64) = (
                    row.try_get(2)?,
                    row.try_get(3)?,
                    row.try_get(4)?,
                    row.try_get(5)?,
                );
                json!({"type": "Polygon", "coordinates": [[[a, b], [c, b], [c, d], [a, d], [a, b]]]})
            }
        };
        features.push(json!({
            "type": "Feature",
            "id": code,
            "properties": {
                "code": code,
                "community_code": &code[..12.min(code.len())],
                "level": "grid",
                "generated": row.try_get::<i64, _>(7)? != 0,
                "area_m2": row.try_get::<f64, _>(6)?,
            },
            "geometry": geometry,
        }));
    }
    Ok(Some(
        json!({ "type": "FeatureCollection", "features": features }),
    ))
}
