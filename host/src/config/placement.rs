//! Keys written at a level where Switchyard does not read them but another
//! level does: `master_key` under `litellm_settings`, `num_retries` under
//! `general_settings`, `api_key` on a `model_list` entry instead of under
//! its `litellm_params`, `rpm` under `model_info`, prices under
//! `litellm_params` (where LiteLLM also takes them).
//!
//! Each such key is moved to where it belongs, with a warning saying so,
//! unless that level sets it too (then it is ignored, with a warning).
//! Which level reads a key is asked of the section types themselves
//! ([`Part::reads`]), so there is no list to keep in step.

use std::collections::BTreeSet;

use serde_yaml::Value;

use super::cache::{self, RawCacheParams};
use super::error::KeyPath;
use super::notes::Notes;
use super::raw::{
    Part, RawEntry, RawGeneral, RawLitellm, RawModelInfo, RawParams, RawReliability, RawRoot,
    RawRouter, RawStrategyArgs,
};

type Reads = fn(&str) -> bool;

/// A mapping where keys may be misplaced, and the levels they may belong
/// to, in order of preference.
struct Level {
    at: KeyPath,
    reads: Reads,
    homes: Vec<(KeyPath, Reads)>,
    /// Whether keys it has no field for are still used (`litellm_params`
    /// passes them to the adapter, `model_info` to routers and cost rules).
    keeps_others: bool,
}

/// Moves every misplaced key of `root` to where it belongs. The cache's
/// keys get two steps of their own: a mapping of cache settings in
/// `general_settings.cache` goes first ([`cache::shape`]), and the params
/// of a cache that is off go last ([`cache::drop_unused_params`]).
pub fn relocate(root: &mut Value, notes: &mut Notes) {
    cache::shape(root, notes);
    for level in levels(root) {
        relocate_level(root, &level, notes);
    }
    cache::drop_unused_params(root, notes);
}

/// Every key no level reads (after [`relocate`]): its value never matters,
/// so, for one, an environment variable it names need not be set.
pub fn unread(root: &Value) -> BTreeSet<KeyPath> {
    levels(root)
        .into_iter()
        .filter(|level| !level.keeps_others)
        .flat_map(|level| {
            let keys: Vec<String> = level
                .at
                .get(root)
                .and_then(Value::as_mapping)
                .into_iter()
                .flat_map(|m| m.keys().filter_map(Value::as_str))
                .filter(|k| !(level.reads)(k))
                .map(str::to_string)
                .collect();
            keys.into_iter().map(move |k| level.at.key(&k))
        })
        .collect()
}

fn levels(root: &Value) -> Vec<Level> {
    let top = KeyPath::root();
    let settings: [(KeyPath, Reads); 3] = [
        (top.key("general_settings"), RawGeneral::reads),
        (top.key("router_settings"), |k| {
            RawRouter::reads(k) || RawReliability::reads(k)
        }),
        (top.key("litellm_settings"), |k| {
            RawLitellm::reads(k) || RawReliability::reads(k)
        }),
    ];
    let mut levels = vec![Level {
        at: top.clone(),
        reads: RawRoot::reads,
        homes: settings.to_vec(),
        keeps_others: false,
    }];
    levels.push(Level {
        at: top.key("router_settings").key("routing_strategy_args"),
        reads: RawStrategyArgs::reads,
        homes: Vec::new(),
        keeps_others: false,
    });
    for (i, (at, reads)) in settings.iter().enumerate() {
        let homes = settings
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, home)| home.clone())
            .collect();
        levels.push(Level {
            at: at.clone(),
            reads: *reads,
            homes,
            keeps_others: false,
        });
    }
    // Nothing moves into or out of the cache's params; their unknown keys
    // are unread.
    for params in ["cache_params", "cache_kwargs"] {
        levels.push(Level {
            at: top.key("litellm_settings").key(params),
            reads: RawCacheParams::reads,
            homes: Vec::new(),
            keeps_others: false,
        });
    }
    let entries = top
        .key("model_list")
        .get(root)
        .and_then(Value::as_sequence)
        .map_or(0, Vec::len);
    for i in 0..entries {
        let entry = top.key("model_list").index(i);
        let params = (entry.key("litellm_params"), RawParams::reads as Reads);
        let info = (entry.key("model_info"), RawModelInfo::reads as Reads);
        levels.push(Level {
            at: entry,
            reads: RawEntry::reads,
            homes: vec![params.clone(), info.clone()],
            keeps_others: false,
        });
        levels.push(Level {
            at: info.0.clone(),
            reads: info.1,
            homes: vec![params.clone()],
            keeps_others: true,
        });
        levels.push(Level {
            at: params.0,
            reads: params.1,
            homes: vec![info],
            keeps_others: true,
        });
    }
    levels
}

fn relocate_level(root: &mut Value, level: &Level, notes: &mut Notes) {
    let Some(map) = level.at.get(root).and_then(Value::as_mapping) else {
        return;
    };
    let misplaced: Vec<String> = map
        .keys()
        .filter_map(Value::as_str)
        .filter(|k| !(level.reads)(k))
        .map(str::to_string)
        .collect();
    for key in misplaced {
        let homes: Vec<&KeyPath> = level
            .homes
            .iter()
            .filter(|(_, reads)| reads(&key))
            .map(|(at, _)| at)
            .collect();
        let Some(home) = homes.first() else {
            continue;
        };
        // Only into a mapping (or where one can be made).
        if home
            .get(root)
            .is_some_and(|v| !v.is_null() && !v.is_mapping())
        {
            continue;
        }
        let from = level.at.key(&key);
        let Some(value) = from.remove(root) else {
            continue;
        };
        if value.is_null() {
            continue;
        }
        if let Some(set) = homes
            .iter()
            .map(|h| h.key(&key))
            .find(|to| to.get(root).is_some_and(|v| !v.is_null()))
        {
            notes.warn(format!(
                "{from} belongs at {set}, which is also set; {from} is ignored"
            ));
            continue;
        }
        let to = home.key(&key);
        if let Some(dest) = home.mapping_mut(root) {
            dest.insert(Value::String(key), value);
            notes.warn(format!("{from} belongs at {to}; used there"));
            notes.moved(from, to);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relocated(yaml: &str) -> (Value, Vec<String>) {
        let mut v: Value = serde_yaml::from_str(yaml).unwrap();
        let mut notes = Notes::default();
        relocate(&mut v, &mut notes);
        (v, notes.warnings)
    }

    #[test]
    fn settings_keys_move_to_the_section_that_reads_them() {
        let (v, w) = relocated(
            "master_key: sk-top\nlitellm_settings: {master_key: sk-1, redis_host: r, num_retries: 2, drop_params: true}\ngeneral_settings: {fallbacks: [{a: [b]}], database_url: x}\n",
        );
        assert_eq!(v["general_settings"]["master_key"], "sk-top");
        assert_eq!(v["router_settings"]["redis_host"], "r");
        assert_eq!(v["router_settings"]["fallbacks"][0]["a"][0], "b");
        // Documented in litellm_settings too, and kept there.
        assert_eq!(v["litellm_settings"]["num_retries"], 2);
        // Not read anywhere: left for the "not used" warning.
        assert_eq!(v["litellm_settings"]["drop_params"], true);
        assert_eq!(v["general_settings"]["database_url"], "x");
        assert_eq!(
            w,
            [
                "master_key belongs at general_settings.master_key; used there",
                "general_settings.fallbacks belongs at router_settings.fallbacks; used there",
                "litellm_settings.master_key belongs at general_settings.master_key, which is also set; litellm_settings.master_key is ignored",
                "litellm_settings.redis_host belongs at router_settings.redis_host; used there",
            ]
        );
    }

    #[test]
    fn model_list_keys_move_between_entry_params_and_info() {
        let (v, w) = relocated(
            "model_list:\n  - model_name: a\n    model: openai/x\n    api_key: k\n    input_cost_per_token: 0.1\n    notes: hi\n    model_info: {rpm: 5, tpm: 6, max_tokens: 9, mode: chat}\n    litellm_params: {tpm: 1, output_cost_per_token: 0.2, organization: o}\n",
        );
        let e = &v["model_list"][0];
        assert_eq!(e["litellm_params"]["model"], "openai/x");
        assert_eq!(e["litellm_params"]["api_key"], "k");
        assert_eq!(e["litellm_params"]["rpm"], 5);
        assert_eq!(e["litellm_params"]["tpm"], 1);
        assert_eq!(e["litellm_params"]["organization"], "o");
        assert_eq!(e["model_info"]["input_cost_per_token"], 0.1);
        assert_eq!(e["model_info"]["output_cost_per_token"], 0.2);
        assert_eq!(e["model_info"]["max_tokens"], 9);
        assert_eq!(e["notes"], "hi");
        assert_eq!(
            w,
            [
                "model_list[0].model belongs at model_list[0].litellm_params.model; used there",
                "model_list[0].api_key belongs at model_list[0].litellm_params.api_key; used there",
                "model_list[0].input_cost_per_token belongs at model_list[0].model_info.input_cost_per_token; used there",
                "model_list[0].model_info.rpm belongs at model_list[0].litellm_params.rpm; used there",
                "model_list[0].model_info.tpm belongs at model_list[0].litellm_params.tpm, which is also set; model_list[0].model_info.tpm is ignored",
                "model_list[0].litellm_params.output_cost_per_token belongs at model_list[0].model_info.output_cost_per_token; used there",
            ]
        );
    }
}
