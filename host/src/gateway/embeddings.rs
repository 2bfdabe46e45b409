//! `POST /v1/embeddings`: the same path as chat without sanitisers or
//! streams.

use bytes::Bytes;
use switchyard_sdk::openai::EmbeddingRequest;

use crate::plugins::bindings::provider_api::Operation;
use crate::server::error::ApiError;

use super::chat::{caller_from, exhausted};
use super::{Gateway, Served, ServedBody, request};

impl Gateway {
    /// Serves one embeddings request.
    pub async fn embeddings(&self, body: Bytes) -> Result<Served, ApiError> {
        let raw = request::parse_object(&body)?;
        let req: EmbeddingRequest = request::typed(&raw)?;
        let group = self
            .config
            .group(&req.model)
            .ok_or_else(|| self.unknown_model(&req.model))?;
        let set = self.registry.snapshot();
        let caller = caller_from(
            raw.get("user").and_then(|u| u.as_str()).map(str::to_string),
            raw.get("metadata")
                .and_then(|m| m.as_object())
                .cloned()
                .unwrap_or_default(),
        );
        let mut last = None;
        let mut attempts = 0;
        let mut upstream_wait = std::time::Duration::ZERO;
        for d in &group.deployments {
            attempts += 1;
            match self
                .try_once(
                    Operation::Embeddings,
                    &set,
                    d,
                    &raw,
                    &caller,
                    &mut upstream_wait,
                )
                .await
            {
                Ok(body) => {
                    return Ok(Served {
                        group: group.name.clone(),
                        deployment: d.id.clone(),
                        route_reason: None,
                        attempts,
                        upstream_wait,
                        body: ServedBody::Json(body),
                    });
                }
                Err(f) => {
                    let retry = f.retryable();
                    last = Some((d.id.clone(), f));
                    if !retry {
                        break;
                    }
                }
            }
        }
        Err(exhausted(last, &group.name, attempts))
    }
}
