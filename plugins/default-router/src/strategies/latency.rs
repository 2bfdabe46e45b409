//! latency-based-routing: the fastest deployments first, as LiteLLM's
//! lowest-latency handler.
//!
//! - The measure is the time to first token for a streamed request when the
//!   deployment has one (what a streaming client waits for), else the
//!   whole-call average.
//! - Deployments never measured come first, in random order: LiteLLM counts
//!   them as 0 ms, so a new or long-idle deployment gets traffic and a
//!   measurement instead of being starved by one lucky early sample.
//! - Measured deployments within `(1 + lowest_latency_buffer)` times the
//!   lowest are shuffled, spreading load over those about as fast as the
//!   best; the rest follow slowest last.

use switchyard_sdk::router::Candidate;
use switchyard_sdk::util::SplitMix64;

use super::draw_ties;
use crate::text::{NAME_MAX, push_clean, push_int, push_number};
use crate::tiers::Entry;

const UNMEASURED: u8 = 0;
const WITHIN_BUFFER: u8 = 1;
const SLOWER: u8 = 2;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    /// `lowest_latency_buffer`, >= 0.
    pub buffer: f64,
    /// Whether the request asks for a stream.
    pub stream: bool,
}

/// Which average a latency came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    Ttft,
    Total,
}

impl Latency {
    /// The latency the strategy compares for `c`, if measured. Negative or
    /// non-finite averages are treated as missing.
    pub fn measure(&self, c: &Candidate) -> Option<(f64, Measure)> {
        let usable = |v: Option<f64>| v.filter(|ms| ms.is_finite() && *ms >= 0.0);
        match usable(c.ttft_avg_ms) {
            Some(ms) if self.stream => Some((ms, Measure::Ttft)),
            _ => usable(c.latency_avg_ms).map(|ms| (ms, Measure::Total)),
        }
    }

    pub fn order(&self, tier: &mut [Entry], rng: &mut SplitMix64) {
        draw_ties(tier, rng);
        let mut best = f64::INFINITY;
        for e in tier.iter_mut() {
            (e.rank, e.key) = match self.measure(e.candidate) {
                Some((ms, _)) => {
                    best = best.min(ms);
                    (SLOWER, ms)
                }
                None => (UNMEASURED, 0.0),
            };
        }
        let limit = best * (1.0 + self.buffer);
        for e in tier.iter_mut() {
            if e.rank == SLOWER && e.key <= limit {
                e.rank = WITHIN_BUFFER;
            }
        }
        tier.sort_unstable_by(|a, b| {
            let by_latency = if a.rank == SLOWER && b.rank == SLOWER {
                a.key.total_cmp(&b.key)
            } else {
                std::cmp::Ordering::Equal
            };
            a.rank.cmp(&b.rank).then(by_latency).then(a.tie.cmp(&b.tie))
        });
    }

    /// `120.5ms avg on gpt4-eu`, `80ms ttft on gpt4-eu, 1 of 3 within
    /// buffer`, or `gpt4-eu unmeasured, exploring`.
    pub fn describe(&self, out: &mut String, first: &Entry, ordered: &[Entry]) {
        let Some((ms, measure)) = self.measure(first.candidate) else {
            push_clean(out, &first.deployment.id, NAME_MAX);
            out.push_str(" unmeasured, exploring");
            return;
        };
        push_number(out, ms);
        out.push_str(match measure {
            Measure::Ttft => "ms ttft on ",
            Measure::Total => "ms avg on ",
        });
        push_clean(out, &first.deployment.id, NAME_MAX);
        let peers = ordered
            .iter()
            .filter(|e| e.tier == first.tier && e.rank == WITHIN_BUFFER)
            .count();
        if self.buffer > 0.0 && peers > 1 {
            out.push_str(", 1 of ");
            push_int(out, peers);
            out.push_str(" within buffer");
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, Strategy};
    use crate::route::tests::{route_ids, route_ids_with};
    use crate::testutil::{Dep, cooling, dep};

    fn config(buffer: f64) -> Config {
        Config {
            strategy: Strategy::LatencyBased,
            lowest_latency_buffer: buffer,
            ..Config::default()
        }
    }

    fn route(deps: &[Dep], seed: u64) -> (Vec<String>, String) {
        route_ids(&config(0.0), deps, seed)
    }

    fn route_stream(deps: &[Dep], seed: u64) -> (Vec<String>, String) {
        route_ids_with(&config(0.0), deps, seed, |r| r.request.stream = true)
    }

    #[test]
    fn lowest_latency_first_then_ascending() {
        let c = [
            dep("slow").latency(900.0),
            dep("fast").latency(120.5),
            dep("mid").latency(300.0),
        ];
        for s in 0..50 {
            assert_eq!(
                route(&c, s),
                (
                    vec!["fast".into(), "mid".into(), "slow".into()],
                    "latency-based-routing: 120.5ms avg on fast".into()
                )
            );
        }
    }

    #[test]
    fn streams_compare_time_to_first_token_when_known() {
        let c = [
            dep("quick-start").latency(2_000.0).ttft(80.0),
            dep("quick-end").latency(500.0).ttft(400.0),
            dep("no-ttft").latency(300.0),
        ];
        assert_eq!(
            route_stream(&c, 0),
            (
                vec!["quick-start".into(), "no-ttft".into(), "quick-end".into()],
                "latency-based-routing: 80ms ttft on quick-start".into()
            )
        );
        // Not a stream: whole-call latency, ttft ignored.
        assert_eq!(route(&c, 0).0, ["no-ttft", "quick-end", "quick-start"]);
    }

    #[test]
    fn unmeasured_deployments_are_explored_first() {
        let c = [
            dep("fast").latency(10.0),
            dep("new"),
            dep("slow").latency(50.0),
        ];
        assert_eq!(
            route(&c, 0),
            (
                vec!["new".into(), "fast".into(), "slow".into()],
                "latency-based-routing: new unmeasured, exploring".into()
            )
        );
    }

    #[test]
    fn unmeasured_deployments_are_shuffled_among_themselves() {
        let c = [dep("n1"), dep("n2"), dep("fast").latency(1.0)];
        assert_eq!(route(&c, 0).0, ["n2", "n1", "fast"]);
        assert_eq!(route(&c, 1).0, ["n1", "n2", "fast"]);
        let n1 = (0..10_000).filter(|&s| route(&c, s).0[0] == "n1").count();
        assert!((4_700..=5_300).contains(&n1), "{n1}");
    }

    #[test]
    fn negative_or_nan_latency_counts_as_unmeasured() {
        let c = [
            dep("fast").latency(10.0),
            dep("nan").latency(f64::NAN),
            dep("neg").latency(-1.0),
        ];
        let (order, _) = route(&c, 0);
        assert_eq!(order[2], "fast");
    }

    #[test]
    fn equal_latencies_are_ties_broken_by_seed() {
        let c = [
            dep("a").latency(100.0),
            dep("b").latency(100.0),
            dep("c").latency(200.0),
        ];
        assert_eq!(route(&c, 0).0, ["b", "a", "c"]);
        assert_eq!(route(&c, 1).0, ["a", "b", "c"]);
        // With no buffer, ties do not claim a buffer.
        assert_eq!(route(&c, 0).1, "latency-based-routing: 100ms avg on b");
    }

    #[test]
    fn buffer_shuffles_those_close_to_the_best() {
        // best 100, buffer 0.5: 100 and 150 shuffled, 151 and 400 ascending.
        let c = [
            dep("d400").latency(400.0),
            dep("d150").latency(150.0),
            dep("d100").latency(100.0),
            dep("d151").latency(151.0),
        ];
        let mut d150_first = 0;
        for s in 0..10_000 {
            let (order, reason) = route_ids(&config(0.5), &c, s);
            assert_eq!(order[2..], ["d151", "d400"]);
            if order[0] == "d150" {
                d150_first += 1;
                assert_eq!(
                    reason,
                    "latency-based-routing: 150ms avg on d150, 1 of 2 within buffer"
                );
            } else {
                assert_eq!(order[0], "d100");
            }
        }
        assert!((4_700..=5_300).contains(&d150_first), "{d150_first}");
        assert_eq!(
            route_ids(&config(0.5), &c, 0).0,
            ["d100", "d150", "d151", "d400"]
        );
        assert_eq!(
            route_ids(&config(0.5), &c, 1).0,
            ["d150", "d100", "d151", "d400"]
        );
    }

    #[test]
    fn without_buffer_the_best_always_wins() {
        let c = [dep("d100").latency(100.0), dep("d101").latency(101.0)];
        for s in 0..200 {
            assert_eq!(route(&c, s).0, ["d100", "d101"]);
        }
    }

    #[test]
    fn the_buffer_is_measured_per_tier_and_band() {
        // The healthy band's best is 1000; the cooling 10 ms one is last.
        let c = [
            dep("cool-fast").latency(10.0).health(cooling()),
            dep("slow").latency(1_000.0),
            dep("slower").latency(1_400.0),
        ];
        for s in 0..50 {
            assert_eq!(route_ids(&config(0.5), &c, s).0[2], "cool-fast");
        }
        let (order, reason) = route_ids(&config(0.5), &c, 0);
        assert_eq!(order, ["slower", "slow", "cool-fast"]);
        assert_eq!(
            reason,
            "latency-based-routing: 1400ms avg on slower, 1 of 2 within buffer, 1 cooling or unhealthy last"
        );
    }
}
