//! Running a cases file: each case's call on the plugin, loaded once per
//! distinct config, its outcome as JSON, and the report.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::gateway::views;
use crate::plugins::CallError;
use crate::plugins::bindings::cost_api::CostAnswer;
use crate::plugins::bindings::provider_api::{
    ErrorClass, Framing, Header, Outbound, ProviderError, SseEvent, StreamInput,
};
use crate::plugins::bindings::sanitizer_api::Verdict;
use crate::plugins::bindings::types::Usage;
use crate::plugins::loaded::{Kind, LoadedPlugin, Settings};
use crate::plugins::runtime::{Compiled, Runtime, sha256_hex};

use super::format::{Case, CaseFile, CaseResult, CostCase, ProviderCase, RouteCase, SanitizeCase};
use super::matching::matches;

/// Runs every case of `cases` against the component in `wasm`.
pub fn run_file(runtime: &Runtime, wasm: &Path, cases: &Path) -> anyhow::Result<Vec<CaseResult>> {
    let text = std::fs::read_to_string(cases)
        .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", cases.display()))?;
    let file: CaseFile =
        serde_yaml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", cases.display()))?;
    let bytes =
        std::fs::read(wasm).map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", wasm.display()))?;
    let compiled = runtime.compile(wasm, &bytes, &sha256_hex(&bytes))?;
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
                "extra": views::map_from_fields(&d.extra),
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
            "messages": messages.iter().map(views::message_to_openai).collect::<Vec<_>>(),
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
        "extra": views::map_from_fields(&u.extra),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_text_splits_into_events() {
        let events = parse_sse("event: ping\ndata: {}\n\ndata: a\ndata: b\n\ndata: [DONE]\n");
        assert_eq!(events.len(), 3);
        assert_eq!(events[0].event.as_deref(), Some("ping"));
        assert_eq!(events[1].data, "a\nb");
        assert_eq!(events[2].data, "[DONE]");
    }
}
