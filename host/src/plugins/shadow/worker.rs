//! The shadow's worker: a thread of its own behind a bounded queue, so a
//! candidate's call never runs on (or waits for) the request path. The
//! queue is bounded by count and by the approximate bytes of the inputs it
//! holds (a sampled call clones whole prompts); a call past either bound is
//! dropped and counted.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::compare::{self, Kinds};
use super::redact::Redactor;
use super::stats::Stats;
use crate::plugins::CallError;
use crate::plugins::LoadedPlugin;
use crate::plugins::bindings::cost_api::{CostAnswer, CostInput};
use crate::plugins::bindings::provider_api::{BuildInput, Outbound};
use crate::plugins::bindings::router_api::{RouteDecision, RouteRequest};
use crate::plugins::bindings::sanitizer_api::{SanitizeInput, Verdict};
use crate::plugins::bindings::types::{ContentPart, Message};

/// Calls waiting for the candidate, per shadow.
pub const QUEUE: usize = 1024;

/// Approximate bytes of the inputs waiting for the candidate, per shadow
/// (message text, bodies): without it 1024 long prompts could wait.
pub const BUDGET: usize = 16 << 20;

/// One sampled call: the live plugin's input and answer.
pub enum Job {
    Route(RouteRequest, RouteDecision),
    Sanitize(SanitizeInput, Verdict),
    Cost(CostInput, CostAnswer),
    Build(BuildInput, Outbound),
}

/// A job with the live call's time.
pub struct Sent {
    pub job: Job,
    pub live_time: Duration,
}

/// What a worker runs and where it writes.
pub struct Core {
    /// The live plugin's name.
    pub live: String,
    pub candidate: Arc<LoadedPlugin>,
    pub stats: Arc<Stats>,
    pub redactor: Redactor,
    /// Set when the shadow is stopped or promoted: queued jobs are skipped.
    pub stopped: AtomicBool,
}

thread_local! {
    /// This thread is a shadow worker: its plugin calls are not the live
    /// plugins' and are not counted as theirs.
    static ON_WORKER: Cell<bool> = const { Cell::new(false) };
    /// The last plugin call's time on this thread (set only while some
    /// shadow runs).
    static LAST_CALL: Cell<Option<Duration>> = const { Cell::new(None) };
}

pub fn on_worker() -> bool {
    ON_WORKER.with(Cell::get)
}

pub fn note_call(d: Duration) {
    LAST_CALL.with(|c| c.set(Some(d)));
}

pub fn take_last_call() -> Option<Duration> {
    LAST_CALL.with(Cell::take)
}

/// The request path's end of a shadow's queue: bounded by count and by
/// the approximate bytes of what it holds.
pub struct Queue<T = Sent> {
    tx: SyncSender<(T, usize)>,
    bytes: Arc<AtomicUsize>,
    budget: usize,
}

/// The worker's end: taking an item out releases its bytes.
pub struct Inbox<T = Sent> {
    rx: Receiver<(T, usize)>,
    bytes: Arc<AtomicUsize>,
}

/// A queue of at most `count` items and `budget` approximate bytes.
pub fn queue<T>(count: usize, budget: usize) -> (Queue<T>, Inbox<T>) {
    let (tx, rx) = sync_channel(count);
    let bytes = Arc::new(AtomicUsize::new(0));
    (
        Queue {
            tx,
            bytes: bytes.clone(),
            budget,
        },
        Inbox { rx, bytes },
    )
}

impl<T> Queue<T> {
    /// Queues the item `make` builds (about `size` bytes) unless it would
    /// pass the count or the byte budget, or the worker is gone: then it is
    /// never built, and counted in `dropped`. Never waits.
    pub fn offer(&self, size: usize, stats: &Stats, make: impl FnOnce() -> T) -> bool {
        let before = self.bytes.fetch_add(size, Ordering::Relaxed);
        let queued =
            before.saturating_add(size) <= self.budget && self.tx.try_send((make(), size)).is_ok();
        if !queued {
            self.bytes.fetch_sub(size, Ordering::Relaxed);
            stats.dropped.inc();
        }
        queued
    }

    /// Approximate bytes waiting now.
    pub fn queued_bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }
}

impl<T> Iterator for Inbox<T> {
    type Item = T;

    /// The next item, waiting for one; `None` once every sender is gone.
    fn next(&mut self) -> Option<T> {
        let (item, size) = self.rx.recv().ok()?;
        self.bytes.fetch_sub(size, Ordering::Relaxed);
        Some(item)
    }
}

/// Approximate bytes of messages: their text, URLs, JSON parts and fields.
pub fn message_bytes(messages: &[Message]) -> usize {
    messages
        .iter()
        .map(|m| {
            let content: usize = m
                .content
                .iter()
                .map(|p| match p {
                    ContentPart::Text(s) | ContentPart::ImageUrl(s) | ContentPart::Other(s) => {
                        s.len()
                    }
                })
                .sum();
            let extra: usize = m.extra.iter().map(|f| f.key.len() + f.value.len()).sum();
            content + extra + m.name.as_ref().map_or(0, String::len)
        })
        .sum()
}

impl Job {
    /// Approximate bytes of a router call: its prompt.
    pub fn route_bytes(input: &RouteRequest) -> usize {
        message_bytes(&input.request.messages)
    }

    /// Approximate bytes of a sanitiser call: the prompt, the answer (or
    /// window) and a rewrite.
    pub fn sanitize_bytes(input: &SanitizeInput, live: &Verdict) -> usize {
        let rewrite = match live {
            Verdict::Rewrite(m) => message_bytes(m),
            Verdict::Allow | Verdict::Deny(_) => 0,
        };
        message_bytes(&input.request.messages) + message_bytes(&input.response) + rewrite
    }

    /// Approximate bytes of an adapter call: both bodies.
    pub fn build_bytes(input: &BuildInput, live: &Outbound) -> usize {
        let out = match live {
            Outbound::Send(r) => r.body.len(),
            Outbound::Respond(r) => r.body.len(),
        };
        input.body.len() + out
    }
}

/// Starts the worker; it ends when the queue is dropped.
pub fn spawn(core: Arc<Core>) -> std::io::Result<Queue> {
    let (tx, rx) = queue(QUEUE, BUDGET);
    std::thread::Builder::new()
        .name(format!("switchyard-shadow-{}", core.live))
        .spawn(move || drain(&core, rx))?;
    Ok(tx)
}

fn drain(core: &Core, inbox: Inbox) {
    ON_WORKER.with(|w| w.set(true));
    for sent in inbox {
        if core.stopped.load(Ordering::Relaxed) {
            continue;
        }
        run(core, sent);
    }
}

/// Runs the candidate on one job and records the outcome.
pub fn run(core: &Core, sent: Sent) {
    let c = &core.candidate;
    let r = &core.redactor;
    match sent.job {
        Job::Route(input, live) => settle(
            core,
            sent.live_time,
            timed(|| c.route(&input)),
            |cand| compare::route(&live, cand),
            |cand| {
                (
                    r.route(&input),
                    compare::route_json(&live),
                    compare::route_json(cand),
                )
            },
        ),
        Job::Sanitize(input, live) => settle(
            core,
            sent.live_time,
            timed(|| c.sanitize(&input)),
            |cand| compare::sanitize(&live, cand),
            |cand| {
                (
                    r.sanitize(&input),
                    compare::verdict_json(&live),
                    compare::verdict_json(cand),
                )
            },
        ),
        Job::Cost(input, live) => settle(
            core,
            sent.live_time,
            timed(|| c.cost(&input)),
            |cand| compare::cost(&live, cand),
            |cand| {
                (
                    r.cost(&input),
                    compare::cost_json(&live),
                    compare::cost_json(cand),
                )
            },
        ),
        Job::Build(input, live) => settle(
            core,
            sent.live_time,
            timed(|| c.build_request(&input)),
            |cand| compare::build(&live, cand),
            |cand| {
                (
                    r.build(&input),
                    compare::outbound_json(&live),
                    compare::outbound_json(cand),
                )
            },
        ),
    }
}

/// The call and its time: the plugin call's own (as the live side's is
/// measured), else the wall time around it.
fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    take_last_call();
    let began = Instant::now();
    let out = f();
    let elapsed = began.elapsed();
    (out, take_last_call().unwrap_or(elapsed))
}

fn settle<T>(
    core: &Core,
    live_time: Duration,
    (result, took): (Result<T, CallError>, Duration),
    compare: impl FnOnce(&T) -> Kinds,
    example: impl FnOnce(&T) -> (Value, Value, Value),
) {
    let stats = &core.stats;
    match result {
        Ok(answer) => {
            stats.times(live_time, took);
            let kinds = compare(&answer);
            if kinds.is_empty() {
                stats.agreed();
            } else {
                let (input, live, candidate) = example(&answer);
                stats.disagreed(
                    &kinds,
                    json!({
                        "at": crate::plugins::registry::rfc3339(std::time::SystemTime::now()),
                        "kinds": kinds,
                        "input": input,
                        "live": live,
                        "candidate": candidate,
                    }),
                );
            }
        }
        Err(e) => {
            tracing::debug!(plugin = %core.live, error = %e, "shadow candidate failed");
            stats.failed(e.failure_kind());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_past_the_byte_budget_is_dropped_and_counted() {
        let stats = Stats::default();
        let (q, mut inbox) = queue::<u32>(8, 100);
        assert!(q.offer(60, &stats, || 1));
        assert!(q.offer(40, &stats, || 2));
        assert_eq!(q.queued_bytes(), 100);
        // 100 bytes wait: one more byte is over, and is never built.
        assert!(!q.offer(1, &stats, || unreachable!("a dropped call is not cloned")));
        assert_eq!(stats.dropped.get(), 1);
        // Taking one out frees its bytes.
        assert_eq!(inbox.next(), Some(1));
        assert_eq!(q.queued_bytes(), 40);
        assert!(q.offer(60, &stats, || 3));
        // A single call larger than the whole budget never fits.
        assert!(!q.offer(101, &stats, || 4));
        assert_eq!(stats.dropped.get(), 2);
        assert_eq!(q.queued_bytes(), 100);
        assert_eq!(stats.report()["dropped"], 2);
    }

    #[test]
    fn a_call_past_the_count_is_dropped_and_counted() {
        let stats = Stats::default();
        let (q, mut inbox) = queue::<u32>(2, usize::MAX);
        assert!(q.offer(1, &stats, || 1));
        assert!(q.offer(1, &stats, || 2));
        assert!(!q.offer(1, &stats, || 3));
        assert_eq!(stats.dropped.get(), 1);
        assert_eq!(q.queued_bytes(), 2, "the dropped call's bytes are released");
        assert_eq!(inbox.next(), Some(1));
        drop(q);
        assert_eq!(inbox.next(), Some(2));
        assert_eq!(
            inbox.next(),
            None,
            "the worker ends when the queue is dropped"
        );
    }

    #[test]
    fn message_bytes_counts_text_urls_parts_names_and_fields() {
        use crate::plugins::bindings::types::{Field, Role};
        let m = Message {
            role: Role::User,
            content: vec![
                ContentPart::Text("hello".into()),
                ContentPart::ImageUrl("data:xyz".into()),
                ContentPart::Other("{}".into()),
            ],
            name: Some("ann".into()),
            extra: vec![Field {
                key: "k".into(),
                value: "1".into(),
            }],
        };
        assert_eq!(message_bytes(&[m.clone(), m]), 2 * (5 + 8 + 2 + 3 + 2));
    }
}
