//! The text of one scrape: every family through prometheus-client's
//! Prometheus text encoder (a collector over the live series and what was
//! read at scrape). Families are written even with no series yet, so a
//! dashboard's names exist from the first scrape.

use std::collections::HashMap;
use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder, prometheus_text};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::cells::Timing;
use super::family::Label;
use super::scrape::Scraped;
use super::series::{PLUGIN_ERRORS, attempt_outcomes};
use super::{Metrics, litellm};
use crate::config::FailureClass;

/// Label pairs of one series.
pub type Labels<'a> = Vec<(&'a str, &'a str)>;

pub fn render(metrics: &Metrics, scraped: Scraped) -> Result<String, fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Scrape {
        metrics: metrics.clone(),
        scraped,
    }));
    let mut out = String::new();
    prometheus_text::encode(&mut out, &registry)?;
    Ok(out)
}

struct Scrape {
    metrics: Metrics,
    scraped: Scraped,
}

impl fmt::Debug for Scrape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scrape").finish_non_exhaustive()
    }
}

impl Collector for Scrape {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        core(&mut enc, &self.metrics)?;
        routing(&mut enc, &self.metrics, &self.scraped)?;
        callers(&mut enc, &self.metrics, &self.scraped)?;
        stores(&mut enc, &self.scraped)?;
        plugins(&mut enc, &self.metrics, &self.scraped)?;
        super::shadow::encode(&mut enc)?;
        config(&mut enc, &self.metrics)?;
        crate::gateway::guard::audit::encode(&mut enc)?;
        if self.metrics.litellm() {
            litellm::encode(&mut enc, &self.metrics, &self.scraped)?;
        }
        Ok(())
    }
}

/// Writes one family: its descriptor, then each series.
pub fn family<'l, T>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    kind: MetricType,
    rows: impl IntoIterator<Item = (Labels<'l>, T)>,
    mut write: impl FnMut(&mut MetricEncoder<'_>, T) -> fmt::Result,
) -> fmt::Result {
    let mut m = enc.encode_descriptor(name, help, None, kind)?;
    for (labels, value) in rows {
        let mut s = m.encode_family(&labels)?;
        write(&mut s, value)?;
    }
    Ok(())
}

pub fn counter(e: &mut MetricEncoder<'_>, v: u64) -> fmt::Result {
    e.encode_counter::<prometheus_client::encoding::NoLabelSet, _, u64>(&v, None)
}

pub fn money(e: &mut MetricEncoder<'_>, v: f64) -> fmt::Result {
    e.encode_counter::<prometheus_client::encoding::NoLabelSet, _, u64>(&v, None)
}

pub fn gauge(e: &mut MetricEncoder<'_>, v: f64) -> fmt::Result {
    e.encode_gauge(&v)
}

pub fn level(e: &mut MetricEncoder<'_>, v: i64) -> fmt::Result {
    e.encode_gauge(&v)
}

pub fn timing(e: &mut MetricEncoder<'_>, t: &Timing) -> fmt::Result {
    t.encode(e)
}

/// The five `llm_*` families, and TTFT and overhead by the same labels.
fn core(enc: &mut DescriptorEncoder, metrics: &Metrics) -> fmt::Result {
    let m = metrics.inner();
    let entries = m.requests.entries();
    let labels = request_labels;
    family(
        enc,
        "llm_requests",
        "Requests answered, by model group, deployment, provider, status class and tier",
        MetricType::Counter,
        entries
            .iter()
            .map(|e| (labels(&e.values), e.series.requests.get())),
        counter,
    )?;
    family(
        enc,
        "llm_tokens",
        "Tokens used (type: input or output)",
        MetricType::Counter,
        entries.iter().flat_map(|e| {
            let mut input = labels(&e.values);
            input.push(("type", "input"));
            let mut output = labels(&e.values);
            output.push(("type", "output"));
            [
                (input, e.series.input_tokens.get()),
                (output, e.series.output_tokens.get()),
            ]
        }),
        counter,
    )?;
    family(
        enc,
        "llm_latency_seconds",
        "Time from a request's arrival to its answer's end",
        MetricType::Histogram,
        entries
            .iter()
            .map(|e| (labels(&e.values), &e.series.latency)),
        timing,
    )?;
    family(
        enc,
        "llm_cost",
        "Cost in US dollars, as the response-cost header said",
        MetricType::Counter,
        entries
            .iter()
            .map(|e| (labels(&e.values), e.series.cost.get())),
        money,
    )?;
    family(
        enc,
        "llm_active_requests",
        "Requests admitted and not yet ended (streams until their end)",
        MetricType::Gauge,
        m.group_series
            .iter()
            .map(|(g, s)| (vec![("model_group", g.as_str())], s.active.get())),
        level,
    )?;
    family(
        enc,
        "switchyard_time_to_first_token_seconds",
        "A stream's time to its first token",
        MetricType::Histogram,
        entries
            .iter()
            .filter(|e| e.series.ttft.count() > 0)
            .map(|e| (labels(&e.values), &e.series.ttft)),
        timing,
    )?;
    family(
        enc,
        "switchyard_gateway_overhead_seconds",
        "Time the gateway itself added (a request's time less the providers')",
        MetricType::Histogram,
        entries
            .iter()
            .map(|e| (labels(&e.values), &e.series.overhead)),
        timing,
    )
}

fn request_labels(v: &[Label; 5]) -> Labels<'_> {
    let mut l = vec![
        ("model_group", &*v[0]),
        ("deployment", &*v[1]),
        ("provider", &*v[2]),
        ("status_class", &*v[3]),
    ];
    if !v[4].is_empty() {
        l.push(("tier", &*v[4]));
    }
    l
}

fn deployment_labels(d: &super::series::DeploymentSeries) -> Labels<'_> {
    vec![
        ("model_group", &*d.group),
        ("deployment", &*d.id),
        ("provider", &*d.provider),
    ]
}

/// Attempts, retries, fallbacks, cooldowns, deployment state, cache and
/// limit refusals.
fn routing(enc: &mut DescriptorEncoder, metrics: &Metrics, scraped: &Scraped) -> fmt::Result {
    let m = metrics.inner();
    let deployments = &m.deployment_series;
    let base = deployment_labels;
    family(
        enc,
        "switchyard_upstream_latency_seconds",
        "One attempt's time at a provider (a stream: to its first chunk)",
        MetricType::Histogram,
        deployments.iter().map(|d| (base(d), &d.upstream)),
        timing,
    )?;
    family(
        enc,
        "switchyard_attempts",
        "Calls to a deployment, by outcome (success or the failure class)",
        MetricType::Counter,
        deployments.iter().flat_map(|d| {
            attempt_outcomes()
                .zip(d.attempts.iter())
                .filter(|(o, c)| *o == "success" || c.get() > 0)
                .map(move |(o, c)| {
                    let mut l = base(d);
                    l.push(("outcome", o));
                    (l, c.get())
                })
        }),
        counter,
    )?;
    family(
        enc,
        "switchyard_retries",
        "Attempts that followed another attempt of the same request",
        MetricType::Counter,
        deployments.iter().map(|d| (base(d), d.retries.get())),
        counter,
    )?;
    family(
        enc,
        "switchyard_fallbacks",
        "Requests moved from one model group to another, by the failure class that moved them",
        MetricType::Counter,
        m.fallbacks.entries().iter().map(|e| {
            let v = &e.values;
            (
                vec![("from", &*v[0]), ("to", &*v[1]), ("reason", &*v[2])],
                e.series.get(),
            )
        }),
        counter,
    )?;
    family(
        enc,
        "switchyard_cooldowns",
        "Times a deployment started cooling down, by failure class",
        MetricType::Counter,
        deployments
            .iter()
            .flat_map(|d| cooldowns_by_class(d, deployment_labels, "class")),
        counter,
    )?;
    family(
        enc,
        "switchyard_deployment_state",
        "0 healthy, 1 cooling down, 2 unhealthy (health check failed, or no adapter for its provider)",
        MetricType::Gauge,
        deployments
            .iter()
            .filter_map(|d| scraped.states.get(&*d.id).map(|s| (base(d), *s as i64))),
        level,
    )?;
    let groups = &m.group_series;
    for (name, help, pick) in [
        (
            "switchyard_cache_hits",
            "Requests answered from the response cache",
            0,
        ),
        (
            "switchyard_cache_misses",
            "Requests the response cache was asked for and did not have",
            1,
        ),
        (
            "switchyard_cache_bypasses",
            "Requests that skipped the response cache (no-cache, a call type it does not keep)",
            2,
        ),
    ] {
        family(
            enc,
            name,
            help,
            MetricType::Counter,
            groups.iter().map(|(g, s)| {
                let c = match pick {
                    0 => &s.cache_hits,
                    1 => &s.cache_misses,
                    _ => &s.cache_bypasses,
                };
                (vec![("model_group", g.as_str())], c.get())
            }),
            counter,
        )?;
    }
    let refusals = m.refusals.entries();
    family(
        enc,
        "switchyard_rate_limit_refusals",
        "Requests refused by a rate limit (rpm, tpm, max_parallel_requests)",
        MetricType::Counter,
        refusals
            .iter()
            .filter(|e| &*e.values[0] == "rate_limit")
            .map(|e| {
                let v = &e.values;
                (
                    vec![
                        ("model_group", &*v[1]),
                        ("scope", &*v[2]),
                        ("limit_type", &*v[3]),
                    ],
                    e.series.get(),
                )
            }),
        counter,
    )?;
    family(
        enc,
        "switchyard_budget_refusals",
        "Requests refused because a budget was spent",
        MetricType::Counter,
        refusals
            .iter()
            .filter(|e| &*e.values[0] == "budget")
            .map(|e| {
                let v = &e.values;
                (
                    vec![("model_group", &*v[1]), ("scope", &*v[2])],
                    e.series.get(),
                )
            }),
        counter,
    )
}

/// Team aliases by team id.
pub fn team_aliases(scraped: &Scraped) -> HashMap<&str, &str> {
    scraped
        .teams
        .iter()
        .map(|t| (t.id.as_str(), t.alias.as_deref().unwrap_or("")))
        .collect()
}

/// Spend by caller, and remaining budgets.
fn callers(enc: &mut DescriptorEncoder, metrics: &Metrics, scraped: &Scraped) -> fmt::Result {
    let m = metrics.inner();
    let aliases = team_aliases(scraped);
    let entries = m.callers.entries();
    family(
        enc,
        "switchyard_spend_usd",
        "Cost in US dollars by caller: team, user, and (when turned on) key alias and end user",
        MetricType::Counter,
        entries.iter().map(|e| {
            let v = &e.values;
            (
                vec![
                    ("model_group", &*v[0]),
                    ("model", &*v[1]),
                    ("key_alias", &*v[2]),
                    ("team", &*v[3]),
                    ("team_alias", aliases.get(&*v[3]).copied().unwrap_or("")),
                    ("user", &*v[4]),
                    ("end_user", &*v[5]),
                ],
                e.series.spend.get(),
            )
        }),
        money,
    )?;
    family(
        enc,
        "switchyard_team_budget_remaining_usd",
        "A team's budget less what its current window has spent",
        MetricType::Gauge,
        scraped.teams.iter().filter_map(|t| {
            let b = t.budget.as_ref()?;
            Some((
                vec![
                    ("team", t.id.as_str()),
                    ("team_alias", t.alias.as_deref().unwrap_or("")),
                ],
                b.max_usd - b.spent_usd,
            ))
        }),
        gauge,
    )?;
    family(
        enc,
        "switchyard_key_budget_remaining_usd",
        "A key's budget less what its current window has spent (keys with an alias, when caller labels are on)",
        MetricType::Gauge,
        scraped.keys.iter().map(|k| {
            (
                vec![("key_alias", k.alias.as_str())],
                k.budget.max_usd - k.budget.spent_usd,
            )
        }),
        gauge,
    )
}

/// The spend writer's queue, and whether Redis and the database answer.
fn stores(enc: &mut DescriptorEncoder, scraped: &Scraped) -> fmt::Result {
    let w = scraped.writer.as_ref();
    family(
        enc,
        "switchyard_spend_queue_depth",
        "Spend records waiting to be written: in memory, and in the spill file",
        MetricType::Gauge,
        w.into_iter().flat_map(|w| {
            [
                (vec![("queue", "memory")], w.queued as i64),
                (vec![("queue", "spill_file")], w.spilled as i64),
            ]
        }),
        level,
    )?;
    family(
        enc,
        "switchyard_spend_records_dropped",
        "Spend records lost (queue and spill file full) or set aside because the database refuses them",
        MetricType::Counter,
        w.map(|w| (Labels::new(), w.dropped)),
        counter,
    )?;
    family(
        enc,
        "switchyard_spend_records_written",
        "Spend records written to the database",
        MetricType::Counter,
        w.map(|w| (Labels::new(), w.written)),
        counter,
    )?;
    family(
        enc,
        "switchyard_database_up",
        "1 when the spend writer's last write succeeded",
        MetricType::Gauge,
        w.map(|w| (Labels::new(), i64::from(w.db_up))),
        level,
    )?;
    family(
        enc,
        "switchyard_redis_up",
        "1 when Redis answered this part's last call (limits, state, cache)",
        MetricType::Gauge,
        scraped
            .redis
            .iter()
            .map(|(c, up)| (vec![("component", *c)], i64::from(*up))),
        level,
    )
}

/// A plugin's name and kind (from its calls, else from the registry).
fn plugin_labels<'a>(
    e: &'a super::family::Entry<1, super::series::PluginSeries>,
    scraped: &Scraped,
) -> Labels<'a> {
    let name = &*e.values[0];
    let kind = e
        .series
        .kind
        .get()
        .copied()
        .or_else(|| {
            scraped
                .plugins
                .iter()
                .find(|p| p.name == name)
                .map(|p| p.kind)
        })
        .unwrap_or("");
    vec![("plugin", name), ("kind", kind)]
}

/// Per plugin: calls, errors by kind, call time, idle instances, reloads.
fn plugins(enc: &mut DescriptorEncoder, metrics: &Metrics, scraped: &Scraped) -> fmt::Result {
    let entries = metrics.inner().plugins.entries();
    let base = |e| plugin_labels(e, scraped);
    family(
        enc,
        "switchyard_plugin_calls",
        "Calls into a plugin",
        MetricType::Counter,
        entries
            .iter()
            .filter(|e| e.series.calls.get() > 0)
            .map(|e| (base(e), e.series.calls.get())),
        counter,
    )?;
    family(
        enc,
        "switchyard_plugin_errors",
        "Failed plugin calls by kind: trap, timeout, memory, bad_output, error (the plugin's own)",
        MetricType::Counter,
        entries.iter().flat_map(|e| {
            PLUGIN_ERRORS
                .iter()
                .zip(e.series.errors.iter())
                .filter(|(_, c)| c.get() > 0)
                .map(move |(k, c)| {
                    let mut l = base(e);
                    l.push(("error", *k));
                    (l, c.get())
                })
        }),
        counter,
    )?;
    family(
        enc,
        "switchyard_plugin_call_duration_seconds",
        "Time of one plugin call",
        MetricType::Histogram,
        entries
            .iter()
            .filter(|e| e.series.calls.get() > 0)
            .map(|e| (base(e), &e.series.duration)),
        timing,
    )?;
    family(
        enc,
        "switchyard_plugin_instances",
        "Idle instances a plugin keeps ready",
        MetricType::Gauge,
        scraped.plugins.iter().map(|p| {
            (
                vec![("plugin", p.name.as_str()), ("kind", p.kind)],
                p.idle as i64,
            )
        }),
        level,
    )?;
    family(
        enc,
        "switchyard_plugin_reloads",
        "Plugin files loaded while serving (result: ok or failed)",
        MetricType::Counter,
        entries.iter().flat_map(|e| {
            [
                ("ok", &e.series.reloads_ok),
                ("failed", &e.series.reloads_failed),
            ]
            .into_iter()
            .filter(|(_, c)| c.get() > 0)
            .map(move |(result, c)| (vec![("plugin", &*e.values[0]), ("result", result)], c.get()))
        }),
        counter,
    )
}

/// Config file reloads by outcome, and the generation serving.
fn config(enc: &mut DescriptorEncoder, metrics: &Metrics) -> fmt::Result {
    let m = metrics.inner();
    family(
        enc,
        "switchyard_config_reloads",
        "Config file reloads (outcome: ok, or error when the running config stayed)",
        MetricType::Counter,
        [
            ("ok", m.config_reloads_ok.get()),
            ("error", m.config_reloads_error.get()),
        ]
        .into_iter()
        .map(|(outcome, n)| (vec![("outcome", outcome)], n)),
        counter,
    )?;
    family(
        enc,
        "switchyard_config_generation",
        "Generation of the config serving: 1 at start, one more per applied reload",
        MetricType::Gauge,
        std::iter::once((
            Vec::new(),
            m.config_generation
                .load(std::sync::atomic::Ordering::Relaxed) as i64,
        )),
        level,
    )
}

/// A deployment's cooldowns by failure class (classes with none left out),
/// its `base` labels and the class under `label`: one count serves
/// Switchyard's family and LiteLLM's.
pub fn cooldowns_by_class<'a>(
    d: &'a super::series::DeploymentSeries,
    base: fn(&super::series::DeploymentSeries) -> Labels<'_>,
    label: &'static str,
) -> impl Iterator<Item = (Labels<'a>, u64)> + 'a {
    FailureClass::ALL
        .iter()
        .map(|c| c.as_str())
        .chain(std::iter::once("other"))
        .zip(d.cooldowns.iter())
        .filter(|(_, c)| c.get() > 0)
        .map(move |(class, c)| {
            let mut l = base(d);
            l.push((label, class));
            (l, c.get())
        })
}
