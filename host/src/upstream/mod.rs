//! Calls to providers: pooled reqwest clients, per-call timeouts, streamed
//! bodies. The request itself comes from a provider adapter plugin.

use std::cell::{Cell, OnceCell};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;

use crate::plugins::bindings::provider_api::{Header, HttpRequest, HttpResponse};

/// Clients in the pool. HTTP/2 multiplexes every request to one host over
/// one connection per client, and servers cap streams per connection (often
/// 100); spreading requests over several clients keeps a burst of streams
/// from queueing behind that cap.
const CLIENTS: usize = 4;

/// URLs kept parsed. Adapters build the same few URLs over and over (one
/// per deployment and operation); parsing one (with its IDNA host check)
/// cost about 4 % of the gateway's CPU per request. Past this many the
/// cache starts again, so odd URLs (a query per request) cannot grow it.
const PARSED_URLS: usize = 1024;

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

thread_local! {
    /// Each thread's own clients, built on its first call. A pooled
    /// connection is driven by a task on the runtime that opened it: with
    /// clients per thread, a serving thread ([`crate::server::per_core`])
    /// reuses only connections its own runtime drives, and no request
    /// waits on another thread. `None` if they could not be built (the
    /// shared ones serve then). This assumes one runtime per thread for
    /// the thread's life, as the gateway's threads have: a thread that ran
    /// runtimes one after another would find pooled connections whose
    /// runtime is gone (hyper notices and opens new ones).
    static THREAD_CLIENTS: OnceCell<Option<Vec<reqwest::Client>>> = const { OnceCell::new() };
    static NEXT: Cell<usize> = const { Cell::new(0) };
}

fn build_clients() -> Result<Vec<reqwest::Client>, String> {
    (0..CLIENTS)
        .map(|_| {
            reqwest::Client::builder()
                .pool_idle_timeout(Duration::from_secs(90))
                .pool_max_idle_per_host(256)
                .tcp_nodelay(true)
                .connect_timeout(Duration::from_secs(10))
                .build()
                .map_err(|e| e.to_string())
        })
        .collect()
}

/// This thread's clients, or `None` (logged) if they cannot be built.
fn thread_clients() -> Option<Vec<reqwest::Client>> {
    build_clients()
        .inspect_err(|error| {
            tracing::warn!(%error, "cannot build this thread's HTTP clients; the shared ones serve it");
        })
        .ok()
}

/// Builds this thread's HTTP clients now (TLS set-up included), so its
/// first request does not pay for them. A serving thread calls it before
/// it accepts.
pub fn warm_thread_clients() {
    THREAD_CLIENTS.with(|own| {
        own.get_or_init(thread_clients);
    });
}

/// The HTTP clients and the parsed URLs.
#[derive(Clone)]
pub struct Upstream {
    /// Built at start (so a client that cannot be built fails the start),
    /// and used by a thread whose own could not be built.
    clients: Arc<Vec<reqwest::Client>>,
    urls: Arc<RwLock<HashMap<String, reqwest::Url>>>,
}

impl Upstream {
    pub fn new() -> Result<Upstream, String> {
        Ok(Upstream {
            clients: Arc::new(build_clients()?),
            urls: Arc::new(RwLock::new(HashMap::new())),
        })
    }

    /// The next of this thread's clients, in turn (a clone is a count).
    fn client(&self) -> reqwest::Client {
        let n = NEXT.with(|next| {
            let n = next.get();
            next.set(n.wrapping_add(1));
            n
        });
        THREAD_CLIENTS.with(|own| match own.get_or_init(thread_clients) {
            Some(own) => own[n % own.len()].clone(),
            None => self.clients[n % self.clients.len()].clone(),
        })
    }

    /// `url` parsed, from the cache when it was parsed before.
    fn url(&self, url: &str) -> Result<reqwest::Url, UpstreamError> {
        if let Some(parsed) = self
            .urls
            .read()
            .ok()
            .and_then(|urls| urls.get(url).cloned())
        {
            return Ok(parsed);
        }
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| UpstreamError::Invalid(format!("the URL does not parse: {e}")))?;
        if let Ok(mut urls) = self.urls.write() {
            if urls.len() >= PARSED_URLS {
                urls.clear();
            }
            urls.insert(url.to_string(), parsed.clone());
        }
        Ok(parsed)
    }

    /// Sends `req` and waits for the status and headers, within `timeout`.
    /// Takes the request: its body goes to the socket without a copy.
    pub async fn send(&self, req: HttpRequest, timeout: Duration) -> Result<Answer, UpstreamError> {
        let client = self.client();
        let method = reqwest::Method::from_bytes(req.method.as_bytes())
            .map_err(|e| UpstreamError::Invalid(e.to_string()))?;
        let url = self.url(&req.url)?;
        let mut builder = client.request(method, url).body(req.body);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn cached(upstream: &Upstream) -> usize {
        upstream.urls.read().map(|u| u.len()).unwrap_or(0)
    }

    #[test]
    fn a_url_is_parsed_once_and_then_served_from_the_cache() {
        let upstream = Upstream::new().unwrap();
        let url = "https://api.example.com/v1/chat/completions";
        let first = upstream.url(url).unwrap();
        assert_eq!(cached(&upstream), 1);
        let second = upstream.url(url).unwrap();
        assert_eq!(first, second);
        assert_eq!(second.as_str(), url);
        assert_eq!(cached(&upstream), 1);
    }

    #[test]
    fn a_url_that_does_not_parse_is_an_invalid_request_and_not_cached() {
        let upstream = Upstream::new().unwrap();
        let err = upstream.url("/chat/completions").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid request from the adapter: the URL does not parse: relative URL without a base"
        );
        assert_eq!(cached(&upstream), 0);
    }

    #[test]
    fn the_cache_never_holds_more_than_its_bound() {
        let upstream = Upstream::new().unwrap();
        for i in 0..(PARSED_URLS * 2 + 7) {
            upstream
                .url(&format!("http://127.0.0.1:8080/v1?request={i}"))
                .unwrap();
            assert!(cached(&upstream) <= PARSED_URLS);
        }
        assert_eq!(cached(&upstream), 7);
    }
}
