//! What the request log line costs the request that writes it: the
//! `switchyard::request` line of one whole answer, through the gateway's
//! own log layer (`observe::request_log::layer`), as text and as JSON:
//! formatting only (to a sink), written to a file by the thread that logs,
//! and handed to a writer thread that writes in batches (what `main`
//! does); and filtered out (`SWITCHYARD_LOG=warn`). For each: the calling
//! thread's time per line, and the CPU time per line of every thread
//! (the writer's included).
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

/// Where one way of logging writes.
#[derive(Clone, Copy)]
enum To {
    /// Formatting only.
    Sink,
    /// A file, written by the thread that logs.
    File,
    /// A file, written by a thread of its own in batches (as `main` does).
    Behind,
}

/// The subscriber of one way of logging, and the guard of its writer
/// thread.
fn subscriber(
    json: bool,
    spec: &str,
    to: To,
    dir: &Path,
) -> (
    Box<dyn tracing::Subscriber + Send + Sync>,
    Option<switchyard::observe::request_log::writer::Guard>,
) {
    let registry = tracing_subscriber::registry();
    let file = || std::fs::File::create(dir.join(format!("log-{json}-{}", spec.len()))).unwrap();
    match to {
        To::Sink => (
            Box::new(registry.with(layer(json, spec, std::io::sink, false))),
            None,
        ),
        To::File => (
            Box::new(registry.with(layer(json, spec, std::sync::Mutex::new(file()), false))),
            None,
        ),
        To::Behind => {
            let (writer, guard) = switchyard::observe::request_log::writer::behind(file()).unwrap();
            (
                Box::new(registry.with(layer(json, spec, writer, false))),
                Some(guard),
            )
        }
    }
}

/// The process's CPU time (every thread's, user and system).
fn cpu() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; RUSAGE_SELF is valid.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let t = |tv: libc::timeval| Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1000);
    t(usage.ru_utime) + t(usage.ru_stime)
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
        ("off (SWITCHYARD_LOG=warn)", false, "warn", To::Sink),
        ("text, formatting only", false, "info", To::Sink),
        ("JSON, formatting only", true, "info", To::Sink),
        (
            "text, written to a file by the caller",
            false,
            "info",
            To::File,
        ),
        (
            "JSON, written to a file by the caller",
            true,
            "info",
            To::File,
        ),
        (
            "text, written to a file behind (main's)",
            false,
            "info",
            To::Behind,
        ),
        (
            "JSON, written to a file behind (main's)",
            true,
            "info",
            To::Behind,
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut c = Criterion::default().configure_from_args();
    let mut figures = Vec::new();
    for (name, json, spec, to) in ways {
        let (subscriber, guard) = subscriber(json, spec, to, dir.path());
        tracing::subscriber::with_default(subscriber, || {
            c.bench_function(&format!("request line, {name}"), |b| {
                b.iter(|| log.finished(black_box(&e)))
            });
            let before = cpu();
            let (p50, p99) = time(&log, &e);
            let lines = 400_000;
            figures.push((name, p50, p99, before, lines));
        });
        // The writer thread's work, done once its queue is written.
        drop(guard);
        if let Some(f) = figures.last_mut() {
            f.3 = cpu().saturating_sub(f.3);
        }
    }
    c.final_summary();
    println!(
        "\n| request log line | caller's time, p50 | p99 | CPU per line, every thread |\n| --- | ---: | ---: | ---: |"
    );
    for (name, p50, p99, cpu, lines) in figures {
        println!(
            "| {name} | {:.2} µs | {:.2} µs | {:.2} µs |",
            p50 / 1000.0,
            p99 / 1000.0,
            cpu.as_secs_f64() * 1e6 / lines as f64
        );
    }
}
