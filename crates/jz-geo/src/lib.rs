//! Pure geometry for Jingzhi: datums, measurement, boundary checks and repair, generated
//! partitions of divisions, unit grids, and a point-to-polygon index.
//!
//! All coordinates are WGS-84 (lon, lat) degrees held as geo-types `Coord { x: lon, y: lat }`.
//! Nothing here performs I/O, reads a clock or draws randomness: generated layouts take their
//! seed as a parameter, so every result is a function of the arguments.

pub mod datum;
pub mod grid;
pub mod index;
pub mod measure;
pub mod partition;
mod split;
pub mod validate;

pub use datum::{
    Datum, PointError, UnknownDatum, Wgs84Point, bd09_to_gcj02, from_wgs84, gcj02_to_bd09,
    gcj02_to_wgs84, to_wgs84, wgs84_to_gcj02,
};
pub use grid::{GridCell, GridOptions, grid_cells, neighbours};
pub use index::PolygonIndex;
pub use measure::{area_m2, distance_m, distance_to_polygon_m};
pub use partition::partition;
pub use validate::{
    PolygonProblem, Ring, covers_within, outside_area_m2, overlap_area_m2, polygon_problems, repair,
};
