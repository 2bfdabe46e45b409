//! Typed sections into the runtime [`Config`]: defaults, and every check
//! that spans keys or sections (aliases and fallbacks naming real groups,
//! Redis URLs, plugin settings), in one place.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::env::Lookup;
use super::error::{ConfigError, KeyPath};
use super::money::{self, Money};
use super::notes::Notes;
use super::raw::RawRouter;
use super::reader::RawConfig;
use super::reliability::Reliability;
use super::{Config, RedisSettings, cache, model_list};

impl Config {
    /// Builds the config from its sections; `base` anchors relative paths
    /// in `plugins:` and the disk cache; `env` is asked for the cache's
    /// Redis when the file names none; `notes` says where moved keys were
    /// written.
    pub(super) fn build(
        raw: RawConfig,
        base: &Path,
        env: Lookup,
        notes: &Notes,
        mut warnings: Vec<String>,
    ) -> Result<Config, ConfigError> {
        let top = KeyPath::root();
        let RawConfig {
            general,
            router,
            litellm,
            reliability,
            model_list,
            mut plugins,
            limits,
            webhooks,
        } = raw;
        let router_at = top.key("router_settings");

        let master_key = general.master_key.clone();
        let max_body_bytes = general
            .max_request_size_mb
            .map_or(32 << 20, |mb| (mb.0 * 1024.0 * 1024.0) as usize);
        let health_checks = match general.background_health_checks {
            Some(true) => Some(
                general
                    .health_check_interval
                    .map_or(Duration::from_secs(300), |s| s.0),
            ),
            _ => None,
        };

        let default_timeout = router
            .timeout
            .or(litellm.request_timeout)
            .map_or(Duration::from_secs(600), |s| s.0);
        let default_stream_timeout = router.stream_timeout.map(|s| s.0);
        let routing_strategy = router
            .routing_strategy
            .clone()
            .unwrap_or_else(|| "simple-shuffle".into());
        let mut router_defaults = serde_json::Map::new();
        router_defaults.insert("strategy".into(), routing_strategy.clone().into());
        let mut latency_ttl = Duration::from_secs(3600);
        if let Some(args) = &router.routing_strategy_args {
            if let Some(b) = args.lowest_latency_buffer {
                router_defaults.insert("lowest_latency_buffer".into(), b.0.into());
            }
            if let Some(ttl) = args.ttl {
                latency_ttl = ttl.0;
                router_defaults.insert("ttl".into(), latency_ttl.as_secs_f64().into());
            }
        }
        if let Some(on) = router.enable_tag_filtering {
            router_defaults.insert("enable_tag_filtering".into(), on.into());
        }
        let redis = redis_settings(&router, &router_at)?;
        let money = money_settings(&general, &router, &litellm, limits, base, &mut warnings)?;
        let cache = cache::settings(
            &cache::Sources {
                litellm: &litellm,
                router_redis: redis.as_ref(),
                redis_prefix: &redis_prefix(&router),
                base,
                env,
                notes,
            },
            &mut warnings,
        )?;

        let model_list::ModelList {
            deployments,
            groups,
        } = model_list::build(model_list, &top.key("model_list"))?;
        let mut aliases = BTreeMap::new();
        for (alias, target) in router.model_group_alias.unwrap_or_default() {
            if target.hidden {
                warnings.push(format!(
                    "{} is not used by Switchyard and is ignored (the alias is listed in /v1/models)",
                    router_at.key("model_group_alias").key(&alias).key("hidden")
                ));
            }
            aliases.insert(alias, target.group);
        }
        for (alias, group) in &aliases {
            if !groups.contains_key(group) {
                return Err(ConfigError::invalid(
                    router_at.key("model_group_alias").key(alias),
                    format!("model group {group:?} is not in model_list"),
                ));
            }
        }
        let (mut reliability, named) = Reliability::from_raw(reliability)?;
        for (at, group) in named {
            if !groups.contains_key(&group) && !aliases.contains_key(&group) {
                return Err(ConfigError::invalid(
                    at,
                    format!("model group {group:?} is not in model_list"),
                ));
            }
        }
        reliability.resolve_aliases(&aliases);

        for dir in [&mut plugins.dir, &mut plugins.cache_dir]
            .into_iter()
            .flatten()
        {
            if dir.is_relative() {
                *dir = base.join(&*dir);
            }
        }
        margins(&litellm, &mut plugins, &mut warnings);
        // A hook's name in a callback list is no unknown callback.
        let observability = super::observe::settings(
            &litellm,
            &general,
            &|name| webhooks.names(name),
            &mut warnings,
        );
        plugins.validate()?;

        Ok(Config {
            groups,
            deployments,
            aliases,
            master_key,
            plugins,
            routing_strategy,
            router_defaults,
            latency_ttl,
            reliability,
            redis,
            money,
            cache,
            observability,
            metrics_caller_labels: litellm
                .enable_end_user_cost_tracking_prometheus_only
                .unwrap_or(false),
            webhooks: webhooks.on,
            health_checks,
            default_timeout,
            default_stream_timeout,
            max_body_bytes,
            warnings,
        })
    }
}

/// LiteLLM's `cost_margin_config` and `cost_discount_config` become the
/// built-in `cost-margin` rule's `margin` and `discount` (its own settings
/// win), and the rule joins the default chain after `model-prices`.
fn margins(
    litellm: &super::raw::RawLitellm,
    plugins: &mut super::PluginsSection,
    warnings: &mut Vec<String>,
) {
    const RULE: &str = "cost-margin";
    let given = [
        ("margin", "cost_margin_config", &litellm.cost_margin_config),
        (
            "discount",
            "cost_discount_config",
            &litellm.cost_discount_config,
        ),
    ];
    if given.iter().all(|(_, _, v)| v.is_none()) {
        return;
    }
    let settings = plugins.settings.entry(RULE.to_string()).or_default();
    let config = settings
        .entry("config")
        .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
    if let serde_json::Value::Object(config) = config {
        for (field, _, value) in &given {
            if let Some(v) = value {
                config.entry(*field).or_insert_with(|| v.clone());
            }
        }
    }
    if plugins.cost_rules == ["model-prices"] {
        plugins.cost_rules.push(RULE.to_string());
    } else if !plugins.cost_rules.iter().any(|r| r == RULE) {
        for (_, key, value) in &given {
            if value.is_some() {
                warnings.push(format!(
                    "litellm_settings.{key} applies through the cost-margin rule, which plugins.cost_rules leaves out: add it to apply the {key}"
                ));
            }
        }
    }
}

/// Keys, spend and limits (see [`money`]).
fn money_settings(
    general: &super::raw::RawGeneral,
    router: &RawRouter,
    litellm: &super::raw::RawLitellm,
    limits: Vec<money::RawRule>,
    base: &Path,
    warnings: &mut Vec<String>,
) -> Result<Money, ConfigError> {
    let top = KeyPath::root();
    let general_at = top.key("general_settings");
    let (database_url, database_is_default) =
        money::database_url(general.database_url.clone(), base);
    let mut rules = money::rules(limits, &top.key("limits"), warnings)?;
    rules.extend(money::model_rules(
        general.budget_and_rate_limits.clone().unwrap_or_default(),
        &general_at.key("budget_and_rate_limits"),
        warnings,
    )?);
    let provider_budgets = money::provider_budgets(
        router.provider_budget_config.clone().unwrap_or_default(),
        &top.key("router_settings").key("provider_budget_config"),
    )?;
    let litellm_at = top.key("litellm_settings");
    let global_budget = match litellm.max_budget {
        Some(max) => Some(switchyard_limits::Budget {
            max_usd: max.0,
            period: money::period(
                litellm.budget_duration.as_ref(),
                &litellm_at.key("budget_duration"),
            )?,
        }),
        None => None,
    };
    Ok(Money {
        database_url,
        database_is_default,
        spill_path: base.join(money::SPILL_FILE),
        spend_logs: !general.disable_spend_logs.unwrap_or(false),
        rules,
        provider_budgets,
        global_budget,
    })
}

/// `redis_url`, else `redis_host` (+ `redis_port`, `redis_password`).
fn redis_settings(router: &RawRouter, at: &KeyPath) -> Result<Option<RedisSettings>, ConfigError> {
    let prefix = redis_prefix(router);
    if let Some(url) = &router.redis_url {
        return Ok(Some(RedisSettings {
            url: checked_redis_url(url, at.key("redis_url"))?,
            prefix,
        }));
    }
    let Some(host) = &router.redis_host else {
        return Ok(None);
    };
    Ok(Some(RedisSettings {
        url: redis_url_of(
            host,
            router.redis_port.map_or(6379, |p| p.0),
            router.redis_password.as_deref(),
        ),
        prefix,
    }))
}

/// The prefix of every Redis key the gateway writes.
fn redis_prefix(router: &RawRouter) -> String {
    router
        .redis_key_prefix
        .clone()
        .unwrap_or_else(|| "switchyard".into())
}

/// A Redis URL as written (at `at`), if Switchyard can connect to it.
pub(super) fn checked_redis_url(url: &str, at: KeyPath) -> Result<String, ConfigError> {
    if url.starts_with("rediss://") {
        return Err(ConfigError::invalid(
            at,
            "TLS (rediss://) is not supported yet; use redis:// on a private network",
        ));
    }
    if !url.starts_with("redis://") {
        // Not echoed: the URL may hold a password.
        return Err(ConfigError::invalid(
            at,
            "expected redis://[:password@]host:port[/db]",
        ));
    }
    Ok(url.to_string())
}

/// `redis://[:password@]host:port`; an empty password is none.
pub(super) fn redis_url_of(host: &str, port: u16, password: Option<&str>) -> String {
    let auth = match password {
        Some(p) if !p.is_empty() => format!(":{}@", switchyard_sdk::util::percent_encode(p)),
        _ => String::new(),
    };
    format!("redis://{auth}{host}:{port}")
}
