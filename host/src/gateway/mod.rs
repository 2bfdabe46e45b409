//! A request's path through the host: parse, sanitise, route, call the
//! provider through its adapter (retrying the next deployment on failures
//! that another deployment may not have), price, answer.

pub mod chat;
pub mod cost;
pub mod embeddings;
pub mod request;
pub mod route;
pub mod stats;
pub mod stream;

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;

use crate::config::Config;
use crate::plugins::Registry;
use crate::upstream::Upstream;

/// Everything a request needs.
pub struct Gateway {
    pub config: Arc<Config>,
    pub registry: Arc<Registry>,
    pub upstream: Upstream,
    pub stats: Arc<stats::Stats>,
}

/// An SSE body being relayed.
pub type SseBody = Pin<Box<dyn Stream<Item = Result<Bytes, std::convert::Infallible>> + Send>>;

/// What the server sends back, with what it needs for its headers.
pub struct Served {
    pub group: String,
    pub deployment: String,
    pub route_reason: Option<String>,
    /// Deployments tried, this one included.
    pub attempts: u32,
    /// Time spent waiting for providers, so the gateway's own overhead can
    /// be reported apart.
    pub upstream_wait: Duration,
    pub body: ServedBody,
}

pub enum ServedBody {
    Json(Bytes),
    Sse(SseBody),
}
