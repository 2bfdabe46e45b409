//! A disagreeing call's input as the admin API shows it: never a secret,
//! and a prompt only as the configured sanitisers would pass it on.
//!
//! Routers, adapters and cost rules already see the request after the
//! sanitisers' request stage (the gateway runs them first), so their
//! inputs are shown as they are, scrubbed of the gateway's secrets, with
//! the API key left out. A sanitiser candidate sees the prompt before any
//! sanitiser, so its input is first put through the configured chain's
//! request-stage rewrite (on the shadow's worker); a prompt the chain
//! denies, or that a sanitiser fails on, is withheld.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::compare::{hashed, role_name, scrub_json, text_of};
use crate::plugins::Registry;
use crate::plugins::bindings::cost_api::CostInput;
use crate::plugins::bindings::provider_api::BuildInput;
use crate::plugins::bindings::router_api::RouteRequest;
use crate::plugins::bindings::sanitizer_api::{SanitizeInput, Verdict};
use crate::plugins::bindings::types::{Caller, ChatRequest, Field, Message};
use crate::plugins::output::scrub;

/// Longest text shown per message.
const MAX_CHARS: usize = 1000;

/// What redaction needs: the registry's sanitisers, by the names the
/// config's `plugins.sanitizers` lists.
#[derive(Clone, Default)]
pub struct Redactor {
    pub registry: Option<Arc<Registry>>,
    pub sanitizers: Vec<String>,
}

impl Redactor {
    pub fn route(&self, r: &RouteRequest) -> Value {
        json!({
            "request": chat(&r.request, messages(&r.request.messages)),
            "caller": caller(&r.caller),
            "candidates": r.candidates.iter().map(|c| c.deployment).collect::<Vec<_>>(),
            "estimated_input_tokens": r.estimated_input_tokens,
        })
    }

    pub fn sanitize(&self, s: &SanitizeInput) -> Value {
        json!({
            "stage": format!("{:?}", s.stage).to_ascii_lowercase(),
            "request": chat(&s.request, self.through_chain(&s.request, &s.caller)),
            "caller": caller(&s.caller),
            "response_messages": s.response.len(),
        })
    }

    pub fn cost(&self, c: &CostInput) -> Value {
        json!({
            "model_group": c.model_group,
            "deployment": c.deployment_id,
            "provider": c.provider,
            "model": c.model,
            "usage": {
                "input_tokens": c.usage.input_tokens,
                "output_tokens": c.usage.output_tokens,
                "cache_read_tokens": c.usage.cache_read_tokens,
                "cache_write_tokens": c.usage.cache_write_tokens,
                "reasoning_tokens": c.usage.reasoning_tokens,
            },
            "previous": c.previous,
            "caller": caller(&c.caller),
            "extra": fields(&c.extra),
        })
    }

    pub fn build(&self, b: &BuildInput) -> Value {
        let t = &b.target;
        json!({
            "operation": format!("{:?}", b.operation).to_ascii_lowercase(),
            "target": {
                "provider": t.provider,
                "model": t.model,
                "api_base": t.api_base.as_deref().map(scrub),
                "api_version": t.api_version,
                "api_key": t.api_key.as_deref().map(hashed),
                "params": fields(&t.params),
            },
            "body": scrub_json(serde_json::from_str(&b.body).unwrap_or(Value::Null)),
        })
    }

    /// The messages after the configured sanitisers' request stage.
    fn through_chain(&self, request: &ChatRequest, who: &Caller) -> Value {
        let Some(registry) = &self.registry else {
            return messages(&request.messages);
        };
        let set = registry.snapshot();
        let mut current = request.messages.clone();
        for name in &self.sanitizers {
            let Some(plugin) = set.get(name) else {
                continue;
            };
            let input = SanitizeInput {
                stage: crate::plugins::bindings::sanitizer_api::Stage::Request,
                request: ChatRequest {
                    messages: current.clone(),
                    ..request.clone()
                },
                caller: who.clone(),
                response: Vec::new(),
                window: None,
                finish_reason: None,
                context_window: None,
                estimated_input_tokens: 0,
            };
            match plugin.sanitize(&input) {
                Ok(Verdict::Allow) => {}
                Ok(Verdict::Rewrite(m)) => current = m,
                Ok(Verdict::Deny(_)) => {
                    return json!(format!("[withheld: {name} denies this prompt]"));
                }
                Err(_) => return json!(format!("[withheld: {name} failed on this prompt]")),
            }
        }
        messages(&current)
    }
}

fn chat(r: &ChatRequest, messages: Value) -> Value {
    json!({
        "model": r.model,
        "messages": messages,
        "stream": r.stream,
        "max_tokens": r.max_tokens,
        "tags": r.tags,
        "metadata": fields(&r.metadata),
    })
}

fn messages(ms: &[Message]) -> Value {
    Value::Array(
        ms.iter()
            .map(|m| {
                let text = text_of(m);
                let shown: String = text.chars().take(MAX_CHARS).collect();
                let mut o = json!({"role": role_name(&m.role), "text": scrub(&shown)});
                if shown.len() < text.len() {
                    o["truncated_from_chars"] = json!(text.chars().count());
                }
                o
            })
            .collect(),
    )
}

fn caller(c: &Caller) -> Value {
    json!({
        "key_alias": c.key_alias.as_deref().map(scrub),
        "user": c.user,
        "team": c.team,
        "tier": c.tier,
        "tags": c.tags,
        "metadata": fields(&c.metadata),
    })
}

/// Fields as an object of JSON values, scrubbed (a value that is not JSON
/// is shown as its text).
fn fields(fs: &[Field]) -> Value {
    let mut m = Map::new();
    for f in fs {
        let v = serde_json::from_str(&f.value).unwrap_or_else(|_| Value::String(f.value.clone()));
        m.insert(f.key.clone(), v);
    }
    scrub_json(Value::Object(m))
}
