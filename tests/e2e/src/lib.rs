//! Harness for end-to-end tests: starts the real `switchyard` binary (built
//! by `make build`) on a free port and talks to it with curl, as users do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The release binary `make build` produced.
pub fn binary() -> PathBuf {
    let bin = root().join("target/release/switchyard");
    assert!(
        bin.exists(),
        "{} is not built: run `make build`",
        bin.display()
    );
    bin
}

/// A built first-party plugin.
pub fn plugin(name: &str) -> PathBuf {
    for dir in ["target/plugins", "target/test-plugins"] {
        let p = root().join(dir).join(format!("{name}.wasm"));
        if p.exists() {
            return p;
        }
    }
    panic!("{name}.wasm is not built: run `make build`");
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running gateway; killed when dropped.
pub struct Gateway {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Gateway {
    /// Starts `switchyard serve` with `config` (YAML text) written to a temp
    /// dir, and waits until it answers.
    pub fn start(config: &str) -> Gateway {
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("config.yaml");
        std::fs::write(&config_path, config).unwrap();
        let port = free_port();
        let child = Command::new(binary())
            .args(["serve", "--config"])
            .arg(&config_path)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .env("SWITCHYARD_CACHE_DIR", root().join("target/plugin-cache"))
            .env("SWITCHYARD_LOG", "info")
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut gw = Gateway { child, port, dir };
        gw.wait_ready();
        gw
    }

    fn wait_ready(&mut self) {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("switchyard exited early: {status}");
            }
            if curl(&[&self.url("/health/liveliness")]).0 == 200 {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "switchyard did not answer within 60 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The process, for tests that need to check it is still alive.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs curl with `args`; returns the HTTP status and the body.
pub fn curl(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}", "--max-time", "30"])
        .args(args)
        .output()
        .expect("curl is installed");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

/// Parses a JSON body, naming it on failure.
pub fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// Polls `f` every 20 ms until it is true, for at most `limit`; returns how
/// long it took.
pub fn eventually(what: &str, limit: Duration, mut f: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !f() {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    started.elapsed()
}
