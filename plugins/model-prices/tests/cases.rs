//! Runs `cases.yaml` natively against the cost rule's Rust API, converting
//! inputs the way docs/plugin-testing.md describes, so the expectations in
//! the file are checked by `cargo test` too. The authoritative runner is the
//! host's `switchyard plugin test`.

use model_prices::ModelPrices;
use serde_json::{Value, json};
use switchyard_sdk::cost::{CostAnswer, CostInput};
use switchyard_sdk::types::{Caller, Field, PluginError, Prices, Usage};
use switchyard_sdk::{CostRule, Plugin};

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

fn cost_input(i: &Value) -> CostInput {
    let s = |k: &str| i[k].as_str().unwrap_or_default().to_string();
    let p = &i["prices"];
    let u = &i["usage"];
    let n = |k: &str| u[k].as_u64().unwrap_or(0);
    CostInput {
        model_group: s("model_group"),
        deployment_id: s("deployment_id"),
        provider: s("provider"),
        model: s("model"),
        prices: Prices {
            input_per_token: p["input_per_token"].as_f64(),
            output_per_token: p["output_per_token"].as_f64(),
            cache_read_per_token: p["cache_read_per_token"].as_f64(),
            cache_write_per_token: p["cache_write_per_token"].as_f64(),
            reasoning_per_token: p["reasoning_per_token"].as_f64(),
            per_request: p["per_request"].as_f64(),
            extra: fields(p.get("extra")),
        },
        usage: Usage {
            input_tokens: n("input_tokens"),
            output_tokens: n("output_tokens"),
            cache_read_tokens: n("cache_read_tokens"),
            cache_write_tokens: n("cache_write_tokens"),
            reasoning_tokens: n("reasoning_tokens"),
            extra: fields(u.get("extra")),
        },
        caller: Caller {
            key_alias: i["caller"]["key_alias"].as_str().map(str::to_string),
            user: i["caller"]["user"].as_str().map(str::to_string),
            team: i["caller"]["team"].as_str().map(str::to_string),
            tags: vec![],
            tier: i["caller"]["tier"].as_str().map(str::to_string),
            metadata: fields(i["caller"].get("metadata")),
        },
        previous: i["previous"].as_f64(),
        extra: fields(i.get("extra")),
    }
}

fn answer_json(a: &CostAnswer) -> Value {
    match a {
        CostAnswer::Usd(v) => json!({"usd": v}),
        CostAnswer::NoOpinion => json!({"no_opinion": true}),
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
    assert_eq!(file["plugin"], ModelPrices::describe().name.as_str());
    let cases = file["cases"].as_array().unwrap();
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let config = case
            .get("config")
            .or(file.get("config"))
            .cloned()
            .unwrap_or(json!({}));
        let result = ModelPrices::init(config.to_string())
            .and_then(|()| ModelPrices::cost(cost_input(&case["input"])));
        let outcome = match (result, case.get("expect"), case.get("error")) {
            (Ok(a), Some(expect), None) => subset(expect, &answer_json(&a), ""),
            (Err(e), None, Some(Value::String(want))) if error_text(&e).contains(want.as_str()) => {
                Ok(())
            }
            (Err(e), _, _) => Err(format!("error: {e:?}")),
            (Ok(a), _, _) => Err(format!("expected an error, got {}", answer_json(&a))),
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
