//! Stores failing under a running gateway: PostgreSQL stopped mid-run (the
//! gateway keeps answering and limiting, and every spend record reaches the
//! database once it is back), and Redis stopped (limits fall back to this
//! process's counts, and readiness says so). Each test runs its own
//! PostgreSQL or Redis on a free port, never the shared ones.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchyard_e2e::mock::*;
use switchyard_e2e::*;

/// A PostgreSQL of this test's own, run as the `postgres` user (it refuses
/// to run as root).
struct OwnPostgres {
    _dir: tempfile::TempDir,
    data: PathBuf,
    port: u16,
}

fn pg_bin(name: &str) -> PathBuf {
    let versions = std::fs::read_dir("/usr/lib/postgresql").expect("PostgreSQL is installed");
    let mut dirs: Vec<PathBuf> = versions.map(|e| e.unwrap().path()).collect();
    dirs.sort();
    dirs.last().unwrap().join("bin").join(name)
}

fn as_postgres(bin: &Path, args: &[&str]) {
    let out = Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(bin)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} {args:?}: {}{}",
        bin.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl OwnPostgres {
    fn start() -> OwnPostgres {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(dir.path())
            .status()
            .unwrap();
        as_postgres(
            &pg_bin("initdb"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
            ],
        );
        let pg = OwnPostgres {
            port: free_port(),
            data,
            _dir: dir,
        };
        pg.up();
        pg
    }

    fn up(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.data.display()
        );
        let log = self.data.join("server.log");
        as_postgres(
            &pg_bin("pg_ctl"),
            &[
                "-D",
                self.data.to_str().unwrap(),
                "-o",
                &opts,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "start",
            ],
        );
    }

    fn down(&self) {
        as_postgres(
            &pg_bin("pg_ctl"),
            &[
                "-D",
                self.data.to_str().unwrap(),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
        );
    }

    fn url(&self) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(pg_bin("pg_ctl"))
            .args(["-D", self.data.to_str().unwrap(), "-m", "immediate", "stop"])
            .output();
    }
}

fn priced_config(openai: &MockProvider, extra_general: &str, rest: &str) -> String {
    let mut e = model_entry(
        "gpt",
        "openai/gpt-4o-mini",
        &openai.url(),
        &["api_key: sk-up"],
    );
    e.push_str(
        "    model_info:\n      input_cost_per_token: 0.001\n      output_cost_per_token: 0.001\n",
    );
    format!("{}{extra_general}{ONE_CALL_EACH}{rest}", config_with(&[e]))
}

fn chat() -> Value {
    json!({
        "model": "gpt",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi"}],
        "metadata": {"organization_id": "org_f"},
    })
}

fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < limit,
            "{what} did not happen within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn postgres_stopped_mid_run_loses_no_record_and_requests_keep_being_answered_and_limited() {
    let pg = OwnPostgres::start();
    let openai = MockProvider::start(Flavor::OpenAi);
    let gw = Gateway::start(&priced_config(
        &openai,
        &format!("  database_url: {}\n", pg.url()),
        "limits:\n  - match: metadata.organization_id\n    max_budget: 0.30\n",
    ));
    for _ in 0..10 {
        assert_eq!(
            gw.post("/v1/chat/completions", Some(KEY), &chat()).status,
            200
        );
    }
    pg.down();
    // $0.16 spent; $0.14 left: 9 more calls are answered (the ninth crosses
    // the budget), then refusals, all while the database is down.
    let statuses: Vec<u16> = (0..12)
        .map(|_| gw.post("/v1/chat/completions", Some(KEY), &chat()).status)
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        9,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        3,
        "{statuses:?}"
    );
    wait_for("the writer to notice", Duration::from_secs(5), || {
        let r = gw.get("/health/readiness", None).json();
        r["spend_writer"]["db_up"] == false
    });
    pg.up();
    // Every record (answered and refused) is written once it is back.
    wait_for(
        "every record to reach the database",
        Duration::from_secs(20),
        || {
            let logs = gw.get("/spend/logs?page_size=100", Some(KEY));
            logs.status == 200 && logs.json().as_array().map(Vec::len) == Some(22)
        },
    );
    let r = gw.get("/health/readiness", None).json();
    assert_eq!(r["spend_writer"]["dropped"], 0, "{r}");
    assert_eq!(r["spend_writer"]["db_up"], true, "{r}");
    assert_eq!(openai.count(), 19);
}

/// A Redis of this test's own.
struct OwnRedis {
    child: Child,
    port: u16,
}

impl OwnRedis {
    fn start(port: u16) -> OwnRedis {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let r = OwnRedis { child, port };
        wait_for("redis to start", Duration::from_secs(5), || {
            Command::new("redis-cli")
                .args(["-p", &port.to_string(), "ping"])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("PONG"))
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

#[test]
fn redis_stopped_limits_fall_back_to_this_process_and_readiness_says_so() {
    let port = free_port();
    let redis = OwnRedis::start(port);
    let openai = MockProvider::start(Flavor::OpenAi);
    let gw = Gateway::start(&priced_config(
        &openai,
        "",
        &format!(
            "  redis_url: redis://127.0.0.1:{}\nlimits:\n  - match: metadata.organization_id\n    max_budget: 0.05\n",
            redis.port
        ),
    ));
    let r = gw.get("/health/readiness", None).json();
    assert_eq!(r["limits"]["backend"], "redis", "{r}");
    assert_eq!(r["limits"]["connected"], true, "{r}");
    assert_eq!(
        gw.post("/v1/chat/completions", Some(KEY), &chat()).status,
        200
    );
    drop(redis);
    // Still answered, and still limited by this process's own counts:
    // $0.016 spent before; two more cross $0.05... then refused.
    let statuses: Vec<u16> = (0..5)
        .map(|_| gw.post("/v1/chat/completions", Some(KEY), &chat()).status)
        .collect();
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 429),
        "{statuses:?}"
    );
    assert!(statuses.contains(&429), "limits still apply: {statuses:?}");
    let r = gw.get("/health/readiness", None);
    assert_eq!(
        r.status, 200,
        "losing Redis does not make a replica unready"
    );
    let r = r.json();
    assert_eq!(r["limits"]["connected"], false, "{r}");
    // Redis back: the limiter finds it again by itself.
    let _redis = OwnRedis::start(port);
    wait_for("the limiter to reconnect", Duration::from_secs(10), || {
        let _ = gw.post("/v1/chat/completions", Some(KEY), &chat());
        gw.get("/health/readiness", None).json()["limits"]["connected"] == true
    });
}
