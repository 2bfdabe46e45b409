//! Handlers of the OpenAI-compatible routes.

use std::time::Instant;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use super::admin::presented_keys;
use crate::gateway::ApiError;
use crate::gateway::{Served, ServedBody};

/// Checks the master key, when one is set.
fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(key) = &state.master_key else {
        return Ok(());
    };
    let keys = presented_keys(headers);
    match keys.first() {
        _ if keys.contains(&&**key) => Ok(()),
        Some(_) => Err(ApiError::unauthorized(
            "Authentication Error: invalid API key. Use the gateway's key as a Bearer token.",
        )),
        None => Err(ApiError::unauthorized(
            "Authentication Error: no API key. Send `Authorization: Bearer <key>`.",
        )),
    }
}

/// The request id: the client's `x-request-id`, else a new one.
fn request_id(headers: &HeaderMap) -> HeaderValue {
    headers
        .get("x-request-id")
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .cloned()
        .unwrap_or_else(|| {
            // A v4 UUID from the thread's PRNG: `new_v4` asks the kernel for
            // entropy on every request.
            let id = uuid::Builder::from_random_bytes(fastrand::u128(..).to_le_bytes()).into_uuid();
            HeaderValue::from_str(&id.to_string()).unwrap_or(HeaderValue::from_static("unknown"))
        })
}

fn body_or_error(body: Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(limit)
        } else {
            ApiError::bad_request(format!("could not read the request body: {e}"))
        }
    })
}

fn header(v: &str) -> HeaderValue {
    HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static("invalid"))
}

/// Turns a served answer into the response, with the gateway's headers.
fn respond(result: Result<Served, ApiError>, started: Instant, id: HeaderValue) -> Response {
    let mut resp = match result {
        Err(e) => {
            let mut r = e.into_response();
            r.headers_mut().insert("x-request-id", id);
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            r.headers_mut()
                .insert("x-switchyard-overhead-ms", header(&format!("{ms:.3}")));
            return r;
        }
        Ok(served) => {
            let overhead = started.elapsed().saturating_sub(served.upstream_wait);
            let mut r = match served.body {
                ServedBody::Json(b) => {
                    let mut r = Response::new(Body::from(b));
                    r.headers_mut()
                        .insert("content-type", HeaderValue::from_static("application/json"));
                    r
                }
                ServedBody::Sse(stream) => {
                    let mut r = Response::new(Body::from_stream(stream));
                    let h = r.headers_mut();
                    h.insert(
                        "content-type",
                        HeaderValue::from_static("text/event-stream"),
                    );
                    h.insert("cache-control", HeaderValue::from_static("no-cache"));
                    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
                    r
                }
            };
            let h = r.headers_mut();
            h.insert("x-switchyard-model-group", header(&served.group));
            h.insert("x-switchyard-deployment", header(&served.deployment));
            h.insert(
                "x-switchyard-attempts",
                header(&served.attempts.to_string()),
            );
            h.insert(
                "x-switchyard-fallbacks",
                header(&served.fallbacks.to_string()),
            );
            if let Some(reason) = &served.route_reason {
                h.insert("x-switchyard-route-reason", header(reason));
            }
            let ms = overhead.as_secs_f64() * 1000.0;
            h.insert("x-switchyard-overhead-ms", header(&format!("{ms:.3}")));
            r
        }
    };
    resp.headers_mut().insert("x-request-id", id);
    resp
}

/// Which gateway operation a POST route serves.
#[derive(Clone, Copy)]
enum Op {
    Chat,
    Embeddings,
}

/// The shared body of the POST routes: auth, body, the gateway, headers.
async fn serve(
    state: AppState,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
    op: Op,
) -> Response {
    let started = Instant::now();
    let id = request_id(&headers);
    let result = async {
        authorize(&state, &headers)?;
        let body = body_or_error(body, state.gateway.config.max_body_bytes)?;
        match op {
            Op::Chat => state.gateway.chat(body).await,
            Op::Embeddings => state.gateway.embeddings(body).await,
        }
    }
    .await;
    respond(result, started, id)
}

pub async fn chat(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    serve(state, headers, body, Op::Chat).await
}

pub async fn embeddings(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    serve(state, headers, body, Op::Embeddings).await
}

fn model_json(name: &str) -> serde_json::Value {
    json!({"id": name, "object": "model", "created": 0, "owned_by": "switchyard"})
}

pub async fn models(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(e) = authorize(&state, &headers) {
        return e.into_response();
    }
    let config = &state.gateway.config;
    let data: Vec<_> = config
        .groups
        .keys()
        .chain(config.aliases.keys())
        .map(|n| model_json(n))
        .collect();
    Json(json!({"object": "list", "data": data})).into_response()
}

pub async fn model(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(e) = authorize(&state, &headers) {
        return e.into_response();
    }
    match state.gateway.config.group(&id) {
        Some(_) => Json(model_json(&id)).into_response(),
        None => state.gateway.unknown_model(&id).into_response(),
    }
}

pub async fn liveliness() -> &'static str {
    "I'm alive!"
}

/// Ready when every plugin the config names is loaded.
pub async fn readiness(State(state): State<AppState>) -> Response {
    let set = state.registry.snapshot();
    let plugins = &state.gateway.config.plugins;
    let missing: Vec<&String> = plugins
        .router
        .iter()
        .chain(&plugins.sanitizers)
        .chain(&plugins.cost_rules)
        .filter(|n| set.get(n).is_none())
        .collect();
    // Losing Redis does not make a replica unready: it serves on local
    // state, and says so here.
    let body = json!({
        "status": if missing.is_empty() { "healthy" } else { "unhealthy" },
        "plugins_loaded": set.len(),
        "missing_plugins": missing,
        "shared_state": state.gateway.state.shared_status(),
    });
    let status = if missing.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// Each deployment with its status (`healthy`, `unhealthy` or
/// `cooling_down`), live state and last error. LiteLLM's lists
/// (`healthy_endpoints`, `unhealthy_endpoints`) are kept; a cooling
/// deployment is listed as unhealthy with its status saying why.
pub async fn health(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(e) = authorize(&state, &headers) {
        return e.into_response();
    }
    let set = state.registry.snapshot();
    let live = &state.gateway.state;
    let now = crate::state::now_ms();
    let mut healthy = Vec::new();
    let mut unhealthy = Vec::new();
    let mut cooling = 0;
    for d in &state.gateway.config.deployments {
        let s = live.snapshot(d);
        let last_error = live.last_error(d).map(|(at, message)| {
            json!({"message": message, "seconds_ago": now.saturating_sub(at) / 1000})
        });
        let mut entry = json!({
            "id": d.id, "model_group": d.group, "model": format!("{}/{}", d.provider, d.model),
            "api_base": d.api_base, "in_flight": s.in_flight, "latency_avg_ms": s.latency_avg_ms,
            "rpm_used": s.rpm_used, "tpm_used": s.tpm_used, "last_error": last_error,
        });
        let problem = if set.provider_for(&d.provider).is_none() {
            Some((
                "unhealthy",
                format!("no adapter plugin serves the prefix {:?}", d.provider),
            ))
        } else if let Some(c) = &s.cooldown {
            cooling += 1;
            entry["cooldown_seconds_left"] = json!(c.remaining(now).as_secs_f64());
            Some(("cooling_down", c.reason.clone()))
        } else if let crate::state::Health::Unhealthy { error, .. } = &s.health {
            Some(("unhealthy", format!("health check: {error}")))
        } else {
            None
        };
        match &s.health {
            crate::state::Health::Unknown => {}
            crate::state::Health::Healthy { checked_ms }
            | crate::state::Health::Unhealthy { checked_ms, .. } => {
                entry["checked_seconds_ago"] = json!(now.saturating_sub(*checked_ms) / 1000);
            }
        }
        match problem {
            None => {
                entry["status"] = json!("healthy");
                healthy.push(entry);
            }
            Some((status, error)) => {
                entry["status"] = json!(status);
                entry["error"] = json!(error);
                unhealthy.push(entry);
            }
        }
    }
    Json(json!({
        "healthy_endpoints": healthy, "unhealthy_endpoints": unhealthy,
        "healthy_count": healthy.len(), "unhealthy_count": unhealthy.len(),
        "cooling_down_count": cooling,
    }))
    .into_response()
}

pub async fn method_not_allowed() -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request_error",
        "method not allowed on this route",
    )
    .into_response()
}

pub async fn not_found() -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        "no such route",
    )
    .into_response()
}
