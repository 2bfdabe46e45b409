//! `parse-response`: a 2xx body passes through as is, its shape checked and
//! its usage read in one pass; anything else becomes a provider error.

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;
use switchyard_sdk::adapter::{bad_answer, body_json};
use switchyard_sdk::openai::{ChatResponse, EmbeddingResponse};
use switchyard_sdk::provider::{BuildInput, HttpResponse, Operation, ParseError, ParsedResponse};
use switchyard_sdk::types::Usage;

use crate::errors;
use crate::shape::{Each, Text, is_object};
use crate::usage::Wire;

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
    // Checks the bytes and keeps them: no copy.
    let text = String::from_utf8(response.body)
        .map_err(|e| bad_answer(format!("HTTP {status} body is not UTF-8: {e}")))?;
    let usage = match answer_usage(&input.operation, &text) {
        Some(usage) => usage,
        None => checked_usage(&input.operation, status, &text)?,
    };
    Ok(ParsedResponse { body: text, usage })
}

/// The usage of a body that is a well-formed answer to `operation`, read in
/// one pass that allocates nothing but the usage's unnamed fields; `None`
/// for any other body, which [`checked_usage`] then explains.
fn answer_usage(operation: &Operation, text: &str) -> Option<Option<Usage>> {
    if !is_object(text) {
        return None;
    }
    let usage = match operation {
        Operation::Chat => serde_json::from_str::<ChatHead>(text).ok()?.usage,
        Operation::Embeddings => serde_json::from_str::<EmbeddingsHead>(text).ok()?.usage,
        Operation::Other(_) => return None,
    };
    Some(usage.as_ref().map(Wire::convert))
}

/// What [`answer_usage`] checks of a `chat.completion`: the fields
/// [`ChatResponse`] requires, with its types, and each choice's index and
/// message role. What a message says is not looked into.
#[derive(Deserialize)]
#[expect(dead_code, reason = "read only to check their types")]
struct ChatHead {
    id: Text,
    #[serde(default)]
    object: Text,
    created: u64,
    model: Text,
    choices: Each<ChoiceHead>,
    usage: Option<Wire>,
}

#[derive(Deserialize)]
#[expect(dead_code, reason = "read only to check their types")]
struct ChoiceHead {
    index: u32,
    message: MessageHead,
    finish_reason: Option<Text>,
}

#[derive(Deserialize)]
#[expect(dead_code, reason = "read only to check its type")]
struct MessageHead {
    role: Text,
}

/// What [`answer_usage`] checks of an embeddings list: the fields
/// [`EmbeddingResponse`] requires, with its types; the vectors are skipped.
#[derive(Deserialize)]
#[expect(dead_code, reason = "read only to check their types")]
struct EmbeddingsHead {
    #[serde(default)]
    object: Text,
    data: Each<EmbeddingHead>,
    model: Text,
    usage: Option<Wire>,
}

#[derive(Deserialize)]
#[expect(dead_code, reason = "read only to check their types")]
struct EmbeddingHead {
    #[serde(default)]
    object: Text,
    index: u32,
    embedding: IgnoredAny,
}

/// The usage of a body that is not plainly an answer (an error, the wrong
/// shape, not JSON, another operation), or the error that says why not.
fn checked_usage(
    operation: &Operation,
    status: u16,
    text: &str,
) -> Result<Option<Usage>, ParseError> {
    let value = body_json(status, text.as_bytes())?;
    let is_answer = value.get("choices").is_some() || value.get("data").is_some();
    if !is_answer && let Some(err) = errors::from_embedded(&value) {
        return Err(ParseError::Provider(err));
    }
    Ok(match operation {
        Operation::Chat => {
            let r = ChatResponse::deserialize(&value).map_err(|e| {
                bad_answer(format!("HTTP {status} body is not a chat.completion: {e}"))
            })?;
            r.usage.as_ref().map(crate::usage::convert)
        }
        Operation::Embeddings => {
            let r = EmbeddingResponse::deserialize(&value).map_err(|e| {
                bad_answer(format!("HTTP {status} body is not an embeddings list: {e}"))
            })?;
            r.usage.as_ref().map(crate::usage::convert)
        }
        Operation::Other(_) => usage_of(&value),
    })
}

fn usage_of(value: &Value) -> Option<Usage> {
    value
        .get("usage")
        .filter(|u| !u.is_null())
        .and_then(|u| switchyard_sdk::openai::Usage::deserialize(u).ok())
        .as_ref()
        .map(crate::usage::convert)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::target;
    use serde_json::json;
    use switchyard_sdk::provider::ErrorClass;
    use switchyard_sdk::testing::{build_input, http_response};
    use switchyard_sdk::types::PluginError;

    fn chat() -> BuildInput {
        build_input(
            Operation::Chat,
            json!({"model": "m", "messages": []}),
            target("openai", "gpt-4o", None, None),
        )
    }

    const ANSWER: &str = r#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":100,"completion_tokens":40,"total_tokens":140,"prompt_tokens_details":{"cached_tokens":60},"completion_tokens_details":{"reasoning_tokens":25}},"system_fingerprint":"fp"}"#;

    #[test]
    fn success_passes_body_through_with_usage() {
        let parsed = parse_response(&chat(), http_response(200, ANSWER)).unwrap();
        assert_eq!(parsed.body, ANSWER);
        let u = parsed.usage.unwrap();
        assert_eq!(
            (
                u.input_tokens,
                u.output_tokens,
                u.cache_read_tokens,
                u.reasoning_tokens
            ),
            (100, 40, 60, 25)
        );
    }

    #[test]
    fn success_without_usage() {
        let body = r#"{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[]}"#;
        assert_eq!(
            parse_response(&chat(), http_response(200, body))
                .unwrap()
                .usage,
            None
        );
    }

    #[test]
    fn embeddings() {
        let input = build_input(
            Operation::Embeddings,
            json!({"model": "m", "input": "a"}),
            target("openai", "e", None, None),
        );
        let body = r#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,0.2]}],"model":"e","usage":{"prompt_tokens":3,"total_tokens":3}}"#;
        let parsed = parse_response(&input, http_response(200, body)).unwrap();
        assert_eq!(parsed.usage.unwrap().input_tokens, 3);
        // A chat answer is not an embeddings list.
        assert!(
            matches!(parse_response(&input, http_response(200, ANSWER)), Err(ParseError::Plugin(PluginError::Internal(m))) if m.contains("embeddings"))
        );
    }

    #[test]
    fn deepseek_cache_hits_count_as_cache_reads() {
        let body = r#"{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":50,"completion_tokens":5,"total_tokens":55,"prompt_cache_hit_tokens":30,"prompt_cache_miss_tokens":20}}"#;
        assert_eq!(
            parse_response(&chat(), http_response(200, body))
                .unwrap()
                .usage
                .unwrap()
                .cache_read_tokens,
            30
        );
    }

    #[test]
    fn invalid_success_bodies_are_plugin_errors() {
        for body in ["<html>oops</html>", "", "{\"id\": 1}"] {
            match parse_response(&chat(), http_response(200, body)) {
                Err(ParseError::Plugin(PluginError::Internal(m))) => {
                    assert!(m.contains("HTTP 200"), "{m}")
                }
                other => panic!("{body}: {other:?}"),
            }
        }
    }

    #[test]
    fn error_status_is_a_provider_error() {
        let body = r#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#;
        let Err(ParseError::Provider(e)) = parse_response(&chat(), http_response(429, body)) else {
            panic!()
        };
        assert_eq!(
            (e.status, e.class, e.message.as_str(), e.code.as_deref()),
            (
                429,
                ErrorClass::RateLimit,
                "Rate limit reached",
                Some("rate_limit_exceeded")
            )
        );
    }

    #[test]
    fn error_in_a_2xx_body() {
        let body = r#"{"error":{"message":"no endpoints","code":404}}"#;
        let Err(ParseError::Provider(e)) = parse_response(&chat(), http_response(200, body)) else {
            panic!()
        };
        assert_eq!((e.status, e.class), (404, ErrorClass::NotFound));
    }

    /// Every answer above takes the one pass, which reads what the full
    /// check reads; everything else is left to the full check.
    #[test]
    fn one_pass_agrees_with_the_full_check() {
        let chat = [
            ANSWER,
            r#"{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[]}"#,
            r#"{"id":"x","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":50,"completion_tokens":5,"total_tokens":55,"prompt_cache_hit_tokens":30,"cost":0.1},"x_groq":{"id":"r"}}"#,
            r#" {"id":"x\u0031","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":[{"type":"text","text":"hi"}]},"finish_reason":null}],"usage":null,"error":null}"#,
        ];
        let embeddings = [
            r#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,-2e-3]}],"model":"e","usage":{"prompt_tokens":3,"total_tokens":3}}"#,
            r#"{"data":[{"index":0,"embedding":"AAAA"}],"model":"e"}"#,
        ];
        let full = |op: &Operation, body: &str| checked_usage(op, 200, body).unwrap();
        for body in chat {
            assert_eq!(
                answer_usage(&Operation::Chat, body),
                Some(full(&Operation::Chat, body)),
                "{body}"
            );
        }
        for body in embeddings {
            let op = Operation::Embeddings;
            assert_eq!(answer_usage(&op, body), Some(full(&op, body)), "{body}");
        }
        for body in [
            "<html>oops</html>",
            "",
            r#"{"id": 1}"#,
            r#"{"error":{"message":"no endpoints","code":404}}"#,
            r#"["x","chat.completion",1,"m",[]]"#,
            r#"{"id":"x","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":"5"}}"#,
            r#"{"id":"x","created":1,"model":"m","choices":[{"index":0}]}"#,
        ] {
            assert_eq!(answer_usage(&Operation::Chat, body), None, "{body}");
        }
        assert_eq!(answer_usage(&Operation::Embeddings, ANSWER), None);
        assert_eq!(answer_usage(&Operation::Other("x".into()), ANSWER), None);
    }

    /// The one pass checks a message's role, not what it says: an answer the
    /// full check would refuse for a message's content goes through.
    #[test]
    fn message_contents_are_not_checked() {
        let body = r#"{"id":"x","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":5}}]}"#;
        assert!(checked_usage(&Operation::Chat, 200, body).is_err());
        assert!(parse_response(&chat(), http_response(200, body)).is_ok());
    }
}
