//! The set of active plugins, swapped atomically on every change, and the
//! status of every file in the plugins directory (for `GET /admin/plugins`).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use serde::Serialize;

use super::builtin::Builtin;
use super::error::LoadError;
use super::loaded::{Kind, LoadedPlugin, Origin, Settings};
use super::runtime::Runtime;

mod reconfigure;
pub use reconfigure::Prepared;

/// Looks up a plugin's config and limits by the name it describes.
pub type SettingsFn = Arc<dyn Fn(&str) -> Settings + Send + Sync>;

/// The active plugins, by name. Readers take a snapshot with
/// [`Registry::snapshot`]; a call in flight keeps its version alive.
#[derive(Default)]
pub struct ActiveSet {
    by_name: HashMap<String, Arc<LoadedPlugin>>,
}

impl ActiveSet {
    pub fn get(&self, name: &str) -> Option<&Arc<LoadedPlugin>> {
        self.by_name.get(name)
    }

    /// Every active plugin of `kind`, by name.
    pub fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &Arc<LoadedPlugin>> {
        self.by_name.values().filter(move |p| p.kind() == kind)
    }

    /// The provider adapter serving `prefix` (for example `anthropic`).
    pub fn provider_for(&self, prefix: &str) -> Option<&Arc<LoadedPlugin>> {
        self.of_kind(Kind::Provider)
            .find(|p| p.info.provider_prefixes.iter().any(|x| x == prefix))
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// Stops serving `name` from a file: the built-in plugin of that name,
    /// if any, serves again.
    fn unserve(&mut self, name: &str, builtins: &BTreeMap<String, Arc<LoadedPlugin>>) {
        match builtins.get(name) {
            Some(b) => {
                self.by_name.insert(name.to_string(), b.clone());
            }
            None => {
                self.by_name.remove(name);
            }
        }
    }

    /// Every active plugin.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<LoadedPlugin>> {
        self.by_name.values()
    }
}

/// `active`, `failed` or `overridden`, as the admin API reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Active,
    Failed,
    /// A built-in plugin replaced by a file of the same name in the plugins
    /// directory.
    Overridden,
    /// A file whose plugin a promoted shadow candidate replaced.
    Superseded,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Failed => "failed",
            Status::Overridden => "overridden",
            Status::Superseded => "superseded",
        }
    }
}

/// One row of `GET /admin/plugins`.
#[derive(Debug, Clone, Serialize)]
pub struct PluginStatus {
    pub name: Option<String>,
    pub kind: Option<Kind>,
    pub version: Option<String>,
    /// The file, or `builtin:<file>` for a built-in plugin.
    pub file: String,
    /// `builtin` or `file`.
    pub origin: Origin,
    /// For a file: whether it replaces a built-in plugin of the same name.
    pub overrides_builtin: bool,
    pub sha256: Option<String>,
    pub status: Status,
    /// RFC 3339 time the active version was loaded.
    pub loaded_at: Option<String>,
    /// Why the newest version of the file failed; the older version, if any,
    /// stays active.
    pub error: Option<String>,
}

impl PluginStatus {
    /// A file row with nothing loaded from it.
    fn of_nothing() -> PluginStatus {
        PluginStatus {
            name: None,
            kind: None,
            version: None,
            file: String::new(),
            origin: Origin::File,
            overrides_builtin: false,
            sha256: None,
            status: Status::Failed,
            loaded_at: None,
            error: None,
        }
    }

    /// The row of a loaded plugin.
    fn of(p: &LoadedPlugin, status: Status) -> PluginStatus {
        PluginStatus {
            name: Some(p.info.name.clone()),
            kind: Some(p.kind()),
            version: Some(p.info.version.clone()),
            file: p.file.display().to_string(),
            origin: p.origin,
            overrides_builtin: false,
            sha256: Some(p.sha256.clone()),
            status,
            loaded_at: Some(rfc3339(p.loaded_at)),
            error: None,
        }
    }
}

#[derive(Default)]
struct FileState {
    /// The name this file's active version serves.
    active_name: Option<String>,
    /// The SHA-256 of the last content tried, so unchanged files are skipped.
    last_sha: Option<String>,
    error: Option<String>,
}

/// Loads, reloads and unloads plugins; serves the active set.
pub struct Registry {
    runtime: Runtime,
    settings: SettingsFn,
    active: ArcSwap<ActiveSet>,
    /// The built-in plugins by name; a file of the same name overrides one,
    /// and removing that file brings it back.
    builtins: Mutex<BTreeMap<String, Arc<LoadedPlugin>>>,
    /// Built-in plugins that failed to load, by file.
    builtin_errors: Mutex<BTreeMap<String, String>>,
    files: Mutex<BTreeMap<PathBuf, FileState>>,
    /// Serialises changes so two reloads never race on the same name.
    change: Mutex<()>,
    /// Shadow candidates promoted to live, by the name they serve under,
    /// until a file of the plugins directory serves that name again.
    promoted: Mutex<BTreeMap<String, Arc<LoadedPlugin>>>,
    /// The shadow spec's own `config` of a promoted candidate, by name: a
    /// config reload that loads it again keeps it (see reconfigure.rs).
    promoted_config: Mutex<BTreeMap<String, serde_json::Value>>,
}

/// Why a promotion failed.
#[derive(Debug, thiserror::Error)]
pub enum PromoteError {
    #[error("no plugin named {0:?} is loaded")]
    NoPlugin(String),
    #[error(
        "the candidate is a {candidate} plugin and {name:?} a {live} plugin; a candidate replaces a plugin of its own kind"
    )]
    WrongKind {
        name: String,
        live: &'static str,
        candidate: &'static str,
    },
}

/// What a reload did, for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Loaded { name: String, version: String },
    Unchanged,
    Removed { name: String },
    Failed { error: String },
}

impl Registry {
    pub fn new(runtime: Runtime, settings: SettingsFn) -> Registry {
        Registry {
            runtime,
            settings,
            active: ArcSwap::from_pointee(ActiveSet::default()),
            builtins: Mutex::new(BTreeMap::new()),
            builtin_errors: Mutex::new(BTreeMap::new()),
            files: Mutex::new(BTreeMap::new()),
            change: Mutex::new(()),
            promoted: Mutex::new(BTreeMap::new()),
            promoted_config: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The active plugins now. Cheap; hold it for the length of a request.
    pub fn snapshot(&self) -> Arc<ActiveSet> {
        self.active.load_full()
    }

    /// Loads the built-in plugins. Each serves under its name unless a file
    /// of the plugins directory already does. One that fails is reported,
    /// not fatal.
    pub fn load_builtins(&self, list: &[Builtin]) -> Vec<(String, Change)> {
        let _guard = self.change.lock().unwrap_or_else(|e| e.into_inner());
        list.iter()
            .map(|b| {
                let settings = self.settings.clone();
                let change = match b.load(&self.runtime, |n| settings(n)) {
                    Ok(plugin) => {
                        let plugin = Arc::new(plugin);
                        let name = plugin.name().to_string();
                        let version = plugin.info.version.clone();
                        lock(&self.builtins).insert(name.clone(), plugin.clone());
                        self.swap(|set| {
                            set.by_name.entry(name.clone()).or_insert(plugin);
                        });
                        tracing::debug!(plugin = %name, %version, "built-in plugin loaded");
                        Change::Loaded { name, version }
                    }
                    Err(e) => {
                        let error = e.to_string();
                        tracing::error!(file = %b.file, %error, "built-in plugin failed to load");
                        lock(&self.builtin_errors).insert(b.file.clone(), error.clone());
                        Change::Failed { error }
                    }
                };
                (b.file.clone(), change)
            })
            .collect()
    }

    /// Loads every `*.wasm` in `dir` (sorted, so duplicate names resolve the
    /// same way every time). Files that fail are reported, not fatal.
    pub fn load_dir(&self, dir: &Path) -> std::io::Result<Vec<(PathBuf, Change)>> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| is_plugin_file(p))
            .collect();
        files.sort();
        Ok(files
            .into_iter()
            .map(|f| {
                let change = self.reload(&f);
                (f, change)
            })
            .collect())
    }

    /// Brings one file's state in line with the disk: loads it if new or
    /// changed, unloads it if gone. A file that fails leaves the version
    /// that was active in place.
    pub fn reload(&self, file: &Path) -> Change {
        let _guard = self.change.lock().unwrap_or_else(|e| e.into_inner());
        let change = if file.exists() {
            self.load_locked(file)
        } else {
            self.remove_locked(file)
        };
        match &change {
            Change::Loaded { name, version } => {
                tracing::info!(file = %file.display(), plugin = %name, %version, "plugin loaded");
                crate::observe::plugin_reloaded(name, true);
            }
            Change::Removed { name } => {
                tracing::info!(file = %file.display(), plugin = %name, "plugin removed")
            }
            Change::Failed { error } => {
                tracing::error!(file = %file.display(), %error, "plugin failed to load; the previous version, if any, stays active");
                // The file's stem: the plugin's name is unknown when it failed.
                let stem = file
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or("unknown");
                crate::observe::plugin_reloaded(stem, false);
            }
            Change::Unchanged => {}
        }
        change
    }

    fn load_locked(&self, file: &Path) -> Change {
        let bytes = match std::fs::read(file) {
            Ok(b) => b,
            Err(source) => {
                let error = LoadError::Read {
                    file: file.to_path_buf(),
                    source,
                }
                .to_string();
                self.set_file(file, |s| s.error = Some(error.clone()));
                return Change::Failed { error };
            }
        };
        let sha = super::runtime::sha256_hex(&bytes);
        let unchanged = self
            .with_files(|files| files.get(file).and_then(|s| s.last_sha.clone()))
            .is_some_and(|last| last == sha);
        if unchanged {
            return Change::Unchanged;
        }
        let settings = self.settings.clone();
        let result = LoadedPlugin::load_bytes(&self.runtime, file, &bytes, &sha, |n| settings(n))
            .and_then(|plugin| {
                let current = self.snapshot();
                let promoted = lock(&self.promoted).get(plugin.name()).is_some_and(|p| {
                    current
                        .get(plugin.name())
                        .is_some_and(|a| Arc::ptr_eq(a, p))
                });
                if let Some(other) = current.get(plugin.name())
                    && other.origin == Origin::File
                    && other.file != file
                    && other.file.exists()
                    && !promoted
                {
                    return Err(LoadError::DuplicateName {
                        plugin: plugin.name().to_string(),
                        other: other.file.clone(),
                    });
                }
                Ok(plugin)
            });
        match result {
            Ok(plugin) => {
                let name = plugin.name().to_string();
                let version = plugin.info.version.clone();
                let previous_name =
                    self.with_files(|f| f.get(file).and_then(|s| s.active_name.clone()));
                let plugin = Arc::new(plugin);
                let builtins = lock(&self.builtins).clone();
                self.swap(|set| {
                    // The file may now serve a different name than before.
                    if let Some(prev) = &previous_name
                        && prev != &name
                    {
                        set.unserve(prev, &builtins);
                    }
                    set.by_name.insert(name.clone(), plugin.clone());
                });
                lock(&self.promoted).remove(&name);
                lock(&self.promoted_config).remove(&name);
                self.set_file(file, |s| {
                    s.active_name = Some(name.clone());
                    s.last_sha = Some(sha.clone());
                    s.error = None;
                });
                Change::Loaded { name, version }
            }
            Err(e) => {
                let error = e.to_string();
                self.set_file(file, |s| {
                    s.last_sha = Some(sha.clone());
                    s.error = Some(error.clone());
                });
                Change::Failed { error }
            }
        }
    }

    fn remove_locked(&self, file: &Path) -> Change {
        let state = self.with_files(|files| files.remove(file));
        match state.and_then(|s| s.active_name) {
            Some(name) => {
                let builtins = lock(&self.builtins).clone();
                self.swap(|set| {
                    if set.by_name.get(&name).is_some_and(|p| p.file == file) {
                        set.unserve(&name, &builtins);
                    }
                });
                Change::Removed { name }
            }
            None => Change::Unchanged,
        }
    }

    /// Loads a shadow candidate apart from the active set: configured as
    /// the plugin it describes is (its limits and config), with `config` in
    /// place of that config when given. Nothing serves it until promoted.
    pub fn load_candidate(
        &self,
        file: &Path,
        config: Option<serde_json::Value>,
    ) -> Result<LoadedPlugin, LoadError> {
        let settings = self.settings.clone();
        LoadedPlugin::load_file(&self.runtime, file, |n| {
            let mut s = settings(n);
            if let Some(c) = &config {
                s.config = c.clone();
            }
            s
        })
    }

    /// Serves `candidate` as `name` from now on, in one swap: calls in
    /// flight keep the version they hold. A later change to the file that
    /// served `name` replaces it again. `config` is the candidate's own
    /// config (its shadow spec's), kept when a config reload loads it again.
    pub fn promote(
        &self,
        name: &str,
        candidate: Arc<LoadedPlugin>,
        config: Option<serde_json::Value>,
    ) -> Result<(), PromoteError> {
        let _guard = self.change.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.snapshot();
        let live = current
            .get(name)
            .ok_or_else(|| PromoteError::NoPlugin(name.to_string()))?;
        if live.kind() != candidate.kind() {
            return Err(PromoteError::WrongKind {
                name: name.to_string(),
                live: live.kind().as_str(),
                candidate: candidate.kind().as_str(),
            });
        }
        lock(&self.promoted).insert(name.to_string(), candidate.clone());
        match config {
            Some(c) => lock(&self.promoted_config).insert(name.to_string(), c),
            None => lock(&self.promoted_config).remove(name),
        };
        self.swap(|set| {
            set.by_name.insert(name.to_string(), candidate);
        });
        tracing::info!(
            plugin = name,
            "shadow candidate now serves as the live plugin"
        );
        Ok(())
    }

    /// Every plugin file's status (the plugins directory's, then the
    /// built-in ones, overridden or not).
    pub fn status(&self) -> Vec<PluginStatus> {
        let set = self.snapshot();
        let builtins = lock(&self.builtins).clone();
        let promoted: BTreeMap<String, Arc<LoadedPlugin>> = lock(&self.promoted)
            .iter()
            .filter(|(n, p)| set.get(n).is_some_and(|a| Arc::ptr_eq(a, p)))
            .map(|(n, p)| (n.clone(), p.clone()))
            .collect();
        let files = self.with_files(|files| {
            files
                .iter()
                .map(|(f, s)| (f.clone(), s.active_name.clone(), s.error.clone()))
                .collect::<Vec<_>>()
        });
        let mut rows = Vec::new();
        for (file, active_name, error) in files {
            let plugin = active_name
                .as_ref()
                .and_then(|n| set.get(n))
                .filter(|p| p.file == file);
            let overrides_builtin = active_name
                .as_ref()
                .is_some_and(|n| builtins.contains_key(n));
            rows.push(match plugin {
                Some(p) => {
                    let status = if error.is_some() {
                        Status::Failed
                    } else {
                        Status::Active
                    };
                    PluginStatus {
                        overrides_builtin,
                        error,
                        ..PluginStatus::of(p, status)
                    }
                }
                None => match active_name.as_ref().and_then(|n| promoted.get(n)) {
                    Some(_) => PluginStatus {
                        name: active_name.clone(),
                        status: Status::Superseded,
                        file: file.display().to_string(),
                        overrides_builtin,
                        error,
                        ..PluginStatus::of_nothing()
                    },
                    None => PluginStatus {
                        name: None,
                        kind: None,
                        version: None,
                        file: file.display().to_string(),
                        origin: Origin::File,
                        overrides_builtin,
                        sha256: None,
                        status: Status::Failed,
                        loaded_at: None,
                        error,
                    },
                },
            });
        }
        for p in promoted.values() {
            rows.push(PluginStatus::of(p, Status::Active));
        }
        for p in builtins.values() {
            let serving = set.get(p.name()).is_some_and(|a| Arc::ptr_eq(a, p));
            let status = if serving {
                Status::Active
            } else {
                Status::Overridden
            };
            rows.push(PluginStatus::of(p, status));
        }
        for (file, error) in lock(&self.builtin_errors).iter() {
            rows.push(PluginStatus {
                name: None,
                kind: None,
                version: None,
                file: format!("builtin:{file}"),
                origin: Origin::Builtin,
                overrides_builtin: false,
                sha256: None,
                status: Status::Failed,
                loaded_at: None,
                error: Some(error.clone()),
            });
        }
        rows
    }

    fn swap(&self, f: impl FnOnce(&mut ActiveSet)) {
        let current = self.active.load();
        let mut next = ActiveSet {
            by_name: current.by_name.clone(),
        };
        f(&mut next);
        self.active.store(Arc::new(next));
    }

    fn with_files<R>(&self, f: impl FnOnce(&mut BTreeMap<PathBuf, FileState>) -> R) -> R {
        let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut files)
    }

    fn set_file(&self, file: &Path, f: impl FnOnce(&mut FileState)) {
        self.with_files(|files| f(files.entry(file.to_path_buf()).or_default()));
    }
}

/// Whether a path is a plugin file (`*.wasm`, not hidden).
pub fn is_plugin_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "wasm")
        && path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| !n.starts_with('.'))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// `t` as RFC 3339 (empty if it cannot be written).
pub fn rfc3339(t: SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
