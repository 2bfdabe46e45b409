//! Every kind of budget, exhausted the same way: with $0.001 a token and
//! 16 tokens a call, a $0.02 budget answers the call that crosses it (the
//! second) and refuses the next with a 429 that names it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Value, json};
use switchyard_e2e::mock::*;
use switchyard_e2e::*;

fn priced(openai: &MockProvider, group: &str, extra: &[&str]) -> String {
    let mut e = model_entry(group, "openai/gpt-4o-mini", &openai.url(), extra);
    e.push_str(
        "    model_info:\n      input_cost_per_token: 0.001\n      output_cost_per_token: 0.001\n",
    );
    e
}

fn chat(model: &str, user: Option<&str>, tags: &[&str]) -> Value {
    let mut b = json!({
        "model": model,
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi"}],
    });
    if let Some(u) = user {
        b["user"] = json!(u);
    }
    if !tags.is_empty() {
        b["metadata"] = json!({"tags": tags});
    }
    b
}

/// Two calls answered, the third refused with the budget named.
fn exhaust(gw: &Gateway, key: &str, body: &Value, names: &str) {
    for i in 0..2 {
        let r = gw.post("/v1/chat/completions", Some(key), body);
        assert_eq!(r.status, 200, "call {i}: {}", r.body);
    }
    let r = gw.post("/v1/chat/completions", Some(key), body);
    let e = r.json();
    assert_eq!(r.status, 429, "the third call is refused: {}", r.body);
    assert_eq!(e["error"]["code"], "budget_exceeded", "{e}");
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(msg.contains(names), "{names:?} not in {msg}");
    assert!(msg.contains("0.02"), "the budget's value in {msg}");
}

fn new_key(gw: &Gateway, body: Value) -> String {
    let r = gw.post("/key/generate", Some(KEY), &body);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["key"].as_str().unwrap().to_string()
}

#[test]
fn key_team_user_end_user_and_per_model_budgets_each_refuse_once_spent() {
    let openai = MockProvider::start(Flavor::OpenAi);
    let gw = Gateway::start(&format!(
        "{}{ONE_CALL_EACH}",
        config_with(&[
            priced(&openai, "gpt", &["api_key: sk-up"]),
            priced(&openai, "other", &["api_key: sk-up"])
        ])
    ));
    // A key's own budget.
    let k = new_key(&gw, json!({"key_alias": "k-budget", "max_budget": 0.02}));
    exhaust(&gw, &k, &chat("gpt", None, &[]), "key k-budget");
    // A team's budget, through a key of the team without one of its own.
    let t = gw.post(
        "/team/new",
        Some(KEY),
        &json!({"team_id": "t-budget", "max_budget": 0.02}),
    );
    assert_eq!(t.status, 200, "{}", t.body);
    let k = new_key(&gw, json!({"team_id": "t-budget"}));
    exhaust(&gw, &k, &chat("gpt", None, &[]), "team t-budget");
    // A user's budget.
    let u = gw.post(
        "/user/new",
        Some(KEY),
        &json!({"user_id": "u-budget", "max_budget": 0.02, "auto_create_key": false}),
    );
    assert_eq!(u.status, 200, "{}", u.body);
    let k = new_key(&gw, json!({"user_id": "u-budget"}));
    exhaust(&gw, &k, &chat("gpt", None, &[]), "user u-budget");
    // An end user's budget (the request's `user`), on the master key.
    let c = gw.post(
        "/customer/new",
        Some(KEY),
        &json!({"user_id": "cust-1", "max_budget": 0.02}),
    );
    assert_eq!(c.status, 200, "{}", c.body);
    exhaust(
        &gw,
        KEY,
        &chat("gpt", Some("cust-1"), &[]),
        "end user cust-1",
    );
    // Another end user is not affected.
    let r = gw.post(
        "/v1/chat/completions",
        Some(KEY),
        &chat("gpt", Some("cust-2"), &[]),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // A key's budget for one model: the other model still answers.
    let k = new_key(
        &gw,
        json!({"key_alias": "k-model", "model_max_budget": {"gpt": {"budget_limit": 0.02, "time_period": "1d"}}}),
    );
    exhaust(
        &gw,
        &k,
        &chat("gpt", None, &[]),
        "key k-model for model gpt",
    );
    let r = gw.post("/v1/chat/completions", Some(&k), &chat("other", None, &[]));
    assert_eq!(r.status, 200, "{}", r.body);
    // 2 calls per budget, 5 budgets, and the two that were let through.
    assert_eq!(openai.count(), 12);
}

#[test]
fn deployment_provider_and_tag_budgets_each_refuse_once_spent() {
    let openai = MockProvider::start(Flavor::OpenAi);
    let gw = Gateway::start(&format!(
        "{}{ONE_CALL_EACH}  provider_budget_config:\n    groq: {{budget_limit: 0.02, time_period: 1d}}\nlimits:\n  - match: tag\n    value: marketing\n    max_budget: 0.02\n",
        config_with(&[
            priced(
                &openai,
                "dep",
                &["api_key: sk-up", "max_budget: 0.02", "budget_duration: 1d"]
            ),
            {
                let mut e =
                    model_entry("via-groq", "groq/llama", &openai.url(), &["api_key: sk-up"]);
                e.push_str("    model_info:\n      input_cost_per_token: 0.001\n      output_cost_per_token: 0.001\n");
                e
            },
            priced(&openai, "gpt", &["api_key: sk-up"]),
        ])
    ));
    exhaust(
        &gw,
        KEY,
        &chat("dep", None, &[]),
        "dep/0 has spent its budget",
    );
    exhaust(
        &gw,
        KEY,
        &chat("via-groq", None, &[]),
        "its provider's budget",
    );
    exhaust(
        &gw,
        KEY,
        &chat("gpt", None, &["marketing"]),
        "tag marketing",
    );
    // Untagged calls to the same group still answer.
    let r = gw.post("/v1/chat/completions", Some(KEY), &chat("gpt", None, &[]));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(openai.count(), 7);
}

#[test]
fn a_key_is_refused_for_a_model_it_may_not_call_and_when_blocked() {
    let openai = MockProvider::start(Flavor::OpenAi);
    let gw = Gateway::start(&format!(
        "{}{ONE_CALL_EACH}",
        config_with(&[
            priced(&openai, "gpt", &["api_key: sk-up"]),
            priced(&openai, "other", &["api_key: sk-up"])
        ])
    ));
    let narrow = new_key(&gw, json!({"key_alias": "narrow", "models": ["other"]}));
    let r = gw.post(
        "/v1/chat/completions",
        Some(&narrow),
        &chat("gpt", None, &[]),
    );
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "model_not_allowed");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("gpt")
    );
    // It lists only what it may call.
    let models = gw.get("/v1/models", Some(&narrow)).json();
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["other"]);
    let k = new_key(&gw, json!({"key_alias": "blocked-one"}));
    assert_eq!(
        gw.post("/key/block", Some(KEY), &json!({"key": k})).status,
        200
    );
    let r = gw.post("/v1/chat/completions", Some(&k), &chat("gpt", None, &[]));
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "key_blocked");
    assert!(!r.body.contains(&k), "the key is never echoed");
    assert_eq!(openai.count(), 0);
}

/// The `model-prices` calls a scrape of `/metrics` counts.
fn cost_rule_calls(gw: &Gateway) -> u64 {
    let r = gw.get("/metrics", None);
    assert_eq!(r.status, 200, "{}", r.body);
    let prefix = "switchyard_plugin_calls_total{plugin=\"model-prices\",kind=\"cost\"} ";
    r.body
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .map_or(0, |n| n.trim().parse().unwrap())
}

#[test]
fn a_budgeted_callers_reservation_is_priced_once_for_calls_of_the_same_size() {
    let openai = MockProvider::start(Flavor::OpenAi);
    let gw = Gateway::start(&format!(
        "{}{ONE_CALL_EACH}litellm_settings:\n  callbacks: [prometheus]\n",
        config_with(&[priced(&openai, "gpt", &["api_key: sk-up"])])
    ));
    let k = new_key(&gw, json!({"key_alias": "k-memo", "max_budget": 10.0}));
    let before = cost_rule_calls(&gw);
    for i in 0..4 {
        let r = gw.post("/v1/chat/completions", Some(&k), &chat("gpt", None, &[]));
        assert_eq!(r.status, 200, "call {i}: {}", r.body);
    }
    // Four answers priced, and one reservation: the same question each
    // time (before, every call priced its reservation too: 8).
    assert_eq!(cost_rule_calls(&gw) - before, 5);
    // Another output limit is another question; so is another caller.
    let mut longer = chat("gpt", None, &[]);
    longer["max_tokens"] = json!(50);
    let r = gw.post("/v1/chat/completions", Some(&k), &longer);
    assert_eq!(r.status, 200, "{}", r.body);
    let r = gw.post(
        "/v1/chat/completions",
        Some(&k),
        &chat("gpt", Some("u-2"), &[]),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(cost_rule_calls(&gw) - before, 9);
    assert_eq!(openai.count(), 6);
    // What the key spent is what its six answers cost, reservations
    // settled: $0.016 each (11 + 5 tokens at $0.001). Spend is written in
    // batches: wait for it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let info = gw.get(&format!("/key/info?key={k}"), Some(KEY));
        assert_eq!(info.status, 200, "{}", info.body);
        let spend = info.json()["info"]["spend"].as_f64().unwrap_or(0.0);
        if (spend - 6.0 * 0.016).abs() < 1e-9 {
            break;
        }
        assert!(
            spend < 6.0 * 0.016 && std::time::Instant::now() < deadline,
            "spend {spend}: {}",
            info.body
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
