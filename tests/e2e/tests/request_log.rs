//! One log line per request: every field an operator greps for (request
//! id, key alias, team, model group, deployment, attempts, fallbacks,
//! tokens, cost, cache, status, overhead and total latency), as JSON when
//! the config (`litellm_settings.json_logs`) or `SWITCHYARD_LOG_FORMAT`
//! asks, every other line JSON too (plugins' output with the plugin's
//! name), text otherwise; never the prompt or the answer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod observed;

use serde_json::{Value, json};
use switchyard_e2e::mock::*;
use switchyard_e2e::*;

use observed::Observed;

/// A prompt no log line may contain.
const PROMPT: &str = "tell me about the purple elephant 7731";

fn chat(model: &str, stream: bool) -> Value {
    let mut body = json!({"model": model, "messages": [{"role": "user", "content": PROMPT}]});
    if stream {
        body["stream"] = json!(true);
        body["stream_options"] = json!({"include_usage": true});
    }
    body
}

fn config(mock: &MockProvider, settings: &str) -> String {
    format!(
        "{}router_settings:\n  num_retries: 1\n  disable_cooldowns: true\n{settings}",
        config_with(&[model_entry(
            "gpt",
            "openai/gpt-4o-mini",
            &mock.url(),
            &["api_key: sk-upstream-log-test"],
        )])
    )
}

/// Every line of the log as JSON (each must be one).
fn json_lines(log: &str) -> Vec<Value> {
    log.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// The request lines, by request id.
fn request_lines(lines: &[Value]) -> Vec<&Value> {
    lines
        .iter()
        .filter(|l| l["target"] == "switchyard::request")
        .collect()
}

fn line_of<'a>(lines: &[&'a Value], reply: &Reply) -> &'a Value {
    let id = reply.header("x-switchyard-call-id").unwrap();
    let found: Vec<_> = lines.iter().filter(|l| l["request_id"] == id).collect();
    assert_eq!(found.len(), 1, "one line for {id}: {lines:?}");
    found[0]
}

#[test]
fn json_logs_in_the_config_give_one_json_line_per_request_with_every_field() {
    let mock = MockProvider::start(Flavor::OpenAi);
    let mut gw = Observed::start(
        tempfile::tempdir().unwrap(),
        &config(&mock, "litellm_settings:\n  json_logs: true\n"),
        &[],
    );
    let team = gw.post(
        "/team/new",
        Some(KEY),
        &[],
        &json!({"team_id": "t-support"}),
    );
    assert_eq!(team.status, 200, "{}", team.body);
    let key = gw.post(
        "/key/generate",
        Some(KEY),
        &[],
        &json!({"key_alias": "support-bot", "team_id": "t-support"}),
    );
    assert_eq!(key.status, 200, "{}", key.body);
    let key = key.json()["key"].as_str().unwrap().to_string();

    let whole = gw.post("/v1/chat/completions", Some(&key), &[], &chat("gpt", false));
    assert_eq!(whole.status, 200, "{}", whole.body);
    mock.push(Behaviour::Status(500, String::new(), None));
    let retried = gw.post("/v1/chat/completions", Some(&key), &[], &chat("gpt", false));
    assert_eq!(retried.status, 200, "{}", retried.body);
    let streamed = gw.post("/v1/chat/completions", Some(&key), &[], &chat("gpt", true));
    stream_chunks(&streamed);
    let unknown = gw.post(
        "/v1/chat/completions",
        Some(&key),
        &[],
        &chat("nope", false),
    );
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    assert!(gw.stop().success());

    let log = gw.log();
    let lines = json_lines(&log);
    let requests = request_lines(&lines);
    assert_eq!(requests.len(), 4, "{log}");
    let deployment = whole.header("x-switchyard-deployment").unwrap();

    let w = line_of(&requests, &whole);
    assert_eq!(w["level"], "INFO", "{w}");
    assert_eq!(w["message"], "request", "{w}");
    for (field, want) in [
        ("key_alias", json!("support-bot")),
        ("team_id", json!("t-support")),
        ("model_group", json!("gpt")),
        ("deployment", json!(deployment)),
        ("provider", json!("openai")),
        ("status", json!(200)),
        ("attempts", json!(1)),
        ("fallbacks", json!(0)),
        ("input_tokens", json!(PROMPT_TOKENS)),
        ("output_tokens", json!(COMPLETION_TOKENS)),
        ("streamed", json!(false)),
    ] {
        assert_eq!(w[field], want, "{field} in {w}");
    }
    let cost: f64 = whole
        .header("x-switchyard-response-cost")
        .unwrap()
        .parse()
        .unwrap();
    // To a ten-billionth of a dollar.
    assert!(
        (w["cost_usd"].as_f64().unwrap() - cost).abs() < 1e-10,
        "{cost}: {w}"
    );
    assert!(cost > 0.0);
    let overhead = w["overhead_ms"].as_f64().unwrap();
    let latency = w["latency_ms"].as_f64().unwrap();
    assert!(overhead > 0.0 && latency >= overhead, "{w}");
    assert!(w["upstream_ms"].as_f64().unwrap() > 0.0, "{w}");
    for absent in ["error", "error_kind", "cache", "ttft_ms", "tier"] {
        assert!(w.get(absent).is_none(), "{absent} in {w}");
    }

    let r = line_of(&requests, &retried);
    assert_eq!(
        (&r["attempts"], &r["status"]),
        (&json!(2), &json!(200)),
        "{r}"
    );

    let s = line_of(&requests, &streamed);
    assert_eq!(s["streamed"], true, "{s}");
    assert_eq!(s["input_tokens"], json!(PROMPT_TOKENS), "{s}");
    assert_eq!(s["output_tokens"], json!(COMPLETION_TOKENS), "{s}");
    assert!(s["ttft_ms"].as_f64().unwrap() > 0.0, "{s}");

    let u = line_of(&requests, &unknown);
    assert_eq!(u["status"], 404, "{u}");
    assert_eq!(u["error_kind"], "model_not_found", "{u}");
    assert!(
        u["error"]
            .as_str()
            .unwrap()
            .contains("`nope` does not exist"),
        "{u}"
    );
    assert!(u.get("model_group").is_none(), "{u}");

    // Neither the prompt nor the answer, nor any key, is in any line.
    for secret in [
        PROMPT,
        Flavor::OpenAi.answer_text(),
        &key,
        KEY,
        "sk-upstream-log-test",
    ] {
        assert!(!log.contains(secret), "{secret:?} is in the log:\n{log}");
    }
}

#[test]
fn switchyard_log_format_json_makes_plugin_output_json_with_the_plugin_name() {
    let mock = MockProvider::start(Flavor::OpenAi);
    let dir = tempfile::tempdir().unwrap();
    let section = plugins_section(&dir.path().join("plugins"), &["openai", "misbehave"]);
    let config = format!(
        "{}{section}  router: misbehave\n  settings:\n    misbehave: {{config: {{mode: noisy}}}}\n",
        config(&mock, "")
    );
    let mut gw = Observed::start(dir, &config, &[("SWITCHYARD_LOG_FORMAT", "json")]);
    let body = json!({"model": "gpt", "messages": [{"role": "user", "content": "please print"}]});
    let r = gw.post("/v1/chat/completions", Some(KEY), &[], &body);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(gw.stop().success());
    let log = gw.log();
    let lines = json_lines(&log);
    for text in [
        "misbehave: printed to stdout",
        "misbehave: printed to stderr",
    ] {
        let found: Vec<_> = lines.iter().filter(|l| l["message"] == text).collect();
        assert_eq!(found.len(), 1, "{text}:\n{log}");
        assert_eq!(found[0]["plugin"], "misbehave", "{}", found[0]);
    }
    assert_eq!(request_lines(&lines).len(), 1, "{log}");
    // The lines before the config was read (none) and after are all JSON,
    // the start-up ones included.
    assert!(
        lines.iter().any(|l| l["message"] == "switchyard listening"),
        "{log}"
    );
}

#[test]
fn text_is_the_default_and_switchyard_log_format_text_overrides_the_config() {
    let mock = MockProvider::start(Flavor::OpenAi);
    for (settings, env) in [
        ("", vec![]),
        (
            "litellm_settings:\n  json_logs: true\n",
            vec![("SWITCHYARD_LOG_FORMAT", "text")],
        ),
    ] {
        let mut gw = Observed::start(tempfile::tempdir().unwrap(), &config(&mock, settings), &env);
        let r = gw.post("/v1/chat/completions", Some(KEY), &[], &chat("gpt", false));
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(gw.stop().success());
        let log = gw.log();
        assert!(!log.trim_start().starts_with('{'), "{log}");
        let id = r.header("x-switchyard-call-id").unwrap();
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("switchyard::request: request "))
            .collect();
        assert_eq!(lines.len(), 1, "{log}");
        let line = lines[0];
        assert!(line.contains(" INFO "), "{line}");
        for part in [
            format!("request_id=\"{id}\""),
            "model_group=\"gpt\"".into(),
            "status=200".into(),
            "attempts=1".into(),
            format!("input_tokens={PROMPT_TOKENS}"),
            format!("output_tokens={COMPLETION_TOKENS}"),
        ] {
            assert!(line.contains(&part), "{part} not in {line}");
        }
        assert!(!log.contains(PROMPT), "{log}");
    }
}
