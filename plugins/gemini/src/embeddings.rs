//! Embeddings: an OpenAI embeddings request becomes one `batchEmbedContents`
//! call with a request per input string; the `embeddings` it answers become
//! OpenAI's `list` of `embedding` objects. Gemini reports no token counts for
//! embeddings, so usage is zero in the body and absent for cost tracking.

use serde::Deserialize;
use serde_json::{Value, json};
use switchyard_sdk::adapter::{bad_answer, body_json, snippet};
use switchyard_sdk::openai::EmbeddingRequest;
use switchyard_sdk::provider::{
    BuildInput, Framing, HttpRequest, HttpResponse, Outbound, ParseError, ParsedResponse,
};
use switchyard_sdk::types::PluginError;

use crate::config::Config;
use crate::{endpoint, util};

fn invalid(message: String) -> PluginError {
    PluginError::InvalidInput(message)
}

/// The input strings of an embeddings request.
fn inputs(input: &Value) -> Result<Vec<&str>, PluginError> {
    let token_arrays = || {
        invalid(
            "the gemini adapter embeds text only: token arrays are not supported as input"
                .to_string(),
        )
    };
    match input {
        Value::String(s) => Ok(vec![s.as_str()]),
        Value::Array(items) if items.is_empty() => {
            Err(invalid("input must not be empty".to_string()))
        }
        Value::Array(items) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.as_str()),
                Value::Number(_) | Value::Array(_) => Err(token_arrays()),
                other => Err(invalid(format!(
                    "input must be a string or a list of strings, found {other}"
                ))),
            })
            .collect(),
        other => Err(invalid(format!(
            "input must be a string or a list of strings, found {other}"
        ))),
    }
}

/// The `batchEmbedContents` body for an OpenAI embeddings request.
pub fn translate(request: &EmbeddingRequest, model: &str) -> Result<Value, PluginError> {
    let resource = endpoint::resource(model)?;
    let dimensions =
        match request.rest.get("dimensions") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_u64().filter(|d| *d > 0).ok_or_else(|| {
                invalid(format!("dimensions must be a positive integer, not {v}"))
            })?),
        };
    let requests: Vec<Value> = inputs(&request.input)?
        .into_iter()
        .map(|text| {
            let mut r = json!({
                "model": resource,
                "content": {"parts": [{"text": text}]},
            });
            if let Some(d) = dimensions {
                r["outputDimensionality"] = json!(d);
            }
            r
        })
        .collect();
    Ok(json!({ "requests": requests }))
}

pub fn build(input: &BuildInput, config: &Config) -> Result<Outbound, PluginError> {
    let request: EmbeddingRequest = serde_json::from_str(&input.body)
        .map_err(|e| invalid(format!("the request is not an embeddings request: {e}")))?;
    let body = translate(&request, &input.target.model)?;
    Ok(Outbound::Send(HttpRequest {
        method: "POST".to_string(),
        url: endpoint::url(&input.target, config, "batchEmbedContents")?,
        headers: endpoint::headers(&input.target)?,
        body: serde_json::to_vec(&body)
            .map_err(|e| PluginError::Internal(format!("cannot serialise the request: {e}")))?,
        framing: Framing::Sse,
    }))
}

#[derive(Deserialize)]
struct BatchEmbedResponse {
    embeddings: Vec<ContentEmbedding>,
}

#[derive(Deserialize)]
struct ContentEmbedding {
    #[serde(default)]
    values: Vec<f64>,
}

pub fn parse(input: &BuildInput, response: &HttpResponse) -> Result<ParsedResponse, ParseError> {
    let value = body_json(response.status, &response.body)?;
    if let Some(e) = crate::errors::from_embedded(&value) {
        return Err(ParseError::Provider(e));
    }
    let r = BatchEmbedResponse::deserialize(&value).map_err(|e| {
        bad_answer(format!(
            "the answer is not a batchEmbedContents response ({e}): {}",
            snippet(&value.to_string())
        ))
    })?;
    let request: Value = serde_json::from_str(&input.body).unwrap_or(Value::Null);
    let base64 = request.get("encoding_format").and_then(Value::as_str) == Some("base64");
    let data: Vec<Value> = r
        .embeddings
        .iter()
        .enumerate()
        .map(|(index, e)| {
            let embedding = if base64 {
                // OpenAI's base64 form: little-endian float32s.
                let bytes: Vec<u8> = e
                    .values
                    .iter()
                    .flat_map(|v| (*v as f32).to_le_bytes())
                    .collect();
                json!(util::base64(&bytes))
            } else {
                json!(e.values)
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    let body = json!({
        "object": "list",
        "data": data,
        "model": input.target.model,
        "usage": {"prompt_tokens": 0, "total_tokens": 0},
    });
    Ok(ParsedResponse {
        body: body.to_string(),
        usage: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{fixture, input, send, sent_body};
    use switchyard_sdk::provider::Operation;
    use switchyard_sdk::testing::http_response;
    use switchyard_sdk::typed::Provider as _;

    fn embed(body: Value) -> BuildInput {
        let mut i = input(Operation::Embeddings, body);
        i.target.model = "text-embedding-004".into();
        i
    }

    #[test]
    fn golden_request_and_response() {
        let r = send(embed(fixture("embeddings_request.openai.json")));
        assert_eq!(
            r.url,
            "https://generativelanguage.googleapis.com/v1beta/models/text-embedding-004:batchEmbedContents"
        );
        assert_eq!(sent_body(&r), fixture("embeddings_request.gemini.json"));
        let p = parse(
            &embed(fixture("embeddings_request.openai.json")),
            &http_response(200, &fixture("embeddings_response.gemini.json").to_string()),
        )
        .unwrap();
        let body: Value = serde_json::from_str(&p.body).unwrap();
        assert_eq!(body, fixture("embeddings_response.openai.json"));
        serde_json::from_value::<switchyard_sdk::openai::EmbeddingResponse>(body).unwrap();
        assert!(p.usage.is_none());
    }

    #[test]
    fn single_string_and_dimensions() {
        let r = send(embed(
            json!({"model": "e", "input": "hi", "dimensions": 256}),
        ));
        assert_eq!(
            sent_body(&r),
            json!({"requests": [{"model": "models/text-embedding-004", "content": {"parts": [{"text": "hi"}]}, "outputDimensionality": 256}]})
        );
    }

    #[test]
    fn rejected_inputs() {
        for (body, needle) in [
            (json!({"model": "e", "input": [1, 2, 3]}), "token arrays"),
            (json!({"model": "e", "input": [[1, 2]]}), "token arrays"),
            (json!({"model": "e", "input": []}), "empty"),
            (json!({"model": "e", "input": 5}), "string"),
            (
                json!({"model": "e", "input": "x", "dimensions": "big"}),
                "dimensions",
            ),
            (json!({"model": "e"}), "not an embeddings request"),
        ] {
            match crate::tests::adapter("{}").build_request(embed(body)) {
                Err(PluginError::InvalidInput(m)) => assert!(m.contains(needle), "{m}"),
                other => panic!("{needle}: {other:?}"),
            }
        }
    }

    #[test]
    fn base64_encoding() {
        let p = parse(
            &embed(json!({"model": "e", "input": "x", "encoding_format": "base64"})),
            &http_response(200, r#"{"embeddings":[{"values":[1.0, -2.0]}]}"#),
        )
        .unwrap();
        let body: Value = serde_json::from_str(&p.body).unwrap();
        assert_eq!(body["data"][0]["embedding"], "AACAPwAAAMA=");
    }

    #[test]
    fn bad_answers() {
        let i = embed(json!({"model": "e", "input": "x"}));
        assert!(matches!(
            parse(&i, &http_response(200, "{}")),
            Err(ParseError::Plugin(_))
        ));
        assert!(matches!(
            parse(
                &i,
                &http_response(
                    200,
                    r#"{"error":{"code":400,"message":"m","status":"INVALID_ARGUMENT"}}"#
                )
            ),
            Err(ParseError::Provider(_))
        ));
    }
}
