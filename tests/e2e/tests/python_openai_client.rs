//! The official `openai` Python package against the real gateway and mock
//! providers: chat, streaming, tools, embeddings, models and errors, as an
//! application would use them (tests/e2e/python/openai_client.py).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use serde_json::json;
use switchyard_e2e::mock::*;
use switchyard_e2e::*;

#[test]
fn the_official_openai_python_client_works_end_to_end() {
    let openai = MockProvider::start(Flavor::OpenAi);
    let anthropic = MockProvider::start(Flavor::Anthropic);
    anthropic.always(Behaviour::ToolCall);
    let gw = Gateway::start_with_plugins(
        &["openai", "anthropic"],
        &config_with(&[
            model_entry(
                "gpt",
                "openai/gpt-4o-mini",
                &openai.url(),
                &["api_key: sk-up"],
            ),
            model_entry(
                "claude",
                "anthropic/claude-sonnet-4-5",
                &anthropic.url(),
                &["api_key: sk-up"],
            ),
            model_entry(
                "embed",
                "openai/text-embedding-3-small",
                &openai.url(),
                &["api_key: sk-up"],
            ),
        ]),
    );
    let expect = json!({
        "text": Flavor::OpenAi.answer_text(),
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": COMPLETION_TOKENS,
        "tool_arguments": json(TOOL_ARGUMENTS),
        "embeddings": [embedding(0), embedding(1)],
    });
    let script = root().join("tests/e2e/python/openai_client.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(gw.url("/v1"))
        .arg(KEY)
        .arg(expect.to_string())
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env_remove("OPENAI_BASE_URL")
        .env_remove("OPENAI_API_KEY")
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the openai client script failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("all ok"), "{stdout}");
    eprintln!("{stdout}");

    // What the providers saw: 2 chats and 2 embeddings calls on OpenAI, 2
    // chats with tools on Anthropic; the failed calls reached nobody.
    let sent = openai.requests();
    let paths: Vec<&str> = sent.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/v1/chat/completions",
            "/v1/chat/completions",
            "/v1/embeddings",
            "/v1/embeddings"
        ]
    );
    assert_eq!(sent[1].body["stream"], true);
    assert_eq!(
        sent[3].body["encoding_format"], "base64",
        "the client's default"
    );
    let sent = anthropic.requests();
    assert_eq!(sent.len(), 2);
    assert!(
        sent.iter()
            .all(|r| r.body["tools"][0]["name"] == "get_weather")
    );
}
