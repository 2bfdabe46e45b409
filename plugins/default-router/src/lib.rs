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

use config::Config;
use switchyard_sdk::prelude::*;

/// The router: its config, kept per instance by the SDK.
pub struct DefaultRouter {
    config: Config,
}

impl Plugin for DefaultRouter {
    type Config = Config;
    const NAME: &'static str = "default-router";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: Option<&'static str> = Some(
        "LiteLLM routing strategies (simple-shuffle, least-busy, latency-, usage- and cost-based), healthy first, order tiers, tag filtering",
    );

    fn new(config: Config) -> Result<Self, PluginError> {
        config.check()?;
        Ok(DefaultRouter { config })
    }
}

impl Router for DefaultRouter {
    fn route(&self, req: RouteRequest, table: &[Deployment]) -> Result<RouteDecision, PluginError> {
        Ok(route::route(&self.config, &req, table))
    }
}

switchyard_sdk::export!(router DefaultRouter);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{dep, fixture};
    use switchyard_sdk::testing::order_ids;
    use switchyard_sdk::types::PluginKind;

    #[test]
    fn describe_names_the_plugin_and_derives_its_schema() {
        let info = switchyard_sdk::typed::describe::<DefaultRouter>(PluginKind::Router, &[]);
        assert_eq!(info.name, "default-router");
        assert_eq!(info.kind, PluginKind::Router);
        assert!(info.config_schema.unwrap().contains("least-busy"));
        assert!(info.provider_prefixes.is_empty());
    }

    #[test]
    fn the_config_it_is_built_from_is_the_one_route_uses() {
        let (table, req) = fixture(vec![dep("busy").in_flight(5), dep("idle")], 3);
        let router: DefaultRouter =
            switchyard_sdk::typed::from_json(r#"{"strategy":"least-busy"}"#).unwrap();
        let d = router.route(req.clone(), &table).unwrap();
        assert_eq!(order_ids(&d, &table), ["idle", "busy"]);
        assert_eq!(d.reason.as_deref(), Some("least-busy: 0 in flight on idle"));
        let router: DefaultRouter = switchyard_sdk::typed::from_json("{}").unwrap();
        let d = router.route(req, &table).unwrap();
        assert_eq!(d.reason.as_deref(), Some("simple-shuffle: equal weights"));
    }

    #[test]
    fn a_bad_config_is_refused_naming_the_field() {
        let err =
            switchyard_sdk::typed::from_json::<DefaultRouter>(r#"{"lowest_latency_buffer":-1}"#)
                .err()
                .unwrap();
        assert!(
            matches!(&err, PluginError::InvalidConfig(m) if m.contains("lowest_latency_buffer")),
            "{err:?}"
        );
    }
}
