//! The cache through the official `openai` Python package
//! (tests/e2e/python/cache_client.py): headers through
//! `with_raw_response`, a control through `extra_body`, a streamed hit
//! parsed by the client.

use std::process::Command;

use switchyard_e2e::mock::*;
use switchyard_e2e::*;

use crate::*;

#[test]
fn the_openai_python_client_reads_hits_and_sends_controls_in_extra_body() {
    let openai = MockProvider::start(Flavor::OpenAi);
    let gw = Gateway::start(&cached(&gpt_and_embed(&openai), &[]));
    let script = root().join("tests/e2e/python/cache_client.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(gw.url(""))
        .arg(KEY)
        .arg(Flavor::OpenAi.answer_text())
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env_remove("OPENAI_BASE_URL")
        .env_remove("OPENAI_API_KEY")
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the cache client script failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("all ok"), "{stdout}");
    // The miss and the no-cache call; the hits and the refused call made
    // none. The mock checks, when dropped, that `cache` never reached it.
    let sent = openai.requests();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent.iter().all(|r| r.body.get("cache").is_none()));
}
