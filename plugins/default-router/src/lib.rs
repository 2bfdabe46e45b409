//! `default-router`: LiteLLM's routing strategies as a Switchyard router.
//!
//! Every request goes through the same steps ([`route`]):
//!
//! 1. with `enable_tag_filtering`, keep the candidates the request's tags
//!    allow ([`filter`]);
//! 2. healthy deployments first, cooling-down and unhealthy ones after them
//!    (never dropped, so the host can still try them last), and within each
//!    of those bands `order` tiers ascending, unset `order` last ([`tiers`]);
//! 3. within a tier, the configured strategy ([`strategies`]): simple-shuffle,
//!    least-busy, latency-based-routing, usage-based-routing (v1 and v2) or
//!    cost-based-routing.
//!
//! Randomness (shuffles, ties) comes from the request's `seed`, so a seed
//! always gives the same order.

mod config;
mod filter;
mod route;
mod strategies;
mod text;
mod tiers;

#[cfg(test)]
mod testutil;

use std::cell::Cell;

use config::Config;
use switchyard_sdk::export_router;
use switchyard_sdk::router::{Deployment, RouteDecision, RouteRequest};
use switchyard_sdk::types::{PluginError, PluginInfo, PluginKind};
use switchyard_sdk::{Plugin, Router};

thread_local! {
    // Wasm instances are single-threaded and `init` runs once per instance,
    // before any `route`.
    static CONFIG: Cell<Config> = Cell::new(Config::default());
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
            "LiteLLM routing strategies (simple-shuffle, least-busy, latency-, usage- and cost-based), healthy first, order tiers, tag filtering"
                .to_string(),
        );
        info
    }

    fn init(config: String) -> Result<(), PluginError> {
        let parsed = config::parse(&config)?;
        CONFIG.with(|c| c.set(parsed));
        Ok(())
    }
}

impl Router for DefaultRouter {
    fn route(req: RouteRequest, table: &[Deployment]) -> Result<RouteDecision, PluginError> {
        let config = CONFIG.with(Cell::get);
        Ok(route::route(&config, &req, table))
    }
}

export_router!(DefaultRouter);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{dep, fixture};
    use switchyard_sdk::testing::order_ids;

    #[test]
    fn describe_names_the_plugin_and_has_a_schema() {
        let info = DefaultRouter::describe();
        assert_eq!(info.name, "default-router");
        assert_eq!(info.kind, PluginKind::Router);
        assert!(info.config_schema.is_some());
        assert!(info.provider_prefixes.is_empty());
    }

    #[test]
    fn init_stores_the_config_that_route_uses() {
        let (table, req) = fixture(vec![dep("busy").in_flight(5), dep("idle")], 3);
        DefaultRouter::init(r#"{"strategy":"least-busy"}"#.to_string()).unwrap();
        let d = DefaultRouter::route(req.clone(), &table).unwrap();
        assert_eq!(order_ids(&d, &table), ["idle", "busy"]);
        assert_eq!(d.reason.as_deref(), Some("least-busy: 0 in flight on idle"));
        DefaultRouter::init("{}".to_string()).unwrap();
        let d = DefaultRouter::route(req, &table).unwrap();
        assert_eq!(d.reason.as_deref(), Some("simple-shuffle: equal weights"));
    }

    #[test]
    fn init_rejects_bad_config_and_keeps_the_old_one() {
        DefaultRouter::init(r#"{"strategy":"cost-based-routing"}"#.to_string()).unwrap();
        let err = DefaultRouter::init(r#"{"lowest_latency_buffer":-1}"#.to_string()).unwrap_err();
        assert!(
            matches!(&err, PluginError::InvalidConfig(m) if m.contains("lowest_latency_buffer")),
            "{err:?}"
        );
        assert_eq!(CONFIG.with(Cell::get).strategy, config::Strategy::CostBased);
    }
}
