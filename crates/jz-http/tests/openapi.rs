//! The OpenAPI document against the real router: it is well-formed (every `$ref` resolves, every
//! schema is valid JSON Schema), it documents exactly the routes the router's source nests under
//! `/api/v1` (and credentials exactly where handlers take a `Caller`) and exactly the codes of the
//! error table, and live answers of every operation validate against the schema documented for
//! their status, with undocumented fields refused.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use jz_app::city::plan::Stage;
use jz_app::city::{Actor, FieldMapping, ImportOptions, SharedCity, SourceFile};
use jz_domain::access::Role;
use jz_http::AppState;
use serde_json::{Value, json};
use tower::ServiceExt;

/// lib.rs, where the router is assembled. Only what it nests under `PREFIX` is the native API
/// this document describes; what it serves beside the nest (Open311 at the root) is not.
const LIB: &str = include_str!("../src/lib.rs");

/// The modules whose routes the `PREFIX` nest holds (merged routers, and the handler lib.rs
/// routes itself), with their source; a test below checks this is exactly the nest's modules.
const MODULES: &[(&str, &str)] = &[
    ("access", include_str!("../src/access.rs")),
    ("cases", include_str!("../src/cases.rs")),
    ("city", include_str!("../src/city.rs")),
    ("evaluation", include_str!("../src/evaluation.rs")),
    ("health", include_str!("../src/health.rs")),
    ("live", include_str!("../src/live.rs")),
    ("openapi", include_str!("../src/openapi.rs")),
];

/// The error-code table.
const ERRORS: &str = include_str!("../src/error.rs");

/// Operations without a `Caller` that still answer 401: a login with a wrong password.
const PUBLIC_WITH_401: &[&str] = &["login"];

/// Where lib.rs nests every route.
const PREFIX: &str = "/api/v1";

const METHODS: &[&str] = &[
    "get", "post", "put", "delete", "patch", "head", "options", "trace",
];

/// A 2 km × 2 km city with one real district; its street and two communities are generated
/// (the fixture of `city_api.rs`).
const CITY: &str = r#"{"type":"FeatureCollection","features":[
  {"type":"Feature","properties":{"code":"330100000000","name":"Test City","level":"city"},
   "geometry":{"type":"Polygon","coordinates":[[[120.00,30.00],[120.02,30.00],[120.02,30.02],[120.00,30.02],[120.00,30.00]]]}},
  {"type":"Feature","properties":{"code":"330102000000","name":"Only District","level":"district","parent_code":"330100000000"},
   "geometry":{"type":"Polygon","coordinates":[[[120.00,30.00],[120.02,30.00],[120.02,30.02],[120.00,30.02],[120.00,30.00]]]}}
]}"#;
const CODES: &str = "code,name,level,parent_code\n330102001000,One Street,street,330102000000\n330102001001,North Community,community,330102001000\n330102001002,South Community,community,330102001000\n";

// ---------------------------------------------------------------------------------------------
// Reading the router's source.

/// One route as the source declares it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Route {
    method: String,
    path: String,
    /// The module defining the handler.
    module: String,
    handler: String,
}

/// The source without line comments (doc comments may mention routes).
fn code(text: &str) -> String {
    text.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The text up to the parenthesis that closes one already open.
fn until_close(text: &str) -> &str {
    let mut depth = 1;
    for (at, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &text[..at];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced parentheses in {text:.80}")
}

/// `get(a).post(b)` → `[("get", "a"), ("post", "b")]`: calls of a method-routing function, with
/// the handler as written (`openapi::document`).
fn method_calls(router: &str) -> Vec<(String, String)> {
    let mut calls = Vec::new();
    let bytes = router.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        if !(bytes[at].is_ascii_alphanumeric() || bytes[at] == b'_') {
            at += 1;
            continue;
        }
        let start = at;
        while at < bytes.len() && (bytes[at].is_ascii_alphanumeric() || bytes[at] == b'_') {
            at += 1;
        }
        let word = &router[start..at];
        if bytes.get(at) != Some(&b'(') {
            continue;
        }
        assert!(
            !matches!(
                word,
                "any" | "on" | "any_service" | "on_service" | "get_service"
            ),
            "the route parser does not understand `{word}(` in {router}; extend it"
        );
        if METHODS.contains(&word) {
            let handler = until_close(&router[at + 1..]).trim().to_owned();
            calls.push((word.to_owned(), handler));
        }
    }
    calls
}

/// The router lib.rs nests under `PREFIX`: the second argument of `.nest("/api/v1", …)`.
fn nest() -> String {
    let lib = code(LIB);
    let nests: Vec<&str> = lib
        .match_indices(".nest(")
        .map(|(at, _)| until_close(&lib[at + ".nest(".len()..]).trim_start())
        .filter(|args| args.starts_with(&format!("\"{PREFIX}\"")))
        .collect();
    assert_eq!(
        nests.len(),
        1,
        "lib.rs must nest the native API once, under {PREFIX}"
    );
    let router = nests[0][PREFIX.len() + 2..].trim_start();
    let router = router.strip_prefix(',').expect("a router after the prefix");
    // The forms the parser knows: `module::routes()`, `.route(…)` and `.merge(module::routes())`.
    for form in [".nest(", ".nest_service(", ".route_service(", ".fallback"] {
        assert!(
            !router.contains(form),
            "the route parser does not understand `{form}` in the {PREFIX} nest; extend it"
        );
    }
    for (at, _) in router.match_indices(".merge(") {
        let merged = until_close(&router[at + ".merge(".len()..]).trim();
        assert!(
            merged
                .strip_suffix("::routes()")
                .is_some_and(|m| m.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')),
            "the route parser does not understand `.merge({merged})`; extend it"
        );
    }
    router.to_owned()
}

/// The modules whose `routes()` the nest merges.
fn merged_modules(nest: &str) -> Vec<String> {
    nest.match_indices("::routes()")
        .map(|(at, _)| {
            let before = &nest[..at];
            let start = before
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .map_or(0, |i| i + 1);
            before[start..].to_owned()
        })
        .collect()
}

fn module_source(module: &str) -> &'static str {
    MODULES
        .iter()
        .find(|(name, _)| *name == module)
        .map(|(_, text)| *text)
        .unwrap_or_else(|| panic!("the {PREFIX} nest uses module `{module}`: add it to MODULES"))
}

/// Every `.route("…", …)` in `code`, with `PREFIX` in front; handlers written without a module
/// are `module`'s.
fn routes_in(code: &str, module: Option<&str>, routes: &mut BTreeSet<Route>) {
    let mut rest = code;
    while let Some(at) = rest.find(".route(") {
        let args = rest[at + ".route(".len()..].trim_start();
        let path = args
            .strip_prefix('"')
            .and_then(|a| a.split_once('"'))
            .map(|(path, _)| path)
            .unwrap_or_else(|| panic!("{module:?}: a route whose path is not a literal"));
        let router = until_close(&args[path.len() + 2..]);
        let calls = method_calls(router);
        assert!(!calls.is_empty(), "{module:?}: no method in route {path}");
        for (method, handler) in calls {
            let (owner, handler) = match handler.rsplit_once("::") {
                Some((qualifier, name)) => (
                    qualifier
                        .rsplit("::")
                        .next()
                        .unwrap_or(qualifier)
                        .to_owned(),
                    name.to_owned(),
                ),
                None => (
                    module
                        .unwrap_or_else(|| panic!("lib.rs: name the module of {handler}"))
                        .to_owned(),
                    handler,
                ),
            };
            let route = Route {
                method,
                path: format!("{PREFIX}{path}"),
                module: owner,
                handler,
            };
            assert!(routes.insert(route.clone()), "{route:?} twice");
        }
        rest = &args[path.len() + 2 + router.len()..];
    }
}

/// Every route of the `PREFIX` nest: the ones lib.rs declares in it, and those of every module
/// whose router it merges. Routes served beside the nest are not the native API's.
fn served_routes() -> BTreeSet<Route> {
    let nest = nest();
    let mut routes = BTreeSet::new();
    routes_in(&nest, None, &mut routes);
    for module in merged_modules(&nest) {
        routes_in(&code(module_source(&module)), Some(&module), &mut routes);
    }
    routes
}

/// Whether the handler function takes the `Caller` extractor.
fn takes_caller(route: &Route) -> bool {
    let signature = format!("async fn {}(", route.handler);
    let text = module_source(&route.module);
    let found: Vec<bool> = text
        .match_indices(&signature)
        .map(|(at, _)| until_close(&text[at + signature.len()..]).contains("Caller"))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "handler {}::{} defined {} times",
        route.module,
        route.handler,
        found.len()
    );
    found[0]
}

// ---------------------------------------------------------------------------------------------
// The document.

/// A router over a fresh store with the test city imported.
async fn app() -> (axum::Router, jz_store::Store, jz_testkit::TestDb) {
    let db = jz_testkit::TestDb::sqlite();
    let store = db.open().await;
    let actor = admin_actor();
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
    let app = jz_http::router(AppState::open(store.clone(), city).await.unwrap());
    (app, store, db)
}

fn admin_actor() -> Actor {
    Actor {
        actor: "user:test".into(),
        origin: "test".into(),
        at_us: 1_780_000_000_000_000,
    }
}

async fn served_document(app: &axum::Router) -> Value {
    let request = Request::get(format!("{PREFIX}/openapi.json"))
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).expect("the document is JSON")
}

/// Every `(key, value)` pair anywhere in `value`, with the JSON pointer of the value.
fn walk<'a>(value: &'a Value, pointer: String, visit: &mut impl FnMut(&str, &'a Value)) {
    visit(&pointer, value);
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let escaped = key.replace('~', "~0").replace('/', "~1");
                walk(child, format!("{pointer}/{escaped}"), visit);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                walk(child, format!("{pointer}/{index}"), visit);
            }
        }
        _ => {}
    }
}

/// Every operation: (method, path as documented, operation).
fn operations(document: &Value) -> Vec<(String, String, &Value)> {
    let mut all = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            assert!(METHODS.contains(&method.as_str()), "{path}: `{method}`");
            all.push((method.clone(), path.clone(), operation));
        }
    }
    all
}

/// The schemas of an operation's parameters, request body and responses.
fn operation_schemas(operation: &Value) -> Vec<&Value> {
    let mut schemas = Vec::new();
    for parameter in operation["parameters"].as_array().into_iter().flatten() {
        schemas.push(&parameter["schema"]);
    }
    let mut contents = vec![&operation["requestBody"]["content"]];
    for response in operation["responses"].as_object().into_iter().flatten() {
        contents.push(&response.1["content"]);
    }
    for content in contents {
        for media in content.as_object().into_iter().flatten() {
            schemas.push(&media.1["schema"]);
        }
    }
    schemas
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_well_formed() {
    let (app, _store, _db) = app().await;
    let document = served_document(&app).await;
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(document["info"]["title"], "Jingzhi");
    assert_eq!(document["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(document["servers"], json!([{ "url": PREFIX }]));
    assert_eq!(
        document["components"]["securitySchemes"]["bearerAuth"]["scheme"],
        "bearer"
    );
    let cookie = &document["components"]["securitySchemes"]["sessionCookie"];
    assert_eq!(
        (&cookie["type"], &cookie["in"], &cookie["name"]),
        (
            &json!("apiKey"),
            &json!("cookie"),
            &json!(jz_http::auth::SESSION_COOKIE)
        )
    );

    // Every reference resolves, and every component is used (but `Case`, the domain type that
    // `CaseView`, which every answer carries, extends).
    let mut referenced = BTreeSet::new();
    walk(&document, String::new(), &mut |_, value| {
        if let Some(target) = value.get("$ref").and_then(Value::as_str) {
            let pointer = target
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("external reference {target}"));
            assert!(
                document.pointer(pointer).is_some(),
                "{target} does not resolve"
            );
            referenced.insert(target.to_owned());
        }
    });
    for kind in ["schemas", "responses"] {
        for name in document["components"][kind].as_object().unwrap().keys() {
            let target = format!("#/components/{kind}/{name}");
            assert!(
                referenced.contains(&target) || target == "#/components/schemas/Case",
                "{target} is never used"
            );
        }
    }

    // Every schema is valid JSON Schema (2020-12, the dialect of OpenAPI 3.1).
    let mut schemas: Vec<(String, &Value)> = document["components"]["schemas"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, schema)| (name.clone(), schema))
        .collect();
    for (method, path, operation) in operations(&document) {
        for schema in operation_schemas(operation) {
            schemas.push((format!("{method} {path}"), schema));
        }
    }
    for (name, schema) in schemas {
        if let Err(error) = jsonschema::meta::validate(schema) {
            panic!("{name}: not a valid JSON Schema: {error}");
        }
    }

    // Operations: unique ids, a summary, their path parameters, and answers.
    let mut ids = BTreeSet::new();
    for (method, path, operation) in operations(&document) {
        let id = operation["operationId"].as_str().expect("an operationId");
        assert!(ids.insert(id.to_owned()), "operationId {id} twice");
        assert!(operation["summary"].is_string(), "{method} {path}: summary");
        let in_path: BTreeSet<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        let documented: BTreeSet<&str> = operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "path")
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(in_path, documented, "{method} {path}: path parameters");
        let responses = operation["responses"].as_object().unwrap();
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{method} {path}: no success answer"
        );
        assert!(
            responses.contains_key("429"),
            "{method} {path}: every route is rate-limited"
        );
        let csrf = operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["in"] == "header" && p["name"] == "X-CSRF-Token");
        if operation.get("security").is_some() {
            assert_eq!(
                operation["security"],
                json!([{ "bearerAuth": [] }, { "sessionCookie": [] }]),
                "{method} {path}: a bearer token or the session cookie"
            );
            assert!(
                responses.contains_key("401") && responses.contains_key("403"),
                "{method} {path}: credentials can be missing (401) or not enough (403)"
            );
            assert_eq!(
                csrf,
                method != "get",
                "{method} {path}: a session's changes carry X-CSRF-Token"
            );
        } else {
            assert!(!csrf, "{method} {path}: X-CSRF-Token without a session");
            assert!(
                !responses.contains_key("401") || PUBLIC_WITH_401.contains(&id),
                "{method} {path}: 401 without credentials to check"
            );
        }
    }
}

#[test]
fn the_nested_modules_are_all_read() {
    let nest = nest();
    let mut used: BTreeSet<String> = merged_modules(&nest).into_iter().collect();
    used.extend(served_routes().into_iter().map(|route| route.module));
    let read: BTreeSet<String> = MODULES.iter().map(|(name, _)| (*name).to_owned()).collect();
    assert_eq!(
        used, read,
        "MODULES must hold exactly the modules of the {PREFIX} nest"
    );
    // Routes beside the nest (Open311 at the root) are not read: a module merged there is not
    // one of the nest's.
    assert!(
        !used.contains("open311"),
        "Open311 is served beside {PREFIX}"
    );
}

/// `InvalidParameter` → `invalid_parameter`.
fn snake(camel: &str) -> String {
    let mut snake = String::new();
    for (at, c) in camel.char_indices() {
        if c.is_ascii_uppercase() && at > 0 {
            snake.push('_');
        }
        snake.push(c.to_ascii_lowercase());
    }
    snake
}

/// The codes of `error.rs` with their statuses, read from the enum and `ErrorCode::status`.
fn error_table() -> BTreeMap<String, u16> {
    const STATUSES: &[(&str, StatusCode)] = &[
        ("BAD_REQUEST", StatusCode::BAD_REQUEST),
        ("UNAUTHORIZED", StatusCode::UNAUTHORIZED),
        ("FORBIDDEN", StatusCode::FORBIDDEN),
        ("NOT_FOUND", StatusCode::NOT_FOUND),
        ("METHOD_NOT_ALLOWED", StatusCode::METHOD_NOT_ALLOWED),
        ("CONFLICT", StatusCode::CONFLICT),
        ("PAYLOAD_TOO_LARGE", StatusCode::PAYLOAD_TOO_LARGE),
        ("UNSUPPORTED_MEDIA_TYPE", StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ("UNPROCESSABLE_ENTITY", StatusCode::UNPROCESSABLE_ENTITY),
        ("TOO_MANY_REQUESTS", StatusCode::TOO_MANY_REQUESTS),
        ("INTERNAL_SERVER_ERROR", StatusCode::INTERNAL_SERVER_ERROR),
        ("SERVICE_UNAVAILABLE", StatusCode::SERVICE_UNAVAILABLE),
    ];
    let errors = code(ERRORS);
    let body = errors
        .split_once("pub enum ErrorCode {")
        .and_then(|(_, rest)| rest.split_once('}'))
        .expect("the ErrorCode enum")
        .0;
    let variants: Vec<&str> = body
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty() && !v.starts_with('#'))
        .collect();
    let status_fn = errors
        .split_once("pub fn status(self) -> StatusCode {")
        .and_then(|(_, rest)| rest.split_once("\n    }"))
        .expect("ErrorCode::status")
        .0;
    // Each `StatusCode::X` is the answer of the `ErrorCode::…` arms written before it.
    let mut table = BTreeMap::new();
    let mut pending = Vec::new();
    for token in status_fn.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':')) {
        if let Some(variant) = token.strip_prefix("ErrorCode::") {
            pending.push(variant.to_owned());
        } else if let Some(name) = token.strip_prefix("StatusCode::") {
            let status = STATUSES
                .iter()
                .find(|(n, _)| *n == name)
                .unwrap_or_else(|| panic!("StatusCode::{name}: extend STATUSES"))
                .1;
            for variant in pending.drain(..) {
                table.insert(snake(&variant), status.as_u16());
            }
        }
    }
    let named: BTreeSet<String> = variants.iter().map(|v| snake(v)).collect();
    let mapped: BTreeSet<String> = table.keys().cloned().collect();
    assert_eq!(
        named, mapped,
        "every ErrorCode has one status in ErrorCode::status"
    );
    table
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_has_the_error_code_table() {
    let table = error_table();
    assert_eq!(table["rate_limited"], 429);
    assert_eq!(table["method_not_allowed"], 405);
    let (app, _store, _db) = app().await;
    let document = served_document(&app).await;
    let code = &document["components"]["schemas"]["ErrorCode"];
    let documented: BTreeSet<&str> = code["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let served: BTreeSet<&str> = table.keys().map(String::as_str).collect();
    assert_eq!(
        documented, served,
        "the ErrorCode schema lists error.rs's codes"
    );
    let description = code["description"].as_str().unwrap();
    for (code, status) in &table {
        assert!(
            description.contains(&format!("`{code}` {status}")),
            "the ErrorCode description gives {code} its status {status}"
        );
        // Each code reachable from a documented operation has the shared answer of its status
        // (405 is the answer to a method no operation documents).
        if *status != 405 {
            let answered = document["components"]["responses"]
                .as_object()
                .unwrap()
                .values()
                .any(|response| response.to_string().contains(&format!("\"{code}\"")));
            assert!(answered, "no shared response answers {code}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_covers_exactly_the_served_routes() {
    let routes = served_routes();
    // The parser sees the forms the router uses: chained methods, a layered method router,
    // `axum::routing::delete`, and the route lib.rs adds itself.
    let served: BTreeSet<(String, String)> = routes
        .iter()
        .map(|r| (r.method.clone(), r.path.clone()))
        .collect();
    assert!(served.contains(&(
        "delete".into(),
        format!("{PREFIX}/responsibility-rules/{{id}}")
    )));
    assert!(served.contains(&("put".into(), format!("{PREFIX}/calendar/days/{{date}}"))));
    assert!(served.contains(&("post".into(), format!("{PREFIX}/photos"))));
    assert!(served.contains(&("post".into(), format!("{PREFIX}/locate"))));
    assert!(served.contains(&("get".into(), format!("{PREFIX}/openapi.json"))));
    assert!(served.contains(&("delete".into(), format!("{PREFIX}/session"))));

    let (app, _store, _db) = app().await;
    let document = served_document(&app).await;
    let documented: BTreeSet<(String, String)> = operations(&document)
        .into_iter()
        .map(|(method, path, _)| (method, format!("{PREFIX}{path}")))
        .collect();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let not_served: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty() && not_served.is_empty(),
        "served but not documented: {undocumented:?}; documented but not served: {not_served:?}"
    );

    // Credentials are documented exactly where the handler takes a `Caller`.
    for route in &routes {
        let path = &route.path[PREFIX.len()..];
        let operation = &document["paths"][path][&route.method];
        assert_eq!(
            operation.get("security").is_some(),
            takes_caller(route),
            "{} {}: `security` must match whether {} takes a Caller",
            route.method,
            route.path,
            route.handler
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Live answers against the document.

/// Makes a schema strict for answers: objects refuse properties they do not list (the served
/// document allows them, so that adding a field is not a breaking change). The branches of an
/// `allOf` each list only some properties and stay open.
fn strict(schema: &mut Value, close: bool) {
    let Some(map) = schema.as_object_mut() else {
        return;
    };
    if close && map.contains_key("properties") && !map.contains_key("additionalProperties") {
        map.insert("additionalProperties".into(), json!(false));
    }
    if let Some(Value::Object(properties)) = map.get_mut("properties") {
        properties.values_mut().for_each(|s| strict(s, close));
    }
    if let Some(items) = map.get_mut("items") {
        strict(items, close);
    }
    for (key, close) in [("oneOf", close), ("anyOf", close), ("allOf", false)] {
        if let Some(Value::Array(branches)) = map.get_mut(key) {
            branches.iter_mut().for_each(|s| strict(s, close));
        }
    }
}

/// A validator for `schema`, resolving `#/components/schemas/…` in `components`.
fn validator(schema: &Value, components: &Value) -> jsonschema::Validator {
    let mut root = schema.clone();
    root.as_object_mut()
        .expect("a schema object")
        .insert("components".into(), json!({ "schemas": components }));
    jsonschema::draft202012::new(&root).unwrap_or_else(|e| panic!("{schema}: {e}"))
}

fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// The router, the document, and which operations were called.
struct Api {
    app: axum::Router,
    document: Value,
    strict_schemas: Value,
    called: Mutex<BTreeSet<(String, String)>>,
}

/// How a request authenticates.
#[derive(Debug, Clone, Copy)]
enum Auth<'a> {
    Anonymous,
    Bearer(&'a str),
    /// The console's session cookie, with the session's CSRF token when given.
    Session(&'a str, Option<&'a str>),
}

/// What a request sends.
enum Payload<'a> {
    Nothing,
    /// A body the document's request schema accepts.
    Json(Value),
    /// A body the document's request schema refuses (the server must answer 400).
    BadJson(Value),
    Bytes(&'a str, Vec<u8>),
}

impl Api {
    async fn new(app: axum::Router) -> Api {
        let document = served_document(&app).await;
        let mut strict_schemas = document["components"]["schemas"].clone();
        for schema in strict_schemas.as_object_mut().unwrap().values_mut() {
            strict(schema, true);
        }
        Api {
            app,
            document,
            strict_schemas,
            called: Mutex::default(),
        }
    }

    /// The documented path an URI matches.
    fn template(&self, uri: &str) -> String {
        let path = uri.split('?').next().unwrap();
        let path = path.strip_prefix(PREFIX).expect("an API path");
        let segments: Vec<&str> = path.split('/').collect();
        let matching: Vec<&String> = self.document["paths"]
            .as_object()
            .unwrap()
            .keys()
            .filter(|template| {
                let parts: Vec<&str> = template.split('/').collect();
                parts.len() == segments.len()
                    && parts
                        .iter()
                        .zip(&segments)
                        .all(|(t, s)| t == s || (t.starts_with('{') && t.ends_with('}')))
            })
            .collect();
        assert_eq!(matching.len(), 1, "{uri} matches {matching:?}");
        matching[0].clone()
    }

    /// Sends a request with a bearer token (or none), checks its answer against the document,
    /// and returns the JSON answer (`Value::Null` for an answer without a JSON body).
    async fn call(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        send: Payload<'_>,
        expected: StatusCode,
    ) -> Value {
        let auth = token.map_or(Auth::Anonymous, Auth::Bearer);
        self.call_as(method, uri, auth, send, expected).await.0
    }

    /// Sends a request, checks its answer (status, documented headers, body) against the
    /// document, and returns the JSON answer and the headers.
    async fn call_as(
        &self,
        method: &str,
        uri: &str,
        auth: Auth<'_>,
        send: Payload<'_>,
        expected: StatusCode,
    ) -> (Value, axum::http::HeaderMap) {
        let template = self.template(uri);
        let operation = self.document["paths"][&template][method].clone();
        assert!(
            operation.is_object(),
            "{method} {template} is not documented"
        );
        self.called
            .lock()
            .unwrap()
            .insert((method.to_owned(), template.clone()));

        let mut request = Request::builder()
            .method(method.to_uppercase().as_str())
            .uri(uri);
        match auth {
            Auth::Anonymous => {}
            Auth::Bearer(token) => {
                request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
            }
            Auth::Session(cookie, csrf) => {
                request = request.header(
                    header::COOKIE,
                    format!("{}={cookie}", jz_http::auth::SESSION_COOKIE),
                );
                if let Some(csrf) = csrf {
                    request = request.header(jz_http::auth::CSRF_HEADER, csrf);
                }
            }
        }
        let bad_body = matches!(send, Payload::BadJson(_));
        let body = match send {
            Payload::Nothing => Body::empty(),
            Payload::Json(body) | Payload::BadJson(body) => {
                let schema = &operation["requestBody"]["content"]["application/json"]["schema"];
                let check = validator(schema, &self.document["components"]["schemas"]);
                let problems = errors(&check, &body);
                if bad_body {
                    assert!(
                        !problems.is_empty(),
                        "{method} {uri}: the document accepts the invalid request {body}"
                    );
                } else {
                    assert!(
                        problems.is_empty(),
                        "{method} {uri}: the document refuses the request {body}: {problems:?}"
                    );
                }
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(body.to_string())
            }
            Payload::Bytes(content_type, bytes) => {
                request = request.header(header::CONTENT_TYPE, content_type);
                Body::from(bytes)
            }
        };
        let response = self
            .app
            .clone()
            .oneshot(request.body(body).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let content_type = response.headers().get(header::CONTENT_TYPE).map(|v| {
            v.to_str()
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .trim()
                .to_owned()
        });
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        assert_eq!(
            status,
            expected,
            "{method} {uri}: {}",
            String::from_utf8_lossy(&bytes)
        );

        let mut answer = operation["responses"][status.as_str()].clone();
        assert!(
            answer.is_object(),
            "{method} {template}: status {status} is not documented"
        );
        if let Some(target) = answer.get("$ref").and_then(Value::as_str) {
            answer = self.document.pointer(&target[1..]).unwrap().clone();
        }
        for (name, documented) in answer["headers"].as_object().into_iter().flatten() {
            assert!(
                documented["required"] != json!(true) || headers.contains_key(name.as_str()),
                "{method} {template} {status}: the documented header {name} is missing"
            );
        }
        let Some(content) = answer.get("content").and_then(Value::as_object) else {
            assert!(
                bytes.is_empty(),
                "{method} {template} {status}: documented without a body, answered {bytes:?}"
            );
            return (Value::Null, headers);
        };
        let content_type = content_type.expect("a content type");
        let media = content.get(&content_type).unwrap_or_else(|| {
            panic!("{method} {template} {status}: {content_type} is not documented")
        });
        if content_type == "application/json" {
            let mut schema = media["schema"].clone();
            strict(&mut schema, true);
            let check = validator(&schema, &self.strict_schemas);
            let problems = errors(&check, &json);
            assert!(
                problems.is_empty(),
                "{method} {template} {status}: the answer does not fit the document: {problems:?}\n{json:#}"
            );
        }
        (json, headers)
    }

    async fn get(&self, uri: &str, token: Option<&str>, expected: StatusCode) -> Value {
        self.call("get", uri, token, Payload::Nothing, expected)
            .await
    }
}

/// A PNG's signature: what the photo store sniffs.
fn png() -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend_from_slice(&[0; 64]);
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_answers_fit_the_document() {
    let (app, store, _db) = app().await;
    let api = Api::new(app).await;
    let by = admin_actor();
    let mut tokens = BTreeMap::new();
    for (name, role) in [
        ("admin", Role::Admin),
        ("inspector", Role::Inspector),
        ("operator", Role::CityOperator),
        ("dispatcher", Role::Dispatcher),
        ("hotline", Role::HotlineOperator),
    ] {
        let (_, token) = jz_app::cases::users::create_user(&store, &by, name, role, None, None)
            .await
            .unwrap();
        tokens.insert(name, token);
    }
    let admin = Some(tokens["admin"].as_str());
    let inspector = Some(tokens["inspector"].as_str());
    let operator = Some(tokens["operator"].as_str());
    let dispatcher = Some(tokens["dispatcher"].as_str());
    let hotline = Some(tokens["hotline"].as_str());
    use StatusCode as S;

    // The service.
    let health = api.get("/api/v1/health", None, S::OK).await;
    assert_eq!(health["store"]["backend"], "sqlite");
    api.get("/api/v1/openapi.json", None, S::OK).await;

    // The city model.
    let tree = api.get("/api/v1/divisions", None, S::OK).await;
    assert_eq!(tree[0]["code"], "330100000000");
    api.get("/api/v1/divisions?depth=1", None, S::OK).await;
    api.get("/api/v1/divisions?depth=-1", None, S::BAD_REQUEST)
        .await;
    api.get("/api/v1/divisions/330102000000?geometry=true", None, S::OK)
        .await;
    api.get("/api/v1/divisions/330102001001", None, S::OK).await;
    api.get("/api/v1/divisions/33010200", None, S::BAD_REQUEST)
        .await;
    api.get("/api/v1/divisions/330102009000", None, S::NOT_FOUND)
        .await;
    let located = api
        .get("/api/v1/locate?lon=120.005&lat=30.005", None, S::OK)
        .await;
    let grid = located["grid"].as_str().unwrap().to_owned();
    api.get(
        "/api/v1/locate?lon=120.005&lat=30.005&datum=gcj02",
        None,
        S::OK,
    )
    .await;
    api.get("/api/v1/locate?lon=120.005", None, S::BAD_REQUEST)
        .await;
    api.get(
        "/api/v1/locate?lon=120.5&lat=30.005",
        None,
        S::UNPROCESSABLE_ENTITY,
    )
    .await;
    // A parameter given twice: the error envelope like any other bad parameter.
    let twice = api
        .get(
            "/api/v1/locate?lon=120.005&lon=120.006&lat=30.005",
            None,
            S::BAD_REQUEST,
        )
        .await;
    assert_eq!(twice["error"]["code"], "invalid_parameter", "{twice}");
    let answers = api
        .call(
            "post",
            "/api/v1/locate",
            None,
            Payload::Json(json!({ "points": [
                { "lon": 120.005, "lat": 30.005 },
                { "lon": 120.5, "lat": 30.0 },
                { "lon": 120.01, "lat": 30.01, "datum": "bd09" },
                { "lon": 120.01, "lat": 30.01, "datum": "x" }
            ] })),
            S::OK,
        )
        .await;
    assert_eq!(answers[3]["error"]["field"], "points[3].datum");
    api.call(
        "post",
        "/api/v1/locate",
        None,
        Payload::BadJson(json!({ "points": 5 })),
        S::BAD_REQUEST,
    )
    .await;
    api.get(&format!("/api/v1/grids/{grid}"), None, S::OK).await;
    api.get("/api/v1/grids/330102001001999", None, S::NOT_FOUND)
        .await;
    api.get("/api/v1/grids/12", None, S::BAD_REQUEST).await;
    api.get("/api/v1/layers/community?zoom=12", None, S::OK)
        .await;
    api.get("/api/v1/layers/district", None, S::OK).await;
    api.get(
        "/api/v1/layers/grid?bbox=120.0,30.0,120.005,30.005",
        None,
        S::OK,
    )
    .await;
    api.get("/api/v1/layers/grid", None, S::BAD_REQUEST).await;
    api.get("/api/v1/layers/community?zoom=99", None, S::BAD_REQUEST)
        .await;
    api.get("/api/v1/indicators", None, S::OK).await;
    let types = api.get("/api/v1/zone-types", None, S::OK).await;
    let zone_type = types[0]["code"].as_str().unwrap().to_owned();
    api.get("/api/v1/zones", None, S::OK).await;
    api.get("/api/v1/zones/nowhere", None, S::NOT_FOUND).await;
    let history = api
        .get(
            &format!("/api/v1/goal-history?subject=zone_type:{zone_type}"),
            None,
            S::OK,
        )
        .await;
    assert!(!history.as_array().unwrap().is_empty(), "{history}");
    api.get("/api/v1/goal-history", None, S::BAD_REQUEST).await;
    // Goal editing: validated, versioned, refused to other roles.
    let goals = json!({ "targets": [
        { "indicator": "on_time_closure_rate", "weight": 0.6, "target": 0.95 },
        { "indicator": "satisfaction_rate", "weight": 0.4, "target": 0.9 }
    ] });
    api.call(
        "put",
        &format!("/api/v1/zone-types/{zone_type}/goals"),
        admin,
        Payload::Json(goals.clone()),
        S::OK,
    )
    .await;
    let invalid = api
        .call(
            "put",
            &format!("/api/v1/zone-types/{zone_type}/goals"),
            admin,
            Payload::Json(json!({ "targets": [
                { "indicator": "on_time_closure_rate", "weight": 0.6, "target": 1.5 }
            ] })),
            S::BAD_REQUEST,
        )
        .await;
    let message = invalid["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("targets[0]") && message.contains("sum"),
        "{message}"
    );
    api.call(
        "put",
        &format!("/api/v1/zone-types/{zone_type}/goals"),
        admin,
        Payload::Json(json!({ "targets": goals["targets"], "version": 1 })),
        S::CONFLICT,
    )
    .await;
    api.call(
        "put",
        &format!("/api/v1/zone-types/{zone_type}/goals"),
        dispatcher,
        Payload::Json(goals.clone()),
        S::FORBIDDEN,
    )
    .await;
    api.call(
        "put",
        "/api/v1/zones/nowhere/goals",
        admin,
        Payload::Json(json!({ "targets": null })),
        S::NOT_FOUND,
    )
    .await;

    // The rules: a department, a handler in it, a rule added and removed, the calendar.
    let categories = api.get("/api/v1/categories", None, S::OK).await;
    assert!(categories.as_array().unwrap().len() > 100);
    let category = api.get("/api/v1/categories/06010", None, S::OK).await;
    api.get("/api/v1/categories/99999", None, S::NOT_FOUND)
        .await;
    api.call(
        "post",
        "/api/v1/categories",
        admin,
        Payload::Json(category.clone()),
        S::CONFLICT,
    )
    .await;
    api.call(
        "post",
        "/api/v1/categories",
        inspector,
        Payload::Json(category.clone()),
        S::FORBIDDEN,
    )
    .await;
    let mut extension = category.clone();
    extension["code"] = json!("06901");
    extension["name"] = json!("测试扩展类");
    api.call(
        "post",
        "/api/v1/categories",
        admin,
        Payload::Json(extension),
        S::CREATED,
    )
    .await;
    let mut urgent = category.clone();
    urgent["urgency"] = json!("urgent");
    api.call(
        "put",
        "/api/v1/categories/06010",
        admin,
        Payload::Json(urgent),
        S::OK,
    )
    .await;
    let mut bad_limit = category.clone();
    bad_limit["limits"]["handle"]["normal"] = json!("4 fortnights");
    api.call(
        "put",
        "/api/v1/categories/06010",
        admin,
        Payload::BadJson(bad_limit),
        S::BAD_REQUEST,
    )
    .await;
    let department = json!({
        "id": "test-greening",
        "name": "Greening bureau",
        "kind": "bureau",
        "level": "district",
        "division": "330102000000",
        "active": true
    });
    api.call(
        "put",
        "/api/v1/departments/test-greening",
        admin,
        Payload::Json(department.clone()),
        S::CREATED,
    )
    .await;
    api.call(
        "put",
        "/api/v1/departments/test-greening",
        admin,
        Payload::Json(department.clone()),
        S::OK,
    )
    .await;
    api.call(
        "put",
        "/api/v1/departments/test-greening",
        None,
        Payload::Json(department),
        S::UNAUTHORIZED,
    )
    .await;
    api.get("/api/v1/departments", None, S::OK).await;
    let (_, handler) = jz_app::cases::users::create_user(
        &store,
        &by,
        "handler",
        Role::Handler,
        None,
        Some("test-greening".into()),
    )
    .await
    .unwrap();
    let handler = Some(handler.as_str());
    let rule = json!({
        "id": "r-test",
        "category": "06",
        "territory": { "kind": "division", "id": "330102000000" },
        "level": "district",
        "department": "test-greening",
        "priority": 1,
        "fallback": false
    });
    api.call(
        "post",
        "/api/v1/responsibility-rules",
        admin,
        Payload::Json(rule.clone()),
        S::CREATED,
    )
    .await;
    api.call(
        "post",
        "/api/v1/responsibility-rules",
        admin,
        Payload::Json(rule),
        S::CONFLICT,
    )
    .await;
    let rules = api.get("/api/v1/responsibility-rules", None, S::OK).await;
    assert_eq!(rules.as_array().unwrap().len(), 1, "{rules}");
    api.call(
        "delete",
        "/api/v1/responsibility-rules/r-test",
        admin,
        Payload::Nothing,
        S::NO_CONTENT,
    )
    .await;
    api.call(
        "delete",
        "/api/v1/responsibility-rules/r-test",
        admin,
        Payload::Nothing,
        S::NOT_FOUND,
    )
    .await;
    api.call(
        "put",
        "/api/v1/calendar/days/2026-10-09",
        admin,
        Payload::Json(json!({ "kind": "workday", "name": "国庆调休" })),
        S::NO_CONTENT,
    )
    .await;
    api.call(
        "put",
        "/api/v1/calendar/days/2026-10-09",
        admin,
        Payload::BadJson(json!({ "kind": "weekend", "name": "x" })),
        S::BAD_REQUEST,
    )
    .await;
    api.call(
        "put",
        "/api/v1/calendar/days/tomorrow",
        admin,
        Payload::Json(json!({ "kind": "holiday", "name": "x" })),
        S::BAD_REQUEST,
    )
    .await;
    api.get("/api/v1/calendar/days", None, S::OK).await;
    api.call(
        "delete",
        "/api/v1/calendar/days/2026-10-09",
        admin,
        Payload::Nothing,
        S::NO_CONTENT,
    )
    .await;
    let settings = api.get("/api/v1/settings/intake", None, S::OK).await;
    api.call(
        "put",
        "/api/v1/settings/intake",
        admin,
        Payload::Json(settings.clone()),
        S::OK,
    )
    .await;
    api.call(
        "put",
        "/api/v1/settings/intake",
        operator,
        Payload::Json(settings),
        S::FORBIDDEN,
    )
    .await;

    // Intake.
    let photo = api
        .call(
            "post",
            "/api/v1/photos",
            inspector,
            Payload::Bytes("image/png", png()),
            S::CREATED,
        )
        .await;
    let photo = photo["id"].as_str().unwrap().to_owned();
    api.call(
        "post",
        "/api/v1/photos",
        inspector,
        Payload::Bytes("text/plain", b"hello".to_vec()),
        S::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    api.call(
        "post",
        "/api/v1/photos",
        inspector,
        Payload::Bytes("image/jpeg", png()),
        S::BAD_REQUEST,
    )
    .await;
    api.call(
        "get",
        &format!("/api/v1/photos/{photo}"),
        inspector,
        Payload::Nothing,
        S::OK,
    )
    .await;
    api.get("/api/v1/photos/none", inspector, S::NOT_FOUND)
        .await;
    api.call(
        "post",
        "/api/v1/classify",
        inspector,
        Payload::Json(json!({ "text": "小区门口暴露垃圾没人清理" })),
        S::OK,
    )
    .await;
    api.call(
        "post",
        "/api/v1/classify",
        inspector,
        Payload::BadJson(json!({ "text": "垃圾", "lang": "zh" })),
        S::BAD_REQUEST,
    )
    .await;
    let report = json!({
        "description": "小区门口暴露垃圾",
        "location": { "lon": 120.005, "lat": 30.005, "datum": "wgs84" },
        "address": "North gate",
        "category": "06010",
        "reporter": { "name": "Li", "phone": "13800000000" },
        "intake_key": "openapi-test-1",
        "photos": [photo]
    });
    let created = api
        .call(
            "post",
            "/api/v1/reports",
            inspector,
            Payload::Json(report.clone()),
            S::CREATED,
        )
        .await;
    assert_eq!(created["outcome"], "created");
    let replayed = api
        .call(
            "post",
            "/api/v1/reports",
            inspector,
            Payload::Json(report.clone()),
            S::OK,
        )
        .await;
    assert_eq!(replayed["outcome"], "replayed");
    let case_id = created["case"]["id"].as_str().unwrap().to_owned();
    let report_id = created["report_id"].as_str().unwrap().to_owned();
    api.call(
        "post",
        "/api/v1/reports",
        operator,
        Payload::Json(json!({
            "channel": "hotline",
            "description": "路边有垃圾堆放",
            "location": { "lon": 120.015, "lat": 30.015 }
        })),
        S::CREATED,
    )
    .await;
    api.call(
        "post",
        "/api/v1/reports",
        None,
        Payload::Json(report.clone()),
        S::UNAUTHORIZED,
    )
    .await;
    api.call(
        "post",
        "/api/v1/reports",
        Some("jz_not-a-token"),
        Payload::Json(report.clone()),
        S::UNAUTHORIZED,
    )
    .await;
    let mut unknown_field = report.clone();
    unknown_field["severity"] = json!("high");
    api.call(
        "post",
        "/api/v1/reports",
        inspector,
        Payload::BadJson(unknown_field),
        S::BAD_REQUEST,
    )
    .await;
    api.call(
        "post",
        "/api/v1/reports",
        inspector,
        Payload::BadJson(json!({ "description": "没有位置" })),
        S::BAD_REQUEST,
    )
    .await;
    api.call(
        "post",
        "/api/v1/reports",
        inspector,
        Payload::Json(json!({ "channel": "hotline", "description": "x", "location": { "lon": 120.005, "lat": 30.005 } })),
        S::FORBIDDEN,
    )
    .await;
    api.call(
        "post",
        "/api/v1/reports",
        inspector,
        Payload::Json(
            json!({ "description": "城外", "location": { "lon": 120.5, "lat": 30.005 } }),
        ),
        S::UNPROCESSABLE_ENTITY,
    )
    .await;

    // Lists and one case.
    let all = api.get("/api/v1/cases", operator, S::OK).await;
    assert_eq!(all.as_array().unwrap().len(), 2, "{all}");
    api.get(
        "/api/v1/cases?state=registered,reported&queue=to_dispatch&channel=inspector&overdue=false&limit=10",
        operator,
        S::OK,
    )
    .await;
    api.get("/api/v1/cases?queue=bogus", operator, S::BAD_REQUEST)
        .await;
    api.get("/api/v1/cases?colour=red", operator, S::BAD_REQUEST)
        .await;
    api.get("/api/v1/cases?limit=0", operator, S::BAD_REQUEST)
        .await;
    api.get("/api/v1/cases", None, S::UNAUTHORIZED).await;
    let detail = api
        .get(&format!("/api/v1/cases/{case_id}"), operator, S::OK)
        .await;
    let mut version = detail["case"]["version"].as_i64().unwrap();
    api.get("/api/v1/cases/none", operator, S::NOT_FOUND).await;
    api.get(
        &format!("/api/v1/cases/{case_id}/reporters"),
        operator,
        S::OK,
    )
    .await;
    api.get(
        &format!("/api/v1/cases/{case_id}/reporters"),
        inspector,
        S::FORBIDDEN,
    )
    .await;

    // The loop: dispatch, handle, verify, close, rate; with refusals on the way.
    let commands = format!("/api/v1/cases/{case_id}/commands");
    let step = |body: Value| Payload::Json(body);
    api.call(
        "post",
        &commands,
        operator,
        step(json!({ "version": version, "command": "close" })),
        S::CONFLICT,
    )
    .await;
    api.call(
        "post",
        &commands,
        inspector,
        step(json!({ "version": version, "command": "dispatch", "department": "test-greening" })),
        S::FORBIDDEN,
    )
    .await;
    api.call(
        "post",
        &commands,
        operator,
        Payload::BadJson(json!({ "version": version, "command": "rate", "rating": "satisfied" })),
        S::BAD_REQUEST,
    )
    .await;
    api.call(
        "post",
        &commands,
        operator,
        Payload::BadJson(json!({ "version": version, "command": "teleport" })),
        S::BAD_REQUEST,
    )
    .await;
    let mut issue = async |token: Option<&str>, command: Value| {
        let mut body = command;
        body["version"] = json!(version);
        let case = api.call("post", &commands, token, step(body), S::OK).await;
        version = case["version"].as_i64().unwrap();
        case
    };
    issue(
        dispatcher,
        json!({ "command": "dispatch", "department": "test-greening", "note": "请尽快处理" }),
    )
    .await;
    issue(handler, json!({ "command": "accept" })).await;
    issue(handler, json!({ "command": "start_handling" })).await;
    issue(
        handler,
        json!({ "command": "request_postponement", "extra": 2, "reason": "等待车辆" }),
    )
    .await;
    issue(
        dispatcher,
        json!({ "command": "decide_postponement", "approve": true }),
    )
    .await;
    issue(handler, json!({ "command": "report_handled" })).await;
    issue(
        inspector,
        json!({ "command": "verify", "passed": true, "position": { "lon": 120.005, "lat": 30.005, "datum": "gcj02" } }),
    )
    .await;
    let closed = issue(operator, json!({ "command": "close" })).await;
    assert_eq!(closed["state"], "closed");
    api.call(
        "post",
        &commands,
        operator,
        step(json!({ "version": version - 1, "command": "reopen", "reason": "x" })),
        S::CONFLICT,
    )
    .await;
    let rated = api
        .call(
            "post",
            &format!("/api/v1/reports/{report_id}/rating"),
            hotline,
            Payload::Json(json!({ "rating": "satisfied", "comment": "谢谢" })),
            S::OK,
        )
        .await;
    assert_eq!(rated["state"], "rated");
    api.call(
        "post",
        &format!("/api/v1/reports/{report_id}/rating"),
        hotline,
        Payload::Json(json!({ "rating": "satisfied" })),
        S::CONFLICT,
    )
    .await;
    api.call(
        "post",
        &format!("/api/v1/reports/{report_id}/rating"),
        hotline,
        Payload::BadJson(json!({ "rating": "meh" })),
        S::BAD_REQUEST,
    )
    .await;
    api.call(
        "post",
        "/api/v1/reports/none/rating",
        hotline,
        Payload::Json(json!({ "rating": "dissatisfied" })),
        S::NOT_FOUND,
    )
    .await;
    let detail = api
        .get(&format!("/api/v1/cases/{case_id}"), operator, S::OK)
        .await;
    assert!(
        detail["timeline"].as_array().unwrap().len() >= 9,
        "{detail}"
    );
    assert_eq!(detail["reports"][0]["rating"], "satisfied");

    // Access: users and their passwords, console sessions, API keys, the audit trail.
    api.get("/api/v1/users", admin, S::OK).await;
    api.get("/api/v1/users", inspector, S::FORBIDDEN).await;
    api.get("/api/v1/users", None, S::UNAUTHORIZED).await;
    let password = "correct horse battery";
    let created = api
        .call(
            "post",
            "/api/v1/users",
            admin,
            Payload::Json(json!({
                "name": "Console Wang",
                "role": "street_operator",
                "territory": "330102001000",
                "login": "wang",
                "password": password
            })),
            S::CREATED,
        )
        .await;
    let wang = created["user"]["id"].as_str().unwrap().to_owned();
    let wang_token = created["token"].as_str().unwrap().to_owned();
    assert_eq!(created["user"]["territory"], "330102001000");
    api.call(
        "post",
        "/api/v1/users",
        admin,
        Payload::BadJson(json!({ "name": "x", "role": "mayor" })),
        S::BAD_REQUEST,
    )
    .await;
    api.call(
        "post",
        "/api/v1/users",
        admin,
        Payload::Json(json!({ "name": "x", "role": "handler" })),
        S::BAD_REQUEST,
    )
    .await;
    api.call(
        "post",
        "/api/v1/users",
        dispatcher,
        Payload::Json(json!({ "name": "x", "role": "citizen" })),
        S::FORBIDDEN,
    )
    .await;
    let li = api
        .call(
            "post",
            "/api/v1/users",
            admin,
            Payload::Json(json!({ "name": "Li", "role": "citizen", "territory": null })),
            S::CREATED,
        )
        .await;
    let li = li["user"]["id"].as_str().unwrap().to_owned();
    let credentials = json!({ "login": "wang", "password": password });
    let wang_password = format!("/api/v1/users/{wang}/password");
    api.call(
        "put",
        &wang_password,
        Some(&wang_token),
        Payload::Json(credentials.clone()),
        S::NO_CONTENT,
    )
    .await;
    api.call(
        "put",
        &wang_password,
        inspector,
        Payload::Json(credentials.clone()),
        S::FORBIDDEN,
    )
    .await;
    api.call(
        "put",
        &wang_password,
        admin,
        Payload::BadJson(json!({ "login": "wang", "password": "short" })),
        S::BAD_REQUEST,
    )
    .await;
    api.call(
        "put",
        "/api/v1/users/nobody/password",
        admin,
        Payload::Json(json!({ "login": "nobody", "password": password })),
        S::NOT_FOUND,
    )
    .await;
    api.call(
        "put",
        &format!("/api/v1/users/{li}/password"),
        admin,
        Payload::Json(credentials.clone()),
        S::CONFLICT,
    )
    .await;

    let (session, headers) = api
        .call_as(
            "post",
            "/api/v1/session",
            Auth::Anonymous,
            Payload::Json(credentials.clone()),
            S::OK,
        )
        .await;
    let set_cookie = headers[header::SET_COOKIE].to_str().unwrap().to_owned();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"),
        "{set_cookie}"
    );
    let cookie = set_cookie
        .strip_prefix(&format!("{}=", jz_http::auth::SESSION_COOKIE))
        .and_then(|rest| rest.split(';').next())
        .unwrap()
        .to_owned();
    let csrf = session["csrf_token"].as_str().unwrap().to_owned();
    assert_eq!(session["user"]["id"], wang.as_str());
    api.call_as(
        "post",
        "/api/v1/session",
        Auth::Anonymous,
        Payload::BadJson(json!({ "login": "wang" })),
        S::BAD_REQUEST,
    )
    .await;
    let (me, _) = api
        .call_as(
            "get",
            "/api/v1/session",
            Auth::Session(&cookie, None),
            Payload::Nothing,
            S::OK,
        )
        .await;
    assert_eq!(me["csrf_token"], csrf.as_str());
    let me = api.get("/api/v1/session", Some(&wang_token), S::OK).await;
    assert_eq!(
        (&me["user"]["id"], &me["csrf_token"]),
        (&json!(wang), &Value::Null)
    );
    api.call(
        "delete",
        "/api/v1/session",
        Some(&wang_token),
        Payload::Nothing,
        S::BAD_REQUEST,
    )
    .await;
    api.call_as(
        "delete",
        "/api/v1/session",
        Auth::Session(&cookie, None),
        Payload::Nothing,
        S::FORBIDDEN,
    )
    .await;
    let (_, headers) = api
        .call_as(
            "delete",
            "/api/v1/session",
            Auth::Session(&cookie, Some(&csrf)),
            Payload::Nothing,
            S::NO_CONTENT,
        )
        .await;
    assert!(
        headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    api.call_as(
        "get",
        "/api/v1/session",
        Auth::Session(&cookie, None),
        Payload::Nothing,
        S::UNAUTHORIZED,
    )
    .await;
    // Failed logins are throttled per login name: five, then 429 (even for the right password).
    let wrong = json!({ "login": "wang", "password": "not the password" });
    for _ in 0..jz_app::cases::sessions::MAX_FAILED_LOGINS {
        api.call_as(
            "post",
            "/api/v1/session",
            Auth::Anonymous,
            Payload::Json(wrong.clone()),
            S::UNAUTHORIZED,
        )
        .await;
    }
    api.call_as(
        "post",
        "/api/v1/session",
        Auth::Anonymous,
        Payload::Json(credentials),
        S::TOO_MANY_REQUESTS,
    )
    .await;

    api.get("/api/v1/keys", admin, S::OK).await;
    api.get("/api/v1/keys", operator, S::FORBIDDEN).await;
    let key = api
        .call(
            "post",
            "/api/v1/keys",
            admin,
            Payload::Json(json!({
                "user_id": wang,
                "name": "gateway",
                "scopes": ["api", "open311"],
                "rate_per_minute": 60
            })),
            S::CREATED,
        )
        .await;
    let secret = key["secret"].as_str().unwrap().to_owned();
    let key_id = key["key"]["id"].as_str().unwrap().to_owned();
    api.call(
        "post",
        "/api/v1/keys",
        admin,
        Payload::BadJson(json!({ "user_id": wang, "name": "x", "scopes": ["fly"] })),
        S::BAD_REQUEST,
    )
    .await;
    api.call(
        "post",
        "/api/v1/keys",
        admin,
        Payload::Json(json!({ "user_id": "nobody", "name": "x", "scopes": ["api"] })),
        S::BAD_REQUEST,
    )
    .await;
    let me = api.get("/api/v1/session", Some(&secret), S::OK).await;
    assert_eq!(me["user"]["id"], wang.as_str(), "a key acts as its user");
    let key_path = format!("/api/v1/keys/{key_id}");
    api.call(
        "delete",
        &key_path,
        inspector,
        Payload::Nothing,
        S::FORBIDDEN,
    )
    .await;
    api.call("delete", &key_path, admin, Payload::Nothing, S::NO_CONTENT)
        .await;
    api.call("delete", &key_path, admin, Payload::Nothing, S::NOT_FOUND)
        .await;
    api.get("/api/v1/session", Some(&secret), S::UNAUTHORIZED)
        .await;

    let trail = api
        .get(
            &format!("/api/v1/audit?subject_kind=case&subject_id={case_id}"),
            admin,
            S::OK,
        )
        .await;
    assert!(
        trail
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "case.reporters_read"),
        "{trail}"
    );
    api.get(
        &format!("/api/v1/audit?subject_kind=user&subject_id={wang}"),
        operator,
        S::OK,
    )
    .await;
    api.get(
        &format!("/api/v1/audit?subject_kind=case&subject_id={case_id}"),
        inspector,
        S::FORBIDDEN,
    )
    .await;
    api.get("/api/v1/audit?subject_kind=case", admin, S::BAD_REQUEST)
        .await;
    api.get(
        "/api/v1/audit?subject_kind=case&subject_id=x",
        None,
        S::UNAUTHORIZED,
    )
    .await;

    let wang_path = format!("/api/v1/users/{wang}");
    api.call(
        "delete",
        &wang_path,
        operator,
        Payload::Nothing,
        S::FORBIDDEN,
    )
    .await;
    api.call("delete", &wang_path, admin, Payload::Nothing, S::NO_CONTENT)
        .await;
    api.call("delete", &wang_path, admin, Payload::Nothing, S::NOT_FOUND)
        .await;
    api.get("/api/v1/session", Some(&wang_token), S::UNAUTHORIZED)
        .await;

    // Evaluation and the live stream (an endless stream is checked by its refusals only).
    api.get(
        "/api/v1/scorecards?from=2020-01-01&to=2035-12-31",
        admin,
        S::OK,
    )
    .await;
    api.get("/api/v1/scorecards?scope=zone:nowhere", admin, S::NOT_FOUND)
        .await;
    api.get("/api/v1/scorecards?from=yesterday", admin, S::BAD_REQUEST)
        .await;
    api.get("/api/v1/scorecards", None, S::UNAUTHORIZED).await;
    api.get("/api/v1/scorecards/ranking?level=street", admin, S::OK)
        .await;
    api.get("/api/v1/scorecards/ranking?level=department", admin, S::OK)
        .await;
    api.get(
        "/api/v1/scorecards/ranking?level=planet",
        admin,
        S::BAD_REQUEST,
    )
    .await;
    api.get("/api/v1/scorecards/trend?bucket=week", admin, S::OK)
        .await;
    api.get(
        "/api/v1/scorecards/trend?bucket=year",
        admin,
        S::BAD_REQUEST,
    )
    .await;
    api.get("/api/v1/live", None, S::UNAUTHORIZED).await;

    // Every documented operation was called.
    let called = api.called.lock().unwrap().clone();
    let documented: BTreeSet<(String, String)> = operations(&api.document)
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect();
    let missed: Vec<_> = documented.difference(&called).collect();
    assert!(missed.is_empty(), "operations never called: {missed:?}");
}
