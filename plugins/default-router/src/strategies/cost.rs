//! cost-based-routing: the cheapest deployment first, as LiteLLM's
//! lowest-cost handler, by `input_per_token + output_per_token` (plus
//! `per_request` when set).
//!
//! LiteLLM prices a missing per-token price at $5, so a deployment missing
//! one price sorts after every fully priced one and a deployment missing
//! both after those. That order is kept without the made-up number: rank by
//! how many per-token prices are missing, then by the sum of the known ones.
//! Ties (same price, or no prices at all) are broken at random.

use switchyard_sdk::router::Deployment;
use switchyard_sdk::util::SplitMix64;

use super::draw_ties;
use crate::text::{NAME_MAX, push_clean, push_number};
use crate::tiers::Entry;

/// How many of the two per-token prices `d` lacks, and the sum of what it
/// has (per-token prices and `per_request`). Non-finite prices are missing.
pub fn price(d: &Deployment) -> (u8, f64) {
    let known = |v: Option<f64>| v.filter(|p| p.is_finite());
    let mut missing = 0;
    let mut sum = 0.0;
    for p in [d.prices.input_per_token, d.prices.output_per_token] {
        match known(p) {
            Some(p) => sum += p,
            None => missing += 1,
        }
    }
    (missing, sum + known(d.prices.per_request).unwrap_or(0.0))
}

pub fn order(tier: &mut [Entry], rng: &mut SplitMix64) {
    draw_ties(tier, rng);
    for e in tier.iter_mut() {
        (e.rank, e.key) = price(e.deployment);
    }
    tier.sort_unstable_by(|a, b| {
        a.rank
            .cmp(&b.rank)
            .then(a.key.total_cmp(&b.key))
            .then(a.tie.cmp(&b.tie))
    });
}

/// `cheapest $0.0000035/token on gpt4-eu`, `cheapest $0.000002/token +
/// $0.01/request on gpt4-eu`, `prices incomplete, x first` or `no prices
/// known, x first`.
pub fn describe(out: &mut String, first: &Entry) {
    let prices = &first.deployment.prices;
    let per_request = prices.per_request.filter(|p| p.is_finite());
    match first.rank {
        0 => {
            let per_token = first.key - per_request.unwrap_or(0.0);
            out.push_str("cheapest $");
            push_number(out, per_token);
            out.push_str("/token");
            if let Some(p) = per_request {
                out.push_str(" + $");
                push_number(out, p);
                out.push_str("/request");
            }
            out.push_str(" on ");
        }
        2 if per_request.is_none() => out.push_str("no prices known, first "),
        _ => out.push_str("prices incomplete, first "),
    }
    push_clean(out, &first.deployment.id, NAME_MAX);
}

#[cfg(test)]
mod tests {
    use crate::config::Strategy;
    use crate::route::tests::strategy;
    use crate::testutil::{Dep, cooling, dep};

    fn route(deps: &[Dep], seed: u64) -> (Vec<String>, String) {
        crate::route::tests::route_ids(&strategy(Strategy::CostBased), deps, seed)
    }

    #[test]
    fn cheapest_first() {
        let c = [
            dep("gpt4o").price(0.0000025, 0.00001),
            dep("mini").price(0.00000015, 0.0000006),
            dep("mid").price(0.000001, 0.0000025),
        ];
        for s in 0..20 {
            assert_eq!(
                route(&c, s),
                (
                    vec!["mini".into(), "mid".into(), "gpt4o".into()],
                    "cost-based-routing: cheapest $0.00000075/token on mini".into()
                )
            );
        }
    }

    #[test]
    fn per_request_price_is_added() {
        let mut flat = dep("flat").price(0.0, 0.000001);
        flat.d.prices.per_request = Some(0.01);
        let c = [flat, dep("tokens").price(0.00001, 0.00001)];
        assert_eq!(route(&c, 0).0, ["tokens", "flat"]);
        let mut flat = dep("flat").price(0.0, 0.000001);
        flat.d.prices.per_request = Some(0.000001);
        let c = [flat, dep("tokens").price(0.00001, 0.00001)];
        assert_eq!(
            route(&c, 0),
            (
                vec!["flat".into(), "tokens".into()],
                "cost-based-routing: cheapest $0.000001/token + $0.000001/request on flat".into()
            )
        );
    }

    #[test]
    fn unknown_prices_last_partial_before_none() {
        let mut half = dep("half");
        half.d.prices.input_per_token = Some(0.0);
        let mut nan = dep("nan").price(f64::NAN, f64::NAN);
        nan.d.prices.per_request = Some(f64::INFINITY);
        let c = [dep("none"), half, nan, dep("pricey").price(1.0, 1.0)];
        let (order, reason) = route(&c, 0);
        assert_eq!(order[..2], ["pricey", "half"]);
        assert_eq!(reason, "cost-based-routing: cheapest $2/token on pricey");
        let mut sorted = order[2..].to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, ["nan", "none"]);
    }

    #[test]
    fn reasons_when_the_first_has_no_full_price() {
        assert_eq!(
            route(&[dep("x")], 0).1,
            "cost-based-routing: no prices known, first x"
        );
        let mut half = dep("half");
        half.d.prices.output_per_token = Some(0.1);
        assert_eq!(
            route(&[half], 0).1,
            "cost-based-routing: prices incomplete, first half"
        );
        let mut flat = dep("flat");
        flat.d.prices.per_request = Some(0.1);
        assert_eq!(
            route(&[flat], 0).1,
            "cost-based-routing: prices incomplete, first flat"
        );
    }

    #[test]
    fn equal_prices_are_ties_broken_by_seed() {
        let c = [
            dep("a").price(1e-6, 2e-6),
            dep("b").price(1e-6, 2e-6),
            dep("c").price(1e-5, 0.0),
        ];
        assert_eq!(route(&c, 0).0, ["b", "a", "c"]);
        assert_eq!(route(&c, 1).0, ["a", "b", "c"]);
        let a = (0..10_000).filter(|&s| route(&c, s).0[0] == "a").count();
        assert!((4_700..=5_300).contains(&a), "{a}");
    }

    #[test]
    fn cheap_but_cooling_goes_last() {
        let c = [
            dep("cheap").price(0.0, 0.0).health(cooling()),
            dep("dear").price(0.0000015, 0.000002),
        ];
        assert_eq!(
            route(&c, 0),
            (
                vec!["dear".into(), "cheap".into()],
                "cost-based-routing: cheapest $0.0000035/token on dear, 1 cooling or unhealthy last".into()
            )
        );
    }
}
