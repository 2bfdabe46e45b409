//! The set of active plugins, swapped atomically on every change, and the
//! status of every file in the plugins directory (for `GET /admin/plugins`).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use serde::Serialize;

use super::error::LoadError;
use super::loaded::{Kind, LoadedPlugin, Settings};
use super::runtime::Runtime;

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
}

/// `active` or `failed`, as the admin API reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Active,
    Failed,
}

/// One row of `GET /admin/plugins`.
#[derive(Debug, Clone, Serialize)]
pub struct PluginStatus {
    pub name: Option<String>,
    pub kind: Option<Kind>,
    pub version: Option<String>,
    pub file: String,
    pub sha256: Option<String>,
    pub status: Status,
    /// RFC 3339 time the active version was loaded.
    pub loaded_at: Option<String>,
    /// Why the newest version of the file failed; the older version, if any,
    /// stays active.
    pub error: Option<String>,
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
    files: Mutex<BTreeMap<PathBuf, FileState>>,
    /// Serialises changes so two reloads never race on the same name.
    change: Mutex<()>,
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
            files: Mutex::new(BTreeMap::new()),
            change: Mutex::new(()),
        }
    }

    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The active plugins now. Cheap; hold it for the length of a request.
    pub fn snapshot(&self) -> Arc<ActiveSet> {
        self.active.load_full()
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
                tracing::info!(file = %file.display(), plugin = %name, %version, "plugin loaded")
            }
            Change::Removed { name } => {
                tracing::info!(file = %file.display(), plugin = %name, "plugin removed")
            }
            Change::Failed { error } => {
                tracing::error!(file = %file.display(), %error, "plugin failed to load; the previous version, if any, stays active")
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
        let result = LoadedPlugin::load_bytes(&self.runtime, file, &bytes, |n| settings(n))
            .and_then(|plugin| {
                let current = self.snapshot();
                if let Some(other) = current.get(plugin.name())
                    && other.file != file
                    && other.file.exists()
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
                self.swap(|set| {
                    // The file may now serve a different name than before.
                    if let Some(prev) = &previous_name
                        && prev != &name
                    {
                        set.by_name.remove(prev);
                    }
                    set.by_name.insert(name.clone(), plugin.clone());
                });
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
                self.swap(|set| {
                    if set.by_name.get(&name).is_some_and(|p| p.file == file) {
                        set.by_name.remove(&name);
                    }
                });
                Change::Removed { name }
            }
            None => Change::Unchanged,
        }
    }

    /// Every file's status, active plugins first by name, then failures.
    pub fn status(&self) -> Vec<PluginStatus> {
        let set = self.snapshot();
        let mut rows = Vec::new();
        let files = self.with_files(|files| {
            files
                .iter()
                .map(|(f, s)| (f.clone(), s.active_name.clone(), s.error.clone()))
                .collect::<Vec<_>>()
        });
        for (file, active_name, error) in files {
            let plugin = active_name
                .as_ref()
                .and_then(|n| set.get(n))
                .filter(|p| p.file == file);
            rows.push(match plugin {
                Some(p) => PluginStatus {
                    name: Some(p.info.name.clone()),
                    kind: Some(p.kind()),
                    version: Some(p.info.version.clone()),
                    file: file.display().to_string(),
                    sha256: Some(p.sha256.clone()),
                    status: if error.is_some() {
                        Status::Failed
                    } else {
                        Status::Active
                    },
                    loaded_at: Some(rfc3339(p.loaded_at)),
                    error,
                },
                None => PluginStatus {
                    name: None,
                    kind: None,
                    version: None,
                    file: file.display().to_string(),
                    sha256: None,
                    status: Status::Failed,
                    loaded_at: None,
                    error,
                },
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

fn rfc3339(t: SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
