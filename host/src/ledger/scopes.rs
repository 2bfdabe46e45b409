//! Which limits apply to a request: its key (and the key for the model
//! asked), team, user, end user, the config's `limits:` rules, and the
//! proxy-wide budget. Each becomes a [`Limit`] on a [`Scope`] whose label
//! never holds a secret (a key is named by its alias or its hash's first 8
//! characters).

use std::sync::Arc;

use switchyard_limits::{Budget, Limit, Period, Scope};
use switchyard_store::SpendBy;

use crate::config::money::{LimitRule, Match};
use crate::identity::records::Limits;
use crate::identity::{EndUserEntry, KeyEntry, Principal, secret};
use crate::plugins::bindings::types::Caller;

use super::Accounts;

pub const KEY: &str = "key";
pub const KEY_MODEL: &str = "key_model";
pub const TEAM: &str = "team";
pub const USER: &str = "user";
pub const END_USER: &str = "end_user";
pub const DEPLOYMENT: &str = "deployment";
pub const PROVIDER: &str = "provider";
pub const GLOBAL: &str = "global";

pub fn scope(kind: &str, id: &str) -> Scope {
    Scope {
        kind: Arc::from(kind),
        id: Arc::from(id),
    }
}

pub fn deployment(id: &str) -> Scope {
    scope(DEPLOYMENT, id)
}

pub fn provider(prefix: &str) -> Scope {
    scope(PROVIDER, prefix)
}

pub fn global() -> Scope {
    scope(GLOBAL, "proxy")
}

/// A budget from LiteLLM's limit fields (checked when written; a duration
/// that no longer parses counts as forever and is logged).
fn budget_of(limits: &Limits) -> Option<Budget> {
    let max = limits.max_budget?;
    Some(Budget {
        max_usd: max,
        period: period(limits.budget_duration.as_deref()),
    })
}

fn period(text: Option<&str>) -> Period {
    match text {
        None => Period::Forever,
        Some(t) => t.parse().unwrap_or_else(|e| {
            tracing::warn!(duration = %t, error = %e, "a stored budget duration does not parse; the budget counts forever");
            Period::Forever
        }),
    }
}

fn limit_of(kind: &str, id: &str, label: String, limits: &Limits) -> Option<Limit> {
    if !limits.any() {
        return None;
    }
    Some(Limit {
        scope: scope(kind, id),
        label,
        rpm: limits.rpm_limit,
        tpm: limits.tpm_limit,
        max_parallel: limits.max_parallel_requests,
        budget: budget_of(limits),
    })
}

/// The budget of an entity, for seeding.
pub fn limits_budget(kind: &str, id: &str, limits: &Limits) -> Option<(Scope, Budget)> {
    budget_of(limits).map(|b| (scope(kind, id), b))
}

/// A key's budgets: its own and its per-model ones.
pub fn key_budgets(k: &KeyEntry) -> Vec<(Scope, Budget)> {
    let mut out: Vec<_> = limits_budget(KEY, k.limit_id(), &k.record.limits)
        .into_iter()
        .collect();
    for (model, b) in &k.record.model_max_budget {
        out.push((
            scope(KEY_MODEL, &format!("{}/{model}", k.limit_id())),
            Budget {
                max_usd: b.budget_limit,
                period: period(b.time_period.as_deref()),
            },
        ));
    }
    out
}

fn key_label(k: &KeyEntry) -> String {
    match &k.record.key_alias {
        Some(a) => format!("key {a}"),
        None => format!("key {}", secret::short(&k.id)),
    }
}

/// A metadata value as the text a rule counts by (`"org_1"` → `org_1`,
/// numbers and booleans as written).
fn metadata_value(caller: &Caller, field: &str) -> Option<String> {
    let f = caller.metadata.iter().find(|f| f.key == field)?;
    match serde_json::from_str::<serde_json::Value>(&f.value).ok()? {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Null => None,
        v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_)) => Some(v.to_string()),
        _ => None,
    }
}

/// The values a rule's counters are kept for, for this request.
fn rule_values(
    rule: &LimitRule,
    caller: &Caller,
    end_user: Option<&str>,
    group: &str,
) -> Vec<String> {
    let values: Vec<String> = match &rule.matches {
        Match::Metadata(f) => metadata_value(caller, f).into_iter().collect(),
        // The request's `user` only (the end user), never the key's user.
        Match::User => end_user.map(str::to_string).into_iter().collect(),
        Match::Tag => caller.tags.clone(),
        Match::Team => caller.team.clone().into_iter().collect(),
        Match::KeyAlias => caller.key_alias.clone().into_iter().collect(),
        Match::Model => vec![group.to_string()],
    };
    match &rule.value {
        Some(only) => values.into_iter().filter(|v| v == only).collect(),
        None => values,
    }
}

impl Accounts {
    /// Every limit that applies to a request for `group` (the group the
    /// client asked for, aliases resolved).
    pub fn limits_for(
        &self,
        principal: &Principal,
        end_user: Option<&EndUserEntry>,
        end_user_id: Option<&str>,
        caller: &Caller,
        group: &str,
    ) -> Vec<Limit> {
        let mut out = Vec::new();
        if let Some(h) = principal.holder() {
            let k = &h.key;
            let label = key_label(k);
            out.extend(limit_of(KEY, k.limit_id(), label.clone(), &k.record.limits));
            let r = &k.record;
            let model_rpm = r.model_rpm_limit.get(group).copied();
            let model_tpm = r.model_tpm_limit.get(group).copied();
            let model_budget = r.model_max_budget.get(group).map(|b| Budget {
                max_usd: b.budget_limit,
                period: period(b.time_period.as_deref()),
            });
            if model_rpm.is_some() || model_tpm.is_some() || model_budget.is_some() {
                out.push(Limit {
                    scope: scope(KEY_MODEL, &format!("{}/{group}", k.limit_id())),
                    label: format!("{label} for model {group}"),
                    rpm: model_rpm,
                    tpm: model_tpm,
                    max_parallel: None,
                    budget: model_budget,
                });
            }
            if let Some(t) = &h.team {
                out.extend(limit_of(
                    TEAM,
                    &t.id,
                    format!("team {}", t.id),
                    &t.record.limits,
                ));
            }
            if let Some(u) = &h.user {
                out.extend(limit_of(
                    USER,
                    &u.id,
                    format!("user {}", u.id),
                    &u.record.limits,
                ));
            }
        }
        if let Some(e) = end_user {
            out.extend(limit_of(
                END_USER,
                &e.id,
                format!("end user {}", e.id),
                &e.record.limits,
            ));
        }
        for rule in &self.rules {
            let kind = rule.matches.kind();
            for value in rule_values(rule, caller, end_user_id, group) {
                out.push(Limit {
                    scope: scope(&kind, &value),
                    label: format!("{kind} {value}"),
                    rpm: rule.rpm,
                    tpm: rule.tpm,
                    max_parallel: rule.max_parallel,
                    budget: rule.budget,
                });
            }
        }
        if let Some(b) = &self.global_budget {
            out.push(Limit {
                scope: global(),
                label: "the proxy (litellm_settings.max_budget)".into(),
                rpm: None,
                tpm: None,
                max_parallel: None,
                budget: Some(*b),
            });
        }
        out
    }

    /// The rules with a budget, with what their spend is summed by.
    pub fn rule_budgets(&self) -> Vec<(String, Option<String>, SpendBy, Budget)> {
        self.rules
            .iter()
            .filter_map(|r| {
                let b = r.budget?;
                let by = match &r.matches {
                    Match::Metadata(f) => SpendBy::Metadata(f.clone()),
                    Match::User => SpendBy::EndUser,
                    Match::Tag => SpendBy::Tag,
                    Match::Team => SpendBy::Team,
                    Match::Model => SpendBy::Model,
                    Match::KeyAlias => return None,
                };
                Some((r.matches.kind(), r.value.clone(), by, b))
            })
            .collect()
    }
}

/// What a scope's spend is summed by in the spend table, and the id to
/// read (`None`: not seeded).
pub fn spend_by(scope: &Scope) -> Option<SpendBy> {
    Some(match &*scope.kind {
        KEY => SpendBy::Key,
        TEAM => SpendBy::Team,
        USER => SpendBy::User,
        END_USER => SpendBy::EndUser,
        DEPLOYMENT => SpendBy::Deployment,
        PROVIDER => SpendBy::Provider,
        _ => return None,
    })
}
