//! Re-initialising plugins whose settings changed (a config reload): each
//! one is loaded again beside the running version with the new settings,
//! and only when every one succeeded are they swapped in together, so a
//! plugin config the plugin rejects leaves every plugin as it was.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::super::builtin::Builtin;
use super::super::loaded::{LoadedPlugin, Origin, Settings};
use super::{Registry, lock};

/// Plugins loaded with new settings, not yet serving, each beside the
/// version it replaces.
pub struct Prepared {
    plugins: Vec<(Arc<LoadedPlugin>, Arc<LoadedPlugin>)>,
}

impl Prepared {
    /// The names that will be swapped in.
    pub fn names(&self) -> Vec<String> {
        self.plugins
            .iter()
            .map(|(_, p)| p.name().to_string())
            .collect()
    }
}

impl Registry {
    /// Loads again, with `settings`, each active plugin (and each built-in
    /// one a file overrides) whose settings differ under `settings` from
    /// what `before` gives it. Nothing serves them yet: see
    /// [`Registry::commit`]. The first that fails is the error, naming the
    /// plugin.
    pub fn prepare(
        &self,
        before: &(dyn Fn(&str) -> Settings + Send + Sync),
        settings: &(dyn Fn(&str) -> Settings + Send + Sync),
        builtins: &[Builtin],
    ) -> Result<Prepared, String> {
        let _guard = self.change.lock().unwrap_or_else(|e| e.into_inner());
        let set = self.snapshot();
        let mut candidates: Vec<Arc<LoadedPlugin>> = set.iter().cloned().collect();
        for b in lock(&self.builtins).values() {
            if !candidates.iter().any(|p| Arc::ptr_eq(p, b)) {
                candidates.push(b.clone());
            }
        }
        let bytes: BTreeMap<PathBuf, &Builtin> = builtins.iter().map(|b| (b.path(), b)).collect();
        let promoted = lock(&self.promoted).clone();
        let own_configs = lock(&self.promoted_config).clone();
        let mut plugins = Vec::new();
        for old in candidates {
            let name = old.name().to_string();
            // A promoted shadow candidate keeps its own config (its shadow
            // spec's) in place of the live plugin's section.
            let own = promoted
                .get(&name)
                .filter(|p| Arc::ptr_eq(p, &old))
                .and_then(|_| own_configs.get(&name));
            let before = with_own(before, own);
            let settings = with_own(settings, own);
            if same(&before(&name), &settings(&name)) {
                continue;
            }
            let loaded = match old.origin {
                Origin::Builtin => {
                    let Some(b) = bytes.get(&old.file) else {
                        return Err(format!(
                            "plugin {name}: built-in file {} is gone",
                            old.file.display()
                        ));
                    };
                    b.load(&self.runtime, &settings)
                }
                Origin::File => LoadedPlugin::load_file(&self.runtime, &old.file, &settings),
            };
            let plugin = loaded.map_err(|e| format!("plugin {name}: {e}"))?;
            if plugin.name() != name {
                return Err(format!(
                    "plugin {name}: its file now describes itself as {:?}; it reloads through the plugins directory",
                    plugin.name()
                ));
            }
            plugins.push((old, Arc::new(plugin)));
        }
        Ok(Prepared { plugins })
    }

    /// Serves the prepared plugins in place of the versions they were
    /// loaded from, in one swap (calls in flight finish on the old ones).
    /// A plugin the directory watcher replaced or removed meanwhile is
    /// left as the watcher made it.
    pub fn commit(&self, prepared: Prepared) {
        let _guard = self.change.lock().unwrap_or_else(|e| e.into_inner());
        let mut builtins = lock(&self.builtins);
        let mut promoted = lock(&self.promoted);
        let current = self.snapshot();
        let mut serve = Vec::new();
        for (old, new) in prepared.plugins {
            let name = new.name().to_string();
            if let Some(slot) = promoted.get_mut(&name)
                && Arc::ptr_eq(slot, &old)
            {
                *slot = new.clone();
            }
            if let Some(slot) = builtins.get_mut(&name)
                && Arc::ptr_eq(slot, &old)
            {
                *slot = new.clone();
            }
            if current.get(&name).is_some_and(|a| Arc::ptr_eq(a, &old)) {
                serve.push(new);
            }
        }
        drop(builtins);
        drop(promoted);
        self.swap(|set| {
            for p in serve {
                set.by_name.insert(p.name().to_string(), p);
            }
        });
    }
}

/// `settings` with `own` in place of each plugin's config, when given.
fn with_own<'a>(
    settings: &'a (dyn Fn(&str) -> Settings + Send + Sync),
    own: Option<&'a serde_json::Value>,
) -> impl Fn(&str) -> Settings + 'a {
    move |n| {
        let mut s = settings(n);
        if let Some(c) = own {
            s.config = c.clone();
        }
        s
    }
}

/// Whether two settings configure a plugin alike (the routing table holds
/// no float that formats two ways, so its debug text compares).
fn same(a: &Settings, b: &Settings) -> bool {
    a.config == b.config
        && a.limits == b.limits
        && format!("{:?}", a.deployments) == format!("{:?}", b.deployments)
}
