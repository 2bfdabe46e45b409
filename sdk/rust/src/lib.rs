//! The Switchyard plugin SDK.
//!
//! A plugin is a WebAssembly component that exports one of the worlds in
//! `wit/` (package `switchyard:plugin@0.3.0`: router, provider adapter,
//! sanitiser, cost rule). This crate gives a Rust author:
//!
//! - **SDK 0.3** ([`typed`], [`prelude`], [`export!`]): a plugin is a value
//!   built from its typed config, its methods take `&self`, and its config
//!   schema is derived. New plugins use this; the traits below are the 0.2
//!   SDK's static shape, kept while first-party plugins move over.
//!
//! - the generated bindings ([`types`], and per kind [`router`], [`provider`],
//!   [`sanitizer`], [`cost`]),
//! - one trait per kind ([`Router`], [`Provider`], [`Sanitizer`], [`CostRule`])
//!   and an `export_*!` macro that wires a type implementing it into the
//!   component's exports,
//! - [`routing`]: a router's deployment table, which `export_router!` keeps
//!   for each instance, and [`routing::joined`], which pairs each candidate
//!   with its table entry,
//! - serde types for the OpenAI wire format ([`openai`]) that keep unknown
//!   fields, so an adapter never drops what it does not understand,
//! - [`adapter`]: what every provider adapter needs (the deployment's
//!   `api_base` and `extra_headers`, the class of an HTTP status, errors for
//!   an unreadable answer), so adapters agree where providers do not differ,
//! - [`log`], which writes to the gateway's log (stderr in native tests),
//! - [`testing`]: builders for the contract's records, for native tests.
//!
//! The plugin's logic is ordinary Rust: call your trait methods from
//! `#[test]` functions and run `cargo test` natively.
//!
//! A router receives the gateway's deployment table once per instance
//! (`set-deployments`; the macro stores it after [`Router::check_deployments`]
//! accepts it) and passes it to every [`Router::route`] call. Each candidate
//! names its deployment by its index in that table, and the answer's `order`
//! lists table indices:
//!
//! ```
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
//!
//! // A native test: a table, and a request whose candidates index it.
//! use switchyard_sdk::testing::{candidate, deployment, order_ids, route_request};
//! let table = vec![deployment("other", "claude"), deployment("a", "gpt-4o"), deployment("b", "gpt-4o")];
//! let mut req = route_request("gpt-4o", vec![]);
//! req.candidates = vec![candidate(1), candidate(2)];
//! req.candidates[0].health = Health::CoolingDown(1_000);
//! let decision = FirstHealthy::route(req, &table).unwrap();
//! assert_eq!(order_ids(&decision, &table), ["b"]);
//! ```

#![warn(missing_docs)]

pub mod openai;
pub mod util;

#[cfg(feature = "bindings")]
pub mod adapter;
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
pub mod testing;
#[cfg(feature = "bindings")]
pub mod typed;

/// What a plugin written with SDK 0.3 ([`typed`]) imports: the kind traits,
/// the contract's types, and serde's and schemars' derives for its config.
#[cfg(feature = "bindings")]
pub mod prelude {
    pub use crate::cost::{CostAnswer, CostInput};
    pub use crate::provider::{
        BuildInput, HttpRequest, HttpResponse, Outbound, ParseError, ParsedResponse, StreamInput,
        StreamOutput,
    };
    pub use crate::router::{Candidate, Deployment, Health, RouteDecision, RouteRequest};
    pub use crate::sanitizer::{SanitizeInput, Stage, Verdict};
    pub use crate::typed::{CostRule, Decoder, Plugin, Provider, Router, Sanitizer};
    pub use crate::types::{ContentPart, Message, PluginError, Role};
    pub use schemars::JsonSchema;
    pub use serde::Deserialize;
}

#[cfg(feature = "bindings")]
pub use bindings::{cost, provider, router, sanitizer, types, worlds};
#[cfg(feature = "bindings")]
pub use convert::*;
#[cfg(feature = "bindings")]
pub use kinds::*;
