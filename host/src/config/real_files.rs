//! Three real users' LiteLLM files (`tests/fixtures/configs/`): each loads,
//! yields the groups and deployments its author meant, and says exactly
//! what it ignored or read otherwise than written.

use std::path::Path;
use std::time::Duration;

use super::*;

const SUPPORT_CHAT: &str = include_str!("../../../tests/fixtures/configs/support-chat.yaml");
const PLATFORM_TEAM: &str = include_str!("../../../tests/fixtures/configs/platform-team.yaml");
const HOBBYIST: &str = include_str!("../../../tests/fixtures/configs/hobbyist.yaml");

/// Loads a fixture with `vars` as the whole environment.
fn load(text: &str, vars: &[(&str, &str)]) -> Config {
    let env = |name: &str| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    };
    Config::parse_with_env(text, Path::new("."), &env).unwrap_or_else(|e| panic!("{e}"))
}

/// `(id, group, provider/model)` of every deployment, in file order.
fn deployments(c: &Config) -> Vec<(&str, &str, String)> {
    c.deployments
        .iter()
        .map(|d| {
            (
                d.id.as_str(),
                d.group.as_str(),
                format!("{}/{}", d.provider, d.model),
            )
        })
        .collect()
}

/// The environment each fixture's deployment would have.
const SUPPORT_CHAT_ENV: &[(&str, &str)] = &[
    ("OPENROUTER_API_KEY", "sk-or-test"),
    ("ANTHROPIC_API_KEY_PRIMARY", "sk-ant-test-1"),
    ("ANTHROPIC_API_KEY_SECONDARY", "sk-ant-test-2"),
    ("GEMINI_API_KEY", "gemini-test"),
    ("REDIS_HOST", "redis.acme.internal"),
    ("REDIS_PORT", "6380"),
    ("REDIS_PASSWORD", "redis-test"),
    ("LITELLM_MASTER_KEY", "sk-master-test"),
];
const PLATFORM_TEAM_ENV: &[(&str, &str)] = &[
    ("AZURE_EASTUS_API_KEY", "azure-east-test"),
    ("AZURE_SWEDEN_API_KEY", "azure-sweden-test"),
    ("OPENAI_API_KEY", "sk-openai-test"),
    ("REDIS_URL", "redis://redis.platform.internal:6379/2"),
    ("LITELLM_MASTER_KEY", "sk-master-test"),
];
const HOBBYIST_ENV: &[(&str, &str)] = &[("GROQ_API_KEY", "gsk-test")];

#[test]
fn a_support_chat_file_loads_with_its_quirks_mended() {
    let c = load(SUPPORT_CHAT, SUPPORT_CHAT_ENV);
    assert_eq!(
        deployments(&c),
        [
            (
                "triage-openrouter",
                "triage",
                "openrouter/meta-llama/llama-3.1-8b-instruct".into()
            ),
            (
                "claude-primary",
                "support-answer",
                "anthropic/claude-sonnet-4-5".into()
            ),
            (
                "claude-secondary",
                "support-answer",
                "anthropic/claude-sonnet-4-5".into()
            ),
            (
                "gemini-long",
                "long-context",
                "gemini/gemini-2.5-pro".into()
            ),
        ]
    );
    assert_eq!(
        c.groups.keys().collect::<Vec<_>>(),
        ["long-context", "support-answer", "triage"]
    );
    assert_eq!(
        c.warnings,
        [
            "general_settings.default_fallbacks belongs at router_settings.default_fallbacks; used there",
            "model_list[2].model_info.rpm belongs at model_list[2].litellm_params.rpm; used there",
            "general_settings.database_url: environment variable DATABASE_URL is not set (referenced as os.environ/DATABASE_URL); keys and spend go to the default SQLite file beside the config",
            "router_settings.enable_tag_filtering: the string \"true\" is read as true",
            "litellm_settings.drop_params is not used by Switchyard and is ignored",
            "model_list[0].litellm_params.rpm: the string \"600\" is read as the number 600",
            "model_list[2].litellm_params.tags: the string \"premium\" is read as the list [\"premium\"]",
            "litellm_settings.success_callback: \"langfuse\" is not used by Switchyard and is ignored (its callbacks are prometheus, otel and the hooks of webhooks:)",
            "litellm_settings.failure_callback: \"langfuse\" is not used by Switchyard and is ignored (its callbacks are prometheus, otel and the hooks of webhooks:)",
        ]
    );
    let [triage, primary, secondary, gemini] = &c.deployments[..] else {
        panic!("four deployments");
    };
    assert_eq!(triage.rpm, Some(600));
    assert_eq!(triage.api_key.as_deref(), Some("sk-or-test"));
    assert_eq!(
        triage.params["extra_headers"]["X-Title"],
        serde_json::json!("Acme Help")
    );
    assert_eq!(primary.defaults["max_tokens"], 1024);
    assert_eq!(
        (secondary.rpm, secondary.tags.as_slice()),
        (Some(200), &["premium".to_string()][..])
    );
    assert_eq!(gemini.stream_timeout, None);
    assert_eq!(gemini.max_input_tokens, Some(1_048_576));
    assert_eq!(c.router_defaults["enable_tag_filtering"], true);
    assert_eq!(c.routing_strategy, "usage-based-routing-v2");
    // router_settings wins over litellm_settings.
    assert_eq!(c.reliability.num_retries, 2);
    assert_eq!(c.reliability.default_fallbacks, ["triage"]);
    assert_eq!(c.reliability.fallbacks["triage"], ["support-answer"]);
    assert_eq!(
        c.reliability.context_window_fallbacks["support-answer"],
        ["long-context"]
    );
    assert_eq!(
        c.redis.map(|r| r.url).as_deref(),
        Some("redis://:redis-test@redis.acme.internal:6380")
    );
    // A Redis cache on the Redis of router_settings, with the gateway's key
    // prefix.
    assert_eq!(
        c.cache,
        Some(switchyard_cache::Settings {
            backend: switchyard_cache::Backend::Redis {
                url: "redis://:redis-test@redis.acme.internal:6380".into(),
                prefix: "switchyard".into(),
            },
            ttl: Some(Duration::from_secs(600)),
            namespace: None,
            mode: switchyard_cache::Mode::DefaultOn,
            call_types: switchyard_cache::CallTypes::default(),
            max_entry_bytes: switchyard_cache::settings::DEFAULT_MAX_ENTRY_BYTES,
        })
    );
    assert_eq!(c.master_key.as_deref(), Some("sk-master-test"));
    assert_eq!(c.default_timeout, Duration::from_secs(45));
    assert_eq!(c.max_body_bytes, 8 << 20);
    assert_eq!(c.health_checks, Some(Duration::from_secs(300)));
}

#[test]
fn a_platform_team_file_loads_and_names_every_section_it_ignores() {
    let c = load(PLATFORM_TEAM, PLATFORM_TEAM_ENV);
    assert_eq!(
        deployments(&c),
        [
            (
                "azure-eastus-gpt-4o",
                "gpt-4o",
                "azure/gpt-4o-prod-eastus".into()
            ),
            (
                "azure-sweden-gpt-4o",
                "gpt-4o",
                "azure/gpt-4o-prod-swedencentral".into()
            ),
            ("openai-gpt-4o", "gpt-4o", "openai/gpt-4o".into()),
            (
                "openai-gpt-4o-mini",
                "gpt-4o-mini",
                "openai/gpt-4o-mini".into()
            ),
            ("openai-o3-mini", "o3-mini", "openai/o3-mini".into()),
            (
                "azure-embed-large",
                "text-embedding-3-large",
                "azure/text-embedding-3-large".into()
            ),
        ]
    );
    assert_eq!(c.groups["gpt-4o"].deployments.len(), 3);
    let ignored = |keys: &[&str]| -> Vec<String> {
        keys.iter()
            .map(|k| format!("{k} is not used by Switchyard and is ignored"))
            .collect()
    };
    let mut want = vec![
        "general_settings.database_url: environment variable DATABASE_URL is not set (referenced as os.environ/DATABASE_URL); keys and spend go to the default SQLite file beside the config".to_string(),
    ];
    want.extend(ignored(&[
        "credential_list",
        "general_settings.alert_to_webhook_url",
        "general_settings.alert_types",
        "general_settings.alerting",
        "general_settings.alerting_threshold",
        "general_settings.allowed_routes",
        "general_settings.database_connection_pool_limit",
        "general_settings.proxy_budget_rescheduler_max_time",
        "general_settings.proxy_budget_rescheduler_min_time",
        "general_settings.store_model_in_db",
        "general_settings.ui_access_mode",
        "litellm_settings.default_team_settings",
        "litellm_settings.drop_params",
        "litellm_settings.internal_user_budget_duration",
        "litellm_settings.key_generation_settings",
        "litellm_settings.max_internal_user_budget",
    ]));
    assert_eq!(c.warnings, want);
    // JSON logs and Prometheus's LiteLLM names, as the file asks.
    assert!(c.observability.json_logs);
    assert_eq!(c.observability.callbacks, ["prometheus"]);
    // Budgets it reads now: the proxy's and the providers'.
    assert_eq!(
        c.money.global_budget.as_ref().map(|b| b.max_usd),
        Some(20000.0)
    );
    assert_eq!(c.money.provider_budgets["azure"].max_usd, 5000.0);
    let [east, sweden, openai, _, o3, embed] = &c.deployments[..] else {
        panic!("six deployments");
    };
    // Unquoted, the date is still the string Azure wants.
    assert_eq!(east.api_version.as_deref(), Some("2024-10-21"));
    assert_eq!(sweden.api_version.as_deref(), Some("2024-10-21"));
    assert_eq!(
        (east.weight, east.rpm, east.tpm),
        (Some(3.0), Some(1000), Some(450_000))
    );
    assert_eq!(openai.order, Some(2));
    assert_eq!(openai.params["organization"], "org-platform");
    assert_eq!(openai.prices.cache_read_per_token, Some(0.00000125));
    assert_eq!(o3.prices.reasoning_per_token, Some(0.0000044));
    assert_eq!(o3.defaults["reasoning_effort"], "medium");
    assert_eq!(embed.model_info["mode"], "embedding");
    assert_eq!(c.group("gpt-4").map(|g| g.name.as_str()), Some("gpt-4o"));
    assert_eq!(c.routing_strategy, "latency-based-routing");
    assert_eq!(c.latency_ttl, Duration::from_secs(300));
    assert_eq!(c.router_defaults["lowest_latency_buffer"], 0.2);
    let r = &c.reliability;
    assert_eq!(r.retries_for(FailureClass::RateLimit, None), 5);
    assert_eq!(r.retries_for(FailureClass::Server, None), 3);
    assert_eq!(r.allowed_fails_for(FailureClass::RateLimit), 100);
    assert_eq!(r.cooldown_time, Duration::from_secs(60));
    assert_eq!(r.content_policy_fallbacks["gpt-4o"], ["o3-mini"]);
    assert_eq!(
        c.redis,
        Some(RedisSettings {
            url: "redis://redis.platform.internal:6379/2".into(),
            prefix: "platform-gw".into()
        })
    );
    assert_eq!(c.max_body_bytes, 16 << 20);
    assert_eq!(c.health_checks, Some(Duration::from_secs(600)));
    assert_eq!(c.cache, None);
}

#[test]
fn a_hobbyist_file_loads_with_references_strings_and_odd_levels() {
    let c = load(HOBBYIST, HOBBYIST_ENV);
    assert_eq!(
        deployments(&c),
        [
            ("llama3/0", "llama3", "ollama_chat/llama3.1:8b".into()),
            (
                "qwen-coder/1",
                "qwen-coder",
                "ollama/qwen2.5-coder:7b".into()
            ),
            ("fast/2", "fast", "groq/llama-3.1-8b-instant".into()),
            ("fast/3", "fast", "groq/llama-3.3-70b-versatile".into()),
        ]
    );
    assert_eq!(
        c.warnings,
        [
            "general_settings.num_retries belongs at router_settings.num_retries, which is also set; general_settings.num_retries is ignored",
            "litellm_settings.master_key belongs at general_settings.master_key; used there",
            "model_list[1].model belongs at model_list[1].litellm_params.model; used there",
            "model_list[1].api_base belongs at model_list[1].litellm_params.api_base; used there",
            "model_list[1].temperature belongs at model_list[1].litellm_params.temperature; used there",
            "model_list[3].model_info.tpm belongs at model_list[3].litellm_params.tpm; used there",
            "general_settings.port is not used by Switchyard and is ignored",
            "router_settings.num_retries: the string \"2\" is read as the number 2",
            "router_settings.default_fallbacks: the string \"llama3\" is read as the list [\"llama3\"]",
            "litellm_settings.request_timeout: the string \"600\" is read as the number 600",
            "litellm_settings.drop_params is not used by Switchyard and is ignored",
            "litellm_settings.set_verbose is not used by Switchyard and is ignored",
            "model_list[0].litellm_params.timeout: the string \"120\" is read as the number 120",
            "model_list[0].litellm_params.rpm: the string \"30\" is read as the number 30",
            "model_list[0].keep_alive is not used by Switchyard and is ignored",
            "model_list[2].litellm_params.tpm: the string \"6000\" is read as the number 6000",
            "model_list[3].litellm_params.api_base: the list [\"https://api.groq.com/openai/v1\"] is read as the string \"https://api.groq.com/openai/v1\"",
        ]
    );
    let [llama, qwen, fast_small, fast_big] = &c.deployments[..] else {
        panic!("four deployments");
    };
    assert_eq!(llama.api_base.as_deref(), Some("http://localhost:11434"));
    assert_eq!(
        (llama.rpm, llama.timeout),
        (Some(30), Some(Duration::from_secs(120)))
    );
    assert_eq!(qwen.api_base.as_deref(), Some("http://localhost:11434"));
    assert_eq!(qwen.defaults["temperature"], 0.2);
    assert_eq!(qwen.model_info["mode"], "chat");
    assert_eq!(fast_small.api_key.as_deref(), Some("gsk-test"));
    assert_eq!(fast_big.api_key.as_deref(), Some("gsk-test"));
    assert_eq!((fast_small.rpm, fast_small.tpm), (Some(30), Some(6000)));
    assert_eq!(fast_big.tpm, Some(12000));
    assert_eq!(fast_big.prices.input_per_token, Some(0.00000059));
    assert_eq!(c.master_key.as_deref(), Some("sk-local-dev"));
    assert_eq!(c.reliability.num_retries, 2);
    assert_eq!(c.reliability.default_fallbacks, ["llama3"]);
    assert_eq!(c.reliability.fallbacks["fast"], ["llama3"]);
    assert_eq!(c.default_timeout, Duration::from_secs(60));
    assert_eq!(c.cache, None);
    // `OLLAMA_HOST` set in the environment moves the box.
    let mut env = HOBBYIST_ENV.to_vec();
    env.push(("OLLAMA_HOST", "nas.local"));
    let c = load(HOBBYIST, &env);
    assert_eq!(
        c.deployments[0].api_base.as_deref(),
        Some("http://nas.local:11434")
    );
}
