//! Writing a served call down, the same way for a whole answer and for a
//! stream that has ended: the deployment's live state (latency, time to
//! first token, tokens this minute), the price through the cost rules, and
//! the log line.

use std::sync::Arc;
use std::time::Duration;

use crate::config::{Config, Deployment};
use crate::plugins::ActiveSet;
use crate::plugins::bindings::types::{Caller, Usage};
use crate::state::State;

use super::{Gateway, cost};
use crate::ledger::Ledger;

/// What a call is recorded against. It owns what it needs, so a stream can
/// carry it past the handler's return.
pub(super) struct Books {
    live: Arc<State>,
    config: Arc<Config>,
    set: Arc<ActiveSet>,
    pub(super) deployment: Arc<Deployment>,
    caller: Arc<Caller>,
    ledger: Arc<Ledger>,
}

impl Books {
    pub fn new(
        gateway: &Gateway,
        set: &Arc<ActiveSet>,
        d: &Arc<Deployment>,
        caller: &Arc<Caller>,
        ledger: &Arc<Ledger>,
    ) -> Books {
        Books {
            live: gateway.state.clone(),
            config: gateway.config.clone(),
            set: set.clone(),
            deployment: d.clone(),
            caller: caller.clone(),
            ledger: ledger.clone(),
        }
    }

    /// Records a finished call: `latency` (`None` for a stream that broke
    /// off: a short sample would make latency routing favour a deployment
    /// that fails fast), `ttft` for streams, and the usage, priced;
    /// `estimated` when the gateway counted the tokens itself (the provider
    /// reported none).
    pub fn record(
        &self,
        latency: Option<Duration>,
        ttft: Option<Duration>,
        usage: Option<&Usage>,
        estimated: bool,
    ) {
        let d = &self.deployment;
        let tokens = usage.map_or(0, |u| u.input_tokens + u.output_tokens);
        self.live.finish(d, latency, ttft, tokens);
        let cost = usage.and_then(|usage| {
            cost::price(
                &self.set,
                &self.config.plugins.cost_rules,
                d,
                usage,
                &self.caller,
            )
            .usd
        });
        // A stream with no latency broke off or lost its client.
        let complete = latency.is_some() || ttft.is_none();
        self.ledger
            .served(d, usage, cost, estimated, complete, ttft);
        if let Some(usage) = usage {
            tracing::info!(
                deployment = %d.id,
                streamed = ttft.is_some(),
                input_tokens = usage.input_tokens,
                output_tokens = usage.output_tokens,
                cost_usd = ?cost,
                estimated,
                "call completed"
            );
        }
    }
}
