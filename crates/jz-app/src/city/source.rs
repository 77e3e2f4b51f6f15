//! Reading division sources — GeoJSON feature collections and CSV code tables — into raw
//! records, with property names mapped by options so any city's files import.
//!
//! Nothing is trusted yet: codes, levels and parents are kept as text, and every problem found
//! while reading (a ring that does not close, a coordinate that is not a number) is reported
//! with the feature it belongs to.

use std::collections::BTreeMap;

use geo_types::{Coord, LineString, MultiPolygon, Polygon};
use jz_domain::division::DivisionLevel;

use super::plan::ImportProblem;

/// What a level value in a source means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LevelRule {
    /// Records at this level are divisions of that level.
    Level(DivisionLevel),
    /// Records at this level are not kept; their children hang on their parent instead (for
    /// example `prefecture` — 市辖区 — inside a municipality).
    Skip,
}

/// Which property (GeoJSON) or column (CSV) holds each field.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldMapping {
    pub code: String,
    pub name: String,
    /// The level field; when absent, `fixed_level` applies to every record.
    pub level: Option<String>,
    /// The parent's code; when absent or empty, the parent is inferred from the code.
    pub parent: Option<String>,
    /// A numeric field that sizes generated children (e.g. population); equal sizes otherwise.
    pub weight: Option<String>,
    pub fixed_level: Option<DivisionLevel>,
    /// How level values map to levels, after the built-in synonyms (city/province,
    /// district/county, street/town/township, community/village; `prefecture` is skipped).
    pub level_rules: BTreeMap<String, LevelRule>,
}

impl Default for FieldMapping {
    fn default() -> Self {
        FieldMapping {
            code: "code".into(),
            name: "name".into(),
            level: Some("level".into()),
            parent: Some("parent_code".into()),
            weight: None,
            fixed_level: None,
            level_rules: BTreeMap::new(),
        }
    }
}

impl FieldMapping {
    /// The rule for a level value: an explicit rule, else a synonym, else an error.
    pub fn rule_for(&self, value: &str) -> Result<LevelRule, String> {
        let key = value.trim().to_ascii_lowercase();
        if let Some(rule) = self.level_rules.get(&key) {
            return Ok(rule.clone());
        }
        if key == "prefecture" {
            return Ok(LevelRule::Skip);
        }
        key.parse::<DivisionLevel>()
            .map(LevelRule::Level)
            .map_err(|error| {
                format!(
                    "{error} (map other values with a level rule, e.g. --level-map {key}=district)"
                )
            })
    }
}

/// One record as read, before validation.
#[derive(Debug, Clone, PartialEq)]
pub struct RawDivision {
    /// The source file's name; records of one code from different files are merged.
    pub file: String,
    /// Where it came from, for messages: `file.geojson feature #3`, `codes.csv line 12`.
    pub origin: String,
    pub code: String,
    pub name: String,
    pub level: Option<String>,
    pub parent: Option<String>,
    pub weight: Option<f64>,
    pub geometry: Option<MultiPolygon<f64>>,
}

/// A source file's name and content.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub name: String,
    pub content: String,
}

/// Reads a source: GeoJSON when the name ends in `.geojson`/`.json` or the text starts with
/// `{`, CSV otherwise.
pub fn read_source(
    file: &SourceFile,
    mapping: &FieldMapping,
    problems: &mut Vec<ImportProblem>,
) -> Vec<RawDivision> {
    let lower = file.name.to_ascii_lowercase();
    if lower.ends_with(".geojson")
        || lower.ends_with(".json")
        || file.content.trim_start().starts_with('{')
    {
        read_geojson(file, mapping, problems)
    } else {
        read_csv(file, mapping, problems)
    }
}

fn text_of(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(text) => Some(text.trim().to_owned()),
        serde_json::Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
    .filter(|text| !text.is_empty())
}

fn read_geojson(
    file: &SourceFile,
    mapping: &FieldMapping,
    problems: &mut Vec<ImportProblem>,
) -> Vec<RawDivision> {
    let document: serde_json::Value = match serde_json::from_str(&file.content) {
        Ok(document) => document,
        Err(error) => {
            problems.push(ImportProblem::file(
                &file.name,
                format!("not valid JSON: {error}"),
            ));
            return Vec::new();
        }
    };
    let features = match document.get("features").and_then(|f| f.as_array()) {
        Some(features)
            if document.get("type").and_then(|t| t.as_str()) == Some("FeatureCollection") =>
        {
            features
        }
        _ => {
            problems.push(ImportProblem::file(
                &file.name,
                "not a GeoJSON FeatureCollection (no \"features\" array)",
            ));
            return Vec::new();
        }
    };
    let mut records = Vec::with_capacity(features.len());
    for (index, feature) in features.iter().enumerate() {
        let origin = format!("{} feature #{}", file.name, index + 1);
        let empty = serde_json::Map::new();
        let properties = feature
            .get("properties")
            .and_then(|p| p.as_object())
            .unwrap_or(&empty);
        let field = |name: &str| properties.get(name).and_then(text_of);
        let Some(code) = field(&mapping.code) else {
            problems.push(ImportProblem::at(
                &origin,
                None,
                format!("has no `{}` property (the code field)", mapping.code),
            ));
            continue;
        };
        let geometry = match feature.get("geometry") {
            None | Some(serde_json::Value::Null) => None,
            Some(geometry) => match read_geometry(geometry) {
                Ok(geometry) => Some(geometry),
                Err(reasons) => {
                    for (reason, repairable) in reasons {
                        problems.push(
                            ImportProblem::at(&origin, Some(&code), reason)
                                .repairable_if(repairable),
                        );
                    }
                    read_geometry_repaired(geometry)
                }
            },
        };
        records.push(RawDivision {
            file: file.name.clone(),
            origin,
            name: field(&mapping.name).unwrap_or_default(),
            level: mapping.level.as_deref().and_then(field),
            parent: mapping.parent.as_deref().and_then(field),
            weight: mapping
                .weight
                .as_deref()
                .and_then(field)
                .and_then(|w| w.parse().ok()),
            code,
            geometry,
        });
    }
    records
}

/// A problem found while reading a geometry, and whether `--repair` may fix it.
type GeometryProblem = (String, bool);

/// Reads a Polygon or MultiPolygon, checking every ring as written: at least four positions,
/// numeric and finite, closed.
fn read_geometry(geometry: &serde_json::Value) -> Result<MultiPolygon<f64>, Vec<GeometryProblem>> {
    let mut problems = Vec::new();
    let polygons = parse_polygons(geometry, &mut problems, false);
    if problems.is_empty() {
        Ok(polygons.unwrap_or_else(|| MultiPolygon(Vec::new())))
    } else {
        Err(problems)
    }
}

/// Reads a stored GeoJSON geometry text (written by this program, so trusted to be well formed).
pub fn geometry_from_json(text: &str) -> Option<MultiPolygon<f64>> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    read_geometry_repaired(&value)
}

/// The geometry with what can safely be fixed on reading (unclosed rings closed); `None` when
/// it cannot be read at all.
fn read_geometry_repaired(geometry: &serde_json::Value) -> Option<MultiPolygon<f64>> {
    let mut ignored = Vec::new();
    parse_polygons(geometry, &mut ignored, true)
}

fn parse_polygons(
    geometry: &serde_json::Value,
    problems: &mut Vec<GeometryProblem>,
    close: bool,
) -> Option<MultiPolygon<f64>> {
    let kind = geometry.get("type").and_then(|t| t.as_str()).unwrap_or("");
    let coordinates = geometry.get("coordinates");
    let polygons: Vec<&serde_json::Value> = match (kind, coordinates.and_then(|c| c.as_array())) {
        ("Polygon", Some(_)) => vec![coordinates.unwrap()],
        ("MultiPolygon", Some(list)) => list.iter().collect(),
        _ => {
            problems.push((
                format!("geometry type `{kind}` is not a Polygon or MultiPolygon with coordinates"),
                false,
            ));
            return None;
        }
    };
    let mut result = Vec::with_capacity(polygons.len());
    for (p, polygon) in polygons.iter().enumerate() {
        let Some(rings) = polygon.as_array() else {
            problems.push((
                format!("polygon {p}: coordinates are not a list of rings"),
                false,
            ));
            return None;
        };
        let mut parsed_rings = Vec::with_capacity(rings.len());
        for (r, ring) in rings.iter().enumerate() {
            let mut coords = Vec::new();
            for position in ring.as_array().map(Vec::as_slice).unwrap_or(&[]) {
                let xy = position
                    .as_array()
                    .filter(|a| a.len() >= 2)
                    .and_then(|a| Some((a[0].as_f64()?, a[1].as_f64()?)));
                match xy {
                    Some((x, y)) if x.is_finite() && y.is_finite() => coords.push(Coord { x, y }),
                    _ => {
                        problems.push((
                            format!(
                                "polygon {p} ring {r}: a position is not a pair of finite numbers"
                            ),
                            false,
                        ));
                        return None;
                    }
                }
            }
            let closed = coords.len() >= 2 && coords.first() == coords.last();
            let distinct = if closed {
                coords.len() - 1
            } else {
                coords.len()
            };
            if distinct < 3 {
                problems.push((format!("polygon {p} ring {r}: has {distinct} distinct positions; a ring needs at least 3 (4 with the closing one)"), false));
                return None;
            }
            if !closed {
                problems.push((format!("polygon {p} ring {r}: is not closed (its last position differs from its first)"), true));
                if !close {
                    continue;
                }
                coords.push(coords[0]);
            }
            parsed_rings.push(LineString(coords));
        }
        if parsed_rings.len() == rings.len() && !parsed_rings.is_empty() {
            let mut rings = parsed_rings.into_iter();
            let exterior = rings.next().expect("at least one ring");
            result.push(Polygon::new(exterior, rings.collect()));
        }
    }
    Some(MultiPolygon(result))
}

fn read_csv(
    file: &SourceFile,
    mapping: &FieldMapping,
    problems: &mut Vec<ImportProblem>,
) -> Vec<RawDivision> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(file.content.as_bytes());
    let headers = match reader.headers() {
        Ok(headers) => headers.clone(),
        Err(error) => {
            problems.push(ImportProblem::file(
                &file.name,
                format!("cannot read the CSV header: {error}"),
            ));
            return Vec::new();
        }
    };
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}') == name)
    };
    let Some(code_column) = column(&mapping.code) else {
        problems.push(ImportProblem::file(
            &file.name,
            format!(
                "has no `{}` column (the code field); columns are: {}",
                mapping.code,
                headers.iter().collect::<Vec<_>>().join(", ")
            ),
        ));
        return Vec::new();
    };
    let name_column = column(&mapping.name);
    let level_column = mapping.level.as_deref().and_then(column);
    let parent_column = mapping.parent.as_deref().and_then(column);
    let weight_column = mapping.weight.as_deref().and_then(column);
    let mut records = Vec::new();
    for (index, row) in reader.records().enumerate() {
        let origin = format!("{} line {}", file.name, index + 2);
        let row = match row {
            Ok(row) => row,
            Err(error) => {
                problems.push(ImportProblem::at(
                    &origin,
                    None,
                    format!("unreadable CSV row: {error}"),
                ));
                continue;
            }
        };
        let cell = |column: Option<usize>| {
            column
                .and_then(|c| row.get(c))
                .map(str::to_owned)
                .filter(|v| !v.is_empty())
        };
        let Some(code) = cell(Some(code_column)) else {
            problems.push(ImportProblem::at(&origin, None, "the code is empty"));
            continue;
        };
        records.push(RawDivision {
            file: file.name.clone(),
            origin,
            code,
            name: cell(name_column).unwrap_or_default(),
            level: cell(level_column),
            parent: cell(parent_column),
            weight: cell(weight_column).and_then(|w| w.parse().ok()),
            geometry: None,
        });
    }
    records
}
