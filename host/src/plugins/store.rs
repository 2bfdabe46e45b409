//! What each plugin instance's store holds: a WASI context with nothing in it
//! (no files, no network, no environment, a frozen clock, stdout and stderr
//! captured), its memory limits, and the plugin's name for log lines.

use std::sync::Arc;

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxView, WasiView};

use super::bindings::log::{Host as LogHost, Level};
use super::output::{Captured, Stream};

/// Longest log line a plugin may write; longer ones are cut.
const MAX_LOG_LINE: usize = 4096;

/// Per-store data.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    /// The linear memory cap, in bytes.
    memory_cap: usize,
    /// Set when the plugin tried to grow past its cap, so the failure is
    /// reported as a memory limit rather than a generic trap.
    pub(crate) memory_exceeded: bool,
    /// The running call's CPU budget (see `deadline`).
    pub(crate) clock: Option<super::deadline::CallClock>,
    /// What the plugin wrote to stdout and stderr since the last call.
    pub(crate) output: Captured,
    plugin: Arc<str>,
}

impl HostState {
    /// A store for `plugin` with a linear memory cap of `memory_bytes`.
    pub fn new(plugin: Arc<str>, memory_bytes: usize) -> HostState {
        let output = Captured::default();
        // No clock and no entropy: the same input gives the same output.
        // Output is captured, to be logged after each call.
        let wasi = WasiCtx::builder()
            .stdout(output.pipe(Stream::Stdout))
            .stderr(output.pipe(Stream::Stderr))
            .wall_clock(FrozenClock)
            .monotonic_clock(FrozenClock)
            .secure_random(wasmtime_wasi::Deterministic::new(vec![42; 32]))
            .insecure_random(wasmtime_wasi::Deterministic::new(vec![7; 32]))
            .build();
        HostState {
            wasi,
            table: ResourceTable::new(),
            memory_cap: memory_bytes,
            memory_exceeded: false,
            clock: None,
            output,
            plugin,
        }
    }
}

/// Tables may hold this many elements at most (CPython's is the largest
/// seen, at tens of thousands).
const MAX_TABLE_ELEMENTS: usize = 1_000_000;

impl ResourceLimiter for HostState {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_cap {
            // Trap at once: a plugin out of memory cannot do anything useful,
            // and the flag lets the host name the cause.
            self.memory_exceeded = true;
            wasmtime::bail!(
                "memory would grow to {desired} bytes, over the cap of {} bytes",
                self.memory_cap
            );
        }
        Ok(maximum.is_none_or(|max| desired <= max))
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS && maximum.is_none_or(|max| desired <= max))
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl LogHost for HostState {
    fn log(&mut self, level: Level, message: String) {
        let mut message = message;
        if message.len() > MAX_LOG_LINE {
            let mut cut = MAX_LOG_LINE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        let plugin = &*self.plugin;
        let message = super::output::scrub(&message);
        match level {
            Level::Trace => tracing::trace!(plugin, "{message}"),
            Level::Debug => tracing::debug!(plugin, "{message}"),
            Level::Info => tracing::info!(plugin, "{message}"),
            Level::Warn => tracing::warn!(plugin, "{message}"),
            Level::Error => tracing::error!(plugin, "{message}"),
        }
    }
}

/// Plugins get no clock: time they need comes in their inputs (`now-ms`), so
/// the same input always gives the same output.
struct FrozenClock;

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> std::time::Duration {
        std::time::Duration::from_secs(1)
    }
    fn now(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }
}

impl HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}
