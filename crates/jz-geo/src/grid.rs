//! Unit grids (单元网格): a community divided into roughly square cells on a fixed global
//! lattice, numbered from the north-west, and the adjacency of cells or any other polygons.
//!
//! The lattice has its origin at (lon 0, lat 0). Its spacing in degrees turns the cell side in
//! metres into degrees on the WGS-84 ellipsoid at a reference latitude, by default the
//! community's centre latitude rounded to a whole degree, so that regenerating a grid from the
//! same inputs gives identical cells and communities in the same band share lattice lines.
//! Cells are cut from the community with the exact axis-parallel cuts of the `split` module, so
//! neighbouring cells share identical edge coordinates and cell areas add up to the community's.

use geo::{BooleanOps, Centroid};
use geo_types::{Coord, LineString, MultiPolygon, Point, Polygon};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};

use crate::measure::{WGS84_A, WGS84_E2};
use crate::split::{Axis, Shape, planar_ring_area, split};

/// How a community is divided into unit grid cells.
#[derive(Debug, Clone, PartialEq)]
pub struct GridOptions {
    /// The wanted area of one cell in square metres; the cell side starts at its square root
    /// (100 m for the default 10,000 m²).
    pub target_cell_area_m2: f64,
    /// The most cells one community may have (the 3-digit sequence number allows 999); the
    /// cell side grows in whole multiples of the starting side until the count fits.
    pub max_cells: usize,
    /// The latitude, in degrees, at which the cell side in metres is turned into degrees. `None`
    /// takes the community's bounding-box centre latitude rounded to a whole degree; pass a
    /// city-wide value so that grids of all communities share one lattice.
    pub reference_lat_deg: Option<f64>,
    /// Cell pieces smaller than this, in square metres, are merged into the neighbouring cell
    /// with which they share the longest edge (kept as they are when they share none).
    pub sliver_area_m2: f64,
}

impl Default for GridOptions {
    fn default() -> Self {
        GridOptions {
            target_cell_area_m2: 10_000.0,
            max_cells: 999,
            reference_lat_deg: None,
            sliver_area_m2: 1.0,
        }
    }
}

/// One unit grid cell of a community.
#[derive(Debug, Clone, PartialEq)]
pub struct GridCell {
    /// Sequence number 1..=n: rows from north to south, west to east within a row.
    pub seq: u32,
    /// The cell: its lattice square clipped to the community (plus any merged slivers).
    pub polygon: MultiPolygon<f64>,
    /// Ellipsoidal area in square metres, as [`crate::area_m2`] measures it.
    pub area_m2: f64,
    /// Planar centroid of the cell in (lon, lat).
    pub centroid: Point<f64>,
    /// The lattice spacing used for this community, in metres.
    pub cell_size_m: f64,
    /// Whether the cell is its full lattice square: exactly four corners and the closing point.
    pub rectangle: bool,
    /// Global lattice column (west to east) of the cell's square.
    pub column: i64,
    /// Global lattice row (south to north) of the cell's square.
    pub row: i64,
}

/// The lattice spacing in degrees of longitude and latitude for a side of `side_m` metres.
fn lattice_step(side_m: f64, reference_lat_deg: f64) -> (f64, f64) {
    let phi = reference_lat_deg.clamp(-85.0, 85.0).to_radians();
    let w = 1.0 - WGS84_E2 * phi.sin().powi(2);
    let meridional = WGS84_A * (1.0 - WGS84_E2) / w.powf(1.5);
    let prime_vertical = WGS84_A / w.sqrt();
    let per_deg_lat = meridional.to_radians();
    let per_deg_lon = (prime_vertical * phi.cos()).to_radians();
    (side_m / per_deg_lon, side_m / per_deg_lat)
}

/// Cuts `shape` into slabs between consecutive lattice lines `k * step` across `axis`,
/// returning `(k, slab)` for the non-empty slabs in increasing `k`.
fn slabs(shape: Shape, axis: Axis, step: f64, min_u: f64, max_u: f64) -> Vec<(i64, Shape)> {
    let first = (min_u / step).floor() as i64;
    let last = (max_u / step).floor() as i64;
    let mut out = Vec::new();
    let mut rest = shape;
    for k in first..last {
        let (low, high) = split(&rest, axis, (k + 1) as f64 * step);
        if !low.is_empty() {
            out.push((k, low));
        }
        rest = high;
        if rest.is_empty() {
            break;
        }
    }
    if !rest.is_empty() {
        out.push((last, rest));
    }
    out
}

struct RawCell {
    column: i64,
    row: i64,
    shape: Shape,
    rectangle: bool,
    area_m2: f64,
}

/// Cuts a shape into the cells of one lattice; slivers not yet merged.
fn lattice_cells(shape: &Shape, dlon: f64, dlat: f64) -> Vec<RawCell> {
    let Some(bbox) = shape.bbox() else {
        return Vec::new();
    };
    let mut cells = Vec::new();
    for (row, strip) in slabs(shape.clone(), Axis::Lat, dlat, bbox[1], bbox[3]) {
        let Some(strip_bbox) = strip.bbox() else {
            continue;
        };
        for (column, piece) in slabs(strip, Axis::Lon, dlon, strip_bbox[0], strip_bbox[2]) {
            let (x0, x1) = (column as f64 * dlon, (column + 1) as f64 * dlon);
            let (y0, y1) = (row as f64 * dlat, (row + 1) as f64 * dlat);
            let rectangle = fills_square(&piece, x0, y0, x1, y1);
            let shape = if rectangle {
                let corners = vec![
                    Coord { x: x0, y: y0 },
                    Coord { x: x1, y: y0 },
                    Coord { x: x1, y: y1 },
                    Coord { x: x0, y: y1 },
                ];
                Shape {
                    polys: vec![crate::split::Poly {
                        rings: vec![corners],
                    }],
                }
            } else {
                piece
            };
            let area_m2 = shape.area_m2();
            cells.push(RawCell {
                column,
                row,
                shape,
                rectangle,
                area_m2,
            });
        }
    }
    cells
}

/// Whether a clipped piece is its whole lattice square.
fn fills_square(piece: &Shape, x0: f64, y0: f64, x1: f64, y1: f64) -> bool {
    let [poly] = piece.polys.as_slice() else {
        return false;
    };
    if poly.rings.len() != 1 {
        return false;
    }
    let ring = &poly.rings[0];
    let on_edge = ring
        .iter()
        .all(|p| p.x == x0 || p.x == x1 || p.y == y0 || p.y == y1);
    let square = (x1 - x0) * (y1 - y0);
    on_edge && planar_ring_area(ring) >= square * (1.0 - 1e-9)
}

/// Length in degrees of a piece's boundary lying on the line `u = c`; the tolerance allows for
/// a cut moved a few units in the last place to clear a vertex.
fn length_on_line(shape: &Shape, axis: Axis, c: f64) -> f64 {
    let on_line = |p: Coord<f64>| (axis.u(p) - c).abs() <= 1e-12;
    let mut total = 0.0;
    for ring in shape.polys.iter().flat_map(|poly| poly.rings.iter()) {
        let n = ring.len();
        for i in 0..n {
            let (a, b) = (ring[i], ring[(i + 1) % n]);
            if on_line(a) && on_line(b) {
                total += ((a.x - b.x).powi(2) + (a.y - b.y).powi(2)).sqrt();
            }
        }
    }
    total
}

/// Merges pieces below the sliver threshold into the neighbouring cell with which they share
/// the longest edge; a sliver sharing no edge with a non-sliver cell stays a cell of its own.
fn merge_slivers(cells: &mut Vec<RawCell>, dlon: f64, dlat: f64, sliver_area_m2: f64) {
    let is_sliver: Vec<bool> = cells.iter().map(|c| c.area_m2 < sliver_area_m2).collect();
    if !is_sliver.iter().any(|&s| s) {
        return;
    }
    let position = |column: i64, row: i64, cells: &[RawCell]| {
        cells
            .binary_search_by(|c| (c.row, c.column).cmp(&(row, column)))
            .ok()
    };
    let mut merged_into: Vec<Option<usize>> = vec![None; cells.len()];
    for i in 0..cells.len() {
        if !is_sliver[i] {
            continue;
        }
        let (column, row) = (cells[i].column, cells[i].row);
        let (x0, x1) = (column as f64 * dlon, (column + 1) as f64 * dlon);
        let (y0, y1) = (row as f64 * dlat, (row + 1) as f64 * dlat);
        let candidates = [
            (column - 1, row, Axis::Lon, x0),
            (column + 1, row, Axis::Lon, x1),
            (column, row - 1, Axis::Lat, y0),
            (column, row + 1, Axis::Lat, y1),
        ];
        let mut best: Option<(usize, f64)> = None;
        for (c, r, axis, line) in candidates {
            let Some(j) = position(c, r, cells) else {
                continue;
            };
            if is_sliver[j] {
                continue;
            }
            let shared = length_on_line(&cells[i].shape, axis, line);
            if shared > 0.0 && best.is_none_or(|(_, s)| shared > s) {
                best = Some((j, shared));
            }
        }
        merged_into[i] = best.map(|(j, _)| j);
    }
    for i in 0..cells.len() {
        if let Some(j) = merged_into[i] {
            let sliver = std::mem::take(&mut cells[i].shape);
            let union = cells[j]
                .shape
                .to_multi_polygon()
                .union(&sliver.to_multi_polygon());
            cells[j].shape = Shape::from_multi_polygon(&union);
            cells[j].rectangle = false;
            cells[j].area_m2 = cells[j].shape.area_m2();
        }
    }
    let mut k = 0;
    cells.retain(|_| {
        let keep = merged_into[k].is_none();
        k += 1;
        keep
    });
}

/// Divides a community into unit grid cells; see [`GridOptions`] and the module notes.
///
/// The cell side starts at `sqrt(target_cell_area_m2)` and grows in whole multiples of it
/// until the community has at most `max_cells` cells (at least one is always allowed). Cells
/// wholly inside the community are exact lattice squares (`rectangle = true`); boundary cells
/// are clipped. Pieces below `sliver_area_m2` are merged into a neighbour, so no area is lost:
/// cell areas sum to the community's area to about 1e-9 relative. Cells come sorted by `seq`:
/// rows from north to south, west to east within a row. An empty community has no cells.
pub fn grid_cells(community: &MultiPolygon<f64>, options: &GridOptions) -> Vec<GridCell> {
    let shape = Shape::from_multi_polygon(community);
    let Some(bbox) = shape.bbox() else {
        return Vec::new();
    };
    let base_side = if options.target_cell_area_m2.is_finite() && options.target_cell_area_m2 > 0.0
    {
        options.target_cell_area_m2.sqrt()
    } else {
        100.0
    };
    let max_cells = options.max_cells.max(1);
    let reference_lat = options
        .reference_lat_deg
        .filter(|lat| lat.is_finite())
        .unwrap_or_else(|| ((bbox[1] + bbox[3]) / 2.0).round());
    let area = shape.area_m2();
    // Every cell is at most one lattice square, so fewer multiples than this cannot fit.
    let mut multiple = ((area / (max_cells as f64 * base_side * base_side))
        .sqrt()
        .floor() as u64)
        .max(1);
    loop {
        let side = base_side * multiple as f64;
        let (dlon, dlat) = lattice_step(side, reference_lat);
        let mut cells = lattice_cells(&shape, dlon, dlat);
        merge_slivers(&mut cells, dlon, dlat, options.sliver_area_m2);
        if cells.len() <= max_cells {
            return finish(cells, side);
        }
        // Grow by at least one step, faster when far over the cap.
        let ratio = (cells.len() as f64 / max_cells as f64).sqrt();
        multiple = (multiple + 1).max((multiple as f64 * ratio).floor() as u64);
    }
}

fn finish(mut cells: Vec<RawCell>, side: f64) -> Vec<GridCell> {
    cells.sort_by(|a, b| b.row.cmp(&a.row).then(a.column.cmp(&b.column)));
    cells
        .into_iter()
        .enumerate()
        .map(|(i, cell)| {
            let polygon = if cell.rectangle {
                let ring = &cell.shape.polys[0].rings[0];
                let mut coords = ring.clone();
                coords.push(ring[0]);
                MultiPolygon::new(vec![Polygon::new(LineString::new(coords), vec![])])
            } else {
                cell.shape.to_multi_polygon()
            };
            let centroid = polygon
                .centroid()
                .unwrap_or_else(|| Point::from(polygon.0[0].exterior().0[0]));
            GridCell {
                seq: (i + 1) as u32,
                polygon,
                area_m2: cell.area_m2,
                centroid,
                cell_size_m: side,
                rectangle: cell.rectangle,
                column: cell.column,
                row: cell.row,
            }
        })
        .collect()
}

/// Distance, in degrees, within which two edges count as lying on one line.
pub const NEIGHBOUR_TOLERANCE_DEG: f64 = 1e-9;
/// Shortest shared boundary, in degrees (about 1 mm), that makes two polygons neighbours.
pub const NEIGHBOUR_MIN_SHARED_DEG: f64 = 1e-8;

/// For each polygon, the sorted indices of the polygons that share a stretch of boundary with
/// it: collinear edges (within [`NEIGHBOUR_TOLERANCE_DEG`]) overlapping by more than
/// [`NEIGHBOUR_MIN_SHARED_DEG`]. Polygons that touch only at a corner are not neighbours, so on
/// a square lattice each cell has at most four. Candidates come from an R-tree of bounding boxes.
pub fn neighbours(polygons: &[MultiPolygon<f64>]) -> Vec<Vec<usize>> {
    let boxes: Vec<Option<[f64; 4]>> = polygons.iter().map(bounding_box).collect();
    let tree = RTree::bulk_load(
        boxes
            .iter()
            .enumerate()
            .filter_map(|(i, b)| {
                b.map(|b| {
                    GeomWithData::new(
                        Rectangle::from_corners(
                            [
                                b[0] - NEIGHBOUR_TOLERANCE_DEG,
                                b[1] - NEIGHBOUR_TOLERANCE_DEG,
                            ],
                            [
                                b[2] + NEIGHBOUR_TOLERANCE_DEG,
                                b[3] + NEIGHBOUR_TOLERANCE_DEG,
                            ],
                        ),
                        i,
                    )
                })
            })
            .collect(),
    );
    let mut result: Vec<Vec<usize>> = vec![Vec::new(); polygons.len()];
    for (i, b) in boxes.iter().enumerate() {
        let Some(b) = b else {
            continue;
        };
        let envelope = AABB::from_corners(
            [
                b[0] - NEIGHBOUR_TOLERANCE_DEG,
                b[1] - NEIGHBOUR_TOLERANCE_DEG,
            ],
            [
                b[2] + NEIGHBOUR_TOLERANCE_DEG,
                b[3] + NEIGHBOUR_TOLERANCE_DEG,
            ],
        );
        for candidate in tree.locate_in_envelope_intersecting(&envelope) {
            let j = candidate.data;
            if j <= i {
                continue;
            }
            let Some(other) = boxes[j] else {
                continue;
            };
            let window = [
                b[0].max(other[0]) - NEIGHBOUR_TOLERANCE_DEG,
                b[1].max(other[1]) - NEIGHBOUR_TOLERANCE_DEG,
                b[2].min(other[2]) + NEIGHBOUR_TOLERANCE_DEG,
                b[3].min(other[3]) + NEIGHBOUR_TOLERANCE_DEG,
            ];
            let corner_only = window[2] - window[0]
                <= 2.0 * NEIGHBOUR_TOLERANCE_DEG + NEIGHBOUR_MIN_SHARED_DEG
                && window[3] - window[1]
                    <= 2.0 * NEIGHBOUR_TOLERANCE_DEG + NEIGHBOUR_MIN_SHARED_DEG;
            if !corner_only && share_boundary(&polygons[i], &polygons[j], window) {
                result[i].push(j);
                result[j].push(i);
            }
        }
    }
    for list in &mut result {
        list.sort_unstable();
    }
    result
}

fn bounding_box(multi_polygon: &MultiPolygon<f64>) -> Option<[f64; 4]> {
    let mut bbox: Option<[f64; 4]> = None;
    for c in multi_polygon.0.iter().flat_map(|p| p.exterior().0.iter()) {
        if !(c.x.is_finite() && c.y.is_finite()) {
            continue;
        }
        let b = bbox.get_or_insert([c.x, c.y, c.x, c.y]);
        b[0] = b[0].min(c.x);
        b[1] = b[1].min(c.y);
        b[2] = b[2].max(c.x);
        b[3] = b[3].max(c.y);
    }
    bbox
}

/// The edges of a multipolygon that touch an axis-aligned window.
fn edges_in(multi_polygon: &MultiPolygon<f64>, window: [f64; 4]) -> Vec<(Coord<f64>, Coord<f64>)> {
    let mut edges = Vec::new();
    for polygon in &multi_polygon.0 {
        for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
            for pair in ring.0.windows(2) {
                let (a, b) = (pair[0], pair[1]);
                if a.x.max(b.x) < window[0]
                    || a.x.min(b.x) > window[2]
                    || a.y.max(b.y) < window[1]
                    || a.y.min(b.y) > window[3]
                {
                    continue;
                }
                edges.push((a, b));
            }
        }
    }
    edges
}

fn share_boundary(a: &MultiPolygon<f64>, b: &MultiPolygon<f64>, window: [f64; 4]) -> bool {
    let edges_a = edges_in(a, window);
    if edges_a.is_empty() {
        return false;
    }
    let edges_b = edges_in(b, window);
    edges_a.iter().any(|&(a0, a1)| {
        edges_b
            .iter()
            .any(|&(b0, b1)| collinear_overlap(a0, a1, b0, b1) > NEIGHBOUR_MIN_SHARED_DEG)
    })
}

/// Length of the overlap of two segments that lie on one line (within the tolerance), else 0.
fn collinear_overlap(a0: Coord<f64>, a1: Coord<f64>, b0: Coord<f64>, b1: Coord<f64>) -> f64 {
    let d = a1 - a0;
    let len = (d.x * d.x + d.y * d.y).sqrt();
    if len == 0.0 {
        return 0.0;
    }
    let off = |p: Coord<f64>| {
        let r = p - a0;
        ((d.x * r.y - d.y * r.x) / len, (d.x * r.x + d.y * r.y) / len)
    };
    let (h0, t0) = off(b0);
    let (h1, t1) = off(b1);
    if h0.abs() > NEIGHBOUR_TOLERANCE_DEG || h1.abs() > NEIGHBOUR_TOLERANCE_DEG {
        return 0.0;
    }
    (t0.max(t1).min(len) - t0.min(t1).max(0.0)).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::area_m2;
    use geo_types::polygon;

    /// A community of about 1.2 km by 1.1 km with a slanted north-east edge.
    fn community() -> MultiPolygon<f64> {
        MultiPolygon::new(vec![polygon![
            (x: 121.4003, y: 31.2002),
            (x: 121.4131, y: 31.2004),
            (x: 121.4127, y: 31.2071),
            (x: 121.4072, y: 31.2101),
            (x: 121.4001, y: 31.2098),
        ]])
    }

    #[test]
    fn cells_cover_the_community_exactly() {
        let community = community();
        let cells = grid_cells(&community, &GridOptions::default());
        let total: f64 = cells.iter().map(|c| c.area_m2).sum();
        let expected = area_m2(&community);
        assert!(
            (total - expected).abs() <= 1e-4 * expected,
            "{total} vs {expected}"
        );
        for cell in &cells {
            assert!((cell.area_m2 - area_m2(&cell.polygon)).abs() < 1e-6 * cell.area_m2.max(1.0));
            assert!(
                cell.area_m2 <= 10_000.0 * 1.02,
                "cell {} has {} m²",
                cell.seq,
                cell.area_m2
            );
            assert_eq!(cell.cell_size_m, 100.0);
        }
        let full = cells.iter().filter(|c| c.rectangle).count();
        assert!(
            full >= 80,
            "only {full} full squares out of {}",
            cells.len()
        );
        for cell in cells.iter().filter(|c| c.rectangle) {
            assert_eq!(cell.polygon.0.len(), 1);
            assert_eq!(cell.polygon.0[0].exterior().0.len(), 5);
            assert!(cell.polygon.0[0].interiors().is_empty());
            assert!((cell.area_m2 - 10_000.0).abs() < 100.0, "{}", cell.area_m2);
        }
    }

    #[test]
    fn cells_are_numbered_from_the_north_west() {
        let cells = grid_cells(&community(), &GridOptions::default());
        for (i, cell) in cells.iter().enumerate() {
            assert_eq!(cell.seq as usize, i + 1);
        }
        for pair in cells.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            assert!(a.row > b.row || (a.row == b.row && a.column < b.column));
            if a.row == b.row && a.rectangle && b.rectangle {
                assert!(a.centroid.x() < b.centroid.x());
            }
            if a.row > b.row && a.rectangle && b.rectangle {
                assert!(a.centroid.y() > b.centroid.y());
            }
        }
    }

    #[test]
    fn grids_are_reproducible_and_lattice_anchored() {
        let a = grid_cells(&community(), &GridOptions::default());
        let b = grid_cells(&community(), &GridOptions::default());
        assert_eq!(a, b);
        let (dlon, dlat) = lattice_step(100.0, 31.0);
        for cell in a.iter().filter(|c| c.rectangle) {
            let corner = cell.polygon.0[0].exterior().0[0];
            assert_eq!(corner.x, cell.column as f64 * dlon);
            assert_eq!(corner.y, cell.row as f64 * dlat);
        }
    }

    #[test]
    fn large_communities_get_bigger_cells_under_the_cap() {
        // About 11 km by 11 km: 12,000 cells of 100 m would be far over the cap.
        let big = MultiPolygon::new(vec![polygon![
            (x: 121.30, y: 31.00), (x: 121.41, y: 31.01), (x: 121.42, y: 31.10),
            (x: 121.35, y: 31.12), (x: 121.29, y: 31.08),
        ]]);
        let cells = grid_cells(&big, &GridOptions::default());
        assert!(cells.len() <= 999, "{} cells", cells.len());
        assert!(cells.len() > 500, "only {} cells", cells.len());
        let side = cells[0].cell_size_m;
        assert_eq!(side % 100.0, 0.0);
        assert!(side > 100.0);
        let total: f64 = cells.iter().map(|c| c.area_m2).sum();
        assert!((total - area_m2(&big)).abs() <= 1e-4 * total);
        let capped = grid_cells(
            &big,
            &GridOptions {
                max_cells: 10,
                ..GridOptions::default()
            },
        );
        assert!(capped.len() <= 10 && !capped.is_empty());
    }

    #[test]
    fn slivers_are_merged_not_dropped() {
        // A 300 m square in Shanghai whose west edge lies about 5 cm west of a lattice line: the
        // strip west of the line is cut into pieces of at most 5 m², which must join their
        // eastern neighbours instead of becoming cells or vanishing.
        let (dlon, dlat) = lattice_step(100.0, 31.0);
        let x0 = 115_900.0 * dlon - 0.000_000_5;
        let y0 = 34_590.2 * dlat;
        let community = MultiPolygon::new(vec![polygon![
            (x: x0, y: y0),
            (x: x0 + 3.0 * dlon, y: y0),
            (x: x0 + 3.0 * dlon, y: y0 + 3.0 * dlat),
            (x: x0, y: y0 + 3.0 * dlat),
        ]]);
        let options = GridOptions {
            reference_lat_deg: Some(31.0),
            sliver_area_m2: 10.0,
            ..GridOptions::default()
        };
        let cells = grid_cells(&community, &options);
        assert!(
            cells.iter().all(|c| c.area_m2 >= 10.0),
            "{:?}",
            cells.iter().map(|c| c.area_m2).collect::<Vec<_>>()
        );
        let total: f64 = cells.iter().map(|c| c.area_m2).sum();
        assert!((total - area_m2(&community)).abs() <= 1e-4 * total);
        // Three full columns by four rows (the square spans parts of four lattice rows).
        assert_eq!(cells.len(), 12);
        assert!(cells.iter().all(|c| c.column >= 115_900));
    }

    #[test]
    fn lattice_neighbours_share_edges_not_corners() {
        let square = |i: usize, j: usize| {
            let (x, y) = (i as f64, j as f64);
            MultiPolygon::new(vec![polygon![
                (x: x, y: y), (x: x + 1.0, y: y), (x: x + 1.0, y: y + 1.0), (x: x, y: y + 1.0),
            ]])
        };
        // Row-major 3×3 lattice: index = 3 * row + column.
        let polygons: Vec<_> = (0..9).map(|k| square(k % 3, k / 3)).collect();
        let found = neighbours(&polygons);
        let expected: Vec<Vec<usize>> = vec![
            vec![1, 3],
            vec![0, 2, 4],
            vec![1, 5],
            vec![0, 4, 6],
            vec![1, 3, 5, 7],
            vec![2, 4, 8],
            vec![3, 7],
            vec![4, 6, 8],
            vec![5, 7],
        ];
        assert_eq!(found, expected);
    }

    #[test]
    fn grid_cells_neighbour_across_t_junctions() {
        let cells = grid_cells(&community(), &GridOptions::default());
        let polygons: Vec<_> = cells.iter().map(|c| c.polygon.clone()).collect();
        let found = neighbours(&polygons);
        for (i, list) in found.iter().enumerate() {
            assert!(!list.is_empty(), "cell {} is isolated", cells[i].seq);
            assert!(list.len() <= 6);
            for &j in list {
                let (a, b) = (&cells[i], &cells[j]);
                assert_eq!((a.row - b.row).abs() + (a.column - b.column).abs(), 1);
            }
        }
    }
}
