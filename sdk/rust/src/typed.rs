//! SDK 0.3: a plugin is a value built from its typed config.
//!
//! Implement [`Plugin`] (its config type, its name, and `new`) and one kind
//! trait ([`Router`], [`Sanitizer`], [`CostRule`], [`Provider`]) whose
//! methods take `&self`, then call [`export!`](crate::export). The macro
//! does the rest, per instance:
//!
//! - `describe` reports the name, version, kind and the JSON Schema derived
//!   from [`Plugin::Config`] (schemars), so the gateway checks a config
//!   before any instance starts;
//! - `init` parses the JSON config into `Config` (an `invalid-config`
//!   error naming the field at fault), calls [`Plugin::new`], and keeps the
//!   value for the instance's later calls;
//! - a panic is written through the gateway's log, with its message and
//!   location, before the instance traps (otherwise the gateway would see
//!   only "wasm `unreachable` instruction executed").
//!
//! A router that keeps the healthy candidates, preferring one deployment:
//!
//! ```
//! use switchyard_sdk::prelude::*;
//!
//! #[derive(Deserialize, JsonSchema)]
//! #[serde(deny_unknown_fields)]
//! struct Config {
//!     /// A deployment id to put first when it is healthy.
//!     prefer: Option<String>,
//! }
//!
//! struct Healthy(Config);
//!
//! impl Plugin for Healthy {
//!     type Config = Config;
//!     const NAME: &'static str = "healthy";
//!     const VERSION: &'static str = "0.1.0";
//!     fn new(config: Config) -> Result<Self, PluginError> {
//!         Ok(Healthy(config))
//!     }
//! }
//!
//! impl Router for Healthy {
//!     fn route(&self, req: RouteRequest, table: &[Deployment]) -> Result<RouteDecision, PluginError> {
//!         let mut order: Vec<u32> = req.candidates.iter()
//!             .filter(|c| matches!(c.health, Health::Healthy))
//!             .map(|c| c.deployment)
//!             .collect();
//!         let preferred = |i: &u32| Some(&table[*i as usize].id) == self.0.prefer.as_ref();
//!         order.sort_by_key(|i| !preferred(i));
//!         Ok(RouteDecision { order, model_group: None, reason: None, extra: vec![] })
//!     }
//! }
//!
//! switchyard_sdk::export!(router Healthy);
//!
//! // A native test: build the value from JSON as the gateway would.
//! use switchyard_sdk::testing::{candidate, deployment, order_ids, route_request};
//! let router: Healthy = switchyard_sdk::typed::from_json(r#"{"prefer": "b"}"#).unwrap();
//! let table = vec![deployment("a", "gpt-4o"), deployment("b", "gpt-4o")];
//! let mut req = route_request("gpt-4o", vec![]);
//! req.candidates = vec![candidate(0), candidate(1)];
//! let decision = router.route(req, &table).unwrap();
//! assert_eq!(order_ids(&decision, &table), ["b", "a"]);
//! // A config the type refuses names the field.
//! let err = switchyard_sdk::typed::from_json::<Healthy>(r#"{"prefer": 3}"#).err().unwrap();
//! assert!(matches!(err, PluginError::InvalidConfig(m) if m.starts_with("prefer: ")));
//! ```

use std::cell::RefCell;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use crate::cost::{CostAnswer, CostInput};
use crate::provider::{
    BuildInput, HttpResponse, Outbound, ParseError, ParsedResponse, StreamInput, StreamOutput,
};
use crate::router::{Deployment, RouteDecision, RouteRequest};
use crate::sanitizer::{SanitizeInput, Verdict};
use crate::types::{PluginError, PluginInfo, PluginKind};

/// What every plugin is: a value built from its typed config.
pub trait Plugin: Sized + 'static {
    /// The plugin's config section. Its JSON Schema (derived with
    /// `#[derive(JsonSchema)]`) is what `describe` reports; serde's
    /// attributes shape both (`#[serde(deny_unknown_fields)]` becomes
    /// `additionalProperties: false`, `#[serde(default)]` an optional key).
    type Config: DeserializeOwned + JsonSchema;
    /// The name the gateway's config uses for the plugin (lower case,
    /// digits, `-` and `_`).
    const NAME: &'static str;
    /// The plugin's own version (usually `env!("CARGO_PKG_VERSION")`).
    const VERSION: &'static str;
    /// One line about what the plugin does, for `plugin inspect` and the
    /// admin API.
    const DESCRIPTION: Option<&'static str> = None;

    /// Builds the plugin from its parsed config, once per instance; checks
    /// serde cannot express (ranges across fields, regexes that compile)
    /// go here, as `PluginError::InvalidConfig`.
    fn new(config: Self::Config) -> Result<Self, PluginError>;
}

/// A router: orders the candidate deployments for a request.
///
/// The SDK keeps the gateway's deployment table (sent once per instance)
/// and hands it to every [`Router::route`] call.
pub trait Router: Plugin {
    /// Orders the candidates of `request`; `deployments` is the table the
    /// candidates and the answer's `order` index into.
    fn route(
        &self,
        request: RouteRequest,
        deployments: &[Deployment],
    ) -> Result<RouteDecision, PluginError>;

    /// Checks a new deployment table before the SDK keeps it (for example
    /// that every model group the config names exists). Accepts any table
    /// by default.
    fn check_deployments(&self, deployments: &[Deployment]) -> Result<(), PluginError> {
        let _ = deployments;
        Ok(())
    }
}

/// A sanitiser: allows, denies or rewrites a request, an answer, or a
/// window of a streamed answer (by `input.stage` and `input.window`).
pub trait Sanitizer: Plugin {
    /// The verdict on one input.
    fn sanitize(&self, input: SanitizeInput) -> Result<Verdict, PluginError>;
}

/// A cost rule: prices a call, or has no opinion.
pub trait CostRule: Plugin {
    /// The price of one call in US dollars, or no opinion (the next rule in
    /// the chain decides).
    fn cost(&self, input: CostInput) -> Result<CostAnswer, PluginError>;
}

/// A provider adapter: translates requests, answers and streams. See
/// [`crate::adapter`] for what adapters share.
pub trait Provider: Plugin {
    /// The `provider/` prefixes of `model_list` entries it serves.
    const PREFIXES: &'static [&'static str];
    /// The per-stream decoder.
    type Decoder: Decoder;

    /// The provider's HTTP request (or, for an adapter that calls no one,
    /// the answer itself).
    fn build_request(&self, input: BuildInput) -> Result<Outbound, PluginError>;

    /// The OpenAI-format answer and its usage for a whole answer; a
    /// provider error for a non-2xx answer.
    fn parse_response(
        &self,
        input: BuildInput,
        response: HttpResponse,
    ) -> Result<ParsedResponse, ParseError>;

    /// A decoder for one streamed answer to `input`.
    fn decoder(&self, input: BuildInput) -> Self::Decoder;
}

/// Decodes one streamed answer; one value lives for the whole stream, so
/// it may keep state in `Cell`s and `RefCell`s.
pub trait Decoder: 'static {
    /// The OpenAI chunks for one unit of the stream (an SSE event, or
    /// bytes); `done` once the provider says it is over.
    fn push(&self, input: StreamInput) -> Result<StreamOutput, ParseError>;
    /// Called once when the body ends: whatever is left to send.
    fn finish(&self) -> Result<StreamOutput, ParseError>;
}

/// Builds a plugin from config JSON as the export macro does (for native
/// tests): parse into [`Plugin::Config`], naming the field at fault, then
/// [`Plugin::new`].
pub fn from_json<P: Plugin>(config: &str) -> Result<P, PluginError> {
    P::new(parse::<P::Config>(config)?)
}

/// Parses config JSON into `T`; the error names the field at fault
/// (`limits.rpm: invalid type: string "x", expected u64`).
pub fn parse<T: DeserializeOwned>(config: &str) -> Result<T, PluginError> {
    let de = &mut serde_json::Deserializer::from_str(config);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        PluginError::InvalidConfig(if path == "." || path.is_empty() {
            inner.to_string()
        } else {
            format!("{path}: {inner}")
        })
    })
}

/// The JSON Schema of `T`, as text for `plugin-info.config-schema`.
pub fn schema<T: JsonSchema>() -> String {
    schemars::schema_for!(T).to_value().to_string()
}

/// The `plugin-info` the export macro reports for `P` as `kind`.
pub fn describe<P: Plugin>(kind: PluginKind, prefixes: &[&str]) -> PluginInfo {
    PluginInfo {
        name: P::NAME.to_string(),
        version: P::VERSION.to_string(),
        kind,
        provider_prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
        config_schema: Some(schema::<P::Config>()),
        description: P::DESCRIPTION.map(str::to_string),
    }
}

/// Where the export macro keeps an instance's plugin value (one per wasm
/// instance: a `thread_local!` of this, declared by the macro).
#[doc(hidden)]
pub struct Slot<P>(RefCell<Option<P>>);

impl<P: Plugin> Slot<P> {
    /// An empty slot.
    pub const fn new() -> Self {
        Slot(RefCell::new(None))
    }

    /// `init`: installs the panic hook, builds the value, keeps it.
    pub fn init(&self, config: &str) -> Result<(), PluginError> {
        install_panic_hook();
        let plugin = from_json::<P>(config)?;
        *self.0.borrow_mut() = Some(plugin);
        Ok(())
    }

    /// Runs `f` on the value; an error before `init`.
    pub fn with<R>(&self, f: impl FnOnce(&P) -> R) -> Result<R, PluginError> {
        match &*self.0.borrow() {
            Some(p) => Ok(f(p)),
            None => Err(PluginError::Internal(format!(
                "{}: called before init",
                P::NAME
            ))),
        }
    }
}

impl<P: Plugin> Default for Slot<P> {
    fn default() -> Self {
        Slot::new()
    }
}

/// Installs (once) a panic hook that writes the panic's message and
/// location to the gateway's log at error level, so the trap that follows
/// is explained. The export macros call it from `init`.
pub fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(no message)".to_string());
            let at = info
                .location()
                .map(|l| format!(" at {}:{}:{}", l.file(), l.line(), l.column()))
                .unwrap_or_default();
            crate::log::error(&format!("panicked{at}: {message}"));
        }));
    });
}

/// Exports a type as a plugin of the given kind (`router`, `sanitizer`,
/// `cost`, `provider`), built from its config by [`Plugin::new`] once per
/// instance. See [the module docs](crate::typed).
#[macro_export]
macro_rules! export {
    (router $t:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::worlds::router::exports::switchyard::plugin as __sy;
            ::std::thread_local! {
                static __SLOT: $crate::typed::Slot<$t> = const { $crate::typed::Slot::new() };
            }
            struct __SwitchyardExport;
            impl $crate::worlds::router::Guest for __SwitchyardExport {
                fn describe() -> $crate::types::PluginInfo {
                    $crate::typed::describe::<$t>($crate::types::PluginKind::Router, &[])
                }
                fn init(config: String) -> Result<(), $crate::types::PluginError> {
                    __SLOT.with(|s| s.init(&config))
                }
            }
            impl __sy::router::Guest for __SwitchyardExport {
                fn set_deployments(
                    deployments: Vec<$crate::router::Deployment>,
                ) -> Result<(), $crate::types::PluginError> {
                    __SLOT.with(|s| s.with(|p| <$t as $crate::typed::Router>::check_deployments(p, &deployments)))??;
                    $crate::routing::store(deployments);
                    Ok(())
                }
                fn route(
                    request: $crate::router::RouteRequest,
                ) -> Result<$crate::router::RouteDecision, $crate::types::PluginError> {
                    __SLOT.with(|s| s.with(|p| {
                        $crate::routing::with_table(|table| <$t as $crate::typed::Router>::route(p, request, table))
                    }))?
                }
            }
            $crate::worlds::router::__export_router_world!(__SwitchyardExport with_types_in $crate::worlds::router);
        };
    };
    (sanitizer $t:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::worlds::sanitizer::exports::switchyard::plugin as __sy;
            ::std::thread_local! {
                static __SLOT: $crate::typed::Slot<$t> = const { $crate::typed::Slot::new() };
            }
            struct __SwitchyardExport;
            impl $crate::worlds::sanitizer::Guest for __SwitchyardExport {
                fn describe() -> $crate::types::PluginInfo {
                    $crate::typed::describe::<$t>($crate::types::PluginKind::Sanitizer, &[])
                }
                fn init(config: String) -> Result<(), $crate::types::PluginError> {
                    __SLOT.with(|s| s.init(&config))
                }
            }
            impl __sy::sanitizer::Guest for __SwitchyardExport {
                fn sanitize(
                    input: $crate::sanitizer::SanitizeInput,
                ) -> Result<$crate::sanitizer::Verdict, $crate::types::PluginError> {
                    __SLOT.with(|s| s.with(|p| <$t as $crate::typed::Sanitizer>::sanitize(p, input)))?
                }
            }
            $crate::worlds::sanitizer::__export_sanitizer_world!(__SwitchyardExport with_types_in $crate::worlds::sanitizer);
        };
    };
    (cost $t:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::worlds::cost::exports::switchyard::plugin as __sy;
            ::std::thread_local! {
                static __SLOT: $crate::typed::Slot<$t> = const { $crate::typed::Slot::new() };
            }
            struct __SwitchyardExport;
            impl $crate::worlds::cost::Guest for __SwitchyardExport {
                fn describe() -> $crate::types::PluginInfo {
                    $crate::typed::describe::<$t>($crate::types::PluginKind::Cost, &[])
                }
                fn init(config: String) -> Result<(), $crate::types::PluginError> {
                    __SLOT.with(|s| s.init(&config))
                }
            }
            impl __sy::cost::Guest for __SwitchyardExport {
                fn cost(
                    input: $crate::cost::CostInput,
                ) -> Result<$crate::cost::CostAnswer, $crate::types::PluginError> {
                    __SLOT.with(|s| s.with(|p| <$t as $crate::typed::CostRule>::cost(p, input)))?
                }
            }
            $crate::worlds::cost::__export_cost_world!(__SwitchyardExport with_types_in $crate::worlds::cost);
        };
    };
    (provider $t:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::worlds::provider::exports::switchyard::plugin as __sy;
            ::std::thread_local! {
                static __SLOT: $crate::typed::Slot<$t> = const { $crate::typed::Slot::new() };
            }
            fn __plugin_error(e: $crate::types::PluginError) -> $crate::provider::ParseError {
                $crate::provider::ParseError::Plugin(e)
            }
            struct __SwitchyardExport;
            /// A decoder, or the error that kept it from being made.
            struct __SwitchyardDecoder(
                Result<<$t as $crate::typed::Provider>::Decoder, $crate::types::PluginError>,
            );
            impl $crate::worlds::provider::Guest for __SwitchyardExport {
                fn describe() -> $crate::types::PluginInfo {
                    $crate::typed::describe::<$t>(
                        $crate::types::PluginKind::Provider,
                        <$t as $crate::typed::Provider>::PREFIXES,
                    )
                }
                fn init(config: String) -> Result<(), $crate::types::PluginError> {
                    __SLOT.with(|s| s.init(&config))
                }
            }
            impl __sy::provider::Guest for __SwitchyardExport {
                type StreamDecoder = __SwitchyardDecoder;
                fn build_request(
                    input: $crate::provider::BuildInput,
                ) -> Result<$crate::provider::Outbound, $crate::types::PluginError> {
                    __SLOT.with(|s| s.with(|p| <$t as $crate::typed::Provider>::build_request(p, input)))?
                }
                fn parse_response(
                    input: $crate::provider::BuildInput,
                    response: $crate::provider::HttpResponse,
                ) -> Result<$crate::provider::ParsedResponse, $crate::provider::ParseError> {
                    __SLOT
                        .with(|s| s.with(|p| <$t as $crate::typed::Provider>::parse_response(p, input, response)))
                        .map_err(__plugin_error)?
                }
            }
            impl __sy::provider::GuestStreamDecoder for __SwitchyardDecoder {
                fn new(input: $crate::provider::BuildInput) -> Self {
                    __SwitchyardDecoder(__SLOT.with(|s| s.with(|p| <$t as $crate::typed::Provider>::decoder(p, input))))
                }
                fn push(
                    &self,
                    input: $crate::provider::StreamInput,
                ) -> Result<$crate::provider::StreamOutput, $crate::provider::ParseError> {
                    match &self.0 {
                        Ok(d) => $crate::typed::Decoder::push(d, input),
                        Err(e) => Err(__plugin_error(e.clone())),
                    }
                }
                fn finish(&self) -> Result<$crate::provider::StreamOutput, $crate::provider::ParseError> {
                    match &self.0 {
                        Ok(d) => $crate::typed::Decoder::finish(d),
                        Err(e) => Err(__plugin_error(e.clone())),
                    }
                }
            }
            $crate::worlds::provider::__export_provider_world!(__SwitchyardExport with_types_in $crate::worlds::provider);
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Limits {
        rpm: u64,
    }

    #[derive(Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Config {
        #[serde(default)]
        limits: Option<Limits>,
    }

    #[test]
    fn a_bad_config_names_the_field() {
        let err = parse::<Config>(r#"{"limits": {"rpm": "x"}}"#).err();
        let Some(PluginError::InvalidConfig(m)) = err else {
            panic!("expected invalid-config, got {err:?}");
        };
        assert!(
            m.starts_with("limits.rpm: invalid type: string \"x\""),
            "{m}"
        );
        let err = parse::<Config>(r#"{"limts": {}}"#).err();
        let Some(PluginError::InvalidConfig(m)) = err else {
            panic!("expected invalid-config");
        };
        assert!(m.contains("unknown field `limts`"), "{m}");
    }

    #[test]
    fn a_good_config_parses() {
        let config = parse::<Config>(r#"{"limits": {"rpm": 5}}"#).unwrap();
        assert_eq!(config.limits.map(|l| l.rpm), Some(5));
    }

    #[test]
    fn the_derived_schema_refuses_unknown_fields() {
        let schema: serde_json::Value = serde_json::from_str(&schema::<Config>()).unwrap();
        assert_eq!(schema["additionalProperties"], false);
        assert!(schema["properties"]["limits"].is_object());
    }
}
