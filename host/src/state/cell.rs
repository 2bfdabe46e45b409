//! One deployment's live state. Locks are per deployment and held for a
//! few instructions; nothing here allocates on the request path except an
//! error message when a call fails. The recent attempt and failure counts
//! ([`Recent`]) are plain atomics, read only by the admin API.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use crate::config::FailureClass;

/// Weight of the newest sample in the latency averages.
const EMA_ALPHA: f64 = 0.2;

/// Clock minutes the admin API's error rate covers, the current one
/// included.
pub const RECENT_MINUTES: u64 = 5;

/// A deployment out of rotation until `until_ms`.
#[derive(Debug, Clone, PartialEq)]
pub struct Cooldown {
    /// Milliseconds since the Unix epoch.
    pub until_ms: u64,
    /// The failure that caused it: a rate limit makes "nothing available"
    /// a 429 for the client, anything else a 503.
    pub class: FailureClass,
    pub reason: String,
}

impl Cooldown {
    /// Time left at `now_ms`.
    pub fn remaining(&self, now_ms: u64) -> Duration {
        Duration::from_millis(self.until_ms.saturating_sub(now_ms))
    }
}

/// What the last background health check found.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Health {
    /// Not checked (checks are off, or none has finished yet).
    #[default]
    Unknown,
    Healthy {
        checked_ms: u64,
    },
    Unhealthy {
        checked_ms: u64,
        error: String,
    },
}

/// What routing and `/health` read of one deployment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub in_flight: u32,
    pub latency_avg_ms: Option<f64>,
    pub ttft_avg_ms: Option<f64>,
    /// Requests this minute (every replica's, when shared).
    pub rpm_used: u64,
    /// Tokens this minute (every replica's, when shared).
    pub tpm_used: u64,
    pub cooldown: Option<Cooldown>,
    pub health: Health,
}

/// A moving average that forgets samples older than the ttl.
#[derive(Default)]
struct Ema {
    value: Option<f64>,
    updated_ms: u64,
}

impl Ema {
    fn add(&mut self, sample: f64, now_ms: u64) {
        self.value = Some(match self.value {
            Some(old) => old + EMA_ALPHA * (sample - old),
            None => sample,
        });
        self.updated_ms = now_ms;
    }

    fn read(&self, now_ms: u64, ttl: Duration) -> Option<f64> {
        self.value
            .filter(|_| now_ms.saturating_sub(self.updated_ms) <= ttl.as_millis() as u64)
    }
}

/// Requests and tokens in one clock minute.
#[derive(Default)]
struct Usage {
    /// Minutes since the Unix epoch that the counts below are for.
    minute: u64,
    /// This replica's own counts.
    requests: u64,
    tokens: u64,
    /// This replica's counts not yet sent to Redis.
    unsynced_requests: u64,
    unsynced_tokens: u64,
    /// Counts sent in the sync under way, not yet in the shared totals.
    in_transit_requests: u64,
    in_transit_tokens: u64,
    /// Every replica's totals at the last sync: (minute, requests, tokens).
    shared: Option<(u64, u64, u64)>,
}

impl Usage {
    fn roll(&mut self, minute: u64) {
        if self.minute != minute {
            let shared = self.shared;
            *self = Usage {
                minute,
                shared,
                ..Usage::default()
            };
        }
    }

    fn used(&self, minute: u64) -> (u64, u64) {
        // This replica's counts that the shared totals do not hold yet.
        let (own_r, own_t) = if self.minute == minute {
            (
                self.unsynced_requests + self.in_transit_requests,
                self.unsynced_tokens + self.in_transit_tokens,
            )
        } else {
            (0, 0)
        };
        match self.shared {
            Some((m, r, t)) if m == minute => (r + own_r, t + own_t),
            _ if self.minute == minute => (self.requests, self.tokens),
            _ => (0, 0),
        }
    }
}

/// Attempts and the failures among them that blamed the deployment, over
/// the last [`RECENT_MINUTES`] clock minutes (the current one included).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recent {
    pub attempts: u64,
    pub failures: u64,
}

impl Recent {
    /// Failures per attempt; `None` before any attempt.
    pub fn error_rate(&self) -> Option<f64> {
        (self.attempts > 0).then(|| self.failures as f64 / self.attempts as f64)
    }
}

/// One count per clock minute in a ring of [`RECENT_MINUTES`] slots. Each
/// slot packs `minute << 32 | count` into one atomic, so a count is one
/// compare-and-swap and a new minute takes its slot over without a lock.
#[derive(Default)]
struct MinuteRing([AtomicU64; RECENT_MINUTES as usize]);

impl MinuteRing {
    fn add(&self, minute: u64) {
        let Some(slot) = self.0.get((minute % RECENT_MINUTES) as usize) else {
            return;
        };
        let tag = minute & u64::from(u32::MAX);
        let mut seen = slot.load(Ordering::Relaxed);
        loop {
            let next = match seen >> 32 {
                t if t == tag => seen.saturating_add(1),
                // A later minute already holds the slot: this count is
                // older than the window.
                t if t > tag => return,
                _ => (tag << 32) | 1,
            };
            match slot.compare_exchange_weak(seen, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return,
                Err(now) => seen = now,
            }
        }
    }

    /// The counts of the window that ends with `minute`.
    fn sum(&self, minute: u64) -> u64 {
        let tag = minute & u64::from(u32::MAX);
        let first = tag.saturating_sub(RECENT_MINUTES - 1);
        self.0
            .iter()
            .map(|slot| slot.load(Ordering::Relaxed))
            .filter(|v| (first..=tag).contains(&(v >> 32)))
            .map(|v| v & u64::from(u32::MAX))
            .sum()
    }
}

/// Failures per class in one clock minute.
#[derive(Default)]
struct Fails {
    minute: u64,
    counts: [u32; FailureClass::ALL.len()],
    last: Option<(u64, String)>,
}

/// The live state of one deployment.
#[derive(Default)]
pub struct Cell {
    in_flight: AtomicU32,
    latency: Mutex<Ema>,
    ttft: Mutex<Ema>,
    usage: Mutex<Usage>,
    fails: Mutex<Fails>,
    /// `until_ms` of the cooldown, so the common "not cooling" check is
    /// one atomic load.
    cooling_until: AtomicU64,
    cooldown: Mutex<Option<Cooldown>>,
    health: Mutex<Health>,
    /// Attempts and blamed failures per minute, for the admin API.
    recent_attempts: MinuteRing,
    recent_failures: MinuteRing,
}

fn minute_of(ms: u64) -> u64 {
    ms / 60_000
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain counters
    // behind, which are still good to read.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Cell {
    /// Counts a request as started: in flight (until [`Cell::end`]) and
    /// one towards this minute's requests.
    pub fn start(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        let minute = minute_of(super::now_ms());
        self.recent_attempts.add(minute);
        let mut u = lock(&self.usage);
        u.roll(minute);
        u.requests += 1;
        u.unsynced_requests += 1;
    }

    /// A request started with [`Cell::start`] is no longer in flight.
    pub fn end(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn finish(&self, latency: Option<Duration>, ttft: Option<Duration>, tokens: u64) {
        let now = super::now_ms();
        if let Some(latency) = latency {
            lock(&self.latency).add(latency.as_secs_f64() * 1000.0, now);
        }
        if let Some(t) = ttft {
            lock(&self.ttft).add(t.as_secs_f64() * 1000.0, now);
        }
        let mut u = lock(&self.usage);
        u.roll(minute_of(now));
        u.tokens += tokens;
        u.unsynced_tokens += tokens;
    }

    pub fn snapshot(&self, now_ms: u64, latency_ttl: Duration) -> Snapshot {
        let (rpm_used, tpm_used) = self.usage(now_ms);
        Snapshot {
            in_flight: self.in_flight.load(Ordering::Relaxed),
            latency_avg_ms: lock(&self.latency).read(now_ms, latency_ttl),
            ttft_avg_ms: lock(&self.ttft).read(now_ms, latency_ttl),
            rpm_used,
            tpm_used,
            cooldown: self.cooldown(now_ms),
            health: lock(&self.health).clone(),
        }
    }

    /// The last failure (traffic or health check) and when, in Unix ms.
    pub fn last_error(&self) -> Option<(u64, String)> {
        lock(&self.fails).last.clone()
    }

    /// Requests and tokens used in the minute of `now_ms`.
    pub fn usage(&self, now_ms: u64) -> (u64, u64) {
        lock(&self.usage).used(minute_of(now_ms))
    }

    /// The cooldown in force at `now_ms`.
    pub fn cooldown(&self, now_ms: u64) -> Option<Cooldown> {
        if self.cooling_until.load(Ordering::Relaxed) <= now_ms {
            return None;
        }
        lock(&self.cooldown).clone().filter(|c| c.until_ms > now_ms)
    }

    /// Takes a cooldown unless one that lasts longer is in force.
    pub fn set_cooldown(&self, c: Cooldown) {
        let mut slot = lock(&self.cooldown);
        if slot.as_ref().is_some_and(|old| old.until_ms >= c.until_ms) {
            return;
        }
        self.cooling_until.store(c.until_ms, Ordering::Relaxed);
        *slot = Some(c);
    }

    /// Attempts and blamed failures over the last [`RECENT_MINUTES`] at
    /// `now_ms`.
    pub fn recent(&self, now_ms: u64) -> Recent {
        let minute = minute_of(now_ms);
        Recent {
            attempts: self.recent_attempts.sum(minute),
            failures: self.recent_failures.sum(minute),
        }
    }

    /// Counts a failure of `class`; returns this minute's count for it.
    pub fn count_failure(&self, class: FailureClass, now_ms: u64, message: &str) -> u32 {
        let minute = minute_of(now_ms);
        self.recent_failures.add(minute);
        let mut f = lock(&self.fails);
        if f.minute != minute {
            f.minute = minute;
            f.counts = Default::default();
        }
        let i = class.index();
        f.counts[i] += 1;
        f.last = Some((now_ms, message.to_string()));
        f.counts[i]
    }

    pub fn set_health(&self, health: Health) {
        if let Health::Unhealthy { checked_ms, error } = &health {
            lock(&self.fails).last = Some((*checked_ms, format!("health check: {error}")));
        }
        *lock(&self.health) = health;
    }

    /// This replica's counts not yet shared: (minute, requests, tokens).
    /// They are in transit until [`Cell::set_shared`] (Redis has them) or
    /// [`Cell::unsync`] (sending them failed).
    pub fn take_unsynced(&self) -> (u64, u64, u64) {
        let mut u = lock(&self.usage);
        let taken = (u.minute, u.unsynced_requests, u.unsynced_tokens);
        u.in_transit_requests += u.unsynced_requests;
        u.in_transit_tokens += u.unsynced_tokens;
        u.unsynced_requests = 0;
        u.unsynced_tokens = 0;
        taken
    }

    /// Counts in transit that could not be shared go back to unsynced.
    pub fn unsync(&self, minute: u64) {
        let mut u = lock(&self.usage);
        let (r, t) = (u.in_transit_requests, u.in_transit_tokens);
        u.in_transit_requests = 0;
        u.in_transit_tokens = 0;
        if u.minute == minute {
            u.unsynced_requests += r;
            u.unsynced_tokens += t;
        }
    }

    /// Every replica's totals for `minute`, as Redis holds them (this
    /// replica's counts in transit included).
    pub fn set_shared(&self, minute: u64, requests: u64, tokens: u64) {
        let mut u = lock(&self.usage);
        u.in_transit_requests = 0;
        u.in_transit_tokens = 0;
        u.shared = Some((minute, requests, tokens));
    }

    /// Forgets the shared totals (Redis is unreachable): own counts rule.
    pub fn clear_shared(&self) {
        lock(&self.usage).shared = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_is_own_until_shared_then_shared_plus_unsynced() {
        let c = Cell::default();
        let now = super::super::now_ms();
        let minute = minute_of(now);
        c.start();
        c.end();
        c.finish(Some(Duration::from_millis(5)), None, 100);
        assert_eq!(c.snapshot(now, Duration::from_secs(60)).rpm_used, 1);
        let (m, r, t) = c.take_unsynced();
        assert_eq!((m, r, t), (minute, 1, 100));
        // While the sync is under way the taken counts still count.
        assert_eq!(c.snapshot(now, Duration::from_secs(60)).rpm_used, 1);
        // A failed sync gives them back.
        c.unsync(minute);
        assert_eq!(c.take_unsynced(), (minute, 1, 100));
        // Another replica sent 4 requests and 900 tokens.
        c.set_shared(minute, 5, 1000);
        c.start();
        let s = c.snapshot(now, Duration::from_secs(60));
        assert_eq!((s.rpm_used, s.tpm_used), (6, 1000));
        c.clear_shared();
        assert_eq!(c.snapshot(now, Duration::from_secs(60)).rpm_used, 2);
    }

    #[test]
    fn latency_samples_expire_after_the_ttl() {
        let c = Cell::default();
        c.finish(
            Some(Duration::from_millis(100)),
            Some(Duration::from_millis(20)),
            0,
        );
        let now = super::super::now_ms();
        let s = c.snapshot(now, Duration::from_secs(10));
        assert_eq!(s.latency_avg_ms, Some(100.0));
        assert_eq!(s.ttft_avg_ms, Some(20.0));
        let later = c.snapshot(now + 11_000, Duration::from_secs(10));
        assert_eq!(later.latency_avg_ms, None);
    }

    #[test]
    fn a_longer_cooldown_is_kept() {
        let c = Cell::default();
        let cd = |until_ms| Cooldown {
            until_ms,
            class: FailureClass::Server,
            reason: "x".into(),
        };
        c.set_cooldown(cd(5_000));
        c.set_cooldown(cd(3_000));
        assert_eq!(c.cooldown(1_000).map(|c| c.until_ms), Some(5_000));
        assert_eq!(c.cooldown(5_000), None);
    }

    #[test]
    fn recent_counts_cover_the_last_minutes_only() {
        let c = Cell::default();
        let minute = |m: u64| m * 60_000;
        assert_eq!(c.recent(minute(100)), Recent::default());
        assert_eq!(Recent::default().error_rate(), None);
        for m in [100, 101, 101, 104] {
            c.recent_attempts.add(m);
        }
        c.count_failure(FailureClass::Server, minute(101), "a");
        c.count_failure(FailureClass::Server, minute(104) + 59_999, "b");
        let at_104 = c.recent(minute(104));
        assert_eq!((at_104.attempts, at_104.failures), (4, 2));
        assert_eq!(at_104.error_rate(), Some(0.5));
        // Minute 100 falls out of the window; 105 takes its slot.
        c.recent_attempts.add(105);
        let at_105 = c.recent(minute(105));
        assert_eq!((at_105.attempts, at_105.failures), (4, 2));
        // A count for a minute older than its slot's is dropped.
        c.recent_attempts.add(100);
        assert_eq!(c.recent(minute(105)).attempts, 4);
        // Long after, nothing is recent.
        assert_eq!(c.recent(minute(200)), Recent::default());
    }

    #[test]
    fn recent_counts_are_exact_under_contention() {
        let c = std::sync::Arc::new(Cell::default());
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let c = c.clone();
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        c.recent_attempts.add(7);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(c.recent(7 * 60_000).attempts, 80_000);
    }

    #[test]
    fn failures_count_per_class_per_minute() {
        let c = Cell::default();
        assert_eq!(c.count_failure(FailureClass::Server, 60_000, "a"), 1);
        assert_eq!(c.count_failure(FailureClass::Server, 61_000, "b"), 2);
        assert_eq!(c.count_failure(FailureClass::Timeout, 62_000, "c"), 1);
        assert_eq!(c.count_failure(FailureClass::Server, 120_000, "d"), 1);
    }
}
