//! `switchyard config check FILE`: a LiteLLM file with keys Switchyard does
//! not use passes with one warning per key; a broken file fails naming the
//! key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use switchyard_e2e::*;

const LITELLM_FILE: &str = r#"
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_key: os.environ/E2E_CONFIG_CHECK_KEY
      rpm: 100
    model_info:
      input_cost_per_token: 0.0000025
    deployment_notes: left by a human
  - model_name: claude
    litellm_params:
      model: anthropic/claude-sonnet-4-5
      api_key: sk-ant
router_settings:
  routing_strategy: simple-shuffle
  num_retries: 2
  redis_host: localhost
  enable_loadbalancing_on_batch_endpoints: true
litellm_settings:
  drop_params: true
  success_callback: ["langfuse"]
general_settings:
  master_key: sk-1234
  database_url: postgres://user@localhost/litellm
environment_variables:
  E2E_CONFIG_CHECK_KEY: sk-from-file
some_future_section:
  x: 1
"#;

const UNKNOWN_KEYS: &[&str] = &[
    "model_list[0].deployment_notes",
    "router_settings.enable_loadbalancing_on_batch_endpoints",
    "litellm_settings.drop_params",
    "litellm_settings.success_callback",
    "general_settings.database_url",
    "some_future_section",
];

fn check(config: &str) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, config).unwrap();
    let out = Command::new(binary())
        .args(["config", "check"])
        .arg(&path)
        .env_remove("E2E_CONFIG_CHECK_KEY")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_litellm_file_with_unknown_keys_passes_with_one_warning_each() {
    let (code, stdout, stderr) = check(LITELLM_FILE);
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    let all = format!("{stdout}{stderr}");
    for key in UNKNOWN_KEYS {
        let lines: Vec<&str> = all.lines().filter(|l| l.contains(key)).collect();
        assert_eq!(lines.len(), 1, "one warning for {key}:\n{all}");
    }
    // Keys it acts on are not warned about.
    for known in [
        "master_key",
        "routing_strategy",
        "num_retries",
        "redis_host",
        "rpm",
        "input_cost_per_token",
        "E2E_CONFIG_CHECK_KEY",
    ] {
        assert!(
            !all.lines()
                .any(|l| l.contains(known) && l.contains("ignored")),
            "{known} is used:\n{all}"
        );
    }
    // What it would serve.
    assert!(
        stdout.contains("gpt-4o") && stdout.contains("claude"),
        "{stdout}"
    );
    // Secrets are not printed.
    assert!(
        !all.contains("sk-from-file") && !all.contains("sk-1234"),
        "{all}"
    );
}

#[test]
fn a_broken_file_fails_naming_the_key() {
    let cases: &[(&str, &str)] = &[
        (
            "model_list:\n  - model_name: x\n    litellm_params: {model: openai/x, rpm: lots}\n",
            "model_list[0].litellm_params.rpm",
        ),
        (
            "model_list:\n  - model_name: x\n    litellm_params: {api_base: http://h}\n",
            "model_list[0].litellm_params.model",
        ),
        (
            "general_settings:\n  max_request_size_mb: -3\n",
            "max_request_size_mb",
        ),
        (
            "model_list:\n  - model_name: x\n    litellm_params: {model: openai/x}\nrouter_settings:\n  model_group_alias: {y: missing}\n",
            "model_group_alias",
        ),
        (
            "model_list:\n  - model_name: x\n    litellm_params: {model: openai/x, api_key: os.environ/E2E_SURELY_UNSET_VAR}\n",
            "E2E_SURELY_UNSET_VAR",
        ),
    ];
    for (config, key) in cases {
        let (code, stdout, stderr) = check(config);
        assert_ne!(code, 0, "{key}: stdout: {stdout}\nstderr: {stderr}");
        assert!(stderr.contains(key), "the error names {key}: {stderr}");
    }
    // Not YAML at all.
    let (code, _, stderr) = check("model_list: [\n");
    assert_ne!(code, 0);
    assert!(stderr.contains("config.yaml"), "{stderr}");
}
