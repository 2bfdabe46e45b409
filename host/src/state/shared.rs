//! Sharing cooldowns and per-minute usage between replicas through Redis.
//!
//! The request path never waits on Redis. A cooldown is written when it is
//! taken (a spawned `SET ... PX`), and every [`SYNC_INTERVAL`] a background
//! task sends this replica's new requests and tokens (`HINCRBY` on one hash
//! per minute) and reads back every replica's totals and cooldowns in one
//! pipelined round trip. When Redis cannot be reached the replica serves on
//! its own counts, says so in its log and in `/health/readiness`, and picks
//! the shared view up again when Redis returns.
//!
//! Keys (all under the configured prefix):
//! - `{prefix}:usage:{minute}`: hash, `{deployment id}:r` requests and
//!   `{deployment id}:t` tokens in that minute; expires after 3 minutes.
//! - `{prefix}:cooldown:{deployment id}`: JSON `{until_ms, class, reason}`,
//!   expiring when the cooldown ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::{Deserialize, Serialize};
use switchyard_redis::scrub;

use super::{Cooldown, State, now_ms};
use crate::config::{FailureClass, RedisSettings};

/// How often usage and cooldowns are synced.
pub const SYNC_INTERVAL: Duration = Duration::from_millis(100);
/// The longest a Redis round trip may take before it counts as lost.
const REDIS_TIMEOUT: Duration = Duration::from_millis(800);

/// How replicas share state, as `/health/readiness` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct SharedStatus {
    /// `memory` (this process only) or `redis`.
    pub backend: &'static str,
    /// For Redis: whether the last sync reached it.
    pub connected: bool,
    /// For Redis: why the last sync failed, while it fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl SharedStatus {
    pub fn memory() -> SharedStatus {
        SharedStatus {
            backend: "memory",
            connected: true,
            error: None,
        }
    }
}

/// A cooldown as stored in Redis.
#[derive(Serialize, Deserialize)]
struct StoredCooldown {
    until_ms: u64,
    class: String,
    reason: String,
}

/// The Redis side of the state.
pub struct Shared {
    conn: ConnectionManager,
    prefix: String,
    /// Per deployment: its requests and tokens fields in the usage hash.
    usage_fields: Vec<(String, String)>,
    cooldown_keys: Vec<String>,
    /// `None` until the first sync; then whether it reached Redis, and why not.
    status: Mutex<Option<Result<(), String>>>,
    /// The URL and its password, taken out of every error text.
    secrets: Vec<String>,
}

impl Shared {
    /// Prepares the connection (made lazily, so an unreachable Redis does
    /// not stop the gateway from starting). Must run inside a tokio runtime.
    pub fn new<'a>(
        settings: &RedisSettings,
        ids: impl Iterator<Item = &'a str> + Clone,
    ) -> Result<Arc<Shared>, String> {
        let (secrets, client) = switchyard_redis::open(&settings.url);
        let client = client.map_err(|e| format!("redis url: {e}"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| format!("redis: {}", scrub(&e, &secrets)))?;
        let cooldown_keys = ids
            .clone()
            .map(|id| format!("{}:cooldown:{id}", settings.prefix))
            .collect();
        let usage_fields = ids
            .map(|id| (format!("{id}:r"), format!("{id}:t")))
            .collect();
        Ok(Arc::new(Shared {
            conn,
            prefix: settings.prefix.clone(),
            usage_fields,
            cooldown_keys,
            status: Mutex::new(None),
            secrets,
        }))
    }

    pub fn status(&self) -> SharedStatus {
        let status = self.status.lock().map(|s| s.clone()).unwrap_or(None);
        SharedStatus {
            backend: "redis",
            connected: matches!(status, Some(Ok(()))),
            error: match status {
                Some(Err(e)) => Some(e),
                Some(Ok(())) => None,
                None => Some("not synced yet".into()),
            },
        }
    }

    /// Writes a cooldown for the other replicas (in the background).
    pub fn publish_cooldown(self: &Arc<Self>, index: usize, cooldown: &Cooldown) {
        let Some(key) = self.cooldown_keys.get(index).cloned() else {
            return;
        };
        let ttl = cooldown.until_ms.saturating_sub(now_ms()).max(1);
        let value = serde_json::to_string(&StoredCooldown {
            until_ms: cooldown.until_ms,
            class: cooldown.class.as_str().to_string(),
            reason: cooldown.reason.clone(),
        })
        .unwrap_or_default();
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let this = self.clone();
        rt.spawn(async move {
            let mut conn = this.conn.clone();
            let mut set = redis::cmd("SET");
            set.arg(&key).arg(&value).arg("PX").arg(ttl);
            match tokio::time::timeout(REDIS_TIMEOUT, set.query_async::<()>(&mut conn)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => this.note(Err(format!(
                    "writing a cooldown: {}",
                    scrub(&e, &this.secrets)
                ))),
                Err(_) => this.note(Err("writing a cooldown: timed out".into())),
            }
        });
    }

    /// Records whether Redis answered, logging each change once.
    fn note(&self, result: Result<(), String>) {
        let Ok(mut status) = self.status.lock() else {
            return;
        };
        match (&*status, &result) {
            (Some(Ok(())), Ok(())) | (Some(Err(_)), Err(_)) => {}
            (_, Ok(())) => tracing::info!("redis reachable: cooldowns and usage are shared"),
            (_, Err(e)) => tracing::warn!(
                error = %e,
                "redis unreachable: serving on this replica's own cooldowns and usage"
            ),
        }
        *status = Some(result);
    }

    /// One round trip: send new usage, read every replica's usage and
    /// cooldowns.
    async fn sync(&self, state: &State) {
        let now = now_ms();
        let minute = now / 60_000;
        let usage_key = format!("{}:usage:{minute}", self.prefix);
        let cells = state.cells();
        let mut taken = Vec::new();
        let mut pipe = redis::pipe();
        for (i, cell) in cells.iter().enumerate() {
            let (m, requests, tokens) = cell.take_unsynced();
            if requests == 0 && tokens == 0 {
                continue;
            }
            let Some((r_field, t_field)) = self.usage_fields.get(i) else {
                continue;
            };
            let key = format!("{}:usage:{m}", self.prefix);
            pipe.cmd("HINCRBY")
                .arg(&key)
                .arg(r_field)
                .arg(requests)
                .ignore();
            pipe.cmd("HINCRBY")
                .arg(&key)
                .arg(t_field)
                .arg(tokens)
                .ignore();
            pipe.cmd("EXPIRE").arg(&key).arg(180).ignore();
            taken.push((i, m));
        }
        pipe.cmd("HGETALL").arg(&usage_key);
        if !self.cooldown_keys.is_empty() {
            pipe.cmd("MGET").arg(&self.cooldown_keys);
        }
        let mut conn = self.conn.clone();
        let answer = tokio::time::timeout(
            REDIS_TIMEOUT,
            pipe.query_async::<(HashMap<String, u64>, Vec<Option<String>>)>(&mut conn),
        )
        .await;
        let (usage, cooldowns) = match answer {
            Ok(Ok(a)) => a,
            failed => {
                let why = match failed {
                    Ok(Err(e)) => scrub(&e, &self.secrets),
                    _ => "timed out".to_string(),
                };
                for (i, m) in taken {
                    cells[i].unsync(m);
                }
                for cell in cells {
                    cell.clear_shared();
                }
                self.note(Err(why));
                return;
            }
        };
        for (cell, (r_field, t_field)) in cells.iter().zip(&self.usage_fields) {
            let get = |field: &String| usage.get(field).copied().unwrap_or(0);
            cell.set_shared(minute, get(r_field), get(t_field));
        }
        for (i, stored) in cooldowns.iter().enumerate() {
            let Some(stored) = stored
                .as_deref()
                .and_then(|s| serde_json::from_str::<StoredCooldown>(s).ok())
            else {
                continue;
            };
            if let (Some(cell), Some(class)) = (cells.get(i), FailureClass::parse(&stored.class)) {
                cell.set_cooldown(Cooldown {
                    until_ms: stored.until_ms,
                    class,
                    reason: stored.reason,
                });
            }
        }
        self.note(Ok(()));
    }
}

/// Syncs every [`SYNC_INTERVAL`] while the state lives.
pub fn spawn_sync(shared: Arc<Shared>, state: Weak<State>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SYNC_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(state) = state.upgrade() else {
                return;
            };
            shared.sync(&state).await;
        }
    });
}
