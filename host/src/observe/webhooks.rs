//! Signed webhooks. Placeholder: the webhooks helper fills it.

use super::events::*;

pub struct Webhooks {}

impl Webhooks {
    /// `None` when the config names no webhook.
    pub fn new(_config: &crate::config::Config) -> Option<Webhooks> {
        None
    }

    pub fn started(&self, _e: &Started<'_>) {}
    pub fn finished(&self, _e: &Finished<'_>) {}
    pub fn fallback(&self, _e: &Fallback<'_>) {}
    pub fn cooled(&self, _e: &Cooled<'_>) {}
    pub fn refused(&self, _e: &Refused<'_>) {}
    pub fn plugin_failed(&self, _e: &PluginFailure<'_>) {}
}
