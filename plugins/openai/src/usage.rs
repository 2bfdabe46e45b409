//! Usage in the contract's shape, with the OpenAI-compatible providers'
//! variations.

use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use switchyard_sdk::openai;
use switchyard_sdk::types::Usage;

use crate::shape::StrVisitor;

/// `usage_from_openai` (`prompt_tokens_details.cached_tokens` and
/// `cache_creation_tokens`, `completion_tokens_details.reasoning_tokens`),
/// plus two variations:
///
/// - DeepSeek's `prompt_cache_hit_tokens` as cache reads when
///   `prompt_tokens_details.cached_tokens` is absent;
/// - xAI counts reasoning apart from `completion_tokens` (its
///   `total_tokens` is prompt + completion + reasoning), where OpenAI
///   counts it inside; the contract's output includes reasoning, so such
///   reasoning is added to it. It is told apart by that total, or by more
///   reasoning than completion tokens, which OpenAI's way cannot give.
pub fn convert(usage: &openai::Usage) -> Usage {
    let mut out = switchyard_sdk::usage_from_openai(usage);
    if out.cache_read_tokens == 0
        && let Some(hits) = usage
            .rest
            .get("prompt_cache_hit_tokens")
            .and_then(|v| v.as_u64())
    {
        out.cache_read_tokens = hits;
    }
    let reasoning = out.reasoning_tokens;
    let apart = reasoning > 0
        && (usage.total_tokens
            == usage
                .prompt_tokens
                .saturating_add(usage.completion_tokens)
                .saturating_add(reasoning)
            || reasoning > usage.completion_tokens);
    if apart {
        out.output_tokens = usage.completion_tokens.saturating_add(reasoning);
    }
    out
}

/// A `usage` object read into [`openai::Usage`] without the
/// `#[serde(flatten)]` of that type's own `Deserialize`, which buffers every
/// field (details included) before sorting them out. [`convert`] gives the
/// same answer for both: the counts, the named details and the top-level
/// fields the type does not name (kept in `rest`, as `extra` and DeepSeek's
/// cache hits need) are read alike; only the details' unnamed fields, which
/// nothing reads, are skipped instead of kept.
pub struct Wire(openai::Usage);

impl Wire {
    pub fn convert(&self) -> Usage {
        convert(&self.0)
    }
}

impl<'de> Deserialize<'de> for Wire {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(WireVisitor)
    }
}

struct WireVisitor;

impl<'de> Visitor<'de> for WireVisitor {
    type Value = Wire;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a usage object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Wire, A::Error> {
        let mut u = openai::Usage::default();
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Prompt => u.prompt_tokens = map.next_value()?,
                Key::Completion => u.completion_tokens = map.next_value()?,
                Key::Total => u.total_tokens = map.next_value()?,
                Key::PromptDetails => {
                    let d: Option<PromptDetails> = map.next_value()?;
                    u.prompt_tokens_details = d.map(|d| openai::PromptTokensDetails {
                        cached_tokens: d.cached_tokens,
                        cache_creation_tokens: d.cache_creation_tokens,
                        rest: openai::Rest::new(),
                    });
                }
                Key::CompletionDetails => {
                    let d: Option<CompletionDetails> = map.next_value()?;
                    u.completion_tokens_details = d.map(|d| openai::CompletionTokensDetails {
                        reasoning_tokens: d.reasoning_tokens,
                        rest: openai::Rest::new(),
                    });
                }
                Key::Other(name) => {
                    u.rest.insert(name, map.next_value()?);
                }
            }
        }
        Ok(Wire(u))
    }
}

/// A key of a `usage` object; only the unnamed ones are copied.
enum Key {
    Prompt,
    Completion,
    Total,
    PromptDetails,
    CompletionDetails,
    Other(String),
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_identifier(StrVisitor(|key: &str| match key {
            "prompt_tokens" => Key::Prompt,
            "completion_tokens" => Key::Completion,
            "total_tokens" => Key::Total,
            "prompt_tokens_details" => Key::PromptDetails,
            "completion_tokens_details" => Key::CompletionDetails,
            other => Key::Other(other.to_string()),
        }))
    }
}

#[derive(Deserialize)]
struct PromptDetails {
    cached_tokens: Option<u64>,
    cache_creation_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct CompletionDetails {
    reasoning_tokens: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Usage {
        serde_json::from_str::<Wire>(text).unwrap().convert()
    }

    /// (input, output, cache read, cache write, reasoning).
    fn classes(u: &Usage) -> (u64, u64, u64, u64, u64) {
        (
            u.input_tokens,
            u.output_tokens,
            u.cache_read_tokens,
            u.cache_write_tokens,
            u.reasoning_tokens,
        )
    }

    #[test]
    fn each_token_class() {
        for (text, want) in [
            // Plain input and output.
            (
                r#"{"prompt_tokens":100,"completion_tokens":40,"total_tokens":140}"#,
                (100, 40, 0, 0, 0),
            ),
            // Cache reads are part of prompt_tokens.
            (
                r#"{"prompt_tokens":100,"completion_tokens":40,"total_tokens":140,"prompt_tokens_details":{"cached_tokens":64}}"#,
                (100, 40, 64, 0, 0),
            ),
            // Cache writes, where an OpenAI-compatible API reports them.
            (
                r#"{"prompt_tokens":100,"completion_tokens":40,"total_tokens":140,"prompt_tokens_details":{"cache_creation_tokens":30}}"#,
                (100, 40, 0, 30, 0),
            ),
            // OpenAI's reasoning is part of completion_tokens.
            (
                r#"{"prompt_tokens":100,"completion_tokens":40,"total_tokens":140,"completion_tokens_details":{"reasoning_tokens":25}}"#,
                (100, 40, 0, 0, 25),
            ),
            // DeepSeek's cache hits.
            (
                r#"{"prompt_tokens":50,"completion_tokens":5,"total_tokens":55,"prompt_cache_hit_tokens":30,"prompt_cache_miss_tokens":20}"#,
                (50, 5, 30, 0, 0),
            ),
        ] {
            assert_eq!(classes(&read(text)), want, "{text}");
        }
    }

    #[test]
    fn reasoning_counted_apart_from_completion_is_added_to_output() {
        // xAI: total = prompt + completion + reasoning.
        let u = read(
            r#"{"prompt_tokens":32,"completion_tokens":9,"total_tokens":135,"completion_tokens_details":{"reasoning_tokens":94}}"#,
        );
        assert_eq!(classes(&u), (32, 103, 0, 0, 94));
        // Without a total: more reasoning than completion tokens.
        let u = read(
            r#"{"prompt_tokens":12,"completion_tokens":1,"completion_tokens_details":{"reasoning_tokens":386}}"#,
        );
        assert_eq!(classes(&u), (12, 387, 0, 0, 386));
        // OpenAI's way is left alone, total or not.
        let u = read(
            r#"{"prompt_tokens":12,"completion_tokens":400,"completion_tokens_details":{"reasoning_tokens":386}}"#,
        );
        assert_eq!(classes(&u), (12, 400, 0, 0, 386));
    }

    /// `Wire` converts exactly as the SDK's own `Deserialize` does.
    #[test]
    fn wire_reads_what_the_sdk_type_reads() {
        for text in [
            r#"{"prompt_tokens":100,"completion_tokens":40,"total_tokens":140,"prompt_tokens_details":{"cached_tokens":60,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":25,"audio_tokens":0}}"#,
            r#"{"prompt_tokens":50,"completion_tokens":5,"total_tokens":55,"prompt_cache_hit_tokens":30,"prompt_cache_miss_tokens":20}"#,
            r#"{"prompt_tokens":9,"cost":0.002,"is_byok":false,"cost_details":{"upstream":0.001},"prompt_tokens_details":null}"#,
            r#"{"prompt_tokens":3,"prompt_tokens_details":{"cached_tokens":null,"cache_creation_tokens":7}}"#,
            "{}",
        ] {
            let wire: Wire = serde_json::from_str(text).unwrap();
            let sdk: openai::Usage = serde_json::from_str(text).unwrap();
            assert_eq!(wire.convert(), convert(&sdk), "{text}");
        }
        for bad in [
            r#"{"prompt_tokens":-1}"#,
            r#"{"prompt_tokens":"5"}"#,
            r#"{"completion_tokens_details":{"reasoning_tokens":1.5}}"#,
            "[]",
            "3",
        ] {
            assert!(serde_json::from_str::<Wire>(bad).is_err(), "{bad}");
            assert!(serde_json::from_str::<openai::Usage>(bad).is_err(), "{bad}");
        }
    }
}
