//! simple-shuffle: a weighted random order of the candidates, without
//! replacement, healthy deployments first and lower `order` tiers first.

use switchyard_sdk::router::{Deployment, Health};
use switchyard_sdk::util::SplitMix64;

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
    pub fn of(candidates: &[Deployment]) -> Basis {
        if candidates.iter().any(|d| d.weight.is_some()) {
            Basis::Weight
        } else if candidates.iter().any(|d| d.rpm_limit.is_some()) {
            Basis::Rpm
        } else if candidates.iter().any(|d| d.tpm_limit.is_some()) {
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

/// Whether a deployment is serving normally. Cooling-down, unhealthy and
/// states this version does not name are tried only after the healthy ones.
pub fn is_available(d: &Deployment) -> bool {
    matches!(d.health, Health::Healthy)
}

/// Orders `items` (index, weight) by repeated weighted draws without
/// replacement: the chance to come next is the weight over the remaining
/// total. When only zero weights remain they are drawn uniformly.
pub fn weighted_order(mut items: Vec<(usize, f64)>, rng: &mut SplitMix64, out: &mut Vec<usize>) {
    while !items.is_empty() {
        let total: f64 = items.iter().map(|(_, w)| w).sum();
        let pick = if total > 0.0 {
            let target = rng.next_f64() * total;
            let mut acc = 0.0;
            let mut chosen = None;
            let mut last_positive = 0;
            for (pos, (_, w)) in items.iter().enumerate() {
                if *w <= 0.0 {
                    continue;
                }
                last_positive = pos;
                acc += w;
                if target < acc {
                    chosen = Some(pos);
                    break;
                }
            }
            // Rounding can leave `target` a hair above the sum.
            chosen.unwrap_or(last_positive)
        } else {
            rng.below(items.len())
        };
        out.push(items.remove(pick).0);
    }
}

/// The tier key of a deployment: set `order`s ascending, unset last.
fn tier(d: &Deployment) -> (bool, u32) {
    (d.order.is_none(), d.order.unwrap_or(0))
}

/// The order to try `candidates` in, as indices, and the basis used.
pub fn simple_shuffle(candidates: &[Deployment], seed: u64) -> (Vec<usize>, Basis) {
    let basis = Basis::of(candidates);
    let mut rng = SplitMix64::new(seed);
    let mut out = Vec::with_capacity(candidates.len());
    for available in [true, false] {
        let mut group: Vec<usize> = (0..candidates.len())
            .filter(|&i| is_available(&candidates[i]) == available)
            .collect();
        // Stable sort: within a tier candidates keep the config's order
        // before shuffling, so a seed always gives the same answer.
        group.sort_by_key(|&i| tier(&candidates[i]));
        let mut start = 0;
        while start < group.len() {
            let key = tier(&candidates[group[start]]);
            let end = group[start..]
                .iter()
                .position(|&i| tier(&candidates[i]) != key)
                .map_or(group.len(), |n| start + n);
            let items = group[start..end]
                .iter()
                .map(|&i| (i, basis.weight(&candidates[i])))
                .collect();
            weighted_order(items, &mut rng, &mut out);
            start = end;
        }
    }
    (out, basis)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{DepExt, dep};

    #[test]
    fn weight_three_to_one_is_first_about_three_quarters_of_the_time() {
        let c = vec![dep("a").weight(3.0), dep("b").weight(1.0)];
        let firsts = (0..10_000u64)
            .filter(|&s| simple_shuffle(&c, s).0[0] == 0)
            .count();
        let share = firsts as f64 / 10_000.0;
        assert!((0.73..=0.77).contains(&share), "a first in {share}");
    }

    #[test]
    fn rpm_is_the_fallback_then_tpm() {
        let c = vec![dep("a").rpm(900), dep("b").rpm(100)];
        assert_eq!(Basis::of(&c), Basis::Rpm);
        let firsts = (0..10_000u64)
            .filter(|&s| simple_shuffle(&c, s).0[0] == 0)
            .count();
        assert!((8_800..=9_200).contains(&firsts), "{firsts}");
        let c = vec![dep("a").tpm(10), dep("b")];
        assert_eq!(Basis::of(&c), Basis::Tpm);
        assert_eq!(Basis::of(&[dep("a"), dep("b")]), Basis::Equal);
        // weight wins over rpm when both are set anywhere.
        assert_eq!(
            Basis::of(&[dep("a").rpm(5), dep("b").weight(1.0)]),
            Basis::Weight
        );
    }

    #[test]
    fn equal_weights_are_roughly_uniform() {
        let c = vec![dep("a"), dep("b"), dep("c")];
        let mut counts = [0usize; 3];
        for s in 0..9_000u64 {
            counts[simple_shuffle(&c, s).0[0]] += 1;
        }
        for n in counts {
            assert!((2_700..=3_300).contains(&n), "{counts:?}");
        }
    }

    #[test]
    fn zero_and_missing_weights_go_after_positive_ones() {
        let c = vec![
            dep("z").weight(0.0),
            dep("n"),
            dep("w").weight(1.0),
            dep("bad").weight(f64::NAN),
        ];
        for s in 0..200 {
            let (order, _) = simple_shuffle(&c, s);
            assert_eq!(order[0], 2);
            assert_eq!(order.len(), 4);
        }
    }

    #[test]
    fn only_zero_weights_are_drawn_uniformly() {
        let c = vec![dep("x").weight(1.0), dep("a").order(1), dep("b").order(1)];
        let a_first = (0..10_000u64)
            .filter(|&s| simple_shuffle(&c, s).0[0] == 1)
            .count();
        assert!((4_700..=5_300).contains(&a_first), "{a_first}");
    }

    #[test]
    fn every_candidate_appears_exactly_once() {
        let c: Vec<_> = (0..7)
            .map(|i| dep(&format!("d{i}")).weight(i as f64))
            .collect();
        for s in 0..500 {
            let (mut order, _) = simple_shuffle(&c, s);
            order.sort_unstable();
            assert_eq!(order, (0..7).collect::<Vec<_>>());
        }
    }

    #[test]
    fn unavailable_candidates_come_last_in_their_own_shuffle() {
        let c = vec![
            dep("cool").weight(100.0).health(Health::CoolingDown(5_000)),
            dep("ok1"),
            dep("sick").health(Health::Unhealthy("500".into())),
            dep("ok2"),
        ];
        let mut cool_first_among_unavailable = 0;
        for s in 0..2_000 {
            let (order, _) = simple_shuffle(&c, s);
            let mut head = order[..2].to_vec();
            head.sort_unstable();
            assert_eq!(head, vec![1, 3]);
            if order[2] == 0 {
                cool_first_among_unavailable += 1;
            }
        }
        // Their weights still count among themselves (100 vs 0).
        assert_eq!(cool_first_among_unavailable, 2_000);
    }

    #[test]
    fn lower_order_tiers_first_and_unset_order_last() {
        let c = vec![
            dep("none"),
            dep("t2a").order(2),
            dep("t1").order(1),
            dep("t2b").order(2),
        ];
        for s in 0..500 {
            let (order, _) = simple_shuffle(&c, s);
            assert_eq!(order[0], 2);
            let mut mid = order[1..3].to_vec();
            mid.sort_unstable();
            assert_eq!(mid, vec![1, 3]);
            assert_eq!(order[3], 0);
        }
    }

    #[test]
    fn health_beats_order() {
        let c = vec![
            dep("t1-cool").order(1).health(Health::CoolingDown(1)),
            dep("t2").order(2),
        ];
        assert_eq!(simple_shuffle(&c, 3).0, vec![1, 0]);
    }

    #[test]
    fn empty_candidates() {
        assert!(simple_shuffle(&[], 1).0.is_empty());
    }
}
