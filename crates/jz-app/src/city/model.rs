//! The in-memory city model: every division and unit grid, indexed for precise location.
//!
//! Built from the store on start and rebuilt whenever boundaries change; lookups never touch
//! the database. A point is converted to WGS-84 on arrival (its datum is kept with the answer),
//! placed on its unit grid, and walked up to community, street, district and city. A point
//! outside the city is an error naming the nearest division and the distance to it — never a
//! silent wrong grid.

use std::collections::HashMap;

use geo_types::{Coord, MultiPolygon, Point};
use jz_domain::division::{DivisionCode, DivisionLevel, GridCode};
use jz_geo::datum::Datum;
use jz_geo::index::PolygonIndex;

use super::plan::PlannedDivision;

/// What the model keeps of a division.
#[derive(Debug, Clone, PartialEq)]
pub struct DivisionEntry {
    pub code: DivisionCode,
    pub name: String,
    pub level: DivisionLevel,
    pub parent: Option<DivisionCode>,
    pub generated: bool,
}

/// A zone, as a located point names it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ZoneRef {
    pub id: String,
    pub name: String,
    pub zone_type: String,
}

/// Where a point lies.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    /// The point as given, and its datum.
    pub input: (f64, f64),
    pub datum: Datum,
    /// The point in WGS-84.
    pub wgs84: (f64, f64),
    /// The unit grid, when the community has grids.
    pub grid: Option<GridCode>,
    /// From the city down to the lowest division containing the point.
    pub path: Vec<DivisionEntry>,
    /// The zones containing the point (by polygon, or by one of their grids).
    pub zones: Vec<ZoneRef>,
}

impl Located {
    pub fn at(&self, level: DivisionLevel) -> Option<&DivisionEntry> {
        self.path.iter().find(|d| d.level == level)
    }
}

/// Why a point could not be located.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LocateError {
    #[error("invalid point: {0}")]
    InvalidPoint(String),
    #[error(
        "the point ({lon}, {lat}) lies outside the city: the nearest division is {name} ({code}), {distance_m:.0} m away"
    )]
    OutsideCity {
        lon: f64,
        lat: f64,
        code: DivisionCode,
        name: String,
        distance_m: f64,
    },
    #[error("no boundaries are loaded; import the city first (jingzhi import …)")]
    NoBoundaries,
}

/// The city, in memory.
#[derive(Debug)]
pub struct CityModel {
    divisions: HashMap<DivisionCode, DivisionEntry>,
    grids: PolygonIndex<GridCode>,
    /// One index per level, for points in divisions without grids and for the nearest division.
    levels: Vec<(DivisionLevel, PolygonIndex<DivisionCode>)>,
    zone_polygons: PolygonIndex<ZoneRef>,
    zone_grids: HashMap<GridCode, Vec<ZoneRef>>,
}

impl CityModel {
    pub fn build(
        divisions: &[PlannedDivision],
        grids: Vec<(GridCode, MultiPolygon<f64>)>,
        zones: &[crate::zones::ZoneView],
    ) -> CityModel {
        let entries = divisions
            .iter()
            .map(|d| {
                (
                    d.code,
                    DivisionEntry {
                        code: d.code,
                        name: d.name.clone(),
                        level: d.level,
                        parent: d.parent,
                        generated: d.generated,
                    },
                )
            })
            .collect();
        let levels = DivisionLevel::ALL
            .iter()
            .rev()
            .map(|level| {
                let polygons: Vec<(DivisionCode, MultiPolygon<f64>)> = divisions
                    .iter()
                    .filter(|d| d.level == *level)
                    .filter_map(|d| d.polygon.clone().map(|p| (d.code, p)))
                    .collect();
                (*level, PolygonIndex::new(polygons))
            })
            .collect();
        let grids = PolygonIndex::new(grids);
        let reference = |z: &crate::zones::ZoneView| ZoneRef {
            id: z.id.clone(),
            name: z.name.clone(),
            zone_type: z.zone_type.clone(),
        };
        let zone_polygons = PolygonIndex::new(
            zones
                .iter()
                .filter_map(|z| {
                    let geometry = z.geometry.as_ref()?;
                    Some((
                        reference(z),
                        super::source::geometry_from_json(&geometry.to_string())?,
                    ))
                })
                .collect(),
        );
        let mut zone_grids: HashMap<GridCode, Vec<ZoneRef>> = HashMap::new();
        for zone in zones {
            for code in zone.grid_codes.iter().flatten() {
                if let Ok(code) = GridCode::parse(code) {
                    zone_grids.entry(code).or_default().push(reference(zone));
                }
            }
        }
        CityModel {
            divisions: entries,
            grids,
            levels,
            zone_polygons,
            zone_grids,
        }
    }

    pub fn division_count(&self) -> usize {
        self.divisions.len()
    }

    pub fn grid_count(&self) -> usize {
        self.grids.len()
    }

    /// Every division of a level, by code.
    pub fn divisions_at(&self, level: DivisionLevel) -> Vec<&DivisionEntry> {
        let mut found: Vec<&DivisionEntry> = self
            .divisions
            .values()
            .filter(|d| d.level == level)
            .collect();
        found.sort_by(|a, b| a.code.as_str().cmp(b.code.as_str()));
        found
    }

    /// The city division (the root of the tree), when a city is imported.
    pub fn city(&self) -> Option<&DivisionEntry> {
        self.divisions
            .values()
            .find(|d| d.level == DivisionLevel::City)
    }

    pub fn division(&self, code: &DivisionCode) -> Option<&DivisionEntry> {
        self.divisions.get(code)
    }

    /// The division and its ancestors, city first.
    pub fn path(&self, code: &DivisionCode) -> Vec<DivisionEntry> {
        let mut path = Vec::new();
        let mut next = Some(*code);
        while let Some(code) = next {
            let Some(entry) = self.divisions.get(&code) else {
                break;
            };
            path.push(entry.clone());
            next = entry.parent;
            if path.len() > 8 {
                break;
            }
        }
        path.reverse();
        path
    }

    /// Locates a point given in `datum`.
    pub fn locate(&self, lon: f64, lat: f64, datum: Datum) -> Result<Located, LocateError> {
        jz_geo::datum::Wgs84Point::new(lon, lat)
            .map_err(|e| LocateError::InvalidPoint(e.to_string()))?;
        let (x, y) = jz_geo::datum::to_wgs84(lon, lat, datum);
        let point = Coord { x, y };
        let located = |grid: Option<GridCode>, lowest: DivisionCode| {
            let mut zones: Vec<ZoneRef> = self
                .zone_polygons
                .locate_all(point)
                .into_iter()
                .cloned()
                .collect();
            if let Some(by_grid) = grid.as_ref().and_then(|g| self.zone_grids.get(g)) {
                zones.extend(
                    by_grid
                        .iter()
                        .filter(|z| !zones.contains(z))
                        .cloned()
                        .collect::<Vec<_>>(),
                );
            }
            Located {
                input: (lon, lat),
                datum,
                wgs84: (x, y),
                grid,
                path: self.path(&lowest),
                zones,
            }
        };
        if let Some(grid) = self.grids.locate(point) {
            return Ok(located(Some(*grid), grid.community()));
        }
        for (_, index) in &self.levels {
            if let Some(code) = index.locate(point) {
                return Ok(located(None, *code));
            }
        }
        // Outside every division: name the nearest district (or, without districts, the
        // nearest division of any level that has boundaries).
        let by_preference = self
            .levels
            .iter()
            .filter(|(level, _)| *level == DivisionLevel::District)
            .chain(self.levels.iter().rev());
        for (_, index) in by_preference {
            if let Some((code, distance_m)) = index.nearest(point) {
                let name = self
                    .divisions
                    .get(code)
                    .map(|d| d.name.clone())
                    .unwrap_or_default();
                return Err(LocateError::OutsideCity {
                    lon,
                    lat,
                    code: *code,
                    name,
                    distance_m,
                });
            }
        }
        Err(LocateError::NoBoundaries)
    }

    /// Locates many points; each answer stands alone.
    pub fn locate_batch(&self, points: &[(f64, f64, Datum)]) -> Vec<Result<Located, LocateError>> {
        points
            .iter()
            .map(|(lon, lat, datum)| self.locate(*lon, *lat, *datum))
            .collect()
    }

    /// The unit grid containing a WGS-84 point, for hot paths that need only the grid.
    pub fn grid_at(&self, point: Point<f64>) -> Option<GridCode> {
        self.grids.locate(point.0).copied()
    }
}
