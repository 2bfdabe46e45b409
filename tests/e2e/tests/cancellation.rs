//! A client that goes away cancels the upstream call, end to end: a raw
//! TCP client sends a chat completion and closes the connection while the
//! gateway waits on the provider (for the answer, for a stream's headers or
//! its first event) or relays a stream; the mock sees its answer abandoned
//! ([`MockProvider::cancelled`]), the deployment's in-flight count goes back
//! to 0, and the gateway serves the next call.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchyard_e2e::mock::*;
use switchyard_e2e::*;

/// How long the provider would keep a call waiting: far longer than any
/// test waits for the cancellation.
const PROVIDER_WAIT: Duration = Duration::from_secs(5);
/// How long the client waits on the gateway before it leaves.
const CLIENT_PATIENCE: Duration = Duration::from_millis(300);
/// How soon after the client has left the mock must see the call cancelled.
const CANCELLED_WITHIN: Duration = Duration::from_secs(2);

/// A gateway with one deployment, group `g`, on `mock`; every call is one
/// upstream call.
fn gateway(mock: &MockProvider) -> Gateway {
    Gateway::start_with_plugins(
        &["openai"],
        &config_with_settings(
            &[model_entry("g", "openai/gpt-a", &mock.url(), &[])],
            ONE_CALL_EACH,
        ),
    )
}

fn hello(stream: bool) -> Value {
    json!({"model": "g", "stream": stream, "messages": [{"role": "user", "content": "Hello?"}]})
}

/// Opens a connection and sends `POST /v1/chat/completions` with `body`,
/// as an HTTP/1.1 client does, without waiting for the answer.
fn send_chat(gw: &Gateway, body: &Value) -> TcpStream {
    let mut client = TcpStream::connect(("127.0.0.1", gw.port)).unwrap();
    let body = body.to_string();
    write!(
        client,
        "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\
         Authorization: Bearer {KEY}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        gw.port,
        body.len()
    )
    .unwrap();
    client
}

/// Closes the client's connection, both ways, as a client that gives up.
fn hang_up(client: TcpStream) {
    let _ = client.shutdown(Shutdown::Both);
}

/// The calls in flight on the gateway's deployments, as `GET /health` lists
/// them.
fn in_flight(gw: &Gateway) -> u64 {
    let health = gw.get("/health", Some(KEY)).json();
    ["healthy_endpoints", "unhealthy_endpoints"]
        .iter()
        .flat_map(|list| health[list].as_array().cloned().unwrap_or_default())
        .map(|d| d["in_flight"].as_u64().expect("in_flight is a count"))
        .sum()
}

/// Sends a call with `body` to a mock that keeps it waiting (`behaviour`),
/// checks that it is in flight, leaves after [`CLIENT_PATIENCE`] with no
/// answer, and checks that the mock sees the call cancelled within
/// [`CANCELLED_WITHIN`], that nothing is in flight any more and that the
/// next call is served.
fn leave_while_waiting(behaviour: Behaviour, body: &Value) {
    let mock = &MockProvider::start(Flavor::OpenAi);
    mock.push(behaviour);
    let gw = &gateway(mock);
    let client = send_chat(gw, body);
    eventually("the call reaches the mock", CANCELLED_WITHIN, || {
        mock.count() == 1
    });
    assert_eq!(in_flight(gw), 1, "the call is in flight");
    std::thread::sleep(CLIENT_PATIENCE);
    let mut got = [0u8; 1];
    client.set_nonblocking(true).unwrap();
    assert!(
        client.peek(&mut got).is_err(),
        "the gateway had not answered yet"
    );
    hang_up(client);
    eventually("the mock sees the call cancelled", CANCELLED_WITHIN, || {
        mock.cancelled() == 1
    });
    eventually("nothing is in flight", CANCELLED_WITHIN, || {
        in_flight(gw) == 0
    });
    assert_next_call_served(mock, gw);
}

/// The next call is answered, by the mock, and not cancelled.
fn assert_next_call_served(mock: &MockProvider, gw: &Gateway) {
    let r = gw.post("/v1/chat/completions", Some(KEY), &hello(false));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["choices"][0]["message"]["content"],
        Flavor::OpenAi.answer_text()
    );
    assert_eq!(mock.count(), 2);
    assert_eq!(mock.cancelled(), 1, "only the abandoned call is cancelled");
}

#[test]
fn leaving_a_chat_completion_waiting_on_the_provider_cancels_the_upstream_call() {
    leave_while_waiting(Behaviour::Delay(PROVIDER_WAIT), &hello(false));
}

#[test]
fn leaving_a_stream_waiting_for_the_providers_headers_cancels_the_upstream_call() {
    // A delay holds back the status and headers too.
    leave_while_waiting(Behaviour::Delay(PROVIDER_WAIT), &hello(true));
}

#[test]
fn leaving_a_stream_waiting_for_its_first_event_cancels_the_upstream_call() {
    // The headers at once, the first event only after the wait.
    let slow = Behaviour::SlowStream {
        first: PROVIDER_WAIT,
        every: Duration::from_millis(10),
        events: 0,
    };
    leave_while_waiting(slow, &hello(true));
}

#[test]
fn leaving_a_stream_being_relayed_cancels_the_upstream_stream_and_frees_its_slot() {
    let m = MockProvider::start(Flavor::OpenAi);
    let every = Duration::from_millis(100);
    let events = 60;
    // The stream would end after about 6 s.
    let natural_end = every * (events - 1);
    m.push(Behaviour::SlowStream {
        first: Duration::ZERO,
        every,
        events: events as usize,
    });
    let gw = gateway(&m);
    let sent = Instant::now();
    let mut client = send_chat(&gw, &hello(true));
    client.set_read_timeout(Some(PROVIDER_WAIT)).unwrap();
    // Read until two chunks have come through: the relay is under way.
    let mut seen = Vec::new();
    while String::from_utf8_lossy(&seen).matches("data: ").count() < 2 {
        let mut buf = [0u8; 4096];
        let n = client.read(&mut buf).expect("the stream's first chunks");
        assert!(n > 0, "the gateway closed the stream: {seen:?}");
        seen.extend_from_slice(&buf[..n]);
    }
    let seen = String::from_utf8_lossy(&seen).into_owned();
    assert!(seen.starts_with("HTTP/1.1 200 "), "{seen}");
    assert!(seen.contains("\"content\":\"Hello\""), "{seen}");
    assert_eq!(in_flight(&gw), 1, "the stream is in flight");
    hang_up(client);
    eventually(
        "the mock sees its stream abandoned",
        CANCELLED_WITHIN,
        || m.cancelled() == 1,
    );
    assert!(
        sent.elapsed() < natural_end / 2,
        "the stream was abandoned after {:?}, not well before its natural end ({natural_end:?})",
        sent.elapsed()
    );
    eventually("nothing is in flight", CANCELLED_WITHIN, || {
        in_flight(&gw) == 0
    });
    assert_eq!(m.count(), 1);
}
