//! `anthropic`: the adapter for Anthropic's Messages API
//! (`POST {api_base}/v1/messages`).
//!
//! A pure translator. `build-request` turns an OpenAI chat completion request
//! into a Messages request ([`request`]), `parse-response` turns a message
//! (or an Anthropic error) into a `chat.completion` (or a provider error,
//! [`response`], [`errors`]), and the stream decoder turns the Messages
//! stream's events (`message_start`, `content_block_*`, `message_delta`,
//! `message_stop`, `ping`, `error`) into `chat.completion.chunk`s
//! ([`stream`]).
//!
//! The plugin has no clock, so the `created` field of answers and chunks is
//! `0` unless the host passes a Unix time in the deployment's params as
//! `created` (`target.params`, a JSON number).
//!
//! Config (all optional): `default_max_tokens` (sent when the request has
//! neither `max_tokens` nor `max_completion_tokens`; 4096), `api_base`
//! (instead of `https://api.anthropic.com`; a deployment's own `api_base`
//! still wins) and `anthropic_version` (the `anthropic-version` header;
//! `2023-06-01`; a deployment's `api_version` still wins).

pub mod config;
pub mod errors;
pub mod request;
pub mod response;
pub mod stream;
mod usage;

use std::cell::RefCell;

use config::Config;
use switchyard_sdk::export_provider;
use switchyard_sdk::provider::{BuildInput, HttpResponse, Outbound, ParseError, ParsedResponse};
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

pub struct Anthropic;

impl Plugin for Anthropic {
    fn describe() -> PluginInfo {
        let mut info =
            switchyard_sdk::info("anthropic", env!("CARGO_PKG_VERSION"), PluginKind::Provider);
        info.provider_prefixes = vec!["anthropic".to_string()];
        info.config_schema = Some(config::schema());
        info.description = Some(
            "Anthropic Messages API (Claude): OpenAI chat completions, tools, images and streams translated both ways"
                .to_string(),
        );
        info
    }

    fn init(config: String) -> Result<(), PluginError> {
        let parsed = config::parse(&config)?;
        CONFIG.with(|c| *c.borrow_mut() = parsed);
        Ok(())
    }
}

impl Provider for Anthropic {
    type Decoder = Decoder;

    fn build_request(input: BuildInput) -> Result<Outbound, PluginError> {
        with_config(|c| request::build_request(&input, c))
    }

    fn parse_response(
        input: BuildInput,
        response: HttpResponse,
    ) -> Result<ParsedResponse, ParseError> {
        response::parse_response(&input, response)
    }
}

export_provider!(Anthropic);

#[cfg(test)]
mod golden;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use switchyard_sdk::provider::{Operation, Target};
    use switchyard_sdk::testing;

    pub fn target(model: &str) -> Target {
        Target {
            api_key: Some("sk-ant-test".to_string()),
            ..testing::target("anthropic", model)
        }
    }

    pub fn chat_input(body: serde_json::Value) -> BuildInput {
        testing::build_input(Operation::Chat, body, target("claude-sonnet-4-20250514"))
    }

    #[test]
    fn describe_names_the_prefix_and_schema() {
        let info = Anthropic::describe();
        assert_eq!(info.name, "anthropic");
        assert_eq!(info.kind, PluginKind::Provider);
        assert_eq!(info.provider_prefixes, vec!["anthropic".to_string()]);
        let schema: serde_json::Value =
            serde_json::from_str(info.config_schema.as_deref().unwrap()).unwrap();
        assert_eq!(schema["type"], "object");
    }

    #[test]
    fn init_config_applies_to_build() {
        Anthropic::init(r#"{"default_max_tokens":77}"#.to_string()).unwrap();
        let Outbound::Send(r) = Anthropic::build_request(chat_input(
            serde_json::json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}),
        ))
        .unwrap() else {
            panic!()
        };
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["max_tokens"], 77);
        assert!(Anthropic::init(r#"{"nope":1}"#.to_string()).is_err());
        Anthropic::init("{}".to_string()).unwrap();
    }
}
