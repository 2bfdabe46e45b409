//! The `openai` adapter end to end: the real gateway in front of a mock
//! OpenAI API. Each test checks what the client got and what the mock
//! received.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Value, json};
use switchyard_e2e::mock::*;
use switchyard_e2e::*;

const UPSTREAM_KEY: &str = "sk-upstream-openai";

fn start(mock: &MockProvider) -> Gateway {
    let key = format!("api_key: {UPSTREAM_KEY}");
    Gateway::start_with_plugins(
        &["openai"],
        &config_with_settings(
            &[
                model_entry("gpt", "openai/gpt-4o-mini", &mock.url(), &[&key]),
                model_entry(
                    "embed",
                    "openai/text-embedding-3-small",
                    &mock.url(),
                    &[&key],
                ),
            ],
            ONE_CALL_EACH,
        ),
    )
}

fn hello(extra: Value) -> Value {
    let mut body = json!({"model": "gpt", "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hello?"}
    ]});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

fn weather_tool() -> Value {
    json!([{"type": "function", "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}
    }}])
}

#[test]
fn openai_chat_non_streaming() {
    let mock = MockProvider::start(Flavor::OpenAi);
    let gw = start(&mock);
    let r = gw.post(
        "/v1/chat/completions",
        Some(KEY),
        &hello(json!({"temperature": 0.3})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert_eq!(
        v["choices"][0]["message"]["content"],
        Flavor::OpenAi.answer_text()
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["usage"]["prompt_tokens"], PROMPT_TOKENS);
    assert_eq!(v["usage"]["completion_tokens"], COMPLETION_TOKENS);
    assert_eq!(r.header("x-switchyard-model-group"), Some("gpt"));
    assert_eq!(r.header("x-switchyard-deployment"), Some("gpt/0"));
    assert_eq!(r.header("x-switchyard-attempts"), Some("1"));
    assert!(r.header("x-switchyard-overhead-ms").is_some());

    let sent = mock.only_request();
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {UPSTREAM_KEY}").as_str())
    );
    assert_eq!(
        sent.body["model"], "gpt-4o-mini",
        "the deployment's model goes out"
    );
    assert_eq!(sent.body["messages"], hello(json!({}))["messages"]);
    assert_eq!(sent.body["temperature"], 0.3);
    assert!(sent.body.get("stream").is_none_or(|s| s == false));
}

#[test]
fn openai_chat_streaming_with_usage() {
    let mock = MockProvider::start(Flavor::OpenAi);
    let gw = start(&mock);
    let r = gw.post(
        "/v1/chat/completions",
        Some(KEY),
        &hello(json!({"stream": true, "stream_options": {"include_usage": true}})),
    );
    let chunks = stream_chunks(&r);
    assert_eq!(streamed_text(&chunks), Flavor::OpenAi.answer_text());
    assert_eq!(finish_reasons(&chunks), ["stop"]);
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let usage = usage_chunks(&chunks);
    assert_eq!(usage.len(), 1, "one usage chunk: {}", r.body);
    assert!(
        std::ptr::eq(usage[0], chunks.last().unwrap()),
        "the usage chunk is the last before [DONE]"
    );
    assert_eq!(usage[0]["choices"], json!([]));
    assert_eq!(usage[0]["usage"]["prompt_tokens"], PROMPT_TOKENS);
    assert_eq!(usage[0]["usage"]["completion_tokens"], COMPLETION_TOKENS);
    assert_eq!(
        usage[0]["usage"]["total_tokens"],
        PROMPT_TOKENS + COMPLETION_TOKENS
    );
    assert_eq!(r.header("x-switchyard-deployment"), Some("gpt/0"));

    let sent = mock.only_request();
    assert_eq!(sent.body["stream"], true);
    assert_eq!(sent.body["stream_options"]["include_usage"], true);
    assert_eq!(sent.body["model"], "gpt-4o-mini");
}

#[test]
fn openai_chat_streaming_without_usage_has_no_usage_chunk() {
    let mock = MockProvider::start(Flavor::OpenAi);
    let gw = start(&mock);
    let r = gw.post(
        "/chat/completions",
        Some(KEY),
        &hello(json!({"stream": true})),
    );
    let chunks = stream_chunks(&r);
    assert_eq!(streamed_text(&chunks), Flavor::OpenAi.answer_text());
    assert!(usage_chunks(&chunks).is_empty(), "{}", r.body);
    assert_eq!(mock.count(), 1);
}

#[test]
fn openai_tools_and_tool_calls() {
    let mock = MockProvider::start(Flavor::OpenAi);
    let gw = start(&mock);
    mock.script([Behaviour::ToolCall, Behaviour::ToolCall]);
    let body = hello(json!({"tools": weather_tool(), "tool_choice": "auto"}));
    let r = gw.post("/v1/chat/completions", Some(KEY), &body);
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let call = &v["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(call["function"]["arguments"], TOOL_ARGUMENTS);
    assert!(call["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");

    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    let r = gw.post("/v1/chat/completions", Some(KEY), &streamed);
    let chunks = stream_chunks(&r);
    let calls = streamed_tool_calls(&chunks);
    assert_eq!(calls.len(), 1, "{}", r.body);
    assert_eq!(calls[0].1, "get_weather");
    assert_eq!(calls[0].2, TOOL_ARGUMENTS);
    assert_eq!(finish_reasons(&chunks), ["tool_calls"]);

    let sent = mock.requests();
    assert_eq!(sent.len(), 2);
    for s in &sent {
        assert_eq!(
            s.body["tools"],
            weather_tool(),
            "OpenAI's tool format goes out as is"
        );
        assert_eq!(s.body["tool_choice"], "auto");
    }
}

#[test]
fn openai_tool_results_go_back_to_the_provider() {
    let mock = MockProvider::start(Flavor::OpenAi);
    let gw = start(&mock);
    let messages = json!([
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": TOOL_ARGUMENTS}}
        ]},
        {"role": "tool", "tool_call_id": "call_1", "content": "{\"sky\":\"clear\"}"}
    ]);
    let r = gw.post(
        "/v1/chat/completions",
        Some(KEY),
        &json!({"model": "gpt", "messages": messages, "tools": weather_tool()}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(mock.only_request().body["messages"], messages);
}

#[test]
fn openai_provider_errors_keep_the_message_and_map_the_status() {
    let mock = MockProvider::start(Flavor::OpenAi);
    let gw = start(&mock);

    mock.push(Behaviour::Status(429, String::new(), Some(3)));
    let r = gw.post("/v1/chat/completions", Some(KEY), &hello(json!({})));
    assert_eq!(r.status, 429, "{}", r.body);
    let e = r.json();
    assert_eq!(e["error"]["message"], Flavor::OpenAi.error_message(429));
    assert_eq!(e["error"]["type"], "rate_limit_error");
    assert_eq!(mock.count(), 1, "one deployment: one call");

    mock.push(Behaviour::ContextLengthError);
    let r = gw.post("/v1/chat/completions", Some(KEY), &hello(json!({})));
    assert_eq!(r.status, 400, "{}", r.body);
    let e = r.json();
    assert_eq!(
        e["error"]["message"],
        Flavor::OpenAi.context_length_message()
    );
    assert_eq!(e["error"]["code"], "context_length_exceeded");
    assert_eq!(e["error"]["type"], "invalid_request_error");
    assert_eq!(mock.count(), 2, "a 400 is not retried");

    mock.push(Behaviour::Status(500, String::new(), None));
    let r = gw.post("/v1/chat/completions", Some(KEY), &hello(json!({})));
    assert!(
        r.status == 500 || r.status == 502,
        "{} {}",
        r.status,
        r.body
    );
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&Flavor::OpenAi.error_message(500)),
        "{}",
        r.body
    );
    assert_eq!(mock.count(), 3);

    // A streaming request that fails before its first chunk gets the error
    // as an HTTP status too.
    mock.push(Behaviour::Status(429, String::new(), None));
    let r = gw.post(
        "/v1/chat/completions",
        Some(KEY),
        &hello(json!({"stream": true})),
    );
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(
        r.json()["error"]["message"],
        Flavor::OpenAi.error_message(429)
    );
    assert_eq!(mock.count(), 4);
}

#[test]
fn openai_stream_error_event_reaches_the_client() {
    let mock = MockProvider::start(Flavor::OpenAi);
    let gw = start(&mock);
    mock.push(Behaviour::StreamErrorEvent);
    let r = gw.post(
        "/v1/chat/completions",
        Some(KEY),
        &hello(json!({"stream": true})),
    );
    assert_eq!(r.status, 200, "the stream had started: {}", r.body);
    let data = r.sse_data();
    let error = data
        .iter()
        .filter(|d| *d != "[DONE]")
        .map(|d| json(d))
        .find(|v| v.get("error").is_some())
        .unwrap_or_else(|| panic!("an error event: {}", r.body));
    assert_eq!(
        error["error"]["message"],
        Flavor::OpenAi.stream_error_message()
    );
    assert_eq!(mock.count(), 1);
}

#[test]
fn openai_embeddings() {
    let mock = MockProvider::start(Flavor::OpenAi);
    let gw = start(&mock);
    let r = gw.post(
        "/v1/embeddings",
        Some(KEY),
        &json!({"model": "embed", "input": ["first", "second"]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["object"], "list");
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    for (i, d) in data.iter().enumerate() {
        assert_eq!(d["index"], i);
        assert_eq!(d["embedding"], json!(embedding(i)));
    }
    assert_eq!(v["usage"]["prompt_tokens"], PROMPT_TOKENS);
    assert_eq!(r.header("x-switchyard-model-group"), Some("embed"));

    let sent = mock.only_request();
    assert_eq!(sent.path, "/v1/embeddings");
    assert_eq!(sent.body["model"], "text-embedding-3-small");
    assert_eq!(sent.body["input"], json!(["first", "second"]));
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {UPSTREAM_KEY}").as_str())
    );
}
