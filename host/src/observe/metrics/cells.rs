//! The values behind each series, updated with atomics only: a request
//! never waits on a lock to count. (prometheus-client's own histogram
//! takes a mutex per observation, which concurrent requests to one
//! deployment would contend for; these are encoded through its encoder.)

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::{MetricEncoder, NoLabelSet};
use prometheus_client::metrics::exemplar::Exemplar;

/// Seconds bounds for whole requests and provider calls.
pub const REQUEST_SECONDS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// Seconds bounds for what the gateway itself adds, and plugin calls.
pub const OVERHEAD_SECONDS: &[f64] = &[
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 1.0,
];

/// A monotonic count.
#[derive(Debug, Default)]
pub struct Count(AtomicU64);

impl Count {
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    pub fn encode(&self, e: &mut MetricEncoder<'_>) -> std::fmt::Result {
        e.encode_counter::<NoLabelSet, _, u64>(&self.get(), None)
    }
}

/// A monotonic sum of money (a compare-and-swap on the bits: lock-free).
#[derive(Debug, Default)]
pub struct Sum(AtomicU64);

impl Sum {
    pub fn add(&self, v: f64) {
        if !v.is_finite() || v <= 0.0 {
            return;
        }
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + v).to_bits())
            });
    }

    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }

    pub fn encode(&self, e: &mut MetricEncoder<'_>) -> std::fmt::Result {
        e.encode_counter::<NoLabelSet, _, f64>(&self.get(), None)
    }
}

/// A gauge moved up and down by events.
#[derive(Debug, Default)]
pub struct Level(AtomicI64);

impl Level {
    pub fn up(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn down(&self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A histogram of durations: one atomic per bucket and a nanosecond sum.
#[derive(Debug)]
pub struct Timing {
    bounds: &'static [f64],
    /// One per bound, then one past the last (+Inf).
    buckets: Box<[AtomicU64]>,
    sum_ns: AtomicU64,
}

impl Timing {
    pub fn new(bounds: &'static [f64]) -> Timing {
        Timing {
            bounds,
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_ns: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = self.bounds.partition_point(|b| *b < secs);
        if let Some(b) = self.buckets.get(i) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum()
    }

    pub fn encode(&self, e: &mut MetricEncoder<'_>) -> std::fmt::Result {
        // Read each bucket once, so the count is their sum even while
        // requests keep observing.
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let count = counts.iter().sum();
        let finite: Vec<(f64, u64)> = self.bounds.iter().copied().zip(counts).collect();
        let sum = self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
        e.encode_histogram::<NoLabelSet>(
            sum,
            count,
            &finite,
            None::<&std::collections::HashMap<usize, Exemplar<NoLabelSet, f64>>>,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timing_counts_each_observation_in_its_bucket() {
        let t = Timing::new(&[0.1, 1.0]);
        t.observe(Duration::from_millis(50));
        t.observe(Duration::from_millis(100));
        t.observe(Duration::from_millis(500));
        t.observe(Duration::from_secs(3));
        assert_eq!(t.count(), 4);
        let counts: Vec<u64> = t
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        // 0.1 is in the 0.1 bucket (le is inclusive).
        assert_eq!(counts, vec![2, 1, 1]);
        assert_eq!(t.sum_ns.load(Ordering::Relaxed), 3_650_000_000);
    }

    #[test]
    fn a_sum_ignores_what_is_not_money() {
        let s = Sum::default();
        s.add(0.25);
        s.add(f64::NAN);
        s.add(-1.0);
        s.add(0.5);
        assert_eq!(s.get(), 0.75);
    }
}
