//! Typed calls into each kind of plugin. Every answer is checked before the
//! host acts on it: a router naming an unknown deployment, a price that is
//! not a number, or a body that is not JSON is a malformed-output error.

use std::sync::Arc;

use wasmtime::component::ResourceAny;

use super::bindings::cost_api::{CostAnswer, CostInput};
use super::bindings::provider_api::{
    BuildInput, HttpResponse, Outbound, ParseError, ParsedResponse, ProviderError, StreamInput,
    StreamOutput,
};
use super::bindings::router_api::{Deployment, RouteDecision, RouteRequest};
use super::bindings::sanitizer_api::{SanitizeInput, Verdict};
use super::error::CallError;
use super::instance::Slot;
use super::limits::OnError;
use super::loaded::{Instances, Kind, LoadedPlugin};
use super::worlds::ProviderWorld;

/// A provider's answer: translated, or the provider's own error.
pub type ProviderOutcome<T> = Result<T, ProviderError>;

impl LoadedPlugin {
    /// Asks a router for the order of deployments to try.
    pub fn route(&self, request: &RouteRequest) -> Result<RouteDecision, CallError> {
        let Instances::Router(pool) = &self.instances else {
            return Err(self.wrong_kind(Kind::Router));
        };
        let answer = pool.call(|w, store| w.route(store, request))?;
        self.check_decision(request, answer)
            .inspect(|d| super::shadow::route(self, request, d))
    }

    /// Gives a router instance `table` and then asks it to route `request`
    /// (for `switchyard plugin test`, where every case brings its own
    /// deployments). The instance is not reused afterwards: it holds a table
    /// that is not the gateway's.
    pub fn route_with_table(
        &self,
        table: &[Deployment],
        request: &RouteRequest,
    ) -> Result<RouteDecision, CallError> {
        let Instances::Router(pool) = &self.instances else {
            return Err(self.wrong_kind(Kind::Router));
        };
        let mut slot = pool.checkout()?;
        pool.arm(&mut slot.store);
        let set = slot.bindings.set_deployments(&mut slot.store, table);
        pool.log_output(&slot.store);
        set.map_err(|e| pool.classify(&slot.store, e))?
            .map_err(|e| CallError::from_plugin(self.name(), e))?;
        pool.arm(&mut slot.store);
        let answer = slot.bindings.route(&mut slot.store, request);
        pool.log_output(&slot.store);
        let answer = answer.map_err(|e| pool.classify(&slot.store, e))?;
        self.check_decision(request, answer)
    }

    /// Checks that a decision names only candidates, each once.
    fn check_decision(
        &self,
        request: &RouteRequest,
        answer: Result<RouteDecision, super::bindings::types::PluginError>,
    ) -> Result<RouteDecision, CallError> {
        let decision = answer.map_err(|e| CallError::from_plugin(self.name(), e))?;
        // Linear scans: candidate lists are short, and this runs per request.
        for (i, index) in decision.order.iter().enumerate() {
            if !request.candidates.iter().any(|c| c.deployment == *index) {
                return Err(self.malformed(format!(
                    "route returned deployment {index}, which is not among the candidates"
                )));
            }
            if decision.order[..i].contains(index) {
                return Err(self.malformed(format!("route returned deployment {index} twice")));
            }
        }
        check_fields(self, &decision.extra)?;
        Ok(decision)
    }

    /// Asks a sanitiser whether a request or answer may pass.
    pub fn sanitize(&self, input: &SanitizeInput) -> Result<Verdict, CallError> {
        let Instances::Sanitizer(pool) = &self.instances else {
            return Err(self.wrong_kind(Kind::Sanitizer));
        };
        let answer = pool.call(|w, store| w.sanitize(store, input))?;
        let verdict = answer.map_err(|e| CallError::from_plugin(self.name(), e))?;
        if let Verdict::Rewrite(messages) = &verdict {
            for m in messages {
                check_fields(self, &m.extra)?;
            }
        }
        super::shadow::sanitize(self, input, &verdict);
        Ok(verdict)
    }

    /// Asks a cost rule what a call cost.
    pub fn cost(&self, input: &CostInput) -> Result<CostAnswer, CallError> {
        let Instances::Cost(pool) = &self.instances else {
            return Err(self.wrong_kind(Kind::Cost));
        };
        let answer = pool.call(|w, store| w.cost(store, input))?;
        let answer = answer.map_err(|e| CallError::from_plugin(self.name(), e))?;
        if let CostAnswer::Usd(usd) = answer
            && !(usd.is_finite() && usd >= 0.0)
        {
            return Err(self.malformed(format!(
                "cost must be a finite, non-negative number of dollars, got {usd}"
            )));
        }
        super::shadow::cost(self, input, &answer);
        Ok(answer)
    }

    /// Asks an adapter for the HTTP request to send (or a made-up answer).
    pub fn build_request(&self, input: &BuildInput) -> Result<Outbound, CallError> {
        let Instances::Provider(pool) = &self.instances else {
            return Err(self.wrong_kind(Kind::Provider));
        };
        let answer = pool.call(|w, store| w.build_request(store, input))?;
        let outbound = answer.map_err(|e| CallError::from_plugin(self.name(), e))?;
        match &outbound {
            Outbound::Send(req) => {
                if req.method.is_empty() || !req.method.bytes().all(|b| b.is_ascii_uppercase()) {
                    return Err(self.malformed(format!("HTTP method {:?} is invalid", req.method)));
                }
                if !(req.url.starts_with("http://") || req.url.starts_with("https://")) {
                    return Err(
                        self.malformed(format!("request URL {:?} is not an http(s) URL", req.url))
                    );
                }
                for h in &req.headers {
                    if h.name.is_empty()
                        || !h.name.bytes().all(|b| b.is_ascii_graphic() && b != b':')
                        || h.value.bytes().any(|b| b == b'\r' || b == b'\n')
                    {
                        return Err(self.malformed(format!("header {:?} is invalid", h.name)));
                    }
                }
            }
            Outbound::Respond(resp) => {
                if !(100..=599).contains(&resp.status) {
                    return Err(self.malformed(format!("status {} is invalid", resp.status)));
                }
            }
        }
        super::shadow::build_request(self, input, &outbound);
        Ok(outbound)
    }

    /// Asks an adapter to translate a provider's answer.
    pub fn parse_response(
        &self,
        input: &BuildInput,
        response: &HttpResponse,
    ) -> Result<ProviderOutcome<ParsedResponse>, CallError> {
        let Instances::Provider(pool) = &self.instances else {
            return Err(self.wrong_kind(Kind::Provider));
        };
        let answer = pool.call(|w, store| w.parse_response(store, input, response))?;
        match answer {
            Ok(parsed) => {
                check_json(self, "response body", &parsed.body)?;
                Ok(Ok(parsed))
            }
            Err(ParseError::Provider(e)) => Ok(Err(e)),
            Err(ParseError::Plugin(e)) => Err(CallError::from_plugin(self.name(), e)),
        }
    }

    /// Starts decoding a streamed answer. The stream keeps one instance for
    /// its whole life.
    pub fn open_stream(self: &Arc<Self>, input: &BuildInput) -> Result<StreamSession, CallError> {
        let Instances::Provider(pool) = &self.instances else {
            return Err(self.wrong_kind(Kind::Provider));
        };
        let mut slot = pool.checkout()?;
        pool.arm(&mut slot.store);
        let decoder = slot.bindings.open_decoder(&mut slot.store, input);
        pool.log_output(&slot.store);
        let decoder = decoder.map_err(|e| pool.classify(&slot.store, e))?;
        Ok(StreamSession {
            plugin: self.clone(),
            slot: Some(slot),
            decoder,
        })
    }

    /// Applies the plugin's `on_error` setting to a failed call: fail-open
    /// turns a failure into `fallback` (and a warning), except a plugin's
    /// own `invalid-input` answer, which is about the request, not the
    /// plugin.
    pub fn on_error<T>(
        &self,
        result: Result<T, CallError>,
        fallback: impl FnOnce() -> T,
    ) -> Result<T, CallError> {
        match result {
            Err(e)
                if self.limits().on_error == OnError::FailOpen
                    && !matches!(
                        e,
                        CallError::Plugin {
                            invalid_input: true,
                            ..
                        }
                    ) =>
            {
                tracing::warn!(plugin = self.name(), error = %e, "plugin failed; failing open");
                Ok(fallback())
            }
            other => other,
        }
    }

    fn malformed(&self, reason: String) -> CallError {
        crate::observe::plugin_failed(&crate::observe::PluginFailure {
            plugin: self.name(),
            kind: "bad_output",
            message: &reason,
        });
        CallError::Malformed {
            plugin: self.name().to_string(),
            reason,
        }
    }
}

/// Decodes one streamed answer on one instance. Dropping it releases the
/// decoder and returns the instance to the pool if it is still sound.
pub struct StreamSession {
    plugin: Arc<LoadedPlugin>,
    slot: Option<Slot<ProviderWorld>>,
    decoder: ResourceAny,
}

impl StreamSession {
    /// The plugin version this stream runs on.
    pub fn plugin(&self) -> &Arc<LoadedPlugin> {
        &self.plugin
    }

    /// Decodes one event or byte chunk.
    pub fn push(
        &mut self,
        input: &StreamInput,
    ) -> Result<ProviderOutcome<StreamOutput>, CallError> {
        self.step(|decoder, w, store| w.push(store, decoder, input))
    }

    /// Signals the end of the body and flushes the decoder.
    pub fn finish(&mut self) -> Result<ProviderOutcome<StreamOutput>, CallError> {
        self.step(|decoder, w, store| w.finish(store, decoder))
    }

    fn step(
        &mut self,
        f: impl FnOnce(
            ResourceAny,
            &ProviderWorld,
            &mut wasmtime::Store<super::store::HostState>,
        ) -> wasmtime::Result<Result<StreamOutput, ParseError>>,
    ) -> Result<ProviderOutcome<StreamOutput>, CallError> {
        let Instances::Provider(pool) = &self.plugin.instances else {
            return Err(self.plugin.wrong_kind(Kind::Provider));
        };
        let Some(slot) = self.slot.as_mut() else {
            return Err(CallError::Malformed {
                plugin: self.plugin.name().to_string(),
                reason: "stream decoder used after it failed".into(),
            });
        };
        pool.arm(&mut slot.store);
        let result = f(self.decoder, &slot.bindings, &mut slot.store);
        pool.log_output(&slot.store);
        match result {
            Ok(Ok(out)) => {
                for chunk in &out.chunks {
                    if let Err(e) = check_json(&self.plugin, "stream chunk", chunk) {
                        self.slot = None;
                        return Err(e);
                    }
                }
                Ok(Ok(out))
            }
            Ok(Err(ParseError::Provider(e))) => Ok(Err(e)),
            Ok(Err(ParseError::Plugin(e))) => Err(CallError::from_plugin(self.plugin.name(), e)),
            Err(e) => {
                // A trapped instance is never reused.
                let err = pool.classify(&slot.store, e);
                self.slot = None;
                Err(err)
            }
        }
    }
}

impl Drop for StreamSession {
    fn drop(&mut self) {
        let Some(mut slot) = self.slot.take() else {
            return;
        };
        let Instances::Provider(pool) = &self.plugin.instances else {
            return;
        };
        pool.arm(&mut slot.store);
        let dropped = self.decoder.resource_drop(&mut slot.store);
        pool.log_output(&slot.store);
        if dropped.is_ok() {
            pool.checkin(slot);
        }
    }
}

/// Checks that text a plugin returned as JSON is JSON.
fn check_json(plugin: &LoadedPlugin, what: &str, text: &str) -> Result<(), CallError> {
    serde_json::from_str::<serde::de::IgnoredAny>(text)
        .map(|_| ())
        .map_err(|e| plugin.malformed(format!("{what} is not valid JSON: {e}")))
}

/// Checks that every `extra` field's value is JSON.
fn check_fields(
    plugin: &LoadedPlugin,
    fields: &[super::bindings::types::Field],
) -> Result<(), CallError> {
    for f in fields {
        check_json(plugin, &format!("field {:?}", f.key), &f.value)?;
    }
    Ok(())
}
