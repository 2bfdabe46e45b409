//! `model_list`: model groups and their deployments, LiteLLM's format.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value as Json};
use serde_yaml::Value;

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
    /// All of `model_info`, for routers and cost rules.
    pub model_info: Map<String, Json>,
}

/// Request params a deployment may default (LiteLLM merges these).
const REQUEST_DEFAULTS: &[&str] = &[
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "stop",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "response_format",
    "n",
    "logit_bias",
    "reasoning_effort",
];

/// `litellm_params` the host itself reads.
const HOST_PARAMS: &[&str] = &[
    "model",
    "api_key",
    "api_base",
    "api_version",
    "rpm",
    "tpm",
    "timeout",
    "stream_timeout",
    "weight",
    "order",
    "tags",
];

const ENTRY: &[&str] = &["model_name", "litellm_params", "model_info"];

/// `model_list`, parsed: every deployment in file order, and the groups.
#[derive(Debug, Clone, Default)]
pub struct ModelList {
    pub deployments: Vec<Arc<Deployment>>,
    pub groups: BTreeMap<String, ModelGroup>,
}

/// Parses `model_list` into deployments and groups.
pub fn parse(list: &Value, warnings: &mut Vec<String>) -> Result<ModelList, String> {
    let items = list
        .as_sequence()
        .ok_or("model_list: expected a list of deployments")?;
    let mut out = ModelList::default();
    let mut ids = std::collections::BTreeSet::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("model_list[{i}]");
        let d = Arc::new(deployment(item, &at, i, warnings)?);
        if !ids.insert(d.id.clone()) {
            return Err(format!("{at}.model_info.id: {:?} is used twice", d.id));
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

fn deployment(
    item: &Value,
    at: &str,
    index: usize,
    warnings: &mut Vec<String>,
) -> Result<Deployment, String> {
    let map = item
        .as_mapping()
        .ok_or(format!("{at}: expected a mapping"))?;
    super::warn_unknown(map, &format!("{at}."), ENTRY, warnings);
    let group = match map.get("model_name") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => {
            return Err(format!(
                "{at}.model_name: required (the model group name clients use)"
            ));
        }
    };
    let params: Map<String, Json> = match map.get("litellm_params") {
        Some(v @ Value::Mapping(_)) => {
            serde_yaml::from_value(v.clone()).map_err(|e| format!("{at}.litellm_params: {e}"))?
        }
        _ => {
            return Err(format!(
                "{at}.litellm_params: required (with at least `model`)"
            ));
        }
    };
    let info: Map<String, Json> = match map.get("model_info") {
        None | Some(Value::Null) => Map::new(),
        Some(v) => {
            serde_yaml::from_value(v.clone()).map_err(|e| format!("{at}.model_info: {e}"))?
        }
    };
    let p = |k: &str| format!("{at}.litellm_params.{k}");
    let full_model = match params.get("model") {
        Some(Json::String(s)) if !s.is_empty() => s.clone(),
        _ => {
            return Err(format!(
                "{}: required, as provider/model (for example openai/gpt-4o)",
                p("model")
            ));
        }
    };
    let (provider, model) = match full_model.split_once('/') {
        Some((prefix, rest)) if !prefix.is_empty() && !rest.is_empty() => {
            (prefix.to_string(), rest.to_string())
        }
        _ => ("openai".to_string(), full_model.clone()),
    };
    let string = |k: &str| -> Result<Option<String>, String> {
        match params.get(k) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("{}: expected a string", p(k))),
        }
    };
    let count = |k: &str| -> Result<Option<u64>, String> {
        match params.get(k) {
            None | Some(Json::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .or_else(|| {
                    v.as_f64()
                        .filter(|f| *f >= 0.0 && f.fract() == 0.0)
                        .map(|f| f as u64)
                })
                .map(Some)
                .ok_or(format!("{}: expected a whole number, got {v}", p(k))),
        }
    };
    let secs = |k: &str| -> Result<Option<Duration>, String> {
        match params.get(k) {
            None | Some(Json::Null) => Ok(None),
            Some(v) => v
                .as_f64()
                .filter(|s| *s > 0.0)
                .and_then(|s| Duration::try_from_secs_f64(s).ok())
                .map(Some)
                .ok_or(format!(
                    "{}: expected seconds (a positive number), got {v}",
                    p(k)
                )),
        }
    };
    let weight = match params.get("weight") {
        None | Some(Json::Null) => None,
        Some(v) => Some(
            v.as_f64()
                .filter(|w| w.is_finite() && *w >= 0.0)
                .ok_or(format!(
                    "{}: expected a non-negative number, got {v}",
                    p("weight")
                ))?,
        ),
    };
    let tags = match params.get("tags") {
        None | Some(Json::Null) => Vec::new(),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|_| format!("{}: expected a list of strings", p("tags")))?,
    };
    let price = |keys: &[&str]| -> Result<Option<f64>, String> {
        for k in keys {
            if let Some(v) = info.get(*k).filter(|v| !v.is_null()) {
                return v
                    .as_f64()
                    .filter(|x| x.is_finite() && *x >= 0.0)
                    .map(Some)
                    .ok_or(format!(
                        "{at}.model_info.{k}: expected a non-negative number, got {v}"
                    ));
            }
        }
        Ok(None)
    };
    let prices = Prices {
        input_per_token: price(&["input_cost_per_token"])?,
        output_per_token: price(&["output_cost_per_token"])?,
        cache_read_per_token: price(&["cache_read_input_token_cost"])?,
        cache_write_per_token: price(&["cache_creation_input_token_cost"])?,
        reasoning_per_token: price(&["output_cost_per_reasoning_token"])?,
        per_request: price(&["input_cost_per_request", "cost_per_request"])?,
    };
    let max_input_tokens = match info.get("max_input_tokens").filter(|v| !v.is_null()) {
        None => None,
        Some(v) => Some(v.as_u64().ok_or(format!(
            "{at}.model_info.max_input_tokens: expected a whole number, got {v}"
        ))?),
    };
    let id = match info.get("id") {
        Some(Json::String(s)) if !s.is_empty() => s.clone(),
        Some(Json::Number(n)) => n.to_string(),
        _ => format!("{group}/{index}"),
    };
    let mut defaults = Map::new();
    let mut rest = Map::new();
    for (k, v) in &params {
        if REQUEST_DEFAULTS.contains(&k.as_str()) {
            defaults.insert(k.clone(), v.clone());
        } else if !HOST_PARAMS.contains(&k.as_str()) {
            rest.insert(k.clone(), v.clone());
        }
    }
    Ok(Deployment {
        id,
        index: u32::try_from(index).map_err(|_| format!("{at}: model_list is too long"))?,
        group,
        provider,
        model,
        api_base: string("api_base")?,
        api_key: string("api_key")?,
        api_version: string("api_version")?,
        rpm: count("rpm")?,
        tpm: count("tpm")?,
        timeout: secs("timeout")?,
        stream_timeout: secs("stream_timeout")?,
        weight,
        order: count("order")?.map(|o| o.min(u32::MAX as u64) as u32),
        tags,
        defaults,
        params: rest,
        prices,
        max_input_tokens,
        model_info: info,
    })
}
