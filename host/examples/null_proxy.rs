//! The floor of the load benchmark: the gateway's HTTP stack (axum server,
//! the same pool of reqwest clients, the same tokio runtime) forwarding each
//! POST to the upstream unchanged (a stream as it arrives), with no
//! plugins, parsing or state.
//! `tests/load/run.sh` runs it beside the gateway, so what the gateway adds
//! can be told apart from what any proxy on this machine costs.
//!
//! `cargo run --release --example null_proxy -- --port P --upstream URL`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::serve::ListenerExt;
use switchyard::plugins::bindings::provider_api::{Framing, Header, HttpRequest};
use switchyard::upstream::Upstream;

#[derive(Clone)]
struct Proxy {
    upstream: Upstream,
    url: String,
}

async fn forward(State(p): State<Proxy>, body: Bytes) -> Response {
    let req = HttpRequest {
        method: "POST".into(),
        url: p.url.clone(),
        headers: vec![Header {
            name: "content-type".into(),
            value: "application/json".into(),
        }],
        body: body.to_vec(),
        framing: Framing::Sse,
    };
    let timeout = Duration::from_secs(30);
    let answer = match p.upstream.send(req, timeout).await {
        Ok(a) => a,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    // A stream goes through as it arrives, as the gateway sends one.
    let streamed = answer.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("content-type") && h.value.starts_with("text/event-stream")
    });
    if streamed {
        let mut resp = Response::new(axum::body::Body::from_stream(answer.stream()));
        *resp.status_mut() = status;
        resp.headers_mut().insert(
            "content-type",
            HeaderValue::from_static("text/event-stream"),
        );
        return resp;
    }
    match answer.into_response(timeout).await {
        Ok(r) => {
            let mut resp = Response::new(axum::body::Body::from(r.body));
            *resp.status_mut() = status;
            resp.headers_mut()
                .insert("content-type", HeaderValue::from_static("application/json"));
            resp
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .skip_while(|a| *a != name)
            .nth(1)
            .cloned()
            .unwrap_or_else(|| panic!("{name} is required"))
    };
    let port: u16 = arg("--port").parse().unwrap();
    let upstream = format!("{}/chat/completions", arg("--upstream"));
    // `--per-core`: a current-thread runtime per core, each with its own
    // SO_REUSEPORT listener and its own clients (no thread hand-offs).
    if args.iter().any(|a| a == "--per-core") {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads: Vec<_> = (0..cores)
            .map(|_| {
                let upstream = upstream.clone();
                std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    rt.block_on(serve(port, upstream, true));
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(serve(port, upstream, false));
}

async fn serve(port: u16, url: String, reuse_port: bool) {
    let proxy = Proxy {
        upstream: Upstream::new().unwrap(),
        url,
    };
    let app = axum::Router::new()
        .route("/v1/chat/completions", post(forward))
        .with_state(proxy);
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_reuseaddr(true).unwrap();
    if reuse_port {
        socket.set_reuseport(true).unwrap();
    }
    socket
        .bind(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
        .unwrap();
    // As the gateway's: no Nagle delay on a stream's last write.
    let listener = socket.listen(1024).unwrap().tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await.unwrap();
}
