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
