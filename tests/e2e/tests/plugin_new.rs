//! `switchyard plugin new`: for every kind and language it has, the folder
//! it writes builds (cargo for wasm32-wasip2, componentize-py,
//! componentize-js), passes its own cases.yaml under `plugin test`, and
//! loads into a gateway; and it refuses a bad name, kind or language and a
//! folder that is not empty, writing nothing.
//!
//! The Rust plugins share one cargo target directory
//! (`target/plugin-new-cargo`, kept between runs) so the SDK's dependencies
//! are compiled once; it is not the workspace's, whose lock the running
//! `cargo test` may hold. JavaScript builds use the repository's
//! componentize-js (`make setup`), not an `npm install` per folder.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::json;
use switchyard_e2e::mock::*;
use switchyard_e2e::*;

fn switchyard(args: &[&str]) -> Output {
    Command::new(binary()).args(args).output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `plugin new KIND NAME --lang LANG --dir DIR`; the printed next steps.
fn new(kind: &str, name: &str, lang: &str, dir: &Path) -> String {
    let sdk = root().join("sdk/rust");
    let o = switchyard(&[
        "plugin",
        "new",
        kind,
        name,
        "--lang",
        lang,
        "--dir",
        dir.to_str().unwrap(),
        "--sdk",
        sdk.to_str().unwrap(),
    ]);
    let out = text(&o);
    assert!(
        o.status.success(),
        "plugin new {kind} {name} --lang {lang}: {out}"
    );
    for step in ["build:", "switchyard plugin test", "switchyard serve"] {
        assert!(out.contains(step), "{step:?} missing from:\n{out}");
    }
    out
}

fn run(cmd: &mut Command, what: &str) {
    let o = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(o.status.success(), "{what} failed:\n{}", text(&o));
}

/// `plugin test WASM DIR/cases.yaml` passes every case; how many.
fn cases_pass(wasm: &Path, dir: &Path) -> usize {
    let o = switchyard(&[
        "plugin",
        "test",
        wasm.to_str().unwrap(),
        dir.join("cases.yaml").to_str().unwrap(),
    ]);
    let out = text(&o);
    assert!(o.status.success(), "{}: {out}", wasm.display());
    let summary = out
        .lines()
        .find(|l| l.ends_with(" passed, 0 failed"))
        .unwrap_or_else(|| panic!("no summary in:\n{out}"));
    summary.split(' ').next().unwrap().parse().unwrap()
}

#[test]
fn rust_plugins_of_every_kind_build_pass_their_cases_and_a_router_serves() {
    let tmp = tempfile::tempdir().unwrap();
    let target = root().join("target/plugin-new-cargo");
    let mut passed = Vec::new();
    for kind in ["router", "sanitizer", "provider", "cost"] {
        let name = format!("acme-{kind}");
        let dir = tmp.path().join(&name);
        let steps = new(kind, &name, "rust", &dir);
        assert!(steps.contains("cdylib"), "{steps}");
        let toml = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        assert!(
            toml.contains("crate-type = [\"cdylib\", \"rlib\"]"),
            "{toml}"
        );
        run(
            Command::new("cargo")
                .args(["build", "--quiet", "--release", "--target", "wasm32-wasip2"])
                .env("CARGO_TARGET_DIR", &target)
                // A quicker build than the template's release profile (LTO,
                // one codegen unit): this test checks that it builds.
                .env("CARGO_PROFILE_RELEASE_LTO", "false")
                .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16")
                .current_dir(&dir),
            &format!("cargo build of {name}"),
        );
        let wasm = target.join(format!(
            "wasm32-wasip2/release/{}.wasm",
            name.replace('-', "_")
        ));
        passed.push((kind, cases_pass(&wasm, &dir)));
        if kind == "router" {
            serves_as_router(&wasm, &name);
        }
    }
    assert_eq!(
        passed,
        [
            ("router", 4),
            ("sanitizer", 4),
            ("provider", 3),
            ("cost", 3)
        ]
    );
}

/// The new router, copied into a gateway's plugins directory and named
/// `router:`, answers a request with its reason.
fn serves_as_router(wasm: &Path, name: &str) {
    let mock = MockProvider::start(Flavor::OpenAi);
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(wasm, plugins.join(format!("{name}.wasm"))).unwrap();
    let config = format!(
        "{}plugins:\n  dir: {}\n  watch: false\n  router: {name}\n",
        config_with(&[model_entry("gpt", "openai/gpt-4o-mini", &mock.url(), &[])]),
        plugins.display()
    );
    let gw = Gateway::start_in(dir, &config);
    let r = gw.post(
        "/v1/chat/completions",
        Some(KEY),
        &json!({"model": "gpt", "messages": [{"role": "user", "content": "hi"}]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.header("x-switchyard-route-reason"),
        Some(format!("{name}: least busy of 1").as_str())
    );
    assert_eq!(mock.count(), 1);
}

/// Builds the router and the sanitiser of `lang` with `build` and runs
/// their cases.
fn build_and_test(lang: &str, build: impl Fn(&Path, &Path) -> Command) -> Vec<(String, usize)> {
    let tmp = tempfile::tempdir().unwrap();
    let mut passed = Vec::new();
    for kind in ["router", "sanitizer"] {
        let name = format!("acme-{lang}-{kind}");
        let dir = tmp.path().join(&name);
        new(kind, &name, lang, &dir);
        let wasm = dir.join(format!("target/{name}.wasm"));
        run(&mut build(&dir, &wasm), &format!("build of {name}"));
        passed.push((kind.to_string(), cases_pass(&wasm, &dir)));
    }
    passed
}

#[test]
fn python_router_and_sanitizer_build_and_pass_their_cases() {
    let passed = build_and_test("python", |dir, wasm| {
        let mut c = Command::new(dir.join("build.sh"));
        c.arg(wasm).current_dir(dir);
        c
    });
    assert_eq!(
        passed,
        [("router".to_string(), 4), ("sanitizer".to_string(), 4)]
    );
}

#[test]
fn js_router_and_sanitizer_build_and_pass_their_cases() {
    let cjs = root().join("sdk/js/node_modules/.bin/componentize-js");
    assert!(cjs.exists(), "{} missing: run `make setup`", cjs.display());
    let passed = build_and_test("js", |dir, wasm| {
        let mut c = Command::new(dir.join("build.sh"));
        c.arg(wasm).env("COMPONENTIZE_JS", &cjs).current_dir(dir);
        c
    });
    assert_eq!(
        passed,
        [("router".to_string(), 4), ("sanitizer".to_string(), 4)]
    );
}

fn refused(args: &[&str], message: &str) {
    let o = switchyard(args);
    let out = text(&o);
    assert!(!o.status.success(), "{args:?} succeeded: {out}");
    assert!(out.contains(message), "{args:?}: {out}");
}

#[test]
fn bad_names_kinds_languages_and_non_empty_folders_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = |name: &str| -> PathBuf { tmp.path().join(name) };
    let d = dir("x");
    let d = d.to_str().unwrap();
    refused(
        &[
            "plugin",
            "new",
            "router",
            "My_Router",
            "--lang",
            "js",
            "--dir",
            d,
        ],
        "plugin name \"My_Router\" is invalid: use lower-case letters, digits and '-'",
    );
    refused(
        &["plugin", "new", "guard", "g", "--lang", "js", "--dir", d],
        "unknown plugin kind \"guard\": use router, sanitizer, provider or cost",
    );
    refused(
        &["plugin", "new", "router", "r", "--lang", "go", "--dir", d],
        "unknown language \"go\": use rust, python or js",
    );
    refused(
        &["plugin", "new", "cost", "c", "--lang", "python", "--dir", d],
        "there is no python template for a cost plugin yet",
    );
    assert!(!tmp.path().join("x").exists(), "a refusal wrote a folder");

    let full = dir("full");
    std::fs::create_dir_all(&full).unwrap();
    std::fs::write(full.join("notes.txt"), "mine").unwrap();
    refused(
        &[
            "plugin",
            "new",
            "router",
            "r",
            "--lang",
            "python",
            "--dir",
            full.to_str().unwrap(),
        ],
        "exists and is not empty",
    );
    assert_eq!(std::fs::read_dir(&full).unwrap().count(), 1);
}
