//! Teams: `/team/new`, `/team/update`, `/team/delete`, `/team/info`,
//! `/team/list`, `/team/block`, `/team/unblock`, in LiteLLM's shapes. A
//! team's limits and metadata apply to its keys; deleting a team deletes
//! its keys, as LiteLLM does.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use switchyard_store::{Entity, ListFilter, Row};

use super::input::{self, Checked, Empty, Field, Kind, Schema, dropped, kept, record, request};
use super::query::Params;
use super::rows::{self, store_error};
use super::{budget, keys};
use crate::gateway::ApiError;
use crate::identity::Identity;
use crate::identity::records::TeamRecord;
use crate::ledger::scopes;
use crate::server::AppState;

/// The team fields the gateway acts on (TeamRecord's).
const TEAM_FIELDS: &[Field] = &[
    record("team_alias", Kind::Text),
    record("models", Kind::Texts),
    record("metadata", Kind::Object),
    record("tags", Kind::Texts),
    record("max_budget", Kind::Money),
    record("budget_duration", Kind::Period),
    record("rpm_limit", Kind::Count),
    record("tpm_limit", Kind::Count),
    record("max_parallel_requests", Kind::Count),
    record("blocked", Kind::Flag),
];

/// LiteLLM team fields kept but not acted on.
const TEAM_KEPT: &[Field] = &[
    kept("organization_id", Kind::Any),
    kept("admins", Kind::Any),
    kept("members", Kind::Any),
    kept("members_with_roles", Kind::Any),
    kept("team_member_permissions", Kind::Any),
    kept("soft_budget", Kind::Money),
    kept("router_settings", Kind::Any),
    kept("access_group_ids", Kind::Any),
    kept("model_aliases", Kind::Any),
    kept("guardrails", Kind::Any),
    kept("policies", Kind::Any),
    kept("prompts", Kind::Any),
    kept("object_permission", Kind::Any),
    kept("allowed_passthrough_routes", Kind::Any),
    kept("secret_manager_settings", Kind::Any),
    kept("model_rpm_limit", Kind::CountMap),
    kept("model_tpm_limit", Kind::CountMap),
    kept("rpm_limit_type", Kind::Any),
    kept("tpm_limit_type", Kind::Any),
    kept("team_member_budget", Kind::Money),
    kept("team_member_rpm_limit", Kind::Count),
    kept("team_member_tpm_limit", Kind::Count),
    kept("team_member_key_duration", Kind::Period),
    kept("team_member_budget_duration", Kind::Period),
    kept("allowed_vector_store_indexes", Kind::Any),
    kept("enforced_batch_output_expires_after", Kind::Any),
    kept("enforced_file_expires_after", Kind::Any),
    kept("budget_id", Kind::Any),
    dropped("spend", Kind::Money),
];

const NEW: Schema = Schema {
    endpoint: "POST /team/new",
    groups: &[TEAM_FIELDS, TEAM_KEPT, &[request("team_id", Kind::Text)]],
};

const UPDATE: Schema = Schema {
    endpoint: "POST /team/update",
    groups: &[TEAM_FIELDS, TEAM_KEPT, &[request("team_id", Kind::Text)]],
};

const DELETE: Schema = Schema {
    endpoint: "POST /team/delete",
    groups: &[&[request("team_ids", Kind::Texts)]],
};

const BLOCK: Schema = Schema {
    endpoint: "POST /team/block",
    groups: &[&[request("team_id", Kind::Text)]],
};

const UNBLOCK: Schema = Schema {
    endpoint: "POST /team/unblock",
    groups: &[&[request("team_id", Kind::Text)]],
};

const DEFAULTS: &[(&str, Empty)] = &[
    ("team_alias", Empty::Null),
    ("models", Empty::List),
    ("metadata", Empty::Object),
    ("tags", Empty::List),
    ("max_budget", Empty::Null),
    ("budget_duration", Empty::Null),
    ("rpm_limit", Empty::Null),
    ("tpm_limit", Empty::Null),
    ("max_parallel_requests", Empty::Null),
    ("blocked", Empty::False),
];

/// A team as the API shows it.
pub fn view(row: &Row) -> Map<String, Value> {
    let mut m = input::with_defaults(rows::view(row), DEFAULTS);
    m.insert("team_id".into(), Value::String(row.id.clone()));
    m
}

fn team_not_found(param: &str, id: &str) -> ApiError {
    rows::not_found_param(param, format!("Team not found, passed team_id={id}"))
}

async fn existing(identity: &Identity, param: &str, id: &str) -> Result<Row, ApiError> {
    rows::get(identity, Entity::Team, id)
        .await?
        .ok_or_else(|| team_not_found(param, id))
}

fn row_of(id: String, record: &TeamRecord, like: Option<&Row>) -> Result<Row, ApiError> {
    let mut row = match like {
        Some(old) => Row {
            updated_ms: rows::now_ms(),
            ..old.clone()
        },
        None => Row::new(id, Value::Null),
    };
    row.body = rows::body(record)?;
    row.alias = record.team_alias.clone();
    Ok(row)
}

/// `POST /team/new`: `team_id` is a new UUID when absent.
pub async fn new(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    state.identity.admin(&headers)?;
    let checked = input::body(body, state.gateway.config.max_body_bytes, &NEW)?;
    input::check_models(&state.gateway.config, "models", &checked.record)?;
    let id = match checked.text("team_id") {
        Some(id) => {
            if rows::get(&state.identity, Entity::Team, id)
                .await?
                .is_some()
            {
                return Err(rows::duplicate(
                    StatusCode::BAD_REQUEST,
                    "team_id",
                    format!("Team id = {id} already exists. Please use a different team id."),
                ));
            }
            id.to_string()
        }
        None => new_id()?,
    };
    let record: TeamRecord = input::into_record(input::fresh(&checked.record))?;
    let row = row_of(id.clone(), &record, None)?;
    state
        .identity
        .store()
        .insert(Entity::Team, &row)
        .await
        .map_err(|e| match e {
            switchyard_store::StoreError::Conflict(_) => rows::duplicate(
                StatusCode::BAD_REQUEST,
                "team_id",
                format!("Team id = {id} already exists. Please use a different team id."),
            ),
            other => store_error(other),
        })?;
    let row = rows::settle(&state.identity, Entity::Team, &id).await?;
    tracing::info!(team = %id, "team created");
    Ok(Json(Value::Object(view(&row))).into_response())
}

/// A v4 UUID from the OS's randomness.
pub fn new_id() -> Result<String, ApiError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| ApiError::internal(format!("the system's randomness failed: {e}")))?;
    Ok(uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string())
}

/// Applies changes to a team and answers LiteLLM's `{team_id, data}`.
async fn change(
    state: &AppState,
    id: &str,
    param: &str,
    changes: &Map<String, Value>,
) -> Result<Response, ApiError> {
    let old = existing(&state.identity, param, id).await?;
    let record: TeamRecord = input::into_record(input::merge(&old.body, changes))?;
    let row = row_of(id.to_string(), &record, Some(&old))?;
    state
        .identity
        .store()
        .update(Entity::Team, &row)
        .await
        .map_err(store_error)?;
    let row = rows::settle(&state.identity, Entity::Team, id).await?;
    tracing::info!(team = %id, "team updated");
    Ok(Json(json!({"team_id": id, "data": view(&row)})).into_response())
}

/// `POST /team/update`.
pub async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    state.identity.admin(&headers)?;
    let checked = input::body(body, state.gateway.config.max_body_bytes, &UPDATE)?;
    let id = input::required(&checked, "team_id", UPDATE.endpoint)?;
    input::check_models(&state.gateway.config, "models", &checked.record)?;
    change(&state, id, "team_id", &checked.record).await
}

async fn set_blocked(
    state: &AppState,
    checked: &Checked,
    endpoint: &str,
    blocked: bool,
) -> Result<Response, ApiError> {
    let id = input::required(checked, "team_id", endpoint)?;
    let mut changes = Map::new();
    changes.insert("blocked".into(), Value::Bool(blocked));
    change(state, id, "team_id", &changes).await
}

/// `POST /team/block`: every key of the team is refused until unblocked.
pub async fn block(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    state.identity.admin(&headers)?;
    let checked = input::body(body, state.gateway.config.max_body_bytes, &BLOCK)?;
    set_blocked(&state, &checked, BLOCK.endpoint, true).await
}

/// `POST /team/unblock`.
pub async fn unblock(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    state.identity.admin(&headers)?;
    let checked = input::body(body, state.gateway.config.max_body_bytes, &UNBLOCK)?;
    set_blocked(&state, &checked, UNBLOCK.endpoint, false).await
}

/// The keys of a team (or of every team: `None`).
async fn team_keys(identity: &Identity, team: Option<&str>) -> Result<Vec<Row>, ApiError> {
    let filter = ListFilter {
        team_id: team.map(str::to_string),
        ..ListFilter::default()
    };
    keys::list_rows(identity, &filter).await
}

/// `POST /team/delete`: every team must exist, or nothing is deleted; the
/// teams' keys are deleted with them.
pub async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    state.identity.admin(&headers)?;
    let checked = input::body(body, state.gateway.config.max_body_bytes, &DELETE)?;
    let ids = checked.texts("team_ids");
    if ids.is_empty() {
        return Err(ApiError::bad_param(
            "team_ids",
            "POST /team/delete needs `team_ids` (a non-empty list)",
        ));
    }
    for id in &ids {
        existing(&state.identity, "team_ids", id).await?;
    }
    let mut deleted_keys = Vec::new();
    for id in &ids {
        for key in team_keys(&state.identity, Some(id)).await? {
            rows::delete(&state.identity, Entity::Key, &key.id).await?;
            deleted_keys.push(key.id);
        }
        rows::delete(&state.identity, Entity::Team, id).await?;
        tracing::info!(team = %id, "team deleted with its keys");
    }
    Ok(Json(json!({"deleted_teams": ids, "deleted_keys": deleted_keys})).into_response())
}

/// `GET /team/info?team_id=`: the team, its keys, and (always empty: the
/// gateway keeps no memberships) `team_memberships`.
pub async fn info(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    state.identity.admin(&headers)?;
    let params = Params::read(query, "GET /team/info", &["team_id"])?;
    let Some(id) = params.get("team_id") else {
        return Err(ApiError::bad_param(
            "team_id",
            "GET /team/info needs `team_id`",
        ));
    };
    let row = existing(&state.identity, "team_id", id).await?;
    let keys: Vec<Value> = team_keys(&state.identity, Some(id))
        .await?
        .iter()
        .map(|k| Value::Object(keys::view(k)))
        .collect();
    let mut team_info = view(&row);
    let limits = budget::limits_of(&row.body);
    budget::add_window(&state, scopes::TEAM, id, &limits, &mut team_info).await;
    Ok(Json(json!({
        "team_id": id,
        "team_info": team_info,
        "keys": keys,
        "team_memberships": [],
    }))
    .into_response())
}

/// Whether a team's kept `members_with_roles` names `user`.
fn has_member(row: &Row, user: &str) -> bool {
    row.body
        .get("members_with_roles")
        .and_then(Value::as_array)
        .is_some_and(|ms| ms.iter().any(|m| rows::text_of(m, "user_id") == Some(user)))
}

/// `GET /team/list`: every team (sorted by alias, as LiteLLM sorts), each
/// with its keys; `user_id` keeps teams whose `members_with_roles` name
/// the user, `organization_id` those with that organization.
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    state.identity.admin(&headers)?;
    let params = Params::read(query, "GET /team/list", &["user_id", "organization_id"])?;
    let mut teams = rows::list_all(&state.identity, Entity::Team, &ListFilter::default()).await?;
    if let Some(user) = params.get("user_id") {
        teams.retain(|t| has_member(t, user));
    }
    if let Some(org) = params.get("organization_id") {
        teams.retain(|t| rows::text_of(&t.body, "organization_id") == Some(org));
    }
    teams.sort_by(|a, b| {
        a.alias
            .as_deref()
            .unwrap_or("")
            .cmp(b.alias.as_deref().unwrap_or(""))
            .then_with(|| a.id.cmp(&b.id))
    });
    let mut by_team: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for key in team_keys(&state.identity, None).await? {
        if let Some(t) = &key.team_id {
            by_team
                .entry(t.clone())
                .or_default()
                .push(Value::Object(keys::view(&key)));
        }
    }
    let answer: Vec<Value> = teams
        .iter()
        .map(|t| {
            let mut m = view(t);
            m.insert(
                "keys".into(),
                Value::Array(by_team.remove(&t.id).unwrap_or_default()),
            );
            m.insert("team_memberships".into(), json!([]));
            Value::Object(m)
        })
        .collect();
    Ok(Json(Value::Array(answer)).into_response())
}
