//! The deployment table a router instance keeps, and helpers that join each
//! request's candidates to it.
//!
//! The host sends the table once per instance (`set-deployments`); the
//! `export_router!` macro stores it here and lends it to every `route` call.
//! Native tests pass a table to `Router::route` directly and never touch
//! this store.

use std::cell::RefCell;

use crate::router::{Candidate, Deployment, RouteRequest};

thread_local! {
    // A wasm instance is single-threaded; the table lives as long as it.
    static TABLE: RefCell<Vec<Deployment>> = const { RefCell::new(Vec::new()) };
}

/// Replaces the stored table.
pub fn store(deployments: Vec<Deployment>) {
    TABLE.with(|t| *t.borrow_mut() = deployments);
}

/// Runs `f` with the stored table.
pub fn with_table<R>(f: impl FnOnce(&[Deployment]) -> R) -> R {
    TABLE.with(|t| f(&t.borrow()))
}

/// Each candidate of `request` with its deployment. Candidates whose index
/// is outside the table (the host never sends one) are skipped.
pub fn joined<'a>(
    request: &'a RouteRequest,
    table: &'a [Deployment],
) -> impl Iterator<Item = (&'a Candidate, &'a Deployment)> + 'a {
    request
        .candidates
        .iter()
        .filter_map(move |c| table.get(c.deployment as usize).map(|d| (c, d)))
}
