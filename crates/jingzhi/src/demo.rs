//! `jingzhi demo`: the whole system on the real Shanghai map, with a simulated city at work.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use jz_app::cases::keys::Scope;
use jz_app::workload::{self, Login, Pace, Rng, Workload};
use jz_store::{Location, Store, StoreOptions};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Port of the console and the API on 127.0.0.1.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// How much faster than life the simulated people act (handling that takes two hours takes
    /// four minutes at 30).
    #[arg(long, default_value_t = 30.0)]
    speed: f64,
    /// New reports per hour of simulated life (the live workload runs them `--speed` times faster).
    #[arg(long, default_value_t = 60.0)]
    reports_per_hour: f64,
    /// Days of history simulated before serving (on a new data folder; each day adds ~10 s).
    #[arg(long, default_value_t = 2)]
    history_days: u32,
    /// Seed of the simulated workload.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Serve without the live workload (the history is still made on a new data folder).
    #[arg(long)]
    quiet: bool,
}

/// Zones of the demo: (id, name, type, west, south, east, north).
const ZONES: &[(&str, &str, &str, f64, f64, f64, f64)] = &[
    (
        "lujiazui",
        "陆家嘴金融城",
        "commercial_district",
        121.495,
        31.228,
        121.518,
        31.245,
    ),
    (
        "laochengxiang",
        "老城厢",
        "old_town",
        121.481,
        31.219,
        121.497,
        31.232,
    ),
    (
        "zhangjiang",
        "张江科学城",
        "industrial_park",
        121.575,
        31.185,
        121.625,
        31.220,
    ),
    (
        "wujiaochang",
        "五角场大型居住社区",
        "large_residential_area",
        121.503,
        31.292,
        121.528,
        31.312,
    ),
];

const LOGINS_FILE: &str = "demo-logins.txt";

fn rectangle(west: f64, south: f64, east: f64, north: f64) -> geo_types::MultiPolygon<f64> {
    geo_types::MultiPolygon(vec![geo_types::Polygon::new(
        geo_types::LineString::from(vec![
            (west, south),
            (east, south),
            (east, north),
            (west, north),
            (west, south),
        ]),
        vec![],
    )])
}

fn fresh_folder() -> PathBuf {
    let stamp = crate::city::now_us() / 1_000_000;
    std::env::temp_dir().join(format!("jingzhi-demo-{stamp}"))
}

pub async fn run(data: Option<PathBuf>, args: DemoArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.speed > 0.0 && args.speed.is_finite(),
        "--speed must be a positive number"
    );
    anyhow::ensure!(
        args.reports_per_hour > 0.0 && args.reports_per_hour.is_finite(),
        "--reports-per-hour must be a positive number"
    );
    let started = Instant::now();
    let folder = data.unwrap_or_else(fresh_folder);
    std::fs::create_dir_all(&folder)
        .with_context(|| format!("cannot create the data folder {}", folder.display()))?;
    // Listen first: a taken port is reported before a minute of preparation.
    let listen = std::net::SocketAddr::from(([127, 0, 0, 1], args.port));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}; choose another port with --port"))?;
    let store = Store::open(&Location::data_dir(&folder), StoreOptions::default()).await?;
    let admin = crate::city::cli_actor("jingzhi demo");
    println!("Jingzhi demo — data folder {}", folder.display());
    if jz_app::city::load_model(&store).await?.division_count() == 0 {
        println!(
            "importing Shanghai (official district outline, generated streets, communities and unit grids) …"
        );
        crate::city::import(
            &store,
            crate::city::ImportCommand::Shanghai(crate::city::GenerationArgs::default()),
        )
        .await?;
    }
    jz_app::zones::seed_zone_types(&store, &admin).await?;
    let fresh = !jz_app::workload::organised(&store).await?;
    if fresh {
        let zones = ZONES
            .iter()
            .map(|(id, name, zone_type, w, s, e, n)| jz_app::zones::NewZone {
                id: (*id).to_owned(),
                name: (*name).to_owned(),
                zone_type: (*zone_type).to_owned(),
                area: jz_app::zones::ZoneArea::Polygon(rectangle(*w, *s, *e, *n)),
                goals: None,
            })
            .collect();
        jz_app::zones::create_zones(&store, zones, &admin).await?;
    }
    let model = jz_app::city::load_model(&store).await?;
    let (districts, grids) = (model.division_count(), model.grid_count());
    let city = Arc::new(jz_app::city::SharedCity::new(model));
    let state = jz_http::AppState::open(store.clone(), city.clone()).await?;
    let cases = state.cases.clone();
    let mut rng = Rng::new(args.seed);
    let (org, logins_text) = if fresh {
        print!("seeding departments, responsibility rules and people … ");
        let org = workload::organise(&cases, &admin).await?;
        let logins = workload::logins(&cases, &admin, &org, &mut rng).await?;
        let key = match logins.iter().find(|l| l.login == "citizen") {
            Some(citizen) => {
                let (_, key) = jz_app::cases::keys::create_api_key(
                    &store,
                    &admin,
                    &citizen.user_id,
                    "demo Open311 client",
                    &[Scope::Open311, Scope::Api],
                    600,
                )
                .await?;
                key
            }
            None => String::new(),
        };
        let text = logins_text(&logins, &key);
        let path = folder.join(LOGINS_FILE);
        std::fs::write(&path, &text).with_context(|| format!("cannot write {}", path.display()))?;
        restrict(&path);
        println!(
            "{} departments, {} streets staffed",
            cases.config.current().departments.len(),
            org.streets.len()
        );
        (org, text)
    } else {
        let org = workload::load_organisation(&cases).await?;
        let text = std::fs::read_to_string(folder.join(LOGINS_FILE)).unwrap_or_else(|_| {
            "(the logins of this data folder were printed when it was made)\n".into()
        });
        (org, text)
    };
    let spots = workload::spots(&store, 20_000, &mut rng).await?;
    anyhow::ensure!(!spots.is_empty(), "the imported city has no unit grids");
    let mut history = Workload::new(
        cases.clone(),
        org.clone(),
        spots.clone(),
        args.seed,
        Pace {
            report_every_us: 3_600_000_000.0 / args.reports_per_hour,
            speed: 1.0,
            by_hour: false,
            crews: 50,
        },
    );
    if fresh && args.history_days > 0 {
        let now = crate::city::now_us();
        let from = now - i64::from(args.history_days) * 86_400_000_000;
        print!(
            "simulating {} days of history ({:.0} reports a day) … ",
            args.history_days,
            args.reports_per_hour * 24.0
        );
        let hour = 3_600_000_000;
        history.start(from);
        let mut at = from;
        while at < now {
            at = (at + hour).min(now);
            history.run_until(at, 600_000_000).await?;
            history.deadlines(at).await?;
        }
        let t = history.tally;
        println!(
            "{} reports ({} cases, {} merged), {} steps, {} ratings ({} dissatisfied), {} reworks, {} overdue, {} escalated",
            t.reports,
            t.created,
            t.linked,
            t.commands,
            t.ratings,
            t.dissatisfied,
            t.reworks,
            t.overdue,
            t.escalated
        );
    }
    let address = listener.local_addr()?;
    println!(
        "\nShanghai: {districts} divisions, {grids} unit grids; ready in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    println!("console: http://{address}/");
    print!("{logins_text}");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let live = if args.quiet {
        None
    } else {
        println!(
            "live workload: {} reports per simulated hour at {}× speed (about {:.0} a minute); Ctrl-C stops",
            args.reports_per_hour,
            args.speed,
            args.reports_per_hour * args.speed / 60.0
        );
        let mut live = Workload::new(
            cases.clone(),
            org,
            spots,
            args.seed.wrapping_add(1),
            Pace {
                report_every_us: 3_600_000_000.0 / args.reports_per_hour / args.speed,
                speed: args.speed,
                by_hour: false,
                crews: 50,
            },
        );
        let mut stopped = stopped.clone();
        Some(tokio::spawn(async move {
            live.start(crate::city::now_us());
            let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
            let mut ticks = 0_u64;
            loop {
                tokio::select! {
                    _ = every.tick() => {
                        let now = crate::city::now_us();
                        if let Err(error) = live.run_until(now, 1_000_000).await {
                            tracing::warn!(%error, "live workload");
                        }
                        ticks += 1;
                        if ticks.is_multiple_of(10)
                            && let Err(error) = live.deadlines(now).await
                        {
                            tracing::warn!(%error, "deadlines");
                        }
                    }
                    _ = stopped.changed() => break,
                }
            }
        }))
    };
    // The workload runs the deadlines itself in live mode; a quiet demo lets the server do it.
    crate::run_server(store, listener, state, args.quiet, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    let _ = stop.send(true);
    if let Some(live) = live {
        let _ = live.await;
    }
    Ok(())
}

fn logins_text(logins: &[Login], key: &str) -> String {
    let mut text = String::new();
    text.push_str(&format!(
        "API key (Open311 POST and the API, as user 市民): {key}\n"
    ));
    text.push_str("logins (login / password — role, territory, department):\n");
    for login in logins {
        text.push_str(&format!(
            "  {:<11} {:<16} {} ({}{}{})\n",
            login.login,
            login.password,
            login.name,
            login.role.as_str(),
            login
                .territory
                .as_ref()
                .map(|t| format!(", {t}"))
                .unwrap_or_default(),
            login
                .department
                .as_ref()
                .map(|d| format!(", {d}"))
                .unwrap_or_default(),
        ));
    }
    text
}

/// The logins file holds passwords: only its owner may read it.
fn restrict(path: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
}
