//! Shadow rollouts: a candidate plugin runs beside a live one on a share of
//! its real calls, off the request path, with the same input; the gateway
//! compares the two answers and keeps the counts. The client always gets
//! the live answer. `POST /admin/plugins/{name}/promote` swaps the
//! candidate in; `DELETE /admin/plugins/{name}/shadow` stops it.
//!
//! - [`spec`]: the `plugins.shadow` config, read leniently.
//! - [`worker`]: the bounded queue and the thread that runs candidates.
//! - [`compare`]: what agreeing means, per kind.
//! - [`stats`] and [`redact`]: what the admin API and `/metrics` show.
//!
//! The live path pays one relaxed atomic load per plugin call when no
//! shadow runs. When one does, a sampled call clones its input and answer
//! into the queue; a queue full by count (1024) or by the approximate bytes
//! of its inputs (16 MiB) drops the call and counts it.
//!
//! Candidates are loaded apart from the active set (from a shadow folder
//! beside the plugins directory, which the watcher does not see), so hot
//! reload never takes one for the live plugin, even with the same name.

pub mod compare;
pub mod redact;
pub mod spec;
pub mod stats;
pub mod worker;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use serde_json::{Value, json};

use super::bindings::cost_api::{CostAnswer, CostInput};
use super::bindings::provider_api::{BuildInput, Outbound};
use super::bindings::router_api::{RouteDecision, RouteRequest};
use super::bindings::sanitizer_api::{SanitizeInput, Verdict};
use super::registry::{PromoteError, Registry};
use super::{Kind, LoadedPlugin};
use crate::config::plugins::PluginsSection;
pub use spec::CandidateSpec;
pub use stats::Stats;
use worker::{Core, Job, Sent};

/// Some shadow runs: the only thing the live path reads when none does.
static ACTIVE: AtomicBool = AtomicBool::new(false);

static TABLE: LazyLock<ArcSwap<Table>> = LazyLock::new(|| ArcSwap::from_pointee(Table::default()));

/// Serialises rebuilds, stops and promotions.
static CHANGE: Mutex<()> = Mutex::new(());

/// The shadows by live plugin name: running, and ended ones (stopped,
/// promoted or taken out of the config) whose counts are still shown.
#[derive(Default, Clone)]
struct Table {
    running: HashMap<String, Arc<Shadow>>,
    ended: HashMap<String, Arc<Shadow>>,
}

/// One candidate beside one live plugin.
pub struct Shadow {
    core: Arc<Core>,
    spec: CandidateSpec,
    sampler: Sampler,
    queue: worker::Queue,
    state: Mutex<&'static str>,
    started_at: SystemTime,
}

/// Takes an exact share of calls, spread evenly (0.25: every 4th), so
/// counts can be asserted and no random number is drawn per call.
pub struct Sampler {
    ppm: u64,
    seen: AtomicU64,
}

impl Sampler {
    pub fn new(share: f64) -> Sampler {
        Sampler {
            ppm: (share.clamp(0.0, 1.0) * 1e6).round() as u64,
            seen: AtomicU64::new(0),
        }
    }

    /// Whether this call is sampled: after n calls, exactly
    /// floor(n × share) were.
    pub fn take(&self) -> bool {
        let n = self.seen.fetch_add(1, Ordering::Relaxed);
        (n + 1).saturating_mul(self.ppm) / 1_000_000 > n.saturating_mul(self.ppm) / 1_000_000
    }
}

/// Why an admin action on a shadow failed.
#[derive(Debug, thiserror::Error)]
pub enum ShadowError {
    #[error("no shadow is configured for plugin {0:?}")]
    NoShadow(String),
    #[error("the shadow of plugin {0:?} is not running (it was {1})")]
    NotRunning(String, &'static str),
    #[error(transparent)]
    Promote(#[from] PromoteError),
}

// ---- the live path's hooks: one relaxed load when no shadow runs ----

/// After a live router answered.
#[inline]
pub fn route(plugin: &LoadedPlugin, input: &RouteRequest, live: &RouteDecision) {
    if ACTIVE.load(Ordering::Relaxed) {
        let size = Job::route_bytes(input);
        offer(plugin, size, || Job::Route(input.clone(), live.clone()));
    }
}

/// After a live sanitiser answered.
#[inline]
pub fn sanitize(plugin: &LoadedPlugin, input: &SanitizeInput, live: &Verdict) {
    if ACTIVE.load(Ordering::Relaxed) {
        let size = Job::sanitize_bytes(input, live);
        offer(plugin, size, || Job::Sanitize(input.clone(), live.clone()));
    }
}

/// After a live cost rule answered.
#[inline]
pub fn cost(plugin: &LoadedPlugin, input: &CostInput, live: &CostAnswer) {
    if ACTIVE.load(Ordering::Relaxed) {
        let size = std::mem::size_of::<CostInput>();
        offer(plugin, size, || Job::Cost(input.clone(), *live));
    }
}

/// After a live adapter built a request.
#[inline]
pub fn build_request(plugin: &LoadedPlugin, input: &BuildInput, live: &Outbound) {
    if ACTIVE.load(Ordering::Relaxed) {
        let size = Job::build_bytes(input, live);
        offer(plugin, size, || Job::Build(input.clone(), live.clone()));
    }
}

/// Called for every plugin call the host times: keeps the call's time for
/// the hook that follows, and says whether the call ran on a shadow worker
/// (a candidate's call, or a sanitiser redacting for one), which the live
/// plugin's metrics and webhooks must not count.
#[inline]
pub fn seen_call(duration: Duration) -> bool {
    if !ACTIVE.load(Ordering::Relaxed) {
        return false;
    }
    worker::note_call(duration);
    worker::on_worker()
}

/// Whether this thread is a shadow worker.
pub fn on_worker() -> bool {
    ACTIVE.load(Ordering::Relaxed) && worker::on_worker()
}

fn offer(plugin: &LoadedPlugin, size: usize, job: impl FnOnce() -> Job) {
    if worker::on_worker() {
        return;
    }
    let table = TABLE.load();
    let Some(shadow) = table.running.get(plugin.name()) else {
        return;
    };
    if std::ptr::eq(plugin, Arc::as_ptr(&shadow.core.candidate)) || !shadow.sampler.take() {
        return;
    }
    let live_time = worker::take_last_call().unwrap_or_default();
    // Full by count or bytes (the candidate is behind) or disconnected (it
    // just stopped): the call is dropped and counted, never waited for.
    shadow.queue.offer(size, &shadow.core.stats, || Sent {
        job: job(),
        live_time,
    });
}

// ---- building, reading, stopping and promoting ----

/// What a rebuild did.
#[derive(Debug, Default)]
pub struct Rebuilt {
    /// Live plugin names with a shadow running now.
    pub running: Vec<String>,
    /// Entries left out, and why (also logged as warnings).
    pub warnings: Vec<String>,
}

/// (Re)builds the shadows from a `plugins:` section: new or changed
/// entries load their candidate, unchanged ones keep running with their
/// counts, removed ones stop. A shadow stopped through the admin API stays
/// stopped while its entry is unchanged. Nothing here stops the gateway:
/// a bad entry is a warning. Config hot reload calls this again.
pub fn rebuild(registry: &Arc<Registry>, section: &PluginsSection) -> Rebuilt {
    let _guard = CHANGE.lock().unwrap_or_else(|e| e.into_inner());
    let dir = spec::shadow_dir(section.dir.as_deref(), section.shadow_dir.as_ref());
    let specs = spec::parse(
        section.shadow.as_ref(),
        section.shadow_sample.as_ref(),
        &dir,
        section.dir.as_deref(),
    );
    let mut out = Rebuilt {
        warnings: specs.warnings,
        ..Rebuilt::default()
    };
    let old = TABLE.load_full();
    let mut next = Table {
        running: HashMap::new(),
        ended: old.ended.clone(),
    };
    let redactor = redact::Redactor {
        registry: Some(registry.clone()),
        sanitizers: section.sanitizers.clone(),
    };
    let set = registry.snapshot();
    for (live, spec) in specs.entries {
        let sha = std::fs::read(&spec.file)
            .ok()
            .map(|b| super::runtime::sha256_hex(&b));
        let same =
            |s: &Shadow| s.spec == spec && sha.as_deref() == Some(s.core.candidate.sha256.as_str());
        if let Some(s) = old.running.get(&live)
            && same(s)
        {
            next.running.insert(live, s.clone());
            continue;
        }
        if let Some(s) = old.ended.get(&live)
            && s.state() == "stopped"
            && same(s)
        {
            continue;
        }
        let at = format!("plugins.shadow.{live}");
        let Some(live_plugin) = set.get(&live) else {
            out.warnings.push(format!(
                "{at}: no plugin named {live:?} is loaded, so there is nothing to shadow; ignored"
            ));
            continue;
        };
        if let Some(s) = old.ended.get(&live)
            && promoted_copy(
                s.state(),
                &s.spec,
                &spec,
                (&live_plugin.file, &live_plugin.sha256),
                sha.as_deref(),
            )
        {
            tracing::debug!(plugin = %live, "shadow entry names the promoted, now live, candidate; not restarted");
            continue;
        }
        let candidate = match registry.load_candidate(&spec.file, spec.config.clone()) {
            Ok(c) => c,
            Err(e) => {
                out.warnings
                    .push(format!("{at}: the candidate did not load: {e}; ignored"));
                continue;
            }
        };
        if candidate.kind() != live_plugin.kind() {
            out.warnings.push(format!(
                "{at}: the candidate {} is a {}, the live plugin a {}; ignored",
                spec.file.display(),
                candidate.kind().as_str(),
                live_plugin.kind().as_str()
            ));
            continue;
        }
        match start(&live, spec, Arc::new(candidate), redactor.clone()) {
            Ok(s) => {
                tracing::info!(
                    plugin = %live,
                    candidate = %s.spec.file.display(),
                    version = %s.core.candidate.info.version,
                    sample = s.spec.sample,
                    "shadow running"
                );
                next.ended.remove(&live);
                next.running.insert(live, s);
            }
            Err(e) => out
                .warnings
                .push(format!("{at}: could not start its worker: {e}; ignored")),
        }
    }
    for (live, s) in &old.running {
        let kept = next.running.get(live).is_some_and(|n| Arc::ptr_eq(n, s));
        if !kept {
            s.end("removed");
            if !next.running.contains_key(live) {
                next.ended.insert(live.clone(), s.clone());
            }
        }
    }
    for w in &out.warnings {
        tracing::warn!("{w}");
    }
    out.running = next.running.keys().cloned().collect();
    out.running.sort();
    publish(next);
    out
}

/// Whether an entry would shadow a promoted candidate with a copy of
/// itself: its shadow was promoted, the entry still names that candidate
/// with the same config, and the live plugin is that file's bytes.
fn promoted_copy(
    state: &str,
    promoted: &CandidateSpec,
    entry: &CandidateSpec,
    (live_file, live_sha): (&std::path::Path, &str),
    entry_sha: Option<&str>,
) -> bool {
    state == "promoted"
        && promoted.file == entry.file
        && promoted.config == entry.config
        && live_file == entry.file
        && entry_sha == Some(live_sha)
}

fn start(
    live: &str,
    spec: CandidateSpec,
    candidate: Arc<LoadedPlugin>,
    redactor: redact::Redactor,
) -> std::io::Result<Arc<Shadow>> {
    let core = Arc::new(Core {
        live: live.to_string(),
        candidate,
        stats: Arc::new(Stats::default()),
        redactor,
        stopped: AtomicBool::new(false),
    });
    let queue = worker::spawn(core.clone())?;
    Ok(Arc::new(Shadow {
        sampler: Sampler::new(spec.sample),
        core,
        spec,
        queue,
        state: Mutex::new("running"),
        started_at: SystemTime::now(),
    }))
}

fn publish(table: Table) {
    ACTIVE.store(!table.running.is_empty(), Ordering::Relaxed);
    TABLE.store(Arc::new(table));
}

impl Shadow {
    fn state(&self) -> &'static str {
        *self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn end(&self, state: &'static str) {
        self.core.stopped.store(true, Ordering::Relaxed);
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = state;
    }

    /// What `GET /admin/plugins/{name}/shadow` shows.
    pub fn report(&self) -> Value {
        let c = &self.core.candidate;
        let mut r = json!({
            "plugin": self.core.live,
            "state": self.state(),
            "candidate": {
                "file": self.spec.file.display().to_string(),
                "name": c.name(),
                "version": c.info.version,
                "kind": c.kind().as_str(),
                "sha256": c.sha256,
                "own_config": self.spec.config.is_some(),
            },
            "sample": self.spec.sample,
            "started_at": super::registry::rfc3339(self.started_at),
        });
        if let (Value::Object(r), Value::Object(s)) = (&mut r, self.core.stats.report()) {
            r.extend(s);
        }
        r
    }

    pub fn stats(&self) -> &Arc<Stats> {
        &self.core.stats
    }

    pub fn kind(&self) -> Kind {
        self.core.candidate.kind()
    }
}

/// The shadow of `live`, running or ended.
pub fn get(live: &str) -> Option<Arc<Shadow>> {
    let t = TABLE.load();
    t.running.get(live).or_else(|| t.ended.get(live)).cloned()
}

/// Every shadow, running or ended, by live plugin name (for `/metrics`).
pub fn all() -> Vec<(String, Arc<Shadow>)> {
    let t = TABLE.load();
    let mut v: Vec<(String, Arc<Shadow>)> = t
        .running
        .iter()
        .chain(t.ended.iter())
        .map(|(k, s)| (k.clone(), s.clone()))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Stops the shadow of `live`; its counts stay readable.
pub fn stop(live: &str) -> Result<Arc<Shadow>, ShadowError> {
    let _guard = CHANGE.lock().unwrap_or_else(|e| e.into_inner());
    let s = running(live)?;
    s.end("stopped");
    retire(live, &s);
    tracing::info!(plugin = %live, "shadow stopped");
    Ok(s)
}

/// Makes the candidate of `live` the live plugin (calls in flight finish
/// on the old one) and ends the shadow.
pub fn promote(registry: &Registry, live: &str) -> Result<Arc<Shadow>, ShadowError> {
    let _guard = CHANGE.lock().unwrap_or_else(|e| e.into_inner());
    let s = running(live)?;
    registry.promote(live, s.core.candidate.clone(), s.spec.config.clone())?;
    s.end("promoted");
    retire(live, &s);
    tracing::info!(
        plugin = %live,
        candidate = %s.spec.file.display(),
        version = %s.core.candidate.info.version,
        "shadow candidate promoted to live"
    );
    Ok(s)
}

fn running(live: &str) -> Result<Arc<Shadow>, ShadowError> {
    let t = TABLE.load();
    if let Some(s) = t.running.get(live) {
        return Ok(s.clone());
    }
    match t.ended.get(live) {
        Some(s) => Err(ShadowError::NotRunning(live.to_string(), s.state())),
        None => Err(ShadowError::NoShadow(live.to_string())),
    }
}

fn retire(live: &str, s: &Arc<Shadow>) {
    let mut next = (**TABLE.load()).clone();
    next.running.remove(live);
    next.ended.insert(live.to_string(), s.clone());
    publish(next);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taken(share: f64, n: usize) -> Vec<usize> {
        let s = Sampler::new(share);
        (0..n).filter(|_| s.take()).collect()
    }

    #[test]
    fn sampling_takes_an_exact_evenly_spread_share() {
        assert_eq!(taken(1.0, 5), vec![0, 1, 2, 3, 4]);
        assert_eq!(taken(0.5, 8), vec![1, 3, 5, 7]);
        assert_eq!(taken(0.25, 8), vec![3, 7]);
        assert!(taken(0.0, 100).is_empty());
        assert_eq!(taken(0.1, 1000).len(), 100);
        assert_eq!(taken(0.2, 10), vec![4, 9]);
        // Shares are kept to a millionth.
        assert_eq!(taken(0.000_001, 2_000_000).len(), 2);
    }

    #[test]
    fn a_promoted_candidate_is_not_shadowed_by_a_copy_of_itself() {
        let spec = |file: &str, config: Option<Value>| CandidateSpec {
            file: file.into(),
            config,
            sample: 1.0,
        };
        let promoted = spec("/s/r.wasm", Some(json!({"a": 1})));
        let entry = spec("/s/r.wasm", Some(json!({"a": 1})));
        let live = (std::path::Path::new("/s/r.wasm"), "abc");
        assert!(promoted_copy(
            "promoted",
            &promoted,
            &entry,
            live,
            Some("abc")
        ));
        // Stopped (a rebuild keeps it stopped elsewhere), or running: not this rule.
        assert!(!promoted_copy(
            "removed",
            &promoted,
            &entry,
            live,
            Some("abc")
        ));
        // The candidate file changed since: a new candidate, shadowed again.
        assert!(!promoted_copy(
            "promoted",
            &promoted,
            &entry,
            live,
            Some("def")
        ));
        // Another config, or another file: a real candidate.
        let other = spec("/s/r.wasm", Some(json!({"a": 2})));
        assert!(!promoted_copy(
            "promoted",
            &promoted,
            &other,
            live,
            Some("abc")
        ));
        let moved = spec("/s/r2.wasm", Some(json!({"a": 1})));
        assert!(!promoted_copy(
            "promoted",
            &promoted,
            &moved,
            live,
            Some("abc")
        ));
        // The plugins directory serves the name again: the entry shadows it.
        let file_live = (std::path::Path::new("/p/r.wasm"), "abc");
        assert!(!promoted_copy(
            "promoted",
            &promoted,
            &entry,
            file_live,
            Some("abc")
        ));
    }
}
