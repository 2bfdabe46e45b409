//! A candidate that fails never reaches a client: its traps and timeouts
//! are counted, and every client gets the live answer.

use switchyard_e2e::mock::*;
use switchyard_e2e::*;

use super::common::*;

/// A gateway routing with `misbehave` (mode ok), shadowed by a copy of it
/// in `mode`.
fn misbehave_gateway(m: &MockProvider, mode: &str) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugins_section(&dir.path().join("plugins"), &["misbehave", "openai"]);
    candidate(dir.path(), "misbehave");
    let config = format!(
        "{}{plugins}  router: misbehave\n  settings:\n    misbehave: {{config: {{mode: ok}}}}\n  shadow:\n    misbehave: {{file: misbehave.wasm, config: {{mode: {mode}}}}}\n",
        config_with_settings(
            &[model_entry("g", "openai/m", &m.url(), &[])],
            ONE_CALL_EACH
        )
    );
    Gateway::start_in(dir, &config)
}

fn every_client_gets_the_live_answer_while_the_candidate_fails(mode: &str, error: &str, n: usize) {
    let m = MockProvider::start(Flavor::OpenAi);
    let gw = misbehave_gateway(&m, mode);
    for i in 0..n {
        let r = chat(
            &gw,
            &serde_json::json!({"model": "g", "messages": [{"role": "user", "content": format!("hi {i}")}]}),
        );
        assert_eq!(r.status, 200, "request {i}: {}", r.body);
        assert_eq!(
            r.json()["choices"][0]["message"]["content"],
            Flavor::OpenAi.answer_text()
        );
    }
    assert_eq!(m.count(), n);
    let report = settled(&gw, "misbehave", n as u64);
    assert_eq!(report["candidate_errors"], n as u64, "{report}");
    assert_eq!(
        report["candidate_errors_by_kind"][error], n as u64,
        "{report}"
    );
    assert_eq!(report["compared"], 0);
    assert_eq!(
        metric(
            &gw,
            &format!(
                "switchyard_plugin_shadow_errors_total{{plugin=\"misbehave\",error=\"{error}\"}}"
            )
        ),
        n as f64
    );
    assert_eq!(
        metric(
            &gw,
            "switchyard_plugin_shadow_calls_total{plugin=\"misbehave\",outcome=\"error\"}"
        ),
        n as f64
    );
    // The live plugin's own error count stays clean: the candidate's
    // failures are not its.
    let metrics = gw.get("/metrics", Some(KEY)).body;
    assert!(
        !metrics
            .lines()
            .any(|l| l.starts_with("switchyard_plugin_errors_total{plugin=\"misbehave\"")),
        "{metrics}"
    );
    // Still serving.
    let r = chat(
        &gw,
        &serde_json::json!({"model": "g", "messages": [{"role": "user", "content": "again"}]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn a_candidate_that_traps_never_affects_a_client() {
    every_client_gets_the_live_answer_while_the_candidate_fails("trap", "trap", 10);
}

#[test]
fn a_candidate_that_times_out_never_affects_a_client() {
    every_client_gets_the_live_answer_while_the_candidate_fails("loop", "timeout", 5);
}
