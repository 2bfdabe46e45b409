//! One trait per plugin kind, and the `export_*!` macros that make a type
//! implementing it the component's exports.

use crate::cost::{CostAnswer, CostInput};
use crate::provider::{
    BuildInput, HttpResponse, Outbound, ParseError, ParsedResponse, StreamInput, StreamOutput,
};
use crate::router::{Deployment, RouteDecision, RouteRequest};
use crate::sanitizer::{SanitizeInput, Verdict};
use crate::types::{ContentPart, Field, Message, PluginError, PluginInfo, PluginKind};

/// What every plugin implements: who it is and how it takes its config.
pub trait Plugin {
    /// Who the plugin is. Must not depend on config.
    fn describe() -> PluginInfo;

    /// Receives the config section (JSON text, `{}` when absent) once per
    /// instance, before any other call. The default accepts anything.
    fn init(config: String) -> Result<(), PluginError> {
        let _ = config;
        Ok(())
    }
}

/// A router: orders the candidate deployments for a request.
///
/// The SDK keeps the gateway's deployment table (sent once per instance
/// through `set-deployments`) and hands it to every `route` call, so a
/// router reads `deployments[c.deployment as usize]` for each candidate `c`
/// (or uses [`crate::routing::joined`]).
pub trait Router: Plugin {
    /// Orders the candidates of `request`. `deployments` is the table the
    /// candidates and the answer's `order` index into.
    fn route(
        request: RouteRequest,
        deployments: &[Deployment],
    ) -> Result<RouteDecision, PluginError>;

    /// Checks a new deployment table before the SDK stores it (for example
    /// that every model group the router's config names exists). The default
    /// accepts any table.
    fn check_deployments(deployments: &[Deployment]) -> Result<(), PluginError> {
        let _ = deployments;
        Ok(())
    }
}

/// A sanitiser: allows, denies or rewrites a request or an answer.
pub trait Sanitizer: Plugin {
    fn sanitize(input: SanitizeInput) -> Result<Verdict, PluginError>;
}

/// A cost rule: prices a call, or has no opinion.
pub trait CostRule: Plugin {
    fn cost(input: CostInput) -> Result<CostAnswer, PluginError>;
}

/// A provider adapter: translates requests, answers and streams.
pub trait Provider: Plugin {
    /// The per-stream decoder.
    type Decoder: StreamDecoder;

    fn build_request(input: BuildInput) -> Result<Outbound, PluginError>;
    fn parse_response(
        input: BuildInput,
        response: HttpResponse,
    ) -> Result<ParsedResponse, ParseError>;
}

/// Decodes one streamed answer. One value lives for the whole stream, so it
/// may keep state (an id, tool call indices, usage so far) in `RefCell`s.
pub trait StreamDecoder: 'static {
    fn new(input: BuildInput) -> Self;
    fn push(&self, input: StreamInput) -> Result<StreamOutput, ParseError>;
    fn finish(&self) -> Result<StreamOutput, ParseError>;
}

/// A `PluginInfo` with no prefixes, schema or description.
pub fn info(name: &str, version: &str, kind: PluginKind) -> PluginInfo {
    PluginInfo {
        name: name.to_string(),
        version: version.to_string(),
        kind,
        provider_prefixes: Vec::new(),
        config_schema: None,
        description: None,
    }
}

/// Parses a config section into `T`, naming the problem on failure.
pub fn parse_config<T: serde::de::DeserializeOwned>(config: &str) -> Result<T, PluginError> {
    serde_json::from_str(config).map_err(|e| PluginError::InvalidConfig(e.to_string()))
}

/// The text parts of a message, joined by newlines.
pub fn message_text(message: &Message) -> String {
    let mut text = String::new();
    for part in &message.content {
        if let ContentPart::Text(t) = part {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(t);
        }
    }
    text
}

/// Looks up a JSON field by key and parses its value.
pub fn field<T: serde::de::DeserializeOwned>(fields: &[Field], key: &str) -> Option<T> {
    fields
        .iter()
        .find(|f| f.key == key)
        .and_then(|f| serde_json::from_str(&f.value).ok())
}

/// Exports a type implementing [`Plugin`] and [`Router`] as a router
/// component.
#[macro_export]
macro_rules! export_router {
    ($t:ty) => {
        // Only a wasm build exports anything: the export names are not valid
        // native symbols, and native builds are for `cargo test`.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::worlds::router::exports::switchyard::plugin as __sy;
            struct __SwitchyardExport;
            impl $crate::worlds::router::Guest for __SwitchyardExport {
                fn describe() -> $crate::types::PluginInfo {
                    <$t as $crate::Plugin>::describe()
                }
                fn init(config: String) -> Result<(), $crate::types::PluginError> {
                    <$t as $crate::Plugin>::init(config)
                }
            }
            impl __sy::router::Guest for __SwitchyardExport {
                fn set_deployments(
                    deployments: Vec<$crate::router::Deployment>,
                ) -> Result<(), $crate::types::PluginError> {
                    <$t as $crate::Router>::check_deployments(&deployments)?;
                    $crate::routing::store(deployments);
                    Ok(())
                }
                fn route(
                    request: $crate::router::RouteRequest,
                ) -> Result<$crate::router::RouteDecision, $crate::types::PluginError> {
                    $crate::routing::with_table(|table| <$t as $crate::Router>::route(request, table))
                }
            }
            $crate::worlds::router::__export_router_world!(__SwitchyardExport with_types_in $crate::worlds::router);
        };
    };
}

/// Exports a type implementing [`Plugin`] and [`Sanitizer`] as a sanitiser
/// component.
#[macro_export]
macro_rules! export_sanitizer {
    ($t:ty) => {
        // Only a wasm build exports anything: the export names are not valid
        // native symbols, and native builds are for `cargo test`.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::worlds::sanitizer::exports::switchyard::plugin as __sy;
            struct __SwitchyardExport;
            impl $crate::worlds::sanitizer::Guest for __SwitchyardExport {
                fn describe() -> $crate::types::PluginInfo {
                    <$t as $crate::Plugin>::describe()
                }
                fn init(config: String) -> Result<(), $crate::types::PluginError> {
                    <$t as $crate::Plugin>::init(config)
                }
            }
            impl __sy::sanitizer::Guest for __SwitchyardExport {
                fn sanitize(
                    input: $crate::sanitizer::SanitizeInput,
                ) -> Result<$crate::sanitizer::Verdict, $crate::types::PluginError> {
                    <$t as $crate::Sanitizer>::sanitize(input)
                }
            }
            $crate::worlds::sanitizer::__export_sanitizer_world!(__SwitchyardExport with_types_in $crate::worlds::sanitizer);
        };
    };
}

/// Exports a type implementing [`Plugin`] and [`CostRule`] as a cost rule
/// component.
#[macro_export]
macro_rules! export_cost_rule {
    ($t:ty) => {
        // Only a wasm build exports anything: the export names are not valid
        // native symbols, and native builds are for `cargo test`.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::worlds::cost::exports::switchyard::plugin as __sy;
            struct __SwitchyardExport;
            impl $crate::worlds::cost::Guest for __SwitchyardExport {
                fn describe() -> $crate::types::PluginInfo {
                    <$t as $crate::Plugin>::describe()
                }
                fn init(config: String) -> Result<(), $crate::types::PluginError> {
                    <$t as $crate::Plugin>::init(config)
                }
            }
            impl __sy::cost::Guest for __SwitchyardExport {
                fn cost(
                    input: $crate::cost::CostInput,
                ) -> Result<$crate::cost::CostAnswer, $crate::types::PluginError> {
                    <$t as $crate::CostRule>::cost(input)
                }
            }
            $crate::worlds::cost::__export_cost_world!(__SwitchyardExport with_types_in $crate::worlds::cost);
        };
    };
}

/// Exports a type implementing [`Plugin`] and [`Provider`] as a provider
/// adapter component.
#[macro_export]
macro_rules! export_provider {
    ($t:ty) => {
        // Only a wasm build exports anything: the export names are not valid
        // native symbols, and native builds are for `cargo test`.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::worlds::provider::exports::switchyard::plugin as __sy;
            struct __SwitchyardExport;
            struct __SwitchyardDecoder(<$t as $crate::Provider>::Decoder);
            impl $crate::worlds::provider::Guest for __SwitchyardExport {
                fn describe() -> $crate::types::PluginInfo {
                    <$t as $crate::Plugin>::describe()
                }
                fn init(config: String) -> Result<(), $crate::types::PluginError> {
                    <$t as $crate::Plugin>::init(config)
                }
            }
            impl __sy::provider::Guest for __SwitchyardExport {
                type StreamDecoder = __SwitchyardDecoder;
                fn build_request(
                    input: $crate::provider::BuildInput,
                ) -> Result<$crate::provider::Outbound, $crate::types::PluginError> {
                    <$t as $crate::Provider>::build_request(input)
                }
                fn parse_response(
                    input: $crate::provider::BuildInput,
                    response: $crate::provider::HttpResponse,
                ) -> Result<$crate::provider::ParsedResponse, $crate::provider::ParseError> {
                    <$t as $crate::Provider>::parse_response(input, response)
                }
            }
            impl __sy::provider::GuestStreamDecoder for __SwitchyardDecoder {
                fn new(input: $crate::provider::BuildInput) -> Self {
                    __SwitchyardDecoder(<<$t as $crate::Provider>::Decoder as $crate::StreamDecoder>::new(input))
                }
                fn push(
                    &self,
                    input: $crate::provider::StreamInput,
                ) -> Result<$crate::provider::StreamOutput, $crate::provider::ParseError> {
                    $crate::StreamDecoder::push(&self.0, input)
                }
                fn finish(&self) -> Result<$crate::provider::StreamOutput, $crate::provider::ParseError> {
                    $crate::StreamDecoder::finish(&self.0)
                }
            }
            $crate::worlds::provider::__export_provider_world!(__SwitchyardExport with_types_in $crate::worlds::provider);
        };
    };
}
