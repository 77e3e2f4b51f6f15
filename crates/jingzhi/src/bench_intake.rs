//! `jingzhi bench --only intake`: end-to-end durable intake over HTTP — locate on the real
//! Shanghai model, classify, merge duplicates, dispatch, commit with audit — on SQLite
//! `synchronous=FULL`, with the group-commit writer beside the same path with one transaction
//! per report. Clients are real HTTP/1.1 keep-alive connections over loopback in this process.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use jz_app::cases::config;
use jz_app::city::{FieldMapping, ImportOptions, SharedCity};
use jz_domain::access::Role;
use jz_domain::division::{DivisionCode, DivisionLevel};
use jz_domain::responsibility::{DepartmentKind, ResponsibilityRule, Territory};
use jz_store::{Location, Store, StoreOptions, WriterOptions};

use crate::city::cli_actor;

/// Matter codes the simulated inspectors choose from.
const CATEGORIES: [&str; 16] = [
    "06010", "06011", "06012", "06013", "06027", "06028", "06029", "06036", "06042", "07001",
    "08001", "08004", "09006", "09009", "09010", "09011",
];
/// Citizen texts without a category (classified on intake).
const TEXTS: [&str; 8] = [
    "小区门口垃圾堆了好几天没人清理，臭味很大",
    "路口的井盖不见了，晚上很危险",
    "楼下饭店油烟直排，窗户都不敢开",
    "人行道上好多共享单车乱停，走路都没法走",
    "工地晚上十二点还在施工，噪音太大睡不着",
    "路灯坏了一个多星期了没人修",
    "有人在绿化带里私搭棚子",
    "马路上有个大坑，电动车经过容易摔倒",
];

#[derive(Debug, Clone, Copy)]
struct Outcome {
    reports_per_s: f64,
    p50: Duration,
    p99: Duration,
    count: usize,
}

/// The load generator's threads (a runtime of their own, so their CPU is counted apart).
const LOAD_THREAD: &str = "jingzhi-load";

/// CPU time used so far by this process, by its writer thread and by the load generator's
/// threads, and the bytes the writer (WAL frames) and the checkpointer (pages copied into the
/// database file) wrote, from `/proc` (Linux; `None` elsewhere). The figures per report say where
/// the time goes when the run is CPU-bound, and how many bytes each report costs the disk.
#[derive(Debug, Clone, Copy)]
struct CpuTimes {
    process: Duration,
    writer: Duration,
    load: Duration,
    wal_bytes: u64,
    checkpoint_bytes: u64,
}

impl CpuTimes {
    fn now() -> Option<CpuTimes> {
        let process = Self::of(&std::fs::read_to_string("/proc/self/stat").ok()?)?;
        let (mut writer, mut load) = (Duration::ZERO, Duration::ZERO);
        let (mut wal_bytes, mut checkpoint_bytes) = (0, 0);
        for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
            let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
            if stat.contains("(jingzhi-writer)") {
                writer += Self::of(&stat).unwrap_or_default();
                wal_bytes += Self::written(&task.path());
            } else if stat.contains("(jingzhi-checkpo") {
                // Thread names are cut to 15 bytes: "jingzhi-checkpoint".
                checkpoint_bytes += Self::written(&task.path());
            } else if stat.contains(&format!("({LOAD_THREAD})")) {
                load += Self::of(&stat).unwrap_or_default();
            }
        }
        Some(CpuTimes {
            process,
            writer,
            load,
            wal_bytes,
            checkpoint_bytes,
        })
    }

    /// Bytes a thread has written (`wchar` of its `io` file; 0 when unreadable).
    fn written(task: &std::path::Path) -> u64 {
        std::fs::read_to_string(task.join("io"))
            .unwrap_or_default()
            .lines()
            .find_map(|line| line.strip_prefix("wchar:"))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or(0)
    }

    /// User plus system time from a `stat` line (fields 14 and 15, in USER_HZ = 100 ticks).
    fn of(stat: &str) -> Option<Duration> {
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        Some(Duration::from_millis(ticks * 10))
    }

    /// Per report between `self` and `later`.
    fn per_report(self, later: CpuTimes, reports: usize) -> PerReport {
        let reports = reports.max(1) as f64;
        let per = |a: Duration, b: Duration| b.saturating_sub(a).as_secs_f64() * 1e6 / reports;
        let kb = |a: u64, b: u64| b.saturating_sub(a) as f64 / 1024.0 / reports;
        PerReport {
            process_us: per(self.process, later.process),
            writer_us: per(self.writer, later.writer),
            load_us: per(self.load, later.load),
            wal_kb: kb(self.wal_bytes, later.wal_bytes),
            checkpoint_kb: kb(self.checkpoint_bytes, later.checkpoint_bytes),
        }
    }
}

/// CPU and bytes written per report over a run.
#[derive(Debug, Clone, Copy)]
struct PerReport {
    process_us: f64,
    writer_us: f64,
    load_us: f64,
    wal_kb: f64,
    checkpoint_kb: f64,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A deterministic body generator (xorshift), so both runs see the same reports.
fn bodies(count: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut state = seed.max(1);
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..count)
        .map(|i| {
            let r = next();
            // Central Shanghai, about 15 km × 15 km, all inside the city.
            let lon = 121.40 + (r % 15_000) as f64 * 1e-5;
            let lat = 31.15 + ((r >> 16) % 15_000) as f64 * 1e-5;
            let body = if (r >> 40) % 10 < 7 {
                serde_json::json!({
                    "channel": "inspector",
                    "description": "巡查发现问题，已拍照",
                    "category": CATEGORIES[((r >> 32) % CATEGORIES.len() as u64) as usize],
                    "location": { "lon": lon, "lat": lat },
                    "intake_key": format!("bench-{seed}-{i}"),
                })
            } else {
                serde_json::json!({
                    "channel": "web",
                    "description": TEXTS[((r >> 32) % TEXTS.len() as u64) as usize],
                    "location": { "lon": lon, "lat": lat },
                    "intake_key": format!("bench-{seed}-{i}"),
                })
            };
            body.to_string().into_bytes()
        })
        .collect()
}

/// Waits for the client tasks and sums up their latencies over the run's elapsed time.
async fn collect(
    tasks: Vec<tokio::task::JoinHandle<anyhow::Result<Vec<Duration>>>>,
    elapsed: impl Fn() -> Duration,
) -> anyhow::Result<Outcome> {
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let elapsed = elapsed();
    latencies.sort();
    Ok(Outcome {
        reports_per_s: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
        count: latencies.len(),
    })
}

/// One keep-alive HTTP/1.1 client connection of the load generator. Like `wrk`, it writes each
/// request in one piece and parses the answer's head with `httparse`, so the load generator
/// takes as little of the two cores as it can; the server sees ordinary HTTP/1.1 requests.
struct Client {
    stream: tokio::net::TcpStream,
    /// The head every request shares, up to its `content-length` value.
    head: String,
    request: Vec<u8>,
    received: Vec<u8>,
}

impl Client {
    async fn connect(address: std::net::SocketAddr, token: &str) -> anyhow::Result<Client> {
        let stream = tokio::net::TcpStream::connect(address).await?;
        stream.set_nodelay(true)?;
        Ok(Client {
            stream,
            head: format!(
                "POST /api/v1/reports HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\nauthorization: Bearer {token}\r\ncontent-length: "
            ),
            request: Vec::with_capacity(1024),
            received: Vec::with_capacity(8192),
        })
    }

    /// Posts one report and reads the whole answer; an answer other than 2xx is an error.
    async fn post(&mut self, body: &[u8]) -> anyhow::Result<()> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        self.request.clear();
        self.request.extend_from_slice(self.head.as_bytes());
        self.request
            .extend_from_slice(format!("{}\r\n\r\n", body.len()).as_bytes());
        self.request.extend_from_slice(body);
        self.stream.write_all(&self.request).await?;
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut response = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(head) = response.parse(&self.received)? {
                let status = response.code.unwrap_or(0);
                let length = response
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .and_then(|h| {
                        std::str::from_utf8(h.value)
                            .ok()?
                            .trim()
                            .parse::<usize>()
                            .ok()
                    })
                    .context("an intake answer without content-length")?;
                while self.received.len() < head + length {
                    if self.stream.read_buf(&mut self.received).await? == 0 {
                        anyhow::bail!("the server closed the connection mid-answer");
                    }
                }
                if !(200..300).contains(&status) {
                    anyhow::bail!(
                        "intake answered {status}: {}",
                        String::from_utf8_lossy(&self.received[head..head + length])
                    );
                }
                self.received.drain(..head + length);
                return Ok(());
            }
            if self.stream.read_buf(&mut self.received).await? == 0 {
                anyhow::bail!("the server closed the connection before answering");
            }
        }
    }
}

/// As many reports as `connections` clients can push, each waiting for its answer.
async fn saturate(
    address: std::net::SocketAddr,
    token: &str,
    bodies: Arc<Vec<Vec<u8>>>,
    connections: usize,
) -> anyhow::Result<Outcome> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (next, bodies) = (next.clone(), bodies.clone());
        let mut client = Client::connect(address, token).await?;
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { break };
                let t = Instant::now();
                client.post(body).await?;
                latencies.push(t.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    collect(tasks, || started.elapsed()).await
}

/// Reports sent at a fixed rate (open loop); latency counts from the scheduled send time, so a
/// slow server cannot hide its queueing.
async fn paced(
    address: std::net::SocketAddr,
    token: &str,
    bodies: Arc<Vec<Vec<u8>>>,
    rate: f64,
    connections: usize,
) -> anyhow::Result<Outcome> {
    let start = tokio::time::Instant::now() + Duration::from_millis(50);
    let mut tasks = Vec::new();
    for c in 0..connections {
        let bodies = bodies.clone();
        let mut client = Client::connect(address, token).await?;
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut i = c;
            while let Some(body) = bodies.get(i) {
                let due = start + Duration::from_secs_f64(i as f64 / rate);
                tokio::time::sleep_until(due).await;
                client.post(body).await?;
                latencies.push(due.elapsed());
                i += connections;
            }
            anyhow::Ok(latencies)
        }));
    }
    collect(tasks, || start.elapsed()).await
}

/// Waits until every frame in the WAL is checkpointed into the database file and synced (the
/// store is idle meanwhile); answers how long that took.
async fn settle(database: &std::path::Path) -> anyhow::Result<Duration> {
    let database = database.to_owned();
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let connection = rusqlite::Connection::open(&database)?;
        connection.busy_timeout(Duration::from_secs(10))?;
        loop {
            let (busy, frames, done): (i64, i64, i64) =
                connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })?;
            if busy == 0 && done >= frames {
                return Ok(started.elapsed());
            }
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(300),
                "the WAL was still not checkpointed after 300 s ({done} of {frames} frames)"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    })
    .await?
}

struct Server {
    address: std::net::SocketAddr,
    token: String,
    store: Store,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

async fn start(dir: &std::path::Path, max_batch: usize) -> anyhow::Result<Server> {
    let options = StoreOptions {
        writer: WriterOptions {
            max_batch,
            ..WriterOptions::default()
        },
        ..StoreOptions::default()
    };
    let store = Store::open(&Location::data_dir(dir), options).await?;
    let city = Arc::new(SharedCity::new(jz_app::city::load_model(&store).await?));
    let mut state = jz_http::AppState::open(store.clone(), city).await?;
    // The load generator is one address sending far more than any client may.
    state.limiter = Arc::new(jz_http::limit::IpLimiter::new(0));
    let actor = cli_actor("jingzhi bench");
    let (_, token) =
        jz_app::cases::users::create_user(&store, &actor, "bench", Role::CityOperator, None, None)
            .await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let app = jz_http::router(state);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = stopped.await;
        })
        .await;
    });
    Ok(Server {
        address,
        token,
        store,
        stop,
        task,
    })
}

/// Imports Shanghai with one department and one rule per district into `dir`.
async fn prepare(dir: &std::path::Path) -> anyhow::Result<usize> {
    let store = Store::open(&Location::data_dir(dir), StoreOptions::default()).await?;
    let actor = cli_actor("jingzhi bench");
    let report = jz_app::city::import(
        &store,
        jz_app::city::shanghai_sources(),
        FieldMapping::default(),
        ImportOptions::default(),
        actor.clone(),
        Box::new(|_, _, _| {}),
    )
    .await?;
    config::seed(&store, &actor).await?;
    let shared = config::SharedConfig::new(config::load(&store).await?);
    let districts: Vec<String> =
        sqlx::query_scalar("SELECT code FROM division WHERE level = 'district' ORDER BY code")
            .fetch_all(store.reader())
            .await?;
    for code in &districts {
        let division = DivisionCode::parse(code)?;
        let id = format!("urban-{}", &code[..6]);
        config::put_department(
            &store,
            &shared,
            &actor,
            config::department(
                &id,
                &format!("{code} 城管"),
                DepartmentKind::Bureau,
                DivisionLevel::District,
                division,
            ),
        )
        .await?;
        config::add_rule(
            &store,
            &shared,
            &actor,
            ResponsibilityRule {
                id: format!("all-{}", &code[..6]),
                category: "*".parse().map_err(anyhow::Error::msg)?,
                territory: Territory::Division(division),
                level: DivisionLevel::District,
                department: id,
                priority: 1,
                fallback: false,
            },
        )
        .await?;
    }
    store.close().await;
    Ok(report.grids)
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        std::fs::copy(entry.path(), to.join(entry.file_name()))?;
    }
    Ok(())
}

/// The load generator's runtime, shut down without blocking when the benchmark ends or fails
/// (dropping a runtime inside the async benchmark panics).
struct LoadRuntime(Option<tokio::runtime::Runtime>);

impl LoadRuntime {
    fn handle(&self) -> &tokio::runtime::Handle {
        self.0.as_ref().expect("running until dropped").handle()
    }
}

impl Drop for LoadRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

pub async fn run(
    reports: usize,
    baseline_reports: usize,
    connections: usize,
    paced_reports: usize,
) -> anyhow::Result<()> {
    println!(
        "\n== intake over HTTP: locate (Shanghai) + classify + dedupe + dispatch + commit + audit, SQLite synchronous=FULL =="
    );
    let work = tempfile::tempdir()?;
    let prepared = work.path().join("prepared");
    let t = Instant::now();
    let grids = prepare(&prepared)
        .await
        .context("preparing the Shanghai model")?;
    println!(
        "   prepared Shanghai ({grids} unit grids, 16 district departments) in {:.1} s; 70 % inspector reports with a category, 30 % citizen texts classified on intake; {connections} keep-alive connections",
        t.elapsed().as_secs_f64()
    );
    // The clients run on a runtime of their own (one thread: the server's runtime keeps its
    // workers), so the load generator's CPU can be told apart from the server's.
    let load_runtime = LoadRuntime(Some(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name(LOAD_THREAD)
            .on_thread_start(|| {
                jz_store::priority::lower_this_thread(jz_store::priority::worker_nice(
                    jz_store::priority::DEFAULT_WORKER_NICE,
                ))
            })
            .enable_all()
            .build()?,
    ));
    let on_load =
        |work: std::pin::Pin<Box<dyn Future<Output = anyhow::Result<Outcome>> + Send>>| {
            let task = load_runtime.handle().spawn(work);
            async move { task.await? }
        };
    let mut results = Vec::new();
    for (name, max_batch, count, paced_count) in [
        (
            "one transaction per report",
            1,
            baseline_reports,
            paced_reports.min(5_000),
        ),
        (
            "group commit",
            WriterOptions::default().max_batch,
            reports,
            paced_reports,
        ),
    ] {
        let dir = work.path().join(format!("run-{max_batch}"));
        copy_dir(&prepared, &dir)?;
        let server = start(&dir, max_batch).await?;
        let load = Arc::new(bodies(count, 1 + max_batch as u64));
        let probe_before = crate::bench::machine_probe();
        let before = CpuTimes::now();
        let (address, token) = (server.address, server.token.clone());
        let saturated = on_load(Box::pin(async move {
            saturate(address, &token, load, connections).await
        }))
        .await?;
        let cpu = before
            .zip(CpuTimes::now())
            .map(|(before, after)| before.per_report(after, saturated.count));
        let probe_after = crate::bench::machine_probe();
        // Right after the saturated run the checkpointer may still be writing its backlog into
        // the database file, and every commit's sync would wait behind that: measured apart.
        let after_burst = if paced_count > 5_000 {
            let load = Arc::new(bodies(5_000, 5 + max_batch as u64));
            let token = server.token.clone();
            Some(
                on_load(Box::pin(async move {
                    paced(address, &token, load, 1_000.0, 64).await
                }))
                .await?,
            )
        } else {
            None
        };
        // Then 1,000 reports/s in steady state: once the backlog is in the database file.
        let settled = settle(&dir.join(jz_store::SQLITE_FILE_NAME)).await?;
        let paced_load = Arc::new(bodies(paced_count, 7 + max_batch as u64));
        let token = server.token.clone();
        let at_rate = on_load(Box::pin(async move {
            paced(address, &token, paced_load, 1_000.0, 64).await
        }))
        .await?;
        let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM case_report")
            .fetch_one(server.store.reader())
            .await?;
        let _ = server.stop.send(());
        let _ = server.task.await;
        server.store.close().await;
        let acknowledged =
            saturated.count + at_rate.count + after_burst.map_or(0, |outcome| outcome.count);
        anyhow::ensure!(
            stored as usize == acknowledged,
            "{stored} reports stored, {acknowledged} acknowledged"
        );
        println!(
            "   {name:<27} saturated: {:>7.0} reports/s  p50 {:>6.2} ms  p99 {:>6.2} ms ({} reports) | at 1,000/s: p50 {:>6.2} ms  p99 {:>6.2} ms ({} reports)",
            saturated.reports_per_s,
            ms(saturated.p50),
            ms(saturated.p99),
            saturated.count,
            ms(at_rate.p50),
            ms(at_rate.p99),
            at_rate.count
        );
        if let Some(burst) = after_burst {
            println!(
                "   {:<27} at 1,000/s right after the saturated run: p50 {:>6.2} ms  p99 {:>6.2} ms ({} reports); its WAL backlog was in the database file {:.1} s later",
                "",
                ms(burst.p50),
                ms(burst.p99),
                burst.count,
                settled.as_secs_f64()
            );
        }
        if let Some(PerReport {
            process_us: process,
            writer_us: writer,
            load_us: load,
            wal_kb,
            checkpoint_kb,
        }) = cpu
        {
            let server = process - load;
            println!(
                "   {:<27} CPU per saturated report: {process:.0} µs in the process = {load:.0} µs load generator + {server:.0} µs server ({writer:.0} µs of it in the writer thread); CPU-bound, the server alone would take ≤ {:.0} reports/s on 2 cores",
                "",
                (2e6 / server.max(1.0)).min(1e6 / writer.max(1.0))
            );
            // Reports/s = cores busy ÷ CPU per report: a slower machine raises the second, a
            // run whose threads wait (the writer's sync, a connection's turn) lowers the first.
            let cores = std::thread::available_parallelism().map_or(2, usize::from);
            let busy = process * saturated.reports_per_s / 1e6;
            println!(
                "   {:<27} cores busy while saturated: {busy:.2} of {cores} ({:.0} %)",
                "",
                100.0 * busy / cores as f64
            );
            println!(
                "   {:<27} written per saturated report: {wal_kb:.1} KB of WAL frames (writer), {checkpoint_kb:.1} KB of pages checkpointed into the database file",
                ""
            );
        }
        println!(
            "   {:<27} machine speed probe (a fixed single-core loop; larger = slower machine, not slower code): {:.0} ms before, {:.0} ms after the saturated run",
            "",
            ms(probe_before),
            ms(probe_after)
        );
        results.push((saturated, at_rate));
    }
    drop(load_runtime);
    let (baseline, ours) = (results[0].0, results[1].0);
    println!(
        "   ratio: group commit intakes {:.1}x the reports/s of one transaction per report (target ≥ 10,000 reports/s; p99 < 20 ms at 1,000/s: {:.2} ms)",
        ours.reports_per_s / baseline.reports_per_s,
        ms(results[1].1.p99)
    );
    Ok(())
}
