//! Choosing deployments: the candidates with their live state go to the
//! active router plugin; the host falls back to the configured order when
//! there is no router or it fails open.

use std::sync::Arc;

use crate::config::{Deployment, ModelGroup};
use crate::plugins::bindings::router_api::{self, Health, RouteRequest};
use crate::plugins::bindings::types::{self, Caller};
use crate::plugins::{ActiveSet, RoutingTable};
use crate::state::now_ms;

use super::error::ApiError;
use super::{Gateway, views};

/// The deployments to try, in order, and why.
pub struct Route {
    pub group: String,
    pub order: Vec<Arc<Deployment>>,
    pub reason: Option<String>,
}

/// The deployment table routers receive once per instance: every
/// deployment in config order, without live state.
pub fn routing_table(deployments: &[Arc<Deployment>]) -> RoutingTable {
    deployments
        .iter()
        .map(|d| router_api::Deployment {
            id: d.id.clone(),
            model_group: d.group.clone(),
            provider: d.provider.clone(),
            model: d.model.clone(),
            rpm_limit: d.rpm,
            tpm_limit: d.tpm,
            prices: views::prices(&d.prices),
            context_window: d.max_input_tokens,
            tags: d.tags.clone(),
            weight: d.weight,
            order: d.order,
            extra: model_info_extra(d),
        })
        .collect()
}

impl Gateway {
    /// The candidates of `group` with their live state.
    fn candidates(&self, group: &ModelGroup) -> Vec<router_api::Candidate> {
        group
            .deployments
            .iter()
            .map(|d| {
                let s = self.state.snapshot(d);
                let health = match (s.cooldown, s.health) {
                    (Some(c), _) => Health::CoolingDown(c.until_ms.saturating_sub(now_ms())),
                    (None, crate::state::Health::Unhealthy { error, .. }) => {
                        Health::Unhealthy(error)
                    }
                    (None, _) => Health::Healthy,
                };
                router_api::Candidate {
                    deployment: d.index,
                    health,
                    in_flight: s.in_flight,
                    latency_avg_ms: s.latency_avg_ms,
                    ttft_avg_ms: s.ttft_avg_ms,
                    rpm_used: s.rpm_used,
                    tpm_used: s.tpm_used,
                }
            })
            .collect()
    }

    /// Orders the deployments of `group` for this request. A router may
    /// send the request to another group once, if `follow_redirect`.
    pub fn route(
        &self,
        set: &ActiveSet,
        group: &ModelGroup,
        request: &types::ChatRequest,
        caller: &Caller,
        estimated_input_tokens: u64,
        follow_redirect: bool,
    ) -> Result<Route, ApiError> {
        let mut group = group;
        let mut redirected = false;
        loop {
            let router = match &self.config.plugins.router {
                Some(name) => Some(set.get(name).ok_or_else(|| {
                    ApiError::unavailable(format!(
                        "router plugin {name:?} is configured but not loaded"
                    ))
                })?),
                None => set.get("default-router"),
            };
            let Some(router) = router else {
                return Ok(Route {
                    group: group.name.clone(),
                    order: group.deployments.clone(),
                    reason: None,
                });
            };
            let req = RouteRequest {
                request: request.clone(),
                caller: caller.clone(),
                candidates: self.candidates(group),
                estimated_input_tokens,
                seed: rand_seed(),
                now_ms: now_ms(),
            };
            let fallback = || router_api::RouteDecision {
                order: req.candidates.iter().map(|c| c.deployment).collect(),
                model_group: None,
                reason: Some("router failed; configured order".into()),
                extra: Vec::new(),
            };
            let decision = router
                .on_error(router.route(&req), fallback)
                .map_err(|e| ApiError::internal(e.to_string()))?;
            if let Some(next) = &decision.model_group
                && next != &group.name
            {
                if !follow_redirect {
                    // A fallback group: keep it (a tier router would send
                    // the request back to the tier that failed).
                    return Ok(Route {
                        group: group.name.clone(),
                        order: group.deployments.clone(),
                        reason: Some(format!("fallback group {}: configured order", group.name)),
                    });
                }
                if redirected {
                    return Err(ApiError::internal(format!(
                        "router {} redirected twice (to {next:?}); one redirect is allowed",
                        router.name()
                    )));
                }
                group = self.config.group(next).ok_or_else(|| {
                    ApiError::internal(format!(
                        "router {} chose model group {next:?}, which is not configured",
                        router.name()
                    ))
                })?;
                tracing::info!(
                    router = router.name(),
                    from = %request.model,
                    to = %next,
                    reason = decision.reason.as_deref().unwrap_or(""),
                    "routed to another model group"
                );
                redirected = true;
                continue;
            }
            let order = decision
                .order
                .iter()
                .filter_map(|i| self.config.deployment(*i).cloned())
                .collect();
            return Ok(Route {
                group: group.name.clone(),
                order,
                reason: decision.reason,
            });
        }
    }
}

/// `model_info` fields a router has no typed field for (the typed ones stay
/// out, so each fact has one place).
fn model_info_extra(d: &Deployment) -> Vec<types::Field> {
    d.model_info
        .iter()
        .filter(|(k, _)| {
            !(k.as_str() == "id"
                || k.as_str() == "max_input_tokens"
                || crate::config::model_list::is_price_key(k))
        })
        .map(|(k, v)| types::Field {
            key: k.clone(),
            value: v.to_string(),
        })
        .collect()
}

/// A fresh random seed per request (routers stay deterministic given it).
fn rand_seed() -> u64 {
    fastrand::u64(..)
}
