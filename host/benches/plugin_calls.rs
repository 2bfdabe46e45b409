//! Plugin call cost: a router call with ten candidates and a sanitiser call
//! on a 2 KB prompt, with reused instances (the default) and with a fresh
//! instance per call, so the choice is made by numbers; and the gateway's
//! whole routing decision (live state of ten deployments read, the router
//! plugin called, its answer checked and mapped) for each LiteLLM strategy;
//! and the same router and sanitiser written in Rust, Python and JavaScript;
//! and what a budget reserves, priced by a cost rule or remembered.
//!
//! `cargo bench -p switchyard --bench plugin_calls` (after `make build`, and
//! `make lang-bench-plugins` for the per-language figures).
//! Besides criterion's report it prints p50/p99 from individually timed
//! calls, the figures `docs/performance.md` records.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::path::Path;
use std::time::{Duration, Instant};

use std::hint::black_box;

use criterion::Criterion;
use switchyard::gateway::views;
use switchyard::plugins::bindings::router_api::{Candidate, Health, RouteRequest};
use switchyard::plugins::bindings::sanitizer_api::{SanitizeInput, Stage};
use switchyard::plugins::bindings::types::Caller;
use switchyard::plugins::{Limits, LoadedPlugin, Runtime, RuntimeOptions, Settings};

#[path = "../tests/common/mod.rs"]
mod common;
use common::root;

fn load(
    runtime: &Runtime,
    file: &str,
    config: serde_json::Value,
    reuse: bool,
) -> Option<LoadedPlugin> {
    let mut path = root().join("target/plugins").join(file);
    if !path.exists() {
        path = root().join("target/test-plugins").join(file);
    }
    if !path.exists() {
        eprintln!("skipping {file}: not built (run `make build`)");
        return None;
    }
    let limits = Limits {
        reuse_instances: reuse,
        ..Limits::default()
    };
    match LoadedPlugin::load_file(runtime, &path, move |_| Settings {
        config: config.clone(),
        limits: limits.clone(),
        // The table routers get once per instance: the bench's ten
        // candidates are its first ten.
        deployments: common::table(10),
        ..Settings::default()
    }) {
        Ok(p) => Some(p),
        Err(e) => {
            eprintln!("skipping {file}: {e}");
            None
        }
    }
}

fn caller() -> Caller {
    Caller {
        key_alias: Some("team-key".into()),
        user: Some("u-123".into()),
        team: Some("support".into()),
        tags: vec![],
        tier: Some("vip".into()),
        metadata: vec![],
    }
}

fn route_request() -> RouteRequest {
    let request: switchyard_sdk::openai::ChatRequest = serde_json::from_value(serde_json::json!({
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "How do I reset my password?"}
        ]
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    let request = views::chat_request_view(&request);
    RouteRequest {
        estimated_input_tokens: views::estimate_tokens(&request),
        request,
        caller: caller(),
        candidates: (0..10)
            .map(|i| Candidate {
                deployment: i,
                health: if i == 3 {
                    Health::CoolingDown(5_000)
                } else {
                    Health::Healthy
                },
                in_flight: i,
                latency_avg_ms: Some(200.0 + 10.0 * i as f64),
                ttft_avg_ms: Some(90.0),
                rpm_used: 10 * i as u64,
                tpm_used: 1_000 * i as u64,
            })
            .collect(),
        seed: 7,
        now_ms: 1_700_000_000_000,
    }
}

/// About 2 KB of ordinary support-chat text; `pii` adds an e-mail address and
/// a card number for the redacting path.
fn sanitize_input(pii: bool) -> SanitizeInput {
    let mut text = String::new();
    while text.len() < 2000 {
        text.push_str("My order arrived late and the package was damaged. I would like to know how the refund process works and how long it takes. ");
    }
    if pii {
        text.push_str(" Reach me at maria.silva@example.com, card 4111 1111 1111 1111.");
    }
    let request: switchyard_sdk::openai::ChatRequest = serde_json::from_value(serde_json::json!({
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": text}]
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    SanitizeInput {
        stage: Stage::Request,
        request: views::chat_request_view(&request),
        caller: caller(),
        response: vec![],
        window: None,
        finish_reason: None,
        context_window: None,
        estimated_input_tokens: 0,
    }
}

/// A gateway with ten deployments of `gpt-4o` and `default-router` using
/// `strategy`, its plugins loaded as `switchyard serve` loads them.
fn gateway(
    runtime: &Runtime,
    strategy: &str,
) -> Option<(
    switchyard::gateway::Gateway,
    std::sync::Arc<switchyard::plugins::ActiveSet>,
)> {
    let file = root().join("target/plugins/default-router.wasm");
    if !file.exists() {
        eprintln!("skipping the routing decision: default-router is not built");
        return None;
    }
    let mut yaml = String::from("model_list:\n");
    for i in 0..10 {
        yaml.push_str(&format!(
            "  - model_name: gpt-4o\n    litellm_params: {{model: openai/gpt-4o, api_base: 'http://127.0.0.1:9/v1', weight: {}, rpm: 1000}}\n    model_info: {{id: d{i}, input_cost_per_token: {}, output_cost_per_token: 0.00001}}\n",
            1 + i % 3,
            0.000001 * (1 + i) as f64
        ));
    }
    yaml.push_str(&format!(
        "router_settings: {{routing_strategy: {strategy}}}\n"
    ));
    let config = switchyard::config::Config::parse(&yaml, Path::new(".")).unwrap();
    let registry = std::sync::Arc::new(switchyard::plugins::Registry::new(
        runtime.clone(),
        switchyard::app::plugin_settings(&config),
    ));
    registry.reload(&file);
    registry.reload(&root().join("target/plugins/model-prices.wasm"));
    let set = registry.snapshot();
    set.get("default-router")?;
    let state = std::sync::Arc::new(switchyard::state::State::new(&config));
    let gateway = switchyard::gateway::Gateway {
        config: std::sync::Arc::new(config),
        registry,
        upstream: switchyard::upstream::Upstream::new().unwrap(),
        state,
        cache: None,
        reservations: Default::default(),
    };
    Some((gateway, set))
}

/// p50 and p99 of `n` individually timed calls.
fn percentiles(n: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    for _ in 0..n / 10 {
        f();
    }
    let mut samples: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    samples.sort();
    (samples[n / 2], samples[n * 99 / 100])
}

fn main() {
    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(root().join("target/plugin-cache")),
        max_instances: 64,
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let mut criterion = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let mut summary = Vec::new();

    let route = route_request();
    let routers = [
        (
            "default-router.wasm",
            "default-router",
            serde_json::json!({}),
        ),
        // The floor: a router that only echoes the ids, so the figure is the
        // cost of crossing the boundary with ten candidates.
        ("misbehave.wasm", "echo", serde_json::json!({"mode": "ok"})),
    ];
    for ((file, name, cfg), (label, reuse)) in routers.iter().flat_map(|r| {
        [("reused instance", true), ("fresh instance", false)].map(|l| (r.clone(), l))
    }) {
        if let Some(router) = load(&runtime, file, cfg, reuse) {
            let id = format!("router/{name}/10 candidates/{label}");
            criterion.bench_function(&id, |b| {
                b.iter(|| black_box(router.route(black_box(&route))).is_ok())
            });
            let (p50, p99) = percentiles(20_000, || {
                let _ = black_box(router.route(&route));
            });
            summary.push((id, p50, p99));
        }
    }

    // The same logic in each language: the router and sanitiser templates
    // of `switchyard plugin new` (`make lang-bench-plugins` builds them into
    // target/test-plugins), reused instances.
    let clean = sanitize_input(false);
    for lang in ["rust", "python", "js"] {
        if let Some(router) = load(
            &runtime,
            &format!("bench-router-{lang}.wasm"),
            serde_json::json!({}),
            true,
        ) {
            let id = format!("per language/router template/{lang}/10 candidates");
            criterion.bench_function(&id, |b| {
                b.iter(|| black_box(router.route(black_box(&route))).is_ok())
            });
            let (p50, p99) = percentiles(20_000, || {
                let _ = black_box(router.route(&route));
            });
            summary.push((id, p50, p99));
        }
        if let Some(sanitizer) = load(
            &runtime,
            &format!("bench-sanitizer-{lang}.wasm"),
            serde_json::json!({"deny_words": ["password"]}),
            true,
        ) {
            let id = format!("per language/sanitizer template/{lang}/clean 2 KB");
            criterion.bench_function(&id, |b| {
                b.iter(|| black_box(sanitizer.sanitize(black_box(&clean))).is_ok())
            });
            let (p50, p99) = percentiles(20_000, || {
                let _ = black_box(sanitizer.sanitize(&clean));
            });
            summary.push((id, p50, p99));
        }
    }

    for (file, name) in [
        ("pii-redactor.wasm", "pii-redactor (Rust)"),
        ("prompt-guard.wasm", "prompt-guard (Python)"),
    ] {
        for (label, reuse) in [("reused instance", true), ("fresh instance", false)] {
            let Some(sanitizer) = load(&runtime, file, serde_json::json!({}), reuse) else {
                continue;
            };
            for (input_label, input) in [
                ("clean 2 KB", sanitize_input(false)),
                ("2 KB with PII", sanitize_input(true)),
            ] {
                let id = format!("sanitizer/{name}/{input_label}/{label}");
                criterion.bench_function(&id, |b| {
                    b.iter(|| black_box(sanitizer.sanitize(black_box(&input))).is_ok())
                });
                let n = if reuse { 20_000 } else { 2_000 };
                let (p50, p99) = percentiles(n, || {
                    let _ = black_box(sanitizer.sanitize(&input));
                });
                summary.push((id, p50, p99));
            }
        }
    }

    for strategy in [
        "simple-shuffle",
        "least-busy",
        "latency-based-routing",
        "usage-based-routing-v2",
        "cost-based-routing",
    ] {
        let Some((gateway, set)) = gateway(&runtime, strategy) else {
            continue;
        };
        let group = gateway.config.group("gpt-4o").unwrap();
        let view = route.request.clone();
        let caller = caller();
        let id = format!("routing decision/{strategy}/10 deployments");
        criterion.bench_function(&id, |b| {
            b.iter(|| black_box(gateway.route(&set, group, &view, &caller, 12, true)).is_ok())
        });
        let (p50, p99) = percentiles(20_000, || {
            let _ = black_box(gateway.route(&set, group, &view, &caller, 12, true));
        });
        summary.push((id, p50, p99));
    }

    // What a budget reserves: the dearest outcome on the group's first 8
    // deployments, one `model-prices` call each, or the answer kept from
    // the same question before (gateway/reservation.rs).
    let priced = gateway(&runtime, "simple-shuffle").filter(|(_, set)| {
        let built = set.get("model-prices").is_some();
        if !built {
            eprintln!("skipping the budget reservation: model-prices is not built");
        }
        built
    });
    if let Some((gateway, set)) = priced {
        use switchyard::gateway::reservation::{Question, Reservations};
        let group = gateway.config.group("gpt-4o").unwrap();
        let caller = caller();
        let q = Question {
            group,
            input_tokens: 1200,
            max_tokens: Some(200),
            caller: &caller,
        };
        let rules = &gateway.config.plugins.cost_rules;
        for (label, fresh) in [("priced", true), ("remembered", false)] {
            let id = format!("budget reservation/10 deployments/{label}");
            let kept = Reservations::default();
            let ask = || {
                if fresh {
                    Reservations::default().max_cost(&set, rules, &q)
                } else {
                    kept.max_cost(&set, rules, &q)
                }
            };
            assert!(ask().is_some_and(|usd| usd > 0.0));
            criterion.bench_function(&id, |b| b.iter(|| black_box(ask())));
            let (p50, p99) = percentiles(20_000, || {
                let _ = black_box(ask());
            });
            summary.push((id, p50, p99));
        }
    }

    criterion.final_summary();
    println!("\n{:<70} {:>12} {:>12}", "call", "p50", "p99");
    for (id, p50, p99) in summary {
        println!("{id:<70} {:>12.2?} {:>12.2?}", p50, p99);
    }
}
