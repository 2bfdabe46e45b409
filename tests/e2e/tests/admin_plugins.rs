//! `GET /admin/plugins` on a running gateway: auth, listing, and hot reload
//! seen from outside (drop in, break, fix, remove).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use switchyard_e2e::*;

fn config(plugins_dir: &std::path::Path) -> String {
    format!(
        "general_settings:\n  master_key: sk-master\nplugins:\n  dir: {}\n  settings:\n    misbehave:\n      config: {{mode: ok}}\n",
        plugins_dir.display()
    )
}

fn admin(gw: &Gateway) -> serde_json::Value {
    let (status, body) = curl(&[
        "-H",
        "Authorization: Bearer sk-master",
        &gw.url("/admin/plugins"),
    ]);
    assert_eq!(status, 200, "{body}");
    json(&body)
}

fn row<'a>(list: &'a serde_json::Value, file_name: &str) -> Option<&'a serde_json::Value> {
    list["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["file"].as_str().unwrap().ends_with(file_name))
}

#[test]
fn admin_plugins_needs_the_master_key() {
    let plugins = tempfile::tempdir().unwrap();
    let gw = Gateway::start(&config(plugins.path()));
    let (status, body) = curl(&[&gw.url("/admin/plugins")]);
    assert_eq!(status, 401);
    let body = json(&body);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("master key")
    );
    assert_eq!(body["error"]["type"], "authentication_error");
    let (status, _) = curl(&[
        "-H",
        "Authorization: Bearer wrong",
        &gw.url("/admin/plugins"),
    ]);
    assert_eq!(status, 401);
    let (status, _) = curl(&["-H", "x-api-key: sk-master", &gw.url("/admin/plugins")]);
    assert_eq!(status, 200);
}

#[test]
fn plugins_dropped_into_a_running_gateway_show_up_break_and_recover() {
    let plugins = tempfile::tempdir().unwrap();
    std::fs::copy(plugin("misbehave"), plugins.path().join("misbehave.wasm")).unwrap();
    let mut gw = Gateway::start(&config(plugins.path()));

    let list = admin(&gw);
    let r = row(&list, "misbehave.wasm").expect("listed at start");
    assert_eq!(r["name"], "misbehave");
    assert_eq!(r["kind"], "router");
    assert_eq!(r["version"], "0.1.0");
    assert_eq!(r["status"], "active");
    assert_eq!(r["sha256"].as_str().unwrap().len(), 64);
    assert!(r["loaded_at"].as_str().unwrap().contains('T'));
    assert!(r["error"].is_null());

    // A broken file next to it: listed as failed with its error.
    std::fs::write(plugins.path().join("broken.wasm"), b"not a component").unwrap();
    eventually("broken file reported", Duration::from_secs(15), || {
        row(&admin(&gw), "broken.wasm").is_some()
    });
    let list = admin(&gw);
    let broken = row(&list, "broken.wasm").unwrap();
    assert_eq!(broken["status"], "failed");
    assert!(
        broken["error"]
            .as_str()
            .unwrap()
            .contains("not a WebAssembly component")
    );

    // Overwriting the good plugin with garbage keeps the old version active
    // and shows the error on the same row.
    let good_sha = row(&list, "misbehave.wasm").unwrap()["sha256"].clone();
    std::fs::write(plugins.path().join("misbehave.wasm"), b"\0asm garbage").unwrap();
    eventually("failed upgrade reported", Duration::from_secs(5), || {
        row(&admin(&gw), "misbehave.wasm").unwrap()["status"] == "failed"
    });
    let list = admin(&gw);
    let r = row(&list, "misbehave.wasm").unwrap();
    assert_eq!(r["sha256"], good_sha, "the old version stays active");
    assert!(r["error"].as_str().unwrap().contains("misbehave.wasm"));

    // Fixing it clears the error; removing a file drops its row.
    std::fs::copy(plugin("misbehave"), plugins.path().join("misbehave.wasm")).unwrap();
    eventually("fixed plugin active", Duration::from_secs(5), || {
        row(&admin(&gw), "misbehave.wasm").unwrap()["status"] == "active"
    });
    std::fs::remove_file(plugins.path().join("broken.wasm")).unwrap();
    eventually("removed file gone", Duration::from_secs(5), || {
        row(&admin(&gw), "broken.wasm").is_none()
    });
    assert!(gw.is_running());
}
