//! Who a request speaks for: the master key, a virtual key (with its team
//! and user), or nobody on a gateway without a master key. Resolved once,
//! before anything else, from the in-memory [`Directory`]; the database is
//! never read on a request's path.

pub mod directory;
pub mod records;
pub mod secret;

use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use serde_json::{Map, Value};
use switchyard_store::{Change, Entity, Store, StoreError};

pub use directory::{Directory, EndUserEntry, KeyEntry, TeamEntry, UserEntry};

use crate::gateway::ApiError;
use crate::gateway::views;
use crate::plugins::bindings::types::Caller;

/// How often the directory reads other replicas' changes.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// How far back each poll looks past the newest change it saw, so a change
/// stamped by a replica whose clock lags is still picked up (re-applying a
/// change is harmless).
const POLL_OVERLAP_MS: i64 = 5_000;
/// The model name in a key's `models` that allows every model (LiteLLM's).
const ALL_MODELS: &str = "all-proxy-models";

/// The gateway's keys and who holds them.
pub struct Identity {
    master_key: Option<String>,
    store: Store,
    directory: Directory,
}

/// The caller behind a request's key.
#[derive(Clone)]
pub enum Principal {
    /// No master key is configured: auth is off, as in LiteLLM.
    Open,
    Master,
    Key(Arc<KeyHolder>),
}

/// A virtual key with its team and user, as cached when the request came.
pub struct KeyHolder {
    pub key: Arc<KeyEntry>,
    pub team: Option<Arc<TeamEntry>>,
    pub user: Option<Arc<UserEntry>>,
}

impl KeyHolder {
    /// The key's alias, or the first 8 characters of its hash: what stands
    /// in for the key wherever it is named.
    pub fn label(&self) -> String {
        match &self.key.record.key_alias {
            Some(a) => a.clone(),
            None => secret::short(&self.key.id).to_string(),
        }
    }
}

/// Who may call the management API.
#[derive(Debug, Clone, PartialEq)]
pub enum Admin {
    Master,
    /// A key whose user has the `proxy_admin` role.
    User(String),
}

/// Who is reading usage or key info: an admin, or a key (which may read
/// its own key and its own team).
#[derive(Clone)]
pub enum Reader {
    Admin(Admin),
    Key(Arc<KeyHolder>),
}

impl Identity {
    /// Opens the directory over `store`, reading every record once.
    pub async fn load(master_key: Option<String>, store: Store) -> Result<Identity, StoreError> {
        let identity = Identity {
            master_key,
            store,
            directory: Directory::default(),
        };
        for entity in ENTITIES {
            let changes = identity.store.changed_since(entity, i64::MIN).await?;
            identity.directory.apply(entity, &changes);
        }
        Ok(identity)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// Whether a master key is configured (chat auth on).
    pub fn auth_on(&self) -> bool {
        self.master_key.is_some()
    }

    /// Applies a change this replica just wrote, so the next request sees it.
    pub fn apply(&self, entity: Entity, change: Change) {
        self.directory.apply(entity, &[change]);
    }

    /// Polls the database for other replicas' changes until `identity` is
    /// dropped. Off the request path; a failed poll is logged and retried.
    pub fn watch(identity: &Arc<Identity>) {
        let weak = Arc::downgrade(identity);
        let mut since = [now_ms(); 4];
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(POLL_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut failing = false;
            loop {
                tick.tick().await;
                let Some(identity) = weak.upgrade() else {
                    return;
                };
                for (i, entity) in ENTITIES.into_iter().enumerate() {
                    match identity
                        .store
                        .changed_since(entity, since[i] - POLL_OVERLAP_MS)
                        .await
                    {
                        Ok(changes) => {
                            for c in &changes {
                                if let Change::Upserted(row) = c {
                                    since[i] = since[i].max(row.updated_ms);
                                }
                            }
                            identity.directory.apply(entity, &changes);
                            if failing {
                                tracing::info!("the key directory reads the database again");
                                failing = false;
                            }
                        }
                        Err(e) => {
                            if !failing {
                                tracing::warn!(error = %e, "the key directory cannot read the database; serving from memory");
                                failing = true;
                            }
                            break;
                        }
                    }
                }
            }
        });
    }

    /// Resolves a request's key. Refusals are 401s that never echo the key.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, ApiError> {
        let Some(master) = &self.master_key else {
            return Ok(Principal::Open);
        };
        let presented = presented_keys(headers);
        let Some(key) = presented.first() else {
            return Err(ApiError::unauthorized(
                "Authentication Error: no API key. Send `Authorization: Bearer <key>`.",
            ));
        };
        if presented.iter().any(|k| secret::same(k, master)) {
            return Ok(Principal::Master);
        }
        let holder = self.holder(key)?;
        Ok(Principal::Key(Arc::new(holder)))
    }

    /// A virtual key, checked: known, not blocked, not expired, its team
    /// not blocked.
    fn holder(&self, key: &str) -> Result<KeyHolder, ApiError> {
        let Some(entry) = self.directory.key(&secret::hash(key)) else {
            return Err(ApiError::unauthorized(
                "Authentication Error: invalid API key.",
            ));
        };
        let holder = KeyHolder {
            team: entry
                .record
                .team_id
                .as_deref()
                .and_then(|t| self.directory.team(t)),
            user: entry
                .record
                .user_id
                .as_deref()
                .and_then(|u| self.directory.user(u)),
            key: entry,
        };
        let label = holder.label();
        if holder.key.record.blocked {
            let mut e =
                ApiError::unauthorized(format!("Authentication Error: key {label} is blocked."));
            e.code = Some("key_blocked".into());
            return Err(e);
        }
        if let Some(at) = holder.key.expires_ms
            && at <= now_ms()
        {
            let mut e = ApiError::unauthorized(format!(
                "Authentication Error: key {label} expired at {}.",
                holder
                    .key
                    .record
                    .expires
                    .as_deref()
                    .unwrap_or("an unreadable time")
            ));
            e.code = Some("key_expired".into());
            return Err(e);
        }
        if let Some(team) = &holder.team
            && team.record.blocked
        {
            let mut e = ApiError::unauthorized(format!(
                "Authentication Error: team {} of key {label} is blocked.",
                team.id
            ));
            e.code = Some("team_blocked".into());
            return Err(e);
        }
        Ok(holder)
    }

    /// The management API's gate: the master key, or a key whose user is
    /// a `proxy_admin`. Without a master key configured it is closed to
    /// everyone: 403 naming the setting.
    pub fn admin(&self, headers: &HeaderMap) -> Result<Admin, ApiError> {
        match self.reader(headers)? {
            Reader::Admin(a) => Ok(a),
            Reader::Key(h) => Err(forbidden(format!(
                "key {} may not use the management API: it needs the master key or a key of a user with the proxy_admin role",
                h.label()
            ))),
        }
    }

    /// Who is reading: an admin or a (valid) key.
    pub fn reader(&self, headers: &HeaderMap) -> Result<Reader, ApiError> {
        let Some(master) = &self.master_key else {
            return Err(forbidden(
                "the management and admin API is off: set general_settings.master_key to use it"
                    .into(),
            ));
        };
        let presented = presented_keys(headers);
        let Some(key) = presented.first() else {
            return Err(ApiError::unauthorized(
                "Authentication Error: no API key. Send the master key as `Authorization: Bearer <key>`.",
            ));
        };
        if presented.iter().any(|k| secret::same(k, master)) {
            return Ok(Reader::Admin(Admin::Master));
        }
        let holder = self.holder(key)?;
        let admin = holder
            .user
            .as_ref()
            .is_some_and(|u| u.record.user_role.as_deref() == Some(records::ADMIN_ROLE));
        if admin {
            return Ok(Reader::Admin(Admin::User(
                holder
                    .user
                    .as_ref()
                    .map(|u| u.id.clone())
                    .unwrap_or_default(),
            )));
        }
        Ok(Reader::Key(Arc::new(holder)))
    }
}

fn forbidden(message: String) -> ApiError {
    let mut e = ApiError::new(
        axum::http::StatusCode::FORBIDDEN,
        "permission_error",
        message,
    );
    e.code = Some("forbidden".into());
    e
}

const ENTITIES: [Entity; 4] = [Entity::Key, Entity::Team, Entity::User, Entity::EndUser];

fn now_ms() -> i64 {
    crate::state::now_ms() as i64
}

/// The keys a client sent: `Authorization: Bearer K` (scheme in any case),
/// `x-api-key: K` and `api-key: K` (Azure's clients).
pub fn presented_keys(headers: &HeaderMap) -> Vec<&str> {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            let v = v.trim();
            match v.split_once(' ') {
                Some((scheme, key)) if scheme.eq_ignore_ascii_case("bearer") => key.trim(),
                _ => v,
            }
        });
    let others = ["x-api-key", "api-key"]
        .into_iter()
        .filter_map(|h| headers.get(h).and_then(|v| v.to_str().ok()).map(str::trim));
    bearer
        .into_iter()
        .chain(others)
        .filter(|k| !k.is_empty())
        .collect()
}

impl Principal {
    /// The key holder, if a virtual key was used.
    pub fn holder(&self) -> Option<&Arc<KeyHolder>> {
        match self {
            Principal::Key(h) => Some(h),
            _ => None,
        }
    }

    /// Whether the key (and its team) may call `group` (asked for as
    /// `asked`); 401 naming the model when not. A key's list may name
    /// groups or their aliases; `aliases` maps alias → group.
    pub fn check_model(
        &self,
        asked: &str,
        group: &str,
        aliases: &std::collections::BTreeMap<String, String>,
    ) -> Result<(), ApiError> {
        let Principal::Key(h) = self else {
            return Ok(());
        };
        let allows = |models: &[String]| {
            models.is_empty()
                || models.iter().any(|m| {
                    m == ALL_MODELS
                        || m == asked
                        || m == group
                        || aliases.get(m).is_some_and(|g| g == group)
                })
        };
        if !allows(&h.key.record.models) {
            let mut e = ApiError::unauthorized(format!(
                "key {} is not allowed to call model {asked}; it may call: {}",
                h.label(),
                h.key.record.models.join(", ")
            ));
            e.code = Some("model_not_allowed".into());
            e.param = Some("model".into());
            return Err(e);
        }
        if let Some(team) = &h.team
            && !allows(&team.record.models)
        {
            let mut e = ApiError::unauthorized(format!(
                "team {} of key {} is not allowed to call model {asked}",
                team.id,
                h.label()
            ));
            e.code = Some("model_not_allowed".into());
            e.param = Some("model".into());
            return Err(e);
        }
        Ok(())
    }

    /// The record plugins receive: the key's and team's metadata merged
    /// under the request's own `metadata`, tags from all three, the
    /// request's `user` (else the key's user).
    pub fn caller(&self, user: Option<String>, metadata: Option<&Map<String, Value>>) -> Caller {
        let mut held = CallerParts::default();
        if let Principal::Key(h) = self {
            if let Some(u) = &h.user {
                held.metadata.extend(u.record.metadata.clone());
            }
            if let Some(t) = &h.team {
                held.metadata.extend(t.record.metadata.clone());
                held.tags.extend(t.record.tags.iter().cloned());
                held.team = Some(t.id.clone());
            } else {
                held.team = h.key.record.team_id.clone();
            }
            held.metadata.extend(h.key.record.metadata.clone());
            held.tags.extend(h.key.record.tags.iter().cloned());
            held.key_alias = h.key.record.key_alias.clone();
            held.user = h.key.record.user_id.clone();
        }
        held.caller(user, metadata)
    }
}

/// What the gateway knows of a caller before it reads the request: from
/// the key, its team and user when a virtual key was used (or, in `plugin
/// test`, from a case's `caller`). One conversion turns it and the request
/// into the record plugins receive, so a case behaves as the gateway does.
#[derive(Debug, Default, Clone)]
pub struct CallerParts {
    pub key_alias: Option<String>,
    /// The key's user, used when the request names none.
    pub user: Option<String>,
    pub team: Option<String>,
    pub tags: Vec<String>,
    /// The user's, team's and key's metadata, merged in that order.
    pub metadata: Map<String, Value>,
}

impl CallerParts {
    /// The record plugins receive: the held metadata merged under the
    /// request's own `metadata`; tags from both (`metadata.tags`); the
    /// customer tier from `customer_tier`, else `tier`; the request's
    /// `user`, else the key's.
    pub fn caller(self, user: Option<String>, metadata: Option<&Map<String, Value>>) -> Caller {
        let CallerParts {
            key_alias,
            user: key_user,
            team,
            mut tags,
            metadata: mut merged,
        } = self;
        if let Some(m) = metadata {
            merged.extend(m.clone());
        }
        if let Some(Value::Array(t)) = merged.get("tags") {
            tags.extend(t.iter().filter_map(|v| v.as_str().map(str::to_string)));
        }
        tags.sort();
        tags.dedup();
        let tier = merged
            .get("customer_tier")
            .or_else(|| merged.get("tier"))
            .and_then(Value::as_str)
            .map(str::to_string);
        Caller {
            key_alias,
            user: user.or(key_user),
            team,
            tags,
            tier,
            metadata: views::fields_from_map(&merged),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::identity::records::{KeyRecord, TeamRecord};

    fn holder() -> Principal {
        let key: KeyRecord = serde_json::from_value(json!({
            "key_alias": "support-backend", "team_id": "t1", "user_id": "svc",
            "models": ["gpt", "cheap-alias"], "tags": ["k"],
            "metadata": {"customer_tier": "vip", "plan": "pro"}
        }))
        .unwrap();
        let team: TeamRecord = serde_json::from_value(json!({
            "tags": ["t"], "metadata": {"plan": "team-plan", "region": "eu"}
        }))
        .unwrap();
        let entry = |id: &str| (id.to_string(), 0.0, 0, 0, None);
        let (id, spend, created_ms, updated_ms, expires_ms) = entry("hash");
        let (tid, ..) = entry("t1");
        Principal::Key(Arc::new(KeyHolder {
            key: Arc::new(KeyEntry {
                id,
                record: key,
                spend,
                created_ms,
                updated_ms,
                expires_ms,
            }),
            team: Some(Arc::new(TeamEntry {
                id: tid,
                record: team,
                spend,
                created_ms,
                updated_ms,
                expires_ms,
            })),
            user: None,
        }))
    }

    fn field<'a>(c: &'a Caller, key: &str) -> Option<&'a str> {
        c.metadata
            .iter()
            .find(|f| f.key == key)
            .map(|f| f.value.as_str())
    }

    #[test]
    fn the_caller_merges_team_then_key_then_request_metadata() {
        let p = holder();
        let request = json!({"plan": "trial", "tags": ["r"]});
        let c = p.caller(Some("end-1".into()), request.as_object());
        assert_eq!(c.key_alias.as_deref(), Some("support-backend"));
        assert_eq!(c.team.as_deref(), Some("t1"));
        assert_eq!(c.user.as_deref(), Some("end-1"));
        // The key's tier reaches routers; the request's own metadata wins.
        assert_eq!(c.tier.as_deref(), Some("vip"));
        assert_eq!(field(&c, "plan"), Some("\"trial\""));
        assert_eq!(field(&c, "region"), Some("\"eu\""));
        assert_eq!(c.tags, ["k", "r", "t"]);
        // Without a request user, the key's user speaks.
        assert_eq!(p.caller(None, None).user.as_deref(), Some("svc"));
    }

    #[test]
    fn a_key_may_call_its_models_and_their_aliases_only() {
        let p = holder();
        let aliases = BTreeMap::from([("cheap-alias".to_string(), "cheap".to_string())]);
        assert!(p.check_model("gpt", "gpt", &aliases).is_ok());
        assert!(p.check_model("cheap", "cheap", &aliases).is_ok());
        let e = p.check_model("other", "other", &aliases).unwrap_err();
        assert_eq!(e.status.as_u16(), 401);
        assert_eq!(e.code.as_deref(), Some("model_not_allowed"));
        assert!(e.message.contains("other") && e.message.contains("support-backend"));
        assert!(
            Principal::Open
                .check_model("other", "other", &aliases)
                .is_ok()
        );
    }

    #[test]
    fn presented_keys_come_from_bearer_x_api_key_and_api_key() {
        let mut h = HeaderMap::new();
        h.insert("authorization", "bearer  sk-a ".parse().unwrap());
        h.insert("api-key", "sk-c".parse().unwrap());
        assert_eq!(presented_keys(&h), ["sk-a", "sk-c"]);
    }
}
