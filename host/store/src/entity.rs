//! Keys, teams, users and end users: rows with an id, a few indexed
//! columns and the rest as a JSON body the store does not interpret.
//! Deletes are soft so the gateway's cache, which polls `updated_ms`, sees
//! them; `updated_ms` only ever grows for a row, even if the clock steps back.

use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::error::StoreError;
use crate::sql::{Arg, Sql, now_ms};
use crate::store::Store;

/// Which table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Entity {
    /// Virtual keys, by the hash of the token.
    Key,
    /// Teams.
    Team,
    /// Internal users.
    User,
    /// End users (the `user` field of a request).
    EndUser,
}

/// One entity. `team_id` and `user_id` are columns of keys only; they are
/// `None` for the other entities and ignored when writing them.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// token_hash, team_id or user_id.
    pub id: String,
    /// key_alias, team_alias, user_email or alias.
    pub alias: Option<String>,
    /// The key's team.
    pub team_id: Option<String>,
    /// The key's user.
    pub user_id: Option<String>,
    /// Everything else, as the host builds it (LiteLLM's field names).
    pub body: serde_json::Value,
    /// Summed cost of the entity's requests, kept by the spend writer.
    pub spend: f64,
    /// Set by the store on insert.
    pub created_ms: i64,
    /// Set by the store on every change.
    pub updated_ms: i64,
}

impl Row {
    /// A row to insert or update; the store sets spend and times.
    pub fn new(id: impl Into<String>, body: serde_json::Value) -> Row {
        Row {
            id: id.into(),
            alias: None,
            team_id: None,
            user_id: None,
            body,
            spend: 0.0,
            created_ms: 0,
            updated_ms: 0,
        }
    }
}

/// What [`Store::changed_since`] reports for one row.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Inserted or updated: the row as it is now.
    Upserted(Row),
    /// Deleted (soft): its id.
    Deleted(String),
}

/// Which rows [`Store::list`] returns, a page at a time.
#[derive(Debug, Clone, PartialEq)]
pub struct ListFilter {
    /// Keys of this team (for teams: that team).
    pub team_id: Option<String>,
    /// Keys of this user (for users and end users: that one).
    pub user_id: Option<String>,
    /// Exact alias (key_alias, team_alias, user_email, alias).
    pub alias: Option<String>,
    /// 1-based.
    pub page: u32,
    /// Rows a page, at most 1000.
    pub size: u32,
}

impl Default for ListFilter {
    fn default() -> Self {
        ListFilter {
            team_id: None,
            user_id: None,
            alias: None,
            page: 1,
            size: 100,
        }
    }
}

/// The most rows one `list` page returns.
const MAX_PAGE: u32 = 1000;

/// Table and column names of an entity.
struct Table {
    name: &'static str,
    id: &'static str,
    alias: &'static str,
    /// Keys carry team_id and user_id columns.
    owners: bool,
}

impl Entity {
    fn table(self) -> Table {
        match self {
            Entity::Key => Table {
                name: "keys",
                id: "token_hash",
                alias: "key_alias",
                owners: true,
            },
            Entity::Team => Table {
                name: "teams",
                id: "team_id",
                alias: "team_alias",
                owners: false,
            },
            Entity::User => Table {
                name: "users",
                id: "user_id",
                alias: "user_email",
                owners: false,
            },
            Entity::EndUser => Table {
                name: "end_users",
                id: "user_id",
                alias: "alias",
                owners: false,
            },
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Entity::Key => "key",
            Entity::Team => "team",
            Entity::User => "user",
            Entity::EndUser => "end user",
        }
    }
}

impl Table {
    /// The columns a row is read from, in [`Table::decode`]'s order.
    fn select(&self) -> String {
        let owners = if self.owners {
            "team_id, user_id"
        } else {
            "NULL, NULL"
        };
        format!(
            "SELECT {}, {}, {owners}, body, spend, created_ms, updated_ms, deleted_ms FROM {}",
            self.id, self.alias, self.name
        )
    }

    fn decode(&self, row: &AnyRow) -> Result<(Row, Option<i64>), sqlx::Error> {
        let body: String = row.try_get(4)?;
        let id: String = row.try_get(0)?;
        let body = serde_json::from_str(&body).map_err(|e| sqlx::Error::ColumnDecode {
            index: format!("{}.body of {id}", self.name),
            source: Box::new(e),
        })?;
        Ok((
            Row {
                id,
                alias: row.try_get(1)?,
                team_id: row.try_get(2)?,
                user_id: row.try_get(3)?,
                body,
                spend: row.try_get(5)?,
                created_ms: row.try_get(6)?,
                updated_ms: row.try_get(7)?,
            },
            row.try_get(8)?,
        ))
    }

    /// INSERT of a live row over a missing or deleted one; affects no row
    /// when a live row holds the id.
    fn insert(&self, row: &Row, spend: f64, now: i64) -> Sql {
        let Table {
            name, id, alias, ..
        } = self;
        let mut sql = Sql::default();
        let mut cols = vec![*id, *alias];
        let mut vals = vec![
            sql.arg(Arg::Text(row.id.clone())),
            sql.arg(Arg::OptText(row.alias.clone())),
        ];
        let mut set = format!("{alias} = excluded.{alias}");
        if self.owners {
            cols.extend(["team_id", "user_id"]);
            vals.push(sql.arg(Arg::OptText(row.team_id.clone())));
            vals.push(sql.arg(Arg::OptText(row.user_id.clone())));
            set.push_str(", team_id = excluded.team_id, user_id = excluded.user_id");
        }
        let now = sql.arg(Arg::Int(now));
        cols.extend(["body", "spend", "created_ms", "updated_ms"]);
        vals.push(sql.arg(Arg::Text(row.body.to_string())));
        vals.push(sql.arg(Arg::Real(spend)));
        vals.push(now.clone());
        vals.push(now);
        sql.push(&format!(
            "INSERT INTO {name} ({}) VALUES ({}) \
             ON CONFLICT ({id}) DO UPDATE SET {set}, \
             body = excluded.body, spend = excluded.spend, created_ms = excluded.created_ms, \
             updated_ms = CASE WHEN excluded.updated_ms > {name}.updated_ms \
             THEN excluded.updated_ms ELSE {name}.updated_ms + 1 END, deleted_ms = NULL \
             WHERE {name}.deleted_ms IS NOT NULL",
            cols.join(", "),
            vals.join(", ")
        ));
        sql
    }
}

/// `updated_ms` set to now, or one past its old value if the clock stepped back.
fn bump(param: &str) -> String {
    format!("updated_ms = CASE WHEN {param} > updated_ms THEN {param} ELSE updated_ms + 1 END")
}

impl Store {
    /// Adds a row; [`StoreError::Conflict`] if a live row has its id (a
    /// deleted one is replaced). Spend starts at `row.spend`.
    pub async fn insert(&self, e: Entity, row: &Row) -> Result<(), StoreError> {
        let sql = e.table().insert(row, row.spend, now_ms());
        let done = sql
            .query()
            .execute(&self.pool)
            .await
            .map_err(|err| self.secrets.db(err))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!("{} {}", e.noun(), row.id)));
        }
        Ok(())
    }

    /// Replaces a live row's body and indexed columns (not its spend);
    /// [`StoreError::NotFound`] if it is missing or deleted.
    pub async fn update(&self, e: Entity, row: &Row) -> Result<(), StoreError> {
        let t = e.table();
        let mut sql = Sql::default();
        let id = sql.arg(Arg::Text(row.id.clone()));
        let mut set = format!("{} = {}", t.alias, sql.arg(Arg::OptText(row.alias.clone())));
        if t.owners {
            let team = sql.arg(Arg::OptText(row.team_id.clone()));
            let user = sql.arg(Arg::OptText(row.user_id.clone()));
            set.push_str(&format!(", team_id = {team}, user_id = {user}"));
        }
        let body = sql.arg(Arg::Text(row.body.to_string()));
        let now = sql.arg(Arg::Int(now_ms()));
        sql.push(&format!(
            "UPDATE {} SET {set}, body = {body}, {} WHERE {} = {id} AND deleted_ms IS NULL",
            t.name,
            bump(&now),
            t.id
        ));
        let done = sql
            .query()
            .execute(&self.pool)
            .await
            .map_err(|err| self.secrets.db(err))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("{} {}", e.noun(), row.id)));
        }
        Ok(())
    }

    /// Marks a live row deleted; [`StoreError::NotFound`] if there is none.
    pub async fn delete(&self, e: Entity, id: &str) -> Result<(), StoreError> {
        let t = e.table();
        let sql = format!(
            "UPDATE {} SET deleted_ms = $2, {} WHERE {} = $1 AND deleted_ms IS NULL",
            t.name,
            bump("$2"),
            t.id
        );
        let done = sqlx::query(&sql)
            .bind(id)
            .bind(now_ms())
            .execute(&self.pool)
            .await
            .map_err(|err| self.secrets.db(err))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("{} {id}", e.noun())));
        }
        Ok(())
    }

    /// Regenerates a key in one transaction: the key `old_hash` is deleted
    /// and `row` (its new hash and body) inserted carrying the old spend.
    /// [`StoreError::NotFound`] if the old key is missing,
    /// [`StoreError::Conflict`] if a live key already has the new hash.
    pub async fn rename_key(&self, old_hash: &str, row: &Row) -> Result<(), StoreError> {
        let db = |err| self.secrets.db(err);
        let t = Entity::Key.table();
        let now = now_ms();
        let mut tx = self.pool.begin().await.map_err(db)?;
        // Write first: a SQLite transaction that reads before it writes can
        // fail to upgrade its lock under a concurrent writer.
        let old = sqlx::query(&format!(
            "UPDATE keys SET deleted_ms = $2, {} WHERE token_hash = $1 AND deleted_ms IS NULL \
             RETURNING spend",
            bump("$2")
        ))
        .bind(old_hash)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some(old) = old else {
            return Err(StoreError::NotFound(format!("key {old_hash}")));
        };
        let spend: f64 = old.try_get(0).map_err(db)?;
        let sql = t.insert(row, spend, now);
        let done = sql.query().execute(&mut *tx).await.map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!("key {}", row.id)));
        }
        tx.commit().await.map_err(db)?;
        Ok(())
    }

    /// A live row by id.
    pub async fn get(&self, e: Entity, id: &str) -> Result<Option<Row>, StoreError> {
        let t = e.table();
        let sql = format!("{} WHERE {} = $1 AND deleted_ms IS NULL", t.select(), t.id);
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|err| self.secrets.db(err))?;
        row.map(|r| t.decode(&r).map(|(row, _)| row))
            .transpose()
            .map_err(|err| self.secrets.db(err))
    }

    /// Live rows matching `filter`, oldest first, one page.
    pub async fn list(&self, e: Entity, filter: &ListFilter) -> Result<Vec<Row>, StoreError> {
        let t = e.table();
        let mut sql = Sql::new(format!("{} WHERE deleted_ms IS NULL", t.select()));
        let owner = |column: &'static str, value: &Option<String>| -> Result<_, StoreError> {
            Ok(match (value, e, t.owners) {
                (None, _, _) => None,
                (Some(v), _, true) => Some((column, v.clone())),
                (Some(v), Entity::Team, _) if column == "team_id" => Some((t.id, v.clone())),
                (Some(v), Entity::User | Entity::EndUser, _) if column == "user_id" => {
                    Some((t.id, v.clone()))
                }
                (Some(_), _, _) => {
                    return Err(StoreError::Invalid(format!(
                        "{}s cannot be listed by {column}",
                        e.noun()
                    )));
                }
            })
        };
        let conditions = [
            owner("team_id", &filter.team_id)?,
            owner("user_id", &filter.user_id)?,
            filter.alias.clone().map(|a| (t.alias, a)),
        ];
        for (column, value) in conditions.into_iter().flatten() {
            let p = sql.arg(Arg::Text(value));
            sql.push(&format!(" AND {column} = {p}"));
        }
        let size = filter.size.clamp(1, MAX_PAGE);
        let offset = i64::from(filter.page.max(1) - 1) * i64::from(size);
        let limit = sql.arg(Arg::Int(i64::from(size)));
        let skip = sql.arg(Arg::Int(offset));
        sql.push(&format!(
            " ORDER BY created_ms, {} LIMIT {limit} OFFSET {skip}",
            t.id
        ));
        let rows = sql
            .fetch_all(&self.pool)
            .await
            .map_err(|err| self.secrets.db(err))?;
        rows.iter()
            .map(|r| t.decode(r).map(|(row, _)| row))
            .collect::<Result<_, _>>()
            .map_err(|err| self.secrets.db(err))
    }

    /// Rows changed after `since_ms`, in the order they changed; deleted
    /// ones as [`Change::Deleted`]. Transactions commit in a different order
    /// than their clocks read: poll with some overlap (`since = last - 5000`)
    /// and apply changes idempotently.
    pub async fn changed_since(&self, e: Entity, since_ms: i64) -> Result<Vec<Change>, StoreError> {
        let t = e.table();
        let sql = format!(
            "{} WHERE updated_ms > $1 ORDER BY updated_ms, {}",
            t.select(),
            t.id
        );
        let rows = sqlx::query(&sql)
            .bind(since_ms)
            .fetch_all(&self.pool)
            .await
            .map_err(|err| self.secrets.db(err))?;
        rows.iter()
            .map(|r| {
                t.decode(r).map(|(row, deleted)| match deleted {
                    Some(_) => Change::Deleted(row.id),
                    None => Change::Upserted(row),
                })
            })
            .collect::<Result<_, _>>()
            .map_err(|err| self.secrets.db(err))
    }
}
