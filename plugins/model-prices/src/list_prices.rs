//! Providers' published list prices for widely used models, so a LiteLLM
//! config that sets no `model_info` prices still gets its calls priced (as
//! LiteLLM's own model cost map does). A deployment's `model_info` and the
//! config's `default_prices` come first; `list_prices: false` turns this
//! table off. Prices are USD per token, as published in 2025; check them
//! against your invoices and set `model_info` where they differ.

use crate::config::PriceEntry;

/// (model, input per token, output per token, cache read per token).
const TABLE: &[(&str, f64, f64, Option<f64>)] = &[
    // OpenAI
    ("gpt-4o", 2.5e-6, 10e-6, Some(1.25e-6)),
    ("gpt-4o-mini", 0.15e-6, 0.6e-6, Some(0.075e-6)),
    ("gpt-4.1", 2e-6, 8e-6, Some(0.5e-6)),
    ("gpt-4.1-mini", 0.4e-6, 1.6e-6, Some(0.1e-6)),
    ("gpt-4.1-nano", 0.1e-6, 0.4e-6, Some(0.025e-6)),
    ("o3-mini", 1.1e-6, 4.4e-6, Some(0.55e-6)),
    ("o4-mini", 1.1e-6, 4.4e-6, Some(0.275e-6)),
    ("text-embedding-3-small", 0.02e-6, 0.0, None),
    ("text-embedding-3-large", 0.13e-6, 0.0, None),
    // Anthropic
    ("claude-sonnet-4-5", 3e-6, 15e-6, Some(0.3e-6)),
    ("claude-sonnet-4", 3e-6, 15e-6, Some(0.3e-6)),
    ("claude-opus-4-1", 15e-6, 75e-6, Some(1.5e-6)),
    ("claude-haiku-4-5", 1e-6, 5e-6, Some(0.1e-6)),
    ("claude-3-5-haiku", 0.8e-6, 4e-6, Some(0.08e-6)),
    // Google
    ("gemini-2.0-flash", 0.1e-6, 0.4e-6, Some(0.025e-6)),
    ("gemini-2.5-flash", 0.3e-6, 2.5e-6, Some(0.075e-6)),
    ("gemini-2.5-pro", 1.25e-6, 10e-6, Some(0.31e-6)),
];

/// The list price of `model`: by its name, or by the name it snapshots
/// (`claude-sonnet-4-5-20250929`, `gpt-4o-2024-08-06`: a listed name, a dash
/// and a date).
pub fn lookup(model: &str) -> Option<PriceEntry> {
    let model = model.rsplit('/').next().unwrap_or(model);
    TABLE
        .iter()
        .filter(|(name, ..)| {
            model == *name
                || model
                    .strip_prefix(name)
                    .and_then(|rest| rest.strip_prefix('-'))
                    .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
        })
        .max_by_key(|(name, ..)| name.len())
        .map(|(_, input, output, cache_read)| PriceEntry {
            input_per_token: Some(*input),
            output_per_token: Some(*output),
            cache_read_per_token: *cache_read,
            ..PriceEntry::default()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_dated_snapshots_are_found_and_others_are_not() {
        assert_eq!(lookup("gpt-4o").unwrap().input_per_token, Some(2.5e-6));
        assert_eq!(
            lookup("gpt-4o-mini").unwrap().input_per_token,
            Some(0.15e-6)
        );
        assert_eq!(
            lookup("gpt-4o-2024-08-06").unwrap().input_per_token,
            Some(2.5e-6)
        );
        assert_eq!(
            lookup("claude-sonnet-4-5-20250929")
                .unwrap()
                .output_per_token,
            Some(15e-6)
        );
        assert_eq!(
            lookup("meta-llama/gpt-4o").unwrap().input_per_token,
            Some(2.5e-6)
        );
        assert_eq!(lookup("gpt-4o-turbo"), None);
        assert_eq!(lookup("llama3.2"), None);
    }
}
