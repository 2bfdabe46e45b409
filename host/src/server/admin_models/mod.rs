//! The model admin API (issue 11), behind the management API's gate (the
//! master key, or a `proxy_admin` user's key):
//!
//! - `GET /admin/models`: every deployment with its status (`healthy`,
//!   `unhealthy`, `cooling_down`, `budget_exhausted`), latency and time to
//!   first token averages, error rate over the last minutes, last error,
//!   rpm/tpm used against its limits, and its budgets' spend this window.
//!   `GET /admin/models/{group, alias or deployment id}`: the same for one
//!   group or deployment.
//! - `POST /admin/models/refresh`: health-checks every deployment now and
//!   answers with each result.
//! - LiteLLM's `GET /model/info` (and `/v1/model/info`), `GET
//!   /model_group/info` and `GET /health`, in LiteLLM's shapes ([`litellm`]).
//!
//! Everything is read from the live state and the limiter, off the request
//! path; no answer holds a provider key ([`mask`]).

mod litellm;
mod mask;
mod status;

use std::time::Instant;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use self::status::Status;
use super::AppState;
use crate::config::Deployment;
use crate::gateway::ApiError;
use crate::ledger::scopes;
use crate::state::{Health, now_ms};

/// The model admin routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/models", get(list))
        .route("/admin/models/refresh", post(refresh))
        // Group names and deployment ids may contain slashes.
        .route("/admin/models/{*id}", get(one))
        .route("/model/info", get(model_info))
        .route("/v1/model/info", get(model_info))
        .route("/model_group/info", get(model_group_info))
        .route("/health", get(health))
}

/// The query, or a 400 naming what is wrong with it.
fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t)
        .map_err(|e| ApiError::bad_request(format!("invalid query: {}", e.body_text())))
}

/// The status of each of `ds`, with their budgets, and how many are in
/// each status.
async fn describe(app: &AppState, ds: &[&Deployment]) -> Value {
    let set = app.registry.snapshot();
    let accounts = &app.accounts;
    let limiter = &accounts.limiter;
    let now = now_ms();
    let rows = ds.iter().map(|d| {
        let live = status::read(&app.gateway.state, accounts, &set, d);
        async move {
            let mut row = live.to_json(now);
            let own = match &d.budget {
                Some(b) => Some(status::budget(limiter, scopes::deployment(&d.id), b).await),
                None => None,
            };
            let provider = match accounts.provider_budget(&d.provider) {
                Some(b) => Some(status::budget(limiter, scopes::provider(&d.provider), b).await),
                None => None,
            };
            row["budget"] = json!(own);
            row["provider_budget"] = json!(provider);
            (live.status, row)
        }
    });
    let rows = futures::future::join_all(rows).await;
    let summary: serde_json::Map<String, Value> = Status::ALL
        .iter()
        .map(|s| {
            let n = rows.iter().filter(|(status, _)| status == s).count();
            (s.as_str().to_string(), json!(n))
        })
        .collect();
    let data: Vec<Value> = rows.into_iter().map(|(_, row)| row).collect();
    json!({"data": data, "summary": summary})
}

/// `GET /admin/models`.
async fn list(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(e) = app.identity.admin(&headers) {
        return e.into_response();
    }
    let config = app.gateway.config.clone();
    let ds: Vec<&Deployment> = config.deployments.iter().map(AsRef::as_ref).collect();
    Json(describe(&app, &ds).await).into_response()
}

/// `GET /admin/models/{id}`: a model group (or an alias of one), else a
/// deployment id.
async fn one(State(app): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Err(e) = app.identity.admin(&headers) {
        return e.into_response();
    }
    let config = app.gateway.config.clone();
    let group = config.group(&id);
    let ds: Vec<&Deployment> = match group {
        Some(g) => g.deployments.iter().map(AsRef::as_ref).collect(),
        None => config
            .deployments
            .iter()
            .filter(|d| d.id == id)
            .map(AsRef::as_ref)
            .collect(),
    };
    if ds.is_empty() {
        let groups: Vec<&str> = config.groups.keys().map(String::as_str).collect();
        return ApiError::not_found(format!(
            "no model group or deployment {id:?}; model groups: {}",
            groups.join(", ")
        ))
        .into_response();
    }
    let mut body = describe(&app, &ds).await;
    body["model_group"] = json!(group.map(|g| &g.name));
    Json(body).into_response()
}

/// `POST /admin/models/refresh`: checks every deployment at once (as the
/// background checks do) and answers with each one's result and status.
/// A passing check does not end a cooldown.
async fn refresh(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(e) = app.identity.admin(&headers) {
        return e.into_response();
    }
    let started = Instant::now();
    app.gateway.check_all().await;
    let took = started.elapsed();
    let set = app.registry.snapshot();
    let (mut healthy, mut unhealthy) = (0, 0);
    let rows: Vec<Value> = app
        .gateway
        .config
        .deployments
        .iter()
        .map(|d| {
            let live = status::read(&app.gateway.state, &app.accounts, &set, d);
            let (health, checked, error) = match &live.snapshot.health {
                Health::Healthy { checked_ms } => ("healthy", Some(*checked_ms), None),
                Health::Unhealthy { checked_ms, error } => {
                    ("unhealthy", Some(*checked_ms), Some(error.clone()))
                }
                Health::Unknown => ("unknown", None, None),
            };
            match health {
                "healthy" => healthy += 1,
                _ => unhealthy += 1,
            }
            json!({
                "id": d.id,
                "model_group": d.group,
                "model": format!("{}/{}", d.provider, d.model),
                "health": health,
                "error": error,
                "checked_at": checked.and_then(status::rfc3339),
                "status": live.status.as_str(),
                "status_reason": live.reason,
            })
        })
        .collect();
    Json(json!({
        "data": rows,
        "healthy_count": healthy,
        "unhealthy_count": unhealthy,
        "duration_ms": took.as_secs_f64() * 1000.0,
    }))
    .into_response()
}

/// LiteLLM's `GET /model/info`.
async fn model_info(
    State(app): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<litellm::ModelInfoQuery>, QueryRejection>,
) -> Response {
    if let Err(e) = app.identity.admin(&headers) {
        return e.into_response();
    }
    let q = match query(q) {
        Ok(q) => q,
        Err(e) => return e.into_response(),
    };
    let id = q.litellm_model_id.as_deref();
    match litellm::model_info_entries(&app.gateway.config, id) {
        Some(data) => Json(json!({"data": data})).into_response(),
        None => ApiError::not_found(format!(
            "no deployment has the id {:?} (model_info.id)",
            id.unwrap_or_default()
        ))
        .into_response(),
    }
}

/// LiteLLM's `GET /model_group/info`.
async fn model_group_info(
    State(app): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<litellm::GroupInfoQuery>, QueryRejection>,
) -> Response {
    if let Err(e) = app.identity.admin(&headers) {
        return e.into_response();
    }
    let q = match query(q) {
        Ok(q) => q,
        Err(e) => return e.into_response(),
    };
    let data = litellm::group_info_entries(&app.gateway.config, q.model_group.as_deref());
    Json(json!({"data": data})).into_response()
}

/// `GET /health`: deployments' addresses and upstream errors, for admins
/// only.
async fn health(
    State(app): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<litellm::HealthQuery>, QueryRejection>,
) -> Response {
    if let Err(e) = app.identity.admin(&headers) {
        return e.into_response();
    }
    let q = match query(q) {
        Ok(q) => q,
        Err(e) => return e.into_response(),
    };
    let set = app.registry.snapshot();
    Json(litellm::health(
        &app.gateway.config,
        &app.gateway.state,
        &app.accounts,
        &set,
        &q,
    ))
    .into_response()
}
