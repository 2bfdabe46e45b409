//! What each series holds: one struct per label set shape, so an event
//! finds its series once and moves every cell of it.

use std::sync::OnceLock;

use crate::config::{Deployment, FailureClass};

use super::cells::{Count, Level, OVERHEAD_SECONDS, REQUEST_SECONDS, Sum, Timing};

/// A plugin failure's kinds, `other` last.
pub const PLUGIN_ERRORS: [&str; 6] = ["trap", "timeout", "memory", "bad_output", "error", "other"];

/// The outcomes of an attempt: `success`, each failure class, `other`.
pub fn attempt_outcomes() -> impl Iterator<Item = &'static str> {
    std::iter::once("success")
        .chain(FailureClass::ALL.iter().map(|c| c.as_str()))
        .chain(std::iter::once("other"))
}

/// Requests by model group, deployment, provider, status class and tier.
pub struct RequestSeries {
    pub requests: Count,
    pub input_tokens: Count,
    pub output_tokens: Count,
    pub cost: Sum,
    pub latency: Timing,
    pub overhead: Timing,
    pub ttft: Timing,
}

impl RequestSeries {
    pub fn new() -> RequestSeries {
        RequestSeries {
            requests: Count::default(),
            input_tokens: Count::default(),
            output_tokens: Count::default(),
            cost: Sum::default(),
            latency: Timing::new(REQUEST_SECONDS),
            overhead: Timing::new(OVERHEAD_SECONDS),
            ttft: Timing::new(REQUEST_SECONDS),
        }
    }
}

/// One config model group's gauges and cache outcomes.
#[derive(Default)]
pub struct GroupSeries {
    pub active: Level,
    pub cache_hits: Count,
    pub cache_misses: Count,
    pub cache_bypasses: Count,
}

/// One deployment's calls, resolved once from the config.
pub struct DeploymentSeries {
    pub id: Box<str>,
    pub group: Box<str>,
    pub provider: Box<str>,
    /// `provider/model`, LiteLLM's `litellm_model_name`.
    pub litellm_model: Box<str>,
    pub upstream: Timing,
    /// By [`attempt_outcomes`].
    pub attempts: Box<[Count]>,
    pub retries: Count,
    /// By failure class, `other` last.
    pub cooldowns: Box<[Count]>,
}

impl DeploymentSeries {
    pub fn new(d: &Deployment) -> DeploymentSeries {
        DeploymentSeries {
            id: d.id.as_str().into(),
            group: d.group.as_str().into(),
            provider: d.provider.as_str().into(),
            litellm_model: format!("{}/{}", d.provider, d.model).into(),
            upstream: Timing::new(REQUEST_SECONDS),
            attempts: attempt_outcomes().map(|_| Count::default()).collect(),
            retries: Count::default(),
            cooldowns: (0..=FailureClass::ALL.len())
                .map(|_| Count::default())
                .collect(),
        }
    }

    /// The attempts count for a failure class (`None`: success).
    pub fn attempt(&self, failure: Option<&str>) -> &Count {
        let i = match failure {
            None => 0,
            Some(f) => class_index(f).map_or(self.attempts.len() - 1, |i| i + 1),
        };
        &self.attempts[i.min(self.attempts.len() - 1)]
    }

    /// The cooldowns count for a failure class.
    pub fn cooldown(&self, class: &str) -> &Count {
        let i = class_index(class).unwrap_or(self.cooldowns.len() - 1);
        &self.cooldowns[i.min(self.cooldowns.len() - 1)]
    }
}

fn class_index(name: &str) -> Option<usize> {
    FailureClass::ALL.iter().position(|c| c.as_str() == name)
}

/// One plugin's calls (kept across reloads: the name is the series).
pub struct PluginSeries {
    /// `router`, `provider`, `sanitizer`, `cost`: set by its first call.
    pub kind: OnceLock<&'static str>,
    pub calls: Count,
    pub duration: Timing,
    /// By [`PLUGIN_ERRORS`].
    pub errors: [Count; PLUGIN_ERRORS.len()],
    pub reloads_ok: Count,
    pub reloads_failed: Count,
}

impl PluginSeries {
    pub fn new() -> PluginSeries {
        PluginSeries {
            kind: OnceLock::new(),
            calls: Count::default(),
            duration: Timing::new(OVERHEAD_SECONDS),
            errors: Default::default(),
            reloads_ok: Count::default(),
            reloads_failed: Count::default(),
        }
    }
}

/// Spend and tokens by caller; latencies only with LiteLLM's names on.
pub struct CallerSeries {
    pub requests: Count,
    pub spend: Sum,
    pub input_tokens: Count,
    pub output_tokens: Count,
    pub latency: Timing,
    pub overhead: Timing,
    pub upstream: Timing,
    pub ttft: Timing,
}

impl CallerSeries {
    pub fn new() -> CallerSeries {
        CallerSeries {
            requests: Count::default(),
            spend: Sum::default(),
            input_tokens: Count::default(),
            output_tokens: Count::default(),
            latency: Timing::new(REQUEST_SECONDS),
            overhead: Timing::new(OVERHEAD_SECONDS),
            upstream: Timing::new(REQUEST_SECONDS),
            ttft: Timing::new(REQUEST_SECONDS),
        }
    }
}
