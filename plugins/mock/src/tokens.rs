//! Token estimates: about four characters a token, and four tokens of
//! framing per message, so usage (and cost tracking) looks like a real
//! provider's.

use switchyard_sdk::openai::ChatMessage;

/// `ceil(chars / 4)`.
pub fn estimate(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

/// The prompt's tokens: `ceil(chars / 4) + 4` per message.
pub fn prompt(messages: &[ChatMessage]) -> u64 {
    messages
        .iter()
        .map(|m| estimate(&m.content.as_ref().map(|c| c.text()).unwrap_or_default()) + 4)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates() {
        assert_eq!(estimate(""), 0);
        assert_eq!(estimate("abcd"), 1);
        assert_eq!(estimate("abcde"), 2);
        assert_eq!(estimate("ééééé"), 2);
        let messages: Vec<ChatMessage> = serde_json::from_value(serde_json::json!([
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Hello"}]},
            {"role": "assistant", "content": null}
        ]))
        .unwrap();
        // 3 + 4, 2 + 4, 0 + 4
        assert_eq!(prompt(&messages), 17);
    }
}
