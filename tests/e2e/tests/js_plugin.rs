//! A router written in JavaScript (`plugins/js-tier-router`, built by
//! componentize-js) serving a real gateway: it reads the caller's tier from
//! the request's metadata and the candidates' live state (requests in
//! flight, health), and the gateway follows its order.
//!
//! The component is about 12 MB; the gateways share the compile cache, so
//! only the first one compiles it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use serde_json::json;
use switchyard_e2e::mock::*;
use switchyard_e2e::*;

const REASON: &str = "x-switchyard-route-reason";

/// Deployments `a` then `b` of group `chat`, one mock each, routed by
/// js-tier-router.
fn start(a: &MockProvider, b: &MockProvider, router_settings: &str) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    let section = plugins_section(&dir.path().join("plugins"), &["js-tier-router"]);
    let config = format!(
        "{}{router_settings}{section}  router: js-tier-router\n",
        config_with(&[
            model_entry("chat", "openai/gpt-4o-mini", &a.url(), &[]).replace(
                "    litellm_params:",
                "    model_info: {id: a}\n    litellm_params:"
            ),
            model_entry("chat", "openai/gpt-4o-mini", &b.url(), &[]).replace(
                "    litellm_params:",
                "    model_info: {id: b}\n    litellm_params:"
            ),
        ])
    );
    Gateway::start_in(dir, &config)
}

fn chat(gw: &Gateway, metadata: serde_json::Value) -> Reply {
    gw.post(
        "/v1/chat/completions",
        Some(KEY),
        &json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}], "metadata": metadata}),
    )
}

#[test]
fn the_js_router_reads_the_tier_and_the_deployments_in_flight() {
    let a = MockProvider::start(Flavor::OpenAi);
    let b = MockProvider::start(Flavor::OpenAi);
    let gw = std::sync::Arc::new(start(&a, &b, ONE_CALL_EACH));

    // The caller's tier, from the request's metadata, picks the rule.
    let r = chat(&gw, json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.header(REASON),
        Some("js-tier-router: least busy first"),
        "{:?}",
        r.headers
    );
    // Nothing in flight anywhere: the config's order.
    assert_eq!(r.header("x-switchyard-deployment"), Some("a"));
    let r = chat(&gw, json!({"customer_tier": "vip"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.header(REASON),
        Some("js-tier-router: premium caller (vip): fastest first")
    );
    let r = chat(&gw, json!({"priority": "high"}));
    assert_eq!(
        r.header(REASON),
        Some("js-tier-router: premium caller (priority high): fastest first")
    );
    assert_eq!((a.count(), b.count()), (3, 0));

    // A request held at `a`: the next standard caller goes to `b`, the
    // deployment with nothing in flight.
    a.push(Behaviour::Delay(Duration::from_secs(3)));
    let held = {
        let gw = gw.clone();
        std::thread::spawn(move || chat(&gw, json!({})))
    };
    eventually("a holds the first request", Duration::from_secs(10), || {
        a.count() == 4
    });
    let r = chat(&gw, json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("x-switchyard-deployment"), Some("b"));
    assert_eq!(r.header(REASON), Some("js-tier-router: least busy first"));
    assert_eq!(held.join().unwrap().status, 200);
    assert_eq!((a.count(), b.count()), (4, 1));
}

#[test]
fn the_js_router_puts_a_cooling_deployment_last() {
    let a = MockProvider::start(Flavor::OpenAi);
    let b = MockProvider::start(Flavor::OpenAi);
    a.always(Behaviour::Status(500, String::new(), None));
    let gw = start(
        &a,
        &b,
        "router_settings:\n  num_retries: 1\n  allowed_fails: 0\n  cooldown_time: 300\n",
    );
    // The first call tries `a` (config order), which fails and cools down;
    // the retry goes to `b`.
    let r = chat(&gw, json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!((a.count(), b.count()), (1, 1));
    // From then on the router orders `b` first: `a` is not tried again.
    for _ in 0..5 {
        let r = chat(&gw, json!({"customer_tier": "enterprise"}));
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.header("x-switchyard-deployment"), Some("b"));
    }
    assert_eq!((a.count(), b.count()), (1, 6));
}
