//! `jingzhi zones`: zone types, zones and their goal clusters, from the command line.

use anyhow::Context;
use clap::{Args, Subcommand};
use jz_app::city::Actor;
use jz_app::zones::{self, TargetView, ZoneArea};
use jz_domain::division::GridCode;
use jz_store::Store;

#[derive(Debug, Subcommand)]
pub enum ZonesCommand {
    /// List zone types with their goal clusters.
    Types,
    /// List zones with their effective goals.
    List,
    /// Replace a zone type's goal cluster.
    SetTypeGoals {
        /// The zone type's code, e.g. industrial_park.
        code: String,
        #[command(flatten)]
        goals: GoalArgs,
    },
    /// Add a user-defined zone type.
    AddType {
        code: String,
        #[arg(long)]
        name_zh: String,
        #[arg(long, default_value = "")]
        name_en: String,
        #[command(flatten)]
        goals: GoalArgs,
    },
    /// Create a zone over a polygon (GeoJSON geometry file) or a set of unit grids.
    Create {
        id: String,
        #[arg(long)]
        name: String,
        #[arg(long = "type")]
        zone_type: String,
        /// A GeoJSON file holding a Polygon/MultiPolygon geometry (or a Feature with one).
        #[arg(long, conflicts_with = "grids")]
        geojson: Option<std::path::PathBuf>,
        /// Unit grid codes, comma-separated.
        #[arg(long, value_delimiter = ',')]
        grids: Vec<String>,
        /// Override the type's goals with these (optional).
        #[arg(long = "goal", value_name = "INDICATOR=WEIGHT:TARGET")]
        goals: Vec<String>,
    },
    /// Override a zone's goals (or, with none given, go back to its type's goals).
    SetZoneGoals {
        id: String,
        #[arg(long = "goal", value_name = "INDICATOR=WEIGHT:TARGET")]
        goals: Vec<String>,
    },
    /// Who changed a goal cluster when: zone_type:CODE or zone:ID.
    History { subject: String },
}

#[derive(Debug, Args)]
pub struct GoalArgs {
    /// A weighted target, e.g. on_time_closure_rate=0.4:0.95 (repeatable; weights sum to 1).
    #[arg(long = "goal", value_name = "INDICATOR=WEIGHT:TARGET", required = true)]
    goals: Vec<String>,
}

fn parse_targets(goals: &[String]) -> anyhow::Result<Vec<TargetView>> {
    goals
        .iter()
        .map(|goal| {
            let (indicator, rest) = goal
                .split_once('=')
                .with_context(|| format!("--goal {goal}: expected INDICATOR=WEIGHT:TARGET"))?;
            let (weight, target) = rest
                .split_once(':')
                .with_context(|| format!("--goal {goal}: expected INDICATOR=WEIGHT:TARGET"))?;
            Ok(TargetView {
                indicator: indicator.trim().to_owned(),
                weight: weight
                    .trim()
                    .parse()
                    .with_context(|| format!("--goal {goal}: weight `{weight}` is not a number"))?,
                target: target
                    .trim()
                    .parse()
                    .with_context(|| format!("--goal {goal}: target `{target}` is not a number"))?,
            })
        })
        .collect()
}

fn show_goals(goals: &[TargetView]) -> String {
    goals
        .iter()
        .map(|g| format!("{}={}:{}", g.indicator, g.weight, g.target))
        .collect::<Vec<_>>()
        .join(" ")
}

pub async fn run(store: &Store, command: ZonesCommand, actor: Actor) -> anyhow::Result<()> {
    zones::seed_zone_types(store, &actor).await?;
    match command {
        ZonesCommand::Types => {
            for t in zones::zone_types(store).await? {
                println!(
                    "{:<24} {} / {} (v{}): {}",
                    t.code,
                    t.name_zh,
                    t.name_en,
                    t.version,
                    show_goals(&t.goals)
                );
            }
        }
        ZonesCommand::List => {
            for z in zones::zones(store).await? {
                let over = if z.goals_override.is_some() {
                    " [own goals]"
                } else {
                    ""
                };
                println!(
                    "{:<20} {} ({}){over}: {}",
                    z.id,
                    z.name,
                    z.zone_type,
                    show_goals(&z.effective_goals)
                );
            }
        }
        ZonesCommand::SetTypeGoals { code, goals } => {
            let t = zones::set_zone_type_goals(
                store,
                &code,
                parse_targets(&goals.goals)?,
                None,
                &actor,
            )
            .await?;
            println!("{} now v{}: {}", t.code, t.version, show_goals(&t.goals));
        }
        ZonesCommand::AddType {
            code,
            name_zh,
            name_en,
            goals,
        } => {
            let t = zones::create_zone_type(
                store,
                &code,
                &name_zh,
                &name_en,
                parse_targets(&goals.goals)?,
                &actor,
            )
            .await?;
            println!("added zone type {}: {}", t.code, show_goals(&t.goals));
        }
        ZonesCommand::Create {
            id,
            name,
            zone_type,
            geojson,
            grids,
            goals,
        } => {
            let area = match geojson {
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("cannot read {}", path.display()))?;
                    let value: serde_json::Value = serde_json::from_str(&text)
                        .with_context(|| format!("{} is not JSON", path.display()))?;
                    let geometry = value.get("geometry").cloned().unwrap_or(value);
                    let polygon = jz_app::city::source::geometry_from_json(&geometry.to_string())
                        .with_context(|| {
                        format!("{} holds no Polygon or MultiPolygon", path.display())
                    })?;
                    ZoneArea::Polygon(polygon)
                }
                None => ZoneArea::Grids(
                    grids
                        .iter()
                        .map(|g| GridCode::parse(g))
                        .collect::<Result<_, _>>()?,
                ),
            };
            let goals = if goals.is_empty() {
                None
            } else {
                Some(parse_targets(&goals)?)
            };
            let zone =
                zones::create_zone(store, &id, &name, &zone_type, area, goals, &actor).await?;
            println!(
                "created zone {} ({}): {}",
                zone.id,
                zone.zone_type,
                show_goals(&zone.effective_goals)
            );
        }
        ZonesCommand::SetZoneGoals { id, goals } => {
            let targets = if goals.is_empty() {
                None
            } else {
                Some(parse_targets(&goals)?)
            };
            let zone = zones::set_zone_goals(store, &id, targets, None, &actor).await?;
            println!(
                "zone {} v{}: {}",
                zone.id,
                zone.version,
                show_goals(&zone.effective_goals)
            );
        }
        ZonesCommand::History { subject } => {
            for entry in zones::goal_history(store, &subject).await? {
                println!(
                    "#{} at {} by {} {}: {} -> {}",
                    entry.seq,
                    entry.record.at_us,
                    entry.record.actor,
                    entry.record.action,
                    entry.record.before.as_deref().unwrap_or("-"),
                    entry.record.after.as_deref().unwrap_or("-")
                );
            }
        }
    }
    Ok(())
}
