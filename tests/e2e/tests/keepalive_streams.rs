//! Streams on a kept-alive client connection end as soon as the provider's
//! stream does: the gateway's accepted sockets send without Nagle's delay
//! (which met the client's delayed ACK and held every stream's last bytes
//! for 40 ms).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use switchyard_e2e::mock::{Flavor, MockProvider};
use switchyard_e2e::*;

/// Streams sent one after another on one connection.
const STREAMS: usize = 6;

#[test]
fn streams_on_one_kept_alive_connection_each_end_without_a_stall() {
    let mock = MockProvider::start(Flavor::OpenAi);
    let config = config_with_settings(
        &[model_entry(
            "gpt",
            "openai/gpt-4o",
            &format!("{}/v1", mock.url()),
            &["api_key: sk-mock"],
        )],
        ONE_CALL_EACH,
    );
    let gw = Gateway::start_with_plugins(&["openai"], &config);
    let body = serde_json::json!({
        "model": "gpt", "stream": true,
        "messages": [{"role": "user", "content": "hi"}],
    })
    .to_string();
    let url = gw.url("/v1/chat/completions");
    // curl sends every URL on the command line over one connection, and
    // prints each transfer's total time and how many connections it opened.
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "--max-time", "30"])
        .args(["-w", "%{http_code} %{num_connects} %{time_total}\n"])
        .args(["-H", "Content-Type: application/json"])
        .args(["-H", &format!("Authorization: Bearer {KEY}")])
        .args(["-d", &body]);
    for _ in 0..STREAMS {
        cmd.args(["-o", "/dev/null", &url]);
    }
    let out = cmd.output().expect("curl is installed");
    let text = String::from_utf8_lossy(&out.stdout);
    let transfers: Vec<(u16, u32, f64)> = text
        .lines()
        .map(|l| {
            let mut f = l.split_whitespace();
            (
                f.next().unwrap().parse().unwrap(),
                f.next().unwrap().parse().unwrap(),
                f.next().unwrap().parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(transfers.len(), STREAMS, "{text}");
    assert_eq!(mock.count(), STREAMS);
    for (i, (status, connects, _)) in transfers.iter().enumerate() {
        assert_eq!(*status, 200, "stream {i}: {text}");
        // One connection for all of them: only the first opens one.
        assert_eq!(*connects, u32::from(i == 0), "stream {i}: {text}");
    }
    // The stall held every stream after the first for 40 ms; the mock paces
    // its events about a millisecond apart (the usage chunk included), so a
    // stream ends in 15-20 ms. The stall's signature is every later stream
    // at 40 ms or more: at most one may get there (a loaded CI machine once
    // descheduled one to 39 ms), and the typical one is well clear of it.
    let mut later: Vec<f64> = transfers[1..].iter().map(|t| t.2).collect();
    let stalled = later.iter().filter(|s| **s >= 0.040).count();
    assert!(stalled <= 1, "{stalled} streams took 40 ms or more: {text}");
    later.sort_by(f64::total_cmp);
    assert!(later[later.len() / 2] < 0.030, "{text}");
}
