//! Reading a provider's answer: its JSON, its stream events, the `created`
//! time the host passes in, and the errors for an answer the adapter cannot
//! read.
//!
//! ```
//! use switchyard_sdk::adapter::answer::{body_json, snippet};
//! assert_eq!(body_json(200, br#"{"usage":null}"#).unwrap()["usage"], serde_json::Value::Null);
//! assert_eq!(snippet("short"), "short");
//! ```

use serde_json::Value;

use crate::field;
use crate::provider::{ParseError, SseEvent, StreamInput, Target};
use crate::types::PluginError;

/// How many characters of a body [`snippet`] keeps: enough to recognise an
/// HTML error page or a truncated JSON, short enough for a log line.
///
/// ```
/// use switchyard_sdk::adapter::{SNIPPET_CHARS, snippet};
/// let long = "x".repeat(SNIPPET_CHARS + 1);
/// assert_eq!(snippet(&long).chars().count(), SNIPPET_CHARS + 3);
/// ```
pub const SNIPPET_CHARS: usize = 200;

/// The start of `text` (at most [`SNIPPET_CHARS`] characters, then `...`),
/// to quote an unreadable body in an error message.
///
/// ```
/// use switchyard_sdk::adapter::snippet;
/// assert_eq!(snippet("<html>Bad Gateway</html>"), "<html>Bad Gateway</html>");
/// assert_eq!(snippet(&"é".repeat(300)), format!("{}...", "é".repeat(200)));
/// ```
pub fn snippet(text: &str) -> String {
    match text.char_indices().nth(SNIPPET_CHARS) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

/// The error for an answer the adapter cannot read (a garbled 2xx body, an
/// event that is not what the provider documents). The host reports it as
/// a bad gateway and blames the deployment, not the request.
///
/// ```
/// use switchyard_sdk::adapter::bad_answer;
/// use switchyard_sdk::provider::ParseError;
/// use switchyard_sdk::types::PluginError;
/// assert_eq!(
///     bad_answer("no candidates"),
///     ParseError::Plugin(PluginError::Internal("no candidates".into()))
/// );
/// ```
pub fn bad_answer(message: impl Into<String>) -> ParseError {
    ParseError::Plugin(PluginError::Internal(message.into()))
}

/// The JSON of an HTTP answer's body, or a [`bad_answer`] that quotes the
/// start of the body.
///
/// ```
/// use switchyard_sdk::adapter::body_json;
/// assert_eq!(body_json(200, br#"{"id":"x"}"#).unwrap()["id"], "x");
/// assert!(body_json(502, b"<html>Bad Gateway</html>").is_err());
/// ```
pub fn body_json(status: u16, body: &[u8]) -> Result<Value, ParseError> {
    serde_json::from_slice(body).map_err(|e| {
        bad_answer(format!(
            "HTTP {status} body is not valid JSON ({e}): {}",
            snippet(&String::from_utf8_lossy(body))
        ))
    })
}

/// The JSON of one stream event's data, or a [`bad_answer`] that quotes it.
///
/// ```
/// use switchyard_sdk::adapter::event_json;
/// assert_eq!(event_json(r#"{"type":"ping"}"#).unwrap()["type"], "ping");
/// assert!(event_json("{truncated").is_err());
/// ```
pub fn event_json(data: &str) -> Result<Value, ParseError> {
    serde_json::from_str(data)
        .map_err(|e| bad_answer(format!("stream event is not JSON ({e}): {}", snippet(data))))
}

/// The server-sent event a stream decoder was given. Adapters that ask the
/// host for SSE framing (`framing::sse`) get events; raw bytes mean the host
/// and the adapter disagree, which is the caller's error, not the provider's.
///
/// ```
/// use switchyard_sdk::adapter::sse_event;
/// use switchyard_sdk::provider::{SseEvent, StreamInput};
/// let ev = SseEvent { event: Some("ping".into()), data: "{}".into(), id: None };
/// assert_eq!(sse_event(StreamInput::Event(ev.clone()), "anthropic").unwrap(), ev);
/// assert!(sse_event(StreamInput::Bytes(b"{}".to_vec()), "anthropic").is_err());
/// ```
pub fn sse_event(input: StreamInput, adapter: &str) -> Result<SseEvent, ParseError> {
    match input {
        StreamInput::Event(event) => Ok(event),
        StreamInput::Bytes(_) => Err(ParseError::Plugin(PluginError::InvalidInput(format!(
            "the {adapter} adapter reads server-sent events (framing sse), not raw bytes"
        )))),
    }
}

/// One event of a server-sent stream, sorted the way every adapter sorts
/// them before reading one: nothing to read, the end, or data.
///
/// ```
/// use switchyard_sdk::adapter::{StreamEvent, stream_event};
/// use switchyard_sdk::provider::{SseEvent, StreamInput};
/// let input = StreamInput::Event(SseEvent { event: None, data: "[DONE]".into(), id: None });
/// let done = match stream_event(input, "openai").unwrap() {
///     StreamEvent::KeepAlive => false,
///     StreamEvent::Done => true,
///     StreamEvent::Data(ev) => ev.data.contains("finish_reason"),
/// };
/// assert!(done);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// An event whose data is blank (a keep-alive, or only `event:` or
    /// `id:` lines): nothing to decode, and not the end.
    KeepAlive,
    /// `data: [DONE]`, how OpenAI and the servers that copy it end a
    /// stream. Whether it ends the stream is the adapter's call (a
    /// provider that ends otherwise may just skip it).
    Done,
    /// An event with data, the data trimmed of surrounding white space.
    Data(SseEvent),
}

/// The [`sse_event`] a decoder was given, sorted into a [`StreamEvent`], so
/// that every decoder treats keep-alives and `[DONE]` alike.
///
/// ```
/// use switchyard_sdk::adapter::{StreamEvent, stream_event};
/// use switchyard_sdk::provider::{SseEvent, StreamInput};
///
/// let ev = |data: &str| StreamInput::Event(SseEvent { event: None, data: data.into(), id: None });
/// assert_eq!(stream_event(ev(" "), "openai").unwrap(), StreamEvent::KeepAlive);
/// assert_eq!(stream_event(ev("[DONE]"), "openai").unwrap(), StreamEvent::Done);
/// let StreamEvent::Data(e) = stream_event(ev(" {\"id\":\"c\"}\n"), "openai").unwrap() else {
///     panic!("data");
/// };
/// assert_eq!(e.data, r#"{"id":"c"}"#);
/// assert!(stream_event(StreamInput::Bytes(vec![]), "openai").is_err());
/// ```
pub fn stream_event(input: StreamInput, adapter: &str) -> Result<StreamEvent, ParseError> {
    let mut ev = sse_event(input, adapter)?;
    let data = ev.data.trim();
    if data.is_empty() {
        return Ok(StreamEvent::KeepAlive);
    }
    if data == "[DONE]" {
        return Ok(StreamEvent::Done);
    }
    if data.len() != ev.data.len() {
        ev.data = data.to_string();
    }
    Ok(StreamEvent::Data(ev))
}

/// The `created` time (Unix seconds) for answers and chunks. Plugins have no
/// clock, so the host passes the time in the target's params as `created`;
/// without it (a native test, an older host) this is 0.
///
/// ```
/// use switchyard_sdk::adapter::created;
/// use switchyard_sdk::testing::target;
/// use switchyard_sdk::types::Field;
/// let mut t = target("mock", "m");
/// assert_eq!(created(&t), 0);
/// t.params = vec![Field { key: "created".into(), value: "1750000000".into() }];
/// assert_eq!(created(&t), 1_750_000_000);
/// ```
pub fn created(target: &Target) -> u64 {
    field::<u64>(&target.params, "created").unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::target;
    use crate::types::Field;

    fn plugin_message(e: ParseError) -> String {
        match e {
            ParseError::Plugin(PluginError::Internal(m) | PluginError::InvalidInput(m)) => m,
            other => panic!("not a plugin error: {other:?}"),
        }
    }

    #[test]
    fn snippet_keeps_200_characters_and_marks_the_cut() {
        assert_eq!(snippet("short"), "short");
        assert_eq!(snippet(&"x".repeat(200)), "x".repeat(200));
        let cut = snippet(&"é".repeat(250));
        assert_eq!(cut.chars().count(), 203);
        assert_eq!(cut, format!("{}...", "é".repeat(200)));
    }

    #[test]
    fn body_json_reads_json_and_quotes_what_is_not() {
        assert_eq!(body_json(200, br#"{"a":1}"#).unwrap()["a"], 1);
        let m = plugin_message(body_json(502, b"<html>oops</html>").unwrap_err());
        assert_eq!(
            m,
            "HTTP 502 body is not valid JSON (expected value at line 1 column 1): <html>oops</html>"
        );
        let long = format!("!{}", "y".repeat(300));
        let m = plugin_message(body_json(200, long.as_bytes()).unwrap_err());
        assert!(m.ends_with(&format!("): !{}...", "y".repeat(199))), "{m}");
    }

    #[test]
    fn event_json_reads_json_and_quotes_what_is_not() {
        assert_eq!(event_json(r#"{"b":"c"}"#).unwrap()["b"], "c");
        let m = plugin_message(event_json("{nope").unwrap_err());
        assert_eq!(
            m,
            "stream event is not JSON (key must be a string at line 1 column 2): {nope"
        );
    }

    #[test]
    fn bad_answer_is_an_internal_plugin_error() {
        assert_eq!(
            bad_answer("garbled"),
            ParseError::Plugin(PluginError::Internal("garbled".to_string()))
        );
    }

    #[test]
    fn sse_event_passes_events_and_refuses_bytes() {
        let ev = SseEvent {
            event: Some("message".into()),
            data: "{}".into(),
            id: None,
        };
        assert_eq!(sse_event(StreamInput::Event(ev.clone()), "x").unwrap(), ev);
        assert_eq!(
            sse_event(StreamInput::Bytes(vec![1]), "gemini").unwrap_err(),
            ParseError::Plugin(PluginError::InvalidInput(
                "the gemini adapter reads server-sent events (framing sse), not raw bytes"
                    .to_string()
            ))
        );
    }

    #[test]
    fn stream_event_sorts_keep_alives_done_and_data() {
        let ev = |event: Option<&str>, data: &str| {
            StreamInput::Event(SseEvent {
                event: event.map(str::to_string),
                data: data.into(),
                id: Some("7".into()),
            })
        };
        for blank in ["", " ", "\n\n"] {
            assert_eq!(
                stream_event(ev(None, blank), "x"),
                Ok(StreamEvent::KeepAlive)
            );
        }
        assert_eq!(
            stream_event(ev(Some("ping"), ""), "x"),
            Ok(StreamEvent::KeepAlive)
        );
        assert_eq!(
            stream_event(ev(None, " [DONE]\n"), "x"),
            Ok(StreamEvent::Done)
        );
        let data = |event: Option<&str>, data: &str| {
            Ok(StreamEvent::Data(SseEvent {
                event: event.map(str::to_string),
                data: data.into(),
                id: Some("7".into()),
            }))
        };
        assert_eq!(stream_event(ev(None, "{}"), "x"), data(None, "{}"));
        assert_eq!(
            stream_event(ev(Some("error"), " {\"a\":1}\n"), "x"),
            data(Some("error"), r#"{"a":1}"#)
        );
        assert_eq!(
            stream_event(ev(None, "[DONE]x"), "x"),
            data(None, "[DONE]x")
        );
        assert!(stream_event(StreamInput::Bytes(vec![1]), "x").is_err());
    }

    #[test]
    fn created_comes_from_params_else_zero() {
        let mut t = target("anthropic", "m");
        assert_eq!(created(&t), 0);
        t.params = vec![Field {
            key: "created".into(),
            value: "1750000000".into(),
        }];
        assert_eq!(created(&t), 1_750_000_000);
        t.params[0].value = "\"soon\"".into();
        assert_eq!(created(&t), 0);
    }
}
