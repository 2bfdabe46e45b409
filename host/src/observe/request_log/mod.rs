//! One structured line per request, at info level under the target
//! [`TARGET`] (so `SWITCHYARD_LOG=info,switchyard::request=off` silences
//! it): who asked (key alias, team), what served it (model group,
//! deployment, attempts, fallbacks, cache), what it cost (tokens, USD) and
//! took (overhead, upstream, total), and how it ended. With JSON logs
//! (`litellm_settings.json_logs`, `SWITCHYARD_LOG_FORMAT=json`) each field
//! is a key of the line's object.
//!
//! Prompts and answers are never in it: only the ids, names and numbers of
//! the spend record, and the client's error message. Never a key: the
//! caller is its alias (or the first characters of its hash).

pub mod writer;

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use super::events::Finished;

/// The log line's target.
pub const TARGET: &str = "switchyard::request";

/// The request log; it needs nothing from the config (the log's format
/// is chosen when the subscriber is set up, in `main`).
pub struct RequestLog {}

impl RequestLog {
    pub fn new(_config: &crate::config::Config) -> RequestLog {
        RequestLog {}
    }

    /// The line of a request that ended.
    pub fn finished(&self, e: &Finished<'_>) {
        let r = e.record;
        tracing::info!(
            target: TARGET,
            request_id = r.request_id.as_str(),
            key_alias = r.key_alias.as_deref(),
            team_id = r.team_id.as_deref(),
            model_group = r.model_group.as_deref(),
            deployment = r.deployment.as_deref(),
            provider = r.provider.as_deref(),
            status = r.status,
            error_kind = r.error_kind.as_deref(),
            attempts = r.attempts,
            fallbacks = r.fallbacks,
            input_tokens = r.input_tokens,
            output_tokens = r.output_tokens,
            cost_usd = r.cost.map(usd),
            cache = e.cache,
            streamed = e.streamed,
            ttft_ms = e.ttft.map(|d| ms(d.as_secs_f64() * 1000.0)),
            overhead_ms = ms(r.overhead_ms),
            upstream_ms = ms(e.upstream.as_secs_f64() * 1000.0),
            latency_ms = ms(r.latency_ms),
            tier = e.tier,
            error = e.error,
            "request"
        );
    }
}

/// Milliseconds to the microsecond: enough, and short lines.
fn ms(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// Dollars to a ten-billionth (a thousandth of a cent per million
/// tokens), so that `4.65e-6` is not written `4.6499999999999995e-6`.
fn usd(v: f64) -> f64 {
    (v * 1e10).round() / 1e10
}

/// The log layer: every line as text or JSON (one object per line, the
/// event's fields at its top level), filtered by `spec` (`SWITCHYARD_LOG`'s
/// syntax; `info` when it does not parse). The spans kept for traces never
/// reach it; sqlx's per-statement lines only at error unless `spec` names
/// sqlx.
pub fn layer<W>(
    json: bool,
    spec: &str,
    writer: W,
    ansi: bool,
) -> Box<dyn Layer<Registry> + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let mut filter = EnvFilter::try_new(spec).unwrap_or_else(|_| EnvFilter::new("info"));
    // sqlx logs every slow batch insert whole (thousands of bind parameters)
    // at warn; the spend writer reports its own failures.
    let mut quiet = vec![format!("{}=off", super::traces::TARGET)];
    if !spec.contains("sqlx") {
        quiet.push("sqlx::query=error".into());
    }
    for directive in quiet {
        if let Ok(d) = directive.parse() {
            filter = filter.add_directive(d);
        }
    }
    let layer = tracing_subscriber::fmt::layer().with_writer(writer);
    if json {
        layer
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_filter(filter)
            .boxed()
    } else {
        layer.with_ansi(ansi).with_filter(filter).boxed()
    }
}
