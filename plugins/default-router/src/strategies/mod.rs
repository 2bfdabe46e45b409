//! LiteLLM's routing strategies, each ordering the candidates of one tier
//! (see [`crate::tiers`]) in place.
//!
//! Every strategy draws what randomness it needs from one SplitMix64 seeded
//! with the request's `seed`, tier after tier in a fixed order, so the same
//! request and seed always give the same answer; strategies that rank break
//! ties with a random number per candidate, which makes tied candidates
//! equally likely in every position.

pub mod cost;
pub mod latency;
pub mod least_busy;
pub mod simple_shuffle;
pub mod usage;

use switchyard_sdk::router::RouteRequest;
use switchyard_sdk::util::SplitMix64;

use crate::config::{Config, Strategy};
use crate::tiers::Entry;
use latency::Latency;
use simple_shuffle::Basis;

/// A strategy with what it needs to know about this request.
#[derive(Debug, Clone, Copy)]
pub enum Plan {
    SimpleShuffle(Basis),
    LeastBusy,
    Latency(Latency),
    Usage { estimated_tokens: u64 },
    Cost,
}

impl Plan {
    /// Prepares `config.strategy` for `req`, whose candidates (after tag
    /// filtering) are `entries`.
    pub fn new(config: &Config, req: &RouteRequest, entries: &[Entry]) -> Plan {
        match config.strategy {
            Strategy::SimpleShuffle => Plan::SimpleShuffle(Basis::of(entries)),
            Strategy::LeastBusy => Plan::LeastBusy,
            Strategy::LatencyBased => Plan::Latency(Latency {
                buffer: config.lowest_latency_buffer,
                stream: req.request.stream,
            }),
            Strategy::UsageBased | Strategy::UsageBasedV2 => Plan::Usage {
                estimated_tokens: req.estimated_input_tokens,
            },
            Strategy::CostBased => Plan::Cost,
        }
    }

    /// Orders the candidates of one tier, best first.
    pub fn order_tier(&self, tier: &mut [Entry], rng: &mut SplitMix64) {
        match *self {
            Plan::SimpleShuffle(basis) => simple_shuffle::order(tier, basis, rng),
            Plan::LeastBusy => least_busy::order(tier, rng),
            Plan::Latency(latency) => latency.order(tier, rng),
            Plan::Usage { estimated_tokens } => usage::order(tier, estimated_tokens, rng),
            Plan::Cost => cost::order(tier, rng),
        }
    }

    /// Appends why `ordered[0]` comes first (after the `strategy: ` prefix).
    /// `ordered` is every candidate, already ordered, and not empty.
    pub fn describe(&self, out: &mut String, ordered: &[Entry]) {
        let Some(first) = ordered.first() else {
            return;
        };
        match *self {
            Plan::SimpleShuffle(basis) => out.push_str(basis.label()),
            Plan::LeastBusy => least_busy::describe(out, first),
            Plan::Latency(latency) => latency.describe(out, first, ordered),
            Plan::Usage { .. } => usage::describe(out, first, ordered),
            Plan::Cost => cost::describe(out, first),
        }
    }
}

/// Gives every entry of `tier` a fresh random tie-breaker.
pub fn draw_ties(tier: &mut [Entry], rng: &mut SplitMix64) {
    for e in tier {
        e.tie = rng.next_u64();
    }
}
