//! The writer's background task: drain the queue in batches, hold on and
//! back off when the database fails, spill the queue to disk as it fills,
//! replay the spill file when the database is back, and flush on shutdown.
//! A batch the database refuses for a value in it is split in halves down
//! to single records, and only the records it still refuses alone are set
//! aside, so one bad record never holds up the others.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::spill::{self, Spill};
use super::{FlushReport, Shared, WriterOptions, lock};
use crate::spend::SpendRecord;
use crate::store::Store;

/// Longest one batch may take before it counts as failed (it is retried;
/// a batch that did commit is then skipped as duplicates).
const WRITE_TIMEOUT: Duration = Duration::from_secs(15);
/// How often a write in progress checks whether the queue must spill (a
/// wake-up from `record` does so at once).
const OVERFLOW_CHECK: Duration = Duration::from_millis(100);
const BACKOFF_FIRST: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

struct Worker {
    store: Store,
    shared: Arc<Shared>,
    spill: Spill,
    /// One batch taken from the queue and not yet written.
    pending: Vec<SpendRecord>,
    interval: Duration,
    /// When the queue was last emptied: a batch short of full waits until
    /// an interval after it.
    drained: Instant,
    backoff: Duration,
}

pub(super) async fn run(store: Store, shared: Arc<Shared>, opts: WriterOptions) {
    let spill = match Spill::open(opts.spill_path.clone(), opts.spill_max_bytes).await {
        Ok(spill) => spill,
        Err(error) => {
            tracing::error!(%error, path = %opts.spill_path.display(), "cannot read the spend spill file; starting without it");
            Spill::empty(opts.spill_path.clone(), opts.spill_max_bytes)
        }
    };
    if spill.records > 0 {
        tracing::info!(records = spill.records, path = %opts.spill_path.display(), "replaying spilled spend records");
    }
    shared.spilled.store(spill.records, Ordering::Relaxed);
    let mut worker = Worker {
        store,
        shared,
        spill,
        pending: Vec::new(),
        interval: opts.interval,
        drained: Instant::now(),
        backoff: BACKOFF_FIRST,
    };
    worker.serve().await;
    let report = worker.finish().await;
    worker.shared.done.send_replace(Some(report));
}

impl Worker {
    fn stopping(&self) -> bool {
        self.shared.stopping.load(Ordering::SeqCst)
    }

    async fn serve(&mut self) {
        while !self.stopping() {
            if self.flush(None).await {
                self.backoff = BACKOFF_FIRST;
                if self.stopping() {
                    break;
                }
                tokio::select! {
                    () = tokio::time::sleep(self.interval.saturating_sub(self.drained.elapsed())) => {}
                    () = self.shared.wake.notified() => {}
                    () = self.shared.stop.notified() => {}
                }
                continue;
            }
            self.overflow().await;
            let until = Instant::now() + self.backoff;
            self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
            while !self.stopping() {
                tokio::select! {
                    () = tokio::time::sleep_until(until) => break,
                    () = self.shared.stop.notified() => break,
                    () = self.shared.wake.notified() => self.overflow().await,
                }
            }
        }
    }

    /// Writes what is held, then the spill file, then the queue, until all
    /// three are empty, or the queue holds less than a batch that may wait
    /// (see [`Worker::due`]), or shutdown began and `deadline` is `None`
    /// (the shutdown flush takes over). False if the database failed (or
    /// the deadline passed) on the way.
    async fn flush(&mut self, deadline: Option<Instant>) -> bool {
        loop {
            // Leave the rest to the shutdown flush, which keeps a deadline
            // (a write here is cut off only once, by the stop it saw).
            if deadline.is_none() && self.stopping() {
                return true;
            }
            if !self.pending.is_empty() {
                let records = std::mem::take(&mut self.pending);
                if let Err(records) = self.write(records, deadline).await {
                    self.hold(records);
                    return false;
                }
                self.shared.holding.store(0, Ordering::Relaxed);
            }
            if !self.spill.is_empty() {
                if !self.replay(deadline).await {
                    return false;
                }
                continue;
            }
            let records: Vec<SpendRecord> = {
                let mut queue = self.shared.queue();
                let len = queue.records.len();
                if len < self.shared.batch && len < self.shared.spill_at && !self.due(deadline) {
                    return true;
                }
                if len <= self.shared.batch {
                    self.drained = Instant::now();
                }
                let n = len.min(self.shared.batch);
                queue.records.drain(..n).collect()
            };
            if records.is_empty() {
                return true;
            }
            self.shared
                .holding
                .store(records.len() as u64, Ordering::Relaxed);
            self.pending = records;
        }
    }

    /// Whether a batch short of full is written now: an interval after the
    /// queue was last emptied, or on shutdown (a queue half full is
    /// written at once too, for a batch larger than that). Under load, a write takes
    /// what arrived during the one before; written at once, those were a
    /// few records each, each batch a transaction and a statement per
    /// chunk (a cache hit's record cost twice what it does in full batches).
    fn due(&self, deadline: Option<Instant>) -> bool {
        deadline.is_some() || self.stopping() || self.drained.elapsed() >= self.interval
    }

    /// Writes one batch of the spill file. False if the database failed.
    async fn replay(&mut self, deadline: Option<Instant>) -> bool {
        let mut batch = match self.spill.read(self.shared.batch).await {
            Ok(batch) => batch,
            Err(error) => {
                // Leave the file for the next start rather than loop on it.
                tracing::error!(%error, "cannot read the spend spill file; it stays for the next start");
                self.spill.abandon();
                return true;
            }
        };
        if batch.bad > 0 {
            tracing::warn!(
                lines = batch.bad,
                "skipped unreadable lines of the spend spill file"
            );
            self.shared.drop_records(batch.bad);
        }
        let records = std::mem::take(&mut batch.records);
        let read = records.len();
        let written = match self.write(records, deadline).await {
            Ok(()) => true,
            // Nothing went through: the file keeps them.
            Err(rest) if rest.len() == read => return false,
            // Part went through or was set aside: the rest waits in memory,
            // so nothing is set aside twice.
            Err(rest) => {
                self.hold(rest);
                false
            }
        };
        if let Err(error) = self
            .spill
            .consumed(batch.end, read as u64 + batch.bad)
            .await
        {
            tracing::error!(%error, "cannot truncate the spend spill file");
        }
        self.shared
            .spilled
            .store(self.spill.records, Ordering::Relaxed);
        written
    }

    /// Keeps records the database did not take, to write them first.
    fn hold(&mut self, records: Vec<SpendRecord>) {
        self.shared
            .holding
            .store(records.len() as u64, Ordering::Relaxed);
        self.pending = records;
    }

    /// Writes one batch; meanwhile, if the queue fills (the database is
    /// slow, or down and the pool still trying to connect), moves it to the
    /// spill file, so records are dropped only when both are full. A write
    /// begun before shutdown is cut off at the shutdown's deadline (the
    /// transaction rolls back; the records are spilled). Gives the records
    /// back that were not written (nor set aside) if the write failed.
    async fn write(
        &mut self,
        records: Vec<SpendRecord>,
        deadline: Option<Instant>,
    ) -> Result<(), Vec<SpendRecord>> {
        if records.is_empty() {
            return Ok(());
        }
        let timeout = match deadline {
            Some(d) => d
                .saturating_duration_since(Instant::now())
                .min(WRITE_TIMEOUT),
            None => WRITE_TIMEOUT,
        };
        // On shutdown nothing new arrives: keep the queue for the database.
        let normal = deadline.is_none();
        let mut check = tokio::time::interval_at(Instant::now() + OVERFLOW_CHECK, OVERFLOW_CHECK);
        let (store, shared) = (self.store.clone(), Arc::clone(&self.shared));
        let done = AtomicUsize::new(0);
        let written = {
            let write = write(&store, &shared, &records, timeout, &done);
            tokio::pin!(write);
            // Armed by shutdown: the write may run until the shutdown's deadline.
            let cutoff = tokio::time::sleep(WRITE_TIMEOUT);
            tokio::pin!(cutoff);
            let mut armed = false;
            loop {
                tokio::select! {
                    ok = &mut write => break ok,
                    () = &mut cutoff, if armed => break false,
                    () = self.shared.stop.notified(), if normal && !armed => {
                        armed = true;
                        let deadline = lock(&self.shared.deadline).map_or_else(Instant::now, Instant::from_std);
                        cutoff.as_mut().reset(deadline);
                    }
                    () = self.shared.wake.notified(), if normal => self.overflow().await,
                    _ = check.tick(), if normal => self.overflow().await,
                }
            }
        };
        if written {
            Ok(())
        } else {
            let mut records = records;
            let done = done.load(Ordering::Relaxed).min(records.len());
            Err(records.split_off(done))
        }
    }

    /// Once the queue is half full, moves it to the spill file (as much as
    /// fits): the database is not keeping up.
    async fn overflow(&mut self) {
        if self.shared.queue().records.len() >= self.shared.spill_at {
            self.spill_queue(false).await;
        }
    }

    /// Moves the queue to the spill file; `all` ignores the size cap (shutdown).
    async fn spill_queue(&mut self, all: bool) {
        let records: Vec<SpendRecord> = self.shared.queue().records.drain(..).collect();
        let mut room = if all { u64::MAX } else { self.spill.room() };
        let mut lines = Vec::new();
        let mut taken = 0;
        for record in &records {
            let line = spill::line(record);
            if line.len() as u64 > room {
                break;
            }
            room -= line.len() as u64;
            lines.extend_from_slice(&line);
            taken += 1;
        }
        let kept = if let Err(error) = self.spill.append(&lines, taken as u64).await {
            tracing::error!(%error, "cannot write the spend spill file");
            0
        } else {
            taken
        };
        if kept > 0 {
            tracing::debug!(records = kept, "spilled spend records to disk");
        }
        self.shared
            .spilled
            .store(self.spill.records, Ordering::Relaxed);
        // What did not fit goes back to the front, oldest first.
        let mut queue = self.shared.queue();
        for record in records.into_iter().skip(kept).rev() {
            queue.records.push_front(record);
        }
    }

    /// After shutdown: keep trying until the deadline, then spill the rest.
    async fn finish(&mut self) -> FlushReport {
        let deadline = lock(&self.shared.deadline)
            .map(Instant::from_std)
            .unwrap_or_else(Instant::now);
        let before = self.shared.written.load(Ordering::Relaxed);
        loop {
            if self.flush(Some(deadline)).await {
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            tokio::time::sleep((deadline - now).min(self.backoff)).await;
            self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
        }
        let leftover = {
            let mut queue = self.shared.queue();
            let held = std::mem::take(&mut self.pending);
            for record in held.into_iter().rev() {
                queue.records.push_front(record);
            }
            queue.records.len()
        };
        self.shared.holding.store(0, Ordering::Relaxed);
        if leftover > 0 {
            self.spill_queue(true).await;
            let lost = self.shared.queue().records.drain(..).count() as u64;
            self.shared.drop_records(lost);
            tracing::warn!(
                spilled = self.spill.records,
                path = %self.spill.path().display(),
                "shutdown: the database did not take every spend record; the rest is in the spill file for the next start"
            );
        }
        FlushReport {
            written: self.shared.written.load(Ordering::Relaxed) - before,
            spilled: self.spill.records,
            dropped: self.shared.dropped.load(Ordering::Relaxed),
            timed_out: leftover > 0 || !self.spill.is_empty(),
        }
    }
}

/// Writes `records` in one transaction, or, when the database refuses a
/// value in them, in halves, down to single records; a record refused on
/// its own is set aside (counted as dropped and logged). Updates the
/// counters and the up/down state. Records are finished in order: `done`
/// says how many of the first are written or set aside, also when this
/// fails (the database failed or `timeout` passed) or is cut off.
async fn write(
    store: &Store,
    shared: &Shared,
    records: &[SpendRecord],
    timeout: Duration,
    done: &AtomicUsize,
) -> bool {
    let until = Instant::now() + timeout;
    // Ranges still to write, the next one last.
    let mut todo: Vec<std::ops::Range<usize>> = Vec::with_capacity(16);
    todo.push(0..records.len());
    while let Some(range) = todo.pop() {
        let batch = &records[range.clone()];
        let error = match tokio::time::timeout_at(until, store.write_spend(batch)).await {
            Ok(Ok(new)) => {
                shared.written.fetch_add(new, Ordering::Relaxed);
                shared
                    .duplicates
                    .fetch_add(batch.len() as u64 - new, Ordering::Relaxed);
                if !shared.db_up.swap(true, Ordering::Relaxed) {
                    tracing::info!(database = %store.describe(), "spend writes recovered");
                }
                done.store(range.end, Ordering::Relaxed);
                continue;
            }
            Ok(Err(failure)) if failure.bad_data => {
                match batch {
                    [record] => {
                        shared.set_aside(record, &failure.error.to_string());
                        done.store(range.end, Ordering::Relaxed);
                    }
                    _ => {
                        let mid = range.start + batch.len() / 2;
                        todo.push(mid..range.end);
                        todo.push(range.start..mid);
                    }
                }
                continue;
            }
            Ok(Err(failure)) => failure.error.to_string(),
            Err(_) => format!("writing spend timed out after {} ms", timeout.as_millis()),
        };
        if shared.db_up.swap(false, Ordering::Relaxed) {
            tracing::warn!(database = %store.describe(), %error, "spend writes failing: holding records and retrying");
        }
        *lock(&shared.last_error) = Some(error);
        return false;
    }
    true
}
