//! Two gateway processes sharing Redis (limit counters) and PostgreSQL
//! (keys and spend), as replicas behind a load balancer run: limits hold
//! exactly between them, a burst against a nearly spent budget overspends
//! by at most one call, and a key deleted on one is refused by the other
//! within a second. Each test takes its own PostgreSQL schema and Redis key
//! prefix, so tests run in parallel on the shared services.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use switchyard_e2e::mock::*;
use switchyard_e2e::*;

/// A schema and a key prefix of one test, removed when dropped.
struct Shared {
    name: String,
}

impl Shared {
    fn new(test: &str) -> Shared {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!("sy_{test}_{}_{nanos}", std::process::id());
        psql(&format!("CREATE SCHEMA {name}"));
        Shared { name }
    }

    fn database_url(&self) -> String {
        format!(
            "postgresql://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{}",
            self.name
        )
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        psql(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        let keys = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "--scan", "--pattern"])
            .arg(format!("{}*", self.name))
            .output()
            .unwrap();
        for key in String::from_utf8_lossy(&keys.stdout).lines() {
            let _ = Command::new("redis-cli")
                .args(["-h", "127.0.0.1", "del", key])
                .output();
        }
    }
}

fn psql(sql: &str) {
    let out = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "test",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn replicas(shared: &Shared, openai: &MockProvider, limits: &str) -> (Gateway, Gateway) {
    let mut entry = model_entry(
        "gpt",
        "openai/gpt-4o-mini",
        &openai.url(),
        &["api_key: sk-up"],
    );
    entry.push_str(
        "    model_info:\n      input_cost_per_token: 0.001\n      output_cost_per_token: 0.001\n",
    );
    let config = format!(
        "{}  database_url: \"{}\"\nrouter_settings:\n  num_retries: 0\n  disable_cooldowns: true\n  redis_url: redis://127.0.0.1:6379\n  redis_key_prefix: {}\nlimits:\n{limits}",
        config_with(&[entry]),
        shared.database_url(),
        shared.name,
    );
    (Gateway::start(&config), Gateway::start(&config))
}

fn chat(org: &str) -> Value {
    json!({
        "model": "gpt",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi"}],
        "metadata": {"organization_id": org},
    })
}

/// Waits for a fresh minute when the current one ends within `margin`, so
/// a per-minute count is not split across two windows.
fn away_from_a_minute_edge(margin: Duration) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let left = 60_000 - now % 60_000;
    if left < margin.as_millis() as u64 {
        std::thread::sleep(Duration::from_millis(left + 100));
    }
}

/// Sends `n` requests at once, alternating between the two gateways; the
/// statuses.
fn burst(a: &Gateway, b: &Gateway, n: usize, body: &Value) -> Vec<u16> {
    let urls = Arc::new([a.url("/v1/chat/completions"), b.url("/v1/chat/completions")]);
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let urls = urls.clone();
            let body = body.to_string();
            std::thread::spawn(move || {
                let out = Command::new("curl")
                    .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H"])
                    .arg(format!("Authorization: Bearer {KEY}"))
                    .args(["-H", "Content-Type: application/json", "-d", &body])
                    .arg(&urls[i % 2])
                    .output()
                    .unwrap();
                String::from_utf8_lossy(&out.stdout).parse::<u16>().unwrap()
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

#[test]
fn two_replicas_sharing_redis_let_exactly_the_rpm_limit_through() {
    let shared = Shared::new("rpm");
    let openai = MockProvider::start(Flavor::OpenAi);
    let (a, b) = replicas(
        &shared,
        &openai,
        "  - match: metadata.organization_id\n    rpm: 10\n",
    );
    away_from_a_minute_edge(Duration::from_secs(20));
    let statuses = burst(&a, &b, 30, &chat("org_r"));
    let ok = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((ok, refused), (10, 20), "{statuses:?}");
    assert_eq!(openai.count(), 10);
    // Both replicas' records reach the one database, none twice and none
    // set aside. Generous: on a loaded machine a writer may back off (up
    // to 5 s) before a retry, and a write may take up to 15 s to time out.
    let wait = Duration::from_secs(60);
    let deadline = Instant::now() + wait;
    loop {
        let logs = b.get("/spend/logs?page_size=100", Some(KEY));
        assert_eq!(logs.status, 200, "{}", logs.body);
        let found = logs.json().as_array().unwrap().len();
        let writers = [writer_stats(&a), writer_stats(&b)];
        let written: u64 = writers.iter().filter_map(|w| w["written"].as_u64()).sum();
        // A writer counts a batch just after the database commits it.
        if (found, written) == (30, 30) {
            for w in &writers {
                assert_eq!(
                    (&w["duplicates"], &w["dropped"]),
                    (&json!(0), &json!(0)),
                    "{w}"
                );
            }
            break;
        }
        // The writers' counters first (CI shows the start of a long
        // message), then the replicas' logs.
        assert!(
            Instant::now() < deadline,
            "{found} of 30 records after {wait:?}; spend writers: {writers:?}\nreplica a:\n{}\nreplica b:\n{}",
            a.log(),
            b.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The replica's spend writer's counters (written, duplicates, dropped,
/// queued, last error), from its readiness answer.
fn writer_stats(gw: &Gateway) -> Value {
    gw.get("/health/readiness", None).json()["spend_writer"].clone()
}

#[test]
fn a_burst_of_50_against_a_nearly_spent_shared_budget_overspends_by_at_most_one_call() {
    let shared = Shared::new("burst");
    let openai = MockProvider::start(Flavor::OpenAi);
    // A call costs $0.016; after one, $0.004 is left of $0.02.
    let (a, b) = replicas(
        &shared,
        &openai,
        "  - match: metadata.organization_id\n    max_budget: 0.02\n",
    );
    assert_eq!(
        a.post("/v1/chat/completions", Some(KEY), &chat("org_b"))
            .status,
        200
    );
    // Calls in flight long enough for the whole burst to arrive first.
    openai.always(Behaviour::Delay(Duration::from_millis(800)));
    let statuses = burst(&a, &b, 50, &chat("org_b"));
    let ok = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((ok, refused), (1, 49), "{statuses:?}");
    assert_eq!(openai.count(), 2);
    // Now spent: the next is refused on either replica, naming the budget.
    for gw in [&a, &b] {
        let r = gw.post("/v1/chat/completions", Some(KEY), &chat("org_b"));
        assert_eq!(r.status, 429, "{}", r.body);
        assert_eq!(r.json()["error"]["code"], "budget_exceeded");
    }
}

#[test]
fn a_key_deleted_on_one_replica_is_refused_by_the_other_within_a_second() {
    let shared = Shared::new("keys");
    let openai = MockProvider::start(Flavor::OpenAi);
    let (a, b) = replicas(&shared, &openai, "  - match: user\n    rpm: 1000\n");
    let made = a.post(
        "/key/generate",
        Some(KEY),
        &json!({"key_alias": "shared-key"}),
    );
    assert_eq!(made.status, 200, "{}", made.body);
    let key = made.json()["key"].as_str().unwrap().to_string();
    let body = json!({"model": "gpt", "messages": [{"role": "user", "content": "hi"}]});
    // The other replica learns of the new key by polling the database.
    let deadline = Instant::now() + Duration::from_secs(2);
    while b.post("/v1/chat/completions", Some(&key), &body).status != 200 {
        assert!(
            Instant::now() < deadline,
            "replica b never accepted the new key"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let deleted = a.post("/key/delete", Some(KEY), &json!({"keys": [key]}));
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    let at = Instant::now();
    loop {
        let r = b.post("/v1/chat/completions", Some(&key), &body);
        if r.status == 401 {
            break;
        }
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(
            at.elapsed() < Duration::from_secs(3),
            "still accepted after three seconds"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(at.elapsed() < Duration::from_secs(3));
}
