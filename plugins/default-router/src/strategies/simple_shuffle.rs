//! simple-shuffle: a weighted random order, drawn without replacement.
//!
//! LiteLLM picks one deployment at random in proportion to its weight; the
//! host needs a whole order for retries, so the pick is repeated over the
//! ones left. Unchanged from the first version of this plugin: a given seed
//! and candidate list give the same order as before the contract changed.

use switchyard_sdk::router::Deployment;
use switchyard_sdk::util::SplitMix64;

use crate::tiers::Entry;

/// Where a deployment's weight comes from. The first of `weight`, `rpm`,
/// `tpm` that any candidate sets is used for all of them, as LiteLLM does;
/// a candidate without it weighs 0 (it goes after those that have one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    Weight,
    Rpm,
    Tpm,
    Equal,
}

impl Basis {
    /// The basis for a request's candidates (all bands and tiers at once,
    /// so every tier is weighed the same way).
    pub fn of(entries: &[Entry]) -> Basis {
        let any = |f: fn(&Deployment) -> bool| entries.iter().any(|e| f(e.deployment));
        if any(|d| d.weight.is_some()) {
            Basis::Weight
        } else if any(|d| d.rpm_limit.is_some()) {
            Basis::Rpm
        } else if any(|d| d.tpm_limit.is_some()) {
            Basis::Tpm
        } else {
            Basis::Equal
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Basis::Weight => "weighted by weight",
            Basis::Rpm => "weighted by rpm",
            Basis::Tpm => "weighted by tpm",
            Basis::Equal => "equal weights",
        }
    }

    /// The deployment's weight; negative or non-finite values count as 0.
    pub fn weight(self, d: &Deployment) -> f64 {
        let w = match self {
            Basis::Weight => d.weight.unwrap_or(0.0),
            Basis::Rpm => d.rpm_limit.map_or(0.0, |v| v as f64),
            Basis::Tpm => d.tpm_limit.map_or(0.0, |v| v as f64),
            Basis::Equal => 1.0,
        };
        if w.is_finite() && w > 0.0 { w } else { 0.0 }
    }
}

/// Orders one tier by repeated weighted draws: the chance to come next is
/// the weight over the total left. When only zero weights remain they are
/// drawn uniformly. Each draw moves the winner to the front of what is left
/// with a rotation, which keeps the others in their order (the draws depend
/// on it), without allocating.
pub fn order(tier: &mut [Entry], basis: Basis, rng: &mut SplitMix64) {
    for e in tier.iter_mut() {
        e.key = basis.weight(e.deployment);
    }
    for next in 0..tier.len() {
        let left = &tier[next..];
        let total: f64 = left.iter().map(|e| e.key).sum();
        let pick = if total > 0.0 {
            let target = rng.next_f64() * total;
            let mut acc = 0.0;
            let mut chosen = None;
            let mut last_positive = 0;
            for (pos, e) in left.iter().enumerate() {
                if e.key <= 0.0 {
                    continue;
                }
                last_positive = pos;
                acc += e.key;
                if target < acc {
                    chosen = Some(pos);
                    break;
                }
            }
            // Rounding can leave `target` a hair above the sum.
            chosen.unwrap_or(last_positive)
        } else {
            rng.below(left.len())
        };
        tier[next..=next + pick].rotate_right(1);
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Strategy;
    use crate::route::tests::strategy;
    use crate::testutil::{Dep, cooling, dep, unhealthy};

    fn route(deps: &[Dep], seed: u64) -> (Vec<String>, String) {
        crate::route::tests::route_ids(&strategy(Strategy::SimpleShuffle), deps, seed)
    }

    fn first_share(deps: &[Dep], id: &str, runs: u64) -> f64 {
        let n = (0..runs).filter(|&s| route(deps, s).0[0] == id).count();
        n as f64 / runs as f64
    }

    #[test]
    fn fixed_seeds_give_the_orders_the_cases_pin() {
        let c = [
            dep("a").weight(1.0),
            dep("b").weight(2.0),
            dep("c").weight(3.0),
        ];
        assert_eq!(route(&c, 7).0, ["b", "a", "c"]);
        assert_eq!(route(&c, 8).0, ["c", "b", "a"]);
        let c = [dep("a"), dep("b"), dep("c"), dep("d")];
        assert_eq!(
            route(&c, 42),
            (
                vec!["c".into(), "a".into(), "b".into(), "d".into()],
                "simple-shuffle: equal weights".into()
            )
        );
    }

    #[test]
    fn weight_three_to_one_is_first_about_three_quarters_of_the_time() {
        let c = [dep("a").weight(3.0), dep("b").weight(1.0)];
        let share = first_share(&c, "a", 10_000);
        assert!((0.73..=0.77).contains(&share), "a first in {share}");
    }

    #[test]
    fn rpm_is_the_fallback_then_tpm() {
        let c = [dep("a").rpm(900), dep("b").rpm(100)];
        let share = first_share(&c, "a", 10_000);
        assert!((0.88..=0.92).contains(&share), "{share}");
        assert_eq!(route(&c, 1).1, "simple-shuffle: weighted by rpm");
        let c = [dep("a").tpm(10), dep("b")];
        assert_eq!(
            route(&c, 1),
            (
                vec!["a".into(), "b".into()],
                "simple-shuffle: weighted by tpm".into()
            )
        );
        // weight wins over rpm when both are set anywhere.
        let c = [dep("a").rpm(5), dep("b").weight(1.0)];
        assert_eq!(
            route(&c, 1),
            (
                vec!["b".into(), "a".into()],
                "simple-shuffle: weighted by weight".into()
            )
        );
    }

    #[test]
    fn equal_weights_are_roughly_uniform() {
        let c = [dep("a"), dep("b"), dep("c")];
        for id in ["a", "b", "c"] {
            let share = first_share(&c, id, 9_000);
            assert!((0.30..=0.367).contains(&share), "{id}: {share}");
        }
    }

    #[test]
    fn zero_and_missing_weights_go_after_positive_ones() {
        let c = [
            dep("z").weight(0.0),
            dep("n"),
            dep("w").weight(1.0),
            dep("bad").weight(f64::NAN),
            dep("neg").weight(-3.0),
        ];
        for s in 0..200 {
            let (order, _) = route(&c, s);
            assert_eq!(order[0], "w");
            assert_eq!(order.len(), 5);
        }
    }

    #[test]
    fn only_zero_weights_are_drawn_uniformly() {
        let c = [dep("x").weight(1.0), dep("a").order(1), dep("b").order(1)];
        let share = first_share(&c, "a", 10_000);
        assert!((0.47..=0.53).contains(&share), "{share}");
    }

    #[test]
    fn unavailable_candidates_come_last_weighted_among_themselves() {
        let c = [
            dep("cool").weight(100.0).health(cooling()),
            dep("ok1"),
            dep("sick").health(unhealthy()),
            dep("ok2"),
        ];
        for s in 0..2_000 {
            let (order, reason) = route(&c, s);
            let mut head = order[..2].to_vec();
            head.sort_unstable();
            assert_eq!(head, ["ok1", "ok2"]);
            // Their weights still count among themselves (100 vs 0).
            assert_eq!(order[2..], ["cool", "sick"]);
            assert_eq!(
                reason,
                "simple-shuffle: weighted by weight, 2 cooling or unhealthy last"
            );
        }
    }

    #[test]
    fn lower_order_tiers_first_and_unset_order_last() {
        let c = [
            dep("none").weight(1000.0),
            dep("t2a").order(2),
            dep("t1").order(1),
            dep("t2b").order(2),
        ];
        let mut seen_a_first = false;
        for s in 0..500 {
            let (order, _) = route(&c, s);
            assert_eq!(order[0], "t1");
            let mut mid = order[1..3].to_vec();
            seen_a_first |= mid[0] == "t2a";
            mid.sort_unstable();
            assert_eq!(mid, ["t2a", "t2b"]);
            assert_eq!(order[3], "none");
        }
        assert!(seen_a_first);
    }

    #[test]
    fn every_candidate_appears_exactly_once() {
        let c: Vec<Dep> = (0..7)
            .map(|i| dep(&format!("d{i}")).weight(i as f64))
            .collect();
        for s in 0..500 {
            let (mut order, _) = route(&c, s);
            order.sort_unstable();
            let want: Vec<String> = (0..7).map(|i| format!("d{i}")).collect();
            assert_eq!(order, want);
        }
    }
}
