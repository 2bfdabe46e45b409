//! Made-up chat answers: a `chat.completion`, or for `stream: true` the SSE
//! text OpenAI would send (a role chunk, the answer a word per chunk, a
//! finish chunk, a usage chunk when `stream_options.include_usage` is set,
//! then `data: [DONE]`).

use serde_json::{Value, json};
use switchyard_sdk::openai::{ChatRequest, ChatResponse};
use switchyard_sdk::provider::{BuildInput, Header, HttpResponse, ParseError, ParsedResponse};
use switchyard_sdk::types::PluginError;
use switchyard_sdk::util;

use crate::config::Config;
use crate::tokens;

/// The largest `n` answered (OpenAI's limit).
const MAX_CHOICES: u64 = 128;

fn invalid(message: String) -> PluginError {
    PluginError::InvalidInput(message)
}

/// A `mock_response` value as answer text: strings as they are, numbers
/// and booleans as written.
fn mock_text(value: &Value, from: &str) -> Result<Option<String>, PluginError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Number(_) | Value::Bool(_) => Ok(Some(value.to_string())),
        _ => Err(invalid(format!("{from} mock_response must be a string"))),
    }
}

/// The answer's text: the request's `mock_response`, else the deployment's,
/// else the echo of the last user message (with `echo`), else the config's.
pub fn answer(
    request: &ChatRequest,
    input: &BuildInput,
    config: &Config,
) -> Result<String, PluginError> {
    if let Some(v) = request.rest.get("mock_response")
        && let Some(text) = mock_text(v, "the request's")?
    {
        return Ok(text);
    }
    if let Some(f) = input
        .target
        .params
        .iter()
        .find(|f| f.key == "mock_response")
    {
        let v: Value = serde_json::from_str(&f.value)
            .map_err(|e| invalid(format!("the deployment's mock_response is not JSON: {e}")))?;
        if let Some(text) = mock_text(&v, "the deployment's")? {
            return Ok(text);
        }
    }
    if config.echo {
        let last = request
            .messages
            .iter()
            .rev()
            .find(|m| m.role == "user")
            .and_then(|m| m.content.as_ref())
            .map(|c| c.text())
            .unwrap_or_default();
        return Ok(format!("You said: {last}"));
    }
    Ok(config.text.clone())
}

/// What one request's answer is made of.
pub struct Answer {
    pub id: String,
    pub model: String,
    pub text: String,
    pub finish_reason: &'static str,
    pub choices: u32,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Unix seconds, from the host's `params.created` (0 without it).
    pub created: u64,
}

pub fn plan(input: &BuildInput, config: &Config) -> Result<(ChatRequest, Answer), PluginError> {
    let request: ChatRequest = serde_json::from_str(&input.body)
        .map_err(|e| invalid(format!("the request is not a chat completion request: {e}")))?;
    let mut text = answer(&request, input, config)?;
    let choices = match request.rest.get("n") {
        None | Some(Value::Null) => 1,
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=MAX_CHOICES).contains(n))
            .ok_or_else(|| {
                invalid(format!(
                    "n must be an integer from 1 to {MAX_CHOICES}, not {v}"
                ))
            })? as u32,
    };
    // A short max_tokens cuts the answer, as a real model would stop.
    let mut finish_reason = "stop";
    if let Some(max) = request.max_completion_tokens.or(request.max_tokens)
        && tokens::estimate(&text) > u64::from(max)
    {
        text = text.chars().take(max as usize * 4).collect();
        finish_reason = "length";
    }
    let completion = tokens::estimate(&text);
    // The id hashes the body in a canonical form (keys sorted), so it does
    // not depend on how the host serialised the request.
    let canonical = serde_json::from_str::<Value>(&input.body)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| input.body.clone());
    let mut seed = canonical.into_bytes();
    seed.extend_from_slice(input.target.model.as_bytes());
    let answer = Answer {
        id: format!("chatcmpl-mock-{:016x}", util::fnv1a(&seed)),
        model: input.target.model.clone(),
        text,
        finish_reason,
        choices,
        prompt_tokens: tokens::prompt(&request.messages),
        completion_tokens: completion * u64::from(choices),
        created: switchyard_sdk::adapter::created(&input.target),
    };
    Ok((request, answer))
}

fn usage(a: &Answer) -> Value {
    json!({
        "prompt_tokens": a.prompt_tokens,
        "completion_tokens": a.completion_tokens,
        "total_tokens": a.prompt_tokens + a.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    })
}

/// The non-streamed `chat.completion`.
pub fn completion(a: &Answer) -> Value {
    let choices: Vec<Value> = (0..a.choices)
        .map(|i| {
            json!({
                "index": i,
                "message": {"role": "assistant", "content": a.text, "refusal": null},
                "logprobs": null,
                "finish_reason": a.finish_reason,
            })
        })
        .collect();
    json!({
        "id": a.id,
        "object": "chat.completion",
        "created": a.created,
        "model": a.model,
        "system_fingerprint": "fp_mock",
        "choices": choices,
        "usage": usage(a),
    })
}

/// The answer cut into word-sized pieces, each carrying the whitespace before
/// its word, so that joining them gives the text back.
pub fn words(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut prev_space = true;
    for (i, c) in text.char_indices() {
        let space = c.is_whitespace();
        if space && !prev_space && i > start {
            pieces.push(&text[start..i]);
            start = i;
        }
        prev_space = space;
    }
    if start < text.len() {
        pieces.push(&text[start..]);
    }
    pieces
}

/// The SSE text of the streamed answer.
pub fn sse(a: &Answer, include_usage: bool) -> String {
    let chunk = |index: u32, delta: Value, finish: Option<&str>| {
        json!({
            "id": a.id,
            "object": "chat.completion.chunk",
            "created": a.created,
            "model": a.model,
            "system_fingerprint": "fp_mock",
            "choices": [{"index": index, "delta": delta, "logprobs": null, "finish_reason": finish}],
        })
    };
    let mut events = Vec::new();
    for i in 0..a.choices {
        events.push(chunk(
            i,
            json!({"role": "assistant", "content": "", "refusal": null}),
            None,
        ));
        for w in words(&a.text) {
            events.push(chunk(i, json!({"content": w}), None));
        }
        events.push(chunk(i, json!({}), Some(a.finish_reason)));
    }
    if include_usage {
        events.push(json!({
            "id": a.id,
            "object": "chat.completion.chunk",
            "created": a.created,
            "model": a.model,
            "system_fingerprint": "fp_mock",
            "choices": [],
            "usage": usage(a),
        }));
    }
    let mut out = String::new();
    for e in events {
        out.push_str("data: ");
        out.push_str(&e.to_string());
        out.push_str("\n\n");
    }
    out.push_str("data: [DONE]\n\n");
    out
}

pub fn respond(input: &BuildInput, config: &Config) -> Result<HttpResponse, PluginError> {
    let (request, a) = plan(input, config)?;
    let (content_type, body) = if request.stream == Some(true) {
        let include_usage = request
            .rest
            .get("stream_options")
            .and_then(|o| o.get("include_usage"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        ("text/event-stream", sse(&a, include_usage))
    } else {
        ("application/json", completion(&a).to_string())
    };
    Ok(HttpResponse {
        status: 200,
        headers: vec![Header {
            name: "content-type".to_string(),
            value: content_type.to_string(),
        }],
        body: body.into_bytes(),
    })
}

pub fn parse(response: &HttpResponse) -> Result<ParsedResponse, ParseError> {
    let (text, r) = crate::read_answer::<ChatResponse>(response, "a chat.completion")?;
    Ok(ParsedResponse {
        usage: r.usage.as_ref().map(switchyard_sdk::usage_from_openai),
        body: text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_TEXT;
    use crate::tests::{input, respond as made_up};
    use switchyard_sdk::provider::Operation;

    fn body(r: &HttpResponse) -> Value {
        serde_json::from_slice(&r.body).unwrap()
    }

    fn chat(body: Value, params: &[(&str, Value)]) -> BuildInput {
        input(Operation::Chat, body, params)
    }

    #[test]
    fn default_answer_is_a_realistic_completion() {
        let req = json!({"model": "demo", "messages": [{"role": "system", "content": "Be nice."}, {"role": "user", "content": "Hi there!"}]});
        let r = made_up(chat(req.clone(), &[]));
        assert_eq!(r.headers[0].value, "application/json");
        let b = body(&r);
        assert_eq!(b["object"], "chat.completion");
        assert_eq!(b["model"], "mock-1");
        assert_eq!(b["choices"][0]["message"]["content"], DEFAULT_TEXT);
        assert_eq!(b["choices"][0]["finish_reason"], "stop");
        // ceil(8/4)+4 + ceil(9/4)+4 = 6 + 7; the default text has 72 chars.
        assert_eq!(b["usage"]["prompt_tokens"], 13);
        assert_eq!(b["usage"]["completion_tokens"], 18);
        assert_eq!(b["usage"]["total_tokens"], 31);
        let id = b["id"].as_str().unwrap().to_string();
        assert!(id.starts_with("chatcmpl-mock-") && id.len() == 30, "{id}");
        // Deterministic: the same request, the same id; another, another.
        assert_eq!(body(&made_up(chat(req, &[])))["id"], id);
        let other = json!({"model": "demo", "messages": [{"role": "user", "content": "Bye"}]});
        assert_ne!(body(&made_up(chat(other, &[])))["id"], id);
        // And the SDK's types read it.
        let p = parse(&r).unwrap();
        assert_eq!(p.usage.unwrap().input_tokens, 13);
    }

    #[test]
    fn answer_precedence() {
        let req = json!({"model": "m", "messages": [{"role": "user", "content": "first"}, {"role": "assistant", "content": "ok"}, {"role": "user", "content": [{"type": "text", "text": "second"}]}]});
        let echo = Config {
            text: "T".into(),
            echo: true,
        };
        let plain = Config {
            text: "T".into(),
            echo: false,
        };
        let text = |body: &Value, params: &[(&str, Value)], c: &Config| {
            plan(&chat(body.clone(), params), c).unwrap().1.text
        };
        assert_eq!(text(&req, &[], &plain), "T");
        assert_eq!(text(&req, &[], &echo), "You said: second");
        assert_eq!(text(&req, &[("mock_response", json!("D"))], &echo), "D");
        let mut with_own = req.clone();
        with_own["mock_response"] = json!("R");
        assert_eq!(
            text(&with_own, &[("mock_response", json!("D"))], &echo),
            "R"
        );
        assert_eq!(text(&req, &[("mock_response", json!(42))], &plain), "42");
        assert!(
            plan(
                &chat(req.clone(), &[("mock_response", json!({"a": 1}))]),
                &plain
            )
            .is_err()
        );
        let none = json!({"model": "m", "messages": []});
        assert_eq!(text(&none, &[], &echo), "You said: ");
    }

    #[test]
    fn n_and_max_tokens() {
        let c = Config::default();
        let (_, a) = plan(
            &chat(
                json!({"model": "m", "messages": [], "n": 3, "max_tokens": 2}),
                &[],
            ),
            &c,
        )
        .unwrap();
        assert_eq!(
            (a.text.as_str(), a.finish_reason, a.choices),
            ("Hello fr", "length", 3)
        );
        assert_eq!(a.completion_tokens, 6);
        let b = completion(&a);
        assert_eq!(b["choices"].as_array().unwrap().len(), 3);
        assert_eq!(b["choices"][2]["index"], 2);
        assert!(
            plan(
                &chat(json!({"model": "m", "messages": [], "n": 0}), &[]),
                &c
            )
            .is_err()
        );
        assert!(plan(&chat(json!({"model": "m"}), &[]), &c).is_err());
    }

    #[test]
    fn words_keep_the_text() {
        for t in [
            "Hello from Switchyard!",
            "  lead and  double  ",
            "one",
            "",
            "a\nb",
        ] {
            assert_eq!(words(t).concat(), t);
        }
        assert_eq!(
            words("Hello from Switchyard!"),
            ["Hello", " from", " Switchyard!"]
        );
    }

    #[test]
    fn stream_sse() {
        let r = made_up(chat(
            json!({"model": "m", "stream": true, "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "hi"}]}),
            &[("mock_response", json!("Hi you"))],
        ));
        assert_eq!(r.headers[0].value, "text/event-stream");
        let text = String::from_utf8(r.body).unwrap();
        let events: Vec<&str> = text
            .split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| e.strip_prefix("data: ").unwrap())
            .collect();
        assert_eq!(events.len(), 6);
        assert_eq!(events[5], "[DONE]");
        let chunks: Vec<Value> = events[..5]
            .iter()
            .map(|e| serde_json::from_str(e).unwrap())
            .collect();
        assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(chunks[1]["choices"][0]["delta"]["content"], "Hi");
        assert_eq!(chunks[2]["choices"][0]["delta"]["content"], " you");
        assert_eq!(chunks[3]["choices"][0]["finish_reason"], "stop");
        assert_eq!(chunks[4]["choices"], json!([]));
        assert_eq!(
            chunks[4]["usage"],
            json!({"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7,
            "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 0}})
        );
        assert!(chunks.iter().all(|c| c["id"] == chunks[0]["id"]));
    }
}
