//! The HTTP server: the OpenAI-compatible API (each path with and without
//! `/v1`), health, and the admin API.

pub mod admin;
pub mod admin_models;
pub mod admin_shadow;
pub mod admin_webhooks;
pub mod cache_admin;
pub mod error;
pub mod manage;
pub mod metrics_route;
pub mod openai;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::gateway::Gateway;
use crate::identity::Identity;
use crate::ledger::Accounts;
use crate::plugins::Registry;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub gateway: Arc<Gateway>,
    pub registry: Arc<Registry>,
    /// Keys, teams, users and end users, cached; the master key.
    pub identity: Arc<Identity>,
    /// Limits and spend.
    pub accounts: Arc<Accounts>,
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
        .route("/admin/plugins", get(admin::plugins))
        .route("/admin/webhooks", get(admin_webhooks::list))
        .route("/cache/ping", get(cache_admin::ping))
        .route("/cache/delete", post(cache_admin::delete))
        .route("/cache/flushall", post(cache_admin::flushall))
        .merge(manage::routes())
        .merge(metrics_route::routes(&state))
        .merge(admin_models::routes())
        .merge(admin_shadow::routes())
        .fallback(openai::not_found)
        .method_not_allowed_fallback(openai::method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}
