//! A hit and its headers, every per-request control, expiry by `ttl` and
//! `s-maxage`, `mode: default_off`, no cache at all, and each config
//! spelling that turns the cache on.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchyard_e2e::mock::*;
use switchyard_e2e::*;

use crate::*;

#[test]
fn the_second_identical_request_is_a_hit_with_one_upstream_call_and_costs_nothing() {
    let one = MockProvider::start(Flavor::OpenAi);
    let two = MockProvider::start(Flavor::OpenAi);
    // Two deployments of one group: entries belong to the group.
    let gw = Gateway::start(&cached(
        &[
            priced(&one, "gpt", "openai/gpt-4o-mini"),
            priced(&two, "gpt", "openai/gpt-4o-mini"),
        ],
        &[],
    ));
    let body = json!({"model": "gpt", "temperature": 0.2,
                      "messages": [{"role": "user", "content": "What is a cache?"}]});
    let started = now_secs();
    let first = chat(&gw, &body, "miss");
    let key = key_of(&first);
    assert_eq!(key, format!("switchyard:master:{}", hash_of(&key)));
    assert!(
        (cost(&first) - CALL_COST).abs() < 1e-9,
        "{:?}",
        first.headers
    );
    wait_writes(&gw, 1);

    let second = chat(&gw, &body, "hit");
    assert_eq!(key_of(&second), key);
    assert_eq!(cost(&second), 0.0, "{:?}", second.headers);
    assert_eq!(second.header("x-switchyard-model-group"), Some("gpt"));
    assert_eq!(second.header("x-switchyard-deployment"), Some("cache"));
    assert_eq!(second.header("x-switchyard-attempts"), Some("0"));
    let (a, b) = (first.json(), second.json());
    let id = b["id"].as_str().unwrap();
    assert!(id.starts_with("chatcmpl-"), "{b}");
    assert_ne!(b["id"], a["id"], "a hit has an id of its own");
    let created = b["created"].as_u64().unwrap();
    assert!(
        created >= started && created <= now_secs(),
        "created now: {b}"
    );
    assert_eq!(b["object"], "chat.completion");
    assert_eq!(b["choices"], a["choices"]);
    assert_eq!(b["usage"], a["usage"]);
    assert_eq!(b["model"], a["model"]);
    assert_eq!(
        b["choices"][0]["message"]["content"],
        Flavor::OpenAi.answer_text()
    );

    // Key order, `user`, `stream: false`, `metadata` and `tags` do not
    // change the key; a temperature does.
    let reordered = json!({"messages": [{"content": "What is a cache?", "role": "user"}],
                           "user": "someone", "stream": false, "temperature": 0.2,
                           "metadata": {"tags": ["x"]}, "tags": ["y"], "model": "gpt"});
    let third = chat(&gw, &reordered, "hit");
    assert_eq!(key_of(&third), key);
    assert_ne!(third.json()["id"], b["id"]);
    assert_eq!(one.count() + two.count(), 1, "one upstream call in all");
    let warmer = json!({"model": "gpt", "temperature": 0.7,
                        "messages": [{"role": "user", "content": "What is a cache?"}]});
    let other = chat(&gw, &warmer, "miss");
    assert_ne!(hash_of(&key_of(&other)), hash_of(&key));
    assert_eq!(one.count() + two.count(), 2);

    // The spend records: the miss costs the call, the hit is a hit for 0.
    let logs = spend_logs(&gw, 4);
    // Records of one millisecond may list in either order: count them.
    let mut hits: Vec<bool> = logs.iter().map(|l| l["cache_hit"] == "True").collect();
    hits.sort_unstable();
    assert_eq!(hits, [false, false, true, true], "{logs:?}");
    for l in &logs {
        let spend = l["spend"].as_f64().unwrap();
        let want = if l["cache_hit"] == "True" {
            0.0
        } else {
            CALL_COST
        };
        assert!((spend - want).abs() < 1e-9, "{l}");
        assert_eq!(l["model_group"], "gpt", "{l}");
        assert_eq!(l["status"], "success", "{l}");
    }
}

#[test]
fn each_per_request_control_reads_or_writes_as_it_says_and_never_reaches_the_provider() {
    let openai = MockProvider::start(Flavor::OpenAi);
    let gw = Gateway::start(&cached(&gpt_and_embed(&openai), &[]));
    let a = ask("controls: a");
    let first = chat(&gw, &a, "miss");
    let key = key_of(&first);
    wait_writes(&gw, 1);
    // no-cache: not read (the provider answers) but written.
    let r = chat(
        &gw,
        &with_cache(a.clone(), json!({"no-cache": true})),
        "bypass",
    );
    assert_eq!(key_of(&r), key, "the key is named on a bypass too");
    assert_eq!(openai.count(), 2);
    chat(&gw, &a, "hit");
    let b = ask("controls: b, first asked with no-cache");
    chat(
        &gw,
        &with_cache(b.clone(), json!({"no-cache": true})),
        "bypass",
    );
    assert_eq!(openai.count(), 3);
    wait_writes(&gw, 3);
    chat(&gw, &b, "hit");
    assert_eq!(openai.count(), 3);

    // no-store: read but not written.
    let c = ask("controls: c");
    chat(
        &gw,
        &with_cache(c.clone(), json!({"no-store": true})),
        "miss",
    );
    chat(&gw, &c, "miss");
    assert_eq!(openai.count(), 5);
    wait_writes(&gw, 4);
    chat(
        &gw,
        &with_cache(c.clone(), json!({"no-store": true})),
        "hit",
    );
    chat(
        &gw,
        &with_cache(c.clone(), json!({"no-store": true, "no-cache": true})),
        "bypass",
    );
    assert_eq!(openai.count(), 6);

    // namespace: the same hash in an entry of its own.
    let ns = with_cache(a.clone(), json!({"namespace": "faq-v2"}));
    let r = chat(&gw, &ns, "miss");
    assert_eq!(key_of(&r), format!("faq-v2:master:{}", hash_of(&key)));
    assert_eq!(openai.count(), 7);
    wait_writes(&gw, 5);
    assert_eq!(key_of(&chat(&gw, &ns, "hit")), key_of(&r));
    assert_eq!(key_of(&chat(&gw, &a, "hit")), key);
    assert_eq!(openai.count(), 7);

    // Controls on embeddings too.
    let e = json!({"model": "embed", "input": "controls"});
    expect(&gw, "/v1/embeddings", KEY, &e, "miss");
    wait_writes(&gw, 6);
    expect(&gw, "/v1/embeddings", KEY, &e, "hit");
    let no_cache = with_cache(e.clone(), json!({"no-cache": true}));
    expect(&gw, "/v1/embeddings", KEY, &no_cache, "bypass");
    assert_eq!(openai.count(), 9);
    // The mock checks, when dropped, that no `cache` field reached it.
    assert!(
        openai
            .requests()
            .iter()
            .all(|r| r.body.get("cache").is_none())
    );
}

#[test]
fn a_control_of_the_wrong_type_is_a_400_naming_it() {
    let openai = MockProvider::start(Flavor::OpenAi);
    let gw = Gateway::start(&cached(&gpt_and_embed(&openai), &[]));
    let cases = [
        (json!({"ttl": "soon"}), "cache.ttl"),
        (json!({"s-maxage": "a minute"}), "cache.s-maxage"),
        (json!({"no-cache": "yes"}), "cache.no-cache"),
        (json!({"no-store": 1}), "cache.no-store"),
        (json!({"namespace": 5}), "cache.namespace"),
        (json!({"use-cache": "true"}), "cache.use-cache"),
        // Not an object at all: the field itself (our reading: the spec
        // names fields of the object only).
        (json!("no-cache"), "cache"),
    ];
    for (controls, param) in cases {
        for (path, body) in [
            ("/v1/chat/completions", ask("bad controls")),
            ("/v1/embeddings", json!({"model": "embed", "input": "bad"})),
        ] {
            let body = with_cache(body, controls.clone());
            let r = gw.post(path, Some(KEY), &body);
            assert_eq!(r.status, 400, "{body}: {}", r.body);
            let e = r.json();
            assert_eq!(e["error"]["param"], param, "{body}: {e}");
            assert_eq!(e["error"]["type"], "invalid_request_error", "{e}");
        }
    }
    assert_eq!(openai.count(), 0);
}

/// Sends `body` until it misses, every 50 ms; a hit until then. Returns
/// how long after `since` the miss was answered.
fn until_miss(gw: &Gateway, body: &Value, since: Instant) -> Duration {
    let limit = Duration::from_secs(5);
    loop {
        let r = gw.post("/v1/chat/completions", Some(KEY), body);
        assert_eq!(r.status, 200, "{}", r.body);
        match verdict(&r) {
            "miss" => return since.elapsed(),
            "hit" => {}
            other => panic!("{other}: {:?}", r.headers),
        }
        assert!(since.elapsed() < limit, "still a hit after {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn ttl_and_s_maxage_expire_entries_after_a_second() {
    let openai = MockProvider::start(Flavor::OpenAi);
    let gw = Gateway::start(&cached(&gpt_and_embed(&openai), &[]));

    // ttl: 1 — the entry lives a second.
    let a = ask("expiry: ttl");
    let sent = Instant::now();
    chat(&gw, &with_cache(a.clone(), json!({"ttl": 1})), "miss");
    wait_writes(&gw, 1);
    if sent.elapsed() < Duration::from_millis(800) {
        chat(&gw, &a, "hit");
    }
    let after = until_miss(&gw, &a, sent);
    assert!(after >= Duration::from_secs(1), "expired after {after:?}");
    assert_eq!(openai.count(), 2);
    // The miss stored it again, without a ttl this time.
    wait_writes(&gw, 2);
    chat(&gw, &a, "hit");

    // s-maxage: 1 — only entries younger than a second are taken; an
    // older one is still there for requests that do not ask.
    let s = ask("expiry: s-maxage");
    let young = with_cache(s.clone(), json!({"s-maxage": 1}));
    let sent = Instant::now();
    chat(&gw, &s, "miss");
    wait_writes(&gw, 3);
    if sent.elapsed() < Duration::from_millis(800) {
        chat(&gw, &young, "hit");
    }
    let after = until_miss(&gw, &young, sent);
    assert!(after >= Duration::from_secs(1), "refused after {after:?}");
    assert_eq!(openai.count(), 4);
    // That miss wrote a fresh entry, which a young-only request takes.
    wait_writes(&gw, 4);
    chat(&gw, &young, "hit");
    chat(&gw, &s, "hit");
    assert_eq!(openai.count(), 4);
}

#[test]
fn under_mode_default_off_only_requests_with_use_cache_read_and_write() {
    let openai = MockProvider::start(Flavor::OpenAi);
    let gw = Gateway::start(&cached(
        &gpt_and_embed(&openai),
        &["type: local", "mode: default_off"],
    ));
    let a = ask("opt in");
    let opted = with_cache(a.clone(), json!({"use-cache": true}));
    let r = chat(&gw, &a, "bypass");
    let key = key_of(&r);
    // Our reading: without `use-cache` a request neither reads nor writes
    // (LiteLLM's default_off), so the first opted-in request misses.
    let r = chat(&gw, &opted, "miss");
    assert_eq!(key_of(&r), key);
    wait_writes(&gw, 1);
    chat(&gw, &opted, "hit");
    chat(&gw, &a, "bypass");
    chat(
        &gw,
        &with_cache(a.clone(), json!({"use-cache": false})),
        "bypass",
    );
    assert_eq!(openai.count(), 4);
    assert_eq!(
        cache_status(&gw)["writes"],
        1,
        "only the opted-in miss wrote"
    );
}

#[test]
fn without_a_cache_there_are_no_cache_headers_and_the_admin_routes_say_so() {
    let openai = MockProvider::start(Flavor::OpenAi);
    // `cache_params` without `cache: true` is no cache (with a warning).
    let gw = Gateway::start(&format!(
        "{}litellm_settings:\n  cache_params:\n    type: local\n",
        config_with_settings(&gpt_and_embed(&openai), ONE_CALL_EACH)
    ));
    for _ in 0..2 {
        let r = gw.post("/v1/chat/completions", Some(KEY), &ask("no cache"));
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.header("x-switchyard-cache"), None, "{:?}", r.headers);
        assert_eq!(r.header("x-switchyard-cache-key"), None);
        let e = gw.post(
            "/v1/embeddings",
            Some(KEY),
            &json!({"model": "embed", "input": "x"}),
        );
        assert_eq!(e.status, 200, "{}", e.body);
        assert_eq!(e.header("x-switchyard-cache"), None);
    }
    assert_eq!(openai.count(), 4);
    // Controls are still taken off the request.
    let r = gw.post(
        "/v1/chat/completions",
        Some(KEY),
        &with_cache(ask("no cache"), json!({"no-cache": true})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    for (method, path) in [
        ("GET", "/cache/ping"),
        ("POST", "/cache/delete"),
        ("POST", "/cache/flushall"),
    ] {
        let r = if method == "GET" {
            gw.get(path, Some(KEY))
        } else {
            gw.post(path, Some(KEY), &json!({"keys": ["x"]}))
        };
        assert_eq!(r.status, 400, "{path}: {}", r.body);
        let e = r.json();
        assert!(
            e["error"]["message"]
                .as_str()
                .unwrap()
                .contains("cache is not configured"),
            "{path}: {e}"
        );
    }
}

#[test]
fn each_config_spelling_turns_the_cache_on() {
    let openai = MockProvider::start(Flavor::OpenAi);
    let entries = gpt_and_embed(&openai);
    // The older keys: `cache_responses` and `cache_kwargs` (ttl read as
    // seconds), in memory.
    let gw = Gateway::start(&format!(
        "{}litellm_settings:\n  cache_responses: true\n  cache_kwargs:\n    ttl: 1\n",
        config_with_settings(&entries, ONE_CALL_EACH)
    ));
    assert_eq!(
        gw.get("/cache/ping", Some(KEY)).json(),
        json!({"status": "healthy", "cache_type": "local"})
    );
    let sent = Instant::now();
    chat(&gw, &ask("spelling"), "miss");
    wait_writes(&gw, 1);
    if sent.elapsed() < Duration::from_millis(800) {
        chat(&gw, &ask("spelling"), "hit");
    }
    let after = until_miss(&gw, &ask("spelling"), sent);
    assert!(after >= Duration::from_secs(1), "{after:?}");
    assert_eq!(openai.count(), 2);
    drop(gw);

    // `general_settings.cache` (honoured, with a warning): on disk.
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(&format!(
        "{}  cache:\n    type: disk\n    disk_cache_dir: {}\n{ONE_CALL_EACH}",
        config_with(&entries),
        dir.path().display()
    ));
    assert_eq!(
        gw.get("/cache/ping", Some(KEY)).json(),
        json!({"status": "healthy", "cache_type": "disk"})
    );
    chat(&gw, &ask("spelling"), "miss");
    wait_writes(&gw, 1);
    chat(&gw, &ask("spelling"), "hit");
    assert_eq!(openai.count(), 3);
    assert_eq!(files_under(dir.path()).len(), 1);
    drop(gw);

    // `cache_responses` with the Redis of `router_settings`.
    let redis = SharedRedis::new("spelling");
    let gw = Gateway::start(&format!(
        "{}  redis_host: 127.0.0.1\n  redis_port: 6379\n  redis_key_prefix: {}\nlitellm_settings:\n  cache_responses: true\n",
        config_with_settings(&entries, ONE_CALL_EACH),
        redis.prefix
    ));
    assert_eq!(
        gw.get("/cache/ping", Some(KEY)).json(),
        json!({"status": "healthy", "cache_type": "redis"})
    );
    let r = chat(&gw, &ask("spelling"), "miss");
    let stored = wait_redis_entry(6379, &redis.prefix, &key_of(&r));
    // No ttl given: a day in Redis.
    let ttl: u64 = redis_cli(6379, &["ttl", &stored]).parse().unwrap();
    assert!((86_300..=86_400).contains(&ttl), "{ttl}");
    chat(&gw, &ask("spelling"), "hit");
    assert_eq!(openai.count(), 4);
}

/// Every file under `dir`, at any depth.
pub fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}
