//! `switchyard plugin inspect`: what a component says about itself and what
//! it imports and exports.

use std::fmt::Write as _;
use std::path::Path;

use wasmtime::component::types::ComponentItem;

use crate::plugins::builtin;
use crate::plugins::contract::{self, Contract};
use crate::plugins::loaded::{LoadedPlugin, Settings};
use crate::plugins::runtime::{Runtime, sha256_hex};

/// Renders the report for one file. Loading needs a config the plugin
/// accepts; `{}` is tried, and a plugin that requires more still shows its
/// imports and exports with the load error.
///
/// `target` is a file, or the name of a built-in plugin (`openai`) when no
/// such file exists.
pub fn inspect(runtime: &Runtime, target: &Path) -> anyhow::Result<String> {
    let (builtins, _) = builtin::builtins();
    let named = target.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    // Only a bare name (`openai`) means a built-in plugin: a path that does
    // not exist is an error, not a built-in plugin of the same stem.
    let bare = target.components().count() == 1 && target.extension().is_none();
    let embedded = (bare && !target.exists())
        .then(|| builtins.iter().find(|b| b.file == format!("{named}.wasm")))
        .flatten();
    let (file, bytes, origin) = match embedded {
        Some(b) => (
            b.path(),
            b.bytes.to_vec(),
            "built in (ships with the gateway; a plugins.dir file of the same name overrides it)",
        ),
        None => (
            target.to_path_buf(),
            std::fs::read(target).map_err(|e| {
                anyhow::anyhow!(
                    "{}: cannot read: {e} (built-in plugins: {})",
                    target.display(),
                    builtins
                        .iter()
                        .map(|b| b.file.trim_end_matches(".wasm"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?,
            "file",
        ),
    };
    let compiled = runtime.compile(&file, &bytes, &sha256_hex(&bytes))?;
    let mut out = String::new();
    let _ = writeln!(out, "file:     {}", file.display());
    let _ = writeln!(out, "origin:   {origin}");
    let _ = writeln!(out, "sha256:   {}", compiled.sha256);
    let _ = writeln!(out, "size:     {} bytes", bytes.len());
    let _ = writeln!(out, "contract: {}", contract_line(runtime, &compiled));
    match LoadedPlugin::from_compiled(runtime, &file, compiled.clone(), |_| Settings::default()) {
        Ok(p) => {
            let i = &p.info;
            let _ = writeln!(out, "name:     {}", i.name);
            let overrides = embedded.is_none()
                && builtins
                    .iter()
                    .any(|b| b.file.trim_end_matches(".wasm") == i.name);
            if overrides {
                let _ = writeln!(
                    out,
                    "overrides: the built-in plugin {} when placed in plugins.dir",
                    i.name
                );
            }
            let _ = writeln!(out, "version:  {}", i.version);
            let _ = writeln!(out, "kind:     {}", i.kind.as_str());
            if !i.provider_prefixes.is_empty() {
                let _ = writeln!(out, "serves:   {}", i.provider_prefixes.join(", "));
            }
            if let Some(d) = &i.description {
                let _ = writeln!(out, "about:    {d}");
            }
            match &i.config_schema {
                Some(s) => {
                    let pretty = serde_json::to_string_pretty(s).unwrap_or_default();
                    let _ = writeln!(out, "config schema:\n{}", indent(&pretty));
                }
                None => {
                    let _ = writeln!(out, "config schema: (none: any config accepted)");
                }
            }
        }
        Err(e) => {
            let _ = writeln!(out, "load:     FAILED with an empty config: {e}");
        }
    }
    let ty = compiled.component.component_type();
    let _ = writeln!(out, "imports:");
    for (name, item) in ty.imports(runtime.engine()) {
        let _ = writeln!(out, "  {name} ({})", item_kind(&item.ty));
    }
    let _ = writeln!(out, "exports:");
    for (name, item) in ty.exports(runtime.engine()) {
        let _ = writeln!(out, "  {name} ({})", item_kind(&item.ty));
    }
    Ok(out)
}

/// The contract version the component's plugin export names, and whether
/// this gateway binds it (and how: natively, or adapted to the current one).
fn contract_line(runtime: &Runtime, compiled: &crate::plugins::runtime::Compiled) -> String {
    let ty = compiled.component.component_type();
    let version = ty.exports(runtime.engine()).find_map(|(name, _)| {
        contract::parse_export(name).map(|(_, v)| v.unwrap_or_default().to_string())
    });
    match version {
        None => "none (no switchyard:plugin export)".into(),
        Some(v) => match Contract::of_version(&v) {
            Some(Contract::V0_3) => format!("switchyard:plugin@{v} (current)"),
            Some(_) => format!(
                "switchyard:plugin@{v} (older; the gateway adapts its calls to {})",
                contract::CURRENT
            ),
            None => format!(
                "switchyard:plugin@{v}: not served ({})",
                contract::unsupported(Some(&v))
            ),
        },
    }
}

fn item_kind(item: &ComponentItem) -> &'static str {
    match item {
        ComponentItem::ComponentFunc(_) => "function",
        ComponentItem::CoreFunc(_) => "core function",
        ComponentItem::Module(_) => "module",
        ComponentItem::Component(_) => "component",
        ComponentItem::ComponentInstance(_) => "instance",
        ComponentItem::Type(_) => "type",
        ComponentItem::Resource(_) => "resource",
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
