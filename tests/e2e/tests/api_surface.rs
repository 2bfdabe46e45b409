//! The gateway's OpenAI-compatible surface seen from a client: model
//! listing, auth, bad input, request ids.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use switchyard_e2e::mock::*;
use switchyard_e2e::*;

fn start(mock: &MockProvider, general: &str) -> Gateway {
    let config = format!(
        "model_list:\n{}{}router_settings:\n  model_group_alias: {{gpt4: gpt}}\ngeneral_settings:\n  master_key: {KEY}\n{general}",
        model_entry("gpt", "openai/gpt-4o-mini", &mock.url(), &[]),
        model_entry("embed", "openai/text-embedding-3-small", &mock.url(), &[]),
    );
    Gateway::start_with_plugins(&["openai"], &config)
}

fn hello() -> serde_json::Value {
    json!({"model": "gpt", "messages": [{"role": "user", "content": "Hello?"}]})
}

fn assert_openai_error(r: &Reply, status: u16) -> serde_json::Value {
    assert_eq!(r.status, status, "{}", r.body);
    let v = r.json();
    let e = &v["error"];
    assert!(e["message"].is_string(), "{v}");
    assert!(e["type"].is_string(), "{v}");
    assert!(e.get("param").is_some() && e.get("code").is_some(), "{v}");
    v
}

#[test]
fn models_lists_groups_and_aliases_and_finds_one() {
    let mock = MockProvider::start(Flavor::OpenAi);
    let gw = start(&mock, "");
    for path in ["/v1/models", "/models"] {
        let r = gw.get(path, Some(KEY));
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        assert_eq!(v["object"], "list");
        let mut ids: Vec<&str> = v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                assert_eq!(m["object"], "model");
                m["id"].as_str().unwrap()
            })
            .collect();
        ids.sort();
        assert_eq!(ids, ["embed", "gpt", "gpt4"]);
    }
    // An alias serves as its group.
    let r = gw.post(
        "/v1/chat/completions",
        Some(KEY),
        &json!({"model": "gpt4", "messages": [{"role": "user", "content": "hi"}]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("x-switchyard-model-group"), Some("gpt"));
    assert_eq!(mock.only_request().body["model"], "gpt-4o-mini");
    for path in ["/v1/models/gpt", "/models/embed", "/v1/models/gpt4"] {
        let r = gw.get(path, Some(KEY));
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        let id = path.rsplit('/').next().unwrap();
        assert_eq!(r.json()["id"], id);
        assert_eq!(r.json()["object"], "model");
    }
    let r = gw.get("/v1/models/nope", Some(KEY));
    let e = assert_openai_error(&r, 404);
    assert_eq!(e["error"]["code"], "model_not_found");
    assert!(e["error"]["message"].as_str().unwrap().contains("nope"));
    assert_eq!(mock.count(), 1, "listing models calls no provider");
}

#[test]
fn auth_needs_the_master_key_as_bearer_or_x_api_key() {
    let mock = MockProvider::start(Flavor::OpenAi);
    let gw = start(&mock, "");
    let url = gw.url("/v1/chat/completions");
    let body = hello().to_string();
    let send = |headers: &[&str]| {
        let mut h = vec!["Content-Type: application/json"];
        h.extend_from_slice(headers);
        http("POST", &url, &h, Some(body.as_bytes()))
    };

    let r = send(&[]);
    let e = assert_openai_error(&r, 401);
    assert_eq!(e["error"]["type"], "authentication_error");
    let r = send(&["Authorization: Bearer sk-wrong"]);
    let e = assert_openai_error(&r, 401);
    assert_eq!(e["error"]["type"], "authentication_error");
    let r = send(&["x-api-key: sk-wrong"]);
    assert_openai_error(&r, 401);
    let r = gw.get("/v1/models", None);
    assert_openai_error(&r, 401);
    let r = gw.get("/v1/models", Some("sk-wrong"));
    assert_openai_error(&r, 401);
    assert_eq!(
        mock.count(),
        0,
        "nothing reaches the provider without the key"
    );

    let bearer = format!("Authorization: Bearer {KEY}");
    let r = send(&[&bearer]);
    assert_eq!(r.status, 200, "{}", r.body);
    let x_api_key = format!("x-api-key: {KEY}");
    let r = send(&[&x_api_key]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(mock.count(), 2);
    // The provider gets its own key (none here), never the gateway's.
    for s in mock.requests() {
        assert!(!s.raw_body.contains(KEY));
        assert!(
            s.headers.iter().all(|(_, v)| !v.contains(KEY)),
            "{:?}",
            s.headers
        );
    }
}

#[test]
fn bad_input_gets_400_404_413_and_the_gateway_keeps_serving() {
    let mock = MockProvider::start(Flavor::OpenAi);
    let gw = start(&mock, "  max_request_size_mb: 0.01\n");
    let url = gw.url("/v1/chat/completions");
    let bearer = format!("Authorization: Bearer {KEY}");
    let send = |body: &[u8]| {
        http(
            "POST",
            &url,
            &["Content-Type: application/json", &bearer],
            Some(body),
        )
    };

    // Malformed JSON: the position is named.
    let r = send(b"{\n  \"model\": \"gpt\",\n  \"messages\": [oops]\n}");
    let e = assert_openai_error(&r, 400);
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(msg.contains("line 3") && msg.contains("column"), "{msg}");
    assert_eq!(e["error"]["type"], "invalid_request_error");

    // A missing or mistyped field is named.
    let r = send(br#"{"model": "gpt"}"#);
    let e = assert_openai_error(&r, 400);
    assert!(
        e["error"]["message"].as_str().unwrap().contains("messages"),
        "{e}"
    );
    let r = send(br#"{"model": "gpt", "messages": "hello"}"#);
    let e = assert_openai_error(&r, 400);
    assert_eq!(e["error"]["param"], "messages", "{e}");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("messages"),
        "{e}"
    );
    let r = send(br#"{"messages": [{"role": "user", "content": "hi"}]}"#);
    let e = assert_openai_error(&r, 400);
    assert!(
        e["error"]["message"].as_str().unwrap().contains("model"),
        "{e}"
    );
    let r = send(br#"{"model": "gpt", "messages": [{"content": "hi"}]}"#);
    let e = assert_openai_error(&r, 400);
    assert!(
        e["error"]["param"]
            .as_str()
            .unwrap()
            .starts_with("messages[0]"),
        "{e}"
    );
    let r = send(br#"[1, 2]"#);
    let e = assert_openai_error(&r, 400);
    assert!(
        e["error"]["message"].as_str().unwrap().contains("object"),
        "{e}"
    );
    let r = send(br#"{"model": "gpt", "messages": []}"#);
    let e = assert_openai_error(&r, 400);
    assert_eq!(e["error"]["param"], "messages", "{e}");

    // An unknown model is a 404 naming it.
    let r = send(br#"{"model": "gpt-9", "messages": [{"role": "user", "content": "hi"}]}"#);
    let e = assert_openai_error(&r, 404);
    assert_eq!(e["error"]["code"], "model_not_found");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("gpt-9"),
        "{e}"
    );

    // A body over general_settings.max_request_size_mb (0.01 MiB) is a 413.
    let mut big = hello();
    big["messages"][0]["content"] = json!("x".repeat(64 * 1024));
    let r = send(big.to_string().as_bytes());
    let e = assert_openai_error(&r, 413);
    assert!(
        e["error"]["message"].as_str().unwrap().contains("larger"),
        "{e}"
    );

    assert_eq!(mock.count(), 0, "bad input never reaches the provider");

    // Still serving.
    let r = send(hello().to_string().as_bytes());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["choices"][0]["message"]["content"],
        Flavor::OpenAi.answer_text()
    );
    assert_eq!(mock.count(), 1);
}

#[test]
fn bad_embeddings_input_is_named_too() {
    let mock = MockProvider::start(Flavor::OpenAi);
    let gw = start(&mock, "");
    let r = gw.post("/v1/embeddings", Some(KEY), &json!({"model": "embed"}));
    let e = assert_openai_error(&r, 400);
    assert!(
        e["error"]["message"].as_str().unwrap().contains("input"),
        "{e}"
    );
    let r = gw.post(
        "/v1/embeddings",
        Some(KEY),
        &json!({"model": "nope", "input": "x"}),
    );
    assert_openai_error(&r, 404);
    assert_eq!(mock.count(), 0);
}

#[test]
fn x_request_id_is_echoed_or_made() {
    let mock = MockProvider::start(Flavor::OpenAi);
    let gw = start(&mock, "");
    let bearer = format!("Authorization: Bearer {KEY}");
    let body = hello().to_string();
    let url = gw.url("/v1/chat/completions");

    let r = http(
        "POST",
        &url,
        &[
            "Content-Type: application/json",
            &bearer,
            "x-request-id: e2e-req-42",
        ],
        Some(body.as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("x-request-id"), Some("e2e-req-42"));

    // Errors carry it too.
    let r = http(
        "POST",
        &url,
        &["Content-Type: application/json", "x-request-id: e2e-req-43"],
        Some(body.as_bytes()),
    );
    assert_eq!(r.status, 401);
    assert_eq!(r.header("x-request-id"), Some("e2e-req-43"));

    // Without one, the gateway makes one, different each time.
    let a = http(
        "POST",
        &url,
        &["Content-Type: application/json", &bearer],
        Some(body.as_bytes()),
    );
    let b = http(
        "POST",
        &url,
        &["Content-Type: application/json", &bearer],
        Some(body.as_bytes()),
    );
    let (a, b) = (
        a.header("x-request-id").unwrap(),
        b.header("x-request-id").unwrap(),
    );
    assert!(!a.is_empty() && a != b, "{a} {b}");

    // Streams too.
    let mut stream = hello();
    stream["stream"] = json!(true);
    let r = http(
        "POST",
        &url,
        &[
            "Content-Type: application/json",
            &bearer,
            "x-request-id: e2e-req-44",
        ],
        Some(stream.to_string().as_bytes()),
    );
    assert_eq!(r.header("x-request-id"), Some("e2e-req-44"));
    stream_chunks(&r);
    assert_eq!(mock.count(), 4);
}

#[test]
fn model_groups_named_with_a_slash_are_listed_found_and_served() {
    // LiteLLM configs often name groups `provider/model`.
    let mock = MockProvider::start(Flavor::OpenAi);
    let gw = Gateway::start_with_plugins(
        &["openai"],
        &config_with(&[model_entry(
            "openai/gpt-4o",
            "openai/gpt-4o",
            &mock.url(),
            &[],
        )]),
    );
    let r = gw.get("/v1/models", Some(KEY));
    assert_eq!(r.json()["data"][0]["id"], "openai/gpt-4o", "{}", r.body);
    let r = gw.post(
        "/v1/chat/completions",
        Some(KEY),
        &json!({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("x-switchyard-model-group"), Some("openai/gpt-4o"));
    // Percent-encoded, as the openai Python package sends it.
    let r = gw.get("/v1/models/openai%2Fgpt-4o", Some(KEY));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["id"], "openai/gpt-4o");
    // As written, as curl users and other clients send it.
    let r = gw.get("/v1/models/openai/gpt-4o", Some(KEY));
    assert_eq!(r.status, 200, "GET /v1/models/openai/gpt-4o: {}", r.body);
    assert_eq!(r.json()["id"], "openai/gpt-4o");
    assert_eq!(mock.count(), 1);
}

#[test]
fn a_wrong_method_gets_an_openai_error() {
    let mock = MockProvider::start(Flavor::OpenAi);
    let gw = start(&mock, "");
    let r = gw.get("/v1/chat/completions", Some(KEY));
    assert_eq!(r.status, 405, "{}", r.body);
    assert_eq!(
        r.header("content-type"),
        Some("application/json"),
        "{:?}",
        r.headers
    );
    assert_openai_error(&r, 405);
    assert_eq!(mock.count(), 0);
}

#[test]
fn health_endpoints_answer() {
    let mock = MockProvider::start(Flavor::OpenAi);
    let gw = start(&mock, "");
    assert_eq!(gw.get("/health/liveliness", None).status, 200);
    let r = gw.get("/health/readiness", None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["status"], "healthy");
    let r = gw.get("/health", Some(KEY));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["healthy_count"], 2, "{}", r.body);
    assert_eq!(r.json()["unhealthy_count"], 0, "{}", r.body);
    assert_eq!(mock.count(), 0, "health calls no provider");
    let r = gw.get("/v1/nope", Some(KEY));
    assert_openai_error(&r, 404);
}

/// Every field the gateway keeps to itself, with values a client might
/// send (the reliability overrides valid, so the request is served).
fn own_fields() -> serde_json::Value {
    json!({
        "metadata": {"organization": "acme-internal-org", "customer_tier": "gold"},
        "tags": [],
        "fallbacks": [],
        "num_retries": 0,
        "disable_fallbacks": true,
        "cache": {"no-cache": true},
        "caching": false,
        "mock_response": "never sent",
        "context_window_fallback_dict": {"gpt": "big"},
        "user_api_key": "sk-hashed-key-acme",
        "user_api_key_alias": "acme-prod",
        "user_api_key_team_id": "team-acme-internal",
        "litellm_metadata": {"trace": "acme-internal-trace"},
        "litellm_trace_id": "trace-1",
        "langfuse_secret_key": "sk-lf-secret",
        "guardrails": ["pii"],
        "ttl": 60,
        "api_key": "sk-client-key"
    })
}

#[test]
fn gateway_only_fields_never_reach_a_provider() {
    let openai = MockProvider::start(Flavor::OpenAi);
    let openrouter = MockProvider::start(Flavor::OpenAi);
    let anthropic = MockProvider::start(Flavor::Anthropic);
    let gemini = MockProvider::start(Flavor::Gemini);
    let gw = Gateway::start_with_plugins(
        &["openai", "anthropic", "gemini"],
        &config_with(&[
            model_entry(
                "openai",
                "openai/gpt-4o-mini",
                &openai.url(),
                &["api_key: k"],
            ),
            model_entry(
                "embed",
                "openai/text-embedding-3-small",
                &openai.url(),
                &["api_key: k"],
            ),
            model_entry(
                "openrouter",
                "openrouter/meta-llama/llama-3.3-70b-instruct",
                &openrouter.url(),
                &["api_key: k"],
            ),
            model_entry(
                "anthropic",
                "anthropic/claude-sonnet-4-5",
                &anthropic.url(),
                &["api_key: k"],
            ),
            model_entry(
                "gemini",
                "gemini/gemini-2.0-flash",
                &gemini.url(),
                &["api_key: k"],
            ),
        ]),
    );
    let own = own_fields();
    let tool = json!({"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}});
    let request = |group: &str| {
        let mut body = json!({
            "model": group, "messages": [{"role": "user", "content": "Hello?"}],
            "temperature": 0.25, "tools": [tool], "response_format": {"type": "json_object"},
            "seed": 7, "user": "user-42"
        });
        for (k, v) in own.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    // What no provider may see, anywhere in the body. `made` names a field
    // the adapter writes itself (Anthropic's own `metadata`).
    let check = |mock: &MockProvider, made: &str| -> serde_json::Value {
        let sent = mock.only_request();
        for (field, value) in own.as_object().unwrap() {
            if field != made {
                assert!(sent.body.get(field).is_none(), "{field}: {}", sent.raw_body);
            }
            if let Some(text) = value.as_str() {
                assert!(!sent.raw_body.contains(text), "{field}: {}", sent.raw_body);
            }
        }
        for secret in ["acme-internal", "gold"] {
            assert!(
                !sent.raw_body.contains(secret),
                "{secret}: {}",
                sent.raw_body
            );
        }
        sent.body
    };
    for group in ["openai", "openrouter", "anthropic", "gemini"] {
        let r = gw.post("/v1/chat/completions", Some(KEY), &request(group));
        assert_eq!(r.status, 200, "{group}: {}", r.body);
    }

    // OpenAI and OpenRouter (the `openai` adapter): everything else as sent,
    // `user` included.
    for mock in [&openai, &openrouter] {
        let sent = check(mock, "");
        assert_eq!(sent["temperature"], 0.25);
        assert_eq!(sent["tools"], json!([tool]));
        assert_eq!(sent["response_format"], json!({"type": "json_object"}));
        assert_eq!(sent["seed"], 7);
        assert_eq!(sent["user"], "user-42");
    }
    // Anthropic: translated; `user` becomes `metadata.user_id`, the only
    // metadata it receives (none of the client's).
    let sent = check(&anthropic, "metadata");
    assert_eq!(sent["temperature"], 0.25);
    assert_eq!(sent["tools"][0]["name"], "get_weather");
    assert_eq!(sent["metadata"], json!({"user_id": "user-42"}));
    // Gemini: translated; no `user` field exists there.
    let sent = check(&gemini, "");
    let config = &sent["generationConfig"];
    assert_eq!(config["temperature"], 0.25);
    assert_eq!(config["seed"], 7);
    assert_eq!(config["responseMimeType"], "application/json");
    assert_eq!(
        sent["tools"][0]["functionDeclarations"][0]["name"],
        "get_weather"
    );
    assert!(!sent.to_string().contains("user-42"), "{sent}");

    // Embeddings too.
    let mut body = json!({"model": "embed", "input": "hi", "user": "user-42", "dimensions": 4});
    for (k, v) in own.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = gw.post("/v1/embeddings", Some(KEY), &body);
    assert_eq!(r.status, 200, "{}", r.body);
    let sent = openai.requests().pop().unwrap();
    assert_eq!(sent.path, "/v1/embeddings");
    for field in own.as_object().unwrap().keys() {
        assert!(sent.body.get(field).is_none(), "{field}: {}", sent.raw_body);
    }
    assert_eq!(sent.body["user"], "user-42");
    assert_eq!(sent.body["dimensions"], 4);
    assert_eq!(openai.count(), 2);
}
