//! Mock model providers for end-to-end tests.
//!
//! [`MockProvider::start`] binds `127.0.0.1:0` on a thread of its own (with
//! its own single-threaded tokio runtime) and speaks one provider's wire
//! format, as the provider documents it:
//!
//! | flavor | `url()` (the `api_base`) | routes |
//! | --- | --- | --- |
//! | [`Flavor::OpenAi`] | `http://127.0.0.1:P/v1` | `POST /v1/chat/completions` (JSON, or SSE ending in `data: [DONE]`), `POST /v1/embeddings`, `GET /v1/models` |
//! | [`Flavor::Anthropic`] | `http://127.0.0.1:P` | `POST /v1/messages` (JSON, or the `message_start` ... `message_stop` event stream) |
//! | [`Flavor::Gemini`] | `http://127.0.0.1:P/v1beta` | `POST /v1beta/models/{model}:generateContent`, `:streamGenerateContent?alt=sse`, `:batchEmbedContents`, `:embedContent` |
//!
//! Every request is recorded ([`MockProvider::requests`]) before it is
//! answered. Each call takes the next [`Behaviour`] from a queue
//! ([`MockProvider::push`]); when the queue is empty, the default
//! ([`MockProvider::always`], at first [`Behaviour::Answer`]) applies.
//!
//! Answers are deterministic: the text is [`Flavor::answer_text`], streamed
//! as [`Flavor::answer_pieces`]; usage is [`PROMPT_TOKENS`] and
//! [`COMPLETION_TOKENS`]; a tool call calls the request's first tool (else
//! [`DEFAULT_TOOL`]) with [`TOOL_ARGUMENTS`]; embedding `i` is
//! [`embedding`]`(i)`.
//!
//! A call whose answer the peer abandoned (it closed the connection while
//! the mock was still waiting or still sending) is counted
//! ([`MockProvider::cancelled`]).
//!
//! The server stops when the `MockProvider` is dropped; every answer is
//! finite (a [`Behaviour::Delay`] or a [`Behaviour::SlowStream`] is as long
//! as the test says).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Duration;

use axum::body::{Body, HttpBody};
use bytes::Bytes;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::sync::{Notify, oneshot};

/// Prompt tokens every answer reports.
pub const PROMPT_TOKENS: u64 = 11;
/// Completion tokens every answer reports.
pub const COMPLETION_TOKENS: u64 = 5;
/// The tool called when the request names none.
pub const DEFAULT_TOOL: &str = "get_weather";
/// The arguments of every tool call, as JSON text.
pub const TOOL_ARGUMENTS: &str = r#"{"location":"Paris"}"#;
/// [`TOOL_ARGUMENTS`] in the pieces a stream sends.
pub const TOOL_ARGUMENT_PIECES: [&str; 3] = [r#"{"location":"#, r#""Par"#, r#"is"}"#];
/// How long a broken stream waits before it breaks, so that what came
/// before (headers, the first event) reaches the client first.
const BREAK_AFTER: Duration = Duration::from_millis(30);
/// What [`Behaviour::StreamGarbageAfterFirstEvent`] sends where JSON is due.
pub const GARBAGE: &str = "<html>upstream proxy error</html>";
/// The largest request body a mock reads.
const MAX_BODY: usize = 64 << 20;

/// Which provider a mock imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    OpenAi,
    Anthropic,
    Gemini,
}

impl Flavor {
    /// The text of a normal answer.
    pub fn answer_text(self) -> &'static str {
        match self {
            Flavor::OpenAi => "Hello from the OpenAI mock.",
            Flavor::Anthropic => "Hello from the Anthropic mock.",
            Flavor::Gemini => "Hello from the Gemini mock.",
        }
    }

    /// [`Flavor::answer_text`] in the pieces a stream sends, in order.
    pub fn answer_pieces(self) -> Vec<&'static str> {
        let text = self.answer_text();
        let first = text.find(' ').unwrap_or(text.len());
        let second = text[first + 1..]
            .find(' ')
            .map_or(text.len(), |i| first + 1 + i);
        vec![&text[..first], &text[first..second], &text[second..]]
    }

    /// The message of the error a [`Behaviour::Status`] with an empty body
    /// answers with.
    pub fn error_message(self, status: u16) -> String {
        format!("mock {self:?} provider error: HTTP {status}")
    }

    /// The provider's documented error body for `status` with `message`.
    pub fn error_body(self, status: u16, message: &str) -> Value {
        match self {
            Flavor::OpenAi => {
                let (kind, code) = match status {
                    400 => ("invalid_request_error", Value::Null),
                    401 => ("invalid_request_error", json!("invalid_api_key")),
                    403 => (
                        "invalid_request_error",
                        json!("unsupported_country_region_territory"),
                    ),
                    404 => ("invalid_request_error", json!("model_not_found")),
                    429 => ("requests", json!("rate_limit_exceeded")),
                    _ => ("server_error", Value::Null),
                };
                json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
            }
            Flavor::Anthropic => {
                let kind = match status {
                    400 => "invalid_request_error",
                    401 => "authentication_error",
                    402 => "billing_error",
                    403 => "permission_error",
                    404 => "not_found_error",
                    413 => "request_too_large",
                    429 => "rate_limit_error",
                    504 => "timeout_error",
                    529 => "overloaded_error",
                    _ => "api_error",
                };
                json!({"type": "error", "error": {"type": kind, "message": message}})
            }
            Flavor::Gemini => {
                let grpc = match status {
                    400 => "INVALID_ARGUMENT",
                    401 => "UNAUTHENTICATED",
                    403 => "PERMISSION_DENIED",
                    404 => "NOT_FOUND",
                    429 => "RESOURCE_EXHAUSTED",
                    501 => "UNIMPLEMENTED",
                    503 => "UNAVAILABLE",
                    504 => "DEADLINE_EXCEEDED",
                    _ => "INTERNAL",
                };
                json!({"error": {"code": status, "message": message, "status": grpc}})
            }
        }
    }

    /// The message of the provider's documented error for an over-long
    /// prompt ([`Behaviour::ContextLengthError`]).
    pub fn context_length_message(self) -> &'static str {
        match self {
            Flavor::OpenAi => {
                "This model's maximum context length is 128000 tokens. However, your messages resulted in 200000 tokens. Please reduce the length of the messages."
            }
            Flavor::Anthropic => "prompt is too long: 210000 tokens > 200000 maximum",
            Flavor::Gemini => {
                "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)."
            }
        }
    }

    /// The message of the error event [`Behaviour::StreamErrorEvent`] sends.
    pub fn stream_error_message(self) -> &'static str {
        match self {
            Flavor::OpenAi => {
                "The server had an error while processing your request. Sorry about that!"
            }
            Flavor::Anthropic => "Overloaded",
            Flavor::Gemini => "The model is overloaded. Please try again later.",
        }
    }
}

/// What a mock does with one call.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// A normal answer (JSON, or a stream when the request asks for one).
    Answer,
    /// This JSON as the (non-streaming) answer, status 200.
    AnswerWith(Value),
    /// A tool call to the request's first tool (JSON or stream).
    ToolCall,
    /// This status with this body (an empty body: the provider's documented
    /// error body for the status, with [`Flavor::error_message`]), and a
    /// `Retry-After` header of so many seconds when given.
    Status(u16, String, Option<u64>),
    /// Waits this long, then answers normally.
    Delay(Duration),
    /// Closes the connection without answering.
    DropConnection,
    /// Streams: status 200 and the headers, then the connection breaks
    /// before any event. (A non-streaming call: the connection closes
    /// without an answer.)
    StreamBreakBeforeFirstEvent,
    /// Streams: the first event, then the connection breaks. (A
    /// non-streaming call: status 200 and half the JSON, then the break.)
    StreamBreakAfterFirstEvent,
    /// Streams: the first events, then the provider's error event
    /// ([`Flavor::stream_error_message`]), then the end of the body. (A
    /// non-streaming call: that error as a 500, or Anthropic's 529.)
    StreamErrorEvent,
    /// Streams: the first event, then an event whose data is not JSON (no
    /// provider's format), then the end of the body. (A non-streaming call:
    /// status 200 and a body that is not JSON.)
    StreamGarbageAfterFirstEvent,
    /// The provider's documented error for an over-long prompt (HTTP 400).
    ContextLengthError,
    /// Streams: status 200 and the headers at once, the first event after
    /// `first`, then one event every `every`, `events` in all (the normal
    /// answer's events, its first piece of text repeated to make up the
    /// number; never fewer than the normal answer's). (A non-streaming
    /// call, or Gemini's stream without `alt=sse`: the normal answer after
    /// `first`.)
    SlowStream {
        first: Duration,
        every: Duration,
        events: usize,
    },
    /// Waits this long, then does what the inner behaviour does (a failure
    /// that comes only once other calls are waiting, for example).
    After(Duration, Box<Behaviour>),
    /// An answer whose text is these pieces (OpenAI's format; other
    /// flavours answer normally): streamed, the role chunk, one chunk per
    /// piece, the `stop` chunk, usage when asked for, `[DONE]`; not
    /// streamed, the pieces joined as the message's content.
    Text(Vec<String>),
}

/// One request as the mock received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body as JSON (`Null` when it is not JSON).
    pub body: Value,
    /// The body as text.
    pub raw_body: String,
}

impl Recorded {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

struct Script {
    queue: std::collections::VecDeque<Behaviour>,
    default: Behaviour,
}

struct Shared {
    flavor: Flavor,
    /// Off for load runs, where recording would grow without bound.
    record: std::sync::atomic::AtomicBool,
    /// Streams go out without pauses between pieces.
    at_once: std::sync::atomic::AtomicBool,
    requests: Mutex<Vec<Recorded>>,
    script: Mutex<Script>,
    /// Calls whose answer the peer abandoned ([`Watch`]).
    cancelled: AtomicUsize,
    /// Gateway-only fields that reached this provider ([`own_fields_in`]);
    /// checked when the mock is dropped, so every test checks them.
    leaked: Mutex<Vec<String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running mock provider; stops when dropped.
pub struct MockProvider {
    flavor: Flavor,
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl MockProvider {
    /// Starts a mock of `flavor` on a free port of 127.0.0.1.
    pub fn start(flavor: Flavor) -> MockProvider {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("local address");
        let shared = Arc::new(Shared {
            flavor,
            record: std::sync::atomic::AtomicBool::new(true),
            at_once: std::sync::atomic::AtomicBool::new(false),
            requests: Mutex::new(Vec::new()),
            script: Mutex::new(Script {
                queue: Default::default(),
                default: Behaviour::Answer,
            }),
            cancelled: AtomicUsize::new(0),
            leaked: Mutex::new(Vec::new()),
        });
        let (stop, stopped) = oneshot::channel();
        let state = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("mock-{flavor:?}-{}", addr.port()))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("tokio runtime");
                rt.block_on(serve(listener, state, stopped));
                // Dropping the runtime cancels every connection still open.
            })
            .expect("spawn the mock's thread");
        MockProvider {
            flavor,
            addr,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The `api_base` to put in a deployment's `litellm_params`.
    pub fn url(&self) -> String {
        let base = format!("http://{}", self.addr);
        match self.flavor {
            Flavor::OpenAi => format!("{base}/v1"),
            Flavor::Anthropic => base,
            Flavor::Gemini => format!("{base}/v1beta"),
        }
    }

    /// Queues the behaviour of the next call not yet scripted.
    pub fn push(&self, b: Behaviour) -> &Self {
        lock(&self.shared.script).queue.push_back(b);
        self
    }

    /// Queues several behaviours, in order.
    pub fn script(&self, bs: impl IntoIterator<Item = Behaviour>) -> &Self {
        lock(&self.shared.script).queue.extend(bs);
        self
    }

    /// What calls do once the queue is empty (at first [`Behaviour::Answer`]).
    pub fn always(&self, b: Behaviour) -> &Self {
        lock(&self.shared.script).default = b;
        self
    }

    /// Stops recording requests (for load runs).
    pub fn keep_no_records(&self) {
        self.shared
            .record
            .store(false, std::sync::atomic::Ordering::Relaxed);
    }

    /// Sends a stream's pieces without the pauses between them (for load
    /// runs, where the pauses would be all a stream measures).
    pub fn stream_at_once(&self) {
        self.shared
            .at_once
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.requests).clone()
    }

    /// How many requests were received.
    pub fn count(&self) -> usize {
        lock(&self.shared.requests).len()
    }

    /// How many calls were cancelled: the peer closed the connection before
    /// the mock had sent the whole answer (while it waited, or mid-stream).
    /// Answers the mock breaks on purpose ([`Behaviour::DropConnection`],
    /// the `StreamBreak...` behaviours) do not count.
    pub fn cancelled(&self) -> usize {
        self.shared.cancelled.load(Ordering::Relaxed)
    }

    /// The only request received; panics naming the count otherwise.
    pub fn only_request(&self) -> Recorded {
        let all = self.requests();
        assert_eq!(
            all.len(),
            1,
            "expected exactly one request to the {:?} mock, got {}: {:#?}",
            self.flavor,
            all.len(),
            all.iter().map(|r| &r.path).collect::<Vec<_>>()
        );
        all.into_iter().next().expect("one request")
    }
}

impl Drop for MockProvider {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let leaked = lock(&self.shared.leaked).clone();
        if !std::thread::panicking() {
            assert!(
                leaked.is_empty(),
                "gateway-only fields reached the {:?} mock: {leaked:?}",
                self.flavor
            );
        }
    }
}

/// Request fields meant for the gateway alone, which no provider may see
/// (the gateway's own table is `host/src/gateway/own_fields.rs`; these are
/// the ones clients send most).
pub const GATEWAY_ONLY: &[&str] = &[
    "metadata",
    "fallbacks",
    "num_retries",
    "disable_fallbacks",
    "tags",
    "mock_response",
    "cache",
    "caching",
    "context_window_fallback_dict",
];

/// The gateway-only fields at the top of a body a `flavor` provider got.
/// Anthropic's own `metadata` may carry `user_id` (the `user` field, mapped)
/// and nothing else.
pub fn own_fields_in(flavor: Flavor, body: &Value) -> Vec<String> {
    let Some(map) = body.as_object() else {
        return Vec::new();
    };
    map.iter()
        .filter(|(k, v)| {
            let own = GATEWAY_ONLY.contains(&k.as_str())
                || k.starts_with("user_api_key")
                || k.starts_with("litellm_");
            let anthropic_metadata = flavor == Flavor::Anthropic
                && *k == "metadata"
                && v.as_object()
                    .is_some_and(|m| m.keys().all(|k| k == "user_id"));
            own && !anthropic_metadata
        })
        .map(|(k, _)| k.clone())
        .collect()
}

async fn serve(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    mut stop: oneshot::Receiver<()>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    loop {
        let stream = tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(async move {
            // A handler notifies `kill` to close the connection unanswered.
            let kill = Arc::new(Notify::new());
            let k = kill.clone();
            let service =
                hyper::service::service_fn(move |req| handle(shared.clone(), k.clone(), req));
            let conn = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                _ = kill.notified() => {}
            }
        });
    }
}

/// What a call asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Chat,
    Embed,
    /// Gemini's `embedContent`: one embedding.
    EmbedOne,
    Models,
}

struct Call {
    flavor: Flavor,
    op: Op,
    stream: bool,
    /// Gemini's `streamGenerateContent` without `alt=sse` answers a JSON
    /// array.
    sse: bool,
    model: String,
    body: Value,
    seq: usize,
    /// When a stream's pieces go out: [`QUICK`], or at once for load runs.
    pace: Pace,
}

async fn handle(
    shared: Arc<Shared>,
    kill: Arc<Notify>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(Body::new(body), MAX_BODY)
        .await
        .unwrap_or_default();
    let raw_body = String::from_utf8_lossy(&bytes).into_owned();
    let record = Recorded {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        raw_body,
    };
    let flavor = shared.flavor;
    lock(&shared.leaked).extend(own_fields_in(flavor, &record.body));
    let seq = {
        let mut all = lock(&shared.requests);
        if shared.record.load(std::sync::atomic::Ordering::Relaxed) {
            all.push(record.clone());
        }
        all.len()
    };
    let behaviour = {
        let mut s = lock(&shared.script);
        s.queue.pop_front().unwrap_or_else(|| s.default.clone())
    };

    let Some(mut call) = classify(flavor, &record, seq) else {
        let body = flavor.error_body(
            404,
            &format!(
                "mock {flavor:?}: no route {} {}",
                record.method, record.path
            ),
        );
        return Ok(json_response(404, &body, None));
    };
    if shared.at_once.load(std::sync::atomic::Ordering::Relaxed) {
        call.pace = AT_ONCE;
    }
    if call.op == Op::Models {
        return Ok(json_response(200, &models(), None));
    }

    // Dropped with this future when hyper ends the connection because the
    // peer closed it, or with the body when it is abandoned midway.
    let watch = Watch::armed(&shared);
    let mut behaviour = behaviour;
    while let Behaviour::After(wait, inner) = behaviour {
        tokio::time::sleep(wait).await;
        behaviour = *inner;
    }
    let response = match behaviour {
        Behaviour::Answer => answer(&call, false),
        Behaviour::ToolCall => answer(&call, true),
        // Unwrapped above; never reached.
        Behaviour::After(..) => answer(&call, false),
        Behaviour::AnswerWith(v) => json_response(200, &v, None),
        Behaviour::Delay(d) => {
            tokio::time::sleep(d).await;
            answer(&call, false)
        }
        Behaviour::Status(code, body, retry_after) => {
            let body = if body.is_empty() {
                flavor
                    .error_body(code, &flavor.error_message(code))
                    .to_string()
            } else {
                body
            };
            let mut r = Response::new(Body::from(body));
            *r.status_mut() = hyper::StatusCode::from_u16(code)
                .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
            r.headers_mut()
                .insert("content-type", hv("application/json"));
            if let Some(s) = retry_after {
                r.headers_mut().insert("retry-after", hv(&s.to_string()));
            }
            if flavor == Flavor::Anthropic {
                r.headers_mut()
                    .insert("request-id", hv(&format!("req_mock_{seq}")));
            }
            r
        }
        Behaviour::ContextLengthError => {
            let body = flavor.error_body(400, flavor.context_length_message());
            let body = match flavor {
                Flavor::OpenAi => {
                    let mut b = body;
                    b["error"]["param"] = json!("messages");
                    b["error"]["code"] = json!("context_length_exceeded");
                    b
                }
                _ => body,
            };
            json_response(400, &body, None)
        }
        Behaviour::DropConnection => return drop_connection(kill, watch).await,
        Behaviour::StreamBreakBeforeFirstEvent => {
            if !call.stream {
                return drop_connection(kill, watch).await;
            }
            let events: Vec<Bytes> = Vec::new();
            sse_response(flavor, events, QUICK, Ending::Break)
        }
        Behaviour::StreamBreakAfterFirstEvent => {
            if call.stream {
                let first = stream_events(&call, false).into_iter().take(1).collect();
                sse_response(flavor, first, QUICK, Ending::Break)
            } else {
                let full = answer_json(&call, false).to_string();
                let half = Bytes::from(full[..full.len() / 2].to_string());
                let mut r = chunks_response(vec![half], QUICK, Ending::Break);
                r.headers_mut()
                    .insert("content-type", hv("application/json"));
                r
            }
        }
        Behaviour::StreamErrorEvent => {
            if call.stream {
                let mut events: Vec<Bytes> =
                    stream_events(&call, false).into_iter().take(2).collect();
                events.push(stream_error_event(flavor));
                sse_response(flavor, events, QUICK, Ending::Clean)
            } else {
                let status = if flavor == Flavor::Anthropic {
                    529
                } else {
                    500
                };
                json_response(
                    status,
                    &flavor.error_body(status, flavor.stream_error_message()),
                    None,
                )
            }
        }
        Behaviour::StreamGarbageAfterFirstEvent => {
            if call.stream {
                let mut events: Vec<Bytes> =
                    stream_events(&call, false).into_iter().take(1).collect();
                events.push(sse_event(flavor, None, GARBAGE));
                sse_response(flavor, events, QUICK, Ending::Clean)
            } else {
                let mut r = Response::new(Body::from(GARBAGE));
                r.headers_mut()
                    .insert("content-type", hv("application/json"));
                r
            }
        }
        Behaviour::Text(pieces) if flavor == Flavor::OpenAi => {
            if call.stream {
                sse_response(flavor, text_events(&call, &pieces), QUICK, Ending::Clean)
            } else {
                let mut body = answer_json(&call, false);
                body["choices"][0]["message"]["content"] = json!(pieces.concat());
                json_response(200, &body, None)
            }
        }
        Behaviour::Text(_) => answer(&call, false),
        Behaviour::SlowStream {
            first,
            every,
            events,
        } => {
            if call.stream && call.sse {
                let pace = Pace { first, every };
                sse_response(flavor, slow_events(&call, events), pace, Ending::Clean)
            } else {
                tokio::time::sleep(first).await;
                answer(&call, false)
            }
        }
    };
    Ok(watch.watching(response))
}

/// Counts its call as cancelled ([`MockProvider::cancelled`]) when dropped
/// while still armed: when the future answering the call, or the body of
/// the answer ([`Watched`]) before its end, is dropped. hyper drops both
/// when it ends the connection, which it does as soon as it reads the
/// peer's end of the connection (or fails to write to it) mid-answer.
struct Watch(Option<Arc<Shared>>);

impl Watch {
    fn armed(shared: &Arc<Shared>) -> Watch {
        Watch(Some(shared.clone()))
    }

    fn disarm(&mut self) {
        self.0 = None;
    }

    /// `response` with its body watched to its end.
    fn watching(self, response: Response<Body>) -> Response<Body> {
        response.map(|body| Body::new(Watched { body, watch: self }))
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if let Some(shared) = self.0.take() {
            shared.cancelled.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// An answer's body that disarms its [`Watch`] once hyper has taken all of
/// it (or the mock broke it on purpose).
struct Watched {
    body: Body,
    watch: Watch,
}

impl HttpBody for Watched {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if let Poll::Ready(None | Some(Err(_))) = polled {
            self.watch.disarm();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        // A body of known length is not polled past its last frame.
        if self.body.is_end_stream() {
            self.watch.disarm();
        }
    }
}

async fn drop_connection(
    kill: Arc<Notify>,
    mut watch: Watch,
) -> Result<Response<Body>, Infallible> {
    // The mock closes the connection itself: not a cancellation.
    watch.disarm();
    kill.notify_one();
    std::future::pending::<()>().await;
    Ok(Response::new(Body::empty()))
}

fn hv(s: &str) -> hyper::header::HeaderValue {
    hyper::header::HeaderValue::from_str(s)
        .unwrap_or(hyper::header::HeaderValue::from_static("invalid"))
}

fn json_response(status: u16, body: &Value, extra: Option<(&str, &str)>) -> Response<Body> {
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut()
        .insert("content-type", hv("application/json"));
    if let Some((k, v)) = extra
        && let Ok(name) = hyper::header::HeaderName::from_bytes(k.as_bytes())
    {
        r.headers_mut().insert(name, hv(v));
    }
    r
}

/// Which call a request is, by flavor, method and path.
fn classify(flavor: Flavor, r: &Recorded, seq: usize) -> Option<Call> {
    let streaming = r.body.get("stream").and_then(Value::as_bool) == Some(true);
    let model = r
        .body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("mock-model")
        .to_string();
    let call = |op, stream, sse, model| Call {
        flavor,
        op,
        stream,
        sse,
        model,
        body: r.body.clone(),
        seq,
        pace: QUICK,
    };
    match (flavor, r.method.as_str()) {
        (Flavor::OpenAi, "GET") if r.path.ends_with("/models") => {
            Some(call(Op::Models, false, false, model))
        }
        (Flavor::OpenAi, "POST") if r.path.ends_with("/chat/completions") => {
            Some(call(Op::Chat, streaming, true, model))
        }
        (Flavor::OpenAi, "POST") if r.path.ends_with("/embeddings") => {
            Some(call(Op::Embed, false, false, model))
        }
        (Flavor::Anthropic, "POST") if r.path == "/v1/messages" => {
            Some(call(Op::Chat, streaming, true, model))
        }
        (Flavor::Gemini, "POST") => {
            // /v1beta/models/{model}:{method}
            let rest = r.path.strip_prefix("/v1beta/")?;
            let (resource, method) = rest.rsplit_once(':')?;
            let model = resource.rsplit('/').next().unwrap_or(resource).to_string();
            let sse = r
                .query
                .as_deref()
                .is_some_and(|q| q.split('&').any(|p| p == "alt=sse"));
            match method {
                "generateContent" => Some(call(Op::Chat, false, false, model)),
                "streamGenerateContent" => Some(call(Op::Chat, true, sse, model)),
                "batchEmbedContents" => Some(call(Op::Embed, false, false, model)),
                "embedContent" => Some(call(Op::EmbedOne, false, false, model)),
                _ => None,
            }
        }
        _ => None,
    }
}

fn models() -> Value {
    json!({"object": "list", "data": [
        {"id": "mock-model", "object": "model", "created": 1_700_000_000, "owned_by": "mock"}
    ]})
}

/// The name of the request's first tool, in the flavor's request format.
fn tool_name(call: &Call) -> String {
    let tools = call.body.get("tools").and_then(Value::as_array);
    let first = tools.and_then(|t| t.first());
    let name = match call.flavor {
        Flavor::OpenAi => first.and_then(|t| t.pointer("/function/name")),
        Flavor::Anthropic => first.and_then(|t| t.get("name")),
        Flavor::Gemini => first.and_then(|t| {
            t.pointer("/functionDeclarations/0/name")
                .or_else(|| t.pointer("/function_declarations/0/name"))
        }),
    };
    name.and_then(Value::as_str)
        .unwrap_or(DEFAULT_TOOL)
        .to_string()
}

/// A normal answer (or a tool call) to `call`, JSON or stream.
fn answer(call: &Call, tool: bool) -> Response<Body> {
    match call.op {
        Op::Embed | Op::EmbedOne => json_response(200, &embeddings(call), None),
        Op::Models => json_response(200, &models(), None),
        Op::Chat if call.stream && !call.sse => {
            // Gemini's streamGenerateContent without alt=sse: a JSON array.
            let items: Vec<Value> = stream_values(call, tool);
            json_response(200, &Value::Array(items), None)
        }
        Op::Chat if call.stream => sse_response(
            call.flavor,
            stream_events(call, tool),
            call.pace,
            Ending::Clean,
        ),
        Op::Chat => {
            let extra = (call.flavor == Flavor::Anthropic).then_some(("request-id", "req_mock"));
            json_response(200, &answer_json(call, tool), extra)
        }
    }
}

fn usage_openai() -> Value {
    json!({"prompt_tokens": PROMPT_TOKENS, "completion_tokens": COMPLETION_TOKENS,
           "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS})
}

fn usage_gemini() -> Value {
    json!({"promptTokenCount": PROMPT_TOKENS, "candidatesTokenCount": COMPLETION_TOKENS,
           "totalTokenCount": PROMPT_TOKENS + COMPLETION_TOKENS})
}

/// The JSON of a non-streaming chat answer.
fn answer_json(call: &Call, tool: bool) -> Value {
    let text = call.flavor.answer_text();
    let seq = call.seq;
    match call.flavor {
        Flavor::OpenAi => {
            let message = if tool {
                json!({"role": "assistant", "content": null, "refusal": null, "tool_calls": [
                    {"id": format!("call_mock_{seq}"), "type": "function",
                     "function": {"name": tool_name(call), "arguments": TOOL_ARGUMENTS}}
                ]})
            } else {
                json!({"role": "assistant", "content": text, "refusal": null})
            };
            json!({
                "id": format!("chatcmpl-mock-{seq}"),
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": call.model,
                "choices": [{"index": 0, "message": message, "logprobs": null,
                             "finish_reason": if tool { "tool_calls" } else { "stop" }}],
                "usage": usage_openai(),
                "system_fingerprint": "fp_mock",
            })
        }
        Flavor::Anthropic => {
            let content = if tool {
                json!([{"type": "tool_use", "id": format!("toolu_mock_{seq}"), "name": tool_name(call),
                        "input": serde_json::from_str::<Value>(TOOL_ARGUMENTS).unwrap_or_default()}])
            } else {
                json!([{"type": "text", "text": text}])
            };
            json!({
                "id": format!("msg_mock_{seq}"),
                "type": "message",
                "role": "assistant",
                "model": call.model,
                "content": content,
                "stop_reason": if tool { "tool_use" } else { "end_turn" },
                "stop_sequence": null,
                "usage": {"input_tokens": PROMPT_TOKENS, "output_tokens": COMPLETION_TOKENS},
            })
        }
        Flavor::Gemini => {
            let parts = if tool {
                json!([{"functionCall": {"name": tool_name(call),
                        "args": serde_json::from_str::<Value>(TOOL_ARGUMENTS).unwrap_or_default()}}])
            } else {
                json!([{"text": text}])
            };
            json!({
                "candidates": [{"content": {"parts": parts, "role": "model"},
                                "finishReason": "STOP", "index": 0}],
                "usageMetadata": usage_gemini(),
                "modelVersion": call.model,
                "responseId": format!("mock-response-{seq}"),
            })
        }
    }
}

/// The stream's events as (event name, JSON data) pairs.
fn stream_items(call: &Call, tool: bool) -> Vec<(Option<&'static str>, Value)> {
    let seq = call.seq;
    let pieces = call.flavor.answer_pieces();
    match call.flavor {
        Flavor::OpenAi => {
            let include_usage = call
                .body
                .pointer("/stream_options/include_usage")
                .and_then(Value::as_bool)
                == Some(true);
            let chunk = |delta: Value, finish: Value| {
                let mut c = json!({
                    "id": format!("chatcmpl-mock-{seq}"),
                    "object": "chat.completion.chunk",
                    "created": 1_700_000_000,
                    "model": call.model,
                    "system_fingerprint": "fp_mock",
                    "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
                });
                if include_usage {
                    c["usage"] = Value::Null;
                }
                (None, c)
            };
            let mut out = vec![chunk(
                json!({"role": "assistant", "content": "", "refusal": null}),
                Value::Null,
            )];
            if tool {
                out.push(chunk(
                    json!({"tool_calls": [{"index": 0, "id": format!("call_mock_{seq}"), "type": "function",
                                           "function": {"name": tool_name(call), "arguments": ""}}]}),
                    Value::Null,
                ));
                for p in TOOL_ARGUMENT_PIECES {
                    out.push(chunk(
                        json!({"tool_calls": [{"index": 0, "function": {"arguments": p}}]}),
                        Value::Null,
                    ));
                }
                out.push(chunk(json!({}), json!("tool_calls")));
            } else {
                for p in pieces {
                    out.push(chunk(json!({"content": p}), Value::Null));
                }
                out.push(chunk(json!({}), json!("stop")));
            }
            if include_usage {
                out.push((
                    None,
                    json!({
                        "id": format!("chatcmpl-mock-{seq}"),
                        "object": "chat.completion.chunk",
                        "created": 1_700_000_000,
                        "model": call.model,
                        "system_fingerprint": "fp_mock",
                        "choices": [],
                        "usage": usage_openai(),
                    }),
                ));
            }
            out
        }
        Flavor::Anthropic => {
            let mut out = vec![(
                Some("message_start"),
                json!({"type": "message_start", "message": {
                        "id": format!("msg_mock_{seq}"), "type": "message", "role": "assistant",
                        "model": call.model, "content": [], "stop_reason": null, "stop_sequence": null,
                        "usage": {"input_tokens": PROMPT_TOKENS, "output_tokens": 1}}}),
            )];
            if tool {
                out.push((
                    Some("content_block_start"),
                    json!({"type": "content_block_start", "index": 0, "content_block":
                        {"type": "tool_use", "id": format!("toolu_mock_{seq}"), "name": tool_name(call), "input": {}}}),
                ));
                out.push((Some("ping"), json!({"type": "ping"})));
                for p in std::iter::once("").chain(TOOL_ARGUMENT_PIECES) {
                    out.push((
                        Some("content_block_delta"),
                        json!({"type": "content_block_delta", "index": 0,
                               "delta": {"type": "input_json_delta", "partial_json": p}}),
                    ));
                }
            } else {
                out.push((
                    Some("content_block_start"),
                    json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
                ));
                out.push((Some("ping"), json!({"type": "ping"})));
                for p in pieces {
                    out.push((
                        Some("content_block_delta"),
                        json!({"type": "content_block_delta", "index": 0,
                               "delta": {"type": "text_delta", "text": p}}),
                    ));
                }
            }
            out.push((
                Some("content_block_stop"),
                json!({"type": "content_block_stop", "index": 0}),
            ));
            out.push((
                Some("message_delta"),
                json!({"type": "message_delta",
                       "delta": {"stop_reason": if tool { "tool_use" } else { "end_turn" }, "stop_sequence": null},
                       "usage": {"output_tokens": COMPLETION_TOKENS}}),
            ));
            out.push((Some("message_stop"), json!({"type": "message_stop"})));
            out
        }
        Flavor::Gemini => stream_values(call, tool)
            .into_iter()
            .map(|v| (None, v))
            .collect(),
    }
}

/// Gemini's stream: one `GenerateContentResponse` per piece, the last with
/// `finishReason` and every one with the usage so far.
fn stream_values(call: &Call, tool: bool) -> Vec<Value> {
    let seq = call.seq;
    let event = |parts: Value, finish: Option<&str>, done: u64| {
        let mut candidate = json!({"content": {"parts": parts, "role": "model"}, "index": 0});
        if let Some(f) = finish {
            candidate["finishReason"] = json!(f);
        }
        json!({
            "candidates": [candidate],
            "usageMetadata": {"promptTokenCount": PROMPT_TOKENS, "candidatesTokenCount": done,
                              "totalTokenCount": PROMPT_TOKENS + done},
            "modelVersion": call.model,
            "responseId": format!("mock-response-{seq}"),
        })
    };
    if tool {
        let args = serde_json::from_str::<Value>(TOOL_ARGUMENTS).unwrap_or_default();
        return vec![event(
            json!([{"functionCall": {"name": tool_name(call), "args": args}}]),
            Some("STOP"),
            COMPLETION_TOKENS,
        )];
    }
    let pieces = call.flavor.answer_pieces();
    let last = pieces.len() - 1;
    pieces
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let done = if i == last {
                COMPLETION_TOKENS
            } else {
                i as u64 + 1
            };
            event(json!([{"text": p}]), (i == last).then_some("STOP"), done)
        })
        .collect()
}

/// The stream's events, framed.
fn stream_events(call: &Call, tool: bool) -> Vec<Bytes> {
    let mut out: Vec<Bytes> = stream_items(call, tool)
        .into_iter()
        .map(|(event, data)| sse_event(call.flavor, event, &data.to_string()))
        .collect();
    if call.flavor == Flavor::OpenAi {
        out.push(Bytes::from_static(b"data: [DONE]\n\n"));
    }
    out
}

/// [`Behaviour::Text`]'s stream: the normal stream's events with the
/// text pieces in place of the normal ones.
fn text_events(call: &Call, pieces: &[String]) -> Vec<Bytes> {
    let items = stream_items(call, false);
    let normal = call.flavor.answer_pieces().len();
    let mut out: Vec<Bytes> = Vec::new();
    for (i, (event, data)) in items.into_iter().enumerate() {
        if i == 1 {
            for p in pieces {
                let mut d = data.clone();
                d["choices"][0]["delta"] = json!({"content": p});
                out.push(sse_event(call.flavor, event, &d.to_string()));
            }
        }
        if (1..=normal).contains(&i) {
            continue;
        }
        out.push(sse_event(call.flavor, event, &data.to_string()));
    }
    out.push(Bytes::from_static(b"data: [DONE]\n\n"));
    out
}

/// [`Behaviour::SlowStream`]'s events: the normal answer's, its first
/// piece of text repeated until there are `total`.
fn slow_events(call: &Call, total: usize) -> Vec<Bytes> {
    let mut events = stream_events(call, false);
    // The event carrying the first piece of text.
    let at = match call.flavor {
        Flavor::OpenAi => 1,
        Flavor::Anthropic => 3,
        Flavor::Gemini => 0,
    };
    let extra = total.saturating_sub(events.len());
    let piece = events[at].clone();
    events.splice(at..at, std::iter::repeat_n(piece, extra));
    events
}

fn sse_event(flavor: Flavor, event: Option<&str>, data: &str) -> Bytes {
    // Gemini ends its events with CRLF pairs, as the real API does.
    let nl = if flavor == Flavor::Gemini {
        "\r\n"
    } else {
        "\n"
    };
    let mut s = String::new();
    if let Some(e) = event {
        s.push_str(&format!("event: {e}{nl}"));
    }
    s.push_str(&format!("data: {data}{nl}{nl}"));
    Bytes::from(s)
}

fn stream_error_event(flavor: Flavor) -> Bytes {
    let message = flavor.stream_error_message();
    match flavor {
        Flavor::OpenAi => sse_event(
            flavor,
            None,
            &json!({"error": {"message": message, "type": "server_error", "param": null, "code": null}}).to_string(),
        ),
        Flavor::Anthropic => sse_event(
            flavor,
            Some("error"),
            &json!({"type": "error", "error": {"type": "overloaded_error", "message": message}}).to_string(),
        ),
        Flavor::Gemini => sse_event(flavor, None, &flavor.error_body(503, message).to_string()),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Ending {
    /// The body ends normally.
    Clean,
    /// The connection breaks after the last piece (chunked encoding left
    /// unterminated).
    Break,
}

/// When a body's pieces are sent: the first `first` after the headers,
/// each later one `every` after the one before.
#[derive(Clone, Copy)]
struct Pace {
    first: Duration,
    every: Duration,
}

/// Every piece at once, one after the other (load runs: the stream's cost,
/// not the mock's pauses).
const AT_ONCE: Pace = Pace {
    first: Duration::ZERO,
    every: Duration::ZERO,
};

/// Every piece its own write, at once.
const QUICK: Pace = Pace {
    first: Duration::from_millis(1),
    every: Duration::from_millis(1),
};

fn sse_response(flavor: Flavor, events: Vec<Bytes>, pace: Pace, ending: Ending) -> Response<Body> {
    let mut r = chunks_response(events, pace, ending);
    r.headers_mut()
        .insert("content-type", hv("text/event-stream"));
    r.headers_mut().insert("cache-control", hv("no-cache"));
    if flavor == Flavor::Anthropic {
        r.headers_mut().insert("request-id", hv("req_mock_stream"));
    }
    r
}

/// A body sent piece by piece (each piece its own write) at `pace`, ending
/// as told.
fn chunks_response(pieces: Vec<Bytes>, pace: Pace, ending: Ending) -> Response<Body> {
    let stream = futures::stream::unfold(
        (pieces.into_iter(), pace.first, false),
        move |(mut rest, wait, ended)| async move {
            if ended {
                return None;
            }
            if let Some(p) = rest.next() {
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                }
                return Some((Ok(p), (rest, pace.every, false)));
            }
            match ending {
                Ending::Clean => None,
                Ending::Break => {
                    tokio::time::sleep(BREAK_AFTER).await;
                    let err = std::io::Error::new(
                        std::io::ErrorKind::ConnectionReset,
                        "mock: stream broken",
                    );
                    Some((Err(err), (rest, wait, true)))
                }
            }
        },
    );
    Response::new(Body::from_stream(stream))
}

/// Embedding `i`: four floats that are exact in f32.
pub fn embedding(i: usize) -> Vec<f32> {
    vec![0.5 + i as f32, -0.25, 0.125, 1.0]
}

/// How many inputs an embeddings request has.
fn input_count(call: &Call) -> usize {
    match call.flavor {
        Flavor::Gemini => match call.op {
            Op::EmbedOne => 1,
            _ => call
                .body
                .get("requests")
                .and_then(Value::as_array)
                .map_or(0, Vec::len),
        },
        _ => match call.body.get("input") {
            Some(Value::Array(items)) if items.iter().all(Value::is_number) => 1,
            Some(Value::Array(items)) => items.len(),
            Some(_) => 1,
            None => 0,
        },
    }
}

fn embeddings(call: &Call) -> Value {
    let n = input_count(call);
    match call.flavor {
        Flavor::Gemini if call.op == Op::EmbedOne => json!({"embedding": {"values": embedding(0)}}),
        Flavor::Gemini => {
            let list: Vec<Value> = (0..n).map(|i| json!({"values": embedding(i)})).collect();
            json!({ "embeddings": list })
        }
        _ => {
            let base64 = call.body.get("encoding_format").and_then(Value::as_str) == Some("base64");
            let data: Vec<Value> = (0..n)
                .map(|i| {
                    let e = embedding(i);
                    let embedding = if base64 {
                        let bytes: Vec<u8> = e.iter().flat_map(|f| f.to_le_bytes()).collect();
                        json!(base64_encode(&bytes))
                    } else {
                        json!(e)
                    };
                    json!({"object": "embedding", "index": i, "embedding": embedding})
                })
                .collect();
            json!({"object": "list", "data": data, "model": call.model,
                   "usage": {"prompt_tokens": PROMPT_TOKENS, "total_tokens": PROMPT_TOKENS}})
        }
    }
}

/// Standard base64 with padding.
fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> shift) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(base64_encode(b""), "");
        assert_eq!(base64_encode(b"f"), "Zg==");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_encode(b"foo"), "Zm9v");
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn pieces_make_the_text() {
        for f in [Flavor::OpenAi, Flavor::Anthropic, Flavor::Gemini] {
            assert_eq!(f.answer_pieces().concat(), f.answer_text());
            assert_eq!(f.answer_pieces().len(), 3);
        }
        assert_eq!(TOOL_ARGUMENT_PIECES.concat(), TOOL_ARGUMENTS);
    }
}
