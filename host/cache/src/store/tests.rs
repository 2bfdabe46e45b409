//! The store through its public calls, on each backend. Redis tests use
//! 127.0.0.1:6379, each under its own key prefix.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::*;
use crate::entry::EntryError;
use crate::settings::{CallTypes, Mode};

fn settings(backend: Configured) -> Settings {
    Settings {
        backend,
        ttl: None,
        namespace: None,
        mode: Mode::DefaultOn,
        call_types: CallTypes::default(),
        max_entry_bytes: 1 << 20,
    }
}

fn entry(body: &str) -> Entry {
    Entry {
        created_ms: now_ms(),
        expires_ms: None,
        body: Bytes::from(body.to_string()),
    }
}

fn expiring(body: &str, in_ms: u64) -> Entry {
    Entry {
        expires_ms: Some(now_ms() + in_ms),
        ..entry(body)
    }
}

fn faults(store: &Store) -> Vec<(&'static str, u64)> {
    store.status().faults.into_iter().collect()
}

/// Polls `done` every 10 ms for up to `limit`.
async fn until(limit: Duration, what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done().await {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Keys of two namespaces and two scopes, as the gateway makes them.
fn scoped_keys() -> [String; 4] {
    let key = |ns, scope, n| crate::key::cache_key(ns, scope, &[n; 32]);
    [
        key("ns", "team:a", 1),
        key("faq", "team:a", 2),
        key("ns", "team:b", 3),
        key("ns", "key:team:a", 4),
    ]
}

/// Flushing one scope reaches its entries in every namespace and no
/// other scope's (not even one whose name ends like it).
async fn flush_one_scope(store: &Store) {
    let keys = scoped_keys();
    for k in &keys {
        store.put(k, entry("v"));
    }
    store.flush_writes().await;
    let which = Selector::Scope("team:a".into());
    assert_eq!(store.flush_where(&which).await.unwrap(), 2);
    assert_eq!(store.get(&keys[0]).await, None);
    assert_eq!(store.get(&keys[1]).await, None);
    assert!(store.get(&keys[2]).await.is_some());
    assert!(store.get(&keys[3]).await.is_some());
}

mod memory {
    use super::*;

    fn store(max_bytes: u64) -> Store {
        Store::open(&settings(Configured::Memory { max_bytes }))
    }

    #[tokio::test]
    async fn put_then_get_and_the_counts() {
        let store = store(1 << 20);
        assert_eq!(store.get("k").await, None);
        let stored = entry("answer");
        store.put("k", stored.clone());
        assert_eq!(store.get("k").await, Some(stored));
        let status = store.status();
        assert_eq!(
            (status.lookups, status.hits, status.writes, status.too_large),
            (2, 1, 1, 0)
        );
        assert_eq!(status.cache_type, "local");
        assert_eq!(status.entries, Some(1));
        assert_eq!(status.bytes, Some(1 + 6 + 160));
        assert!(status.faults.is_empty());
        assert_eq!(status.last_fault, None);
        assert_eq!(store.ping().await.ok(), Some(()));
    }

    #[tokio::test]
    async fn a_body_over_max_entry_bytes_is_not_stored() {
        let store = Store::open(&Settings {
            max_entry_bytes: 5,
            ..settings(Configured::Memory { max_bytes: 1 << 20 })
        });
        store.put("fits", entry("12345"));
        store.put("big", entry("123456"));
        assert!(store.get("fits").await.is_some());
        assert_eq!(store.get("big").await, None);
        let status = store.status();
        assert_eq!((status.writes, status.too_large), (1, 1));
    }

    #[tokio::test]
    async fn an_expired_entry_is_neither_stored_nor_served() {
        let store = store(1 << 20);
        store.put("past", expiring("x", 0));
        store.put("short", expiring("x", 60));
        assert_eq!(store.get("past").await, None);
        assert!(store.get("short").await.is_some());
        until(Duration::from_secs(3), "short entry expired", async || {
            store.get("short").await.is_none()
        })
        .await;
        assert_eq!(store.status().writes, 1);
    }

    #[tokio::test]
    async fn the_bound_holds_when_inserting_past_it() {
        let store = store(4_000);
        for i in 0..50 {
            store.put(&format!("key-{i:02}"), entry(&"y".repeat(500)));
        }
        let status = store.status();
        let weight = 6 + 500 + 160;
        // As many as fit (6 × 666 ≤ 4000), and no more.
        assert_eq!((status.entries, status.bytes), (Some(6), Some(6 * weight)));
        assert_eq!(status.writes, 50);
    }

    #[tokio::test]
    async fn delete_and_flush() {
        let store = store(1 << 20);
        for key in ["ns:team:a:1", "ns:team:a:2", "ns:team:b:1", "x:team:a:1"] {
            store.put(key, entry("v"));
        }
        let keys = ["ns:team:a:1".to_string(), "nope".to_string()];
        assert_eq!(store.delete(&keys).await.unwrap(), 1);
        assert_eq!(store.flush("ns:team:a:").await.unwrap(), 1);
        assert_eq!(store.flush("ns:").await.unwrap(), 1);
        assert_eq!(store.flush("").await.unwrap(), 1);
        assert_eq!(store.status().entries, Some(0));
    }

    #[tokio::test]
    async fn flush_one_scope_in_every_namespace() {
        flush_one_scope(&store(1 << 20)).await;
    }
}

mod disk {
    use super::*;
    use crate::store::disk::file_name;

    fn open(dir: &Path, max_bytes: u64) -> Store {
        Store::open(&settings(Configured::Disk {
            dir: dir.to_path_buf(),
            max_bytes,
        }))
    }

    fn file_of(dir: &Path, key: &str) -> PathBuf {
        let name = file_name(key);
        dir.join(&name[..2]).join(name)
    }

    /// The keys (among `keys`) whose files are in `dir`.
    fn files_left<'a>(dir: &Path, keys: &[&'a str]) -> Vec<&'a str> {
        keys.iter()
            .copied()
            .filter(|key| file_of(dir, key).exists())
            .collect()
    }

    #[tokio::test]
    async fn put_get_and_a_restart_keeps_the_entry() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("cache");
        let store = open(&dir, 1 << 20);
        let stored = entry("{\"id\":1}");
        store.put("ns:key:1", stored.clone());
        store.flush_writes().await;
        let file = file_of(&dir, "ns:key:1");
        let size = std::fs::metadata(&file).unwrap().len();
        assert_eq!(size, stored.encode("ns:key:1").len() as u64);
        assert_eq!(store.get("ns:key:1").await, Some(stored.clone()));
        assert_eq!(store.get("ns:key:2").await, None);
        let status = store.status();
        assert_eq!(status.cache_type, "disk");
        assert_eq!((status.entries, status.bytes), (Some(1), Some(size)));
        assert_eq!((status.lookups, status.hits, status.writes), (2, 1, 1));
        drop(store);

        let again = open(&dir, 1 << 20);
        assert_eq!(again.status().entries, Some(1));
        assert_eq!(again.status().bytes, Some(size));
        assert_eq!(again.get("ns:key:1").await, Some(stored));
        assert!(faults(&again).is_empty());
        assert_eq!(again.ping().await.ok(), Some(()));
    }

    /// Writes `key`'s entry, spoils its file with `spoil`, and reads it
    /// back from a new store.
    async fn spoiled(spoil: impl FnOnce(&mut Vec<u8>)) -> (Store, PathBuf, tempfile::TempDir) {
        let tmp = tempfile::tempdir().unwrap();
        let store = open(tmp.path(), 1 << 20);
        store.put("key", entry("a body of some length"));
        store.flush_writes().await;
        let file = file_of(tmp.path(), "key");
        let mut bytes = std::fs::read(&file).unwrap();
        spoil(&mut bytes);
        std::fs::write(&file, &bytes).unwrap();
        let store = open(tmp.path(), 1 << 20);
        assert_eq!(store.get("key").await, None);
        (store, file, tmp)
    }

    #[tokio::test]
    async fn a_corrupt_file_is_a_miss_counted_and_removed() {
        let (store, file, _tmp) = spoiled(|bytes| bytes[40] ^= 0x01).await;
        assert_eq!(faults(&store), [("corrupt", 1)]);
        assert!(!file.exists());
        assert_eq!(store.status().entries, Some(0));
        let last = store.status().last_fault.unwrap();
        assert!(last.starts_with("corrupt: "), "{last}");
        assert!(last.ends_with(&EntryError::Corrupt.to_string()), "{last}");
        // Gone: the next lookup is a plain miss.
        assert_eq!(store.get("key").await, None);
        assert_eq!(faults(&store), [("corrupt", 1)]);
    }

    #[tokio::test]
    async fn a_truncated_file_is_a_miss_counted_and_removed() {
        let (store, file, _tmp) = spoiled(|bytes| bytes.truncate(bytes.len() - 10)).await;
        assert_eq!(faults(&store), [("truncated", 1)]);
        assert!(!file.exists());
    }

    #[tokio::test]
    async fn a_file_of_another_version_is_a_miss_counted_and_removed() {
        let (store, file, _tmp) = spoiled(|bytes| bytes[4] = 9).await;
        assert_eq!(faults(&store), [("other_version", 1)]);
        assert!(!file.exists());
    }

    #[tokio::test]
    async fn a_file_holding_another_key_is_a_miss_counted() {
        let (store, _, _tmp) = spoiled(|bytes| {
            *bytes = entry("x").encode("another key");
        })
        .await;
        assert_eq!(faults(&store), [("other_key", 1)]);
    }

    #[tokio::test]
    async fn past_max_bytes_the_oldest_files_go() {
        let tmp = tempfile::tempdir().unwrap();
        let size = entry("0123456789").encode("key-1").len() as u64;
        let store = open(tmp.path(), 3 * size);
        let keys = ["key-1", "key-2", "key-3", "key-4", "key-5"];
        for key in &keys[..3] {
            store.put(key, entry("0123456789"));
            store.flush_writes().await;
        }
        assert_eq!(files_left(tmp.path(), &keys), ["key-1", "key-2", "key-3"]);
        for key in &keys[3..] {
            store.put(key, entry("0123456789"));
            store.flush_writes().await;
        }
        assert_eq!(files_left(tmp.path(), &keys), ["key-3", "key-4", "key-5"]);
        assert_eq!(store.status().bytes, Some(3 * size));
        assert_eq!(store.status().entries, Some(3));
        // Rewriting key-3 makes it the newest: key-4 is the oldest now.
        store.put("key-3", entry("0123456789"));
        store.flush_writes().await;
        store.put("key-6", entry("0123456789"));
        store.flush_writes().await;
        assert_eq!(files_left(tmp.path(), &keys), ["key-3", "key-5"]);
        assert_eq!(store.get("key-6").await.map(|e| e.body.len()), Some(10));
    }

    #[tokio::test]
    async fn at_open_the_oldest_by_modification_time_go_when_over_the_bound() {
        let tmp = tempfile::tempdir().unwrap();
        let keys = ["a", "b", "c"];
        let store = open(tmp.path(), 1 << 20);
        for key in keys {
            store.put(key, entry("body"));
        }
        store.flush_writes().await;
        // b oldest, then c, then a.
        let epoch = std::time::SystemTime::UNIX_EPOCH;
        for (key, secs) in [("a", 3_000), ("b", 1_000), ("c", 2_000)] {
            let file = std::fs::File::options()
                .write(true)
                .open(file_of(tmp.path(), key))
                .unwrap();
            file.set_modified(epoch + Duration::from_secs(secs))
                .unwrap();
        }
        // A temporary file left by a crash goes too.
        let temp = file_of(tmp.path(), "a").with_file_name(".tmp-left-over");
        std::fs::write(&temp, b"half").unwrap();
        let size = entry("body").encode("a").len() as u64;
        let store = open(tmp.path(), 2 * size);
        assert_eq!(files_left(tmp.path(), &keys), ["a", "c"]);
        assert!(!temp.exists());
        assert_eq!(store.status().entries, Some(2));
    }

    #[tokio::test]
    async fn flush_one_scope_in_every_namespace() {
        let tmp = tempfile::tempdir().unwrap();
        flush_one_scope(&open(tmp.path(), 1 << 20)).await;
    }

    #[tokio::test]
    async fn delete_and_flush_by_prefix() {
        let tmp = tempfile::tempdir().unwrap();
        let store = open(tmp.path(), 1 << 20);
        let keys = ["ns:team:a:1", "ns:team:a:2", "ns:team:b:1", "x:team:a:1"];
        for key in keys {
            store.put(key, entry("v"));
        }
        store.flush_writes().await;
        let delete = ["ns:team:a:1".to_string(), "nope".to_string()];
        assert_eq!(store.delete(&delete).await.unwrap(), 1);
        assert_eq!(store.flush("ns:team:a:").await.unwrap(), 1);
        assert_eq!(files_left(tmp.path(), &keys), ["ns:team:b:1", "x:team:a:1"]);
        assert_eq!(store.flush("").await.unwrap(), 2);
        assert_eq!(files_left(tmp.path(), &keys), Vec::<&str>::new());
        assert_eq!(store.status().entries, Some(0));
        assert_eq!(store.status().bytes, Some(0));
    }

    #[tokio::test]
    async fn a_write_that_fails_is_a_counted_fault_and_reads_go_on() {
        // A regular file where the key's folder should be: the write fails
        // whoever runs the test (root included).
        let tmp = tempfile::tempdir().unwrap();
        let store = open(tmp.path(), 1 << 20);
        store.put("kept", entry("old"));
        store.flush_writes().await;
        let blocked = file_of(tmp.path(), "blocked");
        let shard = blocked.parent().unwrap();
        assert_ne!(shard, file_of(tmp.path(), "kept").parent().unwrap());
        std::fs::write(shard, b"not a folder").unwrap();
        store.put("blocked", entry("new"));
        store.flush_writes().await;
        assert_eq!(faults(&store), [("disk_write", 1)]);
        assert_eq!(store.status().writes, 1);
        assert_eq!(store.get("kept").await.map(|e| e.body), Some("old".into()));
    }

    #[tokio::test]
    async fn a_read_only_folder_fails_writes_but_not_reads() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let store = open(tmp.path(), 1 << 20);
        store.put("kept", entry("old"));
        store.flush_writes().await;
        let read_only = std::fs::Permissions::from_mode(0o555);
        let shard = file_of(tmp.path(), "kept").parent().unwrap().to_path_buf();
        std::fs::set_permissions(&shard, read_only.clone()).unwrap();
        std::fs::set_permissions(tmp.path(), read_only).unwrap();
        // Root writes through 0555: then there is nothing to assert.
        let probe = tmp.path().join("probe");
        let writable = std::fs::write(&probe, b"").is_ok();
        store.put("new", entry("new"));
        store.put("kept", entry("newer"));
        store.flush_writes().await;
        if writable {
            eprintln!("running as root: chmod 0555 does not stop writes; assertion skipped");
        } else {
            assert_eq!(faults(&store), [("disk_write", 2)]);
            assert_eq!(store.status().writes, 1);
            assert!(store.ping().await.is_err());
        }
        assert!(store.get("kept").await.is_some());
        let writable = std::fs::Permissions::from_mode(0o755);
        std::fs::set_permissions(tmp.path(), writable.clone()).unwrap();
        std::fs::set_permissions(&shard, writable).unwrap();
    }

    #[tokio::test]
    async fn a_folder_that_cannot_be_made_serves_misses() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("file");
        std::fs::write(&file, b"").unwrap();
        let store = open(&file.join("cache"), 1 << 20);
        assert_eq!(faults(&store), [("disk_write", 1)]);
        assert_eq!(store.get("k").await, None);
        store.put("k", entry("v"));
        store.flush_writes().await;
        assert_eq!(faults(&store), [("disk_read", 1), ("disk_write", 2)]);
        assert!(store.ping().await.is_err());
        assert_eq!(store.flush("").await.ok(), None);
    }
}

mod redis {
    use super::*;
    use ::redis::AsyncCommands;

    const URL: &str = "redis://127.0.0.1:6379/";

    /// A store under its own prefix (removed when the test ends).
    struct Scoped {
        store: Store,
        prefix: String,
    }

    impl Scoped {
        fn new(test: &str) -> Scoped {
            let prefix = format!("sy-cache-test:{}:{test}:", std::process::id());
            let store = Store::open(&settings(Configured::Redis {
                url: URL.to_string(),
                prefix: prefix.clone(),
            }));
            Scoped { store, prefix }
        }

        async fn raw(&self) -> ::redis::aio::MultiplexedConnection {
            let client = ::redis::Client::open(URL).unwrap();
            client.get_multiplexed_async_connection().await.unwrap()
        }

        fn key(&self, key: &str) -> String {
            format!("{}cache:{key}", self.prefix)
        }

        async fn clean(self) {
            let mut raw = self.raw().await;
            let keys: Vec<String> = raw.keys(format!("{}*", self.prefix)).await.unwrap();
            if !keys.is_empty() {
                let _: () = raw.del(keys).await.unwrap();
            }
        }
    }

    #[tokio::test]
    async fn put_get_and_the_stored_value() {
        let scoped = Scoped::new("put-get");
        let store = &scoped.store;
        let stored = entry("{\"answer\":42}");
        store.put("ns:k", stored.clone());
        store.flush_writes().await;
        assert_eq!(store.get("ns:k").await, Some(stored.clone()));
        assert_eq!(store.get("ns:other").await, None);
        let mut raw = scoped.raw().await;
        let value: Vec<u8> = raw.get(scoped.key("ns:k")).await.unwrap();
        assert_eq!(value, stored.encode("ns:k"));
        let ttl: i64 = raw.pttl(scoped.key("ns:k")).await.unwrap();
        assert_eq!(ttl, -1);
        let status = store.status();
        assert_eq!(status.cache_type, "redis");
        assert_eq!((status.entries, status.bytes), (None, None));
        assert_eq!((status.lookups, status.hits, status.writes), (2, 1, 1));
        assert_eq!(status.reachable, Some(true));
        assert!(status.faults.is_empty());
        assert_eq!(store.ping().await.ok(), Some(()));
        scoped.clean().await;
    }

    #[tokio::test]
    async fn expiry_is_set_with_px() {
        let scoped = Scoped::new("px");
        let store = &scoped.store;
        store.put("short", expiring("x", 300));
        store.flush_writes().await;
        let ttl: i64 = scoped.raw().await.pttl(scoped.key("short")).await.unwrap();
        assert!((1..=300).contains(&ttl), "PTTL {ttl}");
        assert!(store.get("short").await.is_some());
        until(Duration::from_secs(3), "entry expired", async || {
            store.get("short").await.is_none()
        })
        .await;
        let exists: bool = scoped
            .raw()
            .await
            .exists(scoped.key("short"))
            .await
            .unwrap();
        assert!(!exists);
        scoped.clean().await;
    }

    #[tokio::test]
    async fn delete_counts_what_existed() {
        let scoped = Scoped::new("delete");
        let store = &scoped.store;
        store.put("a", entry("1"));
        store.put("b", entry("2"));
        store.put("c", entry("3"));
        store.flush_writes().await;
        let keys = ["a", "b", "missing"].map(str::to_string);
        assert_eq!(store.delete(&keys).await.unwrap(), 2);
        assert_eq!(store.get("a").await, None);
        assert!(store.get("c").await.is_some());
        assert_eq!(store.delete(&[]).await.unwrap(), 0);
        scoped.clean().await;
    }

    #[tokio::test]
    async fn flush_one_scope_in_every_namespace() {
        let scoped = Scoped::new("scope");
        flush_one_scope(&scoped.store).await;
        scoped.clean().await;
    }

    #[tokio::test]
    async fn flush_by_prefix_escapes_glob_characters() {
        let scoped = Scoped::new("flush");
        let store = &scoped.store;
        for key in ["n*:team:a:1", "n*:team:a:2", "nx:team:a:1", "n?:team:b:1"] {
            store.put(key, entry("v"));
        }
        // Another cache's entries (another prefix) are not this cache's.
        let other = Scoped::new("flush-other");
        other.store.put("n*:team:a:1", entry("v"));
        other.store.flush_writes().await;
        store.flush_writes().await;
        assert_eq!(store.flush("n*:team:a:").await.unwrap(), 2);
        assert!(store.get("nx:team:a:1").await.is_some());
        assert_eq!(store.flush("").await.unwrap(), 2);
        assert_eq!(store.get("n?:team:b:1").await, None);
        assert!(other.store.get("n*:team:a:1").await.is_some());
        scoped.clean().await;
        other.clean().await;
    }

    #[tokio::test]
    async fn a_value_that_is_not_an_entry_is_a_counted_miss() {
        let scoped = Scoped::new("corrupt");
        let mut raw = scoped.raw().await;
        let _: () = raw.set(scoped.key("k"), "not an entry").await.unwrap();
        let mut other_version = entry("v").encode("v");
        other_version[4] = 2;
        let _: () = raw.set(scoped.key("v"), other_version).await.unwrap();
        assert_eq!(scoped.store.get("k").await, None);
        assert_eq!(scoped.store.get("v").await, None);
        assert_eq!(
            faults(&scoped.store),
            [("corrupt", 1), ("other_version", 1)]
        );
        scoped.clean().await;
    }

    /// A local port nothing listens on.
    fn free_port() -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }

    fn redis_at(url: &str) -> Store {
        Store::open(&settings(Configured::Redis {
            url: url.to_string(),
            prefix: "sy-cache-test:".to_string(),
        }))
    }

    #[tokio::test]
    async fn an_unreachable_redis_is_a_fast_counted_miss_without_the_password() {
        let port = free_port();
        let store = redis_at(&format!("redis://:s3cret@127.0.0.1:{port}/"));
        let started = Instant::now();
        assert_eq!(store.get("k").await, None);
        assert!(
            started.elapsed() < Duration::from_millis(200),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(faults(&store), [("redis_unreachable", 1)]);
        store.put("k", entry("v"));
        store.flush_writes().await;
        assert_eq!(faults(&store), [("redis_unreachable", 2)]);
        assert_eq!(store.status().writes, 0);
        let error = store.ping().await.unwrap_err().to_string();
        assert!(
            error.starts_with(&format!("redis at 127.0.0.1:{port}: ")),
            "{error}"
        );
        let status = store.status();
        assert_eq!(status.reachable, Some(false));
        let last = status.last_fault.unwrap();
        assert!(last.contains(&format!("127.0.0.1:{port}")), "{last}");
        for text in [&error, &last] {
            assert!(!text.contains("s3cret"), "{text}");
        }
    }

    #[tokio::test]
    async fn a_stalled_redis_costs_a_lookup_at_most_the_timeout() {
        // Connections are accepted (by the kernel) and never answered.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let store = redis_at(&format!("redis://127.0.0.1:{port}/"));
        let started = Instant::now();
        assert_eq!(store.get("k").await, None);
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(100) && took < Duration::from_millis(200),
            "{took:?}"
        );
        assert_eq!(faults(&store), [("redis_timeout", 1)]);
        // Known down now: the next lookup does not wait.
        let started = Instant::now();
        assert_eq!(store.get("k").await, None);
        assert!(started.elapsed() < Duration::from_millis(20));
        assert_eq!(
            faults(&store),
            [("redis_timeout", 1), ("redis_unreachable", 1)]
        );
        drop(listener);
    }

    #[tokio::test]
    async fn a_bad_url_serves_misses() {
        let store = redis_at("not a url");
        assert_eq!(store.get("k").await, None);
        assert_eq!(faults(&store), [("redis_unreachable", 1)]);
        assert!(store.ping().await.is_err());
        assert!(store.delete(&["k".to_string()]).await.is_err());
    }

    /// A redis-server of this test's own on `port`, stopped when dropped.
    struct OwnRedis(std::process::Child);

    impl OwnRedis {
        fn start(port: u16) -> Option<OwnRedis> {
            let child = std::process::Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(std::process::Stdio::null())
                .spawn()
                .ok()?;
            Some(OwnRedis(child))
        }
    }

    impl Drop for OwnRedis {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    #[tokio::test]
    async fn redis_that_comes_back_is_used_again_and_its_loss_is_a_miss() {
        let port = free_port();
        let store = redis_at(&format!("redis://127.0.0.1:{port}/"));
        assert_eq!(store.get("k").await, None);
        assert_eq!(faults(&store), [("redis_unreachable", 1)]);
        let Some(server) = OwnRedis::start(port) else {
            eprintln!("no redis-server on PATH: the recovery part is skipped");
            return;
        };
        until(Duration::from_secs(5), "redis reachable", async || {
            store.status().reachable == Some(true)
        })
        .await;
        store.put("k", entry("v"));
        store.flush_writes().await;
        assert_eq!(store.get("k").await.map(|e| e.body), Some("v".into()));
        drop(server);
        assert_eq!(store.get("k").await, None);
        assert_eq!(faults(&store), [("redis_unreachable", 2)]);
        assert_eq!(store.status().reachable, Some(false));
    }
}
