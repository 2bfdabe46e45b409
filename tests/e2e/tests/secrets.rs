//! No secret reaches a log line, an error body, a header or `/metrics`: a
//! whole scenario (the master key, virtual keys, a provider key, a webhook
//! secret and token, a Redis password, a database password) runs with
//! debug logging, and everything the gateway wrote or answered is
//! searched for each secret.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod observed;

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;
use switchyard_e2e::mock::*;
use switchyard_e2e::*;

use observed::Observed;

/// A secret unique to this run (letters and digits only, so that no
/// encoding changes how it is spelled).
fn secret(what: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{what}{}x{nanos}", std::process::id())
}

/// A Redis server of this test's own, with a password.
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    fn start(password: &str) -> Redis {
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--requirepass",
                password,
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        let redis = Redis { child, port };
        eventually("redis-server answers", Duration::from_secs(10), || {
            Command::new("redis-cli")
                .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-a", password])
                .args(["--no-auth-warning", "ping"])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "PONG")
        });
        redis
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A PostgreSQL schema of this test's own.
struct Schema(String);

impl Schema {
    fn new() -> Schema {
        let name = format!("sy_secrets_{}", secret("s").to_lowercase());
        psql(&format!("CREATE SCHEMA {name}"));
        Schema(name)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        psql(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.0));
    }
}

fn psql(sql: &str) {
    let out = Command::new("psql")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "test"])
        .args(["-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A webhook receiver that answers 200 to everything and keeps each raw
/// request.
fn receiver() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = got.clone();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let _ = conn.set_read_timeout(Some(Duration::from_millis(200)));
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            while let Ok(n) = conn.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            kept.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&buf).into_owned());
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (port, got)
}

#[test]
fn no_secret_reaches_a_log_line_an_answer_or_metrics() {
    let master = secret("sk-master");
    let provider_key = secret("sk-provider");
    let hook_secret = secret("whsec");
    let hook_token = secret("hooktoken");
    let redis_password = secret("redispw");
    let db_password = secret("dbpw");
    let wrong_key = secret("sk-wrong");

    let redis = Redis::start(&redis_password);
    let schema = Schema::new();
    let mock = MockProvider::start(Flavor::OpenAi);
    let (hook_port, hook_got) = receiver();
    let config = format!(
        r#"model_list:
  - model_name: gpt
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: {api_base}
      api_key: os.environ/E2E_SECRETS_PROVIDER_KEY
router_settings:
  num_retries: 0
  disable_cooldowns: true
  redis_url: redis://:{redis_password}@127.0.0.1:{redis_port}
  redis_key_prefix: {prefix}
litellm_settings:
  success_callback: [audit]
  failure_callback: [audit]
  cache: true
  cache_params:
    type: redis
general_settings:
  master_key: {master}
  database_url: postgresql://postgres:{db_password}@127.0.0.1:5432/test?options=-csearch_path%3D{schema}
  metrics_require_auth: true
webhooks:
  audit:
    url: http://127.0.0.1:{hook_port}/hook
    headers:
      Authorization: "Bearer ${{E2E_SECRETS_HOOK_TOKEN}}"
    secret: {hook_secret}
"#,
        api_base = mock.url(),
        redis_port = redis.port,
        prefix = schema.0,
        schema = schema.0,
    );
    let mut gw = Observed::start(
        tempfile::tempdir().unwrap(),
        &config,
        &[
            ("SWITCHYARD_LOG", "debug"),
            ("E2E_SECRETS_PROVIDER_KEY", &provider_key),
            ("E2E_SECRETS_HOOK_TOKEN", &hook_token),
        ],
    );

    let mut answers: Vec<Reply> = Vec::new();
    let chat = |content: &str, stream: bool| json!({"model": "gpt", "stream": stream, "messages": [{"role": "user", "content": content}]});
    answers.push(gw.post(
        "/team/new",
        Some(&master),
        &[],
        &json!({"team_id": "t-sec"}),
    ));
    answers.push(gw.post(
        "/key/generate",
        Some(&master),
        &[],
        &json!({"key_alias": "sec-bot", "team_id": "t-sec"}),
    ));
    answers.push(gw.post("/key/generate", Some(&master), &[], &json!({})));
    let keys: Vec<String> = answers[1..3]
        .iter()
        .map(|r| {
            assert_eq!(r.status, 200, "{}", r.body);
            r.json()["key"].as_str().unwrap().to_string()
        })
        .collect();
    for (key, content, stream) in [
        (&master, "one", false),
        (&keys[0], "two", false),
        (&keys[0], "two", false), // a cache hit
        (&keys[1], "three", true),
        (&wrong_key, "four", false),
    ] {
        answers.push(gw.post(
            "/v1/chat/completions",
            Some(key),
            &[],
            &chat(content, stream),
        ));
    }
    // The provider refuses its key: its error reaches the client.
    mock.push(Behaviour::Status(401, String::new(), None));
    answers.push(gw.post(
        "/v1/chat/completions",
        Some(&master),
        &[],
        &chat("five", false),
    ));
    // A key blocked, then used.
    answers.push(gw.post("/key/block", Some(&master), &[], &json!({"key": keys[1]})));
    answers.push(gw.post(
        "/v1/chat/completions",
        Some(&keys[1]),
        &[],
        &chat("six", false),
    ));
    answers.push(gw.post(
        "/v1/embeddings",
        Some(&keys[0]),
        &[],
        &json!({"model": "gpt", "input": "x"}),
    ));
    for (path, key) in [
        ("/metrics", Some(master.as_str())),
        ("/metrics", None),
        ("/health/readiness", None),
        ("/health", Some(master.as_str())),
        ("/key/info", Some(master.as_str())),
        ("/key/list", Some(master.as_str())),
        ("/v1/models", Some(wrong_key.as_str())),
        ("/spend/logs", Some(master.as_str())),
    ] {
        let auth = key.map(|k| format!("Authorization: Bearer {k}"));
        let headers: Vec<&str> = auth.as_deref().into_iter().collect();
        answers.push(http("GET", &gw.url(path), &headers, None));
    }
    let statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
    // The ones that must have worked, and the refusals the scenario asks for.
    assert_eq!(&statuses[3..8], [200, 200, 200, 200, 401], "{answers:?}");
    assert_ne!(statuses[8], 200, "{}", answers[8].body);
    assert_ne!(statuses[10], 200, "{}", answers[10].body);
    assert_eq!(statuses[11], 200, "{}", answers[11].body);
    assert_eq!(answers[12].status, 200, "/metrics: {}", answers[12].body);
    assert!(
        answers[12].body.contains("llm_requests_total"),
        "{}",
        answers[12].body
    );

    // Webhook deliveries carry the token (to the receiver, as asked).
    eventually("a webhook delivery", Duration::from_secs(10), || {
        !hook_got.lock().unwrap().is_empty()
    });
    let check = Command::new(binary())
        .args(["config", "check"])
        .arg(gw.dir.path().join("config.yaml"))
        .env("E2E_SECRETS_PROVIDER_KEY", &provider_key)
        .env("E2E_SECRETS_HOOK_TOKEN", &hook_token)
        .env("SWITCHYARD_LOG", "debug")
        .output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");
    assert!(gw.stop().success());
    let log = gw.log();
    assert!(log.contains(" DEBUG "), "debug logging is on:\n{log}");

    let mut written = vec![
        ("the log".to_string(), log),
        (
            "config check".to_string(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&check.stdout),
                String::from_utf8_lossy(&check.stderr)
            ),
        ),
    ];
    for (i, r) in answers.iter().enumerate() {
        let headers: Vec<String> = r.headers.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        written.push((
            format!("answer {i} ({})", r.status),
            format!("{}\n{}", headers.join("\n"), r.body),
        ));
    }
    let secrets = [
        ("master key", master.as_str()),
        ("provider key", &provider_key),
        ("virtual key", &keys[0]),
        ("virtual key", &keys[1]),
        ("a presented wrong key", &wrong_key),
        ("webhook secret", &hook_secret),
        ("webhook token", &hook_token),
        ("Redis password", &redis_password),
        ("database password", &db_password),
    ];
    for (what, text) in &written {
        for (name, secret) in &secrets {
            // The key a client gets back from /key/generate is its own.
            if text.contains(*secret) && !(what == "answer 1 (200)" || what == "answer 2 (200)") {
                let line = text.lines().find(|l| l.contains(*secret)).unwrap();
                panic!("the {name} is in {what}: {line}");
            }
        }
    }
    drop(schema);
}
