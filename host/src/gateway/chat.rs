//! `POST /v1/chat/completions`.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Map, Value};
use switchyard_sdk::openai::{ChatMessage, ChatRequest};

use crate::cache::Op;
use crate::config::ModelGroup;
use crate::config::plugins::GuardMode;
use crate::ledger::Ledger;
use crate::observe::traces;

use crate::plugins::bindings::provider_api::Operation;
use crate::plugins::bindings::sanitizer_api::{SanitizeInput, Stage, Verdict};
use crate::plugins::bindings::types::{self, Caller};
use crate::plugins::{ActiveSet, CallError};

use super::admit::Admit;
use super::error::ApiError;
use super::retry::Call;
use super::{Gateway, Mode, Served, guard, request, views};

impl Gateway {
    /// Serves one chat completion request.
    pub async fn chat(&self, body: Bytes, ledger: &Arc<Ledger>) -> Result<Served, ApiError> {
        let mut raw = request::parse_object(&body)?;
        let overrides = request::Overrides::take(&mut raw)?;
        let req: ChatRequest = request::typed(&raw)?;
        if req.messages.is_empty() {
            return Err(ApiError::bad_param(
                "messages",
                "messages must not be empty",
            ));
        }
        let group = self
            .config
            .group(&req.model)
            .ok_or_else(|| self.unknown_model(&req.model))?;
        traces::requested("chat", &req.model);
        let set = self.registry.snapshot();
        let caller = Arc::new(
            ledger
                .principal
                .caller(req.user.clone(), req.metadata.as_ref()),
        );
        let mut view = views::chat_request_view(&req);
        let estimated_tokens = views::estimate_tokens(&view);
        let max_tokens = req.max_completion_tokens.or(req.max_tokens).map(u64::from);
        let admit = Admit {
            caller: &caller,
            end_user: req.user.as_deref(),
            asked: &req.model,
            group,
            input_tokens: estimated_tokens,
            max_tokens,
        };
        self.admit(ledger, &set, admit).await?;
        let cache = self.cache_plan(Op::Chat, &raw, ledger)?;

        let sanitized = self.sanitize_request(&set, group, &mut raw, &mut view, &caller)?;
        // A rewrite (a trimmed conversation) changes what the deployments
        // must fit.
        let estimated_tokens = if sanitized.rewritten {
            views::estimate_tokens(&view)
        } else {
            estimated_tokens
        };

        let mode = if req.stream.unwrap_or(false) {
            Mode::Stream {
                include_usage: raw
                    .get("stream_options")
                    .and_then(|o| o.get("include_usage"))
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            }
        } else {
            Mode::Whole
        };
        let call = Call {
            operation: Operation::Chat,
            mode,
            raw: &raw,
            view: Some(&view),
            caller: &caller,
            ledger,
            estimated_tokens,
            overrides: &overrides,
        };
        let served = match cache {
            Some((cache, plan)) => self.chat_cached(cache, plan, &set, group, &call).await,
            None => self.serve_call(&set, group, &call).await,
        };
        // The answer through the sanitisers that watch answers (none: as
        // it is).
        let served = match sanitized.guard {
            Some(guard) => served.and_then(|s| guard.apply(s)),
            None => served,
        };
        // A stream keeps the request's span open until it ends.
        served.map(traces::carry)
    }

    /// The cache and what it does for this request, when the cache is on
    /// and caches `op`; reads the request's `cache` controls.
    pub(super) fn cache_plan(
        &self,
        op: Op,
        raw: &Map<String, Value>,
        ledger: &Ledger,
    ) -> Result<Option<(&Arc<crate::cache::ResponseCache>, crate::cache::Plan)>, ApiError> {
        let Some(cache) = &self.cache else {
            return Ok(None);
        };
        let controls = crate::cache::Controls::read(raw)?;
        Ok(cache
            .plan(op, &controls, &ledger.principal)
            .map(|plan| (cache, plan)))
    }

    /// 404 for an unknown model, naming the groups that exist (they are
    /// public through `/v1/models` anyway).
    pub fn unknown_model(&self, model: &str) -> ApiError {
        let known: Vec<&str> = self.config.groups.keys().map(String::as_str).collect();
        let mut e = ApiError::not_found(format!(
            "The model `{model}` does not exist. Model groups: {}",
            known.join(", ")
        ));
        e.param = Some("model".into());
        e
    }

    /// Runs the configured sanitisers over the request, in order, and
    /// prepares the response stage for those that watch answers (each with
    /// the request as it received it). A sanitiser in audit mode only
    /// reports its deny or rewrite.
    fn sanitize_request(
        &self,
        set: &ActiveSet,
        group: &ModelGroup,
        raw: &mut Map<String, Value>,
        view: &mut types::ChatRequest,
        caller: &Caller,
    ) -> Result<Sanitized, ApiError> {
        let mut out = Sanitized::default();
        if self.config.plugins.sanitizers.is_empty() {
            return Ok(out);
        }
        let context_window = group
            .deployments
            .iter()
            .filter_map(|d| d.max_input_tokens)
            .min();
        let mut watchers = Vec::new();
        for name in &self.config.plugins.sanitizers {
            let plugin = set.get(name).ok_or_else(|| {
                ApiError::unavailable(format!(
                    "sanitizer plugin {name:?} is configured but not loaded"
                ))
            })?;
            let guard = self.config.plugins.guardrail(name);
            let input = SanitizeInput {
                stage: Stage::Request,
                request: view.clone(),
                caller: caller.clone(),
                response: Vec::new(),
                window: None,
                finish_reason: None,
                context_window,
                estimated_input_tokens: views::estimate_tokens(view),
            };
            if guard.request {
                let verdict = plugin
                    .on_error(plugin.sanitize(&input), || Verdict::Allow)
                    .map_err(|e| match e {
                        CallError::Plugin {
                            reason,
                            invalid_input: true,
                            ..
                        } => ApiError::bad_request(reason),
                        other => ApiError::internal(other.to_string()),
                    })?;
                match verdict {
                    Verdict::Allow => {}
                    v if guard.mode == GuardMode::Audit => {
                        guard::audit::report(name, "request", &v)
                    }
                    Verdict::Deny(reason) => {
                        let mut e =
                            ApiError::bad_request(format!("request denied by {name}: {reason}"));
                        e.code = Some("content_policy_violation".into());
                        return Err(e);
                    }
                    Verdict::Rewrite(messages) => {
                        let before: Vec<ChatMessage> = raw
                            .get("messages")
                            .and_then(|m| serde_json::from_value(m.clone()).ok())
                            .unwrap_or_default();
                        let openai: Vec<_> = messages
                            .iter()
                            .enumerate()
                            .map(|(i, m)| views::rewritten_to_openai(m, before.get(i)))
                            .collect();
                        raw.insert(
                            "messages".into(),
                            serde_json::to_value(&openai).unwrap_or(Value::Array(Vec::new())),
                        );
                        view.messages = messages;
                        out.rewritten = true;
                    }
                }
            }
            if guard.response {
                watchers.push(guard::Watcher::new(name, plugin.clone(), guard, input));
            }
        }
        out.guard = guard::Guard::new(watchers);
        Ok(out)
    }
}

/// What the request stage leaves for the rest of the call.
#[derive(Default)]
struct Sanitized {
    /// A sanitiser rewrote the messages.
    rewritten: bool,
    /// The response stage, when a sanitiser watches answers.
    guard: Option<guard::Guard>,
}
