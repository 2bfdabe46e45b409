//! What operators asked to see: LiteLLM's `callbacks` (`prometheus`,
//! `otel`, webhook names), `json_logs`, `turn_off_message_logging`, and
//! `general_settings.metrics_require_auth`.

use serde::Deserialize;

use super::error::KeyPath;
use super::raw::{RawGeneral, RawLitellm};

/// The observability keys of a config.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observability {
    /// Every name in `litellm_settings.callbacks`, `success_callback` and
    /// `failure_callback`, lower-cased, each once.
    pub callbacks: Vec<String>,
    /// `litellm_settings.json_logs`.
    pub json_logs: bool,
    /// Prompts and answers may be logged (`turn_off_message_logging:
    /// false` explicitly); off by default.
    pub message_logging: bool,
    /// `/metrics` wants the master key.
    pub metrics_require_auth: bool,
}

impl Observability {
    /// Whether a callback of this name is on (`prometheus`, `otel`, ...).
    pub fn has_callback(&self, name: &str) -> bool {
        self.callbacks.iter().any(|c| c == name)
    }
}

/// Callback names as LiteLLM takes them: one string or a list.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged, expecting = "a callback name or a list of names")]
pub enum RawCallbacks {
    One(String),
    Many(Vec<String>),
}

impl RawCallbacks {
    fn names(&self) -> &[String] {
        match self {
            RawCallbacks::One(name) => std::slice::from_ref(name),
            RawCallbacks::Many(names) => names,
        }
    }
}

/// The callbacks Switchyard itself has (webhook names come from the
/// `webhooks:` section).
const BUILT_IN: &[&str] = &["prometheus", "otel"];

/// Reads the observability keys; `is_hook` says whether a (lower-cased)
/// name is one of the `webhooks:` section's hooks. Every name is kept in
/// [`Observability::callbacks`]; one that is neither built in nor a hook
/// (`langfuse`, a Python class path) is also warned about, in one warning
/// per key it is written under.
pub(super) fn settings(
    litellm: &RawLitellm,
    general: &RawGeneral,
    is_hook: &dyn Fn(&str) -> bool,
    warnings: &mut Vec<String>,
) -> Observability {
    let at = KeyPath::root().key("litellm_settings");
    let mut callbacks: Vec<String> = Vec::new();
    for (key, given) in [
        ("callbacks", &litellm.callbacks),
        ("success_callback", &litellm.success_callback),
        ("failure_callback", &litellm.failure_callback),
    ] {
        let mut unknown: Vec<&str> = Vec::new();
        for name in given.iter().flat_map(RawCallbacks::names) {
            let name_lc = name.trim().to_lowercase();
            if name_lc.is_empty() {
                continue;
            }
            if !BUILT_IN.contains(&name_lc.as_str())
                && !is_hook(&name_lc)
                && !unknown.contains(&name.as_str())
            {
                unknown.push(name);
            }
            if !callbacks.contains(&name_lc) {
                callbacks.push(name_lc);
            }
        }
        if !unknown.is_empty() {
            let list = unknown
                .iter()
                .map(|n| format!("{n:?}"))
                .collect::<Vec<_>>()
                .join(", ");
            warnings.push(format!(
                "{}: {list} is not used by Switchyard and is ignored (its callbacks are prometheus, otel and the hooks of webhooks:)",
                at.key(key)
            ));
        }
    }
    Observability {
        callbacks,
        json_logs: litellm.json_logs.unwrap_or(false),
        message_logging: litellm.turn_off_message_logging == Some(false),
        metrics_require_auth: general.metrics_require_auth.unwrap_or(false),
    }
}
