//! LiteLLM's cache admin routes: `GET /cache/ping`, `POST /cache/delete`
//! and `POST /cache/flushall`. The master key (or a proxy admin) reaches
//! every entry; a virtual key only its own tenant's.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use switchyard_cache::{Selector, key};

use super::AppState;
use crate::cache::{ResponseCache, scope};
use crate::gateway::ApiError;
use crate::identity::{Principal, Reader};

/// The caller's reach: every entry, or one tenant scope's.
enum Reach {
    All,
    Scope(String),
}

/// The cache, and who asks; errors when there is no cache or no right.
fn open<'a>(
    state: &'a AppState,
    headers: &HeaderMap,
) -> Result<(&'a ResponseCache, Reach), ApiError> {
    let reach = match state.identity.reader(headers)? {
        Reader::Admin(_) => Reach::All,
        Reader::Key(h) => Reach::Scope(scope(&Principal::Key(h))),
    };
    let cache = state.gateway.cache.as_deref().ok_or_else(|| {
        ApiError::bad_request(
            "cache is not configured: set litellm_settings.cache: true (and cache_params) to turn it on",
        )
    })?;
    Ok((cache, reach))
}

pub async fn ping(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (cache, _) = match open(&state, &headers) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let kind = cache.settings.backend.type_name();
    match cache.store.ping().await {
        Ok(()) => Json(json!({"status": "healthy", "cache_type": kind})).into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unhealthy", "cache_type": kind, "error": e.to_string()})),
        )
            .into_response(),
    }
}

/// Reads an optional JSON body (an empty one is `{}`).
fn body<T: for<'de> Deserialize<'de> + Default>(bytes: &Bytes) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("invalid request body: {e}")))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DeleteBody {
    #[serde(default)]
    keys: Vec<String>,
}

pub async fn delete(State(state): State<AppState>, headers: HeaderMap, bytes: Bytes) -> Response {
    let result = async {
        let (cache, reach) = open(&state, &headers)?;
        let req: DeleteBody = body(&bytes)?;
        if req.keys.is_empty() {
            return Err(ApiError::bad_param(
                "keys",
                "keys must list the keys to delete (from x-switchyard-cache-key)",
            ));
        }
        if let Reach::Scope(own) = &reach
            && let Some(other) = req
                .keys
                .iter()
                .find(|k| key::parse_key(k).is_none_or(|(_, s, _)| s != own))
        {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "permission_error",
                format!("key {other:?} is not one of this API key's cache entries"),
            ));
        }
        let deleted = cache
            .store
            .delete(&req.keys)
            .await
            .map_err(|e| ApiError::unavailable(format!("cache: {e}")))?;
        Ok(json!({"status": "success", "deleted": deleted}))
    }
    .await;
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FlushBody {
    namespace: Option<String>,
}

pub async fn flushall(State(state): State<AppState>, headers: HeaderMap, bytes: Bytes) -> Response {
    let result = async {
        let (cache, reach) = open(&state, &headers)?;
        let req: FlushBody = body(&bytes)?;
        if let Some(ns) = &req.namespace
            && !key::valid_namespace(ns)
        {
            return Err(ApiError::bad_param(
                "namespace",
                "namespace must be 1 to 64 characters of letters, digits, `_`, `.` and `-`",
            ));
        }
        let which = match (&reach, req.namespace.as_deref()) {
            (Reach::All, ns) => Selector::Prefix(key::scope_prefix(ns, None)),
            (Reach::Scope(own), Some(ns)) => {
                Selector::Prefix(key::scope_prefix(Some(ns), Some(own)))
            }
            (Reach::Scope(own), None) => Selector::Scope(own.clone()),
        };
        let deleted = cache
            .store
            .flush_where(&which)
            .await
            .map_err(|e| ApiError::unavailable(format!("cache: {e}")))?;
        Ok(json!({"status": "success", "deleted": deleted}))
    }
    .await;
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}
