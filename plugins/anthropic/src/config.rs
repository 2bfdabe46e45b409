//! The adapter's config section.
//!
//! A serde type whose JSON Schema is derived (SDK 0.3): the gateway checks
//! a config against it before `init`, and a config that does not parse
//! names the field at fault. What serde cannot hold (a non-zero
//! `default_max_tokens`, non-blank strings) is checked in [`Config::check`].

use serde::Deserialize;
use switchyard_sdk::prelude::JsonSchema;
use switchyard_sdk::types::PluginError;

/// Anthropic's API when neither the deployment nor the config sets `api_base`.
pub const DEFAULT_API_BASE: &str = "https://api.anthropic.com";
/// The `anthropic-version` header this adapter's translation is written for.
pub const DEFAULT_VERSION: &str = "2023-06-01";
/// `max_tokens` when the request gives neither `max_tokens` nor
/// `max_completion_tokens` (Anthropic requires it).
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// anthropic adapter config; every key is optional.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "anthropic adapter config")]
pub struct Config {
    /// max_tokens for a request without max_tokens or max_completion_tokens (Anthropic needs one).
    #[serde(default = "default_max_tokens")]
    #[schemars(range(min = 1))]
    pub default_max_tokens: u32,
    /// Default api_base for anthropic deployments; a deployment's own api_base still wins.
    #[serde(default)]
    #[schemars(length(min = 1), extend("default" = DEFAULT_API_BASE))]
    pub api_base: Option<String>,
    /// The anthropic-version header; a deployment's api_version still wins.
    #[serde(default = "default_version")]
    #[schemars(length(min = 1))]
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

impl Config {
    /// The bounds the types do not hold (the schema states them too).
    pub fn check(&self) -> Result<(), PluginError> {
        if self.default_max_tokens == 0 {
            return Err(PluginError::InvalidConfig(
                "default_max_tokens must be at least 1".to_string(),
            ));
        }
        if self.anthropic_version.trim().is_empty() {
            return Err(PluginError::InvalidConfig(
                "anthropic_version must not be empty".to_string(),
            ));
        }
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

    fn message(text: &str) -> String {
        match parse(text) {
            Err(PluginError::InvalidConfig(m)) => m,
            other => panic!("{text}: expected invalid-config, got {other:?}"),
        }
    }

    fn schema() -> serde_json::Value {
        serde_json::from_str(&switchyard_sdk::typed::schema::<Config>()).unwrap()
    }

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
        for (bad, names) in [
            (r#"{"default_max_tokens":0}"#, "default_max_tokens"),
            (r#"{"default_max_tokens":-1}"#, "default_max_tokens"),
            (r#"{"api_base":" "}"#, "api_base"),
            (r#"{"anthropic_version":""}"#, "anthropic_version"),
            (r#"{"timeout":3}"#, "timeout"),
        ] {
            let m = message(bad);
            assert!(m.contains(names), "{bad}: {m}");
        }
    }

    #[test]
    fn the_derived_schema_keeps_the_bounds_and_defaults() {
        let s = schema();
        assert_eq!(s["title"], "anthropic adapter config");
        assert_eq!(s["type"], "object");
        assert_eq!(s["additionalProperties"], false);
        let p = &s["properties"];
        assert_eq!(p["default_max_tokens"]["default"], 4096);
        assert_eq!(p["default_max_tokens"]["minimum"], 1);
        assert_eq!(p["api_base"]["default"], DEFAULT_API_BASE);
        assert_eq!(p["api_base"]["minLength"], 1);
        assert_eq!(p["anthropic_version"]["default"], DEFAULT_VERSION);
        assert_eq!(p["anthropic_version"]["minLength"], 1);
        assert!(s.get("required").is_none(), "{s}");
    }
}
