//! Chat requests: an OpenAI `chat.completions` body becomes a Gemini
//! `GenerateContentRequest`.
//!
//! - `system`/`developer` messages go to `system_instruction`;
//! - `user` turns keep role `user`, `assistant` turns become `model`, and
//!   consecutive turns of one role are merged (Gemini wants them alternating);
//! - images become `inline_data` (`data:` URLs) or `file_data` (links);
//! - assistant `tool_calls` become `functionCall` parts and `tool` messages
//!   `functionResponse` parts of a `user` turn, named after the call they
//!   answer;
//! - `tools`, `tool_choice` and the sampling parameters map to `tools`,
//!   `toolConfig` and `generationConfig`.
//!
//! Request fields Gemini has no counterpart for (`user`, `metadata`,
//! `logit_bias`, `stream_options`, ...) are not sent.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use switchyard_sdk::openai::{ChatMessage, ChatRequest, ContentPart, MessageContent, Tool};
use switchyard_sdk::provider::{BuildInput, Framing, HttpRequest, Outbound};
use switchyard_sdk::types::PluginError;

use crate::config::Config;
use crate::endpoint;
use crate::util;

fn invalid(message: String) -> PluginError {
    PluginError::InvalidInput(message)
}

pub fn build(input: &BuildInput, config: &Config) -> Result<Outbound, PluginError> {
    let request: ChatRequest = serde_json::from_str(&input.body)
        .map_err(|e| invalid(format!("the request is not a chat completion request: {e}")))?;
    let body = translate(&request)?;
    let stream = request.stream == Some(true);
    let url = if stream {
        format!(
            "{}?alt=sse",
            endpoint::url(&input.target, config, "streamGenerateContent")?
        )
    } else {
        endpoint::url(&input.target, config, "generateContent")?
    };
    Ok(Outbound::Send(HttpRequest {
        method: "POST".to_string(),
        url,
        headers: endpoint::headers(&input.target)?,
        body: serde_json::to_vec(&body)
            .map_err(|e| PluginError::Internal(format!("cannot serialise the request: {e}")))?,
        framing: Framing::Sse,
    }))
}

/// The Gemini request body for an OpenAI chat request.
pub fn translate(request: &ChatRequest) -> Result<Value, PluginError> {
    let (system, contents) = contents(&request.messages)?;
    let mut body = Map::new();
    body.insert("contents".into(), Value::Array(contents));
    if !system.is_empty() {
        body.insert("system_instruction".into(), json!({ "parts": system }));
    }
    if let Some(tools) = tools(request.tools.as_deref())? {
        body.insert("tools".into(), tools);
    }
    if let Some(choice) = tool_config(request.rest.get("tool_choice"))? {
        body.insert("toolConfig".into(), choice);
    }
    let generation = generation_config(request)?;
    if !generation.is_empty() {
        body.insert("generationConfig".into(), Value::Object(generation));
    }
    // Gemini-specific settings a client or deployment may pass along.
    for (names, to) in [
        (["safety_settings", "safetySettings"], "safetySettings"),
        (["cached_content", "cachedContent"], "cachedContent"),
    ] {
        if let Some(v) = names
            .iter()
            .find_map(|n| request.rest.get(*n))
            .filter(|v| !v.is_null())
        {
            body.insert(to.into(), v.clone());
        }
    }
    Ok(Value::Object(body))
}

/// One `Content` of the conversation being built.
struct Turn {
    role: &'static str,
    parts: Vec<Value>,
}

/// Appends parts as a turn of `role`, merged into the previous turn when it
/// has the same role. Empty turns are dropped.
fn push_turn(turns: &mut Vec<Turn>, role: &'static str, parts: Vec<Value>) {
    if parts.is_empty() {
        return;
    }
    match turns.last_mut() {
        Some(last) if last.role == role => last.parts.extend(parts),
        _ => turns.push(Turn { role, parts }),
    }
}

/// The system instruction's parts and the conversation's contents.
fn contents(messages: &[ChatMessage]) -> Result<(Vec<Value>, Vec<Value>), PluginError> {
    let mut system = Vec::new();
    let mut turns: Vec<Turn> = Vec::new();
    // Tool call id -> function name, from the assistant turns seen so far (the
    // latest call with an id wins, as ids may repeat across turns).
    let mut call_names: BTreeMap<&str, &str> = BTreeMap::new();
    for (i, m) in messages.iter().enumerate() {
        match m.role.as_str() {
            "system" | "developer" => system.extend(parts(m, i)?),
            "user" => push_turn(&mut turns, "user", parts(m, i)?),
            "assistant" => {
                let mut out = parts(m, i)?;
                for (n, call) in m.tool_calls.iter().flatten().enumerate() {
                    let (name, args) = function_call(call, i, n)?;
                    if let Some(id) = call.id.as_deref() {
                        call_names.insert(id, name);
                    }
                    out.push(json!({"functionCall": {"name": name, "args": args}}));
                }
                push_turn(&mut turns, "model", out);
            }
            "tool" | "function" => {
                let name = m
                    .tool_call_id
                    .as_deref()
                    .and_then(|id| call_names.get(id).copied())
                    .or(m.name.as_deref())
                    .ok_or_else(|| {
                        invalid(match &m.tool_call_id {
                            Some(id) => format!(
                                "messages[{i}]: no earlier assistant message has a tool call with id \"{id}\", so its function name is unknown"
                            ),
                            None => format!("messages[{i}]: a {} message needs tool_call_id", m.role),
                        })
                    })?;
                let text = m
                    .content
                    .as_ref()
                    .map(MessageContent::text)
                    .unwrap_or_default();
                let content = serde_json::from_str::<Value>(&text)
                    .unwrap_or_else(|_| json!({ "result": text }));
                push_turn(
                    &mut turns,
                    "user",
                    vec![
                        json!({"functionResponse": {"name": name, "response": {"content": content}}}),
                    ],
                );
            }
            other => {
                return Err(invalid(format!(
                    "messages[{i}]: the role \"{other}\" is not supported by the gemini adapter"
                )));
            }
        }
    }
    let contents = turns
        .into_iter()
        .map(|t| json!({"role": t.role, "parts": t.parts}))
        .collect();
    Ok((system, contents))
}

/// The name and parsed arguments of an assistant tool call.
fn function_call(
    call: &switchyard_sdk::openai::ToolCall,
    i: usize,
    n: usize,
) -> Result<(&str, Value), PluginError> {
    let label = match call.id.as_deref() {
        Some(id) => format!("messages[{i}].tool_calls[{n}] (id \"{id}\")"),
        None => format!("messages[{i}].tool_calls[{n}]"),
    };
    let function = call
        .function
        .as_ref()
        .ok_or_else(|| invalid(format!("{label} has no function")))?;
    let name = function
        .name
        .as_deref()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| invalid(format!("{label} has no function name")))?;
    let arguments = function.arguments.as_deref().unwrap_or("").trim();
    let args = if arguments.is_empty() {
        json!({})
    } else {
        serde_json::from_str::<Value>(arguments).map_err(|e| {
            invalid(format!(
                "{label}: the arguments of \"{name}\" are not valid JSON: {e}"
            ))
        })?
    };
    if !args.is_object() {
        return Err(invalid(format!(
            "{label}: the arguments of \"{name}\" must be a JSON object"
        )));
    }
    Ok((name, args))
}

/// A message's content as Gemini parts (empty text left out).
fn parts(m: &ChatMessage, i: usize) -> Result<Vec<Value>, PluginError> {
    match &m.content {
        None => Ok(vec![]),
        Some(MessageContent::Text(t)) if t.is_empty() => Ok(vec![]),
        Some(MessageContent::Text(t)) => Ok(vec![json!({ "text": t })]),
        Some(MessageContent::Parts(ps)) => ps
            .iter()
            .enumerate()
            .filter_map(|(j, p)| part(p, i, j).transpose())
            .collect(),
    }
}

fn part(p: &ContentPart, i: usize, j: usize) -> Result<Option<Value>, PluginError> {
    let at = || format!("messages[{i}].content[{j}]");
    match p.kind.as_str() {
        "text" => Ok(p
            .text
            .as_deref()
            .filter(|t| !t.is_empty())
            .map(|t| json!({ "text": t }))),
        "image_url" => {
            let url = p.image_url.as_ref().map(|u| u.url.trim()).ok_or_else(|| {
                invalid(format!("{}: an image_url part needs image_url.url", at()))
            })?;
            media(url, None, &at).map(Some)
        }
        "input_audio" => {
            let audio = p.rest.get("input_audio");
            let data = audio.and_then(|a| a.get("data")).and_then(Value::as_str);
            let format = audio.and_then(|a| a.get("format")).and_then(Value::as_str);
            match (data, format) {
                (Some(data), Some(format)) => Ok(Some(
                    json!({"inline_data": {"mime_type": format!("audio/{format}"), "data": data}}),
                )),
                _ => Err(invalid(format!(
                    "{}: an input_audio part needs input_audio.data and input_audio.format",
                    at()
                ))),
            }
        }
        "file" => {
            let file = p.rest.get("file");
            let get = |k: &str| file.and_then(|f| f.get(k)).and_then(Value::as_str);
            let mime = get("format");
            let name = get("filename");
            if let Some(data) = get("file_data") {
                if data.starts_with("data:") {
                    return media(data, mime, &at).map(Some);
                }
                let mime = mime.or_else(|| name.and_then(util::mime_from_name)).ok_or_else(|| {
                    invalid(format!(
                        "{}: a file part with raw base64 file_data needs file.format (its MIME type)",
                        at()
                    ))
                })?;
                return Ok(Some(
                    json!({"inline_data": {"mime_type": mime, "data": data}}),
                ));
            }
            if let Some(id) = get("file_id") {
                let mime = mime
                    .or_else(|| name.and_then(util::mime_from_name))
                    .or_else(|| util::mime_from_name(id))
                    .unwrap_or("application/pdf");
                return Ok(Some(
                    json!({"file_data": {"file_uri": id, "mime_type": mime}}),
                ));
            }
            Err(invalid(format!(
                "{}: a file part needs file.file_data or file.file_id",
                at()
            )))
        }
        other => Err(invalid(format!(
            "{}: the content part type \"{other}\" is not supported by the gemini adapter",
            at()
        ))),
    }
}

/// An image (or other media) by URL: `inline_data` for a base64 `data:` URL,
/// `file_data` for a link, with the MIME type guessed from its extension.
fn media(url: &str, mime: Option<&str>, at: &dyn Fn() -> String) -> Result<Value, PluginError> {
    if url.starts_with("data:") {
        let (data_mime, data) = util::parse_data_url(url).ok_or_else(|| {
            invalid(format!(
                "{}: a data: URL must look like data:<mime type>;base64,<data>",
                at()
            ))
        })?;
        return Ok(json!({"inline_data": {"mime_type": mime.unwrap_or(data_mime), "data": data}}));
    }
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    if !matches!(scheme.as_deref(), Some("http" | "https" | "gs")) {
        return Err(invalid(format!(
            "{}: the image URL must be http(s), gs:// or a base64 data: URL",
            at()
        )));
    }
    let mime = mime
        .or_else(|| util::mime_from_name(url))
        .unwrap_or("image/jpeg");
    Ok(json!({"file_data": {"file_uri": url, "mime_type": mime}}))
}

/// `tools: [{functionDeclarations: [...]}]`.
fn tools(tools: Option<&[Tool]>) -> Result<Option<Value>, PluginError> {
    let Some(tools) = tools.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let mut declarations = Vec::new();
    for (i, t) in tools.iter().enumerate() {
        if t.kind != "function" {
            return Err(invalid(format!(
                "tools[{i}]: the tool type \"{}\" is not supported by the gemini adapter (only function)",
                t.kind
            )));
        }
        let f = t
            .function
            .as_ref()
            .ok_or_else(|| invalid(format!("tools[{i}] has no function")))?;
        let mut d = Map::new();
        d.insert("name".into(), Value::String(f.name.clone()));
        if let Some(desc) = &f.description {
            d.insert("description".into(), Value::String(desc.clone()));
        }
        if let Some(params) = f.parameters.as_ref().filter(|p| !is_empty_object_schema(p)) {
            d.insert("parameters".into(), params.clone());
        }
        declarations.push(Value::Object(d));
    }
    Ok(Some(json!([{ "functionDeclarations": declarations }])))
}

/// `{"type": "object"}` with no properties: Gemini rejects an OBJECT schema
/// without properties, and a function without `parameters` means the same.
fn is_empty_object_schema(schema: &Value) -> bool {
    match schema {
        Value::Null => true,
        Value::Object(m) => {
            m.get("type").is_none_or(|t| t == "object")
                && m.get("properties")
                    .is_none_or(|p| p.as_object().is_some_and(Map::is_empty))
                && !m.contains_key("anyOf")
                && !m.contains_key("oneOf")
        }
        _ => false,
    }
}

/// `toolConfig.functionCallingConfig` for `tool_choice`.
fn tool_config(choice: Option<&Value>) -> Result<Option<Value>, PluginError> {
    let mode = |m: &str| Some(json!({"functionCallingConfig": {"mode": m}}));
    match choice {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => match s.as_str() {
            "auto" => Ok(mode("AUTO")),
            "none" => Ok(mode("NONE")),
            "required" => Ok(mode("ANY")),
            other => Err(invalid(format!("tool_choice \"{other}\" is not supported"))),
        },
        Some(v @ Value::Object(_)) => {
            let name = v
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .ok_or_else(|| {
                    invalid(format!("tool_choice {v} is not supported: expected {{\"type\": \"function\", \"function\": {{\"name\": ...}}}}"))
                })?;
            Ok(Some(json!({"functionCallingConfig": {
                "mode": "ANY",
                "allowedFunctionNames": [name],
            }})))
        }
        Some(v) => Err(invalid(format!("tool_choice {v} is not supported"))),
    }
}

/// `generationConfig` from the sampling and output parameters.
fn generation_config(request: &ChatRequest) -> Result<Map<String, Value>, PluginError> {
    let mut g = Map::new();
    let rest = &request.rest;
    let set = |g: &mut Map<String, Value>, from: &str, to: &str| {
        if let Some(v) = rest.get(from).filter(|v| !v.is_null()) {
            g.insert(to.to_string(), v.clone());
        }
    };
    set(&mut g, "temperature", "temperature");
    set(&mut g, "top_p", "topP");
    set(&mut g, "top_k", "topK");
    if let Some(max) = request.max_completion_tokens.or(request.max_tokens) {
        g.insert("maxOutputTokens".into(), max.into());
    }
    match rest.get("stop") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => {
            g.insert("stopSequences".into(), json!([s]));
        }
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => {
            if !a.is_empty() {
                g.insert("stopSequences".into(), Value::Array(a.clone()));
            }
        }
        Some(v) => {
            return Err(invalid(format!(
                "stop must be a string or a list of strings, not {v}"
            )));
        }
    }
    set(&mut g, "n", "candidateCount");
    match rest.get("response_format") {
        None | Some(Value::Null) => {}
        Some(f) => match f.get("type").and_then(Value::as_str) {
            Some("text") => {}
            Some("json_object") => {
                g.insert("responseMimeType".into(), json!("application/json"));
            }
            Some("json_schema") => {
                g.insert("responseMimeType".into(), json!("application/json"));
                if let Some(schema) = f
                    .get("json_schema")
                    .and_then(|s| s.get("schema"))
                    .filter(|s| !s.is_null())
                {
                    g.insert("responseSchema".into(), schema.clone());
                }
            }
            _ => {
                return Err(invalid(format!(
                    "response_format {f} is not supported (text, json_object or json_schema)"
                )));
            }
        },
    }
    set(&mut g, "seed", "seed");
    set(&mut g, "presence_penalty", "presencePenalty");
    set(&mut g, "frequency_penalty", "frequencyPenalty");
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{chat, fixture, send, sent_body};
    use serde_json::json;

    fn gemini(body: Value) -> Value {
        let req: ChatRequest = serde_json::from_value(body).unwrap();
        translate(&req).unwrap()
    }

    fn error(body: Value) -> String {
        let req: ChatRequest = serde_json::from_value(body).unwrap();
        match translate(&req) {
            Err(PluginError::InvalidInput(m)) => m,
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    #[test]
    fn golden_request() {
        let r = send(chat(fixture("chat_request.openai.json")));
        assert_eq!(sent_body(&r), fixture("chat_request.gemini.json"));
        assert_eq!(
            r.url,
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent"
        );
    }

    #[test]
    fn stream_url() {
        let r = send(chat(
            json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "hi"}]}),
        ));
        assert!(
            r.url
                .ends_with("models/gemini-2.0-flash:streamGenerateContent?alt=sse")
        );
        assert_eq!(r.framing, Framing::Sse);
    }

    #[test]
    fn roles_merge_and_system() {
        let g = gemini(json!({"model": "m", "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "developer", "content": [{"type": "text", "text": "and kind"}]},
            {"role": "user", "content": "a"},
            {"role": "user", "content": "b"},
            {"role": "assistant", "content": "c"},
            {"role": "assistant", "content": ""},
            {"role": "user", "content": "d"}
        ]}));
        assert_eq!(
            g,
            json!({
                "system_instruction": {"parts": [{"text": "be brief"}, {"text": "and kind"}]},
                "contents": [
                    {"role": "user", "parts": [{"text": "a"}, {"text": "b"}]},
                    {"role": "model", "parts": [{"text": "c"}]},
                    {"role": "user", "parts": [{"text": "d"}]}
                ]
            })
        );
    }

    #[test]
    fn images_audio_files() {
        let g = gemini(
            json!({"model": "m", "messages": [{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO"}},
                {"type": "image_url", "image_url": {"url": "https://x.test/cat.webp?size=2"}},
                {"type": "image_url", "image_url": {"url": "https://x.test/cat"}},
                {"type": "input_audio", "input_audio": {"data": "UklG", "format": "wav"}},
                {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"}},
                {"type": "file", "file": {"file_id": "https://generativelanguage.googleapis.com/v1beta/files/abc", "format": "video/mp4"}}
            ]}]}),
        );
        assert_eq!(
            g["contents"][0]["parts"],
            json!([
                {"inline_data": {"mime_type": "image/png", "data": "iVBO"}},
                {"file_data": {"file_uri": "https://x.test/cat.webp?size=2", "mime_type": "image/webp"}},
                {"file_data": {"file_uri": "https://x.test/cat", "mime_type": "image/jpeg"}},
                {"inline_data": {"mime_type": "audio/wav", "data": "UklG"}},
                {"inline_data": {"mime_type": "application/pdf", "data": "JVBE"}},
                {"file_data": {"file_uri": "https://generativelanguage.googleapis.com/v1beta/files/abc", "mime_type": "video/mp4"}}
            ])
        );
        let m = error(
            json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png,xx"}}]}]}),
        );
        assert!(
            m.contains("messages[0].content[0]") && m.contains("base64"),
            "{m}"
        );
        let m = error(
            json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "ftp://x/y.png"}}]}]}),
        );
        assert!(m.contains("http"), "{m}");
        let m = error(
            json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "refusal", "refusal": "x"}]}]}),
        );
        assert!(m.contains("refusal"), "{m}");
    }

    #[test]
    fn tool_round_trip_names_responses() {
        let g = gemini(json!({"model": "m", "messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_0_0", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_0_1", "type": "function", "function": {"name": "time", "arguments": ""}}
            ]},
            {"role": "tool", "tool_call_id": "call_0_0", "content": "{\"temp\": 21}"},
            {"role": "tool", "tool_call_id": "call_0_1", "content": "noon"},
            {"role": "assistant", "content": "ok", "tool_calls": [
                {"id": "call_0_0", "type": "function", "function": {"name": "again", "arguments": "{}"}}
            ]},
            {"role": "tool", "tool_call_id": "call_0_0", "content": "[1,2]"}
        ]}));
        assert_eq!(
            g["contents"],
            json!([
                {"role": "user", "parts": [{"text": "weather?"}]},
                {"role": "model", "parts": [
                    {"functionCall": {"name": "weather", "args": {"city": "Paris"}}},
                    {"functionCall": {"name": "time", "args": {}}}
                ]},
                {"role": "user", "parts": [
                    {"functionResponse": {"name": "weather", "response": {"content": {"temp": 21}}}},
                    {"functionResponse": {"name": "time", "response": {"content": {"result": "noon"}}}}
                ]},
                {"role": "model", "parts": [{"text": "ok"}, {"functionCall": {"name": "again", "args": {}}}]},
                {"role": "user", "parts": [{"functionResponse": {"name": "again", "response": {"content": [1, 2]}}}]}
            ])
        );
    }

    #[test]
    fn tool_errors_name_the_call() {
        let m = error(json!({"model": "m", "messages": [
            {"role": "assistant", "tool_calls": [{"id": "c9", "type": "function", "function": {"name": "f", "arguments": "{oops"}}]}
        ]}));
        assert!(
            m.contains("c9") && m.contains("\"f\"") && m.contains("not valid JSON"),
            "{m}"
        );
        let m = error(json!({"model": "m", "messages": [
            {"role": "assistant", "tool_calls": [{"id": "c9", "type": "function", "function": {"name": "f", "arguments": "[1]"}}]}
        ]}));
        assert!(m.contains("object"), "{m}");
        let m = error(json!({"model": "m", "messages": [
            {"role": "tool", "tool_call_id": "nope", "content": "x"}
        ]}));
        assert!(m.contains("nope"), "{m}");
        let m = error(json!({"model": "m", "messages": [{"role": "critic", "content": "x"}]}));
        assert!(m.contains("critic"), "{m}");
        // A tool message with a name but an unknown id still gets its name.
        let g = gemini(json!({"model": "m", "messages": [
            {"role": "tool", "tool_call_id": "zz", "name": "lookup", "content": "x"}
        ]}));
        assert_eq!(
            g["contents"][0]["parts"][0]["functionResponse"]["name"],
            "lookup"
        );
    }

    #[test]
    fn tools_and_choices() {
        let tools = json!([
            {"type": "function", "function": {"name": "weather", "description": "Weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
            {"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}}
        ]);
        let cases = [
            (
                json!("auto"),
                json!({"functionCallingConfig": {"mode": "AUTO"}}),
            ),
            (
                json!("none"),
                json!({"functionCallingConfig": {"mode": "NONE"}}),
            ),
            (
                json!("required"),
                json!({"functionCallingConfig": {"mode": "ANY"}}),
            ),
            (
                json!({"type": "function", "function": {"name": "weather"}}),
                json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["weather"]}}),
            ),
        ];
        for (choice, want) in cases {
            let g = gemini(
                json!({"model": "m", "messages": [], "tools": tools, "tool_choice": choice}),
            );
            assert_eq!(g["toolConfig"], want);
            assert_eq!(
                g["tools"],
                json!([{"functionDeclarations": [
                    {"name": "weather", "description": "Weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
                    {"name": "now"}
                ]}])
            );
        }
        assert!(
            error(json!({"model": "m", "messages": [], "tool_choice": "sometimes"}))
                .contains("sometimes")
        );
        assert!(
            error(json!({"model": "m", "messages": [], "tools": [{"type": "web_search"}]}))
                .contains("web_search")
        );
    }

    #[test]
    fn generation_config_mapping() {
        let g = gemini(json!({"model": "m", "messages": [],
            "temperature": 0.3, "top_p": 0.9, "max_tokens": 100, "max_completion_tokens": 200,
            "stop": "END", "n": 2, "seed": 7, "presence_penalty": 0.5, "frequency_penalty": -0.5,
            "response_format": {"type": "json_object"}, "user": "u1", "stream_options": {"include_usage": true}
        }));
        assert_eq!(
            g,
            json!({"contents": [], "generationConfig": {
                "temperature": 0.3, "topP": 0.9, "maxOutputTokens": 200, "stopSequences": ["END"],
                "candidateCount": 2, "seed": 7, "presencePenalty": 0.5, "frequencyPenalty": -0.5,
                "responseMimeType": "application/json"
            }})
        );
        let schema = json!({"type": "object", "properties": {"a": {"type": "integer"}}});
        let g = gemini(json!({"model": "m", "messages": [], "stop": ["a", "b"],
            "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema, "strict": true}}}));
        assert_eq!(
            g["generationConfig"],
            json!({"stopSequences": ["a", "b"], "responseMimeType": "application/json", "responseSchema": schema})
        );
        let g = gemini(
            json!({"model": "m", "messages": [], "response_format": {"type": "text"}, "temperature": null}),
        );
        assert!(g.get("generationConfig").is_none());
        assert!(error(json!({"model": "m", "messages": [], "stop": 3})).contains("stop"));
        assert!(
            error(json!({"model": "m", "messages": [], "response_format": {"type": "yaml"}}))
                .contains("response_format")
        );
    }

    #[test]
    fn passthrough_settings() {
        let g = gemini(json!({"model": "m", "messages": [],
            "safety_settings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
            "cachedContent": "cachedContents/abc"}));
        assert_eq!(g["safetySettings"][0]["threshold"], "BLOCK_NONE");
        assert_eq!(g["cachedContent"], "cachedContents/abc");
    }

    #[test]
    fn not_a_chat_request() {
        let mut input = chat(json!({"model": "m"}));
        assert!(matches!(
            build(&input, &Config::default()),
            Err(PluginError::InvalidInput(m)) if m.contains("not a chat completion request")
        ));
        input.body = "{".into();
        assert!(build(&input, &Config::default()).is_err());
    }
}
