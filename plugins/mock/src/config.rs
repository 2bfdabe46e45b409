//! The adapter's config section.

use serde::Deserialize;
use switchyard_sdk::types::PluginError;

pub const DEFAULT_TEXT: &str =
    "Hello from Switchyard! This answer came from the built-in mock provider.";

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The answer to every chat request.
    #[serde(default = "default_text")]
    pub text: String,
    /// Answer "You said: " and the last user message instead.
    #[serde(default)]
    pub echo: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            text: default_text(),
            echo: false,
        }
    }
}

fn default_text() -> String {
    DEFAULT_TEXT.to_string()
}

pub fn parse(config: &str) -> Result<Config, PluginError> {
    switchyard_sdk::parse_config(config)
}

pub fn schema() -> String {
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "mock adapter config",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "text": {
                "description": "The answer to every chat request (a deployment's or request's mock_response wins).",
                "type": "string",
                "default": DEFAULT_TEXT
            },
            "echo": {
                "description": "Answer \"You said: \" followed by the last user message instead of text.",
                "type": "boolean",
                "default": false
            }
        }
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(parse("{}").unwrap(), Config::default());
        let c = parse(r#"{"text":"x","echo":true}"#).unwrap();
        assert_eq!((c.text.as_str(), c.echo), ("x", true));
        assert!(matches!(
            parse(r#"{"echo":"yes"}"#),
            Err(PluginError::InvalidConfig(_))
        ));
        assert!(
            matches!(parse(r#"{"other":1}"#), Err(PluginError::InvalidConfig(m)) if m.contains("other"))
        );
    }
}
