//! What a shadow measures: the share of disagreements, on an exact sample,
//! while every client gets the live plugin's answer.

use switchyard_e2e::mock::*;
use switchyard_e2e::*;

use super::common::*;

#[test]
fn a_candidate_router_disagreeing_on_every_fourth_request_is_measured_at_exactly_a_quarter() {
    let m = MockProvider::start(Flavor::OpenAi);
    let gw = tier_gateway(
        &m,
        &format!(
            "  shadow:\n    tier-router: {{file: tier-router.wasm, config: {CANDIDATE_TIERS}}}\n"
        ),
    );
    const N: usize = 40;
    for n in 0..N {
        let r = chat(&gw, &greeting(n, every_fourth_gold(n)));
        assert_eq!(r.status, 200, "{}", r.body);
        // The live router's answer, gold or not.
        assert_eq!(
            r.header("x-switchyard-model-group"),
            Some("fast"),
            "request {n}"
        );
    }
    assert!(m.requests().iter().all(|r| r.body["model"] == "fast-1"));

    let report = settled(&gw, "tier-router", N as u64);
    assert_eq!(report["state"], "running");
    assert_eq!(report["compared"], 40);
    assert_eq!(report["agreements"], 30);
    assert_eq!(report["disagreements"], 10);
    assert_eq!(report["disagreements_by_kind"]["model_group"], 10);
    assert_eq!(report["disagreements_by_kind"]["order"], 10);
    assert_eq!(report["candidate_errors"], 0);
    assert_eq!(report["dropped"], 0);
    assert_eq!(report["sample"], 1.0);
    assert_eq!(report["candidate"]["name"], "tier-router");
    assert_eq!(report["candidate"]["own_config"], true);
    assert!(
        report["candidate"]["file"]
            .as_str()
            .unwrap()
            .ends_with("plugins-shadow/tier-router.wasm"),
        "{report}"
    );
    assert_eq!(report["latency"]["live"]["calls"], 40);
    assert_eq!(report["latency"]["candidate"]["calls"], 40);

    let recent = report["recent_disagreements"].as_array().unwrap();
    assert_eq!(recent.len(), 10);
    for d in recent {
        let input = &d["input"]["request"];
        assert_eq!(input["metadata"]["customer_tier"], "gold", "{d}");
        assert_eq!(input["metadata"]["n"].as_u64().unwrap() % 4, 3, "{d}");
        assert_eq!(input["messages"][0]["text"], "Olá, bom dia!", "{d}");
        // The live router stays in the group asked for (no redirect); the
        // candidate sends gold customers to premium (and orders nothing here).
        assert_eq!(d["live"]["model_group"], serde_json::Value::Null, "{d}");
        assert_eq!(d["live"]["order"], serde_json::json!([0]), "{d}");
        assert_eq!(d["candidate"]["model_group"], "premium", "{d}");
        assert_eq!(
            d["kinds"],
            serde_json::json!(["order", "model_group"]),
            "{d}"
        );
    }

    let calls = |outcome: &str| {
        metric(
            &gw,
            &format!(
                "switchyard_plugin_shadow_calls_total{{plugin=\"tier-router\",outcome=\"{outcome}\"}}"
            ),
        )
    };
    assert_eq!(
        (
            calls("agree"),
            calls("disagree"),
            calls("error"),
            calls("dropped")
        ),
        (30.0, 10.0, 0.0, 0.0)
    );
    assert_eq!(
        metric(
            &gw,
            "switchyard_plugin_shadow_disagreements_total{plugin=\"tier-router\",kind=\"model_group\"}"
        ),
        10.0
    );
    // The candidate's calls are not the live plugin's.
    assert_eq!(
        metric(
            &gw,
            "switchyard_plugin_calls_total{plugin=\"tier-router\",kind=\"router\"}"
        ),
        40.0
    );
    // The shadow folder is not the plugins directory: the candidate is not
    // a live plugin.
    let plugins = gw.get("/admin/plugins", Some(KEY)).body;
    assert!(!plugins.contains("plugins-shadow"), "{plugins}");
}

#[test]
fn a_half_sample_compares_exactly_every_other_call() {
    let m = MockProvider::start(Flavor::OpenAi);
    let gw = tier_gateway(
        &m,
        &format!(
            "  shadow_sample: 0.5\n  shadow:\n    tier-router: {{file: tier-router.wasm, config: {CANDIDATE_TIERS}}}\n"
        ),
    );
    // Every request gold: every compared call disagrees.
    for n in 0..20 {
        let r = chat(&gw, &greeting(n, Some("gold")));
        assert_eq!(
            r.header("x-switchyard-model-group"),
            Some("fast"),
            "{}",
            r.body
        );
    }
    let report = settled(&gw, "tier-router", 10);
    assert_eq!(report["sample"], 0.5);
    assert_eq!(report["compared"], 10);
    assert_eq!(report["disagreements"], 10);
    // The sampled calls are the 2nd, 4th, ...: odd request numbers.
    for d in report["recent_disagreements"].as_array().unwrap() {
        assert_eq!(
            d["input"]["request"]["metadata"]["n"].as_u64().unwrap() % 2,
            1,
            "{d}"
        );
    }
}

#[test]
fn a_candidate_of_the_same_answers_agrees_on_every_call() {
    let m = MockProvider::start(Flavor::OpenAi);
    // The same file with the live plugin's own settings.
    let gw = tier_gateway(&m, "  shadow:\n    tier-router: tier-router.wasm\n");
    for n in 0..12 {
        let r = chat(&gw, &greeting(n, every_fourth_gold(n)));
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let report = settled(&gw, "tier-router", 12);
    assert_eq!(
        (
            report["agreements"].as_u64(),
            report["disagreements"].as_u64()
        ),
        (Some(12), Some(0))
    );
    assert_eq!(report["candidate"]["own_config"], false);
    assert!(
        report["recent_disagreements"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}
