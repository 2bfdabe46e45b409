//! Signed webhooks: each hook of `webhooks:` that a callback list turns on
//! ([`crate::config::webhooks`]) gets the events it asked for as
//! `{"event_type", "timestamp", "data"}`, POSTed with
//! `X-Signature-256: sha256=<hex HMAC-SHA256 of the body>`,
//! `X-Switchyard-Event` and `X-Switchyard-Delivery` (one id per event and
//! hook, the same on every retry).
//!
//! On the request path an event costs one check of a bit set and, when a
//! hook wants it, one serialisation shared by every hook and a `try_send`
//! per hook into its bounded queue; a full queue drops the event and
//! counts it. Everything else (signing, sending, retrying) is the hook's
//! worker's ([`deliver`]), so a slow or dead receiver never slows a request.

mod body;
mod deliver;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::mpsc;

use super::events::*;
use crate::config::webhooks::{Event, Events, Webhook};
pub use deliver::Policy;
use deliver::{Counts, Job, Worker};

/// Events a hook's queue holds before it drops new ones.
pub const QUEUE: usize = 1024;

/// Every hook that is on, and the events any of them wants.
pub struct Webhooks {
    hooks: Vec<Hook>,
    wanted: Events,
}

struct Hook {
    name: String,
    shown_url: String,
    events: Events,
    headers: Vec<String>,
    queue: mpsc::Sender<Job>,
    counts: Arc<Counts>,
}

/// One hook as `GET /admin/webhooks` and the metrics show it: no secret, no
/// header value, no token in the URL.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HookStats<'a> {
    pub name: &'a str,
    /// Scheme, host, port and path only.
    pub url: &'a str,
    pub events: Vec<&'static str>,
    /// The names of the hook's own headers.
    pub headers: &'a [String],
    /// Delivered (a 2xx answer), at the first attempt or a later one.
    pub delivered: u64,
    /// Given up on: a 4xx other than 429, or every attempt failed.
    pub failed: u64,
    /// Never queued: the queue was full.
    pub dropped: u64,
    /// Attempts after a first one (each retry counts once).
    pub retried: u64,
    /// Queued or being delivered now.
    pub pending: u64,
    pub queue_capacity: usize,
}

impl Webhooks {
    /// `None` when no hook is on. Spawns one worker per hook: call in the
    /// tokio runtime.
    pub fn new(config: &crate::config::Config) -> Option<Webhooks> {
        Webhooks::start(&config.webhooks, Policy::default(), QUEUE)
    }

    /// [`Webhooks::new`] with its own delivery policy and queue size.
    pub fn start(hooks: &[Webhook], policy: Policy, queue: usize) -> Option<Webhooks> {
        let mut started = Vec::with_capacity(hooks.len());
        for hook in hooks {
            let counts = Arc::new(Counts::new());
            let worker = match Worker::new(hook, policy.clone(), counts.clone()) {
                Ok(w) => Arc::new(w),
                Err(e) => {
                    tracing::error!(hook = %hook.name, error = %e, "webhook cannot start; its events are not sent");
                    continue;
                }
            };
            let (tx, rx) = mpsc::channel(queue.max(1));
            tokio::spawn(worker.run(rx));
            tracing::info!(hook = %hook.name, url = %hook.shown_url(), events = ?hook.events, "webhook on");
            started.push(Hook {
                name: hook.name.clone(),
                shown_url: hook.shown_url(),
                events: hook.events,
                headers: hook.headers.iter().map(|(k, _)| k.to_string()).collect(),
                queue: tx,
                counts,
            });
        }
        if started.is_empty() {
            return None;
        }
        let wanted = started
            .iter()
            .fold(Events::default(), |all, h| all.union(h.events));
        Some(Webhooks {
            hooks: started,
            wanted,
        })
    }

    pub fn started(&self, e: &Started<'_>) {
        self.offer(Event::RequestStart, || body::Start::from(e));
    }

    pub fn finished(&self, e: &Finished<'_>) {
        let event = body::End::event(e);
        self.offer(event, || body::End::new(e, event));
    }

    pub fn fallback(&self, e: &Fallback<'_>) {
        self.offer(Event::ModelFallback, || body::Fell::from(e));
    }

    pub fn cooled(&self, e: &Cooled<'_>) {
        self.offer(Event::DeploymentCooldown, || body::Cooldown::from(e));
    }

    pub fn refused(&self, e: &Refused<'_>) {
        let event = match e.kind {
            Refusal::RateLimit => Event::RateLimitHit,
            Refusal::Budget => Event::BudgetExceeded,
        };
        self.offer(event, || body::Limit::from(e));
    }

    pub fn plugin_failed(&self, e: &PluginFailure<'_>) {
        self.offer(Event::PluginFailed, || body::PluginFailed::from(e));
    }

    /// Writes the body once, if any hook wants `event`, and queues it for
    /// each that does.
    fn offer<D: Serialize>(&self, event: Event, data: impl FnOnce() -> D) {
        if !self.wanted.contains(event) {
            return;
        }
        let timestamp = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let body = match body::write(event, &timestamp, data()) {
            Ok(b) => Bytes::from(b),
            Err(e) => {
                tracing::debug!(event = event.name(), error = %e, "webhook body not written");
                return;
            }
        };
        for hook in self.hooks.iter().filter(|h| h.events.contains(event)) {
            hook.counts.pending.fetch_add(1, Ordering::AcqRel);
            let job = Job {
                event,
                body: body.clone(),
            };
            if hook.queue.try_send(job).is_err() {
                hook.counts.pending.fetch_sub(1, Ordering::AcqRel);
                let dropped = hook.counts.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if hook.counts.may_warn() {
                    tracing::warn!(hook = %hook.name, event = event.name(), dropped, "webhook queue full; event dropped");
                }
            }
        }
    }

    /// Each hook's counts, in config order (by name).
    pub fn stats(&self) -> Vec<HookStats<'_>> {
        self.hooks
            .iter()
            .map(|h| {
                let c = &h.counts;
                HookStats {
                    name: &h.name,
                    url: &h.shown_url,
                    events: h.events.iter().map(Event::name).collect(),
                    headers: &h.headers,
                    delivered: c.delivered.load(Ordering::Relaxed),
                    failed: c.failed.load(Ordering::Relaxed),
                    dropped: c.dropped.load(Ordering::Relaxed),
                    retried: c.retried.load(Ordering::Relaxed),
                    pending: c.pending.load(Ordering::Acquire),
                    queue_capacity: h.queue.max_capacity(),
                }
            })
            .collect()
    }

    /// Waits until every queued event is delivered or given up on, for at
    /// most `within`; true when none is left. For a clean stop: call once
    /// the server has stopped taking requests (every request's events are
    /// queued by then).
    pub async fn flush(&self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        for hook in &self.hooks {
            let counts = &hook.counts;
            loop {
                // Registered before the check, so that a delivery ending
                // in between still wakes this.
                let idle = counts.idle.notified();
                tokio::pin!(idle);
                idle.as_mut().enable();
                if counts.pending.load(Ordering::Acquire) == 0 {
                    break;
                }
                if tokio::time::timeout_at(deadline, idle).await.is_err() {
                    let left: u64 = self
                        .hooks
                        .iter()
                        .map(|h| h.counts.pending.load(Ordering::Acquire))
                        .sum();
                    tracing::warn!(
                        left,
                        within_s = within.as_secs_f64(),
                        "webhook events still undelivered at shutdown are lost"
                    );
                    return false;
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests;
