//! A gateway with a live plugin and a shadow candidate, and the admin calls.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use switchyard_e2e::mock::*;
use switchyard_e2e::*;

/// The tier router's groups, one deployment each (`<group>-1`).
pub const TIERS: [&str; 4] = ["fast", "standard", "advanced", "premium"];

/// The live tier router's config: tiers only (so a `gold` customer is
/// unknown, which is standard: a greeting stays in `fast`).
pub const LIVE_TIERS: &str =
    "{tiers: {\"1\": fast, \"2\": standard, \"3\": advanced, \"4\": premium}}";

/// The candidate's config: the same tiers, and `gold` customers at tier 4
/// (`premium`) at least.
pub const CANDIDATE_TIERS: &str = "{tiers: {\"1\": fast, \"2\": standard, \"3\": advanced, \"4\": premium}, customers: {gold: {min_tier: 4}}}";

/// A gateway whose router is `tier-router` (from its plugins directory),
/// with `shadow` lines (YAML, indented under `plugins:`) and a copy of
/// tier-router.wasm in the shadow folder beside the plugins directory.
pub fn tier_gateway(m: &MockProvider, shadow: &str) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugins_section(&dir.path().join("plugins"), &["tier-router", "openai"]);
    candidate(dir.path(), "tier-router");
    let entries: Vec<String> = TIERS
        .iter()
        .map(|g| {
            format!(
                "{}    model_info:\n      id: {g}-1\n",
                model_entry(g, &format!("openai/{g}-1"), &m.url(), &[])
            )
        })
        .collect();
    let config = format!(
        "{}{plugins}  router: tier-router\n  settings:\n    tier-router:\n      config: {LIVE_TIERS}\n{shadow}",
        config_with_settings(&entries, ONE_CALL_EACH)
    );
    Gateway::start_in(dir, &config)
}

/// Copies the built plugin `name` into `<root>/plugins-shadow/`.
pub fn candidate(root: &Path, name: &str) {
    let dir = root.join("plugins-shadow");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(plugin(name), dir.join(format!("{name}.wasm"))).unwrap();
}

/// A greeting (tier 1) from customer `tier`, request number `n`.
pub fn greeting(n: usize, tier: Option<&str>) -> Value {
    let mut metadata = json!({"n": n});
    if let Some(t) = tier {
        metadata["customer_tier"] = json!(t);
    }
    json!({
        "model": "fast",
        "messages": [{"role": "user", "content": "Olá, bom dia!"}],
        "metadata": metadata,
    })
}

/// Every fourth request (n = 3, 7, ...) is from a `gold` customer.
pub fn every_fourth_gold(n: usize) -> Option<&'static str> {
    (n % 4 == 3).then_some("gold")
}

pub fn chat(gw: &Gateway, body: &Value) -> Reply {
    gw.post("/v1/chat/completions", Some(KEY), body)
}

pub fn shadow_of(gw: &Gateway, plugin: &str) -> Reply {
    gw.get(&format!("/admin/plugins/{plugin}/shadow"), Some(KEY))
}

pub fn report(gw: &Gateway, plugin: &str) -> Value {
    let r = shadow_of(gw, plugin);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

pub fn stop(gw: &Gateway, plugin: &str) -> Reply {
    http(
        "DELETE",
        &gw.url(&format!("/admin/plugins/{plugin}/shadow")),
        &[&format!("Authorization: Bearer {KEY}")],
        None,
    )
}

pub fn promote(gw: &Gateway, plugin: &str) -> Reply {
    gw.post(
        &format!("/admin/plugins/{plugin}/promote"),
        Some(KEY),
        &json!({}),
    )
}

/// Waits until the worker has settled `n` sampled calls (compared or
/// failed), and returns the report.
pub fn settled(gw: &Gateway, plugin: &str, n: u64) -> Value {
    let mut last = Value::Null;
    eventually(
        &format!("{n} shadow calls settled"),
        Duration::from_secs(60),
        || {
            last = report(gw, plugin);
            last["compared"].as_u64().unwrap() + last["candidate_errors"].as_u64().unwrap() >= n
        },
    );
    last
}

/// The value of one `/metrics` series (0 when absent).
pub fn metric(gw: &Gateway, series: &str) -> f64 {
    let text = gw.get("/metrics", Some(KEY)).body;
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}
