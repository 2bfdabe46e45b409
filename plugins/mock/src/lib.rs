//! `mock`: the demo adapter behind `make run`. It never calls the network:
//! `build-request` answers with `outbound.respond` and a made-up, realistic
//! OpenAI answer (a `chat.completion`, the SSE text of a stream, or
//! deterministic pseudo-embeddings), so a gateway works end to end with no
//! API key.
//!
//! The answer text is, in order of precedence: the request's
//! `mock_response`, the deployment's `mock_response` (a `litellm_params`
//! entry, as in LiteLLM), "You said: ..." when the config sets `echo`, and
//! the config's `text`.

mod chat;
mod config;
mod embeddings;
mod stream;
mod tokens;

use config::Config;
use serde::de::DeserializeOwned;
use switchyard_sdk::adapter::{self, bad_answer, snippet};
use switchyard_sdk::prelude::*;
use switchyard_sdk::provider::{Operation, ProviderError};

pub use stream::Chunks;

/// The adapter: its config, kept per instance by the SDK.
pub struct Mock {
    config: Config,
}

impl Plugin for Mock {
    type Config = Config;
    const NAME: &'static str = "mock";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: Option<&'static str> =
        Some("Demo provider: made-up chat answers, streams and embeddings, no network");

    fn new(config: Config) -> Result<Self, PluginError> {
        Ok(Mock { config })
    }
}

impl Provider for Mock {
    const PREFIXES: &'static [&'static str] = &["mock"];
    type Decoder = Chunks;

    fn build_request(&self, input: BuildInput) -> Result<Outbound, PluginError> {
        let response = match &input.operation {
            Operation::Chat => chat::respond(&input, &self.config)?,
            Operation::Embeddings => embeddings::respond(&input)?,
            Operation::Other(name) => return Err(unsupported(name)),
        };
        Ok(Outbound::Respond(response))
    }

    fn parse_response(
        &self,
        input: BuildInput,
        response: HttpResponse,
    ) -> Result<ParsedResponse, ParseError> {
        if !(200..=299).contains(&response.status) {
            return Err(ParseError::Provider(error(&response)));
        }
        match &input.operation {
            Operation::Chat => chat::parse(&response),
            Operation::Embeddings => embeddings::parse(&response),
            Operation::Other(name) => Err(ParseError::Plugin(unsupported(name))),
        }
    }

    fn decoder(&self, input: BuildInput) -> Chunks {
        Chunks::new(&input)
    }
}

fn unsupported(operation: &str) -> PluginError {
    adapter::unsupported("mock", operation, "chat and embeddings")
}

/// Reads a made-up answer back as `T` (`what` names it in errors), with its
/// text, which passes through as the body.
fn read_answer<T: DeserializeOwned>(
    response: &HttpResponse,
    what: &str,
) -> Result<(String, T), ParseError> {
    let value = adapter::body_json(response.status, &response.body)?;
    let text = String::from_utf8(response.body.clone())
        .map_err(|e| bad_answer(format!("the answer is not UTF-8: {e}")))?;
    let answer = T::deserialize(&value).map_err(|e| {
        bad_answer(format!(
            "the answer is not {what} ({e}): {}",
            snippet(&text)
        ))
    })?;
    Ok((text, answer))
}

/// A non-2xx answer (the mock makes none itself; this keeps `parse-response`
/// total): OpenAI's error envelope, classed by status.
fn error(response: &HttpResponse) -> ProviderError {
    let value: serde_json::Value = serde_json::from_slice(&response.body).unwrap_or_default();
    let e = value.get("error");
    let text = |k: &str| {
        e.and_then(|e| e.get(k))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    ProviderError {
        status: response.status,
        class: adapter::class_for_status(response.status),
        message: text("message")
            .unwrap_or_else(|| adapter::body_text("mock", response.status, &response.body)),
        code: text("code").or_else(|| text("type")),
    }
}

switchyard_sdk::export!(provider Mock);

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::Value;
    use switchyard_sdk::provider::{ErrorClass, Target};
    use switchyard_sdk::testing;
    use switchyard_sdk::types::{Field, PluginKind};

    /// The mock with its default config.
    pub fn mock() -> Mock {
        switchyard_sdk::typed::from_json("{}").unwrap()
    }

    pub fn input(operation: Operation, body: Value, params: &[(&str, Value)]) -> BuildInput {
        let params = params
            .iter()
            .map(|(k, v)| Field {
                key: k.to_string(),
                value: v.to_string(),
            })
            .collect();
        let target = Target {
            params,
            ..testing::target("mock", "mock-1")
        };
        testing::build_input(operation, body, target)
    }

    /// The made-up answer for a request (status 200 checked).
    pub fn respond(input: BuildInput) -> HttpResponse {
        match mock().build_request(input) {
            Ok(Outbound::Respond(r)) => {
                assert_eq!(r.status, 200);
                r
            }
            other => panic!("expected a made-up answer, got {other:?}"),
        }
    }

    #[test]
    fn describe() {
        let info = switchyard_sdk::typed::describe::<Mock>(PluginKind::Provider, Mock::PREFIXES);
        assert_eq!(info.name, "mock");
        assert_eq!(info.kind, PluginKind::Provider);
        assert_eq!(info.provider_prefixes, vec!["mock".to_string()]);
        assert!(info.config_schema.unwrap().contains("echo"));
        assert!(info.description.is_some());
    }

    #[test]
    fn other_operations_and_errors() {
        let r = mock().build_request(input(Operation::Other("images".into()), Value::Null, &[]));
        assert!(matches!(r, Err(PluginError::InvalidInput(m)) if m.contains("images")));
        let r = mock().parse_response(
            input(Operation::Chat, Value::Null, &[]),
            testing::http_response(
                429,
                r#"{"error":{"message":"slow down","type":"requests","code":"rate_limit_exceeded"}}"#,
            ),
        );
        let Err(ParseError::Provider(e)) = r else {
            panic!("{r:?}")
        };
        assert_eq!(
            (e.status, e.class, e.message.as_str(), e.code.as_deref()),
            (
                429,
                ErrorClass::RateLimit,
                "slow down",
                Some("rate_limit_exceeded")
            )
        );
    }

    #[test]
    fn the_config_it_is_built_from_is_the_one_build_uses() {
        let configured: Mock =
            switchyard_sdk::typed::from_json(r#"{"text":"Configured."}"#).unwrap();
        let chat = || {
            input(
                Operation::Chat,
                serde_json::json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}),
                &[],
            )
        };
        let Ok(Outbound::Respond(r)) = configured.build_request(chat()) else {
            panic!("expected a made-up answer");
        };
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["choices"][0]["message"]["content"], "Configured.");
        let body: Value = serde_json::from_slice(&respond(chat()).body).unwrap();
        assert_eq!(
            body["choices"][0]["message"]["content"],
            config::DEFAULT_TEXT
        );
        assert!(matches!(
            switchyard_sdk::typed::from_json::<Mock>(r#"{"txt":"typo"}"#),
            Err(PluginError::InvalidConfig(m)) if m.contains("unknown field `txt`")
        ));
    }
}
