//! Writing a batch of spend records: multi-row INSERTs that skip request
//! ids already stored, and in the same transaction each new record's cost
//! added to its key, team, user and end user. A batch is first written
//! with INSERTs that report only how many rows they stored; only a batch
//! some of whose ids were stored already (a replay) is written again with
//! `RETURNING`, to learn which records were new. NULs are stripped first
//! (see `nul`); a failure says whether a record's data may be the cause,
//! so the writer can find that record instead of retrying the batch.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};

use sqlx::AnyConnection;
use sqlx::Row as _;

use super::SpendRecord;
use super::metadata::metadata_json;
use super::nul::without_nul;
use crate::error::StoreError;
use crate::sql::{day, int};
use crate::store::Store;
use crate::target::Backend;

pub(crate) const COLUMNS: &[&str] = &[
    "request_id",
    "start_ms",
    "end_ms",
    "day",
    "key_hash",
    "key_alias",
    "user_id",
    "team_id",
    "end_user",
    "tags",
    "metadata",
    "model_group",
    "deployment",
    "provider",
    "status",
    "error_kind",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost",
    "estimated",
    "cache_hit",
    "attempts",
    "fallbacks",
    "overhead_ms",
    "latency_ms",
];

/// Rows per INSERT, largest first: a batch goes in chunks of these sizes,
/// so each connection prepares and caches at most this many INSERTs (two
/// of each: with and without `RETURNING`). A statement per batch size (up
/// to 500 rows of 28 placeholders) filled the statement cache with huge
/// prepared statements, each prepared at a cost (a loaded gateway: 136 MiB
/// instead of 47, 7.7k req/s instead of 11.9k). Powers of two: any batch
/// goes in at most six statements past its 64-row chunks.
const CHUNK_ROWS: [usize; 7] = [64, 32, 16, 8, 4, 2, 1];

/// The `cost` column's position in [`COLUMNS`].
const COST: usize = 21;

/// What an unknown cost is bound as. sqlx 0.8's `Any` driver hands
/// PostgreSQL a NULL `f64` as a NULL `f32`, so the first statement a
/// connection prepares with an unknown cost declares that parameter
/// `float4`, and every later known cost bound to that cached statement is
/// refused ("incorrect binary data format in bind parameter 22"): spend
/// records were set aside. Binding NaN instead keeps the parameter `float8`
/// always; PostgreSQL turns it back into NULL with `NULLIF`, SQLite on
/// its own (it stores a bound NaN as NULL). A real cost is never NaN
/// (non-finite costs are unknown).
const UNKNOWN_COST: f64 = f64::NAN;

/// A multi-row INSERT, returning the ids it stored if `returning`. SQLite
/// gets anonymous `?` placeholders: it looks numbered ones (`$n`) up by
/// name in a list, which is quadratic in their number (500 rows took 0.5 s
/// instead of 5 ms).
fn insert_sql(backend: Backend, rows: usize, returning: bool) -> String {
    let mut sql = format!("INSERT INTO spend ({}) VALUES ", COLUMNS.join(", "));
    let mut n = 0;
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..COLUMNS.len() {
            n += 1;
            if c > 0 {
                sql.push_str(", ");
            }
            match backend {
                Backend::Sqlite => sql.push('?'),
                Backend::Postgres if c == COST => {
                    sql.push_str(&format!("NULLIF(${n}, 'NaN'::float8)"));
                }
                Backend::Postgres => {
                    sql.push('$');
                    sql.push_str(&n.to_string());
                }
            }
        }
        sql.push(')');
    }
    sql.push_str(" ON CONFLICT DO NOTHING");
    if returning {
        sql.push_str(" RETURNING request_id");
    }
    sql
}

fn finite(x: f64) -> f64 {
    if x.is_finite() { x } else { 0.0 }
}

/// Why a batch of spend records was not written.
#[derive(Debug)]
pub(crate) struct InsertFailure {
    /// The error, without secrets.
    pub error: StoreError,
    /// The database refused a value (a data exception, a constraint, a
    /// row too large): a record of the batch is the likely cause, and
    /// fewer records may go through. Otherwise (connection, pool, schema,
    /// ...) no record is to blame and the batch should wait.
    pub bad_data: bool,
}

/// Whether the database refused a value rather than the statement or the
/// connection: PostgreSQL's classes 22 (data exception: NUL, bad JSON,
/// out of range), 23 (integrity constraint) and 54 (program limit: a row
/// too large); SQLite's TOOBIG, CONSTRAINT and MISMATCH; a value sqlx
/// could not encode.
pub(crate) fn is_bad_data(backend: Backend, e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Encode(_) => true,
        sqlx::Error::Database(db) => {
            let Some(code) = db.code() else {
                return false;
            };
            match backend {
                Backend::Postgres => ["22", "23", "54"].iter().any(|c| code.starts_with(c)),
                // Extended result codes: the primary code is the low byte.
                Backend::Sqlite => code
                    .parse::<i32>()
                    .is_ok_and(|c| matches!(c & 0xff, 18..=20)),
            }
        }
        _ => false,
    }
}

/// One INSERT of `chunk` (its size one of [`CHUNK_ROWS`]); returns how
/// many rows it stored. With `inserted`, the statement returns the ids it
/// stored (`sql` must say `RETURNING`) and they go there.
async fn insert_rows(
    conn: &mut AnyConnection,
    sql: &str,
    chunk: &[Cow<'_, SpendRecord>],
    inserted: Option<&mut HashSet<String>>,
) -> Result<usize, sqlx::Error> {
    let mut q = sqlx::query(sql);
    for r in chunk {
        let r: &SpendRecord = r;
        q = q
            .bind(r.request_id.as_str())
            .bind(r.start_ms)
            .bind(r.end_ms)
            .bind(day(r.start_ms))
            .bind(r.key_hash.as_deref())
            .bind(r.key_alias.as_deref())
            .bind(r.user_id.as_deref())
            .bind(r.team_id.as_deref())
            .bind(r.end_user.as_deref())
            .bind(serde_json::Value::from(r.tags.clone()).to_string())
            .bind(metadata_json(&r.metadata))
            .bind(r.model_group.as_deref())
            .bind(r.deployment.as_deref())
            .bind(r.provider.as_deref())
            .bind(i64::from(r.status))
            .bind(r.error_kind.as_deref())
            .bind(int(r.input_tokens))
            .bind(int(r.output_tokens))
            .bind(int(r.cache_read_tokens))
            .bind(int(r.cache_write_tokens))
            .bind(int(r.reasoning_tokens))
            .bind(r.cost.filter(|c| c.is_finite()).unwrap_or(UNKNOWN_COST))
            .bind(i64::from(r.estimated))
            .bind(i64::from(r.cache_hit))
            .bind(i64::from(r.attempts))
            .bind(i64::from(r.fallbacks))
            .bind(finite(r.overhead_ms))
            .bind(finite(r.latency_ms));
    }
    let Some(inserted) = inserted else {
        let done = q.execute(&mut *conn).await?;
        return Ok(usize::try_from(done.rows_affected()).unwrap_or(usize::MAX));
    };
    let rows = q.fetch_all(&mut *conn).await?;
    for row in &rows {
        inserted.insert(row.try_get::<String, _>(0)?);
    }
    Ok(rows.len())
}

/// Every record in INSERTs of [`CHUNK_ROWS`] rows, largest first (the
/// sizes end with 1, so every record goes); returns how many were stored.
async fn insert_all(
    conn: &mut AnyConnection,
    backend: Backend,
    records: &[Cow<'_, SpendRecord>],
    mut inserted: Option<&mut HashSet<String>>,
) -> Result<usize, sqlx::Error> {
    let mut stored = 0;
    let mut rest = records;
    for rows in CHUNK_ROWS {
        if rest.len() < rows {
            continue;
        }
        let sql = insert_sql(backend, rows, inserted.is_some());
        while rest.len() >= rows {
            let (chunk, next) = rest.split_at(rows);
            rest = next;
            stored += insert_rows(conn, &sql, chunk, inserted.as_deref_mut()).await?;
        }
    }
    Ok(stored)
}

/// Adds each record's cost to its key, team, user and end user.
async fn add_costs<'r>(
    conn: &mut AnyConnection,
    stored: impl Iterator<Item = &'r SpendRecord>,
) -> Result<(), sqlx::Error> {
    // Sum each record's cost once per id; BTreeMaps give every writer the
    // same lock order, so replicas never deadlock.
    let mut sums: [BTreeMap<&str, f64>; 4] = Default::default();
    for r in stored {
        let Some(cost) = r.cost.filter(|c| c.is_finite() && *c != 0.0) else {
            continue;
        };
        let ids = [&r.key_hash, &r.team_id, &r.user_id, &r.end_user];
        for (sum, id) in sums.iter_mut().zip(ids) {
            if let Some(id) = id {
                *sum.entry(id.as_str()).or_default() += cost;
            }
        }
    }
    let tables = [
        ("keys", "token_hash"),
        ("teams", "team_id"),
        ("users", "user_id"),
        ("end_users", "user_id"),
    ];
    for ((table, column), sum) in tables.into_iter().zip(&sums) {
        if sum.is_empty() {
            continue;
        }
        let sql = format!("UPDATE {table} SET spend = spend + $1 WHERE {column} = $2");
        for (id, cost) in sum {
            sqlx::query(&sql)
                .bind(*cost)
                .bind(*id)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

impl Store {
    /// Writes `records` in one transaction; returns how many were new (a
    /// request id already stored is skipped, and its cost not added again).
    /// NUL characters are removed from every text field, tag and metadata
    /// string first (PostgreSQL's TEXT and JSON refuse them).
    pub async fn insert_spend(&self, records: &[SpendRecord]) -> Result<u64, StoreError> {
        self.write_spend(records).await.map_err(|f| f.error)
    }

    /// [`Store::insert_spend`], saying whether a record's data may be why
    /// it failed.
    pub(crate) async fn write_spend(&self, records: &[SpendRecord]) -> Result<u64, InsertFailure> {
        self.try_write_spend(records)
            .await
            .map_err(|e| InsertFailure {
                bad_data: is_bad_data(self.backend, &e),
                error: self.secrets.db(e),
            })
    }

    async fn try_write_spend(&self, records: &[SpendRecord]) -> Result<u64, sqlx::Error> {
        if records.is_empty() {
            return Ok(0);
        }
        let records: Vec<Cow<'_, SpendRecord>> = records.iter().map(without_nul).collect();
        // Plain INSERTs first: with `RETURNING`, every row came back as a
        // message of its own from sqlx's SQLite thread, a thread hand-off
        // per record. If every record was stored, every one is new.
        let mut tx = self.pool.begin().await?;
        let stored = insert_all(&mut tx, self.backend, &records, None).await?;
        if stored == records.len() {
            add_costs(&mut tx, records.iter().map(|r| &**r)).await?;
            tx.commit().await?;
            return Ok(stored as u64);
        }
        // Some request ids were stored already (a replayed batch, or one
        // id twice in it): again, learning which records are new, so no
        // cost is added twice. Such a batch pays for both passes (and on
        // PostgreSQL the first leaves dead rows), but replays are rare: a
        // write that timed out after committing, or a spill file.
        tx.rollback().await?;
        let mut tx = self.pool.begin().await?;
        let mut inserted: HashSet<String> = HashSet::with_capacity(records.len());
        insert_all(&mut tx, self.backend, &records, Some(&mut inserted)).await?;
        let new = inserted.len() as u64;
        // `remove`: the first record of a request id is the one stored.
        let fresh = records
            .iter()
            .filter(|r| inserted.remove(&r.request_id))
            .map(|r| &**r);
        add_costs(&mut tx, fresh).await?;
        tx.commit().await?;
        Ok(new)
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::insert_all;
    use crate::store::Store;
    use crate::tests::record;

    /// The first pass trusts the count the database gives for INSERTs
    /// without `RETURNING`: a count too low would send every batch the
    /// slow way, a count too high would charge a replay twice.
    async fn the_first_pass_counts_only_the_rows_it_stored(store: &Store) {
        let mut conn = store.pool.acquire().await.unwrap();
        let backend = store.backend;
        let first: Vec<_> = (0..77).map(|n| Cow::Owned(record(n))).collect();
        let stored = insert_all(&mut conn, backend, &first, None).await.unwrap();
        assert_eq!(stored, 77);
        let again = insert_all(&mut conn, backend, &first, None).await.unwrap();
        assert_eq!(again, 0);
        let mut mixed = first[..10].to_vec();
        mixed.extend((100..105).map(|n| Cow::Owned(record(n))));
        let new = insert_all(&mut conn, backend, &mixed, None).await.unwrap();
        assert_eq!(new, 5);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_first_pass_counts_only_the_rows_it_stored_sqlite() {
        let db = crate::tests::sqlite().await;
        the_first_pass_counts_only_the_rows_it_stored(&db.store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_first_pass_counts_only_the_rows_it_stored_postgres() {
        let db = crate::tests::postgres().await;
        the_first_pass_counts_only_the_rows_it_stored(&db.store).await;
    }

    #[test]
    fn inserts_fit_the_parameter_limits_and_end_with_one_row() {
        use super::*;
        assert_eq!(COLUMNS.len(), 28);
        assert_eq!(COLUMNS[COST], "cost");
        assert_eq!(CHUNK_ROWS.last(), Some(&1));
        assert!(CHUNK_ROWS.windows(2).all(|w| w[0] > w[1]));
        assert!(CHUNK_ROWS[0] * COLUMNS.len() <= 32_766);
        let sql = insert_sql(Backend::Sqlite, 1, false);
        assert!(sql.ends_with(&format!(
            "VALUES ({}) ON CONFLICT DO NOTHING",
            ["?"; 28].join(", ")
        )));
        let sql = insert_sql(Backend::Sqlite, 1, true);
        assert!(sql.ends_with(&format!(
            "VALUES ({}) ON CONFLICT DO NOTHING RETURNING request_id",
            ["?"; 28].join(", ")
        )));
        let sql = insert_sql(Backend::Postgres, 2, true);
        assert!(sql.ends_with("($29, $30, $31, $32, $33, $34, $35, $36, $37, $38, $39, $40, $41, $42, $43, $44, $45, $46, $47, $48, $49, NULLIF($50, 'NaN'::float8), $51, $52, $53, $54, $55, $56) ON CONFLICT DO NOTHING RETURNING request_id"));
    }
}
