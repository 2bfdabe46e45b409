//! Serving on a thread per core. Each thread runs a current-thread tokio
//! runtime with a listener of its own on the one address (`SO_REUSEPORT`:
//! the kernel spreads connections over them), so a request is read,
//! handled, sent upstream on that thread's pooled connections and answered
//! without leaving its thread. On one shared multi-thread runtime the
//! connection's task, the handler and the upstream connection's task were
//! woken across threads, and the kernel's scheduler and futex work took a
//! quarter of a loaded gateway's CPU. Background work (the spend writer,
//! webhooks, limit syncs, reloads) stays on the main runtime.

use std::io;
use std::net::SocketAddr;
use std::thread::JoinHandle;

use axum::Router;
use axum::serve::ListenerExt as _;
use tokio::sync::{oneshot, watch};

/// Threads that serve when `SWITCHYARD_SERVE_THREADS` does not say: one per
/// core on Linux, whose `SO_REUSEPORT` spreads connections over the
/// listeners; one elsewhere (macOS gives every connection to one of them).
pub fn default_threads() -> usize {
    if cfg!(target_os = "linux") {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        1
    }
}

/// `SWITCHYARD_SERVE_THREADS`, else one per core; an error names a value
/// that is not a positive number.
pub fn threads_from_env() -> Result<usize, String> {
    threads_from(std::env::var("SWITCHYARD_SERVE_THREADS").ok().as_deref())
}

fn threads_from(value: Option<&str>) -> Result<usize, String> {
    match value {
        None => Ok(default_threads()),
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!(
                "SWITCHYARD_SERVE_THREADS must be a positive number of threads, not {v:?}"
            )),
        },
    }
}

/// Binds `n` listeners to `addr`, each with `SO_REUSEPORT` (port 0 picks
/// one port for all of them). Called on a runtime; the listeners come back
/// detached from it, for each serving thread to adopt.
pub fn bind(addr: SocketAddr, n: usize) -> io::Result<Vec<std::net::TcpListener>> {
    // A plain bind first: with SO_REUSEPORT alone, a second gateway started
    // on the same port would join this one's listeners and split its
    // traffic instead of failing with "address in use" (a plain bind fails
    // while any socket holds the port). Two gateways starting in the same
    // instant can still both pass it: the probe is closed before the
    // listeners bind.
    let addr = std::net::TcpListener::bind(addr)?.local_addr()?;
    let mut listeners = Vec::with_capacity(n);
    for _ in 0..n.max(1) {
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        #[cfg(unix)]
        socket.set_reuseport(true)?;
        socket.bind(addr)?;
        listeners.push(socket.listen(1024)?.into_std()?);
    }
    Ok(listeners)
}

/// The serving threads.
pub struct Serving {
    finished: Vec<oneshot::Receiver<io::Result<()>>>,
    release: watch::Sender<bool>,
    threads: Vec<JoinHandle<()>>,
}

/// Starts a serving thread per listener. Each serves `router` until `stop`
/// turns true, then finishes its requests in flight.
pub fn start(
    listeners: Vec<std::net::TcpListener>,
    router: Router,
    stop: watch::Receiver<bool>,
) -> io::Result<Serving> {
    let (release, released) = watch::channel(false);
    let mut finished = Vec::with_capacity(listeners.len());
    let mut threads = Vec::with_capacity(listeners.len());
    for (i, listener) in listeners.into_iter().enumerate() {
        let (done, done_rx) = oneshot::channel();
        let router = router.clone();
        let stop = stop.clone();
        let released = released.clone();
        let thread = std::thread::Builder::new()
            .name(format!("serve-{i}"))
            .spawn(move || serve_thread(listener, router, stop, released, done))?;
        finished.push(done_rx);
        threads.push(thread);
    }
    Ok(Serving {
        finished,
        release,
        threads,
    })
}

impl Serving {
    /// Resolves if a thread stops serving before it is told to (its
    /// runtime or listener failed), with what it stopped on.
    pub async fn stopped_early(&mut self) -> io::Error {
        if self.finished.is_empty() {
            return std::future::pending().await;
        }
        let (result, i, _) = futures::future::select_all(self.finished.iter_mut()).await;
        drop(self.finished.swap_remove(i));
        match result {
            Ok(Err(e)) => e,
            _ => io::Error::other("a serving thread stopped early"),
        }
    }

    /// Waits until every thread has stopped serving (each request in
    /// flight answered). The first error a thread met is returned.
    pub async fn finished(&mut self) -> io::Result<()> {
        let mut first = Ok(());
        for done in self.finished.drain(..) {
            let result = done
                .await
                .unwrap_or_else(|_| Err(io::Error::other("a serving thread stopped early")));
            if first.is_ok() {
                first = result;
            }
        }
        first
    }

    /// Lets the threads end, dropping their runtimes (and any task a
    /// request left there), and waits for them.
    pub fn end(self) {
        self.release.send_replace(true);
        for t in self.threads {
            let _ = t.join();
        }
    }
}

fn serve_thread(
    listener: std::net::TcpListener,
    router: Router,
    mut stop: watch::Receiver<bool>,
    mut released: watch::Receiver<bool>,
    done: oneshot::Sender<io::Result<()>>,
) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = done.send(Err(e));
            return;
        }
    };
    let result = rt.block_on(async move {
        // The thread's HTTP clients before its first request, not during it.
        crate::upstream::warm_thread_clients();
        // Nagle's algorithm on accepted sockets holds a stream's last small
        // write until the client's delayed ACK (40 ms on Linux), so every
        // streamed answer on a kept-alive connection would end 40 ms late.
        let listener = tokio::net::TcpListener::from_std(listener)?.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "could not set TCP_NODELAY on an accepted connection");
            }
        });
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await
    });
    let _ = done.send(result);
    // Tasks a request spawned here (a cooldown's write, say) keep running
    // while the process flushes, until released.
    rt.block_on(async move {
        let _ = released.wait_for(|r| *r).await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thread_count_is_a_positive_number_or_one_per_core() {
        assert_eq!(threads_from(None), Ok(default_threads()));
        assert_eq!(threads_from(Some(" 3 ")), Ok(3));
        for bad in ["0", "-1", "two", ""] {
            let e = threads_from(Some(bad)).unwrap_err();
            assert!(e.contains("SWITCHYARD_SERVE_THREADS"), "{e}");
            assert!(e.contains(&format!("{bad:?}")), "{e}");
        }
    }

    #[tokio::test]
    async fn listeners_share_the_port_the_first_one_got() {
        let listeners = bind(SocketAddr::from(([127, 0, 0, 1], 0)), 3).unwrap();
        assert_eq!(listeners.len(), 3);
        let port = listeners[0].local_addr().unwrap().port();
        assert_ne!(port, 0);
        for l in &listeners {
            assert_eq!(l.local_addr().unwrap().port(), port);
        }
    }

    #[tokio::test]
    async fn a_port_in_use_is_refused_not_shared() {
        let listeners = bind(SocketAddr::from(([127, 0, 0, 1], 0)), 2).unwrap();
        let taken = listeners[0].local_addr().unwrap();
        let e = bind(taken, 2).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
    }

    /// `GET /` answers the serving thread's name; `GET /slow` after 300 ms.
    #[cfg(target_os = "linux")]
    fn probe_router() -> Router {
        Router::new()
            .route(
                "/",
                axum::routing::get(|| async {
                    std::thread::current().name().unwrap_or("?").to_owned()
                }),
            )
            .route(
                "/slow",
                axum::routing::get(|| async {
                    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                    "slow"
                }),
            )
    }

    #[cfg(target_os = "linux")]
    async fn get(addr: SocketAddr, path: &str) -> String {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        answer
    }

    // Linux's SO_REUSEPORT spreads connections; macOS's does not.
    #[cfg(target_os = "linux")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_thread_serves_and_stops_when_told() {
        let listeners = bind(SocketAddr::from(([127, 0, 0, 1], 0)), 2).unwrap();
        let addr = listeners[0].local_addr().unwrap();
        let (stop, stopped) = watch::channel(false);
        let mut serving = start(listeners, probe_router(), stopped).unwrap();
        // 64 fresh connections: the kernel spreads them over both listeners
        // (all on one would have odds of 2^-63).
        let mut answered_by = std::collections::BTreeSet::new();
        for _ in 0..64 {
            let answer = get(addr, "/").await;
            let name = answer.rsplit("\r\n").next().unwrap().to_owned();
            answered_by.insert(name);
        }
        assert_eq!(
            answered_by.into_iter().collect::<Vec<_>>(),
            ["serve-0", "serve-1"]
        );
        // A request in flight when the stop comes is answered.
        let slow = tokio::spawn(get(addr, "/slow"));
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        stop.send_replace(true);
        serving.finished().await.unwrap();
        assert!(slow.await.unwrap().ends_with("slow"));
        serving.end();
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    }
}
