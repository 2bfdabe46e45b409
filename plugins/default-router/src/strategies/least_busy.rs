//! least-busy: fewest requests in flight first, as LiteLLM's least-busy
//! handler picks the deployment with the fewest open calls. Ties are broken
//! at random so that idle deployments share the load instead of the first
//! in the config taking every request.

use switchyard_sdk::util::SplitMix64;

use super::draw_ties;
use crate::text::{NAME_MAX, push_clean, push_int};
use crate::tiers::Entry;

pub fn order(tier: &mut [Entry], rng: &mut SplitMix64) {
    draw_ties(tier, rng);
    tier.sort_unstable_by_key(|e| (e.candidate.in_flight, e.tie));
}

/// `2 in flight on gpt4-eu`.
pub fn describe(out: &mut String, first: &Entry) {
    push_int(out, first.candidate.in_flight);
    out.push_str(" in flight on ");
    push_clean(out, &first.deployment.id, NAME_MAX);
}

#[cfg(test)]
mod tests {
    use crate::config::Strategy;
    use crate::route::tests::strategy;
    use crate::testutil::{Dep, cooling, dep};

    fn route(deps: &[Dep], seed: u64) -> (Vec<String>, String) {
        crate::route::tests::route_ids(&strategy(Strategy::LeastBusy), deps, seed)
    }

    #[test]
    fn fewest_in_flight_first() {
        let c = [
            dep("busy").in_flight(9),
            dep("idle").in_flight(0),
            dep("some").in_flight(3),
        ];
        for s in 0..50 {
            let (order, reason) = route(&c, s);
            assert_eq!(order, ["idle", "some", "busy"]);
            assert_eq!(reason, "least-busy: 0 in flight on idle");
        }
    }

    #[test]
    fn ties_are_broken_by_the_seed() {
        let c = [
            dep("a").in_flight(2),
            dep("b").in_flight(2),
            dep("c").in_flight(5),
        ];
        assert_eq!(route(&c, 0).0, ["b", "a", "c"]);
        assert_eq!(route(&c, 1).0, ["a", "b", "c"]);
        assert_eq!(route(&c, 0).1, "least-busy: 2 in flight on b");
    }

    #[test]
    fn ties_are_shared_evenly() {
        let c = [
            dep("a").in_flight(1),
            dep("b").in_flight(1),
            dep("c").in_flight(1),
            dep("d").in_flight(2),
        ];
        let mut firsts = [0usize; 3];
        for s in 0..9_000 {
            let (order, _) = route(&c, s);
            firsts[(order[0].as_bytes()[0] - b'a') as usize] += 1;
            assert_eq!(order[3], "d");
        }
        for n in firsts {
            assert!((2_700..=3_300).contains(&n), "{firsts:?}");
        }
    }

    #[test]
    fn a_cooling_idle_deployment_goes_after_a_busy_healthy_one() {
        let c = [
            dep("idle-cooling").health(cooling()),
            dep("busy").in_flight(50),
        ];
        assert_eq!(
            route(&c, 0),
            (
                vec!["busy".into(), "idle-cooling".into()],
                "least-busy: 50 in flight on busy, 1 cooling or unhealthy last".into()
            )
        );
    }

    #[test]
    fn order_tiers_beat_in_flight() {
        let c = [
            dep("idle-t2").order(2),
            dep("busy-t1").order(1).in_flight(7),
        ];
        assert_eq!(route(&c, 0).0, ["busy-t1", "idle-t2"]);
    }
}
