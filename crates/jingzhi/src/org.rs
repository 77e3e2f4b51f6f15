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
    /// Give a user a console login and password.
    Password {
        id: String,
        #[arg(long)]
        login: String,
        /// The password (at least 10 characters); read from JINGZHI_PASSWORD when absent.
        #[arg(long, env = "JINGZHI_PASSWORD", hide_env_values = true)]
        password: String,
    },
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
        UsersCommand::Password {
            id,
            login,
            password,
        } => {
            jz_app::cases::sessions::set_password(store, &actor, &id, &login, &password).await?;
            println!("user {id} can log in as {login}");
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
            for r in shared.current().rules.all() {
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

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create an API key for a system acting as a user; prints the secret once.
    Add {
        /// The user the key acts as (their role and territory apply).
        #[arg(long)]
        user: String,
        #[arg(long)]
        name: String,
        /// api (the native API) and/or open311 (Open311 POSTs), comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "open311")]
        scopes: Vec<String>,
        /// Requests per minute.
        #[arg(long, default_value_t = 600)]
        rate_per_minute: u32,
    },
    /// List API keys (never their secrets).
    List,
    /// Revoke an API key.
    Revoke { id: String },
}

pub async fn keys(store: &Store, command: KeysCommand, actor: Actor) -> anyhow::Result<()> {
    use jz_app::cases::keys;
    match command {
        KeysCommand::Add {
            user,
            name,
            scopes,
            rate_per_minute,
        } => {
            let scopes = scopes
                .iter()
                .map(|s| keys::Scope::parse(s))
                .collect::<Result<Vec<_>, _>>()?;
            let (key, secret) =
                keys::create_api_key(store, &actor, &user, &name, &scopes, rate_per_minute).await?;
            println!("API key {} ({}) for user {}", key.id, key.name, key.user_id);
            println!("API key secret (shown only now): {secret}");
        }
        KeysCommand::List => {
            for key in keys::list_api_keys(store).await? {
                let scopes: Vec<&str> = key.scopes.iter().map(|s| s.as_str()).collect();
                println!(
                    "{}\t{}\tuser {}\t{}\t{}/min\t{}",
                    key.id,
                    key.name,
                    key.user_id,
                    scopes.join(","),
                    key.rate_per_minute,
                    if key.active { "active" } else { "revoked" }
                );
            }
        }
        KeysCommand::Revoke { id } => {
            keys::revoke_api_key(store, &keys::KeyCache::default(), &actor, &id).await?;
            println!("API key {id} revoked");
        }
    }
    Ok(())
}

#[derive(Debug, Subcommand)]
pub enum Open311Command {
    /// List the categories' Open311 settings (exposed or not, group, attributes).
    Services,
    /// Offer a category as an Open311 service (with default settings when it has none).
    Expose { code: String },
    /// Stop offering a category through Open311.
    Hide { code: String },
    /// Replace a service's settings from a JSON file (`ServiceSettings`: category_code, exposed,
    /// order, group, keywords, description, attributes), validated.
    Put { file: std::path::PathBuf },
}

pub async fn open311(store: &Store, command: Open311Command, actor: Actor) -> anyhow::Result<()> {
    use jz_app::open311 as o;
    let model = jz_app::city::load_model(store).await?;
    let cases = jz_app::cases::Cases::open(
        store.clone(),
        std::sync::Arc::new(jz_app::city::SharedCity::new(model)),
    )
    .await?;
    let config = cases.config.current();
    o::ensure_seeded(store, &config, actor.at_us).await?;
    let stored = o::service_settings(store).await?;
    let settings_of = |code: &str| -> anyhow::Result<o::ServiceSettings> {
        if let Some(found) = stored.iter().find(|s| s.category_code == code) {
            return Ok(found.clone());
        }
        let category = config
            .category(code)
            .with_context(|| format!("unknown category `{code}`"))?;
        Ok(o::default_settings(category, stored.len() as i64 + 1))
    };
    match command {
        Open311Command::Services => {
            for s in &stored {
                println!(
                    "{}\t{}\t{}\t{} attribute(s)\t{}",
                    s.category_code,
                    if s.exposed { "exposed" } else { "hidden" },
                    s.group,
                    s.attributes.len(),
                    s.description
                );
            }
        }
        Open311Command::Expose { code } => {
            let mut settings = settings_of(&code)?;
            settings.exposed = true;
            o::put_service(&cases, &actor, settings).await?;
            println!("{code} is offered through Open311");
        }
        Open311Command::Hide { code } => {
            let mut settings = settings_of(&code)?;
            settings.exposed = false;
            o::put_service(&cases, &actor, settings).await?;
            println!("{code} is no longer offered through Open311");
        }
        Open311Command::Put { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let settings: o::ServiceSettings = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a service's settings", file.display()))?;
            let saved = o::put_service(&cases, &actor, settings).await?;
            println!("{} saved", saved.category_code);
        }
    }
    Ok(())
}
