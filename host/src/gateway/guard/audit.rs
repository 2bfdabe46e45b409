//! Audit mode: what a sanitiser would have denied or rewritten, reported
//! and not acted on. One warning per verdict (the plugin, the stage, what
//! it would have done; never the text) and a counter,
//! `switchyard_sanitizer_audit_total{plugin, stage, verdict}`, rendered on
//! `/metrics` beside the plugin families.

use std::fmt;
use std::sync::LazyLock;

use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;

use crate::observe::metrics::cells::Count;
use crate::observe::metrics::family::Family;
use crate::plugins::bindings::sanitizer_api::Verdict;

/// plugin, stage, verdict. Bounded: plugin names are the config's, stages
/// and verdicts two each.
static AUDITS: LazyLock<Family<3, Count>> = LazyLock::new(|| Family::new(Count::default, 1_000));

/// Reports a deny or rewrite an audited sanitiser would have made.
pub fn report(plugin: &str, stage: &str, verdict: &Verdict) {
    let (what, reason) = match verdict {
        Verdict::Allow => return,
        Verdict::Deny(reason) => ("deny", Some(reason.as_str())),
        Verdict::Rewrite(_) => ("rewrite", None),
    };
    tracing::warn!(
        plugin,
        stage,
        would = what,
        reason = reason.unwrap_or(""),
        "audit mode: sanitizer would have {}",
        if what == "deny" {
            "denied"
        } else {
            "rewritten"
        }
    );
    AUDITS.with([plugin, stage, what], Count::inc);
}

/// How many times `plugin` would have given `verdict` at `stage`.
pub fn count(plugin: &str, stage: &str, verdict: &str) -> u64 {
    AUDITS.with([plugin, stage, verdict], Count::get)
}

/// Writes the family (empty until an audited sanitiser disagrees).
pub fn encode(enc: &mut DescriptorEncoder) -> fmt::Result {
    let mut m = enc.encode_descriptor(
        "switchyard_sanitizer_audit",
        "Denies and rewrites a sanitiser in audit mode would have made",
        None,
        MetricType::Counter,
    )?;
    for e in AUDITS.entries() {
        let n = e.series.get();
        if n == 0 {
            continue;
        }
        let labels: Vec<(&str, &str)> = vec![
            ("plugin", &*e.values[0]),
            ("stage", &*e.values[1]),
            ("verdict", &*e.values[2]),
        ];
        let mut s = m.encode_family(&labels)?;
        e.series.encode(&mut s)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_counts_once_per_verdict_and_allow_not_at_all() {
        let p = "audit-unit-test";
        report(p, "request", &Verdict::Deny("no".into()));
        report(p, "response", &Verdict::Rewrite(Vec::new()));
        report(p, "response", &Verdict::Rewrite(Vec::new()));
        report(p, "response", &Verdict::Allow);
        assert_eq!(count(p, "request", "deny"), 1);
        assert_eq!(count(p, "response", "rewrite"), 2);
        assert_eq!(count(p, "response", "allow"), 0);
    }
}
