//! Zones and goal clusters through the store: built-in types seeded with valid defaults, edits
//! validated (every problem named) and versioned, history from the audit log, zones by polygon
//! or by grids found by locate.

use jz_app::city::plan::Stage;
use jz_app::city::{Actor, FieldMapping, ImportOptions, SourceFile, load_model};
use jz_app::zones::{self, TargetView, ZoneArea, ZoneError};
use jz_domain::division::GridCode;
use jz_geo::datum::Datum;
use jz_testkit::TestDb;

fn actor(at_us: i64) -> Actor {
    Actor {
        actor: "user:planner".into(),
        origin: "test".into(),
        at_us,
    }
}

fn target(indicator: &str, weight: f64, value: f64) -> TargetView {
    TargetView {
        indicator: indicator.into(),
        weight,
        target: value,
    }
}

const CITY: &str = r#"{"type":"FeatureCollection","features":[
  {"type":"Feature","properties":{"code":"330100000000","name":"Test City","level":"city"},
   "geometry":{"type":"Polygon","coordinates":[[[120.00,30.00],[120.02,30.00],[120.02,30.02],[120.00,30.02],[120.00,30.00]]]}},
  {"type":"Feature","properties":{"code":"330102000000","name":"D","level":"district","parent_code":"330100000000"},
   "geometry":{"type":"Polygon","coordinates":[[[120.00,30.00],[120.02,30.00],[120.02,30.02],[120.00,30.02],[120.00,30.00]]]}}
]}"#;
const CODES: &str = "code,name,level,parent_code\n330102001000,S,street,330102000000\n330102001001,C,community,330102001000\n";

async fn goal_clusters_are_validated_versioned_and_kept_with_history(db: &TestDb) {
    let store = db.open().await;
    assert_eq!(zones::seed_zone_types(&store, &actor(1)).await.unwrap(), 7);
    assert_eq!(
        zones::seed_zone_types(&store, &actor(2)).await.unwrap(),
        0,
        "seeding twice adds nothing"
    );
    let park = zones::zone_types(&store)
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.code == "industrial_park")
        .unwrap();
    assert_eq!(park.version, 1);

    let error = zones::set_zone_type_goals(
        &store,
        "industrial_park",
        vec![
            target("on_time_closure_rate", 0.6, 1.5),
            target("nonsense", 0.6, 0.1),
        ],
        None,
        &actor(3),
    )
    .await
    .unwrap_err();
    let message = error.to_string();
    for expected in [
        "targets[0]: target 1.5",
        "targets[1]: unknown indicator `nonsense`",
        "the weights sum to 1.2, not 1",
    ] {
        assert!(message.contains(expected), "{message}");
    }

    let updated = zones::set_zone_type_goals(
        &store,
        "industrial_park",
        vec![
            target("safety_incidents_per_km2_month", 0.5, 0.8),
            target("on_time_closure_rate", 0.5, 0.95),
        ],
        Some(1),
        &actor(4),
    )
    .await
    .unwrap();
    assert_eq!(updated.version, 2);
    let stale = zones::set_zone_type_goals(
        &store,
        "industrial_park",
        vec![target("closure_rate", 1.0, 0.9)],
        Some(1),
        &actor(5),
    )
    .await;
    assert!(
        matches!(stale, Err(ZoneError::Stale { expected: 1 })),
        "{stale:?}"
    );

    let history = zones::goal_history(&store, "zone_type:industrial_park")
        .await
        .unwrap();
    let actions: Vec<(&str, i64)> = history
        .iter()
        .map(|e| (e.record.action.as_str(), e.record.at_us))
        .collect();
    assert_eq!(
        actions,
        vec![("zone_type.seed", 1), ("goal_cluster.update", 4)]
    );
    assert!(
        history[1]
            .record
            .before
            .as_deref()
            .unwrap()
            .contains("rework_rate")
    );
    assert!(
        history[1]
            .record
            .after
            .as_deref()
            .unwrap()
            .contains("\"target\":0.8")
    );

    let custom = zones::create_zone_type(
        &store,
        "port_area",
        "港区",
        "port area",
        vec![target("satisfaction_rate", 1.0, 0.9)],
        &actor(6),
    )
    .await
    .unwrap();
    assert!(!custom.built_in);
    let again = zones::create_zone_type(
        &store,
        "port_area",
        "港区",
        "",
        vec![target("satisfaction_rate", 1.0, 0.9)],
        &actor(7),
    )
    .await;
    assert!(matches!(again, Err(ZoneError::ZoneTypeExists(_))));
}

async fn zones_by_polygon_or_grids_are_found_by_locate(db: &TestDb) {
    let store = db.open().await;
    import_fixture(&store).await;
    zones::seed_zone_types(&store, &actor(1)).await.unwrap();
    let model = load_model(&store).await.unwrap();
    let grid = model
        .locate(120.015, 30.015, Datum::Wgs84)
        .unwrap()
        .grid
        .unwrap();

    let square = geo_types::MultiPolygon(vec![
        geo_types::Rect::new((120.0, 30.0), (120.01, 30.01)).to_polygon(),
    ]);
    zones::create_zone(
        &store,
        "ftz",
        "Free-trade zone",
        "free_trade_zone",
        ZoneArea::Polygon(square),
        None,
        &actor(2),
    )
    .await
    .unwrap();
    let own = vec![
        target("satisfaction_rate", 0.5, 0.95),
        target("on_time_closure_rate", 0.5, 0.97),
    ];
    zones::create_zone(
        &store,
        "old",
        "Old town block",
        "old_town",
        ZoneArea::Grids(vec![grid]),
        Some(own.clone()),
        &actor(3),
    )
    .await
    .unwrap();
    let unknown = zones::create_zone(
        &store,
        "bad",
        "Bad",
        "old_town",
        ZoneArea::Grids(vec![GridCode::parse("330102001001999").unwrap()]),
        None,
        &actor(4),
    )
    .await;
    assert!(
        matches!(unknown, Err(ZoneError::InvalidZone(ref m)) if m.contains("unknown unit grid")),
        "{unknown:?}"
    );

    // Several at once: all or none, and one message for running servers.
    let block = |id: &str, area: ZoneArea| zones::NewZone {
        id: id.into(),
        name: format!("Block {id}"),
        zone_type: "commercial_district".into(),
        area,
        goals: None,
    };
    let corner = |x: f64| {
        ZoneArea::Polygon(geo_types::MultiPolygon(vec![
            geo_types::Rect::new((x, 30.0), (x + 0.001, 30.001)).to_polygon(),
        ]))
    };
    let pending = store.outbox_pending().await.unwrap();
    let refused = zones::create_zones(
        &store,
        vec![
            block("b1", corner(120.0)),
            block(
                "b2",
                ZoneArea::Grids(vec![GridCode::parse("330102001001999").unwrap()]),
            ),
        ],
        &actor(4),
    )
    .await;
    assert!(
        matches!(refused, Err(ZoneError::InvalidZone(ref m)) if m.contains("unknown unit grid")),
        "{refused:?}"
    );
    let untyped = zones::create_zones(
        &store,
        vec![zones::NewZone {
            zone_type: "no_such_type".into(),
            ..block("b1", corner(120.0))
        }],
        &actor(4),
    )
    .await;
    assert!(
        matches!(untyped, Err(ZoneError::UnknownZoneType(ref t)) if t == "no_such_type"),
        "{untyped:?}"
    );
    let twice = zones::create_zones(
        &store,
        vec![block("b1", corner(120.0)), block("b1", corner(120.002))],
        &actor(4),
    )
    .await;
    assert!(
        matches!(twice, Err(ZoneError::InvalidZone(ref m)) if m.contains("given twice")),
        "{twice:?}"
    );
    assert!(
        zones::zone(&store, "b1").await.unwrap().is_none(),
        "none written"
    );
    assert_eq!(store.outbox_pending().await.unwrap(), pending);
    let created = zones::create_zones(
        &store,
        vec![block("b1", corner(120.0)), block("b2", corner(120.002))],
        &actor(4),
    )
    .await
    .unwrap();
    assert_eq!(
        created.iter().map(|z| z.id.as_str()).collect::<Vec<_>>(),
        ["b1", "b2"]
    );
    assert_eq!(store.outbox_pending().await.unwrap(), pending + 1);
    let again = zones::create_zones(&store, vec![block("b2", corner(120.004))], &actor(4)).await;
    assert!(
        matches!(again, Err(ZoneError::InvalidZone(ref m)) if m.contains("`b2` already exists")),
        "{again:?}"
    );

    let all = zones::zones(&store).await.unwrap();
    let ftz = all.iter().find(|z| z.id == "ftz").unwrap();
    assert_eq!(ftz.goals_override, None);
    assert_eq!(
        ftz.effective_goals.len(),
        4,
        "a free-trade zone reads its type's cluster"
    );
    let old = all.iter().find(|z| z.id == "old").unwrap();
    assert_eq!(old.effective_goals, own);

    let model = load_model(&store).await.unwrap();
    let in_ftz = model.locate(120.005, 30.005, Datum::Wgs84).unwrap();
    assert_eq!(
        in_ftz
            .zones
            .iter()
            .map(|z| z.id.as_str())
            .collect::<Vec<_>>(),
        vec!["ftz"]
    );
    let in_old = model.locate(120.015, 30.015, Datum::Wgs84).unwrap();
    assert_eq!(
        in_old
            .zones
            .iter()
            .map(|z| z.id.as_str())
            .collect::<Vec<_>>(),
        vec!["old"]
    );

    let reverted = zones::set_zone_goals(&store, "old", None, None, &actor(5))
        .await
        .unwrap();
    assert_eq!(reverted.goals_override, None);
    let history = zones::goal_history(&store, "zone:old").await.unwrap();
    assert_eq!(history.len(), 2);
}

/// Imports the small test city: one real district, a generated street and community.
async fn import_fixture(store: &jz_store::Store) {
    let quiet: Box<dyn Fn(Stage, usize, usize) + Send + Sync> = Box::new(|_, _, _| {});
    let sources = vec![
        SourceFile {
            name: "c.geojson".into(),
            content: CITY.into(),
        },
        SourceFile {
            name: "c.csv".into(),
            content: CODES.into(),
        },
    ];
    jz_app::city::import(
        store,
        sources,
        FieldMapping::default(),
        ImportOptions::default(),
        actor(1),
        quiet,
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_model_is_rebuilt_when_the_outbox_says_the_city_changed() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    let city = std::sync::Arc::new(jz_app::city::SharedCity::new(
        load_model(&store).await.unwrap(),
    ));
    assert!(matches!(
        city.current().locate(120.01, 30.01, Datum::Wgs84),
        Err(jz_app::city::LocateError::NoBoundaries)
    ));
    import_fixture(&store).await;
    let relay = jz_store::OutboxRelay::new(
        store.clone(),
        jz_app::city::CityReloader {
            store: store.clone(),
            city: city.clone(),
        },
        jz_store::RetryPolicy::default(),
    );
    let round = relay.run_once(1).await.unwrap();
    assert_eq!((round.delivered, round.failed), (1, 0));
    assert!(
        city.current()
            .locate(120.01, 30.01, Datum::Wgs84)
            .unwrap()
            .grid
            .is_some()
    );
    assert_eq!(store.outbox_pending().await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_goal_clusters_are_validated_versioned_and_kept_with_history() {
    goal_clusters_are_validated_versioned_and_kept_with_history(&TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_goal_clusters_are_validated_versioned_and_kept_with_history() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    goal_clusters_are_validated_versioned_and_kept_with_history(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_zones_by_polygon_or_grids_are_found_by_locate() {
    zones_by_polygon_or_grids_are_found_by_locate(&TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_zones_by_polygon_or_grids_are_found_by_locate() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    zones_by_polygon_or_grids_are_found_by_locate(&db).await;
}
