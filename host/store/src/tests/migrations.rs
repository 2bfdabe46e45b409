use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType};

use super::{fresh_postgres, fresh_sqlite};
use crate::{Backend, SchemaState, Store, StoreError};

/// The embedded migrations plus a test-only version 2.
fn with_v2(store: &Store) -> Store {
    let mut list = store.migrations.to_vec();
    list.push(Migration::new(
        2,
        Cow::Borrowed("test extra"),
        MigrationType::Simple,
        Cow::Borrowed("CREATE TABLE extra (x BIGINT)"),
        false,
    ));
    store.with_migrations(list)
}

async fn empty_is_migrated_once(store: &Store) {
    assert_eq!(store.schema().await.unwrap(), SchemaState::Empty);
    store.ensure_current().await.unwrap();
    assert_eq!(store.schema().await.unwrap(), SchemaState::Current);
    assert_eq!(store.migrate().await.unwrap(), Vec::<i64>::new());
    store.ensure_current().await.unwrap();
}

async fn migrate_reports_versions(store: &Store) {
    assert_eq!(store.migrate().await.unwrap(), vec![1]);
    assert_eq!(store.migrate().await.unwrap(), Vec::<i64>::new());
}

async fn outdated_is_refused_naming_the_command(store: &Store) {
    assert_eq!(store.migrate().await.unwrap(), vec![1]);
    let newer_binary = with_v2(store);
    assert_eq!(
        newer_binary.schema().await.unwrap(),
        SchemaState::Outdated { have: 1, need: 2 }
    );
    let err = newer_binary.ensure_current().await.unwrap_err();
    assert_eq!(err, StoreError::Outdated { have: 1, need: 2 });
    assert_eq!(
        err.to_string(),
        "the database schema is at version 1, this binary needs 2: run `switchyard db migrate --config <FILE>`"
    );
    assert_eq!(newer_binary.migrate().await.unwrap(), vec![2]);
    assert_eq!(newer_binary.schema().await.unwrap(), SchemaState::Current);
}

async fn newer_is_refused(store: &Store) {
    assert_eq!(with_v2(store).migrate().await.unwrap(), vec![1, 2]);
    assert_eq!(
        store.schema().await.unwrap(),
        SchemaState::Newer { have: 2, know: 1 }
    );
    assert_eq!(
        store.ensure_current().await.unwrap_err(),
        StoreError::Newer { have: 2, know: 1 }
    );
    assert_eq!(
        store.migrate().await.unwrap_err(),
        StoreError::Newer { have: 2, know: 1 }
    );
}

macro_rules! fresh {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let db = super::fresh_sqlite().await;
                super::$name(&db.store).await;
            }
            #[tokio::test]
            async fn postgres() {
                let db = super::fresh_postgres().await;
                super::$name(&db.store).await;
            }
        }
    )*};
}

fresh!(
    empty_is_migrated_once,
    migrate_reports_versions,
    outdated_is_refused_naming_the_command,
    newer_is_refused,
);

#[tokio::test]
async fn open_creates_a_sqlite_file_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub-less.db");
    let url = format!("sqlite://{}", path.display());
    let store = Store::open(&url).await.unwrap();
    assert!(path.exists());
    assert_eq!(store.backend(), Backend::Sqlite);
    assert_eq!(store.describe(), format!("sqlite {}", path.display()));
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&store.pool)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(&store.pool)
        .await
        .unwrap();
    assert_eq!(sync, 1, "NORMAL");
    let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
        .fetch_one(&store.pool)
        .await
        .unwrap();
    assert_eq!(busy, 5000);
    store.close().await;
    // Opening it again finds it current.
    let store = Store::open(&url).await.unwrap();
    assert_eq!(store.schema().await.unwrap(), SchemaState::Current);
    store.ping().await.unwrap();
}

#[tokio::test]
async fn memory_database_keeps_its_tables() {
    let store = Store::open("sqlite::memory:").await.unwrap();
    assert_eq!(store.describe(), "sqlite :memory:");
    store
        .insert(
            crate::Entity::Team,
            &crate::Row::new("t1", serde_json::json!({})),
        )
        .await
        .unwrap();
    assert!(
        store
            .get(crate::Entity::Team, "t1")
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn postgres_store_describes_itself_and_pings() {
    let db = super::postgres().await;
    assert_eq!(db.store.backend(), Backend::Postgres);
    assert_eq!(db.store.describe(), "postgresql 127.0.0.1:5432/test");
    db.store.ping().await.unwrap();
}

#[tokio::test]
async fn connection_errors_do_not_show_the_password() {
    let err = Store::connect("postgres://postgres:hunter2secret@127.0.0.1:1/test")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Db(_)), "{err:?}");
    assert!(!err.to_string().contains("hunter2secret"), "{err}");
}

#[tokio::test]
async fn schemas_are_postgres_only_and_checked() {
    assert!(matches!(
        Store::connect_with_schema("sqlite::memory:", "x").await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        Store::connect_with_schema(super::pg_url(), "x\"; DROP").await,
        Err(StoreError::Invalid(_))
    ));
}

#[tokio::test]
async fn a_postgres_url_may_choose_the_schema_itself() {
    // A schema made (and later dropped) by the helper; opened again by URL.
    let db = super::fresh_postgres().await;
    let schema: String = sqlx::query_scalar("SELECT CAST(current_schema() AS TEXT)")
        .fetch_one(&db.store.pool)
        .await
        .unwrap();
    let base = super::pg_url().replace("postgres://", "postgresql://");
    let url = format!("{base}?options=-csearch_path%3D{schema}");
    let store = Store::open(&url).await.unwrap();
    assert_eq!(store.describe(), "postgresql 127.0.0.1:5432/test");
    assert_eq!(store.schema().await.unwrap(), SchemaState::Current);
    let tables: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = $1 \
         AND table_name IN ('keys', 'teams', 'users', 'end_users', 'spend', '_sqlx_migrations')",
    )
    .bind(&schema)
    .fetch_one(&store.pool)
    .await
    .unwrap();
    assert_eq!(tables, 6);
    store.close().await;
}

#[tokio::test]
async fn sqlite_paths_keep_case_and_spaces() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("My Store.DB");
    let store = Store::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    assert_eq!(store.describe(), format!("sqlite {}", path.display()));
    assert!(path.exists());
    store.ping().await.unwrap();
}
