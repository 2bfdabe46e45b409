//! Parsing a client's JSON body with errors that name the position or the
//! field, and preparing the body for one deployment.

use serde_json::{Map, Value};

use crate::config::Deployment;

use super::error::ApiError;
use super::own_fields;

/// Parses a JSON object body; errors name the line and column.
pub fn parse_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad_request(
            "the request body must be a JSON object",
        )),
        Err(e) => Err(ApiError::bad_request(format!(
            "invalid JSON in the request body at line {} column {}: {e}",
            e.line(),
            e.column()
        ))),
    }
}

/// Reads `T` from a parsed body; errors name the field's path.
pub fn typed<T: serde::de::DeserializeOwned>(body: &Map<String, Value>) -> Result<T, ApiError> {
    // Deserialise from the borrowed map: no copy of the body.
    let de = serde::de::value::MapDeserializer::new(body.iter().map(|(k, v)| (k.as_str(), v)));
    serde_path_to_error::deserialize(de).map_err(
        |e: serde_path_to_error::Error<serde_json::Error>| {
            let path = e.path().to_string();
            let inner = e.into_inner().to_string();
            if path == "." {
                // serde names a missing field only in its message: "missing field `x`".
                match inner.split('`').nth(1) {
                    Some(field) if inner.starts_with("missing field") => {
                        ApiError::bad_param(field, format!("invalid request: {inner}"))
                    }
                    _ => ApiError::bad_request(format!("invalid request: {inner}")),
                }
            } else {
                ApiError::bad_param(&path, format!("invalid request: {path}: {inner}"))
            }
        },
    )
}

/// The body for `deployment`: the provider's model name, the client's
/// fields except the gateway's own ([`own_fields`]), and the deployment's
/// default params where the request sets none. Written straight from the
/// client's body: every attempt would otherwise copy the whole request
/// (messages and all) just to change a few fields.
pub fn for_deployment(body: &Map<String, Value>, deployment: &Deployment) -> String {
    // Serialising JSON values under string keys cannot fail.
    serde_json::to_string(&ForDeployment { body, deployment }).unwrap_or_default()
}

/// The client's body as one deployment receives it.
struct ForDeployment<'a> {
    body: &'a Map<String, Value>,
    deployment: &'a Deployment,
}

impl serde::Serialize for ForDeployment<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("model", &self.deployment.model)?;
        let sent = self
            .body
            .iter()
            .filter(|(k, _)| *k != "model" && !own_fields::is_own(k));
        for (k, v) in sent {
            map.serialize_entry(k, v)?;
        }
        for (k, v) in &self.deployment.defaults {
            if !self.body.contains_key(k) {
                map.serialize_entry(k, v)?;
            }
        }
        map.end()
    }
}

/// LiteLLM's per-request reliability params. They are for the gateway, not
/// the provider (see [`own_fields`]), and are taken out of the body before
/// the routers' view is made of it.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Overrides {
    /// `num_retries`: replaces the configured retries for this request.
    pub num_retries: Option<u32>,
    /// `fallbacks`: model groups to try instead of the configured ones.
    pub fallbacks: Option<Vec<String>>,
    /// `disable_fallbacks: true`: no fallback group is tried.
    pub disable_fallbacks: bool,
}

impl Overrides {
    /// Takes the params out of `body`, checking their types.
    pub fn take(body: &mut Map<String, Value>) -> Result<Overrides, ApiError> {
        let mut o = Overrides::default();
        match body.remove("num_retries") {
            None | Some(Value::Null) => {}
            Some(v) => {
                o.num_retries = Some(v.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or_else(
                    || {
                        ApiError::bad_param(
                            "num_retries",
                            format!("num_retries must be a whole number >= 0, got {v}"),
                        )
                    },
                )?);
            }
        }
        match body.remove("fallbacks") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                let mut groups = Vec::with_capacity(items.len());
                for item in &items {
                    // A name, or LiteLLM's `{"model": name, ...}` form.
                    let name = item
                        .as_str()
                        .or_else(|| item.get("model").and_then(Value::as_str))
                        .ok_or_else(|| {
                            ApiError::bad_param(
                                "fallbacks",
                                format!("fallbacks must list model group names, got {item}"),
                            )
                        })?;
                    groups.push(name.to_string());
                }
                o.fallbacks = Some(groups);
            }
            Some(v) => {
                return Err(ApiError::bad_param(
                    "fallbacks",
                    format!("fallbacks must be a list of model group names, got {v}"),
                ));
            }
        }
        match body.remove("disable_fallbacks") {
            None | Some(Value::Null) => {}
            Some(Value::Bool(b)) => o.disable_fallbacks = b,
            Some(v) => {
                return Err(ApiError::bad_param(
                    "disable_fallbacks",
                    format!("disable_fallbacks must be true or false, got {v}"),
                ));
            }
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn take(v: Value) -> Result<(Overrides, Value), ApiError> {
        let Value::Object(mut m) = v else {
            unreachable!()
        };
        Overrides::take(&mut m).map(|o| (o, Value::Object(m)))
    }

    /// What a deployment with `litellm_params: {model: openai/real, PARAMS}`
    /// receives for `body`.
    fn sent(params: &str, body: Value) -> Value {
        let config = crate::config::Config::parse(
            &format!("model_list:\n  - model_name: g\n    litellm_params: {{model: openai/real, {params}}}\n"),
            std::path::Path::new("."),
        )
        .unwrap();
        let Value::Object(body) = body else {
            unreachable!()
        };
        serde_json::from_str(&for_deployment(&body, &config.deployments[0])).unwrap()
    }

    #[test]
    fn the_deployment_body_sets_the_model_and_fills_defaults() {
        assert_eq!(
            sent(
                "temperature: 0.1, max_tokens: 9",
                json!({"model": "g", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5})
            ),
            json!({"model": "real", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5, "temperature": 0.1})
        );
    }

    #[test]
    fn the_deployment_body_leaves_out_the_gateways_own_fields() {
        let body = json!({
            "model": "g", "messages": [], "user": "u-1", "temperature": 0.5,
            "metadata": {"org": "acme", "tier": "gold"}, "tags": ["a"], "cache": {"no-cache": true},
            "mock_response": "hi", "user_api_key_alias": "k", "litellm_trace_id": "t",
            "x_vendor": 1
        });
        assert_eq!(
            sent("seed: 3", body),
            json!({"model": "real", "messages": [], "user": "u-1", "temperature": 0.5, "x_vendor": 1, "seed": 3})
        );
    }

    #[test]
    fn every_override_is_an_own_field() {
        for name in ["num_retries", "fallbacks", "disable_fallbacks"] {
            assert!(own_fields::is_own(name), "{name}");
        }
    }

    #[test]
    fn overrides_leave_the_body() {
        let (o, body) = take(json!({
            "model": "m", "num_retries": 1, "disable_fallbacks": true,
            "fallbacks": ["a", {"model": "b", "temperature": 0}]
        }))
        .unwrap();
        assert_eq!(
            o,
            Overrides {
                num_retries: Some(1),
                fallbacks: Some(vec!["a".into(), "b".into()]),
                disable_fallbacks: true
            }
        );
        assert_eq!(body, json!({"model": "m"}));
        assert_eq!(take(json!({})).unwrap().0, Overrides::default());
    }

    #[test]
    fn bad_overrides_name_the_param() {
        for (body, param) in [
            (json!({"num_retries": -1}), "num_retries"),
            (json!({"num_retries": "2"}), "num_retries"),
            (json!({"fallbacks": "a"}), "fallbacks"),
            (json!({"fallbacks": [1]}), "fallbacks"),
            (json!({"disable_fallbacks": "yes"}), "disable_fallbacks"),
        ] {
            let e = take(body).unwrap_err();
            assert_eq!(e.param.as_deref(), Some(param));
        }
    }
}
