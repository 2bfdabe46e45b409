//! Each plugin kind's bindings across the contract versions the host binds:
//! one enum per kind ([`Versioned`]) whose methods take and return the
//! current (0.3) host types, calling a 0.2 component through its own
//! bindings and [`super::v0_2`]'s conversions. The pool and the typed calls
//! are written once against these, whatever version a component targets.

use wasmtime::Store;
use wasmtime::component::{InstancePre, ResourceAny};

use super::bindings::v0_2;
use super::bindings::{cost, cost_api, provider, provider_api, router, router_api};
use super::bindings::{sanitizer, sanitizer_api, types};
use super::contract::Contract;
use super::instance::World;
use super::loaded::RoutingTable;
use super::store::HostState;
use super::v0_2::Adapt;

/// One kind's bindings (or pre-instantiated component), by the contract
/// version the component targets.
pub enum Versioned<Current, V02> {
    /// The current contract (0.3.x).
    Current(Current),
    /// Contract 0.2.x.
    V0_2(V02),
}

/// A router component of any bound version.
pub type RouterWorld = Versioned<router::RouterPlugin, v0_2::router::RouterPlugin>;
/// A provider adapter component of any bound version.
pub type ProviderWorld = Versioned<provider::ProviderPlugin, v0_2::provider::ProviderPlugin>;
/// A sanitiser component of any bound version.
pub type SanitizerWorld = Versioned<sanitizer::SanitizerPlugin, v0_2::sanitizer::SanitizerPlugin>;
/// A cost rule component of any bound version.
pub type CostWorld = Versioned<cost::CostPlugin, v0_2::cost::CostPlugin>;

type Res<T> = wasmtime::Result<Result<T, types::PluginError>>;

macro_rules! world {
    ($alias:ident, $new:ident :: $world:ident, $old:path, $pre:ident, $kind:literal $(, $prepare:item)?) => {
        impl World for $alias {
            type Pre = Versioned<$new::$pre<HostState>, <$old as VersionedPre>::Pre>;
            const KIND: &'static str = $kind;

            fn pre(pre: InstancePre<HostState>, contract: Contract) -> wasmtime::Result<Self::Pre> {
                Ok(match contract {
                    Contract::V0_3 => Versioned::Current($new::$pre::new(pre)?),
                    Contract::V0_2 => Versioned::V0_2(<$old as VersionedPre>::new(pre)?),
                })
            }
            fn instantiate(pre: &Self::Pre, store: &mut Store<HostState>) -> wasmtime::Result<Self> {
                Ok(match pre {
                    Versioned::Current(p) => Versioned::Current(p.instantiate(store)?),
                    Versioned::V0_2(p) => Versioned::V0_2(<$old as VersionedPre>::instantiate(p, store)?),
                })
            }
            fn describe(&self, store: &mut Store<HostState>) -> wasmtime::Result<types::PluginInfo> {
                match self {
                    Versioned::Current(b) => b.call_describe(store),
                    Versioned::V0_2(b) => b.call_describe(store),
                }
            }
            fn init(&self, store: &mut Store<HostState>, config: &str) -> Res<()> {
                let config = config.to_string();
                match self {
                    Versioned::Current(b) => b.call_init(store, &config),
                    Versioned::V0_2(b) => b.call_init(store, &config),
                }
            }
            $($prepare)?
        }
    };
}

/// A 0.2 world's pre-instantiated form, so the macro above names it once.
pub trait VersionedPre: Sized {
    type Pre: Send + Sync + 'static;
    fn new(pre: InstancePre<HostState>) -> wasmtime::Result<Self::Pre>;
    fn instantiate(pre: &Self::Pre, store: &mut Store<HostState>) -> wasmtime::Result<Self>;
}

macro_rules! versioned_pre {
    ($module:ident :: $world:ident, $pre:ident) => {
        impl VersionedPre for v0_2::$module::$world {
            type Pre = v0_2::$module::$pre<HostState>;
            fn new(pre: InstancePre<HostState>) -> wasmtime::Result<Self::Pre> {
                v0_2::$module::$pre::new(pre)
            }
            fn instantiate(
                pre: &Self::Pre,
                store: &mut Store<HostState>,
            ) -> wasmtime::Result<Self> {
                pre.instantiate(store)
            }
        }
    };
}

versioned_pre!(router::RouterPlugin, RouterPluginPre);
versioned_pre!(provider::ProviderPlugin, ProviderPluginPre);
versioned_pre!(sanitizer::SanitizerPlugin, SanitizerPluginPre);
versioned_pre!(cost::CostPlugin, CostPluginPre);

world!(
    RouterWorld,
    router::RouterPlugin,
    v0_2::router::RouterPlugin,
    RouterPluginPre,
    "router",
    fn prepare(&self, store: &mut Store<HostState>, table: &RoutingTable) -> Res<()> {
        self.set_deployments(store, table)
    }
);
world!(
    ProviderWorld,
    provider::ProviderPlugin,
    v0_2::provider::ProviderPlugin,
    ProviderPluginPre,
    "provider"
);
world!(
    SanitizerWorld,
    sanitizer::SanitizerPlugin,
    v0_2::sanitizer::SanitizerPlugin,
    SanitizerPluginPre,
    "sanitizer"
);
world!(
    CostWorld,
    cost::CostPlugin,
    v0_2::cost::CostPlugin,
    CostPluginPre,
    "cost"
);

impl<A, B> Versioned<A, B> {
    /// The contract version this component targets.
    pub fn contract(&self) -> Contract {
        match self {
            Versioned::Current(_) => Contract::V0_3,
            Versioned::V0_2(_) => Contract::V0_2,
        }
    }
}

impl RouterWorld {
    /// `set-deployments`.
    pub fn set_deployments(
        &self,
        store: &mut Store<HostState>,
        table: &[router_api::Deployment],
    ) -> Res<()> {
        match self {
            Versioned::Current(b) => b
                .switchyard_plugin_router()
                .call_set_deployments(store, table),
            Versioned::V0_2(b) => {
                let table: Vec<v0_2::router_api::Deployment> = table.to_vec().adapt();
                b.switchyard_plugin_router()
                    .call_set_deployments(store, &table)
            }
        }
    }

    /// `route`.
    pub fn route(
        &self,
        store: &mut Store<HostState>,
        request: &router_api::RouteRequest,
    ) -> Res<router_api::RouteDecision> {
        match self {
            Versioned::Current(b) => b.switchyard_plugin_router().call_route(store, request),
            Versioned::V0_2(b) => {
                let request: v0_2::router_api::RouteRequest = request.clone().adapt();
                Ok(b.switchyard_plugin_router()
                    .call_route(store, &request)?
                    .adapt())
            }
        }
    }
}

impl SanitizerWorld {
    /// `sanitize`.
    pub fn sanitize(
        &self,
        store: &mut Store<HostState>,
        input: &sanitizer_api::SanitizeInput,
    ) -> Res<sanitizer_api::Verdict> {
        match self {
            Versioned::Current(b) => b.switchyard_plugin_sanitizer().call_sanitize(store, input),
            Versioned::V0_2(b) => {
                let input: v0_2::sanitizer_api::SanitizeInput = input.clone().adapt();
                Ok(b.switchyard_plugin_sanitizer()
                    .call_sanitize(store, &input)?
                    .adapt())
            }
        }
    }
}

impl CostWorld {
    /// `cost`.
    pub fn cost(
        &self,
        store: &mut Store<HostState>,
        input: &cost_api::CostInput,
    ) -> Res<cost_api::CostAnswer> {
        match self {
            Versioned::Current(b) => b.switchyard_plugin_cost().call_cost(store, input),
            Versioned::V0_2(b) => {
                let input: v0_2::cost_api::CostInput = input.clone().adapt();
                Ok(b.switchyard_plugin_cost().call_cost(store, &input)?.adapt())
            }
        }
    }
}

/// A provider call's answer: translated, or a parse error.
type Parsed<T> = wasmtime::Result<Result<T, provider_api::ParseError>>;

impl ProviderWorld {
    /// `build-request`.
    pub fn build_request(
        &self,
        store: &mut Store<HostState>,
        input: &provider_api::BuildInput,
    ) -> Res<provider_api::Outbound> {
        match self {
            Versioned::Current(b) => b
                .switchyard_plugin_provider()
                .call_build_request(store, input),
            Versioned::V0_2(b) => {
                let input: v0_2::provider_api::BuildInput = input.clone().adapt();
                Ok(b.switchyard_plugin_provider()
                    .call_build_request(store, &input)?
                    .adapt())
            }
        }
    }

    /// `parse-response`.
    pub fn parse_response(
        &self,
        store: &mut Store<HostState>,
        input: &provider_api::BuildInput,
        response: &provider_api::HttpResponse,
    ) -> Parsed<provider_api::ParsedResponse> {
        match self {
            Versioned::Current(b) => b
                .switchyard_plugin_provider()
                .call_parse_response(store, input, response),
            Versioned::V0_2(b) => {
                let input: v0_2::provider_api::BuildInput = input.clone().adapt();
                let response: v0_2::provider_api::HttpResponse = response.clone().adapt();
                Ok(b.switchyard_plugin_provider()
                    .call_parse_response(store, &input, &response)?
                    .adapt())
            }
        }
    }

    /// The `stream-decoder` constructor.
    pub fn open_decoder(
        &self,
        store: &mut Store<HostState>,
        input: &provider_api::BuildInput,
    ) -> wasmtime::Result<ResourceAny> {
        match self {
            Versioned::Current(b) => b
                .switchyard_plugin_provider()
                .stream_decoder()
                .call_constructor(store, input),
            Versioned::V0_2(b) => {
                let input: v0_2::provider_api::BuildInput = input.clone().adapt();
                b.switchyard_plugin_provider()
                    .stream_decoder()
                    .call_constructor(store, &input)
            }
        }
    }

    /// `stream-decoder.push`.
    pub fn push(
        &self,
        store: &mut Store<HostState>,
        decoder: ResourceAny,
        input: &provider_api::StreamInput,
    ) -> Parsed<provider_api::StreamOutput> {
        match self {
            Versioned::Current(b) => b
                .switchyard_plugin_provider()
                .stream_decoder()
                .call_push(store, decoder, input),
            Versioned::V0_2(b) => {
                let input: v0_2::provider_api::StreamInput = input.clone().adapt();
                Ok(b.switchyard_plugin_provider()
                    .stream_decoder()
                    .call_push(store, decoder, &input)?
                    .adapt())
            }
        }
    }

    /// `stream-decoder.finish`.
    pub fn finish(
        &self,
        store: &mut Store<HostState>,
        decoder: ResourceAny,
    ) -> Parsed<provider_api::StreamOutput> {
        match self {
            Versioned::Current(b) => b
                .switchyard_plugin_provider()
                .stream_decoder()
                .call_finish(store, decoder),
            Versioned::V0_2(b) => Ok(b
                .switchyard_plugin_provider()
                .stream_decoder()
                .call_finish(store, decoder)?
                .adapt()),
        }
    }
}
