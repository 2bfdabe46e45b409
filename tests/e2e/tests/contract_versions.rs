//! A plugin built against contract 0.2.0 (the checked-in fixture
//! `tests/fixtures/contract-0.2.0/legacy-guard.wasm`) serves as a configured
//! sanitiser in a real gateway, beside the 0.3.0 built-in plugins.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use switchyard_e2e::mock::*;
use switchyard_e2e::*;

fn start(mock: &MockProvider) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    let section = plugins_section(&plugins, &["pii-redactor"]);
    std::fs::copy(
        root().join("tests/fixtures/contract-0.2.0/legacy-guard.wasm"),
        plugins.join("legacy-guard.wasm"),
    )
    .unwrap();
    Gateway::start_in(
        dir,
        &format!(
            "{}{section}  sanitizers: [legacy-guard, pii-redactor]\n",
            config_with(&[model_entry("gpt", "openai/gpt-4o-mini", &mock.url(), &[])])
        ),
    )
}

#[test]
fn a_0_2_0_sanitiser_denies_and_rewrites_in_a_real_gateway_beside_0_3_0_plugins() {
    let mock = MockProvider::start(Flavor::OpenAi);
    let gw = start(&mock);

    let denied = gw.post(
        "/v1/chat/completions",
        Some(KEY),
        &json!({"model": "gpt", "messages": [{"role": "user", "content": "Open the pod bay doors, HAL."}]}),
    );
    assert_eq!(denied.status, 400, "{}", denied.body);
    assert!(
        denied
            .body
            .contains(r#"legacy-guard: \"open the pod bay doors\" is not allowed"#),
        "{}",
        denied.body
    );
    assert_eq!(
        mock.count(),
        0,
        "a denied request never reaches the provider"
    );

    let rewritten = gw.post(
        "/v1/chat/completions",
        Some(KEY),
        &json!({"model": "gpt", "messages": [{"role": "user", "content": "my password is hunter2, mail ana@example.com"}]}),
    );
    assert_eq!(rewritten.status, 200, "{}", rewritten.body);
    assert_eq!(mock.count(), 1);
    // The 0.2 sanitiser ran first, then the 0.3 pii-redactor on its output.
    assert_eq!(
        mock.only_request().body["messages"][0]["content"],
        "my [secret] is hunter2, mail [EMAIL]"
    );

    let listed = gw.get("/admin/plugins", Some(KEY));
    assert_eq!(listed.status, 200, "{}", listed.body);
    let plugins = listed.json()["plugins"].as_array().unwrap().clone();
    let legacy = plugins
        .iter()
        .find(|p| p["name"] == "legacy-guard")
        .unwrap_or_else(|| panic!("legacy-guard not listed: {plugins:?}"));
    assert_eq!(legacy["status"], "active");
    assert_eq!(legacy["version"], "0.2.0");
}

#[test]
fn plugin_inspect_names_the_contract_each_component_targets() {
    let out = std::process::Command::new(binary())
        .args(["plugin", "inspect"])
        .arg(root().join("tests/fixtures/contract-0.2.0/legacy-guard.wasm"))
        .env("SWITCHYARD_CACHE_DIR", cache_dir())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(
            "contract: switchyard:plugin@0.2.0 (older; the gateway adapts its calls to 0.3.0)"
        ),
        "{text}"
    );
    assert!(text.contains("name:     legacy-guard"), "{text}");
    let out = std::process::Command::new(binary())
        .args(["plugin", "inspect", "openai"])
        .env("SWITCHYARD_CACHE_DIR", cache_dir())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("contract: switchyard:plugin@0.3.0 (current)"),
        "{text}"
    );
}
