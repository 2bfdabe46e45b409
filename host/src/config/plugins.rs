//! The `plugins:` section: where plugins live, their bounds and their config.
//!
//! ```yaml
//! plugins:
//!   dir: ./plugins            # every *.wasm here is loaded and watched
//!   cache_dir: ~/.cache/switchyard
//!   watch: true
//!   defaults:                 # bounds for every plugin
//!     timeout_ms: 50
//!     memory_mib: 64
//!     on_error: fail_closed   # or fail_open
//!   settings:                 # per plugin, by the name it describes
//!     pii-redactor:
//!       on_error: fail_open
//!       config: {mode: redact}
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::{ConfigError, KeyPath};
use crate::plugins::registry::SettingsFn;
use crate::plugins::{Limits, Settings};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping")]
pub struct PluginsSection {
    pub dir: Option<PathBuf>,
    /// The active router, by name (default: `default-router` when loaded).
    pub router: Option<String>,
    /// Sanitisers run on every chat request (and answer), in order.
    #[serde(default)]
    pub sanitizers: Vec<String>,
    /// Cost rules, in order; each sees the cost the previous reached
    /// (default: the built-in `model-prices`; `[]` turns pricing off).
    #[serde(default = "default_cost_rules")]
    pub cost_rules: Vec<String>,
    pub cache_dir: Option<PathBuf>,
    #[serde(default = "yes")]
    pub watch: bool,
    #[serde(default)]
    pub defaults: Limits,
    /// Per plugin: `config` plus any `Limits` field.
    #[serde(default)]
    pub settings: BTreeMap<String, Map<String, Value>>,
    /// Shadow rollouts: live plugin name -> candidate (a file name, or
    /// `{file, config, sample}`). Read leniently by
    /// [`crate::plugins::shadow::rebuild`]: a bad entry is a warning.
    #[serde(default)]
    pub shadow: Option<Value>,
    /// The share of a live plugin's calls its candidate sees (default 1.0).
    #[serde(default)]
    pub shadow_sample: Option<Value>,
    /// Where candidate files named without a folder are (default:
    /// `plugins-shadow` beside `dir`).
    #[serde(default)]
    pub shadow_dir: Option<Value>,
}

fn yes() -> bool {
    true
}

/// Calls are priced from `model_info` (and the default price table) unless
/// the config says otherwise.
fn default_cost_rules() -> Vec<String> {
    vec!["model-prices".into()]
}

impl Default for PluginsSection {
    /// No plugins directory, watched once one is given.
    fn default() -> Self {
        PluginsSection {
            dir: None,
            router: None,
            sanitizers: Vec::new(),
            cost_rules: default_cost_rules(),
            cache_dir: None,
            watch: true,
            defaults: Limits::default(),
            settings: BTreeMap::new(),
            shadow: None,
            shadow_sample: None,
            shadow_dir: None,
        }
    }
}

impl PluginsSection {
    /// Checks every per-plugin entry up front, so a typo fails at start-up
    /// with the plugin's name rather than at load time.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let at = KeyPath::root().key("plugins");
        self.defaults
            .validate()
            .map_err(|e| ConfigError::invalid(at.key("defaults"), e))?;
        for name in self.settings.keys() {
            self.settings_for(name)
                .map_err(|e| ConfigError::invalid(at.key("settings").key(name), e))?;
        }
        Ok(())
    }

    /// The settings for the plugin called `name`: the defaults overlaid with
    /// its own entry.
    pub fn settings_for(&self, name: &str) -> Result<Settings, String> {
        let Some(entry) = self.settings.get(name) else {
            return Ok(Settings {
                config: Value::Object(Map::new()),
                limits: self.defaults.clone(),
                ..Settings::default()
            });
        };
        let mut limits = match serde_json::to_value(&self.defaults) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        let mut config = Value::Object(Map::new());
        for (k, v) in entry {
            if k == "config" {
                config = v.clone();
            } else {
                limits.insert(k.clone(), v.clone());
            }
        }
        let limits: Limits =
            serde_json::from_value(Value::Object(limits)).map_err(|e| e.to_string())?;
        limits.validate()?;
        Ok(Settings {
            config,
            limits,
            ..Settings::default()
        })
    }

    /// The lookup the registry uses. Entries were validated at start-up.
    pub fn settings_fn(self: &Arc<Self>) -> SettingsFn {
        let section = self.clone();
        Arc::new(move |name| {
            section.settings_for(name).unwrap_or_else(|e| {
                tracing::error!(plugin = name, error = %e, "invalid plugin settings; using defaults");
                Settings {
                    config: Value::Object(Map::new()),
                    limits: section.defaults.clone(),
                    ..Settings::default()
                }
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::OnError;

    #[test]
    fn per_plugin_entry_overlays_defaults() {
        let section: PluginsSection = serde_yaml::from_str(
            "defaults: {timeout_ms: 20}\nsettings:\n  a: {on_error: fail_open, config: {x: 1}}\n",
        )
        .unwrap();
        section.validate().unwrap();
        let a = section.settings_for("a").unwrap();
        assert_eq!(a.limits.timeout_ms, 20);
        assert_eq!(a.limits.on_error, OnError::FailOpen);
        assert_eq!(a.config, serde_json::json!({"x": 1}));
        let b = section.settings_for("b").unwrap();
        assert_eq!(b.limits.on_error, OnError::FailClosed);
    }

    #[test]
    fn unknown_limit_key_is_named() {
        let section: PluginsSection =
            serde_yaml::from_str("settings:\n  a: {timeout: 5}\n").unwrap();
        let err = section.validate().unwrap_err().to_string();
        assert!(
            err.contains("plugins.settings.a") && err.contains("timeout"),
            "{err}"
        );
    }
}
