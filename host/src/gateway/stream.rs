//! Streamed chat completions: the upstream body is framed (SSE or raw
//! bytes), decoded by the adapter's stream decoder, and relayed to the
//! client chunk by chunk. Nothing is committed to the client until the
//! first chunk has arrived, so a provider that fails before its first token
//! is replaced by the next deployment without the client noticing.
//!
//! One decode step ([`Relay::pull`]) serves both the wait for the first
//! chunk ([`Relay::first_chunk`]) and the relay after it. A failure once
//! the stream is under way becomes the [`Failure`] it would have been
//! before, rendered as the client's error event ([`ApiError::sse_event`]),
//! so the event has the `type` and `code` the JSON error would have had.
//!
//! [`ApiError::sse_event`]: super::ApiError::sse_event

use std::collections::VecDeque;
use std::pin::Pin;
use std::time::{Duration, Instant};

use bytes::Bytes;
use eventsource_stream::Eventsource;
use futures::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::json;

use crate::plugins::bindings::provider_api::{Framing, SseEvent, StreamInput, StreamOutput};
use crate::plugins::bindings::types::Usage;
use crate::plugins::calls::StreamSession;
use crate::state::InFlight;
use crate::upstream::UpstreamError;

use super::attempt::{Attempt, Sent};
use super::books::Books;
use super::failure::Failure;
use super::{SseBody, views};

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
pub(super) struct Relay {
    session: StreamSession,
    inputs: Inputs,
    queue: VecDeque<Bytes>,
    head: ChunkHead,
    usage: Option<Usage>,
    saw_usage_chunk: bool,
    include_usage: bool,
    phase: Phase,
    books: Books,
    started: Instant,
    ttft: Duration,
    _in_flight: InFlight,
}

#[derive(PartialEq)]
enum Phase {
    /// The decoder may have more.
    Streaming,
    /// The decoder is done; the ending is still to be queued.
    Finished,
    /// Everything is queued.
    Done,
}

impl Relay {
    /// The decode step: the body's next piece through the decoder into the
    /// queue (the decoder's flush once the body has ended). A piece may
    /// decode to no chunk at all.
    async fn pull(&mut self) -> Result<(), Failure> {
        let (out, ended) = match self.inputs.next().await {
            Some(Ok(input)) => (self.session.push(&input), false),
            Some(Err(e)) => return Err(Failure::Upstream(UpstreamError::Body(e))),
            None => (self.session.finish(), true),
        };
        let out = out
            .map_err(Failure::BadAnswer)?
            .map_err(|e| Failure::Provider(e, None))?;
        if out.done || ended {
            self.phase = Phase::Finished;
        }
        self.take(out);
        Ok(())
    }

    /// Waits for the first chunk (or a clean end), `timeout` at most from
    /// when the request was sent.
    async fn wait_first_chunk(&mut self, timeout: Duration) -> Result<(), Failure> {
        let deadline = self.started + timeout;
        while self.queue.is_empty() && self.phase == Phase::Streaming {
            let left = deadline.saturating_duration_since(Instant::now());
            tokio::time::timeout(left, self.pull())
                .await
                .map_err(|_| Failure::Upstream(UpstreamError::Timeout(timeout)))??;
        }
        self.ttft = self.started.elapsed();
        Ok(())
    }

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

    /// Ends the stream: the error event, or the usage chunk if asked for;
    /// `[DONE]`; and the books.
    fn close(&mut self, failure: Option<Failure>) {
        let broke = failure.is_some();
        let d = &self.books.deployment;
        if let Some(failure) = failure {
            tracing::warn!(deployment = %d.id, error = %failure.summary(), "stream broke off");
            self.queue.push_back(failure.to_api(&d.id).sse_event());
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
                "usage": views::usage_to_openai(u),
            });
            self.queue
                .push_back(Bytes::from(format!("data: {chunk}\n\n")));
        }
        self.queue
            .push_back(Bytes::from_static(b"data: [DONE]\n\n"));
        self.phase = Phase::Done;
        let latency = (!broke).then(|| self.started.elapsed());
        self.books
            .record(latency, Some(self.ttft), self.usage.as_ref(), false);
    }

    /// Pulls the next piece of the relayed body.
    async fn next(mut self) -> Option<(Result<Bytes, std::convert::Infallible>, Relay)> {
        loop {
            if let Some(b) = self.queue.pop_front() {
                return Some((Ok(b), self));
            }
            match self.phase {
                Phase::Done => return None,
                Phase::Finished => self.close(None),
                Phase::Streaming => {
                    if let Err(failure) = self.pull().await {
                        self.close(Some(failure));
                    }
                }
            }
        }
    }

    /// The body to relay, starting with what the wait for the first chunk
    /// has queued.
    pub fn into_body(self) -> SseBody {
        Box::pin(futures::stream::unfold(self, Relay::next))
    }
}

impl Attempt<'_> {
    /// Sends a streamed request and decodes up to its first chunk (or a
    /// clean end), within `timeout`: only then is the deployment committed
    /// to.
    pub async fn first_chunk(
        &self,
        timeout: Duration,
        include_usage: bool,
        books: Books,
        in_flight: InFlight,
        wait: &mut Duration,
    ) -> Result<Relay, Failure> {
        let started = Instant::now();
        let inputs = match self.send(timeout, wait).await? {
            Sent::Answer {
                answer, framing, ..
            } if (200..300).contains(&answer.status) => frame(
                framing,
                answer.stream().map(|r| r.map_err(|e| e.to_string())),
            ),
            // The adapter's own answer is the stream's SSE text.
            Sent::Respond(r) if (200..300).contains(&r.status) => frame(
                Framing::Sse,
                futures::stream::iter([Ok(Bytes::from(r.body))]),
            ),
            refused => return Err(self.refusal(&refused.whole(wait).await?)),
        };
        let session = self
            .adapter
            .open_stream(&self.input)
            .map_err(Failure::Plugin)?;
        let mut relay = Relay {
            session,
            inputs,
            queue: VecDeque::new(),
            head: ChunkHead::default(),
            usage: None,
            saw_usage_chunk: false,
            include_usage,
            phase: Phase::Streaming,
            books,
            started,
            ttft: Duration::ZERO,
            _in_flight: in_flight,
        };
        let waiting = Instant::now();
        let first = relay.wait_first_chunk(timeout).await;
        *wait += waiting.elapsed();
        first.map(|()| relay)
    }
}
