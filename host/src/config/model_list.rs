//! `model_list`: model groups and their deployments, LiteLLM's format.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value as Json};

use super::error::{ConfigError, KeyPath};
use super::raw::RawEntry;
use super::values::NonNegative;

/// A model group: the `model_name` clients ask for, and its deployments.
#[derive(Debug, Clone)]
pub struct ModelGroup {
    pub name: String,
    pub deployments: Vec<Arc<Deployment>>,
}

/// Prices from `model_info`, in US dollars.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prices {
    pub input_per_token: Option<f64>,
    pub output_per_token: Option<f64>,
    pub cache_read_per_token: Option<f64>,
    pub cache_write_per_token: Option<f64>,
    pub reasoning_per_token: Option<f64>,
    pub per_request: Option<f64>,
    /// Every other price key of `model_info` (long-context tiers such as
    /// `input_cost_per_token_above_200k_tokens`, per-TTL cache writes), as
    /// JSON text, for the cost rules.
    pub extra: Vec<(String, String)>,
}

/// The `model_info` keys [`Prices`] reads into its typed fields.
const TYPED_PRICES: [&str; 7] = [
    "input_cost_per_token",
    "output_cost_per_token",
    "cache_read_input_token_cost",
    "cache_creation_input_token_cost",
    "output_cost_per_reasoning_token",
    "input_cost_per_request",
    "cost_per_request",
];

/// Whether a `model_info` key is a price (LiteLLM names them
/// `*cost_per*` and `*_token_cost*`).
pub fn is_price_key(key: &str) -> bool {
    key.contains("cost_per") || key.contains("_token_cost")
}

/// One deployment: a provider model behind a model group.
#[derive(Debug, Clone)]
pub struct Deployment {
    /// `model_info.id`, else `<group>/<index in the file>`.
    pub id: String,
    /// Position in `model_list`: routers name deployments by it.
    pub index: u32,
    pub group: String,
    /// The provider prefix of `litellm_params.model` (`openai` when absent).
    pub provider: String,
    /// The provider's model name, without the prefix.
    pub model: String,
    pub api_base: Option<String>,
    pub api_key: Option<String>,
    pub api_version: Option<String>,
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    pub timeout: Option<Duration>,
    /// Time to first byte for streams.
    pub stream_timeout: Option<Duration>,
    pub weight: Option<f64>,
    pub order: Option<u32>,
    pub tags: Vec<String>,
    /// Request params merged into each request that does not set them.
    pub defaults: Map<String, Json>,
    /// Other `litellm_params`, passed to the adapter.
    pub params: Map<String, Json>,
    pub prices: Prices,
    pub max_input_tokens: Option<u64>,
    /// `litellm_params.max_budget` over `budget_duration`: spent, the
    /// deployment is left out of routing until its window resets.
    pub budget: Option<switchyard_limits::Budget>,
    /// The model's output limit (`model_info.max_output_tokens`, else
    /// `max_tokens`): what a budget reserves when a request sets none.
    pub max_output_tokens: Option<u64>,
    /// All of `model_info`, for routers and cost rules.
    pub model_info: Map<String, Json>,
}

/// `model_list`, built: every deployment in file order, and the groups.
#[derive(Debug, Clone, Default)]
pub struct ModelList {
    pub deployments: Vec<Arc<Deployment>>,
    pub groups: BTreeMap<String, ModelGroup>,
}

/// Builds `model_list` (found at `at`) into deployments and groups.
pub(crate) fn build(entries: Vec<RawEntry>, at: &KeyPath) -> Result<ModelList, ConfigError> {
    let mut out = ModelList::default();
    let mut ids = BTreeSet::new();
    for (i, entry) in entries.into_iter().enumerate() {
        let at = at.index(i);
        let d = Arc::new(deployment(entry, i, &at)?);
        if !ids.insert(d.id.clone()) {
            return Err(ConfigError::invalid(
                at.key("model_info").key("id"),
                format!("{:?} is used twice", d.id),
            ));
        }
        out.groups
            .entry(d.group.clone())
            .or_insert_with(|| ModelGroup {
                name: d.group.clone(),
                deployments: Vec::new(),
            })
            .deployments
            .push(d.clone());
        out.deployments.push(d);
    }
    Ok(out)
}

fn deployment(entry: RawEntry, index: usize, at: &KeyPath) -> Result<Deployment, ConfigError> {
    let group = entry.model_name.filter(|s| !s.is_empty()).ok_or_else(|| {
        ConfigError::invalid(
            at.key("model_name"),
            "required (the model group name clients use)",
        )
    })?;
    let params = entry.litellm_params.ok_or_else(|| {
        ConfigError::invalid(at.key("litellm_params"), "required (with at least `model`)")
    })?;
    let full_model = params.model.filter(|s| !s.is_empty()).ok_or_else(|| {
        ConfigError::invalid(
            at.key("litellm_params").key("model"),
            "required, as provider/model (for example openai/gpt-4o)",
        )
    })?;
    let (provider, model) = match full_model.split_once('/') {
        Some((prefix, rest)) if !prefix.is_empty() && !rest.is_empty() => {
            (prefix.to_string(), rest.to_string())
        }
        _ => ("openai".to_string(), full_model.clone()),
    };
    let info = entry.model_info.unwrap_or_default();
    let price = |p: Option<NonNegative>| p.map(|p| p.0);
    let prices = Prices {
        input_per_token: price(info.input_cost_per_token),
        output_per_token: price(info.output_cost_per_token),
        cache_read_per_token: price(info.cache_read_input_token_cost),
        cache_write_per_token: price(info.cache_creation_input_token_cost),
        reasoning_per_token: price(info.output_cost_per_reasoning_token),
        per_request: price(info.input_cost_per_request.or(info.cost_per_request)),
        extra: info
            .rest
            .iter()
            .filter(|(k, _)| is_price_key(k) && !TYPED_PRICES.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect(),
    };
    let params_at = at.key("litellm_params");
    let budget = super::money::deployment_budget(
        params.max_budget,
        params.budget_duration.as_ref(),
        &params_at,
    )?;
    let max_output_tokens = info
        .rest
        .get("max_output_tokens")
        .or(info.max_tokens.as_ref())
        .and_then(Json::as_u64);
    let id = match &info.id {
        Some(id) if !id.is_empty() => id.clone(),
        _ => format!("{group}/{index}"),
    };
    Ok(Deployment {
        id,
        index: u32::try_from(index)
            .map_err(|_| ConfigError::invalid(at.clone(), "model_list is too long"))?,
        group,
        provider,
        model,
        api_base: params.api_base,
        api_key: params.api_key,
        api_version: params.api_version,
        rpm: params.rpm.map(|c| c.0),
        tpm: params.tpm.map(|c| c.0),
        timeout: params.timeout.map(|s| s.0),
        stream_timeout: params.stream_timeout.map(|s| s.0),
        weight: params.weight.map(|w| w.0),
        order: params.order.map(|o| u32::try_from(o.0).unwrap_or(u32::MAX)),
        tags: params.tags.unwrap_or_default(),
        defaults: object(&params.defaults),
        params: params.rest,
        prices,
        max_input_tokens: info.max_input_tokens.map(|c| c.0),
        budget,
        max_output_tokens,
        model_info: object(&info),
    })
}

/// A typed section back as a JSON object (its `None` fields left out).
fn object(value: &impl Serialize) -> Map<String, Json> {
    match serde_json::to_value(value) {
        Ok(Json::Object(map)) => map,
        _ => Map::new(),
    }
}
