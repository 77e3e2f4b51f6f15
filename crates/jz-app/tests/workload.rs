//! The simulated city (what `jingzhi demo` runs) on the browser tests' small city: the
//! organisation it seeds routes every category, its people move cases through the whole loop
//! through the real intake and commands, and what they leave is consistent — every case
//! counted once in the evaluation, the audit chain intact, every demo login working.

use std::collections::BTreeMap;
use std::sync::Arc;

use jz_app::cases::Cases;
use jz_app::cases::sessions::Sessions;
use jz_app::city::plan::Stage;
use jz_app::city::{Actor as CliActor, FieldMapping, ImportOptions, SharedCity, SourceFile};
use jz_app::evaluation::{Period, Question};
use jz_app::workload::{self, Pace, Rng, Workload, zoning};
use jz_domain::case::CaseState;
use jz_domain::evaluation::{self, Counter};
use sqlx::Row;

const CITY: &str = include_str!("../../../tests/browser/fixtures/city.geojson");
const CODES: &str = include_str!("../../../tests/browser/fixtures/codes.csv");

fn at(local: &str) -> i64 {
    format!("{local}+08:00")
        .parse::<jiff::Timestamp>()
        .unwrap()
        .as_microsecond()
}

/// A fresh SQLite store with the small city imported, and its cases.
struct SmallCity {
    _db: jz_testkit::TestDb,
    store: jz_store::Store,
    cases: Arc<Cases>,
    admin: CliActor,
    start: i64,
}

async fn small_city() -> SmallCity {
    let db = jz_testkit::TestDb::sqlite();
    let store = db.open().await;
    let start = at("2026-11-02T08:00:00");
    let admin = CliActor {
        actor: "user:setup".into(),
        origin: "test".into(),
        at_us: start,
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
    let city = Arc::new(SharedCity::new(
        jz_app::city::load_model(&store).await.unwrap(),
    ));
    let cases = Arc::new(Cases::open(store.clone(), city).await.unwrap());
    SmallCity {
        _db: db,
        store,
        cases,
        admin,
        start,
    }
}

/// Runs `work` hour by hour for `hours` from `start` (ten-minute slices, the deadline scheduler
/// after each hour); answers the time reached.
async fn run_hours(work: &mut Workload, start: i64, hours: i64) -> i64 {
    let hour = 3_600_000_000;
    let mut now = start;
    while now < start + hours * hour {
        now += hour;
        work.run_until(now, 600_000_000).await.unwrap();
        work.deadlines(now).await.unwrap();
    }
    now
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_simulated_days_run_the_whole_loop_and_leave_a_consistent_city() {
    let SmallCity {
        _db,
        store,
        cases,
        admin,
        start,
    } = small_city().await;

    // The organisation: three bureaus per district, an office per street, people for each.
    assert!(!workload::organised(&store).await.unwrap());
    let org = workload::organise(&cases, &admin).await.unwrap();
    assert!(workload::organised(&store).await.unwrap());
    let config = cases.config.current();
    assert_eq!(config.departments.len(), 2 * 3 + 3);
    assert_eq!(org.streets.len(), 3);
    let mut rng = Rng::new(7);
    let logins = workload::logins(&cases, &admin, &org, &mut rng)
        .await
        .unwrap();
    assert_eq!(logins.len(), 13, "one login per role");
    let sessions = Sessions::default();
    for login in &logins {
        sessions
            .login(&store, &login.login, &login.password, "test", start)
            .await
            .unwrap_or_else(|e| panic!("{} cannot log in: {e}", login.login));
    }
    // A reused folder finds the same organisation again.
    let reloaded = workload::load_organisation(&cases).await.unwrap();
    assert_eq!(reloaded.streets.len(), org.streets.len());
    assert_eq!(reloaded.handlers.len(), org.handlers.len());

    // Two days of reports every six minutes, people acting at realistic delays.
    let spots = workload::spots(&store, 300, &mut rng).await.unwrap();
    assert_eq!(spots.len(), 300);
    // A spot's street is where its point lies, whatever it was sampled as (a grid's centroid
    // can fall outside the grid, even in the next street): with every fifth spot given another
    // street, still no inspector reports outside their territory (checked below).
    let streets: Vec<_> = org.streets.keys().copied().collect();
    let spots: Vec<_> = spots
        .into_iter()
        .enumerate()
        .map(|(i, mut spot)| {
            if i % 5 == 0 {
                spot.street = *streets.iter().find(|&&s| s != spot.street).unwrap();
            }
            spot
        })
        .collect();
    let mut work = Workload::new(
        cases.clone(),
        org,
        spots,
        11,
        Pace {
            report_every_us: 360_000_000.0,
            speed: 1.0,
            by_hour: false,
            crews: 50,
        },
    );
    work.start(start);
    let now = run_hours(&mut work, start, 48).await;
    let tally = work.tally;
    assert!(tally.reports > 400, "{tally:?}");
    // Reports due within one ten-minute slice run together (one every six minutes on average).
    assert!(tally.most_reports_at_once >= 3, "{tally:?}");
    assert_eq!(
        tally.refused, 0,
        "every step is allowed: {:?}",
        work.refusals
    );
    assert!(tally.linked > 0, "repeated reports merge: {tally:?}");
    assert!(
        tally.reworks > 0 && tally.ratings > 0 && tally.dissatisfied > 0,
        "{tally:?}"
    );
    assert!(tally.escalated > 0, "cases left lying escalate: {tally:?}");

    // Cases in every part of the loop, each counted once.
    let mut states: BTreeMap<String, i64> = BTreeMap::new();
    for row in sqlx::query("SELECT state, COUNT(*) FROM case_file GROUP BY state")
        .fetch_all(store.reader())
        .await
        .unwrap()
    {
        states.insert(row.try_get(0).unwrap(), row.try_get(1).unwrap());
    }
    for state in [CaseState::Rated, CaseState::Closed, CaseState::Dispatched] {
        assert!(states.contains_key(state.as_str()), "{states:?}");
    }
    let total: i64 = states.values().sum();
    assert_eq!(total as u64, tally.created, "{states:?}");
    let card = jz_app::evaluation::tally(
        &store,
        &Question {
            scope: evaluation::CITY_SCOPE.into(),
            period: Period {
                from: evaluation::day_of(start) - 1,
                to: evaluation::day_of(now) + 30,
            },
            department: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(card.all().get(Counter::Reported), total);
    let closed = states.get("closed").copied().unwrap_or(0) + states["rated"];
    assert_eq!(card.all().get(Counter::Closed), closed);
    let chain = store.verify_audit_chain().await.unwrap();
    assert!(chain.is_ok(), "{chain:?}");
}

/// What a run of the small city left: its tally, every report (text, channel, point), and every
/// case (state, version, department, reporters), each list sorted.
#[derive(Debug, PartialEq)]
struct Run {
    tally: workload::Tally,
    reports: Vec<String>,
    cases: Vec<String>,
}

/// Every row of `sql`, each written out whole (floats exactly), sorted.
async fn sorted_rows(store: &jz_store::Store, sql: &'static str) -> Vec<String> {
    let mut rows: Vec<String> = store
        .read_all(sql)
        .await
        .unwrap()
        .iter()
        .map(|row| format!("{row:?}"))
        .collect();
    rows.sort();
    rows
}

/// Twelve busy simulated hours of the small city with this seed, `in_flight` steps at once.
async fn run_small_city(seed: u64, in_flight: usize) -> Run {
    let SmallCity {
        _db,
        store,
        cases,
        admin,
        start,
    } = small_city().await;
    let org = workload::organise(&cases, &admin).await.unwrap();
    let spots = workload::spots(&store, 300, &mut Rng::new(7))
        .await
        .unwrap();
    let mut work = Workload::new(
        cases.clone(),
        org,
        spots,
        seed,
        Pace {
            report_every_us: 120_000_000.0,
            speed: 1.0,
            by_hour: false,
            crews: 2,
        },
    )
    .with_in_flight(in_flight);
    work.start(start);
    run_hours(&mut work, start, 12).await;
    let reports = sorted_rows(
        &store,
        "SELECT description, channel, input_lon, input_lat FROM case_report",
    )
    .await;
    let cases = sorted_rows(
        &store,
        "SELECT state, version, department_id, reporters FROM case_file",
    )
    .await;
    Run {
        tally: work.tally,
        reports,
        cases,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_seed_makes_the_same_reports_and_one_step_at_a_time_the_same_run() {
    let serial = run_small_city(11, 1).await;
    assert!(serial.tally.reports > 300, "{:?}", serial.tally);
    assert!(serial.tally.linked > 0, "{:?}", serial.tally);
    assert_eq!(serial.reports.len() as u64, serial.tally.reports);
    assert_eq!(serial.cases.len() as u64, serial.tally.created);
    // One step at a time: the same run again, merges and crews included.
    assert_eq!(run_small_city(11, 1).await, serial);
    // Many at once (the steps finish in any order): the same reports.
    for _ in 0..2 {
        let concurrent = run_small_city(11, workload::IN_FLIGHT).await;
        assert!(
            concurrent.tally.most_reports_at_once > 1,
            "{:?}",
            concurrent.tally
        );
        assert_eq!(concurrent.reports, serial.reports);
    }
    // Another seed, other reports.
    assert_ne!(run_small_city(12, 1).await.reports, serial.reports);
}

/// The street outline of `code` in the small city.
async fn outline(store: &jz_store::Store, code: &str) -> geo_types::MultiPolygon<f64> {
    let row = sqlx::query("SELECT geometry FROM division WHERE code = $1")
        .bind(code)
        .fetch_one(store.reader())
        .await
        .unwrap();
    let text: String = row.try_get(0).unwrap();
    jz_app::city::source::geometry_from_json(&text).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_towns_are_zoned_by_their_codes_once() {
    let SmallCity {
        _db, store, admin, ..
    } = small_city().await;
    jz_app::zones::seed_zone_types(&store, &admin)
        .await
        .unwrap();
    let pending = store.outbox_pending().await.unwrap();
    let placed = zoning::zone_towns(&store, &admin).await.unwrap();
    assert_eq!(
        store.outbox_pending().await.unwrap(),
        pending + 1,
        "one change"
    );
    // Three street offices in districts of street offices only: each zoned by the rule, over
    // its own outline.
    let model = jz_app::city::load_model(&store).await.unwrap();
    for street in ["330102001000", "330102002000", "330105001000"] {
        let code = street.parse().unwrap();
        let expected = zoning::town_zone_type(&zoning::TownFacts {
            code,
            name: "",
            village_share: 0.0,
            district_street_share: 1.0,
        });
        let zone = placed.iter().find(|z| z.id == zoning::town_zone_id(&code));
        assert_eq!(
            zone.map(|z| z.zone_type.clone()),
            expected.map(|t| t.code().to_owned()),
            "{street}"
        );
        let Some(zone) = zone else { continue };
        let inside = geo::InteriorPoint::interior_point(&outline(&store, street).await).unwrap();
        let located = model
            .locate(inside.x(), inside.y(), jz_geo::datum::Datum::Wgs84)
            .unwrap();
        assert_eq!(
            located
                .at(jz_domain::division::DivisionLevel::Street)
                .unwrap()
                .code,
            code
        );
        assert_eq!(located.zones.len(), 1, "{located:?}");
        assert_eq!(located.zones[0].id, zone.id);
    }
    assert!(!placed.is_empty());
    // A reused data folder keeps its zones.
    assert!(zoning::zone_towns(&store, &admin).await.unwrap().is_empty());
    assert_eq!(store.outbox_pending().await.unwrap(), pending + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_follow_the_zone_types_within_each_districts_share() {
    let SmallCity {
        _db,
        store,
        cases,
        admin,
        start,
    } = small_city().await;
    // In 上城区, 湖滨 a commercial district and 清波 unzoned; 米市巷, all of 拱墅区, an
    // ecological area.
    jz_app::zones::seed_zone_types(&store, &admin)
        .await
        .unwrap();
    let mut zones = Vec::new();
    for (id, street, zone_type) in [
        ("hubin", "330102001000", "commercial_district"),
        ("mishixiang", "330105001000", "ecological_area"),
    ] {
        zones.push(jz_app::zones::NewZone {
            id: id.into(),
            name: id.into(),
            zone_type: zone_type.into(),
            area: jz_app::zones::ZoneArea::Polygon(outline(&store, street).await),
            goals: None,
        });
    }
    jz_app::zones::create_zones(&store, zones, &admin)
        .await
        .unwrap();
    cases.city.reload(&store).await.unwrap();
    let org = workload::organise(&cases, &admin).await.unwrap();
    let spots = workload::spots(&store, 600, &mut Rng::new(7))
        .await
        .unwrap();
    let mut work = Workload::new(
        cases.clone(),
        org,
        spots,
        5,
        Pace {
            report_every_us: 20_000_000.0,
            speed: 1.0,
            by_hour: false,
            crews: 50,
        },
    );
    work.start(start);
    run_hours(&mut work, start, 6).await;
    let shares = work.zone_shares();
    let share = |zone_type: Option<&str>| {
        shares
            .iter()
            .find(|s| s.zone_type.as_deref() == zone_type)
            .unwrap_or_else(|| panic!("{zone_type:?} in {shares:?}"))
            .clone()
    };
    let (commercial, ecological, unzoned) = (
        share(Some("commercial_district")),
        share(Some("ecological_area")),
        share(None),
    );
    assert_eq!(shares.len(), 3, "{shares:?}");
    let places = (commercial.places + ecological.places + unzoned.places) as f64;
    let reports = (commercial.reports + ecological.reports + unzoned.reports) as f64;
    assert_eq!(reports as u64, work.tally.reports);
    assert!(reports > 900.0, "{shares:?}");
    // Within 上城区, a place of the commercial district makes twice the reports of an
    // unzoned one (intensities 2.0 and 1.0) …
    let per_place = |s: &workload::ZoneShare| s.reports as f64 / s.places as f64;
    let ratio = per_place(&commercial) / per_place(&unzoned);
    assert!((1.6..2.5).contains(&ratio), "{ratio} {shares:?}");
    // … while 拱墅区 keeps its share of the reports (its share of the places), though all of it
    // is an ecological area (intensity 0.4: 19 % instead of 46 % if it did not).
    let (place_share, report_share) = (
        ecological.places as f64 / places,
        ecological.reports as f64 / reports,
    );
    assert!(
        (report_share - place_share).abs() < 0.04,
        "{report_share} against {place_share}"
    );
    // Advertising and street order come up far more in the commercial district, rivers,
    // burning and green land in the ecological area.
    let of = |s: &workload::ZoneShare, majors: &[&str]| {
        s.majors
            .iter()
            .filter(|(m, _)| majors.contains(m))
            .map(|(_, n)| *n)
            .sum::<u64>() as f64
            / s.reports as f64
    };
    assert!(
        of(&commercial, &["07", "09"]) > 2.0 * of(&ecological, &["07", "09"]),
        "{shares:?}"
    );
    assert!(
        of(&ecological, &["04"]) > 2.0 * of(&commercial, &["04"]),
        "{shares:?}"
    );
    // What was stored agrees: every report lies in the zone of the type it was counted under.
    let model = cases.city.current();
    let mut stored: BTreeMap<Option<String>, u64> = BTreeMap::new();
    for row in sqlx::query("SELECT input_lon, input_lat FROM case_report")
        .fetch_all(store.reader())
        .await
        .unwrap()
    {
        let located = model
            .locate(
                row.try_get(0).unwrap(),
                row.try_get(1).unwrap(),
                jz_geo::datum::Datum::Wgs84,
            )
            .unwrap();
        *stored
            .entry(located.zones.first().map(|z| z.zone_type.clone()))
            .or_default() += 1;
    }
    let counted: BTreeMap<Option<String>, u64> = shares
        .iter()
        .map(|s| (s.zone_type.clone(), s.reports))
        .collect();
    assert_eq!(stored, counted);
}
