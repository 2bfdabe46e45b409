//! `wasi:io` for plugins, without entering tokio.
//!
//! wasmtime-wasi's synchronous bindings run every blocking stream and poll
//! operation (`blocking-write-and-flush`, dropping a stream, `poll`, …)
//! through `Handle::block_on` when a tokio runtime is current. Plugin calls
//! run on the gateway's tokio workers, so a plugin's first `println!` (or a
//! Rust panic message, or a Python traceback) panicked the worker with
//! "Cannot start a runtime from within a runtime" and dropped the client's
//! connection.
//!
//! Plugins have no files, sockets or clocks to wait on: their only streams
//! are the captured stdout and stderr, which are always ready. So these
//! bindings drive each operation's future on the spot, and trap with a
//! clear message if it would have to wait (a plugin sleeping, say). A sleep
//! already due when it is polled (the thread was descheduled in between)
//! waits for nothing, and passes.

use std::future::Future;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use wasmtime::component::{Linker, Resource, ResourceTable};
use wasmtime_wasi::WasiView;
use wasmtime_wasi::p2::bindings::sync::io::{poll, streams};
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, DynPollable, StreamError, StreamResult};
use wasmtime_wasi_io::bindings::wasi::io::poll as async_poll;
use wasmtime_wasi_io::bindings::wasi::io::streams::{
    Host as AsyncHost, HostInputStream as AsyncInput, HostOutputStream as AsyncOutput,
};

/// The resource table, seen through the non-blocking bindings.
pub struct NonBlocking<'a>(&'a mut ResourceTable);

struct HasNonBlocking;

impl wasmtime::component::HasData for HasNonBlocking {
    type Data<'a> = NonBlocking<'a>;
}

/// Replaces the `wasi:io/streams` and `wasi:io/poll` functions that
/// wasmtime-wasi's synchronous linker runs inside tokio.
pub fn add_to_linker<T: WasiView>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    streams::add_to_linker::<T, HasNonBlocking>(linker, view::<T>)?;
    poll::add_to_linker::<T, HasNonBlocking>(linker, view::<T>)?;
    linker.allow_shadowing(false);
    Ok(())
}

fn view<T: WasiView>(t: &mut T) -> NonBlocking<'_> {
    NonBlocking(t.ctx().table)
}

const WOULD_BLOCK: &str = "plugins cannot wait: this operation would block (a plugin has no files, sockets or clocks to wait on)";

/// Runs `f` to completion if it needs no waiting: polled twice (a
/// zero-length sleep yields once, then is ready), and a trap otherwise.
fn now<T>(f: impl Future<Output = wasmtime::Result<T>>) -> wasmtime::Result<T> {
    poll_twice(f).unwrap_or_else(|| Err(wasmtime::format_err!("{WOULD_BLOCK}")))
}

/// [`now`] for stream operations, whose errors are stream errors.
fn now_stream<T>(f: impl Future<Output = StreamResult<T>>) -> StreamResult<T> {
    poll_twice(f).unwrap_or_else(|| Err(StreamError::trap(WOULD_BLOCK)))
}

fn poll_twice<R>(f: impl Future<Output = R>) -> Option<R> {
    // wasmtime-wasi's clock pollables make tokio timers, which need a
    // runtime context: plugins also run outside the gateway's runtime (at
    // start-up, on hot reload, in `config check` and `plugin test`).
    let _context = match tokio::runtime::Handle::try_current() {
        Ok(_) => None,
        Err(_) => spare_runtime().map(tokio::runtime::Runtime::enter),
    };
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    (0..2).find_map(|_| match f.as_mut().poll(&mut cx) {
        Poll::Ready(r) => Some(r),
        Poll::Pending => None,
    })
}

/// A runtime that is never driven, only entered, so a timer can be made
/// (and found pending) off the gateway's runtime.
fn spare_runtime() -> Option<&'static tokio::runtime::Runtime> {
    static SPARE: OnceLock<Option<tokio::runtime::Runtime>> = OnceLock::new();
    SPARE
        .get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .ok()
        })
        .as_ref()
}

impl streams::Host for NonBlocking<'_> {
    fn convert_stream_error(&mut self, err: StreamError) -> wasmtime::Result<streams::StreamError> {
        Ok(match AsyncHost::convert_stream_error(self.0, err)? {
            wasmtime_wasi_io::bindings::wasi::io::streams::StreamError::Closed => {
                streams::StreamError::Closed
            }
            wasmtime_wasi_io::bindings::wasi::io::streams::StreamError::LastOperationFailed(e) => {
                streams::StreamError::LastOperationFailed(e)
            }
        })
    }
}

impl streams::HostOutputStream for NonBlocking<'_> {
    fn drop(&mut self, stream: Resource<DynOutputStream>) -> wasmtime::Result<()> {
        now(AsyncOutput::drop(self.0, stream))
    }

    fn check_write(&mut self, stream: Resource<DynOutputStream>) -> StreamResult<u64> {
        AsyncOutput::check_write(self.0, stream)
    }

    fn write(&mut self, stream: Resource<DynOutputStream>, bytes: Vec<u8>) -> StreamResult<()> {
        AsyncOutput::write(self.0, stream, bytes)
    }

    fn blocking_write_and_flush(
        &mut self,
        stream: Resource<DynOutputStream>,
        bytes: Vec<u8>,
    ) -> StreamResult<()> {
        now_stream(AsyncOutput::blocking_write_and_flush(self.0, stream, bytes))
    }

    fn blocking_write_zeroes_and_flush(
        &mut self,
        stream: Resource<DynOutputStream>,
        len: u64,
    ) -> StreamResult<()> {
        now_stream(AsyncOutput::blocking_write_zeroes_and_flush(
            self.0, stream, len,
        ))
    }

    fn subscribe(
        &mut self,
        stream: Resource<DynOutputStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        AsyncOutput::subscribe(self.0, stream)
    }

    fn write_zeroes(&mut self, stream: Resource<DynOutputStream>, len: u64) -> StreamResult<()> {
        AsyncOutput::write_zeroes(self.0, stream, len)
    }

    fn flush(&mut self, stream: Resource<DynOutputStream>) -> StreamResult<()> {
        AsyncOutput::flush(self.0, stream)
    }

    fn blocking_flush(&mut self, stream: Resource<DynOutputStream>) -> StreamResult<()> {
        now_stream(AsyncOutput::blocking_flush(self.0, stream))
    }

    fn splice(
        &mut self,
        dst: Resource<DynOutputStream>,
        src: Resource<DynInputStream>,
        len: u64,
    ) -> StreamResult<u64> {
        AsyncOutput::splice(self.0, dst, src, len)
    }

    fn blocking_splice(
        &mut self,
        dst: Resource<DynOutputStream>,
        src: Resource<DynInputStream>,
        len: u64,
    ) -> StreamResult<u64> {
        now_stream(AsyncOutput::blocking_splice(self.0, dst, src, len))
    }
}

impl streams::HostInputStream for NonBlocking<'_> {
    fn drop(&mut self, stream: Resource<DynInputStream>) -> wasmtime::Result<()> {
        now(AsyncInput::drop(self.0, stream))
    }

    fn read(&mut self, stream: Resource<DynInputStream>, len: u64) -> StreamResult<Vec<u8>> {
        AsyncInput::read(self.0, stream, len)
    }

    fn blocking_read(
        &mut self,
        stream: Resource<DynInputStream>,
        len: u64,
    ) -> StreamResult<Vec<u8>> {
        now_stream(AsyncInput::blocking_read(self.0, stream, len))
    }

    fn skip(&mut self, stream: Resource<DynInputStream>, len: u64) -> StreamResult<u64> {
        AsyncInput::skip(self.0, stream, len)
    }

    fn blocking_skip(&mut self, stream: Resource<DynInputStream>, len: u64) -> StreamResult<u64> {
        now_stream(AsyncInput::blocking_skip(self.0, stream, len))
    }

    fn subscribe(
        &mut self,
        stream: Resource<DynInputStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        AsyncInput::subscribe(self.0, stream)
    }
}

impl poll::Host for NonBlocking<'_> {
    fn poll(&mut self, pollables: Vec<Resource<DynPollable>>) -> wasmtime::Result<Vec<u32>> {
        now(async_poll::Host::poll(self.0, pollables))
    }
}

impl poll::HostPollable for NonBlocking<'_> {
    fn ready(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<bool> {
        now(async_poll::HostPollable::ready(self.0, pollable))
    }

    fn block(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        now(async_poll::HostPollable::block(self.0, pollable))
    }

    fn drop(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        async_poll::HostPollable::drop(self.0, pollable)
    }
}
