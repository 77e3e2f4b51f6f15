//! Open311 GeoReport v2 conformance, through the real router: every item of the server checklist
//! (`open311.md` §7), each in JSON and in XML. Every GET is asked in both formats and the parsed
//! XML must say exactly what the JSON says (element by element), so a test that asserts on the
//! JSON asserts on the XML too; POSTs are checked in both formats separately. Plus media uploads,
//! attribute validation for all six datatypes, keys and their rate, merged duplicates, every
//! filter of the request list, `extensions=true`, tokens, FixMyStreet's request updates, CORS,
//! and that no reporter's personal data appears in any Open311 answer.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use jz_app::cases::config;
use jz_app::cases::intake::{ReportInput, Reporter};
use jz_app::cases::keys::{Scope, create_api_key};
use jz_app::cases::users::{User, create_user};
use jz_app::cases::{Context, load_case, now_us};
use jz_app::city::plan::Stage;
use jz_app::city::{Actor as AdminActor, FieldMapping, ImportOptions, SharedCity, SourceFile};
use jz_domain::access::{Actor, Role};
use jz_domain::case::{Channel, Command};
use jz_domain::division::{DivisionCode, DivisionLevel};
use jz_domain::responsibility::{DepartmentKind, ResponsibilityRule, Territory};
use jz_geo::datum::Datum;
use jz_http::AppState;
use serde_json::{Value, json};
use tower::ServiceExt;

/// A 2 km × 2 km city (the fixture of `case_api.rs`): one district, one street, two communities.
const CITY: &str = r#"{"type":"FeatureCollection","features":[
  {"type":"Feature","properties":{"code":"330100000000","name":"Test City","level":"city"},
   "geometry":{"type":"Polygon","coordinates":[[[120.00,30.00],[120.02,30.00],[120.02,30.02],[120.00,30.02],[120.00,30.00]]]}},
  {"type":"Feature","properties":{"code":"330102000000","name":"Only District","level":"district","parent_code":"330100000000"},
   "geometry":{"type":"Polygon","coordinates":[[[120.00,30.00],[120.02,30.00],[120.02,30.02],[120.00,30.02],[120.00,30.00]]]}}
]}"#;
const CODES: &str = "code,name,level,parent_code\n330102001000,One Street,street,330102000000\n330102001001,North Community,community,330102001000\n330102001002,South Community,community,330102001000\n";

const DAY_US: i64 = 24 * 3600 * 1_000_000;

/// A PNG's signature and a little more: enough for the photo store's sniffing.
const PNG: &[u8] = &[
    0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R', 0, 0, 0,
    1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1F, 0x15, 0xC4, 0x89,
];
const JPEG: &[u8] = &[
    0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 0xFF, 0xD9,
];

struct World {
    app: axum::Router,
    state: AppState,
    /// API key secrets by name: `app` (open311, 1000/min), `slow` (open311, 2/min), `native`
    /// (api scope only).
    keys: HashMap<&'static str, String>,
    citizen_app: User,
    _db: jz_testkit::TestDb,
}

fn street() -> DivisionCode {
    DivisionCode::parse("330102001000").unwrap()
}

fn operator() -> Actor {
    Actor {
        id: "user:test-operator".into(),
        role: Role::StreetOperator,
        territory: Some(street()),
        department: None,
    }
}

fn handler() -> Actor {
    Actor {
        id: "user:test-handler".into(),
        role: Role::Handler,
        territory: Some(street()),
        department: Some("street-office".into()),
    }
}

fn inspector() -> Actor {
    Actor {
        id: "user:test-inspector".into(),
        role: Role::Inspector,
        territory: Some(street()),
        department: None,
    }
}

async fn world() -> World {
    world_on(jz_testkit::TestDb::sqlite()).await
}

async fn world_on(db: jz_testkit::TestDb) -> World {
    let store = db.open().await;
    let admin = AdminActor {
        actor: "user:setup".into(),
        origin: "test".into(),
        at_us: now_us(),
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
    let city = std::sync::Arc::new(SharedCity::new(
        jz_app::city::load_model(&store).await.unwrap(),
    ));
    let mut state = AppState::open(store.clone(), city).await.unwrap();
    // These tests send many requests from one (absent) address.
    state.limiter = std::sync::Arc::new(jz_http::limit::IpLimiter::new(0));
    config::put_department(
        &store,
        &state.cases.config,
        &admin,
        config::department(
            "street-office",
            "一街道城管中队",
            DepartmentKind::StreetOffice,
            DivisionLevel::Street,
            street(),
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
            territory: Territory::Division(street()),
            level: DivisionLevel::Street,
            department: "street-office".into(),
            priority: 1,
            fallback: false,
        },
    )
    .await
    .unwrap();
    let (citizen_app, _) = create_user(&store, &admin, "citizen app", Role::Citizen, None, None)
        .await
        .unwrap();
    let mut keys = HashMap::new();
    for (name, scopes, rate) in [
        ("app", vec![Scope::Open311], 1000),
        ("slow", vec![Scope::Open311], 2),
        ("native", vec![Scope::Api], 1000),
    ] {
        let (_, secret) = create_api_key(&store, &admin, &citizen_app.id, name, &scopes, rate)
            .await
            .unwrap();
        keys.insert(name, secret);
    }
    World {
        app: jz_http::router(state.clone()),
        state,
        keys,
        citizen_app,
        _db: db,
    }
}

/// An answer as received.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

/// Open311's XML list containers: their children become a JSON array.
const LISTS: &[&str] = &[
    "services",
    "service_requests",
    "attributes",
    "values",
    "errors",
    "endpoints",
    "formats",
    "notes",
    "photos",
    "service_request_updates",
];

/// An XML element as the JSON value it stands for: list containers → arrays, elements with
/// children → objects, leaves → text (an empty element → null).
fn xml_value(node: roxmltree::Node) -> Value {
    let children: Vec<roxmltree::Node> = node.children().filter(|c| c.is_element()).collect();
    let name = node.tag_name().name();
    if LISTS.contains(&name) {
        return Value::Array(children.into_iter().map(xml_value).collect());
    }
    if children.is_empty() {
        return match node.text().unwrap_or("") {
            "" => Value::Null,
            text => Value::String(text.to_owned()),
        };
    }
    let mut object = serde_json::Map::new();
    for child in children {
        let previous = object.insert(child.tag_name().name().to_owned(), xml_value(child));
        assert!(
            previous.is_none(),
            "<{name}> repeats <{}>",
            child.tag_name().name()
        );
    }
    Value::Object(object)
}

/// A JSON value as XML can say it: every leaf as text, empty text as null.
fn as_text(value: &Value) -> Value {
    match value {
        Value::Null => Value::Null,
        Value::Bool(b) => Value::String(b.to_string()),
        Value::Number(n) => Value::String(n.to_string()),
        Value::String(s) if s.is_empty() => Value::Null,
        Value::String(s) => Value::String(s.clone()),
        Value::Array(items) => Value::Array(items.iter().map(as_text).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), as_text(v))).collect())
        }
    }
}

impl Answer {
    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("UTF-8 answer")
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn json(&self) -> Value {
        assert_eq!(
            self.header("content-type"),
            Some("application/json; charset=utf-8"),
            "{}",
            self.text()
        );
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }

    /// The parsed XML: its declaration checked, its root element's name and its value.
    fn xml(&self) -> (String, Value) {
        assert_eq!(
            self.header("content-type"),
            Some("text/xml; charset=utf-8"),
            "{}",
            self.text()
        );
        let text = self.text();
        assert!(
            text.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>"),
            "{text}"
        );
        let document = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        let root = document.root_element();
        assert_eq!(root.tag_name().namespace(), None, "no namespace");
        (root.tag_name().name().to_owned(), xml_value(root))
    }
}

impl World {
    async fn send(&self, request: Request<Body>) -> Answer {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        Answer {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, uri: &str) -> Answer {
        self.send(Request::get(uri).body(Body::empty()).unwrap())
            .await
    }

    /// GETs `uri` (with `{fmt}` for the suffix) as JSON and as XML, checks both carry the same
    /// status and the same content under `root`, and returns the JSON.
    async fn both(&self, uri: &str, root: &str) -> (StatusCode, Value) {
        let json_answer = self.get(&uri.replace("{fmt}", "json")).await;
        let xml_answer = self.get(&uri.replace("{fmt}", "xml")).await;
        assert_eq!(
            json_answer.status,
            xml_answer.status,
            "{uri}: {}",
            xml_answer.text()
        );
        assert_ne!(
            json_answer.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{uri}"
        );
        for answer in [&json_answer, &xml_answer] {
            assert_eq!(
                answer.header("access-control-allow-origin"),
                Some("*"),
                "{uri}: GETs are open to every origin"
            );
        }
        let json = json_answer.json();
        let (xml_root, xml) = xml_answer.xml();
        let expected_root = if json_answer.status.is_success() {
            root
        } else {
            "errors"
        };
        assert_eq!(xml_root, expected_root, "{uri}");
        assert_eq!(
            xml,
            as_text(&json),
            "{uri}: the XML says something else than the JSON"
        );
        (json_answer.status, json)
    }

    async fn post(&self, uri: &str, content_type: Option<&str>, body: Vec<u8>) -> Answer {
        self.post_with(uri, content_type, body, &[]).await
    }

    async fn post_with(
        &self,
        uri: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut request = Request::post(uri);
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request.body(Body::from(body)).unwrap()).await
    }

    async fn post_form(&self, uri: &str, pairs: &[(&str, &str)]) -> Answer {
        self.post(uri, Some("application/x-www-form-urlencoded"), form(pairs))
            .await
    }

    fn key(&self, name: &str) -> &str {
        &self.keys[name]
    }

    /// Posts a report through Open311 (JSON) and returns its service_request_id.
    async fn report(&self, code: &str, lon: f64, lat: f64, extra: &[(&str, &str)]) -> String {
        let (lon, lat) = (lon.to_string(), lat.to_string());
        let mut pairs = vec![
            ("api_key", self.key("app")),
            ("service_code", code),
            ("lat", lat.as_str()),
            ("long", lon.as_str()),
        ];
        pairs.extend_from_slice(extra);
        if !extra.iter().any(|(k, _)| *k == "description") {
            pairs.push(("description", "路边有问题，请处理"));
        }
        let answer = self.post_form("/open311/v2/requests.json", &pairs).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        answer.json()[0]["service_request_id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A report taken in at a chosen moment (through the same intake, without HTTP).
    async fn report_at(&self, code: &str, lon: f64, lat: f64, at_us: i64) -> String {
        self.state
            .cases
            .intake(
                ReportInput {
                    channel: Channel::Open311,
                    description: format!("早先的上报 {code}"),
                    lon,
                    lat,
                    datum: Datum::Wgs84,
                    address: None,
                    category: Some(code.into()),
                    urgency: None,
                    reporter: Reporter::default(),
                    intake_key: None,
                    photos: Vec::new(),
                },
                &self.citizen_app.actor(),
                "test",
                at_us,
            )
            .await
            .unwrap()
            .case
            .id
    }

    /// Issues a command on a case at its current version.
    async fn step(&self, actor: &Actor, id: &str, command: Command) {
        let version = load_case(&self.state.store, id)
            .await
            .unwrap()
            .unwrap()
            .version;
        self.state
            .cases
            .command(
                id,
                version,
                &command,
                actor,
                &Context {
                    origin: "test".into(),
                    ..Context::default()
                },
                now_us(),
            )
            .await
            .unwrap();
    }

    async fn requests(&self, query: &str) -> Vec<Value> {
        let (status, list) = self
            .both(
                &format!("/open311/v2/requests.{{fmt}}?{query}"),
                "service_requests",
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{query}: {list}");
        list.as_array().unwrap().clone()
    }

    async fn ids(&self, query: &str) -> Vec<String> {
        self.requests(query)
            .await
            .iter()
            .map(|r| r["service_request_id"].as_str().unwrap().to_owned())
            .collect()
    }
}

fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
        .into_bytes()
}

/// One part of a multipart body.
enum Part<'a> {
    Text(&'a str, &'a str),
    /// Name, file name (if any), content type (if any), bytes.
    File(&'a str, Option<&'a str>, Option<&'a str>, &'a [u8]),
}

const BOUNDARY: &str = "----jingzhi-test-boundary-7MA4YWxkTrZu0gW";

fn multipart(parts: &[Part]) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match part {
            Part::Text(name, value) => {
                body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                        .as_bytes(),
                );
            }
            Part::File(name, file_name, content_type, bytes) => {
                let mut disposition = format!("Content-Disposition: form-data; name=\"{name}\"");
                if let Some(file_name) = file_name {
                    disposition.push_str(&format!("; filename=\"{file_name}\""));
                }
                body.extend_from_slice(disposition.as_bytes());
                body.extend_from_slice(b"\r\n");
                if let Some(content_type) = content_type {
                    body.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
                }
                body.extend_from_slice(b"\r\n");
                body.extend_from_slice(bytes);
                body.extend_from_slice(b"\r\n");
            }
        }
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

fn multipart_type() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

/// The descriptions of an error answer (JSON), checking its shape: an array of
/// `{code, description}` with `code` equal to the status.
fn errors(status: StatusCode, body: &Value) -> Vec<String> {
    let list = body
        .as_array()
        .unwrap_or_else(|| panic!("errors are an array: {body}"));
    assert!(!list.is_empty(), "at least one error");
    list.iter()
        .map(|e| {
            assert_eq!(e["code"], json!(status.as_u16()), "{e}");
            assert_eq!(e.as_object().unwrap().len(), 2, "{e}");
            e["description"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// Whether `text` is a W3C datetime with a zone (`…+08:00` or `…Z`).
fn is_w3c(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && (text.ends_with('Z') || text.ends_with("+08:00"))
}

fn shanghai_w3c(at_us: i64) -> String {
    let tz = jiff::tz::TimeZoneDatabase::bundled()
        .get("Asia/Shanghai")
        .unwrap();
    jz_app::open311::format_w3c(at_us, &tz)
}

/// Posts a request with the `app` key; `lat`/`long` default to a point in the city.
async fn post_fields(w: &World, fmt: &str, pairs: Vec<(&'static str, String)>) -> Answer {
    let mut all: Vec<(&str, String)> = vec![("api_key", w.key("app").to_owned())];
    for (name, default) in [("lat", "30.0133"), ("long", "120.0133")] {
        if !pairs.iter().any(|(k, _)| *k == name) {
            all.push((name, default.to_owned()));
        }
    }
    all.extend(pairs);
    let refs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
    w.post_form(&format!("/open311/v2/requests.{fmt}"), &refs)
        .await
}

// ---------------------------------------------------------------------------------------------
// Routes, formats, discovery (checklist: routes under /open311/v2/ with .json and .xml;
// discovery also at /open311/discovery.*).

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_answers_in_both_places_and_both_formats() {
    let w = world().await;
    for path in ["/open311/discovery.{fmt}", "/open311/v2/discovery.{fmt}"] {
        let (status, discovery) = w.both(path, "discovery").await;
        assert_eq!(status, StatusCode::OK);
        for field in ["changeset", "contact", "key_service"] {
            assert!(
                discovery[field].as_str().is_some_and(|s| !s.is_empty()),
                "{field}"
            );
        }
        assert!(is_w3c(discovery["changeset"].as_str().unwrap()));
        assert!(
            discovery["key_service"]
                .as_str()
                .unwrap()
                .contains("jingzhi keys add")
        );
        assert_eq!(discovery["max_requests"], 1000);
        let endpoints = discovery["endpoints"].as_array().unwrap();
        assert_eq!(endpoints.len(), 1);
        let endpoint = &endpoints[0];
        assert_eq!(
            endpoint["specification"],
            "http://wiki.open311.org/GeoReport_v2"
        );
        assert_eq!(endpoint["type"], "production");
        assert_eq!(endpoint["formats"], json!(["text/xml", "application/json"]));
        assert!(endpoint["url"].as_str().unwrap().ends_with("/open311/v2"));
        assert_eq!(endpoint["changeset"], discovery["changeset"]);
    }
    // With a Host header the endpoint's URL is absolute.
    let answer = w
        .send(
            Request::get("/open311/v2/discovery.json")
                .header(header::HOST, "city.example:8080")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        answer.json()["endpoints"][0]["url"],
        "http://city.example:8080/open311/v2"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_resource_answers_in_both_formats_and_nothing_without_a_suffix() {
    let w = world().await;
    let id = w.report("06012", 120.003, 30.003, &[]).await;
    let one = format!("/open311/v2/requests/{id}.{{fmt}}");
    for (path, root) in [
        ("/open311/v2/services.{fmt}", "services"),
        ("/open311/v2/services/06010.{fmt}", "service_definition"),
        ("/open311/v2/requests.{fmt}", "service_requests"),
        (one.as_str(), "service_requests"),
        (
            "/open311/v2/servicerequestupdates.{fmt}",
            "service_request_updates",
        ),
    ] {
        let (status, _) = w.both(path, root).await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    // Upper-case suffixes are the same formats.
    assert!(
        !w.get("/open311/v2/services.JSON")
            .await
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );
    // No suffix, another suffix, unknown resources: 404 in the spec's error format.
    for path in [
        "/open311/v2/services",
        "/open311/v2/requests",
        "/open311/v2/services.html",
        "/open311/v2/discovery",
        "/open311/v2/unknown.json",
        "/open311/v2/things/1.json",
        "/open311/v2/services/06010",
        "/open311/v2/a/b/c.json",
        "/open311/v3/services.json",
    ] {
        let answer = w.get(path).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        let body = if path.ends_with(".json") {
            answer.json()
        } else {
            let (root, value) = answer.xml();
            assert_eq!(root, "errors", "{path}");
            value
        };
        let descriptions: Vec<String> = body
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["description"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(descriptions.len(), 1, "{path}");
        assert_eq!(answer.header("access-control-allow-origin"), Some("*"));
    }
    let answer = w.get("/open311/v2/services").await;
    assert!(answer.text().contains(".xml or .json"), "{}", answer.text());
    // A method a resource does not take: 400 with Allow, in the suffix's format.
    let answer = w
        .send(
            Request::delete("/open311/v2/services.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.header("allow"), Some("GET, HEAD, OPTIONS"));
    errors(StatusCode::BAD_REQUEST, &answer.json());
    let answer = w.post_form("/open311/v2/services.xml", &[]).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.xml().0, "errors");
}

// ---------------------------------------------------------------------------------------------
// Services (checklist: ids and codes as strings, booleans, all fields present).

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_are_the_exposed_active_categories_with_metadata_exactly_where_attributes_are() {
    let w = world().await;
    let (status, services) = w.both("/open311/v2/services.{fmt}", "services").await;
    assert_eq!(status, StatusCode::OK);
    let services = services.as_array().unwrap();
    assert!(services.len() >= 30, "{}", services.len());
    let config = w.state.cases.config.current();
    let with_metadata = ["06010", "06028", "01037", "09009"];
    for service in services {
        let fields: Vec<&str> = service
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            fields.len(),
            7,
            "service_code, service_name, description, metadata, type, keywords, group: {service}"
        );
        let code = service["service_code"].as_str().expect("codes are strings");
        let category = config.category(code).unwrap();
        assert!(category.active);
        assert_eq!(service["service_name"], category.name.as_str());
        assert_eq!(service["group"], category.major_name.as_str());
        assert_eq!(service["type"], "realtime");
        assert!(
            service["description"]
                .as_str()
                .is_some_and(|d| !d.is_empty())
        );
        assert!(service["keywords"].as_str().is_some_and(|k| !k.is_empty()));
        assert_eq!(
            service["metadata"],
            json!(with_metadata.contains(&code)),
            "{code}: metadata exactly for services with attributes"
        );
    }
    let codes: Vec<&str> = services
        .iter()
        .map(|s| s["service_code"].as_str().unwrap())
        .collect();
    for code in ["06010", "06012", "09009", "R1001", "R3001", "R5002"] {
        assert!(codes.contains(&code), "{code} is offered by default");
    }
    let garbage = services
        .iter()
        .find(|s| s["service_code"] == "06010")
        .unwrap();
    assert_eq!(garbage["keywords"], "暴露垃圾,市容环境");

    // A retired category is no longer offered; neither is one an admin hides.
    let admin = AdminActor {
        actor: "user:admin".into(),
        origin: "test".into(),
        at_us: now_us(),
    };
    let mut retired = config.category("06012").unwrap().clone();
    retired.active = false;
    config::update_category(&w.state.store, &w.state.cases.config, &admin, retired)
        .await
        .unwrap();
    let mut hidden = jz_app::open311::default_settings(config.category("06013").unwrap(), 99);
    hidden.exposed = false;
    jz_app::open311::put_service(&w.state.cases, &admin, hidden)
        .await
        .unwrap();
    let (_, services) = w.both("/open311/v2/services.{fmt}", "services").await;
    let codes: Vec<&str> = services
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["service_code"].as_str().unwrap())
        .collect();
    assert!(!codes.contains(&"06012") && !codes.contains(&"06013"));
    for code in ["06012", "06013"] {
        let (status, body) = w
            .both(
                &format!("/open311/v2/services/{code}.{{fmt}}"),
                "service_definition",
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{code}");
        errors(status, &body);
    }
    // A bad definition is refused with every problem named.
    let mut bad = jz_app::open311::default_settings(config.category("06010").unwrap(), 1);
    bad.attributes[1].order = 1;
    bad.attributes[0].values.clear();
    let error = jz_app::open311::put_service(&w.state.cases, &admin, bad)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("attributes[1].order") && error.contains("attributes[0].values"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_definitions_list_attributes_in_order_with_all_six_datatypes() {
    let w = world().await;
    let mut datatypes = Vec::new();
    for code in ["06010", "06028", "01037", "09009"] {
        let (status, definition) = w
            .both(
                &format!("/open311/v2/services/{code}.{{fmt}}"),
                "service_definition",
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(definition["service_code"], code);
        let attributes = definition["attributes"].as_array().unwrap();
        assert!(!attributes.is_empty());
        for (index, attribute) in attributes.iter().enumerate() {
            assert_eq!(attribute["order"], json!(index + 1), "in order, from 1");
            assert!(attribute["variable"].is_boolean());
            assert!(attribute["required"].is_boolean());
            assert!(attribute["code"].is_string());
            assert!(
                attribute["description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty())
            );
            assert!(
                attribute.get("datatype_description").is_some(),
                "present, maybe null"
            );
            let datatype = attribute["datatype"].as_str().unwrap().to_owned();
            let values = attribute["values"].as_array().unwrap();
            if datatype.ends_with("valuelist") {
                assert!(!values.is_empty());
                for value in values {
                    assert!(value["key"].is_string() && value["name"].is_string());
                }
            } else {
                assert!(values.is_empty());
            }
            datatypes.push(datatype);
        }
    }
    for datatype in [
        "string",
        "number",
        "datetime",
        "text",
        "singlevaluelist",
        "multivaluelist",
    ] {
        assert!(datatypes.iter().any(|d| d == datatype), "{datatype}");
    }
    // The informational attribute asks nothing.
    let (_, garbage) = w
        .both("/open311/v2/services/06010.{fmt}", "service_definition")
        .await;
    let safety = &garbage["attributes"][2];
    assert_eq!(safety["code"], "safety");
    assert_eq!(safety["variable"], false);
    assert_eq!(safety["required"], false);
    // A service without attributes still has a definition (an empty list).
    let (status, plain) = w
        .both("/open311/v2/services/06012.{fmt}", "service_definition")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(plain["attributes"], json!([]));
    // An unknown code: 404.
    let (status, body) = w
        .both("/open311/v2/services/99999.{fmt}", "service_definition")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(errors(status, &body)[0].contains("99999"));
}

// ---------------------------------------------------------------------------------------------
// POST requests (checklist: form-urlencoded and multipart; api_key from query or form, 403 on
// POST only; location required; unknown service 404).

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_encoded_request_enters_the_one_intake_in_both_formats() {
    let w = world().await;
    let body = form(&[
        ("api_key", w.key("app")),
        ("jurisdiction_id", "jingzhi.local"),
        ("service_code", "06012"),
        ("lat", "30.0051"),
        ("long", "120.0051"),
        ("address_string", "一街道 88 号门口"),
        ("description", "人行道上满是落叶和纸屑\n已经好几天了"),
        ("media_url", "https://photos.example/a.jpg"),
    ]);
    let answer = w
        .post(
            "/open311/v2/requests.json",
            Some("application/x-www-form-urlencoded"),
            body,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let created = answer.json();
    let list = created.as_array().unwrap();
    assert_eq!(list.len(), 1);
    let id = list[0]["service_request_id"]
        .as_str()
        .expect("a string id")
        .to_owned();
    assert!(
        list[0]["service_notice"]
            .as_str()
            .unwrap()
            .contains("一街道城管中队")
    );
    assert_eq!(list[0]["account_id"], Value::Null);
    assert!(list[0].get("token").is_none());

    // The case is an ordinary case of the loop: dispatched by the rules, channel open311.
    let case = load_case(&w.state.store, &id).await.unwrap().unwrap();
    assert_eq!(case.channel, Channel::Open311);
    assert_eq!(case.category.as_deref(), Some("06012"));
    assert_eq!(case.department.as_deref(), Some("street-office"));

    let one = &w.requests(&format!("service_request_id={id}")).await[0];
    assert_eq!(one["address"], "一街道 88 号门口");
    assert_eq!(one["description"], "人行道上满是落叶和纸屑\n已经好几天了");
    assert_eq!(
        one["media_url"], "https://photos.example/a.jpg",
        "kept as given"
    );

    // The same in XML, with the key in the query string and no Content-Type at all.
    let answer = w
        .post(
            &format!("/open311/v2/requests.xml?api_key={}", w.key("app")),
            None,
            form(&[
                ("service_code", "06013"),
                ("lat", "30.0151"),
                ("long", "120.0151"),
                ("jurisdiction_id", ""),
            ]),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let (root, value) = answer.xml();
    assert_eq!(root, "service_requests");
    let id = value[0]["service_request_id"].as_str().unwrap().to_owned();
    assert_eq!(value[0]["account_id"], Value::Null, "an empty element");
    let case = load_case(&w.state.store, &id).await.unwrap().unwrap();
    assert_eq!(
        case.description, "道路破损",
        "no description: the service's name"
    );

    // The spec's own example spelling: raw brackets in attribute names, `+` for spaces.
    let raw = format!(
        "api_key={}&service_code=01037&lat=30.0071&long=120.0071&description=A+dark+lamp&attribute[fault]=off&attribute[pole_number]=LD+12",
        w.key("app")
    );
    let answer = w
        .post(
            "/open311/v2/requests.json",
            Some("application/x-www-form-urlencoded; charset=utf-8"),
            raw.into_bytes(),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    // A JSON body is not a form.
    let answer = w
        .post(
            "/open311/v2/requests.json",
            Some("application/json"),
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    errors(answer.status, &answer.json());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_requests_carry_media_files_served_at_their_media_url() {
    let w = world().await;
    let body = multipart(&[
        Part::Text("api_key", w.key("app")),
        Part::Text("service_code", "06036"),
        Part::Text("lat", "30.0091"),
        Part::Text("long", "120.0091"),
        Part::Text("description", "楼道口堆满杂物"),
        // A part without a Content-Type or a file name, named as the v2.1 draft names it.
        Part::File("media", None, None, PNG),
        // FixMyStreet's naming, with a type that says nothing.
        Part::File(
            "photo1",
            Some("p.jpg"),
            Some("application/octet-stream"),
            JPEG,
        ),
        Part::Text("media_url", "https://photos.example/given.jpg"),
    ]);
    let answer = w
        .post_with(
            "/open311/v2/requests.json",
            Some(&multipart_type()),
            body,
            &[("host", "city.example")],
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let id = answer.json()[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let answer = w
        .send(
            Request::get(format!("/open311/v2/requests/{id}.json?extensions=true"))
                .header(header::HOST, "city.example")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    let request = answer.json()[0].clone();
    let media = request["media_url"].as_str().unwrap().to_owned();
    assert!(
        media.starts_with("http://city.example/open311/v2/media/"),
        "files win over a given media_url: {media}"
    );
    let photos = request["extended_attributes"]["photos"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(photos.len(), 2);
    assert_eq!(photos[0], media.as_str());
    let second = photos[1].as_str().unwrap().to_owned();
    for (url, bytes, content_type) in [(&media, PNG, "image/png"), (&second, JPEG, "image/jpeg")] {
        let path = url.strip_prefix("http://city.example").unwrap();
        let served = w.get(path).await;
        assert_eq!(served.status, StatusCode::OK);
        assert_eq!(served.body, bytes);
        assert_eq!(served.header("content-type"), Some(content_type));
        assert_eq!(served.header("access-control-allow-origin"), Some("*"));
    }
    // Unknown media, and photos not attached to a case, are not served.
    let unattached = w
        .state
        .cases
        .upload_photo(&w.citizen_app.actor(), None, PNG.to_vec(), "test", now_us())
        .await
        .unwrap();
    for id in ["nothing", unattached.as_str()] {
        let answer = w.get(&format!("/open311/v2/media/{id}")).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND);
        assert_eq!(answer.xml().0, "errors");
    }
    // `media[]` parts in XML; a file that is no image is refused by its part name.
    let answer = w
        .post(
            "/open311/v2/requests.xml",
            Some(&multipart_type()),
            multipart(&[
                Part::Text("api_key", w.key("app")),
                Part::Text("service_code", "06036"),
                Part::Text("lat", "30.0191"),
                Part::Text("long", "120.0191"),
                Part::File("media[]", Some("a.png"), Some("image/png"), PNG),
            ]),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert!(answer.xml().1[0]["service_request_id"].is_string());
    let answer = w
        .post(
            "/open311/v2/requests.xml",
            Some(&multipart_type()),
            multipart(&[
                Part::Text("api_key", w.key("app")),
                Part::Text("service_code", "06036"),
                Part::Text("lat", "30.0191"),
                Part::Text("long", "120.0171"),
                Part::File(
                    "photo2",
                    Some("a.txt"),
                    Some("text/plain"),
                    b"not a picture",
                ),
            ]),
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let (_, value) = answer.xml();
    assert!(
        value[0]["description"]
            .as_str()
            .unwrap()
            .starts_with("photo2:"),
        "{value}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_needed_to_post_only_and_are_rate_limited() {
    let w = world().await;
    let pairs = |key: Option<&str>| {
        let mut pairs = vec![
            ("service_code", "06012"),
            ("lat", "30.0111"),
            ("long", "120.0111"),
        ];
        if let Some(key) = key {
            pairs.push(("api_key", key));
        }
        pairs
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect::<Vec<_>>()
    };
    for fmt in ["json", "xml"] {
        for (key, expect) in [
            (None, "required"),
            (Some(""), "required"),
            (Some("jzk_0000000000000000"), "unknown"),
            (Some("not-a-key"), "unknown"),
            (Some(w.key("native")), "open311"),
        ] {
            let pairs = pairs(key);
            let refs: Vec<(&str, &str)> = pairs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let answer = w
                .post_form(&format!("/open311/v2/requests.{fmt}"), &refs)
                .await;
            assert_eq!(
                answer.status,
                StatusCode::FORBIDDEN,
                "{key:?}: {}",
                answer.text()
            );
            let body = if fmt == "json" {
                answer.json()
            } else {
                answer.xml().1
            };
            let description = body[0]["description"].as_str().unwrap().to_owned();
            assert!(description.contains(expect), "{description}");
            let code = if fmt == "json" {
                json!(403)
            } else {
                json!("403")
            };
            assert_eq!(body[0]["code"], code);
        }
    }
    // GETs need no key.
    assert_eq!(
        w.get("/open311/v2/requests.json").await.status,
        StatusCode::OK
    );
    // A key's rate: 2 a minute, then 429 with Retry-After, in the format asked.
    let slow = pairs(Some(w.key("slow")));
    let refs: Vec<(&str, &str)> = slow.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    for _ in 0..2 {
        assert_eq!(
            w.post_form("/open311/v2/requests.json", &refs).await.status,
            StatusCode::OK
        );
    }
    for fmt in ["json", "xml"] {
        let answer = w
            .post_form(&format!("/open311/v2/requests.{fmt}"), &refs)
            .await;
        assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(
            answer
                .header("retry-after")
                .is_some_and(|s| s.parse::<u64>().unwrap() >= 1)
        );
        let body = if fmt == "json" {
            answer.json()
        } else {
            answer.xml().1
        };
        assert!(
            body[0]["description"]
                .as_str()
                .unwrap()
                .contains("too many")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jurisdiction_may_be_absent_empty_or_ours_and_is_404_otherwise() {
    let w = world().await;
    for query in [
        "",
        "jurisdiction_id=",
        "jurisdiction_id=jingzhi.local",
        "jurisdiction_id=JINGZHI.LOCAL",
    ] {
        let (status, _) = w
            .both(&format!("/open311/v2/services.{{fmt}}?{query}"), "services")
            .await;
        assert_eq!(status, StatusCode::OK, "{query}");
    }
    for path in [
        "/open311/v2/services.{fmt}?jurisdiction_id=sfgov.org",
        "/open311/v2/services/06010.{fmt}?jurisdiction_id=sfgov.org",
        "/open311/v2/requests.{fmt}?jurisdiction_id=sfgov.org",
        "/open311/v2/discovery.{fmt}?jurisdiction_id=sfgov.org",
        "/open311/v2/servicerequestupdates.{fmt}?jurisdiction_id=sfgov.org",
        "/open311/v2/tokens/1.{fmt}?jurisdiction_id=sfgov.org",
    ] {
        let (status, body) = w.both(path, "-").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(errors(status, &body)[0].contains("jurisdiction_id"));
    }
    let answer = w
        .post_form(
            "/open311/v2/requests.json",
            &[
                ("api_key", w.key("app")),
                ("jurisdiction_id", "sfgov.org"),
                ("service_code", "06012"),
                ("lat", "30.01"),
                ("long", "120.01"),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_services_are_404_and_bad_fields_are_400_one_error_each() {
    let w = world().await;
    let key = w.key("app");
    for fmt in ["json", "xml"] {
        let uri = format!("/open311/v2/requests.{fmt}");
        let read = |answer: &Answer| -> Vec<String> {
            let body = if fmt == "json" {
                answer.json()
            } else {
                answer.xml().1
            };
            body.as_array()
                .unwrap()
                .iter()
                .map(|e| e["description"].as_str().unwrap().to_owned())
                .collect()
        };
        let answer = w
            .post_form(
                &uri,
                &[
                    ("api_key", key),
                    ("service_code", "99999"),
                    ("lat", "30.01"),
                    ("long", "120.01"),
                ],
            )
            .await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND);
        assert!(read(&answer)[0].contains("99999"));

        // Missing service code and location: two errors.
        let answer = w
            .post_form(&uri, &[("api_key", key), ("service_code", "")])
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        let found = read(&answer);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("service_code:") && found[1].starts_with("lat/long:"));

        // An address without coordinates: Jingzhi locates by coordinates.
        let answer = w
            .post_form(
                &uri,
                &[
                    ("api_key", key),
                    ("service_code", "06012"),
                    ("address_string", "人民路 1 号"),
                ],
            )
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        assert!(read(&answer)[0].contains("coordinates"));

        // Half a location, a bad number, an overlong description, a bad media URL.
        let long = "长".repeat(4001);
        let answer = w
            .post_form(
                &uri,
                &[
                    ("api_key", key),
                    ("service_code", "06012"),
                    ("lat", "north"),
                    ("long", "120.01"),
                    ("description", &long),
                    ("media_url", "javascript:alert(1)"),
                ],
            )
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        let found = read(&answer);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(
            found[0].starts_with("lat:")
                && found[1].starts_with("description:")
                && found[2].starts_with("media_url:")
        );
        let answer = w
            .post_form(
                &uri,
                &[
                    ("api_key", key),
                    ("service_code", "06012"),
                    ("lat", "30.01"),
                ],
            )
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        assert!(read(&answer)[0].starts_with("long:"));

        // Outside the city: 400 naming the nearest division.
        let answer = w
            .post_form(
                &uri,
                &[
                    ("api_key", key),
                    ("service_code", "06012"),
                    ("lat", "31.23"),
                    ("long", "121.47"),
                ],
            )
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        assert!(
            read(&answer)[0].contains("outside the city"),
            "{:?}",
            read(&answer)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attribute_answers_are_validated_by_datatype() {
    let w = world().await;
    let post = |fmt: &'static str, pairs: Vec<(&'static str, String)>| post_fields(&w, fmt, pairs);
    for fmt in ["json", "xml"] {
        let read = |answer: &Answer| -> Vec<String> {
            let body = if fmt == "json" {
                answer.json()
            } else {
                answer.xml().1
            };
            body.as_array()
                .unwrap()
                .iter()
                .map(|e| e["description"].as_str().unwrap().to_owned())
                .collect()
        };
        // Noise (singlevaluelist, datetime, number, text): every bad answer is named.
        let answer = post(
            fmt,
            vec![
                ("service_code", "06028".into()),
                ("attribute[source]", "spaceship".into()),
                ("attribute[started_at]", "last night".into()),
                ("attribute[decibels]", "very loud".into()),
                ("attribute[details]", "很".repeat(4001)),
            ],
        )
        .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        let found = read(&answer);
        let fields: Vec<&str> = found.iter().map(|d| d.split(':').next().unwrap()).collect();
        assert_eq!(
            fields,
            [
                "attribute[source]",
                "attribute[started_at]",
                "attribute[decibels]",
                "attribute[details]"
            ],
            "{found:?}"
        );
        // Required attributes must be present (an empty one is absent).
        let answer = post(
            fmt,
            vec![
                ("service_code", "06028".into()),
                ("attribute[source]", "".into()),
            ],
        )
        .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        assert!(read(&answer)[0].starts_with("attribute[source]: required"));
        // Garbage (multivaluelist keys among the values; the informational attribute is ignored).
        let answer = post(
            fmt,
            vec![
                ("service_code", "06010".into()),
                ("attribute[volume]", "small".into()),
                ("attribute[volume]", "large".into()),
                ("attribute[kinds][]", "household".into()),
                ("attribute[kinds][]", "glass".into()),
            ],
        )
        .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        let found = read(&answer);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("attribute[volume]: a singlevaluelist takes one value"));
        assert!(found[1].starts_with("attribute[kinds]:") && found[1].contains("glass"));
        // Street lights (string: one line).
        let answer = post(
            fmt,
            vec![
                ("service_code", "01037".into()),
                ("attribute[fault]", "off".into()),
                ("attribute[pole_number]", "LD\n12".into()),
            ],
        )
        .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        assert!(read(&answer)[0].starts_with("attribute[pole_number]:"));
    }
    // Good answers in every datatype are kept and shown with extensions=true.
    let answer = post(
        "json",
        vec![
            ("service_code", "06028".into()),
            ("attribute[source]", "business".into()),
            ("attribute[started_at]", "2026-10-08T14:30:00.5Z".into()),
            ("attribute[decibels]", "82.5".into()),
            ("attribute[details]", "每晚十点后\n音响很大".into()),
            ("attribute[unknown]", "ignored".into()),
        ],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let noise = answer.json()[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let answer = post(
        "json",
        vec![
            ("service_code", "06010".into()),
            ("lat", "30.0166".into()),
            ("attribute[volume]", "large".into()),
            ("attribute[kinds][]", "household".into()),
            ("attribute[kinds][]", "bulky".into()),
            ("attribute[safety]", "ignored".into()),
        ],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let garbage = answer.json()[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let answer = post(
        "json",
        vec![
            ("service_code", "01037".into()),
            ("long", "120.0177".into()),
            ("attribute[fault]", "flickering".into()),
            ("attribute[pole_number]", "LD-0012".into()),
        ],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let light = answer.json()[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let answers = |request: &Value| -> Vec<(String, String, String, String)> {
        request["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                let s = |k: &str| a[k].as_str().unwrap().to_owned();
                (s("code"), s("value"), s("name"), s("label"))
            })
            .collect()
    };
    let requests = w
        .requests(&format!(
            "service_request_id={noise},{garbage},{light}&extensions=true"
        ))
        .await;
    let by_id = |id: &str| {
        requests
            .iter()
            .find(|r| r["service_request_id"] == id)
            .unwrap()
            .clone()
    };
    let noise = answers(&by_id(&noise));
    assert_eq!(noise.len(), 4);
    assert_eq!(
        noise[0],
        (
            "source".into(),
            "business".into(),
            "商业经营".into(),
            "噪声来自哪里？".into()
        )
    );
    assert_eq!(
        noise[1].1, "2026-10-08T22:30:00+08:00",
        "datetimes normalised to the city's offset"
    );
    assert_eq!(noise[2].1, "82.5");
    assert_eq!(noise[3].1, "每晚十点后\n音响很大");
    let garbage = answers(&by_id(&garbage));
    let values: Vec<&str> = garbage.iter().map(|a| a.1.as_str()).collect();
    assert_eq!(
        values,
        ["large", "household", "bulky"],
        "one entry per chosen value; safety ignored"
    );
    let light = answers(&by_id(&light));
    assert_eq!(light[0].0, "pole_number");
    assert_eq!(light[0].1, "LD-0012");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_of_the_same_problem_nearby_returns_the_existing_request() {
    let w = world().await;
    let first = w.report("06011", 120.0044, 30.0044, &[]).await;
    let answer = w
        .post_form(
            "/open311/v2/requests.xml",
            &[
                ("api_key", w.key("app")),
                ("service_code", "06011"),
                ("lat", "30.00441"),
                ("long", "120.00442"),
                ("description", "这里还是有一堆渣土"),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let (_, value) = answer.xml();
    assert_eq!(value[0]["service_request_id"], first.as_str());
    assert!(
        value[0]["service_notice"]
            .as_str()
            .unwrap()
            .contains("合并")
    );
    let case = load_case(&w.state.store, &first).await.unwrap().unwrap();
    assert_eq!(case.reporters, 2);
    // A client's Idempotency-Key makes a retry answer the same request.
    let pairs = form(&[
        ("api_key", w.key("app")),
        ("service_code", "06034"),
        ("lat", "30.0144"),
        ("long", "120.0044"),
    ]);
    let mut ids = Vec::new();
    for _ in 0..2 {
        let answer = w
            .post_with(
                "/open311/v2/requests.json",
                Some("application/x-www-form-urlencoded"),
                pairs.clone(),
                &[("idempotency-key", "app-report-0001")],
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK);
        ids.push(
            answer.json()[0]["service_request_id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(ids[0], ids[1]);
    let case = load_case(&w.state.store, &ids[0]).await.unwrap().unwrap();
    assert_eq!(case.reporters, 1, "a replay is not a second reporter");
}

// ---------------------------------------------------------------------------------------------
// Reading requests (checklist: status mapping; types; all fields present; GET filters).

const REQUEST_FIELDS: [&str; 17] = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_have_every_field_with_spec_types_and_the_loop_maps_to_open_and_closed() {
    let w = world().await;
    let id = w.report("06012", 120.0061, 30.0061, &[]).await;
    let (status, list) = w
        .both(
            &format!("/open311/v2/requests/{id}.{{fmt}}"),
            "service_requests",
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1, "one request in the list wrapper");
    let request = &list[0];
    let fields: Vec<&str> = request
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = REQUEST_FIELDS.to_vec();
    expected.sort_unstable();
    let mut sorted = fields.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted, expected,
        "every field present, no extension without extensions=true"
    );
    assert_eq!(request["service_request_id"], id.as_str());
    assert_eq!(request["service_code"], "06012");
    assert_eq!(request["service_name"], "道路不洁");
    assert_eq!(request["status"], "open");
    assert_eq!(request["status_notes"], "dispatched");
    assert_eq!(request["agency_responsible"], "一街道城管中队");
    assert!(
        request["service_notice"]
            .as_str()
            .unwrap()
            .starts_with("已派遣至一街道城管中队")
    );
    assert_eq!(request["lat"].as_f64(), Some(30.0061));
    assert_eq!(request["long"].as_f64(), Some(120.0061));
    assert_eq!(request["address_id"], Value::Null);
    assert_eq!(request["zipcode"], Value::Null);
    assert_eq!(request["address"], Value::Null);
    assert_eq!(request["media_url"], Value::Null);
    for field in [
        "requested_datetime",
        "updated_datetime",
        "expected_datetime",
    ] {
        assert!(
            is_w3c(request[field].as_str().unwrap()),
            "{field}: {}",
            request[field]
        );
    }
    let case = load_case(&w.state.store, &id).await.unwrap().unwrap();
    assert_eq!(
        request["expected_datetime"],
        shanghai_w3c(case.clock.as_ref().unwrap().deadline_at_us).as_str(),
        "the handling deadline"
    );
    assert_eq!(
        request["requested_datetime"],
        shanghai_w3c(case.reported_at_us).as_str()
    );

    // Through the loop: the fine state goes to status_notes; closed only when the loop is done.
    let mut seen = Vec::new();
    for (actor, command) in [
        (handler(), Command::Accept),
        (handler(), Command::StartHandling),
        (handler(), Command::ReportHandled),
        (inspector(), Command::Verify { passed: true }),
        (operator(), Command::Close),
    ] {
        w.step(&actor, &id, command).await;
        let request = w.requests(&format!("service_request_id={id}")).await[0].clone();
        seen.push((
            request["status"].as_str().unwrap().to_owned(),
            request["status_notes"].as_str().unwrap().to_owned(),
        ));
        if request["status"] == "closed" {
            let case = load_case(&w.state.store, &id).await.unwrap().unwrap();
            assert_eq!(
                request["updated_datetime"],
                shanghai_w3c(case.closed_at_us.unwrap()).as_str(),
                "a closed request's updated_datetime is its closing"
            );
            assert_eq!(request["service_notice"], "已结案，欢迎评价");
        }
    }
    let seen: Vec<(&str, &str)> = seen.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    assert_eq!(
        seen,
        [
            ("open", "accepted by the department"),
            ("open", "handling"),
            ("open", "handled, awaiting verification"),
            ("open", "verified, awaiting closure"),
            ("closed", "closed"),
        ]
    );
    // A cancelled request is closed with its reason.
    let other = w.report("06013", 120.0161, 30.0061, &[]).await;
    w.step(
        &operator(),
        &other,
        Command::Cancel {
            reason: "重复上报".into(),
        },
    )
    .await;
    let request = w.requests(&format!("service_request_id={other}")).await[0].clone();
    assert_eq!(request["status"], "closed");
    assert_eq!(request["status_notes"], "cancelled: 重复上报");
    assert_eq!(request["service_notice"], "已作废：重复上报");
    // An unknown id: 404 (the list of ids answers an empty list instead).
    let (status, body) = w
        .both(
            "/open311/v2/requests/nothing-here.{fmt}",
            "service_requests",
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    errors(status, &body);
    assert_eq!(
        w.requests("service_request_id=nothing-here").await,
        Vec::<Value>::new()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_lists_are_empty_never_404() {
    let w = world().await;
    for (path, root) in [
        ("/open311/v2/requests.{fmt}", "service_requests"),
        (
            "/open311/v2/requests.{fmt}?service_code=R1001&status=closed",
            "service_requests",
        ),
        (
            "/open311/v2/servicerequestupdates.{fmt}",
            "service_request_updates",
        ),
    ] {
        let (status, body) = w.both(path, root).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(body, json!([]), "{path}");
    }
    let answer = w.get("/open311/v2/requests.xml").await;
    assert_eq!(
        answer.text(),
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<service_requests/>\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_lists_filter_by_id_code_date_status_and_page_newest_first() {
    let w = world().await;
    let now = now_us();
    // Cases at known moments, each at its own place.
    let old = w
        .report_at("06034", 120.001, 30.001, now - 100 * DAY_US)
        .await;
    let month = w
        .report_at("06034", 120.002, 30.001, now - 30 * DAY_US)
        .await;
    let precise_at = (now - 10 * DAY_US) / 1_000_000 * 1_000_000 + 17_000;
    let precise = w.report_at("06035", 120.003, 30.001, precise_at).await;
    let recent: Vec<String> = {
        let mut ids = Vec::new();
        for (i, hours) in [3, 2, 1].into_iter().enumerate() {
            ids.push(
                w.report_at(
                    "06036",
                    120.004 + i as f64 * 0.002,
                    30.002,
                    now - hours * 3600 * 1_000_000,
                )
                .await,
            );
        }
        ids
    };
    w.step(
        &operator(),
        &recent[0],
        Command::Cancel {
            reason: "测试".into(),
        },
    )
    .await;

    // Default: the last 90 days, newest first.
    let ids = w.ids("").await;
    assert!(!ids.contains(&old));
    assert_eq!(
        ids,
        [
            recent[2].as_str(),
            recent[1].as_str(),
            recent[0].as_str(),
            precise.as_str(),
            month.as_str()
        ]
    );
    let requested: Vec<String> = w
        .requests("")
        .await
        .iter()
        .map(|r| r["requested_datetime"].as_str().unwrap().to_owned())
        .collect();
    let mut sorted = requested.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(requested, sorted);

    // service_code, one or a comma list (also repeated).
    assert_eq!(w.ids("service_code=06034").await, [month.as_str()]);
    assert_eq!(
        w.ids("service_code=06034,06035").await,
        [precise.as_str(), month.as_str()]
    );
    assert_eq!(
        w.ids("service_code=06035&service_code=06034").await,
        [precise.as_str(), month.as_str()]
    );
    // status: open, closed, both; ANDed with the code.
    assert_eq!(
        w.ids("service_code=06036&status=closed").await,
        [recent[0].as_str()]
    );
    assert_eq!(
        w.ids("service_code=06036&status=open").await,
        [recent[2].as_str(), recent[1].as_str()]
    );
    assert_eq!(
        w.ids("service_code=06036&status=open,closed").await.len(),
        3
    );
    assert_eq!(
        w.ids("service_code=06036&status=").await.len(),
        3,
        "empty is absent"
    );
    // service_request_id overrides everything else (an unknown id is simply not there).
    assert_eq!(
        w.ids(&format!("service_request_id={old},{precise},nothing&status=closed&service_code=R1001&start_date=bad")).await,
        [precise.as_str(), old.as_str()]
    );
    // Dates: the window that holds the old case; fractional seconds; `+` sent unencoded.
    let at = |us: i64| jiff::Timestamp::from_microsecond(us).unwrap().to_string();
    assert_eq!(
        w.ids(&format!(
            "start_date={}&end_date={}",
            at(now - 101 * DAY_US),
            at(now - 95 * DAY_US)
        ))
        .await,
        [old.as_str()]
    );
    let fraction = at(precise_at);
    assert!(fraction.ends_with(".017Z"), "{fraction}");
    assert_eq!(
        w.ids(&format!(
            "start_date={fraction}&end_date={}",
            at(precise_at + 1000)
        ))
        .await,
        [precise.as_str()]
    );
    assert_eq!(
        w.ids(&format!(
            "start_date={}&end_date={}",
            at(precise_at + 1000),
            at(precise_at + 60_000_000)
        ))
        .await,
        Vec::<String>::new()
    );
    let local = shanghai_w3c(precise_at - 1_000_000);
    assert!(local.ends_with("+08:00"));
    assert_eq!(
        w.ids(&format!(
            "start_date={local}&end_date={}",
            shanghai_w3c(precise_at + 1_000_000)
        ))
        .await,
        [precise.as_str()],
        "an unencoded + arrives as a space and is read as +"
    );
    // A start alone: 90 days from it; an end alone: 90 days up to it.
    assert_eq!(
        w.ids(&format!("start_date={}", at(now - 31 * DAY_US)))
            .await,
        [
            recent[2].as_str(),
            recent[1].as_str(),
            recent[0].as_str(),
            precise.as_str(),
            month.as_str()
        ]
    );
    assert_eq!(
        w.ids(&format!("end_date={}", at(now - 20 * DAY_US))).await,
        [month.as_str(), old.as_str()]
    );
    // More than 90 days, an end before the start, a bad datetime: 400 naming the field.
    for (query, field) in [
        (
            format!(
                "start_date={}&end_date={}",
                at(now - 100 * DAY_US),
                at(now - 9 * DAY_US)
            ),
            "end_date",
        ),
        (
            format!("start_date={}&end_date={}", at(now), at(now - DAY_US)),
            "end_date",
        ),
        ("start_date=2026-10-08T10:00:00".to_owned(), "start_date"),
        ("end_date=yesterday".to_owned(), "end_date"),
        ("status=pending".to_owned(), "status"),
        ("page=0".to_owned(), "page"),
        ("page_size=1001".to_owned(), "page_size"),
        ("page_size=ten".to_owned(), "page_size"),
        ("extensions=maybe".to_owned(), "extensions"),
    ] {
        let (status, body) = w
            .both(
                &format!("/open311/v2/requests.{{fmt}}?{query}"),
                "service_requests",
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        let found = errors(status, &body);
        assert_eq!(found.len(), 1, "{query}: {found:?}");
        assert!(
            found[0].starts_with(&format!("{field}:")),
            "{query}: {found:?}"
        );
    }
    // Exactly 90 days is fine; two bad fields are two errors.
    let (status, _) = w
        .both(
            &format!(
                "/open311/v2/requests.{{fmt}}?start_date={}&end_date={}",
                at(now - 90 * DAY_US),
                at(now)
            ),
            "service_requests",
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = w
        .both(
            "/open311/v2/requests.{fmt}?page=x&status=y",
            "service_requests",
        )
        .await;
    assert_eq!(errors(status, &body).len(), 2);
    // Pages: page_size of them, from 1; past the end an empty list.
    assert_eq!(
        w.ids("service_code=06036&page_size=2").await,
        [recent[2].as_str(), recent[1].as_str()]
    );
    assert_eq!(
        w.ids("service_code=06036&page_size=2&page=2").await,
        [recent[0].as_str()]
    );
    assert_eq!(
        w.ids("service_code=06036&page_size=2&page=3").await,
        Vec::<String>::new()
    );
    assert_eq!(w.ids("service_code=06036&page_size=&page=").await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extensions_add_attributes_channel_photos_state_and_public_notes() {
    let w = world().await;
    let body = multipart(&[
        Part::Text("api_key", w.key("app")),
        Part::Text("service_code", "09009"),
        Part::Text("lat", "30.0122"),
        Part::Text("long", "120.0122"),
        Part::Text("attribute[vehicles]", "3"),
        Part::Text("attribute[blocking][]", "fire_lane"),
        Part::File("media", Some("car.png"), Some("image/png"), PNG),
    ]);
    let answer = w
        .post("/open311/v2/requests.json", Some(&multipart_type()), body)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let id = answer.json()[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    w.step(&handler(), &id, Command::Accept).await;
    w.step(&handler(), &id, Command::StartHandling).await;

    let plain = w.requests(&format!("service_request_id={id}")).await;
    assert!(plain[0].get("attributes").is_none() && plain[0].get("notes").is_none());
    let request = w
        .requests(&format!("service_request_id={id}&extensions=true"))
        .await[0]
        .clone();
    for field in REQUEST_FIELDS {
        assert!(request.get(field).is_some(), "{field}");
    }
    let attributes = request["attributes"].as_array().unwrap();
    assert_eq!(attributes.len(), 2);
    assert_eq!(
        attributes[0],
        json!({"label": "车辆数量", "name": "3", "value": "3", "code": "vehicles"})
    );
    assert_eq!(
        attributes[1],
        json!({"label": "占用了哪里？（可多选）", "name": "消防通道", "value": "fire_lane", "code": "blocking"})
    );
    let extended = &request["extended_attributes"];
    assert_eq!(extended["channel"], "open311");
    assert_eq!(extended["state"], "handling");
    assert_eq!(extended["photos"].as_array().unwrap().len(), 1);
    assert!(
        extended["photos"][0]
            .as_str()
            .unwrap()
            .starts_with("/open311/v2/media/")
    );
    let notes = request["notes"].as_array().unwrap();
    let types: Vec<&str> = notes.iter().map(|n| n["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "reported",
            "registered",
            "dispatched",
            "accepted",
            "handling_started"
        ]
    );
    for note in notes {
        assert_eq!(
            note.as_object().unwrap().len(),
            3,
            "datetime, description, type: {note}"
        );
        assert!(is_w3c(note["datetime"].as_str().unwrap()));
        assert!(!note["description"].as_str().unwrap().is_empty());
    }
    assert_eq!(notes[2]["description"], "已派遣至一街道城管中队");
    // The whole list too, in both formats.
    let all = w.requests("extensions=true").await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0], request);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_never_issued_so_every_token_is_404() {
    let w = world().await;
    for token in ["12345", "abc"] {
        let (status, body) = w
            .both(
                &format!("/open311/v2/tokens/{token}.{{fmt}}"),
                "service_requests",
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(errors(status, &body)[0].contains("realtime"));
    }
}

// ---------------------------------------------------------------------------------------------
// FixMyStreet's request updates.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_updates_list_the_public_timeline_and_take_notes_once_per_update_id() {
    let w = world().await;
    let w = &w;
    let id = w.report("06042", 120.0188, 30.0188, &[]).await;
    w.step(&handler(), &id, Command::Accept).await;
    let version = load_case(&w.state.store, &id)
        .await
        .unwrap()
        .unwrap()
        .version;
    let update = |update_id: &'static str, fmt: &'static str| {
        let key = w.key("app").to_owned();
        let id = id.clone();
        async move {
            w.post_form(
                &format!("/open311/v2/servicerequestupdates.{fmt}"),
                &[
                    ("api_key", &key),
                    ("jurisdiction_id", "jingzhi.local"),
                    ("service_request_id", &id),
                    ("update_id", update_id),
                    ("updated_datetime", "2026-10-08T09:30:00+08:00"),
                    ("status", "OPEN"),
                    ("description", "垃圾箱还是满的，味道很大"),
                    ("first_name", "Update-Person-PII"),
                    ("email", "update-pii@example.org"),
                    ("media_url", "https://photos.example/update.jpg"),
                ],
            )
            .await
        }
    };
    let answer = update("fms-comment-1", "xml").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let (root, value) = answer.xml();
    assert_eq!(root, "service_request_updates");
    let update_id = value[0]["update_id"].as_str().unwrap().to_owned();
    assert_eq!(value[0].as_object().unwrap().len(), 1);
    // The same client update id again: the same update, nothing new on the timeline.
    let again = update("fms-comment-1", "json").await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json()[0]["update_id"], update_id.as_str());
    let second = update("fms-comment-2", "json").await;
    assert_ne!(second.json()[0]["update_id"], update_id.as_str());

    let (status, updates) = w
        .both(
            &format!("/open311/v2/servicerequestupdates.{{fmt}}?service_request_id={id}"),
            "service_request_updates",
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let updates = updates.as_array().unwrap();
    let summary: Vec<(&str, &str)> = updates
        .iter()
        .map(|u| {
            (
                u["status"].as_str().unwrap(),
                u["external_status_code"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("OPEN", "reported"),
            ("INVESTIGATING", "registered"),
            ("ACTION_SCHEDULED", "dispatched"),
            ("ACTION_SCHEDULED", "accepted"),
            ("ACTION_SCHEDULED", "accepted"),
            ("ACTION_SCHEDULED", "accepted"),
        ]
    );
    let mine = updates
        .iter()
        .find(|u| u["update_id"] == update_id.as_str())
        .unwrap();
    assert_eq!(mine["service_request_id"], id.as_str());
    assert_eq!(mine["description"], "垃圾箱还是满的，味道很大");
    assert_eq!(mine["media_url"], "https://photos.example/update.jpg");
    for update in updates {
        assert_eq!(update.as_object().unwrap().len(), 7, "{update}");
        assert!(is_w3c(update["updated_datetime"].as_str().unwrap()));
    }
    let notes = updates
        .iter()
        .filter(|u| u["description"] == "垃圾箱还是满的，味道很大")
        .count();
    assert_eq!(notes, 2, "fms-comment-1 once, fms-comment-2 once");
    // The case did not move and its version did not change.
    let case = load_case(&w.state.store, &id).await.unwrap().unwrap();
    assert_eq!(case.state.as_str(), "accepted");
    assert_eq!(case.version, version);
    // The date window lists the same updates; a window in the past none.
    let (_, by_date) = w
        .both(
            "/open311/v2/servicerequestupdates.{fmt}",
            "service_request_updates",
        )
        .await;
    assert_eq!(by_date.as_array().unwrap().len(), 6);
    let (_, past) = w
        .both("/open311/v2/servicerequestupdates.{fmt}?start_date=2020-01-01T00:00:00Z&end_date=2020-02-01T00:00:00Z", "service_request_updates")
        .await;
    assert_eq!(past, json!([]));
    // A reopened case's update says REOPEN.
    w.step(&handler(), &id, Command::StartHandling).await;
    w.step(&handler(), &id, Command::ReportHandled).await;
    w.step(&inspector(), &id, Command::Verify { passed: true })
        .await;
    w.step(&operator(), &id, Command::Close).await;
    w.step(
        &operator(),
        &id,
        Command::Reopen {
            reason: "市民反映仍未解决".into(),
        },
    )
    .await;
    let (_, updates) = w
        .both(
            &format!("/open311/v2/servicerequestupdates.{{fmt}}?service_request_id={id}"),
            "service_request_updates",
        )
        .await;
    let statuses: Vec<&str> = updates
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        &statuses[6..],
        ["IN_PROGRESS", "IN_PROGRESS", "FIXED", "FIXED", "REOPEN"]
    );

    // Errors: one per missing field, unknown request 404, no key 403, bad status and datetime.
    for fmt in ["json", "xml"] {
        let uri = format!("/open311/v2/servicerequestupdates.{fmt}");
        let read = |answer: &Answer| -> Vec<String> {
            let body = if fmt == "json" {
                answer.json()
            } else {
                answer.xml().1
            };
            body.as_array()
                .unwrap()
                .iter()
                .map(|e| e["description"].as_str().unwrap().to_owned())
                .collect()
        };
        let answer = w.post_form(&uri, &[("api_key", w.key("app"))]).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        let fields: Vec<String> = read(&answer)
            .iter()
            .map(|d| d.split(':').next().unwrap().to_owned())
            .collect();
        assert_eq!(
            fields,
            [
                "service_request_id",
                "update_id",
                "updated_datetime",
                "status",
                "description"
            ]
        );
        let answer = w
            .post_form(
                &uri,
                &[
                    ("api_key", w.key("app")),
                    ("service_request_id", &id),
                    ("update_id", "x"),
                    ("updated_datetime", "now"),
                    ("status", "DONE"),
                    ("description", "x"),
                ],
            )
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        let found = read(&answer);
        assert!(
            found[0].starts_with("updated_datetime:") && found[1].starts_with("status:"),
            "{found:?}"
        );
        let answer = w
            .post_form(
                &uri,
                &[
                    ("api_key", w.key("app")),
                    ("service_request_id", "no-such-request"),
                    ("update_id", "x"),
                    ("updated_datetime", "2026-10-08T09:30:00Z"),
                    ("status", "closed"),
                    ("description", "x"),
                ],
            )
            .await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.text());
        let answer = w
            .post_form(&uri, &[("service_request_id", &id), ("update_id", "y")])
            .await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN);
        read(&answer);
    }
}

// ---------------------------------------------------------------------------------------------
// CORS and personal data.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gets_allow_every_origin_and_preflights_are_answered() {
    let w = world().await;
    for path in [
        "/open311/v2/services.json",
        "/open311/v2/requests.xml",
        "/open311/discovery.json",
        "/open311/v2/nothing.json",
    ] {
        assert_eq!(
            w.get(path).await.header("access-control-allow-origin"),
            Some("*"),
            "{path}"
        );
    }
    let answer = w
        .send(
            Request::builder()
                .method(Method::OPTIONS)
                .uri("/open311/v2/requests.json")
                .header("origin", "https://app.example")
                .header("access-control-request-method", "POST")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert_eq!(answer.header("access-control-allow-origin"), Some("*"));
    assert!(
        answer
            .header("access-control-allow-methods")
            .unwrap()
            .contains("POST")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_personal_data_appears_in_any_open311_answer() {
    let w = world().await;
    let personal = [
        "Zhangsan-PII",
        "Lisi-PII",
        "pii-person@example.org",
        "13912345678",
        "device-PII-42",
        "account-PII-7",
    ];
    let mut bodies: Vec<(String, String)> = Vec::new();
    let mut ids = Vec::new();
    for (fmt, lat) in [("json", "30.0199"), ("xml", "30.0188")] {
        let answer = w
            .post_form(
                &format!("/open311/v2/requests.{fmt}"),
                &[
                    ("api_key", w.key("app")),
                    ("service_code", "06010"),
                    ("lat", lat),
                    ("long", "120.0199"),
                    ("attribute[volume]", "small"),
                    ("first_name", "Zhangsan-PII"),
                    ("last_name", "Lisi-PII"),
                    ("email", "pii-person@example.org"),
                    ("phone", "13912345678"),
                    ("device_id", "device-PII-42"),
                    ("account_id", "account-PII-7"),
                    ("description", "路口有一袋垃圾"),
                ],
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        let id = if fmt == "json" {
            answer.json()[0]["service_request_id"]
                .as_str()
                .unwrap()
                .to_owned()
        } else {
            answer.xml().1[0]["service_request_id"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        bodies.push((format!("POST requests.{fmt}"), answer.text()));
        ids.push(id);
    }
    // The data is stored (for operators, audited), just never shown here.
    let stored = w
        .state
        .cases
        .reporters(&operator(), &ids[0], "test", now_us())
        .await
        .unwrap();
    let stored = stored[0].email.clone().unwrap();
    assert_eq!(stored, "pii-person@example.org");
    w.step(&handler(), &ids[0], Command::Accept).await;
    let answer = w
        .post_form(
            "/open311/v2/servicerequestupdates.json",
            &[
                ("api_key", w.key("app")),
                ("service_request_id", &ids[0]),
                ("update_id", "pii-1"),
                ("updated_datetime", "2026-10-08T09:30:00+08:00"),
                ("status", "OPEN"),
                ("description", "还没清理"),
                ("first_name", "Zhangsan-PII"),
                ("email", "pii-person@example.org"),
                ("phone", "13912345678"),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    bodies.push(("POST servicerequestupdates".into(), answer.text()));
    let mut paths = vec![
        "/open311/discovery.{fmt}".to_owned(),
        "/open311/v2/services.{fmt}".to_owned(),
        "/open311/v2/services/06010.{fmt}".to_owned(),
        "/open311/v2/requests.{fmt}".to_owned(),
        "/open311/v2/requests.{fmt}?extensions=true".to_owned(),
        "/open311/v2/servicerequestupdates.{fmt}".to_owned(),
    ];
    for id in &ids {
        paths.push(format!("/open311/v2/requests/{id}.{{fmt}}"));
        paths.push(format!("/open311/v2/requests/{id}.{{fmt}}?extensions=true"));
        paths.push(format!(
            "/open311/v2/servicerequestupdates.{{fmt}}?service_request_id={id}"
        ));
    }
    for path in &paths {
        for fmt in ["json", "xml"] {
            let uri = path.replace("{fmt}", fmt);
            let answer = w.get(&uri).await;
            assert_eq!(answer.status, StatusCode::OK, "{uri}");
            bodies.push((uri, answer.text()));
        }
    }
    let user_id = w.citizen_app.id.clone();
    for (what, body) in &bodies {
        for secret in personal
            .iter()
            .copied()
            .chain([user_id.as_str(), "user:", "update-pii"])
        {
            assert!(!body.contains(secret), "{what} shows `{secret}`: {body}");
        }
    }
    assert!(
        bodies.iter().any(|(_, b)| b.contains("还没清理")),
        "the update itself is public"
    );
}

// ---------------------------------------------------------------------------------------------
// The same loop on PostgreSQL: every query of the Open311 module on the second engine.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_open311_loop_runs_on_postgres() {
    let Some(db) = jz_testkit::TestDb::postgres().await else {
        return;
    };
    let w = world_on(db).await;
    let (status, services) = w.both("/open311/v2/services.{fmt}", "services").await;
    assert_eq!(status, StatusCode::OK);
    assert!(services.as_array().unwrap().len() >= 30);
    let body = multipart(&[
        Part::Text("api_key", w.key("app")),
        Part::Text("service_code", "06028"),
        Part::Text("lat", "30.0105"),
        Part::Text("long", "120.0105"),
        Part::Text("attribute[source]", "traffic"),
        Part::Text("attribute[decibels]", "90"),
        Part::File("media", None, None, PNG),
        Part::Text("media_url", "https://photos.example/x.jpg"),
    ]);
    let answer = w
        .post("/open311/v2/requests.json", Some(&multipart_type()), body)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let id = answer.json()[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let merged = w
        .report(
            "06028",
            120.01051,
            30.01051,
            &[("attribute[source]", "traffic")],
        )
        .await;
    assert_eq!(merged, id);
    let old = w
        .report_at("06034", 120.001, 30.001, now_us() - 100 * DAY_US)
        .await;
    let other = w.report("06013", 120.0155, 30.0155, &[]).await;
    w.step(
        &operator(),
        &other,
        Command::Cancel {
            reason: "重复".into(),
        },
    )
    .await;
    assert_eq!(w.ids("").await, [other.as_str(), id.as_str()]);
    assert_eq!(w.ids("status=closed").await, [other.as_str()]);
    assert_eq!(w.ids("service_code=06028,06034").await, [id.as_str()]);
    assert_eq!(
        w.ids(&format!("service_request_id={old},{id}")).await,
        [id.as_str(), old.as_str()]
    );
    assert_eq!(w.ids("page_size=1&page=2").await, [id.as_str()]);
    let request = w
        .requests(&format!("service_request_id={id}&extensions=true"))
        .await[0]
        .clone();
    assert_eq!(request["attributes"].as_array().unwrap().len(), 2);
    assert_eq!(
        request["extended_attributes"]["photos"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let cancelled = w.requests(&format!("service_request_id={other}")).await[0].clone();
    assert_eq!(cancelled["status_notes"], "cancelled: 重复");
    let media = request["media_url"].as_str().unwrap().to_owned();
    assert_eq!(w.get(&media).await.body, PNG);
    for _ in 0..2 {
        let answer = w
            .post_form(
                "/open311/v2/servicerequestupdates.json",
                &[
                    ("api_key", w.key("app")),
                    ("service_request_id", &id),
                    ("update_id", "pg-1"),
                    ("updated_datetime", "2026-10-08T09:30:00Z"),
                    ("status", "IN_PROGRESS"),
                    ("description", "还在响"),
                ],
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    }
    let (_, updates) = w
        .both(
            &format!("/open311/v2/servicerequestupdates.{{fmt}}?service_request_id={id}"),
            "service_request_updates",
        )
        .await;
    let notes = updates
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["description"] == "还在响")
        .count();
    assert_eq!(notes, 1);
    let (status, discovery) = w.both("/open311/discovery.{fmt}", "discovery").await;
    assert_eq!(status, StatusCode::OK);
    assert!(is_w3c(discovery["changeset"].as_str().unwrap()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_address_rate_limit_answers_in_open311_format() {
    let mut w = world().await;
    w.state.limiter = std::sync::Arc::new(jz_http::limit::IpLimiter::new(2));
    w.app = jz_http::router(w.state.clone());
    for _ in 0..2 {
        assert_eq!(
            w.get("/open311/v2/services.xml").await.status,
            StatusCode::OK
        );
    }
    let limited = w.get("/open311/v2/services.xml").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.header("retry-after").is_some());
    let (root, body) = limited.xml();
    assert_eq!(root, "errors", "{}", limited.text());
    assert_eq!(body[0]["code"], "429", "{body}");
    let json = w.get("/open311/v2/services.json").await;
    assert_eq!(json.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(json.json()[0]["code"], 429);
}
