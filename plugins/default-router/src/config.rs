//! The router's config section.

use serde::Deserialize;
use switchyard_sdk::types::PluginError;

/// Strategies this plugin implements.
pub const ACCEPTED: &[&str] = &["simple-shuffle"];

/// LiteLLM strategies that are known but not implemented here yet.
const LATER: &[&str] = &[
    "least-busy",
    "latency-based-routing",
    "usage-based-routing",
    "usage-based-routing-v2",
    "cost-based-routing",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    #[default]
    SimpleShuffle,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    pub strategy: Strategy,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    strategy: Option<String>,
}

/// Parses the config section (`{}` gives the defaults).
pub fn parse(config: &str) -> Result<Config, PluginError> {
    let raw: RawConfig = switchyard_sdk::parse_config(config)?;
    let strategy = match raw.strategy.as_deref() {
        None | Some("simple-shuffle") => Strategy::SimpleShuffle,
        Some(other) => return Err(unknown_strategy(other)),
    };
    Ok(Config { strategy })
}

fn unknown_strategy(name: &str) -> PluginError {
    let accepted = ACCEPTED
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let what = if LATER.contains(&name) {
        "is not implemented yet"
    } else {
        "is unknown"
    };
    PluginError::InvalidConfig(format!(
        "strategy \"{name}\" {what}; accepted strategies: {accepted}"
    ))
}

/// The JSON Schema of the config section.
pub fn schema() -> String {
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "default-router config",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "strategy": {
                "description": "How to order the candidate deployments. simple-shuffle: weighted random order (weight, else rpm, else tpm, else equal), healthy deployments first, lower `order` tiers first.",
                "enum": ACCEPTED,
                "default": "simple-shuffle"
            }
        }
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_is_simple_shuffle() {
        assert_eq!(parse("{}").unwrap().strategy, Strategy::SimpleShuffle);
        assert_eq!(
            parse(r#"{"strategy":"simple-shuffle"}"#).unwrap().strategy,
            Strategy::SimpleShuffle
        );
    }

    #[test]
    fn unknown_strategy_names_the_accepted_ones() {
        let PluginError::InvalidConfig(msg) = parse(r#"{"strategy":"least-busy"}"#).unwrap_err()
        else {
            panic!("wrong error kind")
        };
        assert!(
            msg.contains("least-busy") && msg.contains("not implemented yet"),
            "{msg}"
        );
        assert!(msg.contains("\"simple-shuffle\""), "{msg}");
        let PluginError::InvalidConfig(msg) = parse(r#"{"strategy":"fastest"}"#).unwrap_err()
        else {
            panic!("wrong error kind")
        };
        assert!(msg.contains("is unknown"), "{msg}");
    }

    #[test]
    fn unknown_fields_and_bad_types_are_rejected() {
        assert!(matches!(
            parse(r#"{"stratgy":"simple-shuffle"}"#),
            Err(PluginError::InvalidConfig(_))
        ));
        assert!(matches!(
            parse(r#"{"strategy":3}"#),
            Err(PluginError::InvalidConfig(_))
        ));
        assert!(matches!(
            parse("not json"),
            Err(PluginError::InvalidConfig(_))
        ));
    }

    #[test]
    fn schema_is_json() {
        let v: serde_json::Value = serde_json::from_str(&schema()).unwrap();
        assert_eq!(v["properties"]["strategy"]["enum"][0], "simple-shuffle");
    }
}
