//! Why the cache missed or skipped a write when it should not have, counted
//! per cause and logged sparingly: a down Redis under load would otherwise
//! write a warning per request.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::entry::EntryError;

/// After the first warning for a cause, at most one more per this long.
const LOG_INTERVAL: Duration = Duration::from_secs(60);

/// What went wrong. Each lost lookup or write counts once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// Redis could not be connected to (or the connection broke).
    RedisUnreachable,
    /// Redis did not answer in time.
    RedisTimeout,
    /// Redis answered with an error (out of memory, wrong type, no auth…).
    RedisError,
    /// A file could not be read.
    DiskRead,
    /// A file could not be written (read-only, full, no folder).
    DiskWrite,
    /// A stored entry with a bad magic or checksum.
    Corrupt,
    /// A stored entry cut short.
    Truncated,
    /// A stored entry in another format version.
    OtherVersion,
    /// A stored entry that holds another key.
    OtherKey,
    /// Too many bytes already waiting to be written: the write was skipped.
    Backlog,
}

impl Cause {
    pub const ALL: [Cause; 10] = [
        Cause::RedisUnreachable,
        Cause::RedisTimeout,
        Cause::RedisError,
        Cause::DiskRead,
        Cause::DiskWrite,
        Cause::Corrupt,
        Cause::Truncated,
        Cause::OtherVersion,
        Cause::OtherKey,
        Cause::Backlog,
    ];

    /// The name in `status()` and in logs.
    pub fn name(self) -> &'static str {
        match self {
            Cause::RedisUnreachable => "redis_unreachable",
            Cause::RedisTimeout => "redis_timeout",
            Cause::RedisError => "redis_error",
            Cause::DiskRead => "disk_read",
            Cause::DiskWrite => "disk_write",
            Cause::Corrupt => "corrupt",
            Cause::Truncated => "truncated",
            Cause::OtherVersion => "other_version",
            Cause::OtherKey => "other_key",
            Cause::Backlog => "backlog",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl From<&EntryError> for Cause {
    fn from(error: &EntryError) -> Cause {
        match error {
            EntryError::Truncated => Cause::Truncated,
            EntryError::Corrupt => Cause::Corrupt,
            EntryError::OtherVersion(_) => Cause::OtherVersion,
            EntryError::OtherKey => Cause::OtherKey,
        }
    }
}

#[derive(Default)]
struct LogState {
    last_logged: Option<Instant>,
    /// Faults since the last warning.
    since: u64,
}

/// Fault counts, the last message, and when each cause was last logged.
#[derive(Default)]
pub(crate) struct Faults {
    counts: [AtomicU64; Cause::ALL.len()],
    logs: Mutex<[LogState; Cause::ALL.len()]>,
    last: Mutex<Option<String>>,
}

impl Faults {
    /// Counts one fault; `message` must hold no secret.
    pub fn record(&self, cause: Cause, message: &str) {
        if let Some(count) = self.counts.get(cause.index()) {
            count.fetch_add(1, Ordering::Relaxed);
        }
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(format!("{}: {message}", cause.name()));
        let mut logs = self.logs.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(log) = logs.get_mut(cause.index()) else {
            return;
        };
        log.since += 1;
        match log.last_logged {
            None => tracing::warn!(
                cause = cause.name(),
                error = message,
                "cache fault: served a miss or skipped a write (logged again at most once a minute)"
            ),
            Some(at) if at.elapsed() >= LOG_INTERVAL => tracing::warn!(
                cause = cause.name(),
                count = log.since,
                error = message,
                "cache faults since the last warning"
            ),
            Some(_) => return,
        }
        log.last_logged = Some(Instant::now());
        log.since = 0;
    }

    /// The causes seen so far, with their counts (causes never seen are left
    /// out).
    pub fn counts(&self) -> BTreeMap<&'static str, u64> {
        Cause::ALL
            .iter()
            .zip(&self.counts)
            .map(|(cause, count)| (cause.name(), count.load(Ordering::Relaxed)))
            .filter(|&(_, count)| count > 0)
            .collect()
    }

    pub fn last(&self) -> Option<String> {
        self.last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_cause_and_keeps_the_last_message() {
        let faults = Faults::default();
        assert!(faults.counts().is_empty());
        assert_eq!(faults.last(), None);
        faults.record(Cause::Corrupt, "a");
        faults.record(Cause::Corrupt, "b");
        faults.record(Cause::RedisTimeout, "c");
        assert_eq!(
            faults.counts(),
            BTreeMap::from([("corrupt", 2), ("redis_timeout", 1)])
        );
        assert_eq!(faults.last().as_deref(), Some("redis_timeout: c"));
    }

    #[test]
    fn logs_the_first_fault_then_waits_a_minute() {
        let faults = Faults::default();
        faults.record(Cause::DiskWrite, "read-only");
        faults.record(Cause::DiskWrite, "read-only");
        let logs = faults.logs.lock().unwrap();
        let log = &logs[Cause::DiskWrite.index()];
        assert!(log.last_logged.is_some());
        // The second is counted towards the next warning, not logged.
        assert_eq!(log.since, 1);
    }

    #[test]
    fn every_cause_has_its_own_slot_and_name() {
        for (i, cause) in Cause::ALL.iter().enumerate() {
            assert_eq!(cause.index(), i);
        }
        let names: std::collections::BTreeSet<_> = Cause::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names.len(), Cause::ALL.len());
    }
}
