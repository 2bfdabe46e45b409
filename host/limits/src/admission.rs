//! An admitted request's hold on its limits, until it settles.

use std::sync::Arc;

use crate::memory::{self, Memory};
use crate::shared::{self, Redis};
use crate::types::Remaining;

/// An admitted request. Call [`Admission::settle`] when the call is done;
/// dropping it unsettled (the request failed before the provider was
/// called) releases its parallel slots and budget reservations and adds
/// nothing.
#[must_use = "an admission holds parallel slots and budget reservations until it is settled or dropped"]
pub struct Admission {
    remaining: Remaining,
    held: Held,
}

pub(crate) enum Held {
    Nothing,
    Memory {
        memory: Arc<Memory>,
        holds: memory::Holds,
        /// In Redis mode while Redis is down: where the usage goes too, so
        /// shared budgets catch up when it returns.
        forward: Option<Arc<Redis>>,
    },
    Redis {
        redis: Arc<Redis>,
        member: String,
        holds: shared::Holds,
    },
}

impl Admission {
    pub(crate) fn new(remaining: Remaining, held: Held) -> Admission {
        Admission { remaining, held }
    }

    /// Remaining figures for OpenAI's headers: the tightest rpm and tpm
    /// limits among those checked.
    pub fn remaining(&self) -> Remaining {
        self.remaining
    }

    /// After the call: its real tokens and cost (`None` = unknown cost:
    /// release the reservation and add nothing). Releases parallel slots.
    /// Never waits: in Redis mode the round trip is spawned.
    pub fn settle(mut self, tokens: u64, cost_usd: Option<f64>) {
        self.finish(Some((tokens, cost_usd)));
    }

    fn finish(&mut self, usage: Option<(u64, Option<f64>)>) {
        match std::mem::replace(&mut self.held, Held::Nothing) {
            Held::Nothing => {}
            Held::Memory {
                memory,
                holds,
                forward,
            } => {
                let (tokens, cost) = usage.unwrap_or((0, None));
                memory.release(&holds, tokens, cost);
                if let (Some(redis), Some((tokens, cost))) = (forward, usage) {
                    let holds: shared::Holds = holds
                        .into_iter()
                        .map(|(scope, _, hold)| (scope, hold))
                        .collect();
                    redis.queue_usage(&holds, tokens, cost);
                }
            }
            Held::Redis {
                redis,
                member,
                holds,
            } => {
                // Mirrored into the fallback, so an outage does not forget
                // what this replica spent through Redis.
                if let Some((tokens, cost)) = usage {
                    redis.memory.mirror_usage(&holds, tokens, cost);
                }
                redis.settle(member, holds, usage);
            }
        }
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.finish(None);
    }
}

impl std::fmt::Debug for Admission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let backend = match self.held {
            Held::Nothing => "nothing held",
            Held::Memory { .. } => "memory",
            Held::Redis { .. } => "redis",
        };
        f.debug_struct("Admission")
            .field("remaining", &self.remaining)
            .field("held", &backend)
            .finish()
    }
}
