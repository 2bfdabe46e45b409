//! Why a request was not admitted, in figures and in words a client may
//! read (labels only, never a scope's id).

use std::fmt;

use crate::period::{Period, rfc3339};

/// What refused, in the order refusals are reported when several limits
/// fail at once: budget first, then rpm, tpm, parallel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RefusalKind {
    /// The budget's window is spent (or reserved by calls in flight).
    Budget,
    /// Requests per minute.
    Rpm,
    /// Tokens per minute.
    Tpm,
    /// Calls in flight.
    Parallel,
}

/// A refused request.
#[derive(Clone, Debug, PartialEq)]
pub struct Refused {
    /// Which limit refused.
    pub kind: RefusalKind,
    /// The limit's label (e.g. `key my-alias`).
    pub label: String,
    /// The limit: requests, tokens, calls, or dollars.
    pub limit: f64,
    /// Where the counter stands: requests or tokens this minute, calls in
    /// flight, or dollars spent in the window (reservations apart, below).
    pub current: f64,
    /// Budget only: dollars reserved by calls in flight, which count
    /// against the budget until they settle.
    pub reserved: f64,
    /// Budget only: the period, for the message.
    pub period: Option<Period>,
    /// When the window resets (Unix ms); `None` for parallel and forever.
    pub reset_at_ms: Option<u64>,
    /// Seconds to wait: until the window resets (at least 1); 1 for
    /// parallel; [`FOREVER_RETRY_AFTER_S`] for a `forever` budget, which
    /// never resets (a day is a polite "not soon" for a `Retry-After`).
    pub retry_after_s: u64,
}

/// `retry_after_s` for a budget that never resets.
pub const FOREVER_RETRY_AFTER_S: u64 = 86_400;

/// Whole seconds from `now_ms` to `end_ms`, rounded up, at least 1.
pub(crate) fn seconds_until(end_ms: u64, now_ms: u64) -> u64 {
    end_ms.saturating_sub(now_ms).div_ceil(1_000).max(1)
}

/// Dollars with cents, or four decimals when cents would hide the figure.
fn usd(x: f64) -> String {
    let cents = x * 100.0;
    if (cents - cents.round()).abs() < 1e-9 {
        format!("${x:.2}")
    } else {
        format!("${x:.4}")
    }
}

impl fmt::Display for Refused {
    /// E.g. `budget of team t1 exceeded: spent $10.0213 of $10.00 this 30d
    /// window; resets at 2026-12-31T00:00:00Z` or `rate limit of key
    /// my-alias reached: 5 of 5 requests per minute; resets in 23s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = &self.label;
        match self.kind {
            RefusalKind::Budget => {
                write!(f, "budget of {label} exceeded: spent {}", usd(self.current))?;
                if self.reserved > 0.0 {
                    write!(f, " (+{} reserved by calls in flight)", usd(self.reserved))?;
                }
                write!(f, " of {}", usd(self.limit))?;
                match (self.period, self.reset_at_ms) {
                    (Some(period), Some(reset)) if period != Period::Forever => {
                        write!(f, " this {period} window; resets at {}", rfc3339(reset))
                    }
                    _ => write!(f, "; this budget does not reset"),
                }
            }
            RefusalKind::Rpm => write!(
                f,
                "rate limit of {label} reached: {} of {} requests per minute; resets in {}s",
                self.current, self.limit, self.retry_after_s
            ),
            RefusalKind::Tpm => write!(
                f,
                "token rate limit of {label} reached: {} of {} tokens per minute; resets in {}s",
                self.current, self.limit, self.retry_after_s
            ),
            RefusalKind::Parallel => write!(
                f,
                "parallel request limit of {label} reached: {} of {} requests in flight",
                self.current, self.limit
            ),
        }
    }
}

impl std::error::Error for Refused {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Check;
    use crate::types::Scope;

    fn check(kind: RefusalKind, label: &'static str, limit: f64, period: Period) -> Check<'static> {
        let scope: &'static Scope = Box::leak(Box::new(Scope::new("k", "secret-id")));
        Check {
            kind,
            scope,
            label,
            limit,
            period,
            reserve: 0.0,
        }
    }

    #[test]
    fn budget_message_names_the_label_figures_window_and_reset() {
        // 2027-01-02T00:00:00Z ends a 30-day epoch-aligned window.
        let end = 1_798_848_000_000;
        let c = check(
            RefusalKind::Budget,
            "team t1",
            10.0,
            Period::Seconds(30 * 86_400),
        );
        let r = c.refuse(10.0213, 0.0, end - 5_500);
        assert_eq!(
            r.to_string(),
            "budget of team t1 exceeded: spent $10.0213 of $10.00 this 30d window; resets at 2027-01-02T00:00:00Z"
        );
        assert_eq!(r.retry_after_s, 6);
        assert_eq!(r.reset_at_ms, Some(end));
        assert_eq!(r.period, Some(Period::Seconds(30 * 86_400)));
    }

    #[test]
    fn budget_message_shows_reservations_and_forever() {
        let c = check(RefusalKind::Budget, "key k", 1.0, Period::Forever);
        let r = c.refuse(0.99, 0.05, 0);
        assert_eq!(
            r.to_string(),
            "budget of key k exceeded: spent $0.99 (+$0.05 reserved by calls in flight) of $1.00; this budget does not reset"
        );
        assert_eq!(r.retry_after_s, FOREVER_RETRY_AFTER_S);
        assert_eq!(r.reset_at_ms, None);
    }

    #[test]
    fn rate_messages() {
        let r =
            check(RefusalKind::Rpm, "key my-alias", 5.0, Period::Forever).refuse(5.0, 0.0, 37_000);
        assert_eq!(
            r.to_string(),
            "rate limit of key my-alias reached: 5 of 5 requests per minute; resets in 23s"
        );
        assert_eq!(
            (r.reset_at_ms, r.retry_after_s, r.period),
            (Some(60_000), 23, None)
        );
        let t =
            check(RefusalKind::Tpm, "team t", 1000.0, Period::Forever).refuse(1234.0, 0.0, 59_999);
        assert_eq!(
            t.to_string(),
            "token rate limit of team t reached: 1234 of 1000 tokens per minute; resets in 1s"
        );
        let p = check(RefusalKind::Parallel, "user u", 3.0, Period::Forever).refuse(3.0, 0.0, 0);
        assert_eq!(
            p.to_string(),
            "parallel request limit of user u reached: 3 of 3 requests in flight"
        );
        assert_eq!((p.retry_after_s, p.reset_at_ms), (1, None));
    }
}
