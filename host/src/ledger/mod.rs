//! Money on a request's path: which limits apply to a caller ([`scopes`]),
//! the check-and-reserve before the sanitisers, and the spend record each
//! request leaves ([`entry::Ledger`]), written off the path in batches.
//!
//! Counters live in the [`Limiter`] (memory, or Redis shared by replicas);
//! records go through the store's [`SpendWriter`]. Neither is waited on by
//! a request but for the one atomic limit check in Redis.

pub mod entry;
pub mod refusal;
pub mod scopes;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use switchyard_limits::{Budget, Limiter, Scope};
use switchyard_store::{SpendBy, SpendWriter, Store, StoreError};

use crate::config::Config;
use crate::config::money::LimitRule;
use crate::identity::Identity;

pub use entry::Ledger;

/// Everything money needs, shared by every request.
pub struct Accounts {
    pub limiter: Limiter,
    /// `None` when `disable_spend_logs` is set.
    pub writer: Option<SpendWriter>,
    pub identity: Arc<Identity>,
    rules: Vec<LimitRule>,
    provider_budgets: BTreeMap<String, Budget>,
    global_budget: Option<Budget>,
}

impl Accounts {
    pub fn new(
        config: &Config,
        limiter: Limiter,
        writer: Option<SpendWriter>,
        identity: Arc<Identity>,
    ) -> Accounts {
        Accounts {
            limiter,
            writer,
            identity,
            rules: config.money.rules.clone(),
            provider_budgets: config.money.provider_budgets.clone(),
            global_budget: config.money.global_budget,
        }
    }

    /// The provider's budget, if `provider_budget_config` sets one.
    pub fn provider_budget(&self, provider: &str) -> Option<&Budget> {
        self.provider_budgets.get(provider)
    }

    /// Seeds every budget counter's current window from the spend table,
    /// so a restarted single process (or a flushed Redis) still knows what
    /// was spent. Off the request path: at start, before serving.
    pub async fn seed(&self, config: &Config, store: &Store) -> Result<usize, StoreError> {
        let now = crate::state::now_ms();
        let dir = self.identity.directory();
        let mut budgets: Vec<(Scope, Budget)> = Vec::new();
        for k in dir.keys() {
            budgets.extend(scopes::key_budgets(&k));
        }
        for t in dir.teams() {
            budgets.extend(scopes::limits_budget(scopes::TEAM, &t.id, &t.record.limits));
        }
        for u in dir.users() {
            budgets.extend(scopes::limits_budget(scopes::USER, &u.id, &u.record.limits));
        }
        for e in dir.end_users() {
            budgets.extend(scopes::limits_budget(
                scopes::END_USER,
                &e.id,
                &e.record.limits,
            ));
        }
        for d in &config.deployments {
            if let Some(b) = &d.budget {
                budgets.push((scopes::deployment(&d.id), *b));
            }
        }
        for (p, b) in &self.provider_budgets {
            budgets.push((scopes::provider(p), *b));
        }
        let mut sums = Sums::default();
        let mut seeded = 0;
        for (scope, budget) in budgets {
            let Some(by) = scopes::spend_by(&scope) else {
                continue;
            };
            let since = budget.period.window(now).start_ms as i64;
            let spent = match sums.get(store, by, since).await {
                Ok(m) => m.get(&*scope.id).copied(),
                Err(e) => {
                    tracing::warn!(scope = %scope.kind, error = %e, "could not read spend to seed a budget; it starts at 0");
                    continue;
                }
            };
            if let Some(spent) = spent.filter(|s| *s > 0.0) {
                self.limiter.seed_spend(&scope, &budget.period, spent).await;
                seeded += 1;
            }
        }
        for (kind, only, by, budget) in self.rule_budgets() {
            let since = budget.period.window(now).start_ms as i64;
            let m = match sums.get(store, by, since).await {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(rule = %kind, error = %e, "could not read spend to seed a budget; it starts at 0");
                    continue;
                }
            };
            for (value, spent) in m {
                if only.as_ref().is_some_and(|o| o != value) || *spent <= 0.0 {
                    continue;
                }
                let scope = scopes::scope(&kind, value);
                self.limiter
                    .seed_spend(&scope, &budget.period, *spent)
                    .await;
                seeded += 1;
            }
        }
        if let Some(budget) = &self.global_budget {
            let since = budget.period.window(now).start_ms as i64;
            let spent: f64 = match sums.get(store, SpendBy::Model, since).await {
                Ok(m) => m.values().sum(),
                Err(e) => {
                    tracing::warn!(error = %e, "could not read spend to seed the proxy budget; it starts at 0");
                    0.0
                }
            };
            if spent > 0.0 {
                self.limiter
                    .seed_spend(&scopes::global(), &budget.period, spent)
                    .await;
                seeded += 1;
            }
        }
        Ok(seeded)
    }
}

/// Spend sums read once per grouping and window start.
#[derive(Default)]
struct Sums(HashMap<(String, i64), HashMap<String, f64>>);

impl Sums {
    async fn get(
        &mut self,
        store: &Store,
        by: SpendBy,
        since: i64,
    ) -> Result<&HashMap<String, f64>, StoreError> {
        let key = (format!("{by:?}"), since);
        if !self.0.contains_key(&key) {
            let m = store.spend_since(by, since).await?;
            self.0.insert(key.clone(), m);
        }
        Ok(self.0.entry(key).or_default())
    }
}
