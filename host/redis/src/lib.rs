//! Redis connections for the gateway's crates (limits and the response
//! cache): a connection per thread, which failures replace it, and the
//! URL's secrets kept out of every message.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, ErrorKind, RedisError, RedisResult};
use thread_local::ThreadLocal;
use tokio::runtime::{Handle, Id};

/// A multiplexed Redis connection for each thread that asks for one.
///
/// A [`ConnectionManager`] drives its socket from a task on the runtime
/// that first used it. One manager shared by the gateway's serving threads
/// (a current-thread runtime each, `server::per_core`) sent every command
/// from the request's thread to that task on another thread and the reply
/// back: two wake-ups and context switches a round trip, and with limits
/// and the cache on Redis, the main runtime's CPU per request came close
/// to the serving threads'. With a connection per thread a command is
/// written, and its reply read, on the thread that awaits it.
///
/// A connection is made when its thread first asks, by a task of its own,
/// so a caller's short timeout (a cache lookup's 100 ms) does not cut the
/// connecting off; an unreachable Redis does not stop a start. A manager
/// finds out that its connection broke only when a command fails on it,
/// and each thread has its own: after an outage every thread would fail
/// once more before reconnecting. [`PerThread::reset`] (called when a
/// connection was lost, see [`connection_lost`]) makes each thread start a
/// fresh connection at its next call instead.
pub struct PerThread {
    client: Client,
    config: ConnectionManagerConfig,
    conns: ThreadLocal<RefCell<Option<Slot>>>,
    /// Bumped by [`PerThread::reset`]; a slot of an older one is replaced.
    generation: AtomicU64,
}

/// A thread's connection, the generation it was made in and the runtime
/// that drives it (a thread may run another runtime later, and
/// `ThreadLocal` gives an exited thread's slot to a new thread).
struct Slot {
    generation: u64,
    runtime: Id,
    conn: ConnectionManager,
}

impl PerThread {
    /// Connections to `client`'s server with `config`; none is made yet.
    pub fn new(client: Client, config: ConnectionManagerConfig) -> PerThread {
        PerThread {
            client,
            config,
            conns: ThreadLocal::new(),
            generation: AtomicU64::new(0),
        }
    }

    /// This thread's connection (a clone is a reference count). Errs
    /// outside a tokio runtime: the manager runs tasks on the current one.
    pub fn get(&self) -> RedisResult<ConnectionManager> {
        let Ok(handle) = Handle::try_current() else {
            return Err((ErrorKind::Client, "no tokio runtime on this thread").into());
        };
        let generation = self.generation.load(Ordering::Acquire);
        let runtime = handle.id();
        let cell = self.conns.get_or(|| RefCell::new(None));
        if let Some(slot) = cell.borrow().as_ref()
            && slot.generation == generation
            && slot.runtime == runtime
        {
            return Ok(slot.conn.clone());
        }
        let conn =
            ConnectionManager::new_lazy_with_config(self.client.clone(), self.config.clone())?;
        // Connects now, whatever becomes of the caller's wait.
        let mut connecting = conn.clone();
        handle.spawn(async move {
            let _ = redis::cmd("PING").query_async::<()>(&mut connecting).await;
        });
        let new = Slot {
            generation,
            runtime,
            conn: conn.clone(),
        };
        // The old manager is dropped after the borrow ends.
        let _old = cell.replace(Some(new));
        Ok(conn)
    }

    /// Every thread makes a fresh connection at its next call (the old one
    /// closes when its last command is done).
    pub fn reset(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

/// Whether `error` means the connection is gone (refused, dropped, an I/O
/// failure), so every thread's should be replaced; an error reply or a
/// timeout does not (a slow Redis is not helped by new connections).
pub fn connection_lost(error: &RedisError) -> bool {
    !error.is_timeout()
        && (error.is_io_error()
            || error.is_connection_refusal()
            || error.is_connection_dropped()
            || error.is_unrecoverable_error())
}

/// A client for `url`, with the secrets to take out of any message about
/// it: the URL, the password in it and the one the client parsed. An
/// unusable URL's error is already free of them.
pub fn open(url: &str) -> (Vec<String>, Result<Client, String>) {
    let mut secrets = vec![url.to_string()];
    secrets.extend(url_password(url).map(str::to_string));
    let client = Client::open(url).map_err(|e| scrub(&e, &secrets));
    if let Ok(client) = &client
        && let Some(password) = client.get_connection_info().redis_settings().password()
        && !secrets.iter().any(|s| s == password)
    {
        secrets.push(password.to_string());
    }
    secrets.retain(|s| !s.is_empty());
    (secrets, client)
}

/// The password in `redis://user:password@host/`, if any.
fn url_password(url: &str) -> Option<&str> {
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
        let (secrets, client) = open("redis://:s3cret@127.0.0.1:6379/0");
        assert!(client.is_ok());
        assert_eq!(secrets, ["redis://:s3cret@127.0.0.1:6379/0", "s3cret"]);
    }

    #[test]
    fn outside_a_runtime_there_is_no_connection() {
        let client = Client::open("redis://127.0.0.1:1/").unwrap();
        let conns = PerThread::new(client, ConnectionManagerConfig::new());
        let error = conns.get().err().unwrap();
        assert!(error.to_string().contains("no tokio runtime"), "{error}");
    }

    async fn id(conns: &PerThread) -> i64 {
        let mut conn = conns.get().unwrap();
        redis::cmd("CLIENT")
            .arg("ID")
            .query_async(&mut conn)
            .await
            .unwrap()
    }

    /// On a runtime of its own: this thread's connection's id twice, then
    /// again after a reset if `reset`.
    fn ids(conns: &PerThread, reset: bool) -> (i64, i64, i64) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (a, b) = (id(conns).await, id(conns).await);
            if reset {
                conns.reset();
            }
            (a, b, id(conns).await)
        })
    }

    /// Each thread gets a connection of its own, kept for its next call;
    /// a reset, or another runtime on the same thread, makes a new one.
    #[test]
    fn each_thread_and_runtime_has_its_own_connection() {
        let client = Client::open("redis://127.0.0.1:6379/").unwrap();
        let conns = std::sync::Arc::new(PerThread::new(client, ConnectionManagerConfig::new()));
        let other = {
            let conns = std::sync::Arc::clone(&conns);
            std::thread::spawn(move || ids(&conns, false))
        };
        let here = ids(&conns, false);
        let there = other.join().unwrap();
        assert!(here.0 == here.1 && here.1 == here.2, "kept: {here:?}");
        assert!(there.0 == there.1 && there.1 == there.2, "kept: {there:?}");
        assert_ne!(here.0, there.0, "threads do not share a connection");
        // Another runtime on this thread: a new connection, kept, then a
        // reset: another.
        let again = ids(&conns, true);
        assert_ne!(again.0, here.0, "another runtime makes a new connection");
        assert_eq!(again.0, again.1, "kept");
        assert_ne!(again.2, again.0, "a reset makes a new connection");
    }

    /// A refused connection is lost; an error reply is not.
    #[test]
    fn only_a_lost_connection_counts_as_lost() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let refused = Client::open("redis://127.0.0.1:1/").unwrap();
            let error = refused
                .get_multiplexed_async_connection()
                .await
                .err()
                .unwrap();
            assert!(connection_lost(&error), "{error}");
            let client = Client::open("redis://127.0.0.1:6379/").unwrap();
            let mut conn = client.get_multiplexed_async_connection().await.unwrap();
            let error = redis::cmd("NO-SUCH-COMMAND")
                .query_async::<()>(&mut conn)
                .await
                .err()
                .unwrap();
            assert!(!connection_lost(&error), "{error}");
        });
    }
}
