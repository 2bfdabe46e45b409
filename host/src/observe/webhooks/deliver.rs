//! Delivery, off the request path: one worker per hook takes bodies from
//! the hook's queue and POSTs each, signed, with its own HTTP client.
//! 5xx, 429 and connection errors (timeouts included) are retried with
//! exponential backoff, the same delivery id on every attempt so that a
//! receiver can drop a repeat; any other answer ends the delivery.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hmac::{Hmac, Mac};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use sha2::Sha256;
use tokio::sync::{Notify, Semaphore, mpsc};

use crate::config::webhooks::{Event, Webhook};

/// One event for one hook.
pub struct Job {
    pub event: Event,
    pub body: Bytes,
}

/// How deliveries are made.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Attempts per delivery, the first included.
    pub attempts: u32,
    /// The wait before the first retry; doubled before each next one.
    pub backoff: Duration,
    /// The longest wait between attempts (a `Retry-After` included).
    pub max_backoff: Duration,
    pub connect_timeout: Duration,
    /// Per attempt, from sending to the end of the answer.
    pub timeout: Duration,
    /// Deliveries in flight at once, so that one event's retries do not
    /// hold up the others.
    pub in_flight: usize,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            attempts: 5,
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(3),
            timeout: Duration::from_secs(10),
            in_flight: 4,
        }
    }
}

/// What happened to a hook's events. `pending` counts those queued or in
/// flight; it goes up before a body is queued and down when its delivery
/// ends, so that a flush knows when all are out.
#[derive(Debug)]
pub struct Counts {
    pub delivered: AtomicU64,
    pub failed: AtomicU64,
    pub dropped: AtomicU64,
    pub retried: AtomicU64,
    pub pending: AtomicU64,
    /// Rung when `pending` falls to 0.
    pub idle: Notify,
    /// When (ms after `born`) the next warning may be logged.
    next_warning_ms: AtomicU64,
    born: Instant,
}

/// At most one warning a hook per this long: a dead receiver under load
/// must not flood the log.
const WARN_EVERY: Duration = Duration::from_secs(10);

impl Counts {
    pub fn new() -> Counts {
        Counts {
            delivered: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            retried: AtomicU64::new(0),
            pending: AtomicU64::new(0),
            idle: Notify::new(),
            next_warning_ms: AtomicU64::new(0),
            born: Instant::now(),
        }
    }

    fn finished(&self) {
        if self.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle.notify_waiters();
        }
    }

    /// Whether a warning may be logged now (then the next one waits).
    pub fn may_warn(&self) -> bool {
        let now = self.born.elapsed().as_millis() as u64;
        let next = self.next_warning_ms.load(Ordering::Relaxed);
        now >= next
            && self
                .next_warning_ms
                .compare_exchange(
                    next,
                    now + WARN_EVERY.as_millis() as u64,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
    }
}

/// What one attempt came to.
enum Outcome {
    Delivered,
    /// Worth another attempt, after at least this long (a `Retry-After`).
    Retry(Option<Duration>, String),
    Failed(String),
}

/// Why a hook's worker could not start.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("signing key: {0}")]
    Key(#[from] hmac::digest::InvalidLength),
}

pub struct Worker {
    name: String,
    shown_url: String,
    url: reqwest::Url,
    client: reqwest::Client,
    headers: HeaderMap,
    key: Hmac<Sha256>,
    policy: Policy,
    counts: Arc<Counts>,
}

impl Worker {
    pub fn new(hook: &Webhook, policy: Policy, counts: Arc<Counts>) -> Result<Worker, WorkerError> {
        let client = reqwest::Client::builder()
            .connect_timeout(policy.connect_timeout)
            .timeout(policy.timeout)
            // A signed body goes where the config says, nowhere else.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let mut headers: HeaderMap = hook.headers.iter().cloned().collect();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Ok(Worker {
            name: hook.name.clone(),
            shown_url: hook.shown_url(),
            url: hook.url.clone(),
            client,
            headers,
            key: Hmac::<Sha256>::new_from_slice(hook.secret.as_bytes())?,
            policy,
            counts,
        })
    }

    /// Takes jobs until the queue closes, a few deliveries at a time.
    pub async fn run(self: Arc<Self>, mut queue: mpsc::Receiver<Job>) {
        let slots = Arc::new(Semaphore::new(self.policy.in_flight.max(1)));
        while let Some(job) = queue.recv().await {
            let Ok(slot) = slots.clone().acquire_owned().await else {
                break;
            };
            let worker = self.clone();
            tokio::spawn(async move {
                worker.deliver(job).await;
                drop(slot);
            });
        }
    }

    async fn deliver(&self, job: Job) {
        let id = crate::gateway::new_id();
        let signature = signature(&self.key, &job.body);
        let mut headers = self.headers.clone();
        for (name, value) in [
            ("x-signature-256", signature.as_str()),
            ("x-switchyard-event", job.event.name()),
            ("x-switchyard-delivery", id.as_str()),
        ] {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(HeaderName::from_static(name), value);
            }
        }
        let mut wait = self.policy.backoff;
        for attempt in 1..=self.policy.attempts {
            let outcome = self.attempt(&headers, &job.body).await;
            let error = match outcome {
                Outcome::Delivered => {
                    self.counts.delivered.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(hook = %self.name, event = job.event.name(), delivery = %id, attempt, "webhook delivered");
                    break;
                }
                Outcome::Retry(after, error) if attempt < self.policy.attempts => {
                    self.counts.retried.fetch_add(1, Ordering::Relaxed);
                    let pause = after
                        .map_or(wait, |a| a.max(wait))
                        .min(self.policy.max_backoff);
                    tracing::debug!(hook = %self.name, delivery = %id, attempt, %error, ?pause, "webhook delivery will be retried");
                    // Up to a fifth more, so that many deliveries failed at
                    // once do not all come back at once.
                    tokio::time::sleep(pause.mul_f64(1.0 + fastrand::f64() * 0.2)).await;
                    wait = (wait * 2).min(self.policy.max_backoff);
                    continue;
                }
                Outcome::Retry(_, error) | Outcome::Failed(error) => error,
            };
            self.counts.failed.fetch_add(1, Ordering::Relaxed);
            if self.counts.may_warn() {
                tracing::warn!(
                    hook = %self.name,
                    url = %self.shown_url,
                    event = job.event.name(),
                    attempts = attempt,
                    %error,
                    failed = self.counts.failed.load(Ordering::Relaxed),
                    "webhook delivery failed"
                );
            }
            break;
        }
        self.counts.finished();
    }

    async fn attempt(&self, headers: &HeaderMap, body: &Bytes) -> Outcome {
        let sent = self
            .client
            .post(self.url.clone())
            .headers(headers.clone())
            .body(body.clone())
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            // Refused, reset, timed out: the receiver may be back soon.
            Err(e) => return Outcome::Retry(None, failure(e)),
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64);
        // Read to the end, so that the connection can be reused.
        let _ = response.bytes().await;
        if status.is_success() {
            Outcome::Delivered
        } else if status.is_server_error() || status.as_u16() == 429 {
            Outcome::Retry(retry_after, format!("HTTP {}", status.as_u16()))
        } else {
            Outcome::Failed(format!("HTTP {}", status.as_u16()))
        }
    }
}

/// What went wrong sending: its kind and its root cause, never the URL
/// (which may hold a token; reqwest's own message names it).
fn failure(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "connection failed"
    };
    let e = e.without_url();
    let mut cause = std::error::Error::source(&e);
    let mut root = None;
    while let Some(c) = cause {
        root = Some(c);
        cause = c.source();
    }
    match root {
        Some(root) => format!("{kind}: {root}"),
        None => kind.to_string(),
    }
}

/// `sha256=<hex HMAC-SHA256 of body>`.
pub fn signature(key: &Hmac<Sha256>, body: &[u8]) -> String {
    let mut mac = key.clone();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hmac_sha256_of_the_body_in_hex() {
        // RFC 4231, test case 2.
        let key = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        assert_eq!(
            signature(&key, b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
