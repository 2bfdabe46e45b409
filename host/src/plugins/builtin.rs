//! The first-party plugins that ship with the gateway (every provider
//! adapter, both routers, `model-prices`, `pii-redactor`, `context-trim`), so a LiteLLM
//! config with no `plugins:` section serves every prefix Switchyard knows,
//! routes with LiteLLM's strategies and prices calls. A plugin of the same
//! name in `plugins.dir` overrides a built-in one.
//!
//! They are embedded in the binary when it is built with
//! `SWITCHYARD_BUILTIN_PLUGINS` set (`make build` does); a binary built
//! without them looks for a `builtin-plugins` folder beside itself (or one
//! level up, as in `target/`).

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use super::error::LoadError;
use super::loaded::{LoadedPlugin, Origin, Settings};
use super::runtime::Runtime;

include!(concat!(env!("OUT_DIR"), "/builtin.rs"));

impl Builtin {
    /// Loads it, as a built-in plugin: dormant until its first call when
    /// it is embedded (see [`LoadedPlugin::load_embedded`]), at once when
    /// read from a folder.
    pub fn load(
        &self,
        runtime: &Runtime,
        settings: impl Fn(&str) -> Settings,
    ) -> Result<LoadedPlugin, LoadError> {
        let file = self.path();
        let mut plugin = match &self.bytes {
            Cow::Borrowed(bytes) => {
                LoadedPlugin::load_embedded(runtime, &file, bytes, &self.sha256, settings)
            }
            Cow::Owned(bytes) => {
                LoadedPlugin::load_bytes(runtime, &file, bytes, &self.sha256, settings)
            }
        }?;
        plugin.origin = Origin::Builtin;
        Ok(plugin)
    }

    /// `builtin:<file>`: how errors and the admin API name it.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("builtin:{}", self.file))
    }
}

/// The folder a binary without embedded plugins looks for.
pub const FOLDER: &str = "builtin-plugins";

/// One built-in plugin's component.
pub struct Builtin {
    /// The file it was built as (`openai.wasm`), for the admin API.
    pub file: String,
    /// The bytes' SHA-256 in hex: for embedded plugins computed when the
    /// binary was built, so a compile-cache hit never reads (and keeps
    /// resident) the megabytes of wasm in the binary.
    pub sha256: Cow<'static, str>,
    pub bytes: Cow<'static, [u8]>,
}

/// Where the built-in plugins came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Inside the binary.
    Embedded,
    /// A `builtin-plugins` folder beside the binary.
    Folder(PathBuf),
    /// Nowhere: only `plugins.dir` serves.
    Missing,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Embedded => f.write_str("embedded in the binary"),
            Source::Folder(dir) => write!(f, "{}", dir.display()),
            Source::Missing => write!(
                f,
                "none (the binary embeds none and has no {FOLDER} folder beside it)"
            ),
        }
    }
}

/// The built-in plugins, and where they came from.
pub fn builtins() -> (Vec<Builtin>, Source) {
    if !EMBEDDED.is_empty() {
        let list = EMBEDDED
            .iter()
            .map(|(stem, sha256, bytes)| Builtin {
                file: format!("{stem}.wasm"),
                sha256: Cow::Borrowed(*sha256),
                bytes: Cow::Borrowed(*bytes),
            })
            .collect();
        return (list, Source::Embedded);
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf));
    for dir in beside
        .iter()
        .flat_map(|d| [d.join(FOLDER), d.join("..").join(FOLDER)])
    {
        if let Some(list) = read_folder(&dir) {
            let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
            return (list, Source::Folder(dir));
        }
    }
    (Vec::new(), Source::Missing)
}

/// Every `*.wasm` in `dir`, sorted; `None` when there is none.
fn read_folder(dir: &Path) -> Option<Vec<Builtin>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| super::registry::is_plugin_file(p))
        .collect();
    files.sort();
    let list: Vec<Builtin> = files
        .iter()
        .filter_map(|p| {
            let bytes = std::fs::read(p)
                .map_err(|e| tracing::warn!(file = %p.display(), error = %e, "built-in plugin unreadable"))
                .ok()?;
            Some(Builtin {
                file: p.file_name()?.to_string_lossy().into_owned(),
                sha256: Cow::Owned(super::runtime::sha256_hex(&bytes)),
                bytes: Cow::Owned(bytes),
            })
        })
        .collect();
    (!list.is_empty()).then_some(list)
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::{Builtin, EMBEDDED};
    use crate::plugins::loaded::{Instances, Settings};
    use crate::plugins::runtime::{Runtime, RuntimeOptions, sha256_hex};

    /// An embedded plugin is checked at load and then unmapped (its cache
    /// file leaves the process's mappings); its first instance maps it
    /// again. Its cache entry gone by then, the first instance compiles it.
    /// Without a compile cache to map it from, it stays mapped (mapping it
    /// would mean compiling on a request).
    #[test]
    fn an_embedded_plugin_is_unmapped_until_its_first_instance() {
        let Some((_, sha256, bytes)) = EMBEDDED.iter().find(|(s, _, _)| *s == "default-router")
        else {
            assert!(
                option_env!("SWITCHYARD_BUILTIN_PLUGINS").is_none_or(str::is_empty),
                "default-router is not embedded"
            );
            return;
        };
        let builtin = Builtin {
            file: "default-router.wasm".into(),
            sha256: Cow::Borrowed(*sha256),
            bytes: Cow::Borrowed(*bytes),
        };
        let cache = tempfile::tempdir().unwrap();
        let cached = Runtime::new(RuntimeOptions {
            cache_dir: Some(cache.path().to_path_buf()),
            ..RuntimeOptions::default()
        })
        .unwrap();
        let mapped = || {
            let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
            let dir = cache.path().to_string_lossy().into_owned();
            maps.lines().filter(|l| l.contains(&dir)).count()
        };

        let plugin = builtin.load(&cached, |_| Settings::default()).unwrap();
        let Instances::Router(pool) = &plugin.instances else {
            panic!("default-router is a router");
        };
        assert!(!pool.is_mapped());
        assert_eq!(mapped(), 0, "the cache file is still mapped");
        let slot = pool.checkout().unwrap();
        assert!(pool.is_mapped());
        assert!(mapped() > 0, "the cache file was not mapped again");
        pool.checkin(slot);
        assert_eq!(pool.idle_count(), 1);
        drop(plugin);

        // The cache entry deleted before the first instance: compiled then.
        let plugin = builtin.load(&cached, |_| Settings::default()).unwrap();
        let Instances::Router(pool) = &plugin.instances else {
            panic!("default-router is a router");
        };
        for entry in std::fs::read_dir(cache.path()).unwrap() {
            std::fs::remove_file(entry.unwrap().path()).unwrap();
        }
        assert!(!pool.is_mapped());
        pool.checkout().unwrap();
        assert!(pool.is_mapped());

        let uncached = Runtime::new(RuntimeOptions {
            cache_dir: None,
            ..RuntimeOptions::default()
        })
        .unwrap();
        let plugin = builtin.load(&uncached, |_| Settings::default()).unwrap();
        let Instances::Router(pool) = &plugin.instances else {
            panic!("default-router is a router");
        };
        assert!(pool.is_mapped());
    }

    /// The hash build.rs wrote is the compile cache's key: a wrong one
    /// would load another plugin's compiled code.
    #[test]
    fn each_embedded_plugins_hash_is_its_bytes_hash() {
        if option_env!("SWITCHYARD_BUILTIN_PLUGINS").is_some_and(|d| !d.is_empty()) {
            assert!(EMBEDDED.len() >= 10, "{} plugins embedded", EMBEDDED.len());
        }
        for (stem, sha256, bytes) in EMBEDDED {
            assert_eq!(*sha256, sha256_hex(bytes), "{stem}");
        }
    }
}
