//! my-plugin: a Switchyard router. Healthy deployments first, the least busy
//! first; `skip_unhealthy` leaves unhealthy ones out.
//!
//! Build: `cargo build --release --target wasm32-wasip2`; test natively with
//! `cargo test`, and through the gateway's runtime with `switchyard plugin
//! test target/wasm32-wasip2/release/my_plugin.wasm cases.yaml`.

use switchyard_sdk::prelude::*;

/// The plugin's config section (`plugins.settings.my-plugin.config`); its
/// JSON Schema is derived, so the gateway refuses `{colour: blue}` naming it.
#[derive(Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Leave unhealthy deployments out instead of trying them last.
    skip_unhealthy: bool,
}

/// The router, built once per instance from its config.
pub struct MyPlugin(Config);

impl Plugin for MyPlugin {
    type Config = Config;
    const NAME: &'static str = "my-plugin";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: Option<&'static str> =
        Some("Healthy deployments first, the least busy first");

    fn new(config: Config) -> Result<Self, PluginError> {
        Ok(MyPlugin(config))
    }
}

impl Router for MyPlugin {
    fn route(
        &self,
        request: RouteRequest,
        _table: &[Deployment],
    ) -> Result<RouteDecision, PluginError> {
        // request.caller.tier: the customer tier; `_table[c.deployment as
        // usize]` is a candidate's deployment (id, model group, prices...).
        let mut candidates: Vec<&Candidate> = request
            .candidates
            .iter()
            .filter(|c| !(self.0.skip_unhealthy && matches!(c.health, Health::Unhealthy(_))))
            .collect();
        let rank = |h: &Health| match h {
            Health::Healthy => 0,
            Health::CoolingDown(_) => 1,
            _ => 2,
        };
        candidates.sort_by_key(|c| (rank(&c.health), c.in_flight)); // stable: ties keep config order
        let reason = format!("{}: least busy of {}", Self::NAME, candidates.len());
        let order = candidates.iter().map(|c| c.deployment).collect();
        Ok(RouteDecision {
            order,
            model_group: None,
            reason: Some(reason),
            extra: vec![],
        })
    }
}

switchyard_sdk::export!(router MyPlugin);

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_sdk::testing::{candidate, deployment, order_ids, route_request};

    #[test]
    fn the_least_busy_healthy_deployment_goes_first() {
        let router: MyPlugin = switchyard_sdk::typed::from_json("{}").unwrap();
        let table = vec![deployment("a", "chat"), deployment("b", "chat")];
        let mut req = route_request("chat", vec![]);
        req.candidates = vec![candidate(0), candidate(1)];
        req.candidates[0].in_flight = 5;
        let decision = router.route(req, &table).unwrap();
        assert_eq!(order_ids(&decision, &table), ["b", "a"]);
    }

    #[test]
    fn an_unknown_config_field_is_refused_by_name() {
        let err = switchyard_sdk::typed::from_json::<MyPlugin>(r#"{"colour": "blue"}"#).err();
        assert!(matches!(err, Some(PluginError::InvalidConfig(m)) if m.contains("colour")));
    }
}
