//! The cost rule's config: a default price table and per-team adjustments.
//!
//! A serde type whose JSON Schema `describe` derives (SDK 0.3); the gateway
//! checks a config against it before `init`. What serde cannot check (a
//! price not negative, the long-context fields beside the named ones) is
//! checked in [`Config::check`].

use std::collections::BTreeMap;

use schemars::Schema;
use serde::Deserialize;
use serde_json::Value;
use switchyard_sdk::prelude::JsonSchema;
use switchyard_sdk::types::PluginError;

use crate::factor::{Fraction, Multiplier, PerTeam};
use crate::tiers::{self, Tier};

/// The price fields of [`PriceEntry`] and their LiteLLM `model_info`
/// names (serde's `alias`es below, which schemars does not see).
const LITELLM_NAMES: [(&str, &str); 6] = [
    ("input_per_token", "input_cost_per_token"),
    ("output_per_token", "output_cost_per_token"),
    ("cache_read_per_token", "cache_read_input_token_cost"),
    ("cache_write_per_token", "cache_creation_input_token_cost"),
    ("reasoning_per_token", "output_cost_per_reasoning_token"),
    ("per_request", "input_cost_per_request"),
];

/// Prices of one model in the default table, in US dollars. LiteLLM's
/// `model_info` names are accepted too, long-context prices
/// (`input_cost_per_token_above_200k_tokens`, ...) under those names only.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[schemars(transform = entry_schema)]
pub struct PriceEntry {
    /// Per uncached input token (LiteLLM: input_cost_per_token).
    #[serde(default, alias = "input_cost_per_token")]
    #[schemars(range(min = 0))]
    pub input_per_token: Option<f64>,
    /// Per output token (LiteLLM: output_cost_per_token).
    #[serde(default, alias = "output_cost_per_token")]
    #[schemars(range(min = 0))]
    pub output_per_token: Option<f64>,
    /// Per cache-read input token; the input price when absent (LiteLLM:
    /// cache_read_input_token_cost).
    #[serde(default, alias = "cache_read_input_token_cost")]
    #[schemars(range(min = 0))]
    pub cache_read_per_token: Option<f64>,
    /// Per cache-write input token; the input price when absent (LiteLLM:
    /// cache_creation_input_token_cost).
    #[serde(default, alias = "cache_creation_input_token_cost")]
    #[schemars(range(min = 0))]
    pub cache_write_per_token: Option<f64>,
    /// Per reasoning token; the output price when absent (LiteLLM:
    /// output_cost_per_reasoning_token).
    #[serde(default, alias = "output_cost_per_reasoning_token")]
    #[schemars(range(min = 0))]
    pub reasoning_per_token: Option<f64>,
    /// Per call (LiteLLM: input_cost_per_request).
    #[serde(default, alias = "input_cost_per_request")]
    #[schemars(range(min = 0))]
    pub per_request: Option<f64>,
    /// The other fields: long-context prices, checked by [`Config::check`]
    /// (serde's `deny_unknown_fields` cannot be combined with `flatten`;
    /// the schema refuses other names through [`entry_schema`]).
    #[serde(flatten)]
    pub rest: BTreeMap<String, Value>,
}

/// Completes the derived schema of a [`PriceEntry`]: each price under its
/// LiteLLM name too, long-context prices by name pattern, nothing else.
fn entry_schema(schema: &mut Schema) {
    if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        for (name, litellm) in LITELLM_NAMES {
            if let Some(price) = props.get(name).cloned() {
                props.insert(litellm.to_string(), price);
            }
        }
    }
    schema.insert(
        "patternProperties".to_string(),
        serde_json::json!({ (tiers::KEY_PATTERN): {"type": "number", "minimum": 0} }),
    );
    schema.insert("additionalProperties".to_string(), Value::Bool(false));
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

    /// Checks the other fields are tier prices and no price is negative.
    fn check(&self, model: &str) -> Result<(), PluginError> {
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
        for (name, value) in self.all() {
            if let Some(v) = value
                && !(v.is_finite() && v >= 0.0)
            {
                return Err(invalid(format!(
                    "default_prices.{model}.{name}: {v} is less than the minimum of 0"
                )));
            }
        }
        Ok(())
    }
}

/// model-prices config.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "model-prices config")]
pub struct Config {
    /// Prices (USD) by "<provider>/<model>" or "<model>", used when a
    /// deployment's model_info has no input or output price. Long-context
    /// prices use LiteLLM's names (input_cost_per_token_above_200k_tokens,
    /// output_cost_per_token_above_200k_tokens,
    /// cache_read_input_token_cost_above_200k_tokens,
    /// cache_creation_input_token_cost_above_200k_tokens; any threshold).
    #[serde(default)]
    pub default_prices: BTreeMap<String, PriceEntry>,
    /// Price widely used models at their providers' list prices when
    /// neither model_info nor default_prices does (default true).
    #[serde(default = "yes")]
    pub list_prices: bool,
    /// Cost multipliers per team (1.2 adds 20%); `default` for other
    /// callers.
    #[serde(default)]
    pub markup: PerTeam<Multiplier>,
    /// Fractions taken off per team (0.1 takes 10% off); `default` for
    /// other callers.
    #[serde(default)]
    pub discount: PerTeam<Fraction>,
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

impl Config {
    /// What the types do not check: the default table's prices (the
    /// schema states the same bounds). Markups and discounts are checked
    /// as they parse ([`crate::factor`]).
    pub fn check(&self) -> Result<(), PluginError> {
        for (model, entry) in &self.default_prices {
            entry.check(model)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ModelPrices;

    /// The config as the gateway's `init` builds the plugin from it.
    fn parse(json: &str) -> Result<Config, PluginError> {
        switchyard_sdk::typed::from_json::<ModelPrices>(json).map(|p| p.config)
    }

    fn schema() -> Value {
        serde_json::from_str(&switchyard_sdk::typed::schema::<Config>()).unwrap()
    }

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
    fn every_litellm_name_is_read_and_in_the_schema() {
        let v = schema();
        let entry = &v["$defs"]["PriceEntry"];
        for (n, (name, litellm)) in LITELLM_NAMES.iter().enumerate() {
            let price = n as f64 + 1.0;
            let c = parse(&format!(
                r#"{{"default_prices":{{"m":{{"{litellm}":{price}}}}}}}"#
            ))
            .unwrap();
            let entry_read = &c.default_prices["m"];
            assert!(entry_read.rest.is_empty(), "{litellm}");
            assert!(
                entry_read.all().contains(&(*name, Some(price))),
                "{litellm}"
            );
            for key in [name, litellm] {
                assert_eq!(entry["properties"][key]["minimum"], 0, "{key}: {entry}");
            }
        }
    }

    /// The derived schema refuses what the hand-written one refused.
    #[test]
    fn the_schema_states_the_bounds_and_refuses_unknown_fields() {
        let v = schema();
        assert_eq!(v["title"], "model-prices config");
        assert_eq!(v["additionalProperties"], false);
        let mut keys: Vec<&str> = v["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["default_prices", "discount", "list_prices", "markup"]
        );
        let entry = &v["$defs"]["PriceEntry"];
        assert_eq!(entry["additionalProperties"], false);
        assert_eq!(entry["patternProperties"][tiers::KEY_PATTERN]["minimum"], 0);
        let text = v.to_string();
        assert!(text.contains(r#""maximum":1"#), "{text}");
    }
}
