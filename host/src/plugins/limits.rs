//! The bounds every plugin runs under, and what a failure means for the
//! request it was serving.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What happens to a request when a plugin call fails (trap, timeout,
/// malformed output).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// The request fails with an error naming the plugin.
    #[default]
    FailClosed,
    /// The request carries on as if the plugin had no opinion: a sanitiser
    /// allows, a router falls back to the configured order, a cost rule is
    /// skipped. Provider adapters always fail closed.
    FailOpen,
}

/// Bounds for one plugin. Every field has a default, so a config only names
/// what it changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Deadline per call, in milliseconds of the plugin's CPU time, checked
    /// by epoch interruption; wall-clock time is capped at 20 times this.
    pub timeout_ms: u64,
    /// Linear memory cap per instance, in MiB.
    pub memory_mib: u64,
    /// Fail open or closed.
    pub on_error: OnError,
    /// Idle instances kept for reuse. A stream holds an instance of its
    /// adapter for its whole life, so this is also how many concurrent
    /// streams start without instantiating one (which, with the drop that
    /// follows, cost a stream at concurrency 64 about a quarter of its CPU
    /// while the default was 16); an idle Rust instance is about 64 KiB.
    pub max_idle_instances: usize,
    /// Calls one instance serves before it is recycled, so state a plugin
    /// accumulates (or leaks) is bounded.
    pub max_calls_per_instance: u64,
    /// Reuse instances between calls (`true`) or start a fresh one per call.
    pub reuse_instances: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout_ms: 50,
            memory_mib: 64,
            on_error: OnError::FailClosed,
            max_idle_instances: 64,
            max_calls_per_instance: 10_000,
            reuse_instances: true,
        }
    }
}

/// The runtime's epoch tick: deadlines are counted in ticks of this length,
/// so a deadline is kept to within a tick. Each tick wakes a thread; at 1 ms
/// those wake-ups were a visible share of a 2-core machine's time under load.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// The largest memory cap any plugin may ask for; it sizes the pooling
/// allocator's slots.
pub const MAX_MEMORY_MIB: u64 = 1024;

impl Limits {
    /// The CPU time budget of one call.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// The memory cap in bytes.
    pub fn memory_bytes(&self) -> usize {
        (self.memory_mib.min(MAX_MEMORY_MIB) as usize) << 20
    }

    /// Checks values a config could get wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.timeout_ms == 0 {
            return Err("timeout_ms must be at least 1".into());
        }
        if self.memory_mib == 0 || self.memory_mib > MAX_MEMORY_MIB {
            return Err(format!("memory_mib must be between 1 and {MAX_MEMORY_MIB}"));
        }
        if self.max_calls_per_instance == 0 {
            return Err("max_calls_per_instance must be at least 1".into());
        }
        Ok(())
    }
}
