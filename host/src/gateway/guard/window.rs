//! The response stage on a stream: the text of each choice is checked in
//! windows as it flows, and only the current window is held back.
//!
//! Chunks (`data:` events) whose text has been checked are released in
//! the order they came; events without text (the role, tool-call deltas,
//! the finish, usage) pass at once when nothing is held, else in their
//! place behind the held text. A choice's text is checked once
//! `window_chars` characters of it wait, up to the last whitespace in them
//! (so a word, and a placeholder like `[EMAIL_1]`, is never cut in two;
//! a window without whitespace is cut at `window_chars`); what follows the
//! cut waits for the next window. Each window's text starts with the last
//! `overlap_chars` characters already released (the contract's `overlap`),
//! so a phrase across two windows is seen whole. When the choice finishes
//! (its `finish_reason`, `[DONE]`, an error event, or the end of the body)
//! what waits is checked as the last window.
//!
//! A rewrite replaces the window's held text: the first held chunk carries
//! the new text, the others lose theirs (a chunk left with nothing is not
//! sent). A chunk cut by a window is split in two. A deny (or a sanitiser
//! failing closed) drops what is held and ends the stream: a chunk with
//! `finish_reason: "content_filter"` for the choice, the error event
//! ([`ApiError::sse_event`]), `[DONE]`; the upstream body is dropped, which
//! cancels the provider's generation.

use std::collections::VecDeque;

use bytes::Bytes;
use futures::StreamExt;
use serde_json::{Value, json};

use crate::plugins::bindings::sanitizer_api::{StreamWindow, Verdict};
use crate::plugins::bindings::types::{ContentPart, Message, Role};

use super::super::SseBody;
use super::super::error::ApiError;
use super::{Watcher, filtered};

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
    held: Vec<(usize, u32, usize)>,
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
}

/// The stream's state between events.
pub struct StreamGuard<C> {
    checker: C,
    window: usize,
    overlap: usize,
    items: VecDeque<Item>,
    choices: Vec<ChoiceText>,
    /// id, created and model of the first chunk, for the content_filter
    /// chunk.
    head: Option<(Value, Value, Value)>,
    /// Bytes of an event not yet complete.
    partial: Vec<u8>,
    /// Ready to go to the client.
    out: VecDeque<Bytes>,
    stopped: bool,
}

impl<C: Checker> StreamGuard<C> {
    pub fn new(checker: C, window: usize, overlap: usize) -> StreamGuard<C> {
        let window = window.max(1);
        StreamGuard {
            checker,
            window,
            overlap: overlap.min(window - 1),
            items: VecDeque::new(),
            choices: Vec::new(),
            head: None,
            partial: Vec::new(),
            out: VecDeque::new(),
            stopped: false,
        }
    }

    /// Takes bytes of the relayed body (whole events, as the relay sends
    /// them, or pieces of them).
    pub fn push(&mut self, bytes: &[u8]) {
        if self.stopped {
            return;
        }
        if self.partial.is_empty() {
            let mut rest = bytes;
            while let Some(end) = find_event_end(rest) {
                self.event(Bytes::copy_from_slice(&rest[..end]));
                if self.stopped {
                    return;
                }
                rest = &rest[end..];
            }
            self.partial.extend_from_slice(rest);
        } else {
            self.partial.extend_from_slice(bytes);
            let all = std::mem::take(&mut self.partial);
            self.push(&all);
        }
    }

    /// The body ended: what waits is checked and released.
    pub fn end(&mut self) {
        if self.stopped {
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
        if let Some(choices) = value.get("choices").and_then(Value::as_array) {
            for (j, c) in choices.iter().enumerate() {
                let index = c
                    .get("index")
                    .and_then(Value::as_u64)
                    .map_or(j as u32, |i| i as u32);
                let text = c.pointer("/delta/content").and_then(Value::as_str);
                if let Some(text) = text.filter(|t| !t.is_empty()) {
                    let n = text.chars().count();
                    let state = self.choice(index);
                    state.waiting.push_str(text);
                    state.waiting_chars += n;
                    held.push((j, index, n));
                }
                if let Some(f) = c.get("finish_reason").and_then(Value::as_str) {
                    self.choice(index).finish_reason = Some(f.to_string());
                    finished.push(index);
                }
            }
        }
        if held.is_empty() && self.items.is_empty() {
            self.out.push_back(raw);
        } else {
            let touched: Vec<u32> = held.iter().map(|h| h.1).collect();
            self.items.push_back(Item {
                raw,
                value: Some(value),
                changed: false,
                held,
            });
            for c in touched {
                self.check_full_windows(c);
                if self.stopped {
                    return;
                }
            }
        }
        for c in finished {
            self.finish(c);
            if self.stopped {
                return;
            }
        }
        self.release();
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

    fn choice(&mut self, index: u32) -> &mut ChoiceText {
        let i = index as usize;
        if self.choices.len() <= i {
            self.choices.resize_with(i + 1, ChoiceText::default);
        }
        &mut self.choices[i]
    }

    /// Checks full windows of choice `c` while there are.
    fn check_full_windows(&mut self, c: u32) {
        while !self.stopped && self.choice(c).waiting_chars >= self.window {
            let cut = cut_point(&self.choices[c as usize].waiting, self.window);
            self.check(c, cut, false);
        }
    }

    /// Choice `c` has finished: its last window.
    fn finish(&mut self, c: u32) {
        let state = self.choice(c);
        if state.finished {
            return;
        }
        state.finished = true;
        let chars = state.waiting_chars;
        self.check(c, chars, true);
    }

    fn finish_all(&mut self) {
        for c in 0..self.choices.len() as u32 {
            self.finish(c);
            if self.stopped {
                return;
            }
        }
        self.release();
    }

    /// Checks the first `chars` waiting characters of choice `c`.
    fn check(&mut self, c: u32, chars: usize, last: bool) {
        let state = &self.choices[c as usize];
        if chars == 0 {
            return;
        }
        let held_end = state
            .waiting
            .char_indices()
            .nth(chars)
            .map_or(state.waiting.len(), |(i, _)| i);
        let text = format!("{}{}", state.tail, &state.waiting[..held_end]);
        let overlap = state.tail.chars().count() as u32;
        let window = Window {
            choice: c,
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
        let state = &mut self.choices[c as usize];
        state.tail = tail;
        state.released += released_chars as u64;
        state.waiting.drain(..held_end);
        state.waiting_chars -= chars;
        self.consume(c, chars, out_text);
    }

    /// Marks `chars` characters of choice `c` checked in the held chunks,
    /// in order, putting `rewrite` in the first and removing the text of
    /// the others when there is one; a chunk cut in the middle is split.
    fn consume(&mut self, c: u32, mut chars: usize, rewrite: Option<String>) {
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
    fn stop(&mut self, c: u32, error: ApiError) {
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
fn find_event_end(bytes: &[u8]) -> Option<usize> {
    let lf = bytes.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    let crlf = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4);
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
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
