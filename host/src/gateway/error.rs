//! Errors as clients see them: OpenAI's shape,
//! `{"error": {"message", "type", "param", "code"}}`, with the right status.
//!
//! One value, two renderings (as TensorZero's `Error` has): the JSON body
//! of an error answer ([`ApiError::body`]; `server/` turns it into the HTTP
//! response) and the SSE event that ends a stream already under way
//! ([`ApiError::sse_event`]). A client reads the same `type` and `code`
//! whether a failure came before the first chunk or after it.

use axum::http::StatusCode;
use bytes::Bytes;
use serde_json::json;

/// An error answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// OpenAI's `type`: `invalid_request_error`, `authentication_error`, ...
    pub kind: &'static str,
    pub param: Option<String>,
    pub code: Option<String>,
    /// Seconds, for `Retry-After` on 429/503.
    pub retry_after: Option<u32>,
    /// More response headers (what the gateway tried before it gave up).
    /// Boxed: errors travel in `Result`s and should stay small.
    pub headers: Box<[(&'static str, String)]>,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            kind,
            param: None,
            code: None,
            retry_after: None,
            headers: Box::default(),
        }
    }

    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    /// 400 naming the offending field.
    pub fn bad_param(param: &str, message: impl Into<String>) -> ApiError {
        let mut e = ApiError::bad_request(message);
        e.param = Some(param.to_string());
        e
    }

    /// 401: missing or wrong key.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        let mut e = ApiError::new(StatusCode::UNAUTHORIZED, "authentication_error", message);
        e.code = Some("invalid_api_key".into());
        e
    }

    /// 404: unknown model or route.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        let mut e = ApiError::new(StatusCode::NOT_FOUND, "invalid_request_error", message);
        e.code = Some("model_not_found".into());
        e
    }

    /// 413: body over the limit.
    pub fn too_large(limit: usize) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            format!("request body is larger than the limit of {limit} bytes"),
        )
    }

    /// 500: a bug or an internal failure (a plugin failing closed).
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_server_error",
            message,
        )
    }

    /// 503: nothing can serve.
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            message,
        )
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        json!({"error": {
            "message": self.message,
            "type": self.kind,
            "param": self.param,
            "code": self.code.clone().unwrap_or_else(|| self.status.as_u16().to_string()),
        }})
    }

    /// The same body as one SSE event, for a stream that has already sent
    /// its status (200) and cannot answer with an error status any more.
    pub fn sse_event(&self) -> Bytes {
        Bytes::from(format!("data: {}\n\n", self.body()))
    }
}

/// The OpenAI error `type` for an HTTP status from a provider.
pub fn kind_for_status(status: u16) -> &'static str {
    match status {
        400 | 404 | 413 | 422 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        408 | 504 => "timeout_error",
        429 => "rate_limit_error",
        _ => "api_error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The event's `data:` payload as JSON.
    fn event_json(e: &ApiError) -> serde_json::Value {
        let event = e.sse_event();
        let text = std::str::from_utf8(&event).unwrap();
        let data = text
            .strip_prefix("data: ")
            .and_then(|t| t.strip_suffix("\n\n"))
            .unwrap_or_else(|| panic!("one data line and a blank line: {text:?}"));
        assert!(!data.contains('\n'), "one line: {data:?}");
        serde_json::from_str(data).unwrap()
    }

    #[test]
    fn the_sse_event_is_the_json_body() {
        let mut with_code = ApiError::new(StatusCode::BAD_GATEWAY, "api_error", "overloaded");
        with_code.code = Some("overloaded_error".into());
        let without_code = ApiError::internal("line one\nline two");
        let with_param = ApiError::bad_param("messages", "messages must not be empty");
        for e in [with_code, without_code, with_param] {
            let event = event_json(&e);
            assert_eq!(event, e.body());
            assert_eq!(event["error"]["type"], e.kind);
        }
    }

    #[test]
    fn the_code_defaults_to_the_status_in_both_renderings() {
        let e = ApiError::new(StatusCode::BAD_GATEWAY, "api_error", "broke off");
        assert_eq!(e.body()["error"]["code"], "502");
        assert_eq!(event_json(&e)["error"]["code"], "502");
        assert_eq!(event_json(&e)["error"]["type"], "api_error");
    }
}
