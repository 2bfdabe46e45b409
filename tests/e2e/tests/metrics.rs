//! `GET /metrics` on a live gateway after a known set of requests: counts,
//! tokens and cost equal to what the clients saw; a fallback, a cooldown,
//! a cache hit, a refused request and a plugin trap each move their
//! counter by exactly one; LiteLLM's names with the `prometheus` callback;
//! caller labels only as aliases; and every metric the shipped Grafana
//! dashboard queries exists.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use switchyard_e2e::mock::*;
use switchyard_e2e::*;

/// One sample: name, labels, value.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A scrape, parsed.
struct Scrape {
    text: String,
    samples: Vec<Sample>,
}

impl Scrape {
    fn of(gw: &Gateway, key: Option<&str>) -> Scrape {
        let r = gw.get("/metrics", key);
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(
            r.header("content-type")
                .unwrap()
                .starts_with("text/plain; version=0.0.4"),
            "{:?}",
            r.headers
        );
        Scrape {
            samples: parse(&r.body),
            text: r.body,
        }
    }

    /// The sum of `name`'s samples whose labels include every `(k, v)`.
    fn sum(&self, name: &str, with: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| {
                with.iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
            .sum()
    }

    /// Every family name the scrape declares, with a histogram's series
    /// names.
    fn names(&self) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        for line in self.text.lines() {
            let Some(rest) = line.strip_prefix("# TYPE ") else {
                continue;
            };
            let (name, kind) = rest.split_once(' ').unwrap();
            names.insert(name.to_string());
            if kind == "histogram" {
                for suffix in ["_bucket", "_sum", "_count"] {
                    names.insert(format!("{name}{suffix}"));
                }
            }
        }
        names
    }
}

/// Prometheus text format, as much of it as the gateway writes.
fn parse(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (series, value) = line.rsplit_once(' ').unwrap();
        let value = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series.to_string(), BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').unwrap();
                let mut labels = BTreeMap::new();
                let mut rest = body;
                while !rest.is_empty() {
                    let (k, after) = rest.split_once("=\"").unwrap();
                    // Values here hold no escaped quotes.
                    let end = after.find('"').unwrap();
                    labels.insert(k.to_string(), after[..end].to_string());
                    rest = after[end + 1..].trim_start_matches(',');
                }
                (name.to_string(), labels)
            }
        };
        out.push(Sample {
            name,
            labels,
            value,
        });
    }
    out
}

/// $0.001 a token each way.
fn priced(mock: &MockProvider, group: &str, id: &str) -> String {
    format!(
        "{}    model_info:\n      id: {id}\n      input_cost_per_token: 0.001\n      output_cost_per_token: 0.001\n",
        model_entry(
            group,
            "openai/gpt-4o-mini",
            &mock.url(),
            &["api_key: sk-up"]
        )
    )
}

fn chat(model: &str, prompt: &str) -> Value {
    json!({"model": model, "max_tokens": 5, "messages": [{"role": "user", "content": prompt}]})
}

/// What the clients saw, summed.
#[derive(Default, Debug)]
struct Seen {
    requests: u64,
    ok: u64,
    tokens: u64,
    cost: f64,
}

impl Seen {
    fn add(&mut self, r: &Reply) {
        self.requests += 1;
        if r.status != 200 {
            return;
        }
        self.ok += 1;
        if r.header("content-type") == Some("text/event-stream") {
            // A stream's cost is known only at its end, after its headers:
            // the client prices its usage chunk ($0.001 a token each way).
            let usage = usage_chunks(&stream_chunks(r))
                .last()
                .map(|c| c["usage"].clone())
                .unwrap();
            let tokens = usage["total_tokens"].as_u64().unwrap();
            self.tokens += tokens;
            self.cost += tokens as f64 * 0.001;
        } else {
            let cost = r
                .header("x-switchyard-response-cost")
                .unwrap_or_else(|| panic!("no cost header: {:?}", r.headers))
                .parse::<f64>()
                .unwrap();
            self.cost += cost;
            // A cache hit replays the first answer's usage but costs
            // nothing and uses no provider's tokens: it adds neither.
            if r.header("x-switchyard-cache") == Some("hit") {
                assert_eq!(cost, 0.0);
            } else {
                self.tokens += r.json()["usage"]["total_tokens"].as_u64().unwrap();
            }
        }
    }
}

struct Setup {
    gw: Gateway,
    main: MockProvider,
    flaky: MockProvider,
    backup: MockProvider,
}

fn start(settings: &str) -> Setup {
    let main = MockProvider::start(Flavor::OpenAi);
    let flaky = MockProvider::start(Flavor::OpenAi);
    let backup = MockProvider::start(Flavor::OpenAi);
    let dir = tempfile::tempdir().unwrap();
    let section = plugins_section(&dir.path().join("plugins"), &["openai", "misbehave"]);
    let config = format!(
        "{}router_settings:\n  num_retries: 0\n  allowed_fails: 0\n  cooldown_time: 60\n  fallbacks: [{{flaky: [backup]}}]\nlitellm_settings:\n  cache: true\n  cache_params: {{type: local}}\n{settings}limits:\n  - match: metadata.organization_id\n    max_budget: 0.0001\n    budget_duration: 30d\n{section}  router: misbehave\n  settings:\n    misbehave: {{on_error: fail_open, config: {{mode: noisy}}}}\n",
        config_with(&[
            priced(&main, "gpt", "gpt-a"),
            priced(&flaky, "flaky", "flaky-a"),
            priced(&backup, "backup", "backup-a"),
        ]),
    );
    Setup {
        gw: Gateway::start_in(dir, &config),
        main,
        flaky,
        backup,
    }
}

const LITELLM: &str =
    "  callbacks: [prometheus]\n  enable_end_user_cost_tracking_prometheus_only: true\n";

#[test]
fn a_known_set_of_requests_shows_up_exactly() {
    let Setup {
        gw,
        main,
        flaky,
        backup,
    } = start(LITELLM);
    let team = gw.post(
        "/team/new",
        Some(KEY),
        &json!({"team_id": "t-support", "team_alias": "Support", "max_budget": 5.0}),
    );
    assert_eq!(team.status, 200, "{}", team.body);
    let key = gw.post(
        "/key/generate",
        Some(KEY),
        &json!({"team_id": "t-support", "key_alias": "bot", "max_budget": 1.0}),
    );
    assert_eq!(key.status, 200, "{}", key.body);
    let key = key.json()["key"].as_str().unwrap().to_string();
    let customer = gw.post(
        "/customer/new",
        Some(KEY),
        &json!({"user_id": "cust-1", "alias": "Acme"}),
    );
    assert_eq!(customer.status, 200, "{}", customer.body);

    let before = Scrape::of(&gw, None);
    assert_eq!(before.sum("llm_requests_total", &[]), 0.0);
    let mut seen = Seen::default();

    // Two plain calls on the team's key, one from a registered end user,
    // one from an unregistered one.
    let mut one = chat("gpt", "one");
    one["user"] = json!("cust-1");
    let r = gw.post("/v1/chat/completions", Some(&key), &one);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("x-switchyard-cache"), Some("miss"));
    seen.add(&r);
    let mut two = chat("gpt", "two");
    two["user"] = json!("somebody-unregistered");
    let r = gw.post("/v1/chat/completions", Some(&key), &two);
    assert_eq!(r.status, 200, "{}", r.body);
    seen.add(&r);
    // A stream (its time to first token is observed once).
    let mut stream = chat("gpt", "three");
    stream["stream"] = json!(true);
    stream["stream_options"] = json!({"include_usage": true});
    let r = gw.post("/v1/chat/completions", Some(KEY), &stream);
    seen.add(&r);
    let mid = Scrape::of(&gw, None);

    // A cache hit moves the hits by exactly one.
    let r = gw.post("/v1/chat/completions", Some(&key), &one);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("x-switchyard-cache"), Some("hit"));
    seen.add(&r);
    let after_hit = Scrape::of(&gw, None);
    let hits = |s: &Scrape| s.sum("switchyard_cache_hits_total", &[("model_group", "gpt")]);
    assert_eq!(hits(&after_hit) - hits(&mid), 1.0);
    assert_eq!(hits(&after_hit), 1.0);

    // A 500 on `flaky`: one cooldown, one fallback to `backup`.
    flaky.push(Behaviour::Status(500, String::new(), None));
    let r = gw.post("/v1/chat/completions", Some(KEY), &chat("flaky", "four"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("x-switchyard-deployment"), Some("backup-a"));
    seen.add(&r);
    let after_fallback = Scrape::of(&gw, None);
    let fallbacks = |s: &Scrape| {
        s.sum(
            "switchyard_fallbacks_total",
            &[("from", "flaky"), ("to", "backup")],
        )
    };
    let cooldowns = |s: &Scrape| s.sum("switchyard_cooldowns_total", &[("deployment", "flaky-a")]);
    assert_eq!(fallbacks(&after_fallback) - fallbacks(&after_hit), 1.0);
    assert_eq!(cooldowns(&after_fallback) - cooldowns(&after_hit), 1.0);
    assert_eq!(
        after_fallback.sum(
            "switchyard_cooldowns_total",
            &[("deployment", "flaky-a"), ("class", "server_error")]
        ),
        1.0,
        "{}",
        after_fallback.text
    );
    assert_eq!(
        after_fallback.sum("switchyard_deployment_state", &[("deployment", "flaky-a")]),
        1.0,
        "cooling"
    );
    assert_eq!(
        after_fallback.sum("switchyard_deployment_state", &[("deployment", "gpt-a")]),
        0.0
    );
    assert_eq!(
        after_fallback.sum(
            "litellm_deployment_successful_fallbacks_total",
            &[("requested_model", "flaky"), ("fallback_model", "backup")]
        ),
        1.0
    );

    // A router trap (fail_open: the request is still answered).
    let r = gw.post(
        "/v1/chat/completions",
        Some(KEY),
        &chat("gpt", "please panic"),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    seen.add(&r);
    let after_trap = Scrape::of(&gw, None);
    let traps = |s: &Scrape| {
        s.sum(
            "switchyard_plugin_errors_total",
            &[("plugin", "misbehave"), ("error", "trap")],
        )
    };
    assert_eq!(traps(&after_trap) - traps(&after_fallback), 1.0);
    assert_eq!(traps(&after_trap), 1.0);

    // An organization's budget: the call that crosses it is answered, the
    // next refused.
    let mut org = chat("gpt", "five");
    org["metadata"] = json!({"organization_id": "acme"});
    let r = gw.post("/v1/chat/completions", Some(KEY), &org);
    assert_eq!(r.status, 200, "{}", r.body);
    seen.add(&r);
    let before_refusal = Scrape::of(&gw, None);
    let mut org2 = chat("gpt", "six");
    org2["metadata"] = json!({"organization_id": "acme"});
    let r = gw.post("/v1/chat/completions", Some(KEY), &org2);
    assert_eq!(r.status, 429, "{}", r.body);
    seen.add(&r);
    let s = Scrape::of(&gw, None);
    let refusals = |s: &Scrape| {
        s.sum(
            "switchyard_budget_refusals_total",
            &[
                ("model_group", "gpt"),
                ("scope", "metadata.organization_id"),
            ],
        )
    };
    assert_eq!(refusals(&s) - refusals(&before_refusal), 1.0);
    assert_eq!(s.sum("switchyard_rate_limit_refusals_total", &[]), 0.0);

    // Totals equal what the clients saw.
    assert_eq!(seen.requests, 8);
    assert_eq!(seen.ok, 7);
    assert_eq!(s.sum("llm_requests_total", &[]), seen.requests as f64);
    assert_eq!(
        s.sum("llm_requests_total", &[("status_class", "2xx")]),
        seen.ok as f64
    );
    assert_eq!(s.sum("llm_requests_total", &[("status_class", "4xx")]), 1.0);
    assert_eq!(
        s.sum("llm_tokens_total", &[]),
        seen.tokens as f64,
        "{seen:?}"
    );
    let cost = s.sum("llm_cost_total", &[]);
    assert!((cost - seen.cost).abs() < 1e-9, "{cost} vs {seen:?}");
    assert_eq!(
        s.sum("llm_latency_seconds_count", &[]),
        seen.requests as f64
    );
    assert_eq!(s.sum("llm_active_requests", &[]), 0.0);
    assert_eq!(
        s.sum("switchyard_time_to_first_token_seconds_count", &[]),
        1.0
    );
    // Providers saw: main one, two, the stream, the trap's call and the
    // organization's first (not the hit, not the refusal); flaky and
    // backup one each.
    assert_eq!(main.count(), 5);
    assert_eq!(flaky.count(), 1);
    assert_eq!(backup.count(), 1);
    assert_eq!(
        s.sum(
            "switchyard_attempts_total",
            &[("deployment", "gpt-a"), ("outcome", "success")]
        ),
        5.0
    );
    assert_eq!(
        s.sum(
            "switchyard_attempts_total",
            &[("deployment", "flaky-a"), ("outcome", "server_error")]
        ),
        1.0
    );
    assert_eq!(s.sum("switchyard_cache_hits_total", &[]), 1.0);
    assert_eq!(
        s.sum("switchyard_cache_misses_total", &[]),
        // Every answered call but the hit; the refusal never got there.
        (seen.ok - 1) as f64
    );
    assert!(s.sum("switchyard_plugin_calls_total", &[("plugin", "misbehave")]) >= 7.0);
    assert!(
        s.sum(
            "switchyard_plugin_call_duration_seconds_count",
            &[("plugin", "openai")]
        ) > 0.0
    );
    assert!(s.sum("switchyard_plugin_instances", &[("plugin", "openai")]) >= 1.0);

    // Spend by caller: the team's key (by alias), its end user by alias.
    let key_cost = s.sum(
        "switchyard_spend_usd_total",
        &[
            ("key_alias", "bot"),
            ("team", "t-support"),
            ("team_alias", "Support"),
        ],
    );
    assert!((key_cost - 0.032).abs() < 1e-9, "{}", s.text);
    assert!(
        s.sum(
            "switchyard_spend_usd_total",
            &[("end_user", "Acme"), ("key_alias", "bot")]
        ) > 0.0
    );
    assert!(!s.text.contains("somebody-unregistered"));
    assert!(
        !s.text.contains("cust-1"),
        "an end user is named by its alias"
    );
    assert!(!s.text.contains(&key), "never a raw key");
    assert!(!s.text.contains(KEY), "never the master key");
    // Remaining budgets, team and key alias.
    let team_left = s.sum(
        "switchyard_team_budget_remaining_usd",
        &[("team", "t-support"), ("team_alias", "Support")],
    );
    assert!((team_left - (5.0 - 0.032)).abs() < 1e-9, "{}", s.text);
    let key_left = s.sum(
        "switchyard_key_budget_remaining_usd",
        &[("key_alias", "bot")],
    );
    assert!((key_left - (1.0 - 0.032)).abs() < 1e-9, "{}", s.text);

    // LiteLLM's names for the same facts.
    assert_eq!(
        s.sum("litellm_proxy_total_requests_metric_total", &[]),
        seen.requests as f64
    );
    assert_eq!(
        s.sum("litellm_requests_metric_total", &[]),
        seen.requests as f64
    );
    assert_eq!(
        s.sum("litellm_total_tokens_metric_total", &[]),
        seen.tokens as f64
    );
    let spend = s.sum("litellm_spend_metric_total", &[]);
    assert!((spend - seen.cost).abs() < 1e-9, "{spend}");
    assert_eq!(
        s.sum(
            "litellm_proxy_failed_requests_metric_total",
            &[("exception_status", "429")]
        ),
        1.0
    );
    assert_eq!(
        s.sum("litellm_deployment_state", &[("model_id", "flaky-a")]),
        1.0
    );
    assert_eq!(
        s.sum(
            "litellm_deployment_cooled_down_total",
            &[("model_id", "flaky-a")]
        ),
        1.0
    );
    assert!(
        (s.sum(
            "litellm_remaining_team_budget_metric",
            &[("team", "t-support")]
        ) - (5.0 - 0.032))
            .abs()
            < 1e-9
    );
    assert_eq!(
        s.sum("litellm_request_total_latency_metric_count", &[]),
        seen.requests as f64
    );
}

#[test]
fn without_the_switches_there_are_no_caller_labels_nor_litellm_names_and_no_key_is_needed() {
    let setup = start("");
    let gw = &setup.gw;
    let key = gw.post(
        "/key/generate",
        Some(KEY),
        &json!({"key_alias": "bot", "max_budget": 1.0}),
    );
    let key = key.json()["key"].as_str().unwrap().to_string();
    let mut body = chat("gpt", "hello");
    body["user"] = json!("cust-9");
    let r = gw.post("/v1/chat/completions", Some(&key), &body);
    assert_eq!(r.status, 200, "{}", r.body);
    // Open without a key (metrics_require_auth is off by default).
    let s = Scrape::of(gw, None);
    assert_eq!(s.sum("llm_requests_total", &[]), 1.0);
    assert!(!s.text.contains("litellm_"), "{}", s.text);
    assert!(!s.text.contains("bot"), "{}", s.text);
    assert!(!s.text.contains("cust-9"), "{}", s.text);
    assert_eq!(s.sum("switchyard_key_budget_remaining_usd", &[]), 0.0);
    // `/metrics/` as LiteLLM's scrape configs write it.
    assert_eq!(gw.get("/metrics/", None).status, 200);
}

#[test]
fn metrics_require_auth_puts_metrics_behind_the_master_key() {
    let openai = MockProvider::start(Flavor::OpenAi);
    let gw = Gateway::start(&format!(
        "{}  metrics_require_auth: true\n",
        config_with(&[model_entry("gpt", "openai/gpt-4o-mini", &openai.url(), &[])])
    ));
    assert_eq!(gw.get("/metrics", None).status, 401);
    assert_eq!(gw.get("/metrics", Some("sk-wrong")).status, 401);
    let s = Scrape::of(&gw, Some(KEY));
    assert!(s.names().contains("llm_requests_total"));
}

/// Every metric name in an expression (what PromQL calls a metric name:
/// the identifiers of our three prefixes).
fn metric_names(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    for c in expr.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            word.push(c);
            continue;
        }
        if ["llm_", "switchyard_", "litellm_"]
            .iter()
            .any(|p| word.starts_with(p))
        {
            out.push(word.clone());
        }
        word.clear();
    }
    out
}

fn exprs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("expr" | "definition", Value::String(s)) => out.push(s.clone()),
                    _ => exprs(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| exprs(v, out)),
        _ => {}
    }
}

#[test]
fn every_metric_the_grafana_dashboard_queries_exists_on_a_live_gateway() {
    let path = root().join("docs/grafana/switchyard.json");
    let dashboard = json(&std::fs::read_to_string(&path).unwrap());
    let mut queries = Vec::new();
    exprs(&dashboard, &mut queries);
    assert!(queries.len() >= 8, "{queries:?}");
    let setup = start(LITELLM);
    let gw = &setup.gw;
    let r = gw.post("/v1/chat/completions", Some(KEY), &chat("gpt", "hi"));
    assert_eq!(r.status, 200, "{}", r.body);
    let names = Scrape::of(gw, None).names();
    let mut missing = Vec::new();
    for q in &queries {
        let found = metric_names(q);
        assert!(!found.is_empty(), "a query with no metric: {q}");
        for name in found {
            if !names.contains(&name) {
                missing.push(format!("{name} (in {q})"));
            }
        }
    }
    assert!(missing.is_empty(), "not on /metrics: {missing:#?}");
    // The dashboard's panels cover what the issue lists.
    let titles: Vec<String> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["title"].as_str().map(str::to_lowercase))
        .collect();
    for want in [
        "requests",
        "errors",
        "latency",
        "time to first token",
        "cost by model",
        "cost by team",
        "cache hit rate",
        "fallbacks",
        "plugin errors",
    ] {
        assert!(
            titles.iter().any(|t| t.contains(want)),
            "no panel on {want}: {titles:?}"
        );
    }
}
