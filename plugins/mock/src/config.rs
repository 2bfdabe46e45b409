//! The adapter's config section (SDK 0.3: the schema is derived, and a
//! config that does not parse names the field at fault).

use serde::Deserialize;
use switchyard_sdk::prelude::JsonSchema;

pub const DEFAULT_TEXT: &str =
    "Hello from Switchyard! This answer came from the built-in mock provider.";

/// mock adapter config.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "mock adapter config")]
pub struct Config {
    /// The answer to every chat request (a deployment's or request's
    /// mock_response wins).
    #[serde(default = "default_text")]
    pub text: String,
    /// Answer "You said: " followed by the last user message instead of
    /// text.
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

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_sdk::types::PluginError;

    fn parse(text: &str) -> Result<Config, PluginError> {
        switchyard_sdk::typed::parse(text)
    }

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(parse("{}").unwrap(), Config::default());
        let c = parse(r#"{"text":"x","echo":true}"#).unwrap();
        assert_eq!((c.text.as_str(), c.echo), ("x", true));
        assert!(
            matches!(parse(r#"{"echo":"yes"}"#), Err(PluginError::InvalidConfig(m)) if m.starts_with("echo: "))
        );
        assert!(
            matches!(parse(r#"{"other":1}"#), Err(PluginError::InvalidConfig(m)) if m.contains("other"))
        );
    }

    #[test]
    fn the_derived_schema_describes_both_keys() {
        let v: serde_json::Value =
            serde_json::from_str(&switchyard_sdk::typed::schema::<Config>()).unwrap();
        assert_eq!(v["title"], "mock adapter config");
        assert_eq!(v["additionalProperties"], false);
        assert!(v.get("required").is_none());
        assert_eq!(v["properties"]["text"]["type"], "string");
        assert_eq!(v["properties"]["text"]["default"], DEFAULT_TEXT);
        assert_eq!(v["properties"]["echo"]["type"], "boolean");
        assert_eq!(v["properties"]["echo"]["default"], false);
        assert!(v["properties"]["echo"]["description"].is_string());
    }
}
