//! The cost rule's config: a default price table and per-team adjustments.

use std::collections::BTreeMap;

use serde::Deserialize;
use switchyard_sdk::types::PluginError;

/// Prices of one model in the default table, in US dollars. LiteLLM's
/// `model_info` names are accepted too.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
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
                "description": "Prices (USD) by \"<provider>/<model>\" or \"<model>\", used when a deployment's model_info has no input or output price.",
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "additionalProperties": false,
                    "properties": entry_props
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
    fn schema_is_json() {
        let v: serde_json::Value = serde_json::from_str(&schema()).unwrap();
        assert!(v["properties"]["default_prices"]["additionalProperties"]["properties"]["input_cost_per_token"].is_object());
    }
}
