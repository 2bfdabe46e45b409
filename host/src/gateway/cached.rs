//! The cache on a request's path, between the sanitisers and the router.
//!
//! A chat request that reads the cache first joins the flight for its key
//! ([`switchyard_cache::flight`]): a follower waits for the call in flight
//! and is answered from it; the leader looks the key up, answers a hit
//! from the entry, and on a miss makes the call, stores the answer and
//! hands it to its followers. A stream is stored as the completion its
//! chunks add up to, once it has ended normally ([`Tap`]); a streaming hit
//! replays that completion as chunks. Embeddings are cached per input
//! item: only the items not cached go upstream.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;
use switchyard_cache::flight::{End, Event, Follower, Joined, Lead};
use switchyard_cache::{chat, embeddings, key};

use crate::cache::{Op, Outcome, Plan, ResponseCache};
use crate::config::ModelGroup;
use crate::plugins::ActiveSet;
use crate::state::now_ms;

use super::attempt::Mode;
use super::error::ApiError;
use super::retry::Call;
use super::{Gateway, Served, ServedBody, SseBody, new_id, own_fields};

/// The deployment a hit names in `x-switchyard-deployment`.
const CACHE_DEPLOYMENT: &str = "cache";

/// An embeddings answer lists at most this many item keys in its header.
const MAX_KEYS_IN_HEADER: usize = 32;

impl Gateway {
    /// Serves a chat call through the cache.
    pub(super) async fn chat_cached(
        &self,
        cache: &Arc<ResponseCache>,
        plan: Plan,
        set: &Arc<ActiveSet>,
        group: &ModelGroup,
        call: &Call<'_>,
    ) -> Result<Served, ApiError> {
        let hash = key::request_hash(Op::Chat.name(), &group.name, call.raw, &left_out_of_key);
        let key = plan.key(&hash);
        let client_usage = match call.mode {
            Mode::Stream { include_usage } => Some(include_usage),
            Mode::Whole => None,
        };
        // The stored completion keeps the usage whether or not this client
        // asked for it (the tap hides it from a client that did not).
        let call = &call.with(
            match call.mode {
                Mode::Stream { .. } => Mode::Stream {
                    include_usage: true,
                },
                Mode::Whole => Mode::Whole,
            },
            call.raw,
        );
        if !plan.reads {
            let outcome = outcome("bypass", &key);
            let served = self.serve_call(set, group, call).await?;
            return Ok(keep(
                cache,
                &plan,
                &key,
                None,
                served,
                client_usage,
                outcome,
            ));
        }
        let lead = match cache.flights.join(&key) {
            Joined::Follow(f) => {
                if let Some(r) = follow(f, group, call, client_usage, &key).await {
                    return r;
                }
                // The call followed went away unanswered: make it here.
                let served = self.serve_call(set, group, call).await?;
                let outcome = outcome("miss", &key);
                return Ok(keep(
                    cache,
                    &plan,
                    &key,
                    None,
                    served,
                    client_usage,
                    outcome,
                ));
            }
            Joined::Lead(lead) => lead,
        };
        if let Some(entry) = cache.lookup(&plan, &key).await {
            let body = entry.body;
            lead.end(End::Done(body.clone()));
            call.ledger.cache_hit(&group.name);
            return Ok(hit(
                group,
                stored(&body, client_usage),
                outcome("hit", &key),
            ));
        }
        match self.serve_call(set, group, call).await {
            Ok(served) => Ok(keep(
                cache,
                &plan,
                &key,
                Some(lead),
                served,
                client_usage,
                outcome("miss", &key),
            )),
            Err(e) => {
                lead.end(End::Failed(e.clone()));
                Err(e)
            }
        }
    }

    /// Serves an embeddings call through the cache, item by item.
    pub(super) async fn embeddings_cached(
        &self,
        cache: &Arc<ResponseCache>,
        plan: Plan,
        set: &Arc<ActiveSet>,
        group: &ModelGroup,
        call: &Call<'_>,
    ) -> Result<Served, ApiError> {
        let input = call.raw.get("input").unwrap_or(&Value::Null);
        let Some(items) = embeddings::items(input) else {
            // Not a shape items can be told apart in: not cached.
            return self.serve_call(set, group, call).await;
        };
        let keys: Vec<String> = items
            .iter()
            .map(|item| {
                plan.key(&key::item_hash(
                    &group.name,
                    call.raw,
                    item,
                    &left_out_of_key,
                ))
            })
            .collect();
        let header = item_keys_header(&keys);
        let mut cached: Vec<(usize, Value)> = Vec::new();
        if plan.reads {
            let found =
                futures::future::join_all(keys.iter().map(|k| cache.lookup(&plan, k))).await;
            for (i, entry) in found.into_iter().enumerate() {
                if let Some(v) = entry.and_then(|e| serde_json::from_slice(&e.body).ok()) {
                    cached.push((i, v));
                }
            }
        }
        let total = items.len();
        if cached.len() == total {
            call.ledger.cache_hit(&group.name);
            let answer = embeddings::merge(total, cached, None, &group.name);
            let body = Bytes::from(serde_json::to_vec(&answer).unwrap_or_default());
            let mut served = hit(group, ServedBody::Json(body), outcome("hit", &header));
            if let Some(o) = &mut served.cache {
                o.items = Some((total, total));
            }
            return Ok(served);
        }
        let status = if plan.reads { "miss" } else { "bypass" };
        let missing: Vec<usize> = (0..total)
            .filter(|i| !cached.iter().any(|(c, _)| c == i))
            .collect();
        let subset;
        let narrowed;
        let call = if cached.is_empty() {
            call
        } else {
            let mut raw = call.raw.clone();
            raw.insert("input".into(), embeddings::subset_input(input, &missing));
            subset = raw;
            narrowed = call.with(call.mode, &subset);
            &narrowed
        };
        let mut served = self.serve_call(set, group, call).await?;
        let hits = cached.len();
        if let ServedBody::Json(body) = &served.body
            && let Ok(fresh) = serde_json::from_slice::<Value>(body)
            && let Some(vectors) = embeddings::vectors(&fresh)
            && vectors.len() == missing.len()
        {
            for (&i, v) in missing.iter().zip(&vectors) {
                if let Ok(bytes) = serde_json::to_vec(v) {
                    cache.keep(&plan, &keys[i], Bytes::from(bytes));
                }
            }
            if hits > 0 {
                let answer =
                    embeddings::merge(total, cached, Some((&fresh, &missing)), &group.name);
                served.body =
                    ServedBody::Json(Bytes::from(serde_json::to_vec(&answer).unwrap_or_default()));
            }
        }
        let mut o = outcome(status, &header);
        o.items = Some((hits, total));
        served.cache = Some(o);
        Ok(served)
    }
}

/// Whether a field is left out of the key: the gateway's own fields, but
/// for `mock_response`, which is the answer a mock deployment gives.
fn left_out_of_key(field: &str) -> bool {
    field != "mock_response" && own_fields::is_own(field)
}

fn outcome(status: &'static str, key: &str) -> Outcome {
    Outcome {
        status,
        key: key.to_string(),
        items: None,
    }
}

/// The item keys, as many as a header should carry.
fn item_keys_header(keys: &[String]) -> String {
    if keys.len() <= MAX_KEYS_IN_HEADER {
        keys.join(",")
    } else {
        format!("{},...", keys.first().map_or("", String::as_str))
    }
}

/// An answer the cache gave.
fn hit(group: &ModelGroup, body: ServedBody, outcome: Outcome) -> Served {
    Served {
        group: group.name.clone(),
        deployment: CACHE_DEPLOYMENT.into(),
        route_reason: None,
        attempts: 0,
        fallbacks: 0,
        upstream_wait: Duration::ZERO,
        body,
        cache: Some(outcome),
    }
}

/// A stored completion as this client asked for it: whole with a new id,
/// or replayed as a stream.
fn stored(body: &Bytes, client_usage: Option<bool>) -> ServedBody {
    let id = format!("chatcmpl-{}", new_id());
    let created = now_ms() / 1000;
    match client_usage {
        None => ServedBody::Json(chat::renamed(body, &id, created).unwrap_or_else(|| body.clone())),
        Some(include_usage) => {
            let whole: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let frames: Vec<Result<Bytes, std::convert::Infallible>> =
                chat::replay(&whole, include_usage, &id, created)
                    .into_iter()
                    .map(|c| Ok(frame(&c)))
                    .chain([Ok(Bytes::from_static(DONE))])
                    .collect();
            ServedBody::Sse(Box::pin(futures::stream::iter(frames)))
        }
    }
}

const DONE: &[u8] = b"data: [DONE]\n\n";

fn frame(chunk: &str) -> Bytes {
    Bytes::from(format!("data: {chunk}\n\n"))
}

/// A served answer: stored (a whole one at once, a stream once it has
/// ended), and handed to the followers.
fn keep(
    cache: &Arc<ResponseCache>,
    plan: &Plan,
    key: &str,
    lead: Option<Lead<ApiError>>,
    mut served: Served,
    client_usage: Option<bool>,
    outcome: Outcome,
) -> Served {
    served.cache = Some(outcome);
    served.body = match served.body {
        ServedBody::Json(body) => {
            if is_completion(&body) {
                cache.keep(plan, key, body.clone());
                if let Some(lead) = lead {
                    lead.end(End::Done(body.clone()));
                }
            }
            ServedBody::Json(body)
        }
        ServedBody::Sse(inner) => ServedBody::Sse(Box::pin(Tap {
            inner,
            // Assembled to be stored, or for followers that want it whole.
            assembler: (plan.writes || lead.is_some()).then(chat::Assembler::default),
            lead,
            cache: cache.clone(),
            plan: plan.clone(),
            key: key.to_string(),
            include_usage: client_usage.unwrap_or(false),
            failed: None,
            ended: false,
        })),
    };
    served
}

/// Whether a whole answer is a completion worth storing.
fn is_completion(body: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Head {
        choices: Vec<IgnoredAny>,
    }
    serde_json::from_slice::<Head>(body).is_ok_and(|h| !h.choices.is_empty())
}

/// What the tap reads of a chunk: whether it carries only the usage.
#[derive(Deserialize)]
struct UsageView {
    #[serde(default)]
    choices: Option<Vec<IgnoredAny>>,
    #[serde(default)]
    usage: Option<IgnoredAny>,
}

fn usage_only(chunk: &str) -> bool {
    serde_json::from_str::<UsageView>(chunk)
        .is_ok_and(|v| v.usage.is_some() && v.choices.is_none_or(|c| c.is_empty()))
}

/// A chunk's text from one relayed frame (`data: …\n\n`).
fn chunk_of(frame: &[u8]) -> Option<&str> {
    std::str::from_utf8(frame)
        .ok()?
        .strip_prefix("data: ")
        .map(|t| t.trim_end_matches('\n'))
}

/// The stream relayed to the leading client, read on its way: each chunk
/// goes to the followers and the assembler; at a normal end the
/// completion is stored and ends the flight. Dropped before its end (the
/// client left), the flight ends abandoned and nothing is stored.
struct Tap {
    inner: SseBody,
    lead: Option<Lead<ApiError>>,
    assembler: Option<chat::Assembler>,
    cache: Arc<ResponseCache>,
    plan: Plan,
    key: String,
    /// Whether the client asked for the usage chunk.
    include_usage: bool,
    /// The error event the stream ended with.
    failed: Option<ApiError>,
    ended: bool,
}

impl Tap {
    /// Reads one chunk; whether the client gets it.
    fn read(&mut self, chunk: &str) -> bool {
        if chunk.starts_with("{\"error\"") {
            self.failed = Some(stream_error(chunk));
        } else if let Some(a) = &mut self.assembler {
            a.push(chunk);
        }
        if let Some(lead) = &self.lead {
            lead.chunk(Arc::from(chunk));
        }
        self.include_usage || !usage_only(chunk)
    }

    fn end(&mut self) {
        if self.ended {
            return;
        }
        self.ended = true;
        let end = match (self.failed.take(), self.assembler.take()) {
            (Some(e), _) => End::Failed(e),
            (None, Some(a)) => match a.finish() {
                Some(whole) => {
                    let body = Bytes::from(serde_json::to_vec(&whole).unwrap_or_default());
                    self.cache.keep(&self.plan, &self.key, body.clone());
                    End::Done(body)
                }
                // Ended without a finish reason: nothing to store.
                None => End::Abandoned,
            },
            (None, None) => End::Abandoned,
        };
        if let Some(lead) = self.lead.take() {
            lead.end(end);
        }
    }
}

impl Stream for Tap {
    type Item = Result<Bytes, std::convert::Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            match this.inner.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    let Some(chunk) = chunk_of(&frame) else {
                        return Poll::Ready(Some(Ok(frame)));
                    };
                    if chunk == "[DONE]" {
                        this.end();
                        return Poll::Ready(Some(Ok(frame)));
                    }
                    if this.read(chunk) {
                        return Poll::Ready(Some(Ok(frame)));
                    }
                }
                Poll::Ready(None) => {
                    this.end();
                    return Poll::Ready(None);
                }
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(never))) => match never {},
            }
        }
    }
}

/// The client's error from a stream's error event.
fn stream_error(chunk: &str) -> ApiError {
    let v: Value = serde_json::from_str(chunk).unwrap_or(Value::Null);
    let e = &v["error"];
    let mut err = ApiError::new(
        axum::http::StatusCode::BAD_GATEWAY,
        "api_error",
        e["message"].as_str().unwrap_or("the stream broke off"),
    );
    err.code = e["code"].as_str().map(str::to_string);
    err
}

/// Answers a follower from the call it waited for; `None` when that call
/// went away before anything could be given (the follower calls itself).
async fn follow(
    mut f: Follower<ApiError>,
    group: &ModelGroup,
    call: &Call<'_>,
    client_usage: Option<bool>,
    key: &str,
) -> Option<Result<Served, ApiError>> {
    let Some(include_usage) = client_usage else {
        return match f.end().await {
            End::Done(body) => {
                call.ledger.cache_hit(&group.name);
                Some(Ok(hit(group, stored(&body, None), outcome("hit", key))))
            }
            End::Failed(e) => Some(Err(e)),
            End::Abandoned => None,
        };
    };
    let first = match f.next().await {
        Event::Chunk(c) => c,
        Event::End(End::Done(body)) => {
            // The call was whole: its answer, replayed.
            call.ledger.cache_hit(&group.name);
            return Some(Ok(hit(
                group,
                stored(&body, Some(include_usage)),
                outcome("hit", key),
            )));
        }
        Event::End(End::Failed(e)) => return Some(Err(e)),
        Event::End(End::Abandoned) => return None,
    };
    call.ledger.cache_hit(&group.name);
    let body = futures::stream::unfold(
        (f, Some(first), false),
        move |(mut f, pending, done)| async move {
            if done {
                return None;
            }
            let mut pending = pending;
            loop {
                let event = match pending.take() {
                    Some(c) => Event::Chunk(c),
                    None => f.next().await,
                };
                match event {
                    Event::Chunk(c) => {
                        if include_usage || !usage_only(&c) {
                            return Some((Ok(frame(&c)), (f, None, false)));
                        }
                    }
                    Event::End(End::Abandoned) => {
                        let e = ApiError::new(
                            axum::http::StatusCode::BAD_GATEWAY,
                            "api_error",
                            "the stream this request shared with an identical one ended early: its first client went away",
                        );
                        let mut bytes = e.sse_event().to_vec();
                        bytes.extend_from_slice(DONE);
                        return Some((Ok(Bytes::from(bytes)), (f, None, true)));
                    }
                    // The leader's error event came as a chunk.
                    Event::End(_) => {
                        return Some((Ok(Bytes::from_static(DONE)), (f, None, true)));
                    }
                }
            }
        },
    );
    Some(Ok(hit(
        group,
        ServedBody::Sse(Box::pin(body)),
        outcome("hit", key),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_usage_only_chunk_is_told_from_a_text_chunk() {
        assert!(usage_only(r#"{"choices":[],"usage":{"prompt_tokens":1}}"#));
        assert!(usage_only(r#"{"usage":{"prompt_tokens":1}}"#));
        assert!(!usage_only(
            r#"{"choices":[{"delta":{"content":"a"}}],"usage":{"prompt_tokens":1}}"#
        ));
        assert!(!usage_only(r#"{"choices":[],"usage":null}"#));
        assert!(!usage_only("not json"));
    }

    #[test]
    fn a_frame_yields_its_chunk() {
        assert_eq!(chunk_of(b"data: {\"a\":1}\n\n"), Some("{\"a\":1}"));
        assert_eq!(chunk_of(b"data: [DONE]\n\n"), Some("[DONE]"));
        assert_eq!(chunk_of(b": keep-alive\n\n"), None);
    }

    #[test]
    fn an_embeddings_header_lists_at_most_32_keys() {
        let keys: Vec<String> = (0..3).map(|i| format!("k{i}")).collect();
        assert_eq!(item_keys_header(&keys), "k0,k1,k2");
        let keys: Vec<String> = (0..40).map(|i| format!("k{i}")).collect();
        assert_eq!(item_keys_header(&keys), "k0,...");
    }
}
