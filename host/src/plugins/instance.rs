//! Instances of one plugin version: started from an `InstancePre`,
//! initialised with the plugin's config once, kept for bounded reuse, and
//! dropped after any failure so a broken instance never serves again.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use wasmtime::component::InstancePre;
use wasmtime::{Store, Trap};

use super::bindings::types;
use super::contract::Contract;
use super::error::CallError;
use super::limits::Limits;
use super::loaded::RoutingTable;
use super::output::OutputLog;
use super::store::HostState;

/// One kind's bindings (every bound contract version of it, see
/// [`super::worlds`]), seen generically so the pool code is written once
/// for all four kinds.
pub trait World: Sized + Send + 'static {
    /// Pre-instantiated component for this world.
    type Pre: Send + Sync + 'static;
    /// The kind's name, for errors.
    const KIND: &'static str;

    /// Finds the kind's exports in a component targeting `contract`.
    fn pre(pre: InstancePre<HostState>, contract: Contract) -> wasmtime::Result<Self::Pre>;
    fn instantiate(pre: &Self::Pre, store: &mut Store<HostState>) -> wasmtime::Result<Self>;
    fn describe(&self, store: &mut Store<HostState>) -> wasmtime::Result<types::PluginInfo>;
    fn init(
        &self,
        store: &mut Store<HostState>,
        config: &str,
    ) -> wasmtime::Result<Result<(), types::PluginError>>;

    /// What a kind needs after `init` and before its first call: routers
    /// receive the gateway's deployment table. Nothing for other kinds.
    fn prepare(
        &self,
        store: &mut Store<HostState>,
        table: &RoutingTable,
    ) -> wasmtime::Result<Result<(), types::PluginError>> {
        let _ = (store, table);
        Ok(Ok(()))
    }
}

/// How a dormant pool maps its component again: from the compile cache,
/// by the hash of `bytes` (which lie in the binary).
pub(crate) struct Remap {
    pub(crate) runtime: super::runtime::Runtime,
    /// Names the plugin in errors (`builtin:openai.wasm`).
    pub(crate) file: PathBuf,
    pub(crate) bytes: &'static [u8],
    pub(crate) sha256: String,
    pub(crate) contract: Contract,
}

impl Remap {
    fn pre<W: World>(&self) -> Result<W::Pre, String> {
        let compiled = self
            .runtime
            .compile(&self.file, self.bytes, &self.sha256)
            .map_err(|e| e.to_string())?;
        if !compiled.from_cache() {
            // Its cache entry went (deleted, or unreadable): compiling it
            // here is slow, but the call is served.
            tracing::warn!(file = %self.file.display(), "a built-in plugin was compiled on its first call: its compile cache entry was gone");
        }
        let pre = self
            .runtime
            .linker()
            .instantiate_pre(&compiled.component)
            .map_err(|e| e.to_string())?;
        W::pre(pre, self.contract).map_err(|e| e.to_string())
    }
}

/// A pool's pre-instantiated component.
enum Code<W: World> {
    /// Mapped since it was loaded.
    Mapped(W::Pre),
    /// Unmapped until its first instance maps it again (see
    /// [`Pool::dormant`]).
    Dormant {
        remap: Remap,
        mapped: OnceLock<W::Pre>,
        /// Held while mapping, so concurrent first calls map it once.
        mapping: Mutex<()>,
    },
}

/// A started, initialised instance and the store it lives in.
pub struct Slot<W> {
    pub store: Store<HostState>,
    pub bindings: W,
    calls: u64,
}

/// The instances of one plugin version.
pub struct Pool<W: World> {
    name: Arc<str>,
    engine: wasmtime::Engine,
    code: Code<W>,
    config: String,
    limits: Limits,
    table: RoutingTable,
    idle: Mutex<Vec<Slot<W>>>,
    /// Where the instances' stdout and stderr go.
    output: OutputLog,
}

impl<W: World> Pool<W> {
    /// A pool of a component not yet described: an empty config, default
    /// limits and no routing table, until [`Pool::configure`].
    pub fn new(name: Arc<str>, engine: wasmtime::Engine, pre: W::Pre) -> Pool<W> {
        Pool {
            name,
            engine,
            code: Code::Mapped(pre),
            config: "{}".into(),
            limits: Limits::default(),
            table: RoutingTable::default(),
            idle: Mutex::new(Vec::new()),
            output: OutputLog::default(),
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The same pool, configured for the plugin it turned out to be (a
    /// bootstrap pool describes a component before its name is known).
    pub fn configure(
        self,
        name: Arc<str>,
        config: String,
        limits: Limits,
        table: RoutingTable,
    ) -> Pool<W> {
        Pool {
            name,
            config,
            limits,
            table,
            idle: Mutex::new(Vec::new()),
            ..self
        }
    }

    /// The same pool without its compiled component, which it maps again
    /// from `remap` for its first instance. A built-in plugin nothing calls
    /// then holds none of its code in memory (a megabyte or so each).
    pub(crate) fn dormant(self, remap: Remap) -> Pool<W> {
        Pool {
            code: Code::Dormant {
                remap,
                mapped: OnceLock::new(),
                mapping: Mutex::new(()),
            },
            idle: Mutex::new(Vec::new()),
            ..self
        }
    }

    /// Whether the component is mapped (a dormant pool's is not until its
    /// first instance).
    #[cfg(test)]
    pub(crate) fn is_mapped(&self) -> bool {
        match &self.code {
            Code::Mapped(_) => true,
            Code::Dormant { mapped, .. } => mapped.get().is_some(),
        }
    }

    /// The pre-instantiated component, mapped again if the pool is dormant.
    fn pre(&self) -> Result<&W::Pre, CallError> {
        let (remap, mapped, mapping) = match &self.code {
            Code::Mapped(pre) => return Ok(pre),
            Code::Dormant {
                remap,
                mapped,
                mapping,
            } => (remap, mapped, mapping),
        };
        if let Some(pre) = mapped.get() {
            return Ok(pre);
        }
        let _mapping = mapping.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(pre) = mapped.get() {
            return Ok(pre);
        }
        let pre = remap.pre::<W>().map_err(|reason| CallError::Instantiate {
            plugin: self.name.to_string(),
            reason,
        })?;
        tracing::debug!(plugin = %self.name, "built-in plugin mapped for its first call");
        Ok(mapped.get_or_init(|| pre))
    }

    /// Starts an instance without initialising it (for `describe`).
    pub fn instantiate(&self) -> Result<Slot<W>, CallError> {
        let pre = self.pre()?;
        let mut store = Store::new(
            &self.engine,
            HostState::new(self.name.clone(), self.limits.memory_bytes()),
        );
        store.limiter(|s| s);
        store.epoch_deadline_callback(super::deadline::on_deadline);
        self.arm(&mut store);
        let instantiated = W::instantiate(pre, &mut store);
        self.log_output(&store);
        let bindings = match instantiated {
            Ok(b) => b,
            Err(e) => {
                return Err(match self.classify(&store, e) {
                    CallError::Trap { plugin, reason } => CallError::Instantiate { plugin, reason },
                    other => other,
                });
            }
        };
        Ok(Slot {
            store,
            bindings,
            calls: 0,
        })
    }

    /// Runs `init` with the plugin's config on a fresh instance, then gives
    /// it what its kind needs before a first call (a router's table).
    pub fn initialise(&self, mut slot: Slot<W>) -> Result<Slot<W>, CallError> {
        self.arm(&mut slot.store);
        self.setup_step(&mut slot, "init", |b, s| b.init(s, &self.config))?;
        self.arm(&mut slot.store);
        self.setup_step(&mut slot, "set-deployments", |b, s| {
            b.prepare(s, &self.table)
        })?;
        Ok(slot)
    }

    fn setup_step(
        &self,
        slot: &mut Slot<W>,
        step: &str,
        f: impl FnOnce(&W, &mut Store<HostState>) -> wasmtime::Result<Result<(), types::PluginError>>,
    ) -> Result<(), CallError> {
        let result = f(&slot.bindings, &mut slot.store);
        self.log_output(&slot.store);
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(CallError::Instantiate {
                plugin: self.name.to_string(),
                reason: format!("{step}: {}", super::error::describe_plugin_error(&e)),
            }),
            Err(e) => Err(self.classify(&slot.store, e)),
        }
    }

    /// Starts a fresh, initialised instance.
    pub fn start(&self) -> Result<Slot<W>, CallError> {
        self.instantiate().and_then(|slot| self.initialise(slot))
    }

    /// An instance to call: an idle one, or a fresh one.
    pub fn checkout(&self) -> Result<Slot<W>, CallError> {
        if self.limits.reuse_instances {
            let idle = self.idle.lock().map(|mut idle| idle.pop()).unwrap_or(None);
            if let Some(slot) = idle {
                return Ok(slot);
            }
        }
        self.start()
    }

    /// Returns an instance after a successful call. It is kept unless reuse
    /// is off, it has served its quota, or the pool is full.
    pub fn checkin(&self, mut slot: Slot<W>) {
        slot.calls += 1;
        if !self.limits.reuse_instances || slot.calls >= self.limits.max_calls_per_instance {
            return;
        }
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < self.limits.max_idle_instances
        {
            idle.push(slot);
        }
    }

    /// Runs `f` on an instance with the call deadline armed. On success the
    /// instance goes back to the pool; on any failure it is dropped.
    pub fn call<R>(
        &self,
        f: impl FnOnce(&W, &mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        let mut slot = self.checkout()?;
        self.arm(&mut slot.store);
        let began = std::time::Instant::now();
        let result = f(&slot.bindings, &mut slot.store);
        let duration = began.elapsed();
        self.log_output(&slot.store);
        match result {
            Ok(r) => {
                self.checkin(slot);
                crate::observe::plugin_call(&crate::observe::PluginCall {
                    plugin: &self.name,
                    kind: W::KIND,
                    duration,
                    failure: None,
                });
                Ok(r)
            }
            Err(e) => {
                let e = self.classify(&slot.store, e);
                let kind = e.failure_kind();
                crate::observe::plugin_call(&crate::observe::PluginCall {
                    plugin: &self.name,
                    kind: W::KIND,
                    duration,
                    failure: Some(kind),
                });
                crate::observe::plugin_failed(&crate::observe::PluginFailure {
                    plugin: &self.name,
                    kind,
                    message: &e.to_string(),
                });
                Err(e)
            }
        }
    }

    /// Sends what the last call on `store` wrote to stdout and stderr to
    /// the log. Cheap when it wrote nothing.
    pub fn log_output(&self, store: &Store<HostState>) {
        if let Some(output) = store.data().output.take() {
            self.output.log(&self.name, &output);
        }
    }

    /// Starts the deadline for one call on `store`.
    pub fn arm(&self, store: &mut Store<HostState>) {
        let clock = super::deadline::CallClock::start(self.limits.timeout());
        store.set_epoch_deadline(clock.ticks());
        store.data_mut().clock = Some(clock);
    }

    /// Turns a wasmtime error from a call on `store` into a call error
    /// naming the cause.
    pub fn classify(&self, store: &Store<HostState>, e: wasmtime::Error) -> CallError {
        classify(&self.name, &self.limits, store.data().memory_exceeded, e)
    }

    /// Idle instances right now (for tests and the admin API).
    pub fn idle_count(&self) -> usize {
        self.idle.lock().map(|i| i.len()).unwrap_or(0)
    }
}

/// Turns a wasmtime error into a call error naming the cause.
pub fn classify(
    plugin: &str,
    limits: &Limits,
    memory_exceeded: bool,
    e: wasmtime::Error,
) -> CallError {
    let plugin = plugin.to_string();
    if memory_exceeded {
        return CallError::MemoryLimit {
            plugin,
            limit_mib: limits.memory_mib,
        };
    }
    if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        return CallError::Timeout {
            plugin,
            timeout_ms: limits.timeout_ms,
        };
    }
    // The debug form carries the wasm backtrace: for the log, not the client.
    tracing::debug!(plugin, error = ?e, "plugin call failed");
    CallError::Trap {
        plugin,
        reason: trap_reason(&e),
    }
}

/// The most specific one-line reason in an error chain: the trap code (for
/// example "wasm `unreachable` instruction executed") rather than the
/// "error while executing at wasm backtrace" wrapper.
fn trap_reason(e: &wasmtime::Error) -> String {
    if let Some(trap) = e.downcast_ref::<Trap>() {
        return trap.to_string();
    }
    e.chain()
        .last()
        .map(|c| c.to_string())
        .unwrap_or_else(|| e.to_string())
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}
