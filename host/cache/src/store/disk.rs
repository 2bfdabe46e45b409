//! Entries as files in a folder, so that a restart keeps the cache.
//!
//! One file per entry, named by the SHA-256 of its key (hex) under a folder
//! of the name's first two characters, so no folder grows past a few
//! thousand files. A file is written under a temporary name and renamed
//! into place: a reader sees the old entry or the new one, never half of
//! one. There is no fsync: a crash may leave a torn file, which the
//! entry's checksum turns into a miss.
//!
//! An index in memory (sizes, and the order files were written in, built at
//! open from the folder) keeps the total under `max_bytes` by removing the
//! oldest files. Renames, index updates and removals happen under the
//! index's lock, so a removal never takes a file written after it decided.
//!
//! Every call here blocks; the store runs them on tokio's blocking pool.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use super::faults::Cause;
use super::{Selector, Stats, StoreError};
use crate::entry::{self, Entry};

/// Prefix of a file being written; left-overs are removed at open.
const TEMP_PREFIX: &str = ".tmp-";
/// Enough of a file to hold its head and any real key (a flush by prefix
/// reads only this much).
const HEAD_READ: u64 = 16 * 1024;

#[derive(Clone)]
pub(crate) struct Disk {
    state: Arc<State>,
}

struct State {
    dir: PathBuf,
    max_bytes: u64,
    index: Mutex<Index>,
    stats: Arc<Stats>,
    /// Makes temporary names unique within this process.
    temp_seq: AtomicU64,
}

/// What is on disk: each file's size and its place in write order.
#[derive(Default)]
struct Index {
    files: HashMap<String, Indexed>,
    /// Write order (oldest first) → file name.
    order: BTreeMap<u64, String>,
    bytes: u64,
    next_seq: u64,
}

#[derive(Clone, Copy)]
struct Indexed {
    size: u64,
    seq: u64,
}

impl Index {
    /// Records `name` as the newest file; returns its sequence number.
    fn insert(&mut self, name: &str, size: u64) -> u64 {
        self.remove(name);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.files.insert(name.to_string(), Indexed { size, seq });
        self.order.insert(seq, name.to_string());
        self.bytes += size;
        seq
    }

    fn remove(&mut self, name: &str) -> Option<Indexed> {
        let indexed = self.files.remove(name)?;
        self.order.remove(&indexed.seq);
        self.bytes = self.bytes.saturating_sub(indexed.size);
        Some(indexed)
    }

    fn seq(&self, name: &str) -> Option<u64> {
        self.files.get(name).map(|indexed| indexed.seq)
    }

    fn oldest(&self) -> Option<String> {
        self.order.values().next().cloned()
    }
}

impl Disk {
    /// Prepares `dir` and indexes what it holds. A folder that cannot be
    /// created is a counted fault; each write tries to create it again.
    pub fn open(dir: &Path, max_bytes: u64, stats: Arc<Stats>) -> Disk {
        let disk = Disk {
            state: Arc::new(State {
                dir: dir.to_path_buf(),
                max_bytes,
                index: Mutex::new(Index::default()),
                stats,
                temp_seq: AtomicU64::new(0),
            }),
        };
        match fs::create_dir_all(dir) {
            Ok(()) => disk.scan(),
            Err(e) => disk.fault(
                Cause::DiskWrite,
                format!("cannot create the cache folder {}: {e}", dir.display()),
            ),
        }
        disk
    }

    pub fn dir(&self) -> &Path {
        &self.state.dir
    }

    fn index(&self) -> MutexGuard<'_, Index> {
        self.state
            .index
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn fault(&self, cause: Cause, message: String) {
        self.state.stats.faults.record(cause, &message);
    }

    fn path(&self, name: &str) -> PathBuf {
        self.state
            .dir
            .join(name.get(..2).unwrap_or("00"))
            .join(name)
    }

    /// Indexes the files already in the folder, oldest (by modification
    /// time) first, removes left-over temporary files, and trims to the
    /// bound (which may have shrunk since they were written).
    fn scan(&self) {
        let mut found: Vec<(SystemTime, String, u64)> = Vec::new();
        let shards = match fs::read_dir(&self.state.dir) {
            Ok(shards) => shards,
            Err(e) => {
                let dir = self.state.dir.display();
                return self.fault(Cause::DiskRead, format!("cannot list {dir}: {e}"));
            }
        };
        for shard in shards.flatten() {
            let shard_name = shard.file_name();
            let Some(shard_name) = shard_name.to_str().filter(|n| is_shard(n)) else {
                continue;
            };
            let Ok(files) = fs::read_dir(shard.path()) else {
                continue;
            };
            for file in files.flatten() {
                let name = file.file_name();
                let Some(name) = name.to_str() else {
                    continue;
                };
                if name.starts_with(TEMP_PREFIX) {
                    let _ = fs::remove_file(file.path());
                    continue;
                }
                if !is_entry_name(name) || !name.starts_with(shard_name) {
                    continue;
                }
                if let Ok(meta) = file.metadata()
                    && meta.is_file()
                {
                    let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                    found.push((modified, name.to_string(), meta.len()));
                }
            }
        }
        found.sort();
        let mut index = self.index();
        for (_, name, size) in found {
            index.insert(&name, size);
        }
        self.evict(&mut index);
    }

    /// Removes the oldest files until the total is within the bound.
    fn evict(&self, index: &mut Index) {
        while index.bytes > self.state.max_bytes {
            let Some(name) = index.oldest() else {
                break;
            };
            index.remove(&name);
            let path = self.path(&name);
            if let Err(e) = fs::remove_file(&path)
                && e.kind() != io::ErrorKind::NotFound
            {
                tracing::debug!(path = %path.display(), error = %e, "cache: could not evict a file");
            }
        }
    }

    /// A fresh entry for `key`; a file that is not one (torn, corrupt,
    /// another version, another key) or has expired is removed.
    pub fn read(&self, key: &str, now_ms: u64) -> Option<Entry> {
        let name = file_name(key);
        let path = self.path(&name);
        let seen = self.index().seq(&name);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
            Err(e) => {
                self.fault(
                    Cause::DiskRead,
                    format!("cannot read {}: {e}", path.display()),
                );
                return None;
            }
        };
        match Entry::decode(&bytes, key) {
            Ok(entry) if entry.is_fresh(now_ms) => Some(entry),
            Ok(_) => {
                self.remove_unless_rewritten(&name, seen);
                None
            }
            Err(e) => {
                self.fault(Cause::from(&e), format!("{}: {e}", path.display()));
                self.remove_unless_rewritten(&name, seen);
                None
            }
        }
    }

    /// Removes `name` unless a write replaced it since `seen` was read.
    fn remove_unless_rewritten(&self, name: &str, seen: Option<u64>) {
        let mut index = self.index();
        if index.seq(name) != seen {
            return;
        }
        index.remove(name);
        let _ = fs::remove_file(self.path(name));
    }

    /// Writes `key`'s entry; false (a counted fault) when it could not be.
    pub fn write(&self, key: &str, entry: &Entry) -> bool {
        let bytes = entry.encode(key);
        let size = bytes.len() as u64;
        if size > self.state.max_bytes {
            tracing::debug!(
                size,
                "cache: entry larger than the whole disk cache, not stored"
            );
            return false;
        }
        let name = file_name(key);
        let path = self.path(&name);
        let temp = path.with_file_name(format!(
            "{TEMP_PREFIX}{name}-{}-{}",
            std::process::id(),
            self.state.temp_seq.fetch_add(1, Ordering::Relaxed)
        ));
        if let Err(e) = write_new(&temp, &bytes) {
            let _ = fs::remove_file(&temp);
            self.fault(
                Cause::DiskWrite,
                format!("cannot write {}: {e}", temp.display()),
            );
            return false;
        }
        let mut index = self.index();
        if let Err(e) = fs::rename(&temp, &path) {
            drop(index);
            let _ = fs::remove_file(&temp);
            self.fault(
                Cause::DiskWrite,
                format!("cannot rename into {}: {e}", path.display()),
            );
            return false;
        }
        index.insert(&name, size);
        self.evict(&mut index);
        true
    }

    /// Removes `keys`' files; how many there were.
    pub fn delete(&self, keys: &[String]) -> Result<u64, StoreError> {
        let mut deleted = 0;
        for key in keys {
            if self.remove(&file_name(key))? {
                deleted += 1;
            }
        }
        Ok(deleted)
    }

    fn remove(&self, name: &str) -> Result<bool, StoreError> {
        let path = self.path(name);
        let mut index = self.index();
        index.remove(name);
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(StoreError::Disk {
                path,
                message: e.to_string(),
            }),
        }
    }

    /// Removes every entry file whose key starts with `prefix` (all of them
    /// for ""), going by the folder rather than the index so that files the
    /// index does not know (another process's) go too.
    pub fn flush(&self, which: &Selector) -> Result<u64, StoreError> {
        let disk_error = |path: &Path, e: io::Error| StoreError::Disk {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let shards = match fs::read_dir(&self.state.dir) {
            Ok(shards) => shards,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(disk_error(&self.state.dir, e)),
        };
        let mut deleted = 0;
        for shard in shards {
            let shard = shard.map_err(|e| disk_error(&self.state.dir, e))?;
            if !shard.file_name().to_str().is_some_and(is_shard) {
                continue;
            }
            let shard_path = shard.path();
            let files = fs::read_dir(&shard_path).map_err(|e| disk_error(&shard_path, e))?;
            for file in files {
                let file = file.map_err(|e| disk_error(&shard_path, e))?;
                let Some(name) = file.file_name().to_str().map(str::to_string) else {
                    continue;
                };
                if !is_entry_name(&name) {
                    continue;
                }
                if !which.is_all() && !key_matches(&file.path(), which) {
                    continue;
                }
                if self.remove(&name)? {
                    deleted += 1;
                }
            }
        }
        Ok(deleted)
    }

    /// Whether the folder exists (or can be made) and takes a write.
    pub fn ping(&self) -> Result<(), StoreError> {
        let dir = &self.state.dir;
        let probe = dir.join(format!(
            "{TEMP_PREFIX}ping-{}-{}",
            std::process::id(),
            self.state.temp_seq.fetch_add(1, Ordering::Relaxed)
        ));
        let result = fs::create_dir_all(dir).and_then(|()| write_new(&probe, b"ping"));
        let _ = fs::remove_file(&probe);
        result.map_err(|e| StoreError::Disk {
            path: dir.clone(),
            message: e.to_string(),
        })
    }

    /// Files indexed and their total size.
    pub fn size(&self) -> (u64, u64) {
        let index = self.index();
        (index.files.len() as u64, index.bytes)
    }
}

/// The file name for `key`: its SHA-256 in hex.
pub(crate) fn file_name(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

fn is_shard(name: &str) -> bool {
    name.len() == 2 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_entry_name(name: &str) -> bool {
    name.len() == 64
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Writes `bytes` to a new file at `path`, creating its folder if needed.
fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let create = || {
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
    };
    let mut file = match create() {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)?;
            }
            create()?
        }
        other => other?,
    };
    file.write_all(bytes)
}

/// Whether the file's stored key is selected (false when its head cannot
/// be read).
fn key_matches(path: &Path, which: &Selector) -> bool {
    let selected = |key: &[u8]| std::str::from_utf8(key).is_ok_and(|k| which.matches(k));
    let mut head = Vec::new();
    let read = fs::File::open(path).and_then(|file| file.take(HEAD_READ).read_to_end(&mut head));
    if read.is_err() {
        return false;
    }
    match entry::stored_key(&head) {
        Ok(key) => selected(key),
        // A key longer than the head read: read it all.
        Err(entry::EntryError::Truncated) if head.len() as u64 == HEAD_READ => fs::read(path)
            .ok()
            .and_then(|all| entry::stored_key(&all).ok().map(selected))
            .unwrap_or(false),
        Err(_) => false,
    }
}
