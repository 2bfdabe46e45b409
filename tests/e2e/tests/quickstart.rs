//! `make run`'s config, `config/quickstart.yaml` (the built-in mock
//! adapter, no keys, no network), answered by the curl command it documents.
//! The binary is started on a free port rather than via make: once with that
//! file, once with the arguments the Makefile's `run` target gives it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Mutex;

use switchyard_e2e::*;

/// The quickstart loads every built-in plugin (slower to compile on a cold
/// cache): the two tests take turns so the second finds the first one's
/// compiled plugins in the cache.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The answer text the quickstart config gives the mock adapter.
fn configured_text(config: &str) -> String {
    let line = config
        .lines()
        .find_map(|l| l.trim().strip_prefix("text: "))
        .expect("the quickstart config sets the mock's text");
    json(line).as_str().unwrap().to_string()
}

#[test]
fn quickstart_config_answers_the_documented_curl() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let path = root().join("config/quickstart.yaml");
    let gw = Gateway::start_file(tempfile::tempdir().unwrap(), &path);
    check_quickstart(&gw);
}

/// The arguments `make run` gives the binary (the `run` recipe's line
/// after `$(BIN)`).
fn make_run_args() -> Vec<String> {
    let makefile = std::fs::read_to_string(root().join("Makefile")).unwrap();
    let mut lines = makefile.lines().skip_while(|l| !l.starts_with("run:"));
    lines.next().expect("the Makefile has a run target");
    let recipe = lines
        .take_while(|l| l.starts_with('\t'))
        .find_map(|l| l.trim().strip_prefix("$(BIN)"))
        .expect("the run recipe starts $(BIN)");
    recipe.split_whitespace().map(str::to_string).collect()
}

#[test]
fn make_run_serves_the_quickstart() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let args = make_run_args();
    assert!(
        !args.iter().any(|a| a == "--port" || a == "--host"),
        "{args:?}"
    );
    let gw = Gateway::start_args(
        tempfile::tempdir().unwrap(),
        &root(),
        args.iter().map(Into::into).collect(),
    );
    check_quickstart(&gw);
}

fn check_quickstart(gw: &Gateway) {
    let config = std::fs::read_to_string(root().join("config/quickstart.yaml")).unwrap();
    let text = configured_text(&config);

    // The command in the config's header comment, on this gateway's port.
    let (status, body) = curl(&[
        &gw.url("/v1/chat/completions"),
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"model": "demo", "messages": [{"role": "user", "content": "Hello"}]}"#,
    ]);
    assert_eq!(status, 200, "{body}");
    let v = json(&body);
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["message"]["content"], text.as_str());
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert!(v["usage"]["total_tokens"].as_u64().unwrap() > 0, "{v}");

    // Streaming works with no key either.
    let r = gw.post(
        "/v1/chat/completions",
        None,
        &serde_json::json!({"model": "demo", "stream": true,
                            "messages": [{"role": "user", "content": "Hello"}]}),
    );
    let chunks = stream_chunks(&r);
    assert_eq!(streamed_text(&chunks), text);

    let (status, body) = curl(&[&gw.url("/v1/models")]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["data"][0]["id"], "demo");
}
