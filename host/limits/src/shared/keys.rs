//! Redis key names, all under `{prefix}:lim:{kind}:{id}` (with `%` and `:`
//! escaped in kind and id, so no two scopes can share a key):
//!
//! - `…:r:{minute}` requests in that minute (string), expiring a minute
//!   after it ends;
//! - `…:t:{minute}` tokens in that minute, likewise;
//! - `…:p` calls in flight (zset of admissions scored by when their hold
//!   lapses);
//! - `…:b:{period}:{window}` dollars spent in that window (float string),
//!   expiring a minute after it ends (never for `forever`);
//! - `…:b:{period}:res` reservations of calls in flight (zset of
//!   `{admission}|{amount}`) and `…:b:{period}:sum` their total.

use crate::period::{Period, minute};
use crate::types::Scope;

/// How long a counter outlives its window, so a late reader still sees it.
pub(crate) const WINDOW_MARGIN_MS: u64 = 60_000;

/// The common part of a scope's keys.
pub(crate) fn base(prefix: &str, scope: &Scope) -> String {
    let mut out = String::with_capacity(prefix.len() + scope.kind.len() + scope.id.len() + 8);
    out.push_str(prefix);
    out.push_str(":lim:");
    escape(&mut out, &scope.kind);
    out.push(':');
    escape(&mut out, &scope.id);
    out
}

fn escape(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '%' => out.push_str("%25"),
            ':' => out.push_str("%3A"),
            c => out.push(c),
        }
    }
}

pub(crate) fn requests(base: &str, now: u64) -> String {
    format!("{base}:r:{}", minute(now).index)
}

pub(crate) fn tokens(base: &str, now: u64) -> String {
    format!("{base}:t:{}", minute(now).index)
}

pub(crate) fn in_flight(base: &str) -> String {
    format!("{base}:p")
}

pub(crate) fn spent(base: &str, period: &Period, now: u64) -> String {
    format!("{base}:b:{}:{}", period.key_tag(), period.window(now).index)
}

pub(crate) fn reservations(base: &str, period: &Period) -> String {
    format!("{base}:b:{}:res", period.key_tag())
}

pub(crate) fn reserved_sum(base: &str, period: &Period) -> String {
    format!("{base}:b:{}:sum", period.key_tag())
}

/// Milliseconds a minute counter lives from `now`.
pub(crate) fn minute_ttl(now: u64) -> u64 {
    minute(now).end_ms.map_or(WINDOW_MARGIN_MS, |end| {
        end.saturating_sub(now) + WINDOW_MARGIN_MS
    })
}

/// Milliseconds a spend counter lives from `now`; 0 (no expiry) for
/// `forever`.
pub(crate) fn spent_ttl(period: &Period, now: u64) -> u64 {
    period
        .window(now)
        .end_ms
        .map_or(0, |end| end.saturating_sub(now) + WINDOW_MARGIN_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_cannot_collide_through_separators() {
        let a = base("p", &Scope::new("key", "x:r:5"));
        let b = base("p", &Scope::new("key", "x"));
        assert_eq!(a, "p:lim:key:x%3Ar%3A5");
        assert_ne!(requests(&a, 0), requests(&b, 0));
        assert_eq!(base("p", &Scope::new("m:x", "50%")), "p:lim:m%3Ax:50%25");
    }

    #[test]
    fn window_keys_and_ttls() {
        let b = base("sy", &Scope::new("team", "t1"));
        assert_eq!(requests(&b, 125_000), "sy:lim:team:t1:r:2");
        assert_eq!(minute_ttl(125_000), 55_000 + WINDOW_MARGIN_MS);
        let day = Period::Seconds(86_400);
        assert_eq!(spent(&b, &day, 86_400_001), "sy:lim:team:t1:b:86400s:1");
        assert_eq!(spent(&b, &Period::Forever, 5), "sy:lim:team:t1:b:ever:0");
        assert_eq!(spent_ttl(&Period::Forever, 5), 0);
        assert_eq!(reservations(&b, &day), "sy:lim:team:t1:b:86400s:res");
    }
}
