//! What goes to Redis in the background: spend and tokens added without an
//! admission, usage counted while Redis was down, releases and spend seeds
//! that could not be sent; and the spend [`Redis::over_budget`] answers from.
//!
//! Every [`SYNC_INTERVAL`] one pipelined round trip sends the pending
//! increments and reads back the spend of every watched budget. While
//! Redis is down the increments wait (so spend is never lost, only late);
//! if a round trip fails after Redis applied it, they are sent twice, which
//! errs towards refusing. Releases wait in a bounded queue; past its bound
//! a slot or reservation is left to lapse after [`super::HOLD_MS`].

use std::collections::HashMap;
use std::sync::{Arc, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use super::{Holds, Redis, keys};
use crate::period::Period;
use crate::plan::Hold;
use crate::types::{Budget, Scope};

/// How often pending increments are sent and watched spend refreshed.
pub(crate) const SYNC_INTERVAL: Duration = Duration::from_millis(100);
/// At most this many distinct counters wait for Redis.
const MAX_PENDING: usize = 100_000;
/// At most this many releases wait for Redis.
const MAX_RELEASES: usize = 10_000;

#[derive(Default)]
pub(crate) struct SyncState {
    /// Counter key → what to add to it.
    pending: HashMap<String, Pending>,
    /// Admissions whose holds still need releasing.
    releases: Vec<(String, Holds)>,
    /// Spend seeds that could not be sent yet.
    seeds: Vec<Seed>,
    /// Budgets `over_budget` was asked about.
    watched: HashMap<(Scope, Period), Watched>,
    /// Whether a full queue was already logged.
    warned_full: bool,
}

/// A window's spend to set unless the counter exists (SET NX).
pub(crate) struct Seed {
    pub key: String,
    pub value: String,
    pub ttl_ms: u64,
}

impl Seed {
    pub fn add_to(&self, pipe: &mut redis::Pipeline) {
        let set = pipe.cmd("SET").arg(&self.key).arg(&self.value).arg("NX");
        if self.ttl_ms > 0 {
            set.arg("PX").arg(self.ttl_ms);
        }
        set.ignore();
    }
}

#[derive(Clone, Copy)]
struct Pending {
    usd: f64,
    tokens: u64,
    ttl_ms: u64,
}

#[derive(Default)]
struct Watched {
    window: u64,
    /// As Redis last said.
    spent: f64,
    /// Added here since, not yet sent.
    unsent: f64,
    /// Added here and in the round trip under way.
    sending: f64,
}

impl Watched {
    fn roll(&mut self, window: u64) {
        if self.window != window {
            *self = Watched {
                window,
                ..Watched::default()
            };
        }
    }
}

/// Starts the background sync; it stops when the limiter is dropped.
pub(crate) fn start(redis: &Arc<Redis>) {
    let weak: Weak<Redis> = Arc::downgrade(redis);
    redis.runtime.spawn(async move {
        let mut tick = tokio::time::interval(SYNC_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(redis) = weak.upgrade() else {
                return;
            };
            redis.sync_now(false).await;
        }
    });
}

impl Redis {
    fn sync_state(&self) -> MutexGuard<'_, SyncState> {
        self.sync.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds spend and tokens without an admission (sent within
    /// [`SYNC_INTERVAL`]).
    pub fn add_spend(&self, scope: &Scope, period: &Period, usd: f64, tokens: u64) {
        let now = self.now_ms();
        let base = self.base(scope);
        let mut state = self.sync_state();
        if usd.is_finite() && usd != 0.0 {
            state.add(
                keys::spent(&base, period, now),
                usd,
                0,
                keys::spent_ttl(period, now),
            );
            let window = period.window(now).index;
            if let Some(watched) = state.watched.get_mut(&(scope.clone(), *period)) {
                watched.roll(window);
                watched.unsent += usd;
            }
        }
        if tokens > 0 {
            state.add(keys::tokens(&base, now), 0.0, tokens, keys::minute_ttl(now));
        }
    }

    /// Whether the budget's window is spent, from the last refresh plus
    /// what this replica added since. A budget asked about for the first
    /// time is watched from then on; its first answer counts only this
    /// replica's additions until the next refresh (within
    /// [`SYNC_INTERVAL`]).
    pub fn over_budget(&self, scope: &Scope, budget: &Budget) -> bool {
        let window = budget.period.window(self.now_ms()).index;
        let mut state = self.sync_state();
        let watched = state
            .watched
            .entry((scope.clone(), budget.period))
            .or_insert_with(|| Watched {
                window,
                ..Watched::default()
            });
        watched.roll(window);
        watched.spent + watched.unsent + watched.sending >= budget.max_usd
    }

    /// Queues a seed for the next sync.
    pub(super) fn queue_seed(&self, seed: Seed) {
        let mut state = self.sync_state();
        if state.seeds.len() < MAX_RELEASES {
            state.seeds.push(seed);
        } else {
            state.warn_full();
        }
    }

    /// Queues an admission's releases for the next sync.
    pub(super) fn queue_release(&self, member: String, holds: Holds) {
        let holds: Holds = holds
            .into_iter()
            .filter(|(_, hold)| match hold {
                Hold::Slot => true,
                Hold::Budget { reserved, .. } => *reserved > 0.0,
                Hold::Tokens => false,
            })
            .collect();
        if holds.is_empty() {
            return;
        }
        let mut state = self.sync_state();
        if state.releases.len() < MAX_RELEASES {
            state.releases.push((member, holds));
        } else {
            state.warn_full();
        }
    }

    /// Queues the real usage of a call (counted in memory while Redis was
    /// down, or whose settle did not reach Redis) for the next sync.
    pub(crate) fn queue_usage(&self, holds: &[(Scope, Hold)], tokens: u64, cost: Option<f64>) {
        let now = self.now_ms();
        let cost = cost.filter(|c| c.is_finite() && *c > 0.0);
        for (scope, hold) in holds {
            match hold {
                Hold::Budget { period, .. } => {
                    if let Some(cost) = cost {
                        self.add_spend(scope, period, cost, 0);
                    }
                }
                Hold::Tokens if tokens > 0 => {
                    let key = keys::tokens(&self.base(scope), now);
                    self.sync_state()
                        .add(key, 0.0, tokens, keys::minute_ttl(now));
                }
                Hold::Tokens | Hold::Slot => {}
            }
        }
    }

    /// One round trip (plus one per queued release); one at a time.
    /// `force` tries Redis even while it is marked down and not due for a
    /// probe (the last sync before exit).
    pub(super) async fn sync_now(&self, force: bool) {
        let _one_at_a_time = self.sync_running.lock().await;
        let (nothing_to_send, nothing_watched) = {
            let state = self.sync_state();
            (
                state.pending.is_empty() && state.releases.is_empty() && state.seeds.is_empty(),
                state.watched.is_empty(),
            )
        };
        let skip = if force {
            nothing_to_send
        } else {
            (nothing_to_send && nothing_watched && self.health.is_up()) || !self.health.may_try()
        };
        if skip {
            return;
        }
        let releases = std::mem::take(&mut self.sync_state().releases);
        let mut failed = Vec::new();
        for (member, holds) in releases {
            if !failed.is_empty() || !self.run_settle(&member, &holds, None).await {
                failed.push((member, holds));
            }
        }
        if !failed.is_empty() {
            let mut state = self.sync_state();
            failed.append(&mut state.releases);
            state.releases = failed;
            return;
        }

        let now = self.now_ms();
        let (seeds, pending, watched) = {
            let mut state = self.sync_state();
            let seeds = std::mem::take(&mut state.seeds);
            let pending = std::mem::take(&mut state.pending);
            let watched: Vec<((Scope, Period), u64)> = state
                .watched
                .iter_mut()
                .map(|(key, w)| {
                    let window = key.1.window(now).index;
                    w.roll(window);
                    w.sending += w.unsent;
                    w.unsent = 0.0;
                    (key.clone(), window)
                })
                .collect();
            (seeds, pending, watched)
        };
        let mut pipe = redis::pipe();
        // Seeds first: a seed fills only a counter nothing wrote yet.
        for seed in &seeds {
            seed.add_to(&mut pipe);
        }
        for (key, add) in &pending {
            if add.usd != 0.0 {
                pipe.cmd("INCRBYFLOAT")
                    .arg(key)
                    .arg(add.usd.to_string())
                    .ignore();
            }
            if add.tokens > 0 {
                pipe.cmd("INCRBY").arg(key).arg(add.tokens).ignore();
            }
            if add.ttl_ms > 0 {
                pipe.cmd("PEXPIRE").arg(key).arg(add.ttl_ms).ignore();
            }
        }
        for ((scope, period), _) in &watched {
            pipe.get(keys::spent(&self.base(scope), period, now));
        }
        pipe.cmd("PING");
        let answer = match self.conn() {
            Some(mut conn) => {
                self.run(pipe.query_async::<Vec<Option<String>>>(&mut conn))
                    .await
            }
            None => None,
        };

        let mut state = self.sync_state();
        match answer {
            Some(values) => {
                state.warned_full = false;
                for ((key, window), value) in watched.iter().zip(values) {
                    if let Some(w) = state.watched.get_mut(key) {
                        w.sending = 0.0;
                        if w.window == *window {
                            w.spent = value.and_then(|v| v.parse().ok()).unwrap_or(0.0);
                        }
                    }
                }
            }
            None => {
                let mut seeds = seeds;
                seeds.append(&mut state.seeds);
                state.seeds = seeds;
                for (key, add) in pending {
                    state.add(key, add.usd, add.tokens, add.ttl_ms);
                }
                for w in state.watched.values_mut() {
                    w.unsent += w.sending;
                    w.sending = 0.0;
                }
            }
        }
    }
}

impl SyncState {
    fn add(&mut self, key: String, usd: f64, tokens: u64, ttl_ms: u64) {
        let full = self.pending.len() >= MAX_PENDING;
        match self.pending.get_mut(&key) {
            Some(p) => {
                p.usd += usd;
                p.tokens = p.tokens.saturating_add(tokens);
                p.ttl_ms = p.ttl_ms.max(ttl_ms);
            }
            None if full => self.warn_full(),
            None => {
                self.pending.insert(
                    key,
                    Pending {
                        usd,
                        tokens,
                        ttl_ms,
                    },
                );
            }
        }
    }

    fn warn_full(&mut self) {
        if !self.warned_full {
            self.warned_full = true;
            tracing::warn!(
                "redis unreachable for long: usage waiting to be sent is over its bound; newer usage is counted on this replica only"
            );
        }
    }
}
