//! `tier-router`: picks a model tier (1 fast and cheap .. 4 premium) from
//! the request itself and sends it to that tier's model group.
//!
//! Clients send every request to one model name (an *entry group*, for
//! example `support`); the router reads the request and the caller, computes
//! a tier, and answers with the tier's model group from `tiers`. The host
//! then calls the router once more with that group's deployments, and the
//! router orders them.
//!
//! # How the tier is computed
//!
//! Always in this order, so the same request and caller give the same tier:
//!
//! 1. **Intent → base tier.** The last user message is folded (lower case,
//!    accents removed, punctuation as word breaks) and matched against each
//!    intent's keywords on whole words: greeting (tier 1), faq (1), support
//!    (2), sales (2), technical (3), each with English and Portuguese
//!    defaults the config can extend, replace or re-tier. Among matched
//!    intents the highest tier wins (a "hi" in front of a real question
//!    never lowers it), then the one with more distinct keywords, then
//!    technical > support > sales > faq > greeting. If the last user message
//!    matches nothing, the three user messages before it are tried, newest
//!    first, ignoring greetings (a follow-up such as "and now?" keeps the
//!    thread's intent). Nothing matched: `default_tier` (2). System and
//!    assistant messages are never read: a system prompt names every topic.
//! 2. **Complexity → + 0..4.** +1 when `estimated_input_tokens` reaches
//!    `long_prompt_tokens` (1500), +2 instead at `very_long_prompt_tokens`
//!    (6000); +1 for a code block or at least `technical_terms_min` (4)
//!    distinct technical terms in the last user message; +1 for a
//!    multi-part ask (at least `multi_part_asks` (3) questions or numbered
//!    steps).
//! 3. **Customer → bump.** The caller's `tier` (case-insensitive; absent or
//!    unknown = `standard`) adds its `bump` (vip: +1).
//! 4. **Clamp** the sum to 1..=4.
//! 5. **Customer → floor and cap.** Raise to the customer's `min_tier`
//!    (vip 2, enterprise 3), lower to its `max_tier` (4 unless configured).
//!
//! The tier's group comes from `tiers`; a deployment table without every
//! such group is rejected when the host hands it over.
//!
//! # Routing
//!
//! - Candidates in the tier's group: the answer orders them (healthy, then
//!   cooling down, then unhealthy; lower `order` first; weighted random by
//!   `weight` from the request's `seed`) and names no group.
//! - Otherwise: the answer names the tier's group with an empty order; the
//!   host routes again there, and the second call lands in the case above
//!   (same request, same tier, same reason).
//! - With `entry_groups` set, requests for a group that is neither an entry
//!   group nor a tier group are not tiered: their candidates are ordered as
//!   they are, so one gateway can serve other models beside the tiered
//!   assistant.
//!
//! The reason (`x-switchyard-route-reason`) reads like
//! `tier 3 -> support-advanced: intent technical, complexity +1 (code),
//! customer vip +1`, and the decision's `extra` carries `tier`, `intent`,
//! `complexity` and `customer` for the log.

mod complexity;
mod config;
mod decide;
mod intent;
mod keywords;
mod order;
mod text;

use switchyard_sdk::prelude::*;
use switchyard_sdk::router::Candidate;
use switchyard_sdk::routing::joined;
use switchyard_sdk::types::Field;

pub use config::{Config, Settings};

/// The router, built from its config once per instance.
pub enum TierRouter {
    /// Loaded with an empty config (as in a plugins directory shared by
    /// gateways that do not use it): loads cleanly, refuses to route.
    Unconfigured,
    /// Configured: the compiled config.
    Ready(Box<Config>),
}

impl Plugin for TierRouter {
    type Config = Settings;
    const NAME: &'static str = "tier-router";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: Option<&'static str> = Some(
        "Routes each request to a model tier (1-4) chosen from its intent (EN/PT keywords), complexity and the customer tier",
    );

    fn new(settings: Settings) -> Result<Self, PluginError> {
        if settings.is_empty() {
            return Ok(TierRouter::Unconfigured);
        }
        Ok(TierRouter::Ready(Box::new(config::compile(settings)?)))
    }
}

impl Router for TierRouter {
    fn route(
        &self,
        request: RouteRequest,
        table: &[Deployment],
    ) -> Result<RouteDecision, PluginError> {
        match self {
            TierRouter::Ready(config) => Ok(route_with(config, &request, table)),
            TierRouter::Unconfigured => Err(PluginError::InvalidConfig(
                "tier-router has no config: set plugins.settings.tier-router.config.tiers (tier \"1\" to \"4\" -> model group) to route with it".into(),
            )),
        }
    }

    fn check_deployments(&self, table: &[Deployment]) -> Result<(), PluginError> {
        match self {
            TierRouter::Ready(config) => check_table(config, table),
            TierRouter::Unconfigured => Ok(()),
        }
    }
}

/// Checks that every group the config routes to has a deployment.
///
/// An empty table is accepted: the host starts instances with one before
/// it knows the model list (and `switchyard plugin test` before each case's
/// table), and with no deployments there is nothing to route anyway.
pub fn check_table(config: &Config, table: &[Deployment]) -> Result<(), PluginError> {
    if table.is_empty() {
        return Ok(());
    }
    let known = |group: &str| table.iter().any(|d| d.model_group == group);
    for (i, group) in config.groups.iter().enumerate() {
        if !known(group) {
            return Err(PluginError::InvalidConfig(format!(
                "tier {} maps to model group {group:?}, which has no deployment in the gateway's model list",
                i + 1
            )));
        }
    }
    for group in config.entry_groups.iter().flatten() {
        if !known(group) {
            return Err(PluginError::InvalidConfig(format!(
                "entry_groups names model group {group:?}, which has no deployment in the gateway's model list"
            )));
        }
    }
    Ok(())
}

/// Decides one request with `config` (the route path, callable natively).
pub fn route_with(config: &Config, request: &RouteRequest, table: &[Deployment]) -> RouteDecision {
    // The candidates' group: the one the client asked for, or the tier's
    // group on the host's second call.
    let current = joined(request, table)
        .next()
        .map_or(request.request.model.as_str(), |(_, d)| {
            d.model_group.as_str()
        });
    if !config.tiers_group(current) {
        let members: Vec<(&Candidate, &Deployment)> = joined(request, table).collect();
        let mut reason = String::from("not tiered: group ");
        decide::push_ascii(&mut reason, current);
        reason.push_str(" is not an entry group");
        reason.truncate(decide::MAX_REASON);
        return RouteDecision {
            order: order::order(&members, request.seed),
            model_group: None,
            reason: Some(reason),
            extra: Vec::new(),
        };
    }

    let decision = decide::decide(config, request);
    let target = config.group(decision.tier);
    let reason = decision.reason(target);
    let extra = log_fields(&decision);
    let members: Vec<(&Candidate, &Deployment)> = joined(request, table)
        .filter(|(_, d)| d.model_group == target)
        .collect();
    if members.is_empty() {
        RouteDecision {
            order: Vec::new(),
            model_group: Some(target.to_string()),
            reason: Some(reason),
            extra,
        }
    } else {
        RouteDecision {
            order: order::order(&members, request.seed),
            model_group: None,
            reason: Some(reason),
            extra,
        }
    }
}

/// The decision's parts as JSON fields, for the gateway's log.
fn log_fields(d: &decide::Decision) -> Vec<Field> {
    let intent = match d.base.intent() {
        Some(i) => format!("\"{}\"", i.name()),
        None => "null".to_string(),
    };
    vec![
        Field {
            key: "tier".into(),
            value: d.tier.to_string(),
        },
        Field {
            key: "intent".into(),
            value: intent,
        },
        Field {
            key: "complexity".into(),
            value: d.complexity.bump().to_string(),
        },
        Field {
            key: "customer".into(),
            // Customer names are `[a-z0-9_-]`: no escaping needed.
            value: format!("\"{}\"", d.customer.name),
        },
    ]
}

switchyard_sdk::export!(router TierRouter);

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use switchyard_sdk::router::Health;
    use switchyard_sdk::testing::{candidate, deployment, route_request, text};
    use switchyard_sdk::types::PluginKind;
    use switchyard_sdk::types::{Message, Role};

    pub fn user(t: &str) -> Message {
        text(Role::User, t)
    }

    /// A request to the `support` group, without candidates.
    pub fn request(messages: Vec<Message>) -> RouteRequest {
        RouteRequest {
            estimated_input_tokens: 10,
            ..route_request("support", messages)
        }
    }

    const CONFIG: &str = r#"{"tiers":{"1":"support-fast","2":"support-standard","3":"support-advanced","4":"support-premium"}}"#;

    /// support (0, 1), then one deployment per tier group (2..=5), then
    /// a second tier-3 deployment (6) and an unrelated group (7).
    fn table() -> Vec<Deployment> {
        vec![
            deployment("s1", "support"),
            deployment("s2", "support"),
            deployment("fast", "support-fast"),
            deployment("std", "support-standard"),
            deployment("adv-a", "support-advanced"),
            deployment("prem", "support-premium"),
            deployment("adv-b", "support-advanced"),
            deployment("gpt", "gpt-4o"),
        ]
    }

    fn with_candidates(mut req: RouteRequest, indices: &[u32]) -> RouteRequest {
        req.candidates = indices.iter().map(|i| candidate(*i)).collect();
        req
    }

    #[test]
    fn describe_names_the_plugin_and_has_a_schema() {
        let info = switchyard_sdk::typed::describe::<TierRouter>(PluginKind::Router, &[]);
        assert_eq!(
            (info.name.as_str(), info.version.as_str()),
            ("tier-router", env!("CARGO_PKG_VERSION"))
        );
        assert!(info.config_schema.is_some_and(|s| s.contains("\"tiers\"")));
        assert!(info.description.is_some());
    }

    fn router(json: &str) -> Result<TierRouter, PluginError> {
        switchyard_sdk::typed::from_json(json)
    }

    #[test]
    fn an_empty_config_loads_but_does_not_route() {
        for empty in ["{}", " { } "] {
            let r = router(empty).unwrap();
            assert!(r.check_deployments(&table()).is_ok());
            assert!(matches!(
                r.route(request(vec![user("hi")]), &table()),
                Err(PluginError::InvalidConfig(m)) if m.contains("plugins.settings.tier-router")
            ));
        }
        // Any other config needs the tiers.
        assert!(matches!(
            router(r#"{"default_tier": 3}"#),
            Err(PluginError::InvalidConfig(m)) if m.contains("tiers is required")
        ));
        assert!(router(r#"{"intents": {}}"#).is_err());
    }

    #[test]
    fn a_configured_router_checks_the_table_and_routes() {
        let r = router(CONFIG).unwrap();
        assert!(r.check_deployments(&table()).is_ok());
        let mut t = table();
        t.retain(|d| d.model_group != "support-fast");
        assert!(r.check_deployments(&t).is_err());
        let d = r
            .route(
                with_candidates(request(vec![user("hi")]), &[0, 1]),
                &table(),
            )
            .unwrap();
        assert_eq!(d.model_group.as_deref(), Some("support-fast"));
    }

    #[test]
    fn a_bad_field_is_named() {
        let Err(PluginError::InvalidConfig(m)) =
            router(&CONFIG.replace("}}", r#"},"default_tier":"3"}"#))
        else {
            panic!("accepted a string tier");
        };
        assert!(m.starts_with("default_tier: invalid type: string"), "{m}");
    }

    #[test]
    fn redirects_then_orders_within_the_tier_group() {
        let config = config::parse(CONFIG).unwrap();
        let t = table();
        let first = with_candidates(request(vec![user("The API returns an error")]), &[0, 1]);
        let d = route_with(&config, &first, &t);
        assert_eq!(d.order, Vec::<u32>::new());
        assert_eq!(d.model_group.as_deref(), Some("support-advanced"));
        let reason = "tier 3 -> support-advanced: intent technical, customer standard";
        assert_eq!(d.reason.as_deref(), Some(reason));

        // The host's second call: the same request, the tier group's candidates.
        let mut second = with_candidates(first, &[4, 6]);
        second.candidates[0].health = Health::CoolingDown(1000);
        let d = route_with(&config, &second, &t);
        assert_eq!(d.order, [6, 4]);
        assert_eq!(d.model_group, None);
        assert_eq!(d.reason.as_deref(), Some(reason));
        let keys: Vec<(&str, &str)> = d
            .extra
            .iter()
            .map(|f| (f.key.as_str(), f.value.as_str()))
            .collect();
        assert_eq!(
            keys,
            [
                ("tier", "3"),
                ("intent", "\"technical\""),
                ("complexity", "0"),
                ("customer", "\"standard\"")
            ]
        );
    }

    #[test]
    fn a_request_already_in_its_tier_group_is_ordered_directly() {
        let config = config::parse(CONFIG).unwrap();
        let req = with_candidates(request(vec![user("oi")]), &[2]);
        let d = route_with(&config, &req, &table());
        assert_eq!((d.order, d.model_group), (vec![2], None));
    }

    #[test]
    fn no_candidates_still_names_the_group() {
        let config = config::parse(CONFIG).unwrap();
        let d = route_with(&config, &request(vec![user("oi")]), &table());
        assert_eq!(d.order, Vec::<u32>::new());
        assert_eq!(d.model_group.as_deref(), Some("support-fast"));
        let d = route_with(&config, &request(vec![user("oi")]), &[]);
        assert_eq!(d.model_group.as_deref(), Some("support-fast"));
    }

    #[test]
    fn entry_groups_leave_other_groups_alone() {
        let json = CONFIG.replace("}}", r#"},"entry_groups":["support"]}"#);
        let config = config::parse(&json).unwrap();
        let t = table();
        let d = route_with(
            &config,
            &with_candidates(request(vec![user("hi")]), &[7]),
            &t,
        );
        assert_eq!(d.order, [7]);
        assert_eq!(d.model_group, None);
        assert_eq!(
            d.reason.as_deref(),
            Some("not tiered: group gpt-4o is not an entry group")
        );
        assert!(d.extra.is_empty());
        // Entry and tier groups are still tiered.
        let d = route_with(
            &config,
            &with_candidates(request(vec![user("hi")]), &[0, 1]),
            &t,
        );
        assert_eq!(d.model_group.as_deref(), Some("support-fast"));
        let d = route_with(
            &config,
            &with_candidates(request(vec![user("hi")]), &[5]),
            &t,
        );
        assert_eq!(d.model_group.as_deref(), Some("support-fast"));
        // Without entry_groups every group is tiered.
        let config = config::parse(CONFIG).unwrap();
        let d = route_with(
            &config,
            &with_candidates(request(vec![user("hi")]), &[7]),
            &t,
        );
        assert_eq!(d.model_group.as_deref(), Some("support-fast"));
    }

    #[test]
    fn the_table_must_hold_every_tier_group() {
        let config = config::parse(CONFIG).unwrap();
        assert!(check_table(&config, &table()).is_ok());
        assert!(check_table(&config, &[]).is_ok());
        let mut t = table();
        t.retain(|d| d.model_group != "support-premium");
        let Err(PluginError::InvalidConfig(m)) = check_table(&config, &t) else {
            panic!("accepted a table without support-premium");
        };
        assert_eq!(
            m,
            "tier 4 maps to model group \"support-premium\", which has no deployment in the gateway's model list"
        );
        let json = CONFIG.replace("}}", r#"},"entry_groups":["helpdesk"]}"#);
        let config = config::parse(&json).unwrap();
        let Err(PluginError::InvalidConfig(m)) = check_table(&config, &table()) else {
            panic!("accepted a table without the entry group");
        };
        assert!(
            m.contains("entry_groups names model group \"helpdesk\""),
            "{m}"
        );
    }

    #[test]
    fn order_is_weighted_and_seeded() {
        let config = config::parse(CONFIG).unwrap();
        let mut t = table();
        t[4].weight = Some(9.0);
        t[6].weight = Some(1.0);
        let req = with_candidates(request(vec![user("api error")]), &[4, 6]);
        let firsts = (0..1000u64)
            .filter(|s| {
                let mut r = req.clone();
                r.seed = *s;
                route_with(&config, &r, &t).order[0] == 4
            })
            .count();
        assert!((850..=950).contains(&firsts), "{firsts}");
    }
}
