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
            } else if Guardrail::KEYS.contains(&k.as_str()) {
                // Read by `Guardrail::read` below.
            } else {
                limits.insert(k.clone(), v.clone());
            }
        }
        let limits: Limits =
            serde_json::from_value(Value::Object(limits)).map_err(|e| e.to_string())?;
        limits.validate()?;
        let guard = Guardrail::read(entry)?;
        Ok(Settings {
            config,
            limits,
            guard,
            ..Settings::default()
        })
    }

    /// A sanitiser's guardrail settings (stages, mode, stream windows), read
    /// on the request path: a few map lookups, nothing allocated. Entries
    /// were validated at start-up; a bad one reads as the defaults.
    pub fn guardrail(&self, name: &str) -> Guardrail {
        self.settings
            .get(name)
            .and_then(|e| Guardrail::read(e).ok())
            .unwrap_or_default()
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

/// Whether a sanitiser's deny and rewrite verdicts are acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GuardMode {
    /// Verdicts are acted on (the default).
    #[default]
    Enforce,
    /// The sanitiser runs live, but a deny or rewrite is only reported
    /// (a warning and `switchyard_sanitizer_audit_total`); the request or
    /// answer passes unchanged.
    Audit,
}

/// How the host runs one sanitiser: which stages it watches, whether its
/// verdicts are enforced, and the windows a streamed answer is handed over
/// in. Read from `plugins.settings.<name>` beside `config`:
///
/// ```yaml
/// plugins:
///   settings:
///     pii-redactor:
///       stages: [request, response]   # default [request]
///       mode: audit                   # default enforce
///       window_chars: 200             # default 200
///       overlap_chars: 50             # default 50, less than window_chars
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guardrail {
    /// Runs on the client's request.
    pub request: bool,
    /// Runs on the provider's answer (whole, or a stream in windows).
    pub response: bool,
    pub mode: GuardMode,
    /// Characters of a streamed answer held back and checked at a time.
    pub window_chars: usize,
    /// Characters of already released text repeated at the start of the
    /// next window, so a phrase across two windows is seen whole.
    pub overlap_chars: usize,
}

impl Default for Guardrail {
    /// Request stage only, enforced: today's behaviour.
    fn default() -> Self {
        Guardrail {
            request: true,
            response: false,
            mode: GuardMode::Enforce,
            window_chars: 200,
            overlap_chars: 50,
        }
    }
}

impl Guardrail {
    /// The keys of a plugin's settings entry read here (not limits).
    pub const KEYS: [&'static str; 4] = ["stages", "mode", "window_chars", "overlap_chars"];

    /// Reads the guardrail keys of one settings entry; an error names the
    /// key and what it accepts.
    pub fn read(entry: &Map<String, Value>) -> Result<Guardrail, String> {
        let mut g = Guardrail::default();
        if let Some(v) = entry.get("stages") {
            let list = v
                .as_array()
                .ok_or("stages must be a list of `request` and `response`")?;
            g.request = false;
            g.response = false;
            for s in list {
                match s.as_str() {
                    Some("request") => g.request = true,
                    Some("response") => g.response = true,
                    _ => {
                        return Err(format!(
                            "stages: unknown stage {s}; the stages are `request` and `response`"
                        ));
                    }
                }
            }
            if !g.request && !g.response {
                return Err("stages must name at least one of `request` and `response`".into());
            }
        }
        if let Some(v) = entry.get("mode") {
            g.mode = match v.as_str() {
                Some("enforce") => GuardMode::Enforce,
                Some("audit") => GuardMode::Audit,
                _ => return Err(format!("mode: expected `enforce` or `audit`, got {v}")),
            };
        }
        let count = |key: &str, at_least: u64| -> Result<Option<usize>, String> {
            match entry.get(key) {
                None => Ok(None),
                Some(v) => v
                    .as_u64()
                    .filter(|n| *n >= at_least && *n <= 1_000_000)
                    .map(|n| Some(n as usize))
                    .ok_or_else(|| {
                        format!(
                            "{key}: expected a whole number from {at_least} to 1000000, got {v}"
                        )
                    }),
            }
        };
        if let Some(n) = count("window_chars", 1)? {
            g.window_chars = n;
        }
        if let Some(n) = count("overlap_chars", 0)? {
            g.overlap_chars = n;
        }
        if g.overlap_chars >= g.window_chars {
            return Err(format!(
                "overlap_chars ({}) must be less than window_chars ({})",
                g.overlap_chars, g.window_chars
            ));
        }
        Ok(g)
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
    fn guardrail_keys_are_read_beside_config_and_limits() {
        let section: PluginsSection = serde_yaml::from_str(
            "settings:\n  a: {timeout_ms: 9, stages: [request, response], mode: audit, window_chars: 40, overlap_chars: 12, config: {x: 1}}\n",
        )
        .unwrap();
        section.validate().unwrap();
        let a = section.settings_for("a").unwrap();
        assert_eq!(a.limits.timeout_ms, 9);
        assert_eq!(
            a.guard,
            Guardrail {
                request: true,
                response: true,
                mode: GuardMode::Audit,
                window_chars: 40,
                overlap_chars: 12,
            }
        );
        assert_eq!(section.guardrail("a"), a.guard);
        assert_eq!(section.guardrail("b"), Guardrail::default());
        assert!(!Guardrail::default().response);
    }

    #[test]
    fn bad_guardrail_keys_are_named() {
        for (yaml, want) in [
            ("stages: [answer]", "unknown stage"),
            ("stages: []", "at least one"),
            ("mode: loud", "mode"),
            ("window_chars: 0", "window_chars"),
            (
                "window_chars: 10, overlap_chars: 10",
                "less than window_chars",
            ),
        ] {
            let section: PluginsSection =
                serde_yaml::from_str(&format!("settings:\n  a: {{{yaml}}}\n")).unwrap();
            let err = section.validate().unwrap_err().to_string();
            assert!(
                err.contains("plugins.settings.a") && err.contains(want),
                "{yaml}: {err}"
            );
        }
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
