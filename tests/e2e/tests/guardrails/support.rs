//! Helpers of the guardrails tests.
#![allow(dead_code)]

use serde_json::{Value, json};
use switchyard_e2e::mock::MockProvider;
use switchyard_e2e::*;

/// A gateway with the openai adapter and pii-redactor loaded, and `plugins`
/// lines appended to its `plugins:` section.
pub fn start(mock: &MockProvider, plugins: &str) -> Gateway {
    start_models(
        &[model_entry("gpt", "openai/gpt-4o-mini", &mock.url(), &[])],
        plugins,
    )
}

/// [`start`] with these `model_list` entries.
pub fn start_models(entries: &[String], plugins: &str) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    let section = plugins_section(&dir.path().join("plugins"), &["openai", "pii-redactor"]);
    Gateway::start_in(
        dir,
        &format!(
            "{}{section}{plugins}",
            config_with_settings(entries, ONE_CALL_EACH)
        ),
    )
}

/// pii-redactor in the chain with these settings (YAML flow keys).
pub fn pii_settings(keys: &str) -> String {
    format!("  sanitizers: [pii-redactor]\n  settings:\n    pii-redactor: {{{keys}}}\n")
}

/// pii-redactor with this `config` and these other settings.
pub fn start_with(mock: &MockProvider, config: &str, keys: &str) -> Gateway {
    start(mock, &pii_settings(&format!("{keys}, config: {config}")))
}

pub fn owned(pieces: &[&str]) -> Vec<String> {
    pieces.iter().map(|p| p.to_string()).collect()
}

pub fn whole(text: &str) -> Value {
    json!({"model": "gpt", "messages": [{"role": "user", "content": text}]})
}

pub fn streamed(text: &str) -> Value {
    json!({"model": "gpt", "stream": true, "messages": [{"role": "user", "content": text}]})
}
