//! One attempt on one deployment, answered as a whole (chat without a
//! stream, embeddings, health checks): the adapter builds the provider's
//! request, the host sends it (or takes the adapter's own answer), the
//! adapter translates the answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::config::Deployment;
use crate::plugins::bindings::provider_api::{
    BuildInput, HttpRequest, HttpResponse, Operation, Outbound, ParsedResponse, Target,
};
use crate::plugins::bindings::types::{self, Caller};
use crate::plugins::{ActiveSet, LoadedPlugin, convert};

use super::failure::{Failure, retry_after, time_left};
use super::{Gateway, request};

/// The adapter serving a deployment's provider prefix.
pub fn adapter<'a>(set: &'a ActiveSet, d: &Deployment) -> Result<&'a Arc<LoadedPlugin>, Failure> {
    set.provider_for(&d.provider).ok_or_else(|| {
        Failure::NoAdapter(format!(
            "no provider adapter plugin serves the prefix {:?} (deployment {})",
            d.provider, d.id
        ))
    })
}

/// The build input for `body` on deployment `d`. Adapters have no clock, so
/// the host passes the time in `params.created` (Unix seconds) for the
/// answers' `created` field.
pub fn build_input(operation: Operation, body: String, d: &Deployment) -> BuildInput {
    let mut params = convert::fields_from_map(&d.params);
    params.push(types::Field {
        key: "created".into(),
        value: (crate::state::now_ms() / 1000).to_string(),
    });
    BuildInput {
        operation,
        body,
        target: Target {
            provider: d.provider.clone(),
            model: d.model.clone(),
            api_base: d.api_base.clone(),
            api_key: d.api_key.clone(),
            api_version: d.api_version.clone(),
            params,
        },
    }
}

impl Gateway {
    /// One attempt on deployment `d`, counted in its live state and priced.
    pub(super) async fn try_once(
        &self,
        operation: Operation,
        set: &ActiveSet,
        d: &Arc<Deployment>,
        raw: &Map<String, Value>,
        caller: &Caller,
        upstream_wait: &mut Duration,
    ) -> Result<Bytes, Failure> {
        let _in_flight = self.state.start(d);
        let started = Instant::now();
        let parsed = self.exchange(operation, set, d, raw, upstream_wait).await?;
        let tokens = parsed
            .usage
            .as_ref()
            .map_or(0, |u| u.input_tokens + u.output_tokens);
        self.state.finish(d, Some(started.elapsed()), None, tokens);
        if let Some(usage) = &parsed.usage {
            let cost = super::cost::price(set, &self.config.plugins.cost_rules, d, usage, caller);
            tracing::info!(deployment = %d.id, input_tokens = usage.input_tokens, output_tokens = usage.output_tokens, cost_usd = ?cost, "call completed");
        }
        Ok(Bytes::from(parsed.body))
    }

    /// Builds, sends and translates one request to `d`, with no
    /// bookkeeping (health checks use it as is).
    pub(super) async fn exchange(
        &self,
        operation: Operation,
        set: &ActiveSet,
        d: &Deployment,
        raw: &Map<String, Value>,
        upstream_wait: &mut Duration,
    ) -> Result<ParsedResponse, Failure> {
        let adapter = adapter(set, d)?;
        let input = build_input(operation, request::for_deployment(raw, d), d);
        let response = match adapter.build_request(&input).map_err(Failure::Plugin)? {
            Outbound::Respond(r) => r,
            Outbound::Send(req) => {
                let timeout = d.timeout.unwrap_or(self.config.default_timeout);
                let started = Instant::now();
                let result = self.fetch(&req, timeout).await;
                *upstream_wait += started.elapsed();
                result?
            }
        };
        adapter
            .parse_response(&input, &response)
            .map_err(Failure::BadAnswer)?
            .map_err(|e| Failure::Provider(e, retry_after(&response.headers)))
    }

    async fn fetch(&self, req: &HttpRequest, timeout: Duration) -> Result<HttpResponse, Failure> {
        let deadline = Instant::now() + timeout;
        let answer = self
            .upstream
            .send(req, timeout)
            .await
            .map_err(Failure::Upstream)?;
        answer
            .into_response(time_left(deadline))
            .await
            .map_err(Failure::Upstream)
    }
}
