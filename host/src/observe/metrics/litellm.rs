//! LiteLLM's metric names for the same facts, served beside Switchyard's
//! when `litellm_settings.callbacks` names `prometheus`, so dashboards built
//! for LiteLLM keep working. Labels follow LiteLLM's, less the ones that
//! would name a secret or grow without bound: no `hashed_api_key`, no
//! `api_base`; `api_key_alias` and `end_user` are empty unless caller
//! labels are on.

use std::collections::HashMap;
use std::fmt;

use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;

use super::Metrics;
use super::family::Label;
use super::render::{Labels, counter, family, gauge, level, money, team_aliases, timing};
use super::scrape::Scraped;
use super::series::{CallerSeries, DeploymentSeries, attempt_outcomes};

pub fn encode(enc: &mut DescriptorEncoder, metrics: &Metrics, scraped: &Scraped) -> fmt::Result {
    callers(enc, metrics, scraped)?;
    proxy(enc, metrics, scraped)?;
    deployments(enc, metrics, scraped)?;
    budgets(enc, scraped)
}

fn caller_labels<'a>(v: &'a [Label; 6], aliases: &HashMap<&str, &'a str>) -> Labels<'a> {
    vec![
        ("end_user", &*v[5]),
        ("api_key_alias", &*v[2]),
        ("requested_model", &*v[0]),
        ("model", &*v[1]),
        ("team", &*v[3]),
        ("team_alias", aliases.get(&*v[3]).copied().unwrap_or("")),
        ("user", &*v[4]),
    ]
}

fn proxy_labels<'a>(v: &'a [Label; 7], aliases: &HashMap<&str, &'a str>) -> Labels<'a> {
    vec![
        ("end_user", &*v[4]),
        ("api_key_alias", &*v[1]),
        ("requested_model", &*v[0]),
        ("team", &*v[2]),
        ("team_alias", aliases.get(&*v[2]).copied().unwrap_or("")),
        ("user", &*v[3]),
    ]
}

fn deployment_labels(d: &DeploymentSeries) -> Labels<'_> {
    vec![
        ("litellm_model_name", &*d.litellm_model),
        ("model_id", &*d.id),
        ("api_provider", &*d.provider),
        ("requested_model", &*d.group),
    ]
}

/// A family's name, help, and how to read its value from a series.
type Named<F> = (&'static str, &'static str, F);
type CountOf = fn(&CallerSeries) -> u64;
type TimingOf = fn(&CallerSeries) -> &super::cells::Timing;

/// Spend, tokens and latencies by caller.
fn callers(enc: &mut DescriptorEncoder, metrics: &Metrics, scraped: &Scraped) -> fmt::Result {
    let aliases = team_aliases(scraped);
    let entries = metrics.inner().callers.entries();
    let labels = |v| caller_labels(v, &aliases);
    let counts: [Named<CountOf>; 4] = [
        (
            "litellm_requests_metric",
            "Total number of LLM calls to litellm",
            |s| s.requests.get(),
        ),
        (
            "litellm_total_tokens_metric",
            "Total number of input + output tokens from LLM requests",
            |s| s.input_tokens.get() + s.output_tokens.get(),
        ),
        (
            "litellm_input_tokens_metric",
            "Total number of input tokens from LLM requests",
            |s| s.input_tokens.get(),
        ),
        (
            "litellm_output_tokens_metric",
            "Total number of output tokens from LLM requests",
            |s| s.output_tokens.get(),
        ),
    ];
    for (name, help, value) in counts {
        family(
            enc,
            name,
            help,
            MetricType::Counter,
            entries
                .iter()
                .map(|e| (labels(&e.values), value(&e.series))),
            counter,
        )?;
    }
    family(
        enc,
        "litellm_spend_metric",
        "Total spend on LLM requests",
        MetricType::Counter,
        entries
            .iter()
            .map(|e| (labels(&e.values), e.series.spend.get())),
        money,
    )?;
    let timings: [Named<TimingOf>; 4] = [
        (
            "litellm_request_total_latency_metric",
            "Total latency (seconds) for a request to LiteLLM",
            |s| &s.latency,
        ),
        (
            "litellm_llm_api_latency_metric",
            "Total latency (seconds) for a models LLM API call",
            |s| &s.upstream,
        ),
        (
            "litellm_overhead_latency_metric",
            "Latency overhead (seconds) added by LiteLLM processing",
            |s| &s.overhead,
        ),
        (
            "litellm_llm_api_time_to_first_token_metric",
            "Time to first token for a models LLM API call",
            |s| &s.ttft,
        ),
    ];
    for (name, help, pick) in timings {
        family(
            enc,
            name,
            help,
            MetricType::Histogram,
            entries
                .iter()
                .filter(|e| pick(&e.series).count() > 0)
                .map(|e| (labels(&e.values), pick(&e.series))),
            timing,
        )?;
    }
    Ok(())
}

/// Client-side requests and failures, and fallbacks.
fn proxy(enc: &mut DescriptorEncoder, metrics: &Metrics, scraped: &Scraped) -> fmt::Result {
    let m = metrics.inner();
    let aliases = team_aliases(scraped);
    let entries = m.proxy.entries();
    let labels = |v| proxy_labels(v, &aliases);
    family(
        enc,
        "litellm_proxy_total_requests_metric",
        "Total number of requests made to the proxy server",
        MetricType::Counter,
        entries.iter().map(|e| {
            let mut l = labels(&e.values);
            l.push(("status_code", &*e.values[5]));
            (l, e.series.get())
        }),
        counter,
    )?;
    family(
        enc,
        "litellm_proxy_failed_requests_metric",
        "Total number of failed responses from proxy",
        MetricType::Counter,
        entries
            .iter()
            .filter(|e| !e.values[5].starts_with('2'))
            .map(|e| {
                let mut l = labels(&e.values);
                l.push(("exception_status", &*e.values[5]));
                l.push(("exception_class", &*e.values[6]));
                (l, e.series.get())
            }),
        counter,
    )?;
    let fallbacks = m.litellm_fallbacks.entries();
    for (name, help, outcome) in [
        (
            "litellm_deployment_successful_fallbacks",
            "Number of successful fallback requests from primary model -> fallback model",
            "ok",
        ),
        (
            "litellm_deployment_failed_fallbacks",
            "Number of failed fallback requests from primary model -> fallback model",
            "failed",
        ),
    ] {
        family(
            enc,
            name,
            help,
            MetricType::Counter,
            fallbacks
                .iter()
                .filter(|e| &*e.values[2] == outcome)
                .map(|e| {
                    (
                        vec![
                            ("requested_model", &*e.values[0]),
                            ("fallback_model", &*e.values[1]),
                        ],
                        e.series.get(),
                    )
                }),
            counter,
        )?;
    }
    Ok(())
}

/// Per deployment: calls by outcome, cooldowns, state.
fn deployments(enc: &mut DescriptorEncoder, metrics: &Metrics, scraped: &Scraped) -> fmt::Result {
    let list = &metrics.inner().deployment_series;
    let base = deployment_labels;
    let failures =
        |d: &DeploymentSeries| -> u64 { d.attempts.iter().skip(1).map(|c| c.get()).sum() };
    family(
        enc,
        "litellm_deployment_success_responses",
        "Total number of successful LLM API calls via litellm",
        MetricType::Counter,
        list.iter().map(|d| (base(d), d.attempts[0].get())),
        counter,
    )?;
    family(
        enc,
        "litellm_deployment_failure_responses",
        "Total number of failed LLM API calls for a specific LLM deployment",
        MetricType::Counter,
        list.iter().flat_map(|d| {
            attempt_outcomes()
                .zip(d.attempts.iter())
                .skip(1)
                .filter(|(_, c)| c.get() > 0)
                .map(move |(class, c)| {
                    let mut l = base(d);
                    l.push(("exception_class", class));
                    (l, c.get())
                })
        }),
        counter,
    )?;
    family(
        enc,
        "litellm_deployment_total_requests",
        "Total number of LLM API calls via litellm - success + failure",
        MetricType::Counter,
        list.iter()
            .map(|d| (base(d), d.attempts[0].get() + failures(d))),
        counter,
    )?;
    family(
        enc,
        "litellm_deployment_cooled_down",
        "Number of times a deployment has been cooled down by LiteLLM load balancing logic",
        MetricType::Counter,
        list.iter().flat_map(|d| {
            super::render::cooldowns_by_class(d, deployment_labels, "exception_status")
        }),
        counter,
    )?;
    family(
        enc,
        "litellm_deployment_state",
        "LLM Deployment Analytics - The state of the deployment: 0 = healthy, 1 = partial outage, 2 = complete outage",
        MetricType::Gauge,
        list.iter()
            .filter_map(|d| scraped.states.get(&*d.id).map(|s| (base(d), *s as i64))),
        level,
    )
}

/// Team and key budgets.
fn budgets(enc: &mut DescriptorEncoder, scraped: &Scraped) -> fmt::Result {
    let hours = |reset: Option<u64>| -> f64 {
        reset.map_or(f64::INFINITY, |r| {
            r.saturating_sub(scraped.now_ms) as f64 / 3_600_000.0
        })
    };
    let teams: Vec<_> = scraped
        .teams
        .iter()
        .filter_map(|t| {
            let b = t.budget.as_ref()?;
            let l: Labels<'_> = vec![
                ("team", t.id.as_str()),
                ("team_alias", t.alias.as_deref().unwrap_or("")),
            ];
            Some((l, b))
        })
        .collect();
    let keys: Vec<_> = scraped
        .keys
        .iter()
        .map(|k| (vec![("api_key_alias", k.alias.as_str())], &k.budget))
        .collect();
    for (rows, remaining, max, reset) in [
        (
            &teams,
            "litellm_remaining_team_budget_metric",
            "litellm_team_max_budget_metric",
            "litellm_team_budget_remaining_hours_metric",
        ),
        (
            &keys,
            "litellm_remaining_api_key_budget_metric",
            "litellm_api_key_max_budget_metric",
            "litellm_api_key_budget_remaining_hours_metric",
        ),
    ] {
        family(
            enc,
            remaining,
            "Remaining budget",
            MetricType::Gauge,
            rows.iter()
                .map(|(l, b)| (l.clone(), b.max_usd - b.spent_usd)),
            gauge,
        )?;
        family(
            enc,
            max,
            "Maximum budget",
            MetricType::Gauge,
            rows.iter().map(|(l, b)| (l.clone(), b.max_usd)),
            gauge,
        )?;
        family(
            enc,
            reset,
            "Hours before the budget is reset",
            MetricType::Gauge,
            rows.iter().map(|(l, b)| (l.clone(), hours(b.reset_ms))),
            gauge,
        )?;
    }
    Ok(())
}
