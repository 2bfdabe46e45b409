//! Host-side bindings generated from `wit/`, one module per world. Shared
//! interfaces (`types`, `log`) are generated once, in the router world, and
//! reused by the others so every kind speaks the same Rust types.

pub mod router {
    wasmtime::component::bindgen!({
        world: "router-plugin",
        path: "../wit",
        additional_derives: [PartialEq],
    });
}

pub mod provider {
    wasmtime::component::bindgen!({
        world: "provider-plugin",
        path: "../wit",
        additional_derives: [PartialEq],
        with: {
            "switchyard:plugin/types": super::router::switchyard::plugin::types,
            "switchyard:plugin/log": super::router::switchyard::plugin::log,
        },
    });
}

pub mod sanitizer {
    wasmtime::component::bindgen!({
        world: "sanitizer-plugin",
        path: "../wit",
        additional_derives: [PartialEq],
        with: {
            "switchyard:plugin/types": super::router::switchyard::plugin::types,
            "switchyard:plugin/log": super::router::switchyard::plugin::log,
        },
    });
}

pub mod cost {
    wasmtime::component::bindgen!({
        world: "cost-plugin",
        path: "../wit",
        additional_derives: [PartialEq],
        with: {
            "switchyard:plugin/types": super::router::switchyard::plugin::types,
            "switchyard:plugin/log": super::router::switchyard::plugin::log,
        },
    });
}

/// Types shared by every kind.
pub mod types {
    pub use super::router::switchyard::plugin::types::*;
}

/// The host side of the `log` import.
pub mod log {
    pub use super::router::switchyard::plugin::log::*;
}

pub use cost::exports::switchyard::plugin::cost as cost_api;
pub use provider::exports::switchyard::plugin::provider as provider_api;
pub use router::exports::switchyard::plugin::router as router_api;
pub use sanitizer::exports::switchyard::plugin::sanitizer as sanitizer_api;
