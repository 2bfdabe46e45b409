//! Writes running in the background: how many (so a clean stop can wait for
//! them) and how many bytes they hold (so a slow backend cannot pile up
//! entries in memory).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tokio::sync::Notify;

#[derive(Default)]
pub(crate) struct InFlight {
    count: AtomicUsize,
    bytes: AtomicU64,
    idle: Notify,
}

/// Held by one background write; dropping it (the write ended, or its
/// task was dropped with the runtime) counts the write out.
pub(crate) struct Running {
    tasks: Arc<InFlight>,
    bytes: u64,
}

impl InFlight {
    /// Counts a write of `bytes` in, unless the writes already running hold
    /// more than `max_bytes` between them.
    pub fn start(self: &Arc<Self>, bytes: u64, max_bytes: u64) -> Option<Running> {
        let before = self.bytes.fetch_add(bytes, Ordering::AcqRel);
        if before > 0 && before.saturating_add(bytes) > max_bytes {
            self.bytes.fetch_sub(bytes, Ordering::AcqRel);
            return None;
        }
        self.count.fetch_add(1, Ordering::AcqRel);
        Some(Running {
            tasks: self.clone(),
            bytes,
        })
    }

    /// Returns once no write is running.
    pub async fn idle(&self) {
        loop {
            let mut notified = std::pin::pin!(self.idle.notified());
            // Registered before the check, so a write ending in between
            // still wakes this waiter.
            notified.as_mut().enable();
            if self.count.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.tasks.bytes.fetch_sub(self.bytes, Ordering::AcqRel);
        if self.tasks.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.tasks.idle.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn idle_waits_for_every_running_write() {
        let tasks = Arc::new(InFlight::default());
        tasks.idle().await;
        let a = tasks.start(10, 100).unwrap();
        let b = tasks.start(10, 100).unwrap();
        let waiter = tokio::spawn({
            let tasks = tasks.clone();
            async move { tasks.idle().await }
        });
        drop(a);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(b);
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .unwrap()
            .unwrap();
    }

    #[test]
    fn refuses_a_write_past_the_byte_budget_but_never_the_first() {
        let tasks = Arc::new(InFlight::default());
        let big = tasks.start(500, 100).unwrap();
        assert!(tasks.start(1, 100).is_none());
        drop(big);
        let a = tasks.start(60, 100).unwrap();
        assert!(tasks.start(41, 100).is_none());
        let b = tasks.start(40, 100).unwrap();
        drop((a, b));
        assert_eq!(tasks.bytes.load(Ordering::Acquire), 0);
        assert_eq!(tasks.count.load(Ordering::Acquire), 0);
    }
}
