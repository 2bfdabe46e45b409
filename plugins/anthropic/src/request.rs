//! `build-request`: an OpenAI chat completion request becomes a Messages API
//! request, `POST {api_base}/v1/messages` with `x-api-key`,
//! `anthropic-version` and `content-type` headers.
//!
//! Field by field:
//!
//! | OpenAI | Anthropic |
//! | --- | --- |
//! | `model` | the deployment's model (`target.model`) |
//! | `messages` | `system` + `messages`, see [`crate::request::messages`] |
//! | `max_tokens`, else `max_completion_tokens`, else config `default_max_tokens` (4096) | `max_tokens` (required by Anthropic) |
//! | `stop` (a string or a list) | `stop_sequences` (a list) |
//! | `temperature`, `top_p` | the same (Anthropic's `temperature` range is 0..1; a larger value is the provider's error to report) |
//! | `user` | `metadata.user_id` |
//! | `stream: true` | `stream: true` |
//! | `tools` (function tools) | `tools` `{name, description, input_schema}`; other tool types (Anthropic's own, such as `web_search_20250305`) pass through as given |
//! | `tool_choice` `auto` / `none` / `required` / `{function: {name}}` | `{type: auto}` / `{type: none}` / `{type: any}` / `{type: tool, name}` |
//! | `parallel_tool_calls: false` | `tool_choice.disable_parallel_tool_use: true` |
//! | `top_k`, `thinking` (Anthropic's own, sent by clients that know them) | the same |
//! | `n` | nothing when 1 or absent; anything else is an `invalid-input` error (Anthropic answers one choice) |
//! | `functions`, `function_call` (deprecated) | an `invalid-input` error: use `tools` |
//!
//! `tool_choice` and `parallel_tool_calls` are only sent with tools.
//!
//! Dropped, because the Messages API has no equivalent: `frequency_penalty`,
//! `presence_penalty`, `logit_bias`, `logprobs`, `top_logprobs`, `seed`,
//! `response_format` (`json_object` and `json_schema` alike: left out, not an
//! error), `stream_options` (the host adds the usage chunk), `store`,
//! `metadata` (only `user` becomes `metadata.user_id`), `modalities`,
//! `audio`, `prediction`, `service_tier` (its values differ from
//! Anthropic's), `reasoning_effort`, `verbosity`, `web_search_options`,
//! `prompt_cache_key`, `safety_identifier`, and any field this table does not
//! name. Messages lose `name` (Anthropic has no participant names).
//!
//! Deployment params read here: `extra_headers` (an object of strings, added
//! to the request's headers, for example `anthropic-beta`).

pub mod messages;
pub mod tools;

use serde_json::{Map, Value, json};
use switchyard_sdk::adapter;
use switchyard_sdk::openai::ChatRequest;
use switchyard_sdk::provider::{
    BuildInput, Framing, Header, HttpRequest, Operation, Outbound, Target,
};
use switchyard_sdk::types::PluginError;

use crate::config::{Config, DEFAULT_API_BASE};

/// OpenAI request fields that are dropped (see the module docs).
pub const DROPPED_FIELDS: &[&str] = &[
    "frequency_penalty",
    "presence_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "seed",
    "response_format",
    "stream_options",
    "store",
    "metadata",
    "modalities",
    "audio",
    "prediction",
    "service_tier",
    "reasoning_effort",
    "verbosity",
    "web_search_options",
    "prompt_cache_key",
    "safety_identifier",
];

/// Request fields copied as they are when present and not null.
const PASSED_THROUGH: &[&str] = &["temperature", "top_p", "top_k", "thinking"];

pub(crate) fn invalid(message: impl Into<String>) -> PluginError {
    PluginError::InvalidInput(message.into())
}

pub fn build_request(input: &BuildInput, config: &Config) -> Result<Outbound, PluginError> {
    match &input.operation {
        Operation::Chat => {}
        Operation::Embeddings => return Err(invalid("anthropic does not offer embeddings")),
        Operation::Other(name) => return Err(adapter::unsupported("anthropic", name, "chat")),
    }
    let request: ChatRequest = serde_json::from_str(&input.body).map_err(|e| {
        invalid(format!(
            "the request body is not an OpenAI chat completion request: {e}"
        ))
    })?;
    let body = translate(&request, &input.target.model, config)?;
    let body = serde_json::to_vec(&body)
        .map_err(|e| PluginError::Internal(format!("cannot serialise the request body: {e}")))?;
    Ok(Outbound::Send(HttpRequest {
        method: "POST".to_string(),
        url: url(&input.target, config),
        headers: headers(&input.target, config)?,
        body,
        framing: Framing::Sse,
    }))
}

/// The Messages API body for an OpenAI request.
pub fn translate(
    request: &ChatRequest,
    model: &str,
    config: &Config,
) -> Result<Value, PluginError> {
    let rest = &request.rest;
    let given = |key: &str| rest.get(key).filter(|v| !v.is_null());
    check_n(given("n"))?;
    for legacy in ["functions", "function_call"] {
        if given(legacy).is_some() {
            return Err(invalid(format!(
                "`{legacy}` (deprecated function calling) is not supported by the anthropic adapter; use `tools` and `tool_choice`"
            )));
        }
    }

    let mut out = Map::new();
    out.insert("model".into(), json!(model));
    let converted = messages::convert(&request.messages)?;
    if let Some(system) = converted.system {
        out.insert("system".into(), system);
    }
    out.insert("messages".into(), Value::Array(converted.messages));
    let max_tokens = request
        .max_tokens
        .or(request.max_completion_tokens)
        .unwrap_or(config.default_max_tokens);
    out.insert("max_tokens".into(), json!(max_tokens));
    if let Some(stop) = stop_sequences(given("stop"))? {
        out.insert("stop_sequences".into(), stop);
    }
    for key in PASSED_THROUGH {
        if let Some(v) = given(key) {
            out.insert((*key).into(), v.clone());
        }
    }
    if let Some(user) = request.user.as_deref().filter(|u| !u.is_empty()) {
        out.insert("metadata".into(), json!({ "user_id": user }));
    }
    if let Some(list) = request.tools.as_deref().filter(|t| !t.is_empty()) {
        out.insert("tools".into(), Value::Array(tools::tools(list)?));
        if let Some(choice) =
            tools::tool_choice(given("tool_choice"), given("parallel_tool_calls"))?
        {
            out.insert("tool_choice".into(), choice);
        }
    }
    if request.stream == Some(true) {
        out.insert("stream".into(), Value::Bool(true));
    }
    Ok(Value::Object(out))
}

fn check_n(n: Option<&Value>) -> Result<(), PluginError> {
    match n {
        None => Ok(()),
        Some(v) if v.as_u64() == Some(1) => Ok(()),
        Some(v) => Err(invalid(format!(
            "anthropic answers with one choice per request: n must be 1, got {v}"
        ))),
    }
}

/// `stop` as a list of strings; `None` when there is none.
fn stop_sequences(stop: Option<&Value>) -> Result<Option<Value>, PluginError> {
    let list = match stop {
        None => return Ok(None),
        Some(Value::String(s)) => vec![Value::String(s.clone())],
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => items.clone(),
        Some(other) => {
            return Err(invalid(format!(
                "`stop` must be a string or a list of strings, got {other}"
            )));
        }
    };
    Ok((!list.is_empty()).then_some(Value::Array(list)))
}

/// `{api_base}/v1/messages`. The base is the deployment's `api_base`, else
/// the config's, else Anthropic's; a base that already ends in `/v1` or
/// `/v1/messages` is completed rather than doubled.
pub fn url(target: &Target, config: &Config) -> String {
    let base = adapter::api_base(target, config.api_base.as_deref()).unwrap_or(DEFAULT_API_BASE);
    if base.ends_with("/v1/messages") {
        base.to_string()
    } else if base.ends_with("/v1") {
        format!("{base}/messages")
    } else {
        format!("{base}/v1/messages")
    }
}

fn header(name: &str, value: &str) -> Header {
    Header {
        name: name.to_string(),
        value: value.to_string(),
    }
}

fn headers(target: &Target, config: &Config) -> Result<Vec<Header>, PluginError> {
    let version = target
        .api_version
        .as_deref()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or(&config.anthropic_version);
    let mut headers = vec![
        header("content-type", "application/json"),
        header("anthropic-version", version),
    ];
    if let Some(key) = target.api_key.as_deref().filter(|k| !k.is_empty()) {
        headers.push(header("x-api-key", key));
    }
    headers.extend(adapter::extra_headers(target)?);
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{chat_input, target};
    use switchyard_sdk::types::Field;

    fn send(input: &BuildInput) -> HttpRequest {
        match build_request(input, &Config::default()).unwrap() {
            Outbound::Send(r) => r,
            Outbound::Respond(r) => panic!("unexpected respond {r:?}"),
        }
    }

    fn body_of(body: Value) -> Value {
        serde_json::from_slice(&send(&chat_input(body)).body).unwrap()
    }

    fn header_of<'a>(r: &'a HttpRequest, name: &str) -> Option<&'a str> {
        r.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    fn err(body: Value) -> String {
        match build_request(&chat_input(body), &Config::default()) {
            Err(PluginError::InvalidInput(m)) => m,
            other => panic!("expected invalid input, got {other:?}"),
        }
    }

    #[test]
    fn simple_chat() {
        let r = send(&chat_input(
            json!({"model": "group", "messages": [{"role": "user", "content": "Hello"}]}),
        ));
        assert_eq!(r.method, "POST");
        assert_eq!(r.url, "https://api.anthropic.com/v1/messages");
        assert_eq!(r.framing, Framing::Sse);
        assert_eq!(header_of(&r, "x-api-key"), Some("sk-ant-test"));
        assert_eq!(header_of(&r, "anthropic-version"), Some("2023-06-01"));
        assert_eq!(header_of(&r, "content-type"), Some("application/json"));
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            body,
            json!({
                "model": "claude-sonnet-4-20250514",
                "max_tokens": 4096,
                "messages": [{"role": "user", "content": "Hello"}]
            })
        );
    }

    #[test]
    fn scalar_fields() {
        let body = body_of(json!({
            "model": "g", "messages": [{"role": "user", "content": "hi"}],
            "max_completion_tokens": 300, "stop": "END", "temperature": 0.3, "top_p": 0.9,
            "top_k": 5, "user": "user-42", "stream": true, "stream_options": {"include_usage": true},
            "n": 1, "seed": 7, "presence_penalty": 0.1, "frequency_penalty": 0.2,
            "logit_bias": {"1": 2}, "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}},
            "metadata": {"a": "b"}, "reasoning_effort": "low", "x_unknown": 1
        }));
        assert_eq!(
            body,
            json!({
                "model": "claude-sonnet-4-20250514",
                "messages": [{"role": "user", "content": "hi"}],
                "max_tokens": 300, "stop_sequences": ["END"], "temperature": 0.3, "top_p": 0.9,
                "top_k": 5, "metadata": {"user_id": "user-42"}, "stream": true
            })
        );
        let body = body_of(json!({
            "model": "g", "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 10, "max_completion_tokens": 20, "stop": ["a", "b"], "stream": false,
            "temperature": null, "user": ""
        }));
        assert_eq!(body["max_tokens"], 10);
        assert_eq!(body["stop_sequences"], json!(["a", "b"]));
        for key in ["stream", "temperature", "metadata"] {
            assert!(body.get(key).is_none(), "{key}");
        }
        let body = body_of(
            json!({"model": "g", "messages": [{"role": "user", "content": "hi"}], "stop": []}),
        );
        assert!(body.get("stop_sequences").is_none());
    }

    #[test]
    fn dropped_fields_are_dropped() {
        let mut request = json!({"model": "g", "messages": [{"role": "user", "content": "hi"}]});
        for f in DROPPED_FIELDS {
            request[*f] = json!({"type": "text"});
        }
        let body = body_of(request);
        for f in DROPPED_FIELDS {
            assert!(body.get(*f).is_none(), "{f}");
        }
    }

    #[test]
    fn rejections() {
        let base = |extra: Value| {
            let mut b = json!({"model": "g", "messages": [{"role": "user", "content": "hi"}]});
            for (k, v) in extra.as_object().unwrap() {
                b[k] = v.clone();
            }
            b
        };
        assert!(err(base(json!({"n": 2}))).contains("n must be 1"));
        assert!(err(base(json!({"n": 0}))).contains("n must be 1"));
        assert!(err(base(json!({"stop": 3}))).contains("stop"));
        assert!(err(base(json!({"stop": ["a", 1]}))).contains("stop"));
        assert!(err(base(json!({"functions": [{"name": "f"}]}))).contains("functions"));
        assert!(err(json!({"messages": []})).contains("not an OpenAI chat completion request"));
        let mut input = chat_input(json!({}));
        input.body = "{nope".into();
        assert!(build_request(&input, &Config::default()).is_err());
    }

    #[test]
    fn operations() {
        let mut input = chat_input(json!({"model": "m", "input": "hi"}));
        input.operation = Operation::Embeddings;
        assert_eq!(
            build_request(&input, &Config::default()),
            Err(PluginError::InvalidInput(
                "anthropic does not offer embeddings".into()
            ))
        );
        input.operation = Operation::Other("images".into());
        assert!(
            matches!(build_request(&input, &Config::default()), Err(PluginError::InvalidInput(m)) if m.contains("images"))
        );
    }

    #[test]
    fn urls() {
        let c = Config::default();
        let mut t = target("m");
        assert_eq!(url(&t, &c), "https://api.anthropic.com/v1/messages");
        for (base, want) in [
            ("http://mock:9000", "http://mock:9000/v1/messages"),
            ("http://mock:9000/", "http://mock:9000/v1/messages"),
            ("http://mock:9000/v1", "http://mock:9000/v1/messages"),
            (
                "http://mock:9000/v1/messages",
                "http://mock:9000/v1/messages",
            ),
            (
                "https://gw.example.com/anthropic",
                "https://gw.example.com/anthropic/v1/messages",
            ),
        ] {
            t.api_base = Some(base.into());
            assert_eq!(url(&t, &c), want, "{base}");
        }
        let c = Config {
            api_base: Some("http://config:1".into()),
            ..Config::default()
        };
        t.api_base = Some(" ".into());
        assert_eq!(url(&t, &c), "http://config:1/v1/messages");
        t.api_base = Some("http://deployment:2".into());
        assert_eq!(url(&t, &c), "http://deployment:2/v1/messages");
    }

    #[test]
    fn headers_from_target_and_params() {
        let mut input =
            chat_input(json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}));
        input.target.api_key = None;
        input.target.api_version = Some("2099-01-01".into());
        input.target.params = vec![Field {
            key: "extra_headers".into(),
            value: r#"{"anthropic-beta":"prompt-caching-2024-07-31"}"#.into(),
        }];
        let r = send(&input);
        assert_eq!(header_of(&r, "x-api-key"), None);
        assert_eq!(header_of(&r, "anthropic-version"), Some("2099-01-01"));
        assert_eq!(
            header_of(&r, "anthropic-beta"),
            Some("prompt-caching-2024-07-31")
        );
        input.target.params[0].value = r#"{"x":1}"#.into();
        assert!(build_request(&input, &Config::default()).is_err());
    }
}
