//! Provider errors: the class of a bare HTTP status, the message of a body
//! that is not the provider's error JSON, and the error for an operation an
//! adapter does not serve.
//!
//! ```
//! use switchyard_sdk::adapter::errors::{body_text, class_for_status};
//! use switchyard_sdk::provider::ErrorClass;
//! assert_eq!(class_for_status(401), ErrorClass::Authentication);
//! assert_eq!(body_text("proxy", 502, b"Bad Gateway\n"), "Bad Gateway");
//! ```

use crate::provider::ErrorClass;
use crate::types::PluginError;

/// How much of a non-JSON error body [`body_text`] keeps as the message:
/// enough for a proxy's HTML page to say what went wrong, bounded so that a
/// huge body does not end up in every log line and client error.
///
/// ```
/// use switchyard_sdk::adapter::{MAX_MESSAGE_CHARS, body_text};
/// let page = "x".repeat(5000);
/// assert_eq!(body_text("proxy", 502, page.as_bytes()).chars().count(), MAX_MESSAGE_CHARS);
/// ```
pub const MAX_MESSAGE_CHARS: usize = 1000;

/// The class of an error answer from its HTTP status alone, for when the
/// provider's body names no type the adapter knows. It agrees with the
/// host's own reading of a bare status: 408 and 504 are timeouts, any other
/// 4xx a bad request, any 5xx a server error. An adapter with a better
/// source (an error type, a message about the context window) checks that
/// first and falls back on this.
///
/// ```
/// use switchyard_sdk::adapter::class_for_status;
/// use switchyard_sdk::provider::ErrorClass;
/// assert_eq!(class_for_status(504), ErrorClass::Timeout);
/// assert_eq!(class_for_status(409), ErrorClass::BadRequest);
/// assert_eq!(class_for_status(302), ErrorClass::Other("unexpected_status_302".into()));
/// ```
pub fn class_for_status(status: u16) -> ErrorClass {
    match status {
        401 => ErrorClass::Authentication,
        403 => ErrorClass::PermissionDenied,
        404 => ErrorClass::NotFound,
        408 | 504 => ErrorClass::Timeout,
        429 => ErrorClass::RateLimit,
        400..=499 => ErrorClass::BadRequest,
        500..=599 => ErrorClass::ServerError,
        _ => ErrorClass::Other(format!("unexpected_status_{status}")),
    }
}

/// An error body that is not the provider's JSON, as the error's message:
/// trimmed, at most [`MAX_MESSAGE_CHARS`] characters (the last one an
/// ellipsis when it was cut), and a sentence naming `who` answered and the
/// status when the body is empty.
///
/// ```
/// use switchyard_sdk::adapter::body_text;
/// assert_eq!(body_text("Gemini", 503, b"  upstream connect error  "), "upstream connect error");
/// assert_eq!(body_text("Gemini", 500, b""), "Gemini answered HTTP 500 with an empty body");
/// ```
pub fn body_text(who: &str, status: u16, body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    let s = s.trim();
    if s.is_empty() {
        return format!("{who} answered HTTP {status} with an empty body");
    }
    if s.chars().nth(MAX_MESSAGE_CHARS).is_none() {
        return s.to_string();
    }
    let mut cut: String = s.chars().take(MAX_MESSAGE_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// The error for an operation the adapter does not serve; `supported` lists
/// the ones it does, for the message ("chat and embeddings").
///
/// ```
/// use switchyard_sdk::adapter::unsupported;
/// use switchyard_sdk::types::PluginError;
/// let PluginError::InvalidInput(m) = unsupported("anthropic", "embeddings", "chat") else {
///     panic!("invalid input");
/// };
/// assert_eq!(m, r#"the anthropic adapter does not support the operation "embeddings" (only chat)"#);
/// ```
pub fn unsupported(adapter: &str, operation: &str, supported: &str) -> PluginError {
    PluginError::InvalidInput(format!(
        "the {adapter} adapter does not support the operation \"{operation}\" (only {supported})"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_class() {
        let cases = [
            (400, ErrorClass::BadRequest),
            (401, ErrorClass::Authentication),
            (402, ErrorClass::BadRequest),
            (403, ErrorClass::PermissionDenied),
            (404, ErrorClass::NotFound),
            (408, ErrorClass::Timeout),
            (409, ErrorClass::BadRequest),
            (413, ErrorClass::BadRequest),
            (422, ErrorClass::BadRequest),
            (429, ErrorClass::RateLimit),
            (499, ErrorClass::BadRequest),
            (500, ErrorClass::ServerError),
            (503, ErrorClass::ServerError),
            (504, ErrorClass::Timeout),
            (529, ErrorClass::ServerError),
            (599, ErrorClass::ServerError),
            (200, ErrorClass::Other("unexpected_status_200".into())),
            (302, ErrorClass::Other("unexpected_status_302".into())),
            (600, ErrorClass::Other("unexpected_status_600".into())),
        ];
        for (status, class) in cases {
            assert_eq!(class_for_status(status), class, "{status}");
        }
    }

    #[test]
    fn body_text_trims_and_keeps_up_to_1000_characters() {
        assert_eq!(
            body_text("p", 502, b"  <html>Bad</html>\n"),
            "<html>Bad</html>"
        );
        let exact = "y".repeat(1000);
        assert_eq!(body_text("p", 502, exact.as_bytes()), exact);
        let cut = body_text("p", 502, "é".repeat(1500).as_bytes());
        assert_eq!(cut.chars().count(), 1000);
        assert_eq!(cut, format!("{}…", "é".repeat(999)));
    }

    #[test]
    fn body_text_names_who_answered_an_empty_body() {
        assert_eq!(
            body_text("Gemini", 500, b" \n"),
            "Gemini answered HTTP 500 with an empty body"
        );
    }

    #[test]
    fn unsupported_names_adapter_operation_and_what_is_supported() {
        assert_eq!(
            unsupported("mock", "images", "chat and embeddings"),
            PluginError::InvalidInput(
                "the mock adapter does not support the operation \"images\" (only chat and embeddings)"
                    .to_string()
            )
        );
    }
}
