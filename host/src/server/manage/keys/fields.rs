//! What a key request may hold (the fields the gateway acts on, LiteLLM's
//! fields it keeps, each endpoint's extras) and how a key is shown and
//! named.

use serde_json::{Map, Value};
use switchyard_store::Row;

use crate::identity::secret;
use crate::server::manage::input::{
    self, Empty, Field, Kind, Schema, dropped, kept, record, request,
};
use crate::server::manage::rows;

/// The key fields the gateway acts on (KeyRecord's).
pub const KEY_FIELDS: &[Field] = &[
    record("key_alias", Kind::Text),
    record("team_id", Kind::Text),
    record("user_id", Kind::Text),
    record("models", Kind::Texts),
    record("metadata", Kind::Object),
    record("tags", Kind::Texts),
    record("max_budget", Kind::Money),
    record("budget_duration", Kind::Period),
    record("rpm_limit", Kind::Count),
    record("tpm_limit", Kind::Count),
    record("max_parallel_requests", Kind::Count),
    record("model_rpm_limit", Kind::CountMap),
    record("model_tpm_limit", Kind::CountMap),
    record("model_max_budget", Kind::BudgetMap),
    record("expires", Kind::Time),
    record("blocked", Kind::Flag),
];

/// LiteLLM key fields kept with the record but not acted on, and `spend`
/// (accepted, dropped: spend is what the gateway records).
pub const KEY_KEPT: &[Field] = &[
    kept("soft_budget", Kind::Money),
    kept("aliases", Kind::Any),
    kept("config", Kind::Any),
    kept("permissions", Kind::Any),
    kept("allowed_cache_controls", Kind::Any),
    kept("guardrails", Kind::Any),
    kept("policies", Kind::Any),
    kept("prompts", Kind::Any),
    kept("object_permission", Kind::Any),
    kept("agent_id", Kind::Any),
    kept("budget_id", Kind::Any),
    kept("enforced_params", Kind::Any),
    kept("allowed_routes", Kind::Any),
    kept("allowed_passthrough_routes", Kind::Any),
    kept("allowed_vector_store_indexes", Kind::Any),
    kept("rpm_limit_type", Kind::Any),
    kept("tpm_limit_type", Kind::Any),
    kept("router_settings", Kind::Any),
    kept("access_group_ids", Kind::Any),
    kept("send_invite_email", Kind::Any),
    kept("key_type", Kind::Any),
    kept("auto_rotate", Kind::Any),
    kept("rotation_interval", Kind::Period),
    kept("organization_id", Kind::Any),
    kept("project_id", Kind::Any),
    dropped("spend", Kind::Money),
];

pub const GENERATE: Schema = Schema {
    endpoint: "POST /key/generate",
    groups: &[
        KEY_FIELDS,
        KEY_KEPT,
        &[
            request("key", Kind::Text),
            request("duration", Kind::Period),
        ],
    ],
};

pub const UPDATE: Schema = Schema {
    endpoint: "POST /key/update",
    groups: &[
        KEY_FIELDS,
        KEY_KEPT,
        &[
            request("key", Kind::Text),
            request("duration", Kind::Period),
            kept("temp_budget_increase", Kind::Money),
            kept("temp_budget_expiry", Kind::Any),
        ],
    ],
};

pub const REGENERATE: Schema = Schema {
    endpoint: "POST /key/regenerate",
    groups: &[
        KEY_FIELDS,
        KEY_KEPT,
        &[
            request("key", Kind::Text),
            request("new_key", Kind::Text),
            request("duration", Kind::Period),
            request("new_master_key", Kind::Any),
            request("grace_period", Kind::Any),
        ],
    ],
};

pub const DELETE: Schema = Schema {
    endpoint: "POST /key/delete",
    groups: &[&[
        request("keys", Kind::Texts),
        request("key_aliases", Kind::Texts),
    ]],
};

pub const BLOCK: Schema = Schema {
    endpoint: "POST /key/block",
    groups: &[&[request("key", Kind::Text)]],
};

pub const UNBLOCK: Schema = Schema {
    endpoint: "POST /key/unblock",
    groups: &[&[request("key", Kind::Text)]],
};

/// The fields a key view always has (LiteLLM shows them as null).
const DEFAULTS: &[(&str, Empty)] = &[
    ("key_name", Empty::Null),
    ("key_alias", Empty::Null),
    ("team_id", Empty::Null),
    ("user_id", Empty::Null),
    ("models", Empty::List),
    ("metadata", Empty::Object),
    ("tags", Empty::List),
    ("max_budget", Empty::Null),
    ("budget_duration", Empty::Null),
    ("rpm_limit", Empty::Null),
    ("tpm_limit", Empty::Null),
    ("max_parallel_requests", Empty::Null),
    ("model_max_budget", Empty::Object),
    ("model_rpm_limit", Empty::Object),
    ("model_tpm_limit", Empty::Object),
    ("expires", Empty::Null),
    ("blocked", Empty::False),
];

/// A key as the API shows it: its record, `token` (the hash), spend and
/// times.
pub fn view(row: &Row) -> Map<String, Value> {
    let mut m = input::with_defaults(rows::view(row), DEFAULTS);
    m.insert("token".into(), Value::String(row.id.clone()));
    m
}

/// The id of a key given as the secret or as its hash: 64 hex characters
/// are taken as the hash (LiteLLM accepts both wherever a key is named).
pub fn key_id(given: &str) -> String {
    if given.len() == 64 && given.bytes().all(|b| b.is_ascii_hexdigit()) {
        given.to_ascii_lowercase()
    } else {
        secret::hash(given)
    }
}

/// How a key is named in logs and messages: its alias, else the hash's
/// first 8 characters.
pub fn label(row: &Row) -> String {
    row.alias
        .clone()
        .unwrap_or_else(|| secret::short(&row.id).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_named_by_its_secret_or_its_hash() {
        let h = secret::hash("sk-abc");
        assert_eq!(key_id("sk-abc"), h);
        assert_eq!(key_id(&h), h);
        assert_eq!(key_id(&h.to_ascii_uppercase()), h);
    }
}
