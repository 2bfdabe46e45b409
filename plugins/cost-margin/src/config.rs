//! The plugin's config: LiteLLM's `cost_margin_config` and
//! `cost_discount_config` as they are, plus the same two adjustments per
//! model, team and key alias.
//!
//! ```json
//! {
//!   "margin":   {"global": 0.05, "openai": 0.10,
//!                "anthropic": {"percentage": 0.08, "fixed_amount": 0.0001}},
//!   "discount": {"vertex_ai": 0.05, "gemini": 0.05},
//!   "models":   {"gpt-4o": {"margin": 0.2, "discount": 0.1}},
//!   "teams":    {"t1": {"margin": {"fixed_amount": 0.001}}},
//!   "keys":     {"alias": {"discount": 0.1}}
//! }
//! ```
//!
//! It is read by hand from JSON rather than derived, so every refusal
//! names the path of the value at fault (`margin.anthropic.percentage`).

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use switchyard_sdk::types::PluginError;

/// A margin: `percentage` of the (discounted) cost plus `fixed_amount` US
/// dollars per call. LiteLLM's number form `0.10` is `{"percentage": 0.10}`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Margin {
    pub percentage: f64,
    pub fixed_amount: f64,
}

/// The margin and discount of one model, team or key alias; either may be
/// left out, and then a less specific one applies.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rule {
    pub margin: Option<Margin>,
    pub discount: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    /// `margin.global`: for providers without their own margin.
    pub global_margin: Option<Margin>,
    /// `margin.<provider>`.
    pub provider_margins: BTreeMap<String, Margin>,
    /// `discount.global`: for providers without their own discount.
    pub global_discount: Option<f64>,
    /// `discount.<provider>`.
    pub provider_discounts: BTreeMap<String, f64>,
    /// By `<provider>/<model>`, `<model>` or model group.
    pub models: BTreeMap<String, Rule>,
    /// By team.
    pub teams: BTreeMap<String, Rule>,
    /// By virtual key alias.
    pub keys: BTreeMap<String, Rule>,
}

/// The key of LiteLLM's margin for every provider without its own.
pub const GLOBAL: &str = "global";

fn invalid(message: String) -> PluginError {
    PluginError::InvalidConfig(message)
}

/// A JSON value's short form for an error message.
fn shown(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(60) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

fn object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, PluginError> {
    v.as_object()
        .ok_or_else(|| invalid(format!("{path}: {} is not an object", shown(v))))
}

/// A finite number at least 0 (and at most `max`, if given).
fn amount(v: &Value, path: &str, max: Option<f64>) -> Result<f64, PluginError> {
    let n = v
        .as_f64()
        .filter(|n| n.is_finite())
        .ok_or_else(|| invalid(format!("{path}: {} is not a number", shown(v))))?;
    if n < 0.0 {
        return Err(invalid(format!(
            "{path}: {n} is less than the minimum of 0"
        )));
    }
    if let Some(max) = max
        && n > max
    {
        return Err(invalid(format!(
            "{path}: {n} is greater than the maximum of {max}"
        )));
    }
    Ok(n)
}

/// A margin in either of LiteLLM's forms.
fn margin(v: &Value, path: &str) -> Result<Margin, PluginError> {
    if !v.is_object() {
        return Ok(Margin {
            percentage: amount(v, path, None)?,
            fixed_amount: 0.0,
        });
    }
    let mut m = Margin::default();
    for (key, value) in object(v, path)? {
        let at = format!("{path}.{key}");
        match key.as_str() {
            "percentage" => m.percentage = amount(value, &at, None)?,
            "fixed_amount" => m.fixed_amount = amount(value, &at, None)?,
            _ => {
                return Err(invalid(format!(
                    "{at}: unknown field; a margin has `percentage` (0.1 adds 10%) and `fixed_amount` (US dollars per call)"
                )));
            }
        }
    }
    Ok(m)
}

/// A discount: a fraction taken off, from 0 to 1.
fn discount(v: &Value, path: &str) -> Result<f64, PluginError> {
    amount(v, path, Some(1.0))
}

fn rule(v: &Value, path: &str) -> Result<Rule, PluginError> {
    let mut r = Rule::default();
    for (key, value) in object(v, path)? {
        let at = format!("{path}.{key}");
        match key.as_str() {
            "margin" => r.margin = Some(margin(value, &at)?),
            "discount" => r.discount = Some(discount(value, &at)?),
            _ => {
                return Err(invalid(format!(
                    "{at}: unknown field; expected `margin` or `discount`"
                )));
            }
        }
    }
    Ok(r)
}

fn rules(v: &Value, path: &str) -> Result<BTreeMap<String, Rule>, PluginError> {
    object(v, path)?
        .iter()
        .map(|(name, r)| Ok((name.clone(), rule(r, &format!("{path}.{name}"))?)))
        .collect()
}

/// Reads and checks the config given to `init`.
pub fn parse(text: &str) -> Result<Config, PluginError> {
    let root: Value =
        serde_json::from_str(text).map_err(|e| invalid(format!("the config is not JSON: {e}")))?;
    if root.is_null() {
        return Ok(Config::default());
    }
    let mut config = Config::default();
    for (key, value) in object(&root, "config")? {
        match key.as_str() {
            "margin" => {
                for (provider, m) in object(value, "margin")? {
                    let m = margin(m, &format!("margin.{provider}"))?;
                    if provider == GLOBAL {
                        config.global_margin = Some(m);
                    } else {
                        config.provider_margins.insert(provider.clone(), m);
                    }
                }
            }
            "discount" => {
                for (provider, d) in object(value, "discount")? {
                    let d = discount(d, &format!("discount.{provider}"))?;
                    if provider == GLOBAL {
                        config.global_discount = Some(d);
                    } else {
                        config.provider_discounts.insert(provider.clone(), d);
                    }
                }
            }
            "models" => config.models = rules(value, "models")?,
            "teams" => config.teams = rules(value, "teams")?,
            "keys" => config.keys = rules(value, "keys")?,
            _ => {
                return Err(invalid(format!(
                    "{key}: unknown field; expected margin, discount, models, teams or keys"
                )));
            }
        }
    }
    Ok(config)
}

/// The config's JSON Schema, which the gateway checks before `init`.
pub fn schema() -> String {
    let amount = serde_json::json!({"type": "number", "minimum": 0});
    // One schema for both forms (`minimum` binds numbers only, the object
    // keywords objects only), so a refusal names the value at fault rather
    // than "not valid under any of the schemas listed in oneOf".
    let margin = serde_json::json!({
        "description": "A margin: a number is a percentage (0.1 adds 10%); an object adds `percentage` of the cost and `fixed_amount` US dollars per call.",
        "type": ["number", "object"],
        "minimum": 0,
        "additionalProperties": false,
        "properties": {"percentage": amount.clone(), "fixed_amount": amount}
    });
    let discount = serde_json::json!({
        "description": "A fraction taken off the cost: 0.05 takes 5% off.",
        "type": "number",
        "minimum": 0,
        "maximum": 1
    });
    let rules = |description: &str| {
        serde_json::json!({
            "description": description,
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "additionalProperties": false,
                "properties": {"margin": margin.clone(), "discount": discount.clone()}
            }
        })
    };
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "cost-margin config",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "margin": {
                "description": "LiteLLM's cost_margin_config: a margin per provider prefix, and `global` for the others.",
                "type": "object",
                "additionalProperties": margin.clone()
            },
            "discount": {
                "description": "LiteLLM's cost_discount_config: a discount per provider prefix (and `global` for the others).",
                "type": "object",
                "additionalProperties": discount.clone()
            },
            "models": rules("Margin and discount by \"<provider>/<model>\", \"<model>\" or model group."),
            "teams": rules("Margin and discount by team."),
            "keys": rules("Margin and discount by virtual key alias.")
        }
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> String {
        match parse(text) {
            Err(PluginError::InvalidConfig(m)) => m,
            other => panic!("{text}: expected an invalid config, got {other:?}"),
        }
    }

    #[test]
    fn empty_and_null_configs_adjust_nothing() {
        assert_eq!(parse("{}").unwrap(), Config::default());
        assert_eq!(parse("null").unwrap(), Config::default());
    }

    #[test]
    fn litellms_shapes() {
        let c = parse(
            r#"{"margin": {"global": 0.05, "openai": 0.10, "anthropic": {"percentage": 0.08, "fixed_amount": 0.0001}, "groq": {"fixed_amount": 0.001}},
                "discount": {"vertex_ai": 0.05, "gemini": 0.05}}"#,
        )
        .unwrap();
        assert_eq!(
            c.global_margin,
            Some(Margin {
                percentage: 0.05,
                fixed_amount: 0.0
            })
        );
        assert_eq!(c.provider_margins["openai"].percentage, 0.10);
        assert_eq!(
            c.provider_margins["anthropic"],
            Margin {
                percentage: 0.08,
                fixed_amount: 0.0001
            }
        );
        assert_eq!(
            c.provider_margins["groq"],
            Margin {
                percentage: 0.0,
                fixed_amount: 0.001
            }
        );
        assert_eq!(c.provider_discounts["gemini"], 0.05);
        assert_eq!(c.global_discount, None);
    }

    #[test]
    fn rules_per_model_team_and_key() {
        let c = parse(
            r#"{"models": {"gpt-4o": {"margin": 0.2, "discount": 0.1}},
                "teams": {"t1": {"margin": {"fixed_amount": 0.5}}},
                "keys": {"alias": {"discount": 1}}}"#,
        )
        .unwrap();
        assert_eq!(
            c.models["gpt-4o"],
            Rule {
                margin: Some(Margin {
                    percentage: 0.2,
                    fixed_amount: 0.0
                }),
                discount: Some(0.1)
            }
        );
        assert_eq!(c.teams["t1"].margin.unwrap().fixed_amount, 0.5);
        assert_eq!(c.teams["t1"].discount, None);
        assert_eq!(c.keys["alias"].discount, Some(1.0));
    }

    #[test]
    fn refusals_name_the_path() {
        for (text, want) in [
            (
                r#"{"margin": {"openai": -0.1}}"#,
                "margin.openai: -0.1 is less than the minimum of 0",
            ),
            (
                r#"{"margin": {"anthropic": {"percentage": 0.1, "fixed_amount": -1}}}"#,
                "margin.anthropic.fixed_amount: -1 is less than the minimum of 0",
            ),
            (
                r#"{"margin": {"anthropic": {"percent": 0.1}}}"#,
                "margin.anthropic.percent: unknown field",
            ),
            (
                r#"{"margin": {"openai": "10%"}}"#,
                "margin.openai: \"10%\" is not a number",
            ),
            (
                r#"{"discount": {"gemini": 1.5}}"#,
                "discount.gemini: 1.5 is greater than the maximum of 1",
            ),
            (
                r#"{"discount": {"gemini": -0.05}}"#,
                "discount.gemini: -0.05 is less than the minimum of 0",
            ),
            (
                r#"{"discount": {"gemini": {"percentage": 0.05}}}"#,
                "discount.gemini: {\"percentage\":0.05} is not a number",
            ),
            (
                r#"{"teams": {"t1": {"discount": 2}}}"#,
                "teams.t1.discount: 2 is greater than the maximum of 1",
            ),
            (
                r#"{"keys": {"k": {"margin": {"percentage": -3}}}}"#,
                "keys.k.margin.percentage: -3 is less than the minimum of 0",
            ),
            (
                r#"{"models": {"m": {"markup": 1}}}"#,
                "models.m.markup: unknown field; expected `margin` or `discount`",
            ),
            (r#"{"teams": []}"#, "teams: [] is not an object"),
            (
                r#"{"cost_margin_config": {}}"#,
                "cost_margin_config: unknown field",
            ),
            ("[1]", "config: [1] is not an object"),
            ("{", "the config is not JSON"),
        ] {
            let got = error(text);
            assert!(got.starts_with(want), "{text}: {got}");
        }
    }

    #[test]
    fn schema_is_json_and_bounds_discounts() {
        let v: Value = serde_json::from_str(&schema()).unwrap();
        assert_eq!(
            v["properties"]["discount"]["additionalProperties"]["maximum"],
            1
        );
        assert_eq!(
            v["properties"]["teams"]["additionalProperties"]["properties"]["margin"]["properties"]
                ["fixed_amount"]["minimum"],
            0
        );
    }
}
