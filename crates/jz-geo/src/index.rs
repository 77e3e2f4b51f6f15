//! A point-to-polygon index: which division or grid cell contains a point, and which is nearest.
//!
//! Polygons are stored compactly as flat coordinate arrays (axis-aligned rectangles, the common
//! case for unit grid cells, as their bounding box alone) and their bounding boxes are bulk
//! loaded into an R-tree (rstar 0.12, the version geo uses). The tree holds longitudes scaled by
//! the cosine of the data's mean latitude, so that its distances are nearly proportional to
//! metres and nearest-polygon searches stop early.

use geo_types::{Coord, MultiPolygon};
use rstar::RTree;
use rstar::primitives::{GeomWithData, Rectangle};

use crate::measure::{LocalFrame, MEAN_EARTH_RADIUS_M, haversine_m, on_segment, ring_contains};

type Entry = GeomWithData<Rectangle<[f64; 2]>, u32>;

#[derive(Debug, Clone, Copy)]
struct Stored {
    bbox: [f64; 4],
    /// Range of this polygon's rings in `ring_starts`; empty for rectangles.
    first_ring: u32,
    ring_count: u32,
    rectangle: bool,
}

/// An index from points to the polygons (divisions, grid cells) containing them.
///
/// Keys are returned by reference. Polygons may be multipolygons with holes; they are expected
/// not to overlap, and where they do (or where a point lies on a shared boundary) the polygon
/// that came first in the input wins, so answers are deterministic.
#[derive(Debug)]
pub struct PolygonIndex<K> {
    keys: Vec<K>,
    stored: Vec<Stored>,
    /// Start of each ring in `coords`, plus a final end marker.
    ring_starts: Vec<u32>,
    /// Open rings (no closing point), all polygons back to back.
    coords: Vec<Coord<f64>>,
    tree: RTree<Entry>,
    /// Factor applied to longitudes in the tree (positive, at most 1).
    lon_scale: f64,
}

/// Whether an open ring is an axis-aligned rectangle (four corners, edges alternating between
/// horizontal and vertical).
fn is_axis_rectangle(ring: &[Coord<f64>]) -> bool {
    if ring.len() != 4 {
        return false;
    }
    let horizontal = |a: Coord<f64>, b: Coord<f64>| a.y == b.y && a.x != b.x;
    let vertical = |a: Coord<f64>, b: Coord<f64>| a.x == b.x && a.y != b.y;
    let edges = [(0, 1), (1, 2), (2, 3), (3, 0)];
    let pattern_a = edges.iter().enumerate().all(|(k, &(i, j))| {
        if k % 2 == 0 {
            horizontal(ring[i], ring[j])
        } else {
            vertical(ring[i], ring[j])
        }
    });
    let pattern_b = edges.iter().enumerate().all(|(k, &(i, j))| {
        if k % 2 == 0 {
            vertical(ring[i], ring[j])
        } else {
            horizontal(ring[i], ring[j])
        }
    });
    pattern_a || pattern_b
}

impl<K> PolygonIndex<K> {
    /// Builds the index; polygons without any finite coordinate are kept (so keys stay aligned)
    /// but can never be found.
    pub fn new(entries: Vec<(K, MultiPolygon<f64>)>) -> Self {
        let mut keys = Vec::with_capacity(entries.len());
        let mut stored = Vec::with_capacity(entries.len());
        let mut ring_starts: Vec<u32> = Vec::new();
        let mut coords: Vec<Coord<f64>> = Vec::new();
        let mut boxes: Vec<(u32, [f64; 4])> = Vec::with_capacity(entries.len());
        for (position, (key, multi_polygon)) in entries.into_iter().enumerate() {
            keys.push(key);
            let mut rings: Vec<Vec<Coord<f64>>> = Vec::new();
            for polygon in &multi_polygon.0 {
                for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
                    let mut open: Vec<Coord<f64>> = ring
                        .0
                        .iter()
                        .copied()
                        .filter(|c| c.x.is_finite() && c.y.is_finite())
                        .collect();
                    open.dedup();
                    while open.len() > 1 && open.first() == open.last() {
                        open.pop();
                    }
                    if open.len() >= 3 {
                        rings.push(open);
                    }
                }
            }
            let mut bbox = [
                f64::INFINITY,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NEG_INFINITY,
            ];
            for c in rings.iter().flatten() {
                bbox = [
                    bbox[0].min(c.x),
                    bbox[1].min(c.y),
                    bbox[2].max(c.x),
                    bbox[3].max(c.y),
                ];
            }
            let rectangle = rings.len() == 1 && is_axis_rectangle(&rings[0]);
            let first_ring = ring_starts.len() as u32;
            let ring_count = if rectangle { 0 } else { rings.len() as u32 };
            if !rectangle {
                for ring in &rings {
                    ring_starts.push(coords.len() as u32);
                    coords.extend_from_slice(ring);
                }
            }
            stored.push(Stored {
                bbox,
                first_ring,
                ring_count,
                rectangle,
            });
            if !rings.is_empty() {
                boxes.push((position as u32, bbox));
            }
        }
        ring_starts.push(coords.len() as u32);
        let mean_lat = if boxes.is_empty() {
            0.0
        } else {
            boxes.iter().map(|(_, b)| (b[1] + b[3]) / 2.0).sum::<f64>() / boxes.len() as f64
        };
        let lon_scale = mean_lat.to_radians().cos().clamp(0.01, 1.0);
        // Scaling by a positive factor is monotone in floating point, so a point on a box's
        // edge stays on the scaled box's edge and boundary points remain candidates.
        let tree_entries = boxes
            .into_iter()
            .map(|(position, b)| {
                GeomWithData::new(
                    Rectangle::from_corners([b[0] * lon_scale, b[1]], [b[2] * lon_scale, b[3]]),
                    position,
                )
            })
            .collect();
        PolygonIndex {
            keys,
            stored,
            ring_starts,
            coords,
            tree: RTree::bulk_load(tree_entries),
            lon_scale,
        }
    }

    /// The number of polygons indexed.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the index holds no polygon.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn rings(&self, s: &Stored) -> impl Iterator<Item = &[Coord<f64>]> {
        (s.first_ring..s.first_ring + s.ring_count).map(move |r| {
            let (start, end) = (
                self.ring_starts[r as usize],
                self.ring_starts[r as usize + 1],
            );
            &self.coords[start as usize..end as usize]
        })
    }

    /// Whether polygon `i` contains `p`, boundary included.
    fn covers(&self, i: usize, p: Coord<f64>) -> bool {
        let s = &self.stored[i];
        if s.rectangle {
            return p.x >= s.bbox[0] && p.x <= s.bbox[2] && p.y >= s.bbox[1] && p.y <= s.bbox[3];
        }
        let mut inside = false;
        for ring in self.rings(s) {
            if ring_contains(ring, p) {
                inside = !inside;
            }
        }
        inside
            || self.rings(s).any(|ring| {
                let mut prev = ring[ring.len() - 1];
                ring.iter().any(|&c| {
                    let hit = on_segment(prev, c, p);
                    prev = c;
                    hit
                })
            })
    }

    fn locate_position(&self, p: Coord<f64>) -> Option<usize> {
        let mut best: Option<usize> = None;
        for entry in self.tree.locate_all_at_point(&[p.x * self.lon_scale, p.y]) {
            let i = entry.data as usize;
            if best.is_some_and(|b| b < i) {
                continue;
            }
            if self.covers(i, p) {
                best = Some(i);
            }
        }
        best
    }

    /// The key of the polygon containing `point` (boundary included). A point on a boundary
    /// shared by several polygons resolves to the one that came first in the input.
    pub fn locate(&self, point: impl Into<Coord<f64>>) -> Option<&K> {
        let p = point.into();
        self.locate_position(p).map(|i| &self.keys[i])
    }

    /// The keys of every polygon containing `point` (boundary included), in input order.
    pub fn locate_all(&self, point: impl Into<Coord<f64>>) -> Vec<&K> {
        let p = point.into();
        let mut found: Vec<usize> = self
            .tree
            .locate_all_at_point(&[p.x * self.lon_scale, p.y])
            .map(|entry| entry.data as usize)
            .filter(|&i| self.covers(i, p))
            .collect();
        found.sort_unstable();
        found.into_iter().map(|i| &self.keys[i]).collect()
    }

    /// Distance in metres from `p` to the boundary of polygon `i` (not checking containment).
    fn boundary_distance_m(&self, i: usize, p: Coord<f64>, frame: &LocalFrame) -> f64 {
        let s = &self.stored[i];
        let mut best: Option<(Coord<f64>, f64)> = None;
        let mut consider = |a: Coord<f64>, b: Coord<f64>| {
            let (c, d2) = frame.closest_on_segment(a, b);
            if best.is_none_or(|(_, d)| d2 < d) {
                best = Some((c, d2));
            }
        };
        if s.rectangle {
            let [x0, y0, x1, y1] = s.bbox;
            let corners = [
                Coord { x: x0, y: y0 },
                Coord { x: x1, y: y0 },
                Coord { x: x1, y: y1 },
                Coord { x: x0, y: y1 },
            ];
            for k in 0..4 {
                consider(corners[k], corners[(k + 1) % 4]);
            }
        } else {
            for ring in self.rings(s) {
                let mut prev = ring[ring.len() - 1];
                for &c in ring {
                    consider(prev, c);
                    prev = c;
                }
            }
        }
        best.map_or(f64::INFINITY, |(c, _)| haversine_m(p, c))
    }

    /// The polygon nearest `point` and its distance in metres: zero for a containing polygon
    /// (resolved as in [`Self::locate`]), otherwise the haversine distance to the nearest
    /// boundary point. Ties go to the polygon that came first. `None` only for an empty index.
    pub fn nearest(&self, point: impl Into<Coord<f64>>) -> Option<(&K, f64)> {
        let p = point.into();
        if let Some(i) = self.locate_position(p) {
            return Some((&self.keys[i], 0.0));
        }
        let frame = LocalFrame::new(p);
        let metres_per_deg = MEAN_EARTH_RADIUS_M * std::f64::consts::PI / 180.0;
        let mut best: Option<(usize, f64)> = None;
        let query = [p.x * self.lon_scale, p.y];
        for (entry, d2) in self.tree.nearest_neighbor_iter_with_distance_2(&query) {
            // A box at tree distance d is at least this many metres away: a scaled degree of
            // longitude spans cos(lat) / lon_scale degrees' worth of metres, smallest at the
            // farthest latitude the box can reach; the last factor absorbs the gap between the
            // planar bound and the haversine distance.
            let d = d2.sqrt();
            let far_lat = (p.y.abs() + d / self.lon_scale).min(89.9);
            let shrink = (far_lat.to_radians().cos() / self.lon_scale).min(1.0);
            let lower_bound = d * metres_per_deg * shrink * 0.995;
            if best.is_some_and(|(_, b)| lower_bound > b) {
                break;
            }
            let i = entry.data as usize;
            let distance = self.boundary_distance_m(i, p, &frame);
            let better = match best {
                None => true,
                Some((j, b)) => distance < b || (distance == b && i < j),
            };
            if better {
                best = Some((i, distance));
            }
        }
        best.map(|(i, d)| (&self.keys[i], d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::{GridOptions, grid_cells};
    use crate::measure::multi_polygon_covers;
    use crate::partition::SplitMix64;
    use geo_types::{Point, polygon};

    fn uniform(rng: &mut SplitMix64) -> f64 {
        (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn sample_cells() -> Vec<(u32, MultiPolygon<f64>)> {
        // A concave community of a few square kilometres, gridded at 50 m: a few thousand
        // cells, mostly rectangles with clipped cells along the boundary.
        let community = MultiPolygon::new(vec![polygon![
            (x: 121.400, y: 31.200), (x: 121.430, y: 31.201), (x: 121.428, y: 31.215),
            (x: 121.415, y: 31.210), (x: 121.412, y: 31.222), (x: 121.401, y: 31.219),
        ]]);
        let options = GridOptions {
            target_cell_area_m2: 2_500.0,
            max_cells: 100_000,
            ..GridOptions::default()
        };
        grid_cells(&community, &options)
            .into_iter()
            .map(|cell| (cell.seq, cell.polygon))
            .collect()
    }

    #[test]
    fn locate_agrees_with_brute_force() {
        let cells = sample_cells();
        assert!(cells.len() > 1500, "{} cells", cells.len());
        let index = PolygonIndex::new(cells.clone());
        assert_eq!(index.len(), cells.len());
        let mut rng = SplitMix64::new(5);
        let mut found = 0;
        for _ in 0..4000 {
            let p = Coord {
                x: 121.399 + 0.032 * uniform(&mut rng),
                y: 31.199 + 0.024 * uniform(&mut rng),
            };
            let brute: Vec<u32> = cells
                .iter()
                .filter(|(_, polygon)| multi_polygon_covers(polygon, p))
                .map(|(seq, _)| *seq)
                .collect();
            let all: Vec<u32> = index.locate_all(p).into_iter().copied().collect();
            assert_eq!(all, brute, "at {p:?}");
            assert_eq!(index.locate(p).copied(), brute.first().copied(), "at {p:?}");
            found += usize::from(!brute.is_empty());
        }
        assert!(found > 2000);
    }

    #[test]
    fn shared_boundaries_resolve_to_the_first_polygon() {
        let left = MultiPolygon::new(vec![polygon![
            (x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 1.0), (x: 0.0, y: 1.0),
        ]]);
        let right = MultiPolygon::new(vec![polygon![
            (x: 1.0, y: 0.0), (x: 2.0, y: 0.0), (x: 2.0, y: 1.5), (x: 1.0, y: 1.0),
        ]]);
        let index = PolygonIndex::new(vec![("right", right.clone()), ("left", left.clone())]);
        assert_eq!(index.locate(Coord { x: 1.0, y: 0.5 }), Some(&"right"));
        assert_eq!(
            index.locate_all(Coord { x: 1.0, y: 0.5 }),
            vec![&"right", &"left"]
        );
        assert_eq!(index.locate(Coord { x: 0.5, y: 0.5 }), Some(&"left"));
        assert_eq!(index.locate(Coord { x: 1.5, y: 1.2 }), Some(&"right"));
        assert_eq!(index.locate(Coord { x: 0.5, y: 1.2 }), None);
        let index = PolygonIndex::new(vec![("left", left), ("right", right)]);
        assert_eq!(index.locate(Coord { x: 1.0, y: 0.5 }), Some(&"left"));
        assert_eq!(index.locate(Point::new(1.5, 0.5)), Some(&"right"));
    }

    #[test]
    fn nearest_reports_metres_to_the_closest_polygon() {
        let cells = sample_cells();
        let index = PolygonIndex::new(cells.clone());
        let inside = Coord {
            x: 121.405,
            y: 31.205,
        };
        let (key, d) = index.nearest(inside).unwrap();
        assert_eq!(d, 0.0);
        assert_eq!(Some(key), index.locate(inside));
        let mut rng = SplitMix64::new(8);
        for _ in 0..50 {
            let p = Coord {
                x: 121.39 + 0.05 * uniform(&mut rng),
                y: 31.19 + 0.04 * uniform(&mut rng),
            };
            let (key, d) = index.nearest(p).unwrap();
            let brute = cells
                .iter()
                .map(|(seq, polygon)| {
                    (
                        crate::measure::distance_to_polygon_m(Point(p), polygon),
                        *seq,
                    )
                })
                .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
                .unwrap();
            assert!((d - brute.0).abs() < 1e-6, "at {p:?}: {d} vs {}", brute.0);
            if d > 0.0 {
                let mine = cells.iter().find(|(seq, _)| seq == key).unwrap();
                let check = crate::measure::distance_to_polygon_m(Point(p), &mine.1);
                assert!((check - d).abs() < 1e-6);
            }
        }
        let empty: PolygonIndex<u8> = PolygonIndex::new(Vec::new());
        assert!(empty.is_empty());
        assert_eq!(empty.nearest(inside), None);
    }

    #[test]
    fn grid_rectangles_are_stored_without_coordinates() {
        let cells = sample_cells();
        let rectangles = cells
            .iter()
            .filter(|(_, p)| {
                p.0.len() == 1 && p.0[0].interiors().is_empty() && p.0[0].exterior().0.len() == 5
            })
            .count();
        let index = PolygonIndex::new(cells);
        let stored_rectangles = index.stored.iter().filter(|s| s.rectangle).count();
        assert!(
            stored_rectangles * 10 > rectangles * 9,
            "{stored_rectangles} of {rectangles}"
        );
    }
}
