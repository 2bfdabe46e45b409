//! Anthropic's errors, `{"type": "error", "error": {"type", "message"}}`,
//! as provider errors: the message kept, the error type as the code, and a
//! class from the error type (or, when the type is missing or unknown, the
//! HTTP status):
//!
//! | type | status | class |
//! | --- | --- | --- |
//! | `invalid_request_error` | 400 | `bad-request`, or `context-window-exceeded` when the message says the prompt is too long for the context |
//! | `authentication_error` | 401 | `authentication` |
//! | `billing_error` | 402 | `other("billing_error")` |
//! | `permission_error` | 403 | `permission-denied` |
//! | `not_found_error` | 404 | `not-found` |
//! | `request_too_large` | 413 | `bad-request` |
//! | `rate_limit_error` | 429 | `rate-limit` |
//! | `api_error` | 500 | `server-error` |
//! | `timeout_error` | 504 | `timeout` |
//! | `overloaded_error` | 529 | `server-error` |

use serde_json::Value;
use switchyard_sdk::adapter::{body_text, class_for_status};
use switchyard_sdk::provider::{ErrorClass, ProviderError};

/// The status Anthropic documents for an error type; used for errors that
/// arrive without one (a stream's `error` event, an error in a 2xx body).
pub fn status_for_type(kind: &str) -> u16 {
    match kind {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "billing_error" => 402,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "timeout_error" => 504,
        "overloaded_error" => 529,
        _ => 500,
    }
}

/// Whether an invalid request's message says the prompt does not fit the
/// model's context ("prompt is too long: 210000 tokens > 200000 maximum",
/// "input length and `max_tokens` exceed context limit: ...").
fn mentions_context(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "prompt is too long",
        "exceed context limit",
        "context limit",
        "context window",
        "context length",
    ]
    .iter()
    .any(|p| m.contains(p))
}

/// The class of an error with this status, type and message.
pub fn classify(status: u16, kind: Option<&str>, message: &str) -> ErrorClass {
    let by_type = match kind {
        Some("invalid_request_error") => Some(ErrorClass::BadRequest),
        Some("authentication_error") => Some(ErrorClass::Authentication),
        Some("billing_error") => Some(ErrorClass::Other("billing_error".to_string())),
        Some("permission_error") => Some(ErrorClass::PermissionDenied),
        Some("not_found_error") => Some(ErrorClass::NotFound),
        Some("request_too_large") => Some(ErrorClass::BadRequest),
        Some("rate_limit_error") => Some(ErrorClass::RateLimit),
        Some("api_error" | "overloaded_error") => Some(ErrorClass::ServerError),
        Some("timeout_error") => Some(ErrorClass::Timeout),
        _ => None,
    };
    let class = by_type.unwrap_or_else(|| match status {
        402 => ErrorClass::Other("billing_error".to_string()),
        _ => class_for_status(status),
    });
    let invalid_request =
        kind == Some("invalid_request_error") || (kind.is_none() && status == 400);
    if invalid_request && mentions_context(message) {
        return ErrorClass::ContextWindowExceeded;
    }
    class
}

/// The `error` object of an Anthropic error body: its type and message.
fn details(v: &Value) -> Option<(Option<String>, String)> {
    let e = v.get("error")?;
    match e {
        Value::Object(o) => {
            let kind = o
                .get("type")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .map(str::to_string);
            let message = match o.get("message") {
                Some(Value::String(s)) => s.clone(),
                Some(other) if !other.is_null() => other.to_string(),
                _ => e.to_string(),
            };
            Some((kind, message))
        }
        Value::String(s) => Some((None, s.clone())),
        _ => None,
    }
}

fn error(status: u16, kind: Option<String>, message: String) -> ProviderError {
    ProviderError {
        status,
        class: classify(status, kind.as_deref(), &message),
        message,
        code: kind,
    }
}

/// The error for a non-2xx answer.
pub fn from_response(status: u16, body: &[u8]) -> ProviderError {
    let parsed = serde_json::from_slice::<Value>(body).ok();
    match parsed.as_ref().and_then(details) {
        Some((kind, message)) => error(status, kind, message),
        None => error(status, None, body_text("anthropic", status, body)),
    }
}

/// The error an `{"type": "error", ...}` value (a stream event, a 2xx body)
/// stands for, if it is one.
pub fn from_embedded(v: &Value) -> Option<ProviderError> {
    let is_error = v.get("type").and_then(Value::as_str) == Some("error")
        || v.get("error").is_some_and(|e| !e.is_null());
    if !is_error {
        return None;
    }
    let (kind, message) = details(v).unwrap_or((None, v.to_string()));
    let status = kind.as_deref().map_or(500, status_for_type);
    Some(error(status, kind, message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(status: u16, kind: &str, message: &str) -> ProviderError {
        from_response(
            status,
            json!({"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_1"})
                .to_string()
                .as_bytes(),
        )
    }

    #[test]
    fn every_documented_type() {
        let cases = [
            (400, "invalid_request_error", ErrorClass::BadRequest),
            (401, "authentication_error", ErrorClass::Authentication),
            (
                402,
                "billing_error",
                ErrorClass::Other("billing_error".into()),
            ),
            (403, "permission_error", ErrorClass::PermissionDenied),
            (404, "not_found_error", ErrorClass::NotFound),
            (413, "request_too_large", ErrorClass::BadRequest),
            (429, "rate_limit_error", ErrorClass::RateLimit),
            (500, "api_error", ErrorClass::ServerError),
            (504, "timeout_error", ErrorClass::Timeout),
            (529, "overloaded_error", ErrorClass::ServerError),
        ];
        for (status, kind, class) in cases {
            let e = err(status, kind, "m");
            assert_eq!((e.status, &e.class), (status, &class), "{kind}");
            assert_eq!(e.message, "m");
            assert_eq!(e.code.as_deref(), Some(kind));
            assert_eq!(status_for_type(kind), status);
        }
        assert_eq!(status_for_type("new_error"), 500);
    }

    #[test]
    fn context_window() {
        for m in [
            "prompt is too long: 215000 tokens > 200000 maximum",
            "input length and `max_tokens` exceed context limit: 197000 + 8192 > 200000, decrease input length or `max_tokens` and try again",
        ] {
            assert_eq!(
                err(400, "invalid_request_error", m).class,
                ErrorClass::ContextWindowExceeded
            );
        }
        assert_eq!(
            err(400, "invalid_request_error", "max_tokens: field required").class,
            ErrorClass::BadRequest
        );
        assert_eq!(
            err(
                413,
                "request_too_large",
                "Request exceeds the maximum allowed number of bytes."
            )
            .class,
            ErrorClass::BadRequest
        );
    }

    #[test]
    fn status_decides_without_a_known_type() {
        assert_eq!(
            err(529, "brand_new_error", "x").class,
            ErrorClass::ServerError
        );
        assert_eq!(err(429, "", "x").class, ErrorClass::RateLimit);
        assert_eq!(err(408, "", "x").class, ErrorClass::Timeout);
        assert_eq!(err(409, "", "x").class, ErrorClass::BadRequest);
        assert_eq!(
            err(302, "", "x").class,
            ErrorClass::Other("unexpected_status_302".into())
        );
        assert_eq!(err(429, "", "x").code, None);
    }

    #[test]
    fn non_json_bodies() {
        let e = from_response(502, b"<html>Bad Gateway</html>");
        assert_eq!(
            (e.class, e.message.as_str(), e.code),
            (ErrorClass::ServerError, "<html>Bad Gateway</html>", None)
        );
        let e = from_response(503, "x".repeat(1500).as_bytes());
        assert_eq!(e.message.chars().count(), 1000);
        assert!(from_response(500, b"").message.contains("empty body"));
        assert_eq!(from_response(400, br#"{"error":"plain"}"#).message, "plain");
        assert_eq!(from_response(400, br#"{"foo":1}"#).message, r#"{"foo":1}"#);
    }

    #[test]
    fn embedded() {
        assert!(from_embedded(&json!({"type": "message", "id": "m"})).is_none());
        let e = from_embedded(
            &json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        )
        .unwrap();
        assert_eq!(
            (e.status, e.class, e.message.as_str(), e.code.as_deref()),
            (
                529,
                ErrorClass::ServerError,
                "Overloaded",
                Some("overloaded_error")
            )
        );
        let e = from_embedded(&json!({"type": "error"})).unwrap();
        assert_eq!((e.status, e.class), (500, ErrorClass::ServerError));
    }
}
