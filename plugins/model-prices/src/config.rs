//! The cost rule's config: a default price table and per-team adjustments.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use switchyard_sdk::types::PluginError;

use crate::tiers::{self, Tier};

/// Prices of one model in the default table, in US dollars. LiteLLM's
/// `model_info` names are accepted too, long-context prices
/// (`input_cost_per_token_above_200k_tokens`, ...) under those names only.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct PriceEntry {
    #[serde(default, alias = "input_cost_per_token")]
    pub input_per_token: Option<f64>,
    #[serde(default, alias = "output_cost_per_token")]
    pub output_per_token: Option<f64>,
    #[serde(default, alias = "cache_read_input_token_cost")]
    pub cache_read_per_token: Option<f64>,
    #[serde(default, alias = "cache_creation_input_token_cost")]
    pub cache_write_per_token: Option<f64>,
    #[serde(default, alias = "output_cost_per_reasoning_token")]
    pub reasoning_per_token: Option<f64>,
    #[serde(default, alias = "input_cost_per_request")]
    pub per_request: Option<f64>,
    /// The other fields: long-context prices, checked by [`parse`] (serde's
    /// `deny_unknown_fields` cannot be combined with `flatten`).
    #[serde(flatten)]
    pub rest: BTreeMap<String, Value>,
}

impl PriceEntry {
    fn all(&self) -> [(&'static str, Option<f64>); 6] {
        [
            ("input_per_token", self.input_per_token),
            ("output_per_token", self.output_per_token),
            ("cache_read_per_token", self.cache_read_per_token),
            ("cache_write_per_token", self.cache_write_per_token),
            ("reasoning_per_token", self.reasoning_per_token),
            ("per_request", self.per_request),
        ]
    }

    /// The long-context tiers among the other fields.
    pub fn tiers(&self) -> Vec<Tier> {
        tiers::collect(
            self.rest
                .iter()
                .filter_map(|(k, v)| Some((k.as_str(), tiers::price_value(v)?))),
        )
    }

    /// Checks the other fields: each a tier price, not negative.
    fn check_rest(&self, model: &str) -> Result<(), PluginError> {
        for (key, value) in &self.rest {
            if tiers::parse_key(key).is_none() {
                return Err(invalid(format!(
                    "default_prices.{model}: unknown field `{key}`; expected a price such as input_per_token, output_per_token, cache_read_per_token, cache_write_per_token, reasoning_per_token, per_request (or their LiteLLM names), or a long-context price such as input_cost_per_token_above_200k_tokens"
                )));
            }
            match tiers::price_value(value) {
                Some(v) if v.is_finite() && v >= 0.0 => {}
                Some(v) => {
                    return Err(invalid(format!(
                        "default_prices.{model}.{key}: {v} is less than the minimum of 0"
                    )));
                }
                None => {
                    return Err(invalid(format!(
                        "default_prices.{model}.{key}: {value} is not a price (a number of US dollars per token)"
                    )));
                }
            }
        }
        Ok(())
    }
}

/// A factor per team, with an optional one for every other caller.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerTeam {
    #[serde(default)]
    pub default: Option<f64>,
    #[serde(default)]
    pub teams: BTreeMap<String, f64>,
}

impl PerTeam {
    /// The factor for `team`: its own, else the default.
    pub fn for_team(&self, team: Option<&str>) -> Option<f64> {
        team.and_then(|t| self.teams.get(t).copied())
            .or(self.default)
    }

    fn values(&self) -> impl Iterator<Item = (String, f64)> + '_ {
        self.default
            .map(|v| ("default".to_string(), v))
            .into_iter()
            .chain(self.teams.iter().map(|(t, v)| (format!("teams.{t}"), *v)))
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Prices by `"<provider>/<model>"` or `"<model>"`, for deployments
    /// whose `model_info` has no input or output price.
    #[serde(default)]
    pub default_prices: BTreeMap<String, PriceEntry>,
    /// Whether widely used models are priced at their list prices when
    /// neither `model_info` nor `default_prices` prices them.
    #[serde(default = "yes")]
    pub list_prices: bool,
    /// Multipliers: 1.2 adds 20 %.
    #[serde(default)]
    pub markup: PerTeam,
    /// Fractions off: 0.1 takes 10 % off.
    #[serde(default)]
    pub discount: PerTeam,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            default_prices: BTreeMap::new(),
            list_prices: true,
            markup: PerTeam::default(),
            discount: PerTeam::default(),
        }
    }
}

fn yes() -> bool {
    true
}

fn invalid(message: String) -> PluginError {
    PluginError::InvalidConfig(message)
}

pub fn parse(config: &str) -> Result<Config, PluginError> {
    let config: Config = switchyard_sdk::parse_config(config)?;
    for (model, entry) in &config.default_prices {
        entry.check_rest(model)?;
        for (name, value) in entry.all() {
            if let Some(v) = value
                && !(v.is_finite() && v >= 0.0)
            {
                return Err(invalid(format!(
                    "default_prices.{model}.{name}: {v} is less than the minimum of 0"
                )));
            }
        }
    }
    for (name, v) in config.markup.values() {
        if !(v.is_finite() && v >= 0.0) {
            return Err(invalid(format!(
                "markup.{name}: {v} is less than the minimum of 0"
            )));
        }
    }
    for (name, v) in config.discount.values() {
        if !(v.is_finite() && v >= 0.0) {
            return Err(invalid(format!(
                "discount.{name}: {v} is less than the minimum of 0"
            )));
        }
        if v > 1.0 {
            return Err(invalid(format!(
                "discount.{name}: {v} is greater than the maximum of 1"
            )));
        }
    }
    Ok(config)
}

pub fn schema() -> String {
    let price = serde_json::json!({"type": "number", "minimum": 0});
    let mut entry_props = serde_json::Map::new();
    for (name, alias) in [
        ("input_per_token", "input_cost_per_token"),
        ("output_per_token", "output_cost_per_token"),
        ("cache_read_per_token", "cache_read_input_token_cost"),
        ("cache_write_per_token", "cache_creation_input_token_cost"),
        ("reasoning_per_token", "output_cost_per_reasoning_token"),
        ("per_request", "input_cost_per_request"),
    ] {
        entry_props.insert(name.to_string(), price.clone());
        entry_props.insert(alias.to_string(), price.clone());
    }
    let per_team = |description: &str, value: serde_json::Value| {
        serde_json::json!({
            "description": description,
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "default": value.clone(),
                "teams": {"type": "object", "additionalProperties": value}
            }
        })
    };
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "model-prices config",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "default_prices": {
                "description": "Prices (USD) by \"<provider>/<model>\" or \"<model>\", used when a deployment's model_info has no input or output price. Long-context prices use LiteLLM's names (input_cost_per_token_above_200k_tokens, output_cost_per_token_above_200k_tokens, cache_read_input_token_cost_above_200k_tokens, cache_creation_input_token_cost_above_200k_tokens; any threshold).",
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "additionalProperties": false,
                    "properties": entry_props,
                    "patternProperties": {(tiers::KEY_PATTERN): price.clone()}
                }
            },
            "list_prices": {
                "description": "Price widely used models at their providers' list prices when neither model_info nor default_prices does (default true).",
                "type": "boolean"
            },
            "markup": per_team("Cost multipliers per team (1.2 adds 20%); `default` for other callers.", serde_json::json!({"type": "number", "minimum": 0})),
            "discount": per_team("Fractions taken off per team (0.1 takes 10% off); `default` for other callers.", serde_json::json!({"type": "number", "minimum": 0, "maximum": 1}))
        }
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config() {
        assert_eq!(parse("{}").unwrap(), Config::default());
    }

    #[test]
    fn full_config_with_litellm_names() {
        let c = parse(
            r#"{"default_prices":{"openai/gpt-4o":{"input_cost_per_token":2.5e-6,"output_per_token":1e-5}},
                "markup":{"default":1.1,"teams":{"t1":1.2}},"discount":{"teams":{"t2":0.25}}}"#,
        )
        .unwrap();
        assert_eq!(
            c.default_prices["openai/gpt-4o"].input_per_token,
            Some(2.5e-6)
        );
        assert_eq!(c.markup.for_team(Some("t1")), Some(1.2));
        assert_eq!(c.markup.for_team(Some("t9")), Some(1.1));
        assert_eq!(c.markup.for_team(None), Some(1.1));
        assert_eq!(c.discount.for_team(Some("t2")), Some(0.25));
        assert_eq!(c.discount.for_team(Some("t1")), None);
    }

    #[test]
    fn bad_values() {
        for (cfg, needle) in [
            (
                r#"{"default_prices":{"m":{"input_per_token":-1}}}"#,
                "default_prices.m.input_per_token",
            ),
            (
                r#"{"default_prices":{"m":{"input_price":1}}}"#,
                "input_price",
            ),
            (r#"{"markup":{"teams":{"t":-2}}}"#, "markup.teams.t"),
            (r#"{"discount":{"default":1.5}}"#, "discount.default"),
            (r#"{"markups":{}}"#, "markups"),
        ] {
            assert!(
                matches!(parse(cfg), Err(PluginError::InvalidConfig(m)) if m.contains(needle)),
                "{cfg}"
            );
        }
    }

    #[test]
    fn long_context_prices_in_the_table() {
        let c = parse(
            r#"{"default_prices":{"gemini-2.5-pro":{"input_cost_per_token":1.25e-6,"output_cost_per_token":1e-5,
                "input_cost_per_token_above_200k_tokens":2.5e-6,"output_cost_per_token_above_200k_tokens":"1.5e-5"}}}"#,
        )
        .unwrap();
        assert_eq!(
            c.default_prices["gemini-2.5-pro"].tiers(),
            vec![Tier {
                above: 200_000,
                input: Some(2.5e-6),
                output: Some(1.5e-5),
                cache_read: None,
                cache_write: None,
            }]
        );
        for (cfg, needle) in [
            (
                r#"{"default_prices":{"m":{"input_cost_per_token_above_200k_tokens":-1}}}"#,
                "default_prices.m.input_cost_per_token_above_200k_tokens: -1 is less than the minimum of 0",
            ),
            (
                r#"{"default_prices":{"m":{"input_cost_per_token_above_200k_tokens":"lots"}}}"#,
                "default_prices.m.input_cost_per_token_above_200k_tokens: \"lots\" is not a price",
            ),
            (
                r#"{"default_prices":{"m":{"input_cost_per_token_above_1hr":1}}}"#,
                "default_prices.m: unknown field `input_cost_per_token_above_1hr`",
            ),
        ] {
            assert!(
                matches!(parse(cfg), Err(PluginError::InvalidConfig(m)) if m.contains(needle)),
                "{cfg}: {:?}",
                parse(cfg)
            );
        }
    }

    #[test]
    fn schema_is_json() {
        let v: serde_json::Value = serde_json::from_str(&schema()).unwrap();
        let entry = &v["properties"]["default_prices"]["additionalProperties"];
        assert!(entry["properties"]["input_cost_per_token"].is_object());
        assert_eq!(entry["patternProperties"][tiers::KEY_PATTERN]["minimum"], 0);
    }
}
