//! A fast OpenAI-compatible mock upstream for the load benchmark
//! (`tests/load/run.sh`). Prints its base URL, then serves until stdin
//! closes or `--seconds` pass (default 900), whichever comes first.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Read;
use std::time::Duration;

use switchyard_e2e::mock::{Flavor, MockProvider};

fn main() {
    let seconds: u64 = std::env::args()
        .skip_while(|a| a != "--seconds")
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(900);
    let mock = MockProvider::start(Flavor::OpenAi);
    mock.keep_no_records();
    mock.stream_at_once();
    #[expect(
        clippy::print_stdout,
        reason = "the load harness reads the URL from stdout"
    )]
    {
        println!("{}", mock.url());
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
        let _ = tx.send(());
    });
    let _ = rx.recv_timeout(Duration::from_secs(seconds));
}
