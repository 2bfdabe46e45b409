//! The first-party plugins ship with the gateway: a LiteLLM config with no
//! `plugins:` section serves every prefix Switchyard knows, routes and
//! prices calls; a plugins directory adds plugins and overrides a built-in
//! one by name; `/admin/plugins` says which is which.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use switchyard_e2e::mock::*;
use switchyard_e2e::*;

/// The text `tests/fixtures/mock-override` answers.
const OVERRIDE_TEXT: &str = "answered by the mock in the plugins dir";

#[test]
fn a_litellm_config_without_plugins_serves_openai_anthropic_gemini_and_openrouter() {
    let openai = MockProvider::start(Flavor::OpenAi);
    let openrouter = MockProvider::start(Flavor::OpenAi);
    let anthropic = MockProvider::start(Flavor::Anthropic);
    let gemini = MockProvider::start(Flavor::Gemini);
    let config = config_with_settings(
        &[
            model_entry("gpt", "openai/gpt-4o-mini", &openai.url(), &["api_key: k"]),
            model_entry(
                "llama",
                "openrouter/meta-llama/llama-3.3-70b-instruct",
                &openrouter.url(),
                &["api_key: k"],
            ),
            model_entry(
                "claude",
                "anthropic/claude-sonnet-4-5",
                &anthropic.url(),
                &["api_key: k"],
            ),
            model_entry(
                "flash",
                "gemini/gemini-2.5-flash",
                &gemini.url(),
                &["api_key: k"],
            ),
        ],
        ONE_CALL_EACH,
    );
    assert!(!config.contains("plugins:"), "{config}");
    let gw = Gateway::start(&config);
    let log = gw.log();
    // Embedded by `make build`; a binary built without them finds them
    // beside itself.
    assert!(
        log.contains("plugins ready plugins=10 routers=2 adapters=4"),
        "{log}"
    );
    assert!(!log.contains("no loaded provider adapter"), "{log}");

    let out = Command::new("python3")
        .arg(root().join("tests/e2e/python/each_group.py"))
        .arg(gw.url("/v1"))
        .arg(KEY)
        .args(["gpt", "llama", "claude", "flash"])
        .env("NO_PROXY", "127.0.0.1,localhost")
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: Vec<Value> = stdout.lines().map(json).collect();
    let expected = [
        ("gpt", Flavor::OpenAi),
        ("llama", Flavor::OpenAi),
        ("claude", Flavor::Anthropic),
        ("flash", Flavor::Gemini),
    ];
    assert_eq!(answers.len(), expected.len(), "{stdout}");
    for (answer, (group, flavor)) in answers.iter().zip(expected) {
        assert_eq!(answer["group"], group);
        assert_eq!(answer["text"], flavor.answer_text(), "{answer}");
        assert_eq!(answer["streamed"], flavor.answer_text(), "{answer}");
    }
    // One whole and one streamed call each, nothing retried.
    for mock in [&openai, &openrouter, &anthropic, &gemini] {
        assert_eq!(mock.count(), 2);
    }
    // Calls are priced by the built-in cost rule at list prices (no
    // model_info prices here): every call, streamed ones too (the openai
    // adapter asks for a stream's usage), except the OpenRouter model,
    // which has no list price.
    let log = gw.log();
    let priced: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("call completed") && l.contains("cost_usd=Some("))
        .collect();
    assert_eq!(priced.len(), 6, "{log}");
    for (deployment, n) in [("gpt/0", 2), ("claude/2", 2), ("flash/3", 2)] {
        let here = priced
            .iter()
            .filter(|l| l.contains(&format!("deployment={deployment} ")))
            .count();
        assert_eq!(here, n, "{deployment}: {log}");
    }
}

#[test]
fn a_plugins_dir_overrides_a_builtin_plugin_and_admin_says_which_is_which() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(plugin("mock-override"), plugins.join("mock.wasm")).unwrap();
    let config = format!(
        "{}plugins:\n  dir: {}\n",
        config_with(&[
            "  - model_name: demo\n    litellm_params:\n      model: mock/demo-model\n".to_string()
        ]),
        plugins.display()
    );
    let gw = Gateway::start_in(dir, &config);
    let ask = || {
        let r = gw.post(
            "/v1/chat/completions",
            Some(KEY),
            &serde_json::json!({"model": "demo", "messages": [{"role": "user", "content": "hi"}]}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(ask(), OVERRIDE_TEXT);

    let rows = gw.get("/admin/plugins", Some(KEY)).json()["plugins"].clone();
    let rows = rows.as_array().unwrap();
    let mocks: Vec<&Value> = rows.iter().filter(|r| r["name"] == "mock").collect();
    assert_eq!(mocks.len(), 2, "{rows:?}");
    let file = mocks.iter().find(|r| r["origin"] == "file").unwrap();
    assert_eq!(file["status"], "active");
    assert_eq!(file["overrides_builtin"], true);
    assert_eq!(file["version"], "9.9.9");
    let builtin = mocks.iter().find(|r| r["origin"] == "builtin").unwrap();
    assert_eq!(builtin["status"], "overridden");
    assert_eq!(builtin["file"], "builtin:mock.wasm");
    // Every other built-in plugin serves as shipped.
    for name in [
        "openai",
        "anthropic",
        "gemini",
        "default-router",
        "model-prices",
    ] {
        let row = rows.iter().find(|r| r["name"] == name).unwrap();
        assert_eq!(
            (row["origin"].as_str(), row["status"].as_str()),
            (Some("builtin"), Some("active")),
            "{row}"
        );
    }

    // Removing the file brings the built-in one back.
    std::fs::remove_file(plugins.join("mock.wasm")).unwrap();
    eventually(
        "the built-in mock serves again",
        Duration::from_secs(10),
        || ask() != OVERRIDE_TEXT,
    );
    let rows = gw.get("/admin/plugins", Some(KEY)).json()["plugins"].clone();
    let mocks: Vec<&Value> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["name"] == "mock")
        .collect();
    assert_eq!(mocks.len(), 1, "{rows}");
    assert_eq!(mocks[0]["origin"], "builtin");
    assert_eq!(mocks[0]["status"], "active");
}

#[test]
fn a_deployment_no_adapter_serves_is_named_at_start() {
    let gw = Gateway::start(&config_with(&[
        "  - model_name: odd\n    litellm_params:\n      model: nosuch/model-x\n".to_string(),
    ]));
    let log = gw.log();
    let warning = log
        .lines()
        .find(|l| l.contains("no loaded provider adapter serves this prefix"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(
        warning.contains("WARN") && warning.contains("odd/0") && warning.contains("nosuch"),
        "{warning}"
    );
}
