//! Redis connections for the gateway's crates (limits, the cache, shared
//! routing state): a connection per thread, and the URL's secrets kept out
//! of every message.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, ErrorKind, RedisResult};
use thread_local::ThreadLocal;

/// A multiplexed Redis connection for each thread that asks for one.
///
/// A [`ConnectionManager`] drives its socket from a task on the runtime
/// that first used it. One manager shared by the gateway's serving threads
/// (a current-thread runtime each, `server::per_core`) sent every command
/// from the request's thread to that task on another thread and the reply
/// back: two wake-ups and context switches a round trip, and with limits,
/// the cache and shared state on Redis, the main runtime's CPU per request
/// came close to the serving threads'. With a connection per thread a
/// command is written, and its reply read, on the thread that awaits it.
/// The connections are made on first use, so an unreachable Redis does not
/// stop a start.
///
/// A manager finds out that its connection broke only when a command fails
/// on it, and each thread has its own: after an outage every thread would
/// fail once more before reconnecting. [`PerThread::reset`] (called when
/// Redis is lost) makes each thread start a fresh connection at its next
/// call instead.
pub struct PerThread {
    client: Client,
    config: ConnectionManagerConfig,
    conns: ThreadLocal<RefCell<Slot>>,
    /// Bumped by [`PerThread::reset`]; a slot of an older one is replaced.
    generation: AtomicU64,
}

/// A thread's connection and the generation it was made in.
struct Slot {
    generation: u64,
    conn: Option<ConnectionManager>,
}

impl PerThread {
    pub fn new(client: Client, config: ConnectionManagerConfig) -> PerThread {
        PerThread {
            client,
            config,
            conns: ThreadLocal::new(),
            generation: AtomicU64::new(0),
        }
    }

    /// This thread's connection (a clone is a reference count). Errs
    /// outside a tokio runtime: the manager starts a task on the current one.
    pub fn get(&self) -> RedisResult<ConnectionManager> {
        let generation = self.generation.load(Ordering::Acquire);
        let slot = self.conns.get_or(|| {
            RefCell::new(Slot {
                generation,
                conn: None,
            })
        });
        let mut slot = slot.borrow_mut();
        if slot.generation == generation
            && let Some(conn) = &slot.conn
        {
            return Ok(conn.clone());
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return Err((ErrorKind::Client, "no tokio runtime on this thread").into());
        }
        let conn =
            ConnectionManager::new_lazy_with_config(self.client.clone(), self.config.clone())?;
        *slot = Slot {
            generation,
            conn: Some(conn.clone()),
        };
        Ok(conn)
    }

    /// Every thread makes a fresh connection at its next call (the old one
    /// closes when its last command is done). Called when Redis was lost.
    pub fn reset(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// The client the connections are made from.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

/// The password in `redis://user:password@host/`, if any.
pub fn url_password(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split('/').next()?;
    let userinfo = authority.rsplit_once('@')?.0;
    userinfo.split_once(':').map(|(_, password)| password)
}

/// An error's text with the URL and password taken out.
pub fn scrub(error: &dyn std::fmt::Display, secrets: &[String]) -> String {
    let mut text = error.to_string();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        text = text.replace(secret.as_str(), "***");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_and_scrubs_the_password() {
        assert_eq!(url_password("redis://:s3cret@host:6379/0"), Some("s3cret"));
        assert_eq!(url_password("rediss://user:p@ss@host/"), Some("p@ss"));
        assert_eq!(url_password("redis://host:6379"), None);
        let secrets = vec!["s3cret".to_string(), String::new()];
        assert_eq!(scrub(&"auth failed: s3cret", &secrets), "auth failed: ***");
    }

    #[test]
    fn outside_a_runtime_there_is_no_connection() {
        let client = Client::open("redis://127.0.0.1:1/").unwrap();
        let conns = PerThread::new(client, ConnectionManagerConfig::new());
        let error = conns.get().err().unwrap();
        assert!(error.to_string().contains("no tokio runtime"), "{error}");
    }

    /// This thread's connection's id twice, from a runtime of its own.
    fn ids(conns: &PerThread) -> (i64, i64) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut first = conns.get().unwrap();
            let mut again = conns.get().unwrap();
            let a: i64 = redis::cmd("CLIENT")
                .arg("ID")
                .query_async(&mut first)
                .await
                .unwrap();
            let b: i64 = redis::cmd("CLIENT")
                .arg("ID")
                .query_async(&mut again)
                .await
                .unwrap();
            (a, b)
        })
    }

    /// Each thread gets a connection of its own, kept for its next call,
    /// and each one reaches the server.
    #[test]
    fn each_thread_has_its_own_connection() {
        let client = Client::open("redis://127.0.0.1:6379/").unwrap();
        let conns = std::sync::Arc::new(PerThread::new(client, ConnectionManagerConfig::new()));
        let other = {
            let conns = std::sync::Arc::clone(&conns);
            std::thread::spawn(move || ids(&conns))
        };
        let here = ids(&conns);
        let there = other.join().unwrap();
        assert_eq!(here.0, here.1, "one connection per thread, kept");
        assert_eq!(there.0, there.1, "one connection per thread, kept");
        assert_ne!(here.0, there.0, "threads do not share a connection");

        conns.reset();
        let fresh = ids(&conns);
        assert_eq!(fresh.0, fresh.1, "one connection per thread, kept");
        assert_ne!(fresh.0, here.0, "a reset makes a new connection");
    }
}
