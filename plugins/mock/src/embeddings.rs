//! Pseudo-embeddings: a deterministic unit vector per input, from a hash of
//! the input, in OpenAI's embeddings shape. The same text always gets the
//! same vector, so caching and similarity demos behave.

use serde_json::{Value, json};
use switchyard_sdk::openai::{EmbeddingRequest, EmbeddingResponse};
use switchyard_sdk::provider::{BuildInput, Header, HttpResponse, ParseError, ParsedResponse};
use switchyard_sdk::types::PluginError;
use switchyard_sdk::util;

use crate::tokens;

pub const DEFAULT_DIMENSIONS: u64 = 8;
const MAX_DIMENSIONS: u64 = 8192;

fn invalid(message: String) -> PluginError {
    PluginError::InvalidInput(message)
}

/// One input to embed: its hashed bytes and its token count.
struct Item {
    key: String,
    tokens: u64,
}

fn item(v: &Value) -> Result<Item, PluginError> {
    match v {
        Value::String(s) => Ok(Item {
            key: s.clone(),
            tokens: tokens::estimate(s),
        }),
        Value::Array(ts) if ts.iter().all(Value::is_u64) => Ok(Item {
            key: v.to_string(),
            tokens: ts.len() as u64,
        }),
        other => Err(invalid(format!(
            "input must be a string, a list of strings or token arrays, found {other}"
        ))),
    }
}

/// The inputs: a string, a list of strings, one token array or a list of
/// token arrays.
fn items(input: &Value) -> Result<Vec<Item>, PluginError> {
    match input {
        Value::Array(a) if a.is_empty() => Err(invalid("input must not be empty".to_string())),
        Value::Array(a) if a.iter().all(Value::is_u64) => Ok(vec![item(input)?]),
        Value::Array(a) => a.iter().map(item).collect(),
        other => Ok(vec![item(other)?]),
    }
}

/// A unit vector of `dimensions` values from a hash of `key`.
pub fn vector(key: &str, dimensions: u64) -> Vec<f64> {
    let mut rng = util::SplitMix64::new(util::fnv1a(key.as_bytes()));
    let mut v: Vec<f64> = (0..dimensions)
        .map(|_| rng.next_f64() * 2.0 - 1.0)
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm > 0.0 {
        for x in &mut v {
            *x /= norm;
        }
    }
    v
}

pub fn respond(input: &BuildInput) -> Result<HttpResponse, PluginError> {
    let request: EmbeddingRequest = serde_json::from_str(&input.body)
        .map_err(|e| invalid(format!("the request is not an embeddings request: {e}")))?;
    let dimensions = match request.rest.get("dimensions") {
        None | Some(Value::Null) => DEFAULT_DIMENSIONS,
        Some(v) => v
            .as_u64()
            .filter(|d| (1..=MAX_DIMENSIONS).contains(d))
            .ok_or_else(|| {
                invalid(format!(
                    "dimensions must be an integer from 1 to {MAX_DIMENSIONS}, not {v}"
                ))
            })?,
    };
    let base64 = request.rest.get("encoding_format").and_then(Value::as_str) == Some("base64");
    let items = items(&request.input)?;
    let data: Vec<Value> = items
        .iter()
        .enumerate()
        .map(|(index, it)| {
            let v = vector(&it.key, dimensions);
            let embedding = if base64 {
                let bytes: Vec<u8> = v.iter().flat_map(|x| (*x as f32).to_le_bytes()).collect();
                json!(util::base64(&bytes))
            } else {
                json!(v)
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    let tokens: u64 = items.iter().map(|i| i.tokens).sum();
    let body = json!({
        "object": "list",
        "data": data,
        "model": input.target.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    });
    Ok(HttpResponse {
        status: 200,
        headers: vec![Header {
            name: "content-type".to_string(),
            value: "application/json".to_string(),
        }],
        body: body.to_string().into_bytes(),
    })
}

pub fn parse(response: &HttpResponse) -> Result<ParsedResponse, ParseError> {
    let (text, r) = crate::read_answer::<EmbeddingResponse>(response, "an embeddings list")?;
    Ok(ParsedResponse {
        usage: r.usage.as_ref().map(switchyard_sdk::usage_from_openai),
        body: text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{input, respond as made_up};
    use switchyard_sdk::provider::Operation;

    fn embed(body: Value) -> Value {
        let r = made_up(input(Operation::Embeddings, body, &[]));
        serde_json::from_slice(&r.body).unwrap()
    }

    fn norm(v: &Value) -> f64 {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap().powi(2))
            .sum::<f64>()
            .sqrt()
    }

    #[test]
    fn deterministic_unit_vectors() {
        let b = embed(json!({"model": "e", "input": ["cat", "dog", "cat"]}));
        assert_eq!(b["object"], "list");
        assert_eq!(b["model"], "mock-1");
        let d = b["data"].as_array().unwrap();
        assert_eq!(d.len(), 3);
        assert_eq!(d[1]["index"], 1);
        assert_eq!(d[0]["object"], "embedding");
        assert_eq!(d[0]["embedding"].as_array().unwrap().len(), 8);
        assert!((norm(&d[0]["embedding"]) - 1.0).abs() < 1e-12);
        assert_eq!(d[0]["embedding"], d[2]["embedding"]);
        assert_ne!(d[0]["embedding"], d[1]["embedding"]);
        assert_eq!(b["usage"], json!({"prompt_tokens": 3, "total_tokens": 3}));
        // The same across calls.
        assert_eq!(
            embed(json!({"model": "e", "input": "cat"}))["data"][0]["embedding"],
            d[0]["embedding"]
        );
    }

    #[test]
    fn dimensions_tokens_and_base64() {
        let b = embed(json!({"model": "e", "input": "x", "dimensions": 3}));
        assert_eq!(b["data"][0]["embedding"].as_array().unwrap().len(), 3);
        let b = embed(json!({"model": "e", "input": [[1, 2, 3], [4]]}));
        assert_eq!(b["data"].as_array().unwrap().len(), 2);
        assert_eq!(b["usage"]["prompt_tokens"], 4);
        let b = embed(json!({"model": "e", "input": [1, 2, 3]}));
        assert_eq!(b["data"].as_array().unwrap().len(), 1);
        let b = embed(
            json!({"model": "e", "input": "x", "encoding_format": "base64", "dimensions": 4}),
        );
        // 4 float32s are 16 bytes, 24 base64 characters.
        assert_eq!(b["data"][0]["embedding"].as_str().unwrap().len(), 24);
        for body in [
            json!({"model": "e", "input": []}),
            json!({"model": "e", "input": "x", "dimensions": 0}),
            json!({"model": "e", "input": "x", "dimensions": 100000}),
            json!({"model": "e", "input": [{"a": 1}]}),
            json!({"model": "e"}),
        ] {
            assert!(
                respond(&input(Operation::Embeddings, body.clone(), &[])).is_err(),
                "{body}"
            );
        }
    }

    #[test]
    fn parse_reads_usage() {
        let r = made_up(input(
            Operation::Embeddings,
            json!({"model": "e", "input": "abcdefgh"}),
            &[],
        ));
        let p = parse(&r).unwrap();
        assert_eq!(p.usage.unwrap().input_tokens, 2);
    }
}
