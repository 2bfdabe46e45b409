//! Golden tests: the files in `fixtures/` are OpenAI requests with the
//! Messages API bodies they must become, Anthropic answers with the
//! `chat.completion` and usage they must become, and Anthropic SSE streams
//! with every chunk they must become. Outputs must equal the files exactly.

use serde_json::{Value, json};
use switchyard_sdk::provider::{Outbound, SseEvent, StreamInput};
use switchyard_sdk::testing::http_response;
use switchyard_sdk::typed::{Decoder as _, Provider};
use switchyard_sdk::types::Usage;

use crate::config::Config;
use crate::tests::chat_input;
use crate::{Decoder, request};

macro_rules! fixture {
    ($path:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/", $path))
    };
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn usage_json(u: &Usage) -> Value {
    json!({
        "input_tokens": u.input_tokens,
        "output_tokens": u.output_tokens,
        "cache_read_tokens": u.cache_read_tokens,
        "cache_write_tokens": u.cache_write_tokens,
        "reasoning_tokens": u.reasoning_tokens,
        "extra": u.extra.iter().map(|f| (f.key.clone(), json(&f.value))).collect::<serde_json::Map<_, _>>(),
    })
}

const REQUESTS: &[(&str, &str, &str)] = &[
    (
        "simple_chat",
        fixture!("requests/simple_chat.openai.json"),
        fixture!("requests/simple_chat.anthropic.json"),
    ),
    (
        "system_merge",
        fixture!("requests/system_merge.openai.json"),
        fixture!("requests/system_merge.anthropic.json"),
    ),
    (
        "same_role_merge",
        fixture!("requests/same_role_merge.openai.json"),
        fixture!("requests/same_role_merge.anthropic.json"),
    ),
    (
        "images",
        fixture!("requests/images.openai.json"),
        fixture!("requests/images.anthropic.json"),
    ),
    (
        "tools",
        fixture!("requests/tools.openai.json"),
        fixture!("requests/tools.anthropic.json"),
    ),
    (
        "tool_round_trip",
        fixture!("requests/tool_round_trip.openai.json"),
        fixture!("requests/tool_round_trip.anthropic.json"),
    ),
    (
        "sampling_and_dropped",
        fixture!("requests/sampling_and_dropped.openai.json"),
        fixture!("requests/sampling_and_dropped.anthropic.json"),
    ),
];

const RESPONSES: &[(&str, &str, &str)] = &[
    (
        "text",
        fixture!("responses/text.anthropic.json"),
        fixture!("responses/text.openai.json"),
    ),
    (
        "parallel_tool_use",
        fixture!("responses/parallel_tool_use.anthropic.json"),
        fixture!("responses/parallel_tool_use.openai.json"),
    ),
    (
        "cache_usage",
        fixture!("responses/cache_usage.anthropic.json"),
        fixture!("responses/cache_usage.openai.json"),
    ),
];

const STREAMS: &[(&str, &str, &str)] = &[
    (
        "text",
        fixture!("streams/text.sse"),
        fixture!("streams/text.expected.json"),
    ),
    (
        "tool_use",
        fixture!("streams/tool_use.sse"),
        fixture!("streams/tool_use.expected.json"),
    ),
    (
        "two_tools",
        fixture!("streams/two_tools.sse"),
        fixture!("streams/two_tools.expected.json"),
    ),
];

#[test]
fn requests_translate_to_the_golden_bodies() {
    for (name, openai, anthropic) in REQUESTS {
        let Outbound::Send(r) =
            request::build_request(&chat_input(json(openai)), &Config::default()).unwrap()
        else {
            panic!("{name}: not a send")
        };
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body, json(anthropic), "{name}");
    }
}

#[test]
fn responses_translate_to_the_golden_completions() {
    for (name, anthropic, openai) in RESPONSES {
        let parsed = crate::tests::adapter()
            .parse_response(
                chat_input(json!({"model": "claude", "messages": []})),
                http_response(200, anthropic),
            )
            .unwrap();
        let want = json(openai);
        assert_eq!(json(&parsed.body), want["body"], "{name}");
        assert_eq!(
            parsed.usage.as_ref().map(usage_json),
            Some(want["usage"].clone()),
            "{name}"
        );
    }
}

/// Splits SSE text into events (`event:` and `data:` lines, blank-line
/// separated), enough for the fixtures.
fn sse_events(text: &str) -> Vec<SseEvent> {
    text.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let mut event = None;
            let mut data = Vec::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    event = Some(v.trim().to_string());
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push(v.strip_prefix(' ').unwrap_or(v));
                }
            }
            SseEvent {
                event,
                data: data.join("\n"),
                id: None,
            }
        })
        .collect()
}

#[test]
fn streams_decode_to_the_golden_chunks() {
    for (name, sse, expected) in STREAMS {
        let d = Decoder::new(chat_input(
            json!({"model": "claude", "messages": [], "stream": true}),
        ));
        let mut chunks = Vec::new();
        let mut usage = None;
        let mut done = false;
        let events = sse_events(sse);
        assert!(events.len() > 3, "{name}");
        let outputs: Vec<_> = events
            .into_iter()
            .map(|e| d.push(StreamInput::Event(e)).unwrap())
            .chain([d.finish().unwrap()])
            .collect();
        for out in outputs {
            chunks.extend(out.chunks.iter().map(|c| json(c)));
            if out.usage.is_some() {
                usage = out.usage;
            }
            done |= out.done;
        }
        let got = json!({"chunks": chunks, "usage": usage.as_ref().map(usage_json), "done": done});
        assert_eq!(got, json(expected), "{name}");
    }
}

#[test]
fn streamed_tool_arguments_reassemble_to_json() {
    let d = Decoder::new(chat_input(json!({"model": "c", "messages": []})));
    let mut arguments = String::new();
    for e in sse_events(fixture!("streams/tool_use.sse")) {
        for c in d.push(StreamInput::Event(e)).unwrap().chunks {
            let c = json(&c);
            if let Some(a) =
                c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str()
            {
                arguments.push_str(a);
            }
        }
    }
    assert_eq!(
        json(&arguments),
        json!({"location": "San Francisco, CA", "unit": "fahrenheit"})
    );
}
