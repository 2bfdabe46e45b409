//! The response cache end to end (issue 10, docs/caching.md): the real
//! gateway, mock providers that count their calls, curl and the `openai`
//! Python client. One test binary; the areas are modules in `cache/`.
//!
//! Where a test needs an entry stored before its next request, it polls
//! `/health/readiness` (`cache.writes`), Redis or the cache folder; it never
//! sleeps instead. Tests that use the shared Redis take a key prefix each;
//! tests that stop Redis run their own.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cache {
    pub mod admin;
    pub mod backends;
    pub mod basics;
    pub mod coalescing;
    pub mod embeddings;
    pub mod python;
    pub mod streams;
}

use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use switchyard_e2e::mock::*;
use switchyard_e2e::*;

/// What one call to a priced deployment costs: 11 + 5 tokens at $0.001.
pub const CALL_COST: f64 = 0.016;

/// A deployment of `group` on `mock`, priced so that a call costs
/// [`CALL_COST`].
pub fn priced(mock: &MockProvider, group: &str, model: &str) -> String {
    let mut e = model_entry(group, model, &mock.url(), &["api_key: sk-up"]);
    e.push_str(
        "    model_info:\n      input_cost_per_token: 0.001\n      output_cost_per_token: 0.001\n",
    );
    e
}

/// The chat group `gpt` and the embeddings group `embed`, both on `mock`.
pub fn gpt_and_embed(mock: &MockProvider) -> Vec<String> {
    vec![
        priced(mock, "gpt", "openai/gpt-4o-mini"),
        priced(mock, "embed", "openai/text-embedding-3-small"),
    ]
}

/// A config with these entries, the master key [`KEY`], one upstream call
/// per request (no retries, no cooldowns; `router` lines added to
/// `router_settings`) and `litellm_settings.cache: true` with
/// `cache_params` made of `params` (`key: value` lines).
pub fn cached_with(entries: &[String], router: &[&str], params: &[&str]) -> String {
    let mut s = config_with_settings(entries, ONE_CALL_EACH);
    for line in router {
        s.push_str(&format!("  {line}\n"));
    }
    s.push_str("litellm_settings:\n  cache: true\n  cache_params:\n");
    if params.is_empty() {
        s.push_str("    type: local\n");
    }
    for line in params {
        s.push_str(&format!("    {line}\n"));
    }
    s
}

/// [`cached_with`] without more router settings.
pub fn cached(entries: &[String], params: &[&str]) -> String {
    cached_with(entries, &[], params)
}

/// A chat request to `gpt` asking `text`.
pub fn ask(text: &str) -> Value {
    json!({"model": "gpt", "messages": [{"role": "user", "content": text}]})
}

/// `body` with the per-request cache controls `controls`.
pub fn with_cache(mut body: Value, controls: Value) -> Value {
    body["cache"] = controls;
    body
}

/// `x-switchyard-cache` of an answer; panics naming the answer without it.
pub fn verdict(r: &Reply) -> &str {
    r.header("x-switchyard-cache")
        .unwrap_or_else(|| panic!("no x-switchyard-cache: {:?} {}", r.headers, r.body))
}

/// `x-switchyard-cache-key` of an answer.
pub fn key_of(r: &Reply) -> String {
    r.header("x-switchyard-cache-key")
        .unwrap_or_else(|| panic!("no x-switchyard-cache-key: {:?} {}", r.headers, r.body))
        .to_string()
}

/// The hash part of a cache key (after the last `:`), checked to be 64
/// lower-case hex digits.
pub fn hash_of(key: &str) -> &str {
    let (_, hex) = key.rsplit_once(':').unwrap_or_else(|| panic!("{key}"));
    assert!(is_hex(hex, 64), "a SHA-256 in hex ends the key: {key}");
    hex
}

/// Whether `s` is `len` lower-case hex digits.
pub fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `POST path` answered 200 with `x-switchyard-cache: want`.
pub fn expect(gw: &Gateway, path: &str, key: &str, body: &Value, want: &str) -> Reply {
    let r = gw.post(path, Some(key), body);
    assert_eq!(r.status, 200, "{body}: {}", r.body);
    assert_eq!(verdict(&r), want, "{body}: {:?}", r.headers);
    r
}

/// A chat call with the master key answered 200 with `x-switchyard-cache: want`.
pub fn chat(gw: &Gateway, body: &Value, want: &str) -> Reply {
    expect(gw, "/v1/chat/completions", KEY, body, want)
}

/// `x-switchyard-response-cost` as a number.
pub fn cost(r: &Reply) -> f64 {
    let v = r
        .header("x-switchyard-response-cost")
        .unwrap_or_else(|| panic!("no x-switchyard-response-cost: {:?}", r.headers));
    v.parse().unwrap_or_else(|_| panic!("cost {v:?}"))
}

/// The `cache` part of `/health/readiness`.
pub fn cache_status(gw: &Gateway) -> Value {
    let r = gw.get("/health/readiness", None);
    let v = r.json();
    assert!(v["cache"].is_object(), "readiness has no cache: {v}");
    v["cache"].clone()
}

/// Waits until the cache has written at least `n` entries since start
/// (`cache.writes` on `/health/readiness`), so the next request can hit.
pub fn wait_writes(gw: &Gateway, n: u64) {
    let mut last = Value::Null;
    eventually(
        &format!("{n} cache writes"),
        Duration::from_secs(10),
        || {
            last = cache_status(gw);
            last["writes"].as_u64().unwrap_or_else(|| panic!("{last}")) >= n
        },
    );
}

/// Seconds since the epoch.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A name no other test run uses, for Redis prefixes.
pub fn unique(test: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("sy_cache_{test}_{}_{nanos}", std::process::id())
}

/// Sends `first` alone and, once `mock` has received it, `n - 1` more
/// requests made by `send` at once: all of them arrive while the first is
/// in flight when the mock holds it long enough. The replies in order,
/// the first one first.
pub fn burst_behind_first(
    mock: &MockProvider,
    n: usize,
    send: impl Fn() -> Reply + Sync,
) -> Vec<Reply> {
    let before = mock.count();
    std::thread::scope(|s| {
        let first = s.spawn(&send);
        eventually(
            "the first call to reach the provider",
            Duration::from_secs(10),
            || mock.count() > before,
        );
        let rest: Vec<_> = (1..n).map(|_| s.spawn(&send)).collect();
        let mut all = vec![first.join().unwrap()];
        all.extend(rest.into_iter().map(|h| h.join().unwrap()));
        all
    })
}

/// A JSON `POST` as curl sends it, from any thread.
pub fn post_json(url: &str, key: &str, body: &Value) -> Reply {
    let auth = format!("Authorization: Bearer {key}");
    http(
        "POST",
        url,
        &["Content-Type: application/json", &auth],
        Some(body.to_string().as_bytes()),
    )
}

/// The spend records of the gateway, once there are `n`, oldest first.
pub fn spend_logs(gw: &Gateway, n: usize) -> Vec<Value> {
    let mut logs = Vec::new();
    eventually("spend records written", Duration::from_secs(10), || {
        let r = gw.get("/spend/logs?page_size=100", Some(KEY));
        assert_eq!(r.status, 200, "{}", r.body);
        logs = r.json().as_array().unwrap().clone();
        logs.len() >= n
    });
    assert_eq!(logs.len(), n, "{logs:?}");
    logs.sort_by(|a, b| {
        a["startTime"]
            .as_str()
            .unwrap()
            .cmp(b["startTime"].as_str().unwrap())
    });
    logs
}

/// The keys of the Redis at `port` that match `pattern`.
pub fn redis_keys(port: u16, pattern: &str) -> Vec<String> {
    let out = Command::new("redis-cli")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "--scan",
            "--pattern",
        ])
        .arg(pattern)
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// `redis-cli ARGS` on the Redis at `port`; its output.
pub fn redis_cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The Redis key holding cache key `key` under `prefix`, once it is there
/// (the gateway writes Redis off the request path).
pub fn wait_redis_entry(port: u16, prefix: &str, key: &str) -> String {
    let mut found = Vec::new();
    eventually(&format!("{key} in Redis"), Duration::from_secs(10), || {
        found = redis_keys(port, &format!("{prefix}*{key}"));
        !found.is_empty()
    });
    assert_eq!(found.len(), 1, "{found:?}");
    found.remove(0)
}

/// A key prefix on the shared Redis (127.0.0.1:6379); its keys are
/// removed when dropped.
pub struct SharedRedis {
    pub prefix: String,
}

impl SharedRedis {
    pub fn new(test: &str) -> SharedRedis {
        SharedRedis {
            prefix: unique(test),
        }
    }
}

impl Drop for SharedRedis {
    fn drop(&mut self) {
        for key in redis_keys(6379, &format!("{}*", self.prefix)) {
            redis_cli(6379, &["del", &key]);
        }
    }
}

/// A Redis of one test's own on `port` (nothing saved), stopped when
/// dropped.
pub struct OwnRedis {
    child: Child,
    pub port: u16,
}

impl OwnRedis {
    pub fn start(port: u16) -> OwnRedis {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server runs");
        let r = OwnRedis { child, port };
        eventually("redis to start", Duration::from_secs(5), || {
            redis_cli(port, &["ping"]) == "PONG"
        });
        r
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A new virtual key (with `body`'s fields), as text.
pub fn new_key(gw: &Gateway, body: Value) -> String {
    let r = gw.post("/key/generate", Some(KEY), &body);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["key"].as_str().unwrap().to_string()
}

/// A new team.
pub fn new_team(gw: &Gateway, team_id: &str) {
    let r = gw.post("/team/new", Some(KEY), &json!({"team_id": team_id}));
    assert_eq!(r.status, 200, "{}", r.body);
}
