//! The config file hot-reloaded (issue 12), end to end: under a steady load
//! of concurrent requests a group is added, a deployment removed, a bad
//! file refused and a fixed one applied, with no failed request; SIGHUP
//! reloads with file watching off; a deployment's cooldown survives an
//! unrelated change; `GET /admin/config` shows the running file without
//! its secrets, the last error, and the keys that wait for a restart.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchyard_e2e::mock::*;
use switchyard_e2e::*;

/// Long enough for a reload on a loaded machine (each is well under).
const RELOAD_WITHIN: Duration = Duration::from_secs(15);

/// A `model_list` entry with a fixed `model_info.id`.
fn entry(group: &str, mock: &MockProvider, id: &str, params: &[&str]) -> String {
    let mut s = model_entry(group, "openai/gpt-test", &mock.url(), params);
    s.push_str(&format!("    model_info:\n      id: {id}\n"));
    s
}

fn hello(model: &str) -> Value {
    json!({"model": model, "max_tokens": 5, "messages": [{"role": "user", "content": "Hello?"}]})
}

/// Writes the file as editors that save through a temporary file do: the
/// new file renamed over the old one.
fn replace_file(path: &Path, text: &str) {
    let tmp = path.with_extension("yaml.swp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn admin_config(port: u16) -> Value {
    let r = http(
        "GET",
        &format!("http://127.0.0.1:{port}/admin/config"),
        &[&format!("Authorization: Bearer {KEY}")],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

/// The SHA-256 `/admin/config` reports for a file holding `text`.
fn sha256(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

/// Waits until `/admin/config` reports `text` as the running file, and
/// checks it is `generation`; returns the report.
fn wait_applied(port: u16, text: &str, generation: u64) -> Value {
    let sha = sha256(text);
    let mut last = Value::Null;
    eventually(
        &format!("config generation {generation} running"),
        RELOAD_WITHIN,
        || {
            last = admin_config(port);
            last["sha256"] == sha
        },
    );
    assert_eq!(last["generation"], generation, "{last}");
    last
}

/// Waits until `/admin/config` reports `generation`; returns the report.
fn wait_generation(port: u16, generation: u64) -> Value {
    let mut last = Value::Null;
    eventually(
        &format!("config generation {generation}"),
        RELOAD_WITHIN,
        || {
            last = admin_config(port);
            last["generation"] == generation
        },
    );
    last
}

fn chat(port: u16, model: &str) -> Reply {
    http(
        "POST",
        &format!("http://127.0.0.1:{port}/v1/chat/completions"),
        &[
            "Content-Type: application/json",
            &format!("Authorization: Bearer {KEY}"),
        ],
        Some(hello(model).to_string().as_bytes()),
    )
}

/// Client threads sending chat requests one after another until stopped,
/// each counting what it completed and keeping every failure.
struct Load {
    stop: Arc<AtomicBool>,
    done: Arc<Vec<AtomicUsize>>,
    failures: Arc<Mutex<Vec<String>>>,
    threads: Vec<JoinHandle<()>>,
}

impl Load {
    fn start(port: u16, model: &str, clients: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let done: Arc<Vec<AtomicUsize>> =
            Arc::new((0..clients).map(|_| AtomicUsize::new(0)).collect());
        let failures = Arc::new(Mutex::new(Vec::new()));
        let threads = (0..clients)
            .map(|i| {
                let (stop, done, failures) = (stop.clone(), done.clone(), failures.clone());
                let model = model.to_string();
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let r = chat(port, &model);
                        if r.status != 200 {
                            failures
                                .lock()
                                .unwrap()
                                .push(format!("{}: {}", r.status, r.body));
                        }
                        done[i].fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        Load {
            stop,
            done,
            failures,
            threads,
        }
    }

    /// Waits until every client has completed `n` more requests than now:
    /// a request in flight at the call has ended, and at least one started
    /// after it has too.
    fn each_completes(&self, n: usize) {
        let now: Vec<usize> = self.done.iter().map(|d| d.load(Ordering::SeqCst)).collect();
        eventually(
            "every client completes more requests",
            RELOAD_WITHIN,
            || {
                self.done
                    .iter()
                    .zip(&now)
                    .all(|(d, before)| d.load(Ordering::SeqCst) >= before + n)
            },
        );
    }

    fn total(&self) -> usize {
        self.done.iter().map(|d| d.load(Ordering::SeqCst)).sum()
    }

    /// Stops the clients; returns how many requests they completed and
    /// every failure.
    fn stop(self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.join().unwrap();
        }
        let total = self.done.iter().map(|d| d.load(Ordering::SeqCst)).sum();
        let failures = self.failures.lock().unwrap().clone();
        (total, failures)
    }
}

/// The value of an unlabelled or labelled sample in a `/metrics` body.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|l| {
        l.strip_prefix(series)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
    })
}

#[test]
fn under_load_a_group_is_added_a_deployment_removed_and_a_bad_file_refused_with_no_failed_request()
{
    let a1 = MockProvider::start(Flavor::OpenAi);
    let a2 = MockProvider::start(Flavor::OpenAi);
    let b1 = MockProvider::start(Flavor::OpenAi);
    let v1 = config_with(&[entry("a", &a1, "a1", &[]), entry("a", &a2, "a2", &[])]);
    let gw = Gateway::start(&v1);
    let file = gw.dir.path().join("config.yaml");
    let first = admin_config(gw.port);
    assert_eq!(first["generation"], 1);
    assert_eq!(first["watching"], true);
    assert_eq!(first["last_attempt"], Value::Null);

    let load = Load::start(gw.port, "a", 4);
    load.each_completes(2);
    assert_eq!(
        chat(gw.port, "b").status,
        404,
        "group b is not configured yet"
    );

    // (1) A group added, written in place.
    let v2 = config_with(&[
        entry("a", &a1, "a1", &[]),
        entry("a", &a2, "a2", &[]),
        entry("b", &b1, "b1", &[]),
    ]);
    std::fs::write(&file, &v2).unwrap();
    let report = wait_applied(gw.port, &v2, 2);
    assert_eq!(report["last_attempt"]["outcome"], "ok");
    assert_eq!(report["last_attempt"]["trigger"], "file");
    let r = chat(gw.port, "b");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("x-switchyard-deployment"), Some("b1"));
    assert_eq!(b1.count(), 1);

    // (2) A deployment removed: once every request that could have started
    // on the old config has ended, a2 gets no call.
    let v3 = config_with(&[entry("a", &a1, "a1", &[]), entry("b", &b1, "b1", &[])]);
    replace_file(&file, &v3);
    wait_applied(gw.port, &v3, 3);
    load.each_completes(1);
    let a2_calls = a2.count();
    let a1_before = a1.count();
    assert!(a2_calls > 0, "a2 served before it was removed");
    load.each_completes(5);
    assert_eq!(a2.count(), a2_calls, "a removed deployment got calls");
    // 20 completed, of which the 4 in flight at the count may have been
    // counted already.
    assert!(a1.count() >= a1_before + 16, "a1 serves group a alone");

    // (3) A bad file: the running config keeps serving; the error names
    // the key.
    let served_before = load.total();
    // An editor that writes in place may have shown the watcher an empty
    // file for a moment (refused as such): count from here.
    let failed_before = admin_config(gw.port)["reloads_failed"].as_u64().unwrap();
    let bad = format!("{v3}router_settings:\n  num_retries: lots\n");
    replace_file(&file, &bad);
    let mut report = Value::Null;
    eventually(
        "the bad file's error on /admin/config",
        RELOAD_WITHIN,
        || {
            report = admin_config(gw.port);
            report["last_attempt"]["outcome"] == "error"
        },
    );
    let error = report["last_attempt"]["error"].as_str().unwrap();
    assert!(
        error.contains("num_retries") && error.contains("config.yaml"),
        "{error}"
    );
    assert_eq!(report["generation"], 3);
    assert_eq!(report["reloads_failed"], failed_before + 1);
    assert!(
        !report["config"].to_string().contains("lots"),
        "/admin/config shows the running file"
    );
    assert!(
        gw.log()
            .contains("config reload failed; the running config stays")
    );
    load.each_completes(3);
    assert!(load.total() > served_before);
    assert_eq!(a2.count(), a2_calls);

    // (4) The file fixed: it applies.
    let fixed = format!("{v3}router_settings:\n  num_retries: 2\n");
    replace_file(&file, &fixed);
    let report = wait_applied(gw.port, &fixed, 4);
    assert_eq!(report["last_attempt"]["outcome"], "ok");
    assert_eq!(report["last_attempt"]["error"], Value::Null);
    assert_eq!(report["config"]["router_settings"]["num_retries"], 2);
    load.each_completes(2);

    let (total, failures) = load.stop();
    assert!(
        failures.is_empty(),
        "{} of {total} failed: {failures:#?}",
        failures.len()
    );
    assert!(total >= 60, "only {total} requests ran");
    assert_eq!(a2.count(), a2_calls);

    let metrics = gw.get("/metrics", Some(KEY)).body;
    assert_eq!(
        sample(&metrics, "switchyard_config_reloads_total{outcome=\"ok\"}"),
        Some(3.0),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            "switchyard_config_reloads_total{outcome=\"error\"}"
        ),
        Some(1.0)
    );
    assert_eq!(sample(&metrics, "switchyard_config_generation"), Some(4.0));
}

/// A gateway started with `SWITCHYARD_WATCH_CONFIG=0` (the harness's
/// `Gateway` sets no environment of its own).
struct Unwatched {
    child: Child,
    port: u16,
    file: PathBuf,
    _dir: tempfile::TempDir,
}

impl Unwatched {
    fn start(config: &str) -> Unwatched {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.yaml");
        std::fs::write(&file, config).unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("switchyard.log")).unwrap();
        let child = Command::new(binary())
            .arg("serve")
            .arg("--config")
            .arg(&file)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .env("SWITCHYARD_CACHE_DIR", cache_dir())
            .env("SWITCHYARD_LOG", "info")
            .env("SWITCHYARD_WATCH_CONFIG", "0")
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut gw = Unwatched {
            child,
            port,
            file,
            _dir: dir,
        };
        let started = Instant::now();
        while curl(&[&format!("http://127.0.0.1:{port}/health/liveliness")]).0 != 200 {
            assert!(
                matches!(gw.child.try_wait(), Ok(None)),
                "switchyard exited early"
            );
            assert!(started.elapsed() < Duration::from_secs(60), "not ready");
            std::thread::sleep(Duration::from_millis(20));
        }
        gw
    }

    fn hangup(&self) {
        let ok = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -HUP failed");
    }
}

impl Drop for Unwatched {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn sighup_reloads_the_file_when_watching_is_off() {
    let a = MockProvider::start(Flavor::OpenAi);
    let b = MockProvider::start(Flavor::OpenAi);
    let gw = Unwatched::start(&config_with(&[entry("a", &a, "a1", &[])]));
    assert_eq!(admin_config(gw.port)["watching"], false);

    let load = Load::start(gw.port, "a", 4);
    replace_file(
        &gw.file,
        &config_with(&[entry("a", &a, "a1", &[]), entry("b", &b, "b1", &[])]),
    );
    // Past the watcher's debounce: nothing reloaded on its own.
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(admin_config(gw.port)["generation"], 1);
    assert_eq!(chat(gw.port, "b").status, 404);

    gw.hangup();
    let report = wait_generation(gw.port, 2);
    assert_eq!(report["last_attempt"]["trigger"], "sighup");
    assert_eq!(report["last_attempt"]["outcome"], "ok");
    let r = chat(gw.port, "b");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(b.count(), 1);

    // SIGHUP reloads even an unchanged file (environment references may
    // have changed): a new generation.
    gw.hangup();
    wait_generation(gw.port, 3);
    load.each_completes(2);
    let (total, failures) = load.stop();
    assert!(
        failures.is_empty(),
        "{} of {total} failed: {failures:#?}",
        failures.len()
    );
}

#[test]
fn a_deployment_in_cooldown_stays_cooling_after_an_unrelated_change() {
    let a = MockProvider::start(Flavor::OpenAi);
    let b = MockProvider::start(Flavor::OpenAi);
    let c = MockProvider::start(Flavor::OpenAi);
    a.always(Behaviour::Status(500, String::new(), None));
    let settings = "router_settings:\n  num_retries: 1\n  allowed_fails: 0\n  cooldown_time: 300\n";
    let gw = Gateway::start(&config_with_settings(
        &[
            entry("g", &a, "a", &["order: 1"]),
            entry("g", &b, "b", &["order: 2"]),
        ],
        settings,
    ));
    // a fails once and cools down; b answers.
    let r = chat(gw.port, "g");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("x-switchyard-deployment"), Some("b"));
    assert_eq!((a.count(), b.count()), (1, 1));
    let status_of = |id: &str| -> Value {
        let body = gw.get("/admin/models", Some(KEY)).json();
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("{id} not listed: {body}"))
            .clone()
    };
    assert_eq!(status_of("a")["status"], "cooling_down");
    let until = status_of("a")["cooldown"]["until"].clone();
    assert!(until.is_string());

    // An unrelated change: a group added before g in the file (so every
    // deployment's position moves) and g's retries changed.
    replace_file(
        &gw.dir.path().join("config.yaml"),
        &config_with_settings(
            &[
                entry("h", &c, "c", &[]),
                entry("g", &a, "a", &["order: 1"]),
                entry("g", &b, "b", &["order: 2"]),
            ],
            "router_settings:\n  num_retries: 2\n  allowed_fails: 0\n  cooldown_time: 300\n",
        ),
    );
    wait_generation(gw.port, 2);
    let row = status_of("a");
    assert_eq!(row["status"], "cooling_down", "{row}");
    assert_eq!(
        row["cooldown"]["until"], until,
        "the same cooldown, not a new one"
    );
    assert_eq!(status_of("b")["status"], "healthy");
    assert_eq!(status_of("c")["status"], "healthy");
    // The metrics' state gauge names each deployment's own state (the
    // positions moved).
    let metrics = gw.get("/metrics", Some(KEY)).body;
    let state = |id: &str| {
        sample(
            &metrics,
            &format!(
                "switchyard_deployment_state{{model_group=\"g\",deployment=\"{id}\",provider=\"openai\"}}"
            ),
        )
    };
    assert_eq!(
        (state("a"), state("b")),
        (Some(1.0), Some(0.0)),
        "{metrics}"
    );

    // Routing sees it too: g's calls go to b alone.
    for _ in 0..3 {
        let r = chat(gw.port, "g");
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.header("x-switchyard-deployment"), Some("b"));
    }
    assert_eq!((a.count(), b.count()), (1, 4));
    assert!(
        gw.log().contains("2 with their live state carried over"),
        "{}",
        gw.log()
    );
}

#[test]
fn admin_config_shows_the_running_file_without_secrets_and_what_waits_for_a_restart() {
    let a = MockProvider::start(Flavor::OpenAi);
    let text = format!(
        "model_list:\n{}{}general_settings:\n  master_key: {KEY}\n",
        entry("a", &a, "a1", &["api_key: sk-provider-secret-123"]),
        entry("e", &a, "e1", &["api_key: os.environ/HOME"]),
    );
    let gw = Gateway::start(&text);
    let file = gw.dir.path().join("config.yaml");

    assert_eq!(gw.get("/admin/config", None).status, 401);
    let report = admin_config(gw.port);
    assert_eq!(report["file"], file.display().to_string());
    assert_eq!(report["generation"], 1);
    assert_eq!(report["pending_restart"], json!([]));
    let sha = report["sha256"].as_str().unwrap();
    assert_eq!(sha.len(), 64);
    assert!(report["loaded_at"].as_str().unwrap().contains('T'));
    let list = &report["config"]["model_list"];
    assert_eq!(list[0]["litellm_params"]["api_key"], "***");
    assert_eq!(list[1]["litellm_params"]["api_key"], "os.environ/HOME");
    assert_eq!(report["config"]["general_settings"]["master_key"], "***");
    let all = report.to_string();
    assert!(
        !all.contains("sk-provider-secret-123") && !all.contains(KEY),
        "{all}"
    );

    // A router that is not loaded: refused, naming it.
    replace_file(
        &file,
        &format!("{text}plugins:\n  router: no-such-router\n"),
    );
    let mut report = Value::Null;
    eventually("the refused reload", RELOAD_WITHIN, || {
        report = admin_config(gw.port);
        report["last_attempt"]["outcome"] == "error"
    });
    let error = report["last_attempt"]["error"].as_str().unwrap();
    assert!(
        error.contains("plugins.router") && error.contains("no-such-router"),
        "{error}"
    );
    assert_eq!(report["sha256"], sha, "the running file is still the first");
    assert_eq!(chat(gw.port, "a").status, 200);

    // A new master key waits for a restart; the rest of the file applies.
    let rotated = text.replace(KEY, "sk-e2e-rotated") + "router_settings:\n  num_retries: 3\n";
    replace_file(&file, &rotated);
    let report = wait_generation(gw.port, 2);
    assert_eq!(
        report["pending_restart"],
        json!(["general_settings.master_key"])
    );
    assert_eq!(report["config"]["router_settings"]["num_retries"], 3);
    assert!(!report.to_string().contains("sk-e2e-rotated"));
    assert_eq!(
        chat(gw.port, "a").status,
        200,
        "the running key still works"
    );
    assert!(
        gw.log()
            .contains("config change needs a restart; the running value stays until then")
    );
    let secrets = ["sk-provider-secret-123", "sk-e2e-rotated"];
    let log = gw.log();
    for s in secrets {
        assert!(!log.contains(s), "{s} in the log");
    }
}

#[test]
fn a_plugin_whose_settings_change_is_started_again_with_them_all_or_none() {
    let mock = MockProvider::start(Flavor::OpenAi);
    let models = config_with(&[entry("gpt", &mock, "m1", &[])]);
    let with_pii = |config: &str| {
        format!(
            "{models}plugins:\n  sanitizers: [pii-redactor]\n  settings:\n    pii-redactor:\n      config: {config}\n"
        )
    };
    let gw = Gateway::start(&with_pii("{mode: redact}"));
    let file = gw.dir.path().join("config.yaml");
    let email = json!({"model": "gpt", "messages": [{"role": "user", "content": "Mail ana.souza@example.com please"}]});
    let send = || gw.post("/v1/chat/completions", Some(KEY), &email);

    let r = send();
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        !mock.requests()[0]
            .raw_body
            .contains("ana.souza@example.com")
    );

    // The sanitiser's config changes: it refuses instead of redacting.
    replace_file(&file, &with_pii("{mode: deny}"));
    let report = wait_generation(gw.port, 2);
    assert_eq!(report["last_attempt"]["outcome"], "ok");
    assert!(
        gw.log().contains("1 plugins re-initialised (pii-redactor)"),
        "{}",
        gw.log()
    );
    let r = send();
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(mock.count(), 1, "a refused call never reaches the provider");

    // A config the plugin rejects: the whole reload is refused, the
    // running plugin keeps its config.
    replace_file(&file, &with_pii("{mode: shout}"));
    let mut report = Value::Null;
    eventually("the refused plugin config", RELOAD_WITHIN, || {
        report = admin_config(gw.port);
        report["last_attempt"]["outcome"] == "error"
    });
    let error = report["last_attempt"]["error"].as_str().unwrap();
    assert!(error.contains("pii-redactor"), "{error}");
    assert_eq!(report["generation"], 2);
    assert_eq!(send().status, 400);

    // The role removed: the text reaches the provider as written.
    replace_file(&file, &models);
    wait_generation(gw.port, 3);
    let r = send();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(mock.count(), 2);
    assert!(
        mock.requests()[1]
            .raw_body
            .contains("ana.souza@example.com")
    );
}
