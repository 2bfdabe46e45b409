//! LiteLLM's management API on the real binary: keys, teams, users and
//! customers with LiteLLM's fields, bad input refused with nothing
//! written, who may call what, generated keys on the request path, spend
//! logs and usage, on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use switchyard_e2e::mock::*;
use switchyard_e2e::*;

/// $0.001 a token each way: a mock answer (11 + 5 tokens) costs $0.016.
const CALL_COST: f64 = 0.016;

fn entry(openai: &MockProvider) -> String {
    let mut e = model_entry(
        "gpt-4o",
        "openai/gpt-4o",
        &openai.url(),
        &["api_key: sk-up"],
    );
    e.push_str(
        "    model_info:\n      input_cost_per_token: 0.001\n      output_cost_per_token: 0.001\n",
    );
    e
}

/// A gateway with the master key [`KEY`] and its database at `db` (a URL).
fn config(openai: &MockProvider, db: &str, master_key: bool) -> String {
    let master = if master_key {
        format!("  master_key: {KEY}\n")
    } else {
        String::new()
    };
    format!(
        "model_list:\n{}general_settings:\n{master}  database_url: {db}\n  max_request_size_mb: 1\n{ONE_CALL_EACH}",
        entry(openai)
    )
}

/// A gateway on a SQLite file in its own temp dir.
fn start(openai: &MockProvider, master_key: bool) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/db.sqlite", dir.path().display());
    Gateway::start_in(dir, &config(openai, &db, master_key))
}

fn post(gw: &Gateway, path: &str, body: Value) -> Reply {
    gw.post(path, Some(KEY), &body)
}

fn get(gw: &Gateway, path: &str) -> Reply {
    gw.get(path, Some(KEY))
}

/// The JSON of a 200.
fn ok(r: Reply) -> Value {
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

/// A refusal: its status, the OpenAI error shape, the param it names;
/// returns the message.
fn refused(r: &Reply, status: u16, param: Option<&str>) -> String {
    assert_eq!(r.status, status, "{}", r.body);
    let e = r.json();
    let err = &e["error"];
    assert!(err["message"].is_string(), "{e}");
    assert!(err["type"].is_string(), "{e}");
    assert!(err.get("code").is_some(), "{e}");
    if let Some(p) = param {
        assert_eq!(err["param"], p, "{e}");
    }
    err["message"].as_str().unwrap().to_string()
}

/// `POST path` with these exact body bytes.
fn post_raw(gw: &Gateway, path: &str, key: Option<&str>, body: &str) -> Reply {
    let auth = key.map(|k| format!("Authorization: Bearer {k}"));
    let mut headers = vec!["Content-Type: application/json"];
    headers.extend(auth.as_deref());
    http("POST", &gw.url(path), &headers, Some(body.as_bytes()))
}

fn chat(gw: &Gateway, key: &str) -> Reply {
    gw.post(
        "/v1/chat/completions",
        Some(key),
        &json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}),
    )
}

/// SHA-256 in hex, as `sha256sum` computes it.
fn sha256(s: &str) -> String {
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

fn is_time(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.len() >= 20 && s.ends_with('Z') && s.as_bytes()[10] == b'T')
}

#[test]
fn keys_are_generated_read_updated_listed_blocked_regenerated_and_deleted_with_litellm_fields() {
    let openai = MockProvider::start(Flavor::OpenAi);
    let gw = start(&openai, true);
    ok(post(
        &gw,
        "/team/new",
        json!({"team_id": "t1", "team_alias": "Team One"}),
    ));

    let made = ok(post(
        &gw,
        "/key/generate",
        json!({
            "key_alias": "alice", "team_id": "t1", "models": ["gpt-4o"],
            "max_budget": 10, "budget_duration": "30d", "rpm_limit": 5,
            "metadata": {"organization_id": "org_1"}, "tags": ["support"],
            "model_max_budget": {"gpt-4o": {"budget_limit": 2.5, "time_period": "1d"}},
            "soft_budget": 5, "duration": "1h", "spend": 99
        }),
    ));
    let raw = made["key"].as_str().unwrap().to_string();
    assert!(raw.starts_with("sk-") && raw.len() == 35, "{raw}");
    let hash = sha256(&raw);
    assert_eq!(made["token"], hash.as_str());
    assert_eq!(made["token_id"], hash.as_str());
    assert_eq!(made["key_name"], format!("sk-...{}", &raw[raw.len() - 4..]));
    assert_eq!(made["key_alias"], "alice");
    assert_eq!(made["team_id"], "t1");
    assert_eq!(made["user_id"], Value::Null);
    assert_eq!(made["models"], json!(["gpt-4o"]));
    assert_eq!(made["max_budget"], 10.0);
    assert_eq!(made["budget_duration"], "30d");
    assert_eq!(made["rpm_limit"], 5);
    assert_eq!(made["tpm_limit"], Value::Null);
    assert_eq!(made["metadata"], json!({"organization_id": "org_1"}));
    assert_eq!(made["tags"], json!(["support"]));
    assert_eq!(
        made["model_max_budget"],
        json!({"gpt-4o": {"budget_limit": 2.5, "time_period": "1d"}})
    );
    assert_eq!(made["soft_budget"], 5, "kept as given");
    assert_eq!(made["spend"], 0.0, "spend is recorded, never set: {made}");
    assert_eq!(made["blocked"], false);
    assert!(is_time(&made["expires"]), "{made}");
    assert!(
        is_time(&made["created_at"]) && is_time(&made["updated_at"]),
        "{made}"
    );

    // Info by the secret, by its hash, and by the key itself.
    let info = ok(get(&gw, &format!("/key/info?key={raw}")));
    assert_eq!(info["key"], hash.as_str(), "never the secret: {info}");
    assert!(!info.to_string().contains(&raw));
    let i = &info["info"];
    assert_eq!(i["key_alias"], "alice");
    assert_eq!(i["key_name"], made["key_name"]);
    assert_eq!(i["expires"], made["expires"]);
    assert_eq!(i["spend"], 0.0);
    assert!(i.get("token").is_none(), "{info}");
    assert_eq!(ok(get(&gw, &format!("/key/info?key={hash}"))), info);
    assert_eq!(ok(gw.get("/key/info", Some(&raw))), info);

    // Update: absent fields stay, null clears, objects are replaced.
    let up = ok(post(
        &gw,
        "/key/update",
        // Its own alias is not a duplicate.
        json!({"key": raw, "key_alias": "alice", "max_budget": 20, "rpm_limit": null,
               "metadata": {"organization_id": "org_2"}}),
    ));
    assert_eq!(up["key"], hash.as_str());
    assert_eq!(up["max_budget"], 20.0);
    assert_eq!(up["rpm_limit"], Value::Null);
    assert_eq!(up["budget_duration"], "30d");
    assert_eq!(up["metadata"], json!({"organization_id": "org_2"}));
    assert_eq!(up["soft_budget"], 5);
    let i = ok(get(&gw, &format!("/key/info?key={hash}")))["info"].clone();
    assert_eq!(i["max_budget"], 20.0);
    assert_eq!(i["rpm_limit"], Value::Null);
    assert_eq!(i["team_id"], "t1");

    // A second key, then lists: hashes, full objects, filters, pages.
    let bob = ok(post(&gw, "/key/generate", json!({"key_alias": "bob"})));
    let bob_hash = bob["token"].as_str().unwrap().to_string();
    let list = ok(get(&gw, "/key/list"));
    assert_eq!(
        list,
        json!({"keys": [bob_hash, hash], "total_count": 2, "current_page": 1, "total_pages": 1})
    );
    let full = ok(get(&gw, "/key/list?return_full_object=true&team_id=t1"));
    assert_eq!(full["total_count"], 1);
    assert_eq!(full["keys"][0]["token"], hash.as_str());
    assert_eq!(full["keys"][0]["key_alias"], "alice");
    assert!(!full.to_string().contains(&raw));
    assert_eq!(
        ok(get(&gw, "/key/list?key_alias=bob"))["keys"],
        json!([bob_hash])
    );
    assert_eq!(ok(get(&gw, "/key/list?team_id=nobody"))["total_count"], 0);
    let page2 = ok(get(&gw, "/key/list?size=1&page=2"));
    assert_eq!(
        page2,
        json!({"keys": [hash], "total_count": 2, "current_page": 2, "total_pages": 2})
    );

    // Block and unblock answer the record.
    let b = ok(post(&gw, "/key/block", json!({"key": hash})));
    assert_eq!(b["blocked"], true);
    assert_eq!(b["token"], hash.as_str());
    assert_eq!(
        ok(get(&gw, &format!("/key/info?key={hash}")))["info"]["blocked"],
        true
    );
    assert_eq!(
        ok(post(&gw, "/key/unblock", json!({"key": raw})))["blocked"],
        false
    );

    // Regenerate: a new secret, the same record; the old one is gone.
    let re = ok(post(
        &gw,
        "/key/regenerate",
        json!({"key": raw, "max_budget": 30}),
    ));
    let raw2 = re["key"].as_str().unwrap().to_string();
    assert_ne!(raw2, raw);
    let hash2 = sha256(&raw2);
    assert_eq!(re["token"], hash2.as_str());
    assert_eq!(re["key_alias"], "alice");
    assert_eq!(re["max_budget"], 30.0);
    assert_eq!(re["metadata"], json!({"organization_id": "org_2"}));
    assert_eq!(re["key_name"], format!("sk-...{}", &raw2[raw2.len() - 4..]));
    refused(
        &get(&gw, &format!("/key/info?key={hash}")),
        404,
        Some("key"),
    );
    // The path form, with a caller-chosen new key.
    let re = ok(post(
        &gw,
        &format!("/key/{hash2}/regenerate"),
        json!({"new_key": "sk-chosen-by-me-0001"}),
    ));
    assert_eq!(re["key"], "sk-chosen-by-me-0001");
    let hash3 = sha256("sk-chosen-by-me-0001");
    assert_eq!(re["token"], hash3.as_str());
    assert_eq!(ok(get(&gw, "/key/list"))["total_count"], 2);

    // Delete by alias (answered as given) and by secret (answered as hash).
    assert_eq!(
        ok(post(&gw, "/key/delete", json!({"key_aliases": ["alice"]}))),
        json!({"deleted_keys": ["alice"]})
    );
    let bob_raw = bob["key"].as_str().unwrap();
    assert_eq!(
        ok(post(&gw, "/key/delete", json!({"keys": [bob_raw]}))),
        json!({"deleted_keys": [bob_hash]})
    );
    assert_eq!(
        ok(get(&gw, "/key/list")),
        json!({"keys": [], "total_count": 0, "current_page": 1, "total_pages": 0})
    );
    // The secrets never reached the log.
    let log = gw.log();
    for secret in [raw.as_str(), raw2.as_str(), bob_raw] {
        assert!(!log.contains(secret), "a key in the log");
    }
}

#[test]
fn teams_are_created_updated_read_listed_blocked_and_deleted_with_their_keys() {
    let openai = MockProvider::start(Flavor::OpenAi);
    let gw = start(&openai, true);
    let t = ok(post(
        &gw,
        "/team/new",
        json!({"team_alias": "Support", "models": ["gpt-4o"], "max_budget": 50,
               "budget_duration": "1mo", "tpm_limit": 1000, "metadata": {"cost_center": "cs"},
               "organization_id": "org_1", "members_with_roles": [{"role": "admin", "user_id": "u1"}]}),
    ));
    let id = t["team_id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    assert_eq!(id.matches('-').count(), 4);
    assert_eq!(t["team_alias"], "Support");
    assert_eq!(t["models"], json!(["gpt-4o"]));
    assert_eq!(t["max_budget"], 50.0);
    assert_eq!(t["budget_duration"], "1mo");
    assert_eq!(t["tpm_limit"], 1000);
    assert_eq!(t["rpm_limit"], Value::Null);
    assert_eq!(t["blocked"], false);
    assert_eq!(t["organization_id"], "org_1");
    assert_eq!(t["spend"], 0.0);
    let named = ok(post(&gw, "/team/new", json!({"team_id": "t2"})));
    assert_eq!(named["team_id"], "t2");
    assert_eq!(named["team_alias"], Value::Null);

    let up = ok(post(
        &gw,
        "/team/update",
        json!({"team_id": id, "tpm_limit": null, "rpm_limit": 7}),
    ));
    assert_eq!(up["team_id"], id.as_str());
    assert_eq!(up["data"]["rpm_limit"], 7);
    assert_eq!(up["data"]["tpm_limit"], Value::Null);
    assert_eq!(up["data"]["max_budget"], 50.0);

    let key = ok(post(
        &gw,
        "/key/generate",
        json!({"team_id": id, "key_alias": "support-bot"}),
    ));
    let info = ok(get(&gw, &format!("/team/info?team_id={id}")));
    assert_eq!(info["team_id"], id.as_str());
    assert_eq!(info["team_info"]["team_alias"], "Support");
    assert_eq!(info["team_info"]["rpm_limit"], 7);
    assert_eq!(info["keys"].as_array().unwrap().len(), 1);
    assert_eq!(info["keys"][0]["token"], key["token"]);
    assert_eq!(info["keys"][0]["key_alias"], "support-bot");
    assert_eq!(info["team_memberships"], json!([]));

    let list = ok(get(&gw, "/team/list"));
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["team_id"].as_str().unwrap())
        .collect();
    // Sorted by alias: none ("") first.
    assert_eq!(ids, vec!["t2", id.as_str()]);
    assert_eq!(list[1]["keys"][0]["token"], key["token"]);
    assert_eq!(list[0]["keys"], json!([]));
    assert_eq!(
        ok(get(&gw, "/team/list?organization_id=org_1"))
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        ok(get(&gw, "/team/list?user_id=u1"))[0]["team_id"],
        id.as_str()
    );
    assert_eq!(ok(get(&gw, "/team/list?user_id=u9")), json!([]));

    assert_eq!(
        ok(post(&gw, "/team/block", json!({"team_id": id})))["data"]["blocked"],
        true
    );
    assert_eq!(
        ok(post(&gw, "/team/unblock", json!({"team_id": id})))["data"]["blocked"],
        false
    );

    let del = ok(post(&gw, "/team/delete", json!({"team_ids": [id]})));
    assert_eq!(
        del,
        json!({"deleted_teams": [id], "deleted_keys": [key["token"]]})
    );
    refused(
        &get(&gw, &format!("/team/info?team_id={id}")),
        404,
        Some("team_id"),
    );
    assert_eq!(ok(get(&gw, "/key/list"))["total_count"], 0);
    assert_eq!(ok(get(&gw, "/team/list")).as_array().unwrap().len(), 1);
}

#[test]
fn users_get_a_key_of_their_own_and_are_updated_read_listed_and_deleted() {
    let openai = MockProvider::start(Flavor::OpenAi);
    let gw = start(&openai, true);
    ok(post(&gw, "/team/new", json!({"team_id": "t1"})));
    let u = ok(post(
        &gw,
        "/user/new",
        json!({"user_id": "ann", "user_email": "ann@example.com", "user_role": "internal_user",
               "max_budget": 3, "models": ["gpt-4o"], "user_alias": "Ann",
               "key_alias": "ann-key", "team_id": "t1", "duration": "2h"}),
    ));
    assert_eq!(u["user_id"], "ann");
    assert_eq!(u["user_email"], "ann@example.com");
    assert_eq!(u["user_role"], "internal_user");
    assert_eq!(u["max_budget"], 3.0);
    assert_eq!(u["user_alias"], "Ann");
    assert_eq!(u["key_alias"], "ann-key");
    assert_eq!(u["team_id"], "t1");
    assert!(is_time(&u["expires"]), "{u}");
    let raw = u["key"].as_str().unwrap().to_string();
    assert!(raw.starts_with("sk-"));
    let key = ok(get(&gw, &format!("/key/info?key={raw}")))["info"].clone();
    assert_eq!(key["user_id"], "ann");
    assert_eq!(key["team_id"], "t1");
    assert_eq!(key["models"], json!(["gpt-4o"]), "the user's models");
    assert_eq!(key["max_budget"], Value::Null, "the budget is the user's");

    let bare = ok(post(&gw, "/user/new", json!({"auto_create_key": false})));
    assert_eq!(bare["key"], Value::Null);
    let bare_id = bare["user_id"].as_str().unwrap().to_string();
    assert_eq!(bare_id.len(), 36);

    let up = ok(post(
        &gw,
        "/user/update",
        json!({"user_id": "ann", "max_budget": null, "tpm_limit": 9}),
    ));
    assert_eq!(up["user_id"], "ann");
    assert_eq!(up["data"]["max_budget"], Value::Null);
    assert_eq!(up["data"]["tpm_limit"], 9);
    assert_eq!(up["data"]["user_email"], "ann@example.com");
    // By email alone.
    let up = ok(post(
        &gw,
        "/user/update",
        json!({"user_email": "ANN@example.com", "rpm_limit": 4}),
    ));
    assert_eq!(up["user_id"], "ann");
    assert_eq!(up["data"]["rpm_limit"], 4);

    let info = ok(get(&gw, "/user/info?user_id=ann"));
    assert_eq!(info["user_id"], "ann");
    assert_eq!(info["user_info"]["tpm_limit"], 9);
    assert_eq!(info["keys"].as_array().unwrap().len(), 1);
    assert_eq!(info["keys"][0]["key_alias"], "ann-key");
    assert_eq!(info["teams"][0]["team_id"], "t1");

    let list = ok(get(&gw, "/user/list"));
    assert_eq!(list["total"], 2);
    assert_eq!(list["page"], 1);
    assert_eq!(list["page_size"], 25);
    assert_eq!(list["total_pages"], 1);
    assert_eq!(
        list["users"][0]["user_id"],
        bare_id.as_str(),
        "newest first"
    );
    assert_eq!(list["users"][1]["key_count"], 1);
    let by_role = ok(get(&gw, "/user/list?role=internal_user"));
    assert_eq!(by_role["total"], 1);
    assert_eq!(
        ok(get(&gw, "/user/list?user_email=EXAMPLE"))["users"][0]["user_id"],
        "ann"
    );

    let del = ok(post(&gw, "/user/delete", json!({"user_ids": ["ann"]})));
    assert_eq!(del["deleted_users"], json!(["ann"]));
    assert_eq!(del["deleted_keys"].as_array().unwrap().len(), 1);
    refused(&get(&gw, "/user/info?user_id=ann"), 404, Some("user_id"));
    refused(&get(&gw, &format!("/key/info?key={raw}")), 404, Some("key"));
    assert_eq!(chat(&gw, &raw).status, 401);
}

#[test]
fn customers_are_managed_under_both_of_litellms_names() {
    let openai = MockProvider::start(Flavor::OpenAi);
    let gw = start(&openai, true);
    let c = ok(post(
        &gw,
        "/customer/new",
        json!({"user_id": "cust-1", "alias": "Acme", "max_budget": 1.5, "budget_duration": "24h",
               "allowed_model_region": "eu", "default_model": "gpt-4o"}),
    ));
    assert_eq!(c["user_id"], "cust-1");
    assert_eq!(c["alias"], "Acme");
    assert_eq!(c["max_budget"], 1.5);
    assert_eq!(c["budget_duration"], "24h");
    assert_eq!(c["blocked"], false);
    assert_eq!(c["allowed_model_region"], "eu");
    assert_eq!(c["spend"], 0.0);
    ok(post(&gw, "/end_user/new", json!({"user_id": "cust-2"})));

    let up = ok(post(
        &gw,
        "/customer/update",
        json!({"user_id": "cust-1", "blocked": true, "alias": null}),
    ));
    assert_eq!(up["blocked"], true);
    assert_eq!(up["alias"], Value::Null);
    assert_eq!(up["max_budget"], 1.5);

    let info = ok(get(&gw, "/customer/info?end_user_id=cust-1"));
    assert_eq!(info["user_id"], "cust-1");
    assert_eq!(info["blocked"], true);
    assert_eq!(
        ok(get(&gw, "/end_user/info?end_user_id=cust-2"))["user_id"],
        "cust-2"
    );

    let list = ok(get(&gw, "/customer/list"));
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["cust-1", "cust-2"]);

    let del = ok(post(
        &gw,
        "/customer/delete",
        json!({"user_ids": ["cust-1", "cust-2"]}),
    ));
    assert_eq!(del["deleted_customers"], json!(["cust-1", "cust-2"]));
    refused(
        &get(&gw, "/customer/info?end_user_id=cust-1"),
        404,
        Some("end_user_id"),
    );
    assert_eq!(ok(get(&gw, "/end_user/list")), json!([]));
}

/// Everything the fixtures hold, to compare before and after refusals.
fn snapshot(gw: &Gateway) -> Value {
    json!({
        "keys": ok(get(gw, "/key/list?return_full_object=true")),
        "teams": ok(get(gw, "/team/list")),
        "users": ok(get(gw, "/user/list")),
        "customers": ok(get(gw, "/customer/list")),
    })
}

#[test]
fn bad_input_on_every_management_endpoint_is_a_4xx_naming_the_field_and_writes_nothing() {
    let openai = MockProvider::start(Flavor::OpenAi);
    let gw = start(&openai, true);
    ok(post(&gw, "/team/new", json!({"team_id": "t1"})));
    let key = ok(post(
        &gw,
        "/key/generate",
        json!({"key_alias": "k1", "team_id": "t1"}),
    ));
    let hash = key["token"].as_str().unwrap().to_string();
    ok(post(
        &gw,
        "/user/new",
        json!({"user_id": "u1", "user_email": "u1@example.com", "auto_create_key": false}),
    ));
    ok(post(&gw, "/customer/new", json!({"user_id": "c1"})));
    let before = snapshot(&gw);

    let writes = [
        "/key/generate",
        "/key/update",
        "/key/delete",
        "/key/block",
        "/key/unblock",
        "/key/regenerate",
        "/team/new",
        "/team/update",
        "/team/delete",
        "/team/block",
        "/team/unblock",
        "/user/new",
        "/user/update",
        "/user/delete",
        "/customer/new",
        "/customer/update",
        "/customer/delete",
        "/end_user/new",
    ];
    for path in writes {
        let m = refused(&post_raw(&gw, path, Some(KEY), "{\"key\": "), 400, None);
        assert!(m.contains("not valid JSON"), "{path}: {m}");
        let m = refused(&post_raw(&gw, path, Some(KEY), "[1, 2]"), 400, None);
        assert!(m.contains("JSON object"), "{path}: {m}");
        let m = refused(&post_raw(&gw, path, Some(KEY), "\"text\""), 400, None);
        assert!(m.contains("not a string"), "{path}: {m}");
        let m = refused(
            &post(&gw, path, json!({"colour": "blue"})),
            400,
            Some("colour"),
        );
        assert!(m.contains("unknown field `colour`"), "{path}: {m}");
    }
    // Regenerate alone takes an empty body (the key in the path).
    for path in writes.iter().filter(|p| **p != "/key/regenerate") {
        let m = refused(&post_raw(&gw, path, Some(KEY), ""), 400, None);
        assert!(m.contains("empty"), "{path}: {m}");
    }

    // Negative budgets and limits, durations that do not parse, wrong types.
    let limited = [
        ("/key/generate", json!({})),
        ("/key/update", json!({"key": hash})),
        ("/key/regenerate", json!({"key": hash})),
        ("/team/new", json!({})),
        ("/team/update", json!({"team_id": "t1"})),
        ("/user/new", json!({})),
        ("/user/update", json!({"user_id": "u1"})),
        ("/customer/new", json!({"user_id": "c9"})),
        ("/customer/update", json!({"user_id": "c1"})),
    ];
    let bad_values = [
        (
            "max_budget",
            json!(-1),
            "`max_budget` must be a number >= 0, got -1",
        ),
        (
            "max_budget",
            json!("ten"),
            "`max_budget` must be a number >= 0, got \"ten\"",
        ),
        (
            "rpm_limit",
            json!(-5),
            "`rpm_limit` must be a whole number >= 0, got -5",
        ),
        (
            "tpm_limit",
            json!(2.5),
            "`tpm_limit` must be a whole number >= 0, got 2.5",
        ),
        (
            "max_parallel_requests",
            json!(true),
            "`max_parallel_requests` must be a whole number >= 0, got true",
        ),
        (
            "budget_duration",
            json!("fortnight"),
            "`budget_duration` is not a duration",
        ),
        (
            "budget_duration",
            json!("30"),
            "`budget_duration` is not a duration",
        ),
        (
            "metadata",
            json!([1]),
            "`metadata` must be an object, got [1]",
        ),
    ];
    for (path, base) in &limited {
        for (field, value, message) in &bad_values {
            let mut body = base.clone();
            body[*field] = value.clone();
            let m = refused(&post(&gw, path, body), 400, Some(field));
            assert!(m.starts_with(message), "{path} {field}: {m}");
        }
    }
    let key_only = [
        (
            json!({"duration": "soon"}),
            "duration",
            "`duration` is not a duration",
        ),
        (
            json!({"expires": "next tuesday"}),
            "expires",
            "`expires` is not an RFC 3339 time",
        ),
        (
            json!({"duration": "1h", "expires": "2030-01-01T00:00:00Z"}),
            "duration",
            "give `duration` or `expires`, not both",
        ),
        (
            json!({"models": "gpt-4o"}),
            "models",
            "`models` must be a list of strings",
        ),
        (
            json!({"models": ["gpt-5-turbo"]}),
            "models",
            "`models` names gpt-5-turbo, which is not a model group or alias",
        ),
        (
            json!({"team_id": "t404"}),
            "team_id",
            "team_id t404 names no team",
        ),
        (
            json!({"key_alias": "k1"}),
            "key_alias",
            "Key with alias 'k1' already exists. Unique key aliases across all keys are required.",
        ),
        (
            json!({"key": "my-own-key"}),
            "key",
            "`key` must start with `sk-`",
        ),
        (
            json!({"model_max_budget": {"gpt-4o": {"budget_limit": -1}}}),
            "model_max_budget.gpt-4o.budget_limit",
            "`model_max_budget.gpt-4o.budget_limit` must be a number >= 0",
        ),
        (
            json!({"model_max_budget": {"gpt-4o": {"budget_limit": 1, "time_period": "someday"}}}),
            "model_max_budget.gpt-4o.time_period",
            "`model_max_budget.gpt-4o.time_period` is not a duration",
        ),
        (
            json!({"model_rpm_limit": {"gpt-4o": -1}}),
            "model_rpm_limit.gpt-4o",
            "`model_rpm_limit.gpt-4o` must be a whole number >= 0",
        ),
        (
            json!({"blocked": "yes"}),
            "blocked",
            "`blocked` must be true or false",
        ),
    ];
    for (body, param, message) in &key_only {
        let m = refused(&post(&gw, "/key/generate", body.clone()), 400, Some(param));
        assert!(m.starts_with(message), "generate {body}: {m}");
        let mut update = body.clone();
        if *param != "key" {
            update["key"] = json!(hash);
            if *param == "key_alias" {
                // Its own alias is not a duplicate (the keys test updates it).
                continue;
            }
            let m = refused(&post(&gw, "/key/update", update), 400, Some(param));
            assert!(m.starts_with(message), "update {body}: {m}");
        }
    }
    // Duplicates, as LiteLLM answers them.
    let m = refused(
        &post(&gw, "/team/new", json!({"team_id": "t1"})),
        400,
        Some("team_id"),
    );
    assert_eq!(
        m,
        "Team id = t1 already exists. Please use a different team id."
    );
    let m = refused(
        &post(&gw, "/user/new", json!({"user_id": "u1"})),
        409,
        Some("user_id"),
    );
    assert_eq!(m, "User with id u1 already exists");
    let m = refused(
        &post(&gw, "/user/new", json!({"user_email": "U1@example.com"})),
        409,
        Some("user_email"),
    );
    assert_eq!(m, "User with email U1@example.com already exists");
    let m = refused(
        &post(&gw, "/customer/new", json!({"user_id": "c1"})),
        400,
        Some("user_id"),
    );
    assert_eq!(
        m,
        "Customer already exists, passed user_id=c1. Please pass a new user_id."
    );
    // Fields a resource does not have, and values outside LiteLLM's sets.
    refused(
        &post(&gw, "/user/new", json!({"password": "hunter22"})),
        400,
        Some("password"),
    );
    refused(
        &post(&gw, "/user/new", json!({"user_role": "overlord"})),
        400,
        Some("user_role"),
    );
    refused(
        &post(
            &gw,
            "/customer/new",
            json!({"user_id": "c9", "allowed_model_region": "mars"}),
        ),
        400,
        Some("allowed_model_region"),
    );
    refused(
        &post(
            &gw,
            "/customer/new",
            json!({"user_id": "c9", "default_model": "nope"}),
        ),
        400,
        Some("default_model"),
    );
    refused(
        &post(&gw, "/team/new", json!({"models": ["nope"]})),
        400,
        Some("models"),
    );
    refused(
        &post(
            &gw,
            "/key/regenerate",
            json!({"key": hash, "grace_period": "24h"}),
        ),
        400,
        Some("grace_period"),
    );
    refused(
        &post(
            &gw,
            "/key/regenerate",
            json!({"key": hash, "new_key": "plain"}),
        ),
        400,
        Some("new_key"),
    );
    // Required fields.
    refused(
        &post(&gw, "/key/update", json!({"max_budget": 1})),
        400,
        Some("key"),
    );
    refused(&post(&gw, "/key/delete", json!({})), 400, Some("keys"));
    refused(&post(&gw, "/key/block", json!({})), 400, Some("key"));
    refused(&post(&gw, "/key/regenerate", json!({})), 400, Some("key"));
    refused(
        &post(&gw, "/team/update", json!({"rpm_limit": 1})),
        400,
        Some("team_id"),
    );
    refused(
        &post(&gw, "/team/delete", json!({"team_ids": []})),
        400,
        Some("team_ids"),
    );
    refused(
        &post(&gw, "/user/update", json!({"rpm_limit": 1})),
        400,
        Some("user_id"),
    );
    refused(&post(&gw, "/user/delete", json!({})), 400, Some("user_ids"));
    refused(
        &post(&gw, "/customer/new", json!({"alias": "x"})),
        400,
        Some("user_id"),
    );
    refused(
        &post(&gw, "/customer/delete", json!({})),
        400,
        Some("user_ids"),
    );

    // What does not exist: 404, naming it (a key by its hash's start only).
    let ghost = "sk-this-key-was-never-issued";
    let short = &sha256(ghost)[..8];
    for (path, body, param) in [
        ("/key/update", json!({"key": ghost, "max_budget": 1}), "key"),
        ("/key/block", json!({"key": ghost}), "key"),
        ("/key/unblock", json!({"key": ghost}), "key"),
        ("/key/regenerate", json!({"key": ghost}), "key"),
        ("/key/delete", json!({"keys": [hash, ghost]}), "keys"),
    ] {
        let m = refused(&post(&gw, path, body), 404, Some(param));
        assert!(m.contains(short), "{path}: {m}");
        assert!(!m.contains(ghost), "{path}: never the secret: {m}");
    }
    refused(
        &post_raw(&gw, &format!("/key/{ghost}/regenerate"), Some(KEY), ""),
        404,
        Some("key"),
    );
    refused(
        &post(&gw, "/key/delete", json!({"key_aliases": ["k1", "nobody"]})),
        404,
        Some("key_aliases"),
    );
    refused(
        &get(&gw, &format!("/key/info?key={ghost}")),
        404,
        Some("key"),
    );
    for (path, body, param) in [
        (
            "/team/update",
            json!({"team_id": "t9", "rpm_limit": 1}),
            "team_id",
        ),
        ("/team/block", json!({"team_id": "t9"}), "team_id"),
        (
            "/team/delete",
            json!({"team_ids": ["t1", "t9"]}),
            "team_ids",
        ),
        (
            "/user/update",
            json!({"user_id": "u9", "rpm_limit": 1}),
            "user_id",
        ),
        (
            "/user/update",
            json!({"user_email": "u9@example.com"}),
            "user_email",
        ),
        (
            "/user/delete",
            json!({"user_ids": ["u1", "u9"]}),
            "user_ids",
        ),
        ("/customer/update", json!({"user_id": "c9"}), "user_id"),
        (
            "/customer/delete",
            json!({"user_ids": ["c1", "c9"]}),
            "user_ids",
        ),
    ] {
        let m = refused(&post(&gw, path, body), 404, Some(param));
        assert!(m.contains('9'), "{path}: {m}");
    }
    refused(&get(&gw, "/team/info?team_id=t9"), 404, Some("team_id"));
    refused(&get(&gw, "/user/info?user_id=u9"), 404, Some("user_id"));
    refused(
        &get(&gw, "/customer/info?end_user_id=c9"),
        404,
        Some("end_user_id"),
    );

    // Query strings: unknown names, bad numbers and dates, missing ids.
    for path in [
        "/key/list?colour=blue",
        "/key/info?colour=blue",
        "/team/info?colour=blue",
        "/team/list?colour=blue",
        "/user/info?colour=blue",
        "/user/list?colour=blue",
        "/customer/info?colour=blue",
        "/customer/list?colour=blue",
        "/spend/logs?colour=blue",
    ] {
        refused(&get(&gw, path), 400, Some("colour"));
    }
    refused(&get(&gw, "/key/list?size=0"), 400, Some("size"));
    refused(&get(&gw, "/key/list?size=101"), 400, Some("size"));
    refused(&get(&gw, "/key/list?page=-1"), 400, Some("page"));
    refused(
        &get(&gw, "/key/list?return_full_object=maybe"),
        400,
        Some("return_full_object"),
    );
    refused(
        &get(&gw, "/user/list?page_size=1000"),
        400,
        Some("page_size"),
    );
    refused(
        &get(&gw, "/spend/logs?start_date=yesterday"),
        400,
        Some("start_date"),
    );
    refused(
        &get(&gw, "/spend/logs?page_size=1001"),
        400,
        Some("page_size"),
    );
    refused(
        &get(&gw, "/spend/logs?summarize=true"),
        400,
        Some("summarize"),
    );
    refused(
        &get(&gw, "/usage?end_date=31/12/2026"),
        400,
        Some("end_date"),
    );
    refused(
        &get(&gw, "/usage?group_by=metadata.a%20b"),
        400,
        Some("group_by"),
    );
    refused(&get(&gw, "/key/info"), 400, Some("key"));
    refused(&get(&gw, "/team/info"), 400, Some("team_id"));
    refused(&get(&gw, "/user/info"), 400, Some("user_id"));
    refused(&get(&gw, "/customer/info"), 400, Some("end_user_id"));

    // Nothing was written by any of it.
    assert_eq!(snapshot(&gw), before);
    // And a body over the server's limit is a 413.
    let big = format!("{{\"key_alias\": \"{}\"}}", "x".repeat(2 << 20));
    assert_eq!(post_raw(&gw, "/key/generate", Some(KEY), &big).status, 413);
}

/// Every management route, with a body that would be valid.
fn every_endpoint() -> Vec<(&'static str, &'static str, Value)> {
    let mut all = vec![
        ("POST", "/key/generate", json!({})),
        ("GET", "/key/info?key=sk-x", Value::Null),
        ("POST", "/key/update", json!({"key": "sk-x"})),
        ("POST", "/key/delete", json!({"keys": ["sk-x"]})),
        ("GET", "/key/list", Value::Null),
        ("POST", "/key/block", json!({"key": "sk-x"})),
        ("POST", "/key/unblock", json!({"key": "sk-x"})),
        ("POST", "/key/regenerate", json!({"key": "sk-x"})),
        ("POST", "/key/sk-x/regenerate", json!({})),
        ("POST", "/team/new", json!({})),
        ("POST", "/team/update", json!({"team_id": "t"})),
        ("POST", "/team/delete", json!({"team_ids": ["t"]})),
        ("GET", "/team/info?team_id=t", Value::Null),
        ("GET", "/team/list", Value::Null),
        ("POST", "/team/block", json!({"team_id": "t"})),
        ("POST", "/team/unblock", json!({"team_id": "t"})),
        ("POST", "/user/new", json!({})),
        ("POST", "/user/update", json!({"user_id": "u"})),
        ("POST", "/user/delete", json!({"user_ids": ["u"]})),
        ("GET", "/user/info?user_id=u", Value::Null),
        ("GET", "/user/list", Value::Null),
        ("GET", "/spend/logs", Value::Null),
        ("GET", "/usage", Value::Null),
        ("GET", "/admin/plugins", Value::Null),
    ];
    for (method, path, body) in [
        ("POST", "/customer/new", json!({"user_id": "c"})),
        ("POST", "/customer/update", json!({"user_id": "c"})),
        ("POST", "/customer/delete", json!({"user_ids": ["c"]})),
        ("GET", "/customer/info?end_user_id=c", Value::Null),
        ("GET", "/customer/list", Value::Null),
        ("POST", "/end_user/new", json!({"user_id": "c"})),
        ("GET", "/end_user/info?end_user_id=c", Value::Null),
    ] {
        all.push((method, path, body));
    }
    all
}

fn call(gw: &Gateway, method: &str, path: &str, key: Option<&str>, body: &Value) -> Reply {
    match method {
        "POST" => gw.post(path, key, body),
        _ => gw.get(path, key),
    }
}

#[test]
fn without_a_master_key_every_management_endpoint_is_403_naming_the_setting() {
    let openai = MockProvider::start(Flavor::OpenAi);
    let gw = start(&openai, false);
    for (method, path, body) in every_endpoint() {
        for key in [None, Some("sk-anything")] {
            let r = call(&gw, method, path, key, &body);
            let m = refused(&r, 403, None);
            assert!(
                m.contains("general_settings.master_key"),
                "{method} {path}: {m}"
            );
            assert_eq!(r.json()["error"]["type"], "permission_error");
        }
    }
    // Chat stays open, as in LiteLLM.
    assert_eq!(chat(&gw, "anything").status, 200);
}

#[test]
fn only_the_master_key_and_proxy_admins_manage_a_key_reads_only_its_own_info() {
    let openai = MockProvider::start(Flavor::OpenAi);
    let gw = start(&openai, true);
    ok(post(&gw, "/team/new", json!({"team_id": "t1"})));
    let plain = ok(post(
        &gw,
        "/key/generate",
        json!({"key_alias": "plain", "team_id": "t1"}),
    ));
    let plain_key = plain["key"].as_str().unwrap().to_string();
    let other = ok(post(&gw, "/key/generate", json!({"key_alias": "other"})));
    let before = snapshot(&gw);

    for (method, path, body) in every_endpoint() {
        if path.starts_with("/usage") || path.starts_with("/key/info") {
            continue;
        }
        let r = call(&gw, method, path, Some(&plain_key), &body);
        let m = refused(&r, 403, None);
        assert!(
            m.contains("key plain may not use the management API"),
            "{method} {path}: {m}"
        );
        // No key, and a wrong key: 401.
        let r = call(&gw, method, path, None, &body);
        assert_eq!(r.status, 401, "{method} {path}: {}", r.body);
        let r = call(&gw, method, path, Some("sk-wrong"), &body);
        assert_eq!(r.status, 401, "{method} {path}: {}", r.body);
    }
    // Its own key info, by no key, its secret or its hash; not another's.
    let own = ok(gw.get("/key/info", Some(&plain_key)));
    assert_eq!(own["key"], plain["token"]);
    ok(gw.get(
        &format!("/key/info?key={}", plain["token"].as_str().unwrap()),
        Some(&plain_key),
    ));
    let m = refused(
        &gw.get(
            &format!("/key/info?key={}", other["token"].as_str().unwrap()),
            Some(&plain_key),
        ),
        403,
        None,
    );
    assert!(m.contains("own key info"), "{m}");
    assert_eq!(snapshot(&gw), before);

    // A proxy_admin user's key manages like the master key.
    let admin = ok(post(
        &gw,
        "/user/new",
        json!({"user_id": "boss", "user_role": "proxy_admin"}),
    ));
    let admin_key = admin["key"].as_str().unwrap();
    assert_eq!(gw.get("/team/list", Some(admin_key)).status, 200);
    let t = gw.post("/team/new", Some(admin_key), &json!({"team_id": "t2"}));
    assert_eq!(t.status, 200, "{}", t.body);
    assert_eq!(gw.get("/admin/plugins", Some(admin_key)).status, 200);
    // An internal user's key does not.
    let user = ok(post(
        &gw,
        "/user/new",
        json!({"user_id": "worker", "user_role": "internal_user"}),
    ));
    let r = gw.get("/team/list", Some(user["key"].as_str().unwrap()));
    refused(&r, 403, None);
}

#[test]
fn generated_keys_work_on_the_request_path_until_blocked_expired_deleted_or_regenerated() {
    let openai = MockProvider::start(Flavor::OpenAi);
    let gw = start(&openai, true);
    ok(post(&gw, "/team/new", json!({"team_id": "t1"})));
    let k = ok(post(
        &gw,
        "/key/generate",
        json!({"key_alias": "app", "team_id": "t1"}),
    ));
    let key = k["key"].as_str().unwrap().to_string();
    let r = chat(&gw, &key);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(openai.count(), 1);

    ok(post(&gw, "/key/block", json!({"key": key})));
    let r = chat(&gw, &key);
    let m = refused(&r, 401, None);
    assert_eq!(r.json()["error"]["code"], "key_blocked");
    assert!(m.contains("app"), "{m}");
    assert!(!m.contains(&key));
    ok(post(&gw, "/key/unblock", json!({"key": key})));
    assert_eq!(chat(&gw, &key).status, 200);

    ok(post(&gw, "/team/block", json!({"team_id": "t1"})));
    let r = chat(&gw, &key);
    refused(&r, 401, None);
    assert_eq!(r.json()["error"]["code"], "team_blocked");
    ok(post(&gw, "/team/unblock", json!({"team_id": "t1"})));
    assert_eq!(chat(&gw, &key).status, 200);

    // Regenerated: the old secret is refused at once, the new one works.
    let re = ok(post(&gw, "/key/regenerate", json!({"key": key})));
    let new_key = re["key"].as_str().unwrap().to_string();
    refused(&chat(&gw, &key), 401, None);
    assert_eq!(chat(&gw, &new_key).status, 200);

    // Deleted: refused.
    ok(post(&gw, "/key/delete", json!({"keys": [new_key]})));
    refused(&chat(&gw, &new_key), 401, None);

    // Expired: refused once its time passes.
    let short = ok(post(&gw, "/key/generate", json!({"duration": "2s"})));
    let short_key = short["key"].as_str().unwrap();
    assert_eq!(chat(&gw, short_key).status, 200);
    std::thread::sleep(Duration::from_millis(2600));
    let r = chat(&gw, short_key);
    refused(&r, 401, None);
    assert_eq!(r.json()["error"]["code"], "key_expired");
    // Updated to never expire: served again.
    ok(post(
        &gw,
        "/key/update",
        json!({"key": short_key, "duration": null, "models": ["all-proxy-models"]}),
    ));
    assert_eq!(chat(&gw, short_key).status, 200, "no longer expires");
    assert_eq!(openai.count(), 6);
}

/// Polls `/spend/logs` until `n` records of this key are there.
fn wait_for_logs(gw: &Gateway, api_key: &str, n: usize) -> Vec<Value> {
    let mut logs = Vec::new();
    eventually("spend records written", Duration::from_secs(10), || {
        logs = ok(get(gw, &format!("/spend/logs?api_key={api_key}")))
            .as_array()
            .unwrap()
            .clone();
        logs.len() >= n
    });
    logs
}

#[test]
fn spend_logs_and_usage_report_what_keys_spent_and_keys_read_only_their_own_team() {
    let openai = MockProvider::start(Flavor::OpenAi);
    let gw = start(&openai, true);
    ok(post(
        &gw,
        "/team/new",
        json!({"team_id": "t1", "max_budget": 1, "budget_duration": "30d"}),
    ));
    ok(post(&gw, "/team/new", json!({"team_id": "t2"})));
    let a = ok(post(
        &gw,
        "/key/generate",
        json!({"key_alias": "a", "team_id": "t1", "max_budget": 5}),
    ));
    let b = ok(post(
        &gw,
        "/key/generate",
        json!({"key_alias": "b", "team_id": "t2"}),
    ));
    let solo = ok(post(&gw, "/key/generate", json!({"key_alias": "solo"})));
    let (a_key, b_key, solo_key) = (
        a["key"].as_str().unwrap(),
        b["key"].as_str().unwrap(),
        solo["key"].as_str().unwrap(),
    );
    let body = |org: &str| {
        json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}],
               "metadata": {"organization_id": org}, "user": "cust-9"})
    };
    let first = gw.post("/v1/chat/completions", Some(a_key), &body("org_1"));
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(
        gw.post("/v1/chat/completions", Some(a_key), &body("org_1"))
            .status,
        200
    );
    assert_eq!(
        gw.post("/v1/chat/completions", Some(b_key), &body("org_2"))
            .status,
        200
    );
    assert_eq!(chat(&gw, solo_key).status, 200);

    let a_hash = a["token"].as_str().unwrap();
    let logs = wait_for_logs(&gw, a_key, 2);
    assert_eq!(logs.len(), 2, "{logs:?}");
    let l = &logs[0];
    assert!(l["request_id"].is_string(), "{l}");
    assert_eq!(l["api_key"], a_hash);
    assert_eq!(l["key_alias"], "a");
    assert_eq!(l["team_id"], "t1");
    assert_eq!(l["end_user"], "cust-9");
    assert_eq!(l["model_group"], "gpt-4o");
    assert_eq!(l["prompt_tokens"], PROMPT_TOKENS);
    assert_eq!(l["completion_tokens"], COMPLETION_TOKENS);
    assert_eq!(l["total_tokens"], PROMPT_TOKENS + COMPLETION_TOKENS);
    assert!(
        (l["spend"].as_f64().unwrap() - CALL_COST).abs() < 1e-9,
        "{l}"
    );
    assert_eq!(l["status"], "success");
    assert_eq!(l["http_status"], 200);
    assert_eq!(l["cache_hit"], "False");
    assert_eq!(l["metadata"]["organization_id"], "org_1");
    assert!(is_time(&l["startTime"]) && is_time(&l["endTime"]), "{l}");
    assert!(!logs.iter().any(|l| l.to_string().contains(a_key)));
    // The other filters.
    wait_for_logs(&gw, solo_key, 1);
    wait_for_logs(&gw, b_key, 1);
    let by_team = ok(get(&gw, "/spend/logs?team_id=t1"));
    assert_eq!(by_team.as_array().unwrap().len(), 2);
    let one = ok(get(
        &gw,
        &format!(
            "/spend/logs?request_id={}",
            l["request_id"].as_str().unwrap()
        ),
    ));
    assert_eq!(one.as_array().unwrap().len(), 1);
    assert_eq!(one[0]["request_id"], l["request_id"]);
    let page = ok(get(
        &gw,
        &format!("/spend/logs?api_key={a_hash}&page_size=1&page=2"),
    ));
    assert_eq!(page.as_array().unwrap().len(), 1);
    assert_eq!(
        ok(get(
            &gw,
            "/spend/logs?start_date=2001-01-01&end_date=2001-01-02"
        )),
        json!([])
    );

    // Usage, as the admin: everything, grouped and filtered.
    let u = ok(get(&gw, "/usage?group_by=key"));
    assert_eq!(u["summary"]["total_requests"], 4, "{u}");
    assert_eq!(
        u["summary"]["total_tokens"],
        4 * (PROMPT_TOKENS + COMPLETION_TOKENS)
    );
    assert!(
        (u["summary"]["total_cost"].as_f64().unwrap() - 4.0 * CALL_COST).abs() < 1e-9,
        "{u}"
    );
    assert_eq!(u["by_key"]["a"]["requests"], 2, "{u}");
    assert_eq!(
        u["by_key"]["a"]["tokens"],
        2 * (PROMPT_TOKENS + COMPLETION_TOKENS)
    );
    assert_eq!(u["by_key"]["solo"]["requests"], 1);
    let u = ok(get(&gw, "/usage?group_by=organization_id&team=t1"));
    assert_eq!(u["summary"]["total_requests"], 2, "{u}");
    assert_eq!(u["by_organization_id"]["org_1"]["requests"], 2, "{u}");
    let u = ok(get(&gw, "/usage?group_by=team&organization_id=org_2"));
    let t2 = &u["by_team"]["t2"];
    assert_eq!(u["by_team"].as_object().unwrap().len(), 1, "{u}");
    assert_eq!(t2["requests"], 1, "{u}");
    assert_eq!(t2["tokens"], PROMPT_TOKENS + COMPLETION_TOKENS);
    assert!(
        (t2["cost"].as_f64().unwrap() - CALL_COST).abs() < 1e-9,
        "{u}"
    );
    let u = ok(get(
        &gw,
        "/usage?group_by=model&start_date=2001-01-01&end_date=2001-01-02",
    ));
    assert_eq!(u["summary"]["total_requests"], 0);
    assert_eq!(u["by_model"], json!({}));

    // As a key: its team's usage only (or its own, without a team).
    let u = ok(gw.get("/usage?group_by=team", Some(a_key)));
    assert_eq!(u["summary"]["total_requests"], 2, "{u}");
    assert_eq!(
        u["by_team"].as_object().unwrap().keys().collect::<Vec<_>>(),
        vec!["t1"]
    );
    let u = ok(gw.get("/usage?group_by=key", Some(solo_key)));
    assert_eq!(u["summary"]["total_requests"], 1, "{u}");
    let m = refused(&gw.get("/usage?team=t2", Some(a_key)), 403, None);
    assert!(m.contains("t1"), "{m}");
    // Spend logs stay admin-only.
    refused(&gw.get("/spend/logs", Some(a_key)), 403, None);
    // The key's all-time spend reaches its info, and the budgets' current
    // windows are shown as the limits count them.
    eventually("key spend updated", Duration::from_secs(10), || {
        let s = ok(get(&gw, &format!("/key/info?key={a_hash}")))["info"]["spend"]
            .as_f64()
            .unwrap();
        (s - 2.0 * CALL_COST).abs() < 1e-9
    });
    let info = ok(get(&gw, &format!("/key/info?key={a_hash}")))["info"].clone();
    let window = info["budget_window_spend"].as_f64().unwrap();
    assert!((window - 2.0 * CALL_COST).abs() < 1e-9, "{info}");
    assert_eq!(
        info["budget_reset_at"],
        Value::Null,
        "a budget without a duration never resets"
    );
    let team = ok(get(&gw, "/team/info?team_id=t1"))["team_info"].clone();
    let window = team["budget_window_spend"].as_f64().unwrap();
    assert!((window - 2.0 * CALL_COST).abs() < 1e-9, "{team}");
    assert!(is_time(&team["budget_reset_at"]), "{team}");
    let solo_info = ok(get(&gw, &format!("/key/info?key={solo_key}")))["info"].clone();
    assert!(
        solo_info.get("budget_window_spend").is_none(),
        "no budget: {solo_info}"
    );
}

/// A PostgreSQL schema for one test, dropped when it ends.
struct Schema(String);

impl Schema {
    fn create() -> Schema {
        let name = format!(
            "manage_e2e_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        );
        psql(&format!("CREATE SCHEMA {name}"));
        Schema(name)
    }

    fn url(&self) -> String {
        format!(
            "postgresql://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{}",
            self.0
        )
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        psql(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.0));
    }
}

fn psql(sql: &str) {
    let out = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "test",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ])
        .output()
        .expect("psql is installed");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_same_api_works_on_postgresql() {
    let schema = Schema::create();
    let openai = MockProvider::start(Flavor::OpenAi);
    let gw = Gateway::start(&config(&openai, &schema.url(), true));
    ok(post(
        &gw,
        "/team/new",
        json!({"team_id": "t1", "max_budget": 5}),
    ));
    let k = ok(post(
        &gw,
        "/key/generate",
        json!({"key_alias": "pg", "team_id": "t1", "rpm_limit": 100}),
    ));
    let key = k["key"].as_str().unwrap().to_string();
    assert_eq!(chat(&gw, &key).status, 200);
    let info = ok(get(&gw, &format!("/key/info?key={key}")));
    assert_eq!(info["info"]["key_alias"], "pg");
    assert_eq!(info["info"]["rpm_limit"], 100);
    refused(
        &post(&gw, "/key/generate", json!({"key_alias": "pg"})),
        400,
        Some("key_alias"),
    );
    ok(post(
        &gw,
        "/key/update",
        json!({"key": key, "rpm_limit": 50}),
    ));
    assert_eq!(
        ok(get(&gw, "/key/list?team_id=t1"))["keys"],
        json!([k["token"]])
    );
    ok(post(
        &gw,
        "/user/new",
        json!({"user_id": "pg-user", "auto_create_key": false}),
    ));
    ok(post(&gw, "/customer/new", json!({"user_id": "pg-cust"})));
    assert_eq!(
        ok(get(&gw, "/user/info?user_id=pg-user"))["user_id"],
        "pg-user"
    );
    let logs = wait_for_logs(&gw, &key, 1);
    assert_eq!(logs[0]["key_alias"], "pg");
    let u = ok(get(&gw, "/usage?group_by=team"));
    assert_eq!(u["by_team"]["t1"]["requests"], 1, "{u}");
    let re = ok(post(&gw, "/key/regenerate", json!({"key": key})));
    refused(&chat(&gw, &key), 401, None);
    let new_key = re["key"].as_str().unwrap();
    assert_eq!(chat(&gw, new_key).status, 200);
    ok(post(&gw, "/team/delete", json!({"team_ids": ["t1"]})));
    refused(&chat(&gw, new_key), 401, None);
    // The rows are in this test's schema.
    let out = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "test",
            "-tA",
            "-c",
            &format!("SELECT count(*) FROM {}.keys", schema.0),
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "2",
        "both keys, soft-deleted"
    );
    drop(gw);
}

#[test]
fn a_change_made_on_one_replica_reaches_another_sharing_the_database() {
    let openai = MockProvider::start(Flavor::OpenAi);
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/shared.sqlite", dir.path().display());
    let a = Gateway::start(&config(&openai, &db, true));
    let b = Gateway::start(&config(&openai, &db, true));
    let made = ok(post(&a, "/key/generate", json!({"key_alias": "roaming"})));
    let key = made["key"].as_str().unwrap().to_string();
    // A serves it at once; B once its poll has read it.
    assert_eq!(chat(&a, &key).status, 200);
    eventually("B serves the new key", Duration::from_secs(5), || {
        chat(&b, &key).status == 200
    });
    // What B writes, A sees: a block, then a delete.
    ok(post(&b, "/key/block", json!({"key": key})));
    assert_eq!(chat(&b, &key).status, 401);
    eventually("A refuses the blocked key", Duration::from_secs(5), || {
        chat(&a, &key).status == 401
    });
    ok(post(&b, "/key/unblock", json!({"key": key})));
    eventually("A serves it again", Duration::from_secs(5), || {
        chat(&a, &key).status == 200
    });
    ok(post(&a, "/key/delete", json!({"keys": [key]})));
    eventually("B refuses the deleted key", Duration::from_secs(5), || {
        chat(&b, &key).status == 401
    });
    // Both read the same records.
    assert_eq!(ok(get(&a, "/key/list")), ok(get(&b, "/key/list")));
}
