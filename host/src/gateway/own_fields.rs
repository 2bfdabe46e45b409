//! The request fields that are the gateway's own: read by Switchyard, or
//! by LiteLLM's proxy (so clients written for it send them), and never
//! sent on to a provider. They carry internal identifiers (the caller's
//! organisation and tier in `metadata`, key and team ids), logging
//! credentials and gateway instructions, and a strict provider refuses an
//! argument it does not know.
//!
//! [`OWN_FIELDS`] is the one list: the deployment body
//! ([`super::request::for_deployment`]) leaves out every field it names,
//! whatever the adapter; every other field passes through to the adapter,
//! which decides what its provider understands (`user`, for one, is
//! OpenAI's own field: the `openai` adapter sends it, `anthropic` maps it
//! to `metadata.user_id`, `gemini` drops it). The gateway reads what it
//! needs of these fields before the body is built (`metadata` and `tags`
//! for the caller and the routers' view, the reliability overrides).
//!
//! LiteLLM's list is `all_litellm_params` in `litellm/types/utils.py`; the
//! entries below are those a client may send (its internal keyword
//! arguments, such as `litellm_logging_obj` or `self`, are covered by the
//! `litellm_` prefix or never arrive in a JSON body).

/// How a field name is matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// This name exactly.
    Exact,
    /// Any name that starts with this.
    Prefix,
}

/// The gateway's own request fields. Kept in groups; order does not matter.
pub const OWN_FIELDS: &[(&str, Match)] = &[
    // Read by Switchyard: the caller's identity, tier and tags
    // (`chat::caller_for`, `views::chat_request_view`), the reliability
    // overrides (`request::Overrides`), and the mock adapter's answer
    // (handed to it as a deployment param, see `attempt::build_input`).
    ("metadata", Match::Exact),
    ("tags", Match::Exact),
    ("num_retries", Match::Exact),
    ("fallbacks", Match::Exact),
    ("disable_fallbacks", Match::Exact),
    ("mock_response", Match::Exact),
    // Caching (LiteLLM's `cache: {no-cache, no-store, ttl, s-maxage}`).
    ("cache", Match::Exact),
    ("caching", Match::Exact),
    ("cache_key", Match::Exact),
    ("preset_cache_key", Match::Exact),
    ("caching_groups", Match::Exact),
    ("ttl", Match::Exact),
    ("no-log", Match::Exact),
    // Reliability and routing.
    ("context_window_fallback_dict", Match::Exact),
    ("context_window_fallbacks", Match::Exact),
    ("content_policy_fallbacks", Match::Exact),
    ("max_fallbacks", Match::Exact),
    ("fallback_depth", Match::Exact),
    ("retry_policy", Match::Exact),
    ("retry_strategy", Match::Exact),
    ("max_retries", Match::Exact),
    ("cooldown_time", Match::Exact),
    ("timeout", Match::Exact),
    ("request_timeout", Match::Exact),
    ("stream_timeout", Match::Exact),
    ("fastest_response", Match::Exact),
    ("mock_timeout", Match::Exact),
    ("model_list", Match::Exact),
    ("max_parallel_requests", Match::Exact),
    ("rpm", Match::Exact),
    ("tpm", Match::Exact),
    // Deployment and pricing settings, which a request does not choose.
    ("api_key", Match::Exact),
    ("api_base", Match::Exact),
    ("api_version", Match::Exact),
    ("custom_llm_provider", Match::Exact),
    ("base_model", Match::Exact),
    ("model_info", Match::Exact),
    ("input_cost_per_token", Match::Exact),
    ("output_cost_per_token", Match::Exact),
    ("input_cost_per_second", Match::Exact),
    ("output_cost_per_second", Match::Exact),
    ("max_budget", Match::Exact),
    ("budget_duration", Match::Exact),
    // The proxy's own: keys, teams, guardrails, prompt management, and
    // LiteLLM's internals (`litellm_metadata`, `litellm_trace_id`,
    // `litellm_session_id`, ...).
    ("user_api_key", Match::Prefix),
    ("litellm_", Match::Prefix),
    ("proxy_server_request", Match::Exact),
    ("guardrails", Match::Exact),
    ("prompt_id", Match::Exact),
    ("prompt_variables", Match::Exact),
    ("prompt_label", Match::Exact),
    // Logging callbacks' per-request credentials.
    ("langfuse_", Match::Prefix),
    ("langsmith_", Match::Prefix),
    ("humanloop_", Match::Prefix),
    ("arize_", Match::Prefix),
    ("gcs_bucket_name", Match::Exact),
    ("gcs_path_service_account", Match::Exact),
    ("turn_off_message_logging", Match::Exact),
];

/// Whether `key` is one of the gateway's own request fields.
pub fn is_own(key: &str) -> bool {
    OWN_FIELDS.iter().any(|&(name, how)| match how {
        Match::Exact => key == name,
        Match::Prefix => key.starts_with(name),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_names_each_field_once() {
        let mut names: Vec<&str> = OWN_FIELDS.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before, "a field is listed twice");
    }

    #[test]
    fn own_fields_are_recognised_and_provider_fields_are_not() {
        for own in [
            "metadata",
            "tags",
            "num_retries",
            "fallbacks",
            "disable_fallbacks",
            "mock_response",
            "cache",
            "caching",
            "context_window_fallback_dict",
            "user_api_key",
            "user_api_key_alias",
            "user_api_key_team_id",
            "litellm_metadata",
            "litellm_trace_id",
            "langfuse_secret_key",
            "api_key",
        ] {
            assert!(is_own(own), "{own}");
        }
        // What OpenAI (and the other providers' adapters) understand.
        for provider in [
            "model",
            "messages",
            "input",
            "user",
            "temperature",
            "top_p",
            "max_tokens",
            "max_completion_tokens",
            "stream",
            "stream_options",
            "tools",
            "tool_choice",
            "parallel_tool_calls",
            "response_format",
            "seed",
            "stop",
            "n",
            "logit_bias",
            "logprobs",
            "top_logprobs",
            "presence_penalty",
            "frequency_penalty",
            "reasoning_effort",
            "service_tier",
            "store",
            "prediction",
            "modalities",
            "audio",
            "prompt_cache_key",
            "safety_identifier",
            "web_search_options",
            "encoding_format",
            "dimensions",
            "top_k",
            "thinking",
            "safety_settings",
            "cached_content",
            "x_vendor_field",
        ] {
            assert!(!is_own(provider), "{provider}");
        }
    }
}
