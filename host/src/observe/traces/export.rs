//! The OTLP pipeline: spans go to a bounded queue and a thread of their
//! own sends them in batches over HTTP/protobuf (`OTEL_EXPORTER_OTLP_*`
//! and `OTEL_BSP_*` variables apply, as in every OpenTelemetry SDK). A
//! full queue drops spans; a slow or unreachable collector holds up that
//! thread only, never a request. Failed exports are logged at most once a
//! minute.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchSpanProcessor, SdkTracer, SdkTracerProvider, SpanData, SpanExporter,
};
use tracing::Subscriber;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::registry::LookupSpan;

use super::TARGET;

/// How long one export may take unless `OTEL_EXPORTER_OTLP_TIMEOUT` says:
/// short, so that a gateway stopping with a dead collector stops soon.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(3);

/// How often failed exports are logged.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// Why export could not start.
#[derive(Debug, thiserror::Error)]
#[error("OpenTelemetry export: {0}")]
pub struct ExportError(#[from] opentelemetry_otlp::ExporterBuildError);

/// Whether traces are wanted: the config's `otel` callback, or
/// `OTEL_EXPORTER_OTLP_ENDPOINT` set. (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
/// only says where they go.)
pub fn wanted(otel_callback: bool) -> bool {
    otel_callback
        || std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").is_ok_and(|v| !v.trim().is_empty())
}

/// A running export pipeline.
pub struct Export {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
}

/// Starts the pipeline and turns the span functions on. Call it outside
/// any async runtime (the HTTP client is a blocking one, on the export
/// thread).
pub fn start() -> Result<Export, ExportError> {
    let mut builder = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary);
    let env_timeout = [
        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
        "OTEL_EXPORTER_OTLP_TIMEOUT",
    ]
    .iter()
    .any(|v| std::env::var_os(v).is_some());
    if !env_timeout {
        builder = builder.with_timeout(EXPORT_TIMEOUT);
    }
    let exporter = Logged {
        inner: builder.build()?,
        failures: Mutex::new(Failures::default()),
    };
    let mut resource = Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name("switchyard");
    }
    let resource = resource
        .with_attribute(opentelemetry::KeyValue::new(
            "service.version",
            env!("CARGO_PKG_VERSION"),
        ))
        .build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(BatchSpanProcessor::builder(exporter).build())
        .with_resource(resource)
        .build();
    let tracer = provider.tracer("switchyard");
    super::install(tracer.clone());
    Ok(Export { provider, tracer })
}

impl Export {
    /// The layer that turns the gateway's spans (and only those) into
    /// OpenTelemetry spans.
    pub fn layer<S>(&self) -> impl Layer<S> + use<S>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        tracing_opentelemetry::layer()
            .with_tracer(self.tracer.clone())
            .with_location(false)
            .with_threads(false)
            .with_level(false)
            .with_target(false)
            .with_tracked_inactivity(false)
            .with_context_activation(false)
            .with_filter(Targets::new().with_target(TARGET, tracing::Level::INFO))
    }

    /// Sends what is queued and stops (at the end of the process).
    pub fn shutdown(self) {
        if let Err(e) = self.provider.shutdown() {
            tracing::warn!(error = %e, "traces: the last spans were not all sent");
        }
    }
}

/// The OTLP exporter, with its failures logged.
#[derive(Debug)]
struct Logged {
    inner: opentelemetry_otlp::SpanExporter,
    failures: Mutex<Failures>,
}

#[derive(Debug, Default)]
struct Failures {
    /// Spans lost since the last warning.
    lost: u64,
    warned: Option<Instant>,
}

impl Logged {
    fn failed(&self, spans: usize, error: &dyn std::fmt::Display) {
        let mut f = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f.lost += spans as u64;
        if f.warned.is_some_and(|at| at.elapsed() < WARN_EVERY) {
            return;
        }
        tracing::warn!(
            lost_spans = f.lost,
            error = %error,
            "traces: the OTLP collector did not take a batch; spans are dropped until it does"
        );
        f.lost = 0;
        f.warned = Some(Instant::now());
    }
}

impl SpanExporter for Logged {
    fn export(&self, batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
        let spans = batch.len();
        let sent = self.inner.export(batch);
        async move {
            let result = sent.await;
            if let Err(e) = &result {
                self.failed(spans, e);
            }
            result
        }
    }

    fn shutdown_with_timeout(&mut self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&mut self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}
