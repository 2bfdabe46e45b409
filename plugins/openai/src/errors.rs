//! Provider errors: the provider's own message and code, and the class
//! retries and fallbacks key on.

use serde_json::Value;
use switchyard_sdk::adapter::{body_text, class_for_status};
use switchyard_sdk::provider::{ErrorClass, ProviderError};

/// Message, code and the other code-like strings (`type`) of an error body.
struct Details {
    message: String,
    code: Option<String>,
    type_: Option<String>,
}

impl Details {
    /// The code, then the type: what the classification looks up.
    fn codes(&self) -> Vec<&str> {
        self.code
            .iter()
            .chain(self.type_.iter())
            .map(String::as_str)
            .collect()
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Reads the error out of a JSON body: OpenAI's `{"error": {...}}`, a bare
/// `{"error": "..."}`, vLLM's top-level `{"message", "type", "code"}` or
/// FastAPI's `{"detail": "..."}`.
fn details(v: &Value) -> Option<Details> {
    let (obj, message) = match v.get("error") {
        Some(e @ Value::Object(_)) => {
            let message = match e.get("message") {
                Some(Value::String(s)) => s.clone(),
                Some(other) if !other.is_null() => other.to_string(),
                _ => e.to_string(),
            };
            (e, message)
        }
        Some(Value::String(s)) => (v, s.clone()),
        _ => match (v.get("message"), v.get("detail")) {
            (Some(Value::String(s)), _) => (v, s.clone()),
            (_, Some(Value::String(s))) => (v, s.clone()),
            (_, Some(d)) if !d.is_null() => (v, d.to_string()),
            _ => return None,
        },
    };
    Some(Details {
        message,
        code: obj.get("code").and_then(text),
        type_: obj.get("type").and_then(text),
    })
}

fn mentions_context_length(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "context length",
        "context_length",
        "maximum context",
        "context window",
    ]
    .iter()
    .any(|p| m.contains(p))
}

fn is_context_code(code: &str) -> bool {
    matches!(
        code,
        "context_length_exceeded" | "context_window_exceeded" | "string_above_max_length"
    )
}

fn is_content_code(code: &str) -> bool {
    matches!(code, "content_filter" | "content_policy_violation")
}

/// The class of an error with this status, codes and message.
pub fn classify(status: u16, codes: &[&str], message: &str) -> ErrorClass {
    let context = codes.iter().any(|c| is_context_code(c)) || mentions_context_length(message);
    let content = codes.iter().any(|c| is_content_code(c));
    match status {
        400 | 413 | 422 if context => ErrorClass::ContextWindowExceeded,
        400 | 422 if content => ErrorClass::ContentPolicy,
        402 => ErrorClass::Other("payment_required".to_string()),
        // The SDK (like the host) reads a bare 504 as a timeout; this adapter
        // has always called it a server error, which retry policies key on.
        504 => ErrorClass::ServerError,
        _ => class_for_status(status),
    }
}

fn error(status: u16, d: Details) -> ProviderError {
    let class = classify(status, &d.codes(), &d.message);
    ProviderError {
        status,
        class,
        message: d.message,
        code: d.code.or(d.type_),
    }
}

/// The error for a non-2xx answer.
pub fn from_response(status: u16, body: &[u8]) -> ProviderError {
    let parsed = serde_json::from_slice::<Value>(body).ok();
    let d = parsed
        .as_ref()
        .and_then(details)
        .unwrap_or_else(|| Details {
            message: body_text("provider", status, body),
            code: None,
            type_: None,
        });
    error(status, d)
}

/// An HTTP status written as the error's `code`, as OpenRouter does.
fn status_in_code(v: &Value) -> Option<u16> {
    v.get("error")?
        .get("code")?
        .as_u64()
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| (400..=599).contains(c))
}

/// The status a code or type implies, for errors that arrive without one
/// (in a stream, or in a 2xx body).
fn status_for_code(codes: &[&str], message: &str) -> u16 {
    let any = |names: &[&str]| codes.iter().any(|c| names.contains(c));
    let context_or_content = codes
        .iter()
        .any(|c| is_context_code(c) || is_content_code(c))
        || mentions_context_length(message);
    if context_or_content || any(&["invalid_request_error", "bad_request", "invalid_request"]) {
        400
    } else if any(&["authentication_error", "invalid_api_key"]) {
        401
    } else if any(&["permission_error", "permission_denied"]) {
        403
    } else if any(&["not_found_error", "model_not_found", "not_found"]) {
        404
    } else if any(&[
        "rate_limit_error",
        "rate_limit_exceeded",
        "insufficient_quota",
        "tokens",
    ]) {
        429
    } else if any(&["timeout", "request_timeout"]) {
        408
    } else if any(&["overloaded_error", "service_unavailable"]) {
        503
    } else {
        500
    }
}

/// The error an `{"error": ...}` object in a 2xx body or a stream event
/// stands for, if the value has one.
pub fn from_embedded(v: &Value) -> Option<ProviderError> {
    if v.get("error").is_none_or(Value::is_null) {
        return None;
    }
    let d = details(v)?;
    let status = status_in_code(v).unwrap_or_else(|| status_for_code(&d.codes(), &d.message));
    Some(error(status, d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(status: u16, body: Value) -> ProviderError {
        from_response(status, body.to_string().as_bytes())
    }

    #[test]
    fn classes_by_status() {
        let cases = [
            (400, ErrorClass::BadRequest),
            (401, ErrorClass::Authentication),
            (403, ErrorClass::PermissionDenied),
            (404, ErrorClass::NotFound),
            (408, ErrorClass::Timeout),
            (409, ErrorClass::BadRequest),
            (429, ErrorClass::RateLimit),
            (500, ErrorClass::ServerError),
            (502, ErrorClass::ServerError),
            (503, ErrorClass::ServerError),
            (504, ErrorClass::ServerError),
        ];
        for (status, class) in cases {
            let e = err(status, json!({"error": {"message": "m", "type": "t"}}));
            assert_eq!(e.class, class, "{status}");
            assert_eq!(e.status, status);
            assert_eq!(e.message, "m");
            assert_eq!(e.code.as_deref(), Some("t"));
        }
    }

    #[test]
    fn context_window_by_code_or_message() {
        let e = err(
            400,
            json!({"error": {"message": "too long", "type": "invalid_request_error", "code": "context_length_exceeded"}}),
        );
        assert_eq!(e.class, ErrorClass::ContextWindowExceeded);
        assert_eq!(e.code.as_deref(), Some("context_length_exceeded"));
        let e = err(
            400,
            json!({"object": "error", "message": "This model's maximum context length is 4096 tokens.", "type": "BadRequestError", "code": 400}),
        );
        assert_eq!(e.class, ErrorClass::ContextWindowExceeded);
        assert_eq!(e.code.as_deref(), Some("400"));
    }

    #[test]
    fn content_policy_by_code() {
        for code in ["content_filter", "content_policy_violation"] {
            let e = err(400, json!({"error": {"message": "filtered", "code": code}}));
            assert_eq!(e.class, ErrorClass::ContentPolicy);
        }
    }

    #[test]
    fn non_json_body_is_kept_truncated() {
        let body = "x".repeat(1500);
        let e = from_response(502, body.as_bytes());
        assert_eq!(e.class, ErrorClass::ServerError);
        assert_eq!(e.message.chars().count(), 1000);
        assert!(e.message.ends_with('…'));
        assert_eq!(
            from_response(502, "y".repeat(1000).as_bytes()).message,
            "y".repeat(1000)
        );
        assert!(e.code.is_none());
        let e = from_response(503, "é".repeat(1200).as_bytes());
        assert!(e.message.starts_with('é'));
        assert!(from_response(500, b"").message.contains("empty body"));
    }

    #[test]
    fn other_error_shapes() {
        assert_eq!(err(400, json!({"error": "bad thing"})).message, "bad thing");
        assert_eq!(
            err(422, json!({"detail": "field required"})).message,
            "field required"
        );
        let e = err(422, json!({"detail": [{"loc": ["body"], "msg": "x"}]}));
        assert!(e.message.contains("field") || e.message.contains("loc"));
        assert_eq!(
            err(402, json!({"error": {"message": "credits"}})).class,
            ErrorClass::Other("payment_required".into())
        );
        assert_eq!(
            err(301, json!({})).class,
            ErrorClass::Other("unexpected_status_301".into())
        );
    }

    #[test]
    fn embedded_errors() {
        assert!(from_embedded(&json!({"id": "x", "choices": []})).is_none());
        assert!(from_embedded(&json!({"id": "x", "error": null})).is_none());
        let e =
            from_embedded(&json!({"error": {"message": "upstream down", "code": 502}})).unwrap();
        assert_eq!((e.status, e.class), (502, ErrorClass::ServerError));
        let e =
            from_embedded(&json!({"error": {"message": "slow down", "type": "rate_limit_error"}}))
                .unwrap();
        assert_eq!((e.status, e.class), (429, ErrorClass::RateLimit));
        let e =
            from_embedded(&json!({"error": {"message": "boom", "type": "server_error"}})).unwrap();
        assert_eq!((e.status, e.class), (500, ErrorClass::ServerError));
        let e = from_embedded(&json!({"error": {"message": "exceeds the maximum context length"}}))
            .unwrap();
        assert_eq!(
            (e.status, e.class),
            (400, ErrorClass::ContextWindowExceeded)
        );
    }
}
