//! An exception that escapes a Python or JavaScript plugin's export (a bug,
//! not an error result) reaches the gateway's log through the `log` import,
//! at error level, with its message and traceback, on one line carrying the
//! plugin's name, before the call traps: `@logged` from
//! sdk/python/template/switchyard_log.py and `guarded` from
//! sdk/js/template/switchyard.js. An error result the plugin returns on
//! purpose is not logged as an exception.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use switchyard_e2e::mock::*;
use switchyard_e2e::*;

fn start(mock: &MockProvider) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    let section = plugins_section(&dir.path().join("plugins"), &["noisy-py", "throwing-js"]);
    let config = format!(
        "{}{ONE_CALL_EACH}{section}  sanitizers: [noisy-py, throwing-js]\n  settings:\n    noisy-py: {{on_error: fail_closed, timeout_ms: 2000}}\n    throwing-js: {{on_error: fail_closed, timeout_ms: 2000}}\n",
        config_with(&[model_entry("gpt", "openai/gpt-4o-mini", &mock.url(), &[])])
    );
    Gateway::start_in(dir, &config)
}

fn chat(gw: &Gateway, prompt: &str) -> Reply {
    gw.post(
        "/v1/chat/completions",
        Some(KEY),
        &json!({"model": "gpt", "messages": [{"role": "user", "content": prompt}]}),
    )
}

/// The one log line holding `text`.
fn line_with(log: &str, text: &str) -> String {
    let lines: Vec<&str> = log.lines().filter(|l| l.contains(text)).collect();
    assert_eq!(lines.len(), 1, "{text:?} in the log:\n{log}");
    lines[0].to_string()
}

#[test]
fn exceptions_in_python_and_js_plugins_are_logged_before_the_trap() {
    let mock = MockProvider::start(Flavor::OpenAi);
    let gw = start(&mock);

    let r = chat(&gw, "hello");
    assert_eq!(r.status, 200, "{}", r.body);

    // Python: noisy-py raises RuntimeError.
    let r = chat(&gw, "give me a traceback");
    assert_eq!(r.status, 500, "{}", r.body);
    let message = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(message.contains("plugin noisy-py: trapped"), "{message}");

    // JavaScript: throwing-js reads a property of undefined (a TypeError).
    let r = chat(&gw, "please throw");
    assert_eq!(r.status, 500, "{}", r.body);
    let message = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(message.contains("plugin throwing-js: trapped"), "{message}");

    // An error result on purpose: the call fails, no exception is logged.
    let r = chat(&gw, "please refuse");
    assert_eq!(r.status, 500, "{}", r.body);
    let message = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("throwing-js: refused on request"),
        "{message}"
    );

    assert_eq!(mock.count(), 1);
    let log = gw.log();
    let py = line_with(
        &log,
        "uncaught RuntimeError in Sanitizer.sanitize: noisy-py: asked for a traceback; traceback: Traceback (most recent call last):",
    );
    assert!(py.contains("ERROR"), "{py}");
    assert!(py.contains("plugin=\"noisy-py\""), "{py}");
    assert!(py.contains("app.py"), "the traceback names the file: {py}");
    let js = line_with(&log, "uncaught TypeError in sanitize:");
    assert!(js.contains("ERROR"), "{js}");
    assert!(js.contains("plugin=\"throwing-js\""), "{js}");
    assert!(js.contains("; stack: "), "{js}");
    assert_eq!(log.matches("uncaught ").count(), 2, "{log}");
}
