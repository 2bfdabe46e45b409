//! OpenTelemetry traces: one span per request (`chat gpt-4o`, kind server),
//! a child per attempt on a deployment (kind client) and one per plugin
//! call, with the GenAI semantic conventions' attributes
//! (`gen_ai.operation.name`, `gen_ai.request.model`,
//! `gen_ai.response.model`, `gen_ai.provider.name`,
//! `gen_ai.usage.input_tokens`, `gen_ai.usage.output_tokens`) and the
//! gateway's own under `switchyard.*`. A client's W3C `traceparent` is
//! continued.
//!
//! Request and attempt spans are `tracing` spans of target [`TARGET`],
//! which only the OpenTelemetry layer takes (the log's filter turns them
//! off): with no exporter installed ([`export`]) no layer wants them, so a
//! span costs one interest check, and every function here returns at
//! once. Plugin calls already report their duration ([`PluginCall`]); their
//! spans are built from that report with its exact times.
//!
//! A stream's request span stays open until the stream ends: the body
//! carries it ([`carry`]), and the request's ledger, dropped inside it,
//! reports the outcome ([`finished`]) while it is the current span.

pub mod export;

use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::SystemTime;

use axum::http::HeaderMap;
use futures::Stream;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{KeyValue, trace::Span as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracer;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::events::{Finished, PluginCall};
use crate::config::Deployment;
use crate::gateway::{Served, ServedBody, SseBody};
use crate::plugins::bindings::provider_api::Operation;
use crate::plugins::bindings::types::Usage;

/// The target of the spans that are exported (and never logged).
pub const TARGET: &str = "switchyard::otel";

/// The names of the two kinds of `tracing` span.
const REQUEST: &str = "request";
const ATTEMPT: &str = "attempt";

/// The tracer plugin-call spans are built with; set once export is on.
static TRACER: OnceLock<SdkTracer> = OnceLock::new();

/// Turns the span functions on (done by [`export::start`]).
fn install(tracer: SdkTracer) {
    let _ = TRACER.set(tracer);
}

/// Whether spans are exported.
pub fn on() -> bool {
    TRACER.get().is_some()
}

/// Whether `span` is one of ours of the kind `name`.
fn is(span: &Span, name: &str) -> bool {
    span.metadata()
        .is_some_and(|m| m.target() == TARGET && m.name() == name)
}

/// The request's span, when it is the current one.
fn current_request() -> Option<Span> {
    let span = Span::current();
    is(&span, REQUEST).then_some(span)
}

/// `chat`, `embeddings`: the GenAI operation name.
pub fn operation_name(operation: &Operation) -> &'static str {
    match operation {
        Operation::Chat => "chat",
        Operation::Embeddings => "embeddings",
        Operation::Other(_) => "other",
    }
}

/// The span of one request to `operation` (`chat`, `embeddings`), child of
/// the client's `traceparent` when it sent a valid one. A disabled span
/// when export is off.
pub fn request_span(operation: &'static str, headers: &HeaderMap) -> Span {
    if !on() {
        return Span::none();
    }
    let span = tracing::info_span!(
        target: TARGET,
        REQUEST,
        otel.name = operation,
        otel.kind = "server",
    );
    let parent = TraceContextPropagator::new().extract(&Headers(headers));
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
    span.set_attribute("gen_ai.operation.name", operation);
    span.set_attribute("http.request.method", "POST");
    if let Some(id) = headers.get("x-request-id").and_then(|v| v.to_str().ok()) {
        span.set_attribute("http.request.header.x-request-id", id.to_string());
    }
    span
}

/// The model the client asked for: names the current request's span
/// (`chat gpt-4o`, as the conventions name it).
pub fn requested(operation: &'static str, model: &str) {
    if !on() {
        return;
    }
    if let Some(span) = current_request() {
        span.record("otel.name", format!("{operation} {model}").as_str());
        span.set_attribute("gen_ai.request.model", model.to_string());
    }
}

/// The span of one attempt on `d`. A disabled span when export is off.
pub fn attempt_span(operation: &Operation, d: &Deployment) -> Span {
    if !on() {
        return Span::none();
    }
    let operation = operation_name(operation);
    let name = format!("{operation} {}", d.model);
    let span = tracing::info_span!(
        target: TARGET,
        ATTEMPT,
        otel.name = name.as_str(),
        otel.kind = "client",
    );
    span.set_attribute("gen_ai.operation.name", operation);
    span.set_attribute("gen_ai.request.model", d.model.clone());
    span.set_attribute("gen_ai.provider.name", d.provider.clone());
    span.set_attribute("switchyard.deployment", d.id.clone());
    span.set_attribute("switchyard.model_group", d.group.clone());
    span
}

/// What a whole answer's usage said, on its attempt's span.
pub fn usage(span: &Span, usage: Option<&Usage>) {
    if span.is_none() {
        return;
    }
    if let Some(u) = usage {
        span.set_attribute("gen_ai.usage.input_tokens", u.input_tokens as i64);
        span.set_attribute("gen_ai.usage.output_tokens", u.output_tokens as i64);
    }
}

/// An attempt ended: its failure class (`None`: it answered, for a stream
/// its first chunk came). An answer names the request's response model
/// and provider too (the current span, once the attempt is left).
pub fn attempt_ended(span: &Span, d: &Deployment, failure: Option<&'static str>) {
    if span.is_none() {
        return;
    }
    match failure {
        Some(class) => {
            span.set_attribute("error.type", class);
            span.set_status(Status::error(class));
        }
        None => {
            span.set_attribute("gen_ai.response.model", d.model.clone());
            if let Some(request) = current_request() {
                request.set_attribute("gen_ai.response.model", d.model.clone());
                request.set_attribute("gen_ai.provider.name", d.provider.clone());
            }
        }
    }
}

/// A served stream carries the current request's span, so that the span
/// ends with the stream and the request's outcome is reported inside it.
pub fn carry(mut served: Served) -> Served {
    if !on() {
        return served;
    }
    let Some(span) = current_request() else {
        return served;
    };
    served.body = match served.body {
        ServedBody::Sse(body) => ServedBody::Sse(Box::pin(Carried {
            body: Some(body),
            span,
        })),
        whole => whole,
    };
    served
}

/// A stream polled, and dropped, inside a span.
struct Carried {
    body: Option<SseBody>,
    span: Span,
}

impl Stream for Carried {
    type Item = <SseBody as Stream>::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let _inside = this.span.enter();
        match &mut this.body {
            Some(body) => body.as_mut().poll_next(cx),
            None => Poll::Ready(None),
        }
    }
}

impl Drop for Carried {
    fn drop(&mut self) {
        let _inside = self.span.enter();
        self.body = None;
    }
}

/// A request ended: its outcome on its span (the current one; a request
/// whose last reference was let go elsewhere keeps the attributes it had).
pub fn finished(e: &Finished<'_>) {
    if !on() {
        return;
    }
    let Some(span) = current_request() else {
        return;
    };
    let r = e.record;
    span.set_attribute("switchyard.request_id", r.request_id.clone());
    span.set_attribute("http.response.status_code", i64::from(r.status));
    span.set_attribute("gen_ai.usage.input_tokens", r.input_tokens as i64);
    span.set_attribute("gen_ai.usage.output_tokens", r.output_tokens as i64);
    span.set_attribute("switchyard.attempts", i64::from(r.attempts));
    span.set_attribute("switchyard.fallbacks", i64::from(r.fallbacks));
    span.set_attribute("switchyard.overhead_ms", r.overhead_ms);
    span.set_attribute("switchyard.streamed", e.streamed);
    let texts = [
        ("switchyard.model_group", r.model_group.as_deref()),
        ("switchyard.deployment", r.deployment.as_deref()),
        ("switchyard.key_alias", r.key_alias.as_deref()),
        ("switchyard.team_id", r.team_id.as_deref()),
        ("switchyard.cache", e.cache),
        ("switchyard.tier", e.tier),
    ];
    for (key, value) in texts {
        if let Some(v) = value {
            span.set_attribute(key, v.to_string());
        }
    }
    if let Some(cost) = r.cost {
        span.set_attribute("switchyard.cost_usd", cost);
    }
    if let Some(ttft) = e.ttft {
        span.set_attribute("switchyard.ttft_ms", ttft.as_secs_f64() * 1000.0);
    }
    if let Some(kind) = &r.error_kind {
        span.set_attribute("error.type", kind.clone());
        // As HTTP servers do: a client's error (4xx) is no server error.
        if r.status >= 500 || r.status < 400 {
            span.set_status(Status::error(kind.clone()));
        }
    }
}

/// A plugin call ended: a span from its start to its end under the
/// current request or attempt (calls outside a request have none).
pub fn plugin_call(e: &PluginCall<'_>) {
    let Some(tracer) = TRACER.get() else {
        return;
    };
    let parent = Span::current();
    if !is(&parent, REQUEST) && !is(&parent, ATTEMPT) {
        return;
    }
    let end = SystemTime::now();
    let start = end.checked_sub(e.duration).unwrap_or(end);
    let mut attributes = vec![
        KeyValue::new("switchyard.plugin.name", e.plugin.to_string()),
        KeyValue::new("switchyard.plugin.kind", e.kind),
    ];
    if let Some(failure) = e.failure {
        attributes.push(KeyValue::new("error.type", failure));
    }
    let mut span = tracer
        .span_builder(format!("{} {}", e.kind, e.plugin))
        .with_kind(SpanKind::Internal)
        .with_start_time(start)
        .with_attributes(attributes)
        .start_with_context(tracer, &parent.context());
    if let Some(failure) = e.failure {
        span.set_status(Status::error(failure));
    }
    span.end_with_timestamp(end);
}

/// Request headers as the propagator reads them.
struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}
