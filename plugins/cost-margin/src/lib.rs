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

use std::cell::RefCell;

use config::Config;
use switchyard_sdk::cost::{CostAnswer, CostInput};
use switchyard_sdk::export_cost_rule;
use switchyard_sdk::types::{PluginError, PluginInfo, PluginKind};
use switchyard_sdk::{CostRule, Plugin};

thread_local! {
    // Wasm instances are single-threaded and `init` runs once per instance.
    static CONFIG: RefCell<Config> = RefCell::new(Config::default());
}

pub struct CostMargin;

impl Plugin for CostMargin {
    fn describe() -> PluginInfo {
        let mut info =
            switchyard_sdk::info("cost-margin", env!("CARGO_PKG_VERSION"), PluginKind::Cost);
        info.config_schema = Some(config::schema());
        info.description = Some(
            "Margins and discounts on a priced call (LiteLLM's cost_margin_config and cost_discount_config), per provider, model, team and key".to_string(),
        );
        info
    }

    fn init(config: String) -> Result<(), PluginError> {
        let parsed = config::parse(&config)?;
        CONFIG.with(|c| *c.borrow_mut() = parsed);
        Ok(())
    }
}

impl CostRule for CostMargin {
    fn cost(input: CostInput) -> Result<CostAnswer, PluginError> {
        Ok(CONFIG.with(|c| cost_with(&c.borrow(), &input)))
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

export_cost_rule!(CostMargin);

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_sdk::testing::{caller, no_prices, usage};

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
        let info = CostMargin::describe();
        assert_eq!(
            (info.name.as_str(), info.kind),
            ("cost-margin", PluginKind::Cost)
        );
        assert!(info.config_schema.is_some());
    }

    #[test]
    fn no_previous_price_is_no_opinion() {
        let c = config::parse(r#"{"margin": {"global": {"fixed_amount": 0.01}}}"#).unwrap();
        assert_eq!(cost_with(&c, &input("openai", None)), CostAnswer::NoOpinion);
        assert_eq!(
            cost_with(&c, &input("openai", Some(f64::NAN))),
            CostAnswer::NoOpinion
        );
        assert!((usd(cost_with(&c, &input("openai", Some(0.02)))) - 0.03).abs() < 1e-15);
    }

    #[test]
    fn nothing_applying_is_no_opinion() {
        let c = config::parse(r#"{"margin": {"openai": 0.1}}"#).unwrap();
        assert_eq!(
            cost_with(&c, &input("anthropic", Some(1.0))),
            CostAnswer::NoOpinion
        );
    }

    #[test]
    fn init_stores_the_config_and_refuses_a_bad_one() {
        CostMargin::init(r#"{"discount": {"gemini": 0.5}}"#.into()).unwrap();
        assert_eq!(
            CostMargin::cost(input("gemini", Some(0.5))).unwrap(),
            CostAnswer::Usd(0.25)
        );
        assert!(matches!(
            CostMargin::init(r#"{"discount": {"gemini": 1.5}}"#.into()),
            Err(PluginError::InvalidConfig(m)) if m.starts_with("discount.gemini")
        ));
    }
}
