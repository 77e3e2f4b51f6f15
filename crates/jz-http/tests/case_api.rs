//! One report walked through every stage of the closed loop over HTTP, through the real router
//! with API tokens: intake by the hotline, automatic dispatch, accept, handle, a failed check
//! (rework), handle again, verify, close, a dissatisfied rating that reopens the case, and a
//! second round ending rated — plus the errors a client gets for bad input and wrong roles.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use jz_app::cases::config;
use jz_app::city::plan::Stage;
use jz_app::city::{Actor, FieldMapping, ImportOptions, SharedCity, SourceFile};
use jz_domain::access::Role;
use jz_domain::division::{DivisionCode, DivisionLevel};
use jz_domain::responsibility::{DepartmentKind, ResponsibilityRule, Territory};
use jz_http::AppState;
use serde_json::{Value, json};
use tower::ServiceExt;

const CITY: &str = r#"{"type":"FeatureCollection","features":[
  {"type":"Feature","properties":{"code":"330100000000","name":"Test City","level":"city"},
   "geometry":{"type":"Polygon","coordinates":[[[120.00,30.00],[120.02,30.00],[120.02,30.02],[120.00,30.02],[120.00,30.00]]]}},
  {"type":"Feature","properties":{"code":"330102000000","name":"Only District","level":"district","parent_code":"330100000000"},
   "geometry":{"type":"Polygon","coordinates":[[[120.00,30.00],[120.02,30.00],[120.02,30.02],[120.00,30.02],[120.00,30.00]]]}}
]}"#;
const CODES: &str = "code,name,level,parent_code\n330102001000,One Street,street,330102000000\n330102001001,North Community,community,330102001000\n330102001002,South Community,community,330102001000\n";

struct World {
    app: axum::Router,
    tokens: std::collections::HashMap<&'static str, String>,
    _db: jz_testkit::TestDb,
}

async fn world() -> World {
    let db = jz_testkit::TestDb::sqlite();
    let store = db.open().await;
    let admin = Actor {
        actor: "user:setup".into(),
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
        admin.clone(),
        Box::new(|_: Stage, _, _| {}),
    )
    .await
    .unwrap();
    // A commercial zone over the south-west quarter of the city (its goals: the type's).
    jz_app::zones::seed_zone_types(&store, &admin)
        .await
        .unwrap();
    let quarter = geo_types::MultiPolygon(vec![geo_types::Polygon::new(
        geo_types::LineString::from(vec![
            (120.00, 30.00),
            (120.01, 30.00),
            (120.01, 30.01),
            (120.00, 30.01),
            (120.00, 30.00),
        ]),
        vec![],
    )]);
    jz_app::zones::create_zone(
        &store,
        "market",
        "南门商圈",
        "commercial_district",
        jz_app::zones::ZoneArea::Polygon(quarter),
        None,
        &admin,
    )
    .await
    .unwrap();
    let city = std::sync::Arc::new(SharedCity::new(
        jz_app::city::load_model(&store).await.unwrap(),
    ));
    let state = AppState::open(store.clone(), city).await.unwrap();
    let street = DivisionCode::parse("330102001000").unwrap();
    config::put_department(
        &store,
        &state.cases.config,
        &admin,
        config::department(
            "street-office",
            "一街道办",
            DepartmentKind::StreetOffice,
            DivisionLevel::Street,
            street,
        ),
    )
    .await
    .unwrap();
    config::add_rule(
        &store,
        &state.cases.config,
        &admin,
        ResponsibilityRule {
            id: "everything".into(),
            category: "*".parse().unwrap(),
            territory: Territory::Division(street),
            level: DivisionLevel::Street,
            department: "street-office".into(),
            priority: 1,
            fallback: false,
        },
    )
    .await
    .unwrap();
    let mut tokens = std::collections::HashMap::new();
    for (name, role, territory, department) in [
        ("hotline", Role::HotlineOperator, Some(street), None),
        (
            "handler",
            Role::Handler,
            Some(street),
            Some("street-office"),
        ),
        ("inspector", Role::Inspector, Some(street), None),
        ("operator", Role::StreetOperator, Some(street), None),
        ("citizen", Role::Citizen, None, None),
        ("admin", Role::Admin, None, None),
        (
            "elsewhere",
            Role::StreetOperator,
            Some(DivisionCode::parse("330102002000").unwrap()),
            None,
        ),
    ] {
        let (_, token) = jz_app::cases::users::create_user(
            &store,
            &admin,
            name,
            role,
            territory,
            department.map(str::to_owned),
        )
        .await
        .unwrap();
        tokens.insert(name, token);
    }
    World {
        app: jz_http::router(state),
        tokens,
        _db: db,
    }
}

impl World {
    async fn call(
        &self,
        who: &str,
        method: &str,
        uri: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json");
        if let Some(token) = self.tokens.get(who) {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Issues a command at the case's current version and returns the new case.
    async fn step(&self, who: &str, id: &str, command: Value) -> Value {
        let (_, detail) = self
            .call(who, "GET", &format!("/api/v1/cases/{id}"), None)
            .await;
        let mut body = command.clone();
        body["version"] = detail["case"]["version"].clone();
        let (status, case) = self
            .call(
                who,
                "POST",
                &format!("/api/v1/cases/{id}/commands"),
                Some(body),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{command} by {who}: {case}");
        case
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_walks_through_every_stage_over_http() {
    let w = world().await;

    // The hotline takes a complaint about property management (satisfaction-judged).
    let (status, intake) = w
        .call(
            "hotline",
            "POST",
            "/api/v1/reports",
            Some(json!({
                "description": "来电人反映小区物业长期不清理楼道杂物，要求尽快处理",
                "category": "R3001",
                "location": { "lon": 120.005, "lat": 30.005 },
                "reporter": { "name": "李女士", "phone": "13900000000" },
                "intake_key": "12345-20261008-0001"
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{intake}");
    assert_eq!(intake["outcome"], "created");
    let case = &intake["case"];
    let id = case["id"].as_str().unwrap().to_owned();
    assert_eq!(case["state"], "dispatched");
    assert_eq!(case["department"], "street-office");
    assert_eq!(case["channel"], "hotline");
    assert_eq!(case["light"], "green");
    assert!(
        case["clock"]["deadline_at_us"].as_i64().unwrap()
            > case["reported_at_us"].as_i64().unwrap()
    );
    let report_id = intake["report_id"].as_str().unwrap().to_owned();

    // A retry with the same key answers 200 with the same case.
    let (status, replay) = w
        .call(
            "hotline",
            "POST",
            "/api/v1/reports",
            Some(json!({
                "description": "来电人反映小区物业长期不清理楼道杂物，要求尽快处理",
                "category": "R3001",
                "location": { "lon": 120.005, "lat": 30.005 },
                "intake_key": "12345-20261008-0001"
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(replay["outcome"], "replayed");
    assert_eq!(replay["case"]["id"], id.as_str());
    // The first answer is written around the case as stored, the replay's case is read back
    // and serialized: the same case either way.
    assert_eq!(replay["case"], intake["case"]);

    // Handle, fail the check, handle again, verify, close.
    w.step("handler", &id, json!({ "command": "accept" })).await;
    w.step("handler", &id, json!({ "command": "start_handling" }))
        .await;
    w.step(
        "handler",
        &id,
        json!({ "command": "report_handled", "note": "已清理" }),
    )
    .await;
    let rework = w.step("inspector", &id, json!({ "command": "verify", "passed": false, "note": "仍有杂物", "position": { "lon": 120.005, "lat": 30.005 } })).await;
    assert_eq!(rework["state"], "handling");
    assert_eq!(rework["reworks"], 1);
    w.step(
        "handler",
        &id,
        json!({ "command": "report_handled", "note": "全部清理完毕" }),
    )
    .await;
    w.step(
        "inspector",
        &id,
        json!({ "command": "verify", "passed": true }),
    )
    .await;
    let closed = w.step("operator", &id, json!({ "command": "close" })).await;
    assert_eq!(closed["state"], "closed");
    assert_eq!(closed["light"], Value::Null);

    // The return call: dissatisfied reopens a satisfaction-judged case.
    let (status, reopened) = w
        .call(
            "hotline",
            "POST",
            &format!("/api/v1/reports/{report_id}/rating"),
            Some(json!({ "rating": "dissatisfied", "comment": "楼道还是很乱" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reopened}");
    assert_eq!(reopened["state"], "dispatched");
    assert_eq!(reopened["reopens"], 1);

    // Second round, rated satisfied.
    w.step("handler", &id, json!({ "command": "accept" })).await;
    w.step("handler", &id, json!({ "command": "start_handling" }))
        .await;
    w.step("handler", &id, json!({ "command": "report_handled" }))
        .await;
    w.step(
        "inspector",
        &id,
        json!({ "command": "verify", "passed": true }),
    )
    .await;
    w.step("operator", &id, json!({ "command": "close" })).await;
    let (status, rated) = w
        .call(
            "hotline",
            "POST",
            &format!("/api/v1/reports/{report_id}/rating"),
            Some(json!({ "rating": "satisfied" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rated}");
    assert_eq!(rated["state"], "rated");

    // The timeline holds every step in order; reports carry no personal data.
    let (_, detail) = w
        .call("operator", "GET", &format!("/api/v1/cases/{id}"), None)
        .await;
    let kinds: Vec<&str> = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "reported",
            "registered",
            "dispatched",
            "accepted",
            "handling_started",
            "handled",
            "rework",
            "handled",
            "verified",
            "closed",
            "rated",
            "reopened",
            "accepted",
            "handling_started",
            "handled",
            "verified",
            "closed",
            "rated"
        ]
    );
    let rework_event = &detail["timeline"][6];
    assert_eq!(rework_event["note"], "仍有杂物");
    assert_eq!(rework_event["role"], "inspector");
    assert!(rework_event["lon"].is_f64());
    let text = detail.to_string();
    assert!(
        !text.contains("13900000000") && !text.contains("李女士"),
        "no PII in case detail"
    );
    // Operators may read it, and that read is audited.
    let (status, reporters) = w
        .call(
            "operator",
            "GET",
            &format!("/api/v1/cases/{id}/reporters"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(reporters[0]["phone"], "13900000000");
    let (status, _) = w
        .call(
            "handler",
            "GET",
            &format!("/api/v1/cases/{id}/reporters"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Queues and filters.
    let (status, list) = w
        .call("operator", "GET", "/api/v1/cases?state=rated", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (_, outside) = w.call("elsewhere", "GET", "/api/v1/cases", None).await;
    assert_eq!(outside, json!([]), "another street sees nothing");
    let (status, _) = w
        .call("elsewhere", "GET", &format!("/api/v1/cases/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_precise_errors_and_write_nothing() {
    let w = world().await;
    let w = &w;
    let report = async |body: Value| {
        w.call("inspector", "POST", "/api/v1/reports", Some(body))
            .await
    };
    let ok = json!({ "description": "井盖缺失", "category": "01001", "location": { "lon": 120.005, "lat": 30.005 } });

    let (status, error) = w
        .call("nobody", "POST", "/api/v1/reports", Some(ok.clone()))
        .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthenticated"))
    );

    let cases: &[(Value, StatusCode, &str, Option<&str>)] = &[
        (
            json!({ "description": "x", "category": "99999", "location": { "lon": 120.005, "lat": 30.005 } }),
            StatusCode::BAD_REQUEST,
            "invalid_body",
            Some("category"),
        ),
        (
            json!({ "description": "x", "category": "06010" }),
            StatusCode::BAD_REQUEST,
            "invalid_body",
            Some("location"),
        ),
        (
            json!({ "description": "x", "category": "06010", "location": { "lon": 121.5, "lat": 31.2 } }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "outside_city",
            Some("location"),
        ),
        (
            json!({ "description": "x", "category": "06010", "location": { "lon": 120.005, "lat": 30.005, "datum": "mars" } }),
            StatusCode::BAD_REQUEST,
            "invalid_body",
            Some("location.datum"),
        ),
        (
            json!({ "description": "", "category": "06010", "location": { "lon": 120.005, "lat": 30.005 } }),
            StatusCode::BAD_REQUEST,
            "invalid_body",
            Some("description"),
        ),
        (
            json!({ "description": "长".repeat(4001), "category": "06010", "location": { "lon": 120.005, "lat": 30.005 } }),
            StatusCode::BAD_REQUEST,
            "invalid_body",
            Some("description"),
        ),
        (
            json!({ "description": "x", "category": "06010", "location": { "lon": 120.005, "lat": 30.005 }, "channel": "hotline" }),
            StatusCode::FORBIDDEN,
            "forbidden",
            Some("channel"),
        ),
        (
            json!({ "description": "x", "category": "06010", "location": { "lon": 120.005, "lat": 30.005 }, "colour": "red" }),
            StatusCode::BAD_REQUEST,
            "invalid_body",
            None,
        ),
    ];
    for (body, status, code, field) in cases {
        let (got, error) = report(body.clone()).await;
        assert_eq!(got, *status, "{body} → {error}");
        assert_eq!(error["error"]["code"], *code, "{body} → {error}");
        assert_eq!(error["error"]["field"].as_str(), *field, "{body} → {error}");
    }
    // Framework-level refusals come in the same envelope.
    let raw = |method: &'static str,
               uri: &'static str,
               content_type: Option<&'static str>,
               body: String| {
        let app = w.app.clone();
        let token = w.tokens["inspector"].clone();
        async move {
            let mut request = Request::builder()
                .method(method)
                .uri(uri)
                .header("authorization", format!("Bearer {token}"));
            if let Some(content_type) = content_type {
                request = request.header("content-type", content_type);
            }
            let response = app
                .oneshot(request.body(Body::from(body)).unwrap())
                .await
                .unwrap();
            let status = response.status();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            (
                status,
                serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
            )
        }
    };
    let (status, error) = raw("POST", "/api/v1/reports", None, ok.to_string()).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some("unsupported_media_type")
        ),
        "{error}"
    );
    let (status, error) = raw("DELETE", "/api/v1/cases", None, String::new()).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed")),
        "{error}"
    );
    let huge = json!({ "description": "x".repeat(3 * 1024 * 1024), "location": { "lon": 120.005, "lat": 30.005 } });
    let (status, error) = raw(
        "POST",
        "/api/v1/reports",
        Some("application/json"),
        huge.to_string(),
    )
    .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large")),
        "{error}"
    );
    let (status, error) = raw("GET", "/api/v1/cases?channel=pigeon", None, String::new()).await;
    assert_eq!(
        (status, error["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("channel")),
        "{error}"
    );

    let (_, list) = w.call("operator", "GET", "/api/v1/cases", None).await;
    assert_eq!(list, json!([]), "nothing half-written");

    // Illegal transition, stale version, wrong role.
    let (_, created) = report(ok.clone()).await;
    let id = created["case"]["id"].as_str().unwrap();
    let version = created["case"]["version"].as_i64().unwrap();
    let (status, error) = w
        .call(
            "handler",
            "POST",
            &format!("/api/v1/cases/{id}/commands"),
            Some(json!({ "command": "report_handled", "version": version })),
        )
        .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("illegal_transition")),
        "{error}"
    );
    let (status, error) = w
        .call(
            "handler",
            "POST",
            &format!("/api/v1/cases/{id}/commands"),
            Some(json!({ "command": "accept", "version": version - 1 })),
        )
        .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("stale_version")),
        "{error}"
    );
    let (status, error) = w
        .call(
            "citizen",
            "POST",
            &format!("/api/v1/cases/{id}/commands"),
            Some(json!({ "command": "close", "version": version })),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a citizen does not see others' cases: {error}"
    );
    let (status, error) = w
        .call(
            "inspector",
            "POST",
            &format!("/api/v1/cases/{id}/commands"),
            Some(json!({ "command": "close", "version": version })),
        )
        .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden")),
        "{error}"
    );
    let (status, error) = w
        .call(
            "handler",
            "POST",
            &format!("/api/v1/cases/{id}/commands"),
            Some(json!({ "command": "fly", "version": version })),
        )
        .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_body")),
        "{error}"
    );

    // Photos: type and size limits, served back to those who may see them.
    let upload = |bytes: Vec<u8>, content_type: &'static str| {
        let app = w.app.clone();
        let token = w.tokens["inspector"].clone();
        async move {
            let request = Request::builder()
                .method("POST")
                .uri("/api/v1/photos")
                .header("content-type", content_type)
                .header("authorization", format!("Bearer {token}"))
                .body(Body::from(bytes))
                .unwrap();
            let response = app.oneshot(request).await.unwrap();
            let status = response.status();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            (
                status,
                serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
            )
        }
    };
    let png = [
        &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A][..],
        &[0u8; 64][..],
    ]
    .concat();
    let (status, photo) = upload(png.clone(), "image/png").await;
    assert_eq!(status, StatusCode::CREATED, "{photo}");
    let (status, error) = upload(b"GIF89a....".to_vec(), "image/gif").await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some("unsupported_media_type")
        )
    );
    let (status, error) = upload(png.clone(), "image/jpeg").await;
    assert_eq!(
        (status, error["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("photo")),
        "{error}"
    );
    let (status, _) = upload(vec![0xFF; 6 * 1024 * 1024], "image/jpeg").await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // Attach it to a report.
    let mut with_photo = ok.clone();
    with_photo["photos"] = json!([photo["id"]]);
    with_photo["location"] = json!({ "lon": 120.015, "lat": 30.015 });
    let (status, created) = report(with_photo).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (status, _) = w
        .call(
            "operator",
            "GET",
            &format!("/api/v1/photos/{}", photo["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_ne!(status, StatusCode::NOT_FOUND);
    // Unknown photo ids are refused and nothing is written.
    let mut bad_photo = ok.clone();
    bad_photo["photos"] = json!(["no-such-photo"]);
    bad_photo["location"] = json!({ "lon": 120.011, "lat": 30.011 });
    let (status, error) = report(bad_photo).await;
    assert_eq!(
        (status, error["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("photos")),
        "{error}"
    );

    // Configuration needs the admin role, and validates.
    let (status, _) = w.call("operator", "PUT", "/api/v1/settings/intake", Some(json!({ "dedupe_distance_m": 80.0, "dedupe_window_minutes": 60, "confirm_threshold": 0.5 }))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, error) = w.call("admin", "PUT", "/api/v1/settings/intake", Some(json!({ "dedupe_distance_m": -1.0, "dedupe_window_minutes": 60, "confirm_threshold": 0.5 }))).await;
    assert_eq!(
        (status, error["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("dedupe_distance_m")),
        "{error}"
    );
    let (status, _) = w
        .call(
            "admin",
            "PUT",
            "/api/v1/calendar/days/2026-12-31",
            Some(json!({ "kind": "holiday", "name": "城市日" })),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, days) = w.call("admin", "GET", "/api/v1/calendar/days", None).await;
    assert!(
        days.as_array()
            .unwrap()
            .iter()
            .any(|d| d["date"] == "2026-12-31" && d["kind"] == "holiday")
    );
    // A user with a console login is created whole or not at all.
    let newcomer = json!({ "name": "新同事", "role": "inspector", "territory": "330102001000", "login": "dup.login", "password": "long-enough-pass" });
    let (status, created_user) = w
        .call("admin", "POST", "/api/v1/users", Some(newcomer.clone()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created_user}");
    let (_, before) = w.call("admin", "GET", "/api/v1/users", None).await;
    let (status, error) = w
        .call("admin", "POST", "/api/v1/users", Some(newcomer))
        .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("already_exists")),
        "{error}"
    );
    let (_, after) = w.call("admin", "GET", "/api/v1/users", None).await;
    assert_eq!(
        before.as_array().unwrap().len(),
        after.as_array().unwrap().len(),
        "no user left behind"
    );
    let (status, session) = w
        .call(
            "nobody",
            "POST",
            "/api/v1/session",
            Some(json!({ "login": "dup.login", "password": "long-enough-pass" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_eq!(session["user"]["role"], "inspector");
    let (status, category) = w
        .call("admin", "GET", "/api/v1/categories/06010", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(category["limits"]["handle"]["normal"], "4 working_hours");
    let mut edited = category.clone();
    edited["limits"]["handle"]["normal"] = json!("0 working_hours");
    let (status, error) = w
        .call("admin", "PUT", "/api/v1/categories/06010", Some(edited))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scorecards_follow_the_loop_and_are_scoped() {
    let w = world().await;
    let street = "/api/v1/scorecards?scope=330102001000&from=2020-01-01&to=2035-12-31";
    let (status, before) = w.call("operator", "GET", street, None).await;
    assert_eq!(status, StatusCode::OK, "{before}");
    assert_eq!(before["counts"]["reported"], 0);
    assert_eq!(before["name"], "One Street");
    assert_eq!(
        before["score"],
        Value::Null,
        "no due cases, no composite score"
    );

    // An inspector's report (objective) inside the zone, a hotline complaint (satisfaction)
    // outside it.
    let (status, first) = w
        .call(
            "inspector",
            "POST",
            "/api/v1/reports",
            Some(json!({
                "description": "人行道上有暴露垃圾",
                "category": "06010",
                "location": { "lon": 120.005, "lat": 30.005 }
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["case"]["place"]["zones"], json!(["market"]));
    let (status, second) = w
        .call(
            "hotline",
            "POST",
            "/api/v1/reports",
            Some(json!({
                "description": "来电反映小区噪音扰民",
                "category": "R3001",
                "location": { "lon": 120.015, "lat": 30.015 }
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    let (_, open) = w.call("operator", "GET", street, None).await;
    assert_eq!(open["counts"]["reported"], 2);
    assert_eq!(open["counts"]["by_inspector"], 1);
    assert_eq!(open["counts"]["by_public"], 1);
    assert_eq!(open["counts"]["due"], 2);
    assert_eq!(open["counts"]["open"], 2);
    let closure = |card: &Value| {
        card["indicators"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["code"] == "closure_rate")
            .unwrap()["value"]
            .clone()
    };
    assert_eq!(closure(&open), json!(0.0));

    // The inspector's case goes round the loop and closes on time.
    let id = first["case"]["id"].as_str().unwrap().to_owned();
    w.step("handler", &id, json!({ "command": "accept" })).await;
    w.step("handler", &id, json!({ "command": "start_handling" }))
        .await;
    w.step("handler", &id, json!({ "command": "report_handled" }))
        .await;
    w.step(
        "inspector",
        &id,
        json!({ "command": "verify", "passed": true }),
    )
    .await;
    w.step("operator", &id, json!({ "command": "close" })).await;
    let (_, after) = w.call("operator", "GET", street, None).await;
    assert_eq!(after["counts"]["closed"], 1);
    assert_eq!(after["counts"]["closed_on_time"], 1);
    assert_eq!(after["counts"]["open"], 1);
    assert_eq!(closure(&after), json!(0.5));
    assert_eq!(after["limits"]["objective"]["value"], json!(1.0));
    assert_eq!(after["limits"]["satisfaction"]["value"], Value::Null);
    assert_eq!(after["score_kind"], "area_composite");
    assert!(after["score"].as_f64().unwrap() > 0.0);

    // The zone is read against its type's goals: attainment, gap, weighted score, grade.
    let (status, zone) = w
        .call(
            "admin",
            "GET",
            "/api/v1/scorecards?scope=zone:market&from=2020-01-01&to=2035-12-31",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{zone}");
    assert_eq!(zone["goal_source"], "zone_type");
    assert_eq!(zone["score_kind"], "goal_attainment");
    assert_eq!(
        zone["counts"]["reported"], 1,
        "only the case inside the zone"
    );
    let on_time = zone["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["code"] == "on_time_closure_rate")
        .unwrap();
    assert_eq!(on_time["target"], json!(0.95));
    assert_eq!(on_time["attainment"], json!(1.0));
    assert!(zone["grade"].is_string());

    // Rankings and trends.
    let (status, ranking) = w
        .call(
            "operator",
            "GET",
            "/api/v1/scorecards/ranking?level=community&within=330102001000&from=2020-01-01&to=2035-12-31",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{ranking}");
    let items = ranking["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let reported: i64 = items.iter().map(|i| i["reported"].as_i64().unwrap()).sum();
    assert_eq!(reported, 2);
    assert_eq!(items[0]["rank"], 1);
    // A ranked division carries the same score as its own scorecard.
    let first = items[0]["scope"].as_str().unwrap();
    let (_, card) = w
        .call(
            "operator",
            "GET",
            &format!("/api/v1/scorecards?scope={first}&from=2020-01-01&to=2035-12-31"),
            None,
        )
        .await;
    assert!(card["score"].is_number(), "{card}");
    assert_eq!(items[0]["score"], card["score"], "{ranking} vs {card}");
    let (status, trend) = w
        .call(
            "admin",
            "GET",
            "/api/v1/scorecards/trend?scope=city&from=2020-01-01&to=2035-12-31&bucket=month&indicator=closure_rate",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{trend}");
    let points = trend["points"].as_array().unwrap();
    let total: i64 = points.iter().map(|p| p["reported"].as_i64().unwrap()).sum();
    assert_eq!(total, 2);
    assert!(
        points
            .iter()
            .all(|p| p["start"].as_str().unwrap().ends_with("-01"))
    );
    // A zone's trend reads the zone's own extent, as its scorecard does.
    let (status, zone_trend) = w
        .call(
            "admin",
            "GET",
            "/api/v1/scorecards/trend?scope=zone:market&from=2020-01-01&to=2035-12-31&bucket=month&indicator=cases_per_grid_month",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{zone_trend}");
    assert!(
        zone_trend["points"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["value"].as_f64().is_some_and(|v| v > 0.0)),
        "{zone_trend}"
    );
    let (status, _) = w
        .call(
            "admin",
            "GET",
            "/api/v1/scorecards/trend?scope=zone:nowhere",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A handler reads their own department only, city-wide.
    let (status, by_street) = w.call("handler", "GET", street, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{by_street}");
    let (status, own) = w
        .call(
            "handler",
            "GET",
            "/api/v1/scorecards?scope=city&from=2020-01-01&to=2035-12-31",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{own}");
    assert_eq!(own["department"], "street-office");
    assert_eq!(own["score_kind"], "department_composite");
    let (status, _) = w
        .call(
            "handler",
            "GET",
            "/api/v1/scorecards?scope=city&department=other",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Scoped and validated.
    for (who, uri, expected, field) in [
        ("citizen", street.to_owned(), StatusCode::FORBIDDEN, None),
        ("elsewhere", street.to_owned(), StatusCode::FORBIDDEN, None),
        (
            "operator",
            "/api/v1/scorecards?scope=city".to_owned(),
            StatusCode::FORBIDDEN,
            None,
        ),
        ("nobody", street.to_owned(), StatusCode::UNAUTHORIZED, None),
        (
            "admin",
            "/api/v1/scorecards?from=2026-02-30".to_owned(),
            StatusCode::BAD_REQUEST,
            Some("from"),
        ),
        (
            "admin",
            "/api/v1/scorecards?from=2026-03-02&to=2026-03-01".to_owned(),
            StatusCode::BAD_REQUEST,
            Some("from"),
        ),
        (
            "admin",
            "/api/v1/scorecards?scope=330102009000".to_owned(),
            StatusCode::NOT_FOUND,
            None,
        ),
        (
            "admin",
            "/api/v1/scorecards?scope=banana".to_owned(),
            StatusCode::BAD_REQUEST,
            Some("scope"),
        ),
        (
            "admin",
            "/api/v1/scorecards?scope=zone:nowhere".to_owned(),
            StatusCode::NOT_FOUND,
            None,
        ),
        (
            "admin",
            "/api/v1/scorecards?colour=red".to_owned(),
            StatusCode::BAD_REQUEST,
            None,
        ),
        (
            "admin",
            "/api/v1/scorecards/ranking?level=planet".to_owned(),
            StatusCode::BAD_REQUEST,
            Some("level"),
        ),
        (
            "admin",
            "/api/v1/scorecards/ranking?by=happiness".to_owned(),
            StatusCode::BAD_REQUEST,
            Some("by"),
        ),
        (
            "admin",
            "/api/v1/scorecards/trend?bucket=year".to_owned(),
            StatusCode::BAD_REQUEST,
            Some("bucket"),
        ),
        (
            "admin",
            "/api/v1/scorecards/trend?indicator=happiness".to_owned(),
            StatusCode::BAD_REQUEST,
            Some("indicator"),
        ),
    ] {
        let (status, body) = w.call(who, "GET", &uri, None).await;
        assert_eq!(status, expected, "{who} {uri}: {body}");
        if let Some(field) = field {
            assert_eq!(body["error"]["field"], field, "{uri}: {body}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_changes_stream_to_watchers_in_scope_and_metrics_count_them() {
    let w = world().await;
    let watch = |who: &str| {
        let mut request = Request::builder().uri("/api/v1/live");
        if let Some(token) = w.tokens.get(who) {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        w.app.clone().oneshot(request.body(Body::empty()).unwrap())
    };
    let operator = watch("operator").await.unwrap();
    assert_eq!(operator.status(), StatusCode::OK);
    assert_eq!(
        operator.headers()["content-type"],
        "text/event-stream",
        "an event stream"
    );
    let elsewhere = watch("elsewhere").await.unwrap();
    assert_eq!(
        watch("citizen").await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        watch("nobody").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );

    let (status, intake) = w
        .call(
            "inspector",
            "POST",
            "/api/v1/reports",
            Some(json!({
                "description": "人行道上有暴露垃圾",
                "category": "06010",
                "location": { "lon": 120.005, "lat": 30.005 },
                "reporter": { "phone": "13900000001" }
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{intake}");
    let id = intake["case"]["id"].as_str().unwrap().to_owned();

    // The operator's stream carries the new case (dispatched at intake), without personal data.
    let mut body = operator.into_body();
    let mut text = String::new();
    while !text.contains("\n\n") {
        let frame = body.frame().await.unwrap().unwrap();
        if let Some(data) = frame.data_ref() {
            text.push_str(std::str::from_utf8(data).unwrap());
        }
    }
    assert!(text.starts_with("event: case\n"), "{text}");
    let data = text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
    let event: Value = serde_json::from_str(data).unwrap();
    assert_eq!(event["id"], id.as_str());
    assert_eq!(event["state"], "dispatched");
    assert_eq!(event["kind"], "dispatched");
    assert_eq!(event["street"], "330102001000");
    assert!(!text.contains("13900000001"));

    // Another street's operator sees nothing of it: their stream has no frame yet. A change in
    // their own street would arrive; none is made, so the stream is still pending.
    let mut other = elsewhere.into_body();
    let pending = futures_util::FutureExt::now_or_never(other.frame());
    assert!(pending.is_none(), "nothing for another street");

    // Metrics: per-route counters and the loop's depths; not for citizens.
    let metrics = |who: &'static str| {
        let mut request = Request::builder().uri("/metrics");
        if let Some(token) = w.tokens.get(who) {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        w.app.clone().oneshot(request.body(Body::empty()).unwrap())
    };
    let response = metrics("admin").await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    assert!(
        text.contains(
            "jingzhi_http_requests_total{method=\"POST\",route=\"/api/v1/reports\",status=\"201\"} 1"
        ),
        "{text}"
    );
    assert!(text.contains("jingzhi_cases_open 1"), "{text}");
    assert!(
        text.contains("jingzhi_case_queue_depth{state=\"dispatched\"} 1"),
        "{text}"
    );
    assert!(text.contains(
        "jingzhi_http_request_duration_seconds_count{method=\"POST\",route=\"/api/v1/reports\"} 1"
    ));
    assert_eq!(
        metrics("citizen").await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        metrics("nobody").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}
