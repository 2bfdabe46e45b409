//! Prometheus metrics (`GET /metrics`). Placeholder: the metrics helper fills it.

use super::events::*;

/// Every metric family.
pub struct Metrics {}

impl Metrics {
    pub fn new(_config: &crate::config::Config) -> Metrics {
        Metrics {}
    }

    pub fn started(&self, _e: &Started<'_>) {}
    pub fn finished(&self, _e: &Finished<'_>) {}
    pub fn attempted(&self, _e: &Attempted<'_>) {}
    pub fn fallback(&self, _e: &Fallback<'_>) {}
    pub fn cooled(&self, _e: &Cooled<'_>) {}
    pub fn refused(&self, _e: &Refused<'_>) {}
    pub fn plugin_call(&self, _e: &PluginCall<'_>) {}
    pub fn plugin_failed(&self, _e: &PluginFailure<'_>) {}
    pub fn plugin_reloaded(&self, _plugin: &str, _ok: bool) {}
}
