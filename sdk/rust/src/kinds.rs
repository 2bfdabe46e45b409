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
///
/// ```
/// use switchyard_sdk::sanitizer::{SanitizeInput, Stage, Verdict};
/// use switchyard_sdk::types::{PluginError, PluginInfo, PluginKind, Role};
/// use switchyard_sdk::{Plugin, Sanitizer, export_sanitizer, message_text};
///
/// struct NoSecrets;
///
/// impl Plugin for NoSecrets {
///     fn describe() -> PluginInfo {
///         switchyard_sdk::info("no-secrets", "0.1.0", PluginKind::Sanitizer)
///     }
/// }
///
/// impl Sanitizer for NoSecrets {
///     fn sanitize(input: SanitizeInput) -> Result<Verdict, PluginError> {
///         let leaks = input.request.messages.iter().any(|m| message_text(m).contains("sk-"));
///         Ok(if leaks { Verdict::Deny("the prompt holds an API key".into()) } else { Verdict::Allow })
///     }
/// }
///
/// export_sanitizer!(NoSecrets);
///
/// use switchyard_sdk::testing::{caller, chat_request, text};
/// let input = SanitizeInput {
///     stage: Stage::Request,
///     request: chat_request("gpt-4o", vec![text(Role::User, "my key is sk-123")]),
///     caller: caller(),
///     response: vec![],
///     window: None,
///     finish_reason: None,
///     context_window: None,
///     estimated_input_tokens: 0,
/// };
/// assert!(matches!(NoSecrets::sanitize(input), Ok(Verdict::Deny(_))));
/// ```
pub trait Sanitizer: Plugin {
    /// The verdict on one request (or answer, by `input.stage`): allow,
    /// deny with a reason the client sees, or the rewritten messages.
    fn sanitize(input: SanitizeInput) -> Result<Verdict, PluginError>;
}

/// A cost rule: prices a call, or has no opinion.
///
/// ```
/// use switchyard_sdk::cost::{CostAnswer, CostInput};
/// use switchyard_sdk::types::{PluginError, PluginInfo, PluginKind};
/// use switchyard_sdk::{CostRule, Plugin, export_cost_rule};
///
/// /// Ten percent on top of whatever the earlier rules reached.
/// struct Markup;
///
/// impl Plugin for Markup {
///     fn describe() -> PluginInfo {
///         switchyard_sdk::info("markup", "0.1.0", PluginKind::Cost)
///     }
/// }
///
/// impl CostRule for Markup {
///     fn cost(input: CostInput) -> Result<CostAnswer, PluginError> {
///         Ok(match input.previous {
///             Some(usd) => CostAnswer::Usd(usd * 1.1),
///             None => CostAnswer::NoOpinion,
///         })
///     }
/// }
///
/// export_cost_rule!(Markup);
/// ```
pub trait CostRule: Plugin {
    /// The price of one call in US dollars, or no opinion, so that the next
    /// rule in the chain decides.
    fn cost(input: CostInput) -> Result<CostAnswer, PluginError>;
}

/// A provider adapter: translates requests, answers and streams.
///
/// The host does every HTTP call; the adapter only builds the request and
/// reads the answer. [`crate::adapter`] has what most adapters need. A
/// pass-through adapter for an OpenAI-compatible server:
///
/// ```
/// use switchyard_sdk::provider::*;
/// use switchyard_sdk::types::{PluginError, PluginInfo, PluginKind};
/// use switchyard_sdk::{Plugin, Provider, StreamDecoder, adapter, export_provider};
///
/// struct Passthrough;
///
/// impl Plugin for Passthrough {
///     fn describe() -> PluginInfo {
///         let mut info = switchyard_sdk::info("passthrough", "0.1.0", PluginKind::Provider);
///         info.provider_prefixes = vec!["passthrough".into()];
///         info
///     }
/// }
///
/// impl Provider for Passthrough {
///     type Decoder = Chunks;
///
///     fn build_request(input: BuildInput) -> Result<Outbound, PluginError> {
///         let base = adapter::api_base(&input.target, None)
///             .ok_or_else(|| PluginError::InvalidInput("set api_base".into()))?;
///         let mut headers = vec![Header { name: "content-type".into(), value: "application/json".into() }];
///         headers.extend(adapter::extra_headers(&input.target)?);
///         Ok(Outbound::Send(HttpRequest {
///             method: "POST".into(),
///             url: format!("{base}/chat/completions"),
///             headers,
///             body: input.body.into_bytes(),
///             framing: Framing::Sse,
///         }))
///     }
///
///     fn parse_response(_input: BuildInput, response: HttpResponse) -> Result<ParsedResponse, ParseError> {
///         let status = response.status;
///         if !(200..=299).contains(&status) {
///             return Err(ParseError::Provider(ProviderError {
///                 status,
///                 class: adapter::class_for_status(status),
///                 message: adapter::body_text("passthrough", status, &response.body),
///                 code: None,
///             }));
///         }
///         let answer = adapter::body_json(status, &response.body)?;
///         Ok(ParsedResponse { body: answer.to_string(), usage: None })
///     }
/// }
///
/// /// Each event's data is already an OpenAI chunk.
/// struct Chunks;
///
/// impl StreamDecoder for Chunks {
///     fn new(_input: BuildInput) -> Self {
///         Chunks
///     }
///     fn push(&self, input: StreamInput) -> Result<StreamOutput, ParseError> {
///         let event = adapter::sse_event(input, "passthrough")?;
///         let done = event.data.trim() == "[DONE]";
///         let chunks = if done { vec![] } else { vec![event.data] };
///         Ok(StreamOutput { chunks, usage: None, done })
///     }
///     fn finish(&self) -> Result<StreamOutput, ParseError> {
///         Ok(StreamOutput { chunks: vec![], usage: None, done: true })
///     }
/// }
///
/// export_provider!(Passthrough);
///
/// // A native test.
/// use switchyard_sdk::testing::{build_input, http_response, target};
/// let mut t = target("passthrough", "llama3");
/// t.api_base = Some("http://localhost:8000/v1/".into());
/// let input = build_input(Operation::Chat, serde_json::json!({"model": "llama3", "messages": []}), t);
/// let Ok(Outbound::Send(request)) = Passthrough::build_request(input.clone()) else {
///     panic!("expected a request to send");
/// };
/// assert_eq!(request.url, "http://localhost:8000/v1/chat/completions");
/// let Err(ParseError::Provider(e)) = Passthrough::parse_response(input, http_response(429, "slow down")) else {
///     panic!("expected a provider error");
/// };
/// assert_eq!((e.class, e.message.as_str()), (ErrorClass::RateLimit, "slow down"));
/// ```
pub trait Provider: Plugin {
    /// The per-stream decoder.
    type Decoder: StreamDecoder;

    /// The provider's HTTP request for an OpenAI-format request, which the
    /// host sends (or, for an adapter that calls no one, the answer itself).
    fn build_request(input: BuildInput) -> Result<Outbound, PluginError>;

    /// The OpenAI-format answer and its usage for the provider's HTTP
    /// answer to a whole (not streamed) request; a provider error for a
    /// non-2xx answer, so the host can retry or fall back by its class.
    fn parse_response(
        input: BuildInput,
        response: HttpResponse,
    ) -> Result<ParsedResponse, ParseError>;
}

/// Decodes one streamed answer. One value lives for the whole stream, so it
/// may keep state (an id, tool call indices, usage so far) in `RefCell`s.
pub trait StreamDecoder: 'static {
    /// A decoder for the stream that answers `input` (the request as
    /// [`Provider::build_request`] got it, for ids, the model and options).
    fn new(input: BuildInput) -> Self;

    /// The OpenAI chunks for one unit of the stream, as the host framed it
    /// (an SSE event, or bytes); `done` once the provider says it is over.
    fn push(&self, input: StreamInput) -> Result<StreamOutput, ParseError>;

    /// Called once when the provider's body ends: whatever is left to send
    /// (held-back chunks, usage the stream never reported on its own).
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

/// Parses a config section into `T`, naming the problem on failure, so
/// `init` refuses a config it does not understand instead of guessing.
///
/// ```
/// #[derive(serde::Deserialize)]
/// #[serde(deny_unknown_fields)]
/// struct Config {
///     #[serde(default)]
///     echo: bool,
/// }
///
/// let config: Config = switchyard_sdk::parse_config(r#"{"echo": true}"#).unwrap();
/// assert!(config.echo);
/// assert!(switchyard_sdk::parse_config::<Config>(r#"{"ecko": true}"#).is_err());
/// ```
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
                    $crate::typed::install_panic_hook();
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
                    $crate::typed::install_panic_hook();
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
                    $crate::typed::install_panic_hook();
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
                    $crate::typed::install_panic_hook();
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
