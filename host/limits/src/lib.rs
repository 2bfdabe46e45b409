//! Rate limits and budgets for the gateway, exact on one process and
//! across replicas.
//!
//! The host builds, per request, the list of [`Limit`]s that apply to the
//! caller (its key, team, user, end user, key-and-model, metadata rules,
//! tags...); [`Limiter::admit`] checks and reserves all of them in one
//! atomic step (all pass and are taken, or none is touched), in memory or,
//! when Redis is configured, in one Lua script run. Windows reset on time
//! alone: counters are named by their window, old ones expire.
//!
//! Semantics, the same in both backends:
//! - rpm: fixed 60 s windows aligned to the epoch minute; admit while
//!   `count < rpm`, then count it.
//! - tpm: fixed 60 s windows; admit while `tokens < tpm` (the call that
//!   crosses is answered, the next refused); settle adds the real tokens.
//! - max_parallel: admit while `in_flight < max`; settle or drop frees it.
//! - budget: admit while `spent + reserved < max_usd`, then reserve the
//!   call's maximum cost until it settles, so concurrent calls overspend
//!   by at most one call's cost.
//! - When several fail, the refusal is the first of budget, rpm, tpm,
//!   parallel. Two limits on one counter (same scope and kind) count the
//!   request once and refuse at the tighter of them.
//!
//! Redis's trade-offs (holds that lapse, clocks) are in the `shared` module's notes;
//! [`Limiter::status`] says which backend counts.

mod admission;
mod error;
mod memory;
mod period;
mod plan;
mod refusal;
mod shared;
mod types;

use std::sync::Arc;

pub use admission::Admission;
pub use error::LimitError;
pub use period::{Period, PeriodError, Window};
pub use refusal::{FOREVER_RETRY_AFTER_S, RefusalKind, Refused};
pub use types::{
    Ask, Budget, Clock, Current, Limit, LimiterStatus, ManualClock, Remaining, Scope, SystemClock,
};

use admission::Held;
use memory::Memory;
use shared::{Admitted, Redis};

/// Checks and counts limits. Cheap to clone: clones share their counters.
#[derive(Clone)]
pub struct Limiter {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Memory(Arc<Memory>),
    Redis(Arc<Redis>),
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("status", &self.status())
            .finish()
    }
}

impl Limiter {
    /// Counts in this process only.
    pub fn memory() -> Limiter {
        Limiter::memory_with_clock(Arc::new(SystemClock))
    }

    /// [`Limiter::memory`] on a given clock (tests cross minutes with a
    /// [`ManualClock`]).
    pub fn memory_with_clock(clock: Arc<dyn Clock>) -> Limiter {
        Limiter {
            backend: Backend::Memory(Arc::new(Memory::new(clock))),
        }
    }

    /// Redis-backed, keys under `{prefix}:lim:`; falls back to per-process
    /// memory counts while Redis is unreachable (and says so in
    /// [`Limiter::status`]). The fallback also counts the requests, spend
    /// and tokens this replica passed through Redis, so an outage starts
    /// from what this replica has seen rather than from zero. Connects
    /// lazily, so an unreachable Redis does not stop the gateway from
    /// starting. Must be called inside a tokio runtime. Call
    /// [`Limiter::flush`] before exit.
    ///
    /// Each admission is one script run (timeout 500 ms, then memory for
    /// that request; while down, one probe a second). Parallel slots and
    /// budget reservations lapse 10 minutes after they were taken, so a
    /// crashed replica blocks nothing for longer, but a call that runs
    /// longer than that loses its slot and reservation early. Usage counted
    /// in memory during an outage, and seeds that could not be written, are
    /// sent when Redis returns.
    pub fn redis(url: &str, prefix: &str) -> Result<Limiter, LimitError> {
        Limiter::redis_with_clock(url, prefix, Arc::new(SystemClock))
    }

    /// [`Limiter::redis`] on a given clock. Replicas sharing a prefix
    /// should share a time base (the system clock, kept by NTP).
    pub fn redis_with_clock(
        url: &str,
        prefix: &str,
        clock: Arc<dyn Clock>,
    ) -> Result<Limiter, LimitError> {
        let memory = Arc::new(Memory::new(clock));
        Ok(Limiter {
            backend: Backend::Redis(Redis::connect(url, prefix, memory)?),
        })
    }

    /// Checks and reserves every limit in one atomic step.
    pub async fn admit(&self, limits: &[Limit], ask: &Ask) -> Result<Admission, Refused> {
        match &self.backend {
            Backend::Memory(memory) => admit_in_memory(memory, None, limits, ask),
            Backend::Redis(redis) => match redis.admit(limits, ask).await {
                Admitted::Redis(remaining, member, holds) => Ok(Admission::new(
                    remaining,
                    if holds.is_empty() {
                        Held::Nothing
                    } else {
                        Held::Redis {
                            redis: redis.clone(),
                            member,
                            holds,
                        }
                    },
                )),
                Admitted::Refused(refused) => Err(refused),
                Admitted::Unreachable => {
                    admit_in_memory(&redis.memory, Some(redis.clone()), limits, ask)
                }
            },
        }
    }

    /// Seeds a budget counter's current-window spend (from the spend table
    /// at start), only if the counter does not exist yet (SETNX in Redis;
    /// the memory fallback is seeded too).
    pub async fn seed_spend(&self, scope: &Scope, period: &Period, spent_usd: f64) {
        match &self.backend {
            Backend::Memory(memory) => memory.seed_spend(scope, period, spent_usd),
            Backend::Redis(redis) => {
                redis.memory.seed_spend(scope, period, spent_usd);
                redis.seed_spend(scope, period, spent_usd).await;
            }
        }
    }

    /// Current-window usage, for `/key/info` spend fields, `/usage`'s
    /// "current window" figures and x-ratelimit headers. In Redis mode one
    /// round trip; this replica's memory counts while Redis is down.
    pub async fn current(&self, limit: &Limit) -> Current {
        match &self.backend {
            Backend::Memory(memory) => memory.current(limit),
            Backend::Redis(redis) => match redis.current(limit).await {
                Some(current) => current,
                None => redis.memory.current(limit),
            },
        }
    }

    /// Adds spend and tokens without an admission (a deployment's or
    /// provider's budget, checked only by [`Limiter::over_budget`]). In
    /// Redis mode sent in the background within 100 ms.
    pub fn add_spend(&self, scope: &Scope, period: &Period, usd: f64, tokens: u64) {
        match &self.backend {
            Backend::Memory(memory) => memory.add_spend(scope, period, usd, tokens),
            Backend::Redis(redis) => {
                redis.memory.add_spend(scope, period, usd, tokens);
                redis.add_spend(scope, period, usd, tokens);
            }
        }
    }

    /// Before exit (SIGTERM): waits for the settles and releases still
    /// running in the background, then sends what waits for the 100 ms
    /// sync (spend, tokens, releases, seeds) in one last round trip.
    /// Bounded by 2 s whatever Redis does; nothing to do in memory mode.
    pub async fn flush(&self) {
        match &self.backend {
            Backend::Memory(_) => {}
            Backend::Redis(redis) => redis.flush().await,
        }
    }

    /// Whether a budget-only scope (deployment, provider) has spent its
    /// window (`spent >= max_usd`). Answers from memory without a round
    /// trip: in Redis mode from a value refreshed every 100 ms plus this
    /// replica's additions since.
    pub fn over_budget(&self, scope: &Scope, budget: &Budget) -> bool {
        match &self.backend {
            Backend::Memory(memory) => memory.over_budget(scope, budget),
            Backend::Redis(redis) => redis.over_budget(scope, budget),
        }
    }

    /// Which backend counts, and whether Redis is reachable.
    pub fn status(&self) -> LimiterStatus {
        match &self.backend {
            Backend::Memory(_) => LimiterStatus {
                backend: "memory",
                connected: true,
                error: None,
            },
            Backend::Redis(redis) => redis.status(),
        }
    }
}

fn admit_in_memory(
    memory: &Arc<Memory>,
    forward: Option<Arc<Redis>>,
    limits: &[Limit],
    ask: &Ask,
) -> Result<Admission, Refused> {
    let (remaining, holds) = memory.admit(limits, ask)?;
    let held = if holds.is_empty() {
        Held::Nothing
    } else {
        Held::Memory {
            memory: memory.clone(),
            holds,
            forward,
        }
    };
    Ok(Admission::new(remaining, held))
}

#[cfg(test)]
mod tests;
