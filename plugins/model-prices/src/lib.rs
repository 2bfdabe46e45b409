//! `model-prices`: prices a call from its deployment's per-token prices
//! (LiteLLM's `model_info`), or from a default price table, or from the
//! providers' list prices of widely used models, then applies a
//! per-team markup and discount.
//!
//! Every token class has its price: uncached input, cache reads and cache
//! writes (each at the input price when it has none of its own), output,
//! and reasoning (at the output price when it has none of its own). A call
//! whose input exceeds a long-context threshold is priced at the
//! `*_above_<N>k_tokens` prices as a whole ([`tiers`]). A call with no
//! price gets no opinion, never 0.
//!
//! If an earlier rule in the chain already priced the call (`previous`), that
//! price is kept and only the team markup and discount apply, so a custom
//! pricing rule placed before this one is never overridden.

mod config;
mod factor;
mod list_prices;
mod pricing;
mod tiers;

use config::Config;
use pricing::{Rates, Unpriced};
use switchyard_sdk::prelude::*;

/// The cost rule: its config, kept per instance by the SDK.
pub struct ModelPrices {
    config: Config,
}

impl Plugin for ModelPrices {
    type Config = Config;
    const NAME: &'static str = "model-prices";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: Option<&'static str> = Some(
        "Per-token prices (cache reads and writes, reasoning, long-context tiers) from model_info, a default table or list prices, with per-team markups and discounts",
    );

    fn new(config: Config) -> Result<Self, PluginError> {
        config.check()?;
        Ok(ModelPrices { config })
    }
}

impl CostRule for ModelPrices {
    fn cost(&self, input: CostInput) -> Result<CostAnswer, PluginError> {
        Ok(cost_with(&self.config, &input))
    }
}

/// The deployment's prices, falling back to the default table (by
/// `provider/model`, then `model`) when it has no input or output price.
fn rates(config: &Config, input: &CostInput) -> Rates {
    let own = Rates::from_prices(&input.prices);
    if own.has_token_prices() {
        return own;
    }
    let qualified = format!("{}/{}", input.provider, input.model);
    let configured = config
        .default_prices
        .get(&qualified)
        .or_else(|| config.default_prices.get(&input.model));
    match configured {
        Some(entry) => Rates::from_entry(entry).overlaid_with(own),
        None => match config
            .list_prices
            .then(|| list_prices::lookup(&input.provider, &input.model))
            .flatten()
        {
            Some(listed) => listed.overlaid_with(own),
            None => own,
        },
    }
}

/// Prices one call with `config`.
pub fn cost_with(config: &Config, input: &CostInput) -> CostAnswer {
    let base = match input.previous {
        Some(previous) => previous,
        None => match pricing::cost(&rates(config, input), &input.usage) {
            Ok(usd) => usd,
            Err(why) => {
                let why = match why {
                    Unpriced::NoPrices => "no input or output price is known".to_string(),
                    Unpriced::Missing(what) => format!("{what} tokens were used but have no price"),
                };
                switchyard_sdk::log::debug(&format!(
                    "no opinion on {}/{} (deployment {}): {why}",
                    input.provider, input.model, input.deployment_id
                ));
                return CostAnswer::NoOpinion;
            }
        },
    };
    let team = input.caller.team.as_deref();
    let markup = config.markup.for_team(team).unwrap_or(1.0);
    let discount = config.discount.for_team(team).unwrap_or(0.0);
    CostAnswer::Usd(base * markup * (1.0 - discount))
}

switchyard_sdk::export!(cost ModelPrices);

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_sdk::testing::{caller, no_prices, usage};
    use switchyard_sdk::typed::from_json;
    use switchyard_sdk::types::{Caller, PluginKind, Prices};

    fn config(json: &str) -> Config {
        from_json::<ModelPrices>(json).unwrap().config
    }

    fn prices(input: Option<f64>, output: Option<f64>) -> Prices {
        Prices {
            input_per_token: input,
            output_per_token: output,
            ..no_prices()
        }
    }

    fn input(prices: Prices, team: Option<&str>, previous: Option<f64>) -> CostInput {
        CostInput {
            model_group: "gpt-4o".into(),
            deployment_id: "d1".into(),
            provider: "openai".into(),
            model: "gpt-4o".into(),
            prices,
            usage: usage(1000, 200),
            caller: Caller {
                team: team.map(str::to_string),
                ..caller()
            },
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

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
    }

    #[test]
    fn describe() {
        let info = switchyard_sdk::typed::describe::<ModelPrices>(PluginKind::Cost, &[]);
        assert_eq!(
            (info.name.as_str(), info.kind),
            ("model-prices", PluginKind::Cost)
        );
        assert!(info.config_schema.unwrap().contains("input_cost_per_token"));
        assert!(info.description.is_some());
    }

    #[test]
    fn deployment_prices() {
        let c = Config::default();
        assert!(close(
            usd(cost_with(
                &c,
                &input(prices(Some(2.5e-6), Some(1e-5)), None, None)
            )),
            0.0045
        ));
        // No price anywhere: no opinion.
        let off = Config {
            list_prices: false,
            ..Config::default()
        };
        assert_eq!(
            cost_with(&off, &input(prices(None, None), None, None)),
            CostAnswer::NoOpinion
        );
        // Unless the model has a list price (on by default).
        assert!(close(
            usd(cost_with(&c, &input(prices(None, None), None, None))),
            1000.0 * 2.5e-6 + 200.0 * 10e-6
        ));
    }

    #[test]
    fn default_table() {
        let c = config(
            r#"{"default_prices":{"openai/gpt-4o":{"input_per_token":1e-6,"output_per_token":2e-6},"gpt-4o":{"input_per_token":5e-6,"output_per_token":5e-6},"other":{"input_per_token":1}}}"#,
        );
        // provider/model first.
        assert!(close(
            usd(cost_with(&c, &input(prices(None, None), None, None))),
            1000.0 * 1e-6 + 200.0 * 2e-6
        ));
        // then the bare model.
        let mut i = input(prices(None, None), None, None);
        i.provider = "azure".into();
        assert!(close(usd(cost_with(&c, &i)), 1200.0 * 5e-6));
        // the deployment's own prices win.
        assert!(close(
            usd(cost_with(
                &c,
                &input(prices(Some(1e-7), Some(1e-7)), None, None)
            )),
            1200.0 * 1e-7
        ));
        // a deployment's other prices overlay the table's.
        let mut p = prices(None, None);
        p.per_request = Some(0.5);
        assert!(close(
            usd(cost_with(&c, &input(p, None, None))),
            0.5 + 1000.0 * 1e-6 + 200.0 * 2e-6
        ));
    }

    #[test]
    fn long_context_list_prices() {
        let mut i = input(prices(None, None), None, None);
        i.provider = "gemini".into();
        i.model = "gemini-2.5-pro".into();
        i.usage = usage(250_000, 1000);
        assert!(close(
            usd(cost_with(&Config::default(), &i)),
            250_000.0 * 2.5e-6 + 1000.0 * 15e-6
        ));
        i.usage = usage(150_000, 1000);
        assert!(close(
            usd(cost_with(&Config::default(), &i)),
            150_000.0 * 1.25e-6 + 1000.0 * 10e-6
        ));
    }

    #[test]
    fn a_deployments_long_context_prices_overlay_the_tables() {
        let mut p = prices(None, None);
        p.extra = vec![switchyard_sdk::types::Field {
            key: "input_cost_per_token_above_200k_tokens".into(),
            value: "5e-6".into(),
        }];
        let mut i = input(p, None, None);
        i.provider = "gemini".into();
        i.model = "gemini-2.5-pro".into();
        i.usage = usage(250_000, 1000);
        // The deployment's tier replaces the listed one: its output has no
        // long-context price, so output keeps the base list price.
        assert!(close(
            usd(cost_with(&Config::default(), &i)),
            250_000.0 * 5e-6 + 1000.0 * 10e-6
        ));
    }

    #[test]
    fn markup_and_discount() {
        let c = config(
            r#"{"markup":{"teams":{"t1":1.2}},"discount":{"default":0.1,"teams":{"t2":0.5}}}"#,
        );
        let p = || prices(Some(2.5e-6), Some(1e-5));
        assert!(close(
            usd(cost_with(&c, &input(p(), Some("t1"), None))),
            0.0045 * 1.2 * 0.9
        ));
        assert!(close(
            usd(cost_with(&c, &input(p(), Some("t2"), None))),
            0.0045 * 0.5
        ));
        assert!(close(
            usd(cost_with(&c, &input(p(), None, None))),
            0.0045 * 0.9
        ));
    }

    #[test]
    fn previous_is_kept_and_adjusted() {
        let c = config(r#"{"markup":{"teams":{"t1":2}}}"#);
        assert!(close(
            usd(cost_with(
                &c,
                &input(prices(None, None), Some("t1"), Some(0.01))
            )),
            0.02
        ));
        assert!(close(
            usd(cost_with(
                &c,
                &input(prices(Some(1.0), Some(1.0)), None, Some(0.01))
            )),
            0.01
        ));
    }

    #[test]
    fn the_value_built_from_json_prices_with_its_config() {
        let rule: ModelPrices = from_json(r#"{"markup":{"default":3}}"#).unwrap();
        assert!(close(
            usd(rule
                .cost(input(prices(Some(2.5e-6), Some(1e-5)), None, None))
                .unwrap()),
            0.0135
        ));
        let err = from_json::<ModelPrices>(r#"{"discount":{"default":2}}"#).err();
        assert!(
            matches!(&err, Some(PluginError::InvalidConfig(m))
                if m.starts_with("discount.default: 2 is greater than the maximum of 1")),
            "{err:?}"
        );
    }
}
