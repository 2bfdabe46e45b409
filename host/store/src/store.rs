//! The store handle: one `AnyPool` over SQLite or PostgreSQL, so one code
//! path serves both and SQL branches on [`Backend`] only where dialects differ.

use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migration;
use sqlx::{AnyPool, Connection as _, Executor as _};

use crate::error::{Secrets, StoreError};
use crate::migrate::{self, SchemaState};
use crate::target::{Backend, Target};

/// How long a query waits for a pooled connection. Short, so a writer
/// retrying against a database that is down fails fast and backs off.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// Keys, teams, users, end users and spend records in one database.
/// Cheap to clone: the pool is shared.
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    pub(crate) backend: Backend,
    description: Arc<str>,
    pub(crate) secrets: Secrets,
    pub(crate) migrations: Arc<[Migration]>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("database", &self.description)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Connects without touching the schema (for `switchyard db` commands).
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        Self::connect_target(Target::parse(url)?, None).await
    }

    /// Connects to PostgreSQL with every pooled connection's `search_path`
    /// set to `schema` (created if missing), so several stores (tests,
    /// tenants) share one database without seeing each other's tables.
    pub async fn connect_with_schema(url: &str, schema: &str) -> Result<Store, StoreError> {
        let target = Target::parse(url)?;
        if target.backend != Backend::Postgres {
            return Err(StoreError::Invalid(
                "a schema needs a postgres:// URL".to_owned(),
            ));
        }
        if schema.is_empty()
            || !schema
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(StoreError::Invalid(format!(
                "schema name {schema:?}: use letters, digits and _ only"
            )));
        }
        Self::connect_target(target, Some(schema)).await
    }

    /// Connects, then makes sure the schema is this binary's: an empty
    /// database is migrated; an older or newer one is refused.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let store = Self::connect(url).await?;
        store.ensure_current().await?;
        Ok(store)
    }

    /// What [`Store::open`] does after connecting.
    pub async fn ensure_current(&self) -> Result<(), StoreError> {
        match self.schema().await? {
            SchemaState::Current => Ok(()),
            SchemaState::Empty => {
                let applied = self.migrate().await?;
                tracing::info!(database = %self.description, ?applied, "created the database schema");
                Ok(())
            }
            SchemaState::Outdated { have, need } => Err(StoreError::Outdated { have, need }),
            SchemaState::Newer { have, know } => Err(StoreError::Newer { have, know }),
        }
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// "sqlite /path/file.db" or "postgresql host:port/db": for logs, never a password.
    pub fn describe(&self) -> String {
        self.description.to_string()
    }

    /// Where the schema stands against this binary's migrations.
    pub async fn schema(&self) -> Result<SchemaState, StoreError> {
        migrate::state(self).await
    }

    /// Applies every migration the database lacks; returns their versions.
    pub async fn migrate(&self) -> Result<Vec<i64>, StoreError> {
        migrate::run(self).await
    }

    /// One round trip, for readiness checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(|e| self.secrets.db(e))?;
        Ok(())
    }

    /// Closes every pooled connection; later calls fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn connect_target(target: Target, schema: Option<&str>) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let options: AnyConnectOptions = target.url.parse().map_err(|e| target.secrets.db(e))?;
        if let Some(schema) = schema {
            let mut conn = sqlx::AnyConnection::connect_with(&options)
                .await
                .map_err(|e| target.secrets.db(e))?;
            sqlx::raw_sql(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
                .execute(&mut conn)
                .await
                .map_err(|e| target.secrets.db(e))?;
            conn.close().await.map_err(|e| target.secrets.db(e))?;
        }
        let setup: Arc<str> = match (target.backend, schema) {
            // WAL lets readers run beside the writer; NORMAL is durable
            // across application crashes and cheap in WAL mode. Temporary
            // storage in memory: each multi-row INSERT of spend keeps a
            // statement journal (to undo just that statement), and in a
            // temp file it cost a write() per page, 16 % of the writer's
            // time (`benches/spend_insert.rs`).
            (Backend::Sqlite, _) if target.memory => {
                "PRAGMA busy_timeout = 5000; PRAGMA temp_store = MEMORY".into()
            }
            (Backend::Sqlite, _) => "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                 PRAGMA busy_timeout = 5000; PRAGMA temp_store = MEMORY"
                .into(),
            (Backend::Postgres, Some(schema)) => format!("SET search_path TO \"{schema}\"").into(),
            (Backend::Postgres, None) => "".into(),
        };
        let mut pool = AnyPoolOptions::new().acquire_timeout(ACQUIRE_TIMEOUT);
        pool = match (target.backend, target.memory) {
            // Every connection to `sqlite::memory:` opens its own database:
            // keep exactly one, forever.
            (Backend::Sqlite, true) => pool
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None),
            (Backend::Sqlite, false) => pool.max_connections(4),
            (Backend::Postgres, _) => pool.max_connections(8),
        };
        if !setup.is_empty() {
            pool = pool.after_connect(move |conn, _meta| {
                let setup = Arc::clone(&setup);
                Box::pin(async move {
                    // `conn.execute(raw_sql(..))`, not `raw_sql(..).execute(conn)`:
                    // the latter trips sqlx issue #3150 (Executor not general enough).
                    conn.execute(sqlx::raw_sql(&setup)).await?;
                    Ok(())
                })
            });
        }
        let pool = pool
            .connect_with(options)
            .await
            .map_err(|e| target.secrets.db(e))?;
        tracing::debug!(database = %target.description, "connected");
        Ok(Store {
            pool,
            backend: target.backend,
            description: target.description.into(),
            secrets: target.secrets,
            migrations: migrate::embedded(target.backend).into(),
        })
    }

    /// The same store with another migration list (tests of outdated and
    /// newer schemas).
    #[cfg(test)]
    pub(crate) fn with_migrations(&self, migrations: Vec<Migration>) -> Store {
        Store {
            migrations: migrations.into(),
            ..self.clone()
        }
    }
}
