//! `GET /admin/plugins`: every plugin file, its version, status and error.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;

/// Lists the plugins; needs the master key (or an admin's key), and is
/// closed on a gateway without a master key.
pub async fn plugins(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(e) = state.identity.admin(&headers) {
        return e.into_response();
    }
    Json(json!({ "plugins": state.registry.status() })).into_response()
}
