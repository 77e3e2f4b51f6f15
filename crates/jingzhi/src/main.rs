//! The `jingzhi` command: wiring of the store, the HTTP server and the tools around them.

mod bench;
mod bench_intake;
mod bench_locate;
mod bench_scorecard;
mod city;
mod demo;
mod org;
mod simulate;
mod zones;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use jz_store::{Location, Store, StoreOptions};

/// Jingzhi (精治): fine-grained urban governance.
#[derive(Debug, Parser)]
#[command(name = "jingzhi", version, about, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(subcommand)]
    command: Command,
}

/// Where the data lives: the embedded database in a folder (default), or PostgreSQL by URL.
#[derive(Debug, Args)]
struct DatabaseArgs {
    /// Folder of the embedded SQLite database [default: $XDG_DATA_HOME/jingzhi or ~/.local/share/jingzhi]
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        env = "JINGZHI_DATA",
        conflicts_with = "database"
    )]
    data: Option<PathBuf>,
    /// PostgreSQL URL (postgres://user:password@host:port/database) instead of the embedded database
    #[arg(long, global = true, value_name = "URL", env = "JINGZHI_DATABASE_URL")]
    database: Option<String>,
}

impl DatabaseArgs {
    fn location(&self) -> anyhow::Result<Location> {
        if let Some(url) = &self.database {
            return Ok(Location::parse_url(url)?);
        }
        Ok(Location::data_dir(&match &self.data {
            Some(dir) => dir.clone(),
            None => default_data_dir()?,
        }))
    }
}

/// The per-user data folder, following the XDG base directory convention.
fn default_data_dir() -> anyhow::Result<PathBuf> {
    if let Some(data_home) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(data_home).join("jingzhi"));
    }
    let home = std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .context("neither XDG_DATA_HOME nor HOME is set; choose a folder with --data DIR")?;
    Ok(PathBuf::from(home).join(".local/share/jingzhi"))
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTP API on the chosen database.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
    /// Import a city's divisions, generating missing boundaries and unit grids.
    Import {
        #[command(subcommand)]
        command: city::ImportCommand,
    },
    /// Locate a point: division path and unit grid.
    Locate(city::LocateArgs),
    /// Export one level of the city model (city, district, street, community, grid) as GeoJSON.
    Export(city::ExportArgs),
    /// Zone types, zones and their goal clusters.
    Zones {
        #[command(subcommand)]
        command: zones::ZonesCommand,
    },
    /// Users and their API tokens.
    Users {
        #[command(subcommand)]
        command: org::UsersCommand,
    },
    /// API keys for systems (Open311 clients, gateways).
    Keys {
        #[command(subcommand)]
        command: org::KeysCommand,
    },
    /// Which categories are offered through Open311, with their attribute definitions.
    Open311 {
        #[command(subcommand)]
        command: org::Open311Command,
    },
    /// Departments that handle cases.
    Departments {
        #[command(subcommand)]
        command: org::DepartmentsCommand,
    },
    /// Responsibility rules: category × territory × level → department.
    Rules {
        #[command(subcommand)]
        command: org::RulesCommand,
    },
    /// Apply due deadline events (warnings, overdue, escalation) now; `serve` does this every 10 s.
    Deadlines,
    /// Classify a report text: category candidates with confidence.
    Classify { text: String },
    /// Inspect the audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Run the benchmarks, each side by side with its baseline, and print the ratios.
    Bench(bench::BenchArgs),
    /// The whole system on the real Shanghai map with a live simulated workload: imports the
    /// city, seeds the organisation, users of every role (printed with their passwords) and an
    /// Open311 API key, fills two weeks of history, then serves the console and keeps the city
    /// working. Uses a fresh data folder unless --data names one.
    Demo(demo::DemoArgs),
    /// A synthetic megacity on the real Shanghai map, N simulated days as fast as the store
    /// allows, ending with throughput, SLA attainment, escalations and evaluation per district.
    Simulate(simulate::SimulateArgs),
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Check the hash chain of the audit log and name the first broken entry.
    Verify,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("JINGZHI_LOG")
                .unwrap_or_else(|_| "jingzhi=info,jz_=info,sqlx=error,warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let nice = jz_store::priority::worker_nice(match cli.command {
        Command::Simulate(_) => jz_store::priority::SIMULATION_WORKER_NICE,
        _ => jz_store::priority::DEFAULT_WORKER_NICE,
    });
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_start(move || jz_store::priority::lower_this_thread(nice))
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // A setting that is set but unreadable is refused, not silently replaced by its default.
    let mut wrong = jz_store::environment_errors();
    wrong.extend(jz_http::limit::IpLimiter::environment_error());
    if !wrong.is_empty() {
        anyhow::bail!("{}", wrong.join("; "));
    }
    match cli.command {
        Command::Serve { listen } => {
            let store = Store::open(&cli.database.location()?, StoreOptions::default()).await?;
            serve(store, listen).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit {
            command: AuditCommand::Verify,
        } => {
            let store = Store::open(&cli.database.location()?, StoreOptions::default()).await?;
            let outcome = store.verify_audit_chain().await?;
            store.close().await;
            match outcome {
                Ok(summary) => {
                    println!(
                        "audit chain intact: {} entries, head hash {}",
                        summary.entries, summary.head_hash
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(broken) => {
                    println!("{broken}");
                    Ok(ExitCode::from(2))
                }
            }
        }
        Command::Import { command } => {
            with_store(&cli.database, async |store| {
                city::import(store, command).await
            })
            .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Locate(args) => {
            with_store(&cli.database, async |store| city::locate(store, args).await).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Export(args) => {
            with_store(&cli.database, async |store| city::export(store, args).await).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Zones { command } => {
            with_store(&cli.database, async |store| {
                zones::run(store, command, city::cli_actor("jingzhi zones")).await
            })
            .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Users { command } => {
            with_store(&cli.database, async |store| {
                org::users(store, command, city::cli_actor("jingzhi users")).await
            })
            .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys { command } => {
            with_store(&cli.database, async |store| {
                org::keys(store, command, city::cli_actor("jingzhi keys")).await
            })
            .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Open311 { command } => {
            with_store(&cli.database, async |store| {
                org::open311(store, command, city::cli_actor("jingzhi open311")).await
            })
            .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Departments { command } => {
            with_store(&cli.database, async |store| {
                org::departments(store, command, city::cli_actor("jingzhi departments")).await
            })
            .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Rules { command } => {
            with_store(&cli.database, async |store| {
                org::rules(store, command, city::cli_actor("jingzhi rules")).await
            })
            .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Deadlines => {
            with_store(&cli.database, async |store| {
                let model = jz_app::city::load_model(store).await?;
                let cases = jz_app::cases::Cases::open(
                    store.clone(),
                    std::sync::Arc::new(jz_app::city::SharedCity::new(model)),
                )
                .await?;
                let pass = cases.run_deadlines(city::now_us()).await?;
                println!(
                    "deadlines: {} warned, {} overdue, {} escalated, {} skipped (changed meanwhile)",
                    pass.warned, pass.overdue, pass.escalated, pass.skipped
                );
                Ok(())
            })
            .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Classify { text } => {
            org::classify(&text);
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo(args) => {
            demo::run(cli.database.data.clone(), args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Simulate(args) => {
            simulate::run(
                cli.database.data.clone(),
                cli.database.database.clone(),
                &args,
            )
            .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(args) => {
            bench::run(args).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Opens the chosen store, runs `work` on it, and closes it whether the work succeeded or not.
async fn with_store(
    database: &DatabaseArgs,
    work: impl AsyncFnOnce(&Store) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let store = Store::open(&database.location()?, StoreOptions::default()).await?;
    let outcome = work(&store).await;
    store.close().await;
    outcome
}

async fn serve(store: Store, listen: SocketAddr) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| {
            format!("cannot listen on {listen}; choose another address with --listen")
        })?;
    jz_app::zones::seed_zone_types(&store, &city::cli_actor("jingzhi serve")).await?;
    let model = jz_app::city::load_model(&store).await?;
    tracing::info!(
        divisions = model.division_count(),
        grids = model.grid_count(),
        "city model loaded"
    );
    if model.division_count() == 0 {
        tracing::warn!(
            "no city is imported yet: run `jingzhi import shanghai` (or `jingzhi import divisions FILE…`); this server picks it up when the import commits"
        );
    }
    let city = std::sync::Arc::new(jz_app::city::SharedCity::new(model));
    let state = jz_http::AppState::open(store.clone(), city.clone()).await?;
    println!(
        "jingzhi serving {} on http://{}",
        store.location(),
        listener.local_addr()?
    );
    run_server(store, listener, state, true, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}

/// Serves the API and the console on `listener` until `shutdown`, with the outbox relay
/// (rebuilding the city model after imports and zone changes) and, when `deadlines`, the
/// deadline scheduler on the wall clock.
pub async fn run_server(
    store: Store,
    listener: tokio::net::TcpListener,
    state: jz_http::AppState,
    deadlines: bool,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let city = state.city.clone();
    let cases = state.cases.clone();
    let app = jz_http::router(state);
    // Background work from the outbox: rebuild the city model when an import (from any
    // process) or a zone change commits.
    let (stop_relay, relay_stopped) = tokio::sync::watch::channel(false);
    let relay = jz_store::OutboxRelay::new(
        store.clone(),
        jz_app::city::CityReloader {
            store: store.clone(),
            city: city.clone(),
        },
        jz_store::RetryPolicy::default(),
    );
    let relay = tokio::spawn(relay.run(
        city::now_us,
        std::time::Duration::from_secs(1),
        relay_stopped,
    ));
    // The deadline scheduler: warnings, overdue marks and escalations on the wall clock.
    let (stop_deadlines, mut deadlines_stopped) = tokio::sync::watch::channel(false);
    let deadlines = tokio::spawn(async move {
        if !deadlines {
            let _ = deadlines_stopped.changed().await;
            return;
        }
        let mut every = tokio::time::interval(std::time::Duration::from_secs(10));
        loop {
            tokio::select! {
                _ = every.tick() => {
                    match cases.run_deadlines(city::now_us()).await {
                        Ok(pass) if pass.warned + pass.overdue > 0 => tracing::info!(?pass, "deadlines"),
                        Ok(_) => {}
                        Err(error) => tracing::error!(%error, "deadline scheduler"),
                    }
                }
                _ = deadlines_stopped.changed() => break,
            }
        }
    });
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    let _ = stop_relay.send(true);
    let _ = stop_deadlines.send(true);
    let _ = relay.await;
    let _ = deadlines.await;
    store.close().await;
    Ok(())
}
