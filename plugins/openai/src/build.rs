//! `build-request`: the OpenAI-format body goes out as is, `model` already
//! set to the deployment's model by the host, to the prefix's URL with its
//! auth header. A streamed chat also asks for its usage
//! (`stream_options.include_usage`), which OpenAI-compatible APIs report
//! only when asked, so every stream can be priced; the host drops the
//! usage chunk again for a client that did not ask for it.

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;
use switchyard_sdk::provider::{BuildInput, Framing, Header, HttpRequest, Operation, Outbound};
use switchyard_sdk::types::PluginError;

use crate::config::Config;
use crate::endpoints::{self, Flavor};

pub fn build_request(input: BuildInput, config: &Config) -> Result<Outbound, PluginError> {
    let (url, auth) = endpoints::endpoint(&input.operation, &input.target, config)?;
    let mut headers = vec![Header {
        name: "Content-Type".to_string(),
        value: "application/json".to_string(),
    }];
    headers.extend(auth);
    headers.extend(param_headers(&input)?);
    let mut body = body(input.body, &input.target.model)?;
    if input.operation == Operation::Chat && config.stream_usage(&input.target.provider) {
        body = with_stream_usage(body)?;
    }
    Ok(Outbound::Send(HttpRequest {
        method: "POST".to_string(),
        url,
        headers,
        body: body.into_bytes(),
        framing: Framing::Sse,
    }))
}

/// The request body. The host sends it with `model` set to the deployment's
/// model (see `build-input.body` in the contract), and then it goes out
/// as is, unparsed and uncopied: a body the host got wrong would be the
/// provider's to reject. A body that plainly lacks the model (a caller
/// other than the host) is parsed, checked and given it.
fn body(body: String, model: &str) -> Result<String, PluginError> {
    if names_model(&body, model) {
        return Ok(body);
    }
    let mut value = object(&body)?;
    if let Value::Object(map) = &mut value {
        map.insert("model".to_string(), Value::String(model.to_string()));
    }
    serialise(&value)
}

/// `body` parsed, checked to be an object.
fn object(body: &str) -> Result<Value, PluginError> {
    let value: Value = serde_json::from_str(body)
        .map_err(|e| PluginError::InvalidInput(format!("the request body is not JSON: {e}")))?;
    if !value.is_object() {
        return Err(PluginError::InvalidInput(
            "the request body is not a JSON object".to_string(),
        ));
    }
    Ok(value)
}

fn serialise(value: &Value) -> Result<String, PluginError> {
    serde_json::to_string(value)
        .map_err(|e| PluginError::Internal(format!("cannot serialise the request body: {e}")))
}

/// What [`with_stream_usage`] reads of a body: its top-level `stream` and
/// whether it has `stream_options`, in one pass that allocates nothing.
#[derive(Deserialize)]
struct StreamHead {
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Present,
}

/// Whether a field is in the body at all, `null` included (which an
/// `Option` would take for absent).
#[derive(Default)]
struct Present(bool);

impl<'de> Deserialize<'de> for Present {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(d).map(|_| Present(true))
    }
}

/// A streamed chat's `body` with `stream_options.include_usage: true`; any
/// other body as it is. A body without `stream_options` gets it spliced in
/// as text (no parse, no copy of the rest); one with `stream_options` is
/// parsed and the flag set, keeping its other options.
fn with_stream_usage(body: String) -> Result<String, PluginError> {
    const ASK: &str = r#""stream_options":{"include_usage":true},"#;
    match serde_json::from_str::<StreamHead>(&body) {
        Ok(head) if head.stream != Some(true) => Ok(body),
        Ok(StreamHead {
            stream_options: Present(false),
            ..
        }) => {
            // A streamed body is an object with at least `stream` in it, so
            // its first member can follow the inserted one.
            let open = body.len() - body.trim_start().len();
            let mut out = String::with_capacity(body.len() + ASK.len());
            out.push_str(&body[..=open]);
            out.push_str(ASK);
            out.push_str(&body[open + 1..]);
            Ok(out)
        }
        // `stream_options` present, or a body the head cannot read
        // (duplicate keys, a `stream` that is no bool): the full parse
        // decides. A body that is no JSON object goes out as it is, for the
        // provider to reject (the host never sends one).
        _ => {
            let Ok(mut value) = serde_json::from_str::<Value>(&body) else {
                return Ok(body);
            };
            if value.get("stream") != Some(&Value::Bool(true)) {
                return Ok(body);
            }
            let options = &mut value["stream_options"];
            if !options.is_object() {
                *options = Value::Object(serde_json::Map::new());
            }
            options["include_usage"] = Value::Bool(true);
            serialise(&value)
        }
    }
}

/// Whether `body` says `"model":"<model>"`, written as the host writes it
/// (compact JSON). Searching the text costs a fraction of a parse; a model
/// name that JSON escapes is never found, and takes the parse.
fn names_model(body: &str, model: &str) -> bool {
    const KEY: &str = r#""model":""#;
    if model.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        return false;
    }
    body.match_indices(KEY).any(|(at, _)| {
        body.get(at + KEY.len()..)
            .and_then(|rest| rest.strip_prefix(model))
            .is_some_and(|rest| rest.starts_with('"'))
    })
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
    headers.extend(switchyard_sdk::adapter::extra_headers(&input.target)?);
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

    fn send(input: BuildInput) -> HttpRequest {
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
        let r = send(input);
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
        let r = send(build_input(
            Operation::Chat,
            json!({"model": "x", "messages": []}),
            target("ollama", "llama3", None, None),
        ));
        assert_eq!(header(&r, "authorization"), None);
        assert_eq!(r.url, "http://localhost:11434/v1/chat/completions");
    }

    #[test]
    fn azure_uses_api_key_header() {
        let r = send(build_input(
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
        let r = send(build_input(
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
                build_input(Operation::Chat, json!({}), t),
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
            matches!(build_request(input.clone(), &Config::default()), Err(PluginError::InvalidInput(m)) if m.contains("object"))
        );
        input.body = "{not json".into();
        assert!(
            matches!(build_request(input, &Config::default()), Err(PluginError::InvalidInput(m)) if m.contains("not JSON"))
        );
    }

    #[test]
    fn a_body_with_the_model_goes_out_untouched() {
        let t = || target("openai", "gpt-4o", None, None);
        // As the host writes it: passed through byte for byte, even where a
        // re-serialisation would change it.
        let body = r#"{"messages":[{"role":"user","content":"caf\u00e9"}],"model":"gpt-4o","temperature":1.0}"#;
        let mut input = build_input(Operation::Chat, json!({}), t());
        input.body = body.into();
        assert_eq!(send(input).body, body.as_bytes());
        // Not checked any further: the host never sends this, and the
        // provider would reject it.
        let mut input = build_input(Operation::Chat, json!({}), t());
        input.body = r#"{"model":"gpt-4o", oops"#.into();
        assert_eq!(send(input).body, br#"{"model":"gpt-4o", oops"#);
        // Another model, or the name elsewhere: parsed and set.
        for body in [
            json!({"model": "gpt-4o-mini", "messages": []}),
            json!({"messages": [{"role": "user", "content": "gpt-4o"}]}),
        ] {
            let r = send(build_input(Operation::Chat, body, t()));
            let sent: Value = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(sent["model"], "gpt-4o");
        }
    }

    fn sent_body(config: &Config, provider: &str, operation: Operation, body: &str) -> String {
        let mut input = build_input(operation, json!({}), target(provider, "m", None, None));
        input.body = body.into();
        match build_request(input, config).unwrap() {
            Outbound::Send(r) => String::from_utf8(r.body).unwrap(),
            Outbound::Respond(r) => panic!("unexpected respond {r:?}"),
        }
    }

    #[test]
    fn a_streamed_chat_asks_for_its_usage() {
        let c = Config::default();
        // Spliced in as text: the rest goes out byte for byte.
        let body =
            r#"{"messages":[{"role":"user","content":"caf\u00e9"}],"model":"m","stream":true}"#;
        assert_eq!(
            sent_body(&c, "openai", Operation::Chat, body),
            r#"{"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"caf\u00e9"}],"model":"m","stream":true}"#
        );
        assert_eq!(
            sent_body(
                &c,
                "groq",
                Operation::Chat,
                " \n{\"stream\":true,\"model\":\"m\"}"
            ),
            " \n{\"stream_options\":{\"include_usage\":true},\"stream\":true,\"model\":\"m\"}"
        );
        // Other stream options are kept; a client's `false` is overridden
        // (the host hides the usage chunk from that client).
        for (options, want) in [
            (
                r#"{"include_usage":false,"continuous_usage_stats":true}"#,
                json!({"include_usage": true, "continuous_usage_stats": true}),
            ),
            ("null", json!({"include_usage": true})),
            (r#"{"include_usage":true}"#, json!({"include_usage": true})),
        ] {
            let body = format!(r#"{{"model":"m","stream":true,"stream_options":{options}}}"#);
            let sent: Value =
                serde_json::from_str(&sent_body(&c, "openai", Operation::Chat, &body)).unwrap();
            assert_eq!(sent["stream_options"], want, "{options}");
            assert_eq!(sent["stream"], true);
        }
        // Duplicate keys: JSON's last one wins, as the provider reads it.
        let sent = sent_body(
            &c,
            "openai",
            Operation::Chat,
            r#"{"model":"m","stream":false,"stream":true}"#,
        );
        let sent: Value = serde_json::from_str(&sent).unwrap();
        assert_eq!(sent["stream_options"]["include_usage"], true);
    }

    #[test]
    fn other_requests_go_out_without_stream_options() {
        let c = Config::default();
        for body in [
            r#"{"model":"m","messages":[]}"#,
            r#"{"model":"m","stream":false}"#,
            r#"{"model":"m","stream":null}"#,
            r#"{"model":"m","metadata":{"stream":true}}"#,
            r#"{"model":"m","messages":[{"role":"user","content":"\"stream\":true"}]}"#,
        ] {
            assert_eq!(sent_body(&c, "openai", Operation::Chat, body), body);
        }
        let streamed = r#"{"model":"m","stream":true}"#;
        assert_eq!(
            sent_body(&c, "openai", Operation::Embeddings, streamed),
            streamed
        );
        // Mistral refuses the field, unless the config says otherwise.
        assert_eq!(
            sent_body(&c, "mistral", Operation::Chat, streamed),
            streamed
        );
        let on =
            switchyard_sdk::typed::parse::<Config>(r#"{"stream_usage":{"mistral":true}}"#).unwrap();
        assert!(sent_body(&on, "mistral", Operation::Chat, streamed).contains("include_usage"));
        // `stream_usage: false` for servers that refuse it.
        let off = switchyard_sdk::typed::parse::<Config>(r#"{"stream_usage":false}"#).unwrap();
        assert_eq!(
            sent_body(&off, "openai", Operation::Chat, streamed),
            streamed
        );
        let off =
            switchyard_sdk::typed::parse::<Config>(r#"{"stream_usage":{"hosted_vllm":false}}"#)
                .unwrap();
        let mut input = build_input(
            Operation::Chat,
            json!({}),
            target("hosted_vllm", "m", Some("http://vllm:8000/v1"), None),
        );
        input.body = streamed.into();
        let Outbound::Send(r) = build_request(input, &off).unwrap() else {
            panic!()
        };
        assert_eq!(r.body, streamed.as_bytes());
    }

    #[test]
    fn names_model_finds_only_the_exact_compact_pair() {
        assert!(names_model(r#"{"a":1,"model":"m-1"}"#, "m-1"));
        assert!(names_model(r#"{"model":"模型"}"#, "模型"));
        assert!(!names_model(r#"{"model":"m-10"}"#, "m-1"));
        assert!(!names_model(r#"{"model": "m-1"}"#, "m-1"));
        assert!(!names_model(r#"{"x":"m-1"}"#, "m-1"));
        assert!(!names_model(r#"{"model":"a\"b"}"#, r#"a"b"#));
        assert!(!names_model(r#"{"model":""#, ""));
    }
}
