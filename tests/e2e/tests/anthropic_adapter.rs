//! The `anthropic` adapter end to end: OpenAI requests in, Messages API
//! requests out to a mock Anthropic, OpenAI answers back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Value, json};
use switchyard_e2e::mock::*;
use switchyard_e2e::*;

const UPSTREAM_KEY: &str = "sk-ant-upstream";

fn start(mock: &MockProvider) -> Gateway {
    let key = format!("api_key: {UPSTREAM_KEY}");
    Gateway::start_with_plugins(
        &["anthropic"],
        &config_with_settings(
            &[model_entry(
                "claude",
                "anthropic/claude-sonnet-4-5",
                &mock.url(),
                &[&key],
            )],
            ONE_CALL_EACH,
        ),
    )
}

fn hello(extra: Value) -> Value {
    let mut body = json!({"model": "claude", "max_tokens": 64, "messages": [
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
fn anthropic_chat_non_streaming() {
    let mock = MockProvider::start(Flavor::Anthropic);
    let gw = start(&mock);
    let r = gw.post("/v1/chat/completions", Some(KEY), &hello(json!({})));
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert_eq!(
        v["choices"][0]["message"]["content"],
        Flavor::Anthropic.answer_text()
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["usage"]["prompt_tokens"], PROMPT_TOKENS);
    assert_eq!(v["usage"]["completion_tokens"], COMPLETION_TOKENS);
    assert_eq!(
        v["usage"]["total_tokens"],
        PROMPT_TOKENS + COMPLETION_TOKENS
    );
    assert_eq!(r.header("x-switchyard-deployment"), Some("claude/0"));

    let sent = mock.only_request();
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.header("x-api-key"), Some(UPSTREAM_KEY));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    assert!(sent.header("authorization").is_none());
    assert_eq!(sent.body["model"], "claude-sonnet-4-5");
    assert_eq!(sent.body["max_tokens"], 64);
    assert_eq!(sent.body["system"], "Be brief.");
    assert_eq!(
        sent.body["messages"],
        json!([{"role": "user", "content": "Hello?"}])
    );
    assert!(sent.body.get("stream").is_none());
}

#[test]
fn anthropic_chat_streaming_with_usage() {
    let mock = MockProvider::start(Flavor::Anthropic);
    let gw = start(&mock);
    let r = gw.post(
        "/v1/chat/completions",
        Some(KEY),
        &hello(json!({"stream": true, "stream_options": {"include_usage": true}})),
    );
    let chunks = stream_chunks(&r);
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(streamed_text(&chunks), Flavor::Anthropic.answer_text());
    assert_eq!(finish_reasons(&chunks), ["stop"]);
    let usage = usage_chunks(&chunks);
    assert_eq!(usage.len(), 1, "one usage chunk: {}", r.body);
    assert!(std::ptr::eq(usage[0], chunks.last().unwrap()));
    assert_eq!(usage[0]["choices"], json!([]));
    assert_eq!(usage[0]["usage"]["prompt_tokens"], PROMPT_TOKENS);
    assert_eq!(usage[0]["usage"]["completion_tokens"], COMPLETION_TOKENS);
    let id = chunks[0]["id"].as_str().unwrap();
    assert!(
        chunks.iter().all(|c| c["id"] == id),
        "one id for the stream"
    );

    let sent = mock.only_request();
    assert_eq!(sent.body["stream"], true);
    assert!(
        sent.body.get("stream_options").is_none(),
        "stream_options is OpenAI's: {}",
        sent.body
    );
}

#[test]
fn anthropic_tools_and_tool_calls() {
    let mock = MockProvider::start(Flavor::Anthropic);
    let gw = start(&mock);
    mock.script([Behaviour::ToolCall, Behaviour::ToolCall]);
    let body = hello(json!({"tools": weather_tool(), "tool_choice": "required"}));
    let r = gw.post("/v1/chat/completions", Some(KEY), &body);
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let calls = v["choices"][0]["message"]["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 1, "{v}");
    assert_eq!(calls[0]["type"], "function");
    assert_eq!(calls[0]["id"], "toolu_mock_1");
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    let args: Value =
        serde_json::from_str(calls[0]["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json(TOOL_ARGUMENTS));
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");

    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    let r = gw.post("/v1/chat/completions", Some(KEY), &streamed);
    let chunks = stream_chunks(&r);
    let calls = streamed_tool_calls(&chunks);
    assert_eq!(calls.len(), 1, "{}", r.body);
    assert_eq!(calls[0].0, "toolu_mock_2");
    assert_eq!(calls[0].1, "get_weather");
    assert_eq!(
        calls[0].2, TOOL_ARGUMENTS,
        "input_json_delta pieces joined in order"
    );
    assert_eq!(finish_reasons(&chunks), ["tool_calls"]);

    let sent = mock.requests();
    assert_eq!(sent.len(), 2);
    for s in &sent {
        assert_eq!(
            s.body["tools"],
            json!([{
                "name": "get_weather",
                "description": "Current weather in a city",
                "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}
            }]),
            "Anthropic's tool format"
        );
        assert_eq!(s.body["tool_choice"], json!({"type": "any"}));
    }
}

#[test]
fn anthropic_tool_results_become_tool_use_and_tool_result_blocks() {
    let mock = MockProvider::start(Flavor::Anthropic);
    let gw = start(&mock);
    let body = json!({"model": "claude", "max_tokens": 64, "tools": weather_tool(), "messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": TOOL_ARGUMENTS}}
        ]},
        {"role": "tool", "tool_call_id": "toolu_1", "content": "clear sky"}
    ]});
    let r = gw.post("/v1/chat/completions", Some(KEY), &body);
    assert_eq!(r.status, 200, "{}", r.body);
    let sent = mock.only_request();
    let messages = sent.body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 3, "{}", sent.body);
    let tool_use = &messages[1]["content"][0];
    assert_eq!(messages[1]["role"], "assistant");
    assert_eq!(tool_use["type"], "tool_use");
    assert_eq!(tool_use["id"], "toolu_1");
    assert_eq!(tool_use["name"], "get_weather");
    assert_eq!(tool_use["input"], json(TOOL_ARGUMENTS));
    assert_eq!(messages[2]["role"], "user");
    let result = &messages[2]["content"][0];
    assert_eq!(result["type"], "tool_result");
    assert_eq!(result["tool_use_id"], "toolu_1");
}

#[test]
fn anthropic_provider_errors_keep_the_message_and_map_the_status() {
    let mock = MockProvider::start(Flavor::Anthropic);
    let gw = start(&mock);

    mock.push(Behaviour::Status(429, String::new(), Some(5)));
    let r = gw.post("/v1/chat/completions", Some(KEY), &hello(json!({})));
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(
        r.json()["error"]["message"],
        Flavor::Anthropic.error_message(429)
    );
    assert_eq!(r.json()["error"]["type"], "rate_limit_error");
    assert_eq!(mock.count(), 1);

    mock.push(Behaviour::ContextLengthError);
    let r = gw.post("/v1/chat/completions", Some(KEY), &hello(json!({})));
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.json()["error"]["message"],
        Flavor::Anthropic.context_length_message()
    );
    assert_eq!(r.json()["error"]["code"], "context_length_exceeded");
    assert_eq!(mock.count(), 2);

    mock.push(Behaviour::Status(401, String::new(), None));
    let r = gw.post("/v1/chat/completions", Some(KEY), &hello(json!({})));
    assert_eq!(
        r.json()["error"]["message"],
        Flavor::Anthropic.error_message(401),
        "{}",
        r.body
    );
    assert_eq!(mock.count(), 3, "an auth failure is not retried");
}

#[test]
fn anthropic_stream_error_event_reaches_the_client() {
    let mock = MockProvider::start(Flavor::Anthropic);
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
        Flavor::Anthropic.stream_error_message()
    );
    assert_eq!(mock.count(), 1);
}
