//! Calls to providers: pooled reqwest clients, per-call timeouts, streamed
//! bodies. The request itself comes from a provider adapter plugin.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;

use crate::plugins::bindings::provider_api::{Header, HttpRequest, HttpResponse};

/// Clients in the pool. HTTP/2 multiplexes every request to one host over
/// one connection per client, and servers cap streams per connection (often
/// 100); spreading requests over several clients keeps a burst of streams
/// from queueing behind that cap.
const CLIENTS: usize = 4;

/// Why an upstream call failed before an answer arrived.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("timed out after {0:?} waiting for the provider")]
    Timeout(Duration),
    #[error("could not connect to the provider: {0}")]
    Connect(String),
    #[error("the provider's answer broke off: {0}")]
    Body(String),
    #[error("invalid request from the adapter: {0}")]
    Invalid(String),
}

/// A provider's answer whose body has not been read yet.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<Header>,
    response: reqwest::Response,
}

impl Answer {
    /// Reads the whole answer, within `timeout`, as the adapter's
    /// `http-response`.
    pub async fn into_response(self, timeout: Duration) -> Result<HttpResponse, UpstreamError> {
        let Answer {
            status,
            headers,
            response,
        } = self;
        let body = match tokio::time::timeout(timeout, response.bytes()).await {
            Ok(Ok(b)) => b,
            Ok(Err(e)) => return Err(UpstreamError::Body(e.to_string())),
            Err(_) => return Err(UpstreamError::Timeout(timeout)),
        };
        Ok(HttpResponse {
            status,
            headers,
            body: body.to_vec(),
        })
    }

    /// The body as a stream of chunks, as they arrive.
    pub fn stream(self) -> impl Stream<Item = Result<Bytes, reqwest::Error>> + Send + 'static {
        self.response.bytes_stream()
    }
}

/// The pool of HTTP clients.
#[derive(Clone)]
pub struct Upstream {
    clients: Arc<Vec<reqwest::Client>>,
    next: Arc<AtomicUsize>,
}

impl Upstream {
    pub fn new() -> Result<Upstream, String> {
        let clients = (0..CLIENTS)
            .map(|_| {
                reqwest::Client::builder()
                    .pool_idle_timeout(Duration::from_secs(90))
                    .pool_max_idle_per_host(256)
                    .tcp_nodelay(true)
                    .connect_timeout(Duration::from_secs(10))
                    .build()
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Upstream {
            clients: Arc::new(clients),
            next: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Sends `req` and waits for the status and headers, within `timeout`.
    pub async fn send(
        &self,
        req: &HttpRequest,
        timeout: Duration,
    ) -> Result<Answer, UpstreamError> {
        let client = &self.clients[self.next.fetch_add(1, Ordering::Relaxed) % self.clients.len()];
        let method = reqwest::Method::from_bytes(req.method.as_bytes())
            .map_err(|e| UpstreamError::Invalid(e.to_string()))?;
        let mut builder = client.request(method, &req.url).body(req.body.clone());
        for h in &req.headers {
            builder = builder.header(&h.name, &h.value);
        }
        let request = builder
            .build()
            .map_err(|e| UpstreamError::Invalid(e.to_string()))?;
        let response = match tokio::time::timeout(timeout, client.execute(request)).await {
            Err(_) => return Err(UpstreamError::Timeout(timeout)),
            Ok(Err(e)) if e.is_timeout() => return Err(UpstreamError::Timeout(timeout)),
            Ok(Err(e)) => return Err(UpstreamError::Connect(error_chain(&e))),
            Ok(Ok(r)) => r,
        };
        let headers = response
            .headers()
            .iter()
            .filter_map(|(k, v)| {
                v.to_str().ok().map(|v| Header {
                    name: k.as_str().to_string(),
                    value: v.to_string(),
                })
            })
            .collect();
        Ok(Answer {
            status: response.status().as_u16(),
            headers,
            response,
        })
    }
}

/// An error and its causes on one line (reqwest hides the useful part in
/// the source chain).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
