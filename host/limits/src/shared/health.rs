//! Whether Redis answers, and when to try it again while it does not.
//!
//! Up (or not yet tried): every request goes to Redis. Down: requests count
//! in memory, and at most one request (or background tick) per
//! [`PROBE_INTERVAL_MS`] tries Redis again. Each change of state is logged
//! once.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

/// While Redis is down, at most one probe per this many milliseconds.
pub(crate) const PROBE_INTERVAL_MS: u64 = 1_000;

const UNKNOWN: u8 = 0;
const UP: u8 = 1;
const DOWN: u8 = 2;

pub(crate) struct Health {
    state: AtomicU8,
    /// Milliseconds after `start` of the last probe while down.
    last_probe: AtomicU64,
    start: Instant,
    /// Why Redis is down (already scrubbed of secrets).
    error: Mutex<Option<String>>,
}

impl Health {
    pub fn new() -> Health {
        Health {
            state: AtomicU8::new(UNKNOWN),
            last_probe: AtomicU64::new(0),
            start: Instant::now(),
            error: Mutex::new(None),
        }
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether this caller should use Redis now; while down, true for one
    /// caller per probe interval.
    pub fn may_try(&self) -> bool {
        if self.state.load(Ordering::Acquire) != DOWN {
            return true;
        }
        let now = self.elapsed_ms();
        let last = self.last_probe.load(Ordering::Acquire);
        now.saturating_sub(last) >= PROBE_INTERVAL_MS
            && self
                .last_probe
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
    }

    pub fn is_up(&self) -> bool {
        self.state.load(Ordering::Acquire) == UP
    }

    /// Redis answered.
    pub fn ok(&self) {
        if self.state.swap(UP, Ordering::AcqRel) != UP {
            *self.error.lock().unwrap_or_else(PoisonError::into_inner) = None;
            tracing::info!("redis reachable: rate limits and budgets are shared between replicas");
        }
    }

    /// Redis did not answer (or failed); `error` holds no secret.
    pub fn failed(&self, error: String) {
        self.last_probe.store(self.elapsed_ms(), Ordering::Release);
        let before = self.state.swap(DOWN, Ordering::AcqRel);
        if before != DOWN {
            tracing::warn!(
                error = %error,
                "redis unreachable: counting rate limits and budgets on this replica only until it returns"
            );
        }
        *self.error.lock().unwrap_or_else(PoisonError::into_inner) = Some(error);
    }

    /// `(connected, why not)` for the status.
    pub fn status(&self) -> (bool, Option<String>) {
        match self.state.load(Ordering::Acquire) {
            UP => (true, None),
            UNKNOWN => (false, Some("not contacted yet".to_string())),
            _ => (
                false,
                self.error
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone(),
            ),
        }
    }
}
