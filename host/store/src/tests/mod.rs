//! Tests against SQLite (a temp file each) and the local PostgreSQL (a
//! schema each, dropped afterwards, even when the test fails).

mod entities;
mod migrations;
mod proxy;
mod spend;
mod writer;

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::{SpendRecord, Store};

/// Runs `async fn $name(store: &Store)` once on SQLite and once on
/// PostgreSQL, each on a freshly migrated database.
macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = crate::tests::sqlite().await;
                super::$name(&db.store).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let db = crate::tests::postgres().await;
                super::$name(&db.store).await;
            }
        }
    )*};
}
pub(crate) use both;

/// A database for one test; dropping it removes it.
pub(crate) struct Db {
    pub(crate) store: Store,
    pub(crate) dir: tempfile::TempDir,
    schema: Option<String>,
}

impl Drop for Db {
    fn drop(&mut self) {
        let Some(schema) = self.schema.take() else {
            return;
        };
        let url = pg_url().to_owned();
        // Drop may run inside a runtime (or during a panic): use a thread
        // with its own runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                use sqlx::Connection as _;
                let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
                sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                    .execute(&mut conn)
                    .await
                    .unwrap();
            });
        })
        .join();
    }
}

/// A unique suffix: process id and a counter.
pub(crate) fn unique() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{}_{}_{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The local PostgreSQL: `$SWITCHYARD_TEST_PG`, else user postgres, else root.
pub(crate) fn pg_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var("SWITCHYARD_TEST_PG") {
            return url;
        }
        sqlx::any::install_default_drivers();
        let candidates = [
            "postgres://postgres@127.0.0.1:5432/test",
            "postgres://root@127.0.0.1:5432/test",
        ];
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                use sqlx::Connection as _;
                for url in candidates {
                    if sqlx::AnyConnection::connect(url).await.is_ok() {
                        return url.to_owned();
                    }
                }
                panic!("no PostgreSQL at 127.0.0.1:5432 (db test, user postgres or root)");
            })
        })
        .join()
        .unwrap()
    })
}

/// A fresh SQLite file, not migrated.
pub(crate) async fn fresh_sqlite() -> Db {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/store.db", dir.path().display());
    let store = Store::connect(&url).await.unwrap();
    Db {
        store,
        dir,
        schema: None,
    }
}

/// A fresh PostgreSQL schema, not migrated.
pub(crate) async fn fresh_postgres() -> Db {
    pg_with(pg_url()).await
}

/// A fresh schema reached through `url` (a proxy, say).
pub(crate) async fn pg_with(url: &str) -> Db {
    let schema = format!("store_test_{}", unique());
    let store = Store::connect_with_schema(url, &schema).await.unwrap();
    Db {
        store,
        dir: tempfile::tempdir().unwrap(),
        schema: Some(schema),
    }
}

pub(crate) async fn sqlite() -> Db {
    let db = fresh_sqlite().await;
    db.store.ensure_current().await.unwrap();
    db
}

pub(crate) async fn postgres() -> Db {
    let db = fresh_postgres().await;
    db.store.ensure_current().await.unwrap();
    db
}

/// Waits until `check` holds, for at most `secs` seconds.
pub(crate) async fn eventually(secs: u64, what: &str, mut check: impl FnMut() -> bool) {
    let until = std::time::Instant::now() + Duration::from_secs(secs);
    while !check() {
        assert!(
            std::time::Instant::now() < until,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A record with every field set; `n` makes it unique.
pub(crate) fn record(n: u64) -> SpendRecord {
    let base = 1_717_200_000_000; // 2024-06-01T00:00:00Z
    SpendRecord {
        request_id: format!("req-{n:08}"),
        start_ms: base + n as i64,
        end_ms: base + n as i64 + 250,
        key_hash: Some(format!("hash{}", n % 4)),
        key_alias: n.is_multiple_of(4).then(|| "alias0".to_owned()),
        user_id: Some(format!("user{}", n % 3)),
        team_id: Some(format!("team{}", n % 2)),
        end_user: Some(format!("end{}", n % 5)),
        tags: vec!["prod".to_owned(), format!("t{}", n % 2)],
        metadata: serde_json::json!({"trace": {"env": "ci"}, "n": n})
            .as_object()
            .unwrap()
            .clone(),
        model_group: Some("gpt-4o".to_owned()),
        deployment: Some("azure-east".to_owned()),
        provider: Some("azure".to_owned()),
        status: 200,
        error_kind: None,
        input_tokens: 10,
        output_tokens: 5,
        cache_read_tokens: 2,
        cache_write_tokens: 1,
        reasoning_tokens: 3,
        cost: Some(0.25),
        estimated: false,
        cache_hit: false,
        attempts: 1,
        fallbacks: 0,
        overhead_ms: 1.5,
        latency_ms: 250.0,
    }
}

/// Rows in the spend table.
pub(crate) async fn spend_rows(store: &Store) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM spend")
        .fetch_one(&store.pool)
        .await
        .unwrap()
}
