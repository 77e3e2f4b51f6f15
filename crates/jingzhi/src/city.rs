//! `jingzhi import`, `locate` and `export`: the city model from the command line.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use jz_app::city::plan::Stage;
use jz_app::city::{Actor, FieldMapping, ImportOptions, LevelRule, SourceFile};
use jz_domain::division::DivisionLevel;
use jz_geo::datum::Datum;
use jz_store::Store;

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import division polygons (GeoJSON) and/or code tables (CSV) of any city.
    Divisions(ImportDivisions),
    /// Import the bundled Shanghai set: official outline, 16 districts, 234 streets/towns and
    /// 6,509 communities (streets, communities and grids generated inside the real districts).
    Shanghai(GenerationArgs),
}

#[derive(Debug, Args)]
pub struct GenerationArgs {
    /// Seed of generated boundaries (same inputs and seed give the same polygons and codes).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Fix what is safely fixable and list each fix, instead of refusing the import.
    #[arg(long)]
    repair: bool,
}

impl Default for GenerationArgs {
    /// The CLI's defaults: seed 1, no repair.
    fn default() -> Self {
        GenerationArgs {
            seed: 1,
            repair: false,
        }
    }
}

#[derive(Debug, Args)]
pub struct ImportDivisions {
    /// GeoJSON FeatureCollections (.geojson/.json) and CSV code tables, imported together.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Property/column holding the division code (12 digits; 6- and 9-digit codes are padded).
    #[arg(long, default_value = "code")]
    code_field: String,
    /// Property/column holding the name.
    #[arg(long, default_value = "name")]
    name_field: String,
    /// Property/column holding the level; `none` infers it from the code (or --level).
    #[arg(long, default_value = "level")]
    level_field: String,
    /// Property/column holding the parent's code; `none` infers it from the code.
    #[arg(long, default_value = "parent_code")]
    parent_field: String,
    /// Numeric property/column sizing generated children (e.g. population).
    #[arg(long)]
    weight_field: Option<String>,
    /// Level of every record, when the files have no level field.
    #[arg(long)]
    level: Option<DivisionLevel>,
    /// Map a level value: VALUE=city|district|street|community|skip (repeatable).
    #[arg(long = "level-map", value_name = "VALUE=LEVEL")]
    level_map: Vec<String>,
    #[command(flatten)]
    generation: GenerationArgs,
}

fn mapping_of(args: &ImportDivisions) -> anyhow::Result<FieldMapping> {
    let optional = |field: &str| (field != "none").then(|| field.to_owned());
    let mut level_rules = BTreeMap::new();
    for rule in &args.level_map {
        let (value, target) = rule
            .split_once('=')
            .with_context(|| format!("--level-map {rule}: expected VALUE=LEVEL"))?;
        let target = match target.trim() {
            "skip" => LevelRule::Skip,
            other => LevelRule::Level(
                other
                    .parse()
                    .map_err(|e: String| anyhow::anyhow!("--level-map {rule}: {e}"))?,
            ),
        };
        level_rules.insert(value.trim().to_ascii_lowercase(), target);
    }
    Ok(FieldMapping {
        code: args.code_field.clone(),
        name: args.name_field.clone(),
        level: optional(&args.level_field),
        parent: optional(&args.parent_field),
        weight: args.weight_field.clone(),
        fixed_level: args.level,
        level_rules,
    })
}

/// Microseconds since the Unix epoch by the system clock.
pub fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// The actor of a command-line change: the local user, now.
pub fn cli_actor(origin: &str) -> Actor {
    Actor {
        actor: format!(
            "cli:{}",
            std::env::var("USER").unwrap_or_else(|_| "unknown".into())
        ),
        origin: origin.to_owned(),
        at_us: now_us(),
    }
}

fn progress_bars() -> Box<dyn Fn(Stage, usize, usize) + Send + Sync> {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg:>24} [{bar:40}] {pos}/{len} ({elapsed})")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    let stage = std::sync::Mutex::new(None::<Stage>);
    Box::new(move |current, done, total| {
        let mut last = stage.lock().expect("progress lock");
        if *last != Some(current) {
            if last.is_some() {
                bar.finish();
                bar.reset();
            }
            bar.set_message(current.label());
            *last = Some(current);
        }
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        if done >= total {
            bar.finish();
        }
    })
}

pub async fn import(store: &Store, command: ImportCommand) -> anyhow::Result<()> {
    let (sources, mapping, generation) = match command {
        ImportCommand::Shanghai(generation) => (
            jz_app::city::shanghai_sources(),
            FieldMapping::default(),
            generation,
        ),
        ImportCommand::Divisions(args) => {
            let mapping = mapping_of(&args)?;
            let mut sources = Vec::new();
            for path in &args.files {
                let content = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                sources.push(SourceFile {
                    name: path.display().to_string(),
                    content,
                });
            }
            (sources, mapping, args.generation)
        }
    };
    let options = ImportOptions {
        repair: generation.repair,
        seed: generation.seed,
        ..ImportOptions::default()
    };
    let started = Instant::now();
    let actor = cli_actor("jingzhi import");
    let report =
        jz_app::city::import(store, sources, mapping, options, actor, progress_bars()).await?;
    for repair in &report.repairs {
        println!("repaired: {repair}");
    }
    for (level, count, generated) in &report.levels {
        println!("{:<10} {count:>7}  ({generated} generated)", level.as_str());
    }
    println!("{:<10} {:>7}", "grids", report.grids);
    if report.community_area_m2 > 0.0 {
        println!(
            "grid area {:.1} km² of community area {:.1} km² ({:+.4} %)",
            report.grid_area_m2 / 1e6,
            report.community_area_m2 / 1e6,
            100.0 * (report.grid_area_m2 - report.community_area_m2) / report.community_area_m2
        );
    }
    println!("imported in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

#[derive(Debug, Args)]
pub struct LocateArgs {
    /// Longitude in the given datum.
    #[arg(allow_negative_numbers = true)]
    lon: f64,
    /// Latitude in the given datum.
    #[arg(allow_negative_numbers = true)]
    lat: f64,
    /// Datum of the coordinates: wgs84 (GPS), gcj02 (Amap/Tencent), bd09 (Baidu).
    #[arg(long, default_value = "wgs84")]
    datum: Datum,
}

pub async fn locate(store: &Store, args: LocateArgs) -> anyhow::Result<()> {
    let model = jz_app::city::load_model(store).await?;
    let located = model.locate(args.lon, args.lat, args.datum)?;
    println!(
        "point     {} {} ({}) = {:.6} {:.6} (wgs84)",
        args.lon, args.lat, args.datum, located.wgs84.0, located.wgs84.1
    );
    for division in &located.path {
        let generated = if division.generated {
            "  [generated boundary]"
        } else {
            ""
        };
        println!(
            "{:<10}{} {}{generated}",
            division.level.as_str(),
            division.code,
            division.name
        );
    }
    match located.grid {
        Some(grid) => println!("grid      {grid}"),
        None => println!("grid      (none: this division has no unit grids)"),
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// city, district, street, community or grid.
    level: String,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

pub async fn export(store: &Store, args: ExportArgs) -> anyhow::Result<()> {
    let collection = if args.level == "grid" {
        jz_app::city::export::grids_geojson(store).await?
    } else {
        let level: DivisionLevel = args.level.parse().map_err(|e: String| anyhow::anyhow!(e))?;
        jz_app::city::export::divisions_geojson(store, level, None).await?
    };
    let text = collection.to_string();
    match args.output {
        Some(path) => std::fs::write(&path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => println!("{text}"),
    }
    Ok(())
}
