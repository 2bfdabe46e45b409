//! The OpenAI wire format, as serde types.
//!
//! Every object keeps the fields it does not name in `rest`, so a request or
//! answer passes through an adapter with nothing dropped. Field names follow
//! the OpenAI API reference for chat completions, streaming chunks and
//! embeddings.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Fields an object carries that these types do not name.
pub type Rest = Map<String, Value>;

/// `POST /v1/chat/completions` request body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The model group the client named; in an adapter's input, the
    /// deployment's model (the host sets it).
    pub model: String,
    /// The conversation, oldest first.
    pub messages: Vec<ChatMessage>,
    /// Whether the client wants server-sent events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// The output cap, under OpenAI's older name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// The output cap (reasoning tokens included), under OpenAI's newer name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    /// The tools the model may call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    /// The end user's id, for the provider's abuse monitoring.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Free-form key/value pairs the client attaches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    /// Fields not named above, kept so that nothing passes through an adapter
    /// dropped.
    #[serde(flatten)]
    pub rest: Rest,
}

/// One message of a chat request or answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system`, `developer`, `user`, `assistant` or `tool`.
    pub role: String,
    /// A string, an array of parts, or null (assistant turns with tool calls).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<MessageContent>,
    /// The participant's name, to tell speakers of one role apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The calls an assistant turn makes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    /// The call a `tool` message answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// Fields not named above, kept so that nothing passes through an adapter
    /// dropped.
    #[serde(flatten)]
    pub rest: Rest,
}

/// Message content: plain text or a list of parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MessageContent {
    /// `"content": "..."`, the common case.
    Text(String),
    /// `"content": [...]`: text, images, audio or files.
    Parts(Vec<ContentPart>),
}

impl MessageContent {
    /// The text parts joined by newlines.
    pub fn text(&self) -> String {
        match self {
            MessageContent::Text(t) => t.clone(),
            MessageContent::Parts(parts) => parts
                .iter()
                .filter_map(|p| p.text.as_deref())
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }
}

/// One content part (`text`, `image_url`, `input_audio`, `file`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentPart {
    /// The part's `type`: `text`, `image_url`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// The text of a `text` part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The image of an `image_url` part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<ImageUrl>,
    /// Fields not named above, kept so that nothing passes through an adapter
    /// dropped.
    #[serde(flatten)]
    pub rest: Rest,
}

/// An image part's URL (or `data:` URL) and detail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageUrl {
    /// An `https:` or `data:` URL.
    pub url: String,
    /// `low`, `high` or `auto`: how closely the model looks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Fields not named above, kept so that nothing passes through an adapter
    /// dropped.
    #[serde(flatten)]
    pub rest: Rest,
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    /// The tool's `type`; `function` is the one most providers know.
    #[serde(rename = "type")]
    pub kind: String,
    /// The function of a `function` tool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<FunctionDef>,
    /// Fields not named above, kept so that nothing passes through an adapter
    /// dropped.
    #[serde(flatten)]
    pub rest: Rest,
}

/// A function tool's definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionDef {
    /// The name the model calls it by.
    pub name: String,
    /// What it does, for the model to decide when to call it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The JSON Schema of its arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    /// Fields not named above, kept so that nothing passes through an adapter
    /// dropped.
    #[serde(flatten)]
    pub rest: Rest,
}

/// A tool call in an assistant message (or, with `index`, a stream delta).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The call's position, in a stream delta (which sends a call in pieces).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    /// The id a `tool` message answers with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The call's `type`, `function`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// What is called, with which arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<FunctionCall>,
    /// Fields not named above, kept so that nothing passes through an adapter
    /// dropped.
    #[serde(flatten)]
    pub rest: Rest,
}

/// The function a tool call invokes; `arguments` is JSON text (a fragment of
/// it in a stream delta).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    /// The function's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The arguments as JSON text (a piece of it in a stream delta).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
    /// Fields not named above, kept so that nothing passes through an adapter
    /// dropped.
    #[serde(flatten)]
    pub rest: Rest,
}

/// A `chat.completion` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// The provider's id for the answer.
    pub id: String,
    /// Always `chat.completion`; defaulted for providers that leave it out.
    #[serde(default = "chat_completion_object")]
    pub object: String,
    /// Unix seconds.
    pub created: u64,
    /// The model that answered.
    pub model: String,
    /// One per `n` asked for; usually one.
    pub choices: Vec<Choice>,
    /// The tokens the call used, when the provider reports them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Fields not named above, kept so that nothing passes through an adapter
    /// dropped.
    #[serde(flatten)]
    pub rest: Rest,
}

fn chat_completion_object() -> String {
    "chat.completion".to_string()
}

/// One choice of a `chat.completion`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    /// Which of the `n` choices this is.
    pub index: u32,
    /// The assistant's message.
    pub message: ChatMessage,
    /// Why generation stopped: `stop`, `length`, `tool_calls`,
    /// `content_filter`.
    #[serde(default)]
    pub finish_reason: Option<String>,
    /// Fields not named above, kept so that nothing passes through an adapter
    /// dropped.
    #[serde(flatten)]
    pub rest: Rest,
}

/// A `chat.completion.chunk`, one event of a streamed answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatChunk {
    /// The answer's id, the same in every chunk.
    pub id: String,
    /// Always `chat.completion.chunk`; defaulted for providers that leave it
    /// out.
    #[serde(default = "chat_chunk_object")]
    pub object: String,
    /// Unix seconds.
    pub created: u64,
    /// The model that answers.
    pub model: String,
    /// What this chunk adds, per choice.
    pub choices: Vec<ChunkChoice>,
    /// Present (and `choices` empty) on the last chunk when the client set
    /// `stream_options.include_usage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Fields not named above, kept so that nothing passes through an adapter
    /// dropped.
    #[serde(flatten)]
    pub rest: Rest,
}

fn chat_chunk_object() -> String {
    "chat.completion.chunk".to_string()
}

/// One choice of a chunk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkChoice {
    /// Which choice the delta extends.
    pub index: u32,
    /// What this chunk adds to the message.
    pub delta: Delta,
    /// Set on the choice's last chunk.
    #[serde(default)]
    pub finish_reason: Option<String>,
    /// Fields not named above, kept so that nothing passes through an adapter
    /// dropped.
    #[serde(flatten)]
    pub rest: Rest,
}

/// What a chunk adds to the message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    /// Sent on the first chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The next piece of text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// The next pieces of tool calls, matched by `index`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    /// Fields not named above, kept so that nothing passes through an adapter
    /// dropped.
    #[serde(flatten)]
    pub rest: Rest,
}

/// Token usage in OpenAI's shape.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Input tokens, cached ones included.
    #[serde(default)]
    pub prompt_tokens: u64,
    /// Output tokens, reasoning ones included.
    #[serde(default)]
    pub completion_tokens: u64,
    /// Input plus output.
    #[serde(default)]
    pub total_tokens: u64,
    /// The input's breakdown (cache reads and writes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_details: Option<PromptTokensDetails>,
    /// The output's breakdown (reasoning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_tokens_details: Option<CompletionTokensDetails>,
    /// Fields not named above, kept so that nothing passes through an adapter
    /// dropped.
    #[serde(flatten)]
    pub rest: Rest,
}

/// Input token classes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PromptTokensDetails {
    /// Input tokens read from the prompt cache (priced lower).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_tokens: Option<u64>,
    /// Tokens written to the prompt cache (reported by Anthropic; OpenAI
    /// clients ignore it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_tokens: Option<u64>,
    /// Fields not named above, kept so that nothing passes through an adapter
    /// dropped.
    #[serde(flatten)]
    pub rest: Rest,
}

/// Output token classes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CompletionTokensDetails {
    /// Output tokens spent on hidden reasoning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<u64>,
    /// Fields not named above, kept so that nothing passes through an adapter
    /// dropped.
    #[serde(flatten)]
    pub rest: Rest,
}

/// `POST /v1/embeddings` request body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingRequest {
    /// The model group the client asked for.
    pub model: String,
    /// A string, a list of strings, or token arrays.
    pub input: Value,
    /// Fields not named above, kept so that nothing passes through an adapter
    /// dropped.
    #[serde(flatten)]
    pub rest: Rest,
}

/// `POST /v1/embeddings` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingResponse {
    /// Always `list`; defaulted for providers that leave it out.
    #[serde(default = "list_object")]
    pub object: String,
    /// One vector per input, in input order.
    pub data: Vec<Embedding>,
    /// The model that answered.
    pub model: String,
    /// The tokens the call used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Fields not named above, kept so that nothing passes through an adapter
    /// dropped.
    #[serde(flatten)]
    pub rest: Rest,
}

fn list_object() -> String {
    "list".to_string()
}

/// One embedding vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Embedding {
    /// Always `embedding`; defaulted for providers that leave it out.
    #[serde(default = "embedding_object")]
    pub object: String,
    /// The input this vector is for.
    pub index: u32,
    /// A list of floats, or base64 text when the client asked for
    /// `encoding_format: base64`.
    pub embedding: Value,
    /// Fields not named above, kept so that nothing passes through an adapter
    /// dropped.
    #[serde(flatten)]
    pub rest: Rest,
}

fn embedding_object() -> String {
    "embedding".to_string()
}

/// The OpenAI error envelope: `{"error": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    /// The error.
    pub error: ErrorBody,
}

/// An OpenAI error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong, for a person.
    pub message: String,
    /// The error's `type` (`invalid_request_error`, ...), what clients branch
    /// on.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// The request field at fault, if one is.
    #[serde(default)]
    pub param: Option<String>,
    /// A machine-readable code, a string or a number depending on the provider.
    #[serde(default)]
    pub code: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_keeps_unknown_fields_through_a_round_trip() {
        let body = serde_json::json!({
            "model": "gpt-4o",
            "messages": [{"role": "user", "content": "hi", "x_custom": 1}],
            "temperature": 0.2,
            "response_format": {"type": "json_object"},
        });
        let req: ChatRequest = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(req.rest["temperature"], 0.2);
        assert_eq!(serde_json::to_value(&req).unwrap(), body);
    }

    #[test]
    fn content_parts_and_null_content_parse() {
        let msg: ChatMessage = serde_json::from_value(serde_json::json!({
            "role": "user",
            "content": [{"type": "text", "text": "a"}, {"type": "image_url", "image_url": {"url": "data:x"}}]
        }))
        .unwrap();
        assert_eq!(msg.content.unwrap().text(), "a");
        let msg: ChatMessage =
            serde_json::from_value(serde_json::json!({"role": "assistant", "content": null}))
                .unwrap();
        assert!(msg.content.is_none());
    }
}
