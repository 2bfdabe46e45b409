//! Streamed chat completions: the upstream body is framed (SSE or raw
//! bytes), decoded by the adapter's stream decoder, and relayed to the
//! client chunk by chunk. Nothing is committed to the client until the
//! first chunk has arrived, so a provider that fails before its first token
//! is replaced by the next deployment without the client noticing.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use eventsource_stream::Eventsource;
use futures::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::config::{Config, Deployment};
use crate::plugins::bindings::provider_api::{
    Framing, HttpResponse, Operation, Outbound, SseEvent, StreamInput, StreamOutput,
};
use crate::plugins::bindings::types::{Caller, Usage};
use crate::plugins::calls::StreamSession;
use crate::plugins::{ActiveSet, convert};
use crate::upstream::UpstreamError;

use super::call::{adapter, build_input};
use super::failure::{Failure, retry_after, time_left};
use super::{Gateway, SseBody, request};
use crate::state::{InFlight, State};

type Inputs = Pin<Box<dyn Stream<Item = Result<StreamInput, String>> + Send>>;

/// Frames a body for the decoder.
fn frame<S>(framing: Framing, body: S) -> Inputs
where
    S: Stream<Item = Result<Bytes, String>> + Send + 'static,
{
    match framing {
        Framing::Sse => Box::pin(body.eventsource().map(|e| {
            e.map(|e| {
                StreamInput::Event(SseEvent {
                    event: (e.event != "message").then_some(e.event),
                    data: e.data,
                    id: (!e.id.is_empty()).then_some(e.id),
                })
            })
            .map_err(|e| e.to_string())
        })),
        Framing::Bytes => Box::pin(body.map(|b| b.map(|b| StreamInput::Bytes(b.to_vec())))),
    }
}

/// The id, model and creation time of the stream's chunks, for the usage
/// chunk the gateway adds at the end.
#[derive(Deserialize, Default, Clone)]
struct ChunkHead {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    created: Option<u64>,
    #[serde(default)]
    usage: Option<serde::de::IgnoredAny>,
}

/// Everything the relay needs after the handler has returned.
struct Relay {
    session: StreamSession,
    inputs: Inputs,
    queue: VecDeque<Bytes>,
    head: ChunkHead,
    usage: Option<Usage>,
    saw_usage_chunk: bool,
    include_usage: bool,
    state: Phase,
    // For the books when the stream ends.
    live: Arc<State>,
    config: Arc<Config>,
    set: Arc<ActiveSet>,
    deployment: Arc<Deployment>,
    caller: Caller,
    started: Instant,
    ttft: Duration,
    _in_flight: InFlight,
}

#[derive(PartialEq)]
enum Phase {
    Streaming,
    Finished,
    Done,
}

impl Relay {
    /// Takes a decoder's output into the queue.
    fn take(&mut self, out: StreamOutput) {
        for chunk in out.chunks {
            // Only the usage chunk the gateway adds needs the head; without
            // `include_usage` chunks are relayed unread.
            if self.include_usage
                && let Ok(head) = serde_json::from_str::<ChunkHead>(&chunk)
            {
                self.saw_usage_chunk |= head.usage.is_some();
                if self.head.id.is_none() {
                    self.head = head;
                }
            }
            self.queue
                .push_back(Bytes::from(format!("data: {chunk}\n\n")));
        }
        if out.usage.is_some() {
            self.usage = out.usage;
        }
    }

    /// Ends the stream: the usage chunk if asked for, `[DONE]`, and the
    /// books.
    fn close(&mut self, error: Option<Value>) {
        let broke = error.is_some();
        if let Some(err) = error {
            self.queue
                .push_back(Bytes::from(format!("data: {err}\n\n")));
        } else if self.include_usage
            && !self.saw_usage_chunk
            && let Some(u) = &self.usage
        {
            let chunk = json!({
                "id": self.head.id,
                "object": "chat.completion.chunk",
                "created": self.head.created.unwrap_or(0),
                "model": self.head.model,
                "choices": [],
                "usage": convert::usage_to_openai(u),
            });
            self.queue
                .push_back(Bytes::from(format!("data: {chunk}\n\n")));
        }
        self.queue
            .push_back(Bytes::from_static(b"data: [DONE]\n\n"));
        self.state = Phase::Done;
        let tokens = self
            .usage
            .as_ref()
            .map_or(0, |u| u.input_tokens + u.output_tokens);
        // A stream that broke off is no latency sample (a short one would
        // make latency-based routing favour a deployment that fails fast).
        let latency = (!broke).then(|| self.started.elapsed());
        self.live
            .finish(&self.deployment, latency, Some(self.ttft), tokens);
        if let Some(usage) = &self.usage {
            let cost = super::cost::price(
                &self.set,
                &self.config.plugins.cost_rules,
                &self.deployment,
                usage,
                &self.caller,
            );
            tracing::info!(deployment = %self.deployment.id, input_tokens = usage.input_tokens, output_tokens = usage.output_tokens, cost_usd = ?cost, "streamed chat completion");
        }
    }

    /// Pulls the next piece of the relayed body.
    async fn next(mut self) -> Option<(Result<Bytes, std::convert::Infallible>, Relay)> {
        loop {
            if let Some(b) = self.queue.pop_front() {
                return Some((Ok(b), self));
            }
            match self.state {
                Phase::Done => return None,
                Phase::Finished => {
                    self.close(None);
                    continue;
                }
                Phase::Streaming => {}
            }
            match self.inputs.next().await {
                Some(Ok(input)) => match self.session.push(&input) {
                    Ok(Ok(out)) => {
                        let done = out.done;
                        self.take(out);
                        if done {
                            self.state = Phase::Finished;
                        }
                    }
                    Ok(Err(e)) => self.close(Some(json!({"error": {
                        "message": e.message, "type": crate::server::error::kind_for_status(e.status),
                        "param": null, "code": e.code.unwrap_or_else(|| e.status.to_string()),
                    }}))),
                    Err(e) => self.close(Some(json!({"error": {
                        "message": e.to_string(), "type": "internal_server_error", "param": null, "code": "500",
                    }}))),
                },
                Some(Err(e)) => self.close(Some(json!({"error": {
                    "message": format!("the provider's stream broke off: {e}"), "type": "api_error",
                    "param": null, "code": "502",
                }}))),
                None => {
                    match self.session.finish() {
                        Ok(Ok(out)) => self.take(out),
                        Ok(Err(e)) => {
                            self.close(Some(json!({"error": {"message": e.message, "type": "api_error", "param": null, "code": e.status.to_string()}})));
                            continue;
                        }
                        Err(e) => {
                            self.close(Some(json!({"error": {"message": e.to_string(), "type": "internal_server_error", "param": null, "code": "500"}})));
                            continue;
                        }
                    }
                    self.state = Phase::Finished;
                }
            }
        }
    }
}

impl Gateway {
    /// One streaming attempt on deployment `d`: returns once the first chunk
    /// is in hand (or the stream ended cleanly), with the body to relay.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn try_stream(
        &self,
        set: &Arc<ActiveSet>,
        d: &Arc<Deployment>,
        raw: &Map<String, Value>,
        caller: &Caller,
        include_usage: bool,
        upstream_wait: &mut Duration,
    ) -> Result<SseBody, Failure> {
        let adapter = adapter(set, d)?.clone();
        let input = build_input(Operation::Chat, request::for_deployment(raw, d), d);
        let outbound = adapter.build_request(&input).map_err(Failure::Plugin)?;
        let in_flight = self.state.start(d);
        let started = Instant::now();
        let ttfb = d
            .stream_timeout
            .or(d.timeout)
            .or(self.config.default_stream_timeout)
            .unwrap_or(self.config.default_timeout);
        let deadline = started + ttfb;

        let inputs = match outbound {
            Outbound::Respond(r) if (200..300).contains(&r.status) => frame(
                Framing::Sse,
                futures::stream::iter([Ok(Bytes::from(r.body))]),
            ),
            Outbound::Respond(r) => return Err(self.error_answer(&adapter, &input, r)),
            Outbound::Send(req) => {
                let answer = self
                    .upstream
                    .send(&req, ttfb)
                    .await
                    .map_err(Failure::Upstream)?;
                if !(200..300).contains(&answer.status) {
                    let r = answer
                        .into_response(time_left(deadline))
                        .await
                        .map_err(Failure::Upstream)?;
                    return Err(self.error_answer(&adapter, &input, r));
                }
                frame(
                    req.framing,
                    answer.stream().map(|r| r.map_err(|e| e.to_string())),
                )
            }
        };
        let session = adapter.open_stream(&input).map_err(Failure::Plugin)?;
        let mut relay = Relay {
            session,
            inputs,
            queue: VecDeque::new(),
            head: ChunkHead::default(),
            usage: None,
            saw_usage_chunk: false,
            include_usage,
            state: Phase::Streaming,
            live: self.state.clone(),
            config: self.config.clone(),
            set: set.clone(),
            deployment: d.clone(),
            caller: caller.clone(),
            started,
            ttft: Duration::ZERO,
            _in_flight: in_flight,
        };
        // Wait for the first chunk before committing to this deployment.
        while relay.queue.is_empty() && relay.state == Phase::Streaming {
            let left = deadline.saturating_duration_since(Instant::now());
            let next = tokio::time::timeout(left, relay.inputs.next())
                .await
                .map_err(|_| Failure::Upstream(UpstreamError::Timeout(ttfb)))?;
            match next {
                Some(Ok(input)) => {
                    let out = relay
                        .session
                        .push(&input)
                        .map_err(Failure::BadAnswer)?
                        .map_err(|e| Failure::Provider(e, None))?;
                    let done = out.done;
                    relay.take(out);
                    if done {
                        relay.state = Phase::Finished;
                    }
                }
                Some(Err(e)) => return Err(Failure::Upstream(UpstreamError::Body(e))),
                None => {
                    let out = relay
                        .session
                        .finish()
                        .map_err(Failure::BadAnswer)?
                        .map_err(|e| Failure::Provider(e, None))?;
                    relay.take(out);
                    relay.state = Phase::Finished;
                }
            }
        }
        relay.ttft = started.elapsed();
        *upstream_wait += relay.ttft;
        Ok(Box::pin(futures::stream::unfold(relay, Relay::next)))
    }

    /// The provider error inside a non-2xx answer.
    fn error_answer(
        &self,
        adapter: &crate::plugins::LoadedPlugin,
        input: &crate::plugins::bindings::provider_api::BuildInput,
        r: HttpResponse,
    ) -> Failure {
        let status = r.status;
        match adapter.parse_response(input, &r) {
            Ok(Err(e)) => Failure::Provider(e, retry_after(&r.headers)),
            Err(e) => Failure::BadAnswer(e),
            Ok(Ok(_)) => Failure::Upstream(UpstreamError::Body(format!(
                "status {status} with a body the adapter read as a success"
            ))),
        }
    }
}
