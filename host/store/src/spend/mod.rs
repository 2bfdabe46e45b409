//! Spend records: one row per request, written in batches by the
//! [`crate::SpendWriter`] and read back for logs, usage reports and budget
//! seeding.

mod insert;
mod metadata;
mod nul;
mod query;

pub use query::{GroupBy, SpendBy, SpendQuery, Totals, Usage, UsageQuery};

use serde::{Deserialize, Serialize};

/// What one request cost and who made it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SpendRecord {
    /// Unique: a record written twice is stored once.
    pub request_id: String,
    /// When the request arrived (ms since the epoch); its UTC day is stored too.
    pub start_ms: i64,
    /// When the response ended.
    pub end_ms: i64,
    /// Hash of the virtual key, if one was used.
    pub key_hash: Option<String>,
    /// The key's alias.
    pub key_alias: Option<String>,
    /// The key's user.
    pub user_id: Option<String>,
    /// The key's team.
    pub team_id: Option<String>,
    /// The request's end user.
    pub end_user: Option<String>,
    /// Request tags.
    pub tags: Vec<String>,
    /// Free-form; the writer keeps at most 4 KiB of it (dropping the
    /// largest keys first).
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// The model name the client asked for.
    pub model_group: Option<String>,
    /// The deployment that answered.
    pub deployment: Option<String>,
    /// Its provider.
    pub provider: Option<String>,
    /// HTTP status returned to the client.
    pub status: u16,
    /// Failure class, if it failed.
    pub error_kind: Option<String>,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// Prompt tokens read from the provider's cache.
    pub cache_read_tokens: u64,
    /// Prompt tokens written to the provider's cache.
    pub cache_write_tokens: u64,
    /// Reasoning tokens (part of the output).
    pub reasoning_tokens: u64,
    /// `None` when unknown: never stored as 0.
    pub cost: Option<f64>,
    /// Tokens (and so cost) are the gateway's estimate.
    pub estimated: bool,
    /// Served from the gateway's cache.
    pub cache_hit: bool,
    /// Upstream calls made.
    pub attempts: u32,
    /// Fallback groups tried.
    pub fallbacks: u32,
    /// Time spent in the gateway itself.
    pub overhead_ms: f64,
    /// Total time to the last byte.
    pub latency_ms: f64,
}
