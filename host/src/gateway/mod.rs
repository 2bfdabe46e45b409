//! A request's path through the host: parse, sanitise, route, call the
//! provider through its adapter (with retries, cooldowns and fallbacks),
//! price, answer.
//!
//! - [`admit`]: the money checks before the call ([`reservation`] prices
//!   what a budget reserves).
//! - [`chat`], [`embeddings`]: the operations; [`request`] parses the body
//!   and prepares it for a deployment, without the gateway's
//!   [`own_fields`]; [`views`] are the typed views plugins read.
//! - [`retry`]: a call across model groups (fallbacks); [`group`]: the
//!   attempts within one group (pick, back off, attempt, record);
//!   [`route`]: the router's order.
//! - [`attempt`]: one attempt on one deployment, whole or streamed
//!   ([`stream`] relays the stream); [`books`] writes a served call down
//!   ([`cost`] prices it).
//! - [`failure`]: why an attempt failed; [`error`]: what the client sees.

pub mod admit;
pub mod attempt;
pub mod books;
pub mod cached;
pub mod chat;
pub mod cost;
pub mod embeddings;
pub mod error;
pub mod failure;
pub mod group;
pub mod guard;
pub mod health;
pub mod own_fields;
pub mod request;
pub mod reservation;
pub mod retry;
pub mod route;
pub mod stream;
pub mod views;

pub use attempt::Mode;
pub use error::ApiError;

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;

use crate::config::Config;
use crate::plugins::Registry;
use crate::state::State;
use crate::upstream::Upstream;

/// Everything a request needs.
pub struct Gateway {
    pub config: Arc<Config>,
    pub registry: Arc<Registry>,
    pub upstream: Upstream,
    /// Live state of every deployment (shared through Redis when set).
    pub state: Arc<State>,
    /// The response cache, when the config turns it on.
    pub cache: Option<Arc<crate::cache::ResponseCache>>,
    /// Budget reservations already priced.
    pub reservations: reservation::Reservations,
}

/// An SSE body being relayed.
pub type SseBody = Pin<Box<dyn Stream<Item = Result<Bytes, std::convert::Infallible>> + Send>>;

/// What the server sends back, with what it needs for its headers.
pub struct Served {
    pub group: String,
    pub deployment: String,
    pub route_reason: Option<String>,
    /// Attempts made, across groups, this one included.
    pub attempts: u32,
    /// Fallback groups moved to.
    pub fallbacks: u32,
    /// Time spent waiting for providers (backoff before retries included),
    /// so the gateway's own overhead can be reported apart.
    pub upstream_wait: Duration,
    pub body: ServedBody,
    /// What the cache did, when the call was cacheable.
    pub cache: Option<crate::cache::Outcome>,
}

/// A v7 UUID (the time in milliseconds, then random bits from the
/// thread's PRNG; `new_v4` asks the kernel for entropy on every request).
/// Time order matters to the spend table, whose unique index on the
/// request id then grows at its end: with random (v4) ids each insert
/// landed on a random page, and a record cost the writer 2.5 times as
/// much (`host/store/benches/spend_insert.rs`).
pub fn new_id() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let mut random = [0u8; 10];
    let bits = ID_RNG.with(|rng| rng.borrow_mut().u128(..));
    random.copy_from_slice(&bits.to_le_bytes()[..10]);
    uuid::Builder::from_unix_timestamp_millis(ms, &random)
        .into_uuid()
        .to_string()
}

thread_local! {
    /// The PRNG behind request ids, seeded once per thread by the OS.
    /// Ids are unique keys across replicas sharing one database, and
    /// `fastrand`'s own seed is a hash, with fixed keys, of the clock and
    /// the thread id: the same thread ids in two replicas would leave
    /// only the clock between their sequences.
    static ID_RNG: std::cell::RefCell<fastrand::Rng> = std::cell::RefCell::new({
        let mut seed = [0u8; 8];
        crate::identity::secret::fill_random(&mut seed, "request ids");
        fastrand::Rng::with_seed(u64::from_le_bytes(seed))
    });
}

pub enum ServedBody {
    Json(Bytes),
    Sse(SseBody),
}

#[cfg(test)]
mod tests {
    #[test]
    fn request_ids_are_v7_uuids_in_time_order() {
        let ids: Vec<String> = (0..200)
            .map(|i| {
                if i == 100 {
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
                super::new_id()
            })
            .collect();
        for id in &ids {
            let uuid = uuid::Uuid::parse_str(id).unwrap();
            assert_eq!(uuid.get_version_num(), 7, "{id}");
        }
        // Ids of a later millisecond sort after every earlier one.
        assert!(ids[..100].iter().all(|a| a < &ids[100]), "{ids:?}");
        let unique: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(unique.len(), 200);
    }

    #[test]
    fn an_ids_random_bits_come_from_its_threads_seed_alone() {
        // Two replicas' `serve-0` threads: what sets their ids apart must
        // be the seed (the OS's), not the thread id or the clock. Threads
        // given the same seed draw the same bits; another seed, others.
        let random_bits = |seed: u64| {
            std::thread::spawn(move || {
                super::ID_RNG.with(|rng| *rng.borrow_mut() = fastrand::Rng::with_seed(seed));
                let id = uuid::Uuid::parse_str(&super::new_id()).unwrap();
                id.as_bytes()[6..].to_vec()
            })
            .join()
            .unwrap()
        };
        assert_eq!(random_bits(42), random_bits(42));
        assert_ne!(random_bits(42), random_bits(43));
    }
}
