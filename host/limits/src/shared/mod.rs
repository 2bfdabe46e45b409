//! Counting in Redis, so any number of replicas enforce one limit.
//!
//! Admission is one Lua script (`admit.lua`, sent as EVALSHA by
//! [`redis::Script`], one round trip): it checks every counter of the
//! request, then takes them all, or refuses touching none. Settling is a
//! second script (`settle.lua`), spawned so the request never waits on it.
//! Every round trip has [`TIMEOUT`]; when one fails, the request is counted
//! in this process's memory instead, the status says so, and Redis is tried
//! again at most once a second (see [`health`]). Spend and tokens added
//! without an admission, and the usage of calls counted in memory while
//! Redis was down, are sent in batches by a background task every
//! [`sync::SYNC_INTERVAL`], which also refreshes the spend that
//! [`Redis::over_budget`] answers from without a round trip.
//!
//! The memory fallback is kept warm: every request admitted and every
//! spend and token count settled through Redis is counted there too, so an
//! outage starts from what this replica has seen, not from zero (other
//! replicas' usage it cannot know). Before exit, [`Redis::flush`] waits
//! for the settles still running and sends what the sync holds.
//!
//! Holds and their trade-off: a parallel slot or a budget reservation is an
//! entry in a sorted set scored by when it lapses, [`HOLD_MS`] after it was
//! taken; lapsed entries are pruned by the next admission. A replica that
//! crashes mid-call therefore blocks nothing for longer than that, but a
//! call that runs longer than [`HOLD_MS`] loses its slot and reservation
//! early (another call may then start, and a budget may overshoot by that
//! call's cost). Windows are computed from the replica's clock, so replicas
//! whose clocks differ count a request near a boundary in slightly
//! different windows; NTP keeps that to milliseconds.

mod health;
mod inflight;
pub(crate) mod keys;
mod sync;

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::Script;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use switchyard_redis::{PerThread, connection_lost, scrub};
use tokio::runtime::Handle;

use crate::error::LimitError;
use crate::memory::{Memory, empty_current};
use crate::period::Period;
use crate::plan::{Check, Hold, plan, remaining, to_count};
use crate::refusal::{RefusalKind, Refused};
use crate::types::{Ask, Current, Limit, LimiterStatus, Remaining, Scope};

use health::Health;
use inflight::InFlight;
use sync::SyncState;

/// The longest any Redis round trip may take before the request falls back
/// to memory.
pub(crate) const TIMEOUT: Duration = Duration::from_millis(500);
/// How long a parallel slot or budget reservation survives a replica that
/// never settles it.
pub(crate) const HOLD_MS: u64 = 10 * 60 * 1_000;
/// The longest [`Redis::flush`] waits, whatever Redis does.
pub(crate) const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

const ADMIT_LUA: &str = include_str!("admit.lua");
const SETTLE_LUA: &str = include_str!("settle.lua");

/// What a Redis admission holds, per scope.
pub(crate) type Holds = Vec<(Scope, Hold)>;

pub(crate) struct Redis {
    /// A connection per thread: admission runs on the request's thread.
    conns: PerThread,
    prefix: String,
    admit_script: Script,
    settle_script: Script,
    health: Health,
    /// Counts requests while Redis is unreachable.
    pub memory: Arc<Memory>,
    sync: Mutex<SyncState>,
    /// One background sync at a time, so a flush waits for one under way.
    sync_running: tokio::sync::Mutex<()>,
    /// Settles running in the background.
    tasks: Arc<InFlight>,
    runtime: Handle,
    /// Makes admission ids unique across replicas.
    nonce: u64,
    next_id: AtomicU64,
    /// The password in the URL, removed from every error text.
    secrets: Vec<String>,
}

/// How an admission went.
pub(crate) enum Admitted {
    /// Counted in Redis.
    Redis(Remaining, String, Holds),
    /// Refused by Redis.
    Refused(Refused),
    /// Redis unreachable: the caller counts in memory.
    Unreachable,
}

impl Redis {
    pub fn connect(url: &str, prefix: &str, memory: Arc<Memory>) -> Result<Arc<Redis>, LimitError> {
        let runtime = Handle::try_current().map_err(|_| LimitError::NoRuntime)?;
        let (secrets, client) = switchyard_redis::open(url);
        let client = client.map_err(LimitError::Url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let conns = PerThread::new(client, config);
        // This thread's connection, started now (the last flush at exit
        // runs here); a manager that cannot be set up fails the start.
        conns
            .get()
            .map_err(|e| LimitError::Connect(scrub(&e, &secrets)))?;
        let redis = Arc::new(Redis {
            conns,
            prefix: prefix.to_string(),
            admit_script: Script::new(ADMIT_LUA),
            settle_script: Script::new(SETTLE_LUA),
            health: Health::new(),
            memory,
            sync: Mutex::new(SyncState::default()),
            sync_running: tokio::sync::Mutex::new(()),
            tasks: Arc::new(InFlight::default()),
            runtime,
            nonce: RandomState::new().hash_one(std::process::id()),
            next_id: AtomicU64::new(0),
            secrets,
        });
        sync::start(&redis);
        Ok(redis)
    }

    pub fn status(&self) -> LimiterStatus {
        let (connected, error) = self.health.status();
        LimiterStatus {
            backend: "redis",
            connected,
            error,
        }
    }

    fn now_ms(&self) -> u64 {
        self.memory.now_ms()
    }

    fn base(&self, scope: &Scope) -> String {
        keys::base(&self.prefix, scope)
    }

    /// Notes that a round trip failed. A lost connection is replaced on
    /// every thread at its next try, so none fails once more on a
    /// connection that broke.
    fn failed(&self, error: &redis::RedisError) {
        if connection_lost(error) {
            self.conns.reset();
        }
        self.health.failed(scrub(error, &self.secrets));
    }

    /// This thread's connection; `None` (noted as a failure) outside a
    /// runtime, which the async callers never are.
    pub(crate) fn conn(&self) -> Option<ConnectionManager> {
        self.conns.get().inspect_err(|e| self.failed(e)).ok()
    }

    /// Runs one round trip with the timeout, noting whether Redis answered.
    async fn run<T>(&self, round_trip: impl Future<Output = redis::RedisResult<T>>) -> Option<T> {
        match tokio::time::timeout(TIMEOUT, round_trip).await {
            Ok(Ok(value)) => {
                self.health.ok();
                Some(value)
            }
            Ok(Err(e)) => {
                self.failed(&e);
                None
            }
            Err(_) => {
                self.health
                    .failed(format!("no answer within {} ms", TIMEOUT.as_millis()));
                None
            }
        }
    }

    /// Checks and takes every limit in one script run.
    pub async fn admit(&self, limits: &[Limit], ask: &Ask) -> Admitted {
        if !self.health.may_try() {
            return Admitted::Unreachable;
        }
        let now = self.now_ms();
        let checks = plan(limits, ask);
        if checks.is_empty() {
            return Admitted::Redis(Remaining::default(), String::new(), Vec::new());
        }
        let member = format!(
            "{:x}.{:x}",
            self.nonce,
            self.next_id.fetch_add(1, Ordering::Relaxed)
        );
        let mut call = self.admit_script.prepare_invoke();
        call.arg(now)
            .arg(&member)
            .arg(now.saturating_add(HOLD_MS))
            .arg(HOLD_MS);
        for check in &checks {
            let base = self.base(check.scope);
            let limit = check.limit.to_string();
            match check.kind {
                RefusalKind::Budget => {
                    call.key(keys::spent(&base, &check.period, now))
                        .key(keys::reservations(&base, &check.period))
                        .key(keys::reserved_sum(&base, &check.period))
                        .arg("b")
                        .arg(limit)
                        .arg(keys::spent_ttl(&check.period, now))
                        .arg(check.reserve.to_string());
                }
                RefusalKind::Rpm => {
                    call.key(keys::requests(&base, now))
                        .arg("r")
                        .arg(limit)
                        .arg(keys::minute_ttl(now))
                        .arg(0);
                }
                RefusalKind::Tpm => {
                    call.key(keys::tokens(&base, now))
                        .arg("t")
                        .arg(limit)
                        .arg(0)
                        .arg(0);
                }
                RefusalKind::Parallel => {
                    call.key(keys::in_flight(&base))
                        .arg("p")
                        .arg(limit)
                        .arg(0)
                        .arg(0);
                }
            }
        }
        let Some(mut conn) = self.conn() else {
            return Admitted::Unreachable;
        };
        let reply =
            tokio::time::timeout(TIMEOUT, call.invoke_async::<Vec<String>>(&mut conn)).await;
        let holds: Holds = checks
            .iter()
            .filter_map(|c| c.hold().map(|h| (c.scope.clone(), h)))
            .collect();
        match reply {
            Ok(Ok(reply)) => match read_reply(&checks, &reply, now) {
                Some(Ok(after)) => {
                    self.health.ok();
                    self.memory.mirror_requests(&checks);
                    Admitted::Redis(remaining(&checks, &after, now), member, holds)
                }
                Some(Err(refused)) => {
                    self.health.ok();
                    Admitted::Refused(refused)
                }
                None => {
                    self.health
                        .failed(format!("unexpected reply from the limit script: {reply:?}"));
                    // It ran and may have taken everything: give it back.
                    self.queue_release(member, holds);
                    Admitted::Unreachable
                }
            },
            Ok(Err(e)) => {
                self.failed(&e);
                // Redis does not roll back a script that fails part-way;
                // the script checks every counter before it writes, but a
                // failure it did not foresee (or a connection lost after
                // it ran) must not keep slots and reservations for
                // HOLD_MS. Releasing what was never taken is a no-op.
                self.queue_release(member, holds);
                Admitted::Unreachable
            }
            Err(_) => {
                self.health
                    .failed(format!("no answer within {} ms", TIMEOUT.as_millis()));
                // The script may still have run: give back what it took.
                self.queue_release(member, holds);
                Admitted::Unreachable
            }
        }
    }

    /// Releases an admission's holds and adds its usage, in the background.
    pub fn settle(
        self: &Arc<Self>,
        member: String,
        holds: Holds,
        usage: Option<(u64, Option<f64>)>,
    ) {
        if holds.is_empty() {
            return;
        }
        let this = self.clone();
        let running = self.tasks.start();
        // On the request's own thread when it has a runtime: the settle's
        // round trip then uses that thread's connection, with no hop to
        // another thread. A serving thread keeps running its tasks while
        // the process flushes (`server::per_core`), so `flush` still waits
        // for them.
        let runtime = Handle::try_current().unwrap_or_else(|_| self.runtime.clone());
        runtime.spawn(async move {
            let _running = running;
            if !this.health.may_try() || !this.run_settle(&member, &holds, usage).await {
                this.queue_release(member, holds.clone());
                if let Some((tokens, cost)) = usage {
                    this.queue_usage(&holds, tokens, cost);
                }
            }
        });
    }

    /// One settle script run; whether Redis took it.
    async fn run_settle(
        &self,
        member: &str,
        holds: &Holds,
        usage: Option<(u64, Option<f64>)>,
    ) -> bool {
        let now = self.now_ms();
        let (tokens, cost) = usage.unwrap_or((0, None));
        let cost = cost
            .filter(|c| c.is_finite() && *c > 0.0)
            .map_or_else(|| "0".to_string(), |c| c.to_string());
        let mut call = self.settle_script.prepare_invoke();
        call.arg(member);
        for (scope, hold) in holds {
            let base = self.base(scope);
            match hold {
                Hold::Slot => {
                    call.key(keys::in_flight(&base))
                        .arg("p")
                        .arg(0)
                        .arg(0)
                        .arg(0);
                }
                Hold::Budget { period, reserved } => {
                    call.key(keys::spent(&base, period, now))
                        .key(keys::reservations(&base, period))
                        .key(keys::reserved_sum(&base, period))
                        .arg("b")
                        .arg(reserved.to_string())
                        .arg(&cost)
                        .arg(keys::spent_ttl(period, now));
                }
                Hold::Tokens => {
                    call.key(keys::tokens(&base, now))
                        .arg("t")
                        .arg(tokens)
                        .arg(0)
                        .arg(keys::minute_ttl(now));
                }
            }
        }
        let Some(mut conn) = self.conn() else {
            return false;
        };
        match self.run(call.invoke_async::<i64>(&mut conn)).await {
            Some(skipped) => {
                if skipped > 0 {
                    tracing::warn!(
                        commands = skipped,
                        "a limit counter in redis holds a value of the wrong type: part of a settle was skipped"
                    );
                }
                true
            }
            None => false,
        }
    }

    /// Waits for the settles under way, then sends everything pending in
    /// one last sync, within [`FLUSH_TIMEOUT`].
    pub async fn flush(&self) {
        let flushed = tokio::time::timeout(FLUSH_TIMEOUT, async {
            self.tasks.idle().await;
            self.sync_now(true).await;
        })
        .await;
        if flushed.is_err() {
            tracing::warn!(
                timeout_ms = FLUSH_TIMEOUT.as_millis() as u64,
                "flush: redis did not take the last limit counts in time; what is left is lost at exit"
            );
        }
    }

    /// Seeds the window's spend unless something already wrote it (SET NX);
    /// while Redis is unreachable the seed waits for the background sync.
    pub async fn seed_spend(&self, scope: &Scope, period: &Period, spent_usd: f64) {
        let now = self.now_ms();
        let seed = sync::Seed {
            key: keys::spent(&self.base(scope), period, now),
            value: spent_usd.to_string(),
            ttl_ms: keys::spent_ttl(period, now),
        };
        if self.health.may_try() {
            let mut pipe = redis::pipe();
            seed.add_to(&mut pipe);
            pipe.cmd("PING");
            if let Some(mut conn) = self.conn()
                && self
                    .run(pipe.query_async::<Vec<Option<String>>>(&mut conn))
                    .await
                    .is_some()
            {
                return;
            }
        }
        self.queue_seed(seed);
    }

    /// The scope's current counts, or `None` when Redis did not answer.
    pub async fn current(&self, limit: &Limit) -> Option<Current> {
        if !self.health.may_try() {
            return None;
        }
        let now = self.now_ms();
        let base = self.base(&limit.scope);
        let mut pipe = redis::pipe();
        if limit.rpm.is_some() {
            pipe.get(keys::requests(&base, now));
        }
        if limit.tpm.is_some() {
            pipe.get(keys::tokens(&base, now));
        }
        if limit.max_parallel.is_some() {
            pipe.zcount(keys::in_flight(&base), now, "+inf");
        }
        if let Some(budget) = &limit.budget {
            pipe.get(keys::spent(&base, &budget.period, now))
                .get(keys::reserved_sum(&base, &budget.period));
        }
        pipe.cmd("PING");
        let mut conn = self.conn()?;
        let values = self
            .run(pipe.query_async::<Vec<Option<String>>>(&mut conn))
            .await?;
        let mut values = values
            .into_iter()
            .map(|v| v.and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0));
        let mut current = empty_current(limit, now);
        if limit.rpm.is_some() {
            current.requests = to_count(values.next().unwrap_or(0.0));
        }
        if limit.tpm.is_some() {
            current.tokens = to_count(values.next().unwrap_or(0.0));
        }
        if limit.max_parallel.is_some() {
            current.parallel = to_count(values.next().unwrap_or(0.0));
        }
        if limit.budget.is_some() {
            current.spent_usd = values.next().unwrap_or(0.0);
            current.reserved_usd = values.next().unwrap_or(0.0).max(0.0);
        }
        Some(current)
    }
}

/// After-values, or the refusal, from the admit script's reply.
fn read_reply(
    checks: &[Check<'_>],
    reply: &[String],
    now: u64,
) -> Option<Result<Vec<f64>, Refused>> {
    let (head, rest) = reply.split_first()?;
    let number = |s: &String| s.parse::<f64>().ok();
    match head.as_str() {
        "1" if rest.len() == checks.len() => rest.iter().map(number).collect::<Option<_>>().map(Ok),
        "0" => {
            let [at, current, reserved] = rest else {
                return None;
            };
            let check = checks.get(at.parse::<usize>().ok()?.checked_sub(1)?)?;
            Some(Err(check.refuse(number(current)?, number(reserved)?, now)))
        }
        _ => None,
    }
}
