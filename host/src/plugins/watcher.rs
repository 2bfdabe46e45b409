//! Hot reload: watches the plugins directory and reloads files that change,
//! on a thread of its own so compiling never runs on the request path.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify_debouncer_mini::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_mini::{DebounceEventResult, Debouncer, new_debouncer};

use super::registry::{Registry, is_plugin_file};

/// How long a file must be quiet before it is reloaded: long enough to
/// coalesce the several events of one write, short enough to stay well
/// within a second.
pub const DEBOUNCE: Duration = Duration::from_millis(200);

/// Keeps the watch alive; dropping it stops watching.
pub struct Watcher {
    _debouncer: Debouncer<RecommendedWatcher>,
}

/// Starts watching `dir`; changes go through `registry.reload`.
pub fn watch(registry: Arc<Registry>, dir: &Path) -> Result<Watcher, String> {
    let (tx, rx) = std::sync::mpsc::channel::<DebounceEventResult>();
    let mut debouncer = new_debouncer(DEBOUNCE, tx).map_err(|e| e.to_string())?;
    debouncer
        .watcher()
        .watch(dir, RecursiveMode::NonRecursive)
        .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
    std::thread::Builder::new()
        .name("switchyard-reload".into())
        .spawn(move || {
            for result in rx {
                match result {
                    Ok(events) => {
                        let paths: BTreeSet<PathBuf> = events
                            .into_iter()
                            .map(|e| e.path)
                            .filter(|p| is_plugin_file(p))
                            .collect();
                        for path in paths {
                            registry.reload(&path);
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "plugin directory watch error"),
                }
            }
        })
        .map_err(|e| e.to_string())?;
    tracing::info!(dir = %dir.display(), "watching plugins directory for changes");
    Ok(Watcher {
        _debouncer: debouncer,
    })
}
