//! What one shadow measured: outcomes, disagreements and candidate errors
//! by kind, both sides' call times, and the last disagreeing inputs.
//!
//! Only `dropped` moves on the request path (one atomic add when the queue
//! is full); everything else is written by the shadow's worker.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};

use crate::observe::metrics::cells::{Count, OVERHEAD_SECONDS, Timing};

/// How many disagreeing inputs are kept for the admin API.
pub const RECENT: usize = 20;

/// How many call times per side are kept for the percentiles.
const SAMPLES: usize = 1024;

pub struct Stats {
    pub agree: Count,
    pub disagree: Count,
    pub errors: Count,
    pub dropped: Count,
    inner: Mutex<Inner>,
    /// For `/metrics`.
    pub live_time: Timing,
    pub candidate_time: Timing,
}

#[derive(Default)]
struct Inner {
    by_kind: BTreeMap<&'static str, u64>,
    errors_by_kind: BTreeMap<&'static str, u64>,
    live: Ring,
    candidate: Ring,
    recent: VecDeque<Value>,
}

/// The last [`SAMPLES`] durations.
#[derive(Default)]
struct Ring {
    values: VecDeque<Duration>,
    total: Duration,
    count: u64,
}

impl Ring {
    fn push(&mut self, d: Duration) {
        if self.values.len() == SAMPLES {
            self.values.pop_front();
        }
        self.values.push_back(d);
        self.total += d;
        self.count += 1;
    }

    /// p50, p99 (of the kept ones) and the mean of all, in microseconds.
    fn summary(&self) -> Value {
        if self.values.is_empty() {
            return json!({"calls": 0});
        }
        let mut v: Vec<Duration> = self.values.iter().copied().collect();
        v.sort();
        let at = |q: f64| {
            let i = ((v.len() as f64 - 1.0) * q).round() as usize;
            v.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e6)
        };
        let mean = self.total.as_secs_f64() * 1e6 / self.count.max(1) as f64;
        json!({
            "calls": self.count,
            "p50_us": round1(at(0.5)),
            "p99_us": round1(at(0.99)),
            "mean_us": round1(mean),
        })
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            agree: Count::default(),
            disagree: Count::default(),
            errors: Count::default(),
            dropped: Count::default(),
            inner: Mutex::new(Inner::default()),
            live_time: Timing::new(OVERHEAD_SECONDS),
            candidate_time: Timing::new(OVERHEAD_SECONDS),
        }
    }
}

impl Stats {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Both sides' times for one compared call.
    pub fn times(&self, live: Duration, candidate: Duration) {
        self.live_time.observe(live);
        self.candidate_time.observe(candidate);
        let mut i = self.inner();
        i.live.push(live);
        i.candidate.push(candidate);
    }

    pub fn agreed(&self) {
        self.agree.inc();
    }

    /// A disagreement of these kinds, and what it was about.
    pub fn disagreed(&self, kinds: &[&'static str], example: Value) {
        self.disagree.inc();
        let mut i = self.inner();
        for k in kinds {
            *i.by_kind.entry(k).or_default() += 1;
        }
        if i.recent.len() == RECENT {
            i.recent.pop_front();
        }
        i.recent.push_back(example);
    }

    /// The candidate failed (`trap`, `timeout`, `memory`, `bad_output`,
    /// `error`, ...).
    pub fn failed(&self, kind: &'static str) {
        self.errors.inc();
        *self.inner().errors_by_kind.entry(kind).or_default() += 1;
    }

    pub fn disagreements_by_kind(&self) -> BTreeMap<&'static str, u64> {
        self.inner().by_kind.clone()
    }

    pub fn errors_by_kind(&self) -> BTreeMap<&'static str, u64> {
        self.inner().errors_by_kind.clone()
    }

    /// The report's numbers (the caller adds who and what).
    pub fn report(&self) -> Value {
        let i = self.inner();
        let agree = self.agree.get();
        let disagree = self.disagree.get();
        json!({
            "compared": agree + disagree,
            "agreements": agree,
            "disagreements": disagree,
            "disagreements_by_kind": i.by_kind,
            "candidate_errors": self.errors.get(),
            "candidate_errors_by_kind": i.errors_by_kind,
            "dropped": self.dropped.get(),
            "latency": {"live": i.live.summary(), "candidate": i.candidate.summary()},
            "recent_disagreements": i.recent.iter().rev().cloned().collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_counts_each_outcome_and_keeps_the_last_disagreements() {
        let s = Stats::default();
        s.agreed();
        for n in 0..25 {
            s.disagreed(&["order", "model_group"], json!({"n": n}));
        }
        s.failed("trap");
        s.failed("trap");
        s.failed("timeout");
        s.dropped.inc();
        s.times(Duration::from_micros(10), Duration::from_micros(30));
        let r = s.report();
        assert_eq!(r["compared"], 26);
        assert_eq!(r["agreements"], 1);
        assert_eq!(r["disagreements_by_kind"]["order"], 25);
        assert_eq!(r["candidate_errors"], 3);
        assert_eq!(r["candidate_errors_by_kind"]["trap"], 2);
        assert_eq!(r["dropped"], 1);
        let recent = r["recent_disagreements"].as_array().unwrap();
        assert_eq!(recent.len(), RECENT);
        assert_eq!(recent[0]["n"], 24, "newest first");
        assert_eq!(r["latency"]["candidate"]["p50_us"], 30.0);
        assert_eq!(r["latency"]["live"]["calls"], 1);
    }
}
