//! The composition root: a checked config becomes a running gateway (the
//! plugins it needs loaded, live state shared, the HTTP server bound).

use std::net::SocketAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::config::{Config, Deployment};
use crate::gateway::Gateway;
use crate::identity::Identity;
use crate::ledger::Accounts;
use crate::plugins::registry::SettingsFn;
use crate::plugins::{ActiveSet, Kind, Registry, Runtime, RuntimeOptions, builtin, watcher};
use crate::reload::{self, Generation, Parts, Reloader, Source};
use crate::upstream::Upstream;
use switchyard_limits::Limiter;
use switchyard_store::{SpendWriter, Store, WriterOptions};

/// Each plugin's settings: its `plugins.settings` entry, the deployment
/// table for routers, and for `default-router` whatever `router_settings`
/// says (strategy, strategy args, tag filtering) that its own config does
/// not.
pub fn plugin_settings(config: &Config) -> SettingsFn {
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

/// The plugins a config gets: the built-in ones, then `plugins.dir`'s
/// (which override built-in ones of the same name).
pub struct Plugins {
    pub registry: Arc<Registry>,
    /// Where the built-in plugins came from.
    pub builtins: builtin::Source,
    /// The settings the registry reads, swapped by a config reload.
    pub settings: Arc<ArcSwap<SettingsFn>>,
}

/// Loads the built-in plugins and those of `plugins.dir`.
pub fn load_plugins(config: &Config) -> anyhow::Result<Plugins> {
    let mut options = RuntimeOptions::default();
    if config.plugins.cache_dir.is_some() {
        options.cache_dir = config.plugins.cache_dir.clone();
    }
    let runtime = Runtime::new(options)?;
    let settings = Arc::new(ArcSwap::from_pointee(plugin_settings(config)));
    let slot = settings.clone();
    let registry = Arc::new(Registry::new(
        runtime,
        Arc::new(move |name: &str| {
            let current = slot.load_full();
            (**current)(name)
        }),
    ));
    let (list, source) = builtin::builtins();
    registry.load_builtins(&list);
    if let Some(dir) = &config.plugins.dir {
        for (file, change) in registry
            .load_dir(dir)
            .map_err(|e| anyhow::anyhow!("plugins dir {}: {e}", dir.display()))?
        {
            tracing::debug!(file = %file.display(), ?change, "startup load");
        }
    }
    Ok(Plugins {
        registry,
        builtins: source,
        settings,
    })
}

/// The deployments whose provider prefix no loaded adapter serves.
pub fn unserved<'a>(config: &'a Config, set: &ActiveSet) -> Vec<&'a Arc<Deployment>> {
    config
        .deployments
        .iter()
        .filter(|d| set.provider_for(&d.provider).is_none())
        .collect()
}

/// The prefixes the loaded adapters serve, sorted, for messages.
pub fn served_prefixes(set: &ActiveSet) -> Vec<String> {
    let mut prefixes: Vec<String> = set
        .of_kind(Kind::Provider)
        .flat_map(|p| p.info.provider_prefixes.iter().cloned())
        .collect();
    prefixes.sort();
    prefixes.dedup();
    prefixes
}

/// The config's secrets, which plugin output never logs: the master key,
/// deployments' API keys, and any other deployment param whose name says
/// it holds a key, secret, token or password.
pub fn secrets(config: &Config) -> Vec<String> {
    let secret_name = crate::plugins::output::is_secret_name;
    let params = config.deployments.iter().flat_map(|d| {
        d.api_key.iter().cloned().chain(
            d.params
                .iter()
                .filter(|(k, _)| secret_name(k))
                .filter_map(|(_, v)| v.as_str().map(str::to_string)),
        )
    });
    let stores = [
        password_of(&config.money.database_url),
        config.redis.as_ref().and_then(|r| password_of(&r.url)),
        match config.cache.as_ref().map(|c| &c.backend) {
            Some(switchyard_cache::Backend::Redis { url, .. }) => password_of(url),
            _ => None,
        },
    ];
    // Webhook secrets, and header values that carry credentials (an
    // `Authorization` for the receiver, say).
    let hooks = config.webhooks.iter().flat_map(|h| {
        std::iter::once(h.secret.clone()).chain(
            h.headers
                .iter()
                .filter(|(n, _)| secret_name(n.as_str()))
                .filter_map(|(_, v)| v.to_str().ok().map(str::to_string)),
        )
    });
    config
        .master_key
        .iter()
        .cloned()
        .chain(params)
        .chain(stores.into_iter().flatten())
        .chain(hooks)
        .filter(|s| !s.is_empty())
        .collect()
}

/// The password in a `scheme://user:password@host` URL.
fn password_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let userinfo = rest.rsplit_once('@')?.0;
    let password = userinfo.split_once(':')?.1;
    (!password.is_empty()).then(|| password.to_string())
}

/// Runs the gateway on `addr` until SIGINT or SIGTERM, with no config
/// file to reload.
pub fn serve(config: Config, addr: SocketAddr) -> anyhow::Result<()> {
    serve_reloading(config, Source::default(), addr)
}

/// Runs the gateway on `addr` until SIGINT or SIGTERM, reloading the
/// config from `source` when its file changes or on SIGHUP.
pub fn serve_reloading(config: Config, source: Source, addr: SocketAddr) -> anyhow::Result<()> {
    crate::plugins::output::set_secrets(secrets(&config));
    // The text the running config came from, for `GET /admin/config`.
    let text = source
        .file
        .as_ref()
        .and_then(|f| std::fs::read_to_string(f).ok());
    let Plugins {
        registry,
        builtins,
        settings,
    } = load_plugins(&config)?;
    let _watch = match &config.plugins.dir {
        Some(dir) if config.plugins.watch => {
            Some(watcher::watch(registry.clone(), dir).map_err(|e| anyhow::anyhow!(e))?)
        }
        _ => None,
    };
    crate::plugins::shadow::rebuild(&registry, &config.plugins);
    let set = registry.snapshot();
    let prefixes = served_prefixes(&set);
    for d in unserved(&config, &set) {
        tracing::warn!(
            deployment = %d.id,
            provider = %d.provider,
            "no loaded provider adapter serves this prefix; requests routed to this deployment will fail (served prefixes: {})",
            prefixes.join(", ")
        );
    }
    crate::plugins::roles::warn_unused(&config, &set);
    tracing::info!(
        plugins = set.len(),
        routers = set.of_kind(Kind::Router).count(),
        adapters = set.of_kind(Kind::Provider).count(),
        builtin = %builtins,
        "plugins ready"
    );
    let health_checks = config.health_checks;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        // In the runtime: sinks spawn their delivery tasks.
        crate::observe::install(crate::observe::Hub::new(&config));
        let state = Arc::new(crate::state::State::new(&config));
        state.share(&config).map_err(|e| anyhow::anyhow!(e))?;
        let cache = config.cache.clone().map(open_cache);
        let upstream = Upstream::new().map_err(|e| anyhow::anyhow!(e))?;
        let gateway = Arc::new(Gateway {
            config: Arc::new(config),
            registry: registry.clone(),
            upstream: upstream.clone(),
            state,
            cache,
            reservations: Default::default(),
        });
        if let Some(every) = health_checks {
            crate::gateway::health::spawn(&gateway, every);
        }
        let accounts = open_accounts(&gateway.config).await?;
        let watching = source.file.is_some() && reload::watch::watching_enabled();
        let status = Arc::new(reload::Status::new(
            source.file.as_ref().map(|f| f.display().to_string()),
            watching,
            text.as_deref(),
        ));
        let parts = Parts {
            registry,
            settings,
            identity: accounts.identity.clone(),
            limiter: accounts.limiter.clone(),
            writer: accounts.writer.clone(),
            upstream,
        };
        // Moved, so that the first config's health checks stop once a
        // reload replaces it.
        let first = Generation {
            gateway,
            accounts: accounts.clone(),
        };
        let reloader = Arc::new(Reloader::new(source, parts, first, status));
        let _config_watch = if watching {
            match reload::watch::watch_file(reloader.clone(), tokio::runtime::Handle::current()) {
                Ok(w) => Some(w),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot watch the config file; SIGHUP still reloads it");
                    None
                }
            }
        } else {
            None
        };
        if reloader.source().file.is_some() {
            reload::watch::on_sighup(reloader.clone());
        }
        let threads = crate::server::per_core::threads_from_env().unwrap_or_else(|e| {
            let threads = crate::server::per_core::default_threads();
            tracing::warn!("{e}; serving on {threads} threads");
            threads
        });
        let listeners = crate::server::per_core::bind(addr, threads)?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut serving = crate::server::per_core::start(listeners, reloader.router(), stopped)?;
        tracing::info!(%addr, threads, "switchyard listening");
        let early = tokio::select! {
            () = shutdown_signal() => None,
            e = serving.stopped_early() => Some(e),
        };
        stop.send_replace(true);
        let finished = serving.finished().await;
        // A thread that failed is reported after the flush below.
        let served = match early {
            Some(e) => Err(e),
            None => finished,
        };
        if let Err(e) = &served {
            tracing::error!(error = %e, "serving stopped; flushing before exit");
        }
        // Every request has ended, so every event is queued: deliver them.
        if let Some(hooks) = crate::observe::hub().and_then(|h| h.webhooks.as_ref()) {
            hooks.flush(std::time::Duration::from_secs(5)).await;
        }
        // Every request has ended: the limit counters' last settles reach
        // Redis, and every spend record is written, before leaving.
        accounts.limiter.flush().await;
        if let Some(writer) = &accounts.writer {
            let report = writer.shutdown().await;
            tracing::info!(?report, "spend records flushed");
        }
        if let Some(cache) = &reloader.current().gateway.cache {
            cache.store.flush_writes().await;
        }
        let _ = tokio::task::spawn_blocking(move || serving.end()).await;
        served?;
        Ok::<_, anyhow::Error>(())
    })
}

/// Opens the database (migrating an empty one; refusing one whose schema
/// is older than this binary), loads the key directory, starts the spend
/// writer and the limiter, and seeds the budget counters.
pub async fn open_accounts(config: &Config) -> anyhow::Result<Arc<Accounts>> {
    let money = &config.money;
    let store = Store::open(&money.database_url)
        .await
        .map_err(|e| anyhow::anyhow!("database: {e}"))?;
    let identity = Arc::new(
        Identity::load(config.master_key.clone(), store.clone())
            .await
            .map_err(|e| anyhow::anyhow!("database: {e}"))?,
    );
    Identity::watch(&identity);
    let [keys, teams, users, end_users] = identity.directory().counts();
    tracing::info!(
        database = %store.describe(),
        default = money.database_is_default,
        keys, teams, users, end_users,
        "keys and spend database ready"
    );
    let limiter = match &config.redis {
        Some(r) => Limiter::redis(&r.url, &r.prefix).map_err(|e| anyhow::anyhow!("limits: {e}"))?,
        None => Limiter::memory(),
    };
    let writer = money
        .spend_logs
        .then(|| SpendWriter::start(store.clone(), WriterOptions::new(money.spill_path.clone())));
    let accounts = Arc::new(Accounts::new(config, limiter, writer, identity));
    match accounts.seed(config, &store).await {
        Ok(n) => tracing::debug!(budgets = n, "budget windows seeded from the spend table"),
        Err(e) => {
            tracing::warn!(error = %e, "could not read spend to seed budgets; they start at 0")
        }
    }
    Ok(accounts)
}

/// Opens the response cache (an unreachable backend serves misses, said
/// on `/health/readiness`).
fn open_cache(settings: switchyard_cache::Settings) -> Arc<crate::cache::ResponseCache> {
    tracing::info!(
        cache = settings.backend.type_name(),
        ttl_s = settings.ttl.map(|t| t.as_secs()),
        namespace = settings
            .namespace
            .as_deref()
            .unwrap_or(crate::cache::DEFAULT_NAMESPACE),
        "response cache on"
    );
    Arc::new(crate::cache::ResponseCache::open(settings))
}

/// Resolves on SIGINT or SIGTERM (what a container runtime sends).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("shutting down: finishing requests in flight");
}
