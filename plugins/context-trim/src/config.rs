//! The sanitiser's config.

use serde::Deserialize;
use switchyard_sdk::types::PluginError;

/// How much room to leave and what to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Tokens kept free for the answer; `None`: the request's `max_tokens`,
    /// else [`DEFAULT_RESERVE`].
    pub reserve_tokens: Option<u64>,
    /// The latest turns never dropped (a tool call and its results count
    /// as one turn).
    pub keep_last_turns: usize,
    /// The context window to fit when the host knows none (no deployment
    /// of the group declares `max_input_tokens`).
    pub context_window: Option<u64>,
}

/// Tokens reserved for the answer when neither the config nor the request
/// says.
pub const DEFAULT_RESERVE: u64 = 1024;

impl Default for Config {
    fn default() -> Self {
        Config {
            reserve_tokens: None,
            keep_last_turns: 2,
            context_window: None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    reserve_tokens: Option<u64>,
    #[serde(default)]
    keep_last_turns: Option<usize>,
    #[serde(default)]
    context_window: Option<u64>,
}

pub fn parse(config: &str) -> Result<Config, PluginError> {
    let raw: RawConfig = switchyard_sdk::parse_config(config)?;
    let keep_last_turns = raw.keep_last_turns.unwrap_or(2);
    if keep_last_turns == 0 {
        return Err(PluginError::InvalidConfig(
            "keep_last_turns must be at least 1 (the latest turn is always kept)".into(),
        ));
    }
    Ok(Config {
        reserve_tokens: raw.reserve_tokens,
        keep_last_turns,
        context_window: raw.context_window,
    })
}

pub fn schema() -> String {
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "context-trim config",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "reserve_tokens": {
                "description": "Tokens kept free for the answer (default: the request's max_tokens, else 1024).",
                "type": "integer", "minimum": 0
            },
            "keep_last_turns": {
                "description": "The latest turns never dropped; a tool call with its results is one turn.",
                "type": "integer", "minimum": 1, "default": 2
            },
            "context_window": {
                "description": "The context window to fit when the gateway knows none for the model group.",
                "type": "integer", "minimum": 1
            }
        }
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_keys() {
        assert_eq!(parse("{}").unwrap(), Config::default());
        let c = parse(r#"{"reserve_tokens":10,"keep_last_turns":3,"context_window":99}"#).unwrap();
        assert_eq!(
            c,
            Config {
                reserve_tokens: Some(10),
                keep_last_turns: 3,
                context_window: Some(99)
            }
        );
    }

    #[test]
    fn bad_config_is_named() {
        assert!(
            matches!(parse(r#"{"keep_last_turns":0}"#), Err(PluginError::InvalidConfig(m)) if m.contains("keep_last_turns"))
        );
        assert!(
            matches!(parse(r#"{"reserve":1}"#), Err(PluginError::InvalidConfig(m)) if m.contains("reserve"))
        );
    }

    #[test]
    fn schema_is_json() {
        let v: serde_json::Value = serde_json::from_str(&schema()).unwrap();
        assert_eq!(v["properties"]["keep_last_turns"]["default"], 2);
    }
}
