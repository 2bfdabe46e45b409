//! Live state of every deployment, which routing and the retry logic read:
//! requests in flight, latency averages, requests and tokens used this
//! minute, failures, cooldowns and health-check results.
//!
//! Each deployment has one [`cell::Cell`], found by `Deployment::index`, so
//! the request path takes no map lookups and no allocations. With Redis
//! configured, cooldowns and per-minute usage are shared with every replica
//! by a background sync ([`shared`]); the request path never waits on Redis,
//! and a replica that loses Redis keeps serving on its own counts.

pub mod cell;
pub mod shared;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::{Config, Deployment, FailureClass, Reliability};

pub use cell::{Cooldown, Health, RECENT_MINUTES, Recent, Snapshot};
pub use shared::SharedStatus;

/// Milliseconds since the Unix epoch: cooldowns are kept in wall-clock
/// time so replicas can share them.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// What makes a deployment "the same one" across a reload: its group,
/// provider, model and API base, and its `model_info.id` when the file
/// sets one. The generated id (`<group>/<index>`) is left out: removing an
/// entry earlier in the file shifts it onto another deployment. Identical
/// entries are told apart by their order.
fn carry_keys(config: &Config) -> Vec<String> {
    let mut seen: std::collections::HashMap<String, usize> = Default::default();
    config
        .deployments
        .iter()
        .map(|d| {
            let explicit = d.model_info.get("id").map(|v| v.to_string());
            let key = format!(
                "{:?}",
                (&d.group, &d.provider, &d.model, &d.api_base, explicit)
            );
            let n = seen.entry(key.clone()).or_default();
            *n += 1;
            format!("{key}#{n}")
        })
        .collect()
}

/// Counts a request in flight until dropped.
pub struct InFlight {
    state: Arc<State>,
    index: usize,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(c) = self.state.cells.get(self.index) {
            c.end();
        }
    }
}

/// The state of every deployment of one config.
pub struct State {
    /// Shared with the state of the config this one replaced, for the
    /// deployments both have (see [`State::carry`]).
    cells: Vec<Arc<cell::Cell>>,
    latency_ttl: Duration,
    /// Set once, by [`State::share`], before the gateway serves.
    shared: OnceLock<Arc<shared::Shared>>,
}

impl State {
    /// In-memory state for `config`'s deployments; call [`State::share`]
    /// to sync it through Redis.
    pub fn new(config: &Config) -> State {
        State {
            cells: config.deployments.iter().map(|_| Arc::default()).collect(),
            latency_ttl: config.latency_ttl,
            shared: OnceLock::new(),
        }
    }

    /// State for a reloaded `config`: a deployment that `old`'s config also
    /// had (same id) keeps its cell, so its cooldown, latency averages,
    /// usage this minute and requests in flight carry over (a request in
    /// flight on the old config ends on the same cell); new deployments
    /// start fresh and removed ones drop with `old`. Call
    /// [`State::share`] after, as for [`State::new`].
    pub fn carry(config: &Config, old: &State, old_config: &Config) -> State {
        let mut by_key: std::collections::HashMap<String, &Arc<cell::Cell>> = Default::default();
        for (d, key) in old_config.deployments.iter().zip(carry_keys(old_config)) {
            if let Some(c) = old.cells.get(d.index as usize) {
                by_key.insert(key, c);
            }
        }
        State {
            cells: carry_keys(config)
                .iter()
                .map(|k| by_key.get(k).map_or_else(Arc::default, |c| Arc::clone(c)))
                .collect(),
            latency_ttl: config.latency_ttl,
            shared: OnceLock::new(),
        }
    }

    /// How many deployments' cells `self` shares with `other` (for the
    /// reload's log line).
    pub fn shared_cells(&self, other: &State) -> usize {
        self.cells
            .iter()
            .filter(|c| other.cells.iter().any(|o| Arc::ptr_eq(c, o)))
            .count()
    }

    /// Shares cooldowns and usage through Redis (when configured), with a
    /// background task on the current tokio runtime.
    pub fn share(self: &Arc<Self>, config: &Config) -> Result<(), String> {
        let Some(settings) = &config.redis else {
            return Ok(());
        };
        let ids = config.deployments.iter().map(|d| d.id.as_str());
        let shared = shared::Shared::new(settings, ids)?;
        if self.shared.set(shared.clone()).is_err() {
            return Err("state is already shared".into());
        }
        // The sync task holds the state weakly, so dropping the gateway
        // stops it.
        shared::spawn_sync(shared, Arc::downgrade(self));
        Ok(())
    }

    fn cell(&self, d: &Deployment) -> Option<&cell::Cell> {
        self.cells.get(d.index as usize).map(|c| &**c)
    }

    pub(crate) fn cells(&self) -> &[Arc<cell::Cell>] {
        &self.cells
    }

    /// Counts a request to `d` as started (in flight until the guard drops,
    /// and one request towards this minute's rpm).
    pub fn start(self: &Arc<Self>, d: &Deployment) -> InFlight {
        if let Some(c) = self.cell(d) {
            c.start();
        }
        InFlight {
            state: self.clone(),
            index: d.index as usize,
        }
    }

    /// Records a finished call's latency (and time to first token for
    /// streams) and its tokens.
    pub fn finish(
        &self,
        d: &Deployment,
        latency: Option<Duration>,
        ttft: Option<Duration>,
        tokens: u64,
    ) {
        if let Some(c) = self.cell(d) {
            c.finish(latency, ttft, tokens);
        }
    }

    /// What routing sees of `d` now.
    pub fn snapshot(&self, d: &Deployment) -> Snapshot {
        self.cell(d)
            .map(|c| c.snapshot(now_ms(), self.latency_ttl))
            .unwrap_or_default()
    }

    /// The last failure of `d` (traffic or health check), with its Unix ms.
    pub fn last_error(&self, d: &Deployment) -> Option<(u64, String)> {
        self.cell(d).and_then(|c| c.last_error())
    }

    /// Attempts on `d` and the failures that blamed it over the last
    /// [`RECENT_MINUTES`], for the admin API's error rate.
    pub fn recent(&self, d: &Deployment) -> Recent {
        self.cell(d)
            .map_or_else(Recent::default, |c| c.recent(now_ms()))
    }

    /// Requests and tokens `d` has used this minute.
    pub fn usage(&self, d: &Deployment) -> (u64, u64) {
        self.cell(d).map_or((0, 0), |c| c.usage(now_ms()))
    }

    /// The cooldown `d` is in, if any.
    pub fn cooldown(&self, d: &Deployment) -> Option<Cooldown> {
        self.cell(d).and_then(|c| c.cooldown(now_ms()))
    }

    /// Records a failure that blames `d` (see `Failure::blames_deployment`)
    /// and cools `d` down when the policy says so: more failures of this
    /// class this minute than allowed, or a `Retry-After` on a rate limit.
    /// Returns the cooldown taken.
    pub fn record_failure(
        &self,
        d: &Deployment,
        class: FailureClass,
        retry_after: Option<Duration>,
        message: &str,
        policy: &Reliability,
    ) -> Option<Cooldown> {
        let cell = self.cell(d)?;
        let now = now_ms();
        let fails = cell.count_failure(class, now, message);
        if policy.disable_cooldowns {
            return None;
        }
        let over = fails > policy.allowed_fails_for(class);
        let told = class == FailureClass::RateLimit && retry_after.is_some();
        if !(over || told) {
            return None;
        }
        let length = policy.cooldown_time.max(retry_after.unwrap_or_default());
        if length.is_zero() {
            return None;
        }
        let cooldown = Cooldown {
            until_ms: now.saturating_add(u64::try_from(length.as_millis()).unwrap_or(u64::MAX)),
            class,
            reason: format!(
                "{} {} this minute ({}): {}",
                fails,
                if fails == 1 { "failure" } else { "failures" },
                class.as_str(),
                message
            ),
        };
        tracing::warn!(deployment = %d.id, class = class.as_str(), seconds = length.as_secs_f64(), reason = %cooldown.reason, "deployment cooling down");
        crate::observe::cooled(&crate::observe::Cooled {
            model_group: &d.group,
            deployment: &d.id,
            provider: &d.provider,
            seconds: length.as_secs_f64(),
            class: class.as_str(),
            reason: &cooldown.reason,
        });
        cell.set_cooldown(cooldown.clone());
        if let Some(shared) = self.shared.get() {
            shared.publish_cooldown(d.index as usize, &cooldown);
        }
        Some(cooldown)
    }

    /// Records a background health check's result.
    pub fn set_health(&self, d: &Deployment, health: Health) {
        if let Some(c) = self.cell(d) {
            c.set_health(health);
        }
    }

    /// How replicas share state, for `/health/readiness`.
    pub fn shared_status(&self) -> SharedStatus {
        match self.shared.get() {
            Some(s) => s.status(),
            None => SharedStatus::memory(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config(entries: &[(&str, &str)]) -> Config {
        let mut text = String::from("model_list:\n");
        for (group, model) in entries {
            text.push_str(&format!(
                "  - model_name: {group}\n    litellm_params:\n      model: openai/{model}\n"
            ));
        }
        Config::parse_with_env(&text, Path::new("."), &|_| None).unwrap()
    }

    fn cool(state: &State, d: &Deployment) {
        let policy = Reliability {
            allowed_fails: 0,
            cooldown_time: Duration::from_secs(60),
            ..Reliability::default()
        };
        assert!(
            state
                .record_failure(d, FailureClass::Server, None, "boom", &policy)
                .is_some()
        );
    }

    #[test]
    fn state_carries_over_by_deployment_not_by_position() {
        let old_config = config(&[("a", "x"), ("a", "y"), ("b", "z")]);
        let old = Arc::new(State::new(&old_config));
        cool(&old, &old_config.deployments[1]);
        let in_flight = old.start(&old_config.deployments[2]);
        old.finish(
            &old_config.deployments[2],
            Some(Duration::from_millis(40)),
            None,
            7,
        );

        // `a/x` removed (every later position moves), `c/w` added first.
        let new_config = config(&[("c", "w"), ("a", "y"), ("b", "z")]);
        let new = State::carry(&new_config, &old, &old_config);
        let [w, y, z] = [0, 1, 2].map(|i| new_config.deployments[i].clone());
        assert!(new.cooldown(&y).is_some(), "a/y stays cooling");
        assert!(new.cooldown(&w).is_none());
        let s = new.snapshot(&z);
        assert_eq!((s.in_flight, s.rpm_used, s.tpm_used), (1, 1, 7));
        assert_eq!(s.latency_avg_ms, Some(40.0));
        assert_eq!(
            new.snapshot(&w).rpm_used,
            0,
            "a new deployment starts fresh"
        );
        assert_eq!(new.shared_cells(&old), 2);
        // The request in flight on the old config ends on the same cell.
        drop(in_flight);
        assert_eq!(new.snapshot(&z).in_flight, 0);
    }

    #[test]
    fn a_changed_deployment_starts_fresh() {
        let old_config = config(&[("a", "x")]);
        let old = Arc::new(State::new(&old_config));
        cool(&old, &old_config.deployments[0]);
        let new_config = config(&[("a", "x2")]);
        let new = State::carry(&new_config, &old, &old_config);
        assert!(new.cooldown(&new_config.deployments[0]).is_none());
        assert_eq!(new.shared_cells(&old), 0);
    }
}
