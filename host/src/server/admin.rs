//! `GET /admin/plugins`: every plugin file, its version, status and error.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use super::error::ApiError;

/// Lists the plugins; needs the master key when one is set.
pub async fn plugins(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(key) = &state.master_key
        && !presented_key(&headers).is_some_and(|k| k == &**key)
    {
        return ApiError::unauthorized(
            "Authentication Error: the admin API needs the master key as a Bearer token",
        )
        .into_response();
    }
    Json(json!({ "plugins": state.registry.status() })).into_response()
}

/// The key a client sent: `Authorization: Bearer K` or `x-api-key: K`.
pub fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        return Some(v.strip_prefix("Bearer ").unwrap_or(v).trim());
    }
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}
