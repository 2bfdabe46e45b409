//! From text to typed sections: YAML, misplaced keys, environment
//! references, then each section read into its serde type (quirks mended), with
//! one warning per key no section reads.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde_yaml::{Mapping, Value};

use super::error::{ConfigError, KeyPath};
use super::money::RawRule;
use super::notes::Notes;
use super::plugins::PluginsSection;
use super::raw::{RawEntry, RawGeneral, RawLitellm, RawReliability, RawRoot, RawRouter};
use super::{env, mend, placement, webhooks};

/// The file's sections, typed, before the checks that span sections.
#[derive(Debug)]
pub struct RawConfig {
    pub general: RawGeneral,
    pub router: RawRouter,
    pub litellm: RawLitellm,
    /// Reliability keys from `router_settings`, then from
    /// `litellm_settings`: the first to set a key wins, as in LiteLLM.
    pub reliability: [(KeyPath, RawReliability); 2],
    pub model_list: Vec<RawEntry>,
    pub plugins: PluginsSection,
    pub limits: Vec<RawRule>,
    /// The hooks that are on.
    pub webhooks: webhooks::Hooks,
}

/// Reads `text`, taking variables from `process` and then the file's
/// `environment_variables`; `notes` gathers the warnings.
pub fn read(text: &str, process: env::Lookup, notes: &mut Notes) -> Result<RawConfig, ConfigError> {
    let mut root: Value = serde_yaml::from_str(text)?;
    // `<<: *anchor` merge keys, which PyYAML (hence LiteLLM) applies.
    root.apply_merge()?;
    if root.is_null() {
        root = Value::Mapping(Mapping::new());
    }
    if !root.is_mapping() {
        return Err(ConfigError::NotSections);
    }
    let top = KeyPath::root();
    let mut vars_v = root
        .get("environment_variables")
        .cloned()
        .unwrap_or(Value::Null);
    // LiteLLM stringifies these values (`os.environ[k] = str(v)`): a number
    // here is no quirk worth a warning.
    let file_vars: BTreeMap<String, String> = section(
        &mut vars_v,
        &top.key("environment_variables"),
        &mut Notes::default(),
    )?;
    placement::relocate(&mut root, notes);
    let vars = |name: &str| process(name).or_else(|| file_vars.get(name).cloned());
    let mut unread = placement::unread(&root);
    let hooks_on = webhooks::listed(&root);
    unread.extend(webhooks::unread(&root, &hooks_on));
    env::expand(&mut root, &vars, &unread, notes)?;

    let sections: RawRoot = mend::read(&mut root, &top, notes)?;
    ignored(&top, [&sections.unknown], notes);
    let value = |v: Option<Value>| v.unwrap_or(Value::Null);

    let general_at = top.key("general_settings");
    let mut general_v = value(sections.general_settings);
    let general: RawGeneral = section(&mut general_v, &general_at, notes)?;
    ignored(&general_at, [&general.unknown], notes);

    let router_at = top.key("router_settings");
    let mut router_v = value(sections.router_settings);
    let router: RawRouter = section(&mut router_v, &router_at, notes)?;
    let router_reliability: RawReliability = section(&mut router_v, &router_at, notes)?;
    ignored(
        &router_at,
        [&router.unknown, &router_reliability.unknown],
        notes,
    );
    if let Some(args) = &router.routing_strategy_args {
        ignored(
            &router_at.key("routing_strategy_args"),
            [&args.unknown],
            notes,
        );
    }

    let litellm_at = top.key("litellm_settings");
    let mut litellm_v = value(sections.litellm_settings);
    let litellm: RawLitellm = section(&mut litellm_v, &litellm_at, notes)?;
    let litellm_reliability: RawReliability = section(&mut litellm_v, &litellm_at, notes)?;
    ignored(
        &litellm_at,
        [&litellm.unknown, &litellm_reliability.unknown],
        notes,
    );

    let list_at = top.key("model_list");
    let mut list_v = value(sections.model_list);
    // Entry by entry, so that mending one entry re-reads only that one.
    let items: Vec<Value> = section(&mut list_v, &list_at, notes)?;
    let mut model_list = Vec::with_capacity(items.len());
    for (i, mut item) in items.into_iter().enumerate() {
        let at = list_at.index(i);
        let entry: RawEntry = mend::read(&mut item, &at, notes)?;
        ignored(&at, [&entry.unknown], notes);
        model_list.push(entry);
    }

    let mut plugins_v = value(sections.plugins);
    let plugins: PluginsSection = section(&mut plugins_v, &top.key("plugins"), notes)?;

    let mut limits_v = value(sections.limits);
    let limits: Vec<RawRule> = section(&mut limits_v, &top.key("limits"), notes)?;

    let mut webhooks_v = value(sections.webhooks);
    let webhooks = webhooks::read(
        &mut webhooks_v,
        &top.key("webhooks"),
        &hooks_on,
        &vars,
        notes,
    )?;

    Ok(RawConfig {
        limits,
        webhooks,
        general,
        router,
        litellm,
        reliability: [
            (router_at, router_reliability),
            (litellm_at, litellm_reliability),
        ],
        model_list,
        plugins,
    })
}

/// Reads the section `value`, found at `at`; `null` (or absent) is empty.
fn section<T: DeserializeOwned + Default>(
    value: &mut Value,
    at: &KeyPath,
    notes: &mut Notes,
) -> Result<T, ConfigError> {
    if value.is_null() {
        return Ok(T::default());
    }
    mend::read(value, at, notes)
}

/// One warning per key that every part of a section leaves unread.
fn ignored<const N: usize>(at: &KeyPath, parts: [&BTreeMap<String, Value>; N], notes: &mut Notes) {
    let Some((first, others)) = parts.split_first() else {
        return;
    };
    for key in first.keys() {
        if others.iter().all(|p| p.contains_key(key)) {
            notes.warn(format!(
                "{} is not used by Switchyard and is ignored",
                at.key(key)
            ));
        }
    }
}
