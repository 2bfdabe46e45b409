//! Pricing a call through the configured chain of cost rules.

use crate::config::Deployment;
use crate::plugins::ActiveSet;
use crate::plugins::bindings::cost_api::{CostAnswer, CostInput};
use crate::plugins::bindings::types::{Caller, Usage};

/// A price from the chain of rules.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Priced {
    /// The cost in USD, or `None` when no rule priced the call.
    pub usd: Option<f64>,
    /// Every rule was loaded and answered (none failed or was skipped).
    pub complete: bool,
}

/// The call's cost. A rule that fails is logged and skipped: pricing
/// never fails a request that was answered.
pub fn price(
    set: &ActiveSet,
    rules: &[String],
    d: &Deployment,
    usage: &Usage,
    caller: &Caller,
) -> Priced {
    let mut cost = None;
    let mut complete = true;
    for name in rules {
        let Some(rule) = set.get(name) else {
            tracing::warn!(rule = %name, "cost rule is configured but not loaded");
            complete = false;
            continue;
        };
        let input = CostInput {
            model_group: d.group.clone(),
            deployment_id: d.id.clone(),
            provider: d.provider.clone(),
            model: d.model.clone(),
            prices: super::views::prices(&d.prices),
            usage: usage.clone(),
            caller: caller.clone(),
            previous: cost,
            extra: Vec::new(),
        };
        match rule.cost(&input) {
            Ok(CostAnswer::Usd(usd)) => cost = Some(usd),
            Ok(CostAnswer::NoOpinion) => {}
            Err(e) => {
                tracing::warn!(error = %e, "cost rule failed; skipped");
                complete = false;
            }
        }
    }
    Priced {
        usd: cost,
        complete,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Config;

    #[test]
    fn a_rule_that_is_not_loaded_leaves_the_price_incomplete() {
        let config = Config::parse(
            "model_list:\n  - model_name: g\n    litellm_params: {model: openai/gpt-4o}\n",
            Path::new("."),
        )
        .unwrap();
        let d = &config.group("g").unwrap().deployments[0];
        let caller = Caller {
            key_alias: None,
            user: None,
            team: None,
            tags: Vec::new(),
            tier: None,
            metadata: Vec::new(),
        };
        let usage = Usage {
            input_tokens: 10,
            output_tokens: 5,
            cache_read_tokens: 0,
            cache_write_tokens: 0,
            reasoning_tokens: 0,
            extra: Vec::new(),
        };
        let set = ActiveSet::default();
        let none: [String; 0] = [];
        assert_eq!(
            price(&set, &none, d, &usage, &caller),
            Priced {
                usd: None,
                complete: true
            }
        );
        assert_eq!(
            price(&set, &["model-prices".to_string()], d, &usage, &caller),
            Priced {
                usd: None,
                complete: false
            }
        );
    }
}
