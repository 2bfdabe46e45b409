//! Host-side bindings, one module per world and contract version, as Spin
//! binds its `platform@2.0.0` and `@3.0.0` worlds side by side.
//!
//! The current contract (`wit/`, `switchyard:plugin@0.3.0`) is bound at the
//! top of this module; every older version the host still loads is bound
//! from its frozen copy in `wit-archive/<version>/` under a `v0_N` module.
//! Shared interfaces (`types`, `log`) are generated once per version, in
//! the router world, and reused by the other worlds of that version so
//! every kind speaks the same Rust types.
//!
//! Older versions reuse the current `types` too (bindgen `with`): wasmtime
//! type-checks records and variants structurally, and a minor version may
//! only add to `types` (see `docs/writing-plugins.md`, Versioning), so a
//! 0.2 component's messages, callers and prices are the host's own Rust
//! types. What an older version's kind interfaces declare themselves is
//! generated per version and converted in [`super::v0_2`].

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

/// Contract 0.2.x, from `wit-archive/0.2.0` (frozen). Its `types` are the
/// current ones; its `log` import is its own (the linker binds it under
/// `switchyard:plugin/log@0.2.0`).
pub mod v0_2 {
    pub mod router {
        wasmtime::component::bindgen!({
            world: "router-plugin",
            path: "../wit-archive/0.2.0",
            additional_derives: [PartialEq],
            with: {
                "switchyard:plugin/types": crate::plugins::bindings::types,
            },
        });
    }

    pub mod provider {
        wasmtime::component::bindgen!({
            world: "provider-plugin",
            path: "../wit-archive/0.2.0",
            additional_derives: [PartialEq],
            with: {
                "switchyard:plugin/types": crate::plugins::bindings::types,
                "switchyard:plugin/log": super::router::switchyard::plugin::log,
            },
        });
    }

    pub mod sanitizer {
        wasmtime::component::bindgen!({
            world: "sanitizer-plugin",
            path: "../wit-archive/0.2.0",
            additional_derives: [PartialEq],
            with: {
                "switchyard:plugin/types": crate::plugins::bindings::types,
                "switchyard:plugin/log": super::router::switchyard::plugin::log,
            },
        });
    }

    pub mod cost {
        wasmtime::component::bindgen!({
            world: "cost-plugin",
            path: "../wit-archive/0.2.0",
            additional_derives: [PartialEq],
            with: {
                "switchyard:plugin/types": crate::plugins::bindings::types,
                "switchyard:plugin/log": super::router::switchyard::plugin::log,
            },
        });
    }

    /// The host side of 0.2's `log` import.
    pub mod log {
        pub use super::router::switchyard::plugin::log::*;
    }

    pub use cost::exports::switchyard::plugin::cost as cost_api;
    pub use provider::exports::switchyard::plugin::provider as provider_api;
    pub use router::exports::switchyard::plugin::router as router_api;
    pub use sanitizer::exports::switchyard::plugin::sanitizer as sanitizer_api;
}

/// Types shared by every kind (and every bound contract version).
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

/// Adds every bound version's `log` import to the linker (the host's only
/// import besides WASI).
pub fn add_log_imports(
    linker: &mut wasmtime::component::Linker<super::store::HostState>,
) -> wasmtime::Result<()> {
    use super::store::HostState;
    use wasmtime::component::HasSelf;
    log::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)?;
    v0_2::log::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)?;
    Ok(())
}
