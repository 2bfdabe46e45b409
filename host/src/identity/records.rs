//! What the management API stores for keys, teams, users and end users, in
//! LiteLLM's field names (so existing scripts and clients work). A record is
//! kept as its JSON body in the database; the gateway's cache reads it back
//! into these types.
//!
//! Every limit-bearing record shares [`Limits`]: LiteLLM gives keys, teams,
//! users and customers the same budget and rate-limit fields.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Budget and rate limits, as every LiteLLM entity spells them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// USD over `budget_duration` (forever without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_budget: Option<f64>,
    /// `30s`, `10m`, `24h`, `30d`, `1mo`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_duration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpm_limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpm_limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_parallel_requests: Option<u64>,
}

impl Limits {
    /// Whether any limit is set.
    pub fn any(&self) -> bool {
        self.max_budget.is_some()
            || self.rpm_limit.is_some()
            || self.tpm_limit.is_some()
            || self.max_parallel_requests.is_some()
    }
}

/// A per-model budget of a key (`model_max_budget`), LiteLLM's shape:
/// `{"gpt-4o": {"budget_limit": 10, "time_period": "30d"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelBudget {
    pub budget_limit: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_period: Option<String>,
}

/// A virtual key. The key itself is never stored: its SHA-256 is the id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// The key's first hash, kept through `/key/regenerate`: what its
    /// limits and budgets are counted under, so a new secret does not
    /// reset them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// `sk-...wxyz`: how the key is shown after generation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_alias: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Model groups (or aliases) the key may call; empty means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(flatten)]
    pub limits: Limits,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub model_rpm_limit: BTreeMap<String, u64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub model_tpm_limit: BTreeMap<String, u64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub model_max_budget: BTreeMap<String, ModelBudget>,
    /// RFC 3339; the key is refused from then on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    #[serde(default)]
    pub blocked: bool,
    /// LiteLLM fields the gateway keeps but does not act on
    /// (`soft_budget`, `aliases`, `permissions`, ...).
    #[serde(flatten)]
    pub kept: Map<String, Value>,
}

/// A team: keys belong to it, and its limits and metadata apply to them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TeamRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_alias: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(flatten)]
    pub limits: Limits,
    #[serde(default)]
    pub blocked: bool,
    #[serde(flatten)]
    pub kept: Map<String, Value>,
}

/// An internal user (who keys are issued to).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_email: Option<String>,
    /// `proxy_admin` may use the management API with its own keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_role: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
    #[serde(flatten)]
    pub limits: Limits,
    #[serde(flatten)]
    pub kept: Map<String, Value>,
}

/// An end user: the request's `user` field (LiteLLM's "customer").
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EndUserRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    #[serde(default)]
    pub blocked: bool,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
    #[serde(flatten)]
    pub limits: Limits,
    #[serde(flatten)]
    pub kept: Map<String, Value>,
}

/// The role whose keys may use the management API.
pub const ADMIN_ROLE: &str = "proxy_admin";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_key_reads_litellm_fields_and_keeps_the_rest() {
        let k: KeyRecord = serde_json::from_value(json!({
            "key_alias": "a", "team_id": "t", "models": ["gpt-4o"],
            "max_budget": 10.0, "budget_duration": "30d", "rpm_limit": 5,
            "model_max_budget": {"gpt-4o": {"budget_limit": 1.5, "time_period": "1d"}},
            "soft_budget": 5
        }))
        .unwrap();
        assert_eq!(k.limits.max_budget, Some(10.0));
        assert_eq!(k.limits.rpm_limit, Some(5));
        assert_eq!(k.model_max_budget["gpt-4o"].budget_limit, 1.5);
        assert_eq!(k.kept.get("soft_budget"), Some(&json!(5)));
        let back = serde_json::to_value(&k).unwrap();
        assert_eq!(back["soft_budget"], json!(5));
        assert_eq!(back["budget_duration"], json!("30d"));
    }
}
