//! What the config file asks of the cache, read by the host's config
//! loader from LiteLLM's keys.

use std::path::PathBuf;
use std::time::Duration;

/// The largest entry stored unless the config says otherwise.
pub const DEFAULT_MAX_ENTRY_BYTES: usize = 1 << 20;
/// The memory backend's bound unless `max_size_bytes` says otherwise.
pub const DEFAULT_MEMORY_BYTES: u64 = 256 << 20;
/// The disk backend's bound unless `max_size_bytes` says otherwise.
pub const DEFAULT_DISK_BYTES: u64 = 1 << 30;

/// The cache a config gets.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub backend: Backend,
    /// How long an entry lives unless the request says (`ttl`); `None`:
    /// until evicted.
    pub ttl: Option<Duration>,
    /// Prefix of every key (`cache_params.namespace`).
    pub namespace: Option<String>,
    pub mode: Mode,
    pub call_types: CallTypes,
    /// Entries larger than this are not stored.
    pub max_entry_bytes: usize,
}

/// Where entries live.
#[derive(Debug, Clone, PartialEq)]
pub enum Backend {
    /// This process's memory, bounded by bytes (`type: local`).
    Memory { max_bytes: u64 },
    /// Files in `dir`, the oldest evicted past `max_bytes` (`type: disk`).
    Disk { dir: PathBuf, max_bytes: u64 },
    /// Redis, shared by every replica, bounded by TTL (`type: redis`).
    /// `prefix` comes before every key, as for the gateway's other Redis
    /// keys.
    Redis { url: String, prefix: String },
}

impl Backend {
    /// LiteLLM's name for the type.
    pub fn type_name(&self) -> &'static str {
        match self {
            Backend::Memory { .. } => "local",
            Backend::Disk { .. } => "disk",
            Backend::Redis { .. } => "redis",
        }
    }
}

/// Whether requests use the cache unless they say (`cache_params.mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Every cacheable request reads and writes (`default_on`).
    #[default]
    DefaultOn,
    /// Only requests with `cache: {"use-cache": true}` (`default_off`).
    DefaultOff,
}

/// Which operations are cached (`cache_params.supported_call_types`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallTypes {
    pub chat: bool,
    pub embeddings: bool,
}

impl Default for CallTypes {
    fn default() -> Self {
        CallTypes {
            chat: true,
            embeddings: true,
        }
    }
}
