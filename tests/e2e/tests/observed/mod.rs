//! A gateway started with the environment a test gives it (log level and
//! format, OpenTelemetry variables), for the logs, traces and secrets
//! tests; stopped gracefully (SIGTERM) when a test needs everything it
//! had to send flushed.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use switchyard_e2e::*;

pub struct Observed {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Observed {
    /// `switchyard serve` with `config` (written into `dir`) and `env` on
    /// top of the test's own environment; waits until it answers.
    pub fn start(dir: tempfile::TempDir, config: &str, env: &[(&str, &str)]) -> Observed {
        let config_path = dir.path().join("config.yaml");
        std::fs::write(&config_path, config).unwrap();
        let mut dir = Some(dir);
        for _ in 0..3 {
            let Some(d) = dir.take() else { break };
            let port = free_port();
            let log = std::fs::File::create(d.path().join("switchyard.log")).unwrap();
            let mut cmd = Command::new(binary());
            cmd.arg("serve")
                .arg("--config")
                .arg(&config_path)
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .env("SWITCHYARD_CACHE_DIR", cache_dir())
                .env("SWITCHYARD_LOG", "info")
                .env_remove("SWITCHYARD_LOG_FORMAT")
                .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
                .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
            for (k, v) in env {
                cmd.env(k, v);
            }
            let child = cmd
                .current_dir(d.path())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap();
            let mut gw = Observed {
                child,
                port,
                dir: d,
            };
            let started = Instant::now();
            loop {
                if curl(&[&gw.url("/health/liveliness")]).0 == 200 {
                    return gw;
                }
                if let Ok(Some(status)) = gw.child.try_wait() {
                    let log = gw.log();
                    // Another test took the port first: another port.
                    assert!(
                        log.contains("in use"),
                        "switchyard exited ({status}):\n{log}"
                    );
                    break;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(60),
                    "switchyard did not answer within 60 s:\n{}",
                    gw.log()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            dir = Some(std::mem::replace(&mut gw.dir, tempfile::tempdir().unwrap()));
        }
        panic!("switchyard found no free port in 3 tries");
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// `POST path` with a JSON body, the key as a Bearer token and more
    /// headers.
    pub fn post(
        &self,
        path: &str,
        key: Option<&str>,
        headers: &[&str],
        body: &serde_json::Value,
    ) -> Reply {
        let auth = key.map(|k| format!("Authorization: Bearer {k}"));
        let mut all = vec!["Content-Type: application/json"];
        all.extend(auth.as_deref());
        all.extend(headers);
        http(
            "POST",
            &self.url(path),
            &all,
            Some(body.to_string().as_bytes()),
        )
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("switchyard.log")).unwrap_or_default()
    }

    /// SIGTERM, then waits for the exit (within 20 s): requests finish,
    /// spans are flushed. Its exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "switchyard did not stop within 20 s of SIGTERM:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Observed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
