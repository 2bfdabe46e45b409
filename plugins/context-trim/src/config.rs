//! The sanitiser's config: a serde type whose JSON Schema `describe`
//! derives (SDK 0.3).

use switchyard_sdk::prelude::{Deserialize, JsonSchema, PluginError};

/// How much room to leave for the answer and what to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Tokens kept free for the answer (default: the request's
    /// `max_tokens`, else 1024).
    pub reserve_tokens: Option<u64>,
    /// The latest turns never dropped; a tool call with its results is one
    /// turn (at least 1).
    #[schemars(range(min = 1))]
    pub keep_last_turns: usize,
    /// The context window to fit when the gateway knows none for the model
    /// group (no deployment declares `max_input_tokens`).
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

impl Config {
    /// What serde cannot say.
    pub fn check(self) -> Result<Config, PluginError> {
        if self.keep_last_turns == 0 {
            return Err(PluginError::InvalidConfig(
                "keep_last_turns must be at least 1 (the latest turn is always kept)".into(),
            ));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ContextTrim;
    use switchyard_sdk::typed::from_json;

    fn parse(json: &str) -> Result<Config, PluginError> {
        from_json::<ContextTrim>(json).map(|p| p.config)
    }

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
}
