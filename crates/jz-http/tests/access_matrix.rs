//! Issue #5's access matrix: every native endpoint × every role (and anonymous) × inside and
//! outside the territory of what it touches, through the real router, against the expected
//! policy written out below; every answer is scanned for reporters' personal data and for cases
//! the caller may not see. Then the ways in: console sessions (cookie, CSRF token, logout,
//! revocation), system API keys (scope, rate, revocation) and the per-address rate limit.
//!
//! The expected policy is written from the code, not computed by it: the command table from
//! `Command::roles()` (a test below holds the two together), the handlers' `require(…)` calls,
//! `channels_for` of intake, and the visibility rule of `Cases::may_see` — the territory first;
//! then handlers see their department's cases and those it is summoned to, citizens,
//! volunteers and community workers the cases they reported, everyone else all cases in their
//! territory. What a caller may not see answers 404, what their role may not do 403.
//!
//! Each row of the matrix runs the callers it expects to refuse first, then the ones it expects
//! to let through: refusals are checked against an untouched resource, and the first caller let
//! through may change it (later ones then get a state refusal such as 409, which the row lists
//! as an allowed answer). Mismatches are collected and reported as one table.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use jz_app::cases::config;
use jz_app::cases::intake::{ReportInput, Reporter};
use jz_app::cases::keys::Scope;
use jz_app::cases::{Context, now_us};
use jz_app::city::plan::Stage;
use jz_app::city::{FieldMapping, ImportOptions, SharedCity, SourceFile};
use jz_domain::access::{Actor, Role};
use jz_domain::case::{Case, CaseState, Channel, Command};
use jz_domain::division::{DivisionCode, DivisionLevel};
use jz_domain::responsibility::{DepartmentKind, ResponsibilityRule, Territory};
use jz_geo::datum::Datum;
use jz_http::AppState;
use serde_json::{Value, json};
use tower::ServiceExt;

use Role::*;

/// A 4 km × 2 km city of two real districts; their streets and communities are generated.
const CITY: &str = r#"{"type":"FeatureCollection","features":[
  {"type":"Feature","properties":{"code":"330100000000","name":"Test City","level":"city"},
   "geometry":{"type":"Polygon","coordinates":[[[120.00,30.00],[120.04,30.00],[120.04,30.02],[120.00,30.02],[120.00,30.00]]]}},
  {"type":"Feature","properties":{"code":"330102000000","name":"West District","level":"district","parent_code":"330100000000"},
   "geometry":{"type":"Polygon","coordinates":[[[120.00,30.00],[120.02,30.00],[120.02,30.02],[120.00,30.02],[120.00,30.00]]]}},
  {"type":"Feature","properties":{"code":"330105000000","name":"East District","level":"district","parent_code":"330100000000"},
   "geometry":{"type":"Polygon","coordinates":[[[120.02,30.00],[120.04,30.00],[120.04,30.02],[120.02,30.02],[120.02,30.00]]]}}
]}"#;
const CODES: &str = "code,name,level,parent_code
330102001000,West One Street,street,330102000000
330102002000,West Two Street,street,330102000000
330105001000,East Street,street,330105000000
330102001001,West One Community,community,330102001000
330102002001,West Two Community,community,330102002000
330105001001,East Community,community,330105001000
";

/// The street the cases under test lie in, its sibling street, the other district's street.
const STREET: &str = "330102001000";
const OTHER_STREET: &str = "330102002000";
const OTHER_DISTRICT_STREET: &str = "330105001000";
/// The district of `STREET`, and the other one.
const DISTRICT: &str = "330102000000";
const OTHER_DISTRICT: &str = "330105000000";

/// The department cases in `STREET` are dispatched to, and another one (summoned by whistles).
const STREET_OFFICE: &str = "street-office";
const GREENING: &str = "greening";

const PASSWORD: &str = "a long console password";

// ---------------------------------------------------------------------------------------------
// The expected policy.

/// Roles of people (`system` is Jingzhi itself and never calls over HTTP).
const ROLES: [Role; 12] = [
    CityOperator,
    DistrictOperator,
    StreetOperator,
    Dispatcher,
    Handler,
    Inspector,
    HotlineOperator,
    CommunityWorker,
    Volunteer,
    Citizen,
    Auditor,
    Admin,
];
const OPERATORS: &[Role] = &[CityOperator, DistrictOperator, StreetOperator];
/// `require(ADMINS, …)` of the rules, users and keys handlers.
const ADMINS: &[Role] = &[Admin];
/// `require(…)` of `GET /audit`.
const AUDIT_READERS: &[Role] = &[Auditor, Admin, CityOperator];
/// `Cases::reporters`: who may read reporters' personal data (of cases they may see).
const REPORTER_READERS: &[Role] = &[
    CityOperator,
    DistrictOperator,
    StreetOperator,
    HotlineOperator,
    Dispatcher,
];
/// `Command::Rate`'s roles; a citizen rates only their own report.
const RATERS: &[Role] = &[Citizen, HotlineOperator];
/// Roles with a reporting channel (`channels_for` in cases.rs).
const REPORTERS: &[Role] = &[
    CityOperator,
    DistrictOperator,
    StreetOperator,
    Inspector,
    HotlineOperator,
    CommunityWorker,
    Volunteer,
    Citizen,
];

/// Every case command but `rate` (refused on this route for everyone: ratings have their own):
/// its name, the state its case is prepared in, the roles that may issue it, and its body.
fn command_table() -> Vec<(&'static str, &'static str, &'static [Role], Value)> {
    const REGISTRARS: &[Role] = &[
        CityOperator,
        DistrictOperator,
        StreetOperator,
        HotlineOperator,
    ];
    const DISPATCHERS: &[Role] = &[Dispatcher, CityOperator, DistrictOperator, StreetOperator];
    const CHECKERS: &[Role] = &[Inspector, CityOperator, DistrictOperator, StreetOperator];
    const WHISTLERS: &[Role] = &[StreetOperator, DistrictOperator, CityOperator];
    const HANDLERS: &[Role] = &[Handler];
    vec![
        (
            "register",
            "reported",
            REGISTRARS,
            json!({ "command": "register", "category": "06010" }),
        ),
        (
            "reject",
            "reported",
            REGISTRARS,
            json!({ "command": "reject", "reason": "不属于城市管理事项" }),
        ),
        (
            "dispatch",
            "registered",
            DISPATCHERS,
            json!({ "command": "dispatch", "department": STREET_OFFICE }),
        ),
        (
            "accept",
            "dispatched",
            HANDLERS,
            json!({ "command": "accept" }),
        ),
        (
            "return",
            "dispatched",
            HANDLERS,
            json!({ "command": "return", "reason": "不属于本部门" }),
        ),
        (
            "start_handling",
            "accepted",
            HANDLERS,
            json!({ "command": "start_handling" }),
        ),
        (
            "report_handled",
            "handling",
            HANDLERS,
            json!({ "command": "report_handled" }),
        ),
        (
            "verify",
            "handled",
            CHECKERS,
            json!({ "command": "verify", "passed": true }),
        ),
        (
            "close",
            "verified",
            OPERATORS,
            json!({ "command": "close" }),
        ),
        (
            "request_postponement",
            "handling",
            HANDLERS,
            json!({ "command": "request_postponement", "extra": 1, "reason": "等待材料" }),
        ),
        // Refusing leaves no postponement behind, so every decider meets the first-postponement rule.
        (
            "decide_postponement",
            "postponement",
            DISPATCHERS,
            json!({ "command": "decide_postponement", "approve": false }),
        ),
        (
            "suspend",
            "dispatched",
            OPERATORS,
            json!({ "command": "suspend", "reason": "待专项整治" }),
        ),
        (
            "resume",
            "suspended",
            OPERATORS,
            json!({ "command": "resume" }),
        ),
        (
            "cancel",
            "dispatched",
            OPERATORS,
            json!({ "command": "cancel", "reason": "重复上报" }),
        ),
        (
            "reopen",
            "closed",
            OPERATORS,
            json!({ "command": "reopen", "reason": "问题复发" }),
        ),
        (
            "whistle",
            "dispatched",
            WHISTLERS,
            json!({ "command": "whistle", "lead": STREET_OFFICE, "departments": [STREET_OFFICE, GREENING] }),
        ),
        (
            "report_for_duty",
            "whistled",
            HANDLERS,
            json!({ "command": "report_for_duty" }),
        ),
    ]
}

/// What a caller should get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// 2xx, or a refusal the row lists for the resource's state (409 on a case moved on).
    Allow,
    /// 403: the role may not do this.
    Deny,
    /// 404: the caller may not even know the resource exists.
    Hide,
    /// 401: no credentials.
    Unauth,
}

impl Expect {
    /// How the policy table shows it.
    fn label(self) -> &'static str {
        match self {
            Expect::Allow => "ok",
            Expect::Deny => "403",
            Expect::Hide => "404",
            Expect::Unauth => "401",
        }
    }

    /// The statuses it stands for on a row that lets callers through with `ok`.
    fn statuses(self, ok: &[u16]) -> String {
        match self {
            Expect::Allow => ok.iter().map(u16::to_string).collect::<Vec<_>>().join("/"),
            other => other.label().to_owned(),
        }
    }
}

/// Who may call an endpoint.
#[derive(Debug, Clone, Copy)]
enum Policy {
    /// Anyone, with or without credentials.
    Public,
    /// Any authenticated caller.
    Authenticated,
    /// Authenticated callers of these roles, whatever their territory; 403 for others.
    Roles(&'static [Role]),
    /// Whoever may see the row's case; 404 for others.
    SeeCase,
    /// Nobody authenticated sees it (a photo someone else uploaded and attached to nothing).
    Nobody,
    /// The role first (403), then whoever may see the row's case (404): reporters' personal
    /// data, a case's audit trail.
    RoleThenCase(&'static [Role]),
    /// A case command: visibility (404), then the command's roles (403); a handler acts only
    /// on its department's case, or reports for duty where its department is summoned.
    Command { roles: &'static [Role], duty: bool },
    /// A report: roles with a channel, at a point inside their territory (403 otherwise).
    Intake,
    /// A rating: visibility (404); a citizen only their own report, and only raters (403).
    Rating,
    /// Evaluation reads: staff roles (403 otherwise) within their territory (the row's scope:
    /// the city or the main street); a handler reads only their department's city-wide card.
    Evaluation { city: bool },
}

/// `READERS` of the evaluation endpoints.
const EVALUATION_READERS: &[Role] = &[
    CityOperator,
    DistrictOperator,
    StreetOperator,
    Dispatcher,
    Handler,
    Inspector,
    HotlineOperator,
    CommunityWorker,
    Auditor,
    Admin,
];

/// Who may set goal clusters.
const GOAL_SETTERS: &[Role] = &[CityOperator, Admin];

/// What the expected outcome depends on, for one caller and one row.
#[derive(Debug, Default, Clone, Copy)]
struct Facts {
    /// The caller may see the row's case (by the visibility rule above).
    sees: bool,
    /// The row's case is the caller's department's.
    assigned: bool,
    /// The caller's department is summoned to the row's case by a whistle.
    summoned: bool,
    /// The report the row rates is the caller's own.
    own_report: bool,
    /// The point the row reports at lies inside the caller's territory.
    covers_point: bool,
}

fn expect(policy: Policy, role: Option<Role>, f: Facts) -> Expect {
    let Some(role) = role else {
        return match policy {
            Policy::Public => Expect::Allow,
            _ => Expect::Unauth,
        };
    };
    let allow_if = |ok: bool, otherwise: Expect| if ok { Expect::Allow } else { otherwise };
    match policy {
        Policy::Public | Policy::Authenticated => Expect::Allow,
        Policy::Roles(roles) => allow_if(roles.contains(&role), Expect::Deny),
        Policy::SeeCase => allow_if(f.sees, Expect::Hide),
        Policy::Nobody => Expect::Hide,
        Policy::RoleThenCase(roles) if !roles.contains(&role) => Expect::Deny,
        Policy::RoleThenCase(_) => allow_if(f.sees, Expect::Hide),
        Policy::Command { .. } if !f.sees => Expect::Hide,
        Policy::Command { roles, .. } if !roles.contains(&role) => Expect::Deny,
        Policy::Command { duty, .. } if role == Handler => {
            allow_if(if duty { f.summoned } else { f.assigned }, Expect::Deny)
        }
        Policy::Command { .. } => Expect::Allow,
        Policy::Intake => allow_if(REPORTERS.contains(&role) && f.covers_point, Expect::Deny),
        Policy::Rating if !f.sees => Expect::Hide,
        Policy::Rating if role == Citizen && !f.own_report => Expect::Deny,
        Policy::Rating => allow_if(RATERS.contains(&role), Expect::Deny),
        Policy::Evaluation { .. } if !EVALUATION_READERS.contains(&role) => Expect::Deny,
        Policy::Evaluation { city } if role == Handler => allow_if(city, Expect::Deny),
        Policy::Evaluation { .. } => allow_if(f.covers_point, Expect::Deny),
    }
}

/// Findings this test reports rather than enforces (issue #5's report names them): on these
/// rows, answers that disagree with the policy or show what the caller may not see are listed
/// as known instead of failing. A row listed here that stops disagreeing fails the test, so the
/// list stays true: when a gap is closed, drop it here.
const KNOWN_GAPS: &[(&str, &str)] = &[];

// ---------------------------------------------------------------------------------------------
// The world: a city, departments, callers, and cases in every state a command needs.

/// One caller of the matrix.
#[derive(Debug, Clone)]
struct Principal {
    /// `street_operator.in`, `street_operator.out`, `handler.other`, `citizen.other`, `anonymous`.
    name: String,
    /// The table's column: `so+`, `so-`, `ha~`, `ci~`, `anon`.
    column: String,
    role: Option<Role>,
    territory: Option<DivisionCode>,
    department: Option<String>,
    user_id: String,
    token: String,
}

impl Principal {
    fn actor(&self) -> Actor {
        Actor {
            id: format!("user:{}", self.user_id),
            role: self.role.expect("an authenticated caller"),
            territory: self.territory,
            department: self.department.clone(),
        }
    }

    fn actor_id(&self) -> String {
        format!("user:{}", self.user_id)
    }

    fn covers(&self, code: &DivisionCode) -> bool {
        self.role.is_some() && self.territory.is_none_or(|t| code.is_within(&t))
    }
}

fn abbreviation(role: Role) -> &'static str {
    match role {
        CityOperator => "co",
        DistrictOperator => "do",
        StreetOperator => "so",
        Dispatcher => "di",
        Handler => "ha",
        Inspector => "in",
        HotlineOperator => "ho",
        CommunityWorker => "cw",
        Volunteer => "vo",
        Citizen => "ci",
        Auditor => "au",
        Admin => "ad",
        System => "sy",
    }
}

/// A case seeded for the matrix.
#[derive(Debug, Clone)]
struct Seeded {
    id: String,
    /// The hotline desk's report (the first one), and its intake key.
    desk_report: String,
    desk_key: String,
    /// Reports by caller actor id.
    reports: HashMap<String, String>,
}

/// A report made through the use case.
struct Reported {
    case: Case,
    report_id: String,
    intake_key: String,
}

/// Strings that must not reach callers who may not see their case.
#[derive(Debug, Clone)]
struct Marker {
    case: String,
    what: &'static str,
    /// A reporter's personal data (only `GET /cases/{id}/reporters` may show it).
    personal: bool,
}

#[derive(Debug, Default)]
struct Registry {
    /// Case id → the actors who reported it.
    submitters: HashMap<String, HashSet<String>>,
    /// Token → whose it is. Tokens are what `tokens()` cuts an answer into.
    markers: HashMap<String, Marker>,
}

/// Cuts text into tokens of ASCII letters, digits and '-' (ids, markers, personal data).
fn tokens(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|t| t.len() >= 6)
}

/// A reporter whose every field is a token `pii{n}{field}`.
fn pii(n: u32) -> (Reporter, Vec<String>) {
    let token = |field: char| format!("pii{n:04}{field}");
    let reporter = Reporter {
        name: Some(format!("报告人{}", token('n'))),
        phone: Some(token('p')),
        email: Some(format!("{}@example.test", token('e'))),
        account: Some(token('a')),
        device: Some(token('d')),
    };
    (reporter, "npead".chars().map(token).collect())
}

fn png() -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend_from_slice(&[0; 64]);
    bytes
}

/// The body of a request.
#[derive(Debug, Clone)]
enum Payload {
    Nothing,
    Json(Value),
    Bytes(&'static str, Vec<u8>),
}

/// One request of a row.
#[derive(Debug, Clone)]
struct Req {
    method: &'static str,
    uri: String,
    payload: Payload,
    /// The personal data a report sends, as tokens (recorded once the report is stored).
    sends: Vec<String>,
}

fn get(uri: impl Into<String>) -> Req {
    Req {
        method: "GET",
        uri: uri.into(),
        payload: Payload::Nothing,
        sends: Vec::new(),
    }
}

fn delete(uri: impl Into<String>) -> Req {
    Req {
        method: "DELETE",
        ..get(uri)
    }
}

fn send_json(method: &'static str, uri: impl Into<String>, body: Value) -> Req {
    Req {
        method,
        payload: Payload::Json(body),
        ..get(uri)
    }
}

/// How a request authenticates.
#[derive(Debug, Clone, Copy)]
enum Auth<'a> {
    Anonymous,
    Bearer(&'a str),
    Session {
        cookie: &'a str,
        csrf: Option<&'a str>,
    },
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
    json: Value,
}

struct World {
    app: axum::Router,
    state: AppState,
    principals: Vec<Principal>,
    /// A point inside `STREET`, `OTHER_STREET` and `OTHER_DISTRICT_STREET`.
    points: [(f64, f64); 3],
    /// The unit grid at the first point.
    grid: String,
    zone_type: String,
    /// Categories not used yet: every seeded case gets its own, so reports never merge across.
    categories: Mutex<Vec<String>>,
    cases: BTreeMap<String, Seeded>,
    /// The categories of the matrix's own reports, and of the replayed intake key's.
    intake_category: String,
    replay_category: String,
    registry: Mutex<Registry>,
    counter: AtomicU32,
    /// The hotline desk that reports the seeded cases.
    desk: Actor,
    /// Who writes the setup (departments, rules, users), and the operator and street-office
    /// handler who walk the seeded cases to their states.
    setup: jz_app::city::Actor,
    operator: Actor,
    handler: Actor,
    /// A citizen with a console login (`someone`, `PASSWORD`) who owns the matrix's API keys.
    someone: String,
    /// Per caller: a user, a key and a rule to revoke or remove, and a photo of their own.
    victims: HashMap<String, String>,
    keys: HashMap<String, String>,
    rules: HashMap<String, String>,
    photos: HashMap<String, String>,
    /// A photo the desk uploaded and attached to nothing, and one per caller.
    stranger_photo: String,
    stranger_photos: HashMap<String, String>,
    /// A photo attached to the main case.
    case_photo: String,
    _db: jz_testkit::TestDb,
}

/// The callers: every role inside and outside the main case's territory, a handler of another
/// department inside it, a citizen of the whole city who reported none of the cases, and
/// anonymous. Users are created for them later.
fn principal_specs() -> Vec<Principal> {
    let code = |c: &str| DivisionCode::parse(c).unwrap();
    let spec =
        |name: String, column: String, role, territory: Option<&str>, department: Option<&str>| {
            Principal {
                name,
                column,
                role,
                territory: territory.map(code),
                department: department.map(str::to_owned),
                user_id: "nobody".into(),
                token: String::new(),
            }
        };
    let mut specs = Vec::new();
    for role in ROLES {
        let (inside, outside) = match role {
            CityOperator => (None, Some(OTHER_DISTRICT)),
            DistrictOperator => (Some(DISTRICT), Some(OTHER_DISTRICT)),
            _ => (Some(STREET), Some(OTHER_STREET)),
        };
        let department = (role == Handler).then_some(STREET_OFFICE);
        let short = abbreviation(role);
        specs.push(spec(
            format!("{role}.in"),
            format!("{short}+"),
            Some(role),
            inside,
            department,
        ));
        specs.push(spec(
            format!("{role}.out"),
            format!("{short}-"),
            Some(role),
            outside,
            department,
        ));
    }
    specs.push(spec(
        "handler.other".into(),
        "ha~".into(),
        Some(Handler),
        Some(STREET),
        Some(GREENING),
    ));
    specs.push(spec(
        "citizen.other".into(),
        "ci~".into(),
        Some(Citizen),
        None,
        None,
    ));
    specs.push(spec("anonymous".into(), "anon".into(), None, None, None));
    specs
}

impl World {
    async fn new() -> World {
        let db = jz_testkit::TestDb::sqlite();
        let store = db.open().await;
        let setup = jz_app::city::Actor {
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
            setup.clone(),
            Box::new(|_: Stage, _, _| {}),
        )
        .await
        .unwrap();
        jz_app::zones::seed_zone_types(&store, &setup)
            .await
            .unwrap();
        let city = std::sync::Arc::new(SharedCity::new(
            jz_app::city::load_model(&store).await.unwrap(),
        ));
        let mut state = AppState::open(store.clone(), city).await.unwrap();
        // The matrix sends a few thousand requests from one (unknown) address; the limit has
        // its own test.
        state.limiter = std::sync::Arc::new(jz_http::limit::IpLimiter::new(0));

        // A point well inside each street.
        let model = state.city.current();
        let mut by_street: HashMap<String, Vec<(f64, f64)>> = HashMap::new();
        for i in 1..80 {
            for j in 1..40 {
                let (lon, lat) = (120.0 + f64::from(i) * 0.0005, 30.0 + f64::from(j) * 0.0005);
                if let Ok(located) = model.locate(lon, lat, Datum::Wgs84)
                    && let Some(street) = located.at(DivisionLevel::Street)
                {
                    by_street
                        .entry(street.code.as_str().to_owned())
                        .or_default()
                        .push((lon, lat));
                }
            }
        }
        let middle = |street: &str| {
            let points = &by_street[street];
            let n = points.len() as f64;
            let (cx, cy) = points
                .iter()
                .fold((0.0, 0.0), |(x, y), p| (x + p.0 / n, y + p.1 / n));
            *points
                .iter()
                .min_by(|a, b| {
                    let d = |p: &(f64, f64)| (p.0 - cx).powi(2) + (p.1 - cy).powi(2);
                    d(a).total_cmp(&d(b))
                })
                .unwrap()
        };
        let points = [
            middle(STREET),
            middle(OTHER_STREET),
            middle(OTHER_DISTRICT_STREET),
        ];
        let located = model
            .locate(points[0].0, points[0].1, Datum::Wgs84)
            .unwrap();
        let grid = located.grid.expect("the street's point lies in a grid");
        assert_eq!(
            located.at(DivisionLevel::Community).unwrap().code.as_str(),
            "330102001001"
        );
        let zone_type = jz_app::zones::zone_types(&store).await.unwrap()[0]
            .code
            .clone();
        jz_app::zones::create_zone(
            &store,
            "matrix-zone",
            "Matrix zone",
            &zone_type,
            jz_app::zones::ZoneArea::Grids(vec![grid]),
            None,
            &setup,
        )
        .await
        .unwrap();

        // Departments and the rule routing every case of the street to its office.
        let code = |c: &str| DivisionCode::parse(c).unwrap();
        for (id, name, kind, level, division) in [
            (
                STREET_OFFICE,
                "一街道办",
                DepartmentKind::StreetOffice,
                DivisionLevel::Street,
                STREET,
            ),
            (
                GREENING,
                "绿化局",
                DepartmentKind::Bureau,
                DivisionLevel::District,
                DISTRICT,
            ),
        ] {
            config::put_department(
                &store,
                &state.cases.config,
                &setup,
                config::department(id, name, kind, level, code(division)),
            )
            .await
            .unwrap();
        }
        config::add_rule(
            &store,
            &state.cases.config,
            &setup,
            ResponsibilityRule {
                id: "everything".into(),
                category: "*".parse().unwrap(),
                territory: Territory::Division(code(STREET)),
                level: DivisionLevel::Street,
                department: STREET_OFFICE.into(),
                priority: 1,
                fallback: false,
            },
        )
        .await
        .unwrap();

        // The callers.
        let mut principals = principal_specs();
        for p in &mut principals {
            if let Some(role) = p.role {
                let (user, token) = jz_app::cases::users::create_user(
                    &store,
                    &setup,
                    &p.name,
                    role,
                    p.territory,
                    p.department.clone(),
                )
                .await
                .unwrap();
                (p.user_id, p.token) = (user.id, token);
            }
        }
        let (desk, _) = jz_app::cases::users::create_user(
            &store,
            &setup,
            "hotline desk",
            HotlineOperator,
            None,
            None,
        )
        .await
        .unwrap();
        let (someone, _) =
            jz_app::cases::users::create_user(&store, &setup, "someone", Citizen, None, None)
                .await
                .unwrap();
        jz_app::cases::sessions::set_password(&store, &setup, &someone.id, "someone", PASSWORD)
            .await
            .unwrap();

        let mut categories: Vec<String> = state
            .cases
            .config
            .current()
            .categories
            .values()
            .filter(|c| c.active && c.code != "06010")
            .map(|c| c.code.clone())
            .collect();
        categories.sort();
        categories.reverse();
        let intake_category = categories.pop().unwrap();
        let replay_category = categories.pop().unwrap();

        let mut world = World {
            app: jz_http::router(state.clone()),
            state,
            principals,
            points,
            grid: grid.as_str().to_owned(),
            zone_type,
            categories: Mutex::new(categories),
            cases: BTreeMap::new(),
            intake_category,
            replay_category,
            registry: Mutex::default(),
            counter: AtomicU32::new(0),
            desk: desk.actor(),
            setup,
            operator: Actor {
                id: "user:setup-operator".into(),
                role: CityOperator,
                territory: None,
                department: None,
            },
            handler: Actor {
                id: "user:setup-handler".into(),
                role: Handler,
                territory: None,
                department: Some(STREET_OFFICE.into()),
            },
            someone: someone.id,
            victims: HashMap::new(),
            keys: HashMap::new(),
            rules: HashMap::new(),
            photos: HashMap::new(),
            stranger_photo: String::new(),
            stranger_photos: HashMap::new(),
            case_photo: String::new(),
            _db: db,
        };

        // The main case: dispatched to the street office, with a photo, reported by the desk
        // and by the citizen, volunteer and community worker of the street.
        let photo = world.upload(&world.desk.clone()).await;
        let main = world.seed(0, true, vec![photo.clone()]).await;
        world.register_marker(&photo, &main.id, "photo id", false);
        world.case_photo = photo;
        world.cases.insert("main".into(), main);
        // One case in the other street and one in the other district.
        let other_street = world.seed(1, false, Vec::new()).await;
        world.cases.insert("other street".into(), other_street);
        let other_district = world.seed(2, false, Vec::new()).await;
        world.cases.insert("other district".into(), other_district);
        world
    }

    fn principal(&self, name: &str) -> &Principal {
        self.principals
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no caller {name}"))
    }

    fn next(&self) -> u32 {
        self.counter.fetch_add(1, Ordering::Relaxed) + 1
    }

    fn register_marker(&self, token: &str, case: &str, what: &'static str, personal: bool) {
        self.registry.lock().unwrap().markers.insert(
            token.to_owned(),
            Marker {
                case: case.to_owned(),
                what,
                personal,
            },
        );
    }

    /// Records a stored report: its case, who sent it, and its tokens.
    fn register_report(
        &self,
        case: &str,
        report: &str,
        submitter: &str,
        n: u32,
        personal: &[String],
    ) {
        self.register_marker(case, case, "case id", false);
        self.register_marker(report, case, "report id", false);
        self.register_marker(&format!("mkr{n:04}"), case, "description", false);
        for token in personal {
            self.register_marker(token, case, "personal data", true);
        }
        self.registry
            .lock()
            .unwrap()
            .submitters
            .entry(case.to_owned())
            .or_default()
            .insert(submitter.to_owned());
    }

    async fn upload(&self, actor: &Actor) -> String {
        self.state
            .cases
            .upload_photo(actor, Some("image/png"), png(), "test", now_us())
            .await
            .unwrap()
    }

    /// A report through the use case (not over HTTP), recorded in the registry.
    async fn report(
        &self,
        actor: &Actor,
        channel: Channel,
        point: (f64, f64),
        category: Option<&str>,
        photos: Vec<String>,
    ) -> Reported {
        let n = self.next();
        let (reporter, personal) = pii(n);
        let description = match category {
            Some(_) => format!("mkr{n:04} 人行道破损，请尽快修复"),
            // Nothing the classifier is sure of: the case waits to be registered.
            None => format!("mkr{n:04} zq"),
        };
        let result = self
            .state
            .cases
            .intake(
                ReportInput {
                    channel,
                    description,
                    lon: point.0,
                    lat: point.1,
                    datum: Datum::Wgs84,
                    address: None,
                    category: category.map(str::to_owned),
                    urgency: None,
                    reporter,
                    intake_key: Some(format!("matrix-key-{n:04}")),
                    photos,
                },
                actor,
                "test",
                now_us(),
            )
            .await
            .unwrap();
        self.register_report(&result.case.id, &result.report_id, &actor.id, n, &personal);
        Reported {
            case: result.case,
            report_id: result.report_id,
            intake_key: format!("matrix-key-{n:04}"),
        }
    }

    /// A case at `points[at]`: reported by the desk (or, uncategorised, by the street's citizen)
    /// and, when `linked`, also by the street's citizen, volunteer and community worker.
    async fn seed(&self, at: usize, linked: bool, photos: Vec<String>) -> Seeded {
        let category = self.categories.lock().unwrap().pop().unwrap();
        let first = self
            .report(
                &self.desk,
                Channel::Hotline,
                self.points[at],
                Some(&category),
                photos,
            )
            .await;
        let mut seeded = Seeded {
            id: first.case.id.clone(),
            desk_report: first.report_id.clone(),
            desk_key: first.intake_key.clone(),
            reports: HashMap::new(),
        };
        if linked {
            for name in ["citizen.in", "volunteer.in", "community_worker.in"] {
                let p = self.principal(name);
                let linked = self
                    .report(
                        &p.actor(),
                        Channel::Web,
                        self.points[at],
                        Some(&category),
                        Vec::new(),
                    )
                    .await;
                assert_eq!(linked.case.id, seeded.id, "{name}'s report joins the case");
                seeded.reports.insert(p.actor_id(), linked.report_id);
            }
        }
        seeded
    }

    /// A case waiting to be registered, reported by the street's citizen (uncategorised reports
    /// are never merged, so the citizen is its only reporter).
    async fn seed_reported(&self) -> Seeded {
        let citizen = self.principal("citizen.in").actor();
        let result = self
            .report(&citizen, Channel::Web, self.points[0], None, Vec::new())
            .await;
        assert_eq!(result.case.state, CaseState::Reported, "{:?}", result.case);
        Seeded {
            id: result.case.id.clone(),
            desk_report: result.report_id.clone(),
            desk_key: result.intake_key,
            reports: HashMap::from([(citizen.id, result.report_id)]),
        }
    }

    /// The case as it is now.
    async fn case(&self, id: &str) -> Case {
        self.state
            .cases
            .get(&Actor::system("matrix"), id)
            .await
            .unwrap()
    }

    /// Issues a command as a setup actor.
    async fn step(&self, id: &str, actor: &Actor, command: Value) {
        let version = self.case(id).await.version;
        let command: Command = serde_json::from_value(command).unwrap();
        self.state
            .cases
            .command(id, version, &command, actor, &Context::default(), now_us())
            .await
            .unwrap_or_else(|e| panic!("{command:?} on {id}: {e}"));
    }

    /// A case of the street in `state` (see `command_table`).
    async fn seed_in(&self, state: &str) -> Seeded {
        if state == "reported" {
            return self.seed_reported().await;
        }
        let case = self.seed(0, true, Vec::new()).await;
        let id = case.id.as_str();
        let (handler, operator) = (&self.handler, &self.operator);
        let walk: &[(&Actor, Value)] = match state {
            "dispatched" => &[],
            "registered" => &[(
                handler,
                json!({ "command": "return", "reason": "不属于本部门" }),
            )],
            "accepted" => &[(handler, json!({ "command": "accept" }))],
            "handling" => &[
                (handler, json!({ "command": "accept" })),
                (handler, json!({ "command": "start_handling" })),
            ],
            "postponement" => &[
                (handler, json!({ "command": "accept" })),
                (handler, json!({ "command": "start_handling" })),
                (
                    handler,
                    json!({ "command": "request_postponement", "extra": 1, "reason": "等待材料" }),
                ),
            ],
            "handled" | "verified" | "closed" => &[
                (handler, json!({ "command": "accept" })),
                (handler, json!({ "command": "start_handling" })),
                (handler, json!({ "command": "report_handled" })),
            ],
            "suspended" => &[(
                operator,
                json!({ "command": "suspend", "reason": "待专项整治" }),
            )],
            "whistled" => &[(
                operator,
                json!({ "command": "whistle", "lead": STREET_OFFICE, "departments": [STREET_OFFICE, GREENING] }),
            )],
            other => panic!("no way to {other}"),
        };
        for (actor, command) in walk {
            self.step(id, actor, command.clone()).await;
        }
        if matches!(state, "verified" | "closed") {
            self.step(id, operator, json!({ "command": "verify", "passed": true }))
                .await;
        }
        if state == "closed" {
            self.step(id, operator, json!({ "command": "close" })).await;
        }
        case
    }

    /// What the matrix needs beyond the world: a case per command and rating row, and per
    /// caller a user, a key and a rule to revoke or remove, and a photo of their own.
    async fn prepare_matrix(&mut self) {
        for (name, state, _, _) in command_table() {
            let case = self.seed_in(state).await;
            self.cases.insert(format!("command {name}"), case);
        }
        for key in ["rating the desk's report", "rating one's own report"] {
            let case = self.seed_in("closed").await;
            self.cases.insert(key.into(), case);
        }
        let store = self.state.store.clone();
        let street = DivisionCode::parse(OTHER_DISTRICT_STREET).unwrap();
        for p in self.principals.clone() {
            let (victim, _) = jz_app::cases::users::create_user(
                &store,
                &self.setup,
                &format!("victim of {}", p.name),
                Citizen,
                None,
                None,
            )
            .await
            .unwrap();
            self.victims.insert(p.name.clone(), victim.id);
            let (key, _) = jz_app::cases::keys::create_api_key(
                &store,
                &self.setup,
                &self.someone,
                &format!("key of {}", p.name),
                &[Scope::Api],
                600,
            )
            .await
            .unwrap();
            self.keys.insert(p.name.clone(), key.id);
            let rule = config::add_rule(
                &store,
                &self.state.cases.config,
                &self.setup,
                ResponsibilityRule {
                    id: format!("rule-of-{}", p.name.replace('.', "-")),
                    category: "*".parse().unwrap(),
                    territory: Territory::Division(street),
                    level: DivisionLevel::Street,
                    department: GREENING.into(),
                    priority: 0,
                    fallback: true,
                },
            )
            .await
            .unwrap();
            self.rules.insert(p.name.clone(), rule.id);
            if p.role.is_some() {
                let photo = self.upload(&p.actor()).await;
                self.photos.insert(p.name.clone(), photo);
            }
            let photo = self.upload(&self.desk.clone()).await;
            self.stranger_photos.insert(p.name.clone(), photo);
        }
        self.stranger_photo = self.upload(&self.desk.clone()).await;
    }

    /// Sends a request through the router.
    async fn send(&self, req: &Req, auth: Auth<'_>) -> Answer {
        let mut request = Request::builder().method(req.method).uri(&req.uri);
        match auth {
            Auth::Anonymous => {}
            Auth::Bearer(token) => {
                request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
            }
            Auth::Session { cookie, csrf } => {
                request = request.header(
                    header::COOKIE,
                    format!("{}={cookie}", jz_http::auth::SESSION_COOKIE),
                );
                if let Some(csrf) = csrf {
                    request = request.header(jz_http::auth::CSRF_HEADER, csrf);
                }
            }
        }
        let body = match &req.payload {
            Payload::Nothing => Body::empty(),
            Payload::Json(value) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(value.to_string())
            }
            Payload::Bytes(content_type, bytes) => {
                request = request.header(header::CONTENT_TYPE, *content_type);
                Body::from(bytes.clone())
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
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            headers,
            text: String::from_utf8_lossy(&bytes).into_owned(),
            json: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// Whether `p` may see `case`, by the rule written in this file's header.
    fn sees(&self, p: &Principal, case: &Case) -> bool {
        let Some(role) = p.role else {
            return false;
        };
        if !p.covers(&case.place.community) {
            return false;
        }
        match role {
            Handler => assigned(p, case) || summoned(p, case),
            Citizen | Volunteer | CommunityWorker => self
                .registry
                .lock()
                .unwrap()
                .submitters
                .get(&case.id)
                .is_some_and(|s| s.contains(&p.actor_id())),
            _ => true,
        }
    }

    /// Every way `answer` shows what `p` may not see. Personal data is allowed only where
    /// `personal_of` names the case whose reporters the caller may read.
    /// The row's case counts as visible when the caller saw it before the request (`saw`): the
    /// answer to a command may show the case it just left, e.g. to the handler who returned it.
    async fn leaks(
        &self,
        p: &Principal,
        req: &Req,
        answer: &Answer,
        personal_of: Option<&str>,
        saw: Option<&str>,
    ) -> Vec<String> {
        let hits: Vec<(String, Marker)> = {
            let registry = self.registry.lock().unwrap();
            let mut seen = HashSet::new();
            tokens(&answer.text)
                .filter(|t| seen.insert(*t))
                .filter_map(|t| registry.markers.get(t).map(|m| (t.to_owned(), m.clone())))
                .collect()
        };
        // What the request itself names (its path, its body) may come back, in an error message.
        let body = match &req.payload {
            Payload::Json(value) => value.to_string(),
            _ => String::new(),
        };
        let named: HashSet<&str> = tokens(&req.uri).chain(tokens(&body)).collect();
        let mut leaks = Vec::new();
        let mut visible: HashMap<String, bool> = saw
            .map(|case| (case.to_owned(), true))
            .into_iter()
            .collect();
        for (token, marker) in hits {
            if named.contains(token.as_str()) {
                continue;
            }
            if marker.personal {
                if personal_of != Some(marker.case.as_str()) {
                    leaks.push(format!(
                        "personal data of case {} ({token})",
                        short(&marker.case)
                    ));
                }
                continue;
            }
            let sees = match visible.get(&marker.case) {
                Some(sees) => *sees,
                None => {
                    let case = self.case(&marker.case).await;
                    let sees = self.sees(p, &case);
                    visible.insert(marker.case.clone(), sees);
                    sees
                }
            };
            if !sees {
                leaks.push(format!(
                    "{} of case {} it may not see",
                    marker.what,
                    short(&marker.case)
                ));
            }
        }
        leaks
    }

    /// Records what an answer stored: a report (its case, reporter and tokens).
    fn record(&self, p: &Principal, req: &Req, answer: &Answer) {
        let stored = answer.status.is_success()
            && answer.json["report_id"].is_string()
            && answer.json["outcome"] != "replayed";
        if !stored {
            return;
        }
        let case = answer.json["case"]["id"].as_str().unwrap();
        let report = answer.json["report_id"].as_str().unwrap();
        let n: u32 = req.sends[0][3..7].parse().unwrap();
        self.register_report(case, report, &p.actor_id(), n, &req.sends);
    }
}

fn assigned(p: &Principal, case: &Case) -> bool {
    p.department.is_some() && case.department == p.department
}

fn summoned(p: &Principal, case: &Case) -> bool {
    case.whistle.as_ref().is_some_and(|w| {
        w.calls
            .iter()
            .any(|c| Some(&c.department) == p.department.as_ref())
    })
}

fn short(id: &str) -> &str {
    &id[id.len().saturating_sub(8)..]
}

// ---------------------------------------------------------------------------------------------
// The endpoints.

type Build = Box<dyn Fn(&World, &Principal, Option<&Case>) -> Req>;

/// One row of the matrix: an endpoint with a request valid for it.
struct Endpoint {
    name: String,
    policy: Policy,
    /// The statuses an allowed caller may get; some allowed caller must get the first.
    ok: &'static [u16],
    /// The seeded case the request touches (its visibility decides 404s).
    case: Option<String>,
    /// Where the row reports (intake rows).
    reports_at: Option<ReportAt>,
    /// The row reads this case's reporters' personal data (allowed where the policy allows).
    personal: bool,
    /// The rating rows: which report is rated (the caller's own when it has one).
    own_report: bool,
    build: Build,
}

fn row(
    name: impl Into<String>,
    policy: Policy,
    ok: &'static [u16],
    build: impl Fn(&World, &Principal, Option<&Case>) -> Req + 'static,
) -> Endpoint {
    Endpoint {
        name: name.into(),
        policy,
        ok,
        case: None,
        reports_at: None,
        personal: false,
        own_report: false,
        build: Box::new(build),
    }
}

/// Where an intake row reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReportAt {
    /// At the main case's street.
    Street,
    /// At a point inside the caller's own territory.
    Home,
    /// The whole city (evaluation rows): covered by callers without a territory.
    City,
}

impl Endpoint {
    fn on(mut self, case: &str) -> Endpoint {
        self.case = Some(case.to_owned());
        self
    }

    fn reporting(mut self, at: ReportAt) -> Endpoint {
        self.reports_at = Some(at);
        self
    }
}

/// The point a caller reports at when the row wants one inside its territory.
fn home(w: &World, p: &Principal) -> (f64, f64) {
    match p.territory.map(|t| t.as_str().to_owned()).as_deref() {
        Some(OTHER_STREET) => w.points[1],
        Some(OTHER_DISTRICT) => w.points[2],
        _ => w.points[0],
    }
}

fn endpoints() -> Vec<Endpoint> {
    use Policy::*;
    let mut rows = vec![
        // The service and the city model: public.
        row("GET /health", Public, &[200], |_, _, _| {
            get("/api/v1/health")
        }),
        row("GET /openapi.json", Public, &[200], |_, _, _| {
            get("/api/v1/openapi.json")
        }),
        row("GET /divisions", Public, &[200], |_, _, _| {
            get("/api/v1/divisions")
        }),
        row("GET /divisions/{code}", Public, &[200], |_, _, _| {
            get(format!("/api/v1/divisions/{DISTRICT}"))
        }),
        row("GET /grids/{code}", Public, &[200], |w, _, _| {
            get(format!("/api/v1/grids/{}", w.grid))
        }),
        row("GET /locate", Public, &[200], |w, _, _| {
            get(format!(
                "/api/v1/locate?lon={}&lat={}",
                w.points[0].0, w.points[0].1
            ))
        }),
        row("POST /locate", Public, &[200], |w, _, _| {
            let [a, b, c] = w.points;
            send_json(
                "POST",
                "/api/v1/locate",
                json!({ "points": [
                { "lon": a.0, "lat": a.1 }, { "lon": b.0, "lat": b.1 }, { "lon": c.0, "lat": c.1 }
            ] }),
            )
        }),
        row("GET /layers/{level}", Public, &[200], |_, _, _| {
            get("/api/v1/layers/community?zoom=12")
        }),
        row("GET /indicators", Public, &[200], |_, _, _| {
            get("/api/v1/indicators")
        }),
        row("GET /zone-types", Public, &[200], |_, _, _| {
            get("/api/v1/zone-types")
        }),
        row("GET /zones", Public, &[200], |_, _, _| get("/api/v1/zones")),
        row("GET /zones/{id}", Public, &[200], |_, _, _| {
            get("/api/v1/zones/matrix-zone")
        }),
        row("GET /goal-history", Public, &[200], |w, _, _| {
            get(format!(
                "/api/v1/goal-history?subject=zone_type:{}",
                w.zone_type
            ))
        }),
        row(
            "PUT /zone-types/{code}/goals",
            Roles(GOAL_SETTERS),
            &[200],
            |w, _, _| {
                send_json(
                    "PUT",
                    format!("/api/v1/zone-types/{}/goals", w.zone_type),
                    json!({ "targets": [
                        { "indicator": "on_time_closure_rate", "weight": 0.5, "target": 0.9 },
                        { "indicator": "satisfaction_rate", "weight": 0.5, "target": 0.9 }
                    ] }),
                )
            },
        ),
        row(
            "PUT /zones/{id}/goals",
            Roles(GOAL_SETTERS),
            &[200],
            |_, _, _| {
                send_json(
                    "PUT",
                    "/api/v1/zones/matrix-zone/goals",
                    json!({ "targets": null }),
                )
            },
        ),
        // Evaluation: staff within their territory; a handler their department city-wide.
        Endpoint {
            reports_at: Some(ReportAt::City),
            ..row(
                "GET /scorecards (city)",
                Evaluation { city: true },
                &[200],
                |_, _, _| get("/api/v1/scorecards?scope=city"),
            )
        },
        Endpoint {
            reports_at: Some(ReportAt::Street),
            ..row(
                "GET /scorecards (street)",
                Evaluation { city: false },
                &[200],
                |_, _, _| get(format!("/api/v1/scorecards?scope={STREET}")),
            )
        },
        Endpoint {
            reports_at: Some(ReportAt::Street),
            ..row(
                "GET /scorecards/ranking",
                Evaluation { city: false },
                &[200],
                |_, _, _| {
                    get(format!(
                        "/api/v1/scorecards/ranking?level=community&within={STREET}"
                    ))
                },
            )
        },
        Endpoint {
            reports_at: Some(ReportAt::Street),
            ..row(
                "GET /scorecards/trend",
                Evaluation { city: false },
                &[200],
                |_, _, _| get(format!("/api/v1/scorecards/trend?scope={STREET}")),
            )
        },
        // The rules: read by anyone, changed by admins.
        row("GET /categories", Public, &[200], |_, _, _| {
            get("/api/v1/categories")
        }),
        row("GET /categories/{code}", Public, &[200], |_, _, _| {
            get("/api/v1/categories/06010")
        }),
        row("GET /departments", Public, &[200], |_, _, _| {
            get("/api/v1/departments")
        }),
        row("GET /responsibility-rules", Public, &[200], |_, _, _| {
            get("/api/v1/responsibility-rules")
        }),
        row("GET /calendar/days", Public, &[200], |_, _, _| {
            get("/api/v1/calendar/days")
        }),
        row("GET /settings/intake", Public, &[200], |_, _, _| {
            get("/api/v1/settings/intake")
        }),
        row("POST /categories", Roles(ADMINS), &[201, 409], |w, _, _| {
            let mut category =
                serde_json::to_value(w.state.cases.config.current().category("06010").unwrap())
                    .unwrap();
            category["code"] = json!("06901");
            category["name"] = json!("矩阵测试类");
            send_json("POST", "/api/v1/categories", category)
        }),
        row(
            "PUT /categories/{code}",
            Roles(ADMINS),
            &[200],
            |w, _, _| {
                let category = w
                    .state
                    .cases
                    .config
                    .current()
                    .category("06010")
                    .unwrap()
                    .clone();
                send_json(
                    "PUT",
                    "/api/v1/categories/06010",
                    serde_json::to_value(category).unwrap(),
                )
            },
        ),
        row(
            "PUT /departments/{id}",
            Roles(ADMINS),
            &[201, 200],
            |_, _, _| {
                send_json(
                    "PUT",
                    "/api/v1/departments/matrix-dept",
                    json!({
                        "id": "matrix-dept", "name": "Matrix bureau", "kind": "bureau",
                        "level": "district", "division": OTHER_DISTRICT, "active": true
                    }),
                )
            },
        ),
        row(
            "POST /responsibility-rules",
            Roles(ADMINS),
            &[201, 409],
            |_, _, _| {
                send_json(
                    "POST",
                    "/api/v1/responsibility-rules",
                    json!({
                        "id": "matrix-rule", "category": "06",
                        "territory": { "kind": "division", "id": OTHER_DISTRICT },
                        "level": "district", "department": GREENING, "priority": 0, "fallback": true
                    }),
                )
            },
        ),
        row(
            "DELETE /responsibility-rules/{id}",
            Roles(ADMINS),
            &[204],
            |w, p, _| delete(format!("/api/v1/responsibility-rules/{}", w.rules[&p.name])),
        ),
        row(
            "PUT /calendar/days/{date}",
            Roles(ADMINS),
            &[204],
            |_, _, _| {
                send_json(
                    "PUT",
                    "/api/v1/calendar/days/2031-01-02",
                    json!({ "kind": "holiday", "name": "矩阵日" }),
                )
            },
        ),
        row(
            "DELETE /calendar/days/{date}",
            Roles(ADMINS),
            &[204],
            |_, _, _| delete("/api/v1/calendar/days/2031-01-02"),
        ),
        row("PUT /settings/intake", Roles(ADMINS), &[200], |w, _, _| {
            let settings = w.state.cases.config.current().intake;
            send_json(
                "PUT",
                "/api/v1/settings/intake",
                serde_json::to_value(settings).unwrap(),
            )
        }),
        // Sessions, users, keys, the audit trail.
        row("POST /session", Public, &[200], |_, _, _| {
            send_json(
                "POST",
                "/api/v1/session",
                json!({ "login": "someone", "password": PASSWORD }),
            )
        }),
        row("GET /session", Authenticated, &[200], |_, _, _| {
            get("/api/v1/session")
        }),
        // A bearer caller has no session to close: 400 for every one of them.
        row("DELETE /session", Authenticated, &[400], |_, _, _| {
            delete("/api/v1/session")
        }),
        row("GET /users", Roles(ADMINS), &[200], |_, _, _| {
            get("/api/v1/users")
        }),
        row("POST /users", Roles(ADMINS), &[201], |_, p, _| {
            send_json(
                "POST",
                "/api/v1/users",
                json!({ "name": format!("added by {}", p.name), "role": "citizen" }),
            )
        }),
        row("DELETE /users/{id}", Roles(ADMINS), &[204], |w, p, _| {
            delete(format!("/api/v1/users/{}", w.victims[&p.name]))
        }),
        row(
            "PUT /users/{id}/password (another user)",
            Roles(ADMINS),
            &[204],
            |w, p, _| {
                send_json(
                    "PUT",
                    format!("/api/v1/users/{}/password", w.victims[&p.name]),
                    json!({ "login": format!("victim.{}", p.name), "password": PASSWORD }),
                )
            },
        ),
        row(
            "PUT /users/{id}/password (one's own)",
            Authenticated,
            &[204],
            |_, p, _| {
                send_json(
                    "PUT",
                    format!("/api/v1/users/{}/password", p.user_id),
                    json!({ "login": format!("self.{}", p.name), "password": PASSWORD }),
                )
            },
        ),
        row("GET /keys", Roles(ADMINS), &[200], |_, _, _| {
            get("/api/v1/keys")
        }),
        row("POST /keys", Roles(ADMINS), &[201], |w, p, _| {
            send_json(
                "POST",
                "/api/v1/keys",
                json!({
                    "user_id": w.someone, "name": format!("added by {}", p.name), "scopes": ["api"]
                }),
            )
        }),
        row("DELETE /keys/{id}", Roles(ADMINS), &[204], |w, p, _| {
            delete(format!("/api/v1/keys/{}", w.keys[&p.name]))
        }),
        row(
            "GET /audit (a case)",
            RoleThenCase(AUDIT_READERS),
            &[200],
            |_, _, case| {
                get(format!(
                    "/api/v1/audit?subject_kind=case&subject_id={}",
                    case.unwrap().id
                ))
            },
        )
        .on("main"),
        // Cases: intake, lists, one case, its reporters, photos.
        row("POST /classify", Authenticated, &[200], |_, _, _| {
            send_json(
                "POST",
                "/api/v1/classify",
                json!({ "text": "小区门口暴露垃圾没人清理" }),
            )
        }),
        row("POST /photos", Authenticated, &[201], |_, _, _| Req {
            method: "POST",
            payload: Payload::Bytes("image/png", png()),
            ..get("/api/v1/photos")
        }),
        row(
            "GET /photos/{id} (one's own, unattached)",
            Authenticated,
            &[200],
            |w, p, _| {
                get(format!(
                    "/api/v1/photos/{}",
                    w.photos.get(&p.name).unwrap_or(&w.stranger_photo)
                ))
            },
        ),
        row(
            "GET /photos/{id} (another's, unattached)",
            Nobody,
            &[200],
            |w, _, _| get(format!("/api/v1/photos/{}", w.stranger_photo)),
        ),
        row(
            "GET /photos/{id} (of a case)",
            SeeCase,
            &[200],
            |w, _, _| get(format!("/api/v1/photos/{}", w.case_photo)),
        )
        .on("main"),
        row("GET /cases", Authenticated, &[200], |_, _, _| {
            get("/api/v1/cases")
        }),
        row(
            "GET /cases?division=(the other district)",
            Authenticated,
            &[200],
            |_, _, _| get(format!("/api/v1/cases?division={}", &OTHER_DISTRICT[..6])),
        ),
        row("GET /cases/{id}", SeeCase, &[200], |_, _, case| {
            get(format!("/api/v1/cases/{}", case.unwrap().id))
        })
        .on("main"),
        Endpoint {
            personal: true,
            ..row(
                "GET /cases/{id}/reporters",
                RoleThenCase(REPORTER_READERS),
                &[200],
                |_, _, case| get(format!("/api/v1/cases/{}/reporters", case.unwrap().id)),
            )
            .on("main")
        },
        row("POST /reports", Intake, &[201], |w, p, _| {
            let n = w.next();
            let (reporter, personal) = pii(n);
            Req {
                sends: personal,
                ..send_json(
                    "POST",
                    "/api/v1/reports",
                    json!({
                        "description": format!("mkr{n:04} 路灯不亮"),
                        "category": w.intake_category,
                        "location": { "lon": w.points[0].0, "lat": w.points[0].1 },
                        "reporter": reporter,
                        "intake_key": format!("matrix-http-{}", p.name),
                    }),
                )
            }
        })
        .reporting(ReportAt::Street),
        // The desk's intake key of the main case, from a point inside the caller's territory: a
        // key is its submitter's, so anyone else gets 409 and nothing about the report.
        row(
            "POST /reports (someone's intake key)",
            Intake,
            &[409],
            |w, p, _| {
                let n = w.next();
                let (reporter, personal) = pii(n);
                let point = home(w, p);
                Req {
                    sends: personal,
                    ..send_json(
                        "POST",
                        "/api/v1/reports",
                        json!({
                            "description": format!("mkr{n:04} 井盖缺失"),
                            "category": w.replay_category,
                            "location": { "lon": point.0, "lat": point.1 },
                            "reporter": reporter,
                            "intake_key": w.cases["main"].desk_key,
                        }),
                    )
                }
            },
        )
        .reporting(ReportAt::Home),
        // Someone else's photo, attached to nothing: a reporter should not take it (400, as
        // for a photo of another case).
        row(
            "POST /reports (someone's unattached photo)",
            Intake,
            &[400],
            |w, p, _| {
                let n = w.next();
                let (reporter, personal) = pii(n);
                Req {
                    sends: personal,
                    ..send_json(
                        "POST",
                        "/api/v1/reports",
                        json!({
                            "description": format!("mkr{n:04} 路灯不亮"),
                            "category": w.intake_category,
                            "location": { "lon": w.points[0].0, "lat": w.points[0].1 },
                            "reporter": reporter,
                            "photos": [w.stranger_photos[&p.name]],
                        }),
                    )
                }
            },
        )
        .reporting(ReportAt::Street),
    ];
    for (name, _, roles, body) in command_table() {
        rows.push(
            row(
                format!("POST /cases/{{id}}/commands {name}"),
                Policy::Command {
                    roles,
                    duty: name == "report_for_duty",
                },
                &[200, 409],
                move |_, _, case| {
                    let case = case.unwrap();
                    let mut body = body.clone();
                    body["version"] = json!(case.version);
                    send_json("POST", format!("/api/v1/cases/{}/commands", case.id), body)
                },
            )
            .on(&format!("command {name}")),
        );
    }
    for (name, key, own) in [
        (
            "POST /reports/{id}/rating (the desk's report)",
            "rating the desk's report",
            false,
        ),
        (
            "POST /reports/{id}/rating (one's own report)",
            "rating one's own report",
            true,
        ),
    ] {
        rows.push(Endpoint {
            own_report: own,
            ..row(name, Rating, &[200, 409], move |w, p, _| {
                let case = &w.cases[key];
                let report = match own {
                    true => case.reports.get(&p.actor_id()).unwrap_or(&case.desk_report),
                    false => &case.desk_report,
                };
                send_json(
                    "POST",
                    format!("/api/v1/reports/{report}/rating"),
                    json!({ "rating": "satisfied", "comment": "谢谢" }),
                )
            })
            .on(key)
        });
    }
    rows
}

/// One disagreement between the policy and an answer.
struct Mismatch {
    endpoint: String,
    caller: String,
    expected: String,
    got: String,
    detail: String,
}

fn table_of(mismatches: &[Mismatch]) -> String {
    let mut out = String::new();
    let width = mismatches
        .iter()
        .map(|m| m.endpoint.chars().count())
        .max()
        .unwrap_or(8);
    let _ = writeln!(
        out,
        "{:width$}  {:22}  {:8}  {:8}  detail",
        "endpoint", "caller", "expected", "got"
    );
    for m in mismatches {
        let _ = writeln!(
            out,
            "{:width$}  {:22}  {:8}  {:8}  {}",
            m.endpoint,
            m.caller,
            m.expected,
            m.got,
            m.detail.chars().take(160).collect::<String>()
        );
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The tests.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_answers_every_role_inside_and_outside_its_territory_as_the_policy_says() {
    let started = std::time::Instant::now();
    let mut world = World::new().await;
    world.prepare_matrix().await;
    let w = &world;
    let endpoints = endpoints();
    let mut mismatches = Vec::new();
    let mut known = Vec::new();
    let mut grid = String::new();
    let mut requests = 0;
    let street = DivisionCode::parse(STREET).unwrap();
    let name_width = endpoints
        .iter()
        .map(|e| e.name.chars().count())
        .max()
        .unwrap();
    let _ = write!(grid, "{:name_width$}", "");
    for p in &w.principals {
        let _ = write!(grid, " {:>4}", p.column);
    }
    grid.push('\n');

    for endpoint in &endpoints {
        let seeded = endpoint.case.as_ref().map(|key| &w.cases[key]);
        let case = match seeded {
            Some(seeded) => Some(w.case(&seeded.id).await),
            None => None,
        };
        // The expectations, from the untouched resource.
        let expected: Vec<Expect> = w
            .principals
            .iter()
            .map(|p| {
                let facts = match &case {
                    Some(case) => Facts {
                        sees: w.sees(p, case),
                        assigned: assigned(p, case),
                        summoned: summoned(p, case),
                        own_report: endpoint.own_report
                            && seeded.unwrap().reports.contains_key(&p.actor_id()),
                        covers_point: false,
                    },
                    None => Facts {
                        covers_point: match endpoint.reports_at {
                            Some(ReportAt::Street) => p.covers(&street),
                            Some(ReportAt::Home) => p.role.is_some(),
                            Some(ReportAt::City) => p.role.is_some() && p.territory.is_none(),
                            None => false,
                        },
                        ..Facts::default()
                    },
                };
                expect(endpoint.policy, p.role, facts)
            })
            .collect();
        let _ = write!(grid, "{:name_width$}", endpoint.name);
        for e in &expected {
            let _ = write!(grid, " {:>4}", e.label());
        }
        grid.push('\n');

        // Refusals first, then the callers let through.
        let mut order: Vec<usize> = (0..w.principals.len()).collect();
        order.sort_by_key(|&i| expected[i] == Expect::Allow);
        let mut succeeded = false;
        let mut gap_shown = false;
        for i in order {
            let p = &w.principals[i];
            let case = match seeded {
                Some(seeded) => Some(w.case(&seeded.id).await),
                None => None,
            };
            let req = (endpoint.build)(w, p, case.as_ref());
            let saw = case
                .as_ref()
                .filter(|case| w.sees(p, case))
                .map(|case| case.id.clone());
            let auth = match p.role {
                Some(_) => Auth::Bearer(&p.token),
                None => Auth::Anonymous,
            };
            let answer = w.send(&req, auth).await;
            requests += 1;
            w.record(p, &req, &answer);
            let status = answer.status.as_u16();
            let got = match status {
                401 => Some(Expect::Unauth),
                403 => Some(Expect::Deny),
                404 => Some(Expect::Hide),
                s if endpoint.ok.contains(&s) => Some(Expect::Allow),
                _ => None,
            };
            succeeded |= got == Some(Expect::Allow) && status == endpoint.ok[0];
            let gap = KNOWN_GAPS.iter().find(|(row, _)| *row == endpoint.name);
            let mut mismatch = |got: String, detail: String| match gap {
                Some((_, finding)) => {
                    gap_shown = true;
                    known.push(format!(
                        "{} by {}: expected {}, got {got}: {} ({finding})",
                        endpoint.name,
                        p.name,
                        expected[i].statuses(endpoint.ok),
                        detail.chars().take(100).collect::<String>()
                    ));
                }
                None => mismatches.push(Mismatch {
                    endpoint: endpoint.name.clone(),
                    caller: p.name.clone(),
                    expected: expected[i].statuses(endpoint.ok),
                    got,
                    detail,
                }),
            };
            if got != Some(expected[i]) {
                mismatch(status.to_string(), answer.text.clone());
            }
            let personal_of = (endpoint.personal && expected[i] == Expect::Allow)
                .then(|| seeded.unwrap().id.as_str());
            for leak in w.leaks(p, &req, &answer, personal_of, saw.as_deref()).await {
                mismatch(format!("{status} leak"), leak);
            }
            if let Some(case) = personal_of.filter(|_| answer.status.is_success()) {
                // The positive control: the reporters' answer does show their personal data.
                let registry = w.registry.lock().unwrap();
                let expected_tokens = registry
                    .markers
                    .iter()
                    .filter(|(_, m)| m.personal && m.case == case)
                    .count();
                let shown = tokens(&answer.text)
                    .filter(|t| registry.markers.get(*t).is_some_and(|m| m.personal))
                    .count();
                assert_eq!(shown, expected_tokens, "{}: {}", endpoint.name, answer.text);
            }
        }
        let gap = KNOWN_GAPS.iter().any(|(row, _)| *row == endpoint.name);
        if expected.contains(&Expect::Allow) && !succeeded && !gap {
            mismatches.push(Mismatch {
                endpoint: endpoint.name.clone(),
                caller: "(every allowed caller)".into(),
                expected: endpoint.ok[0].to_string(),
                got: "never".into(),
                detail: "no allowed caller got the row's success: is its request valid?".into(),
            });
        }
        if gap && !gap_shown {
            mismatches.push(Mismatch {
                endpoint: endpoint.name.clone(),
                caller: "-".into(),
                expected: "known gap".into(),
                got: "closed".into(),
                detail:
                    "the gap no longer shows: drop it from KNOWN_GAPS and tighten the row's policy"
                        .into(),
            });
        }
    }

    println!(
        "expected policy ({} endpoints × {} callers, {requests} requests, {:.1} s):\n{grid}",
        endpoints.len(),
        w.principals.len(),
        started.elapsed().as_secs_f64()
    );
    println!("known gaps ({}):\n{}", known.len(), known.join("\n"));
    assert!(
        mismatches.is_empty(),
        "{} answers disagree with the policy:\n{}\nexpected policy:\n{grid}",
        mismatches.len(),
        table_of(&mismatches)
    );
}

#[test]
fn the_command_table_is_the_state_machine_s() {
    let mut names = HashSet::new();
    for (name, prepared, roles, body) in command_table() {
        let command: Command = serde_json::from_value(body).unwrap();
        assert_eq!(command.name(), name);
        assert!(names.insert(name), "{name} twice");
        let mut domain: Vec<&str> = command
            .roles()
            .iter()
            .filter(|r| **r != System)
            .map(|r| r.as_str())
            .collect();
        let mut written: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        domain.sort_unstable();
        written.sort_unstable();
        assert_eq!(written, domain, "{name}: the roles of Command::roles()");
        let state = match prepared {
            "postponement" => CaseState::Handling,
            "whistled" => CaseState::Dispatched,
            other => other.parse().unwrap(),
        };
        assert!(
            command.allowed_states().contains(&state),
            "{name} is not legal in the {prepared} state its row prepares"
        );
    }
    // Every command but `rate`, which the commands route refuses for everyone.
    assert_eq!(names.len(), 17);
}

/// Logs in with `PASSWORD`; the session cookie (checked for its attributes) and CSRF token.
async fn login(w: &World, login: &str) -> (String, String) {
    let answer = w
        .send(
            &send_json(
                "POST",
                "/api/v1/session",
                json!({ "login": login, "password": PASSWORD }),
            ),
            Auth::Anonymous,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let set_cookie = answer.headers[header::SET_COOKIE].to_str().unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}: {attribute}");
    }
    let cookie = set_cookie
        .strip_prefix(&format!("{}=", jz_http::auth::SESSION_COOKIE))
        .and_then(|rest| rest.split(';').next())
        .unwrap()
        .to_owned();
    let csrf = answer.json["csrf_token"].as_str().unwrap().to_owned();
    (cookie, csrf)
}

/// Asserts an answer's status (and error code, for errors); the answer.
fn check(answer: Answer, status: u16, code: Option<&str>, what: &str) -> Answer {
    assert_eq!(answer.status.as_u16(), status, "{what}: {}", answer.text);
    if let Some(code) = code {
        assert_eq!(
            answer.json["error"]["code"], code,
            "{what}: {}",
            answer.text
        );
    }
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_sessions_need_their_csrf_token_and_end_at_logout_or_revocation() {
    let w = World::new().await;
    let admin = Auth::Bearer(&w.principal("admin.in").token);
    let main = w.cases["main"].id.clone();
    let elsewhere = w.cases["other street"].id.clone();

    // An admin gives a street operator of the main case's street a console login.
    let created = w
        .send(
            &send_json(
                "POST",
                "/api/v1/users",
                json!({
                    "name": "Console Zhao",
                    "role": "street_operator",
                    "territory": STREET,
                    "login": "zhao",
                    "password": PASSWORD
                }),
            ),
            admin,
        )
        .await;
    let created = check(created, 201, None, "an admin adds a console user");
    let zhao = created.json["user"]["id"].as_str().unwrap().to_owned();
    let token = created.json["token"].as_str().unwrap().to_owned();
    let wrong = send_json(
        "POST",
        "/api/v1/session",
        json!({ "login": "zhao", "password": "not the password" }),
    );
    check(
        w.send(&wrong, Auth::Anonymous).await,
        401,
        Some("unauthenticated"),
        "a wrong password",
    );
    let (cookie, csrf) = login(&w, "zhao").await;
    let session = Auth::Session {
        cookie: &cookie,
        csrf: None,
    };
    let with_csrf = Auth::Session {
        cookie: &cookie,
        csrf: Some(&csrf),
    };
    let forged = "0".repeat(64);
    let with_forged = Auth::Session {
        cookie: &cookie,
        csrf: Some(&forged),
    };

    // Reading needs the cookie alone, and the user's territory applies.
    let me = check(
        w.send(&get("/api/v1/session"), session).await,
        200,
        None,
        "who am I",
    );
    assert_eq!(me.json["user"]["id"], zhao.as_str());
    assert_eq!(me.json["csrf_token"], csrf.as_str());
    check(
        w.send(&get(format!("/api/v1/cases/{main}")), session).await,
        200,
        None,
        "a case of the street",
    );
    check(
        w.send(&get(format!("/api/v1/cases/{elsewhere}")), session)
            .await,
        404,
        Some("not_found"),
        "a case of another street",
    );

    // Every change needs the session's CSRF token; without it nothing is written.
    let version = w.case(&main).await.version;
    let suspend = send_json(
        "POST",
        format!("/api/v1/cases/{main}/commands"),
        json!({ "command": "suspend", "reason": "待专项整治", "version": version }),
    );
    check(
        w.send(&suspend, session).await,
        403,
        Some("forbidden"),
        "a change without the token",
    );
    check(
        w.send(&suspend, with_forged).await,
        403,
        Some("forbidden"),
        "a change with a forged token",
    );
    assert_eq!(w.case(&main).await.version, version, "nothing written");
    let suspended = check(
        w.send(&suspend, with_csrf).await,
        200,
        None,
        "a change with the token",
    );
    assert_eq!(suspended.json["state"], "suspended");
    let classify = send_json("POST", "/api/v1/classify", json!({ "text": "井盖缺失" }));
    check(
        w.send(&classify, session).await,
        403,
        Some("forbidden"),
        "classify without the token",
    );
    check(
        w.send(&classify, with_csrf).await,
        200,
        None,
        "classify with the token",
    );

    // A bearer token needs no CSRF token, and has no session to close.
    check(
        w.send(&classify, Auth::Bearer(&token)).await,
        200,
        None,
        "classify by token",
    );
    check(
        w.send(&delete("/api/v1/session"), Auth::Bearer(&token))
            .await,
        400,
        Some("invalid_parameter"),
        "logout by token",
    );

    // Logging out needs the token too, clears the cookie and ends the session.
    check(
        w.send(&delete("/api/v1/session"), session).await,
        403,
        Some("forbidden"),
        "logout without the token",
    );
    let out = check(
        w.send(&delete("/api/v1/session"), with_csrf).await,
        204,
        None,
        "logout",
    );
    assert!(
        out.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    check(
        w.send(&get("/api/v1/session"), session).await,
        401,
        Some("unauthenticated"),
        "after logout",
    );
    check(
        w.send(&classify, with_csrf).await,
        401,
        Some("unauthenticated"),
        "a change after logout",
    );

    // A revoked user's token, sessions and keys stop working at once, and they cannot log in.
    let (cookie, _) = login(&w, "zhao").await;
    let session = Auth::Session {
        cookie: &cookie,
        csrf: None,
    };
    let key = w
        .send(
            &send_json(
                "POST",
                "/api/v1/keys",
                json!({ "user_id": zhao, "name": "zhao's gateway", "scopes": ["api"] }),
            ),
            admin,
        )
        .await;
    let key = check(key, 201, None, "a key for the user");
    let secret = key.json["secret"].as_str().unwrap().to_owned();
    for auth in [session, Auth::Bearer(&token), Auth::Bearer(&secret)] {
        check(
            w.send(&get("/api/v1/session"), auth).await,
            200,
            None,
            "before revocation",
        );
    }
    check(
        w.send(&delete(format!("/api/v1/users/{zhao}")), admin)
            .await,
        204,
        None,
        "revoke the user",
    );
    for auth in [session, Auth::Bearer(&token), Auth::Bearer(&secret)] {
        check(
            w.send(&get("/api/v1/session"), auth).await,
            401,
            Some("unauthenticated"),
            &format!("{auth:?} after revocation"),
        );
    }
    let again = send_json(
        "POST",
        "/api/v1/session",
        json!({ "login": "zhao", "password": PASSWORD }),
    );
    check(
        w.send(&again, Auth::Anonymous).await,
        401,
        Some("unauthenticated"),
        "a revoked user's login",
    );

    // A made-up cookie is no session.
    let made_up = "f".repeat(64);
    let made_up = Auth::Session {
        cookie: &made_up,
        csrf: None,
    };
    check(
        w.send(&get("/api/v1/session"), made_up).await,
        401,
        Some("unauthenticated"),
        "a made-up cookie",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_act_as_their_user_within_their_scope_rate_and_lifetime() {
    let w = World::new().await;
    let admin = Auth::Bearer(&w.principal("admin.in").token);
    // A street operator of the other street.
    let operator = w.principal("street_operator.out");
    let new_key = async |scopes: Value, rate: u32| {
        let answer = w
            .send(
                &send_json(
                    "POST",
                    "/api/v1/keys",
                    json!({ "user_id": operator.user_id, "name": format!("gateway {scopes}"), "scopes": scopes, "rate_per_minute": rate }),
                ),
                admin,
            )
            .await;
        let answer = check(answer, 201, None, "an admin creates a key");
        (
            answer.json["key"]["id"].as_str().unwrap().to_owned(),
            answer.json["secret"].as_str().unwrap().to_owned(),
        )
    };
    let main = w.cases["main"].id.clone();
    let elsewhere = w.cases["other street"].id.clone();

    // A key acts as its user (their territory applies), within its budget per minute.
    let (_, api) = new_key(json!(["api"]), 3).await;
    let api = Auth::Bearer(&api);
    check(
        w.send(&get(format!("/api/v1/cases/{elsewhere}")), api)
            .await,
        200,
        None,
        "the user's street",
    );
    check(
        w.send(&get(format!("/api/v1/cases/{main}")), api).await,
        404,
        Some("not_found"),
        "another street",
    );
    check(
        w.send(&get("/api/v1/cases"), api).await,
        200,
        None,
        "the third request",
    );
    check(
        w.send(&get("/api/v1/cases"), api).await,
        429,
        Some("rate_limited"),
        "the fourth request",
    );

    // A key without the `api` scope is refused on the native API.
    let (_, open311) = new_key(json!(["open311"]), 600).await;
    let refused = check(
        w.send(&get("/api/v1/cases"), Auth::Bearer(&open311)).await,
        403,
        Some("forbidden"),
        "an Open311-only key",
    );
    assert!(
        refused.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("api")
    );

    // Only admins create keys.
    let own = send_json(
        "POST",
        "/api/v1/keys",
        json!({ "user_id": operator.user_id, "name": "mine", "scopes": ["api"] }),
    );
    check(
        w.send(&own, Auth::Bearer(&operator.token)).await,
        403,
        Some("forbidden"),
        "a key by a non-admin",
    );

    // A revoked key stops at once; an unknown one never worked.
    let (id, revoked) = new_key(json!(["api"]), 600).await;
    check(
        w.send(&get("/api/v1/session"), Auth::Bearer(&revoked))
            .await,
        200,
        None,
        "before revocation",
    );
    check(
        w.send(&delete(format!("/api/v1/keys/{id}")), admin).await,
        204,
        None,
        "revoke the key",
    );
    check(
        w.send(&get("/api/v1/session"), Auth::Bearer(&revoked))
            .await,
        401,
        Some("unauthenticated"),
        "a revoked key",
    );
    let unknown = format!("jzk_{}", "0".repeat(64));
    check(
        w.send(&get("/api/v1/session"), Auth::Bearer(&unknown))
            .await,
        401,
        Some("unauthenticated"),
        "an unknown key",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_address_gets_its_budget_then_429_with_retry_after() {
    let w = World::new().await;
    // The same state behind a budget of two requests a minute per address.
    let mut state = w.state.clone();
    state.limiter = std::sync::Arc::new(jz_http::limit::IpLimiter::new(2));
    let app = jz_http::router(state);
    let health =
        async |address: [u8; 4]| {
            let mut request = Request::get("/api/v1/health").body(Body::empty()).unwrap();
            request.extensions_mut().insert(axum::extract::ConnectInfo(
                std::net::SocketAddr::from((address, 40_000)),
            ));
            let response = app.clone().oneshot(request).await.unwrap();
            let status = response.status();
            let retry_after = response
                .headers()
                .get(header::RETRY_AFTER)
                .map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            (status.as_u16(), retry_after, body["error"]["code"].clone())
        };
    assert_eq!(health([10, 0, 0, 1]).await.0, 200);
    assert_eq!(health([10, 0, 0, 1]).await.0, 200);
    let (status, retry_after, code) = health([10, 0, 0, 1]).await;
    assert_eq!((status, code), (429, json!("rate_limited")));
    assert!(
        retry_after.is_some_and(|s| (1..=60).contains(&s)),
        "{retry_after:?}"
    );
    assert_eq!(
        health([10, 0, 0, 2]).await.0,
        200,
        "another address has its own budget"
    );
    // Refused before routing, the request is in the metrics' own counter.
    let mut request = Request::get("/metrics").body(Body::empty()).unwrap();
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            [127, 0, 0, 1],
            40_000,
        ))));
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    assert!(
        text.lines()
            .any(|l| l == "jingzhi_http_rate_limited_total 1"),
        "{text}"
    );
    assert!(
        text.contains(r#"route="/api/v1/health",status="200"} 3"#),
        "the answered requests are counted by route: {text}"
    );
}
