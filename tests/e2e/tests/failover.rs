//! Failover between the deployments of one model group: when the first
//! answers 5xx/429, times out or drops the connection, the next one serves,
//! and each mock sees exactly the calls it should. Cooldowns are off here
//! (they have tests of their own in `reliability.rs`), so every call starts
//! from the first deployment.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use serde_json::json;
use switchyard_e2e::mock::*;
use switchyard_e2e::*;

/// Group `gpt` with deployment `first` (order 1) on `a` and `second`
/// (order 2) on `b`; the default router tries lower orders first.
fn start(a: &MockProvider, b: &MockProvider, first_extra: &[&str]) -> Gateway {
    let mut extra_a = vec!["order: 1"];
    extra_a.extend_from_slice(first_extra);
    let entry = |mock: &MockProvider, id: &str, extra: &[&str]| {
        let model = match mock.flavor() {
            Flavor::OpenAi => "openai/gpt-4o-mini",
            Flavor::Anthropic => "anthropic/claude-sonnet-4-5",
            Flavor::Gemini => "gemini/gemini-2.0-flash",
        };
        format!(
            "{}    model_info:\n      id: {id}\n",
            model_entry("gpt", model, &mock.url(), extra)
        )
    };
    Gateway::start_with_plugins(
        &["default-router", "openai", "anthropic"],
        &config_with_settings(
            &[
                entry(a, "first", &extra_a),
                entry(b, "second", &["order: 2"]),
            ],
            "router_settings:\n  num_retries: 1\n  disable_cooldowns: true\n",
        ),
    )
}

fn hello(stream: bool) -> serde_json::Value {
    json!({"model": "gpt", "max_tokens": 20, "stream": stream,
           "messages": [{"role": "user", "content": "Hello?"}]})
}

#[test]
fn a_500_fails_over_to_the_second_deployment() {
    let a = MockProvider::start(Flavor::OpenAi);
    let b = MockProvider::start(Flavor::OpenAi);
    a.always(Behaviour::Status(500, String::new(), None));
    let gw = start(&a, &b, &[]);

    let r = gw.post("/v1/chat/completions", Some(KEY), &hello(false));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["choices"][0]["message"]["content"],
        Flavor::OpenAi.answer_text()
    );
    assert_eq!(r.header("x-switchyard-deployment"), Some("second"));
    assert_eq!(r.header("x-switchyard-attempts"), Some("2"));
    assert_eq!(a.count(), 1, "the first deployment is called once");
    assert_eq!(b.count(), 1, "the second deployment is called once");
    assert_eq!(
        a.requests()[0].body,
        b.requests()[0].body,
        "the same request goes to both"
    );
}

#[test]
fn failover_crosses_providers_and_streams() {
    // The first deployment is OpenAI and fails; the second is Anthropic.
    let a = MockProvider::start(Flavor::OpenAi);
    let b = MockProvider::start(Flavor::Anthropic);
    a.always(Behaviour::Status(503, String::new(), None));
    let gw = start(&a, &b, &[]);

    let r = gw.post("/v1/chat/completions", Some(KEY), &hello(true));
    let chunks = stream_chunks(&r);
    assert_eq!(streamed_text(&chunks), Flavor::Anthropic.answer_text());
    assert_eq!(r.header("x-switchyard-deployment"), Some("second"));
    assert_eq!(r.header("x-switchyard-attempts"), Some("2"));
    assert_eq!((a.count(), b.count()), (1, 1));
    assert_eq!(b.requests()[0].path, "/v1/messages");
    assert_eq!(b.requests()[0].body["stream"], true);
}

#[test]
fn a_429_a_dropped_connection_and_a_stream_broken_before_its_first_event_fail_over() {
    let a = MockProvider::start(Flavor::OpenAi);
    let b = MockProvider::start(Flavor::OpenAi);
    a.script([
        Behaviour::Status(429, String::new(), Some(1)),
        Behaviour::DropConnection,
        Behaviour::StreamBreakBeforeFirstEvent,
    ]);
    let gw = start(&a, &b, &[]);

    for (i, stream) in [false, false, true].into_iter().enumerate() {
        let r = gw.post("/v1/chat/completions", Some(KEY), &hello(stream));
        let text = if stream {
            streamed_text(&stream_chunks(&r))
        } else {
            assert_eq!(r.status, 200, "call {i}: {}", r.body);
            r.json()["choices"][0]["message"]["content"]
                .as_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(text, Flavor::OpenAi.answer_text(), "call {i}");
        assert_eq!(r.header("x-switchyard-attempts"), Some("2"), "call {i}");
        assert_eq!((a.count(), b.count()), (i + 1, i + 1), "call {i}");
    }
}

#[test]
fn a_timeout_fails_over() {
    let a = MockProvider::start(Flavor::OpenAi);
    let b = MockProvider::start(Flavor::OpenAi);
    a.push(Behaviour::Delay(Duration::from_secs(5)));
    let gw = start(&a, &b, &["timeout: 0.5"]);
    let started = std::time::Instant::now();
    let r = gw.post("/v1/chat/completions", Some(KEY), &hello(false));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(r.header("x-switchyard-deployment"), Some("second"));
    assert_eq!((a.count(), b.count()), (1, 1));
}

#[test]
fn a_400_is_not_failed_over() {
    let a = MockProvider::start(Flavor::OpenAi);
    let b = MockProvider::start(Flavor::OpenAi);
    a.push(Behaviour::ContextLengthError);
    let gw = start(&a, &b, &[]);
    let r = gw.post("/v1/chat/completions", Some(KEY), &hello(false));
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "context_length_exceeded");
    assert_eq!(
        (a.count(), b.count()),
        (1, 0),
        "the other deployment would fail the same way"
    );
}

#[test]
fn every_deployment_failing_is_a_502_naming_the_last_error() {
    let a = MockProvider::start(Flavor::OpenAi);
    let b = MockProvider::start(Flavor::OpenAi);
    a.always(Behaviour::Status(500, String::new(), None));
    b.always(Behaviour::Status(503, String::new(), None));
    let gw = start(&a, &b, &[]);
    let r = gw.post("/v1/chat/completions", Some(KEY), &hello(false));
    assert_eq!(r.status, 502, "{}", r.body);
    let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(msg.contains(&Flavor::OpenAi.error_message(503)), "{msg}");
    assert_eq!((a.count(), b.count()), (1, 1));
}

#[test]
fn with_one_deployment_a_dropped_connection_is_a_502_and_a_timeout_a_504() {
    let mock = MockProvider::start(Flavor::OpenAi);
    let gw = Gateway::start_with_plugins(
        &["openai"],
        &config_with_settings(
            &[model_entry(
                "gpt",
                "openai/gpt-4o-mini",
                &mock.url(),
                &["timeout: 0.5"],
            )],
            ONE_CALL_EACH,
        ),
    );
    mock.script([
        Behaviour::DropConnection,
        Behaviour::Delay(Duration::from_secs(3)),
        Behaviour::StreamBreakBeforeFirstEvent,
        Behaviour::Delay(Duration::from_secs(3)),
    ]);
    for (i, (stream, status, kind)) in [
        (false, 502, "api_error"),
        (false, 504, "timeout_error"),
        (true, 502, "api_error"),
        (true, 504, "timeout_error"),
    ]
    .into_iter()
    .enumerate()
    {
        let r = gw.post("/v1/chat/completions", Some(KEY), &hello(stream));
        assert_eq!(r.status, status, "call {i}: {}", r.body);
        assert_eq!(
            r.header("content-type"),
            Some("application/json"),
            "call {i}"
        );
        assert_eq!(r.json()["error"]["type"], kind, "call {i}: {}", r.body);
        assert_eq!(mock.count(), i + 1, "call {i}: one call (num_retries: 0)");
    }
}

#[test]
fn a_stream_that_breaks_after_its_first_event_ends_with_an_error_event() {
    let a = MockProvider::start(Flavor::OpenAi);
    let b = MockProvider::start(Flavor::OpenAi);
    a.push(Behaviour::StreamBreakAfterFirstEvent);
    let gw = start(&a, &b, &[]);
    let r = gw.post("/v1/chat/completions", Some(KEY), &hello(true));
    // The first chunk was relayed, so the client keeps this deployment and
    // learns of the break in the stream.
    assert_eq!(r.status, 200, "{}", r.body);
    let data = r.sse_data();
    let errors: Vec<serde_json::Value> = data
        .iter()
        .filter(|d| *d != "[DONE]")
        .map(|d| json(d))
        .filter(|v| v.get("error").is_some())
        .collect();
    assert_eq!(errors.len(), 1, "{}", r.body);
    assert_eq!(r.header("x-switchyard-deployment"), Some("first"));
    assert_eq!((a.count(), b.count()), (1, 0));
}

#[test]
fn parallel_streams_through_one_gateway_all_complete() {
    let a = MockProvider::start(Flavor::Anthropic);
    let b = MockProvider::start(Flavor::OpenAi);
    let gw = start(&a, &b, &[]);
    let n = 16;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|_| s.spawn(|| gw.post("/v1/chat/completions", Some(KEY), &hello(true))))
            .collect();
        for h in handles {
            let r = h.join().unwrap();
            assert_eq!(
                streamed_text(&stream_chunks(&r)),
                Flavor::Anthropic.answer_text()
            );
        }
    });
    assert_eq!((a.count(), b.count()), (n, 0));
}

/// Groups `openai`, `anthropic` and `gemini`, one deployment each (ids
/// the same) on its mock; every call is one upstream call.
fn one_per_flavor(mocks: &[&MockProvider]) -> Gateway {
    let entries: Vec<String> = mocks
        .iter()
        .map(|mock| {
            let (group, model) = match mock.flavor() {
                Flavor::OpenAi => ("openai", "openai/gpt-4o-mini"),
                Flavor::Anthropic => ("anthropic", "anthropic/claude-sonnet-4-5"),
                Flavor::Gemini => ("gemini", "gemini/gemini-2.0-flash"),
            };
            format!(
                "{}    model_info:\n      id: {group}\n",
                model_entry(group, model, &mock.url(), &["api_key: k"])
            )
        })
        .collect();
    Gateway::start_with_plugins(
        &["openai", "anthropic", "gemini"],
        &config_with_settings(&entries, ONE_CALL_EACH),
    )
}

/// The error events of a stream that had started (status 200).
fn error_events(r: &Reply) -> Vec<serde_json::Value> {
    assert_eq!(r.status, 200, "the stream had started: {}", r.body);
    r.sse_data()
        .iter()
        .filter(|d| *d != "[DONE]")
        .map(|d| json(d))
        .filter(|v| v.get("error").is_some())
        .collect()
}

fn ask(group: &str, stream: bool) -> serde_json::Value {
    let mut body = hello(stream);
    body["model"] = json!(group);
    body
}

#[test]
fn a_mid_stream_provider_error_has_the_providers_code_and_the_type_of_the_json_error() {
    let openai = MockProvider::start(Flavor::OpenAi);
    let anthropic = MockProvider::start(Flavor::Anthropic);
    let gemini = MockProvider::start(Flavor::Gemini);
    let gw = one_per_flavor(&[&openai, &anthropic, &gemini]);
    for (mock, code) in [
        (&openai, "server_error"),
        (&anthropic, "overloaded_error"),
        (&gemini, "UNAVAILABLE"),
    ] {
        let group = format!("{:?}", mock.flavor()).to_lowercase();
        mock.push(Behaviour::StreamErrorEvent);
        let r = gw.post("/v1/chat/completions", Some(KEY), &ask(&group, true));
        let errors = error_events(&r);
        assert_eq!(errors.len(), 1, "{}", r.body);
        let e = &errors[0]["error"];
        assert_eq!(e["type"], "api_error", "{group}: {}", r.body);
        assert_eq!(e["code"], code, "{group}: {}", r.body);
        assert_eq!(e["message"], mock.flavor().stream_error_message());
        assert_eq!(e["param"], serde_json::Value::Null);
        assert!(
            r.sse_data().ends_with(&["[DONE]".to_string()]),
            "{}",
            r.body
        );
    }
    // The same error before any chunk (OpenAI and Anthropic send the same
    // error body either way): a 502 JSON error with that type and code.
    for (mock, code) in [(&openai, "server_error"), (&anthropic, "overloaded_error")] {
        let group = format!("{:?}", mock.flavor()).to_lowercase();
        mock.push(Behaviour::StreamErrorEvent);
        let r = gw.post("/v1/chat/completions", Some(KEY), &ask(&group, false));
        assert_eq!(r.status, 502, "{group}: {}", r.body);
        assert_eq!(r.json()["error"]["type"], "api_error");
        assert_eq!(r.json()["error"]["code"], code);
    }
    assert_eq!(
        (openai.count(), anthropic.count(), gemini.count()),
        (2, 2, 1)
    );
}

#[test]
fn a_decoder_failure_mid_stream_is_the_502_a_garbled_answer_is() {
    let mock = MockProvider::start(Flavor::OpenAi);
    let gw = one_per_flavor(&[&mock]);
    mock.push(Behaviour::StreamGarbageAfterFirstEvent);
    let r = gw.post("/v1/chat/completions", Some(KEY), &ask("openai", true));
    let data = r.sse_data();
    assert_eq!(
        json(&data[0])["object"],
        "chat.completion.chunk",
        "{}",
        r.body
    );
    let errors = error_events(&r);
    assert_eq!(errors.len(), 1, "{}", r.body);
    let stream_error = &errors[0]["error"];
    assert_eq!(stream_error["type"], "api_error", "{}", r.body);
    assert_eq!(stream_error["code"], "502", "{}", r.body);
    let message = stream_error["message"].as_str().unwrap();
    assert!(
        message.starts_with("deployment openai answered with something its adapter could not read")
            && message.contains("not JSON"),
        "{message}"
    );

    mock.push(Behaviour::StreamGarbageAfterFirstEvent);
    let r = gw.post("/v1/chat/completions", Some(KEY), &ask("openai", false));
    assert_eq!(r.status, 502, "{}", r.body);
    assert_eq!(r.json()["error"]["type"], stream_error["type"]);
    assert_eq!(r.json()["error"]["code"], stream_error["code"]);
    assert_eq!(mock.count(), 2);
}
