//! The adapter's config section.

use serde::Deserialize;
use switchyard_sdk::types::PluginError;

/// Google AI Studio's Gemini API.
pub const DEFAULT_API_BASE: &str = "https://generativelanguage.googleapis.com/v1beta";

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Replaces the default `api_base` (a deployment's own still wins).
    #[serde(default)]
    pub api_base: Option<String>,
}

pub fn parse(config: &str) -> Result<Config, PluginError> {
    let config: Config = switchyard_sdk::parse_config(config)?;
    switchyard_sdk::adapter::check_api_base(config.api_base.as_deref())?;
    Ok(config)
}

pub fn schema() -> String {
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "gemini adapter config",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "api_base": {
                "description": "Default api_base for gemini deployments that do not set one.",
                "type": "string",
                "minLength": 1,
                "default": DEFAULT_API_BASE
            }
        }
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        assert_eq!(parse("{}").unwrap(), Config::default());
        assert_eq!(
            parse(r#"{"api_base":"http://x"}"#)
                .unwrap()
                .api_base
                .as_deref(),
            Some("http://x")
        );
        assert!(matches!(
            parse(r#"{"api_base":" "}"#),
            Err(PluginError::InvalidConfig(_))
        ));
        assert!(
            matches!(parse(r#"{"timeout":1}"#), Err(PluginError::InvalidConfig(m)) if m.contains("timeout"))
        );
    }
}
