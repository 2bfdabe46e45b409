//! The router's config section, as the gateway fills it from LiteLLM's
//! `router_settings`.
//!
//! A serde type whose JSON Schema is derived (SDK 0.3): the gateway checks
//! a config against it before `init`, and a config that does not parse
//! names the field at fault (`strategy: unknown variant ...`). The bounds
//! serde cannot express are checked in [`Config::check`].

use serde::Deserialize;
use switchyard_sdk::prelude::JsonSchema;
use switchyard_sdk::types::PluginError;

/// LiteLLM's `routing_strategy` values, all implemented here. How to order
/// the candidates within a health band and order tier: simple-shuffle
/// (weighted random), least-busy (fewest in flight), latency-based-routing
/// (lowest latency, unmeasured first), usage-based-routing and
/// usage-based-routing-v2 (lowest tpm/rpm used this minute, over-limit
/// last), cost-based-routing (cheapest per token, unknown prices last).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
pub enum Strategy {
    #[default]
    #[serde(rename = "simple-shuffle")]
    SimpleShuffle,
    #[serde(rename = "least-busy")]
    LeastBusy,
    #[serde(rename = "latency-based-routing")]
    LatencyBased,
    #[serde(rename = "usage-based-routing")]
    UsageBased,
    #[serde(rename = "usage-based-routing-v2")]
    UsageBasedV2,
    #[serde(rename = "cost-based-routing")]
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
}

/// default-router config. `ttl` is checked but not used: the host expires
/// the latency samples it sends, so the router has nothing to expire.
#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
#[schemars(title = "default-router config")]
pub struct Config {
    /// How to order the candidates within a health band and order tier.
    pub strategy: Strategy,
    /// latency-based-routing: deployments within (1 + buffer) times the
    /// lowest latency are shuffled as equally fast.
    #[schemars(range(min = 0))]
    pub lowest_latency_buffer: f64,
    /// Seconds latency samples are kept. Accepted for LiteLLM compatibility;
    /// the host expires samples, so it is ignored here.
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub ttl: Option<f64>,
    /// Keep only deployments whose tags meet the request's tags (else those
    /// tagged `default`); untagged requests go to `default`-tagged
    /// deployments when there are any.
    pub enable_tag_filtering: bool,
}

impl Config {
    /// The bounds the types do not hold (the schema states them too).
    pub fn check(&self) -> Result<(), PluginError> {
        let b = self.lowest_latency_buffer;
        if !(b.is_finite() && b >= 0.0) {
            return Err(invalid(format!(
                "lowest_latency_buffer must be a number >= 0, got {b}"
            )));
        }
        if let Some(ttl) = self.ttl
            && !(ttl.is_finite() && ttl > 0.0)
        {
            return Err(invalid(format!("ttl must be a number > 0, got {ttl}")));
        }
        Ok(())
    }
}

fn invalid(message: String) -> PluginError {
    PluginError::InvalidConfig(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, PluginError> {
        let c: Config = switchyard_sdk::typed::parse(text)?;
        c.check().map(|()| c)
    }

    fn message(text: &str) -> String {
        match parse(text).unwrap_err() {
            PluginError::InvalidConfig(m) => m,
            other => panic!("wrong error kind: {other:?}"),
        }
    }

    fn schema() -> serde_json::Value {
        serde_json::from_str(&switchyard_sdk::typed::schema::<Config>()).unwrap()
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
    fn unknown_strategy_names_the_field_and_the_accepted_ones() {
        let m = message(r#"{"strategy":"fastest"}"#);
        assert!(m.starts_with("strategy: unknown variant `fastest`"), "{m}");
        for s in Strategy::ALL {
            assert!(m.contains(&format!("`{}`", s.name())), "{m}");
        }
        let m = message(r#"{"strategy":3}"#);
        assert!(m.starts_with("strategy: "), "{m}");
    }

    #[test]
    fn bad_numbers_name_their_field() {
        let m = message(r#"{"lowest_latency_buffer":-0.1}"#);
        assert_eq!(m, "lowest_latency_buffer must be a number >= 0, got -0.1");
        let m = message(r#"{"lowest_latency_buffer":"0.1"}"#);
        assert!(
            m.starts_with("lowest_latency_buffer: invalid type: string \"0.1\""),
            "{m}"
        );
        assert_eq!(message(r#"{"ttl":0}"#), "ttl must be a number > 0, got 0");
        assert_eq!(message(r#"{"ttl":-5}"#), "ttl must be a number > 0, got -5");
    }

    #[test]
    fn bad_flag_names_its_field() {
        let m = message(r#"{"enable_tag_filtering":"yes"}"#);
        assert!(
            m.starts_with("enable_tag_filtering: invalid type: string \"yes\""),
            "{m}"
        );
    }

    #[test]
    fn unknown_fields_and_non_objects_are_rejected() {
        let m = message(r#"{"stratgy":"simple-shuffle"}"#);
        assert!(m.contains("unknown field `stratgy`"), "{m}");
        assert!(m.contains("`strategy`"), "{m}");
        assert!(message("not json").contains("expected ident"));
        assert!(message("null").contains("invalid type: null"));
        // serde would read `[]` as an empty struct; the schema, which the
        // gateway checks first, wants an object.
        assert_eq!(schema()["type"], "object");
    }

    /// The derived schema refuses what the hand-written one refused.
    #[test]
    fn schema_lists_every_field_and_strategy_and_refuses_the_rest() {
        let v = schema();
        assert_eq!(v["additionalProperties"], false);
        assert_eq!(v["title"], "default-router config");
        let props = v["properties"].as_object().unwrap();
        let mut keys: Vec<&str> = props.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "enable_tag_filtering",
                "lowest_latency_buffer",
                "strategy",
                "ttl"
            ]
        );
        assert_eq!(v["properties"]["lowest_latency_buffer"]["minimum"], 0);
        assert_eq!(v["properties"]["ttl"]["exclusiveMinimum"], 0);
        let text = v.to_string();
        for s in Strategy::ALL {
            assert!(text.contains(&format!("\"{}\"", s.name())), "{text}");
        }
    }
}
