//! Checks and repairs of division boundaries: what is wrong with a multipolygon, a repair of
//! what can be fixed safely, and the areas by which a child leaves its parent or two divisions
//! overlap.
//!
//! Unclosed rings cannot be seen here (geo closes rings on construction); callers detect them
//! on the raw GeoJSON.

use std::fmt;

use geo::algorithm::bool_ops::FillRule;
use geo::algorithm::line_intersection::{LineIntersection, line_intersection};
use geo::algorithm::validation::{InvalidMultiPolygon, InvalidPolygon, RingRole, Validation};
use geo::{BooleanOps, unary_union};
use geo_types::{Coord, Line, LineString, MultiPolygon, Polygon};

use crate::measure::area_m2;
use crate::split::{Shape, collinear, planar_ring_area};

/// Which ring of a polygon a problem concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ring {
    /// The outer boundary.
    Exterior,
    /// The hole at this index among the polygon's holes.
    Hole(usize),
}

impl fmt::Display for Ring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ring::Exterior => f.write_str("the exterior ring"),
            Ring::Hole(i) => write!(f, "hole {i}"),
        }
    }
}

impl From<RingRole> for Ring {
    fn from(role: RingRole) -> Self {
        match role {
            RingRole::Exterior => Ring::Exterior,
            RingRole::Interior(i) => Ring::Hole(i),
        }
    }
}

/// One reason why a division boundary is not a valid WGS-84 multipolygon.
#[derive(Debug, Clone, PartialEq)]
pub enum PolygonProblem {
    /// The multipolygon has no polygon at all.
    Empty,
    /// A coordinate is NaN or infinite; no further checks are made on such input.
    NonFinite {
        /// Index of the polygon in the multipolygon.
        polygon: usize,
        /// The ring holding the coordinate.
        ring: Ring,
        /// Index of the coordinate in the ring.
        vertex: usize,
    },
    /// A coordinate lies outside longitude [-180, 180] or latitude [-90, 90].
    OutOfRange {
        /// Index of the polygon in the multipolygon.
        polygon: usize,
        /// The ring holding the coordinate.
        ring: Ring,
        /// Index of the coordinate in the ring.
        vertex: usize,
        /// The offending coordinate.
        at: Coord<f64>,
    },
    /// A ring has fewer than three distinct points.
    TooFewPoints {
        /// Index of the polygon in the multipolygon.
        polygon: usize,
        /// The ring.
        ring: Ring,
    },
    /// A ring has three or more points but encloses no area (its points are collinear).
    ZeroArea {
        /// Index of the polygon in the multipolygon.
        polygon: usize,
        /// The ring.
        ring: Ring,
    },
    /// A ring crosses or touches itself.
    SelfIntersection {
        /// Index of the polygon in the multipolygon.
        polygon: usize,
        /// The ring.
        ring: Ring,
        /// A point where it does so, when one was found.
        location: Option<Coord<f64>>,
    },
    /// A hole is not inside its polygon's exterior ring.
    HoleOutside {
        /// Index of the polygon in the multipolygon.
        polygon: usize,
        /// Index of the hole.
        hole: usize,
    },
    /// Two rings of one polygon touch along a line rather than at points.
    RingsTouchAlongLine {
        /// Index of the polygon in the multipolygon.
        polygon: usize,
        /// One ring.
        first: Ring,
        /// The other ring.
        second: Ring,
    },
    /// Two rings of one polygon overlap in area.
    RingsOverlap {
        /// Index of the polygon in the multipolygon.
        polygon: usize,
        /// One ring.
        first: Ring,
        /// The other ring.
        second: Ring,
    },
    /// Two polygons of the multipolygon overlap in area.
    PolygonsOverlap {
        /// Index of one polygon.
        first: usize,
        /// Index of the other polygon.
        second: usize,
    },
    /// Two polygons of the multipolygon share a stretch of boundary (they should be one).
    PolygonsTouchAlongLine {
        /// Index of one polygon.
        first: usize,
        /// Index of the other polygon.
        second: usize,
    },
}

impl fmt::Display for PolygonProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolygonProblem::Empty => f.write_str("The boundary has no polygon."),
            PolygonProblem::NonFinite {
                polygon,
                ring,
                vertex,
            } => write!(
                f,
                "Polygon {polygon}: {ring} has a coordinate that is not a finite number at vertex {vertex}."
            ),
            PolygonProblem::OutOfRange {
                polygon,
                ring,
                vertex,
                at,
            } => write!(
                f,
                "Polygon {polygon}: {ring} has vertex {vertex} at ({}, {}), outside longitude [-180, 180] or latitude [-90, 90].",
                at.x, at.y
            ),
            PolygonProblem::TooFewPoints { polygon, ring } => write!(
                f,
                "Polygon {polygon}: {ring} has fewer than three distinct points."
            ),
            PolygonProblem::ZeroArea { polygon, ring } => write!(
                f,
                "Polygon {polygon}: {ring} encloses no area because its points are collinear."
            ),
            PolygonProblem::SelfIntersection {
                polygon,
                ring,
                location,
            } => match location {
                Some(at) => write!(
                    f,
                    "Polygon {polygon}: {ring} crosses or touches itself near ({}, {}).",
                    at.x, at.y
                ),
                None => write!(f, "Polygon {polygon}: {ring} crosses or touches itself."),
            },
            PolygonProblem::HoleOutside { polygon, hole } => write!(
                f,
                "Polygon {polygon}: hole {hole} is not inside the exterior ring."
            ),
            PolygonProblem::RingsTouchAlongLine {
                polygon,
                first,
                second,
            } => write!(
                f,
                "Polygon {polygon}: {first} and {second} touch along a line, not just at points."
            ),
            PolygonProblem::RingsOverlap {
                polygon,
                first,
                second,
            } => write!(f, "Polygon {polygon}: {first} and {second} overlap."),
            PolygonProblem::PolygonsOverlap { first, second } => {
                write!(f, "Polygons {first} and {second} overlap.")
            }
            PolygonProblem::PolygonsTouchAlongLine { first, second } => write!(
                f,
                "Polygons {first} and {second} share a stretch of boundary and should be one polygon."
            ),
        }
    }
}

fn rings_of(polygon: &Polygon<f64>) -> impl Iterator<Item = (Ring, &LineString<f64>)> {
    std::iter::once((Ring::Exterior, polygon.exterior())).chain(
        polygon
            .interiors()
            .iter()
            .enumerate()
            .map(|(i, ring)| (Ring::Hole(i), ring)),
    )
}

fn distinct_points(ring: &LineString<f64>) -> Vec<Coord<f64>> {
    let mut points = ring.0.clone();
    points.dedup();
    while points.len() > 1 && points.first() == points.last() {
        points.pop();
    }
    points
}

/// Everything wrong with a multipolygon, in a stable order: per polygon and ring first, then
/// between polygons. An empty list means the boundary is valid (OGC simple features rules, with
/// coordinates in WGS-84 range). Uses geo's `Validation` for the topological checks.
pub fn polygon_problems(multi_polygon: &MultiPolygon<f64>) -> Vec<PolygonProblem> {
    if multi_polygon.0.is_empty() {
        return vec![PolygonProblem::Empty];
    }
    let mut problems = Vec::new();
    for (p, polygon) in multi_polygon.0.iter().enumerate() {
        for (ring, line) in rings_of(polygon) {
            for (vertex, c) in line.0.iter().enumerate() {
                if !(c.x.is_finite() && c.y.is_finite()) {
                    problems.push(PolygonProblem::NonFinite {
                        polygon: p,
                        ring,
                        vertex,
                    });
                }
            }
        }
    }
    if !problems.is_empty() {
        return problems;
    }
    let mut degenerate: Vec<(usize, Ring)> = Vec::new();
    for (p, polygon) in multi_polygon.0.iter().enumerate() {
        for (ring, line) in rings_of(polygon) {
            for (vertex, c) in line.0.iter().enumerate() {
                if !(-180.0..=180.0).contains(&c.x) || !(-90.0..=90.0).contains(&c.y) {
                    problems.push(PolygonProblem::OutOfRange {
                        polygon: p,
                        ring,
                        vertex,
                        at: *c,
                    });
                }
            }
            let points = distinct_points(line);
            if points.len() < 3 {
                problems.push(PolygonProblem::TooFewPoints { polygon: p, ring });
                degenerate.push((p, ring));
            } else if collinear(&points) {
                problems.push(PolygonProblem::ZeroArea { polygon: p, ring });
                degenerate.push((p, ring));
            }
        }
    }
    for error in multi_polygon.validation_errors() {
        match error {
            InvalidMultiPolygon::InvalidPolygon(index, error) => {
                let p = index.0;
                let problem = match error {
                    // Already reported above, with the zero-area case told apart.
                    InvalidPolygon::TooFewPointsInRing(_) | InvalidPolygon::NonFiniteCoord(..) => {
                        continue;
                    }
                    InvalidPolygon::SelfIntersection(role) => {
                        let ring = Ring::from(role);
                        if degenerate.contains(&(p, ring)) {
                            continue;
                        }
                        let line = match ring {
                            Ring::Exterior => multi_polygon.0[p].exterior(),
                            Ring::Hole(i) => &multi_polygon.0[p].interiors()[i],
                        };
                        PolygonProblem::SelfIntersection {
                            polygon: p,
                            ring,
                            location: self_intersection_location(&distinct_points(line)),
                        }
                    }
                    InvalidPolygon::InteriorRingNotContainedInExteriorRing(role) => {
                        let ring = Ring::from(role);
                        if degenerate.contains(&(p, ring))
                            || degenerate.contains(&(p, Ring::Exterior))
                        {
                            continue;
                        }
                        match ring {
                            Ring::Hole(hole) => PolygonProblem::HoleOutside { polygon: p, hole },
                            Ring::Exterior => continue,
                        }
                    }
                    InvalidPolygon::IntersectingRingsOnALine(a, b) => {
                        PolygonProblem::RingsTouchAlongLine {
                            polygon: p,
                            first: a.into(),
                            second: b.into(),
                        }
                    }
                    InvalidPolygon::IntersectingRingsOnAnArea(a, b) => {
                        PolygonProblem::RingsOverlap {
                            polygon: p,
                            first: a.into(),
                            second: b.into(),
                        }
                    }
                };
                if !problems.contains(&problem) {
                    problems.push(problem);
                }
            }
            InvalidMultiPolygon::ElementsOverlaps(a, b) => {
                problems.push(PolygonProblem::PolygonsOverlap {
                    first: a.0,
                    second: b.0,
                })
            }
            InvalidMultiPolygon::ElementsTouchOnALine(a, b) => {
                problems.push(PolygonProblem::PolygonsTouchAlongLine {
                    first: a.0,
                    second: b.0,
                })
            }
        }
    }
    problems
}

/// A point where an open ring (no closing duplicate) crosses or touches itself: two
/// non-adjacent edges meeting, or two adjacent edges folding back over each other. Edges are
/// swept in order of their western end, so typical rings take about `n log n` steps.
fn self_intersection_location(ring: &[Coord<f64>]) -> Option<Coord<f64>> {
    let n = ring.len();
    if n < 3 {
        return None;
    }
    let mut edges: Vec<(usize, Line<f64>)> = (0..n)
        .map(|i| (i, Line::new(ring[i], ring[(i + 1) % n])))
        .collect();
    edges.sort_by(|a, b| {
        a.1.start
            .x
            .min(a.1.end.x)
            .total_cmp(&b.1.start.x.min(b.1.end.x))
    });
    for a in 0..edges.len() {
        let (i, line_a) = edges[a];
        let max_x = line_a.start.x.max(line_a.end.x);
        for &(j, line_b) in &edges[a + 1..] {
            if line_b.start.x.min(line_b.end.x) > max_x {
                break;
            }
            let adjacent = (i + 1) % n == j || (j + 1) % n == i;
            match line_intersection(line_a, line_b) {
                Some(LineIntersection::SinglePoint { intersection, .. }) if !adjacent => {
                    return Some(intersection);
                }
                Some(LineIntersection::Collinear { intersection })
                    if !adjacent || intersection.start != intersection.end =>
                {
                    return Some(intersection.start);
                }
                _ => {}
            }
        }
    }
    None
}

/// The region a set of rings winds around under the non-zero rule, each ring first wound
/// counter-clockwise so that overlapping rings add up instead of cancelling.
fn non_zero_region(rings: &[LineString<f64>]) -> MultiPolygon<f64> {
    let polygons: Vec<Polygon<f64>> = rings
        .iter()
        .map(|ring| {
            let mut points = distinct_points(ring);
            if planar_ring_area(&points) < 0.0 {
                points.reverse();
            }
            if let Some(&first) = points.first() {
                points.push(first);
            }
            Polygon::new(LineString::new(points), vec![])
        })
        .collect();
    MultiPolygon::new(polygons)
        .union_with_fill_rule(&MultiPolygon::new(Vec::new()), FillRule::NonZero)
}

/// Repairs what can be fixed without guessing: drops non-finite and repeated consecutive
/// points, rings with fewer than three distinct points or no area, and polygons left without an
/// exterior; winds exteriors counter-clockwise and holes clockwise. If problems remain
/// (self-intersections, overlapping holes or polygons, holes outside the exterior), each ring is
/// replaced by the region it winds around (non-zero rule, so both lobes of a bow-tie stay), each
/// polygon becomes its exterior region less the union of its hole regions, and the polygons are
/// unioned. A boundary that is already valid comes back with its coordinates unchanged (up to
/// winding and the removed duplicates).
pub fn repair(multi_polygon: &MultiPolygon<f64>) -> MultiPolygon<f64> {
    let cleaned = Shape::from_multi_polygon(multi_polygon).to_multi_polygon();
    if cleaned.0.is_empty() || polygon_problems(&cleaned).is_empty() {
        return cleaned;
    }
    let pieces: Vec<MultiPolygon<f64>> = cleaned
        .0
        .iter()
        .map(|polygon| {
            let exterior = non_zero_region(std::slice::from_ref(polygon.exterior()));
            if polygon.interiors().is_empty() {
                exterior
            } else {
                let holes = non_zero_region(polygon.interiors());
                exterior.difference(&holes)
            }
        })
        .collect();
    let polygons: Vec<Polygon<f64>> = pieces.into_iter().flat_map(|mp| mp.0).collect();
    let united = unary_union(&polygons);
    Shape::from_multi_polygon(&united).to_multi_polygon()
}

/// Area in square metres of the part of `child` that lies outside `parent`.
pub fn outside_area_m2(child: &MultiPolygon<f64>, parent: &MultiPolygon<f64>) -> f64 {
    area_m2(&child.difference(parent))
}

/// Area in square metres shared by `a` and `b`.
pub fn overlap_area_m2(a: &MultiPolygon<f64>, b: &MultiPolygon<f64>) -> f64 {
    area_m2(&a.intersection(b))
}

/// Whether `child` lies within `parent` except for at most `tolerance_m2` square metres
/// (digitising differences between sources).
pub fn covers_within(
    parent: &MultiPolygon<f64>,
    child: &MultiPolygon<f64>,
    tolerance_m2: f64,
) -> bool {
    outside_area_m2(child, parent) <= tolerance_m2
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::polygon;

    fn square(x: f64, y: f64, side: f64) -> Polygon<f64> {
        polygon![
            (x: x, y: y), (x: x + side, y: y), (x: x + side, y: y + side), (x: x, y: y + side),
        ]
    }

    fn mp(polygons: Vec<Polygon<f64>>) -> MultiPolygon<f64> {
        MultiPolygon::new(polygons)
    }

    #[test]
    fn valid_boundaries_have_no_problems() {
        let with_hole = Polygon::new(
            square(121.0, 31.0, 0.1).exterior().clone(),
            vec![square(121.02, 31.02, 0.02).exterior().clone()],
        );
        assert!(polygon_problems(&mp(vec![with_hole, square(121.2, 31.0, 0.1)])).is_empty());
    }

    #[test]
    fn each_kind_of_problem_is_reported_with_a_sentence() {
        let bowtie =
            polygon![(x: 0.0, y: 0.0), (x: 2.0, y: 2.0), (x: 2.0, y: 0.0), (x: 0.0, y: 2.0)];
        let collinear = polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 1.0), (x: 2.0, y: 2.0)];
        let two_points = Polygon::new(
            LineString::from(vec![(0.0, 0.0), (1.0, 0.0), (0.0, 0.0)]),
            vec![],
        );
        let hole_outside = Polygon::new(
            square(0.0, 0.0, 1.0).exterior().clone(),
            vec![square(5.0, 5.0, 1.0).exterior().clone()],
        );
        let nan = polygon![(x: 0.0, y: 0.0), (x: f64::NAN, y: 0.0), (x: 1.0, y: 1.0)];
        let far = square(179.5, 0.0, 1.0);
        let cases: Vec<(MultiPolygon<f64>, PolygonProblem, &str)> = vec![
            (
                mp(vec![]),
                PolygonProblem::Empty,
                "The boundary has no polygon.",
            ),
            (
                mp(vec![bowtie]),
                PolygonProblem::SelfIntersection {
                    polygon: 0,
                    ring: Ring::Exterior,
                    location: Some(Coord { x: 1.0, y: 1.0 }),
                },
                "Polygon 0: the exterior ring crosses or touches itself near (1, 1).",
            ),
            (
                mp(vec![collinear]),
                PolygonProblem::ZeroArea {
                    polygon: 0,
                    ring: Ring::Exterior,
                },
                "Polygon 0: the exterior ring encloses no area because its points are collinear.",
            ),
            (
                mp(vec![two_points]),
                PolygonProblem::TooFewPoints {
                    polygon: 0,
                    ring: Ring::Exterior,
                },
                "Polygon 0: the exterior ring has fewer than three distinct points.",
            ),
            (
                mp(vec![hole_outside]),
                PolygonProblem::HoleOutside {
                    polygon: 0,
                    hole: 0,
                },
                "Polygon 0: hole 0 is not inside the exterior ring.",
            ),
            (
                mp(vec![square(0.0, 0.0, 2.0), square(1.0, 1.0, 2.0)]),
                PolygonProblem::PolygonsOverlap {
                    first: 0,
                    second: 1,
                },
                "Polygons 0 and 1 overlap.",
            ),
            (
                mp(vec![square(0.0, 0.0, 1.0), square(1.0, 0.0, 1.0)]),
                PolygonProblem::PolygonsTouchAlongLine {
                    first: 0,
                    second: 1,
                },
                "Polygons 0 and 1 share a stretch of boundary and should be one polygon.",
            ),
            (
                mp(vec![nan]),
                PolygonProblem::NonFinite {
                    polygon: 0,
                    ring: Ring::Exterior,
                    vertex: 1,
                },
                "Polygon 0: the exterior ring has a coordinate that is not a finite number at vertex 1.",
            ),
            (
                mp(vec![far]),
                PolygonProblem::OutOfRange {
                    polygon: 0,
                    ring: Ring::Exterior,
                    vertex: 1,
                    at: Coord { x: 180.5, y: 0.0 },
                },
                "Polygon 0: the exterior ring has vertex 1 at (180.5, 0), outside longitude [-180, 180] or latitude [-90, 90].",
            ),
        ];
        for (input, expected, sentence) in cases {
            let problems = polygon_problems(&input);
            assert!(
                problems.contains(&expected),
                "expected {expected:?} in {problems:?}"
            );
            assert_eq!(expected.to_string(), sentence);
        }
    }

    #[test]
    fn repair_fixes_what_is_safely_fixable() {
        let bowtie = mp(vec![polygon![
            (x: 121.0, y: 31.0), (x: 121.02, y: 31.02), (x: 121.02, y: 31.0), (x: 121.0, y: 31.02),
        ]]);
        let fixed = repair(&bowtie);
        assert!(
            polygon_problems(&fixed).is_empty(),
            "{:?}",
            polygon_problems(&fixed)
        );
        assert_eq!(fixed.0.len(), 2, "both lobes of the bow-tie stay");
        let expected = area_m2(&mp(vec![square(121.0, 31.0, 0.02)])) / 2.0;
        assert!((area_m2(&fixed) - expected).abs() < 1e-6 * expected);

        let overlapping = mp(vec![square(121.0, 31.0, 0.02), square(121.01, 31.01, 0.02)]);
        let fixed = repair(&overlapping);
        assert!(polygon_problems(&fixed).is_empty());
        let expected = area_m2(&mp(vec![square(121.0, 31.0, 0.02)])) * 1.75;
        assert!((area_m2(&fixed) - expected).abs() < 1e-3 * expected);

        let repeated = mp(vec![Polygon::new(
            LineString::from(vec![
                (121.0, 31.0),
                (121.0, 31.0),
                (121.01, 31.0),
                (121.01, 31.01),
                (121.01, 31.01),
                (121.0, 31.01),
                (121.0, 31.0),
            ]),
            vec![LineString::from(vec![
                (121.001, 31.001),
                (121.002, 31.001),
                (121.003, 31.001),
                (121.001, 31.001),
            ])],
        )]);
        let fixed = repair(&repeated);
        assert!(polygon_problems(&fixed).is_empty());
        assert_eq!(fixed.0[0].exterior().0.len(), 5);
        assert!(
            fixed.0[0].interiors().is_empty(),
            "the zero-area hole is dropped"
        );

        let valid = mp(vec![square(121.0, 31.0, 0.01)]);
        assert_eq!(repair(&valid), valid);
    }

    #[test]
    fn containment_and_overlap_areas() {
        let parent = mp(vec![square(121.0, 31.0, 0.02)]);
        let inside = mp(vec![square(121.005, 31.005, 0.01)]);
        let half_out = mp(vec![square(121.015, 31.005, 0.01)]);
        assert!(outside_area_m2(&inside, &parent) < 1e-6);
        assert!(covers_within(&parent, &inside, 0.0));
        let half = area_m2(&half_out) / 2.0;
        assert!((outside_area_m2(&half_out, &parent) - half).abs() < 1e-3 * half);
        assert!(!covers_within(&parent, &half_out, 1.0));
        assert!((overlap_area_m2(&parent, &half_out) - half).abs() < 1e-3 * half);
        assert!(overlap_area_m2(&inside, &mp(vec![square(122.0, 31.0, 0.01)])) == 0.0);
    }
}
