use std::path::Path;
use std::time::Duration;

use switchyard_store::SpendRecord;

use super::scrape::{DeploymentState, Scraped, Team};
use super::*;
use crate::config::Config;

fn config(extra: &str) -> Config {
    let yaml = format!(
        "model_list:\n  - model_name: gpt\n    litellm_params: {{model: openai/gpt-4o, api_base: 'http://127.0.0.1:1'}}\n    model_info: {{id: gpt-a}}\n  - model_name: backup\n    litellm_params: {{model: anthropic/claude, api_base: 'http://127.0.0.1:1'}}\n    model_info: {{id: backup-a}}\n{extra}"
    );
    Config::parse(&yaml, Path::new(".")).unwrap_or_else(|e| panic!("{e}"))
}

fn record(group: &str, deployment: Option<(&str, &str)>, status: u16) -> SpendRecord {
    SpendRecord {
        request_id: "req-1".into(),
        model_group: Some(group.into()),
        deployment: deployment.map(|d| d.0.into()),
        provider: deployment.map(|d| d.1.into()),
        status,
        input_tokens: 11,
        output_tokens: 5,
        cost: Some(0.25),
        latency_ms: 120.0,
        overhead_ms: 0.5,
        key_hash: Some("0123456789abcdef".into()),
        key_alias: Some("support-bot".into()),
        team_id: Some("team-1".into()),
        ..SpendRecord::default()
    }
}

fn finished<'a>(r: &'a SpendRecord, tier: Option<&'a str>) -> Finished<'a> {
    Finished {
        record: r,
        streamed: false,
        ttft: None,
        upstream: Duration::from_millis(100),
        cache: Some("miss"),
        route_reason: None,
        tier,
        error: None,
        was_active: true,
    }
}

fn lines(text: &str, name: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_request_moves_the_five_llm_families_by_its_labels() {
    let m = Metrics::new(&config(""));
    m.started(&Started {
        request_id: "req-1",
        model_group: "gpt",
        key_alias: None,
        team_id: None,
        user_id: None,
        end_user: None,
    });
    let text = m.render(Scraped::default()).unwrap();
    assert!(
        text.contains("llm_active_requests{model_group=\"gpt\"} 1\n"),
        "{text}"
    );
    let r = record("gpt", Some(("gpt-a", "openai")), 200);
    m.finished(&finished(&r, Some("2")));
    let text = m.render(Scraped::default()).unwrap();
    let labels = "model_group=\"gpt\",deployment=\"gpt-a\",provider=\"openai\",status_class=\"2xx\",tier=\"2\"";
    assert_eq!(
        lines(&text, "llm_requests_total"),
        vec![format!("llm_requests_total{{{labels}}} 1")]
    );
    assert_eq!(
        lines(&text, "llm_tokens_total"),
        vec![
            format!("llm_tokens_total{{{labels},type=\"input\"}} 11"),
            format!("llm_tokens_total{{{labels},type=\"output\"}} 5"),
        ]
    );
    assert_eq!(
        lines(&text, "llm_cost_total"),
        vec![format!("llm_cost_total{{{labels}}} 0.25")]
    );
    assert!(
        text.contains(&format!("llm_latency_seconds_count{{{labels}}} 1\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "llm_latency_seconds_bucket{{{labels},le=\"0.25\"}} 1\n"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "llm_latency_seconds_bucket{{{labels},le=\"0.1\"}} 0\n"
        )),
        "{text}"
    );
    assert!(
        text.contains("llm_active_requests{model_group=\"gpt\"} 0\n"),
        "{text}"
    );
    assert!(
        text.contains("switchyard_cache_misses_total{model_group=\"gpt\"} 1\n"),
        "{text}"
    );
    // No key alias label unless turned on; the team is there.
    assert!(
        text.contains("switchyard_spend_usd_total{model_group=\"gpt\",model=\"openai/gpt-4o\",key_alias=\"\",team=\"team-1\",team_alias=\"\",user=\"\",end_user=\"\"} 0.25\n"),
        "{text}"
    );
    assert!(!text.contains("support-bot"), "{text}");
    assert!(!text.contains("litellm_"), "{text}");
}

#[test]
fn attempts_fallbacks_cooldowns_refusals_and_plugins_are_counted_once_each() {
    let m = Metrics::new(&config(""));
    m.attempted(&Attempted {
        model_group: "gpt",
        deployment: "gpt-a",
        provider: "openai",
        latency: Duration::from_millis(30),
        failure: Some("rate_limit"),
        retry: false,
    });
    m.attempted(&Attempted {
        model_group: "backup",
        deployment: "backup-a",
        provider: "anthropic",
        latency: Duration::from_millis(30),
        failure: None,
        retry: true,
    });
    m.cooled(&Cooled {
        model_group: "gpt",
        deployment: "gpt-a",
        provider: "openai",
        seconds: 5.0,
        class: "rate_limit",
        reason: "429",
    });
    m.fallback(&Fallback {
        request_id: "req-1",
        from: "gpt",
        to: "backup",
        reason: "rate_limit",
    });
    m.refused(&Refused {
        kind: Refusal::Budget,
        request_id: "req-2",
        model_group: "gpt",
        scope: "team",
        name: "team-1",
        limit_type: "budget",
        limit: 1.0,
        current: 1.0,
    });
    m.plugin_call(&PluginCall {
        plugin: "misbehave",
        kind: "router",
        duration: Duration::from_micros(20),
        failure: Some("trap"),
    });
    m.plugin_failed(&PluginFailure {
        plugin: "misbehave",
        kind: "trap",
        message: "boom",
    });
    m.plugin_reloaded("misbehave", true);
    let scraped = Scraped {
        states: [
            ("gpt-a".to_string(), DeploymentState::Cooling),
            ("backup-a".to_string(), DeploymentState::Healthy),
        ]
        .into(),
        ..Scraped::default()
    };
    let text = m.render(scraped).unwrap();
    for line in [
        "switchyard_attempts_total{model_group=\"gpt\",deployment=\"gpt-a\",provider=\"openai\",outcome=\"rate_limit\"} 1\n",
        "switchyard_attempts_total{model_group=\"backup\",deployment=\"backup-a\",provider=\"anthropic\",outcome=\"success\"} 1\n",
        "switchyard_retries_total{model_group=\"backup\",deployment=\"backup-a\",provider=\"anthropic\"} 1\n",
        "switchyard_cooldowns_total{model_group=\"gpt\",deployment=\"gpt-a\",provider=\"openai\",class=\"rate_limit\"} 1\n",
        "switchyard_fallbacks_total{from=\"gpt\",to=\"backup\",reason=\"rate_limit\"} 1\n",
        "switchyard_budget_refusals_total{model_group=\"gpt\",scope=\"team\"} 1\n",
        "switchyard_deployment_state{model_group=\"gpt\",deployment=\"gpt-a\",provider=\"openai\"} 1\n",
        "switchyard_deployment_state{model_group=\"backup\",deployment=\"backup-a\",provider=\"anthropic\"} 0\n",
        "switchyard_plugin_calls_total{plugin=\"misbehave\",kind=\"router\"} 1\n",
        "switchyard_plugin_errors_total{plugin=\"misbehave\",kind=\"router\",error=\"trap\"} 1\n",
        "switchyard_plugin_reloads_total{plugin=\"misbehave\",result=\"ok\"} 1\n",
        "switchyard_plugin_call_duration_seconds_count{plugin=\"misbehave\",kind=\"router\"} 1\n",
    ] {
        assert!(text.contains(line), "{line} not in:\n{text}");
    }
    assert!(
        text.contains("# TYPE switchyard_rate_limit_refusals_total counter\n"),
        "{text}"
    );
}

#[test]
fn the_prometheus_callback_adds_litellm_names_and_caller_labels_need_their_switch() {
    let m = Metrics::new(&config(
        "litellm_settings:\n  callbacks: [prometheus]\n  enable_end_user_cost_tracking_prometheus_only: true\n",
    ));
    let r = record("gpt", Some(("gpt-a", "openai")), 200);
    m.finished(&finished(&r, None));
    let mut short = record("gpt", Some(("gpt-a", "openai")), 429);
    // A key without an alias: the record holds its hash's first 8
    // characters, which is no alias.
    short.key_alias = Some("01234567".into());
    short.cost = None;
    short.error_kind = Some("rate_limit".into());
    m.finished(&finished(&short, None));
    let scraped = Scraped {
        states: [
            ("gpt-a".to_string(), DeploymentState::Healthy),
            ("backup-a".to_string(), DeploymentState::Unhealthy),
        ]
        .into(),
        teams: vec![Team {
            id: "team-1".into(),
            alias: Some("Support".into()),
            budget: Some(scrape::BudgetNow {
                max_usd: 10.0,
                spent_usd: 2.5,
                reset_ms: None,
            }),
        }],
        ..Scraped::default()
    };
    let text = m.render(scraped).unwrap();
    let caller = "end_user=\"\",api_key_alias=\"support-bot\",requested_model=\"gpt\",model=\"openai/gpt-4o\",team=\"team-1\",team_alias=\"Support\",user=\"\"";
    for line in [
        format!("litellm_requests_metric_total{{{caller}}} 1\n"),
        format!("litellm_spend_metric_total{{{caller}}} 0.25\n"),
        format!("litellm_total_tokens_metric_total{{{caller}}} 16\n"),
        "litellm_proxy_total_requests_metric_total{end_user=\"\",api_key_alias=\"\",requested_model=\"gpt\",team=\"team-1\",team_alias=\"Support\",user=\"\",status_code=\"429\"} 1\n".into(),
        "litellm_proxy_failed_requests_metric_total{end_user=\"\",api_key_alias=\"\",requested_model=\"gpt\",team=\"team-1\",team_alias=\"Support\",user=\"\",exception_status=\"429\",exception_class=\"rate_limit\"} 1\n".into(),
        "litellm_deployment_state{litellm_model_name=\"anthropic/claude\",model_id=\"backup-a\",api_provider=\"anthropic\",requested_model=\"backup\"} 2\n".into(),
        "litellm_remaining_team_budget_metric{team=\"team-1\",team_alias=\"Support\"} 7.5\n".into(),
        "switchyard_team_budget_remaining_usd{team=\"team-1\",team_alias=\"Support\"} 7.5\n".into(),
    ] {
        assert!(text.contains(&line), "{line} not in:\n{text}");
    }
    assert!(!text.contains("01234567"), "{text}");
}

#[test]
fn unknown_groups_are_other_and_status_classes_are_three() {
    assert_eq!(status_class(200), "2xx");
    assert_eq!(status_class(0), "4xx");
    assert_eq!(status_class(429), "4xx");
    assert_eq!(status_class(503), "5xx");
    let mut buf = [0u8; 5];
    assert_eq!(status_text(429, &mut buf), "429");
    assert_eq!(status_text(0, &mut buf), "0");
    let m = Metrics::new(&config(""));
    let r = record("made-up", None, 404);
    m.finished(&finished(&r, None));
    let text = m.render(Scraped::default()).unwrap();
    assert!(
        text.contains("llm_requests_total{model_group=\"other\",deployment=\"\",provider=\"\",status_class=\"4xx\"} 1\n"),
        "{text}"
    );
}
