//! Bindings generated from `wit/`, one module per world. The shared `types`
//! and `log` interfaces are generated once (in the router world) and reused by
//! the others, so a `Message` is the same Rust type for every kind.

/// Generated code for every world, with `export` macros the `export_*!`
/// macros of this crate call.
pub mod worlds {
    pub mod router {
        wit_bindgen::generate!({
            world: "router-plugin",
            path: "../../wit",
            pub_export_macro: true,
            export_macro_name: "__export_router_world",
            default_bindings_module: "switchyard_sdk::worlds::router",
            additional_derives: [PartialEq, Clone],
        });
    }
    pub mod provider {
        wit_bindgen::generate!({
            world: "provider-plugin",
            path: "../../wit",
            pub_export_macro: true,
            export_macro_name: "__export_provider_world",
            default_bindings_module: "switchyard_sdk::worlds::provider",
            additional_derives: [PartialEq, Clone],
            with: {
                "switchyard:plugin/types@0.2.0": crate::worlds::router::switchyard::plugin::types,
                "switchyard:plugin/log@0.2.0": crate::worlds::router::switchyard::plugin::log,
            },
        });
    }
    pub mod sanitizer {
        wit_bindgen::generate!({
            world: "sanitizer-plugin",
            path: "../../wit",
            pub_export_macro: true,
            export_macro_name: "__export_sanitizer_world",
            default_bindings_module: "switchyard_sdk::worlds::sanitizer",
            additional_derives: [PartialEq, Clone],
            with: {
                "switchyard:plugin/types@0.2.0": crate::worlds::router::switchyard::plugin::types,
                "switchyard:plugin/log@0.2.0": crate::worlds::router::switchyard::plugin::log,
            },
        });
    }
    pub mod cost {
        wit_bindgen::generate!({
            world: "cost-plugin",
            path: "../../wit",
            pub_export_macro: true,
            export_macro_name: "__export_cost_world",
            default_bindings_module: "switchyard_sdk::worlds::cost",
            additional_derives: [PartialEq, Clone],
            with: {
                "switchyard:plugin/types@0.2.0": crate::worlds::router::switchyard::plugin::types,
                "switchyard:plugin/log@0.2.0": crate::worlds::router::switchyard::plugin::log,
            },
        });
    }
}

/// Types shared by every kind: messages, callers, prices, usage, errors.
pub mod types {
    pub use super::worlds::router::switchyard::plugin::types::*;
}

/// Router types: the static `Deployment` table, each request's
/// `RouteRequest` with its `Candidate`s, `Health`, and `RouteDecision`; plus
/// [`crate::routing`] helpers that join candidates to the table.
pub mod router {
    pub use super::worlds::router::exports::switchyard::plugin::router::{
        Candidate, Deployment, Health, RouteDecision, RouteRequest,
    };
}

/// Provider adapter types: build inputs, HTTP requests and answers, stream
/// decoding.
pub mod provider {
    pub use super::worlds::provider::exports::switchyard::plugin::provider::{
        BuildInput, ErrorClass, Framing, Header, HttpRequest, HttpResponse, Operation, Outbound,
        ParseError, ParsedResponse, ProviderError, SseEvent, StreamInput, StreamOutput, Target,
    };
}

/// Sanitiser types: `SanitizeInput`, `Stage`, `Verdict`.
pub mod sanitizer {
    pub use super::worlds::sanitizer::exports::switchyard::plugin::sanitizer::{
        SanitizeInput, Stage, Verdict,
    };
}

/// Cost rule types: `CostInput`, `CostAnswer`.
pub mod cost {
    pub use super::worlds::cost::exports::switchyard::plugin::cost::{CostAnswer, CostInput};
}
