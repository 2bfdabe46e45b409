//! `GET /admin/plugins`: every plugin file, its version, status and error.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use crate::gateway::ApiError;

/// Lists the plugins; needs the master key when one is set.
pub async fn plugins(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(key) = &state.master_key
        && !presented_keys(&headers).contains(&&**key)
    {
        return ApiError::unauthorized(
            "Authentication Error: the admin API needs the master key as a Bearer token",
        )
        .into_response();
    }
    Json(json!({ "plugins": state.registry.status() })).into_response()
}

/// The keys a client sent: `Authorization: Bearer K` (scheme in any case)
/// and `x-api-key: K`. Either may carry the gateway's key.
pub fn presented_keys(headers: &HeaderMap) -> Vec<&str> {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            let v = v.trim();
            match v.split_once(' ') {
                Some((scheme, key)) if scheme.eq_ignore_ascii_case("bearer") => key.trim(),
                _ => v,
            }
        });
    let api_key = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    bearer.into_iter().chain(api_key).collect()
}
