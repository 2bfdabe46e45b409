//! `build-request`: the OpenAI-format body goes out as is, with `model` set
//! to the deployment's model, to the prefix's URL with its auth header.

use serde_json::Value;
use switchyard_sdk::provider::{BuildInput, Framing, Header, HttpRequest, Outbound};
use switchyard_sdk::types::PluginError;

use crate::config::Config;
use crate::endpoints::{self, Flavor};

pub fn build_request(input: &BuildInput, config: &Config) -> Result<Outbound, PluginError> {
    let (url, auth) = endpoints::endpoint(&input.operation, &input.target, config)?;
    let body = body(&input.body, &input.target.model)?;
    let mut headers = vec![Header {
        name: "Content-Type".to_string(),
        value: "application/json".to_string(),
    }];
    headers.extend(auth);
    headers.extend(param_headers(input)?);
    Ok(Outbound::Send(HttpRequest {
        method: "POST".to_string(),
        url,
        headers,
        body,
        framing: Framing::Sse,
    }))
}

/// The request body with `model` replaced; every other field is kept.
fn body(body: &str, model: &str) -> Result<Vec<u8>, PluginError> {
    let mut value: Value = serde_json::from_str(body)
        .map_err(|e| PluginError::InvalidInput(format!("the request body is not JSON: {e}")))?;
    let Value::Object(map) = &mut value else {
        return Err(PluginError::InvalidInput(
            "the request body is not a JSON object".to_string(),
        ));
    };
    map.insert("model".to_string(), Value::String(model.to_string()));
    serde_json::to_vec(&value)
        .map_err(|e| PluginError::Internal(format!("cannot serialise the request body: {e}")))
}

/// Headers a deployment asks for in `litellm_params`: `extra_headers` (an
/// object of strings) and, for OpenAI itself, `organization`.
fn param_headers(input: &BuildInput) -> Result<Vec<Header>, PluginError> {
    let mut headers = Vec::new();
    let params = &input.target.params;
    if let Some(org) = switchyard_sdk::field::<String>(params, "organization") {
        let flavor = endpoints::prefix(&input.target.provider).map(|p| p.flavor);
        if flavor == Some(Flavor::OpenAi) {
            headers.push(Header {
                name: "OpenAI-Organization".to_string(),
                value: org,
            });
        }
    }
    if let Some(f) = params.iter().find(|f| f.key == "extra_headers") {
        let map: serde_json::Map<String, Value> = serde_json::from_str(&f.value).map_err(|e| {
            PluginError::InvalidInput(format!("extra_headers must be an object of strings: {e}"))
        })?;
        for (name, value) in map {
            let Value::String(value) = value else {
                return Err(PluginError::InvalidInput(format!(
                    "extra_headers.{name} must be a string"
                )));
            };
            headers.push(Header { name, value });
        }
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::target;
    use serde_json::json;
    use switchyard_sdk::provider::Operation;
    use switchyard_sdk::testing::build_input;
    use switchyard_sdk::types::Field;

    fn send(input: &BuildInput) -> HttpRequest {
        match build_request(input, &Config::default()).unwrap() {
            Outbound::Send(r) => r,
            Outbound::Respond(r) => panic!("unexpected respond {r:?}"),
        }
    }

    fn header<'a>(r: &'a HttpRequest, name: &str) -> Option<&'a str> {
        r.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    #[test]
    fn passes_every_field_through_and_sets_model() {
        let body = json!({
            "model": "my-group",
            "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": null, "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}],
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}},
            "n": 2, "stop": ["\n"], "user": "u", "metadata": {"a": "b"},
            "stream": true, "stream_options": {"include_usage": true},
            "temperature": 0.7, "max_tokens": null, "x_vendor": [1, 2.5, "z"]
        });
        let input = build_input(
            Operation::Chat,
            body.clone(),
            target("groq", "llama-3.3-70b", None, Some("gk")),
        );
        let r = send(&input);
        assert_eq!(r.method, "POST");
        assert_eq!(r.url, "https://api.groq.com/openai/v1/chat/completions");
        assert_eq!(r.framing, Framing::Sse);
        assert_eq!(header(&r, "authorization"), Some("Bearer gk"));
        assert_eq!(header(&r, "content-type"), Some("application/json"));
        let sent: Value = serde_json::from_slice(&r.body).unwrap();
        let mut want = body;
        want["model"] = json!("llama-3.3-70b");
        assert_eq!(sent, want);
    }

    #[test]
    fn no_key_no_auth_header() {
        let r = send(&build_input(
            Operation::Chat,
            json!({"model": "x", "messages": []}),
            target("ollama", "llama3", None, None),
        ));
        assert_eq!(header(&r, "authorization"), None);
        assert_eq!(r.url, "http://localhost:11434/v1/chat/completions");
    }

    #[test]
    fn azure_uses_api_key_header() {
        let r = send(&build_input(
            Operation::Embeddings,
            json!({"model": "x", "input": "hi"}),
            target(
                "azure",
                "emb",
                Some("https://r.openai.azure.com/"),
                Some("az"),
            ),
        ));
        assert_eq!(
            r.url,
            "https://r.openai.azure.com/openai/deployments/emb/embeddings?api-version=2024-10-21"
        );
        assert_eq!(header(&r, "api-key"), Some("az"));
        assert_eq!(header(&r, "authorization"), None);
    }

    #[test]
    fn params_add_headers() {
        let mut t = target("openai", "gpt-4o", None, Some("k"));
        t.params = vec![
            Field {
                key: "organization".into(),
                value: "\"org-1\"".into(),
            },
            Field {
                key: "extra_headers".into(),
                value: r#"{"X-Trace":"t1"}"#.into(),
            },
        ];
        let r = send(&build_input(
            Operation::Chat,
            json!({"model": "x", "messages": []}),
            t,
        ));
        assert_eq!(header(&r, "openai-organization"), Some("org-1"));
        assert_eq!(header(&r, "x-trace"), Some("t1"));
        let mut t = target("openai", "gpt-4o", None, None);
        t.params = vec![Field {
            key: "extra_headers".into(),
            value: r#"{"X":1}"#.into(),
        }];
        assert!(
            build_request(
                &build_input(Operation::Chat, json!({}), t),
                &Config::default()
            )
            .is_err()
        );
    }

    #[test]
    fn bad_bodies_are_invalid_input() {
        let mut input = build_input(
            Operation::Chat,
            json!([1]),
            target("openai", "m", None, None),
        );
        assert!(
            matches!(build_request(&input, &Config::default()), Err(PluginError::InvalidInput(m)) if m.contains("object"))
        );
        input.body = "{not json".into();
        assert!(
            matches!(build_request(&input, &Config::default()), Err(PluginError::InvalidInput(m)) if m.contains("not JSON"))
        );
    }
}
