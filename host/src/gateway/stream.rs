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
//! Every stream is priced. Adapters ask OpenAI-compatible providers for
//! the stream's usage whether or not the client did; for a client that did
//! not, the relay drops the provider's usage-only chunk (empty `choices`,
//! a `usage`) but still books the usage. A client that asked gets exactly
//! one usage chunk: the provider's, or the gateway's at the end. A stream
//! that ends with no usage from the provider, breaks off, or whose client
//! goes away is booked with an estimate ([`Meter`]): the request's
//! estimated input tokens, and about a token per four characters of the
//! text streamed (content, tool-call arguments, reasoning), at least one
//! per chunk with text. There is no tokenizer: it is an estimate, and
//! booked as one.
//!
//! [`ApiError::sse_event`]: super::ApiError::sse_event

use std::borrow::Cow;
use std::collections::VecDeque;
use std::pin::Pin;
use std::time::{Duration, Instant};

use bytes::Bytes;
use eventsource_stream::Eventsource;
use futures::{Stream, StreamExt};
use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, Visitor};
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
#[derive(Default, Clone, Debug, PartialEq)]
struct ChunkHead {
    id: Option<String>,
    model: Option<String>,
    created: Option<u64>,
}

/// What the relay reads of a chunk, in one pass that allocates only for the
/// choices list (and an id or model with escapes in it).
#[derive(Deserialize)]
struct ChunkView<'a> {
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    model: Option<Cow<'a, str>>,
    #[serde(default)]
    created: Option<u64>,
    /// `null` reads as absent, as OpenAI sends it on every chunk but the
    /// last once usage is asked for.
    #[serde(default)]
    usage: Option<IgnoredAny>,
    #[serde(default)]
    choices: Option<Vec<ChoiceView>>,
}

#[derive(Deserialize)]
struct ChoiceView {
    #[serde(default)]
    delta: Option<DeltaView>,
}

#[derive(Deserialize)]
struct DeltaView {
    #[serde(default)]
    content: Chars,
    #[serde(default)]
    reasoning_content: Chars,
    #[serde(default)]
    reasoning: Chars,
    #[serde(default)]
    tool_calls: Option<Vec<ToolCallView>>,
}

#[derive(Deserialize)]
struct ToolCallView {
    #[serde(default)]
    function: Option<FunctionView>,
}

#[derive(Deserialize)]
struct FunctionView {
    #[serde(default)]
    arguments: Chars,
}

/// The characters of a string field; anything else (null, content parts)
/// counts none. Counted as the string is read, never copied.
#[derive(Default, Clone, Copy)]
struct Chars(u64);

impl<'de> Deserialize<'de> for Chars {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Count;
        impl<'de> Visitor<'de> for Count {
            type Value = Chars;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Chars, E> {
                Ok(Chars(v.chars().count() as u64))
            }
            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Chars, E> {
                Ok(Chars(0))
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Chars, E> {
                Ok(Chars(0))
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Chars, E> {
                Ok(Chars(0))
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Chars, E> {
                Ok(Chars(0))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Chars, E> {
                Ok(Chars(0))
            }
            fn visit_none<E: serde::de::Error>(self) -> Result<Chars, E> {
                Ok(Chars(0))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Chars, D::Error> {
                d.deserialize_any(Count)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Chars, A::Error> {
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Chars(0))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Chars, A::Error> {
                while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Chars(0))
            }
        }
        d.deserialize_any(Count)
    }
}

/// Tokens for `chars` characters: about four a token, rounded up, so a
/// chunk with any text counts at least one.
fn tokens_for(chars: u64) -> u64 {
    chars.div_ceil(4)
}

/// What the relay learns of the chunks it relays: the head for the usage
/// chunk it may add, whether the provider sent a usage chunk, and the
/// tokens streamed, for an estimate when the provider reports no usage.
#[derive(Default, Debug)]
struct Meter {
    head: ChunkHead,
    saw_usage_chunk: bool,
    /// Estimated output tokens so far, reasoning included.
    output_tokens: u64,
    /// Estimated reasoning tokens so far.
    reasoning_tokens: u64,
}

impl Meter {
    /// Reads one chunk; whether it goes to the client. The provider's
    /// usage-only chunk (no choices, a usage) is kept back from a client
    /// that did not ask for usage. A chunk that cannot be read is relayed
    /// as it is and counted as nothing.
    fn read(&mut self, chunk: &str, include_usage: bool) -> bool {
        let Ok(view) = serde_json::from_str::<ChunkView>(chunk) else {
            return true;
        };
        let choices = view.choices.unwrap_or_default();
        for delta in choices.iter().filter_map(|c| c.delta.as_ref()) {
            let text = delta.content.0
                + delta
                    .tool_calls
                    .iter()
                    .flatten()
                    .filter_map(|t| t.function.as_ref())
                    .map(|f| f.arguments.0)
                    .sum::<u64>();
            let reasoning = tokens_for(delta.reasoning_content.0 + delta.reasoning.0);
            self.output_tokens += tokens_for(text) + reasoning;
            self.reasoning_tokens += reasoning;
        }
        let has_usage = view.usage.is_some();
        if !include_usage {
            return !(has_usage && choices.is_empty());
        }
        self.saw_usage_chunk |= has_usage;
        if self.head.id.is_none() {
            self.head = ChunkHead {
                id: view.id.map(Cow::into_owned),
                model: view.model.map(Cow::into_owned),
                created: view.created,
            };
        }
        true
    }

    /// The usage to book when the provider reported none: the request's
    /// estimated input tokens and the output counted here.
    fn estimate(&self, input_tokens: u64) -> Usage {
        Usage {
            input_tokens,
            output_tokens: self.output_tokens,
            cache_read_tokens: 0,
            cache_write_tokens: 0,
            reasoning_tokens: self.reasoning_tokens,
            extra: Vec::new(),
        }
    }

    /// The usage chunk the gateway adds for a client that asked for usage
    /// when the provider sent none.
    fn usage_chunk(&self, usage: &Usage) -> Bytes {
        let chunk = json!({
            "id": self.head.id,
            "object": "chat.completion.chunk",
            "created": self.head.created.unwrap_or(0),
            "model": self.head.model,
            "choices": [],
            "usage": views::usage_to_openai(usage),
        });
        Bytes::from(format!("data: {chunk}\n\n"))
    }
}

/// Everything the relay needs after the handler has returned.
pub(super) struct Relay {
    session: StreamSession,
    inputs: Inputs,
    queue: VecDeque<Bytes>,
    meter: Meter,
    /// The usage the provider reported, if it has.
    usage: Option<Usage>,
    include_usage: bool,
    /// The request's estimated input tokens, for a stream the provider
    /// reports no usage for.
    estimated_input: u64,
    phase: Phase,
    /// Whether the stream was handed to the client (its first chunk came):
    /// only then is a stream cut short booked when dropped.
    committed: bool,
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
            if self.meter.read(&chunk, self.include_usage) {
                self.queue
                    .push_back(Bytes::from(format!("data: {chunk}\n\n")));
            }
        }
        if out.usage.is_some() {
            self.usage = out.usage;
        }
    }

    /// The usage to book: the provider's, else the estimate (and whether it
    /// is one).
    fn usage_or_estimate(&mut self) -> (Usage, bool) {
        match self.usage.take() {
            Some(u) => (u, false),
            None => (self.meter.estimate(self.estimated_input), true),
        }
    }

    /// Ends the stream: the error event, or the usage chunk if asked for;
    /// `[DONE]`; and the books.
    fn close(&mut self, failure: Option<Failure>) {
        let broke = failure.is_some();
        let (usage, estimated) = self.usage_or_estimate();
        let d = &self.books.deployment;
        if let Some(failure) = failure {
            tracing::warn!(deployment = %d.id, error = %failure.summary(), "stream broke off");
            self.queue.push_back(failure.to_api(&d.id).sse_event());
        } else if self.include_usage && !self.meter.saw_usage_chunk {
            self.queue.push_back(self.meter.usage_chunk(&usage));
        }
        self.queue
            .push_back(Bytes::from_static(b"data: [DONE]\n\n"));
        self.phase = Phase::Done;
        let latency = (!broke).then(|| self.started.elapsed());
        self.books
            .record(latency, Some(self.ttft), Some(&usage), estimated);
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

impl Drop for Relay {
    /// A client that goes away mid-stream drops the relay before its end:
    /// the provider bills what it generated up to then, so it is booked
    /// (as a stream that broke off: no latency sample).
    fn drop(&mut self) {
        if self.committed && self.phase != Phase::Done {
            self.phase = Phase::Done;
            let (usage, estimated) = self.usage_or_estimate();
            tracing::info!(deployment = %self.books.deployment.id, "client left mid-stream");
            self.books
                .record(None, Some(self.ttft), Some(&usage), estimated);
        }
    }
}

impl Attempt<'_> {
    /// Sends a streamed request and decodes up to its first chunk (or a
    /// clean end), within `timeout`: only then is the deployment committed
    /// to. `estimated_input` is the request's estimated input tokens, booked
    /// if the provider reports no usage.
    pub async fn first_chunk(
        &self,
        timeout: Duration,
        include_usage: bool,
        estimated_input: u64,
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
            meter: Meter::default(),
            usage: None,
            include_usage,
            estimated_input,
            phase: Phase::Streaming,
            committed: false,
            books,
            started,
            ttft: Duration::ZERO,
            _in_flight: in_flight,
        };
        let waiting = Instant::now();
        let first = relay.wait_first_chunk(timeout).await;
        *wait += waiting.elapsed();
        // A stream that fails before its first chunk is an attempt that
        // failed, not a call served: not booked.
        relay.committed = first.is_ok();
        first.map(|()| relay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(choices: serde_json::Value, usage: serde_json::Value) -> String {
        json!({"id": "c1", "object": "chat.completion.chunk", "created": 7, "model": "m",
               "choices": choices, "usage": usage})
        .to_string()
    }

    fn delta(delta: serde_json::Value) -> serde_json::Value {
        json!([{"index": 0, "delta": delta, "finish_reason": null}])
    }

    fn usage() -> serde_json::Value {
        json!({"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7})
    }

    #[test]
    fn the_usage_only_chunk_is_kept_back_from_a_client_that_did_not_ask() {
        let mut m = Meter::default();
        assert!(!m.read(&chunk(json!([]), usage()), false));
        // Without choices at all, likewise.
        assert!(!m.read(r#"{"id":"c1","usage":{"prompt_tokens":1}}"#, false));
        // Text chunks pass, `usage: null` or not.
        assert!(m.read(&chunk(delta(json!({"content": "hi"})), json!(null)), false));
        assert!(m.read(&chunk(delta(json!({"content": "hi"})), usage()), false));
        assert!(!m.saw_usage_chunk);
    }

    #[test]
    fn a_client_that_asked_gets_the_providers_usage_chunk_and_no_other() {
        let mut m = Meter::default();
        assert!(m.read(&chunk(delta(json!({"content": "hi"})), json!(null)), true));
        assert!(!m.saw_usage_chunk);
        assert!(m.read(&chunk(json!([]), usage()), true));
        assert!(m.saw_usage_chunk);
        // Usage on the last text chunk (Mistral's way) counts too.
        let mut m = Meter::default();
        assert!(m.read(&chunk(delta(json!({"content": "hi"})), usage()), true));
        assert!(m.saw_usage_chunk);
    }

    #[test]
    fn streamed_text_is_counted_about_four_characters_a_token() {
        let mut m = Meter::default();
        for d in [
            json!({"role": "assistant", "content": ""}),
            json!({"content": "Hello"}),
            json!({"content": "!"}),
            json!({"content": "café"}),
            json!({"reasoning_content": "Let me think"}),
            json!({"reasoning": "hmm"}),
            json!({"tool_calls": [{"index": 0, "id": "t", "type": "function",
                    "function": {"name": "get_weather", "arguments": ""}}]}),
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":\"Paris\"}"}},
                                  {"index": 1, "function": {"arguments": "{}"}}]}),
            json!({}),
            json!({"content": null}),
            json!({"content": [{"type": "text", "text": "parts are not counted"}]}),
        ] {
            assert!(m.read(&chunk(delta(d), json!(null)), false));
        }
        // Hello 2, ! 1, café 1, "Let me think" 3, hmm 1, arguments 18 → 5.
        assert_eq!((m.output_tokens, m.reasoning_tokens), (13, 4));
        // Every choice of a chunk counts.
        let mut m = Meter::default();
        m.read(
            &chunk(
                json!([{"index": 0, "delta": {"content": "abcde"}}, {"index": 1, "delta": {"content": "x"}}]),
                json!(null),
            ),
            false,
        );
        assert_eq!(m.output_tokens, 3);
    }

    #[test]
    fn an_unreadable_chunk_is_relayed_and_counts_nothing() {
        let mut m = Meter::default();
        assert!(m.read("not json", true));
        assert!(m.read(r#"{"choices":"no","usage":{}}"#, false));
        assert_eq!((m.output_tokens, m.saw_usage_chunk), (0, false));
        assert_eq!(m.head, ChunkHead::default());
    }

    #[test]
    fn the_estimate_books_the_requests_input_and_the_streamed_output() {
        let mut m = Meter::default();
        m.read(
            &chunk(
                delta(json!({"content": "12345678", "reasoning_content": "abc"})),
                json!(null),
            ),
            false,
        );
        let u = m.estimate(120);
        assert_eq!(
            (
                u.input_tokens,
                u.output_tokens,
                u.cache_read_tokens,
                u.cache_write_tokens,
                u.reasoning_tokens
            ),
            (120, 3, 0, 0, 1)
        );
        assert!(u.extra.is_empty());
    }

    #[test]
    fn the_gateways_usage_chunk_takes_the_streams_head() {
        let mut m = Meter::default();
        // Without include_usage the head is not kept (nothing to add).
        m.read(&chunk(delta(json!({"content": "a"})), json!(null)), false);
        assert_eq!(m.head, ChunkHead::default());
        m.read(&chunk(delta(json!({"content": "a"})), json!(null)), true);
        m.read(
            r#"{"id":"later","model":"other","created":9,"choices":[]}"#,
            true,
        );
        let bytes = m.usage_chunk(&m.estimate(10));
        let text = std::str::from_utf8(&bytes).unwrap();
        let body: serde_json::Value = serde_json::from_str(
            text.strip_prefix("data: ")
                .and_then(|t| t.strip_suffix("\n\n"))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            body,
            json!({"id": "c1", "object": "chat.completion.chunk", "created": 7, "model": "m",
                   "choices": [],
                   "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}})
        );
    }
}
