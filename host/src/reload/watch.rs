//! What sets a config reload off: the file changing on disk (watched like
//! the plugins directory, debounced the same way) and SIGHUP.
//!
//! The folder is watched, not the file, so editors that write a new file
//! and rename it over the old one, and Kubernetes' ConfigMap volumes (whose
//! files are symlinks through a `..data` link swapped in one rename), are
//! seen; an event that leaves the file's bytes as they were reloads
//! nothing.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use notify_debouncer_mini::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_mini::{DebounceEventResult, Debouncer, new_debouncer};

use super::{Reloader, Trigger};
use crate::plugins::watcher::DEBOUNCE;

/// Turns watching the config file off (`0`, `false` or `off`); SIGHUP
/// still reloads.
pub const WATCH_ENV: &str = "SWITCHYARD_WATCH_CONFIG";

/// Whether the environment leaves file watching on.
pub fn watching_enabled() -> bool {
    !matches!(
        std::env::var(WATCH_ENV)
            .ok()
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("0" | "false" | "off" | "no")
    )
}

/// Keeps the watch alive; dropping it stops watching.
pub struct Watch {
    _debouncer: Debouncer<RecommendedWatcher>,
}

/// Watches the folder of `reloader`'s file; a change to the file reloads
/// it, on a thread of its own inside the runtime of `handle`.
pub fn watch_file(
    reloader: Arc<Reloader>,
    handle: tokio::runtime::Handle,
) -> Result<Watch, String> {
    let Some(file) = reloader.source().file.clone() else {
        return Err("no config file".into());
    };
    // The folder the path names, without following symlinks: a ConfigMap's
    // `config.yaml -> ..data/config.yaml` must be watched where `..data`
    // is swapped, not in the timestamped folder it points to today (gone
    // after the next update). When the file is a symlink to a file
    // elsewhere, that file's folder is watched too.
    let file = std::path::absolute(&file).unwrap_or(file);
    let folder = |f: &Path| {
        f.parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    };
    let dir = folder(&file);
    let mut names: Vec<std::ffi::OsString> = file
        .file_name()
        .map(|n| n.to_os_string())
        .into_iter()
        .collect();
    let mut dirs = vec![dir];
    if let Ok(target) = std::fs::canonicalize(&file)
        && !target
            .components()
            .any(|c| c.as_os_str().to_string_lossy().starts_with(".."))
        && folder(&target) != dirs[0]
    {
        dirs.push(folder(&target));
        names.extend(target.file_name().map(|n| n.to_os_string()));
    }
    let (tx, rx) = std::sync::mpsc::channel::<DebounceEventResult>();
    let mut debouncer = new_debouncer(DEBOUNCE, tx).map_err(|e| e.to_string())?;
    for dir in &dirs {
        debouncer
            .watcher()
            .watch(dir, RecursiveMode::NonRecursive)
            .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
    }
    std::thread::Builder::new()
        .name("switchyard-config-watch".into())
        .spawn(move || {
            let _runtime = handle.enter();
            for result in rx {
                match result {
                    Ok(events) => {
                        let ours = events.iter().any(|e| {
                            let n = e.path.file_name();
                            n.is_some_and(|n| names.iter().any(|x| x == n))
                                || n.and_then(|n| n.to_str())
                                    .is_some_and(|n| n.starts_with(".."))
                        });
                        if ours {
                            reloader.reload(Trigger::File);
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "config file watch error"),
                }
            }
        })
        .map_err(|e| e.to_string())?;
    tracing::info!(file = %file.display(), "watching the config file for changes");
    Ok(Watch {
        _debouncer: debouncer,
    })
}

/// Reloads on every SIGHUP, until the runtime stops.
pub fn on_sighup(reloader: Arc<Reloader>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hup = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGHUP; the config reloads only when its file changes");
                return;
            }
        };
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                tracing::info!("SIGHUP: reloading the config file");
                let r = reloader.clone();
                if let Err(e) = tokio::task::spawn_blocking(move || r.reload(Trigger::Sighup)).await
                {
                    tracing::error!(error = %e, "config reload task failed");
                }
            }
        });
    }
    #[cfg(not(unix))]
    let _ = reloader;
}
