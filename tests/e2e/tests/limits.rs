//! Limits and budgets on the request path, end to end: `limits:` rules by a
//! metadata field (the support-chat company's shape), budgets that reserve
//! before the call and settle after it, windows that reset on time, the
//! headers clients read, and spend records that survive a stop.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchyard_e2e::mock::*;
use switchyard_e2e::*;

/// $0.001 a token each way: a mock answer (11 + 5 tokens) costs $0.016.
const CALL_COST: f64 = 0.016;

fn priced_entry(openai: &MockProvider) -> String {
    let mut e = model_entry(
        "gpt",
        "openai/gpt-4o-mini",
        &openai.url(),
        &["api_key: sk-up"],
    );
    e.push_str(
        "    model_info:\n      input_cost_per_token: 0.001\n      output_cost_per_token: 0.001\n",
    );
    e
}

fn chat(org: &str) -> Value {
    json!({
        "model": "gpt",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi"}],
        "metadata": {"organization_id": org},
    })
}

fn config(openai: &MockProvider, limits: &str) -> String {
    format!(
        "{}{ONE_CALL_EACH}limits:\n{limits}",
        config_with(&[priced_entry(openai)])
    )
}

#[test]
fn rpm_per_organization_admits_exactly_the_limit_for_each_organization() {
    let openai = MockProvider::start(Flavor::OpenAi);
    let gw = Gateway::start(&config(
        &openai,
        "  - match: metadata.organization_id\n    rpm: 3\n",
    ));
    let statuses: Vec<u16> = (0..5)
        .map(|_| {
            gw.post("/v1/chat/completions", Some(KEY), &chat("org_a"))
                .status
        })
        .collect();
    // Unless the minute turned over mid-test (then one more is let in).
    let ok = statuses.iter().filter(|s| **s == 200).count();
    assert!(ok == 3 || ok == 4, "{statuses:?}");
    let refused = gw.post("/v1/chat/completions", Some(KEY), &chat("org_a"));
    if refused.status == 429 {
        let e = refused.json();
        assert_eq!(e["error"]["code"], "rate_limit_exceeded", "{e}");
        assert_eq!(e["error"]["type"], "rate_limit_error");
        let msg = e["error"]["message"].as_str().unwrap();
        assert!(msg.contains("metadata.organization_id org_a"), "{msg}");
        assert!(msg.contains('3'), "{msg}");
        let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry), "{retry}");
        assert_eq!(refused.header("x-ratelimit-remaining-requests"), Some("0"));
    }
    // Another organization has its own counter.
    let other = gw.post("/v1/chat/completions", Some(KEY), &chat("org_b"));
    assert_eq!(other.status, 200, "{}", other.body);
    assert_eq!(other.header("x-ratelimit-remaining-requests"), Some("2"));
    // Refused requests never reached the provider.
    let answered =
        statuses.iter().filter(|s| **s == 200).count() + usize::from(refused.status == 200) + 1;
    assert_eq!(openai.count(), answered);
}

#[test]
fn a_budget_answers_the_call_that_crosses_it_refuses_the_next_and_resets_with_its_window() {
    let openai = MockProvider::start(Flavor::OpenAi);
    // $0.03 per 4 s window: two calls of $0.016 cross it.
    let gw = Gateway::start(&config(
        &openai,
        "  - match: metadata.organization_id\n    max_budget: 0.03\n    budget_duration: 4s\n",
    ));
    // Start right after a window begins, so the test does not straddle one.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    std::thread::sleep(Duration::from_millis(4000 - now % 4000 + 50));
    let first = gw.post("/v1/chat/completions", Some(KEY), &chat("org_a"));
    assert_eq!(first.status, 200, "{}", first.body);
    let cost: f64 = first
        .header("x-switchyard-response-cost")
        .unwrap()
        .parse()
        .unwrap();
    assert!((cost - CALL_COST).abs() < 1e-9, "{cost}");
    let second = gw.post("/v1/chat/completions", Some(KEY), &chat("org_a"));
    assert_eq!(second.status, 200, "{}", second.body);
    let third = gw.post("/v1/chat/completions", Some(KEY), &chat("org_a"));
    assert_eq!(third.status, 429, "{}", third.body);
    let e = third.json();
    assert_eq!(e["error"]["code"], "budget_exceeded", "{e}");
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(msg.contains("metadata.organization_id org_a"), "{msg}");
    assert!(msg.contains("0.03"), "{msg}");
    assert!(third.header("retry-after").is_some());
    assert_eq!(openai.count(), 2);
    // Another organization is not affected.
    assert_eq!(
        gw.post("/v1/chat/completions", Some(KEY), &chat("org_b"))
            .status,
        200
    );
    // The next window starts from zero.
    let wait = third.header("retry-after").unwrap().parse::<u64>().unwrap();
    assert!(wait <= 4, "{wait}");
    std::thread::sleep(Duration::from_millis(4100));
    let again = gw.post("/v1/chat/completions", Some(KEY), &chat("org_a"));
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(openai.count(), 4);
}

#[test]
fn tpm_and_max_parallel_per_organization_are_enforced() {
    let openai = MockProvider::start(Flavor::OpenAi);
    let gw = Gateway::start(&config(
        &openai,
        "  - match: metadata.organization_id\n    value: org_t\n    tpm: 20\n  - match: metadata.organization_id\n    value: org_p\n    max_parallel: 1\n",
    ));
    // 16 tokens a call: the second crosses 20 and is answered, the third refused.
    let s: Vec<u16> = (0..3)
        .map(|_| {
            gw.post("/v1/chat/completions", Some(KEY), &chat("org_t"))
                .status
        })
        .collect();
    let second_minute = s == [200, 200, 200];
    assert!(s == [200, 200, 429] || second_minute, "{s:?}");
    // One at a time for org_p: a slow call holds the only slot.
    openai.push(Behaviour::Delay(Duration::from_millis(1500)));
    let url = gw.port;
    let slow = std::thread::spawn(move || {
        let gw_url = format!("http://127.0.0.1:{url}/v1/chat/completions");
        let out = std::process::Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H"])
            .arg(format!("Authorization: Bearer {KEY}"))
            .args(["-H", "Content-Type: application/json", "-d"])
            .arg(chat("org_p").to_string())
            .arg(gw_url)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    });
    std::thread::sleep(Duration::from_millis(500));
    let busy = gw.post("/v1/chat/completions", Some(KEY), &chat("org_p"));
    assert_eq!(busy.status, 429, "{}", busy.body);
    assert!(
        busy.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("org_p")
    );
    assert_eq!(slow.join().unwrap(), "200");
    // The slot is free again.
    assert_eq!(
        gw.post("/v1/chat/completions", Some(KEY), &chat("org_p"))
            .status,
        200
    );
}

#[test]
fn a_stop_writes_every_spend_record_and_usage_adds_up_to_what_clients_saw() {
    let openai = MockProvider::start(Flavor::OpenAi);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("spend.db");
    // `general_settings` is the last section `config_with` writes.
    let cfg = format!(
        "{}  database_url: sqlite://{}\n{ONE_CALL_EACH}",
        config_with(&[priced_entry(&openai)]),
        db.display()
    );
    let config_path = dir.path().join("config.yaml");
    std::fs::write(&config_path, &cfg).unwrap();
    let keep = tempfile::tempdir().unwrap();
    let mut gw = Gateway::start_file(keep, &config_path);
    let mut seen = 0.0;
    for i in 0..20 {
        let org = if i % 2 == 0 { "org_even" } else { "org_odd" };
        let r = gw.post("/v1/chat/completions", Some(KEY), &chat(org));
        assert_eq!(r.status, 200, "{}", r.body);
        seen += r
            .header("x-switchyard-response-cost")
            .unwrap()
            .parse::<f64>()
            .unwrap();
    }
    // SIGTERM right away: the records still queued are flushed first.
    let pid = gw.pid();
    let started = Instant::now();
    terminate(pid);
    while gw.is_running() {
        assert!(started.elapsed() < Duration::from_secs(15), "did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    let gw = Gateway::start_file(tempfile::tempdir().unwrap(), &config_path);
    let logs = gw.get("/spend/logs?page_size=100", Some(KEY));
    assert_eq!(logs.status, 200, "{}", logs.body);
    assert_eq!(logs.json().as_array().unwrap().len(), 20, "{}", logs.body);
    let usage = gw.get("/usage?group_by=metadata.organization_id", Some(KEY));
    assert_eq!(usage.status, 200, "{}", usage.body);
    let u = usage.json();
    assert_eq!(u["summary"]["total_requests"], 20, "{u}");
    assert_eq!(u["summary"]["total_tokens"], 20 * 16, "{u}");
    let total = u["summary"]["total_cost"].as_f64().unwrap();
    assert!((total - seen).abs() < 1e-9, "{total} vs {seen}");
    let by = &u["by_organization_id"];
    assert_eq!(by["org_even"]["requests"], 10, "{u}");
    assert_eq!(by["org_odd"]["requests"], 10, "{u}");
    assert!((by["org_odd"]["cost"].as_f64().unwrap() - 10.0 * CALL_COST).abs() < 1e-9);
}

/// Sends SIGTERM with the `kill` command (no libc in the harness).
fn terminate(pid: u32) {
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

#[test]
fn sigterm_under_load_writes_a_record_for_every_answer() {
    let openai = MockProvider::start(Flavor::OpenAi);
    openai.always(Behaviour::Delay(Duration::from_millis(20)));
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("config.yaml");
    std::fs::write(
        &config_path,
        format!("{}{ONE_CALL_EACH}", config_with(&[priced_entry(&openai)])),
    )
    .unwrap();
    let mut gw = Gateway::start_file(tempfile::tempdir().unwrap(), &config_path);
    let url = gw.url("/v1/chat/completions");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // 8 clients, each sending one request after another until the gateway
    // is gone; each counts the answers it got.
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let url = url.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut answered = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let out = std::process::Command::new("curl")
                        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H"])
                        .arg(format!("Authorization: Bearer {KEY}"))
                        .args(["-H", "Content-Type: application/json", "-d"])
                        .arg(chat("org_load").to_string())
                        .arg(&url)
                        .output()
                        .unwrap();
                    match String::from_utf8_lossy(&out.stdout).as_ref() {
                        "200" => answered += 1,
                        "000" => break,
                        other => panic!("unexpected status {other}"),
                    }
                }
                answered
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    terminate(gw.pid());
    let started = Instant::now();
    while gw.is_running() {
        assert!(started.elapsed() < Duration::from_secs(15), "did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let answered: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
    assert!(answered > 20, "the load was real: {answered}");
    let gw = Gateway::start_file(tempfile::tempdir().unwrap(), &config_path);
    let usage = gw
        .get("/usage?group_by=metadata.organization_id", Some(KEY))
        .json();
    assert_eq!(
        usage["by_organization_id"]["org_load"]["requests"], answered,
        "every answered request has its record: {usage}"
    );
    assert_eq!(openai.count(), answered);
}
