//! The adapter's config section.

use serde::Deserialize;
use switchyard_sdk::types::PluginError;

/// Anthropic's API when neither the deployment nor the config sets `api_base`.
pub const DEFAULT_API_BASE: &str = "https://api.anthropic.com";
/// The `anthropic-version` header this adapter's translation is written for.
pub const DEFAULT_VERSION: &str = "2023-06-01";
/// `max_tokens` when the request gives neither `max_tokens` nor
/// `max_completion_tokens` (Anthropic requires it).
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_max_tokens")]
    pub default_max_tokens: u32,
    /// Overrides [`DEFAULT_API_BASE`]; a deployment's own `api_base` wins.
    #[serde(default)]
    pub api_base: Option<String>,
    /// The `anthropic-version` header; a deployment's `api_version` wins.
    #[serde(default = "default_version")]
    pub anthropic_version: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            default_max_tokens: DEFAULT_MAX_TOKENS,
            api_base: None,
            anthropic_version: default_version(),
        }
    }
}

fn default_max_tokens() -> u32 {
    DEFAULT_MAX_TOKENS
}

fn default_version() -> String {
    DEFAULT_VERSION.to_string()
}

pub fn parse(config: &str) -> Result<Config, PluginError> {
    let config: Config = switchyard_sdk::parse_config(config)?;
    if config.default_max_tokens == 0 {
        return Err(PluginError::InvalidConfig(
            "default_max_tokens must be at least 1".to_string(),
        ));
    }
    if config.anthropic_version.trim().is_empty() {
        return Err(PluginError::InvalidConfig(
            "anthropic_version must not be empty".to_string(),
        ));
    }
    switchyard_sdk::adapter::check_api_base(config.api_base.as_deref())?;
    Ok(config)
}

pub fn schema() -> String {
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "anthropic adapter config",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "default_max_tokens": {
                "description": "max_tokens sent when a request has neither max_tokens nor max_completion_tokens (Anthropic requires one).",
                "type": "integer",
                "minimum": 1,
                "default": DEFAULT_MAX_TOKENS
            },
            "api_base": {
                "description": "Default api_base for anthropic deployments; a deployment's own api_base still wins.",
                "type": "string",
                "minLength": 1,
                "default": DEFAULT_API_BASE
            },
            "anthropic_version": {
                "description": "The anthropic-version header; a deployment's api_version still wins.",
                "type": "string",
                "minLength": 1,
                "default": DEFAULT_VERSION
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
        assert_eq!(c.default_max_tokens, 4096);
        assert_eq!(c.anthropic_version, "2023-06-01");
        assert_eq!(c.api_base, None);
    }

    #[test]
    fn overrides_and_rejections() {
        let c = parse(
            r#"{"default_max_tokens":1024,"api_base":"http://mock:9000","anthropic_version":"2099-01-01"}"#,
        )
        .unwrap();
        assert_eq!(c.default_max_tokens, 1024);
        assert_eq!(c.api_base.as_deref(), Some("http://mock:9000"));
        assert_eq!(c.anthropic_version, "2099-01-01");
        for bad in [
            r#"{"default_max_tokens":0}"#,
            r#"{"default_max_tokens":-1}"#,
            r#"{"api_base":" "}"#,
            r#"{"anthropic_version":""}"#,
            r#"{"timeout":3}"#,
        ] {
            assert!(
                matches!(parse(bad), Err(PluginError::InvalidConfig(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn schema_is_json() {
        let v: serde_json::Value = serde_json::from_str(&schema()).unwrap();
        assert_eq!(v["properties"]["default_max_tokens"]["default"], 4096);
    }
}
