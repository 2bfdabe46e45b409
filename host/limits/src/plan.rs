//! One request's limits as a list of counter checks, shared by both
//! backends: in refusal order (budgets, rpm, tpm, parallel), one check per
//! counter (two limits on the same counter keep the tighter one, so a
//! request never counts twice on one counter), and what each does at
//! settle.

use crate::period::{Period, minute};
use crate::refusal::{RefusalKind, Refused, seconds_until};
use crate::types::{Ask, Limit, Remaining, Scope};

/// One counter to check and take.
#[derive(Debug)]
pub(crate) struct Check<'a> {
    pub kind: RefusalKind,
    pub scope: &'a Scope,
    pub label: &'a str,
    /// Requests, tokens, calls or dollars (counts fit f64 exactly).
    pub limit: f64,
    /// Budget only; `Forever` otherwise.
    pub period: Period,
    /// Budget only: dollars to reserve until settle.
    pub reserve: f64,
}

impl Check<'_> {
    /// When this check's window ends, if it has one.
    pub fn window_end(&self, now_ms: u64) -> Option<u64> {
        match self.kind {
            RefusalKind::Budget => self.period.window(now_ms).end_ms,
            RefusalKind::Rpm | RefusalKind::Tpm => minute(now_ms).end_ms,
            RefusalKind::Parallel => None,
        }
    }

    /// The refusal when the counter stands at `current` (+ `reserved`).
    pub fn refuse(&self, current: f64, reserved: f64, now_ms: u64) -> Refused {
        let end_ms = self.window_end(now_ms);
        let retry_after_s = match (self.kind, end_ms) {
            (RefusalKind::Parallel, _) => 1,
            (_, None) => crate::refusal::FOREVER_RETRY_AFTER_S,
            (_, Some(end)) => seconds_until(end, now_ms),
        };
        let budget = self.kind == RefusalKind::Budget;
        Refused {
            kind: self.kind,
            label: self.label.to_string(),
            limit: self.limit,
            current,
            reserved,
            period: budget.then_some(self.period),
            reset_at_ms: end_ms,
            retry_after_s,
        }
    }

    /// What settling this check does, if anything (rpm needs nothing).
    pub fn hold(&self) -> Option<Hold> {
        match self.kind {
            RefusalKind::Budget => Some(Hold::Budget {
                period: self.period,
                reserved: self.reserve,
            }),
            RefusalKind::Tpm => Some(Hold::Tokens),
            RefusalKind::Parallel => Some(Hold::Slot),
            RefusalKind::Rpm => None,
        }
    }
}

/// What an admission holds on one scope until it settles.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Hold {
    /// A parallel slot, released at settle or drop.
    Slot,
    /// A budget: release the reservation; at settle, add the real cost.
    Budget { period: Period, reserved: f64 },
    /// A tpm counter: at settle, add the real tokens.
    Tokens,
}

/// The checks of one request, in refusal order.
pub(crate) fn plan<'a>(limits: &'a [Limit], ask: &Ask) -> Vec<Check<'a>> {
    let reserve = match ask.max_cost_usd {
        Some(usd) if usd.is_finite() && usd > 0.0 => usd,
        _ => 0.0,
    };
    let mut checks: Vec<Check<'a>> = Vec::with_capacity(limits.len() * 2);
    for kind in [
        RefusalKind::Budget,
        RefusalKind::Rpm,
        RefusalKind::Tpm,
        RefusalKind::Parallel,
    ] {
        for limit in limits {
            let (value, period) = match kind {
                RefusalKind::Budget => match &limit.budget {
                    Some(b) => (b.max_usd, b.period),
                    None => continue,
                },
                RefusalKind::Rpm => match limit.rpm {
                    Some(n) => (count(n), Period::Forever),
                    None => continue,
                },
                RefusalKind::Tpm => match limit.tpm {
                    Some(n) => (count(n), Period::Forever),
                    None => continue,
                },
                RefusalKind::Parallel => match limit.max_parallel {
                    Some(n) => (count(n), Period::Forever),
                    None => continue,
                },
            };
            let same = checks
                .iter_mut()
                .find(|c| c.kind == kind && c.period == period && *c.scope == limit.scope);
            match same {
                Some(c) if value < c.limit => {
                    c.limit = value;
                    c.label = &limit.label;
                }
                Some(_) => {}
                None => checks.push(Check {
                    kind,
                    scope: &limit.scope,
                    label: &limit.label,
                    limit: value,
                    period,
                    reserve: if kind == RefusalKind::Budget {
                        reserve
                    } else {
                        0.0
                    },
                }),
            }
        }
    }
    checks
}

/// Counts as f64, exact below 2^53 (larger limits are not meaningful).
pub(crate) fn count(n: u64) -> f64 {
    n as f64
}

/// Remaining figures from each check's counter after admission.
pub(crate) fn remaining(checks: &[Check<'_>], after: &[f64], now_ms: u64) -> Remaining {
    let reset = minute(now_ms).end_ms.map(|end| seconds_until(end, now_ms));
    let mut out = Remaining::default();
    for (check, &value) in checks.iter().zip(after) {
        let left = to_count((check.limit - value).max(0.0));
        let limit = to_count(check.limit);
        let (slot, limit_slot, reset_slot) = match check.kind {
            RefusalKind::Rpm => (
                &mut out.requests,
                &mut out.limit_requests,
                &mut out.reset_requests_s,
            ),
            RefusalKind::Tpm => (
                &mut out.tokens,
                &mut out.limit_tokens,
                &mut out.reset_tokens_s,
            ),
            RefusalKind::Budget | RefusalKind::Parallel => continue,
        };
        if slot.is_none_or(|s| left < s) {
            *slot = Some(left);
            *limit_slot = Some(limit);
            *reset_slot = reset;
        }
    }
    out
}

/// Back from f64 to a count (saturating; negative is 0).
pub(crate) fn to_count(x: f64) -> u64 {
    x.max(0.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Budget;

    fn limit(kind: &str, id: &str) -> Limit {
        Limit::new(Scope::new(kind, id), format!("{kind} {id}"))
    }

    #[test]
    fn orders_budgets_then_rpm_tpm_parallel_and_keeps_the_tighter_of_duplicates() {
        let limits = vec![
            Limit {
                rpm: Some(10),
                max_parallel: Some(2),
                ..limit("key", "a")
            },
            Limit {
                rpm: Some(3),
                tpm: Some(100),
                budget: Some(Budget {
                    max_usd: 1.0,
                    period: Period::Forever,
                }),
                ..limit("key", "a")
            },
            Limit {
                rpm: Some(5),
                ..limit("team", "t")
            },
        ];
        let checks = plan(
            &limits,
            &Ask {
                tokens: 0,
                max_cost_usd: Some(0.5),
            },
        );
        let kinds: Vec<_> = checks
            .iter()
            .map(|c| (c.kind, &*c.scope.kind, c.limit, c.reserve))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (RefusalKind::Budget, "key", 1.0, 0.5),
                (RefusalKind::Rpm, "key", 3.0, 0.0),
                (RefusalKind::Rpm, "team", 5.0, 0.0),
                (RefusalKind::Tpm, "key", 100.0, 0.0),
                (RefusalKind::Parallel, "key", 2.0, 0.0),
            ]
        );
    }

    #[test]
    fn remaining_takes_the_tightest() {
        let limits = vec![
            Limit {
                rpm: Some(10),
                tpm: Some(1000),
                ..limit("key", "a")
            },
            Limit {
                rpm: Some(5),
                ..limit("team", "t")
            },
        ];
        let checks = plan(&limits, &Ask::default());
        // key rpm: 2 used of 10 → 8; team rpm: 4 of 5 → 1; tpm 300 of 1000.
        let r = remaining(&checks, &[2.0, 4.0, 300.0], 59_000);
        assert_eq!(
            r,
            Remaining {
                requests: Some(1),
                tokens: Some(700),
                reset_requests_s: Some(1),
                reset_tokens_s: Some(1),
                limit_requests: Some(5),
                limit_tokens: Some(1000),
            }
        );
    }
}
