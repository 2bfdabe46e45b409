//! The model admin API end to end (issue 11): `GET /admin/models` after a
//! provider outage (status, last error, error rate), a forced health
//! refresh, a spent deployment budget, LiteLLM's `/model/info`,
//! `/model_group/info` and `/health` shapes, and the master key on every
//! route.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use switchyard_e2e::mock::*;
use switchyard_e2e::*;

/// A `model_list` entry with its `model_info` lines.
fn entry(group: &str, model: &str, mock: &MockProvider, params: &[&str], info: &[&str]) -> String {
    let mut s = model_entry(group, model, &mock.url(), params);
    s.push_str("    model_info:\n");
    for line in info {
        s.push_str(&format!("      {line}\n"));
    }
    s
}

fn hello(model: &str) -> Value {
    json!({"model": model, "max_tokens": 5, "messages": [{"role": "user", "content": "Hello?"}]})
}

/// The row of deployment `id` in an `/admin/models` answer.
fn row<'a>(body: &'a Value, id: &str) -> &'a Value {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("{id} is not listed: {body}"))
}

fn get_ok(gw: &Gateway, path: &str) -> Value {
    let r = gw.get(path, Some(KEY));
    assert_eq!(r.status, 200, "GET {path}: {}", r.body);
    r.json()
}

fn refresh(gw: &Gateway) -> Value {
    let r = gw.post("/admin/models/refresh", Some(KEY), &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

fn minute() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 60
}

#[test]
fn an_outage_shows_as_a_cooldown_with_its_error_and_error_rate_and_refresh_rechecks() {
    let a = MockProvider::start(Flavor::OpenAi);
    let b = MockProvider::start(Flavor::OpenAi);
    // a answers once, then the outage: 500s.
    a.push(Behaviour::Answer);
    a.always(Behaviour::Status(500, String::new(), None));
    let gw = Gateway::start(&config_with_settings(
        &[
            entry("g", "openai/gpt-a", &a, &["order: 1"], &["id: a"]),
            entry(
                "g",
                "openai/gpt-b",
                &b,
                &["order: 2", "rpm: 100"],
                &["id: b"],
            ),
        ],
        "router_settings:\n  num_retries: 1\n  allowed_fails: 0\n  cooldown_time: 300\n",
    ));
    let started = minute();

    // Before any traffic: both healthy, nothing counted.
    let before = get_ok(&gw, "/admin/models");
    assert_eq!(
        before["summary"],
        json!({"healthy": 2, "unhealthy": 0, "cooling_down": 0, "budget_exhausted": 0})
    );
    let quiet = row(&before, "a");
    assert_eq!(quiet["status"], "healthy");
    assert_eq!(quiet["status_reason"], Value::Null);
    assert_eq!(
        quiet["error_rate"],
        json!({"window_minutes": 5, "attempts": 0, "failures": 0, "rate": null})
    );
    assert_eq!(quiet["last_error"], Value::Null);
    assert_eq!(quiet["latency_avg_ms"], Value::Null);
    assert_eq!(quiet["health_check"], json!({"status": "unknown"}));

    // a answers the first call; its first 500 cools it down (allowed_fails
    // 0) and the call moves on to b; the third call goes to b alone.
    for (deployment, attempts) in [("a", "1"), ("b", "2"), ("b", "1")] {
        let r = gw.post("/v1/chat/completions", Some(KEY), &hello("g"));
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.header("x-switchyard-deployment"), Some(deployment));
        assert_eq!(r.header("x-switchyard-attempts"), Some(attempts));
    }
    assert_eq!((a.count(), b.count()), (2, 2));

    let body = get_ok(&gw, "/admin/models");
    assert_eq!(
        body["summary"],
        json!({"healthy": 1, "unhealthy": 0, "cooling_down": 1, "budget_exhausted": 0})
    );
    let down = row(&body, "a");
    assert_eq!(down["model_group"], "g");
    assert_eq!(down["provider"], "openai");
    assert_eq!(down["model"], "openai/gpt-a");
    assert_eq!(down["api_base"], a.url());
    assert_eq!(down["status"], "cooling_down");
    let reason = down["status_reason"].as_str().unwrap();
    assert!(
        reason.starts_with("1 failure this minute (server_error)"),
        "{reason}"
    );
    assert_eq!(
        down["error_rate"],
        json!({"window_minutes": 5, "attempts": 2, "failures": 1, "rate": 0.5})
    );
    let last = down["last_error"]["message"].as_str().unwrap();
    assert!(last.contains("500"), "{last}");
    assert!(down["last_error"]["at"].as_str().unwrap().ends_with('Z'));
    assert!(down["last_error"]["seconds_ago"].as_u64().unwrap() < 60);
    assert_eq!(down["cooldown"]["class"], "server_error");
    let left = down["cooldown"]["seconds_left"].as_f64().unwrap();
    assert!(left > 200.0 && left <= 300.0, "{left}");
    assert!(
        down["latency_avg_ms"].as_f64().unwrap() > 0.0,
        "a answered once"
    );
    assert_eq!(down["budget"], Value::Null);

    let up = row(&body, "b");
    assert_eq!(up["status"], "healthy");
    assert_eq!(
        up["error_rate"],
        json!({"window_minutes": 5, "attempts": 2, "failures": 0, "rate": 0.0})
    );
    assert_eq!(up["last_error"], Value::Null);
    assert_eq!(up["cooldown"], Value::Null);
    assert!(up["latency_avg_ms"].as_f64().unwrap() > 0.0, "{up}");
    assert_eq!(up["ttft_avg_ms"], Value::Null, "no stream yet");
    assert_eq!(up["rpm"]["limit"], 100);
    assert_eq!(up["tpm"]["limit"], Value::Null);
    if minute() == started {
        // Per-minute usage: exact unless the clock minute turned meanwhile.
        assert_eq!(down["rpm"]["used"], 2);
        assert_eq!(down["tpm"]["used"], PROMPT_TOKENS + COMPLETION_TOKENS);
        assert_eq!(up["rpm"]["used"], 2);
        assert_eq!(up["tpm"]["used"], 2 * (PROMPT_TOKENS + COMPLETION_TOKENS));
    }

    // A stream gives b a time to first token.
    let mut stream = hello("g");
    stream["stream"] = json!(true);
    let r = gw.post("/v1/chat/completions", Some(KEY), &stream);
    stream_chunks(&r);
    assert_eq!(r.header("x-switchyard-deployment"), Some("b"));
    let b_row = get_ok(&gw, "/admin/models/b");
    assert!(
        row(&b_row, "b")["ttft_avg_ms"].as_f64().unwrap() > 0.0,
        "{b_row}"
    );
    assert_eq!(row(&b_row, "b")["error_rate"]["attempts"], 3);

    // One group, one deployment, or nothing.
    let group = get_ok(&gw, "/admin/models/g");
    assert_eq!(group["model_group"], "g");
    assert_eq!(group["data"].as_array().unwrap().len(), 2);
    let one = get_ok(&gw, "/admin/models/a");
    assert_eq!(one["model_group"], Value::Null);
    assert_eq!(one["data"].as_array().unwrap().len(), 1);
    assert_eq!(row(&one, "a")["status"], "cooling_down");
    let missing = gw.get("/admin/models/nope", Some(KEY));
    assert_eq!(missing.status, 404, "{}", missing.body);

    // LiteLLM's /health lists a as unhealthy, saying why.
    let health = get_ok(&gw, "/health");
    assert_eq!(health["healthy_count"], 1);
    assert_eq!(health["unhealthy_count"], 1);
    assert_eq!(health["cooling_down_count"], 1);
    let sick = &health["unhealthy_endpoints"][0];
    assert_eq!(sick["model_id"], "a");
    assert_eq!(sick["model"], "openai/gpt-a");
    assert_eq!(sick["status"], "cooling_down");
    assert!(sick["error"].as_str().unwrap().contains("500"), "{sick}");
    assert_eq!(health["healthy_endpoints"][0]["model_id"], "b");
    assert_eq!(health["healthy_endpoints"][0]["rpm"], 100);
    let only_a = get_ok(&gw, "/health?model_id=a");
    assert_eq!(
        (
            only_a["healthy_count"].clone(),
            only_a["unhealthy_count"].clone()
        ),
        (json!(0), json!(1))
    );

    // Refresh checks each deployment once, now: a still fails.
    let checked = refresh(&gw);
    assert_eq!((a.count(), b.count()), (3, 4), "one check each");
    assert_eq!(checked["healthy_count"], 1);
    assert_eq!(checked["unhealthy_count"], 1);
    let a_check = row(&checked, "a");
    assert_eq!(a_check["health"], "unhealthy");
    assert!(
        a_check["error"].as_str().unwrap().contains("500"),
        "{a_check}"
    );
    assert_eq!(a_check["status"], "cooling_down");
    assert!(a_check["checked_at"].as_str().unwrap().ends_with('Z'));
    let b_check = row(&checked, "b");
    assert_eq!(b_check["health"], "healthy");
    assert_eq!(b_check["error"], Value::Null);
    assert_eq!(b_check["status"], "healthy");

    // The check is the last error now; it is not traffic.
    let after = get_ok(&gw, "/admin/models/a");
    let a_row = row(&after, "a");
    let last = a_row["last_error"]["message"].as_str().unwrap();
    assert!(last.starts_with("health check: "), "{last}");
    assert_eq!(a_row["health_check"]["status"], "unhealthy");
    assert_eq!(a_row["error_rate"]["attempts"], 2);
    assert_eq!(a_row["error_rate"]["failures"], 1);

    // The provider is back: the next refresh finds a healthy, still cooling.
    a.always(Behaviour::Answer);
    let checked = refresh(&gw);
    assert_eq!((a.count(), b.count()), (4, 5));
    assert_eq!(checked["healthy_count"], 2);
    assert_eq!(checked["unhealthy_count"], 0);
    let a_check = row(&checked, "a");
    assert_eq!(a_check["health"], "healthy");
    assert_eq!(
        a_check["status"], "cooling_down",
        "a check does not end a cooldown"
    );
    let after = get_ok(&gw, "/admin/models/a");
    assert_eq!(row(&after, "a")["health_check"]["status"], "healthy");
}

#[test]
fn a_spent_deployment_budget_shows_as_budget_exhausted_with_its_spend() {
    let m = MockProvider::start(Flavor::OpenAi);
    // $0.001 a token, 16 tokens a call: $0.016 a call against $0.02.
    let gw = Gateway::start(&format!(
        "{}{ONE_CALL_EACH}",
        config_with(&[entry(
            "gpt",
            "openai/gpt-4o-mini",
            &m,
            &["max_budget: 0.02", "budget_duration: 1d"],
            &[
                "id: paid",
                "input_cost_per_token: 0.001",
                "output_cost_per_token: 0.001",
            ],
        )])
    ));
    let r = gw.post("/v1/chat/completions", Some(KEY), &hello("gpt"));
    assert_eq!(r.status, 200, "{}", r.body);
    let cost: f64 = r
        .header("x-switchyard-response-cost")
        .unwrap()
        .parse()
        .unwrap();
    let body = get_ok(&gw, "/admin/models");
    let paid = row(&body, "paid");
    assert_eq!(paid["status"], "healthy");
    let budget = &paid["budget"];
    assert_eq!(budget["max_usd"], 0.02);
    assert_eq!(budget["period"], "1d");
    assert_eq!(budget["spent_usd"].as_f64().unwrap(), cost);
    assert!((budget["remaining_usd"].as_f64().unwrap() - (0.02 - cost)).abs() < 1e-12);
    assert!(
        budget["resets_at"]
            .as_str()
            .unwrap()
            .ends_with("T00:00:00Z"),
        "{budget}"
    );
    assert_eq!(paid["provider_budget"], Value::Null);

    let r = gw.post("/v1/chat/completions", Some(KEY), &hello("gpt"));
    assert_eq!(r.status, 200, "{}", r.body);
    let body = get_ok(&gw, "/admin/models");
    assert_eq!(
        body["summary"],
        json!({"healthy": 0, "unhealthy": 0, "cooling_down": 0, "budget_exhausted": 1})
    );
    let paid = row(&body, "paid");
    assert_eq!(paid["status"], "budget_exhausted");
    assert_eq!(paid["status_reason"], "spent its budget of $0.02 per 1d");
    assert_eq!(paid["budget"]["remaining_usd"], 0.0);
    let health = get_ok(&gw, "/health");
    assert_eq!(health["budget_exhausted_count"], 1);
    assert_eq!(
        health["unhealthy_endpoints"][0]["status"],
        "budget_exhausted"
    );

    // Routing agrees: the next call finds nothing to spend on.
    let r = gw.post("/v1/chat/completions", Some(KEY), &hello("gpt"));
    assert_ne!(r.status, 200, "{}", r.body);
    assert_eq!(m.count(), 2);
}

/// A config for LiteLLM's info endpoints: group `gpt` on two providers (one
/// with credentials in its params), group `emb` of embeddings, alias `fast`.
fn info_config(openai: &MockProvider, anthropic: &MockProvider) -> String {
    config_with_settings(
        &[
            entry(
                "gpt",
                "openai/gpt-4o",
                openai,
                &[
                    "api_key: sk-provider-secret-1",
                    "rpm: 10",
                    "tpm: 1000",
                    "extra_headers: {Authorization: Bearer sk-header-secret-2, X-Team: blue}",
                ],
                &[
                    "id: d1",
                    "max_input_tokens: 128000",
                    "input_cost_per_token: 0.000002",
                    "output_cost_per_token: 0.00001",
                    "supports_vision: true",
                ],
            ),
            entry(
                "gpt",
                "anthropic/claude-x",
                anthropic,
                &["api_key: sk-provider-secret-3", "rpm: 5"],
                &[
                    "id: d2",
                    "max_input_tokens: 200000",
                    "max_output_tokens: 8192",
                    "input_cost_per_token: 0.000003",
                    "output_cost_per_token: 0.000015",
                ],
            ),
            entry(
                "emb",
                "openai/text-embedding-3-small",
                openai,
                &[],
                &["id: e1", "mode: embedding"],
            ),
        ],
        "router_settings:\n  model_group_alias: {fast: gpt}\n",
    )
}

#[test]
fn model_info_and_model_group_info_answer_in_litellm_shapes_without_credentials() {
    let openai = MockProvider::start(Flavor::OpenAi);
    let anthropic = MockProvider::start(Flavor::Anthropic);
    let gw = Gateway::start(&info_config(&openai, &anthropic));

    let r = gw.get("/model/info", Some(KEY));
    assert_eq!(r.status, 200, "{}", r.body);
    for secret in ["sk-provider-secret", "sk-header-secret"] {
        assert!(!r.body.contains(secret), "{secret} in {}", r.body);
    }
    let info = r.json();
    let data = info["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    let names: Vec<&str> = data
        .iter()
        .map(|e| e["model_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["gpt", "gpt", "emb"]);
    assert_eq!(
        data[0]["litellm_params"],
        json!({
            "model": "openai/gpt-4o",
            "api_base": openai.url(),
            "rpm": 10,
            "tpm": 1000,
            "extra_headers": {"Authorization": "********", "X-Team": "blue"},
        })
    );
    let d1 = &data[0]["model_info"];
    assert_eq!(d1["id"], "d1");
    assert_eq!(d1["db_model"], false);
    assert_eq!(d1["key"], "gpt-4o");
    assert_eq!(d1["litellm_provider"], "openai");
    assert_eq!(d1["mode"], "chat");
    assert_eq!(d1["max_input_tokens"], 128000);
    assert_eq!(d1["max_output_tokens"], Value::Null);
    assert_eq!(d1["input_cost_per_token"], 0.000002);
    assert_eq!(d1["output_cost_per_token"], 0.00001);
    assert_eq!(d1["supports_vision"], true);
    assert_eq!(data[1]["litellm_params"]["model"], "anthropic/claude-x");
    assert!(data[1]["litellm_params"].get("api_key").is_none());
    assert_eq!(data[1]["model_info"]["max_tokens"], 8192);
    assert_eq!(data[2]["model_info"]["mode"], "embedding");

    // The /v1 path answers the same; litellm_model_id picks one.
    assert_eq!(get_ok(&gw, "/v1/model/info"), info);
    let d2 = get_ok(&gw, "/model/info?litellm_model_id=d2");
    assert_eq!(d2["data"].as_array().unwrap().len(), 1);
    assert_eq!(d2["data"][0]["model_info"]["id"], "d2");
    let none = gw.get("/model/info?litellm_model_id=zzz", Some(KEY));
    assert_eq!(none.status, 404, "{}", none.body);

    // One entry per group, then per alias.
    let groups = get_ok(&gw, "/model_group/info");
    let data = groups["data"].as_array().unwrap();
    let names: Vec<&str> = data
        .iter()
        .map(|e| e["model_group"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["emb", "gpt", "fast"]);
    let gpt = json!({
        "model_group": "gpt",
        "providers": ["openai", "anthropic"],
        "max_input_tokens": 200000,
        "max_output_tokens": 8192,
        "input_cost_per_token": 0.000003,
        "output_cost_per_token": 0.000015,
        "mode": "chat",
        "tpm": 1000,
        "rpm": 15,
        "supports_parallel_function_calling": false,
        "supports_vision": true,
        "supports_web_search": false,
        "supports_reasoning": false,
        "supports_function_calling": false,
        "supported_openai_params": [],
    });
    assert_eq!(data[1], gpt);
    let mut fast = gpt.clone();
    fast["model_group"] = json!("fast");
    assert_eq!(data[2], fast);
    assert_eq!(data[0]["mode"], "embedding");
    assert_eq!(data[0]["providers"], json!(["openai"]));
    assert_eq!(data[0]["rpm"], Value::Null);
    let one = get_ok(&gw, "/model_group/info?model_group=gpt");
    assert_eq!(one["data"], json!([gpt]));

    // No admin answer holds a provider key.
    for path in ["/admin/models", "/health", "/model_group/info"] {
        let r = gw.get(path, Some(KEY));
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        for secret in ["sk-provider-secret", "sk-header-secret"] {
            assert!(!r.body.contains(secret), "{secret} in {path}: {}", r.body);
        }
    }
}

#[test]
fn every_model_admin_route_needs_the_master_key() {
    let openai = MockProvider::start(Flavor::OpenAi);
    let anthropic = MockProvider::start(Flavor::Anthropic);
    let gw = Gateway::start(&info_config(&openai, &anthropic));
    let r = gw.post("/key/generate", Some(KEY), &json!({"key_alias": "plain"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let plain = r.json()["key"].as_str().unwrap().to_string();

    let routes = [
        ("GET", "/admin/models"),
        ("GET", "/admin/models/gpt"),
        ("POST", "/admin/models/refresh"),
        ("GET", "/model/info"),
        ("GET", "/v1/model/info"),
        ("GET", "/model_group/info"),
        ("GET", "/health"),
    ];
    let call = |method: &str, path: &str, key: Option<&str>| match method {
        "GET" => gw.get(path, key),
        _ => gw.post(path, key, &json!({})),
    };
    for (method, path) in routes {
        let r = call(method, path, None);
        assert_eq!(r.status, 401, "{method} {path} without a key: {}", r.body);
        let r = call(method, path, Some("sk-wrong"));
        assert_eq!(
            r.status, 401,
            "{method} {path} with a wrong key: {}",
            r.body
        );
        let r = call(method, path, Some(&plain));
        assert_eq!(
            r.status, 403,
            "{method} {path} with a plain key: {}",
            r.body
        );
        assert!(r.body.contains("master key"), "{}", r.body);
        let r = call(method, path, Some(KEY));
        assert_eq!(
            r.status, 200,
            "{method} {path} with the master key: {}",
            r.body
        );
    }
    // The refresh above was the only upstream traffic: one check each.
    assert_eq!((openai.count(), anthropic.count()), (2, 1));

    // Without a master key the routes are closed to everyone.
    let open = Gateway::start(&format!(
        "model_list:\n{}",
        model_entry("gpt", "openai/gpt-4o", &openai.url(), &[])
    ));
    for (method, path) in routes {
        let r = match method {
            "GET" => open.get(path, Some("sk-anything")),
            _ => open.post(path, Some("sk-anything"), &json!({})),
        };
        assert_eq!(
            r.status, 403,
            "{method} {path} with no master key set: {}",
            r.body
        );
    }
    assert_eq!(openai.count(), 2);
}
