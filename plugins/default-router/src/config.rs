//! The router's config section, as the gateway fills it from LiteLLM's
//! `router_settings`.
//!
//! Parsed by hand rather than through serde so that every rejection names
//! the field at fault: serde's type errors say "expected f64 at line 1" and
//! leave the operator to guess which setting that was.

use serde_json::{Map, Value};
use switchyard_sdk::types::PluginError;

/// LiteLLM's `routing_strategy` values, all implemented here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    #[default]
    SimpleShuffle,
    LeastBusy,
    LatencyBased,
    UsageBased,
    UsageBasedV2,
    CostBased,
}

impl Strategy {
    /// Every strategy, in the order the schema and error messages list them.
    pub const ALL: [Strategy; 6] = [
        Strategy::SimpleShuffle,
        Strategy::LeastBusy,
        Strategy::LatencyBased,
        Strategy::UsageBased,
        Strategy::UsageBasedV2,
        Strategy::CostBased,
    ];

    /// The name LiteLLM and the config use; also the prefix of every reason.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::SimpleShuffle => "simple-shuffle",
            Strategy::LeastBusy => "least-busy",
            Strategy::LatencyBased => "latency-based-routing",
            Strategy::UsageBased => "usage-based-routing",
            Strategy::UsageBasedV2 => "usage-based-routing-v2",
            Strategy::CostBased => "cost-based-routing",
        }
    }

    fn from_name(name: &str) -> Option<Strategy> {
        Strategy::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// What `init` keeps. `ttl` is checked but not kept: the host expires the
/// latency samples it sends, so the router has nothing to expire.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Config {
    pub strategy: Strategy,
    /// latency-based-routing: deployments within `(1 + buffer) x` the lowest
    /// latency count as equally fast and are shuffled.
    pub lowest_latency_buffer: f64,
    pub enable_tag_filtering: bool,
}

/// The fields this config accepts, for the unknown-field message.
const FIELDS: &str = "strategy, lowest_latency_buffer, ttl, enable_tag_filtering";

/// Parses the config section (`{}` gives the defaults).
pub fn parse(text: &str) -> Result<Config, PluginError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| invalid(format!("config is not valid JSON: {e}")))?;
    let Value::Object(map) = value else {
        return Err(invalid("config must be a JSON object".to_string()));
    };
    from_map(&map)
}

fn from_map(map: &Map<String, Value>) -> Result<Config, PluginError> {
    let mut config = Config::default();
    for (key, value) in map {
        match key.as_str() {
            "strategy" => config.strategy = strategy(value)?,
            "lowest_latency_buffer" => {
                config.lowest_latency_buffer = number(key, value, Bound::AtLeastZero)?;
            }
            "ttl" => {
                number(key, value, Bound::AboveZero)?;
            }
            "enable_tag_filtering" => {
                config.enable_tag_filtering = value.as_bool().ok_or_else(|| {
                    invalid(format!(
                        "enable_tag_filtering must be true or false, got {value}"
                    ))
                })?;
            }
            other => {
                return Err(invalid(format!(
                    "unknown field \"{other}\"; accepted fields: {FIELDS}"
                )));
            }
        }
    }
    Ok(config)
}

fn strategy(value: &Value) -> Result<Strategy, PluginError> {
    let name = value.as_str();
    name.and_then(Strategy::from_name).ok_or_else(|| {
        let accepted = Strategy::ALL
            .iter()
            .map(|s| format!("\"{}\"", s.name()))
            .collect::<Vec<_>>()
            .join(", ");
        let what = match name {
            Some(n) => format!("strategy \"{n}\" is unknown"),
            None => format!("strategy must be a string, got {value}"),
        };
        invalid(format!("{what}; accepted strategies: {accepted}"))
    })
}

#[derive(Clone, Copy)]
enum Bound {
    AtLeastZero,
    AboveZero,
}

fn number(key: &str, value: &Value, bound: Bound) -> Result<f64, PluginError> {
    let (fits, wanted): (fn(f64) -> bool, &str) = match bound {
        Bound::AtLeastZero => (|v| v >= 0.0, "a number >= 0"),
        Bound::AboveZero => (|v| v > 0.0, "a number > 0"),
    };
    match value.as_f64() {
        Some(v) if v.is_finite() && fits(v) => Ok(v),
        _ => Err(invalid(format!("{key} must be {wanted}, got {value}"))),
    }
}

fn invalid(message: String) -> PluginError {
    PluginError::InvalidConfig(message)
}

/// The JSON Schema of the config section; the gateway checks the config
/// against it before `init`, so it mirrors [`parse`] exactly.
pub fn schema() -> String {
    let names: Vec<&str> = Strategy::ALL.iter().map(|s| s.name()).collect();
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "default-router config",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "strategy": {
                "description": "How to order the candidates within a health band and order tier: simple-shuffle (weighted random), least-busy (fewest in flight), latency-based-routing (lowest latency, unmeasured first), usage-based-routing and usage-based-routing-v2 (lowest tpm/rpm used this minute, over-limit last), cost-based-routing (cheapest per token, unknown prices last).",
                "enum": names,
                "default": "simple-shuffle"
            },
            "lowest_latency_buffer": {
                "description": "latency-based-routing: deployments within (1 + buffer) times the lowest latency are shuffled as equally fast.",
                "type": "number",
                "minimum": 0,
                "default": 0
            },
            "ttl": {
                "description": "Seconds latency samples are kept. Accepted for LiteLLM compatibility; the host expires samples, so it is ignored here.",
                "type": "number",
                "exclusiveMinimum": 0
            },
            "enable_tag_filtering": {
                "description": "Keep only deployments whose tags meet the request's tags (else those tagged `default`); untagged requests go to `default`-tagged deployments when there are any.",
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

    fn message(text: &str) -> String {
        match parse(text).unwrap_err() {
            PluginError::InvalidConfig(m) => m,
            other => panic!("wrong error kind: {other:?}"),
        }
    }

    #[test]
    fn empty_config_gives_the_defaults() {
        let c = parse("{}").unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.strategy, Strategy::SimpleShuffle);
        assert_eq!(c.lowest_latency_buffer, 0.0);
        assert!(!c.enable_tag_filtering);
    }

    #[test]
    fn every_strategy_name_parses_to_itself() {
        for s in Strategy::ALL {
            let c = parse(&format!(r#"{{"strategy":"{}"}}"#, s.name())).unwrap();
            assert_eq!(c.strategy, s);
        }
    }

    #[test]
    fn every_field_is_read() {
        let c = parse(
            r#"{"strategy":"latency-based-routing","lowest_latency_buffer":0.5,
                "ttl":3600,"enable_tag_filtering":true}"#,
        )
        .unwrap();
        assert_eq!(c.strategy, Strategy::LatencyBased);
        assert_eq!(c.lowest_latency_buffer, 0.5);
        assert!(c.enable_tag_filtering);
        assert_eq!(
            parse(r#"{"lowest_latency_buffer":0}"#)
                .unwrap()
                .lowest_latency_buffer,
            0.0
        );
        assert!(parse(r#"{"ttl":0.5}"#).is_ok());
    }

    #[test]
    fn unknown_strategy_names_the_accepted_ones() {
        let m = message(r#"{"strategy":"fastest"}"#);
        assert!(m.contains("strategy \"fastest\" is unknown"), "{m}");
        for s in Strategy::ALL {
            assert!(m.contains(&format!("\"{}\"", s.name())), "{m}");
        }
        let m = message(r#"{"strategy":3}"#);
        assert!(m.contains("strategy must be a string, got 3"), "{m}");
    }

    #[test]
    fn bad_numbers_name_their_field() {
        let m = message(r#"{"lowest_latency_buffer":-0.1}"#);
        assert_eq!(m, "lowest_latency_buffer must be a number >= 0, got -0.1");
        let m = message(r#"{"lowest_latency_buffer":"0.1"}"#);
        assert_eq!(
            m,
            "lowest_latency_buffer must be a number >= 0, got \"0.1\""
        );
        assert_eq!(message(r#"{"ttl":0}"#), "ttl must be a number > 0, got 0");
        assert_eq!(message(r#"{"ttl":-5}"#), "ttl must be a number > 0, got -5");
        assert_eq!(
            message(r#"{"ttl":null}"#),
            "ttl must be a number > 0, got null"
        );
    }

    #[test]
    fn bad_flag_names_its_field() {
        assert_eq!(
            message(r#"{"enable_tag_filtering":"yes"}"#),
            "enable_tag_filtering must be true or false, got \"yes\""
        );
    }

    #[test]
    fn unknown_fields_and_non_objects_are_rejected() {
        let m = message(r#"{"stratgy":"simple-shuffle"}"#);
        assert!(m.contains("unknown field \"stratgy\""), "{m}");
        assert!(m.contains(FIELDS), "{m}");
        assert!(message("not json").contains("not valid JSON"));
        assert_eq!(message("[]"), "config must be a JSON object");
        assert_eq!(message("null"), "config must be a JSON object");
    }

    #[test]
    fn schema_lists_every_field_and_strategy() {
        let v: serde_json::Value = serde_json::from_str(&schema()).unwrap();
        assert_eq!(v["additionalProperties"], false);
        let names: Vec<&str> = Strategy::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(
            v["properties"]["strategy"]["enum"],
            serde_json::json!(names)
        );
        let props = v["properties"].as_object().unwrap();
        let mut keys: Vec<&str> = props.keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut fields: Vec<&str> = FIELDS.split(", ").collect();
        fields.sort_unstable();
        assert_eq!(keys, fields);
        assert_eq!(v["properties"]["lowest_latency_buffer"]["minimum"], 0);
        assert_eq!(v["properties"]["ttl"]["exclusiveMinimum"], 0);
    }
}
