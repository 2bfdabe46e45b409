//! The shadow's worker: a thread of its own behind a bounded queue, so a
//! candidate's call never runs on (or waits for) the request path. A full
//! queue drops the call and counts it.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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

/// Calls waiting for the candidate, per shadow.
pub const QUEUE: usize = 1024;

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

/// Starts the worker; it ends when the sender is dropped.
pub fn spawn(core: Arc<Core>) -> std::io::Result<SyncSender<Sent>> {
    let (tx, rx) = sync_channel(QUEUE);
    std::thread::Builder::new()
        .name(format!("switchyard-shadow-{}", core.live))
        .spawn(move || drain(&core, rx))?;
    Ok(tx)
}

fn drain(core: &Core, rx: Receiver<Sent>) {
    ON_WORKER.with(|w| w.set(true));
    for sent in rx {
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
