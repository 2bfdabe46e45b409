//! The shared cases against the memory backend, plus memory-only ones.

use std::sync::Arc;

use super::{T0, rpm};
use crate::{Ask, Limiter, ManualClock};

fn memory(clock: Arc<ManualClock>) -> (Limiter, ()) {
    (Limiter::memory_with_clock(clock), ())
}

super::cases::every_case!(memory);

#[tokio::test]
async fn status_says_memory() {
    let l = Limiter::memory();
    let s = l.status();
    assert_eq!((s.backend, s.connected, s.error), ("memory", true, None));
}

#[tokio::test]
async fn idle_scopes_are_swept_and_live_ones_kept() {
    let clock = ManualClock::new(T0);
    let l = Limiter::memory_with_clock(clock.clone());
    let held = l
        .admit(
            &[crate::Limit {
                max_parallel: Some(1),
                ..super::limit("key", "live")
            }],
            &Ask::default(),
        )
        .await
        .unwrap();
    for i in 0..20_000 {
        l.admit(&[rpm("end_user", &i.to_string(), 1)], &Ask::default())
            .await
            .unwrap()
            .settle(0, None);
    }
    clock.advance_ms(60_000);
    for i in 0..20_000 {
        l.admit(&[rpm("end_user", &format!("b{i}"), 1)], &Ask::default())
            .await
            .unwrap()
            .settle(0, None);
    }
    let crate::Limiter {
        backend: crate::Backend::Memory(memory),
    } = &l
    else {
        panic!("memory limiter");
    };
    let scopes = memory.scopes();
    assert!(scopes < 30_000, "{scopes} scopes kept");
    // The live slot survived every sweep.
    assert_eq!(
        l.current(&crate::Limit {
            max_parallel: Some(1),
            ..super::limit("key", "live")
        })
        .await
        .parallel,
        1
    );
    drop(held);
}

#[tokio::test]
async fn flush_is_a_no_op() {
    let l = Limiter::memory();
    let a = l
        .admit(&[rpm("key", "k1", 1)], &Ask::default())
        .await
        .unwrap();
    a.settle(0, None);
    l.flush().await;
    assert_eq!(l.current(&rpm("key", "k1", 1)).await.requests, 1);
}
