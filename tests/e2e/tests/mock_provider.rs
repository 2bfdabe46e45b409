//! The mock providers on their own (no gateway): each speaks its wire
//! format, records what it receives and follows its script.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchyard_e2e::mock::*;
use switchyard_e2e::*;

fn post(url: &str, body: &Value) -> Reply {
    http(
        "POST",
        url,
        &["Content-Type: application/json", "x-test: yes"],
        Some(body.to_string().as_bytes()),
    )
}

/// curl's exit code and stderr for a request that gets no full answer.
fn curl_failure(url: &str, body: &Value) -> (i32, String) {
    curl_within(url, body, "10")
}

/// [`curl_failure`] with curl giving up (and closing the connection) after
/// `max_time` seconds.
fn curl_within(url: &str, body: &Value, max_time: &str) -> (i32, String) {
    let out = Command::new("curl")
        .args([
            "-sS",
            "-N",
            "--max-time",
            max_time,
            "-H",
            "Content-Type: application/json",
        ])
        .args(["--data-binary", &body.to_string(), url])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn openai_mock_answers_streams_and_records() {
    let mock = MockProvider::start(Flavor::OpenAi);
    let url = format!("{}/chat/completions", mock.url());
    let r = post(
        &url,
        &json!({"model": "m1", "messages": [{"role": "user", "content": "hi"}]}),
    );
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        Flavor::OpenAi.answer_text()
    );
    assert_eq!(v["model"], "m1");
    assert_eq!(
        v["usage"]["total_tokens"],
        PROMPT_TOKENS + COMPLETION_TOKENS
    );

    let r = post(
        &url,
        &json!({"model": "m1", "stream": true, "stream_options": {"include_usage": true}, "messages": []}),
    );
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    let data = r.sse_data();
    assert_eq!(data.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = data[..data.len() - 1].iter().map(|d| json(d)).collect();
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, Flavor::OpenAi.answer_text());
    assert_eq!(
        chunks.last().unwrap()["usage"]["prompt_tokens"],
        PROMPT_TOKENS
    );

    let reqs = mock.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(reqs[0].path, "/v1/chat/completions");
    assert_eq!(reqs[0].header("X-Test"), Some("yes"));
    assert_eq!(reqs[1].body["stream"], true);
}

#[test]
fn scripted_behaviours_apply_in_order_then_the_default() {
    let mock = MockProvider::start(Flavor::Anthropic);
    let url = format!("{}/v1/messages", mock.url());
    let body =
        json!({"model": "c", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]});
    mock.script([
        Behaviour::Status(429, String::new(), Some(7)),
        Behaviour::ContextLengthError,
        Behaviour::Delay(Duration::from_millis(300)),
    ]);
    let r = post(&url, &body);
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("7"));
    assert_eq!(r.json()["error"]["type"], "rate_limit_error");
    let r = post(&url, &body);
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("prompt is too long")
    );
    let started = Instant::now();
    let r = post(&url, &body);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(
        r.json()["content"][0]["text"],
        Flavor::Anthropic.answer_text()
    );
    mock.always(Behaviour::Status(529, String::new(), None));
    assert_eq!(post(&url, &body).status, 529);
    assert_eq!(post(&url, &body).status, 529);
    assert_eq!(mock.count(), 5);
}

#[test]
fn garbage_after_the_first_event_is_sent_whole_and_ends_the_body() {
    let mock = MockProvider::start(Flavor::OpenAi);
    let url = format!("{}/chat/completions", mock.url());
    mock.push(Behaviour::StreamGarbageAfterFirstEvent);
    let r = post(&url, &json!({"model": "m", "stream": true, "messages": []}));
    assert_eq!(r.status, 200, "{}", r.body);
    let data = r.sse_data();
    assert_eq!(data.len(), 2, "{}", r.body);
    assert_eq!(json(&data[0])["object"], "chat.completion.chunk");
    assert_eq!(data[1], GARBAGE);

    mock.push(Behaviour::StreamGarbageAfterFirstEvent);
    let r = post(&url, &json!({"model": "m", "messages": []}));
    assert_eq!(r.status, 200);
    assert_eq!(r.body, GARBAGE);
    assert_eq!(mock.count(), 2);
}

#[test]
fn broken_connections_and_streams() {
    let mock = MockProvider::start(Flavor::OpenAi);
    let url = format!("{}/chat/completions", mock.url());
    let stream = json!({"model": "m", "stream": true, "messages": []});

    mock.push(Behaviour::DropConnection);
    let (code, out) = curl_failure(&url, &stream);
    assert_eq!(code, 52, "curl: empty reply from server; {out}");

    mock.push(Behaviour::StreamBreakBeforeFirstEvent);
    let (code, out) = curl_failure(&url, &stream);
    assert_eq!(code, 18, "curl: partial transfer; {out}");
    assert!(!out.contains("data:"), "{out}");

    mock.push(Behaviour::StreamBreakAfterFirstEvent);
    let (code, out) = curl_failure(&url, &stream);
    assert_eq!(code, 18, "curl: partial transfer; {out}");
    assert_eq!(out.matches("data:").count(), 1, "{out}");

    mock.push(Behaviour::StreamErrorEvent);
    let (code, out) = curl_failure(&url, &stream);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(Flavor::OpenAi.stream_error_message()), "{out}");
    assert!(!out.contains("[DONE]"), "{out}");

    // The mock still answers afterwards.
    assert_eq!(
        post(&url, &json!({"model": "m", "messages": []})).status,
        200
    );
    assert_eq!(mock.count(), 5);
    assert_eq!(
        mock.cancelled(),
        0,
        "breaking on purpose is not a cancellation"
    );
}

#[test]
fn slow_streams_are_paced_and_abandoned_answers_counted() {
    let mock = MockProvider::start(Flavor::OpenAi);
    let url = format!("{}/chat/completions", mock.url());
    let call = json!({"model": "m", "messages": []});
    let stream = json!({"model": "m", "stream": true, "messages": []});

    let every = Duration::from_millis(50);
    mock.push(Behaviour::SlowStream {
        first: Duration::ZERO,
        every,
        events: 8,
    });
    let started = Instant::now();
    let r = post(&url, &stream);
    assert!(started.elapsed() >= every * 7, "{:?}", started.elapsed());
    // Eight events: seven chunks and [DONE], the first piece three times.
    let chunks = stream_chunks(&r);
    assert_eq!(chunks.len(), 7, "{}", r.body);
    assert_eq!(
        streamed_text(&chunks),
        "HelloHelloHello from the OpenAI mock."
    );
    assert_eq!(post(&url, &call).status, 200);
    assert_eq!(mock.cancelled(), 0, "answers sent to their end");

    // curl gives up while the mock waits, then in the middle of a stream.
    mock.push(Behaviour::Delay(Duration::from_secs(5)));
    mock.push(Behaviour::SlowStream {
        first: Duration::ZERO,
        every: Duration::from_secs(1),
        events: 8,
    });
    for (cancelled, body) in [(1, &call), (2, &stream)] {
        let (code, out) = curl_within(&url, body, "0.5");
        assert_eq!(code, 28, "curl: timed out; {out}");
        assert_eq!(out.matches("data:").count(), cancelled - 1, "{out}");
        eventually(
            "the mock counts the call cancelled",
            Duration::from_secs(2),
            || mock.cancelled() == cancelled,
        );
    }
    assert_eq!(mock.count(), 4);
}

#[test]
fn anthropic_tool_stream_splits_the_arguments() {
    let mock = MockProvider::start(Flavor::Anthropic);
    mock.push(Behaviour::ToolCall);
    let r = post(
        &format!("{}/v1/messages", mock.url()),
        &json!({"model": "c", "max_tokens": 5, "stream": true, "messages": [],
                "tools": [{"name": "lookup", "input_schema": {"type": "object"}}]}),
    );
    let body = &r.body;
    assert!(body.starts_with("event: message_start\n"), "{body}");
    assert!(body.contains("\"name\":\"lookup\""), "{body}");
    assert_eq!(body.matches("input_json_delta").count(), 4, "{body}");
    assert!(
        body.trim_end()
            .ends_with("data: {\"type\":\"message_stop\"}"),
        "{body}"
    );
}

#[test]
fn gemini_routes_by_method() {
    let mock = MockProvider::start(Flavor::Gemini);
    let base = mock.url();
    let r = post(
        &format!("{base}/models/gemini-x:generateContent"),
        &json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
    );
    assert_eq!(
        r.json()["candidates"][0]["content"]["parts"][0]["text"],
        Flavor::Gemini.answer_text()
    );
    assert_eq!(r.json()["modelVersion"], "gemini-x");
    let r = post(
        &format!("{base}/models/gemini-x:streamGenerateContent?alt=sse"),
        &json!({"contents": []}),
    );
    assert_eq!(r.body.matches("data: ").count(), 3, "{}", r.body);
    assert!(r.body.contains("\r\n\r\n"));
    let r = post(
        &format!("{base}/models/emb:batchEmbedContents"),
        &json!({"requests": [{"model": "models/emb", "content": {"parts": [{"text": "a"}]}},
                              {"model": "models/emb", "content": {"parts": [{"text": "b"}]}}]}),
    );
    assert_eq!(r.json()["embeddings"].as_array().unwrap().len(), 2);
    let r = post(&format!("{base}/models/x:nope"), &json!({}));
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"]["status"], "NOT_FOUND");
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 4);
    assert_eq!(reqs[1].query.as_deref(), Some("alt=sse"));
}
