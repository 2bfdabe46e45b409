//! Switchyard's durable state: virtual keys, teams, users, end users and
//! spend records, in a SQLite file (one process) or PostgreSQL (replicas).
//!
//! The gateway never queries the store on a request's path: it caches
//! entities in memory (polling [`Store::changed_since`]) and hands spend
//! records to a [`SpendWriter`], which batches them off the path and keeps
//! them (in memory, then on disk) while the database is down.
//!
//! One code path serves both databases through sqlx's `Any` driver; SQL
//! differs only where the dialects do (JSON, see `spend::query`).

mod entity;
mod error;
mod migrate;
mod spend;
mod sql;
mod store;
mod target;
mod writer;

#[cfg(test)]
mod tests;

pub use entity::{Change, Entity, ListFilter, Row};
pub use error::StoreError;
pub use migrate::SchemaState;
pub use spend::{GroupBy, SpendBy, SpendQuery, SpendRecord, Totals, Usage, UsageQuery};
pub use store::Store;
pub use target::Backend;
pub use writer::{FlushReport, SpendWriter, WriterOptions, WriterStats};
