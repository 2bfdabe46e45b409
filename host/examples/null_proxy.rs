//! The floor of the load benchmark: the gateway's HTTP stack (axum server,
//! the same reqwest clients, the same thread per core) forwarding each
//! POST to the upstream unchanged (a stream as it arrives), with no
//! plugins, parsing or state. `--shared-runtime` serves on one
//! multi-thread runtime instead, as the gateway did before.
//! `tests/load/run.sh` runs it beside the gateway, so what the gateway adds
//! can be told apart from what any proxy on this machine costs.
//!
//! `cargo run --release --example null_proxy -- --port P --upstream URL [--shared-runtime]`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::serve::ListenerExt;
use switchyard::plugins::bindings::provider_api::{Framing, Header, HttpRequest};
use switchyard::server::per_core;
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
    let shared_runtime = args.iter().any(|a| a == "--shared-runtime");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let proxy = Proxy {
            upstream: Upstream::new().unwrap(),
            url: upstream,
        };
        let app = axum::Router::new()
            .route("/v1/chat/completions", post(forward))
            .with_state(proxy);
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        if shared_runtime {
            // As the gateway served before it had a thread per core.
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .unwrap()
                .tap_io(|tcp| {
                    let _ = tcp.set_nodelay(true);
                });
            axum::serve(listener, app).await.unwrap();
            return;
        }
        // As the gateway serves: a thread per core (its own module).
        let listeners = per_core::bind(addr, per_core::default_threads()).unwrap();
        let (_stop, stopped) = tokio::sync::watch::channel(false);
        let mut serving = per_core::start(listeners, app, stopped).unwrap();
        panic!("{}", serving.stopped_early().await);
    });
}
