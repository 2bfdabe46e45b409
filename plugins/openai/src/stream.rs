//! The stream decoder: every SSE event's data is already an OpenAI chunk, so
//! it passes through as is, after one pass that checks its shape and reads
//! `usage`.

use std::cell::Cell;

use serde::Deserialize;
use serde::de::IgnoredAny;
use switchyard_sdk::adapter::{StreamEvent, bad_answer, event_json, snippet, stream_event};
use switchyard_sdk::openai::ChatChunk;
use switchyard_sdk::prelude::Decoder;
use switchyard_sdk::provider::{ParseError, SseEvent, StreamInput, StreamOutput};
use switchyard_sdk::types::Usage;

use crate::errors;
use crate::shape::{Each, Text, is_object};
use crate::usage::Wire;

/// One stream's decoder: whether `[DONE]` was seen.
#[derive(Default)]
pub struct Chunks {
    done: Cell<bool>,
}

fn output(chunks: Vec<String>, usage: Option<Usage>, done: bool) -> StreamOutput {
    StreamOutput {
        chunks,
        usage,
        done,
    }
}

impl Decoder for Chunks {
    fn push(&self, input: StreamInput) -> Result<StreamOutput, ParseError> {
        let ev = match stream_event(input, "openai")? {
            // Anything after [DONE] is ignored.
            _ if self.done.get() => return Ok(output(vec![], None, true)),
            StreamEvent::KeepAlive => return Ok(output(vec![], None, false)),
            StreamEvent::Done => {
                self.done.set(true);
                return Ok(output(vec![], None, true));
            }
            StreamEvent::Data(ev) => ev,
        };
        let usage = match chunk_usage(&ev, &ev.data) {
            Some(usage) => usage,
            None => checked_usage(&ev, &ev.data)?,
        };
        Ok(output(vec![ev.data], usage, false))
    }

    fn finish(&self) -> Result<StreamOutput, ParseError> {
        Ok(output(vec![], None, self.done.get()))
    }
}

/// The usage of an event that is a well-formed chunk, read in one pass that
/// allocates nothing but the usage's unnamed fields; `None` for any other
/// event (an error, the wrong shape, not JSON), which [`checked_usage`] then
/// explains.
fn chunk_usage(ev: &SseEvent, data: &str) -> Option<Option<Usage>> {
    if ev.event.as_deref() == Some("error") || !is_object(data) {
        return None;
    }
    let head: ChunkHead = serde_json::from_str(data).ok()?;
    if head.error.is_some() {
        return None;
    }
    let usage = head.usage.or(head.x_groq.and_then(|g| g.usage));
    Some(usage.as_ref().map(Wire::convert))
}

/// What [`chunk_usage`] checks of a `chat.completion.chunk`: the fields
/// [`ChatChunk`] requires, with its types, and each choice's index and
/// delta. What a delta says is not looked into.
#[derive(Deserialize)]
#[expect(dead_code, reason = "read only to check their types")]
struct ChunkHead {
    id: Text,
    #[serde(default)]
    object: Text,
    created: u64,
    model: Text,
    choices: Each<ChunkChoiceHead>,
    usage: Option<Wire>,
    x_groq: Option<GroqHead>,
    /// Not null: an error event, for [`checked_usage`].
    error: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[expect(dead_code, reason = "read only to check their types")]
struct ChunkChoiceHead {
    index: u32,
    delta: IgnoredObject,
    finish_reason: Option<Text>,
}

/// Any JSON object.
#[derive(Deserialize)]
struct IgnoredObject {}

/// Groq reports a stream's usage in `x_groq.usage` on the last chunk.
#[derive(Deserialize)]
struct GroqHead {
    usage: Option<Wire>,
}

/// The usage of an event that is not plainly a chunk, or the error it is.
fn checked_usage(ev: &SseEvent, data: &str) -> Result<Option<Usage>, ParseError> {
    let value = event_json(data)?;
    if let Some(err) = errors::from_embedded(&value) {
        return Err(ParseError::Provider(err));
    }
    if ev.event.as_deref() == Some("error") {
        return Err(ParseError::Provider(errors::from_response(
            500,
            data.as_bytes(),
        )));
    }
    let chunk = ChatChunk::deserialize(&value).map_err(|e| {
        bad_answer(format!(
            "stream event is not a chat.completion.chunk ({e}): {}",
            snippet(data)
        ))
    })?;
    Ok(chunk
        .usage
        .as_ref()
        .map(crate::usage::convert)
        .or_else(|| groq_usage(&chunk)))
}

/// `x_groq.usage`, for [`checked_usage`].
fn groq_usage(chunk: &ChatChunk) -> Option<Usage> {
    let u = chunk.rest.get("x_groq")?.get("usage")?;
    switchyard_sdk::openai::Usage::deserialize(u)
        .ok()
        .as_ref()
        .map(crate::usage::convert)
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_sdk::provider::ErrorClass;
    use switchyard_sdk::types::PluginError;

    fn decoder() -> Chunks {
        Chunks::default()
    }

    fn ev(data: &str) -> StreamInput {
        StreamInput::Event(SseEvent {
            event: None,
            data: data.to_string(),
            id: None,
        })
    }

    #[test]
    fn chunks_pass_through_and_usage_and_done() {
        let d = decoder();
        let c1 = r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}"#;
        let out = d.push(ev(c1)).unwrap();
        assert_eq!(out.chunks, vec![c1.to_string()]);
        assert!(out.usage.is_none() && !out.done);
        let c2 = r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7,"prompt_tokens_details":{"cached_tokens":1},"completion_tokens_details":{"reasoning_tokens":1}}}"#;
        let out = d.push(ev(c2)).unwrap();
        let u = out.usage.unwrap();
        assert_eq!(
            (
                u.input_tokens,
                u.output_tokens,
                u.cache_read_tokens,
                u.reasoning_tokens
            ),
            (5, 2, 1, 1)
        );
        let out = d.push(ev("[DONE]")).unwrap();
        assert!(out.chunks.is_empty() && out.done);
        assert!(d.push(ev(c1)).unwrap().chunks.is_empty());
        assert!(d.finish().unwrap().done);
    }

    #[test]
    fn each_token_class_streamed() {
        // (usage, (input, output, cache read, cache write, reasoning)).
        for (usage, want) in [
            (
                r#"{"prompt_tokens":100,"completion_tokens":40,"total_tokens":140,"prompt_tokens_details":{"cached_tokens":64}}"#,
                (100, 40, 64, 0, 0),
            ),
            (
                r#"{"prompt_tokens":100,"completion_tokens":40,"total_tokens":140,"prompt_tokens_details":{"cache_creation_tokens":30}}"#,
                (100, 40, 0, 30, 0),
            ),
            (
                r#"{"prompt_tokens":100,"completion_tokens":40,"total_tokens":140,"completion_tokens_details":{"reasoning_tokens":25}}"#,
                (100, 40, 0, 0, 25),
            ),
            (
                r#"{"prompt_tokens":50,"completion_tokens":5,"total_tokens":55,"prompt_cache_hit_tokens":30}"#,
                (50, 5, 30, 0, 0),
            ),
            (
                r#"{"prompt_tokens":32,"completion_tokens":9,"total_tokens":135,"completion_tokens_details":{"reasoning_tokens":94}}"#,
                (32, 103, 0, 0, 94),
            ),
        ] {
            // The usage-only chunk OpenAI sends last, and Groq's x_groq.
            for chunk in [
                format!(
                    r#"{{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{usage}}}"#
                ),
                format!(
                    r#"{{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{{"index":0,"delta":{{}},"finish_reason":"stop"}}],"x_groq":{{"id":"r","usage":{usage}}}}}"#
                ),
            ] {
                let u = decoder().push(ev(&chunk)).unwrap().usage.unwrap();
                assert_eq!(
                    (
                        u.input_tokens,
                        u.output_tokens,
                        u.cache_read_tokens,
                        u.cache_write_tokens,
                        u.reasoning_tokens
                    ),
                    want,
                    "{chunk}"
                );
            }
        }
    }

    #[test]
    fn finish_without_done() {
        let d = decoder();
        assert!(!d.finish().unwrap().done);
        assert!(d.push(ev("")).unwrap().chunks.is_empty());
    }

    #[test]
    fn groq_usage_is_read() {
        let d = decoder();
        let c = r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"x_groq":{"id":"r","usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}}}"#;
        assert_eq!(d.push(ev(c)).unwrap().usage.unwrap().input_tokens, 9);
    }

    #[test]
    fn error_events() {
        let d = decoder();
        let Err(ParseError::Provider(e)) = d.push(ev(
            r#"{"error":{"message":"overloaded","type":"server_error"}}"#,
        )) else {
            panic!()
        };
        assert_eq!(
            (e.status, e.class, e.message.as_str()),
            (500, ErrorClass::ServerError, "overloaded")
        );
        let Err(ParseError::Provider(e)) = d.push(StreamInput::Event(SseEvent {
            event: Some("error".into()),
            data: r#"{"message":"bad"}"#.into(),
            id: None,
        })) else {
            panic!()
        };
        assert_eq!(e.message, "bad");
    }

    #[test]
    fn bad_input() {
        let d = decoder();
        assert!(matches!(
            d.push(StreamInput::Bytes(b"x".to_vec())),
            Err(ParseError::Plugin(PluginError::InvalidInput(_)))
        ));
        assert!(matches!(
            d.push(ev("{nope")),
            Err(ParseError::Plugin(PluginError::Internal(_)))
        ));
        assert!(
            matches!(d.push(ev(r#"{"foo":1}"#)), Err(ParseError::Plugin(PluginError::Internal(m))) if m.contains("chunk"))
        );
    }

    /// Every chunk here takes the one pass, which reads what the full check
    /// reads; errors and anything else are left to the full check.
    #[test]
    fn one_pass_agrees_with_the_full_check() {
        let plain = |data: &str| SseEvent {
            event: None,
            data: data.to_string(),
            id: None,
        };
        for data in [
            r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}"#,
            r#"{"id":"c","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":1}}}"#,
            r#"{"id":"c","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"x_groq":{"id":"r","usage":{"prompt_tokens":9}}}"#,
            r#"{"id":"c","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":5},"x_groq":{"usage":{"prompt_tokens":9}}}"#,
            r#"{"id":"c","created":1,"model":"m","choices":[],"usage":null,"x_groq":null,"error":null}"#,
        ] {
            let ev = plain(data);
            assert_eq!(
                chunk_usage(&ev, data),
                Some(checked_usage(&ev, data).unwrap()),
                "{data}"
            );
        }
        for data in [
            "not json",
            r#"{"error":{"message":"overloaded"}}"#,
            r#"{"id":"c","created":1,"model":"m","choices":[],"error":{"message":"x"}}"#,
            r#"{"id":"c","created":1,"model":"m","choices":[],"x_groq":{"usage":{"prompt_tokens":-1}}}"#,
            r#"{"foo":1}"#,
        ] {
            assert_eq!(chunk_usage(&plain(data), data), None, "{data}");
        }
        let data = r#"{"id":"c","created":1,"model":"m","choices":[]}"#;
        let ev = SseEvent {
            event: Some("error".into()),
            ..plain(data)
        };
        assert_eq!(chunk_usage(&ev, data), None);
    }
}
