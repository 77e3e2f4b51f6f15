//! Exact cutting of polygons along axis-parallel lines, shared by partitions and unit grids.
//!
//! A cut at `lon = c` (or `lat = c`) computes each boundary crossing once, from the edge's
//! low-side endpoint, and hands the very same coordinate to both halves; the new boundary along
//! the cut line therefore has identical coordinates on both sides, so the halves tile the input
//! with no gap and no overlap. A vertex lying exactly on the cut line is treated as lying
//! infinitesimally on the high side (simulation of simplicity), which keeps every crossing
//! transversal. When the input is too broken for the exact method (its crossings do not pair up
//! as a valid polygon's do), the caller falls back to a boolean intersection.

use geo::BooleanOps;
use geo_types::{Coord, LineString, MultiPolygon, Polygon};

use crate::measure::{AREA_SCALE, authalic_q, edge_term, ring_area_m2, ring_contains};

/// The coordinate held constant along a cut line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Axis {
    /// The cut line is a meridian: `lon = c`.
    Lon,
    /// The cut line is a parallel: `lat = c`.
    Lat,
}

impl Axis {
    /// The coordinate across the cut line.
    #[inline]
    pub(crate) fn u(self, c: Coord<f64>) -> f64 {
        match self {
            Axis::Lon => c.x,
            Axis::Lat => c.y,
        }
    }

    /// The coordinate along the cut line.
    #[inline]
    fn v(self, c: Coord<f64>) -> f64 {
        match self {
            Axis::Lon => c.y,
            Axis::Lat => c.x,
        }
    }

    #[inline]
    fn make(self, u: f64, v: f64) -> Coord<f64> {
        match self {
            Axis::Lon => Coord { x: u, y: v },
            Axis::Lat => Coord { x: v, y: u },
        }
    }
}

/// One polygon as open rings (no closing duplicate): `rings[0]` is the exterior, wound
/// counter-clockwise, and the others are holes, wound clockwise.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Poly {
    pub(crate) rings: Vec<Vec<Coord<f64>>>,
}

/// A multipolygon in the normalised form the cutting code works on.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Shape {
    pub(crate) polys: Vec<Poly>,
}

/// Signed planar area of an open ring in squared degrees (positive when counter-clockwise).
pub(crate) fn planar_ring_area(ring: &[Coord<f64>]) -> f64 {
    let n = ring.len();
    if n < 3 {
        return 0.0;
    }
    let origin = ring[0];
    let mut sum = 0.0;
    for i in 1..n - 1 {
        let a = ring[i] - origin;
        let b = ring[i + 1] - origin;
        sum += a.x * b.y - a.y * b.x;
    }
    sum / 2.0
}

/// Whether all points of a ring lie on one line (exactly), so that it encloses no area.
pub(crate) fn collinear(ring: &[Coord<f64>]) -> bool {
    use geo::kernels::{Kernel, Orientation, RobustKernel};
    let Some(&a) = ring.first() else {
        return true;
    };
    let Some(&b) = ring.iter().find(|&&p| p != a) else {
        return true;
    };
    ring.iter()
        .all(|&p| RobustKernel::orient2d(a, b, p) == Orientation::Collinear)
}

/// Drops non-finite points and consecutive (and wrap-around) duplicates, and the closing point.
fn open_ring(ring: &LineString<f64>) -> Vec<Coord<f64>> {
    let mut out: Vec<Coord<f64>> = Vec::with_capacity(ring.0.len());
    for &c in &ring.0 {
        if !(c.x.is_finite() && c.y.is_finite()) {
            continue;
        }
        if out.last() != Some(&c) {
            out.push(c);
        }
    }
    while out.len() > 1 && out.first() == out.last() {
        out.pop();
    }
    out
}

/// Reverses `ring` when its winding differs from the wanted one; `None` for degenerate rings.
fn oriented(mut ring: Vec<Coord<f64>>, counter_clockwise: bool) -> Option<Vec<Coord<f64>>> {
    if ring.len() < 3 {
        return None;
    }
    let area = planar_ring_area(&ring);
    if !area.is_finite() || collinear(&ring) {
        return None;
    }
    if (area > 0.0) != counter_clockwise {
        ring.reverse();
    }
    Some(ring)
}

fn closed(ring: &[Coord<f64>]) -> LineString<f64> {
    let mut coords = Vec::with_capacity(ring.len() + 1);
    coords.extend_from_slice(ring);
    if let Some(&first) = ring.first() {
        coords.push(first);
    }
    LineString::new(coords)
}

impl Shape {
    /// Normalises a multipolygon: drops non-finite and repeated points and degenerate rings,
    /// and winds exteriors counter-clockwise and holes clockwise.
    pub(crate) fn from_multi_polygon(multi_polygon: &MultiPolygon<f64>) -> Shape {
        let polys = multi_polygon
            .0
            .iter()
            .filter_map(|polygon| {
                let exterior = oriented(open_ring(polygon.exterior()), true)?;
                let mut rings = vec![exterior];
                rings.extend(
                    polygon
                        .interiors()
                        .iter()
                        .filter_map(|hole| oriented(open_ring(hole), false)),
                );
                Some(Poly { rings })
            })
            .collect();
        Shape { polys }
    }

    /// The shape as a geo multipolygon with closed rings.
    pub(crate) fn to_multi_polygon(&self) -> MultiPolygon<f64> {
        MultiPolygon::new(
            self.polys
                .iter()
                .map(|poly| {
                    Polygon::new(
                        closed(&poly.rings[0]),
                        poly.rings[1..].iter().map(|ring| closed(ring)).collect(),
                    )
                })
                .collect(),
        )
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.polys.is_empty()
    }

    /// `[min_lon, min_lat, max_lon, max_lat]` of the exteriors, or `None` when empty.
    pub(crate) fn bbox(&self) -> Option<[f64; 4]> {
        let mut bbox: Option<[f64; 4]> = None;
        for c in self.polys.iter().flat_map(|poly| poly.rings[0].iter()) {
            let b = bbox.get_or_insert([c.x, c.y, c.x, c.y]);
            b[0] = b[0].min(c.x);
            b[1] = b[1].min(c.y);
            b[2] = b[2].max(c.x);
            b[3] = b[3].max(c.y);
        }
        bbox
    }

    /// Ellipsoidal area in square metres, the same measure as [`crate::area_m2`].
    pub(crate) fn area_m2(&self) -> f64 {
        self.polys
            .iter()
            .map(|poly| {
                poly.rings
                    .iter()
                    .map(|ring| ring_area_m2(ring))
                    .sum::<f64>()
            })
            .sum::<f64>()
            .max(0.0)
    }
}

/// The point where edge `a`–`b` meets the cut line, and the edge's slope `dv/du`.
///
/// The computation starts from whichever endpoint lies on the low side, so an edge gives the
/// same crossing whichever way it is traversed and whichever polygon it belongs to.
#[inline]
fn crossing(axis: Axis, c: f64, a: Coord<f64>, b: Coord<f64>) -> (Coord<f64>, f64) {
    let (p, q) = if axis.u(a) < c { (a, b) } else { (b, a) };
    let (pu, pv, qu, qv) = (axis.u(p), axis.v(p), axis.u(q), axis.v(q));
    let slope = (qv - pv) / (qu - pu);
    let v = if qu == c {
        qv
    } else {
        let t = (c - pu) / (qu - pu);
        (pv + (qv - pv) * t).clamp(pv.min(qv), pv.max(qv))
    };
    (axis.make(c, v), slope)
}

struct Crossing {
    point: Coord<f64>,
    slope: f64,
    /// The ring passes from the low side to the high side here.
    exit: bool,
}

struct Chain {
    low: bool,
    end: usize,
    points: Vec<Coord<f64>>,
}

/// Tidies a ring assembled from chains: removes repeated points, collapses runs of points on
/// the cut line to their two ends (which removes zero-width spikes along the line), and rejects
/// rings left without area.
fn clean_ring(ring: Vec<Coord<f64>>, axis: Axis, c: f64) -> Option<Vec<Coord<f64>>> {
    let mut ring = dedup_cyclic(ring);
    let start = ring.iter().position(|p| axis.u(*p) != c)?;
    ring.rotate_left(start);
    let mut out = Vec::with_capacity(ring.len());
    let mut i = 0;
    while i < ring.len() {
        if axis.u(ring[i]) != c {
            out.push(ring[i]);
            i += 1;
            continue;
        }
        let run_start = i;
        while i < ring.len() && axis.u(ring[i]) == c {
            i += 1;
        }
        out.push(ring[run_start]);
        if i - 1 > run_start {
            out.push(ring[i - 1]);
        }
    }
    let out = dedup_cyclic(out);
    (out.len() >= 3 && !collinear(&out)).then_some(out)
}

fn dedup_cyclic(mut ring: Vec<Coord<f64>>) -> Vec<Coord<f64>> {
    ring.dedup();
    while ring.len() > 1 && ring.first() == ring.last() {
        ring.pop();
    }
    ring
}

/// Gives each hole to the outer ring that contains it, forming polygons.
fn assemble(outers: Vec<Vec<Coord<f64>>>, holes: Vec<Vec<Coord<f64>>>, out: &mut Shape) {
    if outers.is_empty() {
        return;
    }
    let base = out.polys.len();
    out.polys
        .extend(outers.into_iter().map(|ring| Poly { rings: vec![ring] }));
    for hole in holes {
        let owner = (base..out.polys.len())
            .find(|&k| {
                hole.iter()
                    .take(3)
                    .any(|&p| ring_contains(&out.polys[k].rings[0], p))
            })
            .unwrap_or(base);
        out.polys[owner].rings.push(hole);
    }
}

/// Splits one polygon whose exterior crosses the line; `None` when the crossings do not pair
/// up consistently (invalid input).
fn split_poly(poly: &Poly, axis: Axis, c: f64, low: &mut Shape, high: &mut Shape) -> Option<()> {
    let mut crossings: Vec<Crossing> = Vec::new();
    let mut chains: Vec<Chain> = Vec::new();
    let mut chain_by_start: Vec<usize> = Vec::new();
    let mut whole_low: Vec<Vec<Coord<f64>>> = Vec::new();
    let mut whole_high: Vec<Vec<Coord<f64>>> = Vec::new();
    let mut sides: Vec<bool> = Vec::new();
    let mut edges: Vec<usize> = Vec::new();
    for ring in &poly.rings {
        let n = ring.len();
        sides.clear();
        sides.extend(ring.iter().map(|p| axis.u(*p) < c));
        edges.clear();
        edges.extend((0..n).filter(|&i| sides[i] != sides[(i + 1) % n]));
        if edges.is_empty() {
            if sides[0] {
                whole_low.push(ring.clone());
            } else {
                whole_high.push(ring.clone());
            }
            continue;
        }
        let base = crossings.len();
        for &i in &edges {
            let (point, slope) = crossing(axis, c, ring[i], ring[(i + 1) % n]);
            crossings.push(Crossing {
                point,
                slope,
                exit: sides[i],
            });
        }
        let k = edges.len();
        for e in 0..k {
            let (i, j) = (edges[e], edges[(e + 1) % k]);
            let mut points = Vec::with_capacity((j + n - i) % n + 2);
            points.push(crossings[base + e].point);
            let mut idx = (i + 1) % n;
            loop {
                points.push(ring[idx]);
                if idx == j {
                    break;
                }
                idx = (idx + 1) % n;
            }
            points.push(crossings[base + (e + 1) % k].point);
            chain_by_start.push(chains.len());
            chains.push(Chain {
                low: sides[(i + 1) % n],
                end: base + (e + 1) % k,
                points,
            });
        }
    }
    if !crossings.len().is_multiple_of(2) {
        return None;
    }
    // Along the cut line the polygon's interior is the union of the intervals between the
    // 1st and 2nd, 3rd and 4th, ... crossings; ties are ordered as they would be on a line
    // moved infinitesimally to the low side.
    let mut order: Vec<usize> = (0..crossings.len()).collect();
    order.sort_by(|&a, &b| {
        let (ca, cb) = (&crossings[a], &crossings[b]);
        axis.v(ca.point)
            .total_cmp(&axis.v(cb.point))
            .then(cb.slope.total_cmp(&ca.slope))
    });
    let mut partner = vec![0usize; crossings.len()];
    for pair in order.chunks_exact(2) {
        if crossings[pair[0]].exit == crossings[pair[1]].exit {
            return None;
        }
        partner[pair[0]] = pair[1];
        partner[pair[1]] = pair[0];
    }
    let mut used = vec![false; chains.len()];
    let mut outers_low = Vec::new();
    let mut outers_high = Vec::new();
    for first in 0..chains.len() {
        if used[first] {
            continue;
        }
        let side = chains[first].low;
        let mut ring: Vec<Coord<f64>> = Vec::new();
        let mut current = first;
        loop {
            used[current] = true;
            ring.extend_from_slice(&chains[current].points);
            let next = chain_by_start[partner[chains[current].end]];
            if chains[next].low != side {
                return None;
            }
            if next == first {
                break;
            }
            if used[next] {
                return None;
            }
            current = next;
        }
        if let Some(ring) = clean_ring(ring, axis, c) {
            if side {
                outers_low.push(ring);
            } else {
                outers_high.push(ring);
            }
        }
    }
    assemble(outers_low, whole_low, low);
    assemble(outers_high, whole_high, high);
    Some(())
}

/// Cuts `shape` along the line `u = c`: returns the parts with `u < c` and `u ≥ c`, sharing
/// their new boundary exactly; `None` when the exact method cannot handle the input.
pub(crate) fn split_exact(shape: &Shape, axis: Axis, c: f64) -> Option<(Shape, Shape)> {
    let mut low = Shape::default();
    let mut high = Shape::default();
    for poly in &shape.polys {
        let (mut min_u, mut max_u) = (f64::INFINITY, f64::NEG_INFINITY);
        for p in &poly.rings[0] {
            min_u = min_u.min(axis.u(*p));
            max_u = max_u.max(axis.u(*p));
        }
        if max_u < c {
            low.polys.push(poly.clone());
        } else if min_u >= c {
            high.polys.push(poly.clone());
        } else {
            split_poly(poly, axis, c, &mut low, &mut high)?;
        }
    }
    Some((low, high))
}

/// Cuts with boolean intersections against two half-plane rectangles; used only when the exact
/// method refuses the input, at the cost of sub-millimetre snapping by the overlay engine.
fn split_boolean(shape: &Shape, axis: Axis, c: f64) -> (Shape, Shape) {
    let Some(bbox) = shape.bbox() else {
        return (Shape::default(), Shape::default());
    };
    let multi_polygon = shape.to_multi_polygon();
    let pad = 1.0;
    let (min_u, max_u, min_v, max_v) = match axis {
        Axis::Lon => (bbox[0], bbox[2], bbox[1], bbox[3]),
        Axis::Lat => (bbox[1], bbox[3], bbox[0], bbox[2]),
    };
    let rect = |from: f64, to: f64| {
        let ring = vec![
            axis.make(from, min_v - pad),
            axis.make(to, min_v - pad),
            axis.make(to, max_v + pad),
            axis.make(from, max_v + pad),
        ];
        Polygon::new(closed(&ring), vec![])
    };
    let low = multi_polygon.intersection(&rect(min_u - pad, c));
    let high = multi_polygon.intersection(&rect(c, max_u + pad));
    (
        Shape::from_multi_polygon(&low),
        Shape::from_multi_polygon(&high),
    )
}

/// The smallest line position at or above `c` on which no vertex of `shape` lies.
///
/// Moving the line by a few units in the last place changes no area measurably, and keeps
/// every crossing transversal: a hole whose edge lay exactly on the line would otherwise end
/// up touching the outer ring of one side along that edge.
fn clear_of_vertices(shape: &Shape, axis: Axis, mut c: f64) -> f64 {
    for _ in 0..16 {
        let hit = shape
            .polys
            .iter()
            .flat_map(|poly| poly.rings.iter())
            .flatten()
            .any(|p| axis.u(*p) == c);
        if !hit {
            break;
        }
        c = c.next_up();
    }
    c
}

/// Cuts `shape` along `u = c`, or a line a few units in the last place above it (see
/// [`clear_of_vertices`]); exactly when possible, by boolean intersection otherwise. Returns
/// the parts below and above the line actually used.
pub(crate) fn split(shape: &Shape, axis: Axis, c: f64) -> (Shape, Shape) {
    let c = clear_of_vertices(shape, axis, c);
    split_exact(shape, axis, c).unwrap_or_else(|| split_boolean(shape, axis, c))
}

/// A shape prepared for fast evaluation of the area on the low side of a cut line.
pub(crate) struct AreaProbe {
    rings: Vec<ProbeRing>,
    q_ref: f64,
    axis: Axis,
}

struct ProbeRing {
    points: Vec<Coord<f64>>,
    /// `edge_term` of each edge `points[i] → points[i + 1]` (cyclic).
    terms: Vec<f64>,
}

impl AreaProbe {
    pub(crate) fn new(shape: &Shape, axis: Axis) -> Self {
        let q_ref = shape
            .polys
            .first()
            .map(|poly| authalic_q(poly.rings[0][0].y))
            .unwrap_or(0.0);
        let rings = shape
            .polys
            .iter()
            .flat_map(|poly| poly.rings.iter())
            .map(|ring| {
                let n = ring.len();
                let terms = (0..n)
                    .map(|i| edge_term(ring[i], ring[(i + 1) % n], q_ref))
                    .collect();
                ProbeRing {
                    points: ring.clone(),
                    terms,
                }
            })
            .collect();
        AreaProbe { rings, q_ref, axis }
    }

    /// The area in square metres of the part of the shape with `u < c`: each ring is clipped
    /// to the half-plane (Sutherland–Hodgman) and the signed terms of the clipped ring summed,
    /// holes subtracting. Whole edges reuse their precomputed terms.
    pub(crate) fn low_area_m2(&self, c: f64) -> f64 {
        let axis = self.axis;
        let q_ref = self.q_ref;
        let mut total = 0.0;
        for ring in &self.rings {
            let n = ring.points.len();
            let mut last_exit: Option<Coord<f64>> = None;
            let mut first_entry: Option<Coord<f64>> = None;
            for i in 0..n {
                let (a, b) = (ring.points[i], ring.points[(i + 1) % n]);
                let (a_low, b_low) = (axis.u(a) < c, axis.u(b) < c);
                match (a_low, b_low) {
                    (true, true) => total += ring.terms[i],
                    (false, false) => {}
                    (true, false) => {
                        let (x, _) = crossing(axis, c, a, b);
                        total += edge_term(a, x, q_ref);
                        last_exit = Some(x);
                    }
                    (false, true) => {
                        let (x, _) = crossing(axis, c, a, b);
                        total += edge_term(x, b, q_ref);
                        // Sutherland–Hodgman joins each exit to the next entry along the line.
                        match last_exit.take() {
                            Some(exit) => total += edge_term(exit, x, q_ref),
                            None => first_entry = Some(x),
                        }
                    }
                }
            }
            if let (Some(exit), Some(entry)) = (last_exit, first_entry) {
                total += edge_term(exit, entry, q_ref);
            }
        }
        total * AREA_SCALE
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::polygon;

    fn l_shape() -> Shape {
        Shape::from_multi_polygon(&MultiPolygon::new(vec![polygon![
            (x: 121.0, y: 31.0),
            (x: 121.02, y: 31.0),
            (x: 121.02, y: 31.01),
            (x: 121.01, y: 31.01),
            (x: 121.01, y: 31.02),
            (x: 121.0, y: 31.02),
        ]]))
    }

    #[test]
    fn exact_split_conserves_area_and_shares_the_cut() {
        let shape = l_shape();
        let total = shape.area_m2();
        for (axis, c) in [
            (Axis::Lon, 121.005),
            (Axis::Lon, 121.01),
            (Axis::Lon, 121.015),
            (Axis::Lat, 31.005),
            (Axis::Lat, 31.01),
            (Axis::Lat, 31.0133),
        ] {
            let (low, high) = split_exact(&shape, axis, c).expect("valid input splits exactly");
            let sum = low.area_m2() + high.area_m2();
            assert!(
                (sum - total).abs() < 1e-9 * total,
                "{axis:?} {c}: {sum} vs {total}"
            );
            let probe = AreaProbe::new(&shape, axis);
            assert!((probe.low_area_m2(c) - low.area_m2()).abs() < 1e-9 * total);
            for p in low.polys.iter().flat_map(|p| p.rings.iter()).flatten() {
                assert!(axis.u(*p) <= c);
            }
            for p in high.polys.iter().flat_map(|p| p.rings.iter()).flatten() {
                assert!(axis.u(*p) >= c);
            }
        }
    }

    #[test]
    fn a_cut_across_the_arms_of_a_u_gives_two_parts_on_one_side() {
        let shape = l_shape();
        let (low, high) = split_exact(&shape, Axis::Lat, 31.015).unwrap();
        assert_eq!(low.polys.len(), 1);
        assert_eq!(high.polys.len(), 1);
        // A cut across both arms of a U leaves two parts on the arms' side.
        let u_shape = Shape::from_multi_polygon(&MultiPolygon::new(vec![polygon![
            (x: 0.0, y: 0.0),
            (x: 3.0, y: 0.0),
            (x: 3.0, y: 2.0),
            (x: 2.0, y: 2.0),
            (x: 2.0, y: 1.0),
            (x: 1.0, y: 1.0),
            (x: 1.0, y: 2.0),
            (x: 0.0, y: 2.0),
        ]]));
        let (low, high) = split_exact(&u_shape, Axis::Lat, 1.5).unwrap();
        assert_eq!(low.polys.len(), 1);
        assert_eq!(high.polys.len(), 2);
    }

    #[test]
    fn holes_stay_holes_or_open_up_when_cut() {
        let with_hole = Shape::from_multi_polygon(&MultiPolygon::new(vec![polygon![
            exterior: [(x: 0.0, y: 0.0), (x: 4.0, y: 0.0), (x: 4.0, y: 4.0), (x: 0.0, y: 4.0)],
            interiors: [[(x: 1.0, y: 1.0), (x: 2.0, y: 1.0), (x: 2.0, y: 2.0), (x: 1.0, y: 2.0)]],
        ]]));
        let total = with_hole.area_m2();
        for c in [0.5, 1.5, 2.0, 3.0] {
            let (low, high) = split_exact(&with_hole, Axis::Lon, c).unwrap();
            let sum = low.area_m2() + high.area_m2();
            assert!((sum - total).abs() < 1e-9 * total, "cut at {c}");
        }
        let (low, _) = split_exact(&with_hole, Axis::Lon, 3.0).unwrap();
        assert_eq!(
            low.polys[0].rings.len(),
            2,
            "the hole lies wholly on the low side"
        );
    }

    #[test]
    fn vertices_on_the_cut_line_leave_no_spikes() {
        let shape = l_shape();
        let (low, high) = split_exact(&shape, Axis::Lon, 121.01).unwrap();
        assert_eq!(low.polys.len(), 1);
        assert_eq!(low.polys[0].rings[0].len(), 4);
        assert_eq!(high.polys.len(), 1);
        assert_eq!(
            high.polys[0].rings[0].len(),
            4,
            "{:?}",
            high.polys[0].rings[0]
        );
        // A polygon touching the line along an edge from the low side goes wholly low.
        let square = Shape::from_multi_polygon(&MultiPolygon::new(vec![polygon![
            (x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 1.0), (x: 0.0, y: 1.0),
        ]]));
        let (low, high) = split_exact(&square, Axis::Lon, 1.0).unwrap();
        assert_eq!(low.polys.len(), 1);
        assert!(high.is_empty());
    }

    /// A random star-shaped polygon (always simple) with a star-shaped hole around its centre,
    /// its vertices on a coarse grid so that cut lines often pass exactly through vertices.
    fn random_star(rng: &mut crate::partition::SplitMix64, with_hole: bool) -> Shape {
        let mut unit = || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let n = 5 + (unit() * 20.0) as usize;
        let snap = |v: f64| (v * 64.0).round() / 64.0;
        let ring = |radius: f64, unit: &mut dyn FnMut() -> f64| -> Vec<Coord<f64>> {
            (0..n)
                .map(|k| {
                    let angle = std::f64::consts::TAU * (k as f64 + 0.3 * unit()) / n as f64;
                    let r = radius * (0.5 + 0.5 * unit());
                    Coord {
                        x: snap(121.0 + r * angle.cos()),
                        y: snap(31.0 + r * angle.sin()),
                    }
                })
                .collect()
        };
        let exterior = ring(2.0, &mut unit);
        let mut polygon = Polygon::new(LineString::new(exterior), vec![]);
        if with_hole {
            let hole = ring(0.45, &mut unit);
            polygon = Polygon::new(polygon.exterior().clone(), vec![LineString::new(hole)]);
        }
        Shape::from_multi_polygon(&MultiPolygon::new(vec![polygon]))
    }

    #[test]
    fn random_polygons_split_exactly_at_random_and_vertex_lines() {
        use geo::algorithm::Validation;
        let mut rng = crate::partition::SplitMix64::new(2024);
        let mut checked = 0;
        for case in 0..300 {
            let shape = random_star(&mut rng, case % 2 == 0);
            if shape.is_empty() || !shape.to_multi_polygon().is_valid() {
                continue;
            }
            let total = shape.area_m2();
            let vertices: Vec<Coord<f64>> =
                shape.polys[0].rings.iter().flatten().copied().collect();
            for k in 0..6 {
                let axis = if k % 2 == 0 { Axis::Lon } else { Axis::Lat };
                let pick = vertices[(rng.next_u64() % vertices.len() as u64) as usize];
                // Half the lines pass exactly through a vertex; the others fall anywhere.
                let c = if k < 3 {
                    axis.u(pick)
                } else {
                    axis.u(pick) + ((rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 0.3
                };
                // The exact method alone conserves area even with vertices on the line.
                let (low, high) =
                    split_exact(&shape, axis, c).expect("a valid polygon splits exactly");
                let sum = low.area_m2() + high.area_m2();
                assert!(
                    (sum - total).abs() <= 1e-9 * total,
                    "case {case}, {axis:?} at {c}: {sum} vs {total}"
                );
                let probe = AreaProbe::new(&shape, axis);
                assert!((probe.low_area_m2(c) - low.area_m2()).abs() <= 1e-9 * total);
                // The cut used by partitions and grids also gives valid parts.
                let (low, high) = split(&shape, axis, c);
                let sum = low.area_m2() + high.area_m2();
                assert!(
                    (sum - total).abs() <= 1e-9 * total,
                    "case {case}, {axis:?} at {c}: {sum} vs {total}"
                );
                for part in [&low, &high] {
                    if part.is_empty() {
                        continue;
                    }
                    let problems = crate::validate::polygon_problems(&part.to_multi_polygon());
                    assert!(
                        problems.is_empty(),
                        "case {case}, {axis:?} at {c}: {problems:?}"
                    );
                }
                checked += 1;
            }
        }
        assert!(checked > 1000, "only {checked} cuts checked");
    }
}
