//! Usage in the contract's shape, with the OpenAI-compatible providers'
//! variations.

use switchyard_sdk::openai;
use switchyard_sdk::types::Usage;

/// `usage_from_openai`, plus DeepSeek's `prompt_cache_hit_tokens` as cache
/// reads when `prompt_tokens_details.cached_tokens` is absent.
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
    out
}
