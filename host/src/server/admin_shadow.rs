//! Shadow rollouts on the admin API (master key, like `/admin/plugins`):
//!
//! - `GET /admin/plugins/{name}/shadow`: the candidate, its share, the
//!   counts, the last disagreeing inputs, errors and both sides' latency.
//! - `DELETE /admin/plugins/{name}/shadow`: stops it (its counts stay).
//! - `POST /admin/plugins/{name}/promote`: the candidate becomes the live
//!   plugin in one swap, and the shadow ends.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::AppState;
use crate::gateway::ApiError;
use crate::plugins::registry::PromoteError;
use crate::plugins::shadow::{self, ShadowError};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/plugins/{name}/shadow", get(show).delete(stop))
        .route("/admin/plugins/{name}/promote", post(promote))
}

async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    if let Err(e) = state.identity.admin(&headers) {
        return e.into_response();
    }
    match shadow::get(&name) {
        Some(s) => Json(s.report()).into_response(),
        None => error(ShadowError::NoShadow(name)).into_response(),
    }
}

async fn stop(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    if let Err(e) = state.identity.admin(&headers) {
        return e.into_response();
    }
    // Stopping takes the shadows' change lock, which a rebuild holds while
    // it compiles candidates (seconds): off the runtime, as promotion.
    match tokio::task::spawn_blocking(move || shadow::stop(&name)).await {
        Ok(Ok(s)) => Json(s.report()).into_response(),
        Ok(Err(e)) => error(e).into_response(),
        Err(e) => {
            ApiError::internal(format!("stopping the shadow did not finish: {e}")).into_response()
        }
    }
}

async fn promote(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    if let Err(e) = state.identity.admin(&headers) {
        return e.into_response();
    }
    // Promotion swaps a pointer, but takes the registry's change lock,
    // which a hot reload compiling a file may hold: off the runtime.
    let registry = state.registry.clone();
    let result = tokio::task::spawn_blocking(move || shadow::promote(&registry, &name)).await;
    match result {
        Ok(Ok(s)) => Json(s.report()).into_response(),
        Ok(Err(e)) => error(e).into_response(),
        Err(e) => ApiError::internal(format!("promotion did not finish: {e}")).into_response(),
    }
}

/// A shadow error in the OpenAI error shape: 404 when there is nothing to
/// act on, 409 when the shadow or the candidate is in the wrong state.
fn error(e: ShadowError) -> ApiError {
    let message = e.to_string();
    match e {
        ShadowError::NoShadow(_) | ShadowError::Promote(PromoteError::NoPlugin(_)) => {
            ApiError::new(StatusCode::NOT_FOUND, "invalid_request_error", message)
        }
        ShadowError::NotRunning(..) | ShadowError::Promote(PromoteError::WrongKind { .. }) => {
            ApiError::new(StatusCode::CONFLICT, "invalid_request_error", message)
        }
    }
}
