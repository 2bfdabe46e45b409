//! Identical calls in flight share one upstream call. The first request
//! for a key leads ([`Joined::Lead`]); those that arrive while it runs
//! follow it ([`Joined::Follow`]): a follower that wants the whole answer
//! waits for its end, a streaming follower reads the leader's chunks from
//! the first one on ([`Follower::next`]). A leader that goes away without
//! an answer (its client left) ends the flight as [`End::Abandoned`], so its
//! followers can make the call themselves.
//!
//! `E` is the host's error: followers get the leader's as it is.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::watch;

/// How a flight ended.
#[derive(Debug, Clone)]
pub enum End<E> {
    /// The whole answer (for a stream: the completion its chunks add up to).
    Done(Bytes),
    /// The leader's error.
    Failed(E),
    /// The leader went away before the end.
    Abandoned,
}

/// One call in flight.
pub struct Flight<E> {
    state: Mutex<Progress<E>>,
    /// Bumped on every change; followers wait on it.
    changed: watch::Sender<u64>,
}

struct Progress<E> {
    chunks: Vec<Arc<str>>,
    end: Option<End<E>>,
}

impl<E: Clone> Flight<E> {
    fn new() -> Flight<E> {
        Flight {
            state: Mutex::new(Progress {
                chunks: Vec::new(),
                end: None,
            }),
            changed: watch::Sender::new(0),
        }
    }

    fn progress(&self) -> MutexGuard<'_, Progress<E>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn update(&self, f: impl FnOnce(&mut Progress<E>)) {
        f(&mut self.progress());
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }
}

/// The calls in flight, by key.
pub struct Flights<E> {
    map: Mutex<HashMap<String, Arc<Flight<E>>>>,
}

impl<E> Default for Flights<E> {
    fn default() -> Self {
        Flights {
            map: Mutex::new(HashMap::new()),
        }
    }
}

/// What a request is to the call in flight for its key.
pub enum Joined<E: Clone> {
    /// The first: it makes the call and reports to the others.
    Lead(Lead<E>),
    /// Another is making the call.
    Follow(Follower<E>),
}

impl<E: Clone> Flights<E> {
    fn map(&self) -> MutexGuard<'_, HashMap<String, Arc<Flight<E>>>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Leads the call for `key`, or follows the one in flight.
    pub fn join(self: &Arc<Self>, key: &str) -> Joined<E> {
        let mut map = self.map();
        if let Some(f) = map.get(key) {
            return Joined::Follow(Follower {
                flight: f.clone(),
                seen: f.changed.subscribe(),
                next_chunk: 0,
            });
        }
        let flight = Arc::new(Flight::new());
        map.insert(key.to_string(), flight.clone());
        Joined::Lead(Lead {
            flights: self.clone(),
            key: key.to_string(),
            flight,
            ended: false,
        })
    }

    /// Calls in flight now.
    pub fn len(&self) -> usize {
        self.map().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The leader's side: publish chunks, then end the flight. Dropped before
/// an end, it ends the flight as abandoned.
pub struct Lead<E: Clone> {
    flights: Arc<Flights<E>>,
    key: String,
    flight: Arc<Flight<E>>,
    ended: bool,
}

impl<E: Clone> Lead<E> {
    /// A chunk of the leader's stream (its JSON text), for streaming
    /// followers.
    pub fn chunk(&self, chunk: Arc<str>) {
        self.flight.update(|p| p.chunks.push(chunk));
    }

    /// Whether anyone follows (a leader with none need not publish).
    pub fn followed(&self) -> bool {
        self.flight.changed.receiver_count() > 0
    }

    /// Ends the flight. The key is free again at once: the next request
    /// for it reads the cache (or leads a new call).
    pub fn end(mut self, end: End<E>) {
        self.finish(end);
    }

    fn finish(&mut self, end: End<E>) {
        if self.ended {
            return;
        }
        self.ended = true;
        {
            let mut map = self.flights.map();
            if map
                .get(&self.key)
                .is_some_and(|f| Arc::ptr_eq(f, &self.flight))
            {
                map.remove(&self.key);
            }
        }
        self.flight.update(|p| p.end = Some(end));
    }
}

impl<E: Clone> Drop for Lead<E> {
    fn drop(&mut self) {
        self.finish(End::Abandoned);
    }
}

/// What a streaming follower reads next.
#[derive(Debug, Clone)]
pub enum Event<E> {
    Chunk(Arc<str>),
    End(End<E>),
}

/// A follower's side.
pub struct Follower<E: Clone> {
    flight: Arc<Flight<E>>,
    seen: watch::Receiver<u64>,
    next_chunk: usize,
}

impl<E: Clone> Follower<E> {
    /// The flight's end, once it has one.
    pub async fn end(mut self) -> End<E> {
        loop {
            self.seen.borrow_and_update();
            if let Some(end) = &self.flight.progress().end {
                return end.clone();
            }
            if self.seen.changed().await.is_err() {
                return End::Abandoned;
            }
        }
    }

    /// The leader's next chunk, from the first on; then its end (once).
    pub async fn next(&mut self) -> Event<E> {
        loop {
            self.seen.borrow_and_update();
            {
                let p = self.flight.progress();
                if let Some(c) = p.chunks.get(self.next_chunk) {
                    self.next_chunk += 1;
                    return Event::Chunk(c.clone());
                }
                if let Some(end) = &p.end {
                    return Event::End(end.clone());
                }
            }
            if self.seen.changed().await.is_err() {
                return Event::End(End::Abandoned);
            }
        }
    }

    /// Whether any chunk has been read.
    pub fn started(&self) -> bool {
        self.next_chunk > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lead(j: Joined<String>) -> Lead<String> {
        match j {
            Joined::Lead(l) => l,
            Joined::Follow(_) => panic!("expected to lead"),
        }
    }

    fn follow(j: Joined<String>) -> Follower<String> {
        match j {
            Joined::Follow(f) => f,
            Joined::Lead(_) => panic!("expected to follow"),
        }
    }

    #[tokio::test]
    async fn followers_get_the_leaders_answer_and_the_key_is_free_after() {
        let flights = Arc::new(Flights::<String>::default());
        let l = lead(flights.join("k"));
        assert!(!l.followed());
        let waiters: Vec<_> = (0..50)
            .map(|_| tokio::spawn(follow(flights.join("k")).end()))
            .collect();
        assert_eq!(flights.len(), 1);
        l.end(End::Done(Bytes::from_static(b"answer")));
        assert!(flights.is_empty());
        for w in waiters {
            match w.await.unwrap() {
                End::Done(b) => assert_eq!(&b[..], b"answer"),
                other => panic!("{other:?}"),
            }
        }
        // The next request leads again.
        let _again = lead(flights.join("k"));
    }

    #[tokio::test]
    async fn a_streaming_follower_reads_every_chunk_from_the_first() {
        let flights = Arc::new(Flights::<String>::default());
        let l = lead(flights.join("k"));
        l.chunk("a".into());
        let mut f = follow(flights.join("k"));
        assert!(l.followed());
        l.chunk("b".into());
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                match f.next().await {
                    Event::Chunk(c) => got.push(c.to_string()),
                    Event::End(End::Done(b)) => {
                        got.push(String::from_utf8_lossy(&b).into_owned());
                        return got;
                    }
                    Event::End(other) => panic!("{other:?}"),
                }
            }
        });
        tokio::task::yield_now().await;
        l.chunk("c".into());
        l.end(End::Done(Bytes::from_static(b"whole")));
        assert_eq!(reader.await.unwrap(), ["a", "b", "c", "whole"]);
    }

    #[tokio::test]
    async fn a_leader_that_fails_or_goes_away_ends_the_flight_for_all() {
        let flights = Arc::new(Flights::<String>::default());
        let l = lead(flights.join("k"));
        let f = follow(flights.join("k"));
        l.end(End::Failed("boom".into()));
        assert!(matches!(f.end().await, End::Failed(e) if e == "boom"));

        let l = lead(flights.join("k"));
        let f = follow(flights.join("k"));
        drop(l);
        assert!(flights.is_empty());
        assert!(matches!(f.end().await, End::Abandoned));
    }

    #[tokio::test]
    async fn a_stale_leader_does_not_free_a_newer_flight() {
        let flights = Arc::new(Flights::<String>::default());
        let mut first = lead(flights.join("k"));
        // Freed early (as `end` does), then a new leader takes the key.
        first.finish(End::Abandoned);
        let second = lead(flights.join("k"));
        drop(first);
        assert_eq!(flights.len(), 1);
        drop(second);
        assert!(flights.is_empty());
    }
}
