//! One attempt on one deployment, the same for every mode: the adapter
//! builds the provider's request, the host sends it within the
//! deployment's timeout (or takes the adapter's own answer), and the
//! attempt ends with the whole answer translated, or for a stream with its
//! first chunk decoded ([`super::stream`]). Every attempt that reaches its
//! adapter counts as traffic on the deployment (in flight, rpm), and a
//! successful one is written down once ([`Books::record`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{Map, Value};
use tracing::Instrument;

use crate::config::{Config, Deployment};
use crate::observe::traces;
use crate::plugins::bindings::provider_api::{
    BuildInput, Framing, HttpResponse, Operation, Outbound, ParsedResponse, Target,
};
use crate::plugins::bindings::types;
use crate::plugins::{ActiveSet, LoadedPlugin};
use crate::upstream::{Answer, Upstream, UpstreamError};

use super::books::Books;
use super::failure::{Failure, retry_after, time_left};
use super::retry::Call;
use super::{Gateway, ServedBody, request, views};

/// How a call is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One JSON answer (chat without a stream, embeddings).
    Whole,
    /// A chat completion streamed as SSE; `include_usage` is the client's
    /// `stream_options.include_usage`.
    Stream { include_usage: bool },
}

impl Mode {
    /// How long `d` may take: for the whole answer, or for a stream's
    /// first chunk.
    pub fn timeout(self, d: &Deployment, config: &Config) -> Duration {
        match self {
            Mode::Whole => d.timeout.unwrap_or(config.default_timeout),
            Mode::Stream { .. } => d
                .stream_timeout
                .or(d.timeout)
                .or(config.default_stream_timeout)
                .unwrap_or(config.default_timeout),
        }
    }
}

/// The build input for `body` on deployment `d`. Adapters have no clock, so
/// the host passes the time in `params.created` (Unix seconds) for the
/// answers' `created` field. A request's `mock_response` (one of the
/// gateway's own fields, never in the body) reaches the adapter as the
/// deployment param of that name, ahead of the deployment's own: the
/// `mock` adapter answers with it.
pub fn build_input(operation: Operation, raw: &Map<String, Value>, d: &Deployment) -> BuildInput {
    let mut params = views::fields_from_map(&d.params);
    if let Some(v) = raw.get("mock_response").filter(|v| !v.is_null()) {
        params.retain(|f| f.key != "mock_response");
        params.push(types::Field {
            key: "mock_response".into(),
            value: v.to_string(),
        });
    }
    params.push(types::Field {
        key: "created".into(),
        value: (crate::state::now_ms() / 1000).to_string(),
    });
    BuildInput {
        operation,
        body: request::for_deployment(raw, d),
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

/// One attempt, up to the provider's answer.
pub(super) struct Attempt<'a> {
    upstream: &'a Upstream,
    pub(super) adapter: Arc<LoadedPlugin>,
    pub(super) input: BuildInput,
}

/// What sending produced.
pub(super) enum Sent {
    /// The adapter's own answer (no network).
    Respond(HttpResponse),
    /// The provider's status and headers, the body not read yet.
    Answer {
        answer: Answer,
        framing: Framing,
        deadline: Instant,
    },
}

impl<'a> Attempt<'a> {
    /// The attempt on `d`: its adapter and the adapter's input. A prefix no
    /// loaded adapter serves is a configuration error.
    pub fn new(
        gateway: &'a Gateway,
        set: &ActiveSet,
        d: &Deployment,
        operation: Operation,
        raw: &Map<String, Value>,
    ) -> Result<Attempt<'a>, Failure> {
        let adapter = set
            .provider_for(&d.provider)
            .ok_or_else(|| Failure::NoAdapter {
                deployment: d.id.clone(),
                prefix: d.provider.clone(),
            })?
            .clone();
        Ok(Attempt {
            upstream: &gateway.upstream,
            adapter,
            input: build_input(operation, raw, d),
        })
    }

    /// Has the adapter build the request and sends it, waiting `timeout`
    /// at most for the status and headers. Time spent waiting on the
    /// provider is added to `wait`.
    pub async fn send(&self, timeout: Duration, wait: &mut Duration) -> Result<Sent, Failure> {
        let req = match self
            .adapter
            .build_request(&self.input)
            .map_err(Failure::Plugin)?
        {
            Outbound::Respond(r) => return Ok(Sent::Respond(r)),
            Outbound::Send(req) => req,
        };
        let framing = req.framing;
        let started = Instant::now();
        let answer = self.upstream.send(req, timeout).await;
        *wait += started.elapsed();
        Ok(Sent::Answer {
            answer: answer.map_err(Failure::Upstream)?,
            framing,
            deadline: started + timeout,
        })
    }

    /// The whole answer, translated.
    pub async fn answer(
        &self,
        timeout: Duration,
        wait: &mut Duration,
    ) -> Result<ParsedResponse, Failure> {
        let response = self.send(timeout, wait).await?.whole(wait).await?;
        self.parse(&response)
    }

    /// The adapter's reading of a whole answer: the OpenAI answer, or the
    /// provider's error with its `Retry-After`.
    pub fn parse(&self, response: &HttpResponse) -> Result<ParsedResponse, Failure> {
        self.adapter
            .parse_response(&self.input, response)
            .map_err(Failure::BadAnswer)?
            .map_err(|e| Failure::Provider(e, retry_after(&response.headers)))
    }

    /// The provider's error inside an answer that is no success (a stream
    /// refused before it began).
    pub fn refusal(&self, response: &HttpResponse) -> Failure {
        match self.parse(response) {
            Err(failure) => failure,
            Ok(_) => Failure::Upstream(UpstreamError::Body(format!(
                "status {} with a body the adapter read as a success",
                response.status
            ))),
        }
    }
}

impl Sent {
    /// The whole answer, its body read within what is left of the timeout.
    pub async fn whole(self, wait: &mut Duration) -> Result<HttpResponse, Failure> {
        match self {
            Sent::Respond(r) => Ok(r),
            Sent::Answer {
                answer, deadline, ..
            } => {
                let started = Instant::now();
                let response = answer.into_response(time_left(deadline)).await;
                *wait += started.elapsed();
                response.map_err(Failure::Upstream)
            }
        }
    }
}

impl Gateway {
    /// One attempt of `call` on deployment `d`, in the call's mode, in
    /// its own span when traces are on.
    pub(super) async fn attempt(
        &self,
        call: &Call<'_>,
        set: &Arc<ActiveSet>,
        d: &Arc<Deployment>,
        wait: &mut Duration,
    ) -> Result<ServedBody, Failure> {
        let span = traces::attempt_span(&call.operation, d);
        let result = self
            .attempt_in(call, set, d, wait, &span)
            .instrument(span.clone())
            .await;
        let failure = result.as_ref().err().map(|f| f.class().as_str());
        traces::attempt_ended(&span, d, failure);
        result
    }

    /// [`Gateway::attempt`] inside its span.
    async fn attempt_in(
        &self,
        call: &Call<'_>,
        set: &Arc<ActiveSet>,
        d: &Arc<Deployment>,
        wait: &mut Duration,
        span: &tracing::Span,
    ) -> Result<ServedBody, Failure> {
        let attempt = Attempt::new(self, set, d, call.operation.clone(), call.raw)?;
        let in_flight = self.state.start(d);
        let started = Instant::now();
        let books = Books::new(self, set, d, call.caller, call.ledger);
        let timeout = call.mode.timeout(d, &self.config);
        match call.mode {
            Mode::Whole => {
                let parsed = attempt.answer(timeout, wait).await?;
                traces::usage(span, parsed.usage.as_ref());
                books.record(Some(started.elapsed()), None, parsed.usage.as_ref(), false);
                drop(in_flight);
                Ok(ServedBody::Json(Bytes::from(parsed.body)))
            }
            Mode::Stream { include_usage } => {
                let relay = attempt
                    .first_chunk(
                        timeout,
                        include_usage,
                        call.estimated_tokens,
                        books,
                        in_flight,
                        wait,
                    )
                    .await?;
                Ok(ServedBody::Sse(relay.into_body()))
            }
        }
    }

    /// Builds, sends and translates one request to `d`, with no
    /// bookkeeping (health checks use it as is).
    pub(super) async fn exchange(
        &self,
        operation: Operation,
        set: &ActiveSet,
        d: &Deployment,
        raw: &Map<String, Value>,
        wait: &mut Duration,
    ) -> Result<ParsedResponse, Failure> {
        let timeout = Mode::Whole.timeout(d, &self.config);
        Attempt::new(self, set, d, operation, raw)?
            .answer(timeout, wait)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(params: &str) -> Deployment {
        let config = Config::parse(
            &format!(
                "model_list:\n  - model_name: g\n    litellm_params: {{model: mock/m{params}}}\n"
            ),
            std::path::Path::new("."),
        )
        .unwrap();
        (*config.deployments[0]).clone()
    }

    fn body(v: Value) -> Map<String, Value> {
        let Value::Object(m) = v else { unreachable!() };
        m
    }

    fn param<'a>(input: &'a BuildInput, key: &str) -> Vec<&'a str> {
        input
            .target
            .params
            .iter()
            .filter(|f| f.key == key)
            .map(|f| f.value.as_str())
            .collect()
    }

    #[test]
    fn a_requests_mock_response_is_a_param_and_not_in_the_body() {
        let d = deployment(", mock_response: deployment's");
        let input = build_input(
            Operation::Chat,
            &body(serde_json::json!({"model": "g", "messages": [], "mock_response": "request's"})),
            &d,
        );
        assert_eq!(param(&input, "mock_response"), [r#""request's""#]);
        let sent: Value = serde_json::from_str(&input.body).unwrap();
        assert!(sent.get("mock_response").is_none(), "{sent}");
        assert_eq!(param(&input, "created").len(), 1);

        let input = build_input(
            Operation::Chat,
            &body(serde_json::json!({"model": "g", "messages": []})),
            &d,
        );
        assert_eq!(param(&input, "mock_response"), [r#""deployment's""#]);
    }

    #[test]
    fn stream_timeouts_fall_back_to_the_deployments_and_the_defaults() {
        let config = Config::parse("", std::path::Path::new(".")).unwrap();
        let mut d = deployment("");
        let stream = Mode::Stream {
            include_usage: false,
        };
        assert_eq!(Mode::Whole.timeout(&d, &config), config.default_timeout);
        d.timeout = Some(Duration::from_secs(7));
        assert_eq!(stream.timeout(&d, &config), Duration::from_secs(7));
        d.stream_timeout = Some(Duration::from_secs(2));
        assert_eq!(stream.timeout(&d, &config), Duration::from_secs(2));
        assert_eq!(Mode::Whole.timeout(&d, &config), Duration::from_secs(7));
    }
}
