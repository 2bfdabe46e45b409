//! The disk and Redis backends: entries survive a restart, a corrupt file
//! is a miss, two gateways share one Redis, and a Redis that stops only
//! turns hits into misses (readiness and `/cache/ping` say so).

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use switchyard_e2e::mock::*;
use switchyard_e2e::*;

use crate::cache::basics::files_under;
use crate::*;

fn disk_config(openai: &MockProvider, dir: &Path) -> String {
    cached(
        &gpt_and_embed(openai),
        &["type: disk", &format!("disk_cache_dir: {}", dir.display())],
    )
}

#[test]
fn disk_entries_survive_a_restart_and_a_corrupt_file_is_a_miss() {
    let openai = MockProvider::start(Flavor::OpenAi);
    let dir = tempfile::tempdir().unwrap();
    let q = ask("on disk");
    let key = {
        let gw = Gateway::start(&disk_config(&openai, dir.path()));
        let r = chat(&gw, &q, "miss");
        wait_writes(&gw, 1);
        key_of(&r)
        // Killed here.
    };
    let files = files_under(dir.path());
    assert_eq!(files.len(), 1, "{files:?}");

    let gw = Gateway::start(&disk_config(&openai, dir.path()));
    let r = chat(&gw, &q, "hit");
    assert_eq!(key_of(&r), key);
    assert_eq!(
        r.json()["choices"][0]["message"]["content"],
        Flavor::OpenAi.answer_text()
    );
    assert_eq!(openai.count(), 1);

    // Flip bytes in the middle of the file (its length unchanged).
    let mut bytes = std::fs::read(&files[0]).unwrap();
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 8] {
        *b ^= 0x5a;
    }
    std::fs::write(&files[0], &bytes).unwrap();
    let r = chat(&gw, &q, "miss");
    assert_eq!(
        r.json()["choices"][0]["message"]["content"],
        Flavor::OpenAi.answer_text()
    );
    assert_eq!(openai.count(), 2);
    let status = cache_status(&gw);
    assert_eq!(status["faults"]["corrupt"], 1, "{status}");
    // The miss wrote it again.
    wait_writes(&gw, 1);
    chat(&gw, &q, "hit");
    assert_eq!(openai.count(), 2);

    // A file cut short is a miss too.
    let files = files_under(dir.path());
    assert_eq!(files.len(), 1, "{files:?}");
    let bytes = std::fs::read(&files[0]).unwrap();
    std::fs::write(&files[0], &bytes[..bytes.len() / 3]).unwrap();
    chat(&gw, &q, "miss");
    assert_eq!(openai.count(), 3);
    let status = cache_status(&gw);
    let faults: u64 = status["faults"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(faults, 2, "one more fault: {status}");
    let r = gw.get("/health/readiness", None);
    assert_eq!(r.status, 200, "faults do not make a replica unready");
}

#[test]
fn two_gateways_on_one_redis_prefix_the_first_answers_and_the_second_hits() {
    let redis = SharedRedis::new("two");
    let openai = MockProvider::start(Flavor::OpenAi);
    let config = cached_with(
        &gpt_and_embed(&openai),
        &[&format!("redis_key_prefix: {}", redis.prefix)],
        &["type: redis", "host: 127.0.0.1", "port: 6379"],
    );
    let (a, b) = (Gateway::start(&config), Gateway::start(&config));
    let q = ask("shared");
    let first = chat(&a, &q, "miss");
    let key = key_of(&first);
    let stored = wait_redis_entry(6379, &redis.prefix, &key);
    assert!(stored.starts_with(&redis.prefix), "{stored}");
    let hit = chat(&b, &q, "hit");
    assert_eq!(key_of(&hit), key);
    assert_eq!(hit.json()["choices"], first.json()["choices"]);
    assert_eq!(openai.count(), 1);

    // The other way round, and with a ttl of its own.
    let q2 = with_cache(ask("shared 2"), json!({"ttl": 60}));
    let key2 = key_of(&chat(&b, &q2, "miss"));
    let stored = wait_redis_entry(6379, &redis.prefix, &key2);
    let ttl: u64 = redis_cli(6379, &["ttl", &stored]).parse().unwrap();
    assert!((1..=60).contains(&ttl), "{ttl}");
    chat(&a, &q2, "hit");
    // Streams read the same entries.
    let mut s = ask("shared");
    s["stream"] = json!(true);
    let r = chat(&b, &s, "hit");
    assert_eq!(
        streamed_text(&stream_chunks(&r)),
        Flavor::OpenAi.answer_text()
    );
    assert_eq!(openai.count(), 2);

    // A flush on one is seen by the other.
    let r = a.post("/cache/flushall", Some(KEY), &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!({"status": "success", "deleted": 2}));
    assert!(redis_keys(6379, &format!("{}*switchyard:*", redis.prefix)).is_empty());
    chat(&b, &q, "miss");
    assert_eq!(openai.count(), 3);
}

#[test]
fn a_redis_stopped_mid_run_turns_hits_into_misses_and_readiness_says_so() {
    let port = free_port();
    let redis = OwnRedis::start(port);
    let openai = MockProvider::start(Flavor::OpenAi);
    let gw = Gateway::start(&cached(
        &gpt_and_embed(&openai),
        &["type: redis", "host: 127.0.0.1", &format!("port: {port}")],
    ));
    let healthy = json!({"status": "healthy", "cache_type": "redis"});
    assert_eq!(gw.get("/cache/ping", Some(KEY)).json(), healthy);
    let q = ask("redis goes away");
    let key = key_of(&chat(&gw, &q, "miss"));
    wait_redis_entry(port, "", &key);
    chat(&gw, &q, "hit");
    assert_eq!(openai.count(), 1);

    drop(redis);
    // Every request is still answered, from the provider, promptly.
    for i in 0..3 {
        let at = Instant::now();
        let r = chat(&gw, &q, "miss");
        assert!(
            at.elapsed() < Duration::from_secs(2),
            "call {i} took {:?}",
            at.elapsed()
        );
        assert_eq!(
            r.json()["choices"][0]["message"]["content"],
            Flavor::OpenAi.answer_text()
        );
    }
    let r = gw.post(
        "/v1/embeddings",
        Some(KEY),
        &json!({"model": "embed", "input": ["a", "b"]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(openai.count(), 5);
    let ready = gw.get("/health/readiness", None);
    assert_eq!(
        ready.status, 200,
        "losing the cache does not make a replica unready"
    );
    let status = ready.json()["cache"].clone();
    let redis_faults: u64 = status["faults"]
        .as_object()
        .unwrap_or_else(|| panic!("{status}"))
        .iter()
        .filter(|(cause, _)| cause.starts_with("redis"))
        .map(|(_, n)| n.as_u64().unwrap())
        .sum();
    assert!(redis_faults >= 1, "{status}");
    let ping = gw.get("/cache/ping", Some(KEY));
    assert_eq!(ping.status, 503, "{}", ping.body);
    let p = ping.json();
    assert_eq!(p["status"], "unhealthy", "{p}");
    assert_eq!(p["cache_type"], "redis", "{p}");
    assert!(p["error"].is_string(), "{p}");

    // Back again: the gateway finds it by itself.
    let _redis = OwnRedis::start(port);
    eventually(
        "the cache to reach Redis again",
        Duration::from_secs(15),
        || gw.get("/cache/ping", Some(KEY)).status == 200,
    );
    let key = key_of(&chat(&gw, &q, "miss"));
    wait_redis_entry(port, "", &key);
    chat(&gw, &q, "hit");
    assert_eq!(openai.count(), 6);
}
