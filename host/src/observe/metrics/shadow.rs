//! Shadow rollouts' families, read at scrape from each shadow's counts
//! (running ones, and ended ones whose counts stay):
//!
//! - `switchyard_plugin_shadow_calls_total{plugin,outcome}`: `agree`,
//!   `disagree`, `error` (the candidate failed), `dropped` (queue full).
//! - `switchyard_plugin_shadow_disagreements_total{plugin,kind}`.
//! - `switchyard_plugin_shadow_errors_total{plugin,error}`.
//! - `switchyard_plugin_shadow_call_duration_seconds{plugin,side}`: the
//!   live and the candidate plugin's time on the compared calls.

use std::fmt;

use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;

use super::render::{counter, family, timing};
use crate::plugins::shadow;

pub fn encode(enc: &mut DescriptorEncoder) -> fmt::Result {
    let all = shadow::all();
    family(
        enc,
        "switchyard_plugin_shadow_calls",
        "Live plugin calls sampled for its shadow candidate, by outcome: agree, disagree, error (the candidate failed), dropped (its queue was full)",
        MetricType::Counter,
        all.iter().flat_map(|(name, s)| {
            let st = s.stats();
            [
                ("agree", st.agree.get()),
                ("disagree", st.disagree.get()),
                ("error", st.errors.get()),
                ("dropped", st.dropped.get()),
            ]
            .into_iter()
            .map(move |(outcome, n)| (vec![("plugin", name.as_str()), ("outcome", outcome)], n))
        }),
        counter,
    )?;
    let by_kind: Vec<(&str, Vec<(&'static str, u64)>)> = all
        .iter()
        .map(|(n, s)| {
            (
                n.as_str(),
                s.stats().disagreements_by_kind().into_iter().collect(),
            )
        })
        .collect();
    family(
        enc,
        "switchyard_plugin_shadow_disagreements",
        "Disagreements between a live plugin and its shadow candidate, by kind (order, model_group, verdict, rewrite, method, url, headers, body, outbound, response, price)",
        MetricType::Counter,
        by_kind.iter().flat_map(|(name, kinds)| {
            kinds
                .iter()
                .map(move |(k, n)| (vec![("plugin", *name), ("kind", *k)], *n))
        }),
        counter,
    )?;
    let errors: Vec<(&str, Vec<(&'static str, u64)>)> = all
        .iter()
        .map(|(n, s)| (n.as_str(), s.stats().errors_by_kind().into_iter().collect()))
        .collect();
    family(
        enc,
        "switchyard_plugin_shadow_errors",
        "Failed shadow candidate calls by kind: trap, timeout, memory, bad_output, error (the plugin's own)",
        MetricType::Counter,
        errors.iter().flat_map(|(name, kinds)| {
            kinds
                .iter()
                .map(move |(k, n)| (vec![("plugin", *name), ("error", *k)], *n))
        }),
        counter,
    )?;
    family(
        enc,
        "switchyard_plugin_shadow_call_duration_seconds",
        "Time of one plugin call on the calls compared, by side: live or candidate",
        MetricType::Histogram,
        all.iter().flat_map(|(name, s)| {
            let st = s.stats();
            [("live", &st.live_time), ("candidate", &st.candidate_time)]
                .into_iter()
                .map(move |(side, t)| (vec![("plugin", name.as_str()), ("side", side)], t))
        }),
        timing,
    )
}
