//! Switchyard: an LLM gateway whose policies are WebAssembly components.
//!
//! The host owns networking, streaming, state and limits; routing, provider
//! translation, sanitising and pricing are plugins (see `wit/`).

pub mod app;
pub mod cache;
pub mod cli;
pub mod config;
pub mod gateway;
pub mod identity;
pub mod ledger;
pub mod observe;
pub mod plugin_tools;
pub mod plugins;
pub mod reload;
pub mod server;
pub mod state;
pub mod upstream;
