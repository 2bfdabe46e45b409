//! One routing decision: tag filtering, then bands and tiers, then the
//! strategy within each tier, then the reason.
//!
//! Per request this allocates the entry vector, the answer's order and the
//! reason, each sized once up front; ordering sorts the entries in place.

use switchyard_sdk::router::{Deployment, RouteDecision, RouteRequest};
use switchyard_sdk::routing::joined;
use switchyard_sdk::util::SplitMix64;

use crate::config::Config;
use crate::filter::Selection;
use crate::strategies::Plan;
use crate::text::{NAME_MAX, push_clean, push_int};
use crate::tiers::{Entry, order_by_tier};

/// Reasons quote at most this many characters of the request's tags.
const TAGS_MAX: usize = 50;

/// Orders the candidates of `req`, which index into `table`.
pub fn route(config: &Config, req: &RouteRequest, table: &[Deployment]) -> RouteDecision {
    let name = config.strategy.name();
    let tags = &req.request.tags;
    let mut reason = String::with_capacity(128);
    reason.push_str(name);
    reason.push_str(": ");

    let selection = Selection::choose(config.enable_tag_filtering, req, table);
    if selection == Selection::Nothing {
        no_tag_match(&mut reason, tags);
        return decision(Vec::new(), reason);
    }
    let mut entries = Vec::with_capacity(req.candidates.len());
    let mut total = 0;
    for (c, d) in joined(req, table) {
        total += 1;
        if selection.keeps(d, tags) {
            entries.push(Entry::new(c, d));
        }
    }
    if entries.is_empty() {
        reason.push_str("no candidates");
        return decision(Vec::new(), reason);
    }

    let plan = Plan::new(config, req, &entries);
    let mut rng = SplitMix64::new(req.seed);
    order_by_tier(&mut entries, |tier| plan.order_tier(tier, &mut rng));

    plan.describe(&mut reason, &entries);
    let kept_by = match selection {
        Selection::Matching => Some(" match tags"),
        Selection::DefaultTagged => Some(" tagged default"),
        Selection::All | Selection::Nothing => None,
    };
    if let Some(rule) = kept_by {
        reason.push_str(", ");
        push_int(&mut reason, entries.len());
        reason.push_str(" of ");
        push_int(&mut reason, total);
        reason.push_str(rule);
    }
    let unavailable = entries.iter().filter(|e| !e.is_healthy()).count();
    if unavailable > 0 {
        reason.push_str(", ");
        push_int(&mut reason, unavailable);
        reason.push_str(" cooling or unhealthy last");
    }
    let order = entries.iter().map(|e| e.candidate.deployment).collect();
    decision(order, reason)
}

/// `no deployment tagged eu, paid or default`, the client's tags made
/// header-safe and cut short.
fn no_tag_match(out: &mut String, tags: &[String]) {
    out.push_str("no deployment tagged ");
    let start = out.len();
    for (i, tag) in tags.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        push_clean(out, tag, NAME_MAX);
        if out.len() - start > TAGS_MAX {
            // push_clean wrote ASCII only, so any byte is a char boundary.
            out.truncate(start + TAGS_MAX);
            out.push_str("...");
            break;
        }
    }
    out.push_str(" or default");
}

fn decision(order: Vec<u32>, reason: String) -> RouteDecision {
    RouteDecision {
        order,
        model_group: None,
        reason: Some(reason),
        extra: Vec::new(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::Strategy;
    use crate::testutil::{Dep, cooling, dep, fixture, unhealthy};
    use switchyard_sdk::router::Health;
    use switchyard_sdk::testing::order_ids;

    /// Routes `deps` with `config` and `seed`, after `edit` adjusts the
    /// request; returns the ids in order and the reason.
    pub fn route_ids_with(
        config: &Config,
        deps: &[Dep],
        seed: u64,
        edit: impl FnOnce(&mut RouteRequest),
    ) -> (Vec<String>, String) {
        let (table, mut req) = fixture(deps.to_vec(), seed);
        edit(&mut req);
        let d = route(config, &req, &table);
        assert_eq!(d.model_group, None);
        assert!(d.extra.is_empty());
        let reason = d.reason.clone().unwrap_or_default();
        assert!(
            reason.len() <= 160 && reason.bytes().all(|b| b.is_ascii_graphic() || b == b' '),
            "{reason:?}"
        );
        let mut seen = d.order.clone();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), d.order.len(), "a deployment named twice");
        assert!(
            d.order
                .iter()
                .all(|i| req.candidates.iter().any(|c| c.deployment == *i)),
            "a non-candidate in {:?}",
            d.order
        );
        (order_ids(&d, &table), reason)
    }

    pub fn route_ids(config: &Config, deps: &[Dep], seed: u64) -> (Vec<String>, String) {
        route_ids_with(config, deps, seed, |_| {})
    }

    /// A config with `strategy` and nothing else set.
    pub fn strategy(strategy: Strategy) -> Config {
        with(strategy, false)
    }

    fn with(strategy: Strategy, tag_filtering: bool) -> Config {
        Config {
            strategy,
            enable_tag_filtering: tag_filtering,
            ..Config::default()
        }
    }

    fn tagged(config: &Config, deps: &[Dep], tags: &[&str]) -> (Vec<String>, String) {
        route_ids_with(config, deps, 0, |r| {
            r.request.tags = tags.iter().map(|t| t.to_string()).collect();
        })
    }

    fn regions() -> Vec<Dep> {
        vec![
            dep("eu-1").tags(&["eu"]).in_flight(3),
            dep("us-1").tags(&["us"]),
            dep("eu-2").tags(&["eu", "paid"]).in_flight(1),
            dep("fallback").tags(&["default"]),
        ]
    }

    #[test]
    fn no_candidates_give_an_empty_order_for_every_strategy() {
        for s in Strategy::ALL {
            let (order, reason) = route_ids(&with(s, false), &[], 1);
            assert!(order.is_empty());
            assert_eq!(reason, format!("{}: no candidates", s.name()));
        }
    }

    #[test]
    fn every_strategy_returns_every_candidate_once_healthy_first() {
        let deps: Vec<Dep> = (0..10)
            .map(|i| {
                let d = dep(&format!("d{i}"))
                    .in_flight(i % 3)
                    .latency(f64::from(100 + i * 7 % 5))
                    .used(u64::from(i), u64::from(i * 10))
                    .price(1e-6 * f64::from(i % 4), 1e-6);
                if i % 4 == 0 { d.health(cooling()) } else { d }
            })
            .collect();
        for s in Strategy::ALL {
            for seed in 0..50 {
                let (order, _) = route_ids(&with(s, false), &deps, seed);
                assert_eq!(order.len(), 10);
                let cool_at: Vec<usize> = order
                    .iter()
                    .enumerate()
                    .filter(|(_, id)| ["d0", "d4", "d8"].contains(&id.as_str()))
                    .map(|(i, _)| i)
                    .collect();
                assert_eq!(cool_at, [7, 8, 9], "{s:?}");
            }
        }
    }

    #[test]
    fn other_health_states_count_as_unavailable() {
        let c = [
            dep("odd").health(Health::Other("draining".into())),
            dep("ok"),
            dep("sick").health(unhealthy()),
        ];
        let (order, reason) = route_ids(&with(Strategy::LeastBusy, false), &c, 0);
        assert_eq!(order[0], "ok");
        assert_eq!(
            reason,
            "least-busy: 0 in flight on ok, 2 cooling or unhealthy last"
        );
    }

    #[test]
    fn tag_filtering_keeps_matching_then_applies_the_strategy() {
        let config = with(Strategy::LeastBusy, true);
        assert_eq!(
            tagged(&config, &regions(), &["eu"]),
            (
                vec!["eu-2".into(), "eu-1".into()],
                "least-busy: 1 in flight on eu-2, 2 of 4 match tags".into()
            )
        );
    }

    #[test]
    fn tag_filtering_falls_back_to_default_then_to_nothing() {
        let config = with(Strategy::LeastBusy, true);
        assert_eq!(
            tagged(&config, &regions(), &["asia"]),
            (
                vec!["fallback".into()],
                "least-busy: 0 in flight on fallback, 1 of 4 tagged default".into()
            )
        );
        let no_default: Vec<Dep> = regions().into_iter().take(3).collect();
        assert_eq!(
            tagged(&config, &no_default, &["asia", "gov"]),
            (
                vec![],
                "least-busy: no deployment tagged asia, gov or default".into()
            )
        );
    }

    #[test]
    fn untagged_requests_go_to_default_when_there_is_one() {
        let config = with(Strategy::LeastBusy, true);
        assert_eq!(tagged(&config, &regions(), &[]).0, ["fallback"]);
        let no_default: Vec<Dep> = regions().into_iter().take(3).collect();
        assert_eq!(
            tagged(&config, &no_default, &[]),
            (
                vec!["us-1".into(), "eu-2".into(), "eu-1".into()],
                "least-busy: 0 in flight on us-1".into()
            )
        );
    }

    #[test]
    fn tags_are_ignored_when_filtering_is_off() {
        let (order, _) = tagged(&with(Strategy::LeastBusy, false), &regions(), &["eu"]);
        assert_eq!(order.len(), 4);
    }

    #[test]
    fn a_matching_cooling_deployment_is_kept_after_the_healthy_match() {
        let c = [
            dep("eu-cool").tags(&["eu"]).health(cooling()),
            dep("eu").tags(&["eu"]).in_flight(9),
            dep("us").tags(&["us"]),
        ];
        assert_eq!(
            tagged(&with(Strategy::LeastBusy, true), &c, &["eu"]),
            (
                vec!["eu".into(), "eu-cool".into()],
                "least-busy: 9 in flight on eu, 2 of 3 match tags, 1 cooling or unhealthy last"
                    .into()
            )
        );
    }

    #[test]
    fn hostile_tags_are_made_header_safe_and_cut() {
        let long = "x".repeat(200);
        let (order, reason) = tagged(
            &with(Strategy::SimpleShuffle, true),
            &[dep("a").tags(&["t"])],
            &["a\r\nSet-Cookie: x", &long, &long, &long],
        );
        assert!(order.is_empty());
        assert_eq!(
            reason,
            format!(
                "simple-shuffle: no deployment tagged a??Set-Cookie: x, {}... or default",
                "x".repeat(TAGS_MAX - "a??Set-Cookie: x, ".len())
            )
        );
        assert!(reason.len() <= 120, "{}", reason.len());
    }

    #[test]
    fn candidates_outside_the_table_are_skipped() {
        let (table, mut req) = fixture(vec![dep("a"), dep("b")], 0);
        req.candidates[0].deployment = 99;
        let d = route(&with(Strategy::LeastBusy, false), &req, &table);
        assert_eq!(order_ids(&d, &table), ["b"]);
    }

    #[test]
    fn order_holds_table_indices_not_candidate_positions() {
        let (table, req) = fixture(vec![dep("a").in_flight(1), dep("b")], 0);
        let d = route(&with(Strategy::LeastBusy, false), &req, &table);
        // Index 0 is the other group's deployment; candidates are 1 and 2.
        assert_eq!(d.order, [2, 1]);
    }

    #[test]
    fn long_ids_are_cut_in_reasons() {
        let id = "d".repeat(300);
        let (_, reason) = route_ids(&with(Strategy::LeastBusy, false), &[dep(&id)], 0);
        assert_eq!(
            reason,
            format!("least-busy: 0 in flight on {}...", "d".repeat(NAME_MAX))
        );
    }
}
