//! Guardrails on answers: the sanitisers' `response` stage on whole answers
//! and on streams (in windows), audit mode, pii-redactor's restore, and
//! context-trim, against the real binary and a mock provider.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod guardrails {
    pub mod support;
}

use guardrails::support::*;
use serde_json::{Value, json};
use switchyard_e2e::mock::*;
use switchyard_e2e::*;

#[test]
fn a_stream_no_sanitiser_watches_is_byte_identical_to_one_without_sanitisers() {
    let pieces = ["Mail ana.", "souza@exam", "ple.com now"];
    let bare_mock = MockProvider::start(Flavor::OpenAi);
    bare_mock.always(Behaviour::Text(owned(&pieces)));
    let bare = start(&bare_mock, "");
    // pii-redactor on the request stage only (today's default).
    let request_only_mock = MockProvider::start(Flavor::OpenAi);
    request_only_mock.always(Behaviour::Text(owned(&pieces)));
    let request_only = start(&request_only_mock, "  sanitizers: [pii-redactor]\n");
    // Watching answers with a window larger than the answer: every chunk
    // is released as it came.
    let watching_mock = MockProvider::start(Flavor::OpenAi);
    watching_mock.always(Behaviour::Text(owned(&["All ", "clear ", "here."])));
    let watching = start(
        &watching_mock,
        &pii_settings("stages: [request, response], window_chars: 1000, overlap_chars: 10"),
    );
    let watching_bare_mock = MockProvider::start(Flavor::OpenAi);
    watching_bare_mock.always(Behaviour::Text(owned(&["All ", "clear ", "here."])));
    let watching_bare = start(&watching_bare_mock, "");

    let a = bare.post("/v1/chat/completions", Some(KEY), &streamed("hi"));
    let b = request_only.post("/v1/chat/completions", Some(KEY), &streamed("hi"));
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body, b.body);
    assert_eq!(streamed_text(&stream_chunks(&a)), pieces.concat());
    let c = watching.post("/v1/chat/completions", Some(KEY), &streamed("hi"));
    let d = watching_bare.post("/v1/chat/completions", Some(KEY), &streamed("hi"));
    assert_eq!(c.body, d.body);
    assert_eq!(stream_chunks(&c).len(), 5, "role, three pieces, stop");
}

#[test]
fn a_stream_is_stopped_on_a_denied_phrase_across_two_windows() {
    let mock = MockProvider::start(Flavor::OpenAi);
    mock.always(Behaviour::Text(owned(&[
        "Mail ana.",
        "souza@exam",
        "ple.com now",
    ])));
    // pii-redactor denies personal data; it watches answers in windows of
    // 16 characters with 15 of overlap.
    let gw = start_with(
        &mock,
        "{mode: deny}",
        "stages: [response], window_chars: 16, overlap_chars: 15",
    );
    let r = gw.post("/v1/chat/completions", Some(KEY), &streamed("hi"));
    assert_eq!(r.status, 200, "{}", r.body);
    let data = r.sse_data();
    assert_eq!(
        data.last().map(String::as_str),
        Some("[DONE]"),
        "{}",
        r.body
    );
    let chunks: Vec<Value> = data[..data.len() - 1].iter().map(|d| json(d)).collect();
    // The windows: "Mail " (cut after the last space), then
    // "ana.souza@exampl" (no space: cut at 16, no address yet), both
    // released in the chunks that carried them (split where a window
    // ends); the last window, "na.souza@exampl" + "e.com now", holds the
    // whole address: the stream stops.
    let texts: Vec<&str> = chunks[..chunks.len() - 2]
        .iter()
        .map(|c| c["choices"][0]["delta"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["", "Mail ", "ana.", "souza@exam", "pl"]);
    assert_eq!(data.len(), 8, "{}", r.body);
    assert_eq!(
        chunks[5]["choices"],
        json!([{"index": 0, "delta": {}, "finish_reason": "content_filter"}])
    );
    assert_eq!(chunks[5]["object"], "chat.completion.chunk");
    assert_eq!(
        chunks[6],
        json!({"error": {
            "message": "answer stopped by pii-redactor: the response contains personal data: e-mail address",
            "type": "invalid_request_error", "param": null, "code": "content_filter"}})
    );
    assert_eq!(data[7], "[DONE]");
    assert!(!r.body.contains("example.com"), "{}", r.body);
}

#[test]
fn a_whole_answer_is_rewritten() {
    let mock = MockProvider::start(Flavor::OpenAi);
    mock.always(Behaviour::Text(owned(&[
        "Write to ",
        "ana@example.com",
        " today.",
    ])));
    let gw = start(&mock, &pii_settings("stages: [response]"));
    let r = gw.post("/v1/chat/completions", Some(KEY), &whole("hi"));
    assert_eq!(r.status, 200, "{}", r.body);
    let answer = r.json();
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "Write to [EMAIL] today."
    );
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        answer["usage"]["total_tokens"],
        PROMPT_TOKENS + COMPLETION_TOKENS
    );
}

#[test]
fn a_denied_whole_answer_finishes_with_content_filter() {
    let mock = MockProvider::start(Flavor::OpenAi);
    mock.always(Behaviour::Text(owned(&["Call 4111 1111 1111 1111 now"])));
    let gw = start_with(&mock, "{mode: deny}", "stages: [response]");
    let r = gw.post("/v1/chat/completions", Some(KEY), &whole("hi"));
    assert_eq!(r.status, 200, "{}", r.body);
    let answer = r.json();
    assert_eq!(
        answer["choices"],
        json!([{"index": 0, "message": {"role": "assistant", "content": null},
                "logprobs": null, "finish_reason": "content_filter"}])
    );
    assert!(!r.body.contains("4111"), "{}", r.body);
}

#[test]
fn audit_mode_passes_requests_and_answers_and_reports_what_it_would_do() {
    let mock = MockProvider::start(Flavor::OpenAi);
    mock.always(Behaviour::Text(owned(&["Reach me at bob@example.org."])));
    let gw = start(
        &mock,
        &pii_settings("stages: [request, response], mode: audit"),
    );
    let r = gw.post(
        "/v1/chat/completions",
        Some(KEY),
        &whole("my mail is ana@example.com"),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["choices"][0]["message"]["content"],
        "Reach me at bob@example.org."
    );
    let sent = mock.only_request();
    assert_eq!(
        sent.body["messages"][0]["content"],
        "my mail is ana@example.com"
    );
    let s = gw.post(
        "/v1/chat/completions",
        Some(KEY),
        &streamed("nothing personal"),
    );
    assert_eq!(
        streamed_text(&stream_chunks(&s)),
        "Reach me at bob@example.org."
    );
    let metrics = gw.get("/metrics", Some(KEY)).body;
    for (stage, n) in [("request", 1), ("response", 2)] {
        let line = format!(
            "switchyard_sanitizer_audit_total{{plugin=\"pii-redactor\",stage=\"{stage}\",verdict=\"rewrite\"}} {n}"
        );
        assert!(metrics.contains(&line), "{line} in\n{metrics}");
    }
    eventually(
        "the audit warnings",
        std::time::Duration::from_secs(5),
        || {
            gw.log()
                .lines()
                .filter(|l| l.contains("audit mode") && l.contains("pii-redactor"))
                .count()
                == 3
        },
    );
}

#[test]
fn pii_is_restored_in_a_stream_across_chunk_boundaries() {
    let mock = MockProvider::start(Flavor::OpenAi);
    // The model writes the placeholder split over two chunks.
    mock.always(Behaviour::Text(owned(&[
        "I will write to [EMA",
        "IL_1] today.",
    ])));
    let gw = start_with(
        &mock,
        "{restore: true}",
        "stages: [request, response], window_chars: 16, overlap_chars: 10",
    );
    let r = gw.post(
        "/v1/chat/completions",
        Some(KEY),
        &streamed("my mail is ana.souza@example.com, write me"),
    );
    let chunks = stream_chunks(&r);
    assert_eq!(
        streamed_text(&chunks),
        "I will write to ana.souza@example.com today."
    );
    assert_eq!(finish_reasons(&chunks), ["stop"]);
    let sent = mock.only_request();
    assert_eq!(
        sent.body["messages"][0]["content"],
        "my mail is [EMAIL_1], write me"
    );
    // The same answer whole.
    let r = gw.post(
        "/v1/chat/completions",
        Some(KEY),
        &whole("my mail is ana.souza@example.com, write me"),
    );
    assert_eq!(
        r.json()["choices"][0]["message"]["content"],
        "I will write to ana.souza@example.com today."
    );
}

#[test]
fn context_trim_drops_the_middle_turns_before_the_provider_sees_them() {
    let mock = MockProvider::start(Flavor::OpenAi);
    // The deployment's context window: 30 tokens. Every text below is 8
    // bytes (2 tokens, 4 more a message): 6 messages are 36 tokens.
    let entry = format!(
        "{}    model_info:\n      max_input_tokens: 30\n",
        model_entry("gpt", "openai/gpt-4o-mini", &mock.url(), &[])
    );
    let gw = start_models(
        &[entry],
        "  sanitizers: [context-trim]\n  settings:\n    context-trim: {config: {reserve_tokens: 0}}\n",
    );
    let messages = json!([
        {"role": "system", "content": "sys-aaaa"},
        {"role": "user", "content": "user-one"},
        {"role": "assistant", "content": "asst-one"},
        {"role": "user", "content": "user-two"},
        {"role": "assistant", "content": "asst-two"},
        {"role": "user", "content": "user-thr"}
    ]);
    let r = gw.post(
        "/v1/chat/completions",
        Some(KEY),
        &json!({"model": "gpt", "messages": messages}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let sent = mock.only_request();
    let got: Vec<&str> = sent.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        got,
        ["sys-aaaa", "user-one", "user-two", "asst-two", "user-thr"]
    );
}

#[test]
fn a_cache_hit_goes_through_the_response_stage_and_the_cache_keeps_the_placeholders() {
    let mock = MockProvider::start(Flavor::OpenAi);
    mock.always(Behaviour::Text(owned(&["Sent to ", "[EMAIL_1]", "."])));
    let dir = tempfile::tempdir().unwrap();
    let section = plugins_section(&dir.path().join("plugins"), &["openai"]);
    let gw = Gateway::start_in(
        dir,
        &format!(
            "{}{section}{}litellm_settings:\n  cache: true\n  cache_params:\n    type: local\n",
            config_with_settings(
                &[model_entry("gpt", "openai/gpt-4o-mini", &mock.url(), &[])],
                ONE_CALL_EACH
            ),
            pii_settings("stages: [request, response], config: {restore: true}"),
        ),
    );
    let ask = whole("my mail is ana@example.com");
    let mut seen = Vec::new();
    // The entry is written behind the answer: ask until a hit comes.
    eventually("a cache hit", std::time::Duration::from_secs(10), || {
        let r = gw.post("/v1/chat/completions", Some(KEY), &ask);
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            r.json()["choices"][0]["message"]["content"],
            "Sent to ana@example.com."
        );
        seen.push(r.header("x-switchyard-cache").unwrap_or("").to_string());
        seen.last().map(String::as_str) == Some("hit")
    });
    assert_eq!(seen[0], "miss", "{seen:?}");
    // Every call that reached the provider carried the placeholder; the hit
    // did not reach it.
    let calls = mock.requests();
    assert_eq!(calls.len(), seen.len() - 1, "{seen:?}");
    for c in &calls {
        assert_eq!(c.body["messages"][0]["content"], "my mail is [EMAIL_1]");
    }
    // Another caller whose request redacts to the same text hits the same
    // entry, and reads their own value: the entry holds the placeholder,
    // never the first caller's address.
    let r = gw.post(
        "/v1/chat/completions",
        Some(KEY),
        &whole("my mail is bob@example.org"),
    );
    assert_eq!(r.header("x-switchyard-cache"), Some("hit"));
    assert_eq!(
        r.json()["choices"][0]["message"]["content"],
        "Sent to bob@example.org."
    );
    assert!(!r.body.contains("ana@"), "{}", r.body);
    assert_eq!(mock.count(), calls.len());
}
