//! Signed webhooks, end to end: receivers in the test verify every
//! signature as users' receivers do (HMAC-SHA256 over the raw body,
//! compared in constant time), see each event kind of a scripted scenario
//! exactly as often as it happened, retry on a 500 and not on a 400; a
//! dead receiver and a slow one add nothing to a request's time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use hmac::{Hmac, Mac};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use sha2::Sha256;
use switchyard_e2e::mock::*;
use switchyard_e2e::*;

/// One POST a receiver got.
#[derive(Debug, Clone)]
struct Delivery {
    /// Names in lower case.
    headers: BTreeMap<String, String>,
    /// The raw bytes, as signed.
    body: Vec<u8>,
}

impl Delivery {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    fn event(&self) -> String {
        self.json()["event_type"].as_str().unwrap().to_string()
    }

    /// Checks `X-Signature-256` the way a user's receiver does: the
    /// HMAC-SHA256 of the raw body with the shared secret, compared in
    /// constant time (`verify_slice`, like Python's `hmac.compare_digest`).
    fn verify(&self, secret: &str) {
        let given = self.header("x-signature-256");
        let hex = given
            .strip_prefix("sha256=")
            .unwrap_or_else(|| panic!("not sha256=<hex>: {given}"));
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(&self.body);
        mac.verify_slice(&hex::decode(hex).unwrap())
            .unwrap_or_else(|_| panic!("signature {given} does not verify with the secret"));
    }
}

#[derive(Default)]
struct Shared {
    got: Mutex<Vec<Delivery>>,
    /// Statuses for the next deliveries; 200 once empty.
    script: Mutex<VecDeque<u16>>,
}

/// A webhook receiver on 127.0.0.1, on a thread of its own; stops when
/// dropped.
struct Receiver {
    port: u16,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Receiver {
    /// Answers each delivery after `delay` with the next scripted status.
    fn start(delay: Duration, script: &[u16]) -> Receiver {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared::default());
        shared.script.lock().unwrap().extend(script);
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let state = shared.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let (tcp, _) = tokio::select! {
                        _ = &mut stopped => return,
                        accepted = listener.accept() => match accepted {
                            Ok(a) => a,
                            Err(_) => continue,
                        },
                    };
                    let state = state.clone();
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |req| {
                            receive(state.clone(), delay, req)
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(tcp), service)
                            .await;
                    });
                }
            });
        });
        Receiver {
            port,
            shared,
            stop: Some(stop),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks/switchyard", self.port)
    }

    fn got(&self) -> Vec<Delivery> {
        self.shared.got.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn receive(
    shared: Arc<Shared>,
    delay: Duration,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(Body::new(body), 1 << 20)
        .await
        .unwrap_or_default();
    let headers = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    shared.got.lock().unwrap().push(Delivery {
        headers,
        body: body.to_vec(),
    });
    let status = shared.script.lock().unwrap().pop_front().unwrap_or(200);
    tokio::time::sleep(delay).await;
    Ok(Response::builder()
        .status(status)
        .body(Body::from("ok"))
        .unwrap())
}

/// A port nothing listens on.
fn dead_url() -> String {
    format!("http://127.0.0.1:{}/hook", free_port())
}

/// `GET /admin/webhooks`, each hook by name.
fn hook_stats(gw: &Gateway) -> BTreeMap<String, Value> {
    let r = gw.get("/admin/webhooks", Some(KEY));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["name"].as_str().unwrap().to_string(), h.clone()))
        .collect()
}

/// Waits until no hook has an event queued or in flight.
fn settled(gw: &Gateway) -> BTreeMap<String, Value> {
    let mut last = BTreeMap::new();
    eventually(
        "every webhook event is delivered or given up on",
        Duration::from_secs(30),
        || {
            last = hook_stats(gw);
            last.values().all(|h| h["pending"] == 0)
        },
    );
    last
}

fn counts(h: &Value) -> [u64; 4] {
    ["delivered", "failed", "retried", "dropped"].map(|k| h[k].as_u64().unwrap())
}

fn priced(mock: &MockProvider, group: &str) -> String {
    let mut e = model_entry(
        group,
        "openai/gpt-4o-mini",
        &mock.url(),
        &["api_key: sk-up"],
    );
    e.push_str(
        "    model_info:\n      input_cost_per_token: 0.001\n      output_cost_per_token: 0.001\n",
    );
    e
}

fn chat(model: &str, prompt: &str) -> Value {
    json!({"model": model, "max_tokens": 5, "messages": [{"role": "user", "content": prompt}]})
}

fn new_key(gw: &Gateway, body: Value) -> String {
    let r = gw.post("/key/generate", Some(KEY), &body);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["key"].as_str().unwrap().to_string()
}

const SECRET: &str = "whsec-e2e-everything";
const ENDS_SECRET: &str = "whsec-e2e-ends";

#[test]
fn every_event_kind_arrives_signed_once_per_occurrence() {
    let plain = MockProvider::start(Flavor::OpenAi);
    let limited = MockProvider::start(Flavor::OpenAi);
    // The one deployment of `c` is rate limited once: it cools down and
    // the call falls back to `plain`.
    limited.push(Behaviour::Status(429, String::new(), None));
    let everything = Receiver::start(Duration::ZERO, &[]);
    let ends = Receiver::start(Duration::ZERO, &[]);
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugins_section(&dir.path().join("plugins"), &["misbehave"]);
    let config = format!(
        "{models}router_settings:\n  num_retries: 0\n  cooldown_time: 60\n  fallbacks: [{{c: [plain]}}]\n\
         environment_variables:\n  WEBHOOK_SECRET: {SECRET}\n  HOOK_TOKEN: tok-123\n  HOOK_TEAM: ops\n\
         webhooks:\n  everything:\n    url: {everything}\n    headers:\n      Authorization: Bearer ${{HOOK_TOKEN}}\n    retries: 3\n\
         \x20 ends:\n    url: {ends}\n    events: [request_end]\n    secret: {ENDS_SECRET}\n    headers: {{X-Team: os.environ/HOOK_TEAM}}\n\
         \x20 unlisted:\n    url: ${{SURELY_UNSET_HOOK_URL}}\n\
         litellm_settings:\n  success_callback: [everything]\n  failure_callback: [ends]\n\
         {plugins}  router: misbehave\n  settings:\n    misbehave: {{on_error: fail_open, config: {{mode: noisy}}}}\n",
        models = config_with(&[
            priced(&plain, "plain"),
            model_entry("c", "openai/gpt-c", &limited.url(), &["api_key: sk-up"]),
        ]),
        everything = everything.url(),
        ends = ends.url(),
    );
    let gw = Gateway::start_in(dir, &config);
    let log = gw.log();
    for warning in [
        "webhooks.everything.retries is not used by Switchyard and is ignored",
        "webhooks.unlisted is off: no litellm_settings callback",
    ] {
        assert_eq!(
            log.matches(warning).count(),
            1,
            "{warning:?} once in:\n{log}"
        );
    }

    // 1. A plain answer.
    let r = gw.post("/v1/chat/completions", Some(KEY), &chat("plain", "hi"));
    assert_eq!(r.status, 200, "{}", r.body);
    let plain_id = r.header("x-switchyard-call-id").unwrap().to_string();
    // 2. A cooldown and a fallback.
    let r = gw.post("/v1/chat/completions", Some(KEY), &chat("c", "hi"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("x-switchyard-fallbacks"), Some("1"));
    // 3. A key with an rpm of 1: refused at its second call (or its third,
    // when the minute turned over in between).
    let k = new_key(&gw, json!({"key_alias": "tiny-rpm", "rpm_limit": 1}));
    let mut rpm_calls = 0;
    loop {
        rpm_calls += 1;
        let r = gw.post("/v1/chat/completions", Some(&k), &chat("plain", "hi"));
        if r.status == 429 {
            break;
        }
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(rpm_calls < 3, "rpm 1 let {rpm_calls} calls through");
    }
    // 4. A $0.02 budget: two calls of $0.016, the third refused.
    let k = new_key(&gw, json!({"key_alias": "tiny-budget", "max_budget": 0.02}));
    let statuses: Vec<u16> = (0..3)
        .map(|_| {
            gw.post("/v1/chat/completions", Some(&k), &chat("plain", "hi"))
                .status
        })
        .collect();
    assert_eq!(statuses, [200, 200, 429]);
    // 5. The router traps (fail open: the call is still answered).
    let r = gw.post("/v1/chat/completions", Some(KEY), &chat("plain", "panic"));
    assert_eq!(r.status, 200, "{}", r.body);

    let requests = 1 + 1 + rpm_calls + 3 + 1;
    let expected: BTreeMap<&str, usize> = [
        ("request_start", requests),
        ("request_end", requests - 2),
        ("request_error", 2),
        ("model_fallback", 1),
        ("deployment_cooldown", 1),
        ("rate_limit_hit", 1),
        ("budget_exceeded", 1),
        ("plugin_failed", 1),
    ]
    .into();
    let total: usize = expected.values().sum();
    let stats = settled(&gw);
    assert_eq!(counts(&stats["everything"]), [total as u64, 0, 0, 0]);
    assert_eq!(counts(&stats["ends"]), [(requests - 2) as u64, 0, 0, 0]);
    assert!(!stats.contains_key("unlisted"), "{stats:?}");

    let got = everything.got();
    assert_eq!(got.len(), total);
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut ids = BTreeSet::new();
    for d in &got {
        d.verify(SECRET);
        let v = d.json();
        let event = d.event();
        assert_eq!(d.header("x-switchyard-event"), event);
        assert_eq!(d.header("content-type"), "application/json");
        assert_eq!(d.header("authorization"), "Bearer tok-123");
        assert!(
            ids.insert(d.header("x-switchyard-delivery").to_string()),
            "a repeated delivery id"
        );
        let ts = v["timestamp"].as_str().unwrap();
        assert!(
            ts.len() >= 20 && &ts[4..5] == "-" && &ts[10..11] == "T" && ts.ends_with('Z'),
            "not RFC 3339 UTC: {ts}"
        );
        *seen.entry(event).or_default() += 1;
    }
    let seen: BTreeMap<&str, usize> = seen.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(seen, expected);

    let data = |event: &str| -> Vec<Value> {
        got.iter()
            .filter(|d| d.event() == event)
            .map(|d| d.json()["data"].clone())
            .collect()
    };
    // The first answer, as its client saw it.
    let end = data("request_end")
        .into_iter()
        .find(|d| d["request_id"] == plain_id.as_str())
        .unwrap_or_else(|| panic!("no request_end for {plain_id}"));
    assert_eq!(end["model"], "plain");
    assert_eq!(
        end["usage"],
        json!({"prompt_tokens": PROMPT_TOKENS, "completion_tokens": COMPLETION_TOKENS, "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS})
    );
    assert!(
        (end["cost"].as_f64().unwrap() - 0.016).abs() < 1e-9,
        "{end}"
    );
    assert!(end["response_time_ms"].as_f64().unwrap() > 0.0, "{end}");
    let [fell] = data("model_fallback").try_into().unwrap();
    assert_eq!(
        (&fell["original_model"], &fell["fallback_model"]),
        (&json!("c"), &json!("plain"))
    );
    assert_eq!(fell["reason"], "rate_limit");
    let [cooled] = data("deployment_cooldown").try_into().unwrap();
    assert_eq!(cooled["model"], "c");
    assert_eq!(cooled["error_code"], "rate_limit");
    let [rpm] = data("rate_limit_hit").try_into().unwrap();
    assert_eq!(
        (
            &rpm["limit_type"],
            &rpm["limit"],
            &rpm["reason"],
            &rpm["model"]
        ),
        (
            &json!("rpm"),
            &json!(1.0),
            &json!("key tiny-rpm"),
            &json!("plain")
        )
    );
    assert!(rpm["current_usage"].as_f64().unwrap() >= 1.0, "{rpm}");
    let [budget] = data("budget_exceeded").try_into().unwrap();
    assert_eq!(
        (&budget["limit_type"], &budget["limit"]),
        (&json!("budget"), &json!(0.02))
    );
    assert_eq!(budget["reason"], "key tiny-budget");
    for e in data("request_error") {
        assert_eq!(e["status_code"], 429, "{e}");
        assert!(e["error"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
        assert!(e["error_code"].is_string(), "{e}");
    }
    let [plugin] = data("plugin_failed").try_into().unwrap();
    assert_eq!(
        (&plugin["plugin"], &plugin["error_code"]),
        (&json!("misbehave"), &json!("trap"))
    );
    // Every start has its end or error, by request id.
    let started: BTreeSet<String> = data("request_start")
        .iter()
        .map(|d| d["request_id"].as_str().unwrap().to_string())
        .collect();
    let ended: BTreeSet<String> = data("request_end")
        .iter()
        .chain(data("request_error").iter())
        .map(|d| d["request_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(started.len(), requests);
    assert_eq!(started, ended);

    // The second hook: only the ends, with its own secret and header.
    let got = ends.got();
    assert_eq!(got.len(), requests - 2);
    for d in &got {
        d.verify(ENDS_SECRET);
        assert_eq!(d.event(), "request_end");
        assert_eq!(d.header("x-team"), "ops");
        assert!(!d.headers.contains_key("authorization"));
    }
}

#[test]
fn a_500_is_retried_until_delivered_once_and_a_400_is_not_retried() {
    let mock = MockProvider::start(Flavor::OpenAi);
    let flaky = Receiver::start(Duration::ZERO, &[500]);
    let picky = Receiver::start(Duration::ZERO, &[400]);
    let gw = Gateway::start(&format!(
        "{}{ONE_CALL_EACH}webhooks:\n  flaky: {{url: '{}', events: [request_end], secret: s1}}\n  picky: {{url: '{}', events: [request_end], secret: s2}}\nlitellm_settings:\n  callbacks: [flaky, picky]\n",
        config_with(&[model_entry("gpt", "openai/gpt-4o-mini", &mock.url(), &[])]),
        flaky.url(),
        picky.url(),
    ));
    let r = gw.post("/v1/chat/completions", Some(KEY), &chat("gpt", "hi"));
    assert_eq!(r.status, 200, "{}", r.body);
    let stats = settled(&gw);
    assert_eq!(counts(&stats["flaky"]), [1, 0, 1, 0]);
    assert_eq!(counts(&stats["picky"]), [0, 1, 0, 0]);

    let got = flaky.got();
    assert_eq!(got.len(), 2, "a 500, then the delivery");
    for d in &got {
        d.verify("s1");
    }
    assert_eq!(got[0].body, got[1].body, "the same bytes again");
    assert_eq!(
        got[0].header("x-switchyard-delivery"),
        got[1].header("x-switchyard-delivery"),
        "one delivery id, so the receiver can tell a repeat"
    );
    let got = picky.got();
    assert_eq!(got.len(), 1, "a 400 is not retried");
    got[0].verify("s2");
}

#[test]
fn the_admin_route_lists_hooks_and_counts_without_secrets() {
    let mock = MockProvider::start(Flavor::OpenAi);
    let hook = Receiver::start(Duration::ZERO, &[]);
    let gw = Gateway::start(&format!(
        "{}webhooks:\n  audit:\n    url: '{}?token=url-token-x'\n    secret: whsec-admin-x\n    headers: {{Authorization: Bearer header-token-x}}\n    events: [request_start, request_end]\nlitellm_settings:\n  success_callback: audit\n",
        config_with(&[model_entry("gpt", "openai/gpt-4o-mini", &mock.url(), &[])]),
        hook.url(),
    ));
    assert_eq!(gw.get("/admin/webhooks", None).status, 401);
    let k = new_key(&gw, json!({"key_alias": "not-admin"}));
    assert_eq!(gw.get("/admin/webhooks", Some(&k)).status, 403);
    let r = gw.post("/v1/chat/completions", Some(KEY), &chat("gpt", "hi"));
    assert_eq!(r.status, 200, "{}", r.body);
    settled(&gw);
    let r = gw.get("/admin/webhooks", Some(KEY));
    for secret in ["whsec-admin-x", "header-token-x", "url-token-x"] {
        assert!(!r.body.contains(secret), "{secret} in {}", r.body);
    }
    assert_eq!(
        r.json(),
        json!({"webhooks": [{
            "name": "audit",
            "url": format!("{}?…", hook.url()),
            "events": ["request_start", "request_end"],
            "headers": ["authorization"],
            "delivered": 2, "failed": 0, "dropped": 0, "retried": 0, "pending": 0,
            "queue_capacity": 1024,
        }]})
    );
    assert_eq!(hook.got().len(), 2);
}

/// Median of `xs`.
fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Wall time and the gateway's own overhead of each of `n` calls.
fn timed_calls(gw: &Gateway, n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut wall = Vec::new();
    let mut overhead = Vec::new();
    for _ in 0..n {
        let began = Instant::now();
        let r = gw.post("/v1/chat/completions", Some(KEY), &chat("gpt", "hi"));
        wall.push(began.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(r.status, 200, "{}", r.body);
        overhead.push(
            r.header("x-switchyard-overhead-ms")
                .unwrap()
                .parse()
                .unwrap(),
        );
    }
    (wall, overhead)
}

#[test]
fn a_dead_receiver_and_a_slow_one_add_nothing_to_a_request() {
    const CALLS: usize = 20;
    let mock = MockProvider::start(Flavor::OpenAi);
    let slow = Receiver::start(Duration::from_secs(2), &[]);
    let models = config_with(&[model_entry("gpt", "openai/gpt-4o-mini", &mock.url(), &[])]);
    let without = Gateway::start(&format!("{models}{ONE_CALL_EACH}"));
    let with = Gateway::start(&format!(
        "{models}{ONE_CALL_EACH}webhooks:\n  dead: {{url: '{}', secret: s}}\n  slow: {{url: '{}', secret: s}}\nlitellm_settings:\n  callbacks: [dead, slow]\n",
        dead_url(),
        slow.url(),
    ));
    // Warm both up (connections to the mock, plugin instances).
    timed_calls(&without, 3);
    timed_calls(&with, 3);
    let (base_wall, base_overhead) = timed_calls(&without, CALLS);
    let (wall, overhead) = timed_calls(&with, CALLS);

    // A delivery on the path would cost at least the slow receiver's 2 s,
    // or the dead one's backoff (0.5 s before its first retry), on every
    // call: every call stays far below that.
    let slowest = wall.iter().copied().fold(0.0, f64::max);
    assert!(slowest < 1000.0, "a call took {slowest:.1} ms: {wall:?}");
    let (m, base) = (median(wall), median(base_wall));
    assert!(
        m < base + 100.0,
        "median {m:.1} ms with hooks, {base:.1} ms without"
    );
    let (m, base) = (median(overhead), median(base_overhead));
    assert!(
        m < base + 5.0,
        "median overhead {m:.3} ms with hooks, {base:.3} ms without"
    );

    // And the hooks were at work meanwhile.
    eventually(
        "the slow receiver gets deliveries",
        Duration::from_secs(10),
        || !slow.got().is_empty(),
    );
    eventually(
        "the dead receiver's deliveries are retried",
        Duration::from_secs(10),
        || hook_stats(&with)["dead"]["retried"].as_u64().unwrap() > 0,
    );
    let dead = &hook_stats(&with)["dead"];
    assert_eq!(dead["delivered"], 0, "{dead}");
}

#[test]
fn events_queued_at_sigterm_are_delivered_before_the_gateway_exits() {
    const CALLS: usize = 10;
    let mock = MockProvider::start(Flavor::OpenAi);
    // 2 events a call, 4 in flight, 300 ms each: 1.5 s of deliveries are
    // still queued when the last call is answered.
    let slow = Receiver::start(Duration::from_millis(300), &[]);
    let mut gw = Gateway::start(&format!(
        "{}{ONE_CALL_EACH}webhooks:\n  slow: {{url: '{}', secret: s, events: [request_start, request_end]}}\nlitellm_settings:\n  callbacks: [slow]\n",
        config_with(&[model_entry("gpt", "openai/gpt-4o-mini", &mock.url(), &[])]),
        slow.url(),
    ));
    for _ in 0..CALLS {
        let r = gw.post("/v1/chat/completions", Some(KEY), &chat("gpt", "hi"));
        assert_eq!(r.status, 200, "{}", r.body);
    }
    assert!(slow.got().len() < 2 * CALLS, "too late to test the flush");
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &gw.pid().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let started = Instant::now();
    while gw.is_running() {
        assert!(started.elapsed() < Duration::from_secs(15), "did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
    let got = slow.got();
    assert_eq!(got.len(), 2 * CALLS, "every queued event before exiting");
    for d in &got {
        d.verify("s");
    }
}
