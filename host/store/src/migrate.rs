//! Versioned migrations, embedded in the binary and applied by sqlx's
//! `Migrator` (built by hand: no macros). The applied versions live in
//! sqlx's `_sqlx_migrations` table. See `migrations/README.md` for the rules
//! a migration follows.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;

use sqlx::Row as _;
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

use crate::error::StoreError;
use crate::store::Store;
use crate::target::Backend;

/// (version, description, SQL) for each backend, oldest first.
const SQLITE: &[(i64, &str, &str)] = &[(
    1,
    "initial",
    include_str!("../migrations/sqlite/0001_initial.sql"),
)];
const POSTGRES: &[(i64, &str, &str)] = &[(
    1,
    "initial",
    include_str!("../migrations/postgres/0001_initial.sql"),
)];

/// Where a database's schema stands against this binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaState {
    /// Nothing applied yet: a new database.
    Empty,
    /// Every migration this binary knows is applied, and no other.
    Current,
    /// Migrations are missing: run `switchyard db migrate`.
    Outdated {
        /// Highest version applied.
        have: i64,
        /// Highest version this binary knows.
        need: i64,
    },
    /// A newer binary migrated the database.
    Newer {
        /// Highest version applied.
        have: i64,
        /// Highest version this binary knows.
        know: i64,
    },
}

pub(crate) fn embedded(backend: Backend) -> Vec<Migration> {
    let list = match backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    };
    list.iter()
        .map(|&(version, description, sql)| {
            Migration::new(
                version,
                Cow::Borrowed(description),
                MigrationType::Simple,
                Cow::Borrowed(sql),
                false,
            )
        })
        .collect()
}

/// The versions recorded as applied (successfully), none if sqlx's table is missing.
async fn applied(store: &Store) -> Result<BTreeSet<i64>, StoreError> {
    let exists_sql = match store.backend {
        Backend::Sqlite => {
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'"
        }
        Backend::Postgres => {
            "SELECT COUNT(*) FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations'"
        }
    };
    let db = |e| store.secrets.db(e);
    let exists: i64 = sqlx::query_scalar(exists_sql)
        .fetch_one(&store.pool)
        .await
        .map_err(db)?;
    if exists == 0 {
        return Ok(BTreeSet::new());
    }
    let rows = sqlx::query("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
        .fetch_all(&store.pool)
        .await
        .map_err(db)?;
    rows.iter()
        .map(|row| row.try_get::<i64, _>(0).map_err(db))
        .collect()
}

pub(crate) async fn state(store: &Store) -> Result<SchemaState, StoreError> {
    let applied = applied(store).await?;
    let know = store
        .migrations
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or(0);
    let Some(&have) = applied.last() else {
        return Ok(SchemaState::Empty);
    };
    Ok(if have > know {
        SchemaState::Newer { have, know }
    } else if store
        .migrations
        .iter()
        .any(|m| !applied.contains(&m.version))
    {
        SchemaState::Outdated { have, need: know }
    } else {
        SchemaState::Current
    })
}

/// Our embedded list as a sqlx migration source.
#[derive(Debug)]
struct Embedded(Vec<Migration>);

impl MigrationSource<'static> for Embedded {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 'static>> {
        Box::pin(async move { Ok(self.0) })
    }
}

pub(crate) async fn run(store: &Store) -> Result<Vec<i64>, StoreError> {
    if let SchemaState::Newer { have, know } = state(store).await? {
        return Err(StoreError::Newer { have, know });
    }
    let before = applied(store).await?;
    let migrator = Migrator::new(Embedded(store.migrations.to_vec()))
        .await
        .map_err(|e| store.secrets.db(e))?;
    let mut conn = store
        .pool
        .acquire()
        .await
        .map_err(|e| store.secrets.db(e))?;
    // The migrator takes a session-level lock on PostgreSQL and leaves it
    // held if a migration fails: never hand this connection back. (SQLite
    // takes no such lock, and closing `sqlite::memory:`'s one connection
    // would lose the database.)
    if store.backend == Backend::Postgres {
        conn.close_on_drop();
    }
    migrator
        .run(&mut *conn)
        .await
        .map_err(|e| store.secrets.db(e))?;
    drop(conn);
    let after = applied(store).await?;
    let versions: Vec<i64> = after.difference(&before).copied().collect();
    if !versions.is_empty() {
        tracing::info!(database = %store.describe(), ?versions, "applied migrations");
    }
    Ok(versions)
}
