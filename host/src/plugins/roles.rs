//! Which role each loaded plugin plays in a config, so a plugin that was
//! dropped in but never given a role is reported at start instead of
//! silently doing nothing (a sanitiser loaded without a `sanitizers:` line
//! shows `active` and sanitises nothing).

use crate::config::Config;

use super::loaded::{Kind, Origin};
use super::registry::ActiveSet;

/// A loaded plugin no role of the config uses, and the line that would
/// give it one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unused {
    pub name: String,
    pub kind: Kind,
    pub file: String,
    pub hint: String,
}

/// The plugins loaded from files that the config gives no role: a router
/// that is not `plugins.router` (nor `default-router` when none is named),
/// a sanitiser not in `plugins.sanitizers`, a cost rule not in
/// `plugins.cost_rules`, an adapter whose prefixes no deployment uses.
/// Built-in plugins are always loaded and not reported.
pub fn unused(config: &Config, set: &ActiveSet) -> Vec<Unused> {
    let plugins = &config.plugins;
    let mut out = Vec::new();
    for p in set.iter().filter(|p| p.origin == Origin::File) {
        let name = p.name();
        let (used, hint) = match p.info.kind {
            Kind::Router => (
                plugins.router.as_deref().unwrap_or("default-router") == name,
                format!("set `plugins.router: {name}`"),
            ),
            Kind::Sanitizer => (
                plugins.sanitizers.iter().any(|s| s == name),
                format!("add it to `plugins.sanitizers: [{name}]`"),
            ),
            Kind::Cost => (
                plugins.cost_rules.iter().any(|s| s == name),
                "add it to `plugins.cost_rules`".to_string(),
            ),
            Kind::Provider => (
                config.deployments.iter().any(|d| {
                    p.info.provider_prefixes.iter().any(|x| *x == d.provider)
                        && set
                            .provider_for(&d.provider)
                            .is_some_and(|a| a.name() == name)
                }),
                format!(
                    "give a deployment `model: {}/<model>`",
                    p.info
                        .provider_prefixes
                        .first()
                        .map_or("<prefix>", String::as_str)
                ),
            ),
        };
        if !used {
            out.push(Unused {
                name: name.to_string(),
                kind: p.info.kind,
                file: p.file.display().to_string(),
                hint,
            });
        }
    }
    out
}

/// Logs one warning per loaded plugin no role uses.
pub fn warn_unused(config: &Config, set: &ActiveSet) {
    for u in unused(config, set) {
        tracing::warn!(
            plugin = %u.name,
            kind = u.kind.as_str(),
            file = %u.file,
            "plugin is loaded but no role in the config uses it, so it does nothing; {}",
            u.hint
        );
    }
}
