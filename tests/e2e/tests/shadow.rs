//! Shadow rollouts end to end (issue 12, docs/shadow-rollouts.md): a
//! candidate plugin runs beside the live one on real calls, off the
//! request path; its answers are compared, never served, until promoted.
//! One test binary; the areas are modules in `shadow/`.
//!
//! Counts are exact: sampling takes every k-th call, and a test waits for
//! the worker to have settled every sampled call before it asserts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod shadow {
    pub mod common;
    pub mod compare;
    pub mod failures;
    pub mod kinds;
    pub mod lifecycle;
}
