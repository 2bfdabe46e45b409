//! `GET /usage`: requests, tokens and cost over a time range, grouped by
//! model, key, team, user, end user, tag, day or a metadata field, and
//! filtered on the same names. An admin reads everything; a key reads its
//! own team's usage (or, without a team, its own).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use switchyard_store::{GroupBy, Totals, UsageQuery};

use super::query::Params;
use super::rows::store_error;
use crate::gateway::ApiError;
use crate::identity::{Reader, secret};
use crate::server::AppState;

/// Query names that are not filters.
const CONTROLS: &[&str] = &["start_date", "end_date", "group_by"];

/// A grouping or filter name: `model`, `key`, `team`, `user`, `end_user`,
/// `tag`, `day`, `metadata.<field>`; any other name is a metadata field
/// (`organization_id` means `metadata.organization_id`).
fn dimension(name: &str, param: &str) -> Result<GroupBy, ApiError> {
    Ok(match name {
        "model" => GroupBy::Model,
        "key" => GroupBy::Key,
        "team" => GroupBy::Team,
        "user" => GroupBy::User,
        "end_user" => GroupBy::EndUser,
        "tag" => GroupBy::Tag,
        "day" => GroupBy::Day,
        _ => {
            let field = name.strip_prefix("metadata.").unwrap_or(name);
            let ok = field.split('.').all(|part| !part.is_empty())
                && field
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
            if !ok {
                return Err(ApiError::bad_param(
                    param,
                    format!(
                        "`{name}` is not a usage dimension: use model, key, team, user, end_user, tag, day or metadata.<field> (field names: letters, digits, _ and -, with . between nested names)"
                    ),
                ));
            }
            GroupBy::Metadata(field.to_string())
        }
    })
}

/// The answer's name for a grouping: `by_model`, `by_organization_id`.
fn section(by: &GroupBy) -> String {
    let name = match by {
        GroupBy::Model => "model",
        GroupBy::Key => "key",
        GroupBy::Team => "team",
        GroupBy::User => "user",
        GroupBy::EndUser => "end_user",
        GroupBy::Tag => "tag",
        GroupBy::Day => "day",
        GroupBy::Metadata(field) => field.as_str(),
    };
    format!("by_{name}")
}

fn forbidden(message: String) -> ApiError {
    let mut e = ApiError::new(StatusCode::FORBIDDEN, "permission_error", message);
    e.code = Some("forbidden".into());
    e
}

/// `GET /usage?start_date=&end_date=&group_by=&<filter>=<value>`.
pub async fn usage(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let reader = state.identity.reader(&headers)?;
    let params = Params::any(query)?;
    let group_name = params.get("group_by").unwrap_or("model");
    let group_by = dimension(group_name, "group_by")?;
    let mut filter: Vec<(GroupBy, String)> = Vec::new();
    for (name, value) in params.pairs() {
        if CONTROLS.contains(&name.as_str()) {
            continue;
        }
        let by = dimension(name, name)?;
        // A key filter matches the hash, the alias or the hash's start; a
        // secret is hashed first.
        let value = if by == GroupBy::Key && value.starts_with("sk-") {
            secret::hash(value)
        } else {
            value.clone()
        };
        filter.push((by, value));
    }
    // A key reads its team's usage, or without a team its own.
    if let Reader::Key(holder) = &reader {
        let (by, own, what) = match &holder.key.record.team_id {
            Some(team) => (GroupBy::Team, team.clone(), format!("its team {team}")),
            None => (GroupBy::Key, holder.key.id.clone(), "its own".to_string()),
        };
        if let Some((_, other)) = filter.iter().find(|(b, v)| *b == by && *v != own) {
            return Err(forbidden(format!(
                "key {} may read only {what} usage, not {other}",
                holder.label()
            )));
        }
        filter.push((by, own));
    }
    let q = UsageQuery {
        start_ms: params.date_ms("start_date", false)?.unwrap_or(0),
        end_ms: params.date_ms("end_date", true)?.unwrap_or(i64::MAX),
        group_by: group_by.clone(),
        filter,
    };
    let usage = state
        .identity
        .store()
        .usage(&q)
        .await
        .map_err(store_error)?;
    let groups: Map<String, Value> = usage
        .groups
        .iter()
        .map(|(k, t)| (k.clone(), totals(t)))
        .collect();
    let mut answer = Map::new();
    answer.insert(
        "summary".into(),
        json!({
            "total_cost": usage.summary.cost,
            "total_tokens": usage.summary.tokens,
            "total_requests": usage.summary.requests,
        }),
    );
    answer.insert(section(&group_by), Value::Object(groups));
    Ok(Json(Value::Object(answer)).into_response())
}

fn totals(t: &Totals) -> Value {
    json!({"requests": t.requests, "tokens": t.tokens, "cost": t.cost})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_dimensions_and_sections() {
        assert_eq!(dimension("team", "x").unwrap(), GroupBy::Team);
        let org = dimension("organization_id", "x").unwrap();
        assert_eq!(org, GroupBy::Metadata("organization_id".into()));
        assert_eq!(dimension("metadata.organization_id", "x").unwrap(), org);
        assert_eq!(section(&org), "by_organization_id");
        assert_eq!(section(&GroupBy::EndUser), "by_end_user");
        for bad in ["metadata.a b", "metadata.", "a..b", "x;DROP"] {
            let e = dimension(bad, "group_by").unwrap_err();
            assert_eq!(e.param.as_deref(), Some("group_by"), "{bad}");
        }
    }
}
