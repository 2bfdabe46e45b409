//! A plugin that writes to stdout or stderr (`println!`, a Rust panic's
//! message, Python's `print()` and tracebacks) never touches the request:
//! under load, every client gets the answer its `on_error` setting
//! promises, and the output reaches the gateway's log under the plugin's
//! name.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use serde_json::json;
use switchyard_e2e::mock::*;
use switchyard_e2e::*;

/// Requests of each kind; all of them are in flight together.
const EACH: usize = 12;

/// The prompts, and what each makes a plugin do.
const PROMPTS: [&str; 4] = [
    "hello",               // nothing
    "please print",        // both plugins print to stdout and stderr
    "please panic",        // the router panics (a trap, message on stderr)
    "give me a traceback", // the Python sanitiser raises (traceback, trap)
];

fn start(mock: &MockProvider, on_error: &str) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    let section = plugins_section(
        &dir.path().join("plugins"),
        &["openai", "misbehave", "noisy-py"],
    );
    let config = format!(
        "{}{ONE_CALL_EACH}{section}  router: misbehave\n  sanitizers: [noisy-py]\n  settings:\n    misbehave: {{on_error: {on_error}, config: {{mode: noisy}}}}\n    noisy-py: {{on_error: {on_error}, timeout_ms: 500}}\n",
        config_with(&[model_entry("gpt", "openai/gpt-4o-mini", &mock.url(), &[])])
    );
    Gateway::start_in(dir, &config)
}

/// Sends every prompt `EACH` times, all at once; the status per prompt.
fn load(gw: &Arc<Gateway>) -> Vec<(&'static str, Reply)> {
    let threads: Vec<_> = PROMPTS
        .iter()
        .flat_map(|p| std::iter::repeat_n(*p, EACH))
        .map(|prompt| {
            let gw = gw.clone();
            std::thread::spawn(move || {
                let r = gw.post(
                    "/v1/chat/completions",
                    Some(KEY),
                    &json!({"model": "gpt", "messages": [{"role": "user", "content": prompt}]}),
                );
                (prompt, r)
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

fn count(replies: &[(&str, Reply)], prompt: &str, status: u16) -> usize {
    replies
        .iter()
        .filter(|(p, r)| *p == prompt && r.status == status)
        .count()
}

fn assert_logged(gw: &Gateway) {
    // Under the burst a plugin may pass its 50 lines a second and have the
    // rest left out; one more call of each kind, in a fresh second, shows
    // every kind of output.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    for prompt in PROMPTS {
        gw.post(
            "/v1/chat/completions",
            Some(KEY),
            &json!({"model": "gpt", "messages": [{"role": "user", "content": prompt}]}),
        );
    }
    let log = gw.log();
    for (plugin, text) in [
        ("misbehave", "misbehave: printed to stdout"),
        ("misbehave", "misbehave: printed to stderr"),
        ("misbehave", "misbehave: asked to panic by the prompt"),
        ("noisy-py", "noisy-py: printed to stdout"),
        ("noisy-py", "noisy-py: printed to stderr"),
        ("noisy-py", "RuntimeError: noisy-py: asked for a traceback"),
    ] {
        let line = log
            .lines()
            .find(|l| l.contains(text))
            .unwrap_or_else(|| panic!("{text:?} is not in the log:\n{log}"));
        assert!(line.contains(&format!("plugin=\"{plugin}\"")), "{line}");
    }
    assert!(!log.contains("Cannot start a runtime"), "{log}");
    // Plugins' panic messages are logged under their names; a host thread
    // panicking would be logged without one.
    assert!(
        log.lines()
            .filter(|l| l.contains("panicked"))
            .all(|l| l.contains("plugin=")),
        "a host thread panicked:\n{log}"
    );
}

#[test]
fn with_fail_open_every_client_is_answered_whatever_the_plugins_write() {
    let mock = MockProvider::start(Flavor::OpenAi);
    let gw = Arc::new(start(&mock, "fail_open"));
    let replies = load(&gw);
    for prompt in PROMPTS {
        assert_eq!(count(&replies, prompt, 200), EACH, "{prompt}: {replies:?}");
    }
    assert_eq!(mock.count(), PROMPTS.len() * EACH);
    assert_logged(&gw);
}

#[test]
fn with_fail_closed_only_the_failing_calls_fail_and_the_printing_ones_pass() {
    let mock = MockProvider::start(Flavor::OpenAi);
    let gw = Arc::new(start(&mock, "fail_closed"));
    let replies = load(&gw);
    assert_eq!(count(&replies, "hello", 200), EACH, "{replies:?}");
    assert_eq!(count(&replies, "please print", 200), EACH, "{replies:?}");
    assert_eq!(count(&replies, "please panic", 500), EACH, "{replies:?}");
    assert_eq!(
        count(&replies, "give me a traceback", 500),
        EACH,
        "{replies:?}"
    );
    for (prompt, r) in &replies {
        if r.status == 500 {
            let plugin = if prompt.contains("panic") {
                "misbehave"
            } else {
                "noisy-py"
            };
            let e = r.json();
            assert_eq!(e["error"]["type"], "internal_server_error", "{e}");
            let message = e["error"]["message"].as_str().unwrap();
            assert!(
                message.contains(&format!("plugin {plugin}: trapped")),
                "{message}"
            );
        }
    }
    assert_eq!(mock.count(), 2 * EACH);
    assert_logged(&gw);
}
