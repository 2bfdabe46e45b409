//! Profiling aid: calls a router plugin in a loop (`perf record` this).
//! `cargo run --release --example route_loop -- target/test-plugins/misbehave.wasm 200000`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

use switchyard::plugins::{LoadedPlugin, Runtime, RuntimeOptions, Settings};

#[path = "../tests/common/mod.rs"]
mod common;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let plugin = LoadedPlugin::load_file(&runtime, std::path::Path::new(&args[1]), |_| Settings {
        config: serde_json::json!({"mode": "ok"}),
        limits: Default::default(),
        deployments: common::table(16),
        ..Settings::default()
    })
    .unwrap();
    let n: usize = args[2].parse().unwrap();
    let req = common::route_request(10);
    let t = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(plugin.route(&req).unwrap());
    }
    println!("{:?} per call", t.elapsed() / n as u32);
}
