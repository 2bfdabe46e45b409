//! OpenTelemetry traces over OTLP/HTTP (protobuf), received by a collector
//! the test runs: a server span per request (continuing the client's
//! `traceparent`), a client span per attempt, a span per plugin call, the
//! GenAI attributes; on with `OTEL_EXPORTER_OTLP_ENDPOINT` or the `otel`
//! callback, off otherwise; a refused or silent collector never slows a
//! request.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod observed;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use prost::Message;
use serde_json::json;
use switchyard_e2e::mock::*;
use switchyard_e2e::*;
use tokio::sync::oneshot;

use observed::Observed;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";

/// An OTLP/HTTP trace receiver: every span of every export, with its
/// resource's `service.name`.
struct Collector {
    port: u16,
    spans: Arc<Mutex<Vec<(String, Span)>>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Collector {
    fn start() -> Collector {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let spans = Arc::new(Mutex::new(Vec::new()));
        let (stop, mut stopped) = oneshot::channel::<()>();
        let kept = spans.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let stream = tokio::select! {
                        _ = &mut stopped => return,
                        accepted = listener.accept() => match accepted {
                            Ok((s, _)) => s,
                            Err(_) => continue,
                        },
                    };
                    let kept = kept.clone();
                    tokio::spawn(async move {
                        let service =
                            hyper::service::service_fn(move |req| receive(kept.clone(), req));
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        });
        Collector {
            port,
            spans,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn spans(&self) -> Vec<(String, Span)> {
        self.spans.lock().unwrap().clone()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn receive(
    kept: Arc<Mutex<Vec<(String, Span)>>>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(Body::new(body), 64 << 20)
        .await
        .unwrap();
    assert_eq!(parts.uri.path(), "/v1/traces");
    assert_eq!(
        parts.headers.get("content-type").unwrap(),
        "application/x-protobuf"
    );
    let export = ExportTraceServiceRequest::decode(bytes).unwrap();
    let mut kept = kept.lock().unwrap();
    for rs in export.resource_spans {
        let service = rs
            .resource
            .as_ref()
            .and_then(|r| text(&r.attributes, "service.name"))
            .unwrap_or_default();
        for ss in rs.scope_spans {
            for span in ss.spans {
                kept.push((service.clone(), span));
            }
        }
    }
    Ok(Response::builder()
        .header("content-type", "application/x-protobuf")
        .body(Body::empty())
        .unwrap())
}

fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Any> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn text(attrs: &[KeyValue], key: &str) -> Option<String> {
    match attr(attrs, key)? {
        Any::StringValue(s) => Some(s.clone()),
        other => panic!("{key} is no string: {other:?}"),
    }
}

fn int(attrs: &[KeyValue], key: &str) -> Option<i64> {
    match attr(attrs, key)? {
        Any::IntValue(i) => Some(*i),
        other => panic!("{key} is no integer: {other:?}"),
    }
}

fn kind(span: &Span) -> SpanKind {
    SpanKind::try_from(span.kind).unwrap()
}

fn status(span: &Span) -> StatusCode {
    StatusCode::try_from(span.status.as_ref().map_or(0, |s| s.code)).unwrap()
}

fn config(mock: &MockProvider, settings: &str) -> String {
    format!(
        "{}router_settings:\n  num_retries: 1\n  disable_cooldowns: true\n{settings}",
        config_with(&[model_entry(
            "gpt",
            "openai/gpt-4o-mini",
            &mock.url(),
            &["api_key: sk-up"]
        )])
    )
}

fn chat(stream: bool) -> serde_json::Value {
    json!({"model": "gpt", "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
}

/// The gateway exporting to `collector` with batches every 50 ms.
fn traced(mock: &MockProvider, collector: &Collector) -> Observed {
    Observed::start(
        tempfile::tempdir().unwrap(),
        &config(mock, ""),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.endpoint()),
            ("OTEL_BSP_SCHEDULE_DELAY", "50"),
        ],
    )
}

/// The spans of one trace, by kind.
struct Trace {
    server: Vec<Span>,
    client: Vec<Span>,
    internal: Vec<Span>,
}

fn trace_of(spans: &[(String, Span)], trace_id: &[u8]) -> Trace {
    let of = |k: SpanKind| -> Vec<Span> {
        spans
            .iter()
            .map(|(_, s)| s)
            .filter(|s| s.trace_id == trace_id && kind(s) == k)
            .cloned()
            .collect()
    };
    let t = Trace {
        server: of(SpanKind::Server),
        client: of(SpanKind::Client),
        internal: of(SpanKind::Internal),
    };
    let all = spans.iter().filter(|(_, s)| s.trace_id == trace_id).count();
    assert_eq!(
        all,
        t.server.len() + t.client.len() + t.internal.len(),
        "only server, client and internal spans"
    );
    t
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `(name, parent kind)` of each plugin span, sorted.
fn plugin_spans(t: &Trace) -> Vec<(String, &'static str)> {
    let mut out: Vec<_> = t
        .internal
        .iter()
        .map(|s| {
            let parent = if t.server.iter().any(|p| p.span_id == s.parent_span_id) {
                "request"
            } else if t.client.iter().any(|p| p.span_id == s.parent_span_id) {
                "attempt"
            } else {
                panic!("{} has no parent in its trace", s.name)
            };
            (s.name.clone(), parent)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_request_is_a_server_span_continuing_the_clients_traceparent_with_attempt_and_plugin_children()
{
    let mock = MockProvider::start(Flavor::OpenAi);
    let collector = Collector::start();
    let mut gw = traced(&mock, &collector);
    let traceparent = format!("traceparent: 00-{TRACE_ID}-{PARENT_ID}-01");
    let r = gw.post(
        "/v1/chat/completions",
        Some(KEY),
        &[&traceparent, "x-request-id: client-req-1"],
        &chat(false),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(gw.stop().success());

    let spans = collector.spans();
    assert!(spans.iter().all(|(service, _)| service == "switchyard"));
    let trace_id: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&TRACE_ID[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let t = trace_of(&spans, &trace_id);
    assert_eq!((t.server.len(), t.client.len()), (1, 1), "{spans:?}");
    let (server, client) = (&t.server[0], &t.client[0]);

    assert_eq!(server.name, "chat gpt");
    assert_eq!(hex(&server.parent_span_id), PARENT_ID);
    assert_eq!(status(server), StatusCode::Unset);
    let a = &server.attributes;
    for (key, want) in [
        ("gen_ai.operation.name", "chat"),
        ("gen_ai.request.model", "gpt"),
        ("gen_ai.response.model", "gpt-4o-mini"),
        ("gen_ai.provider.name", "openai"),
        ("switchyard.model_group", "gpt"),
        ("http.request.header.x-request-id", "client-req-1"),
    ] {
        assert_eq!(text(a, key).as_deref(), Some(want), "{key}: {server:?}");
    }
    assert_eq!(
        text(a, "switchyard.request_id").as_deref(),
        r.header("x-switchyard-call-id")
    );
    assert_eq!(
        text(a, "switchyard.deployment").as_deref(),
        r.header("x-switchyard-deployment")
    );
    for (key, want) in [
        ("gen_ai.usage.input_tokens", PROMPT_TOKENS as i64),
        ("gen_ai.usage.output_tokens", COMPLETION_TOKENS as i64),
        ("http.response.status_code", 200),
        ("switchyard.attempts", 1),
        ("switchyard.fallbacks", 0),
    ] {
        assert_eq!(int(a, key), Some(want), "{key}: {server:?}");
    }

    assert_eq!(client.name, "chat gpt-4o-mini");
    assert_eq!(client.parent_span_id, server.span_id);
    assert!(client.start_time_unix_nano >= server.start_time_unix_nano);
    assert!(client.end_time_unix_nano <= server.end_time_unix_nano);
    let a = &client.attributes;
    for (key, want) in [
        ("gen_ai.operation.name", "chat"),
        ("gen_ai.request.model", "gpt-4o-mini"),
        ("gen_ai.response.model", "gpt-4o-mini"),
        ("gen_ai.provider.name", "openai"),
    ] {
        assert_eq!(text(a, key).as_deref(), Some(want), "{key}: {client:?}");
    }
    assert_eq!(
        int(a, "gen_ai.usage.input_tokens"),
        Some(PROMPT_TOKENS as i64)
    );
    assert_eq!(
        int(a, "gen_ai.usage.output_tokens"),
        Some(COMPLETION_TOKENS as i64)
    );

    // The router under the request; the adapter's build and parse and the
    // price under the attempt.
    let s = |n: &str| n.to_string();
    assert_eq!(
        plugin_spans(&t),
        [
            (s("cost model-prices"), "attempt"),
            (s("provider openai"), "attempt"),
            (s("provider openai"), "attempt"),
            (s("router default-router"), "request"),
        ]
    );
    for p in &t.internal {
        assert!(p.start_time_unix_nano <= p.end_time_unix_nano);
        assert!(text(&p.attributes, "switchyard.plugin.name").is_some());
    }
}

#[test]
fn a_retry_is_two_attempts_under_one_new_trace_and_a_streams_span_ends_with_its_usage() {
    let mock = MockProvider::start(Flavor::OpenAi);
    let collector = Collector::start();
    let mut gw = traced(&mock, &collector);
    mock.push(Behaviour::Status(500, String::new(), None));
    let retried = gw.post("/v1/chat/completions", Some(KEY), &[], &chat(false));
    assert_eq!(retried.status, 200, "{}", retried.body);
    let streamed = gw.post("/v1/chat/completions", Some(KEY), &[], &chat(true));
    stream_chunks(&streamed);
    assert!(gw.stop().success());

    let spans = collector.spans();
    let servers: Vec<&Span> = spans
        .iter()
        .map(|(_, s)| s)
        .filter(|s| kind(s) == SpanKind::Server)
        .collect();
    assert_eq!(servers.len(), 2, "{spans:?}");
    let by_id = |reply: &Reply| -> Span {
        let id = reply.header("x-switchyard-call-id").unwrap();
        servers
            .iter()
            .find(|s| text(&s.attributes, "switchyard.request_id").as_deref() == Some(id))
            .map(|s| (*s).clone())
            .unwrap_or_else(|| panic!("no span for {id}"))
    };

    let server = by_id(&retried);
    // No traceparent: a trace of its own.
    assert!(server.parent_span_id.is_empty());
    assert_eq!(int(&server.attributes, "switchyard.attempts"), Some(2));
    let t = trace_of(&spans, &server.trace_id);
    assert_eq!(t.client.len(), 2);
    let mut attempts = t.client.clone();
    attempts.sort_by_key(|s| s.start_time_unix_nano);
    assert!(attempts.iter().all(|a| a.parent_span_id == server.span_id));
    assert_eq!(
        text(&attempts[0].attributes, "error.type").as_deref(),
        Some("server_error")
    );
    assert_eq!(status(&attempts[0]), StatusCode::Error);
    assert_eq!(text(&attempts[1].attributes, "error.type"), None);
    assert_eq!(status(&attempts[1]), StatusCode::Unset);
    assert!(attempts[0].end_time_unix_nano <= attempts[1].start_time_unix_nano);

    let server = by_id(&streamed);
    let a = &server.attributes;
    assert_eq!(attr(a, "switchyard.streamed"), Some(&Any::BoolValue(true)));
    assert_eq!(
        int(a, "gen_ai.usage.input_tokens"),
        Some(PROMPT_TOKENS as i64)
    );
    assert_eq!(
        int(a, "gen_ai.usage.output_tokens"),
        Some(COMPLETION_TOKENS as i64)
    );
    assert!(attr(a, "switchyard.ttft_ms").is_some());
    let t = trace_of(&spans, &server.trace_id);
    assert_eq!(t.client.len(), 1);
    // The attempt ends at the first chunk; the request when the stream does.
    assert!(t.client[0].end_time_unix_nano <= server.end_time_unix_nano);
}

#[test]
fn the_otel_callback_turns_traces_on_and_nothing_is_sent_without_it_or_the_endpoint() {
    let mock = MockProvider::start(Flavor::OpenAi);
    let collector = Collector::start();
    let traces_endpoint = format!("{}/v1/traces", collector.endpoint());
    let env = [
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            traces_endpoint.as_str(),
        ),
        ("OTEL_BSP_SCHEDULE_DELAY", "50"),
    ];
    for (settings, want) in [("", 0), ("litellm_settings:\n  callbacks: [\"otel\"]\n", 1)] {
        let before = collector.spans().len();
        let mut gw = Observed::start(tempfile::tempdir().unwrap(), &config(&mock, settings), &env);
        let r = gw.post("/v1/chat/completions", Some(KEY), &[], &chat(false));
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(gw.stop().success());
        let spans = collector.spans();
        let servers = spans[before..]
            .iter()
            .filter(|(_, s)| kind(s) == SpanKind::Server)
            .count();
        assert_eq!(servers, want, "{settings:?}");
    }
}

#[test]
fn a_refused_or_silent_collector_never_slows_a_request() {
    let mock = MockProvider::start(Flavor::OpenAi);
    // Nothing listens on a port just freed; a listener that accepts and
    // never answers holds every export until its timeout.
    let refused = format!("http://127.0.0.1:{}", free_port());
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    let held = Arc::new(Mutex::new(Vec::new()));
    let h = held.clone();
    std::thread::spawn(move || {
        for conn in silent.incoming().flatten() {
            h.lock().unwrap().push(conn);
        }
    });
    for endpoint in [refused, silent_url] {
        let mut gw = Observed::start(
            tempfile::tempdir().unwrap(),
            &config(&mock, ""),
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
                ("OTEL_BSP_SCHEDULE_DELAY", "10"),
                ("OTEL_BSP_MAX_QUEUE_SIZE", "16"),
                ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "8"),
            ],
        );
        for i in 0..40 {
            let started = Instant::now();
            let r = gw.post("/v1/chat/completions", Some(KEY), &[], &chat(i % 2 == 1));
            let took = started.elapsed();
            assert_eq!(r.status, 200, "{}", r.body);
            // An export waits up to 3 s: a request that waited on one
            // would take that long.
            assert!(took < Duration::from_millis(2500), "{endpoint}: {took:?}");
        }
        eventually(
            "the failed export is logged",
            Duration::from_secs(15),
            || {
                gw.log()
                    .contains("traces: the OTLP collector did not take a batch")
            },
        );
        let started = Instant::now();
        assert!(gw.stop().success());
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{endpoint}: stopping took {:?}",
            started.elapsed()
        );
        let log = gw.log();
        assert_eq!(
            log.matches("did not take a batch").count(),
            1,
            "once a minute at most:\n{log}"
        );
    }
}
