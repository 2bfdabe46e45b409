//! The `gemini` adapter end to end: OpenAI requests in, `generateContent`,
//! `streamGenerateContent?alt=sse` and `batchEmbedContents` out to a mock
//! Gemini API, OpenAI answers back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Value, json};
use switchyard_e2e::mock::*;
use switchyard_e2e::*;

const UPSTREAM_KEY: &str = "AIza-upstream-gemini";

fn start(mock: &MockProvider) -> Gateway {
    let key = format!("api_key: {UPSTREAM_KEY}");
    Gateway::start_with_plugins(
        &["gemini"],
        &config_with_settings(
            &[
                model_entry("gemini", "gemini/gemini-2.0-flash", &mock.url(), &[&key]),
                model_entry(
                    "gemini-embed",
                    "gemini/text-embedding-004",
                    &mock.url(),
                    &[&key],
                ),
            ],
            ONE_CALL_EACH,
        ),
    )
}

fn hello(extra: Value) -> Value {
    let mut body = json!({"model": "gemini", "messages": [
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
fn gemini_chat_non_streaming() {
    let mock = MockProvider::start(Flavor::Gemini);
    let gw = start(&mock);
    let r = gw.post(
        "/v1/chat/completions",
        Some(KEY),
        &hello(json!({"max_tokens": 50, "temperature": 0.5})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert_eq!(
        v["choices"][0]["message"]["content"],
        Flavor::Gemini.answer_text()
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["usage"]["prompt_tokens"], PROMPT_TOKENS);
    assert_eq!(v["usage"]["completion_tokens"], COMPLETION_TOKENS);
    assert_eq!(
        v["usage"]["total_tokens"],
        PROMPT_TOKENS + COMPLETION_TOKENS
    );

    let sent = mock.only_request();
    assert_eq!(sent.path, "/v1beta/models/gemini-2.0-flash:generateContent");
    assert_eq!(sent.query, None);
    assert_eq!(sent.header("x-goog-api-key"), Some(UPSTREAM_KEY));
    assert_eq!(
        sent.body["system_instruction"],
        json!({"parts": [{"text": "Be brief."}]})
    );
    assert_eq!(
        sent.body["contents"],
        json!([{"role": "user", "parts": [{"text": "Hello?"}]}])
    );
    assert_eq!(sent.body["generationConfig"]["maxOutputTokens"], 50);
    assert_eq!(sent.body["generationConfig"]["temperature"], 0.5);
}

#[test]
fn gemini_chat_streaming_with_usage() {
    let mock = MockProvider::start(Flavor::Gemini);
    let gw = start(&mock);
    let r = gw.post(
        "/v1/chat/completions",
        Some(KEY),
        &hello(json!({"stream": true, "stream_options": {"include_usage": true}})),
    );
    let chunks = stream_chunks(&r);
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(streamed_text(&chunks), Flavor::Gemini.answer_text());
    assert_eq!(finish_reasons(&chunks), ["stop"]);
    let usage = usage_chunks(&chunks);
    assert_eq!(usage.len(), 1, "one usage chunk: {}", r.body);
    assert!(std::ptr::eq(usage[0], chunks.last().unwrap()));
    assert_eq!(usage[0]["choices"], json!([]));
    assert_eq!(usage[0]["usage"]["prompt_tokens"], PROMPT_TOKENS);
    assert_eq!(usage[0]["usage"]["completion_tokens"], COMPLETION_TOKENS);

    let sent = mock.only_request();
    assert_eq!(
        sent.path,
        "/v1beta/models/gemini-2.0-flash:streamGenerateContent"
    );
    assert_eq!(sent.query.as_deref(), Some("alt=sse"));
    assert!(sent.body.get("stream").is_none() && sent.body.get("stream_options").is_none());
}

#[test]
fn gemini_tools_and_tool_calls() {
    let mock = MockProvider::start(Flavor::Gemini);
    let gw = start(&mock);
    mock.script([Behaviour::ToolCall, Behaviour::ToolCall]);
    let body = hello(json!({"tools": weather_tool(), "tool_choice": "required"}));
    let r = gw.post("/v1/chat/completions", Some(KEY), &body);
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let calls = v["choices"][0]["message"]["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 1, "{v}");
    assert_eq!(calls[0]["type"], "function");
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    assert!(!calls[0]["id"].as_str().unwrap().is_empty());
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
    assert_eq!(calls[0].1, "get_weather");
    assert_eq!(json(&calls[0].2), json(TOOL_ARGUMENTS));
    assert_eq!(finish_reasons(&chunks), ["tool_calls"]);

    let sent = mock.requests();
    assert_eq!(sent.len(), 2);
    for s in &sent {
        assert_eq!(
            s.body["tools"],
            json!([{"functionDeclarations": [{
                "name": "get_weather",
                "description": "Current weather in a city",
                "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}
            }]}]),
            "Gemini's tool format"
        );
        assert_eq!(
            s.body["toolConfig"],
            json!({"functionCallingConfig": {"mode": "ANY"}})
        );
    }
}

#[test]
fn gemini_provider_errors_keep_the_message_and_map_the_status() {
    let mock = MockProvider::start(Flavor::Gemini);
    let gw = start(&mock);

    mock.push(Behaviour::Status(429, String::new(), None));
    let r = gw.post("/v1/chat/completions", Some(KEY), &hello(json!({})));
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(
        r.json()["error"]["message"],
        Flavor::Gemini.error_message(429)
    );
    assert_eq!(r.json()["error"]["type"], "rate_limit_error");
    assert_eq!(mock.count(), 1);

    mock.push(Behaviour::ContextLengthError);
    let r = gw.post("/v1/chat/completions", Some(KEY), &hello(json!({})));
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.json()["error"]["message"],
        Flavor::Gemini.context_length_message()
    );
    assert_eq!(r.json()["error"]["code"], "context_length_exceeded");
    assert_eq!(mock.count(), 2);

    mock.push(Behaviour::Status(404, String::new(), None));
    let r = gw.post("/v1/chat/completions", Some(KEY), &hello(json!({})));
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(
        r.json()["error"]["message"],
        Flavor::Gemini.error_message(404)
    );
    assert_eq!(mock.count(), 3);
}

#[test]
fn gemini_stream_error_event_reaches_the_client() {
    let mock = MockProvider::start(Flavor::Gemini);
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
        Flavor::Gemini.stream_error_message()
    );
    assert_eq!(mock.count(), 1);
}

#[test]
fn gemini_embeddings() {
    let mock = MockProvider::start(Flavor::Gemini);
    let gw = start(&mock);
    let r = gw.post(
        "/v1/embeddings",
        Some(KEY),
        &json!({"model": "gemini-embed", "input": ["first", "second"]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["object"], "list");
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    for (i, d) in data.iter().enumerate() {
        assert_eq!(d["index"], i);
        assert_eq!(d["object"], "embedding");
        assert_eq!(d["embedding"], json!(embedding(i)));
    }

    // OpenAI's base64 form (what the openai packages ask for by default):
    // little-endian float32s.
    let r = gw.post(
        "/v1/embeddings",
        Some(KEY),
        &json!({"model": "gemini-embed", "input": "third", "encoding_format": "base64"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let b64 = r.json()["data"][0]["embedding"]
        .as_str()
        .unwrap()
        .to_string();
    let floats: Vec<f32> = base64_decode(&b64)
        .chunks(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    assert_eq!(floats, embedding(0));

    let all = mock.requests();
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].body["requests"].as_array().unwrap().len(), 1);
    let sent = all.into_iter().next().unwrap();
    assert_eq!(
        sent.path,
        "/v1beta/models/text-embedding-004:batchEmbedContents"
    );
    assert_eq!(sent.header("x-goog-api-key"), Some(UPSTREAM_KEY));
    assert_eq!(
        sent.body["requests"],
        json!([
            {"model": "models/text-embedding-004", "content": {"parts": [{"text": "first"}]}},
            {"model": "models/text-embedding-004", "content": {"parts": [{"text": "second"}]}}
        ])
    );
}

fn base64_decode(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = ALPHABET.iter().position(|a| *a == c).expect("base64") as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}
