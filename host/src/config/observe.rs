//! What operators asked to see: LiteLLM's `callbacks` (`prometheus`,
//! `otel`, webhook names), `json_logs`, `turn_off_message_logging`, and
//! `general_settings.metrics_require_auth`.

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
