//! Providers' published list prices for widely used models, so a LiteLLM
//! config that sets no `model_info` prices still gets its calls priced (as
//! LiteLLM's own model cost map does). A deployment's `model_info` and the
//! config's `default_prices` come first; `list_prices: false` turns this
//! table off. A model in none of them is not priced at all: the gateway
//! records its cost as unknown, never as 0.
//!
//! Source: LiteLLM's model cost map (`model_prices_and_context_window.json`,
//! as shipped in the `litellm` 1.110.2 package), read on 2026-12-03. USD
//! per token. Cache writes are Anthropic's five-minute writes; long-context
//! prices apply to a whole call whose input exceeds the threshold
//! ([`crate::tiers`]). Check them against your invoices and set
//! `model_info` where they differ.

use crate::pricing::Rates;
use crate::tiers::Tier;

/// Who serves a listed model at that price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Host {
    /// A model maker's own model name (OpenAI, Anthropic, Google): the
    /// price holds whatever the provider prefix (Azure, OpenRouter and
    /// other resellers list the maker's price), and the name is matched
    /// against the last `/` segment of the deployment's model.
    Any,
    /// An open model on one host, whose price is that host's: matched
    /// only for that provider prefix, against the whole model name.
    Only(&'static str),
}

/// One listed model.
struct Listed {
    host: Host,
    model: &'static str,
    input: f64,
    output: f64,
    cache_read: Option<f64>,
    cache_write: Option<f64>,
    /// Long-context prices.
    long: Option<Tier>,
}

const fn any(model: &'static str, input: f64, output: f64, cache_read: Option<f64>) -> Listed {
    Listed {
        host: Host::Any,
        model,
        input,
        output,
        cache_read,
        cache_write: None,
        long: None,
    }
}

const fn on(
    host: &'static str,
    model: &'static str,
    input: f64,
    output: f64,
    cache_read: Option<f64>,
) -> Listed {
    Listed {
        host: Host::Only(host),
        ..any(model, input, output, cache_read)
    }
}

/// An Anthropic model: cache reads and (five-minute) writes priced.
const fn claude(model: &'static str, input: f64, output: f64, read: f64, write: f64) -> Listed {
    Listed {
        cache_write: Some(write),
        ..any(model, input, output, Some(read))
    }
}

/// `listed`, with long-context prices above `above` input tokens.
const fn long(
    listed: Listed,
    above: u64,
    input: f64,
    output: f64,
    cache_read: Option<f64>,
    cache_write: Option<f64>,
) -> Listed {
    Listed {
        long: Some(Tier {
            above,
            input: Some(input),
            output: Some(output),
            cache_read,
            cache_write,
        }),
        ..listed
    }
}

const TABLE: &[Listed] = &[
    // OpenAI
    any("gpt-4o", 2.5e-6, 10e-6, Some(1.25e-6)),
    any("gpt-4o-mini", 0.15e-6, 0.6e-6, Some(0.075e-6)),
    any("gpt-4.1", 2e-6, 8e-6, Some(0.5e-6)),
    any("gpt-4.1-mini", 0.4e-6, 1.6e-6, Some(0.1e-6)),
    any("gpt-4.1-nano", 0.1e-6, 0.4e-6, Some(0.025e-6)),
    any("gpt-5", 1.25e-6, 10e-6, Some(0.125e-6)),
    any("gpt-5-mini", 0.25e-6, 2e-6, Some(0.025e-6)),
    any("gpt-5-nano", 0.05e-6, 0.4e-6, Some(0.005e-6)),
    any("gpt-5.1", 1.25e-6, 10e-6, Some(0.125e-6)),
    any("gpt-5.2", 1.75e-6, 14e-6, Some(0.175e-6)),
    long(
        any("gpt-5.4", 2.5e-6, 15e-6, Some(0.25e-6)),
        272_000,
        5e-6,
        22.5e-6,
        Some(0.5e-6),
        None,
    ),
    any("gpt-5.4-mini", 0.75e-6, 4.5e-6, Some(0.075e-6)),
    any("gpt-5.4-nano", 0.2e-6, 1.25e-6, Some(0.02e-6)),
    long(
        any("gpt-5.5", 5e-6, 30e-6, Some(0.5e-6)),
        272_000,
        10e-6,
        45e-6,
        Some(1e-6),
        None,
    ),
    any("o3", 2e-6, 8e-6, Some(0.5e-6)),
    any("o3-mini", 1.1e-6, 4.4e-6, Some(0.55e-6)),
    any("o4-mini", 1.1e-6, 4.4e-6, Some(0.275e-6)),
    any("text-embedding-3-small", 0.02e-6, 0.0, None),
    any("text-embedding-3-large", 0.13e-6, 0.0, None),
    // Anthropic
    claude("claude-opus-5", 5e-6, 25e-6, 0.5e-6, 6.25e-6),
    claude("claude-sonnet-5", 2e-6, 10e-6, 0.2e-6, 2.5e-6),
    claude("claude-opus-4-8", 5e-6, 25e-6, 0.5e-6, 6.25e-6),
    claude("claude-opus-4-7", 5e-6, 25e-6, 0.5e-6, 6.25e-6),
    claude("claude-opus-4-6", 5e-6, 25e-6, 0.5e-6, 6.25e-6),
    claude("claude-opus-4-5", 5e-6, 25e-6, 0.5e-6, 6.25e-6),
    claude("claude-sonnet-4-6", 3e-6, 15e-6, 0.3e-6, 3.75e-6),
    claude("claude-sonnet-4-5", 3e-6, 15e-6, 0.3e-6, 3.75e-6),
    claude("claude-haiku-4-5", 1e-6, 5e-6, 0.1e-6, 1.25e-6),
    // Google
    long(
        any("gemini-2.5-pro", 1.25e-6, 10e-6, Some(0.125e-6)),
        200_000,
        2.5e-6,
        15e-6,
        Some(0.25e-6),
        None,
    ),
    any("gemini-2.5-flash", 0.3e-6, 2.5e-6, Some(0.03e-6)),
    any("gemini-2.5-flash-lite", 0.1e-6, 0.4e-6, Some(0.01e-6)),
    long(
        any("gemini-3.1-pro-preview", 2e-6, 12e-6, Some(0.2e-6)),
        200_000,
        4e-6,
        18e-6,
        Some(0.4e-6),
        None,
    ),
    any("gemini-3-flash-preview", 0.5e-6, 3e-6, Some(0.05e-6)),
    any("gemini-3.1-flash-lite", 0.25e-6, 1.5e-6, Some(0.025e-6)),
    any("gemini-3.5-flash", 1.5e-6, 9e-6, Some(0.15e-6)),
    any("gemini-3.5-flash-lite", 0.3e-6, 2.5e-6, Some(0.03e-6)),
    any("gemini-embedding-001", 0.15e-6, 0.0, None),
    // xAI
    long(
        on("xai", "grok-4.7", 2e-6, 6e-6, Some(0.5e-6)),
        200_000,
        4e-6,
        12e-6,
        Some(1e-6),
        None,
    ),
    long(
        on("xai", "grok-4.5", 2e-6, 6e-6, Some(0.3e-6)),
        200_000,
        4e-6,
        12e-6,
        Some(0.6e-6),
        None,
    ),
    long(
        on("xai", "grok-4.3", 1.25e-6, 2.5e-6, Some(0.2e-6)),
        200_000,
        2.5e-6,
        5e-6,
        Some(0.4e-6),
        None,
    ),
    long(
        on("xai", "grok-4.20", 1.25e-6, 2.5e-6, Some(0.2e-6)),
        200_000,
        2.5e-6,
        5e-6,
        Some(0.4e-6),
        None,
    ),
    // DeepSeek
    on(
        "deepseek",
        "deepseek-v4-pro",
        1.32e-6,
        3.96e-6,
        Some(0.044e-6),
    ),
    on(
        "deepseek",
        "deepseek-v4-flash",
        0.3e-6,
        1.2e-6,
        Some(0.006e-6),
    ),
    on(
        "deepseek",
        "deepseek-chat",
        0.28e-6,
        0.42e-6,
        Some(0.028e-6),
    ),
    on(
        "deepseek",
        "deepseek-reasoner",
        0.28e-6,
        0.42e-6,
        Some(0.028e-6),
    ),
    // Mistral
    on(
        "mistral",
        "mistral-large-latest",
        0.5e-6,
        1.5e-6,
        Some(0.05e-6),
    ),
    on(
        "mistral",
        "mistral-medium-latest",
        1.5e-6,
        7.5e-6,
        Some(0.15e-6),
    ),
    on(
        "mistral",
        "mistral-small-latest",
        0.15e-6,
        0.6e-6,
        Some(0.015e-6),
    ),
    on(
        "mistral",
        "magistral-medium-latest",
        1.5e-6,
        7.5e-6,
        Some(0.15e-6),
    ),
    on("mistral", "codestral-latest", 0.3e-6, 0.9e-6, Some(0.03e-6)),
    on("mistral", "devstral-latest", 0.4e-6, 2e-6, Some(0.04e-6)),
    on("mistral", "mistral-embed", 0.1e-6, 0.0, None),
    // Groq
    on(
        "groq",
        "openai/gpt-oss-120b",
        0.15e-6,
        0.6e-6,
        Some(0.075e-6),
    ),
    on(
        "groq",
        "openai/gpt-oss-20b",
        0.075e-6,
        0.3e-6,
        Some(0.0375e-6),
    ),
    // Together AI
    on("together_ai", "openai/gpt-oss-120b", 0.15e-6, 0.6e-6, None),
    on(
        "together_ai",
        "deepseek-ai/DeepSeek-V4.1-Flash",
        0.3e-6,
        1.2e-6,
        Some(0.006e-6),
    ),
    on(
        "together_ai",
        "moonshotai/Kimi-K3",
        3e-6,
        15e-6,
        Some(0.3e-6),
    ),
    on(
        "together_ai",
        "zai-org/GLM-5.3",
        1.4e-6,
        4.4e-6,
        Some(0.26e-6),
    ),
];

/// Whether `model` is `name` or a dated snapshot of it: `name`, a dash and
/// digits (`-20250929`, `-2024-08-06`, `-0825`, `-001`), the first group
/// at least three long, so `claude-sonnet-5-5` is not taken for a snapshot
/// of `claude-sonnet-5`.
fn names(model: &str, name: &str) -> bool {
    let Some(rest) = model.strip_prefix(name) else {
        return false;
    };
    if rest.is_empty() {
        return true;
    }
    let Some(date) = rest.strip_prefix('-') else {
        return false;
    };
    date.split('-').next().is_some_and(|g| g.len() >= 3)
        && date
            .split('-')
            .all(|g| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit()))
}

/// The list prices of `model` served under provider prefix `provider`.
pub fn lookup(provider: &str, model: &str) -> Option<Rates> {
    let last = model.rsplit('/').next().unwrap_or(model);
    TABLE
        .iter()
        .filter(|l| match l.host {
            Host::Any => names(last, l.model),
            Host::Only(host) => host == provider && names(model, l.model),
        })
        .max_by_key(|l| l.model.len())
        .map(|l| Rates {
            input: Some(l.input),
            output: Some(l.output),
            cache_read: l.cache_read,
            cache_write: l.cache_write,
            tiers: l.long.into_iter().collect(),
            ..Rates::default()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(provider: &str, model: &str) -> Option<f64> {
        lookup(provider, model).and_then(|r| r.input)
    }

    #[test]
    fn names_and_dated_snapshots_are_found_and_others_are_not() {
        assert_eq!(input("openai", "gpt-4o"), Some(2.5e-6));
        assert_eq!(input("openai", "gpt-4o-mini"), Some(0.15e-6));
        assert_eq!(input("azure", "gpt-4o-2024-08-06"), Some(2.5e-6));
        assert_eq!(input("openai", "gpt-5-2025-08-07"), Some(1.25e-6));
        assert_eq!(input("openai", "gpt-5.4-2026-03-05"), Some(2.5e-6));
        assert_eq!(
            lookup("anthropic", "claude-sonnet-4-5-20250929")
                .unwrap()
                .output,
            Some(15e-6)
        );
        assert_eq!(input("openrouter", "openai/gpt-4o"), Some(2.5e-6));
        assert_eq!(input("gemini", "gemini-2.5-flash-lite"), Some(0.1e-6));
        assert_eq!(input("openai", "gpt-4o-turbo"), None);
        assert_eq!(input("ollama", "llama3.2"), None);
        // A version is not a snapshot: no price rather than another's.
        assert_eq!(input("anthropic", "claude-sonnet-5-5"), None);
        assert_eq!(input("anthropic", "claude-opus-4-9"), None);
    }

    #[test]
    fn hosted_open_models_are_priced_only_on_their_host() {
        assert_eq!(
            lookup("groq", "openai/gpt-oss-120b").unwrap().cache_read,
            Some(0.075e-6)
        );
        assert_eq!(
            lookup("together_ai", "openai/gpt-oss-120b")
                .unwrap()
                .cache_read,
            None
        );
        assert_eq!(input("fireworks_ai", "openai/gpt-oss-120b"), None);
        assert_eq!(input("groq", "gpt-oss-120b"), None);
        assert_eq!(input("mistral", "mistral-large-latest"), Some(0.5e-6));
        assert_eq!(input("openrouter", "mistral-large-latest"), None);
        assert_eq!(input("deepseek", "deepseek-chat"), Some(0.28e-6));
    }

    #[test]
    fn cache_writes_and_long_context_prices() {
        let claude = lookup("anthropic", "claude-haiku-4-5-20251001").unwrap();
        assert_eq!(
            (claude.cache_read, claude.cache_write),
            (Some(0.1e-6), Some(1.25e-6))
        );
        assert!(claude.tiers.is_empty());
        let pro = lookup("gemini", "gemini-2.5-pro").unwrap();
        assert_eq!(
            pro.tiers,
            vec![Tier {
                above: 200_000,
                input: Some(2.5e-6),
                output: Some(15e-6),
                cache_read: Some(0.25e-6),
                cache_write: None,
            }]
        );
        assert_eq!(lookup("openai", "gpt-5.4").unwrap().tiers[0].above, 272_000);
        assert_eq!(lookup("xai", "grok-4.20").unwrap().tiers[0].above, 200_000);
    }

    #[test]
    fn every_listed_price_is_usable() {
        for l in TABLE {
            let prices = [Some(l.input), Some(l.output), l.cache_read, l.cache_write];
            assert!(
                prices.iter().flatten().all(|p| p.is_finite() && *p >= 0.0),
                "{}",
                l.model
            );
            if let Some(t) = l.long {
                assert!(
                    t.above > 0
                        && t.input.is_some_and(|p| p >= l.input)
                        && t.output.is_some_and(|p| p >= l.output),
                    "{}",
                    l.model
                );
            }
        }
    }
}
