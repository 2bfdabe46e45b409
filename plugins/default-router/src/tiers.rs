//! The fixed part of every order: healthy deployments before the rest, and
//! within each of those two bands, `order` tiers ascending with unset
//! `order` last. A strategy only ever orders the candidates of one tier.
//!
//! Unhealthy and cooling deployments are kept, after the healthy ones, so
//! the host still has something to try when everything else has failed.

use switchyard_sdk::router::{Candidate, Deployment, Health};

/// One candidate being ordered. The route path holds one of these per
/// candidate in a single vector and sorts it in place, so ordering borrows
/// everything and allocates nothing else.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    pub candidate: &'a Candidate,
    pub deployment: &'a Deployment,
    /// Band and `order` tier packed in one sortable key; see [`tier_key`].
    pub tier: u64,
    /// A strategy's coarse class (for example "over its limit"), lower first.
    pub rank: u8,
    /// A strategy's measure (weight, latency, price...).
    pub key: f64,
    /// A random number from the request's seed that breaks ties.
    pub tie: u64,
}

impl<'a> Entry<'a> {
    pub fn new(candidate: &'a Candidate, deployment: &'a Deployment) -> Self {
        Entry {
            candidate,
            deployment,
            tier: tier_key(candidate, deployment),
            rank: 0,
            key: 0.0,
            tie: 0,
        }
    }

    /// Whether the deployment is in the healthy band.
    pub fn is_healthy(&self) -> bool {
        is_healthy(&self.candidate.health)
    }
}

/// Whether a deployment is serving normally. Cooling-down, unhealthy and
/// states this version of the contract does not name are tried only after
/// every healthy one.
pub fn is_healthy(health: &Health) -> bool {
    matches!(health, Health::Healthy)
}

/// Sorts ascending into: healthy band first, then by `order` (set values
/// ascending, unset last). Bit 33 is the band, bit 32 "order unset", the low
/// 32 bits the order itself.
pub fn tier_key(candidate: &Candidate, deployment: &Deployment) -> u64 {
    let band = u64::from(!is_healthy(&candidate.health)) << 33;
    let order = match deployment.order {
        Some(o) => u64::from(o),
        None => 1 << 32,
    };
    band | order
}

/// Sorts `entries` into bands and tiers, then lets `order_tier` order each
/// tier in place, lowest tier first. The sort is stable, so a tier reaches
/// the strategy in the request's candidate order and a seed always gives
/// the same answer.
pub fn order_by_tier<'a>(entries: &mut [Entry<'a>], mut order_tier: impl FnMut(&mut [Entry<'a>])) {
    entries.sort_by_key(|e| e.tier);
    let mut rest = entries;
    while let Some(first) = rest.first() {
        let tier = first.tier;
        let len = rest.iter().take_while(|e| e.tier == tier).count();
        let (this, next) = rest.split_at_mut(len);
        order_tier(this);
        rest = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{cooling, dep, fixture, unhealthy};
    use switchyard_sdk::routing::joined;

    fn tiers_of(deps: Vec<crate::testutil::Dep>) -> Vec<Vec<String>> {
        let (table, req) = fixture(deps, 0);
        let mut entries: Vec<Entry> = joined(&req, &table)
            .map(|(c, d)| Entry::new(c, d))
            .collect();
        let mut tiers = Vec::new();
        order_by_tier(&mut entries, |tier| {
            tiers.push(tier.iter().map(|e| e.deployment.id.clone()).collect());
        });
        tiers
    }

    #[test]
    fn healthy_band_then_order_tiers_then_unset_order() {
        let tiers = tiers_of(vec![
            dep("none"),
            dep("t2a").order(2),
            dep("cool-t1").order(1).health(cooling()),
            dep("t1").order(1),
            dep("sick").health(unhealthy()),
            dep("t2b").order(2),
            dep("t0").order(0),
            dep("other").health(Health::Other("draining".into())),
        ]);
        assert_eq!(
            tiers,
            vec![
                vec!["t0"],
                vec!["t1"],
                vec!["t2a", "t2b"],
                vec!["none"],
                vec!["cool-t1"],
                vec!["sick", "other"],
            ]
        );
    }

    #[test]
    fn large_orders_stay_below_unset() {
        let tiers = tiers_of(vec![dep("unset"), dep("max").order(u32::MAX)]);
        assert_eq!(tiers, vec![vec!["max"], vec!["unset"]]);
    }

    #[test]
    fn no_entries_no_tiers() {
        assert!(tiers_of(vec![]).is_empty());
    }
}
