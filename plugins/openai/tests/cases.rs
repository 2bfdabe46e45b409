//! Runs `cases.yaml` natively against the adapter's Rust API, converting
//! inputs and outputs the way docs/plugin-testing.md describes, so the
//! expectations in the file are checked by `cargo test` too. The
//! authoritative runner is the host's `switchyard plugin test`.

use openai::{Decoder, OpenAi};
use serde_json::{Value, json};
use switchyard_sdk::provider::{
    BuildInput, ErrorClass, HttpResponse, Operation, Outbound, ParseError, SseEvent, StreamInput,
    Target,
};
use switchyard_sdk::types::{Field, PluginError, Usage};
use switchyard_sdk::{Plugin, Provider, StreamDecoder};

fn subset(expected: &Value, actual: &Value, path: &str) -> Result<(), String> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let av = a
                    .get(k)
                    .ok_or_else(|| format!("{path}.{k}: missing in {actual}"))?;
                subset(ev, av, &format!("{path}.{k}"))?;
            }
            Ok(())
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                return Err(format!(
                    "{path}: expected {} items, got {}: {actual}",
                    e.len(),
                    a.len()
                ));
            }
            e.iter()
                .zip(a)
                .enumerate()
                .try_for_each(|(i, (ev, av))| subset(ev, av, &format!("{path}[{i}]")))
        }
        (Value::Number(e), Value::Number(a)) => {
            let (e, a) = (
                e.as_f64().unwrap_or(f64::NAN),
                a.as_f64().unwrap_or(f64::NAN),
            );
            if e == a || (e - a).abs() <= 1e-9 * e.abs().max(a.abs()) {
                Ok(())
            } else {
                Err(format!("{path}: expected {e}, got {a}"))
            }
        }
        _ if expected == actual => Ok(()),
        _ => Err(format!("{path}: expected {expected}, got {actual}")),
    }
}

fn fields(v: Option<&Value>) -> Vec<Field> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| Field {
                    key: k.clone(),
                    value: v.to_string(),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn text_or_json(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn build_input(input: &Value) -> BuildInput {
    let operation = match &input["operation"] {
        Value::String(s) if s == "chat" => Operation::Chat,
        Value::String(s) if s == "embeddings" => Operation::Embeddings,
        Value::Object(o) => Operation::Other(o["other"].as_str().unwrap_or_default().to_string()),
        other => Operation::Other(other.to_string()),
    };
    let t = &input["target"];
    let s = |k: &str| t[k].as_str().map(str::to_string);
    BuildInput {
        operation,
        body: text_or_json(&input["body"]),
        target: Target {
            provider: s("provider").unwrap_or_default(),
            model: s("model").unwrap_or_default(),
            api_base: s("api_base"),
            api_key: s("api_key"),
            api_version: s("api_version"),
            params: fields(t.get("params")),
        },
    }
}

fn parsed_or_text(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

fn usage_json(u: &Option<Usage>) -> Value {
    match u {
        None => Value::Null,
        Some(u) => json!({
            "input_tokens": u.input_tokens, "output_tokens": u.output_tokens,
            "cache_read_tokens": u.cache_read_tokens, "cache_write_tokens": u.cache_write_tokens,
            "reasoning_tokens": u.reasoning_tokens,
            "extra": u.extra.iter().map(|f| (f.key.clone(), serde_json::from_str::<Value>(&f.value).unwrap_or(Value::Null))).collect::<serde_json::Map<_, _>>(),
        }),
    }
}

fn class_json(c: &ErrorClass) -> Value {
    let s = match c {
        ErrorClass::BadRequest => "bad_request",
        ErrorClass::Authentication => "authentication",
        ErrorClass::PermissionDenied => "permission_denied",
        ErrorClass::NotFound => "not_found",
        ErrorClass::RateLimit => "rate_limit",
        ErrorClass::ContextWindowExceeded => "context_window_exceeded",
        ErrorClass::ContentPolicy => "content_policy",
        ErrorClass::Timeout => "timeout",
        ErrorClass::ServerError => "server_error",
        ErrorClass::Other(o) => return json!({"other": o}),
    };
    json!(s)
}

fn plugin_error_json(e: &PluginError) -> (String, Value) {
    let (k, m) = match e {
        PluginError::InvalidConfig(m) => ("invalid_config", m),
        PluginError::InvalidInput(m) => ("invalid_input", m),
        PluginError::Internal(m) => ("internal", m),
        PluginError::Other(m) => ("other", m),
    };
    (m.clone(), json!({ k: m }))
}

/// An error's message and JSON form.
fn parse_error_json(e: &ParseError) -> (String, Value) {
    match e {
        ParseError::Provider(p) => (
            p.message.clone(),
            json!({"provider": {"status": p.status, "class": class_json(&p.class), "message": p.message, "code": p.code}}),
        ),
        ParseError::Plugin(p) => {
            let (m, v) = plugin_error_json(p);
            (m, json!({ "plugin": v }))
        }
    }
}

/// Splits SSE text into events (data lines joined by newlines).
fn sse_events(text: &str) -> Vec<SseEvent> {
    let mut events = Vec::new();
    let (mut data, mut event, mut id): (Vec<String>, Option<String>, Option<String>) =
        (vec![], None, None);
    for line in text.lines().chain(std::iter::once("")) {
        if line.is_empty() {
            if !data.is_empty() || event.is_some() {
                events.push(SseEvent {
                    event: event.take(),
                    data: data.join("\n"),
                    id: id.take(),
                });
                data.clear();
            }
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value).to_string();
        match field {
            "data" => data.push(value),
            "event" => event = Some(value),
            "id" => id = Some(value),
            _ => {}
        }
    }
    events
}

fn stream_inputs(input: &Value) -> Vec<StreamInput> {
    if let Some(events) = input["events"].as_array() {
        return events
            .iter()
            .map(|e| {
                StreamInput::Event(SseEvent {
                    event: e["event"].as_str().map(str::to_string),
                    data: e["data"].as_str().unwrap_or_default().to_string(),
                    id: e["id"].as_str().map(str::to_string),
                })
            })
            .collect();
    }
    if let Some(sse) = input["sse"].as_str() {
        return sse_events(sse)
            .into_iter()
            .map(StreamInput::Event)
            .collect();
    }
    input["bytes"]
        .as_array()
        .map(|bs| {
            bs.iter()
                .map(|b| StreamInput::Bytes(b.as_str().unwrap_or_default().as_bytes().to_vec()))
                .collect()
        })
        .unwrap_or_default()
}

/// Runs one case: Ok(output JSON) or Err((message, error JSON)).
fn run(call: &str, input: &Value) -> Result<Value, (String, Value)> {
    match call {
        "build" => {
            match OpenAi::build_request(build_input(input)).map_err(|e| plugin_error_json(&e))? {
                Outbound::Send(r) => Ok(json!({"send": {
                    "method": r.method, "url": r.url,
                    "headers": r.headers.iter().map(|h| (h.name.to_ascii_lowercase(), json!(h.value))).collect::<serde_json::Map<_, _>>(),
                    "body": parsed_or_text(&r.body),
                    "framing": match r.framing { switchyard_sdk::provider::Framing::Sse => "sse", switchyard_sdk::provider::Framing::Bytes => "bytes" },
                }})),
                Outbound::Respond(r) => {
                    Ok(json!({"respond": {"status": r.status, "body": parsed_or_text(&r.body)}}))
                }
            }
        }
        "parse" => {
            let r = &input["response"];
            let response = HttpResponse {
                status: r["status"].as_u64().unwrap_or(200) as u16,
                headers: vec![],
                body: text_or_json(&r["body"]).into_bytes(),
            };
            let parsed = OpenAi::parse_response(build_input(input), response)
                .map_err(|e| parse_error_json(&e))?;
            Ok(
                json!({"body": parsed_or_text(parsed.body.as_bytes()), "usage": usage_json(&parsed.usage)}),
            )
        }
        "stream" => {
            let decoder = Decoder::new(build_input(input));
            let (mut chunks, mut usage, mut done) = (Vec::new(), None, false);
            let mut outputs = Vec::new();
            for item in stream_inputs(input) {
                outputs.push(decoder.push(item).map_err(|e| parse_error_json(&e))?);
            }
            outputs.push(decoder.finish().map_err(|e| parse_error_json(&e))?);
            for out in outputs {
                chunks.extend(out.chunks.iter().map(|c| parsed_or_text(c.as_bytes())));
                if out.usage.is_some() {
                    usage = out.usage;
                }
                done |= out.done;
            }
            Ok(json!({"chunks": chunks, "usage": usage_json(&usage), "done": done}))
        }
        other => Err((format!("unknown call {other}"), Value::Null)),
    }
}

#[test]
fn cases_yaml() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/cases.yaml")).unwrap();
    let file: Value = serde_yaml::from_str(&text).unwrap();
    assert_eq!(file["plugin"], OpenAi::describe().name.as_str());
    let cases = file["cases"].as_array().unwrap();
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let config = case
            .get("config")
            .or(file.get("config"))
            .cloned()
            .unwrap_or(json!({}));
        let call = case["call"].as_str().unwrap_or("build");
        let result = OpenAi::init(config.to_string())
            .map_err(|e| plugin_error_json(&e))
            .and_then(|()| run(call, &case["input"]));
        let outcome = match (result, case.get("expect"), case.get("error")) {
            (Ok(out), Some(expect), None) => subset(expect, &out, ""),
            (Err((msg, _)), None, Some(Value::String(want))) if msg.contains(want.as_str()) => {
                Ok(())
            }
            (Err((_, form)), None, Some(want @ Value::Object(_))) => subset(want, &form, "error"),
            (Err((msg, form)), _, _) => Err(format!("error {msg}: {form}")),
            (Ok(out), _, _) => Err(format!("expected an error, got {out}")),
        };
        match outcome {
            Ok(()) => eprintln!("ok   {name}"),
            Err(why) => failures.push(format!("FAIL {name}: {why}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
