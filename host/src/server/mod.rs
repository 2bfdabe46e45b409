//! The HTTP server. For now: the admin API for plugins; the OpenAI-compatible
//! routes come with the gateway.

pub mod admin;

use std::sync::Arc;

use axum::Router;

use crate::plugins::Registry;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub registry: Arc<Registry>,
    /// `general_settings.master_key`; `None` means open, as in LiteLLM.
    pub master_key: Option<Arc<str>>,
}

/// Every route.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/admin/plugins", axum::routing::get(admin::plugins))
        .route(
            "/health/liveliness",
            axum::routing::get(|| async { "I'm alive!" }),
        )
        .with_state(state)
}
