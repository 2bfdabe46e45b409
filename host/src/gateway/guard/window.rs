//! The response stage on a stream: the text of each choice is checked in
//! windows as it flows, and only the current window is held back.
//!
//! Chunks (`data:` events) whose text has been checked are released in
//! the order they came; events without text (the role, the finish, usage)
//! pass at once when nothing is held, else in their place behind the held
//! text. A tool-call (or function-call) delta for a choice first has that
//! choice's waiting text checked as a window of its own, so the deltas are
//! not held back behind a short preamble ("Let me check.") until the
//! stream ends. A choice's text is checked once
//! `window_chars` characters of it wait, up to the last whitespace in them
//! (so a word, and a placeholder like `[EMAIL_1]`, is never cut in two;
//! a window without whitespace is cut at `window_chars`); what follows the
//! cut waits for the next window. Each window's text starts with the last
//! `overlap_chars` characters already released (the contract's `overlap`),
//! so a phrase across two windows is seen whole. When the choice finishes
//! (its `finish_reason`, `[DONE]`, an error event, or the end of the body)
//! what waits is checked as the last window, even when nothing waits (the
//! text ended on a window boundary), so the sanitisers always see `last`.
//!
//! Limits: choices are kept in a map by index (an upstream index never
//! sizes an allocation); an event still incomplete after
//! [`MAX_PARTIAL_EVENT`] bytes ends the guarding of that stream (what is
//! held is checked and released, the rest passes through unchecked, with a
//! warning).
//!
//! A rewrite replaces the window's held text: the first held chunk carries
//! the new text, the others lose theirs (a chunk left with nothing is not
//! sent). A chunk cut by a window is split in two. A deny (or a sanitiser
//! failing closed) drops what is held and ends the stream: a chunk with
//! `finish_reason: "content_filter"` for the choice, the error event
//! ([`ApiError::sse_event`]), `[DONE]`; the upstream body is dropped, which
//! cancels the provider's generation.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use futures::StreamExt;
use serde_json::{Value, json};

use crate::plugins::bindings::sanitizer_api::{StreamWindow, Verdict};
use crate::plugins::bindings::types::{ContentPart, Message, Role};

use super::super::SseBody;
use super::super::error::ApiError;
use super::{Watcher, filtered};

/// Bytes of one SSE event the guard buffers while waiting for its end;
/// beyond this the stream is no longer guarded.
pub const MAX_PARTIAL_EVENT: usize = 1 << 20;

/// One window handed to the checker.
#[derive(Debug, Clone, PartialEq)]
pub struct Window<'a> {
    pub choice: u32,
    /// The overlap, then the held text.
    pub text: &'a str,
    /// Characters of the choice released before the held text.
    pub released: u64,
    /// Characters at the start of `text` already released.
    pub overlap: u32,
    pub last: bool,
    pub finish_reason: Option<&'a str>,
}

/// What a check decided.
#[derive(Debug, Clone)]
pub enum Outcome {
    Allow,
    /// The held text (after the overlap) becomes this.
    Rewrite(String),
    /// The stream ends with this error.
    Stop(ApiError),
}

/// Checks windows.
pub trait Checker: Send {
    fn check(&mut self, window: &Window<'_>) -> Outcome;
}

/// The watching sanitisers in config order: a rewrite by one is what the
/// next one sees.
pub struct Chain {
    pub watchers: Vec<Watcher>,
}

impl Checker for Chain {
    fn check(&mut self, w: &Window<'_>) -> Outcome {
        let overlap_bytes = w
            .text
            .char_indices()
            .nth(w.overlap as usize)
            .map_or(w.text.len(), |(i, _)| i);
        let (overlap, held) = w.text.split_at(overlap_bytes);
        let mut held_now: Option<String> = None;
        for watcher in &mut self.watchers {
            let text = match &held_now {
                Some(h) => format!("{overlap}{h}"),
                None => w.text.to_string(),
            };
            let message = Message {
                role: Role::Assistant,
                content: vec![ContentPart::Text(text)],
                name: None,
                extra: Vec::new(),
            };
            let window = StreamWindow {
                choice: w.choice,
                released: w.released,
                overlap: w.overlap,
                last: w.last,
            };
            match watcher.ask(vec![message], Some(window), w.finish_reason) {
                Err(e) => return Outcome::Stop(e),
                Ok(Verdict::Allow) => {}
                Ok(Verdict::Deny(reason)) => {
                    tracing::info!(plugin = %watcher.name, reason = %reason, choice = w.choice,
                        "stream stopped (content_filter)");
                    return Outcome::Stop(filtered(&watcher.name, &reason));
                }
                Ok(Verdict::Rewrite(messages)) => {
                    held_now = Some(text_of(messages.first()));
                }
            }
        }
        match held_now {
            Some(h) if h != held => Outcome::Rewrite(h),
            _ => Outcome::Allow,
        }
    }
}

/// The text parts of a message, joined.
fn text_of(m: Option<&Message>) -> String {
    m.map(|m| {
        m.content
            .iter()
            .filter_map(|p| match p {
                ContentPart::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect()
    })
    .unwrap_or_default()
}

/// One chunk waiting to be released.
struct Item {
    /// The event as it came, sent as it is unless changed.
    raw: Bytes,
    /// The chunk, when it has text.
    value: Option<Value>,
    changed: bool,
    /// Unchecked text: (position in `choices`, choice index, characters).
    held: Vec<(usize, u64, usize)>,
}

/// One choice's text.
#[derive(Default)]
struct ChoiceText {
    /// Received and not yet checked.
    waiting: String,
    waiting_chars: usize,
    /// The last `overlap` characters released.
    tail: String,
    released: u64,
    finish_reason: Option<String>,
    finished: bool,
    /// Some text of this choice came (so its last window is checked).
    had_text: bool,
}

/// The stream's state between events.
pub struct StreamGuard<C> {
    checker: C,
    window: usize,
    overlap: usize,
    items: VecDeque<Item>,
    /// By the upstream's choice index (a map: the index is not trusted).
    choices: BTreeMap<u64, ChoiceText>,
    /// id, created and model of the first chunk, for the content_filter
    /// chunk.
    head: Option<(Value, Value, Value)>,
    /// Bytes of an event not yet complete.
    partial: Vec<u8>,
    /// Ready to go to the client.
    out: VecDeque<Bytes>,
    stopped: bool,
    /// No longer guarding: bytes pass through as they come.
    unguarded: bool,
}

impl<C: Checker> StreamGuard<C> {
    pub fn new(checker: C, window: usize, overlap: usize) -> StreamGuard<C> {
        let window = window.max(1);
        StreamGuard {
            checker,
            window,
            overlap: overlap.min(window - 1),
            items: VecDeque::new(),
            choices: BTreeMap::new(),
            head: None,
            partial: Vec::new(),
            out: VecDeque::new(),
            stopped: false,
            unguarded: false,
        }
    }

    /// Takes bytes of the relayed body (whole events, as the relay sends
    /// them, or pieces of them).
    pub fn push(&mut self, bytes: &[u8]) {
        if self.stopped {
            return;
        }
        if self.unguarded {
            self.out.push_back(Bytes::copy_from_slice(bytes));
            return;
        }
        let mut rest = bytes;
        if !self.partial.is_empty() {
            // The partial event has no end in it: look only from its last
            // three bytes on (an end may straddle the two pieces).
            let old = self.partial.len();
            let from = old.saturating_sub(3);
            self.partial.extend_from_slice(bytes);
            let Some(end) = find_event_end(&self.partial[from..]).map(|e| from + e) else {
                if self.partial.len() > MAX_PARTIAL_EVENT {
                    self.give_up();
                }
                return;
            };
            self.partial.truncate(end);
            let event = Bytes::from(std::mem::take(&mut self.partial));
            self.event(event);
            if self.stopped {
                return;
            }
            rest = &bytes[end.saturating_sub(old)..];
        }
        while let Some(end) = find_event_end(rest) {
            self.event(Bytes::copy_from_slice(&rest[..end]));
            if self.stopped {
                return;
            }
            rest = &rest[end..];
        }
        self.partial.extend_from_slice(rest);
        if self.partial.len() > MAX_PARTIAL_EVENT {
            self.give_up();
        }
    }

    /// An event too large to buffer: what is held is checked (not as the
    /// last window) and released, then everything passes through.
    fn give_up(&mut self) {
        tracing::warn!(
            bytes = self.partial.len(),
            limit = MAX_PARTIAL_EVENT,
            "stream event too large to guard; the rest of the answer passes unchecked"
        );
        let waiting: Vec<u64> = self.choices.keys().copied().collect();
        for c in waiting {
            self.flush(c);
            if self.stopped {
                return;
            }
        }
        self.release();
        // Anything left (it cannot hold text now) goes out in order.
        while let Some(item) = self.items.pop_front() {
            self.out.push_back(item.raw);
        }
        let rest = Bytes::from(std::mem::take(&mut self.partial));
        self.out.push_back(rest);
        self.unguarded = true;
    }

    /// The body ended: what waits is checked and released.
    pub fn end(&mut self) {
        if self.stopped || self.unguarded {
            return;
        }
        if !self.partial.is_empty() {
            let rest = Bytes::from(std::mem::take(&mut self.partial));
            self.event(rest);
        }
        self.finish_all();
    }

    /// Next bytes for the client.
    pub fn next_out(&mut self) -> Option<Bytes> {
        self.out.pop_front()
    }

    pub fn stopped(&self) -> bool {
        self.stopped
    }

    fn event(&mut self, raw: Bytes) {
        let data = std::str::from_utf8(&raw)
            .ok()
            .and_then(|t| t.trim_end().strip_prefix("data:"))
            .map(str::trim_start);
        let Some(data) = data else {
            return self.pass(raw);
        };
        if data == "[DONE]" || data.starts_with("{\"error\"") {
            // The stream ends (or broke off): everything waiting is checked
            // before the end goes out.
            self.finish_all();
            if !self.stopped {
                self.pass(raw);
            }
            return;
        }
        let Ok(value) = serde_json::from_str::<Value>(data) else {
            return self.pass(raw);
        };
        if self.head.is_none() {
            self.head = Some((
                value.get("id").cloned().unwrap_or(Value::Null),
                value.get("created").cloned().unwrap_or(Value::Null),
                value.get("model").cloned().unwrap_or(Value::Null),
            ));
        }
        let mut held = Vec::new();
        let mut finished = Vec::new();
        // Choices with a tool-call delta: their waiting text is checked
        // before the delta goes out.
        let mut flushed = Vec::new();
        if let Some(choices) = value.get("choices").and_then(Value::as_array) {
            for (j, c) in choices.iter().enumerate() {
                let index = c.get("index").and_then(Value::as_u64).unwrap_or(j as u64);
                let text = c.pointer("/delta/content").and_then(Value::as_str);
                if let Some(text) = text.filter(|t| !t.is_empty()) {
                    let n = text.chars().count();
                    let state = self.choice(index);
                    state.waiting.push_str(text);
                    state.waiting_chars += n;
                    state.had_text = true;
                    held.push((j, index, n));
                }
                if let Some(f) = c.get("finish_reason").and_then(Value::as_str) {
                    self.choice(index).finish_reason = Some(f.to_string());
                    finished.push(index);
                } else if has_call_delta(c) {
                    flushed.push(index);
                }
            }
        }
        let touched: Vec<u64> = held.iter().map(|h| h.1).collect();
        let has_text = !held.is_empty();
        if has_text {
            self.items.push_back(Item {
                raw: raw.clone(),
                value: Some(value),
                changed: false,
                held,
            });
        }
        for c in touched {
            self.check_full_windows(c);
            if self.stopped {
                return;
            }
        }
        for c in flushed {
            self.flush(c);
            if self.stopped {
                return;
            }
        }
        for c in finished {
            self.finish(c);
            if self.stopped {
                return;
            }
        }
        self.release();
        if !has_text {
            // After the checks it caused: a rewrite they made goes first.
            self.pass(raw);
        }
    }

    /// An event with no text: out at once, or behind what is held.
    fn pass(&mut self, raw: Bytes) {
        if self.items.is_empty() {
            self.out.push_back(raw);
        } else {
            self.items.push_back(Item {
                raw,
                value: None,
                changed: false,
                held: Vec::new(),
            });
        }
    }

    fn choice(&mut self, index: u64) -> &mut ChoiceText {
        self.choices.entry(index).or_default()
    }

    /// Checks full windows of choice `c` while there are.
    fn check_full_windows(&mut self, c: u64) {
        let window = self.window;
        while !self.stopped {
            let state = self.choice(c);
            if state.waiting_chars < window {
                break;
            }
            let cut = cut_point(&state.waiting, window);
            self.check(c, cut, false);
        }
    }

    /// Checks what waits of choice `c`, if anything, as a window that is
    /// not the last (something other than text comes next).
    fn flush(&mut self, c: u64) {
        let chars = self.choice(c).waiting_chars;
        if chars > 0 {
            self.check(c, chars, false);
        }
    }

    /// Choice `c` has finished: its last window (empty after the overlap
    /// when the text ended on a window boundary).
    fn finish(&mut self, c: u64) {
        let state = self.choice(c);
        if state.finished {
            return;
        }
        state.finished = true;
        if !state.had_text {
            return;
        }
        let chars = state.waiting_chars;
        self.check(c, chars, true);
    }

    fn finish_all(&mut self) {
        let choices: Vec<u64> = self.choices.keys().copied().collect();
        for c in choices {
            self.finish(c);
            if self.stopped {
                return;
            }
        }
        self.release();
    }

    /// Checks the first `chars` waiting characters of choice `c`.
    fn check(&mut self, c: u64, chars: usize, last: bool) {
        let state = self.choices.entry(c).or_default();
        let held_end = state
            .waiting
            .char_indices()
            .nth(chars)
            .map_or(state.waiting.len(), |(i, _)| i);
        let text = format!("{}{}", state.tail, &state.waiting[..held_end]);
        let overlap = state.tail.chars().count() as u32;
        let window = Window {
            // The contract's choice is a u32; an index beyond is absurd but
            // still checked, under the largest one.
            choice: u32::try_from(c).unwrap_or(u32::MAX),
            text: &text,
            released: state.released,
            overlap,
            last,
            finish_reason: if last {
                state.finish_reason.as_deref()
            } else {
                None
            },
        };
        let outcome = self.checker.check(&window);
        let out_text = match outcome {
            Outcome::Stop(error) => return self.stop(c, error),
            Outcome::Allow => None,
            Outcome::Rewrite(t) => Some(t),
        };
        let released_text = out_text.as_deref().unwrap_or(&text[state.tail.len()..]);
        let released_chars = released_text.chars().count();
        // The new tail: the last `overlap` characters the client has.
        let joined = format!("{}{}", state.tail, released_text);
        let skip = joined.chars().count().saturating_sub(self.overlap);
        let tail: String = joined.chars().skip(skip).collect();
        let state = self.choice(c);
        state.tail = tail;
        state.released += released_chars as u64;
        state.waiting.drain(..held_end);
        state.waiting_chars -= chars;
        self.consume(c, chars, out_text);
    }

    /// Marks `chars` characters of choice `c` checked in the held chunks,
    /// in order, putting `rewrite` in the first and removing the text of
    /// the others when there is one; a chunk cut in the middle is split.
    fn consume(&mut self, c: u64, mut chars: usize, rewrite: Option<String>) {
        let rewriting = rewrite.is_some();
        let mut rewrite = rewrite;
        let mut i = 0;
        while chars > 0 && i < self.items.len() {
            let Some(p) = self.items[i].held.iter().position(|h| h.1 == c) else {
                i += 1;
                continue;
            };
            let (j, _, n) = self.items[i].held[p];
            if n <= chars {
                chars -= n;
                let item = &mut self.items[i];
                item.held.remove(p);
                if rewriting {
                    set_content(item, j, rewrite.take().unwrap_or_default());
                }
                i += 1;
            } else {
                // Split: the checked part goes out as a chunk of its own.
                let item = &mut self.items[i];
                let Some(value) = &item.value else {
                    i += 1;
                    continue;
                };
                let content = value
                    .pointer(&format!("/choices/{j}/delta/content"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let at = content
                    .char_indices()
                    .nth(chars)
                    .map_or(content.len(), |(b, _)| b);
                let (first, rest) = (content[..at].to_string(), content[at..].to_string());
                let mut piece = value.clone();
                if let Some(choice) = value.pointer(&format!("/choices/{j}")) {
                    let mut choice = choice.clone();
                    choice["delta"] = json!({"content": rewrite.take().unwrap_or(if rewriting { String::new() } else { first })});
                    if choice.get("finish_reason").is_some() {
                        choice["finish_reason"] = Value::Null;
                    }
                    piece["choices"] = json!([choice]);
                }
                set_content(item, j, rest);
                item.held[p].2 = n - chars;
                let piece = Item {
                    raw: Bytes::new(),
                    value: Some(piece),
                    changed: true,
                    held: Vec::new(),
                };
                self.items.insert(i, piece);
                chars = 0;
            }
        }
        if let Some(text) = rewrite {
            // Nothing held to carry the rewrite (the text was all in chunks
            // already gone): a chunk of its own.
            if !text.is_empty() {
                let (id, created, model) = self.head.clone().unwrap_or_default();
                let chunk = json!({"id": id, "object": "chat.completion.chunk", "created": created,
                    "model": model, "choices": [{"index": c, "delta": {"content": text}, "finish_reason": null}]});
                self.items.push_front(Item {
                    raw: Bytes::new(),
                    value: Some(chunk),
                    changed: true,
                    held: Vec::new(),
                });
            }
        }
    }

    /// Sends every chunk at the front whose text has all been checked.
    fn release(&mut self) {
        while self.items.front().is_some_and(|i| i.held.is_empty()) {
            let Some(item) = self.items.pop_front() else {
                break;
            };
            if !item.changed {
                self.out.push_back(item.raw);
            } else if let Some(v) = item.value.filter(|v| !is_empty_chunk(v)) {
                self.out.push_back(Bytes::from(format!("data: {v}\n\n")));
            }
        }
    }

    /// Ends the stream: what is held is dropped; the content_filter chunk,
    /// the error event and `[DONE]` go out.
    fn stop(&mut self, c: u64, error: ApiError) {
        // What earlier windows allowed goes out first.
        self.release();
        self.items.clear();
        let (id, created, model) = self.head.clone().unwrap_or_default();
        let chunk = json!({"id": id, "object": "chat.completion.chunk", "created": created,
            "model": model, "choices": [{"index": c, "delta": {}, "finish_reason": "content_filter"}]});
        self.out
            .push_back(Bytes::from(format!("data: {chunk}\n\n")));
        self.out.push_back(error.sse_event());
        self.out.push_back(Bytes::from_static(b"data: [DONE]\n\n"));
        self.stopped = true;
    }
}

/// Where an event ends (after its blank line), if it has.
/// One pass, stopping at the first end.
fn find_event_end(bytes: &[u8]) -> Option<usize> {
    (0..bytes.len()).find_map(|i| {
        let at = &bytes[i..];
        if at.starts_with(b"\n\n") {
            Some(i + 2)
        } else if at.starts_with(b"\r\n\r\n") {
            Some(i + 4)
        } else {
            None
        }
    })
}

/// A tool-call or function-call delta in a choice.
fn has_call_delta(choice: &Value) -> bool {
    ["tool_calls", "function_call"].iter().any(|k| {
        choice
            .pointer(&format!("/delta/{k}"))
            .is_some_and(|v| !v.is_null())
    })
}

/// Characters of `waiting` a full window checks: up to and including the
/// last whitespace within the first `window` characters, else `window`.
fn cut_point(waiting: &str, window: usize) -> usize {
    let mut last_space = None;
    for (n, ch) in waiting.chars().take(window).enumerate() {
        if ch.is_whitespace() {
            last_space = Some(n + 1);
        }
    }
    last_space.unwrap_or(window)
}

fn set_content(item: &mut Item, j: usize, text: String) {
    if let Some(delta) = item
        .value
        .as_mut()
        .and_then(|v| v.pointer_mut(&format!("/choices/{j}/delta")))
        .and_then(Value::as_object_mut)
    {
        delta.insert("content".into(), Value::String(text));
        item.changed = true;
    }
}

/// A chunk a rewrite left with nothing to say: no text, role, tool call,
/// finish or usage.
fn is_empty_chunk(v: &Value) -> bool {
    if v.get("usage").is_some_and(|u| !u.is_null()) {
        return false;
    }
    let Some(choices) = v.get("choices").and_then(Value::as_array) else {
        return false;
    };
    !choices.is_empty()
        && choices.iter().all(|c| {
            c.get("finish_reason").is_none_or(Value::is_null)
                && c.get("delta").and_then(Value::as_object).is_none_or(|d| {
                    d.iter()
                        .all(|(k, v)| v.is_null() || (k == "content" && v.as_str() == Some("")))
                })
        })
}

/// The guarded body: the relayed body through a [`StreamGuard`].
pub fn guard<C: Checker + 'static>(inner: SseBody, guard: StreamGuard<C>) -> SseBody {
    Box::pin(futures::stream::unfold(
        (Some(inner), guard),
        |(mut inner, mut g)| async move {
            loop {
                if let Some(b) = g.next_out() {
                    return Some((Ok(b), (inner, g)));
                }
                if g.stopped() {
                    // Dropping the upstream body cancels the generation.
                    return None;
                }
                let body = inner.as_mut()?;
                match body.next().await {
                    Some(Ok(bytes)) => g.push(&bytes),
                    Some(Err(never)) => match never {},
                    None => {
                        inner = None;
                        g.end();
                    }
                }
            }
        },
    ))
}

#[cfg(test)]
mod tests;
