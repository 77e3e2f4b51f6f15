//! The city model over HTTP, through the real router: tree, division, grid, locate (single and
//! batch, with datums and precise errors), layers marked `generated`, zone types.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use jz_app::city::plan::Stage;
use jz_app::city::{Actor, FieldMapping, ImportOptions, SharedCity, SourceFile};
use jz_http::AppState;
use serde_json::{Value, json};
use tower::ServiceExt;

/// A 2 km × 2 km city with one real district; its street and two communities are generated.
const CITY: &str = r#"{"type":"FeatureCollection","features":[
  {"type":"Feature","properties":{"code":"330100000000","name":"Test City","level":"city"},
   "geometry":{"type":"Polygon","coordinates":[[[120.00,30.00],[120.02,30.00],[120.02,30.02],[120.00,30.02],[120.00,30.00]]]}},
  {"type":"Feature","properties":{"code":"330102000000","name":"Only District","level":"district","parent_code":"330100000000"},
   "geometry":{"type":"Polygon","coordinates":[[[120.00,30.00],[120.02,30.00],[120.02,30.02],[120.00,30.02],[120.00,30.00]]]}}
]}"#;
const CODES: &str = "code,name,level,parent_code\n330102001000,One Street,street,330102000000\n330102001001,North Community,community,330102001000\n330102001002,South Community,community,330102001000\n";

async fn app() -> (axum::Router, jz_testkit::TestDb) {
    let db = jz_testkit::TestDb::sqlite();
    let store = db.open().await;
    let actor = Actor {
        actor: "user:test".into(),
        origin: "test".into(),
        at_us: 1_780_000_000_000_000,
    };
    jz_app::city::import(
        &store,
        vec![
            SourceFile {
                name: "city.geojson".into(),
                content: CITY.into(),
            },
            SourceFile {
                name: "codes.csv".into(),
                content: CODES.into(),
            },
        ],
        FieldMapping::default(),
        ImportOptions::default(),
        actor.clone(),
        Box::new(|_: Stage, _, _| {}),
    )
    .await
    .unwrap();
    jz_app::zones::seed_zone_types(&store, &actor)
        .await
        .unwrap();
    let city = std::sync::Arc::new(SharedCity::new(
        jz_app::city::load_model(&store).await.unwrap(),
    ));
    (
        jz_http::router(AppState::open(store, city).await.unwrap()),
        db,
    )
}

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    body: Option<&str>,
) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_owned())))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_city_model_answers_over_http() {
    let (app, _db) = app().await;

    let (status, tree) = call(&app, "GET", "/api/v1/divisions", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tree[0]["code"], "330100000000");
    let street = &tree[0]["children"][0]["children"][0];
    assert_eq!(street["name"], "One Street");
    assert_eq!(street["generated"], true);
    assert_eq!(street["children"].as_array().unwrap().len(), 2);

    let (status, district) = call(&app, "GET", "/api/v1/divisions/330102000000", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(district["generated"], false);
    assert_eq!(district["children"], json!(["330102001000"]));
    let (status, error) = call(&app, "GET", "/api/v1/divisions/33010200", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"]["code"], "invalid_parameter");
    assert_eq!(error["error"]["field"], "code");
    let (status, _) = call(&app, "GET", "/api/v1/divisions/330102009000", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Locate in WGS-84, then the same place in GCJ-02: the same grid.
    let (status, located) = call(&app, "GET", "/api/v1/locate?lon=120.005&lat=30.005", None).await;
    assert_eq!(status, StatusCode::OK, "{located}");
    let grid = located["grid"].as_str().unwrap().to_owned();
    assert!(grid.starts_with("33010200100"), "{grid}");
    assert_eq!(located["district"]["name"], "Only District");
    assert_eq!(located["community"]["generated"], true);
    let (gx, gy) = jz_geo::datum::wgs84_to_gcj02(120.005, 30.005);
    let (_, from_gcj) = call(
        &app,
        "GET",
        &format!("/api/v1/locate?lon={gx}&lat={gy}&datum=gcj02"),
        None,
    )
    .await;
    assert_eq!(from_gcj["grid"], grid.as_str());
    assert_eq!(from_gcj["datum"], "gcj02");

    let (status, error) = call(&app, "GET", "/api/v1/locate?lon=120.005", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"]["field"], "lat");
    let (status, error) = call(
        &app,
        "GET",
        "/api/v1/locate?lon=120.005&lat=30.005&datum=mars",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"]["field"], "datum");
    let (status, error) = call(&app, "GET", "/api/v1/locate?lon=120.5&lat=30.005", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["error"]["code"], "outside_city");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Only District"),
        "{error}"
    );

    // Batch: each point answered on its own.
    let body = r#"{"points":[{"lon":120.005,"lat":30.005},{"lon":120.5,"lat":30.0},{"lon":120.01,"lat":30.01,"datum":"bd09"},{"lon":120.01,"lat":30.01,"datum":"x"}]}"#;
    let (status, answers) = call(&app, "POST", "/api/v1/locate", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{answers}");
    assert_eq!(answers[0]["grid"], grid.as_str());
    assert_eq!(answers[1]["error"]["code"], "outside_city");
    assert_eq!(answers[1]["error"]["field"], "points[1]");
    assert_eq!(answers[3]["error"]["field"], "points[3].datum");
    let (status, error) = call(&app, "POST", "/api/v1/locate", Some("{\"points\": 5}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"]["code"], "invalid_body");

    let (status, cell) = call(&app, "GET", &format!("/api/v1/grids/{grid}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!cell["neighbours"].as_array().unwrap().is_empty());
    assert_eq!(cell["geometry"]["type"], "MultiPolygon");

    let (status, layer) = call(&app, "GET", "/api/v1/layers/community?zoom=12", None).await;
    assert_eq!(status, StatusCode::OK);
    let features = layer["features"].as_array().unwrap();
    assert_eq!(features.len(), 2);
    assert!(
        features
            .iter()
            .all(|f| f["properties"]["generated"] == true)
    );
    let (status, _) = call(&app, "GET", "/api/v1/layers/community?zoom=99", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, grids) = call(
        &app,
        "GET",
        "/api/v1/layers/grid?bbox=120.0,30.0,120.005,30.005",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{grids}");
    let cells = grids["features"].as_array().unwrap();
    assert!(
        !cells.is_empty() && cells.len() < 100,
        "{} cells",
        cells.len()
    );
    assert!(cells.iter().all(|c| c["properties"]["generated"] == true));
    let (status, error) = call(&app, "GET", "/api/v1/layers/grid", None).await;
    assert_eq!(
        (status, error["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bbox"))
    );

    let (status, types) = call(&app, "GET", "/api/v1/zone-types", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(types.as_array().unwrap().len(), 7);
}
