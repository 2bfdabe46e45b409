//! Serving one call within one model group, in four steps: pick the next
//! deployment that can take it, back off before retrying one that just
//! failed, make the attempt, record its failure.
//!
//! The router's order, minus deployments whose context window the prompt
//! is known to exceed, is tried one after another, skipping any that is
//! cooling down or at its rpm/tpm limit this minute. After a failure the
//! group gets `num_retries` more attempts (or what `retry_policy` says for
//! the failure's class); a retry on the deployment that just failed waits
//! an exponential backoff with jitter, at least the provider's
//! `Retry-After`. Every failure is recorded, and cools the deployment down
//! when the policy says so. A configuration error (no adapter for a
//! deployment's prefix) ends the whole call at once.

use std::sync::Arc;
use std::time::Duration;

use crate::config::{Deployment, FailureClass, ModelGroup};
use crate::plugins::ActiveSet;
use crate::state::now_ms;

use super::failure::Failure;
use super::retry::{Call, GroupError, Progress};
use super::route::Route;
use super::{Gateway, ServedBody};
use crate::ledger::{Accounts, scopes};

/// The first backoff before retrying the same deployment; it doubles per
/// retry.
const BACKOFF_BASE: Duration = Duration::from_millis(100);
/// The longest backoff.
pub(super) const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// A retry that would have to wait longer than this (a long `Retry-After`)
/// is not made; the call moves on to the fallbacks instead.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(10);

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

/// Why a deployment was passed over without an attempt.
#[derive(Debug, Default)]
pub(super) struct Blocked {
    /// The soonest one of them frees up.
    pub retry_in: Option<Duration>,
    /// Whether a rate limit (a 429 cooldown, or rpm/tpm used up) is why.
    pub rate_limited: bool,
    /// Whether a spent budget (the deployment's or its provider's) is why.
    pub over_budget: bool,
    pub why: Vec<String>,
}

impl Blocked {
    pub fn add(&mut self, retry_in: Duration, rate_limited: bool, why: String) {
        self.retry_in = Some(self.retry_in.map_or(retry_in, |r| r.min(retry_in)));
        self.rate_limited |= rate_limited;
        self.why.push(why);
    }
}

/// One group's run: its route, and what the attempts so far have left.
struct GroupRun {
    /// The routed group (the router may have redirected the call).
    group: String,
    reason: Option<String>,
    /// The deployments whose context window fits, in the router's order.
    fits: Vec<Arc<Deployment>>,
    /// Where the next pick starts.
    next: usize,
    /// Where the last pick was.
    at: usize,
    retries: u32,
    attempts: u32,
    /// The last failure, and where.
    last: Option<(Arc<Deployment>, Failure)>,
    /// Set after a backoff: the pick that follows is made without waiting
    /// again.
    waited: bool,
}

impl GroupRun {
    /// The group's error once no attempt is left, or none could be made.
    fn give_up(&mut self, mut blocked: Blocked) -> GroupError {
        let group = self.group.clone();
        match self.last.take() {
            Some((d, failure)) => GroupError::Failed {
                group,
                deployment: d.id.clone(),
                failure: Box::new(failure),
                attempts: self.attempts,
            },
            None => {
                if self.fits.is_empty() {
                    blocked.why.push(
                        self.reason
                            .clone()
                            .unwrap_or_else(|| "the router chose no deployment".into()),
                    );
                }
                GroupError::Unavailable { group, blocked }
            }
        }
    }
}

impl Gateway {
    /// Serves `call` within one model group: the routed group's name, the
    /// deployment that answered and the body.
    ///
    /// A fallback group (`primary` false) is ordered by the router but not
    /// redirected: a tier router would send it back to the tier that failed.
    pub(super) async fn serve_group(
        &self,
        set: &Arc<ActiveSet>,
        group: &ModelGroup,
        call: &Call<'_>,
        primary: bool,
        progress: &mut Progress,
    ) -> Result<(String, Arc<Deployment>, ServedBody), GroupError> {
        let mut run = self.start_group(set, group, call, primary)?;
        progress.reason.clone_from(&run.reason);
        loop {
            let d = self.pick(&mut run, call)?;
            if self.back_off(&mut run, &d, progress).await? {
                continue;
            }
            progress.attempts += 1;
            run.attempts += 1;
            let began = std::time::Instant::now();
            let result = self
                .attempt(call, set, &d, &mut progress.upstream_wait)
                .await;
            crate::observe::attempted(&crate::observe::Attempted {
                model_group: &run.group,
                deployment: &d.id,
                provider: &d.provider,
                latency: began.elapsed(),
                failure: result.as_ref().err().map(|f| f.class().as_str()),
                retry: progress.attempts > 1,
            });
            match result {
                Ok(body) => return Ok((run.group, d, body)),
                Err(failure) => self.record(&mut run, d, failure, call)?,
            }
        }
    }

    /// Routes the group and keeps the deployments the prompt fits.
    fn start_group(
        &self,
        set: &ActiveSet,
        group: &ModelGroup,
        call: &Call<'_>,
        primary: bool,
    ) -> Result<GroupRun, GroupError> {
        let tokens = call.estimated_tokens;
        let route = match call.view {
            Some(view) => self
                .route(set, group, view, call.caller, tokens, primary)
                .map_err(GroupError::Final)?,
            None => Route {
                group: group.name.clone(),
                order: group.deployments.clone(),
                reason: None,
            },
        };
        let largest = route.order.iter().filter_map(|d| d.max_input_tokens).max();
        let routed = !route.order.is_empty();
        let mut fits = route.order;
        fits.retain(|d| tokens == 0 || d.max_input_tokens.is_none_or(|m| tokens <= m));
        if fits.is_empty() && routed {
            return Err(GroupError::TooLong {
                group: route.group,
                tokens,
                largest: largest.unwrap_or(0),
            });
        }
        Ok(GroupRun {
            group: route.group,
            reason: route.reason,
            fits,
            next: 0,
            at: 0,
            retries: 0,
            attempts: 0,
            last: None,
            waited: false,
        })
    }

    /// The next deployment, from where the last pick left off, that can
    /// take a request now; else the group's error.
    fn pick(&self, run: &mut GroupRun, call: &Call<'_>) -> Result<Arc<Deployment>, GroupError> {
        let tokens = call.estimated_tokens;
        let accounts = call.ledger.accounts();
        let mut blocked = Blocked::default();
        let now = now_ms();
        let n = run.fits.len();
        let found = (0..n).map(|k| (run.next + k) % n).find(|&i| {
            self.available(&run.fits[i], tokens, now, &mut blocked)
                && within_budget(accounts, &run.fits[i], &mut blocked)
        });
        match found {
            Some(i) => {
                run.at = i;
                Ok(run.fits[i].clone())
            }
            None => Err(run.give_up(blocked)),
        }
    }

    /// Before trying the deployment that just failed again: waits its
    /// backoff and says so (`true`: pick again, as it may have cooled down
    /// or used its limit meanwhile, here or on another replica). A wait
    /// over [`MAX_RETRY_WAIT`] ends the group instead.
    async fn back_off(
        &self,
        run: &mut GroupRun,
        d: &Deployment,
        progress: &mut Progress,
    ) -> Result<bool, GroupError> {
        let wait = match &run.last {
            Some((prev, failure)) if !run.waited && prev.index == d.index => backoff(
                run.retries,
                failure.retry_after(),
                self.config.reliability.retry_after,
            ),
            _ => {
                run.waited = false;
                return Ok(false);
            }
        };
        if wait > MAX_RETRY_WAIT {
            return Err(run.give_up(Blocked::default()));
        }
        tracing::debug!(deployment = %d.id, wait_ms = wait.as_millis() as u64, "backing off before a retry");
        tokio::time::sleep(wait).await;
        // Waiting out a provider's backoff is not the gateway's own time.
        progress.upstream_wait += wait;
        run.waited = true;
        Ok(true)
    }

    /// Records a failed attempt on `d`: logged, counted against the
    /// deployment when it is to blame, and kept as the group's last
    /// failure. The group's error once no retry is left, and the call's
    /// when the failure ends it.
    fn record(
        &self,
        run: &mut GroupRun,
        d: Arc<Deployment>,
        failure: Failure,
        call: &Call<'_>,
    ) -> Result<(), GroupError> {
        let policy = &self.config.reliability;
        let class = failure.class();
        let summary = failure.summary();
        if failure.ends_the_request() {
            tracing::error!(deployment = %d.id, error = %summary, "configuration error");
            return Err(GroupError::Final(failure.to_api(&d.id)));
        }
        tracing::warn!(deployment = %d.id, class = class.as_str(), error = %summary, "attempt failed");
        if failure.blames_deployment() {
            self.state
                .record_failure(&d, class, failure.retry_after(), &summary, policy);
        }
        let retries_left = run.retries < policy.retries_for(class, call.overrides.num_retries);
        run.last = Some((d, failure));
        if !retries_left {
            return Err(run.give_up(Blocked::default()));
        }
        run.retries += 1;
        run.next = run.at + 1;
        Ok(())
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

/// Whether `d`'s own budget and its provider's have money left this
/// window (read from memory: no round trip); if not, why, into `blocked`.
fn within_budget(accounts: &Accounts, d: &Deployment, blocked: &mut Blocked) -> bool {
    let limiter = &accounts.limiter;
    let spent = [
        d.budget
            .as_ref()
            .map(|b| (scopes::deployment(&d.id), b, "its budget")),
        accounts
            .provider_budget(&d.provider)
            .map(|b| (scopes::provider(&d.provider), b, "its provider's budget")),
    ];
    for (scope, budget, whose) in spent.into_iter().flatten() {
        if limiter.over_budget(&scope, budget) {
            let now = crate::state::now_ms();
            let reset = budget
                .period
                .window(now)
                .end_ms
                .map_or(Duration::from_secs(86_400), |end| {
                    Duration::from_millis(end.saturating_sub(now))
                });
            blocked.add(
                reset,
                false,
                format!(
                    "{} has spent {whose} of ${} per {}",
                    d.id, budget.max_usd, budget.period
                ),
            );
            blocked.over_budget = true;
            return false;
        }
    }
    true
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
}
