//! The `switchyard` command line.
#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the command line answers on stdout and stderr"
)]

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::plugin_tools::{cases, inspect, new};
use crate::plugins::{Kind, Runtime, RuntimeOptions};

#[derive(Debug, Parser)]
#[command(
    name = "switchyard",
    version,
    about = "An LLM gateway with WebAssembly policy plugins"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs the gateway.
    Serve {
        /// The config file (LiteLLM's config.yaml format plus `plugins:`).
        #[arg(long)]
        config: Option<PathBuf>,
        /// The plugins directory (overrides `plugins.dir`).
        #[arg(long)]
        plugins: Option<PathBuf>,
        #[arg(long, default_value = "0.0.0.0")]
        host: String,
        #[arg(long, default_value_t = 4000)]
        port: u16,
    },
    /// Works with config files.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Works with plugin files.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
    /// Works with the keys and spend database.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Brings the database named by the config up to this binary's schema.
    Migrate {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Says which schema version the database is at.
    Status {
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Loads a config, prints what it would serve and every key it ignores.
    Check { file: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Runs a plugin against a cases file, with no gateway and no network.
    Test { wasm: PathBuf, cases: PathBuf },
    /// Prints what a plugin describes and its imports and exports; WASM is
    /// a file, or the name of a built-in plugin.
    Inspect { wasm: PathBuf },
    /// Creates a plugin folder that builds, passes its cases.yaml and loads
    /// into a gateway, and prints the commands to do each.
    New {
        /// router, sanitizer, provider or cost.
        kind: String,
        /// The plugin's name: lower-case letters, digits and '-'.
        name: String,
        /// rust (every kind), python or js (router and sanitizer).
        #[arg(long, default_value = "rust")]
        lang: String,
        /// The folder to create (must not exist or be empty); default ./NAME.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// For Rust: the SDK folder (sdk/rust of a Switchyard checkout);
        /// default $SWITCHYARD_SDK, else found beside this binary.
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
}

/// Runs the command; the exit code.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Plugin { command } => {
            let runtime = Runtime::new(RuntimeOptions::default())?;
            match command {
                PluginCommand::Test { wasm, cases } => {
                    let results = cases::run_file(&runtime, &wasm, &cases)?;
                    let (text, ok) = cases::report(&results);
                    print!("{text}");
                    Ok(if ok { 0 } else { 1 })
                }
                PluginCommand::Inspect { wasm } => {
                    print!("{}", inspect::inspect(&runtime, &wasm)?);
                    Ok(0)
                }
                PluginCommand::New {
                    kind,
                    name,
                    lang,
                    dir,
                    sdk,
                } => {
                    let created = new::create(&new::Request {
                        kind: new::Kind::parse(&kind)?,
                        name,
                        lang: new::Lang::parse(&lang)?,
                        dir,
                        sdk,
                    })?;
                    print!("{}", created.next_steps);
                    Ok(0)
                }
            }
        }
        Command::Config {
            command: ConfigCommand::Check { file },
        } => config_check(&file),
        Command::Db { command } => db(command),
        Command::Serve {
            config,
            plugins,
            host,
            port,
        } => {
            // A reload reads the file the same way (`Source::prepare`).
            let source = crate::reload::Source {
                file: config.clone(),
                plugins_dir: plugins,
            };
            let mut config = load_or_default(config.as_deref())?;
            source
                .prepare(&mut config)
                .map_err(|e| anyhow::anyhow!(e))?;
            for w in &config.warnings {
                tracing::warn!("{w}");
            }
            let addr: SocketAddr = format!("{host}:{port}")
                .parse()
                .map_err(|e| anyhow::anyhow!("--host/--port: {e}"))?;
            crate::app::serve_reloading(config, source, addr)?;
            Ok(0)
        }
    }
}

/// The config a command names, or the embedded default.
fn load_or_default(path: Option<&std::path::Path>) -> anyhow::Result<Config> {
    match path {
        Some(path) => Config::load(path).map_err(|e| anyhow::anyhow!(e)),
        None => Config::parse("", std::path::Path::new(".")).map_err(|e| anyhow::anyhow!(e)),
    }
}

/// `switchyard db migrate|status --config FILE`.
fn db(command: DbCommand) -> anyhow::Result<i32> {
    let (DbCommand::Migrate { config } | DbCommand::Status { config }) = &command;
    let config = load_or_default(config.as_deref())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let store = switchyard_store::Store::connect(&config.money.database_url)
            .await
            .map_err(|e| anyhow::anyhow!("database: {e}"))?;
        let before = store
            .schema()
            .await
            .map_err(|e| anyhow::anyhow!("database: {e}"))?;
        println!("database: {}", store.describe());
        println!("schema: {before:?}");
        if let DbCommand::Migrate { .. } = command {
            let applied = store
                .migrate()
                .await
                .map_err(|e| anyhow::anyhow!("database: {e}"))?;
            if applied.is_empty() {
                println!("nothing to migrate");
            } else {
                for v in &applied {
                    println!("applied migration {v}");
                }
            }
            let after = store
                .schema()
                .await
                .map_err(|e| anyhow::anyhow!("database: {e}"))?;
            println!("schema: {after:?}");
        }
        Ok(0)
    })
}

/// Auth, the database, limits and budgets, as `config check` shows them.
fn print_money(config: &Config) {
    let m = &config.money;
    println!("keys and spend:");
    match &config.master_key {
        Some(_) => println!("  auth: master key set (virtual keys work; management API on)"),
        None => println!(
            "  auth: off (no general_settings.master_key: anyone may call; management API closed)"
        ),
    }
    let url = redact(&m.database_url);
    println!(
        "  database: {url}{}",
        if m.database_is_default {
            " (default)"
        } else {
            ""
        }
    );
    println!(
        "  spend records: {}",
        if m.spend_logs {
            "on"
        } else {
            "off (disable_spend_logs)"
        }
    );
    println!(
        "  limit counters: {}",
        if config.redis.is_some() {
            "redis (shared by replicas)"
        } else {
            "in memory (this process only)"
        }
    );
    for r in &m.rules {
        let mut parts = Vec::new();
        if let Some(v) = r.rpm {
            parts.push(format!("rpm {v}"));
        }
        if let Some(v) = r.tpm {
            parts.push(format!("tpm {v}"));
        }
        if let Some(v) = r.max_parallel {
            parts.push(format!("max_parallel {v}"));
        }
        if let Some(b) = &r.budget {
            parts.push(format!("budget ${} per {:?}", b.max_usd, b.period));
        }
        let which = match &r.value {
            Some(v) => format!("{} = {v}", r.matches.kind()),
            None => format!("each {}", r.matches.kind()),
        };
        println!("  limit {which}: {}", parts.join(", "));
    }
    for (p, b) in &m.provider_budgets {
        println!("  provider budget {p}: ${} per {:?}", b.max_usd, b.period);
    }
    for d in &config.deployments {
        if let Some(b) = &d.budget {
            println!(
                "  deployment budget {}: ${} per {:?}",
                d.id, b.max_usd, b.period
            );
        }
    }
    if let Some(b) = &m.global_budget {
        println!("  proxy budget: ${} per {:?}", b.max_usd, b.period);
    }
}

/// A URL with its password (in the user info, which ends at the last
/// `@`, or as a `password=` parameter) replaced.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let rest = match rest.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => rest.to_string(),
        },
        None => rest.to_string(),
    };
    let rest = match rest.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => p.to_string(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => rest,
    };
    format!("{scheme}://{rest}")
}

/// `switchyard config check FILE`.
fn config_check(file: &std::path::Path) -> anyhow::Result<i32> {
    let config = match Config::load(file) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(1);
        }
    };
    println!("config: {} (ok)", file.display());
    println!("model groups:");
    for g in config.groups.values() {
        println!(
            "  {} ({} deployment{})",
            g.name,
            g.deployments.len(),
            if g.deployments.len() == 1 { "" } else { "s" }
        );
        for d in &g.deployments {
            println!(
                "    {}: {}/{}{}",
                d.id,
                d.provider,
                d.model,
                d.api_base
                    .as_deref()
                    .map(|b| format!(" at {b}"))
                    .unwrap_or_default()
            );
        }
    }
    for (alias, group) in &config.aliases {
        println!("  alias {alias} -> {group}");
    }
    let r = &config.reliability;
    println!("routing:");
    println!("  strategy: {}", config.routing_strategy);
    println!(
        "  retries: {} per group; cooldown after {} failures/minute for {:?}",
        r.num_retries, r.allowed_fails, r.cooldown_time
    );
    for (group, to) in &r.fallbacks {
        println!("  fallbacks {group} -> {}", to.join(", "));
    }
    for (group, to) in &r.context_window_fallbacks {
        println!("  context window fallbacks {group} -> {}", to.join(", "));
    }
    for (group, to) in &r.content_policy_fallbacks {
        println!("  content policy fallbacks {group} -> {}", to.join(", "));
    }
    if !r.default_fallbacks.is_empty() {
        println!("  default fallbacks -> {}", r.default_fallbacks.join(", "));
    }
    match &config.redis {
        Some(redis) => println!("  shared state: redis (key prefix {:?})", redis.prefix),
        None => println!("  shared state: in memory (this process only)"),
    }
    match config.health_checks {
        Some(every) => println!("  background health checks: every {every:?}"),
        None => println!("  background health checks: off"),
    }
    match &config.cache {
        Some(cache) => println!("cache: {}", crate::config::cache::summary(cache)),
        None => println!("cache: off"),
    }
    print_money(&config);
    let problems = print_plugins(&config)?;
    // Keys it ignores, and values it read otherwise than written.
    if config.warnings.is_empty() {
        println!("warnings: none");
    } else {
        println!("warnings ({}):", config.warnings.len());
        for w in &config.warnings {
            println!("  {w}");
        }
    }
    if problems.is_empty() {
        return Ok(0);
    }
    println!("errors ({}):", problems.len());
    for p in &problems {
        println!("  error: {p}");
    }
    Ok(1)
}

/// Prints the plugins the config gets (built-in ones and `plugins.dir`'s)
/// and returns what cannot work: a deployment whose prefix no loaded
/// adapter serves, a plugin named in `plugins:` that is not loaded.
fn print_plugins(config: &Config) -> anyhow::Result<Vec<String>> {
    let loaded = crate::app::load_plugins(config)?;
    let set = loaded.registry.snapshot();
    let p = &config.plugins;
    println!("plugins:");
    println!("  built in: {}", loaded.builtins);
    println!(
        "  dir: {}",
        p.dir
            .as_ref()
            .map(|d| d.display().to_string())
            .unwrap_or_else(|| "(none)".into())
    );
    for row in loaded.registry.status() {
        let origin = match (row.origin, row.overrides_builtin) {
            (crate::plugins::Origin::Builtin, _) => "built in",
            (_, true) => "file, overrides the built-in one",
            _ => "file",
        };
        println!(
            "  {} {}: {} {}, {} ({})",
            row.name.as_deref().unwrap_or("?"),
            row.version.as_deref().unwrap_or("?"),
            row.kind.map(Kind::as_str).unwrap_or("?"),
            row.status.as_str(),
            origin,
            row.file,
        );
        if let Some(e) = &row.error {
            println!("    error: {e}");
        }
    }
    let router = p.router.as_deref().unwrap_or("default-router");
    println!("  router: {router}");
    println!("  sanitizers: [{}]", p.sanitizers.join(", "));
    println!("  cost rules: [{}]", p.cost_rules.join(", "));
    for u in crate::plugins::roles::unused(config, &set) {
        println!(
            "  warning: {} ({}, {}) is loaded but no role uses it; {}",
            u.name,
            u.kind.as_str(),
            u.file,
            u.hint
        );
    }
    let mut problems = Vec::new();
    let prefixes = crate::app::served_prefixes(&set);
    for d in crate::app::unserved(config, &set) {
        problems.push(format!(
            "model_list[{}] (deployment {}): no loaded provider adapter serves the prefix {:?} of {}/{}; served prefixes: {}",
            d.index,
            d.id,
            d.provider,
            d.provider,
            d.model,
            prefixes.join(", ")
        ));
    }
    // Without `plugins.router` the host falls back to the configured order
    // when `default-router` is missing, so only a named router must load.
    let named = p
        .router
        .iter()
        .map(|n| ("plugins.router", n.as_str()))
        .chain(
            p.sanitizers
                .iter()
                .map(|n| ("plugins.sanitizers", n.as_str())),
        )
        .chain(
            p.cost_rules
                .iter()
                .map(|n| ("plugins.cost_rules", n.as_str())),
        );
    for (at, name) in named {
        if set.get(name).is_none() {
            problems.push(format!("{at}: plugin {name:?} is not loaded"));
        }
    }
    Ok(problems)
}
