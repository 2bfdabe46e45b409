//! Identical requests in flight together make one upstream call: 50 whole
//! answers, 50 streams, and a first call that fails (every waiter gets its
//! error, and the next request goes upstream again).

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{Value, json};
use switchyard_e2e::mock::*;
use switchyard_e2e::*;

use crate::*;

const N: usize = 50;

/// How many of `replies` carry each verdict: (miss, hit, anything else).
fn verdicts(replies: &[Reply]) -> (usize, usize, usize) {
    let count = |v: &str| replies.iter().filter(|r| verdict(r) == v).count();
    let (miss, hit) = (count("miss"), count("hit"));
    (miss, hit, replies.len() - miss - hit)
}

#[test]
fn fifty_identical_requests_in_flight_make_one_upstream_call_and_get_one_answer() {
    let openai = MockProvider::start(Flavor::OpenAi);
    openai.always(Behaviour::Delay(Duration::from_millis(500)));
    let gw = Gateway::start(&cached(&gpt_and_embed(&openai), &[]));
    let url = gw.url("/v1/chat/completions");
    let body = ask("a burst");
    let replies = burst_behind_first(&openai, N, || post_json(&url, KEY, &body));
    assert_eq!(openai.count(), 1);
    for r in &replies {
        assert_eq!(r.status, 200, "{}", r.body);
    }
    assert_eq!(verdict(&replies[0]), "miss");
    assert_eq!(verdicts(&replies), (1, N - 1, 0));
    let first = replies[0].json();
    let key = key_of(&replies[0]);
    let mut ids = HashSet::new();
    for r in &replies {
        let v = r.json();
        assert_eq!(key_of(r), key);
        assert_eq!(v["choices"], first["choices"]);
        assert_eq!(v["usage"], first["usage"]);
        assert_eq!(
            v["choices"][0]["message"]["content"],
            Flavor::OpenAi.answer_text()
        );
        ids.insert(v["id"].as_str().unwrap().to_string());
    }
    assert_eq!(ids.len(), N, "each answer has an id of its own");
    for r in &replies[1..] {
        assert_eq!(cost(r), 0.0, "waiters pay nothing: {:?}", r.headers);
    }
    // Recorded as one call and 49 hits that cost nothing.
    let logs = spend_logs(&gw, N);
    let hits: Vec<&Value> = logs.iter().filter(|l| l["cache_hit"] == "True").collect();
    assert_eq!(hits.len(), N - 1, "{logs:?}");
    assert!(
        hits.iter().all(|l| l["spend"].as_f64() == Some(0.0)),
        "{hits:?}"
    );
    let paid: f64 = logs.iter().map(|l| l["spend"].as_f64().unwrap()).sum();
    assert!((paid - CALL_COST).abs() < 1e-9, "{paid}");

    // Requests that do not read the cache do not wait for each other.
    let body = with_cache(ask("no coalescing"), json!({"no-cache": true}));
    let replies = burst_behind_first(&openai, 5, || post_json(&url, KEY, &body));
    assert!(
        replies
            .iter()
            .all(|r| r.status == 200 && verdict(r) == "bypass")
    );
    assert_eq!(openai.count(), 6);
}

#[test]
fn fifty_identical_streams_in_flight_make_one_upstream_call_and_each_gets_every_chunk() {
    let openai = MockProvider::start(Flavor::OpenAi);
    // The answer starts after 500 ms and takes 300 ms more.
    openai.always(Behaviour::SlowStream {
        first: Duration::from_millis(500),
        every: Duration::from_millis(30),
        events: 12,
    });
    let gw = Gateway::start(&cached(&gpt_and_embed(&openai), &[]));
    let url = gw.url("/v1/chat/completions");
    let mut body = ask("a burst of streams");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let replies = burst_behind_first(&openai, N, || post_json(&url, KEY, &body));
    assert_eq!(openai.count(), 1);
    assert_eq!(verdict(&replies[0]), "miss");
    assert_eq!(verdicts(&replies), (1, N - 1, 0));
    let first = stream_chunks(&replies[0]);
    let text = streamed_text(&first);
    assert!(
        text.starts_with("HelloHello") && text.ends_with(" from the OpenAI mock."),
        "{text}"
    );
    for r in &replies {
        let chunks = stream_chunks(r);
        assert_eq!(streamed_text(&chunks), text, "{}", r.body);
        assert_eq!(finish_reasons(&chunks), ["stop"], "{}", r.body);
        let usage = usage_chunks(&chunks);
        assert_eq!(usage.len(), 1, "{}", r.body);
        assert_eq!(usage[0]["usage"]["completion_tokens"], COMPLETION_TOKENS);
    }
    // The burst's answer was stored: a later stream is a plain hit.
    wait_writes(&gw, 1);
    let r = chat(&gw, &body, "hit");
    assert_eq!(streamed_text(&stream_chunks(&r)), text);
    assert_eq!(openai.count(), 1);
}

#[test]
fn when_the_first_call_fails_every_waiter_gets_its_error_and_the_next_goes_upstream() {
    let openai = MockProvider::start(Flavor::OpenAi);
    // The first call fails after a second, when the others all wait.
    openai.push(Behaviour::After(
        Duration::from_secs(1),
        Box::new(Behaviour::Status(500, String::new(), None)),
    ));
    let gw = Gateway::start(&cached(&gpt_and_embed(&openai), &[]));
    let url = gw.url("/v1/chat/completions");
    let body = ask("a failing burst");
    let replies = burst_behind_first(&openai, N, || post_json(&url, KEY, &body));
    assert_eq!(
        openai.count(),
        1,
        "no retries, no fallbacks, no second call"
    );
    let (status, error) = (replies[0].status, replies[0].json());
    assert!(status >= 500, "{status}: {error}");
    assert!(error["error"]["message"].is_string(), "{error}");
    for r in &replies {
        assert_eq!(r.status, status, "{}", r.body);
        assert_eq!(r.json(), error, "every waiter gets the same error");
    }
    // Nothing stored: the next request goes upstream and is answered.
    let r = chat(&gw, &body, "miss");
    assert_eq!(
        r.json()["choices"][0]["message"]["content"],
        Flavor::OpenAi.answer_text()
    );
    assert_eq!(openai.count(), 2);
    // Streams share the failure the same way.
    openai.push(Behaviour::After(
        Duration::from_secs(1),
        Box::new(Behaviour::Status(500, String::new(), None)),
    ));
    let mut stream = ask("a failing burst of streams");
    stream["stream"] = json!(true);
    let replies = burst_behind_first(&openai, 10, || post_json(&url, KEY, &stream));
    assert_eq!(openai.count(), 3);
    let (status, body) = (replies[0].status, replies[0].body.clone());
    assert!(status >= 500, "{status}: {body}");
    assert!(
        replies.iter().all(|r| r.status == status && r.body == body),
        "{:?}",
        replies
            .iter()
            .map(|r| (r.status, &r.body))
            .collect::<Vec<_>>()
    );
    let r = chat(&gw, &stream, "miss");
    assert_eq!(
        streamed_text(&stream_chunks(&r)),
        Flavor::OpenAi.answer_text()
    );
    assert_eq!(openai.count(), 4);
}
