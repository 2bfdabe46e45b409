//! A record's budget as the limits count it: what was spent in the current
//! window and when the window resets. `spend` (all-time, from the
//! database) is not what a budget with a `budget_duration` is checked
//! against; these two figures are.

use serde_json::{Map, Value};
use switchyard_limits::Limit;

use super::rows;
use crate::identity::records::Limits;
use crate::ledger::scopes;
use crate::server::AppState;

/// Adds `budget_window_spend` (USD spent in the current window) and
/// LiteLLM's `budget_reset_at` (RFC 3339; null for a budget without a
/// duration) to a view, when the record has a `max_budget`.
pub async fn add_window(
    state: &AppState,
    kind: &str,
    id: &str,
    limits: &Limits,
    view: &mut Map<String, Value>,
) {
    let Some((scope, budget)) = scopes::limits_budget(kind, id, limits) else {
        return;
    };
    let limit = Limit {
        scope,
        label: String::new(),
        rpm: None,
        tpm: None,
        max_parallel: None,
        budget: Some(budget),
    };
    let current = state.accounts.limiter.current(&limit).await;
    view.insert("budget_window_spend".into(), Value::from(current.spent_usd));
    view.insert(
        "budget_reset_at".into(),
        current
            .window_reset_ms
            .and_then(|ms| i64::try_from(ms).ok())
            .map_or(Value::Null, rows::iso),
    );
}

/// The limits in a stored body (`max_budget` and friends).
pub fn limits_of(body: &Value) -> Limits {
    serde_json::from_value(body.clone()).unwrap_or_default()
}
