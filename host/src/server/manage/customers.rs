//! End users ("customers"): the request's `user` value, with budgets and
//! limits of their own. `/customer/new`, `/customer/update`,
//! `/customer/delete`, `/customer/info`, `/customer/list`, and LiteLLM's
//! older `/end_user/*` names for the same.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use switchyard_store::{Entity, ListFilter, Row};

use super::budget;
use super::input::{self, Empty, Field, Kind, Schema, dropped, kept, record, request};
use super::query::Params;
use super::rows::{self, store_error};
use crate::config::Config;
use crate::gateway::ApiError;
use crate::identity::Identity;
use crate::identity::records::EndUserRecord;
use crate::ledger::scopes;
use crate::server::AppState;

/// The customer fields the gateway acts on (EndUserRecord's).
const CUSTOMER_FIELDS: &[Field] = &[
    record("alias", Kind::Text),
    record("blocked", Kind::Flag),
    record("metadata", Kind::Object),
    record("max_budget", Kind::Money),
    record("budget_duration", Kind::Period),
    record("rpm_limit", Kind::Count),
    record("tpm_limit", Kind::Count),
    record("max_parallel_requests", Kind::Count),
];

/// LiteLLM customer fields kept but not acted on.
const CUSTOMER_KEPT: &[Field] = &[
    kept("budget_id", Kind::Any),
    kept("allowed_model_region", Kind::OneOf(&["eu", "us"])),
    kept("default_model", Kind::Text),
    kept("soft_budget", Kind::Money),
    kept("model_max_budget", Kind::Any),
    kept("object_permission", Kind::Any),
    kept("budget_reset_at", Kind::Any),
    dropped("spend", Kind::Money),
];

const NEW: Schema = Schema {
    endpoint: "POST /customer/new",
    groups: &[
        CUSTOMER_FIELDS,
        CUSTOMER_KEPT,
        &[request("user_id", Kind::Text)],
    ],
};

const UPDATE: Schema = Schema {
    endpoint: "POST /customer/update",
    groups: &[
        CUSTOMER_FIELDS,
        CUSTOMER_KEPT,
        &[request("user_id", Kind::Text)],
    ],
};

const DELETE: Schema = Schema {
    endpoint: "POST /customer/delete",
    groups: &[&[request("user_ids", Kind::Texts)]],
};

const DEFAULTS: &[(&str, Empty)] = &[
    ("alias", Empty::Null),
    ("blocked", Empty::False),
    ("metadata", Empty::Object),
    ("max_budget", Empty::Null),
    ("budget_duration", Empty::Null),
    ("rpm_limit", Empty::Null),
    ("tpm_limit", Empty::Null),
    ("max_parallel_requests", Empty::Null),
];

/// A customer as the API shows it.
pub fn view(row: &Row) -> Map<String, Value> {
    let mut m = input::with_defaults(rows::view(row), DEFAULTS);
    m.insert("user_id".into(), Value::String(row.id.clone()));
    m
}

fn customer_not_found(param: &str, id: &str) -> ApiError {
    rows::not_found_param(param, format!("End User Id={id} does not exist in db"))
}

async fn existing(identity: &Identity, param: &str, id: &str) -> Result<Row, ApiError> {
    rows::get(identity, Entity::EndUser, id)
        .await?
        .ok_or_else(|| customer_not_found(param, id))
}

/// `default_model` must name a model group or alias of this gateway.
fn check_default_model(config: &Config, fields: &Map<String, Value>) -> Result<(), ApiError> {
    match fields.get("default_model").and_then(Value::as_str) {
        Some(m) if config.group(m).is_none() => Err(ApiError::bad_param(
            "default_model",
            format!(
                "`default_model` names {m}, which is not a model group or alias of this gateway"
            ),
        )),
        _ => Ok(()),
    }
}

fn row_of(id: String, record: &EndUserRecord, like: Option<&Row>) -> Result<Row, ApiError> {
    let mut row = match like {
        Some(old) => Row {
            updated_ms: rows::now_ms(),
            ..old.clone()
        },
        None => Row::new(id, Value::Null),
    };
    row.body = rows::body(record)?;
    row.alias = record.alias.clone();
    Ok(row)
}

fn already(id: &str) -> ApiError {
    rows::duplicate(
        StatusCode::BAD_REQUEST,
        "user_id",
        format!("Customer already exists, passed user_id={id}. Please pass a new user_id."),
    )
}

/// `POST /customer/new` (and `/end_user/new`): `user_id` is required.
pub async fn new(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    state.identity.admin(&headers)?;
    let checked = input::body(body, state.gateway.config.max_body_bytes, &NEW)?;
    let id = input::required(&checked, "user_id", NEW.endpoint)?;
    check_default_model(&state.gateway.config, &checked.record)?;
    if rows::get(&state.identity, Entity::EndUser, id)
        .await?
        .is_some()
    {
        return Err(already(id));
    }
    let record: EndUserRecord = input::into_record(input::fresh(&checked.record))?;
    let row = row_of(id.to_string(), &record, None)?;
    state
        .identity
        .store()
        .insert(Entity::EndUser, &row)
        .await
        .map_err(|e| match e {
            switchyard_store::StoreError::Conflict(_) => already(id),
            other => store_error(other),
        })?;
    let row = rows::settle(&state.identity, Entity::EndUser, id).await?;
    tracing::info!(customer = %id, "customer created");
    Ok(Json(Value::Object(view(&row))).into_response())
}

/// `POST /customer/update` (and `/end_user/update`).
pub async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    state.identity.admin(&headers)?;
    let checked = input::body(body, state.gateway.config.max_body_bytes, &UPDATE)?;
    let id = input::required(&checked, "user_id", UPDATE.endpoint)?;
    check_default_model(&state.gateway.config, &checked.record)?;
    let old = existing(&state.identity, "user_id", id).await?;
    let record: EndUserRecord = input::into_record(input::merge(&old.body, &checked.record))?;
    let row = row_of(id.to_string(), &record, Some(&old))?;
    state
        .identity
        .store()
        .update(Entity::EndUser, &row)
        .await
        .map_err(store_error)?;
    let row = rows::settle(&state.identity, Entity::EndUser, id).await?;
    tracing::info!(customer = %id, "customer updated");
    Ok(Json(Value::Object(view(&row))).into_response())
}

/// `POST /customer/delete` (and `/end_user/delete`): every id must exist,
/// or nothing is deleted.
pub async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    state.identity.admin(&headers)?;
    let checked = input::body(body, state.gateway.config.max_body_bytes, &DELETE)?;
    let ids = checked.texts("user_ids");
    if ids.is_empty() {
        return Err(ApiError::bad_param(
            "user_ids",
            "POST /customer/delete needs `user_ids` (a non-empty list)",
        ));
    }
    let mut missing = Vec::new();
    for id in &ids {
        if rows::get(&state.identity, Entity::EndUser, id)
            .await?
            .is_none()
        {
            missing.push(id.as_str());
        }
    }
    if !missing.is_empty() {
        return Err(rows::not_found_param(
            "user_ids",
            format!("End User Id(s)={} do not exist in db", missing.join(", ")),
        ));
    }
    for id in &ids {
        rows::delete(&state.identity, Entity::EndUser, id).await?;
        tracing::info!(customer = %id, "customer deleted");
    }
    Ok(Json(json!({
        "deleted_customers": ids,
        "message": format!("Successfully deleted customers with ids: {}", ids.join(", ")),
    }))
    .into_response())
}

/// `GET /customer/info?end_user_id=` (and `/end_user/info`).
pub async fn info(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    state.identity.admin(&headers)?;
    let params = Params::read(query, "GET /customer/info", &["end_user_id"])?;
    let Some(id) = params.get("end_user_id") else {
        return Err(ApiError::bad_param(
            "end_user_id",
            "GET /customer/info needs `end_user_id`",
        ));
    };
    let row = existing(&state.identity, "end_user_id", id).await?;
    let mut info = view(&row);
    let limits = budget::limits_of(&row.body);
    budget::add_window(&state, scopes::END_USER, id, &limits, &mut info).await;
    Ok(Json(Value::Object(info)).into_response())
}

/// `GET /customer/list` (and `/end_user/list`).
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    state.identity.admin(&headers)?;
    Params::read(query, "GET /customer/list", &[])?;
    let mut found =
        rows::list_all(&state.identity, Entity::EndUser, &ListFilter::default()).await?;
    found.sort_by(|a, b| a.id.cmp(&b.id));
    let answer: Vec<Value> = found.iter().map(|r| Value::Object(view(r))).collect();
    Ok(Json(Value::Array(answer)).into_response())
}
