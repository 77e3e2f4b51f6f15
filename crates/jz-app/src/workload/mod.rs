//! A simulated city at work, through the real intake and workflow: an organisation for an
//! imported city (departments per district, street offices, responsibility rules, zones, users
//! of every role), and a workload of people using it — inspectors patrolling and reporting,
//! citizens and the hotline reporting in Chinese, operators registering and dispatching what
//! intake could not, departments accepting and handling with delays, inspectors checking (some
//! rework), operators closing, reporters rating (some dissatisfied).
//!
//! Reports come from sampled unit grids; each district keeps its share of them, and within it a
//! grid weighs its zone type, which also weighs the categories reported there ([`zoning`]).
//!
//! Every step is a real [`Cases`] call at the step's own time, so the history it leaves — cases,
//! timelines, audit, evaluation counters — is what people using the console would leave.
//! Deterministic for a seed: the reports (when, where, what, by whom) and each case's people's
//! choices and delays come from generators that do not depend on the order in which concurrent
//! steps finish (the report stream has its own, each case one of its own drawn from it), so two
//! runs of one seed make the same reports and the same choices. What concurrent steps may
//! still change is what depends on their commit order: whether two reports made within one
//! slice of each other merge, and which crew of a busy department is free first. With one step
//! at a time ([`Workload::with_in_flight`] 1) two runs of one seed are identical step for step.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

use jz_domain::access::{Actor, Role};
use jz_domain::case::{CaseState, Channel, Command, Rating};
use jz_domain::division::{DivisionCode, DivisionLevel};
use jz_domain::responsibility::{DepartmentKind, ResponsibilityRule, Territory};
use jz_geo::datum::Datum;
use jz_store::Store;
use sqlx::Row;

use crate::cases::intake::{ReportInput, Reporter};
use crate::cases::{CaseError, Cases, Context, config, users};
use crate::city::Actor as AdminActor;

pub mod zoning;

/// A small deterministic generator (SplitMix64).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5EED_CAFE_F00D)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// An exponential wait with this mean.
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }
}

/// The district bureaus each district gets: id suffix, name suffix, the majors they handle.
const BUREAUS: &[(&str, &str, &[&str])] = &[
    ("lh", "绿化和市容管理局", &["03", "04", "06", "07"]),
    ("jt", "建设和管理委员会", &["01", "02", "05", "08"]),
    ("fg", "房屋管理局", &["R1", "R2", "R3", "R4", "R5"]),
];

/// A street with the people who work it.
#[derive(Debug, Clone)]
pub struct StreetCrew {
    pub street: DivisionCode,
    pub district: DivisionCode,
    pub inspector: Actor,
    pub operator: Actor,
    pub office: String,
}

/// The organisation a workload acts through.
#[derive(Debug, Clone)]
pub struct Organisation {
    pub streets: HashMap<DivisionCode, StreetCrew>,
    /// Department id → its handler.
    pub handlers: HashMap<String, Actor>,
    pub dispatcher: Actor,
    pub hotline: Actor,
    pub citizen: Actor,
}

/// A console login made for people to try the system.
#[derive(Debug, Clone)]
pub struct Login {
    pub user_id: String,
    pub login: String,
    pub password: String,
    pub name: String,
    pub role: Role,
    pub territory: Option<String>,
    pub department: Option<String>,
}

fn actor_of(user: &users::User) -> Actor {
    Actor {
        id: format!("user:{}", user.id),
        role: user.role,
        territory: user
            .territory
            .as_deref()
            .and_then(|t| DivisionCode::parse(t).ok()),
        department: user.department.clone(),
    }
}

async fn user(
    store: &Store,
    by: &AdminActor,
    name: &str,
    role: Role,
    territory: Option<DivisionCode>,
    department: Option<&str>,
) -> Result<Actor, CaseError> {
    let (user, _) = users::create_user(
        store,
        by,
        name,
        role,
        territory,
        department.map(str::to_owned),
    )
    .await?;
    Ok(actor_of(&user))
}

/// Whether the organisation is already there (a reused data folder).
pub async fn organised(store: &Store) -> Result<bool, CaseError> {
    let count: i64 = sqlx::query("SELECT COUNT(*) FROM department")
        .fetch_one(store.reader())
        .await?
        .try_get(0)?;
    Ok(count > 0)
}

/// Creates departments (three bureaus per district, one office per street), responsibility rules
/// (bureaus by major class at district level, street offices for street order and as fallback),
/// and the workload's staff (an inspector and an operator per street, a handler per department,
/// a city dispatcher, a hotline operator and a citizen).
pub async fn organise(cases: &Cases, by: &AdminActor) -> Result<Organisation, CaseError> {
    let store = &cases.store;
    let shared = &cases.config;
    let model = cases.city.current();
    let districts = model.divisions_at(DivisionLevel::District);
    let streets = model.divisions_at(DivisionLevel::Street);
    let mut handlers = HashMap::new();
    for district in &districts {
        let code = district.code;
        let prefix = &code.as_str()[..6];
        for (suffix, name, majors) in BUREAUS {
            let id = format!("d{prefix}-{suffix}");
            config::put_department(
                store,
                shared,
                by,
                config::department(
                    &id,
                    &format!("{}{name}", district.name),
                    DepartmentKind::Bureau,
                    DivisionLevel::District,
                    code,
                ),
            )
            .await?;
            for major in *majors {
                config::add_rule(
                    store,
                    shared,
                    by,
                    ResponsibilityRule {
                        id: format!("{id}-{}", major.to_lowercase()),
                        category: major.parse().map_err(CaseError::Invalid)?,
                        territory: Territory::Division(code),
                        level: DivisionLevel::District,
                        department: id.clone(),
                        priority: 10,
                        fallback: false,
                    },
                )
                .await?;
            }
            let handler = user(
                store,
                by,
                &format!("{}{name}处置员", district.name),
                Role::Handler,
                Some(code),
                Some(&id),
            )
            .await?;
            handlers.insert(id, handler);
        }
    }
    let mut crews = HashMap::new();
    for street in &streets {
        let code = street.code;
        let Some(district) = street.parent else {
            continue;
        };
        let id = format!("s{}", &code.as_str()[..9]);
        config::put_department(
            store,
            shared,
            by,
            config::department(
                &id,
                &format!("{}办事处", street.name),
                DepartmentKind::StreetOffice,
                DivisionLevel::Street,
                code,
            ),
        )
        .await?;
        for (suffix, scope, fallback) in [("order", "09", false), ("all", "*", true)] {
            config::add_rule(
                store,
                shared,
                by,
                ResponsibilityRule {
                    id: format!("{id}-{suffix}"),
                    category: scope.parse().map_err(CaseError::Invalid)?,
                    territory: Territory::Division(code),
                    level: DivisionLevel::Street,
                    department: id.clone(),
                    priority: 10,
                    fallback,
                },
            )
            .await?;
        }
        let office = user(
            store,
            by,
            &format!("{}处置员", street.name),
            Role::Handler,
            Some(code),
            Some(&id),
        )
        .await?;
        handlers.insert(id.clone(), office);
        let inspector = user(
            store,
            by,
            &format!("{}网格监督员", street.name),
            Role::Inspector,
            Some(code),
            None,
        )
        .await?;
        let operator = user(
            store,
            by,
            &format!("{}值班长", street.name),
            Role::StreetOperator,
            Some(code),
            None,
        )
        .await?;
        crews.insert(
            code,
            StreetCrew {
                street: code,
                district,
                inspector,
                operator,
                office: id,
            },
        );
    }
    let dispatcher = user(store, by, "城运中心派遣员", Role::Dispatcher, None, None).await?;
    let hotline = user(
        store,
        by,
        "12345热线话务员",
        Role::HotlineOperator,
        None,
        None,
    )
    .await?;
    let citizen = user(store, by, "热心市民", Role::Citizen, None, None).await?;
    Ok(Organisation {
        streets: crews,
        handlers,
        dispatcher,
        hotline,
        citizen,
    })
}

/// Rebuilds the workload's view of an existing organisation (a reused data folder).
pub async fn load_organisation(cases: &Cases) -> Result<Organisation, CaseError> {
    let all = users::list_users(&cases.store).await?;
    let mut handlers = HashMap::new();
    let mut inspectors: HashMap<DivisionCode, Actor> = HashMap::new();
    let mut operators: HashMap<DivisionCode, Actor> = HashMap::new();
    let (mut dispatcher, mut hotline, mut citizen) = (None, None, None);
    for user in all.iter().filter(|u| u.active) {
        let actor = actor_of(user);
        match (user.role, actor.territory) {
            (Role::Handler, _) => {
                if let Some(department) = &user.department {
                    handlers.entry(department.clone()).or_insert(actor);
                }
            }
            (Role::Inspector, Some(street)) => {
                inspectors.entry(street).or_insert(actor);
            }
            (Role::StreetOperator, Some(street)) => {
                operators.entry(street).or_insert(actor);
            }
            (Role::Dispatcher, None) => dispatcher = dispatcher.or(Some(actor)),
            (Role::HotlineOperator, None) => hotline = hotline.or(Some(actor)),
            (Role::Citizen, _) => citizen = citizen.or(Some(actor)),
            _ => {}
        }
    }
    let model = cases.city.current();
    let mut streets = HashMap::new();
    for street in model.divisions_at(DivisionLevel::Street) {
        let (Some(inspector), Some(operator), Some(district)) = (
            inspectors.get(&street.code),
            operators.get(&street.code),
            street.parent,
        ) else {
            continue;
        };
        streets.insert(
            street.code,
            StreetCrew {
                street: street.code,
                district,
                inspector: inspector.clone(),
                operator: operator.clone(),
                office: format!("s{}", &street.code.as_str()[..9]),
            },
        );
    }
    let missing = || CaseError::Invalid("the demo organisation is incomplete".into());
    Ok(Organisation {
        streets,
        handlers,
        dispatcher: dispatcher.ok_or_else(missing)?,
        hotline: hotline.ok_or_else(missing)?,
        citizen: citizen.ok_or_else(missing)?,
    })
}

/// Console logins of every role, for people trying the system (passwords are made here and
/// shown once by the caller).
pub async fn logins(
    cases: &Cases,
    by: &AdminActor,
    org: &Organisation,
    rng: &mut Rng,
) -> Result<Vec<Login>, CaseError> {
    let model = cases.city.current();
    // The first street of the first district: 黄浦区's first street in Shanghai.
    let Some(street) = model
        .divisions_at(DivisionLevel::Street)
        .into_iter()
        .find(|s| org.streets.contains_key(&s.code))
        .cloned()
    else {
        return Ok(Vec::new());
    };
    let district = street.parent.expect("streets have districts");
    let crew = &org.streets[&street.code];
    let community = model
        .divisions_at(DivisionLevel::Community)
        .into_iter()
        .find(|c| c.parent == Some(street.code))
        .map(|c| c.code);
    let bureau = format!("d{}-lh", &district.as_str()[..6]);
    /// login, name, role, territory, department
    type Person<'a> = (&'a str, &'a str, Role, Option<DivisionCode>, Option<String>);
    let people: Vec<Person> = vec![
        ("admin", "系统管理员", Role::Admin, None, None),
        ("city", "市城运中心值班长", Role::CityOperator, None, None),
        (
            "district",
            "区城运中心值班长",
            Role::DistrictOperator,
            Some(district),
            None,
        ),
        (
            "street",
            "街道城运分中心值班长",
            Role::StreetOperator,
            Some(street.code),
            None,
        ),
        ("dispatcher", "派遣员", Role::Dispatcher, None, None),
        (
            "inspector",
            "网格监督员",
            Role::Inspector,
            Some(street.code),
            None,
        ),
        (
            "handler",
            "绿化市容处置员",
            Role::Handler,
            Some(district),
            Some(bureau),
        ),
        (
            "office",
            "街道办处置员",
            Role::Handler,
            Some(street.code),
            Some(crew.office.clone()),
        ),
        ("hotline", "12345话务员", Role::HotlineOperator, None, None),
        (
            "worker",
            "居委社工",
            Role::CommunityWorker,
            community.or(Some(street.code)),
            None,
        ),
        (
            "volunteer",
            "志愿者",
            Role::Volunteer,
            community.or(Some(street.code)),
            None,
        ),
        ("citizen", "市民", Role::Citizen, None, None),
        ("auditor", "审计员", Role::Auditor, None, None),
    ];
    let mut made = Vec::new();
    for (login, name, role, territory, department) in people {
        let password = password(rng);
        let (user, _) = users::create_user_with_login(
            &cases.store,
            by,
            name,
            role,
            territory,
            department.clone(),
            Some((login, &password)),
        )
        .await?;
        made.push(Login {
            user_id: user.id,
            login: login.into(),
            password,
            name: name.into(),
            role,
            territory: territory.map(|t| t.as_str().to_owned()),
            department,
        });
    }
    Ok(made)
}

fn password(rng: &mut Rng) -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    (0..14)
        .map(|i| {
            if i == 4 || i == 9 {
                '-'
            } else {
                ALPHABET[rng.below(ALPHABET.len())] as char
            }
        })
        .collect()
}

/// A place reports come from: a unit grid's centre and its street.
#[derive(Debug, Clone, Copy)]
pub struct Spot {
    pub lon: f64,
    pub lat: f64,
    pub street: DivisionCode,
}

/// Central districts (黄浦, 徐汇, 长宁, 静安, 普陀, 虹口, 杨浦) report more per area.
const CENTRAL: &[&str] = &[
    "310101", "310104", "310105", "310106", "310107", "310109", "310110",
];

/// Samples report spots: unit grid centres, two thirds of them in the central districts.
pub async fn spots(store: &Store, count: usize, rng: &mut Rng) -> Result<Vec<Spot>, CaseError> {
    let rows = sqlx::query("SELECT community_code, centroid_lon, centroid_lat FROM grid")
        .fetch_all(store.reader())
        .await?;
    let mut central = Vec::new();
    let mut other = Vec::new();
    for row in &rows {
        let community: String = row.try_get(0)?;
        let street = format!("{}000", &community[..9]);
        let Ok(street) = DivisionCode::parse(&street) else {
            continue;
        };
        let spot = Spot {
            lon: row.try_get(1)?,
            lat: row.try_get(2)?,
            street,
        };
        if CENTRAL.iter().any(|d| community.starts_with(d)) {
            central.push(spot);
        } else {
            other.push(spot);
        }
    }
    let mut chosen = Vec::with_capacity(count);
    for i in 0..count {
        let pool = if (i % 3 != 2 && !central.is_empty()) || other.is_empty() {
            &central
        } else {
            &other
        };
        if pool.is_empty() {
            break;
        }
        chosen.push(pool[rng.below(pool.len())]);
    }
    Ok(chosen)
}

/// Samples report spots in proportion to `weights` per district prefix (6 digits), uniformly
/// over each district's unit grids.
pub async fn spots_by_weight(
    store: &Store,
    count: usize,
    weights: &[(&str, f64)],
    rng: &mut Rng,
) -> Result<Vec<Spot>, CaseError> {
    let rows = sqlx::query("SELECT community_code, centroid_lon, centroid_lat FROM grid")
        .fetch_all(store.reader())
        .await?;
    let mut by_district: HashMap<String, Vec<Spot>> = HashMap::new();
    for row in &rows {
        let community: String = row.try_get(0)?;
        let Ok(street) = DivisionCode::parse(&format!("{}000", &community[..9])) else {
            continue;
        };
        by_district
            .entry(community[..6].to_owned())
            .or_default()
            .push(Spot {
                lon: row.try_get(1)?,
                lat: row.try_get(2)?,
                street,
            });
    }
    let present: Vec<(&str, f64)> = weights
        .iter()
        .copied()
        .filter(|(d, w)| *w > 0.0 && by_district.contains_key(*d))
        .collect();
    let total: f64 = present.iter().map(|(_, w)| w).sum();
    if total <= 0.0 {
        return spots(store, count, rng).await;
    }
    let mut chosen = Vec::with_capacity(count);
    for _ in 0..count {
        let mut pick = rng.unit() * total;
        let mut district = present[present.len() - 1].0;
        for (d, w) in &present {
            if pick < *w {
                district = d;
                break;
            }
            pick -= w;
        }
        let pool = &by_district[district];
        chosen.push(pool[rng.below(pool.len())]);
    }
    Ok(chosen)
}

/// The labelled Chinese reports the classifier learned from: what people say, and what it is.
fn texts() -> Vec<(&'static str, &'static str)> {
    jz_classify::shipped_train_set()
        .into_iter()
        .chain(jz_classify::shipped_test_set())
        .map(|e| (e.text, e.code))
        .collect()
}

/// What the workload does next.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    /// Someone reports a problem.
    Report,
    /// Someone acts on a case (what they do depends on its state then).
    Act {
        case: String,
        /// The category the reporter meant (an operator confirming picks it).
        meant: String,
        report: String,
        channel: u8,
        /// The case's own generator: its people's choices and delays.
        rng: Rng,
    },
}

/// How fast things happen.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// Mean time between reports (over a whole day).
    pub report_every_us: f64,
    /// Mean delays are divided by this (1 = realistic minutes and hours).
    pub speed: f64,
    /// Reports follow the day (few at night, most in the morning and the afternoon).
    pub by_hour: bool,
    /// Crews per department: a department handles at most this many cases at once; the rest
    /// wait for a crew (finite capacity).
    pub crews: usize,
}

/// Reports per hour of the day (Asia/Shanghai) relative to the daily mean.
const HOURLY: [f64; 24] = [
    0.25, 0.15, 0.1, 0.1, 0.15, 0.3, 0.6, 1.1, 1.6, 1.8, 1.7, 1.5, 1.2, 1.3, 1.6, 1.7, 1.6, 1.5,
    1.3, 1.1, 0.9, 0.7, 0.5, 0.35,
];

/// What a workload did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub reports: u64,
    pub created: u64,
    pub linked: u64,
    pub commands: u64,
    pub ratings: u64,
    pub reworks: u64,
    pub dissatisfied: u64,
    pub refused: u64,
    pub warned: u64,
    pub overdue: u64,
    pub escalated: u64,
    /// The most reports that ran at once.
    pub most_reports_at_once: u64,
}

/// The places of one zone type (or outside any zone) and what is reported there.
#[derive(Debug)]
struct ZoneKind {
    /// The zone type's code; `None` outside any zone.
    zone_type: Option<String>,
    profile: &'static zoning::ReportProfile,
    /// Cumulative weights over the workload's texts, by the profile's categories.
    texts: Vec<f64>,
    /// Reports made here per major class (the category code's first two characters).
    majors: std::collections::BTreeMap<&'static str, u64>,
}

/// What a workload made per zone type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneShare {
    /// The zone type's code; `None` for places outside any zone.
    pub zone_type: Option<String>,
    /// Report places (sampled unit grids) of this type.
    pub places: usize,
    /// Reports made there (repeated reports included).
    pub reports: u64,
    /// Of those, per major class (the category code's first two characters), most first.
    pub majors: Vec<(&'static str, u64)>,
}

/// Picks an index by cumulative weights, with `unit` uniform in [0, 1).
fn pick(cumulative: &[f64], unit: f64) -> usize {
    let total = cumulative.last().copied().unwrap_or(0.0);
    cumulative
        .partition_point(|&c| c <= unit * total)
        .min(cumulative.len().saturating_sub(1))
}

/// A workload over an organisation.
#[derive(Debug)]
pub struct Workload {
    cases: Arc<Cases>,
    /// Shared with every step's task (cloning the maps per step dominated the driver's time).
    org: Arc<Organisation>,
    spots: Vec<Spot>,
    /// Each spot's zone kind (an index into `kinds`).
    spot_kinds: Vec<usize>,
    /// Cumulative weights over the spots: each district keeps its share of the spots, and
    /// within it a spot weighs its zone type's intensity.
    spot_weights: Vec<f64>,
    kinds: Vec<ZoneKind>,
    texts: Vec<(&'static str, &'static str)>,
    /// The report stream's generator (when, where, what, by whom); each case's own is drawn
    /// from it as the case's first report is made.
    rng: Rng,
    agenda: BinaryHeap<Reverse<(i64, u64, Step)>>,
    sequence: u64,
    /// Recent reports (time, spot, its zone kind, text, category), oldest first: a second
    /// person reports one of the last [`RECENT`] made more than a slice ago again.
    recent: std::collections::VecDeque<(i64, Spot, usize, &'static str, &'static str)>,
    /// Steps run at once, at most.
    in_flight: usize,
    /// Per department, when each crew is free again.
    crews: HashMap<String, Vec<i64>>,
    pub pace: Pace,
    pub tally: Tally,
    /// Why steps were refused (the first few), for whoever watches the workload.
    pub refusals: Vec<String>,
}

const MINUTE: f64 = 60_000_000.0;

/// The most steps a workload runs at once: enough to keep the store's writer in full batches
/// (its `max_batch` is 1,024), few enough that the tasks' memory stays small.
pub const IN_FLIGHT: usize = 4_096;

/// How many of the reports made more than a slice ago a second person may report again. A step
/// starts only when every step more than a slice older has finished, so these have committed
/// (or been refused) whatever the order in which concurrent steps finished.
const RECENT: usize = 64;

impl Workload {
    pub fn new(
        cases: Arc<Cases>,
        org: Organisation,
        spots: Vec<Spot>,
        seed: u64,
        pace: Pace,
    ) -> Self {
        // A spot belongs to the street its point is located in, whatever it was sampled as: a
        // grid's centroid can lie outside the grid (grids cut by a community boundary are not
        // convex), even in the next street, and its inspector would report outside their
        // territory (seen: 1–4 refusals in a simulated day). A spot located nowhere keeps its
        // street (its report is refused as outside the city, as any such report is).
        // Its zone type is that of the first zone it lies in with a report profile, else of
        // the first zone, else none.
        let model = cases.city.current();
        let texts = texts();
        let mut kinds: Vec<ZoneKind> = Vec::new();
        let mut spot_kinds = Vec::with_capacity(spots.len());
        let spots: Vec<Spot> = spots
            .into_iter()
            .map(|spot| {
                let located = model.locate(spot.lon, spot.lat, Datum::Wgs84).ok();
                let street = located
                    .as_ref()
                    .and_then(|l| l.at(DivisionLevel::Street).map(|d| d.code));
                let zones = located.as_ref().map_or(&[][..], |l| &l.zones[..]);
                let zone_type = zones
                    .iter()
                    .find(|z| zoning::profile(&z.zone_type).is_some())
                    .or(zones.first())
                    .map(|z| z.zone_type.clone());
                let kind = match kinds.iter().position(|k| k.zone_type == zone_type) {
                    Some(kind) => kind,
                    None => {
                        let profile = zone_type
                            .as_deref()
                            .and_then(zoning::profile)
                            .unwrap_or(&zoning::UNZONED);
                        let texts = texts
                            .iter()
                            .scan(0.0, |sum, (_, code)| {
                                *sum += profile.weight(code);
                                Some(*sum)
                            })
                            .collect();
                        kinds.push(ZoneKind {
                            zone_type,
                            profile,
                            texts,
                            majors: std::collections::BTreeMap::new(),
                        });
                        kinds.len() - 1
                    }
                };
                spot_kinds.push(kind);
                Spot {
                    street: street.unwrap_or(spot.street),
                    ..spot
                }
            })
            .collect();
        // Within its district (the first six digits of its street), a spot weighs its zone
        // type's intensity over the district's mean: the district keeps its share.
        let mut districts: HashMap<&str, (f64, usize)> = HashMap::new();
        for (spot, kind) in spots.iter().zip(&spot_kinds) {
            let entry = districts.entry(&spot.street.as_str()[..6]).or_default();
            entry.0 += kinds[*kind].profile.intensity;
            entry.1 += 1;
        }
        let spot_weights = spots
            .iter()
            .zip(&spot_kinds)
            .scan(0.0, |sum, (spot, kind)| {
                let (intensities, count) = districts[&spot.street.as_str()[..6]];
                *sum += kinds[*kind].profile.intensity * count as f64 / intensities;
                Some(*sum)
            })
            .collect();
        Workload {
            cases,
            org: Arc::new(org),
            spots,
            spot_kinds,
            spot_weights,
            kinds,
            texts,
            rng: Rng::new(seed),
            agenda: BinaryHeap::new(),
            sequence: 0,
            recent: std::collections::VecDeque::new(),
            in_flight: IN_FLIGHT,
            crews: HashMap::new(),
            pace,
            tally: Tally::default(),
            refusals: Vec::new(),
        }
    }

    /// Per zone type (outside any zone last): report places and reports made.
    pub fn zone_shares(&self) -> Vec<ZoneShare> {
        let mut shares: Vec<ZoneShare> = self
            .kinds
            .iter()
            .enumerate()
            .map(|(index, k)| {
                let mut majors: Vec<(&'static str, u64)> =
                    k.majors.iter().map(|(m, n)| (*m, *n)).collect();
                majors.sort_by_key(|(major, n)| (Reverse(*n), *major));
                ZoneShare {
                    zone_type: k.zone_type.clone(),
                    places: self.spot_kinds.iter().filter(|&&i| i == index).count(),
                    reports: majors.iter().map(|(_, n)| n).sum(),
                    majors,
                }
            })
            .collect();
        shares.sort_by(|a, b| {
            (a.zone_type.is_none(), &a.zone_type).cmp(&(b.zone_type.is_none(), &b.zone_type))
        });
        shares
    }

    /// Runs at most `steps` steps at once (at least one). With one, two runs of one seed are
    /// identical step for step (and the store's writer commits one change at a time).
    pub fn with_in_flight(mut self, steps: usize) -> Self {
        self.in_flight = steps.max(1);
        self
    }

    fn schedule(&mut self, at: i64, step: Step) {
        self.sequence += 1;
        self.agenda.push(Reverse((at, self.sequence, step)));
    }

    /// Starts reporting at `from`.
    pub fn start(&mut self, from: i64) {
        self.schedule(from, Step::Report);
    }

    /// A delay with this mean in minutes, at the workload's speed, drawn from `rng` (a case's).
    fn delay(&self, rng: &mut Rng, mean_minutes: f64) -> i64 {
        (rng.exponential(mean_minutes * MINUTE / self.pace.speed)).max(1_000_000.0) as i64
    }

    /// Runs every step due up to `until`, each at its own time. Steps run concurrently (they
    /// are of different cases: a case's next step is scheduled only when its last one is done)
    /// within a sliding window: a step starts while no step more than `slice` older than it is
    /// still running, and at most [`IN_FLIGHT`] run at once. So steps are reordered by less
    /// than `slice`, and the store's writer is fed continuously — a step-wise barrier at the
    /// end of each slice left it committing a ramp of small batches, each with its own fsync.
    pub async fn run_until(&mut self, until: i64, slice: i64) -> Result<(), CaseError> {
        let mut running = tokio::task::JoinSet::new();
        // The due times of the running steps (time → how many), to find the oldest.
        let mut due: std::collections::BTreeMap<i64, usize> = std::collections::BTreeMap::new();
        let mut reports_running = 0u64;
        loop {
            while running.len() < self.in_flight {
                let Some(Reverse((when, _, _))) = self.agenda.peek() else {
                    break;
                };
                let when = *when;
                let oldest = due.first_key_value().map(|(t, _)| *t);
                if when > until || oldest.is_some_and(|oldest| when > oldest + slice) {
                    break;
                }
                let Reverse((_, _, step)) = self.agenda.pop().expect("peeked");
                *due.entry(when).or_default() += 1;
                match step {
                    Step::Report => {
                        // Reports come one after another: the next is scheduled as this starts.
                        let mean = if self.pace.by_hour {
                            let hour = ((when / 3_600_000_000 + 8).rem_euclid(24)) as usize;
                            self.pace.report_every_us / HOURLY[hour]
                        } else {
                            self.pace.report_every_us
                        };
                        let next = when + self.rng.exponential(mean) as i64;
                        self.schedule(next.max(when + 1), Step::Report);
                        reports_running += 1;
                        self.tally.most_reports_at_once =
                            self.tally.most_reports_at_once.max(reports_running);
                        let (input, actor, meant, channel) = self.report(when, slice);
                        let rng = Rng::new(self.rng.next_u64());
                        let cases = self.cases.clone();
                        running.spawn(async move {
                            let result =
                                cases.intake(input, &actor, "jingzhi-workload", when).await;
                            Outcome::Reported(
                                result.map(|r| Box::new((r, meant, channel))),
                                when,
                                rng,
                            )
                        });
                    }
                    Step::Act {
                        case,
                        meant,
                        report,
                        channel,
                        mut rng,
                    } => {
                        let cases = self.cases.clone();
                        let org = self.org.clone();
                        let roll = rng.below(100) as u8;
                        running.spawn(async move {
                            let result =
                                act(&cases, &org, &case, &meant, &report, channel, roll, when)
                                    .await;
                            Outcome::Acted(result, case, meant, report, channel, when, rng)
                        });
                    }
                }
            }
            let Some(done) = running.join_next().await else {
                // Nothing running and nothing more due: done.
                return Ok(());
            };
            let done = done.map_err(|e| CaseError::Invalid(format!("workload task: {e}")))?;
            let when = match &done {
                Outcome::Reported(_, when, _) => {
                    reports_running -= 1;
                    *when
                }
                Outcome::Acted(.., when, _) => *when,
            };
            if let std::collections::btree_map::Entry::Occupied(mut entry) = due.entry(when) {
                *entry.get_mut() -= 1;
                if *entry.get() == 0 {
                    entry.remove();
                }
            }
            self.absorb(done);
        }
    }

    /// Runs the deadline scheduler at `at` and counts what it did.
    pub async fn deadlines(&mut self, at: i64) -> Result<(), CaseError> {
        let pass = self.cases.run_deadlines(at).await?;
        self.tally.warned += pass.warned as u64;
        self.tally.overdue += pass.overdue as u64;
        self.tally.escalated += pass.escalated as u64;
        Ok(())
    }

    fn report(&mut self, when: i64, slice: i64) -> (ReportInput, Actor, String, u8) {
        // The reports made more than a slice ago are the first `ripe`; the last RECENT of them
        // are kept (and the younger ones).
        let ripe = self.recent.partition_point(|(at, ..)| *at < when - slice);
        let ripe = if ripe > RECENT {
            self.recent.drain(..ripe - RECENT);
            RECENT
        } else {
            ripe
        };
        // One report in twelve is someone else calling about a problem reported recently nearby
        // (intake merges it into the open case).
        if ripe > 0 && self.rng.chance(8) {
            let (_, spot, kind, text, code) = self.recent[self.rng.below(ripe)];
            self.count_report(kind, code);
            let code = code.to_owned();
            let input = ReportInput {
                channel: Channel::Hotline,
                description: format!("又有市民来电反映：{text}"),
                lon: spot.lon,
                lat: spot.lat,
                datum: Datum::Wgs84,
                address: None,
                category: Some(code.clone()),
                urgency: None,
                reporter: Reporter::default(),
                intake_key: None,
                photos: Vec::new(),
            };
            return (input, self.org.hotline.clone(), code, 1);
        }
        let place = pick(&self.spot_weights, self.rng.unit());
        let (spot, kind) = (self.spots[place], self.spot_kinds[place]);
        let (text, code) = self.texts[pick(&self.kinds[kind].texts, self.rng.unit())];
        let hotline_text = code.starts_with('R');
        let roll = self.rng.below(100);
        let crew = self.org.streets.get(&spot.street);
        // Inspectors report what they see on patrol, with the category; the hotline types what
        // callers say, with the hotline category; citizens write free text.
        let (channel, actor, category, code_channel) = match (hotline_text, roll, crew) {
            (false, 0..=54, Some(crew)) => (
                Channel::Inspector,
                crew.inspector.clone(),
                Some(code.to_owned()),
                0,
            ),
            (true, _, _) | (false, 55..=74, _) => (
                Channel::Hotline,
                self.org.hotline.clone(),
                Some(code.to_owned()),
                1,
            ),
            _ => (Channel::Web, self.org.citizen.clone(), None, 2),
        };
        // Spread reports a little around the grid centre, staying in the grid's street.
        let (lon, lat) = self.near(spot, 0.0006);
        self.recent.push_back((
            when,
            Spot {
                lon,
                lat,
                street: spot.street,
            },
            kind,
            text,
            code,
        ));

        self.count_report(kind, code);
        let reporter = match channel {
            Channel::Hotline => Reporter {
                name: Some("来电市民".into()),
                phone: Some(format!("139{:08}", self.rng.below(100_000_000))),
                ..Reporter::default()
            },
            _ => Reporter::default(),
        };
        (
            ReportInput {
                channel,
                description: text.to_owned(),
                lon,
                lat,
                datum: Datum::Wgs84,
                address: None,
                category,
                urgency: None,
                reporter,
                intake_key: None,
                photos: Vec::new(),
            },
            actor,
            code.to_owned(),
            code_channel,
        )
    }

    /// Counts a report made, in the tally and under its place's zone kind.
    fn count_report(&mut self, kind: usize, code: &'static str) {
        self.tally.reports += 1;
        *self.kinds[kind].majors.entry(&code[..2]).or_default() += 1;
    }

    fn absorb(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Reported(Ok(reported), when, mut rng) => {
                let (result, meant, channel) = *reported;
                if result.outcome == crate::cases::intake::Outcome::Linked {
                    self.tally.linked += 1;
                    return;
                }
                self.tally.created += 1;
                let wait = self.wait_for(&mut rng, result.case.state);
                self.schedule(
                    when + wait,
                    Step::Act {
                        case: result.case.id,
                        meant,
                        report: result.report_id,
                        channel,
                        rng,
                    },
                );
            }
            Outcome::Reported(Err(e), ..) => self.refused(format!("report: {e}")),
            Outcome::Acted(Ok(Some(effect)), case, meant, report, channel, when, mut rng) => {
                match effect.kind {
                    Did::Command => self.tally.commands += 1,
                    Did::Rework => {
                        self.tally.commands += 1;
                        self.tally.reworks += 1;
                    }
                    Did::Rated { dissatisfied } => {
                        self.tally.ratings += 1;
                        self.tally.dissatisfied += u64::from(dissatisfied);
                    }
                }
                if let Some(state) = effect.next {
                    let wait = match (&effect.department, state) {
                        (Some(department), CaseState::Handling) => {
                            self.crew_wait(&mut rng, department, when)
                        }
                        _ => self.wait_for(&mut rng, state),
                    };
                    self.schedule(
                        when + wait,
                        Step::Act {
                            case,
                            meant,
                            report,
                            channel,
                            rng,
                        },
                    );
                }
            }
            Outcome::Acted(Ok(None), ..) => {}
            Outcome::Acted(Err(e), case, ..) => self.refused(format!("{case}: {e}")),
        }
    }

    /// How long until a case entering handling at `at` is handled: the department's first free
    /// crew takes it (finite capacity), for a handling time drawn as usual.
    fn crew_wait(&mut self, rng: &mut Rng, department: &str, at: i64) -> i64 {
        let service = self.wait_for(rng, CaseState::Handling);
        let crews = self.pace.crews.max(1);
        let free = self
            .crews
            .entry(department.to_owned())
            .or_insert_with(|| vec![i64::MIN; crews]);
        let (index, earliest) = free
            .iter()
            .enumerate()
            .min_by_key(|(_, t)| **t)
            .map(|(i, t)| (i, *t))
            .expect("at least one crew");
        let done = earliest.max(at) + service;
        free[index] = done;
        done - at
    }

    /// A point near `spot` (within `spread` degrees) in the same street, else the spot itself.
    fn near(&mut self, spot: Spot, spread: f64) -> (f64, f64) {
        let lon = spot.lon + (self.rng.unit() - 0.5) * spread;
        let lat = spot.lat + (self.rng.unit() - 0.5) * spread;
        let same_street = self
            .cases
            .city
            .current()
            .locate(lon, lat, Datum::Wgs84)
            .ok()
            .and_then(|l| l.at(DivisionLevel::Street).map(|d| d.code))
            == Some(spot.street);
        if same_street {
            (lon, lat)
        } else {
            (spot.lon, spot.lat)
        }
    }

    fn refused(&mut self, why: String) {
        self.tally.refused += 1;
        if self.refusals.len() < 20 {
            self.refusals.push(why);
        }
    }

    /// How long the next person takes to act on a case in `state` (mean minutes).
    fn wait_for(&self, rng: &mut Rng, state: CaseState) -> i64 {
        let mean = match state {
            CaseState::Reported => 20.0,
            CaseState::Registered => 25.0,
            CaseState::Dispatched => 30.0,
            CaseState::Accepted => 20.0,
            // Handling takes an hour or two; the on-site check comes within its 30 minutes
            // (mostly), the close within the hour.
            CaseState::Handling => 70.0,
            CaseState::Handled => 8.0,
            CaseState::Verified => 20.0,
            // Return calls and ratings come the next hours.
            CaseState::Closed => 180.0,
            _ => 60.0,
        };
        self.delay(rng, mean)
    }
}

enum Did {
    Command,
    Rework,
    Rated { dissatisfied: bool },
}

struct Effect {
    kind: Did,
    /// The case's department afterwards.
    department: Option<String>,
    /// The case's state afterwards, when someone will act on it again.
    next: Option<CaseState>,
}

enum Outcome {
    Reported(
        Result<Box<(crate::cases::intake::IntakeResult, String, u8)>, CaseError>,
        i64,
        Rng,
    ),
    Acted(
        Result<Option<Effect>, CaseError>,
        String,
        String,
        String,
        u8,
        i64,
        Rng,
    ),
}

fn context(note: Option<&str>) -> Context {
    Context {
        note: note.map(str::to_owned),
        photos: Vec::new(),
        position: None,
        origin: "jingzhi-workload".into(),
    }
}

/// One person acting on a case as its state asks; `None` when nobody in the workload acts
/// (a department that lets it lie, a state people act on in the console).
#[allow(clippy::too_many_arguments)]
async fn act(
    cases: &Cases,
    org: &Organisation,
    id: &str,
    meant: &str,
    report: &str,
    channel: u8,
    roll: u8,
    at: i64,
) -> Result<Option<Effect>, CaseError> {
    let Some(case) = crate::cases::load_case(&cases.store, id).await? else {
        return Ok(None);
    };
    let crew = org.streets.get(&case.place.street);
    let handler = case
        .department
        .as_ref()
        .and_then(|d| org.handlers.get(d))
        .cloned();
    let (actor, command, note): (Actor, Command, Option<&str>) = match case.state {
        CaseState::Reported => {
            let Some(crew) = crew else { return Ok(None) };
            let category = if roll < 3 {
                // An operator finds a report invalid now and then.
                let reject = Command::Reject {
                    reason: "经核实现场无此问题".into(),
                };
                return run(cases, case, &crew.operator, reject, None, at, Did::Command).await;
            } else {
                meant.to_owned()
            };
            (
                crew.operator.clone(),
                Command::Register {
                    category,
                    urgency: None,
                },
                Some("核实后立案"),
            )
        }
        CaseState::Registered => {
            let department = case
                .candidates
                .first()
                .cloned()
                .or_else(|| crew.map(|c| c.office.clone()));
            let Some(department) = department else {
                return Ok(None);
            };
            (
                org.dispatcher.clone(),
                Command::Dispatch { department },
                None,
            )
        }
        // One case in twenty-five lies untouched by its department (it goes overdue and
        // escalates).
        CaseState::Dispatched if roll < 4 => return Ok(None),
        CaseState::Dispatched => {
            let Some(handler) = handler else {
                return Ok(None);
            };
            (handler, Command::Accept, None)
        }
        CaseState::Accepted => {
            let Some(handler) = handler else {
                return Ok(None);
            };
            (handler, Command::StartHandling, Some("已安排人员前往处置"))
        }
        CaseState::Handling => {
            let Some(handler) = handler else {
                return Ok(None);
            };
            (
                handler,
                Command::ReportHandled,
                Some("已处置完毕，附处置后照片"),
            )
        }
        CaseState::Handled => {
            let Some(crew) = crew else { return Ok(None) };
            let passed = roll >= 8;
            let command = Command::Verify { passed };
            let note = if passed {
                "现场核查合格"
            } else {
                "现场核查未处置到位，返工"
            };
            let kind = if passed { Did::Command } else { Did::Rework };
            return run(cases, case, &crew.inspector, command, Some(note), at, kind).await;
        }
        CaseState::Verified => {
            let Some(crew) = crew else { return Ok(None) };
            (crew.operator.clone(), Command::Close, Some("结案"))
        }
        CaseState::Closed if channel == 0 => return Ok(None),
        CaseState::Closed => {
            let rating = match roll {
                0..=9 => Rating::Dissatisfied,
                10..=29 => Rating::BasicallySatisfied,
                _ => Rating::Satisfied,
            };
            let actor = if channel == 1 {
                &org.hotline
            } else {
                &org.citizen
            };
            let comment = (rating == Rating::Dissatisfied).then(|| "问题没有彻底解决".to_owned());
            let rated = cases
                .rate(report, rating, comment, actor, "jingzhi-workload", at)
                .await?;
            let next = rated.state.is_open().then_some(rated.state);
            return Ok(Some(Effect {
                kind: Did::Rated {
                    dissatisfied: rating == Rating::Dissatisfied,
                },
                department: rated.department.clone(),
                next,
            }));
        }
        _ => return Ok(None),
    };
    run(cases, case, &actor, command, note, at, Did::Command).await
}

async fn run(
    cases: &Cases,
    case: jz_domain::case::Case,
    actor: &Actor,
    command: Command,
    note: Option<&str>,
    at: i64,
    kind: Did,
) -> Result<Option<Effect>, CaseError> {
    let version = case.version;
    let after = cases
        .command_on(case, version, &command, actor, &context(note), at)
        .await?;
    let next = (after.state.is_open() || after.state == CaseState::Closed).then_some(after.state);
    Ok(Some(Effect {
        kind,
        department: after.department.clone(),
        next,
    }))
}
