//! Where entries live: this process's memory, a folder, or Redis.
//!
//! The store never fails a request. A backend that cannot be reached, a
//! file that cannot be read or written, a stored entry that is torn,
//! corrupt or of another version: each is a miss (or a skipped write),
//! counted per cause in [`Status`] and logged sparingly ([`faults`]).
//! Writes leave the request path: memory inserts inline, disk and Redis
//! write on a spawned task.

mod disk;
mod faults;
mod health;
mod inflight;
mod memory;
mod redis;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::runtime::Handle;

use crate::entry::Entry;
use crate::settings::{Backend as Configured, Settings};
use disk::Disk;
use faults::{Cause, Faults};
use inflight::InFlight;
use memory::Memory;
use redis::Redis;

/// Bytes of entries waiting to be written past which a write is skipped
/// (counted as `backlog`), so a slow disk or Redis cannot grow memory
/// without bound.
const MAX_BACKLOG_BYTES: u64 = 64 << 20;

/// Why an admin call (delete, flush, ping) failed. Messages name the Redis
/// host and port, never its URL or password.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("redis at {addr}: {message}")]
    Redis { addr: String, message: String },
    #[error("redis at {addr} did not answer within {ms} ms")]
    RedisTimeout { addr: String, ms: u64 },
    #[error("cache folder {}: {message}", path.display())]
    Disk { path: PathBuf, message: String },
}

/// What the cache holds and how it has fared, for `/health/readiness`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    /// LiteLLM's name for the backend: `local`, `disk` or `redis`.
    #[serde(rename = "type")]
    pub cache_type: &'static str,
    /// Entries held (memory and disk).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entries: Option<u64>,
    /// Bytes held, as counted against `max_size_bytes` (memory and disk).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// Redis only: whether it answered last (absent before the first try).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reachable: Option<bool>,
    pub lookups: u64,
    pub hits: u64,
    /// Entries stored.
    pub writes: u64,
    /// Entries not stored for being larger than `max_entry_bytes`.
    pub too_large: u64,
    /// Lost lookups and writes per cause (causes never seen are absent).
    pub faults: BTreeMap<&'static str, u64>,
    /// The last fault, `cause: message`.
    pub last_fault: Option<String>,
}

/// Which entries a flush deletes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// Keys that start with this (`""`: every entry).
    Prefix(String),
    /// One tenant scope's keys, in every namespace.
    Scope(String),
}

impl Selector {
    /// Whether `key` is selected.
    pub fn matches(&self, key: &str) -> bool {
        match self {
            Selector::Prefix(p) => key.starts_with(p.as_str()),
            Selector::Scope(s) => {
                crate::key::parse_key(key).is_some_and(|(_, scope, _)| scope == s)
            }
        }
    }

    /// Whether every entry is selected.
    pub fn is_all(&self) -> bool {
        matches!(self, Selector::Prefix(p) if p.is_empty())
    }
}

/// Counters shared by the store and its backends.
#[derive(Default)]
pub(crate) struct Stats {
    lookups: AtomicU64,
    hits: AtomicU64,
    writes: AtomicU64,
    too_large: AtomicU64,
    pub faults: Faults,
}

impl Stats {
    fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// The cache's entries, in the backend the settings name. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    stats: Arc<Stats>,
    writes: Arc<InFlight>,
    runtime: Option<Handle>,
    max_entry_bytes: usize,
}

enum Backend {
    Memory(Memory),
    Disk(Disk),
    Redis(Redis),
}

impl Store {
    /// Never fails: a backend that cannot be reached at start (Redis down, a
    /// folder that cannot be created) serves misses and counts the faults;
    /// Redis is probed in the background until it answers. Call it inside
    /// a tokio runtime (without one, disk writes block the caller and Redis
    /// is never reached).
    pub fn open(settings: &Settings) -> Store {
        let stats = Arc::new(Stats::default());
        let runtime = Handle::try_current().ok();
        let backend = match &settings.backend {
            Configured::Memory { max_bytes } => Backend::Memory(Memory::new(*max_bytes)),
            Configured::Disk { dir, max_bytes } => {
                Backend::Disk(Disk::open(dir, *max_bytes, stats.clone()))
            }
            Configured::Redis { url, prefix } => {
                Backend::Redis(Redis::open(url, prefix, stats.clone(), runtime.clone()))
            }
        };
        Store {
            inner: Arc::new(Inner {
                backend,
                stats,
                writes: Arc::new(InFlight::default()),
                runtime,
                max_entry_bytes: settings.max_entry_bytes,
            }),
        }
    }

    /// A fresh entry, or `None`: absent, expired, or a fault (counted per
    /// cause). Redis is given at most 100 ms.
    pub async fn get(&self, key: &str) -> Option<Entry> {
        let inner = &self.inner;
        Stats::add(&inner.stats.lookups);
        let now = now_ms();
        let found = match &inner.backend {
            Backend::Memory(memory) => memory.get(key, now),
            Backend::Disk(disk) => {
                let disk = disk.clone();
                let key = key.to_string();
                self.blocking(move || disk.read(&key, now))
                    .await
                    .unwrap_or_else(|message| {
                        inner.stats.faults.record(Cause::DiskRead, &message);
                        None
                    })
            }
            Backend::Redis(redis) => redis.get(key, now).await,
        };
        if found.is_some() {
            Stats::add(&inner.stats.hits);
        }
        found
    }

    /// Stores `entry` off the request path (memory inline; disk and Redis on
    /// a spawned task). Not stored: a body over `max_entry_bytes` (counted
    /// as `too_large`), an entry already expired, a write while too many
    /// bytes wait already (counted as `backlog`).
    pub fn put(&self, key: &str, entry: Entry) {
        let inner = &self.inner;
        if entry.body.len() > inner.max_entry_bytes {
            Stats::add(&inner.stats.too_large);
            return;
        }
        let now = now_ms();
        if !entry.is_fresh(now) {
            return;
        }
        if let Backend::Memory(memory) = &inner.backend {
            memory.put(key, entry);
            Stats::add(&inner.stats.writes);
            return;
        }
        let size = (key.len() + entry.body.len()) as u64;
        let Some(running) = inner.writes.start(size, MAX_BACKLOG_BYTES) else {
            let message = format!("more than {MAX_BACKLOG_BYTES} bytes wait to be written");
            inner.stats.faults.record(Cause::Backlog, &message);
            return;
        };
        let key = key.to_string();
        let stats = inner.stats.clone();
        match (&inner.backend, &inner.runtime) {
            (Backend::Disk(disk), Some(runtime)) => {
                let disk = disk.clone();
                runtime.spawn_blocking(move || {
                    if disk.write(&key, &entry) {
                        Stats::add(&stats.writes);
                    }
                    drop(running);
                });
            }
            (Backend::Disk(disk), None) => {
                if disk.write(&key, &entry) {
                    Stats::add(&stats.writes);
                }
            }
            (Backend::Redis(redis), Some(runtime)) => {
                let redis = redis.clone();
                // On the request's own thread when it has a runtime: its
                // Redis connection, no hop to another thread (a serving
                // thread runs its tasks until the process has flushed).
                let runtime = Handle::try_current().unwrap_or_else(|_| runtime.clone());
                runtime.spawn(async move {
                    if redis.write(&key, &entry).await {
                        Stats::add(&stats.writes);
                    }
                    drop(running);
                });
            }
            (Backend::Redis(redis), None) => redis.skip_write(),
            (Backend::Memory(_), _) => {}
        }
    }

    /// Deletes `keys`; how many existed.
    pub async fn delete(&self, keys: &[String]) -> Result<u64, StoreError> {
        match &self.inner.backend {
            Backend::Memory(memory) => Ok(memory.delete(keys, now_ms())),
            Backend::Disk(disk) => {
                let disk = disk.clone();
                let keys = keys.to_vec();
                self.blocking(move || disk.delete(&keys))
                    .await
                    .map_err(|message| self.disk_error(message))?
            }
            Backend::Redis(redis) => redis.delete(keys).await,
        }
    }

    /// Deletes every entry whose key starts with `prefix` ("" = all of this
    /// cache's entries); how many there were.
    pub async fn flush(&self, prefix: &str) -> Result<u64, StoreError> {
        self.flush_where(&Selector::Prefix(prefix.to_string()))
            .await
    }

    /// Deletes every entry `which` selects; how many there were.
    pub async fn flush_where(&self, which: &Selector) -> Result<u64, StoreError> {
        match &self.inner.backend {
            Backend::Memory(memory) => Ok(memory.flush(which, now_ms())),
            Backend::Disk(disk) => {
                let disk = disk.clone();
                let which = which.clone();
                self.blocking(move || disk.flush(&which))
                    .await
                    .map_err(|message| self.disk_error(message))?
            }
            Backend::Redis(redis) => redis.flush(which).await,
        }
    }

    /// Whether the backend can be reached (and, for disk, written).
    pub async fn ping(&self) -> Result<(), StoreError> {
        match &self.inner.backend {
            Backend::Memory(_) => Ok(()),
            Backend::Disk(disk) => {
                let disk = disk.clone();
                self.blocking(move || disk.ping())
                    .await
                    .map_err(|message| self.disk_error(message))?
            }
            Backend::Redis(redis) => redis.ping().await,
        }
    }

    pub fn status(&self) -> Status {
        let inner = &self.inner;
        let stats = &inner.stats;
        let (cache_type, size, reachable) = match &inner.backend {
            Backend::Memory(memory) => ("local", Some(memory.size()), None),
            Backend::Disk(disk) => ("disk", Some(disk.size()), None),
            Backend::Redis(redis) => ("redis", None, redis.reachable()),
        };
        Status {
            cache_type,
            entries: size.map(|(entries, _)| entries),
            bytes: size.map(|(_, bytes)| bytes),
            reachable,
            lookups: stats.lookups.load(Ordering::Relaxed),
            hits: stats.hits.load(Ordering::Relaxed),
            writes: stats.writes.load(Ordering::Relaxed),
            too_large: stats.too_large.load(Ordering::Relaxed),
            faults: stats.faults.counts(),
            last_fault: stats.faults.last(),
        }
    }

    /// Waits until no write spawned so far (or since) is running: for tests
    /// and a clean stop.
    pub async fn flush_writes(&self) {
        self.inner.writes.idle().await;
    }

    /// Runs blocking file work on tokio's blocking pool (inline without a
    /// runtime); `Err` when the task died.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, String> {
        match &self.inner.runtime {
            Some(runtime) => runtime
                .spawn_blocking(work)
                .await
                .map_err(|e| format!("disk task failed: {e}")),
            None => Ok(work()),
        }
    }

    fn disk_error(&self, message: String) -> StoreError {
        let path = match &self.inner.backend {
            Backend::Disk(disk) => disk.dir().to_path_buf(),
            _ => PathBuf::new(),
        };
        StoreError::Disk { path, message }
    }
}

/// The wall clock in Unix milliseconds, as entries record time.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}

#[cfg(test)]
mod tests;
