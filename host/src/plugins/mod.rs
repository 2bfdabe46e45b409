//! The WebAssembly plugin runtime: loading, bounding, calling and hot
//! reloading components that implement the `switchyard:plugin` contract
//! (`wit/`).
//!
//! - [`runtime`]: the shared engine (pooling allocator, epoch ticker, compile
//!   cache) and linker.
//! - [`loaded`]: one plugin version, recognised, described and initialised.
//! - [`instance`]: its instances, reused within bounds.
//! - [`calls`]: typed calls per kind, with their answers checked.
//! - [`registry`] and [`watcher`]: the active set and hot reload.
//!
//! Author tooling (`plugin test`, `plugin inspect`) is in
//! [`crate::plugin_tools`]; the typed views of OpenAI requests, in
//! [`crate::gateway::views`].

pub mod bindings;
pub mod builtin;
pub mod calls;
pub mod deadline;
pub mod error;
pub mod instance;
pub mod limits;
pub mod loaded;
pub mod nonblocking;
pub mod output;
pub mod registry;
pub mod runtime;
pub mod shadow;
pub mod store;
pub mod watcher;

pub use error::{CallError, LoadError};
pub use limits::{Limits, OnError};
pub use loaded::{Kind, LoadedPlugin, Origin, RoutingTable, Settings};
pub use registry::{ActiveSet, Registry};
pub use runtime::{Runtime, RuntimeOptions};
