//! What the host hands in (scopes, limits, asks) and reads back (usage,
//! remaining figures, status).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::period::Period;

/// What a counter belongs to, e.g. `("key", "<hash>")`, `("team", "t1")`,
/// `("metadata.organization_id", "org_1")`, `("key_model", "<hash>/gpt-4o")`.
/// `Arc<str>` so the host can keep scopes with its cached keys and hand them
/// in per request without allocating.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Scope {
    /// The kind of owner (`key`, `team`, `user`, ...).
    pub kind: Arc<str>,
    /// The owner's id within its kind. May be secret (a key hash): it is
    /// never shown in messages, [`Limit::label`] is.
    pub id: Arc<str>,
}

impl Scope {
    /// A scope from anything string-like.
    pub fn new(kind: impl Into<Arc<str>>, id: impl Into<Arc<str>>) -> Scope {
        Scope {
            kind: kind.into(),
            id: id.into(),
        }
    }
}

/// The limits of one scope that apply to a request. Fields left `None` are
/// not enforced (and not counted).
#[derive(Clone, Debug, PartialEq)]
pub struct Limit {
    /// Whose counters these are.
    pub scope: Scope,
    /// Shown to clients in refusals instead of raw ids when ids are secret
    /// (key hashes): e.g. `key my-alias`. Never a secret.
    pub label: String,
    /// Requests per fixed, epoch-aligned minute.
    pub rpm: Option<u64>,
    /// Tokens per fixed minute (counted when calls settle).
    pub tpm: Option<u64>,
    /// Calls in flight at once.
    pub max_parallel: Option<u64>,
    /// Spend per period.
    pub budget: Option<Budget>,
}

impl Limit {
    /// A limit with nothing set yet, to fill in with struct update syntax.
    pub fn new(scope: Scope, label: impl Into<String>) -> Limit {
        Limit {
            scope,
            label: label.into(),
            rpm: None,
            tpm: None,
            max_parallel: None,
            budget: None,
        }
    }
}

/// At most `max_usd` spent per window of `period`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Budget {
    /// The most a window may spend, in US dollars.
    pub max_usd: f64,
    /// How long a window lasts.
    pub period: Period,
}

/// What a request asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Ask {
    /// Estimated tokens this request may use. Informational: tpm counts
    /// the real tokens at settle, and admits while the minute is under its
    /// limit (the call that crosses it is answered, the next refused).
    pub tokens: u64,
    /// The call's maximum cost, reserved against budgets until it settles;
    /// `None` (unknown) reserves nothing.
    pub max_cost_usd: Option<f64>,
}

/// Current-window usage of one limit's scope, for `/key/info`, `/usage` and
/// rate-limit headers. Only what the limit enforces is counted: `requests`
/// is 0 unless it has an `rpm`, `tokens` unless it has a `tpm`, and so on.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Current {
    /// Requests admitted this minute.
    pub requests: u64,
    /// Tokens settled this minute.
    pub tokens: u64,
    /// Calls in flight.
    pub parallel: u64,
    /// Spent in the budget's current window.
    pub spent_usd: f64,
    /// When the budget's window ends (Unix ms); `None` without a budget or
    /// for a `forever` budget.
    pub window_reset_ms: Option<u64>,
    /// Reserved by calls in flight against the budget (not yet spent).
    pub reserved_usd: f64,
    /// When the current rpm/tpm minute ends (Unix ms), if either is set.
    pub minute_reset_ms: Option<u64>,
}

/// Remaining figures for OpenAI's `x-ratelimit-*` headers: the tightest rpm
/// and tpm limits among those checked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Remaining {
    /// Requests left this minute under the tightest rpm limit.
    pub requests: Option<u64>,
    /// Tokens left this minute under the tightest tpm limit.
    pub tokens: Option<u64>,
    /// Seconds until the requests minute resets.
    pub reset_requests_s: Option<u64>,
    /// Seconds until the tokens minute resets.
    pub reset_tokens_s: Option<u64>,
    /// The tightest rpm limit itself (`x-ratelimit-limit-requests`).
    pub limit_requests: Option<u64>,
    /// The tightest tpm limit itself (`x-ratelimit-limit-tokens`).
    pub limit_tokens: Option<u64>,
}

/// Where limits are counted, as `/health/readiness` reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LimiterStatus {
    /// `memory` (this process only) or `redis`.
    pub backend: &'static str,
    /// For Redis: whether the last round trip reached it. Always true for
    /// memory.
    pub connected: bool,
    /// For Redis: why it is not connected (never holds a secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The time windows are computed from. Injectable so tests can cross
/// minute boundaries without waiting.
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
}

/// The system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

/// A clock that moves only when told to, for tests (the host's too).
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// A clock stopped at `now_ms`.
    pub fn new(now_ms: u64) -> Arc<ManualClock> {
        Arc::new(ManualClock(AtomicU64::new(now_ms)))
    }

    /// Moves the clock to `now_ms`.
    pub fn set(&self, now_ms: u64) {
        self.0.store(now_ms, Ordering::SeqCst);
    }

    /// Moves the clock forward.
    pub fn advance_ms(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}
