//! Anthropic's `usage` object in OpenAI's shape and in the contract's.
//!
//! Anthropic's `input_tokens` counts only the input that was neither read
//! from nor written to the prompt cache, so the input total (OpenAI's
//! `prompt_tokens`, the contract's `input-tokens`) is `input_tokens +
//! cache_read_input_tokens + cache_creation_input_tokens`. Cache reads become
//! `prompt_tokens_details.cached_tokens` (`cache-read-tokens`), cache writes
//! `prompt_tokens_details.cache_creation_tokens` (`cache-write-tokens`).
//! Anthropic does not count thinking tokens apart from output, so
//! `reasoning-tokens` is 0. The other usage fields (`service_tier`,
//! `server_tool_use`, `cache_creation` by TTL, ...) go to the contract's
//! `extra`.

use serde::Deserialize;
use serde_json::{Map, Value, json};
use switchyard_sdk::types::{Field, Usage};

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct AnthropicUsage {
    #[serde(default)]
    pub input_tokens: Option<u64>,
    #[serde(default)]
    pub output_tokens: Option<u64>,
    #[serde(default)]
    pub cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    pub cache_read_input_tokens: Option<u64>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

impl AnthropicUsage {
    /// Reads a `usage` value; `None` when it is absent, null or not usage.
    pub fn from_value(v: Option<&Value>) -> Option<Self> {
        v.filter(|v| v.is_object())
            .and_then(|v| AnthropicUsage::deserialize(v).ok())
    }

    /// Takes the counts `later` gives (a stream's `message_delta` usage is
    /// cumulative and may give only `output_tokens`).
    pub fn update(&mut self, later: AnthropicUsage) {
        let take = |mine: &mut Option<u64>, theirs: Option<u64>| {
            if theirs.is_some() {
                *mine = theirs;
            }
        };
        take(&mut self.input_tokens, later.input_tokens);
        take(&mut self.output_tokens, later.output_tokens);
        take(
            &mut self.cache_creation_input_tokens,
            later.cache_creation_input_tokens,
        );
        take(
            &mut self.cache_read_input_tokens,
            later.cache_read_input_tokens,
        );
        for (k, v) in later.rest {
            if !v.is_null() {
                self.rest.insert(k, v);
            }
        }
    }

    fn cache_read(&self) -> u64 {
        self.cache_read_input_tokens.unwrap_or(0)
    }

    fn cache_write(&self) -> u64 {
        self.cache_creation_input_tokens.unwrap_or(0)
    }

    /// All input tokens, cached ones included.
    pub fn prompt_tokens(&self) -> u64 {
        self.input_tokens
            .unwrap_or(0)
            .saturating_add(self.cache_read())
            .saturating_add(self.cache_write())
    }

    pub fn completion_tokens(&self) -> u64 {
        self.output_tokens.unwrap_or(0)
    }

    /// OpenAI's `usage` object.
    pub fn to_openai(&self) -> Value {
        let prompt = self.prompt_tokens();
        let completion = self.completion_tokens();
        json!({
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt.saturating_add(completion),
            "prompt_tokens_details": {
                "cached_tokens": self.cache_read(),
                "cache_creation_tokens": self.cache_write(),
            },
        })
    }

    /// The contract's usage record.
    pub fn to_wit(&self) -> Usage {
        Usage {
            input_tokens: self.prompt_tokens(),
            output_tokens: self.completion_tokens(),
            cache_read_tokens: self.cache_read(),
            cache_write_tokens: self.cache_write(),
            reasoning_tokens: 0,
            extra: self
                .rest
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(key, value)| Field {
                    key: key.clone(),
                    value: value.to_string(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_include_cache() {
        let u = AnthropicUsage::from_value(Some(&json!({
            "input_tokens": 20, "output_tokens": 7,
            "cache_creation_input_tokens": 300, "cache_read_input_tokens": 1000,
            "service_tier": "standard", "server_tool_use": null
        })))
        .unwrap();
        assert_eq!(
            u.to_openai(),
            json!({"prompt_tokens": 1320, "completion_tokens": 7, "total_tokens": 1327,
                   "prompt_tokens_details": {"cached_tokens": 1000, "cache_creation_tokens": 300}})
        );
        let w = u.to_wit();
        assert_eq!(
            (
                w.input_tokens,
                w.output_tokens,
                w.cache_read_tokens,
                w.cache_write_tokens,
                w.reasoning_tokens
            ),
            (1320, 7, 1000, 300, 0)
        );
        assert_eq!(
            w.extra,
            vec![Field {
                key: "service_tier".into(),
                value: "\"standard\"".into()
            }]
        );
    }

    #[test]
    fn each_token_class() {
        // (usage, (input, output, cache read, cache write, reasoning)).
        for (usage, want) in [
            (
                json!({"input_tokens": 20, "output_tokens": 7}),
                (20, 7, 0, 0, 0),
            ),
            (
                json!({"input_tokens": 20, "output_tokens": 7, "cache_read_input_tokens": 1000}),
                (1020, 7, 1000, 0, 0),
            ),
            (
                json!({"input_tokens": 20, "output_tokens": 7, "cache_creation_input_tokens": 300}),
                (320, 7, 0, 300, 0),
            ),
            (
                json!({"input_tokens": 20, "output_tokens": 7, "cache_creation_input_tokens": null, "cache_read_input_tokens": null}),
                (20, 7, 0, 0, 0),
            ),
        ] {
            let w = AnthropicUsage::from_value(Some(&usage)).unwrap().to_wit();
            assert_eq!(
                (
                    w.input_tokens,
                    w.output_tokens,
                    w.cache_read_tokens,
                    w.cache_write_tokens,
                    w.reasoning_tokens
                ),
                want,
                "{usage}"
            );
        }
    }

    #[test]
    fn update_keeps_what_the_later_report_lacks() {
        let mut u = AnthropicUsage::from_value(Some(&json!({
            "input_tokens": 25, "output_tokens": 1, "cache_read_input_tokens": 5, "cache_creation_input_tokens": null
        })))
        .unwrap();
        u.update(AnthropicUsage::from_value(Some(&json!({"output_tokens": 15}))).unwrap());
        assert_eq!((u.prompt_tokens(), u.completion_tokens()), (30, 15));
        assert!(AnthropicUsage::from_value(Some(&json!(null))).is_none());
        assert!(AnthropicUsage::from_value(None).is_none());
    }
}
