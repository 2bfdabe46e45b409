//! Configuration: LiteLLM's proxy `config.yaml` (so an existing user can
//! point Switchyard at their file) plus Switchyard's own `plugins:` section.
//!
//! Loading resolves `os.environ/NAME` references, checks every value it acts
//! on, and names each key it does not act on in one warning.

pub mod env;
pub mod model_list;
pub mod plugins;
pub mod reliability;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_yaml::{Mapping, Value};

pub use model_list::{Deployment, ModelGroup, Prices};
pub use plugins::PluginsSection;
pub use reliability::{FailureClass, Reliability};

/// A loaded, checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Model groups by `model_name`.
    pub groups: BTreeMap<String, ModelGroup>,
    /// Every deployment in `model_list` order; `Deployment::index` is the
    /// position here, which is how routers name deployments.
    pub deployments: Vec<Arc<Deployment>>,
    /// `router_settings.model_group_alias`: alias -> group.
    pub aliases: BTreeMap<String, String>,
    /// `general_settings.master_key`; `None` means open, as in LiteLLM.
    pub master_key: Option<String>,
    pub plugins: PluginsSection,
    /// `router_settings.routing_strategy` (default `simple-shuffle`).
    pub routing_strategy: String,
    /// What the default router's config gets from `router_settings` unless
    /// its own section sets it: `strategy`, `routing_strategy_args`,
    /// `enable_tag_filtering`.
    pub router_defaults: serde_json::Map<String, serde_json::Value>,
    /// How long a latency sample counts (`routing_strategy_args.ttl`).
    pub latency_ttl: Duration,
    /// Retries, fallbacks and cooldowns.
    pub reliability: Reliability,
    /// Redis, when replicas share cooldowns and usage.
    pub redis: Option<RedisSettings>,
    /// `general_settings.background_health_checks`: the interval, when on.
    pub health_checks: Option<Duration>,
    /// Upstream timeout when a deployment sets none
    /// (`router_settings.timeout` or `litellm_settings.request_timeout`).
    pub default_timeout: Duration,
    /// Time to a stream's first byte when a deployment sets neither
    /// `stream_timeout` nor `timeout` (`router_settings.stream_timeout`).
    pub default_stream_timeout: Option<Duration>,
    /// Largest request body accepted (`general_settings.max_request_size_mb`).
    pub max_body_bytes: usize,
    /// One line per key the gateway does not act on.
    pub warnings: Vec<String>,
}

/// Where replicas share state.
#[derive(Debug, Clone, PartialEq)]
pub struct RedisSettings {
    /// `redis://[:password@]host:port[/db]`.
    pub url: String,
    /// Prefix of every key, so several gateways (or tests) can share one
    /// Redis (`router_settings.redis_key_prefix`, a Switchyard extension).
    pub prefix: String,
}

/// Keys acted on, per section; anything else gets a warning.
const TOP: &[&str] = &[
    "model_list",
    "router_settings",
    "litellm_settings",
    "general_settings",
    "environment_variables",
    "plugins",
];
const GENERAL: &[&str] = &[
    "master_key",
    "max_request_size_mb",
    "background_health_checks",
    "health_check_interval",
];
const ROUTER: &[&str] = &[
    "routing_strategy",
    "routing_strategy_args",
    "enable_tag_filtering",
    "model_group_alias",
    "timeout",
    "stream_timeout",
    "redis_url",
    "redis_host",
    "redis_port",
    "redis_password",
    "redis_key_prefix",
    "enable_pre_call_checks",
];
const LITELLM: &[&str] = &["request_timeout"];
/// `routing_strategy_args` the default router (or the host) acts on.
const STRATEGY_ARGS: &[&str] = &["lowest_latency_buffer", "ttl"];

impl Config {
    /// Reads and checks a config file. Relative paths in `plugins:` are
    /// taken from the file's folder.
    pub fn load(path: &Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Config::parse(&text, base).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses config text; `base` anchors relative paths.
    pub fn parse(text: &str, base: &Path) -> Result<Config, String> {
        let mut root: Value = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
        if root.is_null() {
            root = Value::Mapping(Mapping::new());
        }
        let Value::Mapping(_) = root else {
            return Err("the config must be a mapping of sections".into());
        };
        let file_vars: BTreeMap<String, String> = match root.get("environment_variables") {
            Some(v) => serde_yaml::from_value(v.clone())
                .map_err(|e| format!("environment_variables: {e}"))?,
            None => BTreeMap::new(),
        };
        env::resolve(&mut root, &file_vars)?;

        let mut warnings = Vec::new();
        warn_unknown(&root, "", TOP, &mut warnings);
        let general = section(&root, "general_settings")?;
        let router = section(&root, "router_settings")?;
        let litellm = section(&root, "litellm_settings")?;
        let known = |base: &[&'static str]| [base, reliability::KEYS].concat();
        warn_unknown(&general, "general_settings.", GENERAL, &mut warnings);
        warn_unknown(&router, "router_settings.", &known(ROUTER), &mut warnings);
        warn_unknown(
            &litellm,
            "litellm_settings.",
            &known(LITELLM),
            &mut warnings,
        );
        let mut reliability = reliability::parse(&router, &litellm)?;

        let master_key = opt_string(&general, "general_settings.master_key")?;
        let max_body_bytes = match general.get("max_request_size_mb") {
            None => 32 << 20,
            Some(v) => {
                let mb = v
                    .as_f64()
                    .filter(|mb| *mb > 0.0)
                    .ok_or("general_settings.max_request_size_mb: expected a positive number")?;
                (mb * 1024.0 * 1024.0) as usize
            }
        };
        let default_timeout = match router
            .get("timeout")
            .or_else(|| litellm.get("request_timeout"))
        {
            None => Duration::from_secs(600),
            Some(v) => seconds(v).ok_or("router_settings.timeout: expected seconds (a number)")?,
        };
        let default_stream_timeout = match router.get("stream_timeout") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                seconds(v).ok_or("router_settings.stream_timeout: expected seconds (a number)")?,
            ),
        };
        let routing_strategy = opt_string(&router, "router_settings.routing_strategy")?
            .unwrap_or_else(|| "simple-shuffle".into());
        let mut router_defaults = serde_json::Map::new();
        router_defaults.insert("strategy".into(), routing_strategy.clone().into());
        let mut latency_ttl = Duration::from_secs(3600);
        match router.get("routing_strategy_args") {
            None | Some(Value::Null) => {}
            Some(Value::Mapping(args)) => {
                warn_unknown(
                    args,
                    "router_settings.routing_strategy_args.",
                    STRATEGY_ARGS,
                    &mut warnings,
                );
                if let Some(v) = args.get("lowest_latency_buffer") {
                    let b = v.as_f64().filter(|b| b.is_finite() && *b >= 0.0).ok_or(
                        "router_settings.routing_strategy_args.lowest_latency_buffer: expected a number >= 0",
                    )?;
                    router_defaults.insert("lowest_latency_buffer".into(), b.into());
                }
                if let Some(v) = args.get("ttl") {
                    latency_ttl = seconds(v).ok_or(
                        "router_settings.routing_strategy_args.ttl: expected seconds (a positive number)",
                    )?;
                    router_defaults.insert("ttl".into(), latency_ttl.as_secs_f64().into());
                }
            }
            Some(_) => {
                return Err("router_settings.routing_strategy_args: expected a mapping".into());
            }
        }
        if let Some(v) = router.get("enable_tag_filtering").filter(|v| !v.is_null()) {
            let on = v
                .as_bool()
                .ok_or("router_settings.enable_tag_filtering: expected true or false")?;
            router_defaults.insert("enable_tag_filtering".into(), on.into());
        }
        let redis = redis_settings(&router)?;
        let health_checks = match general.get("background_health_checks") {
            None | Some(Value::Null) | Some(Value::Bool(false)) => None,
            Some(Value::Bool(true)) => Some(match general.get("health_check_interval") {
                None | Some(Value::Null) => Duration::from_secs(300),
                Some(v) => seconds(v).ok_or(
                    "general_settings.health_check_interval: expected seconds (a positive number)",
                )?,
            }),
            Some(_) => {
                return Err(
                    "general_settings.background_health_checks: expected true or false".into(),
                );
            }
        };
        let aliases: BTreeMap<String, String> = match router.get("model_group_alias") {
            None => BTreeMap::new(),
            Some(v) => serde_yaml::from_value(v.clone())
                .map_err(|e| format!("router_settings.model_group_alias: {e}"))?,
        };

        let model_list::ModelList {
            deployments,
            groups,
        } = match root.get("model_list") {
            None | Some(Value::Null) => model_list::ModelList::default(),
            Some(list) => model_list::parse(list, &mut warnings)?,
        };
        for (alias, group) in &aliases {
            if !groups.contains_key(group) {
                return Err(format!(
                    "router_settings.model_group_alias.{alias}: model group {group:?} is not in model_list"
                ));
            }
        }
        reliability.resolve_aliases(&aliases);
        for (at, group) in reliability.named_groups() {
            if !groups.contains_key(group) && !aliases.contains_key(group) {
                return Err(format!("{at}: model group {group:?} is not in model_list"));
            }
        }

        let mut plugins: PluginsSection = match root.get("plugins") {
            None | Some(Value::Null) => PluginsSection::default(),
            Some(v) => serde_yaml::from_value(v.clone()).map_err(|e| format!("plugins: {e}"))?,
        };
        for dir in [&mut plugins.dir, &mut plugins.cache_dir]
            .into_iter()
            .flatten()
        {
            if dir.is_relative() {
                *dir = base.join(&*dir);
            }
        }
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
            health_checks,
            default_timeout,
            default_stream_timeout,
            max_body_bytes,
            warnings,
        })
    }

    /// The group a requested model name means (directly or by alias).
    pub fn group(&self, model: &str) -> Option<&ModelGroup> {
        self.groups
            .get(model)
            .or_else(|| self.aliases.get(model).and_then(|g| self.groups.get(g)))
    }

    /// The deployment a router names by its index.
    pub fn deployment(&self, index: u32) -> Option<&Arc<Deployment>> {
        self.deployments.get(index as usize)
    }
}

/// `redis_url`, else `redis_host` (+ `redis_port`, `redis_password`).
fn redis_settings(router: &Mapping) -> Result<Option<RedisSettings>, String> {
    let prefix = opt_string(router, "router_settings.redis_key_prefix")?
        .unwrap_or_else(|| "switchyard".into());
    if let Some(url) = opt_string(router, "router_settings.redis_url")? {
        if url.starts_with("rediss://") {
            return Err(
                "router_settings.redis_url: TLS (rediss://) is not supported yet; use redis:// on a private network".into(),
            );
        }
        if !url.starts_with("redis://") {
            // Not echoed: the URL may hold a password.
            return Err(
                "router_settings.redis_url: expected redis://[:password@]host:port[/db]".into(),
            );
        }
        return Ok(Some(RedisSettings { url, prefix }));
    }
    let Some(host) = opt_string(router, "router_settings.redis_host")? else {
        return Ok(None);
    };
    let port = match router.get("redis_port") {
        None | Some(Value::Null) => 6379,
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .and_then(|p| u16::try_from(p).ok())
            .ok_or("router_settings.redis_port: expected a port number")?,
    };
    let auth = match opt_string(router, "router_settings.redis_password")? {
        Some(p) if !p.is_empty() => format!(":{}@", percent_encode(&p)),
        _ => String::new(),
    };
    Ok(Some(RedisSettings {
        url: format!("redis://{auth}{host}:{port}"),
        prefix,
    }))
}

/// `s` with every byte but RFC 3986's unreserved ones percent-encoded, for
/// a password inside a URL.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn section(root: &Value, name: &str) -> Result<Mapping, String> {
    match root.get(name) {
        None | Some(Value::Null) => Ok(Mapping::new()),
        Some(Value::Mapping(m)) => Ok(m.clone()),
        Some(_) => Err(format!("{name}: expected a mapping")),
    }
}

/// Adds one warning per key of `map` not in `known`.
pub(crate) fn warn_unknown(
    map: &impl MapLike,
    prefix: &str,
    known: &[&str],
    out: &mut Vec<String>,
) {
    let known: BTreeSet<&str> = known.iter().copied().collect();
    for key in map.keys() {
        if !known.contains(key.as_str()) {
            out.push(format!(
                "{prefix}{key} is not used by Switchyard and is ignored"
            ));
        }
    }
}

/// Mappings whose keys can be listed (the root `Value` and a `Mapping`).
pub(crate) trait MapLike {
    fn keys(&self) -> Vec<String>;
}

impl MapLike for Mapping {
    fn keys(&self) -> Vec<String> {
        self.iter()
            .map(|(k, _)| {
                k.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("{k:?}"))
            })
            .collect()
    }
}

impl MapLike for Value {
    fn keys(&self) -> Vec<String> {
        self.as_mapping().map(MapLike::keys).unwrap_or_default()
    }
}

fn opt_string(map: &Mapping, path: &str) -> Result<Option<String>, String> {
    let key = path.rsplit('.').next().unwrap_or(path);
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(format!("{path}: expected a string")),
    }
}

/// A number of seconds (integer or float).
pub(crate) fn seconds(v: &Value) -> Option<Duration> {
    v.as_f64()
        .filter(|s| *s > 0.0)
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LITELLM_FILE: &str = r#"
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_key: os.environ/SWITCHYARD_TEST_OPENAI_KEY
      rpm: 100
      temperature: 0.2
    model_info:
      input_cost_per_token: 0.0000025
      output_cost_per_token: 0.00001
      max_input_tokens: 128000
  - model_name: gpt-4o
    litellm_params:
      model: azure/gpt-4o-eu
      api_base: https://example.openai.azure.com
      api_key: azure-key
      api_version: "2024-10-21"
      weight: 2
  - model_name: claude
    litellm_params:
      model: anthropic/claude-sonnet-4-5
      api_key: sk-ant
router_settings:
  routing_strategy: simple-shuffle
  model_group_alias: {gpt4: gpt-4o}
  redis_host: localhost
  redis_password: "p/w#"
  provider_budget_config: {}
litellm_settings:
  drop_params: true
  set_verbose: false
general_settings:
  master_key: sk-1234
  database_url: postgres://x
environment_variables:
  SWITCHYARD_TEST_OPENAI_KEY: sk-from-file
"#;

    #[test]
    fn a_litellm_file_loads_with_one_warning_per_unused_key() {
        let c = Config::parse(LITELLM_FILE, Path::new(".")).unwrap();
        assert_eq!(c.groups.len(), 2);
        let g = &c.groups["gpt-4o"];
        assert_eq!(g.deployments.len(), 2);
        let d = &g.deployments[0];
        assert_eq!(
            (d.provider.as_str(), d.model.as_str()),
            ("openai", "gpt-4o")
        );
        assert_eq!(d.api_key.as_deref(), Some("sk-from-file"));
        assert_eq!(d.rpm, Some(100));
        assert_eq!(d.defaults["temperature"], 0.2);
        assert_eq!(d.prices.input_per_token, Some(0.0000025));
        assert_eq!(d.max_input_tokens, Some(128000));
        assert_eq!(g.deployments[1].weight, Some(2.0));
        assert_eq!(c.group("gpt4").unwrap().name, "gpt-4o");
        assert_eq!(c.master_key.as_deref(), Some("sk-1234"));
        let w = c.warnings.join("\n");
        assert_eq!(
            c.redis,
            Some(RedisSettings {
                url: "redis://:p%2Fw%23@localhost:6379".into(),
                prefix: "switchyard".into()
            })
        );
        for key in [
            "router_settings.provider_budget_config",
            "litellm_settings.drop_params",
            "litellm_settings.set_verbose",
            "general_settings.database_url",
        ] {
            assert_eq!(w.matches(key).count(), 1, "{key} in {w}");
        }
        assert!(!w.contains("master_key"), "{w}");
    }

    #[test]
    fn bad_values_are_named() {
        let err = Config::parse("model_list:\n  - model_name: x\n", Path::new(".")).unwrap_err();
        assert!(
            err.contains("model_list[0]") && err.contains("litellm_params"),
            "{err}"
        );
        let err = Config::parse(
            "model_list:\n  - model_name: x\n    litellm_params: {model: openai/x, rpm: lots}\n",
            Path::new("."),
        )
        .unwrap_err();
        assert!(err.contains("model_list[0].litellm_params.rpm"), "{err}");
        let err = Config::parse(
            "router_settings: {model_group_alias: {a: nope}}\n",
            Path::new("."),
        )
        .unwrap_err();
        assert!(err.contains("nope"), "{err}");
    }
}
