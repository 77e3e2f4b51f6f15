//! Turning raw division records into a checked city tree with boundaries and unit grids.
//!
//! The plan is built in memory and either complete or refused: every problem is collected
//! (with the record it belongs to and the reason), and nothing is written unless there are none
//! left — `--repair` fixes what is safely fixable and lists each fix. Levels that have codes but
//! no polygons get generated boundaries inside their parent, marked `generated`; real polygons
//! replace generated ones when they arrive.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use geo::{BooleanOps, BoundingRect, Centroid};
use geo_types::{MultiPolygon, Point};
use jz_domain::division::{CodeShape, DivisionCode, DivisionLevel, GridCode};
use jz_geo::grid::GridOptions;

use super::source::{FieldMapping, LevelRule, RawDivision};

/// One problem of an import: where, which code, why, and whether `--repair` can fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportProblem {
    pub origin: String,
    pub code: Option<String>,
    pub reason: String,
    pub repairable: bool,
}

impl ImportProblem {
    pub fn file(name: &str, reason: impl Into<String>) -> ImportProblem {
        ImportProblem {
            origin: name.to_owned(),
            code: None,
            reason: reason.into(),
            repairable: false,
        }
    }

    pub fn at(origin: &str, code: Option<&str>, reason: impl Into<String>) -> ImportProblem {
        ImportProblem {
            origin: origin.to_owned(),
            code: code.map(str::to_owned),
            reason: reason.into(),
            repairable: false,
        }
    }

    pub fn repairable_if(mut self, repairable: bool) -> ImportProblem {
        self.repairable = repairable;
        self
    }
}

impl fmt::Display for ImportProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.origin)?;
        if let Some(code) = &self.code {
            write!(f, " ({code})")?;
        }
        write!(f, ": {}", self.reason)?;
        if self.repairable {
            write!(f, " [--repair fixes this]")?;
        }
        Ok(())
    }
}

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Fix what is safely fixable (close rings, untangle self-intersections, clip children to
    /// their parent, remove sibling overlaps) and list each fix, instead of refusing.
    pub repair: bool,
    /// Seed of generated boundaries: the same inputs and seed give the same polygons.
    pub seed: u64,
    pub grids: GridOptions,
    /// How much of a child may lie outside its parent, or overlap a sibling, before it is a
    /// problem: a share of the smaller polygon's area (simplified outlines rarely nest exactly).
    pub tolerance: f64,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            repair: false,
            seed: 1,
            grids: GridOptions::default(),
            tolerance: 0.01,
        }
    }
}

/// A division of the planned tree.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedDivision {
    pub code: DivisionCode,
    pub name: String,
    pub level: DivisionLevel,
    pub parent: Option<DivisionCode>,
    pub polygon: Option<MultiPolygon<f64>>,
    /// The polygon was generated (no real boundary was imported for it).
    pub generated: bool,
    pub weight: f64,
    pub source: String,
}

/// A unit grid of the planned tree.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedGrid {
    pub code: GridCode,
    pub polygon: MultiPolygon<f64>,
    pub area_m2: f64,
    pub centroid: Point<f64>,
    /// The cell is an exact axis-aligned rectangle (its bounding box).
    pub rectangle: bool,
    pub cell_size_m: f64,
    pub neighbours: Vec<GridCode>,
    /// The cell lies in a generated community.
    pub generated: bool,
}

/// A checked, complete city tree ready to be written.
#[derive(Debug, Clone, Default)]
pub struct ImportPlan {
    /// Parents before children.
    pub divisions: Vec<PlannedDivision>,
    pub grids: Vec<PlannedGrid>,
    /// Every fix `--repair` made.
    pub repairs: Vec<String>,
}

impl ImportPlan {
    pub fn count(&self, level: DivisionLevel) -> usize {
        self.divisions.iter().filter(|d| d.level == level).count()
    }

    pub fn generated_count(&self, level: DivisionLevel) -> usize {
        self.divisions
            .iter()
            .filter(|d| d.level == level && d.generated)
            .count()
    }
}

/// A stage of planning, for progress reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Checking,
    Generating,
    Gridding,
    Linking,
}

impl Stage {
    pub fn label(self) -> &'static str {
        match self {
            Stage::Checking => "checking boundaries",
            Stage::Generating => "generating boundaries",
            Stage::Gridding => "generating unit grids",
            Stage::Linking => "linking grid neighbours",
        }
    }
}

/// Receives progress: the stage, units done and the total.
pub type Progress<'a> = &'a (dyn Fn(Stage, usize, usize) + Sync);

/// Plans an import of `records` on top of `existing` divisions (the tree already stored).
/// Incoming records replace stored ones with the same code; stored generated polygons are
/// dropped and generated again, so a real polygon arriving for a parent reshapes its children.
pub fn plan_import(
    existing: Vec<PlannedDivision>,
    records: Vec<RawDivision>,
    mut problems: Vec<ImportProblem>,
    mapping: &FieldMapping,
    options: &ImportOptions,
    progress: Progress<'_>,
) -> Result<ImportPlan, Vec<ImportProblem>> {
    let mut repairs = Vec::new();
    // 1. Codes, levels and duplicates.
    let has_province_shape = records.iter().any(|r| {
        DivisionCode::parse(&r.code).is_ok_and(|c| c.implied_level() == CodeShape::Province)
    });
    let mut incoming: BTreeMap<DivisionCode, (RawDivision, DivisionLevel)> = BTreeMap::new();
    let mut skipped: HashMap<DivisionCode, Option<String>> = HashMap::new();
    for record in records {
        let code = match DivisionCode::parse(&record.code) {
            Ok(code) => code,
            Err(error) => {
                problems.push(ImportProblem::at(
                    &record.origin,
                    Some(&record.code),
                    error.to_string(),
                ));
                continue;
            }
        };
        let rule = match (&record.level, mapping.fixed_level) {
            (Some(value), _) => mapping.rule_for(value),
            (None, Some(level)) => Ok(LevelRule::Level(level)),
            (None, None) => Ok(rule_from_shape(code.implied_level(), has_province_shape)),
        };
        let level = match rule {
            Ok(LevelRule::Level(level)) => level,
            Ok(LevelRule::Skip) => {
                skipped.insert(code, record.parent.clone());
                continue;
            }
            Err(reason) => {
                problems.push(ImportProblem::at(
                    &record.origin,
                    Some(&record.code),
                    reason,
                ));
                continue;
            }
        };
        match incoming.get_mut(&code) {
            None => {
                incoming.insert(code, (record, level));
            }
            // Within one file a code may appear once.
            Some((earlier, _)) if earlier.file == record.file => problems.push(ImportProblem::at(
                &record.origin,
                Some(code.as_str()),
                format!("duplicate code: also at {}", earlier.origin),
            )),
            // Across files, records of one code are merged (polygons from one, names from another).
            Some((earlier, earlier_level)) => {
                if *earlier_level != level {
                    problems.push(ImportProblem::at(
                        &record.origin,
                        Some(code.as_str()),
                        format!(
                            "is a {level} here but a {earlier_level} at {}",
                            earlier.origin
                        ),
                    ));
                } else if earlier.geometry.is_some() && record.geometry.is_some() {
                    problems.push(ImportProblem::at(
                        &record.origin,
                        Some(code.as_str()),
                        format!("has a second polygon (the first is at {})", earlier.origin),
                    ));
                } else {
                    if earlier.name.is_empty() {
                        earlier.name = record.name;
                    }
                    if earlier.parent.is_none() {
                        earlier.parent = record.parent;
                    }
                    if earlier.weight.is_none() {
                        earlier.weight = record.weight;
                    }
                    if earlier.geometry.is_none() {
                        earlier.geometry = record.geometry;
                        earlier.origin = format!("{} + {}", earlier.origin, record.origin);
                    }
                }
            }
        }
    }

    // 2. Merge with the stored tree: stored divisions keep real polygons, lose generated ones.
    let mut tree: BTreeMap<DivisionCode, PlannedDivision> = existing
        .into_iter()
        .map(|mut division| {
            if division.generated {
                division.polygon = None;
            }
            (division.code, division)
        })
        .collect();
    let cities_incoming: Vec<DivisionCode> = incoming
        .iter()
        .filter(|(_, (_, level))| *level == DivisionLevel::City)
        .map(|(c, _)| *c)
        .collect();
    let city_of_tree = |tree: &BTreeMap<DivisionCode, PlannedDivision>| {
        let mut cities: Vec<DivisionCode> = tree
            .values()
            .filter(|d| d.level == DivisionLevel::City)
            .map(|d| d.code)
            .collect();
        cities.extend(cities_incoming.iter().copied());
        cities.sort();
        cities.dedup();
        cities
    };
    let cities = city_of_tree(&tree);
    if cities.len() > 1 {
        problems.push(ImportProblem::file(
            "import",
            format!(
                "more than one city in the tree ({}); a Jingzhi instance manages one city",
                cities
                    .iter()
                    .map(DivisionCode::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let city = cities.first().copied();

    // 3. Parents.
    let resolve_skipped = |mut code: DivisionCode| {
        let mut hops = 0;
        while let Some(parent) = skipped.get(&code) {
            hops += 1;
            match parent.as_deref().map(DivisionCode::parse) {
                Some(Ok(parent)) if hops < 8 => code = parent,
                _ => return None,
            }
        }
        Some(code)
    };
    for (code, (record, level)) in &incoming {
        let parent = match level {
            DivisionLevel::City => None,
            _ => {
                let given = record.parent.as_deref().map(DivisionCode::parse);
                let candidate = match given {
                    Some(Ok(parent)) => resolve_skipped(parent),
                    Some(Err(error)) => {
                        problems.push(ImportProblem::at(
                            &record.origin,
                            Some(code.as_str()),
                            format!("parent: {error}"),
                        ));
                        continue;
                    }
                    None => inferred_parent(code, *level, city),
                };
                match candidate {
                    Some(parent) => Some(parent),
                    None => {
                        problems.push(ImportProblem::at(
                            &record.origin,
                            Some(code.as_str()),
                            "has no parent and none can be inferred from its code",
                        ));
                        continue;
                    }
                }
            }
        };
        let stored = tree.get(code);
        let polygon = record
            .geometry
            .clone()
            .or_else(|| stored.and_then(|s| s.polygon.clone()));
        let generated =
            record.geometry.is_none() && stored.is_none_or(|s| s.generated || s.polygon.is_none());
        tree.insert(
            *code,
            PlannedDivision {
                code: *code,
                name: if record.name.is_empty() {
                    stored.map(|s| s.name.clone()).unwrap_or_default()
                } else {
                    record.name.clone()
                },
                level: *level,
                parent,
                polygon,
                generated,
                weight: record
                    .weight
                    .filter(|w| w.is_finite() && *w > 0.0)
                    .unwrap_or(1.0),
                source: record.origin.clone(),
            },
        );
    }
    for division in tree.values() {
        let Some(parent) = division.parent else {
            continue;
        };
        let origin = incoming
            .get(&division.code)
            .map_or("stored tree", |(r, _)| r.origin.as_str());
        match tree.get(&parent) {
            None => problems.push(ImportProblem::at(
                origin,
                Some(division.code.as_str()),
                format!("unknown parent {parent}"),
            )),
            Some(found) if Some(found.level) != division.level.parent() => {
                problems.push(ImportProblem::at(
                    origin,
                    Some(division.code.as_str()),
                    format!(
                        "parent {parent} is a {}, but a {} belongs to a {}",
                        found.level,
                        division.level,
                        division
                            .level
                            .parent()
                            .map_or("nothing", DivisionLevel::as_str)
                    ),
                ))
            }
            Some(_) => {}
        }
    }
    // Problems found on reading are repaired when asked and all repairable; otherwise they are
    // reported together with the geometry problems below, so one run names everything.
    if options.repair && problems.iter().all(|p| p.repairable) {
        repairs.extend(
            problems
                .drain(..)
                .map(|p| format!("{p} — repaired on reading")),
        );
    }

    // 4. Geometry of real polygons: validity, containment in the parent, sibling overlaps.
    let mut geometry_problems = Vec::new();
    check_geometry(
        &mut tree,
        &incoming,
        options,
        &mut geometry_problems,
        &mut repairs,
        progress,
    );
    problems.extend(geometry_problems);
    if !problems.is_empty() {
        return Err(problems);
    }

    // 5. Generated boundaries, top-down.
    generate_boundaries(&mut tree, options.seed, progress);

    // 6. Unit grids and their neighbours.
    let divisions = order_top_down(tree);
    let grids = plan_grids(&divisions, &options.grids, progress);
    Ok(ImportPlan {
        divisions,
        grids,
        repairs,
    })
}

fn rule_from_shape(shape: CodeShape, has_province: bool) -> LevelRule {
    match shape {
        CodeShape::Province => LevelRule::Level(DivisionLevel::City),
        CodeShape::Prefecture if has_province => LevelRule::Skip,
        CodeShape::Prefecture => LevelRule::Level(DivisionLevel::City),
        CodeShape::County => LevelRule::Level(DivisionLevel::District),
        CodeShape::Town => LevelRule::Level(DivisionLevel::Street),
        CodeShape::Village => LevelRule::Level(DivisionLevel::Community),
    }
}

/// The parent a code implies: a community's street, a street's district, a district's city.
fn inferred_parent(
    code: &DivisionCode,
    level: DivisionLevel,
    city: Option<DivisionCode>,
) -> Option<DivisionCode> {
    let digits = code.as_str();
    match level {
        DivisionLevel::City => None,
        DivisionLevel::District => city,
        DivisionLevel::Street => DivisionCode::parse(&digits[..6]).ok(),
        DivisionLevel::Community => DivisionCode::parse(&digits[..9]).ok(),
    }
}

fn check_geometry(
    tree: &mut BTreeMap<DivisionCode, PlannedDivision>,
    incoming: &BTreeMap<DivisionCode, (RawDivision, DivisionLevel)>,
    options: &ImportOptions,
    problems: &mut Vec<ImportProblem>,
    repairs: &mut Vec<String>,
    progress: Progress<'_>,
) {
    let origin_of = |code: &DivisionCode| {
        incoming
            .get(code)
            .map_or("stored tree".to_owned(), |(r, _)| r.origin.clone())
    };
    let codes: Vec<DivisionCode> = tree
        .values()
        .filter(|d| d.polygon.is_some() && !d.generated)
        .map(|d| d.code)
        .collect();
    for (done, code) in codes.iter().enumerate() {
        progress(Stage::Checking, done, codes.len());
        let division = tree.get_mut(code).expect("listed above");
        let polygon = division.polygon.as_ref().expect("listed with a polygon");
        let found = jz_geo::validate::polygon_problems(polygon);
        if found.is_empty() {
            continue;
        }
        if options.repair {
            let repaired = jz_geo::validate::repair(polygon);
            if jz_geo::validate::polygon_problems(&repaired).is_empty() {
                for problem in &found {
                    repairs.push(format!(
                        "{} ({code}): {problem} — repaired",
                        origin_of(code)
                    ));
                }
                division.polygon = Some(repaired);
                continue;
            }
        }
        for problem in found {
            problems.push(
                ImportProblem::at(&origin_of(code), Some(code.as_str()), problem.to_string())
                    .repairable_if(true),
            );
        }
    }
    if !problems.is_empty() {
        return;
    }
    // Containment: a real child must lie inside its real parent.
    for code in &codes {
        let Some(parent_code) = tree[code].parent else {
            continue;
        };
        let Some(parent_polygon) = tree
            .get(&parent_code)
            .filter(|p| !p.generated)
            .and_then(|p| p.polygon.clone())
        else {
            continue;
        };
        let child = tree[code].polygon.clone().expect("listed with a polygon");
        let child_area = jz_geo::measure::area_m2(&child);
        let outside = jz_geo::validate::outside_area_m2(&child, &parent_polygon);
        if outside > options.tolerance * child_area {
            let share = 100.0 * outside / child_area.max(1.0);
            if options.repair {
                let clipped = child.intersection(&parent_polygon);
                repairs.push(format!("{} ({code}): {share:.1} % lay outside its parent {parent_code} — clipped to the parent", origin_of(code)));
                tree.get_mut(code).expect("present").polygon = Some(clipped);
            } else {
                problems.push(
                    ImportProblem::at(&origin_of(code), Some(code.as_str()), format!("{share:.1} % of its area ({:.0} m²) lies outside its parent {parent_code}", outside))
                        .repairable_if(true),
                );
            }
        }
    }
    // Overlaps between siblings.
    let mut by_parent: BTreeMap<Option<DivisionCode>, Vec<DivisionCode>> = BTreeMap::new();
    for code in &codes {
        by_parent.entry(tree[code].parent).or_default().push(*code);
    }
    for siblings in by_parent.values() {
        for (i, a) in siblings.iter().enumerate() {
            for b in &siblings[i + 1..] {
                let (pa, pb) = (
                    tree[a].polygon.clone().expect("polygon"),
                    tree[b].polygon.clone().expect("polygon"),
                );
                let (Some(ra), Some(rb)) = (pa.bounding_rect(), pb.bounding_rect()) else {
                    continue;
                };
                if ra.max().x < rb.min().x
                    || rb.max().x < ra.min().x
                    || ra.max().y < rb.min().y
                    || rb.max().y < ra.min().y
                {
                    continue;
                }
                let overlap = jz_geo::validate::overlap_area_m2(&pa, &pb);
                let smaller = jz_geo::measure::area_m2(&pa).min(jz_geo::measure::area_m2(&pb));
                if overlap > options.tolerance * smaller {
                    if options.repair {
                        tree.get_mut(b).expect("present").polygon = Some(pb.difference(&pa));
                        repairs.push(format!("{} ({b}): overlapped its sibling {a} by {overlap:.0} m² — the overlap was removed from {b}", origin_of(b)));
                    } else {
                        problems.push(
                            ImportProblem::at(
                                &origin_of(b),
                                Some(b.as_str()),
                                format!("overlaps its sibling {a} by {overlap:.0} m²"),
                            )
                            .repairable_if(true),
                        );
                    }
                }
            }
        }
    }
}

/// Gives every division without a polygon a generated one inside its parent, top-down.
fn generate_boundaries(
    tree: &mut BTreeMap<DivisionCode, PlannedDivision>,
    seed: u64,
    progress: Progress<'_>,
) {
    let mut children: BTreeMap<DivisionCode, Vec<DivisionCode>> = BTreeMap::new();
    for division in tree.values() {
        if let Some(parent) = division.parent {
            children.entry(parent).or_default().push(division.code);
        }
    }
    let total = tree.len();
    let mut done = 0;
    for level in DivisionLevel::ALL {
        let parents: Vec<DivisionCode> = tree
            .values()
            .filter(|d| d.level == level)
            .map(|d| d.code)
            .collect();
        for parent in parents {
            done += 1;
            progress(Stage::Generating, done, total);
            let Some(kids) = children.get(&parent) else {
                continue;
            };
            let Some(parent_polygon) = tree[&parent].polygon.clone() else {
                continue;
            };
            let missing: Vec<DivisionCode> = kids
                .iter()
                .copied()
                .filter(|k| tree[k].polygon.is_none())
                .collect();
            if missing.is_empty() {
                continue;
            }
            // Real children keep their polygons; the rest of the parent is shared by the others.
            let mut free = parent_polygon;
            for kid in kids.iter().filter(|k| !missing.contains(k)) {
                free = free.difference(tree[kid].polygon.as_ref().expect("real child"));
            }
            let weights: Vec<f64> = missing.iter().map(|k| tree[k].weight).collect();
            let pieces = jz_geo::partition::partition(&free, &weights, seed ^ code_hash(&parent));
            for (kid, piece) in missing.iter().zip(pieces) {
                let division = tree.get_mut(kid).expect("child");
                division.polygon = Some(piece);
                division.generated = true;
            }
        }
    }
}

/// A stable hash of a code (FNV-1a), so each parent's generation has its own seed.
fn code_hash(code: &DivisionCode) -> u64 {
    code.as_str()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        })
}

fn order_top_down(tree: BTreeMap<DivisionCode, PlannedDivision>) -> Vec<PlannedDivision> {
    let mut divisions: Vec<PlannedDivision> = tree.into_values().collect();
    divisions.sort_by(|a, b| a.level.cmp(&b.level).then(a.code.cmp(&b.code)));
    divisions
}

fn plan_grids(
    divisions: &[PlannedDivision],
    options: &GridOptions,
    progress: Progress<'_>,
) -> Vec<PlannedGrid> {
    let communities: Vec<&PlannedDivision> = divisions
        .iter()
        .filter(|d| d.level == DivisionLevel::Community && d.polygon.is_some())
        .collect();
    let mut grids = Vec::new();
    for (done, community) in communities.iter().enumerate() {
        progress(Stage::Gridding, done, communities.len());
        let polygon = community.polygon.as_ref().expect("filtered");
        for cell in jz_geo::grid::grid_cells(polygon, options) {
            let Some(code) = GridCode::new(&community.code, cell.seq) else {
                continue;
            };
            grids.push(PlannedGrid {
                code,
                centroid: cell.centroid,
                area_m2: cell.area_m2,
                rectangle: cell.rectangle,
                cell_size_m: cell.cell_size_m,
                polygon: cell.polygon,
                neighbours: Vec::new(),
                generated: community.generated,
            });
        }
    }
    progress(Stage::Gridding, communities.len(), communities.len());
    progress(Stage::Linking, 0, 1);
    let polygons: Vec<MultiPolygon<f64>> = grids.iter().map(|g| g.polygon.clone()).collect();
    let neighbours = jz_geo::grid::neighbours(&polygons);
    drop(polygons);
    let codes: Vec<GridCode> = grids.iter().map(|g| g.code).collect();
    for (grid, list) in grids.iter_mut().zip(neighbours) {
        grid.neighbours = list.into_iter().map(|i| codes[i]).collect();
    }
    progress(Stage::Linking, 1, 1);
    grids
}

/// The centroid of a division's polygon, if it has one.
pub fn centroid(polygon: &MultiPolygon<f64>) -> Option<Point<f64>> {
    polygon.centroid()
}
