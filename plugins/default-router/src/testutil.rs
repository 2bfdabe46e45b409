//! Builders for native tests, on top of `switchyard_sdk::testing`: a
//! deployment with its live state, turned into the table and request the
//! contract sends.
//!
//! The table starts with a deployment of another group that is never a
//! candidate, so a test fails if the router confuses a candidate's position
//! in the request with its index in the table.

use switchyard_sdk::router::{Candidate, Deployment, Health, RouteRequest};
use switchyard_sdk::testing::{candidate, deployment, route_request};

/// One candidate: its static table entry and its live state.
#[derive(Clone)]
pub struct Dep {
    pub d: Deployment,
    pub c: Candidate,
}

pub fn dep(id: &str) -> Dep {
    Dep {
        d: deployment(id, "g"),
        c: candidate(0),
    }
}

impl Dep {
    pub fn weight(mut self, w: f64) -> Self {
        self.d.weight = Some(w);
        self
    }
    pub fn rpm(mut self, limit: u64) -> Self {
        self.d.rpm_limit = Some(limit);
        self
    }
    pub fn tpm(mut self, limit: u64) -> Self {
        self.d.tpm_limit = Some(limit);
        self
    }
    pub fn order(mut self, o: u32) -> Self {
        self.d.order = Some(o);
        self
    }
    pub fn tags(mut self, tags: &[&str]) -> Self {
        self.d.tags = tags.iter().map(|t| t.to_string()).collect();
        self
    }
    pub fn price(mut self, input: f64, output: f64) -> Self {
        self.d.prices.input_per_token = Some(input);
        self.d.prices.output_per_token = Some(output);
        self
    }
    pub fn health(mut self, h: Health) -> Self {
        self.c.health = h;
        self
    }
    pub fn in_flight(mut self, n: u32) -> Self {
        self.c.in_flight = n;
        self
    }
    pub fn latency(mut self, ms: f64) -> Self {
        self.c.latency_avg_ms = Some(ms);
        self
    }
    pub fn ttft(mut self, ms: f64) -> Self {
        self.c.ttft_avg_ms = Some(ms);
        self
    }
    pub fn used(mut self, rpm: u64, tpm: u64) -> Self {
        self.c.rpm_used = rpm;
        self.c.tpm_used = tpm;
        self
    }
}

pub fn cooling() -> Health {
    Health::CoolingDown(1_000)
}

pub fn unhealthy() -> Health {
    Health::Unhealthy("connection refused".to_string())
}

/// The table (a deployment of another group first, then every candidate)
/// and a request whose candidates point into it.
pub fn fixture(deps: Vec<Dep>, seed: u64) -> (Vec<Deployment>, RouteRequest) {
    let mut table = vec![deployment("elsewhere", "other-group")];
    let mut candidates = Vec::with_capacity(deps.len());
    for Dep { d, mut c } in deps {
        c.deployment = table.len() as u32;
        table.push(d);
        candidates.push(c);
    }
    let req = RouteRequest {
        candidates,
        seed,
        ..route_request("g", vec![])
    };
    (table, req)
}
