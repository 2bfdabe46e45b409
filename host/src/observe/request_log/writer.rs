//! Where log lines go: a bounded queue, and a thread of its own that
//! writes them out (stderr) in batches. A request's thread formats its
//! line and queues it: no system call, no lock, no wait. The writer drains
//! the queue on a 1 ms tick while lines keep coming, so a busy gateway
//! never wakes it line by line; after an empty drain it sleeps until the
//! next line wakes it (or 100 ms pass), so a quiet gateway's lines appear
//! at once. A full queue (the output not keeping up) drops lines, and the
//! writer says how many once it catches up.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, OnceLock};
use std::thread::{JoinHandle, Thread};
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// Lines that may wait (about 7 MB of 450-byte lines at most; the slots
/// themselves take 512 KiB).
const QUEUE: usize = 16 << 10;
/// How often a busy writer drains the queue.
const TICK: Duration = Duration::from_millis(1);
/// How long an idle writer sleeps unless a line wakes it first.
const IDLE: Duration = Duration::from_millis(100);

struct Shared {
    /// The writer sleeps until a line comes.
    parked: AtomicBool,
    stop: AtomicBool,
    dropped: AtomicU64,
    writer: OnceLock<Thread>,
}

/// What the log layer writes to (`MakeWriter`).
#[derive(Clone)]
pub struct Behind {
    lines: SyncSender<Vec<u8>>,
    shared: Arc<Shared>,
}

/// Stops the writer once everything queued is written (on drop).
pub struct Guard {
    shared: Arc<Shared>,
    handle: Option<JoinHandle<()>>,
}

/// A writer of `out` on a thread of its own.
pub fn behind<W: Write + Send + 'static>(out: W) -> std::io::Result<(Behind, Guard)> {
    let (lines, queue) = std::sync::mpsc::sync_channel(QUEUE);
    let shared = Arc::new(Shared {
        parked: AtomicBool::new(false),
        stop: AtomicBool::new(false),
        dropped: AtomicU64::new(0),
        writer: OnceLock::new(),
    });
    let s = shared.clone();
    let handle = std::thread::Builder::new()
        .name("switchyard-log".into())
        .spawn(move || write_out(queue, out, &s))?;
    let _ = shared.writer.set(handle.thread().clone());
    Ok((
        Behind {
            lines,
            shared: shared.clone(),
        },
        Guard {
            shared,
            handle: Some(handle),
        },
    ))
}

impl Behind {
    fn queue(&self, line: Vec<u8>) {
        match self.lines.try_send(line) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => return,
        }
        // Pairs with the writer's fence: either it sees this line, or
        // this sees it parked.
        std::sync::atomic::fence(Ordering::SeqCst);
        if self.shared.parked.load(Ordering::Relaxed)
            && self.shared.parked.swap(false, Ordering::AcqRel)
            && let Some(t) = self.shared.writer.get()
        {
            t.unpark();
        }
    }
}

/// One line being formatted.
pub struct Line<'a> {
    to: &'a Behind,
    buf: Vec<u8>,
}

impl Write for Line<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Line<'_> {
    fn drop(&mut self) {
        if !self.buf.is_empty() {
            self.to.queue(std::mem::take(&mut self.buf));
        }
    }
}

impl<'a> MakeWriter<'a> for Behind {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Line<'a> {
        Line {
            to: self,
            buf: Vec::new(),
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = self.handle.take() {
            handle.thread().unpark();
            let _ = handle.join();
        }
    }
}

/// The writer thread.
fn write_out<W: Write>(queue: Receiver<Vec<u8>>, out: W, shared: &Shared) {
    let mut out = std::io::BufWriter::with_capacity(64 << 10, out);
    loop {
        let mut wrote = false;
        while let Ok(line) = queue.try_recv() {
            let _ = out.write_all(&line);
            wrote = true;
        }
        let dropped = shared.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            let _ = writeln!(
                out,
                "switchyard: {dropped} log lines dropped (the log's output did not keep up)"
            );
            wrote = true;
        }
        if wrote {
            let _ = out.flush();
        }
        if shared.stop.load(Ordering::SeqCst) {
            while let Ok(line) = queue.try_recv() {
                let _ = out.write_all(&line);
            }
            let _ = out.flush();
            return;
        }
        if wrote {
            std::thread::sleep(TICK);
            continue;
        }
        shared.parked.store(true, Ordering::Relaxed);
        std::sync::atomic::fence(Ordering::SeqCst);
        if let Ok(line) = queue.try_recv() {
            shared.parked.store(false, Ordering::Relaxed);
            let _ = out.write_all(&line);
            continue;
        }
        if !shared.stop.load(Ordering::SeqCst) {
            std::thread::park_timeout(IDLE);
        }
        shared.parked.store(false, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// An output the test can read.
    #[derive(Clone, Default)]
    struct Out(Arc<Mutex<Vec<u8>>>);

    impl Write for Out {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn line(to: &Behind, text: &str) {
        let mut w = to.make_writer();
        w.write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn every_line_is_written_in_order_and_all_of_them_by_the_guard() {
        let out = Out::default();
        let (to, guard) = behind(out.clone()).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let to = to.clone();
                std::thread::spawn(move || {
                    for i in 0..1000 {
                        line(&to, &format!("{t} {i}\n"));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        drop(guard);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 4000);
        for t in 0..4 {
            let mine: Vec<usize> = text
                .lines()
                .filter_map(|l| l.strip_prefix(&format!("{t} ")))
                .map(|i| i.parse().unwrap())
                .collect();
            assert_eq!(mine, (0..1000).collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_line_after_an_idle_spell_is_written_at_once() {
        let out = Out::default();
        let (to, _guard) = behind(out.clone()).unwrap();
        for n in 1..=3 {
            // Long enough for the writer to have parked.
            std::thread::sleep(Duration::from_millis(20));
            line(&to, "x\n");
            let started = std::time::Instant::now();
            while out.0.lock().unwrap().len() < 2 * n {
                assert!(
                    started.elapsed() < Duration::from_millis(50),
                    "line {n} waited"
                );
                std::thread::yield_now();
            }
        }
    }

    #[test]
    fn a_full_queue_drops_lines_and_says_how_many() {
        // An output that blocks until told: the queue fills.
        let gate = Arc::new(Mutex::new(()));
        struct Slow(Arc<Mutex<()>>, Out);
        impl Write for Slow {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                let _open = self.0.lock().unwrap();
                self.1.write(b)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let out = Out::default();
        let closed = gate.lock().unwrap();
        let (to, guard) = behind(Slow(gate.clone(), out.clone())).unwrap();
        // The first line may be taken before the queue fills; 64 KiB of
        // the rest fit the writer's buffer before it blocks.
        let extra = 100;
        let big = "y".repeat(1000) + "\n";
        for _ in 0..QUEUE + 70 + extra {
            line(&to, &big);
        }
        drop(closed);
        drop(guard);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let dropped: usize = text
            .lines()
            .find_map(|l| l.strip_prefix("switchyard: "))
            .and_then(|l| l.split_whitespace().next())
            .map(|n| n.parse().unwrap())
            .expect("a dropped-lines line");
        let written = text.lines().filter(|l| l.starts_with('y')).count();
        assert_eq!(written + dropped, QUEUE + 70 + extra);
        assert!(dropped > 0);
    }
}
