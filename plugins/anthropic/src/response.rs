//! `parse-response`: an Anthropic message becomes a `chat.completion`; an
//! Anthropic error (any non-2xx answer, or an error object in a 2xx body)
//! becomes a provider error ([`crate::errors`]).
//!
//! - `text` blocks, concatenated, become `message.content`; it is `null` when
//!   there is no text and there are tool calls, `""` when the message has no
//!   content at all.
//! - `tool_use` blocks become `message.tool_calls` (`id`, `type: function`,
//!   `function.name`, `function.arguments` = the `input` as JSON text).
//! - `thinking` blocks become `message.reasoning_content` (their text) and,
//!   with `redacted_thinking` blocks, `message.thinking_blocks` (as given, so
//!   a client can send them back). Server tool blocks are left out.
//! - `stop_reason` becomes `finish_reason` ([`finish_reason`]).
//! - `id` and `model` are kept; `object` is `chat.completion`; `created` is
//!   `target.params.created` or 0 (the plugin has no clock).
//! - `usage` as [`crate::usage`] describes, in the body and in the
//!   contract's usage record.

use serde_json::{Value, json};
use switchyard_sdk::adapter::{self, snippet};
use switchyard_sdk::provider::{
    BuildInput, HttpResponse, Operation, ParseError, ParsedResponse, Target,
};
use switchyard_sdk::types::PluginError;

use crate::errors;
use crate::usage::AnthropicUsage;

/// OpenAI's `finish_reason` for an Anthropic `stop_reason`.
pub fn finish_reason(stop_reason: &str) -> &'static str {
    match stop_reason {
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        // end_turn, stop_sequence, pause_turn and any later addition.
        _ => "stop",
    }
}

pub fn parse_response(
    input: &BuildInput,
    response: HttpResponse,
) -> Result<ParsedResponse, ParseError> {
    let status = response.status;
    if !(200..=299).contains(&status) {
        return Err(ParseError::Provider(errors::from_response(
            status,
            &response.body,
        )));
    }
    match &input.operation {
        Operation::Chat => {}
        Operation::Embeddings => {
            return Err(ParseError::Plugin(PluginError::InvalidInput(
                "anthropic does not offer embeddings".to_string(),
            )));
        }
        Operation::Other(name) => {
            return Err(ParseError::Plugin(adapter::unsupported(
                "anthropic",
                name,
                "chat",
            )));
        }
    }
    let value = adapter::body_json(status, &response.body)?;
    if let Some(err) = errors::from_embedded(&value) {
        return Err(ParseError::Provider(err));
    }
    let (body, usage) = translate(&value, &input.target).map_err(ParseError::Plugin)?;
    Ok(ParsedResponse {
        body: body.to_string(),
        usage: usage.as_ref().map(AnthropicUsage::to_wit),
    })
}

/// The `chat.completion` for an Anthropic message, and its usage.
pub fn translate(
    message: &Value,
    target: &Target,
) -> Result<(Value, Option<AnthropicUsage>), PluginError> {
    let Some(blocks) = message.get("content").and_then(Value::as_array) else {
        return Err(PluginError::Internal(format!(
            "the answer is not an Anthropic message (no content list): {}",
            snippet(&message.to_string())
        )));
    };
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut thinking_blocks = Vec::new();
    let mut tool_calls = Vec::new();
    for block in blocks {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(block.get("text").and_then(Value::as_str).unwrap_or("")),
            Some("tool_use") => tool_calls.push(tool_call(block)),
            Some("thinking") => {
                reasoning.push_str(block.get("thinking").and_then(Value::as_str).unwrap_or(""));
                thinking_blocks.push(block.clone());
            }
            Some("redacted_thinking") => thinking_blocks.push(block.clone()),
            _ => {}
        }
    }
    let content = if text.is_empty() && !tool_calls.is_empty() {
        Value::Null
    } else {
        Value::String(text)
    };
    let mut msg = json!({"role": "assistant", "content": content});
    if !tool_calls.is_empty() {
        msg["tool_calls"] = Value::Array(tool_calls);
    }
    if !reasoning.is_empty() {
        msg["reasoning_content"] = Value::String(reasoning);
    }
    if !thinking_blocks.is_empty() {
        msg["thinking_blocks"] = Value::Array(thinking_blocks);
    }
    let finish = message
        .get("stop_reason")
        .and_then(Value::as_str)
        .map(finish_reason);
    let usage = AnthropicUsage::from_value(message.get("usage"));
    let mut body = json!({
        "id": message.get("id").and_then(Value::as_str).unwrap_or(""),
        "object": "chat.completion",
        "created": adapter::created(target),
        "model": message.get("model").and_then(Value::as_str).unwrap_or(&target.model),
        "choices": [{"index": 0, "message": msg, "finish_reason": finish, "logprobs": null}],
    });
    if let Some(u) = &usage {
        body["usage"] = u.to_openai();
    }
    Ok((body, usage))
}

/// An OpenAI tool call for a `tool_use` block.
fn tool_call(block: &Value) -> Value {
    let input = block.get("input").cloned().unwrap_or_else(|| json!({}));
    json!({
        "id": block.get("id").and_then(Value::as_str).unwrap_or(""),
        "type": "function",
        "function": {
            "name": block.get("name").and_then(Value::as_str).unwrap_or(""),
            "arguments": input.to_string(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::chat_input;
    use switchyard_sdk::provider::ErrorClass;
    use switchyard_sdk::testing::http_response;

    fn parse(body: Value) -> (Value, Option<switchyard_sdk::types::Usage>) {
        let p = parse_response(
            &chat_input(json!({"model": "m", "messages": []})),
            http_response(200, &body.to_string()),
        )
        .unwrap();
        (serde_json::from_str(&p.body).unwrap(), p.usage)
    }

    fn message(content: Value, stop_reason: Value) -> Value {
        json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
               "content": content, "stop_reason": stop_reason, "stop_sequence": null,
               "usage": {"input_tokens": 10, "output_tokens": 3}})
    }

    #[test]
    fn text_is_joined() {
        let (body, usage) = parse(message(
            json!([{"type": "text", "text": "Hello, "}, {"type": "text", "text": "world."}]),
            json!("end_turn"),
        ));
        assert_eq!(
            body,
            json!({"id": "msg_1", "object": "chat.completion", "created": 0, "model": "claude-x",
                   "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello, world."},
                                "finish_reason": "stop", "logprobs": null}],
                   "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13,
                             "prompt_tokens_details": {"cached_tokens": 0, "cache_creation_tokens": 0}}})
        );
        let u = usage.unwrap();
        assert_eq!((u.input_tokens, u.output_tokens), (10, 3));
    }

    #[test]
    fn tool_calls_and_null_content() {
        let (body, _) = parse(message(
            json!([
                {"type": "tool_use", "id": "toolu_a", "name": "f", "input": {"x": 1}},
                {"type": "tool_use", "id": "toolu_b", "name": "g", "input": {}}
            ]),
            json!("tool_use"),
        ));
        let choice = &body["choices"][0];
        assert_eq!(choice["finish_reason"], "tool_calls");
        assert_eq!(choice["message"]["content"], Value::Null);
        assert_eq!(
            choice["message"]["tool_calls"],
            json!([
                {"id": "toolu_a", "type": "function", "function": {"name": "f", "arguments": "{\"x\":1}"}},
                {"id": "toolu_b", "type": "function", "function": {"name": "g", "arguments": "{}"}}
            ])
        );
    }

    #[test]
    fn empty_content_and_stop_reasons() {
        let (body, _) = parse(message(json!([]), json!("end_turn")));
        assert_eq!(body["choices"][0]["message"]["content"], "");
        assert!(body["choices"][0]["message"].get("tool_calls").is_none());
        for (stop, finish) in [
            ("end_turn", "stop"),
            ("stop_sequence", "stop"),
            ("pause_turn", "stop"),
            ("max_tokens", "length"),
            ("model_context_window_exceeded", "length"),
            ("tool_use", "tool_calls"),
            ("refusal", "content_filter"),
            ("something_new", "stop"),
        ] {
            let (body, _) = parse(message(json!([{"type": "text", "text": "x"}]), json!(stop)));
            assert_eq!(body["choices"][0]["finish_reason"], finish, "{stop}");
        }
        let (body, _) = parse(message(json!([]), Value::Null));
        assert_eq!(body["choices"][0]["finish_reason"], Value::Null);
    }

    #[test]
    fn thinking_and_server_blocks() {
        let (body, _) = parse(message(
            json!([
                {"type": "thinking", "thinking": "Let me think.", "signature": "sig"},
                {"type": "redacted_thinking", "data": "enc"},
                {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "q"}},
                {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
                {"type": "text", "text": "Answer."}
            ]),
            json!("end_turn"),
        ));
        let m = &body["choices"][0]["message"];
        assert_eq!(m["content"], "Answer.");
        assert_eq!(m["reasoning_content"], "Let me think.");
        assert_eq!(m["thinking_blocks"].as_array().unwrap().len(), 2);
        assert!(m.get("tool_calls").is_none());
    }

    #[test]
    fn created_and_model_fallback() {
        let mut input = chat_input(json!({"model": "m", "messages": []}));
        input.target.params = vec![switchyard_sdk::types::Field {
            key: "created".into(),
            value: "1700000000".into(),
        }];
        let p = parse_response(
            &input,
            http_response(
                200,
                r#"{"id":"m1","type":"message","content":[{"type":"text","text":"hi"}]}"#,
            ),
        )
        .unwrap();
        let body: Value = serde_json::from_str(&p.body).unwrap();
        assert_eq!(body["created"], 1_700_000_000);
        assert_eq!(body["model"], "claude-sonnet-4-20250514");
        assert!(body.get("usage").is_none() && p.usage.is_none());
    }

    #[test]
    fn errors_and_bad_bodies() {
        let input = chat_input(json!({"model": "m", "messages": []}));
        let Err(ParseError::Provider(e)) = parse_response(
            &input,
            http_response(
                429,
                r#"{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}"#,
            ),
        ) else {
            panic!()
        };
        assert_eq!((e.status, e.class), (429, ErrorClass::RateLimit));
        let Err(ParseError::Provider(e)) = parse_response(
            &input,
            http_response(
                200,
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            ),
        ) else {
            panic!()
        };
        assert_eq!((e.status, e.class), (529, ErrorClass::ServerError));
        assert!(matches!(
            parse_response(&input, http_response(200, "not json")),
            Err(ParseError::Plugin(PluginError::Internal(m))) if m.contains("not valid JSON")
        ));
        assert!(matches!(
            parse_response(&input, http_response(200, r#"{"id":"x"}"#)),
            Err(ParseError::Plugin(PluginError::Internal(m))) if m.contains("not an Anthropic message")
        ));
        let mut emb = input.clone();
        emb.operation = Operation::Embeddings;
        assert!(matches!(
            parse_response(&emb, http_response(200, "{}")),
            Err(ParseError::Plugin(PluginError::InvalidInput(m))) if m.contains("embeddings")
        ));
    }
}
