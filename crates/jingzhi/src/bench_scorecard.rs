//! Scorecards from the incremental counters vs a plain SQL scan of the cases, on the same
//! synthetic year of cases (10^7 by default), in one run.
//!
//! Both sides hold the same cases: ours as the counter rows the real projection
//! (`jz_domain::evaluation::contributions`) gives, the baseline as one row per case with the
//! facts the counters are made of (state, channel, on-time flags, ratings …) and an index on
//! (community, reported day). Each question is asked of both through the same read pool, the
//! answers are compared counter by counter, and the medians are printed with their ratio.
//!
//! The database is kept in `/var/tmp/jingzhi-bench/` (or `--scorecard-dir`) and reused by later
//! runs with the same case count: building it takes minutes, asking takes milliseconds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use jz_app::evaluation::{Period, Question};
use jz_domain::calendar::{TimeLimit, TimeUnit};
use jz_domain::case::{Case, CaseState, Channel, Place, RatingCounts, StageClock, StagesOnTime};
use jz_domain::category::{EvaluationDomain, Stage, Urgency};
use jz_domain::division::{DivisionCode, DivisionLevel};
use jz_domain::evaluation::{self, COUNTERS, Counter, Counts, Key, Tally};
use jz_store::{Location, Store, StoreOptions};
use sqlx::Row;

/// The schema version of the kept database (bump when the generator or the counters change).
const LAYOUT: u32 = 2;
const DISTRICTS: u64 = 16;
const STREETS: u64 = 15;
const COMMUNITIES: u64 = 28;
/// The simulated year starts on 2025-01-01 (day 20089 since 1970-01-01).
const FIRST_DAY: i32 = 20_089;
const DAYS: i32 = 365;
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn code(text: &str) -> DivisionCode {
    DivisionCode::parse(text).expect("generated codes are valid")
}

/// The `index`-th synthetic case of the year (deterministic).
fn synthetic_case(index: u64, total: u64) -> Case {
    let mut rng = Rng(index.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ 0x5EED);
    // Cases arrive evenly over the year, in index order.
    let day = FIRST_DAY + i32::try_from(index * u64::from(DAYS as u32) / total).unwrap_or(0);
    let reported_at_us = i64::from(day) * MICROS_PER_DAY - 8 * 3_600_000_000
        + i64::try_from(rng.below(86_400)).unwrap_or(0) * 1_000_000;
    let d = rng.below(DISTRICTS) + 1;
    let s = rng.below(STREETS) + 1;
    let c = rng.below(COMMUNITIES) + 1;
    let district = format!("3101{d:02}000000");
    let street = format!("3101{d:02}{s:03}000");
    let community = format!("3101{d:02}{s:03}{c:03}");
    let channel = match rng.below(10) {
        0..=5 => Channel::Inspector,
        6 | 7 => Channel::Hotline,
        8 => Channel::Web,
        _ => Channel::Open311,
    };
    let domain = if channel == Channel::Hotline && rng.chance(70) {
        EvaluationDomain::Satisfaction
    } else {
        EvaluationDomain::Objective
    };
    let urgency = if rng.chance(5) {
        Urgency::Urgent
    } else {
        Urgency::Normal
    };
    // Fates: rejected, waiting, cancelled, suspended, in progress, closed (rated or not).
    let age_days = FIRST_DAY + DAYS - day;
    let roll = rng.below(100);
    let rejected = roll < 4;
    let registered = !rejected && roll >= 6;
    let cancelled = registered && roll < 7;
    let dispatched = registered && !cancelled;
    let department = dispatched.then(|| match rng.below(4) {
        0 => format!("d{d:02}-sanitation"),
        1 => format!("d{d:02}-greening"),
        2 => format!("d{d:02}-roads"),
        _ => format!("s{d:02}{s:03}-office"),
    });
    let handle_days = 1 + rng.below(5);
    let deadline = reported_at_us + i64::try_from(handle_days).unwrap_or(1) * MICROS_PER_DAY;
    let finished = dispatched && (age_days > 10 || rng.chance(60));
    let suspended = dispatched && !finished && rng.chance(3);
    let handled_on_time = finished.then(|| rng.chance(90));
    let closed_on_time = finished.then(|| handled_on_time == Some(true) && rng.chance(97));
    let reworks = u32::from(finished && rng.chance(6));
    let state = if rejected {
        CaseState::Rejected
    } else if !registered {
        CaseState::Reported
    } else if cancelled {
        CaseState::Cancelled
    } else if suspended {
        CaseState::Suspended
    } else if finished {
        if rng.chance(50) {
            CaseState::Rated
        } else {
            CaseState::Closed
        }
    } else {
        CaseState::Handling
    };
    let mut ratings = RatingCounts::default();
    if state == CaseState::Rated {
        match rng.below(20) {
            0 => ratings.dissatisfied = 1,
            1..=3 => ratings.basically_satisfied = 1,
            _ => ratings.satisfied = 1,
        }
    }
    let overdue_now = state == CaseState::Handling && rng.chance(8);
    let clock = state.is_open().then_some(StageClock {
        stage: Stage::Handle,
        started_at_us: reported_at_us,
        limit: TimeLimit {
            amount: 4,
            unit: TimeUnit::WorkingHours,
        },
        extra: 0,
        warn_at_us: deadline,
        deadline_at_us: deadline,
        warned: overdue_now,
        overdue: overdue_now,
        escalated: overdue_now,
    });
    let mut on_time = |percent| Some(rng.chance(percent));
    let stages_on_time = StagesOnTime {
        register: if registered { on_time(96) } else { None },
        dispatch: if dispatched { on_time(97) } else { None },
        verify: if finished { on_time(92) } else { None },
    };
    Case {
        id: format!("case-{index}"),
        state,
        version: 1,
        channel,
        category: registered.then(|| "06010".to_owned()),
        urgency,
        domain,
        description: String::new(),
        place: Place {
            lon: 121.4,
            lat: 31.2,
            grid: format!("{community}001"),
            community: code(&community),
            street: code(&street),
            district: code(&district),
            zones: Vec::new(),
        },
        department,
        queue_reason: None,
        candidates: Vec::new(),
        level: DivisionLevel::Street,
        escalations: u32::from(overdue_now || (finished && closed_on_time == Some(false))),
        clock,
        handle_deadline_at_us: dispatched.then_some(deadline),
        reworks,
        returns: u32::from(dispatched && rng.chance(3)),
        reopens: 0,
        postponements: 0,
        pending_postponement: None,
        suspension: None,
        whistle: None,
        reporters: 1,
        rating_round: u32::from(finished),
        ratings_this_round: u32::from(state == CaseState::Rated),
        review_requested: ratings.dissatisfied > 0 && domain == EvaluationDomain::Objective,
        reported_at_us,
        registered_at_us: registered.then_some(reported_at_us + 600_000_000),
        dispatched_at_us: dispatched.then_some(reported_at_us + 1_200_000_000),
        handled_at_us: finished.then_some(deadline - 3_600_000_000),
        verified_at_us: finished.then_some(deadline),
        closed_at_us: finished.then_some(deadline),
        handled_on_time,
        closed_on_time,
        accepted_at_us: (dispatched && (finished || rng.chance(80)))
            .then_some(reported_at_us + 1_800_000_000),
        stages_on_time,
        ever_overdue: overdue_now || closed_on_time == Some(false),
        ratings,
    }
}

fn flag(value: bool) -> i64 {
    i64::from(value)
}

fn opt_flag(value: Option<bool>) -> Option<i64> {
    value.map(i64::from)
}

fn domain_text(domain: EvaluationDomain) -> &'static str {
    match domain {
        EvaluationDomain::Objective => "objective",
        EvaluationDomain::Satisfaction => "satisfaction",
    }
}

const BASELINE_TABLE: &str = "CREATE TABLE IF NOT EXISTS bench_case (
    id INTEGER PRIMARY KEY, community TEXT NOT NULL, department TEXT NOT NULL, domain TEXT NOT NULL,
    channel TEXT NOT NULL, state TEXT NOT NULL, urgency TEXT NOT NULL,
    reported_day INTEGER NOT NULL, due_day INTEGER NOT NULL,
    registered INTEGER NOT NULL, registered_on_time INTEGER, dispatched INTEGER NOT NULL,
    dispatched_on_time INTEGER, returns INTEGER NOT NULL, handled_on_time INTEGER,
    closed_on_time INTEGER, reworks INTEGER NOT NULL, verified_on_time INTEGER,
    ever_overdue INTEGER NOT NULL, escalations INTEGER NOT NULL, accepted INTEGER NOT NULL,
    review_requested INTEGER NOT NULL, overdue_now INTEGER NOT NULL,
    rated_satisfied INTEGER NOT NULL, rated_basic INTEGER NOT NULL, rated_dissatisfied INTEGER NOT NULL)";

/// The plain question: every counter recomputed from the case rows of a community-code prefix
/// (the same rules as `jz_domain::evaluation`, in SQL).
fn baseline_sql(prefix: &str) -> String {
    let reported = "reported_day BETWEEN $1 AND $2";
    let due = "due_day BETWEEN $1 AND $2";
    let public = "channel IN ('web', 'open311', 'hotline')";
    let closed = "state IN ('closed', 'rated')";
    let open = "state NOT IN ('rejected', 'closed', 'rated', 'cancelled')";
    let column = |counter: Counter| -> String {
        let (when, what) = match counter {
            Counter::Reported => (reported, "1".to_owned()),
            Counter::ByInspector => (reported, "channel = 'inspector'".into()),
            Counter::ByPublic => (reported, public.into()),
            Counter::InspectorValid => (
                reported,
                "channel = 'inspector' AND registered = 1 AND state <> 'rejected'".into(),
            ),
            Counter::Registered => (reported, "registered = 1".into()),
            Counter::RegisteredOnTime => {
                (reported, "registered = 1 AND registered_on_time = 1".into())
            }
            Counter::Rejected => (reported, "state = 'rejected'".into()),
            Counter::Cancelled => (reported, "registered = 1 AND state = 'cancelled'".into()),
            Counter::Dispatched => (reported, "dispatched = 1".into()),
            Counter::DispatchedOnTime => {
                (reported, "dispatched = 1 AND dispatched_on_time = 1".into())
            }
            Counter::Returned => (reported, "dispatched = 1 AND returns > 0".into()),
            Counter::RegisteredPublic => {
                (reported, "registered = 1 AND channel <> 'inspector'".into())
            }
            Counter::PublicRegisteredOnTime => (
                reported,
                "registered = 1 AND channel <> 'inspector' AND registered_on_time = 1".into(),
            ),
            Counter::Urgent => (reported, "registered = 1 AND urgency = 'urgent'".into()),
            Counter::Due => (due, "dispatched = 1".into()),
            Counter::Handled => (due, "dispatched = 1 AND handled_on_time IS NOT NULL".into()),
            Counter::HandledOnTime => (due, "dispatched = 1 AND handled_on_time = 1".into()),
            Counter::Closed => (due, closed.into()),
            Counter::ClosedOnTime => (due, format!("{closed} AND closed_on_time = 1")),
            Counter::Reworked => (due, "dispatched = 1 AND reworks > 0".into()),
            Counter::Overdue => (due, "ever_overdue = 1".into()),
            Counter::Escalated => (due, "escalations > 0".into()),
            Counter::Checked => (due, "verified_on_time IS NOT NULL".into()),
            Counter::CheckedOnTime => (due, "verified_on_time = 1".into()),
            Counter::Suspended => (due, "state = 'suspended'".into()),
            Counter::Open => (due, open.into()),
            Counter::OverdueOpen => (due, format!("{open} AND overdue_now = 1")),
            Counter::Responded => (due, "dispatched = 1 AND accepted = 1".into()),
            Counter::Resolved => (due, format!("{closed} AND review_requested = 0")),
            Counter::RatedSatisfied => {
                return format!("SUM(CASE WHEN {due} THEN rated_satisfied ELSE 0 END)");
            }
            Counter::RatedBasic => {
                return format!("SUM(CASE WHEN {due} THEN rated_basic ELSE 0 END)");
            }
            Counter::RatedDissatisfied => {
                return format!("SUM(CASE WHEN {due} THEN rated_dissatisfied ELSE 0 END)");
            }
        };
        format!("SUM(CASE WHEN {when} AND ({what}) THEN 1 ELSE 0 END)")
    };
    let sums: Vec<String> = Counter::ALL
        .iter()
        .map(|c| format!("CAST({} AS BIGINT)", column(*c)))
        .collect();
    let filter = if prefix.is_empty() {
        String::new()
    } else {
        format!("community >= '{prefix}' AND community < '{prefix}~' AND ")
    };
    format!(
        "SELECT domain, {} FROM bench_case WHERE {filter}(reported_day BETWEEN $1 AND $2 OR due_day BETWEEN $1 AND $2) GROUP BY domain",
        sums.join(", ")
    )
}

fn database_path(dir: &Path, cases: u64) -> PathBuf {
    dir.join(format!("scorecard-{cases}-v{LAYOUT}"))
}

/// Builds (or finds) the database with both sides loaded.
async fn prepare(dir: &Path, cases: u64) -> anyhow::Result<PathBuf> {
    let folder = database_path(dir, cases);
    let done = folder.join("complete");
    if done.exists() {
        println!("   reusing {} (delete it to rebuild)", folder.display());
        return Ok(folder);
    }
    if folder.exists() {
        std::fs::remove_dir_all(&folder)?;
    }
    std::fs::create_dir_all(&folder)?;
    // The real schema first (migrations), then a bulk load beside the running service.
    let store = Store::open(&Location::data_dir(&folder), StoreOptions::default()).await?;
    store.close().await;
    let started = Instant::now();
    let file = folder.join(jz_store::SQLITE_FILE_NAME);
    let mut db = rusqlite::Connection::open(&file)?;
    db.execute_batch(
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -1048576;",
    )?;
    db.execute_batch(BASELINE_TABLE)?;
    let columns: Vec<&str> = Counter::ALL.iter().map(|c| c.column()).collect();
    let placeholders: Vec<String> = (1..=4 + COUNTERS).map(|i| format!("?{i}")).collect();
    let counter_sql = format!(
        "INSERT INTO eval_counter (scope, day, department, domain, {}) VALUES ({})",
        columns.join(", "),
        placeholders.join(", ")
    );
    let mut rows: BTreeMap<Key, Counts> = BTreeMap::new();
    let mut written_rows = 0_u64;
    let tx = db.transaction()?;
    {
        let mut baseline = tx.prepare(
            "INSERT INTO bench_case VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26)",
        )?;
        let mut counters = tx.prepare(&counter_sql)?;
        let mut flush = |rows: &mut BTreeMap<Key, Counts>, below_day: i32| -> anyhow::Result<u64> {
            let finished: Vec<Key> = rows.keys().filter(|k| k.day < below_day).cloned().collect();
            let mut written = 0;
            for key in finished {
                let counts = rows.remove(&key).expect("listed");
                if counts.is_zero() {
                    continue;
                }
                let mut values: Vec<rusqlite::types::Value> = vec![
                    key.scope.into(),
                    i64::from(key.day).into(),
                    key.department.into(),
                    domain_text(key.domain).to_owned().into(),
                ];
                values.extend(counts.0.iter().map(|v| rusqlite::types::Value::from(*v)));
                counters.execute(rusqlite::params_from_iter(values))?;
                written += 1;
            }
            Ok(written)
        };
        let mut last_flush_day = FIRST_DAY;
        for index in 0..cases {
            let case = synthetic_case(index, cases);
            for (key, counts) in evaluation::contributions(&case) {
                *rows.entry(key).or_default() += &counts;
            }
            let report_day = evaluation::day_of(case.reported_at_us);
            let due_day = evaluation::due_day(&case).unwrap_or(report_day);
            baseline.execute(rusqlite::params![
                i64::try_from(index)?,
                case.place.community.as_str(),
                case.department.clone().unwrap_or_default(),
                domain_text(case.domain),
                case.channel.as_str(),
                case.state.as_str(),
                case.urgency.as_str(),
                report_day,
                due_day,
                flag(case.registered_at_us.is_some()),
                opt_flag(case.stages_on_time.register),
                flag(case.dispatched_at_us.is_some()),
                opt_flag(case.stages_on_time.dispatch),
                case.returns,
                opt_flag(case.handled_on_time),
                opt_flag(case.closed_on_time),
                case.reworks,
                opt_flag(case.stages_on_time.verify),
                flag(case.ever_overdue),
                case.escalations,
                flag(case.accepted_at_us.is_some()),
                flag(case.review_requested),
                flag(case.clock.as_ref().is_some_and(|c| c.overdue)),
                case.ratings.satisfied,
                case.ratings.basically_satisfied,
                case.ratings.dissatisfied,
            ])?;
            // Due days lie at most 6 days after the report day: older days are complete.
            if report_day > last_flush_day + 30 {
                written_rows += flush(&mut rows, report_day - 7)?;
                last_flush_day = report_day;
            }
            if index > 0 && index % 1_000_000 == 0 {
                eprintln!(
                    "   … {index} cases, {written_rows} counter rows, {:.0} s",
                    started.elapsed().as_secs_f64()
                );
            }
        }
        written_rows += flush(&mut rows, i32::MAX)?;
    }
    tx.commit()?;
    let load = started.elapsed();
    let indexed = Instant::now();
    db.execute_batch(
        "CREATE INDEX bench_case_community ON bench_case (community, reported_day); ANALYZE;",
    )?;
    println!(
        "   built {cases} cases: {written_rows} counter rows (ours) and {cases} case rows (baseline) in {:.0} s, baseline index in {:.0} s",
        load.as_secs_f64(),
        indexed.elapsed().as_secs_f64()
    );
    drop(db);
    std::fs::write(&done, b"ok")?;
    Ok(folder)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

pub(crate) fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

async fn baseline_tally(store: &Store, prefix: &str, period: Period) -> anyhow::Result<Tally> {
    let sql = baseline_sql(prefix);
    let mut tally = Tally::default();
    for row in sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(i64::from(period.from))
        .bind(i64::from(period.to))
        .fetch_all(store.reader())
        .await?
    {
        let domain: String = row.try_get(0)?;
        let mut counts = Counts::default();
        for (i, slot) in counts.0.iter_mut().enumerate() {
            *slot = row.try_get::<Option<i64>, _>(1 + i)?.unwrap_or(0);
        }
        let domain = if domain == "satisfaction" {
            EvaluationDomain::Satisfaction
        } else {
            EvaluationDomain::Objective
        };
        tally.add(domain, &counts);
    }
    Ok(tally)
}

pub async fn run(cases: u64, dir: Option<PathBuf>, rounds: usize) -> anyhow::Result<()> {
    println!(
        "\n== scorecards: incremental counters vs a plain SQL scan of the cases, SQLite, {cases} cases over one year =="
    );
    let dir = dir.unwrap_or_else(|| PathBuf::from("/var/tmp/jingzhi-bench"));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let folder = prepare(&dir, cases).await?;
    let store = Store::open(&Location::data_dir(&folder), StoreOptions::default()).await?;
    let year = Period {
        from: FIRST_DAY,
        to: FIRST_DAY + DAYS - 1,
    };
    let questions: [(&str, &str, &str, Period); 4] = [
        ("city, whole year", "city", "", year),
        (
            "district, one quarter",
            "310105000000",
            "310105",
            Period {
                from: FIRST_DAY + 90,
                to: FIRST_DAY + 180,
            },
        ),
        (
            "street, one month",
            "310107004000",
            "310107004",
            Period {
                from: FIRST_DAY + 200,
                to: FIRST_DAY + 229,
            },
        ),
        (
            "community, whole year",
            "310112003017",
            "310112003017",
            year,
        ),
    ];
    println!(
        "   {:<24} {:>14} {:>14} {:>9}  same answer",
        "question", "ours (ms)", "scan (ms)", "ratio"
    );
    for (name, scope, prefix, period) in questions {
        let question = Question {
            scope: scope.to_owned(),
            period,
            department: None,
        };
        let mut ours = Vec::new();
        let mut scan = Vec::new();
        let mut same = true;
        for _ in 0..rounds.max(1) {
            let t = Instant::now();
            let a = jz_app::evaluation::tally(&store, &question).await?;
            ours.push(t.elapsed());
            let t = Instant::now();
            let b = baseline_tally(&store, prefix, period).await?;
            scan.push(t.elapsed());
            same &= a == b;
        }
        let (ours, scan) = (median(ours), median(scan));
        println!(
            "   {name:<24} {:>14.2} {:>14.1} {:>8.0}×  {}",
            ms(ours),
            ms(scan),
            scan.as_secs_f64() / ours.as_secs_f64().max(1e-9),
            if same { "yes" } else { "NO" }
        );
        anyhow::ensure!(same, "{name}: the counters and the scan disagree");
    }
    store.close().await;
    Ok(())
}
