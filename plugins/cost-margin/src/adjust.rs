//! Which margin and discount apply to a call, and what they make of its
//! cost.
//!
//! For each of the two, the most specific setting wins, as LiteLLM's
//! provider margin overrides its `global` one: the caller's key alias,
//! then its team, then the model (`<provider>/<model>`, `<model>`, model
//! group), then the provider, then `global`. Then, as LiteLLM's
//! `completion_cost` does, the discount comes off first and the margin is
//! added to the discounted cost: `d = cost × (1 − discount)`, `final = d +
//! d × percentage + fixed_amount`.

use switchyard_sdk::cost::CostInput;

use crate::config::{Config, Margin, Rule};

/// The margin and discount one call gets.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Adjustment {
    pub margin: Option<Margin>,
    pub discount: Option<f64>,
}

impl Adjustment {
    /// Whether anything applies.
    pub fn is_some(&self) -> bool {
        self.margin.is_some() || self.discount.is_some()
    }

    /// `cost`, discounted and then marked up.
    pub fn apply(&self, cost: f64) -> f64 {
        let discounted = cost * (1.0 - self.discount.unwrap_or(0.0));
        let m = self.margin.unwrap_or_default();
        discounted + discounted * m.percentage + m.fixed_amount
    }
}

/// The adjustment `config` gives the call `input` describes.
pub fn for_call(config: &Config, input: &CostInput) -> Adjustment {
    let caller = &input.caller;
    let qualified = if config.models.is_empty() {
        String::new()
    } else {
        format!("{}/{}", input.provider, input.model)
    };
    // Most specific first.
    let rules: [Option<&Rule>; 5] = [
        caller.key_alias.as_ref().and_then(|k| config.keys.get(k)),
        caller.team.as_ref().and_then(|t| config.teams.get(t)),
        config.models.get(&qualified),
        config.models.get(&input.model),
        config.models.get(&input.model_group),
    ];
    let margin = rules
        .iter()
        .flatten()
        .find_map(|r| r.margin)
        .or_else(|| config.provider_margin(&input.provider));
    let discount = rules
        .iter()
        .flatten()
        .find_map(|r| r.discount.map(|d| d.0))
        .or_else(|| config.provider_discount(&input.provider));
    Adjustment { margin, discount }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_sdk::testing::{caller, no_prices, usage};

    fn input(provider: &str, model: &str, team: Option<&str>, key: Option<&str>) -> CostInput {
        CostInput {
            model_group: "group".into(),
            deployment_id: "d".into(),
            provider: provider.into(),
            model: model.into(),
            prices: no_prices(),
            usage: usage(10, 10),
            caller: switchyard_sdk::types::Caller {
                team: team.map(str::to_string),
                key_alias: key.map(str::to_string),
                ..caller()
            },
            previous: Some(1.0),
            extra: vec![],
        }
    }

    fn config(json: &str) -> Config {
        switchyard_sdk::typed::parse(json).unwrap()
    }

    fn pct(p: f64) -> Option<Margin> {
        Some(Margin {
            percentage: p,
            fixed_amount: 0.0,
        })
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1e-12)
    }

    #[test]
    fn litellms_arithmetic() {
        // LiteLLM's docs: $1.00, 5% discount, 10% margin → $1.045.
        let a = Adjustment {
            margin: pct(0.10),
            discount: Some(0.05),
        };
        assert!(close(a.apply(1.0), 1.045));
        // A fixed amount is added once, after the percentage.
        let a = Adjustment {
            margin: Some(Margin {
                percentage: 0.08,
                fixed_amount: 0.0001,
            }),
            discount: None,
        };
        assert!(close(a.apply(0.01), 0.01 * 1.08 + 0.0001));
        assert!(close(a.apply(0.0), 0.0001));
        assert!(close(Adjustment::default().apply(0.25), 0.25));
    }

    #[test]
    fn a_provider_margin_overrides_the_global_one_and_discounts_are_per_provider() {
        let c =
            config(r#"{"margin": {"global": 0.05, "openai": 0.10}, "discount": {"gemini": 0.05}}"#);
        let openai = for_call(&c, &input("openai", "gpt-4o", None, None));
        assert_eq!(openai.margin, pct(0.10));
        assert_eq!(openai.discount, None);
        let gemini = for_call(&c, &input("gemini", "gemini-2.5-pro", None, None));
        assert_eq!(gemini.margin, pct(0.05));
        assert_eq!(gemini.discount, Some(0.05));
        assert!(close(gemini.apply(1.0), 0.95 * 1.05));
    }

    #[test]
    fn the_most_specific_setting_wins_for_each_of_the_two() {
        let c = config(
            r#"{"margin": {"global": 0.05, "openai": 0.10}, "discount": {"openai": 0.02, "global": 0.01},
                "models": {"openai/gpt-4o": {"margin": 0.3}, "gpt-4o": {"margin": 0.4}, "group": {"discount": 0.03}},
                "teams": {"t1": {"margin": 0.2}},
                "keys": {"k1": {"discount": 0.1}}}"#,
        );
        let a = for_call(&c, &input("openai", "gpt-4o", Some("t1"), Some("k1")));
        assert_eq!((a.margin, a.discount), (pct(0.2), Some(0.1)));
        // Without the key: the team's margin, the model group's discount.
        let a = for_call(&c, &input("openai", "gpt-4o", Some("t1"), None));
        assert_eq!((a.margin, a.discount), (pct(0.2), Some(0.03)));
        // Without the team: <provider>/<model> before <model>.
        let a = for_call(&c, &input("openai", "gpt-4o", Some("t9"), Some("k9")));
        assert_eq!((a.margin, a.discount), (pct(0.3), Some(0.03)));
        let a = for_call(&c, &input("azure", "gpt-4o", None, None));
        assert_eq!((a.margin, a.discount), (pct(0.4), Some(0.03)));
        // Another model of another group: the provider's, then global.
        let mut other = input("openai", "o3", None, None);
        other.model_group = "reasoning".into();
        let a = for_call(&c, &other);
        assert_eq!((a.margin, a.discount), (pct(0.10), Some(0.02)));
        other.provider = "anthropic".into();
        let a = for_call(&c, &other);
        assert_eq!((a.margin, a.discount), (pct(0.05), Some(0.01)));
    }

    #[test]
    fn nothing_configured_is_nothing_applied() {
        let a = for_call(
            &Config::default(),
            &input("openai", "gpt-4o", Some("t"), Some("k")),
        );
        assert!(!a.is_some());
    }
}
