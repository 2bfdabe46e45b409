//! `GET /admin/webhooks`: every hook that is on (its URL without user,
//! password or query; its events; the names of its headers, never their
//! values or its secret) and what became of its events.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;

/// Lists the hooks; needs the master key (or an admin's key).
pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(e) = state.identity.admin(&headers) {
        return e.into_response();
    }
    let hooks = crate::observe::hub()
        .and_then(|h| h.webhooks.as_ref())
        .map(|w| w.stats())
        .unwrap_or_default();
    Json(json!({ "webhooks": hooks })).into_response()
}
