//! What metrics cost: one request's events (started, one attempt, three
//! plugin calls, finished, LiteLLM's names on) once every series exists,
//! and one scrape of `/metrics` with 100 deployments and 50 plugins'
//! series. Metrics are always on, so there is no "off" run to compare
//! against: these are the whole cost.
//!
//! `cargo bench -p switchyard --bench metrics`. Besides criterion's report
//! it prints the figures `docs/performance.md` records.
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
use switchyard::observe::metrics::Metrics;
use switchyard::observe::metrics::scrape::{DeploymentState, PluginInstances, Scraped};
use switchyard::observe::{Attempted, Finished, PluginCall, PluginFailure, Started};
use switchyard_store::SpendRecord;

const DEPLOYMENTS: usize = 100;
const PLUGINS: usize = 50;

fn config() -> Config {
    let mut yaml = String::from("model_list:\n");
    for i in 0..DEPLOYMENTS {
        yaml.push_str(&format!(
            "  - model_name: group-{}\n    litellm_params: {{model: openai/m{i}, api_base: 'http://127.0.0.1:1'}}\n    model_info: {{id: d{i}}}\n",
            i / 2
        ));
    }
    yaml.push_str("litellm_settings:\n  callbacks: [prometheus]\n");
    Config::parse(&yaml, Path::new(".")).unwrap()
}

fn records() -> Vec<SpendRecord> {
    (0..DEPLOYMENTS)
        .map(|i| SpendRecord {
            request_id: format!("req-{i}"),
            model_group: Some(format!("group-{}", i / 2)),
            deployment: Some(format!("d{i}")),
            provider: Some("openai".into()),
            status: if i % 10 == 0 { 429 } else { 200 },
            input_tokens: 11,
            output_tokens: 5,
            cost: Some(0.000_123),
            latency_ms: 120.0,
            overhead_ms: 0.4,
            key_hash: Some("0123456789abcdef".into()),
            key_alias: Some(format!("key-{}", i % 7)),
            team_id: Some(format!("team-{}", i % 5)),
            ..SpendRecord::default()
        })
        .collect()
}

struct World {
    metrics: Metrics,
    records: Vec<SpendRecord>,
    plugins: Vec<String>,
}

impl World {
    fn new() -> World {
        let w = World {
            metrics: Metrics::new(&config()),
            records: records(),
            plugins: (0..PLUGINS).map(|i| format!("plugin-{i}")).collect(),
        };
        // Every series made once, and some errors and reloads to show.
        for i in 0..DEPLOYMENTS * PLUGINS {
            w.request(i);
        }
        for p in &w.plugins {
            w.metrics.plugin_failed(&PluginFailure {
                plugin: p,
                kind: "trap",
                message: "",
            });
            w.metrics.plugin_reloaded(p, true);
        }
        w
    }

    fn request(&self, i: usize) {
        let m = &self.metrics;
        let r = &self.records[i % self.records.len()];
        let group = r.model_group.as_deref().unwrap_or("");
        m.started(&Started {
            request_id: &r.request_id,
            model_group: group,
            key_alias: r.key_alias.as_deref(),
            team_id: r.team_id.as_deref(),
            user_id: None,
            end_user: None,
        });
        m.attempted(&Attempted {
            model_group: group,
            deployment: r.deployment.as_deref().unwrap_or(""),
            provider: "openai",
            latency: Duration::from_millis(80),
            failure: None,
            retry: false,
        });
        let plugin = &self.plugins[i % self.plugins.len()];
        for kind in ["sanitizer", "router", "provider"] {
            m.plugin_call(&PluginCall {
                plugin,
                kind,
                duration: Duration::from_micros(15),
                failure: None,
            });
        }
        m.finished(&Finished {
            record: r,
            streamed: false,
            ttft: None,
            upstream: Duration::from_millis(80),
            cache: Some("miss"),
            route_reason: None,
            tier: None,
            error: None,
            was_active: true,
        });
    }

    fn scraped(&self) -> Scraped {
        Scraped {
            states: (0..DEPLOYMENTS)
                .map(|i| (format!("d{i}"), DeploymentState::Healthy))
                .collect(),
            plugins: self
                .plugins
                .iter()
                .map(|p| PluginInstances {
                    name: p.clone(),
                    kind: "router",
                    idle: 4,
                })
                .collect(),
            ..Scraped::default()
        }
    }
}

/// p50 and p99 of `n` individually timed runs of `f`, in nanoseconds.
fn percentiles(n: usize, mut f: impl FnMut(usize)) -> (u128, u128) {
    let mut t: Vec<u128> = (0..n)
        .map(|i| {
            let began = Instant::now();
            f(i);
            began.elapsed().as_nanos()
        })
        .collect();
    t.sort_unstable();
    (t[n / 2], t[n * 99 / 100])
}

fn main() {
    let world = World::new();
    let mut c = Criterion::default().configure_from_args();
    let mut i = 0usize;
    c.bench_function("metrics: one request's events", |b| {
        b.iter(|| {
            i += 1;
            world.request(black_box(i));
        })
    });
    let scraped = world.scraped();
    c.bench_function("metrics: scrape, 100 deployments, 50 plugins", |b| {
        b.iter(|| black_box(world.metrics.render(scraped.clone()).unwrap()))
    });
    c.final_summary();

    let (p50, p99) = percentiles(200_000, |i| world.request(i));
    println!("one request's metric events: p50 {p50} ns, p99 {p99} ns");
    let bytes = world.metrics.render(scraped.clone()).unwrap().len();
    let (p50, p99) = percentiles(500, |_| {
        black_box(world.metrics.render(scraped.clone()).unwrap());
    });
    println!(
        "a scrape ({DEPLOYMENTS} deployments, {PLUGINS} plugins, {bytes} bytes): p50 {:.2} ms, p99 {:.2} ms",
        p50 as f64 / 1e6,
        p99 as f64 / 1e6
    );
}
