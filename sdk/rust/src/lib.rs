//! The Switchyard plugin SDK.
//!
//! A plugin is a WebAssembly component that exports one of the worlds in
//! `wit/` (router, provider adapter, sanitiser, cost rule). This crate gives a
//! Rust author:
//!
//! - the generated bindings ([`types`], and per kind [`router`], [`provider`],
//!   [`sanitizer`], [`cost`]),
//! - one trait per kind ([`Router`], [`Provider`], [`Sanitizer`], [`CostRule`])
//!   and an `export_*!` macro that wires a type implementing it into the
//!   component's exports,
//! - serde types for the OpenAI wire format ([`openai`]) that keep unknown
//!   fields, so an adapter never drops what it does not understand,
//! - [`log`], which writes to the gateway's log (stderr in native tests).
//!
//! The plugin's logic is ordinary Rust: call your trait methods from
//! `#[test]` functions and run `cargo test` natively.
//!
//! ```ignore
//! use switchyard_sdk::{export_router, router::*, types::*, Plugin, Router};
//!
//! struct FirstHealthy;
//!
//! impl Plugin for FirstHealthy {
//!     fn describe() -> PluginInfo {
//!         switchyard_sdk::info("first-healthy", "0.1.0", PluginKind::Router)
//!     }
//! }
//!
//! impl Router for FirstHealthy {
//!     fn route(req: RouteRequest, _table: &[Deployment]) -> Result<RouteDecision, PluginError> {
//!         let order = req.candidates.iter()
//!             .filter(|c| matches!(c.health, Health::Healthy))
//!             .map(|c| c.deployment)
//!             .collect();
//!         Ok(RouteDecision { order, model_group: None, reason: None, extra: vec![] })
//!     }
//! }
//!
//! export_router!(FirstHealthy);
//! ```

pub mod openai;
pub mod util;

#[cfg(feature = "bindings")]
mod bindings;
#[cfg(feature = "bindings")]
mod convert;
#[cfg(feature = "bindings")]
mod kinds;
#[cfg(feature = "bindings")]
pub mod log;
#[cfg(feature = "bindings")]
pub mod routing;

#[cfg(feature = "bindings")]
pub use bindings::{cost, provider, router, sanitizer, types, worlds};
#[cfg(feature = "bindings")]
pub use convert::*;
#[cfg(feature = "bindings")]
pub use kinds::*;
