//! Counting in this process: exact on one replica, and the fallback while
//! Redis is unreachable.
//!
//! Each scope has its own `Mutex<ScopeState>`, found through a sharded map.
//! A request locks each of its few scopes in one fixed order (by address),
//! checks every counter, and only then takes them, so admission is atomic
//! across all its limits without a global lock. Counters carry the window
//! they count in and restart when they see a newer one; scopes that hold
//! nothing live are swept away when a shard grows.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::period::{Period, minute};
use crate::plan::{Check, Hold, count, plan, remaining};
use crate::refusal::{RefusalKind, Refused};
use crate::types::{Ask, Budget, Clock, Current, Limit, Remaining, Scope};

const SHARDS: usize = 16;
/// A shard is swept when it reaches this many scopes, then at twice what
/// survived.
const MIN_SWEEP: usize = 1_024;

/// One scope's counters.
pub(crate) type Cell = Arc<Mutex<ScopeState>>;

/// What an admission holds in memory, released at settle or drop.
pub(crate) type Holds = Vec<(Scope, Cell, Hold)>;

pub(crate) struct Memory {
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
    clock: Arc<dyn Clock>,
}

struct Shard {
    map: HashMap<Scope, Cell>,
    sweep_at: usize,
}

#[derive(Default, Debug)]
pub(crate) struct ScopeState {
    /// The minute `requests` and `tokens` count in.
    minute: u64,
    requests: u64,
    tokens: u64,
    parallel: u64,
    /// One per period the scope has a budget for (almost always one).
    budgets: Vec<BudgetCell>,
}

#[derive(Debug)]
struct BudgetCell {
    period: Period,
    window: u64,
    spent: f64,
    /// Whether anything was spent or seeded in this window (a seed only
    /// fills a counter nothing has written yet, like SETNX).
    written: bool,
    /// Reservations of calls in flight; not windowed (a call that started
    /// in the last window releases what it reserved there).
    reserved: f64,
    holders: u64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ScopeState {
    /// Restarts the minute counters when `now` is in a newer minute.
    fn roll(&mut self, now: u64) {
        let m = minute(now).index;
        if self.minute != m {
            self.minute = m;
            self.requests = 0;
            self.tokens = 0;
        }
    }

    /// The budget counter of `period` in the current window, made if new.
    fn budget(&mut self, period: Period, now: u64) -> &mut BudgetCell {
        let window = period.window(now).index;
        let at = match self.budgets.iter().position(|b| b.period == period) {
            Some(at) => at,
            None => {
                self.budgets.push(BudgetCell {
                    period,
                    window,
                    spent: 0.0,
                    written: false,
                    reserved: 0.0,
                    holders: 0,
                });
                self.budgets.len() - 1
            }
        };
        let cell = &mut self.budgets[at];
        if cell.window != window {
            cell.window = window;
            cell.spent = 0.0;
            cell.written = false;
        }
        cell
    }

    /// Spent in `period`'s current window, without making a counter.
    fn spent(&self, period: Period, now: u64) -> (f64, f64) {
        let window = period.window(now).index;
        self.budgets
            .iter()
            .find(|b| b.period == period)
            .map_or((0.0, 0.0), |b| {
                let spent = if b.window == window { b.spent } else { 0.0 };
                (spent, b.reserved)
            })
    }

    /// Whether forgetting this scope loses nothing that still counts.
    fn idle(&self, now: u64) -> bool {
        let minute_over =
            self.minute != minute(now).index || (self.requests == 0 && self.tokens == 0);
        minute_over
            && self.parallel == 0
            && self.budgets.iter().all(|b| {
                b.holders == 0
                    && (b.spent == 0.0
                        || (b.period != Period::Forever && b.window != b.period.window(now).index))
            })
    }
}

impl Memory {
    pub fn new(clock: Arc<dyn Clock>) -> Memory {
        Memory {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        map: HashMap::new(),
                        sweep_at: MIN_SWEEP,
                    })
                })
                .collect(),
            hasher: RandomState::new(),
            clock,
        }
    }

    /// How many scopes are kept (for the sweep test).
    #[cfg(test)]
    pub fn scopes(&self) -> usize {
        self.shards.iter().map(|s| lock(s).map.len()).sum()
    }

    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    fn shard(&self, scope: &Scope) -> &Mutex<Shard> {
        let at = usize::try_from(self.hasher.hash_one(scope) % SHARDS as u64).unwrap_or(0);
        &self.shards[at]
    }

    fn find(&self, scope: &Scope) -> Option<Cell> {
        lock(self.shard(scope)).map.get(scope).cloned()
    }

    /// The scope's counters, made if new.
    fn cell(&self, scope: &Scope, now: u64) -> Cell {
        let mut shard = lock(self.shard(scope));
        if let Some(cell) = shard.map.get(scope) {
            return cell.clone();
        }
        if shard.map.len() >= shard.sweep_at {
            // try_lock: never wait on a scope while holding its shard.
            shard.map.retain(|_, cell| {
                Arc::strong_count(cell) > 1
                    || cell.try_lock().map_or(true, |state| !state.idle(now))
            });
            shard.sweep_at = (shard.map.len() * 2).max(MIN_SWEEP);
        }
        let cell = Cell::default();
        shard.map.insert(scope.clone(), cell.clone());
        cell
    }

    /// Checks every limit, then takes them all, or refuses touching none.
    pub fn admit(&self, limits: &[Limit], ask: &Ask) -> Result<(Remaining, Holds), Refused> {
        let now = self.now_ms();
        let checks = plan(limits, ask);
        if checks.is_empty() {
            return Ok((Remaining::default(), Vec::new()));
        }
        // One cell per distinct scope; `at[i]` is check i's cell.
        let mut cells: Vec<Cell> = Vec::with_capacity(checks.len());
        let mut at: Vec<usize> = Vec::with_capacity(checks.len());
        for (i, check) in checks.iter().enumerate() {
            match checks[..i].iter().position(|c| c.scope == check.scope) {
                Some(earlier) => at.push(at[earlier]),
                None => {
                    cells.push(self.cell(check.scope, now));
                    at.push(cells.len() - 1);
                }
            }
        }
        let mut order: Vec<usize> = (0..cells.len()).collect();
        order.sort_by_key(|&i| Arc::as_ptr(&cells[i]) as usize);
        let mut guards: Vec<Option<MutexGuard<'_, ScopeState>>> =
            cells.iter().map(|_| None).collect();
        for i in order {
            let mut state = lock(&cells[i]);
            state.roll(now);
            guards[i] = Some(state);
        }
        for (i, check) in checks.iter().enumerate() {
            let Some(state) = guards[at[i]].as_deref_mut() else {
                continue;
            };
            if let Some(refused) = refusal(state, check, now) {
                return Err(refused);
            }
        }
        let mut after = Vec::with_capacity(checks.len());
        for (i, check) in checks.iter().enumerate() {
            let Some(state) = guards[at[i]].as_deref_mut() else {
                after.push(0.0);
                continue;
            };
            after.push(take(state, check, now));
        }
        drop(guards);

        let holds = checks
            .iter()
            .zip(at)
            .filter_map(|(check, i)| {
                check
                    .hold()
                    .map(|hold| (check.scope.clone(), cells[i].clone(), hold))
            })
            .collect();
        Ok((remaining(&checks, &after, now), holds))
    }

    /// Releases what an admission holds; at settle also counts its real
    /// tokens and cost (`None` adds nothing).
    pub fn release(&self, holds: &Holds, tokens: u64, cost_usd: Option<f64>) {
        let now = self.now_ms();
        let cost = cost_usd.filter(|c| c.is_finite() && *c > 0.0);
        for (_, cell, hold) in holds {
            let mut state = lock(cell);
            state.roll(now);
            match *hold {
                Hold::Slot => state.parallel = state.parallel.saturating_sub(1),
                Hold::Tokens => state.tokens = state.tokens.saturating_add(tokens),
                Hold::Budget { period, reserved } => {
                    let budget = state.budget(period, now);
                    if reserved > 0.0 {
                        budget.holders = budget.holders.saturating_sub(1);
                        // Exactly zero once nothing is in flight: no drift.
                        budget.reserved = if budget.holders == 0 {
                            0.0
                        } else {
                            (budget.reserved - reserved).max(0.0)
                        };
                    }
                    if let Some(cost) = cost {
                        budget.spent += cost;
                        budget.written = true;
                    }
                }
            }
        }
    }

    /// Counts usage that was settled through Redis, so this fallback starts
    /// from what this process has seen when Redis goes away (nothing is
    /// held here: only the spend and tokens are added).
    pub fn mirror_usage(&self, holds: &[(Scope, Hold)], tokens: u64, cost_usd: Option<f64>) {
        let now = self.now_ms();
        let cost = cost_usd.filter(|c| c.is_finite() && *c > 0.0);
        for (scope, hold) in holds {
            match *hold {
                Hold::Budget { period, .. } => {
                    if let Some(cost) = cost {
                        let cell = self.cell(scope, now);
                        let mut state = lock(&cell);
                        let budget = state.budget(period, now);
                        budget.spent += cost;
                        budget.written = true;
                    }
                }
                Hold::Tokens if tokens > 0 => {
                    let cell = self.cell(scope, now);
                    let mut state = lock(&cell);
                    state.roll(now);
                    state.tokens = state.tokens.saturating_add(tokens);
                }
                Hold::Tokens | Hold::Slot => {}
            }
        }
    }

    /// Counts the rpm checks of a request admitted through Redis, for the
    /// same reason as [`Memory::mirror_usage`].
    pub fn mirror_requests(&self, checks: &[Check<'_>]) {
        let now = self.now_ms();
        for check in checks.iter().filter(|c| c.kind == RefusalKind::Rpm) {
            let cell = self.cell(check.scope, now);
            let mut state = lock(&cell);
            state.roll(now);
            state.requests = state.requests.saturating_add(1);
        }
    }

    /// Sets the window's spend unless something already wrote it.
    pub fn seed_spend(&self, scope: &Scope, period: &Period, spent_usd: f64) {
        let now = self.now_ms();
        let cell = self.cell(scope, now);
        let mut state = lock(&cell);
        let budget = state.budget(*period, now);
        if !budget.written {
            budget.spent = spent_usd;
            budget.written = true;
        }
    }

    pub fn add_spend(&self, scope: &Scope, period: &Period, usd: f64, tokens: u64) {
        let now = self.now_ms();
        let cell = self.cell(scope, now);
        let mut state = lock(&cell);
        state.roll(now);
        state.tokens = state.tokens.saturating_add(tokens);
        if usd.is_finite() && usd != 0.0 {
            let budget = state.budget(*period, now);
            budget.spent += usd;
            budget.written = true;
        }
    }

    /// Whether the window's spend has reached the budget.
    pub fn over_budget(&self, scope: &Scope, budget: &Budget) -> bool {
        let now = self.now_ms();
        self.find(scope)
            .is_some_and(|cell| lock(&cell).spent(budget.period, now).0 >= budget.max_usd)
    }

    pub fn current(&self, limit: &Limit) -> Current {
        let now = self.now_ms();
        let mut current = empty_current(limit, now);
        let Some(cell) = self.find(&limit.scope) else {
            return current;
        };
        let state = lock(&cell);
        let this_minute = state.minute == minute(now).index;
        if limit.rpm.is_some() && this_minute {
            current.requests = state.requests;
        }
        if limit.tpm.is_some() && this_minute {
            current.tokens = state.tokens;
        }
        if limit.max_parallel.is_some() {
            current.parallel = state.parallel;
        }
        if let Some(budget) = &limit.budget {
            (current.spent_usd, current.reserved_usd) = state.spent(budget.period, now);
        }
        current
    }
}

/// A `Current` with the window ends filled in and nothing counted.
pub(crate) fn empty_current(limit: &Limit, now: u64) -> Current {
    Current {
        window_reset_ms: limit
            .budget
            .as_ref()
            .and_then(|b| b.period.window(now).end_ms),
        minute_reset_ms: if limit.rpm.is_some() || limit.tpm.is_some() {
            minute(now).end_ms
        } else {
            None
        },
        ..Current::default()
    }
}

/// The refusal if this check's counter is full.
fn refusal(state: &mut ScopeState, check: &Check<'_>, now: u64) -> Option<Refused> {
    let (current, reserved) = match check.kind {
        RefusalKind::Budget => {
            let budget = state.budget(check.period, now);
            (budget.spent, budget.reserved)
        }
        RefusalKind::Rpm => (count(state.requests), 0.0),
        RefusalKind::Tpm => (count(state.tokens), 0.0),
        RefusalKind::Parallel => (count(state.parallel), 0.0),
    };
    (current + reserved >= check.limit).then(|| check.refuse(current, reserved, now))
}

/// Takes the check's counter; returns where it stands after.
fn take(state: &mut ScopeState, check: &Check<'_>, now: u64) -> f64 {
    match check.kind {
        RefusalKind::Budget => {
            let budget = state.budget(check.period, now);
            if check.reserve > 0.0 {
                budget.reserved += check.reserve;
                budget.holders += 1;
            }
            budget.spent + budget.reserved
        }
        RefusalKind::Rpm => {
            state.requests += 1;
            count(state.requests)
        }
        RefusalKind::Tpm => count(state.tokens),
        RefusalKind::Parallel => {
            state.parallel += 1;
            count(state.parallel)
        }
    }
}
