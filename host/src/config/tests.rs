//! Whole files through `Config::parse`: what is read, warned about and refused.

use super::*;

const LITELLM_FILE: &str = r#"
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_key: os.environ/SWITCHYARD_TEST_OPENAI_KEY
      rpm: 100
      temperature: 0.2
    model_info:
      input_cost_per_token: 0.0000025
      output_cost_per_token: 0.00001
      max_input_tokens: 128000
  - model_name: gpt-4o
    litellm_params:
      model: azure/gpt-4o-eu
      api_base: https://example.openai.azure.com
      api_key: azure-key
      api_version: "2024-10-21"
      weight: 2
  - model_name: claude
    litellm_params:
      model: anthropic/claude-sonnet-4-5
      api_key: sk-ant
router_settings:
  routing_strategy: simple-shuffle
  model_group_alias: {gpt4: gpt-4o}
  redis_host: localhost
  redis_password: "p/w#"
  provider_budget_config: {}
litellm_settings:
  drop_params: true
  set_verbose: false
general_settings:
  master_key: sk-1234
  database_url: postgres://x
environment_variables:
  SWITCHYARD_TEST_OPENAI_KEY: sk-from-file
"#;

#[test]
fn a_litellm_file_loads_with_one_warning_per_unused_key() {
    let c = Config::parse(LITELLM_FILE, Path::new(".")).unwrap();
    assert_eq!(c.groups.len(), 2);
    let g = &c.groups["gpt-4o"];
    assert_eq!(g.deployments.len(), 2);
    let d = &g.deployments[0];
    assert_eq!(
        (d.provider.as_str(), d.model.as_str()),
        ("openai", "gpt-4o")
    );
    assert_eq!(d.api_key.as_deref(), Some("sk-from-file"));
    assert_eq!(d.rpm, Some(100));
    assert_eq!(d.defaults["temperature"], 0.2);
    assert_eq!(d.prices.input_per_token, Some(0.0000025));
    assert_eq!(d.max_input_tokens, Some(128000));
    assert_eq!(g.deployments[1].weight, Some(2.0));
    assert_eq!(c.group("gpt4").unwrap().name, "gpt-4o");
    assert_eq!(c.master_key.as_deref(), Some("sk-1234"));
    let w = c.warnings.join("\n");
    assert_eq!(
        c.redis,
        Some(RedisSettings {
            url: "redis://:p%2Fw%23@localhost:6379".into(),
            prefix: "switchyard".into()
        })
    );
    for key in [
        "litellm_settings.drop_params",
        "litellm_settings.set_verbose",
    ] {
        assert_eq!(w.matches(key).count(), 1, "{key} in {w}");
    }
    // Read now: the database and provider budgets.
    assert!(!w.contains("database_url"), "{w}");
    assert!(!w.contains("provider_budget_config"), "{w}");
    assert_eq!(c.money.database_url, "postgres://x");
    assert!(!w.contains("master_key"), "{w}");
}

#[test]
fn bad_values_are_named() {
    let err = Config::parse("model_list:\n  - model_name: x\n", Path::new("."))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("model_list[0]") && err.contains("litellm_params"),
        "{err}"
    );
    let err = Config::parse(
        "model_list:\n  - model_name: x\n    litellm_params: {model: openai/x, rpm: lots}\n",
        Path::new("."),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("model_list[0].litellm_params.rpm"), "{err}");
    let err = Config::parse(
        "router_settings: {model_group_alias: {a: nope}}\n",
        Path::new("."),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("nope"), "{err}");
}

/// Parses `yaml` with `vars` as the whole process environment.
fn load(yaml: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let env = |name: &str| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    };
    Config::parse_with_env(yaml, Path::new("."), &env)
}

fn ok(yaml: &str) -> Config {
    load(yaml, &[]).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn each_scalar_quirk_is_read_with_one_warning_naming_the_path() {
    let c = ok(r#"
general_settings:
  master_key: 1234
  background_health_checks: "on"
  health_check_interval: "60"
router_settings:
  enable_tag_filtering: "true"
  num_retries: "3"
  disable_cooldowns: yes
  default_fallbacks: "3"
model_list:
  - model_name: 3
    litellm_params:
      model: azure/gpt-4o
      api_base: [https://x.openai.azure.com]
      api_key: 12345
      api_version: 2024-10-21
      rpm: "100"
      tpm: 5000.0
      timeout: "30"
      tags: premium
      weight: "2"
"#);
    assert_eq!(
        c.warnings,
        [
            "general_settings.master_key: a number is read as a string",
            "general_settings.background_health_checks: the string \"on\" is read as true",
            "general_settings.health_check_interval: the string \"60\" is read as the number 60",
            "router_settings.enable_tag_filtering: the string \"true\" is read as true",
            "router_settings.num_retries: the string \"3\" is read as the number 3",
            "router_settings.disable_cooldowns: the string \"yes\" is read as true",
            "router_settings.default_fallbacks: the string \"3\" is read as the list [\"3\"]",
            "model_list[0].model_name: the number 3 is read as the string \"3\"",
            "model_list[0].litellm_params.api_base: the list [\"https://x.openai.azure.com\"] is read as the string \"https://x.openai.azure.com\"",
            "model_list[0].litellm_params.api_key: a number is read as a string",
            "model_list[0].litellm_params.rpm: the string \"100\" is read as the number 100",
            "model_list[0].litellm_params.timeout: the string \"30\" is read as the number 30",
            "model_list[0].litellm_params.tags: the string \"premium\" is read as the list [\"premium\"]",
            "model_list[0].litellm_params.weight: the string \"2\" is read as the number 2",
        ]
    );
    assert_eq!(c.master_key.as_deref(), Some("1234"));
    assert_eq!(c.health_checks, Some(Duration::from_secs(60)));
    assert_eq!(c.router_defaults["enable_tag_filtering"], true);
    assert_eq!(c.reliability.num_retries, 3);
    assert!(c.reliability.disable_cooldowns);
    assert_eq!(c.reliability.default_fallbacks, ["3"]);
    let d = &c.groups["3"].deployments[0];
    assert_eq!(d.api_base.as_deref(), Some("https://x.openai.azure.com"));
    assert_eq!(d.api_key.as_deref(), Some("12345"));
    // YAML 1.2 reads an unquoted date as a string: nothing to mend.
    assert_eq!(d.api_version.as_deref(), Some("2024-10-21"));
    assert_eq!((d.rpm, d.tpm), (Some(100), Some(5000)));
    assert_eq!(d.timeout, Some(Duration::from_secs(30)));
    assert_eq!(d.tags, ["premium"]);
    assert_eq!(d.weight, Some(2.0));
}

#[test]
fn null_means_absent_without_a_warning() {
    let c = ok(r#"
general_settings:
router_settings:
  stream_timeout: null
  routing_strategy: ~
model_list:
  - model_name: a
    litellm_params: {model: openai/a, api_base: null, rpm: null, tags: null}
    model_info: null
plugins:
  sanitizers: null
  settings: {pii-redactor: null}
"#);
    assert_eq!(c.warnings, Vec::<String>::new());
    assert_eq!(c.default_stream_timeout, None);
    assert_eq!(c.routing_strategy, "simple-shuffle");
    let d = &c.deployments[0];
    assert_eq!((d.api_base.as_deref(), d.rpm), (None, None));
    assert!(d.tags.is_empty() && d.params.is_empty());
    assert!(c.plugins.sanitizers.is_empty());
    assert!(c.plugins.settings["pii-redactor"].is_empty());
}

#[test]
fn keys_at_the_wrong_level_are_used_where_they_belong() {
    let c = ok(r#"
litellm_settings:
  master_key: sk-misplaced
  redis_host: redis.internal
  redis_port: "6380"
general_settings:
  num_retries: 4
  fallbacks: [{a: [b]}]
model_list:
  - model_name: a
    api_key: sk-a
    api_base: https://a.example
    rpm: 10
    litellm_params: {model: openai/a}
    model_info: {rpm: 99, tpm: 2000}
  - model_name: b
    litellm_params: {model: openai/b, input_cost_per_token: 0.000001, output_cost_per_token: 0.000002}
"#);
    assert_eq!(
        c.warnings,
        [
            "general_settings.num_retries belongs at router_settings.num_retries; used there",
            "general_settings.fallbacks belongs at router_settings.fallbacks; used there",
            "litellm_settings.master_key belongs at general_settings.master_key; used there",
            "litellm_settings.redis_host belongs at router_settings.redis_host; used there",
            "litellm_settings.redis_port belongs at router_settings.redis_port; used there",
            "model_list[0].api_key belongs at model_list[0].litellm_params.api_key; used there",
            "model_list[0].api_base belongs at model_list[0].litellm_params.api_base; used there",
            "model_list[0].rpm belongs at model_list[0].litellm_params.rpm; used there",
            "model_list[0].model_info.rpm belongs at model_list[0].litellm_params.rpm, which is also set; model_list[0].model_info.rpm is ignored",
            "model_list[0].model_info.tpm belongs at model_list[0].litellm_params.tpm; used there",
            "model_list[1].litellm_params.input_cost_per_token belongs at model_list[1].model_info.input_cost_per_token; used there",
            "model_list[1].litellm_params.output_cost_per_token belongs at model_list[1].model_info.output_cost_per_token; used there",
        ]
    );
    assert_eq!(c.master_key.as_deref(), Some("sk-misplaced"));
    assert_eq!(c.reliability.num_retries, 4);
    assert_eq!(c.reliability.fallbacks["a"], ["b"]);
    assert_eq!(
        c.redis.map(|r| r.url).as_deref(),
        Some("redis://redis.internal:6380")
    );
    let a = &c.groups["a"].deployments[0];
    assert_eq!(a.api_key.as_deref(), Some("sk-a"));
    assert_eq!(a.api_base.as_deref(), Some("https://a.example"));
    assert_eq!((a.rpm, a.tpm), (Some(10), Some(2000)));
    let b = &c.groups["b"].deployments[0];
    assert_eq!(b.prices.input_per_token, Some(0.000001));
    assert_eq!(b.prices.output_per_token, Some(0.000002));
    // Prices are not passed to the adapter as provider params.
    assert!(b.params.is_empty(), "{:?}", b.params);
    assert_eq!(b.model_info["input_cost_per_token"], 0.000001);
}

#[test]
fn a_moved_key_is_named_where_it_was_written() {
    let c = ok(
        "model_list:\n  - model_name: a\n    litellm_params: {model: openai/a}\n    model_info: {rpm: \"5\"}\n",
    );
    assert_eq!(
        c.warnings,
        [
            "model_list[0].model_info.rpm belongs at model_list[0].litellm_params.rpm; used there",
            "model_list[0].model_info.rpm: the string \"5\" is read as the number 5",
        ]
    );
    assert_eq!(c.deployments[0].rpm, Some(5));
    let e = load("general_settings: {num_retries: many}\n", &[]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "general_settings.num_retries: expected a whole number, got \"many\""
    );
}

#[test]
fn a_check_after_a_move_names_the_key_where_it_was_written() {
    let e = load(
        "model_list:\n  - model_name: a\n    litellm_params: {model: openai/x}\ngeneral_settings:\n  fallbacks: [{a: [nosuch]}]\n",
        &[],
    )
    .unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with("general_settings.fallbacks") && text.contains("nosuch"),
        "{text}"
    );
}

#[test]
fn references_expand_in_the_params_and_model_info_passed_through() {
    let yaml = r#"
model_list:
  - model_name: gpt
    litellm_params:
      model: openai/gpt-4o
      organization: os.environ/SY_ORG
      extra_headers: {Authorization: "Bearer ${SY_TOKEN}"}
    model_info:
      team_note: ${SY_NOTE}
"#;
    let c = load(
        yaml,
        &[("SY_ORG", "org-1"), ("SY_TOKEN", "t0k"), ("SY_NOTE", "n")],
    )
    .unwrap();
    let d = &c.deployments[0];
    assert_eq!(d.params["organization"], "org-1");
    assert_eq!(d.params["extra_headers"]["Authorization"], "Bearer t0k");
    assert_eq!(d.model_info["team_note"], "n");
    // They are used, so a missing one is an error.
    let e = load(yaml, &[("SY_ORG", "org-1"), ("SY_NOTE", "n")]).unwrap_err();
    assert!(e.to_string().contains("SY_TOKEN"), "{e}");
}

#[test]
fn references_expand_from_the_environment_then_the_file() {
    let yaml = r#"
environment_variables:
  GROQ_BASE: https://api.groq.com/openai/v1
  SY_PORT: 11434
model_list:
  - model_name: local
    litellm_params:
      model: ollama/llama3
      api_base: http://${SY_HOST:-localhost}:${SY_PORT}
      rpm: ${SY_RPM}
      timeout: os.environ/SY_TIMEOUT
  - model_name: fast
    litellm_params:
      model: groq/llama-3.1-8b-instant
      api_base: os.environ/GROQ_BASE
      api_key: ${GROQ_API_KEY}
"#;
    let c = load(
        yaml,
        &[
            ("SY_RPM", "60"),
            ("SY_TIMEOUT", "12.5"),
            ("GROQ_API_KEY", "gsk-1"),
            ("GROQ_BASE", "https://proxy.example/v1"),
        ],
    )
    .unwrap();
    let local = &c.groups["local"].deployments[0];
    assert_eq!(local.api_base.as_deref(), Some("http://localhost:11434"));
    assert_eq!(local.rpm, Some(60));
    assert_eq!(local.timeout, Some(Duration::from_millis(12_500)));
    let fast = &c.groups["fast"].deployments[0];
    // The process environment wins over the file's.
    assert_eq!(fast.api_base.as_deref(), Some("https://proxy.example/v1"));
    assert_eq!(fast.api_key.as_deref(), Some("gsk-1"));
    // Values from variables are strings by nature, and so are the file's
    // own `environment_variables` (LiteLLM stringifies them): no warning.
    assert_eq!(c.warnings, Vec::<String>::new());
    let e = load(yaml, &[("SY_RPM", "60"), ("SY_TIMEOUT", "1")]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "model_list[1].litellm_params.api_key: environment variable GROQ_API_KEY is not set (referenced as ${GROQ_API_KEY})"
    );
    assert_eq!(
        e.path().map(ToString::to_string).as_deref(),
        Some("model_list[1].litellm_params.api_key")
    );
}

#[test]
fn keys_switchyard_does_not_act_on_get_one_warning_each() {
    let c = ok(r#"
model_list: []
litellm_settings:
  callbacks: [otel]
  success_callback: [langfuse]
  max_budget: 100
general_settings:
  database_url: postgres://u@h/db
  alerting: [slack]
  store_model_in_db: true
router_settings:
  provider_budget_config: {openai: {budget_limit: 10}}
  routing_strategy_args: {ttl: 60, cooldown: 3}
guardrails: []
callback_settings: {otel: {message_logging: false}}
"#);
    assert_eq!(
        c.warnings,
        [
            "callback_settings is not used by Switchyard and is ignored",
            "guardrails is not used by Switchyard and is ignored",
            "general_settings.alerting is not used by Switchyard and is ignored",
            "general_settings.store_model_in_db is not used by Switchyard and is ignored",
            "router_settings.routing_strategy_args.cooldown is not used by Switchyard and is ignored",
            "litellm_settings.success_callback: \"langfuse\" is not used by Switchyard and is ignored (its callbacks are prometheus, otel and the hooks of webhooks:)",
        ]
    );
    assert_eq!(c.latency_ttl, Duration::from_secs(60));
}

#[test]
fn observability_keys_are_read_callbacks_lower_cased_each_once() {
    let c = ok(r#"
model_list: []
litellm_settings:
  callbacks: Prometheus
  success_callback: [otel, langfuse, OTEL, " prometheus "]
  failure_callback: [langfuse, Langfuse, datadog, ""]
  json_logs: true
  turn_off_message_logging: false
general_settings:
  metrics_require_auth: true
"#);
    assert_eq!(
        c.observability,
        observe::Observability {
            callbacks: vec![
                "prometheus".into(),
                "otel".into(),
                "langfuse".into(),
                "datadog".into()
            ],
            json_logs: true,
            message_logging: true,
            metrics_require_auth: true,
        }
    );
    assert!(c.observability.has_callback("otel"));
    assert_eq!(
        c.warnings,
        [
            "litellm_settings.success_callback: \"langfuse\" is not used by Switchyard and is ignored (its callbacks are prometheus, otel and the hooks of webhooks:)",
            "litellm_settings.failure_callback: \"langfuse\", \"Langfuse\", \"datadog\" is not used by Switchyard and is ignored (its callbacks are prometheus, otel and the hooks of webhooks:)",
        ]
    );
    // Defaults: nothing on, prompts never logged.
    let c = ok("model_list: []\nlitellm_settings: {turn_off_message_logging: true}\n");
    assert_eq!(c.observability, observe::Observability::default());
    // Quirks are mended like any boolean's.
    let c = ok("model_list: []\nlitellm_settings: {json_logs: \"yes\"}\n");
    assert!(c.observability.json_logs);
}

#[test]
fn every_value_without_a_sensible_reading_is_an_error_naming_its_path() {
    let entry = "model_list:\n  - model_name: a\n    litellm_params: {model: openai/a";
    let cases: Vec<(String, &str)> = vec![
        ("[1, 2]".into(), "the config must be a mapping of sections"),
        (
            "model_list:\n  - litellm_params: {model: openai/a}\n".into(),
            "model_list[0].model_name: required (the model group name clients use)",
        ),
        (
            "model_list:\n  - model_name: a\n".into(),
            "model_list[0].litellm_params: required (with at least `model`)",
        ),
        (
            "model_list:\n  - model_name: a\n    litellm_params: {api_base: http://h}\n".into(),
            "model_list[0].litellm_params.model: required, as provider/model (for example openai/gpt-4o)",
        ),
        (
            format!("{entry}, rpm: lots}}\n"),
            "model_list[0].litellm_params.rpm: expected a whole number, got \"lots\"",
        ),
        (
            format!("{entry}, timeout: -2}}\n"),
            "model_list[0].litellm_params.timeout: expected seconds (a positive number), got -2",
        ),
        (
            format!("{entry}, weight: heavy}}\n"),
            "model_list[0].litellm_params.weight: expected a non-negative number, got \"heavy\"",
        ),
        (
            format!("{entry}, api_base: [a, b]}}\n"),
            "model_list[0].litellm_params.api_base: invalid type: sequence, expected a string",
        ),
        (
            format!("{entry}}}\n    model_info: {{input_cost_per_token: -1}}\n"),
            "model_list[0].model_info.input_cost_per_token: expected a non-negative number, got -1",
        ),
        (
            format!(
                "{entry}}}\n    model_info: {{id: x}}\n  - model_name: b\n    litellm_params: {{model: openai/b}}\n    model_info: {{id: x}}\n"
            ),
            "model_list[1].model_info.id: \"x\" is used twice",
        ),
        (
            "general_settings:\n  max_request_size_mb: -3\n".into(),
            "general_settings.max_request_size_mb: expected a positive number, got -3",
        ),
        (
            "general_settings: {background_health_checks: maybe}\n".into(),
            "general_settings.background_health_checks: invalid type: string \"maybe\", expected a boolean",
        ),
        (
            "general_settings: [a, b]\n".into(),
            "general_settings: invalid type: sequence, expected a mapping",
        ),
        (
            "router_settings: {routing_strategy_args: {ttl: 0}}\n".into(),
            "router_settings.routing_strategy_args.ttl: expected seconds (a positive number), got 0",
        ),
        (
            "router_settings: {timeout: soon}\n".into(),
            "router_settings.timeout: expected seconds (a positive number), got \"soon\"",
        ),
        (
            "litellm_settings: {request_timeout: 0}\n".into(),
            "litellm_settings.request_timeout: expected seconds (a positive number), got 0",
        ),
        (
            "router_settings: {redis_port: 70000, redis_host: h}\n".into(),
            "router_settings.redis_port: expected a port number, got 70000",
        ),
        (
            "router_settings: {redis_url: \"rediss://h:6380\"}\n".into(),
            "router_settings.redis_url: TLS (rediss://) is not supported yet; use redis:// on a private network",
        ),
        (
            "router_settings: {redis_url: \"http://:secret@h\"}\n".into(),
            "router_settings.redis_url: expected redis://[:password@]host:port[/db]",
        ),
        (
            format!("{entry}}}\nrouter_settings:\n  model_group_alias: {{y: missing}}\n"),
            "router_settings.model_group_alias.y: model group \"missing\" is not in model_list",
        ),
        (
            format!("{entry}}}\nrouter_settings:\n  fallbacks: [{{a: [nope]}}]\n"),
            "router_settings.fallbacks[0].a: model group \"nope\" is not in model_list",
        ),
        (
            format!("{entry}}}\nlitellm_settings:\n  default_fallbacks: [a, gone]\n"),
            "litellm_settings.default_fallbacks[1]: model group \"gone\" is not in model_list",
        ),
        (
            "router_settings: {allowed_fails_policy: {TimeoutErrorAllowedFails: -1}}\n".into(),
            "router_settings.allowed_fails_policy.TimeoutErrorAllowedFails: expected a whole number, got -1",
        ),
        (
            "environment_variables: {A: {b: c}}\n".into(),
            "environment_variables.A: invalid type: map, expected a string",
        ),
        (
            format!("{entry}, api_key: os.environ/SY_SURELY_UNSET}}\n"),
            "model_list[0].litellm_params.api_key: environment variable SY_SURELY_UNSET is not set (referenced as os.environ/SY_SURELY_UNSET)",
        ),
        (
            "plugins: {routers: [x]}\n".into(),
            "plugins.routers: unknown field `routers`, expected one of `dir`, `router`, `sanitizers`, `cost_rules`, `cache_dir`, `watch`, `defaults`, `settings`, `shadow`, `shadow_sample`, `shadow_dir`",
        ),
        (
            "plugins: {settings: {a: {timeout_ms: 0}}}\n".into(),
            "plugins.settings.a: timeout_ms must be at least 1",
        ),
    ];
    for (yaml, expected) in &cases {
        let e = load(yaml, &[]).expect_err(yaml);
        assert_eq!(e.to_string(), *expected, "{yaml}");
    }
    assert_eq!(cases.len(), 27);
}

#[test]
fn a_reference_under_a_key_switchyard_ignores_need_not_be_set() {
    let c = ok(
        "general_settings:\n  database_url: os.environ/SY_SURELY_UNSET_DB\n  alerting_args: {webhook: \"${SY_SURELY_UNSET_HOOK}\"}\nlitellm_settings:\n  cache_params: {password: os.environ/SY_SURELY_UNSET_PW, port: os.environ/SY_SURELY_UNSET_PORT}\n  cache_kwargs: {s3_aws_secret_access_key: os.environ/SY_SURELY_UNSET_S3}\n  cache_responses: false\n",
    );
    assert_eq!(
        c.warnings,
        [
            "litellm_settings.cache_params is not used without litellm_settings.cache: true and is ignored",
            "litellm_settings.cache_kwargs is not used without litellm_settings.cache_responses: true and is ignored",
            "general_settings.database_url: environment variable SY_SURELY_UNSET_DB is not set (referenced as os.environ/SY_SURELY_UNSET_DB); keys and spend go to the default SQLite file beside the config",
            "general_settings.alerting_args is not used by Switchyard and is ignored",
        ]
    );
    assert_eq!(c.cache, None);
    // A cache that is on needs the variables of the keys it reads, not of
    // those it ignores.
    let c = ok(
        "litellm_settings:\n  cache: true\n  cache_params: {type: local, s3_aws_secret_access_key: os.environ/SY_SURELY_UNSET_S3}\n",
    );
    assert_eq!(
        c.warnings,
        [
            "litellm_settings.cache_params.s3_aws_secret_access_key is not used by Switchyard and is ignored"
        ]
    );
    let e = load(
        "litellm_settings:\n  cache: true\n  cache_params: {type: redis, password: os.environ/SY_SURELY_UNSET_PW}\n",
        &[],
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "litellm_settings.cache_params.password: environment variable SY_SURELY_UNSET_PW is not set (referenced as os.environ/SY_SURELY_UNSET_PW)"
    );
    assert!(c.money.database_is_default);
    // A key that is read (here after a move) must have its variable.
    let e = load(
        "litellm_settings:\n  master_key: os.environ/SY_SURELY_UNSET_MK\n",
        &[],
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "litellm_settings.master_key: environment variable SY_SURELY_UNSET_MK is not set (referenced as os.environ/SY_SURELY_UNSET_MK)"
    );
}

#[test]
fn an_alias_may_be_litellm_s_item_and_hidden_is_named_as_ignored() {
    let c = ok(
        "model_list:\n  - model_name: a\n    litellm_params: {model: openai/a}\nrouter_settings:\n  model_group_alias:\n    old: a\n    legacy: {model: a, hidden: true}\n",
    );
    assert_eq!(c.group("legacy").map(|g| g.name.as_str()), Some("a"));
    assert_eq!(c.group("old").map(|g| g.name.as_str()), Some("a"));
    assert_eq!(
        c.warnings,
        [
            "router_settings.model_group_alias.legacy.hidden is not used by Switchyard and is ignored (the alias is listed in /v1/models)"
        ]
    );
}

#[test]
fn yaml_merge_keys_apply_as_pyyaml_applies_them() {
    let c = ok(r#"
x-defaults: &groq
  api_key: gsk-1
  rpm: 30
model_list:
  - model_name: fast
    litellm_params:
      <<: *groq
      model: groq/llama-3.1-8b-instant
  - model_name: fast
    litellm_params:
      <<: *groq
      model: groq/llama-3.3-70b-versatile
      rpm: 10
"#);
    assert_eq!(
        c.warnings,
        ["x-defaults is not used by Switchyard and is ignored"]
    );
    let fast = &c.groups["fast"].deployments;
    assert_eq!(fast[0].api_key.as_deref(), Some("gsk-1"));
    assert_eq!((fast[0].rpm, fast[1].rpm), (Some(30), Some(10)));
    assert!(fast[0].params.is_empty(), "{:?}", fast[0].params);
}

#[test]
fn money_reads_limits_rules_budgets_and_the_database() {
    let text = r#"
model_list:
  - model_name: gpt
    litellm_params:
      model: openai/gpt-4o
      max_budget: 5
      budget_duration: 1d
router_settings:
  provider_budget_config:
    openai: {budget_limit: 100, time_period: 1mo}
litellm_settings:
  max_budget: 1000
  budget_duration: 30d
general_settings:
  database_url: postgresql://u:pw@db:5432/sw
  budget_and_rate_limits:
    - {model: gpt, max_budget: 10, budget_duration: 24h, rpm: 60}
limits:
  - match: metadata.organization_id
    rpm: 100
    tpm: "5000"
    max_parallel: 4
  - match: metadata.plan
    value: free
    max_budget: 1.5
    budget_duration: 30d
    colour: blue
"#;
    let c = Config::parse(text, Path::new("/cfg")).unwrap();
    let m = &c.money;
    assert_eq!(m.database_url, "postgresql://u:pw@db:5432/sw");
    assert!(!m.database_is_default);
    assert_eq!(m.rules.len(), 3);
    assert_eq!(
        m.rules[0].matches,
        money::Match::Metadata("organization_id".into())
    );
    assert_eq!(
        (m.rules[0].rpm, m.rules[0].tpm, m.rules[0].max_parallel),
        (Some(100), Some(5000), Some(4))
    );
    assert_eq!(m.rules[1].value.as_deref(), Some("free"));
    let b = m.rules[1].budget.as_ref().unwrap();
    assert_eq!(b.max_usd, 1.5);
    assert_eq!(b.period, "30d".parse().unwrap());
    assert_eq!(m.rules[2].matches, money::Match::Model);
    assert_eq!(m.rules[2].value.as_deref(), Some("gpt"));
    assert_eq!(m.provider_budgets["openai"].period, "1mo".parse().unwrap());
    assert_eq!(m.global_budget.as_ref().unwrap().max_usd, 1000.0);
    let d = &c.deployments[0];
    assert_eq!(d.budget.as_ref().unwrap().max_usd, 5.0);
    // The budget keys are the host's, not the provider's.
    assert!(!d.params.contains_key("max_budget"));
    let w = c.warnings.join("\n");
    assert!(w.contains("limits[1].colour is not used"), "{w}");
    assert!(
        w.contains("general_settings.budget_and_rate_limits is not a LiteLLM key"),
        "{w}"
    );
    assert!(
        w.contains("limits[0].tpm"),
        "a string number is mended with a warning: {w}"
    );
}

#[test]
fn money_defaults_to_a_sqlite_file_beside_the_config() {
    let c = Config::parse("", Path::new("/etc/sw")).unwrap();
    assert_eq!(c.money.database_url, "sqlite:///etc/sw/switchyard.db");
    assert!(c.money.database_is_default);
    assert!(c.money.spend_logs);
    assert!(c.money.rules.is_empty());
}

#[test]
fn money_errors_name_the_path() {
    for (text, path) in [
        (
            "limits:\n  - match: colour\n    rpm: 1\n",
            "limits[0].match",
        ),
        ("limits:\n  - match: user\n", "limits[0]"),
        (
            "limits:\n  - match: user\n    max_budget: 1\n    budget_duration: fortnight\n",
            "limits[0].budget_duration",
        ),
        (
            "limits:\n  - match: user\n    max_budget: -1\n",
            "limits[0].max_budget",
        ),
        (
            "router_settings:\n  provider_budget_config:\n    openai: {budget_limit: 1, time_period: 3x}\n",
            "router_settings.provider_budget_config.openai.time_period",
        ),
    ] {
        let e = Config::parse(text, Path::new(".")).unwrap_err().to_string();
        assert!(e.contains(path), "{text}: {e}");
    }
}

#[test]
fn litellm_cost_margins_and_discounts_configure_the_cost_margin_rule() {
    let c = Config::parse(
        "litellm_settings:\n  cost_margin_config: {global: 0.05, anthropic: {percentage: 0.08, fixed_amount: 0.0001}}\n  cost_discount_config: {gemini: 0.05}\n",
        Path::new("."),
    )
    .unwrap();
    assert_eq!(c.plugins.cost_rules, ["model-prices", "cost-margin"]);
    let config = &c.plugins.settings["cost-margin"]["config"];
    assert_eq!(config["margin"]["global"], serde_json::json!(0.05));
    assert_eq!(
        config["margin"]["anthropic"]["fixed_amount"],
        serde_json::json!(0.0001)
    );
    assert_eq!(config["discount"]["gemini"], serde_json::json!(0.05));
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    // A chain that leaves the rule out is told so.
    let c = Config::parse(
        "litellm_settings:\n  cost_discount_config: {gemini: 0.05}\nplugins:\n  cost_rules: [model-prices]\n",
        Path::new("."),
    )
    .unwrap();
    assert_eq!(c.plugins.cost_rules, ["model-prices", "cost-margin"]);
    let c = Config::parse(
        "litellm_settings:\n  cost_discount_config: {gemini: 0.05}\nplugins:\n  cost_rules: [my-prices]\n",
        Path::new("."),
    )
    .unwrap();
    assert_eq!(c.plugins.cost_rules, ["my-prices"]);
    assert!(
        c.warnings
            .join("\n")
            .contains("cost_discount_config applies through the cost-margin rule"),
        "{:?}",
        c.warnings
    );
}

// The response cache (`cache.rs`).

use switchyard_cache::{Backend, CallTypes, Mode, Settings};

/// The cache and the warnings of `yaml`, loaded from `/etc/sw` with `vars`
/// as the whole environment.
fn cache_of(yaml: &str, vars: &[(&str, &str)]) -> (Option<Settings>, Vec<String>) {
    let env = |name: &str| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    };
    let c = Config::parse_with_env(yaml, Path::new("/etc/sw"), &env)
        .unwrap_or_else(|e| panic!("{yaml}: {e}"));
    (c.cache, c.warnings)
}

/// A cache with the defaults but for `backend` and `ttl`.
fn cache_with(backend: Backend, ttl: Option<u64>) -> Settings {
    Settings {
        backend,
        ttl: ttl.map(Duration::from_secs),
        namespace: None,
        mode: Mode::DefaultOn,
        call_types: CallTypes::default(),
        max_entry_bytes: 1 << 20,
    }
}

fn memory() -> Backend {
    Backend::Memory {
        max_bytes: 256 << 20,
    }
}

fn redis_at(url: &str) -> Backend {
    Backend::Redis {
        url: url.into(),
        prefix: "switchyard".into(),
    }
}

fn disk_at(dir: &str) -> Backend {
    Backend::Disk {
        dir: dir.into(),
        max_bytes: 1 << 30,
    }
}

const NO_WARNINGS: [&str; 0] = [];

#[test]
fn each_of_the_three_spellings_gives_a_cache() {
    // LiteLLM's current keys.
    let (c, w) = cache_of(
        "litellm_settings:\n  cache: true\n  cache_params: {type: redis, host: r.internal, port: 6380, password: pw, ttl: 600, namespace: support, mode: default_off, supported_call_types: [acompletion], max_entry_bytes: 2048}\n",
        &[],
    );
    assert_eq!(w, NO_WARNINGS);
    assert_eq!(
        c,
        Some(Settings {
            backend: redis_at("redis://:pw@r.internal:6380"),
            ttl: Some(Duration::from_secs(600)),
            namespace: Some("support".into()),
            mode: Mode::DefaultOff,
            call_types: CallTypes {
                chat: true,
                embeddings: false
            },
            max_entry_bytes: 2048,
        })
    );
    // The older keys, with the Redis of router_settings (then a redis
    // cache) and its key prefix.
    let (c, w) = cache_of(
        "router_settings: {redis_host: r.internal, redis_port: \"6381\", redis_password: \"p/w\", redis_key_prefix: gw1}\nlitellm_settings:\n  cache_responses: true\n  cache_kwargs: {ttl: 60}\n",
        &[],
    );
    assert_eq!(w, NO_WARNINGS);
    assert_eq!(
        c,
        Some(cache_with(
            Backend::Redis {
                url: "redis://:p%2Fw@r.internal:6381".into(),
                prefix: "gw1".into()
            },
            Some(60)
        ))
    );
    // Older keys, no Redis anywhere: local.
    let (c, w) = cache_of("litellm_settings: {cache_responses: true}\n", &[]);
    assert_eq!(w, NO_WARNINGS);
    assert_eq!(c, Some(cache_with(memory(), None)));
    // A user's file puts it in general_settings, where LiteLLM ignores it.
    let (c, w) = cache_of(
        "general_settings:\n  cache: {type: disk, disk_cache_dir: /var/cache/sw}\n",
        &[],
    );
    assert_eq!(
        w,
        [
            "general_settings.cache belongs under litellm_settings as `cache: true` and `cache_params`; used there"
        ]
    );
    assert_eq!(c, Some(cache_with(disk_at("/var/cache/sw"), None)));
    // And LiteLLM's keys in general_settings.
    let (c, w) = cache_of(
        "general_settings:\n  cache: true\n  cache_params: {type: disk}\n",
        &[],
    );
    assert_eq!(
        w,
        [
            "general_settings.cache belongs at litellm_settings.cache; used there",
            "general_settings.cache_params belongs at litellm_settings.cache_params; used there",
        ]
    );
    assert_eq!(
        c,
        Some(cache_with(disk_at("/etc/sw/.switchyard_cache"), None))
    );
}

#[test]
fn defaults_are_local_memory_no_ttl_redis_a_day_and_disk_beside_the_config() {
    let (c, w) = cache_of("litellm_settings: {cache: true}\n", &[]);
    assert_eq!(w, NO_WARNINGS);
    let c = c.unwrap();
    assert_eq!(c, cache_with(memory(), None));
    assert_eq!(
        cache::summary(&c),
        "local, ttl none, namespace -, mode default_on, chat+embeddings, max 256 MiB"
    );
    let (c, _) = cache_of(
        "router_settings: {redis_url: \"redis://:pw@r:6379/2\"}\nlitellm_settings:\n  cache: true\n  cache_params: {type: redis}\n",
        &[],
    );
    let c = c.unwrap();
    assert_eq!(
        c,
        cache_with(redis_at("redis://:pw@r:6379/2"), Some(24 * 3600))
    );
    assert_eq!(
        cache::summary(&c),
        "redis at r:6379/2, ttl 24h, namespace -, mode default_on, chat+embeddings"
    );
    for (dir, want) in [
        ("", "/etc/sw/.switchyard_cache"),
        (", disk_cache_dir: cache", "/etc/sw/cache"),
        (
            ", disk_cache_dir: ../shared/cache",
            "/etc/sw/../shared/cache",
        ),
        (", disk_cache_dir: /srv/cache", "/srv/cache"),
    ] {
        let (c, w) = cache_of(
            &format!(
                "litellm_settings:\n  cache: true\n  cache_params: {{type: disk, max_size_bytes: 1048576{dir}}}\n"
            ),
            &[],
        );
        assert_eq!(w, NO_WARNINGS);
        let c = c.unwrap();
        assert_eq!(
            c.backend,
            Backend::Disk {
                dir: want.into(),
                max_bytes: 1 << 20
            }
        );
        assert_eq!(
            cache::summary(&c),
            format!(
                "disk at {want}, ttl none, namespace -, mode default_on, chat+embeddings, max 1 MiB"
            )
        );
    }
}

#[test]
fn cache_params_without_cache_true_give_no_cache_and_a_warning() {
    for (yaml, warning) in [
        (
            "litellm_settings:\n  cache_params: {type: redis, ttl: 60}\n",
            "litellm_settings.cache_params is not used without litellm_settings.cache: true and is ignored",
        ),
        (
            "litellm_settings:\n  cache: false\n  cache_params: {type: disk}\n",
            "litellm_settings.cache_params is not used without litellm_settings.cache: true and is ignored",
        ),
        (
            "litellm_settings:\n  cache_responses: false\n  cache_kwargs: {ttl: 60}\n",
            "litellm_settings.cache_kwargs is not used without litellm_settings.cache_responses: true and is ignored",
        ),
        // Known false only once the variable is read.
        (
            "litellm_settings:\n  cache: os.environ/SY_CACHE_ON\n  cache_params: {type: disk}\n",
            "litellm_settings.cache_params is not used without litellm_settings.cache: true and is ignored",
        ),
    ] {
        let (c, w) = cache_of(yaml, &[("SY_CACHE_ON", "false")]);
        assert_eq!(c, None, "{yaml}");
        assert_eq!(w, [warning], "{yaml}");
    }
    let (c, w) = cache_of("litellm_settings: {cache: false}\n", &[]);
    assert_eq!((c, w), (None, vec![]));
    // Params whose types cannot be read before their variables are: the
    // cache is off, so they are not read at all.
    let (c, w) = cache_of(
        "litellm_settings:\n  cache_params: {type: redis, port: os.environ/SY_UNSET_PORT, ttl: \"${SY_UNSET_TTL}\"}\n",
        &[],
    );
    assert_eq!(c, None);
    assert_eq!(w.len(), 1, "{w:?}");
    // With the variable set, the switch is read.
    let (c, w) = cache_of(
        "litellm_settings:\n  cache: ${SY_CACHE_ON}\n  cache_params: {ttl: os.environ/SY_TTL}\n",
        &[("SY_CACHE_ON", "true"), ("SY_TTL", "30")],
    );
    assert_eq!(w, NO_WARNINGS);
    assert_eq!(c, Some(cache_with(memory(), Some(30))));
}

#[test]
fn both_spellings_at_once_use_cache_and_name_the_older_keys() {
    let (c, w) = cache_of(
        "litellm_settings:\n  cache: true\n  cache_params: {ttl: 5}\n  cache_responses: true\n  cache_kwargs: {ttl: 9}\n",
        &[],
    );
    assert_eq!(c, Some(cache_with(memory(), Some(5))));
    assert_eq!(
        w,
        [
            "litellm_settings.cache_responses is not used when litellm_settings.cache is set and is ignored",
            "litellm_settings.cache_kwargs is not used when litellm_settings.cache is set and is ignored",
        ]
    );
    let (c, w) = cache_of(
        "litellm_settings:\n  cache_responses: true\n  cache_params: {ttl: 5}\n",
        &[],
    );
    assert_eq!(c, Some(cache_with(memory(), None)));
    assert_eq!(
        w,
        [
            "litellm_settings.cache_params is not used without litellm_settings.cache: true and is ignored"
        ]
    );
}

#[test]
fn odd_values_are_read_with_one_warning_each() {
    let (c, w) = cache_of(
        "litellm_settings:\n  cache: \"true\"\n  cache_params: {type: [disk], ttl: \"600\", supported_call_types: aembedding, max_size_bytes: \"4096\", namespace: 7}\n",
        &[],
    );
    assert_eq!(
        w,
        [
            "litellm_settings.cache: the string \"true\" is read as true",
            "litellm_settings.cache_params.type: the list [\"disk\"] is read as the string \"disk\"",
            "litellm_settings.cache_params.ttl: the string \"600\" is read as the number 600",
            "litellm_settings.cache_params.supported_call_types: the string \"aembedding\" is read as the list [\"aembedding\"]",
            "litellm_settings.cache_params.max_size_bytes: the string \"4096\" is read as the number 4096",
            "litellm_settings.cache_params.namespace: the number 7 is read as the string \"7\"",
        ]
    );
    let c = c.unwrap();
    assert_eq!(
        c,
        Settings {
            backend: Backend::Disk {
                dir: "/etc/sw/.switchyard_cache".into(),
                max_bytes: 4096
            },
            ttl: Some(Duration::from_secs(600)),
            namespace: Some("7".into()),
            mode: Mode::DefaultOn,
            call_types: CallTypes {
                chat: false,
                embeddings: true
            },
            max_entry_bytes: 1 << 20,
        }
    );
    assert_eq!(
        cache::summary(&c),
        "disk at /etc/sw/.switchyard_cache, ttl 10m, namespace 7, mode default_on, embeddings, max 4 KiB"
    );
    // A namespace as Redis users write it.
    let (c, w) = cache_of(
        "litellm_settings:\n  cache: true\n  cache_params: {namespace: \"acme:help desk\"}\n",
        &[],
    );
    let namespace = c.and_then(|c| c.namespace).unwrap_or_default();
    assert_eq!(namespace, "acme_help_desk");
    assert!(switchyard_cache::key::valid_namespace(&namespace));
    assert_eq!(
        w,
        [
            "litellm_settings.cache_params.namespace: \"acme:help desk\" is read as \"acme_help_desk\" (a namespace is made of A-Z, a-z, 0-9, _, . and -)"
        ]
    );
    // A mapping in `cache` itself.
    let (c, w) = cache_of(
        "litellm_settings:\n  cache: {type: redis, host: r, ttl: 90}\n",
        &[],
    );
    assert_eq!(
        w,
        [
            "litellm_settings.cache: a mapping is read as `cache: true` with the mapping as `cache_params`"
        ]
    );
    assert_eq!(c, Some(cache_with(redis_at("redis://r:6379"), Some(90))));
    // An unknown type or mode: a warning, and what is used instead.
    let (c, w) = cache_of(
        "litellm_settings:\n  cache: true\n  cache_params: {type: s3, mode: always, s3_bucket_name: b}\n",
        &[],
    );
    assert_eq!(c, Some(cache_with(memory(), None)));
    assert_eq!(
        w,
        [
            "litellm_settings.cache_params.s3_bucket_name is not used by Switchyard and is ignored",
            "litellm_settings.cache_params.type: \"s3\" is not a cache type Switchyard has (local, disk or redis); a local cache is used",
            "litellm_settings.cache_params.mode: \"always\" is not a mode (default_on or default_off); default_on is used",
        ]
    );
    let (c, w) = cache_of(
        "litellm_settings:\n  cache: true\n  cache_params: {type: redis-semantic, host: r, similarity_threshold: 0.8}\n",
        &[],
    );
    assert_eq!(
        c,
        Some(cache_with(redis_at("redis://r:6379"), Some(24 * 3600)))
    );
    assert_eq!(
        w,
        [
            "litellm_settings.cache_params.similarity_threshold is not used by Switchyard and is ignored",
            "litellm_settings.cache_params.type: \"redis-semantic\" is not a cache type Switchyard has (local, disk or redis); a redis cache is used",
        ]
    );
}

#[test]
fn values_without_a_reading_are_errors_naming_where_they_were_written() {
    for (yaml, error) in [
        (
            "litellm_settings:\n  cache: true\n  cache_params: {ttl: -1}\n",
            "litellm_settings.cache_params.ttl: expected seconds (a positive number), got -1",
        ),
        (
            "litellm_settings:\n  cache: {namespace: [a, b]}\n",
            "litellm_settings.cache.namespace: invalid type: sequence, expected a string",
        ),
        (
            "general_settings:\n  cache: {type: disk, ttl: soon}\n",
            "general_settings.cache.ttl: expected seconds (a positive number), got \"soon\"",
        ),
        (
            "litellm_settings:\n  cache: {port: 99999}\n",
            "litellm_settings.cache.port: expected a port number, got 99999",
        ),
        (
            "litellm_settings:\n  cache: sometimes\n",
            "litellm_settings.cache: invalid type: string \"sometimes\", expected a boolean",
        ),
        (
            "litellm_settings:\n  cache: true\n  cache_params: {type: redis, redis_url: \"http://:hunter2@r\"}\n",
            "litellm_settings.cache_params.redis_url: expected redis://[:password@]host:port[/db]",
        ),
        (
            "litellm_settings:\n  cache: true\n  cache_params: {redis_url: \"rediss://:hunter2@r\"}\n",
            "litellm_settings.cache_params.redis_url: TLS (rediss://) is not supported yet; use redis:// on a private network",
        ),
    ] {
        let e = load(yaml, &[]).expect_err(yaml);
        assert_eq!(e.to_string(), error, "{yaml}");
    }
    let long = format!(
        "litellm_settings:\n  cache: true\n  cache_params: {{namespace: {}}}\n",
        "n".repeat(65)
    );
    assert_eq!(
        load(&long, &[]).expect_err(&long).to_string(),
        "litellm_settings.cache_params.namespace: a namespace is at most 64 characters"
    );
}

#[test]
fn unknown_cache_params_keys_and_keys_of_other_types_get_one_warning_each() {
    let (c, w) = cache_of(
        "litellm_settings:\n  cache: true\n  cache_params:\n    type: local\n    similarity_threshold: 0.8\n    s3_bucket_name: b\n    s3_region_name: us-east-1\n    host: r\n    password: pw\n    disk_cache_dir: d\n    max_size_bytes: 1024\n",
        &[],
    );
    assert_eq!(
        c.map(|c| c.backend),
        Some(Backend::Memory { max_bytes: 1024 })
    );
    assert_eq!(
        w,
        [
            "litellm_settings.cache_params.s3_bucket_name is not used by Switchyard and is ignored",
            "litellm_settings.cache_params.s3_region_name is not used by Switchyard and is ignored",
            "litellm_settings.cache_params.similarity_threshold is not used by Switchyard and is ignored",
            "litellm_settings.cache_params.host is not used by a local cache and is ignored",
            "litellm_settings.cache_params.password is not used by a local cache and is ignored",
            "litellm_settings.cache_params.disk_cache_dir is not used by a local cache and is ignored",
        ]
    );
    let (_, w) = cache_of(
        "litellm_settings:\n  cache: true\n  cache_params: {type: redis, host: r, max_size_bytes: 1024, disk_cache_dir: d}\n",
        &[],
    );
    assert_eq!(
        w,
        [
            "litellm_settings.cache_params.disk_cache_dir is not used by a redis cache and is ignored",
            "litellm_settings.cache_params.max_size_bytes is not used by a redis cache and is ignored",
        ]
    );
}

#[test]
fn supported_call_types_map_to_chat_and_embeddings() {
    for (types, chat, embeddings, ignored) in [
        ("[completion]", true, false, vec![]),
        ("[acompletion, aembedding]", true, true, vec![]),
        ("[embedding]", false, true, vec![]),
        (
            "[atext_completion, embedding, atranscription]",
            false,
            true,
            vec![(0, "atext_completion"), (2, "atranscription")],
        ),
        ("[]", false, false, vec![]),
    ] {
        let (c, w) = cache_of(
            &format!(
                "litellm_settings:\n  cache: true\n  cache_params: {{supported_call_types: {types}}}\n"
            ),
            &[],
        );
        assert_eq!(
            c.map(|c| c.call_types),
            Some(CallTypes { chat, embeddings }),
            "{types}"
        );
        let want: Vec<String> = ignored
            .iter()
            .map(|(i, name)| format!("litellm_settings.cache_params.supported_call_types[{i}]: {name:?} is not a call type Switchyard caches (completion, acompletion, embedding, aembedding) and is ignored"))
            .collect();
        assert_eq!(w, want, "{types}");
    }
}

#[test]
fn the_cache_s_redis_comes_from_its_params_router_settings_or_the_environment() {
    let env = [
        ("REDIS_HOST", "env-redis"),
        ("REDIS_PORT", "6390"),
        ("REDIS_PASSWORD", "env-pw"),
    ];
    let router = "router_settings: {redis_host: router-redis, redis_password: router-pw}\n";
    for (yaml, vars, url, warnings) in [
        // The params' host, port and password win over router_settings.
        (
            format!(
                "{router}litellm_settings:\n  cache: true\n  cache_params: {{type: redis, host: own, port: \"6391\", password: \"own pw\"}}\n"
            ),
            &env[..],
            "redis://:own%20pw@own:6391",
            vec![],
        ),
        // The params' redis_url wins over their host.
        (
            "litellm_settings:\n  cache: true\n  cache_params: {type: redis, redis_url: \"redis://:u-pw@url-redis:7000/1\", host: own, password: own-pw}\n".to_string(),
            &env[..],
            "redis://:u-pw@url-redis:7000/1",
            vec![
                "litellm_settings.cache_params.host is not used when litellm_settings.cache_params.redis_url is set and is ignored",
                "litellm_settings.cache_params.password is not used when litellm_settings.cache_params.redis_url is set and is ignored",
            ],
        ),
        // router_settings' Redis, before the environment.
        (
            format!("{router}litellm_settings:\n  cache: true\n  cache_params: {{type: redis, port: 1}}\n"),
            &env[..],
            "redis://:router-pw@router-redis:6379",
            vec![
                "litellm_settings.cache_params.port is not used without litellm_settings.cache_params.host (the Redis of router_settings is used) and is ignored",
            ],
        ),
        // litellm_settings.redis_host is moved to router_settings.
        (
            "litellm_settings:\n  redis_host: moved\n  cache_responses: true\n".to_string(),
            &env[..],
            "redis://moved:6379",
            vec![
                "litellm_settings.redis_host belongs at router_settings.redis_host; used there",
            ],
        ),
        // The environment.
        (
            "litellm_settings:\n  cache: true\n  cache_params: {type: redis}\n".to_string(),
            &env[..],
            "redis://:env-pw@env-redis:6390",
            vec![],
        ),
        // The params' port and password over the environment's.
        (
            "litellm_settings:\n  cache: true\n  cache_params: {type: redis, port: 6000, password: p}\n".to_string(),
            &env[..],
            "redis://:p@env-redis:6000",
            vec![],
        ),
        // Nothing anywhere.
        (
            "litellm_settings:\n  cache: true\n  cache_params: {type: redis}\n".to_string(),
            &[][..],
            "redis://127.0.0.1:6379",
            vec![
                "litellm_settings.cache_params names no Redis host (nor does router_settings or REDIS_HOST in the environment); the cache uses Redis at 127.0.0.1:6379",
            ],
        ),
        (
            "litellm_settings:\n  cache: true\n  cache_params: {type: redis}\n".to_string(),
            &[("REDIS_PORT", "sixty"), ("REDIS_PASSWORD", "env-pw")][..],
            "redis://:env-pw@127.0.0.1:6379",
            vec![
                "environment variable REDIS_PORT (\"sixty\") is not a port number; the cache's Redis is taken at port 6379",
                "litellm_settings.cache_params names no Redis host (nor does router_settings or REDIS_HOST in the environment); the cache uses Redis at 127.0.0.1:6379",
            ],
        ),
        // The older keys are a Redis cache with router_settings' Redis...
        (
            format!("{router}litellm_settings:\n  cache_responses: true\n"),
            &[][..],
            "redis://:router-pw@router-redis:6379",
            vec![],
        ),
        // ...and LiteLLM's keys are when their params name a host.
        (
            "litellm_settings:\n  cache: true\n  cache_params: {host: h}\n".to_string(),
            &[][..],
            "redis://h:6379",
            vec![],
        ),
    ] {
        let (c, w) = cache_of(&yaml, vars);
        let c = c.unwrap_or_else(|| panic!("{yaml}: no cache"));
        assert_eq!(
            c.backend,
            Backend::Redis {
                url: url.into(),
                prefix: "switchyard".into()
            },
            "{yaml}"
        );
        assert_eq!(w, warnings, "{yaml}");
    }
    // Without a type, LiteLLM's keys are local even where router_settings
    // names a Redis.
    let (c, _) = cache_of(&format!("{router}litellm_settings:\n  cache: true\n"), &env);
    assert_eq!(c.map(|c| c.backend), Some(memory()));
}

#[test]
fn no_warning_error_or_summary_shows_a_redis_password() {
    const PW: &str = "hunter2-s3cret";
    let files = [
        format!(
            "litellm_settings:\n  cache: true\n  cache_params: {{type: local, password: {PW}, redis_url: \"redis://:{PW}@r\"}}\n"
        ),
        format!(
            "litellm_settings:\n  cache: true\n  cache_params: {{type: redis, redis_url: \"redis://:{PW}@r:1\", password: {PW}, host: h, port: \"6379\"}}\n"
        ),
        "litellm_settings:\n  cache: true\n  cache_params: {type: redis, password: 12345}\n"
            .to_string(),
        format!(
            "litellm_settings:\n  cache: true\n  cache_params: {{type: redis, password: [{PW}]}}\n"
        ),
        "litellm_settings:\n  cache: true\n  cache_params: {type: redis}\n".to_string(),
        format!(
            "router_settings: {{redis_host: r, redis_password: {PW}}}\nlitellm_settings:\n  cache: true\n  cache_params: {{type: redis, password: {PW}}}\n"
        ),
        format!(
            "router_settings: {{redis_url: \"redis://:{PW}@r\"}}\nlitellm_settings:\n  cache_responses: true\n  cache_kwargs: {{type: s3, password: {PW}}}\n"
        ),
        format!("general_settings:\n  cache: {{type: memcached, password: {PW}, ttl: \"5\"}}\n"),
        format!("litellm_settings:\n  cache_params: {{password: {PW}}}\n"),
    ];
    let vars = [("REDIS_PASSWORD", PW), ("REDIS_PORT", "x")];
    let mut summaries = 0;
    for yaml in &files {
        let c = Config::parse_with_env(yaml, Path::new("."), &|name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
        .unwrap_or_else(|e| panic!("{yaml}: {e}"));
        let text = c.warnings.join("\n");
        assert!(!text.contains(PW) && !text.contains("12345"), "{text}");
        if let Some(cache) = &c.cache {
            let line = cache::summary(cache);
            assert!(!line.contains(PW) && !line.contains("12345"), "{line}");
            summaries += 1;
        }
    }
    assert_eq!(summaries, 8);
    for yaml in [
        format!(
            "litellm_settings:\n  cache: true\n  cache_params: {{redis_url: \"http://:{PW}@r\"}}\n"
        ),
        format!(
            "litellm_settings:\n  cache: true\n  cache_params: {{redis_url: \"rediss://:{PW}@r\"}}\n"
        ),
        format!("litellm_settings:\n  cache: true\n  cache_params: {{password: [{PW}, x]}}\n"),
        format!("litellm_settings:\n  cache: true\n  cache_params: {{password: {{p: {PW}}}}}\n"),
    ] {
        let e = load(&yaml, &[]).expect_err(&yaml).to_string();
        assert!(!e.contains(PW), "{e}");
    }
}

#[test]
fn general_settings_cache_gives_way_to_litellm_settings() {
    let (c, w) = cache_of(
        "general_settings:\n  cache: {type: disk}\nlitellm_settings:\n  cache: true\n",
        &[],
    );
    assert_eq!(c, Some(cache_with(memory(), None)));
    assert_eq!(
        w,
        [
            "general_settings.cache belongs under litellm_settings, which sets its own cache; general_settings.cache is ignored"
        ]
    );
    let (c, w) = cache_of(
        "litellm_settings:\n  cache: {type: disk}\n  cache_params: {ttl: 5}\n",
        &[],
    );
    assert_eq!(c, Some(cache_with(memory(), Some(5))));
    assert_eq!(
        w,
        [
            "litellm_settings.cache: a mapping is read as true; its keys are ignored, since litellm_settings.cache_params is also set"
        ]
    );
}

#[test]
fn config_check_s_line_names_each_setting() {
    let (c, _) = cache_of(
        "litellm_settings:\n  cache: true\n  cache_params: {ttl: 90, namespace: prod, mode: default_off, supported_call_types: [completion], max_size_bytes: 1000}\n",
        &[],
    );
    assert_eq!(
        cache::summary(&c.unwrap()),
        "local, ttl 90s, namespace prod, mode default_off, chat, max 1000 bytes"
    );
    let (c, _) = cache_of(
        "litellm_settings:\n  cache: true\n  cache_params: {ttl: 0.5, supported_call_types: [], type: redis, host: h}\n",
        &[],
    );
    assert_eq!(
        cache::summary(&c.unwrap()),
        "redis at h:6379, ttl 500ms, namespace -, mode default_on, no call type"
    );
}
