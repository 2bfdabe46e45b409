//! Snippets for messages; hashing and base64 come from the SDK.

pub use switchyard_sdk::util::{SplitMix64, base64, fnv1a};

/// The start of a text, for error messages.
pub fn snippet(text: &str) -> String {
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}
