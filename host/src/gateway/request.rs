//! Parsing a client's JSON body with errors that name the position or the
//! field, and preparing the body for one deployment.

use serde_json::{Map, Value};

use crate::config::Deployment;
use crate::server::error::ApiError;

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

/// The body for `deployment`: the provider's model name, and the
/// deployment's default params where the request sets none.
pub fn for_deployment(body: &Map<String, Value>, deployment: &Deployment) -> String {
    let mut body = body.clone();
    body.insert("model".into(), Value::String(deployment.model.clone()));
    for (k, v) in &deployment.defaults {
        body.entry(k.clone()).or_insert_with(|| v.clone());
    }
    Value::Object(body).to_string()
}
