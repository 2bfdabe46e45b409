//! Configuration: LiteLLM's proxy `config.yaml` (so an existing user can
//! point Switchyard at their file) plus Switchyard's own `plugins:` section.
//!
//! Loading goes: YAML ([`reader`]) → keys at the wrong level moved to
//! where they belong ([`placement`]) → environment references ([`env`]) →
//! each section read into its serde type ([`raw`]), real files' quirks
//! mended on the way ([`mend`]) → the runtime [`Config`], with the checks
//! that span sections ([`build`]). Each key Switchyard does not act on, and
//! each quirk it mended, is named in one warning; a value it cannot make
//! sense of is a [`ConfigError`] naming its path. `docs/configuration.md`
//! lists what is read, ignored and forgiven.

mod build;
pub mod cache;
pub mod env;
pub mod error;
mod mend;
pub mod model_list;
pub mod money;
mod notes;
pub mod observe;
mod placement;
pub mod plugins;
mod raw;
mod reader;
pub mod reliability;
mod values;
pub mod webhooks;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub use error::{ConfigError, KeyPath};
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
    /// Keys, spend and limits: the database, `limits:` rules, budgets.
    pub money: money::Money,
    /// The response cache (`litellm_settings.cache`, or its older
    /// spellings); `None`: no cache.
    pub cache: Option<switchyard_cache::Settings>,
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
    /// Metrics, logs, traces and callbacks.
    pub observability: observe::Observability,
    /// Metrics label keys and end users by alias
    /// (`litellm_settings.enable_end_user_cost_tracking_prometheus_only`).
    pub metrics_caller_labels: bool,
    /// The `webhooks:` hooks that a callback list turns on.
    pub webhooks: Vec<webhooks::Webhook>,
    /// One line per key the gateway does not act on, and per value it read
    /// otherwise than written (a quirk it mended, a key it moved).
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

impl Config {
    /// Reads and checks a config file. Relative paths in `plugins:` are
    /// taken from the file's folder.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Config::parse(&text, base).map_err(|e| ConfigError::InFile {
            file: path.to_path_buf(),
            source: Box::new(e),
        })
    }

    /// Parses config text; `base` anchors relative paths.
    pub fn parse(text: &str, base: &Path) -> Result<Config, ConfigError> {
        Config::parse_with_env(text, base, &|name| std::env::var(name).ok())
    }

    /// [`Config::parse`] with `env` in place of the process environment
    /// (tests need no process-wide variables).
    pub fn parse_with_env(
        text: &str,
        base: &Path,
        env: env::Lookup,
    ) -> Result<Config, ConfigError> {
        let mut notes = notes::Notes::default();
        let raw = reader::read(text, env, &mut notes)?;
        let warnings = std::mem::take(&mut notes.warnings);
        Config::build(raw, base, env, &notes, warnings).map_err(|e| notes.restate(e))
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

#[cfg(test)]
mod real_files;
#[cfg(test)]
mod tests;
