//! Generated child boundaries: splits a parent division into pieces of prescribed relative
//! area, for divisions whose codes are known but whose boundaries are not published.
//!
//! The method is recursive area bisection. The weights, in an order shuffled by the seed, are
//! split into two groups of nearly equal total weight; the parent is cut by a meridian or a
//! parallel (across its longer side, in metres) placed by bisection so that the part on one
//! side has exactly that group's share of the area; each part is then divided among its group.
//! Cuts are exact (see the `split` module): both parts carry the same coordinates along the cut,
//! so the pieces tile the parent with no gap and no overlap.

use crate::split::{AreaProbe, Axis, Shape, split};
use geo_types::MultiPolygon;

/// Smallest weight used, relative to the largest weight: smaller, zero, negative and
/// non-finite weights are raised to this so that every piece has positive area.
pub const MIN_RELATIVE_WEIGHT: f64 = 1e-6;

/// Upper bound on bisection steps; the cut position converges to adjacent floating-point
/// values well before this.
const MAX_BISECTION_STEPS: usize = 200;

/// A small deterministic generator (SplitMix64), so that layouts depend only on the seed.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform index in `0..bound` (`bound > 0`), by rejection so there is no modulo bias.
    fn below(&mut self, bound: usize) -> usize {
        let bound = bound as u64;
        let zone = u64::MAX - u64::MAX % bound;
        loop {
            let x = self.next_u64();
            if x < zone {
                return (x % bound) as usize;
            }
        }
    }

    fn coin(&mut self) -> bool {
        self.next_u64() >> 63 == 1
    }
}

/// Divides `parent` into one piece per weight, in the same order, with areas proportional to
/// the weights.
///
/// Guarantees, for a valid parent (see [`crate::repair`]):
/// - the pieces tile the parent: their areas sum to the parent's area to about 1e-9 relative,
///   and two pieces meet only along shared edges whose coordinates are identical;
/// - each piece's area matches its share of the parent's area to better than 1e-6 relative
///   (the bisection is carried to floating-point resolution; about 1e-11 is typical);
/// - every piece has positive area: weights below [`MIN_RELATIVE_WEIGHT`] times the largest
///   (including zero, negative and non-finite weights) are raised to that floor; if no weight
///   is positive and finite, all are treated as equal;
/// - the result depends only on `(parent, weights, seed)`; other seeds shuffle which weights
///   are grouped together, which side of each cut they take, and the direction of cuts across
///   nearly square parts.
///
/// Pieces are multipolygons: a piece may have several parts when the parent has islands or a
/// cut crosses a concave parent more than once. An empty or degenerate parent yields empty
/// pieces; an empty weight list yields no pieces.
pub fn partition(parent: &MultiPolygon<f64>, weights: &[f64], seed: u64) -> Vec<MultiPolygon<f64>> {
    let n = weights.len();
    let mut out = vec![MultiPolygon::new(Vec::new()); n];
    let shape = Shape::from_multi_polygon(parent);
    if n == 0 || shape.is_empty() {
        return out;
    }
    let weights = sanitized_weights(weights);
    let mut rng = SplitMix64::new(seed);
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = rng.below(i + 1);
        order.swap(i, j);
    }
    divide(shape, &order, &weights, &mut rng, &mut out);
    out
}

/// Weights with the floor applied (see [`partition`]).
fn sanitized_weights(weights: &[f64]) -> Vec<f64> {
    let max = weights
        .iter()
        .copied()
        .filter(|w| w.is_finite() && *w > 0.0)
        .fold(0.0_f64, f64::max);
    if max == 0.0 {
        return vec![1.0; weights.len()];
    }
    let floor = max * MIN_RELATIVE_WEIGHT;
    weights
        .iter()
        .map(|&w| if w.is_finite() && w > floor { w } else { floor })
        .collect()
}

fn divide(
    shape: Shape,
    items: &[usize],
    weights: &[f64],
    rng: &mut SplitMix64,
    out: &mut [MultiPolygon<f64>],
) {
    if items.len() == 1 {
        out[items[0]] = shape.to_multi_polygon();
        return;
    }
    let total: f64 = items.iter().map(|&i| weights[i]).sum();
    let mut best = 1;
    let mut best_gap = f64::INFINITY;
    let mut prefix = 0.0;
    for m in 1..items.len() {
        prefix += weights[items[m - 1]];
        let gap = (prefix - total / 2.0).abs();
        if gap < best_gap {
            best_gap = gap;
            best = m;
        }
    }
    let (first, second) = items.split_at(best);
    let first_weight: f64 = first.iter().map(|&i| weights[i]).sum();
    let second_weight: f64 = second.iter().map(|&i| weights[i]).sum();
    let Some(bbox) = shape.bbox() else {
        return;
    };
    let mid_lat = (bbox[1] + bbox[3]) / 2.0;
    let width = (bbox[2] - bbox[0]) * mid_lat.to_radians().cos();
    let height = bbox[3] - bbox[1];
    let axis = if width > 1.25 * height {
        Axis::Lon
    } else if height > 1.25 * width {
        Axis::Lat
    } else if rng.coin() {
        Axis::Lon
    } else {
        Axis::Lat
    };
    let first_low = rng.coin();
    let low_share = if first_low {
        first_weight / (first_weight + second_weight)
    } else {
        second_weight / (first_weight + second_weight)
    };
    let (min_u, max_u) = match axis {
        Axis::Lon => (bbox[0], bbox[2]),
        Axis::Lat => (bbox[1], bbox[3]),
    };
    let cut = find_cut(&shape, axis, min_u, max_u, low_share);
    let (low, high) = split(&shape, axis, cut);
    drop(shape);
    let (first_shape, second_shape) = if first_low { (low, high) } else { (high, low) };
    divide(first_shape, first, weights, rng, out);
    divide(second_shape, second, weights, rng, out);
}

/// The cut position at which the part of `shape` below the line has `share` of its area.
fn find_cut(shape: &Shape, axis: Axis, min_u: f64, max_u: f64, share: f64) -> f64 {
    let probe = AreaProbe::new(shape, axis);
    let total = probe.low_area_m2(f64::INFINITY);
    let target = total * share;
    let (mut lo, mut hi) = (min_u, max_u);
    for _ in 0..MAX_BISECTION_STEPS {
        let mid = lo + (hi - lo) / 2.0;
        if mid <= lo || mid >= hi {
            break;
        }
        if probe.low_area_m2(mid) < target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    // Either bound brackets the target to within one floating-point step; take the closer one
    // that leaves both sides non-empty.
    let (area_lo, area_hi) = (probe.low_area_m2(lo), probe.low_area_m2(hi));
    let lo_ok = area_lo > 0.0 && area_lo < total;
    let hi_ok = area_hi > 0.0 && area_hi < total;
    match (lo_ok, hi_ok) {
        (true, true) if (area_lo - target).abs() < (area_hi - target).abs() => lo,
        (_, true) => hi,
        (true, false) => lo,
        (false, false) => hi,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::area_m2;
    use geo::BooleanOps;
    use geo_types::{Polygon, polygon};

    /// A concave L: 2 km by 2 km with the north-east quarter missing.
    fn l_shape() -> MultiPolygon<f64> {
        MultiPolygon::new(vec![polygon![
            (x: 121.40, y: 31.20),
            (x: 121.42, y: 31.20),
            (x: 121.42, y: 31.21),
            (x: 121.41, y: 31.21),
            (x: 121.41, y: 31.22),
            (x: 121.40, y: 31.22),
        ]])
    }

    /// A mainland with a hole (a lake) and a separate island.
    fn with_island() -> MultiPolygon<f64> {
        let mainland: Polygon<f64> = polygon![
            exterior: [
                (x: 121.30, y: 31.00), (x: 121.36, y: 31.01), (x: 121.37, y: 31.05),
                (x: 121.33, y: 31.07), (x: 121.29, y: 31.04),
            ],
            interiors: [[
                (x: 121.32, y: 31.03), (x: 121.33, y: 31.03), (x: 121.33, y: 31.04),
                (x: 121.32, y: 31.04),
            ]],
        ];
        let island: Polygon<f64> = polygon![
            (x: 121.40, y: 31.02), (x: 121.42, y: 31.02), (x: 121.41, y: 31.035),
        ];
        MultiPolygon::new(vec![mainland, island])
    }

    fn check_tiling(parent: &MultiPolygon<f64>, weights: &[f64], pieces: &[MultiPolygon<f64>]) {
        assert_eq!(pieces.len(), weights.len());
        let parent_area = area_m2(parent);
        let areas: Vec<f64> = pieces.iter().map(area_m2).collect();
        let sum: f64 = areas.iter().sum();
        assert!(
            (sum - parent_area).abs() <= 1e-4 * parent_area,
            "pieces sum to {sum} m², parent is {parent_area} m²"
        );
        let total_weight: f64 = weights.iter().sum();
        for (i, (&area, &w)) in areas.iter().zip(weights).enumerate() {
            let target = parent_area * w / total_weight;
            assert!(area > 0.0, "piece {i} is empty");
            assert!(
                (area - target).abs() <= 0.05 * target,
                "piece {i}: {area} m² for a target of {target} m²"
            );
            let outside = area_m2(&pieces[i].difference(parent));
            assert!(
                outside <= 1e-6 * parent_area,
                "piece {i} sticks out by {outside} m²"
            );
        }
        for i in 0..pieces.len() {
            for j in i + 1..pieces.len() {
                let overlap = area_m2(&pieces[i].intersection(&pieces[j]));
                assert!(
                    overlap <= 1e-6 * parent_area,
                    "pieces {i} and {j} overlap by {overlap} m²"
                );
            }
        }
    }

    #[test]
    fn concave_parent_is_tiled_in_proportion() {
        let parent = l_shape();
        let weights = [5.0, 1.0, 3.0, 2.0, 8.0, 1.0, 1.0];
        let pieces = partition(&parent, &weights, 7);
        check_tiling(&parent, &weights, &pieces);
    }

    #[test]
    fn parent_with_an_island_and_a_lake_is_tiled_in_proportion() {
        let parent = with_island();
        let weights = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        for seed in [0, 1, 99] {
            let pieces = partition(&parent, &weights, seed);
            check_tiling(&parent, &weights, &pieces);
        }
    }

    #[test]
    fn piece_areas_are_exact_to_a_millionth() {
        let parent = l_shape();
        let weights: Vec<f64> = (1..=15).map(|i| i as f64).collect();
        let pieces = partition(&parent, &weights, 3);
        let parent_area = area_m2(&parent);
        let total: f64 = weights.iter().sum();
        for (piece, w) in pieces.iter().zip(&weights) {
            let target = parent_area * w / total;
            assert!(((area_m2(piece) - target) / target).abs() < 1e-6);
        }
    }

    #[test]
    fn tiny_and_invalid_weights_still_get_area() {
        let parent = l_shape();
        let weights = [1.0, 0.0, 1e-9, -3.0, f64::NAN, 1000.0];
        let pieces = partition(&parent, &weights, 11);
        assert_eq!(pieces.len(), weights.len());
        let sum: f64 = pieces.iter().map(area_m2).sum();
        assert!((sum - area_m2(&parent)).abs() < 1e-6 * sum);
        for (i, piece) in pieces.iter().enumerate() {
            assert!(area_m2(piece) > 0.0, "piece {i} is empty");
        }
    }

    #[test]
    fn layouts_depend_only_on_the_seed() {
        let parent = with_island();
        let weights = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0];
        let a = partition(&parent, &weights, 42);
        let b = partition(&parent, &weights, 42);
        let c = partition(&parent, &weights, 43);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn edge_cases_give_one_piece_per_weight() {
        assert!(partition(&l_shape(), &[], 1).is_empty());
        assert_eq!(partition(&l_shape(), &[2.0], 1), vec![l_shape()]);
        let empty = partition(&MultiPolygon::new(vec![]), &[1.0, 2.0], 1);
        assert_eq!(empty.len(), 2);
        assert!(empty.iter().all(|p| p.0.is_empty()));
    }

    #[test]
    fn splitmix_is_the_reference_sequence() {
        // First outputs of SplitMix64 seeded with 1234567, from the reference implementation.
        let mut rng = SplitMix64::new(1234567);
        assert_eq!(rng.next_u64(), 6457827717110365317);
        assert_eq!(rng.next_u64(), 3203168211198807973);
    }
}
