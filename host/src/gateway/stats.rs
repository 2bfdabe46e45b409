//! Live state of each deployment that routers read: requests in flight, a
//! latency moving average, and requests and tokens used this minute.
//! In memory, per process.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Weight of the newest sample in the latency average.
const EMA_ALPHA: f64 = 0.2;

#[derive(Default)]
struct Minute {
    /// Minutes since the Unix epoch this window counts.
    minute: u64,
    requests: u64,
    tokens: u64,
}

#[derive(Default)]
struct Entry {
    in_flight: AtomicU32,
    latency_ms: Mutex<Option<f64>>,
    ttft_ms: Mutex<Option<f64>>,
    usage: Mutex<Minute>,
}

/// A snapshot for one deployment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Snapshot {
    pub in_flight: u32,
    pub latency_avg_ms: Option<f64>,
    pub ttft_avg_ms: Option<f64>,
    pub rpm_used: u64,
    pub tpm_used: u64,
}

/// Stats for every deployment, by id.
#[derive(Default)]
pub struct Stats {
    entries: Mutex<HashMap<String, std::sync::Arc<Entry>>>,
}

/// Counts a request in flight until dropped.
pub struct InFlight {
    entry: std::sync::Arc<Entry>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.entry.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

fn now_minute() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() / 60)
        .unwrap_or(0)
}

fn ema(slot: &Mutex<Option<f64>>, sample: f64) {
    if let Ok(mut v) = slot.lock() {
        *v = Some(match *v {
            Some(old) => old + EMA_ALPHA * (sample - old),
            None => sample,
        });
    }
}

impl Stats {
    fn entry(&self, id: &str) -> std::sync::Arc<Entry> {
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        // Look up before inserting: this runs several times per request and
        // `entry` would allocate the key every time.
        if let Some(e) = map.get(id) {
            return e.clone();
        }
        map.entry(id.to_string()).or_default().clone()
    }

    /// Marks a request to `id` as started; it counts as in flight until the
    /// guard is dropped, and towards this minute's requests.
    pub fn start(&self, id: &str) -> InFlight {
        let entry = self.entry(id);
        entry.in_flight.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut m) = entry.usage.lock() {
            let minute = now_minute();
            if m.minute != minute {
                *m = Minute {
                    minute,
                    ..Minute::default()
                };
            }
            m.requests += 1;
        }
        InFlight { entry }
    }

    /// Records a finished call's latency (and time to first token for
    /// streams) and its tokens.
    pub fn finish(&self, id: &str, latency: Duration, ttft: Option<Duration>, tokens: u64) {
        let entry = self.entry(id);
        ema(&entry.latency_ms, latency.as_secs_f64() * 1000.0);
        if let Some(t) = ttft {
            ema(&entry.ttft_ms, t.as_secs_f64() * 1000.0);
        }
        if let Ok(mut m) = entry.usage.lock() {
            let minute = now_minute();
            if m.minute == minute {
                m.tokens += tokens;
            }
        }
    }

    pub fn snapshot(&self, id: &str) -> Snapshot {
        let entry = self.entry(id);
        let (rpm_used, tpm_used) = entry
            .usage
            .lock()
            .map(|m| {
                if m.minute == now_minute() {
                    (m.requests, m.tokens)
                } else {
                    (0, 0)
                }
            })
            .unwrap_or((0, 0));
        Snapshot {
            in_flight: entry.in_flight.load(Ordering::Relaxed),
            latency_avg_ms: entry.latency_ms.lock().ok().and_then(|v| *v),
            ttft_avg_ms: entry.ttft_ms.lock().ok().and_then(|v| *v),
            rpm_used,
            tpm_used,
        }
    }
}
