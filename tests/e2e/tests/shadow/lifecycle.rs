//! Starting, stopping and promoting a shadow, and the admin API's errors.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use switchyard_e2e::mock::*;
use switchyard_e2e::*;

use super::common::*;

fn shadowed(m: &MockProvider) -> Gateway {
    tier_gateway(
        m,
        &format!(
            "  shadow:\n    tier-router: {{file: tier-router.wasm, config: {CANDIDATE_TIERS}}}\n"
        ),
    )
}

#[test]
fn delete_stops_the_shadow_and_keeps_its_counts() {
    let m = MockProvider::start(Flavor::OpenAi);
    let gw = shadowed(&m);
    for n in 0..8 {
        assert_eq!(chat(&gw, &greeting(n, every_fourth_gold(n))).status, 200);
    }
    settled(&gw, "tier-router", 8);

    let r = stop(&gw, "tier-router");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["state"], "stopped");
    for n in 8..16 {
        let r = chat(&gw, &greeting(n, every_fourth_gold(n)));
        assert_eq!(r.status, 200, "{}", r.body);
    }
    // Nothing more is sampled: the counts are the ones at the stop.
    let report = report(&gw, "tier-router");
    assert_eq!(report["state"], "stopped");
    assert_eq!(
        (
            report["compared"].as_u64(),
            report["disagreements"].as_u64()
        ),
        (Some(8), Some(2))
    );
    assert_eq!(report["dropped"], 0);

    // Stopping twice is a conflict, in the OpenAI error shape.
    let again = stop(&gw, "tier-router");
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(
        again.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not running"),
        "{}",
        again.body
    );
    let p = promote(&gw, "tier-router");
    assert_eq!(p.status, 409, "{}", p.body);
}

#[test]
fn the_admin_routes_need_the_master_key_and_name_what_is_missing() {
    let m = MockProvider::start(Flavor::OpenAi);
    let gw = shadowed(&m);
    assert_eq!(
        gw.get("/admin/plugins/tier-router/shadow", None).status,
        401
    );
    assert_eq!(
        gw.post(
            "/admin/plugins/tier-router/promote",
            Some("sk-wrong"),
            &serde_json::json!({})
        )
        .status,
        401
    );
    for r in [
        shadow_of(&gw, "openai"),
        stop(&gw, "openai"),
        promote(&gw, "openai"),
    ] {
        assert_eq!(r.status, 404, "{}", r.body);
        let e = r.json();
        assert_eq!(e["error"]["type"], "invalid_request_error", "{e}");
        assert!(
            e["error"]["message"]
                .as_str()
                .unwrap()
                .contains("no shadow is configured for plugin \"openai\""),
            "{e}"
        );
    }
    // Still running.
    assert_eq!(report(&gw, "tier-router")["state"], "running");
}

#[test]
fn promotion_under_load_loses_no_request_and_makes_the_candidate_live() {
    let m = MockProvider::start(Flavor::OpenAi);
    let gw = Arc::new(shadowed(&m));
    let done = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let (gw, done, sent) = (gw.clone(), done.clone(), sent.clone());
            std::thread::spawn(move || {
                let mut groups = Vec::new();
                let mut i = 0;
                while !done.load(Ordering::Relaxed) {
                    let r = chat(&gw, &greeting(w * 10_000 + i, Some("gold")));
                    assert_eq!(r.status, 200, "{}", r.body);
                    groups.push(r.header("x-switchyard-model-group").unwrap().to_string());
                    sent.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
                groups
            })
        })
        .collect();
    eventually(
        "requests before the promotion",
        Duration::from_secs(60),
        || sent.load(Ordering::Relaxed) >= 20,
    );
    let r = promote(&gw, "tier-router");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["state"], "promoted");
    let at_promotion = sent.load(Ordering::Relaxed);
    eventually(
        "requests after the promotion",
        Duration::from_secs(60),
        || sent.load(Ordering::Relaxed) >= at_promotion + 20,
    );
    done.store(true, Ordering::Relaxed);
    let groups: Vec<String> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();

    // Every request answered 200 (asserted in the workers), each by the
    // live router of its moment: before, the old one (fast); after, the
    // candidate (premium for gold customers). Nothing else.
    assert_eq!(groups.len(), sent.load(Ordering::Relaxed));
    assert_eq!(m.count(), groups.len());
    assert!(
        groups.iter().all(|g| g == "fast" || g == "premium"),
        "{groups:?}"
    );
    assert!(groups.iter().any(|g| g == "fast"), "{groups:?}");
    assert!(groups.iter().any(|g| g == "premium"), "{groups:?}");
    let r = chat(&gw, &greeting(1, Some("gold")));
    assert_eq!(
        r.header("x-switchyard-model-group"),
        Some("premium"),
        "{}",
        r.body
    );

    let report = report(&gw, "tier-router");
    assert_eq!(report["state"], "promoted");
    let plugins = gw.get("/admin/plugins", Some(KEY)).json();
    let rows = plugins["plugins"].as_array().unwrap();
    let active: Vec<&serde_json::Value> = rows
        .iter()
        .filter(|p| p["name"] == "tier-router" && p["status"] == "active")
        .collect();
    assert_eq!(active.len(), 1, "{plugins}");
    assert!(
        active[0]["file"]
            .as_str()
            .unwrap()
            .contains("plugins-shadow"),
        "{plugins}"
    );
    assert!(
        rows.iter()
            .any(|p| p["name"] == "tier-router" && p["status"] == "superseded"),
        "{plugins}"
    );
    // Promoting twice is a conflict.
    assert_eq!(promote(&gw, "tier-router").status, 409);
}

#[test]
fn bad_shadow_entries_warn_and_the_gateway_serves() {
    let m = MockProvider::start(Flavor::OpenAi);
    let gw = tier_gateway(
        &m,
        "  shadow_sample: lots\n  shadow:\n    tier-router: {file: tier-router.wasm, colour: red}\n    default-router: missing.wasm\n    nothing-here: tier-router.wasm\n    openai: tier-router.wasm\n",
    );
    let r = chat(&gw, &greeting(0, None));
    assert_eq!(r.status, 200, "{}", r.body);
    let log = gw.log();
    for expected in [
        "plugins.shadow_sample",
        "plugins.shadow.tier-router: unknown key \"colour\"",
        "plugins.shadow.default-router: the candidate did not load",
        "plugins.shadow.nothing-here: no plugin named \"nothing-here\" is loaded",
        "plugins.shadow.openai: the candidate",
    ] {
        assert!(
            log.contains(expected),
            "{expected:?} not in the log:\n{log}"
        );
    }
    for name in ["tier-router", "default-router", "nothing-here", "openai"] {
        assert_eq!(shadow_of(&gw, name).status, 404, "{name}");
    }
}

#[test]
fn a_config_reload_after_promotion_keeps_the_candidate_its_config_and_no_shadow() {
    let m = MockProvider::start(Flavor::OpenAi);
    let gw = shadowed(&m);
    let r = promote(&gw, "tier-router");
    assert_eq!(r.status, 200, "{}", r.body);
    let gold = |n| chat(&gw, &greeting(n, Some("gold")));
    assert_eq!(gold(0).header("x-switchyard-model-group"), Some("premium"));

    // A change to the deployment table: the live router (the promoted
    // candidate) is loaded again with the new table.
    let path = gw.dir.path().join("config.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let changed = text.replacen(
        "model: openai/premium-1\n",
        "model: openai/premium-1\n      rpm: 100000\n",
        1,
    );
    assert_ne!(changed, text);
    let tmp = path.with_extension("yaml.swp");
    std::fs::write(&tmp, &changed).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    let reloaded = |log: &str| {
        log.lines().any(|l| {
            l.contains("config reloaded:")
                && l.contains(" re-initialised (")
                && l.contains("tier-router")
        })
    };
    let began = std::time::Instant::now();
    while !reloaded(&gw.log()) && began.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        reloaded(&gw.log()),
        "no reload of the router:\n{}",
        gw.log()
    );

    // Still the candidate with its own config (gold customers at premium),
    // not the live plugin's section; and no shadow of it by itself.
    for n in 1..5 {
        let r = gold(n);
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            r.header("x-switchyard-model-group"),
            Some("premium"),
            "{}",
            r.body
        );
    }
    let report = report(&gw, "tier-router");
    assert_eq!(report["state"], "promoted", "{report}");
    assert_eq!(report["compared"], 0, "{report}");
    assert_eq!(report["dropped"], 0, "{report}");
}
