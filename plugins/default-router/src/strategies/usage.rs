//! usage-based-routing and usage-based-routing-v2: the least used
//! deployment this minute first, as LiteLLM's lowest-TPM/RPM handlers.
//!
//! LiteLLM skips a deployment that this request would push over its `rpm`
//! or `tpm` limit; here it goes last instead (least over first), so the host
//! can still try it when everything else fails. v1 and v2 differ in LiteLLM
//! only in how usage is counted (v2 through Redis); the host counts usage
//! across replicas for both, so they order alike.
//!
//! Within the limits: lowest `tpm_used`, then lowest `rpm_used`, then the
//! most headroom left (one minus the larger used fraction of the limits set,
//! counting this request), then at random.

use std::cmp::Ordering;

use switchyard_sdk::router::{Candidate, Deployment};
use switchyard_sdk::util::SplitMix64;

use super::draw_ties;
use crate::text::{NAME_MAX, push_clean, push_int};
use crate::tiers::Entry;

const WITHIN: u8 = 0;
const OVER: u8 = 1;

/// How much of its limits `d` would use with this request: whether any is
/// exceeded, and the larger used fraction (1.0 is exactly at a limit).
pub fn load(c: &Candidate, d: &Deployment, estimated_tokens: u64) -> (bool, f64) {
    let mut over = false;
    let mut used = 0.0_f64;
    let after_rpm = c.rpm_used.saturating_add(1);
    let after_tpm = c.tpm_used.saturating_add(estimated_tokens);
    for (after, limit) in [(after_rpm, d.rpm_limit), (after_tpm, d.tpm_limit)] {
        let Some(limit) = limit else { continue };
        over |= after > limit;
        let fraction = if limit > 0 {
            after as f64 / limit as f64
        } else if after > 0 {
            f64::INFINITY
        } else {
            0.0
        };
        used = used.max(fraction);
    }
    (over, used)
}

pub fn order(tier: &mut [Entry], estimated_tokens: u64, rng: &mut SplitMix64) {
    draw_ties(tier, rng);
    for e in tier.iter_mut() {
        let (over, used) = load(e.candidate, e.deployment, estimated_tokens);
        e.rank = if over { OVER } else { WITHIN };
        e.key = used;
    }
    tier.sort_unstable_by(|a, b| a.rank.cmp(&b.rank).then_with(|| compare_same_rank(a, b)));
}

fn compare_same_rank(a: &Entry, b: &Entry) -> Ordering {
    let by_usage = if a.rank == WITHIN {
        let (ca, cb) = (a.candidate, b.candidate);
        ca.tpm_used
            .cmp(&cb.tpm_used)
            .then(ca.rpm_used.cmp(&cb.rpm_used))
    } else {
        Ordering::Equal
    };
    // A lower used fraction is more headroom (within) or less over (over).
    by_usage
        .then(a.key.total_cmp(&b.key))
        .then(a.tie.cmp(&b.tie))
}

/// `1200 tpm, 3 rpm used on gpt4-eu, 1 over limit` or `least over limit:
/// gpt4-eu`.
pub fn describe(out: &mut String, first: &Entry, ordered: &[Entry]) {
    if first.rank == OVER {
        out.push_str("least over limit: ");
        push_clean(out, &first.deployment.id, NAME_MAX);
        return;
    }
    push_int(out, first.candidate.tpm_used);
    out.push_str(" tpm, ");
    push_int(out, first.candidate.rpm_used);
    out.push_str(" rpm used on ");
    push_clean(out, &first.deployment.id, NAME_MAX);
    let over = ordered.iter().filter(|e| e.rank == OVER).count();
    if over > 0 {
        out.push_str(", ");
        push_int(out, over);
        out.push_str(" over limit");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Strategy};
    use crate::route::tests::route_ids_with;
    use crate::route::tests::strategy;
    use crate::testutil::{Dep, cooling, dep};

    fn route(deps: &[Dep], tokens: u64, seed: u64) -> (Vec<String>, String) {
        route_ids_with(&strategy(Strategy::UsageBased), deps, seed, |r| {
            r.estimated_input_tokens = tokens
        })
    }

    #[test]
    fn v1_and_v2_order_alike_and_say_which_they_are() {
        let c = [
            dep("a").used(5, 500),
            dep("b").used(1, 100).rpm(10),
            dep("c").used(1, 100),
        ];
        for s in 0..20 {
            let v1 = route(&c, 10, s);
            let config = Config {
                strategy: Strategy::UsageBasedV2,
                ..Config::default()
            };
            let v2 = route_ids_with(&config, &c, s, |r| r.estimated_input_tokens = 10);
            assert_eq!(v1.0, v2.0);
            assert_eq!(
                v2.1,
                v1.1.replace("usage-based-routing:", "usage-based-routing-v2:")
            );
        }
    }

    #[test]
    fn lowest_tpm_then_lowest_rpm_first() {
        let c = [
            dep("heavy").used(1, 9_000),
            dep("busy").used(40, 100),
            dep("calm").used(2, 100),
        ];
        assert_eq!(
            route(&c, 50, 0),
            (
                vec!["calm".into(), "busy".into(), "heavy".into()],
                "usage-based-routing: 100 tpm, 2 rpm used on calm".into()
            )
        );
    }

    #[test]
    fn headroom_breaks_equal_usage() {
        // Same usage; the bigger limit leaves more headroom.
        let c = [
            dep("small").rpm(10).used(4, 0),
            dep("big").rpm(1_000).used(4, 0),
            dep("free").used(4, 0),
        ];
        for s in 0..20 {
            assert_eq!(route(&c, 0, s).0, ["free", "big", "small"]);
        }
    }

    #[test]
    fn ties_are_broken_by_seed() {
        let c = [dep("a").used(1, 10), dep("b").used(1, 10)];
        assert_eq!(route(&c, 0, 0).0, ["b", "a"]);
        assert_eq!(route(&c, 0, 1).0, ["a", "b"]);
        let a = (0..10_000).filter(|&s| route(&c, 0, s).0[0] == "a").count();
        assert!((4_700..=5_300).contains(&a), "{a}");
    }

    #[test]
    fn over_rpm_limit_goes_last() {
        // rpm_used + 1 > rpm_limit: 10 + 1 > 10.
        let c = [dep("full").rpm(10).used(10, 0), dep("used").used(3, 5_000)];
        assert_eq!(
            route(&c, 0, 0),
            (
                vec!["used".into(), "full".into()],
                "usage-based-routing: 5000 tpm, 3 rpm used on used, 1 over limit".into()
            )
        );
        // One below the limit is still within: 9 + 1 = 10.
        let c = [dep("almost").rpm(10).used(9, 0), dep("used").used(3, 5_000)];
        assert_eq!(route(&c, 0, 0).0, ["almost", "used"]);
    }

    #[test]
    fn over_tpm_limit_counts_this_request() {
        // 900 + 200 > 1000, 900 + 100 = 1000 is within.
        let c = [dep("t").tpm(1_000).used(0, 900), dep("u").used(0, 5_000)];
        assert_eq!(route(&c, 200, 0).0, ["u", "t"]);
        assert_eq!(route(&c, 100, 0).0, ["t", "u"]);
    }

    #[test]
    fn over_limit_ones_are_ascending_by_how_far_over() {
        let c = [
            dep("way-over").rpm(10).used(30, 0),
            dep("zero-limit").tpm(0),
            dep("just-over").tpm(100).used(0, 100),
            dep("bit-over").rpm(10).used(12, 0),
        ];
        assert_eq!(
            route(&c, 5, 0),
            (
                vec![
                    "just-over".into(),
                    "bit-over".into(),
                    "way-over".into(),
                    "zero-limit".into()
                ],
                "usage-based-routing: least over limit: just-over".into()
            )
        );
    }

    #[test]
    fn health_beats_usage() {
        let c = [
            dep("idle-cooling").health(cooling()),
            dep("over").rpm(1).used(1, 0),
        ];
        assert_eq!(
            route(&c, 0, 0),
            (
                vec!["over".into(), "idle-cooling".into()],
                "usage-based-routing: least over limit: over, 1 cooling or unhealthy last".into()
            )
        );
    }

    #[test]
    fn load_fractions() {
        let (table, req) = crate::testutil::fixture(vec![dep("x").rpm(4).tpm(100).used(1, 20)], 0);
        let (c, d) = (&req.candidates[0], &table[1]);
        assert_eq!(load(c, d, 30), (false, 0.5));
        assert_eq!(load(c, d, 80), (false, 1.0));
        assert_eq!(load(c, d, 81), (true, 1.01));
        let (table, req) = crate::testutil::fixture(vec![dep("y").tpm(0)], 0);
        assert_eq!(load(&req.candidates[0], &table[1], 0), (false, 0.0));
        assert_eq!(
            load(&req.candidates[0], &table[1], 1),
            (true, f64::INFINITY)
        );
        let (table, req) = crate::testutil::fixture(vec![dep("z").used(u64::MAX, u64::MAX)], 0);
        assert_eq!(load(&req.candidates[0], &table[1], 9), (false, 0.0));
    }
}
