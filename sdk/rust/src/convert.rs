//! Conversions between the OpenAI wire types and the contract's types.

use crate::openai;
use crate::types::{Field, Usage};

/// The contract's [`Usage`] for an OpenAI `usage` object.
///
/// `prompt_tokens` becomes `input_tokens`, `completion_tokens`
/// `output_tokens`, `prompt_tokens_details.cached_tokens` `cache_read_tokens`,
/// `prompt_tokens_details.cache_creation_tokens` `cache_write_tokens` and
/// `completion_tokens_details.reasoning_tokens` `reasoning_tokens`. Fields the
/// OpenAI type does not name (top-level ones only) go to `extra`.
pub fn usage_from_openai(usage: &openai::Usage) -> Usage {
    let prompt = usage.prompt_tokens_details.as_ref();
    let completion = usage.completion_tokens_details.as_ref();
    Usage {
        input_tokens: usage.prompt_tokens,
        output_tokens: usage.completion_tokens,
        cache_read_tokens: prompt.and_then(|d| d.cached_tokens).unwrap_or(0),
        cache_write_tokens: prompt.and_then(|d| d.cache_creation_tokens).unwrap_or(0),
        reasoning_tokens: completion.and_then(|d| d.reasoning_tokens).unwrap_or(0),
        extra: usage
            .rest
            .iter()
            .map(|(key, value)| Field {
                key: key.clone(),
                value: value.to_string(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_maps_every_token_class() {
        let usage: openai::Usage = serde_json::from_value(serde_json::json!({
            "prompt_tokens": 100,
            "completion_tokens": 40,
            "total_tokens": 140,
            "prompt_tokens_details": {"cached_tokens": 60, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 25},
            "cost": 0.002
        }))
        .unwrap();
        let u = usage_from_openai(&usage);
        assert_eq!(
            (
                u.input_tokens,
                u.output_tokens,
                u.cache_read_tokens,
                u.cache_write_tokens,
                u.reasoning_tokens
            ),
            (100, 40, 60, 0, 25)
        );
        assert_eq!(
            u.extra,
            vec![Field {
                key: "cost".into(),
                value: "0.002".into()
            }]
        );
    }
}
