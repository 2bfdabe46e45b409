//! `cost-margin`: marks up and discounts a price an earlier cost rule
//! reached (`previous`), in LiteLLM's shapes.
//!
//! LiteLLM's semantics, which this plugin follows (LiteLLM's docs
//! `proxy/provider_margins` and `proxy/provider_discounts`, and
//! `_apply_cost_discount` / `_apply_cost_margin` in `litellm/cost_calculator.py`):
//!
//! - `cost_discount_config` (`{"vertex_ai": 0.05}`) maps a provider to the
//!   fraction taken off its cost; it is applied first, after every other
//!   cost calculation.
//! - `cost_margin_config` maps a provider, or `global` for every provider
//!   without its own, to a margin: a number is a percentage (`0.10` adds
//!   10 %), an object adds `percentage` of the cost and `fixed_amount` US
//!   dollars per call. A provider's margin overrides the global one (they
//!   do not add up). It is applied to the discounted cost: $1.00 with a 5 %
//!   discount and a 10 % margin costs $1.045.
//!
//! Beyond LiteLLM, the same two settings can be given per model, per team
//! and per virtual key alias, and `discount` also takes `global`; for each
//! of the two the most specific setting wins ([`adjust`]). A call that no
//! earlier rule priced gets no opinion: a margin never turns an unknown
//! cost into a price.

mod adjust;
mod config;

use config::Config;
use switchyard_sdk::prelude::*;

/// The cost rule: its config, kept per instance by the SDK.
pub struct CostMargin {
    config: Config,
}

impl Plugin for CostMargin {
    type Config = Config;
    const NAME: &'static str = "cost-margin";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: Option<&'static str> = Some(
        "Margins and discounts on a priced call (LiteLLM's cost_margin_config and cost_discount_config), per provider, model, team and key",
    );

    fn new(config: Config) -> Result<Self, PluginError> {
        Ok(CostMargin { config })
    }
}

impl CostRule for CostMargin {
    fn cost(&self, input: CostInput) -> Result<CostAnswer, PluginError> {
        Ok(cost_with(&self.config, &input))
    }
}

/// Adjusts the price the chain reached with `config`: no opinion when
/// there is none (or it is not a number) or nothing applies.
pub fn cost_with(config: &Config, input: &CostInput) -> CostAnswer {
    let Some(previous) = input.previous.filter(|p| p.is_finite()) else {
        return CostAnswer::NoOpinion;
    };
    let adjustment = adjust::for_call(config, input);
    if !adjustment.is_some() {
        return CostAnswer::NoOpinion;
    }
    CostAnswer::Usd(adjustment.apply(previous))
}

switchyard_sdk::export!(cost CostMargin);

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_sdk::testing::{caller, no_prices, usage};
    use switchyard_sdk::typed::from_json;
    use switchyard_sdk::types::PluginKind;

    fn config(json: &str) -> Config {
        from_json::<CostMargin>(json).unwrap().config
    }

    fn input(provider: &str, previous: Option<f64>) -> CostInput {
        CostInput {
            model_group: "g".into(),
            deployment_id: "d".into(),
            provider: provider.into(),
            model: "m".into(),
            prices: no_prices(),
            usage: usage(1000, 200),
            caller: caller(),
            previous,
            extra: vec![],
        }
    }

    fn usd(a: CostAnswer) -> f64 {
        match a {
            CostAnswer::Usd(v) => v,
            CostAnswer::NoOpinion => f64::NAN,
        }
    }

    #[test]
    fn describe() {
        let info = switchyard_sdk::typed::describe::<CostMargin>(PluginKind::Cost, &[]);
        assert_eq!(
            (info.name.as_str(), info.kind),
            ("cost-margin", PluginKind::Cost)
        );
        assert!(info.config_schema.unwrap().contains("fixed_amount"));
        assert!(info.description.is_some());
    }

    #[test]
    fn no_previous_price_is_no_opinion() {
        let c = config(r#"{"margin": {"global": {"fixed_amount": 0.01}}}"#);
        assert_eq!(cost_with(&c, &input("openai", None)), CostAnswer::NoOpinion);
        assert_eq!(
            cost_with(&c, &input("openai", Some(f64::NAN))),
            CostAnswer::NoOpinion
        );
        assert!((usd(cost_with(&c, &input("openai", Some(0.02)))) - 0.03).abs() < 1e-15);
    }

    #[test]
    fn nothing_applying_is_no_opinion() {
        let c = config(r#"{"margin": {"openai": 0.1}}"#);
        assert_eq!(
            cost_with(&c, &input("anthropic", Some(1.0))),
            CostAnswer::NoOpinion
        );
    }

    #[test]
    fn the_value_built_from_json_adjusts_with_its_config_and_a_bad_one_is_refused() {
        let rule: CostMargin = from_json(r#"{"discount": {"gemini": 0.5}}"#).unwrap();
        assert_eq!(
            rule.cost(input("gemini", Some(0.5))).unwrap(),
            CostAnswer::Usd(0.25)
        );
        assert!(matches!(
            from_json::<CostMargin>(r#"{"discount": {"gemini": 1.5}}"#).err(),
            Some(PluginError::InvalidConfig(m)) if m.starts_with("discount.gemini")
        ));
    }
}
