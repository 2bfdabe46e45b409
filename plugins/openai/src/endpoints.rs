//! The provider prefixes this adapter serves, their default `api_base`, and
//! the URL and auth header of each operation.

use switchyard_sdk::adapter::{self, percent_encode};
use switchyard_sdk::provider::{Header, Operation, Target};
use switchyard_sdk::types::PluginError;

use crate::config::Config;

/// How a prefix authenticates and shapes its URLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `{api_base}/chat/completions`, `Authorization: Bearer`.
    OpenAi,
    /// `{api_base}/openai/deployments/{model}/...?api-version=`, `api-key`.
    Azure,
}

pub struct Prefix {
    pub name: &'static str,
    /// `None`: the deployment must set `api_base`.
    pub default_base: Option<&'static str>,
    pub flavor: Flavor,
    /// Whether a streamed chat asks for its usage
    /// (`stream_options.include_usage`) unless the config says otherwise:
    /// false where the API refuses the field.
    pub stream_usage: bool,
}

const fn p(name: &'static str, default_base: Option<&'static str>, flavor: Flavor) -> Prefix {
    Prefix {
        name,
        default_base,
        flavor,
        stream_usage: true,
    }
}

impl Prefix {
    /// This prefix, not asking for a stream's usage by default.
    const fn without_stream_usage(self) -> Prefix {
        Prefix {
            stream_usage: false,
            ..self
        }
    }
}

pub const PREFIXES: &[Prefix] = &[
    p("openai", Some("https://api.openai.com/v1"), Flavor::OpenAi),
    p(
        "openrouter",
        Some("https://openrouter.ai/api/v1"),
        Flavor::OpenAi,
    ),
    p(
        "groq",
        Some("https://api.groq.com/openai/v1"),
        Flavor::OpenAi,
    ),
    p(
        "together_ai",
        Some("https://api.together.xyz/v1"),
        Flavor::OpenAi,
    ),
    p(
        "deepseek",
        Some("https://api.deepseek.com/v1"),
        Flavor::OpenAi,
    ),
    // Mistral refuses `stream_options` (422, "extra inputs are not
    // permitted") and reports a stream's usage on its last chunk anyway.
    p("mistral", Some("https://api.mistral.ai/v1"), Flavor::OpenAi).without_stream_usage(),
    p("xai", Some("https://api.x.ai/v1"), Flavor::OpenAi),
    p(
        "fireworks_ai",
        Some("https://api.fireworks.ai/inference/v1"),
        Flavor::OpenAi,
    ),
    p("ollama", Some("http://localhost:11434/v1"), Flavor::OpenAi),
    p(
        "ollama_chat",
        Some("http://localhost:11434/v1"),
        Flavor::OpenAi,
    ),
    p("localai", Some("http://localhost:8080/v1"), Flavor::OpenAi),
    p("hosted_vllm", None, Flavor::OpenAi),
    p(
        "lm_studio",
        Some("http://localhost:1234/v1"),
        Flavor::OpenAi,
    ),
    p("azure", None, Flavor::Azure),
];

/// The names of [`PREFIXES`], in order: what `describe` reports and the
/// config's schema lists.
pub const NAMES: [&str; PREFIXES.len()] = {
    let mut names = [""; PREFIXES.len()];
    let mut i = 0;
    while i < PREFIXES.len() {
        names[i] = PREFIXES[i].name;
        i += 1;
    }
    names
};

pub fn prefix(name: &str) -> Option<&'static Prefix> {
    PREFIXES.iter().find(|p| p.name == name)
}

/// The path of an operation below `api_base`.
fn path(operation: &Operation) -> Result<&'static str, PluginError> {
    match operation {
        Operation::Chat => Ok("chat/completions"),
        Operation::Embeddings => Ok("embeddings"),
        Operation::Other(name) => Err(adapter::unsupported("openai", name, "chat and embeddings")),
    }
}

/// The `api_base` for `target`: the deployment's, else the config's override
/// for the prefix, else the prefix's default. Trailing slashes are dropped.
fn api_base<'a>(
    target: &'a Target,
    config: &'a Config,
    prefix: Option<&'static Prefix>,
) -> Result<&'a str, PluginError> {
    let otherwise = config
        .api_bases
        .get(&target.provider)
        .map(String::as_str)
        .or_else(|| prefix.and_then(|p| p.default_base));
    adapter::api_base(target, otherwise).ok_or_else(|| {
        PluginError::InvalidInput(format!(
            "provider \"{}\" needs api_base: set litellm_params.api_base for model {}",
            target.provider, target.model
        ))
    })
}

/// The URL to call and the auth header to send, if a key is set.
pub fn endpoint(
    operation: &Operation,
    target: &Target,
    config: &Config,
) -> Result<(String, Option<Header>), PluginError> {
    let prefix = prefix(&target.provider);
    let flavor = prefix.map_or(Flavor::OpenAi, |p| p.flavor);
    let path = path(operation)?;
    let base = api_base(target, config, prefix)?;
    let key = target.api_key.as_deref().filter(|k| !k.is_empty());
    Ok(match flavor {
        Flavor::OpenAi => (
            format!("{base}/{path}"),
            key.map(|k| Header {
                name: "Authorization".to_string(),
                value: format!("Bearer {k}"),
            }),
        ),
        Flavor::Azure => {
            let version = target
                .api_version
                .as_deref()
                .filter(|v| !v.is_empty())
                .unwrap_or(&config.azure_api_version);
            (
                format!(
                    "{base}/openai/deployments/{}/{path}?api-version={}",
                    percent_encode(&target.model),
                    percent_encode(version)
                ),
                key.map(|k| Header {
                    name: "api-key".to_string(),
                    value: k.to_string(),
                }),
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::target;

    #[test]
    fn every_prefix_with_a_default_has_a_url() {
        for p in PREFIXES.iter().filter(|p| p.default_base.is_some()) {
            let t = target(p.name, "m", None, Some("k"));
            let (url, auth) = endpoint(&Operation::Chat, &t, &Config::default()).unwrap();
            assert_eq!(
                url,
                format!("{}/chat/completions", p.default_base.unwrap_or_default())
            );
            assert_eq!(auth.unwrap().value, "Bearer k");
        }
    }

    #[test]
    fn deployment_base_wins_and_slashes_are_trimmed() {
        let t = target("openai", "m", Some("http://proxy:4000/v1/"), None);
        let (url, auth) = endpoint(&Operation::Embeddings, &t, &Config::default()).unwrap();
        assert_eq!(url, "http://proxy:4000/v1/embeddings");
        assert!(auth.is_none());
    }

    #[test]
    fn config_override_beats_default() {
        let mut c = Config::default();
        c.api_bases
            .insert("ollama".into(), "http://gpu:11434/v1".into());
        let (url, _) = endpoint(
            &Operation::Chat,
            &target("ollama", "llama3", None, None),
            &c,
        )
        .unwrap();
        assert_eq!(url, "http://gpu:11434/v1/chat/completions");
    }

    #[test]
    fn base_required() {
        for prefix in ["hosted_vllm", "azure", "some_unknown_prefix"] {
            let err = endpoint(
                &Operation::Chat,
                &target(prefix, "m", None, None),
                &Config::default(),
            )
            .unwrap_err();
            assert!(
                matches!(err, PluginError::InvalidInput(m) if m.contains("api_base") && m.contains(prefix))
            );
        }
    }

    #[test]
    fn azure_url_and_header() {
        let mut t = target(
            "azure",
            "gpt 4o",
            Some("https://x.openai.azure.com"),
            Some("az"),
        );
        let (url, auth) = endpoint(&Operation::Chat, &t, &Config::default()).unwrap();
        assert_eq!(
            url,
            "https://x.openai.azure.com/openai/deployments/gpt%204o/chat/completions?api-version=2024-10-21"
        );
        assert_eq!(
            auth,
            Some(Header {
                name: "api-key".into(),
                value: "az".into()
            })
        );
        t.api_version = Some("2025-03-01-preview".into());
        let (url, _) = endpoint(&Operation::Embeddings, &t, &Config::default()).unwrap();
        assert!(
            url.ends_with("/embeddings?api-version=2025-03-01-preview"),
            "{url}"
        );
    }

    #[test]
    fn other_operations_are_invalid_input() {
        let err = endpoint(
            &Operation::Other("images".into()),
            &target("openai", "m", None, None),
            &Config::default(),
        );
        assert!(matches!(err, Err(PluginError::InvalidInput(m)) if m.contains("images")));
    }
}
