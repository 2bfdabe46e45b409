//! Entries in Redis, shared by every replica and bounded by TTL.
//!
//! Key `{prefix}cache:{key}`, value [`Entry::encode`], `PX` the time left.
//! A lookup waits at most [`GET_TIMEOUT`], so a stalled Redis costs a
//! request that much and no more; a Redis that refuses connections costs
//! nothing once [`Health`] knows it is down. Messages name the host and
//! port, never the URL (it may carry a password).

use std::sync::{Arc, Weak};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, RedisError};
use switchyard_redis::{PerThread, connection_lost, scrub};
use tokio::runtime::Handle;

use super::faults::Cause;
use super::health::Health;
use super::{Selector, Stats, StoreError, now_ms};
use crate::entry::Entry;

/// The longest a lookup waits for Redis.
const GET_TIMEOUT: Duration = Duration::from_millis(100);
/// The longest a write (off the request path) waits.
const WRITE_TIMEOUT: Duration = Duration::from_millis(500);
/// The longest one round trip of delete, flush or ping waits.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(2);
/// The background probe's wait for a PING, and its pause between tries.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
const PROBE_INTERVAL: Duration = Duration::from_millis(500);
/// Keys per SCAN step and per UNLINK.
const BATCH: usize = 1_000;

#[derive(Clone)]
pub(crate) struct Redis {
    state: Arc<State>,
}

struct State {
    /// `None` when the URL could not be used (every call is a fault).
    /// A connection per thread: a lookup runs on the request's thread.
    conn: Option<PerThread>,
    /// Why there is no connection.
    unusable: Option<String>,
    /// `{prefix}cache:`
    key_prefix: String,
    /// `host:port`, for messages.
    addr: String,
    /// The URL and its password, taken out of any error text.
    secrets: Vec<String>,
    health: Health,
    stats: Arc<Stats>,
    runtime: Option<Handle>,
}

impl Redis {
    /// Prepares connections (one per thread, each made on its thread's
    /// first use), and starts a probe so that the first request finds Redis
    /// known to be up or down.
    pub fn open(url: &str, prefix: &str, stats: Arc<Stats>, runtime: Option<Handle>) -> Redis {
        let (secrets, client) = switchyard_redis::open(url);
        let addr = match &client {
            Ok(client) => client.get_connection_info().addr().to_string(),
            Err(_) => "(unusable url)".to_string(),
        };
        let conn = connect(client, runtime.as_ref());
        let redis = Redis {
            state: Arc::new(State {
                unusable: conn.as_ref().err().cloned(),
                conn: conn.ok(),
                key_prefix: format!("{prefix}cache:"),
                addr,
                secrets,
                health: Health::new(),
                stats,
                runtime,
            }),
        };
        match &redis.state.unusable {
            Some(reason) => {
                let message = format!("redis at {}: {reason}", redis.state.addr);
                redis.state.health.down(&message);
            }
            None => redis.start_probe(),
        }
        redis
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.state.key_prefix)
    }

    /// The connection, unless Redis is known to be down (then the fault is
    /// counted).
    fn usable(&self) -> Option<ConnectionManager> {
        let state = &self.state;
        match &state.conn {
            Some(conns) if !state.health.is_down() => match conns.get() {
                Ok(conn) => Some(conn),
                Err(e) => {
                    let message = scrub(&e, &state.secrets);
                    state.stats.faults.record(classify(&e), &message);
                    None
                }
            },
            _ => {
                state
                    .stats
                    .faults
                    .record(Cause::RedisUnreachable, &state.health.error());
                None
            }
        }
    }

    /// Runs one round trip within `limit`, counting and classifying what
    /// went wrong.
    async fn run<T>(
        &self,
        limit: Duration,
        round_trip: impl Future<Output = redis::RedisResult<T>>,
    ) -> Option<T> {
        match self.round_trip(limit, round_trip).await {
            Ok(value) => Some(value),
            Err((cause, detail)) => {
                let message = format!("redis at {}: {detail}", self.state.addr);
                self.state.stats.faults.record(cause, &message);
                None
            }
        }
    }

    /// One round trip within `limit`; a failure updates the health and
    /// comes back as its cause and what happened (free of secrets).
    async fn round_trip<T>(
        &self,
        limit: Duration,
        round_trip: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, (Cause, String)> {
        let state = &self.state;
        let (cause, detail) = match tokio::time::timeout(limit, round_trip).await {
            Ok(Ok(value)) => {
                state.health.up(&state.addr);
                return Ok(value);
            }
            Ok(Err(e)) => (classify(&e), scrub(&e, &state.secrets)),
            Err(_) => (
                Cause::RedisTimeout,
                format!("no answer within {} ms", limit.as_millis()),
            ),
        };
        if cause != Cause::RedisError {
            self.lost(cause, &format!("redis at {}: {detail}", state.addr));
        }
        Err((cause, detail))
    }

    /// Redis did not answer: skip it until the probe hears from it.
    fn lost(&self, cause: Cause, message: &str) {
        // A connection that broke is replaced on every thread at its next
        // use, rather than each failing once more on it (a timeout keeps
        // them: new connections do not make Redis faster).
        if cause == Cause::RedisUnreachable
            && let Some(conns) = &self.state.conn
        {
            conns.reset();
        }
        if self.state.health.down(message) {
            self.start_probe();
        }
    }

    fn start_probe(&self) {
        let Some(runtime) = &self.state.runtime else {
            return;
        };
        if !self.state.health.start_probing() {
            return;
        }
        runtime.spawn(probe(Arc::downgrade(&self.state)));
    }

    /// A fresh entry for `key`, or `None` (absent, expired, or a counted
    /// fault).
    pub async fn get(&self, key: &str, now_ms: u64) -> Option<Entry> {
        let mut conn = self.usable()?;
        let full = self.key(key);
        let mut get = redis::cmd("GET");
        get.arg(&full);
        let value = self
            .run(GET_TIMEOUT, get.query_async::<Option<Vec<u8>>>(&mut conn))
            .await??;
        match Entry::decode(&value, key) {
            Ok(entry) => Some(entry).filter(|entry| entry.is_fresh(now_ms)),
            // Left in place: an entry of another version may be a newer
            // replica's during a rolling upgrade, and TTL removes the rest.
            Err(e) => {
                let message = format!("redis key {full}: {e}");
                self.state.stats.faults.record(Cause::from(&e), &message);
                None
            }
        }
    }

    /// Stores `key`'s entry for the time it has left; true once Redis took
    /// it.
    pub async fn write(&self, key: &str, entry: &Entry) -> bool {
        let mut set = redis::cmd("SET");
        set.arg(self.key(key)).arg(entry.encode(key));
        if let Some(expires) = entry.expires_ms {
            // From now, not from the put: the write may have waited.
            let left = expires.saturating_sub(now_ms());
            if left == 0 {
                return false;
            }
            set.arg("PX").arg(left);
        }
        let Some(mut conn) = self.usable() else {
            return false;
        };
        self.run(WRITE_TIMEOUT, set.query_async::<()>(&mut conn))
            .await
            .is_some()
    }

    /// Counts a write that cannot be tried (no runtime to run it on).
    pub fn skip_write(&self) {
        let _ = self.usable();
    }

    /// The connection for an admin call, tried even while Redis is thought
    /// down (the caller wants the real answer).
    fn admin_conn(&self) -> Result<ConnectionManager, StoreError> {
        let state = &self.state;
        let conns = state.conn.as_ref().ok_or_else(|| StoreError::Redis {
            addr: state.addr.clone(),
            message: state.unusable.clone().unwrap_or_default(),
        })?;
        conns.get().map_err(|e| StoreError::Redis {
            addr: state.addr.clone(),
            message: scrub(&e, &state.secrets),
        })
    }

    async fn admin<T>(
        &self,
        round_trip: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, StoreError> {
        self.round_trip(ADMIN_TIMEOUT, round_trip)
            .await
            .map_err(|(cause, message)| {
                let addr = self.state.addr.clone();
                match cause {
                    Cause::RedisTimeout => StoreError::RedisTimeout {
                        addr,
                        ms: ADMIN_TIMEOUT.as_millis() as u64,
                    },
                    _ => StoreError::Redis { addr, message },
                }
            })
    }

    /// Removes `keys`; how many existed.
    pub async fn delete(&self, keys: &[String]) -> Result<u64, StoreError> {
        let mut conn = self.admin_conn()?;
        let mut deleted = 0;
        for batch in keys.chunks(BATCH) {
            let full: Vec<String> = batch.iter().map(|key| self.key(key)).collect();
            deleted += self.unlink(&mut conn, &full).await?;
        }
        Ok(deleted)
    }

    async fn unlink(
        &self,
        conn: &mut ConnectionManager,
        keys: &[String],
    ) -> Result<u64, StoreError> {
        if keys.is_empty() {
            return Ok(0);
        }
        let mut unlink = redis::cmd("UNLINK");
        unlink.arg(keys);
        self.admin(unlink.query_async::<u64>(conn)).await
    }

    /// Removes every entry whose key starts with `prefix`; how many there
    /// were.
    pub async fn flush(&self, which: &Selector) -> Result<u64, StoreError> {
        let mut conn = self.admin_conn()?;
        let own = &self.state.key_prefix;
        // A glob every selected key fits; the keys it finds are checked.
        let pattern = match which {
            Selector::Prefix(prefix) => format!("{}{}*", escape_glob(own), escape_glob(prefix)),
            Selector::Scope(scope) => format!("{}*:{}:*", escape_glob(own), escape_glob(scope)),
        };
        let mut cursor: u64 = 0;
        let mut deleted = 0;
        loop {
            let mut scan = redis::cmd("SCAN");
            scan.arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(BATCH);
            let (next, keys) = self
                .admin(scan.query_async::<(u64, Vec<String>)>(&mut conn))
                .await?;
            let keys: Vec<String> = keys
                .into_iter()
                .filter(|k| {
                    k.strip_prefix(own.as_str())
                        .is_some_and(|k| which.matches(k))
                })
                .collect();
            deleted += self.unlink(&mut conn, &keys).await?;
            if next == 0 {
                return Ok(deleted);
            }
            cursor = next;
        }
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.admin_conn()?;
        self.admin(redis::cmd("PING").query_async::<()>(&mut conn))
            .await
    }

    pub fn reachable(&self) -> Option<bool> {
        self.state.health.reachable()
    }
}

/// Pings Redis until it answers, then stops; ends with the store.
async fn probe(state: Weak<State>) {
    loop {
        let Some(strong) = state.upgrade() else {
            return;
        };
        let redis = Redis { state: strong };
        if let Some(mut conn) = redis.state.conn.as_ref().and_then(|c| c.get().ok()) {
            let ping = redis::cmd("PING");
            // Not counted as a fault: the probe loses no lookup or write.
            let answered = redis
                .round_trip(PROBE_TIMEOUT, ping.query_async::<()>(&mut conn))
                .await
                .is_ok();
            if answered && !redis.state.health.stop_probing() {
                return;
            }
        }
        drop(redis);
        tokio::time::sleep(PROBE_INTERVAL).await;
    }
}

/// A connection made on first use, or why there is none (free of secrets).
fn connect(client: Result<Client, String>, runtime: Option<&Handle>) -> Result<PerThread, String> {
    let client = client.map_err(|e| format!("bad redis url: {e}"))?;
    if runtime.is_none() {
        return Err("no tokio runtime to run it on".to_string());
    }
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(PROBE_TIMEOUT))
        .set_response_timeout(Some(ADMIN_TIMEOUT))
        // The probe retries; a lookup should not wait on a backoff.
        .set_number_of_retries(0);
    Ok(PerThread::new(client, config))
}

/// Connection-level failures take Redis down; an error reply does not.
fn classify(error: &RedisError) -> Cause {
    if error.is_timeout() {
        Cause::RedisTimeout
    } else if connection_lost(error) {
        Cause::RedisUnreachable
    } else {
        Cause::RedisError
    }
}

/// `prefix` with Redis's glob characters escaped, for SCAN MATCH.
fn escape_glob(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len());
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_characters_are_escaped() {
        assert_eq!(escape_glob("ns:team:a"), "ns:team:a");
        assert_eq!(escape_glob("a*b?c[d]e\\f"), "a\\*b\\?c\\[d\\]e\\\\f");
    }
}
