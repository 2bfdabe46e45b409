//! Behaviour tests: the same cases against memory and against Redis
//! (127.0.0.1:6379, a unique prefix per test, keys deleted after), plus
//! Redis-only ones (two replicas, Redis down).

mod cases;
mod memory;
mod redis;

use std::sync::Arc;

use crate::{Ask, Budget, Limit, Period, Scope};

/// A minute boundary far from the epoch, plus 37 s: 23 s left in the
/// minute.
pub(super) const T0: u64 = 60_000 * 29_000_000 + 37_000;

pub(super) fn limit(kind: &str, id: &str) -> Limit {
    Limit::new(Scope::new(kind, id), format!("{kind} {id}"))
}

pub(super) fn rpm(kind: &str, id: &str, n: u64) -> Limit {
    Limit {
        rpm: Some(n),
        ..limit(kind, id)
    }
}

pub(super) fn budget(kind: &str, id: &str, max_usd: f64, period: Period) -> Limit {
    Limit {
        budget: Some(Budget { max_usd, period }),
        ..limit(kind, id)
    }
}

pub(super) fn ask(max_cost_usd: Option<f64>) -> Ask {
    Ask {
        tokens: 0,
        max_cost_usd,
    }
}

pub(super) fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// Admits `n` requests at once from `tasks` concurrent tasks; returns the
/// admissions held (not settled) and the number refused.
pub(super) async fn burst(
    limiters: &[crate::Limiter],
    limits: Arc<Vec<Limit>>,
    ask: Ask,
    n: usize,
) -> (Vec<crate::Admission>, usize) {
    let start = Arc::new(tokio::sync::Barrier::new(n));
    let mut tasks = Vec::new();
    for i in 0..n {
        let limiter = limiters[i % limiters.len()].clone();
        let limits = limits.clone();
        let start = start.clone();
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            limiter.admit(&limits, &ask).await
        }));
    }
    let mut admitted = Vec::new();
    let mut refused = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(a) => admitted.push(a),
            Err(_) => refused += 1,
        }
    }
    (admitted, refused)
}

#[test]
fn limiter_and_admission_can_cross_tasks() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<crate::Limiter>();
    send::<crate::Admission>();
    send_sync::<crate::Refused>();
}
