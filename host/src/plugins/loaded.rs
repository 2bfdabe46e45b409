//! One loaded plugin version: compiled, recognised, described, its config
//! checked, and one instance initialised, before it may serve a call.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;
use wasmtime::component::types::ComponentItem;

use super::bindings::{router_api, types};
use super::contract::{self, Contract};
use super::error::{CallError, LoadError};
use super::instance::{Pool, Remap, World};
use super::limits::Limits;
use super::runtime::{Compiled, Runtime};
use super::worlds::{CostWorld, ProviderWorld, RouterWorld, SanitizerWorld};

/// The four plugin kinds, as the host tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Router,
    Provider,
    Sanitizer,
    Cost,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Router => "router",
            Kind::Provider => "provider",
            Kind::Sanitizer => "sanitizer",
            Kind::Cost => "cost",
        }
    }

    fn from_wit(kind: types::PluginKind) -> Kind {
        match kind {
            types::PluginKind::Router => Kind::Router,
            types::PluginKind::Provider => Kind::Provider,
            types::PluginKind::Sanitizer => Kind::Sanitizer,
            types::PluginKind::Cost => Kind::Cost,
        }
    }

    /// The kind whose interface a component exports, from its export names
    /// (`switchyard:plugin/router@0.2.0`, ...), whatever the version: which
    /// versions the host serves is [`Contract::of_version`]'s answer.
    fn from_export(name: &str) -> Option<Kind> {
        let (iface, _) = contract::parse_export(name)?;
        match iface {
            "router" => Some(Kind::Router),
            "provider" => Some(Kind::Provider),
            "sanitizer" => Some(Kind::Sanitizer),
            "cost" => Some(Kind::Cost),
            _ => None,
        }
    }
}

/// What `describe` said, kept host-side.
#[derive(Debug, Clone, Serialize)]
pub struct Info {
    pub name: String,
    pub version: String,
    pub kind: Kind,
    pub provider_prefixes: Vec<String>,
    pub config_schema: Option<serde_json::Value>,
    pub description: Option<String>,
    /// The contract version the component was built against, as its export
    /// names say (`0.2.0`, `0.3.0`).
    pub contract: String,
}

/// A plugin's instances, typed by kind.
pub enum Instances {
    Router(Pool<RouterWorld>),
    Provider(Pool<ProviderWorld>),
    Sanitizer(Pool<SanitizerWorld>),
    Cost(Pool<CostWorld>),
}

impl Instances {
    pub fn limits(&self) -> &Limits {
        match self {
            Instances::Router(p) => p.limits(),
            Instances::Provider(p) => p.limits(),
            Instances::Sanitizer(p) => p.limits(),
            Instances::Cost(p) => p.limits(),
        }
    }
}

/// Where a plugin came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Shipped with the gateway (see [`super::builtin`]).
    Builtin,
    /// A file in the plugins directory (or named on the command line).
    File,
}

/// A plugin ready to serve.
pub struct LoadedPlugin {
    pub info: Info,
    /// The file it was loaded from; `builtin:<file>` for a built-in one.
    pub file: PathBuf,
    pub origin: Origin,
    pub sha256: String,
    pub loaded_at: SystemTime,
    pub instances: Instances,
}

/// The gateway's deployments as routers see them, in config order; a
/// router's candidates and answers index into it.
pub type RoutingTable = Arc<[router_api::Deployment]>;

/// How the host configures a plugin, looked up by the name it describes.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The plugin's config section (`{}` when absent).
    pub config: serde_json::Value,
    pub limits: Limits,
    /// For routers: the deployment table each instance receives after
    /// `init`. Ignored by other kinds.
    pub deployments: RoutingTable,
    /// For sanitisers: stages watched, audit or enforce, stream windows.
    pub guard: crate::config::plugins::Guardrail,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            config: serde_json::Value::Object(Default::default()),
            limits: Limits::default(),
            deployments: RoutingTable::default(),
            guard: Default::default(),
        }
    }
}

impl LoadedPlugin {
    /// Loads a plugin from a file on disk.
    pub fn load_file(
        runtime: &Runtime,
        file: &Path,
        settings: impl Fn(&str) -> Settings,
    ) -> Result<LoadedPlugin, LoadError> {
        let bytes = std::fs::read(file).map_err(|source| LoadError::Read {
            file: file.to_path_buf(),
            source,
        })?;
        let sha256 = super::runtime::sha256_hex(&bytes);
        Self::load_bytes(runtime, file, &bytes, &sha256, settings)
    }

    /// Loads a plugin from its bytes, whose SHA-256 is `sha256` (hex);
    /// `file` names it in errors.
    pub fn load_bytes(
        runtime: &Runtime,
        file: &Path,
        bytes: &[u8],
        sha256: &str,
        settings: impl Fn(&str) -> Settings,
    ) -> Result<LoadedPlugin, LoadError> {
        let compiled = runtime.compile(file, bytes, sha256)?;
        Self::from_compiled(runtime, file, compiled, settings)
    }

    /// Loads a built-in plugin embedded in the binary: checked like any
    /// other (described, its config given to `init`), then left dormant,
    /// its compiled code unmapped until its first instance. A built-in
    /// plugin nothing uses (another provider's adapter, the router not
    /// chosen, one a file overrides) then costs no memory for its code.
    /// Unless it was mapped from the compile cache (no cache folder, or one
    /// that cannot be written or mapped), mapping it again would mean
    /// compiling it on a request, so it stays mapped.
    pub fn load_embedded(
        runtime: &Runtime,
        file: &Path,
        bytes: &'static [u8],
        sha256: &str,
        settings: impl Fn(&str) -> Settings,
    ) -> Result<LoadedPlugin, LoadError> {
        let compiled = runtime.compile(file, bytes, sha256)?;
        let unmapped = compiled.mapped().then_some(bytes);
        Self::build(runtime, file, compiled, settings, unmapped)
    }

    /// Describes, configures and starts an already compiled component.
    pub fn from_compiled(
        runtime: &Runtime,
        file: &Path,
        compiled: Compiled,
        settings: impl Fn(&str) -> Settings,
    ) -> Result<LoadedPlugin, LoadError> {
        Self::build(runtime, file, compiled, settings, None)
    }

    fn build(
        runtime: &Runtime,
        file: &Path,
        compiled: Compiled,
        settings: impl Fn(&str) -> Settings,
        unmapped: Option<&'static [u8]>,
    ) -> Result<LoadedPlugin, LoadError> {
        let (kind, version) = exported_kind(runtime, file, &compiled)?;
        let Some(contract) = Contract::of_version(&version) else {
            return Err(LoadError::Incompatible {
                file: file.to_path_buf(),
                kind: kind.as_str(),
                reason: contract::unsupported((!version.is_empty()).then_some(version.as_str())),
            });
        };
        let target = Target {
            contract,
            version: &version,
        };
        let pre = runtime
            .linker()
            .instantiate_pre(&compiled.component)
            .map_err(|e| LoadError::Incompatible {
                file: file.to_path_buf(),
                kind: kind.as_str(),
                reason: format!("{e}"),
            })?;
        let remap = unmapped.map(|bytes| Remap {
            runtime: runtime.clone(),
            file: file.to_path_buf(),
            bytes,
            sha256: compiled.sha256.clone(),
            contract,
        });
        let (info, instances) = match kind {
            Kind::Router => {
                let (info, pool) = build_pool(runtime, file, pre, target, &settings, remap)?;
                (info, Instances::Router(pool))
            }
            Kind::Provider => {
                let (info, pool) = build_pool(runtime, file, pre, target, &settings, remap)?;
                (info, Instances::Provider(pool))
            }
            Kind::Sanitizer => {
                let (info, pool) = build_pool(runtime, file, pre, target, &settings, remap)?;
                (info, Instances::Sanitizer(pool))
            }
            Kind::Cost => {
                let (info, pool) = build_pool(runtime, file, pre, target, &settings, remap)?;
                (info, Instances::Cost(pool))
            }
        };
        Ok(LoadedPlugin {
            info,
            file: file.to_path_buf(),
            origin: Origin::File,
            sha256: compiled.sha256,
            loaded_at: SystemTime::now(),
            instances,
        })
    }

    pub fn name(&self) -> &str {
        &self.info.name
    }

    pub fn kind(&self) -> Kind {
        self.info.kind
    }

    pub fn limits(&self) -> &Limits {
        self.instances.limits()
    }

    /// A `WrongKind` error for calling a kind's function on another kind.
    pub fn wrong_kind(&self, expected: Kind) -> CallError {
        CallError::WrongKind {
            plugin: self.info.name.clone(),
            expected: expected.as_str(),
            actual: self.info.kind.as_str(),
        }
    }
}

/// Which plugin interface the component exports, and the contract version
/// in its export name (empty when it carries none).
fn exported_kind(
    runtime: &Runtime,
    file: &Path,
    compiled: &Compiled,
) -> Result<(Kind, String), LoadError> {
    let ty = compiled.component.component_type();
    let mut names = Vec::new();
    let mut kind = None;
    for (name, item) in ty.exports(runtime.engine()) {
        names.push(name.to_string());
        if matches!(item.ty, ComponentItem::ComponentInstance(_))
            && let Some(k) = Kind::from_export(name)
        {
            let version = contract::parse_export(name)
                .and_then(|(_, v)| v)
                .unwrap_or_default();
            kind = Some((k, version.to_string()));
        }
    }
    kind.ok_or_else(|| LoadError::WrongWorld {
        file: file.to_path_buf(),
        exports: names.join(", "),
    })
}

/// The contract a component targets: its bound version and the exact one.
#[derive(Clone, Copy)]
struct Target<'a> {
    contract: Contract,
    version: &'a str,
}

/// Describes the plugin, checks its config, and starts the first instance.
fn build_pool<W: World>(
    runtime: &Runtime,
    file: &Path,
    pre: wasmtime::component::InstancePre<super::store::HostState>,
    target: Target<'_>,
    settings: &impl Fn(&str) -> Settings,
    remap: Option<Remap>,
) -> Result<(Info, Pool<W>), LoadError> {
    let pre = W::pre(pre, target.contract).map_err(|e| LoadError::Incompatible {
        file: file.to_path_buf(),
        kind: W::KIND,
        reason: format!("{e}"),
    })?;
    // Describe on a bootstrap pool with default limits: the name (and so the
    // settings) is not known before describe answers.
    let bootstrap: Pool<W> = Pool::new(
        Arc::from(file.display().to_string()),
        runtime.engine().clone(),
        pre,
    );
    let describe_err = |reason: String| LoadError::Describe {
        file: file.to_path_buf(),
        reason,
    };
    let mut slot = bootstrap
        .instantiate()
        .map_err(|e| describe_err(e.to_string()))?;
    let described = slot.bindings.describe(&mut slot.store);
    bootstrap.log_output(&slot.store);
    let raw =
        described.map_err(|e| describe_err(bootstrap.classify(&slot.store, e).to_string()))?;
    let declared = Kind::from_wit(raw.kind);
    let exported = kind_of::<W>();
    if declared != exported {
        return Err(LoadError::KindMismatch {
            file: file.to_path_buf(),
            declared: declared.as_str(),
            exported: exported.as_str(),
        });
    }
    if !valid_name(&raw.name) {
        return Err(LoadError::BadName {
            file: file.to_path_buf(),
            name: raw.name,
        });
    }
    let config_schema = match &raw.config_schema {
        None => None,
        Some(text) => Some(
            serde_json::from_str::<serde_json::Value>(text).map_err(|e| LoadError::BadSchema {
                plugin: raw.name.clone(),
                reason: e.to_string(),
            })?,
        ),
    };
    let info = Info {
        name: raw.name.clone(),
        version: raw.version.clone(),
        kind: declared,
        provider_prefixes: raw.provider_prefixes.clone(),
        config_schema,
        description: raw.description.clone(),
        contract: target.version.to_string(),
    };
    let Settings {
        config,
        limits,
        deployments,
        ..
    } = settings(&info.name);
    limits
        .validate()
        .map_err(|reason| LoadError::ConfigInvalid {
            plugin: info.name.clone(),
            reason: format!("limits: {reason}"),
        })?;
    check_config(&info, &config)?;

    let pool = bootstrap.configure(
        Arc::from(info.name.as_str()),
        config.to_string(),
        limits,
        deployments,
    );
    // Start one instance now: a config the plugin rejects fails the load,
    // not the first request. It is dropped again, so a plugin that is loaded
    // but never called holds no instance memory.
    pool.start().map_err(|e| LoadError::Init {
        plugin: info.name.clone(),
        reason: e.to_string(),
    })?;
    let pool = match remap {
        Some(remap) => pool.dormant(remap),
        None => pool,
    };
    Ok((info, pool))
}

fn kind_of<W: World>() -> Kind {
    match W::KIND {
        "router" => Kind::Router,
        "provider" => Kind::Provider,
        "sanitizer" => Kind::Sanitizer,
        _ => Kind::Cost,
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Checks a config against the plugin's JSON Schema, naming every problem.
fn check_config(info: &Info, config: &serde_json::Value) -> Result<(), LoadError> {
    let Some(schema) = &info.config_schema else {
        return Ok(());
    };
    let validator = jsonschema::validator_for(schema).map_err(|e| LoadError::BadSchema {
        plugin: info.name.clone(),
        reason: e.to_string(),
    })?;
    let problems: Vec<String> = validator
        .iter_errors(config)
        .map(|e| {
            let path = e.instance_path().to_string();
            if path.is_empty() {
                e.to_string()
            } else {
                format!("{path}: {e}")
            }
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(LoadError::ConfigInvalid {
            plugin: info.name.clone(),
            reason: problems.join("; "),
        })
    }
}
