//! Streams: a streaming hit replays the whole answer (text or tool calls,
//! the finish reason, the usage chunk only when asked), streamed and
//! whole answers share entries, and a stream cut short is never stored.

use serde_json::{Value, json};
use switchyard_e2e::mock::*;
use switchyard_e2e::*;

use crate::*;

fn weather_tool() -> Value {
    json!([{"type": "function", "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}},
                       "required": ["location"]}}}])
}

fn streaming(mut body: Value, include_usage: bool) -> Value {
    body["stream"] = json!(true);
    if include_usage {
        body["stream_options"] = json!({"include_usage": true});
    }
    body
}

/// The chunks' ids: one for the whole stream.
fn stream_id(chunks: &[Value]) -> String {
    let id = chunks[0]["id"].as_str().unwrap().to_string();
    assert!(chunks.iter().all(|c| c["id"] == id.as_str()), "{chunks:?}");
    id
}

#[test]
fn a_streaming_hit_replays_tool_calls_finish_reason_and_usage_only_when_asked() {
    let openai = MockProvider::start(Flavor::OpenAi);
    openai.always(Behaviour::ToolCall);
    let gw = Gateway::start(&cached(&gpt_and_embed(&openai), &[]));
    let mut body = ask("What is the weather in Paris?");
    body["tools"] = weather_tool();

    let first = chat(&gw, &streaming(body.clone(), true), "miss");
    let key = key_of(&first);
    let chunks = stream_chunks(&first);
    let calls = streamed_tool_calls(&chunks);
    assert_eq!(
        calls,
        [(
            "call_mock_1".to_string(),
            "get_weather".to_string(),
            TOOL_ARGUMENTS.to_string()
        )]
    );
    let miss_id = stream_id(&chunks);
    wait_writes(&gw, 1);

    let started = now_secs();
    let hit = chat(&gw, &streaming(body.clone(), true), "hit");
    assert_eq!(key_of(&hit), key);
    assert_eq!(cost(&hit), 0.0, "{:?}", hit.headers);
    assert_eq!(hit.header("x-switchyard-deployment"), Some("cache"));
    let chunks = stream_chunks(&hit);
    assert_eq!(streamed_tool_calls(&chunks), calls);
    assert_eq!(finish_reasons(&chunks), ["tool_calls"]);
    assert_eq!(streamed_text(&chunks), "");
    let usage = usage_chunks(&chunks);
    assert_eq!(usage.len(), 1, "{}", hit.body);
    assert_eq!(usage[0]["usage"]["prompt_tokens"], PROMPT_TOKENS);
    assert_eq!(usage[0]["usage"]["completion_tokens"], COMPLETION_TOKENS);
    assert_eq!(
        chunks.last().unwrap()["usage"],
        usage[0]["usage"],
        "the usage chunk comes last"
    );
    let id = stream_id(&chunks);
    assert!(id.starts_with("chatcmpl-") && id != miss_id, "{id}");
    assert!(
        chunks
            .iter()
            .all(|c| c["created"].as_u64().unwrap() >= started)
    );
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");

    // Without include_usage: no usage chunk.
    let hit = chat(&gw, &streaming(body.clone(), false), "hit");
    let chunks = stream_chunks(&hit);
    assert_eq!(streamed_tool_calls(&chunks), calls);
    assert_eq!(finish_reasons(&chunks), ["tool_calls"]);
    assert!(usage_chunks(&chunks).is_empty(), "{}", hit.body);

    // A whole answer from the streamed entry.
    let whole = chat(&gw, &body, "hit");
    let w = whole.json();
    assert_eq!(w["object"], "chat.completion");
    assert!(w["id"].as_str().unwrap().starts_with("chatcmpl-"), "{w}");
    assert_eq!(w["choices"][0]["finish_reason"], "tool_calls");
    let call = &w["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["id"], "call_mock_1");
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(call["function"]["arguments"], TOOL_ARGUMENTS);
    assert_eq!(w["usage"]["prompt_tokens"], PROMPT_TOKENS);
    assert_eq!(w["usage"]["completion_tokens"], COMPLETION_TOKENS);
    assert_eq!(openai.count(), 1);
}

#[test]
fn streamed_and_whole_answers_share_entries_both_ways() {
    let openai = MockProvider::start(Flavor::OpenAi);
    let gw = Gateway::start(&cached(&gpt_and_embed(&openai), &[]));
    let text = Flavor::OpenAi.answer_text();

    // Whole first, then streamed.
    let a = ask("stored whole");
    let first = chat(&gw, &a, "miss");
    wait_writes(&gw, 1);
    let hit = chat(&gw, &streaming(a.clone(), true), "hit");
    assert_eq!(key_of(&hit), key_of(&first));
    let chunks = stream_chunks(&hit);
    assert_eq!(streamed_text(&chunks), text);
    assert_eq!(finish_reasons(&chunks), ["stop"]);
    let usage = usage_chunks(&chunks);
    assert_eq!(usage.len(), 1, "{}", hit.body);
    assert_eq!(usage[0]["usage"], first.json()["usage"]);
    assert_eq!(usage[0]["choices"], json!([]));

    // Streamed first (with the usage chunk), then whole.
    let b = ask("stored streamed");
    let first = chat(&gw, &streaming(b.clone(), true), "miss");
    assert_eq!(streamed_text(&stream_chunks(&first)), text);
    wait_writes(&gw, 2);
    let hit = chat(&gw, &b, "hit");
    assert_eq!(key_of(&hit), key_of(&first));
    let w = hit.json();
    assert_eq!(w["choices"][0]["message"]["content"], text);
    assert_eq!(w["choices"][0]["message"]["role"], "assistant");
    assert_eq!(w["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        w["usage"]["total_tokens"],
        PROMPT_TOKENS + COMPLETION_TOKENS
    );
    // And streamed again.
    let again = chat(&gw, &streaming(b.clone(), false), "hit");
    assert_eq!(streamed_text(&stream_chunks(&again)), text);
    assert_eq!(openai.count(), 2);
}

#[test]
fn a_stream_cut_short_or_ended_by_an_error_is_never_stored() {
    let openai = MockProvider::start(Flavor::OpenAi);
    let gw = Gateway::start(&cached(&gpt_and_embed(&openai), &[]));
    for (i, broken) in [
        Behaviour::StreamErrorEvent,
        Behaviour::StreamBreakAfterFirstEvent,
    ]
    .into_iter()
    .enumerate()
    {
        let body = streaming(ask(&format!("broken {i}")), true);
        openai.push(broken.clone());
        let r = gw.post("/v1/chat/completions", Some(KEY), &body);
        assert_eq!(r.status, 200, "{broken:?}: {}", r.body);
        assert_eq!(verdict(&r), "miss");
        // Not stored: the next one goes upstream and is answered whole.
        let r = chat(&gw, &body, "miss");
        assert_eq!(
            streamed_text(&stream_chunks(&r)),
            Flavor::OpenAi.answer_text()
        );
        assert_eq!(openai.count(), 2 * (i + 1));
    }
    // The two complete ones were stored, the broken ones were not.
    wait_writes(&gw, 2);
    assert_eq!(cache_status(&gw)["writes"], 2);
}
