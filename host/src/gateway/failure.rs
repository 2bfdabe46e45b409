//! Why one attempt on one deployment failed, which class of failure that is
//! (retry and cooldown policies key on it), and what the client sees.

use std::time::{Duration, Instant};

use axum::http::StatusCode;

use crate::config::FailureClass;
use crate::plugins::CallError;
use crate::plugins::bindings::provider_api::{ErrorClass, Header, ProviderError};
use crate::upstream::UpstreamError;

use super::error::{ApiError, kind_for_status};

/// Why one deployment could not answer.
#[derive(Debug)]
pub enum Failure {
    /// The provider's error, and its `Retry-After`.
    Provider(ProviderError, Option<Duration>),
    Upstream(UpstreamError),
    /// The adapter could not build the provider's request.
    Plugin(CallError),
    /// The provider answered, but not in a form the adapter could read (a
    /// garbled 200, a stream event that is not what it documents).
    BadAnswer(CallError),
    /// No loaded adapter plugin serves the deployment's provider prefix: the
    /// gateway's configuration is incomplete, and no retry, cooldown or
    /// fallback would change that.
    NoAdapter {
        deployment: String,
        prefix: String,
    },
}

impl Failure {
    /// The policy class of this failure.
    pub fn class(&self) -> FailureClass {
        match self {
            Failure::Provider(e, _) => match &e.class {
                ErrorClass::BadRequest | ErrorClass::NotFound => FailureClass::BadRequest,
                ErrorClass::Authentication | ErrorClass::PermissionDenied => {
                    FailureClass::Authentication
                }
                ErrorClass::RateLimit => FailureClass::RateLimit,
                ErrorClass::ContextWindowExceeded => FailureClass::ContextWindow,
                ErrorClass::ContentPolicy => FailureClass::ContentPolicy,
                ErrorClass::Timeout => FailureClass::Timeout,
                ErrorClass::ServerError => FailureClass::Server,
                ErrorClass::Other(_) => class_of_status(e.status),
            },
            Failure::Upstream(UpstreamError::Timeout(_)) => FailureClass::Timeout,
            Failure::Upstream(_) | Failure::NoAdapter { .. } | Failure::BadAnswer(_) => {
                FailureClass::Server
            }
            Failure::Plugin(CallError::Plugin {
                invalid_input: true,
                ..
            }) => FailureClass::BadRequest,
            Failure::Plugin(_) => FailureClass::Server,
        }
    }

    /// Whether the failure counts against the deployment (towards its
    /// cooldown, and as its last error). A missing or failing adapter plugin
    /// is the gateway's own side; a malformed request, refused content or an
    /// over-long prompt is the request's fault.
    pub fn blames_deployment(&self) -> bool {
        !matches!(self, Failure::Plugin(_) | Failure::NoAdapter { .. })
            && self.class().blames_deployment()
    }

    /// Whether the failure ends the request at once: a configuration error
    /// (no adapter for a deployment's prefix) is no provider failure, so it
    /// is neither retried nor taken to a fallback group, and says plainly
    /// what the config lacks.
    pub fn ends_the_request(&self) -> bool {
        matches!(self, Failure::NoAdapter { .. })
    }

    /// The provider's `Retry-After`, if it sent one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Failure::Provider(_, r) => *r,
            _ => None,
        }
    }

    /// A one-line description for logs, cooldown reasons and `/health`.
    pub fn summary(&self) -> String {
        match self {
            Failure::Provider(e, _) => format!("HTTP {}: {}", e.status, e.message),
            Failure::Upstream(e) => e.to_string(),
            Failure::Plugin(e) | Failure::BadAnswer(e) => e.to_string(),
            Failure::NoAdapter { prefix, .. } => {
                format!("no provider adapter plugin serves the prefix {prefix:?}")
            }
        }
    }

    /// The client's error for this failure.
    pub fn to_api(&self, deployment: &str) -> ApiError {
        match self {
            Failure::Provider(e, retry_after) => {
                // 504 stays a timeout; any other provider server error is a
                // bad gateway to the client (Anthropic's 529 "overloaded"
                // included), as is a status that is no error at all.
                let status = match e.status {
                    504 => StatusCode::GATEWAY_TIMEOUT,
                    s if !(400..500).contains(&s) => StatusCode::BAD_GATEWAY,
                    s => StatusCode::from_u16(s).unwrap_or(StatusCode::BAD_GATEWAY),
                };
                let mut err = ApiError::new(status, kind_for_status(e.status), e.message.clone());
                err.code = e.code.clone();
                err.retry_after =
                    retry_after.map(|d| d.as_secs_f64().ceil().min(u32::MAX as f64) as u32);
                if matches!(e.class, ErrorClass::ContextWindowExceeded) {
                    err.code = Some("context_length_exceeded".into());
                }
                if matches!(e.class, ErrorClass::ContentPolicy) {
                    err.code = Some("content_policy_violation".into());
                }
                err
            }
            Failure::Upstream(UpstreamError::Timeout(t)) => ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "timeout_error",
                format!("deployment {deployment}: no answer from the provider within {t:?}"),
            ),
            Failure::Upstream(e) => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "api_error",
                format!("deployment {deployment}: {e}"),
            ),
            Failure::Plugin(CallError::Plugin {
                reason,
                invalid_input: true,
                ..
            }) => ApiError::bad_request(reason.clone()),
            Failure::Plugin(e) => ApiError::internal(e.to_string()),
            Failure::BadAnswer(e) => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "api_error",
                format!(
                    "deployment {deployment} answered with something its adapter could not read: {e}"
                ),
            ),
            // A 500, not a 503: nothing here is busy or cooling down, and
            // waiting will not help; the gateway is misconfigured until an
            // operator adds an adapter (or fixes the prefix). 503 stays the
            // answer for deployments that are there but cannot take a
            // request now, with a Retry-After.
            Failure::NoAdapter { deployment, prefix } => {
                let mut e = ApiError::internal(format!(
                    "configuration error: deployment {deployment} uses the provider prefix {prefix:?}, and no loaded provider adapter plugin serves it; the config needs an adapter plugin for {prefix:?} (or another prefix on this deployment)"
                ));
                e.code = Some("no_provider_adapter".into());
                e
            }
        }
    }
}

/// The class of a bare HTTP status.
fn class_of_status(status: u16) -> FailureClass {
    match status {
        401 | 403 => FailureClass::Authentication,
        408 | 504 => FailureClass::Timeout,
        429 => FailureClass::RateLimit,
        s if s >= 500 => FailureClass::Server,
        _ => FailureClass::BadRequest,
    }
}

/// The client's error once a model group has no attempt left: the last
/// failure decides the status; after several attempts a provider's server
/// error is a 502 that says how many were tried.
pub fn exhausted(deployment: &str, failure: &Failure, group: &str, attempts: u32) -> ApiError {
    let mut err = failure.to_api(deployment);
    if attempts > 1 {
        err.message = format!(
            "{attempts} attempts on model group {group} failed; last error from {deployment}: {}",
            err.message
        );
        if err.status.is_server_error() && err.status != StatusCode::GATEWAY_TIMEOUT {
            err.status = StatusCode::BAD_GATEWAY;
        }
    }
    err
}

/// What is left of a deadline (at least a millisecond, so a call that is
/// due still gets a chance to read what has arrived).
pub fn time_left(deadline: Instant) -> Duration {
    deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1))
}

/// The longest `Retry-After` believed: a provider asking for more would
/// take a deployment out of rotation (on every replica) for that long.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// A `Retry-After` header: seconds (fractions allowed), or an HTTP date;
/// at most [`MAX_RETRY_AFTER`].
pub fn retry_after(headers: &[Header]) -> Option<Duration> {
    let value = headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("retry-after"))?
        .value
        .trim();
    let wait = match value.parse::<f64>() {
        Ok(secs) if secs >= 0.0 => Duration::try_from_secs_f64(secs).unwrap_or(MAX_RETRY_AFTER),
        Ok(_) => return None,
        Err(_) => {
            let when = httpdate(value)?;
            when.saturating_sub(Duration::from_millis(crate::state::now_ms()))
        }
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) as time since the epoch.
fn httpdate(s: &str) -> Option<Duration> {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let t = time::PrimitiveDateTime::parse(s, &format)
        .ok()?
        .assume_utc();
    u64::try_from(t.unix_timestamp())
        .ok()
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(v: &str) -> Vec<Header> {
        vec![Header {
            name: "Retry-After".into(),
            value: v.into(),
        }]
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(retry_after(&h("2")), Some(Duration::from_secs(2)));
        assert_eq!(retry_after(&h("0.5")), Some(Duration::from_millis(500)));
        assert_eq!(retry_after(&h("-1")), None);
        assert_eq!(retry_after(&h("NaN")), None);
        // Absurd waits are capped rather than believed (or overflowing).
        assert_eq!(retry_after(&h("1e20")), Some(MAX_RETRY_AFTER));
        assert_eq!(retry_after(&h("inf")), Some(MAX_RETRY_AFTER));
        assert_eq!(retry_after(&h("31536000")), Some(MAX_RETRY_AFTER));
        assert_eq!(
            retry_after(&h("Fri, 01 Jan 2100 00:00:00 GMT")),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(retry_after(&h("soon")), None);
        // A date in the past means "now".
        assert_eq!(
            retry_after(&h("Sun, 06 Nov 1994 08:49:37 GMT")),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(&[]), None);
    }

    #[test]
    fn no_adapter_is_a_500_configuration_error_that_ends_the_request() {
        let f = Failure::NoAdapter {
            deployment: "claude-eu".into(),
            prefix: "anthropic".into(),
        };
        assert!(f.ends_the_request());
        assert!(!f.blames_deployment());
        let e = f.to_api("claude-eu");
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(e.kind, "internal_server_error");
        assert_eq!(e.code.as_deref(), Some("no_provider_adapter"));
        assert!(e.message.contains("deployment claude-eu"), "{}", e.message);
        assert!(
            e.message
                .contains(r#"the config needs an adapter plugin for "anthropic""#),
            "{}",
            e.message
        );
        // Only a configuration error ends the request.
        let provider = Failure::Provider(
            ProviderError {
                status: 503,
                class: ErrorClass::ServerError,
                message: "busy".into(),
                code: None,
            },
            None,
        );
        assert!(!provider.ends_the_request());
        assert!(!Failure::Upstream(UpstreamError::Timeout(Duration::ZERO)).ends_the_request());
    }

    #[test]
    fn a_provider_error_keeps_its_code_and_type_in_both_renderings() {
        let f = Failure::Provider(
            ProviderError {
                status: 529,
                class: ErrorClass::ServerError,
                message: "Overloaded".into(),
                code: Some("overloaded_error".into()),
            },
            None,
        );
        let e = f.to_api("d");
        assert_eq!(e.status, StatusCode::BAD_GATEWAY);
        let event: serde_json::Value = serde_json::from_str(
            std::str::from_utf8(&e.sse_event())
                .unwrap()
                .trim_start_matches("data: ")
                .trim_end(),
        )
        .unwrap();
        assert_eq!(event, e.body());
        assert_eq!(event["error"]["type"], "api_error");
        assert_eq!(event["error"]["code"], "overloaded_error");
        assert_eq!(event["error"]["message"], "Overloaded");
    }

    #[test]
    fn bare_statuses_have_classes() {
        assert_eq!(class_of_status(429), FailureClass::RateLimit);
        assert_eq!(class_of_status(503), FailureClass::Server);
        assert_eq!(class_of_status(408), FailureClass::Timeout);
        assert_eq!(class_of_status(403), FailureClass::Authentication);
        assert_eq!(class_of_status(422), FailureClass::BadRequest);
    }
}
