//! Sanitiser plugins on the request path, seen from the provider's side:
//! what the mock receives after `pii-redactor` has run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Value, json};
use switchyard_e2e::mock::*;
use switchyard_e2e::*;

fn start(mock: &MockProvider) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    let section = plugins_section(&dir.path().join("plugins"), &["openai", "pii-redactor"]);
    Gateway::start_in(
        dir,
        &format!(
            "{}{section}  sanitizers: [pii-redactor]\n",
            config_with(&[model_entry("gpt", "openai/gpt-4o-mini", &mock.url(), &[])])
        ),
    )
}

fn conversation(user_text: &str) -> Value {
    json!([
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": TOOL_ARGUMENTS}}
        ]},
        {"role": "tool", "tool_call_id": "call_1", "content": "clear sky"},
        {"role": "user", "content": [
            {"type": "text", "text": user_text},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "high"}}
        ]}
    ])
}

#[test]
fn pii_is_redacted_before_the_provider_sees_it_and_the_rest_is_kept() {
    let mock = MockProvider::start(Flavor::OpenAi);
    let gw = start(&mock);
    let r = gw.post(
        "/v1/chat/completions",
        Some(KEY),
        &json!({"model": "gpt", "messages": conversation("Mail the report to ana.souza@example.com please")}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["choices"][0]["message"]["content"],
        Flavor::OpenAi.answer_text()
    );

    let sent = mock.only_request();
    assert!(
        !sent.raw_body.contains("ana.souza@example.com"),
        "{}",
        sent.raw_body
    );
    let messages = &sent.body["messages"];
    assert_eq!(
        messages[4]["content"][0]["text"],
        "Mail the report to [EMAIL] please"
    );
    // Everything else arrives as the client sent it.
    let mut expected = conversation("Mail the report to [EMAIL] please");
    for m in expected.as_array_mut().unwrap() {
        if m["content"].is_null() {
            m.as_object_mut().unwrap().remove("content");
        }
    }
    let mut got = messages.clone();
    for m in got.as_array_mut().unwrap() {
        if m["content"].is_null() {
            m.as_object_mut().unwrap().remove("content");
        }
    }
    assert_eq!(
        got, expected,
        "tool calls, tool results and image parts survive a rewrite"
    );
}

#[test]
fn a_clean_request_passes_the_sanitiser_unchanged() {
    let mock = MockProvider::start(Flavor::OpenAi);
    let gw = start(&mock);
    let messages = conversation("Nothing personal here");
    let r = gw.post(
        "/v1/chat/completions",
        Some(KEY),
        &json!({"model": "gpt", "messages": messages}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(mock.only_request().body["messages"], messages);
}

/// A sanitiser dropped into the plugins directory but left out of
/// `plugins.sanitizers` loads and shows `active`, yet checks nothing: the
/// gateway says so once at start, naming the line that would use it. An
/// adapter a deployment uses is not reported.
#[test]
fn a_loaded_sanitiser_no_role_uses_is_warned_about_once_at_start() {
    let mock = MockProvider::start(Flavor::OpenAi);
    let dir = tempfile::tempdir().unwrap();
    let section = plugins_section(&dir.path().join("plugins"), &["openai", "pii-redactor"]);
    let gw = Gateway::start_in(
        dir,
        &format!(
            "{}{section}",
            config_with(&[model_entry("gpt", "openai/gpt-4o-mini", &mock.url(), &[])])
        ),
    );
    let log = gw.log();
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("no role in the config uses it"))
        .collect();
    assert_eq!(warnings.len(), 1, "{log}");
    assert!(warnings[0].contains("pii-redactor"), "{}", warnings[0]);
    assert!(
        warnings[0].contains("plugins.sanitizers: [pii-redactor]"),
        "{}",
        warnings[0]
    );
    // And it does nothing: the provider sees the e-mail address as sent.
    let reply = gw.post(
        "/v1/chat/completions",
        Some(KEY),
        &json!({"model": "gpt", "messages": [{"role": "user", "content": "mail me at ana@example.com"}]}),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let seen = mock.requests();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].body.to_string().contains("ana@example.com"));
}
