//! The cases file of `switchyard plugin test` (see
//! `docs/plugin-testing.md`): the file, its cases, and each kind's input as
//! the plugin's typed input.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};
use switchyard_sdk::openai::{ChatMessage, ChatRequest};

use crate::gateway::views;
use crate::identity::CallerParts;
use crate::plugins::bindings::cost_api::CostInput;
use crate::plugins::bindings::provider_api::{BuildInput, Header, HttpResponse, Operation, Target};
use crate::plugins::bindings::router_api::{Candidate, Deployment, Health, RouteRequest};
use crate::plugins::bindings::sanitizer_api::{SanitizeInput, Stage, StreamWindow};
use crate::plugins::bindings::types::{Caller, Prices, Usage};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    /// The name `describe` must return, if given.
    pub plugin: Option<String>,
    /// Config for every case unless a case overrides it.
    pub config: Option<Value>,
    pub cases: Vec<Case>,
}

/// One case.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    pub config: Option<Value>,
    pub call: Option<String>,
    #[serde(default)]
    pub input: Value,
    pub expect: Option<Value>,
    pub error: Option<Value>,
}

/// The outcome of one case.
#[derive(Debug)]
pub struct CaseResult {
    pub name: String,
    pub failure: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct CallerCase {
    key_alias: Option<String>,
    user: Option<String>,
    team: Option<String>,
    tags: Vec<String>,
    tier: Option<String>,
    metadata: Map<String, Value>,
}

impl CallerCase {
    /// The caller as the gateway would build it for `request`: the case's
    /// `caller` stands for what the key, team and user hold, and the
    /// request's own `user` and `metadata` are merged over it by the same
    /// conversion `serve` uses, so `metadata.customer_tier` in a case's
    /// request reaches the plugin as the tier, as it does in the gateway. A
    /// `tier` given in the case wins.
    pub(super) fn into_wit(self, request: Option<&ChatRequest>) -> Caller {
        let parts = CallerParts {
            key_alias: self.key_alias,
            user: self.user,
            team: self.team,
            tags: self.tags,
            metadata: self.metadata,
        };
        let mut caller = parts.caller(
            request.and_then(|r| r.user.clone()),
            request.and_then(|r| r.metadata.as_ref()),
        );
        if self.tier.is_some() {
            caller.tier = self.tier;
        }
        caller
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct PricesCase {
    input_per_token: Option<f64>,
    output_per_token: Option<f64>,
    cache_read_per_token: Option<f64>,
    cache_write_per_token: Option<f64>,
    reasoning_per_token: Option<f64>,
    per_request: Option<f64>,
    extra: Map<String, Value>,
}

impl PricesCase {
    pub(super) fn into_wit(self) -> Prices {
        Prices {
            input_per_token: self.input_per_token,
            output_per_token: self.output_per_token,
            cache_read_per_token: self.cache_read_per_token,
            cache_write_per_token: self.cache_write_per_token,
            reasoning_per_token: self.reasoning_per_token,
            per_request: self.per_request,
            extra: views::fields_from_map(&self.extra),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum HealthCase {
    Healthy,
    CoolingDown(u64),
    Unhealthy(String),
    Other(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DeploymentCase {
    id: String,
    model_group: Option<String>,
    provider: Option<String>,
    model: Option<String>,
    health: Option<HealthCase>,
    #[serde(default)]
    in_flight: u32,
    latency_avg_ms: Option<f64>,
    ttft_avg_ms: Option<f64>,
    #[serde(default)]
    rpm_used: u64,
    rpm_limit: Option<u64>,
    #[serde(default)]
    tpm_used: u64,
    tpm_limit: Option<u64>,
    #[serde(default)]
    prices: PricesCase,
    context_window: Option<u64>,
    #[serde(default)]
    tags: Vec<String>,
    weight: Option<f64>,
    order: Option<u32>,
    #[serde(default)]
    extra: Map<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RouteCase {
    request: ChatRequest,
    #[serde(default)]
    caller: CallerCase,
    #[serde(default)]
    candidates: Vec<DeploymentCase>,
    /// Deployments of other model groups: in the router's table, not
    /// candidates of this request.
    #[serde(default)]
    others: Vec<DeploymentCase>,
    estimated_input_tokens: Option<u64>,
    #[serde(default)]
    seed: u64,
    #[serde(default)]
    now_ms: u64,
}

impl DeploymentCase {
    /// The case's static part, as a router's table holds it.
    fn into_table_entry(self, default_group: &str) -> Deployment {
        Deployment {
            model_group: self
                .model_group
                .unwrap_or_else(|| default_group.to_string()),
            provider: self.provider.unwrap_or_else(|| "openai".into()),
            model: self.model.unwrap_or_else(|| self.id.clone()),
            id: self.id,
            rpm_limit: self.rpm_limit,
            tpm_limit: self.tpm_limit,
            prices: self.prices.into_wit(),
            context_window: self.context_window,
            tags: self.tags,
            weight: self.weight,
            order: self.order,
            extra: views::fields_from_map(&self.extra),
        }
    }
}

impl RouteCase {
    /// The deployment table (every candidate, in the case's order) and the
    /// request whose candidates point into it.
    pub(super) fn into_wit(self) -> (Vec<Deployment>, RouteRequest) {
        let request = views::chat_request_view(&self.request);
        let group = self.request.model.clone();
        let mut table = Vec::with_capacity(self.candidates.len());
        let mut candidates = Vec::with_capacity(self.candidates.len());
        for (i, d) in self.candidates.into_iter().enumerate() {
            candidates.push(Candidate {
                deployment: i as u32,
                health: match d.health.clone().unwrap_or(HealthCase::Healthy) {
                    HealthCase::Healthy => Health::Healthy,
                    HealthCase::CoolingDown(ms) => Health::CoolingDown(ms),
                    HealthCase::Unhealthy(e) => Health::Unhealthy(e),
                    HealthCase::Other(s) => Health::Other(s),
                },
                in_flight: d.in_flight,
                latency_avg_ms: d.latency_avg_ms,
                ttft_avg_ms: d.ttft_avg_ms,
                rpm_used: d.rpm_used,
                tpm_used: d.tpm_used,
            });
            table.push(d.into_table_entry(&group));
        }
        // Deployments of other groups (for routers that pick a group), not
        // candidates of this request.
        for (i, d) in self.others.into_iter().enumerate() {
            table.push(d.into_table_entry(&format!("group-{i}")));
        }
        let estimated = self
            .estimated_input_tokens
            .unwrap_or_else(|| views::estimate_tokens(&request));
        let request = RouteRequest {
            request,
            caller: self.caller.into_wit(Some(&self.request)),
            candidates,
            estimated_input_tokens: estimated,
            seed: self.seed,
            now_ms: self.now_ms,
        };
        (table, request)
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum StageCase {
    Request,
    Response,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SanitizeCase {
    stage: Option<StageCase>,
    request: ChatRequest,
    #[serde(default)]
    caller: CallerCase,
    #[serde(default)]
    response: Vec<ChatMessage>,
    /// A streamed answer's window (response stage).
    window: Option<WindowCase>,
    finish_reason: Option<String>,
    /// The target group's smallest context window.
    context_window: Option<u64>,
    /// The host's estimate of the prompt's tokens (default: the host's own
    /// estimate of `request`).
    estimated_input_tokens: Option<u64>,
}

/// Where a window of a streamed answer sits (`sanitizer.stream-window`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WindowCase {
    #[serde(default)]
    choice: u32,
    #[serde(default)]
    released: u64,
    #[serde(default)]
    overlap: u32,
    #[serde(default)]
    last: bool,
}

impl SanitizeCase {
    pub(super) fn into_wit(self) -> SanitizeInput {
        SanitizeInput {
            stage: match self.stage.unwrap_or(StageCase::Request) {
                StageCase::Request => Stage::Request,
                StageCase::Response => Stage::Response,
            },
            request: views::chat_request_view(&self.request),
            caller: self.caller.into_wit(Some(&self.request)),
            response: self.response.iter().map(views::message_view).collect(),
            window: self.window.map(|w| StreamWindow {
                choice: w.choice,
                released: w.released,
                overlap: w.overlap,
                last: w.last,
            }),
            finish_reason: self.finish_reason,
            context_window: self.context_window,
            estimated_input_tokens: self.estimated_input_tokens.unwrap_or_else(|| {
                views::estimate_tokens(&views::chat_request_view(&self.request))
            }),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct UsageCase {
    input_tokens: u64,
    output_tokens: u64,
    cache_read_tokens: u64,
    cache_write_tokens: u64,
    reasoning_tokens: u64,
    extra: Map<String, Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct CostCase {
    model_group: String,
    deployment_id: String,
    provider: String,
    model: String,
    prices: PricesCase,
    usage: UsageCase,
    caller: CallerCase,
    previous: Option<f64>,
    extra: Map<String, Value>,
}

impl CostCase {
    pub(super) fn into_wit(self) -> CostInput {
        CostInput {
            model_group: self.model_group,
            deployment_id: self.deployment_id,
            provider: self.provider,
            model: self.model,
            prices: self.prices.into_wit(),
            usage: Usage {
                input_tokens: self.usage.input_tokens,
                output_tokens: self.usage.output_tokens,
                cache_read_tokens: self.usage.cache_read_tokens,
                cache_write_tokens: self.usage.cache_write_tokens,
                reasoning_tokens: self.usage.reasoning_tokens,
                extra: views::fields_from_map(&self.usage.extra),
            },
            caller: self.caller.into_wit(None),
            previous: self.previous,
            extra: views::fields_from_map(&self.extra),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum OperationCase {
    Chat,
    Embeddings,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TargetCase {
    provider: String,
    model: String,
    api_base: Option<String>,
    api_key: Option<String>,
    api_version: Option<String>,
    #[serde(default)]
    params: Map<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ResponseCase {
    status: u16,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: Value,
}

impl ResponseCase {
    pub(super) fn to_wit(&self) -> HttpResponse {
        HttpResponse {
            status: self.status,
            headers: self
                .headers
                .iter()
                .map(|(k, v)| Header {
                    name: k.clone(),
                    value: v.clone(),
                })
                .collect(),
            body: match &self.body {
                Value::String(s) => s.as_bytes().to_vec(),
                other => other.to_string().into_bytes(),
            },
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EventCase {
    pub(super) event: Option<String>,
    pub(super) data: String,
    pub(super) id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ProviderCase {
    pub(super) operation: Option<OperationCase>,
    pub(super) body: Value,
    pub(super) target: TargetCase,
    pub(super) response: Option<ResponseCase>,
    pub(super) events: Option<Vec<EventCase>>,
    pub(super) sse: Option<String>,
    pub(super) bytes: Option<Vec<String>>,
}

impl ProviderCase {
    pub(super) fn build_input(&self) -> BuildInput {
        BuildInput {
            operation: match self.operation {
                None | Some(OperationCase::Chat) => Operation::Chat,
                Some(OperationCase::Embeddings) => Operation::Embeddings,
            },
            body: self.body.to_string(),
            target: Target {
                provider: self.target.provider.clone(),
                model: self.target.model.clone(),
                api_base: self.target.api_base.clone(),
                api_key: self.target.api_key.clone(),
                api_version: self.target.api_version.clone(),
                params: views::fields_from_map(&self.target.params),
            },
        }
    }
}
