//! Chat answers: a Gemini `GenerateContentResponse` becomes an OpenAI
//! `chat.completion` (also the shapes the stream decoder reads).

use serde::Deserialize;
use serde_json::{Value, json};
use switchyard_sdk::adapter::{self, bad_answer, snippet};
use switchyard_sdk::provider::{BuildInput, HttpResponse, ParseError, ParsedResponse};
use switchyard_sdk::types::Usage;

use crate::errors;
use crate::util;

/// `GenerateContentResponse`, as much of it as the adapter reads.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateContentResponse {
    #[serde(default)]
    pub candidates: Vec<Candidate>,
    #[serde(default)]
    pub prompt_feedback: Option<PromptFeedback>,
    #[serde(default)]
    pub usage_metadata: Option<UsageMetadata>,
    #[serde(default)]
    pub model_version: Option<String>,
    #[serde(default)]
    pub response_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    #[serde(default)]
    pub content: Option<Content>,
    #[serde(default)]
    pub finish_reason: Option<String>,
    /// Absent for the first candidate (proto3 leaves out zeros).
    #[serde(default)]
    pub index: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Content {
    #[serde(default)]
    pub parts: Vec<Part>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Part {
    #[serde(default)]
    pub text: Option<String>,
    /// A thought summary (with `includeThoughts`), not the answer.
    #[serde(default)]
    pub thought: bool,
    #[serde(default)]
    pub function_call: Option<FunctionCall>,
}

#[derive(Debug, Default, Deserialize)]
pub struct FunctionCall {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub args: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PromptFeedback {
    #[serde(default)]
    pub block_reason: Option<String>,
    #[serde(default)]
    pub block_reason_message: Option<String>,
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageMetadata {
    #[serde(default)]
    pub prompt_token_count: u64,
    #[serde(default)]
    pub candidates_token_count: u64,
    #[serde(default)]
    pub thoughts_token_count: u64,
    #[serde(default)]
    pub cached_content_token_count: u64,
    #[serde(default)]
    pub tool_use_prompt_token_count: u64,
}

impl UsageMetadata {
    /// Input tokens: the prompt's, and the tool-use prompt's (both billed
    /// as input).
    fn input(&self) -> u64 {
        self.prompt_token_count + self.tool_use_prompt_token_count
    }

    /// Output tokens: the candidates' and the thoughts'.
    fn output(&self) -> u64 {
        self.candidates_token_count + self.thoughts_token_count
    }

    /// The contract's usage.
    pub fn to_usage(&self) -> Usage {
        Usage {
            input_tokens: self.input(),
            output_tokens: self.output(),
            cache_read_tokens: self.cached_content_token_count,
            cache_write_tokens: 0,
            reasoning_tokens: self.thoughts_token_count,
            extra: vec![],
        }
    }

    /// OpenAI's `usage` object.
    pub fn to_openai(&self) -> Value {
        json!({
            "prompt_tokens": self.input(),
            "completion_tokens": self.output(),
            "total_tokens": self.input() + self.output(),
            "prompt_tokens_details": {"cached_tokens": self.cached_content_token_count},
            "completion_tokens_details": {"reasoning_tokens": self.thoughts_token_count},
        })
    }
}

/// OpenAI's `finish_reason` for Gemini's `finishReason`.
pub fn finish_reason(reason: &str, has_tool_calls: bool) -> &'static str {
    match reason {
        "MAX_TOKENS" => "length",
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            "content_filter"
        }
        _ if has_tool_calls => "tool_calls",
        // STOP, and reasons OpenAI has no word for (OTHER, LANGUAGE,
        // MALFORMED_FUNCTION_CALL, ...).
        _ => "stop",
    }
}

/// The id of a function call Gemini gave none: `call_<candidate>_<n>`.
pub fn call_id(call: &FunctionCall, candidate: u32, n: u32) -> String {
    match call.id.as_deref().filter(|id| !id.is_empty()) {
        Some(id) => id.to_string(),
        None => format!("call_{candidate}_{n}"),
    }
}

/// An OpenAI tool call (`index` set for stream deltas).
pub fn tool_call(call: &FunctionCall, id: String, index: Option<u32>) -> Value {
    let arguments = match &call.args {
        None | Some(Value::Null) => "{}".to_string(),
        Some(args) => args.to_string(),
    };
    let mut v = json!({
        "id": id,
        "type": "function",
        "function": {"name": call.name, "arguments": arguments},
    });
    if let Some(i) = index {
        v["index"] = json!(i);
    }
    v
}

/// What a candidate's parts say: answer text, thought text, function calls.
#[derive(Default)]
pub struct Pieces<'a> {
    pub text: Option<String>,
    pub thoughts: Option<String>,
    pub calls: Vec<&'a FunctionCall>,
}

pub fn pieces(candidate: &Candidate) -> Pieces<'_> {
    let mut p = Pieces::default();
    for part in candidate.content.iter().flat_map(|c| &c.parts) {
        if let Some(t) = &part.text {
            let slot = if part.thought {
                &mut p.thoughts
            } else {
                &mut p.text
            };
            slot.get_or_insert_with(String::new).push_str(t);
        }
        if let Some(call) = &part.function_call {
            p.calls.push(call);
        }
    }
    p
}

/// Reads a 2xx body as a `GenerateContentResponse`, turning an embedded
/// error or a blocked prompt into the provider error it is.
pub fn read(value: &Value) -> Result<GenerateContentResponse, ParseError> {
    if let Some(e) = errors::from_embedded(value) {
        return Err(ParseError::Provider(e));
    }
    let r = GenerateContentResponse::deserialize(value).map_err(|e| {
        bad_answer(format!(
            "the answer is not a GenerateContentResponse ({e}): {}",
            snippet(&value.to_string())
        ))
    })?;
    if r.candidates.is_empty()
        && let Some(reason) = r
            .prompt_feedback
            .as_ref()
            .and_then(|f| f.block_reason.as_deref())
    {
        let message = r
            .prompt_feedback
            .as_ref()
            .and_then(|f| f.block_reason_message.as_deref());
        return Err(ParseError::Provider(errors::prompt_blocked(
            reason, message,
        )));
    }
    Ok(r)
}

pub fn parse(input: &BuildInput, response: &HttpResponse) -> Result<ParsedResponse, ParseError> {
    let value = adapter::body_json(response.status, &response.body)?;
    let r = read(&value)?;
    if r.candidates.is_empty() {
        return Err(ParseError::Provider(
            switchyard_sdk::provider::ProviderError {
                status: 502,
                class: switchyard_sdk::provider::ErrorClass::ServerError,
                message: "Gemini answered without candidates".to_string(),
                code: None,
            },
        ));
    }
    let choices: Vec<Value> = r
        .candidates
        .iter()
        .enumerate()
        .map(|(pos, c)| choice(c, c.index.unwrap_or(pos as u32)))
        .collect();
    let created = response
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("date"))
        .and_then(|h| util::parse_http_date(&h.value))
        .unwrap_or_else(|| adapter::created(&input.target));
    let id = r
        .response_id
        .clone()
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| format!("chatcmpl-gemini-{:016x}", util::fnv1a(&response.body)));
    let mut body = json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": r.model_version.as_deref().unwrap_or(&input.target.model),
        "choices": choices,
    });
    if let Some(u) = &r.usage_metadata {
        body["usage"] = u.to_openai();
    }
    Ok(ParsedResponse {
        body: body.to_string(),
        usage: r.usage_metadata.as_ref().map(UsageMetadata::to_usage),
    })
}

/// One `chat.completion` choice for a candidate.
fn choice(c: &Candidate, index: u32) -> Value {
    let p = pieces(c);
    let calls: Vec<Value> = p
        .calls
        .iter()
        .zip(0u32..)
        .map(|(call, n)| tool_call(call, call_id(call, index, n), None))
        .collect();
    let content = match (&p.text, calls.is_empty()) {
        (Some(t), _) => json!(t),
        (None, false) => Value::Null,
        (None, true) => json!(""),
    };
    let mut message = json!({"role": "assistant", "content": content});
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    if let Some(t) = p.thoughts {
        message["reasoning_content"] = json!(t);
    }
    json!({
        "index": index,
        "message": message,
        "finish_reason": c.finish_reason.as_deref().map(|r| finish_reason(r, !p.calls.is_empty())),
        "logprobs": null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{chat, fixture};
    use switchyard_sdk::provider::{ErrorClass, Header, ProviderError};
    use switchyard_sdk::testing::http_response;
    use switchyard_sdk::types::PluginError;

    fn input() -> BuildInput {
        chat(json!({"model": "g", "messages": [{"role": "user", "content": "hi"}]}))
    }

    fn ok(body: Value) -> (Value, Option<Usage>) {
        let p = parse(&input(), &http_response(200, &body.to_string())).unwrap();
        (serde_json::from_str(&p.body).unwrap(), p.usage)
    }

    fn provider_err(body: Value) -> ProviderError {
        match parse(&input(), &http_response(200, &body.to_string())) {
            Err(ParseError::Provider(e)) => e,
            other => panic!("expected a provider error, got {other:?}"),
        }
    }

    #[test]
    fn each_token_class() {
        // (usageMetadata, (input, output, cache read, cache write, reasoning)).
        for (meta, want) in [
            (
                json!({"promptTokenCount": 100, "candidatesTokenCount": 40}),
                (100, 40, 0, 0, 0),
            ),
            // Cached content is part of the prompt's count.
            (
                json!({"promptTokenCount": 100, "candidatesTokenCount": 40, "cachedContentTokenCount": 64}),
                (100, 40, 64, 0, 0),
            ),
            // Thinking is output, and reasoning.
            (
                json!({"promptTokenCount": 100, "candidatesTokenCount": 40, "thoughtsTokenCount": 300}),
                (100, 340, 0, 0, 300),
            ),
            // The tool-use prompt is input.
            (
                json!({"promptTokenCount": 100, "candidatesTokenCount": 40, "toolUsePromptTokenCount": 12}),
                (112, 40, 0, 0, 0),
            ),
        ] {
            let (body, usage) = ok(json!({
                "candidates": [{"content": {"role": "model", "parts": [{"text": "hi"}]}, "finishReason": "STOP"}],
                "usageMetadata": meta,
            }));
            let u = usage.unwrap();
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
            // The client's usage says the same.
            assert_eq!(body["usage"]["prompt_tokens"], want.0);
            assert_eq!(body["usage"]["completion_tokens"], want.1);
            assert_eq!(
                body["usage"]["prompt_tokens_details"]["cached_tokens"],
                want.2
            );
            assert_eq!(
                body["usage"]["completion_tokens_details"]["reasoning_tokens"],
                want.4
            );
        }
    }

    #[test]
    fn golden_response() {
        let mut response = http_response(200, &fixture("chat_response.gemini.json").to_string());
        response.headers.push(Header {
            name: "Date".into(),
            value: "Sat, 22 Nov 2025 10:00:00 GMT".into(),
        });
        let p = parse(&input(), &response).unwrap();
        let body: Value = serde_json::from_str(&p.body).unwrap();
        assert_eq!(body, fixture("chat_response.openai.json"));
        // And it is a valid chat.completion for the SDK's types.
        serde_json::from_value::<switchyard_sdk::openai::ChatResponse>(body).unwrap();
        let u = p.usage.unwrap();
        assert_eq!(
            (
                u.input_tokens,
                u.output_tokens,
                u.cache_read_tokens,
                u.reasoning_tokens
            ),
            (1200, 148, 1024, 100)
        );
    }

    #[test]
    fn simple_text_and_defaults() {
        let (b, u) = ok(
            json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}, {"text": "lo"}]}, "finishReason": "STOP"}]}),
        );
        assert_eq!(
            b["choices"][0]["message"],
            json!({"role": "assistant", "content": "Hello"})
        );
        assert_eq!(b["choices"][0]["finish_reason"], "stop");
        assert_eq!(b["choices"][0]["index"], 0);
        assert_eq!(b["model"], "gemini-2.0-flash");
        assert_eq!(b["created"], 0);
        assert!(b["id"].as_str().unwrap().starts_with("chatcmpl-gemini-"));
        assert!(b.get("usage").is_none() && u.is_none());
    }

    #[test]
    fn finish_reasons() {
        for (reason, want) in [
            ("STOP", "stop"),
            ("MAX_TOKENS", "length"),
            ("SAFETY", "content_filter"),
            ("RECITATION", "content_filter"),
            ("BLOCKLIST", "content_filter"),
            ("PROHIBITED_CONTENT", "content_filter"),
            ("SPII", "content_filter"),
            ("OTHER", "stop"),
        ] {
            let (b, _) = ok(
                json!({"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": reason}]}),
            );
            assert_eq!(b["choices"][0]["finish_reason"], want, "{reason}");
        }
        let (b, _) = ok(json!({"candidates": [{"finishReason": "SAFETY", "safetyRatings": []}]}));
        assert_eq!(b["choices"][0]["message"]["content"], "");
        let (b, _) = ok(json!({"candidates": [{"content": {"parts": [{"text": "x"}]}}]}));
        assert_eq!(b["choices"][0]["finish_reason"], Value::Null);
    }

    #[test]
    fn function_calls_become_tool_calls() {
        let (b, _) = ok(json!({"candidates": [
            {"content": {"role": "model", "parts": [
                {"functionCall": {"name": "a", "args": {"x": 1}}},
                {"functionCall": {"name": "b"}}
            ]}, "finishReason": "STOP"},
            {"index": 1, "content": {"role": "model", "parts": [{"text": "no"}, {"functionCall": {"id": "g-1", "name": "c", "args": {}}}]}, "finishReason": "STOP"}
        ]}));
        assert_eq!(
            b["choices"][0],
            json!({"index": 0, "finish_reason": "tool_calls", "logprobs": null, "message": {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_0_0", "type": "function", "function": {"name": "a", "arguments": "{\"x\":1}"}},
                {"id": "call_0_1", "type": "function", "function": {"name": "b", "arguments": "{}"}}
            ]}})
        );
        assert_eq!(b["choices"][1]["index"], 1);
        assert_eq!(b["choices"][1]["message"]["content"], "no");
        assert_eq!(b["choices"][1]["message"]["tool_calls"][0]["id"], "g-1");
    }

    #[test]
    fn thoughts_go_to_reasoning_content() {
        let (b, _) = ok(
            json!({"candidates": [{"content": {"parts": [{"text": "hmm", "thought": true}, {"text": "42"}]}, "finishReason": "STOP"}]}),
        );
        assert_eq!(b["choices"][0]["message"]["content"], "42");
        assert_eq!(b["choices"][0]["message"]["reasoning_content"], "hmm");
    }

    #[test]
    fn blocked_prompt_and_no_candidates() {
        let e = provider_err(
            json!({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "usageMetadata": {"promptTokenCount": 5}}),
        );
        assert_eq!((e.status, e.class), (400, ErrorClass::ContentPolicy));
        assert!(e.message.contains("PROHIBITED_CONTENT"));
        let e = provider_err(json!({"usageMetadata": {"promptTokenCount": 5}}));
        assert_eq!(e.class, ErrorClass::ServerError);
        let e = provider_err(
            json!({"error": {"code": 429, "message": "q", "status": "RESOURCE_EXHAUSTED"}}),
        );
        assert_eq!(e.class, ErrorClass::RateLimit);
    }

    #[test]
    fn bad_bodies_are_plugin_errors() {
        for body in ["<html/>", "[1]", "{\"candidates\": 3}"] {
            assert!(
                matches!(
                    parse(&input(), &http_response(200, body)),
                    Err(ParseError::Plugin(PluginError::Internal(_)))
                ),
                "{body}"
            );
        }
    }
}
