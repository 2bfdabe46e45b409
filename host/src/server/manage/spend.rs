//! `GET /spend/logs`: the gateway's spend records, newest first, in
//! LiteLLM's SpendLogs field names where one exists, plus the gateway's
//! own (cache tokens, attempts, overhead...).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use switchyard_store::{SpendQuery, SpendRecord};

use super::keys::key_id;
use super::query::Params;
use super::rows::{self, store_error};
use crate::gateway::ApiError;
use crate::server::AppState;

/// `GET /spend/logs?start_date=&end_date=&api_key=&user_id=&team_id=&request_id=&page=&page_size=`.
pub async fn logs(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    state.identity.admin(&headers)?;
    let params = Params::read(
        query,
        "GET /spend/logs",
        &[
            "start_date",
            "end_date",
            "api_key",
            "user_id",
            "team_id",
            "request_id",
            "page",
            "page_size",
            "summarize",
        ],
    )?;
    if params.flag("summarize", false)? {
        return Err(ApiError::bad_param(
            "summarize",
            "GET /spend/logs answers records only; for totals grouped by day, model, key, team or user use GET /usage",
        ));
    }
    let q = SpendQuery {
        start_ms: params.date_ms("start_date", false)?,
        end_ms: params.date_ms("end_date", true)?,
        key_hash: params.get("api_key").map(key_id),
        user_id: params.get("user_id").map(str::to_string),
        team_id: params.get("team_id").map(str::to_string),
        request_id: params.get("request_id").map(str::to_string),
        page: page_number(params.number("page", 1, u64::from(u32::MAX))?),
        page_size: page_number(params.number("page_size", 100, 1000)?),
    };
    let records = state
        .identity
        .store()
        .spend_logs(&q)
        .await
        .map_err(store_error)?;
    let answer: Vec<Value> = records.iter().map(log).collect();
    Ok(Json(Value::Array(answer)).into_response())
}

/// A page number or size (checked to fit already).
fn page_number(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// One record in LiteLLM's SpendLogs names, then the gateway's own.
/// `spend` is null when the cost is unknown (never 0 for unknown);
/// `cache_hit` is LiteLLM's "True"/"False" string; `status` is LiteLLM's
/// "success"/"failure" and `http_status` the code the client got.
fn log(r: &SpendRecord) -> Value {
    json!({
        "request_id": r.request_id,
        "api_key": r.key_hash,
        "spend": r.cost,
        "total_tokens": r.input_tokens + r.output_tokens,
        "prompt_tokens": r.input_tokens,
        "completion_tokens": r.output_tokens,
        "startTime": rows::iso(r.start_ms),
        "endTime": rows::iso(r.end_ms),
        "model": r.deployment,
        "model_group": r.model_group,
        "custom_llm_provider": r.provider,
        "user": r.user_id,
        "team_id": r.team_id,
        "end_user": r.end_user,
        "metadata": r.metadata,
        "request_tags": r.tags,
        "cache_hit": if r.cache_hit { "True" } else { "False" },
        "status": if (200..300).contains(&r.status) { "success" } else { "failure" },
        // The gateway's own.
        "key_alias": r.key_alias,
        "http_status": r.status,
        "error_kind": r.error_kind,
        "cache_read_tokens": r.cache_read_tokens,
        "cache_write_tokens": r.cache_write_tokens,
        "reasoning_tokens": r.reasoning_tokens,
        "cost_estimated": r.estimated,
        "attempts": r.attempts,
        "fallbacks": r.fallbacks,
        "overhead_ms": r.overhead_ms,
        "latency_ms": r.latency_ms,
    })
}
