//! The `switchyard` command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use serde::Deserialize;

use crate::config::PluginsSection;
use crate::plugins::{Registry, Runtime, RuntimeOptions, cases, inspect, watcher};
use crate::server::{self, AppState};

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
    /// Works with plugin files.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Runs a plugin against a cases file, with no gateway and no network.
    Test { wasm: PathBuf, cases: PathBuf },
    /// Prints what a plugin describes and its imports and exports.
    Inspect { wasm: PathBuf },
}

/// The parts of a config file this build reads.
#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    plugins: PluginsSection,
    #[serde(default)]
    general_settings: GeneralSettings,
}

#[derive(Debug, Default, Deserialize)]
struct GeneralSettings {
    master_key: Option<String>,
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
            }
        }
        Command::Serve {
            config,
            plugins,
            host,
            port,
        } => {
            let file: ConfigFile = match &config {
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                    serde_yaml::from_str(&text)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
                }
                None => ConfigFile::default(),
            };
            let mut section = file.plugins;
            if plugins.is_some() {
                section.dir = plugins;
            }
            section.validate().map_err(|e| anyhow::anyhow!(e))?;
            let addr: SocketAddr = format!("{host}:{port}")
                .parse()
                .map_err(|e| anyhow::anyhow!("--host/--port: {e}"))?;
            serve(Arc::new(section), file.general_settings.master_key, addr)?;
            Ok(0)
        }
    }
}

fn serve(
    section: Arc<PluginsSection>,
    master_key: Option<String>,
    addr: SocketAddr,
) -> anyhow::Result<()> {
    let mut options = RuntimeOptions::default();
    if section.cache_dir.is_some() {
        options.cache_dir = section.cache_dir.clone();
    }
    let runtime = Runtime::new(options)?;
    let registry = Arc::new(Registry::new(runtime, section.settings_fn()));
    let mut _watch = None;
    if let Some(dir) = &section.dir {
        for (file, change) in registry
            .load_dir(dir)
            .map_err(|e| anyhow::anyhow!("plugins dir {}: {e}", dir.display()))?
        {
            tracing::debug!(file = %file.display(), ?change, "startup load");
        }
        if section.watch {
            _watch = Some(watcher::watch(registry.clone(), dir).map_err(|e| anyhow::anyhow!(e))?);
        }
    }
    let state = AppState {
        registry,
        master_key: master_key.map(Arc::from),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        tracing::info!(%addr, "switchyard listening");
        axum::serve(listener, server::router(state))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        Ok::<_, anyhow::Error>(())
    })
}
