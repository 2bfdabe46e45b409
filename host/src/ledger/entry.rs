//! One request's entry in the books: who called, what was admitted, what
//! was served and what it cost. It is shared by the handler and (for a
//! stream) the relay; when the last of them lets go, the spend record is
//! queued for the writer and the limits settled: so a stream's record is
//! written when the stream ends, however it ends.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use switchyard_limits::{Admission, Remaining};
use switchyard_store::SpendRecord;

use crate::config::Deployment;
use crate::identity::{Principal, secret};
use crate::plugins::bindings::types::{Caller, Usage};
use crate::state::now_ms;

use super::{Accounts, scopes};

/// The largest metadata a record keeps, serialised.
const METADATA_MAX_BYTES: usize = 4096;

/// A request's entry; see the module doc.
pub struct Ledger {
    accounts: Arc<Accounts>,
    pub principal: Principal,
    request_id: String,
    start_ms: u64,
    started: Instant,
    draft: Mutex<Draft>,
}

#[derive(Default)]
struct Draft {
    end_user: Option<String>,
    tags: Vec<String>,
    metadata: Map<String, Value>,
    group: Option<String>,
    deployment: Option<String>,
    provider: Option<String>,
    status: u16,
    error_kind: Option<String>,
    usage: Option<Usage>,
    served: bool,
    cost: Option<f64>,
    estimated: bool,
    attempts: u32,
    fallbacks: u32,
    overhead_ms: f64,
    admission: Option<Admission>,
    remaining: Option<Remaining>,
    /// A stream that broke off or whose client left before its end.
    incomplete: bool,
    /// Answered by the cache (or from an identical call in flight).
    cache_hit: bool,
    /// What the answer's headers said, for the observers.
    streamed: bool,
    ttft: Option<Duration>,
    upstream: Duration,
    cache: Option<&'static str>,
    route_reason: Option<String>,
    error: Option<String>,
    /// Counted as active (admitted with a model group).
    active: bool,
}

impl Ledger {
    pub fn open(
        accounts: &Arc<Accounts>,
        principal: Principal,
        request_id: &str,
        started: Instant,
    ) -> Arc<Ledger> {
        Arc::new(Ledger {
            accounts: accounts.clone(),
            principal,
            request_id: request_id.to_string(),
            start_ms: now_ms().saturating_sub(started.elapsed().as_millis() as u64),
            started,
            draft: Mutex::new(Draft::default()),
        })
    }

    /// The id its spend record carries.
    pub fn call_id(&self) -> &str {
        &self.request_id
    }

    pub fn accounts(&self) -> &Arc<Accounts> {
        &self.accounts
    }

    /// The draft; a poisoned lock (a panic elsewhere) still yields it: a
    /// record is worth more than the panic that interrupted it.
    fn draft(&self) -> MutexGuard<'_, Draft> {
        self.draft.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Who the request speaks for, once resolved from its body.
    pub fn set_caller(&self, caller: &Caller, end_user: Option<&str>, group: &str) {
        let mut d = self.draft();
        d.end_user = end_user.map(str::to_string);
        d.tags = caller.tags.clone();
        let mut size = 2;
        for f in &caller.metadata {
            size += f.key.len() + f.value.len() + 4;
            if size > METADATA_MAX_BYTES {
                break;
            }
            if let Ok(v) = serde_json::from_str(&f.value) {
                d.metadata.insert(f.key.clone(), v);
            }
        }
        d.group = Some(group.to_string());
        d.active = true;
        let holder = self.principal.holder();
        let alias = holder.map(|h| h.label());
        crate::observe::started(&crate::observe::Started {
            request_id: &self.request_id,
            model_group: group,
            key_alias: alias.as_deref(),
            team_id: holder.and_then(|h| h.key.record.team_id.as_deref()),
            user_id: holder.and_then(|h| h.key.record.user_id.as_deref()),
            end_user,
        });
    }

    /// The limits admitted the request; settled when the entry closes.
    pub fn admitted(&self, admission: Admission) {
        let mut d = self.draft();
        d.remaining = Some(admission.remaining());
        d.admission = Some(admission);
    }

    /// What OpenAI's `x-ratelimit-*` headers report, if a limit applied.
    pub fn remaining(&self) -> Option<Remaining> {
        self.draft().remaining
    }

    /// A deployment answered (for a stream: the stream ended). Adds the
    /// cost to the deployment's and provider's budgets at once.
    pub fn served(
        &self,
        dep: &Deployment,
        usage: Option<&Usage>,
        cost: Option<f64>,
        estimated: bool,
        complete: bool,
        ttft: Option<Duration>,
    ) {
        let tokens = usage.map_or(0, |u| u.input_tokens + u.output_tokens);
        if let Some(usd) = cost {
            let limiter = &self.accounts.limiter;
            if let Some(b) = &dep.budget {
                limiter.add_spend(&scopes::deployment(&dep.id), &b.period, usd, tokens);
            }
            if let Some(b) = self.accounts.provider_budget(&dep.provider) {
                limiter.add_spend(&scopes::provider(&dep.provider), &b.period, usd, tokens);
            }
        }
        let mut d = self.draft();
        d.served = true;
        d.deployment = Some(dep.id.clone());
        d.provider = Some(dep.provider.clone());
        d.group.get_or_insert_with(|| dep.group.clone());
        d.usage = usage.cloned();
        d.cost = cost;
        d.estimated = estimated;
        d.streamed = ttft.is_some();
        d.ttft = ttft;
        if !complete {
            d.incomplete = true;
        }
    }

    /// The cache answered: no upstream call, nothing to pay.
    pub fn cache_hit(&self, group: &str) {
        let mut d = self.draft();
        d.served = true;
        d.cache_hit = true;
        d.cost = Some(0.0);
        d.group.get_or_insert_with(|| group.to_string());
    }

    /// The cost of what was served: `None` before it is known (a stream
    /// still running, or nothing served); `Some(None)` when no rule priced it.
    pub fn cost(&self) -> Option<Option<f64>> {
        let d = self.draft();
        d.served.then_some(d.cost)
    }

    /// The answer's status and what it took, as the handler saw it.
    pub fn outcome(
        &self,
        status: u16,
        error_kind: Option<&str>,
        attempts: u32,
        fallbacks: u32,
        overhead_ms: f64,
    ) {
        let mut d = self.draft();
        d.status = status;
        d.error_kind = error_kind.map(str::to_string);
        d.attempts = attempts;
        d.fallbacks = fallbacks;
        d.overhead_ms = overhead_ms;
    }

    /// What the answer said beyond its status: the cache's outcome, the
    /// router's reason, the time spent on providers.
    pub fn answered(
        &self,
        cache: Option<&'static str>,
        route_reason: Option<&str>,
        upstream: Duration,
    ) {
        let mut d = self.draft();
        d.cache = cache;
        d.route_reason = route_reason.map(str::to_string);
        d.upstream = upstream;
    }

    /// The client's error message.
    pub fn failed(&self, message: &str) {
        self.draft().error = Some(message.to_string());
    }

    /// The served group, when routing got that far.
    pub fn group(&self) -> Option<String> {
        self.draft().group.clone()
    }
}

/// The tier in the tier router's reason (`tier 3 -> group: ...`).
fn tier_of(reason: &str) -> Option<&str> {
    reason.strip_prefix("tier ")?.split_whitespace().next()
}

impl Drop for Ledger {
    fn drop(&mut self) {
        let d = std::mem::take(self.draft.get_mut().unwrap_or_else(|p| p.into_inner()));
        let usage = d.usage.clone().unwrap_or(Usage {
            input_tokens: 0,
            output_tokens: 0,
            cache_read_tokens: 0,
            cache_write_tokens: 0,
            reasoning_tokens: 0,
            extra: Vec::new(),
        });
        if let Some(a) = d.admission {
            a.settle(usage.input_tokens + usage.output_tokens, d.cost);
        }
        let writer = self.accounts.writer.as_ref();
        if writer.is_none() && crate::observe::hub().is_none() {
            return;
        }
        let holder = self.principal.holder();
        let error_kind = match d.error_kind {
            None if d.incomplete => Some("stream_incomplete".to_string()),
            // Routed, but the client left before the answer was written.
            None if d.status == 0 && d.group.is_some() => Some("client_disconnected".to_string()),
            other => other,
        };
        let record = SpendRecord {
            request_id: self.request_id.clone(),
            start_ms: self.start_ms as i64,
            end_ms: now_ms() as i64,
            key_hash: holder.map(|h| h.key.id.clone()),
            key_alias: holder.map(|h| {
                h.key
                    .record
                    .key_alias
                    .clone()
                    .unwrap_or_else(|| secret::short(&h.key.id).to_string())
            }),
            user_id: holder.and_then(|h| h.key.record.user_id.clone()),
            team_id: holder.and_then(|h| h.key.record.team_id.clone()),
            end_user: d.end_user,
            tags: d.tags,
            metadata: d.metadata,
            model_group: d.group,
            deployment: d.deployment,
            provider: d.provider,
            status: d.status,
            error_kind,
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
            cache_read_tokens: usage.cache_read_tokens,
            cache_write_tokens: usage.cache_write_tokens,
            reasoning_tokens: usage.reasoning_tokens,
            cost: d.cost,
            estimated: d.estimated,
            cache_hit: d.cache_hit,
            attempts: d.attempts,
            fallbacks: d.fallbacks,
            overhead_ms: d.overhead_ms,
            latency_ms: self.started.elapsed().as_secs_f64() * 1000.0,
        };
        crate::observe::finished(&crate::observe::Finished {
            record: &record,
            streamed: d.streamed,
            ttft: d.ttft,
            upstream: d.upstream,
            cache: d.cache,
            route_reason: d.route_reason.as_deref(),
            tier: d.route_reason.as_deref().and_then(tier_of),
            error: d.error.as_deref(),
            was_active: d.active,
        });
        if let Some(writer) = writer {
            writer.record(record);
        }
    }
}
