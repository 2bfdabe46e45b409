//! The order to try a model group's deployments in, once the group is the
//! one the tier chose.
//!
//! Sorted by, in turn:
//! 1. health: healthy, then cooling down (back soon), then unhealthy or a
//!    state this version does not name; none is dropped, so the host can
//!    still fall back to them;
//! 2. the deployment's `order`, ascending; deployments without one last;
//! 3. a weighted random draw by `weight` (absent = 1; zero, negative or not
//!    finite = never drawn before a positive weight), from a
//!    [`SplitMix64`] seeded with the request's `seed`, so a seed always
//!    gives the same order.
//!
//! The draw is Efraimidis-Spirakis: each deployment gets the key
//! `-ln(u) / weight` for a uniform `u` and the smallest key goes first,
//! which is a weighted draw without replacement in one sort.

use switchyard_sdk::router::{Candidate, Deployment, Health};
use switchyard_sdk::util::SplitMix64;

fn health_rank(h: &Health) -> u8 {
    match h {
        Health::Healthy => 0,
        Health::CoolingDown(_) => 1,
        Health::Unhealthy(_) | Health::Other(_) => 2,
    }
}

/// The weight used for the draw; `None` when it cannot be drawn before a
/// positive weight.
fn weight(d: &Deployment) -> Option<f64> {
    let w = d.weight.unwrap_or(1.0);
    (w.is_finite() && w > 0.0).then_some(w)
}

/// Orders `members` (candidates with their table entries) and returns
/// their table indices.
pub fn order(members: &[(&Candidate, &Deployment)], seed: u64) -> Vec<u32> {
    let mut rng = SplitMix64::new(seed);
    // One draw per member in the given order, so the result depends only
    // on the seed and the candidates.
    let mut keyed: Vec<(u8, bool, u32, bool, f64, u32)> = members
        .iter()
        .map(|(c, d)| {
            let u = rng.next_f64();
            let (zero, key) = match weight(d) {
                // 1 - u is in (0, 1], so the logarithm is finite.
                Some(w) => (false, -(1.0 - u).ln() / w),
                None => (true, u),
            };
            (
                health_rank(&c.health),
                d.order.is_none(),
                d.order.unwrap_or(0),
                zero,
                key,
                c.deployment,
            )
        })
        .collect();
    keyed.sort_by(|a, b| {
        (a.0, a.1, a.2, a.3)
            .cmp(&(b.0, b.1, b.2, b.3))
            .then(a.4.total_cmp(&b.4))
            .then(a.5.cmp(&b.5))
    });
    keyed.into_iter().map(|k| k.5).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_sdk::testing::{candidate, deployment};

    fn run(specs: &[(Health, Option<u32>, Option<f64>)], seed: u64) -> Vec<u32> {
        let table: Vec<Deployment> = specs
            .iter()
            .enumerate()
            .map(|(i, (_, order, weight))| {
                let mut d = deployment(&format!("d{i}"), "g");
                d.order = *order;
                d.weight = *weight;
                d
            })
            .collect();
        let cands: Vec<Candidate> = specs
            .iter()
            .enumerate()
            .map(|(i, (h, _, _))| {
                let mut c = candidate(i as u32);
                c.health = h.clone();
                c
            })
            .collect();
        let members: Vec<(&Candidate, &Deployment)> = cands.iter().zip(table.iter()).collect();
        order(&members, seed)
    }

    #[test]
    fn healthy_then_cooling_then_unhealthy() {
        let specs = [
            (Health::Unhealthy("x".into()), None, None),
            (Health::CoolingDown(500), None, None),
            (Health::Healthy, None, None),
            (Health::Other("draining".into()), None, None),
        ];
        for seed in 0..50 {
            let o = run(&specs, seed);
            assert_eq!(&o[..2], &[2, 1], "seed {seed}");
        }
    }

    #[test]
    fn lower_order_first_and_unset_order_last() {
        let specs = [
            (Health::Healthy, None, None),
            (Health::Healthy, Some(2), None),
            (Health::Healthy, Some(1), None),
        ];
        for seed in 0..50 {
            assert_eq!(run(&specs, seed), [2, 1, 0]);
        }
        // Health comes before order.
        let specs = [
            (Health::CoolingDown(1), Some(1), None),
            (Health::Healthy, Some(5), None),
        ];
        assert_eq!(run(&specs, 3), [1, 0]);
    }

    #[test]
    fn weights_share_first_place_in_proportion() {
        let specs = [
            (Health::Healthy, None, Some(3.0)),
            (Health::Healthy, None, None),
        ];
        let firsts = (0..10_000u64).filter(|s| run(&specs, *s)[0] == 0).count();
        assert!((7_300..=7_700).contains(&firsts), "{firsts}");
    }

    #[test]
    fn zero_weights_go_after_positive_ones() {
        let specs = [
            (Health::Healthy, None, Some(0.0)),
            (Health::Healthy, None, Some(f64::NAN)),
            (Health::Healthy, None, Some(0.1)),
        ];
        for seed in 0..50 {
            assert_eq!(run(&specs, seed)[0], 2);
        }
    }

    #[test]
    fn same_seed_same_order_and_every_member_once() {
        let specs: Vec<_> = (0..6).map(|_| (Health::Healthy, None, None)).collect();
        let a = run(&specs, 42);
        assert_eq!(a, run(&specs, 42));
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, [0, 1, 2, 3, 4, 5]);
        assert!((0..20).any(|s| run(&specs, s) != a));
    }

    #[test]
    fn pinned_orders_match_the_cases_file() {
        // cases.yaml pins these through the wasm runtime: native and wasm
        // builds must draw the same.
        let specs = [
            (Health::Healthy, None, Some(1.0)),
            (Health::Healthy, None, Some(2.0)),
            (Health::Healthy, None, Some(3.0)),
        ];
        assert_eq!(run(&specs, 7), [1, 0, 2]);
        assert_eq!(run(&specs, 8), [2, 1, 0]);
    }

    #[test]
    fn nothing_in_nothing_out() {
        assert!(order(&[], 1).is_empty());
    }
}
