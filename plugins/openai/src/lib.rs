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

pub struct OpenAi;

impl Plugin for OpenAi {
    fn describe() -> PluginInfo {
        let mut info =
            switchyard_sdk::info("openai", env!("CARGO_PKG_VERSION"), PluginKind::Provider);
        info.provider_prefixes = endpoints::PREFIXES
            .iter()
            .map(|p| p.name.to_string())
            .collect();
        info.config_schema = Some(config::schema());
        info.description =
            Some("OpenAI and OpenAI-compatible APIs (OpenRouter, Groq, Together, xAI, vLLM, Ollama, Azure, ...)".to_string());
        info
    }

    fn init(config: String) -> Result<(), PluginError> {
        let parsed = config::parse(&config)?;
        CONFIG.with(|c| *c.borrow_mut() = parsed);
        Ok(())
    }
}

impl Provider for OpenAi {
    type Decoder = Decoder;

    fn build_request(input: BuildInput) -> Result<Outbound, PluginError> {
        with_config(|c| build::build_request(input, c))
    }

    fn parse_response(
        input: BuildInput,
        response: HttpResponse,
    ) -> Result<ParsedResponse, ParseError> {
        parse::parse_response(&input, response)
    }
}

export_provider!(OpenAi);

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use switchyard_sdk::provider::{Operation, Target};
    use switchyard_sdk::testing::build_input;

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
        let info = OpenAi::describe();
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
        assert!(info.config_schema.is_some());
    }

    #[test]
    fn init_config_applies_to_build() {
        OpenAi::init(r#"{"azure_api_version":"2099-01-01"}"#.to_string()).unwrap();
        let input = build_input(
            Operation::Chat,
            serde_json::json!({"model": "x", "messages": []}),
            target("azure", "d", Some("https://a.example"), None),
        );
        let Outbound::Send(r) = OpenAi::build_request(input).unwrap() else {
            panic!()
        };
        assert!(r.url.ends_with("api-version=2099-01-01"));
        assert!(OpenAi::init(r#"{"nope":1}"#.to_string()).is_err());
    }
}
