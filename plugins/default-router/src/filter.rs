//! Tag filtering (`enable_tag_filtering`), as LiteLLM's tag-based routing:
//! a request that carries tags goes to deployments sharing one of them, else
//! to those tagged `default`; an untagged request goes to `default`-tagged
//! deployments when there are any, else anywhere.
//!
//! The decision is made once per request over every candidate, whatever its
//! health, so that a matching deployment that is cooling down is still
//! kept (and tried after the healthy ones) rather than letting the request
//! leak to deployments meant for other tags.

use switchyard_sdk::router::{Deployment, RouteRequest};
use switchyard_sdk::routing::joined;

/// The tag that marks a deployment as the fallback for unmatched requests.
pub const DEFAULT_TAG: &str = "default";

/// Which candidates a request keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// Filtering is off, or nothing narrows the candidates.
    All,
    /// Those sharing a tag with the request.
    Matching,
    /// Those tagged `default`.
    DefaultTagged,
    /// The request has tags and no candidate matches them or is a default:
    /// nothing may serve it.
    Nothing,
}

impl Selection {
    /// Chooses the rule for this request's candidates.
    pub fn choose(enabled: bool, req: &RouteRequest, table: &[Deployment]) -> Selection {
        if !enabled {
            return Selection::All;
        }
        let request_tags = &req.request.tags;
        if !request_tags.is_empty() && joined(req, table).any(|(_, d)| shares_tag(d, request_tags))
        {
            return Selection::Matching;
        }
        if joined(req, table).any(|(_, d)| is_default(d)) {
            return Selection::DefaultTagged;
        }
        if request_tags.is_empty() {
            Selection::All
        } else {
            Selection::Nothing
        }
    }

    /// Whether `d` stays a candidate under this rule.
    pub fn keeps(self, d: &Deployment, request_tags: &[String]) -> bool {
        match self {
            Selection::All => true,
            Selection::Matching => shares_tag(d, request_tags),
            Selection::DefaultTagged => is_default(d),
            Selection::Nothing => false,
        }
    }
}

fn shares_tag(d: &Deployment, request_tags: &[String]) -> bool {
    d.tags.iter().any(|t| request_tags.contains(t))
}

fn is_default(d: &Deployment) -> bool {
    d.tags.iter().any(|t| t == DEFAULT_TAG)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{Dep, dep, fixture};

    fn choose(enabled: bool, request_tags: &[&str], deps: Vec<Dep>) -> (Selection, Vec<String>) {
        let (table, mut req) = fixture(deps, 0);
        req.request.tags = request_tags.iter().map(|t| t.to_string()).collect();
        let s = Selection::choose(enabled, &req, &table);
        let kept = joined(&req, &table)
            .filter(|(_, d)| s.keeps(d, &req.request.tags))
            .map(|(_, d)| d.id.clone())
            .collect();
        (s, kept)
    }

    fn group() -> Vec<Dep> {
        vec![
            dep("eu").tags(&["eu", "paid"]),
            dep("us").tags(&["us"]),
            dep("fallback").tags(&["default"]),
            dep("plain"),
        ]
    }

    #[test]
    fn disabled_keeps_everything_whatever_the_tags() {
        assert_eq!(choose(false, &["eu"], group()).1.len(), 4);
        assert_eq!(choose(false, &["nope"], group()).0, Selection::All);
    }

    #[test]
    fn tags_keep_every_deployment_sharing_one() {
        assert_eq!(
            choose(true, &["paid"], group()),
            (Selection::Matching, vec!["eu".into()])
        );
        assert_eq!(
            choose(true, &["us", "eu"], group()).1,
            vec!["eu".to_string(), "us".into()]
        );
    }

    #[test]
    fn unmatched_tags_fall_back_to_default() {
        assert_eq!(
            choose(true, &["asia"], group()),
            (Selection::DefaultTagged, vec!["fallback".into()])
        );
    }

    #[test]
    fn unmatched_tags_without_default_keep_nothing() {
        let deps = vec![dep("eu").tags(&["eu"]), dep("plain")];
        assert_eq!(choose(true, &["asia"], deps), (Selection::Nothing, vec![]));
    }

    #[test]
    fn untagged_request_prefers_default_else_all() {
        assert_eq!(
            choose(true, &[], group()),
            (Selection::DefaultTagged, vec!["fallback".into()])
        );
        let deps = vec![dep("eu").tags(&["eu"]), dep("plain")];
        assert_eq!(choose(true, &[], deps).0, Selection::All);
    }

    #[test]
    fn tags_match_exactly() {
        let deps = vec![dep("eu").tags(&["EU"]), dep("d").tags(&["default"])];
        assert_eq!(choose(true, &["eu"], deps).1, vec!["d".to_string()]);
    }
}
