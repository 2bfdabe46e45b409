//! `switchyard config check FILE`: a LiteLLM file with keys Switchyard does
//! not use passes with one warning per key; a broken file fails naming the
//! key; three real users' files (`tests/fixtures/configs/`) pass; each
//! spelling of the response cache prints the cache it gets.
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
        "database_url",
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

/// Runs `config check` on a fixture with `vars` as the only variables it
/// could name.
fn check_fixture(name: &str, vars: &[(&str, &str)]) -> (i32, String, String) {
    let path = root().join("tests/fixtures/configs").join(name);
    let mut cmd = Command::new(binary());
    cmd.args(["config", "check"]).arg(&path).env_clear();
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A fixture file, the variables its deployment sets, lines `config check`
/// prints for what it serves (the cache line included), and how many
/// warnings it gives.
struct Fixture {
    file: &'static str,
    vars: &'static [(&'static str, &'static str)],
    serves: &'static [&'static str],
    warnings: usize,
}

#[test]
fn three_real_users_files_pass_with_their_warnings_and_no_secrets() {
    let fixtures = [
        Fixture {
            file: "support-chat.yaml",
            vars: &[
                ("OPENROUTER_API_KEY", "sk-or-e2e"),
                ("ANTHROPIC_API_KEY_PRIMARY", "sk-ant-e2e-1"),
                ("ANTHROPIC_API_KEY_SECONDARY", "sk-ant-e2e-2"),
                ("GEMINI_API_KEY", "gemini-e2e"),
                ("REDIS_HOST", "redis.acme.internal"),
                ("REDIS_PORT", "6380"),
                ("REDIS_PASSWORD", "redis-e2e"),
                ("LITELLM_MASTER_KEY", "sk-master-e2e"),
            ],
            serves: &[
                "triage (1 deployment)",
                "support-answer (2 deployments)",
                "long-context (1 deployment)",
                "\ncache: redis at redis.acme.internal:6380, ttl 10m, namespace -, mode default_on, chat+embeddings\n",
            ],
            warnings: 9,
        },
        Fixture {
            file: "platform-team.yaml",
            vars: &[
                ("AZURE_EASTUS_API_KEY", "azure-east-e2e"),
                ("AZURE_SWEDEN_API_KEY", "azure-sweden-e2e"),
                ("OPENAI_API_KEY", "sk-openai-e2e"),
                ("REDIS_URL", "redis://redis.platform.internal:6379/2"),
                ("LITELLM_MASTER_KEY", "sk-master-e2e"),
            ],
            serves: &[
                "gpt-4o (3 deployments)",
                "gpt-4o-mini (1 deployment)",
                "o3-mini (1 deployment)",
                "text-embedding-3-large (1 deployment)",
                "alias gpt-4 -> gpt-4o",
                "\ncache: off\n",
            ],
            // `json_logs` and `callbacks: [prometheus]` are read.
            warnings: 17,
        },
        Fixture {
            file: "hobbyist.yaml",
            vars: &[("GROQ_API_KEY", "gsk-e2e")],
            serves: &[
                "llama3 (1 deployment)",
                "qwen-coder (1 deployment)",
                "fast (2 deployments)",
                "llama3/0: ollama_chat/llama3.1:8b at http://localhost:11434",
            ],
            warnings: 17,
        },
    ];
    for Fixture {
        file: name,
        vars,
        serves,
        warnings,
    } in fixtures
    {
        let (code, stdout, stderr) = check_fixture(name, vars);
        assert_eq!(code, 0, "{name}: stdout: {stdout}\nstderr: {stderr}");
        for line in serves {
            assert!(stdout.contains(line), "{name} serves {line}: {stdout}");
        }
        assert!(
            stdout.contains(&format!("warnings ({warnings}):")),
            "{name}: {warnings} warnings: {stdout}"
        );
        let listed = stdout
            .lines()
            .skip_while(|l| !l.starts_with("warnings ("))
            .skip(1)
            .count();
        assert_eq!(listed, warnings, "{name}: {stdout}");
        for (_, secret) in vars
            .iter()
            .filter(|(k, _)| k.contains("KEY") || k.contains("PASSWORD"))
        {
            assert!(
                !stdout.contains(secret) && !stderr.contains(secret),
                "{name} shows {secret}"
            );
        }
    }
}

#[test]
fn a_prefix_no_adapter_serves_is_an_error_line_and_a_non_zero_exit() {
    let (code, stdout, stderr) = check(
        "model_list:\n  - model_name: ok\n    litellm_params: {model: openrouter/x/y}\n  - model_name: odd\n    litellm_params: {model: nosuch/model-x}\nplugins:\n  sanitizers: [not-a-plugin]\n",
    );
    assert_eq!(code, 1, "stdout: {stdout}\nstderr: {stderr}");
    let errors: Vec<&str> = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 2, "{stdout}");
    assert!(
        errors[0].contains("model_list[1]")
            && errors[0].contains("odd/1")
            && errors[0].contains("\"nosuch\"")
            && errors[0].contains("openrouter"),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].contains("plugins.sanitizers") && errors[1].contains("not-a-plugin"),
        "{}",
        errors[1]
    );
    // The built-in plugins are listed as such.
    assert!(
        stdout.contains("built in: embedded in the binary"),
        "{stdout}"
    );
    assert!(
        stdout.contains("openai 0.1.0: provider active, built in"),
        "{stdout}"
    );
}

/// `config check` on `config` written as `config.yaml` in a folder of its
/// own (returned, for paths beside the config), with no Redis variables.
fn check_in_dir(config: &str) -> (tempfile::TempDir, i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, config).unwrap();
    let out = Command::new(binary())
        .args(["config", "check"])
        .arg(&path)
        .env_remove("REDIS_HOST")
        .env_remove("REDIS_PORT")
        .env_remove("REDIS_PASSWORD")
        .output()
        .unwrap();
    (
        dir,
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn each_cache_spelling_prints_the_cache_it_gets_and_no_password() {
    const PASSWORD: &str = "e2e-cache-pw";
    // (config, the cache line but for the disk folder, a warning it gives)
    let cases = [
        (
            format!(
                "litellm_settings:\n  cache: true\n  cache_params: {{type: redis, host: cache.internal, port: 6380, password: {PASSWORD}, ttl: 600, namespace: support}}\n"
            ),
            "cache: redis at cache.internal:6380, ttl 10m, namespace support, mode default_on, chat+embeddings".to_string(),
            None,
        ),
        (
            format!(
                "router_settings: {{redis_host: r.internal, redis_password: {PASSWORD}}}\nlitellm_settings:\n  cache_responses: true\n  cache_kwargs: {{ttl: 60, supported_call_types: [acompletion, atranscription]}}\n"
            ),
            "cache: redis at r.internal:6379, ttl 1m, namespace -, mode default_on, chat".to_string(),
            Some("litellm_settings.cache_kwargs.supported_call_types[1]: \"atranscription\" is not a call type Switchyard caches"),
        ),
        (
            "general_settings:\n  cache: {type: disk, mode: default_off}\n".to_string(),
            "cache: disk at {dir}/.switchyard_cache, ttl none, namespace -, mode default_off, chat+embeddings, max 1 GiB".to_string(),
            Some("general_settings.cache belongs under litellm_settings as `cache: true` and `cache_params`; used there"),
        ),
        (
            "litellm_settings:\n  cache: true\n".to_string(),
            "cache: local, ttl none, namespace -, mode default_on, chat+embeddings, max 256 MiB".to_string(),
            None,
        ),
        (
            "litellm_settings:\n  cache_params: {type: redis}\n".to_string(),
            "cache: off".to_string(),
            Some("litellm_settings.cache_params is not used without litellm_settings.cache: true and is ignored"),
        ),
    ];
    for (config, line, warning) in &cases {
        let (dir, code, stdout, stderr) = check_in_dir(config);
        assert_eq!(code, 0, "{config}: stdout: {stdout}\nstderr: {stderr}");
        let line = line.replace("{dir}", &dir.path().display().to_string());
        let printed: Vec<&str> = stdout.lines().filter(|l| l.starts_with("cache:")).collect();
        assert_eq!(printed, [line.as_str()], "{config}: {stdout}");
        let warnings: Vec<&str> = stdout
            .lines()
            .skip_while(|l| !l.starts_with("warnings ("))
            .skip(1)
            .collect();
        match warning {
            Some(w) => assert!(
                warnings.len() == 1 && warnings[0].trim().starts_with(w),
                "{config}: {stdout}"
            ),
            None => assert!(stdout.contains("warnings: none"), "{config}: {stdout}"),
        }
        assert!(
            !stdout.contains(PASSWORD) && !stderr.contains(PASSWORD),
            "{config}: {stdout}{stderr}"
        );
    }
}
