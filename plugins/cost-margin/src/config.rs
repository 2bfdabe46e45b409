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
//! A serde type whose JSON Schema `describe` derives (SDK 0.3). The bounds
//! live in the number types ([`Amount`], [`Fraction`]) and a margin's two
//! forms in [`Margin`]'s own deserializer, so every refusal names the path
//! of the value at fault (`margin.anthropic.fixed_amount: -1 is less than
//! the minimum of 0`).

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use switchyard_sdk::prelude::JsonSchema;

/// The key of LiteLLM's margin (and discount) for every provider without
/// its own.
pub const GLOBAL: &str = "global";

/// Reads a number in `min..=max`, refusing others with the schema
/// checker's words.
struct Bounded {
    max: Option<f64>,
    expecting: &'static str,
}

impl Bounded {
    fn check<E: de::Error>(&self, v: f64) -> Result<f64, E> {
        if !v.is_finite() {
            return Err(E::custom(format!("{v} is not a number")));
        }
        if v < 0.0 {
            return Err(E::custom(format!("{v} is less than the minimum of 0")));
        }
        match self.max {
            Some(max) if v > max => Err(E::custom(format!(
                "{v} is greater than the maximum of {max}"
            ))),
            _ => Ok(v),
        }
    }
}

impl Visitor<'_> for Bounded {
    type Value = f64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        self.check(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        self.check(v as f64)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        self.check(v as f64)
    }
}

/// An amount: a number at least 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, JsonSchema)]
#[schemars(transparent)]
pub struct Amount(#[schemars(range(min = 0))] pub f64);

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_f64(Bounded {
            max: None,
            expecting: "a number at least 0",
        })
        .map(Amount)
    }
}

/// A discount: the fraction taken off the cost, from 0 to 1 (0.05 takes
/// 5 % off).
#[derive(Debug, Clone, Copy, PartialEq, JsonSchema)]
#[schemars(transparent)]
pub struct Fraction(#[schemars(range(min = 0, max = 1))] pub f64);

impl<'de> Deserialize<'de> for Fraction {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_f64(Bounded {
            max: Some(1.0),
            expecting: "a discount: a number from 0 to 1",
        })
        .map(Fraction)
    }
}

/// A margin: a number is a percentage (0.1 adds 10%); an object adds
/// `percentage` of the cost and `fixed_amount` US dollars per call.
// One schema for both forms (`minimum` binds numbers only, the object
// keywords objects only), so the gateway's schema check names the value at
// fault rather than "not valid under any of the schemas listed in anyOf".
#[derive(Debug, Clone, Copy, Default, PartialEq, JsonSchema)]
#[schemars(
    deny_unknown_fields,
    default,
    extend("type" = ["number", "object"], "minimum" = 0)
)]
pub struct Margin {
    /// The share of the (discounted) cost added: 0.1 adds 10%.
    #[schemars(range(min = 0))]
    pub percentage: f64,
    /// US dollars added per call.
    #[schemars(range(min = 0))]
    pub fixed_amount: f64,
}

/// A margin's object form, as it is written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MarginFields {
    #[serde(default)]
    percentage: Amount,
    #[serde(default)]
    fixed_amount: Amount,
}

/// Reads either of LiteLLM's margin forms.
struct MarginVisitor;

impl MarginVisitor {
    fn percentage<E: de::Error>(v: f64) -> Result<Margin, E> {
        let percentage = Bounded {
            max: None,
            expecting: "",
        }
        .check(v)?;
        Ok(Margin {
            percentage,
            fixed_amount: 0.0,
        })
    }
}

impl<'de> Visitor<'de> for MarginVisitor {
    type Value = Margin;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(
            "a margin: a number (0.1 adds 10%) or an object with `percentage` and `fixed_amount`",
        )
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Margin, E> {
        Self::percentage(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Margin, E> {
        Self::percentage(v as f64)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Margin, E> {
        Self::percentage(v as f64)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Margin, A::Error> {
        let fields = MarginFields::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(Margin {
            percentage: fields.percentage.0,
            fixed_amount: fields.fixed_amount.0,
        })
    }
}

impl<'de> Deserialize<'de> for Margin {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(MarginVisitor)
    }
}

/// The margin and discount of one model, team or key alias; either may be
/// left out, and then a less specific one applies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    // Both stated as their own schema, not "it or null" (an `anyOf`), so
    // that the gateway's schema check names the value at fault.
    #[serde(default)]
    #[schemars(with = "Margin")]
    pub margin: Option<Margin>,
    #[serde(default)]
    #[schemars(with = "Fraction")]
    pub discount: Option<Fraction>,
}

/// cost-margin config.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
#[schemars(title = "cost-margin config")]
pub struct Config {
    /// LiteLLM's cost_margin_config: a margin per provider prefix, and
    /// `global` for the others.
    pub margin: BTreeMap<String, Margin>,
    /// LiteLLM's cost_discount_config: a discount per provider prefix (and
    /// `global` for the others).
    pub discount: BTreeMap<String, Fraction>,
    /// Margin and discount by "<provider>/<model>", "<model>" or model
    /// group.
    pub models: BTreeMap<String, Rule>,
    /// Margin and discount by team.
    pub teams: BTreeMap<String, Rule>,
    /// Margin and discount by virtual key alias.
    pub keys: BTreeMap<String, Rule>,
}

impl Config {
    /// The provider's own margin, else the `global` one.
    pub fn provider_margin(&self, provider: &str) -> Option<Margin> {
        self.margin
            .get(provider)
            .or_else(|| self.margin.get(GLOBAL))
            .copied()
    }

    /// The provider's own discount, else the `global` one.
    pub fn provider_discount(&self, provider: &str) -> Option<f64> {
        self.discount
            .get(provider)
            .or_else(|| self.discount.get(GLOBAL))
            .map(|d| d.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use switchyard_sdk::prelude::PluginError;

    /// The config as the gateway's `init` builds the plugin from it.
    fn parse(text: &str) -> Result<Config, PluginError> {
        switchyard_sdk::typed::parse(text)
    }

    fn error(text: &str) -> String {
        match parse(text) {
            Err(PluginError::InvalidConfig(m)) => m,
            other => panic!("{text}: expected an invalid config, got {other:?}"),
        }
    }

    fn schema() -> Value {
        serde_json::from_str(&switchyard_sdk::typed::schema::<Config>()).unwrap()
    }

    /// Follows a `$ref` into `$defs`.
    fn resolved<'a>(root: &'a Value, v: &'a Value) -> &'a Value {
        match v["$ref"].as_str().and_then(|r| r.strip_prefix("#/$defs/")) {
            Some(name) => &root["$defs"][name],
            None => v,
        }
    }

    #[test]
    fn an_empty_config_adjusts_nothing() {
        assert_eq!(parse("{}").unwrap(), Config::default());
    }

    #[test]
    fn litellms_shapes() {
        let c = parse(
            r#"{"margin": {"global": 0.05, "openai": 0.10, "anthropic": {"percentage": 0.08, "fixed_amount": 0.0001}, "groq": {"fixed_amount": 0.001}},
                "discount": {"vertex_ai": 0.05, "gemini": 0.05}}"#,
        )
        .unwrap();
        let pct = |p| Margin {
            percentage: p,
            fixed_amount: 0.0,
        };
        assert_eq!(c.provider_margin("mistral"), Some(pct(0.05)));
        assert_eq!(c.provider_margin("openai"), Some(pct(0.10)));
        assert_eq!(
            c.provider_margin("anthropic"),
            Some(Margin {
                percentage: 0.08,
                fixed_amount: 0.0001
            })
        );
        assert_eq!(
            c.provider_margin("groq"),
            Some(Margin {
                percentage: 0.0,
                fixed_amount: 0.001
            })
        );
        assert_eq!(c.provider_discount("gemini"), Some(0.05));
        assert_eq!(c.provider_discount("openai"), None);
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
                discount: Some(Fraction(0.1))
            }
        );
        assert_eq!(c.teams["t1"].margin.unwrap().fixed_amount, 0.5);
        assert_eq!(c.teams["t1"].discount, None);
        assert_eq!(c.keys["alias"].discount, Some(Fraction(1.0)));
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
                "margin.anthropic.percent: unknown field `percent`, expected `percentage` or `fixed_amount`",
            ),
            (
                r#"{"margin": {"openai": "10%"}}"#,
                "margin.openai: invalid type: string \"10%\", expected a margin: a number (0.1 adds 10%) or an object",
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
                "discount.gemini: invalid type: map, expected a discount: a number from 0 to 1",
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
                "models.m.markup: unknown field `markup`, expected `margin` or `discount`",
            ),
            (
                r#"{"teams": []}"#,
                "teams: invalid type: sequence, expected a map",
            ),
            (
                r#"{"cost_margin_config": {}}"#,
                "cost_margin_config: unknown field `cost_margin_config`, expected one of `margin`, `discount`, `models`, `teams`, `keys`",
            ),
            ("null", "invalid type: null"),
        ] {
            let got = error(text);
            assert!(got.starts_with(want), "{text}: {got}");
        }
        assert!(error("{").contains("EOF while parsing"));
    }

    /// The derived schema refuses what the hand-written one refused.
    #[test]
    fn the_schema_states_the_bounds_and_refuses_unknown_fields() {
        let v = schema();
        assert_eq!(v["title"], "cost-margin config");
        assert_eq!(v["additionalProperties"], false);
        let discount = resolved(&v, &v["properties"]["discount"]["additionalProperties"]);
        assert_eq!(
            (&discount["minimum"], &discount["maximum"]),
            (&0.into(), &1.into())
        );
        let margin = resolved(&v, &v["properties"]["margin"]["additionalProperties"]);
        assert_eq!(margin["type"], serde_json::json!(["number", "object"]));
        assert_eq!(margin["minimum"], 0);
        assert_eq!(margin["additionalProperties"], false);
        assert_eq!(margin["properties"]["fixed_amount"]["minimum"], 0);
        assert!(margin.get("required").is_none(), "{margin}");
        let rule = resolved(&v, &v["properties"]["teams"]["additionalProperties"]);
        assert_eq!(rule["additionalProperties"], false);
        // A rule's two fields are their own schemas, not "it or null".
        assert_eq!(resolved(&v, &rule["properties"]["margin"]), margin);
        assert_eq!(resolved(&v, &rule["properties"]["discount"]), discount);
        assert!(rule.get("required").is_none(), "{rule}");
    }
}
