//! The `switchyard` command line.
#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the command line answers on stdout and stderr"
)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::serve::ListenerExt;
use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::gateway::Gateway;
use crate::plugin_tools::{cases, inspect};
use crate::plugins::{Kind, Registry, Runtime, RuntimeOptions, watcher};
use crate::server::{self, AppState};
use crate::upstream::Upstream;

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
    /// Prints what a plugin describes and its imports and exports.
    Inspect { wasm: PathBuf },
}

/// Runs the command; the exit code.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Plugin { command } => {
            // Plugin calls may touch tokio (a plugin that sleeps gets a
            // clear trap rather than a panic): give them a runtime context.
            let tokio = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let _context = tokio.enter();
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
            }
        }
        Command::Config {
            command: ConfigCommand::Check { file },
        } => config_check(&file),
        Command::Serve {
            config,
            plugins,
            host,
            port,
        } => {
            let mut config = match &config {
                Some(path) => Config::load(path).map_err(|e| anyhow::anyhow!(e))?,
                None => {
                    Config::parse("", std::path::Path::new(".")).map_err(|e| anyhow::anyhow!(e))?
                }
            };
            if plugins.is_some() {
                config.plugins.dir = plugins;
            }
            // One spelling of every path: the watcher reports absolute paths,
            // so the files loaded at start must be named the same way.
            if let Some(dir) = &config.plugins.dir {
                let dir = std::fs::canonicalize(dir)
                    .map_err(|e| anyhow::anyhow!("plugins dir {}: {e}", dir.display()))?;
                config.plugins.dir = Some(dir);
            }
            for w in &config.warnings {
                tracing::warn!("{w}");
            }
            let addr: SocketAddr = format!("{host}:{port}")
                .parse()
                .map_err(|e| anyhow::anyhow!("--host/--port: {e}"))?;
            serve(config, addr)?;
            Ok(0)
        }
    }
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
    let p = &config.plugins;
    println!("plugins:");
    println!(
        "  dir: {}",
        p.dir
            .as_ref()
            .map(|d| d.display().to_string())
            .unwrap_or_else(|| "(none)".into())
    );
    println!(
        "  router: {}",
        p.router
            .as_deref()
            .unwrap_or("default-router (when loaded)")
    );
    println!("  sanitizers: [{}]", p.sanitizers.join(", "));
    println!("  cost rules: [{}]", p.cost_rules.join(", "));
    // Keys it ignores, and values it read otherwise than written.
    if config.warnings.is_empty() {
        println!("warnings: none");
    } else {
        println!("warnings ({}):", config.warnings.len());
        for w in &config.warnings {
            println!("  {w}");
        }
    }
    Ok(0)
}

/// Each plugin's settings: its `plugins.settings` entry, the deployment
/// table for routers, and for `default-router` whatever `router_settings`
/// says (strategy, strategy args, tag filtering) that its own config does
/// not.
pub fn plugin_settings(config: &Config) -> crate::plugins::registry::SettingsFn {
    let section = Arc::new(config.plugins.clone());
    let settings = section.settings_fn();
    let defaults = config.router_defaults.clone();
    let table = crate::gateway::route::routing_table(&config.deployments);
    Arc::new(move |name: &str| {
        let mut s = settings(name);
        s.deployments = table.clone();
        if name == "default-router"
            && let serde_json::Value::Object(m) = &mut s.config
        {
            for (k, v) in &defaults {
                m.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        s
    })
}

fn serve(config: Config, addr: SocketAddr) -> anyhow::Result<()> {
    let mut options = RuntimeOptions::default();
    if config.plugins.cache_dir.is_some() {
        options.cache_dir = config.plugins.cache_dir.clone();
    }
    let runtime = Runtime::new(options)?;
    let settings = plugin_settings(&config);
    let registry = Arc::new(Registry::new(runtime, settings));
    let mut _watch = None;
    if let Some(dir) = &config.plugins.dir {
        for (file, change) in registry
            .load_dir(dir)
            .map_err(|e| anyhow::anyhow!("plugins dir {}: {e}", dir.display()))?
        {
            tracing::debug!(file = %file.display(), ?change, "startup load");
        }
        if config.plugins.watch {
            _watch = Some(watcher::watch(registry.clone(), dir).map_err(|e| anyhow::anyhow!(e))?);
        }
    }
    let set = registry.snapshot();
    for d in &config.deployments {
        if set.provider_for(&d.provider).is_none() {
            tracing::warn!(deployment = %d.id, provider = %d.provider, "no provider adapter plugin is loaded for this prefix");
        }
    }
    tracing::info!(
        plugins = set.len(),
        routers = set.of_kind(Kind::Router).count(),
        adapters = set.of_kind(Kind::Provider).count(),
        "plugins ready"
    );
    let master_key = config.master_key.clone().map(Arc::from);
    let health_checks = config.health_checks;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let state = Arc::new(crate::state::State::new(&config));
        state.share(&config).map_err(|e| anyhow::anyhow!(e))?;
        let gateway = Arc::new(Gateway {
            config: Arc::new(config),
            registry: registry.clone(),
            upstream: Upstream::new().map_err(|e| anyhow::anyhow!(e))?,
            state,
        });
        if let Some(every) = health_checks {
            crate::gateway::health::spawn(&gateway, every);
        }
        let state = AppState {
            gateway,
            registry,
            master_key,
        };
        // Nagle's algorithm on accepted sockets holds a stream's last small
        // write until the client's delayed ACK (40 ms on Linux), so every
        // streamed answer on a kept-alive connection would end 40 ms late.
        let listener = tokio::net::TcpListener::bind(addr).await?.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "could not set TCP_NODELAY on an accepted connection");
            }
        });
        tracing::info!(%addr, "switchyard listening");
        axum::serve(listener, server::router(state))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        Ok::<_, anyhow::Error>(())
    })
}
