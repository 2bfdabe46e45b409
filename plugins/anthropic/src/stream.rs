//! The stream decoder: the Messages API's server-sent events become
//! `chat.completion.chunk`s.
//!
//! | Anthropic event | chunks |
//! | --- | --- |
//! | `message_start` | one with `delta: {role: assistant, content: ""}`; the message's `id`, `model` and input usage are kept for what follows |
//! | `content_block_start`, `text` | none (one `content` delta if the block starts with text) |
//! | `content_block_start`, `tool_use` | one `tool_calls` delta: `index` (the turn's tool calls counted from 0), `id`, `type: function`, `function: {name, arguments: ""}` |
//! | `content_block_delta`, `text_delta` | one `content` delta |
//! | `content_block_delta`, `input_json_delta` | one `tool_calls` delta with the block's tool call `index` and `function.arguments` = the `partial_json` fragment (none for an empty fragment) |
//! | `content_block_delta`, `thinking_delta` / `signature_delta` | one `reasoning_content` delta / one `thinking_blocks` delta carrying the signature |
//! | `content_block_stop`, `ping`, other events | none |
//! | `message_delta` | one with the `finish_reason` for its `stop_reason`; its (cumulative) usage is kept |
//! | `message_stop` | none; the output is `done` and carries the usage |
//! | `error` | a provider error with the event's message, its class from the error type |
//!
//! Every chunk has the `id` and `model` of `message_start`, `object:
//! chat.completion.chunk`, `created` (`target.params.created` or 0) and one
//! choice with index 0. No usage-only chunk is emitted: the host adds it
//! when the client asked for `stream_options.include_usage`.

use std::cell::RefCell;

use serde_json::{Value, json};
use switchyard_sdk::adapter::{self, event_json, sse_event};
use switchyard_sdk::provider::{
    BuildInput, ParseError, ProviderError, SseEvent, StreamInput, StreamOutput,
};
use switchyard_sdk::types::Usage;

use crate::errors;
use crate::response::finish_reason;
use crate::usage::AnthropicUsage;

pub struct Decoder {
    state: RefCell<State>,
}

struct State {
    id: String,
    model: String,
    created: u64,
    usage: Option<AnthropicUsage>,
    /// (Anthropic content block index, OpenAI tool call index) of each
    /// `tool_use` block so far.
    tools: Vec<(u64, u32)>,
    done: bool,
}

fn output(chunks: Vec<String>, usage: Option<Usage>, done: bool) -> StreamOutput {
    StreamOutput {
        chunks,
        usage,
        done,
    }
}

fn str_at<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

impl State {
    fn chunk(&self, delta: Value, finish: Option<&str>) -> String {
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": null}],
        })
        .to_string()
    }

    fn tool_index(&self, block: u64) -> Option<u32> {
        self.tools
            .iter()
            .find(|(b, _)| *b == block)
            .map(|(_, i)| *i)
    }

    fn usage(&self) -> Option<Usage> {
        self.usage.as_ref().map(AnthropicUsage::to_wit)
    }

    fn event(&mut self, kind: &str, v: &Value) -> Result<StreamOutput, ParseError> {
        let mut chunks = Vec::new();
        match kind {
            "message_start" => {
                let m = v.get("message").unwrap_or(&Value::Null);
                if let Some(id) = m.get("id").and_then(Value::as_str) {
                    self.id = id.to_string();
                }
                if let Some(model) = m.get("model").and_then(Value::as_str) {
                    self.model = model.to_string();
                }
                if let Some(u) = AnthropicUsage::from_value(m.get("usage")) {
                    self.usage = Some(u);
                }
                chunks.push(self.chunk(json!({"role": "assistant", "content": ""}), None));
            }
            "content_block_start" => {
                let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
                let block = v.get("content_block").unwrap_or(&Value::Null);
                match str_at(block, "type") {
                    "text" => {
                        let text = str_at(block, "text");
                        if !text.is_empty() {
                            chunks.push(self.chunk(json!({"content": text}), None));
                        }
                    }
                    "thinking" => {
                        let text = str_at(block, "thinking");
                        if !text.is_empty() {
                            chunks.push(self.chunk(json!({"reasoning_content": text}), None));
                        }
                    }
                    "tool_use" => {
                        let call = u32::try_from(self.tools.len()).unwrap_or(u32::MAX);
                        self.tools.push((index, call));
                        chunks.push(self.chunk(
                            json!({"tool_calls": [{
                                "index": call,
                                "id": str_at(block, "id"),
                                "type": "function",
                                "function": {"name": str_at(block, "name"), "arguments": ""},
                            }]}),
                            None,
                        ));
                    }
                    _ => {}
                }
            }
            "content_block_delta" => {
                let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
                let delta = v.get("delta").unwrap_or(&Value::Null);
                match str_at(delta, "type") {
                    "text_delta" => {
                        let text = str_at(delta, "text");
                        if !text.is_empty() {
                            chunks.push(self.chunk(json!({"content": text}), None));
                        }
                    }
                    "input_json_delta" => {
                        let fragment = str_at(delta, "partial_json");
                        if let Some(call) = self.tool_index(index).filter(|_| !fragment.is_empty())
                        {
                            chunks.push(self.chunk(
                                json!({"tool_calls": [{"index": call, "function": {"arguments": fragment}}]}),
                                None,
                            ));
                        }
                    }
                    "thinking_delta" => {
                        let text = str_at(delta, "thinking");
                        if !text.is_empty() {
                            chunks.push(self.chunk(json!({"reasoning_content": text}), None));
                        }
                    }
                    "signature_delta" => {
                        let signature = str_at(delta, "signature");
                        chunks.push(self.chunk(
                            json!({"thinking_blocks": [{"type": "thinking", "thinking": "", "signature": signature}]}),
                            None,
                        ));
                    }
                    _ => {}
                }
            }
            "message_delta" => {
                if let Some(u) = AnthropicUsage::from_value(v.get("usage")) {
                    match &mut self.usage {
                        Some(mine) => mine.update(u),
                        None => self.usage = Some(u),
                    }
                }
                let stop = v
                    .get("delta")
                    .and_then(|d| d.get("stop_reason"))
                    .and_then(Value::as_str);
                if let Some(stop) = stop {
                    chunks.push(self.chunk(json!({}), Some(finish_reason(stop))));
                }
            }
            "message_stop" => {
                self.done = true;
                return Ok(output(chunks, self.usage(), true));
            }
            // content_block_stop, ping, and events added after this adapter.
            _ => {}
        }
        Ok(output(chunks, None, false))
    }
}

/// The provider error an `error` event stands for.
fn stream_error(v: &Value) -> ProviderError {
    errors::from_embedded(v).unwrap_or_else(|| {
        errors::from_embedded(&json!({"type": "error", "error": v}))
            .unwrap_or_else(|| errors::from_response(500, v.to_string().as_bytes()))
    })
}

impl Decoder {
    fn sse(&self, ev: SseEvent) -> Result<StreamOutput, ParseError> {
        let mut state = self.state.borrow_mut();
        let data = ev.data.trim();
        if state.done || data.is_empty() {
            return Ok(output(vec![], None, state.done));
        }
        if data == "[DONE]" {
            state.done = true;
            return Ok(output(vec![], state.usage(), true));
        }
        let value = event_json(data)?;
        let kind = value
            .get("type")
            .and_then(Value::as_str)
            .or(ev.event.as_deref())
            .unwrap_or("");
        if kind == "error" || ev.event.as_deref() == Some("error") {
            return Err(ParseError::Provider(stream_error(&value)));
        }
        let kind = kind.to_string();
        state.event(&kind, &value)
    }
}

impl Decoder {
    /// A decoder for one streamed answer to `input`.
    pub fn new(input: BuildInput) -> Self {
        Decoder {
            state: RefCell::new(State {
                id: String::new(),
                model: input.target.model.clone(),
                created: adapter::created(&input.target),
                usage: None,
                tools: Vec::new(),
                done: false,
            }),
        }
    }
}

impl switchyard_sdk::typed::Decoder for Decoder {
    fn push(&self, input: StreamInput) -> Result<StreamOutput, ParseError> {
        self.sse(sse_event(input, "anthropic")?)
    }

    /// The stream's body ended. Usage went out with `message_stop`; a stream
    /// cut short reports what it had.
    fn finish(&self) -> Result<StreamOutput, ParseError> {
        let state = self.state.borrow();
        let usage = if state.done { None } else { state.usage() };
        Ok(output(vec![], usage, state.done))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::chat_input;
    use switchyard_sdk::provider::ErrorClass;
    use switchyard_sdk::typed::Decoder as _;
    use switchyard_sdk::types::PluginError;

    fn decoder() -> Decoder {
        Decoder::new(chat_input(
            json!({"model": "m", "messages": [], "stream": true}),
        ))
    }

    fn ev(event: &str, data: Value) -> StreamInput {
        StreamInput::Event(SseEvent {
            event: Some(event.to_string()),
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

    fn start() -> StreamInput {
        ev(
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_s", "type": "message", "role": "assistant",
                   "content": [], "model": "claude-x", "stop_reason": null, "stop_sequence": null,
                   "usage": {"input_tokens": 25, "output_tokens": 1, "cache_read_input_tokens": 5}}}),
        )
    }

    #[test]
    fn text_stream() {
        let d = decoder();
        let out = d.push(start()).unwrap();
        assert_eq!(
            chunks(&out),
            vec![
                json!({"id": "msg_s", "object": "chat.completion.chunk", "created": 0, "model": "claude-x",
                        "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null, "logprobs": null}]})
            ]
        );
        assert!(d
            .push(ev("content_block_start", json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})))
            .unwrap()
            .chunks
            .is_empty());
        assert!(
            d.push(ev("ping", json!({"type": "ping"})))
                .unwrap()
                .chunks
                .is_empty()
        );
        let out = d
            .push(ev("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}})))
            .unwrap();
        assert_eq!(
            chunks(&out)[0]["choices"][0]["delta"],
            json!({"content": "Hi"})
        );
        assert!(
            d.push(ev(
                "content_block_stop",
                json!({"type": "content_block_stop", "index": 0})
            ))
            .unwrap()
            .chunks
            .is_empty()
        );
        let out = d
            .push(ev("message_delta", json!({"type": "message_delta", "delta": {"stop_reason": "max_tokens", "stop_sequence": null}, "usage": {"output_tokens": 9}})))
            .unwrap();
        assert_eq!(chunks(&out)[0]["choices"][0]["finish_reason"], "length");
        assert!(out.usage.is_none() && !out.done);
        let out = d
            .push(ev("message_stop", json!({"type": "message_stop"})))
            .unwrap();
        assert!(out.done && out.chunks.is_empty());
        let u = out.usage.unwrap();
        assert_eq!(
            (u.input_tokens, u.output_tokens, u.cache_read_tokens),
            (30, 9, 5)
        );
        let fin = d.finish().unwrap();
        assert!(fin.done && fin.usage.is_none());
        assert!(d.push(start()).unwrap().chunks.is_empty());
    }

    #[test]
    fn tool_calls_get_running_indices() {
        let d = decoder();
        d.push(start()).unwrap();
        d.push(ev("content_block_start", json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}))).unwrap();
        let out = d
            .push(ev("content_block_start", json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}})))
            .unwrap();
        assert_eq!(
            chunks(&out)[0]["choices"][0]["delta"],
            json!({"tool_calls": [{"index": 0, "id": "toolu_1", "type": "function", "function": {"name": "f", "arguments": ""}}]})
        );
        assert!(d
            .push(ev("content_block_delta", json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": ""}})))
            .unwrap()
            .chunks
            .is_empty());
        let out = d
            .push(ev("content_block_delta", json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"a\":"}})))
            .unwrap();
        assert_eq!(
            chunks(&out)[0]["choices"][0]["delta"],
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"a\":"}}]})
        );
        let out = d
            .push(ev("content_block_start", json!({"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "toolu_2", "name": "g", "input": {}}})))
            .unwrap();
        assert_eq!(
            chunks(&out)[0]["choices"][0]["delta"]["tool_calls"][0]["index"],
            1
        );
        let out = d
            .push(ev("content_block_delta", json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "{}"}})))
            .unwrap();
        assert_eq!(
            chunks(&out)[0]["choices"][0]["delta"]["tool_calls"][0]["index"],
            1
        );
        // A delta for a block that is not a tool call is ignored.
        assert!(d
            .push(ev("content_block_delta", json!({"type": "content_block_delta", "index": 7, "delta": {"type": "input_json_delta", "partial_json": "{}"}})))
            .unwrap()
            .chunks
            .is_empty());
    }

    #[test]
    fn thinking_deltas() {
        let d = decoder();
        d.push(start()).unwrap();
        d.push(ev("content_block_start", json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}}))).unwrap();
        let out = d
            .push(ev("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Hmm."}})))
            .unwrap();
        assert_eq!(
            chunks(&out)[0]["choices"][0]["delta"],
            json!({"reasoning_content": "Hmm."})
        );
        let out = d
            .push(ev("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "sig"}})))
            .unwrap();
        assert_eq!(
            chunks(&out)[0]["choices"][0]["delta"]["thinking_blocks"][0]["signature"],
            "sig"
        );
    }

    #[test]
    fn error_event() {
        let d = decoder();
        d.push(start()).unwrap();
        let Err(ParseError::Provider(e)) = d.push(ev(
            "error",
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        )) else {
            panic!()
        };
        assert_eq!(
            (e.status, e.class, e.message.as_str(), e.code.as_deref()),
            (
                529,
                ErrorClass::ServerError,
                "Overloaded",
                Some("overloaded_error")
            )
        );
        let Err(ParseError::Provider(e)) = decoder().push(StreamInput::Event(SseEvent {
            event: Some("error".into()),
            data: r#"{"type":"rate_limit_error","message":"slow down"}"#.into(),
            id: None,
        })) else {
            panic!()
        };
        assert_eq!(
            (e.status, e.class, e.message.as_str()),
            (429, ErrorClass::RateLimit, "slow down")
        );
    }

    /// (input, output, cache read, cache write, reasoning) of a stream with
    /// these `message_start` and `message_delta` usages.
    fn streamed_usage(start: Value, delta: Value) -> (u64, u64, u64, u64, u64) {
        let d = decoder();
        d.push(ev(
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg", "model": "claude-x", "usage": start}}),
        ))
        .unwrap();
        d.push(ev(
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": delta}),
        ))
        .unwrap();
        let u = d
            .push(ev("message_stop", json!({"type": "message_stop"})))
            .unwrap()
            .usage
            .unwrap();
        (
            u.input_tokens,
            u.output_tokens,
            u.cache_read_tokens,
            u.cache_write_tokens,
            u.reasoning_tokens,
        )
    }

    #[test]
    fn each_token_class_streamed() {
        // Input and output: output from message_delta (cumulative).
        assert_eq!(
            streamed_usage(
                json!({"input_tokens": 25, "output_tokens": 1}),
                json!({"output_tokens": 40})
            ),
            (25, 40, 0, 0, 0)
        );
        // Cache reads, reported in message_start, count as input too.
        assert_eq!(
            streamed_usage(
                json!({"input_tokens": 25, "output_tokens": 1, "cache_read_input_tokens": 1000}),
                json!({"output_tokens": 40})
            ),
            (1025, 40, 1000, 0, 0)
        );
        // Cache writes likewise.
        assert_eq!(
            streamed_usage(
                json!({"input_tokens": 25, "output_tokens": 1, "cache_creation_input_tokens": 300}),
                json!({"output_tokens": 40})
            ),
            (325, 40, 0, 300, 0)
        );
        // A message_delta that repeats the input counts (the API's newer
        // cumulative form) replaces them; one that gives only output keeps
        // them.
        assert_eq!(
            streamed_usage(
                json!({"input_tokens": 25, "output_tokens": 1, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}),
                json!({"input_tokens": 30, "output_tokens": 40, "cache_read_input_tokens": 500, "cache_creation_input_tokens": 200})
            ),
            (730, 40, 500, 200, 0)
        );
        // Thinking is output; Anthropic does not count it apart.
        assert_eq!(
            streamed_usage(
                json!({"input_tokens": 25, "output_tokens": 1}),
                json!({"output_tokens": 900})
            ),
            (25, 900, 0, 0, 0)
        );
    }

    #[test]
    fn cut_short_and_bad_input() {
        let d = decoder();
        d.push(start()).unwrap();
        let fin = d.finish().unwrap();
        assert!(!fin.done);
        assert_eq!(fin.usage.unwrap().input_tokens, 30);
        assert!(
            d.push(StreamInput::Event(SseEvent {
                event: None,
                data: " ".into(),
                id: None
            }))
            .unwrap()
            .chunks
            .is_empty()
        );
        assert!(matches!(
            d.push(StreamInput::Bytes(b"x".to_vec())),
            Err(ParseError::Plugin(PluginError::InvalidInput(_)))
        ));
        assert!(matches!(
            d.push(StreamInput::Event(SseEvent { event: None, data: "{nope".into(), id: None })),
            Err(ParseError::Plugin(PluginError::Internal(m))) if m.contains("not JSON")
        ));
        let out = d.push(ev("surprise", json!({"type": "surprise"}))).unwrap();
        assert!(out.chunks.is_empty() && !out.done);
    }
}
