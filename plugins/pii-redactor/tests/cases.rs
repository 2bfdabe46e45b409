//! Runs `cases.yaml` natively against the sanitiser's Rust API, converting
//! messages the way docs/plugin-testing.md describes, so the expectations in
//! the file are checked by `cargo test` too. The authoritative runner is the
//! host's `switchyard plugin test`.

use pii_redactor::PiiRedactor;
use serde_json::{Map, Value, json};
use switchyard_sdk::sanitizer::{SanitizeInput, Stage, Verdict};
use switchyard_sdk::types::{Caller, ChatRequest, ContentPart, Field, Message, PluginError, Role};
use switchyard_sdk::{Plugin, Sanitizer};

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
        _ if expected == actual => Ok(()),
        _ => Err(format!("{path}: expected {expected}, got {actual}")),
    }
}

const NAMED: &[&str] = &["role", "content", "name"];

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
    let extra = m
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| !NAMED.contains(&k.as_str()))
                .map(|(k, v)| Field {
                    key: k.clone(),
                    value: v.to_string(),
                })
                .collect()
        })
        .unwrap_or_default();
    Message {
        role,
        content,
        name: m["name"].as_str().map(str::to_string),
        extra,
    }
}

fn message_json(m: &Message) -> Value {
    let role = match &m.role {
        Role::System => "system".to_string(),
        Role::Developer => "developer".to_string(),
        Role::User => "user".to_string(),
        Role::Assistant => "assistant".to_string(),
        Role::Tool => "tool".to_string(),
        Role::Other(o) => o.clone(),
    };
    let content = match m.content.as_slice() {
        [ContentPart::Text(t)] => json!(t),
        parts => Value::Array(
            parts
                .iter()
                .map(|p| match p {
                    ContentPart::Text(t) => json!({"type": "text", "text": t}),
                    ContentPart::ImageUrl(u) => {
                        json!({"type": "image_url", "image_url": {"url": u}})
                    }
                    ContentPart::Other(j) => serde_json::from_str(j).unwrap_or(Value::Null),
                })
                .collect(),
        ),
    };
    let mut out = Map::new();
    out.insert("role".into(), json!(role));
    out.insert("content".into(), content);
    if let Some(n) = &m.name {
        out.insert("name".into(), json!(n));
    }
    for f in &m.extra {
        out.insert(
            f.key.clone(),
            serde_json::from_str(&f.value).unwrap_or(Value::Null),
        );
    }
    Value::Object(out)
}

fn messages(v: &Value) -> Vec<Message> {
    v.as_array()
        .map(|ms| ms.iter().map(message).collect())
        .unwrap_or_default()
}

fn sanitize_input(input: &Value) -> SanitizeInput {
    let req = &input["request"];
    SanitizeInput {
        stage: match input["stage"].as_str() {
            Some("response") => Stage::Response,
            Some("request") | None => Stage::Request,
            Some(other) => Stage::Other(other.to_string()),
        },
        request: ChatRequest {
            model: req["model"].as_str().unwrap_or_default().to_string(),
            messages: messages(&req["messages"]),
            stream: req["stream"].as_bool().unwrap_or(false),
            max_tokens: None,
            tags: vec![],
            metadata: vec![],
            extra: vec![],
        },
        caller: Caller {
            key_alias: None,
            user: None,
            team: input["caller"]["team"].as_str().map(str::to_string),
            tags: vec![],
            tier: None,
            metadata: vec![],
        },
        response: messages(&input["response"]),
    }
}

fn verdict_json(v: &Verdict) -> Value {
    match v {
        Verdict::Allow => json!({"verdict": "allow"}),
        Verdict::Deny(reason) => json!({"verdict": "deny", "reason": reason}),
        Verdict::Rewrite(ms) => {
            json!({"verdict": "rewrite", "messages": ms.iter().map(message_json).collect::<Vec<_>>()})
        }
    }
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
    assert_eq!(file["plugin"], PiiRedactor::describe().name.as_str());
    let cases = file["cases"].as_array().unwrap();
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let config = case
            .get("config")
            .or(file.get("config"))
            .cloned()
            .unwrap_or(json!({}));
        let result = PiiRedactor::init(config.to_string())
            .and_then(|()| PiiRedactor::sanitize(sanitize_input(&case["input"])));
        let outcome = match (result, case.get("expect"), case.get("error")) {
            (Ok(v), Some(expect), None) => subset(expect, &verdict_json(&v), ""),
            (Err(e), None, Some(Value::String(want))) if error_text(&e).contains(want.as_str()) => {
                Ok(())
            }
            (Err(e), _, _) => Err(format!("error: {e:?}")),
            (Ok(v), _, _) => Err(format!("expected an error, got {}", verdict_json(&v))),
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
