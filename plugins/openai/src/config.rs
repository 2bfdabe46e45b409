//! The adapter's config section.
//!
//! A serde type whose JSON Schema is derived (SDK 0.3): the gateway checks
//! a config against it before `init`, and a config that does not parse
//! names the field at fault. The prefixes `api_bases` and `stream_usage`
//! name are checked against the ones this adapter serves in
//! [`Config::check`] (and listed in the schema).

use std::collections::BTreeMap;

use schemars::{Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use switchyard_sdk::prelude::JsonSchema;
use switchyard_sdk::types::PluginError;

use crate::endpoints::NAMES;

/// Azure's `api-version` when neither the deployment nor the config sets one.
pub const AZURE_API_VERSION: &str = "2024-10-21";

/// openai adapter config.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "openai adapter config")]
pub struct Config {
    /// Default api_base per provider prefix, overriding the built-in ones; a
    /// deployment's own api_base still wins.
    #[serde(default)]
    #[schemars(schema_with = "api_bases_schema")]
    pub api_bases: BTreeMap<String, String>,
    /// Azure api-version for deployments without api_version.
    #[serde(default = "default_azure_api_version")]
    #[schemars(length(min = 1))]
    pub azure_api_version: String,
    /// Whether streamed chats ask for their usage
    /// (stream_options.include_usage), so they can be priced: true
    /// (default) for every prefix that accepts it (not mistral, which
    /// reports usage anyway), false for none, or an object by prefix.
    #[serde(default)]
    #[schemars(schema_with = "stream_usage_schema")]
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

    /// What serde does not check: every prefix named is one this adapter
    /// serves.
    pub fn check(&self) -> Result<(), PluginError> {
        let by_prefix = match &self.stream_usage {
            StreamUsage::ByPrefix(by) => Some(by),
            StreamUsage::All(_) => None,
        };
        let named = self.api_bases.keys().map(|p| ("api_bases", p)).chain(
            by_prefix
                .into_iter()
                .flatten()
                .map(|(p, _)| ("stream_usage", p)),
        );
        for (section, prefix) in named {
            if !NAMES.contains(&prefix.as_str()) {
                return Err(PluginError::InvalidConfig(format!(
                    "{section}: unknown provider prefix \"{prefix}\"; this adapter serves {}",
                    NAMES.join(", ")
                )));
            }
        }
        Ok(())
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

/// `api_bases`: a non-empty URL per prefix this adapter serves.
fn api_bases_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "propertyNames": {"enum": NAMES},
        "additionalProperties": {"type": "string", "minLength": 1}
    })
}

/// `stream_usage`: a boolean, or a boolean per prefix this adapter serves.
fn stream_usage_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": ["boolean", "object"],
        "propertyNames": {"enum": NAMES},
        "additionalProperties": {"type": "boolean"},
        "default": true
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, PluginError> {
        let c: Config = switchyard_sdk::typed::parse(text)?;
        c.check().map(|()| c)
    }

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
    fn the_derived_schema_keeps_the_constraints() {
        let v: serde_json::Value =
            serde_json::from_str(&switchyard_sdk::typed::schema::<Config>()).unwrap();
        assert_eq!(v["type"], "object");
        assert_eq!(v["title"], "openai adapter config");
        assert_eq!(v["additionalProperties"], false);
        assert!(v.get("required").is_none());
        let p = &v["properties"];
        let prefixes = serde_json::json!(NAMES);
        assert_eq!(p["api_bases"]["propertyNames"]["enum"], prefixes);
        assert_eq!(p["api_bases"]["additionalProperties"]["minLength"], 1);
        assert!(p["api_bases"]["description"].is_string());
        assert_eq!(p["azure_api_version"]["minLength"], 1);
        assert_eq!(p["azure_api_version"]["default"], AZURE_API_VERSION);
        assert_eq!(
            p["stream_usage"]["type"],
            serde_json::json!(["boolean", "object"])
        );
        assert_eq!(p["stream_usage"]["propertyNames"]["enum"], prefixes);
        assert_eq!(p["stream_usage"]["default"], true);
        assert!(p["stream_usage"]["description"].is_string());
    }
}
