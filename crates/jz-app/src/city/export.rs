//! GeoJSON layers of the city model, for export and for the map (simplified per zoom level).
//!
//! Every feature carries `generated`, so generated boundaries are marked wherever they appear.

use geo::Simplify;
use jz_domain::division::DivisionLevel;
use jz_store::{Store, StoreError};
use serde_json::{Value, json};

use super::store::{geometry_to_json, load_divisions, load_grids};

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
    let divisions = load_divisions(store).await?;
    let features: Vec<Value> = divisions
        .iter()
        .filter(|d| d.level == level)
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
