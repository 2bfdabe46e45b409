//! `default-router`: LiteLLM's routing strategies as a Switchyard router.
//!
//! Only `simple-shuffle` is implemented so far: a weighted random order of
//! the candidates (weights from `weight`, else `rpm`, else `tpm`, else equal),
//! drawn without replacement from a PRNG seeded with the request's `seed`.
//! Healthy deployments come first; cooling-down and unhealthy ones follow in
//! their own shuffled order rather than being dropped, so the host can still
//! try them when nothing else is left. Deployments with `order` set are tried
//! in ascending tiers, shuffled within a tier; those without come after.

mod config;
mod shuffle;

use std::cell::RefCell;

use config::{Config, Strategy};
use switchyard_sdk::export_router;
use switchyard_sdk::router::{RouteDecision, RouteRequest};
use switchyard_sdk::types::{PluginError, PluginInfo, PluginKind};
use switchyard_sdk::{Plugin, Router};

thread_local! {
    // Wasm instances are single-threaded and `init` runs once per instance.
    static CONFIG: RefCell<Config> = RefCell::new(Config::default());
}

pub struct DefaultRouter;

impl Plugin for DefaultRouter {
    fn describe() -> PluginInfo {
        let mut info = switchyard_sdk::info(
            "default-router",
            env!("CARGO_PKG_VERSION"),
            PluginKind::Router,
        );
        info.config_schema = Some(config::schema());
        info.description = Some(
            "LiteLLM routing strategies: simple-shuffle (weighted random order, healthy first, order tiers)"
                .to_string(),
        );
        info
    }

    fn init(config: String) -> Result<(), PluginError> {
        let parsed = config::parse(&config)?;
        CONFIG.with(|c| *c.borrow_mut() = parsed);
        Ok(())
    }
}

impl Router for DefaultRouter {
    fn route(req: RouteRequest) -> Result<RouteDecision, PluginError> {
        let strategy = CONFIG.with(|c| c.borrow().strategy);
        Ok(route_with(strategy, &req))
    }
}

/// Orders the candidates of `req` with `strategy`.
pub fn route_with(strategy: Strategy, req: &RouteRequest) -> RouteDecision {
    match strategy {
        Strategy::SimpleShuffle => simple_shuffle(req),
    }
}

fn simple_shuffle(req: &RouteRequest) -> RouteDecision {
    let candidates = &req.candidates;
    if candidates.is_empty() {
        return decision(Vec::new(), "simple-shuffle: no candidates".to_string());
    }
    let (indices, basis) = shuffle::simple_shuffle(candidates, req.seed);
    let unavailable = candidates
        .iter()
        .filter(|d| !shuffle::is_available(d))
        .count();
    let mut reason = format!("simple-shuffle: {}", basis.label());
    if unavailable > 0 {
        reason.push_str(&format!(", {unavailable} cooling or unhealthy last"));
    }
    let order = indices
        .into_iter()
        .map(|i| candidates[i].id.clone())
        .collect();
    decision(order, reason)
}

fn decision(order: Vec<String>, reason: String) -> RouteDecision {
    RouteDecision {
        order,
        model_group: None,
        reason: Some(reason),
        extra: Vec::new(),
    }
}

export_router!(DefaultRouter);

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use switchyard_sdk::router::{Deployment, Health};
    use switchyard_sdk::types::{Caller, ChatRequest, Prices};

    pub fn dep(id: &str) -> Deployment {
        Deployment {
            id: id.to_string(),
            model_group: "g".to_string(),
            provider: "openai".to_string(),
            model: id.to_string(),
            health: Health::Healthy,
            in_flight: 0,
            latency_avg_ms: None,
            ttft_avg_ms: None,
            rpm_used: 0,
            rpm_limit: None,
            tpm_used: 0,
            tpm_limit: None,
            prices: Prices {
                input_per_token: None,
                output_per_token: None,
                cache_read_per_token: None,
                cache_write_per_token: None,
                reasoning_per_token: None,
                per_request: None,
                extra: vec![],
            },
            context_window: None,
            tags: vec![],
            weight: None,
            order: None,
            extra: vec![],
        }
    }

    /// Builder-style setters for test deployments.
    pub trait DepExt {
        fn weight(self, w: f64) -> Self;
        fn rpm(self, v: u64) -> Self;
        fn tpm(self, v: u64) -> Self;
        fn order(self, o: u32) -> Self;
        fn health(self, h: Health) -> Self;
    }

    impl DepExt for Deployment {
        fn weight(mut self, w: f64) -> Self {
            self.weight = Some(w);
            self
        }
        fn rpm(mut self, v: u64) -> Self {
            self.rpm_limit = Some(v);
            self
        }
        fn tpm(mut self, v: u64) -> Self {
            self.tpm_limit = Some(v);
            self
        }
        fn order(mut self, o: u32) -> Self {
            self.order = Some(o);
            self
        }
        fn health(mut self, h: Health) -> Self {
            self.health = h;
            self
        }
    }

    pub fn request(candidates: Vec<Deployment>, seed: u64) -> RouteRequest {
        RouteRequest {
            request: ChatRequest {
                model: "g".to_string(),
                messages: vec![],
                stream: false,
                max_tokens: None,
                tags: vec![],
                metadata: vec![],
                extra: vec![],
            },
            caller: Caller {
                key_alias: None,
                user: None,
                team: None,
                tags: vec![],
                tier: None,
                metadata: vec![],
            },
            candidates,
            estimated_input_tokens: 0,
            seed,
            now_ms: 0,
        }
    }

    #[test]
    fn describe_names_the_plugin_and_has_a_schema() {
        let info = DefaultRouter::describe();
        assert_eq!(info.name, "default-router");
        assert_eq!(info.kind, PluginKind::Router);
        assert!(info.config_schema.is_some());
    }

    #[test]
    fn init_stores_config_and_rejects_bad_config() {
        assert!(DefaultRouter::init("{}".to_string()).is_ok());
        assert!(DefaultRouter::init(r#"{"strategy":"simple-shuffle"}"#.to_string()).is_ok());
        let err = DefaultRouter::init(r#"{"strategy":"least-busy"}"#.to_string()).unwrap_err();
        assert!(matches!(err, PluginError::InvalidConfig(m) if m.contains("simple-shuffle")));
    }

    #[test]
    fn same_seed_same_order() {
        let c = vec![
            dep("a").weight(1.0),
            dep("b").weight(2.0),
            dep("c").weight(3.0),
        ];
        let first = DefaultRouter::route(request(c.clone(), 7)).unwrap();
        for _ in 0..10 {
            assert_eq!(DefaultRouter::route(request(c.clone(), 7)).unwrap(), first);
        }
        let differs = (0..50)
            .any(|s| DefaultRouter::route(request(c.clone(), s)).unwrap().order != first.order);
        assert!(differs);
        assert_eq!(
            first.reason.as_deref(),
            Some("simple-shuffle: weighted by weight")
        );
        assert_eq!(first.model_group, None);
    }

    #[test]
    fn reason_counts_unavailable() {
        let c = vec![dep("a").health(Health::CoolingDown(10)), dep("b").rpm(5)];
        let d = DefaultRouter::route(request(c, 1)).unwrap();
        assert_eq!(d.order, vec!["b", "a"]);
        assert_eq!(
            d.reason.as_deref(),
            Some("simple-shuffle: weighted by rpm, 1 cooling or unhealthy last")
        );
    }

    #[test]
    fn no_candidates_no_order() {
        let d = DefaultRouter::route(request(vec![], 1)).unwrap();
        assert!(d.order.is_empty());
        assert_eq!(d.reason.as_deref(), Some("simple-shuffle: no candidates"));
    }

    /// Prints the orders cases.yaml pins, so they can be refreshed if the
    /// algorithm changes: `cargo test -p default-router -- --nocapture print_case_orders`.
    #[test]
    fn print_case_orders() {
        let c = vec![
            dep("a").weight(1.0),
            dep("b").weight(2.0),
            dep("c").weight(3.0),
        ];
        for seed in [7u64, 8] {
            let d = DefaultRouter::route(request(c.clone(), seed)).unwrap();
            eprintln!("weights 1/2/3 seed {seed}: {:?}", d.order);
        }
        let c = vec![dep("a"), dep("b"), dep("c"), dep("d")];
        let d = DefaultRouter::route(request(c, 42)).unwrap();
        eprintln!("equal seed 42: {:?}", d.order);
    }
}
