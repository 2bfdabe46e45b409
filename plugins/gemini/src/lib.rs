//! `gemini`: the adapter for the Google Gemini API (Google AI Studio,
//! `generativelanguage.googleapis.com`).
//!
//! A pure translator: OpenAI chat requests become `generateContent` (or
//! `streamGenerateContent?alt=sse`) requests, OpenAI embeddings requests
//! become `batchEmbedContents`; Gemini's answers, stream events and errors
//! come back in the OpenAI shape, with usage in every token class Gemini
//! reports (thoughts as reasoning, cached content as cache reads).

pub mod config;
mod embeddings;
mod endpoint;
mod errors;
mod request;
mod response;
mod stream;
mod util;

use config::Config;
use switchyard_sdk::prelude::*;
use switchyard_sdk::provider::Operation;

pub use stream::Decoder;

/// The adapter: its config, kept per instance by the SDK.
pub struct Gemini {
    config: Config,
}

impl Plugin for Gemini {
    type Config = Config;
    const NAME: &'static str = "gemini";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: Option<&'static str> =
        Some("Google Gemini API (AI Studio): chat, streaming, tools and embeddings");

    fn new(config: Config) -> Result<Self, PluginError> {
        config.check()?;
        Ok(Gemini { config })
    }
}

impl Provider for Gemini {
    const PREFIXES: &'static [&'static str] = &["gemini"];
    type Decoder = Decoder;

    fn build_request(&self, input: BuildInput) -> Result<Outbound, PluginError> {
        match &input.operation {
            Operation::Chat => request::build(&input, &self.config),
            Operation::Embeddings => embeddings::build(&input, &self.config),
            Operation::Other(name) => Err(unsupported(name)),
        }
    }

    fn parse_response(
        &self,
        input: BuildInput,
        response: HttpResponse,
    ) -> Result<ParsedResponse, ParseError> {
        if !(200..=299).contains(&response.status) {
            return Err(ParseError::Provider(errors::from_response(
                response.status,
                &response.body,
            )));
        }
        match &input.operation {
            Operation::Chat => response::parse(&input, &response),
            Operation::Embeddings => embeddings::parse(&input, &response),
            Operation::Other(name) => Err(ParseError::Plugin(unsupported(name))),
        }
    }

    fn decoder(&self, input: BuildInput) -> Decoder {
        Decoder::new(input)
    }
}

fn unsupported(operation: &str) -> PluginError {
    switchyard_sdk::adapter::unsupported("gemini", operation, "chat and embeddings")
}

switchyard_sdk::export!(provider Gemini);

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::Value;
    use switchyard_sdk::provider::{HttpRequest, Target};
    use switchyard_sdk::testing;
    use switchyard_sdk::types::PluginKind;

    pub fn target(model: &str, api_key: Option<&str>) -> Target {
        Target {
            api_key: api_key.map(str::to_string),
            ..testing::target("gemini", model)
        }
    }

    pub fn input(operation: Operation, body: Value) -> BuildInput {
        testing::build_input(operation, body, target("gemini-2.0-flash", Some("gk-test")))
    }

    pub fn chat(body: Value) -> BuildInput {
        input(Operation::Chat, body)
    }

    /// The adapter built from `config`, as the gateway would.
    pub fn adapter(config: &str) -> Gemini {
        switchyard_sdk::typed::from_json(config).unwrap()
    }

    pub fn send(input: BuildInput) -> HttpRequest {
        match adapter("{}").build_request(input) {
            Ok(Outbound::Send(r)) => r,
            other => panic!("expected a request to send, got {other:?}"),
        }
    }

    pub fn sent_body(r: &HttpRequest) -> Value {
        serde_json::from_slice(&r.body).unwrap()
    }

    /// A fixture file, parsed.
    pub fn fixture(name: &str) -> Value {
        let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn describe_names_the_prefix_and_schema() {
        let info = switchyard_sdk::typed::describe::<Gemini>(
            PluginKind::Provider,
            <Gemini as Provider>::PREFIXES,
        );
        assert_eq!(info.name, "gemini");
        assert_eq!(info.kind, PluginKind::Provider);
        assert_eq!(info.provider_prefixes, vec!["gemini".to_string()]);
        assert!(info.description.is_some());
        let schema: Value = serde_json::from_str(&info.config_schema.unwrap()).unwrap();
        assert_eq!(schema["type"], "object");
        assert_eq!(schema["additionalProperties"], false);
    }

    #[test]
    fn other_operations_are_invalid_input() {
        let r = adapter("{}").build_request(input(
            Operation::Other("images".into()),
            serde_json::json!({}),
        ));
        assert!(matches!(r, Err(PluginError::InvalidInput(m)) if m.contains("images")));
    }

    #[test]
    fn the_config_it_is_built_from_sets_the_default_api_base() {
        let r = adapter(r#"{"api_base":"https://proxy.example/v1beta/"}"#).build_request(chat(
            serde_json::json!({"model": "g", "messages": [{"role": "user", "content": "hi"}]}),
        ));
        let Ok(Outbound::Send(r)) = r else {
            panic!("expected a request to send, got {r:?}")
        };
        assert_eq!(
            r.url,
            "https://proxy.example/v1beta/models/gemini-2.0-flash:generateContent"
        );
        let err = switchyard_sdk::typed::from_json::<Gemini>(r#"{"nope":1}"#).err();
        assert!(
            matches!(&err, Some(PluginError::InvalidConfig(m)) if m.contains("nope")),
            "{err:?}"
        );
    }
}
