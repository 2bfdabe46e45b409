//! Per-team markups and discounts, and the two kinds of number they hold.
//!
//! The bounds live in the number types, so the derived schema states them
//! (the gateway checks it before `init`) and parsing refuses a value out of
//! bounds with its path (`discount.teams.t1: 1.5 is greater than the
//! maximum of 1`).

use std::collections::BTreeMap;

use serde::de::{Deserialize, Deserializer, Error};
use switchyard_sdk::prelude::JsonSchema;

/// A multiplier, at least 0: 1.2 adds 20 %.
#[derive(Debug, Clone, Copy, PartialEq, JsonSchema)]
#[schemars(transparent)]
pub struct Multiplier(#[schemars(range(min = 0))] pub f64);

/// A fraction taken off, from 0 to 1: 0.1 takes 10 % off.
#[derive(Debug, Clone, Copy, PartialEq, JsonSchema)]
#[schemars(transparent)]
pub struct Fraction(#[schemars(range(min = 0, max = 1))] pub f64);

/// `v` when it is finite, at least 0 and at most `max`; otherwise the
/// message the gateway's schema check would give.
fn bounded(v: f64, max: Option<f64>) -> Result<f64, String> {
    if !(v.is_finite() && v >= 0.0) {
        return Err(format!("{v} is less than the minimum of 0"));
    }
    match max {
        Some(max) if v > max => Err(format!("{v} is greater than the maximum of {max}")),
        _ => Ok(v),
    }
}

impl<'de> Deserialize<'de> for Multiplier {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        bounded(f64::deserialize(d)?, None)
            .map(Multiplier)
            .map_err(D::Error::custom)
    }
}

impl<'de> Deserialize<'de> for Fraction {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        bounded(f64::deserialize(d)?, Some(1.0))
            .map(Fraction)
            .map_err(D::Error::custom)
    }
}

impl From<Multiplier> for f64 {
    fn from(m: Multiplier) -> f64 {
        m.0
    }
}

impl From<Fraction> for f64 {
    fn from(f: Fraction) -> f64 {
        f.0
    }
}

/// A factor per team, with an optional one for every other caller.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, JsonSchema)]
// `bound`: serde would ask `F: Default` for the defaulted fields, which
// only `Option` and `BTreeMap` need.
#[serde(deny_unknown_fields, bound(deserialize = "F: Deserialize<'de>"))]
#[schemars(rename = "PerTeam_{F}")]
pub struct PerTeam<F> {
    /// For callers whose team has no factor of its own.
    // Stated as `F`, not as `F` or null (an `anyOf`), so that the gateway's
    // schema check names the bound a bad value breaks.
    #[serde(default)]
    #[schemars(with = "F")]
    pub default: Option<F>,
    /// By team.
    #[serde(default)]
    pub teams: BTreeMap<String, F>,
}

impl<F> Default for PerTeam<F> {
    fn default() -> Self {
        PerTeam {
            default: None,
            teams: BTreeMap::new(),
        }
    }
}

impl<F: Copy + Into<f64>> PerTeam<F> {
    /// The factor for `team`: its own, else the default.
    pub fn for_team(&self, team: Option<&str>) -> Option<f64> {
        team.and_then(|t| self.teams.get(t).copied())
            .or(self.default)
            .map(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, String> {
        switchyard_sdk::typed::parse::<T>(json).map_err(|e| format!("{e:?}"))
    }

    #[test]
    fn bounds_are_checked_with_the_path() {
        let m = parse::<PerTeam<Fraction>>(r#"{"teams":{"t1":1.5}}"#).unwrap_err();
        assert!(
            m.contains("teams.t1: 1.5 is greater than the maximum of 1"),
            "{m}"
        );
        let m = parse::<PerTeam<Multiplier>>(r#"{"default":-2}"#).unwrap_err();
        assert!(
            m.contains("default: -2 is less than the minimum of 0"),
            "{m}"
        );
        assert!(parse::<PerTeam<Fraction>>(r#"{"default":1,"teams":{"a":0}}"#).is_ok());
        assert!(parse::<PerTeam<Multiplier>>(r#"{"default":7.5}"#).is_ok());
    }

    #[test]
    fn a_team_without_its_own_factor_gets_the_default() {
        let p: PerTeam<Multiplier> = parse(r#"{"default":1.1,"teams":{"t1":1.2}}"#).unwrap();
        assert_eq!(p.for_team(Some("t1")), Some(1.2));
        assert_eq!(p.for_team(Some("t9")), Some(1.1));
        assert_eq!(p.for_team(None), Some(1.1));
        assert_eq!(PerTeam::<Fraction>::default().for_team(Some("t1")), None);
    }

    #[test]
    fn the_schema_states_the_bounds() {
        let s = serde_json::to_value(schemars::schema_for!(PerTeam<Fraction>)).unwrap();
        let text = s.to_string();
        assert!(text.contains(r#""maximum":1"#), "{text}");
        assert!(text.contains(r#""minimum":0"#), "{text}");
        assert_eq!(s["additionalProperties"], false);
    }
}
