//! Guardrails on answers: the `response` stage of the sanitisers that
//! watch answers (`plugins.settings.<name>.stages: [request, response]`).
//!
//! The request stage ([`super::chat`]) keeps, for each watching sanitiser,
//! the request as that sanitiser received it; once the call is served the
//! answer goes through them in config order:
//!
//! - a whole answer ([`whole`]): every choice's message and the finish
//!   reason; a rewrite replaces the choices' messages, a deny withholds the
//!   answer (`finish_reason: "content_filter"`, content `null`), as OpenAI
//!   answers a filtered completion;
//! - a stream ([`window`]): the text in windows per choice, holding back
//!   only the current window; a deny stops the stream with a
//!   `content_filter` finish chunk, an error event and `[DONE]`.
//!
//! A request no sanitiser watches answers for builds no [`Guard`], and its
//! answer takes exactly the path it took before. The guard runs on what the
//! client gets, cache hits included; the cache stores the provider's answer
//! as it came (see docs/guardrails.md).
//!
//! A sanitiser in `mode: audit` runs live on both stages, but its deny and
//! rewrite are only reported ([`audit`]).

pub mod audit;
pub mod whole;
pub mod window;

use std::sync::Arc;

use crate::config::plugins::{GuardMode, Guardrail};
use crate::plugins::LoadedPlugin;
use crate::plugins::bindings::sanitizer_api::{SanitizeInput, Stage, StreamWindow, Verdict};
use crate::plugins::bindings::types::Message;

use super::error::ApiError;
use super::{Served, ServedBody};

/// One sanitiser that watches answers, with its response-stage input
/// prepared once (the request as it received it, the caller, the context
/// window): only the answer, window and finish reason change per call.
pub struct Watcher {
    pub name: String,
    plugin: Arc<LoadedPlugin>,
    guard: Guardrail,
    input: SanitizeInput,
}

impl Watcher {
    /// `input` is the request-stage input this sanitiser was (or would have
    /// been) given; its stage becomes `response`.
    pub fn new(
        name: &str,
        plugin: Arc<LoadedPlugin>,
        guard: Guardrail,
        mut input: SanitizeInput,
    ) -> Watcher {
        input.stage = Stage::Response;
        input.response = Vec::new();
        input.window = None;
        input.finish_reason = None;
        Watcher {
            name: name.to_string(),
            plugin,
            guard,
            input,
        }
    }

    /// Asks the sanitiser about `response`; the verdict to act on (an
    /// audited deny or rewrite is reported and reads as allow). A failed
    /// call fails open or closed as the plugin's `on_error` says.
    fn ask(
        &mut self,
        response: Vec<Message>,
        window: Option<StreamWindow>,
        finish_reason: Option<&str>,
    ) -> Result<Verdict, ApiError> {
        self.input.response = response;
        self.input.window = window;
        self.input.finish_reason = finish_reason.map(str::to_string);
        let verdict = self
            .plugin
            .on_error(self.plugin.sanitize(&self.input), || Verdict::Allow)
            .map_err(|e| {
                ApiError::internal(format!(
                    "sanitizer {:?} failed on the answer: {e}",
                    self.name
                ))
            });
        self.input.response = Vec::new();
        let verdict = verdict?;
        if self.guard.mode == GuardMode::Audit && verdict != Verdict::Allow {
            audit::report(&self.name, "response", &verdict);
            return Ok(Verdict::Allow);
        }
        Ok(verdict)
    }
}

/// The sanitisers watching one request's answer, in config order.
pub struct Guard {
    watchers: Vec<Watcher>,
}

impl Guard {
    /// `None` when no sanitiser watches answers: nothing to do, nothing
    /// allocated.
    pub fn new(watchers: Vec<Watcher>) -> Option<Guard> {
        (!watchers.is_empty()).then_some(Guard { watchers })
    }

    /// The stream windows: the smallest window and the largest overlap of
    /// the watchers (one window serves them all), the overlap kept below
    /// the window.
    fn windows(&self) -> (usize, usize) {
        let window = self
            .watchers
            .iter()
            .map(|w| w.guard.window_chars)
            .min()
            .unwrap_or(200)
            .max(1);
        let overlap = self
            .watchers
            .iter()
            .map(|w| w.guard.overlap_chars)
            .max()
            .unwrap_or(0)
            .min(window - 1);
        (window, overlap)
    }

    /// Runs the response stage on what is served.
    pub fn apply(self, mut served: Served) -> Result<Served, ApiError> {
        served.body = match served.body {
            ServedBody::Json(body) => {
                let mut watchers = self.watchers;
                match whole::check(&mut watchers, &body)? {
                    Some(changed) => ServedBody::Json(changed),
                    None => ServedBody::Json(body),
                }
            }
            ServedBody::Sse(inner) => {
                let (window, overlap) = self.windows();
                let checker = window::Chain {
                    watchers: self.watchers,
                };
                ServedBody::Sse(window::guard(
                    inner,
                    window::StreamGuard::new(checker, window, overlap),
                ))
            }
        };
        Ok(served)
    }
}

/// The error a stopped answer carries: OpenAI's `content_filter` code, the
/// sanitiser named.
pub fn filtered(plugin: &str, reason: &str) -> ApiError {
    let mut e = ApiError::bad_request(format!("answer stopped by {plugin}: {reason}"));
    e.code = Some("content_filter".into());
    e
}
