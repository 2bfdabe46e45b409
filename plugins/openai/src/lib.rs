//! `openai`: the adapter for OpenAI and every OpenAI-compatible API
//! (OpenRouter, Groq, Together, DeepSeek, Mistral, xAI, Fireworks, Ollama,
//! LocalAI, vLLM, LM Studio, Azure OpenAI).
//!
//! Requests go out in the format they came in, with `model` set to the
//! deployment's model; answers and stream chunks come back as they are,
//! checked against the OpenAI types and with their usage read. Provider
//! errors keep the provider's message and code and get a class from the
//! status (and, for 400s, from context-length and content-filter codes).

mod build;
mod config;
mod endpoints;
mod errors;
mod parse;
mod shape;
mod stream;
mod usage;

use config::Config;
use switchyard_sdk::prelude::*;

pub use stream::Chunks;

/// The adapter: its config, kept per instance by the SDK.
pub struct OpenAi {
    config: Config,
}

impl Plugin for OpenAi {
    type Config = Config;
    const NAME: &'static str = "openai";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: Option<&'static str> = Some(
        "OpenAI and OpenAI-compatible APIs (OpenRouter, Groq, Together, xAI, vLLM, Ollama, Azure, ...)",
    );

    fn new(config: Config) -> Result<Self, PluginError> {
        config.check()?;
        Ok(OpenAi { config })
    }
}

impl Provider for OpenAi {
    const PREFIXES: &'static [&'static str] = &endpoints::NAMES;
    type Decoder = Chunks;

    fn build_request(&self, input: BuildInput) -> Result<Outbound, PluginError> {
        build::build_request(input, &self.config)
    }

    fn parse_response(
        &self,
        input: BuildInput,
        response: HttpResponse,
    ) -> Result<ParsedResponse, ParseError> {
        parse::parse_response(&input, response)
    }

    fn decoder(&self, _input: BuildInput) -> Chunks {
        Chunks::default()
    }
}

switchyard_sdk::export!(provider OpenAi);

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use switchyard_sdk::provider::{Operation, Target};
    use switchyard_sdk::testing::build_input;
    use switchyard_sdk::types::PluginKind;

    pub fn target(
        provider: &str,
        model: &str,
        api_base: Option<&str>,
        api_key: Option<&str>,
    ) -> Target {
        Target {
            api_base: api_base.map(str::to_string),
            api_key: api_key.map(str::to_string),
            ..switchyard_sdk::testing::target(provider, model)
        }
    }

    #[test]
    fn describe_lists_every_prefix() {
        let info = switchyard_sdk::typed::describe::<OpenAi>(
            PluginKind::Provider,
            <OpenAi as Provider>::PREFIXES,
        );
        assert_eq!(info.name, "openai");
        assert_eq!(info.kind, PluginKind::Provider);
        for p in [
            "openai",
            "openrouter",
            "groq",
            "together_ai",
            "deepseek",
            "mistral",
            "fireworks_ai",
            "ollama",
            "ollama_chat",
            "localai",
            "hosted_vllm",
            "lm_studio",
            "xai",
            "azure",
        ] {
            assert!(info.provider_prefixes.iter().any(|x| x == p), "{p}");
        }
        assert_eq!(info.provider_prefixes.len(), endpoints::PREFIXES.len());
        assert!(info.config_schema.unwrap().contains("azure_api_version"));
        assert!(info.description.is_some());
    }

    #[test]
    fn the_config_it_is_built_from_is_the_one_build_uses() {
        let openai: OpenAi =
            switchyard_sdk::typed::from_json(r#"{"azure_api_version":"2099-01-01"}"#).unwrap();
        let input = build_input(
            Operation::Chat,
            serde_json::json!({"model": "x", "messages": []}),
            target("azure", "d", Some("https://a.example"), None),
        );
        let Outbound::Send(r) = openai.build_request(input).unwrap() else {
            panic!()
        };
        assert!(r.url.ends_with("api-version=2099-01-01"));
    }

    #[test]
    fn a_bad_config_is_refused_naming_the_field() {
        let message = |json: &str| match switchyard_sdk::typed::from_json::<OpenAi>(json) {
            Err(PluginError::InvalidConfig(m)) => m,
            Err(other) => panic!("{json}: wrong error {other:?}"),
            Ok(_) => panic!("{json}: accepted"),
        };
        assert!(message(r#"{"nope":1}"#).contains("unknown field `nope`"));
        assert!(message(r#"{"azure_api_version":5}"#).starts_with("azure_api_version: "));
        assert!(message(r#"{"api_bases":{"ollama":1}}"#).starts_with("api_bases.ollama: "));
        assert!(
            message(r#"{"api_bases":{"anthropic":"x"}}"#)
                .starts_with("api_bases: unknown provider prefix \"anthropic\"")
        );
    }
}
