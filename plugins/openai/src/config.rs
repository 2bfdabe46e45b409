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
}

impl Default for Config {
    fn default() -> Self {
        Config {
            api_bases: BTreeMap::new(),
            azure_api_version: default_azure_api_version(),
        }
    }
}

fn default_azure_api_version() -> String {
    AZURE_API_VERSION.to_string()
}

pub fn parse(config: &str) -> Result<Config, PluginError> {
    let config: Config = switchyard_sdk::parse_config(config)?;
    for prefix in config.api_bases.keys() {
        if !PREFIXES.iter().any(|p| p.name == prefix) {
            let known = PREFIXES
                .iter()
                .map(|p| p.name)
                .collect::<Vec<_>>()
                .join(", ");
            return Err(PluginError::InvalidConfig(format!(
                "api_bases: unknown provider prefix \"{prefix}\"; this adapter serves {known}"
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
    fn schema_is_json() {
        let v: serde_json::Value = serde_json::from_str(&schema()).unwrap();
        assert_eq!(v["type"], "object");
    }
}
