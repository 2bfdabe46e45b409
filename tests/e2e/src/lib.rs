//! Harness for end-to-end tests: starts the real `switchyard` binary (built
//! by `make build`) on a free port and talks to it with curl, as users do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod mock;

use std::io::Write;
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

/// The compiled-plugin cache the gateways share: `SWITCHYARD_CACHE_DIR`
/// when set, else `target/plugin-cache`.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("SWITCHYARD_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/plugin-cache"))
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
        Gateway::start_in(tempfile::tempdir().unwrap(), config)
    }

    /// Starts `switchyard serve` with `config` (YAML text without a
    /// `plugins:` section) and a plugins directory holding copies of the
    /// built plugins named in `plugins` (the watcher is off). The built-in
    /// plugins load too; a copy of one overrides it with the same build.
    pub fn start_with_plugins(plugins: &[&str], config: &str) -> Gateway {
        let dir = tempfile::tempdir().unwrap();
        let section = plugins_section(&dir.path().join("plugins"), plugins);
        Gateway::start_in(dir, &format!("{config}\n{section}"))
    }

    /// Starts `switchyard serve` with `config` written into `dir`.
    pub fn start_in(dir: tempfile::TempDir, config: &str) -> Gateway {
        let config_path = dir.path().join("config.yaml");
        std::fs::write(&config_path, config).unwrap();
        Gateway::start_file(dir, &config_path)
    }

    /// Starts `switchyard serve --config config_path`, working in `dir`.
    /// The gateway's log goes to `dir/switchyard.log` ([`Gateway::log`]).
    pub fn start_file(dir: tempfile::TempDir, config_path: &Path) -> Gateway {
        let cwd = dir.path().to_path_buf();
        let args = vec!["serve".into(), "--config".into(), config_path.into()];
        Gateway::start_args(dir, &cwd, args)
    }

    /// Starts `switchyard ARGS --host 127.0.0.1 --port P` in `cwd`; the log
    /// goes to `dir/switchyard.log`.
    pub fn start_args(
        mut dir: tempfile::TempDir,
        cwd: &Path,
        args: Vec<std::ffi::OsString>,
    ) -> Gateway {
        let log_path = dir.path().join("switchyard.log");
        let mut tries = 0;
        loop {
            tries += 1;
            let port = free_port();
            let log = std::fs::File::create(&log_path).unwrap();
            let child = Command::new(binary())
                .args(&args)
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .env("SWITCHYARD_CACHE_DIR", cache_dir())
                .env("SWITCHYARD_LOG", "info")
                .current_dir(cwd)
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap();
            let mut gw = Gateway { child, port, dir };
            match gw.wait_ready() {
                Ok(()) => return gw,
                // Another test took the port between `free_port` and the
                // gateway's bind: try another.
                Err(log) if tries < 3 && log.contains("in use") => {
                    dir = std::mem::replace(&mut gw.dir, tempfile::tempdir().unwrap());
                }
                Err(log) => panic!("switchyard did not start; its log:\n{log}"),
            }
        }
    }

    /// What the gateway logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("switchyard.log")).unwrap_or_default()
    }

    /// `POST path` with a JSON body and the key as a Bearer token.
    pub fn post(&self, path: &str, key: Option<&str>, body: &serde_json::Value) -> Reply {
        let auth = key.map(|k| format!("Authorization: Bearer {k}"));
        let mut headers = vec!["Content-Type: application/json"];
        headers.extend(auth.as_deref());
        http(
            "POST",
            &self.url(path),
            &headers,
            Some(body.to_string().as_bytes()),
        )
    }

    /// `GET path` with the key as a Bearer token.
    pub fn get(&self, path: &str, key: Option<&str>) -> Reply {
        let auth = key.map(|k| format!("Authorization: Bearer {k}"));
        let headers: Vec<&str> = auth.as_deref().into_iter().collect();
        http("GET", &self.url(path), &headers, None)
    }

    /// Waits until the gateway answers; its log when it exits first.
    fn wait_ready(&mut self) -> Result<(), String> {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited early ({status})\n{}", self.log()));
            }
            if curl(&[&self.url("/health/liveliness")]).0 == 200 {
                return Ok(());
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "switchyard did not answer within 60 s; its log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The process, for tests that need to check it is still alive.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The gateway's process id (to signal it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `plugins:` section whose directory `dir` is made to hold copies of
/// the named built plugins; the watcher is off.
pub fn plugins_section(dir: &Path, plugins: &[&str]) -> String {
    std::fs::create_dir_all(dir).unwrap();
    for name in plugins {
        std::fs::copy(plugin(name), dir.join(format!("{name}.wasm"))).unwrap();
    }
    format!("plugins:\n  dir: {}\n  watch: false\n", dir.display())
}

/// An HTTP answer as curl saw it.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON; panics naming the body otherwise.
    pub fn json(&self) -> serde_json::Value {
        json(&self.body)
    }

    /// The `data:` payloads of an SSE body, in order; panics when the body
    /// is not a sequence of `data: ...` events each ended by a blank line.
    pub fn sse_data(&self) -> Vec<String> {
        sse_data(&self.body)
    }
}

/// The `data:` payloads of an SSE body (events of one `data:` line each,
/// separated by blank lines), checking the framing.
pub fn sse_data(body: &str) -> Vec<String> {
    assert!(
        body.ends_with("\n\n"),
        "an SSE body ends with a blank line: {body:?}"
    );
    body.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|event| {
            let data: Vec<&str> = event
                .lines()
                .filter(|l| !l.starts_with(':'))
                .map(|l| {
                    l.strip_prefix("data: ")
                        .unwrap_or_else(|| panic!("not a data line: {l:?} in {body:?}"))
                })
                .collect();
            assert_eq!(data.len(), 1, "one data line per event: {event:?}");
            data[0].to_string()
        })
        .collect()
}

/// Sends one request with curl (the body through stdin) and returns the
/// status, headers and body.
pub fn http(method: &str, url: &str, headers: &[&str], body: Option<&[u8]>) -> Reply {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-i", "--max-time", "30", "-X", method])
        // No `Expect: 100-continue` for large bodies.
        .args(["-H", "Expect:"]);
    for h in headers {
        cmd.args(["-H", h]);
    }
    if body.is_some() {
        cmd.args(["--data-binary", "@-"]);
    }
    cmd.arg(url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("curl is installed");
    {
        let mut stdin = child.stdin.take().unwrap();
        if let Some(b) = body {
            // The server may answer (413) before reading it all.
            let _ = stdin.write_all(b);
        }
    }
    let out = child.wait_with_output().unwrap();
    parse_reply(&out.stdout).unwrap_or_else(|| {
        panic!(
            "no HTTP answer from {method} {url}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn parse_reply(raw: &[u8]) -> Option<Reply> {
    let mut text = String::from_utf8_lossy(raw).into_owned();
    loop {
        let (head, rest) = text.split_once("\r\n\r\n")?;
        let mut lines = head.lines();
        let status: u16 = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
        if (100..200).contains(&status) {
            text = rest.to_string();
            continue;
        }
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        return Some(Reply {
            status,
            headers,
            body: rest.to_string(),
        });
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

/// The master key the e2e configs set.
pub const KEY: &str = "sk-e2e-master";

/// One `model_list` entry (YAML, indented for the list) with extra
/// `litellm_params` lines (`key: value`, one per item).
pub fn model_entry(group: &str, model: &str, api_base: &str, extra: &[&str]) -> String {
    let mut s = format!(
        "  - model_name: {group}\n    litellm_params:\n      model: {model}\n      api_base: {api_base}\n"
    );
    for line in extra {
        s.push_str(&format!("      {line}\n"));
    }
    s
}

/// A config with these `model_list` entries and the master key [`KEY`].
pub fn config_with(entries: &[String]) -> String {
    format!(
        "model_list:\n{}general_settings:\n  master_key: {KEY}\n",
        entries.concat()
    )
}

/// `router_settings` for tests of one provider's wire format: every call
/// is exactly one upstream call (no retries, no cooldowns).
pub const ONE_CALL_EACH: &str = "router_settings:\n  num_retries: 0\n  disable_cooldowns: true\n";

/// [`config_with`] plus more top-level YAML (for example `router_settings`).
pub fn config_with_settings(entries: &[String], settings: &str) -> String {
    format!("{}{settings}", config_with(entries))
}

/// The chunks of an OpenAI-format SSE body, checking the framing: every
/// event a `data:` line and a blank line, the last one `data: [DONE]` and
/// no other `[DONE]`, every other one a `chat.completion.chunk`.
pub fn stream_chunks(reply: &Reply) -> Vec<serde_json::Value> {
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.header("content-type"),
        Some("text/event-stream"),
        "{:?}",
        reply.headers
    );
    let data = reply.sse_data();
    assert_eq!(
        data.last().map(String::as_str),
        Some("[DONE]"),
        "the stream ends with data: [DONE]: {}",
        reply.body
    );
    assert_eq!(
        data.iter().filter(|d| *d == "[DONE]").count(),
        1,
        "{}",
        reply.body
    );
    let chunks: Vec<serde_json::Value> = data[..data.len() - 1].iter().map(|d| json(d)).collect();
    for c in &chunks {
        assert_eq!(c["object"], "chat.completion.chunk", "{c}");
    }
    chunks
}

/// The text of a stream's chunks (choice 0), in order.
pub fn streamed_text(chunks: &[serde_json::Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect()
}

/// The usage chunks of a stream (chunks whose `usage` is an object).
pub fn usage_chunks(chunks: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    chunks.iter().filter(|c| c["usage"].is_object()).collect()
}

/// The tool calls of a stream's chunks (choice 0), merged as OpenAI
/// clients merge them: by index, the first id/name, arguments
/// concatenated. Returns (id, name, arguments) per index.
pub fn streamed_tool_calls(chunks: &[serde_json::Value]) -> Vec<(String, String, String)> {
    let mut calls: Vec<(String, String, String)> = Vec::new();
    for c in chunks {
        let Some(list) = c["choices"][0]["delta"]["tool_calls"].as_array() else {
            continue;
        };
        for call in list {
            let i = call["index"]
                .as_u64()
                .expect("tool call delta has an index") as usize;
            while calls.len() <= i {
                calls.push(Default::default());
            }
            if let Some(id) = call["id"].as_str() {
                calls[i].0 = id.to_string();
            }
            if let Some(name) = call["function"]["name"].as_str() {
                calls[i].1.push_str(name);
            }
            if let Some(args) = call["function"]["arguments"].as_str() {
                calls[i].2.push_str(args);
            }
        }
    }
    calls
}

/// The finish reasons of a stream's chunks (choice 0), in order.
pub fn finish_reasons(chunks: &[serde_json::Value]) -> Vec<String> {
    chunks
        .iter()
        .filter_map(|c| c["choices"][0]["finish_reason"].as_str())
        .map(str::to_string)
        .collect()
}
