//! `gemini`: the adapter for the Google Gemini API (Google AI Studio,
//! `generativelanguage.googleapis.com`).
//!
//! A pure translator: OpenAI chat requests become `generateContent` (or
//! `streamGenerateContent?alt=sse`) requests, OpenAI embeddings requests
//! become `batchEmbedContents`; Gemini's answers, stream events and errors
//! come back in the OpenAI shape, with usage in every token class Gemini
//! reports (thoughts as reasoning, cached content as cache reads).

mod config;
mod embeddings;
mod endpoint;
mod errors;
mod request;
mod response;
mod stream;
mod util;

use std::cell::RefCell;

use config::Config;
use switchyard_sdk::provider::{
    BuildInput, HttpResponse, Operation, Outbound, ParseError, ParsedResponse,
};
use switchyard_sdk::types::{PluginError, PluginInfo, PluginKind};
use switchyard_sdk::{Plugin, Provider};

pub use stream::Decoder;

thread_local! {
    // Wasm instances are single-threaded and `init` runs once per instance.
    static CONFIG: RefCell<Config> = RefCell::new(Config::default());
}

fn with_config<T>(f: impl FnOnce(&Config) -> T) -> T {
    CONFIG.with(|c| f(&c.borrow()))
}

pub struct Gemini;

impl Plugin for Gemini {
    fn describe() -> PluginInfo {
        let mut info =
            switchyard_sdk::info("gemini", env!("CARGO_PKG_VERSION"), PluginKind::Provider);
        info.provider_prefixes = vec!["gemini".to_string()];
        info.config_schema = Some(config::schema());
        info.description = Some(
            "Google Gemini API (AI Studio): chat, streaming, tools and embeddings".to_string(),
        );
        info
    }

    fn init(config: String) -> Result<(), PluginError> {
        let parsed = config::parse(&config)?;
        CONFIG.with(|c| *c.borrow_mut() = parsed);
        Ok(())
    }
}

impl Provider for Gemini {
    type Decoder = Decoder;

    fn build_request(input: BuildInput) -> Result<Outbound, PluginError> {
        with_config(|config| match &input.operation {
            Operation::Chat => request::build(&input, config),
            Operation::Embeddings => embeddings::build(&input, config),
            Operation::Other(name) => Err(unsupported(name)),
        })
    }

    fn parse_response(
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
}

fn unsupported(operation: &str) -> PluginError {
    switchyard_sdk::adapter::unsupported("gemini", operation, "chat and embeddings")
}

// Only a wasm build exports anything: the export names are not valid native
// symbols, and native builds are for `cargo test`.
#[cfg(target_arch = "wasm32")]
switchyard_sdk::export_provider!(Gemini);

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::Value;
    use switchyard_sdk::provider::{HttpRequest, Target};
    use switchyard_sdk::testing;

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

    pub fn send(input: BuildInput) -> HttpRequest {
        match Gemini::build_request(input) {
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
        let info = Gemini::describe();
        assert_eq!(info.name, "gemini");
        assert_eq!(info.kind, PluginKind::Provider);
        assert_eq!(info.provider_prefixes, vec!["gemini".to_string()]);
        let schema: Value = serde_json::from_str(&info.config_schema.unwrap()).unwrap();
        assert_eq!(schema["type"], "object");
    }

    #[test]
    fn other_operations_are_invalid_input() {
        let r = Gemini::build_request(input(
            Operation::Other("images".into()),
            serde_json::json!({}),
        ));
        assert!(matches!(r, Err(PluginError::InvalidInput(m)) if m.contains("images")));
    }

    #[test]
    fn init_sets_the_default_api_base() {
        Gemini::init(r#"{"api_base":"https://proxy.example/v1beta/"}"#.into()).unwrap();
        let r = send(chat(
            serde_json::json!({"model": "g", "messages": [{"role": "user", "content": "hi"}]}),
        ));
        assert_eq!(
            r.url,
            "https://proxy.example/v1beta/models/gemini-2.0-flash:generateContent"
        );
        Gemini::init("{}".into()).unwrap();
        assert!(Gemini::init(r#"{"nope":1}"#.into()).is_err());
    }
}
