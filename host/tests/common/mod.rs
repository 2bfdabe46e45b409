//! Helpers shared by the runtime's integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use switchyard::plugins::bindings::router_api::{Candidate, Deployment, Health, RouteRequest};
use switchyard::plugins::bindings::types::{
    Caller, ChatRequest, ContentPart, Message, Prices, Role,
};
use switchyard::plugins::{Limits, LoadedPlugin, RoutingTable, Runtime, RuntimeOptions, Settings};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A built plugin: `target/plugins/NAME.wasm` or `target/test-plugins/NAME.wasm`.
pub fn wasm(name: &str) -> PathBuf {
    for dir in ["target/plugins", "target/test-plugins"] {
        let p = root().join(dir).join(format!("{name}.wasm"));
        if p.exists() {
            return p;
        }
    }
    panic!("{name}.wasm is not built: run `make build` first");
}

/// A runtime whose compile cache is shared by every test run.
pub fn runtime() -> Runtime {
    Runtime::new(RuntimeOptions {
        cache_dir: Some(root().join("target/plugin-cache")),
        max_instances: 256,
    })
    .expect("runtime")
}

/// Loads `name` with `config` and `limits`.
pub fn load(
    runtime: &Runtime,
    name: &str,
    config: serde_json::Value,
    limits: Limits,
) -> LoadedPlugin {
    try_load(runtime, name, config, limits).unwrap_or_else(|e| panic!("loading {name}: {e}"))
}

pub fn try_load(
    runtime: &Runtime,
    name: &str,
    config: serde_json::Value,
    limits: Limits,
) -> Result<LoadedPlugin, switchyard::plugins::LoadError> {
    LoadedPlugin::load_file(runtime, &wasm(name), move |_| Settings {
        config: config.clone(),
        limits: limits.clone(),
        deployments: table(16),
        ..Settings::default()
    })
}

/// A deployment table of `n` deployments `d0..dn` in group `gpt-4o`, as the
/// gateway sends routers once per instance.
pub fn table(n: usize) -> RoutingTable {
    (0..n)
        .map(|i| Deployment {
            id: format!("d{i}"),
            model_group: "gpt-4o".into(),
            provider: "openai".into(),
            model: "gpt-4o".into(),
            rpm_limit: Some(1000),
            tpm_limit: None,
            prices: Prices {
                input_per_token: Some(1e-6),
                output_per_token: Some(2e-6),
                cache_read_per_token: None,
                cache_write_per_token: None,
                reasoning_per_token: None,
                per_request: None,
                extra: vec![],
            },
            context_window: Some(128_000),
            tags: vec![],
            weight: Some(1.0 + i as f64),
            order: None,
            extra: vec![],
        })
        .collect()
}

/// A route request with `n` healthy candidates `d0..dn` (positions `0..n`
/// of [`table`]).
pub fn route_request(n: usize) -> RouteRequest {
    RouteRequest {
        request: ChatRequest {
            model: "gpt-4o".into(),
            messages: vec![Message {
                role: Role::User,
                content: vec![ContentPart::Text("hello".into())],
                name: None,
                extra: vec![],
            }],
            stream: false,
            max_tokens: None,
            tags: vec![],
            metadata: vec![],
            extra: vec![],
        },
        caller: Caller {
            key_alias: None,
            user: None,
            team: None,
            tags: vec![],
            tier: None,
            metadata: vec![],
        },
        candidates: (0..n)
            .map(|i| Candidate {
                deployment: i as u32,
                health: Health::Healthy,
                in_flight: i as u32,
                latency_avg_ms: Some(100.0 + i as f64),
                ttft_avg_ms: None,
                rpm_used: 0,
                tpm_used: 0,
            })
            .collect(),
        estimated_input_tokens: 5,
        seed: 42,
        now_ms: 0,
    }
}

/// Appends a custom section to a component, giving a file with the same
/// behaviour and a different SHA-256.
pub fn with_custom_section(bytes: &[u8], payload: &str) -> Vec<u8> {
    let name = b"switchyard-test";
    let mut body = Vec::new();
    leb128(&mut body, name.len() as u64);
    body.extend_from_slice(name);
    body.extend_from_slice(payload.as_bytes());
    let mut out = bytes.to_vec();
    out.push(0);
    leb128(&mut out, body.len() as u64);
    out.extend_from_slice(&body);
    out
}

fn leb128(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}
