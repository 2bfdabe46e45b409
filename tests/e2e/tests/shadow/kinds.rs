//! Shadows of the other kinds: a sanitiser (its input shown only as the
//! configured chain redacts it), an adapter, a cost rule.

use std::time::Duration;

use serde_json::json;
use switchyard_e2e::mock::*;
use switchyard_e2e::*;

use super::common::*;

/// A gateway with the built-in plugins, a priced deployment, `plugins`
/// lines (indented under `plugins:`) and copies of `candidates` in the
/// shadow folder.
fn gateway(m: &MockProvider, candidates: &[&str], plugins: &str) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    for c in candidates {
        candidate(dir.path(), c);
    }
    let entry = format!(
        "{}    model_info:\n      input_cost_per_token: 0.000001\n      output_cost_per_token: 0.000002\n",
        model_entry(
            "g",
            "openai/m",
            &m.url(),
            &["api_key: sk-shadow-e2e-provider-key"]
        )
    );
    let config = format!(
        "{}plugins:\n  dir: {}\n  watch: false\n{plugins}",
        config_with_settings(&[entry], ONE_CALL_EACH),
        dir.path().join("plugins").display()
    );
    std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
    Gateway::start_in(dir, &config)
}

fn ask(gw: &Gateway, text: &str) -> Reply {
    let r = chat(
        gw,
        &json!({"model": "g", "messages": [{"role": "user", "content": text}]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r
}

fn until(
    gw: &Gateway,
    plugin: &str,
    what: &str,
    f: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let mut last = serde_json::Value::Null;
    eventually(what, Duration::from_secs(60), || {
        last = report(gw, plugin);
        f(&last)
    });
    last
}

#[test]
fn a_sanitiser_candidate_that_misses_emails_disagrees_and_its_inputs_show_no_email() {
    let m = MockProvider::start(Flavor::OpenAi);
    let gw = gateway(
        &m,
        &["pii-redactor"],
        "  sanitizers: [pii-redactor]\n  shadow:\n    pii-redactor: {file: pii-redactor.wasm, config: {detectors: [phone]}}\n",
    );
    for i in 0..6 {
        if i % 2 == 0 {
            ask(
                &gw,
                &format!("write to maria.{i}@example.com about the refund"),
            );
        } else {
            ask(&gw, "how long does a refund take?");
        }
    }
    // The live redactor served: the provider never saw an address.
    assert!(
        m.requests()
            .iter()
            .all(|r| !r.body.to_string().contains("@example.com"))
    );
    let report = until(&gw, "pii-redactor", "3 disagreements", |r| {
        r["disagreements"] == 3
    });
    assert_eq!(report["disagreements_by_kind"]["verdict"], 3, "{report}");
    assert!(report["agreements"].as_u64().unwrap() >= 3, "{report}");
    let text = report.to_string();
    assert!(
        !text.contains("@example.com"),
        "an address is shown: {text}"
    );
    for d in report["recent_disagreements"].as_array().unwrap() {
        assert_eq!(d["candidate"], "allow", "{d}");
        assert!(d["live"]["rewrite"].is_array(), "{d}");
        let shown = d["input"]["request"]["messages"][0]["text"]
            .as_str()
            .unwrap();
        assert!(
            shown.starts_with("write to ") && shown.contains("about the refund"),
            "{shown}"
        );
    }
}

#[test]
fn an_adapter_candidate_building_the_same_request_agrees_on_every_call() {
    let m = MockProvider::start(Flavor::OpenAi);
    let gw = gateway(&m, &["openai"], "  shadow:\n    openai: openai.wasm\n");
    for i in 0..5 {
        ask(&gw, &format!("hello {i}"));
    }
    let report = settled(&gw, "openai", 5);
    assert_eq!(
        (report["compared"].as_u64(), report["agreements"].as_u64()),
        (Some(5), Some(5))
    );
    assert_eq!(report["candidate"]["kind"], "provider");
    assert!(!report.to_string().contains("sk-shadow-e2e-provider-key"));
}

#[test]
fn a_cost_rule_candidate_with_another_margin_disagrees_on_every_price() {
    let m = MockProvider::start(Flavor::OpenAi);
    let gw = gateway(
        &m,
        &["cost-margin"],
        "  cost_rules: [model-prices, cost-margin]\n  settings:\n    cost-margin: {config: {margin: {global: 0.1}}}\n  shadow:\n    cost-margin: {file: cost-margin.wasm, config: {margin: {global: 0.2}}}\n",
    );
    for i in 0..4 {
        ask(&gw, &format!("price me {i}"));
    }
    let report = settled(&gw, "cost-margin", 4);
    assert_eq!(report["disagreements"], 4, "{report}");
    assert_eq!(report["disagreements_by_kind"]["price"], 4, "{report}");
    for d in report["recent_disagreements"].as_array().unwrap() {
        let (live, cand) = (
            d["live"]["usd"].as_f64().unwrap(),
            d["candidate"]["usd"].as_f64().unwrap(),
        );
        let base = live / 1.1;
        assert!((cand - base * 1.2).abs() <= 1e-12, "{d}");
        assert_eq!(d["input"]["model_group"], "g", "{d}");
    }
}
