//! Every bound of the plugin runtime, proven with a plugin that misbehaves on
//! request: each failure fails one call with an error naming the plugin and
//! the cause, and the next call is served.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;
use switchyard::plugins::{CallError, Limits, LoadError, LoadedPlugin, OnError, Settings};

fn misbehave(mode: &str, limits: Limits) -> LoadedPlugin {
    load(&runtime(), "misbehave", json!({"mode": mode}), limits)
}

#[test]
fn infinite_loop_times_out_and_the_next_call_is_served() {
    let limits = Limits {
        timeout_ms: 30,
        ..Limits::default()
    };
    let plugin = misbehave("loop", limits);
    let started = Instant::now();
    let err = plugin.route(&route_request(3)).unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(err, CallError::Timeout { timeout_ms: 30, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("misbehave"), "{err}");
    assert!(
        took < Duration::from_secs(2),
        "the deadline fired late: {took:?}"
    );
    // Same plugin, next call: a fresh instance, which times out again rather
    // than hanging or reusing the interrupted one.
    let err = plugin.route(&route_request(3)).unwrap_err();
    assert!(matches!(err, CallError::Timeout { .. }), "{err}");
    // Another plugin on the same runtime is unaffected.
    let ok = misbehave("ok", Limits::default());
    assert_eq!(ok.route(&route_request(2)).unwrap().order, vec![0, 1]);
}

#[test]
fn memory_bomb_hits_the_cap() {
    let plugin = misbehave(
        "bomb",
        Limits {
            memory_mib: 16,
            timeout_ms: 5_000,
            ..Limits::default()
        },
    );
    let err = plugin.route(&route_request(1)).unwrap_err();
    assert!(
        matches!(err, CallError::MemoryLimit { limit_mib: 16, .. }),
        "expected a memory limit error, got: {err}"
    );
}

#[test]
fn trap_fails_the_call_and_the_broken_instance_is_not_reused() {
    let plugin = misbehave("trap", Limits::default());
    let err = plugin.route(&route_request(1)).unwrap_err();
    assert!(matches!(err, CallError::Trap { .. }), "{err}");
    assert!(
        err.to_string().starts_with("plugin misbehave: trapped"),
        "{err}"
    );
    // The instance warmed at load time was used and then dropped.
    let switchyard::plugins::loaded::Instances::Router(pool) = &plugin.instances else {
        panic!("misbehave is a router");
    };
    assert_eq!(pool.idle_count(), 0);
}

/// Streams hold an instance each: 70 at once leave 64 idle (the default
/// bound) when they end, and the 6 beyond it are dropped.
#[test]
fn seventy_concurrent_sessions_leave_the_default_64_idle_instances() {
    let plugin = misbehave("ok", Limits::default());
    let switchyard::plugins::loaded::Instances::Router(pool) = &plugin.instances else {
        panic!("misbehave is a router");
    };
    let held: Vec<_> = (0..70).map(|_| pool.checkout().unwrap()).collect();
    assert_eq!(pool.idle_count(), 0);
    for slot in held {
        pool.checkin(slot);
    }
    assert_eq!(pool.idle_count(), 64);
    assert_eq!(Limits::default().max_idle_instances, 64);
}

#[test]
fn a_plugin_that_sleeps_traps_clearly_and_the_host_goes_on() {
    let check = || {
        let plugin = misbehave("sleep", Limits::default());
        let err = plugin.route(&route_request(1)).unwrap_err();
        assert!(matches!(err, CallError::Trap { .. }), "{err}");
        assert!(err.to_string().contains("plugins cannot wait"), "{err}");
        // Sleeping no time at all waits for nothing.
        let plugin = misbehave("sleep_zero", Limits::default());
        assert_eq!(plugin.route(&route_request(2)).unwrap().order, [0, 1]);
        // Sleeping in init fails the load, with the reason.
        let err = try_load(
            &runtime(),
            "misbehave",
            json!({"mode": "sleep_in_init"}),
            Limits::default(),
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("plugins cannot wait"), "{err}");
    };
    // Outside any tokio runtime (start-up, hot reload, `config check`) and
    // on a runtime's worker (a request): no panic either way.
    check();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async { tokio::spawn(async move { check() }).await.unwrap() });
}

#[test]
fn malformed_output_is_rejected() {
    let err = misbehave("malformed", Limits::default())
        .route(&route_request(2))
        .unwrap_err();
    assert!(matches!(err, CallError::Malformed { .. }), "{err}");
    assert!(err.to_string().contains("4294967295"), "{err}");
    let err = misbehave("bad_extra", Limits::default())
        .route(&route_request(2))
        .unwrap_err();
    assert!(err.to_string().contains("not valid JSON"), "{err}");
}

#[test]
fn a_file_that_is_not_a_component_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = runtime();
    let cases = [
        ("garbage.wasm", b"this is not wasm".to_vec(), "magic bytes"),
        ("empty.wasm", Vec::new(), "empty"),
        // A core module: the right magic, the wrong layer.
        (
            "core.wasm",
            vec![0, b'a', b's', b'm', 1, 0, 0, 0],
            "core WebAssembly module",
        ),
    ];
    for (name, bytes, why) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let err = LoadedPlugin::load_file(&runtime, &path, |_| Settings::default())
            .err()
            .unwrap();
        assert!(matches!(err, LoadError::NotAComponent { .. }), "{err}");
        assert!(err.to_string().contains(why), "{name}: {err}");
        assert!(err.to_string().contains(name), "{err}");
    }
}

#[test]
fn a_component_of_the_wrong_world_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty-component.wasm");
    std::fs::write(&path, wat_component("(component)")).unwrap();
    let err = LoadedPlugin::load_file(&runtime(), &path, |_| Settings::default())
        .err()
        .unwrap();
    assert!(matches!(err, LoadError::WrongWorld { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("exports none of the plugin interfaces"),
        "{err}"
    );
}

fn wat_component(text: &str) -> Vec<u8> {
    wat::parse_str(text).unwrap()
}

#[test]
fn config_is_checked_against_the_schema_and_by_init() {
    let runtime = runtime();
    let err = try_load(
        &runtime,
        "misbehave",
        json!({"mode": "sideways"}),
        Limits::default(),
    )
    .err()
    .unwrap();
    assert!(matches!(err, LoadError::ConfigInvalid { .. }), "{err}");
    assert!(err.to_string().contains("/mode"), "{err}");
    let err = try_load(
        &runtime,
        "misbehave",
        json!({"mode": "init_error"}),
        Limits::default(),
    )
    .err()
    .unwrap();
    assert!(matches!(err, LoadError::Init { .. }), "{err}");
    assert!(
        err.to_string().contains("init_error mode always fails"),
        "{err}"
    );
}

#[test]
fn fail_open_turns_a_failure_into_the_fallback() {
    let open = misbehave(
        "trap",
        Limits {
            on_error: OnError::FailOpen,
            ..Limits::default()
        },
    );
    let answer = open.on_error(open.route(&route_request(2)).map(|d| d.order), || vec![99]);
    assert_eq!(answer.unwrap(), vec![99]);
    let closed = misbehave("trap", Limits::default());
    assert!(
        closed
            .on_error(closed.route(&route_request(2)).map(|d| d.order), Vec::new)
            .is_err()
    );
}

#[test]
fn instances_are_reused_within_bounds() {
    let reason = |p: &LoadedPlugin| p.route(&route_request(1)).unwrap().reason.unwrap();
    let reused = misbehave("count", Limits::default());
    let seen: Vec<String> = (0..3).map(|_| reason(&reused)).collect();
    assert_eq!(seen, ["1", "2", "3"]);

    let recycled = misbehave(
        "count",
        Limits {
            max_calls_per_instance: 2,
            ..Limits::default()
        },
    );
    let seen: Vec<String> = (0..5).map(|_| reason(&recycled)).collect();
    assert_eq!(seen, ["1", "2", "1", "2", "1"]);

    let fresh = misbehave(
        "count",
        Limits {
            reuse_instances: false,
            ..Limits::default()
        },
    );
    let seen: Vec<String> = (0..3).map(|_| reason(&fresh)).collect();
    assert_eq!(seen, ["1", "1", "1"]);
}

#[test]
fn concurrent_calls_each_get_an_instance() {
    let plugin = std::sync::Arc::new(misbehave("ok", Limits::default()));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let plugin = plugin.clone();
            std::thread::spawn(move || {
                for _ in 0..200 {
                    assert_eq!(plugin.route(&route_request(3)).unwrap().order.len(), 3);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}
