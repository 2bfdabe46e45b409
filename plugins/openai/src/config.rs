//! The adapter's config section.

use std::collections::BTreeMap;

use serde::Deserialize;
use switchyard_sdk::types::PluginError;

use crate::endpoints::PREFIXES;

/// Azure's `api-version` when neither the deployment nor the config sets one.
pub const AZURE_API_VERSION: &str = "2024-10-21";

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Overrides of the default `api_base` per provider prefix (a
    /// deployment's own `api_base` still wins).
    #[serde(default)]
    pub api_bases: BTreeMap<String, String>,
    /// Azure's `api-version` for deployments that do not set `api_version`.
    #[serde(default = "default_azure_api_version")]
    pub azure_api_version: String,
    /// Whether streamed chats ask for their usage.
    #[serde(default)]
    pub stream_usage: StreamUsage,
}

/// Whether a streamed chat asks the provider for its usage
/// (`stream_options.include_usage: true`), so the gateway can price it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum StreamUsage {
    /// `true`: every prefix that accepts the field (the default);
    /// `false`: none, for servers that refuse it.
    All(bool),
    /// By prefix; a prefix not named keeps its default.
    ByPrefix(BTreeMap<String, bool>),
}

impl Default for StreamUsage {
    fn default() -> Self {
        StreamUsage::All(true)
    }
}

impl Config {
    /// Whether a streamed chat to `provider` asks for its usage.
    pub fn stream_usage(&self, provider: &str) -> bool {
        let default = || crate::endpoints::prefix(provider).is_none_or(|p| p.stream_usage);
        match &self.stream_usage {
            StreamUsage::All(false) => false,
            StreamUsage::All(true) => default(),
            StreamUsage::ByPrefix(by) => by.get(provider).copied().unwrap_or_else(default),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            api_bases: BTreeMap::new(),
            azure_api_version: default_azure_api_version(),
            stream_usage: StreamUsage::default(),
        }
    }
}

fn default_azure_api_version() -> String {
    AZURE_API_VERSION.to_string()
}

pub fn parse(config: &str) -> Result<Config, PluginError> {
    let config: Config = switchyard_sdk::parse_config(config)?;
    let by_prefix = match &config.stream_usage {
        StreamUsage::ByPrefix(by) => Some(by),
        StreamUsage::All(_) => None,
    };
    let named = config.api_bases.keys().map(|p| ("api_bases", p)).chain(
        by_prefix
            .into_iter()
            .flatten()
            .map(|(p, _)| ("stream_usage", p)),
    );
    for (section, prefix) in named {
        if !PREFIXES.iter().any(|p| p.name == prefix) {
            let known = PREFIXES
                .iter()
                .map(|p| p.name)
                .collect::<Vec<_>>()
                .join(", ");
            return Err(PluginError::InvalidConfig(format!(
                "{section}: unknown provider prefix \"{prefix}\"; this adapter serves {known}"
            )));
        }
    }
    Ok(config)
}

pub fn schema() -> String {
    let prefixes: Vec<&str> = PREFIXES.iter().map(|p| p.name).collect();
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "openai adapter config",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "api_bases": {
                "description": "Default api_base per provider prefix, overriding the built-in ones; a deployment's own api_base still wins.",
                "type": "object",
                "propertyNames": {"enum": prefixes},
                "additionalProperties": {"type": "string", "minLength": 1}
            },
            "azure_api_version": {
                "description": "Azure api-version for deployments without api_version.",
                "type": "string",
                "minLength": 1,
                "default": AZURE_API_VERSION
            },
            "stream_usage": {
                "description": "Whether streamed chats ask for their usage (stream_options.include_usage), so they can be priced: true (default) for every prefix that accepts it (not mistral, which reports usage anyway), false for none, or an object by prefix.",
                "type": ["boolean", "object"],
                "propertyNames": {"enum": prefixes},
                "additionalProperties": {"type": "boolean"},
                "default": true
            }
        }
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let c = parse("{}").unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.azure_api_version, "2024-10-21");
    }

    #[test]
    fn overrides_and_rejections() {
        let c = parse(
            r#"{"api_bases":{"ollama":"http://gpu:11434/v1"},"azure_api_version":"2025-01-01"}"#,
        )
        .unwrap();
        assert_eq!(c.api_bases["ollama"], "http://gpu:11434/v1");
        assert_eq!(c.azure_api_version, "2025-01-01");
        assert!(
            matches!(parse(r#"{"api_bases":{"anthropic":"x"}}"#), Err(PluginError::InvalidConfig(m)) if m.contains("anthropic"))
        );
        assert!(
            matches!(parse(r#"{"timeout":3}"#), Err(PluginError::InvalidConfig(m)) if m.contains("timeout"))
        );
    }

    #[test]
    fn stream_usage_by_default_everywhere_but_mistral() {
        let c = parse("{}").unwrap();
        assert!(c.stream_usage("openai") && c.stream_usage("groq") && c.stream_usage("azure"));
        assert!(!c.stream_usage("mistral"));
        // A prefix this adapter does not know asks too.
        assert!(c.stream_usage("some_new_prefix"));
        let c = parse(r#"{"stream_usage": true}"#).unwrap();
        assert!(c.stream_usage("openai") && !c.stream_usage("mistral"));
    }

    #[test]
    fn stream_usage_off_or_by_prefix() {
        let c = parse(r#"{"stream_usage": false}"#).unwrap();
        assert!(!c.stream_usage("openai") && !c.stream_usage("hosted_vllm"));
        let c = parse(r#"{"stream_usage": {"hosted_vllm": false, "mistral": true}}"#).unwrap();
        assert!(!c.stream_usage("hosted_vllm"));
        assert!(c.stream_usage("mistral"));
        assert!(c.stream_usage("openai"));
        assert!(
            matches!(parse(r#"{"stream_usage":{"anthropic":false}}"#), Err(PluginError::InvalidConfig(m)) if m.starts_with("stream_usage: unknown provider prefix \"anthropic\""))
        );
        assert!(
            matches!(parse(r#"{"stream_usage":"yes"}"#), Err(PluginError::InvalidConfig(m)) if m.contains("StreamUsage"))
        );
    }

    #[test]
    fn schema_is_json() {
        let v: serde_json::Value = serde_json::from_str(&schema()).unwrap();
        assert_eq!(v["type"], "object");
    }
}
