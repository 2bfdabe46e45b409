//! Routing through the gateway: `router_settings` reaching the default
//! router (strategy, tag filtering), and the tier router choosing a model
//! group from the request, with its reason in `x-switchyard-route-reason`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Value, json};
use switchyard_e2e::mock::*;
use switchyard_e2e::*;

fn entry(group: &str, id: &str, mock: &MockProvider, params: &[&str], info: &[&str]) -> String {
    let mut s = format!(
        "{}    model_info:\n      id: {id}\n",
        model_entry(group, &format!("openai/{id}"), &mock.url(), params)
    );
    for line in info {
        s.push_str(&format!("      {line}\n"));
    }
    s
}

fn ask(gw: &Gateway, body: Value) -> Reply {
    let r = gw.post("/v1/chat/completions", Some(KEY), &body);
    assert_eq!(r.status, 200, "{}", r.body);
    r
}

fn hello(model: &str, text: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": text}]})
}

#[test]
fn cost_based_routing_from_router_settings_picks_the_cheapest() {
    let m = MockProvider::start(Flavor::OpenAi);
    let gw = Gateway::start_with_plugins(
        &["default-router", "openai"],
        &config_with_settings(
            &[
                entry(
                    "g",
                    "dear",
                    &m,
                    &[],
                    &[
                        "input_cost_per_token: 0.00001",
                        "output_cost_per_token: 0.00003",
                    ],
                ),
                entry(
                    "g",
                    "cheap",
                    &m,
                    &[],
                    &[
                        "input_cost_per_token: 0.0000001",
                        "output_cost_per_token: 0.0000004",
                    ],
                ),
                entry(
                    "g",
                    "mid",
                    &m,
                    &[],
                    &[
                        "input_cost_per_token: 0.000001",
                        "output_cost_per_token: 0.000002",
                    ],
                ),
            ],
            "router_settings:\n  routing_strategy: cost-based-routing\n",
        ),
    );
    for _ in 0..5 {
        let r = ask(&gw, hello("g", "hi"));
        assert_eq!(r.header("x-switchyard-deployment"), Some("cheap"));
        let reason = r.header("x-switchyard-route-reason").unwrap();
        assert!(reason.starts_with("cost-based-routing"), "{reason}");
    }
    assert!(m.requests().iter().all(|r| r.body["model"] == "cheap"));
}

#[test]
fn latency_based_routing_with_strategy_args_prefers_the_fast_deployment() {
    let fast = MockProvider::start(Flavor::OpenAi);
    let slow = MockProvider::start(Flavor::OpenAi);
    slow.always(Behaviour::Delay(std::time::Duration::from_millis(150)));
    let gw = Gateway::start_with_plugins(
        &["default-router", "openai"],
        &config_with_settings(
            &[
                entry("g", "fast", &fast, &[], &[]),
                entry("g", "slow", &slow, &[], &[]),
            ],
            "router_settings:\n  routing_strategy: latency-based-routing\n  routing_strategy_args: {lowest_latency_buffer: 0.1, ttl: 60}\n",
        ),
    );
    // Both are unmeasured at first and get explored; then the fast one wins.
    for _ in 0..4 {
        ask(&gw, hello("g", "hi"));
    }
    assert!(slow.count() >= 1 && fast.count() >= 1);
    let before = (fast.count(), slow.count());
    for _ in 0..10 {
        let r = ask(&gw, hello("g", "hi"));
        assert_eq!(r.header("x-switchyard-deployment"), Some("fast"));
        let reason = r.header("x-switchyard-route-reason").unwrap();
        assert!(reason.starts_with("latency-based-routing"), "{reason}");
    }
    assert_eq!((fast.count(), slow.count()), (before.0 + 10, before.1));
}

#[test]
fn tag_filtering_sends_tagged_requests_to_tagged_deployments() {
    let m = MockProvider::start(Flavor::OpenAi);
    let gw = Gateway::start_with_plugins(
        &["default-router", "openai"],
        &config_with_settings(
            &[
                entry("g", "eu", &m, &["tags: [eu]"], &[]),
                entry("g", "us", &m, &["tags: [us, default]"], &[]),
            ],
            "router_settings:\n  enable_tag_filtering: true\n",
        ),
    );
    for _ in 0..4 {
        let mut body = hello("g", "hi");
        body["tags"] = json!(["eu"]);
        assert_eq!(ask(&gw, body).header("x-switchyard-deployment"), Some("eu"));
        let mut body = hello("g", "hi");
        body["metadata"] = json!({"tags": ["us"]});
        assert_eq!(ask(&gw, body).header("x-switchyard-deployment"), Some("us"));
        // No tags: the `default`-tagged deployment.
        assert_eq!(
            ask(&gw, hello("g", "hi")).header("x-switchyard-deployment"),
            Some("us")
        );
    }
    assert_eq!(m.count(), 12);
}

#[test]
fn a_request_no_deployment_can_serve_is_a_503_that_says_why() {
    let m = MockProvider::start(Flavor::OpenAi);
    let gw = Gateway::start_with_plugins(
        &["default-router", "openai"],
        &config_with_settings(
            &[entry("g", "eu", &m, &["tags: [eu]"], &[])],
            "router_settings:\n  enable_tag_filtering: true\n",
        ),
    );
    let mut body = hello("g", "hi");
    body["tags"] = json!(["asia"]);
    let r = gw.post("/v1/chat/completions", Some(KEY), &body);
    assert_eq!(r.status, 503, "{}", r.body);
    let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        msg.contains("can serve this request") && msg.contains("asia"),
        "{msg}"
    );
    assert_eq!(r.header("retry-after"), None, "waiting would not help");
    assert_eq!(m.count(), 0);
}

#[test]
fn model_group_alias_routes_to_its_group() {
    let m = MockProvider::start(Flavor::OpenAi);
    let gw = Gateway::start_with_plugins(
        &["default-router", "openai"],
        &config_with_settings(
            &[entry("gpt-4o", "d", &m, &[], &[])],
            "router_settings:\n  model_group_alias: {gpt4: gpt-4o}\n",
        ),
    );
    let r = ask(&gw, hello("gpt4", "hi"));
    assert_eq!(r.header("x-switchyard-model-group"), Some("gpt-4o"));
}

/// A gateway routing with `tier-router`: one deployment per tier group
/// (`fast`, `standard`, `advanced`, `premium`, each `<group>-1` on `tiers`),
/// clients asking for `assistant` (an alias of `standard`), plus `more`
/// entries and `router_settings` lines.
fn tier_gateway(tiers: &MockProvider, more: &[String], router_settings: &str) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugins_section(&dir.path().join("plugins"), &["tier-router", "openai"]);
    let mut entries: Vec<String> = ["fast", "standard", "advanced", "premium"]
        .iter()
        .map(|g| entry(g, &format!("{g}-1"), tiers, &[], &[]))
        .collect();
    entries.extend_from_slice(more);
    let config = format!(
        "{}{plugins}  router: tier-router\n  settings:\n    tier-router:\n      config:\n        tiers: {{\"1\": fast, \"2\": standard, \"3\": advanced, \"4\": premium}}\n",
        config_with_settings(
            &entries,
            &format!(
                "router_settings:\n  model_group_alias: {{assistant: standard}}\n{router_settings}"
            ),
        )
    );
    Gateway::start_in(dir, &config)
}

#[test]
fn the_tier_router_picks_a_tier_from_the_request_and_says_why() {
    let m = MockProvider::start(Flavor::OpenAi);
    let gw = tier_gateway(&m, &[], "");

    let r = ask(&gw, hello("assistant", "Olá, bom dia!"));
    assert_eq!(r.header("x-switchyard-model-group"), Some("fast"));
    assert_eq!(
        r.header("x-switchyard-route-reason"),
        Some("tier 1 -> fast: intent greeting, customer standard")
    );

    let mut body = hello(
        "assistant",
        "Our API integration returns an error from the endpoint:\n```\nPOST /v1/orders -> 500\n```\nWhy?",
    );
    body["metadata"] = json!({"customer_tier": "vip"});
    let r = ask(&gw, body);
    let group = r.header("x-switchyard-model-group").unwrap().to_string();
    assert!(
        group == "advanced" || group == "premium",
        "technical + code + vip: {group}"
    );
    let reason = r.header("x-switchyard-route-reason").unwrap();
    assert!(
        reason.contains("intent technical") && reason.contains("customer vip"),
        "{reason}"
    );
    assert_eq!(
        m.requests().last().unwrap().body["model"],
        format!("{group}-1")
    );
    assert!(
        gw.log().contains("routed to another model group"),
        "{}",
        gw.log()
    );
}

#[test]
fn a_tier_that_fails_falls_back_without_being_sent_back_to_it() {
    let tiers = MockProvider::start(Flavor::OpenAi);
    let local = MockProvider::start(Flavor::OpenAi);
    tiers.always(Behaviour::Status(500, String::new(), None));
    let gw = tier_gateway(
        &tiers,
        &[entry("local", "local-1", &local, &[], &[])],
        "  num_retries: 0\n  allowed_fails: 100\n  fallbacks: [{advanced: [local]}]\n",
    );
    let r = ask(
        &gw,
        hello(
            "assistant",
            "The API integration returns an error from the endpoint",
        ),
    );
    assert_eq!(r.header("x-switchyard-model-group"), Some("local"));
    assert_eq!(r.header("x-switchyard-fallbacks"), Some("1"));
    assert_eq!(r.header("x-switchyard-attempts"), Some("2"));
    assert_eq!((tiers.count(), local.count()), (1, 1));
    assert_eq!(tiers.requests()[0].body["model"], "advanced-1");
}
