//! The shared cases against Redis (127.0.0.1:6379), plus two replicas
//! sharing a prefix, holds that lapse, and Redis down.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::cases::wait_for;
use super::{T0, ask, budget, burst, close, limit, rpm};
use crate::shared::keys;
use crate::{Ask, Budget, LimitError, Limiter, ManualClock, Period, RefusalKind, Scope};

const URL: &str = "redis://127.0.0.1:6379";

fn unique_prefix() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "sytest-limits-{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn sync_conn(url: &str) -> redis::Connection {
    redis::Client::open(url).unwrap().get_connection().unwrap()
}

fn keys_under(url: &str, prefix: &str) -> Vec<String> {
    redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query(&mut sync_conn(url))
        .unwrap()
}

/// Checks that Redis answered to the end (nothing fell back), then
/// deletes the test's keys.
struct Cleanup {
    prefix: String,
    limiters: Vec<Limiter>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let keys = keys_under(URL, &self.prefix);
        if !keys.is_empty() {
            let _: () = redis::cmd("DEL")
                .arg(&keys)
                .query(&mut sync_conn(URL))
                .unwrap();
        }
        if !std::thread::panicking() {
            for l in &self.limiters {
                assert!(l.status().connected, "{:?}", l.status());
            }
        }
    }
}

fn redis_limiter(clock: Arc<ManualClock>) -> (Limiter, Cleanup) {
    let prefix = unique_prefix();
    let l = Limiter::redis_with_clock(URL, &prefix, clock).unwrap();
    (
        l.clone(),
        Cleanup {
            prefix,
            limiters: vec![l],
        },
    )
}

super::cases::every_case!(redis_limiter);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_sharing_a_prefix_admit_exactly_rpm_between_them() {
    let clock = ManualClock::new(T0);
    let prefix = unique_prefix();
    let a = Limiter::redis_with_clock(URL, &prefix, clock.clone()).unwrap();
    let b = Limiter::redis_with_clock(URL, &prefix, clock.clone()).unwrap();
    let _cleanup = Cleanup {
        prefix,
        limiters: vec![a.clone(), b.clone()],
    };
    let replicas = [a.clone(), b.clone()];

    let limits = Arc::new(vec![rpm("key", "k1", 10)]);
    let (admitted, refused) = burst(&replicas, limits.clone(), Ask::default(), 40).await;
    assert_eq!((admitted.len(), refused), (10, 30));
    assert_eq!(a.current(&limits[0]).await.requests, 10);
    assert_eq!(b.current(&limits[0]).await.requests, 10);

    let spent = Arc::new(vec![budget("team", "t1", 1.0, Period::Months(1))]);
    a.seed_spend(&spent[0].scope, &Period::Months(1), 0.99)
        .await;
    b.seed_spend(&spent[0].scope, &Period::Months(1), 0.0).await;
    let (admitted, refused) = burst(&replicas, spent.clone(), ask(Some(0.05)), 50).await;
    assert_eq!((admitted.len(), refused), (1, 49));
    drop(admitted);
    wait_for(&b, &spent[0], |c| {
        close(c.reserved_usd, 0.0) && close(c.spent_usd, 0.99)
    })
    .await;

    // A slot taken on one replica is seen, and freed, on the other.
    let parallel = vec![crate::Limit {
        max_parallel: Some(1),
        ..limit("user", "u1")
    }];
    let held = a.admit(&parallel, &Ask::default()).await.unwrap();
    assert_eq!(
        b.admit(&parallel, &Ask::default()).await.unwrap_err().kind,
        RefusalKind::Parallel
    );
    held.settle(0, None);
    wait_for(&b, &parallel[0], |c| c.parallel == 0).await;
    b.admit(&parallel, &Ask::default())
        .await
        .unwrap()
        .settle(0, None);
}

#[tokio::test]
async fn holds_of_a_replica_that_never_settles_lapse() {
    let clock = ManualClock::new(T0);
    let (l, _cleanup) = redis_limiter(clock.clone());
    let limits = vec![crate::Limit {
        max_parallel: Some(1),
        budget: Some(Budget {
            max_usd: 1.0,
            period: Period::Forever,
        }),
        ..limit("key", "k1")
    }];
    // A crash: the admission is never settled nor dropped.
    std::mem::forget(l.admit(&limits, &ask(Some(1.0))).await.unwrap());
    let refused = l.admit(&limits, &ask(Some(0.1))).await.unwrap_err();
    assert_eq!(refused.kind, RefusalKind::Budget);
    assert!(close(refused.reserved, 1.0));
    clock.advance_ms(crate::shared::HOLD_MS - 1);
    assert!(l.admit(&limits, &ask(Some(0.1))).await.is_err());
    clock.advance_ms(1);
    let a = l.admit(&limits, &ask(Some(0.1))).await.unwrap();
    let c = l.current(&limits[0]).await;
    assert_eq!(c.parallel, 1);
    assert!(close(c.reserved_usd, 0.1), "{c:?}");
    a.settle(0, None);
}

fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn an_unreachable_redis_falls_back_to_memory_and_says_so_without_the_password() {
    let url = format!("redis://:hunter2@127.0.0.1:{}", closed_port());
    let l = Limiter::redis(&url, "sytest-limits-closed").unwrap();
    let limits = vec![rpm("key", "k1", 1)];
    let a = l.admit(&limits, &Ask::default()).await.unwrap();
    let status = l.status();
    assert_eq!((status.backend, status.connected), ("redis", false));
    let error = status.error.unwrap();
    assert!(!error.contains("hunter2"), "{error}");
    // Counted in memory: the second is refused by this replica's count.
    let refused = l.admit(&limits, &Ask::default()).await.unwrap_err();
    assert_eq!((refused.kind, refused.current), (RefusalKind::Rpm, 1.0));
    assert_eq!(l.current(&limits[0]).await.requests, 1);
    a.settle(1, Some(0.1));
}

#[test]
fn bad_urls_and_a_missing_runtime_are_errors_without_the_password() {
    let err = Limiter::redis("redis://127.0.0.1:6379", "p").unwrap_err();
    assert!(matches!(err, LimitError::NoRuntime), "{err}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let err = Limiter::redis("nope://:hunter2@host", "p").unwrap_err();
        assert!(matches!(err, LimitError::Url(_)), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    });
}

/// A private redis-server that the test may kill.
struct Server {
    child: Child,
}

impl Server {
    fn start(port: u16) -> Server {
        let mut child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let url = format!("redis://127.0.0.1:{port}");
        for _ in 0..100 {
            if let Ok(mut conn) = redis::Client::open(url.as_str()).unwrap().get_connection()
                && redis::cmd("PING").query::<String>(&mut conn).is_ok()
            {
                return Server { child };
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("redis-server on {port} did not start");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_going_down_falls_back_to_memory_and_catches_up_when_it_returns() {
    let port = closed_port();
    let url = format!("redis://127.0.0.1:{port}");
    let server = Server::start(port);
    let clock = ManualClock::new(T0);
    let l = Limiter::redis_with_clock(&url, "sytest-limits-down", clock).unwrap();
    let limits = vec![crate::Limit {
        rpm: Some(2),
        budget: Some(Budget {
            max_usd: 100.0,
            period: Period::Forever,
        }),
        ..limit("key", "k1")
    }];

    l.admit(&limits, &ask(Some(1.0)))
        .await
        .unwrap()
        .settle(0, Some(1.0));
    wait_for(&l, &limits[0], |c| close(c.spent_usd, 1.0)).await;
    assert!(l.status().connected);

    drop(server);
    let down = l.admit(&limits, &ask(Some(1.0))).await.unwrap();
    let status = l.status();
    assert!(!status.connected && status.error.is_some(), "{status:?}");
    down.settle(0, Some(2.0));
    let seeded = budget("team", "t1", 50.0, Period::Months(1));
    l.seed_spend(&seeded.scope, &Period::Months(1), 3.0).await;
    // This replica's memory counts what it passed through Redis too: 2
    // requests this minute, $3 spent.
    let refused = l.admit(&limits, &Ask::default()).await.unwrap_err();
    assert_eq!((refused.kind, refused.current), (RefusalKind::Rpm, 2.0));
    assert!(close(l.current(&limits[0]).await.spent_usd, 3.0));

    // A new, empty Redis on the same port: the limiter finds it again by
    // itself, and sends the spend counted (and seeded) while it was gone.
    let _server = Server::start(port);
    for _ in 0..50 {
        if l.status().connected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(l.status().connected, "{:?}", l.status());
    let back = wait_for(&l, &limits[0], |c| close(c.spent_usd, 2.0)).await;
    wait_for(&l, &seeded, |c| close(c.spent_usd, 3.0)).await;
    assert_eq!(back.requests, 0);
    l.admit(&limits, &Ask::default())
        .await
        .unwrap()
        .settle(0, None);
    assert_eq!(l.current(&limits[0]).await.requests, 1);
    assert_eq!(keys_under(&url, "sytest-limits-down").len(), 3);
}

/// A thread with a runtime of its own that admits a request when asked:
/// its Redis connection (one per thread) lives across a test's phases, as
/// a serving thread's does.
struct Worker {
    jobs: Option<std::sync::mpsc::Sender<std::sync::mpsc::Sender<bool>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Worker {
    fn start(l: Limiter, limits: Vec<crate::Limit>) -> Worker {
        let (jobs, asked) = std::sync::mpsc::channel::<std::sync::mpsc::Sender<bool>>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            for reply in asked {
                let admitted = rt.block_on(async {
                    match l.admit(&limits, &Ask::default()).await {
                        Ok(a) => {
                            a.settle(0, None);
                            true
                        }
                        Err(_) => false,
                    }
                });
                let _ = reply.send(admitted);
            }
        });
        Worker {
            jobs: Some(jobs),
            thread: Some(thread),
        }
    }

    /// Admits one request on this worker's thread; whether it was admitted.
    fn admit(&self) -> bool {
        let (reply, answer) = std::sync::mpsc::channel();
        self.jobs.as_ref().unwrap().send(reply).unwrap();
        answer.recv().unwrap()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn after_redis_returns_no_thread_fails_once_more_on_its_old_connection() {
    let port = closed_port();
    let url = format!("redis://127.0.0.1:{port}");
    let server = Server::start(port);
    let main = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let clock = ManualClock::new(T0);
    let l = {
        let _in = main.enter();
        Limiter::redis_with_clock(&url, "sytest-limits-threads", clock).unwrap()
    };
    let limits = vec![rpm("key", "k1", 100)];
    let requests = |l: &Limiter| main.block_on(l.current(&limits[0])).requests;
    // Three serving threads, each with its own connection.
    let workers: Vec<Worker> = (0..3)
        .map(|_| Worker::start(l.clone(), limits.clone()))
        .collect();
    for w in &workers {
        assert!(w.admit());
        assert!(l.status().connected, "{:?}", l.status());
    }
    assert_eq!(requests(&l), 3);

    // One thread finds the connection lost; it is counted here meanwhile.
    drop(server);
    assert!(workers[0].admit());
    assert!(!l.status().connected);

    // A new, empty Redis on the same port, found again by the limiter.
    let _server = Server::start(port);
    for _ in 0..50 {
        if l.status().connected {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(l.status().connected, "{:?}", l.status());
    // Each thread's next call goes through Redis on a fresh connection:
    // none fails once more on the connection that broke (which would mark
    // Redis down again and count the request on this replica only).
    for (i, w) in workers.iter().enumerate() {
        assert!(w.admit());
        assert!(l.status().connected, "thread {i}: {:?}", l.status());
    }
    assert_eq!(requests(&l), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fallback_starts_from_what_this_replica_counted_through_redis() {
    let port = closed_port();
    let url = format!("redis://127.0.0.1:{port}");
    let server = Server::start(port);
    let clock = ManualClock::new(T0);
    let l = Limiter::redis_with_clock(&url, "sytest-limits-mirror", clock).unwrap();
    let spend = budget("key", "k1", 1.0, Period::Months(1));
    let tokens = crate::Limit {
        tpm: Some(50),
        ..limit("team", "t1")
    };
    let requests = rpm("user", "u1", 2);

    l.admit(&[spend.clone(), tokens.clone()], &ask(Some(0.1)))
        .await
        .unwrap()
        .settle(60, Some(1.0));
    for _ in 0..2 {
        l.admit(std::slice::from_ref(&requests), &Ask::default())
            .await
            .unwrap()
            .settle(0, None);
    }
    // Deployment budgets feed the fallback's current figures too.
    let deployment = budget("deployment", "d1", 10.0, Period::Forever);
    l.add_spend(&deployment.scope, &Period::Forever, 0.5, 0);
    wait_for(&l, &spend, |c| close(c.spent_usd, 1.0)).await;
    wait_for(&l, &tokens, |c| c.tokens == 60).await;
    assert!(l.status().connected);

    drop(server);
    // Each would be admitted by a fallback that started from zero.
    let refused = l.admit(&[spend], &ask(Some(0.01))).await.unwrap_err();
    assert!(!l.status().connected);
    assert_eq!(refused.kind, RefusalKind::Budget);
    assert!(close(refused.current, 1.0), "{refused:?}");
    let refused = l.admit(&[tokens], &Ask::default()).await.unwrap_err();
    assert_eq!((refused.kind, refused.current), (RefusalKind::Tpm, 60.0));
    let refused = l.admit(&[requests], &Ask::default()).await.unwrap_err();
    assert_eq!((refused.kind, refused.current), (RefusalKind::Rpm, 2.0));
    assert!(close(l.current(&deployment).await.spent_usd, 0.5));
}

/// Reads a Redis string as a number (0 when absent).
fn read_number(url: &str, key: &str) -> f64 {
    let value: Option<String> = redis::cmd("GET")
        .arg(key)
        .query(&mut sync_conn(url))
        .unwrap();
    value.map_or(0.0, |v| v.parse().unwrap())
}

fn zcard(url: &str, key: &str) -> u64 {
    redis::cmd("ZCARD")
        .arg(key)
        .query(&mut sync_conn(url))
        .unwrap()
}

#[test]
fn flush_sends_pending_settles_and_spend_before_the_runtime_stops() {
    let clock = ManualClock::new(T0);
    let prefix = unique_prefix();
    let limits = vec![crate::Limit {
        tpm: Some(1_000),
        max_parallel: Some(1),
        budget: Some(Budget {
            max_usd: 10.0,
            period: Period::Forever,
        }),
        ..limit("key", "k1")
    }];
    let deployment = Scope::new("deployment", "d1");
    // A current-thread runtime runs a spawned task only when the test
    // awaits: without flush, dropping it would lose the settle and the
    // spend that waits for the background sync.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let l = rt.block_on(async {
        let l = Limiter::redis_with_clock(URL, &prefix, clock).unwrap();
        let a = l.admit(&limits, &ask(Some(1.0))).await.unwrap();
        a.settle(40, Some(0.75));
        l.add_spend(&deployment, &Period::Forever, 0.5, 0);
        l.flush().await;
        l
    });
    drop(rt);
    let _cleanup = Cleanup {
        prefix: prefix.clone(),
        limiters: vec![l],
    };
    let base = keys::base(&prefix, &limits[0].scope);
    assert!(close(
        read_number(URL, &keys::spent(&base, &Period::Forever, T0)),
        0.75
    ));
    assert!(close(read_number(URL, &keys::tokens(&base, T0)), 40.0));
    assert_eq!(zcard(URL, &keys::in_flight(&base)), 0);
    assert_eq!(zcard(URL, &keys::reservations(&base, &Period::Forever)), 0);
    let deployment = keys::base(&prefix, &deployment);
    assert!(close(
        read_number(URL, &keys::spent(&deployment, &Period::Forever, T0)),
        0.5
    ));
}

#[tokio::test]
async fn flush_gives_up_within_its_bound_when_redis_does_not_answer() {
    // Accepts connections (the kernel's backlog) but never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}", silent.local_addr().unwrap());
    let l = Limiter::redis(&url, "sytest-limits-silent").unwrap();
    let limits = vec![budget("key", "k1", 10.0, Period::Forever)];
    let a = l.admit(&limits, &ask(Some(1.0))).await.unwrap();
    assert!(!l.status().connected);
    a.settle(0, Some(0.5));
    l.add_spend(&limits[0].scope, &Period::Forever, 0.5, 3);
    let started = std::time::Instant::now();
    l.flush().await;
    let took = started.elapsed();
    assert!(
        took <= crate::shared::FLUSH_TIMEOUT + Duration::from_millis(200),
        "{took:?}"
    );
    // Counted here all along.
    assert!(close(l.current(&limits[0]).await.spent_usd, 1.0));
}

#[tokio::test]
async fn a_counter_holding_a_non_number_fails_admission_before_anything_is_taken() {
    let clock = ManualClock::new(T0);
    let (l, cleanup) = redis_limiter(clock);
    let limits = vec![crate::Limit {
        rpm: Some(5),
        max_parallel: Some(1),
        budget: Some(Budget {
            max_usd: 1.0,
            period: Period::Forever,
        }),
        ..limit("key", "k1")
    }];
    let base = keys::base(&cleanup.prefix, &limits[0].scope);
    let requests = keys::requests(&base, T0);
    // A number Lua reads but INCR refuses: the old script reserved the
    // budget, then failed at INCR and kept the reservation.
    let _: () = redis::cmd("SET")
        .arg(&requests)
        .arg("1.5")
        .query(&mut sync_conn(URL))
        .unwrap();
    let fallback = l.admit(&limits, &ask(Some(0.5))).await.unwrap();
    assert!(!l.status().connected);
    assert!(
        l.status().error.unwrap().contains("not a number"),
        "{:?}",
        l.status()
    );
    assert_eq!(zcard(URL, &keys::reservations(&base, &Period::Forever)), 0);
    assert_eq!(zcard(URL, &keys::in_flight(&base)), 0);
    drop(fallback);

    let _: () = redis::cmd("DEL")
        .arg(&requests)
        .query(&mut sync_conn(URL))
        .unwrap();
    // The release queued on the error path (a no-op) brings Redis back
    // within a probe interval.
    for _ in 0..50 {
        if l.status().connected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(l.status().connected, "{:?}", l.status());
    let a = l.admit(&limits, &ask(Some(0.9))).await.unwrap();
    let c = l.current(&limits[0]).await;
    assert!(close(c.reserved_usd, 0.9), "{c:?}");
    assert_eq!((c.parallel, c.requests), (1, 1));
    a.settle(0, None);
}

#[tokio::test]
async fn a_settle_skips_a_counter_of_the_wrong_type_and_applies_the_rest_once() {
    let clock = ManualClock::new(T0);
    let (l, cleanup) = redis_limiter(clock);
    let limits = vec![crate::Limit {
        tpm: Some(1_000),
        max_parallel: Some(1),
        budget: Some(Budget {
            max_usd: 1.0,
            period: Period::Forever,
        }),
        ..limit("key", "k1")
    }];
    let a = l.admit(&limits, &ask(Some(0.5))).await.unwrap();
    let base = keys::base(&cleanup.prefix, &limits[0].scope);
    let _: () = redis::cmd("HSET")
        .arg(keys::tokens(&base, T0))
        .arg("f")
        .arg("v")
        .query(&mut sync_conn(URL))
        .unwrap();
    a.settle(10, Some(0.2));
    // Read without tpm: reading the broken counter would fail.
    let view = crate::Limit {
        tpm: None,
        ..limits[0].clone()
    };
    let c = wait_for(&l, &view, |c| c.parallel == 0).await;
    assert!(close(c.reserved_usd, 0.0), "{c:?}");
    // Settled once: a failed script would have been retried through the
    // background sync and added the cost again.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(close(l.current(&view).await.spent_usd, 0.2));
}
