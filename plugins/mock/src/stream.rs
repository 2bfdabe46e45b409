//! The stream decoder for the mock's SSE text. Each event is already an
//! OpenAI chunk and passes through as is; `[DONE]` ends the stream. Usage is
//! reported at the end: the usage chunk's when the stream has one, else
//! counted the way the mock counts (the request's prompt estimate, and the
//! streamed text of every choice), so cost tracking works either way.

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde::Deserialize;
use switchyard_sdk::adapter::{StreamEvent, bad_answer, event_json, snippet, stream_event};
use switchyard_sdk::openai::{ChatChunk, ChatRequest};
use switchyard_sdk::prelude::Decoder;
use switchyard_sdk::provider::{BuildInput, ParseError, StreamInput, StreamOutput};
use switchyard_sdk::types::Usage;

use crate::tokens;

/// One stream's decoder: what it has counted so far.
pub struct Chunks {
    state: RefCell<State>,
}

struct State {
    prompt_tokens: u64,
    /// Streamed text per choice index.
    text: BTreeMap<u32, String>,
    /// From a usage chunk, when the stream has one.
    reported: Option<Usage>,
    done: bool,
    usage_sent: bool,
}

impl State {
    fn usage(&self) -> Usage {
        if let Some(u) = &self.reported {
            return u.clone();
        }
        Usage {
            input_tokens: self.prompt_tokens,
            output_tokens: self.text.values().map(|t| tokens::estimate(t)).sum(),
            cache_read_tokens: 0,
            cache_write_tokens: 0,
            reasoning_tokens: 0,
            extra: vec![],
        }
    }

    /// The usage, the first time the stream's end is seen.
    fn final_usage(&mut self) -> Option<Usage> {
        if self.usage_sent {
            return None;
        }
        self.usage_sent = true;
        Some(self.usage())
    }
}

impl Chunks {
    /// The decoder for a stream answering `input`.
    pub fn new(input: &BuildInput) -> Self {
        let prompt_tokens = serde_json::from_str::<ChatRequest>(&input.body)
            .map(|r| tokens::prompt(&r.messages))
            .unwrap_or(0);
        Chunks {
            state: RefCell::new(State {
                prompt_tokens,
                text: BTreeMap::new(),
                reported: None,
                done: false,
                usage_sent: false,
            }),
        }
    }
}

impl Decoder for Chunks {
    fn push(&self, input: StreamInput) -> Result<StreamOutput, ParseError> {
        let event = stream_event(input, "mock")?;
        let mut state = self.state.borrow_mut();
        let empty = |done| StreamOutput {
            chunks: vec![],
            usage: None,
            done,
        };
        let ev = match event {
            _ if state.done => return Ok(empty(true)),
            StreamEvent::KeepAlive => return Ok(empty(false)),
            StreamEvent::Done => {
                state.done = true;
                return Ok(StreamOutput {
                    chunks: vec![],
                    usage: state.final_usage(),
                    done: true,
                });
            }
            StreamEvent::Data(ev) => ev,
        };
        let data = ev.data.as_str();
        let value = event_json(data)?;
        let chunk = ChatChunk::deserialize(&value).map_err(|e| {
            bad_answer(format!(
                "stream event is not a chat.completion.chunk ({e}): {}",
                snippet(data)
            ))
        })?;
        for c in &chunk.choices {
            if let Some(t) = &c.delta.content {
                state.text.entry(c.index).or_default().push_str(t);
            }
        }
        if let Some(u) = &chunk.usage {
            state.reported = Some(switchyard_sdk::usage_from_openai(u));
        }
        Ok(StreamOutput {
            chunks: vec![ev.data],
            usage: None,
            done: false,
        })
    }

    fn finish(&self) -> Result<StreamOutput, ParseError> {
        let mut state = self.state.borrow_mut();
        Ok(StreamOutput {
            chunks: vec![],
            usage: state.final_usage(),
            done: state.done,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::tests::input;
    use serde_json::{Value, json};
    use switchyard_sdk::provider::{Operation, SseEvent};

    fn events(sse: &str) -> Vec<StreamInput> {
        sse.split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| {
                StreamInput::Event(SseEvent {
                    event: None,
                    data: e.trim_start_matches("data: ").to_string(),
                    id: None,
                })
            })
            .collect()
    }

    fn run(body: Value) -> (Vec<String>, Option<Usage>, bool) {
        let i = input(Operation::Chat, body, &[]);
        let sse = {
            let (req, a) = crate::chat::plan(&i, &Config::default()).unwrap();
            let include = req.rest.get("stream_options").is_some();
            crate::chat::sse(&a, include)
        };
        let d = Chunks::new(&i);
        let (mut chunks, mut usage, mut done) = (vec![], None, false);
        for e in events(&sse).into_iter() {
            let o = d.push(e).unwrap();
            chunks.extend(o.chunks);
            usage = o.usage.or(usage);
            done |= o.done;
        }
        let o = d.finish().unwrap();
        assert!(o.usage.is_none(), "usage is reported once");
        (chunks, usage.or(o.usage), done || o.done)
    }

    #[test]
    fn decodes_its_own_stream_with_usage() {
        let body = json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "Hello!"}]});
        let (chunks, usage, done) = run(body.clone());
        assert!(done);
        // role + 11 words + finish
        assert_eq!(chunks.len(), 13);
        let u = usage.unwrap();
        assert_eq!((u.input_tokens, u.output_tokens), (6, 18));
        // With a usage chunk, the same numbers come from it.
        let mut with = body;
        with["stream_options"] = json!({"include_usage": true});
        let (chunks, usage, _) = run(with);
        assert_eq!(chunks.len(), 14);
        let u = usage.unwrap();
        assert_eq!((u.input_tokens, u.output_tokens), (6, 18));
    }

    #[test]
    fn finish_without_done_and_bad_input() {
        let d = Chunks::new(&input(
            Operation::Chat,
            json!({"model": "m", "messages": []}),
            &[],
        ));
        let o = d.finish().unwrap();
        assert!(!o.done);
        assert_eq!(o.usage.unwrap().input_tokens, 0);
        assert!(d.push(StreamInput::Bytes(vec![1])).is_err());
        let bad = |data: &str| {
            d.push(StreamInput::Event(SseEvent {
                event: None,
                data: data.into(),
                id: None,
            }))
        };
        assert!(bad("{nope").is_err());
        assert!(bad(r#"{"a":1}"#).is_err());
    }
}
