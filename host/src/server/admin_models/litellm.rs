//! LiteLLM's model endpoints in LiteLLM's shapes, for its clients and UI:
//! `GET /model/info` (one entry per deployment: `model_name`,
//! `litellm_params` without credentials, `model_info`), `GET
//! /model_group/info` (one entry per group, LiteLLM's `ModelGroupInfo`)
//! and `GET /health` (`healthy_endpoints` / `unhealthy_endpoints`).

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::mask;
use super::status::{self, Status};
use crate::config::{Config, Deployment, ModelGroup};
use crate::ledger::Accounts;
use crate::plugins::ActiveSet;
use crate::state::{Health, State};

/// `GET /model/info` query: LiteLLM's `litellm_model_id` picks one
/// deployment.
#[derive(Debug, Default, Deserialize)]
pub struct ModelInfoQuery {
    pub litellm_model_id: Option<String>,
}

/// `GET /model_group/info` query: LiteLLM's `model_group` picks one group.
#[derive(Debug, Default, Deserialize)]
pub struct GroupInfoQuery {
    pub model_group: Option<String>,
}

/// `GET /health` query: LiteLLM's `model` (a group, an alias or
/// `provider/model`) and `model_id` narrow the list.
#[derive(Debug, Default, Deserialize)]
pub struct HealthQuery {
    pub model: Option<String>,
    pub model_id: Option<String>,
}

fn insert(map: &mut Map<String, Value>, key: &str, value: impl Into<Value>) {
    map.insert(key.to_string(), value.into());
}

fn insert_some<T: Into<Value>>(map: &mut Map<String, Value>, key: &str, value: Option<T>) {
    if let Some(v) = value {
        insert(map, key, v);
    }
}

/// The deployment's `litellm_params` as configured (the model with its
/// provider prefix), credentials left out or masked.
pub fn litellm_params(d: &Deployment) -> Map<String, Value> {
    let mut p = d.params.clone();
    p.extend(d.defaults.iter().map(|(k, v)| (k.clone(), v.clone())));
    insert(&mut p, "model", format!("{}/{}", d.provider, d.model));
    insert_some(&mut p, "api_base", d.api_base.clone());
    insert_some(&mut p, "api_version", d.api_version.clone());
    insert_some(&mut p, "rpm", d.rpm);
    insert_some(&mut p, "tpm", d.tpm);
    insert_some(&mut p, "timeout", d.timeout.map(|t| t.as_secs_f64()));
    insert_some(
        &mut p,
        "stream_timeout",
        d.stream_timeout.map(|t| t.as_secs_f64()),
    );
    insert_some(&mut p, "weight", d.weight);
    insert_some(&mut p, "order", d.order);
    if !d.tags.is_empty() {
        insert(&mut p, "tags", d.tags.clone());
    }
    if let Some(b) = &d.budget {
        insert(&mut p, "max_budget", b.max_usd);
        insert(&mut p, "budget_duration", b.period.to_string());
    }
    mask::params(p)
}

/// The deployment's `model_info` as configured (masked like the params),
/// with the fields LiteLLM's clients read filled in from the config.
pub fn model_info(d: &Deployment) -> Map<String, Value> {
    let mut info = mask::object(d.model_info.clone());
    insert(&mut info, "id", d.id.clone());
    insert(&mut info, "db_model", false);
    insert(&mut info, "key", d.model.clone());
    insert(&mut info, "litellm_provider", d.provider.clone());
    let fill: [(&str, Value); 7] = [
        ("mode", json!("chat")),
        ("max_input_tokens", json!(d.max_input_tokens)),
        ("max_output_tokens", json!(d.max_output_tokens)),
        ("max_tokens", json!(d.max_output_tokens)),
        ("input_cost_per_token", json!(d.prices.input_per_token)),
        ("output_cost_per_token", json!(d.prices.output_per_token)),
        ("supported_openai_params", Value::Null),
    ];
    for (k, v) in fill {
        info.entry(k).or_insert(v);
    }
    info
}

/// `/model/info`'s entries: every deployment, or the one `id` names
/// (`None` when none has that id).
pub fn model_info_entries(config: &Config, id: Option<&str>) -> Option<Vec<Value>> {
    let entry = |d: &Deployment| {
        json!({
            "model_name": d.group,
            "litellm_params": litellm_params(d),
            "model_info": model_info(d),
        })
    };
    match id {
        None => Some(config.deployments.iter().map(|d| entry(d)).collect()),
        Some(id) => config
            .deployments
            .iter()
            .find(|d| d.id == id)
            .map(|d| vec![entry(d)]),
    }
}

/// The largest of the deployments' values.
fn largest<T: PartialOrd + Copy>(values: impl Iterator<Item = Option<T>>) -> Option<T> {
    values.flatten().fold(None, |best, v| match best {
        Some(b) if b >= v => Some(b),
        _ => Some(v),
    })
}

/// The sum of the deployments' values, `None` when none sets one.
fn total(values: impl Iterator<Item = Option<u64>>) -> Option<u64> {
    values
        .flatten()
        .fold(None, |sum, v| Some(sum.unwrap_or(0u64).saturating_add(v)))
}

/// One group in LiteLLM's `ModelGroupInfo` shape, under `name` (the group
/// or an alias of it): providers, the largest context and prices of its
/// deployments, their rpm and tpm summed, a capability when any
/// deployment's `model_info` claims it.
pub fn group_info(name: &str, g: &ModelGroup) -> Value {
    let ds = &g.deployments;
    let mut providers: Vec<&str> = Vec::new();
    for d in ds {
        if !providers.contains(&d.provider.as_str()) {
            providers.push(&d.provider);
        }
    }
    let claims = |flag: &str| {
        ds.iter()
            .any(|d| d.model_info.get(flag).and_then(Value::as_bool) == Some(true))
    };
    let mode = ds
        .iter()
        .find_map(|d| d.model_info.get("mode").and_then(Value::as_str))
        .unwrap_or("chat");
    let mut params: Vec<&str> = Vec::new();
    for d in ds {
        let listed = d
            .model_info
            .get("supported_openai_params")
            .and_then(Value::as_array);
        for p in listed.into_iter().flatten().filter_map(Value::as_str) {
            if !params.contains(&p) {
                params.push(p);
            }
        }
    }
    json!({
        "model_group": name,
        "providers": providers,
        "max_input_tokens": largest(ds.iter().map(|d| d.max_input_tokens)),
        "max_output_tokens": largest(ds.iter().map(|d| d.max_output_tokens)),
        "input_cost_per_token": largest(ds.iter().map(|d| d.prices.input_per_token)),
        "output_cost_per_token": largest(ds.iter().map(|d| d.prices.output_per_token)),
        "mode": mode,
        "tpm": total(ds.iter().map(|d| d.tpm)),
        "rpm": total(ds.iter().map(|d| d.rpm)),
        "supports_parallel_function_calling": claims("supports_parallel_function_calling"),
        "supports_vision": claims("supports_vision"),
        "supports_web_search": claims("supports_web_search"),
        "supports_reasoning": claims("supports_reasoning"),
        "supports_function_calling": claims("supports_function_calling"),
        "supported_openai_params": params,
    })
}

/// `/model_group/info`'s entries: every group, then every alias (as
/// LiteLLM lists `model_group_alias` names), or the one `name` names.
pub fn group_info_entries(config: &Config, name: Option<&str>) -> Vec<Value> {
    let groups = config.groups.iter().map(|(n, g)| (n.as_str(), g));
    let aliases = config
        .aliases
        .iter()
        .filter_map(|(alias, target)| config.groups.get(target).map(|g| (alias.as_str(), g)));
    groups
        .chain(aliases)
        .filter(|(n, _)| name.is_none_or(|want| want == *n))
        .map(|(n, g)| group_info(n, g))
        .collect()
}

/// Whether `d` is one `/health`'s query asks about.
fn asked(config: &Config, d: &Deployment, q: &HealthQuery) -> bool {
    let by_id = q.model_id.as_deref().is_none_or(|id| d.id == id);
    let by_model = q.model.as_deref().is_none_or(|m| {
        config.group(m).is_some_and(|g| g.name == d.group)
            || m == format!("{}/{}", d.provider, d.model)
    });
    by_id && by_model
}

/// `/health`: each deployment with its status (`healthy`, `unhealthy`,
/// `cooling_down` or `budget_exhausted`), live state and last error, in
/// LiteLLM's two lists (anything not healthy is listed as unhealthy, its
/// `status` saying why) with LiteLLM's `model`, `model_id` and `error`.
pub fn health(
    config: &Config,
    live: &State,
    accounts: &Accounts,
    set: &ActiveSet,
    q: &HealthQuery,
) -> Value {
    let now = crate::state::now_ms();
    let mut healthy = Vec::new();
    let mut unhealthy = Vec::new();
    let (mut cooling, mut exhausted) = (0, 0);
    for d in config.deployments.iter().filter(|d| asked(config, d, q)) {
        let l = status::read(live, accounts, set, d);
        let s = &l.snapshot;
        let last_error = l.last_error.as_ref().map(|(at, message)| {
            json!({"message": message, "seconds_ago": now.saturating_sub(*at) / 1000})
        });
        let mut entry = json!({
            "id": d.id, "model_id": d.id, "model_group": d.group,
            "model": format!("{}/{}", d.provider, d.model),
            "api_base": d.api_base.as_deref().map(mask::url), "in_flight": s.in_flight,
            "latency_avg_ms": s.latency_avg_ms, "rpm_used": s.rpm_used, "tpm_used": s.tpm_used,
            "last_error": last_error, "status": l.status.as_str(),
        });
        if let Value::Object(e) = &mut entry {
            insert_some(e, "api_version", d.api_version.clone());
            insert_some(e, "rpm", d.rpm);
            insert_some(e, "tpm", d.tpm);
            insert_some(e, "mode", d.model_info.get("mode").cloned());
            if let Some(c) = &s.cooldown {
                insert(e, "cooldown_seconds_left", c.remaining(now).as_secs_f64());
            }
            if let Health::Healthy { checked_ms } | Health::Unhealthy { checked_ms, .. } = &s.health
            {
                insert(
                    e,
                    "checked_seconds_ago",
                    now.saturating_sub(*checked_ms) / 1000,
                );
            }
            insert_some(e, "error", l.reason.clone());
        }
        match l.status {
            Status::Healthy => healthy.push(entry),
            Status::CoolingDown => {
                cooling += 1;
                unhealthy.push(entry);
            }
            Status::BudgetExhausted => {
                exhausted += 1;
                unhealthy.push(entry);
            }
            Status::Unhealthy => unhealthy.push(entry),
        }
    }
    json!({
        "healthy_endpoints": healthy, "unhealthy_endpoints": unhealthy,
        "healthy_count": healthy.len(), "unhealthy_count": unhealthy.len(),
        "cooling_down_count": cooling,
        "budget_exhausted_count": exhausted,
    })
}
