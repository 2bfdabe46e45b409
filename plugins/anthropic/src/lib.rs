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

use config::Config;
use switchyard_sdk::prelude::*;

pub use stream::Decoder;

/// The adapter: its config, kept per instance by the SDK.
pub struct Anthropic {
    config: Config,
}

impl Plugin for Anthropic {
    type Config = Config;
    const NAME: &'static str = "anthropic";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: Option<&'static str> = Some(
        "Anthropic Messages API (Claude): OpenAI chat completions, tools, images and streams translated both ways",
    );

    fn new(config: Config) -> Result<Self, PluginError> {
        config.check()?;
        Ok(Anthropic { config })
    }
}

impl Provider for Anthropic {
    const PREFIXES: &'static [&'static str] = &["anthropic"];
    type Decoder = Decoder;

    fn build_request(&self, input: BuildInput) -> Result<Outbound, PluginError> {
        request::build_request(&input, &self.config)
    }

    fn parse_response(
        &self,
        input: BuildInput,
        response: HttpResponse,
    ) -> Result<ParsedResponse, ParseError> {
        response::parse_response(&input, response)
    }

    fn decoder(&self, input: BuildInput) -> Decoder {
        Decoder::new(input)
    }
}

switchyard_sdk::export!(provider Anthropic);

#[cfg(test)]
mod golden;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use switchyard_sdk::provider::{Operation, Target};
    use switchyard_sdk::testing;
    use switchyard_sdk::types::PluginKind;

    pub fn target(model: &str) -> Target {
        Target {
            api_key: Some("sk-ant-test".to_string()),
            ..testing::target("anthropic", model)
        }
    }

    pub fn chat_input(body: serde_json::Value) -> BuildInput {
        testing::build_input(Operation::Chat, body, target("claude-sonnet-4-20250514"))
    }

    /// The adapter built from `{}`, as the gateway would.
    pub fn adapter() -> Anthropic {
        switchyard_sdk::typed::from_json("{}").unwrap()
    }

    #[test]
    fn describe_names_the_prefix_and_schema() {
        let info = switchyard_sdk::typed::describe::<Anthropic>(
            PluginKind::Provider,
            <Anthropic as Provider>::PREFIXES,
        );
        assert_eq!(info.name, "anthropic");
        assert_eq!(info.kind, PluginKind::Provider);
        assert_eq!(info.provider_prefixes, vec!["anthropic".to_string()]);
        assert!(info.description.is_some());
        let schema: serde_json::Value =
            serde_json::from_str(info.config_schema.as_deref().unwrap()).unwrap();
        assert_eq!(schema["type"], "object");
        assert_eq!(schema["additionalProperties"], false);
    }

    #[test]
    fn the_config_it_is_built_from_applies_to_build() {
        let adapter: Anthropic =
            switchyard_sdk::typed::from_json(r#"{"default_max_tokens":77}"#).unwrap();
        let Outbound::Send(r) = adapter
            .build_request(chat_input(
                serde_json::json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}),
            ))
            .unwrap()
        else {
            panic!()
        };
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["max_tokens"], 77);
        let err = switchyard_sdk::typed::from_json::<Anthropic>(r#"{"nope":1}"#).err();
        assert!(
            matches!(&err, Some(PluginError::InvalidConfig(m)) if m.contains("nope")),
            "{err:?}"
        );
        let err =
            switchyard_sdk::typed::from_json::<Anthropic>(r#"{"default_max_tokens":"x"}"#).err();
        assert!(
            matches!(&err, Some(PluginError::InvalidConfig(m)) if m.starts_with("default_max_tokens: ")),
            "{err:?}"
        );
    }
}
