//! A limit's refusal as the client sees it: one status per kind of
//! refusal, everywhere (LiteLLM answers budget refusals with 400, 401 or
//! 429 depending on version and path; Switchyard always with 429).
//!
//! | refusal | status | `type` | `code` |
//! | --- | --- | --- | --- |
//! | budget spent | 429 | `budget_exceeded` | `budget_exceeded` |
//! | rpm, tpm, max parallel | 429 | `rate_limit_error` | `rate_limit_exceeded` |
//!
//! Each names the limit, its value, the current count and when it resets,
//! and carries `Retry-After`.

use axum::http::StatusCode;
use switchyard_limits::{RefusalKind, Refused};

use crate::gateway::ApiError;

pub fn to_api(r: &Refused) -> ApiError {
    let (kind, code, limit_name) = match r.kind {
        RefusalKind::Budget => ("budget_exceeded", "budget_exceeded", "budget"),
        RefusalKind::Rpm => ("rate_limit_error", "rate_limit_exceeded", "rpm"),
        RefusalKind::Tpm => ("rate_limit_error", "rate_limit_exceeded", "tpm"),
        RefusalKind::Parallel => ("rate_limit_error", "rate_limit_exceeded", "max_parallel"),
    };
    let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, kind, r.to_string());
    e.code = Some(code.into());
    e.retry_after = Some(u32::try_from(r.retry_after_s.max(1)).unwrap_or(u32::MAX));
    let mut headers = vec![("x-switchyard-limit", format!("{limit_name}; {}", r.label))];
    match r.kind {
        RefusalKind::Rpm => headers.push(("x-ratelimit-remaining-requests", "0".into())),
        RefusalKind::Tpm => headers.push(("x-ratelimit-remaining-tokens", "0".into())),
        _ => {}
    }
    e.headers = headers.into_boxed_slice();
    e
}
