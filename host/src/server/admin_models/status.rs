//! One deployment's status as the admin API and `/health` show it, read
//! from the live state and the limiter's memory: no provider is called.

use serde_json::{Value, json};
use switchyard_limits::{Budget, Limit, Limiter, Scope};

use crate::config::Deployment;
use crate::ledger::{Accounts, scopes};
use crate::plugins::ActiveSet;
use crate::state::{Health, RECENT_MINUTES, Recent, Snapshot, State};

/// Where a deployment stands, worst first: a deployment the gateway
/// cannot call is unhealthy whatever else holds; a cooldown and a spent
/// budget keep it out of routing; a failed health check puts it last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Healthy,
    Unhealthy,
    CoolingDown,
    BudgetExhausted,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Healthy => "healthy",
            Status::Unhealthy => "unhealthy",
            Status::CoolingDown => "cooling_down",
            Status::BudgetExhausted => "budget_exhausted",
        }
    }

    pub const ALL: [Status; 4] = [
        Status::Healthy,
        Status::Unhealthy,
        Status::CoolingDown,
        Status::BudgetExhausted,
    ];
}

/// What is known of one deployment now.
pub struct Live<'a> {
    pub d: &'a Deployment,
    pub snapshot: Snapshot,
    pub status: Status,
    /// Why it is not healthy.
    pub reason: Option<String>,
    pub recent: Recent,
    /// The last failure (traffic or health check) and its Unix ms.
    pub last_error: Option<(u64, String)>,
}

/// Reads `d`'s status now.
pub fn read<'a>(
    state: &State,
    accounts: &Accounts,
    set: &ActiveSet,
    d: &'a Deployment,
) -> Live<'a> {
    let snapshot = state.snapshot(d);
    let (status, reason) = if set.provider_for(&d.provider).is_none() {
        (
            Status::Unhealthy,
            Some(format!(
                "no adapter plugin serves the prefix {:?}",
                d.provider
            )),
        )
    } else if let Some(c) = &snapshot.cooldown {
        (Status::CoolingDown, Some(c.reason.clone()))
    } else if let Some(why) = budget_spent(accounts, d) {
        (Status::BudgetExhausted, Some(why))
    } else if let Health::Unhealthy { error, .. } = &snapshot.health {
        (Status::Unhealthy, Some(format!("health check: {error}")))
    } else {
        (Status::Healthy, None)
    };
    Live {
        d,
        recent: state.recent(d),
        last_error: state.last_error(d),
        snapshot,
        status,
        reason,
    }
}

/// Why `d` may not spend this window (its own budget or its provider's),
/// as routing sees it: from the limiter's memory.
fn budget_spent(accounts: &Accounts, d: &Deployment) -> Option<String> {
    let own = d
        .budget
        .as_ref()
        .map(|b| (scopes::deployment(&d.id), b, "its budget"));
    let provider = accounts
        .provider_budget(&d.provider)
        .map(|b| (scopes::provider(&d.provider), b, "its provider's budget"));
    [own, provider]
        .into_iter()
        .flatten()
        .find(|(scope, budget, _)| accounts.limiter.over_budget(scope, budget))
        .map(|(_, b, whose)| format!("spent {whose} of ${} per {}", b.max_usd, b.period))
}

/// Unix ms as RFC 3339 (UTC, milliseconds).
pub fn rfc3339(ms: u64) -> Option<String> {
    let nanos = i128::from(ms) * 1_000_000;
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()?;
    at.format(&time::format_description::well_known::Rfc3339)
        .ok()
}

/// A budget and what its current window has spent, from the limiter (one
/// Redis round trip when the limiter is shared).
pub async fn budget(limiter: &Limiter, scope: Scope, b: &Budget) -> Value {
    let current = limiter
        .current(&Limit {
            budget: Some(*b),
            ..Limit::new(scope, "")
        })
        .await;
    json!({
        "max_usd": b.max_usd,
        "period": b.period.to_string(),
        "spent_usd": current.spent_usd,
        "remaining_usd": (b.max_usd - current.spent_usd).max(0.0),
        "resets_at": current.window_reset_ms.and_then(rfc3339),
    })
}

impl Live<'_> {
    /// The admin API's view: everything but the budgets (read apart, as
    /// they may take a round trip).
    pub fn to_json(&self, now: u64) -> Value {
        let d = self.d;
        let s = &self.snapshot;
        let last_error = self.last_error.as_ref().map(|(at, message)| {
            json!({
                "message": message,
                "at": rfc3339(*at),
                "seconds_ago": now.saturating_sub(*at) / 1000,
            })
        });
        let cooldown = s.cooldown.as_ref().map(|c| {
            json!({
                "class": c.class.as_str(),
                "reason": c.reason,
                "until": rfc3339(c.until_ms),
                "seconds_left": c.remaining(now).as_secs_f64(),
            })
        });
        let health_check = match &s.health {
            Health::Unknown => json!({"status": "unknown"}),
            Health::Healthy { checked_ms } => {
                json!({"status": "healthy", "checked_at": rfc3339(*checked_ms)})
            }
            Health::Unhealthy { checked_ms, error } => json!({
                "status": "unhealthy",
                "checked_at": rfc3339(*checked_ms),
                "error": error,
            }),
        };
        json!({
            "id": d.id,
            "model_group": d.group,
            "provider": d.provider,
            "model": format!("{}/{}", d.provider, d.model),
            "api_base": d.api_base.as_deref().map(super::mask::url),
            "status": self.status.as_str(),
            "status_reason": self.reason,
            "in_flight": s.in_flight,
            "latency_avg_ms": s.latency_avg_ms,
            "ttft_avg_ms": s.ttft_avg_ms,
            "error_rate": {
                "window_minutes": RECENT_MINUTES,
                "attempts": self.recent.attempts,
                "failures": self.recent.failures,
                "rate": self.recent.error_rate(),
            },
            "last_error": last_error,
            "cooldown": cooldown,
            "health_check": health_check,
            "rpm": {"used": s.rpm_used, "limit": d.rpm},
            "tpm": {"used": s.tpm_used, "limit": d.tpm},
        })
    }
}
