//! Cases run against both backends: each takes a fresh limiter on a
//! manual clock set to [`T0`].

use std::sync::Arc;
use std::time::Duration;

use super::{T0, ask, budget, burst, close, limit, rpm};
use crate::{Ask, Current, Limit, Limiter, ManualClock, Period, RefusalKind, Scope};

/// Polls `current(limit)` until `done` holds (memory: at once; Redis:
/// spawned settles land within milliseconds). Panics after 3 s.
pub(crate) async fn wait_for(
    l: &Limiter,
    limit: &Limit,
    done: impl Fn(&Current) -> bool,
) -> Current {
    for _ in 0..300 {
        let current = l.current(limit).await;
        if done(&current) {
            return current;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never reached: {:?}", l.current(limit).await);
}

pub(crate) async fn rpm_admits_exactly_n_then_refuses_and_resets(l: &Limiter, clock: &ManualClock) {
    let limits = vec![rpm("key", "k1", 3)];
    for i in 0..3 {
        let a = l.admit(&limits, &Ask::default()).await.unwrap();
        let r = a.remaining();
        assert_eq!(r.requests, Some(2 - i));
        assert_eq!((r.limit_requests, r.reset_requests_s), (Some(3), Some(23)));
        a.settle(0, None);
    }
    let refused = l.admit(&limits, &Ask::default()).await.unwrap_err();
    assert_eq!(refused.kind, RefusalKind::Rpm);
    assert_eq!(refused.label, "key k1");
    assert_eq!((refused.limit, refused.current), (3.0, 3.0));
    assert_eq!(refused.reset_at_ms, Some(T0 + 23_000));
    assert_eq!(refused.retry_after_s, 23);
    assert_eq!(
        refused.to_string(),
        "rate limit of key k1 reached: 3 of 3 requests per minute; resets in 23s"
    );
    assert_eq!(l.current(&limits[0]).await.requests, 3);

    clock.advance_ms(22_999);
    let late = l.admit(&limits, &Ask::default()).await.unwrap_err();
    assert_eq!(late.retry_after_s, 1);
    clock.advance_ms(1);
    let a = l.admit(&limits, &Ask::default()).await.unwrap();
    assert_eq!(a.remaining().requests, Some(2));
    assert_eq!(a.remaining().reset_requests_s, Some(60));
}

pub(crate) async fn tpm_counts_settled_tokens_not_the_ask(l: &Limiter, _clock: &ManualClock) {
    let limits = vec![Limit {
        tpm: Some(100),
        ..limit("key", "k1")
    }];
    let big = Ask {
        tokens: 10_000,
        max_cost_usd: None,
    };
    let a = l.admit(&limits, &big).await.unwrap();
    assert_eq!(a.remaining().tokens, Some(100));
    a.settle(60, None);
    wait_for(l, &limits[0], |c| c.tokens == 60).await;
    let b = l.admit(&limits, &big).await.unwrap();
    assert_eq!(b.remaining().tokens, Some(40));
    assert_eq!(b.remaining().limit_tokens, Some(100));
    b.settle(50, Some(0.01));
    wait_for(l, &limits[0], |c| c.tokens == 110).await;
    let refused = l.admit(&limits, &Ask::default()).await.unwrap_err();
    assert_eq!(refused.kind, RefusalKind::Tpm);
    assert_eq!((refused.limit, refused.current), (100.0, 110.0));
    assert_eq!(refused.retry_after_s, 23);
}

pub(crate) async fn parallel_slots_are_freed_by_settle_and_by_drop(
    l: &Limiter,
    _clock: &ManualClock,
) {
    let limits = vec![Limit {
        max_parallel: Some(2),
        ..limit("user", "u1")
    }];
    let a = l.admit(&limits, &Ask::default()).await.unwrap();
    let b = l.admit(&limits, &Ask::default()).await.unwrap();
    let refused = l.admit(&limits, &Ask::default()).await.unwrap_err();
    assert_eq!(refused.kind, RefusalKind::Parallel);
    assert_eq!((refused.limit, refused.current), (2.0, 2.0));
    assert_eq!((refused.reset_at_ms, refused.retry_after_s), (None, 1));
    assert_eq!(l.current(&limits[0]).await.parallel, 2);

    a.settle(10, Some(0.5));
    wait_for(l, &limits[0], |c| c.parallel == 1).await;
    let c = l.admit(&limits, &Ask::default()).await.unwrap();
    drop(b);
    wait_for(l, &limits[0], |c| c.parallel == 1).await;
    let d = l.admit(&limits, &Ask::default()).await.unwrap();
    assert!(l.admit(&limits, &Ask::default()).await.is_err());
    drop((c, d));
    wait_for(l, &limits[0], |c| c.parallel == 0).await;
}

pub(crate) async fn budget_reserves_the_max_cost_until_settle(l: &Limiter, clock: &ManualClock) {
    let period = Period::Seconds(2);
    let limits = vec![budget("team", "t1", 1.0, period)];
    let window_end = (T0 / 2_000 + 1) * 2_000;
    // 0 + 0.4 reserved, 0.4 + 0.4, 0.8 + 0.4: three admitted.
    let a = l.admit(&limits, &ask(Some(0.4))).await.unwrap();
    let b = l.admit(&limits, &ask(Some(0.4))).await.unwrap();
    let c = l.admit(&limits, &ask(Some(0.4))).await.unwrap();
    let refused = l.admit(&limits, &ask(Some(0.4))).await.unwrap_err();
    assert_eq!(refused.kind, RefusalKind::Budget);
    assert_eq!(refused.label, "team t1");
    assert_eq!(refused.limit, 1.0);
    assert!(close(refused.current, 0.0), "{refused:?}");
    assert!(close(refused.reserved, 1.2), "{refused:?}");
    assert_eq!(refused.period, Some(period));
    assert_eq!(refused.reset_at_ms, Some(window_end));
    assert_eq!(refused.retry_after_s, 1);
    let now = l.current(&limits[0]).await;
    assert!(
        close(now.reserved_usd, 1.2) && close(now.spent_usd, 0.0),
        "{now:?}"
    );
    assert_eq!(now.window_reset_ms, Some(window_end));

    // Real costs replace reservations; unknown cost adds nothing.
    a.settle(100, Some(0.1));
    b.settle(100, None);
    wait_for(l, &limits[0], |c| {
        close(c.spent_usd, 0.1) && close(c.reserved_usd, 0.4)
    })
    .await;
    // 0.1 + 0.4 < 1: admitted (0.9); unknown cost reserves nothing (0.9);
    // 0.9 < 1: admitted, overshooting by at most its own cost (1.3).
    let d = l.admit(&limits, &ask(Some(0.4))).await.unwrap();
    let e = l.admit(&limits, &ask(None)).await.unwrap();
    let g = l.admit(&limits, &ask(Some(0.4))).await.unwrap();
    let refused = l.admit(&limits, &ask(None)).await.unwrap_err();
    assert!(
        close(refused.current, 0.1) && close(refused.reserved, 1.2),
        "{refused:?}"
    );
    c.settle(0, Some(0.45));
    d.settle(0, Some(0.45));
    e.settle(0, Some(0.05));
    g.settle(0, Some(0.0));
    let settled = wait_for(l, &limits[0], |c| close(c.reserved_usd, 0.0)).await;
    assert!(close(settled.spent_usd, 1.05), "{settled:?}");
    let refused = l.admit(&limits, &ask(None)).await.unwrap_err();
    assert!(
        close(refused.current, 1.05) && refused.reserved == 0.0,
        "{refused:?}"
    );
    assert!(
        refused.to_string().starts_with(
            "budget of team t1 exceeded: spent $1.05 of $1.00 this 2s window; resets at "
        ),
        "{refused}"
    );

    // The next window starts from zero.
    clock.set(window_end);
    let f = l.admit(&limits, &ask(Some(0.4))).await.unwrap();
    let fresh = l.current(&limits[0]).await;
    assert!(
        close(fresh.spent_usd, 0.0) && close(fresh.reserved_usd, 0.4),
        "{fresh:?}"
    );
    drop(f);
    wait_for(l, &limits[0], |c| close(c.reserved_usd, 0.0)).await;
}

pub(crate) async fn forever_and_monthly_budgets_refuse_with_their_resets(
    l: &Limiter,
    _clock: &ManualClock,
) {
    let forever = vec![budget("key", "k1", 0.5, Period::Forever)];
    l.admit(&forever, &ask(None))
        .await
        .unwrap()
        .settle(0, Some(0.5));
    wait_for(l, &forever[0], |c| close(c.spent_usd, 0.5)).await;
    let refused = l.admit(&forever, &ask(None)).await.unwrap_err();
    assert_eq!((refused.reset_at_ms, refused.retry_after_s), (None, 86_400));
    assert_eq!(
        refused.to_string(),
        "budget of key k1 exceeded: spent $0.50 of $0.50; this budget does not reset"
    );

    let monthly = vec![budget("key", "k2", 1.0, Period::Months(1))];
    l.seed_spend(&monthly[0].scope, &Period::Months(1), 2.5)
        .await;
    let refused = l.admit(&monthly, &ask(None)).await.unwrap_err();
    let end = Period::Months(1).window(T0).end_ms.unwrap();
    assert_eq!(refused.reset_at_ms, Some(end));
    assert_eq!(refused.retry_after_s, (end - T0).div_ceil(1_000));
    assert!(close(refused.current, 2.5));
}

pub(crate) async fn a_refused_request_leaves_its_other_limits_untouched(
    l: &Limiter,
    _clock: &ManualClock,
) {
    let key = Limit {
        rpm: Some(10),
        max_parallel: Some(10),
        budget: Some(crate::Budget {
            max_usd: 10.0,
            period: Period::Forever,
        }),
        ..limit("key", "k1")
    };
    let team = rpm("team", "t1", 1);
    let limits = vec![key.clone(), team.clone()];
    let first = l.admit(&limits, &ask(Some(1.0))).await.unwrap();
    let refused = l.admit(&limits, &ask(Some(1.0))).await.unwrap_err();
    assert_eq!(
        (refused.kind, refused.label.as_str()),
        (RefusalKind::Rpm, "team t1")
    );
    let now = l.current(&key).await;
    assert_eq!((now.requests, now.parallel), (1, 1), "{now:?}");
    assert!(close(now.reserved_usd, 1.0), "{now:?}");
    assert_eq!(l.current(&team).await.requests, 1);
    drop(first);
}

pub(crate) async fn refusals_come_in_budget_rpm_tpm_parallel_order(
    l: &Limiter,
    _clock: &ManualClock,
) {
    let all = Limit {
        rpm: Some(1),
        tpm: Some(1),
        max_parallel: Some(1),
        budget: Some(crate::Budget {
            max_usd: 1.0,
            period: Period::Forever,
        }),
        ..limit("key", "k1")
    };
    let limits = vec![all.clone()];
    let held = l.admit(&limits, &ask(Some(5.0))).await.unwrap();
    // Everything is full now (the budget by its reservation) except tpm.
    assert_eq!(
        l.admit(&limits, &ask(None)).await.unwrap_err().kind,
        RefusalKind::Budget
    );
    let no_budget = vec![Limit {
        budget: None,
        ..all.clone()
    }];
    assert_eq!(
        l.admit(&no_budget, &ask(None)).await.unwrap_err().kind,
        RefusalKind::Rpm
    );
    let parallel_only = vec![Limit {
        budget: None,
        rpm: None,
        tpm: None,
        ..all.clone()
    }];
    assert_eq!(
        l.admit(&parallel_only, &ask(None)).await.unwrap_err().kind,
        RefusalKind::Parallel
    );
    held.settle(5, None);
    let tpm_and_parallel = vec![Limit {
        budget: None,
        rpm: None,
        ..all
    }];
    wait_for(l, &tpm_and_parallel[0], |c| {
        c.tokens == 5 && c.parallel == 0
    })
    .await;
    assert_eq!(
        l.admit(&tpm_and_parallel, &ask(None))
            .await
            .unwrap_err()
            .kind,
        RefusalKind::Tpm
    );
}

pub(crate) async fn fifty_concurrent_requests_against_a_nearly_spent_budget_admit_one(
    l: &Limiter,
    _clock: &ManualClock,
) {
    let limits = Arc::new(vec![budget("team", "t1", 1.0, Period::Seconds(86_400))]);
    l.seed_spend(&limits[0].scope, &Period::Seconds(86_400), 0.99)
        .await;
    let (admitted, refused) =
        burst(std::slice::from_ref(l), limits.clone(), ask(Some(0.05)), 50).await;
    assert_eq!((admitted.len(), refused), (1, 49));
    for a in admitted {
        a.settle(0, Some(0.03));
    }
    let c = wait_for(l, &limits[0], |c| close(c.reserved_usd, 0.0)).await;
    assert!(close(c.spent_usd, 1.02), "{c:?}");
}

pub(crate) async fn seed_spend_fills_only_a_new_counter(l: &Limiter, _clock: &ManualClock) {
    let b = budget("team", "t2", 100.0, Period::Seconds(3_600));
    let period = Period::Seconds(3_600);
    l.seed_spend(&b.scope, &period, 5.0).await;
    l.seed_spend(&b.scope, &period, 7.0).await;
    assert!(close(l.current(&b).await.spent_usd, 5.0));
    l.admit(std::slice::from_ref(&b), &ask(None))
        .await
        .unwrap()
        .settle(0, Some(1.0));
    wait_for(l, &b, |c| close(c.spent_usd, 6.0)).await;
    l.seed_spend(&b.scope, &period, 0.0).await;
    assert!(close(l.current(&b).await.spent_usd, 6.0));
}

pub(crate) async fn add_spend_feeds_over_budget(l: &Limiter, clock: &ManualClock) {
    let scope = Scope::new("deployment", "d1");
    let b = crate::Budget {
        max_usd: 1.0,
        period: Period::Seconds(60),
    };
    assert!(!l.over_budget(&scope, &b));
    l.add_spend(&scope, &b.period, 0.6, 100);
    assert!(!l.over_budget(&scope, &b));
    l.add_spend(&scope, &b.period, 0.5, 100);
    assert!(l.over_budget(&scope, &b));
    // Still over once the background sync (Redis) has sent it.
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(l.over_budget(&scope, &b));
    let as_limit = Limit {
        budget: Some(b),
        tpm: Some(1_000),
        ..Limit::new(scope.clone(), "deployment d1")
    };
    let c = l.current(&as_limit).await;
    assert!(close(c.spent_usd, 1.1) && c.tokens == 200, "{c:?}");
    clock.advance_ms(23_000);
    assert!(!l.over_budget(&scope, &b));
}

pub(crate) async fn two_limits_on_one_counter_count_once_and_refuse_at_the_tighter(
    l: &Limiter,
    _clock: &ManualClock,
) {
    let limits = vec![rpm("key", "k1", 5), rpm("key", "k1", 2)];
    l.admit(&limits, &Ask::default())
        .await
        .unwrap()
        .settle(0, None);
    assert_eq!(l.current(&limits[0]).await.requests, 1);
    let a = l.admit(&limits, &Ask::default()).await.unwrap();
    assert_eq!(a.remaining().requests, Some(0));
    let refused = l.admit(&limits, &Ask::default()).await.unwrap_err();
    assert_eq!((refused.limit, refused.current), (2.0, 2.0));
}

/// Runs every case, each on a fresh limiter from `make`.
macro_rules! every_case {
    ($make:expr) => {
        $crate::tests::cases::every_case!(@run $make;
            rpm_admits_exactly_n_then_refuses_and_resets,
            tpm_counts_settled_tokens_not_the_ask,
            parallel_slots_are_freed_by_settle_and_by_drop,
            budget_reserves_the_max_cost_until_settle,
            forever_and_monthly_budgets_refuse_with_their_resets,
            a_refused_request_leaves_its_other_limits_untouched,
            refusals_come_in_budget_rpm_tpm_parallel_order,
            fifty_concurrent_requests_against_a_nearly_spent_budget_admit_one,
            seed_spend_fills_only_a_new_counter,
            add_spend_feeds_over_budget,
            two_limits_on_one_counter_count_once_and_refuse_at_the_tighter,
        );
    };
    (@run $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let clock = crate::ManualClock::new(super::T0);
                let (limiter, _guard) = $make(clock.clone());
                super::cases::$case(&limiter, &clock).await;
            }
        )*
    };
}
pub(crate) use every_case;
