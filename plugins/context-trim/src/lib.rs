//! `context-trim`: fits a conversation into the target model group's
//! context window by dropping turns from the middle.
//!
//! At the request stage, when the conversation's estimated tokens exceed
//! the context window (the smallest `max_input_tokens` among the group's
//! deployments, which the host passes, or the config's `context_window`)
//! minus a reserve for the answer (`reserve_tokens`, else the request's
//! `max_tokens`, else 1024), the oldest turns between the first user turn
//! and the latest `keep_last_turns` are dropped until it fits. System and
//! developer messages, the first user turn and the latest turns stay. An
//! assistant message that calls tools and the tool results that follow it
//! are one turn: dropped together, so no `tool` message is ever left
//! without the call it answers. The verdict is a rewrite (or allow when
//! nothing needs dropping, or dropping cannot help).
//!
//! The estimate is the host's: about four bytes of text a token, 340 an
//! image, plus four a message (so what the host routes on agrees).

mod config;

use std::ops::Range;

use config::{Config, DEFAULT_RESERVE};
use switchyard_sdk::prelude::*;

/// The sanitiser, built from its config once per instance.
pub struct ContextTrim {
    config: Config,
}

impl Plugin for ContextTrim {
    type Config = Config;
    const NAME: &'static str = "context-trim";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: Option<&'static str> = Some(
        "Drops turns from the middle of a conversation that exceeds the model group's context window, keeping system prompts, the first user turn, the latest turns and tool calls with their results",
    );

    fn new(config: Config) -> Result<Self, PluginError> {
        Ok(ContextTrim {
            config: config.check()?,
        })
    }
}

impl Sanitizer for ContextTrim {
    fn sanitize(&self, input: SanitizeInput) -> Result<Verdict, PluginError> {
        Ok(trim(&self.config, &input))
    }
}

/// The size of some messages, as the host estimates it.
#[derive(Debug, Default, Clone, Copy)]
struct Size {
    bytes: u64,
    messages: u64,
}

impl Size {
    fn of(messages: &[Message]) -> Size {
        let bytes = messages
            .iter()
            .flat_map(|m| &m.content)
            .map(|p| match p {
                ContentPart::Text(t) => t.len() as u64,
                ContentPart::ImageUrl(_) => 340,
                ContentPart::Other(j) => j.len() as u64,
            })
            .sum();
        Size {
            bytes,
            messages: messages.len() as u64,
        }
    }

    fn tokens(self) -> u64 {
        self.bytes.div_ceil(4) + 4 * self.messages
    }

    fn minus(self, other: Size) -> Size {
        Size {
            bytes: self.bytes.saturating_sub(other.bytes),
            messages: self.messages.saturating_sub(other.messages),
        }
    }
}

/// The request's turns: one message each, but an assistant message that
/// calls tools together with the tool results right after it.
fn turns(messages: &[Message]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < messages.len() {
        let mut end = i + 1;
        if messages[i].role == Role::Assistant && calls_tools(&messages[i]) {
            while end < messages.len() && messages[end].role == Role::Tool {
                end += 1;
            }
        }
        out.push(i..end);
        i = end;
    }
    out
}

fn calls_tools(m: &Message) -> bool {
    m.extra
        .iter()
        .any(|f| f.key == "tool_calls" && f.value != "null" && f.value != "[]")
}

/// The verdict for one request.
pub fn trim(config: &Config, input: &SanitizeInput) -> Verdict {
    if input.stage != Stage::Request {
        return Verdict::Allow;
    }
    let Some(window) = input.context_window.or(config.context_window) else {
        return Verdict::Allow;
    };
    let reserve = config
        .reserve_tokens
        .or(input.request.max_tokens.map(u64::from))
        .unwrap_or(DEFAULT_RESERVE);
    let budget = window.saturating_sub(reserve);
    let messages = &input.request.messages;
    let mut size = Size::of(messages);
    if size.tokens() <= budget {
        return Verdict::Allow;
    }
    let turns = turns(messages);
    let first_user = turns
        .iter()
        .position(|t| messages[t.clone()].iter().any(|m| m.role == Role::User));
    let latest = turns.len().saturating_sub(config.keep_last_turns);
    let mut dropped = vec![false; turns.len()];
    for (i, turn) in turns.iter().enumerate() {
        if size.tokens() <= budget || i >= latest {
            break;
        }
        let pinned = Some(i) == first_user
            || messages[turn.clone()]
                .iter()
                .any(|m| matches!(m.role, Role::System | Role::Developer));
        if !pinned {
            dropped[i] = true;
            size = size.minus(Size::of(&messages[turn.clone()]));
        }
    }
    if !dropped.contains(&true) {
        return Verdict::Allow;
    }
    let kept = turns
        .iter()
        .zip(&dropped)
        .filter(|(_, d)| !**d)
        .flat_map(|(t, _)| messages[t.clone()].iter().cloned())
        .collect();
    Verdict::Rewrite(kept)
}

switchyard_sdk::export!(sanitizer ContextTrim);

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_sdk::testing::{caller, chat_request, text};
    use switchyard_sdk::types::Field;

    fn input(messages: Vec<Message>, window: Option<u64>) -> SanitizeInput {
        SanitizeInput {
            stage: Stage::Request,
            request: chat_request("m", messages),
            caller: caller(),
            response: vec![],
            window: None,
            finish_reason: None,
            context_window: window,
            estimated_input_tokens: 0,
        }
    }

    /// A message of `n` bytes of text (n/4 tokens + 4).
    fn sized(role: Role, tag: &str, n: usize) -> Message {
        text(role, &format!("{tag}{}", "x".repeat(n - tag.len())))
    }

    fn tool_call(tag: &str) -> Message {
        let mut m = sized(Role::Assistant, tag, 40);
        m.extra.push(Field {
            key: "tool_calls".into(),
            value: r#"[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]"#
                .into(),
        });
        m
    }

    fn tags(v: &Verdict) -> Vec<String> {
        let Verdict::Rewrite(ms) = v else {
            return vec![];
        };
        ms.iter()
            .map(|m| match &m.content[0] {
                ContentPart::Text(t) => t.trim_end_matches('x').to_string(),
                _ => String::new(),
            })
            .collect()
    }

    fn conversation() -> Vec<Message> {
        vec![
            sized(Role::System, "sys", 40),
            sized(Role::User, "u1", 40),
            sized(Role::Assistant, "a1", 40),
            sized(Role::User, "u2", 40),
            tool_call("a2"),
            sized(Role::Tool, "t2", 40),
            sized(Role::Tool, "t3", 40),
            sized(Role::Assistant, "a3", 40),
            sized(Role::User, "u4", 40),
        ]
    }

    #[test]
    fn a_conversation_that_fits_is_allowed() {
        // 9 messages of 40 bytes: 90 + 36 = 126 tokens.
        let c = Config {
            reserve_tokens: Some(0),
            ..Config::default()
        };
        assert_eq!(trim(&c, &input(conversation(), Some(126))), Verdict::Allow);
        assert_eq!(trim(&c, &input(conversation(), None)), Verdict::Allow);
    }

    #[test]
    fn the_middle_goes_oldest_first_and_a_tool_call_with_its_results() {
        let c = Config {
            reserve_tokens: Some(0),
            ..Config::default()
        };
        // One message over (14 tokens each): a1 goes.
        let v = trim(&c, &input(conversation(), Some(125)));
        assert_eq!(tags(&v), ["sys", "u1", "u2", "a2", "t2", "t3", "a3", "u4"]);
        // Three over: a1, u2, then the tool call with both results.
        let v = trim(&c, &input(conversation(), Some(126 - 3 * 14)));
        assert_eq!(tags(&v), ["sys", "u1", "a3", "u4"]);
        // Nothing more can go: the same.
        let v = trim(&c, &input(conversation(), Some(10)));
        assert_eq!(tags(&v), ["sys", "u1", "a3", "u4"]);
    }

    #[test]
    fn the_reserve_is_the_config_then_max_tokens_then_1024() {
        let mut i = input(conversation(), Some(126 + 1024));
        assert_eq!(trim(&Config::default(), &i), Verdict::Allow);
        i.context_window = Some(126 + 1023);
        assert_eq!(tags(&trim(&Config::default(), &i))[2], "u2");
        i.request.max_tokens = Some(1);
        assert_eq!(trim(&Config::default(), &i), Verdict::Allow);
        let c = Config {
            reserve_tokens: Some(2000),
            ..Config::default()
        };
        assert_ne!(trim(&c, &i), Verdict::Allow);
    }

    #[test]
    fn the_configs_window_serves_when_the_host_knows_none() {
        let c = Config {
            reserve_tokens: Some(0),
            context_window: Some(125),
            ..Config::default()
        };
        assert_eq!(tags(&trim(&c, &input(conversation(), None))).len(), 8);
        // The host's window wins.
        assert_eq!(trim(&c, &input(conversation(), Some(500))), Verdict::Allow);
    }

    #[test]
    fn other_stages_pass() {
        let mut i = input(conversation(), Some(1));
        i.stage = Stage::Response;
        assert_eq!(trim(&Config::default(), &i), Verdict::Allow);
    }

    #[test]
    fn built_from_its_config() {
        assert!(
            switchyard_sdk::typed::from_json::<ContextTrim>(r#"{"keep_last_turns":0}"#).is_err()
        );
        let p: ContextTrim = switchyard_sdk::typed::from_json(r#"{"reserve_tokens":0}"#).unwrap();
        let v = p.sanitize(input(conversation(), Some(125))).unwrap();
        assert_eq!(tags(&v).len(), 8);
    }
}
