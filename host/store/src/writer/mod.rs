//! The spend writer: the gateway hands it one record per request without
//! waiting, and a background task writes them in batches. When the database
//! is down it holds one batch, queues the rest in memory, moves the queue
//! to a spill file as it fills, and replays the file when the database is
//! back; a record is dropped only when queue and file are both full.

pub(crate) mod spill;
mod task;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{Notify, watch};

use crate::spend::SpendRecord;
use crate::store::Store;

/// How the writer batches, queues and spills.
#[derive(Debug, Clone, PartialEq)]
pub struct WriterOptions {
    /// Write at least this often (default 100 ms).
    pub interval: Duration,
    /// Records a transaction, and how many waiting trigger a write before
    /// the interval (default 500).
    pub batch: usize,
    /// Records held in memory (default 100 000); more are dropped.
    pub queue_capacity: usize,
    /// Where records go while the database is down and the queue fills.
    pub spill_path: PathBuf,
    /// Cap on the spill file (default 256 MiB).
    pub spill_max_bytes: u64,
}

impl WriterOptions {
    /// The defaults, spilling to `spill_path`.
    pub fn new(spill_path: impl Into<PathBuf>) -> WriterOptions {
        WriterOptions {
            interval: Duration::from_millis(100),
            batch: 500,
            queue_capacity: 100_000,
            spill_path: spill_path.into(),
            spill_max_bytes: 256 * 1024 * 1024,
        }
    }
}

/// Counters for `/health` and metrics.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WriterStats {
    /// Records in memory, waiting to be written.
    pub queued: u64,
    /// Records in the spill file, waiting to be replayed.
    pub spilled: u64,
    /// Records written (new rows).
    pub written: u64,
    /// Records written that were already stored (replays), not counted twice.
    pub duplicates: u64,
    /// Records lost because queue and spill file were full (or the writer
    /// had stopped), or set aside because the database refuses them.
    pub dropped: u64,
    /// The last write error, without secrets.
    pub last_error: Option<String>,
    /// Whether the last write succeeded.
    pub db_up: bool,
}

/// What [`SpendWriter::shutdown`] managed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FlushReport {
    /// Records written during the shutdown flush.
    pub written: u64,
    /// Records left in the spill file for the next start.
    pub spilled: u64,
    /// Records dropped over the writer's life.
    pub dropped: u64,
    /// The database did not take everything before the deadline.
    pub timed_out: bool,
}

/// How long [`SpendWriter::shutdown`] keeps trying the database.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
/// At most one "dropped" warning this often.
const DROP_WARN_EVERY: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
struct Queue {
    records: VecDeque<SpendRecord>,
    /// Set by shutdown: later records are dropped.
    closed: bool,
}

#[derive(Debug)]
struct Shared {
    queue: Mutex<Queue>,
    capacity: usize,
    batch: usize,
    /// Queue length at which the task moves the queue to the spill file
    /// while the database is down.
    spill_at: usize,
    /// Rung by `record` when a batch is waiting or the queue is half full.
    wake: Notify,
    /// Rung by shutdown.
    stop: Notify,
    stopping: AtomicBool,
    deadline: Mutex<Option<Instant>>,
    /// Records the task holds (taken from the queue, not yet written).
    holding: AtomicU64,
    spilled: AtomicU64,
    written: AtomicU64,
    duplicates: AtomicU64,
    dropped: AtomicU64,
    db_up: AtomicBool,
    last_error: Mutex<Option<String>>,
    started: Instant,
    /// Milliseconds after `started` of the last drop warning (u64::MAX: none yet).
    warned_at: AtomicU64,
    /// `dropped` when the last warning was logged.
    warned_count: AtomicU64,
    done: watch::Sender<Option<FlushReport>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        lock(&self.queue)
    }

    /// Counts a record the database refuses on its own as dropped, and logs
    /// it (once: it is not retried).
    fn set_aside(&self, record: &SpendRecord, error: &str) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            request_id = %record.request_id,
            %error,
            "spend record set aside: the database refuses it (the rest of its batch is written)"
        );
        *lock(&self.last_error) = Some(format!("record {} set aside: {error}", record.request_id));
    }

    /// Counts lost records and warns, at most once every 10 s, with the count.
    fn drop_records(&self, n: u64) {
        if n == 0 {
            return;
        }
        let total = self.dropped.fetch_add(n, Ordering::Relaxed) + n;
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        let last = self.warned_at.load(Ordering::Relaxed);
        let due =
            last == u64::MAX || now >= last.saturating_add(DROP_WARN_EVERY.as_millis() as u64);
        if due
            && self
                .warned_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let before = self.warned_count.swap(total, Ordering::Relaxed);
            tracing::warn!(
                dropped = total - before,
                dropped_total = total,
                "spend records dropped: the database is unreachable and the queue and spill file are full"
            );
        }
    }
}

/// Batches spend records into the store off the request path. Clones share
/// one queue and task.
#[derive(Debug, Clone)]
pub struct SpendWriter {
    shared: Arc<Shared>,
}

impl SpendWriter {
    /// Starts the background task on the current runtime; it first replays
    /// any spill file a previous run left. Outside a Tokio runtime nothing
    /// can run: the writer logs an error and drops every record.
    pub fn start(store: Store, opts: WriterOptions) -> SpendWriter {
        let capacity = opts.queue_capacity.max(1);
        let (done, _) = watch::channel(None);
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            capacity,
            batch: opts.batch.max(1),
            spill_at: (capacity / 2).max(1),
            wake: Notify::new(),
            stop: Notify::new(),
            stopping: AtomicBool::new(false),
            deadline: Mutex::new(None),
            holding: AtomicU64::new(0),
            spilled: AtomicU64::new(0),
            written: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            db_up: AtomicBool::new(true),
            last_error: Mutex::new(None),
            started: Instant::now(),
            warned_at: AtomicU64::new(u64::MAX),
            warned_count: AtomicU64::new(0),
            done,
        });
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(task::run(store, Arc::clone(&shared), opts));
            }
            Err(_) => {
                tracing::error!(
                    "the spend writer needs a Tokio runtime: spend will not be recorded"
                );
                shared.queue().closed = true;
            }
        }
        SpendWriter { shared }
    }

    /// Queues one record. Never blocks, never awaits: if the queue is full
    /// the record is dropped and counted.
    pub fn record(&self, r: SpendRecord) {
        let s = &self.shared;
        let mut queue = s.queue();
        if queue.closed || queue.records.len() >= s.capacity {
            drop(queue);
            s.drop_records(1);
            return;
        }
        queue.records.push_back(r);
        let len = queue.records.len();
        drop(queue);
        if len == s.batch || len == s.spill_at {
            s.wake.notify_one();
        }
    }

    /// Writes everything queued and spilled (if the database takes it
    /// within 10 s; the rest goes to the spill file for the next start) and
    /// stops the task. Later records are dropped.
    pub async fn shutdown(&self) -> FlushReport {
        self.shutdown_within(SHUTDOWN_TIMEOUT).await
    }

    /// [`SpendWriter::shutdown`] with another deadline for the database.
    pub async fn shutdown_within(&self, timeout: Duration) -> FlushReport {
        let s = &self.shared;
        s.queue().closed = true;
        // A day stands for "no deadline" (and keeps the arithmetic from overflowing).
        let timeout = timeout.min(Duration::from_secs(86_400));
        lock(&s.deadline).get_or_insert_with(|| Instant::now() + timeout);
        s.stopping.store(true, Ordering::SeqCst);
        s.stop.notify_one();
        let mut done = s.done.subscribe();
        // The task keeps the deadline itself; this bound only guards against
        // a task that died.
        let waited = tokio::time::timeout(
            timeout + Duration::from_secs(5),
            done.wait_for(Option::is_some),
        )
        .await;
        match waited {
            Ok(Ok(report)) => report.clone().unwrap_or_default(),
            _ => {
                let stats = self.stats();
                FlushReport {
                    written: 0,
                    spilled: stats.spilled,
                    dropped: stats.dropped,
                    timed_out: true,
                }
            }
        }
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> WriterStats {
        let s = &self.shared;
        let queued = s.queue().records.len() as u64 + s.holding.load(Ordering::Relaxed);
        WriterStats {
            queued,
            spilled: s.spilled.load(Ordering::Relaxed),
            written: s.written.load(Ordering::Relaxed),
            duplicates: s.duplicates.load(Ordering::Relaxed),
            dropped: s.dropped.load(Ordering::Relaxed),
            last_error: lock(&s.last_error).clone(),
            db_up: s.db_up.load(Ordering::Relaxed),
        }
    }
}
