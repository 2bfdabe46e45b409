//! What the gateway tells its operators: Prometheus metrics
//! ([`metrics`], `GET /metrics`), one log line per request ([`request_log`]),
//! and signed webhooks ([`webhooks`]). Traces are `tracing` spans on the
//! path, exported over OTLP by the subscriber ([`traces`]).
//!
//! The request path reports facts through the free functions here (a
//! request started or finished, a fallback, a cooldown, a refusal, a
//! plugin call); each sink decides what to do with them, off the path: no
//! sink may take a lock a request contends for, allocate per label on a
//! hot path, or wait. Before [`install`] (unit tests, `plugin test`) every
//! report is dropped.

pub mod events;
pub mod metrics;
pub mod request_log;
pub mod traces;
pub mod webhooks;

use std::sync::OnceLock;

pub use events::{
    Attempted, Cooled, Fallback, Finished, PluginCall, PluginFailure, Refusal, Refused, Started,
};

/// Every sink of one gateway process.
pub struct Hub {
    pub metrics: metrics::Metrics,
    pub log: request_log::RequestLog,
    pub webhooks: Option<webhooks::Webhooks>,
}

impl Hub {
    /// The sinks `config` asks for.
    pub fn new(config: &crate::config::Config) -> Hub {
        Hub {
            metrics: metrics::Metrics::new(config),
            log: request_log::RequestLog::new(config),
            webhooks: webhooks::Webhooks::new(config),
        }
    }
}

static HUB: OnceLock<Hub> = OnceLock::new();

/// Installs the process's sinks (once; a second call is ignored and
/// returns false).
pub fn install(hub: Hub) -> bool {
    HUB.set(hub).is_ok()
}

/// The installed sinks, if any.
pub fn hub() -> Option<&'static Hub> {
    HUB.get()
}

/// A request was admitted and its model group is known.
pub fn started(e: &Started<'_>) {
    if let Some(h) = hub() {
        h.metrics.started(e);
        if let Some(w) = &h.webhooks {
            w.started(e);
        }
    }
}

/// A request ended (a stream: when it ended, however it ended).
pub fn finished(e: &Finished<'_>) {
    if let Some(h) = hub() {
        h.metrics.finished(e);
        h.log.finished(e);
        traces::finished(e);
        if let Some(w) = &h.webhooks {
            w.finished(e);
        }
    }
}

/// One attempt on one deployment ended.
pub fn attempted(e: &Attempted<'_>) {
    if let Some(h) = hub() {
        h.metrics.attempted(e);
    }
}

/// A call moved from one model group to another.
pub fn fallback(e: &Fallback<'_>) {
    if let Some(h) = hub() {
        h.metrics.fallback(e);
        if let Some(w) = &h.webhooks {
            w.fallback(e);
        }
    }
}

/// A deployment started cooling down.
pub fn cooled(e: &Cooled<'_>) {
    if let Some(h) = hub() {
        h.metrics.cooled(e);
        if let Some(w) = &h.webhooks {
            w.cooled(e);
        }
    }
}

/// A request was refused by a rate limit or a budget.
pub fn refused(e: &Refused<'_>) {
    if let Some(h) = hub() {
        h.metrics.refused(e);
        if let Some(w) = &h.webhooks {
            w.refused(e);
        }
    }
}

/// A plugin call ended (successful or not).
pub fn plugin_call(e: &PluginCall<'_>) {
    if crate::plugins::shadow::seen_call(e.duration) {
        return;
    }
    if let Some(h) = hub() {
        h.metrics.plugin_call(e);
        traces::plugin_call(e);
    }
}

/// A plugin call failed (a trap, a timeout, memory, a bad answer).
pub fn plugin_failed(e: &PluginFailure<'_>) {
    if crate::plugins::shadow::on_worker() {
        return;
    }
    if let Some(h) = hub() {
        h.metrics.plugin_failed(e);
        if let Some(w) = &h.webhooks {
            w.plugin_failed(e);
        }
    }
}

/// The config file was reloaded (`ok`) or failed to; `generation` is the
/// config serving after it.
pub fn config_reloaded(ok: bool, generation: u64) {
    if let Some(h) = hub() {
        h.metrics.config_reloaded(ok, generation);
    }
}

/// A plugin was (re)loaded from a file, or failed to.
pub fn plugin_reloaded(plugin: &str, ok: bool) {
    if let Some(h) = hub() {
        h.metrics.plugin_reloaded(plugin, ok);
    }
}
