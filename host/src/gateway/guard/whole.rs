//! The response stage on a whole (non-streamed) chat answer.
//!
//! Each watching sanitiser sees every choice's message (text, tool calls in
//! `extra`) and the first choice's finish reason, as the previous one left
//! them. A rewrite replaces the choices' messages; a deny withholds the
//! answer the way OpenAI withholds a filtered completion: every choice's
//! message keeps its role, loses its content (`null`) and tool calls, and
//! finishes with `content_filter`. Usage and the rest of the body stay.

use bytes::Bytes;
use serde_json::{Value, json};
use switchyard_sdk::openai::ChatMessage;

use crate::plugins::bindings::sanitizer_api::Verdict;
use crate::plugins::bindings::types::Message;

use super::super::error::ApiError;
use super::super::views;
use super::Watcher;

/// Checks a whole answer; the new body when a sanitiser changed it. A body
/// that is not a chat completion passes as it is.
pub fn check(watchers: &mut [Watcher], body: &Bytes) -> Result<Option<Bytes>, ApiError> {
    let Ok(mut answer) = serde_json::from_slice::<Value>(body) else {
        return Ok(None);
    };
    let Some(choices) = answer.get_mut("choices").and_then(Value::as_array_mut) else {
        return Ok(None);
    };
    let originals: Vec<ChatMessage> = choices
        .iter()
        .map(|c| {
            c.get("message")
                .and_then(|m| serde_json::from_value(m.clone()).ok())
                .unwrap_or_else(empty_assistant)
        })
        .collect();
    let finish: Option<String> = choices
        .first()
        .and_then(|c| c.get("finish_reason"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut messages: Vec<Message> = originals.iter().map(views::message_view).collect();
    let mut changed = false;
    for w in watchers.iter_mut() {
        match w.ask(messages.clone(), None, finish.as_deref())? {
            Verdict::Allow => {}
            Verdict::Deny(reason) => {
                tracing::info!(plugin = %w.name, reason = %reason, "answer withheld (content_filter)");
                withhold(choices);
                return Ok(Some(to_bytes(&answer)));
            }
            Verdict::Rewrite(rewritten) => {
                for (i, m) in rewritten.iter().enumerate() {
                    if let Some(choice) = choices.get_mut(i) {
                        let openai = views::rewritten_to_openai(m, originals.get(i));
                        choice["message"] = serde_json::to_value(&openai).unwrap_or(Value::Null);
                    }
                }
                messages = rewritten;
                changed = true;
            }
        }
    }
    Ok(changed.then(|| to_bytes(&answer)))
}

fn empty_assistant() -> ChatMessage {
    serde_json::from_value(json!({"role": "assistant"})).unwrap_or_else(|_| ChatMessage {
        role: "assistant".into(),
        content: None,
        name: None,
        tool_calls: None,
        tool_call_id: None,
        rest: Default::default(),
    })
}

/// Every choice withheld: role kept, content `null`, no tool calls,
/// `finish_reason: "content_filter"`.
fn withhold(choices: &mut [Value]) {
    for c in choices {
        let role = c
            .pointer("/message/role")
            .cloned()
            .unwrap_or_else(|| json!("assistant"));
        c["message"] = json!({"role": role, "content": null});
        c["finish_reason"] = json!("content_filter");
    }
}

fn to_bytes(answer: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec(answer).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_withheld_answer_keeps_roles_and_usage_and_finishes_content_filter() {
        let mut answer = json!({"choices": [
            {"index": 0, "message": {"role": "assistant", "content": "secret", "tool_calls": []}, "finish_reason": "stop"},
            {"index": 1, "message": {"role": "assistant", "content": "other"}, "finish_reason": "length"}
        ], "usage": {"total_tokens": 3}});
        withhold(answer["choices"].as_array_mut().unwrap());
        assert_eq!(
            answer,
            json!({"choices": [
                {"index": 0, "message": {"role": "assistant", "content": null}, "finish_reason": "content_filter"},
                {"index": 1, "message": {"role": "assistant", "content": null}, "finish_reason": "content_filter"}
            ], "usage": {"total_tokens": 3}})
        );
    }

    #[test]
    fn a_body_that_is_no_completion_passes() {
        assert_eq!(
            check(&mut [], &Bytes::from_static(b"not json")).unwrap(),
            None
        );
        assert_eq!(
            check(&mut [], &Bytes::from_static(b"{\"data\":[]}")).unwrap(),
            None
        );
        assert_eq!(
            check(&mut [], &Bytes::from_static(b"{\"choices\":[]}")).unwrap(),
            None
        );
    }
}
