//! The sink against a receiver on 127.0.0.1: what arrives, signed; what is
//! retried and what is not; drops when a queue is full; the flush.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::Bytes as Body;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use switchyard_store::SpendRecord;
use tokio::sync::Semaphore;

use super::*;
use crate::config::webhooks::Webhook;

/// What the receiver does with one delivery.
#[derive(Clone)]
enum Answer {
    Status(u16),
    /// Holds the delivery until a permit is added to the gate.
    Hold,
}

#[derive(Default)]
struct Seen {
    deliveries: Vec<(HeaderMap, Body)>,
    script: VecDeque<Answer>,
}

struct Receiver {
    url: reqwest::Url,
    seen: Arc<Mutex<Seen>>,
    gate: Arc<Semaphore>,
}

impl Receiver {
    async fn start(script: impl IntoIterator<Item = Answer>) -> Receiver {
        let seen = Arc::new(Mutex::new(Seen {
            deliveries: Vec::new(),
            script: script.into_iter().collect(),
        }));
        let gate = Arc::new(Semaphore::new(0));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (s, g) = (seen.clone(), gate.clone());
        let app = axum::Router::new().fallback(move |headers: HeaderMap, body: Body| {
            let (seen, gate) = (s.clone(), g.clone());
            async move {
                let answer = {
                    let mut seen = seen.lock().unwrap();
                    seen.deliveries.push((headers, body));
                    seen.script.pop_front().unwrap_or(Answer::Status(200))
                };
                match answer {
                    Answer::Status(s) => StatusCode::from_u16(s).unwrap(),
                    Answer::Hold => {
                        gate.acquire().await.unwrap().forget();
                        StatusCode::OK
                    }
                }
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver {
            url: format!("http://{addr}/hook?token=t").parse().unwrap(),
            seen,
            gate,
        }
    }

    fn deliveries(&self) -> Vec<(HeaderMap, Body)> {
        self.seen.lock().unwrap().deliveries.clone()
    }
}

fn hook(name: &str, url: &reqwest::Url, events: Events) -> Webhook {
    Webhook {
        name: name.into(),
        url: url.clone(),
        headers: vec![(
            "authorization".parse().unwrap(),
            "Bearer tok".parse().unwrap(),
        )],
        events,
        secret: format!("{name}-secret"),
    }
}

/// Quick retries for tests.
fn quick() -> Policy {
    Policy {
        backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        ..Policy::default()
    }
}

fn plugin_failure(message: &str) -> PluginFailure<'_> {
    PluginFailure {
        plugin: "misbehave",
        kind: "trap",
        message,
    }
}

/// Polls `f` (every 5 ms, at most 10 s).
async fn until(what: &str, mut f: impl FnMut() -> bool) {
    let started = tokio::time::Instant::now();
    while !f() {
        assert!(started.elapsed() < Duration::from_secs(10), "{what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn verify(secret: &str, headers: &HeaderMap, body: &[u8]) {
    let given = headers["x-signature-256"].to_str().unwrap();
    let hex = given.strip_prefix("sha256=").unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    mac.verify_slice(&hex::decode(hex).unwrap())
        .unwrap_or_else(|_| panic!("bad signature {given}"));
}

#[tokio::test]
async fn each_hook_gets_the_events_it_asked_for_signed() {
    let all = Receiver::start([]).await;
    let ends = Receiver::start([]).await;
    let hooks = Webhooks::start(
        &[
            hook("all", &all.url, Events::ALL),
            hook("ends", &ends.url, [Event::RequestEnd].into_iter().collect()),
        ],
        quick(),
        QUEUE,
    )
    .unwrap();
    hooks.started(&Started {
        request_id: "r1",
        model_group: "gpt",
        key_alias: Some("k"),
        team_id: None,
        user_id: None,
        end_user: None,
    });
    let record = SpendRecord {
        request_id: "r1".into(),
        status: 200,
        ..SpendRecord::default()
    };
    hooks.finished(&Finished {
        record: &record,
        streamed: false,
        ttft: None,
        upstream: Duration::ZERO,
        cache: None,
        route_reason: None,
        tier: None,
        error: None,
        was_active: true,
    });
    hooks.plugin_failed(&plugin_failure("trapped"));
    assert!(hooks.flush(Duration::from_secs(10)).await);

    let got = all.deliveries();
    assert_eq!(got.len(), 3);
    let mut ids = Vec::new();
    let mut kinds = Vec::new();
    for (headers, body) in &got {
        verify("all-secret", headers, body);
        let v: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(
            headers["x-switchyard-event"],
            v["event_type"].as_str().unwrap()
        );
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(headers["authorization"], "Bearer tok");
        time::OffsetDateTime::parse(
            v["timestamp"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        ids.push(
            headers["x-switchyard-delivery"]
                .to_str()
                .unwrap()
                .to_string(),
        );
        kinds.push(v["event_type"].as_str().unwrap().to_string());
    }
    kinds.sort();
    assert_eq!(kinds, ["plugin_failed", "request_end", "request_start"]);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "one delivery id per event");

    let got = ends.deliveries();
    assert_eq!(got.len(), 1);
    verify("ends-secret", &got[0].0, &got[0].1);
    assert_eq!(got[0].0["x-switchyard-event"], "request_end");

    let stats = hooks.stats();
    assert_eq!(
        stats[0],
        HookStats {
            name: "all",
            url: &format!("http://127.0.0.1:{}/hook?…", all.url.port().unwrap()),
            events: Event::ALL.map(Event::name).to_vec(),
            headers: &["authorization".to_string()],
            delivered: 3,
            failed: 0,
            dropped: 0,
            retried: 0,
            pending: 0,
            queue_capacity: QUEUE,
        }
    );
    assert_eq!(
        (stats[1].delivered, stats[1].events.as_slice()),
        (1, &["request_end"][..])
    );
}

#[tokio::test]
async fn five_hundreds_and_429s_are_retried_with_one_delivery_id_and_a_400_is_not() {
    let flaky = Receiver::start([Answer::Status(500), Answer::Status(429)]).await;
    let picky = Receiver::start([Answer::Status(400)]).await;
    let hooks = Webhooks::start(
        &[
            hook("flaky", &flaky.url, Events::ALL),
            hook("picky", &picky.url, Events::ALL),
        ],
        quick(),
        QUEUE,
    )
    .unwrap();
    hooks.plugin_failed(&plugin_failure("trapped"));
    assert!(hooks.flush(Duration::from_secs(10)).await);

    let got = flaky.deliveries();
    assert_eq!(got.len(), 3);
    let id = &got[0].0["x-switchyard-delivery"];
    assert!(got.iter().all(|(h, _)| h["x-switchyard-delivery"] == id));
    assert!(got.iter().all(|(_, b)| b == &got[0].1), "the same bytes");
    assert_eq!(picky.deliveries().len(), 1);
    let stats = hooks.stats();
    let counts = |s: &HookStats| (s.delivered, s.failed, s.retried, s.dropped);
    assert_eq!(counts(&stats[0]), (1, 0, 2, 0));
    assert_eq!(counts(&stats[1]), (0, 1, 0, 0));
}

#[tokio::test]
async fn a_dead_receiver_is_tried_a_bounded_number_of_times_then_failed() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead: reqwest::Url = format!("http://127.0.0.1:{port}/").parse().unwrap();
    let hooks = Webhooks::start(&[hook("dead", &dead, Events::ALL)], quick(), QUEUE).unwrap();
    hooks.plugin_failed(&plugin_failure("trapped"));
    hooks.plugin_failed(&plugin_failure("trapped again"));
    assert!(hooks.flush(Duration::from_secs(10)).await);
    let s = &hooks.stats()[0];
    let attempts = u64::from(Policy::default().attempts);
    assert_eq!(
        (s.delivered, s.failed, s.retried),
        (0, 2, 2 * (attempts - 1))
    );
}

#[tokio::test]
async fn a_full_queue_drops_and_counts_and_the_flush_is_bounded() {
    let slow = Receiver::start([Answer::Hold, Answer::Hold]).await;
    let policy = Policy {
        in_flight: 1,
        ..quick()
    };
    let hooks = Webhooks::start(&[hook("slow", &slow.url, Events::ALL)], policy, 1).unwrap();
    let queue = &hooks.hooks[0].queue;
    // The first is held at the receiver; the second waits in the worker's
    // hand for a slot, the third in the queue; the fourth finds it full.
    hooks.plugin_failed(&plugin_failure("1"));
    until("the first delivery arrives", || {
        slow.deliveries().len() == 1
    })
    .await;
    hooks.plugin_failed(&plugin_failure("2"));
    until("the worker takes the second", || queue.capacity() == 1).await;
    hooks.plugin_failed(&plugin_failure("3"));
    hooks.plugin_failed(&plugin_failure("4"));
    let s = &hooks.stats()[0];
    assert_eq!((s.dropped, s.pending), (1, 3));

    let began = tokio::time::Instant::now();
    assert!(!hooks.flush(Duration::from_millis(200)).await);
    let took = began.elapsed();
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(5),
        "{took:?}"
    );

    slow.gate.add_permits(2);
    assert!(hooks.flush(Duration::from_secs(10)).await);
    let s = &hooks.stats()[0];
    assert_eq!((s.delivered, s.dropped, s.pending), (3, 1, 0));
    let messages: Vec<String> = slow
        .deliveries()
        .iter()
        .map(|(_, b)| {
            let v: Value = serde_json::from_slice(b).unwrap();
            v["data"]["error"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(messages, ["1", "2", "3"]);
}

#[tokio::test]
async fn no_hook_is_no_sink() {
    assert!(Webhooks::start(&[], Policy::default(), QUEUE).is_none());
}
