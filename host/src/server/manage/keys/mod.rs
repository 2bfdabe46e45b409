//! Virtual keys: `/key/generate`, `/key/info`, `/key/update`,
//! `/key/delete`, `/key/list`, `/key/block`, `/key/unblock`,
//! `/key/regenerate` (and `/key/{key}/regenerate`), in LiteLLM's shapes.
//!
//! A key's secret is shown once, in the generate or regenerate answer; it
//! is stored, logged and answered everywhere else as its SHA-256 hash (or
//! its alias, or the hash's first 8 characters).

mod fields;
mod regenerate;

pub use fields::{key_id, label, view};
pub use regenerate::{regenerate, regenerate_path};

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use switchyard_store::{Entity, ListFilter, Row};

use super::input::{self, Checked};
use super::query::Params;
use super::rows::{self, store_error};
use super::{budget, expiry};
use crate::gateway::ApiError;
use crate::identity::records::KeyRecord;
use crate::identity::{Identity, Reader, secret};
use crate::ledger::scopes;
use crate::server::AppState;
use fields::{BLOCK, DELETE, GENERATE, UNBLOCK, UPDATE};

fn key_not_found(param: &str, hash: &str) -> ApiError {
    rows::not_found_param(
        param,
        format!(
            "key {} not found (it never existed or was deleted)",
            secret::short(hash)
        ),
    )
}

/// Reads a key's row; 404 naming `param` when it does not exist.
async fn existing(identity: &Identity, param: &str, hash: &str) -> Result<Row, ApiError> {
    rows::get(identity, Entity::Key, hash)
        .await?
        .ok_or_else(|| key_not_found(param, hash))
}

/// Every live key matching a filter.
pub async fn list_rows(identity: &Identity, filter: &ListFilter) -> Result<Vec<Row>, ApiError> {
    rows::list_all(identity, Entity::Key, filter).await
}

/// 400 when `team_id` names no team.
pub async fn check_team(identity: &Identity, fields: &Map<String, Value>) -> Result<(), ApiError> {
    let Some(team) = fields.get("team_id").and_then(Value::as_str) else {
        return Ok(());
    };
    match rows::get(identity, Entity::Team, team).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::bad_param(
            "team_id",
            format!("team_id {team} names no team: create it with POST /team/new first"),
        )),
    }
}

/// 400 (LiteLLM's answer and words) when another key has this alias.
pub async fn check_alias(
    identity: &Identity,
    fields: &Map<String, Value>,
    except: Option<&str>,
) -> Result<(), ApiError> {
    let Some(alias) = fields.get("key_alias").and_then(Value::as_str) else {
        return Ok(());
    };
    let filter = ListFilter {
        alias: Some(alias.to_string()),
        ..ListFilter::default()
    };
    let taken = list_rows(identity, &filter)
        .await?
        .into_iter()
        .any(|r| Some(r.id.as_str()) != except);
    if taken {
        return Err(rows::duplicate(
            StatusCode::BAD_REQUEST,
            "key_alias",
            format!(
                "Key with alias '{alias}' already exists. Unique key aliases across all keys are required."
            ),
        ));
    }
    Ok(())
}

/// The row a record is stored as.
fn row_of(id: String, record: &KeyRecord, like: Option<&Row>) -> Result<Row, ApiError> {
    let mut row = match like {
        Some(old) => Row {
            id,
            updated_ms: rows::now_ms(),
            ..old.clone()
        },
        None => Row::new(id, Value::Null),
    };
    row.body = rows::body(record)?;
    row.alias = record.key_alias.clone();
    row.team_id = record.team_id.clone();
    row.user_id = record.user_id.clone();
    Ok(row)
}

/// The checks every key write makes before anything is written.
async fn check_fields(
    state: &AppState,
    fields: &Map<String, Value>,
    except: Option<&str>,
) -> Result<(), ApiError> {
    input::check_models(&state.gateway.config, "models", fields)?;
    check_team(&state.identity, fields).await?;
    check_alias(&state.identity, fields, except).await
}

/// A new secret: the caller's (`sk-...`, as LiteLLM requires) or a random one.
fn secret_for(chosen: Option<&str>, param: &str) -> Result<String, ApiError> {
    match chosen {
        Some(k) if k.starts_with("sk-") => Ok(k.to_string()),
        Some(_) => Err(ApiError::bad_param(
            param,
            format!("`{param}` must start with `sk-`, so a key is never mistaken for a hash"),
        )),
        None => secret::new_key()
            .map_err(|e| ApiError::internal(format!("the system's randomness failed: {e}"))),
    }
}

/// The generate / regenerate answer: the secret, once.
fn shown_once(raw: &str, row: &Row) -> Response {
    let mut m = view(row);
    m.insert("key".into(), Value::String(raw.to_string()));
    m.insert("token_id".into(), Value::String(row.id.clone()));
    Json(Value::Object(m)).into_response()
}

/// Creates a key for `fields` (checked), storing it under a new secret.
/// Shared with `/user/new`, which makes a key for the user.
pub async fn create(
    identity: &Identity,
    mut fields: Map<String, Value>,
    chosen: Option<&str>,
    expires: Option<String>,
) -> Result<(String, Row), ApiError> {
    let raw = secret_for(chosen, "key")?;
    let hash = secret::hash(&raw);
    fields.insert("key_name".into(), Value::String(secret::display_name(&raw)));
    fields.insert("key_id".into(), Value::String(hash.clone()));
    if let Some(at) = expires {
        fields.insert("expires".into(), Value::String(at));
    }
    let record: KeyRecord = input::into_record(input::fresh(&fields))?;
    let row = row_of(hash.clone(), &record, None)?;
    identity
        .store()
        .insert(Entity::Key, &row)
        .await
        .map_err(|e| match e {
            switchyard_store::StoreError::Conflict(_) => rows::duplicate(
                StatusCode::BAD_REQUEST,
                "key",
                "this key already exists: choose another `key` value",
            ),
            other => store_error(other),
        })?;
    let row = rows::settle(identity, Entity::Key, &hash).await?;
    tracing::info!(key = %label(&row), "key generated");
    Ok((raw, row))
}

/// `POST /key/generate`.
pub async fn generate(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    state.identity.admin(&headers)?;
    let checked = input::body(body, state.gateway.config.max_body_bytes, &GENERATE)?;
    let expires = expiry::expiry(&checked)?.flatten();
    check_fields(&state, &checked.record, None).await?;
    let chosen = checked.text("key").map(str::to_string);
    if let Some(k) = &chosen {
        secret_for(Some(k), "key")?;
    }
    let (raw, row) = create(&state.identity, checked.record, chosen.as_deref(), expires).await?;
    Ok(shown_once(&raw, &row))
}

/// Who is asking for key info, and which key they may read.
fn readable(
    state: &AppState,
    headers: &HeaderMap,
    asked: Option<&str>,
) -> Result<String, ApiError> {
    let reader = state.identity.reader(headers)?;
    let own = crate::identity::presented_keys(headers)
        .first()
        .map(|k| secret::hash(k));
    match (reader, asked) {
        (Reader::Admin(_), Some(k)) => Ok(key_id(k)),
        (Reader::Key(h), Some(k)) => {
            let id = key_id(k);
            if id == h.key.id {
                Ok(id)
            } else {
                let mut e = ApiError::new(
                    StatusCode::FORBIDDEN,
                    "permission_error",
                    format!("key {} may read only its own key info", h.label()),
                );
                e.code = Some("forbidden".into());
                Err(e)
            }
        }
        (Reader::Key(h), None) => Ok(h.key.id.clone()),
        (Reader::Admin(crate::identity::Admin::User(_)), None) => {
            own.ok_or_else(|| ApiError::bad_param("key", "GET /key/info needs `key`"))
        }
        (Reader::Admin(crate::identity::Admin::Master), None) => Err(ApiError::bad_param(
            "key",
            "GET /key/info needs `key` (the master key is not a virtual key)",
        )),
    }
}

/// `GET /key/info?key=` (the secret or its hash; without it, the caller's
/// own key).
pub async fn info(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = Params::read(query, "GET /key/info", &["key"])?;
    let id = readable(&state, &headers, params.get("key"))?;
    let row = existing(&state.identity, "key", &id).await?;
    let mut info = view(&row);
    info.remove("token");
    let limits = budget::limits_of(&row.body);
    // Counted under the key's first hash, which regenerating keeps.
    let limit_id = row
        .body
        .get("key_id")
        .and_then(Value::as_str)
        .unwrap_or(&row.id);
    budget::add_window(&state, scopes::KEY, limit_id, &limits, &mut info).await;
    Ok(Json(json!({"key": row.id, "info": info})).into_response())
}

/// `POST /key/update`: fields absent stay, `null` clears.
pub async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    state.identity.admin(&headers)?;
    let checked = input::body(body, state.gateway.config.max_body_bytes, &UPDATE)?;
    let id = key_id(input::required(&checked, "key", UPDATE.endpoint)?);
    let old = existing(&state.identity, "key", &id).await?;
    let expires = expiry::expiry(&checked)?;
    check_fields(&state, &checked.record, Some(&id)).await?;
    let mut changes = checked.record.clone();
    if let Some(at) = expires {
        changes.insert("expires".into(), at.map_or(Value::Null, Value::String));
    }
    let record: KeyRecord = input::into_record(input::merge(&old.body, &changes))?;
    let row = row_of(id.clone(), &record, Some(&old))?;
    state
        .identity
        .store()
        .update(Entity::Key, &row)
        .await
        .map_err(store_error)?;
    let row = rows::settle(&state.identity, Entity::Key, &id).await?;
    tracing::info!(key = %label(&row), "key updated");
    let mut m = view(&row);
    m.insert("key".into(), Value::String(row.id.clone()));
    Ok(Json(Value::Object(m)).into_response())
}

/// `POST /key/delete`: every named key must exist, or nothing is deleted.
/// Answers `deleted_keys`: the hashes of `keys` (a secret is never
/// echoed), then `key_aliases` as given (as LiteLLM answers).
pub async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    state.identity.admin(&headers)?;
    let checked = input::body(body, state.gateway.config.max_body_bytes, &DELETE)?;
    let keys = checked.texts("keys");
    let aliases = checked.texts("key_aliases");
    if keys.is_empty() && aliases.is_empty() {
        return Err(ApiError::bad_param(
            "keys",
            "POST /key/delete needs `keys` or `key_aliases` (a non-empty list)",
        ));
    }
    let mut doomed: Vec<Row> = Vec::new();
    let mut answer: Vec<Value> = Vec::new();
    for k in &keys {
        let id = key_id(k);
        doomed.push(existing(&state.identity, "keys", &id).await?);
        answer.push(Value::String(id));
    }
    for alias in &aliases {
        let filter = ListFilter {
            alias: Some(alias.clone()),
            ..ListFilter::default()
        };
        let found = list_rows(&state.identity, &filter).await?;
        if found.is_empty() {
            return Err(rows::not_found_param(
                "key_aliases",
                format!("no key has the alias {alias}"),
            ));
        }
        doomed.extend(found);
        answer.push(Value::String(alias.clone()));
    }
    doomed.sort_by(|a, b| a.id.cmp(&b.id));
    doomed.dedup_by(|a, b| a.id == b.id);
    for row in &doomed {
        rows::delete(&state.identity, Entity::Key, &row.id).await?;
        tracing::info!(key = %label(row), "key deleted");
    }
    Ok(Json(json!({ "deleted_keys": answer })).into_response())
}

/// `GET /key/list`: LiteLLM's `{keys, total_count, current_page,
/// total_pages}`; `keys` are hashes unless `return_full_object=true`.
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    state.identity.admin(&headers)?;
    let params = Params::read(
        query,
        "GET /key/list",
        &[
            "page",
            "size",
            "user_id",
            "team_id",
            "key_alias",
            "key_hash",
            "return_full_object",
            // LiteLLM's, read and ignored: an admin sees every key anyway.
            "include_team_keys",
            "include_created_by_keys",
        ],
    )?;
    let page = params.number("page", 1, u64::from(u32::MAX))?;
    let size = params.number("size", 10, 100)?;
    let full = params.flag("return_full_object", false)?;
    let filter = ListFilter {
        team_id: params.get("team_id").map(str::to_string),
        user_id: params.get("user_id").map(str::to_string),
        alias: params.get("key_alias").map(str::to_string),
        ..ListFilter::default()
    };
    let mut found = list_rows(&state.identity, &filter).await?;
    if let Some(h) = params.get("key_hash") {
        found.retain(|r| r.id == h);
    }
    // Newest first, as LiteLLM lists them.
    found.sort_by(|a, b| {
        b.created_ms
            .cmp(&a.created_ms)
            .then_with(|| b.id.cmp(&a.id))
    });
    let total = found.len() as u64;
    let skip = usize::try_from((page - 1).saturating_mul(size)).unwrap_or(usize::MAX);
    let keys: Vec<Value> = found
        .iter()
        .skip(skip)
        .take(usize::try_from(size).unwrap_or(usize::MAX))
        .map(|r| {
            if full {
                Value::Object(view(r))
            } else {
                Value::String(r.id.clone())
            }
        })
        .collect();
    Ok(Json(json!({
        "keys": keys,
        "total_count": total,
        "current_page": page,
        "total_pages": total.div_ceil(size),
    }))
    .into_response())
}

/// Sets `blocked` on a key; answers the key's record (LiteLLM's answer).
async fn set_blocked(
    state: &AppState,
    checked: &Checked,
    endpoint: &str,
    blocked: bool,
) -> Result<Response, ApiError> {
    let id = key_id(input::required(checked, "key", endpoint)?);
    let old = existing(&state.identity, "key", &id).await?;
    let mut record: KeyRecord = input::into_record(input::merge(&old.body, &Map::new()))?;
    record.blocked = blocked;
    let row = row_of(id.clone(), &record, Some(&old))?;
    state
        .identity
        .store()
        .update(Entity::Key, &row)
        .await
        .map_err(store_error)?;
    let row = rows::settle(&state.identity, Entity::Key, &id).await?;
    tracing::info!(key = %label(&row), blocked, "key blocked state set");
    Ok(Json(Value::Object(view(&row))).into_response())
}

/// `POST /key/block`: the key is refused (401) until unblocked.
pub async fn block(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    state.identity.admin(&headers)?;
    let checked = input::body(body, state.gateway.config.max_body_bytes, &BLOCK)?;
    set_blocked(&state, &checked, BLOCK.endpoint, true).await
}

/// `POST /key/unblock`.
pub async fn unblock(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    state.identity.admin(&headers)?;
    let checked = input::body(body, state.gateway.config.max_body_bytes, &UNBLOCK)?;
    set_blocked(&state, &checked, UNBLOCK.endpoint, false).await
}
