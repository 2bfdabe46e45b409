//! `GET /admin/config`: the config file the gateway runs on (path, loaded
//! at, SHA-256, generation), the last reload attempt with its error, the
//! changes waiting for a restart, and the running file with its secrets
//! masked. See [`crate::reload`].

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::AppState;

/// Shows the config's reload status; needs the master key (or an admin's
/// key).
pub async fn show(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(e) = state.identity.admin(&headers) {
        return e.into_response();
    }
    Json(state.config_status.report()).into_response()
}
