//! Builders for a plugin's native tests.
//!
//! The contract's records have no `Default`, so a test would otherwise spell
//! out every field of a `Deployment` or a `ChatRequest`. Each builder here
//! returns the plain record with the fewest assumptions (no prices, no
//! limits, no tags, an anonymous caller, a healthy idle candidate); change
//! the fields a test is about with struct update syntax or by assigning
//! them.
//!
//! ```
//! use switchyard_sdk::router::Health;
//! use switchyard_sdk::testing::{candidate, deployment, route_request, text};
//! use switchyard_sdk::types::Role;
//!
//! // A table with a deployment of another group first, so a router that
//! // confuses a candidate's position with its table index fails the test.
//! let mut cheap = deployment("cheap", "gpt-4o");
//! cheap.prices.input_per_token = Some(1e-6);
//! let table = vec![deployment("elsewhere", "claude"), cheap];
//!
//! let mut request = route_request("gpt-4o", vec![text(Role::User, "hi")]);
//! request.candidates = vec![candidate(1)];
//! request.candidates[0].health = Health::CoolingDown(5_000);
//!
//! let joined: Vec<_> = switchyard_sdk::routing::joined(&request, &table).collect();
//! assert_eq!(joined[0].1.id, "cheap");
//! ```

use crate::provider::{BuildInput, HttpResponse, Operation, Target};
use crate::router::{Candidate, Deployment, Health, RouteDecision, RouteRequest};
use crate::types::{Caller, ChatRequest, ContentPart, Message, Prices, Role, Usage};

/// Prices with every price unset.
pub fn no_prices() -> Prices {
    Prices {
        input_per_token: None,
        output_per_token: None,
        cache_read_per_token: None,
        cache_write_per_token: None,
        reasoning_per_token: None,
        per_request: None,
        extra: vec![],
    }
}

/// A deployment table entry of model group `group`: provider `openai`,
/// model `id`, no limits, no prices, no context window, no tags, no weight,
/// no order.
pub fn deployment(id: &str, group: &str) -> Deployment {
    Deployment {
        id: id.to_string(),
        model_group: group.to_string(),
        provider: "openai".to_string(),
        model: id.to_string(),
        rpm_limit: None,
        tpm_limit: None,
        prices: no_prices(),
        context_window: None,
        tags: vec![],
        weight: None,
        order: None,
        extra: vec![],
    }
}

/// The candidate at table index `index`: healthy, nothing in flight, no
/// latency measured, nothing used this minute.
pub fn candidate(index: u32) -> Candidate {
    Candidate {
        deployment: index,
        health: Health::Healthy,
        in_flight: 0,
        latency_avg_ms: None,
        ttft_avg_ms: None,
        rpm_used: 0,
        tpm_used: 0,
    }
}

/// An anonymous caller: no key alias, user, team, tags, tier or metadata.
pub fn caller() -> Caller {
    Caller {
        key_alias: None,
        user: None,
        team: None,
        tags: vec![],
        tier: None,
        metadata: vec![],
    }
}

/// A message of these parts, with no `name` or other fields.
pub fn message(role: Role, content: Vec<ContentPart>) -> Message {
    Message {
        role,
        content,
        name: None,
        extra: vec![],
    }
}

/// A message of one text part.
pub fn text(role: Role, text: &str) -> Message {
    message(role, vec![ContentPart::Text(text.to_string())])
}

/// A chat request for `model`: not streamed, no `max_tokens`, tags,
/// metadata or other fields.
pub fn chat_request(model: &str, messages: Vec<Message>) -> ChatRequest {
    ChatRequest {
        model: model.to_string(),
        messages,
        stream: false,
        max_tokens: None,
        tags: vec![],
        metadata: vec![],
        extra: vec![],
    }
}

/// A route request for [`chat_request`]`(model, messages)` from an anonymous
/// caller, with no candidates, no estimated tokens, seed 0 and the clock at
/// 0. Set `candidates` to [`candidate`]s indexing the test's table.
pub fn route_request(model: &str, messages: Vec<Message>) -> RouteRequest {
    RouteRequest {
        request: chat_request(model, messages),
        caller: caller(),
        candidates: vec![],
        estimated_input_tokens: 0,
        seed: 0,
        now_ms: 0,
    }
}

/// The ids of the deployments a decision names, in its order. An index
/// outside `table` (which the host would reject) shows as `"#<index>"`.
pub fn order_ids(decision: &RouteDecision, table: &[Deployment]) -> Vec<String> {
    decision
        .order
        .iter()
        .map(|&i| match table.get(i as usize) {
            Some(d) => d.id.clone(),
            None => format!("#{i}"),
        })
        .collect()
}

/// Usage of `input` prompt and `output` completion tokens, with no cached
/// or reasoning tokens.
pub fn usage(input: u64, output: u64) -> Usage {
    Usage {
        input_tokens: input,
        output_tokens: output,
        cache_read_tokens: 0,
        cache_write_tokens: 0,
        reasoning_tokens: 0,
        extra: vec![],
    }
}

/// A provider target: `provider` is the prefix, `model` the provider's
/// model name; no API base, key or version, no params.
pub fn target(provider: &str, model: &str) -> Target {
    Target {
        provider: provider.to_string(),
        model: model.to_string(),
        api_base: None,
        api_key: None,
        api_version: None,
        params: vec![],
    }
}

/// A provider adapter's input: the OpenAI request `body` for `target`.
pub fn build_input(operation: Operation, body: serde_json::Value, target: Target) -> BuildInput {
    BuildInput {
        operation,
        body: body.to_string(),
        target,
    }
}

/// A provider's HTTP answer with no headers.
pub fn http_response(status: u16, body: &str) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![],
        body: body.as_bytes().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::joined;

    #[test]
    fn candidates_index_the_table() {
        let table = vec![deployment("elsewhere", "other"), deployment("a", "g")];
        let mut request = route_request("g", vec![text(Role::User, "hi")]);
        request.candidates = vec![candidate(1)];
        let ids: Vec<&str> = joined(&request, &table)
            .map(|(_, d)| d.id.as_str())
            .collect();
        assert_eq!(ids, ["a"]);
        let decision = RouteDecision {
            order: vec![1, 0, 9],
            model_group: None,
            reason: None,
            extra: vec![],
        };
        assert_eq!(order_ids(&decision, &table), ["a", "elsewhere", "#9"]);
    }

    #[test]
    fn builders_set_nothing_optional() {
        let d = deployment("x", "g");
        assert_eq!((d.model.as_str(), d.provider.as_str()), ("x", "openai"));
        assert_eq!(d.prices, no_prices());
        let r = route_request("g", vec![]);
        assert_eq!(r.caller, caller());
        assert_eq!((r.seed, r.now_ms, r.estimated_input_tokens), (0, 0, 0));
        let i = build_input(
            Operation::Chat,
            serde_json::json!({"model": "m"}),
            target("openai", "m"),
        );
        assert_eq!(i.body, r#"{"model":"m"}"#);
        assert_eq!(http_response(200, "ok").body, b"ok");
        assert_eq!(usage(3, 4).input_tokens + usage(3, 4).output_tokens, 7);
    }
}
