//! The stream decoder: `streamGenerateContent?alt=sse` sends one
//! `GenerateContentResponse` per event. Each becomes OpenAI chunks: a first
//! chunk with the role (once per candidate), then the text (and thought)
//! deltas, function calls as complete `tool_calls` deltas (one index per
//! call), and `finish_reason` on the chunk of the event that carries
//! `finishReason`. Usage is the last `usageMetadata`, reported when the body
//! ends; a client that asked for `stream_options.include_usage` also gets
//! OpenAI's closing usage chunk.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use serde_json::{Value, json};
use switchyard_sdk::adapter::{self, event_json, sse_event};
use switchyard_sdk::provider::{BuildInput, ParseError, SseEvent, StreamInput, StreamOutput};

use crate::response::{self, UsageMetadata};
use crate::util;

pub struct Decoder {
    state: RefCell<State>,
}

struct State {
    /// The stream's id: the first event's `responseId`, else one made from
    /// the request.
    id: Option<String>,
    fallback_id: String,
    model: String,
    /// Unix seconds from the host's `params.created` (0 without it).
    created: u64,
    include_usage: bool,
    /// Per candidate index: how many tool calls it has made so far (present
    /// once its role chunk went out).
    candidates: BTreeMap<u32, u32>,
    usage: Option<UsageMetadata>,
    finished: bool,
}

fn output(
    chunks: Vec<String>,
    usage: Option<switchyard_sdk::types::Usage>,
    done: bool,
) -> StreamOutput {
    StreamOutput {
        chunks,
        usage,
        done,
    }
}

impl State {
    fn chunk(&self, choices: Vec<Value>) -> Value {
        json!({
            "id": self.id.as_deref().unwrap_or(&self.fallback_id),
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": choices,
        })
    }

    fn event(&mut self, data: &str) -> Result<Vec<String>, ParseError> {
        let value = event_json(data)?;
        let r = response::read(&value)?;
        if self.id.is_none() {
            // Fixed by the first event, so every chunk carries the same id.
            self.id = Some(
                r.response_id
                    .clone()
                    .filter(|id| !id.is_empty())
                    .unwrap_or_else(|| self.fallback_id.clone()),
            );
        }
        if let Some(m) = r.model_version.as_ref().filter(|m| !m.is_empty()) {
            self.model.clone_from(m);
        }
        if let Some(u) = r.usage_metadata {
            self.usage = Some(u);
        }
        let mut chunks = Vec::new();
        for (pos, c) in r.candidates.iter().enumerate() {
            let index = c.index.unwrap_or(pos as u32);
            if let Entry::Vacant(e) = self.candidates.entry(index) {
                e.insert(0);
                chunks.push(self.chunk(vec![json!({
                    "index": index,
                    "delta": {"role": "assistant", "content": ""},
                    "finish_reason": null,
                })]));
            }
            let p = response::pieces(c);
            let mut delta = serde_json::Map::new();
            if let Some(t) = p.thoughts.filter(|t| !t.is_empty()) {
                delta.insert("reasoning_content".into(), json!(t));
            }
            if let Some(t) = p.text.filter(|t| !t.is_empty()) {
                delta.insert("content".into(), json!(t));
            }
            let calls_so_far = self.candidates.get(&index).copied().unwrap_or(0);
            if !p.calls.is_empty() {
                let calls: Vec<Value> = p
                    .calls
                    .iter()
                    .zip(calls_so_far..)
                    .map(|(call, n)| {
                        response::tool_call(call, response::call_id(call, index, n), Some(n))
                    })
                    .collect();
                delta.insert("tool_calls".into(), Value::Array(calls));
                self.candidates
                    .insert(index, calls_so_far + p.calls.len() as u32);
            }
            let made_calls = self.candidates.get(&index).is_some_and(|n| *n > 0);
            let finish = c
                .finish_reason
                .as_deref()
                .map(|r| response::finish_reason(r, made_calls));
            if delta.is_empty() && finish.is_none() {
                continue;
            }
            chunks.push(self.chunk(vec![json!({
                "index": index,
                "delta": delta,
                "finish_reason": finish,
            })]));
        }
        Ok(chunks.into_iter().map(|c| c.to_string()).collect())
    }
}

impl Decoder {
    fn push_event(&self, ev: SseEvent) -> Result<StreamOutput, ParseError> {
        let data = ev.data.trim();
        let mut state = self.state.borrow_mut();
        if state.finished || data.is_empty() || data == "[DONE]" {
            return Ok(output(vec![], None, false));
        }
        Ok(output(state.event(data)?, None, false))
    }
}

impl Decoder {
    /// A decoder for one streamed answer to `input`.
    pub fn new(input: BuildInput) -> Self {
        let body: Value = serde_json::from_str(&input.body).unwrap_or(Value::Null);
        let include_usage = body
            .get("stream_options")
            .and_then(|o| o.get("include_usage"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        Decoder {
            state: RefCell::new(State {
                id: None,
                fallback_id: format!(
                    "chatcmpl-gemini-{:016x}",
                    util::fnv1a(input.body.as_bytes())
                ),
                model: input.target.model.clone(),
                created: adapter::created(&input.target),
                include_usage,
                candidates: BTreeMap::new(),
                usage: None,
                finished: false,
            }),
        }
    }
}

impl switchyard_sdk::typed::Decoder for Decoder {
    fn push(&self, input: StreamInput) -> Result<StreamOutput, ParseError> {
        self.push_event(sse_event(input, "gemini")?)
    }

    fn finish(&self) -> Result<StreamOutput, ParseError> {
        let mut state = self.state.borrow_mut();
        if state.finished {
            return Ok(output(vec![], None, true));
        }
        state.finished = true;
        let mut chunks = Vec::new();
        if state.include_usage
            && let Some(u) = &state.usage
        {
            let mut c = state.chunk(vec![]);
            c["usage"] = u.to_openai();
            chunks.push(c.to_string());
        }
        let usage = state.usage.as_ref().map(UsageMetadata::to_usage);
        Ok(output(chunks, usage, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::chat;
    use switchyard_sdk::provider::ErrorClass;
    use switchyard_sdk::typed::Decoder as _;
    use switchyard_sdk::types::PluginError;

    fn decoder(body: Value) -> Decoder {
        Decoder::new(chat(body))
    }

    fn ev(data: Value) -> StreamInput {
        StreamInput::Event(SseEvent {
            event: None,
            data: data.to_string(),
            id: None,
        })
    }

    fn chunks(out: &StreamOutput) -> Vec<Value> {
        out.chunks
            .iter()
            .map(|c| serde_json::from_str(c).unwrap())
            .collect()
    }

    #[test]
    fn text_stream() {
        let d = decoder(
            json!({"model": "m", "messages": [], "stream": true, "stream_options": {"include_usage": true}}),
        );
        let out = d
            .push(ev(json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}]}}],
                "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 1}, "modelVersion": "gemini-2.5-flash", "responseId": "r1"})))
            .unwrap();
        let c = chunks(&out);
        assert_eq!(c.len(), 2);
        assert_eq!(
            c[0]["choices"][0]["delta"],
            json!({"role": "assistant", "content": ""})
        );
        assert_eq!(c[0]["id"], "r1");
        assert_eq!(c[0]["model"], "gemini-2.5-flash");
        assert_eq!(c[0]["object"], "chat.completion.chunk");
        assert_eq!(c[1]["choices"][0]["delta"], json!({"content": "Hel"}));
        assert_eq!(c[1]["choices"][0]["finish_reason"], Value::Null);
        assert!(out.usage.is_none() && !out.done);
        let out = d
            .push(ev(json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "lo"}]}, "finishReason": "STOP"}],
                "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 2, "thoughtsTokenCount": 3, "cachedContentTokenCount": 1}, "responseId": "r1"})))
            .unwrap();
        let c = chunks(&out);
        assert_eq!(c.len(), 1);
        assert_eq!(
            c[0]["choices"][0],
            json!({"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"})
        );
        let out = d.finish().unwrap();
        assert!(out.done);
        let u = out.usage.as_ref().unwrap();
        assert_eq!(
            (
                u.input_tokens,
                u.output_tokens,
                u.cache_read_tokens,
                u.reasoning_tokens
            ),
            (4, 5, 1, 3)
        );
        let c = chunks(&out);
        assert_eq!(c[0]["choices"], json!([]));
        assert_eq!(c[0]["usage"]["total_tokens"], 9);
        assert_eq!(c[0]["id"], "r1");
        assert!(d.finish().unwrap().chunks.is_empty());
    }

    #[test]
    fn each_token_class_streamed() {
        // Usage is the last usageMetadata, reported when the body ends.
        for (meta, want) in [
            (
                json!({"promptTokenCount": 100, "candidatesTokenCount": 40}),
                (100, 40, 0, 0, 0),
            ),
            (
                json!({"promptTokenCount": 100, "candidatesTokenCount": 40, "cachedContentTokenCount": 64}),
                (100, 40, 64, 0, 0),
            ),
            (
                json!({"promptTokenCount": 100, "candidatesTokenCount": 40, "thoughtsTokenCount": 300}),
                (100, 340, 0, 0, 300),
            ),
            (
                json!({"promptTokenCount": 100, "candidatesTokenCount": 40, "toolUsePromptTokenCount": 12}),
                (112, 40, 0, 0, 0),
            ),
        ] {
            let d = decoder(json!({"model": "m", "messages": [], "stream": true}));
            let out = d
                .push(ev(
                    json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "a"}]}}],
                    "usageMetadata": {"promptTokenCount": 100, "candidatesTokenCount": 1}}),
                ))
                .unwrap();
            assert!(out.usage.is_none());
            d.push(ev(json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "b"}]}, "finishReason": "STOP"}],
                "usageMetadata": meta})))
                .unwrap();
            let out = d.finish().unwrap();
            // Not asked for: no usage chunk, but the usage for the books.
            assert!(out.chunks.is_empty());
            let u = out.usage.unwrap();
            assert_eq!(
                (
                    u.input_tokens,
                    u.output_tokens,
                    u.cache_read_tokens,
                    u.cache_write_tokens,
                    u.reasoning_tokens
                ),
                want,
                "{meta}"
            );
        }
    }

    #[test]
    fn function_calls_across_events() {
        let d = decoder(json!({"model": "m", "messages": [], "stream": true}));
        let out = d
            .push(ev(json!({"candidates": [{"content": {"parts": [
                {"functionCall": {"name": "a", "args": {"q": "x"}}},
                {"functionCall": {"name": "b", "args": {}}}
            ]}}]})))
            .unwrap();
        let c = chunks(&out);
        assert_eq!(
            c[1]["choices"][0]["delta"]["tool_calls"],
            json!([
                {"index": 0, "id": "call_0_0", "type": "function", "function": {"name": "a", "arguments": "{\"q\":\"x\"}"}},
                {"index": 1, "id": "call_0_1", "type": "function", "function": {"name": "b", "arguments": "{}"}}
            ])
        );
        assert!(c[1]["id"].as_str().unwrap().starts_with("chatcmpl-gemini-"));
        let out = d
            .push(ev(json!({"candidates": [{"content": {"parts": [{"functionCall": {"name": "c"}}]}, "finishReason": "STOP"}]})))
            .unwrap();
        let c = chunks(&out);
        assert_eq!(c[0]["choices"][0]["delta"]["tool_calls"][0]["index"], 2);
        assert_eq!(
            c[0]["choices"][0]["delta"]["tool_calls"][0]["id"],
            "call_0_2"
        );
        assert_eq!(c[0]["choices"][0]["finish_reason"], "tool_calls");
        // No usage was reported, no usage chunk.
        let out = d.finish().unwrap();
        assert!(out.usage.is_none() && out.chunks.is_empty() && out.done);
    }

    #[test]
    fn safety_finish_with_empty_parts() {
        let d = decoder(json!({"model": "m", "messages": []}));
        d.push(ev(
            json!({"candidates": [{"content": {"parts": [{"text": "Sure"}]}}]}),
        ))
        .unwrap();
        let out = d
            .push(ev(json!({"candidates": [{"content": {"parts": [{"text": ""}]}, "finishReason": "SAFETY", "safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "HIGH", "blocked": true}]}]})))
            .unwrap();
        let c = chunks(&out);
        assert_eq!(c, vec![c[0].clone()]);
        assert_eq!(
            c[0]["choices"][0],
            json!({"index": 0, "delta": {}, "finish_reason": "content_filter"})
        );
    }

    #[test]
    fn errors() {
        let d = decoder(json!({"model": "m", "messages": []}));
        d.push(ev(
            json!({"candidates": [{"content": {"parts": [{"text": "a"}]}}]}),
        ))
        .unwrap();
        let Err(ParseError::Provider(e)) = d.push(ev(json!({"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}))) else {
            panic!()
        };
        assert_eq!(
            (e.status, e.class, e.message.as_str()),
            (503, ErrorClass::ServerError, "The model is overloaded.")
        );
        let d = decoder(json!({"model": "m", "messages": []}));
        let Err(ParseError::Provider(e)) =
            d.push(ev(json!({"promptFeedback": {"blockReason": "SAFETY"}})))
        else {
            panic!()
        };
        assert_eq!(e.class, ErrorClass::ContentPolicy);
        assert!(matches!(
            d.push(StreamInput::Bytes(vec![1])),
            Err(ParseError::Plugin(PluginError::InvalidInput(_)))
        ));
        assert!(matches!(
            d.push(StreamInput::Event(SseEvent {
                event: None,
                data: "{nope".into(),
                id: None
            })),
            Err(ParseError::Plugin(PluginError::Internal(_)))
        ));
    }

    #[test]
    fn keepalives_and_several_candidates() {
        let d = decoder(json!({"model": "m", "messages": [], "n": 2}));
        let out = d
            .push(StreamInput::Event(SseEvent {
                event: None,
                data: " ".into(),
                id: None,
            }))
            .unwrap();
        assert!(out.chunks.is_empty());
        let out = d
            .push(ev(json!({"candidates": [
                {"content": {"parts": [{"text": "a"}]}},
                {"index": 1, "content": {"parts": [{"text": "b"}]}}
            ]})))
            .unwrap();
        let c = chunks(&out);
        let idx: Vec<_> = c.iter().map(|c| c["choices"][0]["index"].clone()).collect();
        assert_eq!(idx, [json!(0), json!(0), json!(1), json!(1)]);
        // Every chunk of a stream shares one id.
        assert!(c.iter().all(|x| x["id"] == c[0]["id"]));
    }
}
