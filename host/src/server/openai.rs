//! Handlers of the OpenAI-compatible routes.

use std::time::Instant;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tracing::Instrument;

use super::AppState;
use crate::gateway::{ApiError, new_id};
use crate::gateway::{Served, ServedBody};
use crate::identity::Principal;
use crate::ledger::Ledger;
use crate::observe::traces;

/// Checks the caller's key (any valid key) for the read-only routes.
fn authorize(state: &AppState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    state.identity.authenticate(headers)
}

/// The request id: the client's `x-request-id`, else a new one.
fn request_id(headers: &HeaderMap) -> HeaderValue {
    headers
        .get("x-request-id")
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_str(&new_id()).unwrap_or(HeaderValue::from_static("unknown"))
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
fn respond(
    result: Result<Served, ApiError>,
    started: Instant,
    id: HeaderValue,
    ledger: Option<&Ledger>,
) -> Response {
    let mut resp = match result {
        Err(e) => {
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            if let Some(ledger) = ledger {
                ledger.failed(&e.message);
                let attempts = e
                    .headers
                    .iter()
                    .find(|(n, _)| *n == "x-switchyard-attempts")
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(0);
                ledger.outcome(
                    e.status.as_u16(),
                    Some(e.code.as_deref().unwrap_or(e.kind)),
                    attempts,
                    0,
                    ms,
                );
            }
            let mut r = e.into_response();
            r.headers_mut().insert("x-request-id", id);
            if let Some(ledger) = ledger {
                r.headers_mut()
                    .insert("x-switchyard-call-id", header(ledger.call_id()));
            }
            r.headers_mut()
                .insert("x-switchyard-overhead-ms", header(&format!("{ms:.3}")));
            if let Some(ledger) = ledger {
                rate_limit_headers(r.headers_mut(), ledger);
            }
            return r;
        }
        Ok(served) => {
            let overhead = started.elapsed().saturating_sub(served.upstream_wait);
            if let Some(ledger) = ledger {
                ledger.answered(
                    served.cache.as_ref().map(|c| c.status),
                    served.route_reason.as_deref(),
                    served.upstream_wait,
                );
                ledger.outcome(
                    200,
                    None,
                    served.attempts,
                    served.fallbacks,
                    overhead.as_secs_f64() * 1000.0,
                );
            }
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
            if let Some(cache) = &served.cache {
                h.insert("x-switchyard-cache", HeaderValue::from_static(cache.status));
                h.insert("x-switchyard-cache-key", header(&cache.key));
                if let Some((hits, total)) = cache.items {
                    h.insert(
                        "x-switchyard-cache-hits",
                        header(&format!("{hits}/{total}")),
                    );
                }
            }
            let ms = overhead.as_secs_f64() * 1000.0;
            h.insert("x-switchyard-overhead-ms", header(&format!("{ms:.3}")));
            if let Some(ledger) = ledger {
                // Known for a whole answer; a stream's cost is known only
                // when it ends (its spend record has it).
                if let Some(cost) = ledger.cost() {
                    let v = match cost {
                        Some(usd) => format!("{usd}"),
                        None => "unknown".into(),
                    };
                    h.insert("x-switchyard-response-cost", header(&v));
                }
                rate_limit_headers(h, ledger);
            }
            r
        }
    };
    resp.headers_mut().insert("x-request-id", id);
    if let Some(ledger) = ledger {
        resp.headers_mut()
            .insert("x-switchyard-call-id", header(ledger.call_id()));
    }
    resp
}

/// OpenAI's `x-ratelimit-*` headers, where a limit applied.
fn rate_limit_headers(h: &mut HeaderMap, ledger: &Ledger) {
    let Some(r) = ledger.remaining() else {
        return;
    };
    if let Some(n) = r.requests {
        h.insert("x-ratelimit-remaining-requests", header(&n.to_string()));
    }
    if let Some(n) = r.tokens {
        h.insert("x-ratelimit-remaining-tokens", header(&n.to_string()));
    }
    if let Some(s) = r.reset_requests_s {
        h.insert("x-ratelimit-reset-requests", header(&format!("{s}s")));
    }
    if let Some(s) = r.reset_tokens_s {
        h.insert("x-ratelimit-reset-tokens", header(&format!("{s}s")));
    }
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
    // The spend record's id is the gateway's own (`x-switchyard-call-id`):
    // a client's `x-request-id` may repeat, or name another's request.
    let call_id = new_id();
    let principal = match authorize(&state, &headers) {
        Ok(p) => p,
        Err(e) => {
            // A refused key leaves a record too (without the key).
            let ledger = Ledger::open(&state.accounts, Principal::Open, &call_id, started);
            return respond(Err(e), started, id, Some(&ledger));
        }
    };
    let ledger = Ledger::open(&state.accounts, principal, &call_id, started);
    let result = async {
        let body = body_or_error(body, state.gateway.config.max_body_bytes)?;
        match op {
            Op::Chat => state.gateway.chat(body, &ledger).await,
            Op::Embeddings => state.gateway.embeddings(body, &ledger).await,
        }
    }
    .await;
    respond(result, started, id, Some(&ledger))
}

pub async fn chat(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let span = traces::request_span("chat", &headers);
    serve(state, headers, body, Op::Chat).instrument(span).await
}

pub async fn embeddings(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let span = traces::request_span("embeddings", &headers);
    serve(state, headers, body, Op::Embeddings)
        .instrument(span)
        .await
}

fn model_json(name: &str) -> serde_json::Value {
    json!({"id": name, "object": "model", "created": 0, "owned_by": "switchyard"})
}

pub async fn models(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let principal = match authorize(&state, &headers) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let config = &state.gateway.config;
    // A key sees the models it may call.
    let data: Vec<_> = config
        .groups
        .keys()
        .map(|g| (g, g))
        .chain(config.aliases.iter())
        .filter(|(name, group)| principal.check_model(name, group, &config.aliases).is_ok())
        .map(|(n, _)| model_json(n))
        .collect();
    Json(json!({"object": "list", "data": data})).into_response()
}

pub async fn model(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let principal = match authorize(&state, &headers) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let config = &state.gateway.config;
    match config.group(&id) {
        Some(g) if principal.check_model(&id, &g.name, &config.aliases).is_ok() => {
            Json(model_json(&id)).into_response()
        }
        _ => state.gateway.unknown_model(&id).into_response(),
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
        "limits": state.accounts.limiter.status(),
        "spend_writer": state.accounts.writer.as_ref().map(|w| w.stats()),
        "cache": state.gateway.cache.as_ref().map(|c| c.store.status()),
    });
    let status = if missing.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
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
