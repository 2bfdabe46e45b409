//! Errors of the plugin runtime. Each names the plugin (or file) and the cause
//! so an operator can act on a log line alone.

use std::path::PathBuf;

use super::bindings::types;

/// Why a plugin file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}: not a WebAssembly component: {reason}")]
    NotAComponent { file: PathBuf, reason: String },
    #[error(
        "{file}: exports none of the plugin interfaces (switchyard:plugin/router, provider, sanitizer, cost); exports: [{exports}]"
    )]
    WrongWorld { file: PathBuf, exports: String },
    #[error("{file}: does not fit the {kind} world: {reason}")]
    Incompatible {
        file: PathBuf,
        kind: &'static str,
        reason: String,
    },
    #[error("{file}: describe() failed: {reason}")]
    Describe { file: PathBuf, reason: String },
    #[error(
        "{file}: describe() says kind {declared} but the component exports the {exported} interface"
    )]
    KindMismatch {
        file: PathBuf,
        declared: &'static str,
        exported: &'static str,
    },
    #[error("{file}: plugin name {name:?} is invalid: use lower-case letters, digits and '-'")]
    BadName { file: PathBuf, name: String },
    #[error("plugin {plugin}: config schema from describe() is not a valid JSON Schema: {reason}")]
    BadSchema { plugin: String, reason: String },
    #[error("plugin {plugin}: config does not match its schema: {reason}")]
    ConfigInvalid { plugin: String, reason: String },
    #[error("plugin {plugin}: init failed: {reason}")]
    Init { plugin: String, reason: String },
    #[error("plugin {plugin}: name already served by {other}")]
    DuplicateName { plugin: String, other: PathBuf },
    #[error("compile cache: {0}")]
    Cache(String),
}

/// Why one plugin call failed. The host and other calls carry on; the
/// instance that failed is dropped, never reused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    #[error("plugin {plugin}: timed out after {timeout_ms} ms")]
    Timeout { plugin: String, timeout_ms: u64 },
    #[error("plugin {plugin}: exceeded its memory limit of {limit_mib} MiB")]
    MemoryLimit { plugin: String, limit_mib: u64 },
    #[error("plugin {plugin}: trapped: {reason}")]
    Trap { plugin: String, reason: String },
    #[error("plugin {plugin}: returned an error: {reason}")]
    Plugin {
        plugin: String,
        reason: String,
        /// The plugin said the input cannot be handled (maps to HTTP 400).
        invalid_input: bool,
    },
    #[error("plugin {plugin}: malformed output: {reason}")]
    Malformed { plugin: String, reason: String },
    #[error("plugin {plugin}: could not start an instance: {reason}")]
    Instantiate { plugin: String, reason: String },
    #[error("plugin {plugin}: is a {actual} plugin, not a {expected}")]
    WrongKind {
        plugin: String,
        expected: &'static str,
        actual: &'static str,
    },
}

impl CallError {
    /// Its kind, as metrics and webhooks name it.
    pub fn failure_kind(&self) -> &'static str {
        match self {
            CallError::Timeout { .. } => "timeout",
            CallError::MemoryLimit { .. } => "memory",
            CallError::Trap { .. } => "trap",
            CallError::Plugin { .. } => "error",
            CallError::Malformed { .. } => "bad_output",
            CallError::Instantiate { .. } => "instantiate",
            CallError::WrongKind { .. } => "wrong_kind",
        }
    }

    /// Builds the error for a plugin's own `plugin-error` answer.
    pub fn from_plugin(plugin: &str, err: types::PluginError) -> Self {
        CallError::Plugin {
            plugin: plugin.to_string(),
            reason: describe_plugin_error(&err),
            invalid_input: matches!(err, types::PluginError::InvalidInput(_)),
        }
    }
}

/// Renders a plugin's `plugin-error` for messages.
pub fn describe_plugin_error(err: &types::PluginError) -> String {
    match err {
        types::PluginError::InvalidConfig(m) => format!("invalid config: {m}"),
        types::PluginError::InvalidInput(m) => format!("invalid input: {m}"),
        types::PluginError::Internal(m) => format!("internal: {m}"),
        types::PluginError::Other(m) => m.clone(),
    }
}
