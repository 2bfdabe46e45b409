//! Settles and releases still running in the background, so that
//! [`super::Redis::flush`] can wait for them before the process exits.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

/// Counts background tasks; [`InFlight::idle`] waits until none is left.
#[derive(Default)]
pub(crate) struct InFlight {
    count: AtomicUsize,
    idle: Notify,
}

/// Held by one background task; dropping it (the task ended, or was
/// cancelled with its runtime) counts the task out.
pub(crate) struct Running(Arc<InFlight>);

impl InFlight {
    /// Counts a task in, before it is spawned.
    pub fn start(self: &Arc<Self>) -> Running {
        self.count.fetch_add(1, Ordering::AcqRel);
        Running(self.clone())
    }

    /// Returns once no task is running.
    pub async fn idle(&self) {
        loop {
            let mut notified = std::pin::pin!(self.idle.notified());
            // Registered before the check, so a task ending in between
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
        if self.0.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn idle_waits_for_every_running_task() {
        let tasks = Arc::new(InFlight::default());
        tasks.idle().await;
        let a = tasks.start();
        let b = tasks.start();
        let waiter = tokio::spawn({
            let tasks = tasks.clone();
            async move { tasks.idle().await }
        });
        drop(a);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished());
        drop(b);
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .unwrap()
            .unwrap();
    }
}
