//! What `/metrics` reads when it is scraped rather than counts as it
//! happens: each deployment's state, each plugin's idle instances, the
//! remaining budget of each team (and key alias, when caller labels are
//! on), the spend writer's queue, and whether Redis and the database
//! answer (what `/health/readiness` shows).
//!
//! Budgets come from the limiter: in memory mode a read of this process's
//! counters; with Redis, one pipelined read per budget, all at once, and
//! left out if they do not all answer within [`BUDGET_READ_LIMIT`] (a
//! scrape never waits longer on Redis).

use std::time::Duration;

use futures::future::join_all;
use switchyard_limits::{Budget, Limit};
use switchyard_store::WriterStats;

use crate::gateway::Gateway;
use crate::identity::Identity;
use crate::ledger::{Accounts, scopes};
use crate::plugins::Registry;
use crate::plugins::loaded::Instances;
use crate::state::Health;

/// How long a scrape waits for Redis's budget counters.
pub const BUDGET_READ_LIMIT: Duration = Duration::from_secs(1);
/// Most budgets read per scrape.
pub const MAX_BUDGETS: usize = 5_000;

/// A deployment's state as `switchyard_deployment_state` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeploymentState {
    Healthy = 0,
    Cooling = 1,
    Unhealthy = 2,
}

/// One plugin's idle instances.
#[derive(Debug, Clone)]
pub struct PluginInstances {
    pub name: String,
    pub kind: &'static str,
    pub idle: usize,
}

/// A budget's window now.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetNow {
    pub max_usd: f64,
    pub spent_usd: f64,
    /// When the window ends (Unix ms); `None` for a budget that never resets.
    pub reset_ms: Option<u64>,
}

/// A team, with its budget when it has one.
#[derive(Debug, Clone)]
pub struct Team {
    pub id: String,
    pub alias: Option<String>,
    pub budget: Option<BudgetNow>,
}

/// A key with an alias and a budget.
#[derive(Debug, Clone)]
pub struct KeyBudget {
    pub alias: String,
    pub budget: BudgetNow,
}

/// Everything read at one scrape.
#[derive(Debug, Clone, Default)]
pub struct Scraped {
    /// By deployment id, for the deployments the serving config has (a
    /// config reload may have added, removed or moved some since the
    /// metrics' per-deployment series were made).
    pub states: std::collections::HashMap<String, DeploymentState>,
    pub plugins: Vec<PluginInstances>,
    pub teams: Vec<Team>,
    pub keys: Vec<KeyBudget>,
    pub writer: Option<WriterStats>,
    /// Each part that uses Redis (`limits`, `state`, `cache`) and whether
    /// it answers.
    pub redis: Vec<(&'static str, bool)>,
    /// When milliseconds since the epoch were read.
    pub now_ms: u64,
}

/// Reads it all; `caller_labels` says whether key aliases are shown.
pub async fn gather(
    gateway: &Gateway,
    registry: &Registry,
    accounts: &Accounts,
    identity: &Identity,
    caller_labels: bool,
) -> Scraped {
    let now_ms = crate::state::now_ms();
    let set = registry.snapshot();
    let states = gateway
        .config
        .deployments
        .iter()
        .map(|d| {
            let s = gateway.state.snapshot(d);
            let state = if set.provider_for(&d.provider).is_none()
                || matches!(s.health, Health::Unhealthy { .. })
            {
                DeploymentState::Unhealthy
            } else if s.cooldown.is_some() {
                DeploymentState::Cooling
            } else {
                DeploymentState::Healthy
            };
            (d.id.clone(), state)
        })
        .collect();
    let mut plugins: Vec<PluginInstances> = set
        .iter()
        .map(|p| PluginInstances {
            name: p.name().to_string(),
            kind: p.kind().as_str(),
            idle: idle(&p.instances),
        })
        .collect();
    plugins.sort_by(|a, b| a.name.cmp(&b.name));
    let (teams, keys) = budgets(accounts, identity, caller_labels).await;
    let mut redis = Vec::new();
    let limits = accounts.limiter.status();
    if limits.backend == "redis" {
        redis.push(("limits", limits.connected));
    }
    let shared = gateway.state.shared_status();
    if shared.backend == "redis" {
        redis.push(("state", shared.connected));
    }
    if let Some(c) = &gateway.cache {
        let s = c.store.status();
        if let Some(up) = s.reachable {
            redis.push(("cache", up));
        } else if s.cache_type == "redis" {
            redis.push(("cache", false));
        }
    }
    Scraped {
        states,
        plugins,
        teams,
        keys,
        writer: accounts.writer.as_ref().map(|w| w.stats()),
        redis,
        now_ms,
    }
}

fn idle(instances: &Instances) -> usize {
    match instances {
        Instances::Router(p) => p.idle_count(),
        Instances::Provider(p) => p.idle_count(),
        Instances::Sanitizer(p) => p.idle_count(),
        Instances::Cost(p) => p.idle_count(),
    }
}

/// Every team (with its budget now, if it has one) and every key alias
/// with a budget.
async fn budgets(
    accounts: &Accounts,
    identity: &Identity,
    caller_labels: bool,
) -> (Vec<Team>, Vec<KeyBudget>) {
    let dir = identity.directory();
    let mut teams: Vec<Team> = dir
        .teams()
        .iter()
        .map(|t| Team {
            id: t.id.clone(),
            alias: t.record.team_alias.clone(),
            budget: None,
        })
        .collect();
    teams.sort_by(|a, b| a.id.cmp(&b.id));
    // (team index or key alias, the limit to read)
    let mut asks: Vec<(Result<usize, String>, Limit)> = Vec::new();
    for (i, t) in teams.iter().enumerate() {
        let Some(team) = dir.team(&t.id) else {
            continue;
        };
        if let Some((scope, budget)) =
            scopes::limits_budget(scopes::TEAM, &team.id, &team.record.limits)
        {
            asks.push((Ok(i), budget_limit(scope, budget)));
        }
    }
    if caller_labels {
        let mut keys = dir.keys();
        keys.sort_by(|a, b| a.record.key_alias.cmp(&b.record.key_alias));
        for k in keys {
            let Some(alias) = &k.record.key_alias else {
                continue;
            };
            let own = scopes::key_budgets(&k)
                .into_iter()
                .find(|(s, _)| &*s.kind == scopes::KEY);
            if let Some((scope, budget)) = own {
                asks.push((Err(alias.clone()), budget_limit(scope, budget)));
            }
        }
    }
    asks.truncate(MAX_BUDGETS);
    let reads = join_all(asks.iter().map(|(_, l)| accounts.limiter.current(l)));
    let Ok(currents) = tokio::time::timeout(BUDGET_READ_LIMIT, reads).await else {
        tracing::warn!(
            budgets = asks.len(),
            "budget counters did not answer within {BUDGET_READ_LIMIT:?}; /metrics leaves remaining budgets out"
        );
        return (teams, Vec::new());
    };
    let mut keys = Vec::new();
    for ((who, limit), current) in asks.into_iter().zip(currents) {
        let Some(budget) = limit.budget else {
            continue;
        };
        let now = BudgetNow {
            max_usd: budget.max_usd,
            spent_usd: current.spent_usd,
            reset_ms: current.window_reset_ms,
        };
        match who {
            Ok(i) => {
                if let Some(t) = teams.get_mut(i) {
                    t.budget = Some(now);
                }
            }
            Err(alias) => keys.push(KeyBudget { alias, budget: now }),
        }
    }
    (teams, keys)
}

fn budget_limit(scope: switchyard_limits::Scope, budget: Budget) -> Limit {
    Limit {
        budget: Some(budget),
        ..Limit::new(scope, "metrics")
    }
}
