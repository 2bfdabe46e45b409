//! Retries, cooldowns, fallbacks, limits and health checks, end to end:
//! mock providers told to fail in each way a provider fails, and for each
//! the exact number of calls every mock received, which deployment (and
//! group) answered, and what the client got.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchyard_e2e::mock::*;
use switchyard_e2e::*;

/// One `model_list` entry: group, id, `provider/model`, the mock serving
/// it, more `litellm_params` lines and `model_info` lines.
fn dep(group: &str, id: &str, model: &str, mock: &MockProvider, params: &[&str]) -> String {
    dep_info(group, id, model, mock, params, &[])
}

fn dep_info(
    group: &str,
    id: &str,
    model: &str,
    mock: &MockProvider,
    params: &[&str],
    info: &[&str],
) -> String {
    let mut s = format!(
        "{}    model_info:\n      id: {id}\n",
        model_entry(group, model, &mock.url(), params)
    );
    for line in info {
        s.push_str(&format!("      {line}\n"));
    }
    s
}

/// A gateway with the default router and every adapter, these entries and
/// this `router_settings` body (indented YAML lines).
fn gateway(entries: &[String], router_settings: &str) -> Gateway {
    Gateway::start_with_plugins(
        &["default-router", "openai", "anthropic", "gemini"],
        &config_with_settings(entries, &format!("router_settings:\n{router_settings}")),
    )
}

fn hello(model: &str) -> Value {
    json!({"model": model, "max_tokens": 20, "messages": [{"role": "user", "content": "Hello?"}]})
}

/// A chat request of about 500 tokens: too long for a 50-token window.
fn too_long(model: &str) -> Value {
    let mut body = hello(model);
    body["messages"][0]["content"] = json!("word ".repeat(400));
    body
}

/// The `short` deployment: a context window of 50 tokens.
fn short_window(mock: &MockProvider) -> String {
    dep_info(
        "short",
        "short",
        "openai/m",
        mock,
        &[],
        &["max_input_tokens: 50"],
    )
}

fn stream(model: &str) -> Value {
    let mut b = hello(model);
    b["stream"] = json!(true);
    b
}

fn text(r: &Reply) -> String {
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn header<'a>(r: &'a Reply, name: &str) -> &'a str {
    r.header(name).unwrap_or("")
}

#[test]
fn a_500_is_retried_exactly_num_retries_times_on_one_deployment() {
    let m = MockProvider::start(Flavor::OpenAi);
    m.always(Behaviour::Status(500, String::new(), None));
    let gw = gateway(
        &[dep("g", "only", "openai/gpt-a", &m, &[])],
        "  num_retries: 2\n  allowed_fails: 100\n",
    );
    let r = gw.post("/v1/chat/completions", Some(KEY), &hello("g"));
    assert_eq!(r.status, 502, "{}", r.body);
    let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        msg.starts_with("3 attempts on model group g failed") && msg.contains("HTTP 500"),
        "{msg}"
    );
    assert_eq!(m.count(), 3, "1 attempt + 2 retries");

    // The request's own num_retries replaces the configured one.
    let mut body = hello("g");
    body["num_retries"] = json!(0);
    let r = gw.post("/v1/chat/completions", Some(KEY), &body);
    assert_eq!(r.status, 502, "{}", r.body);
    assert_eq!(m.count(), 4, "num_retries: 0 is one attempt");
    assert!(
        m.requests()[3].body.get("num_retries").is_none(),
        "the gateway's params are not sent upstream"
    );
}

#[test]
fn a_503_with_retry_after_is_retried_after_that_wait() {
    let m = MockProvider::start(Flavor::OpenAi);
    m.push(Behaviour::Status(503, String::new(), Some(1)));
    let gw = gateway(
        &[dep("g", "only", "openai/gpt-a", &m, &[])],
        "  num_retries: 1\n",
    );
    let started = Instant::now();
    let r = gw.post("/v1/chat/completions", Some(KEY), &hello("g"));
    assert_eq!(text(&r), Flavor::OpenAi.answer_text());
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited {:?}, Retry-After said 1 s",
        started.elapsed()
    );
    assert_eq!(header(&r, "x-switchyard-attempts"), "2");
    assert_eq!(m.count(), 2);
}

#[test]
fn retry_policy_sets_retries_per_error_class() {
    let m = MockProvider::start(Flavor::OpenAi);
    m.always(Behaviour::Status(500, String::new(), None));
    let gw = gateway(
        &[dep("g", "only", "openai/gpt-a", &m, &[])],
        "  num_retries: 3\n  allowed_fails: 100\n  retry_policy: {InternalServerErrorRetries: 1, AuthenticationErrorRetries: 0}\n",
    );
    let r = gw.post("/v1/chat/completions", Some(KEY), &hello("g"));
    assert_eq!(r.status, 502, "{}", r.body);
    assert_eq!(m.count(), 2, "InternalServerErrorRetries: 1");

    // Credentials refused: no retry, whatever num_retries says.
    m.push(Behaviour::Status(401, String::new(), None));
    let r = gw.post("/v1/chat/completions", Some(KEY), &hello("g"));
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(m.count(), 3);
}

#[test]
fn a_429_with_retry_after_cools_the_deployment_at_least_that_long() {
    let a = MockProvider::start(Flavor::OpenAi);
    let b = MockProvider::start(Flavor::OpenAi);
    a.push(Behaviour::Status(429, String::new(), Some(2)));
    let gw = gateway(
        &[
            dep("g", "a", "openai/gpt-a", &a, &["order: 1"]),
            dep("g", "b", "openai/gpt-b", &b, &["order: 2"]),
        ],
        "  cooldown_time: 0.5\n",
    );
    let r = gw.post("/v1/chat/completions", Some(KEY), &hello("g"));
    assert_eq!(text(&r), Flavor::OpenAi.answer_text());
    assert_eq!(header(&r, "x-switchyard-deployment"), "b");
    assert_eq!(header(&r, "x-switchyard-attempts"), "2");
    assert_eq!((a.count(), b.count()), (1, 1));

    // Cooling for 2 s (Retry-After beats cooldown_time): a is skipped.
    let started = Instant::now();
    let r = gw.post("/v1/chat/completions", Some(KEY), &hello("g"));
    assert_eq!(header(&r, "x-switchyard-deployment"), "b");
    assert_eq!(header(&r, "x-switchyard-attempts"), "1");
    assert_eq!((a.count(), b.count()), (1, 2));
    let health = gw.get("/health", Some(KEY)).json();
    let row = health["unhealthy_endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == "a")
        .cloned()
        .unwrap_or_else(|| panic!("a is not listed as cooling: {health}"));
    assert_eq!(row["status"], "cooling_down");
    assert!(row["error"].as_str().unwrap().contains("429"), "{row}");

    // Past cooldown_time (0.5 s) but within Retry-After (2 s): still skipped.
    std::thread::sleep(Duration::from_millis(1000).saturating_sub(started.elapsed()));
    let r = gw.post("/v1/chat/completions", Some(KEY), &hello("g"));
    assert_eq!(header(&r, "x-switchyard-deployment"), "b");
    assert_eq!((a.count(), b.count()), (1, 3));

    // Back in rotation once the cooldown is over.
    std::thread::sleep(Duration::from_millis(2100).saturating_sub(started.elapsed()));
    let r = gw.post("/v1/chat/completions", Some(KEY), &hello("g"));
    assert_eq!(header(&r, "x-switchyard-deployment"), "a");
    assert_eq!((a.count(), b.count()), (2, 3));
}

#[test]
fn a_429_without_retry_after_cools_for_cooldown_time() {
    let a = MockProvider::start(Flavor::OpenAi);
    let b = MockProvider::start(Flavor::OpenAi);
    a.push(Behaviour::Status(429, String::new(), None));
    let gw = gateway(
        &[
            dep("g", "a", "openai/gpt-a", &a, &["order: 1"]),
            dep("g", "b", "openai/gpt-b", &b, &["order: 2"]),
        ],
        "  cooldown_time: 1\n",
    );
    assert_eq!(
        header(
            &gw.post("/v1/chat/completions", Some(KEY), &hello("g")),
            "x-switchyard-deployment"
        ),
        "b"
    );
    assert_eq!(
        header(
            &gw.post("/v1/chat/completions", Some(KEY), &hello("g")),
            "x-switchyard-deployment"
        ),
        "b"
    );
    assert_eq!((a.count(), b.count()), (1, 2));
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(
        header(
            &gw.post("/v1/chat/completions", Some(KEY), &hello("g")),
            "x-switchyard-deployment"
        ),
        "a"
    );
    assert_eq!((a.count(), b.count()), (2, 2));
}

#[test]
fn allowed_fails_cools_a_deployment_after_that_many_failures_a_minute() {
    let a = MockProvider::start(Flavor::OpenAi);
    let b = MockProvider::start(Flavor::OpenAi);
    a.always(Behaviour::Status(500, String::new(), None));
    let gw = gateway(
        &[
            dep("g", "a", "openai/gpt-a", &a, &["order: 1"]),
            dep("g", "b", "openai/gpt-b", &b, &["order: 2"]),
        ],
        "  num_retries: 1\n  allowed_fails: 2\n  cooldown_time: 30\n",
    );
    for i in 1..=5 {
        let r = gw.post("/v1/chat/completions", Some(KEY), &hello("g"));
        assert_eq!(header(&r, "x-switchyard-deployment"), "b", "call {i}");
    }
    // Failures 1 and 2 are allowed; the third cools `a`, which is then
    // skipped for the rest of the test.
    assert_eq!((a.count(), b.count()), (3, 5));
}

#[test]
fn allowed_fails_policy_cools_on_the_first_timeout() {
    let a = MockProvider::start(Flavor::OpenAi);
    let b = MockProvider::start(Flavor::OpenAi);
    a.always(Behaviour::Delay(Duration::from_secs(3)));
    let gw = gateway(
        &[
            dep("g", "a", "openai/gpt-a", &a, &["order: 1", "timeout: 0.3"]),
            dep("g", "b", "openai/gpt-b", &b, &["order: 2"]),
        ],
        "  allowed_fails_policy: {TimeoutErrorAllowedFails: 0}\n  cooldown_time: 30\n",
    );
    for _ in 0..3 {
        let r = gw.post("/v1/chat/completions", Some(KEY), &hello("g"));
        assert_eq!(header(&r, "x-switchyard-deployment"), "b");
    }
    assert_eq!((a.count(), b.count()), (1, 3));
}

#[test]
fn every_deployment_cooling_is_a_429_that_says_when_to_retry() {
    let m = MockProvider::start(Flavor::OpenAi);
    m.push(Behaviour::Status(429, String::new(), Some(3)));
    // Retry-After (3 s) is longer than cooldown_time, so it sets the wait.
    let gw = gateway(
        &[dep("g", "only", "openai/gpt-a", &m, &[])],
        "  cooldown_time: 1\n",
    );
    let r = gw.post("/v1/chat/completions", Some(KEY), &hello("g"));
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(
        r.json()["error"]["message"],
        Flavor::OpenAi.error_message(429),
        "the provider's own message"
    );
    assert_eq!(r.header("retry-after"), Some("3"));

    let r = gw.post("/v1/chat/completions", Some(KEY), &hello("g"));
    assert_eq!(r.status, 429, "{}", r.body);
    let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        msg.contains("retry in 3s") && msg.contains("cooling down"),
        "{msg}"
    );
    assert_eq!(r.header("retry-after"), Some("3"));
    assert_eq!(r.json()["error"]["type"], "rate_limit_error");
    assert_eq!(m.count(), 1, "a cooling deployment is not called");
}

#[test]
fn fallbacks_take_over_once_retries_are_spent() {
    let p = MockProvider::start(Flavor::OpenAi);
    let s = MockProvider::start(Flavor::Anthropic);
    p.always(Behaviour::Status(500, String::new(), None));
    let gw = gateway(
        &[
            dep("primary", "p", "openai/gpt-a", &p, &[]),
            dep("secondary", "s", "anthropic/claude-x", &s, &[]),
        ],
        "  num_retries: 1\n  allowed_fails: 100\n  fallbacks: [{primary: [secondary]}]\n",
    );
    let r = gw.post("/v1/chat/completions", Some(KEY), &hello("primary"));
    assert_eq!(text(&r), Flavor::Anthropic.answer_text());
    assert_eq!(header(&r, "x-switchyard-model-group"), "secondary");
    assert_eq!(header(&r, "x-switchyard-deployment"), "s");
    assert_eq!(header(&r, "x-switchyard-fallbacks"), "1");
    assert_eq!(header(&r, "x-switchyard-attempts"), "3");
    assert_eq!((p.count(), s.count()), (2, 1));

    // Streams fall back too, before anything reaches the client.
    let r = gw.post("/v1/chat/completions", Some(KEY), &stream("primary"));
    assert_eq!(
        streamed_text(&stream_chunks(&r)),
        Flavor::Anthropic.answer_text()
    );
    assert_eq!(header(&r, "x-switchyard-model-group"), "secondary");
    assert_eq!((p.count(), s.count()), (4, 2));

    // disable_fallbacks: the primary's error.
    let mut body = hello("primary");
    body["disable_fallbacks"] = json!(true);
    let r = gw.post("/v1/chat/completions", Some(KEY), &body);
    assert_eq!(r.status, 502, "{}", r.body);
    assert_eq!((p.count(), s.count()), (6, 2));
}

#[test]
fn request_fallbacks_replace_the_configured_ones_and_max_fallbacks_caps_them() {
    let p = MockProvider::start(Flavor::OpenAi);
    let x = MockProvider::start(Flavor::OpenAi);
    let y = MockProvider::start(Flavor::OpenAi);
    let z = MockProvider::start(Flavor::Gemini);
    p.always(Behaviour::Status(503, String::new(), None));
    x.always(Behaviour::Status(503, String::new(), None));
    y.always(Behaviour::Status(503, String::new(), None));
    let gw = gateway(
        &[
            dep("p", "p", "openai/m", &p, &[]),
            dep("x", "x", "openai/m", &x, &[]),
            dep("y", "y", "openai/m", &y, &[]),
            dep("z", "z", "gemini/gemini-2.0-flash", &z, &[]),
        ],
        "  num_retries: 0\n  allowed_fails: 100\n  fallbacks: [{p: [x, y, z]}]\n  max_fallbacks: 2\n",
    );
    // x and y are tried; z would be the third fallback.
    let r = gw.post("/v1/chat/completions", Some(KEY), &hello("p"));
    assert_eq!(r.status, 502, "{}", r.body);
    assert_eq!((p.count(), x.count(), y.count(), z.count()), (1, 1, 1, 0));

    let mut body = hello("p");
    body["fallbacks"] = json!(["z"]);
    let r = gw.post("/v1/chat/completions", Some(KEY), &body);
    assert_eq!(text(&r), Flavor::Gemini.answer_text());
    assert_eq!(header(&r, "x-switchyard-model-group"), "z");
    assert_eq!((p.count(), x.count(), y.count(), z.count()), (2, 1, 1, 1));

    body["fallbacks"] = json!(["nope"]);
    let r = gw.post("/v1/chat/completions", Some(KEY), &body);
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["error"]["param"], "fallbacks");
}

#[test]
fn default_fallbacks_serve_groups_without_their_own() {
    let p = MockProvider::start(Flavor::OpenAi);
    let d = MockProvider::start(Flavor::OpenAi);
    p.always(Behaviour::DropConnection);
    let gw = gateway(
        &[
            dep("p", "p", "openai/m", &p, &[]),
            dep("d", "d", "openai/m", &d, &[]),
        ],
        "  num_retries: 0\n  default_fallbacks: [d]\n",
    );
    let r = gw.post("/v1/chat/completions", Some(KEY), &hello("p"));
    assert_eq!(header(&r, "x-switchyard-model-group"), "d");
    assert_eq!((p.count(), d.count()), (1, 1));
}

#[test]
fn context_window_fallbacks_before_and_after_the_call() {
    let short = MockProvider::start(Flavor::OpenAi);
    let long = MockProvider::start(Flavor::Anthropic);
    let other = MockProvider::start(Flavor::OpenAi);
    let gw = gateway(
        &[
            short_window(&short),
            dep("long", "long", "anthropic/claude-x", &long, &[]),
            dep("other", "other", "openai/m", &other, &[]),
        ],
        "  context_window_fallbacks: [{short: [long]}]\n  fallbacks: [{short: [other]}]\n",
    );
    // Known too long for `short` before any call: straight to `long`.
    let body = too_long("short");
    let r = gw.post("/v1/chat/completions", Some(KEY), &body);
    assert_eq!(text(&r), Flavor::Anthropic.answer_text());
    assert_eq!(header(&r, "x-switchyard-model-group"), "long");
    assert_eq!((short.count(), long.count(), other.count()), (0, 1, 0));

    // The provider says so: the context-window list, not the generic one.
    short.push(Behaviour::ContextLengthError);
    let r = gw.post("/v1/chat/completions", Some(KEY), &hello("short"));
    assert_eq!(header(&r, "x-switchyard-model-group"), "long");
    assert_eq!((short.count(), long.count(), other.count()), (1, 2, 0));
}

#[test]
fn a_prompt_too_long_for_every_deployment_is_a_400_without_a_call() {
    let m = MockProvider::start(Flavor::OpenAi);
    let gw = gateway(
        &[dep_info(
            "g",
            "g",
            "openai/m",
            &m,
            &[],
            &["max_input_tokens: 20"],
        )],
        "",
    );
    let body = too_long("g");
    let r = gw.post("/v1/chat/completions", Some(KEY), &body);
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "context_length_exceeded");
    assert_eq!(m.count(), 0);
}

#[test]
fn streams_that_break_before_their_first_event_are_retried_elsewhere() {
    let a = MockProvider::start(Flavor::OpenAi);
    let b = MockProvider::start(Flavor::Gemini);
    a.script([
        Behaviour::StreamBreakBeforeFirstEvent,
        Behaviour::Status(429, String::new(), None),
    ]);
    let gw = gateway(
        &[
            dep("g", "a", "openai/m", &a, &["order: 1"]),
            dep("g", "b", "gemini/gemini-2.0-flash", &b, &["order: 2"]),
        ],
        "  disable_cooldowns: true\n",
    );
    for i in 0..2 {
        let r = gw.post("/v1/chat/completions", Some(KEY), &stream("g"));
        assert_eq!(
            streamed_text(&stream_chunks(&r)),
            Flavor::Gemini.answer_text(),
            "call {i}"
        );
        assert_eq!(header(&r, "x-switchyard-attempts"), "2", "call {i}");
    }
    assert_eq!((a.count(), b.count()), (2, 2));
}

#[test]
fn rpm_limits_are_respected_by_routing() {
    let a = MockProvider::start(Flavor::OpenAi);
    let b = MockProvider::start(Flavor::OpenAi);
    let gw = gateway(
        &[
            dep("g", "a", "openai/m", &a, &["order: 1", "rpm: 2"]),
            dep("g", "b", "openai/m", &b, &["order: 2"]),
        ],
        "",
    );
    let served: Vec<String> = (0..4)
        .map(|_| {
            header(
                &gw.post("/v1/chat/completions", Some(KEY), &hello("g")),
                "x-switchyard-deployment",
            )
            .to_string()
        })
        .collect();
    assert_eq!(served, ["a", "a", "b", "b"]);
    assert_eq!((a.count(), b.count()), (2, 2));

    // With nowhere else to go, the client is told when the minute ends.
    let only = MockProvider::start(Flavor::OpenAi);
    let gw = gateway(&[dep("g", "only", "openai/m", &only, &["rpm: 1"])], "");
    assert_eq!(
        gw.post("/v1/chat/completions", Some(KEY), &hello("g"))
            .status,
        200
    );
    let r = gw.post("/v1/chat/completions", Some(KEY), &hello("g"));
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.body.contains("rpm limit of 1"), "{}", r.body);
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(only.count(), 1);
}

#[test]
fn background_health_checks_report_each_deployment() {
    let ok = MockProvider::start(Flavor::OpenAi);
    let bad = MockProvider::start(Flavor::Anthropic);
    bad.always(Behaviour::Status(500, String::new(), None));
    let gw = Gateway::start_with_plugins(
        &["default-router", "openai", "anthropic"],
        &format!(
            "{}  background_health_checks: true\n  health_check_interval: 0.3\n",
            config_with(&[
                dep("g", "ok", "openai/m", &ok, &[]),
                dep("g", "bad", "anthropic/claude-x", &bad, &[]),
            ])
        ),
    );
    eventually("both checked", Duration::from_secs(10), || {
        ok.count() > 0 && bad.count() > 0
    });
    // The check is a one-token chat completion.
    let probe = ok.requests()[0].body.clone();
    assert_eq!(probe["max_tokens"], 1, "{probe}");
    let mut health = Value::Null;
    eventually("reported", Duration::from_secs(10), || {
        health = gw.get("/health", Some(KEY)).json();
        health["healthy_count"] == 1 && health["unhealthy_count"] == 1
    });
    let bad_row = &health["unhealthy_endpoints"][0];
    assert_eq!(bad_row["id"], "bad");
    assert_eq!(bad_row["status"], "unhealthy");
    assert!(
        bad_row["error"].as_str().unwrap().contains("health check"),
        "{bad_row}"
    );
    assert_eq!(health["healthy_endpoints"][0]["id"], "ok");
    assert!(health["healthy_endpoints"][0]["checked_seconds_ago"].is_number());
}

/// Real users' config 1: the hosted API rate-limits and a local
/// OpenAI-compatible server (here speaking as Ollama) answers instead.
#[test]
fn scenario_hosted_api_rate_limited_local_server_answers() {
    let hosted = MockProvider::start(Flavor::OpenAi);
    let local = MockProvider::start(Flavor::OpenAi);
    hosted.always(Behaviour::Status(429, String::new(), Some(20)));
    let gw = gateway(
        &[
            dep(
                "gpt-4o",
                "openai-gpt-4o",
                "openai/gpt-4o",
                &hosted,
                &["api_key: sk-hosted"],
            ),
            dep("local", "ollama-llama", "ollama/llama3.1", &local, &[]),
        ],
        "  num_retries: 2\n  fallbacks: [{gpt-4o: [local]}]\n",
    );
    for i in 0..5 {
        let body = if i % 2 == 0 {
            hello("gpt-4o")
        } else {
            stream("gpt-4o")
        };
        let r = gw.post("/v1/chat/completions", Some(KEY), &body);
        let answer = if i % 2 == 0 {
            text(&r)
        } else {
            streamed_text(&stream_chunks(&r))
        };
        assert_eq!(answer, Flavor::OpenAi.answer_text(), "call {i}");
        assert_eq!(header(&r, "x-switchyard-model-group"), "local", "call {i}");
        assert_eq!(header(&r, "x-switchyard-deployment"), "ollama-llama");
    }
    // Once: the 429 cooled the hosted deployment for its Retry-After.
    assert_eq!(hosted.count(), 1);
    assert_eq!(local.count(), 5);
    assert_eq!(local.requests()[0].body["model"], "llama3.1");
    assert!(local.requests()[0].header("authorization").is_none());
}

/// Real users' config 2: eight deployments over three providers in four
/// tiers, each tier with a fallback chain. One provider goes down: every
/// request is still answered; the provider is cooled, and brought back once
/// it recovers.
#[test]
fn scenario_four_tiers_survive_a_provider_outage() {
    let openai = MockProvider::start(Flavor::OpenAi);
    let anthropic = MockProvider::start(Flavor::Anthropic);
    let gemini = MockProvider::start(Flavor::Gemini);
    let entries = [
        dep("tier1", "t1-openai", "openai/gpt-4o-mini", &openai, &[]),
        dep(
            "tier1",
            "t1-gemini",
            "gemini/gemini-2.0-flash-lite",
            &gemini,
            &[],
        ),
        dep(
            "tier2",
            "t2-anthropic",
            "anthropic/claude-haiku",
            &anthropic,
            &["order: 1"],
        ),
        dep(
            "tier2",
            "t2-openai",
            "openai/gpt-4o",
            &openai,
            &["order: 2"],
        ),
        // Tier 3 is all Anthropic: in the outage its fallback serves it.
        dep(
            "tier3",
            "t3-anthropic-us",
            "anthropic/claude-sonnet",
            &anthropic,
            &[],
        ),
        dep(
            "tier3",
            "t3-anthropic-eu",
            "anthropic/claude-sonnet-eu",
            &anthropic,
            &[],
        ),
        dep(
            "tier4",
            "t4-anthropic",
            "anthropic/claude-opus",
            &anthropic,
            &[],
        ),
        dep("tier4", "t4-openai", "openai/o3", &openai, &[]),
    ];
    let gw = gateway(
        &entries,
        "  num_retries: 1\n  allowed_fails: 1\n  cooldown_time: 1\n  fallbacks:\n    - {tier1: [tier2, tier3]}\n    - {tier2: [tier3, tier4]}\n    - {tier3: [tier4]}\n    - {tier4: [tier3]}\n",
    );
    let served_by_anthropic = |from: usize| {
        anthropic.requests()[from..]
            .iter()
            .filter(|r| r.path == "/v1/messages")
            .count()
    };
    // Every tier, plain and streamed; how many answers came from a fallback.
    let round = |label: &str| {
        let mut fell_back = 0;
        for tier in ["tier1", "tier2", "tier3", "tier4"] {
            for body in [hello(tier), stream(tier)] {
                let r = gw.post("/v1/chat/completions", Some(KEY), &body);
                assert_eq!(r.status, 200, "{label} {tier}: {}", r.body);
                if body["stream"] == true {
                    assert!(
                        !streamed_text(&stream_chunks(&r)).is_empty(),
                        "{label} {tier}"
                    );
                } else {
                    assert!(!text(&r).is_empty(), "{label} {tier}");
                }
                if header(&r, "x-switchyard-fallbacks") != "0" {
                    fell_back += 1;
                }
            }
        }
        fell_back
    };
    assert_eq!(round("before"), 0);
    assert!(
        served_by_anthropic(0) > 0,
        "anthropic serves in normal times"
    );

    // Anthropic goes down; everything is still answered.
    anthropic.always(Behaviour::Status(529, String::new(), None));
    let down_at = anthropic.count();
    let outage = Instant::now();
    let mut rounds = 0;
    let mut fell_back = 0;
    while outage.elapsed() < Duration::from_secs(3) {
        fell_back += round("outage");
        rounds += 1;
    }
    assert!(
        fell_back >= rounds,
        "tier 3 fell back to tier 4 in every round"
    );
    let outage_calls = anthropic.count() - down_at;
    // Cooled after its second failure in a minute, each of the five
    // Anthropic deployments is tried again only when its 1 s cooldown ends:
    // a handful of calls each, not one per request.
    assert!(
        outage_calls <= 5 * 6,
        "anthropic got {outage_calls} calls in {rounds} rounds while down"
    );
    let health = gw.get("/health", Some(KEY)).json();
    assert!(
        health["cooling_down_count"].as_u64().unwrap() >= 1,
        "{health}"
    );

    // It recovers: after the cooldown it serves again.
    anthropic.always(Behaviour::Answer);
    std::thread::sleep(Duration::from_millis(1100));
    let back_at = anthropic.count();
    round("after");
    round("after");
    assert!(
        served_by_anthropic(back_at) > 0,
        "anthropic is back in rotation"
    );
}

/// Two replicas sharing Redis: a cooldown taken by one is honoured by the
/// other, and both report the shared state.
#[test]
fn a_cooldown_taken_by_one_replica_is_honoured_by_another() {
    let a = MockProvider::start(Flavor::OpenAi);
    let b = MockProvider::start(Flavor::OpenAi);
    a.always(Behaviour::Status(429, String::new(), Some(30)));
    let prefix = format!("switchyard-e2e-{}-{}", std::process::id(), free_port());
    let settings = format!("  redis_url: redis://127.0.0.1:6379\n  redis_key_prefix: {prefix}\n");
    let entries = [
        dep("g", "a", "openai/m", &a, &["order: 1"]),
        dep("g", "b", "openai/m", &b, &["order: 2"]),
    ];
    let one = gateway(&entries, &settings);
    let two = gateway(&entries, &settings);
    for gw in [&one, &two] {
        let mut ready = Value::Null;
        eventually("redis synced", Duration::from_secs(10), || {
            ready = gw.get("/health/readiness", None).json();
            ready["shared_state"]["connected"] == true
        });
        assert_eq!(ready["shared_state"]["backend"], "redis");
    }

    let r = one.post("/v1/chat/completions", Some(KEY), &hello("g"));
    assert_eq!(header(&r, "x-switchyard-deployment"), "b");
    assert_eq!((a.count(), b.count()), (1, 1));

    // Within a sync interval the other replica knows.
    eventually(
        "the cooldown reached replica two",
        Duration::from_secs(5),
        || two.get("/health", Some(KEY)).json()["cooling_down_count"] == 1,
    );
    for _ in 0..3 {
        let r = two.post("/v1/chat/completions", Some(KEY), &hello("g"));
        assert_eq!(header(&r, "x-switchyard-deployment"), "b");
    }
    assert_eq!((a.count(), b.count()), (1, 4), "replica two never called a");

    // Usage is shared too: both replicas count all four requests.
    eventually("usage shared", Duration::from_secs(5), || {
        let rows = |gw: &Gateway| gw.get("/health", Some(KEY)).json();
        [&one, &two].iter().all(|gw| {
            rows(gw)["healthy_endpoints"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["id"] == "b" && e["rpm_used"] == 4)
        })
    });
}

/// A replica that cannot reach Redis keeps serving on local state and says
/// so.
#[test]
fn a_replica_without_redis_serves_on_local_state_and_says_so() {
    let m = MockProvider::start(Flavor::OpenAi);
    let closed = free_port();
    let gw = gateway(
        &[dep("g", "only", "openai/m", &m, &[])],
        &format!("  redis_host: 127.0.0.1\n  redis_port: {closed}\n"),
    );
    let mut ready = Value::Null;
    eventually(
        "redis reported unreachable",
        Duration::from_secs(10),
        || {
            ready = gw.get("/health/readiness", None).json();
            ready["shared_state"]["error"].is_string()
                && ready["shared_state"]["error"] != "not synced yet"
        },
    );
    assert_eq!(ready["status"], "healthy", "{ready}");
    assert_eq!(ready["shared_state"]["connected"], false, "{ready}");
    assert_eq!(
        text(&gw.post("/v1/chat/completions", Some(KEY), &hello("g"))),
        Flavor::OpenAi.answer_text()
    );
    eventually("logged", Duration::from_secs(5), || {
        gw.log().contains("redis unreachable")
    });
}

#[test]
fn a_garbled_answer_is_a_502_and_another_deployment_is_tried() {
    let a = MockProvider::start(Flavor::OpenAi);
    let b = MockProvider::start(Flavor::OpenAi);
    a.always(Behaviour::Status(
        200,
        "<html>upstream proxy error</html>".into(),
        None,
    ));
    let gw = gateway(
        &[
            dep("g", "a", "openai/m", &a, &["order: 1"]),
            dep("solo", "solo", "openai/m", &a, &[]),
            dep("g", "b", "openai/m", &b, &["order: 2"]),
        ],
        "  num_retries: 1\n  allowed_fails: 100\n",
    );
    let r = gw.post("/v1/chat/completions", Some(KEY), &hello("g"));
    assert_eq!(header(&r, "x-switchyard-deployment"), "b");
    assert_eq!((a.count(), b.count()), (1, 1));

    // Nowhere else to go: a 502 that says what went wrong, and how many
    // attempts were made.
    let r = gw.post("/v1/chat/completions", Some(KEY), &hello("solo"));
    assert_eq!(r.status, 502, "{}", r.body);
    assert_eq!(r.json()["error"]["type"], "api_error");
    let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        msg.contains("could not read") && msg.contains("not valid JSON"),
        "{msg}"
    );
    assert_eq!(header(&r, "x-switchyard-attempts"), "2");
    assert_eq!(header(&r, "x-switchyard-fallbacks"), "0");
    assert_eq!(a.count(), 3);
}

#[test]
fn the_fallback_list_is_chosen_once_and_walked_to_its_end() {
    let short = MockProvider::start(Flavor::OpenAi);
    let long1 = MockProvider::start(Flavor::OpenAi);
    let long2 = MockProvider::start(Flavor::Anthropic);
    let other = MockProvider::start(Flavor::OpenAi);
    long1.always(Behaviour::Status(503, String::new(), None));
    let gw = gateway(
        &[
            short_window(&short),
            dep("long1", "long1", "openai/m", &long1, &[]),
            dep("long2", "long2", "anthropic/claude-x", &long2, &[]),
            dep("other", "other", "openai/m", &other, &[]),
        ],
        "  num_retries: 0\n  context_window_fallbacks: [{short: [long1, long2]}]\n  fallbacks: [{short: [other]}]\n",
    );
    let body = too_long("short");
    let r = gw.post("/v1/chat/completions", Some(KEY), &body);
    // long1 fails with a server error: the context-window list goes on to
    // long2 rather than switching to the generic list.
    assert_eq!(text(&r), Flavor::Anthropic.answer_text());
    assert_eq!(header(&r, "x-switchyard-model-group"), "long2");
    assert_eq!(header(&r, "x-switchyard-fallbacks"), "2");
    assert_eq!(
        (short.count(), long1.count(), long2.count(), other.count()),
        (0, 1, 1, 0)
    );
}

#[test]
fn a_deployment_no_adapter_serves_fails_at_once_with_a_configuration_error() {
    let backup = MockProvider::start(Flavor::OpenAi);
    let gw = gateway(
        &[
            // No adapter serves `bedrock`: the mock behind it is never called.
            dep("g", "orphan", "bedrock/claude-x", &backup, &[]),
            dep("backup", "backup", "openai/m", &backup, &[]),
        ],
        "  num_retries: 3\n  allowed_fails: 1\n  fallbacks: [{g: [backup]}]\n",
    );
    // Twice, streamed or not: the first failure did not cool `orphan` down
    // (with allowed_fails 1 it would be cooling, and the answer a 503).
    for stream_it in [false, true] {
        let body = if stream_it { stream("g") } else { hello("g") };
        let r = gw.post("/v1/chat/completions", Some(KEY), &body);
        assert_eq!(r.status, 500, "{}", r.body);
        let e = &r.json()["error"];
        assert_eq!(e["type"], "internal_server_error", "{e}");
        assert_eq!(e["code"], "no_provider_adapter", "{e}");
        let msg = e["message"].as_str().unwrap();
        assert!(
            msg.contains("deployment orphan")
                && msg.contains(r#"prefix "bedrock""#)
                && msg.contains(r#"the config needs an adapter plugin for "bedrock""#),
            "{msg}"
        );
        // One attempt: no retry, no fallback to the working group.
        assert_eq!(header(&r, "x-switchyard-attempts"), "1");
        assert_eq!(header(&r, "x-switchyard-fallbacks"), "0");
    }
    assert_eq!(backup.count(), 0);
    let health = gw.get("/health", Some(KEY)).json();
    assert_eq!(health["cooling_down_count"], 0, "{health}");
    let orphan = health["unhealthy_endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "orphan")
        .unwrap_or_else(|| panic!("orphan is listed as unhealthy: {health}"))
        .clone();
    assert_eq!(orphan["status"], "unhealthy", "{orphan}");
    assert_eq!(orphan["last_error"], Value::Null, "not counted: {orphan}");
}
