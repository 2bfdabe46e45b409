//! Contract versions side by side: a component built against 0.2.0 (the
//! checked-in fixture `tests/fixtures/contract-0.2.0`) loads and answers
//! beside 0.3.0 plugins, and the WIT evolution rules of
//! `docs/writing-plugins.md` (Versioning) hold:
//!
//! - every `wit-archive/<v>/` is byte-identical to `wit-archive/LOCK`;
//! - `wit/` keeps every item the lock recorded for its version, unchanged;
//!   an item it adds needs a version above the locked one, and is never a
//!   new function in an interface plugins export;
//! - the host binds every archived version and the current one.
//!
//! After a deliberate contract change that follows the rules, rewrite the
//! lock with `SWITCHYARD_WIT_LOCK=update cargo test --release -p switchyard
//! --test contract_versions` and commit it with the change.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use common::*;
use serde_json::json;
use sha2::{Digest, Sha256};
use switchyard::plugins::bindings::sanitizer_api::{SanitizeInput, Stage, StreamWindow, Verdict};
use switchyard::plugins::bindings::types::{Caller, ChatRequest, ContentPart, Message, Role};
use switchyard::plugins::contract::{BOUND, CURRENT};
use switchyard::plugins::runtime::sha256_hex;
use switchyard::plugins::{Kind, Limits, LoadedPlugin, Settings};

// ---------------------------------------------------------------- fixture

fn fixture() -> PathBuf {
    root().join("tests/fixtures/contract-0.2.0/legacy-guard.wasm")
}

fn load_fixture(config: serde_json::Value) -> LoadedPlugin {
    LoadedPlugin::load_file(&runtime(), &fixture(), move |_| Settings {
        config: config.clone(),
        limits: Limits::default(),
        deployments: table(2),
        ..Settings::default()
    })
    .unwrap_or_else(|e| panic!("loading the 0.2.0 fixture: {e}"))
}

fn user(text: &str) -> Message {
    Message {
        role: Role::User,
        content: vec![ContentPart::Text(text.into())],
        name: None,
        extra: vec![],
    }
}

fn input(stage: Stage, messages: Vec<Message>, response: Vec<Message>) -> SanitizeInput {
    SanitizeInput {
        stage,
        request: ChatRequest {
            model: "gpt-4o".into(),
            messages,
            stream: false,
            max_tokens: None,
            tags: vec![],
            metadata: vec![],
            extra: vec![],
        },
        caller: Caller {
            key_alias: None,
            user: None,
            team: None,
            tags: vec![],
            tier: None,
            metadata: vec![],
        },
        response,
        window: None,
        finish_reason: None,
        context_window: Some(8192),
        estimated_input_tokens: 7,
    }
}

#[test]
fn the_0_2_0_fixture_loads_beside_0_3_0_plugins_and_each_says_its_contract() {
    let legacy = load_fixture(json!({}));
    assert_eq!(legacy.name(), "legacy-guard");
    assert_eq!(legacy.kind(), Kind::Sanitizer);
    assert_eq!(legacy.info.contract, "0.2.0");
    let router = load(&runtime(), "default-router", json!({}), Limits::default());
    assert_eq!(router.info.contract, CURRENT);
    let pii = load(&runtime(), "pii-redactor", json!({}), Limits::default());
    assert_eq!(pii.info.contract, CURRENT);
    // Both answer, on the same runtime.
    assert_eq!(router.route(&route_request(2)).unwrap().order.len(), 2);
    assert_eq!(
        legacy
            .sanitize(&input(Stage::Request, vec![user("hello")], vec![]))
            .unwrap(),
        Verdict::Allow
    );
    assert!(matches!(
        pii.sanitize(&input(
            Stage::Request,
            vec![user("mail me at a@b.io")],
            vec![]
        ))
        .unwrap(),
        Verdict::Rewrite(_)
    ));
}

#[test]
fn the_0_2_0_fixture_gives_exact_verdicts() {
    let legacy = load_fixture(json!({}));
    let deny = legacy
        .sanitize(&input(
            Stage::Request,
            vec![user("hi"), user("Open the pod bay doors, HAL")],
            vec![],
        ))
        .unwrap();
    assert_eq!(
        deny,
        Verdict::Deny("legacy-guard: \"open the pod bay doors\" is not allowed".into())
    );
    let rewrite = legacy
        .sanitize(&input(
            Stage::Request,
            vec![user("hi"), user("my password is hunter2")],
            vec![],
        ))
        .unwrap();
    assert_eq!(
        rewrite,
        Verdict::Rewrite(vec![user("hi"), user("my [secret] is hunter2")])
    );
    // The response stage, with a 0.3 stream window the 0.2 plugin never
    // sees: it judges the window's text as the answer.
    let mut answer = input(
        Stage::Response,
        vec![user("hi")],
        vec![user("the password")],
    );
    answer.window = Some(StreamWindow {
        choice: 0,
        released: 0,
        overlap: 0,
        last: true,
    });
    assert_eq!(
        legacy.sanitize(&answer).unwrap(),
        Verdict::Rewrite(vec![user("the [secret]")])
    );
}

#[test]
fn the_0_2_0_fixture_takes_its_config_and_its_schema_is_enforced() {
    let legacy = load_fixture(json!({"deny": "Rosebud"}));
    assert_eq!(
        legacy
            .sanitize(&input(Stage::Request, vec![user("rosebud!")], vec![]))
            .unwrap(),
        Verdict::Deny("legacy-guard: \"rosebud\" is not allowed".into())
    );
    let err = LoadedPlugin::load_file(&runtime(), &fixture(), |_| Settings {
        config: json!({"deny": 3}),
        ..Settings::default()
    })
    .err()
    .expect("a config against the schema is refused");
    assert!(err.to_string().contains("legacy-guard"), "{err}");
}

// ---------------------------------------------------------- evolution rules

const LOCK: &str = "wit-archive/LOCK";

/// The package version a WIT directory declares (every file must agree).
fn package_version(dir: &Path) -> String {
    let mut versions = BTreeSet::new();
    for (name, text) in wit_files(dir) {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with("package "))
            .unwrap_or_else(|| panic!("{}/{name} has no package line", dir.display()));
        let v = line
            .trim()
            .trim_end_matches(';')
            .rsplit_once('@')
            .map(|(_, v)| v.to_string())
            .unwrap_or_else(|| panic!("{}/{name}: the package has no version", dir.display()));
        versions.insert(v);
    }
    assert_eq!(
        versions.len(),
        1,
        "{}: files disagree on the package version: {versions:?}",
        dir.display()
    );
    versions.into_iter().next().unwrap()
}

fn wit_files(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "wit") {
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            out.insert(name, std::fs::read_to_string(&path).unwrap());
        }
    }
    out
}

fn sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A WIT file's text without comments, whitespace collapsed and dropped
/// around punctuation, so a doc comment or a reflow is not a change.
fn normalize(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        out.push_str(code);
        out.push(' ');
    }
    let collapsed = out.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut tight = String::new();
    let chars: Vec<char> = collapsed.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let punct = |c: char| "{}(),:;<>.=@".contains(c);
        if c == ' ' {
            let before = i > 0 && punct(chars[i - 1]);
            let after = chars.get(i + 1).is_some_and(|&n| punct(n));
            if before || after {
                continue;
            }
        }
        tight.push(c);
    }
    tight
}

/// Every item of every interface and world: `interface/record name`,
/// `interface/func name`, `world/export name`, ... → its normalized text.
/// `use` lines are left out (they define nothing; what they bring in is
/// checked where it is defined).
fn items(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (_, text) in wit_files(dir) {
        let text = normalize(&text);
        let mut rest = text.as_str();
        // Skip the package line.
        if let Some(i) = rest.find(';')
            && rest.starts_with("package ")
        {
            rest = &rest[i + 1..];
        }
        while let Some(open) = rest.find('{') {
            let head = rest[..open].trim();
            let (_, owner) = head.rsplit_once(' ').unwrap_or(("", head));
            let body_end = matching_brace(rest, open);
            let body = &rest[open + 1..body_end];
            for item in split_items(body) {
                if let Some(key) = item_key(&item) {
                    out.insert(format!("{owner}/{key}"), item);
                }
            }
            rest = &rest[body_end + 1..];
        }
    }
    out
}

fn matching_brace(text: &str, open: usize) -> usize {
    let mut depth = 0;
    for (i, c) in text[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return open + i;
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced braces in WIT");
}

/// Top-level items of an interface or world body: up to a `;` at depth 0,
/// or a `{...}` block.
fn split_items(body: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in body.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    items.push(body[start..=i].trim().to_string());
                    start = i + 1;
                }
            }
            ';' if depth == 0 => {
                items.push(body[start..=i].trim().to_string());
                start = i + 1;
            }
            _ => {}
        }
    }
    items.retain(|i| !i.is_empty());
    items
}

fn item_key(item: &str) -> Option<String> {
    let mut words = item.split([' ', '{', '(', ';']);
    let first = words.next()?;
    match first {
        "use" => None,
        "record" | "variant" | "enum" | "flags" | "resource" | "type" => {
            Some(format!("{first} {}", words.next()?.trim_end_matches('=')))
        }
        "import" | "export" | "include" => {
            let name = item[first.len()..].trim_start();
            let name = name.split([':', ';', ' ']).next()?;
            Some(format!("{first} {name}"))
        }
        _ => {
            let (name, _) = item.split_once(':')?;
            Some(format!("func {name}"))
        }
    }
}

/// Interfaces that plugins export (`export router;` in a world): a new
/// function there is required of every component, so it is never a patch.
fn exported_interfaces(items: &BTreeMap<String, String>) -> BTreeSet<String> {
    items
        .iter()
        .filter(|(k, v)| k.contains("/export ") && !v.contains(':'))
        .map(|(k, _)| k.rsplit_once(' ').unwrap().1.to_string())
        .collect()
}

#[derive(Default)]
struct Lock {
    files: BTreeMap<String, String>,
    current: String,
    items: BTreeMap<String, String>,
}

fn read_lock() -> Lock {
    let text = std::fs::read_to_string(root().join(LOCK))
        .unwrap_or_else(|e| panic!("{LOCK}: {e} (create it with SWITCHYARD_WIT_LOCK=update)"));
    let mut lock = Lock::default();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let mut parts = line.splitn(3, ' ');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("file"), Some(hash), Some(path)) => {
                lock.files.insert(path.to_string(), hash.to_string());
            }
            (Some("current"), Some(v), None) => lock.current = v.to_string(),
            (Some("item"), Some(hash), Some(key)) => {
                lock.items.insert(key.to_string(), hash.to_string());
            }
            _ => panic!("{LOCK}: unreadable line {line:?}"),
        }
    }
    lock
}

fn archived() -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(root().join("wit-archive")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.insert(
                path.file_name().unwrap().to_string_lossy().to_string(),
                path,
            );
        }
    }
    out
}

fn write_lock() {
    let mut text = String::from(
        "# The frozen contract: sha256 of every archived WIT file, and of every\n\
         # item of wit/ (comments and spacing left out) at the version it was\n\
         # locked at. Checked by host/tests/contract_versions.rs; rewritten by\n\
         # SWITCHYARD_WIT_LOCK=update after a change that follows the rules in\n\
         # docs/writing-plugins.md (Versioning).\n",
    );
    for (version, dir) in archived() {
        for (name, body) in wit_files(&dir) {
            text.push_str(&format!(
                "file {} {version}/{name}\n",
                sha256(body.as_bytes())
            ));
        }
    }
    let wit = root().join("wit");
    text.push_str(&format!("current {}\n", package_version(&wit)));
    for (key, item) in items(&wit) {
        text.push_str(&format!("item {} {key}\n", sha256(item.as_bytes())));
    }
    std::fs::write(root().join(LOCK), text).unwrap();
}

fn semver(v: &str) -> (u64, u64, u64) {
    let mut p = v.split('.').map(|n| n.parse::<u64>().unwrap());
    (p.next().unwrap(), p.next().unwrap(), p.next().unwrap())
}

#[test]
fn the_contract_follows_its_evolution_rules() {
    if std::env::var("SWITCHYARD_WIT_LOCK").as_deref() == Ok("update") {
        write_lock();
    }
    let lock = read_lock();
    let mut problems = Vec::new();

    // (a) Archives are frozen.
    let mut seen = BTreeSet::new();
    for (version, dir) in archived() {
        assert_eq!(package_version(&dir), version, "wit-archive/{version}");
        for (name, body) in wit_files(&dir) {
            let path = format!("{version}/{name}");
            match lock.files.get(&path) {
                Some(h) if *h == sha256(body.as_bytes()) => {}
                Some(_) => problems.push(format!(
                    "wit-archive/{path} changed: an archived version is frozen"
                )),
                None => problems.push(format!("wit-archive/{path} is not in {LOCK}")),
            }
            seen.insert(path);
        }
    }
    for path in lock.files.keys().filter(|p| !seen.contains(*p)) {
        problems.push(format!("wit-archive/{path} is locked but missing"));
    }

    // (b) wit/ keeps what its locked version released.
    let wit = root().join("wit");
    let version = package_version(&wit);
    assert_eq!(version, CURRENT, "contract::CURRENT must match wit/");
    let now = items(&wit);
    let (locked, current) = (semver(&lock.current), semver(&version));
    let same_minor = (locked.0, locked.1) == (current.0, current.1);
    if current < locked {
        problems.push(format!(
            "wit/ is at {version}, below the locked {}",
            lock.current
        ));
    } else if same_minor {
        for (key, hash) in &lock.items {
            match now.get(key) {
                Some(item) if sha256(item.as_bytes()) == *hash => {}
                Some(_) => problems.push(format!(
                    "{key} changed within {}.{}: a change to an existing item is a new minor (0.x) or major version; archive {} first",
                    current.0, current.1, lock.current
                )),
                None => problems.push(format!(
                    "{key} was removed within {}.{}: that is a new minor (0.x) or major version",
                    current.0, current.1
                )),
            }
        }
        let exported = exported_interfaces(&now);
        for key in now.keys().filter(|k| !lock.items.contains_key(*k)) {
            if version == lock.current {
                problems.push(format!(
                    "{key} was added without a version bump: bump wit/ to {}.{}.{} and re-lock",
                    current.0,
                    current.1,
                    current.2 + 1
                ));
            }
            let (owner, what) = key.split_once('/').unwrap();
            if what.starts_with("func ") && exported.contains(owner) {
                problems.push(format!(
                    "{key} is a new function in an interface plugins export: components built against {} lack it, so it needs a new minor (0.x) version",
                    lock.current
                ));
            }
            if what.starts_with("export ") {
                problems.push(format!(
                    "{key} is a new export required of every component: a new minor (0.x) version"
                ));
            }
        }
    } else {
        // A new minor/major: the locked one must have been archived.
        if !archived().contains_key(&lock.current) {
            problems.push(format!(
                "wit/ moved from {} to {version}: copy the released {} to wit-archive/{} first (and bind it)",
                lock.current, lock.current, lock.current
            ));
        }
    }

    // (c) The host binds every archived version and the current one.
    let expected: BTreeSet<String> = archived().into_keys().chain([version.clone()]).collect();
    let bound: BTreeSet<String> = BOUND.iter().map(|s| s.to_string()).collect();
    if expected != bound {
        problems.push(format!(
            "contract::BOUND is {bound:?}, but wit/ and wit-archive/ hold {expected:?}"
        ));
    }
    let bindings = std::fs::read_to_string(root().join("host/src/plugins/bindings.rs")).unwrap();
    for v in archived().keys() {
        let path = format!("path: \"../wit-archive/{v}\"");
        if !bindings.contains(&path) {
            problems.push(format!(
                "host/src/plugins/bindings.rs does not bind wit-archive/{v}"
            ));
        }
    }

    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_wit_reader_sees_items_and_ignores_comments() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.wit"),
        "package x:y@0.1.0;\n/// doc\ninterface i {\n  use t.{a};\n  /// field docs\n  record r {\n    a: u32, // trailing\n  }\n  f: func(x: r) -> u32;\n  resource s {\n    constructor(n: u32);\n  }\n}\nworld w {\n  import log;\n  export i;\n  export describe: func() -> string;\n}\n",
    )
    .unwrap();
    let items = items(dir.path());
    let keys: Vec<&str> = items.keys().map(|k| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "i/func f",
            "i/record r",
            "i/resource s",
            "w/export describe",
            "w/export i",
            "w/import log"
        ]
    );
    assert_eq!(items["i/record r"], "record r{a:u32,}");
    assert_eq!(
        exported_interfaces(&items),
        BTreeSet::from(["i".to_string()])
    );
}

// ---------------------------------------------------------- other versions

/// A component that exports an empty `switchyard:plugin/router` instance
/// at `version`: enough to see which bindings the host picks.
fn empty_router(version: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(component
            (instance $i)
            (export "switchyard:plugin/router@{version}" (instance $i)))"#
    ))
    .unwrap()
}

fn load_bytes(bytes: &[u8]) -> String {
    LoadedPlugin::load_bytes(
        &runtime(),
        Path::new("other.wasm"),
        bytes,
        &sha256_hex(bytes),
        |_| Settings::default(),
    )
    .err()
    .expect("an empty instance cannot load")
    .to_string()
}

#[test]
fn a_contract_the_host_does_not_bind_is_refused_naming_what_it_binds() {
    let err = load_bytes(&empty_router("0.1.0"));
    assert!(
        err.contains("it targets contract 0.1.0; this gateway binds 0.2.x and 0.3.x"),
        "{err}"
    );
    let err = load_bytes(&empty_router("1.0.0"));
    assert!(err.contains("it targets contract 1.0.0"), "{err}");
}

#[test]
fn a_later_patch_is_served_by_the_bindings_of_its_minor() {
    // 0.3.1 is not refused as an unbound contract: it goes to the 0.3
    // bindings (whose export lookups match `@0.3.1` to `@0.3.0`), which
    // then find this empty component lacks the world's functions.
    let err = load_bytes(&empty_router("0.3.1"));
    assert!(!err.contains("it targets contract"), "{err}");
    assert!(err.contains("does not fit the router world"), "{err}");
}
