//! The response cache as a config asks for it, in LiteLLM's spellings:
//!
//! ```yaml
//! litellm_settings:
//!   cache: true
//!   cache_params:                # every key may be left out
//!     type: redis                # local (the default), disk or redis
//!     ttl: 600                   # seconds; default: none (redis: 24 h)
//!     namespace: support
//!     mode: default_on           # default_off: only requests that opt in
//!     disk_cache_dir: ./cache    # default .switchyard_cache beside the config
//!     host: redis.internal       # else router_settings' Redis, else REDIS_HOST
//!     port: 6379
//!     password: os.environ/REDIS_PASSWORD
//!     redis_url: redis://redis.internal:6379/0
//!     supported_call_types: [acompletion, aembedding]
//!     max_size_bytes: 268435456  # local and disk
//!     max_entry_bytes: 1048576
//! ```
//!
//! The older `cache_responses: true` + `cache_kwargs` takes the same keys,
//! and is a Redis cache when `router_settings` names a Redis. A mapping in
//! `general_settings.cache` (where LiteLLM ignores it) or in
//! `litellm_settings.cache` is read as `cache: true` with that mapping as
//! `cache_params`, with a warning ([`shape`]).
//!
//! A cache that is off leaves its params unread ([`drop_unused_params`]),
//! so their environment references need not be set. No warning or error
//! here shows a Redis password.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_yaml::Value;
use switchyard_cache::key::MAX_NAMESPACE_LEN;
use switchyard_cache::settings::{
    DEFAULT_DISK_BYTES, DEFAULT_MAX_ENTRY_BYTES, DEFAULT_MEMORY_BYTES,
};
use switchyard_cache::{Backend, CallTypes, Mode, Settings};

use super::RedisSettings;
use super::build::{checked_redis_url, redis_url_of};
use super::env::Lookup;
use super::error::{ConfigError, KeyPath};
use super::notes::Notes;
use super::raw::{Part, RawLitellm};
use super::values::{Count, Port, Seconds};

/// The disk cache's folder, beside the config, unless `disk_cache_dir` says.
pub const DEFAULT_DISK_DIR: &str = ".switchyard_cache";
/// How long a Redis entry lives unless `ttl` says: Redis is bounded by TTL
/// only.
pub const DEFAULT_REDIS_TTL: Duration = Duration::from_secs(24 * 3600);

/// The switch and the params key of each spelling, newest first.
const SPELLINGS: [(&str, &str); 2] = [
    ("cache", "cache_params"),
    ("cache_responses", "cache_kwargs"),
];

/// `cache_params` (or `cache_kwargs`) as written.
#[derive(Debug, Default, Deserialize)]
#[serde(expecting = "a mapping")]
pub struct RawCacheParams {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub ttl: Option<Seconds>,
    pub namespace: Option<String>,
    pub mode: Option<String>,
    pub disk_cache_dir: Option<String>,
    pub host: Option<String>,
    pub port: Option<Port>,
    pub password: Option<String>,
    pub redis_url: Option<String>,
    pub supported_call_types: Option<Vec<String>>,
    pub max_size_bytes: Option<Count>,
    pub max_entry_bytes: Option<Count>,
    #[serde(flatten)]
    pub unknown: BTreeMap<String, Value>,
}

impl Part for RawCacheParams {
    fn others(&self) -> usize {
        self.unknown.len()
    }
}

fn litellm_at() -> KeyPath {
    KeyPath::root().key("litellm_settings")
}

/// Reads a mapping in `general_settings.cache` or `litellm_settings.cache`
/// as `litellm_settings.cache: true` with the mapping as `cache_params`,
/// with one warning. Runs before other keys are moved, so that
/// `general_settings.cache` is not moved as it is.
pub(super) fn shape(root: &mut Value, notes: &mut Notes) {
    let litellm = litellm_at();
    let flag = litellm.key("cache");
    let params = litellm.key("cache_params");
    let is_set = |root: &Value, at: &KeyPath| at.get(root).is_some_and(|v| !v.is_null());
    // Only into a mapping (or where one can be made).
    if litellm
        .get(root)
        .is_some_and(|v| !v.is_null() && !v.is_mapping())
    {
        return;
    }
    let general = KeyPath::root().key("general_settings").key("cache");
    if general.get(root).is_some_and(Value::is_mapping) {
        let Some(value) = general.remove(root) else {
            return;
        };
        if is_set(root, &flag) || is_set(root, &params) {
            notes.warn(format!(
                "{general} belongs under litellm_settings, which sets its own cache; {general} is ignored"
            ));
        } else if let Some(dest) = litellm.mapping_mut(root) {
            dest.insert("cache".into(), Value::Bool(true));
            dest.insert("cache_params".into(), value);
            notes.warn(format!(
                "{general} belongs under litellm_settings as `cache: true` and `cache_params`; used there"
            ));
            notes.moved(general, params.clone());
        }
    }
    if flag.get(root).is_some_and(Value::is_mapping) {
        let Some(dest) = litellm.mapping_mut(root) else {
            return;
        };
        let Some(value) = dest.insert("cache".into(), Value::Bool(true)) else {
            return;
        };
        if dest.get("cache_params").is_some_and(|v| !v.is_null()) {
            notes.warn(format!(
                "{flag}: a mapping is read as true; its keys are ignored, since {params} is also set"
            ));
        } else {
            dest.insert("cache_params".into(), value);
            notes.warn(format!(
                "{flag}: a mapping is read as `cache: true` with the mapping as `cache_params`"
            ));
            notes.moved(flag, params);
        }
    }
}

/// Removes the params of a spelling whose switch is surely not on (absent,
/// `false`), with one warning: their values never matter, so neither
/// their environment references nor their types may stop the gateway.
/// Runs after misplaced keys are moved, before references are expanded.
pub(super) fn drop_unused_params(root: &mut Value, notes: &mut Notes) {
    let litellm = litellm_at();
    for (flag, params) in SPELLINGS {
        let at = litellm.key(params);
        if at.get(root).is_none_or(Value::is_null) || may_be_on(litellm.key(flag).get(root)) {
            continue;
        }
        at.remove(root);
        let warning = unused_without(&notes.written(&at), &litellm.key(flag));
        notes.warn(warning);
    }
}

/// Whether a switch, before references are expanded, could read as true.
fn may_be_on(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(on)) => *on,
        Some(Value::Number(n)) => n.as_u64() == Some(1),
        Some(Value::String(s)) => {
            let s = s.trim();
            s.starts_with("os.environ/")
                || s.contains("${")
                || matches!(s.to_ascii_lowercase().as_str(), "true" | "yes" | "on")
        }
        Some(Value::Sequence(items)) if items.len() == 1 => may_be_on(items.first()),
        Some(Value::Tagged(t)) => may_be_on(Some(&t.value)),
        _ => false,
    }
}

fn unused_without(params: &KeyPath, flag: &KeyPath) -> String {
    format!("{params} is not used without {flag}: true and is ignored")
}

/// What, besides `litellm_settings`, a cache's settings come from.
pub(super) struct Sources<'a> {
    pub litellm: &'a RawLitellm,
    /// `router_settings`' Redis, when it names one.
    pub router_redis: Option<&'a RedisSettings>,
    /// The gateway's Redis key prefix (`router_settings.redis_key_prefix`).
    pub redis_prefix: &'a str,
    /// The config file's folder.
    pub base: &'a Path,
    /// `REDIS_HOST`, `REDIS_PORT`, `REDIS_PASSWORD`.
    pub env: Lookup<'a>,
    /// Where moved keys were written, for warnings.
    pub notes: &'a Notes,
}

/// One spelling's switch and params, with their paths.
struct Spelling<'a> {
    on: Option<bool>,
    params: Option<&'a RawCacheParams>,
    flag_at: KeyPath,
    params_at: KeyPath,
}

/// The cache the config gets, if any; `warnings` gets one line per key
/// not acted on and per value read otherwise than written.
pub(super) fn settings(
    src: &Sources,
    warnings: &mut Vec<String>,
) -> Result<Option<Settings>, ConfigError> {
    let l = src.litellm;
    let written = |at: &KeyPath| src.notes.written(at);
    let spelling = |on, params, (flag, params_key): (&str, &str)| Spelling {
        on,
        params,
        flag_at: litellm_at().key(flag),
        params_at: litellm_at().key(params_key),
    };
    let [new_keys, old_keys] = SPELLINGS;
    let new = spelling(l.cache, l.cache_params.as_ref(), new_keys);
    let old = spelling(l.cache_responses, l.cache_kwargs.as_ref(), old_keys);
    // `cache` decides whenever it is set; `cache_responses` otherwise.
    let older = l.cache.is_none() && l.cache_responses.is_some();
    let (used, other) = if older { (old, new) } else { (new, old) };
    if other.on.is_some() {
        warnings.push(format!(
            "{} is not used when {} is set and is ignored",
            written(&other.flag_at),
            used.flag_at
        ));
    }
    if other.params.is_some() {
        warnings.push(match other.on {
            Some(_) => format!(
                "{} is not used when {} is set and is ignored",
                written(&other.params_at),
                used.flag_at
            ),
            None => unused_without(&written(&other.params_at), &other.flag_at),
        });
    }
    if used.on != Some(true) {
        if used.params.is_some() {
            warnings.push(unused_without(&written(&used.params_at), &used.flag_at));
        }
        return Ok(None);
    }
    let empty = RawCacheParams::default();
    let p = used.params.unwrap_or(&empty);
    Read {
        src,
        p,
        at: used.params_at,
        older,
        warnings,
    }
    .settings()
    .map(Some)
}

/// Reading one params mapping.
struct Read<'a, 'w> {
    src: &'a Sources<'a>,
    p: &'a RawCacheParams,
    at: KeyPath,
    /// Whether it is the older spelling (`cache_kwargs`).
    older: bool,
    warnings: &'w mut Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Local,
    Disk,
    Redis,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Local => "local",
            Kind::Disk => "disk",
            Kind::Redis => "redis",
        }
    }
}

impl Read<'_, '_> {
    /// `key` of the params, named where the file wrote it.
    fn name(&self, key: &str) -> KeyPath {
        self.src.notes.written(&self.at.key(key))
    }

    fn warn(&mut self, warning: String) {
        self.warnings.push(warning);
    }

    /// One warning per key in `keys` that is set.
    fn ignore(&mut self, keys: &[(&str, bool)], why: &str) {
        for (key, set) in keys {
            if *set {
                let warning = format!("{} is not used {why} and is ignored", self.name(key));
                self.warn(warning);
            }
        }
    }

    fn settings(mut self) -> Result<Settings, ConfigError> {
        let p = self.p;
        for key in p.unknown.keys() {
            let warning = format!(
                "{} is not used by Switchyard and is ignored",
                self.name(key)
            );
            self.warn(warning);
        }
        let kind = self.kind();
        let redis_keys = [
            ("host", p.host.is_some()),
            ("port", p.port.is_some()),
            ("password", p.password.is_some()),
            ("redis_url", p.redis_url.is_some()),
        ];
        let why = format!("by a {} cache", kind.name());
        if kind != Kind::Redis {
            self.ignore(&redis_keys, &why);
        }
        if kind != Kind::Disk {
            self.ignore(&[("disk_cache_dir", p.disk_cache_dir.is_some())], &why);
        }
        if kind == Kind::Redis {
            self.ignore(&[("max_size_bytes", p.max_size_bytes.is_some())], &why);
        }
        let max_bytes = |default: u64| p.max_size_bytes.map_or(default, |c| c.0);
        let backend = match kind {
            Kind::Local => Backend::Memory {
                max_bytes: max_bytes(DEFAULT_MEMORY_BYTES),
            },
            Kind::Disk => Backend::Disk {
                dir: self.disk_dir(),
                max_bytes: max_bytes(DEFAULT_DISK_BYTES),
            },
            Kind::Redis => Backend::Redis {
                url: self.redis_url()?,
                prefix: self.src.redis_prefix.to_string(),
            },
        };
        let ttl = p
            .ttl
            .map(|s| s.0)
            .or((kind == Kind::Redis).then_some(DEFAULT_REDIS_TTL));
        Ok(Settings {
            backend,
            ttl,
            namespace: self.namespace()?,
            mode: self.mode(),
            call_types: self.call_types(),
            max_entry_bytes: p.max_entry_bytes.map_or(DEFAULT_MAX_ENTRY_BYTES, |c| {
                usize::try_from(c.0).unwrap_or(usize::MAX)
            }),
        })
    }

    /// `type`, else redis when the params (or, for the older spelling,
    /// `router_settings`) name a Redis, else local.
    fn kind(&mut self) -> Kind {
        let p = self.p;
        let default = if p.host.is_some()
            || p.redis_url.is_some()
            || (self.older && self.src.router_redis.is_some())
        {
            Kind::Redis
        } else {
            Kind::Local
        };
        match p.kind.as_deref().map(str::trim) {
            None => default,
            Some("local") => Kind::Local,
            Some("disk") => Kind::Disk,
            Some("redis") => Kind::Redis,
            Some(other) => {
                let warning = format!(
                    "{}: {other:?} is not a cache type Switchyard has (local, disk or redis); a {} cache is used",
                    self.name("type"),
                    default.name()
                );
                self.warn(warning);
                default
            }
        }
    }

    /// `disk_cache_dir`, from the config's folder when relative.
    fn disk_dir(&self) -> PathBuf {
        let dir = self
            .p
            .disk_cache_dir
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .unwrap_or(DEFAULT_DISK_DIR);
        let dir = PathBuf::from(dir);
        if dir.is_relative() {
            self.src.base.join(dir)
        } else {
            dir
        }
    }

    /// The params' `redis_url`, else their `host` (+ `port`, `password`),
    /// else `router_settings`' Redis, else `REDIS_HOST` (+ `REDIS_PORT`,
    /// `REDIS_PASSWORD`, where the params set neither), else 127.0.0.1.
    fn redis_url(&mut self) -> Result<String, ConfigError> {
        let p = self.p;
        if let Some(url) = &p.redis_url {
            let why = format!("when {} is set", self.name("redis_url"));
            self.ignore(
                &[
                    ("host", p.host.is_some()),
                    ("port", p.port.is_some()),
                    ("password", p.password.is_some()),
                ],
                &why,
            );
            return checked_redis_url(url, self.at.key("redis_url"));
        }
        if let Some(host) = &p.host {
            return Ok(redis_url_of(
                host,
                p.port.map_or(6379, |p| p.0),
                p.password.as_deref(),
            ));
        }
        if let Some(router) = self.src.router_redis {
            let why = format!(
                "without {} (the Redis of router_settings is used)",
                self.name("host")
            );
            self.ignore(
                &[
                    ("port", p.port.is_some()),
                    ("password", p.password.is_some()),
                ],
                &why,
            );
            return Ok(router.url.clone());
        }
        let lookup = self.src.env;
        let env = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let port = match p.port {
            Some(port) => port.0,
            None => match env("REDIS_PORT") {
                None => 6379,
                Some(v) => match v.trim().parse::<u16>() {
                    Ok(port) => port,
                    Err(_) => {
                        self.warn(format!(
                            "environment variable REDIS_PORT ({v:?}) is not a port number; the cache's Redis is taken at port 6379"
                        ));
                        6379
                    }
                },
            },
        };
        let password = p.password.clone().or_else(|| env("REDIS_PASSWORD"));
        let host = match env("REDIS_HOST") {
            Some(host) => host.trim().to_string(),
            None => {
                let warning = format!(
                    "{} names no Redis host (nor does router_settings or REDIS_HOST in the environment); the cache uses Redis at 127.0.0.1:{port}",
                    self.src.notes.written(&self.at)
                );
                self.warn(warning);
                "127.0.0.1".into()
            }
        };
        Ok(redis_url_of(&host, port, password.as_deref()))
    }

    /// `namespace`, with each character a key cannot hold (Redis users
    /// write `app:cache`) read as `_`, and a warning saying so.
    fn namespace(&mut self) -> Result<Option<String>, ConfigError> {
        let Some(written) = self
            .p
            .namespace
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
        else {
            return Ok(None);
        };
        if written.chars().count() > MAX_NAMESPACE_LEN {
            return Err(ConfigError::invalid(
                self.at.key("namespace"),
                format!("a namespace is at most {MAX_NAMESPACE_LEN} characters"),
            ));
        }
        let read: String = written
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if read != written {
            let warning = format!(
                "{}: {written:?} is read as {read:?} (a namespace is made of A-Z, a-z, 0-9, _, . and -)",
                self.name("namespace")
            );
            self.warn(warning);
        }
        Ok(Some(read))
    }

    /// `mode`: `default_on` unless it says `default_off`.
    fn mode(&mut self) -> Mode {
        match self.p.mode.as_deref().map(str::trim) {
            None | Some("default_on") => Mode::DefaultOn,
            Some("default_off") => Mode::DefaultOff,
            Some(other) => {
                let warning = format!(
                    "{}: {other:?} is not a mode (default_on or default_off); default_on is used",
                    self.name("mode")
                );
                self.warn(warning);
                Mode::DefaultOn
            }
        }
    }

    /// `supported_call_types`: LiteLLM's names of chat completions and
    /// embeddings; the others are named in a warning each.
    fn call_types(&mut self) -> CallTypes {
        let Some(names) = &self.p.supported_call_types else {
            return CallTypes::default();
        };
        let mut types = CallTypes {
            chat: false,
            embeddings: false,
        };
        for (i, name) in names.iter().enumerate() {
            match name.trim() {
                "completion" | "acompletion" => types.chat = true,
                "embedding" | "aembedding" => types.embeddings = true,
                other => {
                    let warning = format!(
                        "{}: {other:?} is not a call type Switchyard caches (completion, acompletion, embedding, aembedding) and is ignored",
                        self.name("supported_call_types").index(i)
                    );
                    self.warn(warning);
                }
            }
        }
        types
    }
}

/// What `config check` shows: `local, ttl none, namespace -, mode
/// default_on, chat+embeddings, max 256 MiB`. A Redis is named by its
/// host, port and database only.
pub fn summary(s: &Settings) -> String {
    let mut parts = vec![match &s.backend {
        Backend::Memory { .. } => "local".to_string(),
        Backend::Disk { dir, .. } => format!("disk at {}", dir.display()),
        Backend::Redis { url, .. } => format!("redis at {}", location(url)),
    }];
    parts.push(format!(
        "ttl {}",
        s.ttl.map_or_else(|| "none".to_string(), duration)
    ));
    parts.push(format!(
        "namespace {}",
        s.namespace.as_deref().unwrap_or("-")
    ));
    parts.push(format!(
        "mode {}",
        match s.mode {
            Mode::DefaultOn => "default_on",
            Mode::DefaultOff => "default_off",
        }
    ));
    parts.push(
        match (s.call_types.chat, s.call_types.embeddings) {
            (true, true) => "chat+embeddings",
            (true, false) => "chat",
            (false, true) => "embeddings",
            (false, false) => "no call type",
        }
        .to_string(),
    );
    match &s.backend {
        Backend::Memory { max_bytes } | Backend::Disk { max_bytes, .. } => {
            parts.push(format!("max {}", bytes(*max_bytes)));
        }
        Backend::Redis { .. } => {}
    }
    parts.join(", ")
}

/// `host:port/db` of a Redis URL: no user, password or query.
fn location(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    rest.split_once('?').map_or(rest, |(host, _)| host)
}

fn duration(d: Duration) -> String {
    let secs = d.as_secs();
    if d.subsec_nanos() != 0 || secs == 0 {
        format!("{d:?}")
    } else if secs.is_multiple_of(3600) {
        format!("{}h", secs / 3600)
    } else if secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

fn bytes(n: u64) -> String {
    for (unit, size) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if n >= size && n.is_multiple_of(size) {
            return format!("{} {unit}", n / size);
        }
    }
    format!("{n} bytes")
}
