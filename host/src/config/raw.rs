//! LiteLLM's sections as serde types: one field per key Switchyard acts on,
//! and `unknown` (or `rest`) for every other key. The fields are the one
//! list of what is read; warnings, misplaced keys and errors all follow
//! from them.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use serde_yaml::{Mapping, Value};

use super::cache::RawCacheParams;
use super::money::{RawModelLimit, RawProviderBudget};
use super::observe::RawCallbacks;
use super::values::{
    AliasTarget, Count, Fallbacks, NonNegative, Port, Positive, Seconds, SecondsOrZero,
};

/// The file's sections, each still YAML (each is read on its own, with its
/// own path).
#[derive(Debug, Deserialize)]
#[serde(expecting = "a mapping of sections")]
pub struct RawRoot {
    pub model_list: Option<Value>,
    pub router_settings: Option<Value>,
    pub litellm_settings: Option<Value>,
    pub general_settings: Option<Value>,
    /// Read first, on its own (its values fill references elsewhere); named
    /// here so that it is not taken for an unknown section.
    #[expect(dead_code, reason = "read before the other sections")]
    pub environment_variables: Option<Value>,
    pub plugins: Option<Value>,
    /// Switchyard's rate limits and budgets by a request field.
    pub limits: Option<Value>,
    /// Signed webhooks, by name.
    pub webhooks: Option<Value>,
    #[serde(flatten)]
    pub unknown: BTreeMap<String, Value>,
}

/// `general_settings`.
#[derive(Debug, Default, Deserialize)]
#[serde(expecting = "a mapping")]
pub struct RawGeneral {
    pub master_key: Option<String>,
    pub max_request_size_mb: Option<Positive>,
    pub background_health_checks: Option<bool>,
    pub health_check_interval: Option<Seconds>,
    pub database_url: Option<String>,
    pub disable_spend_logs: Option<bool>,
    /// Not LiteLLM's, but real files carry it: per-model-group limits.
    pub budget_and_rate_limits: Option<Vec<RawModelLimit>>,
    /// `GET /metrics` wants the master key.
    pub metrics_require_auth: Option<bool>,
    #[serde(flatten)]
    pub unknown: BTreeMap<String, Value>,
}

/// `router_settings`, but for the reliability keys it shares with
/// `litellm_settings` ([`RawReliability`]).
#[derive(Debug, Default, Deserialize)]
#[serde(expecting = "a mapping")]
pub struct RawRouter {
    pub routing_strategy: Option<String>,
    pub routing_strategy_args: Option<RawStrategyArgs>,
    pub enable_tag_filtering: Option<bool>,
    pub model_group_alias: Option<BTreeMap<String, AliasTarget>>,
    pub timeout: Option<Seconds>,
    pub stream_timeout: Option<Seconds>,
    pub redis_url: Option<String>,
    pub redis_host: Option<String>,
    pub redis_port: Option<Port>,
    pub redis_password: Option<String>,
    /// A Switchyard extension: the prefix of every Redis key.
    pub redis_key_prefix: Option<String>,
    /// Pre-call checks are always on; the key is accepted, not needed.
    #[expect(dead_code, reason = "pre-call checks are always on")]
    pub enable_pre_call_checks: Option<bool>,
    pub provider_budget_config: Option<BTreeMap<String, RawProviderBudget>>,
    #[serde(flatten)]
    pub unknown: BTreeMap<String, Value>,
}

/// `router_settings.routing_strategy_args`.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a mapping")]
pub struct RawStrategyArgs {
    pub lowest_latency_buffer: Option<NonNegative>,
    pub ttl: Option<Seconds>,
    #[serde(flatten)]
    pub unknown: BTreeMap<String, Value>,
}

/// `litellm_settings`, but for the reliability keys ([`RawReliability`]).
#[derive(Debug, Default, Deserialize)]
#[serde(expecting = "a mapping")]
pub struct RawLitellm {
    pub request_timeout: Option<Seconds>,
    /// Markups and discounts: the `cost-margin` plugin's config.
    pub cost_margin_config: Option<Json>,
    pub cost_discount_config: Option<Json>,
    /// A budget for the whole proxy.
    pub max_budget: Option<NonNegative>,
    pub budget_duration: Option<Value>,
    /// The response cache: `cache: true` with `cache_params`, or the older
    /// `cache_responses: true` with `cache_kwargs`.
    pub cache: Option<bool>,
    pub cache_params: Option<RawCacheParams>,
    pub cache_responses: Option<bool>,
    pub cache_kwargs: Option<RawCacheParams>,
    /// Observability: callback names (`prometheus`, `otel`, webhook
    /// names), JSON logs, whether prompts may be logged.
    pub callbacks: Option<RawCallbacks>,
    pub success_callback: Option<RawCallbacks>,
    pub failure_callback: Option<RawCallbacks>,
    pub json_logs: Option<bool>,
    pub turn_off_message_logging: Option<bool>,
    /// Key alias and end user labels on metrics (LiteLLM's end-user one).
    pub enable_end_user_cost_tracking_prometheus_only: Option<bool>,
    #[serde(flatten)]
    pub unknown: BTreeMap<String, Value>,
}

/// Retries, fallbacks and cooldowns: LiteLLM reads them from
/// `router_settings` and from `litellm_settings`, the first winning.
#[derive(Debug, Default, Deserialize)]
#[serde(expecting = "a mapping")]
pub struct RawReliability {
    pub num_retries: Option<Count<u32>>,
    pub retry_policy: Option<BTreeMap<String, Count<u32>>>,
    pub retry_after: Option<SecondsOrZero>,
    pub allowed_fails: Option<Count<u32>>,
    pub allowed_fails_policy: Option<BTreeMap<String, Count<u32>>>,
    pub cooldown_time: Option<SecondsOrZero>,
    pub disable_cooldowns: Option<bool>,
    pub fallbacks: Option<Fallbacks>,
    pub default_fallbacks: Option<Vec<String>>,
    pub context_window_fallbacks: Option<Fallbacks>,
    pub content_policy_fallbacks: Option<Fallbacks>,
    pub max_fallbacks: Option<Count<u32>>,
    #[serde(flatten)]
    pub unknown: BTreeMap<String, Value>,
}

/// One `model_list` entry.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a mapping")]
pub struct RawEntry {
    pub model_name: Option<String>,
    pub litellm_params: Option<RawParams>,
    pub model_info: Option<RawModelInfo>,
    #[serde(flatten)]
    pub unknown: BTreeMap<String, Value>,
}

/// `litellm_params`: what the host reads, request defaults, and the rest
/// for the provider adapter.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a mapping with at least `model`")]
pub struct RawParams {
    pub model: Option<String>,
    pub api_base: Option<String>,
    pub api_key: Option<String>,
    pub api_version: Option<String>,
    pub rpm: Option<Count>,
    pub tpm: Option<Count>,
    pub timeout: Option<Seconds>,
    pub stream_timeout: Option<Seconds>,
    pub weight: Option<NonNegative>,
    pub order: Option<Count>,
    pub tags: Option<Vec<String>>,
    /// The deployment's own budget.
    pub max_budget: Option<NonNegative>,
    pub budget_duration: Option<Value>,
    #[serde(flatten)]
    pub defaults: RequestDefaults,
    /// Passed to the provider adapter as they are.
    #[serde(flatten)]
    pub rest: Map<String, Json>,
}

/// Request params a deployment may default (LiteLLM merges these into each
/// request that does not set them).
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct RequestDefaults {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logit_bias: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<Json>,
}

/// `model_info`: the fields the host reads, and the rest for routers and
/// cost rules (all of it is kept).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(expecting = "a mapping")]
pub struct RawModelInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `embedding` deployments are health-checked with an embedding call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// The model's own limit, as LiteLLM documents it here; claimed so that
    /// it is not taken for the request default of the same name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_input_tokens: Option<Count>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_cost_per_token: Option<NonNegative>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_cost_per_token: Option<NonNegative>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_read_input_token_cost: Option<NonNegative>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_token_cost: Option<NonNegative>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_cost_per_reasoning_token: Option<NonNegative>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_cost_per_request: Option<NonNegative>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_per_request: Option<NonNegative>,
    #[serde(flatten)]
    pub rest: Map<String, Json>,
}

/// A part of a section: a serde type that knows some keys and collects the
/// others.
pub trait Part: DeserializeOwned {
    /// Whether this part has a field for `key`.
    fn reads(key: &str) -> bool {
        let probe = Mapping::from_iter([(Value::String(key.into()), Value::Null)]);
        serde_yaml::from_value::<Self>(Value::Mapping(probe)).is_ok_and(|p| p.others() == 0)
    }

    /// How many keys it has no field for.
    fn others(&self) -> usize;
}

macro_rules! part {
    ($($t:ty => $others:ident),* $(,)?) => {
        $(impl Part for $t {
            fn others(&self) -> usize {
                self.$others.len()
            }
        })*
    };
}

part!(
    RawRoot => unknown,
    RawGeneral => unknown,
    RawRouter => unknown,
    RawStrategyArgs => unknown,
    RawLitellm => unknown,
    RawReliability => unknown,
    RawEntry => unknown,
    RawParams => rest,
    RawModelInfo => rest,
);
