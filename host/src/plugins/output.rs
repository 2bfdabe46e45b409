//! What a plugin writes to stdout and stderr (`println!`, a Rust panic's
//! message, Python's `print()` and tracebacks): captured per call in the
//! instance's store, never touching the request, and sent to the gateway's
//! log under the plugin's name, rate-limited so a chatty plugin cannot
//! flood the log, with the secrets the gateway knows replaced.

use std::borrow::Cow;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Bytes kept per stream and call; the rest is counted, not kept.
const MAX_PER_CALL: usize = 16 << 10;

/// Lines one plugin version may log per [`WINDOW`]; the rest are counted
/// and reported as one line when the next window opens.
const LINES_PER_WINDOW: u32 = 50;
const WINDOW: Duration = Duration::from_secs(1);

/// Which stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

#[derive(Default)]
struct Buffers {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    /// Bytes written past [`MAX_PER_CALL`].
    cut: usize,
}

/// One store's captured output; its stdout and stderr pipes write here.
#[derive(Clone, Default)]
pub struct Captured {
    buffers: Arc<Mutex<Buffers>>,
}

impl Captured {
    /// The pipe a plugin's `stream` writes to.
    pub fn pipe(&self, stream: Stream) -> Pipe {
        Pipe {
            buffers: self.buffers.clone(),
            stream,
        }
    }

    /// Takes what was written since the last call, if anything.
    pub fn take(&self) -> Option<Output> {
        let mut b = self.buffers.lock().unwrap_or_else(PoisonError::into_inner);
        if b.stdout.is_empty() && b.stderr.is_empty() {
            return None;
        }
        let taken = std::mem::take(&mut *b);
        Some(Output {
            stdout: taken.stdout,
            stderr: taken.stderr,
            cut: taken.cut,
        })
    }
}

/// What one call wrote.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Output {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Bytes left out because the call wrote more than the per-call cap.
    pub cut: usize,
}

impl Output {
    /// Every non-empty line, with its stream.
    pub fn lines(&self) -> impl Iterator<Item = (Stream, String)> + '_ {
        let lines = |stream: Stream, bytes: &'_ [u8]| {
            String::from_utf8_lossy(bytes)
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| (stream, l.trim_end().to_string()))
                .collect::<Vec<_>>()
        };
        lines(Stream::Stdout, &self.stdout)
            .into_iter()
            .chain(lines(Stream::Stderr, &self.stderr))
    }
}

/// A stdout or stderr that keeps what is written (up to the cap) and is
/// always ready: a plugin never waits on it, and a full buffer never fails
/// a write (Rust's `println!` panics on a failed write).
#[derive(Clone)]
pub struct Pipe {
    buffers: Arc<Mutex<Buffers>>,
    stream: Stream,
}

impl Pipe {
    fn keep(&self, bytes: &[u8]) {
        let mut b = self.buffers.lock().unwrap_or_else(PoisonError::into_inner);
        let buf = match self.stream {
            Stream::Stdout => &mut b.stdout,
            Stream::Stderr => &mut b.stderr,
        };
        let room = MAX_PER_CALL.saturating_sub(buf.len());
        let kept = bytes.len().min(room);
        buf.extend_from_slice(&bytes[..kept]);
        b.cut += bytes.len() - kept;
    }
}

impl IsTerminal for Pipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Pipe {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for Pipe {
    async fn ready(&mut self) {}
}

impl OutputStream for Pipe {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.keep(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 << 10)
    }
}

impl tokio::io::AsyncWrite for Pipe {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.keep(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Sends captured output to the log for one plugin version, at most
/// [`LINES_PER_WINDOW`] lines per [`WINDOW`].
#[derive(Default)]
pub struct OutputLog {
    window: Mutex<Window>,
}

#[derive(Default)]
struct Window {
    start: Option<Instant>,
    lines: u32,
    suppressed: u32,
}

/// What one [`OutputLog::log`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Logged {
    /// Lines written to the log.
    pub lines: u32,
    /// Lines left out because the window's budget was spent.
    pub suppressed: u32,
}

impl OutputLog {
    /// Logs `output` under `plugin`: stdout at info, stderr at warn, secrets
    /// the gateway knows replaced, at most [`LINES_PER_WINDOW`] lines (the
    /// note that a call's output was cut counts as one) per [`WINDOW`].
    pub fn log(&self, plugin: &str, output: &Output) -> Logged {
        let mut w = self.window.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        if w.start.is_none_or(|s| now.duration_since(s) >= WINDOW) {
            if w.suppressed > 0 {
                tracing::warn!(
                    plugin,
                    suppressed = w.suppressed,
                    "plugin output lines left out of the log (more than {LINES_PER_WINDOW} a second)"
                );
            }
            *w = Window {
                start: Some(now),
                ..Window::default()
            };
        }
        let mut logged = Logged {
            lines: 0,
            suppressed: 0,
        };
        let mut take = |w: &mut Window| {
            if w.lines >= LINES_PER_WINDOW {
                w.suppressed += 1;
                logged.suppressed += 1;
                false
            } else {
                w.lines += 1;
                logged.lines += 1;
                true
            }
        };
        for (stream, line) in output.lines() {
            if !take(&mut w) {
                continue;
            }
            let line = scrub(&line);
            match stream {
                Stream::Stdout => tracing::info!(plugin, stream = stream.as_str(), "{line}"),
                Stream::Stderr => tracing::warn!(plugin, stream = stream.as_str(), "{line}"),
            }
        }
        if output.cut > 0 && take(&mut w) {
            tracing::warn!(
                plugin,
                cut_bytes = output.cut,
                "plugin output over {MAX_PER_CALL} bytes in one call was cut"
            );
        }
        logged
    }
}

/// Values that must never reach the log (deployments' API keys, the
/// master key): set when the gateway starts and added to by each config
/// reload.
static SECRETS: std::sync::LazyLock<arc_swap::ArcSwap<Vec<String>>> =
    std::sync::LazyLock::new(Default::default);

/// Whether a config key, parameter or header named `name` holds a
/// credential (`api_key`, `x-api-key`, `authorization`, `aws_secret_access_key`,
/// `password`, `cookie`, ...): its value is never shown or logged. One
/// predicate for the secret list, the masked config and shadow reports.
pub fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name == "cookie"
        || ["key", "secret", "token", "password", "credential", "auth"]
            .iter()
            .any(|w| name.contains(w))
}

/// Secrets shorter than this are not looked for (they would match
/// ordinary words).
const MIN_SECRET_LEN: usize = 8;

/// Adds to the secrets [`scrub`] replaces. A secret once known stays
/// scrubbed: a key a reload rotated out may still be in a call in flight.
pub fn set_secrets(secrets: impl IntoIterator<Item = String>) {
    let added: Vec<String> = secrets
        .into_iter()
        .filter(|s| s.len() >= MIN_SECRET_LEN)
        .collect();
    SECRETS.rcu(|known| {
        let mut list: Vec<String> = known.iter().chain(&added).cloned().collect();
        list.sort();
        list.dedup();
        list
    });
}

/// `line` with every known secret replaced by `[redacted]`: a plugin's
/// input holds its deployment's API key, and an author's debug print must
/// not put it in the gateway's log.
pub fn scrub(line: &str) -> Cow<'_, str> {
    let secrets = SECRETS.load();
    if secrets.is_empty() {
        return Cow::Borrowed(line);
    }
    let mut out = Cow::Borrowed(line);
    for s in secrets.iter() {
        if out.contains(s.as_str()) {
            out = Cow::Owned(out.replace(s.as_str(), "[redacted]"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_kept_per_stream_up_to_the_cap_and_taken_once() {
        let captured = Captured::default();
        let mut out = captured.pipe(Stream::Stdout);
        let mut err = captured.pipe(Stream::Stderr);
        OutputStream::write(&mut out, Bytes::from_static(b"hello\n\n")).unwrap();
        OutputStream::write(&mut err, Bytes::from_static(b"panicked at x\nnote\n")).unwrap();
        let taken = captured.take().unwrap();
        let lines: Vec<_> = taken.lines().collect();
        assert_eq!(
            lines,
            [
                (Stream::Stdout, "hello".to_string()),
                (Stream::Stderr, "panicked at x".to_string()),
                (Stream::Stderr, "note".to_string()),
            ]
        );
        assert_eq!(taken.cut, 0);
        assert_eq!(captured.take(), None);

        let big = vec![b'a'; MAX_PER_CALL + 10];
        OutputStream::write(&mut out, Bytes::from(big)).unwrap();
        OutputStream::write(&mut out, Bytes::from_static(b"more")).unwrap();
        let taken = captured.take().unwrap();
        assert_eq!(taken.stdout.len(), MAX_PER_CALL);
        assert_eq!(taken.cut, 14);
    }

    #[test]
    fn a_window_logs_at_most_its_budget_and_counts_the_rest() {
        let log = OutputLog::default();
        let many = Output {
            stdout: "line\n".repeat(LINES_PER_WINDOW as usize + 7).into_bytes(),
            stderr: Vec::new(),
            cut: 3,
        };
        assert_eq!(
            log.log("p", &many),
            Logged {
                lines: LINES_PER_WINDOW,
                suppressed: 8
            }
        );
        let one = Output {
            stdout: b"again\n".to_vec(),
            ..Output::default()
        };
        assert_eq!(
            log.log("p", &one),
            Logged {
                lines: 0,
                suppressed: 1
            }
        );
        assert_eq!(log.window.lock().unwrap().suppressed, 9);
    }

    #[test]
    fn known_secrets_are_scrubbed_and_short_ones_ignored() {
        set_secrets(["sk-test-secret-123".to_string(), "short".to_string()]);
        assert_eq!(
            scrub("key=sk-test-secret-123 and sk-test-secret-123"),
            "key=[redacted] and [redacted]"
        );
        assert_eq!(scrub("a short word"), "a short word");
    }
}
