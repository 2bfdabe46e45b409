//! A request's path through the host: parse, sanitise, route, call the
//! provider through its adapter (with retries, cooldowns and fallbacks),
//! price, answer.

pub mod attempts;
pub mod call;
pub mod chat;
pub mod cost;
pub mod embeddings;
pub mod failure;
pub mod health;
pub mod request;
pub mod route;
pub mod stream;

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
}

pub enum ServedBody {
    Json(Bytes),
    Sse(SseBody),
}
