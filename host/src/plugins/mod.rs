//! The WebAssembly plugin runtime: loading, bounding, calling and hot
//! reloading components that implement the `switchyard:plugin` contract
//! (`wit/`).
//!
//! - [`runtime`]: the shared engine (pooling allocator, epoch ticker, compile
//!   cache) and linker.
//! - [`loaded`]: one plugin version, recognised, described and initialised.
//! - [`instance`]: its instances, reused within bounds.
//! - [`calls`]: typed calls per kind, with their answers checked.
//! - [`contract`], [`worlds`], [`v0_2`]: the contract versions bound side by
//!   side (0.3 current, 0.2 adapted to it).
//! - [`registry`] and [`watcher`]: the active set and hot reload.
//!
//! Author tooling (`plugin test`, `plugin inspect`) is in
//! [`crate::plugin_tools`]; the typed views of OpenAI requests, in
//! [`crate::gateway::views`].

pub mod bindings;
pub mod builtin;
pub mod calls;
pub mod contract;
pub mod deadline;
pub mod error;
pub mod instance;
pub mod limits;
pub mod loaded;
pub mod nonblocking;
pub mod output;
pub mod registry;
pub mod roles;
pub mod runtime;
pub mod shadow;
pub mod store;
pub mod v0_2;
pub mod watcher;
pub mod worlds;

pub use error::{CallError, LoadError};
pub use limits::{Limits, OnError};
pub use loaded::{Kind, LoadedPlugin, Origin, RoutingTable, Settings};
pub use registry::{ActiveSet, Registry};
pub use runtime::{Runtime, RuntimeOptions};
