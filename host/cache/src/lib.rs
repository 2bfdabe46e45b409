//! The gateway's response cache, apart from the gateway: where entries live
//! ([`store`]: memory, disk or Redis, every fault a miss), how an entry is
//! written ([`entry`]), what a request's key is ([`key`]), how a streamed
//! answer becomes one entry and an entry a stream again ([`chat`]), and how
//! identical calls in flight share one upstream call ([`flight`]).
//!
//! The host decides when to read and write (the request's controls, the
//! caller's scope); this crate holds no policy.

pub mod chat;
pub mod embeddings;
pub mod entry;
pub mod flight;
pub mod key;
pub mod settings;
pub mod store;

pub use entry::{Entry, EntryError};
pub use settings::{Backend, CallTypes, Mode, Settings};
pub use store::{Selector, Status, Store, StoreError};
