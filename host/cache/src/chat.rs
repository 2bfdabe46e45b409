//! Chat completions in OpenAI's format, as the cache keeps them: a streamed
//! answer is assembled into the whole `chat.completion` it adds up to
//! ([`Assembler`]), so streamed and whole requests share one entry; an entry
//! is replayed as the chunks a stream of it would have been ([`replay`]),
//! or handed back whole under a new id ([`renamed`]).
//!
//! A stream cut short (a choice without a finish reason, a chunk that is not
//! JSON, an error chunk) assembles to nothing, so a partial answer is never
//! stored.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use bytes::Bytes;
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, Visitor};
use serde_json::value::{RawValue, to_raw_value};
use serde_json::{Map, Number, Value, json};

/// The text fields of a message that are concatenated across chunks, in
/// the order a message and a first replayed chunk list them. `reasoning` is
/// the name some OpenAI-compatible providers (OpenRouter, vLLM) use for
/// `reasoning_content`.
const TEXTS: [&str; 4] = ["content", "reasoning_content", "reasoning", "refusal"];

/// Adds up the chunks of one streamed chat completion.
#[derive(Debug, Default)]
pub struct Assembler {
    /// A chunk was not a chat completion chunk: nothing is assembled.
    broken: bool,
    id: Option<String>,
    model: Option<String>,
    created: Option<Number>,
    system_fingerprint: Option<String>,
    service_tier: Option<String>,
    usage: Option<Value>,
    choices: BTreeMap<u64, ChoiceSoFar>,
}

#[derive(Debug, Default)]
struct ChoiceSoFar {
    role: Option<String>,
    /// Indexed as [`TEXTS`].
    texts: [Option<String>; 4],
    tool_calls: BTreeMap<u64, ToolCallSoFar>,
    /// The legacy `function_call` (requests with `functions`).
    function_call: Option<FunctionSoFar>,
    logprobs: Option<LogprobsSoFar>,
    finish_reason: Option<String>,
}

#[derive(Debug, Default)]
struct ToolCallSoFar {
    id: Option<String>,
    kind: Option<String>,
    function: FunctionSoFar,
}

#[derive(Debug, Default)]
struct FunctionSoFar {
    name: Option<String>,
    arguments: String,
}

#[derive(Debug, Default)]
struct LogprobsSoFar {
    content: Option<Vec<Value>>,
    refusal: Option<Vec<Value>>,
}

impl Assembler {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one chunk: the JSON text of a `chat.completion.chunk`, parsed
    /// once, its text borrowed where it has no escapes.
    pub fn push(&mut self, chunk: &str) {
        if self.broken {
            return;
        }
        match serde_json::from_str::<Chunk>(chunk) {
            Ok(chunk) if chunk.error.is_none() => self.add(chunk),
            _ => self.broken = true,
        }
    }

    /// The whole `chat.completion` the chunks add up to, or `None` unless
    /// every choice seen ended with a finish reason (and every chunk was
    /// one).
    pub fn finish(self) -> Option<Value> {
        if self.broken
            || self.choices.is_empty()
            || self.choices.values().any(|c| c.finish_reason.is_none())
        {
            return None;
        }
        let mut whole = Map::new();
        whole.insert("id".into(), self.id.unwrap_or_default().into());
        whole.insert("object".into(), "chat.completion".into());
        whole.insert(
            "created".into(),
            self.created.map_or(json!(0), Value::Number),
        );
        whole.insert("model".into(), self.model.unwrap_or_default().into());
        if let Some(fingerprint) = self.system_fingerprint {
            whole.insert("system_fingerprint".into(), fingerprint.into());
        }
        if let Some(tier) = self.service_tier {
            whole.insert("service_tier".into(), tier.into());
        }
        let choices = self
            .choices
            .into_iter()
            .map(|(index, choice)| choice.into_choice(index))
            .collect();
        whole.insert("choices".into(), Value::Array(choices));
        if let Some(usage) = self.usage {
            whole.insert("usage".into(), usage);
        }
        Some(Value::Object(whole))
    }

    fn add(&mut self, chunk: Chunk) {
        first(&mut self.id, chunk.id);
        first(&mut self.model, chunk.model);
        first(&mut self.system_fingerprint, chunk.system_fingerprint);
        first(&mut self.service_tier, chunk.service_tier);
        if self.created.is_none() {
            self.created = chunk.created;
        }
        // Some providers repeat a growing usage on every chunk: the last
        // one is the whole.
        if chunk.usage.is_some() {
            self.usage = chunk.usage;
        }
        for (position, delta) in chunk.choices.into_iter().flatten().enumerate() {
            let index = delta.index.unwrap_or(position as u64);
            self.choices.entry(index).or_default().add(delta);
        }
    }
}

impl ChoiceSoFar {
    fn add(&mut self, choice: ChoiceChunk) {
        if let Some(delta) = choice.delta {
            first(&mut self.role, delta.role);
            for (slot, piece) in self.texts.iter_mut().zip([
                delta.content,
                delta.reasoning_content,
                delta.reasoning,
                delta.refusal,
            ]) {
                if let Some(Text(piece)) = piece {
                    slot.get_or_insert_with(String::new).push_str(&piece);
                }
            }
            for (position, call) in delta.tool_calls.into_iter().flatten().enumerate() {
                let index = call.index.unwrap_or(position as u64);
                let so_far = self.tool_calls.entry(index).or_default();
                first(&mut so_far.id, call.id);
                first(&mut so_far.kind, call.kind);
                if let Some(function) = call.function {
                    so_far.function.add(function);
                }
            }
            if let Some(function) = delta.function_call {
                self.function_call
                    .get_or_insert_with(Default::default)
                    .add(function);
            }
        }
        if let Some(logprobs) = choice.logprobs {
            let so_far = self.logprobs.get_or_insert_with(Default::default);
            extend(&mut so_far.content, logprobs.content);
            extend(&mut so_far.refusal, logprobs.refusal);
        }
        if let Some(Text(reason)) = choice.finish_reason
            && !reason.is_empty()
        {
            self.finish_reason = Some(reason.into_owned());
        }
    }

    fn into_choice(self, index: u64) -> Value {
        let has_other = !self.tool_calls.is_empty()
            || self.function_call.is_some()
            || self.texts[3].as_ref().is_some_and(|r| !r.is_empty());
        let [content, rest @ ..] = self.texts;
        let mut message = Map::new();
        message.insert(
            "role".into(),
            self.role.unwrap_or_else(|| "assistant".into()).into(),
        );
        // As OpenAI answers: `null` content beside tool calls or a refusal.
        let content = match content {
            Some(text) if !text.is_empty() || !has_other => Value::String(text),
            _ => Value::Null,
        };
        message.insert("content".into(), content);
        for (name, text) in TEXTS[1..].iter().zip(rest) {
            if let Some(text) = text.filter(|t| !t.is_empty()) {
                message.insert((*name).into(), text.into());
            }
        }
        if !self.tool_calls.is_empty() {
            let calls = self
                .tool_calls
                .into_values()
                .map(|call| {
                    json!({
                        "id": call.id.unwrap_or_default(),
                        "type": call.kind.unwrap_or_else(|| "function".into()),
                        "function": call.function.into_value(),
                    })
                })
                .collect();
            message.insert("tool_calls".into(), Value::Array(calls));
        }
        if let Some(function) = self.function_call {
            message.insert("function_call".into(), function.into_value());
        }
        let logprobs = self.logprobs.map_or(Value::Null, |l| {
            json!({
                "content": l.content.map_or(Value::Null, Value::Array),
                "refusal": l.refusal.map_or(Value::Null, Value::Array),
            })
        });
        json!({
            "index": index,
            "message": message,
            "logprobs": logprobs,
            "finish_reason": self.finish_reason,
        })
    }
}

impl FunctionSoFar {
    /// The name comes once (the first that is not empty: some providers
    /// repeat it); the arguments come in pieces.
    fn add(&mut self, function: FunctionChunk) {
        first(&mut self.name, function.name);
        if let Some(Text(arguments)) = function.arguments {
            self.arguments.push_str(&arguments);
        }
    }

    fn into_value(self) -> Value {
        json!({"name": self.name.unwrap_or_default(), "arguments": self.arguments})
    }
}

/// Sets `slot` from the first piece that is not empty.
fn first(slot: &mut Option<String>, piece: Option<Text>) {
    if slot.is_none()
        && let Some(Text(piece)) = piece
        && !piece.is_empty()
    {
        *slot = Some(piece.into_owned());
    }
}

fn extend(slot: &mut Option<Vec<Value>>, items: Option<Vec<Value>>) {
    if let Some(items) = items {
        slot.get_or_insert_with(Vec::new).extend(items);
    }
}

/// The chunks (JSON texts, no `data: ` framing) a stream of `whole` would
/// have been, under `id` and `created`: per choice, a first chunk with the
/// role and all the text, one chunk per tool call with all its arguments,
/// and a last chunk with the finish reason; then, when `include_usage` and
/// `whole` has a usage, the usage chunk (`choices: []`). Empty when `whole`
/// is not a chat completion (no `choices` list): the host treats that as a
/// miss.
pub fn replay(whole: &Value, include_usage: bool, id: &str, created: u64) -> Vec<String> {
    let Some(choices) = whole.get("choices").and_then(Value::as_array) else {
        return Vec::new();
    };
    let model = whole.get("model").cloned().unwrap_or_else(|| json!(""));
    let fingerprint = whole.get("system_fingerprint").filter(|v| !v.is_null());
    let chunk = |choices: Value, usage: Option<&Value>| {
        let mut chunk = Map::new();
        chunk.insert("id".into(), id.into());
        chunk.insert("object".into(), "chat.completion.chunk".into());
        chunk.insert("created".into(), created.into());
        chunk.insert("model".into(), model.clone());
        if let Some(fingerprint) = fingerprint {
            chunk.insert("system_fingerprint".into(), fingerprint.clone());
        }
        chunk.insert("choices".into(), choices);
        if let Some(usage) = usage {
            chunk.insert("usage".into(), usage.clone());
        }
        Value::Object(chunk).to_string()
    };
    let empty = Map::new();
    let mut chunks = Vec::new();
    for (position, choice) in choices.iter().enumerate() {
        let index = choice
            .get("index")
            .filter(|i| i.is_u64())
            .cloned()
            .unwrap_or_else(|| json!(position));
        let message = choice
            .get("message")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let present = |name: &str| message.get(name).filter(|v| !v.is_null());

        let mut delta = Map::new();
        delta.insert(
            "role".into(),
            present("role")
                .cloned()
                .unwrap_or_else(|| json!("assistant")),
        );
        delta.insert(
            "content".into(),
            present("content").cloned().unwrap_or(Value::Null),
        );
        for name in &TEXTS[1..] {
            if let Some(text) = present(name) {
                delta.insert((*name).into(), text.clone());
            }
        }
        if let Some(function) = present("function_call") {
            delta.insert("function_call".into(), function.clone());
        }
        let logprobs = choice.get("logprobs").cloned().unwrap_or(Value::Null);
        chunks.push(chunk(
            one(&index, Value::Object(delta), logprobs, Value::Null),
            None,
        ));

        let calls = present("tool_calls").and_then(Value::as_array);
        for (position, call) in calls.into_iter().flatten().enumerate() {
            let mut delta_call = Map::new();
            delta_call.insert("index".into(), position.into());
            for field in ["id", "type", "function"] {
                if let Some(value) = call.get(field) {
                    delta_call.insert(field.into(), value.clone());
                }
            }
            let delta = json!({"tool_calls": [delta_call]});
            chunks.push(chunk(one(&index, delta, Value::Null, Value::Null), None));
        }

        let finish_reason = choice.get("finish_reason").cloned().unwrap_or(Value::Null);
        chunks.push(chunk(
            one(&index, json!({}), Value::Null, finish_reason),
            None,
        ));
    }
    if include_usage && let Some(usage) = whole.get("usage").filter(|u| !u.is_null()) {
        chunks.push(chunk(json!([]), Some(usage)));
    }
    chunks
}

/// The `choices` of a chunk with one choice.
fn one(index: &Value, delta: Value, logprobs: Value, finish_reason: Value) -> Value {
    json!([{"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish_reason}])
}

/// The stored completion with a new `id` and `created`, everything else as
/// it was; `None` when the entry is not a JSON object. Every cache hit
/// runs this: the top-level members are borrowed as raw JSON and copied,
/// not parsed into values and printed again (that was 5 % of a hit's CPU).
/// A key with an escape cannot be borrowed: such an entry takes the slow
/// way. Members come out sorted by key either way.
pub fn renamed(whole: &[u8], id: &str, created: u64) -> Option<Bytes> {
    let Ok(mut members) = serde_json::from_slice::<BTreeMap<&str, &RawValue>>(whole) else {
        let mut whole: Map<String, Value> = serde_json::from_slice(whole).ok()?;
        whole.insert("id".into(), id.into());
        whole.insert("created".into(), created.into());
        return serde_json::to_vec(&whole).ok().map(Bytes::from);
    };
    let id = to_raw_value(id).ok()?;
    let created = to_raw_value(&created).ok()?;
    members.insert("id", &id);
    members.insert("created", &created);
    serde_json::to_vec(&members).ok().map(Bytes::from)
}

/// What the assembler reads of a chunk. `null` reads as absent throughout,
/// as providers send `null` for what a chunk does not carry.
#[derive(Deserialize)]
struct Chunk<'a> {
    #[serde(default, borrow)]
    id: Option<Text<'a>>,
    #[serde(default, borrow)]
    model: Option<Text<'a>>,
    #[serde(default)]
    created: Option<Number>,
    #[serde(default, borrow)]
    system_fingerprint: Option<Text<'a>>,
    #[serde(default, borrow)]
    service_tier: Option<Text<'a>>,
    #[serde(default)]
    usage: Option<Value>,
    /// An error event in the stream: the answer did not end normally.
    #[serde(default)]
    error: Option<IgnoredAny>,
    #[serde(default, borrow)]
    choices: Option<Vec<ChoiceChunk<'a>>>,
}

#[derive(Deserialize)]
struct ChoiceChunk<'a> {
    #[serde(default)]
    index: Option<u64>,
    #[serde(default, borrow)]
    delta: Option<Delta<'a>>,
    #[serde(default)]
    logprobs: Option<LogprobsChunk>,
    #[serde(default, borrow)]
    finish_reason: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(default, borrow)]
    role: Option<Text<'a>>,
    #[serde(default, borrow)]
    content: Option<Text<'a>>,
    #[serde(default, borrow)]
    reasoning_content: Option<Text<'a>>,
    #[serde(default, borrow)]
    reasoning: Option<Text<'a>>,
    #[serde(default, borrow)]
    refusal: Option<Text<'a>>,
    #[serde(default, borrow)]
    tool_calls: Option<Vec<ToolCallChunk<'a>>>,
    #[serde(default, borrow)]
    function_call: Option<FunctionChunk<'a>>,
}

#[derive(Deserialize)]
struct ToolCallChunk<'a> {
    #[serde(default)]
    index: Option<u64>,
    #[serde(default, borrow)]
    id: Option<Text<'a>>,
    #[serde(default, borrow, rename = "type")]
    kind: Option<Text<'a>>,
    #[serde(default, borrow)]
    function: Option<FunctionChunk<'a>>,
}

#[derive(Deserialize)]
struct FunctionChunk<'a> {
    #[serde(default, borrow)]
    name: Option<Text<'a>>,
    #[serde(default, borrow)]
    arguments: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct LogprobsChunk {
    #[serde(default)]
    content: Option<Vec<Value>>,
    #[serde(default)]
    refusal: Option<Vec<Value>>,
}

/// A JSON string, borrowed from the chunk unless it has escapes.
/// (`Option<Cow<str>>` would always copy: serde borrows only a bare `Cow`.)
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(TextVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assemble(chunks: &[Value]) -> Option<Value> {
        let mut assembler = Assembler::new();
        for chunk in chunks {
            assembler.push(&chunk.to_string());
        }
        assembler.finish()
    }

    fn chunk(choices: Value) -> Value {
        json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000,
               "model": "gpt-4o-2024-08-06", "system_fingerprint": "fp_1", "choices": choices})
    }

    fn delta(index: u64, delta: Value, finish: Value) -> Value {
        chunk(json!([{"index": index, "delta": delta, "logprobs": null, "finish_reason": finish}]))
    }

    fn parse(chunks: &[String]) -> Vec<Value> {
        chunks
            .iter()
            .map(|c| serde_json::from_str(c).unwrap())
            .collect()
    }

    /// A stream as OpenAI sends it: text, then usage.
    #[test]
    fn a_text_stream_assembles_into_the_whole_completion() {
        let mut chunks = vec![
            delta(
                0,
                json!({"role": "assistant", "content": "", "refusal": null}),
                Value::Null,
            ),
            delta(0, json!({"content": "Hel"}), Value::Null),
            delta(0, json!({"content": "lo, \"world\"\n"}), Value::Null),
            delta(0, json!({}), json!("stop")),
        ];
        let mut usage = chunk(json!([]));
        usage["usage"] = json!({"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13});
        chunks.push(usage);
        assert_eq!(
            assemble(&chunks).unwrap(),
            json!({
                "id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000,
                "model": "gpt-4o-2024-08-06", "system_fingerprint": "fp_1",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello, \"world\"\n"},
                             "logprobs": null, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13},
            })
        );
    }

    #[test]
    fn tool_calls_assemble_by_their_index_with_arguments_concatenated() {
        let chunks = vec![
            delta(
                0,
                json!({"role": "assistant", "content": null, "tool_calls": [
                {"index": 0, "id": "call_a", "type": "function", "function": {"name": "weather", "arguments": ""}}]}),
                Value::Null,
            ),
            delta(
                0,
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":"}}]}),
                Value::Null,
            ),
            delta(
                0,
                json!({"tool_calls": [{"index": 1, "id": "call_b", "type": "function", "function": {"name": "time", "arguments": "{}"}}]}),
                Value::Null,
            ),
            delta(
                0,
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"Paris\"}"}}]}),
                Value::Null,
            ),
            delta(0, json!({}), json!("tool_calls")),
        ];
        let whole = assemble(&chunks).unwrap();
        assert_eq!(
            whole["choices"],
            json!([{"index": 0, "message": {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_b", "type": "function", "function": {"name": "time", "arguments": "{}"}},
            ]}, "logprobs": null, "finish_reason": "tool_calls"}])
        );
        assert_eq!(whole.get("usage"), None);
    }

    #[test]
    fn choices_reasoning_refusal_and_logprobs_assemble_per_index() {
        let chunks = vec![
            chunk(json!([
                {"index": 1, "delta": {"role": "assistant", "refusal": "I can"}, "finish_reason": null},
                {"index": 0, "delta": {"role": "assistant", "reasoning_content": "Think", "content": "A"},
                 "logprobs": {"content": [{"token": "A", "logprob": -0.1}]}, "finish_reason": null},
            ])),
            chunk(json!([
                {"index": 0, "delta": {"reasoning_content": "ing", "content": "B"},
                 "logprobs": {"content": [{"token": "B", "logprob": -0.2}]}, "finish_reason": "length"},
                {"index": 1, "delta": {"refusal": "'t."}, "finish_reason": "stop"},
            ])),
        ];
        let whole = assemble(&chunks).unwrap();
        assert_eq!(
            whole["choices"],
            json!([
                {"index": 0, "message": {"role": "assistant", "content": "AB", "reasoning_content": "Thinking"},
                 "logprobs": {"content": [{"token": "A", "logprob": -0.1}, {"token": "B", "logprob": -0.2}], "refusal": null},
                 "finish_reason": "length"},
                {"index": 1, "message": {"role": "assistant", "content": null, "refusal": "I can't."},
                 "logprobs": null, "finish_reason": "stop"},
            ])
        );
    }

    #[test]
    fn the_first_chunk_names_the_completion_and_the_last_usage_counts() {
        let mut first = delta(0, json!({"role": "assistant", "content": "x"}), Value::Null);
        first["usage"] = json!({"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2});
        let mut last = delta(0, json!({"content": "y"}), json!("stop"));
        last["id"] = json!("chatcmpl-2");
        last["model"] = json!("other");
        last["created"] = json!(1800000000);
        last["usage"] = json!({"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3});
        let whole = assemble(&[first, last]).unwrap();
        assert_eq!(whole["id"], "chatcmpl-1");
        assert_eq!(whole["model"], "gpt-4o-2024-08-06");
        assert_eq!(whole["created"], 1700000000);
        assert_eq!(
            whole["usage"],
            json!({"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3})
        );
        assert_eq!(whole["choices"][0]["message"]["content"], "xy");
    }

    #[test]
    fn a_stream_cut_short_assembles_to_nothing() {
        let start = delta(
            0,
            json!({"role": "assistant", "content": "Hi"}),
            Value::Null,
        );
        let end = delta(0, json!({}), json!("stop"));
        assert_eq!(
            assemble(std::slice::from_ref(&start)),
            None,
            "no finish reason"
        );
        assert_eq!(assemble(&[]), None, "no chunk");
        assert_eq!(assemble(&[chunk(json!([]))]), None, "no choice");
        let other = chunk(json!([{"index": 1, "delta": {"content": "x"}, "finish_reason": null}]));
        assert_eq!(
            assemble(&[start.clone(), end.clone(), other]),
            None,
            "a second choice unfinished"
        );
        let empty_reason = delta(0, json!({}), json!(""));
        assert_eq!(
            assemble(&[start.clone(), empty_reason]),
            None,
            "an empty finish reason"
        );

        let mut assembler = Assembler::new();
        assembler.push(&start.to_string());
        assembler.push("{not json");
        assembler.push(&end.to_string());
        assert_eq!(assembler.finish(), None, "a chunk that is not JSON");

        let error = json!({"error": {"message": "overloaded", "type": "server_error"}});
        assert_eq!(
            assemble(&[start.clone(), error, end.clone()]),
            None,
            "an error event"
        );
        let wrong = json!({"choices": {"index": 0}});
        assert_eq!(
            assemble(&[start.clone(), wrong, end.clone()]),
            None,
            "choices not a list"
        );
        assert!(assemble(&[start, end]).is_some());
    }

    #[test]
    fn text_without_escapes_is_borrowed() {
        let chunk: Chunk =
            serde_json::from_str(r#"{"id":"a","model":"m\n","choices":null}"#).unwrap();
        assert!(matches!(chunk.id, Some(Text(Cow::Borrowed("a")))));
        assert!(matches!(chunk.model, Some(Text(Cow::Owned(ref m))) if m == "m\n"));
        assert!(chunk.choices.is_none());
    }

    fn stored() -> Value {
        json!({
            "id": "chatcmpl-old", "object": "chat.completion", "created": 1, "model": "gpt-4o-2024-08-06",
            "system_fingerprint": "fp_1",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_a", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
                    {"id": "call_b", "type": "function", "function": {"name": "time", "arguments": "{}"}},
                 ]}, "logprobs": null, "finish_reason": "tool_calls"},
                {"index": 1, "message": {"role": "assistant", "content": "Sunny.", "reasoning_content": "Look."},
                 "logprobs": null, "finish_reason": "stop"},
            ],
            "usage": {"prompt_tokens": 20, "completion_tokens": 30, "total_tokens": 50},
        })
    }

    #[test]
    fn replay_gives_the_chunks_a_stream_would_have_been() {
        let chunks = parse(&replay(&stored(), true, "chatcmpl-new", 1700000123));
        let head = |choices: Value| {
            json!({"id": "chatcmpl-new", "object": "chat.completion.chunk", "created": 1700000123,
                   "model": "gpt-4o-2024-08-06", "system_fingerprint": "fp_1", "choices": choices})
        };
        let mut usage = head(json!([]));
        usage["usage"] = json!({"prompt_tokens": 20, "completion_tokens": 30, "total_tokens": 50});
        assert_eq!(
            chunks,
            vec![
                head(
                    json!([{"index": 0, "delta": {"role": "assistant", "content": null}, "logprobs": null, "finish_reason": null}])
                ),
                head(
                    json!([{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                    "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}]}, "logprobs": null, "finish_reason": null}])
                ),
                head(
                    json!([{"index": 0, "delta": {"tool_calls": [{"index": 1, "id": "call_b", "type": "function",
                    "function": {"name": "time", "arguments": "{}"}}]}, "logprobs": null, "finish_reason": null}])
                ),
                head(
                    json!([{"index": 0, "delta": {}, "logprobs": null, "finish_reason": "tool_calls"}])
                ),
                head(
                    json!([{"index": 1, "delta": {"role": "assistant", "content": "Sunny.", "reasoning_content": "Look."},
                    "logprobs": null, "finish_reason": null}])
                ),
                head(json!([{"index": 1, "delta": {}, "logprobs": null, "finish_reason": "stop"}])),
                usage,
            ]
        );
    }

    #[test]
    fn replay_has_a_usage_chunk_only_when_asked_and_stored() {
        assert_eq!(replay(&stored(), false, "c", 2).len(), 6);
        let mut no_usage = stored();
        no_usage.as_object_mut().unwrap().remove("usage");
        assert_eq!(replay(&no_usage, true, "c", 2).len(), 6);
        assert_eq!(
            replay(&json!({"id": "x"}), true, "c", 2),
            Vec::<String>::new()
        );
        assert_eq!(replay(&json!("text"), true, "c", 2), Vec::<String>::new());
    }

    #[test]
    fn a_replayed_stream_assembles_back_into_the_stored_completion() {
        let original = stored();
        let mut assembler = Assembler::new();
        for chunk in replay(&original, true, "chatcmpl-new", 1700000123) {
            assembler.push(&chunk);
        }
        let mut back = assembler.finish().unwrap();
        assert_eq!(back["id"], "chatcmpl-new");
        assert_eq!(back["created"], 1700000123);
        back["id"] = original["id"].clone();
        back["created"] = original["created"].clone();
        assert_eq!(back, original);

        // And a streamed answer, assembled, replayed and assembled again.
        let chunks = vec![
            delta(
                0,
                json!({"role": "assistant", "content": "Hi"}),
                Value::Null,
            ),
            delta(0, json!({"content": " there"}), json!("stop")),
        ];
        let once = assemble(&chunks).unwrap();
        let twice = assemble(&parse(&replay(&once, false, "chatcmpl-1", 1700000000))).unwrap();
        assert_eq!(twice, once);
    }

    #[test]
    fn renamed_changes_only_id_and_created() {
        let stored = stored().to_string();
        let renamed = renamed(stored.as_bytes(), "chatcmpl-new", 1700000999).unwrap();
        let renamed: Value = serde_json::from_slice(&renamed).unwrap();
        let mut expected = self::stored();
        expected["id"] = json!("chatcmpl-new");
        expected["created"] = json!(1700000999);
        assert_eq!(renamed, expected);
        // A key with an escape (not borrowable) takes the slow way.
        let escaped = super::renamed(br#"{"a\u0062":1,"id":"old","created":1}"#, "new", 2).unwrap();
        assert_eq!(&escaped[..], br#"{"ab":1,"created":2,"id":"new"}"#);
        // Members are copied as stored, sorted by key.
        let raw = super::renamed(
            br#"{"z": [1, 2.50], "id": "old", "a": {"b": null}}"#,
            "new",
            7,
        )
        .unwrap();
        assert_eq!(
            &raw[..],
            br#"{"a":{"b": null},"created":7,"id":"new","z":[1, 2.50]}"#
        );
        assert_eq!(super::renamed(b"[1,2]", "x", 1), None);
        assert_eq!(super::renamed(b"{\"id\":", "x", 1), None);
        assert_eq!(super::renamed(b"", "x", 1), None);
    }
}
