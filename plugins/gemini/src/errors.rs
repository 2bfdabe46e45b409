//! Gemini errors: `{"error": {"code", "message", "status", "details"}}`,
//! translated with the provider's message kept and the gRPC status as the
//! code.

use serde_json::Value;
use switchyard_sdk::adapter::{body_text, class_for_status};
use switchyard_sdk::provider::{ErrorClass, ProviderError};

/// Message, HTTP code, gRPC status and `ErrorInfo` reasons of an error.
struct Details {
    message: String,
    code: Option<u16>,
    status: Option<String>,
    reasons: Vec<String>,
}

/// The `error` object of a body (an object, or the first element of the
/// array the streaming endpoint may answer with).
fn error_object(v: &Value) -> Option<&Value> {
    let v = match v {
        Value::Array(items) => items.first()?,
        other => other,
    };
    v.get("error").filter(|e| e.is_object())
}

fn details(e: &Value) -> Details {
    let message = match e.get("message") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => e.to_string(),
    };
    let reasons = e
        .get("details")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| d.get("reason").and_then(Value::as_str))
        .map(str::to_string)
        .collect();
    Details {
        message,
        code: e
            .get("code")
            .and_then(Value::as_u64)
            .and_then(|c| u16::try_from(c).ok())
            .filter(|c| (400..=599).contains(c)),
        status: e
            .get("status")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        reasons,
    }
}

/// The HTTP status a gRPC status stands for.
fn http_for_status(status: &str) -> u16 {
    match status {
        "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE" => 400,
        "UNAUTHENTICATED" => 401,
        "PERMISSION_DENIED" => 403,
        "NOT_FOUND" => 404,
        "ABORTED" | "ALREADY_EXISTS" => 409,
        "RESOURCE_EXHAUSTED" => 429,
        "CANCELLED" => 499,
        "UNIMPLEMENTED" => 501,
        "UNAVAILABLE" => 503,
        "DEADLINE_EXCEEDED" => 504,
        _ => 500,
    }
}

fn mentions_api_key(message: &str, reasons: &[String]) -> bool {
    reasons
        .iter()
        .any(|r| r.starts_with("API_KEY") || r == "ACCESS_TOKEN_EXPIRED")
        || message.to_ascii_lowercase().contains("api key")
}

/// Gemini says "The input token count (N) exceeds the maximum number of
/// tokens allowed (M)."; the rest are its other phrasings and common ones.
fn mentions_context_limit(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "input token count",
        "exceeds the maximum number of tokens",
        "too many tokens",
        "token limit",
        "context window",
        "context length",
        "prompt is too long",
        "input is too long",
    ]
    .iter()
    .any(|p| m.contains(p))
}

/// The class of an error with this HTTP status, gRPC status and message.
pub fn classify(http: u16, status: Option<&str>, message: &str, reasons: &[String]) -> ErrorClass {
    let status = status.unwrap_or_default();
    if matches!(http, 400 | 401 | 403) && mentions_api_key(message, reasons) {
        return ErrorClass::Authentication;
    }
    match (http, status) {
        (400 | 413, _) if mentions_context_limit(message) => ErrorClass::ContextWindowExceeded,
        (401, _) | (_, "UNAUTHENTICATED") => ErrorClass::Authentication,
        (403, _) | (_, "PERMISSION_DENIED") => ErrorClass::PermissionDenied,
        (404, _) | (_, "NOT_FOUND") => ErrorClass::NotFound,
        (429, _) | (_, "RESOURCE_EXHAUSTED") => ErrorClass::RateLimit,
        (408 | 504, _) | (_, "DEADLINE_EXCEEDED") => ErrorClass::Timeout,
        _ => class_for_status(http),
    }
}

fn error(http: u16, d: Details) -> ProviderError {
    let class = classify(http, d.status.as_deref(), &d.message, &d.reasons);
    // Gemini answers a bad or missing API key with 400 INVALID_ARGUMENT or
    // 403 PERMISSION_DENIED; report it as the 401 its class stands for.
    let status = if class == ErrorClass::Authentication {
        401
    } else {
        http
    };
    ProviderError {
        status,
        class,
        message: d.message,
        code: d.status.or_else(|| d.code.map(|c| c.to_string())),
    }
}

/// The error for a non-2xx answer.
pub fn from_response(http: u16, body: &[u8]) -> ProviderError {
    let parsed = serde_json::from_slice::<Value>(body).ok();
    let d = match parsed.as_ref().and_then(error_object) {
        Some(e) => details(e),
        None => Details {
            message: body_text("Gemini", http, body),
            code: None,
            status: None,
            reasons: vec![],
        },
    };
    error(http, d)
}

/// The error an `{"error": ...}` object in a 2xx body or a stream event
/// stands for, if the value has one. Its status comes from `error.code`,
/// else from the gRPC status.
pub fn from_embedded(v: &Value) -> Option<ProviderError> {
    let d = details(error_object(v)?);
    let http = d
        .code
        .unwrap_or_else(|| d.status.as_deref().map_or(500, http_for_status));
    Some(error(http, d))
}

/// The error for a prompt Gemini refused to answer (`promptFeedback.blockReason`).
pub fn prompt_blocked(reason: &str, message: Option<&str>) -> ProviderError {
    let mut text = format!("Gemini blocked the prompt: {reason}");
    if let Some(m) = message.filter(|m| !m.is_empty()) {
        text.push_str(" (");
        text.push_str(m);
        text.push(')');
    }
    ProviderError {
        status: 400,
        class: ErrorClass::ContentPolicy,
        message: text,
        code: Some(reason.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(http: u16, status: &str, message: &str) -> ProviderError {
        from_response(
            http,
            json!({"error": {"code": http, "message": message, "status": status}})
                .to_string()
                .as_bytes(),
        )
    }

    #[test]
    fn classes() {
        let cases = [
            (
                400,
                "INVALID_ARGUMENT",
                "Invalid JSON payload received.",
                ErrorClass::BadRequest,
                400,
            ),
            (
                400,
                "FAILED_PRECONDITION",
                "User location is not supported for the API use.",
                ErrorClass::BadRequest,
                400,
            ),
            (
                400,
                "INVALID_ARGUMENT",
                "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
                ErrorClass::ContextWindowExceeded,
                400,
            ),
            (
                400,
                "INVALID_ARGUMENT",
                "API key not valid. Please pass a valid API key.",
                ErrorClass::Authentication,
                401,
            ),
            (
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials.",
                ErrorClass::Authentication,
                401,
            ),
            (
                403,
                "PERMISSION_DENIED",
                "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
                ErrorClass::Authentication,
                401,
            ),
            (
                403,
                "PERMISSION_DENIED",
                "You do not have permission to access the tuned model tunedModels/x.",
                ErrorClass::PermissionDenied,
                403,
            ),
            (
                404,
                "NOT_FOUND",
                "models/gemini-9 is not found for API version v1beta",
                ErrorClass::NotFound,
                404,
            ),
            (
                429,
                "RESOURCE_EXHAUSTED",
                "Resource has been exhausted (e.g. check quota).",
                ErrorClass::RateLimit,
                429,
            ),
            (
                500,
                "INTERNAL",
                "An internal error has occurred.",
                ErrorClass::ServerError,
                500,
            ),
            (
                503,
                "UNAVAILABLE",
                "The model is overloaded. Please try again later.",
                ErrorClass::ServerError,
                503,
            ),
            (
                504,
                "DEADLINE_EXCEEDED",
                "Deadline exceeded.",
                ErrorClass::Timeout,
                504,
            ),
        ];
        for (http, status, message, class, out_status) in cases {
            let e = err(http, status, message);
            assert_eq!(e.class, class, "{message}");
            assert_eq!(e.status, out_status, "{message}");
            assert_eq!(e.message, message);
            assert_eq!(e.code.as_deref(), Some(status));
        }
    }

    #[test]
    fn api_key_by_reason() {
        let body = json!({"error": {"code": 400, "message": "Bad key", "status": "INVALID_ARGUMENT",
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]}});
        let e = from_response(400, body.to_string().as_bytes());
        assert_eq!((e.status, e.class), (401, ErrorClass::Authentication));
    }

    #[test]
    fn array_and_non_json_bodies() {
        let body = json!([{"error": {"code": 429, "message": "slow down", "status": "RESOURCE_EXHAUSTED"}}]);
        let e = from_response(429, body.to_string().as_bytes());
        assert_eq!(
            (e.class, e.message.as_str()),
            (ErrorClass::RateLimit, "slow down")
        );
        let e = from_response(502, b"<html>Bad Gateway</html>");
        assert_eq!(e.class, ErrorClass::ServerError);
        assert_eq!(e.message, "<html>Bad Gateway</html>");
        assert!(e.code.is_none());
        assert!(from_response(500, b"").message.contains("empty body"));
        let long = "x".repeat(2000);
        assert_eq!(
            from_response(500, long.as_bytes()).message.chars().count(),
            1000
        );
    }

    #[test]
    fn embedded() {
        assert!(from_embedded(&json!({"candidates": []})).is_none());
        let e = from_embedded(
            &json!({"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}),
        )
        .unwrap();
        assert_eq!((e.status, e.class), (503, ErrorClass::ServerError));
        let e =
            from_embedded(&json!({"error": {"message": "slow", "status": "RESOURCE_EXHAUSTED"}}))
                .unwrap();
        assert_eq!((e.status, e.class), (429, ErrorClass::RateLimit));
        let e = from_embedded(&json!({"error": {"message": "?"}})).unwrap();
        assert_eq!((e.status, e.class), (500, ErrorClass::ServerError));
    }

    #[test]
    fn blocked_prompt() {
        let e = prompt_blocked("SAFETY", None);
        assert_eq!((e.status, e.class), (400, ErrorClass::ContentPolicy));
        assert!(e.message.contains("SAFETY"));
        assert_eq!(e.code.as_deref(), Some("SAFETY"));
        assert!(
            prompt_blocked("OTHER", Some("why"))
                .message
                .ends_with("(why)")
        );
    }
}
