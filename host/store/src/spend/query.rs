//! Reading spend back: the log of requests, usage grouped one way and
//! filtered others, and per-id sums that seed budget counters at start.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use sqlx::Row as _;
use sqlx::any::AnyRow;

use super::SpendRecord;
use super::insert::COLUMNS;
use crate::error::StoreError;
use crate::sql::{Arg, Sql};
use crate::store::Store;
use crate::target::Backend;

/// Most records one [`Store::spend_logs`] page returns.
const MAX_PAGE: u32 = 1000;

/// Which spend records [`Store::spend_logs`] returns, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct SpendQuery {
    /// Requests that started at or after this time (ms).
    pub start_ms: Option<i64>,
    /// Requests that started before this time (ms).
    pub end_ms: Option<i64>,
    /// Of this key.
    pub key_hash: Option<String>,
    /// Of this user.
    pub user_id: Option<String>,
    /// Of this team.
    pub team_id: Option<String>,
    /// This request.
    pub request_id: Option<String>,
    /// 1-based.
    pub page: u32,
    /// At most 1000.
    pub page_size: u32,
}

impl Default for SpendQuery {
    fn default() -> Self {
        SpendQuery {
            start_ms: None,
            end_ms: None,
            key_hash: None,
            user_id: None,
            team_id: None,
            request_id: None,
            page: 1,
            page_size: 100,
        }
    }
}

/// One way to split usage into groups (and to filter it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GroupBy {
    /// model_group.
    Model,
    /// The key's alias, else the first 8 characters of its hash (what the
    /// rest of the product shows for a key without an alias). A filter on
    /// `Key` also matches the whole hash.
    Key,
    /// team_id.
    Team,
    /// user_id.
    User,
    /// end_user.
    EndUser,
    /// One group per tag: a record with two tags counts in both.
    Tag,
    /// The UTC day, 'YYYY-MM-DD'.
    Day,
    /// A metadata field (`a.b` for nested), as text; names are limited to
    /// `[A-Za-z0-9_.-]`.
    Metadata(String),
}

/// Usage between two times, split by one [`GroupBy`].
#[derive(Debug, Clone, PartialEq)]
pub struct UsageQuery {
    /// Requests that started at or after this time (ms).
    pub start_ms: i64,
    /// Requests that started before this time (ms).
    pub end_ms: i64,
    /// How to split it.
    pub group_by: GroupBy,
    /// Only records whose group value equals the string, for each pair.
    pub filter: Vec<(GroupBy, String)>,
}

/// Requests, tokens and cost of a set of records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Totals {
    /// Records.
    pub requests: u64,
    /// Input plus output tokens.
    pub tokens: u64,
    /// Sum of known costs (unknown costs count 0 here).
    pub cost: f64,
}

/// The answer to a [`UsageQuery`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Usage {
    /// All matching records.
    pub summary: Totals,
    /// By group value; records with no value (no model, no team, …) are
    /// under "". With [`GroupBy::Tag`], untagged records are in no group.
    pub groups: BTreeMap<String, Totals>,
}

/// What [`Store::spend_since`] sums cost by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SpendBy {
    /// key_hash.
    Key,
    /// team_id.
    Team,
    /// user_id.
    User,
    /// end_user.
    EndUser,
    /// model_group.
    Model,
    /// deployment.
    Deployment,
    /// provider.
    Provider,
    /// Each tag.
    Tag,
    /// A metadata field, as in [`GroupBy::Metadata`].
    Metadata(String),
}

/// A SQL expression over `spend`'s columns, or a tag (which needs a join).
enum Expr {
    Column(String),
    Tag,
}

/// The JSON path of a metadata field, checked: it is written into SQL.
fn metadata_path(field: &str) -> Result<Vec<&str>, StoreError> {
    let ok = !field.is_empty()
        && field
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    let parts: Vec<&str> = field.split('.').collect();
    if !ok || parts.iter().any(|p| p.is_empty()) {
        return Err(StoreError::Invalid(format!(
            "metadata field {field:?}: use letters, digits, _ and -, and . between nested names"
        )));
    }
    Ok(parts)
}

/// A metadata field as text: strings unquoted, other JSON as written
/// (true, 12, 1.5), the same on both backends.
fn metadata_expr(backend: Backend, field: &str) -> Result<String, StoreError> {
    let parts = metadata_path(field)?;
    Ok(match backend {
        Backend::Sqlite => {
            let path: String = parts.iter().map(|p| format!(".\"{p}\"")).collect();
            format!(
                "(CASE json_type(spend.metadata, '${path}') \
                 WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' \
                 ELSE CAST(json_extract(spend.metadata, '${path}') AS TEXT) END)"
            )
        }
        Backend::Postgres => format!(
            "(spend.metadata::jsonb #>> '{{{}}}')",
            parts
                .iter()
                .map(|p| format!("\"{p}\""))
                .collect::<Vec<_>>()
                .join(",")
        ),
    })
}

/// `FROM` with one row per (record, tag), tag in `tag.value`.
fn tag_join(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "spend, json_each(spend.tags) AS tag",
        Backend::Postgres => {
            "spend CROSS JOIN LATERAL jsonb_array_elements_text(spend.tags::jsonb) AS tag(value)"
        }
    }
}

/// The key column used for grouping: alias, else a hash prefix.
const KEY_EXPR: &str = "COALESCE(spend.key_alias, substr(spend.key_hash, 1, 8))";

impl GroupBy {
    fn expr(&self, backend: Backend) -> Result<Expr, StoreError> {
        Ok(Expr::Column(match self {
            GroupBy::Model => "spend.model_group".to_owned(),
            GroupBy::Key => KEY_EXPR.to_owned(),
            GroupBy::Team => "spend.team_id".to_owned(),
            GroupBy::User => "spend.user_id".to_owned(),
            GroupBy::EndUser => "spend.end_user".to_owned(),
            GroupBy::Day => "spend.day".to_owned(),
            GroupBy::Tag => return Ok(Expr::Tag),
            GroupBy::Metadata(field) => metadata_expr(backend, field)?,
        }))
    }
}

impl SpendBy {
    fn expr(&self, backend: Backend) -> Result<Expr, StoreError> {
        Ok(Expr::Column(match self {
            SpendBy::Key => "spend.key_hash".to_owned(),
            SpendBy::Team => "spend.team_id".to_owned(),
            SpendBy::User => "spend.user_id".to_owned(),
            SpendBy::EndUser => "spend.end_user".to_owned(),
            SpendBy::Model => "spend.model_group".to_owned(),
            SpendBy::Deployment => "spend.deployment".to_owned(),
            SpendBy::Provider => "spend.provider".to_owned(),
            SpendBy::Tag => return Ok(Expr::Tag),
            SpendBy::Metadata(field) => metadata_expr(backend, field)?,
        }))
    }
}

/// `AND …` for one usage filter.
fn filter_sql(
    sql: &mut Sql,
    backend: Backend,
    by: &GroupBy,
    value: &str,
) -> Result<(), StoreError> {
    let p = sql.arg(Arg::Text(value.to_owned()));
    let condition = match (by, by.expr(backend)?) {
        (GroupBy::Key, _) => format!("(spend.key_hash = {p} OR {KEY_EXPR} = {p})"),
        (_, Expr::Column(expr)) => format!("{expr} = {p}"),
        (_, Expr::Tag) => match backend {
            Backend::Sqlite => {
                format!("EXISTS (SELECT 1 FROM json_each(spend.tags) AS f WHERE f.value = {p})")
            }
            Backend::Postgres => format!(
                "EXISTS (SELECT 1 FROM jsonb_array_elements_text(spend.tags::jsonb) AS f(value) \
                 WHERE f.value = {p})"
            ),
        },
    };
    sql.push(" AND ").push(&condition);
    Ok(())
}

const TOTALS: &str = "COUNT(*), \
    CAST(COALESCE(SUM(spend.input_tokens + spend.output_tokens), 0) AS BIGINT), \
    CAST(COALESCE(SUM(spend.cost), 0) AS DOUBLE PRECISION)";

fn totals(row: &AnyRow, at: usize) -> Result<Totals, sqlx::Error> {
    let requests: i64 = row.try_get(at)?;
    let tokens: i64 = row.try_get(at + 1)?;
    Ok(Totals {
        requests: u64::try_from(requests).unwrap_or(0),
        tokens: u64::try_from(tokens).unwrap_or(0),
        cost: row.try_get(at + 2)?,
    })
}

fn decode_record(row: &AnyRow) -> Result<SpendRecord, sqlx::Error> {
    let request_id: String = row.try_get("request_id")?;
    let json_err = |column: &str, e: serde_json::Error| sqlx::Error::ColumnDecode {
        index: format!("spend.{column} of {request_id}"),
        source: Box::new(e),
    };
    let tags: String = row.try_get("tags")?;
    let metadata: String = row.try_get("metadata")?;
    let count = |column: &str| -> Result<u64, sqlx::Error> {
        Ok(u64::try_from(row.try_get::<i64, _>(column)?).unwrap_or(0))
    };
    let small = |column: &str| -> Result<u32, sqlx::Error> {
        Ok(u32::try_from(row.try_get::<i64, _>(column)?).unwrap_or(u32::MAX))
    };
    Ok(SpendRecord {
        tags: serde_json::from_str(&tags).map_err(|e| json_err("tags", e))?,
        metadata: serde_json::from_str(&metadata).map_err(|e| json_err("metadata", e))?,
        start_ms: row.try_get("start_ms")?,
        end_ms: row.try_get("end_ms")?,
        key_hash: row.try_get("key_hash")?,
        key_alias: row.try_get("key_alias")?,
        user_id: row.try_get("user_id")?,
        team_id: row.try_get("team_id")?,
        end_user: row.try_get("end_user")?,
        model_group: row.try_get("model_group")?,
        deployment: row.try_get("deployment")?,
        provider: row.try_get("provider")?,
        status: u16::try_from(row.try_get::<i64, _>("status")?).unwrap_or(0),
        error_kind: row.try_get("error_kind")?,
        input_tokens: count("input_tokens")?,
        output_tokens: count("output_tokens")?,
        cache_read_tokens: count("cache_read_tokens")?,
        cache_write_tokens: count("cache_write_tokens")?,
        reasoning_tokens: count("reasoning_tokens")?,
        cost: row.try_get("cost")?,
        estimated: row.try_get::<i64, _>("estimated")? != 0,
        cache_hit: row.try_get::<i64, _>("cache_hit")? != 0,
        attempts: small("attempts")?,
        fallbacks: small("fallbacks")?,
        overhead_ms: row.try_get("overhead_ms")?,
        latency_ms: row.try_get("latency_ms")?,
        request_id,
    })
}

impl Store {
    /// Spend records matching `q`, newest first, one page.
    pub async fn spend_logs(&self, q: &SpendQuery) -> Result<Vec<SpendRecord>, StoreError> {
        let mut sql = Sql::new(format!(
            "SELECT {} FROM spend WHERE 1 = 1",
            COLUMNS.join(", ")
        ));
        for (op, value) in [(">=", q.start_ms), ("<", q.end_ms)] {
            if let Some(ms) = value {
                let p = sql.arg(Arg::Int(ms));
                sql.push(&format!(" AND start_ms {op} {p}"));
            }
        }
        for (column, value) in [
            ("key_hash", &q.key_hash),
            ("user_id", &q.user_id),
            ("team_id", &q.team_id),
            ("request_id", &q.request_id),
        ] {
            if let Some(v) = value {
                let p = sql.arg(Arg::Text(v.clone()));
                sql.push(&format!(" AND {column} = {p}"));
            }
        }
        let size = q.page_size.clamp(1, MAX_PAGE);
        let limit = sql.arg(Arg::Int(i64::from(size)));
        let offset = sql.arg(Arg::Int(i64::from(q.page.max(1) - 1) * i64::from(size)));
        sql.push(&format!(
            " ORDER BY start_ms DESC, request_id DESC LIMIT {limit} OFFSET {offset}"
        ));
        let rows = sql
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.secrets.db(e))?;
        rows.iter()
            .map(decode_record)
            .collect::<Result<_, _>>()
            .map_err(|e| self.secrets.db(e))
    }

    /// Requests, tokens and cost between two times, in total and by group.
    pub async fn usage(&self, q: &UsageQuery) -> Result<Usage, StoreError> {
        let db = |e| self.secrets.db(e);
        let group = q.group_by.expr(self.backend)?;
        let (from, key) = match &group {
            Expr::Column(expr) => ("spend", expr.as_str()),
            Expr::Tag => (tag_join(self.backend), "tag.value"),
        };
        let build = |select: &str, from: &str| -> Result<Sql, StoreError> {
            let mut sql = Sql::new(format!("SELECT {select} FROM {from} WHERE "));
            let start = sql.arg(Arg::Int(q.start_ms));
            let end = sql.arg(Arg::Int(q.end_ms));
            sql.push(&format!(
                "spend.start_ms >= {start} AND spend.start_ms < {end}"
            ));
            for (by, value) in &q.filter {
                filter_sql(&mut sql, self.backend, by, value)?;
            }
            Ok(sql)
        };
        let summary = build(TOTALS, "spend")?;
        let row = summary.query().fetch_one(&self.pool).await.map_err(db)?;
        let summary = totals(&row, 0).map_err(db)?;
        let mut groups = build(&format!("{key}, {TOTALS}"), from)?;
        groups.push(&format!(" GROUP BY {key}"));
        let mut usage = Usage {
            summary,
            groups: BTreeMap::new(),
        };
        for row in groups.fetch_all(&self.pool).await.map_err(db)? {
            let name: Option<String> = row.try_get(0).map_err(db)?;
            let t = totals(&row, 1).map_err(db)?;
            // Two SQL values can map to one name ("" and NULL): add them up.
            let entry = usage.groups.entry(name.unwrap_or_default()).or_default();
            entry.requests += t.requests;
            entry.tokens += t.tokens;
            entry.cost += t.cost;
        }
        Ok(usage)
    }

    /// Known cost of requests since `since_ms`, summed by `by` (records
    /// without a value for it are left out).
    pub async fn spend_since(
        &self,
        by: SpendBy,
        since_ms: i64,
    ) -> Result<HashMap<String, f64>, StoreError> {
        let db = |e| self.secrets.db(e);
        let (from, key) = match by.expr(self.backend)? {
            Expr::Column(expr) => ("spend", expr),
            Expr::Tag => (tag_join(self.backend), "tag.value".to_owned()),
        };
        let sql = format!(
            "SELECT {key}, CAST(SUM(spend.cost) AS DOUBLE PRECISION) FROM {from} \
             WHERE spend.start_ms >= $1 AND spend.cost IS NOT NULL AND {key} IS NOT NULL \
             GROUP BY {key}"
        );
        let rows = sqlx::query(&sql)
            .bind(since_ms)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_fields_are_checked_before_they_reach_sql() {
        for bad in ["", "a'b", "a b", "a..b", ".a", "a.", "x;DROP", "é"] {
            assert!(
                matches!(
                    metadata_expr(Backend::Sqlite, bad),
                    Err(StoreError::Invalid(_))
                ),
                "{bad:?}"
            );
        }
        assert_eq!(
            metadata_expr(Backend::Postgres, "trace.user-id").unwrap(),
            "(spend.metadata::jsonb #>> '{\"trace\",\"user-id\"}')"
        );
        assert!(
            metadata_expr(Backend::Sqlite, "trace.user-id")
                .unwrap()
                .contains("json_extract(spend.metadata, '$.\"trace\".\"user-id\"')")
        );
    }
}
