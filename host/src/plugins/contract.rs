//! Which version of the `switchyard:plugin` contract a component targets,
//! read from its export names (`switchyard:plugin/router@0.2.0`), and which
//! versions this host binds.
//!
//! The host binds the current contract (`wit/`) and every version archived
//! in `wit-archive/` that it still promises (see [`BOUND`]). A component is
//! served by the bindings of its `major.minor` (for 0.x, the minor is the
//! breaking number): a component built against a later patch of a bound
//! minor (0.3.1 on a 0.3.0 host) loads, because a patch may only add, and
//! wasmtime resolves `@0.3.1` names to the host's `@0.3.0` ones (semver
//! matching in its name maps). If that component imports something the
//! host does not have (a function added in 0.3.1), the load fails naming
//! the missing import; a function it exports that the host does not know
//! is never called.

use serde::Serialize;

/// A contract version the host binds, by its breaking part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Contract {
    /// `switchyard:plugin@0.2.x`, adapted to the 0.3 host.
    #[serde(rename = "0.2")]
    V0_2,
    /// `switchyard:plugin@0.3.x`, the current contract.
    #[serde(rename = "0.3")]
    V0_3,
}

/// The contract versions the host binds, as archived (`wit-archive/<v>`) or
/// current (`wit/`): a test checks that each has its bindings and its WIT.
pub const BOUND: &[&str] = &["0.2.0", "0.3.0"];

/// The current contract's version (the package version in `wit/`).
pub const CURRENT: &str = "0.3.0";

impl Contract {
    /// The contract a version string falls under, if the host binds it.
    pub fn of_version(version: &str) -> Option<Contract> {
        let mut parts = version.split('.');
        let major = parts.next()?;
        let minor = parts.next()?;
        match (major, minor) {
            ("0", "2") => Some(Contract::V0_2),
            ("0", "3") => Some(Contract::V0_3),
            _ => None,
        }
    }

    /// `major.minor`, as the host names the contract.
    pub fn as_str(self) -> &'static str {
        match self {
            Contract::V0_2 => "0.2",
            Contract::V0_3 => "0.3",
        }
    }
}

/// The `(interface, version)` of a `switchyard:plugin` export name
/// (`switchyard:plugin/router@0.2.0` → `("router", Some("0.2.0"))`).
pub fn parse_export(name: &str) -> Option<(&str, Option<&str>)> {
    let rest = name.strip_prefix("switchyard:plugin/")?;
    Some(match rest.split_once('@') {
        Some((iface, version)) => (iface, Some(version)),
        None => (rest, None),
    })
}

/// Why a component's contract version is not served, for the load error.
pub fn unsupported(version: Option<&str>) -> String {
    let bound = BOUND
        .iter()
        .map(|v| {
            let minor = v.rsplit_once('.').map_or(*v, |(m, _)| m);
            format!("{minor}.x")
        })
        .collect::<Vec<_>>()
        .join(" and ");
    match version {
        Some(v) => format!(
            "it targets contract {v}; this gateway binds {bound} (rebuild the plugin against one of them)"
        ),
        None => format!("its exports carry no contract version; this gateway binds {bound}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_fall_under_their_minor() {
        assert_eq!(Contract::of_version("0.2.0"), Some(Contract::V0_2));
        assert_eq!(Contract::of_version("0.2.7"), Some(Contract::V0_2));
        assert_eq!(Contract::of_version("0.3.0"), Some(Contract::V0_3));
        assert_eq!(Contract::of_version("0.3.1"), Some(Contract::V0_3));
        assert_eq!(Contract::of_version("0.1.0"), None);
        assert_eq!(Contract::of_version("1.0.0"), None);
        assert_eq!(Contract::of_version("garbage"), None);
    }

    #[test]
    fn export_names_split_into_interface_and_version() {
        assert_eq!(
            parse_export("switchyard:plugin/router@0.2.0"),
            Some(("router", Some("0.2.0")))
        );
        assert_eq!(parse_export("switchyard:plugin/cost"), Some(("cost", None)));
        assert_eq!(parse_export("wasi:cli/run@0.2.0"), None);
    }

    #[test]
    fn an_unsupported_version_names_what_is_bound() {
        assert_eq!(
            unsupported(Some("0.1.0")),
            "it targets contract 0.1.0; this gateway binds 0.2.x and 0.3.x (rebuild the plugin against one of them)"
        );
    }

    #[test]
    fn the_current_contract_is_bound() {
        assert!(BOUND.contains(&CURRENT));
    }
}
