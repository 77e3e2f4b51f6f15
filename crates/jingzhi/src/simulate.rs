//! `jingzhi simulate`: a synthetic megacity on the real Shanghai map — reports spread by
//! district population, time of day and category, inspectors patrolling their streets,
//! departments with finite crews — run for N simulated days as fast as the real store allows,
//! ending with a report: throughput, SLA attainment, escalations, evaluation per district.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use jz_app::evaluation::{Period, Question};
use jz_app::workload::{self, Pace, Rng, Workload};
use jz_domain::division::DivisionLevel;
use jz_domain::evaluation::{self, Counter, ScopeFacts};
use jz_store::{Location, Store, StoreOptions};

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Simulated days.
    #[arg(long, default_value_t = 1)]
    pub days: u32,
    /// Reports a day across the city (a megacity of 25 million makes about a million).
    #[arg(long, default_value_t = 1_000_000)]
    pub reports_per_day: u64,
    /// Seed: the same seed makes the same reports, places, texts and people's choices.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Crews per department (each handles one case at a time).
    #[arg(long, default_value_t = 40)]
    pub crews: usize,
    /// Steps run concurrently while none still running is more than this many simulated
    /// seconds older (steps of different cases are reordered by less than this).
    #[arg(long, default_value_t = 60)]
    pub slice_seconds: u32,
    /// Steps run at once, at most. The reports and each case's choices are the same for a seed
    /// either way; with 1, two runs of a seed are identical step for step (merges and crews
    /// too), but each step then waits for its own commit (much slower).
    #[arg(long, default_value_t = workload::IN_FLIGHT)]
    pub in_flight: usize,
}

/// Resident population by district (2020 census, 万 = 10,000): reports follow it.
const POPULATION: &[(&str, f64)] = &[
    ("310101", 66.2),
    ("310104", 111.3),
    ("310105", 69.3),
    ("310106", 97.6),
    ("310107", 123.9),
    ("310109", 75.8),
    ("310110", 124.3),
    ("310112", 265.3),
    ("310113", 223.5),
    ("310114", 183.4),
    ("310115", 568.2),
    ("310116", 82.3),
    ("310117", 191.1),
    ("310118", 127.1),
    ("310120", 114.1),
    ("310151", 63.8),
];

/// The first simulated day: Monday 2026-11-02, Asia/Shanghai.
const FIRST_DAY_US: i64 = 1_793_548_800_000_000;

/// An indicator's value as a percentage, or a dash without data.
fn percent(code: &str, tally: &jz_domain::evaluation::Tally, facts: &ScopeFacts) -> String {
    evaluation::indicator_value(code, tally, facts)
        .map_or_else(|| "   —".to_owned(), |v| format!("{:5.1} %", v * 100.0))
}

/// `type ×n` per zone type, most first.
fn count_by_type<'a>(types: impl Iterator<Item = &'a str>) -> String {
    let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for zone_type in types {
        *counts.entry(zone_type).or_default() += 1;
    }
    let mut counts: Vec<(&str, usize)> = counts.into_iter().collect();
    counts.sort_by_key(|(zone_type, n)| (std::cmp::Reverse(*n), *zone_type));
    counts
        .iter()
        .map(|(zone_type, n)| format!("{zone_type} ×{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Per zone type: its share of the report places and of the reports, the major classes most
/// reported there, and how its zones' cases went.
async fn zone_report(
    store: &Store,
    work: &Workload,
    period: Period,
    days: i32,
) -> anyhow::Result<()> {
    let shares = work.zone_shares();
    let places: usize = shares.iter().map(|s| s.places).sum();
    let reports: u64 = shares.iter().map(|s| s.reports).sum();
    if places == 0 || reports == 0 {
        return Ok(());
    }
    // The zones of each type, and their counters summed.
    let zones = jz_app::zones::zones(store).await?;
    let scopes: Vec<String> = zones
        .iter()
        .map(|z| format!("{}{}", evaluation::ZONE_PREFIX, z.id))
        .collect();
    let tallies = jz_app::evaluation::tallies(store, &scopes, period).await?;
    let mut by_type: std::collections::HashMap<&str, (usize, jz_domain::evaluation::Tally)> =
        std::collections::HashMap::new();
    for (zone, scope) in zones.iter().zip(&scopes) {
        let entry = by_type.entry(zone.zone_type.as_str()).or_default();
        entry.0 += 1;
        if let Some(tally) = tallies.get(scope) {
            entry.1.merge(tally);
        }
    }
    let facts = ScopeFacts {
        grids: 0,
        area_km2: 0.0,
        days: days as u32,
    };
    let pct = |code: &str, tally: &jz_domain::evaluation::Tally| percent(code, tally, &facts);
    println!(
        "\nby zone type (a district keeps its population's share of reports; within it a zone type weighs its places and categories)"
    );
    println!(
        "{:<24} {:>5} {:>8} {:>9} {:>9} {:>8} {:>8}  most reported major classes",
        "zone type", "zones", "% places", "% reports", "per place", "closed", "on time"
    );
    for share in &shares {
        let place_share = share.places as f64 / places as f64;
        let report_share = share.reports as f64 / reports as f64;
        let (zone_count, tally) = share
            .zone_type
            .as_deref()
            .and_then(|t| by_type.get(t))
            .copied()
            .unwrap_or_default();
        let majors: Vec<String> = share
            .majors
            .iter()
            .take(3)
            .map(|(major, n)| {
                format!(
                    "{major} {:.0} %",
                    *n as f64 * 100.0 / share.reports.max(1) as f64
                )
            })
            .collect();
        let (closed, on_time) = match share.zone_type {
            Some(_) => (
                pct("closure_rate", &tally),
                pct("on_time_closure_rate", &tally),
            ),
            None => ("   —".to_owned(), "   —".to_owned()),
        };
        println!(
            "{:<24} {:>5} {:>7.1}% {:>8.1}% {:>8.2}× {:>8} {:>8}  {}",
            share.zone_type.as_deref().unwrap_or("(no zone)"),
            zone_count,
            place_share * 100.0,
            report_share * 100.0,
            report_share / place_share.max(f64::MIN_POSITIVE),
            closed,
            on_time,
            majors.join(", ")
        );
    }
    Ok(())
}

fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// What a simulation measured.
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    pub wall_seconds: f64,
    pub simulated_seconds: f64,
    pub reports: u64,
    pub steps: u64,
}

pub async fn run(
    data: Option<PathBuf>,
    database: Option<String>,
    args: &SimulateArgs,
) -> anyhow::Result<Figures> {
    anyhow::ensure!(args.days > 0, "--days must be at least 1");
    anyhow::ensure!(
        args.reports_per_day > 0,
        "--reports-per-day must be at least 1"
    );
    anyhow::ensure!(args.in_flight > 0, "--in-flight must be at least 1");
    let location = match (&database, data) {
        (Some(url), _) => Location::parse_url(url)?,
        (None, Some(dir)) => Location::data_dir(&dir),
        (None, None) => {
            let dir = std::env::temp_dir().join(format!(
                "jingzhi-simulate-{}",
                crate::city::now_us() / 1_000_000
            ));
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            Location::data_dir(&dir)
        }
    };
    // A batch run: throughput over each commit's latency (see `StoreOptions::batch`).
    let options = StoreOptions::batch();
    let checkpoint_ms = options.checkpoint_interval.as_millis();
    let store = Store::open(&location, options).await?;
    match store.backend() {
        jz_store::Backend::Sqlite => println!(
            "simulating on {} (WAL checkpoints at most every {checkpoint_ms} ms)",
            store.location()
        ),
        jz_store::Backend::Postgres => println!("simulating on {}", store.location()),
    }
    let admin = crate::city::cli_actor("jingzhi simulate");
    if jz_app::city::load_model(&store).await?.division_count() == 0 {
        crate::city::import(
            &store,
            crate::city::ImportCommand::Shanghai(crate::city::GenerationArgs::default()),
        )
        .await?;
    }
    jz_app::zones::seed_zone_types(&store, &admin).await?;
    // Zones over the towns and streets (a reused data folder keeps its own).
    let placed = workload::zoning::zone_towns(&store, &admin).await?;
    if !placed.is_empty() {
        println!(
            "zoned {} towns and streets by their codes and names: {}",
            placed.len(),
            count_by_type(placed.iter().map(|z| z.zone_type.as_str()))
        );
    }
    let city = Arc::new(jz_app::city::SharedCity::new(
        jz_app::city::load_model(&store).await?,
    ));
    let cases = Arc::new(jz_app::cases::Cases::open(store.clone(), city.clone()).await?);
    let org = if jz_app::workload::organised(&store).await? {
        workload::load_organisation(&cases).await?
    } else {
        workload::organise(&cases, &admin).await?
    };
    let mut rng = Rng::new(args.seed);
    let spots = workload::spots_by_weight(&store, 200_000, POPULATION, &mut rng).await?;
    anyhow::ensure!(!spots.is_empty(), "the imported city has no unit grids");
    println!(
        "{} departments with {} crews each, {} streets patrolled, {} report places; {} reports a day for {} day(s)",
        cases.config.current().departments.len(),
        args.crews,
        org.streets.len(),
        spots.len(),
        args.reports_per_day,
        args.days
    );
    let mut work = Workload::new(
        cases.clone(),
        org,
        spots,
        args.seed,
        Pace {
            report_every_us: 86_400_000_000.0 / args.reports_per_day as f64,
            speed: 1.0,
            by_hour: true,
            crews: args.crews,
        },
    )
    .with_in_flight(args.in_flight);
    let start = FIRST_DAY_US;
    let end = start + i64::from(args.days) * 86_400_000_000;
    let hour = 3_600_000_000_i64;
    let bar = ProgressBar::new(u64::from(args.days) * 24);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix:>12} [{bar:40}] {pos}/{len} simulated hours ({elapsed}, eta {eta}) {msg}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar.set_prefix("simulating");
    let began = Instant::now();
    work.start(start);
    let mut now = start;
    while now < end {
        now = (now + hour).min(end);
        work.run_until(now, i64::from(args.slice_seconds.max(1)) * 1_000_000)
            .await?;
        work.deadlines(now).await?;
        let t = work.tally;
        let elapsed = began.elapsed().as_secs_f64().max(1e-9);
        let message = format!(
            "{} reports, {} steps, {:.0} reports/s",
            t.reports,
            t.commands + t.ratings,
            t.reports as f64 / elapsed
        );
        bar.inc(1);
        // Without a terminal the bar is hidden: a line every simulated hour instead.
        if bar.is_hidden() {
            eprintln!(
                "simulated {} h of {} in {:.0} s: {message}",
                bar.position(),
                bar.length().unwrap_or(0),
                elapsed
            );
        }
        bar.set_message(message);
    }
    bar.finish();
    let wall = began.elapsed().as_secs_f64();
    let t = work.tally;
    let steps = t.commands + t.ratings;
    println!(
        "\n{} simulated day(s) in {:.0} s wall ({:.1}× real time): {} reports ({:.0}/s), {} cases, {} merged, {} workflow steps ({:.0}/s), {} ratings ({} dissatisfied), {} reworks; {} warnings, {} overdue, {} escalations; {} refused{}",
        args.days,
        wall,
        (end - start) as f64 / 1e6 / wall,
        t.reports,
        t.reports as f64 / wall,
        t.created,
        t.linked,
        steps,
        steps as f64 / wall,
        t.ratings,
        t.dissatisfied,
        t.reworks,
        t.warned,
        t.overdue,
        t.escalated,
        t.refused,
        work.refusals
            .first()
            .map(|r| format!(" (first: {r})"))
            .unwrap_or_default()
    );
    // SLA attainment and evaluation per district, from the counters.
    let period = Period {
        from: evaluation::day_of(start),
        to: evaluation::day_of(end - 1) + 7,
    };
    let city_tally = jz_app::evaluation::tally(
        &store,
        &Question {
            scope: evaluation::CITY_SCOPE.into(),
            period,
            department: None,
        },
    )
    .await?;
    let days = period.to - period.from + 1;
    let facts = ScopeFacts {
        grids: city.current().grid_count() as u64,
        area_km2: 0.0,
        days: days as u32,
    };
    let pct = |code: &str, tally: &jz_domain::evaluation::Tally| percent(code, tally, &facts);
    println!(
        "SLA: handled on time {} · closed {} · closed on time {} · satisfaction {} · escalated cases {}",
        pct("on_time_handling_rate", &city_tally),
        pct("closure_rate", &city_tally),
        pct("on_time_closure_rate", &city_tally),
        pct("satisfaction_rate", &city_tally),
        city_tally.all().get(Counter::Escalated)
    );
    let model = city.current();
    let districts: Vec<(String, String)> = model
        .divisions_at(DivisionLevel::District)
        .into_iter()
        .map(|d| (d.code.as_str().to_owned(), d.name.clone()))
        .collect();
    let keys: Vec<String> = districts.iter().map(|(c, _)| c.clone()).collect();
    let tallies = jz_app::evaluation::tallies(&store, &keys, period).await?;
    let evaluations = jz_app::evaluation::Evaluations::default();
    println!(
        "{:<14} {:>9} {:>10} {:>12} {:>10} {:>7} {:>5}",
        "district", "reported", "closed", "on time", "overdue", "score", "grade"
    );
    for (code, name) in &districts {
        let tally = tallies.get(code).copied().unwrap_or_default();
        let (grids, area_km2) = evaluations.extents_of(&store, &city, code).await?;
        let facts = ScopeFacts {
            grids,
            area_km2,
            days: days as u32,
        };
        let score = evaluation::area_score(&tally, &facts);
        println!(
            "{:<14} {:>9} {:>10} {:>12} {:>10} {:>7} {:>5}",
            name,
            tally.all().get(Counter::Reported),
            pct("closure_rate", &tally),
            pct("on_time_closure_rate", &tally),
            tally.all().get(Counter::Overdue),
            score.map_or_else(|| "—".into(), |s| format!("{s:.1}")),
            score.map_or_else(|| "—".into(), |s| evaluation::grade(s).to_string()),
        );
    }
    zone_report(&store, &work, period, days).await?;
    if let Some(rss) = peak_rss_mb() {
        println!("peak RSS {rss:.0} MB");
    }
    store.close().await;
    Ok(Figures {
        wall_seconds: wall,
        simulated_seconds: (end - start) as f64 / 1e6,
        reports: t.reports,
        steps,
    })
}
