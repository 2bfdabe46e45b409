//! The config file, hot-reloaded: when the file changes on disk ([`watch`])
//! or on SIGHUP, it is read, checked as at start-up, and swapped in whole.
//!
//! Each generation of the config is one [`Gateway`] (config, deployment
//! state, cache) with the [`Accounts`] its limits and budgets come from and
//! the axum router built over them. The server hands each request to the
//! router current when the request arrives ([`crate::server::live`]), so a
//! request in flight finishes on the config it started with. What carries
//! over: each deployment's live state when the deployment still exists
//! ([`State::carry`]), the plugins (re-initialised only where their
//! settings changed, all or none), the key directory, the limit counters
//! and spend writer, the upstream connection pools. What waits for a
//! restart is named ([`restart`]) and kept at its running value. A file
//! that fails leaves the running config serving, and says why in the log
//! and on `GET /admin/config` ([`status`]).

pub mod restart;
pub mod status;
pub mod watch;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use axum::Router;

use crate::config::{Config, ConfigError};
use crate::gateway::Gateway;
use crate::identity::Identity;
use crate::ledger::Accounts;
use crate::plugins::registry::SettingsFn;
use crate::plugins::{Registry, builtin};
use crate::server::{self, AppState};
use crate::state::State;
use crate::upstream::Upstream;
use switchyard_limits::Limiter;
use switchyard_store::SpendWriter;

pub use status::{Outcome, Status, Trigger};

/// Where the config comes from, and what the command line overrides.
#[derive(Debug, Clone, Default)]
pub struct Source {
    /// `--config`; `None`: the built-in default, which never reloads.
    pub file: Option<PathBuf>,
    /// `--plugins`, which replaces `plugins.dir`.
    pub plugins_dir: Option<PathBuf>,
}

impl Source {
    /// Reads the file's text. An empty file is refused: it is a valid
    /// config (no models), and also what an editor leaves for a moment
    /// when it writes in place.
    pub fn read(&self) -> Result<String, String> {
        let Some(file) = &self.file else {
            return Err(
                "the gateway runs on the built-in default config; there is no file to reload"
                    .into(),
            );
        };
        let text = std::fs::read_to_string(file).map_err(|source| {
            ConfigError::Read {
                file: file.clone(),
                source,
            }
            .to_string()
        })?;
        if text.trim().is_empty() {
            return Err(format!(
                "{} is empty; a reload needs the whole config (the running one stays)",
                file.display()
            ));
        }
        Ok(text)
    }

    /// Checks `text` as `serve` does at start: the config, with the
    /// command line's plugins directory, its path made absolute.
    pub fn parse(&self, text: &str) -> Result<Config, String> {
        let file = self.file.as_deref().unwrap_or(Path::new("config.yaml"));
        let base = file.parent().unwrap_or(Path::new("."));
        let mut config = Config::parse(text, base).map_err(|e| {
            ConfigError::InFile {
                file: file.to_path_buf(),
                source: Box::new(e),
            }
            .to_string()
        })?;
        self.prepare(&mut config)?;
        Ok(config)
    }

    /// Reads and checks the file: the config and the text it came from.
    pub fn load(&self) -> Result<(Config, String), String> {
        let text = self.read()?;
        Ok((self.parse(&text)?, text))
    }

    /// The command line's overrides, and one spelling of the plugins
    /// directory (the watcher reports absolute paths).
    pub fn prepare(&self, config: &mut Config) -> Result<(), String> {
        if self.plugins_dir.is_some() {
            config.plugins.dir.clone_from(&self.plugins_dir);
        }
        if let Some(dir) = &config.plugins.dir {
            let dir = std::fs::canonicalize(dir)
                .map_err(|e| format!("plugins dir {}: {e}", dir.display()))?;
            config.plugins.dir = Some(dir);
        }
        Ok(())
    }
}

/// What every generation shares.
pub struct Parts {
    pub registry: Arc<Registry>,
    /// The plugin settings the registry reads; a reload stores the new
    /// config's.
    pub settings: Arc<ArcSwap<SettingsFn>>,
    pub identity: Arc<Identity>,
    pub limiter: Limiter,
    pub writer: Option<SpendWriter>,
    pub upstream: Upstream,
}

/// One config, running.
pub struct Generation {
    pub gateway: Arc<Gateway>,
    pub accounts: Arc<Accounts>,
}

/// Swaps configs.
pub struct Reloader {
    source: Source,
    parts: Parts,
    current: ArcSwap<Generation>,
    routers: Arc<ArcSwap<Router>>,
    status: Arc<Status>,
    /// One reload at a time.
    serial: Mutex<()>,
}

impl Reloader {
    /// The reloader of a gateway that starts on `first`.
    pub fn new(source: Source, parts: Parts, first: Generation, status: Arc<Status>) -> Reloader {
        let router = build_router(&parts, &first, &status);
        Reloader {
            source,
            parts,
            current: ArcSwap::from_pointee(first),
            routers: Arc::new(ArcSwap::from_pointee(router)),
            status,
            serial: Mutex::new(()),
        }
    }

    /// The router the server runs.
    pub fn router(&self) -> Router {
        server::live(self.routers.clone())
    }

    /// The config serving now.
    pub fn current(&self) -> Arc<Generation> {
        self.current.load_full()
    }

    pub fn status(&self) -> &Arc<Status> {
        &self.status
    }

    pub fn source(&self) -> &Source {
        &self.source
    }

    /// Reloads the file. Blocking (plugins may be re-initialised): call it
    /// off the async workers, inside the tokio runtime (the new state's
    /// Redis sync and health checks are spawned on it).
    pub fn reload(&self, trigger: Trigger) -> Outcome {
        let _one = self.serial.lock().unwrap_or_else(|e| e.into_inner());
        let started = std::time::Instant::now();
        match self.try_reload(trigger) {
            Ok(Done::Unchanged) => {
                // Not an attempt: the bytes are the running ones, or the
                // ones the last attempt tried (one save reported twice).
                tracing::debug!(trigger = ?trigger, "config file unchanged; nothing to reload");
                Outcome::Unchanged
            }
            Ok(Done::Applied {
                generation,
                summary,
            }) => {
                crate::observe::config_reloaded(true, generation);
                tracing::info!(
                    trigger = ?trigger,
                    generation,
                    ms = started.elapsed().as_millis() as u64,
                    "{summary}"
                );
                Outcome::Ok
            }
            Err((error, sha)) => {
                let generation = self.status.failed(trigger, error.clone(), sha);
                crate::observe::config_reloaded(false, generation);
                tracing::error!(
                    trigger = ?trigger,
                    generation,
                    %error,
                    "config reload failed; the running config stays"
                );
                Outcome::Error
            }
        }
    }

    fn try_reload(&self, trigger: Trigger) -> Result<Done, (String, Option<String>)> {
        let text = self.source.read().map_err(|e| (e, None))?;
        let sha = crate::plugins::runtime::sha256_hex(text.as_bytes());
        let fail = |e: String| (e, Some(sha.clone()));
        // One save is often reported twice: the second report of a file
        // that failed to parse must not count as a second failure, so the
        // bytes are compared before they are parsed.
        if trigger == Trigger::File
            && (self.status.sha256().as_deref() == Some(sha.as_str())
                || self.status.last_tried(&sha))
        {
            return Ok(Done::Unchanged);
        }
        let mut config = self.source.parse(&text).map_err(fail)?;
        let old = self.current.load_full();
        let running = &old.gateway.config;
        let pending = restart::hold(running, &mut config);
        let registry = &self.parts.registry;
        check_roles(&config, &registry.snapshot()).map_err(fail)?;

        // Plugins whose settings change load beside the running ones.
        let settings = crate::app::plugin_settings(&config);
        let before = self.parts.settings.load_full();
        let (builtins, _) = builtin::builtins();
        let prepared = registry
            .prepare(&**before, &*settings, &builtins)
            .map_err(fail)?;

        let state = Arc::new(State::carry(&config, &old.gateway.state, running));
        state.share(&config).map_err(fail)?;
        let cache = next_cache(old.gateway.cache.as_ref(), config.cache.as_ref());
        let carried = state.shared_cells(&old.gateway.state);
        let config = Arc::new(config);
        let gateway = Arc::new(Gateway {
            config: config.clone(),
            registry: registry.clone(),
            upstream: self.parts.upstream.clone(),
            state,
            cache,
            reservations: Default::default(),
        });
        let accounts = Arc::new(Accounts::new(
            &config,
            self.parts.limiter.clone(),
            self.parts.writer.clone(),
            self.parts.identity.clone(),
        ));
        let next = Generation { gateway, accounts };
        let router = build_router(&self.parts, &next, &self.status);

        // The new config's keys are scrubbed from plugin output before any
        // call can carry them.
        crate::plugins::output::set_secrets(crate::app::secrets(&config));
        // The swap: the plugins' settings, the plugins, then the config.
        let reinitialised = prepared.names();
        self.parts.settings.store(Arc::new(settings));
        registry.commit(prepared);
        let gateway = next.gateway.clone();
        self.current.store(Arc::new(next));
        self.routers.store(Arc::new(router));
        let generation = self.status.applied(trigger, &text, sha, pending.clone());
        // Shadows follow `plugins.shadow` (unchanged entries keep running
        // with their counts; bad ones are warnings).
        let shadows = crate::plugins::shadow::rebuild(registry, &config.plugins);

        if let Some(every) = config.health_checks {
            crate::gateway::health::spawn(&gateway, every);
        }
        for w in &config.warnings {
            tracing::warn!("{w}");
        }
        for key in &pending {
            tracing::warn!(key = %key, "config change needs a restart; the running value stays until then");
        }
        let set = registry.snapshot();
        for d in crate::app::unserved(&config, &set) {
            tracing::warn!(deployment = %d.id, provider = %d.provider, "no loaded provider adapter serves this prefix; requests routed to this deployment will fail");
        }
        let summary = format!(
            "config reloaded: {} model groups, {} deployments ({} with their live state carried over, {} new or changed), {} plugins re-initialised{}{}",
            config.groups.len(),
            config.deployments.len(),
            carried,
            config.deployments.len() - carried,
            reinitialised.len(),
            if reinitialised.is_empty() {
                String::new()
            } else {
                format!(" ({})", reinitialised.join(", "))
            },
            if pending.is_empty() {
                String::new()
            } else {
                format!("; waiting for a restart: {}", pending.join(", "))
            }
        );
        let summary = if shadows.running.is_empty() {
            summary
        } else {
            format!("{summary}; shadows running: {}", shadows.running.join(", "))
        };
        Ok(Done::Applied {
            generation,
            summary,
        })
    }
}

enum Done {
    Unchanged,
    Applied { generation: u64, summary: String },
}

/// The checks a reload adds to the file's own: every plugin the config
/// names in a role is loaded (at start a missing one is a warning and
/// requests fail; a reload would take a serving gateway down with it).
fn check_roles(config: &Config, set: &crate::plugins::ActiveSet) -> Result<(), String> {
    let p = &config.plugins;
    let named = p
        .router
        .iter()
        .map(|n| ("plugins.router", n))
        .chain(p.sanitizers.iter().map(|n| ("plugins.sanitizers", n)))
        .chain(p.cost_rules.iter().map(|n| ("plugins.cost_rules", n)));
    for (at, name) in named {
        if set.get(name).is_none() {
            return Err(format!("{at}: plugin {name:?} is not loaded"));
        }
    }
    Ok(())
}

/// The cache of the next generation: the running one with the new
/// settings (its entries and its calls in flight kept; the backend is a
/// restart-only key), a new one when the cache is turned on, none when off.
fn next_cache(
    running: Option<&Arc<crate::cache::ResponseCache>>,
    settings: Option<&switchyard_cache::Settings>,
) -> Option<Arc<crate::cache::ResponseCache>> {
    let settings = settings?.clone();
    Some(match running {
        Some(c) if c.settings == settings => c.clone(),
        Some(c) => Arc::new(crate::cache::ResponseCache {
            settings,
            store: c.store.clone(),
            flights: c.flights.clone(),
        }),
        None => Arc::new(crate::cache::ResponseCache::open(settings)),
    })
}

fn build_router(parts: &Parts, g: &Generation, status: &Arc<Status>) -> Router {
    server::router(AppState {
        gateway: g.gateway.clone(),
        registry: parts.registry.clone(),
        identity: parts.identity.clone(),
        accounts: g.accounts.clone(),
        config_status: status.clone(),
    })
}
