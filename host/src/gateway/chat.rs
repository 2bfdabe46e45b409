//! `POST /v1/chat/completions`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use bytes::Bytes;
use serde_json::{Map, Value};
use switchyard_sdk::openai::{ChatMessage, ChatRequest};

use crate::config::Deployment;
use crate::plugins::bindings::provider_api::{
    BuildInput, ErrorClass, HttpRequest, HttpResponse, Operation, Outbound, ProviderError, Target,
};
use crate::plugins::bindings::sanitizer_api::{SanitizeInput, Stage, Verdict};
use crate::plugins::bindings::types::{self, Caller};
use crate::plugins::{ActiveSet, CallError, LoadedPlugin, convert};
use crate::server::error::{ApiError, kind_for_status};
use crate::upstream::UpstreamError;

use super::{Gateway, Served, ServedBody, request};

/// Why one deployment could not answer.
#[derive(Debug)]
pub enum Failure {
    /// The provider's error, and its `Retry-After` in seconds.
    Provider(ProviderError, Option<u64>),
    Upstream(UpstreamError),
    Plugin(CallError),
    NoAdapter(String),
}

impl Failure {
    /// Whether another deployment might succeed where this one failed.
    pub fn retryable(&self) -> bool {
        match self {
            Failure::Provider(e, _) => {
                matches!(
                    e.class,
                    ErrorClass::RateLimit | ErrorClass::ServerError | ErrorClass::Timeout
                ) || e.status == 429
                    || e.status >= 500
            }
            Failure::Upstream(UpstreamError::Invalid(_)) => false,
            Failure::Upstream(_) | Failure::NoAdapter(_) => true,
            Failure::Plugin(e) => !matches!(
                e,
                CallError::Plugin {
                    invalid_input: true,
                    ..
                }
            ),
        }
    }

    /// The client's error for this failure.
    pub fn to_api(&self, deployment: &str) -> ApiError {
        match self {
            Failure::Provider(e, retry_after) => {
                // A provider's server error is a bad gateway to the client
                // (Anthropic's 529 "overloaded" included); 504 stays a timeout.
                let status = match e.status {
                    504 => StatusCode::GATEWAY_TIMEOUT,
                    s if s >= 500 => StatusCode::BAD_GATEWAY,
                    s => StatusCode::from_u16(s).unwrap_or(StatusCode::BAD_GATEWAY),
                };
                let mut err = ApiError::new(status, kind_for_status(e.status), e.message.clone());
                err.code = e.code.clone();
                err.retry_after = *retry_after;
                if matches!(e.class, ErrorClass::ContextWindowExceeded) {
                    err.code = Some("context_length_exceeded".into());
                }
                err
            }
            Failure::Upstream(UpstreamError::Timeout(t)) => ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "timeout_error",
                format!("deployment {deployment}: no answer from the provider within {t:?}"),
            ),
            Failure::Upstream(e) => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "api_error",
                format!("deployment {deployment}: {e}"),
            ),
            Failure::Plugin(CallError::Plugin {
                reason,
                invalid_input: true,
                ..
            }) => ApiError::bad_request(reason.clone()),
            Failure::Plugin(e) => ApiError::internal(e.to_string()),
            Failure::NoAdapter(msg) => ApiError::unavailable(msg.clone()),
        }
    }
}

/// After every deployment failed: the last failure decides the status, and
/// a provider failure that others might not share becomes a 502.
pub fn exhausted(last: Option<(String, Failure)>, group: &str, attempts: u32) -> ApiError {
    let Some((deployment, failure)) = last else {
        return ApiError::unavailable(format!(
            "no deployment of model group {group} can serve this request"
        ));
    };
    let mut err = failure.to_api(&deployment);
    if failure.retryable() && attempts > 1 {
        err.message = format!(
            "all {attempts} deployments of model group {group} failed; last error from {deployment}: {}",
            err.message
        );
        if err.status.is_server_error() && err.status != StatusCode::GATEWAY_TIMEOUT {
            err.status = StatusCode::BAD_GATEWAY;
        }
    }
    err
}

/// What is left of a deadline (at least a millisecond, so a call that is
/// due still gets a chance to read what has arrived).
pub fn time_left(deadline: Instant) -> Duration {
    deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1))
}

/// A `Retry-After` header in seconds (the HTTP-date form is rare from
/// providers and is not read).
pub fn retry_after(headers: &[crate::plugins::bindings::provider_api::Header]) -> Option<u64> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("retry-after"))
        .and_then(|h| h.value.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| s.ceil() as u64)
}

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
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.as_secs())
        .unwrap_or(0);
    params.push(types::Field {
        key: "created".into(),
        value: now.to_string(),
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

/// The caller a request speaks for. Key management comes later; for now the
/// master key (or an open gateway) and the request's own `user`/`metadata`.
pub fn caller_for(req: &ChatRequest) -> Caller {
    caller_from(req.user.clone(), req.metadata.clone().unwrap_or_default())
}

/// The caller from a request's `user` and `metadata`.
pub fn caller_from(user: Option<String>, metadata: Map<String, Value>) -> Caller {
    let tier = metadata
        .get("customer_tier")
        .or_else(|| metadata.get("tier"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let tags = metadata
        .get("tags")
        .and_then(Value::as_array)
        .map(|t| {
            t.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Caller {
        key_alias: None,
        user,
        team: None,
        tags,
        tier,
        metadata: convert::fields_from_map(&metadata),
    }
}

impl Gateway {
    /// Serves one chat completion request.
    pub async fn chat(&self, body: Bytes) -> Result<Served, ApiError> {
        let mut raw = request::parse_object(&body)?;
        let req: ChatRequest = request::typed(&raw)?;
        if req.messages.is_empty() {
            return Err(ApiError::bad_param(
                "messages",
                "messages must not be empty",
            ));
        }
        let group = self
            .config
            .group(&req.model)
            .ok_or_else(|| self.unknown_model(&req.model))?;
        let set = self.registry.snapshot();
        let set = &set;
        let caller = caller_for(&req);
        let mut view = convert::chat_request_view(&req);

        self.sanitize_request(set, &mut raw, &mut view, &caller)?;

        let route = self.route(set, group, &view, &caller)?;
        let streaming = req.stream.unwrap_or(false);
        let include_usage = raw
            .get("stream_options")
            .and_then(|o| o.get("include_usage"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let mut last: Option<(String, Failure)> = None;
        let mut attempts = 0u32;
        let mut upstream_wait = Duration::ZERO;
        for d in &route.order {
            attempts += 1;
            let result = if streaming {
                self.try_stream(set, d, &raw, &caller, include_usage, &mut upstream_wait)
                    .await
                    .map(ServedBody::Sse)
            } else {
                self.try_once(Operation::Chat, set, d, &raw, &caller, &mut upstream_wait)
                    .await
                    .map(ServedBody::Json)
            };
            match result {
                Ok(body) => {
                    return Ok(Served {
                        group: route.group.clone(),
                        deployment: d.id.clone(),
                        route_reason: route.reason.clone(),
                        attempts,
                        upstream_wait,
                        body,
                    });
                }
                Err(failure) => {
                    tracing::warn!(deployment = %d.id, error = ?failure, "deployment failed");
                    let retry = failure.retryable();
                    last = Some((d.id.clone(), failure));
                    if !retry {
                        break;
                    }
                }
            }
        }
        Err(exhausted(last, &route.group, attempts))
    }

    /// 404 for an unknown model, naming the groups that exist (they are
    /// public through `/v1/models` anyway).
    pub fn unknown_model(&self, model: &str) -> ApiError {
        let known: Vec<&str> = self.config.groups.keys().map(String::as_str).collect();
        let mut e = ApiError::not_found(format!(
            "The model `{model}` does not exist. Model groups: {}",
            known.join(", ")
        ));
        e.param = Some("model".into());
        e
    }

    /// Runs the configured sanitisers over the request, in order.
    fn sanitize_request(
        &self,
        set: &ActiveSet,
        raw: &mut Map<String, Value>,
        view: &mut types::ChatRequest,
        caller: &Caller,
    ) -> Result<(), ApiError> {
        for name in &self.config.plugins.sanitizers {
            let plugin = set.get(name).ok_or_else(|| {
                ApiError::unavailable(format!(
                    "sanitizer plugin {name:?} is configured but not loaded"
                ))
            })?;
            let input = SanitizeInput {
                stage: Stage::Request,
                request: view.clone(),
                caller: caller.clone(),
                response: Vec::new(),
            };
            let verdict = plugin
                .on_error(plugin.sanitize(&input), || Verdict::Allow)
                .map_err(|e| match e {
                    CallError::Plugin {
                        reason,
                        invalid_input: true,
                        ..
                    } => ApiError::bad_request(reason),
                    other => ApiError::internal(other.to_string()),
                })?;
            match verdict {
                Verdict::Allow => {}
                Verdict::Deny(reason) => {
                    let mut e =
                        ApiError::bad_request(format!("request denied by {name}: {reason}"));
                    e.code = Some("content_policy_violation".into());
                    return Err(e);
                }
                Verdict::Rewrite(messages) => {
                    let before: Vec<ChatMessage> = raw
                        .get("messages")
                        .and_then(|m| serde_json::from_value(m.clone()).ok())
                        .unwrap_or_default();
                    let openai: Vec<_> = messages
                        .iter()
                        .enumerate()
                        .map(|(i, m)| convert::rewritten_to_openai(m, before.get(i)))
                        .collect();
                    raw.insert(
                        "messages".into(),
                        serde_json::to_value(&openai).unwrap_or(Value::Array(Vec::new())),
                    );
                    view.messages = messages;
                }
            }
        }
        Ok(())
    }

    /// One non-streaming attempt on deployment `d`.
    pub(super) async fn try_once(
        &self,
        operation: Operation,
        set: &ActiveSet,
        d: &Arc<Deployment>,
        raw: &Map<String, Value>,
        caller: &Caller,
        upstream_wait: &mut Duration,
    ) -> Result<Bytes, Failure> {
        let adapter = adapter(set, d)?;
        let input = build_input(operation, request::for_deployment(raw, d), d);
        let outbound = adapter.build_request(&input).map_err(Failure::Plugin)?;
        let _in_flight = self.stats.start(&d.id);
        let started = Instant::now();
        let response = self.exchange(outbound, d, upstream_wait).await?;
        let parsed = adapter
            .parse_response(&input, &response)
            .map_err(Failure::Plugin)?
            .map_err(|e| Failure::Provider(e, retry_after(&response.headers)))?;
        let tokens = parsed
            .usage
            .as_ref()
            .map_or(0, |u| u.input_tokens + u.output_tokens);
        self.stats.finish(&d.id, started.elapsed(), None, tokens);
        if let Some(usage) = &parsed.usage {
            let cost = super::cost::price(set, &self.config.plugins.cost_rules, d, usage, caller);
            tracing::info!(deployment = %d.id, input_tokens = usage.input_tokens, output_tokens = usage.output_tokens, cost_usd = ?cost, "call completed");
        }
        Ok(Bytes::from(parsed.body))
    }

    /// Sends an adapter's request (or takes its made-up answer) and reads
    /// the whole answer.
    async fn exchange(
        &self,
        outbound: Outbound,
        d: &Deployment,
        upstream_wait: &mut Duration,
    ) -> Result<HttpResponse, Failure> {
        match outbound {
            Outbound::Respond(r) => Ok(r),
            Outbound::Send(req) => {
                let timeout = d.timeout.unwrap_or(self.config.default_timeout);
                let started = Instant::now();
                let result = self.fetch(&req, timeout).await;
                *upstream_wait += started.elapsed();
                result
            }
        }
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
