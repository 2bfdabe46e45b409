//! `GET /metrics`: Prometheus text format. Open by default (as the issue
//! asks: LiteLLM makes it a paid feature); behind the master key with
//! `general_settings.metrics_require_auth: true`.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

use super::AppState;
use crate::observe::metrics::scrape;

/// The route (`/metrics`, and `/metrics/` as LiteLLM's scrape configs
/// write it). Hands the installed metrics sink the key directory, which
/// end-user labels read.
pub fn routes(state: &AppState) -> Router<AppState> {
    if let Some(hub) = crate::observe::hub() {
        hub.metrics.attach(state.identity.clone());
    }
    Router::new()
        .route("/metrics", get(metrics))
        .route("/metrics/", get(metrics))
}

pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if state.gateway.config.observability.metrics_require_auth
        && let Err(e) = state.identity.admin(&headers)
    {
        return e.into_response();
    }
    let Some(hub) = crate::observe::hub() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics are not installed\n",
        )
            .into_response();
    };
    let m = &hub.metrics;
    let scraped = scrape::gather(
        &state.gateway,
        &state.registry,
        &state.accounts,
        &state.identity,
        state.gateway.config.metrics_caller_labels,
    )
    .await;
    match m.render(scraped) {
        Ok(body) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "could not encode /metrics");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "could not encode metrics\n",
            )
                .into_response()
        }
    }
}
