//! Serving one call across deployments and model groups.
//!
//! Within a model group: the router's order, minus deployments whose
//! context window the prompt is known to exceed, tried one after another,
//! skipping any that is cooling down or at its rpm/tpm limit this minute.
//! After a failure the group gets `num_retries` more attempts (or what
//! `retry_policy` says for the failure's class); a retry on the deployment
//! that just failed waits an exponential backoff with jitter, at least the
//! provider's `Retry-After`. Every failure is recorded, and cools the
//! deployment down when the policy says so.
//!
//! Once a group has no attempt left, the fallback groups for the failure's
//! class are tried in order (`context_window_fallbacks`,
//! `content_policy_fallbacks`, `fallbacks`, `default_fallbacks`, or the
//! request's own `fallbacks`), up to `max_fallbacks`.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Map, Value};

use crate::config::{Deployment, FailureClass, ModelGroup};
use crate::plugins::ActiveSet;
use crate::plugins::bindings::provider_api::Operation;
use crate::plugins::bindings::types::{self, Caller};
use crate::server::error::ApiError;
use crate::state::now_ms;

use super::failure::{Failure, exhausted};
use super::request::Overrides;
use super::route::Route;
use super::{Gateway, Served, ServedBody};

/// The first backoff before retrying the same deployment; it doubles per
/// retry.
const BACKOFF_BASE: Duration = Duration::from_millis(100);
/// The longest backoff.
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// A retry that would have to wait longer than this (a long `Retry-After`)
/// is not made; the call moves on to the fallbacks instead.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(10);

/// What one call is.
pub struct Call<'a> {
    pub operation: Operation,
    /// `Some(include_usage)` for a streamed chat completion.
    pub stream: Option<bool>,
    /// The client's body, without the gateway's own params.
    pub raw: &'a Map<String, Value>,
    /// What routers read; `None` (embeddings): the configured order.
    pub view: Option<&'a types::ChatRequest>,
    pub caller: &'a Caller,
    /// The prompt's estimated tokens (0: unknown, no context-window check).
    pub estimated_tokens: u64,
    pub overrides: &'a Overrides,
}

/// What the call has done so far, across groups.
#[derive(Default)]
struct Progress {
    attempts: u32,
    fallbacks: u32,
    upstream_wait: Duration,
    reason: Option<String>,
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

/// Why a deployment was passed over without an attempt.
#[derive(Debug, Default)]
struct Blocked {
    /// The soonest one of them frees up.
    retry_in: Option<Duration>,
    /// Whether a rate limit (a 429 cooldown, or rpm/tpm used up) is why.
    rate_limited: bool,
    why: Vec<String>,
}

impl Blocked {
    fn add(&mut self, retry_in: Duration, rate_limited: bool, why: String) {
        self.retry_in = Some(self.retry_in.map_or(retry_in, |r| r.min(retry_in)));
        self.rate_limited |= rate_limited;
        self.why.push(why);
    }
}

/// Why a model group could not answer.
enum GroupError {
    /// Attempts were made; the last one failed like this.
    Failed {
        group: String,
        deployment: String,
        failure: Failure,
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
    /// An error that no other group would change (a router failing closed).
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

/// The wait before retrying a deployment after `retry` retries: exponential
/// with jitter (half to all of the step), at least `Retry-After` and the
/// configured `retry_after`.
pub fn backoff(retry: u32, retry_after: Option<Duration>, least: Duration) -> Duration {
    let step = BACKOFF_BASE
        .saturating_mul(1 << retry.saturating_sub(1).min(16))
        .min(BACKOFF_MAX);
    let jittered = step.mul_f64(0.5 + 0.5 * fastrand::f64());
    jittered.max(retry_after.unwrap_or_default()).max(least)
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

    /// Serves `call` within one model group: the routed group's name, the
    /// deployment that answered and the body.
    ///
    /// A fallback group (`primary` false) is ordered by the router but not
    /// redirected: a tier router would send it back to the tier that failed.
    async fn serve_group(
        &self,
        set: &Arc<ActiveSet>,
        group: &ModelGroup,
        call: &Call<'_>,
        primary: bool,
        progress: &mut Progress,
    ) -> Result<(String, Arc<Deployment>, ServedBody), GroupError> {
        let route = match call.view {
            Some(view) => self
                .route(
                    set,
                    group,
                    view,
                    call.caller,
                    call.estimated_tokens,
                    primary,
                )
                .map_err(GroupError::Final)?,
            None => Route {
                group: group.name.clone(),
                order: group.deployments.clone(),
                reason: None,
            },
        };
        progress.reason.clone_from(&route.reason);
        let tokens = call.estimated_tokens;
        let fits: Vec<&Arc<Deployment>> = route
            .order
            .iter()
            .filter(|d| tokens == 0 || d.max_input_tokens.is_none_or(|m| tokens <= m))
            .collect();
        if fits.is_empty() && !route.order.is_empty() {
            return Err(GroupError::TooLong {
                group: route.group,
                tokens,
                largest: route
                    .order
                    .iter()
                    .filter_map(|d| d.max_input_tokens)
                    .max()
                    .unwrap_or(0),
            });
        }
        let policy = &self.config.reliability;
        let mut retries = 0u32;
        let mut attempts = 0u32;
        let mut next = 0usize;
        let mut last: Option<(Arc<Deployment>, Failure)> = None;
        // Set after a backoff: the pick that follows is made without
        // waiting again.
        let mut waited = false;
        loop {
            let mut blocked = Blocked::default();
            let now = now_ms();
            let pick = (0..fits.len())
                .map(|k| (next + k) % fits.len())
                .find(|&i| self.available(fits[i], tokens, now, &mut blocked));
            let Some(i) = pick else {
                return Err(match last {
                    Some((d, failure)) => GroupError::Failed {
                        group: route.group,
                        deployment: d.id.clone(),
                        failure,
                        attempts,
                    },
                    None => {
                        if fits.is_empty() {
                            blocked.why.push(
                                route
                                    .reason
                                    .clone()
                                    .unwrap_or_else(|| "the router chose no deployment".into()),
                            );
                        }
                        GroupError::Unavailable {
                            group: route.group,
                            blocked,
                        }
                    }
                });
            };
            let d = fits[i];
            // Trying the deployment that just failed again: back off first,
            // then pick again (it may have cooled down or used its limit
            // meanwhile, here or on another replica).
            let wait = match &last {
                Some((prev, failure)) if !waited && prev.index == d.index => {
                    Some(backoff(retries, failure.retry_after(), policy.retry_after))
                }
                _ => None,
            };
            if let Some(wait) = wait {
                if wait > MAX_RETRY_WAIT
                    && let Some((d, failure)) = last.take()
                {
                    return Err(GroupError::Failed {
                        group: route.group,
                        deployment: d.id.clone(),
                        failure,
                        attempts,
                    });
                }
                tracing::debug!(deployment = %d.id, wait_ms = wait.as_millis() as u64, "backing off before a retry");
                tokio::time::sleep(wait).await;
                // Waiting out a provider's backoff is not the gateway's own time.
                progress.upstream_wait += wait;
                waited = true;
                continue;
            }
            waited = false;
            progress.attempts += 1;
            attempts += 1;
            let result = match call.stream {
                Some(include_usage) => self
                    .try_stream(
                        set,
                        d,
                        call.raw,
                        call.caller,
                        include_usage,
                        &mut progress.upstream_wait,
                    )
                    .await
                    .map(ServedBody::Sse),
                None => self
                    .try_once(
                        call.operation.clone(),
                        set,
                        d,
                        call.raw,
                        call.caller,
                        &mut progress.upstream_wait,
                    )
                    .await
                    .map(ServedBody::Json),
            };
            match result {
                Ok(body) => return Ok((route.group, d.clone(), body)),
                Err(failure) => {
                    let class = failure.class();
                    let summary = failure.summary();
                    tracing::warn!(deployment = %d.id, class = class.as_str(), error = %summary, "attempt failed");
                    if failure.blames_deployment() {
                        self.state.record_failure(
                            d,
                            class,
                            failure.retry_after(),
                            &summary,
                            policy,
                        );
                    }
                    let allowed = policy.retries_for(class, call.overrides.num_retries);
                    if retries >= allowed {
                        return Err(GroupError::Failed {
                            group: route.group,
                            deployment: d.id.clone(),
                            failure,
                            attempts,
                        });
                    }
                    last = Some((d.clone(), failure));
                    retries += 1;
                    next = i + 1;
                }
            }
        }
    }

    /// Whether `d` can take a request now; if not, why, into `blocked`.
    fn available(&self, d: &Deployment, tokens: u64, now: u64, blocked: &mut Blocked) -> bool {
        if let Some(c) = self.state.cooldown(d) {
            let left = c.remaining(now);
            blocked.add(
                left,
                c.class == FailureClass::RateLimit,
                format!(
                    "{} is cooling down for {:.1}s ({})",
                    d.id,
                    left.as_secs_f64(),
                    c.reason
                ),
            );
            return false;
        }
        if d.rpm.is_none() && d.tpm.is_none() {
            return true;
        }
        let (rpm, tpm) = self.state.usage(d);
        let next_minute = Duration::from_millis(60_000 - now % 60_000);
        if let Some(limit) = d.rpm
            && rpm >= limit
        {
            blocked.add(
                next_minute,
                true,
                format!("{} used its rpm limit of {limit} this minute", d.id),
            );
            return false;
        }
        if let Some(limit) = d.tpm
            && (tpm >= limit || tpm.saturating_add(tokens) > limit)
        {
            blocked.add(
                next_minute,
                true,
                format!(
                    "{} used {tpm} of its tpm limit of {limit} this minute",
                    d.id
                ),
            );
            return false;
        }
        true
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
            let mut e = if unavailable.rate_limited {
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
    fn backoff_doubles_with_jitter_and_honours_retry_after() {
        for _ in 0..100 {
            let first = backoff(1, None, Duration::ZERO);
            assert!((Duration::from_millis(50)..=Duration::from_millis(100)).contains(&first));
            let third = backoff(3, None, Duration::ZERO);
            assert!((Duration::from_millis(200)..=Duration::from_millis(400)).contains(&third));
            assert!(backoff(40, None, Duration::ZERO) <= BACKOFF_MAX);
        }
        assert_eq!(
            backoff(1, Some(Duration::from_secs(2)), Duration::ZERO),
            Duration::from_secs(2)
        );
        assert_eq!(
            backoff(1, None, Duration::from_secs(1)),
            Duration::from_secs(1)
        );
    }

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
