//! Prometheus metrics (`GET /metrics`, text format through
//! prometheus-client's encoder).
//!
//! Events move atomics in series resolved without a lock: per deployment
//! and per model group once, from the config ([`series::DeploymentSeries`],
//! [`series::GroupSeries`]); per label set (status class, tier, caller,
//! plugin) on first sight, in a [`family::Family`]. What is a state rather
//! than an event (deployment state, plugin instances, remaining budgets,
//! the spend queue, store health) is read at scrape ([`scrape`]).
//!
//! Names: the five `llm_*` families our users' dashboards query, the
//! `switchyard_*` ones, and, with the `prometheus` callback, LiteLLM's
//! ([`litellm`]). Label values are bounded: config names, failure classes,
//! team and user ids; a key or an end user is named only by its alias and
//! only with `enable_end_user_cost_tracking_prometheus_only: true`; never a
//! raw key, a prompt or a request id.

pub mod cells;
pub mod family;
mod litellm;
mod render;
pub mod scrape;
mod series;
mod shadow;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::identity::{Identity, secret};

use super::events::*;
use cells::Count;
use family::Family;
pub use scrape::Scraped;
use series::{
    CallerSeries, DeploymentSeries, GroupSeries, PLUGIN_ERRORS, PluginSeries, RequestSeries,
};

/// Most series one labelled family keeps before counting new label sets
/// under `other`.
const SERIES_CAP: usize = 10_000;

/// Every metric family. Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

pub(crate) struct Inner {
    /// LiteLLM's names too (`callbacks: [prometheus]`).
    pub(crate) litellm: bool,
    /// Key alias and end user labels are on.
    pub(crate) caller_labels: bool,
    /// Who end users are (a registered end user is labelled; others are
    /// not, so a client cannot grow the series by inventing ids).
    identity: OnceLock<Arc<Identity>>,
    groups: HashMap<String, usize>,
    /// Per config group, then one for anything else.
    pub(crate) group_series: Vec<(String, GroupSeries)>,
    deployments: HashMap<String, usize>,
    /// Per deployment, by `Deployment::index`.
    pub(crate) deployment_series: Vec<DeploymentSeries>,
    /// model_group, deployment, provider, status_class, tier.
    pub(crate) requests: Family<5, RequestSeries>,
    /// from, to, reason.
    pub(crate) fallbacks: Family<3, Count>,
    /// kind (`rate_limit`/`budget`), model_group, scope, limit_type.
    pub(crate) refusals: Family<4, Count>,
    /// plugin.
    pub(crate) plugins: Family<1, PluginSeries>,
    /// model_group, model, key_alias, team, user, end_user.
    pub(crate) callers: Family<6, CallerSeries>,
    /// LiteLLM's proxy requests: model_group, key_alias, team, user,
    /// end_user, status_code, exception_class.
    pub(crate) proxy: Family<7, Count>,
    /// LiteLLM's fallbacks: requested model, fallback model, `ok`/`failed`.
    pub(crate) litellm_fallbacks: Family<3, Count>,
    /// Config file reloads applied and failed, and the generation serving.
    pub(crate) config_reloads_ok: Count,
    pub(crate) config_reloads_error: Count,
    pub(crate) config_generation: std::sync::atomic::AtomicU64,
}

impl Metrics {
    pub fn new(config: &crate::config::Config) -> Metrics {
        let mut groups = HashMap::new();
        let mut group_series = Vec::new();
        for (i, name) in config.groups.keys().enumerate() {
            groups.insert(name.clone(), i);
            group_series.push((name.clone(), GroupSeries::default()));
        }
        group_series.push((family::OVERFLOW.to_string(), GroupSeries::default()));
        let mut deployments = HashMap::new();
        let mut deployment_series = Vec::new();
        for d in &config.deployments {
            deployments.insert(d.id.clone(), deployment_series.len());
            deployment_series.push(DeploymentSeries::new(d));
        }
        Metrics(Arc::new(Inner {
            litellm: config.observability.has_callback("prometheus"),
            caller_labels: config.metrics_caller_labels,
            identity: OnceLock::new(),
            groups,
            group_series,
            deployments,
            deployment_series,
            requests: Family::new(RequestSeries::new, SERIES_CAP),
            fallbacks: Family::new(Count::default, SERIES_CAP),
            refusals: Family::new(Count::default, SERIES_CAP),
            plugins: Family::new(PluginSeries::new, SERIES_CAP),
            callers: Family::new(CallerSeries::new, SERIES_CAP),
            proxy: Family::new(Count::default, SERIES_CAP),
            litellm_fallbacks: Family::new(Count::default, SERIES_CAP),
            config_reloads_ok: Count::default(),
            config_reloads_error: Count::default(),
            config_generation: std::sync::atomic::AtomicU64::new(1),
        }))
    }

    /// Gives the sink the key directory, which end-user labels need.
    pub fn attach(&self, identity: Arc<Identity>) {
        let _ = self.0.identity.set(identity);
    }

    /// Whether LiteLLM's names are served too.
    pub fn litellm(&self) -> bool {
        self.0.litellm
    }

    /// The text `/metrics` answers, with what was read at scrape.
    pub fn render(&self, scraped: Scraped) -> Result<String, std::fmt::Error> {
        render::render(self, scraped)
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.0
    }

    pub fn started(&self, e: &Started<'_>) {
        self.0.group(e.model_group).active.up();
    }

    pub fn finished(&self, e: &Finished<'_>) {
        let m = &self.0;
        let r = e.record;
        let group = m.group_label(r.model_group.as_deref());
        let served = r.deployment.as_deref().and_then(|d| m.deployment(d));
        let (deployment, provider) = served.map_or(("", ""), |s| (&*s.id, &*s.provider));
        let latency = Duration::from_secs_f64(r.latency_ms.max(0.0) / 1000.0);
        let overhead = Duration::from_secs_f64(r.overhead_ms.max(0.0) / 1000.0);
        m.requests.with(
            [
                group,
                deployment,
                provider,
                status_class(r.status),
                e.tier.unwrap_or(""),
            ],
            |s| {
                s.requests.inc();
                s.input_tokens.add(r.input_tokens);
                s.output_tokens.add(r.output_tokens);
                s.cost.add(r.cost.unwrap_or(0.0));
                s.latency.observe(latency);
                s.overhead.observe(overhead);
                if let Some(t) = e.ttft {
                    s.ttft.observe(t);
                }
            },
        );
        let g = m.group(group);
        if e.was_active {
            g.active.down();
        }
        match e.cache {
            Some("hit") => g.cache_hits.inc(),
            Some("miss") => g.cache_misses.inc(),
            Some("bypass") => g.cache_bypasses.inc(),
            _ => {}
        }
        m.caller(e, group, served, latency, overhead);
    }

    pub fn attempted(&self, e: &Attempted<'_>) {
        if let Some(s) = self.0.deployment(e.deployment) {
            s.upstream.observe(e.latency);
            s.attempt(e.failure).inc();
            if e.retry {
                s.retries.inc();
            }
        }
    }

    pub fn fallback(&self, e: &Fallback<'_>) {
        let m = &self.0;
        m.fallbacks.with(
            [
                m.group_label(Some(e.from)),
                m.group_label(Some(e.to)),
                e.reason,
            ],
            Count::inc,
        );
    }

    pub fn cooled(&self, e: &Cooled<'_>) {
        if let Some(s) = self.0.deployment(e.deployment) {
            s.cooldown(e.class).inc();
        }
    }

    pub fn refused(&self, e: &Refused<'_>) {
        let m = &self.0;
        let kind = match e.kind {
            Refusal::RateLimit => "rate_limit",
            Refusal::Budget => "budget",
        };
        m.refusals.with(
            [
                kind,
                m.group_label(Some(e.model_group)),
                e.scope,
                e.limit_type,
            ],
            Count::inc,
        );
    }

    pub fn plugin_call(&self, e: &PluginCall<'_>) {
        self.0.plugins.with([e.plugin], |s| {
            let _ = s.kind.set(e.kind);
            s.calls.inc();
            s.duration.observe(e.duration);
        });
    }

    pub fn plugin_failed(&self, e: &PluginFailure<'_>) {
        self.0.plugins.with([e.plugin], |s| {
            let i = PLUGIN_ERRORS
                .iter()
                .position(|k| *k == e.kind)
                .unwrap_or(PLUGIN_ERRORS.len() - 1);
            if let Some(c) = s.errors.get(i) {
                c.inc();
            }
        });
    }

    pub fn config_reloaded(&self, ok: bool, generation: u64) {
        let m = &self.0;
        if ok {
            m.config_reloads_ok.inc();
        } else {
            m.config_reloads_error.inc();
        }
        m.config_generation
            .store(generation, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn plugin_reloaded(&self, plugin: &str, ok: bool) {
        self.0.plugins.with([plugin], |s| {
            if ok {
                s.reloads_ok.inc();
            } else {
                s.reloads_failed.inc();
            }
        });
    }
}

impl Inner {
    /// A config group's name as a label (`other` for anything else, `""`
    /// when the request never got a group).
    fn group_label<'a>(&'a self, name: Option<&'a str>) -> &'a str {
        match name {
            None => "",
            Some(n) if self.groups.contains_key(n) => n,
            Some(_) => family::OVERFLOW,
        }
    }

    fn group(&self, name: &str) -> &GroupSeries {
        let i = self
            .groups
            .get(name)
            .copied()
            .unwrap_or(self.group_series.len() - 1);
        &self.group_series[i.min(self.group_series.len() - 1)].1
    }

    fn deployment(&self, id: &str) -> Option<&DeploymentSeries> {
        self.deployments
            .get(id)
            .and_then(|i| self.deployment_series.get(*i))
    }

    /// Spend and tokens by caller (Switchyard's spend family, and
    /// LiteLLM's caller-labelled ones when they are on).
    fn caller(
        &self,
        e: &Finished<'_>,
        group: &str,
        served: Option<&DeploymentSeries>,
        latency: Duration,
        overhead: Duration,
    ) {
        let r = e.record;
        let end_user_entry = if self.caller_labels {
            r.end_user
                .as_deref()
                .and_then(|id| self.identity.get()?.directory().end_user(id))
        } else {
            None
        };
        let end_user = end_user_entry
            .as_ref()
            .map_or("", |u| u.record.alias.as_deref().unwrap_or(&u.id));
        let key_alias = if self.caller_labels {
            alias_of(r.key_alias.as_deref(), r.key_hash.as_deref())
        } else {
            ""
        };
        let team = r.team_id.as_deref().unwrap_or("");
        let user = r.user_id.as_deref().unwrap_or("");
        let model = served.map_or("", |s| &*s.litellm_model);
        self.callers
            .with([group, model, key_alias, team, user, end_user], |s| {
                s.requests.inc();
                s.spend.add(r.cost.unwrap_or(0.0));
                s.input_tokens.add(r.input_tokens);
                s.output_tokens.add(r.output_tokens);
                if self.litellm {
                    s.latency.observe(latency);
                    s.overhead.observe(overhead);
                    if served.is_some() && !r.cache_hit {
                        s.upstream.observe(e.upstream);
                    }
                    if let Some(t) = e.ttft {
                        s.ttft.observe(t);
                    }
                }
            });
        if !self.litellm {
            return;
        }
        let mut buf = [0u8; 5];
        let code = status_text(r.status, &mut buf);
        let class = if (200..300).contains(&r.status) {
            ""
        } else {
            r.error_kind.as_deref().unwrap_or("")
        };
        self.proxy.with(
            [group, key_alias, team, user, end_user, code, class],
            Count::inc,
        );
        if r.fallbacks > 0 {
            let to = served.map_or("", |s| &*s.group);
            let outcome = if (200..300).contains(&r.status) {
                "ok"
            } else {
                "failed"
            };
            self.litellm_fallbacks
                .with([group, to, outcome], Count::inc);
        }
    }
}

/// `2xx`, `4xx` or `5xx`. A client that left before its answer (status 0)
/// counts as `4xx`, as nginx's 499 does.
pub fn status_class(status: u16) -> &'static str {
    match status {
        200..=299 => "2xx",
        500..=599 => "5xx",
        _ => "4xx",
    }
}

/// A status code as text, in `buf` (no allocation).
fn status_text(status: u16, buf: &mut [u8; 5]) -> &str {
    let mut n = status;
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).unwrap_or("")
}

/// The key's alias, or `""` when the key has none (the spend record then
/// holds the first characters of its hash, which is not an alias).
fn alias_of<'a>(alias: Option<&'a str>, hash: Option<&str>) -> &'a str {
    match (alias, hash) {
        (Some(a), Some(h)) if a == secret::short(h) => "",
        (Some(a), _) => a,
        (None, _) => "",
    }
}

#[cfg(test)]
mod tests;
