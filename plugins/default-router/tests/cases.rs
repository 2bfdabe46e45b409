//! Runs `cases.yaml` natively against the plugin's Rust API, converting
//! inputs the way docs/plugin-testing.md describes, so the expectations in
//! the file are checked by `cargo test` too. The authoritative runner is the
//! host's `switchyard plugin test`, which runs the same file on the .wasm.

use default_router::DefaultRouter;
use serde_json::{Value, json};
use switchyard_sdk::router::{Deployment, Health, RouteDecision, RouteRequest};
use switchyard_sdk::types::{
    Caller, ChatRequest, ContentPart, Field, Message, PluginError, Prices, Role,
};
use switchyard_sdk::{Plugin, Router};

/// `expect` matched as a subset of `actual` (docs/plugin-testing.md).
fn subset(expected: &Value, actual: &Value, path: &str) -> Result<(), String> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let av = a.get(k).ok_or_else(|| format!("{path}.{k}: missing"))?;
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
            if e == a || ((e - a).abs() <= 1e-9 * e.abs().max(a.abs())) {
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

fn message(m: &Value) -> Message {
    let role = match m["role"].as_str().unwrap_or("user") {
        "system" => Role::System,
        "developer" => Role::Developer,
        "user" => Role::User,
        "assistant" => Role::Assistant,
        "tool" => Role::Tool,
        other => Role::Other(other.to_string()),
    };
    let content = match &m["content"] {
        Value::String(s) => vec![ContentPart::Text(s.clone())],
        Value::Array(parts) => parts
            .iter()
            .map(|p| match p["type"].as_str() {
                Some("text") => ContentPart::Text(p["text"].as_str().unwrap_or("").to_string()),
                Some("image_url") => {
                    ContentPart::ImageUrl(p["image_url"]["url"].as_str().unwrap_or("").to_string())
                }
                _ => ContentPart::Other(p.to_string()),
            })
            .collect(),
        _ => vec![],
    };
    Message {
        role,
        content,
        name: m["name"].as_str().map(str::to_string),
        extra: vec![],
    }
}

fn prices(v: &Value) -> Prices {
    Prices {
        input_per_token: v["input_per_token"].as_f64(),
        output_per_token: v["output_per_token"].as_f64(),
        cache_read_per_token: v["cache_read_per_token"].as_f64(),
        cache_write_per_token: v["cache_write_per_token"].as_f64(),
        reasoning_per_token: v["reasoning_per_token"].as_f64(),
        per_request: v["per_request"].as_f64(),
        extra: fields(v.get("extra")),
    }
}

fn deployment(d: &Value, group: &str) -> Deployment {
    let id = d["id"].as_str().unwrap_or_default().to_string();
    let health = match &d["health"] {
        Value::Object(h) if h.contains_key("cooling_down") => {
            Health::CoolingDown(h["cooling_down"].as_u64().unwrap_or(0))
        }
        Value::Object(h) if h.contains_key("unhealthy") => {
            Health::Unhealthy(h["unhealthy"].as_str().unwrap_or("").to_string())
        }
        _ => Health::Healthy,
    };
    Deployment {
        model_group: d["model_group"].as_str().unwrap_or(group).to_string(),
        provider: d["provider"].as_str().unwrap_or("openai").to_string(),
        model: d["model"].as_str().unwrap_or(&id).to_string(),
        id,
        health,
        in_flight: d["in_flight"].as_u64().unwrap_or(0) as u32,
        latency_avg_ms: d["latency_avg_ms"].as_f64(),
        ttft_avg_ms: d["ttft_avg_ms"].as_f64(),
        rpm_used: d["rpm_used"].as_u64().unwrap_or(0),
        rpm_limit: d["rpm_limit"].as_u64(),
        tpm_used: d["tpm_used"].as_u64().unwrap_or(0),
        tpm_limit: d["tpm_limit"].as_u64(),
        prices: prices(&d["prices"]),
        context_window: d["context_window"].as_u64(),
        tags: vec![],
        weight: d["weight"].as_f64(),
        order: d["order"].as_u64().map(|o| o as u32),
        extra: fields(d.get("extra")),
    }
}

fn route_request(input: &Value) -> RouteRequest {
    let req = &input["request"];
    let model = req["model"].as_str().unwrap_or_default().to_string();
    let messages = req["messages"]
        .as_array()
        .map(|ms| ms.iter().map(message).collect())
        .unwrap_or_default();
    let caller = &input["caller"];
    RouteRequest {
        request: ChatRequest {
            model: model.clone(),
            messages,
            stream: req["stream"].as_bool().unwrap_or(false),
            max_tokens: req["max_tokens"].as_u64().map(|v| v as u32),
            tags: vec![],
            metadata: fields(req.get("metadata")),
            extra: vec![],
        },
        caller: Caller {
            key_alias: caller["key_alias"].as_str().map(str::to_string),
            user: caller["user"].as_str().map(str::to_string),
            team: caller["team"].as_str().map(str::to_string),
            tags: vec![],
            tier: caller["tier"].as_str().map(str::to_string),
            metadata: fields(caller.get("metadata")),
        },
        candidates: input["candidates"]
            .as_array()
            .map(|cs| cs.iter().map(|d| deployment(d, &model)).collect())
            .unwrap_or_default(),
        estimated_input_tokens: input["estimated_input_tokens"].as_u64().unwrap_or(0),
        seed: input["seed"].as_u64().unwrap_or(0),
        now_ms: input["now_ms"].as_u64().unwrap_or(0),
    }
}

fn decision_json(d: &RouteDecision) -> Value {
    json!({"order": d.order, "model_group": d.model_group, "reason": d.reason, "extra": {}})
}

fn error_text(e: &PluginError) -> String {
    match e {
        PluginError::InvalidConfig(m)
        | PluginError::InvalidInput(m)
        | PluginError::Internal(m)
        | PluginError::Other(m) => m.clone(),
    }
}

#[test]
fn cases_yaml() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/cases.yaml")).unwrap();
    let file: Value = serde_yaml::from_str(&text).unwrap();
    assert_eq!(file["plugin"], DefaultRouter::describe().name.as_str());
    let mut failures = Vec::new();
    let cases = file["cases"].as_array().unwrap();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let config = case
            .get("config")
            .or(file.get("config"))
            .cloned()
            .unwrap_or(json!({}));
        let result = DefaultRouter::init(config.to_string())
            .and_then(|()| DefaultRouter::route(route_request(&case["input"])));
        let outcome = match (result, case.get("expect"), case.get("error")) {
            (Ok(d), Some(expect), None) => subset(expect, &decision_json(&d), ""),
            (Err(e), None, Some(Value::String(want))) if error_text(&e).contains(want.as_str()) => {
                Ok(())
            }
            (Err(e), _, _) => Err(format!("error: {e:?}")),
            (Ok(d), _, _) => Err(format!("expected an error, got {}", decision_json(&d))),
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
