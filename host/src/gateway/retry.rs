//! Serving one call across model groups: its own group first (see
//! [`super::group`] for the attempts within a group), then, once that group
//! has no attempt left, the fallback groups for the failure's class in
//! order (`context_window_fallbacks`, `content_policy_fallbacks`,
//! `fallbacks`, `default_fallbacks`, or the request's own `fallbacks`), up
//! to `max_fallbacks`; and the client's error when every group failed.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Map, Value};

use crate::config::{Deployment, FailureClass, ModelGroup};
use crate::plugins::ActiveSet;
use crate::plugins::bindings::provider_api::Operation;
use crate::plugins::bindings::types::{self, Caller};

use super::attempt::Mode;
use super::error::ApiError;
use super::failure::{Failure, exhausted};
use super::group::Blocked;
use super::request::Overrides;
use super::{Gateway, Served, ServedBody};

/// What one call is.
pub struct Call<'a> {
    pub operation: Operation,
    pub mode: Mode,
    /// The client's body, without the reliability overrides (the gateway's
    /// other own fields are left out of each deployment's body).
    pub raw: &'a Map<String, Value>,
    /// What routers read; `None` (embeddings): the configured order.
    pub view: Option<&'a types::ChatRequest>,
    pub caller: &'a Arc<Caller>,
    /// The request's entry in the books (usage, cost, limits).
    pub ledger: &'a Arc<crate::ledger::Ledger>,
    /// The prompt's estimated tokens (0: unknown, no context-window check).
    pub estimated_tokens: u64,
    pub overrides: &'a Overrides,
}

impl<'a> Call<'a> {
    /// The same call in another mode or with another body.
    pub fn with<'b>(&'b self, mode: Mode, raw: &'b Map<String, Value>) -> Call<'b>
    where
        'a: 'b,
    {
        Call {
            operation: self.operation.clone(),
            mode,
            raw,
            view: self.view,
            caller: self.caller,
            ledger: self.ledger,
            estimated_tokens: self.estimated_tokens,
            overrides: self.overrides,
        }
    }
}

/// What the call has done so far, across groups.
#[derive(Default)]
pub(super) struct Progress {
    pub attempts: u32,
    pub fallbacks: u32,
    pub upstream_wait: Duration,
    pub reason: Option<String>,
}

impl Progress {
    /// The answer, with what it took.
    fn served(self, (group, deployment, body): (String, Arc<Deployment>, ServedBody)) -> Served {
        Served {
            group,
            deployment: deployment.id.clone(),
            route_reason: self.reason,
            attempts: self.attempts,
            fallbacks: self.fallbacks,
            upstream_wait: self.upstream_wait,
            body,
            cache: None,
        }
    }

    /// The client's error, with what was tried before giving up.
    fn error(&self, mut e: ApiError) -> ApiError {
        e.headers = Box::new([
            ("x-switchyard-attempts", self.attempts.to_string()),
            ("x-switchyard-fallbacks", self.fallbacks.to_string()),
        ]);
        e
    }
}

/// Why a model group could not answer.
pub(super) enum GroupError {
    /// Attempts were made; the last one failed like this.
    Failed {
        group: String,
        deployment: String,
        /// Boxed: this error travels in every step's `Result`.
        failure: Box<Failure>,
        /// Attempts made in this group.
        attempts: u32,
    },
    /// No attempt could be made: every deployment is cooling down or at
    /// its limit.
    Unavailable { group: String, blocked: Blocked },
    /// The prompt is known to exceed every deployment's context window.
    TooLong {
        group: String,
        tokens: u64,
        largest: u64,
    },
    /// An error that no other group would change (a router failing
    /// closed, a deployment no adapter serves).
    Final(ApiError),
}

impl GroupError {
    fn class(&self) -> FailureClass {
        match self {
            GroupError::Failed { failure, .. } => failure.class(),
            GroupError::Unavailable { blocked, .. } if blocked.rate_limited => {
                FailureClass::RateLimit
            }
            GroupError::Unavailable { .. } => FailureClass::Server,
            GroupError::TooLong { .. } => FailureClass::ContextWindow,
            GroupError::Final(_) => FailureClass::BadRequest,
        }
    }

    /// The group the failure happened in (the router's choice).
    fn group(&self) -> Option<&str> {
        match self {
            GroupError::Failed { group, .. }
            | GroupError::Unavailable { group, .. }
            | GroupError::TooLong { group, .. } => Some(group),
            GroupError::Final(_) => None,
        }
    }
}

impl Gateway {
    /// Serves `call` from `primary`, falling back to other groups.
    pub(super) async fn serve_call(
        &self,
        set: &Arc<ActiveSet>,
        primary: &ModelGroup,
        call: &Call<'_>,
    ) -> Result<Served, ApiError> {
        if let Some(groups) = &call.overrides.fallbacks
            && let Some(unknown) = groups.iter().find(|g| self.config.group(g).is_none())
        {
            let mut e = self.unknown_model(unknown);
            e.status = StatusCode::BAD_REQUEST;
            e.param = Some("fallbacks".into());
            return Err(e);
        }
        let mut progress = Progress::default();
        let first = match self
            .serve_group(set, primary, call, true, &mut progress)
            .await
        {
            Ok(served) => return Ok(progress.served(served)),
            Err(GroupError::Final(e)) => return Err(progress.error(e)),
            Err(e) => e,
        };
        // The list is chosen once, from the primary's failure, and walked to
        // its end (as LiteLLM does): a fallback failing in another way does
        // not switch lists halfway.
        let routed = first.group().unwrap_or(&primary.name).to_string();
        let first_class = first.class();
        let list = if call.overrides.disable_fallbacks {
            &[][..]
        } else {
            self.config.reliability.fallbacks_for(
                &routed,
                &primary.name,
                first.class(),
                call.overrides.fallbacks.as_deref(),
            )
        };
        let mut tried = vec![primary.name.as_str(), routed.as_str()];
        let mut errors = vec![first];
        for name in list {
            if progress.fallbacks as usize >= self.config.reliability.max_fallbacks {
                break;
            }
            let Some(group) = self.config.group(name) else {
                continue;
            };
            if tried.contains(&group.name.as_str()) {
                continue;
            }
            tried.push(&group.name);
            progress.fallbacks += 1;
            tracing::info!(to = %group.name, "falling back");
            crate::observe::fallback(&crate::observe::Fallback {
                request_id: call.ledger.call_id(),
                from: &routed,
                to: &group.name,
                reason: first_class.as_str(),
            });
            match self
                .serve_group(set, group, call, false, &mut progress)
                .await
            {
                Ok(served) => return Ok(progress.served(served)),
                Err(GroupError::Final(e)) => return Err(progress.error(e)),
                Err(e) => errors.push(e),
            }
        }
        Err(progress.error(final_error(errors)))
    }
}

/// The client's error once every group tried has failed.
fn final_error(errors: Vec<GroupError>) -> ApiError {
    // A real failure says more than an over-long prompt, and either says
    // more than "busy".
    let mut unavailable = Blocked::default();
    let mut groups = Vec::new();
    let mut failed = None;
    let mut too_long = None;
    for e in errors {
        match e {
            GroupError::Unavailable { group, blocked } => {
                if let Some(r) = blocked.retry_in {
                    unavailable.add(r, blocked.rate_limited, String::new());
                }
                unavailable.over_budget |= blocked.over_budget;
                unavailable.why.extend(blocked.why.into_iter().take(3));
                groups.push(group);
            }
            e @ GroupError::Failed { .. } => failed = Some(e),
            e @ GroupError::TooLong { .. } => {
                too_long.get_or_insert(e);
            }
            GroupError::Final(e) => return e,
        }
    }
    match failed.or(too_long) {
        Some(GroupError::Failed {
            group,
            deployment,
            failure,
            attempts,
        }) => exhausted(&deployment, &failure, &group, attempts),
        Some(GroupError::TooLong {
            group,
            tokens,
            largest,
        }) => {
            let mut e = ApiError::bad_request(format!(
                "the prompt (about {tokens} tokens) is longer than the context window of every deployment of model group {group} (the largest is {largest} tokens), and no context_window_fallbacks group could take it"
            ));
            e.code = Some("context_length_exceeded".into());
            e
        }
        Some(GroupError::Final(e)) => e,
        Some(GroupError::Unavailable { .. }) | None => {
            let why: Vec<&str> = unavailable
                .why
                .iter()
                .map(String::as_str)
                .filter(|w| !w.is_empty())
                .collect();
            let groups = groups.join(", then ");
            let why = why.join("; ");
            // Busy (cooling, at a limit): say when to come back. Otherwise
            // the router chose nothing (no deployment matches the request's
            // tags, say): waiting would not help.
            let Some(retry_in) = unavailable.retry_in else {
                return ApiError::unavailable(format!(
                    "no deployment of model group {groups} can serve this request: {why}"
                ));
            };
            let secs = retry_in.as_secs_f64().ceil().max(1.0) as u64;
            let message = format!(
                "no deployment of model group {groups} can take a request now; retry in {secs}s. {why}"
            );
            let mut e = if unavailable.over_budget && !unavailable.rate_limited {
                // Every deployment left is over its budget (or its
                // provider's): a budget refusal, as everywhere else.
                let mut e = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "budget_exceeded",
                    message.trim_end(),
                );
                e.code = Some("budget_exceeded".into());
                e
            } else if unavailable.rate_limited {
                ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limit_error",
                    message.trim_end(),
                )
            } else {
                ApiError::unavailable(message.trim_end())
            };
            e.retry_after = Some(u32::try_from(secs).unwrap_or(u32::MAX));
            e
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_cooling_is_a_429_when_rate_limited_with_retry_after() {
        let mut b = Blocked::default();
        b.add(Duration::from_millis(2500), true, "a is cooling".into());
        let e = final_error(vec![GroupError::Unavailable {
            group: "g".into(),
            blocked: b,
        }]);
        assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(e.retry_after, Some(3));
        assert!(e.message.contains("retry in 3s"), "{}", e.message);
        let mut b = Blocked::default();
        b.add(Duration::from_secs(4), false, "a is cooling".into());
        let e = final_error(vec![GroupError::Unavailable {
            group: "g".into(),
            blocked: b,
        }]);
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn nothing_chosen_is_a_503_without_a_retry_hint() {
        let b = Blocked {
            why: vec!["least-busy: no deployment tagged asia or default".into()],
            ..Blocked::default()
        };
        let e = final_error(vec![GroupError::Unavailable {
            group: "g".into(),
            blocked: b,
        }]);
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.retry_after, None);
        assert!(
            e.message.ends_with(
                "can serve this request: least-busy: no deployment tagged asia or default"
            ),
            "{}",
            e.message
        );
    }
}
