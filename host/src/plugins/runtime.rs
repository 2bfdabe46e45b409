//! The wasmtime engine every plugin shares: pooling allocator, epoch ticker,
//! the host's imports, and a compile cache keyed by the file's SHA-256.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::error::LoadError;
use super::limits::{EPOCH_TICK, MAX_MEMORY_MIB};
use super::store::HostState;

/// How many plugin instances may be alive at once across all plugins; sizes
/// the pooling allocator.
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    /// Where compiled components are cached; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// Concurrent component instances, all plugins together.
    pub max_instances: u32,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        RuntimeOptions {
            cache_dir: default_cache_dir(),
            max_instances: 256,
        }
    }
}

/// `$SWITCHYARD_CACHE_DIR`, else `$XDG_CACHE_HOME/switchyard`, else
/// `~/.cache/switchyard`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SWITCHYARD_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("switchyard"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("switchyard"))
}

/// The shared engine and linker. Cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    linker: Linker<HostState>,
    cache_dir: Option<PathBuf>,
    engine_hash: String,
}

/// A compiled component and where it came from.
#[derive(Clone)]
pub struct Compiled {
    pub component: Component,
    pub sha256: String,
    pub source: Source,
}

/// Where a compiled component's code lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Found in the compile cache and mapped from its file.
    Cache,
    /// Compiled now, written to the cache and mapped back from its file.
    CompiledAndCached,
    /// Compiled now and kept in memory (no cache folder, or one that could
    /// not be written or mapped).
    CompiledInMemory,
}

impl Compiled {
    /// Found in the compile cache, not compiled now.
    pub fn from_cache(&self) -> bool {
        self.source == Source::Cache
    }

    /// Mapped from its cache file, so it can be mapped again later without
    /// compiling.
    pub fn mapped(&self) -> bool {
        self.source != Source::CompiledInMemory
    }
}

impl Runtime {
    /// Builds the engine. Fails only if the host cannot reserve the pooling
    /// allocator's address space.
    pub fn new(options: RuntimeOptions) -> anyhow::Result<Runtime> {
        let mut pool = PoolingAllocationConfig::new();
        let instances = options.max_instances.max(8);
        pool.total_component_instances(instances);
        // Components built by componentize-py or wasi-sdk hold several core
        // modules each; leave room for them.
        pool.max_core_instances_per_component(64);
        pool.total_core_instances(instances * 16);
        pool.max_memories_per_component(8);
        pool.total_memories(instances * 4);
        pool.max_tables_per_component(16);
        pool.total_tables(instances * 8);
        pool.table_elements(100_000);
        pool.max_memory_size((MAX_MEMORY_MIB as usize) << 20);
        pool.max_core_instance_size(4 << 20);
        pool.max_component_instance_size(4 << 20);
        pool.max_unused_warm_slots(64);

        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        config.memory_init_cow(true);
        config.parallel_compilation(true);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config).map_err(|e| anyhow::anyhow!("{e}"))?;

        let mut linker: Linker<HostState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|e| anyhow::anyhow!("adding WASI to the linker: {e}"))?;
        super::nonblocking::add_to_linker(&mut linker)
            .map_err(|e| anyhow::anyhow!("adding non-blocking wasi:io to the linker: {e}"))?;
        super::bindings::add_log_imports(&mut linker)
            .map_err(|e| anyhow::anyhow!("adding the log import to the linker: {e}"))?;

        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_hash = format!("{:016x}", hasher.finish());

        spawn_epoch_ticker(engine.weak());

        Ok(Runtime {
            inner: Arc::new(Inner {
                engine,
                linker,
                cache_dir: options.cache_dir,
                engine_hash,
            }),
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Where the compile cache keeps the component of these bytes.
    fn cache_path(&self, sha256: &str) -> Option<PathBuf> {
        self.inner
            .cache_dir
            .as_ref()
            .map(|dir| dir.join(format!("{sha256}-{}.cwasm", self.inner.engine_hash)))
    }

    pub fn linker(&self) -> &Linker<HostState> {
        &self.inner.linker
    }

    /// Compiles a component from its bytes, through the cache: a file whose
    /// SHA-256 (`sha256`, of `bytes`) was compiled before by an engine of
    /// the same build is loaded from disk instead of recompiled, and
    /// `bytes` is read no further than its preamble.
    pub fn compile(&self, file: &Path, bytes: &[u8], sha256: &str) -> Result<Compiled, LoadError> {
        let sha256 = sha256.to_owned();
        if !looks_like_component(bytes) {
            return Err(LoadError::NotAComponent {
                file: file.to_path_buf(),
                reason: not_a_component_reason(bytes),
            });
        }
        let cached = self.cache_path(&sha256);
        if let Some(path) = &cached
            && path.exists()
        {
            match read_cache(&self.inner.engine, path) {
                Ok(component) => {
                    return Ok(Compiled {
                        component,
                        sha256,
                        source: Source::Cache,
                    });
                }
                Err(e) => {
                    tracing::warn!(cache = %path.display(), error = %e, "discarding unreadable compile cache entry");
                    let _ = std::fs::remove_file(path);
                }
            }
        }
        let component =
            Component::new(&self.inner.engine, bytes).map_err(|e| LoadError::NotAComponent {
                file: file.to_path_buf(),
                reason: format!("{e:#}"),
            })?;
        let (component, source) = match &cached {
            // Mapped from its file, the code is the page cache's, shared
            // and reclaimable, as on every later start; compiled in memory,
            // it would stay in anonymous memory.
            Some(path) => {
                match write_cache(path, &component).map(|()| read_cache(&self.inner.engine, path)) {
                    Ok(Ok(mapped)) => (mapped, Source::CompiledAndCached),
                    Ok(Err(e)) => {
                        tracing::warn!(cache = %path.display(), error = %e, "could not map the compile cache entry just written");
                        (component, Source::CompiledInMemory)
                    }
                    Err(e) => {
                        tracing::warn!(cache = %path.display(), error = %e, "could not write compile cache");
                        (component, Source::CompiledInMemory)
                    }
                }
            }
            None => (component, Source::CompiledInMemory),
        };
        Ok(Compiled {
            component,
            sha256,
            source,
        })
    }
}

/// The SHA-256 of a file's bytes, in hex: the compile cache's key and the
/// identity the admin API reports.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The component binary format's preamble: magic, then version 0x0d and
/// layer 1 (a core module has layer 0).
fn looks_like_component(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[0..4] == *b"\0asm" && bytes[6..8] == [1, 0]
}

fn not_a_component_reason(bytes: &[u8]) -> String {
    if bytes.len() >= 8 && bytes[0..4] == *b"\0asm" {
        "it is a core WebAssembly module; build it as a component (wasm32-wasip2, or wasm-tools component new)".into()
    } else if bytes.is_empty() {
        "the file is empty".into()
    } else {
        "the file does not start with the WebAssembly magic bytes".into()
    }
}

/// A compiled component from the cache, mapped from its file.
fn read_cache(engine: &wasmtime::Engine, path: &Path) -> wasmtime::Result<Component> {
    // SAFETY: cache files are written by `write_cache` (`Component::serialize`)
    // of an engine with the same compatibility hash (it is in the name), into
    // a directory only this gateway writes, and never changed in place: a
    // new one is written beside and renamed over (a mapping keeps the old
    // file's pages), a bad one only removed.
    unsafe { Component::deserialize_file(engine, path) }
}

fn write_cache(path: &Path, component: &Component) -> Result<(), String> {
    let dir = path.parent().ok_or("cache path has no parent")?;
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let bytes = component.serialize().map_err(|e| e.to_string())?;
    // Write then rename, so a concurrent reader never sees half a file. A
    // random part as well as the pid: containers sharing a cache volume are
    // each pid 1.
    let tmp = path.with_extension(format!(
        "tmp{}-{:016x}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::write(&tmp, bytes).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, path).map_err(|e| e.to_string())
}

/// Advances the engine's epoch every tick for as long as the engine lives
/// (loaded plugins keep it alive after the `Runtime` is gone), so each call's
/// deadline interrupts a runaway plugin.
fn spawn_epoch_ticker(engine: wasmtime::EngineWeak) {
    let spawned = std::thread::Builder::new()
        .name("switchyard-epoch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(EPOCH_TICK);
                match engine.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "could not start the epoch ticker: plugin deadlines will not fire");
    }
}
