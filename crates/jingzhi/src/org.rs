//! `jingzhi users | departments | rules | deadlines | classify`: the organisation the case loop
//! runs on, from the command line (the same use cases as the HTTP API).

use anyhow::Context;
use clap::{Args, Subcommand};
use jz_app::cases::config::{self, SharedConfig};
use jz_app::cases::users;
use jz_app::city::Actor;
use jz_domain::access::Role;
use jz_domain::division::DivisionCode;
use jz_domain::responsibility::{Department, ResponsibilityRule, Territory};
use jz_store::Store;

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a user and print their API token (shown only once).
    Add {
        #[arg(long)]
        name: String,
        /// city_operator, district_operator, street_operator, dispatcher, handler, inspector,
        /// hotline_operator, community_worker, volunteer, citizen, auditor or admin
        #[arg(long)]
        role: String,
        /// The division subtree the user works in (omit for the whole city).
        #[arg(long)]
        territory: Option<String>,
        /// For handlers: their department's id.
        #[arg(long)]
        department: Option<String>,
    },
    /// List users (never their tokens).
    List,
    /// Deactivate a user; their token stops working.
    Revoke { id: String },
}

#[derive(Debug, Subcommand)]
pub enum DepartmentsCommand {
    /// Add or replace a department.
    Put {
        id: String,
        #[arg(long)]
        name: String,
        /// bureau, street_office, property, utility or other
        #[arg(long)]
        kind: String,
        /// city, district or street
        #[arg(long)]
        level: String,
        /// The division the department belongs to.
        #[arg(long)]
        division: String,
        /// Mark the department inactive (no new dispatches).
        #[arg(long)]
        inactive: bool,
    },
    /// List departments.
    List,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Add a responsibility rule: category × territory × level → department.
    Add(RuleArgs),
    /// List responsibility rules.
    List,
    /// Delete a responsibility rule.
    Delete { id: String },
}

#[derive(Debug, Args)]
pub struct RuleArgs {
    id: String,
    /// `*`, a major class (06, R3) or a category code (06010).
    #[arg(long)]
    category: String,
    /// The division subtree the rule covers.
    #[arg(long, conflicts_with = "zone", required_unless_present = "zone")]
    division: Option<String>,
    /// …or the zone it covers.
    #[arg(long)]
    zone: Option<String>,
    /// street, district or city: the level the rule routes at.
    #[arg(long)]
    level: String,
    #[arg(long)]
    department: String,
    #[arg(long, default_value_t = 0)]
    priority: i32,
    /// Consulted only when no ordinary rule matches.
    #[arg(long)]
    fallback: bool,
}

async fn shared(store: &Store, actor: &Actor) -> anyhow::Result<SharedConfig> {
    config::seed(store, actor).await?;
    Ok(SharedConfig::new(config::load(store).await?))
}

fn division(text: &str, what: &str) -> anyhow::Result<DivisionCode> {
    DivisionCode::parse(text).with_context(|| format!("--{what}"))
}

pub async fn users(store: &Store, command: UsersCommand, actor: Actor) -> anyhow::Result<()> {
    match command {
        UsersCommand::Add {
            name,
            role,
            territory,
            department,
        } => {
            let role: Role = role.parse().map_err(anyhow::Error::msg)?;
            let territory = territory.map(|t| division(&t, "territory")).transpose()?;
            let (user, token) =
                users::create_user(store, &actor, &name, role, territory, department).await?;
            println!("user {} ({}, {})", user.id, user.name, user.role);
            println!("API token (shown only now): {token}");
        }
        UsersCommand::List => {
            for user in users::list_users(store).await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    user.id,
                    user.name,
                    user.role,
                    user.territory.as_deref().unwrap_or("(city)"),
                    user.department.as_deref().unwrap_or("-"),
                    if user.active { "active" } else { "revoked" }
                );
            }
        }
        UsersCommand::Revoke { id } => {
            users::revoke_user(store, &users::TokenCache::default(), &actor, &id).await?;
            println!("user {id} revoked");
        }
    }
    Ok(())
}

pub async fn departments(
    store: &Store,
    command: DepartmentsCommand,
    actor: Actor,
) -> anyhow::Result<()> {
    let shared = shared(store, &actor).await?;
    match command {
        DepartmentsCommand::Put {
            id,
            name,
            kind,
            level,
            division: code,
            inactive,
        } => {
            let department = Department {
                id,
                name,
                kind: kind.parse().map_err(anyhow::Error::msg)?,
                level: config::parse_level(&level).map_err(anyhow::Error::msg)?,
                division: division(&code, "division")?,
                active: !inactive,
            };
            let saved = config::put_department(store, &shared, &actor, department).await?;
            println!("department {} saved", saved.id);
        }
        DepartmentsCommand::List => {
            for d in &shared.current().departments {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    d.id,
                    d.name,
                    d.kind.as_str(),
                    d.level.as_str(),
                    d.division,
                    if d.active { "active" } else { "inactive" }
                );
            }
        }
    }
    Ok(())
}

pub async fn rules(store: &Store, command: RulesCommand, actor: Actor) -> anyhow::Result<()> {
    let shared = shared(store, &actor).await?;
    match command {
        RulesCommand::Add(args) => {
            let territory = match (args.division, args.zone) {
                (Some(code), None) => Territory::Division(division(&code, "division")?),
                (None, Some(zone)) => Territory::Zone(zone),
                _ => anyhow::bail!("give either --division or --zone"),
            };
            let rule = ResponsibilityRule {
                id: args.id,
                category: args.category.parse().map_err(anyhow::Error::msg)?,
                territory,
                level: config::parse_level(&args.level).map_err(anyhow::Error::msg)?,
                department: args.department,
                priority: args.priority,
                fallback: args.fallback,
            };
            let added = config::add_rule(store, &shared, &actor, rule).await?;
            println!("rule {} added", added.id);
        }
        RulesCommand::List => {
            for r in &shared.current().rules {
                let territory = match &r.territory {
                    Territory::Division(code) => format!("division {code}"),
                    Territory::Zone(id) => format!("zone {id}"),
                };
                println!(
                    "{}\t{}\t{}\t{}\t{}\tpriority {}{}",
                    r.id,
                    r.category,
                    territory,
                    r.level.as_str(),
                    r.department,
                    r.priority,
                    if r.fallback { "\tfallback" } else { "" }
                );
            }
        }
        RulesCommand::Delete { id } => {
            config::delete_rule(store, &shared, &actor, &id).await?;
            println!("rule {id} deleted");
        }
    }
    Ok(())
}

/// Prints the classification candidates of a text.
pub fn classify(text: &str) {
    for candidate in jz_classify::shipped().classify(text, 5) {
        println!("{}\t{:.3}", candidate.code, candidate.confidence);
    }
}
