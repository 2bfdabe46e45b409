//! The HTTP server: the OpenAI-compatible API (each path with and without
//! `/v1`), health, and the admin API.

pub mod admin;
pub mod admin_config;
pub mod admin_models;
pub mod admin_shadow;
pub mod admin_webhooks;
pub mod cache_admin;
pub mod error;
pub mod manage;
pub mod metrics_route;
pub mod openai;
pub mod per_core;

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use arc_swap::ArcSwap;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::Request;
use axum::response::Response;
use axum::routing::future::RouteFuture;
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
    /// The config file's reloads, for `GET /admin/config`.
    pub config_status: Arc<crate::reload::Status>,
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
        .route("/admin/config", get(admin_config::show))
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

/// The router the server runs: each request is handed to the router of
/// the config current when it arrives ([`crate::reload`] swaps in a new one
/// on each reload), and keeps that router, and so that config's gateway,
/// to its end.
pub fn live(routers: Arc<ArcSwap<Router>>) -> Router {
    Router::new().fallback_service(Live(routers))
}

#[derive(Clone)]
struct Live(Arc<ArcSwap<Router>>);

impl tower_service::Service<Request> for Live {
    type Response = Response;
    type Error = Infallible;
    type Future = RouteFuture<Infallible>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        // A `Router` is an `Arc` inside: the clone is a count.
        let mut router = Router::clone(&self.0.load());
        tower_service::Service::call(&mut router, req)
    }
}
