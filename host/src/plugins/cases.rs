//! `switchyard plugin test`: runs a plugin against a cases file with no
//! gateway and no network (see `docs/plugin-testing.md` for the format).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value, json};
use switchyard_sdk::openai::{ChatMessage, ChatRequest};

use super::bindings::cost_api::{CostAnswer, CostInput};
use super::bindings::provider_api::{
    BuildInput, ErrorClass, Framing, Header, HttpResponse, Operation, Outbound, ProviderError,
    SseEvent, StreamInput, Target,
};
use super::bindings::router_api::{Candidate, Deployment, Health, RouteRequest};
use super::bindings::sanitizer_api::{SanitizeInput, Stage, Verdict};
use super::bindings::types::{Caller, Prices, Usage};
use super::convert;
use super::error::CallError;
use super::loaded::{Kind, LoadedPlugin, Settings};
use super::runtime::{Compiled, Runtime};

/// A cases file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    /// The name `describe` must return, if given.
    pub plugin: Option<String>,
    /// Config for every case unless a case overrides it.
    pub config: Option<Value>,
    pub cases: Vec<Case>,
}

/// One case.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    pub config: Option<Value>,
    pub call: Option<String>,
    #[serde(default)]
    pub input: Value,
    pub expect: Option<Value>,
    pub error: Option<Value>,
}

/// The outcome of one case.
#[derive(Debug)]
pub struct CaseResult {
    pub name: String,
    pub failure: Option<String>,
}

/// Runs every case of `cases` against the component in `wasm`.
pub fn run_file(runtime: &Runtime, wasm: &Path, cases: &Path) -> anyhow::Result<Vec<CaseResult>> {
    let text = std::fs::read_to_string(cases)
        .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", cases.display()))?;
    let file: CaseFile =
        serde_yaml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", cases.display()))?;
    let bytes =
        std::fs::read(wasm).map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", wasm.display()))?;
    let compiled = runtime.compile(wasm, &bytes)?;
    let mut runner = Runner {
        runtime,
        wasm,
        compiled,
        loaded: BTreeMap::new(),
    };
    if let Some(expected) = &file.plugin {
        let plugin = runner.plugin(&file.config)?;
        anyhow::ensure!(
            plugin.name() == expected,
            "{}: describe() says the plugin is {:?}, the cases file expects {:?}",
            wasm.display(),
            plugin.name(),
            expected
        );
    }
    let mut results = Vec::new();
    for case in &file.cases {
        let config = case.config.clone().or_else(|| file.config.clone());
        let failure = match runner.plugin(&config) {
            Ok(plugin) => run_case(&plugin, case).err(),
            Err(e) => check_load_error(case, &e.to_string()).err(),
        };
        results.push(CaseResult {
            name: case.name.clone(),
            failure,
        });
    }
    Ok(results)
}

struct Runner<'a> {
    runtime: &'a Runtime,
    wasm: &'a Path,
    compiled: Compiled,
    /// One loaded plugin per distinct config.
    loaded: BTreeMap<String, Arc<LoadedPlugin>>,
}

impl Runner<'_> {
    fn plugin(&mut self, config: &Option<Value>) -> anyhow::Result<Arc<LoadedPlugin>> {
        let config = config.clone().unwrap_or_else(|| json!({}));
        let key = config.to_string();
        if let Some(p) = self.loaded.get(&key) {
            return Ok(p.clone());
        }
        let plugin =
            LoadedPlugin::from_compiled(self.runtime, self.wasm, self.compiled.clone(), |_| {
                Settings {
                    config: config.clone(),
                    ..Default::default()
                }
            })?;
        let plugin = Arc::new(plugin);
        self.loaded.insert(key, plugin.clone());
        Ok(plugin)
    }
}

/// A case whose config fails to load passes only if it expects that error.
fn check_load_error(case: &Case, message: &str) -> Result<(), String> {
    match &case.error {
        Some(Value::String(want)) if message.contains(want.as_str()) => Ok(()),
        Some(Value::String(want)) => Err(format!(
            "expected an error containing {want:?}, the plugin failed to load: {message}"
        )),
        _ => Err(format!("the plugin failed to load: {message}")),
    }
}

/// Runs one case and compares its outcome with what the case expects.
pub fn run_case(plugin: &Arc<LoadedPlugin>, case: &Case) -> Result<(), String> {
    let outcome = call(plugin, case);
    match (&case.expect, &case.error, outcome) {
        (Some(expect), None, Ok(actual)) => matches(expect, &actual, "$"),
        (None, Some(want), Err(actual)) => match want {
            Value::String(s) => {
                let message = actual
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if message.contains(s.as_str()) {
                    Ok(())
                } else {
                    Err(format!(
                        "expected an error containing {s:?}, got: {message}"
                    ))
                }
            }
            other => matches(other, &actual, "$error"),
        },
        (Some(_), None, Err(e)) => Err(format!("expected success, got error: {e}")),
        (None, Some(_), Ok(out)) => Err(format!("expected an error, got: {out}")),
        (None, None, Ok(_)) => Ok(()),
        (None, None, Err(e)) => Err(format!("the call failed: {e}")),
        (Some(_), Some(_), _) => Err("a case gives either `expect` or `error`, not both".into()),
    }
}

/// Calls the plugin; the `Err` side is the error's JSON form.
fn call(plugin: &Arc<LoadedPlugin>, case: &Case) -> Result<Value, Value> {
    let default_call = match plugin.kind() {
        Kind::Router => "route",
        Kind::Sanitizer => "sanitize",
        Kind::Cost => "cost",
        Kind::Provider => "build",
    };
    let name = case.call.as_deref().unwrap_or(default_call);
    let bad_input =
        |e: String| json!({"kind": "bad_case", "message": format!("bad case input: {e}")});
    match (plugin.kind(), name) {
        (Kind::Router, "route") => {
            let input: RouteCase = parse_input(&case.input).map_err(bad_input)?;
            let (table, req) = input.into_wit();
            let d = plugin.route_with_table(&table, &req).map_err(call_error)?;
            // Cases name deployments by id; the contract by table position.
            let order: Vec<&str> = d
                .order
                .iter()
                .filter_map(|i| table.get(*i as usize).map(|t| t.id.as_str()))
                .collect();
            Ok(json!({
                "order": order,
                "model_group": d.model_group,
                "reason": d.reason,
                "extra": convert::map_from_fields(&d.extra),
            }))
        }
        (Kind::Sanitizer, "sanitize") => {
            let input: SanitizeCase = parse_input(&case.input).map_err(bad_input)?;
            let v = plugin.sanitize(&input.into_wit()).map_err(call_error)?;
            Ok(verdict_json(&v))
        }
        (Kind::Cost, "cost") => {
            let input: CostCase = parse_input(&case.input).map_err(bad_input)?;
            match plugin.cost(&input.into_wit()).map_err(call_error)? {
                CostAnswer::Usd(usd) => Ok(json!({"usd": usd})),
                CostAnswer::NoOpinion => Ok(json!({"no_opinion": true})),
            }
        }
        (Kind::Provider, "build") => {
            let input: ProviderCase = parse_input(&case.input).map_err(bad_input)?;
            let out = plugin
                .build_request(&input.build_input())
                .map_err(call_error)?;
            Ok(match out {
                Outbound::Send(r) => json!({"send": {
                    "method": r.method,
                    "url": r.url,
                    "headers": headers_json(&r.headers),
                    "body": body_json(&r.body),
                    "framing": match r.framing { Framing::Sse => "sse", Framing::Bytes => "bytes" },
                }}),
                Outbound::Respond(r) => json!({"respond": {
                    "status": r.status,
                    "headers": headers_json(&r.headers),
                    "body": body_json(&r.body),
                }}),
            })
        }
        (Kind::Provider, "parse") => {
            let input: ProviderCase = parse_input(&case.input).map_err(bad_input)?;
            let response = input
                .response
                .as_ref()
                .ok_or_else(|| bad_input("`parse` needs `input.response`".into()))?
                .to_wit();
            match plugin
                .parse_response(&input.build_input(), &response)
                .map_err(call_error)?
            {
                Ok(parsed) => Ok(json!({
                    "body": serde_json::from_str::<Value>(&parsed.body).unwrap_or(Value::Null),
                    "usage": parsed.usage.as_ref().map(usage_json),
                })),
                Err(e) => Err(provider_error_json(&e)),
            }
        }
        (Kind::Provider, "stream") => {
            let input: ProviderCase = parse_input(&case.input).map_err(bad_input)?;
            run_stream(plugin, &input)
        }
        (kind, other) => Err(bad_input(format!(
            "a {} plugin has no call {other:?}",
            kind.as_str()
        ))),
    }
}

fn run_stream(plugin: &Arc<LoadedPlugin>, input: &ProviderCase) -> Result<Value, Value> {
    let mut inputs: Vec<StreamInput> = Vec::new();
    if let Some(events) = &input.events {
        inputs.extend(events.iter().map(|e| {
            StreamInput::Event(SseEvent {
                event: e.event.clone(),
                data: e.data.clone(),
                id: e.id.clone(),
            })
        }));
    }
    if let Some(text) = &input.sse {
        inputs.extend(parse_sse(text).into_iter().map(StreamInput::Event));
    }
    if let Some(chunks) = &input.bytes {
        inputs.extend(
            chunks
                .iter()
                .map(|c| StreamInput::Bytes(c.as_bytes().to_vec())),
        );
    }
    let mut session = plugin
        .open_stream(&input.build_input())
        .map_err(call_error)?;
    let mut chunks = Vec::new();
    let mut usage = None;
    let mut done = false;
    let mut outputs = Vec::new();
    for item in &inputs {
        outputs.push(session.push(item));
    }
    outputs.push(session.finish());
    for out in outputs {
        match out.map_err(call_error)? {
            Ok(o) => {
                chunks.extend(
                    o.chunks
                        .iter()
                        .map(|c| serde_json::from_str::<Value>(c).unwrap_or(Value::Null)),
                );
                if o.usage.is_some() {
                    usage = o.usage;
                }
                done |= o.done;
            }
            Err(e) => return Err(provider_error_json(&e)),
        }
    }
    Ok(json!({"chunks": chunks, "usage": usage.as_ref().map(usage_json), "done": done}))
}

/// Splits SSE text into events with the same parser the gateway uses.
pub fn parse_sse(text: &str) -> Vec<SseEvent> {
    use eventsource_stream::Eventsource;
    use futures::StreamExt;
    // A YAML block ends in one newline; the last event still counts.
    let mut text = text.to_string();
    while !text.ends_with("\n\n") {
        text.push('\n');
    }
    let body = futures::stream::iter([Ok::<_, std::convert::Infallible>(text.into_bytes())]);
    futures::executor::block_on(body.eventsource().collect::<Vec<_>>())
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| SseEvent {
            event: (e.event != "message").then_some(e.event),
            data: e.data,
            id: (!e.id.is_empty()).then_some(e.id),
        })
        .collect()
}

fn parse_input<T: serde::de::DeserializeOwned>(input: &Value) -> Result<T, String> {
    serde_json::from_value(input.clone()).map_err(|e| e.to_string())
}

fn call_error(e: CallError) -> Value {
    let kind = match &e {
        CallError::Timeout { .. } => "timeout",
        CallError::MemoryLimit { .. } => "memory_limit",
        CallError::Trap { .. } => "trap",
        CallError::Plugin { .. } => "plugin",
        CallError::Malformed { .. } => "malformed",
        CallError::Instantiate { .. } => "instantiate",
        CallError::WrongKind { .. } => "wrong_kind",
    };
    json!({"kind": kind, "message": e.to_string()})
}

/// The snake_case name of an error class.
pub fn class_name(class: &ErrorClass) -> Value {
    let name = match class {
        ErrorClass::BadRequest => "bad_request",
        ErrorClass::Authentication => "authentication",
        ErrorClass::PermissionDenied => "permission_denied",
        ErrorClass::NotFound => "not_found",
        ErrorClass::RateLimit => "rate_limit",
        ErrorClass::ContextWindowExceeded => "context_window_exceeded",
        ErrorClass::ContentPolicy => "content_policy",
        ErrorClass::Timeout => "timeout",
        ErrorClass::ServerError => "server_error",
        ErrorClass::Other(s) => return json!({"other": s}),
    };
    Value::String(name.into())
}

fn provider_error_json(e: &ProviderError) -> Value {
    json!({
        "kind": "provider",
        "message": format!("provider error {}: {}", e.status, e.message),
        "provider": {
            "status": e.status,
            "class": class_name(&e.class),
            "message": e.message,
            "code": e.code,
        }
    })
}

fn verdict_json(v: &Verdict) -> Value {
    match v {
        Verdict::Allow => json!({"verdict": "allow"}),
        Verdict::Deny(reason) => json!({"verdict": "deny", "reason": reason}),
        Verdict::Rewrite(messages) => json!({
            "verdict": "rewrite",
            "messages": messages.iter().map(convert::message_to_openai).collect::<Vec<_>>(),
        }),
    }
}

fn usage_json(u: &Usage) -> Value {
    json!({
        "input_tokens": u.input_tokens,
        "output_tokens": u.output_tokens,
        "cache_read_tokens": u.cache_read_tokens,
        "cache_write_tokens": u.cache_write_tokens,
        "reasoning_tokens": u.reasoning_tokens,
        "extra": convert::map_from_fields(&u.extra),
    })
}

fn headers_json(headers: &[Header]) -> Value {
    Value::Object(
        headers
            .iter()
            .map(|h| (h.name.to_ascii_lowercase(), Value::String(h.value.clone())))
            .collect(),
    )
}

fn body_json(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// Matches `expected` against `actual` as a subset (see the module docs).
pub fn matches(expected: &Value, actual: &Value, path: &str) -> Result<(), String> {
    match (expected, actual) {
        (Value::Object(_) | Value::Array(_), Value::String(text)) => {
            match serde_json::from_str::<Value>(text) {
                Ok(parsed) => matches(expected, &parsed, path),
                Err(_) => Err(format!(
                    "{path}: expected {expected}, got the string {text:?}"
                )),
            }
        }
        (Value::Object(want), Value::Object(got)) => {
            for (k, v) in want {
                let here = format!("{path}.{k}");
                match got.get(k) {
                    Some(a) => matches(v, a, &here)?,
                    None if v.is_null() => {}
                    None => return Err(format!("{here}: missing (expected {v})")),
                }
            }
            Ok(())
        }
        (Value::Array(want), Value::Array(got)) => {
            if want.len() != got.len() {
                return Err(format!(
                    "{path}: expected {} items, got {}: {}",
                    want.len(),
                    got.len(),
                    Value::Array(got.clone())
                ));
            }
            for (i, (w, g)) in want.iter().zip(got).enumerate() {
                matches(w, g, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        (Value::Number(w), Value::Number(g)) => {
            let (w, g) = (
                w.as_f64().unwrap_or(f64::NAN),
                g.as_f64().unwrap_or(f64::NAN),
            );
            let tolerance = 1e-9 * w.abs().max(g.abs()).max(1e-12);
            if (w - g).abs() <= tolerance {
                Ok(())
            } else {
                Err(format!("{path}: expected {w}, got {g}"))
            }
        }
        (w, g) if w == g => Ok(()),
        (w, g) => Err(format!("{path}: expected {w}, got {g}")),
    }
}

/// Prints one line per case and a summary; returns whether all passed.
pub fn report(results: &[CaseResult]) -> (String, bool) {
    let mut out = String::new();
    let mut failed = 0;
    for r in results {
        match &r.failure {
            None => {
                let _ = writeln!(out, "ok    {}", r.name);
            }
            Some(why) => {
                failed += 1;
                let _ = writeln!(out, "FAIL  {}: {why}", r.name);
            }
        }
    }
    let _ = writeln!(out, "{} passed, {} failed", results.len() - failed, failed);
    (out, failed == 0)
}

// ---- case inputs -----------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct CallerCase {
    key_alias: Option<String>,
    user: Option<String>,
    team: Option<String>,
    tags: Vec<String>,
    tier: Option<String>,
    metadata: Map<String, Value>,
}

impl CallerCase {
    fn into_wit(self) -> Caller {
        Caller {
            key_alias: self.key_alias,
            user: self.user,
            team: self.team,
            tags: self.tags,
            tier: self.tier,
            metadata: convert::fields_from_map(&self.metadata),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct PricesCase {
    input_per_token: Option<f64>,
    output_per_token: Option<f64>,
    cache_read_per_token: Option<f64>,
    cache_write_per_token: Option<f64>,
    reasoning_per_token: Option<f64>,
    per_request: Option<f64>,
    extra: Map<String, Value>,
}

impl PricesCase {
    fn into_wit(self) -> Prices {
        Prices {
            input_per_token: self.input_per_token,
            output_per_token: self.output_per_token,
            cache_read_per_token: self.cache_read_per_token,
            cache_write_per_token: self.cache_write_per_token,
            reasoning_per_token: self.reasoning_per_token,
            per_request: self.per_request,
            extra: convert::fields_from_map(&self.extra),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case")]
enum HealthCase {
    Healthy,
    CoolingDown(u64),
    Unhealthy(String),
    Other(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeploymentCase {
    id: String,
    model_group: Option<String>,
    provider: Option<String>,
    model: Option<String>,
    health: Option<HealthCase>,
    #[serde(default)]
    in_flight: u32,
    latency_avg_ms: Option<f64>,
    ttft_avg_ms: Option<f64>,
    #[serde(default)]
    rpm_used: u64,
    rpm_limit: Option<u64>,
    #[serde(default)]
    tpm_used: u64,
    tpm_limit: Option<u64>,
    #[serde(default)]
    prices: PricesCase,
    context_window: Option<u64>,
    #[serde(default)]
    tags: Vec<String>,
    weight: Option<f64>,
    order: Option<u32>,
    #[serde(default)]
    extra: Map<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteCase {
    request: ChatRequest,
    #[serde(default)]
    caller: CallerCase,
    #[serde(default)]
    candidates: Vec<DeploymentCase>,
    /// Deployments of other model groups: in the router's table, not
    /// candidates of this request.
    #[serde(default)]
    others: Vec<DeploymentCase>,
    estimated_input_tokens: Option<u64>,
    #[serde(default)]
    seed: u64,
    #[serde(default)]
    now_ms: u64,
}

impl DeploymentCase {
    /// The case's static part, as a router's table holds it.
    fn into_table_entry(self, default_group: &str) -> Deployment {
        Deployment {
            model_group: self
                .model_group
                .unwrap_or_else(|| default_group.to_string()),
            provider: self.provider.unwrap_or_else(|| "openai".into()),
            model: self.model.unwrap_or_else(|| self.id.clone()),
            id: self.id,
            rpm_limit: self.rpm_limit,
            tpm_limit: self.tpm_limit,
            prices: self.prices.into_wit(),
            context_window: self.context_window,
            tags: self.tags,
            weight: self.weight,
            order: self.order,
            extra: convert::fields_from_map(&self.extra),
        }
    }
}

impl RouteCase {
    /// The deployment table (every candidate, in the case's order) and the
    /// request whose candidates point into it.
    fn into_wit(self) -> (Vec<Deployment>, RouteRequest) {
        let request = convert::chat_request_view(&self.request);
        let group = self.request.model.clone();
        let mut table = Vec::with_capacity(self.candidates.len());
        let mut candidates = Vec::with_capacity(self.candidates.len());
        for (i, d) in self.candidates.into_iter().enumerate() {
            candidates.push(Candidate {
                deployment: i as u32,
                health: match d.health.clone().unwrap_or(HealthCase::Healthy) {
                    HealthCase::Healthy => Health::Healthy,
                    HealthCase::CoolingDown(ms) => Health::CoolingDown(ms),
                    HealthCase::Unhealthy(e) => Health::Unhealthy(e),
                    HealthCase::Other(s) => Health::Other(s),
                },
                in_flight: d.in_flight,
                latency_avg_ms: d.latency_avg_ms,
                ttft_avg_ms: d.ttft_avg_ms,
                rpm_used: d.rpm_used,
                tpm_used: d.tpm_used,
            });
            table.push(d.into_table_entry(&group));
        }
        // Deployments of other groups (for routers that pick a group), not
        // candidates of this request.
        for (i, d) in self.others.into_iter().enumerate() {
            table.push(d.into_table_entry(&format!("group-{i}")));
        }
        let estimated = self
            .estimated_input_tokens
            .unwrap_or_else(|| convert::estimate_tokens(&request));
        let request = RouteRequest {
            request,
            caller: self.caller.into_wit(),
            candidates,
            estimated_input_tokens: estimated,
            seed: self.seed,
            now_ms: self.now_ms,
        };
        (table, request)
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum StageCase {
    Request,
    Response,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SanitizeCase {
    stage: Option<StageCase>,
    request: ChatRequest,
    #[serde(default)]
    caller: CallerCase,
    #[serde(default)]
    response: Vec<ChatMessage>,
}

impl SanitizeCase {
    fn into_wit(self) -> SanitizeInput {
        SanitizeInput {
            stage: match self.stage.unwrap_or(StageCase::Request) {
                StageCase::Request => Stage::Request,
                StageCase::Response => Stage::Response,
            },
            request: convert::chat_request_view(&self.request),
            caller: self.caller.into_wit(),
            response: self.response.iter().map(convert::message_view).collect(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct UsageCase {
    input_tokens: u64,
    output_tokens: u64,
    cache_read_tokens: u64,
    cache_write_tokens: u64,
    reasoning_tokens: u64,
    extra: Map<String, Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct CostCase {
    model_group: String,
    deployment_id: String,
    provider: String,
    model: String,
    prices: PricesCase,
    usage: UsageCase,
    caller: CallerCase,
    previous: Option<f64>,
    extra: Map<String, Value>,
}

impl CostCase {
    fn into_wit(self) -> CostInput {
        CostInput {
            model_group: self.model_group,
            deployment_id: self.deployment_id,
            provider: self.provider,
            model: self.model,
            prices: self.prices.into_wit(),
            usage: Usage {
                input_tokens: self.usage.input_tokens,
                output_tokens: self.usage.output_tokens,
                cache_read_tokens: self.usage.cache_read_tokens,
                cache_write_tokens: self.usage.cache_write_tokens,
                reasoning_tokens: self.usage.reasoning_tokens,
                extra: convert::fields_from_map(&self.usage.extra),
            },
            caller: self.caller.into_wit(),
            previous: self.previous,
            extra: convert::fields_from_map(&self.extra),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum OperationCase {
    Chat,
    Embeddings,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetCase {
    provider: String,
    model: String,
    api_base: Option<String>,
    api_key: Option<String>,
    api_version: Option<String>,
    #[serde(default)]
    params: Map<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResponseCase {
    status: u16,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: Value,
}

impl ResponseCase {
    fn to_wit(&self) -> HttpResponse {
        HttpResponse {
            status: self.status,
            headers: self
                .headers
                .iter()
                .map(|(k, v)| Header {
                    name: k.clone(),
                    value: v.clone(),
                })
                .collect(),
            body: match &self.body {
                Value::String(s) => s.as_bytes().to_vec(),
                other => other.to_string().into_bytes(),
            },
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventCase {
    event: Option<String>,
    data: String,
    id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderCase {
    operation: Option<OperationCase>,
    body: Value,
    target: TargetCase,
    response: Option<ResponseCase>,
    events: Option<Vec<EventCase>>,
    sse: Option<String>,
    bytes: Option<Vec<String>>,
}

impl ProviderCase {
    fn build_input(&self) -> BuildInput {
        BuildInput {
            operation: match self.operation {
                None | Some(OperationCase::Chat) => Operation::Chat,
                Some(OperationCase::Embeddings) => Operation::Embeddings,
            },
            body: self.body.to_string(),
            target: Target {
                provider: self.target.provider.clone(),
                model: self.target.model.clone(),
                api_base: self.target.api_base.clone(),
                api_key: self.target.api_key.clone(),
                api_version: self.target.api_version.clone(),
                params: convert::fields_from_map(&self.target.params),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subset_matching_ignores_unnamed_keys_and_parses_json_text() {
        let actual = json!({"a": 1, "b": "{\"x\": [1, 2]}", "c": 0.30000000000000004});
        assert!(matches(&json!({"a": 1}), &actual, "$").is_ok());
        assert!(matches(&json!({"b": {"x": [1, 2]}}), &actual, "$").is_ok());
        assert!(matches(&json!({"c": 0.3}), &actual, "$").is_ok());
        assert!(matches(&json!({"b": {"x": [1]}}), &actual, "$").is_err());
        assert!(matches(&json!({"d": 1}), &actual, "$").is_err());
        assert!(matches(&json!({"a": 2}), &actual, "$").is_err());
    }

    #[test]
    fn sse_text_splits_into_events() {
        let events = parse_sse("event: ping\ndata: {}\n\ndata: a\ndata: b\n\ndata: [DONE]\n");
        assert_eq!(events.len(), 3);
        assert_eq!(events[0].event.as_deref(), Some("ping"));
        assert_eq!(events[1].data, "a\nb");
        assert_eq!(events[2].data, "[DONE]");
    }
}
