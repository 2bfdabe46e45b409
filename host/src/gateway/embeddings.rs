//! `POST /v1/embeddings`: the same path as chat without sanitisers,
//! routers or streams (deployments are tried in config order).

use std::sync::Arc;

use bytes::Bytes;
use switchyard_sdk::openai::EmbeddingRequest;

use crate::plugins::bindings::provider_api::Operation;

use crate::cache::Op;
use crate::ledger::Ledger;

use super::admit::Admit;
use super::error::ApiError;
use super::retry::Call;
use super::{Gateway, Mode, Served, request};

impl Gateway {
    /// Serves one embeddings request.
    pub async fn embeddings(&self, body: Bytes, ledger: &Arc<Ledger>) -> Result<Served, ApiError> {
        let mut raw = request::parse_object(&body)?;
        let overrides = request::Overrides::take(&mut raw)?;
        let req: EmbeddingRequest = request::typed(&raw)?;
        let group = self
            .config
            .group(&req.model)
            .ok_or_else(|| self.unknown_model(&req.model))?;
        crate::observe::traces::requested("embeddings", &req.model);
        let set = self.registry.snapshot();
        let end_user = raw.get("user").and_then(|u| u.as_str());
        let caller = Arc::new(ledger.principal.caller(
            end_user.map(str::to_string),
            raw.get("metadata").and_then(|m| m.as_object()),
        ));
        let admit = Admit {
            caller: &caller,
            end_user,
            asked: &req.model,
            group,
            input_tokens: estimate_input(&raw),
            max_tokens: Some(0),
        };
        self.admit(ledger, &set, admit).await?;
        let cache = self.cache_plan(Op::Embeddings, &raw, ledger)?;
        let call = Call {
            operation: Operation::Embeddings,
            mode: Mode::Whole,
            raw: &raw,
            view: None,
            caller: &caller,
            ledger,
            estimated_tokens: 0,
            overrides: &overrides,
        };
        if let Some((cache, plan)) = cache {
            return self
                .embeddings_cached(cache, plan, &set, group, &call)
                .await;
        }
        self.serve_call(&set, group, &call).await
    }
}

/// The input's tokens, roughly (4 characters a token), for limits.
fn estimate_input(raw: &serde_json::Map<String, serde_json::Value>) -> u64 {
    let chars = match raw.get("input") {
        Some(serde_json::Value::String(s)) => s.len(),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|i| match i {
                serde_json::Value::String(s) => s.len(),
                // Token ids: one token each.
                serde_json::Value::Number(_) => 4,
                other => other.to_string().len(),
            })
            .sum(),
        _ => 0,
    };
    (chars as u64).div_ceil(4)
}
