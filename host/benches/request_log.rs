//! What the request log line costs the request that writes it: the
//! `switchyard::request` line of one whole answer, through the gateway's
//! own log layer (`observe::request_log::layer`), as text and as JSON,
//! written to `/dev/null` (the write system call included) and to a sink
//! (formatting only); and filtered out (`SWITCHYARD_LOG=warn`).
//!
//! `cargo bench -p switchyard --bench request_log`. Besides criterion's
//! report it prints the figures `docs/performance.md` records.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::Criterion;
use switchyard::config::Config;
use switchyard::observe::Finished;
use switchyard::observe::request_log::{RequestLog, layer};
use switchyard_store::SpendRecord;
use tracing_subscriber::layer::SubscriberExt;

fn record() -> SpendRecord {
    SpendRecord {
        request_id: "6f1c2a9e-8d4b-4e61-9a57-3b0f2d7c5e11".into(),
        key_alias: Some("support-bot".into()),
        team_id: Some("t-support".into()),
        model_group: Some("gpt-4o".into()),
        deployment: Some("azure-eastus-gpt-4o".into()),
        provider: Some("azure".into()),
        status: 200,
        attempts: 1,
        input_tokens: 1234,
        output_tokens: 321,
        cost: Some(0.006_295),
        overhead_ms: 0.412,
        latency_ms: 812.345,
        ..SpendRecord::default()
    }
}

/// The subscriber of one way of logging.
fn subscriber(json: bool, spec: &str, null: bool) -> impl tracing::Subscriber + Send + Sync {
    let registry = tracing_subscriber::registry();
    if null {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .unwrap();
        registry.with(layer(json, spec, std::sync::Mutex::new(file), false))
    } else {
        registry.with(layer(json, spec, std::io::sink, false))
    }
}

/// Median and 99th percentile of one line, in ns, over batches of 1000.
fn time(log: &RequestLog, e: &Finished<'_>) -> (f64, f64) {
    let mut per_line: Vec<f64> = (0..400)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..1000 {
                log.finished(black_box(e));
            }
            started.elapsed().as_nanos() as f64 / 1000.0
        })
        .collect();
    per_line.sort_by(f64::total_cmp);
    (per_line[200], per_line[396])
}

fn main() {
    let config = Config::parse("", Path::new(".")).unwrap();
    let log = RequestLog::new(&config);
    let record = record();
    let e = Finished {
        record: &record,
        streamed: false,
        ttft: None,
        upstream: Duration::from_millis(811),
        cache: Some("miss"),
        route_reason: None,
        tier: None,
        error: None,
        was_active: true,
    };
    let ways = [
        ("off (SWITCHYARD_LOG=warn)", false, "warn", true),
        ("text, to a sink", false, "info", false),
        ("JSON, to a sink", true, "info", false),
        ("text, to /dev/null", false, "info", true),
        ("JSON, to /dev/null", true, "info", true),
    ];
    let mut c = Criterion::default().configure_from_args();
    let mut figures = Vec::new();
    for (name, json, spec, null) in ways {
        tracing::subscriber::with_default(subscriber(json, spec, null), || {
            c.bench_function(&format!("request line, {name}"), |b| {
                b.iter(|| log.finished(black_box(&e)))
            });
            figures.push((name, time(&log, &e)));
        });
    }
    c.final_summary();
    println!("\n| request log line | p50 | p99 |\n| --- | ---: | ---: |");
    for (name, (p50, p99)) in figures {
        println!(
            "| {name} | {:.2} µs | {:.2} µs |",
            p50 / 1000.0,
            p99 / 1000.0
        );
    }
}
