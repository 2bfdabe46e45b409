//! `POST /key/regenerate` and `/key/{key}/regenerate`: a new secret for a
//! key, same record (with the body's changes) and spend.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;
use switchyard_store::{Change, Entity};

use super::fields::{REGENERATE, key_id, label};
use super::{check_fields, existing, row_of, secret_for, shown_once};
use crate::gateway::ApiError;
use crate::identity::records::KeyRecord;
use crate::identity::secret;
use crate::server::AppState;
use crate::server::manage::expiry;
use crate::server::manage::input;
use crate::server::manage::rows::{self, store_error};

/// `POST /key/regenerate` (the key in the body).
pub async fn regenerate(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    regenerate_key(state, headers, None, body).await
}

/// `POST /key/{key}/regenerate`.
pub async fn regenerate_path(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(key): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    regenerate_key(state, headers, Some(key), body).await
}

/// A new secret for a key: same record (with the body's changes) and
/// spend, stored under the new hash; the old secret is refused from then
/// on (no grace period).
async fn regenerate_key(
    state: AppState,
    headers: HeaderMap,
    in_path: Option<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    state.identity.admin(&headers)?;
    let checked = input::optional_body(body, state.gateway.config.max_body_bytes, &REGENERATE)?;
    for unsupported in ["new_master_key", "grace_period"] {
        if checked
            .request
            .get(unsupported)
            .is_some_and(|v| !v.is_null())
        {
            return Err(ApiError::bad_param(
                unsupported,
                format!(
                    "`{unsupported}` is not supported: the master key is set in the config, and the old key is refused at once"
                ),
            ));
        }
    }
    let given = checked.text("key").map(str::to_string).or(in_path);
    let Some(given) = given else {
        return Err(ApiError::bad_param(
            "key",
            "POST /key/regenerate needs `key` (in the body or as /key/{key}/regenerate)",
        ));
    };
    let old_id = key_id(&given);
    let old = existing(&state.identity, "key", &old_id).await?;
    let expires = expiry::expiry(&checked)?;
    check_fields(&state, &checked.record, Some(&old_id)).await?;
    let raw = secret_for(checked.text("new_key"), "new_key")?;
    let new_id = secret::hash(&raw);
    if new_id == old_id {
        return Err(ApiError::bad_param(
            "new_key",
            "`new_key` is the key being replaced",
        ));
    }
    let mut changes = checked.record.clone();
    changes.insert("key_name".into(), Value::String(secret::display_name(&raw)));
    if let Some(at) = expires {
        changes.insert("expires".into(), at.map_or(Value::Null, Value::String));
    }
    let record: KeyRecord = input::into_record(input::merge(&old.body, &changes))?;
    let row = row_of(new_id.clone(), &record, Some(&old))?;
    state
        .identity
        .store()
        .rename_key(&old_id, &row)
        .await
        .map_err(|e| match e {
            switchyard_store::StoreError::Conflict(_) => rows::duplicate(
                StatusCode::BAD_REQUEST,
                "new_key",
                "the new key already exists: choose another `new_key`",
            ),
            other => store_error(other),
        })?;
    state
        .identity
        .apply(Entity::Key, Change::Deleted(old_id.clone()));
    let row = rows::settle(&state.identity, Entity::Key, &new_id).await?;
    tracing::info!(key = %label(&row), old = %secret::short(&old_id), "key regenerated");
    Ok(shown_once(&raw, &row))
}
