//! Reading a provider's answer: its JSON, its stream events, the `created`
//! time the host passes in, and the errors for an answer the adapter cannot
//! read.

use serde_json::Value;

use crate::field;
use crate::provider::{ParseError, SseEvent, StreamInput, Target};
use crate::types::PluginError;

/// How many characters of a body [`snippet`] keeps: enough to recognise an
/// HTML error page or a truncated JSON, short enough for a log line.
pub const SNIPPET_CHARS: usize = 200;

/// The start of `text` (at most [`SNIPPET_CHARS`] characters, then `...`),
/// to quote an unreadable body in an error message.
pub fn snippet(text: &str) -> String {
    match text.char_indices().nth(SNIPPET_CHARS) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

/// The error for an answer the adapter cannot read (a garbled 2xx body, an
/// event that is not what the provider documents). The host reports it as
/// a bad gateway and blames the deployment, not the request.
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
pub fn event_json(data: &str) -> Result<Value, ParseError> {
    serde_json::from_str(data)
        .map_err(|e| bad_answer(format!("stream event is not JSON ({e}): {}", snippet(data))))
}

/// The server-sent event a stream decoder was given. Adapters that ask the
/// host for SSE framing (`framing::sse`) get events; raw bytes mean the host
/// and the adapter disagree, which is the caller's error, not the provider's.
pub fn sse_event(input: StreamInput, adapter: &str) -> Result<SseEvent, ParseError> {
    match input {
        StreamInput::Event(event) => Ok(event),
        StreamInput::Bytes(_) => Err(ParseError::Plugin(PluginError::InvalidInput(format!(
            "the {adapter} adapter reads server-sent events (framing sse), not raw bytes"
        )))),
    }
}

/// The `created` time (Unix seconds) for answers and chunks. Plugins have no
/// clock, so the host passes the time in the target's params as `created`;
/// without it (a native test, an older host) this is 0.
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
