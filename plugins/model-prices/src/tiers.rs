//! Long-context prices: LiteLLM's `*_above_<N>k_tokens` fields.
//!
//! Anthropic, Google, OpenAI and xAI charge more for a call whose prompt is
//! longer than a threshold (200k tokens for Gemini 2.5 Pro and Grok, 272k
//! for GPT-5.4), and the higher prices then apply to the whole call, not
//! only to the tokens past the threshold. LiteLLM writes them as
//! `input_cost_per_token_above_200k_tokens`,
//! `output_cost_per_token_above_200k_tokens`,
//! `cache_read_input_token_cost_above_200k_tokens` and
//! `cache_creation_input_token_cost_above_200k_tokens` (see
//! `_get_token_base_cost` in LiteLLM's `llm_cost_calc/utils.py`): a tier
//! applies when the call's input tokens (cached ones included) exceed its
//! threshold and it has an input price; the highest such threshold wins;
//! a class the tier does not price keeps its base price.

use serde_json::Value;

/// The prices of one tier; `None` keeps the base price of that class.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tier {
    /// The tier applies to calls with more input tokens than this.
    pub above: u64,
    pub input: Option<f64>,
    pub output: Option<f64>,
    pub cache_read: Option<f64>,
    pub cache_write: Option<f64>,
}

/// The token class a tier field prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Input,
    Output,
    CacheRead,
    CacheWrite,
}

/// LiteLLM's base names of the classes a tier can price.
const BASES: [(&str, Class); 4] = [
    ("input_cost_per_token", Class::Input),
    ("output_cost_per_token", Class::Output),
    ("cache_read_input_token_cost", Class::CacheRead),
    ("cache_creation_input_token_cost", Class::CacheWrite),
];

/// The pattern of a tier field's name, for JSON Schemas.
pub const KEY_PATTERN: &str = "^(input_cost_per_token|output_cost_per_token|cache_read_input_token_cost|cache_creation_input_token_cost)_above_[0-9]+k?_tokens$";

/// The class and threshold of a tier field's name:
/// `<base>_above_<digits>[k]_tokens`, exactly (LiteLLM's
/// `cache_creation_input_token_cost_above_1hr` and the service-tier and
/// batch variants such as `..._above_200k_tokens_priority` are not tiers).
pub fn parse_key(key: &str) -> Option<(Class, u64)> {
    let (class, rest) = BASES.iter().find_map(|(base, class)| {
        key.strip_prefix(base)
            .and_then(|r| r.strip_prefix("_above_"))
            .map(|r| (*class, r))
    })?;
    let count = rest.strip_suffix("_tokens")?;
    let (digits, scale) = match count.strip_suffix('k') {
        Some(d) => (d, 1000),
        None => (count, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits
        .parse::<u64>()
        .ok()?
        .checked_mul(scale)
        .map(|n| (class, n))
}

/// A price as LiteLLM reads one: a JSON number, or a string holding one
/// (`"3e-7"` from a quoted YAML value).
pub fn price_value(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The tiers the `(name, price)` pairs describe; pairs that are no tier
/// field are skipped. Ordered by threshold.
pub fn collect<'a>(pairs: impl IntoIterator<Item = (&'a str, f64)>) -> Vec<Tier> {
    let mut tiers: Vec<Tier> = Vec::new();
    for (key, price) in pairs {
        let Some((class, above)) = parse_key(key) else {
            continue;
        };
        let at = match tiers.iter().position(|t| t.above == above) {
            Some(at) => at,
            None => {
                tiers.push(Tier {
                    above,
                    ..Tier::default()
                });
                tiers.len() - 1
            }
        };
        let tier = &mut tiers[at];
        let slot = match class {
            Class::Input => &mut tier.input,
            Class::Output => &mut tier.output,
            Class::CacheRead => &mut tier.cache_read,
            Class::CacheWrite => &mut tier.cache_write,
        };
        *slot = Some(price);
    }
    tiers.sort_by_key(|t| t.above);
    tiers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_exactly() {
        assert_eq!(
            parse_key("input_cost_per_token_above_200k_tokens"),
            Some((Class::Input, 200_000))
        );
        assert_eq!(
            parse_key("output_cost_per_token_above_272k_tokens"),
            Some((Class::Output, 272_000))
        );
        assert_eq!(
            parse_key("cache_read_input_token_cost_above_128000_tokens"),
            Some((Class::CacheRead, 128_000))
        );
        assert_eq!(
            parse_key("cache_creation_input_token_cost_above_200k_tokens"),
            Some((Class::CacheWrite, 200_000))
        );
        for not_a_tier in [
            "input_cost_per_token",
            "cache_creation_input_token_cost_above_1hr",
            "cache_creation_input_token_cost_above_1hr_above_200k_tokens",
            "input_cost_per_token_above_200k_tokens_priority",
            "input_cost_per_token_above_100k_tokens_batches",
            "input_cost_per_token_above_k_tokens",
            "input_cost_per_token_above_2x_tokens",
            "output_cost_per_reasoning_token_above_200k_tokens",
            "input_cost_per_token_above_99999999999999999999k_tokens",
        ] {
            assert_eq!(parse_key(not_a_tier), None, "{not_a_tier}");
        }
    }

    #[test]
    fn pairs_group_by_threshold() {
        let tiers = collect([
            ("output_cost_per_token_above_200k_tokens", 1.5e-5),
            ("input_cost_per_token", 1.0),
            ("input_cost_per_token_above_200k_tokens", 2.5e-6),
            ("input_cost_per_token_above_128k_tokens", 2e-6),
            ("cache_read_input_token_cost_above_200k_tokens", 2.5e-7),
        ]);
        assert_eq!(
            tiers,
            vec![
                Tier {
                    above: 128_000,
                    input: Some(2e-6),
                    ..Tier::default()
                },
                Tier {
                    above: 200_000,
                    input: Some(2.5e-6),
                    output: Some(1.5e-5),
                    cache_read: Some(2.5e-7),
                    cache_write: None,
                },
            ]
        );
    }

    #[test]
    fn prices_are_numbers_or_numeric_strings() {
        assert_eq!(price_value(&serde_json::json!(3e-7)), Some(3e-7));
        assert_eq!(price_value(&serde_json::json!("3e-7")), Some(3e-7));
        assert_eq!(price_value(&serde_json::json!("cheap")), None);
        assert_eq!(price_value(&serde_json::json!(null)), None);
    }
}
