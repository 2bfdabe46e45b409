//! The in-memory copy of every key, team, user and end user, which the
//! request path reads without waiting on the database. It is loaded at
//! start, updated at once by this replica's management calls, and polled
//! for other replicas' changes (see [`super::Identity::watch`]).

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use serde::de::DeserializeOwned;
use switchyard_store::{Change, Entity, Row};

use super::records::{EndUserRecord, KeyRecord, TeamRecord, UserRecord};

/// One cached record, with what the database keeps beside its body.
#[derive(Debug)]
pub struct Entry<R> {
    /// The key's hash, or the team, user or end user id.
    pub id: String,
    pub record: R,
    /// All-time spend as last read from the database (it lags the spend
    /// writer by a batch; budget windows come from the limit counters).
    pub spend: f64,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// `expires`, read once (keys only).
    pub expires_ms: Option<i64>,
}

pub type KeyEntry = Entry<KeyRecord>;

impl KeyEntry {
    /// What the key's limits are counted under: its first hash, which
    /// `/key/regenerate` keeps (older keys: the hash itself).
    pub fn limit_id(&self) -> &str {
        self.record.key_id.as_deref().unwrap_or(&self.id)
    }
}
pub type TeamEntry = Entry<TeamRecord>;
pub type UserEntry = Entry<UserRecord>;
pub type EndUserEntry = Entry<EndUserRecord>;

#[derive(Default, Clone)]
struct Maps {
    keys: HashMap<String, Arc<KeyEntry>>,
    teams: HashMap<String, Arc<TeamEntry>>,
    users: HashMap<String, Arc<UserEntry>>,
    end_users: HashMap<String, Arc<EndUserEntry>>,
}

/// Every record, swapped whole on change: reads take no lock, and changes
/// are rare (management calls), so copying the maps is cheap enough.
#[derive(Default)]
pub struct Directory {
    maps: ArcSwap<Maps>,
}

/// Reads a row's body into its record; a body that does not read is
/// logged and left out (a key that cannot be read is refused, never
/// served without its limits).
fn entry<R: DeserializeOwned>(row: &Row) -> Option<Entry<R>> {
    match serde_json::from_value::<R>(row.body.clone()) {
        Ok(record) => Some(Entry {
            id: row.id.clone(),
            record,
            spend: row.spend,
            created_ms: row.created_ms,
            updated_ms: row.updated_ms,
            expires_ms: None,
        }),
        Err(e) => {
            tracing::warn!(
                id = %super::secret::short(&row.id),
                error = %e,
                "a stored record does not read; it is left out"
            );
            None
        }
    }
}

fn apply_to<R: DeserializeOwned>(
    map: &mut HashMap<String, Arc<Entry<R>>>,
    change: &Change,
    fix: impl Fn(&mut Entry<R>),
) {
    match change {
        Change::Upserted(row) => match entry::<R>(row) {
            Some(mut e) => {
                fix(&mut e);
                map.insert(row.id.clone(), Arc::new(e));
            }
            None => {
                map.remove(&row.id);
            }
        },
        Change::Deleted(id) => {
            map.remove(id);
        }
    }
}

/// `expires` as milliseconds since the epoch; an unreadable value expires
/// the key (it was checked when written, so this means a bad edit).
fn expires_ms(expires: Option<&str>) -> Option<i64> {
    let s = expires?;
    match time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
        Ok(t) => Some((t.unix_timestamp_nanos() / 1_000_000) as i64),
        Err(_) => Some(0),
    }
}

impl Directory {
    /// Applies changes read from the database or made by this replica.
    pub fn apply(&self, entity: Entity, changes: &[Change]) {
        if changes.is_empty() {
            return;
        }
        // `rcu`: a management call and the poller applying at once both
        // land (a plain load-modify-store could drop one of them).
        self.maps.rcu(|current| {
            let mut maps = Maps::clone(current);
            for change in changes {
                match entity {
                    Entity::Key => apply_to(&mut maps.keys, change, |e: &mut KeyEntry| {
                        e.expires_ms = expires_ms(e.record.expires.as_deref());
                    }),
                    Entity::Team => apply_to(&mut maps.teams, change, |_| {}),
                    Entity::User => apply_to(&mut maps.users, change, |_| {}),
                    Entity::EndUser => apply_to(&mut maps.end_users, change, |_| {}),
                }
            }
            maps
        });
    }

    pub fn key(&self, hash: &str) -> Option<Arc<KeyEntry>> {
        self.maps.load().keys.get(hash).cloned()
    }

    pub fn team(&self, id: &str) -> Option<Arc<TeamEntry>> {
        self.maps.load().teams.get(id).cloned()
    }

    pub fn user(&self, id: &str) -> Option<Arc<UserEntry>> {
        self.maps.load().users.get(id).cloned()
    }

    pub fn end_user(&self, id: &str) -> Option<Arc<EndUserEntry>> {
        self.maps.load().end_users.get(id).cloned()
    }

    /// How many records of each kind are cached (for the start-up log).
    pub fn counts(&self) -> [usize; 4] {
        let m = self.maps.load();
        [
            m.keys.len(),
            m.teams.len(),
            m.users.len(),
            m.end_users.len(),
        ]
    }

    /// Every cached key, team, user and end user with a budget (for
    /// seeding the budget counters at start).
    pub fn keys(&self) -> Vec<Arc<KeyEntry>> {
        self.maps.load().keys.values().cloned().collect()
    }

    pub fn teams(&self) -> Vec<Arc<TeamEntry>> {
        self.maps.load().teams.values().cloned().collect()
    }

    pub fn users(&self) -> Vec<Arc<UserEntry>> {
        self.maps.load().users.values().cloned().collect()
    }

    pub fn end_users(&self) -> Vec<Arc<EndUserEntry>> {
        self.maps.load().end_users.values().cloned().collect()
    }
}
