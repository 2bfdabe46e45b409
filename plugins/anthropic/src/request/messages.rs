//! OpenAI `messages` to Anthropic `system` + `messages`.
//!
//! - `system` and `developer` messages, wherever they stand, become the
//!   top-level `system`: a string (the text parts of one message joined by
//!   `\n`, messages joined by `\n\n`), or, when any of their parts carries a
//!   `cache_control`, a list of text blocks keeping it.
//! - `user` content: text parts become `text` blocks, `image_url` parts
//!   `image` blocks (a `data:` URL a `base64` source, an `http(s)` URL a `url`
//!   source), `file` parts with `file_data` (a `data:` URL, such as a PDF)
//!   `document` blocks. Audio, `file_id` and unknown parts are an
//!   `invalid-input` error.
//! - `assistant` content becomes `text` blocks (a `refusal` part's text too),
//!   its `tool_calls` `tool_use` blocks (`input` parsed from the `arguments`
//!   JSON, `{}` when they are empty; arguments that are not a JSON object are
//!   an `invalid-input` error naming the tool call), and its
//!   `thinking_blocks` (what this adapter returns for extended thinking) are
//!   sent back first, as Anthropic requires.
//! - `tool` messages become `tool_result` blocks (`tool_use_id`, `content`)
//!   in a user turn.
//! - Consecutive turns of one role (a `tool` message counts as `user`) merge
//!   into one message with several blocks; within a user turn the
//!   `tool_result` blocks go first, as Anthropic requires.
//! - `cache_control` on a content part is kept on its block; on a message it
//!   goes to the message's last block.
//! - Empty and whitespace-only text is left out (Anthropic rejects empty text
//!   blocks), and a message left with no block is left out.
//! - A turn that is one plain text block is sent as a string.

use serde_json::{Map, Value, json};
use switchyard_sdk::openai::{ChatMessage, ContentPart, MessageContent, ToolCall};
use switchyard_sdk::types::PluginError;

use super::invalid;

/// The Anthropic `system` (if any) and `messages`.
pub struct Converted {
    pub system: Option<Value>,
    pub messages: Vec<Value>,
}

struct Turn {
    role: &'static str,
    blocks: Vec<Value>,
}

/// One text part of a system message.
struct SystemText {
    text: String,
    cache_control: Option<Value>,
}

pub fn convert(messages: &[ChatMessage]) -> Result<Converted, PluginError> {
    let mut system: Vec<Vec<SystemText>> = Vec::new();
    let mut turns: Vec<Turn> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let at = format!("messages[{i}]");
        match m.role.as_str() {
            "system" | "developer" => {
                let texts = system_texts(m, &at)?;
                if !texts.is_empty() {
                    system.push(texts);
                }
            }
            "user" => push(&mut turns, "user", user_blocks(m, &at)?),
            "assistant" => push(&mut turns, "assistant", assistant_blocks(m, &at)?),
            "tool" => push(&mut turns, "user", vec![tool_result(m, &at)?]),
            "function" => {
                return Err(invalid(format!(
                    "{at}: role \"function\" (deprecated function calling) is not supported; use tool calls and role \"tool\""
                )));
            }
            other => return Err(invalid(format!("{at}: unknown role \"{other}\""))),
        }
    }
    if turns.is_empty() {
        return Err(invalid(
            "the request has no user or assistant message with content; Anthropic needs at least one",
        ));
    }
    let messages = turns.into_iter().map(render).collect();
    Ok(Converted {
        system: system_value(system),
        messages,
    })
}

/// Adds a message's blocks to the conversation, merging same-role turns.
fn push(turns: &mut Vec<Turn>, role: &'static str, blocks: Vec<Value>) {
    if blocks.is_empty() {
        return;
    }
    match turns.last_mut() {
        Some(last) if last.role == role => last.blocks.extend(blocks),
        _ => turns.push(Turn { role, blocks }),
    }
}

fn is_type(block: &Value, kind: &str) -> bool {
    block.get("type").and_then(Value::as_str) == Some(kind)
}

fn render(mut turn: Turn) -> Value {
    if turn.role == "user" {
        // Stable: tool results first, the rest in order.
        let (mut results, rest): (Vec<Value>, Vec<Value>) = turn
            .blocks
            .into_iter()
            .partition(|b| is_type(b, "tool_result"));
        results.extend(rest);
        turn.blocks = results;
    }
    let content = match turn.blocks.as_slice() {
        [only] if is_type(only, "text") && only.as_object().is_some_and(|o| o.len() == 2) => {
            only["text"].clone()
        }
        _ => Value::Array(turn.blocks),
    };
    json!({"role": turn.role, "content": content})
}

fn system_value(system: Vec<Vec<SystemText>>) -> Option<Value> {
    if system.is_empty() {
        return None;
    }
    let cached = system.iter().flatten().any(|t| t.cache_control.is_some());
    if cached {
        let blocks = system
            .into_iter()
            .flatten()
            .map(|t| {
                let mut block = json!({"type": "text", "text": t.text});
                if let Some(cc) = t.cache_control {
                    block["cache_control"] = cc;
                }
                block
            })
            .collect();
        return Some(Value::Array(blocks));
    }
    let text = system
        .iter()
        .map(|texts| {
            texts
                .iter()
                .map(|t| t.text.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect::<Vec<_>>()
        .join("\n\n");
    Some(Value::String(text))
}

fn message_cache_control(m: &ChatMessage) -> Option<Value> {
    m.rest
        .get("cache_control")
        .filter(|v| !v.is_null())
        .cloned()
}

fn part_cache_control(rest: &Map<String, Value>) -> Option<Value> {
    rest.get("cache_control").filter(|v| !v.is_null()).cloned()
}

/// Puts a message-level `cache_control` on the message's last block.
fn apply_message_cache_control(m: &ChatMessage, blocks: &mut [Value]) {
    if let (Some(cc), Some(Value::Object(last))) = (message_cache_control(m), blocks.last_mut()) {
        last.insert("cache_control".into(), cc);
    }
}

fn system_texts(m: &ChatMessage, at: &str) -> Result<Vec<SystemText>, PluginError> {
    let mut texts = Vec::new();
    match &m.content {
        None => {}
        Some(MessageContent::Text(s)) => texts.push(SystemText {
            text: s.clone(),
            cache_control: None,
        }),
        Some(MessageContent::Parts(parts)) => {
            for (j, p) in parts.iter().enumerate() {
                if p.kind != "text" {
                    return Err(invalid(format!(
                        "{at}.content[{j}]: a {} message may only hold text, got a \"{}\" part",
                        m.role, p.kind
                    )));
                }
                texts.push(SystemText {
                    text: p.text.clone().unwrap_or_default(),
                    cache_control: part_cache_control(&p.rest),
                });
            }
        }
    }
    texts.retain(|t| !t.text.trim().is_empty());
    if let (Some(cc), Some(last)) = (message_cache_control(m), texts.last_mut()) {
        last.cache_control = Some(cc);
    }
    Ok(texts)
}

/// A `text` block, or nothing for empty or whitespace-only text.
fn text_block(text: &str, cache_control: Option<Value>) -> Option<Value> {
    if text.trim().is_empty() {
        return None;
    }
    let mut block = json!({"type": "text", "text": text});
    if let Some(cc) = cache_control {
        block["cache_control"] = cc;
    }
    Some(block)
}

fn user_blocks(m: &ChatMessage, at: &str) -> Result<Vec<Value>, PluginError> {
    let mut blocks = content_blocks(m.content.as_ref(), at)?;
    apply_message_cache_control(m, &mut blocks);
    Ok(blocks)
}

/// Blocks for user (and tool result) content.
fn content_blocks(content: Option<&MessageContent>, at: &str) -> Result<Vec<Value>, PluginError> {
    match content {
        None => Ok(Vec::new()),
        Some(MessageContent::Text(s)) => Ok(text_block(s, None).into_iter().collect()),
        Some(MessageContent::Parts(parts)) => {
            let mut blocks = Vec::new();
            for (j, p) in parts.iter().enumerate() {
                if let Some(b) = user_part(p, &format!("{at}.content[{j}]"))? {
                    blocks.push(b);
                }
            }
            Ok(blocks)
        }
    }
}

fn user_part(p: &ContentPart, at: &str) -> Result<Option<Value>, PluginError> {
    let cache_control = part_cache_control(&p.rest);
    let mut block = match p.kind.as_str() {
        "text" => return Ok(text_block(p.text.as_deref().unwrap_or(""), cache_control)),
        "image_url" => {
            let url = p
                .image_url
                .as_ref()
                .ok_or_else(|| invalid(format!("{at}: an image_url part needs image_url.url")))?;
            image_block(&url.url, at)?
        }
        "file" => file_block(p.rest.get("file"), at)?,
        "input_audio" => {
            return Err(invalid(format!(
                "{at}: anthropic does not accept audio input"
            )));
        }
        other => {
            return Err(invalid(format!(
                "{at}: content part type \"{other}\" is not supported by the anthropic adapter"
            )));
        }
    };
    if let Some(cc) = cache_control {
        block["cache_control"] = cc;
    }
    Ok(Some(block))
}

/// A `data:<media type>;base64,<data>` URL's media type and data.
fn data_url<'a>(url: &'a str, at: &str) -> Result<Option<(&'a str, &'a str)>, PluginError> {
    let Some(rest) = url.strip_prefix("data:") else {
        return Ok(None);
    };
    let bad = || {
        invalid(format!(
            "{at}: a data: URL must look like data:<media type>;base64,<data>"
        ))
    };
    let (meta, data) = rest.split_once(',').ok_or_else(bad)?;
    let mut params = meta.split(';');
    let media_type = params.next().unwrap_or_default().trim();
    if media_type.is_empty() || !params.any(|p| p.trim().eq_ignore_ascii_case("base64")) {
        return Err(bad());
    }
    Ok(Some((media_type, data)))
}

fn image_block(url: &str, at: &str) -> Result<Value, PluginError> {
    if let Some((media_type, data)) = data_url(url, at)? {
        return Ok(json!({
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data}
        }));
    }
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        return Ok(json!({"type": "image", "source": {"type": "url", "url": url}}));
    }
    Err(invalid(format!(
        "{at}: an image URL must be a data: URL or an http(s) URL"
    )))
}

fn file_block(file: Option<&Value>, at: &str) -> Result<Value, PluginError> {
    let data = file
        .and_then(|f| f.get("file_data"))
        .and_then(Value::as_str);
    let Some(data) = data else {
        return Err(invalid(format!(
            "{at}: a file part needs file.file_data (a data: URL); uploaded file ids are not supported by the anthropic adapter"
        )));
    };
    let (media_type, data) = data_url(data, at)?.ok_or_else(|| {
        invalid(format!(
            "{at}: file.file_data must be a data:<media type>;base64,<data> URL"
        ))
    })?;
    Ok(json!({
        "type": "document",
        "source": {"type": "base64", "media_type": media_type, "data": data}
    }))
}

fn assistant_blocks(m: &ChatMessage, at: &str) -> Result<Vec<Value>, PluginError> {
    let mut blocks = Vec::new();
    if let Some(Value::Array(thinking)) = m.rest.get("thinking_blocks") {
        blocks.extend(
            thinking
                .iter()
                .filter(|b| is_type(b, "thinking") || is_type(b, "redacted_thinking"))
                .cloned(),
        );
    }
    match &m.content {
        None => {}
        Some(MessageContent::Text(s)) => blocks.extend(text_block(s, None)),
        Some(MessageContent::Parts(parts)) => {
            for (j, p) in parts.iter().enumerate() {
                let text = match p.kind.as_str() {
                    "text" => p.text.as_deref().unwrap_or(""),
                    "refusal" => p.rest.get("refusal").and_then(Value::as_str).unwrap_or(""),
                    other => {
                        return Err(invalid(format!(
                            "{at}.content[{j}]: an assistant message may hold text and refusal parts, got \"{other}\""
                        )));
                    }
                };
                blocks.extend(text_block(text, part_cache_control(&p.rest)));
            }
        }
    }
    for (j, call) in m.tool_calls.iter().flatten().enumerate() {
        blocks.push(tool_use(call, &format!("{at}.tool_calls[{j}]"))?);
    }
    apply_message_cache_control(m, &mut blocks);
    Ok(blocks)
}

fn tool_use(call: &ToolCall, at: &str) -> Result<Value, PluginError> {
    if let Some(kind) = call.kind.as_deref().filter(|k| *k != "function") {
        return Err(invalid(format!(
            "{at}: only function tool calls are supported, got type \"{kind}\""
        )));
    }
    let id = call
        .id
        .as_deref()
        .filter(|id| !id.is_empty())
        .ok_or_else(|| invalid(format!("{at}: a tool call needs an id")))?;
    let function = call.function.as_ref();
    let name = function
        .and_then(|f| f.name.as_deref())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| invalid(format!("{at}: tool call {id} needs function.name")))?;
    let arguments = function.and_then(|f| f.arguments.as_deref()).unwrap_or("");
    let input = if arguments.trim().is_empty() {
        json!({})
    } else {
        serde_json::from_str::<Value>(arguments).map_err(|e| {
            invalid(format!(
                "{at}: the arguments of tool call {id} ({name}) are not valid JSON: {e}"
            ))
        })?
    };
    if !input.is_object() {
        return Err(invalid(format!(
            "{at}: the arguments of tool call {id} ({name}) must be a JSON object, got {input}"
        )));
    }
    Ok(json!({"type": "tool_use", "id": id, "name": name, "input": input}))
}

fn tool_result(m: &ChatMessage, at: &str) -> Result<Value, PluginError> {
    let id = m
        .tool_call_id
        .as_deref()
        .filter(|id| !id.is_empty())
        .ok_or_else(|| invalid(format!("{at}: a tool message needs tool_call_id")))?;
    let mut block = json!({"type": "tool_result", "tool_use_id": id});
    match &m.content {
        None => {}
        Some(MessageContent::Text(s)) => {
            if !s.is_empty() {
                block["content"] = Value::String(s.clone());
            }
        }
        parts @ Some(MessageContent::Parts(_)) => {
            let blocks = content_blocks(parts.as_ref(), at)?;
            if !blocks.is_empty() {
                block["content"] = Value::Array(blocks);
            }
        }
    }
    if let Some(cc) = message_cache_control(m) {
        block["cache_control"] = cc;
    }
    Ok(block)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(messages: Value) -> Result<(Option<Value>, Value), PluginError> {
        let messages: Vec<ChatMessage> = serde_json::from_value(messages).unwrap();
        convert(&messages).map(|c| (c.system, Value::Array(c.messages)))
    }

    fn ok(messages: Value) -> (Option<Value>, Value) {
        conv(messages).unwrap()
    }

    fn err(messages: Value) -> String {
        match conv(messages) {
            Err(PluginError::InvalidInput(m)) => m,
            other => panic!("expected invalid input, got {other:?}"),
        }
    }

    #[test]
    fn system_and_developer_become_system() {
        let (system, messages) = ok(json!([
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "hi"},
            {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}, {"type": "text", "text": "No emoji."}]},
            {"role": "system", "content": ""}
        ]));
        assert_eq!(
            system,
            Some(json!("You are terse.\n\nAnswer in French.\nNo emoji."))
        );
        assert_eq!(messages, json!([{"role": "user", "content": "hi"}]));
    }

    #[test]
    fn system_with_cache_control_is_blocks() {
        let (system, _) = ok(json!([
            {"role": "system", "content": [{"type": "text", "text": "long doc", "cache_control": {"type": "ephemeral"}}]},
            {"role": "system", "content": "short", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
            {"role": "user", "content": "hi"}
        ]));
        assert_eq!(
            system,
            Some(json!([
                {"type": "text", "text": "long doc", "cache_control": {"type": "ephemeral"}},
                {"type": "text", "text": "short", "cache_control": {"type": "ephemeral", "ttl": "1h"}}
            ]))
        );
        assert!(err(json!([{"role": "system", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}])).contains("only hold text"));
    }

    #[test]
    fn same_role_turns_merge() {
        let (_, messages) = ok(json!([
            {"role": "user", "content": "one"},
            {"role": "user", "content": [{"type": "text", "text": "two"}]},
            {"role": "assistant", "content": "three"},
            {"role": "assistant", "content": "four"},
            {"role": "user", "content": "five", "name": "bob"}
        ]));
        assert_eq!(
            messages,
            json!([
                {"role": "user", "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]},
                {"role": "assistant", "content": [{"type": "text", "text": "three"}, {"type": "text", "text": "four"}]},
                {"role": "user", "content": "five"}
            ])
        );
    }

    #[test]
    fn empty_messages_are_left_out_and_neighbours_merge() {
        let (_, messages) = ok(json!([
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": ""},
            {"role": "user", "content": "b"},
            {"role": "assistant", "content": null},
            {"role": "user", "content": [{"type": "text", "text": "  "}]}
        ]));
        assert_eq!(
            messages,
            json!([{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}])
        );
        assert!(err(json!([{"role": "system", "content": "s"}])).contains("at least one"));
        assert!(err(json!([])).contains("at least one"));
    }

    #[test]
    fn images() {
        let (_, messages) = ok(json!([{"role": "user", "content": [
            {"type": "text", "text": "what is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "high"}, "cache_control": {"type": "ephemeral"}}
        ]}]));
        assert_eq!(
            messages[0]["content"],
            json!([
                {"type": "text", "text": "what is this?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}, "cache_control": {"type": "ephemeral"}}
            ])
        );
        let bad = |url: &str| {
            err(
                json!([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}]),
            )
        };
        assert!(bad("data:image/png,raw").contains("data:"));
        assert!(bad("data:;base64,xx").contains("data:"));
        assert!(bad("ftp://x/y.png").contains("http"));
        assert!(
            err(json!([{"role": "user", "content": [{"type": "image_url"}]}]))
                .contains("image_url")
        );
    }

    #[test]
    fn files_audio_and_unknown_parts() {
        let (_, messages) = ok(json!([{"role": "user", "content": [
            {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"}}
        ]}]));
        assert_eq!(
            messages[0]["content"],
            json!([{"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="}}])
        );
        assert!(err(json!([{"role": "user", "content": [{"type": "file", "file": {"file_id": "file-1"}}]}])).contains("file_data"));
        assert!(err(json!([{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "x", "format": "wav"}}]}])).contains("audio"));
        assert!(
            err(json!([{"role": "user", "content": [{"type": "video", "x": 1}]}]))
                .contains("\"video\"")
        );
    }

    #[test]
    fn tool_round_trip() {
        let (_, messages) = ok(json!([
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {"role": "assistant", "content": "Checking.", "tool_calls": [
                {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "toolu_2", "type": "function", "function": {"name": "get_time", "arguments": ""}}
            ]},
            {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"},
            {"role": "tool", "tool_call_id": "toolu_2", "content": [{"type": "text", "text": "12:00"}]},
            {"role": "user", "content": "Thanks, summarise."}
        ]));
        assert_eq!(
            messages,
            json!([
                {"role": "user", "content": "Weather in Paris and Rome?"},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                    {"type": "tool_use", "id": "toolu_2", "name": "get_time", "input": {}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
                    {"type": "tool_result", "tool_use_id": "toolu_2", "content": [{"type": "text", "text": "12:00"}]},
                    {"type": "text", "text": "Thanks, summarise."}
                ]}
            ])
        );
    }

    #[test]
    fn tool_results_go_first_in_a_user_turn() {
        let (_, messages) = ok(json!([
            {"role": "assistant", "content": null, "tool_calls": [{"id": "t", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "user", "content": "by the way"},
            {"role": "tool", "tool_call_id": "t", "content": "", "cache_control": {"type": "ephemeral"}}
        ]));
        assert_eq!(
            messages[1]["content"],
            json!([
                {"type": "tool_result", "tool_use_id": "t", "cache_control": {"type": "ephemeral"}},
                {"type": "text", "text": "by the way"}
            ])
        );
    }

    #[test]
    fn bad_tool_calls_name_the_call() {
        let call = |c: Value| err(json!([{"role": "assistant", "tool_calls": [c]}]));
        let m = call(
            json!({"id": "call_9", "type": "function", "function": {"name": "lookup", "arguments": "{not json"}}),
        );
        assert!(
            m.contains("call_9") && m.contains("lookup") && m.contains("not valid JSON"),
            "{m}"
        );
        let m = call(
            json!({"id": "call_9", "type": "function", "function": {"name": "lookup", "arguments": "[1]"}}),
        );
        assert!(m.contains("call_9") && m.contains("JSON object"), "{m}");
        assert!(
            call(json!({"type": "function", "function": {"name": "f", "arguments": "{}"}}))
                .contains("needs an id")
        );
        assert!(
            call(json!({"id": "c", "type": "function", "function": {"arguments": "{}"}}))
                .contains("function.name")
        );
        assert!(
            call(json!({"id": "c", "type": "custom", "custom": {"name": "f"}})).contains("custom")
        );
        assert!(err(json!([{"role": "tool", "content": "x"}])).contains("tool_call_id"));
        assert!(
            err(json!([{"role": "function", "name": "f", "content": "x"}])).contains("function")
        );
        assert!(err(json!([{"role": "narrator", "content": "x"}])).contains("narrator"));
    }

    #[test]
    fn assistant_parts_thinking_and_cache_control() {
        let (_, messages) = ok(json!([
            {"role": "user", "content": "q"},
            {"role": "assistant",
             "content": [{"type": "text", "text": "a"}, {"type": "refusal", "refusal": "no"}],
             "thinking_blocks": [{"type": "thinking", "thinking": "hmm", "signature": "sig"}, {"type": "other"}],
             "cache_control": {"type": "ephemeral"}}
        ]));
        assert_eq!(
            messages[1]["content"],
            json!([
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "text", "text": "a"},
                {"type": "text", "text": "no", "cache_control": {"type": "ephemeral"}}
            ])
        );
        assert!(err(json!([{"role": "assistant", "content": [{"type": "image_url", "image_url": {"url": "https://x"}}]}])).contains("assistant"));
    }
}
