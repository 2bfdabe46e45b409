//! Conversions between the OpenAI wire format (the SDK's serde types) and
//! config on one side, and the typed views plugins read on the other. The
//! gateway and `plugin test` share them, so a case file exercises exactly
//! what a live request would.

use serde_json::{Map, Value};
use switchyard_sdk::openai::{self, ChatMessage, ChatRequest, MessageContent};

use crate::config::Prices;
use crate::plugins::bindings::types::{self, ContentPart, Field, Message, Role};

/// WIT prices from config prices (routers' table, cost rules).
pub fn prices(p: &Prices) -> types::Prices {
    types::Prices {
        input_per_token: p.input_per_token,
        output_per_token: p.output_per_token,
        cache_read_per_token: p.cache_read_per_token,
        cache_write_per_token: p.cache_write_per_token,
        reasoning_per_token: p.reasoning_per_token,
        per_request: p.per_request,
        extra: p
            .extra
            .iter()
            .map(|(k, v)| Field {
                key: k.clone(),
                value: v.clone(),
            })
            .collect(),
    }
}

/// JSON object fields as WIT fields (values as JSON text).
pub fn fields_from_map(map: &Map<String, Value>) -> Vec<Field> {
    map.iter()
        .map(|(k, v)| Field {
            key: k.clone(),
            value: v.to_string(),
        })
        .collect()
}

/// WIT fields as a JSON object; a value that is not JSON becomes a string.
pub fn map_from_fields(fields: &[Field]) -> Map<String, Value> {
    fields
        .iter()
        .map(|f| {
            let v =
                serde_json::from_str(&f.value).unwrap_or_else(|_| Value::String(f.value.clone()));
            (f.key.clone(), v)
        })
        .collect()
}

fn role_from_str(role: &str) -> Role {
    match role {
        "system" => Role::System,
        "developer" => Role::Developer,
        "user" => Role::User,
        "assistant" => Role::Assistant,
        "tool" => Role::Tool,
        other => Role::Other(other.to_string()),
    }
}

/// The OpenAI name of a role.
pub fn role_name(role: &Role) -> &str {
    match role {
        Role::System => "system",
        Role::Developer => "developer",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
        Role::Other(s) => s,
    }
}

/// An OpenAI message as policies read it.
pub fn message_view(m: &ChatMessage) -> Message {
    let content = match &m.content {
        None => Vec::new(),
        Some(MessageContent::Text(t)) => vec![ContentPart::Text(t.clone())],
        Some(MessageContent::Parts(parts)) => parts
            .iter()
            .map(|p| match (p.kind.as_str(), &p.text, &p.image_url) {
                ("text", Some(t), _) => ContentPart::Text(t.clone()),
                ("image_url", _, Some(img)) => ContentPart::ImageUrl(img.url.clone()),
                _ => ContentPart::Other(serde_json::to_string(p).unwrap_or_default()),
            })
            .collect(),
    };
    let mut extra = fields_from_map(&m.rest);
    if let Some(calls) = &m.tool_calls {
        extra.push(Field {
            key: "tool_calls".into(),
            value: serde_json::to_string(calls).unwrap_or_default(),
        });
    }
    if let Some(id) = &m.tool_call_id {
        extra.push(Field {
            key: "tool_call_id".into(),
            value: Value::String(id.clone()).to_string(),
        });
    }
    Message {
        role: role_from_str(&m.role),
        content,
        name: m.name.clone(),
        extra,
    }
}

/// A policy's message back in the OpenAI format. Content that is one text
/// part becomes a plain string.
pub fn message_to_openai(m: &Message) -> ChatMessage {
    let content = match m.content.as_slice() {
        [] => None,
        [ContentPart::Text(t)] => Some(MessageContent::Text(t.clone())),
        parts => Some(MessageContent::Parts(
            parts
                .iter()
                .map(|p| match p {
                    ContentPart::Text(t) => openai::ContentPart {
                        kind: "text".into(),
                        text: Some(t.clone()),
                        image_url: None,
                        rest: Map::new(),
                    },
                    ContentPart::ImageUrl(url) => openai::ContentPart {
                        kind: "image_url".into(),
                        text: None,
                        image_url: Some(openai::ImageUrl {
                            url: url.clone(),
                            detail: None,
                            rest: Map::new(),
                        }),
                        rest: Map::new(),
                    },
                    ContentPart::Other(json) => {
                        serde_json::from_str(json).unwrap_or_else(|_| openai::ContentPart {
                            kind: "text".into(),
                            text: Some(json.clone()),
                            image_url: None,
                            rest: Map::new(),
                        })
                    }
                })
                .collect(),
        )),
    };
    let mut rest = map_from_fields(&m.extra);
    let tool_calls = rest
        .remove("tool_calls")
        .and_then(|v| serde_json::from_value(v).ok());
    let tool_call_id = rest
        .remove("tool_call_id")
        .and_then(|v| v.as_str().map(str::to_string));
    ChatMessage {
        role: role_name(&m.role).to_string(),
        content,
        name: m.name.clone(),
        tool_calls,
        tool_call_id,
        rest,
    }
}

/// A rewritten message back in the OpenAI format, keeping what the typed
/// view cannot carry (an image's `detail`, a part's extra fields) from the
/// original message wherever the rewrite left that part as it was.
pub fn rewritten_to_openai(m: &Message, original: Option<&ChatMessage>) -> ChatMessage {
    let mut out = message_to_openai(m);
    let (
        Some(MessageContent::Parts(new_parts)),
        Some(ChatMessage {
            content: Some(MessageContent::Parts(old)),
            ..
        }),
    ) = (&mut out.content, original)
    else {
        return out;
    };
    for part in new_parts.iter_mut() {
        let same = old.iter().find(|o| {
            o.kind == part.kind
                && match (&o.image_url, &part.image_url) {
                    (Some(a), Some(b)) => a.url == b.url,
                    (None, None) => o.text == part.text,
                    _ => false,
                }
        });
        if let Some(o) = same {
            *part = o.clone();
        }
    }
    out
}

/// A chat request as policies read it.
pub fn chat_request_view(req: &ChatRequest) -> types::ChatRequest {
    let metadata = req.metadata.clone().unwrap_or_default();
    let mut tags: Vec<String> = Vec::new();
    for source in [req.rest.get("tags"), metadata.get("tags")] {
        if let Some(Value::Array(items)) = source {
            tags.extend(items.iter().filter_map(|t| t.as_str().map(str::to_string)));
        }
    }
    let mut extra = req.rest.clone();
    extra.remove("tags");
    if let Some(tools) = &req.tools {
        extra.insert(
            "tools".into(),
            serde_json::to_value(tools).unwrap_or(Value::Null),
        );
    }
    if let Some(user) = &req.user {
        extra.insert("user".into(), Value::String(user.clone()));
    }
    types::ChatRequest {
        model: req.model.clone(),
        messages: req.messages.iter().map(message_view).collect(),
        stream: req.stream.unwrap_or(false),
        max_tokens: req.max_completion_tokens.or(req.max_tokens),
        tags,
        metadata: fields_from_map(&metadata),
        extra: fields_from_map(&extra),
    }
}

/// A rough token count for a request: about four characters a token, plus a
/// few per message. Good enough for context-window checks and routing; the
/// provider's reported usage is what gets billed.
pub fn estimate_tokens(req: &types::ChatRequest) -> u64 {
    let chars: usize = req
        .messages
        .iter()
        .map(|m| {
            m.content
                .iter()
                .map(|p| match p {
                    ContentPart::Text(t) => t.len(),
                    ContentPart::ImageUrl(_) => 340,
                    ContentPart::Other(j) => j.len(),
                })
                .sum::<usize>()
        })
        .sum();
    (chars as u64).div_ceil(4) + 4 * req.messages.len() as u64
}

/// WIT usage in OpenAI's shape.
pub fn usage_to_openai(u: &types::Usage) -> openai::Usage {
    openai::Usage {
        prompt_tokens: u.input_tokens,
        completion_tokens: u.output_tokens,
        total_tokens: u.input_tokens + u.output_tokens,
        prompt_tokens_details: (u.cache_read_tokens > 0 || u.cache_write_tokens > 0).then(|| {
            openai::PromptTokensDetails {
                cached_tokens: Some(u.cache_read_tokens),
                cache_creation_tokens: (u.cache_write_tokens > 0).then_some(u.cache_write_tokens),
                rest: Map::new(),
            }
        }),
        completion_tokens_details: (u.reasoning_tokens > 0).then(|| {
            openai::CompletionTokensDetails {
                reasoning_tokens: Some(u.reasoning_tokens),
                rest: Map::new(),
            }
        }),
        rest: Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: Value) -> ChatRequest {
        serde_json::from_value(body).unwrap()
    }

    #[test]
    fn view_splits_parts_and_keeps_tool_fields() {
        let req = request(serde_json::json!({
            "model": "m",
            "messages": [
                {"role": "user", "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,xx"}},
                    {"type": "input_audio", "input_audio": {"data": "x", "format": "wav"}}
                ]},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ]},
                {"role": "tool", "tool_call_id": "c1", "content": "42"}
            ],
            "metadata": {"customer_tier": "vip", "tags": ["a"]},
            "tags": ["b"],
            "temperature": 0.5
        }));
        let view = chat_request_view(&req);
        assert_eq!(view.messages[0].content.len(), 3);
        assert!(matches!(
            view.messages[0].content[1],
            ContentPart::ImageUrl(_)
        ));
        assert!(matches!(view.messages[0].content[2], ContentPart::Other(_)));
        assert_eq!(view.tags, vec!["b", "a"]);
        assert!(
            view.extra
                .iter()
                .any(|f| f.key == "temperature" && f.value == "0.5")
        );
        // Round trip back to OpenAI keeps tool calls and ids.
        let back: Vec<ChatMessage> = view.messages.iter().map(message_to_openai).collect();
        assert_eq!(back, req.messages);
    }

    #[test]
    fn a_rewrite_keeps_image_detail_and_part_extras() {
        let original: ChatMessage = serde_json::from_value(serde_json::json!({
            "role": "user",
            "content": [
                {"type": "text", "text": "mail a@b.com", "cache_control": {"type": "ephemeral"}},
                {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "high"}}
            ]
        }))
        .unwrap();
        let mut view = message_view(&original);
        view.content[0] = ContentPart::Text("mail [EMAIL]".into());
        let back = rewritten_to_openai(&view, Some(&original));
        let v = serde_json::to_value(&back).unwrap();
        assert_eq!(v["content"][0]["text"], "mail [EMAIL]");
        assert_eq!(v["content"][1]["image_url"]["detail"], "high");
    }

    #[test]
    fn token_estimate_grows_with_text() {
        let short = chat_request_view(&request(
            serde_json::json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}),
        ));
        let long = chat_request_view(&request(
            serde_json::json!({"model": "m", "messages": [{"role": "user", "content": "x".repeat(4000)}]}),
        ));
        assert!(estimate_tokens(&long) >= 1000);
        assert!(estimate_tokens(&short) < 10);
    }
}
