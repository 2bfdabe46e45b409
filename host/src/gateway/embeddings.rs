//! `POST /v1/embeddings`: the same path as chat without sanitisers,
//! routers or streams (deployments are tried in config order).

use std::sync::Arc;

use bytes::Bytes;
use switchyard_sdk::openai::EmbeddingRequest;

use crate::plugins::bindings::provider_api::Operation;

use super::chat::caller_from;
use super::error::ApiError;
use super::retry::Call;
use super::{Gateway, Mode, Served, request};

impl Gateway {
    /// Serves one embeddings request.
    pub async fn embeddings(&self, body: Bytes) -> Result<Served, ApiError> {
        let mut raw = request::parse_object(&body)?;
        let overrides = request::Overrides::take(&mut raw)?;
        let req: EmbeddingRequest = request::typed(&raw)?;
        let group = self
            .config
            .group(&req.model)
            .ok_or_else(|| self.unknown_model(&req.model))?;
        let set = self.registry.snapshot();
        let caller = Arc::new(caller_from(
            raw.get("user").and_then(|u| u.as_str()).map(str::to_string),
            raw.get("metadata")
                .and_then(|m| m.as_object())
                .cloned()
                .unwrap_or_default(),
        ));
        let call = Call {
            operation: Operation::Embeddings,
            mode: Mode::Whole,
            raw: &raw,
            view: None,
            caller: &caller,
            estimated_tokens: 0,
            overrides: &overrides,
        };
        self.serve_call(&set, group, &call).await
    }
}
