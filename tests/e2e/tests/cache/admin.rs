//! Tenants: keys of one team share entries, keys of different teams (or
//! without a team) never do; and the admin routes, `/cache/ping`,
//! `/cache/delete` and `/cache/flushall`, each within the caller's scope.

use serde_json::{Value, json};
use switchyard_e2e::mock::*;
use switchyard_e2e::*;

use crate::*;

const CHAT: &str = "/v1/chat/completions";

/// The scope part of a key: between the namespace and the hash.
fn scope_of(key: &str) -> &str {
    let (rest, _) = key.rsplit_once(':').unwrap();
    let (_, scope) = rest.split_once(':').unwrap();
    scope
}

/// The callers of these tests.
struct Callers {
    team_a1: String,
    team_a2: String,
    team_b: String,
    solo1: String,
    solo2: String,
}

fn callers(gw: &Gateway) -> Callers {
    new_team(gw, "t-a");
    new_team(gw, "t-b");
    Callers {
        team_a1: new_key(gw, json!({"team_id": "t-a", "key_alias": "a1"})),
        team_a2: new_key(gw, json!({"team_id": "t-a", "key_alias": "a2"})),
        team_b: new_key(gw, json!({"team_id": "t-b", "key_alias": "b"})),
        solo1: new_key(gw, json!({"key_alias": "solo1"})),
        solo2: new_key(gw, json!({"key_alias": "solo2"})),
    }
}

#[test]
fn keys_of_one_team_share_entries_and_different_teams_or_keys_never_do() {
    let openai = MockProvider::start(Flavor::OpenAi);
    let gw = Gateway::start(&cached(&gpt_and_embed(&openai), &[]));
    let c = callers(&gw);
    let q = ask("tenants");

    let a1 = expect(&gw, CHAT, &c.team_a1, &q, "miss");
    let key = key_of(&a1);
    let hash = hash_of(&key).to_string();
    assert_eq!(key, format!("switchyard:team:t-a:{hash}"));
    wait_writes(&gw, 1);
    let a2 = expect(&gw, CHAT, &c.team_a2, &q, "hit");
    assert_eq!(key_of(&a2), key, "one team, one entry");
    assert_eq!(openai.count(), 1);

    let b = expect(&gw, CHAT, &c.team_b, &q, "miss");
    assert_eq!(key_of(&b), format!("switchyard:team:t-b:{hash}"));
    let s1 = expect(&gw, CHAT, &c.solo1, &q, "miss");
    let solo_scope = scope_of(&key_of(&s1)).to_string();
    let key_hash = solo_scope.strip_prefix("key:").unwrap();
    assert!(is_hex(key_hash, 16), "{solo_scope}");
    let s2 = expect(&gw, CHAT, &c.solo2, &q, "miss");
    assert_ne!(scope_of(&key_of(&s2)), solo_scope);
    let m = expect(&gw, CHAT, KEY, &q, "miss");
    assert_eq!(key_of(&m), format!("switchyard:master:{hash}"));
    assert_eq!(openai.count(), 5);
    wait_writes(&gw, 5);
    // Each reads its own again.
    expect(&gw, CHAT, &c.team_b, &q, "hit");
    expect(&gw, CHAT, &c.solo1, &q, "hit");
    expect(&gw, CHAT, &c.solo2, &q, "hit");
    expect(&gw, CHAT, KEY, &q, "hit");
    expect(&gw, CHAT, &c.team_a1, &q, "hit");
    // Embeddings likewise.
    let e = json!({"model": "embed", "input": ["tenants"]});
    expect(&gw, "/v1/embeddings", &c.team_a1, &e, "miss");
    wait_writes(&gw, 6);
    expect(&gw, "/v1/embeddings", &c.team_a2, &e, "hit");
    expect(&gw, "/v1/embeddings", &c.team_b, &e, "miss");
    assert_eq!(openai.count(), 7);
}

#[test]
fn without_auth_every_caller_shares_the_anonymous_scope() {
    let openai = MockProvider::start(Flavor::OpenAi);
    let config =
        cached(&gpt_and_embed(&openai), &[]).replace(&format!("  master_key: {KEY}\n"), "");
    let gw = Gateway::start(&config);
    let r = gw.post(CHAT, None, &ask("anonymous"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(verdict(&r), "miss");
    let key = key_of(&r);
    assert_eq!(key, format!("switchyard:anonymous:{}", hash_of(&key)));
    wait_writes(&gw, 1);
    let r = gw.post(CHAT, None, &ask("anonymous"));
    assert_eq!(verdict(&r), "hit");
    assert_eq!(openai.count(), 1);
}

fn ok(r: Reply) -> Value {
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

fn deleted(n: u64) -> Value {
    json!({"status": "success", "deleted": n})
}

#[test]
fn ping_delete_and_flushall_act_within_the_callers_scope() {
    let openai = MockProvider::start(Flavor::OpenAi);
    let gw = Gateway::start(&cached(&gpt_and_embed(&openai), &[]));
    let c = callers(&gw);

    // ping: the master key or any valid key.
    let healthy = json!({"status": "healthy", "cache_type": "local"});
    assert_eq!(ok(gw.get("/cache/ping", Some(KEY))), healthy);
    assert_eq!(ok(gw.get("/cache/ping", Some(&c.solo1))), healthy);
    assert_eq!(gw.get("/cache/ping", None).status, 401);
    assert_eq!(gw.get("/cache/ping", Some("sk-not-a-key")).status, 401);

    // One entry per caller, and one in another namespace.
    let q = ask("admin");
    let mut keys = Vec::new();
    for caller in [KEY, &c.team_a1, &c.team_b, &c.solo1, &c.solo2] {
        keys.push(key_of(&expect(&gw, CHAT, caller, &q, "miss")));
    }
    let [master, team_a, team_b, _solo1, solo2] = keys.try_into().unwrap();
    let faq = with_cache(q.clone(), json!({"namespace": "faq"}));
    let faq_key = key_of(&chat(&gw, &faq, "miss"));
    let faq2 = with_cache(ask("admin 2"), json!({"namespace": "faq"}));
    chat(&gw, &faq2, "miss");
    assert_eq!(openai.count(), 7);
    wait_writes(&gw, 7);

    // delete: a virtual key deletes its own scope's keys only.
    let r = gw.post(
        "/cache/delete",
        Some(&c.team_a2),
        &json!({"keys": [master]}),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    let r = gw.post(
        "/cache/delete",
        Some(&c.team_b),
        &json!({"keys": [team_b, team_a]}),
    );
    assert_eq!(
        r.status, 403,
        "one key of another scope refuses all: {}",
        r.body
    );
    expect(&gw, CHAT, &c.team_b, &q, "hit");
    // Another key of the team deletes the team's entry.
    let r = gw.post(
        "/cache/delete",
        Some(&c.team_a2),
        &json!({"keys": [team_a]}),
    );
    assert_eq!(ok(r), deleted(1));
    let r = gw.post(
        "/cache/delete",
        Some(&c.team_a2),
        &json!({"keys": [team_a]}),
    );
    assert_eq!(ok(r), deleted(0), "already gone");
    expect(&gw, CHAT, &c.team_a1, &q, "miss");
    // The master key deletes any.
    let r = gw.post(
        "/cache/delete",
        Some(KEY),
        &json!({"keys": [team_b, solo2]}),
    );
    assert_eq!(ok(r), deleted(2));
    expect(&gw, CHAT, &c.team_b, &q, "miss");
    assert_eq!(openai.count(), 9);
    wait_writes(&gw, 9);

    // flushall with a virtual key: its own scope, in every namespace.
    let mine = with_cache(ask("solo1 elsewhere"), json!({"namespace": "faq"}));
    expect(&gw, CHAT, &c.solo1, &mine, "miss");
    wait_writes(&gw, 10);
    let r = gw.post("/cache/flushall", Some(&c.solo1), &json!({}));
    assert_eq!(ok(r), deleted(2));
    expect(&gw, CHAT, &c.solo1, &q, "miss");
    expect(&gw, CHAT, KEY, &q, "hit");
    expect(&gw, CHAT, &c.team_b, &q, "hit");
    assert_eq!(openai.count(), 11);
    wait_writes(&gw, 11);

    // flushall with the master key and a namespace: only that namespace.
    let r = gw.post("/cache/flushall", Some(KEY), &json!({"namespace": "faq"}));
    assert_eq!(ok(r), deleted(2), "faq and faq2");
    let r = chat(&gw, &faq, "miss");
    assert_eq!(key_of(&r), faq_key);
    expect(&gw, CHAT, KEY, &q, "hit");
    assert_eq!(openai.count(), 12);
    wait_writes(&gw, 12);

    // flushall with the master key: everything. Left: master, team_a
    // (again), team_b (again), solo1 (again), faq.
    let r = gw.post("/cache/flushall", Some(KEY), &json!({}));
    assert_eq!(ok(r), deleted(5));
    for caller in [KEY, &c.team_a1, &c.team_b, &c.solo1] {
        expect(&gw, CHAT, caller, &q, "miss");
    }
    assert_eq!(openai.count(), 16);
}
