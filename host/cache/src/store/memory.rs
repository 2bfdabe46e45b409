//! Entries in this process's memory, bounded by bytes.
//!
//! moka's default policy (TinyLFU admission, LRU eviction) suits answers:
//! most prompts are asked once, and the filter keeps a stream of those from
//! pushing out the ones asked again and again.

use std::time::{Duration, Instant};

use moka::Expiry;
use moka::sync::Cache;

use super::{Selector, now_ms};
use crate::entry::Entry;

/// Bytes counted per entry on top of its key and body: the entry's fields,
/// the `Bytes` and `String` headers and moka's own bookkeeping, roughly.
const ENTRY_OVERHEAD: usize = 160;

#[derive(Clone)]
pub(crate) struct Memory {
    cache: Cache<String, Entry>,
}

impl Memory {
    pub fn new(max_bytes: u64) -> Memory {
        let cache = Cache::builder()
            .name("switchyard-cache")
            .max_capacity(max_bytes)
            .weigher(|key: &String, entry: &Entry| weight(key, entry))
            .expire_after(ByEntry)
            .build();
        Memory { cache }
    }

    /// A fresh entry for `key`.
    pub fn get(&self, key: &str, now_ms: u64) -> Option<Entry> {
        self.cache.get(key).filter(|entry| entry.is_fresh(now_ms))
    }

    pub fn put(&self, key: &str, entry: Entry) {
        self.cache.insert(key.to_string(), entry);
    }

    /// How many of `keys` held a fresh entry.
    pub fn delete(&self, keys: &[String], now_ms: u64) -> u64 {
        let removed = keys
            .iter()
            .filter_map(|key| self.cache.remove(key))
            .filter(|entry| entry.is_fresh(now_ms))
            .count();
        removed as u64
    }

    /// Removes every entry whose key starts with `prefix`; how many were fresh.
    pub fn flush(&self, which: &Selector, now_ms: u64) -> u64 {
        let keys: Vec<String> = self
            .cache
            .iter()
            .filter(|(key, _)| which.matches(key))
            .map(|(key, _)| key.as_ref().clone())
            .collect();
        self.delete(&keys, now_ms)
    }

    /// Entries and their weight in bytes, once moka has applied pending
    /// inserts and evictions.
    pub fn size(&self) -> (u64, u64) {
        self.cache.run_pending_tasks();
        (self.cache.entry_count(), self.cache.weighted_size())
    }
}

/// An entry's weight in bytes, as moka counts it against `max_bytes`.
fn weight(key: &str, entry: &Entry) -> u32 {
    let bytes = key.len() + entry.body.len() + ENTRY_OVERHEAD;
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

/// Each entry lives until its own `expires_ms`.
struct ByEntry;

impl ByEntry {
    fn left(entry: &Entry) -> Option<Duration> {
        entry
            .expires_ms
            .map(|expires| Duration::from_millis(expires.saturating_sub(now_ms())))
    }
}

impl Expiry<String, Entry> for ByEntry {
    fn expire_after_create(&self, _: &String, entry: &Entry, _: Instant) -> Option<Duration> {
        ByEntry::left(entry)
    }

    fn expire_after_update(
        &self,
        _: &String,
        entry: &Entry,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        ByEntry::left(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn entry(body_len: usize, expires_ms: Option<u64>) -> Entry {
        Entry {
            created_ms: now_ms(),
            expires_ms,
            body: Bytes::from(vec![b'x'; body_len]),
        }
    }

    #[test]
    fn the_total_weight_stays_under_the_bound() {
        // 20 entries of 4 + 1000 + 160 bytes against room for 8.
        let memory = Memory::new(10_000);
        for i in 0..20 {
            memory.put(&format!("k-{i:02}"), entry(1_000, None));
        }
        let (entries, bytes) = memory.size();
        // As many as fit, and no more.
        assert_eq!((entries, bytes), (8, 8 * 1_164));
    }

    #[test]
    fn weighs_key_body_and_overhead() {
        assert_eq!(weight("abc", &entry(10, None)), 3 + 10 + 160);
    }

    #[test]
    fn an_entry_past_its_expiry_is_not_served() {
        let memory = Memory::new(1 << 20);
        let now = now_ms();
        memory.put("gone", entry(1, Some(now - 1)));
        memory.put("soon", entry(1, Some(now + 10_000)));
        memory.put("never", entry(1, None));
        assert_eq!(memory.get("gone", now), None);
        assert!(memory.get("soon", now).is_some());
        assert_eq!(memory.get("soon", now + 10_000), None);
        assert!(memory.get("never", u64::MAX).is_some());
    }

    #[test]
    fn moka_drops_an_entry_at_its_own_expiry() {
        let memory = Memory::new(1 << 20);
        memory.put("short", entry(1, Some(now_ms() + 50)));
        memory.put("long", entry(1, Some(now_ms() + 60_000)));
        let deadline = Instant::now() + Duration::from_secs(5);
        while memory.size().0 != 1 {
            assert!(Instant::now() < deadline, "short entry never expired");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(memory.get("long", now_ms()).is_some());
    }

    #[test]
    fn delete_and_flush_count_what_existed() {
        let memory = Memory::new(1 << 20);
        let now = now_ms();
        for key in ["ns:a:1", "ns:a:2", "ns:b:1", "other:a:1"] {
            memory.put(key, entry(1, None));
        }
        let keys = vec!["ns:a:1".to_string(), "missing".to_string()];
        assert_eq!(memory.delete(&keys, now), 1);
        assert_eq!(memory.flush(&Selector::Prefix("ns:".into()), now), 2);
        assert_eq!(memory.get("other:a:1", now).map(|e| e.body.len()), Some(1));
        assert_eq!(memory.flush(&Selector::Prefix(String::new()), now), 1);
        assert_eq!(memory.size().0, 0);
    }
}
