//! Internal users: `/user/new` (which also makes the user a key, as
//! LiteLLM does, unless `auto_create_key` is false), `/user/update`,
//! `/user/delete` (with the user's keys), `/user/info`, `/user/list`.

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use switchyard_store::{Entity, ListFilter, Row};

use super::input::{self, Empty, Field, Kind, Schema, dropped, kept, record, request};
use super::query::Params;
use super::rows::{self, store_error};
use super::{budget, expiry, keys, teams};
use crate::gateway::ApiError;
use crate::identity::Identity;
use crate::identity::records::UserRecord;
use crate::ledger::scopes;
use crate::server::AppState;

/// LiteLLM's user roles (only `proxy_admin` changes what the gateway does).
const ROLES: &[&str] = &[
    "proxy_admin",
    "proxy_admin_viewer",
    "internal_user",
    "internal_user_viewer",
];

/// The user fields the gateway acts on (UserRecord's).
const USER_FIELDS: &[Field] = &[
    record("user_email", Kind::Text),
    record("user_role", Kind::OneOf(ROLES)),
    record("models", Kind::Texts),
    record("metadata", Kind::Object),
    record("max_budget", Kind::Money),
    record("budget_duration", Kind::Period),
    record("rpm_limit", Kind::Count),
    record("tpm_limit", Kind::Count),
    record("max_parallel_requests", Kind::Count),
];

/// LiteLLM user fields kept but not acted on. (`password` is not among
/// them: the gateway has no UI logins and stores no passwords.)
const USER_KEPT: &[Field] = &[
    kept("user_alias", Kind::Any),
    kept("teams", Kind::Any),
    kept("send_invite_email", Kind::Any),
    kept("sso_user_id", Kind::Any),
    kept("organizations", Kind::Any),
    kept("allowed_cache_controls", Kind::Any),
    kept("config", Kind::Any),
    kept("permissions", Kind::Any),
    kept("model_max_budget", Kind::BudgetMap),
    kept("model_rpm_limit", Kind::CountMap),
    kept("model_tpm_limit", Kind::CountMap),
    kept("guardrails", Kind::Any),
    kept("policies", Kind::Any),
    kept("prompts", Kind::Any),
    kept("blocked", Kind::Flag),
    kept("aliases", Kind::Any),
    kept("object_permission", Kind::Any),
    kept("agent_id", Kind::Any),
    kept("soft_budget", Kind::Money),
    kept("budget_id", Kind::Any),
    dropped("spend", Kind::Money),
];

const NEW: Schema = Schema {
    endpoint: "POST /user/new",
    groups: &[
        USER_FIELDS,
        USER_KEPT,
        &[
            request("user_id", Kind::Text),
            request("auto_create_key", Kind::Flag),
            // For the key made with the user.
            request("key_alias", Kind::Text),
            request("duration", Kind::Period),
            request("team_id", Kind::Text),
        ],
    ],
};

const UPDATE: Schema = Schema {
    endpoint: "POST /user/update",
    groups: &[
        USER_FIELDS,
        USER_KEPT,
        &[
            request("user_id", Kind::Text),
            // LiteLLM's, not implemented there either.
            dropped("key_alias", Kind::Any),
            dropped("duration", Kind::Any),
            dropped("team_id", Kind::Any),
        ],
    ],
};

const DELETE: Schema = Schema {
    endpoint: "POST /user/delete",
    groups: &[&[request("user_ids", Kind::Texts)]],
};

const DEFAULTS: &[(&str, Empty)] = &[
    ("user_email", Empty::Null),
    ("user_role", Empty::Null),
    ("models", Empty::List),
    ("metadata", Empty::Object),
    ("max_budget", Empty::Null),
    ("budget_duration", Empty::Null),
    ("rpm_limit", Empty::Null),
    ("tpm_limit", Empty::Null),
    ("max_parallel_requests", Empty::Null),
];

/// A user as the API shows it.
pub fn view(row: &Row) -> Map<String, Value> {
    let mut m = input::with_defaults(rows::view(row), DEFAULTS);
    m.insert("user_id".into(), Value::String(row.id.clone()));
    m
}

fn user_not_found(param: &str, id: &str) -> ApiError {
    rows::not_found_param(param, format!("User {id} not found"))
}

async fn existing(identity: &Identity, param: &str, id: &str) -> Result<Row, ApiError> {
    rows::get(identity, Entity::User, id)
        .await?
        .ok_or_else(|| user_not_found(param, id))
}

async fn all_users(identity: &Identity) -> Result<Vec<Row>, ApiError> {
    rows::list_all(identity, Entity::User, &ListFilter::default()).await
}

/// 409 (LiteLLM's status for users) when another user has this email
/// (compared without case, as LiteLLM compares).
async fn check_email(
    identity: &Identity,
    fields: &Map<String, Value>,
    except: Option<&str>,
) -> Result<(), ApiError> {
    let Some(email) = fields.get("user_email").and_then(Value::as_str) else {
        return Ok(());
    };
    let taken = all_users(identity).await?.into_iter().any(|u| {
        Some(u.id.as_str()) != except
            && u.alias
                .as_deref()
                .is_some_and(|a| a.eq_ignore_ascii_case(email.trim()))
    });
    if taken {
        return Err(rows::duplicate(
            StatusCode::CONFLICT,
            "user_email",
            format!("User with email {email} already exists"),
        ));
    }
    Ok(())
}

fn row_of(id: String, record: &UserRecord, like: Option<&Row>) -> Result<Row, ApiError> {
    let mut row = match like {
        Some(old) => Row {
            updated_ms: rows::now_ms(),
            ..old.clone()
        },
        None => Row::new(id, Value::Null),
    };
    row.body = rows::body(record)?;
    row.alias = record.user_email.clone();
    Ok(row)
}

/// `POST /user/new`.
pub async fn new(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    state.identity.admin(&headers)?;
    let checked = input::body(body, state.gateway.config.max_body_bytes, &NEW)?;
    input::check_models(&state.gateway.config, "models", &checked.record)?;
    let id = match checked.text("user_id") {
        Some(id) => {
            if rows::get(&state.identity, Entity::User, id)
                .await?
                .is_some()
            {
                return Err(rows::duplicate(
                    StatusCode::CONFLICT,
                    "user_id",
                    format!("User with id {id} already exists"),
                ));
            }
            id.to_string()
        }
        None => teams::new_id()?,
    };
    check_email(&state.identity, &checked.record, None).await?;
    let record: UserRecord = input::into_record(input::fresh(&checked.record))?;

    // The user's key, checked before anything is written.
    let key_fields = if checked.flag("auto_create_key").unwrap_or(true) {
        let mut k = Map::new();
        k.insert("user_id".into(), Value::String(id.clone()));
        for field in ["key_alias", "team_id"] {
            if let Some(v) = checked.text(field) {
                k.insert(field.into(), Value::String(v.to_string()));
            }
        }
        if !record.models.is_empty() {
            k.insert("models".into(), json!(record.models));
        }
        keys::check_team(&state.identity, &k).await?;
        keys::check_alias(&state.identity, &k, None).await?;
        let expires = match checked.text("duration") {
            Some(d) => {
                let period = input::period("duration", d)?;
                expiry::expires_after(rows::now_ms(), &period)
            }
            None => None,
        };
        Some((k, expires))
    } else {
        None
    };

    let row = row_of(id.clone(), &record, None)?;
    state
        .identity
        .store()
        .insert(Entity::User, &row)
        .await
        .map_err(|e| match e {
            switchyard_store::StoreError::Conflict(_) => rows::duplicate(
                StatusCode::CONFLICT,
                "user_id",
                format!("User with id {id} already exists"),
            ),
            other => store_error(other),
        })?;
    let row = rows::settle(&state.identity, Entity::User, &id).await?;
    tracing::info!(user = %id, "user created");

    let mut answer = view(&row);
    match key_fields {
        Some((fields, expires)) => {
            let (raw, key) = keys::create(&state.identity, fields, None, expires).await?;
            answer.insert("key".into(), Value::String(raw));
            for field in ["key_name", "key_alias", "team_id", "expires"] {
                answer.insert(
                    field.into(),
                    key.body.get(field).cloned().unwrap_or(Value::Null),
                );
            }
        }
        None => {
            answer.insert("key".into(), Value::Null);
        }
    }
    Ok(Json(Value::Object(answer)).into_response())
}

/// `POST /user/update`: by `user_id`, or by `user_email` alone (the user
/// with that email); answers LiteLLM's `{user_id, data}`.
pub async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    state.identity.admin(&headers)?;
    let checked = input::body(body, state.gateway.config.max_body_bytes, &UPDATE)?;
    input::check_models(&state.gateway.config, "models", &checked.record)?;
    let old = match checked.text("user_id") {
        Some(id) => existing(&state.identity, "user_id", id).await?,
        None => {
            let Some(email) = checked.record.get("user_email").and_then(Value::as_str) else {
                return Err(ApiError::bad_param(
                    "user_id",
                    "POST /user/update needs `user_id` or `user_email`",
                ));
            };
            all_users(&state.identity)
                .await?
                .into_iter()
                .find(|u| {
                    u.alias
                        .as_deref()
                        .is_some_and(|a| a.eq_ignore_ascii_case(email))
                })
                .ok_or_else(|| user_not_found("user_email", email))?
        }
    };
    let id = old.id.clone();
    check_email(&state.identity, &checked.record, Some(&id)).await?;
    let record: UserRecord = input::into_record(input::merge(&old.body, &checked.record))?;
    let row = row_of(id.clone(), &record, Some(&old))?;
    state
        .identity
        .store()
        .update(Entity::User, &row)
        .await
        .map_err(store_error)?;
    let row = rows::settle(&state.identity, Entity::User, &id).await?;
    tracing::info!(user = %id, "user updated");
    Ok(Json(json!({"user_id": id, "data": view(&row)})).into_response())
}

async fn user_keys(identity: &Identity, user: Option<&str>) -> Result<Vec<Row>, ApiError> {
    let filter = ListFilter {
        user_id: user.map(str::to_string),
        ..ListFilter::default()
    };
    keys::list_rows(identity, &filter).await
}

/// `POST /user/delete`: every user must exist, or nothing is deleted; the
/// users' keys are deleted with them (as LiteLLM does).
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
            "POST /user/delete needs `user_ids` (a non-empty list)",
        ));
    }
    for id in &ids {
        existing(&state.identity, "user_ids", id).await?;
    }
    let mut deleted_keys = Vec::new();
    for id in &ids {
        for key in user_keys(&state.identity, Some(id)).await? {
            rows::delete(&state.identity, Entity::Key, &key.id).await?;
            deleted_keys.push(key.id);
        }
        rows::delete(&state.identity, Entity::User, id).await?;
        tracing::info!(user = %id, "user deleted with their keys");
    }
    Ok(Json(json!({"deleted_users": ids, "deleted_keys": deleted_keys})).into_response())
}

/// `GET /user/info?user_id=`: the user, their keys, and the teams of
/// those keys and of the user's `teams`.
pub async fn info(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    state.identity.admin(&headers)?;
    let params = Params::read(query, "GET /user/info", &["user_id"])?;
    let Some(id) = params.get("user_id") else {
        return Err(ApiError::bad_param(
            "user_id",
            "GET /user/info needs `user_id`",
        ));
    };
    let row = existing(&state.identity, "user_id", id).await?;
    let keys = user_keys(&state.identity, Some(id)).await?;
    let mut team_ids: BTreeSet<String> = keys.iter().filter_map(|k| k.team_id.clone()).collect();
    if let Some(Value::Array(listed)) = row.body.get("teams") {
        team_ids.extend(listed.iter().filter_map(|t| t.as_str().map(str::to_string)));
    }
    let mut teams = Vec::new();
    for t in &team_ids {
        if let Some(team) = rows::get(&state.identity, Entity::Team, t).await? {
            teams.push(Value::Object(teams::view(&team)));
        }
    }
    let keys: Vec<Value> = keys.iter().map(|k| Value::Object(keys::view(k))).collect();
    let mut user_info = view(&row);
    let limits = budget::limits_of(&row.body);
    budget::add_window(&state, scopes::USER, id, &limits, &mut user_info).await;
    Ok(Json(json!({
        "user_id": id,
        "user_info": user_info,
        "keys": keys,
        "teams": teams,
    }))
    .into_response())
}

/// `GET /user/list`: LiteLLM's `{users, total, page, page_size,
/// total_pages}`, newest first, each user with `key_count`.
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    state.identity.admin(&headers)?;
    let params = Params::read(
        query,
        "GET /user/list",
        &[
            "page",
            "page_size",
            "role",
            "user_ids",
            "user_email",
            "team",
        ],
    )?;
    let page = params.number("page", 1, u64::from(u32::MAX))?;
    let size = params.number("page_size", 25, 100)?;
    let mut users = all_users(&state.identity).await?;
    if let Some(role) = params.get("role") {
        users.retain(|u| rows::text_of(&u.body, "user_role") == Some(role));
    }
    if let Some(ids) = params.get("user_ids") {
        let wanted: BTreeSet<&str> = ids.split(',').map(str::trim).collect();
        users.retain(|u| wanted.contains(u.id.as_str()));
    }
    if let Some(part) = params.get("user_email") {
        let part = part.to_lowercase();
        users.retain(|u| {
            u.alias
                .as_deref()
                .is_some_and(|e| e.to_lowercase().contains(&part))
        });
    }
    if let Some(team) = params.get("team") {
        users.retain(|u| {
            u.body
                .get("teams")
                .and_then(Value::as_array)
                .is_some_and(|ts| ts.iter().any(|t| t.as_str() == Some(team)))
        });
    }
    users.sort_by(|a, b| {
        b.created_ms
            .cmp(&a.created_ms)
            .then_with(|| b.id.cmp(&a.id))
    });
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for key in user_keys(&state.identity, None).await? {
        if let Some(u) = key.user_id {
            *counts.entry(u).or_default() += 1;
        }
    }
    let total = users.len() as u64;
    let skip = usize::try_from((page - 1).saturating_mul(size)).unwrap_or(usize::MAX);
    let shown: Vec<Value> = users
        .iter()
        .skip(skip)
        .take(usize::try_from(size).unwrap_or(usize::MAX))
        .map(|u| {
            let mut m = view(u);
            m.insert(
                "key_count".into(),
                json!(counts.get(&u.id).copied().unwrap_or(0)),
            );
            Value::Object(m)
        })
        .collect();
    Ok(Json(json!({
        "users": shown,
        "total": total,
        "page": page,
        "page_size": size,
        "total_pages": total.div_ceil(size),
    }))
    .into_response())
}
