//! The response cache as the gateway uses it: the configured store, the
//! calls in flight, and what the cache does for one request ([`Plan`]):
//! which namespace and tenant scope its key falls in, whether it reads and
//! whether it writes (the config's mode and the request's [`Controls`]).
//! The request path itself is in [`crate::gateway::cached`]; the storage,
//! keys and stream assembly in the `switchyard-cache` crate.

pub mod controls;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use switchyard_cache::flight::Flights;
use switchyard_cache::{Entry, Mode, Settings, Store};

use crate::gateway::ApiError;
use crate::identity::Principal;
use crate::state::now_ms;

pub use controls::Controls;

/// The namespace of keys when neither the config nor the request names one.
pub const DEFAULT_NAMESPACE: &str = "switchyard";

/// The cache one gateway serves from.
pub struct ResponseCache {
    pub settings: Settings,
    pub store: Store,
    /// Chat calls in flight, by key: identical ones wait for the first.
    pub flights: Arc<Flights<ApiError>>,
}

/// The operations the cache knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Chat,
    Embeddings,
}

impl Op {
    /// Its name in the key's hash.
    pub fn name(self) -> &'static str {
        match self {
            Op::Chat => "chat",
            Op::Embeddings => "embeddings",
        }
    }
}

/// What the cache does for one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub namespace: String,
    /// The tenant: `team:<id>`, `key:<hash prefix>`, `master` or
    /// `anonymous`. Two tenants never read each other's entries.
    pub scope: String,
    /// Whether a stored answer may be served.
    pub reads: bool,
    /// Whether the answer is stored.
    pub writes: bool,
    /// How long the stored answer lives.
    pub ttl: Option<Duration>,
    /// Only entries younger than this are served.
    pub s_maxage: Option<Duration>,
}

impl Plan {
    /// The full key for a hash.
    pub fn key(&self, hash: &[u8; 32]) -> String {
        switchyard_cache::key::cache_key(&self.namespace, &self.scope, hash)
    }
}

/// What the answer's cache headers say.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// `hit`, `miss` or `bypass`.
    pub status: &'static str,
    /// The key (for embeddings, the items' keys).
    pub key: String,
    /// Embeddings: items served from the cache, of all.
    pub items: Option<(usize, usize)>,
}

/// The tenant scope of a caller's entries.
pub fn scope(principal: &Principal) -> String {
    match principal {
        Principal::Open => "anonymous".into(),
        Principal::Master => "master".into(),
        Principal::Key(h) => match &h.key.record.team_id {
            Some(team) => format!("team:{team}"),
            None => format!("key:{}", h.key.id.get(..16).unwrap_or(&h.key.id)),
        },
    }
}

impl ResponseCache {
    /// Opens the configured store (never fails: an unreachable backend
    /// serves misses). Must run inside the runtime.
    pub fn open(settings: Settings) -> ResponseCache {
        let store = Store::open(&settings);
        ResponseCache {
            settings,
            store,
            flights: Arc::new(Flights::default()),
        }
    }

    /// What the cache does for a request; `None` when the operation is not
    /// cached at all (no headers then).
    pub fn plan(&self, op: Op, controls: &Controls, principal: &Principal) -> Option<Plan> {
        let types = &self.settings.call_types;
        let cached = match op {
            Op::Chat => types.chat,
            Op::Embeddings => types.embeddings,
        };
        if !cached {
            return None;
        }
        let on = self.settings.mode == Mode::DefaultOn || controls.use_cache;
        Some(Plan {
            namespace: controls
                .namespace
                .clone()
                .or_else(|| self.settings.namespace.clone())
                .unwrap_or_else(|| DEFAULT_NAMESPACE.into()),
            scope: scope(principal),
            reads: on && !controls.no_cache,
            writes: on && !controls.no_store,
            ttl: controls.ttl.or(self.settings.ttl),
            s_maxage: controls.s_maxage,
        })
    }

    /// The stored answer for `key`, if fresh enough for the plan.
    pub async fn lookup(&self, plan: &Plan, key: &str) -> Option<Entry> {
        let entry = self.store.get(key).await?;
        match plan.s_maxage {
            Some(max) if entry.age_ms(now_ms()) > max.as_millis() as u64 => None,
            _ => Some(entry),
        }
    }

    /// Stores an answer (off the request path), if the plan writes.
    pub fn keep(&self, plan: &Plan, key: &str, body: Bytes) {
        if !plan.writes {
            return;
        }
        let now = now_ms();
        let entry = Entry {
            created_ms: now,
            expires_ms: plan.ttl.map(|t| now.saturating_add(t.as_millis() as u64)),
            body,
        };
        self.store.put(key, entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_cache::{Backend, CallTypes};

    fn settings(mode: Mode) -> Settings {
        Settings {
            backend: Backend::Memory { max_bytes: 1 << 20 },
            ttl: Some(Duration::from_secs(60)),
            namespace: None,
            mode,
            call_types: CallTypes {
                chat: true,
                embeddings: false,
            },
            max_entry_bytes: 1 << 20,
        }
    }

    #[tokio::test]
    async fn the_plan_follows_the_mode_and_the_requests_controls() {
        let on = ResponseCache::open(settings(Mode::DefaultOn));
        let p = on
            .plan(Op::Chat, &Controls::default(), &Principal::Open)
            .unwrap();
        assert_eq!(
            p,
            Plan {
                namespace: "switchyard".into(),
                scope: "anonymous".into(),
                reads: true,
                writes: true,
                ttl: Some(Duration::from_secs(60)),
                s_maxage: None,
            }
        );
        assert!(
            on.plan(Op::Embeddings, &Controls::default(), &Principal::Open)
                .is_none()
        );
        let c = Controls {
            no_cache: true,
            ttl: Some(Duration::from_secs(5)),
            namespace: Some("n".into()),
            ..Controls::default()
        };
        let p = on.plan(Op::Chat, &c, &Principal::Master).unwrap();
        assert_eq!(
            (
                p.reads,
                p.writes,
                p.ttl,
                p.namespace.as_str(),
                p.scope.as_str()
            ),
            (false, true, Some(Duration::from_secs(5)), "n", "master")
        );

        let off = ResponseCache::open(settings(Mode::DefaultOff));
        let p = off
            .plan(Op::Chat, &Controls::default(), &Principal::Open)
            .unwrap();
        assert_eq!((p.reads, p.writes), (false, false));
        let opt_in = Controls {
            use_cache: true,
            no_store: true,
            ..Controls::default()
        };
        let p = off.plan(Op::Chat, &opt_in, &Principal::Open).unwrap();
        assert_eq!((p.reads, p.writes), (true, false));
    }
}
