//! The adapter's config section.
//!
//! A serde type whose JSON Schema is derived (SDK 0.3): the gateway checks
//! a config against it before `init`, and a config that does not parse
//! names the field at fault. A blank `api_base`, which serde accepts, is
//! refused by [`Config::check`].

use serde::Deserialize;
use switchyard_sdk::prelude::JsonSchema;
use switchyard_sdk::types::PluginError;

/// Google AI Studio's Gemini API.
pub const DEFAULT_API_BASE: &str = "https://generativelanguage.googleapis.com/v1beta";

/// gemini adapter config; every key is optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "gemini adapter config")]
pub struct Config {
    /// Default api_base for gemini deployments that do not set one.
    #[serde(default)]
    #[schemars(length(min = 1), extend("default" = DEFAULT_API_BASE))]
    pub api_base: Option<String>,
}

impl Config {
    /// What the type does not hold (the schema states it too).
    pub fn check(&self) -> Result<(), PluginError> {
        switchyard_sdk::adapter::check_api_base(self.api_base.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, PluginError> {
        let c: Config = switchyard_sdk::typed::parse(text)?;
        c.check().map(|()| c)
    }

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
        assert!(
            matches!(parse(r#"{"api_base":" "}"#), Err(PluginError::InvalidConfig(m)) if m.contains("api_base"))
        );
        assert!(
            matches!(parse(r#"{"api_base":3}"#), Err(PluginError::InvalidConfig(m)) if m.starts_with("api_base: "))
        );
        assert!(
            matches!(parse(r#"{"timeout":1}"#), Err(PluginError::InvalidConfig(m)) if m.contains("timeout"))
        );
    }

    #[test]
    fn the_derived_schema_keeps_the_bounds_and_default() {
        let s: serde_json::Value =
            serde_json::from_str(&switchyard_sdk::typed::schema::<Config>()).unwrap();
        assert_eq!(s["title"], "gemini adapter config");
        assert_eq!(s["type"], "object");
        assert_eq!(s["additionalProperties"], false);
        assert_eq!(s["properties"]["api_base"]["minLength"], 1);
        assert_eq!(s["properties"]["api_base"]["default"], DEFAULT_API_BASE);
        assert!(s.get("required").is_none(), "{s}");
    }
}
