//! Between the store's rows and the management API's answers: writing a
//! row and showing this replica's cache the change at once, reading rows
//! back as LiteLLM-shaped JSON, and the store's errors as client errors.

use axum::http::StatusCode;
use serde::Serialize;
use serde_json::{Map, Value};
use switchyard_store::{Change, Entity, ListFilter, Row, StoreError};

use crate::gateway::ApiError;
use crate::identity::Identity;

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    crate::state::now_ms() as i64
}

/// A time as LiteLLM shows it: RFC 3339, UTC.
pub fn iso(ms: i64) -> Value {
    let nanos = i128::from(ms) * 1_000_000;
    match time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        }) {
        Some(s) => Value::String(s),
        None => Value::Null,
    }
}

/// A record as its JSON body.
pub fn body<R: Serialize>(record: &R) -> Result<Value, ApiError> {
    serde_json::to_value(record)
        .map_err(|e| ApiError::internal(format!("a record does not serialise: {e}")))
}

/// A row's body with what the database keeps beside it: `spend`,
/// `created_at`, `updated_at`.
pub fn view(row: &Row) -> Map<String, Value> {
    let mut m = match &row.body {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    m.insert("spend".into(), Value::from(row.spend));
    m.insert("created_at".into(), iso(row.created_ms));
    m.insert("updated_at".into(), iso(row.updated_ms));
    m
}

/// The store's failures as client errors. `NotFound` is a 404; a
/// `Conflict` here is a race another check did not see (an id taken
/// between the check and the write): 400 as LiteLLM answers duplicates;
/// the database being down is a 503 (its message carries no secret).
pub fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound(what) => not_found(format!("{what} not found")),
        StoreError::Conflict(what) => ApiError::bad_request(format!("{what} already exists")),
        StoreError::Invalid(what) => ApiError::bad_request(what),
        other => ApiError::unavailable(format!("the database cannot serve this call: {other}")),
    }
}

/// 404 in the OpenAI shape, with a code that says what was missing.
pub fn not_found(message: impl Into<String>) -> ApiError {
    let mut e = ApiError::new(StatusCode::NOT_FOUND, "invalid_request_error", message);
    e.code = Some("not_found".into());
    e
}

/// 404 naming the parameter that named the missing record.
pub fn not_found_param(param: &str, message: impl Into<String>) -> ApiError {
    let mut e = not_found(message);
    e.param = Some(param.to_string());
    e
}

/// A duplicate id or alias, with the status LiteLLM answers for it (400
/// for keys, teams and customers; 409 for users), so scripts that check
/// for it keep working.
pub fn duplicate(status: StatusCode, param: &str, message: impl Into<String>) -> ApiError {
    let mut e = ApiError::new(status, "invalid_request_error", message);
    e.param = Some(param.to_string());
    e.code = Some("already_exists".into());
    e
}

/// Reads one row; `None` when it does not exist (or was deleted).
pub async fn get(identity: &Identity, entity: Entity, id: &str) -> Result<Option<Row>, ApiError> {
    identity.store().get(entity, id).await.map_err(store_error)
}

/// Every live row matching `filter` (its page and size are ignored),
/// oldest first: the store answers a page at a time.
pub async fn list_all(
    identity: &Identity,
    entity: Entity,
    filter: &ListFilter,
) -> Result<Vec<Row>, ApiError> {
    let mut all = Vec::new();
    let mut page = ListFilter {
        page: 1,
        size: PAGE,
        ..filter.clone()
    };
    loop {
        let rows = identity
            .store()
            .list(entity, &page)
            .await
            .map_err(store_error)?;
        let last = rows.len() < PAGE as usize;
        all.extend(rows);
        if last {
            return Ok(all);
        }
        page.page += 1;
    }
}

/// Rows read a page at a time (the store's largest page).
const PAGE: u32 = 1000;

/// Re-reads a row just written and hands it to this replica's cache, so
/// the next request sees it; returns it (with the database's times).
pub async fn settle(identity: &Identity, entity: Entity, id: &str) -> Result<Row, ApiError> {
    match get(identity, entity, id).await? {
        Some(row) => {
            identity.apply(entity, Change::Upserted(row.clone()));
            Ok(row)
        }
        None => Err(ApiError::internal(format!(
            "a record written a moment ago cannot be read back ({})",
            what(entity)
        ))),
    }
}

/// Deletes a row and tells this replica's cache.
pub async fn delete(identity: &Identity, entity: Entity, id: &str) -> Result<(), ApiError> {
    identity
        .store()
        .delete(entity, id)
        .await
        .map_err(store_error)?;
    identity.apply(entity, Change::Deleted(id.to_string()));
    Ok(())
}

/// The entity's name in messages.
pub fn what(entity: Entity) -> &'static str {
    match entity {
        Entity::Key => "key",
        Entity::Team => "team",
        Entity::User => "user",
        Entity::EndUser => "customer",
    }
}

/// A string field of a body, if set.
pub fn text_of<'a>(body: &'a Value, field: &str) -> Option<&'a str> {
    body.get(field).and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(iso(0), Value::from("1970-01-01T00:00:00Z"));
        assert_eq!(
            iso(1_767_312_000_123),
            Value::from("2026-01-02T00:00:00.123Z")
        );
    }
}
