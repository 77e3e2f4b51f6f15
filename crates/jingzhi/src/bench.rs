//! `jingzhi bench`: benchmarks that run Jingzhi and a named baseline side by side in one process
//! and print both absolute figures and their ratio.
//!
//! Shared machines are noisy, so each side runs several rounds, alternating, and the median is
//! reported.

use std::time::{Duration, Instant};

use clap::Args;
use jz_domain::audit::AuditRecord;
use jz_store::{Change, Location, OutboxMessage, Statement, Store, StoreOptions, WriterOptions};

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Concurrent writers in the store benchmark.
    #[arg(long, default_value_t = 64)]
    writers: usize,
    /// Acknowledged writes per round of the group-commit side.
    #[arg(long, default_value_t = 40_000)]
    writes: usize,
    /// Acknowledged writes per round of the one-transaction-per-write baseline (it is slower).
    #[arg(long, default_value_t = 8_000)]
    baseline_writes: usize,
    /// Rounds per side; the median round is reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Reports in the saturated group-commit side of the intake benchmark.
    #[arg(long, default_value_t = 60_000)]
    intake_reports: usize,
    /// Reports in the saturated one-transaction-per-report side (it is slower).
    #[arg(long, default_value_t = 10_000)]
    intake_baseline_reports: usize,
    /// Keep-alive HTTP connections of the saturated intake clients (256: with 128, the
    /// reports in the writer's batch were most of those in flight, and the request threads ran
    /// out of work while it synced; see docs/benchmarks.md, thirteenth session).
    #[arg(long, default_value_t = 256)]
    intake_connections: usize,
    /// Reports in the group-commit side's run at 1,000 reports/s (the one-transaction side,
    /// which cannot keep that pace, sends at most 5,000).
    #[arg(long, default_value_t = 20_000)]
    intake_paced_reports: usize,
    /// Cases in the scorecard benchmark (one synthetic year).
    #[arg(long, default_value_t = 10_000_000)]
    scorecard_cases: u64,
    /// Where the scorecard benchmark keeps its database between runs.
    #[arg(long)]
    scorecard_dir: Option<std::path::PathBuf>,
    /// Reports in the simulated megacity day of the benchmark.
    #[arg(long, default_value_t = 1_000_000)]
    simulate_reports_per_day: u64,
    /// Run only these benchmarks (store, locate, routing, intake, scorecard, simulate); all when
    /// absent.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// PostgreSQL with PostGIS for the baselines that need it.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:54329/postgres")]
    postgis: String,
    /// Random point lookups per side of the locate benchmark (PostGIS gets a twentieth).
    #[arg(long, default_value_t = 1_000_000)]
    lookups: usize,
    /// Use only the first N grids in code order (a contiguous part of the city); 0 = all.
    #[arg(long, default_value_t = 0)]
    locate_grids: usize,
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    print_machine();
    let wanted = |name: &str| args.only.is_empty() || args.only.iter().any(|o| o == name);
    if wanted("store") {
        store_group_commit(&args).await?;
    }
    if wanted("locate") {
        crate::bench_locate::locate_vs_postgis(&args.postgis, args.lookups, args.locate_grids)
            .await?;
    }
    if wanted("routing") {
        routing(args.rounds.max(5));
    }
    if wanted("scorecard") {
        crate::bench_scorecard::run(
            args.scorecard_cases,
            args.scorecard_dir.clone(),
            args.rounds.max(5),
        )
        .await?;
    }
    if wanted("simulate") {
        println!(
            "\n== a simulated megacity day: {} reports through the real intake and workflow, SQLite synchronous=FULL ==",
            args.simulate_reports_per_day
        );
        // The simulated day's database (several GB) lives in a folder removed afterwards.
        let folder = tempfile::Builder::new()
            .prefix("jingzhi-bench-simulate-")
            .tempdir()?;
        let figures = crate::simulate::run(
            Some(folder.path().to_owned()),
            None,
            &crate::simulate::SimulateArgs {
                days: 1,
                reports_per_day: args.simulate_reports_per_day,
                seed: 1,
                crews: 40,
                slice_seconds: 60,
                in_flight: jz_app::workload::IN_FLIGHT,
            },
        )
        .await?;
        println!(
            "   simulated day: {:.0} s wall for {:.0} s of city life = {:.1}× real time; {} reports, {} workflow steps; target: < 600 s wall ({})",
            figures.wall_seconds,
            figures.simulated_seconds,
            figures.simulated_seconds / figures.wall_seconds,
            figures.reports,
            figures.steps,
            if figures.wall_seconds < 600.0 {
                "met"
            } else {
                "NOT met"
            }
        );
    }
    if wanted("intake") {
        crate::bench_intake::run(
            args.intake_reports,
            args.intake_baseline_reports,
            args.intake_connections,
            args.intake_paced_reports,
        )
        .await?;
    }
    Ok(())
}

/// Routing a report by a city's responsibility rules: the rule book's index against reading
/// every rule, with a rule per matter and street (250 matters × 200 streets = 50,000 rules) and
/// a city-wide rule per major class at district level.
fn routing(rounds: usize) {
    use jz_domain::division::{DivisionCode, DivisionLevel};
    use jz_domain::responsibility::{
        CategoryScope, Placement, ResponsibilityRule, RuleBook, Territory, route,
    };
    const LOOKUPS: usize = 2_000;
    let city = DivisionCode::parse("310100000000").expect("Shanghai's code");
    let streets: Vec<DivisionCode> = (0..200)
        .map(|i| {
            DivisionCode::parse(&format!("3101{:02}{:03}000", 1 + i / 20, 1 + i % 20))
                .expect("a street code")
        })
        .collect();
    let categories: Vec<String> = (0..250)
        .map(|i| format!("{:02}{:03}", 1 + i / 25, 1 + i % 25))
        .collect();
    let mut rules = Vec::new();
    for (s, street) in streets.iter().enumerate() {
        for (c, category) in categories.iter().enumerate() {
            rules.push(ResponsibilityRule {
                id: format!("rule-{s:03}-{c:03}"),
                category: CategoryScope::Code(category.clone()),
                territory: Territory::Division(*street),
                level: DivisionLevel::Street,
                department: format!("street-{s:03}"),
                priority: 1,
                fallback: false,
            });
        }
    }
    for major in 1..=10 {
        rules.push(ResponsibilityRule {
            id: format!("rule-major-{major:02}"),
            category: CategoryScope::Major(format!("{major:02}")),
            territory: Territory::Division(city),
            level: DivisionLevel::District,
            department: format!("bureau-{major:02}"),
            priority: 1,
            fallback: false,
        });
    }
    let book = RuleBook::new(rules.clone());
    let lookups: Vec<(usize, usize)> = (0..LOOKUPS)
        .map(|i| ((i * 7919) % streets.len(), (i * 104_729) % categories.len()))
        .collect();
    let time = |indexed: bool| {
        let started = Instant::now();
        for &(s, c) in &lookups {
            let divisions = [streets[s], city];
            let at = Placement {
                divisions: &divisions,
                zones: &[],
            };
            let routing = if indexed {
                book.route(&categories[c], at, DivisionLevel::Street)
            } else {
                route(&rules, &categories[c], at, DivisionLevel::Street)
            };
            std::hint::black_box(routing);
        }
        started.elapsed() / LOOKUPS as u32
    };
    let (mut scan, mut index) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        scan.push(time(false));
        index.push(time(true));
    }
    let median = crate::bench_scorecard::median;
    let (scan, index) = (median(scan), median(index));
    println!(
        "\n== routing a report: {} responsibility rules (a rule per matter and street) ==",
        rules.len()
    );
    println!(
        "   reading every rule {:>9.1} µs per report | rule book (indexed by scope and territory) {:>6.1} µs | {:.0}× (median of {rounds} rounds of {LOOKUPS})",
        scan.as_secs_f64() * 1e6,
        index.as_secs_f64() * 1e6,
        scan.as_secs_f64() / index.as_secs_f64()
    );
}

/// A fixed single-core workload, timed: the machine's speed at the moment, apart from Jingzhi's
/// code. A chain of xorshift steps, each reading a 1 MiB table at the place the last one
/// chose, so both the core and its caches count. On a shared machine the same work takes
/// ±30 % from one minute to the next; a benchmark prints this beside its CPU figures so that a
/// slow run can be told from slow code.
pub(crate) fn machine_probe() -> Duration {
    const STEPS: u32 = 1 << 25;
    let table: Vec<u64> = (0..1u64 << 17)
        .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .collect();
    let mask = table.len() - 1;
    let start = Instant::now();
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    for _ in 0..STEPS {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x ^= table[(x as usize) & mask];
    }
    std::hint::black_box(x);
    start.elapsed()
}

fn print_machine() {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split(':').nth(1))
                .map(|name| name.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "machine: {cpu}, {cores} cores, {} {}",
        std::env::consts::OS,
        std::env::consts::ARCH
    );
}

/// One round's outcome.
#[derive(Debug, Clone, Copy)]
struct Round {
    writes_per_s: f64,
    p50: Duration,
    p99: Duration,
}

async fn store_group_commit(args: &BenchArgs) -> anyhow::Result<()> {
    println!(
        "\n== store: acknowledged writes/s, SQLite WAL synchronous=FULL, {} concurrent writers ==",
        args.writers
    );
    println!(
        "   each write: 1 report row (2 secondary indexes) + 1 audit entry + 1 outbox message, durable when acknowledged"
    );
    let mut group = Vec::new();
    let mut single = Vec::new();
    for round in 1..=args.rounds {
        let baseline = store_round(1, args.writers, args.baseline_writes).await?;
        let ours = store_round(
            WriterOptions::default().max_batch,
            args.writers,
            args.writes,
        )
        .await?;
        println!(
            "   round {round}: one-transaction-per-write {:>9.0} writes/s | group commit {:>9.0} writes/s",
            baseline.writes_per_s, ours.writes_per_s
        );
        single.push(baseline);
        group.push(ours);
    }
    let baseline = median(&mut single);
    let ours = median(&mut group);
    println!(
        "   baseline  one transaction per write: {:>9.0} writes/s  p50 {:>7.2} ms  p99 {:>7.2} ms",
        baseline.writes_per_s,
        ms(baseline.p50),
        ms(baseline.p99)
    );
    println!(
        "   jingzhi   group-commit writer:       {:>9.0} writes/s  p50 {:>7.2} ms  p99 {:>7.2} ms",
        ours.writes_per_s,
        ms(ours.p50),
        ms(ours.p99)
    );
    println!(
        "   ratio (median of {} rounds): group commit is {:.1}x one-transaction-per-write",
        args.rounds,
        ours.writes_per_s / baseline.writes_per_s
    );
    Ok(())
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn median(rounds: &mut [Round]) -> Round {
    rounds.sort_by(|a, b| a.writes_per_s.total_cmp(&b.writes_per_s));
    rounds[rounds.len() / 2]
}

async fn store_round(max_batch: usize, writers: usize, writes: usize) -> anyhow::Result<Round> {
    let folder = tempfile::tempdir()?;
    let options = StoreOptions {
        writer: WriterOptions {
            max_batch,
            ..WriterOptions::default()
        },
        ..StoreOptions::default()
    };
    let store = Store::open(&Location::data_dir(folder.path()), options).await?;
    store
        .write(Change::new()
            .statement(Statement::new(
                "CREATE TABLE bench_report (id TEXT PRIMARY KEY, writer BIGINT NOT NULL, category TEXT NOT NULL, grid TEXT NOT NULL, description TEXT NOT NULL, at_us BIGINT NOT NULL)",
            ))
            .statement(Statement::new("CREATE INDEX bench_report_grid ON bench_report (grid, at_us)"))
            .statement(Statement::new("CREATE INDEX bench_report_category ON bench_report (category, at_us)")))
        .await?;
    let per_writer = writes.div_ceil(writers);
    let sequence = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(writers);
    for writer in 0..writers {
        let store = store.clone();
        let sequence = sequence.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_writer);
            for n in 0..per_writer {
                let sent = Instant::now();
                let serial = sequence.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                store.write(report(writer, n, serial)).await?;
                latencies.push(sent.elapsed());
            }
            Ok::<_, jz_store::StoreError>(latencies)
        }));
    }
    let mut latencies = Vec::with_capacity(writes);
    for task in tasks {
        latencies.extend(task.await??);
    }
    let elapsed = started.elapsed();
    store.close().await;
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Ok(Round {
        writes_per_s: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
    })
}

/// A report like intake writes it; ids are time-ordered (as UUIDv7 ids are), so rows append.
fn report(writer: usize, n: usize, serial: i64) -> Change {
    let at_us = 1_780_000_000_000_000 + serial;
    let id = format!("{at_us:016x}-{writer:04x}");
    Change::new()
        .statement(
            Statement::new("INSERT INTO bench_report (id, writer, category, grid, description, at_us) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(id.clone())
                .bind(writer as i64)
                .bind(format!("0{}001", n % 9 + 1))
                .bind(format!("310101002001{:04}", n % 500))
                .bind("人民广场附近人行道上有垃圾堆积，影响行人通行，请尽快处理。")
                .bind(at_us),
        )
        .audit(AuditRecord {
            at_us,
            actor: format!("user:{writer}"),
            actor_role: "grid_inspector".into(),
            action: "report.create".into(),
            subject_kind: "report".into(),
            subject_id: id.clone(),
            origin: "bench".into(),
            before: None,
            after: Some(format!("{{\"id\":\"{id}\"}}")),
        })
        .outbox(OutboxMessage { topic: "report.created".into(), payload: format!("{{\"id\":\"{id}\"}}"), due_at_us: at_us })
}
