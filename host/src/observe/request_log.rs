//! One structured log line per request. Placeholder: the logs helper fills it.

use super::events::Finished;

pub struct RequestLog {}

impl RequestLog {
    pub fn new(_config: &crate::config::Config) -> RequestLog {
        RequestLog {}
    }

    pub fn finished(&self, _e: &Finished<'_>) {}
}
