//! Whether Redis answers. While it does not, lookups and writes skip it
//! (each a counted miss or skipped write, costing nothing) and one task in
//! the background pings it until it answers again. Each change of state is
//! logged once.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Mutex, PoisonError};

const UNKNOWN: u8 = 0;
const UP: u8 = 1;
const DOWN: u8 = 2;

pub(crate) struct Health {
    state: AtomicU8,
    /// Whether the background probe runs.
    probing: AtomicBool,
    /// Why Redis is down (already free of secrets).
    error: Mutex<Option<String>>,
}

impl Health {
    pub fn new() -> Health {
        Health {
            state: AtomicU8::new(UNKNOWN),
            probing: AtomicBool::new(false),
            error: Mutex::new(None),
        }
    }

    pub fn is_down(&self) -> bool {
        self.state.load(Ordering::Acquire) == DOWN
    }

    /// `Some(true)` once Redis answered, `Some(false)` while it does not,
    /// `None` before the first try.
    pub fn reachable(&self) -> Option<bool> {
        match self.state.load(Ordering::Acquire) {
            UP => Some(true),
            DOWN => Some(false),
            _ => None,
        }
    }

    /// Why Redis is down.
    pub fn error(&self) -> String {
        self.error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .unwrap_or_else(|| "redis unreachable".to_string())
    }

    /// Redis answered.
    pub fn up(&self, addr: &str) {
        if self.state.load(Ordering::Acquire) == UP {
            return;
        }
        let before = self.state.swap(UP, Ordering::AcqRel);
        if before != UP {
            *self.error.lock().unwrap_or_else(PoisonError::into_inner) = None;
        }
        match before {
            DOWN => tracing::info!(redis = addr, "cache: redis reachable again"),
            UNKNOWN => tracing::info!(redis = addr, "cache: redis reachable"),
            _ => {}
        }
    }

    /// Redis could not be reached; returns true when this call took it
    /// from up (or unknown) to down, so the caller starts the probe.
    pub fn down(&self, error: &str) -> bool {
        *self.error.lock().unwrap_or_else(PoisonError::into_inner) = Some(error.to_string());
        let before = self.state.swap(DOWN, Ordering::AcqRel);
        if before != DOWN {
            tracing::warn!(
                error,
                "cache: redis unreachable; lookups are misses and writes are skipped until it answers again"
            );
        }
        before != DOWN
    }

    /// Claims the probe; false when one runs already.
    pub fn start_probing(&self) -> bool {
        !self.probing.swap(true, Ordering::AcqRel)
    }

    /// The probe stops; true when Redis went down again meanwhile and the
    /// probe should go on (it claimed itself again).
    pub fn stop_probing(&self) -> bool {
        self.probing.store(false, Ordering::Release);
        self.is_down() && self.start_probing()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_and_the_probe_claim() {
        let health = Health::new();
        assert_eq!(health.reachable(), None);
        assert!(health.down("refused"));
        assert!(!health.down("refused again"));
        assert_eq!(health.reachable(), Some(false));
        assert_eq!(health.error(), "refused again");
        assert!(health.start_probing());
        assert!(!health.start_probing());
        // Still down when the probe would stop: it goes on.
        assert!(health.stop_probing());
        health.up("h:1");
        assert_eq!(health.reachable(), Some(true));
        assert!(!health.stop_probing());
        assert!(health.start_probing());
    }
}
