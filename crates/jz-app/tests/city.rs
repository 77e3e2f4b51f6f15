//! The city model end to end through the store: importing real Shanghai data with generated
//! streets, communities and grids; locating known places in different datums; importing another
//! city's differently shaped files with property mapping; and refusing bad input whole.

use jz_app::city::plan::Stage;
use jz_app::city::{
    Actor, FieldMapping, ImportError, ImportOptions, LevelRule, LocateError, SourceFile, load_model,
};
use jz_domain::division::DivisionLevel;
use jz_geo::datum::Datum;
use jz_store::Store;
use jz_testkit::TestDb;
use sqlx::Row;

fn actor() -> Actor {
    Actor {
        actor: "user:test".into(),
        origin: "test".into(),
        at_us: 1_780_000_000_000_000,
    }
}

fn quiet() -> Box<dyn Fn(Stage, usize, usize) + Send + Sync> {
    Box::new(|_, _, _| {})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shanghai_imports_with_generated_streets_communities_and_grids() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    let report = jz_app::city::import(
        &store,
        jz_app::city::shanghai_sources(),
        FieldMapping::default(),
        ImportOptions::default(),
        actor(),
        quiet(),
    )
    .await
    .unwrap();
    let counts: Vec<(DivisionLevel, usize, usize)> = report.levels.clone();
    assert_eq!(
        counts,
        vec![
            (DivisionLevel::City, 1, 0),
            (DivisionLevel::District, 16, 0),
            (DivisionLevel::Street, 234, 234),
            (DivisionLevel::Community, 6509, 6509),
        ]
    );
    println!("Shanghai: {} unit grids", report.grids);
    assert!(report.grids > 100_000, "{} grids", report.grids);

    // Grids tile every community: no community without grids, and areas agree (no overlap, no gap).
    let without = jz_testkit::scalar::<i64>(&store, "SELECT COUNT(*) FROM division d WHERE d.level = 'community' AND NOT EXISTS (SELECT 1 FROM grid g WHERE g.community_code = d.code)").await;
    assert_eq!(without, 0, "communities without grids");
    let grid_area = jz_testkit::scalar::<f64>(&store, "SELECT SUM(area_m2) FROM grid").await;
    let community_area = jz_testkit::scalar::<f64>(
        &store,
        "SELECT SUM(area_m2) FROM division WHERE level = 'community'",
    )
    .await;
    let district_area = jz_testkit::scalar::<f64>(
        &store,
        "SELECT SUM(area_m2) FROM division WHERE level = 'district'",
    )
    .await;
    assert!(
        (grid_area - community_area).abs() / community_area < 1e-4,
        "grids {grid_area} vs communities {community_area}"
    );
    assert!(
        (community_area - district_area).abs() / district_area < 1e-4,
        "communities {community_area} vs districts {district_area}"
    );
    let max_seq = jz_testkit::scalar::<i64>(&store, "SELECT MAX(seq) FROM grid").await;
    assert!(max_seq <= 999);

    let model = load_model(&store).await.unwrap();
    // People's Square (人民广场), WGS-84, lies in Huangpu.
    let located = model.locate(121.4737, 31.2304, Datum::Wgs84).unwrap();
    assert_eq!(located.at(DivisionLevel::District).unwrap().name, "黄浦区");
    let grid = located.grid.expect("a grid at People's Square");
    assert_eq!(&grid.as_str()[..6], "310101");
    // The same place given in GCJ-02 (as a phone map reports it) lands on the same grid.
    let (gx, gy) = jz_geo::datum::wgs84_to_gcj02(121.4737, 31.2304);
    let from_gcj = model.locate(gx, gy, Datum::Gcj02).unwrap();
    assert_eq!(from_gcj.grid, Some(grid));
    // Mixing datums would misplace it by about half a kilometre: read as WGS-84 it is elsewhere.
    let misread = model.locate(gx, gy, Datum::Wgs84).unwrap();
    assert_ne!(misread.grid, Some(grid));
    // A point in the sea east of the city names the nearest district and the distance.
    match model.locate(123.5, 31.0, Datum::Wgs84) {
        Err(LocateError::OutsideCity {
            name, distance_m, ..
        }) => {
            assert!(
                ["浦东新区", "崇明区", "奉贤区"].contains(&name.as_str()),
                "{name}"
            );
            assert!(distance_m > 50_000.0, "{distance_m}");
        }
        other => panic!("expected outside the city, got {other:?}"),
    }
    // The audit trail records the import.
    let entries = store
        .audit_entries_for("city_model", "310000000000")
        .await
        .unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].record.action, "division.import");
    assert!(store.verify_audit_chain().await.unwrap().is_ok());
}

/// A small city shaped differently: its own property names, level words and 6/9-digit codes.
fn other_city() -> String {
    let rect = |x0: f64, y0: f64, x1: f64, y1: f64| {
        format!(
            "{{\"type\":\"Polygon\",\"coordinates\":[[[{x0},{y0}],[{x1},{y0}],[{x1},{y1}],[{x0},{y1}],[{x0},{y0}]]]}}"
        )
    };
    let feature = |adcode: &str, name: &str, kind: &str, geometry: String| {
        format!(
            "{{\"type\":\"Feature\",\"properties\":{{\"adcode\":{adcode},\"NAME\":\"{name}\",\"kind\":\"{kind}\"}},\"geometry\":{geometry}}}"
        )
    };
    let features = [
        feature(
            "330100",
            "杭州市",
            "prefecture",
            rect(120.0, 30.0, 120.2, 30.2),
        ),
        feature("330102", "上城区", "county", rect(120.0, 30.0, 120.1, 30.2)),
        feature("330105", "拱墅区", "county", rect(120.1, 30.0, 120.2, 30.2)),
        feature(
            "\"330102001\"",
            "清波街道",
            "town",
            rect(120.0, 30.0, 120.1, 30.1),
        ),
        feature(
            "\"330102002\"",
            "湖滨街道",
            "town",
            rect(120.0, 30.1, 120.1, 30.2),
        ),
        feature(
            "\"330105001\"",
            "米市巷街道",
            "town",
            rect(120.1, 30.0, 120.2, 30.2),
        ),
    ];
    format!(
        "{{\"type\":\"FeatureCollection\",\"features\":[{}]}}",
        features.join(",")
    )
}

fn other_city_mapping() -> FieldMapping {
    let mut mapping = FieldMapping {
        code: "adcode".into(),
        name: "NAME".into(),
        level: Some("kind".into()),
        parent: None,
        ..FieldMapping::default()
    };
    mapping
        .level_rules
        .insert("prefecture".into(), LevelRule::Level(DivisionLevel::City));
    mapping
        .level_rules
        .insert("town".into(), LevelRule::Level(DivisionLevel::Street));
    mapping
}

#[tokio::test]
async fn another_city_imports_with_property_mapping() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    let source = SourceFile {
        name: "hangzhou.geojson".into(),
        content: other_city(),
    };
    let report = jz_app::city::import(
        &store,
        vec![source],
        other_city_mapping(),
        ImportOptions::default(),
        actor(),
        quiet(),
    )
    .await
    .unwrap();
    assert_eq!(
        report.levels,
        vec![
            (DivisionLevel::City, 1, 0),
            (DivisionLevel::District, 2, 0),
            (DivisionLevel::Street, 3, 0),
            (DivisionLevel::Community, 0, 0)
        ]
    );
    let model = load_model(&store).await.unwrap();
    let located = model.locate(120.05, 30.15, Datum::Wgs84).unwrap();
    let names: Vec<&str> = located.path.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, vec!["杭州市", "上城区", "湖滨街道"]);
    assert_eq!(located.grid, None);
}

fn problems_of(error: ImportError) -> Vec<String> {
    match error {
        ImportError::Problems(problems) => problems.iter().map(ToString::to_string).collect(),
        other => panic!("expected problems, got {other}"),
    }
}

#[tokio::test]
async fn bad_input_is_reported_whole_and_nothing_is_written() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    let geojson = r#"{"type":"FeatureCollection","features":[
      {"type":"Feature","properties":{"code":"330100000000","name":"City","level":"city"},
       "geometry":{"type":"Polygon","coordinates":[[[120,30],[121,30],[121,31],[120,31],[120,30]]]}},
      {"type":"Feature","properties":{"code":"330102000000","name":"Bowtie","level":"district"},
       "geometry":{"type":"Polygon","coordinates":[[[120,30],[120.5,30.5],[120.5,30],[120,30.5],[120,30]]]}},
      {"type":"Feature","properties":{"code":"330105000000","name":"Unclosed","level":"district"},
       "geometry":{"type":"Polygon","coordinates":[[[120.5,30],[121,30],[121,30.5],[120.5,30.5]]]}},
      {"type":"Feature","properties":{"code":"330106000000","name":"Outside","level":"district"},
       "geometry":{"type":"Polygon","coordinates":[[[121.5,30],[122,30],[122,30.5],[121.5,30.5],[121.5,30]]]}},
      {"type":"Feature","properties":{"code":"33010600000X","name":"Malformed","level":"district"},"geometry":null},
      {"type":"Feature","properties":{"code":"330106000000","name":"Twice","level":"district"},"geometry":null},
      {"type":"Feature","properties":{"code":"330199001000","name":"Orphan","level":"street","parent_code":"330199000000"},"geometry":null}
    ]}"#;
    let source = SourceFile {
        name: "bad.geojson".into(),
        content: geojson.into(),
    };
    let error = jz_app::city::import(
        &store,
        vec![source],
        FieldMapping::default(),
        ImportOptions::default(),
        actor(),
        quiet(),
    )
    .await
    .unwrap_err();
    let problems = problems_of(error);
    let joined = problems.join("\n");
    for expected in [
        "bad.geojson feature #3 (330105000000): polygon 0 ring 0: is not closed",
        "bad.geojson feature #5 (33010600000X): `33010600000X` is not a division code",
        "bad.geojson feature #6 (330106000000): duplicate code: also at bad.geojson feature #4",
        "bad.geojson feature #7 (330199001000): unknown parent 330199000000",
        "bad.geojson feature #2 (330102000000): ",
    ] {
        assert!(
            joined.contains(expected),
            "missing `{expected}` in:\n{joined}"
        );
    }
    assert_eq!(
        jz_testkit::scalar::<i64>(&store, "SELECT COUNT(*) FROM division").await,
        0,
        "nothing may be written"
    );
}

#[tokio::test]
async fn geometry_problems_are_named_and_repair_fixes_them() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    let geojson = r#"{"type":"FeatureCollection","features":[
      {"type":"Feature","properties":{"code":"330100000000","name":"City","level":"city"},
       "geometry":{"type":"Polygon","coordinates":[[[120,30],[121,30],[121,31],[120,31],[120,30]]]}},
      {"type":"Feature","properties":{"code":"330102000000","name":"West","level":"district"},
       "geometry":{"type":"Polygon","coordinates":[[[120,30],[120.6,30],[120.6,31],[120,31],[120,30]]]}},
      {"type":"Feature","properties":{"code":"330105000000","name":"East overlaps West","level":"district"},
       "geometry":{"type":"Polygon","coordinates":[[[120.4,30],[121,30],[121,31],[120.4,31],[120.4,30]]]}},
      {"type":"Feature","properties":{"code":"330106000000","name":"Pokes out","level":"district"},
       "geometry":{"type":"Polygon","coordinates":[[[120.9,30.9],[121.5,30.9],[121.5,31.5],[120.9,31.5],[120.9,30.9]]]}}
    ]}"#;
    let source = || SourceFile {
        name: "overlap.geojson".into(),
        content: geojson.into(),
    };
    let error = jz_app::city::import(
        &store,
        vec![source()],
        FieldMapping::default(),
        ImportOptions::default(),
        actor(),
        quiet(),
    )
    .await
    .unwrap_err();
    let joined = problems_of(error).join("\n");
    assert!(
        joined.contains("(330105000000): overlaps its sibling 330102000000"),
        "{joined}"
    );
    assert!(
        joined.contains("(330106000000): ")
            && joined.contains("lies outside its parent 330100000000"),
        "{joined}"
    );
    assert_eq!(
        jz_testkit::scalar::<i64>(&store, "SELECT COUNT(*) FROM division").await,
        0
    );

    let options = ImportOptions {
        repair: true,
        ..ImportOptions::default()
    };
    let report = jz_app::city::import(
        &store,
        vec![source()],
        FieldMapping::default(),
        options,
        actor(),
        quiet(),
    )
    .await
    .unwrap();
    assert!(
        report
            .repairs
            .iter()
            .any(|r| r.contains("clipped to the parent")),
        "{:?}",
        report.repairs
    );
    assert!(
        report
            .repairs
            .iter()
            .any(|r| r.contains("overlap was removed")),
        "{:?}",
        report.repairs
    );
    assert_eq!(
        jz_testkit::scalar::<i64>(&store, "SELECT COUNT(*) FROM division").await,
        4
    );
}

const SMALL_CITY: &str = r#"{"type":"FeatureCollection","features":[
  {"type":"Feature","properties":{"code":"330100000000","name":"Test City","level":"city"},
   "geometry":{"type":"Polygon","coordinates":[[[120.00,30.00],[120.02,30.00],[120.02,30.02],[120.00,30.02],[120.00,30.00]]]}},
  {"type":"Feature","properties":{"code":"330102000000","name":"Only District","level":"district","parent_code":"330100000000"},
   "geometry":{"type":"Polygon","coordinates":[[[120.00,30.00],[120.02,30.00],[120.02,30.02],[120.00,30.02],[120.00,30.00]]]}}
]}"#;
const SMALL_CODES: &str = "code,name,level,parent_code,population\n330102001000,West Street,street,330102000000,\n330102002000,East Street,street,330102000000,\n330102001001,C1,community,330102001000,1000\n330102001002,C2,community,330102001000,3000\n330102002001,C3,community,330102002000,500\n";

fn small_city() -> Vec<SourceFile> {
    vec![
        SourceFile {
            name: "city.geojson".into(),
            content: SMALL_CITY.into(),
        },
        SourceFile {
            name: "codes.csv".into(),
            content: SMALL_CODES.into(),
        },
    ]
}

async fn grid_rows(store: &Store) -> Vec<(String, i64)> {
    sqlx::query("SELECT code, CAST(area_m2 AS BIGINT) FROM grid ORDER BY code")
        .fetch_all(store.reader())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.try_get(0).unwrap(), r.try_get(1).unwrap()))
        .collect()
}

async fn area_of(store: &Store, code: &str) -> f64 {
    sqlx::query("SELECT area_m2 FROM division WHERE code = $1")
        .bind(code.to_owned())
        .fetch_one(store.reader())
        .await
        .unwrap()
        .try_get(0)
        .unwrap()
}

async fn regeneration_and_replacement(db: &TestDb) {
    let store = db.open().await;
    let mapping = FieldMapping {
        weight: Some("population".into()),
        ..FieldMapping::default()
    };
    jz_app::city::import(
        &store,
        small_city(),
        mapping.clone(),
        ImportOptions::default(),
        actor(),
        quiet(),
    )
    .await
    .unwrap();
    let first = grid_rows(&store).await;
    assert!(first.len() > 100, "{} grids", first.len());
    // Community sizes follow the weight column: C2 has three times C1's population.
    let (c1, c2) = (
        area_of(&store, "330102001001").await,
        area_of(&store, "330102001002").await,
    );
    assert!((c2 / c1 - 3.0).abs() < 0.01, "C2/C1 = {}", c2 / c1);

    // The same inputs and seed give the same grid codes and areas.
    jz_app::city::import(
        &store,
        small_city(),
        mapping.clone(),
        ImportOptions::default(),
        actor(),
        quiet(),
    )
    .await
    .unwrap();
    assert_eq!(grid_rows(&store).await, first);

    // A real polygon for West Street replaces its generated one; its communities are generated
    // again inside it, and East Street takes the rest of the district.
    let west = r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"330102001000","name":"West Street","level":"street","parent_code":"330102000000"},
      "geometry":{"type":"Polygon","coordinates":[[[120.00,30.00],[120.005,30.00],[120.005,30.02],[120.00,30.02],[120.00,30.00]]]}}]}"#;
    jz_app::city::import(
        &store,
        vec![SourceFile {
            name: "west.geojson".into(),
            content: west.into(),
        }],
        mapping,
        ImportOptions::default(),
        actor(),
        quiet(),
    )
    .await
    .unwrap();
    let generated: Vec<(String, i64)> =
        sqlx::query("SELECT code, generated FROM division WHERE level = 'street' ORDER BY code")
            .fetch_all(store.reader())
            .await
            .unwrap()
            .iter()
            .map(|r| (r.try_get(0).unwrap(), r.try_get(1).unwrap()))
            .collect();
    assert_eq!(
        generated,
        vec![
            ("330102001000".to_owned(), 0),
            ("330102002000".to_owned(), 1)
        ]
    );
    let (west_area, east_area, district_area) = (
        area_of(&store, "330102001000").await,
        area_of(&store, "330102002000").await,
        area_of(&store, "330102000000").await,
    );
    assert!(
        (west_area / district_area - 0.25).abs() < 1e-3,
        "{west_area} of {district_area}"
    );
    assert!(((west_area + east_area) - district_area).abs() / district_area < 1e-6);
    let communities_in_west =
        area_of(&store, "330102001001").await + area_of(&store, "330102001002").await;
    assert!(
        (communities_in_west - west_area).abs() / west_area < 1e-6,
        "{communities_in_west} vs {west_area}"
    );
    let model = load_model(&store).await.unwrap();
    let located = model.locate(120.002, 30.01, Datum::Wgs84).unwrap();
    assert_eq!(
        located.at(DivisionLevel::Street).unwrap().name,
        "West Street"
    );
    assert!(!located.at(DivisionLevel::Street).unwrap().generated);
    assert!(located.at(DivisionLevel::Community).unwrap().generated);
    assert!(store.verify_audit_chain().await.unwrap().is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_regenerates_identically_and_real_polygons_replace_generated_ones() {
    regeneration_and_replacement(&TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_regenerates_identically_and_real_polygons_replace_generated_ones() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    regeneration_and_replacement(&db).await;
}
