//! The HTTP server: the OpenAI-compatible API (each path with and without
//! `/v1`), health, and the admin API.

pub mod admin;
pub mod error;
pub mod openai;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::gateway::Gateway;
use crate::plugins::Registry;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub gateway: Arc<Gateway>,
    pub registry: Arc<Registry>,
    /// `general_settings.master_key`; `None` means open, as in LiteLLM.
    pub master_key: Option<Arc<str>>,
}

/// Every route.
pub fn router(state: AppState) -> Router {
    let limit = state.gateway.config.max_body_bytes;
    let api = Router::new()
        .route("/chat/completions", post(openai::chat))
        .route("/embeddings", post(openai::embeddings))
        .route("/models", get(openai::models))
        // Group names may contain slashes (`openai/gpt-4o`).
        .route("/models/{*id}", get(openai::model));
    Router::new()
        .nest("/v1", api.clone())
        .merge(api)
        .route("/health/liveliness", get(openai::liveliness))
        .route("/health/liveness", get(openai::liveliness))
        .route("/health/readiness", get(openai::readiness))
        .route("/health", get(openai::health))
        .route("/admin/plugins", get(admin::plugins))
        .fallback(openai::not_found)
        .method_not_allowed_fallback(openai::method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}
